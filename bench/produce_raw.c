/*
 * produce_raw: the broker's own ceiling for our events, measured with the same producer
 * settings as aimem-ingest (idempotent, acks=all) but no HTTP, no auth, no validation.
 *
 *   produce_raw BOOTSTRAP TOPIC EVENT_FILE COUNT
 *
 * Produces COUNT copies of the event (keys 1..10) as fast as the queue allows and reports
 * acknowledged events per second. The ingest benchmark puts its figure next to this one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "file.h"
#include "kafka.h"
#include "log.h"
#include "num.h"

static long long pr_acked, pr_failed;

static void pr_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (rkm->err)
		pr_failed++;
	else
		pr_acked++;
}

int main(int argc, char **argv)
{
	long long count;
	log_init("produce_raw");
	if (argc != 5 || num_parse_int(argv[4], 1, 100000000, &count) != NUM_OK) {
		fprintf(stderr, "usage: produce_raw BOOTSTRAP TOPIC EVENT_FILE COUNT\n");
		return 2;
	}
	char err[512];
	size_t len = 0;
	char *value = file_read(argv[3], 16 << 20, &len, err, sizeof(err));
	rd_kafka_conf_t *conf = value ? kafka_conf_new(NULL, err, sizeof(err)) : NULL;
	if (conf == NULL || kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) ||
	    kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
	    kafka_conf_set(conf, "acks", "all", err, sizeof(err))) {
		fprintf(stderr, "produce_raw: %s\n", err);
		return 2;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, pr_on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "produce_raw: %s\n", err);
		return 2;
	}
	long long t0 = backoff_now_ms();
	for (long long i = 0; i < count; i++) {
		char key[8];
		snprintf(key, sizeof(key), "%lld", i % 10 + 1);
		while (rd_kafka_producev(
		           rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_KEY(key, strlen(key)),
		           RD_KAFKA_V_VALUE(value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		           RD_KAFKA_V_HEADER("aimem-type", "call.ended", -1),
		           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 10);
		rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 60000);
	double secs = (double)(backoff_now_ms() - t0) / 1000.0;
	printf(
	    "produce_raw: %lld acknowledged, %lld failed in %.2f s = %.0f events/s (%zu-byte events)\n",
	    pr_acked, pr_failed, secs, (double)pr_acked / secs, len);
	rd_kafka_destroy(rk);
	free(value);
	return pr_failed == 0 && pr_acked == count ? 0 : 1;
}

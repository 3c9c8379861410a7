/*
 * kafka_roundtrip: produces and consumes through a real broker, the way our programs will.
 *
 *   kafka_roundtrip BOOTSTRAP TOPIC MESSAGES GROUP
 *
 * Produces MESSAGES events keyed by customer_id (1..10) with the idempotent producer
 * (acks=all) and the aimem-type header, waits for every delivery report, then consumes them
 * back in a consumer group with the eager range assignor and rd_kafka_consumer_poll (the
 * paths DESIGN §5 prescribes for librdkafka 2.0.2). Checks: every message arrives, the key
 * equals the customer_id in the value, order is kept per key, the header survives.
 * Exits 0 when all checks pass. Used by tests/integration/test_kafka.py.
 */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "kafka.h"
#include "log.h"
#include "num.h"
#include "xalloc.h"

#define RT_TENANTS 10

struct rt_state {
	long long delivered, failed;
};

/* Runs on the thread calling rd_kafka_poll/flush (this one). */
static void rt_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk;
	struct rt_state *st = opaque;
	if (rkm->err) {
		st->failed++;
		log_error("delivery failed error=\"%s\"", rd_kafka_err2str(rkm->err));
	} else {
		st->delivered++;
	}
}

static rd_kafka_conf_t *rt_conf(const char *bootstrap)
{
	char err[512];
	rd_kafka_conf_t *conf = kafka_conf_new(NULL, err, sizeof(err));
	if (conf == NULL || kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)))
		goto fail;
	return conf;
fail:
	log_error("%s", err);
	exit(2);
}

static int rt_produce(const char *bootstrap, const char *topic, long long n)
{
	char err[512];
	struct rt_state st = { 0, 0 };
	rd_kafka_conf_t *conf = rt_conf(bootstrap);
	if (kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
	    kafka_conf_set(conf, "acks", "all", err, sizeof(err)) ||
	    kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, rt_on_delivery);
	rd_kafka_conf_set_opaque(conf, &st);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		log_error("producer: %s", err);
		return -1;
	}
	for (long long i = 0; i < n; i++) {
		char key[16], value[128];
		int tenant = (int)(i % RT_TENANTS) + 1;
		snprintf(key, sizeof(key), "%d", tenant);
		snprintf(value, sizeof(value), "{\"customer_id\":%d,\"seq\":%lld}", tenant, i);
		rd_kafka_resp_err_t e;
		while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
		                              RD_KAFKA_V_KEY(key, strlen(key)),
		                              RD_KAFKA_V_VALUE(value, strlen(value)),
		                              RD_KAFKA_V_HEADER("aimem-type", "call.ended", -1),
		                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                              RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 50);
		if (e) {
			log_error("produce: %s", rd_kafka_err2str(e));
			rd_kafka_destroy(rk);
			return -1;
		}
		rd_kafka_poll(rk, 0);
	}
	rd_kafka_resp_err_t fe = rd_kafka_flush(rk, 30000);
	rd_kafka_destroy(rk);
	if (fe || st.failed || st.delivered != n) {
		log_error("produced delivered=%lld failed=%lld of %lld flush=%s", st.delivered,
		          st.failed, n, rd_kafka_err2str(fe));
		return -1;
	}
	printf("kafka_roundtrip: produced %lld, all acknowledged\n", n);
	return 0;
}

/* Checks one consumed message; last_seq per tenant enforces per-key order. */
static int rt_check(const rd_kafka_message_t *rkm, long long *last_seq)
{
	long long key, tenant, seq;
	char value[128];
	if (rkm->len >= sizeof(value) ||
	    num_parse_intn(rkm->key, rkm->key_len, 1, RT_TENANTS, &key) != NUM_OK)
		return -1;
	memcpy(value, rkm->payload, rkm->len);
	value[rkm->len] = '\0';
	char *c = strstr(value, "\"customer_id\":"), *s = strstr(value, "\"seq\":");
	if (!c || !s)
		return -1;
	if (num_parse_intn(c + 14, strcspn(c + 14, ","), 1, RT_TENANTS, &tenant) != NUM_OK ||
	    num_parse_intn(s + 6, strcspn(s + 6, "}"), 0, 1LL << 40, &seq) != NUM_OK)
		return -1;
	if (tenant != key || seq <= last_seq[tenant])
		return -1;
	last_seq[tenant] = seq;
	rd_kafka_headers_t *hdrs = NULL;
	const void *hv;
	size_t hlen;
	if (rd_kafka_message_headers(rkm, &hdrs) ||
	    rd_kafka_header_get_last(hdrs, "aimem-type", &hv, &hlen) || hlen != 10 ||
	    memcmp(hv, "call.ended", 10) != 0)
		return -1;
	return 0;
}

static int rt_consume(const char *bootstrap, const char *topic, long long n, const char *group)
{
	char err[512];
	rd_kafka_conf_t *conf = rt_conf(bootstrap);
	if (kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
	    kafka_conf_set(conf, "partition.assignment.strategy", "range", err, sizeof(err)) ||
	    kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)) ||
	    kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		log_error("consumer: %s", err);
		return -1;
	}
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	long long got = 0, bad = 0, last_seq[RT_TENANTS + 1];
	for (int i = 0; i <= RT_TENANTS; i++)
		last_seq[i] = -1;
	bool partitions_seen[64] = { false };
	long long deadline = backoff_now_ms() + 60000;
	while (!e && got < n && backoff_now_ms() < deadline) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 200);
		if (rkm == NULL)
			continue;
		if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			got++;
			if (rt_check(rkm, last_seq) != 0)
				bad++;
			if (rkm->partition >= 0 && rkm->partition < 64)
				partitions_seen[rkm->partition] = true;
		} else if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			log_warn("consume: %s", rd_kafka_message_errstr(rkm));
		}
		rd_kafka_message_destroy(rkm);
	}
	if (!e)
		e = rd_kafka_commit(rk, NULL, 0);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	int parts = 0;
	for (int i = 0; i < 64; i++)
		parts += partitions_seen[i];
	printf("kafka_roundtrip: consumed %lld of %lld, %lld bad, from %d partitions, commit %s\n",
	       got, n, bad, parts, rd_kafka_err2str(e));
	return got == n && bad == 0 && !e ? 0 : -1;
}

int main(int argc, char **argv)
{
	long long n;
	log_init("kafka_roundtrip");
	if (argc != 5 || num_parse_int(argv[3], 1, 10000000, &n) != NUM_OK) {
		fprintf(stderr, "usage: kafka_roundtrip BOOTSTRAP TOPIC MESSAGES GROUP\n");
		return 2;
	}
	if (rt_produce(argv[1], argv[2], n) != 0 || rt_consume(argv[1], argv[2], n, argv[4]) != 0)
		return 1;
	printf("kafka_roundtrip: ok\n");
	return 0;
}

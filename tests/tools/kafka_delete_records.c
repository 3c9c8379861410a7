/*
 * kafka_delete_records: truncates the start of one partition's log, as retention would.
 *
 *   kafka_delete_records BOOTSTRAP TOPIC PARTITION OFFSET
 *
 * Deletes every message below OFFSET (the DeleteRecords admin request of librdkafka 2.0.2)
 * and prints the partition's new low watermark. Exits 0 on success, 1 on a broker error, 2 on
 * bad usage. Used by tests/integration/test_topic_reset.py (a worker whose position fell out
 * of the log while it ran). Not for production data.
 */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "num.h"

int main(int argc, char **argv)
{
	long long part, offset;
	if (argc != 5 || num_parse_int(argv[3], 0, 2147483647, &part) != NUM_OK ||
	    num_parse_int(argv[4], 0, INT64_MAX, &offset) != NUM_OK) {
		fprintf(stderr, "usage: kafka_delete_records BOOTSTRAP TOPIC PARTITION OFFSET\n");
		return 2;
	}
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "kafka_delete_records: %s\n", err);
		rd_kafka_conf_destroy(conf);
		return 2;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "kafka_delete_records: %s\n", err);
		rd_kafka_conf_destroy(conf); /* only taken on success */
		return 1;
	}
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, argv[2], (int32_t)part)->offset = offset;
	rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(parts);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
	rd_kafka_DeleteRecords_destroy(del);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	int rc = 1;
	if (ev == NULL) {
		fprintf(stderr, "kafka_delete_records: no answer within 30 s\n");
	} else if (rd_kafka_event_error(ev)) {
		fprintf(stderr, "kafka_delete_records: %s\n", rd_kafka_event_error_string(ev));
	} else {
		const rd_kafka_DeleteRecords_result_t *res =
		    rd_kafka_event_DeleteRecords_result(ev);
		const rd_kafka_topic_partition_list_t *out =
		    res ? rd_kafka_DeleteRecords_result_offsets(res) : NULL;
		if (out == NULL || out->cnt != 1 || out->elems[0].err) {
			fprintf(stderr, "kafka_delete_records: %s\n",
			        out && out->cnt == 1 ? rd_kafka_err2str(out->elems[0].err)
			                             : "no result");
		} else {
			printf("%lld\n", (long long)out->elems[0].offset);
			rc = 0;
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

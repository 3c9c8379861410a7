/*
 * topic: assign-only reads and acknowledged single produces for the operator commands (see
 * topic.h). Single-threaded: the delivery callback runs inside this thread's polls.
 */
#include "topic.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "kafka.h"
#include "xalloc.h"

bool topic_configured(const struct cfg *cfg)
{
	size_t n = cfg ? cfg_passthrough_count(cfg) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *key, *value;
		cfg_passthrough_get(cfg, i, &key, &value);
		const char *dot = strchr(key, '.');
		if (strcmp(dot ? dot + 1 : key, "bootstrap.servers") == 0 && value && *value)
			return true;
	}
	return false;
}

rd_kafka_t *topic_reader_new(const struct cfg *cfg, const char *name, bool eof, char *err,
                             size_t errlen)
{
	rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, errlen);
	if (conf == NULL)
		return NULL;
	/* a group.id is needed by the consumer, but nothing joins it: assign, never subscribe */
	if (kafka_conf_set(conf, "group.id", name, err, errlen) ||
	    kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) ||
	    kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
	    kafka_conf_set(conf, "enable.partition.eof", eof ? "true" : "false", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (rk == NULL)
		rd_kafka_conf_destroy(conf); /* only taken on success */
	return rk;
}

int topic_read_at(rd_kafka_t *rk, const char *topic, int partition, long long offset,
                  long long timeout_ms, rd_kafka_message_t **out, long long *low, long long *high,
                  char *err, size_t errlen)
{
	int64_t lo = 0, hi = 0;
	*out = NULL;
	rd_kafka_resp_err_t e =
	    rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, (int)timeout_ms);
	if (e) {
		snprintf(err, errlen, "%s/%d: watermarks: %s", topic, partition,
		         rd_kafka_err2str(e));
		return -1;
	}
	*low = lo;
	*high = hi;
	if (offset < lo || offset >= hi)
		return 0;
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, topic, partition)->offset = offset;
	e = rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (e) {
		snprintf(err, errlen, "%s/%d: assign: %s", topic, partition, rd_kafka_err2str(e));
		return -1;
	}
	long long deadline = backoff_now_ms() + timeout_ms;
	int rc = -1;
	snprintf(err, errlen, "%s/%d: no message at offset %lld within %lld ms", topic, partition,
	         offset, timeout_ms);
	while (rc < 0 && backoff_now_ms() < deadline) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
		if (rkm == NULL)
			continue;
		if (!rkm->err && rkm->partition == partition &&
		    strcmp(rd_kafka_topic_name(rkm->rkt), topic) == 0) {
			/* compaction may have removed it: the next one proves it gone */
			rc = rkm->offset == offset ? 1 : 0;
			if (rc == 1) {
				*out = rkm;
				rkm = NULL;
			}
		} else if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rc = 0;
		}
		if (rkm != NULL)
			rd_kafka_message_destroy(rkm);
	}
	(void)rd_kafka_assign(rk, NULL);
	return rc;
}

/* The topic's partition count from the broker's metadata; -1 with err. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, long long timeout_ms, char *err,
                            size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, (int)timeout_ms);
	rd_kafka_topic_destroy(rkt);
	int n = -1;
	if (e)
		snprintf(err, errlen, "metadata: %s", rd_kafka_err2str(e));
	else if (md->topic_cnt != 1 || md->topics[0].err)
		snprintf(err, errlen, "topic %s: %s", topic,
		         md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
	else
		n = md->topics[0].partition_cnt;
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	return n;
}

/* Polls the assigned partitions until each reached end[p] (the high watermark at start). */
static int topic_drain(rd_kafka_t *rk, const char *topic, long long *end, int left,
                       long long timeout_ms, topic_each_fn fn, void *arg, char *err, size_t errlen)
{
	long long deadline = backoff_now_ms() + timeout_ms;
	while (left > 0) {
		if (backoff_now_ms() > deadline) {
			snprintf(err, errlen, "%s: reading stalled for %lld ms", topic, timeout_ms);
			return -1;
		}
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
		if (rkm == NULL)
			continue;
		int p = rkm->partition, rc = 0;
		bool mine = strcmp(rd_kafka_topic_name(rkm->rkt), topic) == 0 && end[p] >= 0;
		if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			snprintf(err, errlen, "%s/%d: %s", topic, p, rd_kafka_message_errstr(rkm));
			rc = -1;
		} else if (mine && rkm->err == 0 && rkm->offset < end[p]) {
			deadline = backoff_now_ms() + timeout_ms;
			rc = fn(arg, rkm);
		}
		/* the last offset read, or the end of the log, closes the partition */
		if (mine && rkm->offset >= end[p] - 1) {
			end[p] = -1;
			left--;
		}
		rd_kafka_message_destroy(rkm);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int topic_read_all(rd_kafka_t *rk, const char *topic, long long timeout_ms, topic_each_fn fn,
                   void *arg, char *err, size_t errlen)
{
	int n = topic_partitions(rk, topic, timeout_ms, err, errlen);
	if (n < 0)
		return -1;
	long long *end = xcalloc((size_t)n + 1, sizeof(*end));
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
	int left = 0, rc = 0;
	for (int p = 0; p < n && rc == 0; p++) {
		int64_t lo = 0, hi = 0;
		rd_kafka_resp_err_t e =
		    rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, (int)timeout_ms);
		if (e) {
			snprintf(err, errlen, "%s/%d: watermarks: %s", topic, p,
			         rd_kafka_err2str(e));
			rc = -1;
		}
		end[p] = hi > lo ? hi : -1; /* -1: nothing to read there */
		if (hi > lo) {
			rd_kafka_topic_partition_list_add(tp, topic, p)->offset = lo;
			left++;
		}
	}
	if (rc == 0 && left > 0) {
		rd_kafka_resp_err_t e = rd_kafka_assign(rk, tp);
		if (e) {
			snprintf(err, errlen, "%s: assign: %s", topic, rd_kafka_err2str(e));
			rc = -1;
		} else {
			rc = topic_drain(rk, topic, end, left, timeout_ms, fn, arg, err, errlen);
			(void)rd_kafka_assign(rk, NULL);
		}
	}
	rd_kafka_topic_partition_list_destroy(tp);
	free(end);
	return rc;
}

#define TOPIC_DELIVERY_MAGIC 0x746f7064u /* "topd" */

/* One produce's outcome, filled by the delivery callback (this thread, inside a poll). */
struct topic_delivery {
	unsigned magic;
	bool done;
	rd_kafka_resp_err_t err;
	int partition;
	long long offset;
};

static void topic_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk;
	(void)opaque;
	struct topic_delivery *d = rkm->_private;
	if (d == NULL || d->magic != TOPIC_DELIVERY_MAGIC)
		abort();
	d->err = rkm->err;
	d->partition = rkm->partition;
	d->offset = rkm->offset;
	d->done = true;
}

rd_kafka_t *topic_producer_new(const struct cfg *cfg, long long timeout_ms, char *err,
                               size_t errlen)
{
	rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, errlen);
	if (conf == NULL)
		return NULL;
	char timeout[24];
	snprintf(timeout, sizeof(timeout), "%lld", timeout_ms);
	if (kafka_conf_set(conf, "enable.idempotence", "true", err, errlen) ||
	    kafka_conf_set(conf, "acks", "all", err, errlen) ||
	    kafka_conf_set(conf, "message.timeout.ms", timeout, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, topic_on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (rk == NULL)
		rd_kafka_conf_destroy(conf); /* only taken on success */
	return rk;
}

int topic_produce(rd_kafka_t *rk, const char *topic, const char *key, size_t key_len,
                  const void *value, size_t len, rd_kafka_headers_t *hdrs, int *partition,
                  long long *offset, char *err, size_t errlen)
{
	struct topic_delivery d = { .magic = TOPIC_DELIVERY_MAGIC, .partition = -1, .offset = -1 };
	rd_kafka_resp_err_t e;
	if (hdrs == NULL)
		hdrs = rd_kafka_headers_new(0);
	/* RD_KAFKA_V_HEADERS takes the headers only when the call succeeds */
	while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
	                              RD_KAFKA_V_VALUE((void *)value, len),
	                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                              RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(&d),
	                              RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(rk, 100);
	if (e) {
		rd_kafka_headers_destroy(hdrs);
		snprintf(err, errlen, "%s: cannot queue: %s", topic, rd_kafka_err2str(e));
		return -1;
	}
	/* message.timeout.ms bounds this: the callback always comes, with an error at worst */
	while (!d.done)
		rd_kafka_poll(rk, 100);
	if (d.err) {
		snprintf(err, errlen, "%s: not acknowledged: %s", topic, rd_kafka_err2str(d.err));
		return -1;
	}
	*partition = d.partition;
	*offset = d.offset;
	return 0;
}

/*
 * gateway: idempotent producer whose delivery reports answer HTTP exchanges (gateway.h).
 *
 * Threads: MHD threads call gateway_send(); the poller thread runs rd_kafka_poll(), so every
 * delivery report (and the http_reply it makes) runs there; gateway_ready() runs on an MHD
 * thread. The pending struct is the only thing shared, handed over through librdkafka.
 */
#include "gateway.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "kafka.h"
#include "log.h"
#include "xalloc.h"

#define GATEWAY_MAGIC 0x47415445u
#define PENDING_MAGIC 0x50454e44u

struct gateway {
	unsigned magic;
	rd_kafka_t *rk;
	struct gateway_config gc;
	char *topic_calls, *topic_memories;
	pthread_t poller;
	atomic_bool stopping;
	struct metrics_counter *produced, *failed, *queue_full;
	struct metrics_histogram *ack_latency;
};

/* One in-flight event: travels as the message opaque into the delivery report. */
struct pending {
	unsigned magic;
	struct http_exchange *ex;
	int ok_status;
	char *ok_body;
	long long started_ms;
};

static void gateway_reply_unavailable(struct gateway *g, struct http_exchange *ex, const char *why)
{
	char ra[24];
	snprintf(ra, sizeof(ra), "%lld", g->gc.retry_after_s);
	http_add_header(ex, "Retry-After", ra);
	http_reply_error(ex, 503, "unavailable", why);
}

/* Runs on the poller thread (rd_kafka_poll). */
static void gateway_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk;
	struct gateway *g = opaque;
	struct pending *p = rkm->_private;
	if (g == NULL || g->magic != GATEWAY_MAGIC || p == NULL || p->magic != PENDING_MAGIC)
		abort(); /* a broken invariant: someone else's opaque */
	if (rkm->err) {
		metrics_counter_add(g->failed, 1);
		log_warn("event not acknowledged topic=%s partition=%d error=\"%s\"",
		         rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
		         rd_kafka_err2str(rkm->err));
		gateway_reply_unavailable(g, p->ex, "the event could not be stored, retry later");
	} else {
		metrics_counter_add(g->produced, 1);
		metrics_observe(g->ack_latency,
		                (double)(backoff_now_ms() - p->started_ms) / 1000.0);
		http_reply_json(p->ex, p->ok_status, p->ok_body, strlen(p->ok_body));
	}
	p->magic = 0;
	free(p->ok_body);
	free(p);
}

static void gateway_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)opaque;
	log_warn("kafka error=%s reason=\"%s\"", rd_kafka_err2name((rd_kafka_resp_err_t)err),
	         reason);
}

static void *gateway_poll_loop(void *arg)
{
	struct gateway *g = arg;
	while (!atomic_load(&g->stopping))
		rd_kafka_poll(g->rk, 100);
	return NULL;
}

static rd_kafka_t *gateway_producer(struct gateway *g, const struct cfg *cfg, char *err,
                                    size_t errlen)
{
	rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, errlen);
	if (conf == NULL)
		return NULL;
	char timeout[24], linger[24];
	snprintf(timeout, sizeof(timeout), "%lld", g->gc.produce_timeout_ms);
	snprintf(linger, sizeof(linger), "%lld", g->gc.linger_ms);
	/* ours win over kafka.*: the 2xx-means-acknowledged contract depends on them */
	if (kafka_conf_set(conf, "enable.idempotence", "true", err, errlen) ||
	    kafka_conf_set(conf, "acks", "all", err, errlen) ||
	    kafka_conf_set(conf, "message.timeout.ms", timeout, err, errlen) ||
	    kafka_conf_set(conf, "linger.ms", linger, err, errlen) ||
	    /* librdkafka scans for timed-out messages from the broker thread, which sleeps in
	     * its reconnect backoff (up to 10 s by default) while the broker is down: keep that
	     * short so a 503 comes close to produce.timeout */
	    kafka_conf_set(conf, "reconnect.backoff.max.ms", "1000", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, gateway_on_delivery);
	rd_kafka_conf_set_error_cb(conf, gateway_on_error);
	rd_kafka_conf_set_opaque(conf, g);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (rk == NULL)
		rd_kafka_conf_destroy(conf); /* rd_kafka_new takes the conf only on success */
	return rk;
}

struct gateway *gateway_new(const struct gateway_config *gc, const struct cfg *cfg,
                            struct metrics *m, char *err, size_t errlen)
{
	struct gateway *g = xcalloc(1, sizeof(*g));
	g->magic = GATEWAY_MAGIC;
	g->gc = *gc;
	g->topic_calls = xstrdup(gc->topic_calls);
	g->topic_memories = xstrdup(gc->topic_memories);
	g->gc.topic_calls = g->topic_calls;
	g->gc.topic_memories = g->topic_memories;
	g->produced = metrics_counter(m, "aimem_ingest_events_acked_total",
	                              "Events acknowledged by the broker", "");
	g->failed = metrics_counter(m, "aimem_ingest_events_failed_total",
	                            "Events the broker did not acknowledge in time", "");
	g->queue_full = metrics_counter(m, "aimem_ingest_queue_full_total",
	                                "Events refused because the producer queue was full", "");
	g->ack_latency =
	    metrics_histogram(m, "aimem_ingest_ack_seconds", "Produce to broker acknowledgement",
	                      "", metrics_latency_bounds, metrics_latency_nbounds);
	g->rk = gateway_producer(g, cfg, err, errlen);
	if (g->rk == NULL || pthread_create(&g->poller, NULL, gateway_poll_loop, g) != 0) {
		if (g->rk) {
			snprintf(err, errlen, "cannot start the producer poll thread");
			rd_kafka_destroy(g->rk);
		}
		free(g->topic_calls);
		free(g->topic_memories);
		free(g);
		return NULL;
	}
	return g;
}

enum http_outcome gateway_send(struct gateway *g, struct http_exchange *ex, struct event *ev,
                               int ok_status, char *ok_body)
{
	/* the validated text itself is the message: take it from the event */
	struct buf value = { ev->raw, ev->raw_len, ev->raw_len + 1 };
	ev->raw = NULL;
	char key[24];
	snprintf(key, sizeof(key), "%lld", ev->customer_id);
	const char *topic = ev->type == EVENT_CALL_ENDED ? g->topic_calls : g->topic_memories;
	const char *type = event_type_name(ev->type);
	struct pending *p = xcalloc(1, sizeof(*p));
	*p = (struct pending){ PENDING_MAGIC, ex, ok_status, ok_body, backoff_now_ms() };
	/* RD_KAFKA_MSG_F_FREE: librdkafka owns value.data on success and frees it */
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    g->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
	    RD_KAFKA_V_VALUE(value.data, value.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
	    RD_KAFKA_V_HEADER("aimem-type", type, -1), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		return HTTP_DEFERRED;
	buf_free(&value);
	free(p->ok_body);
	free(p);
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		metrics_counter_add(g->queue_full, 1);
	log_warn("cannot queue event topic=%s error=\"%s\"", topic, rd_kafka_err2str(e));
	gateway_reply_unavailable(g, ex, "the event queue is full, retry later");
	return HTTP_DONE;
}

bool gateway_ready(struct gateway *g, char *why, size_t whylen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(g->rk, g->topic_calls, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(g->rk, 0, rkt, &md, 1000);
	bool ok = e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
	          md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
	if (!ok)
		snprintf(why, whylen, "kafka: %s",
		         e ? rd_kafka_err2str(e) : rd_kafka_err2str(md->topics[0].err));
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return ok;
}

void gateway_drain(struct gateway *g, long long flush_ms)
{
	if (rd_kafka_flush(g->rk, (int)flush_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	/* still unacknowledged: fail them, so each waiting client gets its 503 now */
	log_warn("producer flush incomplete, failing the rest queued=%d", rd_kafka_outq_len(g->rk));
	rd_kafka_purge(g->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	for (int i = 0; i < 50 && rd_kafka_outq_len(g->rk) > 0; i++)
		rd_kafka_poll(g->rk, 100);
}

void gateway_free(struct gateway **gp)
{
	struct gateway *g = *gp;
	if (g == NULL)
		return;
	atomic_store(&g->stopping, true);
	pthread_join(g->poller, NULL);
	rd_kafka_destroy(g->rk);
	g->magic = 0;
	free(g->topic_calls);
	free(g->topic_memories);
	free(g);
	*gp = NULL;
}

/*
 * publish: JSON Lines → Kafka (see publish.h). Single-threaded: this thread reads, produces
 * and polls, so the delivery callback runs here too and the counters need no locking.
 */
#include "publish.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "buf.h"
#include "event.h"
#include "kafka.h"
#include "log.h"
#include "sig.h"

static void publish_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk;
	struct publish_report *r = opaque;
	if (rkm->err) {
		r->failed++;
		fprintf(stderr, "publish: line %lld: not acknowledged: %s\n",
		        (long long)(intptr_t)rkm->_private, rd_kafka_err2str(rkm->err));
	} else {
		r->sent++;
	}
}

static rd_kafka_t *publish_producer(const struct publish_opts *o, const struct cfg *cfg,
                                    struct publish_report *r, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, errlen);
	if (conf == NULL)
		return NULL;
	char timeout[24];
	snprintf(timeout, sizeof(timeout), "%lld", o->timeout_ms);
	if (kafka_conf_set(conf, "enable.idempotence", "true", err, errlen) ||
	    kafka_conf_set(conf, "acks", "all", err, errlen) ||
	    kafka_conf_set(conf, "message.timeout.ms", timeout, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, publish_on_delivery);
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (rk == NULL)
		rd_kafka_conf_destroy(conf); /* only taken on success */
	return rk;
}

/* Validates one line and queues it; waits (polling) while the queue is full. */
static void publish_line(rd_kafka_t *rk, const struct publish_opts *o, const char *line, size_t len,
                         long long lineno, struct publish_report *r)
{
	struct event ev;
	char err[512];
	int rc = event_decode(line, len, NULL, 0, NULL, &ev, err, sizeof(err));
	if (rc != EVENT_OK) {
		r->rejected++;
		fprintf(stderr, "publish: line %lld: %s: %s\n", lineno, event_status_code(rc), err);
		return;
	}
	r->redacted += (long long)redact_edge_event(o->redact, &ev, true, NULL);
	if (rk == NULL) { /* dry run */
		r->sent++;
		event_release(&ev);
		return;
	}
	char key[24];
	snprintf(key, sizeof(key), "%lld", ev.customer_id);
	const char *topic = ev.type == EVENT_CALL_ENDED ? o->topic_calls : o->topic_memories;
	rd_kafka_resp_err_t e;
	while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
	                              RD_KAFKA_V_VALUE(ev.raw, ev.raw_len),
	                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                              RD_KAFKA_V_HEADER("aimem-type", event_type_name(ev.type), -1),
	                              RD_KAFKA_V_OPAQUE((void *)(intptr_t)lineno),
	                              RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(rk, 100);
	if (e) {
		r->failed++;
		fprintf(stderr, "publish: line %lld: cannot queue: %s\n", lineno,
		        rd_kafka_err2str(e));
	}
	rd_kafka_poll(rk, 0);
	event_release(&ev);
}

static void publish_progress(const struct publish_report *r, bool final)
{
	fprintf(stderr, "\rpublish: read %lld, sent %lld, rejected %lld, failed %lld%s", r->lines,
	        r->sent, r->rejected, r->failed, final ? "\n" : "");
}

int publish_run(const struct publish_opts *o, const struct cfg *cfg, struct publish_report *r,
                char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	FILE *in = strcmp(o->path, "-") == 0 ? stdin : fopen(o->path, "r");
	if (in == NULL) {
		snprintf(err, errlen, "%s: cannot open", o->path);
		return 2;
	}
	rd_kafka_t *rk = o->dry_run ? NULL : publish_producer(o, cfg, r, err, errlen);
	if (rk == NULL && !o->dry_run) {
		if (in != stdin)
			fclose(in);
		return 2;
	}
	bool tty = isatty(STDERR_FILENO);
	long long t0 = backoff_now_ms(), shown = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long long lineno = 0; /* the file's line number, blank lines included */
	while (!sig_stop_requested() && (n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue; /* blank lines are not events */
		r->lines++;
		publish_line(rk, o, line, (size_t)n, lineno, r);
		sig_wait(0);
		if (tty && backoff_now_ms() - shown > 500) {
			shown = backoff_now_ms();
			publish_progress(r, false);
		}
	}
	free(line);
	if (in != stdin)
		fclose(in);
	if (rk != NULL) {
		if (rd_kafka_flush(rk, (int)o->timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			/* fail what is left, so the delivery callback counts each one */
			rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			for (int i = 0; i < 50 && rd_kafka_outq_len(rk) > 0; i++)
				rd_kafka_poll(rk, 100);
		}
		rd_kafka_destroy(rk);
	}
	if (tty)
		publish_progress(r, true);
	fprintf(o->out,
	        "publish: %lld lines, %lld %s, %lld rejected, %lld failed, %lld values redacted in "
	        "%.1f s%s\n",
	        r->lines, r->sent, o->dry_run ? "valid" : "sent", r->rejected, r->failed,
	        r->redacted, (double)(backoff_now_ms() - t0) / 1000.0,
	        sig_stop_requested() ? " (interrupted)" : "");
	bool complete =
	    !sig_stop_requested() && r->rejected == 0 && r->failed == 0 && r->sent == r->lines;
	return complete ? 0 : 1;
}

/*
 * worker_batch: one batch from the consumer to COMMIT, for either mode: messages taken and
 * decoded, the program's prepare step, the transaction (the mode's positions first and last,
 * worker_apply.c in between), retried on transient failures, then the metrics. The mode
 * (worker_int.h) decides what differs: which messages are admitted, what the transaction
 * locks and stores, what a lost connection means.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "db.h"
#include "log.h"
#include "redact_event.h"
#include "sig.h"
#include "worker_int.h"
#include "xalloc.h"

struct wpart *worker_part(struct worker *w, int32_t p)
{
	if ((size_t)p >= w->nparts) {
		size_t n = (size_t)p + 1;
		w->parts = xreallocarray(w->parts, n, sizeof(*w->parts));
		for (size_t i = w->nparts; i < n; i++)
			w->parts[i] = (struct wpart){ .next = -1,
				                      .end = -1,
				                      .seen = -1,
				                      .verify = -1,
				                      .want = -1,
				                      .gap_at = -1 };
		w->nparts = n;
	}
	return &w->parts[p];
}

void worker_connect(struct worker *w)
{
	char err[512];
	while (w->conn == NULL && !sig_stop_requested()) {
		w->conn = db_connect(w->db_url, -1, err, sizeof(err));
		if (w->conn == NULL && !sig_stop_requested())
			log_warn("worker cannot connect to the database, retrying error=\"%s\"",
			         err);
	}
}

void worker_drop_batch(struct worker *w)
{
	for (size_t i = 0; i < w->nbatch; i++) {
		/* committed or given up: the next message is expected at the stored offset */
		worker_part(w, w->batch[i].rkm->partition)->want = -1;
		if (w->batch[i].job.prep != NULL && w->ops.release != NULL)
			w->ops.release(w->ops.ctx, w->batch[i].job.prep);
		event_release(&w->batch[i].ev);
		rd_kafka_message_destroy(w->batch[i].rkm);
	}
	w->nbatch = 0;
}

/*
 * A message past the one the consumer should hand us next: offsets of a partition are
 * consecutive (a topic written without transactions and never compacted), so the consumer
 * skipped some. Seen on a 3-broker cluster while partition leaders moved (tests/chaos/
 * cluster.py: three events of one partition never handed to the summarizer, the next batch
 * stored the offset past them). The partition is read again from the expected offset; when
 * the same gap comes back the broker's log has nothing there (transaction markers, a
 * compacted range) and it is accepted. True when rkm was dropped for the re-read.
 */
static bool worker_gap(struct worker *w, struct wpart *p, rd_kafka_message_t *rkm)
{
	long long want = p->want > p->next ? p->want : p->next;
	if (!w->mode->consecutive)
		return false;
	if (p->gap_at >= 0 && rkm->offset > p->gap_at)
		p->gap_at = -1; /* read past an earlier gap: that one is settled */
	if (rkm->offset <= want)
		return false;
	if (p->gap_at == rkm->offset) {
		/* our producers never leave one (idempotent, not transactional): say it loudly */
		log_warn("offsets missing from the log, accepted after reading them again topic=%s "
		         "partition=%d from=%lld to=%lld",
		         w->topic, (int)rkm->partition, want, (long long)rkm->offset - 1);
		metrics_counter_add(w->gaps, 1);
		p->gap_at = -1;
		return false;
	}
	log_warn("consumer skipped offsets, reading them again topic=%s partition=%d from=%lld "
	         "to=%lld",
	         w->topic, (int)rkm->partition, want, (long long)rkm->offset - 1);
	p->gap_at = rkm->offset;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, w->topic, rkm->partition)->offset = want;
	rd_kafka_error_t *e = rd_kafka_seek_partitions(w->rk, l, 10000);
	if (e != NULL || l->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* not read again: keep no batch past the gap; the stored offsets are reread */
		log_warn("cannot seek back over a gap error=\"%s\"",
		         e ? rd_kafka_error_string(e) : rd_kafka_err2str(l->elems[0].err));
		if (e)
			rd_kafka_error_destroy(e);
		worker_restart_from_stored(w);
	}
	rd_kafka_topic_partition_list_destroy(l);
	metrics_counter_add(w->skipped, 1);
	rd_kafka_message_destroy(rkm);
	return true;
}

/* Decodes one message into the batch (or skips it). Takes rkm. */
static void worker_take(struct worker *w, rd_kafka_message_t *rkm)
{
	struct wpart *p = worker_part(w, rkm->partition);
	if (!w->mode->admit(w, p, rkm))
		return;
	if (p->next < 0 || rkm->offset < p->next) {
		/* below the stored offset (a replayed fetch, or a zombie's stale partition) */
		metrics_counter_add(w->skipped, 1);
		rd_kafka_message_destroy(rkm);
		return;
	}
	if (worker_gap(w, p, rkm))
		return;
	p->want = rkm->offset + 1;
	if (w->nbatch == 0)
		w->batch = xreallocarray(w->batch, w->wc.batch_max, sizeof(*w->batch));
	struct wmsg *m = &w->batch[w->nbatch++];
	memset(m, 0, sizeof(*m));
	m->rkm = rkm;
	char err[256];
	if (rkm->payload == NULL || rkm->len == 0) {
		worker_mark(m, WMSG_EMPTY, "bad_json", "empty message");
		return;
	}
	int rc = event_decode(rkm->payload, rkm->len, rkm->key, rkm->key ? rkm->key_len : 0,
	                      &w->wc.limits, &m->ev, err, sizeof(err));
	if (rc != EVENT_OK)
		worker_mark(m, rc, event_status_code(rc), err);
	else if (!(w->ops.accept_types & (1u << m->ev.type)))
		worker_mark(m, WMSG_WRONG_TYPE, "unexpected_type",
		            "this topic's worker does not take this event type");
	else
		m->job = (struct worker_job){ .ev = &m->ev, .rkm = rkm };
	if (m->job.ev != NULL && w->ops.redact != NULL) /* before anything reaches a model */
		(void)redact_edge_event(w->ops.redact, &m->ev, false, NULL);
}

/* Polls until the batch is full or batch_ms passed since its first message. */
void worker_fill(struct worker *w)
{
	long long first = -1;
	while (w->nbatch < w->wc.batch_max && !sig_stop_requested()) {
		long long now = backoff_now_ms();
		if (first >= 0 && now - first >= w->wc.batch_ms)
			break;
		int wait = first >= 0 ? (int)(w->wc.batch_ms - (now - first)) : 100;
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(w->rk, wait);
		sig_wait(0); /* take a pending SIGTERM */
		if (rkm == NULL) {
			if (first < 0)
				return; /* idle: let the caller look at signals */
			continue;
		}
		if (rkm->err) {
			if (rkm->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && rkm->rkt != NULL)
				w->mode->position_lost(w, rkm);
			else if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("consumer error=\"%s\"", rd_kafka_message_errstr(rkm));
			rd_kafka_message_destroy(rkm);
			continue;
		}
		worker_take(w, rkm);
		if (first < 0 && w->nbatch > 0)
			first = now;
		if (w->mode->filled(w))
			break; /* e.g. a replay's range is read: never wait on live traffic */
	}
}

/* ---- committing a batch ------------------------------------------------------------- */

/*
 * Test-only (chaos tests, issue 8): with AIMEM_TEST_COMMIT_WINDOW_MS set, the worker logs
 * "commit window <where>" and sleeps that long just before sending COMMIT and just after it
 * succeeded, so a test can land a SIGKILL inside the commit with certainty. Off (0) by
 * default; never set it in production.
 */
static void worker_commit_window(struct worker *w, const char *where)
{
	if (w->commit_window_ms <= 0)
		return;
	log_info("commit window %s batch=%zu", where, w->nbatch);
	struct timespec ts = { w->commit_window_ms / 1000,
		               (w->commit_window_ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* One attempt at the batch's transaction. */
static int worker_transaction(struct worker *w, bool isolate)
{
	char err[512];
	int rc = db_begin(w->conn, err, sizeof(err));
	if (rc == DB_OK)
		rc = w->mode->begin(w); /* the live group's fence */
	if (rc == DB_OK)
		rc = worker_apply_all(w, isolate);
	for (size_t i = 0; i < w->nbatch && rc == DB_OK; i++)
		if (w->batch[i].status != EVENT_OK && w->batch[i].status != WMSG_STALE)
			rc = worker_dead_letter(w, &w->batch[i]);
	bool rollback = false; /* a dry run's */
	if (rc == DB_OK)
		rc = w->mode->finish(w, &rollback); /* the live group's stored offsets */
	if (rc == DB_OK && rollback) {
		db_rollback(w->conn);
		return PQstatus(w->conn) == CONNECTION_OK ? DB_OK : DB_CONN_LOST;
	}
	if (rc == DB_OK) {
		worker_commit_window(w,
		                     "before"); /* test hook: every write done, COMMIT not sent */
		rc = db_commit(w->conn, err, sizeof(err));
		if (rc != DB_OK)
			log_warn("COMMIT failed error=\"%s\"", err);
		else
			worker_commit_window(w,
			                     "after"); /* test hook: committed, not yet acted on */
		return rc;
	}
	db_rollback(w->conn);
	return rc;
}

/* After COMMIT: remember the new positions, count, and let the mode act on them. */
static void worker_committed(struct worker *w, long long started_ms)
{
	long long now_ms = backoff_now_ms();
	for (size_t i = 0; i < w->nbatch; i++) {
		const rd_kafka_message_t *rkm = w->batch[i].rkm;
		struct wpart *p = worker_part(w, rkm->partition);
		if (p->next >= 0 && rkm->offset + 1 > p->next) /* < 0: held since, re-read then */
			p->next = rkm->offset + 1;
		int st = w->batch[i].status;
		metrics_counter_add(st == EVENT_OK     ? w->processed
		                    : st == WMSG_STALE ? w->skipped
		                                       : w->dead,
		                    1);
		rd_kafka_timestamp_type_t tstype;
		int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);
		struct timespec wall;
		clock_gettime(CLOCK_REALTIME, &wall);
		if (ts > 0)
			metrics_observe(w->freshness, ((double)wall.tv_sec * 1000 +
			                               wall.tv_nsec / 1e6 - (double)ts) /
			                                  1000.0);
	}
	w->mode->committed(w); /* the live group's advice to Kafka, a replay's figures */
	metrics_observe(w->batch_seconds, (double)(now_ms - started_ms) / 1000.0);
	worker_drop_batch(w);
	backoff_reset(&w->bo);
}

/* Before prepare: marks the events of callers already erased, in a short read-only
 * transaction, so their transcripts never reach a model (the check inside the batch's
 * transaction stays the authority; an erasure never goes away, so a mark here holds).
 * Best effort: on a database error prepare simply sees every event. */
static void worker_precheck_erasures(struct worker *w)
{
	char err[512];
	worker_connect(w);
	if (w->conn == NULL || db_begin(w->conn, err, sizeof(err)) != DB_OK)
		return;
	size_t n;
	struct wmsg **order = worker_by_tenant(w, &n);
	int rc = DB_OK;
	for (size_t i = 0, j; i < n && rc == DB_OK; i = j) {
		for (j = i + 1; j < n && order[j]->ev.customer_id == order[i]->ev.customer_id; j++)
			;
		rc = db_set_tenant(w->conn, order[i]->ev.customer_id, err, sizeof(err));
		if (rc == DB_OK)
			rc = worker_erased(w, order + i, j - i, false, err, sizeof(err));
	}
	free(order);
	db_rollback(w->conn);                     /* read only */
	if (PQstatus(w->conn) != CONNECTION_OK) { /* the batch's transaction reconnects */
		PQfinish(w->conn);
		w->conn = NULL;
	}
}

/* The program's prepare step over the batch's valid events, retried while it asks to (the
 * batch does not advance meanwhile). False when a stop request left it unfinished. */
static bool worker_prepare(struct worker *w)
{
	if (w->ops.prepare == NULL || w->nbatch == 0)
		return true;
	worker_precheck_erasures(w);
	struct worker_job **jobs = xcalloc(w->nbatch, sizeof(*jobs));
	size_t n = 0;
	for (size_t i = 0; i < w->nbatch; i++)
		if (w->batch[i].status == EVENT_OK && !w->batch[i].erased)
			jobs[n++] = &w->batch[i].job;
	struct backoff bo;
	backoff_init(&bo, w->wc.retry_base_ms, w->wc.retry_cap_ms);
	bool done = n == 0;
	while (!done && !sig_stop_requested()) {
		done = w->ops.prepare(w->ops.ctx, jobs, n) == WORKER_PREPARED;
		if (!done) {
			metrics_counter_add(w->retries, 1);
			sig_wait((int)backoff_next_ms(&bo));
		}
	}
	free(jobs);
	for (size_t i = 0; done && i < w->nbatch; i++) {
		struct wmsg *m = &w->batch[i];
		if (m->status == EVENT_OK && m->job.reject_code != NULL)
			worker_mark(m, WMSG_REJECTED, m->job.reject_code, m->job.reject_err);
	}
	if (!done)
		log_warn("stop requested while preparing a batch: it stays uncommitted");
	return done;
}

/* Commits the current batch, retrying transient failures; never advances on failure. */
void worker_commit_batch(struct worker *w)
{
	long long started = backoff_now_ms();
	if (!worker_prepare(w))
		return;
	while (w->nbatch > 0) {
		worker_connect(w);
		if (w->conn == NULL) /* stopped while the database was down: nothing committed */
			return;
		int rc = worker_transaction(w, false);
		if (rc == DB_DATA)
			rc =
			    worker_transaction(w, true); /* find and dead-letter the bad event(s) */
		if (rc == DB_OK) {
			worker_committed(w, started);
			return;
		}
		metrics_counter_add(w->retries, 1);
		if (rc == DB_CONN_LOST || PQstatus(w->conn) != CONNECTION_OK) {
			if (w->mode->conn_lost(w)) /* the COMMIT's outcome is unknown */
				continue;
			return;
		}
		sig_wait((int)backoff_next_ms(&w->bo)); /* capped, jittered; never advancing */
		if (sig_stop_requested() && w->nbatch > 0)
			log_warn("stop requested while retrying a batch: it stays uncommitted");
		if (sig_stop_requested())
			return;
	}
}

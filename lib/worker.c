/*
 * worker: the exactly-once consume loop (see worker.h). The batch lives on this thread only;
 * the rebalance callback runs inside rd_kafka_consumer_poll on the same thread.
 */
#include "worker.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "buf.h"
#include "db.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "notify.h"
#include "num.h"
#include "position.h"
#include "sig.h"
#include "text.h"
#include "worker_health.h"
#include "xalloc.h"

#define WORKER_MAGIC 0x574f524bu
#define WORKER_DEAD_PREFIX 1024 /* payload bytes kept in a dead letter */

struct wpart {
	long long next;   /* next offset to process; -1 when not assigned (or held, stopped) */
	long long end;    /* replay: the first offset past the range */
	long long seen;   /* replay: the next offset the consumer will hand us */
	long long verify; /* offset whose message must match fp before any is taken; -1 none */
	long long fp;     /* stored fingerprint of the message at next - 1 (when have_fp) */
	bool have_fp;
	bool stopped; /* the stored position is not this log's: paused until an operator acts */
};

struct wmsg {
	rd_kafka_message_t *rkm;
	struct event ev;
	struct worker_job job; /* ev, rkm and the program's prep, for valid accepted events */
	int status;            /* EVENT_OK, an event status, or WMSG_* below */
	bool erased;           /* the caller was erased: dropped, not applied */
	char code[32];         /* dead-letter code */
	char err[200];         /* dead-letter reason (never the payload) */
};

enum {
	WMSG_WRONG_TYPE = -100,
	WMSG_STORE = -101,
	WMSG_EMPTY = -102,
	WMSG_STALE = -103,
	WMSG_REJECTED = -104, /* refused by the program's prepare step */
};

struct worker {
	unsigned magic;
	struct worker_config wc;
	char *group, *topic, *db_url;
	struct worker_ops ops;
	rd_kafka_t *rk;
	PGconn *conn;
	struct wpart *parts;
	size_t nparts;
	struct wmsg *batch;
	size_t nbatch;
	struct backoff bo;
	struct db_stmt erased_stmt, erase_lock_stmt;
	rd_kafka_topic_partition_list_t *pending; /* held paused until offsets load (owned) */
	bool pending_loaded; /* pending's offset fields hold the stored offsets already */
	atomic_int nstopped; /* partitions stopped (read by /readyz on an MHD thread) */
	struct metrics_gauge *stopped_gauge;
	struct metrics_counter *processed, *dead, *skipped, *erased, *retries;
	struct metrics_histogram *batch_seconds, *freshness;
	struct metrics *m;
	struct worker_health *health; /* /readyz and lag; NULL in replay mode */
	long long session_ms;         /* the group's session.timeout.ms */
	bool replaying;               /* wc.replay was given: see worker_replay in worker.h */
	struct worker_replay replay;
	struct worker_replay_stats rs;
	unsigned long long rows_pending; /* replay: rows changed by the batch in progress */
	bool replay_complete;            /* replay: the whole range was processed */
	long long commit_window_ms;      /* test hook, see worker_commit_window */
};

/* ---- partitions and stored offsets ------------------------------------------------------ */

static struct wpart *worker_part(struct worker *w, int32_t p)
{
	if ((size_t)p >= w->nparts) {
		size_t n = (size_t)p + 1;
		w->parts = xreallocarray(w->parts, n, sizeof(*w->parts));
		for (size_t i = w->nparts; i < n; i++)
			w->parts[i] =
			    (struct wpart){ .next = -1, .end = -1, .seen = -1, .verify = -1 };
		w->nparts = n;
	}
	return &w->parts[p];
}

static void worker_connect(struct worker *w)
{
	char err[512];
	while (w->conn == NULL && !sig_stop_requested()) {
		w->conn = db_connect(w->db_url, -1, err, sizeof(err));
		if (w->conn == NULL && !sig_stop_requested())
			log_warn("worker cannot connect to the database, retrying error=\"%s\"",
			         err);
	}
}

/*
 * consumer_offsets(group, topic, partition) := max(stored, next): never backwards. fp (NULL:
 * unknown) is the fingerprint of the message at next - 1; it follows the offset it belongs
 * to (every SET expression reads the old row).
 */
static int worker_store_offset(struct worker *w, int32_t partition, long long next,
                               const long long *fp)
{
	char err[512], part[24], off[24], fptext[24];
	snprintf(part, sizeof(part), "%d", (int)partition);
	snprintf(off, sizeof(off), "%lld", next);
	if (fp != NULL)
		snprintf(fptext, sizeof(fptext), "%lld", *fp);
	const char *params[] = { w->group, w->topic, part, off, fp != NULL ? fptext : NULL };
	int rc =
	    db_exec(w->conn,
	            "INSERT INTO consumer_offsets (consumer_group, topic, partition,"
	            " next_offset, last_fingerprint) VALUES ($1, $2, $3, $4, $5)"
	            " ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET"
	            " last_fingerprint = CASE"
	            " WHEN excluded.next_offset > consumer_offsets.next_offset"
	            " THEN excluded.last_fingerprint"
	            " WHEN excluded.next_offset = consumer_offsets.next_offset"
	            " THEN coalesce(excluded.last_fingerprint, consumer_offsets.last_fingerprint)"
	            " ELSE consumer_offsets.last_fingerprint END,"
	            " next_offset = greatest(consumer_offsets.next_offset,"
	            " excluded.next_offset), updated_at = now()",
	            5, params, NULL, err, sizeof(err));
	if (rc != DB_OK)
		log_warn("cannot store offsets error=\"%s\"", err);
	return rc;
}

/* Row r of a (partition, next_offset) result; false when it does not parse. */
static bool worker_offset_row(const PGresult *res, int r, long long *part, long long *next)
{
	return num_parse_int(PQgetvalue(res, r, 0), 0, INT32_MAX, part) == NUM_OK &&
	       num_parse_int(PQgetvalue(res, r, 1), 0, INT64_MAX, next) == NUM_OK;
}

/* Reads the stored next offsets (into parts' offset fields) and fingerprints (into their
 * wpart) of parts' partitions; unknown ones start at the beginning. Positions stay unknown:
 * worker_settle sets them once the broker has been asked whether they still hold. */
static int worker_load_offsets(struct worker *w, rd_kafka_topic_partition_list_t *parts)
{
	char err[512];
	PGresult *res = NULL;
	/* every assigned partition gets its row now, so the fence always has a row to lock
	 * (storing 0 keeps a row that exists: offsets never move backwards) */
	for (int i = 0; i < parts->cnt; i++) {
		int rc = worker_store_offset(w, parts->elems[i].partition, 0, NULL);
		if (rc != DB_OK)
			return rc;
	}
	const char *params[] = { w->group, w->topic };
	int rc = db_exec(w->conn,
	                 "SELECT partition, next_offset, last_fingerprint FROM consumer_offsets"
	                 " WHERE consumer_group = $1 AND topic = $2",
	                 2, params, &res, err, sizeof(err));
	if (rc != DB_OK) {
		log_warn("cannot read stored offsets error=\"%s\"", err);
		return rc;
	}
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct wpart *p = worker_part(w, tp->partition);
		tp->offset = RD_KAFKA_OFFSET_BEGINNING;
		p->have_fp = false;
		for (int r = 0; r < PQntuples(res); r++) {
			long long part, next;
			if (!worker_offset_row(res, r, &part, &next) || part != tp->partition)
				continue;
			tp->offset = next;
			p->have_fp = !PQgetisnull(res, r, 2) &&
			             num_parse_int(PQgetvalue(res, r, 2), INT64_MIN, INT64_MAX,
			                           &p->fp) == NUM_OK;
		}
	}
	PQclear(res);
	return DB_OK;
}

static void worker_drop_batch(struct worker *w)
{
	for (size_t i = 0; i < w->nbatch; i++) {
		if (w->batch[i].job.prep != NULL && w->ops.release != NULL)
			w->ops.release(w->ops.ctx, w->batch[i].job.prep);
		event_release(&w->batch[i].ev);
		rd_kafka_message_destroy(w->batch[i].rkm);
	}
	w->nbatch = 0;
}

/* One attempt (connecting for up to timeout_ms) at reading parts' stored offsets into their
 * offset fields and positions. */
static int worker_try_offsets(struct worker *w, rd_kafka_topic_partition_list_t *parts,
                              long long timeout_ms)
{
	char err[512];
	if (w->conn == NULL) {
		w->conn = db_connect(w->db_url, timeout_ms, err, sizeof(err));
		if (w->conn == NULL) {
			log_warn("worker cannot reach the database for stored offsets error=\"%s\"",
			         err);
			return DB_CONN_LOST;
		}
	}
	int rc = worker_load_offsets(w, parts);
	if (rc == DB_CONN_LOST || PQstatus(w->conn) != CONNECTION_OK) {
		PQfinish(w->conn);
		w->conn = NULL;
	}
	return rc;
}

/* A stopped partition is running again or no longer ours (revoked, re-checked). */
static void worker_unstop(struct worker *w, int32_t partition)
{
	struct wpart *p = worker_part(w, partition);
	p->verify = -1;
	if (!p->stopped)
		return;
	p->stopped = false;
	int n = atomic_fetch_sub(&w->nstopped, 1) - 1;
	metrics_gauge_set(w->stopped_gauge, n);
}

/*
 * Stops one partition whose stored position does not belong to the broker's log (issue 17):
 * it stays paused, nothing of it is applied and its stored offset does not move, until an
 * operator decides with `aimem offsets` and the group's workers restart. Loud on purpose:
 * an error line, the aimem_worker_partitions_stopped gauge and a failing /readyz.
 */
static void worker_stop(struct worker *w, int32_t partition, enum position_status st,
                        const char *detail)
{
	struct wpart *p = worker_part(w, partition);
	p->next = -1;
	p->verify = -1;
	rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(one, w->topic, partition);
	rd_kafka_pause_partitions(w->rk, one);
	rd_kafka_topic_partition_list_destroy(one);
	if (!p->stopped) {
		p->stopped = true;
		int n = atomic_fetch_add(&w->nstopped, 1) + 1;
		metrics_gauge_set(w->stopped_gauge, n);
	}
	log_error("partition stopped: the stored offset does not belong to the topic's log"
	          " (recreated topic, emptied or restored broker?); nothing is skipped or applied"
	          " until an operator decides group=%s topic=%s partition=%d reason=%s %s"
	          " action=\"aimem offsets show --group %s --topic %s; stop the group's workers;"
	          " aimem offsets reset --group %s --topic %s --to earliest|latest|OFFSET\"",
	          w->group, w->topic, (int)partition, position_status_name(st), detail, w->group,
	          w->topic, w->group, w->topic);
}

/*
 * Holds parts paused, positions unknown (next = -1: nothing of theirs is applied), until
 * worker_settle has checked their stored offsets against the broker and moved the consumer
 * there. loaded: parts' offset fields hold the stored offsets already (read in the rebalance
 * callback); otherwise worker_settle reads them first. quiet: the caller logged why. Never
 * blocking on the database or the broker inside the rebalance callback matters: librdkafka
 * 2.0.2 aborts (rd_kafka_assignment_partition_stopped: rktp_started) when the group session
 * is lost while the callback waits and a revoke follows the late assign (found by the chaos
 * run).
 */
static void worker_hold(struct worker *w, const rd_kafka_topic_partition_list_t *parts, bool loaded,
                        bool quiet)
{
	if (w->pending == NULL) {
		w->pending = rd_kafka_topic_partition_list_new(parts->cnt);
		w->pending_loaded = true;
	}
	w->pending_loaded = w->pending_loaded && loaded;
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;
		worker_part(w, p)->next = -1;
		worker_unstop(w, p); /* checked again by worker_settle */
		rd_kafka_topic_partition_t *tp =
		    rd_kafka_topic_partition_list_find(w->pending, w->topic, p);
		if (tp == NULL)
			tp = rd_kafka_topic_partition_list_add(w->pending, w->topic, p);
		tp->offset = loaded ? parts->elems[i].offset : RD_KAFKA_OFFSET_INVALID;
	}
	rd_kafka_pause_partitions(w->rk, w->pending);
	if (quiet)
		return;
	if (loaded)
		log_info("partitions=%d paused until their stored offsets are checked against the"
		         " broker",
		         w->pending->cnt);
	else
		log_warn("stored offsets unavailable: partitions=%d held paused until the database"
		         " answers",
		         w->pending->cnt);
}

/*
 * The broker's side of worker_settle, for every held partition (offset fields: the stored
 * next offsets): a position that cannot belong to this log stops its partition (taken out
 * of pending, left paused); the others get their position, the message to verify (the
 * stored fingerprint's, read first) and, in their offset field, where to seek. -1 when the
 * broker does not answer (nothing changed: try again later).
 */
static int worker_check_held(struct worker *w)
{
	int n = w->pending->cnt;
	int64_t *lo = xcalloc((size_t)n, sizeof(*lo)), *hi = xcalloc((size_t)n, sizeof(*hi));
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
		    w->rk, w->topic, w->pending->elems[i].partition, &lo[i], &hi[i], 5000);
		if (e) {
			log_warn("cannot read a held partition's watermarks topic=%s partition=%d"
			         " error=\"%s\"",
			         w->topic, (int)w->pending->elems[i].partition,
			         rd_kafka_err2str(e));
			rc = -1;
		}
	}
	rd_kafka_topic_partition_list_t *keep = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n && rc == 0; i++) {
		int32_t part = w->pending->elems[i].partition;
		struct wpart *p = worker_part(w, part);
		long long next = w->pending->elems[i].offset < 0 ? 0 : w->pending->elems[i].offset;
		enum position_status st = position_check(next, lo[i], hi[i]);
		char detail[160];
		snprintf(detail, sizeof(detail), "stored_next=%lld low=%lld high=%lld", next,
		         (long long)lo[i], (long long)hi[i]);
		if (position_stops(st)) {
			worker_stop(w, part, st, detail);
			continue;
		}
		if (st == POSITION_EXPIRED) /* gone from Kafka whatever we do: say so, go on */
			log_warn(
			    "stored offset below the log start: messages deleted before they were"
			    " processed group=%s topic=%s partition=%d expired=%lld %s",
			    w->group, w->topic, (int)part, (long long)lo[i] - next, detail);
		p->next = st == POSITION_EXPIRED ? lo[i] : next;
		p->verify = position_verify_offset(next, lo[i], hi[i], p->have_fp);
		worker_health_position(w->health, part, p->next);
		rd_kafka_topic_partition_list_add(keep, w->topic, part)->offset =
		    p->verify >= 0 ? p->verify : p->next;
		log_info("partition assigned topic=%s partition=%d next_offset=%lld low=%lld"
		         " high=%lld verify_offset=%lld",
		         w->topic, (int)part, p->next, (long long)lo[i], (long long)hi[i],
		         p->verify);
	}
	free(lo);
	free(hi);
	if (rc == 0) {
		rd_kafka_topic_partition_list_destroy(w->pending);
		w->pending = keep;
	} else {
		rd_kafka_topic_partition_list_destroy(keep);
	}
	return rc;
}

/*
 * A partition whose position left the log while it ran hit auto.offset.reset=error, which
 * leaves it unstarted in librdkafka 2.0.2 (fetch state none): a seek is refused (_STATE). Only
 * a new assignment starts it again: the whole assignment is given anew with explicit offsets
 * (the held partitions' seek targets, the running ones' next offsets; paused ones stay
 * paused). Between batches only, so no message in hand is lost. -1 when it could not be done.
 */
static int worker_reassign(struct worker *w)
{
	rd_kafka_topic_partition_list_t *cur = NULL;
	if (w->nbatch > 0 || rd_kafka_assignment(w->rk, &cur) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (cur)
			rd_kafka_topic_partition_list_destroy(cur);
		return -1;
	}
	for (int i = 0; i < cur->cnt; i++) {
		rd_kafka_topic_partition_t *e = &cur->elems[i];
		const rd_kafka_topic_partition_t *t =
		    rd_kafka_topic_partition_list_find(w->pending, w->topic, e->partition);
		long long next = worker_part(w, e->partition)->next;
		e->offset = t != NULL ? t->offset : next >= 0 ? next : RD_KAFKA_OFFSET_END;
	}
	rd_kafka_resp_err_t err = rd_kafka_assign(w->rk, cur);
	rd_kafka_topic_partition_list_destroy(cur);
	if (err) {
		log_warn("cannot assign the partitions again error=\"%s\"", rd_kafka_err2str(err));
		return -1;
	}
	log_info("partitions assigned again to restart the held ones at their checked offsets");
	return 0;
}

/* Outside the callback: reads the held partitions' stored offsets, checks them against the
 * broker's log, seeks there and resumes them. One attempt; the main loop calls it again
 * (with backoff) while any are held. */
static void worker_settle(struct worker *w)
{
	if (w->pending == NULL || sig_stop_requested())
		return;
	bool waited = !w->pending_loaded; /* held for the database, not only for the check */
	if (!w->pending_loaded && worker_try_offsets(w, w->pending, 0) != DB_OK) {
		sig_wait((int)backoff_next_ms(&w->bo));
		return;
	}
	w->pending_loaded = true;
	if (worker_check_held(w) != 0) {
		sig_wait((int)backoff_next_ms(&w->bo));
		return;
	}
	rd_kafka_error_t *e =
	    w->pending->cnt > 0 ? rd_kafka_seek_partitions(w->rk, w->pending, 10000) : NULL;
	bool ok = e == NULL, unstarted = false;
	for (int i = 0; i < w->pending->cnt; i++) {
		ok = ok && w->pending->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
		unstarted = unstarted || w->pending->elems[i].err == RD_KAFKA_RESP_ERR__STATE;
	}
	if (!ok && e == NULL && unstarted && worker_reassign(w) == 0)
		ok = true;
	if (!ok) {
		rd_kafka_resp_err_t pe = RD_KAFKA_RESP_ERR_NO_ERROR;
		for (int i = 0; !pe && i < w->pending->cnt; i++)
			pe = w->pending->elems[i].err;
		log_warn("cannot seek held partitions to their stored offsets error=\"%s\"",
		         e ? rd_kafka_error_string(e) : rd_kafka_err2str(pe));
		if (e)
			rd_kafka_error_destroy(e);
		for (int i = 0; i < w->pending->cnt; i++) { /* applied nothing: still unknown */
			worker_part(w, w->pending->elems[i].partition)->next = -1;
			worker_part(w, w->pending->elems[i].partition)->verify = -1;
		}
		w->pending_loaded = false; /* the offset fields now hold seek targets */
		sig_wait((int)backoff_next_ms(&w->bo));
		return;
	}
	rd_kafka_resume_partitions(w->rk, w->pending);
	if (w->pending->cnt > 0)
		log_info("%s partitions=%d stopped=%d",
		         waited ? "held partitions resumed at their stored offsets"
		                : "partitions resumed at their checked stored offsets",
		         w->pending->cnt, atomic_load(&w->nstopped));
	rd_kafka_topic_partition_list_destroy(w->pending);
	w->pending = NULL;
	backoff_reset(&w->bo);
}

/* The consumer's position left the log (librdkafka's auto.offset.reset is "error" for the
 * live group): a truncated log, or a broker that lost it under us. Held and checked again
 * like a new assignment, never reset silently. */
static void worker_out_of_range(struct worker *w, const rd_kafka_message_t *rkm)
{
	struct wpart *p = worker_part(w, rkm->partition);
	if (p->stopped || (w->pending != NULL && rd_kafka_topic_partition_list_find(
	                                             w->pending, w->topic, rkm->partition)))
		return; /* already waiting for an operator, or for worker_settle */
	log_warn("consumer position out of the partition's log: checking the stored offset again"
	         " topic=%s partition=%d error=\"%s\"",
	         w->topic, (int)rkm->partition, rd_kafka_message_errstr(rkm));
	/* the batch in hand stays: its messages were read from the log before the change (the
	 * partition's position, now unknown, is not advanced by its commit) */
	rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(one, w->topic, rkm->partition);
	worker_hold(w, one, false, true);
	rd_kafka_topic_partition_list_destroy(one);
}

/* Runs inside rd_kafka_consumer_poll on the worker's thread. */
static void worker_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct worker *w = opaque;
	if (w == NULL || w->magic != WORKER_MAGIC)
		abort();
	/* an uncommitted batch is dropped: its messages come back from the stored offsets */
	worker_drop_batch(w);
	if (w->pending != NULL) { /* any assignment change starts the held set afresh */
		rd_kafka_topic_partition_list_destroy(w->pending);
		w->pending = NULL;
	}
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* one short attempt at the stored offsets, so the assignment starts where they
		 * say; either way every partition is held paused until worker_settle, outside
		 * this callback, has checked them against the broker's log (issue 17) */
		bool loaded = worker_try_offsets(w, parts, 2000) == DB_OK;
		/* assigned at the log end, never at a stored or committed offset: an offset out of
		 * the log would meet auto.offset.reset=error and leave the partition unstarted
		 * (librdkafka 2.0.2 then refuses the seek); the held partition is seeked anyway */
		rd_kafka_topic_partition_list_t *at = rd_kafka_topic_partition_list_copy(parts);
		for (int i = 0; i < at->cnt; i++)
			at->elems[i].offset = RD_KAFKA_OFFSET_END;
		rd_kafka_assign(rk, at);
		rd_kafka_topic_partition_list_destroy(at);
		worker_health_assigned(w->health, parts); /* empty: a member with nothing to do */
		if (parts->cnt > 0) /* more members than partitions: nothing to check */
			worker_hold(w, parts, loaded, false);
	} else {
		for (int i = 0; i < parts->cnt; i++) {
			int32_t p = parts->elems[i].partition;
			worker_part(w, p)->next = -1;
			worker_unstop(w, p); /* its next owner checks it again */
			log_info("partition revoked topic=%s partition=%d", w->topic,
			         (int)parts->elems[i].partition);
		}
		worker_health_revoked(w->health, parts); /* its lag series go: another reports */
		rd_kafka_assign(rk, NULL);
	}
}

/* After a lost connection the commit's outcome is unknown: hold every assigned partition
 * until the stored offsets can be read again, then restart them from there. */
static void worker_restart_from_stored(struct worker *w)
{
	worker_drop_batch(w);
	if (w->conn != NULL) {
		PQfinish(w->conn);
		w->conn = NULL;
	}
	rd_kafka_topic_partition_list_t *parts = NULL;
	if (rd_kafka_assignment(w->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0)
		worker_hold(w, parts, false, false);
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
}

/* ---- filling a batch ---------------------------------------------------------------- */

static void worker_mark(struct wmsg *m, int status, const char *code, const char *err)
{
	m->status = status;
	snprintf(m->code, sizeof(m->code), "%s", code);
	/* cut on a character boundary: a text column refuses half a UTF-8 sequence */
	size_t n = text_utf8_cut(err, strlen(err), sizeof(m->err) - 1);
	memcpy(m->err, err, n);
	m->err[n] = '\0';
}

/* Replay: keeps only messages inside the range and of the tenant asked for; false when rkm
 * was dropped. */
static bool worker_replay_take(struct worker *w, struct wpart *p, rd_kafka_message_t *rkm)
{
	if (rkm->offset >= p->end) { /* past the end captured at start: this partition is done */
		if (p->seen < p->end) {
			p->seen = p->end;
			rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
			rd_kafka_topic_partition_list_add(one, w->topic, rkm->partition);
			rd_kafka_pause_partitions(w->rk, one); /* stop fetching the live stream */
			rd_kafka_topic_partition_list_destroy(one);
		}
		rd_kafka_message_destroy(rkm);
		return false;
	}
	if (rkm->offset + 1 > p->seen)
		p->seen = rkm->offset + 1;
	w->rs.read++;
	if (w->replay.customer > 0) {
		long long key;
		if (rkm->key == NULL ||
		    num_parse_intn(rkm->key, rkm->key_len, 1, INT32_MAX, &key) != NUM_OK ||
		    key != w->replay.customer) {
			w->rs.other_tenants++;
			rd_kafka_message_destroy(rkm);
			return false;
		}
	}
	return true;
}

/*
 * The first message of a partition whose stored offset came with a fingerprint: is the
 * message at next - 1 still the one committed there? Stops the partition (and takes rkm)
 * when it is not: a recreated topic that already holds more messages than the stored
 * offset looks fine to the watermarks. False when rkm was taken.
 */
static bool worker_verify(struct worker *w, struct wpart *p, rd_kafka_message_t *rkm)
{
	long long at = p->verify;
	p->verify = -1;
	if (rkm->offset > at) { /* no message there any more (compaction, a control record) */
		log_warn("cannot verify the stored position: no message at its offset topic=%s"
		         " partition=%d offset=%lld first_offset=%lld",
		         w->topic, (int)rkm->partition, at, (long long)rkm->offset);
		return true;
	}
	rd_kafka_timestamp_type_t type;
	long long fp = position_fingerprint(rd_kafka_message_timestamp(rkm, &type), rkm->key,
	                                    rkm->key_len, rkm->payload, rkm->len);
	if (fp == p->fp) {
		log_info("stored position verified topic=%s partition=%d offset=%lld", w->topic,
		         (int)rkm->partition, at);
		return true;
	}
	char detail[160];
	snprintf(detail, sizeof(detail),
	         "stored_next=%lld offset=%lld stored_fingerprint=%lld"
	         " found_fingerprint=%lld",
	         p->next, at, p->fp, fp);
	worker_stop(w, rkm->partition, POSITION_MISMATCH, detail);
	rd_kafka_message_destroy(rkm);
	return false;
}

/* Decodes one message into the batch (or skips it). Takes rkm. */
static void worker_take(struct worker *w, rd_kafka_message_t *rkm)
{
	struct wpart *p = worker_part(w, rkm->partition);
	if (w->replaying && !worker_replay_take(w, p, rkm))
		return;
	if (p->verify >= 0 && rkm->offset >= p->verify && !worker_verify(w, p, rkm))
		return;
	if (p->next < 0 || rkm->offset < p->next) {
		/* below the stored offset (a replayed fetch, or a zombie's stale partition) */
		metrics_counter_add(w->skipped, 1);
		rd_kafka_message_destroy(rkm);
		return;
	}
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
}

static bool worker_replay_done(const struct worker *w);

/* Polls until the batch is full or batch_ms passed since its first message. */
static void worker_fill(struct worker *w)
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
			if (rkm->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && !w->replaying &&
			    rkm->rkt != NULL)
				worker_out_of_range(w, rkm);
			else if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("consumer error=\"%s\"", rd_kafka_message_errstr(rkm));
			rd_kafka_message_destroy(rkm);
			continue;
		}
		worker_take(w, rkm);
		if (first < 0 && w->nbatch > 0)
			first = now;
		if (w->replaying && worker_replay_done(w))
			break; /* the range is read: never wait on (or spin over) live traffic */
	}
}

/* ---- committing a batch ------------------------------------------------------------- */

static const char *worker_user(const struct event *ev)
{
	return ev->type == EVENT_CALL_ENDED ? ev->call.user_id : ev->mem.user_id;
}

/* Marks the messages of g (one tenant, set) whose caller was erased: one query. */
static int worker_erased(struct worker *w, struct wmsg *const *g, size_t n, bool lock, char *err,
                         size_t errlen)
{
	json_t *users = json_array();
	for (size_t i = 0; i < n; i++) {
		const char *user = worker_user(&g[i]->ev);
		if (user != NULL)
			json_array_append_new(users, json_string(user));
	}
	int rc = DB_OK;
	if (json_array_size(users) > 0) {
		char tenant[24];
		snprintf(tenant, sizeof(tenant), "%lld", g[0]->ev.customer_id);
		char *list = json_dumps(users, JSON_COMPACT);
		const char *params[] = { tenant, list };
		PGresult *res = NULL;
		/* the callers' erasure locks first, shared (aimem erase takes one exclusively):
		 * an erase committing after this point waits for our COMMIT and then deletes what
		 * we wrote; one that committed before is seen by the next statement's snapshot */
		if (lock)
			rc = db_exec_stmt(w->conn, &w->erase_lock_stmt, params, NULL, err, errlen);
		if (rc == DB_OK)
			rc = db_exec_stmt(w->conn, &w->erased_stmt, params, &res, err, errlen);
		for (int r = 0; rc == DB_OK && r < PQntuples(res); r++)
			for (size_t i = 0; i < n; i++) {
				const char *user = worker_user(&g[i]->ev);
				if (user != NULL && strcmp(user, PQgetvalue(res, r, 0)) == 0)
					g[i]->erased = true;
			}
		PQclear(res);
		free(list);
	}
	json_decref(users);
	return rc;
}

/* The program's apply for jobs (one tenant, set). */
static int worker_apply_jobs(struct worker *w, struct worker_job *const *jobs, size_t n, char *err,
                             size_t errlen)
{
	if (w->ops.apply_batch != NULL)
		return w->ops.apply_batch(w->ops.ctx, w->conn, jobs, n, err, errlen);
	int rc = DB_OK;
	for (size_t i = 0; i < n && rc == DB_OK; i++)
		rc = w->ops.apply(w->ops.ctx, w->conn, jobs[i], err, errlen);
	return rc;
}

/* Applies one valid event under a savepoint: a data error rolls back to it and marks the
 * message for the dead letters instead of failing the batch. */
static int worker_apply_isolated(struct worker *w, struct wmsg *m)
{
	char err[512];
	struct worker_job *job = &m->job;
	int rc = db_exec(w->conn, "SAVEPOINT aimem_event", 0, NULL, NULL, err, sizeof(err));
	if (rc == DB_OK)
		rc = worker_apply_jobs(w, &job, 1, err, sizeof(err));
	if (rc == DB_OK) /* never pile up hundreds of open subtransactions */
		rc = db_exec(w->conn, "RELEASE SAVEPOINT aimem_event", 0, NULL, NULL, err,
		             sizeof(err));
	if (rc == DB_DATA) {
		worker_mark(m, WMSG_STORE, "store_failed", err);
		return db_exec(w->conn, "ROLLBACK TO SAVEPOINT aimem_event", 0, NULL, NULL, err,
		               sizeof(err));
	}
	if (rc != DB_OK)
		log_warn("applying event failed topic=%s partition=%d offset=%lld error=\"%s\"",
		         w->topic, (int)m->rkm->partition, (long long)m->rkm->offset, err);
	return rc;
}

/* One tenant's messages g[0..n), in arrival order: set the tenant, drop erased callers'
 * events, apply the rest (all at once, or one by one under savepoints with isolate). */
static int worker_apply_tenant(struct worker *w, struct wmsg *const *g, size_t n, bool isolate)
{
	char err[512];
	int rc = db_set_tenant(w->conn, g[0]->ev.customer_id, err, sizeof(err));
	if (rc == DB_OK)
		rc = worker_erased(w, g, n, true, err, sizeof(err));
	if (rc != DB_OK) {
		log_warn("cannot prepare a tenant's events error=\"%s\"", err);
		return rc;
	}
	struct worker_job **jobs = xcalloc(n, sizeof(*jobs));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (g[i]->erased)
			metrics_counter_add(w->erased, 1);
		else
			jobs[k++] = &g[i]->job;
	if (isolate) {
		for (size_t i = 0; i < n && rc == DB_OK; i++)
			if (!g[i]->erased)
				rc = worker_apply_isolated(w, g[i]);
	} else if (k > 0) {
		rc = worker_apply_jobs(w, jobs, k, err, sizeof(err));
		if (rc != DB_OK && rc != DB_DATA)
			log_warn("applying events failed topic=%s events=%zu error=\"%s\"",
			         w->topic, k, err);
	}
	free(jobs);
	return rc;
}

static int worker_cmp_tenant(const void *a, const void *b)
{
	const struct wmsg *const *x = a, *const *y = b;
	long long tx = (*x)->ev.customer_id, ty = (*y)->ev.customer_id;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return *x < *y ? -1 : *x > *y; /* arrival order within a tenant */
}

/* The batch's valid messages grouped by tenant, arrival order within a tenant (owned). */
static struct wmsg **worker_by_tenant(struct worker *w, size_t *n)
{
	struct wmsg **order = xcalloc(w->nbatch ? w->nbatch : 1, sizeof(*order));
	*n = 0;
	for (size_t i = 0; i < w->nbatch; i++)
		if (w->batch[i].status == EVENT_OK)
			order[(*n)++] = &w->batch[i];
	qsort(order, *n, sizeof(*order), worker_cmp_tenant);
	return order;
}

static int worker_apply_all(struct worker *w, bool isolate)
{
	size_t n;
	struct wmsg **order = worker_by_tenant(w, &n);
	int rc = DB_OK;
	for (size_t i = 0, j; i < n && rc == DB_OK; i = j) {
		for (j = i + 1; j < n && order[j]->ev.customer_id == order[i]->ev.customer_id; j++)
			;
		rc = worker_apply_tenant(w, order + i, j - i, isolate);
	}
	free(order);
	return rc;
}

static int worker_dead_letter(struct worker *w, const struct wmsg *m)
{
	const rd_kafka_message_t *rkm = m->rkm;
	char part[16], off[24], size[24], cust[24];
	snprintf(part, sizeof(part), "%d", (int)rkm->partition);
	snprintf(off, sizeof(off), "%lld", (long long)rkm->offset);
	snprintf(size, sizeof(size), "%zu", rkm->len);
	long long c;
	bool have_cust =
	    rkm->key && num_parse_intn(rkm->key, rkm->key_len, 1, INT32_MAX, &c) == NUM_OK;
	snprintf(cust, sizeof(cust), "%lld", have_cust ? c : 0);
	struct buf key = BUF_INIT, prefix = BUF_INIT;
	static const char hex[] = "0123456789abcdef";
	size_t klen = rkm->key ? (rkm->key_len < 64 ? rkm->key_len : 64) : 0;
	if (rkm->key && text_utf8_valid(rkm->key, klen) && memchr(rkm->key, 0, klen) == NULL) {
		buf_append(&key, rkm->key, klen);
	} else if (rkm->key) { /* not text: keep it readable and storable as hex */
		buf_append_str(&key, "hex:");
		for (size_t i = 0; i < klen; i++) {
			unsigned char b = ((const unsigned char *)rkm->key)[i];
			buf_putc(&key, hex[b >> 4]);
			buf_putc(&key, hex[b & 15]);
		}
	}
	size_t n = rkm->len < WORKER_DEAD_PREFIX ? rkm->len : WORKER_DEAD_PREFIX;
	buf_append_str(&prefix, "\\x");
	for (size_t i = 0; i < n; i++) {
		unsigned char b = ((const unsigned char *)rkm->payload)[i];
		buf_putc(&prefix, hex[b >> 4]);
		buf_putc(&prefix, hex[b & 15]);
	}
	const char *params[] = { w->group,
		                 w->topic,
		                 part,
		                 off,
		                 rkm->key ? buf_str(&key) : NULL,
		                 have_cust ? cust : NULL,
		                 m->ev.event_id,
		                 m->code,
		                 m->err,
		                 buf_str(&prefix),
		                 size };
	char err[512];
	int rc = db_exec(w->conn,
	                 "INSERT INTO dead_letters (consumer_group, topic, partition, \"offset\","
	                 " msg_key, customer_id, event_id, error_code, error, payload_prefix,"
	                 " payload_size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	                 " ON CONFLICT (consumer_group, topic, partition, \"offset\") DO UPDATE SET"
	                 " error_code = excluded.error_code, error = excluded.error,"
	                 " received_at = now()",
	                 11, params, NULL, err, sizeof(err));
	if (rc != DB_OK)
		log_warn("cannot write a dead letter error=\"%s\"", err);
	else
		log_warn("dead letter topic=%s partition=%d offset=%lld code=%s error=\"%s\"",
		         w->topic, (int)rkm->partition, (long long)rkm->offset, m->code, m->err);
	buf_free(&key);
	buf_free(&prefix);
	return rc;
}

/* consumer_offsets := last offset + 1 of each partition in the batch, with the fingerprint
 * of that last message (see lib/position). */
static int worker_store_offsets(struct worker *w)
{
	for (size_t p = 0; p < w->nparts; p++) {
		const rd_kafka_message_t *last = NULL;
		for (size_t i = 0; i < w->nbatch; i++)
			if ((size_t)w->batch[i].rkm->partition == p &&
			    (last == NULL || w->batch[i].rkm->offset > last->offset))
				last = w->batch[i].rkm;
		if (last == NULL)
			continue;
		rd_kafka_timestamp_type_t type;
		long long fp =
		    position_fingerprint(rd_kafka_message_timestamp(last, &type), last->key,
		                         last->key_len, last->payload, last->len);
		int rc = worker_store_offset(w, (int32_t)p, last->offset + 1, &fp);
		if (rc != DB_OK)
			return rc;
	}
	return DB_OK;
}

/*
 * The fence, inside the transaction: lock this group's stored offsets of the topic and skip
 * every message below them. A worker that was paused while its partitions moved still holds
 * messages the new owner has committed; the lock makes it wait for that commit and then see
 * it, so it applies nothing twice and never moves a stored offset backwards.
 */
static int worker_fence(struct worker *w)
{
	char err[512];
	PGresult *res = NULL;
	struct buf parts = BUF_INIT; /* the batch's partitions as an int[] literal: "{0,3}" */
	buf_putc(&parts, '{');
	for (size_t p = 0; p < w->nparts; p++)
		for (size_t i = 0; i < w->nbatch; i++)
			if ((size_t)w->batch[i].rkm->partition == p) {
				buf_appendf(&parts, "%s%zu", parts.len > 1 ? "," : "", p);
				break;
			}
	buf_putc(&parts, '}');
	const char *params[] = { w->group, w->topic, buf_str(&parts) };
	/* only this batch's partitions: other consumers' batches must not wait on ours */
	int rc = db_exec(w->conn,
	                 "SELECT partition, next_offset FROM consumer_offsets"
	                 " WHERE consumer_group = $1 AND topic = $2 AND partition = ANY($3::int[])"
	                 " FOR UPDATE",
	                 3, params, &res, err, sizeof(err));
	buf_free(&parts);
	if (rc != DB_OK) {
		log_warn("cannot lock stored offsets error=\"%s\"", err);
		return rc;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		long long part, next;
		if (!worker_offset_row(res, r, &part, &next))
			continue;
		for (size_t i = 0; i < w->nbatch; i++) {
			struct wmsg *m = &w->batch[i];
			if (m->rkm->partition == part && m->rkm->offset < next &&
			    m->status != WMSG_STALE) {
				m->status = WMSG_STALE;
				log_warn(
				    "fenced: offset already committed by another consumer topic=%s "
				    "partition=%d offset=%lld stored_next=%lld",
				    w->topic, (int)part, (long long)m->rkm->offset, next);
			}
		}
	}
	PQclear(res);
	return DB_OK;
}

/* Replay: the rows this transaction changed in the tenant tables (its own statistics). */
static int worker_replay_count(struct worker *w)
{
	char err[512];
	PGresult *res = NULL;
	int rc = db_exec(w->conn,
	                 "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)"
	                 " FROM pg_stat_xact_user_tables WHERE relname IN ('call_summaries',"
	                 " 'caller_profiles', 'personality_metrics', 'personality_averages',"
	                 " 'memories', 'caller_facts', 'call_chunks')",
	                 0, NULL, &res, err, sizeof(err));
	long long n = 0;
	if (rc == DB_OK && num_parse_int(PQgetvalue(res, 0, 0), 0, INT64_MAX, &n) == NUM_OK)
		w->rows_pending = (unsigned long long)n; /* counted once the batch is done */
	PQclear(res);
	return rc;
}

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
	if (rc == DB_OK && !w->replaying) /* a replay has no positions to fence */
		rc = worker_fence(w);
	if (rc == DB_OK)
		rc = worker_apply_all(w, isolate);
	for (size_t i = 0; i < w->nbatch && rc == DB_OK; i++)
		if (w->batch[i].status != EVENT_OK && w->batch[i].status != WMSG_STALE)
			rc = worker_dead_letter(w, &w->batch[i]);
	if (rc == DB_OK && !w->replaying)
		rc = worker_store_offsets(w);
	if (rc == DB_OK && w->replaying) {
		rc = worker_replay_count(w);
		if (rc == DB_OK && w->replay.dry_run) {
			db_rollback(w->conn);
			return PQstatus(w->conn) == CONNECTION_OK ? DB_OK : DB_CONN_LOST;
		}
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

/* After COMMIT: remember the new positions, advise Kafka (for lag tooling), count. */
static void worker_committed(struct worker *w, long long started_ms)
{
	rd_kafka_topic_partition_list_t *advice = rd_kafka_topic_partition_list_new(4);
	long long now_ms = backoff_now_ms();
	for (size_t i = 0; i < w->nbatch; i++) {
		const rd_kafka_message_t *rkm = w->batch[i].rkm;
		struct wpart *p = worker_part(w, rkm->partition);
		if (p->next >= 0 && rkm->offset + 1 > p->next) /* < 0: held since, re-read then */
			p->next = rkm->offset + 1;
		int st = w->batch[i].status;
		if (w->replaying) {
			if (st == EVENT_OK && w->batch[i].erased)
				w->rs.erased++;
			else if (st == EVENT_OK)
				w->rs.applied++;
			else if (st != WMSG_STALE)
				w->rs.dead_letters++;
		}
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
	w->rs.rows_changed += w->rows_pending;
	w->rows_pending = 0;
	for (size_t p = 0; p < w->nparts; p++)
		if (w->parts[p].next >= 0) {
			rd_kafka_topic_partition_list_add(advice, w->topic, (int32_t)p)->offset =
			    w->parts[p].next;
			if (w->health != NULL)
				worker_health_position(w->health, (int32_t)p, w->parts[p].next);
		}
	if (w->health != NULL)
		worker_health_batch_done(w->health);
	if (advice->cnt > 0 && !w->replaying)
		rd_kafka_commit(w->rk, advice, 1); /* advice only: the database is the truth */
	rd_kafka_topic_partition_list_destroy(advice);
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
static void worker_commit_batch(struct worker *w)
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
		if (w->replaying && (rc == DB_CONN_LOST || PQstatus(w->conn) != CONNECTION_OK)) {
			log_warn("database connection lost: the replay retries the batch");
			PQfinish(
			    w->conn); /* upserts: applying a committed batch again changes nothing */
			w->conn = NULL;
			sig_wait((int)backoff_next_ms(&w->bo));
			continue;
		}
		if (rc == DB_CONN_LOST || PQstatus(w->conn) != CONNECTION_OK) {
			log_warn("database connection lost: restarting from the stored offsets");
			worker_restart_from_stored(w);
			return;
		}
		sig_wait((int)backoff_next_ms(&w->bo)); /* capped, jittered; never advancing */
		if (sig_stop_requested() && w->nbatch > 0)
			log_warn("stop requested while retrying a batch: it stays uncommitted");
		if (sig_stop_requested())
			return;
	}
}

/* Replay: every partition of the topic, from from_ms (or the earliest) to the end offsets now
 * (or to_ms); assigned directly, no group. -1 when the broker cannot say. */
static int worker_replay_assign(struct worker *w)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(w->rk, w->topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(w->rk, 0, rkt, &md, 10000);
	rd_kafka_topic_destroy(rkt);
	if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
		log_error("replay: no partitions for topic=%s error=\"%s\"", w->topic,
		          e                    ? rd_kafka_err2str(e)
		          : md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
		                               : "no such topic");
		if (md)
			rd_kafka_metadata_destroy(md);
		return -1;
	}
	int nparts = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_partition_list_t *from = rd_kafka_topic_partition_list_new(nparts);
	rd_kafka_topic_partition_list_t *to = rd_kafka_topic_partition_list_new(nparts);
	for (int p = 0; p < nparts; p++) {
		rd_kafka_topic_partition_list_add(from, w->topic, p)->offset = w->replay.from_ms;
		rd_kafka_topic_partition_list_add(to, w->topic, p)->offset = w->replay.to_ms;
	}
	e = w->replay.from_ms >= 0 ? rd_kafka_offsets_for_times(w->rk, from, 10000) : 0;
	if (!e && w->replay.to_ms >= 0)
		e = rd_kafka_offsets_for_times(w->rk, to, 10000);
	long long total = 0;
	for (int p = 0; !e && p < nparts; p++) {
		int64_t lo, hi;
		e = rd_kafka_query_watermark_offsets(w->rk, w->topic, p, &lo, &hi, 10000);
		if (e)
			break;
		struct wpart *wp = worker_part(w, p);
		rd_kafka_topic_partition_t *f =
		    rd_kafka_topic_partition_list_find(from, w->topic, p);
		rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(to, w->topic, p);
		if (f == NULL || t == NULL || f->err ||
		    t->err) { /* never skip a partition silently */
			e = f == NULL || t == NULL ? RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION
			    : f->err               ? f->err
			                           : t->err;
			break;
		}
		long long start = w->replay.from_ms >= 0 ? f->offset : lo;
		long long end = hi;
		if (w->replay.to_ms >= 0 && t->offset >= 0 && t->offset < end)
			end = t->offset;
		if (start < 0 || start > end) /* no message at or after from_ms */
			start = end;
		if (start < lo) /* retention deleted the beginning of the range */
			start = lo < end ? lo : end;
		f->offset = start;
		*wp = (struct wpart){ .next = start, .end = end, .seen = start, .verify = -1 };
		total += end - start;
		log_info("replay partition=%d from_offset=%lld end_offset=%lld", p, start, end);
	}
	if (!e)
		e = rd_kafka_assign(w->rk, from);
	rd_kafka_topic_partition_list_destroy(from);
	rd_kafka_topic_partition_list_destroy(to);
	if (e) {
		log_error("replay: cannot resolve the range error=\"%s\"", rd_kafka_err2str(e));
		return -1;
	}
	log_info("replay range messages=%lld group=%s dry_run=%s", total, w->group,
	         w->replay.dry_run ? "true" : "false");
	return 0;
}

static bool worker_replay_done(const struct worker *w)
{
	for (size_t p = 0; p < w->nparts; p++)
		if (w->parts[p].end >= 0 && w->parts[p].seen < w->parts[p].end)
			return false;
	return true;
}

static int worker_run_replay(struct worker *w)
{
	long long started = backoff_now_ms(), last_log = started;
	if (worker_replay_assign(w) != 0)
		return -1;
	while (!sig_stop_requested() && !(worker_replay_done(w) && w->nbatch == 0)) {
		worker_fill(w);
		worker_commit_batch(w);
		if (backoff_now_ms() - last_log >= 5000) {
			last_log = backoff_now_ms();
			log_info("replay progress read=%llu applied=%llu dead_letters=%llu",
			         w->rs.read, w->rs.applied, w->rs.dead_letters);
		}
	}
	w->replay_complete = worker_replay_done(w) && w->nbatch == 0;
	worker_drop_batch(w);
	w->rs.seconds = (double)(backoff_now_ms() - started) / 1000.0;
	rd_kafka_assign(w->rk, NULL);
	if (!w->replay_complete)
		log_warn("replay stopped before the end of the range");
	return w->replay_complete ? 0 : 1;
}

void worker_replay_report(const struct worker *w, struct worker_replay_stats *out)
{
	*out = w->rs;
}

void worker_job_ended_at(const struct worker_job *job, char *out, size_t outlen)
{
	if (job->ev->call.ended_at != NULL) {
		snprintf(out, outlen, "%s", job->ev->call.ended_at);
		return;
	}
	rd_kafka_timestamp_type_t type;
	int64_t ms = rd_kafka_message_timestamp(job->rkm, &type);
	if (ms < 0)
		ms = 0;
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char day[32];
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", day, (int)(ms % 1000));
}

int worker_upsert_recount(PGconn *conn, long long tenant, json_t *rows, struct db_stmt *upsert,
                          struct db_stmt *locks, struct db_stmt *recount, worker_recounted_fn then,
                          char *err, size_t errlen)
{
	char t[24];
	snprintf(t, sizeof(t), "%lld", tenant);
	char *text = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	const char *params[] = { t, text };
	PGresult *res = NULL;
	int rc = db_exec_stmt(conn, upsert, params, &res, err, errlen);
	free(text);
	if (rc != DB_OK)
		return rc;
	json_t *users = json_array();
	for (int r = 0; r < PQntuples(res); r++)
		json_array_append_new(users, json_string(PQgetvalue(res, r, 0)));
	PQclear(res);
	if (json_array_size(users) > 0) {
		char *list = json_dumps(users, JSON_COMPACT);
		const char *uparams[] = { t, list };
		rc = db_exec_stmt(conn, locks, uparams, NULL, err, errlen);
		if (rc == DB_OK)
			rc = db_exec_stmt(conn, recount, uparams, NULL, err, errlen);
		if (rc == DB_OK && then != NULL)
			rc = then(conn, tenant, list, err, errlen);
		free(list);
	}
	json_decref(users);
	return rc;
}

/* GET /readyz, on an MHD thread: lib/worker_health's verdict (a stopped partition, no
 * assignment for longer than the session timeout, a stall while lagging). nstopped is atomic;
 * the health object has its own lock. */
static bool worker_ready(void *ctx, char *why, size_t whylen)
{
	struct worker *w = ctx;
	if (w == NULL || w->magic != WORKER_MAGIC)
		abort();
	return w->health == NULL ||
	       worker_health_ready(w->health, atomic_load(&w->nstopped), why, whylen);
}

int worker_serve(struct worker *w, const char *name, const char *http_bind, int http_port)
{
	struct http_server *srv = NULL;
	if (!w->replaying) { /* a replay runs beside the live worker: no port of its own */
		char err[256];
		const struct http_config hc = { .bind = http_bind,
			                        .port = http_port,
			                        .threads = 2,
			                        .conn_timeout_s = 30,
			                        .max_conns = 64,
			                        .max_body = 4096,
			                        .program = name };
		srv = http_server_start(&hc, NULL, 0, w, worker_ready, w->m, err, sizeof(err));
		if (srv == NULL)
			log_warn("no metrics endpoint: %s", err);
		else
			log_info("metrics port=%d", http_server_port(srv));
	}
	int rc = worker_run(w);
	http_server_stop(&srv, 1000);
	if (w->replaying && rc >= 0)
		worker_replay_print(w, stdout);
	return rc;
}

void worker_replay_print(const struct worker *w, FILE *out)
{
	const struct worker_replay_stats *r = &w->rs;
	fprintf(out,
	        "replay: group=%s topic=%s customer=%lld dry_run=%s complete=%s\n"
	        "replay: messages_read=%llu other_tenants_skipped=%llu applied=%llu"
	        " erased_dropped=%llu dead_letters=%llu rows_changed=%llu seconds=%.1f\n",
	        w->group, w->topic, w->replay.customer, w->replay.dry_run ? "true" : "false",
	        w->replay_complete ? "true" : "false", r->read, r->other_tenants, r->applied,
	        r->erased, r->dead_letters, r->rows_changed, r->seconds);
}

int worker_run(struct worker *w)
{
	if (w->replaying)
		return worker_run_replay(w);
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, w->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(w->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (e) {
		log_error("cannot subscribe topic=%s error=\"%s\"", w->topic, rd_kafka_err2str(e));
		return -1;
	}
	log_info("ready group=%s topic=%s", w->group, w->topic);
	notify_ready("consuming");             /* systemd Type=notify; sig_wait sends WATCHDOG=1 */
	worker_health_start(w->health, w->rk); /* watermarks asked for outside this loop */
	while (!sig_stop_requested()) {
		worker_settle(w); /* partitions held since the database did not answer, if any */
		worker_fill(w);
		worker_commit_batch(w);
	}
	notify_stopping();
	/* the batch in hand was committed above (or stays for the next owner) */
	worker_drop_batch(w);
	worker_health_stop(w->health); /* before the handle it asks through closes */
	log_info("leaving the group group=%s", w->group);
	rd_kafka_consumer_close(w->rk);
	return 0;
}

/* ---- set-up ------------------------------------------------------------------------- */

static rd_kafka_t *worker_consumer(struct worker *w, const struct cfg *cfg, char *err,
                                   size_t errlen)
{
	rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, errlen);
	if (conf == NULL)
		return NULL;
	/* ours win over kafka.*: exactly-once depends on them (DESIGN §5) */
	char group_id[256]; /* a replay never joins the live group */
	snprintf(group_id, sizeof(group_id), "%s%s", w->group, w->replaying ? "-replay" : "");
	if (kafka_conf_set(conf, "group.id", group_id, err, errlen) ||
	    kafka_conf_set(conf, "partition.assignment.strategy", "range", err, errlen) ||
	    kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) ||
	    kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
	    kafka_conf_set(conf, "enable.partition.eof", "false", err, errlen) ||
	    /* the live group never lets librdkafka move a position it lost (a truncated log, a
	     * broker that lost it): the error comes back through poll and the partition is
	     * checked again (worker_out_of_range); a replay resumes at the earliest kept */
	    kafka_conf_set(conf, "auto.offset.reset", w->replaying ? "earliest" : "error", err,
	                   errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	/* librdkafka prefetches up to 64 MiB by default, most of a worker's RSS while the database
	 * sets the pace; 16 MiB is still many batches ahead. kafka.* settings win. */
	bool prefetch_set = false;
	for (size_t i = 0; cfg != NULL && i < cfg_passthrough_count(cfg); i++) {
		const char *key, *value;
		cfg_passthrough_get(cfg, i, &key, &value);
		prefetch_set = prefetch_set || strcmp(key, "kafka.queued.max.messages.kbytes") == 0;
	}
	if (!prefetch_set &&
	    kafka_conf_set(conf, "queued.max.messages.kbytes", "16384", err, errlen) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	char session[32];
	size_t slen = sizeof(session);
	w->session_ms = 45000; /* librdkafka 2.0.2's default */
	if (rd_kafka_conf_get(conf, "session.timeout.ms", session, &slen) == RD_KAFKA_CONF_OK &&
	    num_parse_int(session, 1, INT32_MAX, &w->session_ms) != NUM_OK)
		w->session_ms = 45000;
	if (!w->replaying) /* a replay assigns its partitions itself */
		rd_kafka_conf_set_rebalance_cb(conf, worker_rebalance);
	rd_kafka_conf_set_opaque(conf, w);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf); /* only taken on success */
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

struct worker *worker_new(const struct worker_config *wc, const struct worker_ops *ops,
                          const struct cfg *cfg, struct metrics *m, char *err, size_t errlen)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	w->magic = WORKER_MAGIC;
	w->wc = *wc;
	w->group = xstrdup(wc->group);
	w->topic = xstrdup(wc->topic);
	w->db_url = xstrdup(wc->db_url);
	w->ops = *ops;
	w->m = m;
	const char *window = getenv("AIMEM_TEST_COMMIT_WINDOW_MS");
	if (window == NULL || num_parse_int(window, 0, 60000, &w->commit_window_ms) != NUM_OK)
		w->commit_window_ms = 0;
	w->replaying = wc->replay != NULL;
	if (w->replaying)
		w->replay = *wc->replay;
	w->wc.replay = NULL; /* borrowed: copied above */
	w->erased_stmt = (struct db_stmt){ "aimem_worker_erased",
		                           "SELECT user_id FROM erasures WHERE customer_id = $1"
		                           " AND user_id IN (SELECT jsonb_array_elements_text($2))",
		                           2, NULL, 0 };
	w->erase_lock_stmt =
	    (struct db_stmt){ "aimem_worker_erase_lock",
		              "SELECT count(pg_advisory_xact_lock_shared(" WORKER_ERASE_LOCK_KEY
		              "))"
		              " FROM (SELECT DISTINCT jsonb_array_elements_text($2) AS user_id) u",
		              2, NULL, 0 };
	backoff_init(&w->bo, wc->retry_base_ms, wc->retry_cap_ms);
	char labels[256];
	snprintf(labels, sizeof(labels), "group=\"%s\"", w->group);
	w->processed = metrics_counter(m, "aimem_worker_processed_total", "Events applied", labels);
	w->dead =
	    metrics_counter(m, "aimem_worker_dead_lettered_total", "Events dead-lettered", labels);
	w->skipped = metrics_counter(m, "aimem_worker_skipped_total",
	                             "Messages below the stored offset, skipped", labels);
	w->erased = metrics_counter(m, "aimem_worker_erased_dropped_total",
	                            "Events of erased callers, dropped", labels);
	w->retries = metrics_counter(m, "aimem_worker_batch_retries_total",
	                             "Batch transactions retried", labels);
	w->stopped_gauge = metrics_gauge(m, "aimem_worker_partitions_stopped",
	                                 "Partitions stopped: their stored offset does not belong"
	                                 " to the topic's log (see aimem offsets)",
	                                 labels);
	atomic_init(&w->nstopped, 0);
	w->batch_seconds =
	    metrics_histogram(m, "aimem_worker_batch_seconds", "Batch: first message to COMMIT",
	                      labels, metrics_latency_bounds, metrics_latency_nbounds);
	/* freshness spans a backlog drained after an outage: up to an hour */
	static const double fresh[] = { 0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,    10,
		                        30,   60,  120,  300, 600, 900, 1800, 3600 };
	w->freshness = metrics_histogram(m, "aimem_worker_freshness_seconds",
	                                 "Message timestamp to row committed", labels, fresh,
	                                 sizeof(fresh) / sizeof(fresh[0]));
	w->rk = worker_consumer(w, cfg, err, errlen);
	if (w->rk == NULL) {
		worker_free(&w);
		return NULL;
	}
	if (!w->replaying) {
		long long poll = wc->stall_ms / 4; /* several looks within one stall timeout */
		const struct worker_health_config hc = {
			.session_ms = w->session_ms,
			.stall_ms = wc->stall_ms,
			.poll_ms = poll <= 0 || poll > 5000 ? 5000
			           : poll < 250             ? 250
			                                    : poll,
		};
		w->health = worker_health_new(&hc, m, w->group, w->topic);
	}
	return w;
}

void worker_free(struct worker **wp)
{
	struct worker *w = *wp;
	if (w == NULL)
		return;
	worker_drop_batch(w);
	if (w->pending)
		rd_kafka_topic_partition_list_destroy(w->pending);
	worker_health_stop(w->health);
	if (w->rk)
		rd_kafka_destroy(w->rk);
	worker_health_free(&w->health); /* after the handle: nothing reports into it any more */
	PQfinish(w->conn);
	free(w->batch);
	free(w->parts);
	free(w->group);
	free(w->topic);
	free(w->db_url);
	w->magic = 0;
	free(w);
	*wp = NULL;
}

int worker_replay_args(int argc, char **argv, int argi, struct worker_replay *out, char *err,
                       size_t errlen)
{
	*out = (struct worker_replay){ -1, -1, 0, false };
	if (argi >= argc)
		return 0;
	if (strcmp(argv[argi], "replay") != 0) {
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[argi]);
		return -1;
	}
	bool have_from = false;
	for (int i = argi + 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--dry-run") == 0) {
			out->dry_run = true;
			continue;
		}
		if (v == NULL || (strcmp(a, "--from") != 0 && strcmp(a, "--to") != 0 &&
		                  strcmp(a, "--customer") != 0)) {
			snprintf(err, errlen, "replay: unknown or incomplete option \"%s\"", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--customer") == 0) {
			if (num_parse_int(v, 1, INT32_MAX, &out->customer) != NUM_OK) {
				snprintf(err, errlen,
				         "replay: --customer needs a tenant id (1..2147483647)");
				return -1;
			}
		} else if (strcmp(a, "--from") == 0 && strcmp(v, "earliest") == 0) {
			have_from = true;
		} else if (event_parse_time(v, strcmp(a, "--from") == 0 ? &out->from_ms
		                                                        : &out->to_ms) != 0) {
			snprintf(err, errlen,
			         "replay: %s needs an RFC 3339 time (2026-11-20T15:04:05Z)%s", a,
			         strcmp(a, "--from") == 0 ? " or earliest" : "");
			return -1;
		} else {
			have_from = have_from || strcmp(a, "--from") == 0;
		}
	}
	if (!have_from) {
		snprintf(err, errlen, "replay: --from <RFC 3339|earliest> is required");
		return -1;
	}
	if (out->to_ms >= 0 && out->from_ms >= 0 && out->to_ms <= out->from_ms) {
		snprintf(err, errlen, "replay: --to must be after --from");
		return -1;
	}
	return 1;
}

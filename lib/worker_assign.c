/*
 * worker_assign: the live group's partitions on the broker's side (issue 17, DESIGN §5). An
 * assigned partition is held paused until its stored position (worker_offsets.c) has been
 * checked against the broker's log: the watermarks, then the fingerprint of the message at
 * next - 1 (lib/position). A position that cannot belong to the log stops the partition until
 * an operator acts; one below the log start resumes at the log start. A replay assigns its
 * partitions itself (worker_replay.c) and uses none of this.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backoff.h"
#include "db.h"
#include "log.h"
#include "position.h"
#include "sig.h"
#include "worker_health.h"
#include "worker_int.h"
#include "xalloc.h"

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
void worker_settle(struct worker *w)
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
void worker_out_of_range(struct worker *w, const rd_kafka_message_t *rkm)
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
void worker_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
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
void worker_restart_from_stored(struct worker *w)
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

/* The live mode's look at a message before it is decoded: the first one at or past a
 * partition's verify offset is checked against the stored fingerprint. */
bool worker_admit_live(struct worker *w, struct wpart *p, rd_kafka_message_t *rkm)
{
	return p->verify < 0 || rkm->offset < p->verify || worker_verify(w, p, rkm);
}

/*
 * worker_offsets: the live group's positions in PostgreSQL (consumer_offsets, migration 005):
 * loading them for an assignment, storing them with the batch, and the fence that locks them
 * inside the batch's transaction. The broker's side of a position (watermarks, fingerprints,
 * seeks) is worker_assign.c's. A replay never reads or writes these rows.
 */
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "num.h"
#include "position.h"
#include "worker_int.h"

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
	static const char sql[] =
	    "INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset,"
	    " last_fingerprint) VALUES ($1, $2, $3, $4, $5)"
	    " ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET"
	    " last_fingerprint = CASE"
	    " WHEN excluded.next_offset > consumer_offsets.next_offset"
	    " THEN excluded.last_fingerprint"
	    " WHEN excluded.next_offset = consumer_offsets.next_offset"
	    " THEN coalesce(excluded.last_fingerprint, consumer_offsets.last_fingerprint)"
	    " ELSE consumer_offsets.last_fingerprint END,"
	    " next_offset = greatest(consumer_offsets.next_offset, excluded.next_offset),"
	    " updated_at = now()";
	const char *params[] = { w->group, w->topic, part, off, fp != NULL ? fptext : NULL };
	int rc = db_exec(w->conn, sql, 5, params, NULL, err, sizeof(err));
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
	static const char sql[] = "SELECT partition, next_offset, last_fingerprint"
	                          " FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2";
	const char *params[] = { w->group, w->topic };
	int rc = db_exec(w->conn, sql, 2, params, &res, err, sizeof(err));
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

/* One attempt (connecting for up to timeout_ms) at reading parts' stored offsets into their
 * offset fields and positions. */
int worker_try_offsets(struct worker *w, rd_kafka_topic_partition_list_t *parts,
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

/* consumer_offsets := last offset + 1 of each partition in the batch, with the fingerprint
 * of that last message (see lib/position). */
int worker_store_offsets(struct worker *w)
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
int worker_fence(struct worker *w)
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
	/* only this batch's partitions: other consumers' batches must not wait on ours */
	static const char sql[] = "SELECT partition, next_offset FROM consumer_offsets"
	                          " WHERE consumer_group = $1 AND topic = $2"
	                          " AND partition = ANY($3::int[]) FOR UPDATE";
	const char *params[] = { w->group, w->topic, buf_str(&parts) };
	int rc = db_exec(w->conn, sql, 3, params, &res, err, sizeof(err));
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

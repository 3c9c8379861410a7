/*
 * requeue: dead letters back onto their topic (see requeue.h). Single-threaded; one reader and
 * one producer for the run, one transaction per message.
 */
#include "requeue.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "event.h"
#include "log.h"
#include "num.h"
#include "topic.h"
#include "xalloc.h"

/* The messages the filters select, once each, oldest dead letter first. */
static const char rq_messages_sql[] =
    "SELECT topic, partition, \"offset\" FROM dead_letters" DEAD_LETTERS_WHERE
    " GROUP BY topic, partition, \"offset\" ORDER BY min(received_at), 1, 2, 3 LIMIT $10";

/* Every group's row of one message, locked until this message's COMMIT. */
static const char rq_lock_sql[] =
    "SELECT msg_key, payload_size, payload_prefix, event_id FROM dead_letters"
    " WHERE topic = $1 AND partition = $2::int AND \"offset\" = $3::bigint"
    " AND ($4::bool OR requeued_at IS NULL) ORDER BY consumer_group FOR UPDATE";

static const char rq_mark_sql[] =
    "UPDATE dead_letters SET requeued_at = now(), requeued_event_id = $5, requeued_to = $6"
    " WHERE topic = $1 AND partition = $2::int AND \"offset\" = $3::bigint"
    " AND ($4::bool OR requeued_at IS NULL)";

struct rq_run {
	PGconn *conn;
	const struct dead_letters_opts *o;
	rd_kafka_t *reader, *producer; /* producer NULL on a dry run */
	long long requeued, refused, skipped;
};

/* One message being requeued: where it was, what the dead letter kept, what was read back. */
struct rq_msg {
	const char *topic;
	const char *part, *off; /* text, borrowed from the candidates' result */
	int partition;
	long long offset;
	char where[200];
	struct buf stored;       /* the payload prefix's bytes */
	long long size;          /* the payload's size when it was dead-lettered */
	char *stored_key;        /* owned; NULL when the message had none */
	rd_kafka_message_t *rkm; /* read back from the topic, or NULL */
	char reason[600];        /* why it is refused */
};

static void rq_unhex(const char *hex, struct buf *out)
{
	size_t n = strlen(hex);
	for (size_t i = 2; hex[0] == '\\' && hex[1] == 'x' && i + 1 < n; i += 2) {
		char pair[3] = { hex[i], hex[i + 1], 0 };
		buf_putc(out, (char)strtol(pair, NULL, 16));
	}
}

/* The payload to requeue (*payload, *len, *key borrowed from m), or -1 with m->reason. */
static int rq_payload(struct rq_run *q, struct rq_msg *m, const char **payload, size_t *len,
                      const char **key, size_t *key_len)
{
	long long low = 0, high = 0;
	char err[300];
	int rc = topic_read_at(q->reader, m->topic, m->partition, m->offset, q->o->timeout_ms,
	                       &m->rkm, &low, &high, err, sizeof(err));
	if (rc == 1) {
		size_t cmp = m->stored.len < m->rkm->len ? m->stored.len : m->rkm->len;
		if ((long long)m->rkm->len != m->size ||
		    (cmp > 0 && memcmp(m->rkm->payload, m->stored.data, cmp) != 0)) {
			snprintf(m->reason, sizeof(m->reason),
			         "the message now at that offset is not the one dead-lettered (%zu "
			         "bytes, the dead letter says %lld): was the topic recreated?",
			         m->rkm->len, m->size);
			return -1;
		}
		*payload = m->rkm->payload, *len = m->rkm->len;
		*key = m->rkm->key, *key_len = m->rkm->key ? m->rkm->key_len : 0;
		return 0;
	}
	if ((long long)m->stored.len == m->size) { /* the dead letter holds all of it */
		*payload = buf_str(&m->stored), *len = m->stored.len;
		*key = m->stored_key, *key_len = m->stored_key ? strlen(m->stored_key) : 0;
		return 0;
	}
	if (rc == 0)
		snprintf(m->reason, sizeof(m->reason),
		         "the message is no longer on the topic (it holds offsets %lld..%lld: "
		         "retention) and the dead letter keeps only %zu of its %lld bytes",
		         low, high - 1, m->stored.len, m->size);
	else
		snprintf(m->reason, sizeof(m->reason),
		         "cannot read it back (%s) and the dead letter keeps only %zu of its %lld "
		         "bytes",
		         err, m->stored.len, m->size);
	return -1;
}

/* The payload with a new event id, validated as an event for key: the owned text, or NULL
 * with m->reason. old_id receives the original event id ("" when it had none). */
static char *rq_rewrite(struct rq_msg *m, const char *payload, size_t len, const char *key,
                        size_t key_len, char new_id[37], char *old_id, size_t old_len,
                        enum event_type *type)
{
	json_error_t je;
	json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root)) {
		snprintf(m->reason, sizeof(m->reason),
		         "cannot be parsed back into an event: not a JSON object (%s)",
		         root ? "another JSON value" : je.text);
		json_decref(root);
		return NULL;
	}
	const char *old = json_string_value(json_object_get(root, "event_id"));
	snprintf(old_id, old_len, "%s", old ? old : "");
	event_new_uuid(new_id);
	json_object_set_new(root, "event_id", json_string(new_id)); /* steals the new string */
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	struct event ev;
	char err[400];
	int rc = text ? event_decode(text, strlen(text), key ? key : "", key_len, NULL, &ev, err,
	                             sizeof(err))
	              : EVENT_BAD_JSON;
	if (rc != EVENT_OK) {
		snprintf(m->reason, sizeof(m->reason),
		         "cannot be parsed back into an event: %s: %s", event_status_code(rc),
		         text ? err : "cannot serialise");
		free(text);
		return NULL;
	}
	*type = ev.type;
	event_release(&ev);
	return text;
}

static int rq_publish(struct rq_run *q, struct rq_msg *m, const char *text, const char *key,
                      size_t key_len, const char *old_id, enum event_type type, char *to,
                      size_t tolen)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(3);
	rd_kafka_header_add(h, "aimem-type", -1, event_type_name(type), -1);
	rd_kafka_header_add(h, "aimem-requeued-from", -1, m->where, -1);
	if (*old_id)
		rd_kafka_header_add(h, "aimem-original-event-id", -1, old_id, -1);
	int partition;
	long long offset;
	char err[300];
	if (topic_produce(q->producer, m->topic, key, key_len, text, strlen(text), h, &partition,
	                  &offset, err, sizeof(err)) != 0) {
		snprintf(m->reason, sizeof(m->reason), "not published: %s", err);
		return -1;
	}
	snprintf(to, tolen, "%s/%d/%lld", m->topic, partition, offset);
	return 0;
}

/* Loads the locked rows into m: 1 when there are some, 0 none (requeued meanwhile), -1. */
static int rq_lock(struct rq_run *q, struct rq_msg *m, char *err, size_t errlen)
{
	const char *params[] = { m->topic, m->part, m->off, q->o->again ? "true" : "false" };
	PGresult *res = NULL;
	if (db_exec(q->conn, rq_lock_sql, 4, params, &res, err, errlen) != DB_OK)
		return -1;
	int n = PQntuples(res);
	if (n > 0) {
		if (!PQgetisnull(res, 0, 0))
			m->stored_key = xstrdup(PQgetvalue(res, 0, 0));
		if (num_parse_int(PQgetvalue(res, 0, 1), 0, INT64_MAX, &m->size) != NUM_OK)
			m->size = -1;
		rq_unhex(PQgetvalue(res, 0, 2), &m->stored);
	}
	PQclear(res);
	return n > 0;
}

/* One message: 0 requeued (or would be), 1 skipped, 2 refused, -1 database error. */
static int rq_one(struct rq_run *q, struct rq_msg *m, char *err, size_t errlen)
{
	if (db_begin(q->conn, err, errlen) != DB_OK)
		return -1;
	int rc = rq_lock(q, m, err, errlen);
	if (rc <= 0) {
		db_rollback(q->conn);
		return rc < 0 ? -1 : 1;
	}
	const char *payload, *key;
	size_t len, key_len;
	char new_id[37], old_id[80], to[300] = "";
	enum event_type type;
	char *text = NULL;
	if (rq_payload(q, m, &payload, &len, &key, &key_len) != 0 ||
	    (text = rq_rewrite(m, payload, len, key, key_len, new_id, old_id, sizeof(old_id),
	                       &type)) == NULL ||
	    (q->producer && rq_publish(q, m, text, key, key_len, old_id, type, to, sizeof(to)))) {
		free(text);
		db_rollback(q->conn);
		return 2;
	}
	free(text);
	if (q->producer == NULL) { /* dry run */
		db_rollback(q->conn);
		fprintf(q->o->out, "would requeue %s event_id=%s\n", m->where,
		        *old_id ? old_id : "-");
		return 0;
	}
	const char *params[] = { m->topic, m->part, m->off, q->o->again ? "true" : "false",
		                 new_id,   to };
	if (db_exec(q->conn, rq_mark_sql, 6, params, NULL, err, errlen) != DB_OK ||
	    db_commit(q->conn, err, errlen) != DB_OK) {
		db_rollback(q->conn);
		snprintf(m->reason, sizeof(m->reason),
		         "published as %s event_id=%s but not recorded: %s (a second requeue "
		         "publishes another copy)",
		         to, new_id, err);
		return 2;
	}
	fprintf(q->o->out, "requeued %s event_id=%s -> %s event_id=%s\n", m->where,
	        *old_id ? old_id : "-", to, new_id);
	log_info("dead letter requeued from=%s to=%s old_event_id=%s event_id=%s", m->where, to,
	         *old_id ? old_id : "-", new_id);
	return 0;
}

static int rq_each(struct rq_run *q, PGresult *cand, char *err, size_t errlen)
{
	for (int r = 0; r < PQntuples(cand); r++) {
		struct rq_msg m = { .topic = PQgetvalue(cand, r, 0),
			            .part = PQgetvalue(cand, r, 1),
			            .off = PQgetvalue(cand, r, 2),
			            .stored = BUF_INIT };
		long long p = 0;
		if (num_parse_int(m.part, 0, INT32_MAX, &p) != NUM_OK ||
		    num_parse_int(m.off, 0, INT64_MAX, &m.offset) != NUM_OK)
			continue;
		m.partition = (int)p;
		snprintf(m.where, sizeof(m.where), "%s/%d/%lld", m.topic, m.partition, m.offset);
		int rc = rq_one(q, &m, err, errlen);
		if (rc == 2) {
			q->refused++;
			fprintf(stderr,
			        "aimem dead-letters requeue: %s: %s; it stays a dead letter\n",
			        m.where, m.reason);
		}
		q->requeued += rc == 0;
		q->skipped += rc == 1;
		if (m.rkm != NULL)
			rd_kafka_message_destroy(m.rkm);
		free(m.stored_key);
		buf_free(&m.stored);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int requeue_run(PGconn *conn, const struct cfg *cfg, const struct dead_letters_opts *o, char *err,
                size_t errlen)
{
	struct rq_run q = { .conn = conn, .o = o };
	struct dead_letters_filter f;
	dead_letters_filter(o, o->again, &f);
	char limit[24];
	snprintf(limit, sizeof(limit), "%lld", o->limit);
	const char *params[10];
	memcpy(params, f.v, sizeof(f.v));
	params[9] = limit;
	PGresult *cand = NULL;
	if (db_exec(conn, rq_messages_sql, 10, params, &cand, err, errlen) != DB_OK)
		return -1;
	int rc = -1;
	q.reader = topic_reader_new(cfg, "aimem-requeue", true, err, errlen);
	if (q.reader != NULL && !o->dry_run)
		q.producer = topic_producer_new(cfg, o->timeout_ms, err, errlen);
	if (q.reader != NULL && (o->dry_run || q.producer != NULL))
		rc = rq_each(&q, cand, err, errlen);
	PQclear(cand);
	if (q.producer != NULL)
		rd_kafka_destroy(q.producer);
	if (q.reader != NULL) {
		rd_kafka_consumer_close(q.reader);
		rd_kafka_destroy(q.reader);
	}
	if (rc < 0)
		return -1;
	fprintf(o->out, "requeue: %lld %s, %lld refused, %lld already requeued%s\n", q.requeued,
	        o->dry_run ? "would be requeued" : "requeued", q.refused, q.skipped,
	        o->dry_run ? " (dry run: nothing changed)" : "");
	return q.refused > 0 ? 1 : 0;
}

/*
 * context: the stored caller context, rewritten by the workers (see context.h).
 */
#include "context.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "context_sql.h"
#include "context_text.h"
#include "db.h"
#include "log.h"
#include "text.h"
#include "recount.h"

/* The namespace of the callers' context locks, taken before the derivation (see context.h and
 * recount_lock_callers). */
static const char context_lock_ns[] = "context";

/*
 * Per caller of $1 (a JSON array of user ids): the document with an empty "summaries" (head),
 * its newest CONTEXT_SUMMARIES_MAX summaries as a JSON array of their objects' text (sums;
 * NULL for none), whether there is anything at all (keep), and the newest event time of all
 * its summaries (event_at, migration 012; NULL when none is known). The same parts and objects
 * as the per-read derivation CONTEXT_SQL_DOC.
 */
#define CONTEXT_HEAD CONTEXT_SQL_OBJECT("u.user_id", "'[]'::json")
#define CONTEXT_SUMS                                                                               \
	"(SELECT json_agg(" CONTEXT_SQL_SUMMARY("s") "::text ORDER BY s.call_ended_at DESC, "      \
	                                             "s.call_id DESC) FROM s)"
#define CONTEXT_KEEP                                                                               \
	"EXISTS (SELECT 1 FROM p) OR EXISTS (SELECT 1 FROM a) OR EXISTS (SELECT 1 FROM f) OR "     \
	"EXISTS (SELECT 1 FROM s)"
static struct db_stmt context_derive_stmt = {
	.name = "aimem_context_derive",
	.sql =
	    "SELECT u.user_id, d.head, d.sums, d.keep, (SELECT max(x.event_at) FROM call_summaries x"
	    " WHERE x.user_id = u.user_id) AS event_at"
	    " FROM (SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS user_id) u"
	    " CROSS JOIN LATERAL (WITH " CONTEXT_SQL_PARTS("u.user_id", CONTEXT_SUMMARIES_MAX_TEXT)
	/* */ " SELECT " CONTEXT_HEAD "::text AS head, " CONTEXT_SUMS
	      "::text AS sums, " CONTEXT_KEEP
	      /* */ " AS keep) d",
	.nparams = 1
};

/* The rows context_build made ($2, a JSON array): written where the ETag or the event time
 * changed, deleted where there is nothing to keep. */
static const char context_write_sql[] =
    "WITH src AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(user_id text, keep boolean,"
    " doc_head text, doc_sums text[], text_head text, text_sums text[],"
    " has_personality boolean, etag text, event_at timestamptz)),"
    " gone AS (DELETE FROM caller_context c USING src WHERE c.customer_id = $1::int"
    " AND c.user_id = src.user_id AND NOT src.keep RETURNING 1)"
    " INSERT INTO caller_context AS c (customer_id, user_id, doc_head, doc_sums, text_head,"
    " text_sums, has_personality, etag, event_at)"
    " SELECT $1::int, user_id, doc_head, doc_sums, text_head, text_sums, has_personality, etag,"
    " event_at FROM src WHERE keep"
    " ON CONFLICT (customer_id, user_id) DO UPDATE SET doc_head = excluded.doc_head,"
    " doc_sums = excluded.doc_sums, text_head = excluded.text_head,"
    " text_sums = excluded.text_sums, has_personality = excluded.has_personality,"
    " etag = excluded.etag, event_at = excluded.event_at, updated_at = now()"
    " WHERE c.etag IS DISTINCT FROM excluded.etag OR c.event_at IS DISTINCT FROM excluded.event_at";
static struct db_stmt context_write_stmt = { .name = "aimem_context_write",
	                                     .sql = context_write_sql,
	                                     .nparams = 2 };

/* s[0..len) as the inside of a JSON string (escaped, without the quotes) appended to out. */
static void context_escape(const char *s, size_t len, struct buf *out)
{
	json_t *j = json_stringn(s, len);
	char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	if (text == NULL) /* invalid UTF-8 cannot come from PostgreSQL's text */
		abort();
	size_t n = strlen(text);
	buf_append(out, text + 1, n - 2);
	free(text);
	json_decref(j);
}

static json_t *context_escaped(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	context_escape(s, len, &b);
	json_t *j = json_stringn(b.data ? b.data : "", b.len);
	buf_free(&b);
	return j;
}

/* The pieces' text side: text_head, text_sums (escaped) and has_personality into row; the
 * unescaped whole text appended to whole (for the ETag). */
static void context_text_pieces(const json_t *doc, json_t *row, struct buf *whole)
{
	struct buf piece = BUF_INIT;
	struct context_text_info info;
	context_text_head(doc, &piece, &info);
	buf_append(whole, piece.data, piece.len);
	json_object_set_new(row, "text_head", context_escaped(buf_str(&piece), piece.len));
	json_t *texts = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(doc, "summaries"), i, s)
	{
		buf_reset(&piece);
		context_text_summary_block(s, (int)i + 1, &piece);
		buf_append(whole, piece.data, piece.len);
		json_array_append_new(texts, context_escaped(buf_str(&piece), piece.len));
	}
	json_object_set_new(row, "text_sums", texts);
	json_object_set_new(row, "has_personality", json_boolean(info.has_personality));
	buf_free(&piece);
}

/* One caller's row for the write from the derivation's columns (head, sums borrowed). */
static json_t *context_build(const char *user, const char *head, size_t head_len, const char *sums)
{
	json_t *row = json_object();
	json_object_set_new(row, "user_id", json_string(user));
	json_object_set_new(row, "keep", json_true());
	/* head ends with the empty summaries array and the object's end: "[]}" */
	if (head_len < 3 || memcmp(head + head_len - 3, "[]}", 3) != 0)
		abort(); /* broken invariant: CONTEXT_SQL_OBJECT puts "summaries" last */
	struct buf doc = BUF_INIT, whole = BUF_INIT;
	buf_append(&doc, head, head_len - 3);
	json_object_set_new(row, "doc_head", json_stringn(head, head_len - 3));
	json_t *parts = sums ? json_loads(sums, 0, NULL) : json_array();
	json_t *doc_sums = json_array();
	buf_putc(&doc, '[');
	size_t i;
	json_t *s;
	json_array_foreach(parts, i, s)
	{
		struct buf one = BUF_INIT;
		if (i > 0)
			buf_append_str(&one, ", "); /* json_agg's separator */
		buf_append(&one, json_string_value(s), json_string_length(s));
		buf_append(&doc, one.data, one.len);
		json_array_append_new(doc_sums, json_stringn(one.data, one.len));
		buf_free(&one);
	}
	buf_append_str(&doc, "]}");
	json_decref(parts);
	json_object_set_new(row, "doc_sums", doc_sums);
	json_t *parsed = json_loadb(doc.data, doc.len, 0, NULL);
	if (parsed == NULL)
		abort(); /* PostgreSQL's json_build_object output is JSON */
	buf_append(&whole, doc.data, doc.len);
	buf_putc(&whole, '\0');
	context_text_pieces(parsed, row, &whole);
	json_decref(parsed);
	char etag[17];
	snprintf(etag, sizeof(etag), "%016llx",
	         (unsigned long long)text_fnv(14695981039346656037ULL, whole.data, whole.len));
	json_object_set_new(row, "etag", json_string(etag));
	buf_free(&doc);
	buf_free(&whole);
	return row;
}

int context_refresh(PGconn *conn, long long tenant, const char *users, char *err, size_t errlen)
{
	char t[24];
	snprintf(t, sizeof(t), "%lld", tenant);
	const char *params[] = { users };
	int rc = recount_lock_callers(conn, tenant, users, context_lock_ns, err, errlen);
	PGresult *res = NULL;
	if (rc == DB_OK)
		rc = db_exec_stmt(conn, &context_derive_stmt, params, &res, err, errlen);
	if (rc != DB_OK)
		return rc;
	json_t *rows = json_array();
	for (int r = 0; r < PQntuples(res); r++) {
		const char *user = PQgetvalue(res, r, 0);
		if (strcmp(PQgetvalue(res, r, 3), "t") != 0) {
			json_array_append_new(rows,
			                      json_pack("{s:s, s:b}", "user_id", user, "keep", 0));
			continue;
		}
		json_t *row =
		    context_build(user, PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1),
		                  PQgetisnull(res, r, 2) ? NULL : PQgetvalue(res, r, 2));
		json_object_set_new(row, "event_at",
		                    PQgetisnull(res, r, 4) ? json_null()
		                                           : json_string(PQgetvalue(res, r, 4)));
		json_array_append_new(rows, row);
	}
	PQclear(res);
	char *text = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	const char *wparams[] = { t, text };
	rc = db_exec_stmt(conn, &context_write_stmt, wparams, NULL, err, errlen);
	free(text);
	return rc;
}

/* The next chunk of the tenant's callers after $1 ("" first), as a JSON array text. */
static const char context_callers_sql[] =
    "SELECT coalesce(json_agg(user_id ORDER BY user_id), '[]')::text, max(user_id) FROM"
    " (SELECT user_id FROM (SELECT user_id FROM caller_profiles UNION SELECT user_id FROM"
    " personality_averages UNION SELECT user_id FROM caller_facts UNION SELECT user_id FROM"
    " call_summaries UNION SELECT user_id FROM caller_context) x WHERE user_id > $1"
    " ORDER BY user_id LIMIT 500) c";

int context_rebuild(PGconn *conn, long long tenant, long long *callers, char *err, size_t errlen)
{
	char after[512] = "";
	*callers = 0;
	for (;;) {
		int rc = db_begin_tenant(conn, tenant, err, errlen);
		PGresult *res = NULL;
		const char *params[] = { after };
		if (rc == DB_OK)
			rc = db_exec(conn, context_callers_sql, 1, params, &res, err, errlen);
		if (rc == DB_OK && PQgetisnull(res, 0, 1)) { /* no callers left */
			PQclear(res);
			return db_commit(conn, err, errlen);
		}
		if (rc == DB_OK) {
			snprintf(after, sizeof(after), "%s", PQgetvalue(res, 0, 1));
			json_t *list = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
			*callers += (long long)json_array_size(list);
			json_decref(list);
			rc = context_refresh(conn, tenant, PQgetvalue(res, 0, 0), err, errlen);
		}
		PQclear(res);
		if (rc == DB_OK)
			rc = db_commit(conn, err, errlen);
		if (rc != DB_OK) {
			db_rollback(conn);
			return rc;
		}
	}
}

/*
 * native: the /v3 read routes (DESIGN §6). Each runs one statement that returns the JSON
 * document (or its rows) built by PostgreSQL, which is sent as it is: no parse and
 * re-serialise on the hot path. Tenant isolation is row-level security: no statement names
 * a tenant; qdb sets it from the token inside the transaction.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "context.h"
#include "context_text.h"
#include "event.h"
#include "log.h"
#include "num.h"
#include "query_cursor.h"
#include "query_sql.h"
#include "search_pool.h"
#include "text.h"

static const char *native_json_escape(const char *s, struct buf *out)
{
	json_t *j = json_string(s);
	char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	buf_append_str(out, text ? text : "null");
	free(text);
	json_decref(j);
	return buf_str(out);
}

/*
 * The summary-first context, as the workers stored it (calls/context.h, caller_context): one
 * primary-key lookup, the newest $2 summaries cut from the stored pieces in SQL, nothing
 * derived or re-rendered here. Columns: the stored ETag (NULL for a caller with no row), the
 * document, and with format=text the compat text JSON-escaped. A caller with no row gets the
 * document the derivation gives for nobody (known false), built in the same statement.
 */
const struct qdb_stmt query_stmt_context = { .name = "q_context",
	                                     .sql = QUERY_SQL_CONTEXT_READ(""),
	                                     .nparams = 2 };
#define NATIVE_SQL_TEXT ", c.text_head || array_to_string(c.text_sums[1:$2::int], '')"
/* Read-your-writes: whether the stored context is as new as asked, and whether this node is a
 * hot standby. $3, min_event_time in Unix milliseconds (NULL: not asked): the row has applied
 * an event that new (caller_context.event_at, migration 012). $4, after_call (NULL: not
 * asked): the caller has that call's summary, which the summarizer writes in the transaction
 * that rewrites the row, so the row has it too. */
/* clang-format off */
#define NATIVE_SQL_FRESH \
	", ($3::bigint IS NULL OR coalesce(c.event_at >= timestamptz 'epoch' + " \
	"$3::bigint * interval '1 millisecond', false)) AND ($4::text IS NULL OR EXISTS " \
	"(SELECT 1 FROM call_summaries s WHERE s.call_id = $4::text AND s.user_id = $1)), " \
	"pg_is_in_recovery()"
/* clang-format on */
static const struct qdb_stmt native_stmt_context_text = {
	.name = "q_context_text", .sql = QUERY_SQL_CONTEXT_READ(NATIVE_SQL_TEXT), .nparams = 2
};
static const struct qdb_stmt native_stmt_context_at = {
	.name = "q_context_at", .sql = QUERY_SQL_CONTEXT_READ(NATIVE_SQL_FRESH), .nparams = 4
};
static const struct qdb_stmt native_stmt_context_text_at = { .name = "q_context_text_at",
	                                                     .sql = QUERY_SQL_CONTEXT_READ(
	                                                         NATIVE_SQL_TEXT NATIVE_SQL_FRESH),
	                                                     .nparams = 4 };

/* The ETag of one answer: the stored context's, mixed with what the request cut from it. */
static void native_context_etag(const char *stored, const char *user_id, long long n, bool text,
                                char tag[24])
{
	char variant[48];
	int len = snprintf(variant, sizeof(variant), "%s/%lld/%c", stored, n, text ? 't' : 'j');
	uint64_t h = text_fnv(14695981039346656037ULL, variant, (size_t)len);
	if (stored[0] == '\0') /* no row: the answer depends only on the caller id */
		h = text_fnv(h, user_id, strlen(user_id));
	snprintf(tag, 24, "\"%016llx\"", (unsigned long long)h);
}

/*
 * Read-your-writes (min_event_time, after_call): res came from the node api->db reached, with
 * the two NATIVE_SQL_FRESH columns last. A standby whose copy of the caller's context is not as
 * new as asked hands the read to the primary (api->primary); a primary's answer stands. Says
 * which in Aimem-Context-Fresh (true: the context is as new as asked) and
 * aimem_query_context_min_time_total{node,fresh}. The primary
 * unreachable: the standby's answer, not fresh. Returns the result to serve (res, or the
 * primary's in its place).
 */
static PGresult *native_fresh(struct http_exchange *ex, const struct query_api *api,
                              long long tenant, const struct qdb_stmt *st,
                              const char *const *params, PGresult *res)
{
	int cols = PQnfields(res);
	bool fresh = strcmp(PQgetvalue(res, 0, cols - 2), "t") == 0;
	bool standby = strcmp(PQgetvalue(res, 0, cols - 1), "t") == 0;
	if (!fresh && standby && api->primary != NULL) {
		PGresult *p = NULL;
		char err[512];
		int rc = qdb_query(api->primary, tenant, st, params, &p, err, sizeof(err));
		if (rc == QDB_OK) {
			PQclear(res);
			res = p;
			fresh = strcmp(PQgetvalue(res, 0, cols - 2), "t") == 0;
			standby = strcmp(PQgetvalue(res, 0, cols - 1), "t") == 0;
		} else {
			log_debug(
			    "read-your-writes: the primary did not answer, serving the standby's "
			    "context error=\"%s\"",
			    err);
		}
	}
	http_add_header(ex, "Aimem-Context-Fresh", fresh ? "true" : "false");
	if (api->m != NULL) {
		char labels[64];
		snprintf(labels, sizeof(labels), "node=\"%s\",fresh=\"%s\"",
		         standby ? "standby" : "primary", fresh ? "true" : "false");
		metrics_counter_add(
		    metrics_counter(
		        api->m, "aimem_query_context_min_time_total",
		        "Context reads that asked for min_event_time or after_call, by the "
		        "node that served them and whether its context was as new.",
		        labels),
		    1);
	}
	return res;
}

static bool native_call_id(const char *id);

static enum http_outcome route_context(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long n;
	if (!api_auth(ex, api, &c) || !api_user_id(ex, http_param(ex, 0)) ||
	    !api_int_arg(ex, "summaries", 5, 0, CONTEXT_SUMMARIES_MAX, &n))
		return HTTP_DONE;
	const char *format = http_query(ex, "format");
	if (format != NULL && strcmp(format, "json") != 0 && strcmp(format, "text") != 0) {
		http_reply_error(ex, 400, "bad_value", "format: json or text");
		return HTTP_DONE;
	}
	bool text = format != NULL && strcmp(format, "text") == 0;
	const char *min_time = http_query(ex, "min_event_time");
	long long min_ms = 0;
	if (min_time != NULL && event_parse_time(min_time, &min_ms) != 0) {
		http_reply_error(ex, 400, "bad_value",
		                 "min_event_time: an RFC 3339 date-time like 2026-11-20T15:04:05Z");
		return HTTP_DONE;
	}
	const char *after_call = http_query(ex, "after_call");
	if (after_call != NULL && !native_call_id(after_call)) {
		http_reply_error(ex, 400, "bad_value",
		                 "after_call: a call id, 1-128 of A-Z a-z 0-9 . _ : -");
		return HTTP_DONE;
	}
	bool ryw = min_time != NULL || after_call != NULL;
	char ns[24], ms[24], tag[24];
	snprintf(ns, sizeof(ns), "%lld", n);
	snprintf(ms, sizeof(ms), "%lld", min_ms);
	const char *params[] = { http_param(ex, 0), ns, min_time ? ms : NULL, after_call };
	const struct qdb_stmt *st = text ? &native_stmt_context_text : &query_stmt_context;
	if (ryw)
		st = text ? &native_stmt_context_text_at : &native_stmt_context_at;
	PGresult *res = api_query(ex, api, c.customer_id, st, params);
	if (res == NULL)
		return HTTP_DONE;
	if (ryw)
		res = native_fresh(ex, api, c.customer_id, st, params, res);
	native_context_etag(PQgetvalue(res, 0, 0), http_param(ex, 0), n, text, tag);
	const char *doc = PQgetvalue(res, 0, 1);
	size_t len = (size_t)PQgetlength(res, 0, 1);
	if (!text) {
		api_reply_tagged(ex, doc, len, tag);
		PQclear(res);
		return HTTP_DONE;
	}
	/* format=text: the document plus "text", the compat layout (stored escaped) */
	struct buf body = BUF_INIT;
	buf_append(&body, doc, len - 1); /* without the closing brace */
	buf_append_str(&body, ", \"text\" : \"");
	if (PQgetisnull(res, 0, 2))
		api_escape(CONTEXT_TEXT_UNKNOWN, strlen(CONTEXT_TEXT_UNKNOWN), &body);
	else
		buf_append(&body, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
	buf_append_str(&body, "\"}");
	PQclear(res);
	api_reply_tagged(ex, body.data, body.len, tag);
	buf_free(&body);
	return HTTP_DONE;
}

/* Rows (item json, cursor micros, cursor key) -> {"<field>":[...],"next_cursor":...}; the
 * statement fetched limit + 1 rows to know whether there is a next page. */
static void native_page(struct http_exchange *ex, PGresult *res, long long limit, const char *field)
{
	struct buf out = BUF_INIT;
	buf_appendf(&out, "{\"%s\":[", field);
	int rows = PQntuples(res);
	int shown = rows > limit ? (int)limit : rows;
	for (int i = 0; i < shown; i++) {
		if (i > 0)
			buf_putc(&out, ',');
		buf_append(&out, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
	}
	buf_append_str(&out, "],\"next_cursor\":");
	char cursor[QUERY_CURSOR_MAX];
	struct query_cursor qc = { 0 };
	if (rows > limit && shown > 0) {
		qc.has_ts = !PQgetisnull(res, shown - 1, 1);
		long long ts = 0;
		if (qc.has_ts &&
		    num_parse_int(PQgetvalue(res, shown - 1, 1), LLONG_MIN, LLONG_MAX, &ts) != 0)
			qc.has_ts = false; /* cannot happen: PostgreSQL wrote a bigint */
		qc.ts = ts;
		snprintf(qc.key, sizeof(qc.key), "%s", PQgetvalue(res, shown - 1, 2));
	}
	if (rows > limit && shown > 0 && query_cursor_encode(&qc, cursor) == 0)
		buf_appendf(&out, "\"%s\"}", cursor);
	else
		buf_append_str(&out, "null}");
	api_reply(ex, out.data, out.len, true);
	buf_free(&out);
}

/* The cursor argument (name) decoded into params; false after a 400. */
static bool native_cursor(struct http_exchange *ex, const char *name, char ts[24],
                          struct query_cursor *qc, const char **pts, const char **pkey)
{
	const char *text = http_query(ex, name);
	*pts = *pkey = NULL;
	if (text == NULL || *text == '\0')
		return true;
	if (query_cursor_decode(text, qc) != 0) {
		http_reply_error(ex, 400, "bad_cursor", "the cursor is not one this API returned");
		return false;
	}
	if (qc->has_ts) {
		snprintf(ts, 24, "%lld", qc->ts);
		*pts = ts;
	}
	*pkey = qc->key;
	return true;
}

/* clang-format off */
static const struct qdb_stmt native_stmt_summaries = {
	.name = "q_summaries",
	.sql =
		"SELECT " QSQL_SUMMARY("s") "::text, " QSQL_MICROS("s.call_ended_at")
		", s.call_id "
		"FROM call_summaries s WHERE s.user_id = $1 AND ($4::text IS NULL OR "
		"(s.call_ended_at, s.call_id) < (" QSQL_FROM_MICROS("$3") ", $4::text)) "
		"ORDER BY s.call_ended_at DESC, s.call_id DESC LIMIT $2",
	.nparams = 4
};
/* clang-format on */

static enum http_outcome route_summaries(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long limit;
	struct query_cursor qc;
	char ts[24], ls[24];
	const char *pts, *pkey;
	if (!api_auth(ex, api, &c) || !api_user_id(ex, http_param(ex, 0)) ||
	    !api_int_arg(ex, "limit", 20, 1, api->max_limit, &limit) ||
	    !native_cursor(ex, "before", ts, &qc, &pts, &pkey))
		return HTTP_DONE;
	if (pkey != NULL && pts == NULL) {
		http_reply_error(ex, 400, "bad_cursor", "the cursor is not one this API returned");
		return HTTP_DONE;
	}
	snprintf(ls, sizeof(ls), "%lld", limit + 1);
	const char *params[] = { http_param(ex, 0), ls, pts, pkey };
	PGresult *res = api_query(ex, api, c.customer_id, &native_stmt_summaries, params);
	if (res == NULL)
		return HTTP_DONE;
	native_page(ex, res, limit, "summaries");
	PQclear(res);
	return HTTP_DONE;
}

/* clang-format off */
static const struct qdb_stmt native_stmt_callers = {
	.name = "q_callers",
	.sql =
		"SELECT " QSQL_PROFILE("p") "::text, " QSQL_MICROS("p.last_call_at") ", p.user_id "
		"FROM caller_profiles p WHERE $3::text IS NULL OR "
		"(coalesce(p.last_call_at, '-infinity'), p.user_id) < " "(coalesce("
		QSQL_FROM_MICROS("$2") ", '-infinity'), $3::text) "
		"ORDER BY coalesce(p.last_call_at, '-infinity') DESC, p.user_id DESC LIMIT $1",
	.nparams = 3
};
/* clang-format on */

static enum http_outcome route_callers(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long limit;
	struct query_cursor qc;
	char ts[24], ls[24];
	const char *pts, *pkey;
	if (!api_auth(ex, api, &c) || !api_int_arg(ex, "limit", 50, 1, api->max_limit, &limit) ||
	    !native_cursor(ex, "cursor", ts, &qc, &pts, &pkey))
		return HTTP_DONE;
	snprintf(ls, sizeof(ls), "%lld", limit + 1);
	const char *params[] = { ls, pts, pkey };
	PGresult *res = api_query(ex, api, c.customer_id, &native_stmt_callers, params);
	if (res == NULL)
		return HTTP_DONE;
	native_page(ex, res, limit, "callers");
	PQclear(res);
	return HTTP_DONE;
}

/* Replies the first column of the first row, or 404 when there is no row or the second
 * column (if any) is false. */
static void native_one(struct http_exchange *ex, PGresult *res, const char *what)
{
	bool found = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) &&
	             (PQnfields(res) < 2 || strcmp(PQgetvalue(res, 0, 1), "t") == 0);
	if (!found) {
		char msg[64];
		snprintf(msg, sizeof(msg), "no such %s", what);
		http_reply_error(ex, 404, "not_found", msg);
	} else {
		api_reply(ex, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), true);
	}
}

/* clang-format off */
static const struct qdb_stmt native_stmt_profile = {
	.name = "q_profile",
	.sql =
		"SELECT " QSQL_PROFILE("p") "::text FROM caller_profiles p WHERE p.user_id = $1",
	.nparams = 1
};
/* clang-format on */

static enum http_outcome route_profile(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	if (!api_auth(ex, api, &c) || !api_user_id(ex, http_param(ex, 0)))
		return HTTP_DONE;
	const char *params[] = { http_param(ex, 0) };
	PGresult *res = api_query(ex, api, c.customer_id, &native_stmt_profile, params);
	if (res != NULL)
		native_one(ex, res, "caller");
	PQclear(res);
	return HTTP_DONE;
}

/* clang-format off */
static const struct qdb_stmt native_stmt_personality = {
	.name = "q_personality",
	.sql =
		"WITH a AS (SELECT * FROM personality_averages WHERE user_id = $1), "
		"m AS (SELECT * FROM personality_metrics WHERE user_id = $1 "
		"      ORDER BY measured_at DESC, call_id DESC LIMIT $2) "
		"SELECT json_build_object('user_id', $1::text, "
		"  'averages', (SELECT " QSQL_PERSONALITY("a") " FROM a), "
		"  'recent_calls', coalesce((SELECT json_agg(" QSQL_METRIC("m")
		" ORDER BY m.measured_at " "DESC, m.call_id DESC) FROM m), '[]'::json))::text, "
		"EXISTS (SELECT 1 FROM a) OR EXISTS (SELECT 1 FROM m)",
	.nparams = 2
};
/* clang-format on */

static enum http_outcome route_personality(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long n;
	if (!api_auth(ex, api, &c) || !api_user_id(ex, http_param(ex, 0)) ||
	    !api_int_arg(ex, "recent", 5, 0, api->max_limit, &n))
		return HTTP_DONE;
	char ns[24];
	snprintf(ns, sizeof(ns), "%lld", n);
	const char *params[] = { http_param(ex, 0), ns };
	PGresult *res = api_query(ex, api, c.customer_id, &native_stmt_personality, params);
	if (res != NULL)
		native_one(ex, res, "caller personality");
	PQclear(res);
	return HTTP_DONE;
}

/* clang-format off */
static const struct qdb_stmt native_stmt_call = {
	.name = "q_call",
	.sql =
		"SELECT json_build_object('call_id', $1::text, "
		"  'summary', (SELECT " QSQL_SUMMARY("s")
		" FROM call_summaries s WHERE s.call_id = $1), "
		"  'personality', (SELECT " QSQL_METRIC("m") " FROM personality_metrics m "
		"                  WHERE m.call_id = $1))::text, "
		"EXISTS (SELECT 1 FROM call_summaries WHERE call_id = $1) OR "
		"EXISTS (SELECT 1 FROM personality_metrics WHERE call_id = $1)",
	.nparams = 1
};
/* clang-format on */

static bool native_call_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n < 1 || n > 128)
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") ==
	       n;
}

static enum http_outcome route_call(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	if (!api_auth(ex, api, &c))
		return HTTP_DONE;
	if (!native_call_id(http_param(ex, 0))) {
		http_reply_error(ex, 400, "bad_value", "call_id: 1..128 of [A-Za-z0-9._:-]");
		return HTTP_DONE;
	}
	const char *params[] = { http_param(ex, 0) };
	PGresult *res = api_query(ex, api, c.customer_id, &native_stmt_call, params);
	if (res != NULL)
		native_one(ex, res, "call");
	PQclear(res);
	return HTTP_DONE;
}

static enum http_outcome route_search(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long limit;
	if (!api_auth(ex, api, &c) || !api_int_arg(ex, "limit", 10, 1, api->max_limit, &limit))
		return HTTP_DONE;
	const char *q = http_query(ex, "q"), *user_id = http_query(ex, "user_id");
	const char *mode = http_query(ex, "mode");
	if (mode == NULL)
		mode = "hybrid";
	if (strcmp(mode, "hybrid") != 0 && strcmp(mode, "semantic") != 0 &&
	    strcmp(mode, "text") != 0) {
		http_reply_error(ex, 400, "bad_value", "mode: hybrid, semantic or text");
		return HTTP_DONE;
	}
	if (q == NULL || *q == '\0' || strlen(q) > 1000) {
		http_reply_error(ex, 400, "bad_value", "q: 1..1000 bytes required");
		return HTTP_DONE;
	}
	if (user_id != NULL && !api_user_id(ex, user_id))
		return HTTP_DONE;
	struct buf head = BUF_INIT;
	buf_append_str(&head, "{\"query\":");
	native_json_escape(q, &head);
	buf_appendf(&head, ",\"mode\":\"%s\",\"results\":", mode);
	const struct search_request r = { .tenant = c.customer_id,
		                          .q = q,
		                          .user_id = user_id,
		                          .limit = limit,
		                          .mode = mode,
		                          .head = buf_str(&head),
		                          .tail = "}" };
	enum http_outcome o = search_pool_submit(ex, api, &r);
	buf_free(&head);
	return o;
}

const struct http_route query_native_routes[] = {
	{ "GET", "/v3/callers/{}/context", "v3_context", route_context },
	{ "GET", "/v3/callers/{}/summaries", "v3_summaries", route_summaries },
	{ "GET", "/v3/callers/{}/profile", "v3_profile", route_profile },
	{ "GET", "/v3/callers/{}/personality", "v3_personality", route_personality },
	{ "GET", "/v3/callers", "v3_callers", route_callers },
	{ "GET", "/v3/calls/{}", "v3_call", route_call },
	{ "GET", "/v3/search", "v3_search", route_search },
};
const size_t query_native_nroutes = sizeof(query_native_routes) / sizeof(query_native_routes[0]);

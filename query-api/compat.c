/*
 * compat: the previous service's read routes, with its JSON shapes (PREVIOUS_SERVICE.md),
 * so ChatStack keeps working unchanged. Every route needs a token with memory:read (the
 * previous service left several open: that was a bug, not a contract) except GET /health,
 * which ChatStack sends without one; each answers 200 on success, as ChatStack treats any
 * other status as a failure.
 *
 * Memory reads (documented choice): a caller's reads return that caller's rows only; the
 * previous service mixed every shared row into them, which made every caller look like a
 * returning one. Shared rows come with user_id=admin (ChatStack reads its admin settings
 * that way, and saves them as shared rows) or with no user_id at all, and from
 * /v1/memories/shared. memory_type (or types) filters when given; expired rows are left
 * out; newest first. POST /memory/retrieve answers the same rows, plus the legacy `memory`
 * string (one stored value per line) and, for a message "thread_history:<id>", only that key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "context.h"
#include "context_text.h"
#include "http_body.h"
#include "search_pool.h"
#include "query_sql.h"

/* How old the pool's last word on the database may be before /health asks again. */
#define COMPAT_HEALTH_MAX_AGE_MS 1000

/*
 * GET /health: public (ChatStack calls it with no Authorization header before almost every
 * operation, and switches memory off on anything but 200 healthy). A token, valid or not, is
 * ignored. Says nothing but the service's own state: no tenant, no LLM, and at most one
 * SELECT 1 a second however often it is asked (qdb_healthy).
 */
static enum http_outcome route_health(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	static const char up[] =
	    "{\"status\":\"healthy\",\"memory_store\":\"connected\","
	    "\"db\":true,\"service\":\"aimem-query\",\"version\":\"" AIMEM_VERSION "\"}";
	static const char down[] =
	    "{\"status\":\"unhealthy\",\"memory_store\":\"disconnected\","
	    "\"db\":false,\"service\":\"aimem-query\",\"version\":\"" AIMEM_VERSION "\"}";
	if (qdb_healthy(api->db, COMPAT_HEALTH_MAX_AGE_MS))
		http_reply_json(ex, 200, up, sizeof(up) - 1);
	else
		http_reply_json(ex, 503, down, sizeof(down) - 1);
	return HTTP_DONE;
}

/* $1 user_id or NULL (shared rows), $2 JSON array of types or NULL, $3 limit, $4 key or
 * NULL. Columns: the memory objects (JSON array), count, user rows, shared rows, and the
 * legacy NDJSON: one stored value per line, in the same order (jsonb text has no raw line
 * break). */
/* clang-format off */
static const struct qdb_stmt compat_stmt_memories = {
	.name = "q_memories",
	.sql =
		"WITH r AS (SELECT * FROM memories m "
		"  WHERE (m.expires_at IS NULL OR m.expires_at > now()) "
		"  AND ($2::jsonb IS NULL OR m.mtype IN (SELECT jsonb_array_elements_text($2::jsonb))) "
		"  AND ($4::text IS NULL OR m.key = $4::text) "
		"  AND CASE WHEN $1::text IS NULL THEN m.scope = 'shared' "
		"           WHEN $1::text = 'admin' THEN m.scope = 'shared' OR m.user_id = $1::text "
		"           ELSE m.scope = 'user' AND m.user_id = $1::text END "
		"  ORDER BY m.updated_at DESC, m.memory_id LIMIT $3) " "SELECT coalesce(json_agg("
		"json_build_object('id', r.memory_id, 'type', r.mtype, 'key', r.key, "
		"'value', r.value, 'user_id', r.user_id, 'scope', r.scope, 'source', r.source, "
		"'created_at', " QSQL_TS("r.created_at") ", 'updated_at', " QSQL_TS("r.updated_at") ")"
		" ORDER BY r.updated_at DESC, r.memory_id), "
		"'[]'::json)::text, count(*), count(*) FILTER (WHERE r.scope = 'user'), "
		"count(*) FILTER (WHERE r.scope = 'shared'), "
		"coalesce(string_agg(r.value::text, E'\\n' ORDER BY r.updated_at DESC, "
		"r.memory_id), '') FROM r",
	.nparams = 4
};
/* clang-format on */

/* Runs the memories statement; NULL after replying. types: a JSON array text or NULL; key:
 * one key or NULL. */
static PGresult *compat_memories(struct http_exchange *ex, const struct query_api *api,
                                 long long tenant, const char *user_id, const char *types,
                                 const char *key, long long limit)
{
	char ls[24];
	snprintf(ls, sizeof(ls), "%lld", limit);
	const char *params[] = { user_id, types, ls, key };
	return api_query(ex, api, tenant, &compat_stmt_memories, params);
}

/* {"memories":[...],"count":n,"stats":{"user":n,"shared":n}} */
static void compat_memories_reply(struct http_exchange *ex, PGresult *res)
{
	struct buf out = BUF_INIT;
	buf_append_str(&out, "{\"memories\":");
	buf_append(&out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	buf_appendf(&out, ",\"count\":%s,\"stats\":{\"user\":%s,\"shared\":%s}}",
	            PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
	http_reply_json(ex, 200, out.data, out.len);
	buf_free(&out);
}

/* memory_type as a one-element JSON array (owned) or NULL. */
static char *compat_type_array(const char *type)
{
	if (type == NULL || *type == '\0')
		return NULL;
	json_t *a = json_pack("[s]", type);
	char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return text;
}

static enum http_outcome compat_memories_route(struct http_exchange *ex,
                                               const struct query_api *api, const char *user_id)
{
	struct auth_claims c;
	long long limit;
	if (!api_auth(ex, api, &c) || (user_id != NULL && !api_user_id(ex, user_id)) ||
	    !api_int_arg(ex, "limit", 100, 1, api->max_limit, &limit))
		return HTTP_DONE;
	char *types = compat_type_array(http_query(ex, "memory_type"));
	PGresult *res = compat_memories(ex, api, c.customer_id, user_id, types, NULL, limit);
	free(types);
	if (res != NULL)
		compat_memories_reply(ex, res);
	PQclear(res);
	return HTTP_DONE;
}

static enum http_outcome route_v1_memories(struct http_exchange *ex, void *ctx)
{
	const char *user_id = http_query(ex, "user_id");
	return compat_memories_route(ex, ctx, user_id && *user_id ? user_id : NULL);
}

static enum http_outcome route_v1_memories_user(struct http_exchange *ex, void *ctx)
{
	return compat_memories_route(ex, ctx, http_param(ex, 0));
}

static enum http_outcome route_v1_memories_shared(struct http_exchange *ex, void *ctx)
{
	return compat_memories_route(ex, ctx, NULL);
}

/* The body's user_id as a checked string; NULL after replying 400 (or 422 when absent). */
static const char *compat_body_user(struct http_exchange *ex, json_t *body, bool required)
{
	json_t *u = json_object_get(body, "user_id");
	if (u == NULL || json_is_null(u)) {
		if (required)
			http_reply_error(ex, 422, "missing_field", "user_id: required");
		return NULL;
	}
	if (!json_is_string(u)) {
		http_reply_error(ex, 422, "bad_value", "user_id: must be a string");
		return NULL;
	}
	return api_user_id(ex, json_string_value(u)) ? json_string_value(u) : NULL;
}

/* body[name] as an integer in [min, max] (def when absent); false after 422. */
static bool compat_body_int(struct http_exchange *ex, json_t *body, const char *name, long long def,
                            long long min, long long max, long long *out)
{
	json_t *v = json_object_get(body, name);
	if (v == NULL || json_is_null(v)) {
		*out = def;
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s: an integer from %lld to %lld", name, min, max);
		http_reply_error(ex, 422, "bad_value", msg);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

/* body.types as a JSON array text (owned; NULL when absent or empty); false after 422. */
static bool compat_body_types(struct http_exchange *ex, json_t *body, char **out)
{
	json_t *types = json_object_get(body, "types");
	*out = NULL;
	if (types == NULL || json_is_null(types))
		return true;
	bool ok = json_is_array(types);
	size_t i;
	json_t *t;
	json_array_foreach(types, i, t) ok = ok && json_is_string(t);
	if (!ok) {
		http_reply_error(ex, 422, "bad_value", "types: an array of strings");
		return false;
	}
	if (json_array_size(types) > 0)
		*out = json_dumps(types, JSON_COMPACT);
	return true;
}

/* The key body.message asks for: ChatStack restores a thread's recap at call end with
 * "thread_history:<thread_id>", the key it saved it under. Any other message (the previous
 * service's free-text search) filters nothing: NULL. false after 422. */
static bool compat_body_key(struct http_exchange *ex, json_t *body, const char **out)
{
	static const char prefix[] = "thread_history:";
	json_t *m = json_object_get(body, "message");
	*out = NULL;
	if (m == NULL || json_is_null(m))
		return true;
	if (!json_is_string(m)) {
		http_reply_error(ex, 422, "bad_value", "message: must be a string");
		return false;
	}
	const char *text = json_string_value(m);
	size_t len = json_string_length(m);
	if (len > sizeof(prefix) - 1 && len <= 512 &&
	    strncmp(text, prefix, sizeof(prefix) - 1) == 0)
		*out = text;
	return true;
}

/* {"success":true,"memories":[...],"count":n,"memory":"<one stored value per line>"}:
 * ChatStack's transcript builder reads each line of memory as the value it saved (a
 * thread_recap line is {"count":..,"messages":[{"role","content"},..]}), newest first. */
static void compat_retrieve_reply(struct http_exchange *ex, PGresult *res)
{
	json_t *memory = json_stringn(PQgetvalue(res, 0, 4), (size_t)PQgetlength(res, 0, 4));
	char *ndjson = json_dumps(memory, JSON_ENCODE_ANY);
	json_decref(memory);
	struct buf out = BUF_INIT;
	buf_append_str(&out, "{\"success\":true,\"memories\":");
	buf_append(&out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	buf_appendf(&out, ",\"count\":%s,\"memory\":%s}", PQgetvalue(res, 0, 1),
	            ndjson ? ndjson : "\"\"");
	http_reply_json(ex, 200, out.data, out.len);
	buf_free(&out);
	free(ndjson);
}

static enum http_outcome route_memory_retrieve(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long limit;
	if (!api_auth(ex, api, &c))
		return HTTP_DONE;
	json_t *body = http_body_object(ex);
	if (body == NULL)
		return HTTP_DONE;
	bool has_user = json_object_get(body, "user_id") != NULL &&
	                !json_is_null(json_object_get(body, "user_id"));
	const char *user_id = compat_body_user(ex, body, false), *key = NULL;
	char *types = NULL;
	if ((has_user && user_id == NULL) || /* replied */
	    !compat_body_int(ex, body, "limit", 100, 1, api->max_limit, &limit) ||
	    !compat_body_types(ex, body, &types) || !compat_body_key(ex, body, &key))
		goto out;
	PGresult *res = compat_memories(ex, api, c.customer_id, user_id, types, key, limit);
	if (res != NULL)
		compat_retrieve_reply(ex, res);
	PQclear(res);
out:
	free(types);
	json_decref(body);
	return HTTP_DONE;
}

/* The compat context text as the workers stored it (calls/context.h): the newest $2 summaries'
 * blocks after the head, JSON-escaped, the number included and whether the personality block
 * is there; one primary-key lookup, no row for an unknown caller. */
static const struct qdb_stmt compat_stmt_context = {
	.name = "q_context_compat",
	.sql = "SELECT c.text_head || array_to_string(c.text_sums[1:$2::int], ''),"
	       " least(cardinality(c.text_sums), $2::int), c.has_personality"
	       " FROM caller_context c WHERE c.user_id = $1",
	.nparams = 2
};

/*
 * num_summaries: 0..query.max_limit as before, served up to CONTEXT_SUMMARIES_MAX (what is
 * stored): the previous service ignored it and sent 3, and ChatStack treats anything but a 200
 * as a failure, so a larger number is capped rather than refused.
 */
static enum http_outcome route_v2_context(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long n;
	if (!api_auth(ex, api, &c))
		return HTTP_DONE;
	json_t *body = http_body_object(ex);
	if (body == NULL)
		return HTTP_DONE;
	const char *user_id = compat_body_user(ex, body, true);
	if (user_id == NULL ||
	    !compat_body_int(ex, body, "num_summaries", 5, 0, api->max_limit, &n)) {
		json_decref(body);
		return HTTP_DONE;
	}
	char ns[24];
	snprintf(ns, sizeof(ns), "%lld", n < CONTEXT_SUMMARIES_MAX ? n : CONTEXT_SUMMARIES_MAX);
	const char *params[] = { user_id, ns };
	PGresult *res = api_query(ex, api, c.customer_id, &compat_stmt_context, params);
	json_decref(body);
	if (res == NULL)
		return HTTP_DONE;
	struct buf out = BUF_INIT;
	buf_append_str(&out, "{\"success\":true,\"context\":\"");
	bool known = PQntuples(res) > 0;
	if (known)
		buf_append(&out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	else
		api_escape(CONTEXT_TEXT_UNKNOWN, strlen(CONTEXT_TEXT_UNKNOWN), &out);
	buf_appendf(&out, "\",\"summary_count\":%s,\"has_personality_data\":%s}",
	            known ? PQgetvalue(res, 0, 1) : "0",
	            known && strcmp(PQgetvalue(res, 0, 2), "t") == 0 ? "true" : "false");
	PQclear(res);
	http_reply_json(ex, 200, out.data, out.len);
	buf_free(&out);
	return HTTP_DONE;
}

/* The v2 API's timestamp (UTC, no zone suffix). A macro, not a statement of its own: it is
 * spliced at each date column of the v2 objects (q_v2_summaries, QSQL_V2_PROFILE). */
#define QSQL_V2_DATE(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"

/* clang-format off */
static const struct qdb_stmt compat_stmt_summaries = {
	.name = "q_v2_summaries",
	.sql =
		"WITH s AS (SELECT * FROM call_summaries WHERE user_id = $1 "
		"           ORDER BY call_ended_at DESC, call_id DESC LIMIT $2) "
		"SELECT json_build_object('success', true, 'user_id', $1::text, 'summaries', "
		"  coalesce((SELECT json_agg(json_build_object('call_id', s.call_id, 'call_date', "
		QSQL_V2_DATE("s.call_ended_at")
		", 'summary', s.summary, 'key_topics', s.key_topics, "
		"  'key_variables', s.key_variables, 'sentiment', s.sentiment, 'resolution_status', "
		"  s.resolution_status, 'duration_seconds', s.duration_seconds) "
		"  ORDER BY s.call_ended_at DESC, s.call_id DESC) FROM s), '[]'::json), "
		"  'total', (SELECT count(*) FROM s))::text",
	.nparams = 2
};
/* clang-format on */

static enum http_outcome route_v2_summaries(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long limit;
	if (!api_auth(ex, api, &c) || !api_user_id(ex, http_param(ex, 0)) ||
	    !api_int_arg(ex, "limit", 10, 1, api->max_limit, &limit))
		return HTTP_DONE;
	char ls[24];
	snprintf(ls, sizeof(ls), "%lld", limit);
	const char *params[] = { http_param(ex, 0), ls };
	PGresult *res = api_query(ex, api, c.customer_id, &compat_stmt_summaries, params);
	if (res != NULL)
		http_reply_json(ex, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return HTTP_DONE;
}

/* The v2 profile object. A macro so that the list (q_v2_profiles) and the single profile
 * (q_v2_profile) answer one shape. */
/* clang-format off */
#define QSQL_V2_PROFILE(p) \
	"json_build_object('user_id', " p ".user_id, 'preferred_name', " p \
	".preferred_name, 'total_calls', " p ".total_calls, 'first_call_date', " \
	QSQL_V2_DATE(p ".first_call_at") ", 'last_call_date', " QSQL_V2_DATE(p ".last_call_at") \
	", " "'preferences', " p ".preferences, 'context', " p ".context, 'created_at', " \
	QSQL_V2_DATE(p ".created_at") ", 'updated_at', " QSQL_V2_DATE(p ".updated_at") ")"
/* clang-format on */

/* clang-format off */
static const struct qdb_stmt compat_stmt_profiles = {
	.name = "q_v2_profiles",
	.sql =
		"WITH p AS (SELECT * FROM caller_profiles "
		"           ORDER BY last_call_at DESC NULLS LAST, user_id LIMIT $1) "
		"SELECT json_build_object('success', true, 'customer_id', "
		"  NULLIF(current_setting('app.current_tenant', true), '')::int, 'profiles', "
		"  coalesce((SELECT json_agg(" QSQL_V2_PROFILE("p")
		" ORDER BY p.last_call_at DESC NULLS "
		"LAST, p.user_id) FROM p), '[]'::json), 'total', (SELECT count(*) FROM p))::text",
	.nparams = 1
};
/* clang-format on */

static enum http_outcome route_v2_profiles(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long limit;
	if (!api_auth(ex, api, &c) || !api_int_arg(ex, "limit", 100, 1, api->max_limit, &limit))
		return HTTP_DONE;
	char ls[24];
	snprintf(ls, sizeof(ls), "%lld", limit);
	const char *params[] = { ls };
	PGresult *res = api_query(ex, api, c.customer_id, &compat_stmt_profiles, params);
	if (res != NULL)
		http_reply_json(ex, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return HTTP_DONE;
}

/* clang-format off */
static const struct qdb_stmt compat_stmt_profile = {
	.name = "q_v2_profile",
	.sql =
		"SELECT json_build_object('success', true, 'profile', " QSQL_V2_PROFILE("p")
		")::text " "FROM caller_profiles p WHERE p.user_id = $1",
	.nparams = 1
};
/* clang-format on */

static enum http_outcome route_v2_profile(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	if (!api_auth(ex, api, &c) || !api_user_id(ex, http_param(ex, 0)))
		return HTTP_DONE;
	const char *params[] = { http_param(ex, 0) };
	PGresult *res = api_query(ex, api, c.customer_id, &compat_stmt_profile, params);
	if (res == NULL)
		return HTTP_DONE;
	if (PQntuples(res) == 0)
		http_reply_error(ex, 404, "not_found", "no such caller");
	else
		http_reply_json(ex, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return HTTP_DONE;
}

/* clang-format off */
static const struct qdb_stmt compat_stmt_personality = {
	.name = "q_v2_personality",
	.sql =
		"SELECT CASE WHEN a.user_id IS NULL THEN json_build_object('success', true, 'user_id', "
		"  $1::text, 'personality', NULL, 'message', 'No personality data available yet') "
		"ELSE json_build_object('success', true, 'user_id', $1::text, 'personality', "
		QSQL_PERSONALITY("a") ") END::text "
		"FROM (SELECT 1) one LEFT JOIN personality_averages a ON a.user_id = $1",
	.nparams = 1
};
/* clang-format on */

static enum http_outcome route_v2_personality(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	if (!api_auth(ex, api, &c) || !api_user_id(ex, http_param(ex, 0)))
		return HTTP_DONE;
	const char *params[] = { http_param(ex, 0) };
	PGresult *res = api_query(ex, api, c.customer_id, &compat_stmt_personality, params);
	if (res != NULL)
		http_reply_json(ex, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return HTTP_DONE;
}

static enum http_outcome route_v2_search(struct http_exchange *ex, void *ctx)
{
	const struct query_api *api = ctx;
	struct auth_claims c;
	long long limit;
	if (!api_auth(ex, api, &c))
		return HTTP_DONE;
	json_t *body = http_body_object(ex);
	if (body == NULL)
		return HTTP_DONE;
	json_t *q = json_object_get(body, "query");
	const char *user_id = NULL;
	bool has_user = json_object_get(body, "user_id") != NULL &&
	                !json_is_null(json_object_get(body, "user_id"));
	if (has_user && (user_id = compat_body_user(ex, body, false)) == NULL)
		goto out;
	if (!json_is_string(q) || json_string_length(q) == 0 || json_string_length(q) > 1000) {
		http_reply_error(ex, 422, "bad_value", "query: a string of 1..1000 bytes");
		goto out;
	}
	if (!compat_body_int(ex, body, "limit", 5, 1, api->max_limit, &limit))
		goto out;
	const struct search_request r = { .tenant = c.customer_id,
		                          .q = json_string_value(q),
		                          .user_id = user_id,
		                          .limit = limit,
		                          .mode = "semantic",
		                          .compat = true,
		                          .head = "{\"success\":true,\"results\":",
		                          .tail = "}" };
	enum http_outcome o = search_pool_submit(ex, api, &r);
	json_decref(body);
	return o;
out:
	json_decref(body);
	return HTTP_DONE;
}

const struct http_route query_compat_routes[] = {
	{ "GET", "/health", "health", route_health },
	{ "GET", "/v1/memories", "v1_memories", route_v1_memories },
	{ "GET", "/v1/memories/user/{}", "v1_memories_user", route_v1_memories_user },
	{ "GET", "/v1/memories/shared", "v1_memories_shared", route_v1_memories_shared },
	{ "POST", "/v2/context/enriched", "v2_context_enriched", route_v2_context },
	{ "GET", "/v2/summaries/{}", "v2_summaries", route_v2_summaries },
	{ "GET", "/v2/profiles", "v2_profiles", route_v2_profiles },
	{ "GET", "/v2/profile/{}", "v2_profile", route_v2_profile },
	{ "GET", "/v2/personality/{}", "v2_personality", route_v2_personality },
	{ "POST", "/v2/summaries/search", "v2_summaries_search", route_v2_search },
	{ "POST", "/memory/retrieve", "memory_retrieve", route_memory_retrieve },
};
const size_t query_compat_nroutes = sizeof(query_compat_routes) / sizeof(query_compat_routes[0]);

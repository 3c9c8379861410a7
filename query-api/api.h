/*
 * api: what every aimem-query route shares: the program's context, authentication
 * (memory:read), parameter checks, running a statement with the failure mapped to an HTTP
 * answer, and replies (JSON straight from PostgreSQL, with an ETag where the route wants
 * one).
 *
 * Routes: native.c (/v3), compat.c (the previous service's read routes), search.c. Handlers
 * run on MHD's pool threads and block for one database round trip (bounded by the statement
 * timeout); the pool has a connection per thread, so they do not wait for one.
 */
#ifndef AIMEM_QUERY_API_H
#define AIMEM_QUERY_API_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "auth.h"
#include "http.h"
#include "qdb.h"

struct query_api {
	struct qdb *db;
	const struct auth_verifier *auth;
	long long max_limit; /* largest limit= / summaries= accepted */
};

/* Statement ids (qdb_stmt.id), one per statement of the program. */
enum query_stmt_id {
	QS_CONTEXT,
	QS_SUMMARIES,
	QS_PROFILE,
	QS_PERSONALITY,
	QS_CALLERS,
	QS_CALL,
	QS_SEARCH_TENANT,
	QS_SEARCH_USER,
	QS_HEALTH,
	QS_MEMORIES,
	QS_V2_SUMMARIES,
	QS_V2_PROFILES,
	QS_V2_PROFILE,
	QS_V2_PERSONALITY,
};

/* Timestamps as RFC 3339 UTC with seconds, in SQL (NULL stays NULL). */
#define QSQL_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* A timestamp as microseconds since the epoch (for cursors), exact. */
#define QSQL_MICROS(x) "(extract(epoch FROM " x ") * 1000000)::bigint"
/* A cursor's microseconds back to a timestamp, exact. */
#define QSQL_FROM_MICROS(p) "(timestamptz 'epoch' + " p "::bigint * interval '1 microsecond')"

/* The native JSON objects, built in SQL from a row alias. */
#define QSQL_SUMMARY(s)                                                                            \
	"json_build_object('call_id', " s ".call_id, 'user_id', " s ".user_id, 'thread_id', " s    \
	".thread_id, 'started_at', " QSQL_TS(s ".call_started_at") ", 'ended_at', " QSQL_TS(       \
	    s ".call_ended_at") ", 'duration_seconds', " s ".duration_seconds, 'summary', " s      \
	                        ".summary, 'key_topics', " s ".key_topics, 'key_variables', " s    \
	                        ".key_variables, 'sentiment', " s                                  \
	                        ".sentiment, 'resolution_status', " s                              \
	                        ".resolution_status, 'processor', " s                              \
	                        ".processor, 'needs_reprocess', " s ".needs_reprocess)"
#define QSQL_PROFILE(p)                                                                             \
	"json_build_object('user_id', " p ".user_id, 'preferred_name', " p                          \
	".preferred_name, 'total_calls', " p                                                        \
	".total_calls, 'first_call_at', " QSQL_TS(p ".first_call_at") ", 'last_call_at', " QSQL_TS( \
	    p ".last_call_at") ", 'preferences', " p ".preferences, 'context', " p                  \
	                       ".context, 'created_at', " QSQL_TS(                                  \
	                           p                                                                \
	                           ".created_at") ", 'updated_at', " QSQL_TS(p ".updated_at") ")"
#define QSQL_PERSONALITY(a)                                                                        \
	"json_build_object('call_count', " a ".call_count, 'big_five', json_build_object("         \
	"'openness', " a ".avg_openness, 'conscientiousness', " a                                  \
	".avg_conscientiousness, 'extraversion', " a ".avg_extraversion, 'agreeableness', " a      \
	".avg_agreeableness, 'neuroticism', " a ".avg_neuroticism), 'communication_style', "       \
	"json_build_object('formality', " a ".avg_formality, 'directness', " a                     \
	".avg_directness, 'detail_orientation', " a ".avg_detail_orientation, 'patience', " a      \
	".avg_patience, 'technical_comfort', " a ".avg_technical_comfort), 'emotional_state', "    \
	"json_build_object('frustration_level', " a                                                \
	".recent_frustration, 'satisfaction_level', " a                                            \
	".recent_satisfaction, 'urgency_level', " a ".recent_urgency), 'trends', "                 \
	"json_build_object('satisfaction_trend', " a                                               \
	".satisfaction_trend, 'frustration_trend', " a                                             \
	".frustration_trend), 'updated_at', " QSQL_TS(a ".updated_at") ")"
#define QSQL_METRIC(m)                                                                             \
	"json_build_object('call_id', " m ".call_id, 'measured_at', " QSQL_TS(                     \
	    m ".measured_at") ", 'scores', json_build_object('openness', " m                       \
	                      ".openness, 'conscientiousness', " m                                 \
	                      ".conscientiousness, 'extraversion', " m                             \
	                      ".extraversion, 'agreeableness', " m                                 \
	                      ".agreeableness, 'neuroticism', " m ".neuroticism, 'formality', " m  \
	                      ".formality, 'directness', " m ".directness, "                       \
	                      "'detail_orientation', " m ".detail_orientation, 'patience', " m     \
	                      ".patience, "                                                        \
	                      "'technical_comfort', " m                                            \
	                      ".technical_comfort, 'frustration_level', " m                        \
	                      ".frustration_level, 'satisfaction_level', " m                       \
	                      ".satisfaction_level, 'urgency_level', " m                           \
	                      ".urgency_level), 'confidence', " m ".confidence, 'processor', " m   \
	                      ".processor)"

/* memory:read, else 401 (WWW-Authenticate: Bearer) or 403, replied here: false. */
bool api_auth(struct http_exchange *ex, const struct query_api *api, struct auth_claims *c);

/* A path or body caller id: 1..128 bytes of valid UTF-8 without control characters; false
 * after replying 400. */
bool api_user_id(struct http_exchange *ex, const char *user_id);

/* Query argument name as an integer in [min, max] (def when absent); false after 400. */
bool api_int_arg(struct http_exchange *ex, const char *name, long long def, long long min,
                 long long max, long long *out);

/* Runs st; on failure replies 503 (database unavailable or slow, with Retry-After) or 500,
 * logs the reason, and returns NULL. */
PGresult *api_query(struct http_exchange *ex, const struct query_api *api, long long tenant,
                    const struct qdb_stmt *st, const char *const *params);

/* Replies 200 with json; with etag, an ETag (a hash of the body) and 304 when the request's
 * If-None-Match names it. */
void api_reply(struct http_exchange *ex, const char *json, size_t len, bool etag);

/* The request body as a JSON object (owned), or NULL after replying 400. */
json_t *api_body(struct http_exchange *ex);

/* The route tables of native.c, compat.c, search.c. */
extern const struct http_route query_native_routes[];
extern const size_t query_native_nroutes;
extern const struct http_route query_compat_routes[];
extern const size_t query_compat_nroutes;

/* Shared statements (native.c): the context document, used by /v3 and /v2/context. */
extern const struct qdb_stmt query_stmt_context;

/* Search (search.c): runs a search for the authenticated tenant and appends the JSON array
 * of results to out (native items, or the compat shape). Returns false after replying. */
bool query_search(struct http_exchange *ex, const struct query_api *api, long long tenant,
                  const char *q, const char *user_id, long long limit, const char *mode,
                  bool compat, struct buf *out);

#endif

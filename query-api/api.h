/*
 * api: what every aimem-query route shares: the program's context, authentication
 * (memory:read), parameter checks, running a statement with the failure mapped to an HTTP
 * answer, and replies (JSON straight from PostgreSQL, with an ETag where the route wants
 * one).
 *
 * Routes: native.c (/v3), compat.c (the previous service's read routes), search.c. Handlers
 * run on MHD's pool threads and block for one database round trip (bounded by the statement
 * timeout); the pool has a connection per thread, so they do not wait for one. A hybrid
 * search runs its text half on a thread of its own while the handler embeds the query, then
 * the rest: two round trips, one connection at a time.
 */
#ifndef AIMEM_QUERY_API_H
#define AIMEM_QUERY_API_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "auth.h"
#include "buf.h"
#include "embed.h"
#include "http.h"
#include "qdb.h"

struct query_api {
	struct qdb *db;
	/* the same conninfo with target_session_attrs=primary: where a read that asked for
	 * read-your-writes goes when the node db reached has not applied it (native.c) */
	struct qdb *primary;
	struct metrics *m;
	const struct auth_verifier *auth;
	long long max_limit;  /* largest limit= / summaries= accepted */
	struct embedder *emb; /* the query embedder (lib/embed), same provider as aimem-embedder */
	struct search_pool *searches; /* where searches run (search_pool.h); NULL: inline */
};

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

/* The answer to a failed qdb_query (rc, err as it returned them): 503 with Retry-After when
 * the database is unavailable or slow, 500 when the statement failed; logs the reason. */
void api_reply_db_error(struct http_exchange *ex, const struct qdb_stmt *st, int rc,
                        const char *err);
/* Replies 200 with json; with etag, an ETag (a hash of the body) and 304 when the request's
 * If-None-Match names it. */
void api_reply(struct http_exchange *ex, const char *json, size_t len, bool etag);

/* Replies 200 with json and the ETag tag (quoted), or 304 when If-None-Match names it. */
void api_reply_tagged(struct http_exchange *ex, const char *json, size_t len, const char *tag);

/* s[0..len) (valid UTF-8) JSON-escaped, without quotes, appended to out. */
void api_escape(const char *s, size_t len, struct buf *out);

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

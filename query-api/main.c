/*
 * aimem-query: the read-only HTTP API (native /v3 routes and the previous service's read
 * routes) over PostgreSQL as aimem_reader. This file is the start-up and shutdown story; the
 * routes are in native.c, compat.c and search.c, the connections in qdb.c.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "auth_keys.h"
#include "cfg.h"
#include "db.h"
#include "embed.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "prog.h"
#include "qdb.h"
#include "search_pool.h"
#include "xalloc.h"

struct query_settings {
	char *db_url;
	long long db_pool, db_stmt_timeout_ms, db_wait_ms, db_reconnect_ms;
	struct http_settings http;      /* the http.* section and shutdown.drain (lib/http.h) */
	struct auth_keys_settings auth; /* the auth.* section (lib/auth_keys.h) */
	long long max_limit, search_threads, search_queue;
	struct embed_settings embed; /* the embed.* section (lib/embed.h): query embeddings */
	char *log_level;
};

#define S(field) offsetof(struct query_settings, field)
static const struct cfg_item query_items[] = {
	DB_URL_CFG_ITEM(S(db_url), "aimem_reader"),
	{ .key = "db.pool_size",
	  .type = CFG_INT,
	  .def = "0",
	  .min = 0,
	  .max = 256,
	  .offset = S(db_pool),
	  .help =
	      "database connections (0: one per HTTP thread and two per search thread, as many as "
	      "a hybrid search uses at once, so a request never waits for one)" },
	{ .key = "db.statement_timeout",
	  .type = CFG_DURATION,
	  .def = "2s",
	  .min = 10,
	  .max = 600000,
	  .offset = S(db_stmt_timeout_ms),
	  .help = "longest read; beyond it the request gets 503" },
	{ .key = "db.pool_wait",
	  .type = CFG_DURATION,
	  .def = "1s",
	  .min = 0,
	  .max = 60000,
	  .offset = S(db_wait_ms),
	  .help = "longest wait for a free connection before 503" },
	{ .key = "db.reconnect_interval",
	  .type = CFG_DURATION,
	  .def = "250ms",
	  .min = 10,
	  .max = 60000,
	  .offset = S(db_reconnect_ms),
	  .help = "least time between two connection attempts of one pool slot while the database "
	          "is down (requests in between get 503 at once)" },
	HTTP_CFG_ITEMS(S(http), "8102", "64KiB", 16LL << 20,
	               "largest request body (413 beyond); only the compat POST reads have one"),
	AUTH_KEYS_CFG_ITEMS(S(auth)),
	{ .key = "query.max_limit",
	  .type = CFG_INT,
	  .def = "500",
	  .min = 1,
	  .max = 10000,
	  .offset = S(max_limit),
	  .help = "largest limit=, summaries= or num_summaries= accepted (400 beyond)" },
	{ .key = "search.threads",
	  .type = CFG_INT,
	  .def = "2",
	  .min = 1,
	  .max = 64,
	  .offset = S(search_threads),
	  .help = "threads that run searches, off the HTTP threads (a search takes tens of "
	          "milliseconds; the live reads are not held behind one)" },
	{ .key = "search.queue",
	  .type = CFG_INT,
	  .def = "64",
	  .min = 1,
	  .max = 100000,
	  .offset = S(search_queue),
	  .help = "searches waiting for a search thread, at most (503 busy beyond)" },
	EMBED_CFG_ITEMS(S(embed)),
	HTTP_DRAIN_CFG_ITEM(S(http)),
	PROG_LOG_CFG_ITEM(S(log_level)),
};
#undef S

static const char query_usage[] =
    "Usage: aimem-query [options]\n"
    "\n"
    "The ai-memory read API: caller context, summaries, profiles, personality and search\n"
    "from PostgreSQL as aimem_reader, each request one read-only transaction of the token's\n"
    "tenant in one database round trip.\n"
    "Native routes: GET /v3/callers/{user_id}/context|summaries|profile|personality,\n"
    "  GET /v3/callers, GET /v3/calls/{call_id}, GET /v3/search\n"
    "ChatStack-compatible reads: GET /health, GET /v1/memories, GET /v1/memories/user/{id},\n"
    "  GET /v1/memories/shared, POST /v2/context/enriched, GET /v2/summaries/{id},\n"
    "  GET /v2/profiles, GET /v2/profile/{id}, GET /v2/personality/{id},\n"
    "  POST /v2/summaries/search, POST /memory/retrieve\n"
    "Also GET /healthz, /readyz (database reachable), /metrics.\n"
    "Signals: SIGTERM/SIGINT stop accepting, finish in-flight requests, exit 0;\n"
    "a second one exits at once. SIGHUP reads the settings again: log.level and the JWT\n"
    "keys (auth.jwt_secret_file or auth.public_key_file, a file or a folder of several,\n"
    "each named by its file: the kid) change live; the rest needs a restart.\n"
    "Under systemd (Type=notify) it reports READY=1 once /readyz answers 200,\n"
    "STOPPING=1 and WATCHDOG=1.\n";

static bool query_ready(void *ctx, char *why, size_t whylen)
{
	const struct query_api *api = ctx;
	return qdb_ready(api->db, why, whylen);
}

/* Native and compat routes in one table (lib/http copies it). */
static struct http_route *query_routes(size_t *n)
{
	*n = query_native_nroutes + query_compat_nroutes;
	struct http_route *r = xmallocarray(*n, sizeof(*r));
	memcpy(r, query_native_routes, query_native_nroutes * sizeof(*r));
	memcpy(r + query_native_nroutes, query_compat_routes, query_compat_nroutes * sizeof(*r));
	return r;
}

/* prog_info.check and prog_on_reload: the JWT keys (lib/auth_keys); log.level is prog's. */
static int query_check(const void *settings, char *err, size_t errlen)
{
	return auth_keys_check(&((const struct query_settings *)settings)->auth, err, errlen);
}

static int query_reload(const void *fresh, void *ctx, char *err, size_t errlen)
{
	return auth_keys_reload(&((const struct query_settings *)fresh)->auth, ctx, err, errlen);
}

int main(int argc, char **argv)
{
	struct query_settings s = { 0 };
	const struct prog_info info = {
		.name = "aimem-query",
		.usage = query_usage,
		.items = query_items,
		.nitems = sizeof(query_items) / sizeof(query_items[0]),
		.settings = &s,
		.check = query_check,
	};
	struct cfg *cfg = NULL;
	enum prog_action action = prog_start_no_args(&info, argc, argv, &cfg);
	if (action != PROG_RUN)
		return action == PROG_EXIT_OK ? 0 : 2;

	struct query_api api = { .max_limit = s.max_limit };
	struct metrics *m = metrics_new();
	char err[512];
	int rc = 1;
	struct http_server *srv = NULL;
	struct auth_verifier *auth = auth_keys_verifier(&s.auth, err, sizeof(err));
	if (auth == NULL) {
		fprintf(stderr, "aimem-query: %s\n", err);
		rc = 2; /* bad configuration: refuse to start */
		goto out;
	}
	api.auth = auth;
	prog_on_reload(query_reload, auth); /* SIGHUP: the keys read again */
	/* the same embed.* settings as aimem-embedder: queries and passages share a model id */
	if ((api.emb = embed_open(&s.embed, m, err, sizeof(err))) == NULL) {
		fprintf(stderr, "aimem-query: %s\n", err);
		rc = 2;
		goto out;
	}
	const struct qdb_config qc = {
		.url = s.db_url,
		.size = (unsigned)(s.db_pool ? s.db_pool : s.http.threads + 2 * s.search_threads),
		.statement_timeout_ms = s.db_stmt_timeout_ms,
		.wait_ms = s.db_wait_ms,
		.reconnect_ms = s.db_reconnect_ms,
	};
	api.db = qdb_new(&qc, m);
	api.m = m;
	/* read-your-writes reads a standby could not serve: the primary of the same list, its
	 * connections opened only when such a read comes (none with a single primary) */
	struct qdb_config pc = qc;
	pc.session_attrs = "primary";
	pc.down_effect = "read-your-writes reads the standby cannot serve get its answer "
	                 "(Aimem-Context-Fresh: false) until the primary is back";
	api.primary = qdb_new(&pc, NULL); /* its own metrics would mix with the main pool's */
	char why[256];
	if (!qdb_ready(api.db, why, sizeof(why))) /* not fatal: /readyz says so until it is */
		log_warn("database not reachable at start-up; serving 503 until it is");
	api.searches = search_pool_new((unsigned)s.search_threads, (unsigned)s.search_queue, m);
	const struct http_config hc =
	    http_settings_config(&s.http, "aimem-query", aimem_openapi_json);
	size_t nroutes;
	struct http_route *routes = query_routes(&nroutes);
	srv = http_server_start(&hc, routes, nroutes, &api, query_ready, m, err, sizeof(err));
	free(routes);
	if (srv == NULL) {
		log_error("cannot start the HTTP server: %s", err);
		goto out;
	}
	log_info("ready bind=%s port=%d threads=%lld pool=%u", s.http.bind, http_server_port(srv),
	         s.http.threads, qc.size);

	/* until SIGTERM: READY=1 once /readyz answers 200 (the database reachable), WATCHDOG=1,
	 * SIGHUP reloads */
	http_server_wait(srv);

	log_info("stopping: no new connections, draining in-flight requests drain_ms=%lld",
	         s.http.drain_ms);
	http_server_stop(&srv, s.http.drain_ms);
	rc = 0;
out:
	http_server_stop(&srv, 0);
	search_pool_free(&api.searches); /* after the server: its drain lets searches finish */
	qdb_free(&api.db);
	qdb_free(&api.primary);
	embed_close(&api.emb);
	prog_on_reload(NULL, NULL); /* before the keys it swaps go */
	auth_verifier_free(&auth);
	metrics_free(&m);
	cfg_free(&cfg);
	if (rc == 0)
		log_info("stopped");
	return rc;
}

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
#include "embed.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "metrics.h"
#include "prog.h"
#include "qdb.h"
#include "sig.h"
#include "xalloc.h"

struct query_settings {
	char *db_url;
	long long db_pool, db_stmt_timeout_ms, db_wait_ms, db_reconnect_ms;
	char *http_bind;
	long long http_port, http_threads, http_conn_timeout_ms, http_max_conns;
	long long http_max_conns_per_ip, http_max_body, http_max_header;
	struct auth_keys_settings auth; /* the auth.* section (lib/auth_keys.h) */
	long long max_limit, drain_ms;
	char *log_level;
	struct embed_settings embed; /* the embed.* section (lib/embed.h): query embeddings */
};

#define S(field) offsetof(struct query_settings, field)
static const struct cfg_item query_items[] = {
	{ "db.url", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET | CFG_REQUIRED, S(db_url),
	  "libpq connection string as aimem_reader" },
	{ "db.pool_size", CFG_INT, "0", 0, 256, NULL, 0, S(db_pool),
	  "database connections (0: one per HTTP thread, so a request never waits for one)" },
	{ "db.statement_timeout", CFG_DURATION, "2s", 10, 600000, NULL, 0, S(db_stmt_timeout_ms),
	  "longest read; beyond it the request gets 503" },
	{ "db.pool_wait", CFG_DURATION, "1s", 0, 60000, NULL, 0, S(db_wait_ms),
	  "longest wait for a free connection before 503" },
	{ "db.reconnect_interval", CFG_DURATION, "250ms", 10, 60000, NULL, 0, S(db_reconnect_ms),
	  "least time between two connection attempts of one pool slot while the database is "
	  "down (requests in between get 503 at once)" },
	{ "http.bind", CFG_STRING, "127.0.0.1", 0, 0, NULL, 0, S(http_bind),
	  "address to listen on" },
	{ "http.port", CFG_INT, "8102", 0, 65535, NULL, 0, S(http_port),
	  "TCP port (0: any free port)" },
	{ "http.threads", CFG_INT, "4", 2, 256, NULL, 0, S(http_threads), "HTTP worker threads" },
	{ "http.connection_timeout", CFG_DURATION, "30s", 1000, 3600000, NULL, 0,
	  S(http_conn_timeout_ms), "idle connection timeout" },
	{ "http.max_connections", CFG_INT, "1024", 1, 100000, NULL, 0, S(http_max_conns),
	  "open connections at most" },
	{ "http.max_connections_per_ip", CFG_INT, "0", 0, 100000, NULL, 0, S(http_max_conns_per_ip),
	  "open connections per client address (0: no limit)" },
	{ "http.max_body", CFG_SIZE, "64KiB", 1024, 16LL << 20, NULL, 0, S(http_max_body),
	  "largest request body (413 beyond); only the compat POST reads have one" },
	{ "http.max_header", CFG_SIZE, "32KiB", 4096, 1LL << 20, NULL, 0, S(http_max_header),
	  "memory for the request line and headers" },
	AUTH_KEYS_CFG_ITEMS(S(auth)),
	{ "query.max_limit", CFG_INT, "500", 1, 10000, NULL, 0, S(max_limit),
	  "largest limit=, summaries= or num_summaries= accepted (400 beyond)" },
	EMBED_CFG_ITEMS(S(embed)),
	{ "shutdown.drain", CFG_DURATION, "10s", 0, 300000, NULL, 0, S(drain_ms),
	  "how long SIGTERM waits for in-flight requests" },
	{ "log.level", CFG_ENUM, "info", 0, 0, "debug|info|warn|error", 0, S(log_level),
	  "lowest level logged" },
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
	const struct prog_info info = { "aimem-query",
		                        query_usage,
		                        query_items,
		                        sizeof(query_items) / sizeof(query_items[0]),
		                        &s,
		                        NULL,
		                        query_check };
	struct cfg *cfg = NULL;
	int argi = 0;
	sig_setup(); /* before MHD starts threads */
	enum prog_action action = prog_start(&info, argc, argv, &cfg, &argi);
	if (action != PROG_RUN)
		return action == PROG_EXIT_OK ? 0 : 2;
	if (argi < argc) {
		fprintf(stderr, "aimem-query: unexpected argument \"%s\"\n", argv[argi]);
		cfg_free(&cfg);
		return 2;
	}

	char err[512];
	int rc = 1;
	struct metrics *m = metrics_new();
	struct query_api api = { .max_limit = s.max_limit };
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
	const struct qdb_config qc = { s.db_url, (unsigned)(s.db_pool ? s.db_pool : s.http_threads),
		                       s.db_stmt_timeout_ms, s.db_wait_ms, s.db_reconnect_ms };
	api.db = qdb_new(&qc, m);
	char why[256];
	if (!qdb_ready(api.db, why, sizeof(why))) /* not fatal: /readyz says so until it is */
		log_warn("database not reachable at start-up; serving 503 until it is");
	const struct http_config hc = { .bind = s.http_bind,
		                        .port = (int)s.http_port,
		                        .threads = (unsigned)s.http_threads,
		                        .conn_timeout_s = s.http_conn_timeout_ms / 1000,
		                        .max_conns = (unsigned)s.http_max_conns,
		                        .max_conns_per_ip = (unsigned)s.http_max_conns_per_ip,
		                        .max_body = (size_t)s.http_max_body,
		                        .max_header = (size_t)s.http_max_header,
		                        .program = "aimem-query",
		                        .openapi_json = aimem_openapi_json };
	size_t nroutes;
	struct http_route *routes = query_routes(&nroutes);
	srv = http_server_start(&hc, routes, nroutes, &api, query_ready, m, err, sizeof(err));
	free(routes);
	if (srv == NULL) {
		log_error("cannot start the HTTP server: %s", err);
		goto out;
	}
	log_info("ready bind=%s port=%d threads=%lld pool=%u", s.http_bind, http_server_port(srv),
	         s.http_threads, qc.size);

	/* systemd (Type=notify): READY=1 once /readyz answers 200 (the database reachable), which the
	 * units' curl probe used to wait for; sig_wait sends WATCHDOG=1; SIGHUP reloads */
	for (bool ready = false; !sig_stop_requested(); sig_wait(ready ? 1000 : 100)) {
		if (!ready && (ready = query_ready(&api, why, sizeof(why))))
			notify_ready("serving");
	}
	notify_stopping();

	log_info("stopping: no new connections, draining in-flight requests drain_ms=%lld",
	         s.drain_ms);
	http_server_stop(&srv, s.drain_ms);
	rc = 0;
out:
	http_server_stop(&srv, 0);
	qdb_free(&api.db);
	embed_close(&api.emb);
	prog_on_reload(NULL, NULL); /* before the keys it swaps go */
	auth_verifier_free(&auth);
	metrics_free(&m);
	cfg_free(&cfg);
	if (rc == 0)
		log_info("stopped");
	return rc;
}

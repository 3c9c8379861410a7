/*
 * fuzz_http: libFuzzer target for the whole HTTP request path: raw bytes go over a loopback
 * TCP connection into a real libmicrohttpd daemon started by lib/http, with aimem-query's
 * real route table and handlers (query-api/api.c, native.c, compat.c, search.c) plus a few
 * test routes that reply later from another thread (the ingest gateway's shape) or echo a
 * body. Only the database is stubbed: qdb_query below answers from memory (one row of
 * plausible text columns, or the pool's failure statuses), so the target is the HTTP layer,
 * the auth check and the handlers' argument parsing, not SQL.
 *
 * Input: the bytes of one or more requests, sent as they are, then the write side is shut.
 * "@T@" anywhere in the input is replaced by a valid HS256 token (memory:read and
 * memory:write, customer 42) minted at start-up, so seeds with "Authorization: Bearer @T@"
 * get past auth into the handlers. The reply is read to EOF; a connection still open after
 * 3 s is a hang and aborts (libFuzzer's own -timeout=5 would also catch it). With
 * FUZZ_HTTP_SHOW set in the environment the replies are printed (to check seeds by eye).
 *
 * Built twice: with libFuzzer (make fuzz) and, with tests/fuzz/replay.c as main, by the
 * ordinary build so `make test` replays seeds and regression inputs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "qdb.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_HANG_MS 3000

static const char fz_secret[] = "fuzz-secret-0123456789-0123456789-abc";

/* ---- the stubbed database (replaces query-api/qdb.c) ---- */

struct qdb {
	int unused;
};

struct qdb *qdb_new(const struct qdb_config *cfg, struct metrics *m)
{
	(void)cfg;
	(void)m;
	return xcalloc(1, sizeof(struct qdb));
}

void qdb_free(struct qdb **q)
{
	if (q == NULL)
		return;
	free(*q);
	*q = NULL;
}

bool qdb_ready(struct qdb *q, char *why, size_t whylen)
{
	(void)q;
	(void)why;
	(void)whylen;
	return true;
}

bool qdb_healthy(struct qdb *q, long long max_age_ms)
{
	(void)q;
	(void)max_age_ms;
	return true;
}

/* Text columns every statement's readers accept: a JSON document first, then numbers, a
 * key, a string, booleans. */
static const char *const fz_row[] = {
	"{\"memories\":[]}", "1700000000000", "k1", "3", "text", "t", "0.5", "t"
};

static int fz_status(long long tenant, const struct qdb_stmt *st, const char *const *params)
{
	unsigned h = (unsigned)tenant * 31u;
	for (const char *p = st->name; *p; p++)
		h = h * 33u + (unsigned char)*p;
	for (int i = 0; i < st->nparams; i++)
		for (const char *p = params ? params[i] : NULL; p && *p; p++)
			h = h * 33u + (unsigned char)*p;
	switch (h % 8) {
	case 0:
		return QDB_UNAVAILABLE;
	case 1:
		return QDB_TIMEOUT;
	case 2:
		return QDB_ERROR;
	default:
		return QDB_OK;
	}
}

int qdb_query(struct qdb *q, long long tenant, const struct qdb_stmt *st, const char *const *params,
              PGresult **res, char *err, size_t errlen)
{
	(void)q;
	*res = NULL;
	int rc = fz_status(tenant, st, params);
	if (rc != QDB_OK) {
		snprintf(err, errlen, "stub failure %d", rc);
		return rc;
	}
	size_t ncols = sizeof(fz_row) / sizeof(fz_row[0]);
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[sizeof(fz_row) / sizeof(fz_row[0])];
	memset(attrs, 0, sizeof(attrs));
	static char names[sizeof(fz_row) / sizeof(fz_row[0])][8];
	for (size_t i = 0; i < ncols; i++) {
		snprintf(names[i], sizeof(names[i]), "c%zu", i);
		attrs[i].name = names[i];
		attrs[i].typid = 25; /* text */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	if (r == NULL || !PQsetResultAttrs(r, (int)ncols, attrs))
		abort();
	for (size_t i = 0; i < ncols; i++)
		if (!PQsetvalue(r, 0, (int)i, (char *)fz_row[i], (int)strlen(fz_row[i])))
			abort();
	*res = r;
	return QDB_OK;
}

/* ---- test routes: deferred replies, body echo ---- */

static void *fz_later_main(void *arg)
{
	struct http_exchange *ex = arg;
	size_t len;
	const char *body = http_body(ex, &len);
	if (len > 0)
		http_reply(ex, 200, "text/plain", body, len);
	else
		http_reply_error(ex, 409, "later", "a deferred reply");
	return NULL;
}

static enum http_outcome fz_deferred(struct http_exchange *ex, void *ctx)
{
	(void)ctx;
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, fz_later_main, ex) != 0)
		abort();
	pthread_attr_destroy(&a);
	return HTTP_DEFERRED;
}

static enum http_outcome fz_early(struct http_exchange *ex, void *ctx)
{
	(void)ctx;
	pthread_t t;
	if (pthread_create(&t, NULL, fz_later_main, ex) != 0)
		abort();
	pthread_join(t, NULL); /* replied before HTTP_DEFERRED is returned */
	return HTTP_DEFERRED;
}

static enum http_outcome fz_echo(struct http_exchange *ex, void *ctx)
{
	(void)ctx;
	const char *q = http_query(ex, "x");
	const char *h = http_header(ex, "X-Fz");
	http_add_header(ex, "X-Echo", h ? h : "none");
	if (q != NULL && q[0] == '4') {
		http_reply_error(ex, 422, "echo", q);
		return HTTP_DONE;
	}
	size_t len;
	const char *body = http_body(ex, &len);
	http_reply(ex, 200, NULL, body, len);
	return HTTP_DONE;
}

static const struct http_route fz_test_routes[] = {
	{ "GET", "/fz/deferred", "fz_deferred_get", fz_deferred },
	{ "POST", "/fz/deferred", "fz_deferred_post", fz_deferred },
	{ "POST", "/fz/early", "fz_early", fz_early },
	{ "POST", "/fz/echo/{}", "fz_echo", fz_echo },
	{ "PUT", "/fz/echo/{}", "fz_echo_put", fz_echo },
};

/* ---- the server, started once ---- */

static struct query_api fz_api;
static int fz_port;
static char *fz_token;

static void fz_start(void)
{
	char err[256];
	log_init("fuzz-http");
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull < 0)
		abort();
	log_set_fd(devnull);
	struct auth_config ac = { .alg = AUTH_HS256,
		                  .key = fz_secret,
		                  .key_len = strlen(fz_secret),
		                  .leeway_s = 60,
		                  .max_lifetime_s = 86400,
		                  .max_token_len = 8192 };
	struct auth_verifier *v = auth_verifier_new(&ac, err, sizeof(err));
	long long now = (long long)time(NULL);
	fz_token = auth_mint_hs256(fz_secret, strlen(fz_secret), 42, "memory:read memory:write",
	                           now, now + 80000, err, sizeof(err));
	if (v == NULL || fz_token == NULL)
		abort();
	fz_api.auth = v;
	fz_api.db = qdb_new(NULL, NULL);
	fz_api.max_limit = 100;
	/* the query embedder: the hashed provider (no model files, no network) */
	static struct embed_settings es = { .provider = "hashed",
		                            .dimensions = 384,
		                            .max_input_bytes = 8192 };
	if ((fz_api.emb = embed_open(&es, NULL, err, sizeof(err))) == NULL)
		abort();
	size_t ntest = sizeof(fz_test_routes) / sizeof(fz_test_routes[0]);
	size_t n = query_native_nroutes + query_compat_nroutes + ntest;
	struct http_route *r = xmallocarray(n, sizeof(*r));
	memcpy(r, query_native_routes, query_native_nroutes * sizeof(*r));
	memcpy(r + query_native_nroutes, query_compat_routes, query_compat_nroutes * sizeof(*r));
	memcpy(r + query_native_nroutes + query_compat_nroutes, fz_test_routes, ntest * sizeof(*r));
	const struct http_config hc = { .bind = "127.0.0.1",
		                        .port = 0,
		                        .threads = 2,
		                        .conn_timeout_s = 2,
		                        .max_conns = 64,
		                        .max_body = 16 * 1024,
		                        .max_header = 8 * 1024,
		                        .program = "fuzz-http" };
	struct http_server *srv =
	    http_server_start(&hc, r, n, &fz_api, NULL, metrics_new(), err, sizeof(err));
	free(r);
	if (srv == NULL) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	fz_port = http_server_port(srv);
}

/* The input with every "@T@" replaced by the token (owned). */
static char *fz_expand(const uint8_t *data, size_t size, size_t *outlen)
{
	size_t tl = strlen(fz_token), cap = size + 1, n = 0;
	for (size_t i = 0; i + 3 <= size; i++)
		if (memcmp(data + i, "@T@", 3) == 0)
			cap += tl;
	char *out = xmalloc(cap);
	for (size_t i = 0; i < size;) {
		if (i + 3 <= size && memcmp(data + i, "@T@", 3) == 0) {
			memcpy(out + n, fz_token, tl);
			n += tl;
			i += 3;
		} else {
			out[n++] = (char)data[i++];
		}
	}
	*outlen = n;
	return out;
}

static long long fz_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends req and reads to EOF, interleaved (the server may answer or close before it has
 * read everything). Aborts after FZ_HANG_MS. */
static void fz_exchange(const char *req, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)fz_port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
		abort();
	size_t off = 0;
	bool wr_done = false;
	long long deadline = fz_ms() + FZ_HANG_MS;
	char sink[16384];
	for (;;) {
		if (!wr_done && off == len) {
			shutdown(fd, SHUT_WR);
			wr_done = true;
		}
		struct pollfd p = { fd, (short)(POLLIN | (wr_done ? 0 : POLLOUT)), 0 };
		long long left = deadline - fz_ms();
		if (left <= 0) {
			fprintf(stderr, "fuzz_http: no EOF after %d ms (hang)\n", FZ_HANG_MS);
			abort();
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			abort();
		if (p.revents & POLLIN || p.revents & (POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, sink, sizeof(sink) - 1, 0);
			if (r > 0 && getenv("FUZZ_HTTP_SHOW") != NULL) { /* to check seeds by eye */
				sink[r] = '\0';
				fprintf(stderr, "%s\n", sink);
			}
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break; /* EOF or reset: the server is done with us */
		}
		if (!wr_done && (p.revents & POLLOUT)) {
			ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				wr_done = true; /* the server closed on us; keep reading */
		}
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, fz_start);
	size_t len;
	char *req = fz_expand(data, size, &len);
	fz_exchange(req, len);
	free(req);
	return 0;
}

/*
 * Unit tests for lib/http: a real server on 127.0.0.1 (ephemeral port) inside each test,
 * driven through raw sockets so framing attacks can be sent byte for byte.
 *
 * What libmicrohttpd 0.9.75 does on its own, pinned here so an upgrade that changes it
 * fails loudly: an oversized header block gets MHD's 431 with an HTML body; a Content-Length
 * that is not a plain number gets MHD's 400 with an HTML body (its header block sent twice);
 * both close the connection and never reach our handler.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "http.h"
#include "http_route.h"
#include "log.h"
#include "metrics.h"
#include "unit.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define HT_WAIT_MS 10000 /* generous: valgrind and sanitizers slow everything down */
#define HT_MAX_BODY 1024

/* ---- the program side: handlers and their context ---- */

struct ht_ctx {
	atomic_int calls; /* handler invocations, all routes */
	atomic_bool not_ready;
	pthread_mutex_t mu;
	struct http_exchange *held; /* parked by /hold until the test replies */
	pthread_t threads[16];
	int nthreads;
};

static struct ht_ctx *ht_ctx_of(void *ctx)
{
	struct ht_ctx *c = ctx;
	atomic_fetch_add(&c->calls, 1);
	return c;
}

/* Echoes what the handler sees as JSON-ish text (no escaping needed for the test input). */
static enum http_outcome ht_echo(struct http_exchange *ex, void *ctx)
{
	ht_ctx_of(ctx);
	size_t len = 0;
	const char *body = http_body(ex, &len);
	char text[4096];
	const char *q = http_query(ex, "q");
	int n = snprintf(
	    text, sizeof(text),
	    "route=%s method=%s path=%s p0=%s p1=%s q=%s len=%zu body=", http_route_name(ex),
	    http_method(ex), http_path(ex), http_param(ex, 0) ? http_param(ex, 0) : "(none)",
	    http_param(ex, 1) ? http_param(ex, 1) : "(none)", q ? q : "(none)", len);
	size_t room = sizeof(text) - (size_t)n;
	size_t copy = len < room ? len : room;
	memcpy(text + n, body, copy);
	http_reply(ex, 200, "text/plain", text, (size_t)n + copy);
	return HTTP_DONE;
}

static enum http_outcome ht_query(struct http_exchange *ex, void *ctx)
{
	ht_ctx_of(ctx);
	char text[512];
	const char *names[] = { "a", "b", "c", "flag", "missing", "e" };
	size_t o = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = http_query(ex, names[i]);
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s=[%s];", names[i],
		                      v ? v : "NULL");
	}
	http_reply(ex, 200, "text/plain", text, o);
	return HTTP_DONE;
}

static enum http_outcome ht_headers(struct http_exchange *ex, void *ctx)
{
	ht_ctx_of(ctx);
	const char *custom = http_header(ex, "x-CUSTOM");
	http_add_header(ex, "ETag", "\"v1\"");
	http_add_header(ex, "Retry-After", "7");
	http_add_header(ex, "Bad Name", "x");           /* dropped: not a token */
	http_add_header(ex, "X-Evil", "a\r\nSet: b");   /* dropped: CR LF */
	http_add_header(ex, "Content-Length", "99999"); /* dropped: the server's */
	http_reply_error(ex, 429, "slow_down", custom ? custom : "none");
	return HTTP_DONE;
}

static enum http_outcome ht_escape(struct http_exchange *ex, void *ctx)
{
	ht_ctx_of(ctx);
	http_reply_error(ex, 400, "c\"ode", "quote\" back\\ nl\n ctl\x01 bad\xff ok\xc3\xa9");
	return HTTP_DONE;
}

static enum http_outcome ht_forgot(struct http_exchange *ex, void *ctx)
{
	(void)ex;
	ht_ctx_of(ctx);
	return HTTP_DONE; /* a bug: no reply; the server answers 500 */
}

struct ht_later {
	struct http_exchange *ex;
	int delay_ms;
};

static void *ht_later_main(void *arg)
{
	struct ht_later *l = arg;
	if (l->delay_ms > 0) {
		struct timespec ts = { 0, (long)l->delay_ms * 1000000L };
		nanosleep(&ts, NULL);
	}
	char text[128];
	int n =
	    snprintf(text, sizeof(text), "{\"late\":true,\"id\":\"%s\"}", http_request_id(l->ex));
	http_reply_json(l->ex, 200, text, (size_t)n);
	free(l);
	return NULL;
}

static void ht_spawn_reply(struct ht_ctx *c, struct http_exchange *ex, int delay_ms)
{
	struct ht_later *l = malloc(sizeof(*l));
	l->ex = ex;
	l->delay_ms = delay_ms;
	pthread_mutex_lock(&c->mu);
	UNIT_REQUIRE(c->nthreads < 16);
	UNIT_REQUIRE(pthread_create(&c->threads[c->nthreads++], NULL, ht_later_main, l) == 0);
	pthread_mutex_unlock(&c->mu);
}

/* Replies from another thread 50 ms later (the ingest gateway's shape). */
static enum http_outcome ht_deferred(struct http_exchange *ex, void *ctx)
{
	ht_spawn_reply(ht_ctx_of(ctx), ex, 50);
	return HTTP_DEFERRED;
}

/* Another thread replies before the handler even returns HTTP_DEFERRED. */
static enum http_outcome ht_early(struct http_exchange *ex, void *ctx)
{
	ht_ctx_of(ctx);
	struct ht_later *l = malloc(sizeof(*l));
	l->ex = ex;
	l->delay_ms = 0;
	pthread_t t;
	UNIT_REQUIRE(pthread_create(&t, NULL, ht_later_main, l) == 0);
	pthread_join(t, NULL); /* the reply is in */
	return HTTP_DEFERRED;
}

/* Parks the exchange for the test to answer (or never). */
static enum http_outcome ht_hold(struct http_exchange *ex, void *ctx)
{
	struct ht_ctx *c = ht_ctx_of(ctx);
	pthread_mutex_lock(&c->mu);
	c->held = ex;
	pthread_mutex_unlock(&c->mu);
	return HTTP_DEFERRED;
}

static bool ht_ready(void *ctx, char *why, size_t whylen)
{
	struct ht_ctx *c = ctx;
	if (!atomic_load(&c->not_ready))
		return true;
	snprintf(why, whylen, "database unreachable");
	return false;
}

static const struct http_route ht_routes[] = {
	{ "GET", "/v3/memories/{}", "v3_memories_get", ht_echo },
	{ "DELETE", "/v3/memories/{}", "v3_memories_delete", ht_echo },
	{ "POST", "/v3/calls", "v3_calls", ht_echo },
	{ "GET", "/v3/callers/{}/context", "v3_context", ht_echo },
	{ "GET", "/v1/memories/{}", "v1_memories_get", ht_echo },
	{ "GET", "/v1/memories/user", "v1_memories_user", ht_echo },
	{ "GET", "/v1/{}/{}", "v1_two", ht_echo },
	{ "GET", "/query", "query", ht_query },
	{ "GET", "/headers", "headers", ht_headers },
	{ "GET", "/escape", "escape", ht_escape },
	{ "GET", "/forgot", "forgot", ht_forgot },
	{ "GET", "/deferred", "deferred", ht_deferred },
	{ "GET", "/early", "early", ht_early },
	{ "GET", "/hold", "hold", ht_hold },
};

/* ---- a test server ---- */

struct ht_env {
	struct ht_ctx ctx;
	struct metrics *m;
	struct http_server *srv;
	int port;
	int log_fd;
	char log_path[64];
};

static void ht_start_cfg(struct ht_env *e, const struct http_config *cfg)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->ctx.mu, NULL);
	snprintf(e->log_path, sizeof(e->log_path), "/tmp/aimem-test-http-XXXXXX");
	e->log_fd = mkstemp(e->log_path);
	UNIT_REQUIRE(e->log_fd >= 0);
	unlink(e->log_path);
	log_init("test-http");
	log_set_fd(e->log_fd);
	log_set_level(LOG_LEVEL_INFO);
	e->m = metrics_new();
	char err[256] = "";
	e->srv = http_server_start(cfg, ht_routes, sizeof(ht_routes) / sizeof(ht_routes[0]),
	                           &e->ctx, ht_ready, e->m, err, sizeof(err));
	if (e->srv == NULL)
		fprintf(stderr, "    start: %s\n", err);
	UNIT_REQUIRE(e->srv != NULL);
	e->port = http_server_port(e->srv);
	UNIT_REQUIRE(e->port > 0);
}

static void ht_start(struct ht_env *e)
{
	struct http_config cfg = { .bind = "127.0.0.1",
		                   .port = 0,
		                   .threads = 2,
		                   .conn_timeout_s = 10,
		                   .max_conns = 64,
		                   .max_body = HT_MAX_BODY,
		                   .max_header = 16 * 1024,
		                   .program = "test" };
	ht_start_cfg(e, &cfg);
}

/* The whole log so far (static buffer). */
static const char *ht_log(struct ht_env *e)
{
	static char text[1 << 16];
	ssize_t n = pread(e->log_fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

static void ht_join_threads(struct ht_env *e)
{
	pthread_mutex_lock(&e->ctx.mu);
	int n = e->ctx.nthreads;
	e->ctx.nthreads = 0;
	pthread_mutex_unlock(&e->ctx.mu);
	for (int i = 0; i < n; i++)
		pthread_join(e->ctx.threads[i], NULL);
}

static void ht_stop(struct ht_env *e)
{
	http_server_stop(&e->srv, 2000);
	CHECK(e->srv == NULL);
	ht_join_threads(e);
	metrics_free(&e->m);
	log_set_fd(2);
	close(e->log_fd);
	pthread_mutex_destroy(&e->ctx.mu);
}

/* ---- a raw client ---- */

struct ht_conn {
	int fd;
	size_t len;
	char buf[1 << 16];
};

struct ht_resp {
	int status;
	char head[8192];
	char body[1 << 14];
	size_t body_len;
};

static struct ht_conn *ht_connect(int port)
{
	struct ht_conn *c = calloc(1, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	UNIT_REQUIRE(c->fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	UNIT_REQUIRE(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

static void ht_close(struct ht_conn **c)
{
	if (*c) {
		close((*c)->fd);
		free(*c);
		*c = NULL;
	}
}

static void ht_send(struct ht_conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		UNIT_REQUIRE(n > 0);
		data += n;
		len -= (size_t)n;
	}
}

static void ht_send_str(struct ht_conn *c, const char *s)
{
	ht_send(c, s, strlen(s));
}

/* Reads more bytes into c->buf; 1 read, 0 EOF (or reset), -1 timeout. */
static int ht_fill(struct ht_conn *c, long long deadline_ms)
{
	for (;;) {
		long long left = deadline_ms - backoff_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -1;
		UNIT_REQUIRE(c->len < sizeof(c->buf));
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		c->len += (size_t)n;
		return 1;
	}
}

/* A header's value in a response head (case-insensitive name), or NULL. Static buffer. */
static const char *ht_header(const struct ht_resp *r, const char *name)
{
	static char value[512];
	size_t nl = strlen(name);
	for (const char *p = strstr(r->head, "\r\n"); p && p[2] != '\0';
	     p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = strcspn(v, "\r");
			if (vl >= sizeof(value))
				vl = sizeof(value) - 1;
			memcpy(value, v, vl);
			value[vl] = '\0';
			return value;
		}
	}
	return NULL;
}

/* Reads one response (head_only: a HEAD response, no body). False on EOF or timeout. */
static bool ht_read_resp(struct ht_conn *c, struct ht_resp *r, bool head_only)
{
	long long deadline = backoff_now_ms() + HT_WAIT_MS;
	memset(r, 0, sizeof(*r));
	char *end;
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
		if (ht_fill(c, deadline) <= 0)
			return false;
	size_t hlen = (size_t)(end - c->buf) + 4;
	UNIT_REQUIRE(hlen < sizeof(r->head));
	memcpy(r->head, c->buf, hlen);
	r->head[hlen] = '\0';
	UNIT_REQUIRE(sscanf(r->head, "HTTP/1.%*d %d", &r->status) == 1);
	const char *cl = ht_header(r, "Content-Length");
	size_t blen = head_only || cl == NULL ? 0 : strtoul(cl, NULL, 10);
	UNIT_REQUIRE(blen < sizeof(r->body));
	while (c->len < hlen + blen)
		if (ht_fill(c, deadline) <= 0)
			return false;
	memcpy(r->body, c->buf + hlen, blen);
	r->body[blen] = '\0';
	r->body_len = blen;
	memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
	c->len -= hlen + blen;
	return true;
}

/* True if the server closes the connection with nothing more to read. */
static bool ht_closed(struct ht_conn *c)
{
	long long deadline = backoff_now_ms() + HT_WAIT_MS;
	for (;;) {
		int r = ht_fill(c, deadline);
		if (r == 0)
			return c->len == 0;
		if (r < 0)
			return false;
	}
}

/* One request on a fresh connection; the response must come. */
static void ht_roundtrip(struct ht_env *e, const char *req, struct ht_resp *r)
{
	struct ht_conn *c = ht_connect(e->port);
	ht_send_str(c, req);
	UNIT_REQUIRE(ht_read_resp(c, r, false));
	ht_close(&c);
}

static bool ht_wait_until(bool (*cond)(void *), void *arg)
{
	long long deadline = backoff_now_ms() + HT_WAIT_MS;
	while (!cond(arg)) {
		if (backoff_now_ms() > deadline)
			return false;
		struct timespec ts = { 0, 2 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return true;
}

static bool ht_is_held(void *arg)
{
	struct ht_ctx *c = arg;
	pthread_mutex_lock(&c->mu);
	bool held = c->held != NULL;
	pthread_mutex_unlock(&c->mu);
	return held;
}

static struct http_exchange *ht_take_held(struct ht_ctx *c)
{
	UNIT_REQUIRE(ht_wait_until(ht_is_held, c));
	pthread_mutex_lock(&c->mu);
	struct http_exchange *ex = c->held;
	c->held = NULL;
	pthread_mutex_unlock(&c->mu);
	return ex;
}

static bool ht_idle(void *arg)
{
	struct ht_env *e = arg;
	return metrics_gauge_value(metrics_gauge(e->m, "aimem_http_in_flight", "", "")) == 0;
}

/* ---- routing ---- */

UNIT_TEST(http_routes_get_post_delete_with_captures)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e, "GET /v3/memories/ab%2Fc%20d HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "route=v3_memories_get method=GET path=/v3/memories/ab%2Fc%20d "
	                       "p0=ab/c d p1=(none)");
	ht_roundtrip(&e, "DELETE /v3/memories/m-1 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "route=v3_memories_delete method=DELETE");
	CHECK_CONTAINS(r.body, "p0=m-1");
	ht_roundtrip(&e, "GET /v3/callers/%2B4930%20123/context?q=5 HTTP/1.1\r\nHost: x\r\n\r\n",
	             &r);
	CHECK_CONTAINS(r.body, "route=v3_context");
	CHECK_CONTAINS(r.body, "p0=+4930 123");
	CHECK_CONTAINS(r.body, "q=5");
	ht_roundtrip(&e, "GET /v1/a/b HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_CONTAINS(r.body, "route=v1_two");
	CHECK_CONTAINS(r.body, "p0=a p1=b");
	ht_roundtrip(&e,
	             "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	             "Content-Length: 11\r\n\r\n{\"a\":\"b\"}\r\n",
	             &r);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "route=v3_calls method=POST path=/v3/calls");
	CHECK_CONTAINS(r.body, "len=11 body={\"a\":\"b\"}\r\n");
	CHECK_STR(ht_header(&r, "Content-Type"), "text/plain");
	CHECK_INT(atomic_load(&e.ctx.calls), 5);
	ht_stop(&e);
}

UNIT_TEST(http_literal_segment_beats_capture)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e, "GET /v1/memories/user HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_CONTAINS(r.body, "route=v1_memories_user");
	ht_roundtrip(&e, "GET /v1/memories/123 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_CONTAINS(r.body, "route=v1_memories_get");
	CHECK_CONTAINS(r.body, "p0=123");
	/* the literal segment compares raw bytes: an encoded "user" is a capture */
	ht_roundtrip(&e, "GET /v1/memories/%75ser HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_CONTAINS(r.body, "route=v1_memories_get");
	CHECK_CONTAINS(r.body, "p0=user");
	ht_stop(&e);
}

UNIT_TEST(http_not_found_and_method_not_allowed)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 404);
	CHECK_STR(ht_header(&r, "Content-Type"), "application/json");
	CHECK_STR(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}");
	CHECK(ht_header(&r, "Connection") == NULL); /* a 404 keeps the connection */
	ht_roundtrip(&e, "GET /v3/memories/ HTTP/1.1\r\nHost: x\r\n\r\n", &r); /* empty {} */
	CHECK_INT(r.status, 404);
	ht_roundtrip(&e, "GET /v3/memories/a/ HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 404);
	ht_roundtrip(&e, "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r); /* absolute */
	CHECK_INT(r.status, 404);
	ht_roundtrip(&e, "POST /v3/memories/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	             &r);
	CHECK_INT(r.status, 405);
	CHECK_STR(ht_header(&r, "Allow"), "GET, DELETE");
	CHECK_CONTAINS(r.body, "\"code\":\"method_not_allowed\"");
	ht_roundtrip(&e, "PUT /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK_INT(r.status, 405);
	CHECK_STR(ht_header(&r, "Allow"), "GET, HEAD");
	ht_roundtrip(&e, "GET /v3/memories/a%zz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 400);
	CHECK_CONTAINS(r.body, "malformed path");
	ht_roundtrip(&e, "GET /v3/memories/a%00b HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 400);
	CHECK_INT(atomic_load(&e.ctx.calls), 0);
	ht_stop(&e);
}

UNIT_TEST(http_query_arguments_decoded)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e,
	             "GET /query?a=1&b=x+y%21&&c=%41%e2%82%ac&flag&a=2&e= HTTP/1.1\r\n"
	             "Host: x\r\n\r\n",
	             &r);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "a=[1];b=[x y!];c=[A\xe2\x82\xac];flag=[];missing=[NULL];e=[];");
	ht_roundtrip(&e, "GET /query?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 400);
	CHECK_CONTAINS(r.body, "malformed query string");
	ht_roundtrip(&e, "GET /query?a=%00 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 400);
	CHECK_INT(atomic_load(&e.ctx.calls), 1);
	ht_stop(&e);
}

/* ---- bodies ---- */

UNIT_TEST(http_body_echo_binary_and_chunked)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	struct ht_conn *c = ht_connect(e.port);
	static const char req[] = "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
	                          "a\0b\0c";
	ht_send(c, req, sizeof(req) - 1);
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "len=5 body=a");
	CHECK(r.body_len >= 5 && memcmp(r.body + r.body_len - 5, "a\0b\0c", 5) == 0);
	/* chunked under the limit, on the same connection */
	ht_send_str(c, "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "len=11 body=hello world");
	/* exactly max_body is fine */
	char big[200 + HT_MAX_BODY];
	int n = snprintf(big, sizeof(big),
	                 "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
	                 HT_MAX_BODY);
	memset(big + n, 'z', HT_MAX_BODY);
	ht_send(c, big, (size_t)n + HT_MAX_BODY);
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "len=1024 body=zzz");
	ht_close(&c);
	ht_stop(&e);
}

UNIT_TEST(http_413_by_content_length_without_reading)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	struct ht_conn *c = ht_connect(e.port);
	/* the body is never sent: the answer must come from the header alone */
	ht_send_str(c, "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n"
	               "Expect: 100-continue\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 413);
	CHECK_STR(ht_header(&r, "Connection"), "close");
	CHECK_STR(r.body, "{\"error\":{\"code\":\"payload_too_large\",\"message\":\"request body "
	                  "too large\"}}");
	CHECK(ht_closed(c));
	ht_close(&c);
	CHECK_INT(atomic_load(&e.ctx.calls), 0);
	ht_stop(&e);
}

UNIT_TEST(http_413_by_chunked_body)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	struct ht_conn *c = ht_connect(e.port);
	ht_send_str(c, "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	char chunk[700];
	memset(chunk, 'y', sizeof(chunk));
	for (int i = 0; i < 2; i++) { /* 1400 bytes > 1024 */
		ht_send_str(c, "2bc\r\n");
		ht_send(c, chunk, sizeof(chunk));
		ht_send_str(c, "\r\n");
	}
	ht_send_str(c, "0\r\n\r\nGET /v3/memories/next HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 413);
	CHECK_STR(ht_header(&r, "Connection"), "close");
	CHECK(ht_closed(c)); /* and the request behind it is not served */
	ht_close(&c);

	/* far beyond the limit (past 2 x max_body + slack) the connection is cut unanswered */
	c = ht_connect(e.port);
	ht_send_str(c, "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 200; i++) {
		if (send(c->fd, "2bc\r\n", 5, MSG_NOSIGNAL) < 0 ||
		    send(c->fd, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0 ||
		    send(c->fd, "\r\n", 2, MSG_NOSIGNAL) < 0)
			break;
	}
	CHECK(!ht_read_resp(c, &r, false));
	ht_close(&c);
	CHECK_INT(atomic_load(&e.ctx.calls), 0);
	UNIT_REQUIRE(ht_wait_until(ht_idle, &e));
	CHECK_CONTAINS(ht_log(&e), "route=too_large status=413");
	ht_stop(&e);
}

/* ---- framing attacks: 400, connection closed, the pipelined request never runs ---- */

static void ht_expect_framing_400(struct ht_env *e, const char *attack, const char *why)
{
	int before = atomic_load(&e->ctx.calls);
	struct ht_conn *c = ht_connect(e->port);
	ht_send_str(c, attack);
	ht_send_str(c, "GET /v3/memories/smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
	struct ht_resp r;
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 400);
	CHECK_STR(ht_header(&r, "Connection"), "close");
	CHECK_STR(ht_header(&r, "Content-Type"), "application/json");
	CHECK_CONTAINS(r.body, "{\"error\":{\"code\":\"bad_request\",\"message\":\"");
	CHECK_CONTAINS(r.body, why);
	CHECK(ht_closed(c));
	ht_close(&c);
	CHECK_INT(atomic_load(&e->ctx.calls), before);
}

UNIT_TEST(http_framing_te_with_cl_rejected)
{
	struct ht_env e;
	ht_start(&e);
	ht_expect_framing_400(&e,
	                      "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
	                      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	                      "Transfer-Encoding together with Content-Length");
	ht_expect_framing_400(&e,
	                      "POST /v3/calls HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n"
	                      "content-length: 5\r\n\r\nhello",
	                      "Transfer-Encoding together with Content-Length");
	ht_stop(&e);
}

UNIT_TEST(http_framing_duplicate_content_length_rejected)
{
	struct ht_env e;
	ht_start(&e);
	ht_expect_framing_400(&e,
	                      "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	                      "Content-Length: 5\r\n\r\nhello",
	                      "more than one Content-Length");
	ht_expect_framing_400(&e,
	                      "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	                      "Content-Length: 3\r\n\r\nhello",
	                      "more than one Content-Length");
	ht_stop(&e);
}

/* Two tokens: MHD would hand the first to the handler, a proxy might use the last. */
UNIT_TEST(http_framing_duplicate_authorization_rejected)
{
	struct ht_env e;
	ht_start(&e);
	ht_expect_framing_400(
	    &e,
	    "GET /v3/memories/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
	    "Authorization: Bearer b\r\n\r\n",
	    "more than one Authorization header");
	ht_expect_framing_400(&e,
	                      "POST /v3/calls HTTP/1.1\r\nHost: x\r\nauthorization: Bearer a\r\n"
	                      "Content-Length: 5\r\nAUTHORIZATION: Bearer a\r\n\r\nhello",
	                      "more than one Authorization header");
	ht_stop(&e);
}

UNIT_TEST(http_framing_whitespace_in_header_name_rejected)
{
	struct ht_env e;
	ht_start(&e);
	/* MHD 0.9.75 keeps the name as "Transfer-Encoding " and would frame by CL */
	ht_expect_framing_400(
	    &e,
	    "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n"
	    "Content-Length: 5\r\n\r\nhello",
	    "malformed header name");
	ht_expect_framing_400(
	    &e,
	    "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n"
	    "\r\n0\r\n\r\n",
	    "malformed header name");
	/* a leading space on the first header line: MHD keeps " Transfer-Encoding" */
	ht_expect_framing_400(
	    &e,
	    "POST /v3/calls HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: x\r\n"
	    "\r\n0\r\n\r\n",
	    "malformed header name");
	ht_expect_framing_400(&e, "GET /v3/memories/a HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n",
	                      "malformed header name");
	ht_stop(&e);
}

UNIT_TEST(http_framing_folded_header_rejected)
{
	struct ht_env e;
	ht_start(&e);
	/* MHD 0.9.75 glues the continuation onto the NAME: this becomes "Transfer-Encoding:
	 * chunked" to MHD but "Transfer-: chunked Encoding" to a proxy */
	ht_expect_framing_400(&e,
	                      "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-: chunked\r\n"
	                      " Encoding\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	                      "folded header line");
	ht_expect_framing_400(
	    &e,
	    "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-: 5\r\n\tLength\r\n\r\n"
	    "hello",
	    "folded header line");
	/* a fold after Host: MHD makes the name "HostTransfer-Encoding: chunked" */
	ht_expect_framing_400(
	    &e,
	    "POST /v3/calls HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n"
	    "\r\n0\r\n\r\n",
	    "malformed header name");
	ht_expect_framing_400(&e,
	                      "GET /v3/memories/a HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n",
	                      "folded header line");
	ht_stop(&e);
}

UNIT_TEST(http_framing_transfer_encoding_other_than_chunked_rejected)
{
	struct ht_env e;
	ht_start(&e);
	ht_expect_framing_400(
	    &e,
	    "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
	    "hello",
	    "unsupported Transfer-Encoding");
	ht_expect_framing_400(&e,
	                      "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
	                      "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	                      "unsupported Transfer-Encoding");
	ht_expect_framing_400(&e,
	                      "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	                      "unsupported Transfer-Encoding");
	/* "Chunked" is the same coding (names are case-insensitive) and is served */
	struct ht_resp r;
	ht_roundtrip(&e,
	             "POST /v3/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
	             "2\r\nok\r\n0\r\n\r\n",
	             &r);
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "body=ok");
	ht_stop(&e);
}

/* A bare CR is a line end to some proxies: "Host: x\rTransfer-Encoding: chunked" must not
 * reach a handler as one Host header (found by tests/integration/test_http_abuse.py). */
UNIT_TEST(http_framing_bare_cr_in_header_value_rejected)
{
	struct ht_env e;
	ht_start(&e);
	ht_expect_framing_400(
	    &e,
	    "GET /v3/memories/a HTTP/1.1\r\nHost: x\rTransfer-Encoding: chunked\r\n"
	    "\r\nGET /v3/memories/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
	    "CR or NUL in a header value");
	ht_stop(&e);
}

UNIT_TEST(http_mhd_rejects_malformed_content_length_itself)
{
	struct ht_env e;
	ht_start(&e);
	static const char *const bad[] = { "5x", "+5", "5, 5", "-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char req[256];
		snprintf(req, sizeof(req),
		         "POST /v3/calls HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\nhello"
		         "GET /v3/memories/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		         bad[i]);
		struct ht_conn *c = ht_connect(e.port);
		ht_send_str(c, req);
		struct ht_resp r;
		UNIT_REQUIRE(ht_read_resp(c, &r, false));
		CHECK_INT(r.status, 400); /* MHD's own, HTML; its header block comes twice */
		CHECK_STR(ht_header(&r, "Connection"), "close");
		ht_close(&c);
	}
	CHECK_INT(atomic_load(&e.ctx.calls), 0);
	UNIT_REQUIRE(ht_wait_until(ht_idle, &e));
	CHECK_CONTAINS(ht_log(&e), "route=invalid status=400");
	ht_stop(&e);
}

UNIT_TEST(http_oversized_header_gets_mhd_431)
{
	struct ht_env e;
	ht_start(&e); /* max_header 16 KiB */
	size_t n = 40 * 1024;
	char *req = malloc(n + 128);
	int o = snprintf(req, n + 128, "GET /v3/memories/a HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + o, 'a', n);
	memcpy(req + o + n, "\r\n\r\n", 5);
	struct ht_conn *c = ht_connect(e.port);
	/* MHD may answer and close before it has read everything: ignore send errors */
	(void)!send(c->fd, req, strlen(req), MSG_NOSIGNAL);
	free(req);
	struct ht_resp r;
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 431); /* MHD 0.9.75: "431 Request Header Fields Too Large", HTML */
	CHECK_STR(ht_header(&r, "Connection"), "close");
	CHECK_CONTAINS(r.body, "too big");
	ht_close(&c);
	CHECK_INT(atomic_load(&e.ctx.calls), 0);
	UNIT_REQUIRE(ht_wait_until(ht_idle, &e)); /* the completion callback ran: no leak */
	CHECK_CONTAINS(ht_log(&e), "route=invalid status=431");
	ht_stop(&e);
}

UNIT_TEST(http_oversized_request_line_gets_mhd_414)
{
	struct ht_env e;
	ht_start(&e);
	size_t n = 40 * 1024;
	char *req = malloc(n + 64);
	memcpy(req, "GET /", 5);
	memset(req + 5, 'a', n);
	static const char tail[] = " HTTP/1.1\r\nHost: x\r\n\r\n";
	memcpy(req + 5 + n, tail, sizeof(tail));
	struct ht_conn *c = ht_connect(e.port);
	(void)!send(c->fd, req, strlen(req), MSG_NOSIGNAL);
	free(req);
	struct ht_resp r;
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	/* MHD 0.9.75: "414 URI Too Long", HTML; the request line never completed, so no
	 * exchange, access-log line or request metric exists for it (MHD logs a warning) */
	CHECK_INT(r.status, 414);
	CHECK_STR(ht_header(&r, "Connection"), "close");
	ht_close(&c);
	CHECK_INT(atomic_load(&e.ctx.calls), 0);
	ht_stop(&e);
}

/* ---- connections ---- */

UNIT_TEST(http_keep_alive_and_pipelining)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_conn *c = ht_connect(e.port);
	struct ht_resp r;
	ht_send_str(c, "GET /v3/memories/one HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 200);
	CHECK(ht_header(&r, "Connection") == NULL); /* not "close": DESIGN §10 */
	ht_send_str(c, "GET /v3/memories/two HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_CONTAINS(r.body, "p0=two");
	/* two requests in one write */
	ht_send_str(c, "GET /v3/memories/three HTTP/1.1\r\nHost: x\r\n\r\n"
	               "DELETE /v3/memories/four HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_CONTAINS(r.body, "p0=three");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_CONTAINS(r.body, "route=v3_memories_delete");
	CHECK_CONTAINS(r.body, "p0=four");
	ht_close(&c);
	CHECK_INT(atomic_load(&e.ctx.calls), 4);
	ht_stop(&e);
}

UNIT_TEST(http_per_ip_connection_limit)
{
	struct ht_env e;
	struct http_config cfg = { .port = 0, .conn_timeout_s = 10, .max_conns_per_ip = 2 };
	ht_start_cfg(&e, &cfg);
	struct ht_conn *a = ht_connect(e.port), *b = ht_connect(e.port);
	struct ht_resp r;
	ht_send_str(a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(a, &r, false));
	ht_send_str(b, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(b, &r, false));
	struct ht_conn *third = ht_connect(e.port); /* accepted by the kernel, closed by MHD */
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	(void)!send(third->fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
	CHECK(ht_closed(third));
	ht_close(&third);
	ht_close(&a);
	ht_close(&b);
	ht_stop(&e);
}

UNIT_TEST(http_idle_connection_times_out)
{
	struct ht_env e;
	struct http_config cfg = { .port = 0, .threads = 1, .conn_timeout_s = 1 };
	ht_start_cfg(&e, &cfg);
	struct ht_conn *c = ht_connect(e.port);
	long long t0 = backoff_now_ms();
	CHECK(ht_closed(c));
	CHECK(backoff_now_ms() - t0 >= 900);
	ht_close(&c);
	ht_stop(&e);
}

/* ---- replies from other threads ---- */

UNIT_TEST(http_deferred_reply_from_another_thread)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_conn *c = ht_connect(e.port);
	struct ht_resp r;
	long long t0 = backoff_now_ms();
	ht_send_str(c, "GET /deferred HTTP/1.1\r\nHost: x\r\nX-Request-Id: def-1\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK(backoff_now_ms() - t0 >= 45);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "{\"late\":true,\"id\":\"def-1\"}");
	CHECK(ht_header(&r, "Connection") == NULL);
	/* the connection was resumed and stays usable */
	ht_send_str(c, "GET /deferred HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_CONTAINS(r.body, "\"late\":true");
	ht_send_str(c, "GET /early HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "\"late\":true");
	CHECK(ht_header(&r, "Connection") == NULL);
	ht_close(&c);
	ht_stop(&e);
}

UNIT_TEST(http_many_deferred_in_parallel)
{
	struct ht_env e;
	ht_start(&e);
	enum { N = 12 };
	struct ht_conn *c[N];
	for (int i = 0; i < N; i++) {
		c[i] = ht_connect(e.port);
		ht_send_str(c[i], i % 2 ? "GET /deferred HTTP/1.1\r\nHost: x\r\n\r\n"
		                        : "GET /early HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	for (int i = 0; i < N; i++) {
		struct ht_resp r;
		UNIT_REQUIRE(ht_read_resp(c[i], &r, false));
		CHECK_INT(r.status, 200);
		ht_close(&c[i]);
	}
	ht_stop(&e);
}

UNIT_TEST(http_client_gone_while_deferred)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_conn *c = ht_connect(e.port);
	ht_send_str(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	struct http_exchange *ex = ht_take_held(&e.ctx);
	ht_close(&c); /* the client gives up */
	struct timespec ts = { 0, 50 * 1000000L };
	nanosleep(&ts, NULL);
	CHECK_STR(http_path(ex), "/hold"); /* still readable: nothing was freed under us */
	http_reply_json(ex, 200, "{}", 2); /* the late answer has nowhere to go */
	UNIT_REQUIRE(ht_wait_until(ht_idle, &e));
	struct ht_resp r; /* and the server carries on */
	ht_roundtrip(&e, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 200);
	ht_stop(&e);
#ifdef __SANITIZE_ADDRESS__
	CHECK_INT(__lsan_do_recoverable_leak_check(), 0);
#endif
}

UNIT_TEST(http_handler_without_reply_gets_500)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e, "GET /forgot HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 500);
	CHECK_STR(r.body, "{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}");
	CHECK_CONTAINS(ht_log(&e), "without a reply route=forgot");
	ht_stop(&e);
}

/* ---- built-ins, headers, ids, logs, metrics ---- */

UNIT_TEST(http_healthz_readyz)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "{\"status\":\"ok\"}");
	CHECK_STR(ht_header(&r, "Content-Type"), "application/json");
	ht_roundtrip(&e, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 200);
	atomic_store(&e.ctx.not_ready, true);
	ht_roundtrip(&e, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 503);
	CHECK_STR(r.body,
	          "{\"error\":{\"code\":\"not_ready\",\"message\":\"database unreachable\"}}");
	struct ht_conn *c = ht_connect(e.port);
	ht_send_str(c, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	UNIT_REQUIRE(ht_read_resp(c, &r, true));
	CHECK_INT(r.status, 200);
	ht_send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); /* no stray body before it */
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_STR(r.body, "{\"status\":\"ok\"}");
	ht_close(&c);
	CHECK_INT(atomic_load(&e.ctx.calls), 0); /* built-ins are not the program's handlers */
	ht_stop(&e);
}

UNIT_TEST(http_metrics_after_requests)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	for (int i = 0; i < 3; i++)
		ht_roundtrip(&e, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ht_roundtrip(&e, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	ht_roundtrip(&e, "BREW /v3/memories/a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	UNIT_REQUIRE(ht_wait_until(ht_idle, &e));
	ht_roundtrip(&e, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_INT(r.status, 200);
	CHECK_STR(ht_header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
	CHECK_CONTAINS(r.body, "# TYPE aimem_http_requests_total counter\n");
	CHECK_CONTAINS(
	    r.body,
	    "aimem_http_requests_total{route=\"healthz\",method=\"GET\",status=\"200\"} 3\n");
	CHECK_CONTAINS(r.body, "aimem_http_requests_total{route=\"not_found\",method=\"GET\","
	                       "status=\"404\"} 1\n");
	CHECK_CONTAINS(r.body, "aimem_http_requests_total{route=\"method_not_allowed\","
	                       "method=\"other\",status=\"405\"} 1\n");
	CHECK_CONTAINS(r.body, "# TYPE aimem_http_request_duration_seconds histogram\n");
	CHECK_CONTAINS(r.body, "aimem_http_request_duration_seconds_count{route=\"healthz\"} 3\n");
	CHECK_CONTAINS(r.body, "aimem_http_request_duration_seconds_bucket{route=\"healthz\","
	                       "le=\"+Inf\"} 3\n");
	CHECK_CONTAINS(r.body, "# TYPE aimem_http_in_flight gauge\naimem_http_in_flight 1\n");
	ht_stop(&e);
}

UNIT_TEST(http_request_id_echoed_or_generated)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc.DEF_1-2\r\n\r\n",
	             &r);
	CHECK_STR(ht_header(&r, "X-Request-Id"), "abc.DEF_1-2");
	static const char *const bad[] = {
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: has space\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\"b\r\n\r\n",
		("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: "
		 "01234567890123456789012345678901234567890123456789012345678901234\r\n\r\n"),
	};
	char prev[64] = "";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ht_roundtrip(&e, bad[i], &r);
		const char *id = ht_header(&r, "X-Request-Id");
		UNIT_REQUIRE(id != NULL);
		CHECK_INT(strlen(id), 16);
		CHECK_INT(strspn(id, "0123456789abcdef"), 16);
		CHECK(strcmp(id, prev) != 0);
		snprintf(prev, sizeof(prev), "%s", id);
	}
	/* errors carry it too */
	ht_roundtrip(&e, "GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-Id: err-7\r\n\r\n", &r);
	CHECK_STR(ht_header(&r, "X-Request-Id"), "err-7");
	ht_stop(&e);
}

UNIT_TEST(http_added_headers_and_json_escaping)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e, "GET /headers HTTP/1.1\r\nHost: x\r\nX-Custom: hello\r\n\r\n", &r);
	CHECK_INT(r.status, 429);
	CHECK_STR(ht_header(&r, "ETag"), "\"v1\"");
	CHECK_STR(ht_header(&r, "Retry-After"), "7");
	CHECK(ht_header(&r, "Bad Name") == NULL);
	CHECK(ht_header(&r, "X-Evil") == NULL);
	CHECK(ht_header(&r, "Set") == NULL);
	CHECK_STR(ht_header(&r, "Content-Length"), "48");
	CHECK_STR(r.body, "{\"error\":{\"code\":\"slow_down\",\"message\":\"hello\"}}");
	CHECK_CONTAINS(ht_log(&e), "response header dropped name=Bad Name");
	ht_roundtrip(&e, "GET /escape HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	CHECK_STR(r.body,
	          "{\"error\":{\"code\":\"c\\\"ode\",\"message\":\"quote\\\" back\\\\ nl\\u000a "
	          "ctl\\u0001 bad\\ufffd ok\xc3\xa9\"}}");
	ht_stop(&e);
}

UNIT_TEST(http_access_log_line)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_resp r;
	ht_roundtrip(&e,
	             "GET /v3/callers/c42/context?q=secret-caller HTTP/1.1\r\nHost: x\r\n"
	             "Authorization: Bearer sekrit-token\r\nX-Request-Id: log-1\r\n\r\n",
	             &r);
	UNIT_REQUIRE(ht_wait_until(ht_idle, &e));
	const char *log = ht_log(&e);
	CHECK_CONTAINS(log, " info test-http[");
	CHECK_CONTAINS(log, "request method=GET route=v3_context status=200 bytes=");
	CHECK(strstr(log, "c42") == NULL); /* the caller id in the path stays out of the log */
	CHECK_CONTAINS(log, " duration_ms=");
	CHECK_CONTAINS(log, " request_id=log-1\n");
	CHECK(strstr(log, "secret-caller") == NULL);
	CHECK(strstr(log, "sekrit") == NULL);
	ht_stop(&e);
}

/* ---- http_route alone ---- */

static const char *ht_decode(const char *s, bool plus)
{
	static char out[256];
	size_t n = 0;
	if (http_route_decode(s, strlen(s), plus, out, &n) != 0)
		return "ERR";
	CHECK_INT(strlen(out), n);
	return out;
}

UNIT_TEST(http_route_percent_decoding)
{
	CHECK_STR(ht_decode("a%20b%2Fc%2f", false), "a b/c/");
	CHECK_STR(ht_decode("a+b", false), "a+b");
	CHECK_STR(ht_decode("a+b%2B", true), "a b+");
	CHECK_STR(ht_decode("", true), "");
	CHECK_STR(ht_decode("%e2%82%AC", false), "\xe2\x82\xac");
	CHECK_STR(ht_decode("%", false), "ERR");
	CHECK_STR(ht_decode("ab%4", false), "ERR");
	CHECK_STR(ht_decode("%g0", false), "ERR");
	CHECK_STR(ht_decode("%0g", false), "ERR");
	CHECK_STR(ht_decode("x%00y", false), "ERR");
	char nul[3] = { 'a', '\0', 'b' };
	char out[4];
	size_t n;
	CHECK(http_route_decode(nul, 3, false, out, &n) != 0);
}

UNIT_TEST(http_route_query_strings)
{
	struct http_route_query q;
	static const char s[] = "a=1&&b=&=x&c&a=2&d=%41+%42";
	UNIT_REQUIRE(http_route_query_parse(s, strlen(s), &q) == 0);
	CHECK_INT(q.n, 6);
	CHECK_STR(http_route_query_get(&q, "a"), "1");
	CHECK_STR(http_route_query_get(&q, "b"), "");
	CHECK_STR(http_route_query_get(&q, ""), "x");
	CHECK_STR(http_route_query_get(&q, "c"), "");
	CHECK_STR(http_route_query_get(&q, "d"), "A B");
	CHECK(http_route_query_get(&q, "e") == NULL);
	http_route_query_clear(&q);
	UNIT_REQUIRE(http_route_query_parse("", 0, &q) == 0);
	CHECK_INT(q.n, 0);
	http_route_query_clear(&q);
	CHECK(http_route_query_parse("a=%zz", 5, &q) != 0);
	CHECK_INT(q.n, 0);
	http_route_query_clear(&q);
}

UNIT_TEST(http_route_matching_rules)
{
	static const struct http_route routes[] = {
		{ "GET", "/{}/b/{}", "cap_b_cap", ht_echo },
		{ "GET", "/a/{}/{}", "a_cap_cap", ht_echo },
		{ "GET", "/a/b/{}", "a_b_cap", ht_echo },
		{ "POST", "/a/b/c", "post_abc", ht_echo },
		{ "PUT", "/a/b/c", "put_abc", ht_echo },
		{ "GET", "/", "root", ht_echo },
	};
	char err[128];
	struct http_route_table *t = http_route_table_new(routes, 6, err, sizeof(err));
	UNIT_REQUIRE(t != NULL);
	struct http_route_match m;
	/* the earliest literal wins: a_b_cap over a_cap_cap over cap_b_cap */
	CHECK_INT(http_route_match(t, "GET", "/a/b/c", 6, &m), HTTP_ROUTE_FOUND);
	CHECK_STR(m.route->name, "a_b_cap");
	CHECK_STR(m.params[0], "c");
	http_route_match_clear(&m);
	CHECK_INT(http_route_match(t, "GET", "/a/x/c", 6, &m), HTTP_ROUTE_FOUND);
	CHECK_STR(m.route->name, "a_cap_cap");
	CHECK_INT(m.nparams, 2);
	http_route_match_clear(&m);
	CHECK_INT(http_route_match(t, "GET", "/z/b/c", 6, &m), HTTP_ROUTE_FOUND);
	CHECK_STR(m.route->name, "cap_b_cap");
	http_route_match_clear(&m);
	CHECK_INT(http_route_match(t, "DELETE", "/a/b/c", 6, &m), HTTP_ROUTE_BAD_METHOD);
	CHECK_STR(m.allow, "GET, POST, PUT");
	CHECK(m.route == NULL);
	http_route_match_clear(&m);
	CHECK_INT(http_route_match(t, "GET", "/", 1, &m), HTTP_ROUTE_FOUND);
	CHECK_STR(m.route->name, "root");
	http_route_match_clear(&m);
	CHECK_INT(http_route_match(t, "GET", "", 0, &m), HTTP_ROUTE_NOT_FOUND);
	http_route_match_clear(&m);
	CHECK_INT(http_route_match(t, "GET", "*", 1, &m), HTTP_ROUTE_NOT_FOUND);
	http_route_match_clear(&m);
	CHECK_INT(http_route_match(t, "get", "/", 1, &m), HTTP_ROUTE_BAD_METHOD); /* exact case */
	http_route_match_clear(&m);
	/* only the path's bytes count, not what follows pathlen */
	CHECK_INT(http_route_match(t, "GET", "/a/b/c/d", 6, &m), HTTP_ROUTE_FOUND);
	http_route_match_clear(&m);
	char deep[81];
	for (int i = 0; i < 40; i++)
		memcpy(deep + 2 * i, "/a", 2);
	deep[80] = '\0';
	CHECK_INT(http_route_match(t, "GET", deep, strlen(deep), &m), HTTP_ROUTE_NOT_FOUND);
	http_route_match_clear(&m);
	http_route_table_free(&t);
	CHECK(t == NULL);

	static const struct http_route toomany[] = {
		{ "GET", "/{}/{}/{}/{}/{}/{}/{}/{}/{}", "nine", ht_echo },
	};
	CHECK(http_route_table_new(toomany, 1, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "too many {}");
	static const struct http_route rel[] = { { "GET", "a/b", "rel", ht_echo } };
	CHECK(http_route_table_new(rel, 1, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "must start with '/'");
}

/* ---- start-up errors ---- */

UNIT_TEST(http_start_rejects_bad_config_and_routes)
{
	char err[256];
	struct http_config cfg = { .bind = "localhost", .port = 0 };
	CHECK(http_server_start(&cfg, ht_routes, 1, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "not a numeric");
	cfg.bind = "127.0.0.1";
	cfg.conn_timeout_s = -1;
	CHECK(http_server_start(&cfg, ht_routes, 1, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "timeout");
	cfg.conn_timeout_s = 0;
	struct http_route dup[] = { ht_routes[0], ht_routes[0] };
	CHECK(http_server_start(&cfg, dup, 2, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "same method and pattern");
	struct http_route bad[] = { { "GET", "/a/{x}", "a", ht_echo } };
	CHECK(http_server_start(&cfg, bad, 1, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "whole segment");
	struct http_route badname[] = { { "GET", "/a", "a b", ht_echo } };
	CHECK(http_server_start(&cfg, badname, 1, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	struct http_route clash[] = { { "GET", "/healthz", "mine", ht_echo } };
	CHECK(http_server_start(&cfg, clash, 1, NULL, NULL, NULL, err, sizeof(err)) == NULL);

	/* a taken port is refused with MHD's reason in the log */
	struct ht_env e;
	ht_start(&e);
	cfg.port = e.port;
	CHECK(http_server_start(&cfg, ht_routes, 1, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "cannot serve on 127.0.0.1 port");
	ht_stop(&e);
}

UNIT_TEST(http_ipv6_dual_stack_bind)
{
	char err[256] = "";
	struct http_config cfg = { .bind = "::", .port = 0 };
	int fd = open("/dev/null", O_WRONLY);
	log_set_fd(fd);
	struct http_server *srv =
	    http_server_start(&cfg, NULL, 0, NULL, NULL, NULL, err, sizeof(err));
	if (srv == NULL) {
		fprintf(stderr, "    (no IPv6 here: %s)\n", err);
		log_set_fd(2);
		close(fd);
		return;
	}
	struct ht_conn *c = ht_connect(http_server_port(srv)); /* over IPv4 */
	ht_send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	struct ht_resp r;
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 200);
	ht_close(&c);
	http_server_stop(&srv, 1000);
	log_set_fd(2);
	close(fd);
}

/* ---- quiesce and stop ---- */

struct ht_stopper {
	struct ht_env *e;
	long long drain_ms;
	atomic_bool done;
};

static void *ht_stopper_main(void *arg)
{
	struct ht_stopper *s = arg;
	http_server_stop(&s->e->srv, s->drain_ms);
	atomic_store(&s->done, true);
	return NULL;
}

static bool ht_port_refuses(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool refused = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0;
	close(fd);
	return refused;
}

UNIT_TEST(http_quiesce_then_stop_completes_deferred)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_conn *c = ht_connect(e.port);
	struct ht_conn *idle = ht_connect(e.port); /* keep-alive, no request: not waited for */
	ht_send_str(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	struct http_exchange *ex = ht_take_held(&e.ctx);
	http_server_quiesce(e.srv);
	http_server_quiesce(e.srv); /* idempotent */
	/* MHD (on poll()) drops the listen socket from its threads' poll sets asynchronously:
	 * refused within a short while, not necessarily at once */
	bool refused = false;
	for (int i = 0; i < 100 && !refused; i++) {
		refused = ht_port_refuses(e.port);
		if (!refused) {
			struct timespec pause = { 0, 10 * 1000000L };
			nanosleep(&pause, NULL);
		}
	}
	CHECK(refused);

	pthread_t t;
	struct ht_stopper s = { .e = &e, .drain_ms = 5000 };
	UNIT_REQUIRE(pthread_create(&t, NULL, ht_stopper_main, &s) == 0);
	struct timespec ts = { 0, 100 * 1000000L };
	nanosleep(&ts, NULL);
	CHECK(!atomic_load(&s.done)); /* draining: waits for the deferred exchange */
	http_reply_json(ex, 200, "{\"done\":1}", 10);
	struct ht_resp r;
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "{\"done\":1}");
	CHECK_STR(ht_header(&r, "Connection"), "close"); /* quiesced: clients move on */
	pthread_join(t, NULL);
	CHECK(atomic_load(&s.done));
	CHECK(ht_closed(idle));
	ht_close(&idle);
	ht_close(&c);
	ht_stop(&e);
}

UNIT_TEST(http_stop_answers_503_after_drain_deadline)
{
	struct ht_env e;
	ht_start(&e);
	struct ht_conn *c = ht_connect(e.port);
	ht_send_str(c, "GET /hold HTTP/1.1\r\nHost: x\r\nX-Request-Id: slow-1\r\n\r\n");
	struct http_exchange *ex = ht_take_held(&e.ctx);
	long long t0 = backoff_now_ms();
	http_server_stop(&e.srv, 100);
	CHECK(backoff_now_ms() - t0 >= 90);
	struct ht_resp r;
	UNIT_REQUIRE(ht_read_resp(c, &r, false));
	CHECK_INT(r.status, 503);
	CHECK_STR(ht_header(&r, "X-Request-Id"), "slow-1");
	CHECK_STR(r.body, "{\"error\":{\"code\":\"shutting_down\",\"message\":\"the server is "
	                  "shutting down\"}}");
	CHECK(ht_closed(c));
	ht_close(&c);
	/* the owner's late reply after the server is gone: discarded, frees the last bits */
	CHECK_STR(http_request_id(ex), "slow-1");
	http_reply_json(ex, 200, "{}", 2);
	ht_stop(&e);
#ifdef __SANITIZE_ADDRESS__
	CHECK_INT(__lsan_do_recoverable_leak_check(), 0);
#endif
}

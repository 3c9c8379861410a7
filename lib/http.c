/*
 * http: start-up, the public accessors and reply builders, and the built-in routes (see
 * http.h). The request's life (MHD callbacks, the reply state machine, the drain) is in
 * http_exchange.c; routing and decoding in http_route.c.
 */
#include "http.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_exchange.h"
#include "http_framing.h"
#include "jscan.h"
#include "log.h"
#include "metrics_process.h"
#include "notify.h"
#include "sig.h"
#include "xalloc.h"

#define HTTP_DEFAULT_TIMEOUT_S 30
#define HTTP_MAX_TIMEOUT_S 86400
#define HTTP_DEFAULT_MAX_CONNS 1000
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)
#define HTTP_DEFAULT_MAX_HEADER (32 * 1024)
#define HTTP_MIN_MAX_HEADER (4 * 1024)
#define HTTP_MIN_DISCARD (64 * 1024)

static const char http_json_type[] = "application/json";

/* ---- built-in routes (handlers run on MHD threads; ctx is the program's, unused) ---- */

static enum http_outcome http_builtin_healthz(struct http_exchange *ex, void *ctx)
{
	(void)ctx;
	static const char body[] = "{\"status\":\"ok\"}";
	http_reply_json(ex, 200, body, sizeof(body) - 1);
	return HTTP_DONE;
}

static enum http_outcome http_builtin_readyz(struct http_exchange *ex, void *ctx)
{
	struct http_server *srv = ex->srv;
	char why[256] = "";
	if (srv->ready == NULL || srv->ready(ctx, why, sizeof(why))) {
		static const char body[] = "{\"status\":\"ready\"}";
		http_reply_json(ex, 200, body, sizeof(body) - 1);
	} else {
		http_reply_error(ex, 503, "not_ready", why[0] ? why : "not ready");
	}
	return HTTP_DONE;
}

static enum http_outcome http_builtin_metrics(struct http_exchange *ex, void *ctx)
{
	(void)ctx;
	struct buf b = BUF_INIT;
	if (ex->srv->m)
		metrics_render(ex->srv->m, &b);
	metrics_process_render(&b); /* process_*, aimem_build_info: every program's /metrics */
	http_reply(ex, 200, "text/plain; version=0.0.4; charset=utf-8", buf_str(&b), b.len);
	buf_free(&b);
	return HTTP_DONE;
}

static enum http_outcome http_builtin_openapi(struct http_exchange *ex, void *ctx)
{
	(void)ctx;
	const char *doc = ex->srv->openapi_json;
	if (doc == NULL)
		http_reply_error(ex, 404, "not_found", "this program serves no OpenAPI document");
	else
		http_reply_json(ex, 200, doc, strlen(doc));
	return HTTP_DONE;
}

static const struct http_route http_builtins[] = {
	{ "GET", "/healthz", "healthz", http_builtin_healthz },
	{ "HEAD", "/healthz", "healthz", http_builtin_healthz },
	{ "GET", "/readyz", "readyz", http_builtin_readyz },
	{ "HEAD", "/readyz", "readyz", http_builtin_readyz },
	{ "GET", "/metrics", "metrics", http_builtin_metrics },
	{ "HEAD", "/metrics", "metrics", http_builtin_metrics },
	{ "GET", "/openapi.json", "openapi", http_builtin_openapi },
};
#define HTTP_NBUILTINS (sizeof(http_builtins) / sizeof(http_builtins[0]))

/* ---- start, stop ---- */

union http_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

/* Parses cfg->bind into sa; *flags gains the IPv6 flags. Returns 0 or -1. */
static int http_bind_addr(const char *bind, int port, union http_sockaddr *sa, unsigned *flags)
{
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, bind, &sa->v4.sin_addr) == 1) {
		sa->v4.sin_family = AF_INET;
		sa->v4.sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, bind, &sa->v6.sin6_addr) == 1) {
		sa->v6.sin6_family = AF_INET6;
		sa->v6.sin6_port = htons((uint16_t)port);
		/* "::" takes IPv4 too, as "0.0.0.0" would */
		*flags |= strcmp(bind, "::") == 0 ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
		return 0;
	}
	return -1;
}

static int http_config_check(const struct http_config *cfg, char *err, size_t errlen)
{
	if (cfg->port < 0 || cfg->port > 65535) {
		snprintf(err, errlen, "http: port %d out of range", cfg->port);
		return -1;
	}
	if (cfg->conn_timeout_s < 0 || cfg->conn_timeout_s > HTTP_MAX_TIMEOUT_S) {
		snprintf(err, errlen, "http: connection timeout must be 1..%d s (0 = %d s)",
		         HTTP_MAX_TIMEOUT_S, HTTP_DEFAULT_TIMEOUT_S);
		return -1;
	}
	if (cfg->max_body > (size_t)LLONG_MAX / 4) {
		snprintf(err, errlen, "http: max body too large");
		return -1;
	}
	return 0;
}

/* The program's routes and the built-ins in one table. */
static struct http_route_table *http_table_new(const struct http_route *routes, size_t nroutes,
                                               char *err, size_t errlen)
{
	struct http_route *all = xcalloc(nroutes + HTTP_NBUILTINS, sizeof(*all));
	if (nroutes)
		memcpy(all, routes, nroutes * sizeof(*all));
	memcpy(all + nroutes, http_builtins, sizeof(http_builtins));
	struct http_route_table *t =
	    http_route_table_new(all, nroutes + HTTP_NBUILTINS, err, errlen);
	free(all);
	return t;
}

static struct http_server *http_server_new(const struct http_config *cfg, void *ctx,
                                           http_ready_fn ready, struct metrics *m)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	srv->magic = HTTP_SERVER_MAGIC;
	srv->ctx = ctx;
	srv->ready = ready;
	srv->m = m;
	srv->openapi_json = cfg->openapi_json;
	srv->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
	srv->discard_max =
	    srv->max_body + (srv->max_body > HTTP_MIN_DISCARD ? srv->max_body : HTTP_MIN_DISCARD);
	pthread_mutex_init(&srv->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->cond, &ca);
	pthread_condattr_destroy(&ca);
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)http_exchange_now_ns() ^ ((uint64_t)getpid() << 32);
	srv->rid_seed = seed;
	if (m)
		srv->in_flight =
		    metrics_gauge(m, "aimem_http_in_flight",
		                  "HTTP requests being received, handled or sent.", "");
	return srv;
}

static struct MHD_Daemon *http_daemon_start(struct http_server *srv, const struct http_config *cfg,
                                            union http_sockaddr *sa, unsigned flags)
{
	unsigned threads = cfg->threads < 2 ? 2 : cfg->threads; /* DESIGN §10: 1 stalls */
	unsigned timeout =
	    cfg->conn_timeout_s ? (unsigned)cfg->conn_timeout_s : HTTP_DEFAULT_TIMEOUT_S;
	size_t max_header = cfg->max_header ? cfg->max_header : HTTP_DEFAULT_MAX_HEADER;
	if (max_header < HTTP_MIN_MAX_HEADER)
		max_header = HTTP_MIN_MAX_HEADER;
	/* poll(), not epoll: MHD 0.9.75's MHD_quiesce_daemon races its own epoll threads over
	 * removing the listen socket from their sets and aborts the process ("Failed to remove
	 * listen FD from epoll set", an open MHD defect; it killed a CI run at shutdown). With
	 * poll() each thread rebuilds its set and quiescing goes through the ITC. */
	flags |= MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
	         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	return MHD_start_daemon(
	    flags, (uint16_t)cfg->port, NULL, NULL, http_exchange_access_cb, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd_cb, NULL, /* first, so start-up errors go there */
	    MHD_OPTION_SOCK_ADDR, &sa->sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_LIMIT,
	    cfg->max_conns ? cfg->max_conns : HTTP_DEFAULT_MAX_CONNS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_conns_per_ip,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, max_header, MHD_OPTION_URI_LOG_CALLBACK,
	    http_exchange_uri_cb, srv, MHD_OPTION_NOTIFY_COMPLETED, http_exchange_completed_cb, srv,
	    MHD_OPTION_END);
}

struct http_server *http_server_start(const struct http_config *cfg,
                                      const struct http_route *routes, size_t nroutes, void *ctx,
                                      http_ready_fn ready, struct metrics *m, char *err,
                                      size_t errlen)
{
	const char *bind = cfg->bind ? cfg->bind : "127.0.0.1";
	union http_sockaddr sa;
	unsigned flags = 0;
	if (http_config_check(cfg, err, errlen) != 0)
		return NULL;
	if (http_bind_addr(bind, cfg->port, &sa, &flags) != 0) {
		snprintf(err, errlen, "http: bind address %s is not a numeric IPv4/IPv6 address",
		         bind);
		return NULL;
	}
	struct http_route_table *table = http_table_new(routes, nroutes, err, errlen);
	if (table == NULL)
		return NULL;
	struct http_server *srv = http_server_new(cfg, ctx, ready, m);
	srv->table = table;
	srv->daemon = http_daemon_start(srv, cfg, &sa, flags);
	if (srv->daemon == NULL) {
		snprintf(err, errlen,
		         "http: cannot serve on %s port %d (the reason is logged above)", bind,
		         cfg->port);
		http_exchange_server_release(srv);
		return NULL;
	}
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : cfg->port;
	log_info("http: listening bind=%s port=%d threads=%u program=%s", bind, srv->port,
	         cfg->threads < 2 ? 2 : cfg->threads, cfg->program ? cfg->program : "-");
	return srv;
}

struct http_config http_settings_config(const struct http_settings *s, const char *program,
                                        const char *openapi_json)
{
	return (struct http_config){ .bind = s->bind,
		                     .port = (int)s->port,
		                     .threads = (unsigned)s->threads,
		                     .conn_timeout_s = s->conn_timeout_ms / 1000,
		                     .max_conns = (unsigned)s->max_conns,
		                     .max_conns_per_ip = (unsigned)s->max_conns_per_ip,
		                     .max_body = (size_t)s->max_body,
		                     .max_header = (size_t)s->max_header,
		                     .program = program,
		                     .openapi_json = openapi_json };
}

void http_server_wait(struct http_server *s)
{
	for (bool ready = false; !sig_stop_requested(); sig_wait(ready ? 1000 : 100)) {
		char why[256];
		if (!ready && (ready = s->ready == NULL || s->ready(s->ctx, why, sizeof(why))))
			notify_ready("serving");
	}
	notify_stopping();
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_quiesce(struct http_server *s)
{
	pthread_mutex_lock(&s->mu);
	bool already = atomic_exchange(&s->quiesced, true);
	pthread_mutex_unlock(&s->mu);
	if (already)
		return;
	MHD_socket fd = MHD_quiesce_daemon(s->daemon); /* the listen socket is ours to close */
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	log_info("http: quiesced port=%d", s->port);
}

void http_server_stop(struct http_server **sp, long long drain_ms)
{
	struct http_server *srv = *sp;
	if (srv == NULL)
		return;
	*sp = NULL;
	http_server_quiesce(srv);
	http_exchange_drain(srv, drain_ms);
	MHD_stop_daemon(srv->daemon); /* joins the pool; completion callbacks run for the rest */
	srv->daemon = NULL;
	log_info("http: stopped port=%d", srv->port);
	http_exchange_server_release(srv);
}

/* ---- accessors ---- */

const char *http_method(const struct http_exchange *ex)
{
	return ex->method;
}

const char *http_path(const struct http_exchange *ex)
{
	return ex->uri; /* the URI callback cut the query string off */
}

const char *http_route_name(const struct http_exchange *ex)
{
	return ex->route_name;
}

const char *http_param(const struct http_exchange *ex, size_t i)
{
	return i < ex->match.nparams ? ex->match.params[i] : NULL;
}

const char *http_query(const struct http_exchange *ex, const char *name)
{
	return http_route_query_get(&ex->query, name);
}

const char *http_header(const struct http_exchange *ex, const char *name)
{
	const char *p = ex->headers.data;
	for (size_t i = 0; i < ex->nheaders; i++) {
		const char *value = p + strlen(p) + 1;
		if (strcasecmp(p, name) == 0)
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

const char *http_body(const struct http_exchange *ex, size_t *len)
{
	*len = ex->body.len;
	return buf_str(&ex->body);
}

const char *http_request_id(const struct http_exchange *ex)
{
	return ex->request_id;
}

/* ---- replies ---- */

void http_reply(struct http_exchange *ex, int status, const char *content_type, const char *body,
                size_t len)
{
	http_exchange_cast(ex);
	struct MHD_Response *resp = http_exchange_response(ex, content_type, body, len);
	http_exchange_deliver(ex, resp, status, len);
}

void http_reply_json(struct http_exchange *ex, int status, const char *json, size_t len)
{
	http_reply(ex, status, http_json_type, json, len);
}

static void http_json_string(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		size_t n;
		if (*p == '"' || *p == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)*p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			buf_appendf(b, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			buf_putc(b, (char)*p++);
		} else if ((n = jscan_utf8_len(p, strnlen((const char *)p, 4))) > 0) {
			buf_append(b, p, n);
			p += n;
		} else {
			buf_append_str(b, "\\ufffd");
			p++;
		}
	}
	buf_putc(b, '"');
}

void http_reply_error(struct http_exchange *ex, int status, const char *code, const char *message)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "{\"error\":{\"code\":");
	http_json_string(&b, code);
	buf_append_str(&b, ",\"message\":");
	http_json_string(&b, message);
	buf_append_str(&b, "}}");
	http_reply(ex, status, http_json_type, b.data, b.len);
	buf_free(&b);
}

void http_add_header(struct http_exchange *ex, const char *name, const char *value)
{
	static const char *const owned[] = { "Content-Length", "Content-Type", "Transfer-Encoding",
		                             "Connection", "X-Request-Id" };
	bool ok = name && value && http_framing_is_token(name, strlen(name));
	for (const char *p = value; ok && *p; p++)
		ok = (unsigned char)*p >= 0x20 ? *p != 0x7f : *p == '\t';
	for (size_t i = 0; ok && i < sizeof(owned) / sizeof(owned[0]); i++)
		ok = strcasecmp(name, owned[i]) != 0;
	if (!ok) {
		log_warn("http: response header dropped name=%s route=%s", name ? name : "(null)",
		         ex->route_name);
		return;
	}
	buf_append(&ex->extra, name, strlen(name) + 1);
	buf_append(&ex->extra, value, strlen(value) + 1);
	ex->nextra++;
}

/*
 * http: the HTTP server of aimem-ingest and aimem-query, on libmicrohttpd 0.9.75.
 *
 * It owns what both programs must get right the same way: a thread pool (never fewer than
 * two threads), connection/body/header limits, rejection of ambiguous request framing,
 * routing with path captures, JSON errors, request ids, an access-log line and request
 * metrics per exchange, /healthz, /readyz and /metrics, replies from any thread (a handler
 * may answer later, e.g. from a librdkafka delivery report) and a draining stop.
 *
 * It deliberately does not do TLS (a proxy in front terminates it), authentication (the
 * programs' auth module), JSON parsing, compression, or streaming bodies in or out: a
 * request body is collected whole (bounded by max_body) before the handler runs, and a
 * reply is one buffer.
 *
 * Threads: handlers run on MHD's pool threads and must not block for long (the pool is
 * small); a handler that waits on something slow returns HTTP_DEFERRED and replies later
 * from whichever thread learns the answer.
 */
#ifndef AIMEM_HTTP_H
#define AIMEM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "metrics.h"

struct http_server;
struct http_exchange;

struct http_config {
	const char *bind;          /* "127.0.0.1", "0.0.0.0", "::" (dual stack) or another
	                              numeric IPv4/IPv6 address; NULL means "127.0.0.1" */
	int port;                  /* 0 = ephemeral (tests); see http_server_port */
	unsigned threads;          /* MHD thread pool size; values < 2 are raised to 2 */
	long long conn_timeout_s;  /* idle connection timeout; 0 = 30 s, never "none" */
	unsigned max_conns;        /* total connection limit; 0 = 1000 */
	unsigned max_conns_per_ip; /* 0 = unlimited */
	size_t max_body;           /* 0 = 1 MiB; larger bodies get 413 and the connection closed */
	size_t max_header;         /* per-connection memory for the request line and headers
	                              (MHD_OPTION_CONNECTION_MEMORY_LIMIT); 0 = 32 KiB, at least
	                              4 KiB; larger headers get MHD's own 431 (HTML body) */
	const char *program;       /* for logs; may be NULL */
	const char *openapi_json;  /* the program's OpenAPI document, served at GET /openapi.json
	                              without a token (static storage; NULL: 404 there) */
};

/*
 * The http.* section of the HTTP programs' tables (aimem-ingest, aimem-query) and the
 * http_config made from it. A program embeds struct http_settings and lists
 * HTTP_CFG_ITEMS(offsetof(struct its_settings, http), "8101", "1MiB", 64LL << 20, "...") with
 * its port's default and its request bodies' limit (default, maximum, help), and
 * HTTP_DRAIN_CFG_ITEM(offsetof(struct its_settings, http)) where its shutdown rows go.
 */
struct http_settings {
	char *bind;
	long long port, threads, conn_timeout_ms, max_conns, max_conns_per_ip;
	long long max_body, max_header, drain_ms;
};

/* clang-format off */
#define HTTP_S_(base, field) ((base) + offsetof(struct http_settings, field))
#define HTTP_CFG_ITEMS(base, port_default, body_default, body_max, body_help) \
	{ .key = "http.bind", .type = CFG_STRING, .def = "127.0.0.1", .offset = HTTP_S_(base, bind), \
	  .help = "address to listen on" }, \
	{ .key = "http.port", .type = CFG_INT, .def = (port_default), .min = 0, .max = 65535, \
	  .offset = HTTP_S_(base, port), .help = "TCP port (0: any free port)" }, \
	{ .key = "http.threads", .type = CFG_INT, .def = "4", .min = 2, .max = 256, \
	  .offset = HTTP_S_(base, threads), .help = "HTTP worker threads" }, \
	{ .key = "http.connection_timeout", .type = CFG_DURATION, .def = "30s", .min = 1000, \
	  .max = 3600000, .offset = HTTP_S_(base, conn_timeout_ms), .help = "idle connection timeout" }, \
	{ .key = "http.max_connections", .type = CFG_INT, .def = "1024", .min = 1, .max = 100000, \
	  .offset = HTTP_S_(base, max_conns), .help = "open connections at most" }, \
	{ .key = "http.max_connections_per_ip", .type = CFG_INT, .def = "0", .min = 0, .max = 100000, \
	  .offset = HTTP_S_(base, max_conns_per_ip), \
	  .help = "open connections per client address (0: no limit)" }, \
	{ .key = "http.max_body", .type = CFG_SIZE, .def = (body_default), .min = 1024, \
	  .max = (body_max), .offset = HTTP_S_(base, max_body), .help = (body_help) }, \
	{ .key = "http.max_header", .type = CFG_SIZE, .def = "32KiB", .min = 4096, .max = 1LL << 20, \
	  .offset = HTTP_S_(base, max_header), .help = "memory for the request line and headers" }
/* shutdown.drain, into the embedded struct's drain_ms (http_server_stop's wait). */
#define HTTP_DRAIN_CFG_ITEM(base) \
	{ .key = "shutdown.drain", .type = CFG_DURATION, .def = "10s", .min = 0, .max = 300000, \
	  .offset = HTTP_S_(base, drain_ms), .help = "how long SIGTERM waits for in-flight requests" }
/* clang-format on */

/* The http_config of s (its bind borrowed), for program (logs) serving openapi_json. */
struct http_config http_settings_config(const struct http_settings *s, const char *program,
                                        const char *openapi_json);

/* A program's OpenAPI document (GET /openapi.json), generated at build time from
 * schemas/openapi.yaml by scripts/openapi-c.py into the HTTP programs only. */
extern const char aimem_openapi_json[];

enum http_outcome {
	HTTP_DONE = 0,     /* the handler called http_reply* (on this thread or another) */
	HTTP_DEFERRED = 1, /* the handler kept ex and will call http_reply* later */
};

typedef enum http_outcome (*http_handler_fn)(struct http_exchange *ex, void *ctx);

struct http_route {
	const char *method;  /* "GET" "POST" "DELETE" ... (case-sensitive, as HTTP says) */
	const char *pattern; /* "/v3/memories/{}": each {} matches one non-empty path segment
	                        (no '/'), captured and percent-decoded; literal segments match
	                        the raw path bytes exactly (no decoding, no normalisation) */
	const char *name;    /* metrics/log label, e.g. "v3_memories_delete" ([a-z0-9_]) */
	http_handler_fn handler;
};

/* Called for GET /readyz on an MHD thread (may be NULL = always ready). Returns true when
 * ready; otherwise writes a short reason for operators into why (it is sent to the client
 * as the error message, so no secrets or internal detail) and the reply is 503. */
typedef bool (*http_ready_fn)(void *ctx, char *why, size_t whylen);

/*
 * Starts listening and serving. routes (copied, with their strings) are matched most
 * specific first: where several patterns match a path, the one with a literal in the
 * earliest differing segment wins; a path that matches only with other methods gets 405
 * with Allow; no match gets 404. The built-in GET (and HEAD) /healthz, /readyz, /metrics
 * and /openapi.json are added after routes. ctx is handed to every handler and to ready (borrowed; must
 * outlive the server). m may be NULL (no metrics; /metrics is then empty); it must outlive
 * the server. Returns the server (owned; stop it with http_server_stop) or NULL with err
 * set (bad config or routes, or MHD could not listen: its reason is in the log).
 */
struct http_server *http_server_start(const struct http_config *cfg,
                                      const struct http_route *routes, size_t nroutes, void *ctx,
                                      http_ready_fn ready, struct metrics *m, char *err,
                                      size_t errlen);
/*
 * The HTTP programs' main loop: until a stop is requested (SIGTERM/SIGINT; sig_wait serves
 * SIGHUP and the systemd watchdog meanwhile), asks the server's ready function every 100 ms
 * until it answers yes, then sends systemd READY=1 (notify_ready) and waits in 1 s steps;
 * sends STOPPING=1 when it returns. The caller then drains and stops the server. Main thread.
 */
void http_server_wait(struct http_server *s);
/* The bound port (useful with port 0). */
int http_server_port(const struct http_server *s);
/* Stops accepting new connections (within milliseconds: MHD's threads drop the listen socket
 * asynchronously); connections already open keep being served, and their
 * responses say "Connection: close". Idempotent. Any thread. */
void http_server_quiesce(struct http_server *s);
/*
 * Quiesces, waits up to drain_ms for exchanges in flight (deferred ones included) to
 * finish, then answers what is still deferred with 503 {"error":{"code":"shutting_down"}},
 * waits for handlers still running to return, stops MHD (closing idle and slow connections)
 * and frees the server. A deferred exchange's late http_reply after that is safe and
 * discarded. Accepts NULL and clears the pointer. Blocks; call it from the main thread.
 */
void http_server_stop(struct http_server **s, long long drain_ms);

/*
 * Request accessors. The returned strings are borrowed and valid until the exchange is
 * replied (do not keep them across http_reply*). Safe from the handler's thread, or from
 * the thread that owns a deferred exchange.
 */
const char *http_method(const struct http_exchange *ex);
/* The raw path (still percent-encoded, without the query string). */
const char *http_path(const struct http_exchange *ex);
/* The route's name, e.g. "v3_memories_delete". */
const char *http_route_name(const struct http_exchange *ex);
/* The i-th {} capture, percent-decoded; NULL if there is none. */
const char *http_param(const struct http_exchange *ex, size_t i);
/* The first query argument called name, decoded ('+' is a space); "" for "?flag"; NULL if
 * absent. A query string with a malformed escape never reaches a handler (400). */
const char *http_query(const struct http_exchange *ex, const char *name);
/* Case-insensitive; the first one if repeated; NULL if absent. */
const char *http_header(const struct http_exchange *ex, const char *name);
/* The body as (ptr, *len): not NUL-terminated semantically (there happens to be a NUL at
 * ptr[*len], but bodies may contain NULs). "" with len 0 when there is none. */
const char *http_body(const struct http_exchange *ex, size_t *len);
/* The caller's X-Request-Id if sane (1..64 chars of [A-Za-z0-9._-]), else a generated one
 * (16 hex digits). Echoed in the response and logged. */
const char *http_request_id(const struct http_exchange *ex);

/*
 * Replies: exactly one per exchange, from ANY thread; after it the exchange belongs to the
 * server again and ex must not be touched. A second reply is a programming error and
 * aborts when it can be detected. Bodies are copied. content_type NULL means
 * "application/octet-stream". Every reply carries Content-Type and X-Request-Id.
 */
void http_reply(struct http_exchange *ex, int status, const char *content_type, const char *body,
                size_t len);
void http_reply_json(struct http_exchange *ex, int status, const char *json, size_t len);
/* {"error":{"code":code,"message":message}} with both JSON-escaped (invalid UTF-8 becomes
 * U+FFFD). Never put internal text (SQL, library errors) in message. */
void http_reply_error(struct http_exchange *ex, int status, const char *code, const char *message);
/* Adds a response header (copied) before the reply, e.g. WWW-Authenticate, Retry-After,
 * ETag. A name that is not an HTTP token, a value with control characters, or a header the
 * server owns (Content-Length, Content-Type, Transfer-Encoding, Connection, X-Request-Id)
 * is dropped with a warning. Same thread rules as the accessors. */
void http_add_header(struct http_exchange *ex, const char *name, const char *value);

#endif

/*
 * http_exchange: the life of one request inside lib/http, and the struct bodies that
 * http.c and http_exchange.c share. Not for programs: they use http.h.
 *
 * http_exchange.c owns MHD's callbacks, body collection, the reply state machine (replies
 * from any thread, suspend/resume for deferred handlers) and the drain at stop. http.c owns
 * start-up, the public accessors and reply builders, and the built-in routes;
 * http_framing.c the header checks; http_account.c the access log and request metrics.
 */
#ifndef AIMEM_HTTP_EXCHANGE_H
#define AIMEM_HTTP_EXCHANGE_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "http.h"
#include "http_route.h"
#include "metrics.h"

#define HTTP_SERVER_MAGIC 0x68747073u   /* "htps" */
#define HTTP_EXCHANGE_MAGIC 0x68747865u /* "htxe" */
#define HTTP_EXCHANGE_DEAD 0x64656164u  /* "dead": set when freed, to catch a late use */

struct http_server {
	unsigned magic;
	struct MHD_Daemon *daemon;
	struct http_route_table *table;
	void *ctx;
	http_ready_fn ready;
	struct metrics *m;               /* may be NULL */
	const char *openapi_json;        /* http_config's, may be NULL */
	struct metrics_gauge *in_flight; /* NULL without metrics */
	size_t max_body;
	size_t discard_max; /* body bytes read and dropped before cutting a connection */
	int port;
	uint64_t rid_seed;
	atomic_uint_fast64_t rid_counter;
	atomic_bool quiesced; /* written under mu */
	atomic_bool stopping; /* written under mu */

	pthread_mutex_t mu;  /* guards what follows and every exchange's state fields */
	pthread_cond_t cond; /* CLOCK_MONOTONIC; signalled when an exchange changes state */
	struct http_exchange *exchanges; /* every live exchange */
	size_t live;                     /* exchanges allocated */
	size_t unfinished;               /* exchanges MHD has not completed */
	unsigned resuming;               /* threads inside MHD_resume_connection */
	bool stopped; /* MHD is stopped; the last exchange to go frees the server */
};

enum http_state {
	HTTP_ST_HEADERS,  /* made by the URI callback; the access handler has not seen it */
	HTTP_ST_BODY,     /* collecting the body (or dropping it after an early verdict) */
	HTTP_ST_RUNNING,  /* a handler (or an internal reply) runs on an MHD thread */
	HTTP_ST_DEFERRED, /* the handler returned HTTP_DEFERRED; connection suspended */
	HTTP_ST_REPLIED,  /* a reply is stored, to be queued on the MHD thread */
	HTTP_ST_QUEUED,   /* handed to MHD */
};

struct http_exchange {
	unsigned magic;
	struct http_server *srv;
	struct MHD_Connection *conn; /* valid until mhd_done */
	struct http_exchange *prev, *next;

	/* under srv->mu */
	enum http_state state;
	bool owner;    /* a handler holds ex: set when invoked, cleared by its reply */
	bool mhd_done; /* MHD's completion callback ran: conn is gone */
	bool forced;   /* the server answered 503 at stop; the owner's reply is discarded */
	struct MHD_Response *resp; /* stored reply until queued (owned) */
	int status;                /* the reply's status; 0 until replied */
	size_t resp_bytes;

	/* the request, written on the MHD thread before the handler runs; all owned copies,
	 * so a deferred handler never reads MHD's memory */
	long long start_ns;
	char *uri; /* the raw request-target with the '?' replaced by NUL: the path */
	size_t pathlen;
	const char *rawquery; /* into uri, after the '?'; "" when there is none */
	char *method;
	struct buf headers; /* "name\0value\0" pairs */
	size_t nheaders;
	struct http_route_match match;
	struct http_route_query query;
	struct buf body;
	size_t body_seen;
	bool too_large;
	bool close;       /* reply with Connection: close */
	int early_status; /* a verdict to send once the body is read (404, 405, 400) */
	const char *early_code, *early_msg;
	const char *route_name; /* static or the route table's */
	char request_id[65];
	struct buf extra; /* headers added by http_add_header: "name\0value\0" pairs */
	size_t nextra;
};

static inline struct http_server *http_exchange_server_cast(void *p)
{
	struct http_server *srv = p;
	if (srv == NULL || srv->magic != HTTP_SERVER_MAGIC)
		abort(); /* a foreign pointer came back through MHD */
	return srv;
}

static inline struct http_exchange *http_exchange_cast(const void *p)
{
	struct http_exchange *ex = (struct http_exchange *)p;
	if (ex == NULL || ex->magic != HTTP_EXCHANGE_MAGIC)
		abort(); /* a foreign or freed exchange */
	return ex;
}

/* MHD callbacks, registered by http_server_start; each runs on the MHD pool thread that
 * owns the connection. cls is the server. */
void *http_exchange_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result http_exchange_access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls);
void http_exchange_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe);

/* A response carrying body (copied), Content-Type, X-Request-Id, the headers added with
 * http_add_header and, when the exchange or the server says so, Connection: close.
 * Owned by the caller. Any thread that may touch ex. */
struct MHD_Response *http_exchange_response(struct http_exchange *ex, const char *content_type,
                                            const char *body, size_t len);
/* Hands the reply to the state machine (takes resp). Any thread; the caller must own ex
 * (a handler that has not replied yet). Aborts on a second reply. */
void http_exchange_deliver(struct http_exchange *ex, struct MHD_Response *resp, int status,
                           size_t bytes);

/* Stop, step one (main thread): waits up to drain_ms for exchanges in flight, answers the
 * still-deferred ones with 503, waits until no handler runs and no connection is
 * suspended (so MHD_stop_daemon is allowed), and lets queued answers flush briefly. */
void http_exchange_drain(struct http_server *srv, long long drain_ms);
/* Stop, last step, after MHD_stop_daemon (or when start-up failed): frees the server now,
 * or lets the last exchange still held by a late handler free it. */
void http_exchange_server_release(struct http_server *srv);

/* A monotonic clock in nanoseconds. */
long long http_exchange_now_ns(void);

#endif

/*
 * http_exchange: one request's life inside lib/http (see http_exchange.h).
 *
 * An exchange is created by MHD's URI callback (the first thing MHD tells us about a
 * request, with the raw request-target before MHD unescapes it) and freed once MHD's
 * completion callback ran (mhd_done) and no handler holds it (!owner). States, changed
 * under the server mutex:
 *
 *   HEADERS --1st call--> BODY --body read--> RUNNING --handler returns DEFERRED--> DEFERRED
 *                                               |                                 (suspended)
 *                                    reply (any thread)                    reply: resume
 *                                               v                                   |
 *                     QUEUED <--queued on the MHD thread-- REPLIED <----------------+
 *
 * The response is always queued from the access handler on a call after the first, so
 * keep-alive survives (DESIGN §10): a reply that comes while the handler still runs is
 * stored and queued when the handler returns; a reply to a DEFERRED exchange is stored and
 * the connection resumed, and MHD's next call queues it. MHD's connection functions
 * (suspend, resume, queue) are never called with the server mutex held.
 *
 * Not here: routing and decoding (http_route.c), header checks (http_framing.c), the access
 * log and metrics (http_account.c), start-up and the public accessors (http.c).
 */
#include "http_exchange.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_account.h"
#include "http_framing.h"
#include "log.h"
#include "xalloc.h"

#define HTTP_FLUSH_MS 500 /* at stop, how long queued answers get to go out */

static const char http_json_shutting_down[] =
    "{\"error\":{\"code\":\"shutting_down\",\"message\":\"the server is shutting down\"}}";

long long http_exchange_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits on srv->cond (CLOCK_MONOTONIC) until deadline_ns at the latest. Holds srv->mu. */
static void http_wait_until(struct http_server *srv, long long deadline_ns)
{
	struct timespec ts = { (time_t)(deadline_ns / 1000000000LL),
		               (long)(deadline_ns % 1000000000LL) };
	pthread_cond_timedwait(&srv->cond, &srv->mu, &ts);
}

/* The caller's X-Request-Id when it is 1-64 chars of [A-Za-z0-9._-], else 16 hex digits
 * from a per-server random seed and a counter (splitmix64, so ids do not repeat). */
static void http_request_id_init(struct http_server *srv, struct http_exchange *ex,
                                 const char *given)
{
	static const char ok[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t n = given ? strlen(given) : 0;
	if (n >= 1 && n < sizeof(ex->request_id) && strspn(given, ok) == n) {
		memcpy(ex->request_id, given, n + 1);
		return;
	}
	uint64_t x = srv->rid_seed + atomic_fetch_add(&srv->rid_counter, 1) * 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	snprintf(ex->request_id, sizeof(ex->request_id), "%016" PRIx64, x);
}

/* ---- responses ---- */

/* with_extra: the headers added by http_add_header (only the owner of ex may read them);
 * close: say Connection: close whatever ex->close says. */
static struct MHD_Response *http_response_base(struct http_exchange *ex, const char *content_type,
                                               const char *body, size_t len, bool with_extra,
                                               bool close)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		abort(); /* MHD fails here only when out of memory */
	MHD_add_response_header(resp, "Content-Type",
	                        content_type ? content_type : "application/octet-stream");
	MHD_add_response_header(resp, "X-Request-Id", ex->request_id);
	const char *p = ex->extra.data;
	for (size_t i = 0; with_extra && i < ex->nextra; i++) {
		const char *value = p + strlen(p) + 1;
		MHD_add_response_header(resp, p, value);
		p = value + strlen(value) + 1;
	}
	if (close || ex->close || atomic_load(&ex->srv->quiesced))
		MHD_add_response_header(resp, "Connection", "close");
	return resp;
}

struct MHD_Response *http_exchange_response(struct http_exchange *ex, const char *content_type,
                                            const char *body, size_t len)
{
	return http_response_base(ex, content_type, body, len, true, false);
}

/* ---- releasing and freeing ---- */

static void http_exchange_free(struct http_exchange *ex)
{
	if (ex->resp)
		MHD_destroy_response(ex->resp);
	http_route_match_clear(&ex->match);
	http_route_query_clear(&ex->query);
	buf_free(&ex->body);
	buf_free(&ex->headers);
	buf_free(&ex->extra);
	free(ex->uri);
	free(ex->method);
	ex->magic = HTTP_EXCHANGE_DEAD;
	free(ex);
}

static void http_server_free(struct http_server *srv)
{
	http_route_table_free(&srv->table);
	pthread_cond_destroy(&srv->cond);
	pthread_mutex_destroy(&srv->mu);
	srv->magic = 0;
	free(srv);
}

/* Unlinks ex once nobody needs it; the caller frees what the flags say after unlocking
 * (http_release_finish). Holds srv->mu. */
static void http_release_locked(struct http_exchange *ex, bool *free_ex, bool *free_srv)
{
	struct http_server *srv = ex->srv;
	pthread_cond_broadcast(&srv->cond);
	if (ex->owner || !ex->mhd_done)
		return;
	if (ex->prev)
		ex->prev->next = ex->next;
	else
		srv->exchanges = ex->next;
	if (ex->next)
		ex->next->prev = ex->prev;
	srv->live--;
	*free_ex = true;
	*free_srv = srv->stopped && srv->live == 0;
}

static void http_release_finish(struct http_exchange *ex, struct http_server *srv, bool free_ex,
                                bool free_srv)
{
	if (free_ex)
		http_exchange_free(ex);
	if (free_srv)
		http_server_free(srv);
}

void http_exchange_server_release(struct http_server *srv)
{
	pthread_mutex_lock(&srv->mu);
	srv->stopped = true;
	bool free_now = srv->live == 0;
	pthread_mutex_unlock(&srv->mu);
	if (free_now)
		http_server_free(srv);
}

/* ---- MHD callbacks (each on the MHD pool thread that owns the connection) ---- */

/* MHD_OPTION_URI_LOG_CALLBACK: the request line was read; the return value becomes
 * *con_cls. MHD 0.9.75 marks the request "client aware" here, so the completion callback
 * runs even when MHD itself rejects the headers (431, a bad Content-Length). */
void *http_exchange_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *srv = http_exchange_server_cast(cls);
	struct http_exchange *ex = xcalloc(1, sizeof(*ex));
	ex->magic = HTTP_EXCHANGE_MAGIC;
	ex->srv = srv;
	ex->conn = conn;
	ex->start_ns = http_exchange_now_ns();
	ex->uri = xstrdup(uri ? uri : "");
	ex->pathlen = strcspn(ex->uri, "?");
	ex->rawquery = "";
	if (ex->uri[ex->pathlen] == '?') {
		ex->uri[ex->pathlen] = '\0';
		ex->rawquery = ex->uri + ex->pathlen + 1;
	}
	ex->route_name = "invalid";
	pthread_mutex_lock(&srv->mu);
	ex->next = srv->exchanges;
	if (ex->next)
		ex->next->prev = ex;
	srv->exchanges = ex;
	srv->live++;
	srv->unfinished++;
	pthread_mutex_unlock(&srv->mu);
	if (srv->in_flight)
		metrics_gauge_add(srv->in_flight, 1);
	return ex;
}

static enum MHD_Result http_queue(struct http_exchange *ex, struct MHD_Response *resp, int status)
{
	enum MHD_Result r = MHD_queue_response(ex->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	if (r != MHD_YES)
		log_warn("http: could not queue a response status=%d request_id=%s", status,
		         ex->request_id);
	return r;
}

/* The server answers ex itself (stop) and marks it so the owner's late reply is dropped.
 * The owner may still be adding headers, so the extra headers are left out. Holds srv->mu. */
static void http_force_locked(struct http_exchange *ex)
{
	ex->resp = http_response_base(ex, "application/json", http_json_shutting_down,
	                              sizeof(http_json_shutting_down) - 1, false, true);
	ex->status = 503;
	ex->resp_bytes = sizeof(http_json_shutting_down) - 1;
	ex->forced = true;
	ex->state = HTTP_ST_REPLIED;
}

/* After a handler (or an internal reply) returned, on the MHD thread. */
static enum MHD_Result http_after_handler(struct http_server *srv, struct http_exchange *ex,
                                          enum http_outcome outcome)
{
	pthread_mutex_lock(&srv->mu);
	if (ex->state == HTTP_ST_RUNNING && outcome == HTTP_DONE) {
		pthread_mutex_unlock(&srv->mu);
		log_error("http: handler returned HTTP_DONE without a reply route=%s",
		          ex->route_name);
		http_reply_error(ex, 500, "internal", "internal error");
		pthread_mutex_lock(&srv->mu);
	}
	if (ex->state == HTTP_ST_RUNNING && atomic_load(&srv->stopping))
		http_force_locked(ex); /* deferred, but the stop will not wait for it */
	if (ex->state == HTTP_ST_REPLIED) {
		struct MHD_Response *resp = ex->resp;
		int status = ex->status;
		ex->resp = NULL;
		ex->state = HTTP_ST_QUEUED;
		pthread_mutex_unlock(&srv->mu);
		return http_queue(ex, resp, status);
	}
	pthread_mutex_unlock(&srv->mu);

	MHD_suspend_connection(ex->conn);
	pthread_mutex_lock(&srv->mu);
	if (ex->state == HTTP_ST_REPLIED) {
		/* the reply came while we were suspending: it saw RUNNING and did not resume */
		pthread_mutex_unlock(&srv->mu);
		MHD_resume_connection(ex->conn);
		return MHD_YES;
	}
	ex->state = HTTP_ST_DEFERRED;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->mu);
	return MHD_YES;
}

static void http_set_running(struct http_server *srv, struct http_exchange *ex)
{
	pthread_mutex_lock(&srv->mu);
	ex->state = HTTP_ST_RUNNING;
	ex->owner = true;
	pthread_mutex_unlock(&srv->mu);
}

/* Invokes a handler; the exchange belongs to it until it replies. */
static enum MHD_Result http_run(struct http_server *srv, struct http_exchange *ex,
                                http_handler_fn handler)
{
	http_set_running(srv, ex);
	return http_after_handler(srv, ex, handler(ex, srv->ctx));
}

/* An error reply decided by the server, through the same path as a handler's. */
static enum MHD_Result http_run_error(struct http_server *srv, struct http_exchange *ex, int status,
                                      const char *code, const char *message)
{
	http_set_running(srv, ex);
	http_reply_error(ex, status, code, message);
	return http_after_handler(srv, ex, HTTP_DONE);
}

static void http_early(struct http_exchange *ex, const char *route_name, int status,
                       const char *code, const char *msg)
{
	ex->route_name = route_name;
	ex->early_status = status;
	ex->early_code = code;
	ex->early_msg = msg;
}

/* Route and query string: a route to run, or a verdict to send once the body is read. */
static void http_route_request(struct http_server *srv, struct http_exchange *ex)
{
	int rc = http_route_match(srv->table, ex->method, ex->uri, ex->pathlen, &ex->match);
	if (rc == HTTP_ROUTE_BAD_METHOD) {
		http_add_header(ex, "Allow", ex->match.allow);
		http_early(ex, "method_not_allowed", 405, "method_not_allowed",
		           "method not allowed for this path");
		return;
	}
	if (rc == HTTP_ROUTE_BAD_PATH) {
		http_early(ex, "bad_request", 400, "bad_request", "malformed path");
		return;
	}
	if (rc != HTTP_ROUTE_FOUND) {
		http_early(ex, "not_found", 404, "not_found", "no such route");
		return;
	}
	ex->route_name = ex->match.route->name;
	if (http_route_query_parse(ex->rawquery, strlen(ex->rawquery), &ex->query) != 0)
		http_early(ex, ex->route_name, 400, "bad_request", "malformed query string");
}

/* First access-handler call: the headers are in. Framing and size verdicts are answered
 * at once: a response queued on the first call makes MHD close the connection without
 * reading further, so a request smuggled behind them is never parsed. Other verdicts wait
 * for the body so the connection can be kept alive. */
static enum MHD_Result http_first_call(struct http_server *srv, struct http_exchange *ex,
                                       const char *method)
{
	ex->method = xstrdup(method ? method : "");
	struct http_framing f;
	http_framing_read(ex->conn, &ex->headers, &ex->nheaders, &f);
	http_request_id_init(srv, ex, http_header(ex, "X-Request-Id"));
	pthread_mutex_lock(&srv->mu);
	ex->state = HTTP_ST_BODY;
	pthread_mutex_unlock(&srv->mu);

	ex->close = true; /* for the verdicts below */
	if (atomic_load(&srv->stopping)) {
		ex->route_name = "shutting_down";
		return http_run_error(srv, ex, 503, "shutting_down", "the server is shutting down");
	}
	const char *why = http_framing_verdict(&f);
	if (why) {
		ex->route_name = "bad_request";
		return http_run_error(srv, ex, 400, "bad_request", why);
	}
	if (f.cl_valid && f.cl > srv->max_body) {
		ex->route_name = "too_large";
		return http_run_error(srv, ex, 413, "payload_too_large", "request body too large");
	}
	ex->close = false;
	http_route_request(srv, ex);
	return MHD_YES;
}

/* A piece of the body. MHD 0.9.75 refuses to queue a response during upload, so an
 * oversized chunked body is read and dropped up to discard_max and answered 413 at its end;
 * past discard_max the connection is cut without an answer. */
static enum MHD_Result http_take_body(struct http_server *srv, struct http_exchange *ex,
                                      const char *data, size_t size)
{
	ex->body_seen += size;
	if (!ex->too_large && ex->early_status == 0 && ex->body.len + size > srv->max_body) {
		ex->too_large = true;
		buf_free(&ex->body);
	}
	if (!ex->too_large && ex->early_status == 0) {
		buf_append(&ex->body, data, size);
		return MHD_YES;
	}
	if (ex->body_seen <= srv->discard_max)
		return MHD_YES;
	if (ex->too_large)
		ex->route_name = "too_large";
	return MHD_NO;
}

/* A call once the body is complete, or after a resume. */
static enum MHD_Result http_final_call(struct http_server *srv, struct http_exchange *ex)
{
	pthread_mutex_lock(&srv->mu);
	enum http_state state = ex->state;
	pthread_mutex_unlock(&srv->mu);
	if (state == HTTP_ST_REPLIED)
		return http_after_handler(srv, ex, HTTP_DONE); /* queues it */
	if (state != HTTP_ST_BODY)
		return MHD_YES; /* DEFERRED or QUEUED: nothing to do */
	if (ex->too_large) {
		ex->close = true;
		ex->route_name = "too_large";
		return http_run_error(srv, ex, 413, "payload_too_large", "request body too large");
	}
	if (ex->early_status != 0)
		return http_run_error(srv, ex, ex->early_status, ex->early_code, ex->early_msg);
	return http_run(srv, ex, ex->match.route->handler);
}

enum MHD_Result http_exchange_access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls)
{
	(void)conn;
	(void)url; /* MHD's unescaped copy; we route on the raw request-target */
	(void)version;
	struct http_server *srv = http_exchange_server_cast(cls);
	if (*con_cls == NULL)
		return MHD_NO; /* no URI callback ran: not a request we can account for */
	struct http_exchange *ex = http_exchange_cast(*con_cls);
	if (ex->method == NULL) /* only this thread sets it, on the first call */
		return http_first_call(srv, ex, method);
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		return http_take_body(srv, ex, upload_data, n);
	}
	return http_final_call(srv, ex);
}

/* MHD_OPTION_NOTIFY_COMPLETED: the request is over (sent, failed, timed out, the client
 * went away, or the daemon is stopping). Logs and counts it, and drops MHD's hold. */
void http_exchange_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = http_exchange_server_cast(cls);
	if (*con_cls == NULL)
		return;
	struct http_exchange *ex = http_exchange_cast(*con_cls);
	*con_cls = NULL;
	pthread_mutex_lock(&srv->mu);
	int status = ex->status;
	pthread_mutex_unlock(&srv->mu);
	if (status == 0 && ex->too_large)
		status = 413; /* the verdict we cut the connection for instead of sending */
	if (status == 0) {
		/* MHD answered by itself (431, a bad Content-Length), or nothing was sent */
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
		status = ci ? (int)ci->http_status : 0;
	}
	http_account_request(srv->m, ex, status, toe);

	bool free_ex = false, free_srv = false;
	pthread_mutex_lock(&srv->mu);
	struct MHD_Response *resp = ex->resp; /* replied but never queued */
	ex->resp = NULL;
	ex->mhd_done = true;
	srv->unfinished--;
	http_release_locked(ex, &free_ex, &free_srv);
	pthread_mutex_unlock(&srv->mu);
	if (srv->in_flight)
		metrics_gauge_add(srv->in_flight, -1);
	if (resp)
		MHD_destroy_response(resp);
	http_release_finish(ex, srv, free_ex, free_srv);
}

/* ---- replies from any thread ---- */

void http_exchange_deliver(struct http_exchange *ex, struct MHD_Response *resp, int status,
                           size_t bytes)
{
	struct http_server *srv = ex->srv;
	bool free_ex = false, free_srv = false;
	pthread_mutex_lock(&srv->mu);
	if (!ex->owner) {
		pthread_mutex_unlock(&srv->mu);
		log_error("http: second reply to one exchange request_id=%s", ex->request_id);
		abort();
	}
	if (ex->forced || ex->mhd_done) {
		/* the server already answered (stop) or the connection is gone: drop it */
		ex->owner = false;
		http_release_locked(ex, &free_ex, &free_srv);
		pthread_mutex_unlock(&srv->mu);
		MHD_destroy_response(resp);
		http_release_finish(ex, srv, free_ex, free_srv);
		return;
	}
	ex->resp = resp;
	ex->status = status;
	ex->resp_bytes = bytes;
	enum http_state was = ex->state;
	ex->state = HTTP_ST_REPLIED;
	if (was == HTTP_ST_RUNNING) {
		/* the handler has not returned yet: http_after_handler queues it */
		ex->owner = false;
		pthread_mutex_unlock(&srv->mu);
		return;
	}
	if (was != HTTP_ST_DEFERRED)
		abort(); /* a broken state machine */
	srv->resuming++; /* keeps the stop from freeing the daemon under MHD_resume_connection */
	pthread_mutex_unlock(&srv->mu);
	MHD_resume_connection(ex->conn);
	pthread_mutex_lock(&srv->mu);
	srv->resuming--;
	ex->owner = false;
	http_release_locked(ex, &free_ex, &free_srv);
	pthread_mutex_unlock(&srv->mu);
	http_release_finish(ex, srv, free_ex, free_srv);
}

/* ---- stop ---- */

/* Answers every DEFERRED exchange with 503 and resumes it; returns true while something
 * still forbids MHD_stop_daemon (a handler running, a connection suspended or being
 * resumed, a resumed reply not yet queued). Holds srv->mu, released around MHD calls. */
static bool http_stop_pass_locked(struct http_server *srv)
{
	bool blocked = srv->resuming > 0;
restart:
	for (struct http_exchange *ex = srv->exchanges; ex; ex = ex->next) {
		if (ex->mhd_done)
			continue;
		if (ex->state == HTTP_ST_DEFERRED) {
			http_force_locked(ex); /* ex->owner stays set, so ex cannot be freed */
			srv->resuming++;
			pthread_mutex_unlock(&srv->mu);
			MHD_resume_connection(ex->conn);
			pthread_mutex_lock(&srv->mu);
			srv->resuming--;
			blocked = true;
			goto restart; /* the list may have changed while unlocked */
		}
		if (ex->state == HTTP_ST_RUNNING || ex->state == HTTP_ST_REPLIED)
			blocked = true;
	}
	return blocked;
}

static bool http_any_queued_locked(const struct http_server *srv)
{
	for (const struct http_exchange *ex = srv->exchanges; ex; ex = ex->next)
		if (!ex->mhd_done && ex->state == HTTP_ST_QUEUED)
			return true;
	return false;
}

void http_exchange_drain(struct http_server *srv, long long drain_ms)
{
	long long deadline = http_exchange_now_ns() + (drain_ms > 0 ? drain_ms : 0) * 1000000LL;
	pthread_mutex_lock(&srv->mu);
	while (srv->unfinished > 0 && http_exchange_now_ns() < deadline)
		http_wait_until(srv, deadline);
	size_t left = srv->unfinished;
	atomic_store(&srv->stopping, true);
	while (http_stop_pass_locked(srv))
		http_wait_until(srv, http_exchange_now_ns() + 50 * 1000000LL);
	long long flush = http_exchange_now_ns() + HTTP_FLUSH_MS * 1000000LL;
	while (http_any_queued_locked(srv) && http_exchange_now_ns() < flush)
		http_wait_until(srv, flush);
	pthread_mutex_unlock(&srv->mu);
	if (left > 0)
		log_warn("http: drain deadline passed in_flight=%zu", left);
}

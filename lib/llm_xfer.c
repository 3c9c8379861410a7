/*
 * llm_xfer: queues, the curl multi loop, retries and callbacks of lib/llm (see llm_xfer.h).
 */
#include "llm_xfer.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "llm_json.h"
#include "log.h"
#include "num.h"

#ifndef AIMEM_VERSION
#define AIMEM_VERSION "dev"
#endif

/* ---- requests ---- */

static struct llm_req *llm_req_of(void *p)
{
	struct llm_req *req = p;
	assert(req != NULL && req->magic == LLM_REQ_MAGIC);
	return req;
}

static void llm_req_free(struct llm_req *req)
{
	req->magic = 0;
	free(req->body);
	buf_free(&req->resp);
	free(req);
}

/* Runs the callback and frees req, which is in no queue or slot any more. */
static void llm_finish(struct llm_client *c, struct llm_req *req, int status, const char *content,
                       size_t len, const char *err)
{
	metrics_counter_add(c->requests[-status], 1);
	bool was_busy = c->busy;
	c->busy = true;
	req->done(req->opaque, status, status == LLM_OK ? content : NULL,
	          status == LLM_OK ? len : 0, status == LLM_OK ? NULL : err);
	c->busy = was_busy;
	llm_req_free(req);
}

void llm_xfer_enqueue(struct llm_client *c, struct llm_req *req)
{
	req->next = NULL;
	if (c->ready_tail != NULL)
		c->ready_tail->next = req;
	else
		c->ready = req;
	c->ready_tail = req;
	c->nready++;
}

static struct llm_req *llm_dequeue(struct llm_client *c)
{
	struct llm_req *req = c->ready;
	if (req != NULL) {
		c->ready = req->next;
		if (c->ready == NULL)
			c->ready_tail = NULL;
		c->nready--;
		req->next = NULL;
	}
	return req;
}

/* ---- curl callbacks (on the client's thread, inside curl_multi_perform) ---- */

static size_t llm_write_cb(char *p, size_t size, size_t nmemb, void *userp)
{
	struct llm_req *req = llm_req_of(userp);
	size_t n = size * nmemb;
	req->c->st.body_bytes += n;
	if (n > req->c->cfg.max_response_bytes - req->resp.len) {
		req->too_large = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	buf_append(&req->resp, p, n);
	return n;
}

/* If the header line p[0, n) is "name: value", points *v and *vlen at the value without the
 * blanks and CR LF around it. */
static bool llm_header_is(const char *p, size_t n, const char *name, const char **v, size_t *vlen)
{
	size_t nl = strlen(name);
	if (n <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
		return false;
	const char *s = p + nl + 1, *end = p + n;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	*v = s;
	*vlen = (size_t)(end - s);
	return true;
}

static size_t llm_header_cb(char *p, size_t size, size_t nmemb, void *userp)
{
	struct llm_req *req = llm_req_of(userp);
	size_t n = size * nmemb, vlen;
	const char *v;
	long long cl;
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		req->retry_after = -1; /* a new response head (after an interim 1xx) */
	} else if (llm_header_is(p, n, "Retry-After", &v, &vlen)) {
		req->retry_after = llm_retry_after_ms(v, vlen, time(NULL));
	} else if (llm_header_is(p, n, "Content-Length", &v, &vlen) &&
	           num_parse_intn(v, vlen, 0, LLONG_MAX, &cl) == 0 &&
	           (unsigned long long)cl > req->c->cfg.max_response_bytes) {
		/* refuse a body announced too large before a byte of it is read */
		req->too_large = true;
		return 0;
	}
	return n;
}

/* ---- attempts ---- */

/* log_curl_debug_cb with curl's own types, for curl's option type check. */
static int llm_debug_cb(CURL *e, curl_infotype type, char *data, size_t size, void *userp)
{
	return log_curl_debug_cb(e, (int)type, data, size, userp);
}

static CURL *llm_easy_new(struct llm_client *c)
{
	CURL *e = curl_easy_init();
	if (e == NULL)
		return NULL;
	const struct llm_config *cfg = &c->cfg;
	CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, c->url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, llm_write_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, llm_header_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_USERAGENT, "aimem/" AIMEM_VERSION);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rc == CURLE_OK && log_enabled(LOG_LEVEL_DEBUG)) {
		/* the adapter logs curl's informational text only, never headers or data */
		rc = curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, llm_debug_cb);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	}
	if (rc != CURLE_OK) {
		log_error("llm: curl option refused err=\"%s\"", curl_easy_strerror(rc));
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/* Starts req on a free slot; false (req untouched) if curl would not take it. */
static bool llm_start(struct llm_client *c, struct llm_req *req)
{
	unsigned s = c->free_slots[c->nfree - 1];
	if (c->easy[s] == NULL && (c->easy[s] = llm_easy_new(c)) == NULL)
		return false;
	CURL *e = c->easy[s];
	CURLcode rc = curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)req);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)req);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)req);
	if (rc != CURLE_OK || curl_multi_add_handle(c->multi, e) != CURLM_OK)
		return false;
	c->nfree--;
	c->slot[s] = req;
	req->slot = s;
	req->attempts++;
	req->started_ms = backoff_now_ms();
	req->retry_after = -1;
	req->too_large = false;
	buf_reset(&req->resp);
	c->ninflight++;
	c->st.attempts++;
	if (req->attempts > 1)
		c->st.retries++;
	if (c->ninflight > c->st.peak_in_flight)
		c->st.peak_in_flight = c->ninflight;
	metrics_gauge_add(c->in_flight, 1);
	return true;
}

/* Starts what is ready while slots are free; returns the callbacks run (failed starts). */
static int llm_start_ready(struct llm_client *c)
{
	int ran = 0;
	while (c->nfree > 0 && c->ready != NULL) {
		struct llm_req *req = llm_dequeue(c);
		if (!llm_start(c, req)) {
			llm_finish(c, req, LLM_ERR_UNAVAILABLE, NULL, 0,
			           "curl refused the transfer");
			ran++;
		}
	}
	return ran;
}

/* Moves the retries whose time has come to the ready queue; returns the earliest time
 * still waiting, or -1. */
static long long llm_promote(struct llm_client *c, long long now)
{
	long long next = -1;
	for (struct llm_req **pp = &c->waiting; *pp != NULL;) {
		struct llm_req *req = *pp;
		if (req->due_ms <= now) {
			*pp = req->next;
			c->nwaiting--;
			llm_xfer_enqueue(c, req);
			continue;
		}
		if (next < 0 || req->due_ms < next)
			next = req->due_ms;
		pp = &req->next;
	}
	return next;
}

enum llm_verdict { LLM_V_OK, LLM_V_RETRY, LLM_V_FINAL };

/* What one finished attempt means. why gets the reason (a status or curl's error text). */
static enum llm_verdict llm_judge(struct llm_req *req, CURLcode rc, long code, int *status,
                                  char *why, size_t whylen)
{
	/* an error page over the cap was cut short: its status still decides */
	bool cut_error_page = req->too_large && code >= 300;
	if (req->too_large && !cut_error_page) {
		snprintf(why, whylen, "answer larger than %zu bytes",
		         req->c->cfg.max_response_bytes);
		*status = LLM_ERR_BAD_RESPONSE;
		return LLM_V_FINAL;
	}
	if (rc != CURLE_OK && !cut_error_page) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		*status = LLM_ERR_UNAVAILABLE;
		switch (rc) {
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_OUT_OF_MEMORY:
			return LLM_V_FINAL; /* configuration: another attempt cannot fix it */
		default:
			return LLM_V_RETRY; /* timeouts, refused/reset connections, short bodies */
		}
	}
	if (code >= 200 && code < 300)
		return LLM_V_OK;
	char hint[80];
	llm_json_error_hint(buf_str(&req->resp), req->resp.len, hint, sizeof(hint));
	snprintf(why, whylen, "HTTP %ld%s%s", code, hint[0] ? " " : "", hint);
	if (code == 429 || code == 500 || code == 502 || code == 503 || code == 504) {
		*status = LLM_ERR_UNAVAILABLE;
		return LLM_V_RETRY;
	}
	*status = LLM_ERR_HTTP;
	return LLM_V_FINAL;
}

/* Waits before the next attempt: the backoff, or longer if the server asked for it. */
static void llm_wait_retry(struct llm_client *c, struct llm_req *req, long code, const char *why)
{
	long long delay = backoff_next_ms(&req->bo);
	if ((code == 429 || code == 503) && req->retry_after >= 0) {
		long long ra = req->retry_after < c->cfg.retry_after_cap_ms
		                   ? req->retry_after
		                   : c->cfg.retry_after_cap_ms;
		if (ra > delay)
			delay = ra;
	}
	req->due_ms = backoff_now_ms() + delay;
	req->next = c->waiting;
	c->waiting = req;
	c->nwaiting++;
	metrics_counter_add(c->retries, 1);
	log_debug("llm: attempt failed, will retry reason=\"%s\" attempt=%u delay_ms=%lld", why,
	          req->attempts, delay);
}

/* One transfer is over: take it off its slot, then answer, retry or fail. Returns true if
 * the request finished (its callback ran), false if it waits for a retry. */
static bool llm_done(struct llm_client *c, CURL *e, CURLcode rc)
{
	void *priv = NULL;
	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&priv);
	struct llm_req *req = llm_req_of(priv);
	long code = 0, connects = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
	curl_multi_remove_handle(c->multi, e);
	c->slot[req->slot] = NULL;
	c->free_slots[c->nfree++] = req->slot;
	c->ninflight--;
	c->st.connects += (unsigned long long)(connects > 0 ? connects : 0);
	metrics_gauge_add(c->in_flight, -1);
	metrics_observe(c->seconds, (double)(backoff_now_ms() - req->started_ms) / 1000.0);

	char why[160] = "", err[256];
	int status = LLM_OK;
	enum llm_verdict v = llm_judge(req, rc, code, &status, why, sizeof(why));
	if (v == LLM_V_OK && req->raw) {
		llm_finish(c, req, LLM_OK, buf_str(&req->resp), req->resp.len, NULL);
		return true;
	}
	if (v == LLM_V_OK) {
		json_t *root;
		const char *content;
		size_t len;
		if (llm_json_envelope(buf_str(&req->resp), req->resp.len, &root, &content, &len,
		                      err, sizeof(err)) != 0) {
			llm_finish(c, req, LLM_ERR_BAD_RESPONSE, NULL, 0, err);
			return true;
		}
		llm_finish(c, req, LLM_OK, content, len, NULL);
		json_decref(root);
		return true;
	}
	if (v == LLM_V_RETRY && req->attempts < c->cfg.max_attempts && !c->closing) {
		llm_wait_retry(c, req, code, why);
		return false;
	}
	if (v == LLM_V_RETRY)
		snprintf(err, sizeof(err), "%s after %u attempts", why, req->attempts);
	else
		snprintf(err, sizeof(err), "%s", why);
	llm_finish(c, req, status, NULL, 0, err);
	return true;
}

/* Handles every finished transfer; returns how many there were (callbacks run or retries
 * scheduled) and adds the callbacks to *ran. */
static int llm_reap(struct llm_client *c, int *ran)
{
	int n = 0, left;
	CURLMsg *msg;
	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		if (llm_done(c, msg->easy_handle, msg->data.result))
			(*ran)++;
		n++;
	}
	return n;
}

int llm_poll(struct llm_client *c, int timeout_ms)
{
	assert(c != NULL && c->magic == LLM_CLIENT_MAGIC && !c->busy);
	c->busy = true;
	long long deadline = backoff_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int ran = 0, rc = 0;
	for (;;) {
		long long now = backoff_now_ms();
		long long next_due = llm_promote(c, now);
		ran += llm_start_ready(c);
		int running;
		if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
			rc = -1;
			break;
		}
		if (llm_reap(c, &ran) > 0)
			continue; /* slots were freed: start what waits for one at once */
		now = backoff_now_ms();
		if (ran > 0 || llm_pending(c) == 0 || now >= deadline)
			break;
		long long wait = deadline - now;
		if (next_due >= 0 && next_due - now < wait)
			wait = next_due > now ? next_due - now : 0;
		if (curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL) != CURLM_OK) {
			rc = -1;
			break;
		}
	}
	c->busy = false;
	return rc < 0 ? -1 : ran;
}

void llm_xfer_cancel_all(struct llm_client *c)
{
	assert(c->closing);
	for (unsigned i = 0; c->slot != NULL && i < c->cfg.max_in_flight; i++) {
		struct llm_req *req = c->slot[i];
		if (req == NULL)
			continue;
		curl_multi_remove_handle(c->multi, c->easy[i]);
		c->slot[i] = NULL;
		c->ninflight--;
		metrics_gauge_add(c->in_flight, -1);
		llm_xfer_enqueue(c, req);
	}
	llm_promote(c, LLONG_MAX);
	for (struct llm_req *req; (req = llm_dequeue(c)) != NULL;)
		llm_finish(c, req, LLM_ERR_CANCELLED, NULL, 0, "cancelled: the client is closing");
}

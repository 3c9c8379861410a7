/*
 * llm: the chat-completions client (see llm.h): configuration, the client's life, metrics
 * and llm_submit. The transfers (queues, curl multi, retries, callbacks) are in
 * llm_xfer.c; the bytes on the wire (request body, envelope, Retry-After, the answer's
 * JSON) in llm_json.c; prompt files and the policy names in llm_prompt.c.
 */
#include "llm.h"

#include <assert.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "buf.h"
#include "llm_json.h"
#include "llm_xfer.h"
#include "xalloc.h"

/* LLM calls are slow: 50 ms .. 2 min. */
static const double llm_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120 };

static const char *const llm_status_names[LLM_NSTATUS] = { "ok", "http_error", "unavailable",
	                                                   "bad_response", "cancelled" };

struct llm_config llm_transfer_config(const struct llm_transfer_settings *t)
{
	return (struct llm_config){
		.base_url = t->base_url,
		.model = t->model,
		.api_key = t->api_key,
		.api_key_header = t->api_key_header,
		.timeout_ms = t->timeout_ms,
		.connect_timeout_ms = t->connect_timeout_ms,
		.max_in_flight = (unsigned)t->in_flight,
		.max_attempts = (unsigned)t->attempts,
		.backoff_base_ms = t->backoff_base_ms,
		.backoff_cap_ms = t->backoff_cap_ms,
		.retry_after_cap_ms = t->retry_after_cap_ms,
		.max_response_bytes = (size_t)t->max_response,
	};
}

const char *llm_status_name(int status)
{
	return status <= 0 && status > -LLM_NSTATUS ? llm_status_names[-status] : "unknown";
}

static pthread_once_t llm_curl_once = PTHREAD_ONCE_INIT;
static CURLcode llm_curl_rc;

/* curl_global_init is not thread-safe on every build; never cleaned up (other modules or
 * clients may still use curl, and exit frees it anyway). */
static void llm_curl_init(void)
{
	llm_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- configuration ---- */

static bool llm_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

#define LLM_BAD(...)                                                                               \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -1;                                                                         \
	} while (0)

static int llm_check(const struct llm_config *cfg, char *err, size_t errlen)
{
	const char *u = cfg->base_url;
	if (u == NULL || (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0))
		LLM_BAD("llm.base_url: must start with http:// or https://");
	if (strlen(u) > 2000 || llm_has_ctl(u) || strchr(u, ' ') != NULL)
		LLM_BAD("llm.base_url: too long, or holds spaces or control characters");
	if (cfg->model == NULL || cfg->model[0] == '\0' || strlen(cfg->model) > 256)
		LLM_BAD("llm.model: must be 1..256 characters");
	if (cfg->api_key != NULL && (strlen(cfg->api_key) > 4096 || llm_has_ctl(cfg->api_key)))
		LLM_BAD("llm.api_key: too long or holds control characters");
	const char *h = cfg->api_key_header;
	if (h != NULL && h[0] != '\0' &&
	    (strlen(h) > 64 ||
	     strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
	         strlen(h)))
		LLM_BAD("llm.api_key_header: must be a header name of at most 64 characters");
	if (cfg->timeout_ms <= 0 || cfg->timeout_ms > 86400000LL)
		LLM_BAD("llm.timeout_ms: must be 1 ms .. 1 day");
	const char *p = cfg->path;
	if (p != NULL && p[0] != '\0' &&
	    (p[0] != '/' || strlen(p) > 200 || llm_has_ctl(p) || strpbrk(p, " ?#") != NULL))
		LLM_BAD("llm.path: must start with / and hold no blank, ? or #");
	if (cfg->connect_timeout_ms <= 0 || cfg->connect_timeout_ms > 86400000LL)
		LLM_BAD("llm.connect_timeout_ms: must be 1 ms .. 1 day");
	if (cfg->max_in_flight < 1 || cfg->max_in_flight > 1024)
		LLM_BAD("llm.max_in_flight: must be 1..1024");
	if (cfg->max_attempts < 1 || cfg->max_attempts > 100)
		LLM_BAD("llm.max_attempts: must be 1..100");
	if (cfg->backoff_base_ms < 1 || cfg->backoff_cap_ms < cfg->backoff_base_ms)
		LLM_BAD("llm.backoff: base must be >= 1 ms and cap >= base");
	if (cfg->retry_after_cap_ms < 0 || cfg->retry_after_cap_ms > 86400000LL)
		LLM_BAD("llm.retry_after_cap_ms: must be 0 .. 1 day");
	if (cfg->max_response_bytes < 1024 || cfg->max_response_bytes > ((size_t)1 << 30))
		LLM_BAD("llm.max_response_bytes: must be 1 KiB .. 1 GiB");
	if (!isfinite(cfg->temperature) || cfg->temperature < 0 || cfg->temperature > 2)
		LLM_BAD("llm.temperature: must be 0..2");
	return 0;
}

static struct curl_slist *llm_headers(const char *api_key, const char *key_header)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = h ? curl_slist_append(h, "Accept: application/json") : NULL;
	/* no "Expect: 100-continue" round trip for large prompts */
	h = h ? curl_slist_append(h, "Expect:") : NULL;
	if (h != NULL && api_key != NULL && api_key[0] != '\0') {
		struct buf auth = BUF_INIT;
		if (key_header != NULL && key_header[0] != '\0')
			buf_appendf(&auth, "%s: %s", key_header, api_key);
		else
			buf_appendf(&auth, "Authorization: Bearer %s", api_key);
		struct curl_slist *with = curl_slist_append(h, auth.data);
		explicit_bzero(auth.data, auth.len);
		buf_free(&auth);
		if (with == NULL)
			curl_slist_free_all(h);
		h = with;
	}
	return h;
}

/* base (its trailing slashes dropped) + path, then base's query string if it has one
 * (Azure: ".../deployments/d?api-version=2024-10-21"). Owned. */
static char *llm_url(const char *base, const char *path)
{
	size_t qpos = strcspn(base, "?"), len = qpos;
	while (len > 0 && base[len - 1] == '/')
		len--;
	struct buf url = BUF_INIT;
	buf_append(&url, base, len);
	buf_append_str(&url, path);
	buf_append_str(&url, base + qpos);
	return buf_detach(&url);
}

static void llm_metrics_init(struct llm_client *c, struct metrics *m)
{
	if (m == NULL)
		m = c->own_m = metrics_new();
	for (int i = 0; i < LLM_NSTATUS; i++) {
		char labels[64];
		snprintf(labels, sizeof(labels), "status=\"%s\"", llm_status_names[i]);
		c->requests[i] = metrics_counter(m, "aimem_llm_requests_total",
		                                 "LLM requests finished, by outcome", labels);
	}
	c->retries = metrics_counter(m, "aimem_llm_retries_total",
	                             "LLM attempts that failed and were retried", "");
	c->seconds =
	    metrics_histogram(m, "aimem_llm_request_seconds", "Duration of one LLM HTTP attempt",
	                      "", llm_bounds, sizeof(llm_bounds) / sizeof(llm_bounds[0]));
	c->in_flight = metrics_gauge(m, "aimem_llm_in_flight", "LLM transfers in flight", "");
}

struct llm_client *llm_new(const struct llm_config *cfg, struct metrics *m, char *err,
                           size_t errlen)
{
	if (cfg == NULL || llm_check(cfg, err, errlen) != 0)
		return NULL;
	pthread_once(&llm_curl_once, llm_curl_init);
	if (llm_curl_rc != CURLE_OK) {
		snprintf(err, errlen, "llm: curl_global_init: %s", curl_easy_strerror(llm_curl_rc));
		return NULL;
	}
	struct llm_client *c = xcalloc(1, sizeof(*c));
	c->magic = LLM_CLIENT_MAGIC;
	c->cfg = *cfg;
	c->cfg.api_key = NULL;
	c->cfg.api_key_header = NULL;
	c->cfg.base_url = NULL;
	c->cfg.model = c->model = xstrdup(cfg->model);
	c->url =
	    llm_url(cfg->base_url,
	            cfg->path != NULL && cfg->path[0] != '\0' ? cfg->path : "/chat/completions");
	c->cfg.path = NULL;
	if (c->cfg.connect_timeout_ms > c->cfg.timeout_ms)
		c->cfg.connect_timeout_ms = c->cfg.timeout_ms;
	unsigned n = cfg->max_in_flight;
	c->easy = xcalloc(n, sizeof(*c->easy));
	c->slot = xcalloc(n, sizeof(*c->slot));
	c->free_slots = xcalloc(n, sizeof(*c->free_slots));
	for (unsigned i = 0; i < n; i++)
		c->free_slots[i] = n - 1 - i; /* slot 0 on top: handles reused in order */
	c->nfree = n;
	c->multi = curl_multi_init();
	c->headers = llm_headers(cfg->api_key, cfg->api_key_header);
	if (c->multi == NULL || c->headers == NULL) {
		snprintf(err, errlen, "llm: curl could not allocate its handles");
		llm_free(&c);
		return NULL;
	}
	/* the connection cache keeps one idle connection per slot */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)n);
	llm_metrics_init(c, m);
	return c;
}

int llm_submit(struct llm_client *c, const char *system_prompt, const char *user_prompt,
               llm_done_fn done, void *opaque)
{
	if (c == NULL || user_prompt == NULL || done == NULL || c->closing)
		return -1;
	assert(c->magic == LLM_CLIENT_MAGIC);
	struct llm_req *req = xcalloc(1, sizeof(*req));
	req->magic = LLM_REQ_MAGIC;
	req->c = c;
	req->done = done;
	req->opaque = opaque;
	struct buf b = BUF_INIT;
	llm_json_request(&b, c->model, c->cfg.temperature, c->cfg.json_mode, system_prompt,
	                 user_prompt);
	req->body_len = b.len;
	req->body = buf_detach(&b);
	backoff_init(&req->bo, c->cfg.backoff_base_ms, c->cfg.backoff_cap_ms);
	llm_xfer_enqueue(c, req);
	return 0;
}

int llm_submit_raw(struct llm_client *c, const char *body, size_t len, llm_done_fn done,
                   void *opaque)
{
	if (c == NULL || body == NULL || done == NULL || c->closing)
		return -1;
	assert(c->magic == LLM_CLIENT_MAGIC);
	struct llm_req *req = xcalloc(1, sizeof(*req));
	req->magic = LLM_REQ_MAGIC;
	req->c = c;
	req->done = done;
	req->opaque = opaque;
	req->raw = true;
	req->body = xstrndup(body, len);
	req->body_len = strlen(req->body); /* JSON text holds no NUL byte */
	backoff_init(&req->bo, c->cfg.backoff_base_ms, c->cfg.backoff_cap_ms);
	llm_xfer_enqueue(c, req);
	return 0;
}

size_t llm_pending(const struct llm_client *c)
{
	return c == NULL ? 0 : c->nready + c->ninflight + c->nwaiting;
}

void llm_stats(const struct llm_client *c, struct llm_stats *out)
{
	*out = c->st;
}

/* ---- teardown ---- */

void llm_free(struct llm_client **cp)
{
	struct llm_client *c = cp ? *cp : NULL;
	if (c == NULL)
		return;
	assert(c->magic == LLM_CLIENT_MAGIC && !c->busy);
	c->closing = true;
	llm_xfer_cancel_all(c);
	for (unsigned i = 0; c->easy != NULL && i < c->cfg.max_in_flight; i++)
		if (c->easy[i] != NULL)
			curl_easy_cleanup(c->easy[i]);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->headers);
	metrics_free(&c->own_m);
	free(c->easy);
	free(c->slot);
	free(c->free_slots);
	free(c->url);
	free(c->model);
	c->magic = 0;
	free(c);
	*cp = NULL;
}

/*
 * llm: an OpenAI-compatible chat-completions client for the workers.
 *
 * POST {base_url}/chat/completions with a system and a user message, many requests in
 * flight over one curl multi handle (bounded by max_in_flight, connections kept alive and
 * reused), a whole-transfer timeout per attempt, retries with capped jittered backoff on
 * 429 (honouring Retry-After), 500/502/503/504, timeouts, connection failures and bodies
 * cut short; no retry on other 4xx. The answer's envelope is parsed strictly and only
 * choices[0].message.content is handed on, so OpenAI, Azure-compatible gateways, vLLM,
 * llama.cpp server and Ollama all work. llm_parse_json then turns the model's text into a
 * JSON object (with one bounded repair attempt).
 *
 * It deliberately does not do streaming, tools/function calls, redirects (a POST carrying
 * an API key is never re-sent elsewhere), prompt templating, or any clamping/defaulting of
 * the model's fields (the workers own their schemas). Prompts, answers, keys and the
 * Authorization header never reach the log; error texts name a status, a curl error or a
 * position, never content.
 *
 * Threads: a client belongs to one thread. llm_submit, llm_poll, llm_pending and llm_free
 * are called on that thread, and every callback runs on it (inside llm_poll, or llm_free
 * for cancellations). Different clients are independent. llm_parse_json, llm_load_prompt,
 * llm_prompt_version, llm_policy_parse and llm_retry_after_ms are pure and thread-safe.
 */
#ifndef AIMEM_LLM_H
#define AIMEM_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "metrics.h"

#define LLM_WUR __attribute__((warn_unused_result))

struct llm_config {
	/* "https://api.openai.com/v1", "http://127.0.0.1:8080/v1": http or https; trailing
	 * slashes are dropped; a query string stays at the end ("...?api-version=...") */
	const char *base_url;
	const char *model;   /* non-empty */
	const char *api_key; /* NULL or "": no key header (local servers); never logged */
	/* NULL or "": the key goes as "Authorization: Bearer <key>"; otherwise the name of the
	 * header that carries the bare key, e.g. "api-key" (Azure OpenAI) */
	const char *api_key_header;
	long long timeout_ms;         /* per attempt, the whole transfer (> 0) */
	long long connect_timeout_ms; /* per attempt (> 0; at most timeout_ms is used) */
	unsigned max_in_flight;       /* concurrent transfers (1..1024) */
	unsigned max_attempts;        /* 1 = no retry (1..100) */
	long long backoff_base_ms;    /* capped jittered backoff between attempts (lib/backoff) */
	long long backoff_cap_ms;     /* >= backoff_base_ms */
	long long retry_after_cap_ms; /* a longer Retry-After is cut to this (>= 0) */
	size_t max_response_bytes;    /* a larger body aborts the transfer (1 KiB .. 1 GiB) */
	double temperature;           /* 0..2 */
	bool json_mode;               /* send response_format {"type":"json_object"} */
	/* NULL or "": "/chat/completions"; another OpenAI-compatible route under base_url (e.g.
	 * "/embeddings", which lib/embed uses through llm_submit_raw) */
	const char *path;
};

/*
 * The transfer settings of a section that talks to an OpenAI-compatible server (llm.* in
 * lib/llm_settings.h, embed.* in lib/embed.h), as a cfg table loads them: strings borrowed
 * from the table, numbers as cfg's long long. Each section embeds one as .transfer, keeps its
 * own keys, defaults and bounds, and hands it to llm_transfer_config.
 */
struct llm_transfer_settings {
	char *base_url, *model, *api_key, *api_key_header;
	long long timeout_ms, connect_timeout_ms, in_flight, attempts;
	long long backoff_base_ms, backoff_cap_ms, retry_after_cap_ms, max_response;
};

/* The llm_config of t (strings borrowed from t); temperature, json_mode and path are left
 * 0 / false / NULL for the caller to set. Pure. */
struct llm_config llm_transfer_config(const struct llm_transfer_settings *t);

enum llm_status {
	LLM_OK = 0,
	LLM_ERR_HTTP = -1,         /* a final answer that is no retry case: 4xx other than 429,
	                              3xx, 5xx other than 500/502/503/504 */
	LLM_ERR_UNAVAILABLE = -2,  /* attempts exhausted on 429/5xx/timeout/connection failure,
	                              or a transport failure no retry can fix (TLS, bad URL) */
	LLM_ERR_BAD_RESPONSE = -3, /* a 2xx whose envelope is unparseable or has no content, or
	                              a body over max_response_bytes (never retried) */
	LLM_ERR_CANCELLED = -4,    /* llm_free while queued, in flight or waiting to retry */
};

/* "ok", "http_error", "unavailable", "bad_response", "cancelled" (the metrics label). */
const char *llm_status_name(int status);

struct llm_client;

/*
 * Checks cfg (copied; nothing is kept from it) and creates a client. m (borrowed; must
 * outlive the client) receives aimem_llm_requests_total{status}, aimem_llm_request_seconds,
 * aimem_llm_retries_total and aimem_llm_in_flight; NULL keeps them in a private registry.
 * Returns the client (owned; llm_free) or NULL with err ("llm.<field>: reason").
 * Initialises libcurl once per process (thread-safe; never cleaned up). Does not connect.
 */
struct llm_client *llm_new(const struct llm_config *cfg, struct metrics *m, char *err,
                           size_t errlen);
/* Cancels everything still pending (each callback gets LLM_ERR_CANCELLED, on this thread,
 * before this returns; llm_submit from those callbacks fails), closes the connections and
 * frees the client. Accepts NULL and clears the pointer. Not from inside a callback. */
void llm_free(struct llm_client **c);

/*
 * The result of one request; runs on the client's thread, from llm_poll (or llm_free).
 * status is an enum llm_status. On LLM_OK, content/len is choices[0].message.content
 * (borrowed until the callback returns; NUL-terminated; the envelope parser refuses \u0000,
 * so len == strlen(content)) and err is NULL; on
 * failure content is NULL, len 0 and err a short reason without any content (borrowed, same
 * lifetime). The callback may call llm_submit; it must not call llm_poll or llm_free.
 */
typedef void (*llm_done_fn)(void *opaque, int status, const char *content, size_t len,
                            const char *err);

/*
 * Queues a request (the prompts are copied; system_prompt may be NULL or "" to send only the
 * user message; bytes that are not UTF-8 are sent as U+FFFD). It starts on the next
 * llm_poll when a slot is free. done is called exactly once, unless llm_submit fails.
 * opaque is borrowed and handed back. Never blocks. Returns 0, or -1 for a NULL argument or
 * a client being freed.
 */
int llm_submit(struct llm_client *c, const char *system_prompt, const char *user_prompt,
               llm_done_fn done, void *opaque) LLM_WUR;

/*
 * Like llm_submit, for another route (llm_config.path): body/len is the whole JSON request
 * (copied), and on LLM_OK the callback gets the raw 2xx response body (at most
 * max_response_bytes; NUL-terminated; not parsed: the caller owns its format). Transfers,
 * timeouts, retries and caps are llm_submit's. Returns 0, or -1 for a NULL argument or a
 * client being freed.
 */
int llm_submit_raw(struct llm_client *c, const char *body, size_t len, llm_done_fn done,
                   void *opaque) LLM_WUR;

/*
 * Starts queued requests, drives transfers and retry timers, and runs completion callbacks.
 * Waits up to timeout_ms (0: only what is ready now) and returns as soon as at least one
 * callback ran, or at once when nothing is pending. Returns the number of callbacks run, or
 * -1 if curl's multi interface failed (then the pending requests stay pending).
 */
int llm_poll(struct llm_client *c, int timeout_ms);

/* Requests not finished yet: queued + in flight + waiting to retry. */
size_t llm_pending(const struct llm_client *c);

/* Counters for tests and diagnostics (since llm_new). */
struct llm_stats {
	unsigned long long attempts;       /* HTTP attempts started */
	unsigned long long retries;        /* attempts that were retries */
	unsigned long long connects;       /* new connections opened (keep-alive reuses none) */
	unsigned long long body_bytes;     /* response body bytes received, all attempts */
	unsigned long long peak_in_flight; /* most transfers in flight at once */
};
void llm_stats(const struct llm_client *c, struct llm_stats *out);

/*
 * Strict parsing of a model's JSON answer into an object: a bare object, or one inside a
 * ``` fence (with or without a language tag), or with prose around it. When the text (or the
 * fence's inside) is not an object as it stands, one repair attempt is made: take the first
 * '{' and its matching '}' (braces inside strings do not count), drop trailing commas before
 * '}' or ']', parse that. Rejected: empty text, a top-level array or scalar, two objects,
 * duplicate keys, invalid UTF-8, anything still unparseable. Returns a new object (owned:
 * json_decref) or NULL with err (a reason and a position, never the content).
 */
json_t *llm_parse_json(const char *content, size_t len, char *err, size_t errlen) LLM_WUR;

/*
 * Loads a prompt file such as "workers/prompts/summarize.v1.txt": at most 256 KiB, valid
 * UTF-8, no NUL bytes, not blank, and the file name must carry a version (see
 * llm_prompt_version). Returns the text (owned: free) or NULL with err ("path: reason").
 * Blocks on file I/O.
 */
char *llm_load_prompt(const char *path, char *err, size_t errlen) LLM_WUR;
/* The version part of a prompt file name: the dot-separated "v<digits>" component of the
 * base name ("summarize.v12.txt" -> "v12"). Writes it to out; 0, or -1 if there is none or
 * it does not fit. */
int llm_prompt_version(const char *path, char *out, size_t outlen) LLM_WUR;

/* What a worker does when the model stays unavailable (DESIGN §5). */
enum llm_policy {
	LLM_POLICY_FALLBACK,    /* the built-in processor; the row is marked needs_reprocess */
	LLM_POLICY_WAIT,        /* stop advancing the partition and retry */
	LLM_POLICY_DEAD_LETTER, /* write the event to dead_letters */
};
/* "fallback" | "wait" | "dead-letter"; 0 or -1. */
int llm_policy_parse(const char *s, enum llm_policy *out) LLM_WUR;
const char *llm_policy_name(enum llm_policy p);

/*
 * A Retry-After value (without the header name; surrounding blanks allowed) in
 * milliseconds from now: delay-seconds, or an HTTP-date (now is the current time(NULL));
 * a date in the past gives 0. Returns -1 when the value is neither.
 */
long long llm_retry_after_ms(const char *value, size_t len, time_t now);

#endif

/*
 * llm_json: the wire format of lib/llm, apart from the transport: the request body, the
 * response envelope, the error hint of a failed answer, Retry-After values and the model
 * answer's JSON (llm_parse_json and llm_retry_after_ms are declared in llm.h, the public
 * API; this header holds what only llm.c and the tests need).
 *
 * Pure functions over bytes: no I/O, no curl handles, no logging, so they can be fuzzed
 * (tests/fuzz/fuzz_llm_json.c) and tested alone. Thread-safe.
 */
#ifndef AIMEM_LLM_JSON_H
#define AIMEM_LLM_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * Appends the chat-completions request body to b:
 * {"model":..,"messages":[{"role":"system","content":..},{"role":"user","content":..}],
 *  "temperature":..,"response_format":{"type":"json_object"}}
 * The system message is left out when system is NULL or ""; response_format unless
 * json_mode. Strings are JSON-escaped; bytes that are not UTF-8 become U+FFFD. temperature
 * must be finite (llm_new checks it).
 */
void llm_json_request(struct buf *b, const char *model, double temperature, bool json_mode,
                      const char *system, const char *user);

/*
 * Parses a 2xx answer's envelope strictly and finds choices[0].message.content. On success
 * returns 0, *root (owned: json_decref) and *content and *clen pointing into it (valid until
 * *root is released). Otherwise -1, *root NULL and err: not JSON, not an object, an "error"
 * object instead of choices, no choices, content missing or not a string (null content with
 * a "refusal" says so).
 */
int llm_json_envelope(const char *body, size_t len, json_t **root, const char **content,
                      size_t *clen, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * A short, content-free hint from an error answer's body, e.g. OpenAI's
 * {"error":{"code":"rate_limit_exceeded","type":"requests"}} gives "rate_limit_exceeded":
 * error.code, else error.type, else a string "error" value, but only when it is a token
 * of at most 64 characters in [A-Za-z0-9_.:-] (messages may quote the prompt, so they are
 * never used). out is "" when there is no such hint.
 */
void llm_json_error_hint(const char *body, size_t len, char *out, size_t outlen);

#endif

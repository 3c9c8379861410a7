/*
 * summary_llm: the summarizer's model settings (the llm.* section) and the client, prompt and
 * processor name built from them, shared by aimem-summarizer and `aimem summarize` so both
 * read the same keys (llm.base_url, AIMEM_LLM_MODEL, ...) with the same defaults and checks.
 *
 * A program embeds struct summary_llm_settings in its settings struct and lists
 * SUMMARY_LLM_CFG_ITEMS(offsetof(struct its_settings, llm)) in its cfg table.
 *
 * Not here: when to ask the model (the worker's batches, the CLI's lines), the policy's effect.
 */
#ifndef AIMEM_SUMMARY_LLM_H
#define AIMEM_SUMMARY_LLM_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "llm.h"
#include "metrics.h"

struct summary_llm_settings {
	char *base_url, *model, *api_key, *api_key_header, *prompt, *policy, *temperature;
	long long timeout_ms, connect_timeout_ms, in_flight, attempts;
	long long backoff_base_ms, backoff_cap_ms, retry_after_cap_ms;
	long long max_response, max_prompt;
	bool json_mode;
};

#define SUMMARY_LLM_PROMPT_DEFAULT "workers/summarizer/prompts/summarize.v2.txt"

/* clang-format off */
#define SUMMARY_LLM_S_(base, field) ((base) + offsetof(struct summary_llm_settings, field))
/* The llm.* rows of a cfg table; base: the offset of the embedded struct summary_llm_settings. */
#define SUMMARY_LLM_CFG_ITEMS(base) \
	{ "llm.base_url", CFG_STRING, NULL, 0, 0, NULL, 0, SUMMARY_LLM_S_(base, base_url), \
	  "OpenAI-compatible API base, e.g. https://api.openai.com/v1 (processor llm)" }, \
	{ "llm.model", CFG_STRING, NULL, 0, 0, NULL, 0, SUMMARY_LLM_S_(base, model), \
	  "model name (processor llm); recorded on rows as llm:<model>/<prompt version>" }, \
	{ "llm.api_key", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET, SUMMARY_LLM_S_(base, api_key), \
	  "API key (use llm.api_key_file or AIMEM_LLM_API_KEY_FILE); unset for local servers" }, \
	{ "llm.api_key_header", CFG_STRING, NULL, 0, 0, NULL, 0, SUMMARY_LLM_S_(base, api_key_header), \
	  "header carrying the bare key (e.g. api-key); unset: Authorization: Bearer" }, \
	{ "llm.prompt", CFG_STRING, SUMMARY_LLM_PROMPT_DEFAULT, 0, 0, NULL, CFG_DATA, SUMMARY_LLM_S_(base, prompt), \
	  "system prompt file; its name carries the version (…​.v<N>.txt)" }, \
	{ "llm.policy", CFG_ENUM, "fallback", 0, 0, "fallback|wait|dead-letter", 0, SUMMARY_LLM_S_(base, policy), \
	  "when the model stays unavailable: built-in summary marked needs_reprocess, retry " \
	  "without advancing, or dead letter" }, \
	{ "llm.timeout", CFG_DURATION, "60s", 100, 600000, NULL, 0, SUMMARY_LLM_S_(base, timeout_ms), \
	  "per attempt, the whole transfer" }, \
	{ "llm.connect_timeout", CFG_DURATION, "5s", 100, 60000, NULL, 0, SUMMARY_LLM_S_(base, connect_timeout_ms), \
	  "per attempt" }, \
	{ "llm.max_in_flight", CFG_INT, "64", 1, 1024, NULL, 0, SUMMARY_LLM_S_(base, in_flight), \
	  "requests in flight at once" }, \
	{ "llm.max_attempts", CFG_INT, "4", 1, 100, NULL, 0, SUMMARY_LLM_S_(base, attempts), \
	  "attempts per call on 429/5xx/timeouts (1: no retry)" }, \
	{ "llm.backoff.base", CFG_DURATION, "500ms", 1, 60000, NULL, 0, SUMMARY_LLM_S_(base, backoff_base_ms), \
	  "first backoff between attempts" }, \
	{ "llm.backoff.cap", CFG_DURATION, "30s", 1, 600000, NULL, 0, SUMMARY_LLM_S_(base, backoff_cap_ms), \
	  "longest backoff between attempts" }, \
	{ "llm.retry_after_cap", CFG_DURATION, "60s", 0, 600000, NULL, 0, SUMMARY_LLM_S_(base, retry_after_cap_ms), \
	  "a longer Retry-After is cut to this" }, \
	{ "llm.max_response", CFG_SIZE, "1MiB", 1024, 1LL << 30, NULL, 0, SUMMARY_LLM_S_(base, max_response), \
	  "largest answer body accepted" }, \
	{ "llm.max_prompt", CFG_SIZE, "96KiB", 1024, 16LL << 20, NULL, 0, SUMMARY_LLM_S_(base, max_prompt), \
	  "transcript bytes sent at most (longer calls are cut at a turn)" }, \
	{ "llm.temperature", CFG_STRING, "0.2", 0, 0, NULL, 0, SUMMARY_LLM_S_(base, temperature), \
	  "sampling temperature, 0..2" }, \
	{ "llm.json_mode", CFG_BOOL, "true", 0, 0, NULL, 0, SUMMARY_LLM_S_(base, json_mode), \
	  "send response_format json_object (turn off for servers that refuse it)" }
/* clang-format on */

/* What the settings make: the client (NULL when the program does not use the model), the
 * system prompt, the name rows carry ("llm:<model>/<prompt version>") and the policy. */
struct summary_llm {
	struct llm_client *client;
	char *prompt;
	char processor[192];
	enum llm_policy policy;
	size_t max_prompt_bytes;
};

/*
 * Checks s and, when use_model, loads the prompt and creates the client (m borrowed, may be
 * NULL). 0 with *out filled (summary_llm_close), or -1 with err naming the setting. Without
 * use_model only the policy is checked and out->client stays NULL. Does not connect.
 */
int summary_llm_open(const struct summary_llm_settings *s, bool use_model, struct metrics *m,
                     struct summary_llm *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Frees what l holds (NULL members are fine). */
void summary_llm_close(struct summary_llm *l);

#endif

/*
 * llm_settings: the llm.* settings section of the programs that ask a model (aimem-summarizer,
 * aimem-personality, `aimem summarize`) and what they make of it: the client, the system
 * prompt, the processor name rows carry and the policy. Each program reads the same keys
 * (llm.base_url, AIMEM_LLM_MODEL, ...) with the same bounds and checks; only the prompt's
 * default and the policy's help (what the built-in fallback writes) are the program's.
 *
 * A program embeds struct llm_settings in its settings struct and lists
 * LLM_CFG_ITEMS(offsetof(struct its_settings, llm), "its/prompt.v1.txt", "built-in summary")
 * in its cfg table; start-up and --check-config call llm_model_open on the loaded settings.
 *
 * Not here: the client itself (llm.h), when to ask the model (the worker's batches, the CLI's
 * lines), the policy's effect (the worker programs).
 */
#ifndef AIMEM_LLM_SETTINGS_H
#define AIMEM_LLM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "llm.h"
#include "metrics.h"

struct llm_settings {
	struct llm_transfer_settings transfer; /* llm.base_url ... llm.max_response (llm.h) */
	char *prompt, *policy, *temperature;
	long long max_prompt;
	bool json_mode;
};

/* clang-format off */
#define LLM_S_(base, field) ((base) + offsetof(struct llm_settings, field))
/*
 * The llm.* rows of a cfg table. base: the offset of the embedded struct llm_settings;
 * prompt: the default llm.prompt (a path in the source tree, CFG_DATA); builtin: what the
 * fallback policy writes instead ("built-in summary"), for llm.policy's help.
 */
#define LLM_CFG_ITEMS(base, prompt_default, builtin) \
	{ .key = "llm.base_url", .type = CFG_STRING, .offset = LLM_S_(base, transfer.base_url), \
	  .help = "OpenAI-compatible API base, e.g. https://api.openai.com/v1 (processor llm)" }, \
	{ .key = "llm.model", .type = CFG_STRING, .offset = LLM_S_(base, transfer.model), \
	  .help = "model name (processor llm); recorded on rows as llm:<model>/<prompt version>" }, \
	{ .key = "llm.api_key", .type = CFG_STRING, .flags = CFG_SECRET, .offset = LLM_S_(base, transfer.api_key), \
	  .help = "API key (use llm.api_key_file or AIMEM_LLM_API_KEY_FILE); unset for local servers" }, \
	{ .key = "llm.api_key_header", .type = CFG_STRING, .offset = LLM_S_(base, transfer.api_key_header), \
	  .help = "header carrying the bare key (e.g. api-key); unset: Authorization: Bearer" }, \
	{ .key = "llm.prompt", .type = CFG_STRING, .def = (prompt_default), .flags = CFG_DATA, \
	  .offset = LLM_S_(base, prompt), \
	  .help = "system prompt file; its name carries the version (…​.v<N>.txt)" }, \
	{ .key = "llm.policy", .type = CFG_ENUM, .def = "fallback", .choices = "fallback|wait|dead-letter", \
	  .offset = LLM_S_(base, policy), \
	  .help = "when the model stays unavailable: " builtin " marked needs_reprocess, retry " \
	          "without advancing, or dead letter" }, \
	{ .key = "llm.timeout", .type = CFG_DURATION, .def = "60s", .min = 100, .max = 600000, \
	  .offset = LLM_S_(base, transfer.timeout_ms), .help = "per attempt, the whole transfer" }, \
	{ .key = "llm.connect_timeout", .type = CFG_DURATION, .def = "5s", .min = 100, .max = 60000, \
	  .offset = LLM_S_(base, transfer.connect_timeout_ms), .help = "per attempt" }, \
	{ .key = "llm.max_in_flight", .type = CFG_INT, .def = "64", .min = 1, .max = 1024, \
	  .offset = LLM_S_(base, transfer.in_flight), .help = "requests in flight at once" }, \
	{ .key = "llm.max_attempts", .type = CFG_INT, .def = "4", .min = 1, .max = 100, \
	  .offset = LLM_S_(base, transfer.attempts), \
	  .help = "attempts per call on 429/5xx/timeouts (1: no retry)" }, \
	{ .key = "llm.backoff.base", .type = CFG_DURATION, .def = "500ms", .min = 1, .max = 60000, \
	  .offset = LLM_S_(base, transfer.backoff_base_ms), .help = "first backoff between attempts" }, \
	{ .key = "llm.backoff.cap", .type = CFG_DURATION, .def = "30s", .min = 1, .max = 600000, \
	  .offset = LLM_S_(base, transfer.backoff_cap_ms), .help = "longest backoff between attempts" }, \
	{ .key = "llm.retry_after_cap", .type = CFG_DURATION, .def = "60s", .min = 0, .max = 600000, \
	  .offset = LLM_S_(base, transfer.retry_after_cap_ms), .help = "a longer Retry-After is cut to this" }, \
	{ .key = "llm.max_response", .type = CFG_SIZE, .def = "1MiB", .min = 1024, .max = 1LL << 30, \
	  .offset = LLM_S_(base, transfer.max_response), .help = "largest answer body accepted" }, \
	{ .key = "llm.max_prompt", .type = CFG_SIZE, .def = "96KiB", .min = 1024, .max = 16LL << 20, \
	  .offset = LLM_S_(base, max_prompt), \
	  .help = "transcript bytes sent at most (longer calls are cut at a turn)" }, \
	{ .key = "llm.temperature", .type = CFG_STRING, .def = "0.2", \
	  .offset = LLM_S_(base, temperature), .help = "sampling temperature, 0..2" }, \
	{ .key = "llm.json_mode", .type = CFG_BOOL, .def = "true", .offset = LLM_S_(base, json_mode), \
	  .help = "send response_format json_object (turn off for servers that refuse it)" }
/* clang-format on */

/* The processor row (builtin|llm) of a program that asks the model or runs its built-in
 * processor instead; off: the offset of a char * field; builtin: what the built-in one is
 * ("the built-in processors"), for the help. */
/* clang-format off */
#define LLM_PROCESSOR_CFG_ITEM(off, builtin) \
	{ .key = "processor", .type = CFG_ENUM, .def = "builtin", .choices = "builtin|llm", \
	  .offset = (off), .help = "builtin: " builtin ", no network; llm: the model at llm.base_url" }
/* clang-format on */

/* What the settings make: the client (NULL when the program does not use the model), the
 * system prompt, the name rows carry ("llm:<model>/<prompt version>"), the policy and the
 * transcript bytes sent at most. */
struct llm_model {
	struct llm_client *client;
	char *prompt;
	char processor[192];
	enum llm_policy policy;
	size_t max_prompt_bytes;
};

/*
 * Checks s and, when use_model, loads the prompt and creates the client (m borrowed, may be
 * NULL). 0 with *out filled (llm_model_close), or -1 with err naming the setting. Without
 * use_model only the policy is checked and out->client stays NULL. Does not connect.
 */
int llm_model_open(const struct llm_settings *s, bool use_model, struct metrics *m,
                   struct llm_model *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Frees what l holds (NULL members are fine); l may be opened again. */
void llm_model_close(struct llm_model *l);
/* --check-config (prog_info.check): llm_model_open as start-up calls it, without metrics, then
 * closed; nothing is sent. 0, or -1 with err. */
int llm_model_check(const struct llm_settings *s, bool use_model, char *err, size_t errlen);

#endif

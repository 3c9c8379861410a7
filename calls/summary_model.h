/*
 * summary_model: the summarizer's side of an LLM conversation (DESIGN §5): the user message
 * rendered from a call, and the model's JSON answer turned into the same struct proc_result
 * the built-in processors fill, clamped and defaulted.
 *
 * The answer schema (the prompt file asks for it; workers/summarizer/prompts/):
 *   {"summary": "...", "key_topics": ["billing", ...], "key_variables": {"caller_name": "...",
 *    "phone_numbers": [...], "emails": [...], "policy_numbers": [...], "claim_numbers": [...],
 *    "amounts": [...], "dates": [...], "vehicles": [...]}, "caller_name": "...",
 *    "sentiment": "positive|neutral|negative|frustrated",
 *    "resolution_status": "resolved|unresolved|escalated|follow_up"}
 *
 * Nothing in an answer can choose a tenant, a caller or an id: fields such as customer_id,
 * user_id or call_id are ignored wherever they appear, and key_variables keeps only the keys
 * above. A missing or empty summary makes the answer unusable (the worker's policy applies);
 * everything else has a default. Pure, thread-safe, no logging.
 */
#ifndef AIMEM_SUMMARY_MODEL_H
#define AIMEM_SUMMARY_MODEL_H

#include <stddef.h>

#include "buf.h"
#include "event.h"
#include "proc.h"

#define SUMMARY_MODEL_MAX_SUMMARY 2000 /* bytes kept of the model's summary */
#define SUMMARY_MODEL_MAX_TOPICS 5
#define SUMMARY_MODEL_MAX_ITEMS 20  /* values kept per key_variables list */
#define SUMMARY_MODEL_MAX_VALUE 256 /* bytes kept per value */

/*
 * Appends the user message for call to out: one line per caller or agent turn ("Caller: ...",
 * "Agent: ..."; system and tool turns left out), at most max_bytes of it (cut at a turn, or on
 * a character boundary inside an over-long first turn, with a final "[transcript cut]" line).
 */
void summary_model_prompt(const struct event_call *call, size_t max_bytes, struct buf *out);

/*
 * Parses the model's content (llm_parse_json: a bare object, a fenced one, one repair) into
 * *out: summary (trimmed, cut to SUMMARY_MODEL_MAX_SUMMARY on a character boundary), topics
 * (strings, lower-cased, at most SUMMARY_MODEL_MAX_TOPICS), key_variables (known keys only,
 * lists of strings), caller_name (also copied into key_variables), sentiment and resolution
 * (unknown or missing values give "neutral" / "unknown"; the resolution labels are the built-in ones: resolved, unresolved, follow_up, escalated, transferred, unknown), sentiment_score from the label,
 * and the embedding of summary + topics (the built-in embedder, so vectors stay comparable).
 * 0 on success (release *out with proc_result_release); -1 with err (no content quoted) when
 * the answer is unusable, *out then empty.
 */
int summary_model_parse(const char *content, size_t len, struct proc_result *out, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

/*
 * The same, with the built-in processors' result for the same call (builtin, borrowed; what
 * proc_run gave) filling every field the answer leaves empty: key_topics, caller_name (also in
 * key_variables), each key_variables list, and a sentiment or resolution that is missing or
 * not one of the labels (with the built-in sentiment_score). The summary itself is never
 * filled: an answer without one stays unusable. builtin NULL: summary_model_parse.
 */
int summary_model_answer(const char *content, size_t len, const struct proc_result *builtin,
                         struct proc_result *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

/*
 * personality_model: the personality worker's side of an LLM conversation: the model's JSON
 * answer turned into the same struct personality_result the built-in scorer fills, clamped
 * and defaulted. The user message is the transcript as summary_model_prompt() renders it
 * ("Caller: ..." / "Agent: ..." lines); the prompt file tells the model to score the
 * caller's lines only (workers/personality/prompts/).
 *
 * The answer schema: {"openness": 0-100, ... the 13 names of personality_score_names ...,
 * "confidence": 0-1, "rationale": "one line"}; the scores may also sit in a "scores" object.
 * Numbers (or numeric strings) are clamped to 0..100 and rounded to 0.1; a missing or
 * unusable score is 50; a missing confidence takes the caller's default; more than
 * PERSONALITY_MODEL_MAX_MISSING missing scores make the answer unusable (the worker's
 * policy applies). Every other field is ignored: nothing in an answer can choose a tenant,
 * a caller or an id. Pure, thread-safe, no logging.
 */
#ifndef AIMEM_PERSONALITY_MODEL_H
#define AIMEM_PERSONALITY_MODEL_H

#include <stddef.h>

#include "personality.h"

#define PERSONALITY_MODEL_MAX_MISSING 3
#define PERSONALITY_MODEL_RATIONALE_MAX 300 /* bytes kept of the rationale */

/*
 * Parses content into *out (caller_words is left 0) and the rationale into rationale
 * (trimmed, cut on a character boundary to fit rlen - 1 and PERSONALITY_MODEL_RATIONALE_MAX;
 * "" when absent). default_confidence is used when the answer has none. Returns 0, or -1
 * with err (a reason, never content) when the answer is unusable.
 */
int personality_model_parse(const char *content, size_t len, double default_confidence,
                            struct personality_result *out, char *rationale, size_t rlen, char *err,
                            size_t errlen) __attribute__((warn_unused_result));

#endif

/*
 * personality: the built-in personality scorer (DESIGN §5): from one decoded call.ended
 * event, 13 scores 0..100 and a confidence 0..1, computed from the caller's own turns only.
 *
 * It is a heuristic, not a model: cue phrases from workers/lexicons/personality.txt (plus
 * the sentiment, negator, intensifier and frustration lexicons the summary processors use),
 * a few text statistics (sentence and turn length, questions, exclamations, shouting,
 * repetition, numbers, cut-off turns) and a fixed weight table turn into one "evidence"
 * value per score; score = 50 + 50 * tanh(evidence / 3) * shrink, where shrink grows with the
 * caller's words, so a caller who said two words stays near 50. docs/personality.md lists
 * every feature and weight and what fools it.
 *
 * Pure: no global mutable state, no logging (transcript text never leaves through here),
 * thread-safe given an immutable struct proc_lexicons, linear in the event's size.
 *
 * Not here: the LLM scorer (workers/personality), per-caller aggregation (SQL in the worker).
 */
#ifndef AIMEM_PERSONALITY_H
#define AIMEM_PERSONALITY_H

#include <stddef.h>

#include "event.h"
#include "proc.h"

/* Recorded in personality_metrics.processor; bump when outputs change (lexicon or weights). */
#define PERSONALITY_BUILTIN_NAME "builtin-lexicon/1"

/* The 13 scores of DESIGN §4, in the column order of personality_metrics. */
enum personality_score {
	PERSONALITY_OPENNESS,
	PERSONALITY_CONSCIENTIOUSNESS,
	PERSONALITY_EXTRAVERSION,
	PERSONALITY_AGREEABLENESS,
	PERSONALITY_NEUROTICISM,
	PERSONALITY_FORMALITY,
	PERSONALITY_DIRECTNESS,
	PERSONALITY_DETAIL_ORIENTATION,
	PERSONALITY_PATIENCE,
	PERSONALITY_TECHNICAL_COMFORT,
	PERSONALITY_FRUSTRATION_LEVEL,
	PERSONALITY_SATISFACTION_LEVEL,
	PERSONALITY_URGENCY_LEVEL,
	PERSONALITY_NSCORES
};

/* Column names ("openness", ..., "urgency_level"), indexed by enum personality_score. */
extern const char *const personality_score_names[PERSONALITY_NSCORES];

struct personality_result {
	double score[PERSONALITY_NSCORES]; /* 0..100, rounded to 0.1 */
	double confidence;                 /* 0..0.95, rounded to 0.001 */
	size_t caller_words;               /* words in the caller's turns */
};

/*
 * Scores one call. lx and call are borrowed. Returns 0 with *out filled (nothing to
 * release), or -1 with err for unusable arguments (NULL pointers, no turns). A call without
 * any caller words gets every score at 50 and confidence 0. Thread-safe; allocates
 * temporarily; does not block.
 */
int personality_score(const struct proc_lexicons *lx, const struct event_call *call,
                      struct personality_result *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Clamps v to 0..100 (NaN gives 50) and rounds it to 0.1: what every scorer stores. */
double personality_clamp_score(double v);
/* Clamps to 0..1 (NaN gives 0) and rounds to 0.001. */
double personality_clamp_confidence(double v);

#endif

/*
 * proc_sentiment: lexicon sentiment and frustration over the caller's turns only (the
 * agent is polite by design and would drown the signal).
 *
 * Each sentiment phrase (workers/lexicons/sentiment.txt, -5..5) counts once where it
 * occurs. A negator (negators.txt: its weight is how many words it reaches, 1..3; any word
 * ending in n't reaches 3) before it, with no clause punctuation in between, flips and damps
 * it (x -0.75: "not happy" is negative, "not bad" mildly positive); an intensifier
 * (intensifiers.txt) right before it (up to two words) multiplies it; a "but" later in the
 * same sentence halves it ("frustrating, but at least there's a reason"). Later turns
 * weigh more (x0.5 at the first turn to x1.5 at the last): how the caller sounds at the end
 * of the call matters most. score = (P - N) / (P + N + 3) over the weighted positive and
 * negative sums, so a single "thanks" is mildly positive and long calls do not saturate.
 *
 * Frustration adds: frustration.txt cue weights, words in capitals (0.5 each, at most 2,
 * ignored when most of the turn is in capitals), exclamation marks (0.25 each, at most 1)
 * and repetition: word pairs the caller already said in an earlier turn (0.5 per repeat
 * beyond the second, at most 3).
 *
 * Labels: frustrated when frustration >= 4 and score < 0.2, or frustration >= 2.5 and
 * score <= -0.2; else negative when score <= -0.2, positive when >= 0.35, else neutral.
 *
 * Not here: sarcasm, tone of voice, the agent's sentiment.
 */
#ifndef AIMEM_PROC_SENTIMENT_H
#define AIMEM_PROC_SENTIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "proc_lex.h"

#define PROC_REP_SLOTS 1024

struct proc_sentiment {
	size_t nturns;
	double pos, neg;   /* sums of |weight| after negation, intensifiers, recency */
	double cues;       /* frustration cue weights */
	unsigned exclaims; /* '!' in caller turns */
	unsigned caps;     /* shouted words */
	unsigned repeats;  /* word pairs seen in an earlier caller turn */
	size_t rep_used;
	uint32_t rep_key[PROC_REP_SLOTS];
	uint32_t rep_turn[PROC_REP_SLOTS]; /* caller turn number + 1; 0 = empty slot */
};

void proc_sentiment_init(struct proc_sentiment *s, size_t nturns);
/* A SENTIMENT or FRUSTRATION tag in caller turn number turn; negator and intensifier marks
 * of the words before toks[i] must already be set. */
void proc_sentiment_on_tag(struct proc_sentiment *s, const struct proc_tok *toks, size_t ntoks,
                           size_t i, const struct proc_tag *tag, size_t turn);
/* The multiplier of the cue at toks[i] from the negators and intensifiers in the few words
 * before it (marks must be set): negative when negated (x -0.75), intensifiers multiply.
 * Also used by the personality scorer for its own cues. */
double proc_sentiment_modifier(const struct proc_tok *toks, size_t i);
/* Turn-level signals of one caller turn (exclamations, capitals, repetition). */
void proc_sentiment_turn(struct proc_sentiment *s, const char *text, size_t len,
                         const struct proc_tok *toks, size_t ntoks, uint32_t turn);
/* The score (-1..1) and the static label. */
double proc_sentiment_score(const struct proc_sentiment *s);
double proc_sentiment_frustration(const struct proc_sentiment *s);
const char *proc_sentiment_label(const struct proc_sentiment *s);

#endif

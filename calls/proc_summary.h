/*
 * proc_summary: the extractive summary: who called about what, the caller's request and
 * the outcome, in at most three sentences and PROC_SUMMARY_MAX bytes, e.g.
 *
 *   Kelly Nguyen called about billing and auto policy. Request: "My auto bill went up
 *   forty dollars and I don't know why." Outcome (resolved): "I've re-applied your
 *   multi-car discount, so your premium is back to $212.00."
 *
 * Request: the best of the caller's first twelve sentences of three words or more (short
 * self-introductions excluded), by score = [request] cues ("calling about", "I need", "is
 * wrong") + 1 for a question + 0.75 per topic cue (at most 3) + 2 when the sentence carries
 * a need (a request cue, a question about a topic, or two topic cues) + 0.05 per word (at
 * most 0.5) - 1.5 per earlier caller turn - 0.2 per earlier sentence of the same turn: the
 * caller's opening usually states the request. Leading clauses without any cue ("Hi, this
 * is Kelly Nguyen,") are dropped; when the request names no topic and the next sentence of the same
 * turn does, that sentence is added ("Third time I'm calling. You charged me twice.").
 *
 * Outcome: the agent sentence in the call's tail (the last 40% of turns, at least six) with
 * the best score = [action] cues + resolution cues - 2 x closing cues - 1 for a question +
 * up to 0.3 for recency; it needs at least one action or resolution cue. Without one, a
 * stock phrase for the resolution label is used.
 *
 * Quotes are the transcript's words, cut at a word boundary (UTF-8 safe). Never the
 * transcript truncated.
 */
#ifndef AIMEM_PROC_SUMMARY_H
#define AIMEM_PROC_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

#include "proc_lex.h"

/* Features of one sentence, summed by the match callback. */
struct proc_summ_feat {
	float request;   /* [request] cues, caller turns */
	float action;    /* [action] cues, agent turns */
	float outcome;   /* agent resolution cues other than closings */
	float closing;   /* [agent:closing] cues */
	unsigned topics; /* topic cues */
	bool intro;      /* a self-introduction ("this is Kelly Nguyen") */
};

struct proc_summ_pick {
	const char *p; /* borrowed from the event until compose */
	size_t len;
	float score;
};

struct proc_summary {
	size_t nturns, tail_start;
	unsigned caller_sentences; /* of three words or more */
	bool caller_seen;
	unsigned caller_turns; /* caller turns before the current one */
	size_t last_caller_turn;
	unsigned turn_sentences;   /* request candidates so far in the current caller turn */
	size_t req_turn, req_sent; /* where the request sentence is */
	unsigned req_topics;
	bool req_extended;
	struct proc_summ_pick req, out;
};

void proc_summary_init(struct proc_summary *s, size_t nturns);
/* One sentence (number sent_idx of its turn): its words toks[0..ntoks) (offsets into text)
 * and features. */
void proc_summary_sentence(struct proc_summary *s, bool caller, size_t turn, size_t sent_idx,
                           const char *text, const struct text_span *sent,
                           const struct proc_tok *toks, size_t ntoks,
                           const struct proc_summ_feat *f);
/* The summary (owned; free()). who: the caller's name or NULL; topics: names. */
char *proc_summary_compose(const struct proc_summary *s, const char *who, const char *const *topics,
                           size_t ntopics, const char *resolution);

#endif

/*
 * proc_summary: the extractive summary, in the third person: what the caller wanted, what the
 * agent did, said or promised, and what is still open, taken from anywhere in the call and
 * from both sides, in roughly 15-45 words, e.g.
 *
 *   Kelly Nguyen says their auto bill looks wrong, it went up by forty dollars this month.
 *   The agent has applied it as a credit to Kelly Nguyen's next statement.
 *
 * Sentences are chosen by what the conversation is about, not by where they are: every
 * sentence of three words or more is kept as a candidate during the pass; at the end each
 * one is scored by centrality (its content words, those outside a closed list of function
 * words, weighted by how many turns of the call repeat them) plus cue phrases (requests and
 * actions from workers/lexicons/summary.txt, resolution cues, topic cues, numbers, amounts
 * and dates, commitments such as "will" or "going to"), minus penalties for questions,
 * greetings and pleasantries (sentences with no content word outside that small-talk list)
 * and self-introductions. The best caller sentence and the best agent sentence are taken
 * (a third one when those two are short), in call order, without near-duplicates.
 *
 * Each is rewritten in the third person: "I" becomes the caller (by name when known) or the
 * agent, "you" the other party, "my"/"your" their possessives, the verb after a rewritten
 * subject agrees ("I am" -> "is", "I need" -> "needs", "you have" -> "has"); leading fillers
 * ("Well,", "Oh,", "Yes,") are dropped; a sentence that does not start with its speaker is
 * introduced by "The caller says" / "The agent says". Long sentences are cut at a clause
 * break. No labels, no stock outcome phrases: the name, topics and outcome have their own
 * fields. Known limits (docs/processors.md): the verb agreement is a rule, not a parser
 * ("I just bought" stays past, "I usually walk" becomes "usually walks", a noun after "you"
 * may get an "s"); questions are only taken when nothing better exists.
 *
 * Text pointers are borrowed from the event until compose; compose frees what s holds.
 */
#ifndef AIMEM_PROC_SUMMARY_H
#define AIMEM_PROC_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* One word of a candidate sentence. */
struct proc_summ_word {
	uint64_t h;   /* text_word_hash singular guess */
	uint32_t off; /* from the sentence's start */
	uint16_t len;
	uint16_t flags; /* enum text_word_flag */
	uint8_t cls;    /* enum proc_summ_class (proc_summary.c) */
};

/* A candidate sentence. */
struct proc_summ_sent {
	const char *p; /* borrowed from the event until compose */
	uint32_t len;
	uint32_t word0, nwords; /* its words in proc_summary.words */
	uint32_t turn;
	bool caller, question;
	float cue;   /* cue score from the features and the word classes */
	float score; /* set by compose */
};

struct proc_summary {
	size_t nturns;
	struct proc_summ_sent *sents; /* owned until compose */
	size_t nsents, scap;
	struct proc_summ_word *words; /* owned until compose */
	size_t nwords, wcap;
};

void proc_summary_init(struct proc_summary *s, size_t nturns);
/* One sentence (number sent_idx of its turn): its words toks[0..ntoks) (offsets into text)
 * and features. Copies what it keeps but the text, which stays borrowed. */
void proc_summary_sentence(struct proc_summary *s, bool caller, size_t turn, size_t sent_idx,
                           const char *text, const struct text_span *sent,
                           const struct proc_tok *toks, size_t ntoks,
                           const struct proc_summ_feat *f);
/* The summary (owned; free()), at most PROC_SUMMARY_MAX bytes. who: the caller's name or NULL;
 * topics and resolution are not repeated in the text (they have their own fields). Frees the
 * candidates: s is empty afterwards. */
char *proc_summary_compose(struct proc_summary *s, const char *who, const char *const *topics,
                           size_t ntopics, const char *resolution);

#endif

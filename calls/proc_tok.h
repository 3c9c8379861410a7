/*
 * proc_tok: one turn's text as sentences and words (struct proc_tok), the input of the
 * lexicon matcher. Shared by the summary processors (proc.c) and the personality scorer
 * (personality.c), so both see the same words, hashes and clause breaks.
 *
 * The arrays are reused from turn to turn: a call costs a handful of allocations however
 * long it is. Not here: matching (proc_lex), what a word means.
 */
#ifndef AIMEM_PROC_TOK_H
#define AIMEM_PROC_TOK_H

#include <stddef.h>

#include "proc_lex.h"
#include "text.h"

struct proc_turn_toks {
	struct proc_tok *toks; /* owned; ntoks words of the last turn tokenised */
	size_t ntoks, tcap;
	struct text_span *sents; /* owned; nsents sentences (offsets into the turn's text) */
	size_t nsents, scap;
};

#define PROC_TURN_TOKS_INIT                                                                        \
	{                                                                                          \
		NULL, 0, 0, NULL, 0, 0                                                             \
	}

/*
 * Splits text[0..len) into sentences and words, replacing what t held. Each word gets its
 * hashes, offset, sentence index and flags; the first word of every sentence gets
 * TEXT_W_BREAK and PROC_MARK_SENT0; marks and classes start cleared, w at 1. len must fit
 * in 32 bits (callers cut longer text). Thread-safe on distinct t; allocates.
 */
void proc_tokenise(struct proc_turn_toks *t, const char *text, size_t len);
/* Frees the arrays and zeroes *t. */
void proc_turn_toks_free(struct proc_turn_toks *t);

#endif

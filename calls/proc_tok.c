/*
 * proc_tok: a turn's sentences and words (see proc_tok.h).
 */
#include "proc_tok.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static struct proc_tok *tok_new(struct proc_turn_toks *t)
{
	if (t->ntoks == t->tcap) {
		t->tcap = t->tcap ? t->tcap * 2 : 256;
		t->toks = xreallocarray(t->toks, t->tcap, sizeof(*t->toks));
	}
	return &t->toks[t->ntoks++];
}

static void tok_sent_new(struct proc_turn_toks *t, const struct text_span *sp)
{
	if (t->nsents == t->scap) {
		t->scap = t->scap ? t->scap * 2 : 32;
		t->sents = xreallocarray(t->sents, t->scap, sizeof(*t->sents));
	}
	t->sents[t->nsents++] = *sp;
}

void proc_tokenise(struct proc_turn_toks *t, const char *text, size_t len)
{
	size_t pos = 0;
	struct text_span sp;
	t->ntoks = t->nsents = 0;
	while (text_next_sentence(text, len, &pos, &sp)) {
		size_t wp = 0;
		struct text_word w;
		bool first = true;
		tok_sent_new(t, &sp);
		while (text_next_word(text + sp.off, sp.len, &wp, &w)) {
			struct proc_tok *k = tok_new(t);
			memset(k, 0, sizeof(*k));
			k->h = text_word_hash(text + sp.off + w.off, w.len, &k->hs);
			k->off = (uint32_t)(sp.off + w.off);
			k->len = (uint32_t)w.len;
			k->sent = (uint32_t)(t->nsents - 1);
			k->flags = (uint16_t)(w.flags | (first ? TEXT_W_BREAK : 0u));
			k->mark = first ? PROC_MARK_SENT0 : 0;
			k->w = 1.0f;
			first = false;
		}
	}
}

void proc_turn_toks_free(struct proc_turn_toks *t)
{
	free(t->toks);
	free(t->sents);
	memset(t, 0, sizeof(*t));
}

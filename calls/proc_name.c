/*
 * proc_name: self-introduction patterns in the caller's turns (see proc_name.h).
 */
#include "proc_name.h"

#include <string.h>

#include "proc_words.h"
#include "text.h"

#define NAME_WORDS_MAX 3
#define NAME_WORD_BYTES 30
#define NAME_LEAD_SKIP 4 /* "yes, sure, it's" before an answered name */

enum { NAME_NONE, NAME_ANSWER, NAME_INTRO, NAME_STRONG };

void proc_name_init(struct proc_name *nm, const char *agent_name)
{
	memset(nm, 0, sizeof(*nm));
	nm->agent = agent_name;
}

static bool name_word_ok(const struct proc_tok *t, int strength)
{
	if ((t->mark & PROC_MARK_NOTNAME) || (t->flags & TEXT_W_DIGIT))
		return false;
	if (t->len < 2 || t->len > NAME_WORD_BYTES)
		return false;
	return (t->flags & TEXT_W_CAP) || strength == NAME_STRONG;
}

/* An introduction counts at a sentence or clause start, or after a greeting or two. */
static bool name_intro_placed(const struct proc_tok *toks, size_t i)
{
	if ((toks[i].mark & PROC_MARK_SENT0) || (toks[i].flags & TEXT_W_BREAK))
		return true;
	for (size_t k = i; k > 0 && i - k < 2; k--) {
		if (!(toks[k - 1].mark & PROC_MARK_NOTNAME))
			return false;
		if ((toks[k - 1].mark & PROC_MARK_SENT0) || (toks[k - 1].flags & TEXT_W_BREAK))
			return true;
	}
	return false;
}

void proc_name_on_tag(struct proc_name *nm, const struct proc_tok *toks, size_t i, size_t n,
                      const struct proc_tag *tag, bool caller)
{
	if (!caller) {
		if (tag->cat == PROC_NAME_QUESTION)
			nm->asking = true;
		return;
	}
	int strength;
	if (tag->cat == PROC_NAME_STRONG)
		strength = NAME_STRONG;
	else if (tag->cat == PROC_NAME_INTRO && name_intro_placed(toks, i))
		strength = NAME_INTRO;
	else
		return;
	if (nm->ncand < PROC_NAME_CANDIDATES && strength > nm->strength) {
		nm->cand[nm->ncand].at = i + n;
		nm->cand[nm->ncand].strength = strength;
		nm->ncand++;
	}
}

void proc_name_agent_turn(struct proc_name *nm)
{
	nm->asked = nm->asking;
	nm->asking = false;
}

/* Copies the words toks[a..b] as they were written; title-cases lower-case words of a
 * strong introduction. */
static void name_store(struct proc_name *nm, const char *text, const struct proc_tok *toks,
                       size_t a, size_t b, int strength)
{
	size_t start = toks[a].off, end = toks[b].off + toks[b].len;
	size_t len = end - start;
	if (len >= sizeof(nm->name))
		return;
	memcpy(nm->name, text + start, len);
	nm->name[len] = '\0';
	for (size_t k = a; k <= b; k++) {
		char *c = &nm->name[toks[k].off - start];
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
		if ((toks[k].flags & TEXT_W_UPPER) && toks[k].len > 2) /* "BASIL" is "Basil" */
			for (size_t m = 1; m < toks[k].len; m++)
				if (c[m] >= 'A' && c[m] <= 'Z')
					c[m] = (char)(c[m] - 'A' + 'a');
	}
	nm->strength = strength;
}

static bool name_is_agent(const struct proc_name *nm, const char *text, const struct proc_tok *toks,
                          size_t a, size_t b)
{
	if (nm->agent == NULL || a != b)
		return false;
	size_t alen = strlen(nm->agent);
	if (alen != toks[a].len)
		return false;
	for (size_t k = 0; k < alen; k++)
		if (text_lower(text[toks[a].off + k]) != text_lower(nm->agent[k]))
			return false;
	return true;
}

/* Reads a name starting at toks[at]; true when one was stored. */
static bool name_take(struct proc_name *nm, const char *text, const struct proc_tok *toks,
                      size_t ntoks, size_t at, int strength)
{
	size_t j = at, k = 0;
	bool title = j < ntoks && toks[j].wclass == PROC_W_TITLE;
	if (title)
		j++;
	while (k < NAME_WORDS_MAX && j + k < ntoks) {
		const struct proc_tok *t = &toks[j + k];
		bool first = k == 0;
		if (!first && (t->flags & TEXT_W_BREAK))
			break;
		if (!name_word_ok(t, strength))
			break;
		if (t->flags & TEXT_W_POSS)
			return false; /* "this is Kelly's husband" */
		k++;
	}
	if (k == 0)
		return false;
	if (j + k < ntoks && !(toks[j + k].flags & TEXT_W_BREAK) &&
	    (toks[j + k].flags & (TEXT_W_POSS)))
		return false; /* "I'm Kelly Nguyen Ortiz's ..." runs past three words */
	if (j + k < ntoks && !(toks[j + k].flags & TEXT_W_BREAK) &&
	    (toks[j + k].mark & PROC_MARK_ORG))
		return false; /* "this is Acme Travel", "this is Harbor Insurance" */
	size_t a = (title && k == 1) ? at : j, b = j + k - 1;
	if (name_is_agent(nm, text, toks, a, b))
		return false;
	name_store(nm, text, toks, a, b, strength);
	return true;
}

/* The answer to "may I have your name?": leading yes/sure/it's skipped. */
static void name_answer(struct proc_name *nm, const char *text, const struct proc_tok *toks,
                        size_t ntoks)
{
	size_t j = 0;
	while (j < ntoks && j < NAME_LEAD_SKIP && (toks[j].mark & PROC_MARK_NOTNAME))
		j++;
	if (j < ntoks && (toks[j].flags & TEXT_W_CAP))
		(void)name_take(nm, text, toks, ntoks, j, NAME_ANSWER);
}

void proc_name_caller_turn(struct proc_name *nm, const char *text, const struct proc_tok *toks,
                           size_t ntoks)
{
	for (size_t c = 0; c < nm->ncand; c++)
		if (nm->cand[c].strength > nm->strength)
			(void)name_take(nm, text, toks, ntoks, nm->cand[c].at,
			                nm->cand[c].strength);
	if (nm->asked && nm->strength == NAME_NONE)
		name_answer(nm, text, toks, ntoks);
	nm->ncand = 0;
	nm->asked = false;
}

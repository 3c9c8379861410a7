/*
 * proc_name: the name the caller gave for themselves.
 *
 * Only self-introductions in the caller's own turns count:
 *   strong  "my name is Kelly Nguyen", "me llamo Rosa" (names.txt [strong]): taken even in
 *           lower case ("my name is jorge ramirez" gives "Jorge Ramirez");
 *   intro   "this is Kelly", "I'm Kelly Nguyen" (names.txt [intro]) at the start of a
 *           sentence or clause, followed by capitalised words;
 *   answer  the first words of the caller's turn right after the agent asked for their name
 *           (names.txt [question]: "may I have your name"), skipping "sure", "it's" ...
 * A name is one to three words, letters only, none of them in names.txt [not_name]. A
 * possessive anywhere in it ("this is Kelly's husband") rejects it, and so does the agent's
 * own name. A strong introduction replaces an earlier weaker one; otherwise the first wins.
 * A title is dropped when a first name follows ("Dr. Alan Reyes" gives "Alan Reyes") and
 * kept before a lone surname ("Mrs. Patterson").
 *
 * Not here: names of other people ("my husband David"), spelled-out names ("K-E-L-L-Y"),
 * names in lower-case transcripts without a strong introduction.
 */
#ifndef AIMEM_PROC_NAME_H
#define AIMEM_PROC_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "proc_lex.h"

#define PROC_NAME_CANDIDATES 8
#define PROC_NAME_BYTES 96

struct proc_name {
	char name[PROC_NAME_BYTES]; /* "" until found */
	int strength;               /* 0 none, 1 answer, 2 intro, 3 strong */
	bool asked;                 /* the last agent turn asked for the caller's name */
	bool asking;                /* the current agent turn does */
	const char *agent;          /* borrowed, or NULL */
	size_t ncand;
	struct {
		size_t at; /* first word after the introduction */
		int strength;
	} cand[PROC_NAME_CANDIDATES];
};

void proc_name_init(struct proc_name *nm, const char *agent_name);
/* A NAME tag in a caller turn (intro/strong) or an agent turn (question). */
void proc_name_on_tag(struct proc_name *nm, const struct proc_tok *toks, size_t i, size_t n,
                      const struct proc_tag *tag, bool caller);
/* After an agent turn's matches. */
void proc_name_agent_turn(struct proc_name *nm);
/* After a caller turn's matches: evaluates its candidates. */
void proc_name_caller_turn(struct proc_name *nm, const char *text, const struct proc_tok *toks,
                           size_t ntoks);

#endif

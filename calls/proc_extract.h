/*
 * proc_extract: key variables from the words of the caller's and the agent's turns: phone
 * numbers, emails, policy and claim numbers, vehicles (here) and money amounts and dates
 * (proc_amounts.c), collected into de-duplicated lists in order of first mention.
 *
 * Scanners, not regular expressions: each looks at a word or a character it can anchor on
 * ('@', a digit after a non-word character, a capital letter, a cue word such as "policy")
 * and reads a bounded distance from there, so the whole turn is read a constant number of
 * times. Patterns and normal forms are documented in docs/processors.md.
 *
 * Not here: the caller's name (proc_name), validation against the agency's systems, spoken
 * digit strings ("nine four nine ..."), system and tool turns.
 */
#ifndef AIMEM_PROC_EXTRACT_H
#define AIMEM_PROC_EXTRACT_H

#include <jansson.h>
#include <stddef.h>

#include "proc_lex.h"

#define PROC_VAR_LIST_MAX 10 /* items kept per list */

enum proc_var {
	PROC_VAR_PHONE,
	PROC_VAR_EMAIL,
	PROC_VAR_POLICY,
	PROC_VAR_CLAIM,
	PROC_VAR_AMOUNT,
	PROC_VAR_DATE,
	PROC_VAR_VEHICLE,
	PROC_VAR_COUNT
};

struct proc_extract {
	json_t *list[PROC_VAR_COUNT]; /* owned JSON arrays; NULL until something is found */
};

void proc_extract_init(struct proc_extract *x);
/* Scans one turn: text and its words (marks set by the lexicon match). */
void proc_extract_turn(struct proc_extract *x, const char *text, size_t len,
                       const struct proc_tok *toks, size_t ntoks);
/* Adds s[0..n) to a list unless present, full, or not valid UTF-8. */
void proc_extract_add(struct proc_extract *x, enum proc_var v, const char *s, size_t n);
/* The key_variables object (caller_name first when given); the lists move into it. */
json_t *proc_extract_finish(struct proc_extract *x, const char *caller_name);
/* Frees what finish did not take. */
void proc_extract_release(struct proc_extract *x);

/* Shared with proc_amounts.c: the index of the word that contains or follows byte off
 * (ntoks when none). */
size_t proc_extract_tok_at(const struct proc_tok *toks, size_t ntoks, size_t off);

#endif

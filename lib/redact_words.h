/*
 * redact_words: the word table the redactor reads spoken numbers and cue words with
 * (redact.c): digits ("four", "oh"), teens and tens ("twelve", "twenty"), "double"/"triple",
 * fillers that do not break a spoken number ("uh", "dash"), month names, and the cue words
 * that say what a number is ("security code", "expires", "social", "routing", "order").
 *
 * A static table hashed once (redact_words_init, thread-safe; redact_new calls it). Not here:
 * what a run of digits is (redact.c).
 */
#ifndef AIMEM_REDACT_WORDS_H
#define AIMEM_REDACT_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum redact_word_type {
	RW_OTHER,   /* an ordinary word: breaks a spoken number */
	RW_DIGIT,   /* val 0-9 */
	RW_WEAK,    /* val 0-9, but also a common word ("oh", "for", "to"): only inside a run */
	RW_TEEN,    /* val 10-19 */
	RW_TENS,    /* val 2-9: twenty .. ninety */
	RW_MULT,    /* val 2 (double) or 3 (triple) */
	RW_FILLER,  /* does not break a run: "uh", "um", "dash", "and" */
	RW_MONTH,   /* val 1-12 */
	RW_HUNDRED, /* "four hundred twelve": the next two digits */
};

enum redact_cue {
	RC_NONE,
	RC_CARD,    /* card, visa, credit: any Luhn-valid 13-19 digits is a card */
	RC_CVV,     /* security, cvv, verification */
	RC_EXPIRY,  /* expires, expiration */
	RC_SSN,     /* social, ssn */
	RC_ROUTING, /* routing, aba, transit */
	RC_BANK,    /* bank, checking, savings */
	RC_ACCOUNT, /* account: a bank account once a bank word was heard in the call */
	RC_CODE,    /* code, digits: the CVV once a card was heard, unless "zip code" */
	RC_DOB,     /* birth, born, birthday */
	RC_PHONE,   /* phone, cell, mobile */
	RC_NEG,     /* order, policy, confirmation, amount, ...: what follows is not a secret */
	RC_NCUES
};

struct redact_word {
	uint8_t type; /* enum redact_word_type */
	uint8_t val;
	uint8_t cue; /* enum redact_cue (RW_OTHER words only) */
};

#define REDACT_WORD_MAXLEN 16 /* longer words are never in the table */

/* A filter in front of the hash: bit (last letter - 'a') of [length][first letter - 'a'] is set
 * when some entry has that shape, so most words of a transcript ("the", "calling") are turned
 * away by redact_word_maybe without a call. Read-only after redact_words_init. */
extern uint32_t redact_word_shapes[REDACT_WORD_MAXLEN][26];

/* False when no table word can be w[0..len) (ASCII letters only, any case); true otherwise. */
static inline bool redact_word_maybe(const char *w, size_t len)
{
	if (len == 0 || len >= REDACT_WORD_MAXLEN)
		return false;
	unsigned first = (unsigned)((w[0] | 0x20) - 'a'),
	         last = (unsigned)((w[len - 1] | 0x20) - 'a');
	return first >= 26 || last >= 26 || (redact_word_shapes[len][first] >> last & 1u);
}

/* Hashes the table (once per process, any thread: pthread_once). Before redact_word_find. */
void redact_words_init(void);
/* The entry of the word w[0..len) in any case, or NULL for a word the table does not know. */
const struct redact_word *redact_word_find(const char *w, size_t len);
/* The same, where readable bytes from w (>= len) may be read: faster with 16 or more. */
const struct redact_word *redact_word_find_in(const char *w, size_t len, size_t readable);

#endif

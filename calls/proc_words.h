/*
 * proc_words: built-in closed-class words the extractors anchor on (months, number words,
 * ordinals, "dollars", cue words such as "policy" and "claim"), with a class and a value.
 *
 * They are grammar, not domain vocabulary, so they live here rather than in a lexicon
 * file; proc_lex adds them to its phrase table at load time, so each word of a turn gets
 * its class from the one hash look-up the matcher already does (no string compares in
 * the scanners).
 */
#ifndef AIMEM_PROC_WORDS_H
#define AIMEM_PROC_WORDS_H

#include <stddef.h>
#include <stdint.h>

enum proc_word {
	PROC_W_NONE,
	PROC_W_MONTH,   /* value 1..12 ("may" is PROC_W_MAY) */
	PROC_W_MAY,     /* value 5: also a modal verb */
	PROC_W_NUMBER,  /* value 0..1000: "zero" .. "twenty" .. "hundred", "thousand" */
	PROC_W_ORDINAL, /* value 1..31: "first" .. "thirtieth" */
	PROC_W_AND,     /* "and": glue in "two hundred and twelve" */
	PROC_W_A,       /* "a": "a hundred" */
	PROC_W_DOLLARS, /* "dollars", "dollar", "bucks", "dólares" */
	PROC_W_THE,
	PROC_W_OF,       /* "of": "the 20th of November" */
	PROC_W_DE,       /* "de": "20 de noviembre" */
	PROC_W_PREP,     /* "on", "by", "until", ... before "the 15th" */
	PROC_W_CONJ,     /* "or", "when", "so", ... may follow "the 15th" */
	PROC_W_AT,       /* "at": spoken emails */
	PROC_W_DOT,      /* "dot": spoken emails */
	PROC_W_TLD,      /* "com", "net", "org", ... */
	PROC_W_POLICY,   /* "policy", "póliza" */
	PROC_W_CLAIM,    /* "claim", "reclamo" */
	PROC_W_PHONE,    /* "phone", "cell", "call", ... */
	PROC_W_NUMWORD,  /* "number": a weak phone cue */
	PROC_W_OTHER_ID, /* "account", "vin", "report", ...: the number is none of ours */
	PROC_W_TITLE,    /* "mr", "mrs", "ms", "miss", "dr" */
	PROC_W_BUT,      /* "but", "pero": contrast */
	PROC_W_COUNT
};

struct proc_word_entry {
	const char *word; /* lower case */
	uint8_t cls;      /* enum proc_word */
	uint16_t value;
};

/* The table, terminated by a NULL word. */
extern const struct proc_word_entry proc_words[];

#endif

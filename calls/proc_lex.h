/*
 * proc_lex: the processors' lexicons (the .txt files of workers/lexicons/) and the phrase
 * matcher that runs them over a turn's words. Internal to the proc_* modules; the public
 * entry points are proc_lexicons_load()/proc_lexicons_free() in proc.h.
 *
 * Every phrase of every file lives in one table keyed by the hash of its first word, so one
 * look-up per word finds the cues of every kind (topic, sentiment, negator, ...). Matching
 * is greedy longest-match per kind: "call you back" wins over "call" for resolution cues
 * while sentiment still sees its own phrases at the same place.
 *
 * Not here: what a match means (that is each processor's business), stemming (the plural
 * rule of text_word_hash() is all there is), regular expressions.
 */
#ifndef AIMEM_PROC_LEX_H
#define AIMEM_PROC_LEX_H

#include <stddef.h>
#include <stdint.h>

#include "text.h"

#define PROC_PHRASE_MAX 6 /* words per phrase */
#define PROC_TOPIC_MAX 64 /* built-in topics plus a tenant's own */
#define PROC_TOPIC_NAME_MAX 32

enum proc_kind {
	PROC_KIND_TOPIC,       /* topics.txt: cat = topic index */
	PROC_KIND_SENTIMENT,   /* sentiment.txt: weight -5..5 */
	PROC_KIND_NEGATOR,     /* negators.txt */
	PROC_KIND_INTENSIFIER, /* intensifiers.txt: weight = multiplier */
	PROC_KIND_FRUSTRATION, /* frustration.txt */
	PROC_KIND_RESOLUTION,  /* resolution.txt: cat = enum proc_res_cat */
	PROC_KIND_SUMMARY,     /* summary.txt: cat = enum proc_summ_cat */
	PROC_KIND_MAKE,        /* vehicles.txt: vehicle makes */
	PROC_KIND_NAME,        /* names.txt: cat = enum proc_name_cat */
	PROC_KIND_WORD,        /* built in (proc_words.c): cat = enum proc_word, weight = value */
	PROC_KIND_PERSONALITY, /* personality.txt: cat = enum proc_pers_cat */
	PROC_KIND_COUNT
};

enum proc_res_cat {
	PROC_RES_ESCALATED,         /* [agent:escalated] */
	PROC_RES_FOLLOW_UP,         /* [agent:follow_up] */
	PROC_RES_RESOLVED,          /* [agent:resolved] */
	PROC_RES_UNRESOLVED,        /* [agent:unresolved] */
	PROC_RES_CLOSING,           /* [agent:closing] "anything else" */
	PROC_RES_CALLER_RESOLVED,   /* [caller:resolved] "that's all I needed" */
	PROC_RES_CALLER_UNRESOLVED, /* [caller:unresolved] "that doesn't help" */
	PROC_RES_TRANSFERRED,       /* [agent:transferred] "let me put you through to" */
	PROC_RES_COUNT
};

enum proc_summ_cat {
	PROC_SUMM_REQUEST, /* [request] a caller's need: "calling about", "I need" */
	PROC_SUMM_ACTION,  /* [action] an agent's outcome: "I've updated", "has been processed" */
	PROC_SUMM_COUNT
};

enum proc_name_cat {
	PROC_NAME_INTRO,    /* [intro] a capitalised name may follow: "this is", "I'm" */
	PROC_NAME_STRONG,   /* [strong] a name follows, even in lower case: "my name is" */
	PROC_NAME_QUESTION, /* [question] the agent asks the caller's name */
	PROC_NAME_NOT,      /* [not_name] words that are never (part of) a name */
	PROC_NAME_ORG,      /* [org] words that make a name an organisation's: "Acme Travel" */
	PROC_NAME_COUNT
};

/* personality.txt sections, in file-header order (calls/personality.c gives their meaning) */
enum proc_pers_cat {
	PROC_PERS_POLITE,
	PROC_PERS_FORMAL,
	PROC_PERS_INFORMAL,
	PROC_PERS_HEDGE,
	PROC_PERS_CERTAIN,
	PROC_PERS_GRATITUDE,
	PROC_PERS_URGENCY,
	PROC_PERS_CALM,
	PROC_PERS_IMPATIENT,
	PROC_PERS_TECH,
	PROC_PERS_LOW_TECH,
	PROC_PERS_DOMAIN,
	PROC_PERS_DETAIL,
	PROC_PERS_SOCIAL,
	PROC_PERS_CURIOUS,
	PROC_PERS_CLOSED,
	PROC_PERS_ORGANIZED,
	PROC_PERS_DISORGANIZED,
	PROC_PERS_WORRY,
	PROC_PERS_AGREEABLE,
	PROC_PERS_HOSTILE,
	PROC_PERS_DISSATISFIED,
	PROC_PERS_COUNT
};

struct proc_tag {
	uint8_t kind; /* enum proc_kind */
	uint8_t cat;  /* per kind, see above; 0 when the file has no sections */
	uint16_t file;
	uint32_t line; /* where it was defined, for load errors */
	float weight;
};

enum proc_mark {
	PROC_MARK_NEG = 1u << 0,    /* a negator starts here */
	PROC_MARK_INTENS = 1u << 1, /* an intensifier starts here; multiplier in w */
	PROC_MARK_NOTNAME = 1u << 2,
	PROC_MARK_MAKE = 1u << 3,  /* a vehicle make of mlen words starts here */
	PROC_MARK_SENT0 = 1u << 4, /* first word of a sentence */
	PROC_MARK_CUE = 1u << 5,   /* inside a request, action or topic phrase */
	PROC_MARK_ORG = 1u << 6    /* names.txt [org]: an organisation word */
};

/* One word of a turn. Filled by proc_run; marks by the match callbacks. */
struct proc_tok {
	uint64_t h;   /* text_word_hash() */
	uint64_t hs;  /* its singular guess */
	uint32_t off; /* in the turn's text */
	uint32_t len;
	uint32_t sent; /* the turn's sentence index */
	float w;
	uint16_t flags; /* enum text_word_flag; TEXT_W_BREAK also at each sentence start */
	uint8_t mark;   /* enum proc_mark */
	uint8_t mlen;   /* PROC_MARK_MAKE: the make's words */
	uint8_t nwin;   /* PROC_MARK_NEG: words it negates */
	uint8_t wclass; /* enum proc_word of a built-in word, else 0 */
	uint16_t wval;  /* its value (month, number) */
};

struct proc_lexicons;

/* Loads every file of dir. NULL with "dir/file.txt:line: reason" in err on any problem. */
struct proc_lexicons *proc_lex_load(const char *dir, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void proc_lex_free(struct proc_lexicons **lx);
/*
 * Loads one file in topics.txt's format (a tenant's own topics) on top of base's topic
 * list: a [section] naming a built-in topic adds cues to it, a new name adds a topic after
 * the built-in ones (PROC_TOPIC_MAX in all). The result holds only that file's cues, and
 * every topic name (built-in first), for proc_lex_topic_name. base is borrowed. NULL with
 * "path:line: reason" in err.
 */
struct proc_lexicons *proc_lex_load_topics(const struct proc_lexicons *base, const char *path,
                                           char *err, size_t errlen)
    __attribute__((warn_unused_result));

size_t proc_lex_topic_count(const struct proc_lexicons *lx);
const char *proc_lex_topic_name(const struct proc_lexicons *lx, size_t i);

/*
 * Calls fn for each (phrase, tag) match in toks[0..n), in word order. A phrase never spans
 * a TEXT_W_BREAK. A word matches an entry as written or as its singular guess ("bills" also
 * matches "bill ..."). fn may set marks on toks. Pure with respect to lx; thread-safe.
 */
typedef void (*proc_match_fn)(void *arg, struct proc_tok *toks, size_t i, size_t n,
                              const struct proc_tag *tag);
void proc_lex_match(const struct proc_lexicons *lx, struct proc_tok *toks, size_t ntoks,
                    proc_match_fn fn, void *arg);

#endif

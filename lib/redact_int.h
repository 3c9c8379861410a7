/*
 * redact_int: what lib/redact's files share and nothing else sees: the redactor's state, the
 * byte classes of the scans, and the calls between the turn walker (redact.c), the number
 * reader (redact_number.c: digits spoken or written become runs, cut into cards and typed
 * values) and the kind checks (redact_check.c: checksums, shapes, the written patterns).
 */
#ifndef AIMEM_REDACT_INT_H
#define AIMEM_REDACT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "redact.h"
#include "redact_words.h"

#define REDACT_MAGIC 0x52454441u
#define CUE_WINDOW 12 /* words from a cue to the number it types */
#define ACK_WORDS 4   /* another speaker's turn this short (no digits) keeps a run open */

enum { RI_WEAK = 1, RI_MONTH = 2, RI_GROUP = 4, RI_DASH = 8, RI_CHAR = 16 };

/* One digit of a run: where it came from (a character, or the word(s) that said it). */
struct ritem {
	uint32_t turn, start, end;
	char d;
	uint8_t flags;
};

/* One replaced piece of one turn. A value split across turns has a span per turn (same id). */
struct rspan {
	uint32_t turn, start, end, id;
	uint8_t kind;
	char last4[5];
};

struct rturn_out {
	size_t off, len;
	bool changed;
};

struct redactor {
	unsigned magic;
	unsigned kinds;
	unsigned counts[REDACT_NKINDS];
	size_t found;
	struct ritem *run;
	size_t nrun, caprun;
	int run_speaker;
	char *digits;
	size_t capdigits;
	struct rspan *spans;
	size_t nspans, capspans;
	uint32_t next_id;
	/* cues: the word count when each was last heard (0: never) */
	unsigned long words;
	unsigned long cue_at[RC_NCUES];
	bool bank_heard, card_heard;
	/* spoken-number state inside a turn */
	int mult;
	uint32_t mult_start;
	bool zero_pending, hundred_pending;
	struct ritem zero, hundred;
	bool dash_seen;
	bool bytewise; /* no fast path (skip_plain): fuzz_redact's reference */
	/* output */
	const struct redact_turn *turns;
	size_t nturns;
	struct buf out;
	struct rturn_out *tout;
	size_t captout;
};

/* One look-up per byte in the scans: 1 a letter, 2 a digit, 4 a separator (space, tab, CR, LF,
 * - . , / ( ) +) that joins the digits of one number. */
enum { CL_ALPHA = 1, CL_DIGIT = 2, CL_SEP = 4 };
extern const uint8_t redact_byte_class[256];

static inline bool is_sep(unsigned char c)
{
	return redact_byte_class[c] & CL_SEP;
}

static inline bool is_alpha(unsigned char c)
{
	return redact_byte_class[c] & CL_ALPHA;
}

static inline bool is_digit(unsigned char c)
{
	return redact_byte_class[c] & CL_DIGIT;
}

/* Tests only: with on, the scan reads every byte itself (no 64-byte fast path), the reference
 * fuzz_redact and the unit tests hold the fast path to. */
void redact_set_bytewise(struct redactor *r, bool on);

/* ---- redact_check.c: shapes and checksums over digits '0'..'9' ---- */

/* The issuer prefixes of the networks that issue 13-19 digit cards (d[0..n), n >= 4). */
bool redact_card_prefix(const char *d, size_t n);
/* 9 digits: area, group and serial an SSN can have. */
bool redact_ssn_valid(const char *d);
/* M/YY, MM/YY, M/YYYY, MM/YYYY as n digits. */
bool redact_expiry_valid(const char *d, size_t n);
/* An IBAN at p ("GB82 WEST 1234 5698 7654 32"): its end, or 0. */
size_t redact_iban_at(const char *t, size_t len, size_t p);
/* An e-mail address around the '@' at p: [*start, end), or end 0. */
size_t redact_email_at(const char *t, size_t len, size_t p, size_t *start);
/* "221 Baker Street" at the digit p: a house number (1-6 digits), one to four words, a street
 * word; its end, or 0. */
size_t redact_address_at(const char *t, size_t len, size_t p);

/* ---- redact_number.c: the current run of digits and what it holds ---- */

/* Adds span [start, end) of turn to r->spans (last4: a card's, else NULL). */
void redact_span_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, uint32_t id,
                     enum redact_kind kind, const char *last4);
/* One digit of the run; redact_digit_add: "double" before it repeats it. */
void redact_item_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, char d,
                     uint8_t flags);
void redact_digit_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, char d,
                      uint8_t flags);
/* "twenty" not followed by a unit said its zero, "four hundred" alone its two. */
void redact_zero_settle_now(struct redactor *r);
/* The run ends here: what it holds is found and typed (cards, then segments). */
void redact_run_break(struct redactor *r);
/* A word that is not a number: counted, and remembered when it is a cue. */
void redact_cue_heard(struct redactor *r, enum redact_cue c);

static inline void redact_zero_settle(struct redactor *r)
{
	if (r->hundred_pending || r->zero_pending) /* rare: the test inline, the work not */
		redact_zero_settle_now(r);
}

#endif

/*
 * redact: the one pass over a call's turns (see redact.h).
 *
 * Per turn: the opt-in e-mail addresses first (around each '@'), then a byte scan that turns
 * digits and number words into items of the current run; where a group of digits starts it
 * also looks for an IBAN (two capitals before it) or a street address. A run ends at
 * an ordinary word, a character that is not a separator, or a turn of another speaker that is
 * more than a short acknowledgement; it is then cut into cards and typed segments (run_flush),
 * each found value becoming one span per turn it touches. The texts are rewritten at the end,
 * spans merged where they overlap. Cue words are remembered by when they were last heard, so
 * the agent's question ("and the security code?") types the caller's answer.
 *
 * Cost: one look at each byte, a hash look-up only for words whose length and first and last
 * letters some table word has (redact_words), no allocation once the buffers have grown.
 */
#include "redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "redact_words.h"
#include "xalloc.h"

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
	/* output */
	const struct redact_turn *turns;
	size_t nturns;
	struct buf out;
	struct rturn_out *tout;
	size_t captout;
};

static const char *const kind_names[REDACT_NKINDS] = {
	"card", "cvv",   "expiry", "ssn", "bank_account", "routing",
	"iban", "email", "phone",  "dob", "address",
};

static const char *const kind_tags[REDACT_NKINDS] = {
	"[CARD",  "[CVV]",   "[EXPIRY]", "[SSN]", "[BANK ACCOUNT]", "[ROUTING]",
	"[IBAN]", "[EMAIL]", "[PHONE]",  "[DOB]", "[ADDRESS]",
};

const char *redact_kind_name(enum redact_kind k)
{
	return (unsigned)k < REDACT_NKINDS ? kind_names[k] : "unknown";
}

int redact_kind_parse(const char *s, size_t len)
{
	for (int k = 0; k < REDACT_NKINDS; k++)
		if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0)
			return k;
	return -1;
}

/* ---- checksums ---------------------------------------------------------------------- */

bool redact_luhn(const char *digits, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(digits[n - 1 - i] - '0');
		if (i & 1)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return n > 0 && sum % 10 == 0;
}

bool redact_aba(const char *d)
{
	unsigned sum = 0;
	static const unsigned w[3] = { 3, 7, 1 };
	for (int i = 0; i < 9; i++)
		sum += w[i % 3] * (unsigned)(d[i] - '0');
	return sum % 10 == 0 && !(d[0] == '0' && d[1] == '0');
}

/* One look-up per byte in the scans: 1 a letter, 2 a digit, 4 a separator (space, tab, CR, LF,
 * - . , / ( ) +) that joins the digits of one number. */
enum { CL_ALPHA = 1, CL_DIGIT = 2, CL_SEP = 4 };
/* clang-format off */
static const uint8_t byte_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	4, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* clang-format on */

static bool is_sep(unsigned char c)
{
	return byte_class[c] & CL_SEP;
}

static bool is_alpha(unsigned char c)
{
	return byte_class[c] & CL_ALPHA;
}

static bool is_digit(unsigned char c)
{
	return byte_class[c] & CL_DIGIT;
}

bool redact_holds_card(const char *text, size_t len)
{
	char run[64];
	bool group_start[64];
	size_t n = 0;
	for (size_t p = 0; p < len;) {
		unsigned char c = (unsigned char)text[p];
		if (c < '0' || c > '9') {
			if (!is_sep(c))
				n = 0;
			p++;
			continue;
		}
		size_t q = p;
		while (q < len && text[q] >= '0' && text[q] <= '9')
			q++;
		if ((p > 0 && is_alpha((unsigned char)text[p - 1])) ||
		    (q < len && is_alpha((unsigned char)text[q]))) {
			n = 0; /* glued to letters: an identifier ("1Z999..."), not a card's group */
			p = q;
			continue;
		}
		for (size_t i = p; i < q; i++) {
			if (n == sizeof(run)) { /* keep the last 18: a card is at most 19 */
				memmove(run, run + n - 18, 18);
				memmove(group_start, group_start + n - 18, 18);
				n = 18;
			}
			group_start[n] = i == p;
			run[n++] = text[i];
		}
		for (size_t l = 13; l <= 19 && l <= n; l++)
			if (group_start[n - l] && redact_is_card(run + n - l, l))
				return true;
		p = q;
	}
	return false;
}

static unsigned num_of(const char *d, size_t n)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

/* The issuer prefixes of the networks that issue 13-19 digit cards. */
static bool card_prefix(const char *d, size_t n)
{
	unsigned p2 = num_of(d, 2), p3 = num_of(d, 3), p4 = num_of(d, 4);
	switch (d[0]) {
	case '4': /* Visa: 13, 16, 19 */
		return n == 13 || n == 16 || n == 19;
	case '5': /* Mastercard 51-55 */
		return p2 >= 51 && p2 <= 55 && n == 16;
	case '2': /* Mastercard 2221-2720 */
		return p4 >= 2221 && p4 <= 2720 && n == 16;
	case '3': /* Amex 34/37 (15), JCB 3528-3589, Diners 300-305/36/38 */
		if (p2 == 34 || p2 == 37)
			return n == 15;
		if (p4 >= 3528 && p4 <= 3589)
			return n >= 16;
		return (p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38;
	case '6': /* Discover 6011/644-649/65, UnionPay 62 */
		return (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || p2 == 62) && n >= 16;
	default:
		return false;
	}
}

bool redact_is_card(const char *digits, size_t n)
{
	return n >= 13 && n <= 19 && card_prefix(digits, n) && redact_luhn(digits, n);
}

static bool ssn_valid(const char *d)
{
	unsigned area = num_of(d, 3), group = num_of(d + 3, 2), serial = num_of(d + 5, 4);
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* M/YY, MM/YY, M/YYYY, MM/YYYY as digits. */
static bool expiry_valid(const char *d, size_t n)
{
	unsigned m;
	switch (n) {
	case 3:
	case 5:
		m = num_of(d, 1);
		return m >= 1 && (n == 3 || num_of(d + 1, 2) == 20);
	case 4:
	case 6:
		m = num_of(d, 2);
		return m >= 1 && m <= 12 && (n == 4 || num_of(d + 2, 2) == 20);
	default:
		return false;
	}
}

/* ---- spans ---------------------------------------------------------------------------- */

static void span_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, uint32_t id,
                     enum redact_kind kind, const char *last4)
{
	if (r->nspans == r->capspans) {
		r->capspans = r->capspans ? r->capspans * 2 : 32;
		r->spans = xreallocarray(r->spans, r->capspans, sizeof(*r->spans));
	}
	struct rspan *s = &r->spans[r->nspans++];
	*s = (struct rspan){ turn, start, end, id, (uint8_t)kind, "" };
	if (last4)
		memcpy(s->last4, last4, 5);
}

/* A value found in run items [a, b): one span per turn it touches, counted once. */
static void found_items(struct redactor *r, size_t a, size_t b, enum redact_kind kind)
{
	if (!(r->kinds & (1u << kind)) || a >= b)
		return;
	char last4[5] = "";
	if (kind == REDACT_CARD && b - a >= 4) {
		for (int i = 0; i < 4; i++)
			last4[i] = r->run[b - 4 + (size_t)i].d;
		last4[4] = '\0';
	}
	uint32_t id = ++r->next_id;
	size_t i = a;
	while (i < b) {
		uint32_t turn = r->run[i].turn, start = r->run[i].start, end = r->run[i].end;
		for (; i < b && r->run[i].turn == turn; i++) {
			start = r->run[i].start < start ? r->run[i].start : start;
			end = r->run[i].end > end ? r->run[i].end : end;
		}
		span_add(r, turn, start, end, id, kind, last4);
	}
	r->counts[kind]++;
	r->found++;
}

/* ---- typing a run --------------------------------------------------------------------- */

/* Was cue c heard within CUE_WINDOW words before the run, and after any "order"-like word? */
static bool cue_near(const struct redactor *r, enum redact_cue c)
{
	unsigned long at = r->cue_at[c];
	return at != 0 && r->words - at <= CUE_WINDOW && (c == RC_NEG || at > r->cue_at[RC_NEG]);
}

/* The most recently heard of the cues in mask that is near; RC_NONE when none is. */
static enum redact_cue cue_latest(const struct redactor *r, unsigned mask)
{
	enum redact_cue best = RC_NONE;
	for (int c = 1; c < RC_NCUES; c++)
		if ((mask & (1u << c)) && cue_near(r, (enum redact_cue)c) &&
		    (best == RC_NONE || r->cue_at[c] > r->cue_at[best]))
			best = (enum redact_cue)c;
	return best;
}

/* A written 3-2-4 with dashes: 123-45-6789. */
static bool ssn_written(const struct redactor *r, size_t a, size_t b)
{
	if (b - a != 9)
		return false;
	for (size_t i = a; i < b; i++) {
		bool group = (r->run[i].flags & RI_GROUP) != 0;
		bool want = i == a || i == a + 3 || i == a + 5;
		if (!(r->run[i].flags & RI_CHAR) || group != want ||
		    (want && i != a && !(r->run[i].flags & RI_DASH)))
			return false;
	}
	return true;
}

/* Run items [a, b) typed by cue c, when their shape fits it. */
static bool segment_cued(struct redactor *r, size_t a, size_t b, enum redact_cue c)
{
	size_t n = b - a;
	const char *d = r->digits + a;
	if (c == RC_CVV && (n == 3 || n == 4)) {
		found_items(r, a, b, REDACT_CVV);
		return true;
	}
	if (c == RC_EXPIRY && expiry_valid(d, n)) {
		found_items(r, a, b, REDACT_EXPIRY);
		return true;
	}
	if (c == RC_SSN && (n == 4 || (n == 9 && ssn_valid(d)))) {
		found_items(r, a, b, REDACT_SSN);
		return true;
	}
	if (c == RC_ROUTING && n == 9 && redact_aba(d)) {
		found_items(r, a, b, REDACT_ROUTING);
		return true;
	}
	if (c == RC_BANK && n >= 4 && n <= 17) {
		found_items(r, a, b, REDACT_BANK_ACCOUNT);
		return true;
	}
	if (c == RC_DOB && n >= 4 && n <= 8 && (r->kinds & (1u << REDACT_DOB))) {
		found_items(r, a, b, REDACT_DOB);
		return true;
	}
	if (c == RC_PHONE && n >= 7 && n <= 11 && (r->kinds & (1u << REDACT_PHONE))) {
		found_items(r, a, b, REDACT_PHONE);
		return true;
	}
	return false;
}

/* Types run items [a, b) that are not part of a card; after_card: right behind one. */
static bool segment_type(struct redactor *r, size_t a, size_t b, bool after_card)
{
	size_t n = b - a;
	const char *d = r->digits + a;
	if (n == 0)
		return true;
	if (after_card && !cue_near(r, RC_NEG)) {
		if (n == 3 || (n == 4 && !expiry_valid(d, 4))) {
			found_items(r, a, b, REDACT_CVV);
			return true;
		}
		if (n == 4 || n == 6) {
			found_items(r, a, b, REDACT_EXPIRY);
			return true;
		}
		if ((n == 7 || n == 8) && expiry_valid(d, 4)) {
			found_items(r, a, a + 4, REDACT_EXPIRY);
			found_items(r, a + 4, b, REDACT_CVV);
			return true;
		}
	}
	unsigned mask = (1u << RC_CVV) | (1u << RC_EXPIRY) | (1u << RC_SSN) | (1u << RC_ROUTING) |
	                (1u << RC_BANK) | (1u << RC_DOB) | (1u << RC_PHONE);
	/* most recent cue first; a cue whose shape does not fit gives way to the next */
	while (mask) {
		enum redact_cue c = cue_latest(r, mask);
		if (c == RC_NONE)
			break;
		mask &= ~(1u << c);
		if (segment_cued(r, a, b, c)) {
			r->cue_at[c] = 0; /* a cue types one value */
			return true;
		}
	}
	if (ssn_written(r, a, b) && ssn_valid(d)) {
		found_items(r, a, b, REDACT_SSN);
		return true;
	}
	/* ten digits with no cue: a phone number, unless "order", "policy" ... just before */
	bool neg = r->cue_at[RC_NEG] != 0 && r->words - r->cue_at[RC_NEG] <= 4;
	if ((r->kinds & (1u << REDACT_PHONE)) && !neg &&
	    ((n == 10 && d[0] >= '2' && d[3] >= '2') || (n == 11 && d[0] == '1' && d[1] >= '2'))) {
		found_items(r, a, b, REDACT_PHONE);
		return true;
	}
	return false;
}

/* A segment, retried without a leading month name or weak word, and without a trailing one
 * ("... eight eight ate": ASR's "eight" or the next sentence), when it does not type. */
static void segment(struct redactor *r, size_t a, size_t b, bool after_card)
{
	size_t bt = b;
	while (bt > a && (r->run[bt - 1].flags & RI_WEAK) && r->run[bt - 1].d != '0')
		bt--;
	while (a < b && !segment_type(r, a, b, after_card) &&
	       !(bt < b && a < bt && segment_type(r, a, bt, after_card)) &&
	       (r->run[a].flags & (RI_MONTH | RI_WEAK))) {
		bool month = (r->run[a].flags & RI_MONTH) != 0;
		a++;
		if (month && a < b && (r->run[a].flags & RI_MONTH))
			a++; /* a month is two items */
		after_card = false;
	}
}

/* Does a number start (or end) at item i? Not inside a group of written digits: a card is
 * written as whole groups ("4111 1111 ..."), so a window inside "1Z4514637654605972" is not. */
static bool boundary(const struct redactor *r, size_t i, size_t a, size_t b)
{
	return i == a || i == b || !(r->run[i].flags & RI_CHAR) || (r->run[i].flags & RI_GROUP) ||
	       !(r->run[i - 1].flags & RI_CHAR);
}

/* The card to take at start s of [a, b): its length, or 0. Common lengths first. */
static size_t card_at(const struct redactor *r, size_t s, size_t a, size_t b, bool cue)
{
	static const size_t lens[] = { 16, 15, 19, 14, 13, 17, 18 };
	const char *d = r->digits + s;
	if (d[0] == '0' || !boundary(r, s, a, b))
		return 0;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		if (s + len <= b && boundary(r, s + len, a, b) && redact_luhn(d, len) &&
		    (card_prefix(d, len) || cue))
			return len;
	}
	return 0;
}

/*
 * Cards first, anywhere in the run (a homophone may be the first digit: "for one one one"
 * when ASR heard "four", but a card that starts right after it is preferred); what lies
 * between and after them is typed as segments.
 */
static void run_flush(struct redactor *r)
{
	size_t b = r->nrun, strong = 0;
	for (size_t i = 0; i < r->nrun; i++)
		strong += !(r->run[i].flags & RI_WEAK);
	if (strong >= 1 && r->nrun >= 3) {
		if (r->capdigits < r->nrun + 1) {
			r->capdigits = r->nrun + 64;
			r->digits = xrealloc(r->digits, r->capdigits);
		}
		for (size_t i = 0; i < r->nrun; i++)
			r->digits[i] = r->run[i].d;
		bool cue = cue_near(r, RC_CARD);
		size_t seg = 0; /* a leading "oh" may be a month's zero: segment() strips it */
		bool after_card = false;
		for (size_t s = 0; s + 13 <= b;) {
			size_t len = 0;
			if (!(r->run[s].flags & RI_WEAK) || card_at(r, s + 1, 0, b, cue) == 0)
				len = card_at(r, s, 0, b, cue);
			if (len == 0) {
				s++;
				continue;
			}
			segment(r, seg, s, after_card);
			found_items(r, s, s + len, REDACT_CARD);
			r->card_heard = true;
			s += len;
			seg = s;
			after_card = true;
		}
		segment(r, seg, b, after_card);
	}
	r->nrun = 0;
}

/* ---- the scan ------------------------------------------------------------------------- */

static void item_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, char d,
                     uint8_t flags)
{
	if (r->nrun == r->caprun) {
		r->caprun = r->caprun ? r->caprun * 2 : 64;
		r->run = xreallocarray(r->run, r->caprun, sizeof(*r->run));
	}
	if (r->dash_seen && r->nrun > 0)
		flags |= RI_DASH;
	r->dash_seen = false;
	r->run[r->nrun++] = (struct ritem){ turn, start, end, d, flags };
}

/* "twenty" not followed by a unit said its zero, "four hundred" alone its two. */
static void zero_settle_now(struct redactor *r)
{
	if (r->hundred_pending) {
		r->hundred_pending = false;
		item_add(r, r->hundred.turn, r->hundred.start, r->hundred.end, '0', 0);
		item_add(r, r->hundred.turn, r->hundred.start, r->hundred.end, '0', 0);
	}
	if (r->zero_pending) {
		r->zero_pending = false;
		item_add(r, r->zero.turn, r->zero.start, r->zero.end, '0', 0);
	}
}

static inline void zero_settle(struct redactor *r)
{
	if (r->hundred_pending || r->zero_pending) /* rare: the test inline, the work not */
		zero_settle_now(r);
}

/* A digit (spoken or written) at [start, end); "double" before it repeats it. */
static void digit_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, char d,
                      uint8_t flags)
{
	int times = 1;
	if (r->mult) {
		times = r->mult;
		start = r->mult_start;
		r->mult = 0;
	}
	for (int i = 0; i < times; i++)
		item_add(r, turn, start, end, d, (uint8_t)(i ? flags & ~RI_GROUP : flags));
}

static void run_break(struct redactor *r)
{
	zero_settle(r);
	r->mult = 0;
	if (r->nrun > 0)
		run_flush(r);
}

static void cue_heard(struct redactor *r, enum redact_cue c)
{
	r->words++;
	if (c == RC_ACCOUNT)
		c = r->bank_heard ? RC_BANK : RC_NONE;
	if (c == RC_CODE) /* "code" right after "zip" or "promo" is theirs */
		c = r->card_heard && r->cue_at[RC_NEG] != r->words - 1 ? RC_CVV : RC_NONE;
	if (c == RC_CARD)
		r->card_heard = true;
	if (c == RC_BANK || c == RC_ROUTING)
		r->bank_heard = true;
	if (c != RC_NONE)
		r->cue_at[c] = r->words;
}

static void word(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, const char *t,
                 bool cues_only)
{
	size_t len = end - start;
	const struct redact_word *w =
	    redact_word_maybe(t + start, len) ? redact_word_find(t + start, len) : NULL;
	if (w == NULL && r->nrun == 0 && !r->zero_pending && !r->hundred_pending) {
		r->words++; /* the common case: an ordinary word, no number open */
		r->mult = 0;
		return;
	}
	int type = w ? w->type : RW_OTHER;
	if (cues_only) {
		if (type == RW_OTHER)
			cue_heard(r, w ? (enum redact_cue)w->cue : RC_NONE);
		return;
	}
	if (r->hundred_pending && type != RW_FILLER) {
		r->hundred_pending = false; /* "four hundred twelve", "... and six", "... sixty" */
		if ((type == RW_DIGIT || type == RW_WEAK) && w->val > 0)
			item_add(r, r->hundred.turn, r->hundred.start, r->hundred.end, '0', 0);
		else if (type != RW_TEEN && type != RW_TENS)
			r->hundred_pending = true; /* zero_settle says "00" */
	}
	if (r->zero_pending && (type == RW_DIGIT || type == RW_WEAK) && w->val > 0) {
		r->zero_pending = false; /* "twenty six" */
		digit_add(r, turn, start, end, (char)('0' + w->val), 0);
		return;
	}
	if (type != RW_FILLER)
		zero_settle(r);
	switch (type) {
	case RW_DIGIT:
	case RW_WEAK:
		digit_add(r, turn, start, end, (char)('0' + w->val),
		          type == RW_WEAK && !r->mult ? RI_WEAK : 0);
		break;
	case RW_TEEN:
		digit_add(r, turn, start, end, '1', 0);
		item_add(r, turn, start, end, (char)('0' + w->val - 10), 0);
		break;
	case RW_TENS:
		digit_add(r, turn, start, end, (char)('0' + w->val), 0);
		r->zero_pending = true;
		r->zero = (struct ritem){ turn, start, end, '0', 0 };
		break;
	case RW_MULT:
		r->mult = w->val;
		r->mult_start = start;
		break;
	case RW_HUNDRED:
		if (r->nrun > 0 && !(r->run[r->nrun - 1].flags & RI_CHAR)) {
			r->hundred_pending = true;
			r->hundred = (struct ritem){ turn, start, end, '0', 0 };
		} else {
			run_break(r); /* "a hundred", "100 hundred": not a spoken digit string */
			cue_heard(r, RC_NONE);
		}
		break;
	case RW_FILLER:
		break;
	case RW_MONTH: {
		/* "may" is a month only where a date fits: weak, like "oh" */
		uint8_t f = (uint8_t)(RI_MONTH | (len == 3 && w->val == 5 ? RI_WEAK : 0));
		r->mult = 0;
		item_add(r, turn, start, end, (char)('0' + w->val / 10), f);
		item_add(r, turn, start, end, (char)('0' + w->val % 10), f);
		break;
	}
	default:
		run_break(r);
		cue_heard(r, w ? (enum redact_cue)w->cue : RC_NONE);
		break;
	}
}

/* "st", "nd", "rd", "th" right after digits ("14th"), then no letter. */
static bool ordinal(const char *t, size_t q, size_t len)
{
	if (q + 2 > len || (q + 2 < len && is_alpha((unsigned char)t[q + 2])))
		return false;
	char a = (char)(t[q] | 0x20), b = (char)(t[q + 1] | 0x20);
	return (a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') ||
	       (a == 't' && b == 'h');
}

/* Another speaker's "okay", "go on", "mm-hmm": no digits, no number words, a few words. */
static bool turn_is_ack(const char *t, size_t len)
{
	size_t words = 0;
	for (size_t p = 0; p < len;) {
		if (is_digit((unsigned char)t[p]))
			return false;
		if (!is_alpha((unsigned char)t[p])) {
			p++;
			continue;
		}
		size_t q = p;
		while (q < len && is_alpha((unsigned char)t[q]))
			q++;
		const struct redact_word *w = redact_word_find(t + p, q - p);
		if (w && ((w->type != RW_OTHER && w->type != RW_FILLER && w->type != RW_WEAK) ||
		          w->cue != RC_NONE))
			return false;
		if (++words > ACK_WORDS)
			return false;
		p = q;
	}
	return true;
}

/* Scans one turn; pattern spans [ps, pe) of r->spans (sorted) are skipped as run breaks. */
static size_t pattern_at(struct redactor *r, uint32_t ti, size_t p);

/*
 * Do the letters on one side of a group of digits (dir -1: the word ending at p; 1: the word
 * starting at p) make it an identifier ("1Z999...", "PN4471")? Only an ordinary word does: it
 * stays in the output, where the guarantee's check sees the same glue. A number word ("twenty5")
 * or filler may be replaced by a placeholder, which would leave the digits unglued.
 */
static bool glue_word(const char *t, size_t p, size_t len, int dir)
{
	size_t a = p, b = p;
	if (dir < 0)
		while (a > 0 && is_alpha((unsigned char)t[a - 1]))
			a--;
	else
		while (b < len && is_alpha((unsigned char)t[b]))
			b++;
	const struct redact_word *w =
	    redact_word_maybe(t + a, b - a) ? redact_word_find(t + a, b - a) : NULL;
	return w == NULL || w->type == RW_OTHER;
}

static void scan_turn(struct redactor *r, uint32_t ti, size_t ps, size_t pe, bool cues_only)
{
	const char *t = r->turns[ti].text;
	size_t len = r->turns[ti].len, span_end = (size_t)-1; /* where the last pattern ended */
	for (size_t p = 0; p < len;) {
		unsigned char c = (unsigned char)t[p];
		if (ps < pe && p >= r->spans[ps].start) {
			if (!cues_only)
				run_break(r);
			p = span_end = r->spans[ps++].end;
		} else if (is_digit(c)) {
			size_t q = p, end = cues_only ? 0 : pattern_at(r, ti, p);
			if (end != 0) { /* an IBAN or an address: its placeholder breaks the run */
				run_break(r);
				p = span_end = end;
				continue;
			}
			while (q < len && is_digit((unsigned char)t[q]))
				q++;
			if ((p > 0 && p != span_end && is_alpha((unsigned char)t[p - 1]) &&
			     glue_word(t, p, len, -1)) ||
			    (q < len && is_alpha((unsigned char)t[q]) && !ordinal(t, q, len) &&
			     glue_word(t, q, len, 1))) {
				/* glued to letters: an identifier ("1Z999...", "PN4471"), a word */
				if (!cues_only)
					run_break(r);
				cue_heard(r, RC_NONE);
			} else if (!cues_only) {
				zero_settle(r);
				for (size_t i = p; i < q; i++)
					digit_add(r, ti, (uint32_t)i, (uint32_t)i + 1, t[i],
					          (uint8_t)(RI_CHAR | (i == p ? RI_GROUP : 0)));
			}
			p = q;
		} else if (is_alpha(c)) {
			size_t q = p;
			while (q < len && is_alpha((unsigned char)t[q]))
				q++;
			word(r, ti, (uint32_t)p, (uint32_t)q, t, cues_only);
			p = q;
		} else if (is_sep(c)) {
			if (c == '-')
				r->dash_seen = true;
			p++;
		} else if (c == 0xc2 && p + 1 < len && (unsigned char)t[p + 1] == 0xa0) {
			p += 2; /* no-break space */
		} else {
			if (!cues_only)
				run_break(r);
			p++;
		}
	}
	if (!cues_only)
		zero_settle(r);
	r->mult = 0;
}

/* ---- written patterns: IBAN, e-mail, street address -------------------------------------- */

static int span_cmp(const void *a, const void *b)
{
	const struct rspan *x = a, *y = b;
	if (x->turn != y->turn)
		return x->turn < y->turn ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static bool iban_mod97(const char *s, size_t n)
{
	unsigned rem = 0;
	for (size_t k = 0; k < n; k++) {
		char c = s[(k + 4) % n];
		if (is_digit((unsigned char)c))
			rem = (rem * 10 + (unsigned)(c - '0')) % 97;
		else
			rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
	}
	return rem == 1;
}

/* An IBAN at p ("GB82 WEST 1234 5698 7654 32"): its end, or 0. */
static size_t iban_at(const char *t, size_t len, size_t p)
{
	char s[34];
	size_t endof[34], n = 0, q = p;
	while (q < len && n < 34) {
		unsigned char c = (unsigned char)t[q];
		if (is_digit(c) || (c >= 'A' && c <= 'Z')) {
			s[n] = (char)c;
			endof[n++] = ++q;
		} else if ((c == ' ' || c == '-') && n > 0 && q + 1 < len &&
		           (is_digit((unsigned char)t[q + 1]) ||
		            (t[q + 1] >= 'A' && t[q + 1] <= 'Z'))) {
			q++;
		} else {
			break;
		}
	}
	for (; n >= 15; n--)
		if (iban_mod97(s, n))
			return endof[n - 1];
	return 0;
}

static bool email_local(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
	       c == '-';
}

/* An e-mail address around the '@' at p: [*start, end), or end 0. */
static size_t email_at(const char *t, size_t len, size_t p, size_t *start)
{
	size_t a = p;
	while (a > 0 && email_local((unsigned char)t[a - 1]))
		a--;
	size_t q = p + 1, dot = 0;
	while (q < len &&
	       (is_alpha((unsigned char)t[q]) || is_digit((unsigned char)t[q]) || t[q] == '-' ||
	        (t[q] == '.' && q + 1 < len && is_alpha((unsigned char)t[q + 1])))) {
		if (t[q] == '.')
			dot = q;
		q++;
	}
	if (a == p || dot == 0 || q - dot < 3)
		return 0;
	*start = a;
	return q;
}

static const char *const street_words[] = {
	"street", "st",      "avenue", "ave",     "road",    "rd",   "boulevard", "blvd",
	"lane",   "ln",      "drive",  "dr",      "court",   "ct",   "way",       "place",
	"pl",     "terrace", "circle", "highway", "parkway", "pkwy", "square",    "trail",
};

static bool street_word(const char *w, size_t n)
{
	for (size_t i = 0; i < sizeof(street_words) / sizeof(street_words[0]); i++) {
		const char *s = street_words[i];
		size_t k = 0;
		while (k < n && s[k] != '\0' && (w[k] | 0x20) == s[k])
			k++;
		if (k == n && s[k] == '\0')
			return true;
	}
	return false;
}

/* "221 Baker Street": a house number (1-6 digits), one to four words, a street word. */
static size_t address_at(const char *t, size_t len, size_t p)
{
	size_t q = p;
	while (q < len && is_digit((unsigned char)t[q]))
		q++;
	if (q - p > 6 || q >= len || t[q] != ' ')
		return 0;
	for (int words = 0; words < 5; words++) {
		while (q < len && t[q] == ' ')
			q++;
		size_t w = q;
		while (q < len && (is_alpha((unsigned char)t[q]) || is_digit((unsigned char)t[q])))
			q++;
		if (q == w)
			return 0;
		if (words > 0 && street_word(t + w, q - w))
			return q < len && t[q] == '.' ? q + 1 : q;
	}
	return 0;
}

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

/* Adds a pattern span of turn ti unless it overlaps one found already in the turn. */
static bool pattern_add(struct redactor *r, uint32_t ti, size_t first, size_t start, size_t end,
                        enum redact_kind kind)
{
	for (size_t i = first; i < r->nspans; i++)
		if (start < r->spans[i].end && end > r->spans[i].start)
			return false;
	span_add(r, ti, (uint32_t)start, (uint32_t)end, ++r->next_id, kind, NULL);
	r->counts[kind]++;
	r->found++;
	return true;
}

/* An IBAN ("GB82 WEST ...": two capitals before p, the first of two check digits at p) or a
 * street address starting at the digit p of turn ti: the span is added and its end returned;
 * 0 when there is none. The scan calls it at the start of each group of digits. */
static size_t pattern_at(struct redactor *r, uint32_t ti, size_t p)
{
	const char *t = r->turns[ti].text;
	size_t len = r->turns[ti].len, end = 0;
	if ((r->kinds & (1u << REDACT_IBAN)) && p >= 2 && is_upper(t[p - 2]) &&
	    is_upper(t[p - 1]) && p + 1 < len && is_digit((unsigned char)t[p + 1]) &&
	    (p == 2 || !(is_alpha((unsigned char)t[p - 3]) || is_digit((unsigned char)t[p - 3]))) &&
	    (end = iban_at(t, len, p - 2)) != 0 &&
	    pattern_add(r, ti, r->nspans, p - 2, end, REDACT_IBAN))
		return end;
	if ((r->kinds & (1u << REDACT_ADDRESS)) && (p == 0 || !is_alpha((unsigned char)t[p - 1])) &&
	    (end = address_at(t, len, p)) != 0 &&
	    pattern_add(r, ti, r->nspans, p, end, REDACT_ADDRESS))
		return end;
	return 0;
}

/* The e-mail addresses of turn ti (around each '@'), before the scan, which skips them. */
static void patterns(struct redactor *r, uint32_t ti)
{
	const char *t = r->turns[ti].text;
	size_t len = r->turns[ti].len, first = r->nspans;
	if (!(r->kinds & (1u << REDACT_EMAIL)))
		return;
	for (const char *at = memchr(t, '@', len); at != NULL;
	     at = memchr(at + 1, '@', len - (size_t)(at + 1 - t))) {
		size_t start, end = email_at(t, len, (size_t)(at - t), &start);
		if (end != 0)
			(void)pattern_add(r, ti, first, start, end, REDACT_EMAIL);
	}
}

/* ---- the run over a call ---------------------------------------------------------------- */

struct redactor *redact_new(void)
{
	redact_words_init();
	struct redactor *r = xcalloc(1, sizeof(*r));
	r->magic = REDACT_MAGIC;
	return r;
}

void redact_free(struct redactor **rp)
{
	struct redactor *r = *rp;
	if (r == NULL)
		return;
	if (r->magic != REDACT_MAGIC)
		abort();
	free(r->run);
	free(r->digits);
	free(r->spans);
	free(r->tout);
	buf_free(&r->out);
	r->magic = 0;
	free(r);
	*rp = NULL;
}

/* The placeholder of span s into out. */
static void placeholder(struct buf *out, const struct rspan *s)
{
	buf_append_str(out, kind_tags[s->kind]);
	if (s->kind == REDACT_CARD) {
		buf_append_str(out, " \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2");
		buf_append_str(out, s->last4);
		buf_putc(out, ']');
	}
}

/* Rewrites every turn that has spans (sorted by turn, start) into r->out. */
static void rewrite(struct redactor *r)
{
	buf_reset(&r->out);
	size_t k = 0;
	for (size_t ti = 0; ti < r->nturns; ti++) {
		r->tout[ti] = (struct rturn_out){ 0, r->turns[ti].len, false };
		if (k >= r->nspans || r->spans[k].turn != ti)
			continue;
		const char *t = r->turns[ti].text;
		size_t off = r->out.len, at = 0;
		for (; k < r->nspans && r->spans[k].turn == ti; k++) {
			const struct rspan *s = &r->spans[k];
			if (s->start >= at) {
				buf_append(&r->out, t + at, s->start - at);
			} else if (k > 0 && r->spans[k - 1].kind == s->kind &&
			           r->spans[k - 1].id == s->id) {
				at = s->end > at ? s->end : at;
				continue; /* the same value twice over */
			}
			placeholder(&r->out, s);
			at = s->end > at ? s->end : at;
		}
		buf_append(&r->out, t + at, r->turns[ti].len - at);
		r->tout[ti] = (struct rturn_out){ off, r->out.len - off, true };
	}
}

size_t redact_run(struct redactor *r, unsigned kinds, const struct redact_turn *turns, size_t n,
                  unsigned counts[REDACT_NKINDS])
{
	if (r->magic != REDACT_MAGIC)
		abort();
	r->kinds = kinds & REDACT_ALL_KINDS;
	memset(r->counts, 0, sizeof(r->counts));
	memset(r->cue_at, 0, sizeof(r->cue_at));
	r->found = 0;
	r->nrun = r->nspans = 0;
	r->next_id = 0;
	r->words = 0;
	r->bank_heard = r->card_heard = false;
	r->mult = 0;
	r->zero_pending = r->hundred_pending = r->dash_seen = false;
	r->turns = turns;
	r->nturns = n;
	if (r->captout < n) {
		r->captout = n;
		r->tout = xreallocarray(r->tout, n, sizeof(*r->tout));
	}
	for (size_t ti = 0; ti < n && r->kinds; ti++) {
		bool ack = false;
		if (r->nrun > 0 && turns[ti].speaker != r->run_speaker) {
			ack = turn_is_ack(turns[ti].text, turns[ti].len);
			if (!ack)
				run_break(r);
		}
		size_t ps = r->nspans;
		patterns(r, (uint32_t)ti);
		if (r->nspans - ps > 1)
			qsort(r->spans + ps, r->nspans - ps, sizeof(*r->spans), span_cmp);
		scan_turn(r, (uint32_t)ti, ps, r->nspans, ack);
		if (!ack)
			r->run_speaker = turns[ti].speaker;
		r->dash_seen = false;
	}
	run_break(r);
	if (r->nspans > 1)
		qsort(r->spans, r->nspans, sizeof(*r->spans), span_cmp);
	rewrite(r);
	if (counts)
		memcpy(counts, r->counts, sizeof(r->counts));
	return r->found;
}

const char *redact_text(const struct redactor *r, size_t i, size_t *len, bool *changed)
{
	const struct rturn_out *o = &r->tout[i];
	if (changed)
		*changed = o->changed;
	*len = o->len;
	return o->changed ? r->out.data + o->off : r->turns[i].text;
}

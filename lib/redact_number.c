/*
 * redact_number: the number reader. The walker (redact.c) hands it digits, written or spoken,
 * as items of the current run; at a break the run is cut into cards (anywhere in it, Luhn and a
 * network's prefix) and typed segments (by the cue heard last: CVV, expiry, SSN, routing, bank
 * account, DOB, phone), each found value becoming one span per turn it touches. See
 * redact_int.h.
 */
#include <string.h>

#include "redact_int.h"
#include "xalloc.h"

/* ---- spans ---------------------------------------------------------------------------- */

void redact_span_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, uint32_t id,
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
		redact_span_add(r, turn, start, end, id, kind, last4);
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
	if (c == RC_EXPIRY && redact_expiry_valid(d, n)) {
		found_items(r, a, b, REDACT_EXPIRY);
		return true;
	}
	if (c == RC_SSN && (n == 4 || (n == 9 && redact_ssn_valid(d)))) {
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
		if (n == 3 || (n == 4 && !redact_expiry_valid(d, 4))) {
			found_items(r, a, b, REDACT_CVV);
			return true;
		}
		if (n == 4 || n == 6) {
			found_items(r, a, b, REDACT_EXPIRY);
			return true;
		}
		if ((n == 7 || n == 8) && redact_expiry_valid(d, 4)) {
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
	if (ssn_written(r, a, b) && redact_ssn_valid(d)) {
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
		    (redact_card_prefix(d, len) || cue))
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

void redact_item_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, char d,
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
void redact_zero_settle_now(struct redactor *r)
{
	if (r->hundred_pending) {
		r->hundred_pending = false;
		redact_item_add(r, r->hundred.turn, r->hundred.start, r->hundred.end, '0', 0);
		redact_item_add(r, r->hundred.turn, r->hundred.start, r->hundred.end, '0', 0);
	}
	if (r->zero_pending) {
		r->zero_pending = false;
		redact_item_add(r, r->zero.turn, r->zero.start, r->zero.end, '0', 0);
	}
}

/* A digit (spoken or written) at [start, end); "double" before it repeats it. */
void redact_digit_add(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, char d,
                      uint8_t flags)
{
	int times = 1;
	if (r->mult) {
		times = r->mult;
		start = r->mult_start;
		r->mult = 0;
	}
	for (int i = 0; i < times; i++)
		redact_item_add(r, turn, start, end, d, (uint8_t)(i ? flags & ~RI_GROUP : flags));
}

void redact_run_break(struct redactor *r)
{
	redact_zero_settle(r);
	r->mult = 0;
	if (r->nrun > 0)
		run_flush(r);
}

void redact_cue_heard(struct redactor *r, enum redact_cue c)
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

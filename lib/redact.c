/*
 * redact: the one pass over a call's turns (see redact.h): the turn walker, the word reader and
 * the placeholder writer. The number reader is redact_number.c, the kinds' checks and written
 * patterns redact_check.c (redact_int.h: what they share).
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
 * Cost: while no number is open (most of a call), skip_plain reads 64 bytes at a time as bit
 * masks of letters and digits and only counts the words between, stopping at a digit or a
 * number word; a hash look-up only for words whose length and first and last letters some
 * table word has (redact_words); no allocation once the buffers have grown. The byte-at-a-time
 * scan is the reference: redact_set_bytewise turns the fast path off, and the unit tests and
 * fuzz_redact hold the two to the same output.
 */
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "redact_int.h"
#include "xalloc.h"

static const char *const kind_tags[REDACT_NKINDS] = {
	"[CARD",  "[CVV]",   "[EXPIRY]", "[SSN]", "[BANK ACCOUNT]", "[ROUTING]",
	"[IBAN]", "[EMAIL]", "[PHONE]",  "[DOB]", "[ADDRESS]",
};

/* ---- the scan ------------------------------------------------------------------------- */

/* The word t[start, end) of a turn of tlen bytes, read by the byte-at-a-time scan. */
static void word(struct redactor *r, uint32_t turn, uint32_t start, uint32_t end, const char *t,
                 size_t tlen, bool cues_only)
{
	size_t len = end - start;
	const struct redact_word *w = redact_word_maybe(t + start, len)
	                                  ? redact_word_find_in(t + start, len, tlen - start)
	                                  : NULL;
	if (w == NULL && r->nrun == 0 && !r->zero_pending && !r->hundred_pending) {
		r->words++; /* the common case: an ordinary word, no number open */
		r->mult = 0;
		return;
	}
	int type = w ? w->type : RW_OTHER;
	if (cues_only) {
		if (type == RW_OTHER)
			redact_cue_heard(r, w ? (enum redact_cue)w->cue : RC_NONE);
		return;
	}
	if (r->hundred_pending && type != RW_FILLER) {
		r->hundred_pending = false; /* "four hundred twelve", "... and six", "... sixty" */
		if ((type == RW_DIGIT || type == RW_WEAK) && w->val > 0)
			redact_item_add(r, r->hundred.turn, r->hundred.start, r->hundred.end, '0',
			                0);
		else if (type != RW_TEEN && type != RW_TENS)
			r->hundred_pending = true; /* zero_settle says "00" */
	}
	if (r->zero_pending && (type == RW_DIGIT || type == RW_WEAK) && w->val > 0) {
		r->zero_pending = false; /* "twenty six" */
		redact_digit_add(r, turn, start, end, (char)('0' + w->val), 0);
		return;
	}
	if (type != RW_FILLER)
		redact_zero_settle(r);
	switch (type) {
	case RW_DIGIT:
	case RW_WEAK:
		redact_digit_add(r, turn, start, end, (char)('0' + w->val),
		                 type == RW_WEAK && !r->mult ? RI_WEAK : 0);
		break;
	case RW_TEEN:
		redact_digit_add(r, turn, start, end, '1', 0);
		redact_item_add(r, turn, start, end, (char)('0' + w->val - 10), 0);
		break;
	case RW_TENS:
		redact_digit_add(r, turn, start, end, (char)('0' + w->val), 0);
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
			redact_run_break(
			    r); /* "a hundred", "100 hundred": not a spoken digit string */
			redact_cue_heard(r, RC_NONE);
		}
		break;
	case RW_FILLER:
		break;
	case RW_MONTH: {
		/* "may" is a month only where a date fits: weak, like "oh" */
		uint8_t f = (uint8_t)(RI_MONTH | (len == 3 && w->val == 5 ? RI_WEAK : 0));
		r->mult = 0;
		redact_item_add(r, turn, start, end, (char)('0' + w->val / 10), f);
		redact_item_add(r, turn, start, end, (char)('0' + w->val % 10), f);
		break;
	}
	default:
		redact_run_break(r);
		redact_cue_heard(r, w ? (enum redact_cue)w->cue : RC_NONE);
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

/*
 * Bit i of *alpha / *digit: byte p + i of t is an ASCII letter / digit (redact_byte_class's
 * CL_ALPHA and CL_DIGIT), for the 64 bytes from p; bytes at or past len are neither.
 */
static void block_masks(const char *t, size_t p, size_t len, uint64_t *alpha, uint64_t *digit)
{
	size_t n = len - p < 64 ? len - p : 64, i = 0;
	uint64_t a = 0, d = 0;
#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(t + p + i));
		/* unsigned "x - lo < n" as a signed compare: x - lo + 0x80 < n - 0x80 */
		__m128i lc = _mm_add_epi8(_mm_or_si128(c, _mm_set1_epi8(0x20)),
		                          _mm_set1_epi8((char)(0x80 - 'a')));
		__m128i dc = _mm_add_epi8(c, _mm_set1_epi8((char)(0x80 - '0')));
		unsigned am = (unsigned)_mm_movemask_epi8(
		    _mm_cmplt_epi8(lc, _mm_set1_epi8((char)(-128 + 26))));
		unsigned dm = (unsigned)_mm_movemask_epi8(
		    _mm_cmplt_epi8(dc, _mm_set1_epi8((char)(-128 + 10))));
		a |= (uint64_t)am << i;
		d |= (uint64_t)dm << i;
	}
#endif
	for (; i < n; i++) { /* the last block's tail (and without SSE2, every byte) */
		uint8_t c = redact_byte_class[(unsigned char)t[p + i]];
		a |= (uint64_t)(c & CL_ALPHA) << i;
		d |= (uint64_t)((c & CL_DIGIT) >> 1) << i;
	}
	*alpha = a;
	*digit = d;
}

/*
 * The scan's fast path while no number is open (r idle: no run, nothing pending, no
 * "double"): what the byte-at-a-time scan would do with an ordinary word (count it), a cue
 * word (remember it), a filler (nothing), a separator or any other byte (nothing), done 64
 * bytes at a time: the words' shapes are tested against the table's (redact_word_maybe)
 * without a branch, and only the words that pass are looked up, the others counted. Returns
 * where the byte-at-a-time scan goes on: the first digit, the first word that is a number or a
 * month, a word that runs past limit, or limit. p is not inside a word.
 */
static size_t skip_plain(struct redactor *r, const char *t, size_t p, size_t len, size_t limit)
{
	while (p < limit) {
		uint64_t a, d;
		block_masks(t, p, len, &a, &d);
		uint64_t stop = d | (limit - p < 64 ? ~0ULL << (limit - p) : 0);
		uint64_t starts = a & ~(a << 1), ends = a & ~(a >> 1);
		if ((a >> 63) && p + 64 < len && is_alpha((unsigned char)t[p + 64]))
			ends &= ~(1ULL << 63); /* the last word goes on in the next block */
		if (stop != 0)
			starts &= (1ULL << __builtin_ctzll(stop)) - 1; /* words before the stop */
		/* the k-th start pairs with the k-th end; a start without one (or ending past
		 * limit) is a word this block cannot finish: cut, where the next look starts.
		 * Words whose shape some table word has are noted (at[], ord[]: where, and how
		 * many words came before), without a branch; the others are only counted. */
		uint64_t st = starts, en = ends;
		unsigned cut = 64, nwords = 0, npass = 0;
		uint8_t at[64], ord[64];
		bool past_limit = false;
		for (; st != 0; st &= st - 1, en &= en - 1, nwords++) {
			unsigned s = (unsigned)__builtin_ctzll(st);
			if (en == 0 || p + (unsigned)__builtin_ctzll(en) >= limit) {
				cut = s;
				past_limit = en != 0;
				break;
			}
			size_t wl = (unsigned)__builtin_ctzll(en) - s + 1;
			unsigned f = (unsigned)((t[p + s] | 0x20) - 'a'),
			         l = (unsigned)((t[p + s + wl - 1] | 0x20) - 'a');
			at[npass] = (uint8_t)s;
			ord[npass] = (uint8_t)nwords;
			npass +=
			    wl < REDACT_WORD_MAXLEN
			        ? redact_word_shapes[wl & (REDACT_WORD_MAXLEN - 1)][f] >> l & 1u
			        : 0;
		}
		unsigned counted = 0; /* words of this block counted or read so far */
		for (unsigned i = 0; i < npass; i++) { /* in order: counts and cues as they come */
			r->words += ord[i] - counted;
			counted = ord[i] + 1u;
			size_t ws = p + at[i], wl = (size_t)__builtin_ctzll(ends >> at[i]) + 1;
			const struct redact_word *w = redact_word_find_in(t + ws, wl, len - ws);
			if (w == NULL)
				r->words++;
			else if (w->type == RW_OTHER)
				redact_cue_heard(r, (enum redact_cue)w->cue);
			else if (w->type != RW_FILLER)
				return ws; /* a number word: the scan reads it */
		}
		r->words += nwords - counted;
		if (cut > 0 && cut < 64) {
			p += cut; /* the next block starts with that word */
			continue;
		}
		if (cut == 0) {
			if (past_limit)
				return p;
			size_t q = p; /* a word of 64 letters or more: not a table word */
			while (q < len && is_alpha((unsigned char)t[q]))
				q++;
			if (q > limit)
				return p;
			r->words++;
			p = q;
			continue;
		}
		if (stop != 0)
			return p + (size_t)__builtin_ctzll(stop);
		p += 64;
	}
	return p; /* limit, or p when a pattern starts before it */
}

static void scan_turn(struct redactor *r, uint32_t ti, size_t ps, size_t pe, bool cues_only)
{
	const char *t = r->turns[ti].text;
	size_t len = r->turns[ti].len, span_end = (size_t)-1; /* where the last pattern ended */
	for (size_t p = 0; p < len;) {
		if (!cues_only && !r->bytewise && r->nrun == 0 && r->mult == 0 &&
		    !r->zero_pending && !r->hundred_pending &&
		    (p == 0 || !is_alpha((unsigned char)t[p - 1]))) {
			size_t limit =
			    ps < pe && r->spans[ps].start < len ? r->spans[ps].start : len;
			p = skip_plain(r, t, p, len, limit);
			if (p >= len)
				break;
		}
		unsigned char c = (unsigned char)t[p];
		if (ps < pe && p >= r->spans[ps].start) {
			if (!cues_only)
				redact_run_break(r);
			p = span_end = r->spans[ps++].end;
		} else if (is_digit(c)) {
			size_t q = p, end = cues_only ? 0 : pattern_at(r, ti, p);
			if (end != 0) { /* an IBAN or an address: its placeholder breaks the run */
				redact_run_break(r);
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
					redact_run_break(r);
				redact_cue_heard(r, RC_NONE);
			} else if (!cues_only) {
				redact_zero_settle(r);
				r->mult = 0; /* "double"/"triple" repeats a spoken digit, never a
				                written one: "triple 5555..." is the card as written */
				for (size_t i = p; i < q; i++)
					redact_item_add(
					    r, ti, (uint32_t)i, (uint32_t)i + 1, t[i],
					    (uint8_t)(RI_CHAR | (i == p ? RI_GROUP : 0)));
			}
			p = q;
		} else if (is_alpha(c)) {
			size_t q = p;
			while (q < len && is_alpha((unsigned char)t[q]))
				q++;
			word(r, ti, (uint32_t)p, (uint32_t)q, t, len, cues_only);
			p = q;
		} else if (is_sep(c)) {
			if (c == '-')
				r->dash_seen = true;
			p++;
		} else if (c == 0xc2 && p + 1 < len && (unsigned char)t[p + 1] == 0xa0) {
			p += 2; /* no-break space */
		} else {
			if (!cues_only)
				redact_run_break(r);
			p++;
		}
	}
	if (!cues_only)
		redact_zero_settle(r);
	r->mult = 0;
}

static int span_cmp(const void *a, const void *b)
{
	const struct rspan *x = a, *y = b;
	if (x->turn != y->turn)
		return x->turn < y->turn ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
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
	redact_span_add(r, ti, (uint32_t)start, (uint32_t)end, ++r->next_id, kind, NULL);
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
	    (end = redact_iban_at(t, len, p - 2)) != 0 &&
	    pattern_add(r, ti, r->nspans, p - 2, end, REDACT_IBAN))
		return end;
	if ((r->kinds & (1u << REDACT_ADDRESS)) && (p == 0 || !is_alpha((unsigned char)t[p - 1])) &&
	    (end = redact_address_at(t, len, p)) != 0 &&
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
		size_t start, end = redact_email_at(t, len, (size_t)(at - t), &start);
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

void redact_set_bytewise(struct redactor *r, bool on)
{
	r->bytewise = on;
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
				redact_run_break(r);
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
	redact_run_break(r);
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

/*
 * proc_extract: phone numbers, emails, policy and claim numbers and vehicles, and the
 * key_variables lists (see proc_extract.h). Normal forms:
 *   phone   "949-555-1234" (NANP: area and exchange start with 2-9; a leading +1/1 dropped);
 *           bare 10-digit runs only next to a phone word ("my cell is 9495551234");
 *   email   lower case; "kelly dot nguyen at gmail dot com" becomes kelly.nguyen@gmail.com;
 *   ids     upper case, dashes kept, spaces between digit groups dropped ("4491 2033" is
 *           44912033); a claim when the nearest cue word before it says claim or its prefix
 *           is CL/CLM/CLAIM, otherwise a policy;
 *   vehicle "2019 Honda Civic": a make from vehicles.txt with a year before it and/or a
 *           capitalised or numbered model after it, as written.
 */
#include "proc_extract.h"

#include <stdbool.h>
#include <string.h>

#include "proc_amounts.h"
#include "proc_words.h"
#include "text.h"

#define EX_ITEM_MAX 128  /* bytes per extracted value */
#define EX_ID_MAX 24     /* bytes in a policy or claim number */
#define EX_CTX_WORDS 10  /* words looked back for a cue */
#define EX_CUE_AHEAD 4   /* words after "policy" to the number */
#define EX_EMAIL_PARTS 4 /* "a dot b dot c" pieces in a spoken email */

enum ex_ctx { EX_CTX_NONE, EX_CTX_PHONE, EX_CTX_POLICY, EX_CTX_CLAIM, EX_CTX_OTHER };

static const char *const ex_keys[PROC_VAR_COUNT] = { "phone_numbers", "emails",  "policy_numbers",
	                                             "claim_numbers", "amounts", "dates",
	                                             "vehicles" };

static bool ex_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool ex_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool ex_alnum(char c)
{
	return ex_digit(c) || ex_upper(c) || (c >= 'a' && c <= 'z');
}

void proc_extract_init(struct proc_extract *x)
{
	memset(x, 0, sizeof(*x));
}

void proc_extract_add(struct proc_extract *x, enum proc_var v, const char *s, size_t n)
{
	if (n == 0 || n > EX_ITEM_MAX || !text_utf8_valid(s, n))
		return;
	if (x->list[v] == NULL)
		x->list[v] = json_array();
	json_t *l = x->list[v];
	if (json_array_size(l) >= PROC_VAR_LIST_MAX)
		return;
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e = json_array_get(l, i);
		if (json_string_length(e) == n && memcmp(json_string_value(e), s, n) == 0)
			return;
	}
	json_array_append_new(l, json_stringn(s, n));
}

size_t proc_extract_tok_at(const struct proc_tok *toks, size_t ntoks, size_t off)
{
	size_t lo = 0, hi = ntoks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (toks[mid].off + toks[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The nearest cue word before byte off in its sentence. "number" alone is a weak phone
 * cue: "policy number AP-449120" is a policy. */
static enum ex_ctx ex_context(const struct proc_tok *toks, size_t ntoks, size_t off)
{
	size_t t = proc_extract_tok_at(toks, ntoks, off);
	bool number = false;
	for (size_t k = t; k > 0 && t - k < EX_CTX_WORDS; k--) {
		const struct proc_tok *w = &toks[k - 1];
		if (t < ntoks && w->sent != toks[t].sent)
			break;
		switch (w->wclass) {
		case PROC_W_POLICY:
			return EX_CTX_POLICY;
		case PROC_W_CLAIM:
			return EX_CTX_CLAIM;
		case PROC_W_OTHER_ID:
			return EX_CTX_OTHER;
		case PROC_W_PHONE:
			return EX_CTX_PHONE;
		case PROC_W_NUMWORD:
			number = true;
			break;
		default:
			break;
		}
	}
	return number ? EX_CTX_PHONE : EX_CTX_NONE;
}

/* Exactly want digits at s[i] (not more). */
static bool ex_ndigits(const char *s, size_t len, size_t i, size_t want)
{
	size_t n = 0;
	while (i + n < len && ex_digit(s[i + n]) && n <= want)
		n++;
	return n == want;
}

static bool ex_sep(char c)
{
	return c == ' ' || c == '-' || c == '.';
}

/* A NANP number with separators at s[i]: its length, and "AAA-EEE-LLLL" in out. */
static size_t ex_phone_at(const char *s, size_t len, size_t i, char out[13])
{
	size_t j = i, a, e;
	if (s[j] == '+' || (s[j] == '1' && j + 2 < len && ex_sep(s[j + 1]))) {
		j += s[j] == '+' ? 1 : 0;
		if (j >= len || s[j] != '1')
			return 0;
		j++;
		if (j < len && ex_sep(s[j]))
			j++;
	}
	if (j < len && s[j] == '(') {
		if (!ex_ndigits(s, len, j + 1, 3) || j + 4 >= len || s[j + 4] != ')')
			return 0;
		a = j + 1, j += 5;
		if (j < len && s[j] == ' ')
			j++;
	} else {
		if (!ex_ndigits(s, len, j, 3) || j + 3 >= len || !ex_sep(s[j + 3]))
			return 0;
		a = j, j += 4;
	}
	if (!ex_ndigits(s, len, j, 3) || j + 3 >= len || !ex_sep(s[j + 3]))
		return 0;
	e = j, j += 4;
	if (!ex_ndigits(s, len, j, 4))
		return 0;
	j += 4;
	if (j < len &&
	    (ex_alnum(s[j]) || (ex_sep(s[j]) && s[j] != ' ' && j + 1 < len && ex_digit(s[j + 1]))))
		return 0;
	if (s[a] < '2' || s[e] < '2')
		return 0;
	memcpy(out, s + a, 3);
	out[3] = '-';
	memcpy(out + 4, s + e, 3);
	out[7] = '-';
	memcpy(out + 8, s + j - 4, 4);
	out[12] = '\0';
	return j - i;
}

/* A bare run of 10 digits (or 11 with a leading 1) next to a phone word. */
static size_t ex_phone_bare(const char *s, size_t len, size_t i, const struct proc_tok *toks,
                            size_t ntoks, char out[13])
{
	size_t n = 0;
	while (i + n < len && ex_digit(s[i + n]) && n < 12)
		n++;
	if (n != 10 && !(n == 11 && s[i] == '1'))
		return 0;
	if (i + n < len && ex_alnum(s[i + n]))
		return 0;
	const char *d = s + i + n - 10;
	if (d[0] < '2' || d[3] < '2' || ex_context(toks, ntoks, i) != EX_CTX_PHONE)
		return 0;
	memcpy(out, d, 3);
	out[3] = '-';
	memcpy(out + 4, d + 3, 3);
	out[7] = '-';
	memcpy(out + 8, d + 6, 4);
	out[12] = '\0';
	return n;
}

static bool ex_local_char(char c)
{
	return ex_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* An address around the '@' at s[at]; returns the index after it (or at + 1). */
static size_t ex_email_at(struct proc_extract *x, const char *s, size_t len, size_t at)
{
	size_t l = at, r = at + 1, dot = 0;
	while (l > 0 && at - l < 64 && ex_local_char(s[l - 1]))
		l--;
	while (l < at && s[l] == '.')
		l++;
	while (r < len && r - at < 255 && (ex_alnum(s[r]) || s[r] == '.' || s[r] == '-'))
		r++;
	while (r > at + 1 && (s[r - 1] == '.' || s[r - 1] == '-'))
		r--;
	for (size_t k = at + 1; k < r; k++)
		if (s[k] == '.')
			dot = k;
	if (l == at || dot == 0 || dot == at + 1 || r - dot < 3)
		return at + 1;
	for (size_t k = dot + 1; k < r; k++)
		if (ex_digit(s[k]) || s[k] == '-')
			return at + 1; /* the top-level domain is letters */
	char out[EX_ITEM_MAX];
	size_t n = r - l;
	if (n > sizeof(out))
		return r;
	for (size_t k = 0; k < n; k++)
		out[k] = text_lower(s[l + k]);
	proc_extract_add(x, PROC_VAR_EMAIL, out, n);
	return r;
}

/* A policy/claim-shaped word at s[i]: capital letters and digits in groups joined by '-'
 * ("AP-449120", "POL123456", "CL-2026-88213"), or two to five capitals, a space and digits
 * ("CLA 5529031"). Lenient mode (after a cue word) also takes lower case and digit groups
 * joined by spaces ("4491 2033"). Writes the normal form to out; returns the length read. */
static size_t ex_id_at(const char *s, size_t len, size_t i, bool lenient, bool *spaced,
                       char out[EX_ID_MAX + 1], size_t *outlen)
{
	size_t j = i, digits = 0, groups = 0, o = 0;
	*spaced = false;
	for (;;) {
		size_t g0 = j, gl = 0, gd = 0;
		while (
		    j < len && o < EX_ID_MAX &&
		    (ex_digit(s[j]) || ex_upper(s[j]) || (lenient && s[j] >= 'a' && s[j] <= 'z'))) {
			gd += ex_digit(s[j]);
			gl += !ex_digit(s[j]);
			out[o++] = (char)(ex_digit(s[j]) ? s[j] : s[j] & ~0x20);
			j++;
		}
		if (j == g0 || (j < len && ex_alnum(s[j])))
			return 0; /* a word ("Kelly"), or too long */
		groups++, digits += gd;
		bool next_digit = j + 1 < len && ex_digit(s[j + 1]);
		if (j + 1 < len && s[j] == '-' && (ex_upper(s[j + 1]) || next_digit) &&
		    o < EX_ID_MAX) {
			out[o++] = '-';
			j++;
		} else if (j + 1 < len && s[j] == ' ' && next_digit && o < EX_ID_MAX &&
		           ((groups == 1 && gd == 0 && gl >= 2 && gl <= 5) ||
		            (lenient && gl == 0))) {
			*spaced = true;
			if (gd == 0)
				out[o++] = ' ';
			j++;
		} else {
			break;
		}
	}
	if (digits < 5 || (!lenient && !ex_upper(s[i])))
		return 0;
	*outlen = o;
	return j - i;
}

static bool ex_claim_prefix(const char *id, size_t n)
{
	return (n > 2 && memcmp(id, "CL", 2) == 0 && !ex_upper(id[2])) ||
	       (n > 3 && memcmp(id, "CLM", 3) == 0) || (n > 5 && memcmp(id, "CLAIM", 5) == 0);
}

static void ex_id_add(struct proc_extract *x, const char *id, size_t n, enum ex_ctx ctx,
                      bool spaced)
{
	bool cued = ctx == EX_CTX_POLICY || ctx == EX_CTX_CLAIM;
	if (ctx == EX_CTX_OTHER || (spaced && !cued))
		return; /* "VIN 1HGCM8...", "ZIP 92618" */
	bool claim = ctx == EX_CTX_CLAIM || (!cued && ex_claim_prefix(id, n));
	proc_extract_add(x, claim ? PROC_VAR_CLAIM : PROC_VAR_POLICY, id, n);
}

/* Emails around each '@'; phone numbers and ids where a word starts (a digit, a capital,
 * or the '(' / '+' just before it) and the character before that is no part of a token. */
static void ex_scan_chars(struct proc_extract *x, const char *s, size_t len,
                          const struct proc_tok *toks, size_t ntoks)
{
	char out[EX_ID_MAX + 1];
	for (const char *p = memchr(s, '@', len); p; p = memchr(p, '@', len - (size_t)(p - s)))
		p = s + ex_email_at(x, s, len, (size_t)(p - s));
	size_t done = 0; /* bytes before this are taken */
	for (size_t t = 0; t < ntoks; t++) {
		size_t i = toks[t].off, start = i, n = 0, idlen = 0;
		char c = s[i];
		if (i < done || !(ex_digit(c) || ex_upper(c)))
			continue;
		if (i > 0 && (s[i - 1] == '(' || s[i - 1] == '+') && ex_digit(c))
			start = i - 1;
		char prev = start ? s[start - 1] : ' ';
		if (ex_alnum(prev) || prev == '-' || prev == '.' || prev == '@' || prev == '/')
			continue;
		bool spaced;
		if (ex_digit(c)) {
			if ((n = ex_phone_at(s, len, start, out)) == 0 && start == i)
				n = ex_phone_bare(s, len, i, toks, ntoks, out);
			if (n)
				proc_extract_add(x, PROC_VAR_PHONE, out, 12);
		} else if ((n = ex_id_at(s, len, i, false, &spaced, out, &idlen)) > 0) {
			ex_id_add(x, out, idlen, ex_context(toks, ntoks, i), spaced);
		}
		if (n)
			done = start + n;
	}
}

/* "policy number is 4491 2033": digits (or lower-case ids) shortly after a cue word. */
static void ex_cue_ids(struct proc_extract *x, const char *s, size_t len,
                       const struct proc_tok *toks, size_t ntoks, size_t i)
{
	char out[EX_ID_MAX + 1];
	for (size_t k = i + 1; k < ntoks && k <= i + EX_CUE_AHEAD; k++) {
		if (toks[k].sent != toks[i].sent)
			return;
		if (!(toks[k].flags & TEXT_W_DIGIT))
			continue;
		size_t at = toks[k].off, idlen = 0;
		bool spaced;
		if (at > 0 && s[at - 1] == '-' && k > i + 1 &&
		    toks[k - 1].off + toks[k - 1].len == at - 1)
			at = toks[k - 1].off; /* "ap-449120": start at the letters */
		if (ex_upper(s[at]) || (at > 0 && (s[at - 1] == '-' || ex_alnum(s[at - 1]))))
			return; /* the character scan has it ("HO-3318207") */
		if (ex_id_at(s, len, at, true, &spaced, out, &idlen) > 0)
			ex_id_add(x, out, idlen, ex_context(toks, ntoks, at), false);
		return;
	}
}

static bool ex_word_alnum(const char *s, const struct proc_tok *t)
{
	for (size_t i = 0; i < t->len; i++)
		if (!ex_alnum(s[t->off + i]))
			return false;
	return true;
}

/* "kelly dot nguyen at gmail dot com" around the word "at" at toks[i]. */
static void ex_spoken_email(struct proc_extract *x, const char *s, const struct proc_tok *toks,
                            size_t ntoks, size_t i)
{
	size_t a = i - 1, b = i + 1, parts = 1;
	if (i == 0 || b >= ntoks || !ex_word_alnum(s, &toks[a]))
		return;
	while (a >= 2 && parts < EX_EMAIL_PARTS && toks[a - 1].wclass == PROC_W_DOT &&
	       !(toks[a].flags & TEXT_W_BREAK) && !(toks[a - 1].flags & TEXT_W_BREAK) &&
	       ex_word_alnum(s, &toks[a - 2]))
		a -= 2, parts++;
	size_t end = b;
	while (end + 2 < ntoks && toks[end + 1].wclass == PROC_W_DOT &&
	       !(toks[end + 1].flags & TEXT_W_BREAK) && !(toks[end + 2].flags & TEXT_W_BREAK))
		end += 2;
	if (end == b || toks[end].wclass != PROC_W_TLD || (toks[b].flags & TEXT_W_BREAK))
		return;
	char out[EX_ITEM_MAX];
	size_t o = 0;
	for (size_t k = a; k <= end && o + toks[k].len + 1 < sizeof(out); k++) {
		if (k == i) {
			out[o++] = '@';
			continue;
		}
		if (toks[k].wclass == PROC_W_DOT) {
			out[o++] = '.';
			continue;
		}
		for (size_t c = 0; c < toks[k].len; c++)
			out[o++] = text_lower(s[toks[k].off + c]);
	}
	proc_extract_add(x, PROC_VAR_EMAIL, out, o);
}

static bool ex_is_year(const char *s, const struct proc_tok *t)
{
	if (!(t->flags & TEXT_W_NUMBER) || t->len != 4)
		return false;
	int y = (s[t->off] - '0') * 1000 + (s[t->off + 1] - '0') * 100 +
	        (s[t->off + 2] - '0') * 10 + (s[t->off + 3] - '0');
	return y >= 1950 && y <= 2035;
}

/* A vehicle around the make at toks[i]. */
static void ex_vehicle(struct proc_extract *x, const char *s, const struct proc_tok *toks,
                       size_t ntoks, size_t i)
{
	size_t m = toks[i].mlen, year = ntoks, k = 0;
	bool brk = toks[i].flags & TEXT_W_BREAK;
	if (i >= 1 && !brk && ex_is_year(s, &toks[i - 1]))
		year = i - 1;
	else if (i >= 2 && !brk &&
	         !(toks[i - 1].flags & (TEXT_W_BREAK | TEXT_W_CAP | TEXT_W_DIGIT)) &&
	         toks[i - 1].len <= 10 && ex_is_year(s, &toks[i - 2]))
		year = i - 2; /* "2019 silver Honda" */
	for (size_t j = i + m; k < 2 && j < ntoks; j++, k++) {
		const struct proc_tok *t = &toks[j];
		if ((t->flags & TEXT_W_BREAK) || !(t->flags & (TEXT_W_CAP | TEXT_W_DIGIT)) ||
		    (t->mark & (PROC_MARK_MAKE | PROC_MARK_NOTNAME)) || ex_is_year(s, t) ||
		    (t->len == 1 && s[t->off] == 'I'))
			break;
	}
	if (year == ntoks && k == 0)
		return;
	size_t last = k ? i + m + k - 1 : i + m - 1;
	char out[EX_ITEM_MAX];
	size_t o = 0, span = toks[last].off + toks[last].len - toks[i].off;
	if (span + 6 > sizeof(out))
		return;
	if (year != ntoks) {
		memcpy(out, s + toks[year].off, 4);
		out[4] = ' ';
		o = 5;
	}
	memcpy(out + o, s + toks[i].off, span);
	proc_extract_add(x, PROC_VAR_VEHICLE, out, o + span);
}

void proc_extract_turn(struct proc_extract *x, const char *text, size_t len,
                       const struct proc_tok *toks, size_t ntoks)
{
	ex_scan_chars(x, text, len, toks, ntoks);
	for (size_t i = 0; i < ntoks; i++) {
		const struct proc_tok *t = &toks[i];
		if (t->mark & PROC_MARK_MAKE)
			ex_vehicle(x, text, toks, ntoks, i);
		else if (t->wclass == PROC_W_AT)
			ex_spoken_email(x, text, toks, ntoks, i);
		else if (t->wclass == PROC_W_POLICY || t->wclass == PROC_W_CLAIM)
			ex_cue_ids(x, text, len, toks, ntoks, i);
	}
	proc_amounts_turn(x, text, len, toks, ntoks);
}

json_t *proc_extract_finish(struct proc_extract *x, const char *caller_name)
{
	json_t *o = json_object();
	if (caller_name && text_utf8_valid(caller_name, strlen(caller_name)))
		json_object_set_new(o, "caller_name", json_string(caller_name));
	for (size_t v = 0; v < PROC_VAR_COUNT; v++) {
		if (x->list[v] == NULL)
			continue;
		json_object_set_new(o, ex_keys[v], x->list[v]); /* steals the reference */
		x->list[v] = NULL;
	}
	return o;
}

void proc_extract_release(struct proc_extract *x)
{
	for (size_t v = 0; v < PROC_VAR_COUNT; v++) {
		json_decref(x->list[v]);
		x->list[v] = NULL;
	}
}

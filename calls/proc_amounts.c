/*
 * proc_amounts: money amounts and dates in digits and words (see proc_amounts.h).
 */
#include "proc_amounts.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proc_words.h"
#include "text.h"

#define AM_INT_DIGITS 9 /* dollars up to 999,999,999 */
#define AM_WORDS_BACK 8 /* number words before "dollars" */
#define AM_DATE_MAX 40  /* bytes in a date as said */

static bool am_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool am_alnum(char c)
{
	return am_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void am_add_money(struct proc_extract *x, const char *digits, size_t n, unsigned cents)
{
	char out[AM_INT_DIGITS + 8];
	size_t o = 0;
	while (n > 1 && digits[0] == '0')
		digits++, n--;
	out[o++] = '$';
	memcpy(out + o, digits, n);
	o += n;
	o += (size_t)snprintf(out + o, sizeof(out) - o, ".%02u", cents % 100);
	proc_extract_add(x, PROC_VAR_AMOUNT, out, o);
}

/* Digits with optional thousands commas and cents at s[i]; 0 when none. */
static size_t am_number_at(const char *s, size_t len, size_t i, char *digits, size_t *nd,
                           unsigned *cents)
{
	size_t j = i, n = 0;
	*cents = 0;
	while (j < len && n <= AM_INT_DIGITS) {
		if (am_digit(s[j])) {
			digits[n++] = s[j++];
		} else if (s[j] == ',' && n > 0 && j + 3 < len && am_digit(s[j + 1]) &&
		           am_digit(s[j + 2]) && am_digit(s[j + 3]) &&
		           (j + 4 >= len || !am_digit(s[j + 4]))) {
			j++;
		} else {
			break;
		}
	}
	if (n == 0 || n > AM_INT_DIGITS)
		return 0;
	if (j + 1 < len && s[j] == '.' && am_digit(s[j + 1])) {
		unsigned c = (unsigned)(s[j + 1] - '0') * 10;
		j += 2;
		if (j < len && am_digit(s[j]))
			c += (unsigned)(s[j++] - '0');
		if (j < len && am_digit(s[j]))
			return 0; /* "1.234": not money */
		*cents = c;
	}
	if (j < len && am_alnum(s[j]))
		return 0; /* "$5k", "$40m" */
	*nd = n;
	return j - i;
}

/* "$212.00", "$ 1,250" */
static void am_dollar_signs(struct proc_extract *x, const char *s, size_t len)
{
	char digits[AM_INT_DIGITS + 1];
	for (const char *p = s; (p = memchr(p, '$', len - (size_t)(p - s))) != NULL; p++) {
		size_t i = (size_t)(p - s) + 1, nd;
		unsigned cents;
		if (i < len && s[i] == ' ')
			i++;
		if (i < len && am_digit(s[i]) && am_number_at(s, len, i, digits, &nd, &cents))
			am_add_money(x, digits, nd, cents);
	}
}

/* The value of number words ending at toks[end] ("two hundred and twelve"). */
static long am_words_value(const struct proc_tok *toks, size_t end)
{
	size_t a = end + 1;
	while (a > 0 && end + 1 - a < AM_WORDS_BACK && !(toks[a].flags & TEXT_W_BREAK)) {
		uint8_t c = toks[a - 1].wclass;
		bool glue = (c == PROC_W_AND || c == PROC_W_A) && a <= end;
		if (c != PROC_W_NUMBER && !glue)
			break;
		a--;
	}
	while (a <= end && toks[a].wclass != PROC_W_NUMBER)
		a++; /* no leading "and" / "a" unless "a hundred" */
	if (a > end)
		return -1;
	long total = 0, cur = 0;
	for (size_t k = a; k <= end; k++) {
		if (toks[k].wclass != PROC_W_NUMBER)
			continue; /* "and" */
		int v = toks[k].wval;
		if (v == 100)
			cur = (cur ? cur : 1) * 100;
		else if (v == 1000)
			total += (cur ? cur : 1) * 1000, cur = 0;
		else
			cur += v;
	}
	return total + cur;
}

/* "212 dollars", "forty dollars", "dos cientos dólares" (digits only in Spanish). */
static void am_dollar_words(struct proc_extract *x, const char *s, size_t len,
                            const struct proc_tok *toks, size_t i)
{
	char digits[AM_INT_DIGITS + 1];
	size_t nd;
	unsigned cents;
	if (i == 0 || (toks[i].flags & TEXT_W_BREAK))
		return;
	const struct proc_tok *p = &toks[i - 1];
	if (p->flags & TEXT_W_DIGIT) {
		size_t a = p->off; /* back to the start of "1,250.50" */
		while (a > 0 && (am_digit(s[a - 1]) || s[a - 1] == ',' || s[a - 1] == '.') &&
		       p->off - a < 16)
			a--;
		if (a > 0 && s[a - 1] == '$')
			return; /* "$40 dollars": the sign scan has it */
		if (am_number_at(s, len, a, digits, &nd, &cents) == p->off + p->len - a)
			am_add_money(x, digits, nd, cents);
		return;
	}
	long v = am_words_value(toks, i - 1);
	if (v > 0 && v < 1000000000L) {
		int n = snprintf(digits, sizeof(digits), "%ld", v);
		am_add_money(x, digits, (size_t)n, 0);
	}
}

/* A day of the month at toks[j]: "20", "20th", "twentieth", "twenty-fifth"; *n words. */
static int am_day(const char *s, const struct proc_tok *toks, size_t ntoks, size_t j, size_t *n,
                  bool *ordinal)
{
	const struct proc_tok *t = &toks[j];
	*n = 1;
	*ordinal = false;
	if (t->flags & TEXT_W_DIGIT) {
		const char *p = s + t->off;
		size_t d = 0;
		int v = 0;
		while (d < t->len && d < 3 && am_digit(p[d]))
			v = v * 10 + (p[d++] - '0');
		if (d == 0 || d > 2 || v < 1 || v > 31)
			return -1;
		if (d == t->len)
			return v;
		static const char *const suffix[] = { "st", "nd", "rd", "th" };
		for (size_t k = 0; k < 4; k++)
			if (t->len == d + 2 && text_ieq(p + d, 2, suffix[k])) {
				*ordinal = true;
				return v;
			}
		return -1;
	}
	if (t->wclass == PROC_W_ORDINAL) {
		*ordinal = true;
		return t->wval;
	}
	int tens = t->wclass == PROC_W_NUMBER ? t->wval : -1;
	if ((tens == 20 || tens == 30) && j + 1 < ntoks && !(toks[j + 1].flags & TEXT_W_BREAK) &&
	    toks[j + 1].wclass == PROC_W_ORDINAL) {
		int u = toks[j + 1].wval;
		if (u >= 1 && u <= 9 && tens + u <= 31) {
			*n = 2;
			*ordinal = true;
			return tens + u;
		}
	}
	return -1;
}

static void am_add_span(struct proc_extract *x, const char *s, const struct proc_tok *a,
                        const struct proc_tok *b)
{
	size_t n = b->off + b->len - a->off;
	if (n <= AM_DATE_MAX)
		proc_extract_add(x, PROC_VAR_DATE, s + a->off, n);
}

/* "November 20th", "Nov. 20, 2026", "november twenty-fifth" at the month toks[i]. */
static void am_month_date(struct proc_extract *x, const char *s, size_t len,
                          const struct proc_tok *toks, size_t ntoks, size_t i)
{
	const struct proc_tok *m = &toks[i];
	if (i + 1 >= ntoks || (m->wclass == PROC_W_MAY && !(m->flags & TEXT_W_CAP)))
		return;
	bool dot = m->off + m->len < len && s[m->off + m->len] == '.';
	if ((toks[i + 1].flags & TEXT_W_BREAK) && !dot)
		return;
	size_t n, end;
	bool ordinal;
	if (am_day(s, toks, ntoks, i + 1, &n, &ordinal) < 0)
		return;
	end = i + n;
	if (end + 1 < ntoks && (toks[end + 1].flags & TEXT_W_NUMBER) && toks[end + 1].len == 4 &&
	    (s[toks[end + 1].off] == '1' || s[toks[end + 1].off] == '2'))
		end++; /* ", 2026" */
	am_add_span(x, s, m, &toks[end]);
}

/* "the 20th of November", "20 de noviembre" ending at the month toks[i]. */
static void am_day_of_month(struct proc_extract *x, const char *s, const struct proc_tok *toks,
                            size_t ntoks, size_t i)
{
	if (i < 2 || (toks[i].flags & TEXT_W_BREAK) || (toks[i - 1].flags & TEXT_W_BREAK))
		return;
	bool of = toks[i - 1].wclass == PROC_W_OF, de = toks[i - 1].wclass == PROC_W_DE;
	if (!of && !de)
		return;
	for (size_t back = 1; back <= 2 && back + 1 <= i; back++) {
		size_t j = i - 1 - back, n;
		bool ordinal;
		if (am_day(s, toks, ntoks, j, &n, &ordinal) > 0 && j + n == i - 1 &&
		    (ordinal || de)) {
			am_add_span(x, s, &toks[j], &toks[i]);
			return;
		}
	}
}

/* "on the 15th", "by the twenty-fifth": only when nothing but a clause end follows. */
static void am_the_ordinal(struct proc_extract *x, const char *s, const struct proc_tok *toks,
                           size_t ntoks, size_t i)
{
	if (i == 0 || i + 1 >= ntoks || (toks[i].flags & TEXT_W_BREAK) ||
	    toks[i - 1].wclass != PROC_W_PREP)
		return;
	size_t n;
	bool ordinal;
	if (am_day(s, toks, ntoks, i + 1, &n, &ordinal) < 0 || !ordinal)
		return;
	size_t after = i + 1 + n;
	if (after < ntoks && !(toks[after].flags & TEXT_W_BREAK)) {
		/* not "the third time"; "the 20th of November" is am_day_of_month's */
		uint8_t c = toks[after].wclass;
		if (c != PROC_W_AND && c != PROC_W_AT && c != PROC_W_CONJ && c != PROC_W_BUT)
			return;
	}
	am_add_span(x, s, &toks[i], &toks[after - 1]);
}

/* Validates m/d(/y) and y-m-d numbers; returns the length read. */
static size_t am_numeric_date(const char *s, size_t len, size_t i)
{
	int f[3] = { 0, 0, 0 }, nd[3] = { 0, 0, 0 }, k = 0;
	size_t j = i;
	char sep = 0;
	for (; k < 3; k++) {
		while (j < len && am_digit(s[j]) && nd[k] < 5)
			f[k] = f[k] * 10 + (s[j++] - '0'), nd[k]++;
		if (nd[k] == 0 || nd[k] > 4)
			return 0;
		if (k == 2 || j + 1 >= len || !(s[j] == '/' || s[j] == '-') ||
		    !am_digit(s[j + 1]) || (sep && s[j] != sep))
			break;
		sep = s[j++];
	}
	if (j < len &&
	    (am_alnum(s[j]) || ((s[j] == '/' || s[j] == '-') && j + 1 < len && am_digit(s[j + 1]))))
		return 0;
	int parts = k + 1;
	if (nd[0] == 4 && parts == 3 && sep == '-') /* 2026-11-20 */
		return (f[1] >= 1 && f[1] <= 12 && f[2] >= 1 && f[2] <= 31) ? j - i : 0;
	if (nd[0] > 2 || nd[1] > 2 || f[0] < 1 || f[0] > 12 || f[1] < 1 || f[1] > 31)
		return 0;
	if (sep == '/' && (parts == 2 || nd[2] == 2 || nd[2] == 4))
		return j - i;
	return (sep == '-' && parts == 3 && nd[2] == 4) ? j - i : 0; /* 11-20-2026 */
}

/* Numeric dates start at a number word followed by '/' or '-'. */
static void am_numeric_dates(struct proc_extract *x, const char *s, size_t len,
                             const struct proc_tok *toks, size_t ntoks)
{
	size_t done = 0;
	for (size_t t = 0; t < ntoks; t++) {
		size_t i = toks[t].off, end = i + toks[t].len;
		if (i < done || !(toks[t].flags & TEXT_W_NUMBER) || toks[t].len > 4 || end >= len ||
		    (s[end] != '/' && s[end] != '-'))
			continue;
		char prev = i ? s[i - 1] : ' ';
		if (am_alnum(prev) || prev == '/' || prev == '-' || prev == '.' || prev == '$' ||
		    prev == ',')
			continue;
		size_t n = am_numeric_date(s, len, i);
		if (n) {
			proc_extract_add(x, PROC_VAR_DATE, s + i, n);
			done = i + n;
		}
	}
}

void proc_amounts_turn(struct proc_extract *x, const char *text, size_t len,
                       const struct proc_tok *toks, size_t ntoks)
{
	if (memchr(text, '$', len))
		am_dollar_signs(x, text, len);
	am_numeric_dates(x, text, len, toks, ntoks);
	for (size_t i = 0; i < ntoks; i++) {
		switch (toks[i].wclass) {
		case PROC_W_DOLLARS:
			am_dollar_words(x, text, len, toks, i);
			break;
		case PROC_W_THE:
			am_the_ordinal(x, text, toks, ntoks, i);
			break;
		case PROC_W_MONTH:
		case PROC_W_MAY:
			am_month_date(x, text, len, toks, ntoks, i);
			am_day_of_month(x, text, toks, ntoks, i);
			break;
		default:
			break;
		}
	}
}

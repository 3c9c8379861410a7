/*
 * text: sentence and word iterators, folding, hashing, UTF-8 cutting, word lists (see
 * text.h). Every loop here is linear in its input with bounded look-back, because the
 * processors run them over 1 MiB transcripts.
 */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#define TEXT_LIST_MAX (1u << 20)
#define TEXT_FNV_PRIME 0x100000001b3ull

enum text_class { TC_SPACE, TC_PUNCT, TC_BREAK, TC_WORD, TC_APOS };

/* Decodes one UTF-8 character at s[0..len); *n gets its length (1 for invalid bytes,
 * which decode as -1). */
static long text_decode(const unsigned char *s, size_t len, size_t *n)
{
	unsigned c = s[0];
	size_t need;
	long cp, min;
	*n = 1;
	if (c < 0x80)
		return (long)c;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, cp = c & 0x07, min = 0x10000;
	else
		return -1;
	if (need >= len)
		return -1;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*n = need + 1;
	return cp;
}

/* Non-ASCII code points that are punctuation, symbols or spaces rather than letters. */
static enum text_class text_class_cp(long cp)
{
	if (cp < 0)
		return TC_PUNCT;
	if (cp == 0x2019)
		return TC_APOS;
	if (cp == 0xa1 || cp == 0xbf || cp == 0xab || cp == 0xbb || cp == 0x201c || cp == 0x201d ||
	    cp == 0x2014 || cp == 0x2026)
		return TC_BREAK; /* ¡ ¿ « » “ ” — … */
	if (cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200b) || cp == 0x3000)
		return TC_SPACE;
	if (cp <= 0xbf || cp == 0xd7 || cp == 0xf7 || (cp >= 0x2000 && cp <= 0x2bff) ||
	    (cp >= 0x3000 && cp <= 0x303f) || (cp >= 0xfe00 && cp <= 0xfe0f) ||
	    (cp >= 0xfff0 && cp <= 0xffff) || cp >= 0x1f000)
		return TC_PUNCT;
	return TC_WORD;
}

static bool text_is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool text_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* ASCII classes; TC_DOT and TC_DASH depend on their neighbours. */
enum { TC_DOT = 8, TC_DASH = 9 };
#define W TC_WORD
#define B TC_BREAK
#define P TC_PUNCT
#define S TC_SPACE
static const unsigned char text_ascii[128] = {
	P, P, P, P, P, P, P, P,       P, S, B, S, S, S,       P,      P, /* \t \n \v \f \r */
	P, P, P, P, P, P, P, P,       P, P, P, P, P, P,       P,      P,
	S, B, B, P, P, P, P, TC_APOS, B, B, P, P, B, TC_DASH, TC_DOT, P, /* ' '..'/' */
	W, W, W, W, W, W, W, W,       W, W, B, B, P, P,       P,      B, /* 0-9 : ; < = > ? */
	P, W, W, W, W, W, W, W,       W, W, W, W, W, W,       W,      W, /* @ A-O */
	W, W, W, W, W, W, W, W,       W, W, W, B, P, B,       P,      P, /* P-Z [ \ ] ^ _ */
	P, W, W, W, W, W, W, W,       W, W, W, W, W, W,       W,      W, /* ` a-o */
	W, W, W, W, W, W, W, W,       W, W, W, B, P, B,       P,      P, /* p-z { | } ~ DEL */
};
#undef W
#undef B
#undef P
#undef S

/* Bytes where a sentence may end: . ! ? newline, and the lead byte of "…". */
static const bool text_sent_stop[256] = {
	['.'] = true, ['!'] = true, ['?'] = true, ['\n'] = true, [0xe2] = true
};

/* Classifies the character at s[i]; *n gets its byte length. */
static inline enum text_class text_class_at(const char *s, size_t len, size_t i, size_t *n)
{
	unsigned char c = (unsigned char)s[i];
	*n = 1;
	if (c < 0x80) {
		unsigned k = text_ascii[c];
		if (k == TC_DOT) /* a dot ends a clause before a space or the end */
			return (i + 1 == len || text_is_space((unsigned char)s[i + 1])) ? TC_BREAK
			                                                                : TC_PUNCT;
		if (k == TC_DASH) /* a spaced dash separates clauses */
			return (i > 0 && s[i - 1] == ' ' && i + 1 < len && s[i + 1] == ' ')
			           ? TC_BREAK
			           : TC_PUNCT;
		return (enum text_class)k;
	}
	return text_class_cp(text_decode((const unsigned char *)s + i, len - i, n));
}

/* Per ASCII byte: 1 capital letter, 2 small letter, 4 digit. */
static unsigned char text_case_bits(unsigned char c)
{
	return (c >= 'A' && c <= 'Z')   ? 1
	       : (c >= 'a' && c <= 'z') ? 2
	       : (c >= '0' && c <= '9') ? 4
	                                : 0;
}

/* Flags of the word s[0..len) given its capital, small-letter and digit counts. */
static unsigned text_word_flags(const char *s, size_t len, size_t upper, size_t lower,
                                size_t digits)
{
	unsigned f = 0;
	if (s[0] >= 'A' && s[0] <= 'Z')
		f |= TEXT_W_CAP;
	if (upper >= 2 && lower == 0)
		f |= TEXT_W_UPPER;
	if (digits)
		f |= TEXT_W_DIGIT;
	if (digits == len)
		f |= TEXT_W_NUMBER;
	/* "'" is one byte, U+2019 three; both fold to the same endings */
	char last = text_lower(s[len - 1]);
	if (last == 't' && len >= 3 && text_lower(s[len - 3]) == 'n' && s[len - 2] == '\'')
		f |= TEXT_W_NT;
	if (last == 't' && len >= 5 && memcmp(s + len - 4, "\xe2\x80\x99", 3) == 0 &&
	    text_lower(s[len - 5]) == 'n')
		f |= TEXT_W_NT;
	if (last == 's' && len >= 3 && s[len - 2] == '\'')
		f |= TEXT_W_POSS;
	if (last == 's' && len >= 5 && memcmp(s + len - 4, "\xe2\x80\x99", 3) == 0)
		f |= TEXT_W_POSS;
	return f;
}

/* The end of the word starting at s[i], counting its ASCII capitals, small letters and
 * digits on the way. */
static size_t text_word_end(const char *s, size_t len, size_t i, size_t count[3])
{
	size_t n, m;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80 && text_ascii[c] == TC_WORD) { /* the common case */
			unsigned bits = text_case_bits(c);
			count[0] += bits & 1;
			count[1] += (bits >> 1) & 1;
			count[2] += bits >> 2;
			i++;
			continue;
		}
		enum text_class k = text_class_at(s, len, i, &n);
		if (k == TC_WORD) {
			i += n;
			continue;
		}
		if (k == TC_APOS && i + n < len && text_class_at(s, len, i + n, &m) == TC_WORD &&
		    !(s[i + n] >= '0' && s[i + n] <= '9')) {
			i += n; /* inner apostrophe: don't, O'Brien */
			continue;
		}
		break;
	}
	return i;
}

bool text_next_word(const char *s, size_t len, size_t *pos, struct text_word *w)
{
	size_t i = *pos, n;
	bool brk = false;
	while (i < len) {
		if ((unsigned char)s[i] == ' ') {
			i++;
			continue;
		}
		enum text_class k = text_class_at(s, len, i, &n);
		if (k == TC_WORD)
			break;
		if (k == TC_BREAK)
			brk = true;
		i += n;
	}
	if (i >= len) {
		*pos = len;
		return false;
	}
	size_t count[3] = { 0, 0, 0 };
	size_t end = text_word_end(s, len, i, count);
	w->off = i;
	w->len = end - i;
	w->flags = text_word_flags(s + i, w->len, count[0], count[1], count[2]) |
	           (brk ? TEXT_W_BREAK : 0u);
	*pos = end;
	return true;
}

/* Single letters and short words that end with a dot without ending the sentence. */
static bool text_is_abbrev(const char *s, size_t len, size_t start, size_t dot)
{
	static const char *const abbrev[] = {
		"mr",  "mrs", "ms",   "dr",  "jr",  "sr",  "st",   "vs",  "etc",
		"mt",  "ave", "blvd", "inc", "ltd", "co",  "dept", "apt", "approx",
		"jan", "feb", "mar",  "apr", "jun", "jul", "aug",  "sep", "sept",
		"oct", "nov", "dec",  "ft",  "hwy", "rd",  "ln",   "ste"
	};
	size_t b = dot;
	while (b > start && dot - b < 8 &&
	       ((s[b - 1] >= 'a' && s[b - 1] <= 'z') || (s[b - 1] >= 'A' && s[b - 1] <= 'Z')))
		b--;
	size_t n = dot - b;
	if (n == 0 || n > 6)
		return false;
	if (b > start && text_is_alnum((unsigned char)s[b - 1]))
		return false;
	if (n == 1) {
		/* "J. Smith" or "a.m." / "e.g." unless a capital starts the next word */
		bool dotted = b > start && s[b - 1] == '.';
		size_t j = dot + 1;
		while (j < len && s[j] == ' ')
			j++;
		bool next_cap = j < len && s[j] >= 'A' && s[j] <= 'Z';
		return (s[b] >= 'A' && s[b] <= 'Z' && !dotted) || (dotted && !next_cap);
	}
	for (size_t i = 0; i < sizeof(abbrev) / sizeof(abbrev[0]); i++)
		if (text_ieq(s + b, n, abbrev[i]))
			return true;
	return false;
}

static bool text_is_closer(const char *s, size_t len, size_t i, size_t *n)
{
	*n = 1;
	if (s[i] == '"' || s[i] == '\'' || s[i] == ')' || s[i] == ']')
		return true;
	if (i + 2 < len && (unsigned char)s[i] == 0xe2 && (unsigned char)s[i + 1] == 0x80 &&
	    ((unsigned char)s[i + 2] == 0x9d || (unsigned char)s[i + 2] == 0x99)) {
		*n = 3;
		return true;
	}
	return false;
}

/* If a sentence ends at s[i], returns the index after its punctuation, else 0. */
static size_t text_sentence_end(const char *s, size_t len, size_t start, size_t i)
{
	size_t j = i, n;
	bool single_dot = s[i] == '.';
	while (j < len) {
		if (s[j] == '.' || s[j] == '!' || s[j] == '?')
			j++;
		else if (j + 2 < len && memcmp(s + j, "\xe2\x80\xa6", 3) == 0)
			j += 3, single_dot = false;
		else
			break;
	}
	if (j - i > 1)
		single_dot = false;
	while (j < len && text_is_closer(s, len, j, &n))
		j += n;
	if (j < len && !text_is_space((unsigned char)s[j]))
		return 0;
	if (single_dot && text_is_abbrev(s, len, start, i))
		return 0;
	return j;
}

bool text_next_sentence(const char *s, size_t len, size_t *pos, struct text_span *out)
{
	size_t i = *pos;
	for (;;) {
		while (i < len && text_is_space((unsigned char)s[i]))
			i++;
		if (i >= len) {
			*pos = len;
			return false;
		}
		size_t start = i, end = len, next = len;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			if (!text_sent_stop[c]) {
				i++;
				continue;
			}
			if (c == '\n') {
				end = i, next = i + 1;
				break;
			}
			if (c == '.' || c == '!' || c == '?' ||
			    (c == 0xe2 && i + 2 < len && memcmp(s + i, "\xe2\x80\xa6", 3) == 0)) {
				size_t e = text_sentence_end(s, len, start, i);
				if (e) {
					end = next = e;
					break;
				}
			}
			i++;
		}
		while (end > start && text_is_space((unsigned char)s[end - 1]))
			end--;
		i = next;
		if (end > start) {
			out->off = start;
			out->len = end - start;
			*pos = next;
			return true;
		}
	}
}

bool text_ieq(const char *s, size_t n, const char *lit)
{
	for (size_t i = 0; i < n; i++)
		if (lit[i] == '\0' || text_lower(s[i]) != lit[i])
			return false;
	return lit[n] == '\0';
}

uint64_t text_fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= TEXT_FNV_PRIME;
	}
	return h;
}

uint64_t text_word_hash(const char *s, size_t len, uint64_t *stem)
{
	uint64_t h = TEXT_FNV_OFFSET, prev[3] = { h, h, h }; /* hashes 1, 2, 3 chars back */
	char last[3] = { 0, 0, 0 };                          /* last[0] is the newest char */
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text_lower(s[i]);
		if ((unsigned char)c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
		    (unsigned char)s[i + 2] == 0x99) {
			c = '\'';
			i += 2;
		}
		prev[2] = prev[1], prev[1] = prev[0], prev[0] = h;
		last[2] = last[1], last[1] = last[0], last[0] = c;
		h ^= (unsigned char)c;
		h *= TEXT_FNV_PRIME;
		n++;
	}
	uint64_t st = h;
	if (n >= 3 && last[0] == 's' && last[1] == '\'')
		st = prev[1];
	else if (n >= 5 && last[0] == 's' && last[1] == 'e' && last[2] == 'i')
		st = (prev[2] ^ (unsigned char)'y') * TEXT_FNV_PRIME;
	else if (n >= 4 && last[0] == 's' && last[1] != 's' && last[1] != 'u' && last[1] != 'i' &&
	         last[1] != '\'')
		st = prev[0];
	if (stem)
		*stem = st;
	return h;
}

bool text_utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n;
	while (i < len) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		if (text_decode((const unsigned char *)s + i, len - i, &n) < 0)
			return false;
		i += n;
	}
	return true;
}

size_t text_utf8_cut(const char *s, size_t len, size_t max)
{
	if (max >= len)
		return len;
	size_t n = max;
	/* back off continuation bytes, at most three */
	while (n > 0 && max - n < 3 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	if (((unsigned char)s[n] & 0xc0) == 0x80)
		return max; /* not UTF-8 at all: cut where asked */
	return n;
}

static int text_list_line(const char *path, unsigned lineno, const char *p, size_t n,
                          text_line_fn fn, void *arg, char *err, size_t errlen)
{
	const char *hash = memchr(p, '#', n);
	if (hash)
		n = (size_t)(hash - p);
	while (n > 0 && text_is_space((unsigned char)p[n - 1]))
		n--;
	while (n > 0 && text_is_space((unsigned char)p[0]))
		p++, n--;
	if (n == 0)
		return 0;
	char why[256] = "";
	if (!text_utf8_valid(p, n))
		snprintf(why, sizeof(why), "invalid UTF-8");
	else if (fn(arg, p, n, lineno, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s:%u: %s", path, lineno, why[0] ? why : "invalid entry");
	return -1;
}

int text_list_load(const char *path, text_line_fn fn, void *arg, char *err, size_t errlen)
{
	size_t len = 0;
	char *data = file_read(path, TEXT_LIST_MAX, &len, err, errlen);
	if (data == NULL)
		return -1;
	int rc = 0;
	unsigned lineno = 1;
	for (size_t i = 0; i < len && rc == 0; lineno++) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) : len;
		if (memchr(data + i, '\0', end - i) != NULL) {
			snprintf(err, errlen, "%s:%u: NUL byte", path, lineno);
			rc = -1;
			break;
		}
		rc = text_list_line(path, lineno, data + i, end - i, fn, arg, err, errlen);
		i = end + 1;
	}
	free(data);
	return rc;
}

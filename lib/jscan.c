/*
 * jscan: strict single-pass JSON validation into a flat token array (see jscan.h).
 * Recursive descent; the recursion is bounded by JSCAN_MAX_DEPTH like jansson's.
 */
#include "jscan.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "xalloc.h"

struct js {
	struct jscan_doc *d;
	const unsigned char *p;
	size_t len, i;
	int depth;
	char *err;
	size_t errlen;
};

static int js_fail(struct js *s, const char *why)
{
	size_t line = 1, col = 1;
	for (size_t k = 0; k < s->i && k < s->len; k++) {
		if (s->p[k] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (s->errlen)
		snprintf(s->err, s->errlen, "line %zu column %zu: %s", line, col, why);
	return -1;
}

static void js_ws(struct js *s)
{
	while (s->i < s->len) {
		unsigned char c = s->p[s->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		s->i++;
	}
}

static size_t js_push(struct js *s, enum jscan_type type)
{
	struct jscan_doc *d = s->d;
	if (d->ntok == d->tokcap) {
		d->tokcap = d->tokcap ? d->tokcap * 2 : 64;
		d->tok = xreallocarray(d->tok, d->tokcap, sizeof(*d->tok));
	}
	struct jscan_token *t = &d->tok[d->ntok];
	memset(t, 0, sizeof(*t));
	t->type = (uint8_t)type;
	t->start = (uint32_t)s->i;
	return d->ntok++;
}

size_t jscan_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned c = avail ? p[0] : 0, n, cp;
	if (c < 0xC2)
		return 0; /* ASCII, a continuation byte, an overlong lead, or nothing */
	if (c < 0xE0)
		n = 2, cp = c & 0x1F;
	else if (c < 0xF0)
		n = 3, cp = c & 0x0F;
	else if (c < 0xF5)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (unsigned k = 1; k < n; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

static int js_hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		unsigned c = p[k], h;
		if (c >= '0' && c <= '9')
			h = c - '0';
		else if (c >= 'a' && c <= 'f')
			h = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			h = c - 'A' + 10;
		else
			return -1;
		v = (v << 4) | h;
	}
	*out = v;
	return 0;
}

static void js_put_utf8(char *o, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xC0 | (cp >> 6));
		o[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xE0 | (cp >> 12));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		o[(*n)++] = (char)(0xF0 | (cp >> 18));
		o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[(*n)++] = (char)(0x80 | (cp & 0x3F));
	}
}

/* \uXXXX (with a surrogate pair when needed) at s->i (just after the 'u'). */
static int js_unicode(struct js *s, char *o, size_t *n)
{
	unsigned cp, lo;
	if (s->i + 4 > s->len || js_hex4(s->p + s->i, &cp) != 0)
		return js_fail(s, "invalid \\u escape");
	s->i += 4;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return js_fail(s, "invalid Unicode: lone low surrogate");
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (s->i + 6 > s->len || s->p[s->i] != '\\' || s->p[s->i + 1] != 'u' ||
		    js_hex4(s->p + s->i + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
			return js_fail(s, "invalid Unicode: lone high surrogate");
		s->i += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (cp == 0)
		return js_fail(s, "\\u0000 is not allowed");
	js_put_utf8(o, n, cp);
	return 0;
}

/* Bytes that need no attention inside a string: printable ASCII but '"' and '\\'. */
static const bool js_plain[256] = {
	[' '] = 1, ['!'] = 1, ['#' ... '['] = 1, [']' ... '~'] = 1, [0x7f] = 1,
};

/* The first byte from i (before len) that is not js_plain: 16 bytes at a time where SSE2 is,
 * a signed compare with 0x20 catching control bytes and UTF-8's (>= 0x80) at once. */
static size_t js_plain_end(const unsigned char *p, size_t i, size_t len)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
	              space = _mm_set1_epi8(0x20);
	for (; i + 16 <= len; i += 16) {
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i stop =
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(c, quote), _mm_cmpeq_epi8(c, bslash)),
		                 _mm_cmplt_epi8(c, space));
		unsigned m = (unsigned)_mm_movemask_epi8(stop);
		if (m != 0)
			return i + (unsigned)__builtin_ctz(m);
	}
#endif
	while (i < len && js_plain[p[i]])
		i++;
	return i;
}

/* A string at s->i ('"'); its unescaped text goes to the arena (which has room: unescaped
 * text plus its NUL never exceeds the raw text with its quotes). */
static int js_string(struct js *s, size_t *tokp)
{
	size_t t = js_push(s, JSCAN_STRING);
	struct jscan_doc *d = s->d;
	char *o = d->arena + d->arenalen;
	size_t n = 0;
	s->i++;
	for (;;) {
		size_t run = js_plain_end(s->p, s->i, s->len);
		memcpy(o + n, s->p + s->i, run - s->i);
		n += run - s->i;
		s->i = run;
		if (s->i >= s->len)
			return js_fail(s, "unterminated string");
		unsigned char c = s->p[s->i];
		if (c == '"') {
			s->i++;
			break;
		}
		if (c < 0x20)
			return js_fail(s, "control character in string");
		if (c >= 0x80) {
			size_t k = jscan_utf8_len(s->p + s->i, s->len - s->i);
			if (k == 0)
				return js_fail(s, "invalid UTF-8");
			memcpy(o + n, s->p + s->i, k);
			n += k;
			s->i += k;
			continue;
		}
		/* backslash */
		if (s->i + 1 >= s->len)
			return js_fail(s, "unterminated escape");
		c = s->p[s->i + 1];
		s->i += 2;
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		const char *e = c ? strchr(from, c) : NULL;
		if (e != NULL)
			o[n++] = to[e - from];
		else if (c == 'u') {
			if (js_unicode(s, o, &n) != 0)
				return -1;
		} else
			return js_fail(s, "invalid escape");
	}
	o[n] = '\0';
	struct jscan_token *tk = &d->tok[t];
	tk->str = (uint32_t)d->arenalen;
	tk->count = (uint32_t)n;
	tk->len = (uint32_t)(s->i - tk->start);
	tk->next = (uint32_t)(t + 1);
	d->arenalen += n + 1;
	*tokp = t;
	return 0;
}

static bool js_digit(const struct js *s)
{
	return s->i < s->len && s->p[s->i] >= '0' && s->p[s->i] <= '9';
}

static int js_number(struct js *s)
{
	size_t t = js_push(s, JSCAN_INTEGER), start = s->i;
	bool real = false;
	if (s->p[s->i] == '-')
		s->i++;
	if (s->i < s->len && s->p[s->i] == '0')
		s->i++;
	else if (js_digit(s))
		while (js_digit(s))
			s->i++;
	else
		return js_fail(s, "invalid number");
	if (s->i < s->len && s->p[s->i] == '.') {
		s->i++;
		if (!js_digit(s))
			return js_fail(s, "invalid number");
		while (js_digit(s))
			s->i++;
		real = true;
	}
	if (s->i < s->len && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
		s->i++;
		if (s->i < s->len && (s->p[s->i] == '+' || s->p[s->i] == '-'))
			s->i++;
		if (!js_digit(s))
			return js_fail(s, "invalid number");
		while (js_digit(s))
			s->i++;
		real = true;
	}
	size_t n = s->i - start;
	char small[64];
	char *text = n < sizeof(small) ? small : xmalloc(n + 1);
	memcpy(text, s->p + start, n);
	text[n] = '\0';
	errno = 0;
	int rc = 0;
	struct jscan_token *tk = &s->d->tok[t];
	if (real) {
		tk->type = JSCAN_REAL;
		double v = strtod(text, NULL);
		if (errno == ERANGE && isinf(v))
			rc = js_fail(s, "real number overflow");
	} else {
		tk->ival = strtoll(text, NULL, 10);
		if (errno == ERANGE)
			rc = js_fail(s, "too big integer");
	}
	if (text != small)
		free(text);
	tk->len = (uint32_t)n;
	tk->next = (uint32_t)(t + 1);
	return rc;
}

static int js_literal(struct js *s)
{
	static const struct {
		const char *text;
		enum jscan_type type;
	} lits[] = { { "true", JSCAN_TRUE }, { "false", JSCAN_FALSE }, { "null", JSCAN_NULL } };
	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(lits[k].text);
		if (s->len - s->i >= n && memcmp(s->p + s->i, lits[k].text, n) == 0) {
			size_t t = js_push(s, lits[k].type);
			s->i += n;
			s->d->tok[t].len = (uint32_t)n;
			s->d->tok[t].next = (uint32_t)(t + 1);
			return 0;
		}
	}
	return js_fail(s, "invalid token");
}

static int js_value(struct js *s);

/* Refuses duplicate keys among the members of object token obj (compared unescaped). */
static int js_unique_keys(struct js *s, size_t obj)
{
	const struct jscan_doc *d = s->d;
	size_t n = d->tok[obj].count;
	if (n < 2)
		return 0;
	size_t *keys = n <= 32 ? (size_t[32]){ 0 } : xmallocarray(n, sizeof(size_t));
	size_t k = 0;
	for (size_t t = obj + 1; k < n; t = d->tok[t + 1].next)
		keys[k++] = t;
	int rc = 0;
	if (n <= 32) {
		for (size_t a = 0; a < n && rc == 0; a++)
			for (size_t b = a + 1; b < n && rc == 0; b++)
				if (d->tok[keys[a]].count == d->tok[keys[b]].count &&
				    strcmp(jscan_str(d, keys[a]), jscan_str(d, keys[b])) == 0)
					rc = -1;
	} else {
		/* open addressing on FNV-1a hashes; size a power of two >= 2n */
		size_t cap = 64;
		while (cap < 2 * n)
			cap *= 2;
		size_t *slot = xcalloc(cap, sizeof(size_t));
		for (size_t a = 0; a < n && rc == 0; a++) {
			const char *key = jscan_str(d, keys[a]);
			uint64_t h = 1469598103934665603ULL;
			for (const char *p = key; *p; p++)
				h = (h ^ (unsigned char)*p) * 1099511628211ULL;
			for (size_t j = h & (cap - 1);; j = (j + 1) & (cap - 1)) {
				if (slot[j] == 0) {
					slot[j] = keys[a] + 1;
					break;
				}
				if (strcmp(jscan_str(d, slot[j] - 1), key) == 0) {
					rc = -1;
					break;
				}
			}
		}
		free(slot);
		free(keys);
	}
	return rc == 0 ? 0 : js_fail(s, "duplicate object key");
}

static int js_object(struct js *s, size_t t)
{
	s->i++;
	js_ws(s);
	if (s->i < s->len && s->p[s->i] == '}') {
		s->i++;
		return 0;
	}
	for (;;) {
		size_t key;
		if (s->i >= s->len || s->p[s->i] != '"')
			return js_fail(s, "string or '}' expected");
		if (js_string(s, &key) != 0)
			return -1;
		js_ws(s);
		if (s->i >= s->len || s->p[s->i] != ':')
			return js_fail(s, "':' expected");
		s->i++;
		js_ws(s);
		if (js_value(s) != 0)
			return -1;
		s->d->tok[t].count++;
		js_ws(s);
		if (s->i < s->len && s->p[s->i] == ',') {
			s->i++;
			js_ws(s);
			continue;
		}
		if (s->i < s->len && s->p[s->i] == '}') {
			s->i++;
			return js_unique_keys(s, t);
		}
		return js_fail(s, "'}' expected");
	}
}

static int js_array(struct js *s, size_t t)
{
	s->i++;
	js_ws(s);
	if (s->i < s->len && s->p[s->i] == ']') {
		s->i++;
		return 0;
	}
	for (;;) {
		if (js_value(s) != 0)
			return -1;
		s->d->tok[t].count++;
		js_ws(s);
		if (s->i < s->len && s->p[s->i] == ',') {
			s->i++;
			js_ws(s);
			continue;
		}
		if (s->i < s->len && s->p[s->i] == ']') {
			s->i++;
			return 0;
		}
		return js_fail(s, "']' expected");
	}
}

/* Like jansson, every value (scalars too) counts one level of depth. */
static int js_value(struct js *s)
{
	if (++s->depth > JSCAN_MAX_DEPTH)
		return js_fail(s, "maximum parsing depth reached");
	if (s->i >= s->len)
		return js_fail(s, "premature end of input");
	unsigned char c = s->p[s->i];
	int rc;
	size_t t;
	if (c == '{' || c == '[') {
		t = js_push(s, c == '{' ? JSCAN_OBJECT : JSCAN_ARRAY);
		rc = c == '{' ? js_object(s, t) : js_array(s, t);
		if (rc == 0) {
			s->d->tok[t].len = (uint32_t)(s->i - s->d->tok[t].start);
			s->d->tok[t].next = (uint32_t)s->d->ntok;
		}
	} else if (c == '"') {
		rc = js_string(s, &t);
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		rc = js_number(s);
	} else {
		rc = js_literal(s);
	}
	s->depth--;
	return rc;
}

int jscan_parse(struct jscan_doc *d, const char *src, size_t len, char *err, size_t errlen)
{
	struct js s = { d, (const unsigned char *)src, len, 0, 0, err, errlen };
	d->src = src;
	d->len = len;
	d->ntok = 0;
	d->arenalen = 0;
	if (len > JSCAN_MAX_INPUT)
		return js_fail(&s, "input too large");
	if (d->tokcap < len / 16 + 64) { /* about one token per 16 bytes of typical events */
		d->tokcap = len / 16 + 64;
		d->tok = xreallocarray(d->tok, d->tokcap, sizeof(*d->tok));
	}
	if (d->arenacap < len + 1) {
		d->arenacap = len + 1;
		d->arena = xrealloc(d->arena, d->arenacap);
	}
	js_ws(&s);
	if (s.i >= len || (s.p[s.i] != '{' && s.p[s.i] != '['))
		return js_fail(&s, "'[' or '{' expected");
	if (js_value(&s) != 0)
		return -1;
	js_ws(&s);
	if (s.i != len)
		return js_fail(&s, "end of file expected");
	return 0;
}

void jscan_doc_free(struct jscan_doc *d)
{
	free(d->tok);
	free(d->arena);
	memset(d, 0, sizeof(*d));
}

const char *jscan_str(const struct jscan_doc *d, size_t t)
{
	return d->arena + d->tok[t].str;
}

size_t jscan_get(const struct jscan_doc *d, size_t obj, const char *key)
{
	size_t n = d->tok[obj].count, t = obj + 1, klen = strlen(key);
	for (size_t k = 0; k < n; k++, t = d->tok[t + 1].next) /* a key's count: its length */
		if (d->tok[t].count == klen && memcmp(jscan_str(d, t), key, klen) == 0)
			return t + 1;
	return 0;
}

size_t jscan_item(const struct jscan_doc *d, size_t arr, size_t i)
{
	size_t t = arr + 1;
	while (i-- > 0)
		t = d->tok[t].next;
	return t;
}

void jscan_quote(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	buf_reserve(out, len + 2);
	buf_putc(out, '"');
	size_t run = 0;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)s[k];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(out, s + run, k - run);
		run = k + 1;
		switch (c) {
		case '"':
			buf_append(out, "\\\"", 2);
			break;
		case '\\':
			buf_append(out, "\\\\", 2);
			break;
		case '\n':
			buf_append(out, "\\n", 2);
			break;
		case '\r':
			buf_append(out, "\\r", 2);
			break;
		case '\t':
			buf_append(out, "\\t", 2);
			break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			buf_append(out, u, 6);
		}
		}
	}
	buf_append(out, s + run, len - run);
	buf_putc(out, '"');
}

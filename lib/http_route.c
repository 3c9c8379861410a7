/*
 * http_route: route tables, path matching, percent-decoding, query strings (see
 * http_route.h). Matching is a linear scan over the table (a few dozen routes) with the
 * path split once on the stack; only the winning route's captures are decoded, into one
 * allocation. No regexes, no tries, no normalisation.
 */
#include "http_route.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct http_route_seg {
	const char *text; /* into the entry's pattern copy; unused for a capture */
	size_t len;
	bool capture;
};

struct http_route_entry {
	struct http_route route; /* strings owned */
	size_t nseg;
	size_t nparams;
	struct http_route_seg seg[HTTP_ROUTE_MAX_SEGMENTS];
};

struct http_route_table {
	size_t n;
	struct http_route_entry *e;
};

static int http_route_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int http_route_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '%') {
			if (len - i < 3)
				return -1;
			int hi = http_route_hex(src[i + 1]), lo = http_route_hex(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0')
			return -1; /* would cut the C string short: never hand that to a handler */
		dst[o++] = c;
	}
	dst[o] = '\0';
	*outlen = o;
	return 0;
}

static bool http_route_name_ok(const char *s, bool upper_only)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 48)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok =
		    (c >= 'A' && c <= 'Z') ||
		    (!upper_only && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'));
		if (!ok)
			return false;
	}
	return true;
}

/* Splits e->route.pattern into segments; returns 0 or -1 with err set. */
static int http_route_compile(struct http_route_entry *e, char *err, size_t errlen)
{
	const char *pat = e->route.pattern;
	size_t len = strlen(pat), start = 1;
	if (len == 0 || pat[0] != '/') {
		snprintf(err, errlen, "route %s: pattern must start with '/'", e->route.name);
		return -1;
	}
	for (size_t i = 1; i <= len; i++) {
		if (i < len && pat[i] != '/')
			continue;
		if (e->nseg == HTTP_ROUTE_MAX_SEGMENTS) {
			snprintf(err, errlen, "route %s: too many segments", e->route.name);
			return -1;
		}
		struct http_route_seg *s = &e->seg[e->nseg++];
		s->text = pat + start;
		s->len = i - start;
		s->capture = s->len == 2 && memcmp(s->text, "{}", 2) == 0;
		if (!s->capture && (memchr(s->text, '{', s->len) || memchr(s->text, '}', s->len))) {
			snprintf(err, errlen, "route %s: '{}' must be a whole segment",
			         e->route.name);
			return -1;
		}
		if (s->capture && e->nparams++ == HTTP_ROUTE_MAX_PARAMS) {
			snprintf(err, errlen, "route %s: too many {} captures", e->route.name);
			return -1;
		}
		start = i + 1;
	}
	return 0;
}

static int http_route_check(const struct http_route *r, char *err, size_t errlen)
{
	if (!http_route_name_ok(r->name, false)) {
		snprintf(err, errlen, "route name must be 1-48 chars of [A-Za-z0-9_]");
		return -1;
	}
	if (!http_route_name_ok(r->method, true)) {
		snprintf(err, errlen, "route %s: method must be upper-case letters", r->name);
		return -1;
	}
	if (r->pattern == NULL || r->handler == NULL) {
		snprintf(err, errlen, "route %s: pattern and handler are required", r->name);
		return -1;
	}
	return 0;
}

struct http_route_table *http_route_table_new(const struct http_route *routes, size_t n, char *err,
                                              size_t errlen)
{
	struct http_route_table *t = xcalloc(1, sizeof(*t));
	t->e = xcalloc(n ? n : 1, sizeof(*t->e));
	for (size_t i = 0; i < n; i++) {
		if (http_route_check(&routes[i], err, errlen) != 0)
			goto fail;
		struct http_route_entry *e = &t->e[t->n++];
		e->route.method = xstrdup(routes[i].method);
		e->route.pattern = xstrdup(routes[i].pattern);
		e->route.name = xstrdup(routes[i].name);
		e->route.handler = routes[i].handler;
		if (http_route_compile(e, err, errlen) != 0)
			goto fail;
		for (size_t j = 0; j + 1 < t->n; j++) {
			if (strcmp(t->e[j].route.method, e->route.method) == 0 &&
			    strcmp(t->e[j].route.pattern, e->route.pattern) == 0) {
				snprintf(err, errlen, "routes %s and %s: same method and pattern",
				         t->e[j].route.name, e->route.name);
				goto fail;
			}
		}
	}
	return t;
fail:
	http_route_table_free(&t);
	return NULL;
}

void http_route_table_free(struct http_route_table **tp)
{
	struct http_route_table *t = *tp;
	if (t == NULL)
		return;
	*tp = NULL;
	for (size_t i = 0; i < t->n; i++) {
		free((char *)t->e[i].route.method);
		free((char *)t->e[i].route.pattern);
		free((char *)t->e[i].route.name);
	}
	free(t->e);
	free(t);
}

/* Appends method to the ", "-separated allow list unless it is there already. */
static void http_route_allow_add(char *allow, size_t cap, const char *method)
{
	size_t mlen = strlen(method);
	for (const char *p = allow; *p;) {
		size_t tl = strcspn(p, ",");
		if (tl == mlen && memcmp(p, method, mlen) == 0)
			return;
		p += tl;
		while (*p == ',' || *p == ' ')
			p++;
	}
	size_t used = strlen(allow);
	snprintf(allow + used, cap - used, "%s%s", used ? ", " : "", method);
}

struct http_route_path {
	size_t nseg;
	struct http_route_seg seg[HTTP_ROUTE_MAX_SEGMENTS];
};

/* Splits the raw path; false if it cannot match any pattern. */
static bool http_route_split(const char *path, size_t pathlen, struct http_route_path *p)
{
	p->nseg = 0;
	if (pathlen == 0 || path[0] != '/')
		return false;
	size_t start = 1;
	for (size_t i = 1; i <= pathlen; i++) {
		if (i < pathlen && path[i] != '/')
			continue;
		if (p->nseg == HTTP_ROUTE_MAX_SEGMENTS)
			return false;
		p->seg[p->nseg++] = (struct http_route_seg){ path + start, i - start, false };
		start = i + 1;
	}
	return true;
}

/* Whether e matches the path; *mask gets one bit per capture, the first segment highest,
 * so a smaller mask means a literal earlier in the path (more specific). */
static bool http_route_entry_matches(const struct http_route_entry *e,
                                     const struct http_route_path *p, uint32_t *mask)
{
	if (e->nseg != p->nseg)
		return false;
	*mask = 0;
	for (size_t j = 0; j < p->nseg; j++) {
		const struct http_route_seg *s = &e->seg[j];
		if (s->capture) {
			if (p->seg[j].len == 0)
				return false;
			*mask |= 1u << (31 - j);
		} else if (s->len != p->seg[j].len ||
		           memcmp(s->text, p->seg[j].text, s->len) != 0) {
			return false;
		}
	}
	return true;
}

static int http_route_capture(const struct http_route_entry *e, const struct http_route_path *p,
                              size_t pathlen, struct http_route_match *m)
{
	m->storage = xmalloc(pathlen + 1);
	size_t off = 0;
	for (size_t j = 0; j < p->nseg; j++) {
		if (!e->seg[j].capture)
			continue;
		size_t outlen = 0;
		if (http_route_decode(p->seg[j].text, p->seg[j].len, false, m->storage + off,
		                      &outlen) != 0)
			return -1;
		m->params[m->nparams++] = m->storage + off;
		off += outlen + 1;
	}
	return 0;
}

int http_route_match(const struct http_route_table *t, const char *method, const char *path,
                     size_t pathlen, struct http_route_match *m)
{
	memset(m, 0, sizeof(*m));
	struct http_route_path p;
	if (!http_route_split(path, pathlen, &p))
		return HTTP_ROUTE_NOT_FOUND;
	const struct http_route_entry *best = NULL;
	uint32_t best_mask = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct http_route_entry *e = &t->e[i];
		uint32_t mask;
		if (!http_route_entry_matches(e, &p, &mask))
			continue;
		if (strcmp(e->route.method, method) != 0)
			http_route_allow_add(m->allow, sizeof(m->allow), e->route.method);
		else if (best == NULL || mask < best_mask) {
			best = e;
			best_mask = mask;
		}
	}
	if (best == NULL)
		return m->allow[0] ? HTTP_ROUTE_BAD_METHOD : HTTP_ROUTE_NOT_FOUND;
	if (http_route_capture(best, &p, pathlen, m) != 0) {
		http_route_match_clear(m);
		return HTTP_ROUTE_BAD_PATH;
	}
	m->route = &best->route;
	return HTTP_ROUTE_FOUND;
}

void http_route_match_clear(struct http_route_match *m)
{
	free(m->storage);
	memset(m, 0, sizeof(*m));
}

int http_route_query_parse(const char *s, size_t len, struct http_route_query *q)
{
	memset(q, 0, sizeof(*q));
	size_t pieces = 1;
	for (size_t i = 0; i < len; i++)
		pieces += s[i] == '&';
	q->keys = xmallocarray(pieces, sizeof(char *));
	q->values = xmallocarray(pieces, sizeof(char *));
	/* each piece decodes to at most its own length, plus two NULs */
	q->storage = xmalloc(len + 2 * pieces + 1);
	size_t off = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '&')
			continue;
		const char *piece = s + start;
		size_t plen = i - start;
		start = i + 1;
		if (plen == 0)
			continue;
		const char *eq = memchr(piece, '=', plen);
		size_t klen = eq ? (size_t)(eq - piece) : plen;
		size_t kout = 0, vout = 0;
		char *key = q->storage + off;
		if (http_route_decode(piece, klen, true, key, &kout) != 0)
			goto fail;
		off += kout + 1;
		char *value = q->storage + off;
		if (http_route_decode(eq ? eq + 1 : "", eq ? plen - klen - 1 : 0, true, value,
		                      &vout) != 0)
			goto fail;
		off += vout + 1;
		q->keys[q->n] = key;
		q->values[q->n] = value;
		q->n++;
	}
	return 0;
fail:
	http_route_query_clear(q);
	return -1;
}

const char *http_route_query_get(const struct http_route_query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->keys[i], name) == 0)
			return q->values[i];
	return NULL;
}

void http_route_query_clear(struct http_route_query *q)
{
	free(q->keys);
	free(q->values);
	free(q->storage);
	memset(q, 0, sizeof(*q));
}

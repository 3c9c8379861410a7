/*
 * http_route: request-target parsing for lib/http: route tables, path matching with {}
 * captures, percent-decoding and query strings.
 *
 * Pure functions over bytes, no I/O and no MHD, so they can be fuzzed (tests/fuzz/
 * fuzz_route.c) and unit-tested alone. Strict on purpose: a malformed escape ("%", "%4",
 * "%zz") or one that decodes to NUL makes the whole path or query invalid (the server
 * answers 400) rather than being passed on literally. Paths are never normalised ("..",
 * "//" and encoded slashes are matched as they are), so a literal segment matches only its
 * exact raw bytes.
 *
 * A table is immutable after http_route_table_new and may be shared by threads.
 */
#ifndef AIMEM_HTTP_ROUTE_H
#define AIMEM_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define HTTP_ROUTE_MAX_PARAMS 8    /* {} per pattern */
#define HTTP_ROUTE_MAX_SEGMENTS 32 /* segments per pattern; longer paths never match */

/*
 * Decodes src[0, len) into dst, which must have room for len + 1 bytes; with plus_is_space
 * (query strings, not paths) '+' becomes ' '. On success writes the decoded length to
 * *outlen, NUL-terminates dst and returns 0; returns -1 on a malformed escape or a decoded
 * NUL (dst is then unspecified).
 */
int http_route_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *outlen)
    __attribute__((warn_unused_result));

struct http_route_table;

/* Compiles routes (copied). NULL with err set on an invalid or duplicate method+pattern,
 * a pattern not starting with '/', a '{' or '}' other than a whole "{}" segment, or more
 * than HTTP_ROUTE_MAX_PARAMS captures / HTTP_ROUTE_MAX_SEGMENTS segments. */
struct http_route_table *http_route_table_new(const struct http_route *routes, size_t n, char *err,
                                              size_t errlen);
void http_route_table_free(struct http_route_table **t);

enum http_route_status {
	HTTP_ROUTE_FOUND = 0,
	HTTP_ROUTE_NOT_FOUND = -1,  /* 404 */
	HTTP_ROUTE_BAD_METHOD = -2, /* 405; m->allow lists the methods */
	HTTP_ROUTE_BAD_PATH = -3,   /* 400: a capture has a malformed escape */
};

struct http_route_match {
	const struct http_route *route; /* borrowed from the table when FOUND, else NULL */
	size_t nparams;
	const char *params[HTTP_ROUTE_MAX_PARAMS]; /* decoded captures, into storage */
	char *storage;                             /* owned; http_route_match_clear frees it */
	char allow[96];                            /* "GET, DELETE" for BAD_METHOD */
};

/* Matches method and the raw path (path[0, pathlen), without the query; it must start with
 * '/' to match anything). Returns an enum http_route_status; m is filled accordingly and
 * must be cleared with http_route_match_clear whatever the result. */
int http_route_match(const struct http_route_table *t, const char *method, const char *path,
                     size_t pathlen, struct http_route_match *m);
void http_route_match_clear(struct http_route_match *m);

struct http_route_query {
	size_t n;
	const char **keys;   /* decoded, owned through storage */
	const char **values; /* "" for a key without '=' */
	char *storage;
};

/* Parses "a=1&b=x+y&flag" (without the '?'); empty pieces ("a=1&&b") are skipped. Returns 0,
 * or -1 on a malformed escape (q is then empty). Clear with http_route_query_clear. */
int http_route_query_parse(const char *s, size_t len, struct http_route_query *q)
    __attribute__((warn_unused_result));
/* The value of the first key equal to name, or NULL. */
const char *http_route_query_get(const struct http_route_query *q, const char *name);
void http_route_query_clear(struct http_route_query *q);

#endif

/*
 * fuzz_route: libFuzzer target for lib/http_route: route matching with {} captures,
 * percent-decoding and query-string parsing, as lib/http runs them on a raw request-target.
 *
 * Input: the first byte picks the method, the rest is the request-target ("path?query").
 * The same bytes are also decoded alone and compiled as a route pattern. Invariants that
 * would let a handler see something odd abort: a decoded string holding a NUL (C strings
 * would be cut short), a capture containing nothing, or a decode that grows the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum http_outcome fz_handler(struct http_exchange *ex, void *ctx)
{
	(void)ex;
	(void)ctx;
	return HTTP_DONE;
}

static const struct http_route fz_routes[] = {
	{ "GET", "/v3/memories/{}", "mem_get", fz_handler },
	{ "DELETE", "/v3/memories/{}", "mem_delete", fz_handler },
	{ "GET", "/v3/callers/{}/context", "context", fz_handler },
	{ "GET", "/v3/callers/{}/summaries", "summaries", fz_handler },
	{ "GET", "/v1/memories/user", "user", fz_handler },
	{ "GET", "/v1/memories/{}", "v1_get", fz_handler },
	{ "GET", "/{}/{}/{}", "three", fz_handler },
	{ "POST", "/v3/calls", "calls", fz_handler },
	{ "GET", "/", "root", fz_handler },
	{ "GET", "/healthz", "healthz", fz_handler },
};

static const char *const fz_methods[] = { "GET", "POST", "DELETE", "PUT", "HEAD", "get" };

static struct http_route_table *fz_table(void)
{
	static struct http_route_table *t;
	if (t == NULL) {
		char err[128];
		t = http_route_table_new(fz_routes, sizeof(fz_routes) / sizeof(fz_routes[0]), err,
		                         sizeof(err));
		if (t == NULL)
			abort();
	}
	return t;
}

static void fz_match(const char *method, const char *path, size_t pathlen)
{
	struct http_route_match m;
	int rc = http_route_match(fz_table(), method, path, pathlen, &m);
	if (rc == HTTP_ROUTE_FOUND) {
		if (m.route == NULL || strcmp(m.route->method, method) != 0)
			abort();
		for (size_t i = 0; i < m.nparams; i++)
			if (m.params[i][0] == '\0' || strlen(m.params[i]) > pathlen)
				abort();
	} else if (rc == HTTP_ROUTE_BAD_METHOD) {
		if (m.allow[0] == '\0' || m.route != NULL)
			abort();
	}
	http_route_match_clear(&m);
}

static void fz_query(const char *q, size_t len)
{
	struct http_route_query query;
	if (http_route_query_parse(q, len, &query) == 0) {
		for (size_t i = 0; i < query.n; i++) {
			if (strlen(query.keys[i]) > len || strlen(query.values[i]) > len)
				abort();
			if (http_route_query_get(&query, query.keys[i]) == NULL)
				abort();
		}
		(void)http_route_query_get(&query, "limit");
	}
	http_route_query_clear(&query);
}

static void fz_decode(const char *s, size_t len, bool plus)
{
	char *out = malloc(len + 1);
	size_t outlen = 0;
	if (http_route_decode(s, len, plus, out, &outlen) == 0)
		if (outlen > len || strlen(out) != outlen)
			abort();
	free(out);
}

static void fz_pattern(const char *pattern)
{
	struct http_route r = { "GET", pattern, "fuzz", fz_handler };
	char err[128];
	struct http_route_table *t = http_route_table_new(&r, 1, err, sizeof(err));
	if (t) {
		struct http_route_match m;
		(void)http_route_match(t, "GET", pattern, strlen(pattern), &m);
		http_route_match_clear(&m);
	}
	http_route_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *method = fz_methods[data[0] % (sizeof(fz_methods) / sizeof(fz_methods[0]))];
	size_t len = size - 1;
	/* a NUL-terminated copy, as MHD hands the URI over (cut at the first NUL) */
	char *target = malloc(len + 1);
	memcpy(target, data + 1, len);
	target[len] = '\0';
	size_t tlen = strlen(target);
	size_t pathlen = strcspn(target, "?");
	fz_match(method, target, pathlen);
	const char *q = pathlen < tlen ? target + pathlen + 1 : "";
	fz_query(q, strlen(q));
	/* the raw bytes, NULs included */
	fz_decode((const char *)data + 1, len, data[0] & 1);
	fz_pattern(target);
	free(target);
	return 0;
}

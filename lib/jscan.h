/*
 * jscan: a strict, single-pass JSON scanner that validates a document and records it as a
 * flat token array, without building a tree.
 *
 * It accepts exactly what jansson's json_loadb(JSON_REJECT_DUPLICATES) accepts (an object
 * or array at the top level, UTF-8 checked, no \u0000, no lone surrogates, no duplicate
 * keys, integers within long long, finite reals, nesting at most 2048 deep), so events the
 * workers read with it are the events the gateway validated; a differential fuzz target
 * (tests/fuzz/fuzz_jscan.c) holds the two to that. It exists because jansson spends ~160
 * instructions per byte building a tree we then throw away: the gateway and the workers
 * only need to check fields and keep slices.
 *
 * Strings are unescaped into the document's own arena (NUL-terminated); containers record
 * where their children end, so skipping a value is O(1). A document is reusable: scanning
 * again reuses its memory. Not thread-safe per document; allocate one per thread.
 */
#ifndef AIMEM_JSCAN_H
#define AIMEM_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jscan_type {
	JSCAN_OBJECT,
	JSCAN_ARRAY,
	JSCAN_STRING,
	JSCAN_INTEGER,
	JSCAN_REAL,
	JSCAN_TRUE,
	JSCAN_FALSE,
	JSCAN_NULL,
};

struct jscan_token {
	uint8_t type;   /* enum jscan_type */
	uint32_t start; /* offset of the value's first byte in the input ('{', '"', '-', ...) */
	uint32_t len;   /* the value's raw length in the input, quotes and brackets included */
	uint32_t next;  /* index of the token after this value and all of its children */
	uint32_t count; /* object: members; array: items; string: unescaped length in bytes */
	uint32_t str;   /* string: offset of its unescaped, NUL-terminated text in the arena */
	long long ival; /* integer value */
};

struct jscan_doc {
	const char *src; /* the input (borrowed from the caller for the scan's lifetime) */
	size_t len;
	struct jscan_token *tok;
	size_t ntok, tokcap;
	char *arena; /* unescaped strings */
	size_t arenalen, arenacap;
};

#define JSCAN_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
#define JSCAN_MAX_INPUT 0x7fffffffu

/* An empty document (all zero) is ready to scan. */
#define JSCAN_DOC_INIT                                                                             \
	{                                                                                          \
		0                                                                                  \
	}

/*
 * Scans src[0..len). Returns 0 or -1 with err ("line:col: reason"). Token 0 is the top-level
 * value; an object's members are key, value, key, value, ... Allocates (reusing the doc's
 * memory); src must outlive the use of ival-free raw slices taken from it.
 */
int jscan_parse(struct jscan_doc *doc, const char *src, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void jscan_doc_free(struct jscan_doc *doc);

/* The unescaped text of a string token (NUL-terminated, valid UTF-8, no NUL inside). */
const char *jscan_str(const struct jscan_doc *doc, size_t t);
/* The token index of the value of key in object token obj, or 0 when absent (0 is never a
 * member value). Linear in the object's members. */
size_t jscan_get(const struct jscan_doc *doc, size_t obj, const char *key);
/* The i-th item of array token arr (callers keep i < count); linear. */
size_t jscan_item(const struct jscan_doc *doc, size_t arr, size_t i);

/* The length (2-4) of a valid multi-byte UTF-8 sequence at p, looking at most avail bytes;
 * 0 for ASCII and for anything invalid (overlong forms, surrogates, above U+10FFFF), the
 * rules jansson applies. The one UTF-8 check of lib/: http and llm escape with it too. */
size_t jscan_utf8_len(const unsigned char *p, size_t avail);

/* Appends s as a JSON string literal (quotes and escapes) to a struct buf. */
struct buf;
void jscan_quote(struct buf *out, const char *s, size_t len);

#endif

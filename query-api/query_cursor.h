/*
 * query_cursor: the opaque keyset-pagination cursors of aimem-query.
 *
 * A cursor names the last row a page returned by its sort key: a timestamp in microseconds
 * since the epoch (or "none" for a NULL timestamp, e.g. a profile without calls) and a text
 * key (call_id or user_id). It is sent as lower-case hex of "v1|<micros or n>|<key>", so a
 * client cannot read or usefully forge it; a forged cursor can only move within the
 * tenant's own rows (row-level security decides what is visible, not the cursor).
 *
 * Pure functions, no allocation beyond the caller's buffers, thread-safe.
 */
#ifndef AIMEM_QUERY_CURSOR_H
#define AIMEM_QUERY_CURSOR_H

#include <stdbool.h>
#include <stddef.h>

#define QUERY_CURSOR_KEY_MAX 128 /* bytes of the key (call_id, user_id) */
/* hex of "v1|" + 20 digits + "|" + key, plus the NUL */
#define QUERY_CURSOR_MAX (2 * (3 + 21 + 1 + QUERY_CURSOR_KEY_MAX) + 1)

struct query_cursor {
	bool has_ts;  /* false: the row's timestamp was NULL */
	long long ts; /* microseconds since the epoch when has_ts */
	char key[QUERY_CURSOR_KEY_MAX + 1];
};

/* Writes the cursor text into out (QUERY_CURSOR_MAX bytes). Returns 0, or -1 when the key is
 * empty, longer than QUERY_CURSOR_KEY_MAX or holds a NUL. */
int query_cursor_encode(const struct query_cursor *c, char out[QUERY_CURSOR_MAX])
    __attribute__((warn_unused_result));
/* Parses text written by query_cursor_encode; returns 0 or -1 for anything else (bad hex,
 * wrong version, bad number, empty or oversized key, control bytes in the key). */
int query_cursor_decode(const char *text, struct query_cursor *c)
    __attribute__((warn_unused_result));

#endif

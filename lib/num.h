/*
 * num: checked parsing of integers, booleans, durations and sizes from text.
 *
 * Strict on purpose: no leading or trailing spaces, no '+', no hex, no empty strings, no
 * silent truncation. Every function takes (ptr, len) or a C string, writes *out only on
 * success and returns 0, NUM_EINVAL (not a number of that kind) or NUM_ERANGE (a number,
 * outside [min, max] or beyond 64 bits). They allocate nothing and are thread-safe.
 */
#ifndef AIMEM_NUM_H
#define AIMEM_NUM_H

#include <stdbool.h>
#include <stddef.h>

enum num_status {
	NUM_OK = 0,
	NUM_EINVAL = -1,
	NUM_ERANGE = -2,
};

#define NUM_WUR __attribute__((warn_unused_result))

/* Decimal integer: "-"? [0-9]+ */
int num_parse_int(const char *s, long long min, long long max, long long *out) NUM_WUR;
int num_parse_intn(const char *s, size_t len, long long min, long long max, long long *out) NUM_WUR;
/* true|false|yes|no|on|off|1|0, case-insensitive. */
int num_parse_bool(const char *s, bool *out) NUM_WUR;
/* Duration to milliseconds: an integer with a unit ms|s|m|h|d ("250ms", "30s", "5m"); a bare
 * "0" is allowed; any other bare number is EINVAL (the unit is never guessed). */
int num_parse_duration_ms(const char *s, long long *out_ms) NUM_WUR;
/* Size to bytes: an integer with an optional binary unit B|K|KB|KiB|M|MB|MiB|G|GB|GiB
 * (all powers of 1024, case-insensitive); a bare number is bytes. */
int num_parse_size(const char *s, long long *out_bytes) NUM_WUR;
/* A short English reason for a status, for error messages. */
const char *num_strerror(int status);

#endif

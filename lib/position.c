/*
 * position: the identity checks of a stored consumer position (see position.h). Pure code,
 * no I/O: the worker and `aimem offsets` feed it watermarks and messages.
 */
#include "position.h"

#include <stdint.h>

enum position_status position_check(long long next, long long low, long long high)
{
	if (next > high)
		return POSITION_BEYOND_END;
	if (next < low)
		return POSITION_EXPIRED;
	return POSITION_OK;
}

bool position_stops(enum position_status st)
{
	return st == POSITION_BEYOND_END || st == POSITION_MISMATCH;
}

const char *position_status_name(enum position_status st)
{
	switch (st) {
	case POSITION_OK:
		return "ok";
	case POSITION_EXPIRED:
		return "expired";
	case POSITION_BEYOND_END:
		return "beyond_end";
	case POSITION_MISMATCH:
		return "mismatch";
	}
	return "unknown";
}

long long position_verify_offset(long long next, long long low, long long high, bool have_fp)
{
	if (!have_fp || next < 1 || next - 1 < low || next - 1 >= high)
		return -1;
	return next - 1;
}

static uint64_t position_fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

long long position_fingerprint(long long ts_ms, const void *key, size_t keylen, const void *payload,
                               size_t len)
{
	/* the numbers as fixed little-endian bytes: the same value on every machine */
	unsigned char head[17];
	uint64_t ts = (uint64_t)ts_ms, klen = key != NULL ? keylen : 0;
	for (int i = 0; i < 8; i++) {
		head[i] = (unsigned char)(ts >> (8 * i));
		head[9 + i] = (unsigned char)(klen >> (8 * i));
	}
	head[8] = key != NULL;
	uint64_t h = position_fnv(0xcbf29ce484222325ull, head, sizeof(head));
	if (key != NULL)
		h = position_fnv(h, key, keylen);
	if (payload != NULL)
		h = position_fnv(h, payload, len);
	return (long long)h; /* two's complement: the bigint column keeps all 64 bits */
}

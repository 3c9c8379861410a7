/*
 * backoff: capped, jittered exponential delays (see backoff.h).
 */
#include "backoff.h"

#include <time.h>
#include <unistd.h>

long long backoff_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void backoff_init(struct backoff *b, long long base_ms, long long cap_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	b->base_ms = base_ms > 0 ? base_ms : 1;
	b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
	b->attempt = 0;
	b->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)b;
	if (b->rng == 0)
		b->rng = 0x9e3779b97f4a7c15ULL;
}

static uint64_t backoff_rand(struct backoff *b)
{
	uint64_t x = b->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return x;
}

long long backoff_next_ms(struct backoff *b)
{
	long long hi = b->base_ms;
	for (unsigned i = 0; i < b->attempt && hi < b->cap_ms; i++)
		hi *= 2;
	if (hi > b->cap_ms)
		hi = b->cap_ms;
	if (b->attempt < 64)
		b->attempt++;
	long long lo = b->base_ms / 2;
	if (lo > hi)
		lo = hi;
	return lo + (long long)(backoff_rand(b) % (uint64_t)(hi - lo + 1));
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}

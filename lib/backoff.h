/*
 * backoff: capped exponential backoff with full jitter, for retrying a dependency (the
 * database, the broker, an LLM endpoint) without synchronised retry storms.
 *
 * Delay n is uniform in [base/2, min(cap, base * 2^n)]. Not thread-safe per struct; each
 * retry loop owns its own. No sleeping here: callers wait in their own loop (sig_wait) so
 * a stop request interrupts the wait.
 */
#ifndef AIMEM_BACKOFF_H
#define AIMEM_BACKOFF_H

#include <stdint.h>

struct backoff {
	long long base_ms;
	long long cap_ms;
	unsigned attempt;
	uint64_t rng; /* xorshift state; seeded by backoff_init */
};

void backoff_init(struct backoff *b, long long base_ms, long long cap_ms);
/* The delay before the next attempt; advances the attempt counter. */
long long backoff_next_ms(struct backoff *b);
void backoff_reset(struct backoff *b);

/* Monotonic clock in milliseconds. */
long long backoff_now_ms(void);

#endif

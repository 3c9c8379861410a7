/*
 * auth_claims: the claims of a token whose signature lib/auth has checked, read from our own
 * parse of the very payload bytes that were signed (never through libjwt's grant getters:
 * -1 for missing, 0 for "7"): customer_id, exp/iat/nbf as NumericDates, iss and aud when the
 * verifier pins them, scope, sub; then the time rules (leeway, the longest lifetime).
 *
 * Not here: the token's shape, header and signature (lib/auth).
 */
#ifndef AIMEM_AUTH_CLAIMS_H
#define AIMEM_AUTH_CLAIMS_H

#include <jansson.h>

#include "auth.h"

/* What a verifier requires of the claims (borrowed from its state). */
struct auth_rules {
	const char *issuer;   /* NULL: iss not checked */
	const char *audience; /* NULL: aud not checked */
	long long leeway_s;
	long long max_lifetime_s;
};

/* Fills c and *nbf (-1: absent) from payload (borrowed) at time now. Returns 0 or an AUTH_*
 * status with err (no token content beyond the numbers that failed). Pure; thread-safe. */
int auth_claims_read(const struct auth_rules *v, const json_t *payload, long long now,
                     struct auth_claims *c, long long *nbf, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The time rules alone (expiry, nbf, iat, lifetime) for claims read earlier: a token from
 * lib/auth_cache at time now. The same status and err auth_claims_read gives. */
int auth_claims_times(const struct auth_rules *v, const struct auth_claims *c, long long nbf,
                      long long now, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif

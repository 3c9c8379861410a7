/*
 * auth_cache: the tokens a verifier has accepted, so the same token on the next request skips
 * the parse and the signature check (a third of aimem-ingest's CPU per 8 KB call, before).
 *
 * A hit needs the token's exact bytes, and a cache belongs to one verifier state (keys,
 * issuer, audience, leeway, lifetime): a reload builds a new state with an empty cache, so a
 * key that is gone never vouches again. Only the time rules depend on when a token is used:
 * lib/auth runs them again on every hit (auth_claims_times), so a cached token expires on
 * time. What is kept is what a verification yields (the claims and nbf), never a key.
 *
 * Bounded: AUTH_CACHE_SLOTS slots, direct-mapped by a hash of the token's last bytes (its
 * signature) seeded at random per cache, so nobody can aim tokens at one slot; a token over
 * AUTH_CACHE_TOKEN_MAX bytes is never kept; a newer token evicts the one in its slot. The
 * compare takes a time that depends on the length only (a kept token is another client's
 * secret). A token that failed is never kept, so forged ones cost the full check each time, as
 * before. Thread-safe: one mutex per slot, held for a compare and a copy.
 *
 * Not here: verification itself (lib/auth), the claims' rules (lib/auth_claims).
 */
#ifndef AIMEM_AUTH_CACHE_H
#define AIMEM_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"

#define AUTH_CACHE_SLOTS 1024
#define AUTH_CACHE_TOKEN_MAX 1024 /* an RS256 token is ~700 bytes, an HS256 one ~200 */

struct auth_cache;

struct auth_cache *auth_cache_new(void) __attribute__((warn_unused_result));
/* NULL is fine; clears the pointer; wipes the kept tokens. */
void auth_cache_free(struct auth_cache **c);
/* True when token[0..len) was kept: *claims and *nbf (-1: none) as verified then. */
bool auth_cache_get(struct auth_cache *c, const char *token, size_t len, struct auth_claims *claims,
                    long long *nbf) __attribute__((warn_unused_result));
/* Keeps a token that has just passed every check, with what the check read from it. */
void auth_cache_put(struct auth_cache *c, const char *token, size_t len,
                    const struct auth_claims *claims, long long nbf);
/* Hits so far (tests, and the bench's account of where the time went). */
unsigned long auth_cache_hits(struct auth_cache *c);

#endif

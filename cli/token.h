/*
 * token: "aimem token --customer N [--scope S] [--ttl D]", a development HS256 token.
 *
 * Signed with the configured auth.jwt_secret (ChatStack's JWT_SECRET_KEY; from the settings
 * file, AIMEM_AUTH_JWT_SECRET or AIMEM_AUTH_JWT_SECRET_FILE, never argv), with the claims
 * aimem-ingest and aimem-query require: customer_id, scope, iat, exp. No iss/aud: a
 * deployment that pins them needs tokens from its real issuer.
 */
#ifndef AIMEM_TOKEN_H
#define AIMEM_TOKEN_H

#include <stddef.h>

/* Default lifetime (ChatStack mints 1-hour tokens; the APIs refuse more than
 * auth.max_lifetime, 24h by default). */
#define TOKEN_TTL_DEFAULT_MS 3600000LL
#define TOKEN_SCOPE_DEFAULT "memory:read memory:write"

/* Returns an owned token (free) or NULL with err (no secret, secret under 32 bytes, bad
 * customer id, a ttl under 1s or over max_ms: the APIs' auth.max_lifetime, so a token is never
 * minted that they would refuse). now is unix seconds. */
char *token_mint(const char *secret, long long customer_id, const char *scope, long long ttl_ms,
                 long long max_ms, long long now, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

/*
 * token: a development HS256 token from the configured secret (see token.h). The signing
 * itself is lib/auth's auth_mint_hs256, the same code the tests verify against.
 */
#include "token.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"

char *token_mint(const char *secret, long long customer_id, const char *scope, long long ttl_ms,
                 long long max_ms, long long now, char *err, size_t errlen)
{
	if (secret == NULL || *secret == '\0') {
		snprintf(err, errlen,
		         "auth.jwt_secret is not set (AIMEM_AUTH_JWT_SECRET or "
		         "AIMEM_AUTH_JWT_SECRET_FILE; never on the command line)");
		return NULL;
	}
	if (ttl_ms < 1000) {
		snprintf(err, errlen, "--ttl must be at least 1s");
		return NULL;
	}
	if (ttl_ms > max_ms) { /* the APIs would refuse it (auth_verify: lifetime too long) */
		snprintf(
		    err, errlen,
		    "--ttl %llds is longer than auth.max_lifetime (%llds), the longest lifetime "
		    "aimem-ingest and aimem-query accept; ask for at most %llds, or raise "
		    "auth.max_lifetime for all three programs (up to 30d)",
		    ttl_ms / 1000, max_ms / 1000, max_ms / 1000);
		return NULL;
	}
	return auth_mint_hs256(secret, strlen(secret), customer_id, scope, now, now + ttl_ms / 1000,
	                       err, errlen);
}

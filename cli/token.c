/*
 * token: a development HS256 token from the configured secret (see token.h). The signing
 * itself is lib/auth's auth_mint_hs256, the same code the tests verify against.
 */
#include "token.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"

char *token_mint(const char *secret, long long customer_id, const char *scope, long long ttl_ms,
                 long long now, char *err, size_t errlen)
{
	if (secret == NULL || *secret == '\0') {
		snprintf(err, errlen,
		         "auth.jwt_secret is not set (AIMEM_AUTH_JWT_SECRET or "
		         "AIMEM_AUTH_JWT_SECRET_FILE; never on the command line)");
		return NULL;
	}
	if (ttl_ms < 1000 || ttl_ms / 1000 > AUTH_LIFETIME_MAX) {
		snprintf(err, errlen, "--ttl must be between 1s and 366d");
		return NULL;
	}
	return auth_mint_hs256(secret, strlen(secret), customer_id, scope, now, now + ttl_ms / 1000,
	                       err, errlen);
}

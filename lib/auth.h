/*
 * auth: verification of "Authorization: Bearer <JWT>" for the HTTP programs (DESIGN §6).
 *
 * One verifier per configuration. The algorithm is pinned by configuration: HS256 with shared
 * secrets, or RS256 / ES256 with public keys (PEM "PUBLIC KEY", i.e. SPKI). A verifier holds up
 * to AUTH_KEYS_MAX keys at once, so a key can rotate without a coordinated restart: a token
 * whose header names a kid that one key carries is checked with that key only; any other token
 * is checked with each key in order until one verifies. A token
 * whose header names any other algorithm ("none" in any spelling, HS384, HS256 against an
 * RS256 key, ...) is refused before any cryptography runs. The required claims are
 * customer_id (a JSON integer 1..2147483647) and exp; iat and nbf are optional; iss and aud
 * are checked when configured; scope grants memory:read and/or memory:write.
 *
 * NumericDate claims (exp, iat, nbf) may be JSON integers or, as RFC 7519 allows, JSON reals
 * (Python issuers often send time.time() + n): a real exp is rounded down and a real iat or
 * nbf rounded up, so rounding never extends a token's life. Integers too large for 64 bits
 * do not parse at all (AUTH_MALFORMED). Times must lie in [0, AUTH_TIME_MAX].
 *
 * Not here: key fetching (no JWKS, jku or x5u: a kid only selects among configured keys),
 * reading key files (auth_keys.h), JWE, which scope a route needs and the 401/403 mapping (the
 * caller's).
 *
 * Thread: auth_verify() and auth_verify_header() may run on many threads at once, also while
 * another thread swaps the keys and settings with auth_verifier_replace() (a reader-writer
 * lock held for one verification). Nothing blocks for long; nothing is global.
 * Error texts are for logs: they never contain the token or the key.
 */
#ifndef AIMEM_AUTH_H
#define AIMEM_AUTH_H

#include <stdbool.h>
#include <stddef.h>

enum auth_alg { AUTH_HS256, AUTH_RS256, AUTH_ES256 };
enum auth_scope { AUTH_SCOPE_READ = 1u << 0, AUTH_SCOPE_WRITE = 1u << 1 };

/* Bounds enforced by auth_verifier_new() (config tables may reuse them). */
#define AUTH_SECRET_MIN 32                /* HS256 secret, bytes */
#define AUTH_KEY_MAX 65536                /* secret or PEM, bytes */
#define AUTH_LEEWAY_MAX 3600              /* seconds */
#define AUTH_LIFETIME_MAX (366LL * 86400) /* seconds */
#define AUTH_TOKEN_LEN_MIN 16
#define AUTH_TOKEN_LEN_MAX 65536     /* libjwt copies the token on the stack: keep this small */
#define AUTH_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z; later NumericDates are refused */
#define AUTH_CUSTOMER_ID_MAX 2147483647LL
#define AUTH_KEYS_MAX 16 /* keys one verifier holds */
#define AUTH_KID_MAX 64  /* longest key id, bytes */

/* One verification key (borrowed for auth_verifier_new; copied). */
struct auth_key {
	const char *kid; /* NULL, or 1..AUTH_KID_MAX bytes: tokens with this "kid" use this key */
	const char *key; /* HS256 secret or PEM text, as auth_config.key */
	size_t key_len;
};

struct auth_config {
	enum auth_alg alg;
	/* HS256: the shared secret, used byte for byte (>= 32 bytes); RS256/ES256: public key
	 * PEM text ("-----BEGIN PUBLIC KEY-----", RSA >= 2048 bits or EC P-256). Copied. */
	const char *key;
	size_t key_len;
	/* More keys, tried after key (key may then be NULL): up to AUTH_KEYS_MAX in all, each
	 * checked as key is. Distinct kids. Borrowed for the call. */
	const struct auth_key *keys;
	size_t nkeys;
	const char *issuer;       /* NULL: not checked; else `iss` must equal it. Copied. */
	const char *audience;     /* NULL: not checked; else `aud` (string or array of strings) must
	                         contain it. Copied. */
	long long leeway_s;       /* clock skew allowed for exp/nbf/iat, 0..AUTH_LEEWAY_MAX;
	                             0 means 0 (callers default to 60) */
	long long max_lifetime_s; /* exp - iat <= this and exp - now <= this + leeway;
	                             1..AUTH_LIFETIME_MAX (callers default 86400) */
	size_t max_token_len;     /* AUTH_TOKEN_LEN_MIN..AUTH_TOKEN_LEN_MAX (callers default 8192);
	                             longer tokens are refused before libjwt sees them */
};

struct auth_verifier;

/*
 * Validates cfg, copies what it needs and self-tests the key with libjwt. Returns NULL with
 * a precise err for: an empty key, an HS256 secret under 32 bytes, a PEM that is not an
 * SPKI public key of the pinned type (a private key, a certificate, "RSA PUBLIC KEY",
 * an EC key for RS256, a curve other than P-256, RSA under 2048 bits), numbers out of the
 * bounds above, an empty issuer or audience. cfg is borrowed for the call only.
 */
struct auth_verifier *auth_verifier_new(const struct auth_config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Accepts NULL and clears the pointer. Wipes the copied keys. */
void auth_verifier_free(struct auth_verifier **v);
/* Gives v the keys and settings of *fresh (a verifier just built from a reloaded
 * configuration), atomically for concurrent auth_verify calls, then frees *fresh (with v's old
 * keys) and clears it. Blocks only while verifications in progress finish. */
void auth_verifier_replace(struct auth_verifier *v, struct auth_verifier **fresh);
/* How many keys v holds now. */
size_t auth_verifier_keys(const struct auth_verifier *v);
/* Verifications its keys and rules answered from the tokens they accepted before
 * (lib/auth_cache), since they were loaded. */
unsigned long auth_verifier_cache_hits(const struct auth_verifier *v);

struct auth_claims {
	long long customer_id; /* >= 1, <= 2147483647 */
	unsigned scopes;       /* AUTH_SCOPE_* bits */
	long long exp, iat;    /* iat = 0 when absent */
	char sub[129];         /* "sub" claim if a string, truncated (UTF-8 safe); "" otherwise
	                          (for logs) */
};

enum auth_status {
	AUTH_OK = 0,
	AUTH_MISSING = -1,       /* no Authorization header / empty */
	AUTH_MALFORMED = -2,     /* not "Bearer <jwt>", not three canonical base64url parts, bad
	                            JSON, duplicate keys, "crit" header, integer beyond 64 bits */
	AUTH_TOO_LONG = -3,      /* longer than max_token_len */
	AUTH_BAD_ALG = -4,       /* header alg is not exactly the pinned one */
	AUTH_BAD_SIGNATURE = -5, /* includes an empty signature */
	AUTH_EXPIRED = -6,       /* now >= exp + leeway */
	AUTH_NOT_YET_VALID = -7, /* nbf or iat > now + leeway */
	AUTH_BAD_CLAIMS = -8,    /* customer_id missing/not a JSON integer/out of range, exp
	                            missing/not a number, time out of range, exp < iat, lifetime
	                            too long, iss/aud mismatch, scope not a string */
};

/*
 * Verifies one token. token is (ptr, len), NOT NUL-terminated, borrowed for the call; now is
 * unix seconds. Checks, in order: length, shape, header alg, payload JSON, signature, claim
 * types, iss, aud, scope, expiry, nbf/iat, lifetime. A token these keys and rules accepted
 * before, byte for byte, has only its times checked again (lib/auth_cache: the same answer,
 * without the parse and the signature). Returns AUTH_OK and fills *out, or a negative
 * auth_status with *out zeroed and a reason in err.
 */
int auth_verify(const struct auth_verifier *v, const char *token, size_t len, long long now,
                struct auth_claims *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/*
 * The same from an Authorization header value (NULL when absent). Accepts "Bearer" in any
 * case, then one or more spaces, then exactly one token, then optional trailing spaces or
 * tabs (RFC 6750 credentials plus HTTP's trailing whitespace); anything else is
 * AUTH_MALFORMED. Never scans more than max_token_len bytes of the token.
 */
int auth_verify_header(const struct auth_verifier *v, const char *authorization, long long now,
                       struct auth_claims *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* True when every bit of needed is granted. needed == 0 is a caller bug: false (fail closed). */
bool auth_has_scope(const struct auth_claims *c, unsigned needed);
/* "ok", "missing", "malformed", "too_long", "bad_alg", "bad_signature", "expired",
 * "not_yet_valid", "bad_claims"; "unknown" for anything else. Static strings. */
const char *auth_status_name(int status);
/* "HS256" | "RS256" | "ES256" (exact case, as in the JWT header); returns 0 or -1. */
int auth_alg_parse(const char *s, enum auth_alg *out) __attribute__((warn_unused_result));
const char *auth_alg_name(enum auth_alg alg);

/*
 * Mints an HS256 token {customer_id, scope, iat, exp} (for `aimem token` and tests). scope
 * may be NULL (no scope claim); iat 0 means no iat claim. Needs a secret of >= 32 bytes,
 * customer_id in 1..2147483647, 0 <= iat < exp <= AUTH_TIME_MAX. Returns an owned string
 * (free()) or NULL with err.
 */
char *auth_mint_hs256(const char *secret, size_t secret_len, long long customer_id,
                      const char *scope, long long iat, long long exp, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

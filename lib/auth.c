/*
 * auth: JWT bearer-token verification (see auth.h), on top of libjwt 1.10.2.
 *
 * libjwt only checks a signature, and only safely when the caller guards it (DESIGN §10):
 * an empty key makes jwt_decode() accept anything unverified, it accepts HS384/HS512 (and
 * HS256 keyed with an RSA public key's PEM text) against the key it was given, and it
 * copies the token on the stack (16 MB crashed it). So everything around the signature is
 * done here, before libjwt sees the token: the length cap, a strict split into three
 * canonical base64url parts (one token has one spelling; NUL bytes cannot hide a suffix),
 * the header read with jansson (duplicate keys refused, "alg" compared byte for byte with
 * the pinned name, "crit" refused), and the payload read the same way. After jwt_decode()
 * the algorithm libjwt used is checked again. Claims are read from our own parse of the very
 * bytes that were signed, never through jwt_get_grant_int (-1 for missing, 0 for "7").
 *
 * At start-up a PEM key is checked by a small DER walk (SPKI, algorithm OID, curve, RSA
 * size), since the Makefile does not link libcrypto and libjwt reports a bad key and a bad
 * signature with the same EINVAL; then every key is self-tested through jwt_decode().
 *
 * Several keys (rotation) live in one immutable state behind a reader-writer lock, so a reload
 * swaps them whole while other threads verify.
 *
 * Not here: key fetching, key files, JWE, route scopes (see auth.h).
 */
#include "auth.h"

#include <jansson.h>
#include <jwt.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "xalloc.h"

/* One verification key, owned by its state. */
struct auth_vkey {
	char *kid;          /* owned or NULL: selected by a token's "kid" header when equal */
	unsigned char *key; /* owned; secret or PEM text, NUL-terminated for convenience */
	size_t key_len;
};

/* What a verifier checks with: immutable once built, replaced whole by auth_verifier_replace. */
struct auth_state {
	enum auth_alg alg;
	jwt_alg_t jwt_alg;
	const char *alg_name; /* as in the JWT header: "HS256" ... */
	struct auth_vkey keys[AUTH_KEYS_MAX];
	size_t nkeys;   /* 1..AUTH_KEYS_MAX */
	char *issuer;   /* owned or NULL */
	char *audience; /* owned or NULL */
	long long leeway_s;
	long long max_lifetime_s;
	size_t max_token_len;
};

/* The handle callers hold: the state behind a lock, so a reload can swap it while MHD threads
 * verify (readers hold the lock for one verification, a few microseconds). */
struct auth_verifier {
	pthread_rwlock_t lock; /* mutable even through a const handle: only ever locked */
	struct auth_state *st;
};

/* One part of a token, pointing into the caller's bytes. */
struct auth_part {
	const char *p;
	size_t len;
};

static int auth_fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int auth_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return status;
}

const char *auth_status_name(int status)
{
	static const char *const names[] = { "ok",       "missing",       "malformed",
		                             "too_long", "bad_alg",       "bad_signature",
		                             "expired",  "not_yet_valid", "bad_claims" };
	if (status > 0 || status < AUTH_BAD_CLAIMS)
		return "unknown";
	return names[-status];
}

/*
 * common_header: the base64url of {"alg":"<name>","typ":"JWT"}, byte for byte what libjwt
 * and PyJWT 2 write. A token whose header part is exactly this skips the header parse
 * (about a sixth of a verify); any other header is parsed and checked in full.
 */
static const struct {
	const char *name;
	jwt_alg_t jwt_alg;
	const char *common_header;
} auth_algs[] = {
	[AUTH_HS256] = { "HS256", JWT_ALG_HS256, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" },
	[AUTH_RS256] = { "RS256", JWT_ALG_RS256, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9" },
	[AUTH_ES256] = { "ES256", JWT_ALG_ES256, "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9" },
};

const char *auth_alg_name(enum auth_alg alg)
{
	if ((unsigned)alg >= sizeof(auth_algs) / sizeof(auth_algs[0]))
		return "unknown";
	return auth_algs[alg].name;
}

int auth_alg_parse(const char *s, enum auth_alg *out)
{
	for (size_t i = 0; i < sizeof(auth_algs) / sizeof(auth_algs[0]); i++) {
		if (strcmp(s, auth_algs[i].name) == 0) {
			*out = (enum auth_alg)i;
			return 0;
		}
	}
	return -1;
}

bool auth_has_scope(const struct auth_claims *c, unsigned needed)
{
	return c != NULL && needed != 0 && (c->scopes & needed) == needed;
}

/* ---- base64url --------------------------------------------------------------------- */

static int auth_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * True when s (alphabet already checked) is the one canonical unpadded encoding of its
 * bytes: no length that leaves 6 dangling bits, no set bits in the last character's unused
 * low bits. Without this "...fI" and "...fJ" could be the same token.
 */
static bool auth_b64_canonical(const char *s, size_t len)
{
	switch (len % 4) {
	case 1:
		return false;
	case 2:
		return (auth_b64_value((unsigned char)s[len - 1]) & 0x0f) == 0;
	case 3:
		return (auth_b64_value((unsigned char)s[len - 1]) & 0x03) == 0;
	default:
		return true;
	}
}

/* Decodes canonical base64url text into out (room for len * 3 / 4 bytes); returns bytes. */
static size_t auth_b64_decode(const char *s, size_t len, unsigned char *out)
{
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 6) | (unsigned)auth_b64_value((unsigned char)s[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return n;
}

/* ---- token shape, header, payload ---------------------------------------------------- */

/* Splits into header.payload.signature; every byte must be base64url or one of two dots. */
static int auth_split(const char *tok, size_t len, struct auth_part part[3], char *err,
                      size_t errlen)
{
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && tok[i] != '.') {
			if (auth_b64_value((unsigned char)tok[i]) < 0)
				return auth_fail(err, errlen, AUTH_MALFORMED,
				                 "token has a byte outside base64url at offset %zu",
				                 i);
			continue;
		}
		if (k == 3)
			return auth_fail(err, errlen, AUTH_MALFORMED,
			                 "token has more than 3 parts");
		part[k].p = tok + start;
		part[k].len = i - start;
		if (!auth_b64_canonical(part[k].p, part[k].len))
			return auth_fail(err, errlen, AUTH_MALFORMED,
			                 "token part %zu is not canonical base64url", k + 1);
		k++;
		start = i + 1;
	}
	if (k != 3)
		return auth_fail(err, errlen, AUTH_MALFORMED, "token has %zu parts, not 3", k);
	if (part[0].len == 0 || part[1].len == 0)
		return auth_fail(err, errlen, AUTH_MALFORMED,
		                 "token has an empty header or payload");
	return 0;
}

/* Why jansson refused a part, without quoting it (its error text may hold token bytes). */
static const char *auth_json_reason(const json_error_t *jerr)
{
	switch (json_error_code(jerr)) {
	case json_error_duplicate_key:
		return "has a duplicate key";
	case json_error_numeric_overflow:
		return "has a number too large";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "has a \\u0000";
	case json_error_invalid_utf8:
		return "is not UTF-8";
	case json_error_stack_overflow:
		return "nests too deeply";
	default:
		return "is not JSON";
	}
}

/*
 * Decodes a part and parses it as a JSON object, refusing duplicate keys (jansson would keep
 * the last, libjwt and other parsers may not agree). New reference, or NULL with *why set.
 */
static json_t *auth_part_json(const struct auth_part *part, const char **why)
{
	unsigned char *raw = xmalloc(part->len / 4 * 3 + 3);
	size_t n = auth_b64_decode(part->p, part->len, raw);
	json_error_t jerr;
	json_t *obj = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	*why = obj == NULL ? auth_json_reason(&jerr) : "is not a JSON object";
	if (obj != NULL && !json_is_object(obj)) {
		json_decref(obj);
		obj = NULL;
	}
	return obj;
}

/* A short printable copy of an attacker-chosen alg for the error text, or "(other)". */
static const char *auth_alg_for_log(const json_t *alg)
{
	const char *s = json_string_value(alg);
	size_t n = json_string_length(alg);
	if (s == NULL || n == 0 || n > 16)
		return "(other)";
	for (size_t i = 0; i < n; i++)
		if (auth_b64_value((unsigned char)s[i]) < 0)
			return "(other)";
	return s;
}

/* The header's alg must be the pinned one; its kid (a string of at most AUTH_KID_MAX bytes)
 * is copied into kid ("" when absent or unusable: every key is then tried). */
static int auth_check_header(const struct auth_state *v, const struct auth_part *part,
                             char kid[AUTH_KID_MAX + 1], char *err, size_t errlen)
{
	const char *common = auth_algs[v->alg].common_header;
	kid[0] = '\0';
	if (part->len == strlen(common) && memcmp(part->p, common, part->len) == 0)
		return 0;
	const char *why = NULL;
	json_t *hdr = auth_part_json(part, &why);
	if (hdr == NULL)
		return auth_fail(err, errlen, AUTH_MALFORMED, "token header %s", why);
	int rc = 0;
	const json_t *alg = json_object_get(hdr, "alg");
	size_t want = strlen(v->alg_name);
	if (!json_is_string(alg))
		rc = auth_fail(err, errlen, AUTH_BAD_ALG, "token header has no alg string");
	else if (json_string_length(alg) != want ||
	         memcmp(json_string_value(alg), v->alg_name, want) != 0)
		rc = auth_fail(err, errlen, AUTH_BAD_ALG, "token alg %s is not the pinned %s",
		               auth_alg_for_log(alg), v->alg_name);
	else if (json_object_get(hdr, "crit") != NULL)
		rc = auth_fail(err, errlen, AUTH_MALFORMED, "token header has crit (unsupported)");
	const json_t *jkid = json_object_get(hdr, "kid");
	if (rc == 0 && json_is_string(jkid) && json_string_length(jkid) <= AUTH_KID_MAX &&
	    strlen(json_string_value(jkid)) == json_string_length(jkid))
		memcpy(kid, json_string_value(jkid), json_string_length(jkid) + 1);
	json_decref(hdr);
	return rc;
}

/*
 * The signature, by libjwt. token is the whole token, already shape- and alg-checked, so
 * jwt_decode() gets a non-empty key, a bounded NUL-free copy and a pinned header alg.
 */
static int auth_check_key(const struct auth_state *v, const struct auth_vkey *k, const char *token,
                          size_t len, char *err, size_t errlen)
{
	char *copy = xmemdup0(token, len);
	jwt_t *jwt = NULL;
	int jrc = jwt_decode(&jwt, copy, k->key, (int)k->key_len);
	free(copy);
	int rc = 0;
	if (jrc != 0 || jwt == NULL)
		rc = auth_fail(err, errlen, AUTH_BAD_SIGNATURE, "signature verification failed");
	else if (jwt_get_alg(jwt) != v->jwt_alg)
		rc = auth_fail(err, errlen, AUTH_BAD_ALG, "libjwt verified with %s, not %s",
		               jwt_alg_str(jwt_get_alg(jwt)), v->alg_name);
	jwt_free(jwt);
	return rc;
}

/*
 * The signature against the keys: only the key whose kid the header names, when one does
 * (rotation with kids); otherwise each key in order until one verifies (rotation without:
 * old and new secret both configured for the overlap). A forged token costs one HMAC or
 * signature check per key, and there are at most AUTH_KEYS_MAX.
 */
static int auth_check_signature(const struct auth_state *v, const char *token, size_t len,
                                const char *kid, char *err, size_t errlen)
{
	for (size_t i = 0; kid[0] != '\0' && i < v->nkeys; i++)
		if (v->keys[i].kid != NULL && strcmp(v->keys[i].kid, kid) == 0)
			return auth_check_key(v, &v->keys[i], token, len, err, errlen);
	int rc = AUTH_BAD_SIGNATURE;
	for (size_t i = 0; i < v->nkeys && rc == AUTH_BAD_SIGNATURE; i++)
		rc = auth_check_key(v, &v->keys[i], token, len, err, errlen);
	if (rc == AUTH_BAD_SIGNATURE && v->nkeys > 1)
		auth_fail(err, errlen, AUTH_BAD_SIGNATURE,
		          "signature verification failed with each of the %zu keys", v->nkeys);
	return rc;
}

/* ---- claims -------------------------------------------------------------------------- */

/*
 * A NumericDate: a JSON integer, or a finite real rounded down (round_up false: exp) or up
 * (iat, nbf), in [0, AUTH_TIME_MAX]. Returns 0 or -1.
 */
static int auth_numeric_date(const json_t *j, bool round_up, long long *out)
{
	if (json_is_integer(j)) {
		json_int_t i = json_integer_value(j);
		if (i < 0 || i > AUTH_TIME_MAX)
			return -1;
		*out = i;
		return 0;
	}
	if (!json_is_real(j))
		return -1;
	double d = json_real_value(j);
	if (!isfinite(d) || d < 0 || d > (double)AUTH_TIME_MAX)
		return -1;
	*out = (long long)(round_up ? ceil(d) : floor(d));
	return *out <= AUTH_TIME_MAX ? 0 : -1;
}

static int auth_claim_customer(const json_t *payload, struct auth_claims *c, char *err,
                               size_t errlen)
{
	const json_t *j = json_object_get(payload, "customer_id");
	if (j == NULL)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "customer_id missing");
	if (!json_is_integer(j))
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "customer_id is not a JSON integer");
	json_int_t id = json_integer_value(j);
	if (id < 1 || id > AUTH_CUSTOMER_ID_MAX)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "customer_id %lld out of range",
		                 (long long)id);
	c->customer_id = id;
	return 0;
}

/* exp (required), iat and nbf (optional) as numbers; *nbf = -1 when absent. */
static int auth_claim_dates(const json_t *payload, struct auth_claims *c, long long *nbf, char *err,
                            size_t errlen)
{
	const json_t *exp = json_object_get(payload, "exp");
	const json_t *iat = json_object_get(payload, "iat");
	const json_t *jnbf = json_object_get(payload, "nbf");
	if (exp == NULL)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "exp missing");
	if (auth_numeric_date(exp, false, &c->exp) != 0)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "exp is not a valid NumericDate");
	c->iat = 0;
	if (iat != NULL && auth_numeric_date(iat, true, &c->iat) != 0)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "iat is not a valid NumericDate");
	*nbf = -1;
	if (jnbf != NULL && auth_numeric_date(jnbf, true, nbf) != 0)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "nbf is not a valid NumericDate");
	if (iat != NULL && c->exp < c->iat)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "exp %lld is before iat %lld",
		                 c->exp, c->iat);
	return 0;
}

static bool auth_json_string_is(const json_t *j, const char *want)
{
	size_t n = strlen(want);
	return json_is_string(j) && json_string_length(j) == n &&
	       memcmp(json_string_value(j), want, n) == 0;
}

static int auth_claim_iss_aud(const struct auth_state *v, const json_t *payload, char *err,
                              size_t errlen)
{
	if (v->issuer != NULL && !auth_json_string_is(json_object_get(payload, "iss"), v->issuer))
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS,
		                 "iss missing or not the expected one");
	if (v->audience == NULL)
		return 0;
	const json_t *aud = json_object_get(payload, "aud");
	if (auth_json_string_is(aud, v->audience))
		return 0;
	if (json_is_array(aud)) {
		size_t i;
		const json_t *item;
		bool found = false;
		json_array_foreach(aud, i, item)
		{
			if (!json_is_string(item))
				return auth_fail(err, errlen, AUTH_BAD_CLAIMS,
				                 "aud array holds a non-string");
			found = found || auth_json_string_is(item, v->audience);
		}
		if (found)
			return 0;
	}
	return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "aud missing or without the expected one");
}

/* "memory:read memory:write" etc.; unknown items are ignored, a non-string is an error. */
static int auth_claim_scope(const json_t *payload, struct auth_claims *c, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned bits;
	} items[] = {
		{ "memory:read", AUTH_SCOPE_READ },
		{ "memory:write", AUTH_SCOPE_WRITE },
		{ "memory:read:write", AUTH_SCOPE_READ | AUTH_SCOPE_WRITE },
	};
	const json_t *j = json_object_get(payload, "scope");
	c->scopes = 0;
	if (j == NULL)
		return 0;
	if (!json_is_string(j))
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "scope is not a string");
	const char *s = json_string_value(j);
	size_t len = json_string_length(j), i = 0;
	while (i < len) {
		size_t n = 0;
		while (i + n < len && s[i + n] != ' ')
			n++;
		for (size_t k = 0; k < sizeof(items) / sizeof(items[0]); k++)
			if (strlen(items[k].name) == n && memcmp(s + i, items[k].name, n) == 0)
				c->scopes |= items[k].bits;
		i += n + 1;
	}
	return 0;
}

/* Copies a string sub up to its first NUL, cut on a UTF-8 boundary to fit. */
static void auth_claim_sub(const json_t *payload, struct auth_claims *c)
{
	const json_t *j = json_object_get(payload, "sub");
	c->sub[0] = '\0';
	if (!json_is_string(j))
		return;
	const char *s = json_string_value(j);
	size_t n = strnlen(s, json_string_length(j));
	if (n >= sizeof(c->sub)) {
		n = sizeof(c->sub) - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(c->sub, s, n);
	c->sub[n] = '\0';
}

/* Time rules, written without arithmetic on now so no now can overflow them. */
static int auth_check_times(const struct auth_state *v, const struct auth_claims *c, long long nbf,
                            long long now, char *err, size_t errlen)
{
	long long lw = v->leeway_s;
	if (now >= c->exp + lw)
		return auth_fail(err, errlen, AUTH_EXPIRED,
		                 "token expired at %lld (now %lld, leeway %llds) customer_id=%lld",
		                 c->exp, now, lw, c->customer_id);
	if (nbf >= 0 && nbf - lw > now)
		return auth_fail(err, errlen, AUTH_NOT_YET_VALID,
		                 "token not valid before %lld (now %lld, leeway %llds)", nbf, now,
		                 lw);
	if (c->iat > 0 && c->iat - lw > now)
		return auth_fail(err, errlen, AUTH_NOT_YET_VALID,
		                 "token issued in the future at %lld (now %lld, leeway %llds)",
		                 c->iat, now, lw);
	if (c->iat > 0 && c->exp - c->iat > v->max_lifetime_s)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "token lifetime %llds exceeds %llds",
		                 c->exp - c->iat, v->max_lifetime_s);
	if (c->exp - v->max_lifetime_s - lw > now)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS,
		                 "token expires %llds from now, beyond %llds", c->exp - now,
		                 v->max_lifetime_s);
	return 0;
}

static int auth_read_claims(const struct auth_state *v, const json_t *payload, long long now,
                            struct auth_claims *c, char *err, size_t errlen)
{
	long long nbf = -1;
	int rc = auth_claim_customer(payload, c, err, errlen);
	if (rc == 0)
		rc = auth_claim_dates(payload, c, &nbf, err, errlen);
	if (rc == 0)
		rc = auth_claim_iss_aud(v, payload, err, errlen);
	if (rc == 0)
		rc = auth_claim_scope(payload, c, err, errlen);
	if (rc == 0)
		rc = auth_check_times(v, c, nbf, now, err, errlen);
	if (rc == 0)
		auth_claim_sub(payload, c);
	return rc;
}

/* ---- verify -------------------------------------------------------------------------- */

static int auth_state_verify(const struct auth_state *v, const char *token, size_t len,
                             long long now, struct auth_claims *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (token == NULL || len == 0)
		return auth_fail(err, errlen, AUTH_MISSING, "no token");
	if (len > v->max_token_len)
		return auth_fail(err, errlen, AUTH_TOO_LONG, "token is %zu bytes, limit %zu", len,
		                 v->max_token_len);
	struct auth_part part[3];
	char kid[AUTH_KID_MAX + 1] = "";
	int rc = auth_split(token, len, part, err, errlen);
	if (rc == 0)
		rc = auth_check_header(v, &part[0], kid, err, errlen);
	if (rc != 0)
		return rc;
	const char *why = NULL;
	json_t *payload = auth_part_json(&part[1], &why);
	if (payload == NULL)
		return auth_fail(err, errlen, AUTH_MALFORMED, "token payload %s", why);
	if (part[2].len == 0)
		rc = auth_fail(err, errlen, AUTH_BAD_SIGNATURE, "token has no signature");
	if (rc == 0)
		rc = auth_check_signature(v, token, len, kid, err, errlen);
	if (rc == 0)
		rc = auth_read_claims(v, payload, now, out, err, errlen);
	json_decref(payload);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

static int auth_state_verify_header(const struct auth_state *v, const char *authorization,
                                    long long now, struct auth_claims *out, char *err,
                                    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (authorization == NULL || authorization[0] == '\0')
		return auth_fail(err, errlen, AUTH_MISSING, "no Authorization header");
	if (strncasecmp(authorization, "Bearer", 6) != 0 || authorization[6] != ' ')
		return auth_fail(err, errlen, AUTH_MALFORMED,
		                 "Authorization is not Bearer <token>");
	const char *tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	size_t n = 0;
	while (tok[n] != '\0' && tok[n] != ' ' && tok[n] != '\t') {
		if (++n > v->max_token_len)
			return auth_fail(err, errlen, AUTH_TOO_LONG,
			                 "token is longer than %zu bytes", v->max_token_len);
	}
	if (n == 0)
		return auth_fail(err, errlen, AUTH_MALFORMED, "Bearer without a token");
	const char *rest = tok + n;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (*rest != '\0')
		return auth_fail(err, errlen, AUTH_MALFORMED,
		                 "Authorization has more than one token");
	return auth_state_verify(v, tok, n, now, out, err, errlen);
}

/* The lock lives in a verifier that was never defined const (auth_verifier_new allocates
 * it), so taking it through a const handle is sound. */
static pthread_rwlock_t *auth_lock(const struct auth_verifier *v)
{
	return (pthread_rwlock_t *)&v->lock;
}

int auth_verify(const struct auth_verifier *v, const char *token, size_t len, long long now,
                struct auth_claims *out, char *err, size_t errlen)
{
	pthread_rwlock_rdlock(auth_lock(v));
	int rc = auth_state_verify(v->st, token, len, now, out, err, errlen);
	pthread_rwlock_unlock(auth_lock(v));
	return rc;
}

int auth_verify_header(const struct auth_verifier *v, const char *authorization, long long now,
                       struct auth_claims *out, char *err, size_t errlen)
{
	pthread_rwlock_rdlock(auth_lock(v));
	int rc = auth_state_verify_header(v->st, authorization, now, out, err, errlen);
	pthread_rwlock_unlock(auth_lock(v));
	return rc;
}

/* ---- public key checks (PEM -> DER -> SubjectPublicKeyInfo) --------------------------- */

/*
 * Reads one DER element with the given tag at *p: its contents are [*val, *val + *len) and
 * *p moves past it. Definite lengths of up to 4 bytes only. Returns 0 or -1.
 */
static int auth_der_next(const unsigned char **p, const unsigned char *end, unsigned char tag,
                         const unsigned char **val, size_t *len)
{
	const unsigned char *q = *p;
	if (end - q < 2 || q[0] != tag)
		return -1;
	size_t n = q[1];
	q += 2;
	if (n & 0x80) {
		size_t k = n & 0x7f;
		if (k == 0 || k > 4 || (size_t)(end - q) < k)
			return -1;
		n = 0;
		for (size_t i = 0; i < k; i++)
			n = (n << 8) | q[i];
		q += k;
	}
	if ((size_t)(end - q) < n)
		return -1;
	*val = q;
	*len = n;
	*p = q + n;
	return 0;
}

static bool auth_der_is(const unsigned char *v, size_t len, const unsigned char *want, size_t n)
{
	return len == n && memcmp(v, want, n) == 0;
}

static const unsigned char auth_oid_rsa[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01
};
static const unsigned char auth_oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char auth_oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, >= 2048 bits. */
static int auth_check_rsa(const unsigned char *key, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = key, *end = key + len, *seq, *mod, *exp;
	size_t seq_len, mod_len, exp_len;
	if (auth_der_next(&p, end, 0x30, &seq, &seq_len) != 0 || p != end)
		return auth_fail(err, errlen, -1, "RSA public key is not valid DER");
	p = seq;
	end = seq + seq_len;
	if (auth_der_next(&p, end, 0x02, &mod, &mod_len) != 0 ||
	    auth_der_next(&p, end, 0x02, &exp, &exp_len) != 0 || p != end || exp_len == 0)
		return auth_fail(err, errlen, -1, "RSA public key is not valid DER");
	while (mod_len > 0 && mod[0] == 0) {
		mod++;
		mod_len--;
	}
	size_t bits = mod_len * 8;
	for (unsigned char top = mod_len ? mod[0] : 0x80; bits > 0 && !(top & 0x80); top <<= 1)
		bits--;
	if (bits < 2048)
		return auth_fail(err, errlen, -1, "RSA key has %zu bits; RS256 needs at least 2048",
		                 bits);
	return 0;
}

/* The algorithm identifier must match alg; the key bits are checked per type. */
static int auth_check_spki(enum auth_alg alg, const unsigned char *der, size_t len, char *err,
                           size_t errlen)
{
	const unsigned char *p = der, *end = der + len, *spki, *algid, *oid, *bits, *param;
	size_t spki_len, algid_len, oid_len, bits_len, param_len;
	if (auth_der_next(&p, end, 0x30, &spki, &spki_len) != 0 || p != end)
		goto bad;
	p = spki;
	end = spki + spki_len;
	if (auth_der_next(&p, end, 0x30, &algid, &algid_len) != 0 ||
	    auth_der_next(&p, end, 0x03, &bits, &bits_len) != 0 || p != end || bits_len < 2 ||
	    bits[0] != 0)
		goto bad;
	p = algid;
	end = algid + algid_len;
	if (auth_der_next(&p, end, 0x06, &oid, &oid_len) != 0)
		goto bad;
	if (alg == AUTH_RS256) {
		if (!auth_der_is(oid, oid_len, auth_oid_rsa, sizeof(auth_oid_rsa)))
			return auth_fail(err, errlen, -1, "RS256 needs an RSA public key");
		return auth_check_rsa(bits + 1, bits_len - 1, err, errlen);
	}
	if (!auth_der_is(oid, oid_len, auth_oid_ec, sizeof(auth_oid_ec)))
		return auth_fail(err, errlen, -1, "ES256 needs an EC public key");
	if (auth_der_next(&p, end, 0x06, &param, &param_len) != 0 ||
	    !auth_der_is(param, param_len, auth_oid_p256, sizeof(auth_oid_p256)))
		return auth_fail(err, errlen, -1, "ES256 needs an EC key on curve P-256");
	bool uncompressed = bits_len - 1 == 65 && bits[1] == 0x04;
	bool compressed = bits_len - 1 == 33 && (bits[1] == 0x02 || bits[1] == 0x03);
	if (!uncompressed && !compressed)
		return auth_fail(err, errlen, -1, "EC public key point is malformed");
	return 0;
bad:
	return auth_fail(err, errlen, -1, "public key is not a valid DER SubjectPublicKeyInfo");
}

/* The base64 body of a PEM block to DER (owned, *der_len bytes); NULL when not base64. */
static unsigned char *auth_pem_body(const char *s, size_t len, size_t *der_len)
{
	char *text = xmalloc(len + 1);
	size_t n = 0, pad = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=' && pad < 2) {
			pad++;
			continue;
		}
		if (pad > 0 || (auth_b64_value((unsigned char)c) < 0 && c != '+' && c != '/'))
			goto bad;
		text[n++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	if (n == 0 || (n + pad) % 4 != 0 || !auth_b64_canonical(text, n))
		goto bad;
	unsigned char *der = xmalloc(n / 4 * 3 + 3);
	*der_len = auth_b64_decode(text, n, der);
	free(text);
	return der;
bad:
	free(text);
	return NULL;
}

/* Names what a PEM block that is not "PUBLIC KEY" is, and how to fix it. */
static const char *auth_pem_what(const char *b, size_t len)
{
	if (memmem(b, len, "PRIVATE KEY-----", 16) != NULL)
		return "a private key; configure the public key (openssl pkey -pubout)";
	if (memmem(b, len, "CERTIFICATE-----", 16) != NULL)
		return "a certificate; extract its key (openssl x509 -pubkey -noout)";
	if (memmem(b, len, "RSA PUBLIC KEY-----", 19) != NULL)
		return "PKCS#1; convert it (openssl rsa -RSAPublicKey_in -pubout)";
	return "not a PUBLIC KEY block";
}

/* Finds the one "PUBLIC KEY" PEM block and checks it fits alg. Returns 0 or -1 with err. */
static int auth_check_pem(enum auth_alg alg, const char *pem, size_t len, char *err, size_t errlen)
{
	static const char begin[] = "-----BEGIN ", want[] = "-----BEGIN PUBLIC KEY-----",
	                  end_mark[] = "-----END PUBLIC KEY-----";
	const char *b = memmem(pem, len, begin, sizeof(begin) - 1);
	if (b == NULL)
		return auth_fail(err, errlen, -1, "%s key is not PEM (no -----BEGIN line)",
		                 auth_alg_name(alg));
	size_t rest = len - (size_t)(b - pem);
	if (rest < sizeof(want) - 1 || memcmp(b, want, sizeof(want) - 1) != 0)
		return auth_fail(err, errlen, -1, "%s key PEM is %s", auth_alg_name(alg),
		                 auth_pem_what(b, rest));
	const char *body = b + sizeof(want) - 1;
	const char *e = memmem(body, rest - (sizeof(want) - 1), end_mark, sizeof(end_mark) - 1);
	if (e == NULL)
		return auth_fail(err, errlen, -1, "%s key PEM has no -----END PUBLIC KEY----- line",
		                 auth_alg_name(alg));
	size_t der_len = 0;
	unsigned char *der = auth_pem_body(body, (size_t)(e - body), &der_len);
	if (der == NULL)
		return auth_fail(err, errlen, -1, "%s key PEM body is not base64",
		                 auth_alg_name(alg));
	char why[128];
	int rc = auth_check_spki(alg, der, der_len, why, sizeof(why));
	free(der);
	if (rc != 0)
		return auth_fail(err, errlen, -1, "%s key: %s", auth_alg_name(alg), why);
	return 0;
}

/* ---- verifier ------------------------------------------------------------------------ */

/* The keys of cfg in the order they are tried: key (when given, or when there is nothing else,
 * so an empty one is refused), then keys[]. Borrowed pointers; returns the count. */
static size_t auth_config_keys(const struct auth_config *cfg, struct auth_key out[AUTH_KEYS_MAX])
{
	size_t n = 0;
	if ((cfg->key != NULL && cfg->key_len > 0) || cfg->nkeys == 0)
		out[n++] = (struct auth_key){ NULL, cfg->key, cfg->key_len };
	for (size_t i = 0; i < cfg->nkeys && n < AUTH_KEYS_MAX; i++)
		out[n++] = cfg->keys[i];
	return n;
}

/* One key's checks; the error names the key when it has a kid. */
static int auth_check_one_key(enum auth_alg alg, const struct auth_key *k, char *err, size_t errlen)
{
	char why[256];
	int rc = 0;
	if (k->key == NULL || k->key_len == 0)
		rc = auth_fail(why, sizeof(why), -1, "%s key is empty", auth_alg_name(alg));
	else if (k->key_len > AUTH_KEY_MAX)
		rc = auth_fail(why, sizeof(why), -1, "%s key is %zu bytes; at most %d allowed",
		               auth_alg_name(alg), k->key_len, AUTH_KEY_MAX);
	else if (alg == AUTH_HS256 && k->key_len < AUTH_SECRET_MIN)
		rc =
		    auth_fail(why, sizeof(why), -1, "HS256 secret is %zu bytes; at least %d needed",
		              k->key_len, AUTH_SECRET_MIN);
	else if (k->kid != NULL && (k->kid[0] == '\0' || strlen(k->kid) > AUTH_KID_MAX))
		rc = auth_fail(why, sizeof(why), -1, "key id is empty or longer than %d bytes",
		               AUTH_KID_MAX);
	else if (alg != AUTH_HS256)
		rc = auth_check_pem(alg, k->key, k->key_len, why, sizeof(why));
	if (rc == 0)
		return 0;
	if (k->kid != NULL)
		return auth_fail(err, errlen, -1, "key %s: %s", k->kid, why);
	return auth_fail(err, errlen, -1, "%s", why);
}

static int auth_check_config(const struct auth_config *cfg, char *err, size_t errlen)
{
	if ((unsigned)cfg->alg > AUTH_ES256)
		return auth_fail(err, errlen, -1, "unknown algorithm %d", (int)cfg->alg);
	size_t total = cfg->nkeys + (cfg->key != NULL && cfg->key_len > 0 ? 1 : 0);
	if (total > AUTH_KEYS_MAX)
		return auth_fail(err, errlen, -1, "%zu keys; at most %d allowed", total,
		                 AUTH_KEYS_MAX);
	if (cfg->leeway_s < 0 || cfg->leeway_s > AUTH_LEEWAY_MAX)
		return auth_fail(err, errlen, -1, "leeway %llds out of range [0, %d]",
		                 cfg->leeway_s, AUTH_LEEWAY_MAX);
	if (cfg->max_lifetime_s < 1 || cfg->max_lifetime_s > AUTH_LIFETIME_MAX)
		return auth_fail(err, errlen, -1, "max lifetime %llds out of range [1, %lld]",
		                 cfg->max_lifetime_s, AUTH_LIFETIME_MAX);
	if (cfg->max_token_len < AUTH_TOKEN_LEN_MIN || cfg->max_token_len > AUTH_TOKEN_LEN_MAX)
		return auth_fail(err, errlen, -1, "max token length %zu out of range [%d, %d]",
		                 cfg->max_token_len, AUTH_TOKEN_LEN_MIN, AUTH_TOKEN_LEN_MAX);
	if (cfg->issuer != NULL && cfg->issuer[0] == '\0')
		return auth_fail(err, errlen, -1, "issuer is empty (leave it unset to not check)");
	if (cfg->audience != NULL && cfg->audience[0] == '\0')
		return auth_fail(err, errlen, -1,
		                 "audience is empty (leave it unset to not check)");
	struct auth_key keys[AUTH_KEYS_MAX];
	size_t n = auth_config_keys(cfg, keys);
	for (size_t i = 0; i < n; i++) {
		if (auth_check_one_key(cfg->alg, &keys[i], err, errlen) != 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (keys[i].kid && keys[j].kid && strcmp(keys[i].kid, keys[j].kid) == 0)
				return auth_fail(err, errlen, -1, "two keys have the id %s",
				                 keys[i].kid);
	}
	return 0;
}

/*
 * Proves libjwt uses the key: for HS256 a token minted with the secret must verify and the
 * same token with one signature character changed must not; for RS256/ES256 a well-formed
 * token with a made-up signature must not (with an unusable key, nothing would ever verify,
 * which the DER check above makes unlikely but cannot rule out).
 */
static int auth_self_test(const struct auth_state *v, const struct auth_vkey *k, char *err,
                          size_t errlen)
{
	char why[128];
	char *tok = NULL;
	if (v->alg == AUTH_HS256) {
		tok = auth_mint_hs256((const char *)k->key, k->key_len, 1, NULL, 1000000000,
		                      1000000060, why, sizeof(why));
		if (tok == NULL || auth_check_key(v, k, tok, strlen(tok), why, sizeof(why)) != 0) {
			free(tok);
			return auth_fail(err, errlen, -1,
			                 "HS256 self-test failed: libjwt rejected "
			                 "a token it signed");
		}
		char *last = tok + strlen(tok) - 2;
		*last = *last == 'A' ? 'B' : 'A';
	} else {
		/* {"alg":"RS256"} or {"alg":"ES256"}, {"customer_id":1,"exp":1}, zero bytes */
		static const char *const forged_header[] = {
			[AUTH_RS256] = "eyJhbGciOiJSUzI1NiJ9",
			[AUTH_ES256] = "eyJhbGciOiJFUzI1NiJ9",
		};
		struct buf b = BUF_INIT;
		buf_appendf(&b, "%s.eyJjdXN0b21lcl9pZCI6MSwiZXhwIjoxfQ.", forged_header[v->alg]);
		for (int i = 0; i < 86; i++) /* 64 bytes, the size of an ES256 signature */
			buf_putc(&b, 'A');
		tok = buf_detach(&b);
	}
	int rc = auth_check_key(v, k, tok, strlen(tok), why, sizeof(why));
	free(tok);
	if (rc == 0)
		return auth_fail(err, errlen, -1,
		                 "%s self-test failed: libjwt accepted a forged "
		                 "signature",
		                 v->alg_name);
	return 0;
}

static void auth_state_free(struct auth_state **sp)
{
	struct auth_state *st = *sp;
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nkeys; i++) {
		explicit_bzero(st->keys[i].key, st->keys[i].key_len);
		free(st->keys[i].key);
		free(st->keys[i].kid);
	}
	free(st->issuer);
	free(st->audience);
	free(st);
	*sp = NULL;
}

static struct auth_state *auth_state_new(const struct auth_config *cfg, char *err, size_t errlen)
{
	struct auth_state *st = xcalloc(1, sizeof(*st));
	st->alg = cfg->alg;
	st->jwt_alg = auth_algs[cfg->alg].jwt_alg;
	st->alg_name = auth_algs[cfg->alg].name;
	struct auth_key keys[AUTH_KEYS_MAX];
	st->nkeys = auth_config_keys(cfg, keys);
	for (size_t i = 0; i < st->nkeys; i++) {
		st->keys[i].kid = keys[i].kid ? xstrdup(keys[i].kid) : NULL;
		st->keys[i].key = (unsigned char *)xmemdup0(keys[i].key, keys[i].key_len);
		st->keys[i].key_len = keys[i].key_len;
	}
	st->issuer = cfg->issuer ? xstrdup(cfg->issuer) : NULL;
	st->audience = cfg->audience ? xstrdup(cfg->audience) : NULL;
	st->leeway_s = cfg->leeway_s;
	st->max_lifetime_s = cfg->max_lifetime_s;
	st->max_token_len = cfg->max_token_len;
	for (size_t i = 0; i < st->nkeys; i++) {
		char why[256];
		if (auth_self_test(st, &st->keys[i], why, sizeof(why)) != 0) {
			if (st->keys[i].kid)
				auth_fail(err, errlen, -1, "key %s: %s", st->keys[i].kid, why);
			else
				auth_fail(err, errlen, -1, "%s", why);
			auth_state_free(&st);
			break;
		}
	}
	return st;
}

struct auth_verifier *auth_verifier_new(const struct auth_config *cfg, char *err, size_t errlen)
{
	if (cfg == NULL) {
		auth_fail(err, errlen, -1, "no configuration");
		return NULL;
	}
	if (auth_check_config(cfg, err, errlen) != 0)
		return NULL;
	struct auth_state *st = auth_state_new(cfg, err, errlen);
	if (st == NULL)
		return NULL;
	struct auth_verifier *v = xcalloc(1, sizeof(*v));
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	/* a reload must not wait behind a steady stream of verifications */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&v->lock, &attr) != 0)
		abort();
	pthread_rwlockattr_destroy(&attr);
	v->st = st;
	return v;
}

size_t auth_verifier_keys(const struct auth_verifier *v)
{
	pthread_rwlock_rdlock(auth_lock(v));
	size_t n = v->st->nkeys;
	pthread_rwlock_unlock(auth_lock(v));
	return n;
}

void auth_verifier_replace(struct auth_verifier *v, struct auth_verifier **fresh)
{
	struct auth_state *old;
	pthread_rwlock_wrlock(&v->lock);
	old = v->st;
	v->st = (*fresh)->st;
	pthread_rwlock_unlock(&v->lock);
	(*fresh)->st = old; /* freed with the emptied handle, outside the lock */
	auth_verifier_free(fresh);
}

void auth_verifier_free(struct auth_verifier **v)
{
	if (v == NULL || *v == NULL)
		return;
	struct auth_verifier *p = *v;
	auth_state_free(&p->st);
	pthread_rwlock_destroy(&p->lock);
	free(p);
	*v = NULL;
}

/* ---- minting ------------------------------------------------------------------------- */

static int auth_mint_check(const char *secret, size_t secret_len, long long customer_id,
                           long long iat, long long exp, char *err, size_t errlen)
{
	if (secret == NULL || secret_len < AUTH_SECRET_MIN || secret_len > AUTH_KEY_MAX)
		return auth_fail(err, errlen, -1, "HS256 secret must be %d..%d bytes",
		                 AUTH_SECRET_MIN, AUTH_KEY_MAX);
	if (customer_id < 1 || customer_id > AUTH_CUSTOMER_ID_MAX)
		return auth_fail(err, errlen, -1, "customer_id %lld out of range", customer_id);
	if (iat < 0 || exp <= iat || exp > AUTH_TIME_MAX)
		return auth_fail(err, errlen, -1, "need 0 <= iat < exp <= %lld", AUTH_TIME_MAX);
	return 0;
}

char *auth_mint_hs256(const char *secret, size_t secret_len, long long customer_id,
                      const char *scope, long long iat, long long exp, char *err, size_t errlen)
{
	if (auth_mint_check(secret, secret_len, customer_id, iat, exp, err, errlen) != 0)
		return NULL;
	jwt_t *jwt = NULL;
	char *tok = NULL;
	if (jwt_new(&jwt) != 0) {
		auth_fail(err, errlen, -1, "jwt_new failed");
		return NULL;
	}
	/* libjwt's grant setters copy their arguments; long is 64 bits on our targets. */
	int rc = jwt_add_grant_int(jwt, "customer_id", (long)customer_id);
	if (rc == 0 && scope != NULL)
		rc = jwt_add_grant(jwt, "scope", scope);
	if (rc == 0 && iat > 0)
		rc = jwt_add_grant_int(jwt, "iat", (long)iat);
	if (rc == 0)
		rc = jwt_add_grant_int(jwt, "exp", (long)exp);
	if (rc == 0)
		rc =
		    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)secret_len);
	if (rc == 0)
		tok = jwt_encode_str(jwt); /* malloc()ed by libjwt: the caller free()s it */
	jwt_free(jwt);
	if (tok == NULL)
		auth_fail(err, errlen, -1, "libjwt could not encode the token");
	return tok;
}

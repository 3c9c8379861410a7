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
 * At start-up a PEM key is checked by a small DER walk (lib/auth_pem: SPKI, algorithm OID,
 * curve, RSA size), since libjwt reports a bad key and a bad signature with the same EINVAL;
 * then every key is self-tested through jwt_decode(). base64url: lib/auth_b64.
 *
 * Several keys (rotation) live in one immutable state behind a reader-writer lock, so a reload
 * swaps them whole while other threads verify. The state owns the cache of the tokens it
 * accepted (lib/auth_cache), which a reload therefore starts empty.
 *
 * Not here: key fetching, key files, JWE, route scopes (see auth.h).
 */
#include "auth.h"

#include <jansson.h>
#include <jwt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_b64.h"
#include "auth_cache.h"
#include "auth_claims.h"
#include "auth_int.h"
#include "auth_pem.h"
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
	struct auth_cache *cache; /* owned: tokens accepted with these keys and rules */
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

int auth_fail(char *err, size_t errlen, int status, const char *fmt, ...)
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
	const struct auth_rules rules = { .issuer = v->issuer,
		                          .audience = v->audience,
		                          .leeway_s = v->leeway_s,
		                          .max_lifetime_s = v->max_lifetime_s };
	long long nbf = -1;
	if (auth_cache_get(v->cache, token, len, out, &nbf)) {
		/* accepted before with these keys and rules: only the time rules can differ */
		int rc = auth_claims_times(&rules, out, nbf, now, err, errlen);
		if (rc != 0)
			memset(out, 0, sizeof(*out));
		return rc;
	}
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
		rc = auth_claims_read(&rules, payload, now, out, &nbf, err, errlen);
	json_decref(payload);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	else
		auth_cache_put(v->cache, token, len, out, nbf);
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
		rc = auth_pem_check(alg, k->key, k->key_len, why, sizeof(why));
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
	auth_cache_free(&st->cache);
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
	st->cache = auth_cache_new();
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

unsigned long auth_verifier_cache_hits(const struct auth_verifier *v)
{
	pthread_rwlock_rdlock(auth_lock(v));
	unsigned long n = auth_cache_hits(v->st->cache);
	pthread_rwlock_unlock(auth_lock(v));
	return n;
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

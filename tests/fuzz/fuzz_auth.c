/*
 * fuzz_auth: libFuzzer target for lib/auth. The first byte picks what the rest is:
 *
 *   0  a token, (ptr, len) in an exact-size buffer, against HS256 verifiers (plain, iss/aud)
 *   1  an Authorization header value (C string) against the same
 *   2  a token against the RS256 and ES256 verifiers
 *   3  a JSON object of claims: libjwt signs it with the HS256 secret, so the claim rules
 *      (not just the signature check) see fuzzed input
 *   4  "<header JSON>\n<payload JSON>": encoded by hand with a bogus signature, so the
 *      header and payload parsing see fuzzed JSON rather than fuzzed base64
 *   5/6/7  a key for auth_verifier_new: RS256 PEM, ES256 PEM, HS256 secret
 *
 * Verifiers are built once and kept (libFuzzer never tears the process down cleanly).
 */
#include <jwt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1700000000LL

static const char fuzz_secret[] = "fuzz-secret-0123456789-0123456789-abc";

/* Throwaway test keys (the same as tests/unit/test_auth.c); they protect nothing. */
static const char fuzz_rsa_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqkLjop5YF6yILjQ7VGJ8\n"
    "KnDw12tA8wIAlE3oy6ESFozEh3Ll2rJlTz+uRpxPkJ9eT3s3vbqUw+pjyGKcooTk\n"
    "0ODFGKaOlMRSwOfIJK+Rapi+e6B2AYLPybTda+FHs7MwW2jOq6OCQMVbfCiP8v79\n"
    "AxIa5Fko9KxGNa1wHzqWBUlKqCkUOCpKlIUAceU6O7pcuJyaXPoUC2UQjhv9OPEf\n"
    "181FLi1RxA62tcsp+WAxpB6BWueN0i7o85F42dvVjTRoH2la4DAPNPrr4ii3OOmT\n"
    "PrP1IcBFOJUJJf5qxz12EKB1qW2BQKg3yhvSYX/c3m6W7m6RXObqC+Xqlu99QZ1S\n"
    "sQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char fuzz_ec_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERf2Fd/Nzt0zXxpcoQN34OTae52ft\n"
    "qayydjMiwRJlyjvJWZgvXFrmJBb03WP6lkKW0ZTkZNansvx/N0G7aIZRBA==\n"
    "-----END PUBLIC KEY-----\n";

enum { V_HS, V_HS_ISS_AUD, V_RS, V_ES, V_COUNT };

static struct auth_verifier *fuzz_verifier(int id)
{
	struct auth_config cfg = {
		.alg = AUTH_HS256,
		.key = fuzz_secret,
		.key_len = strlen(fuzz_secret),
		.leeway_s = 60,
		.max_lifetime_s = 86400,
		.max_token_len = 8192,
	};
	if (id == V_HS_ISS_AUD) {
		cfg.issuer = "chatstack";
		cfg.audience = "ai-memory";
	} else if (id == V_RS) {
		cfg.alg = AUTH_RS256;
		cfg.key = fuzz_rsa_public_pem;
		cfg.key_len = strlen(fuzz_rsa_public_pem);
	} else if (id == V_ES) {
		cfg.alg = AUTH_ES256;
		cfg.key = fuzz_ec_public_pem;
		cfg.key_len = strlen(fuzz_ec_public_pem);
	}
	char err[256];
	struct auth_verifier *v = auth_verifier_new(&cfg, err, sizeof(err));
	if (v == NULL) {
		fprintf(stderr, "fuzz_auth: verifier %d: %s\n", id, err);
		abort();
	}
	return v;
}

static struct auth_verifier *verifiers[V_COUNT];

/* Every status must be one of the enum, and a success must carry sane claims. */
static void fuzz_check(int rc, const struct auth_claims *c)
{
	if (rc > 0 || rc < AUTH_BAD_CLAIMS)
		abort();
	if (rc == AUTH_OK && (c->customer_id < 1 || c->customer_id > AUTH_CUSTOMER_ID_MAX ||
	                      c->exp < 0 || memchr(c->sub, '\0', sizeof(c->sub)) == NULL))
		abort();
}

static void fuzz_token(int first, int last, const char *tok, size_t len)
{
	for (int i = first; i <= last; i++) {
		struct auth_claims c;
		char err[256];
		fuzz_check(auth_verify(verifiers[i], tok, len, FUZZ_NOW, &c, err, sizeof(err)), &c);
	}
}

static char *fuzz_b64url(const uint8_t *s, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = xmalloc(len / 3 * 4 + 5);
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | s[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = abc[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[n++] = abc[(acc << (6 - bits)) & 63];
	out[n] = '\0';
	return out;
}

/* Mode 3: sign fuzzed claims with the real secret. */
static void fuzz_signed_claims(const char *json)
{
	jwt_t *jwt = NULL;
	if (jwt_new(&jwt) != 0)
		abort();
	char *tok = NULL;
	if (jwt_add_grants_json(jwt, json) == 0 &&
	    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)fuzz_secret,
	                (int)strlen(fuzz_secret)) == 0)
		tok = jwt_encode_str(jwt);
	jwt_free(jwt);
	if (tok != NULL)
		fuzz_token(V_HS, V_HS_ISS_AUD, tok, strlen(tok));
	free(tok);
}

/* Mode 4: "<header>\n<payload>" encoded by hand, signature bogus. */
static void fuzz_raw_parts(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - data) : size;
	char *h = fuzz_b64url(data, hlen);
	char *p = nl ? fuzz_b64url(nl + 1, size - hlen - 1) : xstrdup("e30");
	size_t n = strlen(h) + strlen(p) + 48;
	char *tok = xmalloc(n);
	snprintf(tok, n, "%s.%s.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2ln", h, p);
	fuzz_token(V_HS, V_ES, tok, strlen(tok));
	free(tok);
	free(h);
	free(p);
}

static void fuzz_key(enum auth_alg alg, const char *key, size_t len)
{
	struct auth_config cfg = {
		.alg = alg,
		.key = key,
		.key_len = len,
		.leeway_s = 60,
		.max_lifetime_s = 86400,
		.max_token_len = 8192,
	};
	char err[256];
	struct auth_verifier *v = auth_verifier_new(&cfg, err, sizeof(err));
	auth_verifier_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (verifiers[0] == NULL)
		for (int i = 0; i < V_COUNT; i++)
			verifiers[i] = fuzz_verifier(i);
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	/* exact-size copies so ASan sees any read past len; text is the NUL-terminated copy */
	char *bytes = xmalloc(size ? size : 1);
	memcpy(bytes, data, size);
	char *text = xmemdup0(data, size);
	switch (mode % 8) {
	case 0:
		fuzz_token(V_HS, V_HS_ISS_AUD, bytes, size);
		break;
	case 1: {
		struct auth_claims c;
		char err[256];
		for (int i = V_HS; i <= V_HS_ISS_AUD; i++)
			fuzz_check(
			    auth_verify_header(verifiers[i], text, FUZZ_NOW, &c, err, sizeof(err)),
			    &c);
		break;
	}
	case 2:
		fuzz_token(V_RS, V_ES, bytes, size);
		break;
	case 3:
		fuzz_signed_claims(text);
		break;
	case 4:
		fuzz_raw_parts(data, size);
		break;
	case 5:
		fuzz_key(AUTH_RS256, bytes, size);
		break;
	case 6:
		fuzz_key(AUTH_ES256, bytes, size);
		break;
	default:
		fuzz_key(AUTH_HS256, bytes, size);
		break;
	}
	free(bytes);
	free(text);
	return 0;
}

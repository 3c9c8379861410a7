/*
 * auth_pem: a public key's start-up check for RS256 and ES256 (see auth_pem.h). A small DER
 * walk, since the Makefile does not link libcrypto and libjwt reports a bad key and a bad
 * signature with the same EINVAL: the one PUBLIC KEY block, its base64 body, the
 * SubjectPublicKeyInfo, the algorithm OID, the curve, the RSA modulus size. Definite lengths of
 * up to 4 bytes only; nothing is trusted beyond the bytes given. Fuzzed through fuzz_auth's key
 * inputs (auth_verifier_new).
 */
#include "auth_pem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_b64.h"
#include "auth_int.h"
#include "xalloc.h"

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
int auth_pem_check(enum auth_alg alg, const char *pem, size_t len, char *err, size_t errlen)
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

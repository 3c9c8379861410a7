/*
 * auth_pem: the start-up check of an RS256 or ES256 public key given as PEM text: exactly a
 * "PUBLIC KEY" block (a private key, a certificate or PKCS#1 is named with the openssl command
 * that converts it), whose SubjectPublicKeyInfo is RSA of at least 2048 bits for RS256 or EC on
 * P-256 for ES256. lib/auth runs it on every key before its self-test.
 *
 * Not here: verifying signatures (libjwt), HS256 secrets (lib/auth).
 */
#ifndef AIMEM_AUTH_PEM_H
#define AIMEM_AUTH_PEM_H

#include <stddef.h>

#include "auth.h"

/* Checks pem[0..len) for alg. Returns 0, or -1 with err (no key material in it). Pure;
 * thread-safe. */
int auth_pem_check(enum auth_alg alg, const char *pem, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

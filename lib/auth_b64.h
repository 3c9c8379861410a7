/*
 * auth_b64: base64url without padding, strict, as a JWT's parts and a PEM body (after mapping
 * '+' and '/') are read by lib/auth and lib/auth_pem. Pure functions; thread-safe.
 */
#ifndef AIMEM_AUTH_B64_H
#define AIMEM_AUTH_B64_H

#include <stdbool.h>
#include <stddef.h>

/* The 6-bit value of a base64url character, or -1 for any other byte. */
int auth_b64_value(unsigned char c);
/* True when s (alphabet already checked) is the one canonical unpadded encoding of its bytes. */
bool auth_b64_canonical(const char *s, size_t len);
/* Decodes canonical base64url text into out (room for len * 3 / 4 bytes); returns bytes. */
size_t auth_b64_decode(const char *s, size_t len, unsigned char *out);

#endif

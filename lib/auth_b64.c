/*
 * auth_b64: base64url as JWTs spell it (see auth_b64.h).
 */
#include "auth_b64.h"

int auth_b64_value(unsigned char c)
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
bool auth_b64_canonical(const char *s, size_t len)
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
size_t auth_b64_decode(const char *s, size_t len, unsigned char *out)
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

/*
 * query_cursor: keyset cursors as hex text (see query_cursor.h).
 */
#include "query_cursor.h"

#include <stdio.h>
#include <string.h>

#include "num.h"

static const char query_hex[] = "0123456789abcdef";

int query_cursor_encode(const struct query_cursor *c, char out[QUERY_CURSOR_MAX])
{
	size_t klen = strnlen(c->key, sizeof(c->key));
	if (klen == 0 || klen > QUERY_CURSOR_KEY_MAX)
		return -1;
	char plain[3 + 21 + 1 + QUERY_CURSOR_KEY_MAX + 1];
	int n = c->has_ts ? snprintf(plain, sizeof(plain), "v1|%lld|%s", c->ts, c->key)
	                  : snprintf(plain, sizeof(plain), "v1|n|%s", c->key);
	if (n < 0 || (size_t)n >= sizeof(plain))
		return -1;
	for (int i = 0; i < n; i++) {
		out[2 * i] = query_hex[(unsigned char)plain[i] >> 4];
		out[2 * i + 1] = query_hex[(unsigned char)plain[i] & 15];
	}
	out[2 * n] = '\0';
	return 0;
}

static int query_unhex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int query_cursor_decode(const char *text, struct query_cursor *c)
{
	memset(c, 0, sizeof(*c));
	size_t len = strnlen(text, QUERY_CURSOR_MAX);
	if (len == 0 || len % 2 != 0 || len >= QUERY_CURSOR_MAX)
		return -1;
	char plain[QUERY_CURSOR_MAX / 2 + 1];
	size_t n = len / 2;
	for (size_t i = 0; i < n; i++) {
		int hi = query_unhex(text[2 * i]), lo = query_unhex(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		plain[i] = (char)(hi * 16 + lo);
		if ((unsigned char)plain[i] < 0x20 || plain[i] == 0x7f)
			return -1; /* no NUL or control bytes anywhere */
	}
	plain[n] = '\0';
	if (n < 5 || memcmp(plain, "v1|", 3) != 0)
		return -1;
	const char *ts = plain + 3, *bar = strchr(ts, '|');
	if (bar == NULL || bar == ts)
		return -1;
	if (bar - ts == 1 && ts[0] == 'n') {
		c->has_ts = false;
	} else {
		long long v;
		if (num_parse_intn(ts, (size_t)(bar - ts), -(1LL << 62), 1LL << 62, &v) != 0)
			return -1;
		c->has_ts = true;
		c->ts = v;
	}
	size_t klen = n - (size_t)(bar + 1 - plain);
	if (klen == 0 || klen > QUERY_CURSOR_KEY_MAX)
		return -1;
	memcpy(c->key, bar + 1, klen);
	c->key[klen] = '\0';
	return 0;
}

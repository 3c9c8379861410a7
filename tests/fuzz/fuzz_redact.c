/*
 * fuzz_redact: libFuzzer target for lib/redact. The first byte picks the speakers' pattern and
 * the second the opt-in kinds; the rest is split at newlines into turns. Every input is held
 * to the redactor's guarantee (redact.h): no output turn holds a card number among its
 * written digits (redact_holds_card), so a placeholder's last four never join a neighbouring
 * run into one; valid UTF-8 stays valid; and a run over another redactor with the same input
 * gives the same output (no state leaks from one call to the next), the other reading every
 * byte itself (redact_set_bytewise: the scan's 64-byte fast path must change nothing).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "redact.h"
#include "redact_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TURNS 64

static bool utf8_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n = jscan_utf8_len((const unsigned char *)s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static struct redactor *fz_shared;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned speakers = data[0];
	unsigned kinds = REDACT_DEFAULT_KINDS | ((unsigned)data[1] << REDACT_EMAIL);
	kinds &= REDACT_ALL_KINDS;
	const char *text = (const char *)data + 2;
	size_t len = size - 2;
	struct redact_turn turns[MAX_TURNS];
	size_t n = 0;
	for (size_t p = 0; p <= len && n < MAX_TURNS;) {
		const char *nl = memchr(text + p, '\n', len - p);
		size_t e = nl ? (size_t)(nl - text) : len;
		turns[n] =
		    (struct redact_turn){ (int)((speakers >> (n % 8)) & 1), text + p, e - p };
		n++;
		p = e + 1;
	}
	if (fz_shared == NULL)
		fz_shared = redact_new(); /* reused across inputs, as a program reuses its own */
	struct redactor *fresh = redact_new();
	redact_set_bytewise(fresh, true);
	unsigned counts[REDACT_NKINDS];
	size_t found = redact_run(fz_shared, kinds, turns, n, counts);
	size_t found2 = redact_run(fresh, kinds, turns, n, NULL);
	if (found != found2)
		abort();
	size_t total = 0;
	for (int k = 0; k < REDACT_NKINDS; k++)
		total += counts[k];
	if (total != found)
		abort();
	for (size_t i = 0; i < n; i++) {
		size_t olen, olen2;
		bool changed;
		const char *out = redact_text(fz_shared, i, &olen, &changed);
		const char *out2 = redact_text(fresh, i, &olen2, NULL);
		if (olen != olen2 || memcmp(out, out2, olen) != 0)
			abort(); /* another redactor, byte by byte: the same output */
		if (redact_holds_card(out, olen))
			abort(); /* a card (or a placeholder joined into one) survived */
		if (utf8_ok(turns[i].text, turns[i].len) && !utf8_ok(out, olen))
			abort();
		if (!changed && (olen != turns[i].len || out != turns[i].text))
			abort();
	}
	redact_free(&fresh);
	return 0;
}

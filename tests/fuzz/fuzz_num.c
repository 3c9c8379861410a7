/*
 * fuzz_num: libFuzzer target for the checked number, duration, size and bool parsers. The
 * first byte picks the parser; the rest is the text (as (ptr, len) and as a C string).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	long long v = 0;
	bool b = false;
	switch (data[0] % 5) {
	case 0:
		(void)num_parse_intn(text, size - 1, LLONG_MIN, LLONG_MAX, &v);
		break;
	case 1:
		(void)num_parse_int(text, -1000, 1000, &v);
		break;
	case 2:
		(void)num_parse_duration_ms(text, &v);
		break;
	case 3:
		(void)num_parse_size(text, &v);
		break;
	default:
		(void)num_parse_bool(text, &b);
		break;
	}
	free(text);
	return 0;
}

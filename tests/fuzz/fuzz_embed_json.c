/*
 * fuzz_embed_json: libFuzzer target for embed_json_parse, the parser of what an
 * OpenAI-compatible /embeddings server answers. The first byte picks the number of inputs
 * (1..4) and the second the dimension (1..8); the rest is the answer. A parse that succeeds
 * must have written every value finite; a failure must say why.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "embed_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t n = 1 + data[0] % 4;
	unsigned dim = 1 + data[1] % 8;
	size_t len = size - 2;
	/* a copy of exactly len bytes, so reads past the end are caught */
	char *text = malloc(len ? len : 1);
	memcpy(text, data + 2, len);
	float out[4 * 8];
	for (size_t i = 0; i < n * dim; i++)
		out[i] = NAN;
	char err[256] = "";
	if (embed_json_parse(text, len, n, dim, out, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n * dim; i++)
			if (!isfinite(out[i]))
				abort();
	} else if (err[0] == '\0') {
		abort();
	}
	free(text);
	return 0;
}

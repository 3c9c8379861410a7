/*
 * fuzz_llm_json: libFuzzer target for the parsers that read what an LLM endpoint sends:
 * llm_parse_json (the model's answer, with its fence and repair paths), the response
 * envelope, the error hint and Retry-After. The whole input goes to each; an object from
 * llm_parse_json must be an object, and a content from the envelope must lie within it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "llm_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so reads past the end are caught */
	char *text = malloc(size ? size : 1);
	memcpy(text, data, size);
	char err[256];

	json_t *obj = llm_parse_json(text, size, err, sizeof(err));
	if (obj != NULL && !json_is_object(obj))
		abort();
	if (obj == NULL && err[0] == '\0')
		abort();
	json_decref(obj);

	json_t *root = NULL;
	const char *content = NULL;
	size_t clen = 0;
	if (llm_json_envelope(text, size, &root, &content, &clen, err, sizeof(err)) == 0) {
		if (root == NULL || content == NULL || content[clen] != '\0')
			abort();
		json_decref(root);
	}

	char hint[80];
	llm_json_error_hint(text, size, hint, sizeof(hint));
	if (strlen(hint) > 64)
		abort();
	(void)llm_retry_after_ms(text, size, 1700000000);
	free(text);
	return 0;
}

/*
 * fuzz_llm_json: libFuzzer target for the parsers that read what an LLM endpoint sends:
 * llm_parse_json (the model's answer, with its fence and repair paths), the response
 * envelope, the error hint, Retry-After and the summarizer's answer parser. The whole input
 * goes to each; an object from llm_parse_json must be an object, a content from the envelope
 * must lie within it, and a parsed summary must be within its limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "llm_json.h"
#include "summary_model.h"
#include "text.h"

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

	struct proc_result r;
	if (summary_model_parse(text, size, &r, err, sizeof(err)) == 0) {
		size_t n = strlen(r.summary);
		if (n == 0 || n > SUMMARY_MODEL_MAX_SUMMARY || !text_utf8_valid(r.summary, n) ||
		    json_array_size(r.key_topics) > SUMMARY_MODEL_MAX_TOPICS ||
		    !json_is_object(r.key_variables) || r.sentiment == NULL || r.resolution == NULL)
			abort();
		proc_result_release(&r);
	}

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

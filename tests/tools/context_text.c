/*
 * context_text: the compat context text (calls/context_text) of a native context document read
 * from stdin, printed as it is (no trailing newline added), so the property test
 * (tests/integration/test_context.py) can render the full derivation's document and compare it
 * with the text the workers stored.
 *
 *   psql -Atc "..." | context_text
 */
#include <stdio.h>

#include <jansson.h>

#include "buf.h"
#include "context_text.h"

int main(void)
{
	json_error_t jerr;
	json_t *doc = json_loadf(stdin, 0, &jerr);
	if (doc == NULL) {
		fprintf(stderr, "context_text: not JSON: %s\n", jerr.text);
		return 2;
	}
	struct buf out = BUF_INIT;
	context_text_render(doc, &out, NULL);
	fwrite(out.data ? out.data : "", 1, out.len, stdout);
	buf_free(&out);
	json_decref(doc);
	return 0;
}

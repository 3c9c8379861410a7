/*
 * fuzz_jscan: differential target. jscan must accept exactly the documents jansson's
 * json_loadb(JSON_REJECT_DUPLICATES) accepts (except raw NUL bytes, which jscan always
 * refuses), and agree on every value it reads.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks both representations together; aborts on any difference. */
static void fz_same(const struct jscan_doc *d, size_t t, json_t *j)
{
	const struct jscan_token *tk = &d->tok[t];
	switch (tk->type) {
	case JSCAN_OBJECT: {
		if (!json_is_object(j) || json_object_size(j) != tk->count)
			abort();
		size_t k = t + 1;
		for (size_t i = 0; i < tk->count; i++, k = d->tok[k + 1].next) {
			json_t *v = json_object_get(j, jscan_str(d, k));
			if (v == NULL)
				abort();
			fz_same(d, k + 1, v);
		}
		return;
	}
	case JSCAN_ARRAY:
		if (!json_is_array(j) || json_array_size(j) != tk->count)
			abort();
		for (size_t i = 0; i < tk->count; i++)
			fz_same(d, jscan_item(d, t, i), json_array_get(j, i));
		return;
	case JSCAN_STRING:
		if (!json_is_string(j) || json_string_length(j) != tk->count ||
		    memcmp(json_string_value(j), jscan_str(d, t), tk->count) != 0)
			abort();
		return;
	case JSCAN_INTEGER:
		if (!json_is_integer(j) || json_integer_value(j) != tk->ival)
			abort();
		return;
	case JSCAN_REAL:
		if (!json_is_real(j))
			abort();
		return;
	case JSCAN_TRUE:
		if (!json_is_true(j))
			abort();
		return;
	case JSCAN_FALSE:
		if (!json_is_false(j))
			abort();
		return;
	default:
		if (!json_is_null(j))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jscan_doc doc;
	char err[128];
	json_error_t jerr;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	int rc = jscan_parse(&doc, (const char *)data, size, err, sizeof(err));
	/* jansson takes a raw NUL byte for the end of input in places and then accepts text
	 * that is not JSON (e.g. "[1.5\0]"); jscan refuses every raw NUL, which is stricter and
	 * what RFC 8259 says. Everywhere else the two must agree. */
	bool nul = memchr(data, 0, size) != NULL;
	if ((j != NULL) != (rc == 0) && !(nul && rc != 0))
		abort(); /* the two disagree on whether this is valid JSON */
	if (j != NULL && rc == 0)
		fz_same(&doc, 0, j);
	json_decref(j);
	return 0;
}

/*
 * http_body: the request body as a JSON object (see http_body.h).
 */
#include "http_body.h"

#include <stdio.h>

json_t *http_body_object(struct http_exchange *ex)
{
	size_t len = 0;
	const char *body = http_body(ex, &len);
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char msg[256];
		snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		http_reply_error(ex, 400, "bad_json", msg);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		http_reply_error(ex, 400, "not_object", "the body must be a JSON object");
		return NULL;
	}
	return root;
}

/*
 * http_body: the request body as a JSON object, the way every JSON route of aimem-ingest and
 * aimem-query reads it, so both programs refuse a bad body with the same 400.
 *
 * Duplicate keys are refused (JSON_REJECT_DUPLICATES); a parse error is answered 400 bad_json
 * naming the line and column, a body that is JSON but not an object 400 not_object.
 *
 * Not here: the body's size limit (lib/http's max_body, 413), what the route does with the
 * object (its own validation).
 */
#ifndef AIMEM_HTTP_BODY_H
#define AIMEM_HTTP_BODY_H

#include <jansson.h>

#include "http.h"

/* The body of ex as a JSON object (owned: json_decref), or NULL after replying 400. Runs on the
 * handler's thread; does not block. */
json_t *http_body_object(struct http_exchange *ex);

#endif

/*
 * embed_json: embeddings request and answer (see embed_json.h).
 */
#include "embed_json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "xalloc.h"

/* s[0..len) as a JSON string: escapes, and U+FFFD for bytes that are not UTF-8. */
static void embed_json_str(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	buf_putc(b, '"');
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t u;
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c < 0x20) {
			buf_appendf(b, "\\u%04x", c);
		} else if (c < 0x80) {
			buf_putc(b, (char)c);
		} else if ((u = jscan_utf8_len(p + i, len - i)) > 0) {
			buf_append(b, s + i, u);
			i += u;
			continue;
		} else {
			buf_append_str(b, "\\ufffd");
		}
		i++;
	}
	buf_putc(b, '"');
}

void embed_json_request(struct buf *out, const char *model, const char *const *texts,
                        const size_t *lens, size_t n, unsigned dim, bool send_dim)
{
	buf_append_str(out, "{\"model\":");
	embed_json_str(out, model, strlen(model));
	buf_append_str(out, ",\"input\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		embed_json_str(out, texts[i], lens[i]);
	}
	buf_append_str(out, "],\"encoding_format\":\"float\"");
	if (send_dim)
		buf_appendf(out, ",\"dimensions\":%u", dim);
	buf_putc(out, '}');
}

/* One item of "data" into out (ordered by its index); seen marks the indexes taken. */
static int embed_json_item(json_t *item, size_t i, size_t n, unsigned dim, float *out, bool *seen,
                           char *err, size_t errlen)
{
	json_t *idx = json_object_get(item, "index"), *vec = json_object_get(item, "embedding");
	if (!json_is_object(item) || !json_is_integer(idx)) {
		snprintf(err, errlen, "data[%zu]: an object with an integer index expected", i);
		return -1;
	}
	json_int_t k = json_integer_value(idx);
	if (k < 0 || (size_t)k >= n || seen[k]) {
		snprintf(err, errlen, "data[%zu]: index out of range or repeated", i);
		return -1;
	}
	if (!json_is_array(vec) || json_array_size(vec) != dim) {
		snprintf(err, errlen, "data[%zu]: embedding is not an array of %u numbers", i, dim);
		return -1;
	}
	seen[k] = true;
	for (unsigned d = 0; d < dim; d++) {
		json_t *x = json_array_get(vec, d);
		double v = json_is_number(x) ? json_number_value(x) : NAN;
		if (!isfinite(v) || fabs(v) > 1e6) {
			snprintf(err, errlen, "data[%zu]: embedding[%u] is not a finite number", i,
			         d);
			return -1;
		}
		out[(size_t)k * dim + d] = (float)v;
	}
	return 0;
}

int embed_json_parse(const char *buf, size_t len, size_t n, unsigned dim, float *out, char *err,
                     size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errlen, "answer is not JSON (line %d column %d)", je.line, je.column);
		return -1;
	}
	int rc = -1;
	bool *seen = NULL;
	json_t *data = json_object_get(root, "data");
	if (!json_is_object(root) || !json_is_array(data)) {
		snprintf(err, errlen, "answer has no data array");
		goto out;
	}
	if (json_array_size(data) != n) {
		snprintf(err, errlen, "answer has %zu embeddings for %zu inputs",
		         json_array_size(data), n);
		goto out;
	}
	seen = xcalloc(n ? n : 1, sizeof(*seen));
	for (size_t i = 0; i < n; i++)
		if (embed_json_item(json_array_get(data, i), i, n, dim, out, seen, err, errlen) !=
		    0)
			goto out;
	rc = 0;
out:
	free(seen);
	json_decref(root);
	return rc;
}

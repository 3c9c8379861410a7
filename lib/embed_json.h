/*
 * embed_json: the bytes of OpenAI-compatible embeddings requests and answers
 * (POST {base}/embeddings), for lib/embed's openai provider.
 *
 * The answer parser is strict and bounded: an object whose "data" is an array of exactly n
 * objects, each with an integer "index" in 0..n-1 (each index once; the array may come in
 * any order) and an "embedding" array of exactly dim finite numbers. Everything else in the
 * answer ("model", "usage", "object") is ignored. Not here: base64 encoding_format (we ask for
 * floats), token counting, normalisation (lib/embed does it).
 */
#ifndef AIMEM_EMBED_JSON_H
#define AIMEM_EMBED_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends {"model":..,"input":[texts..],"encoding_format":"float"[,"dimensions":dim]} to out.
 * Each text is texts[i]/lens[i] (bytes that are not UTF-8 are sent as U+FFFD). */
void embed_json_request(struct buf *out, const char *model, const char *const *texts,
                        const size_t *lens, size_t n, unsigned dim, bool send_dim);

/*
 * Parses an answer body (buf/len, not NUL-terminated) for n inputs of dim values each into
 * out[n * dim], ordered by index. Returns 0, or -1 with err (a reason and, where it helps, an
 * index; never content). Pure, thread-safe; allocates only jansson's tree, freed before return.
 */
int embed_json_parse(const char *buf, size_t len, size_t n, unsigned dim, float *out, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

#endif

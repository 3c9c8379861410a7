/*
 * embed_openai: lib/embed's openai provider (POST {base}/embeddings through lib/llm's transfer
 * engine). Only embed.c uses it.
 */
#ifndef AIMEM_EMBED_OPENAI_H
#define AIMEM_EMBED_OPENAI_H

#include <stddef.h>

#include "embed.h"
#include "metrics.h"

struct embed_openai;

/* A client for the settings (copied; the key is not kept). NULL with err. */
struct embed_openai *embed_openai_new(const struct embed_settings *s, struct metrics *m, char *err,
                                      size_t errlen);
void embed_openai_free(struct embed_openai **o);

/* n texts in batches of embed.batch_size, all in flight at once (up to max_in_flight), into
 * out[n * dim] (not normalised). Blocks until every batch answered or failed for good. Returns
 * 0 or -1 with err (the first failure). One thread at a time (embed.c holds a lock). */
int embed_openai_run(struct embed_openai *o, const char *const *texts, const size_t *lens, size_t n,
                     float *out, char *err, size_t errlen);

#endif

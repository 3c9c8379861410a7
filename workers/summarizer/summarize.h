/*
 * summarize: aimem-summarizer's worker callbacks. prepare turns each call of a batch into a
 * summary before the transaction (the built-in processors, or the LLM with every call of
 * the batch in flight at once and the unavailability policy applied); apply writes it.
 *
 * The row's tenant, caller and ids always come from the event, never from a model answer.
 */
#ifndef AIMEM_SUMMARIZE_H
#define AIMEM_SUMMARIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "llm.h"
#include "metrics.h"
#include "proc.h"
#include "worker.h"

struct summarizer_config {
	const struct proc_lexicons *lexicons; /* borrowed, immutable */
	struct llm_client *llm;               /* borrowed; NULL: built-in processors only */
	const char *system_prompt;            /* borrowed; with llm */
	const char *llm_processor;            /* "llm:<model>/<prompt version>", with llm */
	enum llm_policy policy;
	size_t max_prompt_bytes;                  /* transcript bytes sent to the model at most */
	const struct proc_tenants *tenant_topics; /* borrowed, or NULL: tenants' own topics */
};

struct summarizer;

struct summarizer *summarizer_new(const struct summarizer_config *cfg, struct metrics *m);
void summarizer_free(struct summarizer **s);

/* worker_ops callbacks; ctx is the struct summarizer. */
int summarizer_prepare(void *ctx, struct worker_job *const *jobs, size_t n);
void summarizer_release(void *ctx, void *prep);
/* All of one tenant's calls of a batch: one upsert, then one recount of the callers' profiles. */
/* The tables summarizer_apply_batch writes (worker_ops.tables). */
extern const char *const summarizer_tables[];
int summarizer_apply_batch(void *ctx, PGconn *conn, struct worker_job *const *jobs, size_t n,
                           char *err, size_t errlen);

#endif

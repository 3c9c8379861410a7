/*
 * score: aimem-personality's worker callbacks. prepare scores each call of a batch before
 * the transaction (the built-in lexicon scorer always, then the LLM for every call of the
 * batch at once when configured, with the unavailability policy applied); apply upserts the
 * call's personality_metrics row and recomputes the caller's personality_averages from all
 * of their metrics rows (never incremented, so replays and duplicates are harmless).
 *
 * The row's tenant, caller and ids always come from the event, never from a model answer.
 */
#ifndef AIMEM_PERSONALITY_SCORE_H
#define AIMEM_PERSONALITY_SCORE_H

#include <stddef.h>

#include "llm.h"
#include "metrics.h"
#include "proc.h"
#include "worker.h"

struct scorer_config {
	const struct proc_lexicons *lexicons; /* borrowed, immutable */
	struct llm_client *llm;               /* borrowed; NULL: built-in scorer only */
	const char *system_prompt;            /* borrowed; with llm */
	const char *llm_processor;            /* "llm:<model>/<prompt version>", with llm */
	enum llm_policy policy;
	size_t max_prompt_bytes; /* transcript bytes sent to the model at most */
};

struct scorer;

struct scorer *scorer_new(const struct scorer_config *cfg, struct metrics *m);
void scorer_free(struct scorer **s);

/* worker_ops callbacks; ctx is the struct scorer. */
int scorer_prepare(void *ctx, struct worker_job *const *jobs, size_t n);
void scorer_release(void *ctx, void *prep);
/* One statement upserts a tenant group's rows, one recomputes their callers' averages. */
/* The tables scorer_apply_batch writes (worker_ops.tables). */
extern const char *const scorer_tables[];
int scorer_apply_batch(void *ctx, PGconn *conn, struct worker_job *const *jobs, size_t n, char *err,
                       size_t errlen);

#endif

/*
 * model_policy: what a call worker does with a call the model could not answer (llm.policy,
 * docs/llm.md), written once for aimem-summarizer and aimem-personality:
 *   fallback     the built-in result stands in, marked needs_reprocess (a later model answer
 *                of the same event replaces it; it never replaces a model result);
 *   dead_letter  the event goes to dead_letters as "llm_failed" with the reason;
 *   wait         the batch waits (WORKER_RETRY: capped backoff, nothing advances) and asks
 *                the model again.
 * Each failure is logged (partition, offset, policy, the reason without content) and counted.
 *
 * Not here: asking the model (each worker's prepare step, every call of a batch in flight at
 * once) and what the built-in result is (calls/proc, calls/personality).
 */
#ifndef AIMEM_MODEL_POLICY_H
#define AIMEM_MODEL_POLICY_H

#include <stdbool.h>

#include "llm.h"
#include "metrics.h"
#include "worker.h"

struct model_policy {
	enum llm_policy policy;
	struct metrics_counter *failed;   /* the program's model failures (each attempt round) */
	struct metrics_counter *fallback; /* calls the built-in result stood in for */
	/* Puts the built-in result in job's prep, marked as standing in for the model. 0, or -1
	 * when it refused the call (it then set job->reject_code and reject_err). */
	int (*builtin)(struct worker_job *job);
};

/* One call the model failed (why: the reason, never content): logs, counts and applies the
 * policy to job. Returns true when the batch must wait and ask again (WORKER_RETRY). */
bool model_policy_failed(const struct model_policy *mp, struct worker_job *job, const char *why);

#endif

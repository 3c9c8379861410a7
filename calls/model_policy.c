/*
 * model_policy: llm.policy applied to a call the model failed (see model_policy.h).
 */
#include "model_policy.h"

#include <stdio.h>

#include "log.h"

bool model_policy_failed(const struct model_policy *mp, struct worker_job *job, const char *why)
{
	const rd_kafka_message_t *rkm = job->rkm;
	metrics_counter_add(mp->failed, 1);
	log_warn("llm failed partition=%d offset=%lld policy=%s error=\"%s\"", (int)rkm->partition,
	         (long long)rkm->offset, llm_policy_name(mp->policy), why);
	switch (mp->policy) {
	case LLM_POLICY_FALLBACK:
		if (mp->builtin(job) == 0)
			metrics_counter_add(mp->fallback, 1);
		return false;
	case LLM_POLICY_DEAD_LETTER:
		job->reject_code = "llm_failed";
		snprintf(job->reject_err, sizeof(job->reject_err), "%s", why);
		return false;
	case LLM_POLICY_WAIT:
		return true;
	}
	return false;
}

/*
 * aimem-personality: call.ended events from aimem.calls.v1 → personality_metrics (13 scores
 * and a confidence per call, from the caller's own turns) and personality_averages (per
 * caller, recomputed), exactly once (lib/worker). Scores come from the built-in lexicon
 * scorer (calls/personality) or an OpenAI-compatible model (lib/llm) with a policy for when it
 * stays unavailable. This file is the settings and the start-up and shutdown story; score.c
 * is the work.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "llm.h"
#include "llm_settings.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "proc.h"
#include "prog.h"
#include "redact_event.h"
#include "personality.h"
#include "score.h"
#include "worker.h"
#include "worker_settings.h"

struct personality_settings {
	struct worker_settings worker; /* the worker section (lib/worker_settings.h) */
	char *processor, *lexicons;
	struct llm_settings llm;         /* the llm.* section (lib/llm_settings.h) */
	struct metrics_settings metrics; /* /healthz, /readyz, /metrics (lib/metrics.h) */
	struct redact_settings redact;   /* the redact.* section (lib/redact.h) */
	char *log_level;
};

#define S(field) offsetof(struct personality_settings, field)
static const struct cfg_item personality_items[] = {
	WORKER_CFG_ITEMS(S(worker), "aimem-personality"),
	KAFKA_TOPICS_CALLS_CFG_ITEM(S(worker.topic), "call.ended topic"),
	WORKER_MODEL_BATCH_CFG_ITEMS(S(worker)),
	LLM_PROCESSOR_CFG_ITEM(S(processor), "the built-in lexicon scorer"),
	PROC_LEXICONS_CFG_ITEM(
	    S(lexicons),
	    "folder of the built-in scorer's word lists (also needed for the fallback)"),
	LLM_CFG_ITEMS(S(llm), "workers/personality/prompts/personality.v1.txt", "built-in scores"),
	REDACT_CFG_ITEMS(S(redact)),
	WORKER_READYZ_CFG_ITEM(S(worker)),
	METRICS_CFG_ITEMS(S(metrics), "9105"),
	PROG_LOG_CFG_ITEM(S(log_level)),
};
#undef S

static const char personality_usage[] =
    "Usage: aimem-personality [options]\n"
    "\n"
    "Scores each call.ended event's caller (13 personality, style and state scores 0-100\n"
    "and a confidence) into personality_metrics and recomputes the caller's\n"
    "personality_averages, exactly once: offsets are stored with the rows in one\n"
    "transaction; bad events go to dead_letters.\n"
    "Card, bank and social-security numbers in the turns are replaced by placeholders\n"
    "before anything is stored or sent to a model (redact.*, docs/redaction.md; SIGHUP\n"
    "reads the policy again too).\n" WORKER_USAGE_TAIL("...");

/* prog_info.check (--check-config): the lexicons and model settings as start-up loads them (no
 * request is sent). */
static int personality_check(const void *settings, char *err, size_t errlen)
{
	const struct personality_settings *s = settings;
	struct proc_lexicons *lx = proc_lexicons_load(s->lexicons, err, errlen);
	int rc = lx == NULL ? -1 : redact_settings_check(&s->redact, err, errlen);
	if (rc == 0)
		rc = llm_model_check(&s->llm, strcmp(s->processor, "llm") == 0, err, errlen);
	proc_lexicons_free(&lx);
	return rc;
}

int main(int argc, char **argv)
{
	struct personality_settings s = { 0 };
	const struct prog_info info = {
		.name = "aimem-personality",
		.usage = personality_usage,
		.items = personality_items,
		.nitems = sizeof(personality_items) / sizeof(personality_items[0]),
		.settings = &s,
		.passthrough = KAFKA_CFG_PASSTHROUGH,
		.check = personality_check,
	};
	struct worker_prog wp;
	if (worker_prog_start(&wp, &info, argc, argv) != PROG_RUN)
		return wp.exit_code;

	char err[512];
	int exit_code = 2;
	struct scorer *sc = NULL;
	struct llm_model llm = { 0 };
	struct redact_edge *redact = NULL;
	struct proc_lexicons *lx = proc_lexicons_load(s.lexicons, err, sizeof(err));
	if (lx == NULL ||
	    llm_model_open(&s.llm, strcmp(s.processor, "llm") == 0, wp.metrics, &llm, err,
	                   sizeof(err)) != 0 ||
	    (redact = redact_edge_start(&s.redact, offsetof(struct personality_settings, redact),
	                                wp.metrics, err, sizeof(err))) == NULL) {
		fprintf(stderr, "aimem-personality: %s\n", err);
		goto out;
	}
	/* a dry-run replay only counts: it never pays for (or sends transcripts to) the model */
	bool model = llm.client != NULL && !(wp.replaying && wp.replay.dry_run);
	if (llm.client != NULL && !model)
		log_info("dry run: the built-in processor stands in for the model");
	const struct scorer_config scfg = { .lexicons = lx,
		                            .llm = model ? llm.client : NULL,
		                            .system_prompt = llm.prompt,
		                            .llm_processor = llm.processor,
		                            .policy = llm.policy,
		                            .max_prompt_bytes = llm.max_prompt_bytes };
	sc = scorer_new(&scfg, wp.metrics);
	const struct worker_ops ops = { .accept_types = 1u << EVENT_CALL_ENDED,
		                        .ctx = sc,
		                        .prepare = scorer_prepare,
		                        .release = scorer_release,
		                        .apply_batch = scorer_apply_batch,
		                        .tables = scorer_tables,
		                        .redact = redact };
	log_info("processor=%s policy=%s", llm.client ? llm.processor : PERSONALITY_BUILTIN_NAME,
	         llm_policy_name(llm.policy));
	exit_code = worker_prog_run(&wp, &s.worker, &s.metrics, &ops);
out:
	scorer_free(&sc);
	redact_edge_free(&redact);
	llm_model_close(&llm);
	proc_lexicons_free(&lx);
	worker_prog_end(&wp);
	return exit_code;
}

/*
 * aimem-summarizer: call.ended events from aimem.calls.v1 → call_summaries and caller_profiles,
 * exactly once (lib/worker). Summaries come from the built-in processors (calls/proc) or an
 * OpenAI-compatible model (lib/llm) with a policy for when it stays unavailable. This file is
 * the settings and the start-up and shutdown story; summarize.c is the work.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "llm.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "proc.h"
#include "proc_tenant.h"
#include "prog.h"
#include "redact_event.h"
#include "summarize.h"
#include "summary_llm.h"
#include "worker.h"
#include "worker_settings.h"

struct summarizer_settings {
	struct worker_settings worker; /* the worker section (lib/worker_settings.h) */
	char *processor, *lexicons, *tenant_topics;
	struct llm_settings llm; /* the llm.* section (calls/summary_llm.h, lib/llm_settings.h) */
	struct metrics_settings metrics; /* /healthz, /readyz, /metrics (lib/metrics.h) */
	struct redact_settings redact;   /* the redact.* section (lib/redact.h) */
	char *log_level;
};

#define S(field) offsetof(struct summarizer_settings, field)
static const struct cfg_item summarizer_items[] = {
	WORKER_CFG_ITEMS(S(worker), "aimem-summarizer"),
	KAFKA_TOPICS_CALLS_CFG_ITEM(S(worker.topic), "call.ended topic"),
	WORKER_MODEL_BATCH_CFG_ITEMS(S(worker)),
	LLM_PROCESSOR_CFG_ITEM(S(processor), "the built-in processors"),
	PROC_LEXICONS_CFG_ITEM(
	    S(lexicons),
	    "folder of the built-in processors' word lists (also needed for the fallback)"),
	{ .key = "topics.tenant_dir",
	  .type = CFG_STRING,
	  .flags = CFG_PATH,
	  .offset = S(tenant_topics),
	  .help =
	      "folder of tenants' own topics, <customer_id>.txt in topics.txt's format, read at "
	      "start (docs/processors.md); unset: built-in topics only" },
	SUMMARY_LLM_CFG_ITEMS(S(llm)),
	REDACT_CFG_ITEMS(S(redact)),
	WORKER_READYZ_CFG_ITEM(S(worker)),
	METRICS_CFG_ITEMS(S(metrics), "9104"),
	PROG_LOG_CFG_ITEM(S(log_level)),
};
#undef S

static const char summarizer_usage[] =
    "Usage: aimem-summarizer [options]\n"
    "\n"
    "Turns call.ended events into call summaries (summary, key topics, key variables,\n"
    "sentiment, resolution) and keeps caller profiles, exactly once: offsets are\n"
    "stored with the rows in one transaction; bad events go to dead_letters.\n"
    "Card, bank and social-security numbers in the turns are replaced by placeholders\n"
    "before anything is stored or sent to a model (redact.*, docs/redaction.md; SIGHUP\n"
    "reads the policy again too).\n" WORKER_USAGE_TAIL("...");

/* prog_info.check (--check-config): the lexicons, tenant topics and model settings as start-up
 * loads them (no request is sent). */
static int summarizer_check(const void *settings, char *err, size_t errlen)
{
	const struct summarizer_settings *s = settings;
	struct proc_tenants *tenants = NULL;
	struct proc_lexicons *lx = proc_lexicons_load(s->lexicons, err, errlen);
	int rc = lx == NULL ? -1 : 0;
	if (rc == 0 && s->tenant_topics != NULL &&
	    (tenants = proc_tenants_load(lx, s->tenant_topics, err, errlen)) == NULL)
		rc = -1;
	if (rc == 0 &&
	    (redact_settings_check(&s->redact, err, errlen) != 0 ||
	     llm_model_check(&s->llm, strcmp(s->processor, "llm") == 0, err, errlen) != 0))
		rc = -1;
	proc_tenants_free(&tenants);
	proc_lexicons_free(&lx);
	return rc;
}

int main(int argc, char **argv)
{
	struct summarizer_settings s = { 0 };
	const struct prog_info info = {
		.name = "aimem-summarizer",
		.usage = summarizer_usage,
		.items = summarizer_items,
		.nitems = sizeof(summarizer_items) / sizeof(summarizer_items[0]),
		.settings = &s,
		.passthrough = KAFKA_CFG_PASSTHROUGH,
		.check = summarizer_check,
	};
	struct worker_prog wp;
	if (worker_prog_start(&wp, &info, argc, argv) != PROG_RUN)
		return wp.exit_code;

	char err[512];
	int exit_code = 2;
	struct llm_model llm = { 0 };
	struct summarizer *sz = NULL;
	struct proc_tenants *tenants = NULL;
	struct redact_edge *redact = NULL;
	struct proc_lexicons *lx = proc_lexicons_load(s.lexicons, err, sizeof(err));
	if (lx != NULL && s.tenant_topics != NULL &&
	    (tenants = proc_tenants_load(lx, s.tenant_topics, err, sizeof(err))) == NULL) {
		fprintf(stderr, "aimem-summarizer: topics.tenant_dir: %s\n", err);
		goto out;
	}
	if (lx == NULL ||
	    llm_model_open(&s.llm, strcmp(s.processor, "llm") == 0, wp.metrics, &llm, err,
	                   sizeof(err)) != 0 ||
	    (redact = redact_edge_start(&s.redact, offsetof(struct summarizer_settings, redact),
	                                wp.metrics, err, sizeof(err))) == NULL) {
		fprintf(stderr, "aimem-summarizer: %s\n", err);
		goto out;
	}
	/* a dry-run replay only counts: it never pays for (or sends transcripts to) the model */
	bool model = llm.client != NULL && !(wp.replaying && wp.replay.dry_run);
	if (llm.client != NULL && !model)
		log_info("dry run: the built-in processor stands in for the model");
	const struct summarizer_config sc = { .lexicons = lx,
		                              .llm = model ? llm.client : NULL,
		                              .system_prompt = llm.prompt,
		                              .llm_processor = llm.processor,
		                              .policy = llm.policy,
		                              .max_prompt_bytes = llm.max_prompt_bytes,
		                              .tenant_topics = tenants };
	sz = summarizer_new(&sc, wp.metrics);
	const struct worker_ops ops = { .accept_types = 1u << EVENT_CALL_ENDED,
		                        .ctx = sz,
		                        .prepare = summarizer_prepare,
		                        .release = summarizer_release,
		                        .apply_batch = summarizer_apply_batch,
		                        .tables = summarizer_tables,
		                        .redact = redact };
	log_info("processor=%s policy=%s tenant_topics=%zu",
	         llm.client ? llm.processor : PROC_BUILTIN_NAME, llm_policy_name(llm.policy),
	         proc_tenants_count(tenants));
	exit_code = worker_prog_run(&wp, &s.worker, &s.metrics, &ops);
out:
	summarizer_free(&sz);
	redact_edge_free(&redact);
	llm_model_close(&llm);
	proc_tenants_free(&tenants);
	proc_lexicons_free(&lx);
	worker_prog_end(&wp);
	return exit_code;
}

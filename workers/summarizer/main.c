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
#include "http.h"
#include "llm.h"
#include "log.h"
#include "metrics.h"
#include "proc.h"
#include "proc_tenant.h"
#include "prog.h"
#include "sig.h"
#include "summarize.h"
#include "summary_llm.h"
#include "worker.h"

struct summarizer_settings {
	char *db_url, *group, *topic, *log_level, *http_bind, *lexicons, *processor, *tenant_topics;
	long long batch_max, batch_ms, retry_base_ms, retry_cap_ms, http_port, event_max_bytes,
	    stall_ms;
	struct llm_settings llm; /* the llm.* section (calls/summary_llm.h, lib/llm_settings.h) */
};

#define S(field) offsetof(struct summarizer_settings, field)
static const struct cfg_item summarizer_items[] = {
	{ "db.url", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET | CFG_REQUIRED, S(db_url),
	  "libpq connection string as aimem_worker" },
	{ "consumer.group", CFG_STRING, "aimem-summarizer", 0, 0, NULL, 0, S(group),
	  "consumer group (and its key in consumer_offsets)" },
	{ "topics.calls", CFG_STRING, "aimem.calls.v1", 0, 0, NULL, 0, S(topic),
	  "call.ended topic" },
	{ "batch.max_events", CFG_INT, "500", 1, 100000, NULL, 0, S(batch_max),
	  "events per transaction at most (with the LLM: per round of requests)" },
	{ "batch.max_wait", CFG_DURATION, "50ms", 1, 60000, NULL, 0, S(batch_ms),
	  "longest wait to fill a batch" },
	{ "retry.base", CFG_DURATION, "100ms", 1, 60000, NULL, 0, S(retry_base_ms),
	  "first backoff after a database error (or an LLM outage under policy wait)" },
	{ "retry.cap", CFG_DURATION, "10s", 1, 600000, NULL, 0, S(retry_cap_ms),
	  "longest backoff" },
	{ "event.max_bytes", CFG_SIZE, "1MiB", 1024, 64LL << 20, NULL, 0, S(event_max_bytes),
	  "largest event accepted" },
	{ "processor", CFG_ENUM, "builtin", 0, 0, "builtin|llm", 0, S(processor),
	  "builtin: the built-in processors, no network; llm: the model at llm.base_url" },
	{ "lexicons.dir", CFG_STRING, "workers/lexicons", 0, 0, NULL, CFG_DATA, S(lexicons),
	  "folder of the built-in processors' word lists (also needed for the fallback)" },
	{ "topics.tenant_dir", CFG_STRING, NULL, 0, 0, NULL, CFG_PATH, S(tenant_topics),
	  "folder of tenants' own topics, <customer_id>.txt in topics.txt's format, read at start "
	  "(docs/processors.md); unset: built-in topics only" },
	SUMMARY_LLM_CFG_ITEMS(S(llm)),
	WORKER_READYZ_CFG_ITEM(S(stall_ms)),
	{ "http.bind", CFG_STRING, "127.0.0.1", 0, 0, NULL, 0, S(http_bind),
	  "address of /healthz, /readyz and /metrics" },
	{ "http.port", CFG_INT, "9104", 0, 65535, NULL, 0, S(http_port),
	  "port of /healthz, /readyz and /metrics (0: any free port)" },
	{ "log.level", CFG_ENUM, "info", 0, 0, "debug|info|warn|error", 0, S(log_level),
	  "lowest level logged" },
};
#undef S

static const char summarizer_usage[] =
    "Usage: aimem-summarizer [options]\n"
    "\n"
    "Turns call.ended events into call summaries (summary, key topics, key variables,\n"
    "sentiment, resolution) and keeps caller profiles, exactly once: offsets are\n"
    "stored with the rows in one transaction; bad events go to dead_letters.\n"
    "Signals: SIGTERM/SIGINT finish the batch, commit, leave the group, exit 0; SIGHUP\n"
    "reads log.level again. Under systemd (Type=notify): READY=1 once subscribed,\n"
    "STOPPING=1, WATCHDOG=1.\n"
    "\n"
    "  replay --from <RFC 3339|earliest> [--to <RFC 3339>] [--customer N] [--dry-run]\n"
    "      reprocess a time range of the topic with a temporary consumer beside the live\n"
    "      group (its stored offsets untouched), up to the end offsets at start; prints a\n"
    "      report (aimem replay --group ... runs this)\n";

/* prog_info.check (--check-config): the lexicons, tenant topics and model settings as start-up
 * loads them (no request is sent). */
static int summarizer_check(const void *settings, char *err, size_t errlen)
{
	const struct summarizer_settings *s = settings;
	struct metrics *m = metrics_new();
	struct llm_model llm = { 0 };
	struct proc_tenants *tenants = NULL;
	struct proc_lexicons *lx = proc_lexicons_load(s->lexicons, err, errlen);
	int rc = lx == NULL ? -1 : 0;
	if (rc == 0 && s->tenant_topics != NULL &&
	    (tenants = proc_tenants_load(lx, s->tenant_topics, err, errlen)) == NULL)
		rc = -1;
	if (rc == 0 &&
	    llm_model_open(&s->llm, strcmp(s->processor, "llm") == 0, m, &llm, err, errlen) != 0)
		rc = -1;
	else if (rc == 0)
		llm_model_close(&llm);
	proc_tenants_free(&tenants);
	proc_lexicons_free(&lx);
	metrics_free(&m);
	return rc;
}

int main(int argc, char **argv)
{
	struct summarizer_settings s = { 0 };
	const struct prog_info info = { "aimem-summarizer",
		                        summarizer_usage,
		                        summarizer_items,
		                        sizeof(summarizer_items) / sizeof(summarizer_items[0]),
		                        &s,
		                        "kafka.",
		                        summarizer_check };
	struct cfg *cfg = NULL;
	int argi = 0;
	sig_setup(); /* before librdkafka, curl and MHD start threads */
	enum prog_action action = prog_start(&info, argc, argv, &cfg, &argi);
	if (action != PROG_RUN)
		return action == PROG_EXIT_OK ? 0 : 2;
	char err[512];
	struct worker_replay replay;
	int replaying = worker_replay_args(argc, argv, argi, &replay, err, sizeof(err));
	if (replaying < 0) {
		fprintf(stderr, "aimem-summarizer: %s\n", err);
		cfg_free(&cfg);
		return 2;
	}

	int exit_code = 2;
	struct metrics *m = metrics_new();
	struct llm_model llm = { 0 };
	struct summarizer *sz = NULL;
	struct worker *w = NULL;
	struct proc_tenants *tenants = NULL;
	struct proc_lexicons *lx = proc_lexicons_load(s.lexicons, err, sizeof(err));
	if (lx != NULL && s.tenant_topics != NULL &&
	    (tenants = proc_tenants_load(lx, s.tenant_topics, err, sizeof(err))) == NULL) {
		fprintf(stderr, "aimem-summarizer: topics.tenant_dir: %s\n", err);
		goto out;
	}
	if (lx == NULL || llm_model_open(&s.llm, strcmp(s.processor, "llm") == 0, m, &llm, err,
	                                 sizeof(err)) != 0) {
		fprintf(stderr, "aimem-summarizer: %s\n", err);
		goto out;
	}
	/* a dry-run replay only counts: it never pays for (or sends transcripts to) the model */
	bool model = llm.client != NULL && !(replaying > 0 && replay.dry_run);
	if (llm.client != NULL && !model)
		log_info("dry run: the built-in processor stands in for the model");
	const struct summarizer_config sc = { lx,         model ? llm.client : NULL,
		                              llm.prompt, llm.processor,
		                              llm.policy, llm.max_prompt_bytes,
		                              tenants };
	sz = summarizer_new(&sc, m);
	const struct worker_config wc = { s.group,
		                          s.topic,
		                          s.db_url,
		                          (size_t)s.batch_max,
		                          s.batch_ms,
		                          s.retry_base_ms,
		                          s.retry_cap_ms,
		                          { (size_t)s.event_max_bytes, 5000, 32 << 10 },
		                          replaying ? &replay : NULL,
		                          s.stall_ms };
	const struct worker_ops ops = {
		1u << EVENT_CALL_ENDED, NULL, sz, summarizer_prepare, summarizer_release,
		summarizer_apply_batch
	};
	w = worker_new(&wc, &ops, cfg, m, err, sizeof(err));
	if (w == NULL) {
		fprintf(stderr, "aimem-summarizer: %s\n", err);
		goto out;
	}
	log_info("processor=%s policy=%s tenant_topics=%zu",
	         llm.client ? llm.processor : PROC_BUILTIN_NAME, llm_policy_name(llm.policy),
	         proc_tenants_count(tenants));
	exit_code = worker_serve(w, "aimem-summarizer", s.http_bind, (int)s.http_port) == 0 ? 0 : 1;
	log_info("stopped");
out:
	worker_free(&w); /* before the summarizer: dropping a batch releases its summaries */
	summarizer_free(&sz);
	llm_model_close(&llm);
	proc_tenants_free(&tenants);
	proc_lexicons_free(&lx);
	metrics_free(&m);
	cfg_free(&cfg);
	return exit_code;
}

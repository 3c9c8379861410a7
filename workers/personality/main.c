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
#include "http.h"
#include "llm.h"
#include "llm_settings.h"
#include "log.h"
#include "metrics.h"
#include "proc.h"
#include "prog.h"
#include "sig.h"
#include "personality.h"
#include "score.h"
#include "worker.h"

struct personality_settings {
	char *db_url, *group, *topic, *log_level, *http_bind, *lexicons, *processor;
	long long batch_max, batch_ms, retry_base_ms, retry_cap_ms, http_port, event_max_bytes,
	    stall_ms;
	struct llm_settings llm; /* the llm.* section (lib/llm_settings.h) */
};

#define S(field) offsetof(struct personality_settings, field)
static const struct cfg_item personality_items[] = {
	{ "db.url", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET | CFG_REQUIRED, S(db_url),
	  "libpq connection string as aimem_worker" },
	{ "consumer.group", CFG_STRING, "aimem-personality", 0, 0, NULL, 0, S(group),
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
	  "builtin: the built-in lexicon scorer, no network; llm: the model at llm.base_url" },
	{ "lexicons.dir", CFG_STRING, "workers/lexicons", 0, 0, NULL, CFG_DATA, S(lexicons),
	  "folder of the built-in scorer's word lists (also needed for the fallback)" },
	LLM_CFG_ITEMS(S(llm), "workers/personality/prompts/personality.v1.txt", "built-in scores"),
	WORKER_READYZ_CFG_ITEM(S(stall_ms)),
	{ "http.bind", CFG_STRING, "127.0.0.1", 0, 0, NULL, 0, S(http_bind),
	  "address of /healthz, /readyz and /metrics" },
	{ "http.port", CFG_INT, "9105", 0, 65535, NULL, 0, S(http_port),
	  "port of /healthz, /readyz and /metrics (0: any free port)" },
	{ "log.level", CFG_ENUM, "info", 0, 0, "debug|info|warn|error", 0, S(log_level),
	  "lowest level logged" },
};
#undef S

static const char personality_usage[] =
    "Usage: aimem-personality [options]\n"
    "\n"
    "Scores each call.ended event's caller (13 personality, style and state scores 0-100\n"
    "and a confidence) into personality_metrics and recomputes the caller's\n"
    "personality_averages, exactly once: offsets are stored with the rows in one\n"
    "transaction; bad events go to dead_letters.\n"
    "Signals: SIGTERM/SIGINT finish the batch, commit, leave the group, exit 0; SIGHUP\n"
    "reads log.level again. Under systemd (Type=notify): READY=1 once subscribed,\n"
    "STOPPING=1, WATCHDOG=1.\n"
    "\n"
    "  replay --from <RFC 3339|earliest> [--to <RFC 3339>] [--customer N] [--dry-run]\n"
    "      reprocess a time range of the topic with a temporary consumer beside the live\n"
    "      group (its stored offsets untouched), up to the end offsets at start; prints a\n"
    "      report (aimem replay --group ... runs this)\n";

/* prog_info.check (--check-config): the lexicons and model settings as start-up loads them (no
 * request is sent). */
static int personality_check(const void *settings, char *err, size_t errlen)
{
	const struct personality_settings *s = settings;
	struct metrics *m = metrics_new();
	struct llm_model llm = { 0 };
	struct proc_lexicons *lx = proc_lexicons_load(s->lexicons, err, errlen);
	int rc = lx == NULL ? -1
	                    : llm_model_open(&s->llm, strcmp(s->processor, "llm") == 0, m, &llm,
	                                     err, errlen);
	llm_model_close(&llm);
	proc_lexicons_free(&lx);
	metrics_free(&m);
	return rc;
}

int main(int argc, char **argv)
{
	struct personality_settings s = { 0 };
	const struct prog_info info = { "aimem-personality",
		                        personality_usage,
		                        personality_items,
		                        sizeof(personality_items) / sizeof(personality_items[0]),
		                        &s,
		                        "kafka.",
		                        personality_check };
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
		fprintf(stderr, "aimem-personality: %s\n", err);
		cfg_free(&cfg);
		return 2;
	}

	int exit_code = 2;
	struct metrics *m = metrics_new();
	struct llm_model llm = { 0 };
	struct scorer *sc = NULL;
	struct worker *w = NULL;
	struct proc_lexicons *lx = proc_lexicons_load(s.lexicons, err, sizeof(err));
	if (lx == NULL || llm_model_open(&s.llm, strcmp(s.processor, "llm") == 0, m, &llm, err,
	                                 sizeof(err)) != 0) {
		fprintf(stderr, "aimem-personality: %s\n", err);
		goto out;
	}
	/* a dry-run replay only counts: it never pays for (or sends transcripts to) the model */
	bool model = llm.client != NULL && !(replaying > 0 && replay.dry_run);
	if (llm.client != NULL && !model)
		log_info("dry run: the built-in processor stands in for the model");
	const struct scorer_config scfg = { lx,         model ? llm.client : NULL,
		                            llm.prompt, llm.processor,
		                            llm.policy, llm.max_prompt_bytes };
	sc = scorer_new(&scfg, m);
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
	const struct worker_ops ops = { .accept_types = 1u << EVENT_CALL_ENDED,
		                        .ctx = sc,
		                        .prepare = scorer_prepare,
		                        .release = scorer_release,
		                        .apply_batch = scorer_apply_batch };
	w = worker_new(&wc, &ops, cfg, m, err, sizeof(err));
	if (w == NULL) {
		fprintf(stderr, "aimem-personality: %s\n", err);
		goto out;
	}
	log_info("processor=%s policy=%s", llm.client ? llm.processor : PERSONALITY_BUILTIN_NAME,
	         llm_policy_name(llm.policy));
	exit_code =
	    worker_serve(w, "aimem-personality", s.http_bind, (int)s.http_port) == 0 ? 0 : 1;
	log_info("stopped");
out:
	worker_free(&w); /* before the scorer: dropping a batch releases its scores */
	scorer_free(&sc);
	llm_model_close(&llm);
	proc_lexicons_free(&lx);
	metrics_free(&m);
	cfg_free(&cfg);
	return exit_code;
}

/*
 * aimem-memories: applies memory.put / memory.delete events from aimem.memories.v1 to the
 * memories table, exactly once (lib/worker). This file is the start-up and shutdown story.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "cfg.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "prog.h"
#include "sig.h"
#include "worker.h"

struct memories_settings {
	char *db_url, *group, *topic, *log_level, *http_bind;
	long long batch_max, batch_ms, retry_base_ms, retry_cap_ms, http_port, stall_ms;
	long long event_max_bytes;
};

#define S(field) offsetof(struct memories_settings, field)
static const struct cfg_item memories_items[] = {
	{ "db.url", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET | CFG_REQUIRED, S(db_url),
	  "libpq connection string as aimem_worker" },
	{ "consumer.group", CFG_STRING, "aimem-memories", 0, 0, NULL, 0, S(group),
	  "consumer group (and its key in consumer_offsets)" },
	{ "topics.memories", CFG_STRING, "aimem.memories.v1", 0, 0, NULL, 0, S(topic),
	  "memory.put/delete topic" },
	{ "batch.max_events", CFG_INT, "500", 1, 100000, NULL, 0, S(batch_max),
	  "events per transaction at most" },
	{ "batch.max_wait", CFG_DURATION, "50ms", 1, 60000, NULL, 0, S(batch_ms),
	  "longest wait to fill a batch" },
	{ "retry.base", CFG_DURATION, "100ms", 1, 60000, NULL, 0, S(retry_base_ms),
	  "first backoff after a database error" },
	{ "retry.cap", CFG_DURATION, "10s", 1, 600000, NULL, 0, S(retry_cap_ms),
	  "longest backoff" },
	{ "event.max_bytes", CFG_SIZE, "1MiB", 1024, 64LL << 20, NULL, 0, S(event_max_bytes),
	  "largest event accepted" },
	WORKER_READYZ_CFG_ITEM(S(stall_ms)),
	{ "http.bind", CFG_STRING, "127.0.0.1", 0, 0, NULL, 0, S(http_bind),
	  "address of /healthz, /readyz and /metrics" },
	{ "http.port", CFG_INT, "9103", 0, 65535, NULL, 0, S(http_port),
	  "port of /healthz, /readyz and /metrics (0: any free port)" },
	{ "log.level", CFG_ENUM, "info", 0, 0, "debug|info|warn|error", 0, S(log_level),
	  "lowest level logged" },
};
#undef S

static const char memories_usage[] =
    "Usage: aimem-memories [options]\n"
    "\n"
    "Applies memory.put / memory.delete events to the memories table, exactly once:\n"
    "offsets are stored with the rows in one transaction; bad events go to dead_letters.\n"
    "Signals: SIGTERM/SIGINT finish the batch, commit, leave the group, exit 0; SIGHUP\n"
    "reads log.level again. Under systemd (Type=notify): READY=1 once subscribed,\n"
    "STOPPING=1, WATCHDOG=1.\n"
    "\n"
    "  replay --from <RFC 3339|earliest> [--to <RFC 3339>] [--customer N] [--dry-run]\n"
    "      reprocess a time range of the topic with a temporary consumer beside the live\n"
    "      group (its stored offsets untouched), up to the end offsets at start; prints a\n"
    "      report (aimem replay --group ... runs this)\n";

int main(int argc, char **argv)
{
	struct memories_settings s = { 0 };
	const struct prog_info info = { "aimem-memories",
		                        memories_usage,
		                        memories_items,
		                        sizeof(memories_items) / sizeof(memories_items[0]),
		                        &s,
		                        "kafka.",
		                        NULL };
	struct cfg *cfg = NULL;
	int argi = 0;
	sig_setup(); /* before librdkafka and MHD start threads */
	enum prog_action action = prog_start(&info, argc, argv, &cfg, &argi);
	if (action != PROG_RUN)
		return action == PROG_EXIT_OK ? 0 : 2;
	char err[512];
	struct worker_replay replay;
	int replaying = worker_replay_args(argc, argv, argi, &replay, err, sizeof(err));
	if (replaying < 0) {
		fprintf(stderr, "aimem-memories: %s\n", err);
		cfg_free(&cfg);
		return 2;
	}

	struct metrics *m = metrics_new();
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
	const struct worker_ops ops = { (1u << EVENT_MEMORY_PUT) | (1u << EVENT_MEMORY_DELETE),
		                        memories_apply,
		                        NULL,
		                        NULL,
		                        NULL,
		                        NULL };
	struct worker *w = worker_new(&wc, &ops, cfg, m, err, sizeof(err));
	if (w == NULL) {
		fprintf(stderr, "aimem-memories: %s\n", err);
		metrics_free(&m);
		cfg_free(&cfg);
		return 2;
	}
	int rc = worker_serve(w, "aimem-memories", s.http_bind, (int)s.http_port);
	worker_free(&w);
	metrics_free(&m);
	cfg_free(&cfg);
	log_info("stopped");
	return rc == 0 ? 0 : 1;
}

/*
 * worker_settings: the worker section of the worker programs' tables (aimem-summarizer,
 * aimem-personality, aimem-memories, aimem-embedder) and the worker_config made from it.
 *
 * A worker program embeds struct worker_settings and lists, in this order, the rows of its
 * start-up story:
 *
 *   WORKER_CFG_ITEMS(S(worker), "aimem-memories"),             db.url, consumer.group
 *   KAFKA_TOPICS_MEMORIES_CFG_ITEM(S(worker.topic), "..."),   its topic (lib/kafka.h)
 *   WORKER_BATCH_CFG_ITEMS(S(worker), "500", "50ms", "...", "..."),
 *                                    batch.max_events, batch.max_wait, retry.*, event.max_bytes
 *   ... its own rows ...
 *   WORKER_READYZ_CFG_ITEM(S(worker)),                       readyz.stall_timeout
 *
 * with S(f) = offsetof(struct its_settings, f). The defaults and help texts that differ
 * between programs (the group, how many events a batch holds and what a batch means with a
 * model) are arguments; the rest is written once here.
 *
 * worker_prog_start, worker_prog_run and worker_prog_end are the parts of a worker program's
 * main() that are the same in each, WORKER_USAGE_TAIL the end of its --help: main() reads as
 * its own story between them (its processors, its model).
 *
 * Not here: the loop (worker.h), where /metrics listens (metrics.h).
 */
#ifndef AIMEM_WORKER_SETTINGS_H
#define AIMEM_WORKER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "db.h"
#include "metrics.h"
#include "prog.h"
#include "worker.h"

struct worker_settings {
	char *db_url, *group, *topic;
	long long batch_max, batch_ms, retry_base_ms, retry_cap_ms, event_max_bytes, stall_ms;
};

/* clang-format off */
#define WORKER_S_(base, field) ((base) + offsetof(struct worker_settings, field))
/* db.url (as aimem_worker) and consumer.group (default: the program's name). */
#define WORKER_CFG_ITEMS(base, group_default) \
	DB_URL_CFG_ITEM(WORKER_S_(base, db_url), "aimem_worker"), \
	{ .key = "consumer.group", .type = CFG_STRING, .def = (group_default), \
	  .offset = WORKER_S_(base, group), .help = "consumer group (and its key in consumer_offsets)" }
/* The batch rows: max_events and max_wait are the defaults of batch.max_events and
 * batch.max_wait; events_help and retry_help say what a batch and a retry mean to the program. */
#define WORKER_BATCH_CFG_ITEMS(base, max_events, max_wait, events_help, retry_help) \
	{ .key = "batch.max_events", .type = CFG_INT, .def = (max_events), .min = 1, .max = 100000, \
	  .offset = WORKER_S_(base, batch_max), .help = (events_help) }, \
	{ .key = "batch.max_wait", .type = CFG_DURATION, .def = (max_wait), .min = 1, .max = 60000, \
	  .offset = WORKER_S_(base, batch_ms), .help = "longest wait to fill a batch" }, \
	{ .key = "retry.base", .type = CFG_DURATION, .def = "100ms", .min = 1, .max = 60000, \
	  .offset = WORKER_S_(base, retry_base_ms), .help = (retry_help) }, \
	{ .key = "retry.cap", .type = CFG_DURATION, .def = "10s", .min = 1, .max = 600000, \
	  .offset = WORKER_S_(base, retry_cap_ms), .help = "longest backoff" }, \
	{ .key = "event.max_bytes", .type = CFG_SIZE, .def = "1MiB", .min = 1024, .max = 64LL << 20, \
	  .offset = WORKER_S_(base, event_max_bytes), .help = "largest event accepted" }
/* The batch rows of a worker that asks a model (aimem-summarizer, aimem-personality): a batch
 * is also a round of requests, and a model outage under policy wait backs off like the
 * database. */
#define WORKER_MODEL_BATCH_CFG_ITEMS(base) \
	WORKER_BATCH_CFG_ITEMS(base, "500", "50ms", \
	                       "events per transaction at most (with the LLM: per round of requests)", \
	                       "first backoff after a database error (or an LLM outage under policy wait)")
/* readyz.stall_timeout (worker_config.stall_ms): /readyz answers 503 when no batch has
 * committed for this long while the consumer lags (lib/worker_health). */
#define WORKER_READYZ_CFG_ITEM(base) \
	{ .key = "readyz.stall_timeout", .type = CFG_DURATION, .def = "5m", .min = 0, .max = 86400000, \
	  .offset = WORKER_S_(base, stall_ms), \
	  .help = "/readyz answers 503 when no batch has committed for this long while messages wait" \
	          " (the lag is read from the broker even while the worker is stuck); 0: never" }
/* clang-format on */

/* The worker_config of s (its strings borrowed): the live group when replay is NULL, else that
 * replay (borrowed). Events beyond event.max_bytes are refused; turns and turn text keep the
 * defaults of DESIGN §3. */
struct worker_config worker_settings_config(const struct worker_settings *s,
                                            const struct worker_replay *replay);

/* The end of a worker program's --help: signals, systemd and the replay mode; group: how
 * `aimem replay --group` names the program ("..." for the one it is given). */
#define WORKER_USAGE_TAIL(group)                                                                   \
	"Signals: SIGTERM/SIGINT finish the batch, commit, leave the group, exit 0; SIGHUP\n"      \
	"reads log.level again. Under systemd (Type=notify): READY=1 once subscribed,\n"           \
	"STOPPING=1, WATCHDOG=1.\n"                                                                \
	"\n"                                                                                       \
	"  replay --from <RFC 3339|earliest> [--to <RFC 3339>] [--customer N] [--dry-run]\n"       \
	"      reprocess a time range of the topic with a temporary consumer beside the live\n"    \
	"      group (its stored offsets untouched), up to the end offsets at start; prints a\n"   \
	"      report (aimem replay --group " group " runs this)\n"

/* What a worker program's main() holds between worker_prog_start and worker_prog_end. */
struct worker_prog {
	const struct prog_info *info; /* main()'s (borrowed) */
	struct cfg *cfg;              /* the loaded settings: kafka.* for the worker */
	struct worker_replay replay;  /* when replaying */
	bool replaying;               /* "replay ..." after the options */
	struct metrics *metrics;      /* the program's registry, served at /metrics */
	int exit_code;                /* when worker_prog_start does not return PROG_RUN */
};

/*
 * The start of a worker program's main(): sig_setup (before librdkafka, curl and MHD start
 * threads), prog_start(pi), then the replay arguments after the options ("replay --from ...",
 * worker_replay_args). PROG_RUN with *wp filled (worker_prog_end); otherwise the message is
 * printed, nothing is left to free and main returns wp->exit_code (0 or 2).
 */
enum prog_action worker_prog_start(struct worker_prog *wp, const struct prog_info *pi, int argc,
                                   char **argv);

/*
 * The rest of it: creates the worker of s and ops (the live group, or wp's replay) with wp's
 * kafka.* and metrics, serves /healthz, /readyz and /metrics on ms around its run
 * (worker_serve) until a stop, frees it and logs "stopped". 0 after a clean stop, 1 when the
 * run failed, 2 when the worker could not be created (the reason printed as "name: reason").
 */
int worker_prog_run(struct worker_prog *wp, const struct worker_settings *s,
                    const struct metrics_settings *ms, const struct worker_ops *ops);

/* Frees what worker_prog_start made (after what the program built on the metrics). */
void worker_prog_end(struct worker_prog *wp);

#endif

/*
 * aimem-memories: applies memory.put / memory.delete events from aimem.memories.v1 to the
 * memories table, exactly once (lib/worker). This file is the start-up and shutdown story.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "cfg.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "prog.h"
#include "redact_event.h"
#include "worker.h"
#include "worker_settings.h"

struct memories_settings {
	struct worker_settings worker;   /* the worker section (lib/worker_settings.h) */
	struct metrics_settings metrics; /* /healthz, /readyz, /metrics (lib/metrics.h) */
	struct redact_settings redact;   /* the redact.* section (lib/redact.h) */
	char *log_level;
};

#define S(field) offsetof(struct memories_settings, field)
static const struct cfg_item memories_items[] = {
	WORKER_CFG_ITEMS(S(worker), "aimem-memories"),
	KAFKA_TOPICS_MEMORIES_CFG_ITEM(S(worker.topic), "memory.put/delete topic"),
	WORKER_BATCH_CFG_ITEMS(S(worker), "500", "50ms", "events per transaction at most",
	                       "first backoff after a database error"),
	WORKER_READYZ_CFG_ITEM(S(worker)),
	METRICS_CFG_ITEMS(S(metrics), "9103"),
	REDACT_CFG_ITEMS(S(redact)),
	PROG_LOG_CFG_ITEM(S(log_level)),
};
#undef S

static const char memories_usage[] =
    "Usage: aimem-memories [options]\n"
    "\n"
    "Applies memory.put / memory.delete events to the memories table, exactly once:\n"
    "offsets are stored with the rows in one transaction; bad events go to dead_letters.\n"
    "Card, bank and social-security numbers in a memory's value are replaced by\n"
    "placeholders before it is stored (redact.*, docs/redaction.md; SIGHUP reads the\n"
    "policy again too).\n" WORKER_USAGE_TAIL("...");

/* prog_info.check (--check-config): the redaction policy as start-up loads it. */
static int memories_check(const void *settings, char *err, size_t errlen)
{
	const struct memories_settings *s = settings;
	return redact_settings_check(&s->redact, err, errlen);
}

int main(int argc, char **argv)
{
	struct memories_settings s = { 0 };
	const struct prog_info info = {
		.name = "aimem-memories",
		.usage = memories_usage,
		.items = memories_items,
		.nitems = sizeof(memories_items) / sizeof(memories_items[0]),
		.settings = &s,
		.passthrough = KAFKA_CFG_PASSTHROUGH,
		.check = memories_check,
	};
	struct worker_prog wp;
	if (worker_prog_start(&wp, &info, argc, argv) != PROG_RUN)
		return wp.exit_code;
	char err[512];
	struct redact_edge *redact = redact_edge_start(
	    &s.redact, offsetof(struct memories_settings, redact), wp.metrics, err, sizeof(err));
	if (redact == NULL) {
		fprintf(stderr, "aimem-memories: %s\n", err);
		worker_prog_end(&wp);
		return 2;
	}
	const struct worker_ops ops = {
		.accept_types = (1u << EVENT_MEMORY_PUT) | (1u << EVENT_MEMORY_DELETE),
		.apply = memories_apply,
		.tables = memories_tables,
		.redact = redact, /* events produced around the gateway, before they are stored */
	};
	int rc = worker_prog_run(&wp, &s.worker, &s.metrics, &ops);
	redact_edge_free(&redact);
	worker_prog_end(&wp);
	return rc;
}

/*
 * publish: "aimem publish FILE|-", a backfill of events from JSON Lines.
 *
 * Each non-empty line is one call.ended, memory.put or memory.delete event carrying its
 * customer_id (which becomes the message key). Lines are validated with lib/event (a bad line
 * is reported with its number and skipped, never sent), redacted as aimem-ingest redacts (card,
 * bank and social-security numbers replaced, metadata.redaction recorded: lib/redact_event)
 * and produced with the idempotent producer to the topic of their type. Shows progress on a terminal, prints a summary, and
 * fails when anything was rejected or not acknowledged.
 */
#ifndef AIMEM_PUBLISH_H
#define AIMEM_PUBLISH_H

#include <stdbool.h>
#include <stdio.h>

#include "cfg.h"
#include "redact_event.h"

struct publish_opts {
	const char *path; /* "-" for standard input */
	const char *topic_calls;
	const char *topic_memories;
	long long timeout_ms;       /* per-event acknowledgement timeout, and the final flush */
	bool dry_run;               /* validate only */
	FILE *out;                  /* summary */
	struct redact_edge *redact; /* the policy applied to every call.ended (borrowed) */
};

struct publish_report {
	long long lines, sent, rejected, failed;
	long long redacted; /* values replaced by placeholders */
};

/* cfg supplies kafka.* (bootstrap.servers). Returns 0 when every line was sent and
 * acknowledged, 1 otherwise, 2 on a setup error (err set). */
int publish_run(const struct publish_opts *o, const struct cfg *cfg, struct publish_report *r,
                char *err, size_t errlen);

#endif

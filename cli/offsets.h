/*
 * offsets: "aimem offsets show|reset --group G --topic T", the operator's side of a stopped
 * partition (issue 17).
 *
 * A worker stops a partition when its stored next offset (consumer_offsets, the source of
 * truth, DESIGN §5) cannot belong to the topic's log any more: past the log end offset, or
 * with the stored fingerprint of the last committed message not matching the message now at
 * that offset (lib/position). That happens after a topic was deleted and recreated, or the
 * broker came back with an emptied or restored data directory. Only an operator knows what
 * the right position is, so the workers wait.
 *
 * show: per partition of the topic, the stored next offset, the broker's low and high
 * watermarks and the status the workers would find ("ok", "expired": retention deleted
 * messages before they were processed, "beyond_end", "mismatch", "none": nothing stored),
 * verifying the fingerprint by reading the one message at next - 1 (an assign-only consumer:
 * no group is joined, nothing is committed).
 *
 * reset --to earliest|latest|OFFSET [--partition P]: rewrites the stored next offsets (the log
 * start, the log end, or OFFSET; may move backwards) and forgets their fingerprints, in one
 * transaction, logged per partition. Refused while the consumer group has members (its
 * workers must be stopped first: a running worker would keep positions from before the
 * reset); the check runs with the rows locked, so a worker that starts meanwhile waits for
 * the reset's COMMIT before it reads them. A stopped partition runs again when the group's
 * workers restart and find the new offsets in order.
 *
 * Not here: the Kafka-committed offsets (advisory only; the next worker commit rewrites them).
 */
#ifndef AIMEM_OFFSETS_H
#define AIMEM_OFFSETS_H

#include <libpq-fe.h>
#include <stdio.h>

#include "cfg.h"

enum offsets_to { OFFSETS_TO_EARLIEST, OFFSETS_TO_LATEST, OFFSETS_TO_OFFSET };

struct offsets_opts {
	const char *group, *topic;
	long long partition;  /* reset: -1 every partition of the topic */
	enum offsets_to to;   /* reset */
	long long offset;     /* reset, OFFSETS_TO_OFFSET */
	long long timeout_ms; /* per broker request */
	FILE *out;
};

/* Parses "earliest", "latest" or an offset (>= 0) into o->to and o->offset; -1 if neither. */
int offsets_parse_to(const char *text, struct offsets_opts *o) __attribute__((warn_unused_result));

/* Prints the table. Returns 0 when every partition is fine, 1 when some would stop a worker
 * or could not be checked, -1 with err on a setup failure. Blocks (a few broker round trips
 * per partition). */
int offsets_show(PGconn *conn, const struct cfg *cfg, const struct offsets_opts *o, char *err,
                 size_t errlen) __attribute__((warn_unused_result));

/* Resets, printing one line per partition. Returns 0 when done, -1 with err and nothing
 * changed (the group runs, the topic or the offset is wrong, a database error). Blocks. */
int offsets_reset(PGconn *conn, const struct cfg *cfg, const struct offsets_opts *o, char *err,
                  size_t errlen) __attribute__((warn_unused_result));

#endif

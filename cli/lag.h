/*
 * lag: "aimem lag [--group G] [--json]", how far each consumer group is behind.
 *
 * Per (group, topic, partition) of consumer_offsets, the source of truth for where a group
 * resumes (DESIGN §5): the stored next offset, the partition's low and high watermarks
 * (rd_kafka_query_watermark_offsets), the lag (high - max(next, low): events still to
 * process; offsets below low were deleted by retention before being processed and are
 * reported as "expired"), and the age of the oldest unprocessed event.
 *
 * The age is the timestamp of the message at the first unprocessed offset, fetched by a
 * short-lived consumer that assigns that one partition at that offset and reads one message
 * (never subscribes, never commits, so no group is joined and no offset is moved). Not
 * offsets_for_times: it maps a time to an offset, the opposite question, and cannot tell
 * the time of a given offset. CreateTime topics give the producer's time (ingest and publish
 * set it when the event is produced).
 *
 * Not here: the live groups' Kafka-committed offsets (advisory only, for KEDA).
 */
#ifndef AIMEM_LAG_H
#define AIMEM_LAG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

#include "cfg.h"

struct lag_opts {
	const char *group;    /* NULL: every group */
	long long timeout_ms; /* per broker request (watermarks, one-message fetch) */
	bool json;
	FILE *out;
};

/* Reads consumer_offsets on conn, asks the brokers of cfg (kafka.*). Returns 0 when every
 * partition was answered, 1 when some were not (shown with their error), -1 with err set on
 * a setup failure (database, client). Blocks up to a few timeouts per partition. */
int lag_run(PGconn *conn, const struct cfg *cfg, const struct lag_opts *o, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

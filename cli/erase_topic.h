/*
 * erase_topic: erasures kept where a database restore cannot undo them (issue 17).
 *
 * `aimem erase` deletes a caller's rows and records the erasure in PostgreSQL; a restore of a
 * backup taken before it brings both the rows and the missing erasure back, and the workers,
 * resuming from the restored offsets, would then even write the caller's later calls again.
 * So every erasure is also published, before anything is deleted, to a compacted Kafka topic
 * (topics.erasures, default aimem.erasures.v1) keyed "customer:user", one record per caller
 * that compaction keeps for as long as the topic exists (a tombstone, a NULL value, withdraws
 * it). After a restore `aimem erase --reapply` reads the whole topic and erases every caller
 * whose latest record is an erasure again (erase_run: idempotent, the erasures row comes back
 * with it), before the workers start.
 *
 * Deliberately not here: the workers do not read the topic (they read `erasures`, which the
 * reapply restores); a worker started before the reapply can write an erased caller's rows,
 * which the reapply then deletes. The runbook (docs/OPERATIONS.md) orders the steps.
 *
 * Value: {"type":"caller.erased","version":1,"customer_id":N,"user_id":"U","erased_at":"..."}.
 */
#ifndef AIMEM_ERASE_TOPIC_H
#define AIMEM_ERASE_TOPIC_H

#include <libpq-fe.h>
#include <stdio.h>

#include "cfg.h"

/* Publishes the erasure of user_id at customer_id to topic and waits for the broker's
 * acknowledgement (idempotent producer, acks=all). Returns 0, or -1 with err. Blocks. */
int erase_topic_record(const struct cfg *cfg, const char *topic, long long customer_id,
                       const char *user_id, long long timeout_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));

struct erase_reapply_report {
	long long records;    /* read from the topic */
	long long callers;    /* distinct keys whose latest record is an erasure */
	long long withdrawn;  /* keys whose latest record is a tombstone */
	long long unreadable; /* records that are not an erasure of this format (reported) */
	long long rows;       /* rows the re-applied erasures deleted */
};

/*
 * Reads topic up to its current end and runs erase_run for every caller erased there, on conn
 * (aimem_worker or an administrator), printing each caller that lost rows and a summary to
 * out. Returns 0, 1 when some records were unreadable or an erasure failed (reported on
 * stderr; the others are applied), or -1 with err when the topic could not be read. Blocks.
 */
int erase_topic_reapply(PGconn *conn, const struct cfg *cfg, const char *topic,
                        long long timeout_ms, FILE *out, struct erase_reapply_report *r, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

#endif

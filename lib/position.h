/*
 * position: does a consumer group's stored position still belong to the partition log the
 * broker has now? (issue 17: a recreated topic or an emptied broker must never make the
 * workers skip new events silently.)
 *
 * Two checks, both pure so the worker and `aimem offsets` decide the same way:
 *  - against the watermarks: a stored next offset past the log end offset cannot come from
 *    this log (consumers only ever see offsets below the high watermark): BEYOND_END, the
 *    partition stops. One below the log start offset means retention (or a truncation)
 *    deleted messages before they were processed: EXPIRED, reported and resumed at the log
 *    start, since the data is gone from Kafka whatever we do;
 *  - against the message itself: a fingerprint of the last committed message (its timestamp,
 *    key and payload) is stored with the offset, and compared with the message found at
 *    next - 1 now. This catches a recreated topic that already holds more messages than the
 *    stored offset, which the watermarks alone cannot see.
 *
 * Not here: Kafka topic ids (librdkafka 2.0.2 has no API for them), any I/O.
 */
#ifndef AIMEM_POSITION_H
#define AIMEM_POSITION_H

#include <stdbool.h>
#include <stddef.h>

enum position_status {
	POSITION_OK = 0,
	POSITION_EXPIRED = 1,    /* next < low: messages deleted before being processed */
	POSITION_BEYOND_END = 2, /* next > high: not this log; stop */
	POSITION_MISMATCH = 3,   /* the message at next - 1 is not the one committed; stop */
};

/* The watermark check of a stored next offset (low, high: the partition's log start and end
 * offsets). */
enum position_status position_check(long long next, long long low, long long high);

/* True for the statuses that stop a partition until an operator decides. */
bool position_stops(enum position_status st);

/* "ok", "expired", "beyond_end" or "mismatch". */
const char *position_status_name(enum position_status st);

/*
 * The offset of the message to compare with the stored fingerprint: next - 1 when that
 * message can still be read (low <= next - 1 < high) and a fingerprint is stored, else -1
 * (nothing to verify: a new partition, rows from before migration 005, a reset, retention).
 */
long long position_verify_offset(long long next, long long low, long long high, bool have_fp);

/* FNV-1a (64 bits) over the timestamp (ms, -1 if none), the key (NULL: none, distinct from
 * empty) and the payload; as a signed value for a bigint column. Never fails. */
long long position_fingerprint(long long ts_ms, const void *key, size_t keylen, const void *payload,
                               size_t len);

#endif

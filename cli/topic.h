/*
 * topic: the few Kafka moves the operator commands share beyond lag and offsets: read the one
 * message at an offset, read a whole (compacted) topic up to the end it has now, and produce
 * one message with the idempotent producer and wait until the broker acknowledged it.
 *
 * Readers assign partitions themselves: they never join a consumer group and commit nothing,
 * so they can run beside the live workers. The producer is for a handful of messages an
 * operator sends (a requeue, an erasure), not a throughput path: it waits for each delivery.
 * Everything runs on the caller's thread (librdkafka's callbacks are served from its polls);
 * every call blocks up to the timeout it is given. kafka.* settings pass through (TLS, SASL).
 */
#ifndef AIMEM_TOPIC_H
#define AIMEM_TOPIC_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

/* True when cfg names a broker (kafka.bootstrap.servers set and not empty). */
bool topic_configured(const struct cfg *cfg);

/* An assign-only consumer (group.id name, never joined, nothing committed or stored); eof:
 * whether it reports the end of a partition (RD_KAFKA_RESP_ERR__PARTITION_EOF). NULL with err.
 * aimem lag, offsets, dead-letters and erase --reapply read the log through it. */
rd_kafka_t *topic_reader_new(const struct cfg *cfg, const char *name, bool eof, char *err,
                             size_t errlen) __attribute__((warn_unused_result));

/*
 * The message at topic/partition/offset: 1 with *out (owned: rd_kafka_message_destroy it),
 * 0 when the log no longer (or not yet) holds that offset (*low and *high say what it holds),
 * -1 with err on a broker error or when it did not arrive within timeout_ms.
 */
int topic_read_at(rd_kafka_t *rk, const char *topic, int partition, long long offset,
                  long long timeout_ms, rd_kafka_message_t **out, long long *low, long long *high,
                  char *err, size_t errlen) __attribute__((warn_unused_result));

/* Called for each message of topic_read_all, in offset order within a partition; rkm is
 * borrowed for the call. Non-zero stops the read (returned by topic_read_all). */
typedef int (*topic_each_fn)(void *arg, const rd_kafka_message_t *rkm);

/*
 * Every message of topic from each partition's log start up to its high watermark as it was
 * when the call started (what arrives later is not read). Returns 0, fn's non-zero value, or
 * -1 with err (no such topic, a broker error, a fetch that stalled for timeout_ms).
 */
int topic_read_all(rd_kafka_t *rk, const char *topic, long long timeout_ms, topic_each_fn fn,
                   void *arg, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The idempotent producer (acks=all) whose deliveries topic_produce waits for. NULL with err. */
rd_kafka_t *topic_producer_new(const struct cfg *cfg, long long timeout_ms, char *err,
                               size_t errlen) __attribute__((warn_unused_result));

/*
 * Produces one message (value NULL: a tombstone) with hdrs (taken, also on failure; may be
 * NULL) and waits for the broker's acknowledgement. Returns 0 with *partition and *offset
 * where it landed, or -1 with err (not acknowledged within the producer's timeout).
 */
int topic_produce(rd_kafka_t *rk, const char *topic, const char *key, size_t key_len,
                  const void *value, size_t len, rd_kafka_headers_t *hdrs, int *partition,
                  long long *offset, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif

/*
 * worker_health: what a live worker's /readyz and lag gauge report (issue 17), kept apart
 * from the consume loop so the loop only reports events (assigned, revoked, a position, a
 * batch done) and the verdict is a pure function.
 *
 * Not ready (503) when:
 *   - a partition is stopped (its stored offset does not belong to the log: lib/worker);
 *   - the consumer has had no assignment for longer than the group session timeout (it
 *     never joined, or it was revoked and did not come back: a broker it cannot reach, a
 *     group it cannot join). An empty assignment (more members than partitions) is a member
 *     with nothing to do, which is ready;
 *   - no batch has committed for readyz.stall_timeout while the consumer lags: the clock
 *     starts at the later of the last committed batch and the last time no lag was seen, so
 *     a message arriving after an idle hour does not flip /readyz. A partition whose position
 *     is not known yet (held while the database is down) counts as lagging when its log is
 *     not empty.
 *
 * Lag: aimem_worker_lag_messages{group,partition} = high watermark - next offset to process,
 * for the partitions this member holds. A thread of its own asks the broker for the high
 * watermarks every poll interval (rd_kafka_query_watermark_offsets, outside the consume
 * loop), so the gauge keeps moving while the worker is stuck in a batch (database down, a
 * lock, a model outage); after each commit the loop also updates it from librdkafka's cached
 * watermark (no round trip). A revoked partition's series is removed, so a partition is
 * reported by the member that holds it only.
 *
 * Threads: the report functions run on the worker's thread, worker_health_ready on an MHD
 * thread, the watermark poller on its own; one mutex guards the state.
 */
#ifndef AIMEM_WORKER_HEALTH_H
#define AIMEM_WORKER_HEALTH_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"

struct worker_health_config {
	long long session_ms; /* group session timeout: longest time without an assignment */
	long long stall_ms;   /* longest time without a batch while lagging; 0: not checked */
	long long poll_ms;    /* how often the broker's high watermarks are asked for */
};

/* What the verdict looks at (a snapshot; times in ms on the monotonic clock). */
struct worker_health_state {
	const char *group, *topic; /* named in the reasons */
	int stopped;               /* partitions stopped */
	bool member;               /* holds an assignment (possibly empty) */
	long long unassigned_ms;   /* since when it holds none (start, or the last revoke) */
	long long progress_ms; /* later of the last batch committed and the last time caught up */
	long long lag;         /* sum over the partitions whose position is known */
	int unknown_behind;    /* partitions held, position unknown, log not empty */
};

/* The verdict: true when ready; otherwise a reason for operators in why. Pure. */
bool worker_health_verdict(const struct worker_health_config *hc,
                           const struct worker_health_state *st, long long now_ms, char *why,
                           size_t whylen);

struct worker_health;

/* group and topic are copied; m (borrowed) must outlive the object. Never NULL. */
struct worker_health *worker_health_new(const struct worker_health_config *hc, struct metrics *m,
                                        const char *group, const char *topic);
/* Stops the poller if it runs; accepts NULL and clears the pointer. */
void worker_health_free(struct worker_health **h);

/* Starts the watermark poller on rk (borrowed; thread-safe calls only). Stop it with
 * worker_health_stop before rd_kafka_consumer_close. -1 when the thread cannot start (the
 * lag then moves after batches only). Both accept NULL (a replay has no health). */
int worker_health_start(struct worker_health *h, rd_kafka_t *rk);
void worker_health_stop(struct worker_health *h);

/* The rebalance callback's news: parts are now this member's (positions unknown until
 * worker_health_position), or no longer. */
void worker_health_assigned(struct worker_health *h, const rd_kafka_topic_partition_list_t *parts);
void worker_health_revoked(struct worker_health *h, const rd_kafka_topic_partition_list_t *parts);
/* The next offset to process of a held partition is known (checked, or a batch committed);
 * updates its lag from librdkafka's cached watermark. */
void worker_health_position(struct worker_health *h, int32_t partition, long long next);
/* A batch committed. */
void worker_health_batch_done(struct worker_health *h);
/* GET /readyz: the verdict over the current state with stopped partitions. */
bool worker_health_ready(struct worker_health *h, int stopped, char *why, size_t whylen);

#endif

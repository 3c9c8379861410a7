/*
 * worker: the exactly-once consume loop every worker program shares (DESIGN §5).
 *
 * One consumer in a group (eager range assignor, rd_kafka_consumer_poll, librdkafka 2.0.2)
 * and one PostgreSQL connection as aimem_worker. The next offset of each partition lives in
 * consumer_offsets and is written in the same transaction as the rows the batch produced;
 * the rebalance callback loads it and hands it to rd_kafka_assign, and messages below it are
 * skipped. With it is stored a fingerprint of the last committed message (lib/position).
 * Every assigned partition is held paused until, outside the callback, its stored position
 * has been checked against the broker's log: past the high watermark, or a different message
 * at next - 1 (a recreated topic, an emptied or restored broker), stops the partition (left
 * paused, nothing applied, error logged, /readyz 503) until an operator resets the offsets
 * with the group stopped (`aimem offsets`); below the log start (retention) is logged and
 * resumed at the log start. A position lost while running (auto.offset.reset=error) is
 * checked again the same way. Per batch:
 *
 *   BEGIN; lock this group's stored offsets (FOR UPDATE) and skip every message below them,
 *   which fences a paused "zombie" whose partitions moved (it waits for the new owner's
 *   COMMIT, then applies nothing twice); for each tenant of the batch, in arrival order: set
 *   the tenant (set_config(...,
 *   true)), drop events of erased callers, apply the rest (the program's apply callback);
 *   dead letters for events that failed validation; consumer_offsets upserted (never
 *   backwards); COMMIT;
 *   then an advisory commit to Kafka for lag tooling.
 *
 * Failures: a data error of one event (SQLSTATE class 22/23) makes the batch run again with
 * a savepoint per event and that event dead-lettered; other database errors roll back and
 * retry with capped jittered backoff, never advancing; a connection lost (COMMIT outcome
 * unknown) reconnects and restarts from the stored offsets. SIGTERM finishes the batch,
 * commits, leaves the group and returns. Metrics (label group): aimem_worker_processed_total,
 * _dead_lettered_total, _skipped_total, _erased_dropped_total, _batch_retries_total,
 * _batch_seconds, _freshness_seconds (message timestamp to COMMIT, buckets up to an hour),
 * _partitions_stopped and aimem_worker_lag_messages{partition}. /readyz and the lag gauge:
 * lib/worker_health (a stopped partition, no assignment for longer than the session timeout,
 * no batch for readyz.stall_timeout while lagging; lag from the broker's watermarks, asked
 * for by a thread of its own). Threads: the loop runs on the caller's thread (librdkafka's
 * callbacks are served from rd_kafka_consumer_poll there); the watermark poller on its own.
 */
#ifndef AIMEM_WORKER_H
#define AIMEM_WORKER_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

#include "cfg.h"
#include "db.h"
#include "event.h"
#include "metrics.h"

/*
 * Replay (DESIGN §5, `aimem replay`): instead of joining the group, a temporary consumer
 * assigns every partition of the topic itself, from the first message at or after from_ms
 * (offsets-for-times; or the earliest kept) up to the end offsets captured when it starts
 * (or the first message at or after to_ms), runs the same prepare/apply code and upserts, and
 * stops. It never reads or writes consumer_offsets (the live group's positions are untouched)
 * and commits nothing to Kafka; dead letters are written as the live group would. A lost
 * connection retries the batch (upserts make that harmless). dry_run rolls every batch back.
 */
struct worker_replay {
	long long from_ms;  /* Unix ms; -1: the earliest message kept */
	long long to_ms;    /* Unix ms; -1: up to the end offsets at start */
	long long customer; /* 0: every tenant; else only messages keyed with this tenant */
	bool dry_run;       /* roll each batch back: count, change nothing */
};

/* What a replay did (worker_replay_report). */
struct worker_replay_stats {
	unsigned long long read;          /* messages consumed in the range */
	unsigned long long other_tenants; /* skipped by the customer filter */
	unsigned long long applied;       /* valid events applied */
	unsigned long long erased;        /* dropped: the caller was erased */
	unsigned long long dead_letters;  /* written (or, dry run, that would be) */
	unsigned long long rows_changed;  /* rows inserted, updated or deleted in tenant tables */
	double seconds;
};

struct worker_config {
	const char *group; /* consumer group, also the consumer_offsets key */
	const char *topic;
	const char *db_url; /* aimem_worker */
	size_t batch_max;   /* messages per transaction */
	long long batch_ms; /* longest wait to fill a batch */
	long long retry_base_ms, retry_cap_ms;
	struct event_limits limits;
	const struct worker_replay *replay; /* NULL: the live consumer group */
	long long stall_ms; /* readyz.stall_timeout (worker_settings.h); 0: not checked */
};

/* One valid event of a batch, as the program sees it. */
struct worker_job {
	const struct event *ev;        /* decoded and validated; tenant = ev->customer_id */
	const rd_kafka_message_t *rkm; /* its message (topic, partition, offset, timestamp) */
	void *prep; /* the program's prepared result: set by prepare, freed by release */
	/* prepare may refuse the event: a static code (e.g. "llm_failed") and a reason without
	 * content; the event then goes to dead_letters with the batch, like a malformed one */
	const char *reject_code;
	char reject_err[200];
};

/*
 * Optional, per batch: work done before the transaction and outside the database (e.g. LLM
 * calls, all of the batch's in flight at once), on the worker's thread. jobs are the batch's
 * valid, accepted events in arrival order. Returns WORKER_PREPARED, or WORKER_RETRY when it
 * cannot finish now (an LLM outage under the "wait" policy): the worker waits a capped,
 * jittered backoff and calls it again with the same jobs (prep values kept, so only what is
 * missing needs redoing); the batch never advances meanwhile, and a stop request drops it
 * uncommitted. Runs once per batch: database retries of the transaction reuse the results.
 */
enum { WORKER_PREPARED = 0, WORKER_RETRY = 1 };
typedef int (*worker_prepare_fn)(void *ctx, struct worker_job *const *jobs, size_t n);
/* Frees one job's prep (called once for every non-NULL prep when the batch is dropped). */
typedef void (*worker_release_fn)(void *ctx, void *prep);

/* What a worker program does with one valid event, inside the batch transaction with the
 * event's tenant set. Returns DB_OK, DB_DATA (this event cannot be stored: dead-letter it),
 * DB_ERROR (transient: the batch is retried) or DB_CONN_LOST; err for logs. May run more than
 * once for the same job (the transaction is retried), so it must only write through conn. */
typedef int (*worker_apply_fn)(void *ctx, PGconn *conn, const struct worker_job *job, char *err,
                               size_t errlen);

/*
 * Optional, and faster: applies several valid events of one tenant at once (the tenant is set,
 * erased callers already removed), e.g. as one multi-row upsert. Same statuses as apply; on
 * DB_DATA the batch runs again event by event (n = 1, each under a savepoint) to find and
 * dead-letter the bad one, so a program with apply_batch needs no apply.
 */
typedef int (*worker_apply_batch_fn)(void *ctx, PGconn *conn, struct worker_job *const *jobs,
                                     size_t n, char *err, size_t errlen);

struct worker_ops {
	unsigned accept_types; /* bit (1 << enum event_type) of the types this worker applies */
	worker_apply_fn apply; /* one of apply and apply_batch */
	void *ctx;
	worker_prepare_fn prepare; /* NULL: nothing to prepare */
	worker_release_fn release; /* NULL: prep is not owned */
	worker_apply_batch_fn apply_batch;
	/* NULL: events as they come; else each call.ended's turns are redacted (lib/redact_event)
	 * as soon as it is decoded, before prepare, apply or anything else sees it (borrowed) */
	struct redact_edge *redact;
	/* The tables apply writes, NULL-terminated (static): the rows a replay reports as changed
	 * are these tables' inserts, updates and deletes in its transactions. NULL: none counted */
	const char *const *tables;
};

struct worker;
struct redact_edge;

/* cfg supplies kafka.* (bootstrap.servers is required). NULL with err on bad settings. */
struct worker *worker_new(const struct worker_config *wc, const struct worker_ops *ops,
                          const struct cfg *cfg, struct metrics *m, char *err, size_t errlen);
/* Runs until sig_stop_requested(); returns 0 after a clean shutdown. Blocks. In replay mode
 * it returns 0 when the range is done (or after a stop request), -1 when it could not start. */
int worker_run(struct worker *w);
/* worker_run with the program's /healthz, /readyz (lib/worker_health's verdict) and
 * /metrics server on bind:port around it (none in replay mode, which also prints its report to stdout at the end). name labels the
 * server. Returns worker_run's result. */
int worker_serve(struct worker *w, const char *name, const char *http_bind, int http_port);

/* A call.ended job's end time as RFC 3339 text: ended_at, or the message timestamp when the
 * event has none (DESIGN §3). */
void worker_job_ended_at(const struct worker_job *job, char *out, size_t outlen);

/* The replay's figures so far. */
void worker_replay_report(const struct worker *w, struct worker_replay_stats *out);
/* Prints them as "replay: key=value ..." lines (the report `aimem replay` shows). */
void worker_replay_print(const struct worker *w, FILE *out);
/*
 * Parses a worker program's replay arguments: "replay --from <RFC 3339|earliest>
 * [--to <RFC 3339>] [--customer N] [--dry-run]" from argv[argi..]. Returns 1 and fills *out
 * when argv[argi] is "replay", 0 when there are no arguments left, -1 with err otherwise.
 */
int worker_replay_args(int argc, char **argv, int argi, struct worker_replay *out, char *err,
                       size_t errlen);
void worker_free(struct worker **w);

#endif

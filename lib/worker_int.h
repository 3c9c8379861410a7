/*
 * worker_int: the inside of lib/worker, shared by its files and by nothing else (programs see
 * worker.h only). The loop is one object, struct worker, driven by a mode: the live consumer
 * group (worker.c with worker_assign.c and worker_offsets.c) or a replay (worker_replay.c).
 * What is the same for both, a batch filled, applied and committed, lives in worker_batch.c and
 * worker_apply.c and asks the mode at the few points where they differ (struct worker_mode).
 *
 * Files and what each owns:
 *   worker.c          set-up, the live mode (its loop, /readyz, the advisory Kafka commit)
 *   worker_assign.c   live partitions: held until checked, settled, stopped, fingerprints
 *   worker_offsets.c  consumer_offsets: load, store, and the fence inside the transaction
 *   worker_batch.c    one batch: fill from the consumer, prepare, transaction, after COMMIT
 *   worker_apply.c    inside the transaction: erasures, the program's apply, dead letters
 *   worker_replay.c   the replay mode and its arguments
 * Every function here runs on the worker's thread (the rebalance callback included, inside
 * rd_kafka_consumer_poll) unless it says otherwise.
 */
#ifndef AIMEM_WORKER_INT_H
#define AIMEM_WORKER_INT_H

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "db.h"
#include "event.h"
#include "metrics.h"
#include "position.h"
#include "worker.h"
#include "worker_health.h"

#define WORKER_MAGIC 0x574f524bu

struct wpart {
	long long next;   /* next offset to process; -1 when not assigned (or held, stopped) */
	long long end;    /* replay: the first offset past the range */
	long long seen;   /* replay: the next offset the consumer will hand us */
	long long verify; /* offset whose message must match fp before any is taken; -1 none */
	long long fp;     /* stored fingerprint of the message at next - 1 (when have_fp) */
	long long want;   /* the offset the consumer should hand us next (-1: unknown) */
	long long gap_at; /* a gap seen before want, read again once: accepted if it recurs */
	bool have_fp;
	bool stopped; /* the stored position is not this log's: paused until an operator acts */
};

struct wmsg {
	rd_kafka_message_t *rkm;
	struct event ev;
	struct worker_job job; /* ev, rkm and the program's prep, for valid accepted events */
	int status;            /* EVENT_OK, an event status, or WMSG_* below */
	bool erased;           /* the caller was erased: dropped, not applied */
	char code[32];         /* dead-letter code */
	char err[200];         /* dead-letter reason (never the payload) */
};

enum {
	WMSG_WRONG_TYPE = -100,
	WMSG_STORE = -101,
	WMSG_EMPTY = -102,
	WMSG_STALE = -103,
	WMSG_REJECTED = -104, /* refused by the program's prepare step */
};

/*
 * Where the live group and a replay differ; everything else is one code path. Every member
 * is set (no NULL checks at the call sites).
 */
struct worker_mode {
	const char *group_suffix; /* appended to group.id: a replay never joins the live group */
	const char *offset_reset; /* auto.offset.reset */
	/* a gap in a partition's offsets is read again (worker_batch.c worker_gap): the live
	 * group's; a replay reads a range of its own (--customer drops messages in admit) */
	bool consecutive;
	/* the group's rebalance callback (NULL: the mode assigns partitions itself) */
	void (*rebalance)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
	                  rd_kafka_topic_partition_list_t *parts, void *opaque);
	/* after worker_new's common part: the mode's own state (wc->replay for a replay) */
	void (*init)(struct worker *w, const struct worker_config *wc);
	void (*fini)(struct worker *w);
	/* worker_run and worker_serve */
	int (*run)(struct worker *w);
	int (*serve)(struct worker *w, const char *name, const char *http_bind, int http_port);
	/* a message before it is decoded: false when the mode took it (dropped or stopped) */
	bool (*admit)(struct worker *w, struct wpart *p, rd_kafka_message_t *rkm);
	/* the consumer's position left a partition's log (RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) */
	void (*position_lost)(struct worker *w, const rd_kafka_message_t *rkm);
	/* true when filling must stop now (a replay that read its whole range) */
	bool (*filled)(const struct worker *w);
	/* inside the transaction, first: DB_* status */
	int (*begin)(struct worker *w);
	/* inside the transaction, last: DB_* status; *rollback: roll back instead of COMMIT */
	int (*finish)(struct worker *w, bool *rollback);
	/* after COMMIT, the batch's positions updated, before it is dropped */
	void (*committed)(struct worker *w);
	/* the connection was lost with the batch in hand: true to retry it, false to give it up */
	bool (*conn_lost)(struct worker *w);
};

extern const struct worker_mode worker_mode_live, worker_mode_replay;

struct worker_replay_run; /* worker_replay.c */

struct worker {
	unsigned magic;
	const struct worker_mode *mode;
	struct worker_config wc;
	char *group, *topic, *db_url;
	struct worker_ops ops;
	rd_kafka_t *rk;
	PGconn *conn;
	struct wpart *parts;
	size_t nparts;
	struct wmsg *batch;
	size_t nbatch;
	struct backoff bo;
	struct db_stmt erased_stmt, erase_lock_stmt;
	rd_kafka_topic_partition_list_t *pending; /* held paused until offsets load (owned) */
	bool pending_loaded; /* pending's offset fields hold the stored offsets already */
	atomic_int nstopped; /* partitions stopped (read by /readyz on an MHD thread) */
	struct metrics_gauge *stopped_gauge;
	struct metrics_counter *processed, *dead, *skipped, *erased, *retries;
	struct metrics_counter *gaps; /* offsets missing from the log, accepted (worker_gap) */
	struct metrics_histogram *batch_seconds, *freshness;
	struct metrics *m;
	struct worker_health *health;     /* /readyz and lag; NULL in replay mode */
	long long session_ms;             /* the group's session.timeout.ms */
	struct worker_replay_run *replay; /* the replay's state; NULL in the live group */
	long long commit_window_ms;       /* test hook, see worker_commit_window */
};

/* ---- worker_batch.c ---------------------------------------------------------------------- */
struct wpart *worker_part(struct worker *w, int32_t p);
void worker_connect(struct worker *w);
void worker_drop_batch(struct worker *w);
void worker_fill(struct worker *w);
/* Commits the current batch, retrying transient failures; never advances on failure. */
void worker_commit_batch(struct worker *w);

/* ---- worker_apply.c ---------------------------------------------------------------------- */
/* The erasure statements of w (worker_new). */
void worker_apply_init(struct worker *w);
void worker_mark(struct wmsg *m, int status, const char *code, const char *err);
/* The batch's valid messages grouped by tenant, arrival order within a tenant (owned). */
struct wmsg **worker_by_tenant(struct worker *w, size_t *n);
/* Marks the messages of g (one tenant, set) whose caller was erased; lock: take the erasure
 * locks first (inside the batch's transaction). */
int worker_erased(struct worker *w, struct wmsg *const *g, size_t n, bool lock, char *err,
                  size_t errlen);
/* Every tenant's events of the batch (isolate: one by one under savepoints). */
int worker_apply_all(struct worker *w, bool isolate);
int worker_dead_letter(struct worker *w, const struct wmsg *m);

/* ---- worker_offsets.c -------------------------------------------------------------------- */
int worker_try_offsets(struct worker *w, rd_kafka_topic_partition_list_t *parts,
                       long long timeout_ms);
int worker_fence(struct worker *w);
int worker_store_offsets(struct worker *w);

/* ---- worker_assign.c --------------------------------------------------------------------- */
void worker_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque);
void worker_settle(struct worker *w);
void worker_out_of_range(struct worker *w, const rd_kafka_message_t *rkm);
bool worker_admit_live(struct worker *w, struct wpart *p, rd_kafka_message_t *rkm);
void worker_restart_from_stored(struct worker *w);

#endif

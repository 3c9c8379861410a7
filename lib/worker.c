/*
 * worker: the exactly-once consume loop (see worker.h): set-up and the live mode, the consumer
 * group's loop with its /readyz server and its advice to Kafka. The batch lives on this thread
 * only; the rebalance callback runs inside rd_kafka_consumer_poll on the same thread. How the
 * files of lib/worker divide the work: worker_int.h.
 */
#include "worker.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "db.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "notify.h"
#include "num.h"
#include "sig.h"
#include "worker_health.h"
#include "worker_int.h"
#include "xalloc.h"

void worker_job_ended_at(const struct worker_job *job, char *out, size_t outlen)
{
	if (job->ev->call.ended_at != NULL) {
		snprintf(out, outlen, "%s", job->ev->call.ended_at);
		return;
	}
	rd_kafka_timestamp_type_t type;
	int64_t ms = rd_kafka_message_timestamp(job->rkm, &type);
	if (ms < 0)
		ms = 0;
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char day[32];
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", day, (int)(ms % 1000));
}

/* ---- the live mode ----------------------------------------------------------------------- */

/* GET /readyz, on an MHD thread: lib/worker_health's verdict (a stopped partition, no
 * assignment for longer than the session timeout, a stall while lagging). nstopped is atomic;
 * the health object has its own lock. */
static bool worker_ready(void *ctx, char *why, size_t whylen)
{
	struct worker *w = ctx;
	if (w == NULL || w->magic != WORKER_MAGIC)
		abort();
	return w->health == NULL ||
	       worker_health_ready(w->health, atomic_load(&w->nstopped), why, whylen);
}

/* The lag poller and /readyz's verdict (lib/worker_health), from the consumer's settings. */
static void worker_live_init(struct worker *w, const struct worker_config *wc)
{
	long long poll = wc->stall_ms / 4; /* several looks within one stall timeout */
	const struct worker_health_config hc = {
		.session_ms = w->session_ms,
		.stall_ms = wc->stall_ms,
		.poll_ms = poll <= 0 || poll > 5000 ? 5000
		           : poll < 250             ? 250
		                                    : poll,
	};
	w->health = worker_health_new(&hc, w->m, w->group, w->topic);
}

static void worker_live_fini(struct worker *w)
{
	(void)w; /* the health object goes in worker_free, after the consumer it asks through */
}

/* Never stops filling early: the group reads until a batch is full or batch_ms passed. */
static bool worker_live_filled(const struct worker *w)
{
	(void)w;
	return false;
}

/* The stored offsets of the batch's partitions, to be moved with its rows. */
static int worker_live_finish(struct worker *w, bool *rollback)
{
	*rollback = false;
	return worker_store_offsets(w);
}

/* Advice to Kafka for lag tooling (the database is the truth) and the health's positions. */
static void worker_live_committed(struct worker *w)
{
	rd_kafka_topic_partition_list_t *advice = rd_kafka_topic_partition_list_new(4);
	for (size_t p = 0; p < w->nparts; p++)
		if (w->parts[p].next >= 0) {
			rd_kafka_topic_partition_list_add(advice, w->topic, (int32_t)p)->offset =
			    w->parts[p].next;
			worker_health_position(w->health, (int32_t)p, w->parts[p].next);
		}
	worker_health_batch_done(w->health);
	if (advice->cnt > 0)
		rd_kafka_commit(w->rk, advice, 1); /* advice only: the database is the truth */
	rd_kafka_topic_partition_list_destroy(advice);
}

/* The COMMIT's outcome is unknown: give the batch up and restart from the stored offsets. */
static bool worker_live_conn_lost(struct worker *w)
{
	log_warn("database connection lost: restarting from the stored offsets");
	worker_restart_from_stored(w);
	return false;
}

/* The live group's /healthz, /readyz and /metrics around its loop. */
static int worker_live_serve(struct worker *w, const char *name, const char *http_bind,
                             int http_port)
{
	char err[256];
	const struct http_config hc = { .bind = http_bind,
		                        .port = http_port,
		                        .threads = 2,
		                        .conn_timeout_s = 30,
		                        .max_conns = 64,
		                        .max_body = 4096,
		                        .program = name };
	struct http_server *srv =
	    http_server_start(&hc, NULL, 0, w, worker_ready, w->m, err, sizeof(err));
	if (srv == NULL)
		log_warn("no metrics endpoint: %s", err);
	else
		log_info("metrics port=%d", http_server_port(srv));
	int rc = w->mode->run(w);
	http_server_stop(&srv, 1000);
	return rc;
}

/* The consumer group's loop: subscribe, then batches until a stop request, then leave. */
static int worker_live_run(struct worker *w)
{
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, w->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(w->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (e) {
		log_error("cannot subscribe topic=%s error=\"%s\"", w->topic, rd_kafka_err2str(e));
		return -1;
	}
	log_info("ready group=%s topic=%s", w->group, w->topic);
	notify_ready("consuming");             /* systemd Type=notify; sig_wait sends WATCHDOG=1 */
	worker_health_start(w->health, w->rk); /* watermarks asked for outside this loop */
	while (!sig_stop_requested()) {
		worker_settle(w); /* partitions held since the database did not answer, if any */
		worker_fill(w);
		worker_commit_batch(w);
	}
	notify_stopping();
	/* the batch in hand was committed above (or stays for the next owner) */
	worker_drop_batch(w);
	worker_health_stop(w->health); /* before the handle it asks through closes */
	log_info("leaving the group group=%s", w->group);
	rd_kafka_consumer_close(w->rk);
	return 0;
}

const struct worker_mode worker_mode_live = {
	.group_suffix = "",
	/* never let librdkafka move a position it lost (a truncated log, a broker that lost
	 * it): the error comes back through poll and the partition is checked again */
	.offset_reset = "error",
	.consecutive = true,
	.rebalance = worker_rebalance,
	.init = worker_live_init,
	.fini = worker_live_fini,
	.run = worker_live_run,
	.serve = worker_live_serve,
	.admit = worker_admit_live,
	.position_lost = worker_out_of_range,
	.filled = worker_live_filled,
	.begin = worker_fence,
	.finish = worker_live_finish,
	.committed = worker_live_committed,
	.conn_lost = worker_live_conn_lost,
};

/* ---- entry points ------------------------------------------------------------------------ */

int worker_serve(struct worker *w, const char *name, const char *http_bind, int http_port)
{
	return w->mode->serve(w, name, http_bind, http_port);
}

int worker_run(struct worker *w)
{
	return w->mode->run(w);
}

/* ---- set-up ------------------------------------------------------------------------- */

/* The workers' group session (see worker_consumer), unless kafka.session.timeout.ms says. */
#define WORKER_SESSION_MS 10000
#define WORKER_SESSION_MS_TEXT "10000"

/* Sets librdkafka's key to value unless the settings give kafka.<key> (the operator's wins).
 * Returns 0 or -1 with err. */
static int worker_conf_default(rd_kafka_conf_t *conf, const struct cfg *cfg, const char *key,
                               const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; cfg != NULL && i < cfg_passthrough_count(cfg); i++) {
		const char *k, *v;
		cfg_passthrough_get(cfg, i, &k, &v);
		if (strncmp(k, "kafka.", 6) == 0 && strcmp(k + 6, key) == 0)
			return 0;
	}
	return kafka_conf_set(conf, key, value, err, errlen);
}

static rd_kafka_t *worker_consumer(struct worker *w, const struct cfg *cfg, char *err,
                                   size_t errlen)
{
	rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, errlen);
	if (conf == NULL)
		return NULL;
	/* ours win over kafka.*: exactly-once depends on them (DESIGN §5) */
	char group_id[256]; /* a replay never joins the live group */
	snprintf(group_id, sizeof(group_id), "%s%s", w->group, w->mode->group_suffix);
	if (kafka_conf_set(conf, "group.id", group_id, err, errlen) ||
	    kafka_conf_set(conf, "partition.assignment.strategy", "range", err, errlen) ||
	    kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) ||
	    kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
	    kafka_conf_set(conf, "enable.partition.eof", "false", err, errlen) ||
	    /* the live group never lets librdkafka move a position it lost (a truncated log, a
	     * broker that lost it): the error comes back through poll and the partition is
	     * checked again (worker_out_of_range); a replay resumes at the earliest kept */
	    kafka_conf_set(conf, "auto.offset.reset", w->mode->offset_reset, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	/* Defaults of ours where librdkafka's do not suit a worker; kafka.* settings win.
	 * - librdkafka prefetches up to 64 MiB, most of a worker's RSS while the database sets the
	 *   pace; 16 MiB is still many batches ahead.
	 * - its 45 s group session keeps a crashed worker's partitions unread for 45 s (a worker
	 *   that restarts joins as a new member); 10 s moves them sooner, heartbeats (every 3 s)
	 *   come from librdkafka's own thread however long a batch takes, and Kafka's smallest
	 *   allowed session (group.min.session.timeout.ms) is 6 s. */
	if (worker_conf_default(conf, cfg, "queued.max.messages.kbytes", "16384", err, errlen) !=
	        0 ||
	    worker_conf_default(conf, cfg, "session.timeout.ms", WORKER_SESSION_MS_TEXT, err,
	                        errlen) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	char session[32];
	size_t slen = sizeof(session);
	if (rd_kafka_conf_get(conf, "session.timeout.ms", session, &slen) != RD_KAFKA_CONF_OK ||
	    num_parse_int(session, 1, INT32_MAX, &w->session_ms) != NUM_OK)
		w->session_ms = WORKER_SESSION_MS; /* unreadable: take the default */
	/* a replay assigns its partitions itself */
	if (w->mode->rebalance != NULL)
		rd_kafka_conf_set_rebalance_cb(conf, w->mode->rebalance);
	rd_kafka_conf_set_opaque(conf, w);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf); /* only taken on success */
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

struct worker *worker_new(const struct worker_config *wc, const struct worker_ops *ops,
                          const struct cfg *cfg, struct metrics *m, char *err, size_t errlen)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	w->magic = WORKER_MAGIC;
	w->wc = *wc;
	w->group = xstrdup(wc->group);
	w->topic = xstrdup(wc->topic);
	w->db_url = xstrdup(wc->db_url);
	w->ops = *ops;
	w->m = m;
	const char *window = getenv("AIMEM_TEST_COMMIT_WINDOW_MS");
	if (window == NULL || num_parse_int(window, 0, 60000, &w->commit_window_ms) != NUM_OK)
		w->commit_window_ms = 0;
	w->mode = wc->replay != NULL ? &worker_mode_replay : &worker_mode_live;
	w->wc.replay = NULL; /* borrowed: the replay mode's init copies it */
	worker_apply_init(w);
	backoff_init(&w->bo, wc->retry_base_ms, wc->retry_cap_ms);
	char labels[256];
	snprintf(labels, sizeof(labels), "group=\"%s\"", w->group);
	w->processed = metrics_counter(m, "aimem_worker_processed_total", "Events applied", labels);
	w->dead =
	    metrics_counter(m, "aimem_worker_dead_lettered_total", "Events dead-lettered", labels);
	w->skipped = metrics_counter(m, "aimem_worker_skipped_total",
	                             "Messages below the stored offset, skipped", labels);
	w->erased = metrics_counter(m, "aimem_worker_erased_dropped_total",
	                            "Events of erased callers, dropped", labels);
	w->retries = metrics_counter(m, "aimem_worker_batch_retries_total",
	                             "Batch transactions retried", labels);
	w->gaps = metrics_counter(m, "aimem_worker_offset_gaps_total",
	                          "Offsets missing from a partition's log, accepted after the "
	                          "consumer read them again (never expected on our topics)",
	                          labels);
	w->stopped_gauge = metrics_gauge(m, "aimem_worker_partitions_stopped",
	                                 "Partitions stopped: their stored offset does not belong"
	                                 " to the topic's log (see aimem offsets)",
	                                 labels);
	atomic_init(&w->nstopped, 0);
	w->batch_seconds =
	    metrics_histogram(m, "aimem_worker_batch_seconds", "Batch: first message to COMMIT",
	                      labels, metrics_latency_bounds, metrics_latency_nbounds);
	/* freshness spans a backlog drained after an outage: up to an hour */
	static const double fresh[] = { 0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,    10,
		                        30,   60,  120,  300, 600, 900, 1800, 3600 };
	w->freshness = metrics_histogram(m, "aimem_worker_freshness_seconds",
	                                 "Message timestamp to row committed", labels, fresh,
	                                 sizeof(fresh) / sizeof(fresh[0]));
	w->rk = worker_consumer(w, cfg, err, errlen);
	if (w->rk == NULL) {
		worker_free(&w);
		return NULL;
	}
	w->mode->init(w, wc); /* after the consumer: the live group's health needs session_ms */
	return w;
}

void worker_free(struct worker **wp)
{
	struct worker *w = *wp;
	if (w == NULL)
		return;
	worker_drop_batch(w);
	w->mode->fini(w);
	if (w->pending)
		rd_kafka_topic_partition_list_destroy(w->pending);
	worker_health_stop(w->health);
	if (w->rk)
		rd_kafka_destroy(w->rk);
	worker_health_free(&w->health); /* after the handle: nothing reports into it any more */
	PQfinish(w->conn);
	free(w->batch);
	free(w->parts);
	free(w->group);
	free(w->topic);
	free(w->db_url);
	w->magic = 0;
	free(w);
	*wp = NULL;
}

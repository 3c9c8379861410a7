/*
 * worker_health: readiness and lag of a live worker (see worker_health.h). The state is a
 * small array of the partitions this member holds, their known next offsets and the last
 * watermarks seen, under one mutex; the poller copies the partition list, asks the broker
 * without the lock held, and writes the answers back for the partitions still held.
 */
#include "worker_health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "log.h"
#include "xalloc.h"

#define WORKER_HEALTH_MAGIC 0x57484c54u
#define WORKER_HEALTH_QUERY_MAX_MS 5000 /* one watermark request at most */

struct whslot {
	int32_t partition;
	long long next;   /* next offset to process; -1: not known yet */
	long long lo, hi; /* last watermarks seen; hi -1: none yet */
	struct metrics_gauge *lag;
};

struct worker_health {
	unsigned magic;
	struct worker_health_config hc;
	struct metrics *m;
	char *group, *topic;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* wakes the poller to quit */
	struct whslot *slots;
	size_t nslots;
	bool member;
	long long unassigned_ms, progress_ms;
	rd_kafka_t *rk; /* while the poller runs */
	pthread_t thread;
	bool running, quit;
};

bool worker_health_verdict(const struct worker_health_config *hc,
                           const struct worker_health_state *st, long long now_ms, char *why,
                           size_t whylen)
{
	if (st->stopped > 0) {
		snprintf(why, whylen,
		         "%d partition(s) stopped: their stored offsets do not belong to topic %s's"
		         " log; see aimem offsets show --group %s --topic %s",
		         st->stopped, st->topic, st->group, st->topic);
		return false;
	}
	if (!st->member && now_ms - st->unassigned_ms > hc->session_ms) {
		snprintf(why, whylen,
		         "no partition assignment from group %s for %llds (longer than the session"
		         " timeout, %llds): is the broker reachable?",
		         st->group, (now_ms - st->unassigned_ms) / 1000, hc->session_ms / 1000);
		return false;
	}
	bool behind = st->lag > 0 || st->unknown_behind > 0;
	if (hc->stall_ms > 0 && behind && now_ms - st->progress_ms > hc->stall_ms) {
		snprintf(why, whylen,
		         "no batch committed for %llds while %lld message(s) wait on topic %s%s"
		         " (readyz.stall_timeout %llds): database, model or a lock?",
		         (now_ms - st->progress_ms) / 1000, st->lag, st->topic,
		         st->unknown_behind > 0 ? " and partitions wait for their stored offsets"
		                                : "",
		         hc->stall_ms / 1000);
		return false;
	}
	return true;
}

struct worker_health *worker_health_new(const struct worker_health_config *hc, struct metrics *m,
                                        const char *group, const char *topic)
{
	struct worker_health *h = xcalloc(1, sizeof(*h));
	h->magic = WORKER_HEALTH_MAGIC;
	h->hc = *hc;
	if (h->hc.poll_ms <= 0)
		h->hc.poll_ms = 5000;
	h->m = m;
	h->group = xstrdup(group);
	h->topic = xstrdup(topic);
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	h->unassigned_ms = h->progress_ms = backoff_now_ms();
	return h;
}

void worker_health_free(struct worker_health **hp)
{
	struct worker_health *h = *hp;
	if (h == NULL)
		return;
	*hp = NULL;
	worker_health_stop(h);
	for (size_t i = 0; i < h->nslots; i++)
		metrics_gauge_remove(h->m, &h->slots[i].lag);
	free(h->slots);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h->group);
	free(h->topic);
	h->magic = 0;
	free(h);
}

/* Caller holds h->mu. */
static struct whslot *worker_health_slot(struct worker_health *h, int32_t partition)
{
	for (size_t i = 0; i < h->nslots; i++)
		if (h->slots[i].partition == partition)
			return &h->slots[i];
	return NULL;
}

/* Sets a slot's lag gauge (created on first use) when both sides are known. Caller holds
 * h->mu (the registry's mutex nests inside it, never the other way round). */
static void worker_health_lag(struct worker_health *h, struct whslot *s)
{
	if (s->next < 0 || s->hi < 0)
		return;
	if (s->lag == NULL) {
		char labels[320];
		snprintf(labels, sizeof(labels), "group=\"%s\",partition=\"%d\"", h->group,
		         (int)s->partition);
		s->lag = metrics_gauge(h->m, "aimem_worker_lag_messages",
		                       "High watermark minus the next offset to process, for the"
		                       " partitions this member holds",
		                       labels);
	}
	long long lag = s->hi - s->next;
	metrics_gauge_set(s->lag, lag > 0 ? (double)lag : 0);
}

/* The snapshot the verdict reads. Caller holds h->mu. */
static void worker_health_snapshot(const struct worker_health *h, int stopped,
                                   struct worker_health_state *st)
{
	*st = (struct worker_health_state){ .group = h->group,
		                            .topic = h->topic,
		                            .stopped = stopped,
		                            .member = h->member,
		                            .unassigned_ms = h->unassigned_ms,
		                            .progress_ms = h->progress_ms };
	for (size_t i = 0; i < h->nslots; i++) {
		const struct whslot *s = &h->slots[i];
		if (s->next >= 0 && s->hi > s->next)
			st->lag += s->hi - s->next;
		else if (s->next < 0 && s->hi > s->lo && s->lo >= 0)
			st->unknown_behind++;
	}
}

/* Caught up (nothing known to wait): the stall clock starts again. Caller holds h->mu. */
static void worker_health_note_progress(struct worker_health *h, bool batch)
{
	struct worker_health_state st;
	worker_health_snapshot(h, 0, &st);
	if (batch || (st.lag == 0 && st.unknown_behind == 0))
		h->progress_ms = backoff_now_ms();
}

void worker_health_assigned(struct worker_health *h, const rd_kafka_topic_partition_list_t *parts)
{
	pthread_mutex_lock(&h->mu);
	h->member = true;
	for (int i = 0; i < parts->cnt; i++) {
		if (worker_health_slot(h, parts->elems[i].partition) != NULL)
			continue;
		h->slots = xreallocarray(h->slots, h->nslots + 1, sizeof(*h->slots));
		h->slots[h->nslots++] = (struct whslot){
			.partition = parts->elems[i].partition, .next = -1, .lo = -1, .hi = -1
		};
	}
	pthread_mutex_unlock(&h->mu);
}

void worker_health_revoked(struct worker_health *h, const rd_kafka_topic_partition_list_t *parts)
{
	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < parts->cnt; i++) {
		struct whslot *s = worker_health_slot(h, parts->elems[i].partition);
		if (s == NULL)
			continue;
		metrics_gauge_remove(h->m, &s->lag); /* its next owner reports it */
		*s = h->slots[--h->nslots];
	}
	/* eager rebalancing revokes everything before a new assignment */
	h->member = false;
	h->unassigned_ms = backoff_now_ms();
	pthread_mutex_unlock(&h->mu);
}

void worker_health_position(struct worker_health *h, int32_t partition, long long next)
{
	int64_t lo = -1, hi = -1;
	rd_kafka_t *rk = h->rk; /* set and cleared on this (the worker's) thread */
	if (rk != NULL && rd_kafka_get_watermark_offsets(rk, h->topic, partition, &lo, &hi) !=
	                      RD_KAFKA_RESP_ERR_NO_ERROR)
		hi = -1;
	pthread_mutex_lock(&h->mu);
	struct whslot *s = worker_health_slot(h, partition);
	if (s != NULL) {
		s->next = next;
		if (hi >= 0 && hi > s->hi) { /* the cache may lag behind the poller's answer */
			s->hi = hi;
			s->lo = lo;
		}
		worker_health_lag(h, s);
		worker_health_note_progress(h, false);
	}
	pthread_mutex_unlock(&h->mu);
}

void worker_health_batch_done(struct worker_health *h)
{
	pthread_mutex_lock(&h->mu);
	worker_health_note_progress(h, true);
	pthread_mutex_unlock(&h->mu);
}

bool worker_health_ready(struct worker_health *h, int stopped, char *why, size_t whylen)
{
	struct worker_health_state st;
	pthread_mutex_lock(&h->mu);
	worker_health_snapshot(h, stopped, &st);
	bool ok = worker_health_verdict(&h->hc, &st, backoff_now_ms(), why, whylen);
	pthread_mutex_unlock(&h->mu);
	return ok;
}

/* One round: the held partitions' watermarks from the broker, written back to those still
 * held. Called and returns with h->mu held; lets go of it while asking. */
static void worker_health_poll(struct worker_health *h)
{
	size_t n = h->nslots;
	if (n == 0)
		return;
	int32_t *parts = xmallocarray(n, sizeof(*parts));
	int64_t *lo = xmallocarray(n, sizeof(*lo)), *hi = xmallocarray(n, sizeof(*hi));
	for (size_t i = 0; i < n; i++)
		parts[i] = h->slots[i].partition;
	pthread_mutex_unlock(&h->mu);
	int timeout =
	    (int)(h->hc.poll_ms < WORKER_HEALTH_QUERY_MAX_MS ? h->hc.poll_ms
	                                                     : WORKER_HEALTH_QUERY_MAX_MS);
	for (size_t i = 0; i < n; i++)
		if (rd_kafka_query_watermark_offsets(h->rk, h->topic, parts[i], &lo[i], &hi[i],
		                                     timeout) != RD_KAFKA_RESP_ERR_NO_ERROR)
			hi[i] = -1; /* the broker did not answer: keep the last values */
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < n; i++) {
		struct whslot *s = worker_health_slot(h, parts[i]);
		if (s == NULL || hi[i] < 0)
			continue;
		s->lo = lo[i];
		s->hi = hi[i];
		worker_health_lag(h, s);
	}
	worker_health_note_progress(h, false);
	free(parts);
	free(lo);
	free(hi);
}

/* The poller's thread: a round every poll_ms until worker_health_stop. */
static void *worker_health_main(void *arg)
{
	struct worker_health *h = arg;
	if (h == NULL || h->magic != WORKER_HEALTH_MAGIC)
		abort();
	pthread_mutex_lock(&h->mu);
	while (!h->quit) {
		worker_health_poll(h);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += h->hc.poll_ms / 1000;
		until.tv_nsec += (h->hc.poll_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!h->quit && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int worker_health_start(struct worker_health *h, rd_kafka_t *rk)
{
	if (h == NULL || h->running)
		return 0;
	h->rk = rk;
	h->quit = false;
	if (pthread_create(&h->thread, NULL, worker_health_main, h) != 0) {
		log_warn("cannot start the watermark poller: lag is updated after batches only");
		return -1;
	}
	h->running = true;
	return 0;
}

void worker_health_stop(struct worker_health *h)
{
	if (h == NULL || !h->running)
		return;
	pthread_mutex_lock(&h->mu);
	h->quit = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	h->running = false;
	h->rk = NULL;
}

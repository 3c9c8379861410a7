/*
 * search_pool: searches off the HTTP threads (see search_pool.h).
 *
 * A fixed set of threads and a FIFO of jobs under one mutex. A job owns copies of what its
 * route checked, so nothing of the exchange but the reply is touched off the HTTP thread.
 * At stop the threads finish the search they run; the queue left is answered 503 by the
 * thread that takes it.
 */
#include "search_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "log.h"
#include "xalloc.h"

struct search_job {
	struct search_job *next;
	struct http_exchange *ex;
	const struct query_api *api;
	struct search_request r; /* its strings are the job's own copies */
};

struct search_pool {
	pthread_mutex_t mu;
	pthread_cond_t ready;
	struct search_job *head, *tail;
	unsigned queued, queue_max, nthreads;
	bool stopping;
	pthread_t *threads;
	struct metrics_gauge *queued_gauge; /* NULL without metrics */
	struct metrics_counter *busy;
};

/* The queue's length to the gauge; under p->mu. */
static void sp_count(struct search_pool *p)
{
	if (p->queued_gauge != NULL)
		metrics_gauge_set(p->queued_gauge, (double)p->queued);
}

/* Runs r and replies on ex. */
static void sp_search(struct http_exchange *ex, const struct query_api *api,
                      const struct search_request *r)
{
	struct buf out = BUF_INIT;
	buf_append_str(&out, r->head);
	if (query_search(ex, api, r->tenant, r->q, r->user_id, r->limit, r->mode, r->compat,
	                 &out)) {
		buf_append_str(&out, r->tail);
		http_reply_json(ex, 200, out.data, out.len);
	}
	buf_free(&out);
}

static void sp_job_free(struct search_job *j)
{
	free((char *)j->r.q);
	free((char *)j->r.user_id);
	free((char *)j->r.mode);
	free((char *)j->r.head);
	free((char *)j->r.tail);
	free(j);
}

static void *sp_run(void *arg)
{
	struct search_pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->ready, &p->mu);
		struct search_job *j = p->head;
		if (j != NULL) {
			p->head = j->next;
			if (p->head == NULL)
				p->tail = NULL;
			p->queued--;
			sp_count(p);
		}
		bool stopping = p->stopping;
		pthread_mutex_unlock(&p->mu);
		if (j == NULL)
			return NULL; /* stopping, and nothing left */
		if (stopping)
			http_reply_error(j->ex, 503, "shutting_down", "the server is stopping");
		else
			sp_search(j->ex, j->api, &j->r);
		sp_job_free(j);
	}
}

struct search_pool *search_pool_new(unsigned threads, unsigned queue_max, struct metrics *m)
{
	struct search_pool *p = xcalloc(1, sizeof(*p));
	if (m != NULL) {
		p->queued_gauge = metrics_gauge(m, "aimem_query_search_queued",
		                                "Searches waiting for a search thread.", "");
		p->busy = metrics_counter(m, "aimem_query_search_busy_total",
		                          "Searches refused (503 busy): the queue was full.", "");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->ready, NULL);
	p->queue_max = queue_max;
	p->threads = xmallocarray(threads, sizeof(*p->threads));
	for (; p->nthreads < threads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, sp_run, p) != 0) {
			log_error("search pool: only %u of %u threads started", p->nthreads,
			          threads);
			break;
		}
	return p;
}

void search_pool_free(struct search_pool **pp)
{
	struct search_pool *p = pp ? *pp : NULL;
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->ready);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (struct search_job *j = p->head, *next; j != NULL; j = next) { /* no thread started */
		next = j->next;
		http_reply_error(j->ex, 503, "shutting_down", "the server is stopping");
		sp_job_free(j);
	}
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
	*pp = NULL;
}

enum http_outcome search_pool_submit(struct http_exchange *ex, const struct query_api *api,
                                     const struct search_request *r)
{
	struct search_pool *p = api->searches;
	if (p == NULL || p->nthreads == 0) {
		sp_search(ex, api, r);
		return HTTP_DONE;
	}
	struct search_job *j = xcalloc(1, sizeof(*j));
	j->ex = ex;
	j->api = api;
	j->r = *r;
	j->r.q = xstrdup(r->q);
	j->r.user_id = r->user_id ? xstrdup(r->user_id) : NULL;
	j->r.mode = xstrdup(r->mode);
	j->r.head = xstrdup(r->head);
	j->r.tail = xstrdup(r->tail);
	pthread_mutex_lock(&p->mu);
	bool full = p->queued >= p->queue_max || p->stopping;
	if (!full) {
		if (p->tail != NULL)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->queued++;
		sp_count(p);
		pthread_cond_signal(&p->ready);
	}
	pthread_mutex_unlock(&p->mu);
	if (!full)
		return HTTP_DEFERRED;
	sp_job_free(j);
	if (p->busy != NULL)
		metrics_counter_add(p->busy, 1);
	http_add_header(ex, "Retry-After", "1");
	http_reply_error(ex, 503, "busy", "too many searches waiting; retry");
	return HTTP_DONE;
}

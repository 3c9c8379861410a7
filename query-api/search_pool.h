/*
 * search_pool: searches off the HTTP threads.
 *
 * libmicrohttpd's thread pool serves each thread's connections one request at a time, and a
 * search holds its thread for tens of milliseconds (the query's embedding, the lists), so a
 * context read that landed on the same thread waited behind it, and two clients searching at
 * once were often served one after the other. A search route now checks its request on the
 * HTTP thread, hands it to this pool (a few threads and a bounded queue) and returns
 * HTTP_DEFERRED; a pool thread runs it and replies (lib/http allows a reply from the thread
 * that owns a deferred exchange). A full queue answers 503 busy with Retry-After at once.
 *
 * Not here: the search itself (search.c), the routes' checks (native.c, compat.c).
 */
#ifndef AIMEM_QUERY_SEARCH_POOL_H
#define AIMEM_QUERY_SEARCH_POOL_H

#include <stdbool.h>

#include "http.h"
#include "metrics.h"

struct query_api;
struct search_pool;

/* What a search route checked, copied by search_pool_submit. */
struct search_request {
	long long tenant;
	const char *q, *user_id; /* user_id may be NULL */
	long long limit;
	const char *mode; /* "text", "semantic" or "hybrid" */
	bool compat;      /* the previous service's answer shape */
	const char *head; /* the answer up to its results array ... */
	const char *tail; /* ... and after it */
};

/* Starts threads (>= 1) taking searches from a queue of at most queue_max. Never NULL. With
 * m (may be NULL): aimem_query_search_queued (searches waiting now) and
 * aimem_query_search_busy_total (searches refused because the queue was full). */
struct search_pool *search_pool_new(unsigned threads, unsigned queue_max, struct metrics *m);

/* Stops the threads once they finish what they run; searches still queued are answered 503
 * shutting_down (after http_server_stop that answer is discarded: the server gave one).
 * Accepts NULL and clears the pointer. */
void search_pool_free(struct search_pool **p);

/*
 * Runs r for ex on a pool thread (api->searches), which replies: HTTP_DEFERRED. With no pool
 * (api->searches NULL, as in the fuzz harness) it runs here and replies: HTTP_DONE. A full
 * queue is answered 503 busy here: HTTP_DONE.
 */
enum http_outcome search_pool_submit(struct http_exchange *ex, const struct query_api *api,
                                     const struct search_request *r);

#endif

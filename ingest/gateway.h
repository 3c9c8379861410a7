/*
 * gateway: the producing half of aimem-ingest.
 *
 * Owns the idempotent librdkafka producer (acks=all, enable.idempotence) and the thread
 * that polls it. An accepted request is produced with its HTTP exchange as the message's
 * opaque; the HTTP answer is sent from the delivery report, so a 2xx always means the
 * broker acknowledged the event. A failed delivery (broker unreachable past
 * produce.timeout, queue full) answers 503 with Retry-After.
 *
 * Does not parse requests or build events (routes.c does).
 */
#ifndef AIMEM_INGEST_GATEWAY_H
#define AIMEM_INGEST_GATEWAY_H

#include <stdbool.h>

#include "cfg.h"
#include "event.h"
#include "http.h"
#include "metrics.h"

struct gateway_config {
	const char *topic_calls;
	const char *topic_memories;
	long long
	    produce_timeout_ms;  /* message.timeout.ms: bound on a 503 when the broker is gone */
	long long linger_ms;     /* linger.ms: every request waits for its ack, so 0 by default */
	long long retry_after_s; /* advertised on 503 */
};

struct gateway;

/* cfg supplies the kafka.* settings (bootstrap.servers is required). Starts the poller. */
struct gateway *gateway_new(const struct gateway_config *gc, const struct cfg *cfg,
                            struct metrics *m, char *err, size_t errlen);
/*
 * Produces ev's JSON text (ev->raw, exactly the bytes that were validated; taken from ev)
 * keyed by its customer_id to the topic of its type. On success the exchange is answered
 * later with ok_status and ok_body (taken: freed by the gateway) and HTTP_DEFERRED is
 * returned; if the event cannot even be queued, the exchange is answered 503 now and
 * HTTP_DONE is returned. Any MHD thread.
 */
enum http_outcome gateway_send(struct gateway *g, struct http_exchange *ex, struct event *ev,
                               int ok_status, char *ok_body);
/* Reachability for /readyz: asks the broker for the topics' metadata (bounded wait). */
bool gateway_ready(struct gateway *g, char *why, size_t whylen);
/* Waits up to flush_ms for every queued event's acknowledgement; what is still unacknowledged
 * then is purged, so its client gets a 503 at once. Call after the HTTP server stopped
 * accepting and before it is stopped, so every exchange gets its answer. */
void gateway_drain(struct gateway *g, long long flush_ms);
/* Stops the poller and destroys the producer (call gateway_drain first). */
void gateway_free(struct gateway **g);

#endif

/*
 * routes: the HTTP write routes of aimem-ingest, native (/v3, 202) and ChatStack-compatible
 * (/v1, /v2, /memory, 200 with the previous service's JSON shapes).
 *
 * Every route authenticates first (401 without a valid token, 403 without memory:write),
 * takes the tenant from the token only (a body naming another customer_id is a 403), turns
 * the request into a DESIGN §3 event, validates it with lib/event (400 with the precise
 * code and message), replaces card, bank and social-security numbers in its turns with
 * placeholders (lib/redact_event: Kafka never holds them), and hands it to the gateway,
 * which answers once the broker acknowledged it.
 */
#ifndef AIMEM_INGEST_ROUTES_H
#define AIMEM_INGEST_ROUTES_H

#include <stddef.h>

#include "auth.h"
#include "event.h"
#include "gateway.h"
#include "http.h"
#include "redact_event.h"

struct ingest {
	struct gateway *gw;
	const struct auth_verifier *auth;
	struct event_limits limits;
	struct redact_edge *redact; /* every call.ended is redacted before it is produced */
};

extern const struct http_route ingest_routes[];
extern const size_t ingest_nroutes;

/* For /readyz: the broker answers metadata for the calls topic. ctx is struct ingest. */
bool ingest_ready(void *ctx, char *why, size_t whylen);

#endif

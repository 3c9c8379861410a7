/*
 * http_auth: the bearer check every authenticated route of aimem-ingest and aimem-query runs
 * first (DESIGN §6), so both programs answer a token the same way.
 *
 * In order: the Authorization header verified (missing, malformed or invalid: 401 with
 * WWW-Authenticate: Bearer, the reason logged without the token); the needed scope (403
 * forbidden); a customer_id in the query string that names another tenant than the token's
 * (403 tenant_mismatch; not a number: 400), so a proxy or log that reads the query can never
 * disagree with the program about whose request it is. A body's customer_id is the route's
 * to check (it owns the body). Two Authorization headers never get here: lib/http refuses
 * them with 400 (http_framing.h).
 *
 * Not here: JWT verification itself (auth.h), routing, bodies.
 */
#ifndef AIMEM_HTTP_AUTH_H
#define AIMEM_HTTP_AUTH_H

#include <stdbool.h>

#include "auth.h"
#include "http.h"

/* Authenticates ex with v for the scope bits in needed; on success fills *c and returns true,
 * otherwise replies (401/403/400 as above) and returns false. */
bool http_auth(struct http_exchange *ex, const struct auth_verifier *v, unsigned needed,
               struct auth_claims *c);

#endif

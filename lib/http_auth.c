/*
 * http_auth: the bearer check of the HTTP programs (see http_auth.h).
 */
#include "http_auth.h"

#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "num.h"

/* The query's customer_id, when given, is the token's tenant; false after replying. */
static bool http_auth_query_tenant(struct http_exchange *ex, long long tenant)
{
	const char *q = http_query(ex, "customer_id");
	long long named;
	if (q == NULL)
		return true;
	if (num_parse_int(q, 1, LLONG_MAX, &named) != 0) {
		http_reply_error(ex, 400, "bad_value", "customer_id: must be a positive integer");
		return false;
	}
	if (named == tenant)
		return true;
	http_reply_error(ex, 403, "tenant_mismatch",
	                 "customer_id in the query differs from the token's tenant");
	return false;
}

bool http_auth(struct http_exchange *ex, const struct auth_verifier *v, unsigned needed,
               struct auth_claims *c)
{
	char why[256];
	int rc = auth_verify_header(v, http_header(ex, "Authorization"), (long long)time(NULL), c,
	                            why, sizeof(why));
	if (rc != AUTH_OK) {
		log_info("request refused status=401 reason=%s detail=\"%s\" request_id=%s",
		         auth_status_name(rc), why, http_request_id(ex));
		http_add_header(ex, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		http_reply_error(ex, 401, "unauthorized", "a valid bearer token is required");
		return false;
	}
	if (!auth_has_scope(c, needed)) {
		char msg[64];
		snprintf(msg, sizeof(msg), "the token lacks the %s scope",
		         needed & AUTH_SCOPE_WRITE ? "memory:write" : "memory:read");
		http_add_header(ex, "WWW-Authenticate", "Bearer error=\"insufficient_scope\"");
		http_reply_error(ex, 403, "forbidden", msg);
		return false;
	}
	return http_auth_query_tenant(ex, c->customer_id);
}

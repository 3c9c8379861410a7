/*
 * http_account: access log and request metrics for lib/http (see http_account.h). The
 * series are looked up per request (one hashed lookup under the registry mutex each);
 * caching them per route was not worth the code at the rates measured.
 */
#include "http_account.h"

#include <stdio.h>
#include <string.h>

#include "http_exchange.h"
#include "log.h"

const char *http_account_method(const char *method)
{
	static const char *const known[] = { "GET",    "HEAD",  "POST",   "PUT",
		                             "DELETE", "PATCH", "OPTIONS" };
	for (size_t i = 0; method && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "other";
}

static const char *http_account_end(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return NULL;
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "shutdown";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
		return "client_abort";
	case MHD_REQUEST_TERMINATED_READ_ERROR:
		return "read_error";
	default:
		return "error";
	}
}

static void http_account_metrics(struct metrics *m, const struct http_exchange *ex,
                                 const char *method, int status, double secs)
{
	char labels[160];
	snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",status=\"%d\"", ex->route_name,
	         method, status);
	metrics_counter_add(metrics_counter(m, "aimem_http_requests_total",
	                                    "HTTP requests by route, method and status.", labels),
	                    1);
	snprintf(labels, sizeof(labels), "route=\"%s\"", ex->route_name);
	metrics_observe(metrics_histogram(m, "aimem_http_request_duration_seconds",
	                                  "HTTP request duration, request line to completion.",
	                                  labels, metrics_latency_bounds, metrics_latency_nbounds),
	                secs);
}

void http_account_request(struct metrics *m, const struct http_exchange *ex, int status,
                          enum MHD_RequestTerminationCode toe)
{
	double secs = (double)(http_exchange_now_ns() - ex->start_ns) / 1e9;
	const char *method = http_account_method(ex->method);
	if (m)
		http_account_metrics(m, ex, method, status, secs);
	const char *end = http_account_end(toe);
	/* the route name, never the path: paths carry caller ids (phone numbers) */
	log_info(
	    "request method=%s route=%s status=%d bytes=%zu duration_ms=%.3f request_id=%s%s%s",
	    method, ex->route_name, status, ex->resp_bytes, secs * 1000,
	    ex->request_id[0] ? ex->request_id : "-", end ? " end=" : "", end ? end : "");
}

/*
 * http_account: the access-log line and the request metrics of lib/http, one of each per
 * finished request. It logs the method (normalised), the path without the query string
 * (it may hold caller ids), the route name, status, response bytes, duration and request
 * id; never headers or bodies. Metrics: aimem_http_requests_total{route,method,status} and
 * aimem_http_request_duration_seconds{route}. Runs on MHD threads.
 */
#ifndef AIMEM_HTTP_ACCOUNT_H
#define AIMEM_HTTP_ACCOUNT_H

#include <microhttpd.h>

#include "metrics.h"

struct http_exchange;

/* Logs and counts ex, which finished with status (0 when nothing was sent) for the reason
 * toe. m may be NULL (no metrics). */
void http_account_request(struct metrics *m, const struct http_exchange *ex, int status,
                          enum MHD_RequestTerminationCode toe);
/* The method as a metrics label: a known method's name, else "other" (clients choose
 * methods, and label values must stay few). */
const char *http_account_method(const char *method);

#endif

/*
 * metrics: counters, gauges and histograms rendered in the Prometheus text format 0.0.4.
 *
 * A registry holds families (one name, help text and type) and their series (one label
 * set each). Series are created on first use and live as long as the registry, so callers
 * keep the returned pointers and update them without any lookup. Updates are lock-free
 * (C11 atomics); get-or-create and rendering take the registry's mutex.
 *
 * It deliberately does not do summaries, exemplars, timestamps, label escaping, series
 * expiry (a caller removes a gauge explicitly) or a push gateway. Label text is written by our code (route names, status codes,
 * topic names), never by a client: callers must not put request input into labels.
 *
 * Every function is thread-safe (MHD threads, librdkafka callbacks, worker loops); none
 * blocks except on the registry mutex.
 */
#ifndef AIMEM_METRICS_H
#define AIMEM_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "cfg.h"

struct metrics;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;

/* A new empty registry (owned; free with metrics_free). Never NULL. */
struct metrics *metrics_new(void);
/* Frees the registry and every series; accepts NULL and clears the pointer. No other thread
 * may use the registry or a series pointer from it any more. */
void metrics_free(struct metrics **m);

/*
 * Get-or-create by (name, labels). name must match [a-zA-Z_:][a-zA-Z0-9_:]*; help is copied
 * the first time the family is seen; labels is the label text without braces, e.g.
 * "route=\"v3_calls\",status=\"202\"", or "" (NULL counts as ""). A name already used with
 * another type, an invalid name or labels holding a newline are programming errors and abort.
 * The returned pointer is borrowed and valid until metrics_free.
 */
struct metrics_counter *metrics_counter(struct metrics *m, const char *name, const char *help,
                                        const char *labels);
/* by must be >= 0 (counters never go down); a negative by is ignored. */
void metrics_counter_add(struct metrics_counter *c, long long by);
long long metrics_counter_value(const struct metrics_counter *c);

struct metrics_gauge *metrics_gauge(struct metrics *m, const char *name, const char *help,
                                    const char *labels);
void metrics_gauge_set(struct metrics_gauge *g, double v);
void metrics_gauge_add(struct metrics_gauge *g, double by);
double metrics_gauge_value(const struct metrics_gauge *g);
/* Removes the series from the registry (it no longer shows in metrics_render) and frees it;
 * *g is cleared, NULL accepted. No other thread may still use the pointer (the caller owns
 * the series' lifetime, e.g. under its own lock). Asking for it again creates it afresh. */
void metrics_gauge_remove(struct metrics *m, struct metrics_gauge **g);

/*
 * bounds: strictly ascending finite upper bounds (seconds for latencies), at most
 * METRICS_MAX_BOUNDS; "+Inf" is added automatically. bounds is copied. Asking again for an
 * existing series with different bounds aborts (a programming error). A NaN observation is
 * dropped.
 */
#define METRICS_MAX_BOUNDS 64
struct metrics_histogram *metrics_histogram(struct metrics *m, const char *name, const char *help,
                                            const char *labels, const double *bounds,
                                            size_t nbounds);
void metrics_observe(struct metrics_histogram *h, double v);
/* Number of observations so far. */
unsigned long long metrics_histogram_count(const struct metrics_histogram *h);

/* Latency buckets in seconds, 0.0005 .. 10. */
extern const double metrics_latency_bounds[];
extern const size_t metrics_latency_nbounds;

/*
 * Appends the whole registry to out in the text format 0.0.4: one "# HELP" and "# TYPE"
 * per family, families in creation order, each family's series together in creation order;
 * histograms as cumulative _bucket{le=...} lines, then _sum and _count. Values read while
 * other threads update them are each atomic but not a snapshot of the whole registry
 * (a histogram's _count always equals its +Inf bucket).
 */
void metrics_render(struct metrics *m, struct buf *out);

/*
 * The metrics section of a program without an HTTP API of its own (the workers): where its
 * /healthz, /readyz and /metrics listen (lib/worker_health serves them). A program embeds
 * struct metrics_settings and lists METRICS_CFG_ITEMS(offsetof(struct its_settings, metrics),
 * "9103") with its port's default. The HTTP programs serve /metrics on their API port (http.h).
 */
struct metrics_settings {
	char *bind;
	long long port;
};

/* clang-format off */
#define METRICS_S_(base, field) ((base) + offsetof(struct metrics_settings, field))
#define METRICS_CFG_ITEMS(base, port_default) \
	{ .key = "http.bind", .type = CFG_STRING, .def = "127.0.0.1", .offset = METRICS_S_(base, bind), \
	  .help = "address of /healthz, /readyz and /metrics" }, \
	{ .key = "http.port", .type = CFG_INT, .def = (port_default), .min = 0, .max = 65535, \
	  .offset = METRICS_S_(base, port), \
	  .help = "port of /healthz, /readyz and /metrics (0: any free port)" }
/* clang-format on */

#endif

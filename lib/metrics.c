/*
 * metrics: Prometheus registry (see metrics.h).
 *
 * Families sit in a list in creation order; each keeps its series in a list, also in
 * creation order, so rendering needs no sorting. Lookups go through a small chained hash
 * table over (name, labels) under the registry mutex; the hot path (add, set, observe) is a
 * single atomic operation or a short compare-and-swap loop on the series itself. Doubles
 * are stored as their bit patterns in 64-bit atomics, since C11 has no atomic double add.
 * A series goes before metrics_free only through metrics_gauge_remove (a partition's lag
 * once the partition is revoked).
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

static const char *const metrics_type_names[] = { "counter", "gauge", "histogram" };

struct metrics_family;

/* The common head of every series; the typed structs below start with it. */
struct metrics_series {
	struct metrics_family *family;
	struct metrics_series *next;      /* next series of the same family */
	struct metrics_series *hash_next; /* next in the hash chain */
	uint64_t hash;
	char *labels;
};

struct metrics_counter {
	struct metrics_series s;
	atomic_llong value;
};

struct metrics_gauge {
	struct metrics_series s;
	_Atomic uint64_t bits; /* a double */
};

struct metrics_histogram {
	struct metrics_series s;
	size_t nbounds;
	double *bounds;
	atomic_ullong *counts;     /* nbounds + 1, not cumulative; the last is +Inf */
	_Atomic uint64_t sum_bits; /* a double */
};

struct metrics_family {
	char *name;
	char *help;
	enum metrics_type type;
	struct metrics_series *head, *tail;
	struct metrics_family *next;
};

#define METRICS_HASH_SIZE 256 /* buckets; chains stay short for a few thousand series */

struct metrics {
	pthread_mutex_t mu;
	struct metrics_family *families, *families_tail;
	struct metrics_series *table[METRICS_HASH_SIZE];
};

const double metrics_latency_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
const size_t metrics_latency_nbounds = sizeof(metrics_latency_bounds) / sizeof(double);

static void __attribute__((noreturn)) metrics_die(const char *what, const char *name)
{
	/* A programming error in a metric definition: say which, then abort. */
	log_error("metrics: %s name=%s", what, name);
	abort();
}

static uint64_t metrics_double_bits(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	return u;
}

static double metrics_bits_double(uint64_t u)
{
	double v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void metrics_series_free(enum metrics_type type, struct metrics_series *s)
{
	if (type == METRICS_HISTOGRAM) {
		struct metrics_histogram *h = (struct metrics_histogram *)s;
		free(h->bounds);
		free(h->counts);
	}
	free(s->labels);
	free(s);
}

void metrics_free(struct metrics **mp)
{
	struct metrics *m = *mp;
	if (m == NULL)
		return;
	*mp = NULL;
	struct metrics_family *f = m->families;
	while (f) {
		struct metrics_family *fnext = f->next;
		struct metrics_series *s = f->head;
		while (s) {
			struct metrics_series *snext = s->next;
			metrics_series_free(f->type, s);
			s = snext;
		}
		free(f->name);
		free(f->help);
		free(f);
		f = fnext;
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool metrics_name_valid(const char *name)
{
	if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == ':';
		if (!ok)
			return false;
	}
	return true;
}

/* FNV-1a over name, a separator and labels. */
static uint64_t metrics_hash(const char *name, const char *labels)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (const char *p = labels; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

/* Finds or creates the family; aborts on a type clash. Caller holds m->mu. */
static struct metrics_family *metrics_family_get(struct metrics *m, const char *name,
                                                 const char *help, enum metrics_type type)
{
	for (struct metrics_family *f = m->families; f; f = f->next) {
		if (strcmp(f->name, name) != 0)
			continue;
		if (f->type != type)
			metrics_die("name reused with another type", name);
		return f;
	}
	struct metrics_family *f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	f->type = type;
	if (m->families_tail)
		m->families_tail->next = f;
	else
		m->families = f;
	m->families_tail = f;
	return f;
}

/* The series for (name, labels) or NULL; the caller holds m->mu (and, on NULL, creates the
 * series with metrics_series_add before letting go of it). */
static struct metrics_series *metrics_series_find(struct metrics *m, const char *name,
                                                  const char *labels, uint64_t hash)
{
	for (struct metrics_series *s = m->table[hash % METRICS_HASH_SIZE]; s; s = s->hash_next)
		if (s->hash == hash && strcmp(s->labels, labels) == 0 &&
		    strcmp(s->family->name, name) == 0)
			return s;
	return NULL;
}

static void metrics_series_add(struct metrics *m, struct metrics_family *f,
                               struct metrics_series *s, const char *labels, uint64_t hash)
{
	s->family = f;
	s->labels = xstrdup(labels);
	s->hash = hash;
	s->hash_next = m->table[hash % METRICS_HASH_SIZE];
	m->table[hash % METRICS_HASH_SIZE] = s;
	if (f->tail)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
}

static const char *metrics_check(const char *name, const char *labels)
{
	if (!metrics_name_valid(name))
		metrics_die("invalid metric name", name ? name : "(null)");
	if (labels == NULL)
		return "";
	if (strchr(labels, '\n') || strchr(labels, '{') || strchr(labels, '}'))
		metrics_die("invalid label text", name);
	return labels;
}

/* Get-or-create for the two scalar types; size is the typed struct's size. */
static struct metrics_series *metrics_scalar(struct metrics *m, const char *name, const char *help,
                                             const char *labels, enum metrics_type type,
                                             size_t size)
{
	labels = metrics_check(name, labels);
	uint64_t hash = metrics_hash(name, labels);
	pthread_mutex_lock(&m->mu);
	struct metrics_series *s = metrics_series_find(m, name, labels, hash);
	if (s && s->family->type != type)
		metrics_die("name reused with another type", name);
	if (s == NULL) {
		struct metrics_family *f = metrics_family_get(m, name, help, type);
		s = xcalloc(1, size); /* zeroed: value 0, gauge bits 0 == 0.0 */
		metrics_series_add(m, f, s, labels, hash);
	}
	pthread_mutex_unlock(&m->mu);
	return s;
}

struct metrics_counter *metrics_counter(struct metrics *m, const char *name, const char *help,
                                        const char *labels)
{
	return (struct metrics_counter *)metrics_scalar(m, name, help, labels, METRICS_COUNTER,
	                                                sizeof(struct metrics_counter));
}

void metrics_counter_add(struct metrics_counter *c, long long by)
{
	if (by > 0)
		atomic_fetch_add_explicit(&c->value, by, memory_order_relaxed);
}

long long metrics_counter_value(const struct metrics_counter *c)
{
	return atomic_load_explicit(&c->value, memory_order_relaxed);
}

struct metrics_gauge *metrics_gauge(struct metrics *m, const char *name, const char *help,
                                    const char *labels)
{
	return (struct metrics_gauge *)metrics_scalar(m, name, help, labels, METRICS_GAUGE,
	                                              sizeof(struct metrics_gauge));
}

void metrics_gauge_set(struct metrics_gauge *g, double v)
{
	atomic_store_explicit(&g->bits, metrics_double_bits(v), memory_order_relaxed);
}

/* Adds to a double kept as bits; a CAS loop, short since contention is rare. */
static void metrics_double_add(_Atomic uint64_t *bits, double by)
{
	uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
	uint64_t next;
	do {
		next = metrics_double_bits(metrics_bits_double(old) + by);
	} while (!atomic_compare_exchange_weak_explicit(bits, &old, next, memory_order_relaxed,
	                                                memory_order_relaxed));
}

void metrics_gauge_add(struct metrics_gauge *g, double by)
{
	metrics_double_add(&g->bits, by);
}

double metrics_gauge_value(const struct metrics_gauge *g)
{
	return metrics_bits_double(atomic_load_explicit(&g->bits, memory_order_relaxed));
}

void metrics_gauge_remove(struct metrics *m, struct metrics_gauge **gp)
{
	struct metrics_series *s = *gp ? &(*gp)->s : NULL;
	if (s == NULL)
		return;
	*gp = NULL;
	pthread_mutex_lock(&m->mu);
	struct metrics_family *f = s->family;
	struct metrics_series **link = &f->head, *prev = NULL;
	while (*link && *link != s) {
		prev = *link;
		link = &(*link)->next;
	}
	if (*link == NULL) /* not this registry's: a programming error */
		metrics_die("removing a series the registry does not hold", f->name);
	*link = s->next;
	if (f->tail == s)
		f->tail = prev;
	for (link = &m->table[s->hash % METRICS_HASH_SIZE]; *link != s; link = &(*link)->hash_next)
		;
	*link = s->hash_next;
	pthread_mutex_unlock(&m->mu);
	metrics_series_free(METRICS_GAUGE, s);
}

static void metrics_bounds_check(const char *name, const double *bounds, size_t nbounds)
{
	if (nbounds > METRICS_MAX_BOUNDS || (nbounds > 0 && bounds == NULL))
		metrics_die("too many histogram bounds", name);
	for (size_t i = 0; i < nbounds; i++) {
		if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
			metrics_die("histogram bounds must be finite and strictly ascending", name);
	}
}

static bool metrics_same_bounds(const struct metrics_histogram *h, const double *bounds,
                                size_t nbounds)
{
	if (h->nbounds != nbounds)
		return false;
	for (size_t i = 0; i < nbounds; i++)
		if (h->bounds[i] != bounds[i])
			return false;
	return true;
}

struct metrics_histogram *metrics_histogram(struct metrics *m, const char *name, const char *help,
                                            const char *labels, const double *bounds,
                                            size_t nbounds)
{
	labels = metrics_check(name, labels);
	metrics_bounds_check(name, bounds, nbounds);
	uint64_t hash = metrics_hash(name, labels);
	pthread_mutex_lock(&m->mu);
	struct metrics_series *s = metrics_series_find(m, name, labels, hash);
	if (s && s->family->type != METRICS_HISTOGRAM)
		metrics_die("name reused with another type", name);
	struct metrics_histogram *h = (struct metrics_histogram *)s;
	if (h && !metrics_same_bounds(h, bounds, nbounds))
		metrics_die("histogram asked for again with other bounds", name);
	if (h == NULL) {
		struct metrics_family *f = metrics_family_get(m, name, help, METRICS_HISTOGRAM);
		h = xcalloc(1, sizeof(*h));
		h->nbounds = nbounds;
		h->bounds = xmallocarray(nbounds ? nbounds : 1, sizeof(double));
		if (nbounds)
			memcpy(h->bounds, bounds, nbounds * sizeof(double));
		h->counts = xcalloc(nbounds + 1, sizeof(atomic_ullong));
		for (size_t i = 0; i <= nbounds; i++)
			atomic_init(&h->counts[i], 0);
		metrics_series_add(m, f, &h->s, labels, hash);
	}
	pthread_mutex_unlock(&m->mu);
	return h;
}

void metrics_observe(struct metrics_histogram *h, double v)
{
	if (isnan(v))
		return;
	/* first bound >= v ("le" is inclusive); binary search over at most 64 bounds */
	size_t lo = 0, hi = h->nbounds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v <= h->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
	metrics_double_add(&h->sum_bits, v);
}

unsigned long long metrics_histogram_count(const struct metrics_histogram *h)
{
	unsigned long long n = 0;
	for (size_t i = 0; i <= h->nbounds; i++)
		n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
	return n;
}

/* Integral values as integers, others as the shortest %g text that reads back as the same
 * double; Prometheus spellings for the non-finite values. */
static void metrics_put_double(struct buf *out, double v)
{
	if (isnan(v)) {
		buf_append_str(out, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char text[40];
	if (v == floor(v) && fabs(v) < 1e15) { /* integers as integers, not "1e+01" */
		buf_appendf(out, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(text, sizeof(text), "%.*g", prec, v);
		if (strtod(text, NULL) == v)
			break;
	}
	buf_append_str(out, text);
}

static void metrics_put_help(struct buf *out, const char *help)
{
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			buf_append_str(out, "\\\\");
		else if (*p == '\n')
			buf_append_str(out, "\\n");
		else
			buf_putc(out, *p);
	}
}

/* name{labels} or name{labels,extra} or name{extra} or name; extra may be NULL. */
static void metrics_put_series_name(struct buf *out, const char *name, const char *suffix,
                                    const char *labels, const char *extra)
{
	buf_append_str(out, name);
	buf_append_str(out, suffix);
	bool have_labels = labels[0] != '\0';
	if (!have_labels && extra == NULL)
		return;
	buf_putc(out, '{');
	buf_append_str(out, labels);
	if (extra) {
		if (have_labels)
			buf_putc(out, ',');
		buf_append_str(out, extra);
	}
	buf_putc(out, '}');
}

static void metrics_render_histogram(struct buf *out, const char *name,
                                     const struct metrics_histogram *h)
{
	unsigned long long cumulative = 0;
	struct buf le = BUF_INIT;
	for (size_t i = 0; i <= h->nbounds; i++) {
		cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		buf_reset(&le);
		buf_append_str(&le, "le=\"");
		if (i < h->nbounds)
			metrics_put_double(&le, h->bounds[i]);
		else
			buf_append_str(&le, "+Inf");
		buf_putc(&le, '"');
		metrics_put_series_name(out, name, "_bucket", h->s.labels, buf_str(&le));
		buf_appendf(out, " %llu\n", cumulative);
	}
	buf_free(&le);
	metrics_put_series_name(out, name, "_sum", h->s.labels, NULL);
	buf_putc(out, ' ');
	metrics_put_double(
	    out, metrics_bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
	buf_putc(out, '\n');
	metrics_put_series_name(out, name, "_count", h->s.labels, NULL);
	buf_appendf(out, " %llu\n", cumulative);
}

static void metrics_render_series(struct buf *out, const struct metrics_family *f,
                                  const struct metrics_series *s)
{
	switch (f->type) {
	case METRICS_COUNTER:
		metrics_put_series_name(out, f->name, "", s->labels, NULL);
		buf_appendf(out, " %lld\n",
		            metrics_counter_value((const struct metrics_counter *)s));
		break;
	case METRICS_GAUGE:
		metrics_put_series_name(out, f->name, "", s->labels, NULL);
		buf_putc(out, ' ');
		metrics_put_double(out, metrics_gauge_value((const struct metrics_gauge *)s));
		buf_putc(out, '\n');
		break;
	case METRICS_HISTOGRAM:
		metrics_render_histogram(out, f->name, (const struct metrics_histogram *)s);
		break;
	}
}

void metrics_render(struct metrics *m, struct buf *out)
{
	pthread_mutex_lock(&m->mu);
	for (const struct metrics_family *f = m->families; f; f = f->next) {
		buf_appendf(out, "# HELP %s ", f->name);
		metrics_put_help(out, f->help);
		buf_appendf(out, "\n# TYPE %s %s\n", f->name, metrics_type_names[f->type]);
		for (const struct metrics_series *s = f->head; s; s = s->next)
			metrics_render_series(out, f, s);
	}
	pthread_mutex_unlock(&m->mu);
}

/* Unit tests for lib/metrics: render format, labels, cumulative buckets, concurrency. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "metrics_process.h"
#include "unit.h"

static char *metrics_text(struct metrics *m)
{
	struct buf b = BUF_INIT;
	metrics_render(m, &b);
	return buf_detach(&b);
}

static int count_occurrences(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

UNIT_TEST(metrics_counter_render_and_labels)
{
	struct metrics *m = metrics_new();
	struct metrics_counter *a =
	    metrics_counter(m, "aimem_x_total", "Things done.", "route=\"a\",status=\"200\"");
	struct metrics_counter *b = metrics_counter(m, "aimem_x_total", "ignored second help",
	                                            "route=\"b\",status=\"404\"");
	struct metrics_counter *plain = metrics_counter(m, "aimem_plain_total", "Plain.", "");
	metrics_counter_add(a, 3);
	metrics_counter_add(a, 2);
	metrics_counter_add(b, 1);
	metrics_counter_add(b, -7); /* ignored: counters never go down */
	/* get-or-create returns the same series */
	CHECK(metrics_counter(m, "aimem_x_total", NULL, "route=\"a\",status=\"200\"") == a);
	CHECK(metrics_counter(m, "aimem_plain_total", NULL, NULL) == plain);
	CHECK_INT(metrics_counter_value(a), 5);
	CHECK_INT(metrics_counter_value(b), 1);

	char *t = metrics_text(m);
	CHECK_STR(t, "# HELP aimem_x_total Things done.\n"
	             "# TYPE aimem_x_total counter\n"
	             "aimem_x_total{route=\"a\",status=\"200\"} 5\n"
	             "aimem_x_total{route=\"b\",status=\"404\"} 1\n"
	             "# HELP aimem_plain_total Plain.\n"
	             "# TYPE aimem_plain_total counter\n"
	             "aimem_plain_total 0\n");
	free(t);
	metrics_free(&m);
	CHECK(m == NULL);
	metrics_free(&m); /* NULL is fine */
}

UNIT_TEST(metrics_families_grouped_when_interleaved)
{
	struct metrics *m = metrics_new();
	metrics_counter(m, "aimem_a_total", "A.", "k=\"1\"");
	metrics_gauge(m, "aimem_b", "B.", "");
	metrics_counter(m, "aimem_a_total", "A.", "k=\"2\""); /* after b was created */
	char *t = metrics_text(m);
	CHECK_INT(count_occurrences(t, "# HELP aimem_a_total"), 1);
	CHECK_INT(count_occurrences(t, "# TYPE aimem_a_total counter"), 1);
	CHECK_CONTAINS(t,
	               "aimem_a_total{k=\"1\"} 0\naimem_a_total{k=\"2\"} 0\n# HELP aimem_b B.\n");
	free(t);
	metrics_free(&m);
}

UNIT_TEST(metrics_gauge_values)
{
	struct metrics *m = metrics_new();
	struct metrics_gauge *g = metrics_gauge(m, "aimem_in_flight", "In flight.", "");
	metrics_gauge_add(g, 1);
	metrics_gauge_add(g, 1);
	metrics_gauge_add(g, -1);
	CHECK(metrics_gauge_value(g) == 1.0);
	char *t = metrics_text(m);
	CHECK_CONTAINS(t, "# TYPE aimem_in_flight gauge\naimem_in_flight 1\n");
	free(t);
	metrics_gauge_set(g, 0.25);
	t = metrics_text(m);
	CHECK_CONTAINS(t, "aimem_in_flight 0.25\n");
	free(t);
	metrics_gauge_set(g, INFINITY);
	t = metrics_text(m);
	CHECK_CONTAINS(t, "aimem_in_flight +Inf\n");
	free(t);
	metrics_gauge_set(g, NAN);
	t = metrics_text(m);
	CHECK_CONTAINS(t, "aimem_in_flight NaN\n");
	free(t);
	metrics_free(&m);
}

UNIT_TEST(metrics_help_escaped)
{
	struct metrics *m = metrics_new();
	metrics_counter(m, "aimem_h_total", "line one\nback\\slash", "");
	char *t = metrics_text(m);
	CHECK_CONTAINS(t, "# HELP aimem_h_total line one\\nback\\\\slash\n");
	free(t);
	metrics_free(&m);
}

UNIT_TEST(metrics_histogram_buckets_cumulative)
{
	struct metrics *m = metrics_new();
	static const double bounds[] = { 0.1, 0.5, 1 };
	struct metrics_histogram *h =
	    metrics_histogram(m, "aimem_lat_seconds", "Latency.", "route=\"r\"", bounds, 3);
	metrics_observe(h, 0.05);
	metrics_observe(h, 0.1); /* le is inclusive */
	metrics_observe(h, 0.3);
	metrics_observe(h, 2);
	metrics_observe(h, 7);
	metrics_observe(h, NAN); /* dropped */
	CHECK_INT(metrics_histogram_count(h), 5);
	CHECK(metrics_histogram(m, "aimem_lat_seconds", NULL, "route=\"r\"", bounds, 3) == h);
	char *t = metrics_text(m);
	CHECK_STR(t, "# HELP aimem_lat_seconds Latency.\n"
	             "# TYPE aimem_lat_seconds histogram\n"
	             "aimem_lat_seconds_bucket{route=\"r\",le=\"0.1\"} 2\n"
	             "aimem_lat_seconds_bucket{route=\"r\",le=\"0.5\"} 3\n"
	             "aimem_lat_seconds_bucket{route=\"r\",le=\"1\"} 3\n"
	             "aimem_lat_seconds_bucket{route=\"r\",le=\"+Inf\"} 5\n"
	             "aimem_lat_seconds_sum{route=\"r\"} 9.45\n"
	             "aimem_lat_seconds_count{route=\"r\"} 5\n");
	free(t);
	metrics_free(&m);
}

UNIT_TEST(metrics_histogram_without_labels_and_latency_bounds)
{
	struct metrics *m = metrics_new();
	struct metrics_histogram *h = metrics_histogram(
	    m, "aimem_d_seconds", "D.", "", metrics_latency_bounds, metrics_latency_nbounds);
	metrics_observe(h, 0.0004);
	metrics_observe(h, 11);
	char *t = metrics_text(m);
	CHECK_CONTAINS(t, "aimem_d_seconds_bucket{le=\"0.0005\"} 1\n");
	CHECK_CONTAINS(t, "aimem_d_seconds_bucket{le=\"0.0025\"} 1\n");
	CHECK_CONTAINS(t, "aimem_d_seconds_bucket{le=\"10\"} 1\n");
	CHECK_CONTAINS(t, "aimem_d_seconds_bucket{le=\"+Inf\"} 2\n");
	CHECK_CONTAINS(t, "aimem_d_seconds_count 2\n");
	CHECK_INT(count_occurrences(t, "_bucket{"), (int)metrics_latency_nbounds + 1);
	CHECK(metrics_latency_bounds[0] == 0.0005);
	CHECK(metrics_latency_bounds[metrics_latency_nbounds - 1] == 10);
	free(t);
	metrics_free(&m);
}

/* Runs fn in a child and reports whether it died of SIGABRT. */
static bool metrics_aborts(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(2); /* keep the expected fatal line out of the test output */
		fn();
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void metrics_type_clash(void)
{
	struct metrics *m = metrics_new();
	metrics_counter(m, "aimem_same", "", "");
	metrics_gauge(m, "aimem_same", "", "a=\"1\"");
}

static void metrics_bad_name(void)
{
	struct metrics *m = metrics_new();
	metrics_counter(m, "9bad-name", "", "");
}

static void metrics_bad_bounds(void)
{
	struct metrics *m = metrics_new();
	static const double b[] = { 1, 0.5 };
	metrics_histogram(m, "aimem_h", "", "", b, 2);
}

static void metrics_other_bounds(void)
{
	struct metrics *m = metrics_new();
	static const double b[] = { 1, 2 };
	metrics_histogram(m, "aimem_h", "", "", b, 2);
	metrics_histogram(m, "aimem_h", "", "", b, 1);
}

static void metrics_good(void)
{
	struct metrics *m = metrics_new();
	metrics_counter(m, "aimem:ok_total", "", "");
	metrics_free(&m);
}

UNIT_TEST(metrics_programming_errors_abort)
{
	CHECK(metrics_aborts(metrics_type_clash));
	CHECK(metrics_aborts(metrics_bad_name));
	CHECK(metrics_aborts(metrics_bad_bounds));
	CHECK(metrics_aborts(metrics_other_bounds));
	CHECK(!metrics_aborts(metrics_good));
}

#define METRICS_THREADS 4
#define METRICS_ROUNDS 20000

struct metrics_worker {
	struct metrics *m;
	int id;
};

static void *metrics_worker_main(void *arg)
{
	struct metrics_worker *w = arg;
	char labels[32];
	for (int i = 0; i < METRICS_ROUNDS; i++) {
		/* get-or-create under contention, on shared and per-thread series */
		struct metrics_counter *c = metrics_counter(w->m, "aimem_c_total", "C.", "");
		snprintf(labels, sizeof(labels), "t=\"%d\"", w->id);
		struct metrics_counter *own =
		    metrics_counter(w->m, "aimem_own_total", "O.", labels);
		struct metrics_gauge *g = metrics_gauge(w->m, "aimem_g", "G.", "");
		struct metrics_histogram *h =
		    metrics_histogram(w->m, "aimem_h_seconds", "H.", "", metrics_latency_bounds,
		                      metrics_latency_nbounds);
		metrics_counter_add(c, 1);
		metrics_counter_add(own, 2);
		metrics_gauge_add(g, 1);
		metrics_gauge_add(g, -0.5);
		metrics_observe(h, 0.5);
		if (i % 5000 == 0) {
			struct buf b = BUF_INIT;
			metrics_render(w->m, &b); /* renders while others update */
			buf_free(&b);
		}
	}
	return NULL;
}

UNIT_TEST(metrics_concurrent_updates_from_4_threads)
{
	struct metrics *m = metrics_new();
	pthread_t th[METRICS_THREADS];
	struct metrics_worker w[METRICS_THREADS];
	for (int i = 0; i < METRICS_THREADS; i++) {
		w[i] = (struct metrics_worker){ m, i };
		UNIT_REQUIRE(pthread_create(&th[i], NULL, metrics_worker_main, &w[i]) == 0);
	}
	for (int i = 0; i < METRICS_THREADS; i++)
		pthread_join(th[i], NULL);
	const long long total = (long long)METRICS_THREADS * METRICS_ROUNDS;
	CHECK_INT(metrics_counter_value(metrics_counter(m, "aimem_c_total", "", "")), total);
	CHECK(metrics_gauge_value(metrics_gauge(m, "aimem_g", "", "")) == 0.5 * (double)total);
	struct metrics_histogram *h = metrics_histogram(
	    m, "aimem_h_seconds", "", "", metrics_latency_bounds, metrics_latency_nbounds);
	CHECK_INT(metrics_histogram_count(h), total);
	char *t = metrics_text(m);
	char line[128];
	for (int i = 0; i < METRICS_THREADS; i++) {
		snprintf(line, sizeof(line), "aimem_own_total{t=\"%d\"} %d\n", i,
		         2 * METRICS_ROUNDS);
		CHECK_CONTAINS(t, line);
	}
	snprintf(line, sizeof(line), "aimem_h_seconds_sum %g\n", 0.5 * (double)total);
	CHECK_CONTAINS(t, line);
	CHECK_INT(count_occurrences(t, "# TYPE aimem_own_total counter"), 1);
	free(t);
	metrics_free(&m);
}

/* The value of "name " at the start of a line of text, or -1. */
static double metrics_line_value(const char *text, const char *name)
{
	char key[128];
	snprintf(key, sizeof(key), "\n%s ", name);
	const char *p = strstr(text, key);
	return p ? strtod(p + strlen(key), NULL) : -1;
}

UNIT_TEST(metrics_process_collector_names_and_values)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, '\n');
	metrics_process_render(&b);
	const char *t = buf_str(&b);
	CHECK_CONTAINS(t, "# TYPE process_cpu_seconds_total counter\n");
	CHECK_CONTAINS(t, "# TYPE process_resident_memory_bytes gauge\n");
	CHECK_CONTAINS(t, "aimem_build_info{version=\"" AIMEM_VERSION "\"} 1\n");
	CHECK(metrics_line_value(t, "process_cpu_seconds_total") >= 0);
	CHECK(metrics_line_value(t, "process_resident_memory_bytes") > 1 << 20);
	CHECK(metrics_line_value(t, "process_virtual_memory_bytes") > 1 << 20);
	double fds = metrics_line_value(t, "process_open_fds");
	CHECK(fds >= 3 && fds < 10000);
	CHECK(metrics_line_value(t, "process_max_fds") >= fds);
	double start = metrics_line_value(t, "process_start_time_seconds");
	double now = (double)time(NULL);
	CHECK(start > now - 3600 && start <= now + 1); /* this test binary started just now */
	buf_free(&b);
}

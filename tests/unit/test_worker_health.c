/* Unit tests for lib/worker_health: the /readyz verdict (pure) and the lag series of held and
 * revoked partitions. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "worker_health.h"
#include "unit.h"

static const struct worker_health_config wh_cfg = { .session_ms = 45000,
	                                            .stall_ms = 60000,
	                                            .poll_ms = 5000 };

/* A member caught up at t = 1000 s, holding its partitions. */
static struct worker_health_state wh_state(void)
{
	return (struct worker_health_state){ .group = "g",
		                             .topic = "t",
		                             .member = true,
		                             .unassigned_ms = 0,
		                             .progress_ms = 1000000 };
}

UNIT_TEST(worker_health_ready_when_caught_up_or_idle)
{
	struct worker_health_state st = wh_state();
	char why[256] = "";
	CHECK(worker_health_verdict(&wh_cfg, &st, 1000000 + 3600000, why, sizeof(why)));
	CHECK_STR(why, "");
	st.lag = 5; /* behind, but for less than the stall timeout */
	CHECK(worker_health_verdict(&wh_cfg, &st, 1000000 + 59000, why, sizeof(why)));
}

UNIT_TEST(worker_health_stopped_partition_is_not_ready)
{
	struct worker_health_state st = wh_state();
	st.stopped = 2;
	char why[256];
	CHECK(!worker_health_verdict(&wh_cfg, &st, 1000000, why, sizeof(why)));
	CHECK_CONTAINS(why, "2 partition(s) stopped");
	CHECK_CONTAINS(why, "aimem offsets show --group g --topic t");
}

UNIT_TEST(worker_health_no_assignment_beyond_the_session_timeout)
{
	struct worker_health_state st = wh_state();
	st.member = false;
	st.unassigned_ms = 1000000;
	char why[256];
	CHECK(worker_health_verdict(&wh_cfg, &st, 1000000 + 45000, why, sizeof(why)));
	CHECK(!worker_health_verdict(&wh_cfg, &st, 1000000 + 46000, why, sizeof(why)));
	CHECK_CONTAINS(why, "no partition assignment from group g for 46s");
	st.member = true; /* an empty assignment is a member with nothing to do */
	CHECK(worker_health_verdict(&wh_cfg, &st, 1000000 + 46000, why, sizeof(why)));
}

UNIT_TEST(worker_health_stall_while_lagging)
{
	struct worker_health_state st = wh_state();
	st.lag = 7;
	char why[256];
	CHECK(!worker_health_verdict(&wh_cfg, &st, 1000000 + 61000, why, sizeof(why)));
	CHECK_CONTAINS(why, "no batch committed for 61s while 7 message(s) wait on topic t");
	st.lag = 0; /* no lag: idle, however long */
	CHECK(worker_health_verdict(&wh_cfg, &st, 1000000 + 61000, why, sizeof(why)));
	st.unknown_behind = 1; /* held for the database with messages in the log */
	CHECK(!worker_health_verdict(&wh_cfg, &st, 1000000 + 61000, why, sizeof(why)));
	CHECK_CONTAINS(why, "wait for their stored offsets");
	struct worker_health_config off = wh_cfg;
	off.stall_ms = 0; /* readyz.stall_timeout = 0: not checked */
	st.lag = 7;
	CHECK(worker_health_verdict(&off, &st, 1000000 + 3600000, why, sizeof(why)));
}

static char *wh_render(struct metrics *m)
{
	struct buf b = BUF_INIT;
	metrics_render(m, &b);
	char *text = strdup(buf_str(&b));
	buf_free(&b);
	return text;
}

UNIT_TEST(worker_health_revoked_partition_loses_its_lag_series)
{
	struct metrics *m = metrics_new();
	struct worker_health *h = worker_health_new(&wh_cfg, m, "g", "t");
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(parts, "t", 0);
	rd_kafka_topic_partition_list_add(parts, "t", 1);
	worker_health_assigned(h, parts);
	char why[256];
	CHECK(worker_health_ready(h, 0, why, sizeof(why)));
	/* without a handle no watermark is known: positions alone set no series */
	worker_health_position(h, 0, 10);
	char *t = wh_render(m);
	CHECK(strstr(t, "aimem_worker_lag_messages{") == NULL);
	free(t);
	worker_health_revoked(h, parts);
	t = wh_render(m);
	CHECK(strstr(t, "partition=\"0\"") == NULL);
	free(t);
	rd_kafka_topic_partition_list_destroy(parts);
	worker_health_free(&h);
	CHECK(h == NULL);
	metrics_free(&m);
}

UNIT_TEST(metrics_gauge_remove_drops_the_series)
{
	struct metrics *m = metrics_new();
	struct metrics_gauge *a = metrics_gauge(m, "aimem_lag", "help", "p=\"0\"");
	struct metrics_gauge *b = metrics_gauge(m, "aimem_lag", "help", "p=\"1\"");
	struct metrics_gauge *c = metrics_gauge(m, "aimem_lag", "help", "p=\"2\"");
	metrics_gauge_set(a, 1);
	metrics_gauge_set(b, 2);
	metrics_gauge_set(c, 3);
	metrics_gauge_remove(m, &c); /* the tail */
	metrics_gauge_remove(m, &a); /* the head */
	CHECK(a == NULL && c == NULL);
	char *t = wh_render(m);
	CHECK_CONTAINS(t, "aimem_lag{p=\"1\"} 2\n");
	CHECK(strstr(t, "p=\"0\"") == NULL && strstr(t, "p=\"2\"") == NULL);
	free(t);
	struct metrics_gauge *again = metrics_gauge(m, "aimem_lag", "help", "p=\"2\"");
	metrics_gauge_set(again, 9); /* asked again: a fresh series, after the others */
	t = wh_render(m);
	CHECK_CONTAINS(t, "aimem_lag{p=\"1\"} 2\naimem_lag{p=\"2\"} 9\n");
	free(t);
	metrics_gauge_remove(m, &b);
	metrics_gauge_remove(m, &b); /* NULL: nothing */
	metrics_free(&m);
}

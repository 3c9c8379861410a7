/*
 * lag: consumer_offsets against the brokers' watermarks (see lag.h). Single-threaded; the
 * consumer handle lives for one run.
 */
#include "lag.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "db.h"
#include "kafka.h"
#include "num.h"
#include "topic.h"
#include "xalloc.h"

struct lag_row {
	char *group, *topic;
	int partition;
	long long next, low, high, lag, expired;
	long long ts_ms; /* timestamp of the message at the first unprocessed offset; -1 unknown */
	char error[160];
};

struct lag_rows {
	struct lag_row *v;
	size_t n;
};

static void lag_rows_free(struct lag_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		free(rows->v[i].group);
		free(rows->v[i].topic);
	}
	free(rows->v);
	rows->v = NULL;
	rows->n = 0;
}

static int lag_load(PGconn *conn, const char *group, struct lag_rows *rows, char *err,
                    size_t errlen)
{
	const char *params[1] = { group };
	PGresult *res = NULL;
	if (db_exec(conn,
	            "SELECT consumer_group, topic, partition, next_offset FROM consumer_offsets"
	            " WHERE $1::text IS NULL OR consumer_group = $1 ORDER BY 1, 2, 3",
	            1, params, &res, err, errlen) != DB_OK)
		return -1;
	rows->n = (size_t)PQntuples(res);
	rows->v = xcalloc(rows->n ? rows->n : 1, sizeof(*rows->v));
	for (size_t i = 0; i < rows->n; i++) {
		struct lag_row *r = &rows->v[i];
		long long part = 0;
		r->group = xstrdup(PQgetvalue(res, (int)i, 0));
		r->topic = xstrdup(PQgetvalue(res, (int)i, 1));
		if (num_parse_int(PQgetvalue(res, (int)i, 2), 0, INT32_MAX, &part) != NUM_OK ||
		    num_parse_int(PQgetvalue(res, (int)i, 3), 0, INT64_MAX, &r->next) != NUM_OK)
			snprintf(r->error, sizeof(r->error), "bad consumer_offsets row");
		r->partition = (int)part;
		r->ts_ms = -1;
	}
	PQclear(res);
	return 0;
}

/* The timestamp of the message at r's first unprocessed offset (one message, then unassign). */
static void lag_oldest(rd_kafka_t *rk, struct lag_row *r, long long start, long long timeout_ms)
{
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, r->topic, r->partition)->offset = start;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (e) {
		snprintf(r->error, sizeof(r->error), "assign: %s", rd_kafka_err2str(e));
		return;
	}
	long long deadline = backoff_now_ms() + timeout_ms;
	while (r->ts_ms < 0 && backoff_now_ms() < deadline) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
		if (rkm == NULL)
			continue;
		if (!rkm->err && rkm->partition == r->partition && rkm->offset >= start &&
		    strcmp(rd_kafka_topic_name(rkm->rkt), r->topic) == 0) {
			rd_kafka_timestamp_type_t type;
			int64_t ts = rd_kafka_message_timestamp(rkm, &type);
			r->ts_ms = ts >= 0 ? ts : 0;
		}
		rd_kafka_message_destroy(rkm);
	}
	if (r->ts_ms < 0)
		snprintf(r->error, sizeof(r->error), "no message at offset %lld within %lld ms",
		         start, timeout_ms);
	(void)rd_kafka_assign(rk, NULL);
}

static void lag_measure(rd_kafka_t *rk, struct lag_row *r, long long timeout_ms)
{
	int64_t lo = 0, hi = 0;
	rd_kafka_resp_err_t e =
	    rd_kafka_query_watermark_offsets(rk, r->topic, r->partition, &lo, &hi, (int)timeout_ms);
	if (e) {
		snprintf(r->error, sizeof(r->error), "watermarks: %s", rd_kafka_err2str(e));
		return;
	}
	r->low = lo;
	r->high = hi;
	long long start = r->next > lo ? r->next : lo;
	r->expired = lo > r->next ? lo - r->next : 0;
	r->lag = hi > start ? hi - start : 0;
	if (r->lag > 0)
		lag_oldest(rk, r, start, timeout_ms);
}

static void lag_time_text(long long ms, char *out, size_t outlen)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char day[32];
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", day, (int)(ms % 1000));
}

static void lag_print_json(const struct lag_rows *rows, long long now_ms, FILE *out)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < rows->n; i++) {
		const struct lag_row *r = &rows->v[i];
		json_t *o = json_object();
		json_object_set_new(o, "group", json_string(r->group));
		json_object_set_new(o, "topic", json_string(r->topic));
		json_object_set_new(o, "partition", json_integer(r->partition));
		json_object_set_new(o, "next_offset", json_integer(r->next));
		json_object_set_new(o, "low_watermark", json_integer(r->low));
		json_object_set_new(o, "high_watermark", json_integer(r->high));
		json_object_set_new(o, "lag", json_integer(r->lag));
		json_object_set_new(o, "expired", json_integer(r->expired));
		char when[48];
		if (r->ts_ms >= 0) {
			lag_time_text(r->ts_ms, when, sizeof(when));
			json_object_set_new(o, "oldest_unprocessed_at", json_string(when));
			json_object_set_new(o, "oldest_unprocessed_age_seconds",
			                    json_real((double)(now_ms - r->ts_ms) / 1000.0));
		} else {
			json_object_set_new(o, "oldest_unprocessed_at", json_null());
			json_object_set_new(o, "oldest_unprocessed_age_seconds", json_null());
		}
		json_object_set_new(o, "error", r->error[0] ? json_string(r->error) : json_null());
		json_array_append_new(arr, o);
	}
	json_t *root = json_pack("{s:o}", "partitions", arr);
	json_dumpf(root, out, JSON_COMPACT);
	fputc('\n', out);
	json_decref(root);
}

static void lag_print_table(const struct lag_rows *rows, long long now_ms, FILE *out)
{
	fprintf(out, "%-24s %-24s %5s %12s %12s %10s %12s\n", "GROUP", "TOPIC", "PART",
	        "NEXT_OFFSET", "HIGH_WATER", "LAG", "OLDEST_AGE");
	for (size_t i = 0; i < rows->n; i++) {
		const struct lag_row *r = &rows->v[i];
		char age[32] = "-";
		if (r->ts_ms >= 0)
			snprintf(age, sizeof(age), "%.1fs", (double)(now_ms - r->ts_ms) / 1000.0);
		fprintf(out, "%-24s %-24s %5d %12lld %12lld %10lld %12s", r->group, r->topic,
		        r->partition, r->next, r->high, r->lag, age);
		if (r->expired > 0)
			fprintf(out, "  (%lld expired unprocessed)", r->expired);
		if (r->error[0])
			fprintf(out, "  error: %s", r->error);
		fputc('\n', out);
	}
	if (rows->n == 0)
		fputs("(no stored offsets)\n", out);
}

int lag_run(PGconn *conn, const struct cfg *cfg, const struct lag_opts *o, char *err, size_t errlen)
{
	struct lag_rows rows = { 0 };
	if (lag_load(conn, o->group, &rows, err, errlen) != 0)
		return -1;
	rd_kafka_t *rk = NULL;
	if (rows.n > 0 && (rk = topic_reader_new(cfg, "aimem-lag", false, err, errlen)) == NULL) {
		lag_rows_free(&rows);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < rows.n; i++) {
		if (rows.v[i].error[0] == '\0')
			lag_measure(rk, &rows.v[i], o->timeout_ms);
		if (rows.v[i].error[0] != '\0')
			rc = 1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (o->json)
		lag_print_json(&rows, now_ms, o->out);
	else
		lag_print_table(&rows, now_ms, o->out);
	if (rk != NULL) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	lag_rows_free(&rows);
	return rc;
}

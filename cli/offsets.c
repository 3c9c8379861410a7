/*
 * offsets: a consumer group's stored positions against the broker's log, and their reset by
 * an operator (see offsets.h). Single-threaded; the client handle lives for one run.
 */
#include "offsets.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "db.h"
#include "kafka.h"
#include "topic.h"
#include "log.h"
#include "num.h"
#include "position.h"
#include "xalloc.h"

struct offsets_part {
	bool stored; /* a consumer_offsets row exists */
	long long next, fp;
	bool have_fp;
	long long low, high;
	const char *status; /* static */
	char error[160];
};

struct offsets_run {
	rd_kafka_t *rk;
	struct offsets_part *v;
	int n; /* partitions of the topic (the broker's metadata) */
};

int offsets_parse_to(const char *text, struct offsets_opts *o)
{
	if (strcmp(text, "earliest") == 0)
		o->to = OFFSETS_TO_EARLIEST;
	else if (strcmp(text, "latest") == 0)
		o->to = OFFSETS_TO_LATEST;
	else if (num_parse_int(text, 0, INT64_MAX, &o->offset) == NUM_OK)
		o->to = OFFSETS_TO_OFFSET;
	else
		return -1;
	return 0;
}

/* The topic's partition count from the broker; -1 with err when it has no such topic. */
static int offsets_topic(rd_kafka_t *rk, const struct offsets_opts *o, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, (int)o->timeout_ms);
	rd_kafka_topic_destroy(rkt);
	int n = -1;
	if (e)
		snprintf(err, errlen, "metadata: %s", rd_kafka_err2str(e));
	else if (md->topic_cnt != 1 || md->topics[0].err)
		snprintf(err, errlen, "topic %s: %s", o->topic,
		         md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
		                            : "no such topic");
	else
		n = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	return n;
}

/* The stored rows of (group, topic) into r->v[partition]; FOR UPDATE when lock (reset). */
static int offsets_load(PGconn *conn, const struct offsets_opts *o, struct offsets_run *r,
                        bool lock, char *err, size_t errlen)
{
	const char *params[] = { o->group, o->topic };
	PGresult *res = NULL;
	if (db_exec(conn,
	            lock ? "SELECT partition, next_offset, last_fingerprint FROM consumer_offsets"
	                   " WHERE consumer_group = $1 AND topic = $2 ORDER BY 1 FOR UPDATE"
	                 : "SELECT partition, next_offset, last_fingerprint FROM consumer_offsets"
	                   " WHERE consumer_group = $1 AND topic = $2 ORDER BY 1",
	            2, params, &res, err, errlen) != DB_OK)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		long long part, next;
		if (num_parse_int(PQgetvalue(res, i, 0), 0, INT32_MAX, &part) != NUM_OK ||
		    num_parse_int(PQgetvalue(res, i, 1), 0, INT64_MAX, &next) != NUM_OK)
			continue;
		if (part >= r->n) { /* the topic shrank? Kafka cannot; a row of another topic */
			log_warn("stored offset of a partition the topic does not have group=%s"
			         " topic=%s partition=%lld",
			         o->group, o->topic, part);
			continue;
		}
		struct offsets_part *p = &r->v[part];
		p->stored = true;
		p->next = next;
		p->have_fp =
		    !PQgetisnull(res, i, 2) &&
		    num_parse_int(PQgetvalue(res, i, 2), INT64_MIN, INT64_MAX, &p->fp) == NUM_OK;
	}
	PQclear(res);
	return 0;
}

/* The fingerprint of the message at offset (one message read by assign, then unassign);
 * false when none arrived within the timeout or another offset came first. */
static bool offsets_fingerprint_at(rd_kafka_t *rk, const struct offsets_opts *o, int partition,
                                   long long offset, long long *fp)
{
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, o->topic, partition)->offset = offset;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (e)
		return false;
	bool found = false, done = false;
	long long deadline = backoff_now_ms() + o->timeout_ms;
	while (!done && backoff_now_ms() < deadline) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
		if (rkm == NULL)
			continue;
		if (!rkm->err && rkm->partition == partition && rkm->offset >= offset) {
			done = true;
			found = rkm->offset == offset;
			rd_kafka_timestamp_type_t type;
			*fp = position_fingerprint(rd_kafka_message_timestamp(rkm, &type), rkm->key,
			                           rkm->key_len, rkm->payload, rkm->len);
		}
		rd_kafka_message_destroy(rkm);
	}
	(void)rd_kafka_assign(rk, NULL);
	return found;
}

/* Watermarks and the status a worker would find for partition i. */
static void offsets_measure(struct offsets_run *r, const struct offsets_opts *o, int i)
{
	struct offsets_part *p = &r->v[i];
	int64_t lo = 0, hi = 0;
	rd_kafka_resp_err_t e =
	    rd_kafka_query_watermark_offsets(r->rk, o->topic, i, &lo, &hi, (int)o->timeout_ms);
	if (e) {
		snprintf(p->error, sizeof(p->error), "watermarks: %s", rd_kafka_err2str(e));
		p->status = "error";
		return;
	}
	p->low = lo;
	p->high = hi;
	if (!p->stored) {
		p->status = "none";
		return;
	}
	enum position_status st = position_check(p->next, lo, hi);
	long long at = position_verify_offset(p->next, lo, hi, p->have_fp);
	long long fp = 0;
	if (!position_stops(st) && at >= 0) {
		if (!offsets_fingerprint_at(r->rk, o, i, at, &fp))
			snprintf(p->error, sizeof(p->error), "no message at offset %lld to verify",
			         at);
		else if (fp != p->fp)
			st = POSITION_MISMATCH;
	}
	p->status = position_status_name(st);
}

static int offsets_open(const struct cfg *cfg, const struct offsets_opts *o, struct offsets_run *r,
                        char *err, size_t errlen)
{
	r->rk = topic_reader_new(cfg, "aimem-offsets", false, err, errlen);
	if (r->rk == NULL)
		return -1;
	r->n = offsets_topic(r->rk, o, err, errlen);
	if (r->n < 0)
		return -1;
	r->v = xcalloc(r->n > 0 ? (size_t)r->n : 1, sizeof(*r->v));
	return 0;
}

static void offsets_close(struct offsets_run *r)
{
	if (r->rk != NULL) {
		rd_kafka_consumer_close(r->rk);
		rd_kafka_destroy(r->rk);
	}
	free(r->v);
	*r = (struct offsets_run){ 0 };
}

int offsets_show(PGconn *conn, const struct cfg *cfg, const struct offsets_opts *o, char *err,
                 size_t errlen)
{
	struct offsets_run r = { 0 };
	if (offsets_open(cfg, o, &r, err, errlen) != 0 ||
	    offsets_load(conn, o, &r, false, err, errlen) != 0) {
		offsets_close(&r);
		return -1;
	}
	int rc = 0;
	fprintf(o->out, "group=%s topic=%s partitions=%d\n", o->group, o->topic, r.n);
	fprintf(o->out, "%5s %12s %12s %12s %10s  %s\n", "PART", "STORED_NEXT", "LOW", "HIGH",
	        "LAG", "STATUS");
	for (int i = 0; i < r.n; i++) {
		struct offsets_part *p = &r.v[i];
		offsets_measure(&r, o, i);
		char next[24] = "-", lag[24] = "-";
		if (p->stored)
			snprintf(next, sizeof(next), "%lld", p->next);
		if (p->stored && p->high >= p->next)
			snprintf(lag, sizeof(lag), "%lld",
			         p->high - (p->next > p->low ? p->next : p->low));
		fprintf(o->out, "%5d %12s %12lld %12lld %10s  %s", i, next, p->low, p->high, lag,
		        p->status);
		if (p->error[0])
			fprintf(o->out, "  (%s)", p->error);
		fputc('\n', o->out);
		if (strcmp(p->status, "beyond_end") == 0 || strcmp(p->status, "mismatch") == 0 ||
		    strcmp(p->status, "error") == 0 || p->error[0])
			rc = 1;
	}
	if (rc == 1)
		fprintf(
		    o->out,
		    "workers stop the partitions marked beyond_end or mismatch; after stopping the"
		    " group's workers: aimem offsets reset --group %s --topic %s --to"
		    " earliest|latest|OFFSET [--partition P]\n",
		    o->group, o->topic);
	offsets_close(&r);
	return rc;
}

/* Refuses (-1 with err) while the group has members, or when the broker cannot say. */
static int offsets_group_idle(rd_kafka_t *rk, const struct offsets_opts *o, char *err,
                              size_t errlen)
{
	const struct rd_kafka_group_list *gl = NULL;
	rd_kafka_resp_err_t e = rd_kafka_list_groups(rk, o->group, &gl, (int)o->timeout_ms);
	if (e) {
		snprintf(err, errlen, "cannot tell whether group %s is running: %s", o->group,
		         rd_kafka_err2str(e));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < gl->group_cnt && rc == 0; i++) {
		const struct rd_kafka_group_info *g = &gl->groups[i];
		if (strcmp(g->group, o->group) != 0)
			continue;
		if (g->err && g->err != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
			snprintf(err, errlen, "cannot tell whether group %s is running: %s",
			         o->group, rd_kafka_err2str(g->err));
			rc = -1;
		} else if (g->member_cnt > 0) {
			snprintf(
			    err, errlen,
			    "refused: consumer group %s has %d active member(s) (state %s); stop"
			    " its workers first, then reset",
			    o->group, g->member_cnt, g->state ? g->state : "?");
			rc = -1;
		}
	}
	rd_kafka_group_list_destroy(gl);
	return rc;
}

/* The new next offset of partition i, or -1 with err. */
static long long offsets_target(const struct offsets_run *r, const struct offsets_opts *o, int i,
                                char *err, size_t errlen)
{
	const struct offsets_part *p = &r->v[i];
	if (o->to == OFFSETS_TO_EARLIEST)
		return p->low;
	if (o->to == OFFSETS_TO_LATEST)
		return p->high;
	if (o->offset > p->high) {
		snprintf(err, errlen,
		         "offset %lld is past partition %d's end (%lld): the workers would stop it"
		         " again",
		         o->offset, i, p->high);
		return -1;
	}
	return o->offset;
}

static int offsets_write(PGconn *conn, const struct offsets_opts *o, int partition, long long next,
                         char *err, size_t errlen)
{
	char part[24], off[24];
	snprintf(part, sizeof(part), "%d", partition);
	snprintf(off, sizeof(off), "%lld", next);
	const char *params[] = { o->group, o->topic, part, off };
	/* the operator's decision may move backwards; the fingerprint belonged to the old one */
	return db_exec(
	           conn,
	           "INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset,"
	           " last_fingerprint) VALUES ($1, $2, $3, $4, NULL)"
	           " ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET"
	           " next_offset = excluded.next_offset, last_fingerprint = NULL,"
	           " updated_at = now()",
	           4, params, NULL, err, errlen) == DB_OK
	           ? 0
	           : -1;
}

/* Inside the transaction, rows locked: check the group, compute, write, print. */
static int offsets_apply(PGconn *conn, const struct offsets_opts *o, struct offsets_run *r,
                         char *err, size_t errlen)
{
	if (offsets_load(conn, o, r, true, err, errlen) != 0 ||
	    offsets_group_idle(r->rk, o, err, errlen) != 0)
		return -1;
	long long *to = xcalloc((size_t)r->n, sizeof(*to));
	int rc = 0;
	for (int i = 0; i < r->n && rc == 0; i++) {
		to[i] = -1;
		if (o->partition >= 0 && i != o->partition)
			continue;
		int64_t lo = 0, hi = 0;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(r->rk, o->topic, i, &lo,
		                                                         &hi, (int)o->timeout_ms);
		if (e) {
			snprintf(err, errlen, "partition %d watermarks: %s", i,
			         rd_kafka_err2str(e));
			rc = -1;
			break;
		}
		r->v[i].low = lo;
		r->v[i].high = hi;
		to[i] = offsets_target(r, o, i, err, errlen);
		if (to[i] < 0)
			rc = -1;
	}
	for (int i = 0; i < r->n && rc == 0; i++)
		if (to[i] >= 0)
			rc = offsets_write(conn, o, i, to[i], err, errlen);
	for (int i = 0; i < r->n && rc == 0; i++) {
		if (to[i] < 0)
			continue;
		char old[24] = "none";
		if (r->v[i].stored)
			snprintf(old, sizeof(old), "%lld", r->v[i].next);
		fprintf(o->out, "partition %d: %s -> %lld (low %lld, high %lld)%s\n", i, old, to[i],
		        r->v[i].low, r->v[i].high,
		        to[i] < r->v[i].low ? " below the log start: resumes there" : "");
		log_info("offsets reset group=%s topic=%s partition=%d from=%s to=%lld low=%lld"
		         " high=%lld",
		         o->group, o->topic, i, old, to[i], r->v[i].low, r->v[i].high);
	}
	free(to);
	return rc;
}

int offsets_reset(PGconn *conn, const struct cfg *cfg, const struct offsets_opts *o, char *err,
                  size_t errlen)
{
	struct offsets_run r = { 0 };
	if (offsets_open(cfg, o, &r, err, errlen) != 0) {
		offsets_close(&r);
		return -1;
	}
	if (o->partition >= r.n) {
		snprintf(err, errlen, "topic %s has no partition %lld (it has %d)", o->topic,
		         o->partition, r.n);
		offsets_close(&r);
		return -1;
	}
	int rc = db_begin(conn, err, errlen) == DB_OK ? 0 : -1;
	if (rc == 0)
		rc = offsets_apply(conn, o, &r, err, errlen);
	if (rc == 0)
		rc = db_commit(conn, err, errlen) == DB_OK ? 0 : -1;
	else
		db_rollback(conn);
	if (rc == 0)
		fprintf(o->out, "reset group=%s topic=%s: start the group's workers to resume\n",
		        o->group, o->topic);
	offsets_close(&r);
	return rc;
}

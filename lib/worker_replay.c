/*
 * worker_replay: the replay mode (DESIGN §5, `<worker> replay`, `aimem replay`; see struct
 * worker_replay in worker.h). A temporary consumer, never in the live group, assigns every
 * partition of the topic itself over a time range and feeds worker_batch.c's one path; this
 * file says where that path differs: messages outside the range or of another tenant are not
 * admitted, the transaction fences and stores no positions (it counts the rows it changed and a
 * dry run rolls back), a lost connection retries the batch (upserts make that harmless), and
 * the run ends with a report instead of a /readyz server.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "db.h"
#include "event.h"
#include "log.h"
#include "num.h"
#include "sig.h"
#include "worker_int.h"
#include "xalloc.h"

struct worker_replay_run {
	struct worker_replay args;
	struct worker_replay_stats rs;
	unsigned long long rows_pending; /* rows changed by the batch in progress */
	bool complete;                   /* the whole range was processed */
};

/* Keeps only messages inside the range and of the tenant asked for; false when rkm was
 * dropped. */
static bool worker_replay_admit(struct worker *w, struct wpart *p, rd_kafka_message_t *rkm)
{
	if (rkm->offset >= p->end) { /* past the end captured at start: this partition is done */
		if (p->seen < p->end) {
			p->seen = p->end;
			rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
			rd_kafka_topic_partition_list_add(one, w->topic, rkm->partition);
			rd_kafka_pause_partitions(w->rk, one); /* stop fetching the live stream */
			rd_kafka_topic_partition_list_destroy(one);
		}
		rd_kafka_message_destroy(rkm);
		return false;
	}
	if (rkm->offset + 1 > p->seen)
		p->seen = rkm->offset + 1;
	w->replay->rs.read++;
	if (w->replay->args.customer > 0) {
		long long key;
		if (rkm->key == NULL ||
		    num_parse_intn(rkm->key, rkm->key_len, 1, INT32_MAX, &key) != NUM_OK ||
		    key != w->replay->args.customer) {
			w->replay->rs.other_tenants++;
			rd_kafka_message_destroy(rkm);
			return false;
		}
	}
	return true;
}

/* Replay: the rows this transaction changed in the tenant tables (its own statistics). */
static int worker_replay_count(struct worker *w)
{
	static const char sql[] = "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)"
	                          " FROM pg_stat_xact_user_tables WHERE relname = ANY($1::text[])";
	char err[512];
	PGresult *res = NULL;
	struct buf names = BUF_INIT; /* the program's tables as a text[] literal: "{a,b}" */
	buf_putc(&names, '{');
	for (size_t i = 0; w->ops.tables != NULL && w->ops.tables[i] != NULL; i++)
		buf_appendf(&names, "%s%s", i > 0 ? "," : "", w->ops.tables[i]);
	buf_putc(&names, '}');
	const char *params[] = { buf_str(&names) };
	int rc = db_exec(w->conn, sql, 1, params, &res, err, sizeof(err));
	buf_free(&names);
	long long n = 0;
	if (rc == DB_OK && num_parse_int(PQgetvalue(res, 0, 0), 0, INT64_MAX, &n) == NUM_OK)
		w->replay->rows_pending =
		    (unsigned long long)n; /* counted once the batch is done */
	PQclear(res);
	return rc;
}

/* Replay: every partition of the topic, from from_ms (or the earliest) to the end offsets now
 * (or to_ms); assigned directly, no group. -1 when the broker cannot say. */
static int worker_replay_assign(struct worker *w)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(w->rk, w->topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(w->rk, 0, rkt, &md, 10000);
	rd_kafka_topic_destroy(rkt);
	if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
		log_error("replay: no partitions for topic=%s error=\"%s\"", w->topic,
		          e                    ? rd_kafka_err2str(e)
		          : md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
		                               : "no such topic");
		if (md)
			rd_kafka_metadata_destroy(md);
		return -1;
	}
	int nparts = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_partition_list_t *from = rd_kafka_topic_partition_list_new(nparts);
	rd_kafka_topic_partition_list_t *to = rd_kafka_topic_partition_list_new(nparts);
	for (int p = 0; p < nparts; p++) {
		rd_kafka_topic_partition_list_add(from, w->topic, p)->offset =
		    w->replay->args.from_ms;
		rd_kafka_topic_partition_list_add(to, w->topic, p)->offset = w->replay->args.to_ms;
	}
	e = w->replay->args.from_ms >= 0 ? rd_kafka_offsets_for_times(w->rk, from, 10000) : 0;
	if (!e && w->replay->args.to_ms >= 0)
		e = rd_kafka_offsets_for_times(w->rk, to, 10000);
	long long total = 0;
	for (int p = 0; !e && p < nparts; p++) {
		int64_t lo, hi;
		e = rd_kafka_query_watermark_offsets(w->rk, w->topic, p, &lo, &hi, 10000);
		if (e)
			break;
		struct wpart *wp = worker_part(w, p);
		rd_kafka_topic_partition_t *f =
		    rd_kafka_topic_partition_list_find(from, w->topic, p);
		rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(to, w->topic, p);
		if (f == NULL || t == NULL || f->err ||
		    t->err) { /* never skip a partition silently */
			e = f == NULL || t == NULL ? RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION
			    : f->err               ? f->err
			                           : t->err;
			break;
		}
		long long start = w->replay->args.from_ms >= 0 ? f->offset : lo;
		long long end = hi;
		if (w->replay->args.to_ms >= 0 && t->offset >= 0 && t->offset < end)
			end = t->offset;
		if (start < 0 || start > end) /* no message at or after from_ms */
			start = end;
		if (start < lo) /* retention deleted the beginning of the range */
			start = lo < end ? lo : end;
		f->offset = start;
		*wp = (struct wpart){ .next = start, .end = end, .seen = start, .verify = -1 };
		total += end - start;
		log_info("replay partition=%d from_offset=%lld end_offset=%lld", p, start, end);
	}
	if (!e)
		e = rd_kafka_assign(w->rk, from);
	rd_kafka_topic_partition_list_destroy(from);
	rd_kafka_topic_partition_list_destroy(to);
	if (e) {
		log_error("replay: cannot resolve the range error=\"%s\"", rd_kafka_err2str(e));
		return -1;
	}
	log_info("replay range messages=%lld group=%s dry_run=%s", total, w->group,
	         w->replay->args.dry_run ? "true" : "false");
	return 0;
}

static bool worker_replay_filled(const struct worker *w)
{
	for (size_t p = 0; p < w->nparts; p++)
		if (w->parts[p].end >= 0 && w->parts[p].seen < w->parts[p].end)
			return false;
	return true;
}

static int worker_replay_run(struct worker *w)
{
	long long started = backoff_now_ms(), last_log = started;
	if (worker_replay_assign(w) != 0)
		return -1;
	while (!sig_stop_requested() && !(worker_replay_filled(w) && w->nbatch == 0)) {
		worker_fill(w);
		worker_commit_batch(w);
		if (backoff_now_ms() - last_log >= 5000) {
			last_log = backoff_now_ms();
			log_info("replay progress read=%llu applied=%llu dead_letters=%llu",
			         w->replay->rs.read, w->replay->rs.applied,
			         w->replay->rs.dead_letters);
		}
	}
	w->replay->complete = worker_replay_filled(w) && w->nbatch == 0;
	worker_drop_batch(w);
	w->replay->rs.seconds = (double)(backoff_now_ms() - started) / 1000.0;
	rd_kafka_assign(w->rk, NULL);
	if (!w->replay->complete)
		log_warn("replay stopped before the end of the range");
	return w->replay->complete ? 0 : 1;
}

void worker_replay_report(const struct worker *w, struct worker_replay_stats *out)
{
	*out = w->replay != NULL ? w->replay->rs : (struct worker_replay_stats){ 0 };
}

void worker_replay_print(const struct worker *w, FILE *out)
{
	if (w->replay == NULL)
		return; /* the live group has no report */
	const struct worker_replay_stats *r = &w->replay->rs;
	fprintf(out,
	        "replay: group=%s topic=%s customer=%lld dry_run=%s complete=%s\n"
	        "replay: messages_read=%llu other_tenants_skipped=%llu applied=%llu"
	        " erased_dropped=%llu dead_letters=%llu rows_changed=%llu seconds=%.1f\n",
	        w->group, w->topic, w->replay->args.customer,
	        w->replay->args.dry_run ? "true" : "false", w->replay->complete ? "true" : "false",
	        r->read, r->other_tenants, r->applied, r->erased, r->dead_letters, r->rows_changed,
	        r->seconds);
}

/* ---- the mode ---------------------------------------------------------------------------- */

static void worker_replay_init(struct worker *w, const struct worker_config *wc)
{
	w->replay = xcalloc(1, sizeof(*w->replay));
	w->replay->args = *wc->replay;
}

static void worker_replay_fini(struct worker *w)
{
	free(w->replay);
	w->replay = NULL;
}

/* No port of its own (a replay runs beside the live worker): the report on stdout instead. */
static int worker_replay_serve(struct worker *w, const char *name, const char *http_bind,
                               int http_port)
{
	(void)name;
	(void)http_bind;
	(void)http_port;
	int rc = worker_replay_run(w);
	if (rc >= 0)
		worker_replay_print(w, stdout);
	return rc;
}

/* auto.offset.reset is "earliest" here: librdkafka resumes at the earliest kept itself. */
static void worker_replay_position_lost(struct worker *w, const rd_kafka_message_t *rkm)
{
	(void)w;
	log_warn("consumer error=\"%s\"", rd_kafka_message_errstr(rkm));
}

/* A replay has no positions to fence. */
static int worker_replay_begin(struct worker *w)
{
	(void)w;
	return DB_OK;
}

/* Instead of storing positions: the rows the batch changed; a dry run rolls back. */
static int worker_replay_finish(struct worker *w, bool *rollback)
{
	int rc = worker_replay_count(w);
	*rollback = rc == DB_OK && w->replay->args.dry_run;
	return rc;
}

static void worker_replay_committed(struct worker *w)
{
	struct worker_replay_stats *rs = &w->replay->rs;
	for (size_t i = 0; i < w->nbatch; i++) {
		int st = w->batch[i].status;
		if (st == EVENT_OK && w->batch[i].erased)
			rs->erased++;
		else if (st == EVENT_OK)
			rs->applied++;
		else if (st != WMSG_STALE)
			rs->dead_letters++;
	}
	rs->rows_changed += w->replay->rows_pending;
	w->replay->rows_pending = 0;
}

/* Upserts: applying a batch that did commit again changes nothing, so retry it. */
static bool worker_replay_conn_lost(struct worker *w)
{
	log_warn("database connection lost: the replay retries the batch");
	PQfinish(w->conn);
	w->conn = NULL;
	sig_wait((int)backoff_next_ms(&w->bo));
	return true;
}

const struct worker_mode worker_mode_replay = {
	.group_suffix = "-replay",
	.offset_reset = "earliest",
	.rebalance = NULL, /* worker_replay_assign assigns every partition itself */
	.init = worker_replay_init,
	.fini = worker_replay_fini,
	.run = worker_replay_run,
	.serve = worker_replay_serve,
	.admit = worker_replay_admit,
	.position_lost = worker_replay_position_lost,
	.filled = worker_replay_filled,
	.begin = worker_replay_begin,
	.finish = worker_replay_finish,
	.committed = worker_replay_committed,
	.conn_lost = worker_replay_conn_lost,
};

/* ---- arguments --------------------------------------------------------------------------- */

/* One option's value into out; -1 with err when it does not parse. */
static int worker_replay_option(int opt, const char *v, struct worker_replay *out, bool *have_from,
                                char *err, size_t errlen)
{
	switch (opt) {
	case 'd':
		out->dry_run = true;
		return 0;
	case 'c':
		if (num_parse_int(v, 1, INT32_MAX, &out->customer) == NUM_OK)
			return 0;
		snprintf(err, errlen, "replay: --customer needs a tenant id (1..2147483647)");
		return -1;
	case 'f':
		if (strcmp(v, "earliest") == 0) {
			out->from_ms = -1;
			*have_from = true;
			return 0;
		}
		if (event_parse_time(v, &out->from_ms) == 0) {
			*have_from = true;
			return 0;
		}
		snprintf(
		    err, errlen,
		    "replay: --from needs an RFC 3339 time (2026-11-20T15:04:05Z) or earliest");
		return -1;
	case 't':
		if (event_parse_time(v, &out->to_ms) == 0)
			return 0;
		snprintf(err, errlen, "replay: --to needs an RFC 3339 time (2026-11-20T15:04:05Z)");
		return -1;
	}
	abort(); /* broken invariant: an option of worker_replay_options without a case */
}

int worker_replay_args(int argc, char **argv, int argi, struct worker_replay *out, char *err,
                       size_t errlen)
{
	static const struct option options[] = {
		{ .name = "from", .has_arg = required_argument, .val = 'f' },
		{ .name = "to", .has_arg = required_argument, .val = 't' },
		{ .name = "customer", .has_arg = required_argument, .val = 'c' },
		{ .name = "dry-run", .has_arg = no_argument, .val = 'd' },
		{ 0 },
	};
	*out =
	    (struct worker_replay){ .from_ms = -1, .to_ms = -1, .customer = 0, .dry_run = false };
	if (argi >= argc)
		return 0;
	if (strcmp(argv[argi], "replay") != 0) {
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[argi]);
		return -1;
	}
	/* "replay" stands as getopt's argv[0]; "+": stop at the first non-option, never permute;
	 * opterr 0: the error text is ours; optind 0: glibc starts afresh */
	int n = argc - argi, opt;
	char **args = argv + argi;
	bool have_from = false;
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(n, args, "+", options, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			snprintf(err, errlen, "replay: unknown or incomplete option \"%s\"",
			         args[optind - 1]);
			return -1;
		}
		if (worker_replay_option(opt, optarg, out, &have_from, err, errlen) != 0)
			return -1;
	}
	if (optind < n) {
		snprintf(err, errlen, "replay: unknown or incomplete option \"%s\"", args[optind]);
		return -1;
	}
	if (!have_from) {
		snprintf(err, errlen, "replay: --from <RFC 3339|earliest> is required");
		return -1;
	}
	if (out->to_ms >= 0 && out->from_ms >= 0 && out->to_ms <= out->from_ms) {
		snprintf(err, errlen, "replay: --to must be after --from");
		return -1;
	}
	return 1;
}

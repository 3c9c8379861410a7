/*
 * summarize: aimem-summarizer's prepare/apply callbacks (see summarize.h).
 */
#include "summarize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "proc_embed.h"
#include "summary_model.h"
#include "xalloc.h"

struct summarizer {
	struct summarizer_config cfg;
	struct metrics_counter *builtin, *model, *fallback, *llm_failed;
};

enum summary_state { SUMMARY_PENDING, SUMMARY_DONE, SUMMARY_FAILED };

/* A job's prep: the summary of one call, ready for apply. */
struct summary {
	struct summarizer *s;
	struct worker_job *job;
	enum summary_state state;
	struct proc_result r;
	const char *processor; /* PROC_BUILTIN_NAME or s->cfg.llm_processor */
	bool needs_reprocess;  /* the built-in fallback stood in for the model */
	char err[200];         /* why the model failed (no content) */
};

struct summarizer *summarizer_new(const struct summarizer_config *cfg, struct metrics *m)
{
	struct summarizer *s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	static const char help[] = "Calls summarized, by path (builtin, llm, or the built-in "
	                           "fallback when the model failed)";
	s->builtin = metrics_counter(m, "aimem_summarizer_calls_total", help, "path=\"builtin\"");
	s->model = metrics_counter(m, "aimem_summarizer_calls_total", help, "path=\"llm\"");
	s->fallback = metrics_counter(m, "aimem_summarizer_calls_total", help, "path=\"fallback\"");
	s->llm_failed =
	    metrics_counter(m, "aimem_summarizer_llm_failures_total",
	                    "Calls the model could not summarize (each attempt round)", "");
	return s;
}

void summarizer_free(struct summarizer **s)
{
	free(*s);
	*s = NULL;
}

/* ---- prepare ---------------------------------------------------------------------------- */

static void summary_builtin(struct summary *sum, bool fallback)
{
	char err[200];
	proc_result_release(&sum->r);
	if (proc_run(sum->s->cfg.lexicons, &sum->job->ev->call, &sum->r, err, sizeof(err)) != 0) {
		/* only for a call without turns, which the event codec never lets through */
		sum->job->reject_code = "processing_failed";
		snprintf(sum->job->reject_err, sizeof(sum->job->reject_err), "%s", err);
		sum->state = SUMMARY_FAILED;
		return;
	}
	sum->processor = PROC_BUILTIN_NAME;
	sum->needs_reprocess = fallback;
	sum->state = SUMMARY_DONE;
	metrics_counter_add(fallback ? sum->s->fallback : sum->s->builtin, 1);
}

static void summary_model_done(void *opaque, int status, const char *content, size_t len,
                               const char *err)
{
	struct summary *sum = opaque;
	if (status == LLM_OK) {
		char perr[160];
		if (summary_model_parse(content, len, &sum->r, perr, sizeof(perr)) == 0) {
			sum->processor = sum->s->cfg.llm_processor;
			sum->needs_reprocess = false;
			sum->state = SUMMARY_DONE;
			metrics_counter_add(sum->s->model, 1);
			return;
		}
		snprintf(sum->err, sizeof(sum->err), "unusable answer: %s", perr);
	} else {
		snprintf(sum->err, sizeof(sum->err), "%s: %s", llm_status_name(status),
		         err ? err : "");
	}
	sum->state = SUMMARY_FAILED;
}

/* Every call of the batch that has no summary yet goes to the model at once (the client
 * bounds what is in flight); returns when all have answered or failed for good. */
static void summarizer_ask_model(struct summarizer *s, struct worker_job *const *jobs, size_t n)
{
	struct buf prompt = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		struct summary *sum = jobs[i]->prep;
		if (sum->state == SUMMARY_DONE)
			continue;
		sum->state = SUMMARY_PENDING;
		buf_reset(&prompt);
		summary_model_prompt(&jobs[i]->ev->call, s->cfg.max_prompt_bytes, &prompt);
		if (llm_submit(s->cfg.llm, s->cfg.system_prompt, buf_str(&prompt),
		               summary_model_done, sum) != 0) {
			sum->state = SUMMARY_FAILED;
			snprintf(sum->err, sizeof(sum->err), "cannot submit the request");
		}
	}
	buf_free(&prompt);
	while (llm_pending(s->cfg.llm) > 0)
		if (llm_poll(s->cfg.llm, 1000) < 0)
			break; /* curl's multi interface failed: what is still pending failed */
	for (size_t i = 0; i < n; i++) {
		struct summary *sum = jobs[i]->prep;
		if (sum->state == SUMMARY_PENDING) {
			sum->state = SUMMARY_FAILED;
			snprintf(sum->err, sizeof(sum->err), "the LLM client failed");
		}
	}
}

int summarizer_prepare(void *ctx, struct worker_job *const *jobs, size_t n)
{
	struct summarizer *s = ctx;
	for (size_t i = 0; i < n; i++)
		if (jobs[i]->prep == NULL) {
			struct summary *sum = xcalloc(1, sizeof(*sum));
			sum->s = s;
			sum->job = jobs[i];
			jobs[i]->prep = sum;
		}
	if (s->cfg.llm == NULL) {
		for (size_t i = 0; i < n; i++)
			summary_builtin(jobs[i]->prep, false);
		return WORKER_PREPARED;
	}
	summarizer_ask_model(s, jobs, n);
	bool retry = false;
	for (size_t i = 0; i < n; i++) {
		struct summary *sum = jobs[i]->prep;
		if (sum->state != SUMMARY_FAILED)
			continue;
		const rd_kafka_message_t *rkm = jobs[i]->rkm;
		metrics_counter_add(s->llm_failed, 1);
		log_warn("llm failed partition=%d offset=%lld policy=%s error=\"%s\"",
		         (int)rkm->partition, (long long)rkm->offset,
		         llm_policy_name(s->cfg.policy), sum->err);
		switch (s->cfg.policy) {
		case LLM_POLICY_FALLBACK:
			summary_builtin(sum, true);
			break;
		case LLM_POLICY_DEAD_LETTER:
			jobs[i]->reject_code = "llm_failed";
			snprintf(jobs[i]->reject_err, sizeof(jobs[i]->reject_err), "%s", sum->err);
			break;
		case LLM_POLICY_WAIT:
			retry = true;
			break;
		}
	}
	return retry ? WORKER_RETRY : WORKER_PREPARED;
}

void summarizer_release(void *ctx, void *prep)
{
	(void)ctx;
	struct summary *sum = prep;
	proc_result_release(&sum->r);
	free(sum);
}

/* ---- apply ------------------------------------------------------------------------------ */

/*
 * One upsert per call, keyed (customer_id, call_id). A row is rewritten only when something
 * it says changed (a duplicate event or a replay of the same result writes nothing), and a
 * built-in fallback result never replaces a model result of the same event (a replay during
 * an LLM outage must not degrade what is stored). Returns how many rows were written (0/1)
 * and the caller the row had before, so a call that moved to another caller recounts both.
 */
static const char summarize_upsert_sql[] =
    "WITH old AS (SELECT user_id FROM call_summaries WHERE customer_id = $1 AND call_id = $2),"
    " up AS (INSERT INTO call_summaries (customer_id, call_id, user_id, thread_id,"
    " call_started_at, call_ended_at, summary, key_topics, key_variables, sentiment,"
    " resolution_status, duration_seconds, embedding, search_tsv, processor, needs_reprocess,"
    " event_id, source_topic, source_partition, source_offset)"
    " VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7, $8::jsonb, $9::jsonb, $10,"
    " $11, CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE least(greatest(round(extract(epoch"
    " FROM $6::timestamptz - $5::timestamptz)), 0), 2147483647)::int END, $12::vector,"
    " to_tsvector('english', $7 || ' ' || $13), $14, $15::boolean, $16::uuid, $17, $18::int,"
    " $19::bigint)"
    " ON CONFLICT (customer_id, call_id) DO UPDATE SET user_id = excluded.user_id,"
    " thread_id = excluded.thread_id, call_started_at = excluded.call_started_at,"
    " call_ended_at = excluded.call_ended_at, summary = excluded.summary,"
    " key_topics = excluded.key_topics, key_variables = excluded.key_variables,"
    " sentiment = excluded.sentiment, resolution_status = excluded.resolution_status,"
    " duration_seconds = excluded.duration_seconds, embedding = excluded.embedding,"
    " search_tsv = excluded.search_tsv, processor = excluded.processor,"
    " needs_reprocess = excluded.needs_reprocess, event_id = excluded.event_id,"
    " source_topic = excluded.source_topic, source_partition = excluded.source_partition,"
    " source_offset = excluded.source_offset, updated_at = now()"
    " WHERE (call_summaries.user_id, call_summaries.thread_id, call_summaries.call_started_at,"
    " call_summaries.call_ended_at, call_summaries.summary, call_summaries.key_topics,"
    " call_summaries.key_variables, call_summaries.sentiment,"
    " call_summaries.resolution_status, call_summaries.processor,"
    " call_summaries.needs_reprocess, call_summaries.event_id)"
    " IS DISTINCT FROM (excluded.user_id, excluded.thread_id, excluded.call_started_at,"
    " excluded.call_ended_at, excluded.summary, excluded.key_topics, excluded.key_variables,"
    " excluded.sentiment, excluded.resolution_status, excluded.processor,"
    " excluded.needs_reprocess, excluded.event_id)"
    " AND NOT (excluded.needs_reprocess AND NOT call_summaries.needs_reprocess"
    " AND excluded.event_id = call_summaries.event_id)"
    " RETURNING 1)"
    " SELECT (SELECT count(*) FROM up), (SELECT user_id FROM old)";

/*
 * The caller's profile, recounted from their summaries (never incremented, so replays and
 * duplicates are harmless): first and last call, total calls, and the preferred name from the
 * newest call that had one; no name found keeps the stored one (never overwritten by empty).
 */
static const char summarize_profile_sql[] =
    "INSERT INTO caller_profiles AS p (customer_id, user_id, first_call_at, last_call_at,"
    " total_calls, preferred_name)"
    " SELECT $1, $2, min(coalesce(call_started_at, call_ended_at)), max(call_ended_at),"
    " count(*), (SELECT key_variables->>'caller_name' FROM call_summaries"
    " WHERE customer_id = $1 AND user_id = $2"
    " AND btrim(coalesce(key_variables->>'caller_name', '')) <> ''"
    " ORDER BY call_ended_at DESC, call_id DESC LIMIT 1)"
    " FROM call_summaries WHERE customer_id = $1 AND user_id = $2"
    " ON CONFLICT (customer_id, user_id) DO UPDATE SET first_call_at = excluded.first_call_at,"
    " last_call_at = excluded.last_call_at, total_calls = excluded.total_calls,"
    " preferred_name = coalesce(excluded.preferred_name, p.preferred_name), updated_at = now()"
    " WHERE (p.first_call_at, p.last_call_at, p.total_calls, p.preferred_name)"
    " IS DISTINCT FROM (excluded.first_call_at, excluded.last_call_at, excluded.total_calls,"
    " coalesce(excluded.preferred_name, p.preferred_name))";

/* ended_at, or the message timestamp when the event has none, as RFC 3339 text. */
static void summarize_ended_at(const struct worker_job *job, char *out, size_t outlen)
{
	if (job->ev->call.ended_at != NULL) {
		snprintf(out, outlen, "%s", job->ev->call.ended_at);
		return;
	}
	rd_kafka_timestamp_type_t type;
	int64_t ms = rd_kafka_message_timestamp(job->rkm, &type);
	if (ms < 0)
		ms = 0;
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char day[32];
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", day, (int)(ms % 1000));
}

static int summarize_profile(PGconn *conn, const char *tenant, const char *user, char *err,
                             size_t errlen)
{
	const char *params[] = { tenant, user };
	return db_exec(conn, summarize_profile_sql, 2, params, NULL, err, errlen);
}

int summarizer_apply(void *ctx, PGconn *conn, const struct worker_job *job, char *err,
                     size_t errlen)
{
	(void)ctx;
	const struct summary *sum = job->prep;
	const struct event *ev = job->ev;
	const struct proc_result *r = &sum->r;
	char tenant[24], ended[64], part[16], off[24];
	snprintf(tenant, sizeof(tenant), "%lld", ev->customer_id);
	summarize_ended_at(job, ended, sizeof(ended));
	snprintf(part, sizeof(part), "%d", (int)job->rkm->partition);
	snprintf(off, sizeof(off), "%lld", (long long)job->rkm->offset);
	char *topics = json_dumps(r->key_topics, JSON_COMPACT);
	char *vars = json_dumps(r->key_variables, JSON_COMPACT | JSON_SORT_KEYS);
	struct buf vec = BUF_INIT, words = BUF_INIT;
	proc_embedding_text(r->embedding, &vec);
	/* full-text words beyond the summary: topic names and the key variables' values */
	for (size_t i = 0; i < json_array_size(r->key_topics); i++)
		buf_appendf(&words, "%s ", json_string_value(json_array_get(r->key_topics, i)));
	const char *key;
	json_t *val;
	json_object_foreach(r->key_variables, key, val)
	{
		if (json_is_string(val))
			buf_appendf(&words, "%s ", json_string_value(val));
		for (size_t i = 0; json_is_array(val) && i < json_array_size(val); i++)
			if (json_is_string(json_array_get(val, i)))
				buf_appendf(&words, "%s ",
				            json_string_value(json_array_get(val, i)));
	}
	const char *params[] = { tenant,
		                 ev->call.call_id,
		                 ev->call.user_id,
		                 ev->call.thread_id,
		                 ev->call.started_at,
		                 ended,
		                 r->summary,
		                 topics ? topics : "[]",
		                 vars ? vars : "{}",
		                 r->sentiment,
		                 r->resolution,
		                 buf_str(&vec),
		                 buf_str(&words),
		                 sum->processor,
		                 sum->needs_reprocess ? "true" : "false",
		                 ev->event_id,
		                 job->rkm ? rd_kafka_topic_name(job->rkm->rkt) : NULL,
		                 part,
		                 off };
	PGresult *res = NULL;
	int rc = db_exec(conn, summarize_upsert_sql, 19, params, &res, err, errlen);
	free(topics);
	free(vars);
	buf_free(&vec);
	buf_free(&words);
	if (rc != DB_OK)
		return rc;
	bool written = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	char *old_user = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (written)
		rc = summarize_profile(conn, tenant, ev->call.user_id, err, errlen);
	if (rc == DB_OK && written && old_user != NULL && strcmp(old_user, ev->call.user_id) != 0)
		rc = summarize_profile(conn, tenant, old_user, err, errlen);
	free(old_user);
	return rc;
}

/*
 * summarize: aimem-summarizer's prepare/apply callbacks (see summarize.h).
 */
#include "summarize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "context.h"
#include "db.h"
#include "facts.h"
#include "log.h"
#include "model_policy.h"
#include "recount.h"
#include "sig.h"
#include "summary_model.h"
#include "xalloc.h"

struct summarizer {
	struct summarizer_config cfg;
	struct metrics_counter *builtin, *model, *fallback, *llm_failed;
	struct model_policy policy; /* a call the model failed */
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

static int summary_fallback(struct worker_job *job);

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
	s->policy = (struct model_policy){ .policy = cfg->policy,
		                           .failed = s->llm_failed,
		                           .fallback = s->fallback,
		                           .builtin = summary_fallback };
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
	if (proc_run_tenant(sum->s->cfg.lexicons, sum->s->cfg.tenant_topics,
	                    sum->job->ev->customer_id, &sum->job->ev->call, &sum->r, err,
	                    sizeof(err)) != 0) {
		/* only for a call without turns, which the event codec never lets through */
		sum->job->reject_code = "processing_failed";
		snprintf(sum->job->reject_err, sizeof(sum->job->reject_err), "%s", err);
		sum->state = SUMMARY_FAILED;
		return;
	}
	sum->processor = PROC_BUILTIN_NAME;
	sum->needs_reprocess = fallback;
	sum->state = SUMMARY_DONE;
	if (!fallback) /* a fallback is counted by the policy */
		metrics_counter_add(sum->s->builtin, 1);
}

/* The policy's fallback (model_policy.h): the built-in summary, marked needs_reprocess. */
static int summary_fallback(struct worker_job *job)
{
	struct summary *sum = job->prep;
	summary_builtin(sum, true);
	return sum->state == SUMMARY_DONE ? 0 : -1;
}

/* The model's answer, with every field it leaves empty taken from the built-in processors
 * (summary_model_answer): an answer without a caller name, say, still gives the profile the
 * extractor's name, and ChatStack greets a returning caller by it. */
static int summary_model_result(struct summary *sum, const char *content, size_t len, char *err,
                                size_t errlen)
{
	struct proc_result b;
	char berr[200];
	bool have = proc_run_tenant(sum->s->cfg.lexicons, sum->s->cfg.tenant_topics,
	                            sum->job->ev->customer_id, &sum->job->ev->call, &b, berr,
	                            sizeof(berr)) == 0;
	int rc = summary_model_answer(content, len, have ? &b : NULL, &sum->r, err, errlen);
	proc_result_release(&b);
	return rc;
}

static void summary_model_done(void *opaque, int status, const char *content, size_t len,
                               const char *err)
{
	struct summary *sum = opaque;
	if (sum->state != SUMMARY_PENDING)
		return; /* defence: an answer for a summary no longer waiting for one */
	if (status == LLM_OK) {
		char perr[160];
		if (summary_model_result(sum, content, len, perr, sizeof(perr)) == 0) {
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
	/* nothing may stay in flight past here: the summaries are freed with the batch */
	while (llm_pending(s->cfg.llm) > 0)
		if (llm_poll(s->cfg.llm, 1000) < 0) {
			log_warn("llm: curl's multi interface failed; polling again");
			sig_wait(100);
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
		if (sum->state == SUMMARY_FAILED && jobs[i]->reject_code == NULL)
			retry = model_policy_failed(&s->policy, jobs[i], sum->err) || retry;
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
 * One statement upserts all of a tenant's calls in the batch, keyed (customer_id, call_id),
 * from a JSON array of rows. A row is rewritten only when something it says changed (a
 * duplicate event or a replay of the same result writes nothing); a built-in fallback result
 * never replaces a model result (a client's retry of a call or a replay during an LLM outage
 * must not degrade what is stored; the stored model result stands); and an event earlier in
 * the partition never replaces a later one's row (a replay with --to, or one racing the live
 * group). The same call twice in one batch: a model result beats a fallback, then the later
 * event wins. Returns the callers whose profile must be recounted:
 * those of the rows written, and a row's previous caller when the call moved to another.
 */
static const char summarize_upsert_sql[] =
    "WITH src AS (SELECT DISTINCT ON (r.call_id) r.* FROM jsonb_to_recordset($2::jsonb) AS"
    " r(ord int, call_id text, user_id text, thread_id text, started_at timestamptz,"
    " ended_at timestamptz, summary text, key_topics jsonb, key_variables jsonb,"
    " sentiment text, resolution_status text, words text, processor text,"
    " needs_reprocess boolean, event_id uuid, event_at timestamptz, source_topic text,"
    " source_partition int, source_offset bigint, facts jsonb)"
    " ORDER BY r.call_id, r.needs_reprocess, r.ord DESC),"
    " old AS (SELECT c.call_id, c.user_id FROM call_summaries c JOIN src USING (call_id)"
    " WHERE c.customer_id = $1::int),"
    " up AS (INSERT INTO call_summaries (customer_id, call_id, user_id, thread_id,"
    " call_started_at, call_ended_at, summary, key_topics, key_variables, sentiment,"
    " resolution_status, duration_seconds, search_tsv, processor, needs_reprocess,"
    " event_id, event_at, source_topic, source_partition, source_offset, facts)"
    " SELECT $1::int, call_id, user_id, thread_id, started_at, ended_at, summary, key_topics,"
    " key_variables, sentiment, resolution_status, CASE WHEN started_at IS NULL THEN NULL"
    " ELSE least(greatest(round(extract(epoch FROM ended_at - started_at)), 0),"
    " 2147483647)::int END, to_tsvector('english', summary || ' ' || words),"
    " processor, needs_reprocess, event_id, event_at, source_topic, source_partition,"
    " source_offset,"
    " coalesce(facts, '[]') FROM src"
    " ON CONFLICT (customer_id, call_id) DO UPDATE SET user_id = excluded.user_id,"
    " thread_id = excluded.thread_id, call_started_at = excluded.call_started_at,"
    " call_ended_at = excluded.call_ended_at, summary = excluded.summary,"
    " key_topics = excluded.key_topics, key_variables = excluded.key_variables,"
    " sentiment = excluded.sentiment, resolution_status = excluded.resolution_status,"
    " duration_seconds = excluded.duration_seconds,"
    " search_tsv = excluded.search_tsv, processor = excluded.processor,"
    " needs_reprocess = excluded.needs_reprocess, event_id = excluded.event_id,"
    " event_at = excluded.event_at,"
    " source_topic = excluded.source_topic, source_partition = excluded.source_partition,"
    " source_offset = excluded.source_offset, facts = excluded.facts, updated_at = now()"
    " WHERE (call_summaries.user_id, call_summaries.thread_id, call_summaries.call_started_at,"
    " call_summaries.call_ended_at, call_summaries.summary, call_summaries.key_topics,"
    " call_summaries.key_variables, call_summaries.sentiment,"
    " call_summaries.resolution_status, call_summaries.processor,"
    " call_summaries.needs_reprocess, call_summaries.event_id, call_summaries.event_at,"
    " call_summaries.facts)"
    " IS DISTINCT FROM (excluded.user_id, excluded.thread_id, excluded.call_started_at,"
    " excluded.call_ended_at, excluded.summary, excluded.key_topics, excluded.key_variables,"
    " excluded.sentiment, excluded.resolution_status, excluded.processor,"
    " excluded.needs_reprocess, excluded.event_id, excluded.event_at, excluded.facts)"
    " AND NOT (excluded.needs_reprocess AND NOT call_summaries.needs_reprocess)"
    " AND (excluded.source_topic IS DISTINCT FROM call_summaries.source_topic"
    " OR excluded.source_partition IS DISTINCT FROM call_summaries.source_partition"
    " OR excluded.source_offset >= call_summaries.source_offset)"
    " RETURNING call_id, user_id)"
    " SELECT user_id FROM up UNION SELECT old.user_id FROM old JOIN up USING (call_id)";
static struct db_stmt summarize_upsert = { .name = "aimem_summarize_upsert",
	                                   .sql = summarize_upsert_sql,
	                                   .nparams = 2 };

/*
 * The namespace of the callers' profile locks, which recount_upsert takes in a statement of
 * their own before the recount: a replay and the live group can write the same caller's calls
 * at once, and a recount must start its snapshot after the other's commit or it writes a stale
 * count over it. Taken in user order.
 */
static const char summarize_lock_ns[] = "profile";

/*
 * The callers' profiles, recounted from their summaries (never incremented, so replays and
 * duplicates are harmless): first and last call, total calls, and the preferred name from the
 * newest call that had one; no name found keeps the stored one (never overwritten by empty).
 *
 * The same statement folds their calls' facts into caller_facts (migration 006) first, in its
 * WITH items (fu .. fput) over $1 (the tenant) and $2 (the callers whose calls the batch
 * wrote): one statement, after the callers' locks, so the facts and the profile are recomputed
 * from the same snapshot; data-modifying WITH items run to completion whether or not the main
 * statement reads them. Per caller, from every call_summaries row's facts array: one row per
 * (kind, key) with the newest value, first/last seen (the calls' end times), the newest call
 * that said it and the number of distinct calls that said it (recomputed, never incremented:
 * a replay or a duplicate event cannot inflate it). For a single-valued kind, a value is
 * superseded by the first later call that said another value (superseded_at, superseded_by =
 * that call's end and id); the newest value is the current one. Rows no call supports any
 * more (a call reprocessed, moved to another caller) are deleted. A row is rewritten only when
 * something it says changed, so a refresh that finds nothing new writes nothing.
 */
static const char summarize_profiles_sql[] =
    "WITH fu AS (SELECT DISTINCT jsonb_array_elements_text($2::jsonb) AS user_id),"
    " fs AS (SELECT DISTINCT ON (c.user_id, f.kind, f.key, c.call_id) c.user_id, f.kind,"
    " f.key, f.value, coalesce(f.single, false) AS single, c.call_id, c.call_ended_at AS at"
    " FROM fu JOIN call_summaries c ON c.customer_id = $1::int AND c.user_id = fu.user_id"
    " CROSS JOIN LATERAL jsonb_to_recordset(CASE WHEN jsonb_typeof(c.facts) = 'array'"
    " THEN c.facts ELSE '[]' END) AS f(kind text, key text, value text, single boolean)"
    " WHERE f.kind ~ '^[a-z_]{1,32}$' AND octet_length(f.key) BETWEEN 1 AND 256"
    " AND octet_length(f.value) BETWEEN 1 AND 256"
    " ORDER BY c.user_id, f.kind, f.key, c.call_id),"
    " fa AS (SELECT user_id, kind, key, bool_or(single) AS single, min(at) AS first_at,"
    " max(at) AS last_at, count(*)::int AS n,"
    " (array_agg(call_id ORDER BY at DESC, call_id DESC))[1] AS last_call,"
    " (array_agg(value ORDER BY at DESC, call_id DESC))[1] AS value"
    " FROM fs GROUP BY user_id, kind, key),"
    " fn AS (SELECT fa.*, nx.at AS sup_at, nx.call_id AS sup_by FROM fa LEFT JOIN LATERAL"
    " (SELECT s.at, s.call_id FROM fs s WHERE fa.single AND s.user_id = fa.user_id"
    " AND s.kind = fa.kind AND s.key <> fa.key AND (s.at, s.call_id) > (fa.last_at,"
    " fa.last_call) ORDER BY s.at, s.call_id LIMIT 1) nx ON true),"
    " fdel AS (DELETE FROM caller_facts cf USING fu WHERE cf.customer_id = $1::int"
    " AND cf.user_id = fu.user_id AND NOT EXISTS (SELECT 1 FROM fa WHERE"
    " fa.user_id = cf.user_id AND fa.kind = cf.kind AND fa.key = cf.value_key) RETURNING 1),"
    " fput AS (INSERT INTO caller_facts AS cf (customer_id, user_id, kind, value_key, value,"
    " single, first_seen_at, last_seen_at, last_call_id, call_count, superseded_at,"
    " superseded_by) SELECT $1::int, user_id, kind, key, value, single, first_at, last_at,"
    " last_call, n, sup_at, sup_by FROM fn"
    " ON CONFLICT (customer_id, user_id, kind, value_key) DO UPDATE SET value = excluded.value,"
    " single = excluded.single, first_seen_at = excluded.first_seen_at,"
    " last_seen_at = excluded.last_seen_at, last_call_id = excluded.last_call_id,"
    " call_count = excluded.call_count, superseded_at = excluded.superseded_at,"
    " superseded_by = excluded.superseded_by, updated_at = now()"
    " WHERE (cf.value, cf.single, cf.first_seen_at, cf.last_seen_at, cf.last_call_id,"
    " cf.call_count, cf.superseded_at, cf.superseded_by) IS DISTINCT FROM (excluded.value,"
    " excluded.single, excluded.first_seen_at, excluded.last_seen_at, excluded.last_call_id,"
    " excluded.call_count, excluded.superseded_at, excluded.superseded_by) RETURNING 1) "
    "INSERT INTO caller_profiles AS p (customer_id, user_id, first_call_at, last_call_at,"
    " total_calls, preferred_name)"
    " SELECT $1::int, u.user_id, a.first_at, a.last_at, a.n, nm.name"
    " FROM (SELECT DISTINCT jsonb_array_elements_text($2::jsonb) AS user_id) u"
    " CROSS JOIN LATERAL (SELECT min(coalesce(c.call_started_at, c.call_ended_at)) AS"
    " first_at, max(c.call_ended_at) AS last_at, count(*)::int AS n FROM call_summaries c"
    " WHERE c.customer_id = $1::int AND c.user_id = u.user_id) a"
    " LEFT JOIN LATERAL (SELECT c.key_variables->>'caller_name' AS name FROM call_summaries c"
    " WHERE c.customer_id = $1::int AND c.user_id = u.user_id"
    " AND btrim(coalesce(c.key_variables->>'caller_name', '')) <> ''"
    " ORDER BY c.call_ended_at DESC, c.call_id DESC LIMIT 1) nm ON true"
    " ON CONFLICT (customer_id, user_id) DO UPDATE SET first_call_at = excluded.first_call_at,"
    " last_call_at = excluded.last_call_at, total_calls = excluded.total_calls,"
    " preferred_name = coalesce(excluded.preferred_name, p.preferred_name), updated_at = now()"
    " WHERE (p.first_call_at, p.last_call_at, p.total_calls, p.preferred_name)"
    " IS DISTINCT FROM (excluded.first_call_at, excluded.last_call_at, excluded.total_calls,"
    " coalesce(excluded.preferred_name, p.preferred_name))";
static struct db_stmt summarize_profiles = { .name = "aimem_summarize_profiles",
	                                     .sql = summarize_profiles_sql,
	                                     .nparams = 2 };

/* Full-text words beyond the summary: topic names and the key variables' values. */
static void summarize_words(const struct proc_result *r, struct buf *out)
{
	for (size_t i = 0; i < json_array_size(r->key_topics); i++)
		buf_appendf(out, "%s ", json_string_value(json_array_get(r->key_topics, i)));
	const char *key;
	json_t *val;
	json_object_foreach(r->key_variables, key, val)
	{
		if (json_is_string(val))
			buf_appendf(out, "%s ", json_string_value(val));
		for (size_t i = 0; json_is_array(val) && i < json_array_size(val); i++)
			if (json_is_string(json_array_get(val, i)))
				buf_appendf(out, "%s ", json_string_value(json_array_get(val, i)));
	}
}

/* One job as a row object of the upsert's JSON array; ids always from the event. */
static json_t *summarize_row(const struct worker_job *job, size_t ord)
{
	const struct summary *sum = job->prep;
	const struct event_call *c = &job->ev->call;
	const struct proc_result *r = &sum->r;
	char ended[64];
	worker_job_ended_at(job, ended, sizeof(ended));
	struct buf words = BUF_INIT;
	summarize_words(r, &words);
	json_t *row = json_object();
	json_object_set_new(row, "ord", json_integer((json_int_t)ord));
	json_object_set_new(row, "call_id", json_string(c->call_id));
	json_object_set_new(row, "user_id", json_string(c->user_id));
	json_object_set_new(row, "thread_id",
	                    c->thread_id ? json_string(c->thread_id) : json_null());
	json_object_set_new(row, "started_at",
	                    c->started_at ? json_string(c->started_at) : json_null());
	json_object_set_new(row, "ended_at", json_string(ended));
	json_object_set_new(row, "summary", json_string(r->summary));
	json_object_set(row, "key_topics", r->key_topics);
	json_object_set(row, "key_variables", r->key_variables);
	json_object_set_new(row, "facts", facts_from_call(c, r->key_variables));
	json_object_set_new(row, "sentiment", json_string(r->sentiment));
	json_object_set_new(row, "resolution_status", json_string(r->resolution));
	json_object_set_new(row, "words", json_stringn(words.data ? words.data : "", words.len));
	json_object_set_new(row, "processor", json_string(sum->processor));
	json_object_set_new(row, "needs_reprocess", json_boolean(sum->needs_reprocess));
	json_object_set_new(row, "event_id", json_string(job->ev->event_id));
	json_object_set_new(row, "event_at", json_string(job->ev->occurred_at));
	json_object_set_new(row, "source_topic", json_string(rd_kafka_topic_name(job->rkm->rkt)));
	json_object_set_new(row, "source_partition", json_integer(job->rkm->partition));
	json_object_set_new(row, "source_offset", json_integer(job->rkm->offset));
	buf_free(&words);
	return row;
}

const char *const summarizer_tables[] = { "call_summaries", "caller_profiles", "caller_facts",
	                                  NULL };

int summarizer_apply_batch(void *ctx, PGconn *conn, struct worker_job *const *jobs, size_t n,
                           char *err, size_t errlen)
{
	(void)ctx;
	json_t *rows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, summarize_row(jobs[i], i));
	return recount_upsert(conn, jobs[0]->ev->customer_id, rows, &summarize_upsert,
	                      summarize_lock_ns, &summarize_profiles, context_refresh, err, errlen);
}

/*
 * score: aimem-personality's prepare/apply_batch callbacks (see score.h).
 */
#include "score.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "context.h"
#include "db.h"
#include "log.h"
#include "model_policy.h"
#include "personality.h"
#include "personality_model.h"
#include "recount.h"
#include "summary_model.h"
#include "xalloc.h"

struct scorer {
	struct scorer_config cfg;
	struct metrics_counter *builtin, *model, *fallback, *llm_failed;
	struct model_policy policy; /* a call the model failed */
};

enum pscore_state { PSCORE_PENDING, PSCORE_DONE, PSCORE_FAILED };

/* A job's prep: the scores of one call, ready for apply. */
struct pscore {
	struct scorer *s;
	struct worker_job *job;
	enum pscore_state state;
	struct personality_result r;
	char rationale[PERSONALITY_MODEL_RATIONALE_MAX + 1]; /* the model's; "" built in */
	const char *processor; /* PERSONALITY_BUILTIN_NAME or s->cfg.llm_processor */
	bool needs_reprocess;  /* the built-in fallback stood in for the model */
	bool model_done;       /* the model answered (kept across WORKER_RETRY rounds) */
	char err[200];         /* why the model failed (no content) */
};

static int pscore_fallback(struct worker_job *job);

struct scorer *scorer_new(const struct scorer_config *cfg, struct metrics *m)
{
	struct scorer *s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	static const char help[] = "Calls scored, by path (builtin, llm, or the built-in "
	                           "fallback when the model failed)";
	s->builtin = metrics_counter(m, "aimem_personality_calls_total", help, "path=\"builtin\"");
	s->model = metrics_counter(m, "aimem_personality_calls_total", help, "path=\"llm\"");
	s->fallback =
	    metrics_counter(m, "aimem_personality_calls_total", help, "path=\"fallback\"");
	s->llm_failed = metrics_counter(m, "aimem_personality_llm_failures_total",
	                                "Calls the model could not score (each attempt round)", "");
	s->policy = (struct model_policy){ .policy = cfg->policy,
		                           .failed = s->llm_failed,
		                           .fallback = s->fallback,
		                           .builtin = pscore_fallback };
	return s;
}

void scorer_free(struct scorer **s)
{
	free(*s);
	*s = NULL;
}

/* ---- prepare ---------------------------------------------------------------------------- */

/* The built-in scores: the result when there is no model, the fallback when it fails, and
 * the default confidence of a model answer without one. */
static int pscore_builtin(struct pscore *ps)
{
	char err[200];
	if (personality_score(ps->s->cfg.lexicons, &ps->job->ev->call, &ps->r, err, sizeof(err)) !=
	    0) {
		/* only for a call without turns, which the event codec never lets through */
		ps->job->reject_code = "processing_failed";
		snprintf(ps->job->reject_err, sizeof(ps->job->reject_err), "%s", err);
		ps->state = PSCORE_FAILED;
		return -1;
	}
	ps->rationale[0] = '\0';
	ps->processor = PERSONALITY_BUILTIN_NAME;
	ps->needs_reprocess = false;
	ps->state = PSCORE_DONE;
	return 0;
}

static void pscore_model_done(void *opaque, int status, const char *content, size_t len,
                              const char *err)
{
	struct pscore *ps = opaque;
	if (status == LLM_OK) {
		char perr[160];
		struct personality_result mr;
		if (personality_model_parse(content, len, ps->r.confidence, &mr, ps->rationale,
		                            sizeof(ps->rationale), perr, sizeof(perr)) == 0) {
			mr.caller_words = ps->r.caller_words;
			ps->r = mr;
			ps->processor = ps->s->cfg.llm_processor;
			ps->needs_reprocess = false;
			ps->model_done = true;
			ps->state = PSCORE_DONE;
			metrics_counter_add(ps->s->model, 1);
			return;
		}
		snprintf(ps->err, sizeof(ps->err), "unusable answer: %s", perr);
	} else {
		snprintf(ps->err, sizeof(ps->err), "%s: %s", llm_status_name(status),
		         err ? err : "");
	}
	ps->state = PSCORE_FAILED;
}

/* Every call of the batch the model has not scored yet goes to it at once (the client
 * bounds what is in flight); returns when all have answered or failed for good. A caller
 * who said nothing is not worth a request: the built-in 50s stand. */
static void scorer_ask_model(struct scorer *s, struct worker_job *const *jobs, size_t n)
{
	struct buf prompt = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		struct pscore *ps = jobs[i]->prep;
		if (ps->model_done || jobs[i]->reject_code != NULL || ps->r.caller_words == 0)
			continue;
		ps->state = PSCORE_PENDING;
		buf_reset(&prompt);
		summary_model_prompt(&jobs[i]->ev->call, s->cfg.max_prompt_bytes, &prompt);
		if (llm_submit(s->cfg.llm, s->cfg.system_prompt, buf_str(&prompt),
		               pscore_model_done, ps) != 0) {
			ps->state = PSCORE_FAILED;
			snprintf(ps->err, sizeof(ps->err), "cannot submit the request");
		}
	}
	buf_free(&prompt);
	while (llm_pending(s->cfg.llm) > 0)
		if (llm_poll(s->cfg.llm, 1000) < 0)
			break; /* curl's multi interface failed: what is still pending failed */
	for (size_t i = 0; i < n; i++) {
		struct pscore *ps = jobs[i]->prep;
		if (ps->state == PSCORE_PENDING) {
			ps->state = PSCORE_FAILED;
			snprintf(ps->err, sizeof(ps->err), "the LLM client failed");
		}
	}
}

/* The policy's fallback (model_policy.h): the built-in scores, marked needs_reprocess. */
static int pscore_fallback(struct worker_job *job)
{
	struct pscore *ps = job->prep;
	if (pscore_builtin(ps) != 0)
		return -1;
	ps->needs_reprocess = true;
	return 0;
}

int scorer_prepare(void *ctx, struct worker_job *const *jobs, size_t n)
{
	struct scorer *s = ctx;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->prep != NULL)
			continue; /* a WORKER_RETRY round: keep what the model already answered */
		struct pscore *ps = xcalloc(1, sizeof(*ps));
		ps->s = s;
		ps->job = jobs[i];
		jobs[i]->prep = ps;
		if (pscore_builtin(ps) == 0 && s->cfg.llm == NULL)
			metrics_counter_add(s->builtin, 1);
	}
	if (s->cfg.llm == NULL)
		return WORKER_PREPARED;
	scorer_ask_model(s, jobs, n);
	bool retry = false;
	for (size_t i = 0; i < n; i++) {
		struct pscore *ps = jobs[i]->prep;
		if (ps->state == PSCORE_FAILED && jobs[i]->reject_code == NULL)
			retry = model_policy_failed(&s->policy, jobs[i], ps->err) || retry;
		else if (ps->state == PSCORE_DONE && !ps->model_done)
			metrics_counter_add(s->builtin, 1); /* no caller words: nothing to ask */
	}
	return retry ? WORKER_RETRY : WORKER_PREPARED;
}

void scorer_release(void *ctx, void *prep)
{
	(void)ctx;
	free(prep);
}

/* ---- apply ------------------------------------------------------------------------------ */

/*
 * One statement upserts all of a tenant's calls in the batch, keyed (customer_id, call_id),
 * from a JSON array of rows. A row is rewritten only when something it says changed (a
 * duplicate event or a replay of the same result writes nothing, so the row stays
 * byte-identical, source offsets included), and a built-in fallback result never replaces a
 * model result of the same event. The same call twice in one batch: a model result beats a
 * fallback, then the later event wins. Returns the callers whose averages must be recomputed:
 * those of the rows written, and a row's previous caller when the call moved to another.
 */
static const char score_upsert_sql[] =
    "WITH src AS (SELECT DISTINCT ON (r.call_id) r.* FROM jsonb_to_recordset($2::jsonb) AS"
    " r(ord int, call_id text, user_id text, measured_at timestamptz, openness real,"
    " conscientiousness real, extraversion real, agreeableness real, neuroticism real,"
    " formality real, directness real, detail_orientation real, patience real,"
    " technical_comfort real, frustration_level real, satisfaction_level real,"
    " urgency_level real, confidence real, rationale text, processor text,"
    " needs_reprocess boolean, event_id uuid, source_topic text, source_partition int,"
    " source_offset bigint)"
    " ORDER BY r.call_id, r.needs_reprocess, r.ord DESC),"
    " old AS (SELECT m.call_id, m.user_id FROM personality_metrics m JOIN src USING (call_id)"
    " WHERE m.customer_id = $1::int),"
    " up AS (INSERT INTO personality_metrics AS m (customer_id, call_id, user_id, measured_at,"
    " openness, conscientiousness, extraversion, agreeableness, neuroticism, formality,"
    " directness, detail_orientation, patience, technical_comfort, frustration_level,"
    " satisfaction_level, urgency_level, confidence, rationale, processor, needs_reprocess,"
    " event_id, source_topic, source_partition, source_offset)"
    " SELECT $1::int, call_id, user_id, measured_at, openness, conscientiousness,"
    " extraversion, agreeableness, neuroticism, formality, directness, detail_orientation,"
    " patience, technical_comfort, frustration_level, satisfaction_level, urgency_level,"
    " confidence, rationale, processor, needs_reprocess, event_id, source_topic,"
    " source_partition, source_offset FROM src"
    " ON CONFLICT (customer_id, call_id) DO UPDATE SET user_id = excluded.user_id,"
    " measured_at = excluded.measured_at, openness = excluded.openness,"
    " conscientiousness = excluded.conscientiousness, extraversion = excluded.extraversion,"
    " agreeableness = excluded.agreeableness, neuroticism = excluded.neuroticism,"
    " formality = excluded.formality, directness = excluded.directness,"
    " detail_orientation = excluded.detail_orientation, patience = excluded.patience,"
    " technical_comfort = excluded.technical_comfort,"
    " frustration_level = excluded.frustration_level,"
    " satisfaction_level = excluded.satisfaction_level, urgency_level = excluded.urgency_level,"
    " confidence = excluded.confidence, rationale = excluded.rationale,"
    " processor = excluded.processor, needs_reprocess = excluded.needs_reprocess,"
    " event_id = excluded.event_id, source_topic = excluded.source_topic,"
    " source_partition = excluded.source_partition, source_offset = excluded.source_offset,"
    " updated_at = now()"
    " WHERE (m.user_id, m.measured_at, m.openness, m.conscientiousness, m.extraversion,"
    " m.agreeableness, m.neuroticism, m.formality, m.directness, m.detail_orientation,"
    " m.patience, m.technical_comfort, m.frustration_level, m.satisfaction_level,"
    " m.urgency_level, m.confidence, m.rationale, m.processor, m.needs_reprocess, m.event_id)"
    " IS DISTINCT FROM (excluded.user_id, excluded.measured_at, excluded.openness,"
    " excluded.conscientiousness, excluded.extraversion, excluded.agreeableness,"
    " excluded.neuroticism, excluded.formality, excluded.directness,"
    " excluded.detail_orientation, excluded.patience, excluded.technical_comfort,"
    " excluded.frustration_level, excluded.satisfaction_level, excluded.urgency_level,"
    " excluded.confidence, excluded.rationale, excluded.processor, excluded.needs_reprocess,"
    " excluded.event_id)"
    " AND NOT (excluded.needs_reprocess AND NOT m.needs_reprocess"
    " AND excluded.event_id = m.event_id)"
    " RETURNING call_id, user_id)"
    " SELECT user_id FROM up UNION SELECT old.user_id FROM old JOIN up USING (call_id)";
static struct db_stmt score_upsert_stmt = { .name = "pers_upsert",
	                                    .sql = score_upsert_sql,
	                                    .nparams = 2 };

/*
 * The caller's averages, recomputed from all of their personality_metrics rows:
 * - weights: each call counts with its confidence (at least 0.01), so a hang-up with two
 *   words barely moves a caller described by long calls;
 * - avg_*: the weighted mean of the 10 trait and style scores over every call;
 * - recent_*: the weighted mean of frustration/satisfaction/urgency over the last 3 calls by
 *   measured_at (call end), ties by call_id;
 * - trends: the recent mean against the weighted mean of the calls before those 3; at least 5
 *   calls (2 before) or the trend is 'stable'; a difference of 10 points or more is
 *   'improving' (satisfaction up, frustration down) or 'declining'.
 * Exact numeric sums make the result independent of row order, so recomputing the same rows
 * always stores the same values; the row is rewritten only when a value changed.
 */
static const char score_averages_sql[] =
    "WITH gone AS (DELETE FROM personality_averages d WHERE d.customer_id = $1::int AND"
    " d.user_id IN (SELECT jsonb_array_elements_text($2::jsonb)) AND NOT EXISTS (SELECT 1"
    " FROM personality_metrics p WHERE p.customer_id = $1::int AND p.user_id = d.user_id))"
    " INSERT INTO personality_averages AS a (customer_id, user_id, call_count,"
    " avg_openness, avg_conscientiousness, avg_extraversion, avg_agreeableness,"
    " avg_neuroticism, avg_formality, avg_directness, avg_detail_orientation,"
    " avg_patience, avg_technical_comfort, recent_frustration, recent_satisfaction,"
    " recent_urgency, satisfaction_trend, frustration_trend) SELECT $1::int, u.user_id, n,"
    " o, c, e, ag, ne, fo, di, de, pa, te, rf, rs, ru, CASE WHEN n < 5 THEN 'stable' WHEN"
    " rs - bs >= 10 THEN 'improving' WHEN rs - bs <= -10 THEN 'declining' ELSE 'stable'"
    " END, CASE WHEN n < 5 THEN 'stable' WHEN rf - bf <= -10 THEN 'improving' WHEN rf - bf"
    " >= 10 THEN 'declining' ELSE 'stable' END FROM (SELECT DISTINCT"
    " jsonb_array_elements_text($2::jsonb) AS user_id) u CROSS JOIN LATERAL (SELECT"
    " count(*) AS n, round(sum(w * openness::numeric) / sum(w), 1) AS o, round(sum(w *"
    " conscientiousness::numeric) / sum(w), 1) AS c, round(sum(w * extraversion::numeric)"
    " / sum(w), 1) AS e, round(sum(w * agreeableness::numeric) / sum(w), 1) AS ag,"
    " round(sum(w * neuroticism::numeric) / sum(w), 1) AS ne, round(sum(w *"
    " formality::numeric) / sum(w), 1) AS fo, round(sum(w * directness::numeric) / sum(w),"
    " 1) AS di, round(sum(w * detail_orientation::numeric) / sum(w), 1) AS de, round(sum(w"
    " * patience::numeric) / sum(w), 1) AS pa, round(sum(w * technical_comfort::numeric) /"
    " sum(w), 1) AS te, round(sum(w * frustration_level::numeric) FILTER (WHERE rn <= 3) /"
    " sum(w) FILTER (WHERE rn <= 3), 1) AS rf, round(sum(w * satisfaction_level::numeric)"
    " FILTER (WHERE rn <= 3) / sum(w) FILTER (WHERE rn <= 3), 1) AS rs, round(sum(w *"
    " urgency_level::numeric) FILTER (WHERE rn <= 3) / sum(w) FILTER (WHERE rn <= 3), 1)"
    " AS ru, round(sum(w * frustration_level::numeric) FILTER (WHERE rn > 3) / sum(w)"
    " FILTER (WHERE rn > 3), 1) AS bf, round(sum(w * satisfaction_level::numeric) FILTER"
    " (WHERE rn > 3) / sum(w) FILTER (WHERE rn > 3), 1) AS bs FROM (SELECT *,"
    " greatest(confidence::numeric, 0.01) AS w, row_number() OVER (ORDER BY measured_at"
    " DESC, call_id DESC) AS rn FROM personality_metrics p WHERE p.customer_id = $1::int"
    " AND p.user_id = u.user_id) m) g WHERE n > 0 ON CONFLICT (customer_id, user_id) DO"
    " UPDATE SET call_count = excluded.call_count, avg_openness = excluded.avg_openness,"
    " avg_conscientiousness = excluded.avg_conscientiousness, avg_extraversion ="
    " excluded.avg_extraversion, avg_agreeableness = excluded.avg_agreeableness,"
    " avg_neuroticism = excluded.avg_neuroticism, avg_formality = excluded.avg_formality,"
    " avg_directness = excluded.avg_directness, avg_detail_orientation ="
    " excluded.avg_detail_orientation, avg_patience = excluded.avg_patience,"
    " avg_technical_comfort = excluded.avg_technical_comfort, recent_frustration ="
    " excluded.recent_frustration, recent_satisfaction = excluded.recent_satisfaction,"
    " recent_urgency = excluded.recent_urgency, satisfaction_trend ="
    " excluded.satisfaction_trend, frustration_trend = excluded.frustration_trend,"
    " updated_at = now() WHERE (a.call_count, a.avg_openness, a.avg_conscientiousness,"
    " a.avg_extraversion, a.avg_agreeableness, a.avg_neuroticism, a.avg_formality,"
    " a.avg_directness, a.avg_detail_orientation, a.avg_patience, a.avg_technical_comfort,"
    " a.recent_frustration, a.recent_satisfaction, a.recent_urgency, a.satisfaction_trend,"
    " a.frustration_trend) IS DISTINCT FROM (excluded.call_count, excluded.avg_openness,"
    " excluded.avg_conscientiousness, excluded.avg_extraversion,"
    " excluded.avg_agreeableness, excluded.avg_neuroticism, excluded.avg_formality,"
    " excluded.avg_directness, excluded.avg_detail_orientation, excluded.avg_patience,"
    " excluded.avg_technical_comfort, excluded.recent_frustration,"
    " excluded.recent_satisfaction, excluded.recent_urgency, excluded.satisfaction_trend,"
    " excluded.frustration_trend)";

/* Prepared once per connection (this worker's one thread uses it). */
static struct db_stmt score_averages_stmt = { .name = "pers_averages",
	                                      .sql = score_averages_sql,
	                                      .nparams = 2 };
/* The namespace of the callers' locks taken before their averages are recomputed (see
 * recount_lock_callers: a replay beside the live group must not write a stale average over the
 * other's). */
static const char score_lock_ns[] = "averages";

/* The upsert's columns of the scores, in the order of struct personality_result's score[]. */
static const char *const score_columns[PERSONALITY_NSCORES] = {
	"openness",      "conscientiousness", "extraversion",      "agreeableness",
	"neuroticism",   "formality",         "directness",        "detail_orientation",
	"patience",      "technical_comfort", "frustration_level", "satisfaction_level",
	"urgency_level",
};

/* One job as a row object of the upsert's JSON array. Numbers go as the text the database
 * parses (one decimal, confidence three), exactly as before, so replays store the same
 * values; ids always from the event. */
static json_t *score_row(const struct worker_job *job, size_t ord)
{
	const struct pscore *ps = job->prep;
	const struct event *ev = job->ev;
	char measured[64], num[32];
	worker_job_ended_at(job, measured, sizeof(measured));
	json_t *row = json_object();
	json_object_set_new(row, "ord", json_integer((json_int_t)ord));
	json_object_set_new(row, "call_id", json_string(ev->call.call_id));
	json_object_set_new(row, "user_id", json_string(ev->call.user_id));
	json_object_set_new(row, "measured_at", json_string(measured));
	for (int s = 0; s < PERSONALITY_NSCORES; s++) {
		snprintf(num, sizeof(num), "%.1f", ps->r.score[s]);
		json_object_set_new(row, score_columns[s], json_string(num));
	}
	snprintf(num, sizeof(num), "%.3f", ps->r.confidence);
	json_object_set_new(row, "confidence", json_string(num));
	json_object_set_new(row, "rationale",
	                    ps->rationale[0] ? json_string(ps->rationale) : json_null());
	json_object_set_new(row, "processor", json_string(ps->processor));
	json_object_set_new(row, "needs_reprocess", json_boolean(ps->needs_reprocess));
	json_object_set_new(row, "event_id", json_string(ev->event_id));
	json_object_set_new(row, "source_topic", json_string(rd_kafka_topic_name(job->rkm->rkt)));
	json_object_set_new(row, "source_partition", json_integer(job->rkm->partition));
	json_object_set_new(row, "source_offset", json_integer(job->rkm->offset));
	return row;
}

const char *const scorer_tables[] = { "personality_metrics", "personality_averages", NULL };

int scorer_apply_batch(void *ctx, PGconn *conn, struct worker_job *const *jobs, size_t n, char *err,
                       size_t errlen)
{
	(void)ctx;
	json_t *rows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, score_row(jobs[i], i));
	return recount_upsert(conn, jobs[0]->ev->customer_id, rows, &score_upsert_stmt,
	                      score_lock_ns, &score_averages_stmt, context_refresh, err, errlen);
}

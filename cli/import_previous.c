/*
 * import_previous: the previous service's rows into ours, per tenant (see import_previous.h).
 * The source is read with plain SELECTs that hand each table over as one JSON array; the
 * destination takes it as one parameter (jsonb_to_recordset), so a tenant costs a handful of
 * round trips. Summaries pass through C for their embeddings.
 */
#include "import_previous.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "num.h"
#include "proc_embed.h"

enum import_table { IMP_MEMORIES, IMP_SUMMARIES, IMP_METRICS, IMP_PROFILES, IMP_AVERAGES, IMP_N };
static const char *const import_names[IMP_N] = { "memories", "call_summaries",
	                                         "personality_metrics", "caller_profiles",
	                                         "personality_averages" };

struct import_counts {
	long long read[IMP_N], written[IMP_N], skipped[IMP_N];
};

/* ---- the source (the previous schema; its timestamps without time zone are UTC) ---------- */

static const char import_tenants_sql[] =
    "SELECT DISTINCT coalesce(customer_id, 1) FROM (SELECT customer_id FROM memories"
    " UNION ALL SELECT customer_id FROM call_summaries UNION ALL SELECT customer_id FROM"
    " caller_profiles UNION ALL SELECT customer_id FROM personality_metrics) t"
    " WHERE coalesce(customer_id, 1) BETWEEN 1 AND 2147483647 ORDER BY 1";

static const char *const import_src_sql[IMP_N] = {
	[IMP_MEMORIES] =
	    "SELECT coalesce(jsonb_agg(x), '[]')::text FROM (SELECT DISTINCT ON (scope,"
	    " coalesce(user_id, ''), type, k) * FROM (SELECT id, user_id, CASE WHEN user_id IS NULL"
	    " OR scope = 'shared' THEN 'shared' ELSE 'user' END AS scope, type, k,"
	    " coalesce(value_json, 'null') AS value_json, source, ttl_days,"
	    " coalesce(created_at, now()) AS created_at FROM memories"
	    " WHERE coalesce(customer_id, 1) = $1::int) m"
	    " ORDER BY scope, coalesce(user_id, ''), type, k, created_at DESC, id DESC) x",
	[IMP_SUMMARIES] = "SELECT id::text, call_id, user_id,"
	                  " (coalesce(call_date, created_at) AT TIME ZONE 'UTC')::text, summary,"
	                  " key_topics::text, key_variables::text, sentiment, resolution_status,"
	                  " duration_seconds FROM call_summaries"
	                  " WHERE coalesce(customer_id, 1) = $1::int ORDER BY call_id",
	[IMP_METRICS] =
	    "SELECT coalesce(jsonb_agg(x), '[]')::text FROM (SELECT DISTINCT ON (call_id) id,"
	    " call_id, user_id, coalesce(measured_at, created_at) AT TIME ZONE 'UTC' AS measured_at,"
	    " openness, conscientiousness, extraversion, agreeableness, neuroticism, formality,"
	    " directness, detail_orientation, patience, technical_comfort, frustration_level,"
	    " satisfaction_level, urgency_level FROM personality_metrics"
	    " WHERE coalesce(customer_id, 1) = $1::int AND call_id IS NOT NULL"
	    " ORDER BY call_id, measured_at DESC NULLS LAST, id DESC) x",
	[IMP_PROFILES] =
	    "SELECT coalesce(jsonb_agg(x), '[]')::text FROM (SELECT user_id, first_call_date AT TIME"
	    " ZONE 'UTC' AS first_call_date, last_call_date AT TIME ZONE 'UTC' AS last_call_date,"
	    " preferred_name, preferences, context FROM caller_profiles"
	    " WHERE coalesce(customer_id, 1) = $1::int) x",
};

/* ---- the destination: upserts keyed as in migrations/002 -------------------------------- */

static const char import_memories_sql[] =
    "INSERT INTO memories AS m (customer_id, memory_id, user_id, scope, mtype, key, value,"
    " source, ttl_days, expires_at, created_at, updated_at)"
    " SELECT $1::int, r.id, r.user_id, r.scope, r.type, r.k, r.value_json, r.source,"
    " CASE WHEN r.ttl_days > 0 THEN r.ttl_days END, CASE WHEN r.ttl_days > 0 THEN r.created_at"
    " + make_interval(days => r.ttl_days) END, r.created_at, r.created_at"
    " FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, user_id text, scope text, type text,"
    " k text, value_json jsonb, source text, ttl_days int, created_at timestamptz)"
    " WHERE (r.user_id IS NULL OR octet_length(r.user_id) BETWEEN 1 AND 128)"
    " AND octet_length(r.type) BETWEEN 1 AND 64 AND octet_length(r.k) BETWEEN 1 AND 512"
    " AND r.id IS NOT NULL"
    " ON CONFLICT (customer_id, scope, coalesce(user_id, ''), mtype, key) DO UPDATE SET"
    " value = excluded.value, source = excluded.source, ttl_days = excluded.ttl_days,"
    " expires_at = excluded.expires_at, updated_at = excluded.updated_at"
    " WHERE m.updated_at < excluded.updated_at";

static const char import_summaries_sql[] =
    "INSERT INTO call_summaries AS c (customer_id, call_id, user_id, call_started_at,"
    " call_ended_at, summary, key_topics, key_variables, sentiment, resolution_status,"
    " duration_seconds, embedding, search_tsv, processor, needs_reprocess, event_id)"
    " SELECT $1::int, r.call_id, r.user_id, CASE WHEN r.duration_seconds >= 0 THEN"
    " r.ended_at - make_interval(secs => r.duration_seconds) END, r.ended_at, r.summary,"
    " r.key_topics, r.key_variables, r.sentiment, r.resolution_status,"
    " CASE WHEN r.duration_seconds >= 0 THEN r.duration_seconds END, r.embedding::vector,"
    " to_tsvector('english', r.summary || ' ' || r.words), '" IMPORT_PROCESSOR "', false, r.id"
    " FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, call_id text, user_id text,"
    " ended_at timestamptz, summary text, key_topics jsonb, key_variables jsonb,"
    " sentiment text, resolution_status text, duration_seconds int, embedding text,"
    " words text)"
    " ON CONFLICT (customer_id, call_id) DO UPDATE SET user_id = excluded.user_id,"
    " call_started_at = excluded.call_started_at, call_ended_at = excluded.call_ended_at,"
    " summary = excluded.summary, key_topics = excluded.key_topics,"
    " key_variables = excluded.key_variables, sentiment = excluded.sentiment,"
    " resolution_status = excluded.resolution_status,"
    " duration_seconds = excluded.duration_seconds, embedding = excluded.embedding,"
    " search_tsv = excluded.search_tsv, event_id = excluded.event_id, updated_at = now()"
    " WHERE c.processor = '" IMPORT_PROCESSOR "' AND (c.user_id, c.call_ended_at, c.summary,"
    " c.key_topics, c.key_variables, c.sentiment, c.resolution_status, c.duration_seconds,"
    " c.event_id) IS DISTINCT FROM (excluded.user_id, excluded.call_ended_at,"
    " excluded.summary, excluded.key_topics, excluded.key_variables, excluded.sentiment,"
    " excluded.resolution_status, excluded.duration_seconds, excluded.event_id)";

#define IMP_SCORE(c) "round(least(greatest(coalesce(r." c ", 50), 0), 100)::numeric, 1), "
/* clang-format off */
static const char import_metrics_sql[] =
    "INSERT INTO personality_metrics AS m (customer_id, call_id, user_id, measured_at, openness,"
    " conscientiousness, extraversion, agreeableness, neuroticism, formality, directness,"
    " detail_orientation, patience, technical_comfort, frustration_level, satisfaction_level,"
    " urgency_level, confidence, processor, event_id)"
    " SELECT $1::int, r.call_id, r.user_id, r.measured_at, "
    IMP_SCORE("openness")
    IMP_SCORE("conscientiousness")
    IMP_SCORE("extraversion")
    IMP_SCORE("agreeableness")
    IMP_SCORE("neuroticism")
    IMP_SCORE("formality")
    IMP_SCORE("directness")
    IMP_SCORE("detail_orientation")
    IMP_SCORE("patience")
    IMP_SCORE("technical_comfort")
    IMP_SCORE("frustration_level")
    IMP_SCORE("satisfaction_level")
    IMP_SCORE("urgency_level")
    IMPORT_CONFIDENCE ", '" IMPORT_PROCESSOR "', r.id"
    " FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, call_id text, user_id text,"
    " measured_at timestamptz, openness float8, conscientiousness float8, extraversion float8,"
    " agreeableness float8, neuroticism float8, formality float8, directness float8,"
    " detail_orientation float8, patience float8, technical_comfort float8,"
    " frustration_level float8, satisfaction_level float8, urgency_level float8)"
    " WHERE r.call_id ~ '^[A-Za-z0-9._:-]{1,128}$' AND octet_length(r.user_id) BETWEEN 1 AND 128"
    " AND r.measured_at IS NOT NULL AND r.id IS NOT NULL"
    " ON CONFLICT (customer_id, call_id) DO UPDATE SET user_id = excluded.user_id,"
    " measured_at = excluded.measured_at, openness = excluded.openness,"
    " conscientiousness = excluded.conscientiousness, extraversion = excluded.extraversion,"
    " agreeableness = excluded.agreeableness, neuroticism = excluded.neuroticism,"
    " formality = excluded.formality, directness = excluded.directness,"
    " detail_orientation = excluded.detail_orientation, patience = excluded.patience,"
    " technical_comfort = excluded.technical_comfort,"
    " frustration_level = excluded.frustration_level,"
    " satisfaction_level = excluded.satisfaction_level, urgency_level = excluded.urgency_level,"
    " event_id = excluded.event_id, updated_at = now()"
    " WHERE m.processor = '" IMPORT_PROCESSOR "' AND (m.user_id, m.measured_at, m.openness,"
    " m.conscientiousness, m.extraversion, m.agreeableness, m.neuroticism, m.formality,"
    " m.directness, m.detail_orientation, m.patience, m.technical_comfort,"
    " m.frustration_level, m.satisfaction_level, m.urgency_level, m.event_id)"
    " IS DISTINCT FROM (excluded.user_id, excluded.measured_at, excluded.openness,"
    " excluded.conscientiousness, excluded.extraversion, excluded.agreeableness,"
    " excluded.neuroticism, excluded.formality, excluded.directness,"
    " excluded.detail_orientation, excluded.patience, excluded.technical_comfort,"
    " excluded.frustration_level, excluded.satisfaction_level, excluded.urgency_level,"
    " excluded.event_id)";
/* clang-format on */

/* Recounted as aimem-summarizer recounts (never incremented). */
static const char import_profiles_sql[] =
    "INSERT INTO caller_profiles AS p (customer_id, user_id, first_call_at, last_call_at,"
    " total_calls, preferred_name, preferences, context)"
    " SELECT $1::int, u.user_id, coalesce(a.first_at, s.first_call_date),"
    " coalesce(a.last_at, s.last_call_date), a.n,"
    " coalesce(nm.name, nullif(btrim(s.preferred_name), '')),"
    " CASE WHEN jsonb_typeof(s.preferences) = 'object' THEN s.preferences ELSE '{}' END,"
    " CASE WHEN jsonb_typeof(s.context) = 'object' THEN s.context ELSE '{}' END"
    " FROM (SELECT r.user_id FROM jsonb_to_recordset($2::jsonb) AS r(user_id text)"
    " UNION SELECT c.user_id FROM call_summaries c WHERE c.customer_id = $1::int"
    " AND c.processor = '" IMPORT_PROCESSOR "') u"
    " LEFT JOIN jsonb_to_recordset($2::jsonb) AS s(user_id text, first_call_date timestamptz,"
    " last_call_date timestamptz, preferred_name text, preferences jsonb, context jsonb)"
    " ON s.user_id = u.user_id"
    " CROSS JOIN LATERAL (SELECT min(coalesce(c.call_started_at, c.call_ended_at)) AS"
    " first_at, max(c.call_ended_at) AS last_at, count(*)::int AS n FROM call_summaries c"
    " WHERE c.customer_id = $1::int AND c.user_id = u.user_id) a"
    " LEFT JOIN LATERAL (SELECT c.key_variables->>'caller_name' AS name FROM call_summaries c"
    " WHERE c.customer_id = $1::int AND c.user_id = u.user_id"
    " AND btrim(coalesce(c.key_variables->>'caller_name', '')) <> ''"
    " ORDER BY c.call_ended_at DESC, c.call_id DESC LIMIT 1) nm ON true"
    " WHERE octet_length(u.user_id) BETWEEN 1 AND 128"
    " ON CONFLICT (customer_id, user_id) DO UPDATE SET first_call_at = excluded.first_call_at,"
    " last_call_at = excluded.last_call_at, total_calls = excluded.total_calls,"
    " preferred_name = coalesce(excluded.preferred_name, p.preferred_name),"
    " preferences = excluded.preferences || p.preferences,"
    " context = excluded.context || p.context, updated_at = now()"
    " WHERE (p.first_call_at, p.last_call_at, p.total_calls, p.preferred_name, p.preferences,"
    " p.context) IS DISTINCT FROM (excluded.first_call_at, excluded.last_call_at,"
    " excluded.total_calls, coalesce(excluded.preferred_name, p.preferred_name),"
    " excluded.preferences || p.preferences, excluded.context || p.context)";

/* Recomputed as aimem-personality does (workers/personality/score.c): confidence-weighted
 * exact means, the last 3 calls, trends against the calls before them (>= 5 calls, 10
 * points). Kept in step by hand until the statement moves to lib/. */
#define IMP_WAVG(col, filter) "round(sum(w * " col "::numeric)" filter " / sum(w)" filter ", 1)"
#define IMP_ALL ""
#define IMP_RECENT " FILTER (WHERE rn <= 3)"
#define IMP_BEFORE " FILTER (WHERE rn > 3)"
/* clang-format off */
static const char import_averages_sql[] =
    "INSERT INTO personality_averages AS a (customer_id, user_id, call_count, avg_openness,"
    " avg_conscientiousness, avg_extraversion, avg_agreeableness, avg_neuroticism,"
    " avg_formality, avg_directness, avg_detail_orientation, avg_patience,"
    " avg_technical_comfort, recent_frustration, recent_satisfaction, recent_urgency,"
    " satisfaction_trend, frustration_trend)"
    " SELECT $1::int, u.user_id, n, o, c, e, ag, ne, fo, di, de, pa, te, rf, rs, ru,"
    " CASE WHEN n < 5 THEN 'stable' WHEN rs - bs >= 10 THEN 'improving'"
    " WHEN rs - bs <= -10 THEN 'declining' ELSE 'stable' END,"
    " CASE WHEN n < 5 THEN 'stable' WHEN rf - bf <= -10 THEN 'improving'"
    " WHEN rf - bf >= 10 THEN 'declining' ELSE 'stable' END"
    " FROM (SELECT DISTINCT p.user_id FROM personality_metrics p WHERE p.customer_id = $1::int"
    " AND p.processor = '" IMPORT_PROCESSOR "') u"
    " CROSS JOIN LATERAL (SELECT count(*) AS n,"
    " " IMP_WAVG("openness", IMP_ALL) " AS o,"
    " " IMP_WAVG("conscientiousness", IMP_ALL) " AS c,"
    " " IMP_WAVG("extraversion", IMP_ALL) " AS e,"
    " " IMP_WAVG("agreeableness", IMP_ALL) " AS ag,"
    " " IMP_WAVG("neuroticism", IMP_ALL) " AS ne,"
    " " IMP_WAVG("formality", IMP_ALL) " AS fo,"
    " " IMP_WAVG("directness", IMP_ALL) " AS di,"
    " " IMP_WAVG("detail_orientation", IMP_ALL) " AS de,"
    " " IMP_WAVG("patience", IMP_ALL) " AS pa,"
    " " IMP_WAVG("technical_comfort", IMP_ALL) " AS te,"
    " " IMP_WAVG("frustration_level", IMP_RECENT) " AS rf,"
    " " IMP_WAVG("satisfaction_level", IMP_RECENT) " AS rs,"
    " " IMP_WAVG("urgency_level", IMP_RECENT) " AS ru,"
    " " IMP_WAVG("frustration_level", IMP_BEFORE) " AS bf,"
    " " IMP_WAVG("satisfaction_level", IMP_BEFORE) " AS bs"
    " FROM (SELECT *, greatest(confidence::numeric, 0.01) AS w,"
    " row_number() OVER (ORDER BY measured_at DESC, call_id DESC) AS rn"
    " FROM personality_metrics p WHERE p.customer_id = $1::int AND p.user_id = u.user_id) m) g"
    " WHERE n > 0"
    " ON CONFLICT (customer_id, user_id) DO UPDATE SET call_count = excluded.call_count,"
    " avg_openness = excluded.avg_openness,"
    " avg_conscientiousness = excluded.avg_conscientiousness,"
    " avg_extraversion = excluded.avg_extraversion,"
    " avg_agreeableness = excluded.avg_agreeableness,"
    " avg_neuroticism = excluded.avg_neuroticism, avg_formality = excluded.avg_formality,"
    " avg_directness = excluded.avg_directness,"
    " avg_detail_orientation = excluded.avg_detail_orientation,"
    " avg_patience = excluded.avg_patience, avg_technical_comfort = excluded.avg_technical_comfort,"
    " recent_frustration = excluded.recent_frustration,"
    " recent_satisfaction = excluded.recent_satisfaction, recent_urgency = excluded.recent_urgency,"
    " satisfaction_trend = excluded.satisfaction_trend,"
    " frustration_trend = excluded.frustration_trend, updated_at = now()"
    " WHERE (a.call_count, a.avg_openness, a.avg_conscientiousness, a.avg_extraversion,"
    " a.avg_agreeableness, a.avg_neuroticism, a.avg_formality, a.avg_directness,"
    " a.avg_detail_orientation, a.avg_patience, a.avg_technical_comfort,"
    " a.recent_frustration, a.recent_satisfaction, a.recent_urgency, a.satisfaction_trend,"
    " a.frustration_trend) IS DISTINCT FROM (excluded.call_count, excluded.avg_openness,"
    " excluded.avg_conscientiousness, excluded.avg_extraversion, excluded.avg_agreeableness,"
    " excluded.avg_neuroticism, excluded.avg_formality, excluded.avg_directness,"
    " excluded.avg_detail_orientation, excluded.avg_patience, excluded.avg_technical_comfort,"
    " excluded.recent_frustration, excluded.recent_satisfaction, excluded.recent_urgency,"
    " excluded.satisfaction_trend, excluded.frustration_trend)";
/* clang-format on */

/* ---- per table -------------------------------------------------------------------------- */

static long long import_tuples(PGresult *res)
{
	long long n = 0;
	if (num_parse_int(PQcmdTuples(res), 0, INT64_MAX, &n) != NUM_OK)
		n = 0;
	return n;
}

/* Runs a destination statement ($1 tenant, $2 JSON or NULL), adds its row count. */
static int import_write(PGconn *dst, const char *sql, const char *cid, const char *json,
                        long long *written, char *err, size_t errlen)
{
	const char *params[2] = { cid, json };
	PGresult *res = NULL;
	if (db_exec(dst, sql, json != NULL ? 2 : 1, params, &res, err, errlen) != DB_OK)
		return -1;
	*written += import_tuples(res);
	PQclear(res);
	return 0;
}

/* A source table as one JSON array text (owned by *resp). */
static int import_read_json(PGconn *src, enum import_table t, const char *cid, PGresult **resp,
                            long long *read, char *err, size_t errlen)
{
	const char *params[1] = { cid };
	if (db_exec(src, import_src_sql[t], 1, params, resp, err, errlen) != DB_OK)
		return -1;
	json_error_t jerr;
	json_t *arr = json_loads(PQgetvalue(*resp, 0, 0), 0, &jerr);
	*read += (long long)json_array_size(arr);
	json_decref(arr);
	return 0;
}

/* key_topics as an array of strings ([] otherwise); key_variables as an object ({}). */
static json_t *import_topics(const char *text)
{
	json_t *in = text ? json_loads(text, 0, NULL) : NULL, *out = json_array();
	for (size_t i = 0; json_is_array(in) && i < json_array_size(in); i++)
		if (json_is_string(json_array_get(in, i)))
			json_array_append(out, json_array_get(in, i));
	json_decref(in);
	return out;
}

static json_t *import_variables(const char *text)
{
	json_t *in = text ? json_loads(text, 0, NULL) : NULL;
	if (json_is_object(in))
		return in;
	json_decref(in);
	return json_object();
}

/* The summarizer's embedding input (summary, then each topic with '_' as a space) and its
 * full-text words (topics, then the key variables' string values). */
static void import_embed(const char *summary, const json_t *topics, const json_t *vars, json_t *row)
{
	struct buf b = BUF_INIT, words = BUF_INIT, vec = BUF_INIT;
	buf_append_str(&b, summary);
	for (size_t i = 0; i < json_array_size(topics); i++) {
		const char *t = json_string_value(json_array_get(topics, i));
		buf_putc(&b, ' ');
		for (const char *p = t; *p; p++)
			buf_putc(&b, *p == '_' ? ' ' : *p);
		buf_appendf(&words, "%s ", t);
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)vars, key, val)
	{
		if (json_is_string(val))
			buf_appendf(&words, "%s ", json_string_value(val));
		for (size_t i = 0; json_is_array(val) && i < json_array_size(val); i++)
			if (json_is_string(json_array_get(val, i)))
				buf_appendf(&words, "%s ",
				            json_string_value(json_array_get(val, i)));
	}
	float v[PROC_EMBED_DIM];
	proc_embed_text(b.data ? b.data : "", b.len, v);
	proc_embedding_text(v, &vec);
	json_object_set_new(row, "embedding", json_string(buf_str(&vec)));
	json_object_set_new(row, "words", json_string(buf_str(&words)));
	buf_free(&b);
	buf_free(&words);
	buf_free(&vec);
}

static bool import_call_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 128)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || strchr("._:-", *p) != NULL))
			return false;
	return true;
}

static json_t *import_summary_row(PGresult *res, int i)
{
	const char *summary = PQgetisnull(res, i, 4) ? "" : PQgetvalue(res, i, 4);
	json_t *topics = import_topics(PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5));
	json_t *vars = import_variables(PQgetisnull(res, i, 6) ? NULL : PQgetvalue(res, i, 6));
	json_t *row = json_object();
	json_object_set_new(row, "id", json_string(PQgetvalue(res, i, 0)));
	json_object_set_new(row, "call_id", json_string(PQgetvalue(res, i, 1)));
	json_object_set_new(row, "user_id", json_string(PQgetvalue(res, i, 2)));
	json_object_set_new(row, "ended_at", json_string(PQgetvalue(res, i, 3)));
	json_object_set_new(row, "summary", json_string(summary));
	import_embed(summary, topics, vars, row);
	json_object_set_new(row, "key_topics", topics);
	json_object_set_new(row, "key_variables", vars);
	for (int c = 7; c <= 8; c++)
		json_object_set_new(row, c == 7 ? "sentiment" : "resolution_status",
		                    PQgetisnull(res, i, c) ? json_null()
		                                           : json_string(PQgetvalue(res, i, c)));
	long long d = -1;
	if (!PQgetisnull(res, i, 9) && num_parse_int(PQgetvalue(res, i, 9), 0, INT32_MAX, &d) == 0)
		json_object_set_new(row, "duration_seconds", json_integer(d));
	return row;
}

static int import_summaries(PGconn *src, PGconn *dst, const char *cid, struct import_counts *c,
                            char *err, size_t errlen)
{
	const char *params[1] = { cid };
	PGresult *res = NULL;
	if (db_exec(src, import_src_sql[IMP_SUMMARIES], 1, params, &res, err, errlen) != DB_OK)
		return -1;
	json_t *rows = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		c->read[IMP_SUMMARIES]++;
		size_t ulen = strlen(PQgetvalue(res, i, 2));
		if (PQgetisnull(res, i, 1) || !import_call_id_ok(PQgetvalue(res, i, 1)) ||
		    PQgetisnull(res, i, 2) || ulen < 1 || ulen > 128 || PQgetisnull(res, i, 3) ||
		    PQgetisnull(res, i, 0)) {
			c->skipped[IMP_SUMMARIES]++;
			continue;
		}
		json_array_append_new(rows, import_summary_row(res, i));
	}
	PQclear(res);
	char *json = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	int rc = import_write(dst, import_summaries_sql, cid, json, &c->written[IMP_SUMMARIES], err,
	                      errlen);
	free(json);
	return rc;
}

/* A table that goes straight from the source's JSON to the destination's statement. */
static int import_json_table(PGconn *src, PGconn *dst, enum import_table t, const char *sql,
                             const char *cid, struct import_counts *c, char *err, size_t errlen)
{
	PGresult *res = NULL;
	if (import_read_json(src, t, cid, &res, &c->read[t], err, errlen) != 0)
		return -1;
	int rc = import_write(dst, sql, cid, PQgetvalue(res, 0, 0), &c->written[t], err, errlen);
	PQclear(res);
	return rc;
}

/* One tenant in one transaction. */
static int import_tenant(PGconn *src, PGconn *dst, long long customer_id, struct import_counts *c,
                         char *err, size_t errlen)
{
	char cid[24];
	snprintf(cid, sizeof(cid), "%lld", customer_id);
	if (db_begin_tenant(dst, customer_id, err, errlen) != DB_OK)
		return -1;
	if (import_json_table(src, dst, IMP_MEMORIES, import_memories_sql, cid, c, err, errlen) ||
	    import_summaries(src, dst, cid, c, err, errlen) ||
	    import_json_table(src, dst, IMP_METRICS, import_metrics_sql, cid, c, err, errlen) ||
	    import_json_table(src, dst, IMP_PROFILES, import_profiles_sql, cid, c, err, errlen) ||
	    import_write(dst, import_averages_sql, cid, NULL, &c->written[IMP_AVERAGES], err,
	                 errlen)) {
		db_rollback(dst);
		return -1;
	}
	return db_commit(dst, err, errlen) == DB_OK ? 0 : -1;
}

static void import_print(FILE *out, const char *who, const struct import_counts *c)
{
	fprintf(out, "%s:", who);
	for (int t = 0; t < IMP_N; t++) {
		fprintf(out, " %s", import_names[t]);
		if (t != IMP_AVERAGES)
			fprintf(out, " %lld read", c->read[t]);
		fprintf(out, " %lld written", c->written[t]);
		if (c->skipped[t] > 0)
			fprintf(out, " %lld skipped", c->skipped[t]);
		fputc(t + 1 < IMP_N ? ';' : '\n', out);
	}
}

int import_previous_run(PGconn *src, PGconn *dst, FILE *out, char *err, size_t errlen)
{
	PGresult *res = NULL;
	if (db_exec(src, "SET default_transaction_read_only = on", 0, NULL, NULL, err, errlen) ||
	    db_exec(src, import_tenants_sql, 0, NULL, &res, err, errlen) != DB_OK)
		return -1;
	struct import_counts total = { 0 };
	int failed = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		long long customer_id = 0;
		if (num_parse_int(PQgetvalue(res, i, 0), 1, 2147483647, &customer_id) != NUM_OK)
			continue;
		struct import_counts c = { 0 };
		char who[48], terr[1024];
		snprintf(who, sizeof(who), "customer %lld", customer_id);
		if (import_tenant(src, dst, customer_id, &c, terr, sizeof(terr)) != 0) {
			fprintf(stderr, "aimem import-previous: customer %lld rolled back: %s\n",
			        customer_id, terr);
			failed++;
			continue;
		}
		import_print(out, who, &c);
		for (int t = 0; t < IMP_N; t++) {
			total.read[t] += c.read[t];
			total.written[t] += c.written[t];
			total.skipped[t] += c.skipped[t];
		}
	}
	fprintf(out, "%d tenants imported, %d failed\n", PQntuples(res) - failed, failed);
	import_print(out, "total", &total);
	PQclear(res);
	return failed ? 1 : 0;
}

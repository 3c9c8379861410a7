/*
 * context_sql: the SQL of the caller context document (DESIGN §6, GET /v3/callers/{id}/context):
 * the JSON objects it is made of, built in SQL from a row alias (aimem-query's other routes use
 * the same objects, so a summary or a profile has one shape everywhere), and the derivation of
 * the whole document from the tenant tables. Text only; no code.
 *
 * The derivation runs in the workers' transactions (context.c) to rewrite the stored context;
 * CONTEXT_SQL_DOC is the one-statement derivation aimem-query ran on every read before the
 * context was stored: bench/query_sql prints it (the old design's pgbench figure) and the
 * property test (tests/integration/test_context.py) checks the stored rows against it.
 * Statements name no tenant: row-level security filters by app.current_tenant.
 *
 * Why macros and not SQL functions or one static const char [] per statement (docs/STYLE.md,
 * SQL): each object is spliced into statements of two folders (the workers' derivation in
 * context.c; aimem-query's routes and search through query-api/query_sql.h) and into
 * CONTEXT_SQL_DOC, which bench/query_sql prints and test_context compares with the stored rows,
 * so the text of one object must be one definition. A function per object over the table's
 * row type would need whole rows where the statements select a few columns (the p and s WITH
 * items) and would move the response shapes into the migrations, so a shape change would need
 * a migration and all programs released together.
 */
#ifndef AIMEM_CONTEXT_SQL_H
#define AIMEM_CONTEXT_SQL_H

/* Timestamps as RFC 3339 UTC with seconds, in SQL (NULL stays NULL). */
/* clang-format off */
#define CONTEXT_SQL_TS(x) \
	"to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\":\"MI\":\"SS\"Z\"')"
/* clang-format on */

/* The native JSON objects, built in SQL from a row alias. */
/* clang-format off */
#define CONTEXT_SQL_SUMMARY(s) \
	"json_build_object('call_id', " s ".call_id, 'user_id', " s ".user_id, 'thread_id', " s \
	".thread_id, 'started_at', " CONTEXT_SQL_TS(s ".call_started_at") ", 'ended_at', " \
	CONTEXT_SQL_TS(s ".call_ended_at") ", 'duration_seconds', " s \
	".duration_seconds, 'summary', " s ".summary, 'key_topics', " s \
	".key_topics, 'key_variables', " s ".key_variables, 'sentiment', " s \
	".sentiment, 'resolution_status', " s ".resolution_status, 'processor', " s \
	".processor, 'needs_reprocess', " s ".needs_reprocess)"
#define CONTEXT_SQL_PROFILE(p) \
	"json_build_object('user_id', " p ".user_id, 'preferred_name', " p \
	".preferred_name, 'total_calls', " p ".total_calls, 'first_call_at', " \
	CONTEXT_SQL_TS(p ".first_call_at") ", 'last_call_at', " CONTEXT_SQL_TS(p ".last_call_at") \
	", 'preferences', " p ".preferences, 'context', " p ".context, 'created_at', " \
	CONTEXT_SQL_TS(p ".created_at") ", 'updated_at', " CONTEXT_SQL_TS(p ".updated_at") ")"
#define CONTEXT_SQL_PERSONALITY(a) \
	"json_build_object('call_count', " a ".call_count, 'big_five', json_build_object(" \
	"'openness', " a ".avg_openness, 'conscientiousness', " a \
	".avg_conscientiousness, 'extraversion', " a ".avg_extraversion, 'agreeableness', " a \
	".avg_agreeableness, 'neuroticism', " a ".avg_neuroticism), 'communication_style', " \
	"json_build_object('formality', " a ".avg_formality, 'directness', " a \
	".avg_directness, 'detail_orientation', " a ".avg_detail_orientation, 'patience', " a \
	".avg_patience, 'technical_comfort', " a ".avg_technical_comfort), 'emotional_state', " \
	"json_build_object('frustration_level', " a ".recent_frustration, 'satisfaction_level', " \
	a ".recent_satisfaction, 'urgency_level', " a ".recent_urgency), 'trends', " \
	"json_build_object('satisfaction_trend', " a ".satisfaction_trend, 'frustration_trend', " \
	a ".frustration_trend), 'updated_at', " CONTEXT_SQL_TS(a ".updated_at") ")"
/* clang-format on */

/* A caller fact (caller_facts, migration 006) as the native JSON object. */
/* clang-format off */
#define CONTEXT_SQL_FACT(f) \
	"json_build_object('kind', " f ".kind, 'value', " f ".value, 'call_count', " f \
	".call_count, 'first_seen_at', " CONTEXT_SQL_TS(f ".first_seen_at") ", 'last_seen_at', " \
	CONTEXT_SQL_TS(f ".last_seen_at") ", 'last_call_id', " f ".last_call_id)"
/* clang-format on */

/* The most current facts a context carries (newest first): the context stays small however
 * many calls a caller made. Superseded values (history) are not part of it. */
#define CONTEXT_SQL_FACTS_MAX "20"

/* The parts of one caller's document as WITH items over the caller id expression u and the
 * number of summaries n: p (profile), a (personality averages), f (the current facts, newest
 * CONTEXT_SQL_FACTS_MAX), s (the newest n summaries); every part an index lookup on
 * (customer_id, user_id, ...). */
/* clang-format off */
#define CONTEXT_SQL_PARTS(u, n) \
	"p AS (SELECT user_id, preferred_name, total_calls, first_call_at, last_call_at, " \
	"             preferences, context, created_at, updated_at " \
	"      FROM caller_profiles WHERE user_id = " u "), " \
	"a AS (SELECT * FROM personality_averages WHERE user_id = " u "), " \
	"f AS (SELECT kind, value, value_key, call_count, first_seen_at, last_seen_at, " \
	"             last_call_id FROM caller_facts WHERE user_id = " u " " \
	"      AND superseded_at IS NULL ORDER BY last_seen_at DESC, kind, value_key " \
	"      LIMIT " CONTEXT_SQL_FACTS_MAX "), " \
	"s AS (SELECT call_id, user_id, thread_id, call_started_at, call_ended_at, " \
	"             duration_seconds, summary, key_topics, key_variables, sentiment, " \
	"             resolution_status, processor, needs_reprocess " \
	"      FROM call_summaries WHERE user_id = " u " " \
	"      ORDER BY call_ended_at DESC, call_id DESC LIMIT " n ") "
/* clang-format on */

/* The summaries of s as the document's array, newest first. */
/* clang-format off */
#define CONTEXT_SQL_SUMMARIES \
	"coalesce((SELECT json_agg(" CONTEXT_SQL_SUMMARY("s") " ORDER BY s.call_ended_at DESC, " \
	"s.call_id DESC) FROM s), '[]'::json)"
/* clang-format on */

/* The document over the parts, with sums as its (last) "summaries" member. */
/* clang-format off */
#define CONTEXT_SQL_OBJECT(u, sums) \
	"json_build_object('user_id', (" u ")::text, " \
	"  'known', EXISTS (SELECT 1 FROM p) OR EXISTS (SELECT 1 FROM s), " \
	"  'profile', (SELECT " CONTEXT_SQL_PROFILE("p") " FROM p), " \
	"  'personality', (SELECT " CONTEXT_SQL_PERSONALITY("a") " FROM a), " \
	"  'facts', coalesce((SELECT json_agg(" CONTEXT_SQL_FACT("f") " ORDER BY f.last_seen_at " \
	"DESC, f.kind, f.value_key) FROM f), '[]'::json), " \
	"  'summaries', " sums ")"
/* clang-format on */

/* The summary-first context document of caller $1 with the newest $2 summaries, in one
 * statement: the full derivation (see the file comment). */
/* clang-format off */
#define CONTEXT_SQL_DOC \
	"WITH " CONTEXT_SQL_PARTS("$1", "$2") "SELECT " \
	CONTEXT_SQL_OBJECT("$1", CONTEXT_SQL_SUMMARIES) "::text"
/* clang-format on */

#endif

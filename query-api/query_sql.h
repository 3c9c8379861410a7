/*
 * query_sql: SQL text of aimem-query that something else needs too: the JSON object builders
 * every read statement uses, and the context read, which bench/query_sql prints so pgbench
 * runs exactly the statement the API runs. Text only; no code.
 *
 * Parameters of QUERY_SQL_CONTEXT: $1 user_id (text), $2 the number of summaries. It names no
 * tenant: row-level security filters by app.current_tenant, set in the same transaction.
 */
#ifndef AIMEM_QUERY_SQL_H
#define AIMEM_QUERY_SQL_H

/* Timestamps as RFC 3339 UTC with seconds, in SQL (NULL stays NULL). */
#define QSQL_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\":\"MI\":\"SS\"Z\"')"
/* A timestamp as microseconds since the epoch (for cursors), exact. */
#define QSQL_MICROS(x) "(extract(epoch FROM " x ") * 1000000)::bigint"
/* A cursor's microseconds back to a timestamp, exact. */
#define QSQL_FROM_MICROS(p) "(timestamptz 'epoch' + " p "::bigint * interval '1 microsecond')"

/* The native JSON objects, built in SQL from a row alias. */
#define QSQL_SUMMARY(s)                                                                            \
	"json_build_object('call_id', " s ".call_id, 'user_id', " s ".user_id, 'thread_id', " s    \
	".thread_id, 'started_at', " QSQL_TS(s ".call_started_at") ", 'ended_at', " QSQL_TS(       \
	    s ".call_ended_at") ", 'duration_seconds', " s ".duration_seconds, 'summary', " s      \
	                        ".summary, 'key_topics', " s ".key_topics, 'key_variables', " s    \
	                        ".key_variables, 'sentiment', " s                                  \
	                        ".sentiment, 'resolution_status', " s                              \
	                        ".resolution_status, 'processor', " s                              \
	                        ".processor, 'needs_reprocess', " s ".needs_reprocess)"
#define QSQL_PROFILE(p)                                                                             \
	"json_build_object('user_id', " p ".user_id, 'preferred_name', " p                          \
	".preferred_name, 'total_calls', " p                                                        \
	".total_calls, 'first_call_at', " QSQL_TS(p ".first_call_at") ", 'last_call_at', " QSQL_TS( \
	    p ".last_call_at") ", 'preferences', " p ".preferences, 'context', " p                  \
	                       ".context, 'created_at', " QSQL_TS(                                  \
	                           p                                                                \
	                           ".created_at") ", 'updated_at', " QSQL_TS(p ".updated_at") ")"
#define QSQL_PERSONALITY(a)                                                                        \
	"json_build_object('call_count', " a ".call_count, 'big_five', json_build_object("         \
	"'openness', " a ".avg_openness, 'conscientiousness', " a                                  \
	".avg_conscientiousness, 'extraversion', " a ".avg_extraversion, 'agreeableness', " a      \
	".avg_agreeableness, 'neuroticism', " a ".avg_neuroticism), 'communication_style', "       \
	"json_build_object('formality', " a ".avg_formality, 'directness', " a                     \
	".avg_directness, 'detail_orientation', " a ".avg_detail_orientation, 'patience', " a      \
	".avg_patience, 'technical_comfort', " a ".avg_technical_comfort), 'emotional_state', "    \
	"json_build_object('frustration_level', " a                                                \
	".recent_frustration, 'satisfaction_level', " a                                            \
	".recent_satisfaction, 'urgency_level', " a ".recent_urgency), 'trends', "                 \
	"json_build_object('satisfaction_trend', " a                                               \
	".satisfaction_trend, 'frustration_trend', " a                                             \
	".frustration_trend), 'updated_at', " QSQL_TS(a ".updated_at") ")"
#define QSQL_METRIC(m)                                                                             \
	"json_build_object('call_id', " m ".call_id, 'measured_at', " QSQL_TS(                     \
	    m ".measured_at") ", 'scores', json_build_object('openness', " m                       \
	                      ".openness, 'conscientiousness', " m                                 \
	                      ".conscientiousness, 'extraversion', " m                             \
	                      ".extraversion, 'agreeableness', " m                                 \
	                      ".agreeableness, 'neuroticism', " m ".neuroticism, 'formality', " m  \
	                      ".formality, 'directness', " m ".directness, "                       \
	                      "'detail_orientation', " m ".detail_orientation, 'patience', " m     \
	                      ".patience, "                                                        \
	                      "'technical_comfort', " m                                            \
	                      ".technical_comfort, 'frustration_level', " m                        \
	                      ".frustration_level, 'satisfaction_level', " m                       \
	                      ".satisfaction_level, 'urgency_level', " m                           \
	                      ".urgency_level), 'confidence', " m ".confidence, 'processor', " m   \
	                      ".processor)"

/* A caller fact (caller_facts, migration 006) as the native JSON object. */
#define QSQL_FACT(f)                                                                               \
	"json_build_object('kind', " f ".kind, 'value', " f ".value, 'call_count', " f             \
	".call_count, 'first_seen_at', " QSQL_TS(f ".first_seen_at") ", 'last_seen_at', " QSQL_TS( \
	    f ".last_seen_at") ", 'last_call_id', " f ".last_call_id)"

/* The most current facts a context carries (newest first): the context stays small however
 * many calls a caller made. Superseded values (history) are not part of it. */
#define QUERY_SQL_FACTS_MAX "20"

/* The summary-first context document: profile, personality, the caller's current facts (the
 * newest QUERY_SQL_FACTS_MAX), the newest $2 summaries; every part an index lookup on
 * (customer_id, user_id, ...). */
#define QUERY_SQL_CONTEXT                                                                          \
	"WITH p AS (SELECT user_id, preferred_name, total_calls, first_call_at, last_call_at, "    \
	"                  preferences, context, created_at, updated_at "                          \
	"           FROM caller_profiles WHERE user_id = $1), "                                    \
	"a AS (SELECT * FROM personality_averages WHERE user_id = $1), "                           \
	"f AS (SELECT kind, value, value_key, call_count, first_seen_at, last_seen_at, "           \
	"             last_call_id FROM caller_facts WHERE user_id = $1 "                          \
	"      AND superseded_at IS NULL ORDER BY last_seen_at DESC, kind, value_key "             \
	"      LIMIT " QUERY_SQL_FACTS_MAX "), "                                                   \
	"s AS (SELECT call_id, user_id, thread_id, call_started_at, call_ended_at, "               \
	"             duration_seconds, summary, key_topics, key_variables, sentiment, "           \
	"             resolution_status, processor, needs_reprocess "                              \
	"      FROM call_summaries WHERE user_id = $1 "                                            \
	"      ORDER BY call_ended_at DESC, call_id DESC LIMIT $2) "                               \
	"SELECT json_build_object('user_id', $1::text, "                                           \
	"  'known', EXISTS (SELECT 1 FROM p) OR EXISTS (SELECT 1 FROM s), "                        \
	"  'profile', (SELECT " QSQL_PROFILE(                                                      \
	    "p") " FROM p), "                                                                      \
	         "  'personality', (SELECT " QSQL_PERSONALITY(                                     \
	             "a") " FROM a), "                                                             \
	                  "  'facts', coalesce((SELECT json_agg(" QSQL_FACT(                       \
	                      "f") " ORDER BY f.last_seen_at DESC, f.kind, f.value_key) FROM f), " \
	                           "'[]'::json), "                                                 \
	                           "  'summaries', coalesce((SELECT json_agg(" QSQL_SUMMARY(       \
	                               "s") " ORDER BY s.call_ended_at "                           \
	                                    "DESC, s.call_id DESC) FROM s), '[]'::json))::text"

#endif

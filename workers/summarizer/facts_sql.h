/*
 * facts_sql: the SQL that folds a caller's calls into caller_facts (migration 006), run by
 * aimem-summarizer in the batch transaction that wrote the calls. Text only; no code.
 *
 * FACTS_SQL_REFRESH is a list of WITH items over $1 (the tenant) and $2 (a JSON array of the
 * callers whose calls the batch wrote), to be followed by the statement that recounts the same
 * callers' profiles (summarize.c): one statement, after the callers' locks, so the facts and the
 * profile are recomputed from the same snapshot. Data-modifying WITH items run to completion
 * whether or not the main statement reads them.
 *
 * Per caller, from every call_summaries row's facts array: one row per (kind, key) with the
 * newest value, first/last seen (the calls' end times), the newest call that said it and the
 * number of distinct calls that said it (recomputed, never incremented: a replay or a duplicate
 * event cannot inflate it). For a single-valued kind, a value is superseded by the first later
 * call that said another value (superseded_at, superseded_by = that call's end and id); the
 * newest value is the current one. Rows no call supports any more (a call reprocessed, moved to
 * another caller) are deleted. A row is rewritten only when something it says changed, so a
 * refresh that finds nothing new writes nothing.
 */
#ifndef AIMEM_FACTS_SQL_H
#define AIMEM_FACTS_SQL_H

#define FACTS_SQL_REFRESH                                                                            \
	"WITH fu AS (SELECT DISTINCT jsonb_array_elements_text($2::jsonb) AS user_id),"              \
	" fs AS (SELECT DISTINCT ON (c.user_id, f.kind, f.key, c.call_id) c.user_id, f.kind,"        \
	" f.key, f.value, coalesce(f.single, false) AS single, c.call_id, c.call_ended_at AS at"     \
	" FROM fu JOIN call_summaries c ON c.customer_id = $1::int AND c.user_id = fu.user_id"       \
	" CROSS JOIN LATERAL jsonb_to_recordset(CASE WHEN jsonb_typeof(c.facts) = 'array'"           \
	" THEN c.facts ELSE '[]' END) AS f(kind text, key text, value text, single boolean)"         \
	" WHERE f.kind ~ '^[a-z_]{1,32}$' AND octet_length(f.key) BETWEEN 1 AND 256"                 \
	" AND octet_length(f.value) BETWEEN 1 AND 256"                                               \
	" ORDER BY c.user_id, f.kind, f.key, c.call_id),"                                            \
	" fa AS (SELECT user_id, kind, key, bool_or(single) AS single, min(at) AS first_at,"         \
	" max(at) AS last_at, count(*)::int AS n,"                                                   \
	" (array_agg(call_id ORDER BY at DESC, call_id DESC))[1] AS last_call,"                      \
	" (array_agg(value ORDER BY at DESC, call_id DESC))[1] AS value"                             \
	" FROM fs GROUP BY user_id, kind, key),"                                                     \
	" fn AS (SELECT fa.*, nx.at AS sup_at, nx.call_id AS sup_by FROM fa LEFT JOIN LATERAL"       \
	" (SELECT s.at, s.call_id FROM fs s WHERE fa.single AND s.user_id = fa.user_id"              \
	" AND s.kind = fa.kind AND s.key <> fa.key AND (s.at, s.call_id) > (fa.last_at,"             \
	" fa.last_call) ORDER BY s.at, s.call_id LIMIT 1) nx ON true),"                              \
	" fdel AS (DELETE FROM caller_facts cf USING fu WHERE cf.customer_id = $1::int"              \
	" AND cf.user_id = fu.user_id AND NOT EXISTS (SELECT 1 FROM fa WHERE"                        \
	" fa.user_id = cf.user_id AND fa.kind = cf.kind AND fa.key = cf.value_key) RETURNING 1),"    \
	" fput AS (INSERT INTO caller_facts AS cf (customer_id, user_id, kind, value_key, value,"    \
	" single, first_seen_at, last_seen_at, last_call_id, call_count, superseded_at,"             \
	" superseded_by) SELECT $1::int, user_id, kind, key, value, single, first_at, last_at,"      \
	" last_call, n, sup_at, sup_by FROM fn"                                                      \
	" ON CONFLICT (customer_id, user_id, kind, value_key) DO UPDATE SET value = excluded.value," \
	" single = excluded.single, first_seen_at = excluded.first_seen_at,"                         \
	" last_seen_at = excluded.last_seen_at, last_call_id = excluded.last_call_id,"               \
	" call_count = excluded.call_count, superseded_at = excluded.superseded_at,"                 \
	" superseded_by = excluded.superseded_by, updated_at = now()"                                \
	" WHERE (cf.value, cf.single, cf.first_seen_at, cf.last_seen_at, cf.last_call_id,"           \
	" cf.call_count, cf.superseded_at, cf.superseded_by) IS DISTINCT FROM (excluded.value,"      \
	" excluded.single, excluded.first_seen_at, excluded.last_seen_at, excluded.last_call_id,"    \
	" excluded.call_count, excluded.superseded_at, excluded.superseded_by) RETURNING 1) "

#endif

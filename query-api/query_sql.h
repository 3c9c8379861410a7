/*
 * query_sql: SQL text of aimem-query that something else needs too. The document's objects and
 * the context derivation are the call domain's (calls/context_sql.h: the workers store the
 * context built from them); the QSQL_ names below are aimem-query's names for them, so every
 * route answers the same shapes. Text only; no code.
 *
 * These stay macros rather than static const char [] beside one function (docs/STYLE.md, SQL):
 * each is spliced into several statements (native.c, compat.c, search_sql.h) and, for the
 * context read, into bench/query_sql too, and the pieces of one object must be the same text
 * everywhere. QSQL_MICROS and QSQL_FROM_MICROS are the two halves of the cursor's timestamp:
 * a page's cursor is read back with the inverse of the expression that wrote it.
 *
 * QUERY_SQL_CONTEXT is the old per-read derivation ($1 user_id, $2 the number of summaries),
 * which bench/query_sql prints so pgbench can compare it with the stored context's read
 * (QUERY_SQL_CONTEXT_READ) and a bare primary-key lookup of the same row.
 */
#ifndef AIMEM_QUERY_SQL_H
#define AIMEM_QUERY_SQL_H

#include "context_sql.h"

#define QSQL_TS(x) CONTEXT_SQL_TS(x)
/* A timestamp as microseconds since the epoch (for cursors), exact. */
#define QSQL_MICROS(x) "(extract(epoch FROM " x ") * 1000000)::bigint"
/* A cursor's microseconds back to a timestamp, exact. */
#define QSQL_FROM_MICROS(p) "(timestamptz 'epoch' + " p "::bigint * interval '1 microsecond')"

#define QSQL_SUMMARY(s) CONTEXT_SQL_SUMMARY(s)
#define QSQL_PROFILE(p) CONTEXT_SQL_PROFILE(p)
#define QSQL_PERSONALITY(a) CONTEXT_SQL_PERSONALITY(a)
/* clang-format off */
#define QSQL_METRIC(m) \
	"json_build_object('call_id', " m ".call_id, 'measured_at', " QSQL_TS(m ".measured_at") \
	", 'scores', json_build_object('openness', " m ".openness, 'conscientiousness', " m \
	".conscientiousness, 'extraversion', " m ".extraversion, 'agreeableness', " m \
	".agreeableness, 'neuroticism', " m ".neuroticism, 'formality', " m \
	".formality, 'directness', " m ".directness, " "'detail_orientation', " m \
	".detail_orientation, 'patience', " m ".patience, " "'technical_comfort', " m \
	".technical_comfort, 'frustration_level', " m \
	".frustration_level, 'satisfaction_level', " m ".satisfaction_level, 'urgency_level', " m \
	".urgency_level), 'confidence', " m ".confidence, 'processor', " m ".processor)"
/* clang-format on */

#define QUERY_SQL_CONTEXT CONTEXT_SQL_DOC

/* The context read of the stored context (native.c's routes; bench/query_sql stored): $1
 * user_id, $2 summaries; text: "" or the extra column(s) to select. */
/* clang-format off */
#define QUERY_SQL_CONTEXT_READ(text) \
	"SELECT c.etag, CASE WHEN c.user_id IS NULL THEN json_build_object('user_id', $1::text, " \
	"'known', false, 'profile', NULL, 'personality', NULL, 'facts', '[]'::json, " \
	"'summaries', '[]'::json)::text ELSE c.doc_head || '[' || " \
	"array_to_string(c.doc_sums[1:$2::int], '') || ']}' END" text \
	" FROM (SELECT 1) one LEFT JOIN caller_context c ON c.user_id = $1"
/* clang-format on */

/* The physical limit of that read: the same primary-key lookup returning one short column
 * (bench/query_sql pk, pgbench's select-only on the same key). */
#define QUERY_SQL_CONTEXT_PK "SELECT c.etag FROM caller_context c WHERE c.user_id = $1"

#endif

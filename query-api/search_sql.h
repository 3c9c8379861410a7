/*
 * search_sql: the statements behind /v3/search and POST /v2/summaries/search (search.c runs
 * them; bench/search_sql runs the very same text for the plain-SQL ceiling of bench/search.sh):
 * the whole search in one statement, and each of its two lists alone (hybrid's two halves).
 * How it ranks: search.c's opening comment and docs/search.md.
 */
#ifndef AIMEM_SEARCH_SQL_H
#define AIMEM_SEARCH_SQL_H

#include "query_sql.h"

#define SEARCH_TERMS "12"
#define SEARCH_POSTINGS "500"
#define SEARCH_CANDIDATES "300"
#define SEARCH_USER_CANDIDATES "4000"

/* clang-format off */
/*
 * Parameters, every one declared text (qdb_stmt.text_params: a statement may leave some
 * unused): $1 query text, $2 query vector, $3 limit, $4 mode, $5 model id, $6 and $8 the text
 * and semantic lists computed apart (the JSON of SEARCH_TEXT_LIST and SEARCH_SEM_LIST; NULL to
 * compute them here), $7 user_id (the statements within one caller).
 *
 * $4 says which lists are computed: 'text', 'semantic', 'hybrid' (both), or 'lists' (neither:
 * hybrid's last statement, which fuses the two lists it is given, search.c).
 *
 * SEARCH_TEXT_CTES(CAND) computes txt0, the text list: CAND is the CTEs that end in cand
 * (call_id, chunk_no, tsv, words), the text candidates from the query's SEARCH_TERMS rarest
 * lexemes (pick: lexeme, idf), ranked by the exact BM25 of all of the query's lexemes.
 * The summary is a text passage of its own (chunk_no -1 below): its search_tsv (summary,
 * topics, key values) ranked by the same BM25 with the passages' statistics (a word no passage
 * holds counts as the rarest, so a word only the summary has still finds it), as a passage of
 * average length (with its own length, a short extractive summary outranked the transcript:
 * known-item R@1 0.934 against 0.940, docs/search.md); it has no embedding (the summarizer
 * does not embed). q (the query's lexemes) is also what the snippets highlight.
 */
#define SEARCH_TEXT_CTES(CAND)                                                                          \
	"q AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', $1::text))), "                 \
	"st AS (SELECT passages::float8 AS n, greatest(words::float8 / greatest(passages, 1), 1)"       \
	"  AS avgdl FROM search_stats), "                                                               \
	"qt AS (SELECT lexeme, df, ln(1 + (n - df + 0.5) / (df + 0.5)) AS idf FROM (SELECT q.lexeme, "  \
	"  coalesce(t.df, 0) AS df, st.n FROM q LEFT JOIN search_terms t USING (lexeme) CROSS JOIN st " \
	"  WHERE $4::text IN ('text', 'hybrid')) y), "                                                  \
	"pick AS (SELECT lexeme, idf FROM qt ORDER BY df, lexeme LIMIT " SEARCH_TERMS "), " CAND        \
	"ql AS (SELECT array_agg(lexeme) AS lx FROM qt), "                                              \
	"bm AS (SELECT cand.call_id, cand.chunk_no, sum(qt.idf * x.tf * 2.2 / (x.tf + 1.2 * "           \
	"  (0.25 + 0.75 * cand.words / st.avgdl))) AS s FROM cand CROSS JOIN st CROSS JOIN ql "         \
	"  CROSS JOIN LATERAL (SELECT u.lexeme, cardinality(u.positions)::float8 AS tf "                \
	"  FROM unnest(ts_filter(setweight(setweight(cand.tsv, 'D'), 'A', ql.lx), '{a}')) u) x "        \
	"  JOIN qt ON qt.lexeme = x.lexeme GROUP BY 1, 2), "                                            \
	"txt0 AS (SELECT call_id, chunk_no, s, row_number() OVER (ORDER BY s DESC, call_id) AS r "      \
	"  FROM (SELECT DISTINCT ON (call_id) call_id, chunk_no, s FROM bm "                            \
	"  ORDER BY call_id, s DESC, chunk_no) y ORDER BY s DESC, call_id LIMIT $3::int * 2)"

/* SEARCH_SEM_CTES(SEM) computes sem1, the semantic list: the passages of SEM (call_chunks, or
 * one caller's) nearest the query's vector among those of the current model, one per call.
 * The vector is parsed once (qv, an init plan): $2 is declared text, and $2::vector in the
 * row expressions parsed its 384 numbers again for every row (40 ms over 554 passages). */
#define SEARCH_SEM_CTES(SEM)                                                                        \
	"qv AS (SELECT $2::vector AS v), "                                                          \
	"sem0 AS (SELECT call_id, chunk_no, embedding <=> (SELECT v FROM qv) AS d FROM " SEM        \
	"  WHERE $4::text IN ('semantic', 'hybrid') AND model = $5::text "                          \
	"  AND embedding IS NOT NULL ORDER BY embedding <=> (SELECT v FROM qv) LIMIT $3::int * 4), " \
	"sem1 AS (SELECT call_id, chunk_no, d, row_number() OVER (ORDER BY d, call_id) AS r "       \
	"  FROM (SELECT DISTINCT ON (call_id) call_id, chunk_no, d FROM sem0 "                      \
	"  ORDER BY call_id, d, chunk_no) z ORDER BY d, call_id LIMIT $3::int * 2)"

/* Each list alone, as JSON (call_id, chunk_no, s or d, r): hybrid computes them at once, on two
 * connections, the semantic one once the query is embedded (search.c). */
#define SEARCH_TEXT_LIST(CAND)                                                                      \
	"WITH " SEARCH_TEXT_CTES(CAND) " SELECT coalesce(json_agg(json_build_object("               \
	"  'call_id', call_id, 'chunk_no', chunk_no, 's', s, 'r', r)), '[]'::json)::text FROM txt0"

#define SEARCH_SEM_LIST(SEM)                                                                        \
	"WITH " SEARCH_SEM_CTES(SEM) " SELECT coalesce(json_agg(json_build_object("                 \
	"  'call_id', call_id, 'chunk_no', chunk_no, 'd', d, 'r', r)), '[]'::json)::text FROM sem1"

/* The whole search: the text list (txt0, or the one given in $6), the semantic list (sem1, or
 * $8), fused by reciprocal rank, each call with its summary and snippet. A call is returned
 * with or without a summary ("call": null until the summarizer stored one); the compat answer
 * (the previous service searched summaries) keeps only calls with a summary. */
#define SEARCH_SQL(CAND, SEM)                                                                           \
	"WITH " SEARCH_TEXT_CTES(CAND) ", " SEARCH_SEM_CTES(SEM) ", "                                   \
	"txt AS (SELECT * FROM txt0 UNION ALL SELECT l.call_id, l.chunk_no, l.s, l.r "                  \
	"  FROM json_to_recordset($6::json) AS l(call_id text, chunk_no int, s float8, r bigint)), "    \
	"sem AS (SELECT * FROM sem1 UNION ALL SELECT l.call_id, l.chunk_no, l.d, l.r "                  \
	"  FROM json_to_recordset($8::json) AS l(call_id text, chunk_no int, d float8, r bigint)), "    \
	"f AS (SELECT coalesce(sem.call_id, txt.call_id) AS call_id, sem.d, txt.s AS rank, "            \
	"  coalesce(txt.chunk_no, sem.chunk_no) AS chunk_no, "                                          \
	"  coalesce(1.0 / (60 + sem.r), 0) + coalesce(1.0 / (60 + txt.r), 0) AS score "                 \
	"  FROM sem FULL JOIN txt ON sem.call_id = txt.call_id "                                        \
	"  ORDER BY score DESC, call_id LIMIT $3::int), "                                               \
	"hq AS (SELECT websearch_to_tsquery('simple', coalesce(string_agg(lexeme, ' or '), '')) "       \
	"  AS tq FROM q), "                                                                             \
	"r AS (SELECT f.d, f.rank, f.score, f.call_id, coalesce(s.user_id, p.user_id) AS user_id, "     \
	"  s.call_id IS NOT NULL AS summarised, s.thread_id, s.call_started_at, "                       \
	"  coalesce(s.call_ended_at, p.call_ended_at) AS call_ended_at, "                               \
	"  s.duration_seconds, s.summary, s.key_topics, s.key_variables, s.sentiment, "                 \
	"  s.resolution_status, s.processor, s.needs_reprocess, ts_headline('english', "                \
	"  CASE WHEN f.chunk_no < 0 THEN s.summary ELSE p.content END, hq.tq, 'MaxFragments=2, "        \
	"  MaxWords=24, MinWords=8, StartSel=**, StopSel=**, FragmentDelimiter=\" ... \"') AS snippet " \
	"  FROM f LEFT JOIN call_summaries s ON s.call_id = f.call_id "                                 \
	"  LEFT JOIN call_chunks p ON p.call_id = f.call_id AND p.chunk_no = greatest(f.chunk_no, 0) "  \
	"  CROSS JOIN hq) "                                                                             \
	"SELECT coalesce(json_agg(json_build_object('call_id', r.call_id, 'user_id', r.user_id, "       \
	"  'call', CASE WHEN r.summarised THEN " QSQL_SUMMARY("r") " END, "                             \
	"  'score', round(r.score::numeric, 6), 'distance', r.d, 'text_rank', "                         \
	"  round(r.rank::numeric, 4), 'snippet', r.snippet) "                                           \
	"  ORDER BY r.score DESC, r.call_id), '[]'::json)::text, "                                      \
	"coalesce(json_agg(json_build_object('call_id', r.call_id, 'user_id', r.user_id, "              \
	"  'call_date', to_char(r.call_ended_at AT TIME ZONE 'UTC', "                                   \
	"  'YYYY-MM-DD\"T\"HH24:MI:SS'), 'summary', r.summary, 'key_topics', r.key_topics, "            \
	"  'key_variables', r.key_variables, 'sentiment', r.sentiment, 'resolution_status', "           \
	"  r.resolution_status, 'distance', r.d) ORDER BY r.score DESC, r.call_id) "                    \
	"  FILTER (WHERE r.summarised), '[]'::json)::text FROM r"
/* clang-format on */

/* Tenant-wide candidates, from search_postings (migration 010) in two stages: (1) per picked
 * lexeme its SEARCH_POSTINGS postings of the highest tf (all of them for a lexeme that rare,
 * a btree range read backwards, index only), summed into a partial BM25 per passage (the
 * summary, passage -1, at the average length); (2) the SEARCH_CANDIDATES best of those (4 per
 * result asked for if that is more), read with their tsvectors (primary keys) for the exact
 * BM25 of every query lexeme below. */
#define SEARCH_CAND_TENANT                                                                           \
	"post AS (SELECT p.call_id, p.chunk_no, sum(pick.idf * p.tf * 2.2 / (p.tf + 1.2 * (0.25 + "  \
	"  0.75 * CASE WHEN p.chunk_no < 0 THEN st.avgdl ELSE p.words END / st.avgdl))) AS s "       \
	"  FROM pick CROSS JOIN st CROSS JOIN LATERAL (SELECT p.call_id, p.chunk_no, p.tf, p.words " \
	"  FROM search_postings p WHERE p.lexeme = pick.lexeme ORDER BY p.tf DESC "                  \
	"  LIMIT " SEARCH_POSTINGS ") p GROUP BY 1, 2 ORDER BY s DESC, call_id, chunk_no "           \
	"  LIMIT greatest(" SEARCH_CANDIDATES ", $3::int * 4)), "                                    \
	"cand AS (SELECT t.call_id, t.chunk_no, coalesce(c.tsv, s.search_tsv) AS tsv, "              \
	"  coalesce(c.words, (SELECT avgdl FROM st)::int) AS words FROM post t "                     \
	"  LEFT JOIN call_chunks c ON t.chunk_no >= 0 AND c.call_id = t.call_id "                    \
	"  AND c.chunk_no = t.chunk_no LEFT JOIN call_summaries s ON t.chunk_no < 0 "                \
	"  AND s.call_id = t.call_id), "

/* Within one caller: that caller's passages and summaries holding a picked lexeme, at most
 * SEARCH_USER_CANDIDATES of each (the OFFSET 0 fence keeps the planner on the (customer_id,
 * user_id) index; a caller has few calls, so this reads them all). */
#define SEARCH_CAND_USER                                                                               \
	"ptq AS (SELECT websearch_to_tsquery('simple', string_agg(lexeme, ' or ')) AS tq "             \
	"  FROM pick), "                                                                               \
	"cand AS ((SELECT c.call_id, c.chunk_no, c.tsv, c.words FROM (SELECT * FROM call_chunks "      \
	"  WHERE user_id = $7::text OFFSET 0) c WHERE $4::text IN ('text', 'hybrid') "                 \
	"  AND c.tsv @@ (SELECT tq FROM ptq) LIMIT " SEARCH_USER_CANDIDATES                            \
	") UNION ALL (SELECT s.call_id, -1, s.search_tsv, "                                            \
	"  (SELECT avgdl FROM st)::int FROM (SELECT * FROM call_summaries WHERE user_id = $7::text "   \
	"  OFFSET 0) s WHERE $4::text IN ('text', 'hybrid') AND s.search_tsv @@ (SELECT tq FROM ptq) " \
	"  LIMIT " SEARCH_USER_CANDIDATES ")), "

/* The tenant-wide statements and those within a caller ($7 user_id). */
#define SEARCH_SEM_USER "(SELECT * FROM call_chunks WHERE user_id = $7::text OFFSET 0) c"
#define SEARCH_SQL_TENANT SEARCH_SQL(SEARCH_CAND_TENANT, "call_chunks")
#define SEARCH_SQL_USER SEARCH_SQL(SEARCH_CAND_USER, SEARCH_SEM_USER)
#define SEARCH_TEXT_LIST_TENANT SEARCH_TEXT_LIST(SEARCH_CAND_TENANT)
#define SEARCH_TEXT_LIST_USER SEARCH_TEXT_LIST(SEARCH_CAND_USER)
#define SEARCH_SEM_LIST_TENANT SEARCH_SEM_LIST("call_chunks")
#define SEARCH_SEM_LIST_USER SEARCH_SEM_LIST(SEARCH_SEM_USER)

#endif

/*
 * search: /v3/search and POST /v2/summaries/search over call summaries: pgvector cosine
 * distance on the built-in 384-dim embedding of the query (the same embedder the summarizer
 * uses for the rows) and PostgreSQL full text (websearch_to_tsquery('english', ...) against
 * search_tsv), fused by reciprocal rank (score = sum of 1 / (60 + rank) over the lists a row
 * appears in) inside the one statement.
 *
 * Tenant-wide searches use the HNSW index; the session's hnsw.iterative_scan (qdb.c) makes
 * the scan continue past rows that row-level security filters out, so a tenant holding a
 * small share of the table still gets its nearest rows. A search within one caller reads
 * that caller's rows exactly (the OFFSET 0 fence keeps the planner on the (customer_id,
 * user_id) index): few rows, and an index scan over the whole table could miss them.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "proc_embed.h"

/* $1 query text, $2 query vector, $3 limit, $4 mode, [$5 user_id]. SEM is the candidate
 * source of the semantic list, TXT_FILTER an extra condition of the text list. */
#define SEARCH_SQL(SEM, TXT_FILTER)                                                                    \
	"WITH sem AS (SELECT call_id, d, row_number() OVER (ORDER BY d, call_id) AS r FROM ("          \
	"  SELECT call_id, embedding <=> $2::vector AS d FROM " SEM                                    \
	"  WHERE $4::text <> 'text' AND embedding IS NOT NULL "                                        \
	"  ORDER BY embedding <=> $2::vector LIMIT $3::int * 2) x), "                                  \
	"txt AS (SELECT call_id, rank, row_number() OVER (ORDER BY rank DESC, call_id) AS r FROM ("    \
	"  SELECT call_id, ts_rank_cd(search_tsv, tq) AS rank "                                        \
	"  FROM call_summaries, websearch_to_tsquery('english', $1::text) tq "                         \
	"  WHERE $4::text <> 'semantic' AND search_tsv @@ tq " TXT_FILTER                              \
	"  ORDER BY rank DESC, call_id LIMIT $3::int * 2) y), "                                        \
	"f AS (SELECT coalesce(sem.call_id, txt.call_id) AS call_id, sem.d, txt.rank, "                \
	"  coalesce(1.0 / (60 + sem.r), 0) + coalesce(1.0 / (60 + txt.r), 0) AS score "                \
	"  FROM sem FULL JOIN txt ON sem.call_id = txt.call_id "                                       \
	"  ORDER BY score DESC, call_id LIMIT $3::int) "                                               \
	"SELECT coalesce(json_agg(json_build_object('call', " QSQL_SUMMARY(                            \
	    "s") ", "                                                                                  \
	         "  'score', round(f.score::numeric, 6), 'distance', f.d, 'text_rank', f.rank) "       \
	         "  ORDER BY f.score DESC, f.call_id), '[]'::json)::text, "                            \
	         "coalesce(json_agg(json_build_object('call_id', s.call_id, 'user_id', s.user_id, "    \
	         "  'call_date', to_char(s.call_ended_at AT TIME ZONE 'UTC', "                         \
	         "'YYYY-MM-DD\"T\"HH24:MI:SS'), 'summary', s.summary, 'key_topics', s.key_topics, "    \
	         "  'key_variables', s.key_variables, 'sentiment', s.sentiment, 'resolution_status', " \
	         "  s.resolution_status, 'distance', f.d) ORDER BY f.score DESC, f.call_id), "         \
	         "'[]'::json)::text "                                                                  \
	         "FROM f JOIN call_summaries s ON s.call_id = f.call_id"

static const struct qdb_stmt search_stmt_tenant = { QS_SEARCH_TENANT, "q_search_tenant",
	                                            SEARCH_SQL("call_summaries", ""), 4 };

static const struct qdb_stmt search_stmt_user = {
	QS_SEARCH_USER, "q_search_user",
	SEARCH_SQL("(SELECT call_id, embedding FROM call_summaries WHERE user_id = $5::text "
	           "OFFSET 0) c",
	           "AND user_id = $5::text"),
	5
};

bool query_search(struct http_exchange *ex, const struct query_api *api, long long tenant,
                  const char *q, const char *user_id, long long limit, const char *mode,
                  bool compat, struct buf *out)
{
	float v[PROC_EMBED_DIM];
	proc_embed_text(q, strlen(q), v);
	struct buf vec = BUF_INIT;
	proc_embedding_text(v, &vec);
	char ls[24];
	snprintf(ls, sizeof(ls), "%lld", limit);
	const char *params[] = { q, buf_str(&vec), ls, mode, user_id };
	PGresult *res =
	    api_query(ex, api, tenant, user_id ? &search_stmt_user : &search_stmt_tenant, params);
	buf_free(&vec);
	if (res == NULL)
		return false;
	int col = compat ? 1 : 0;
	buf_append(out, PQgetvalue(res, 0, col), (size_t)PQgetlength(res, 0, col));
	PQclear(res);
	return true;
}

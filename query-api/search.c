/*
 * search: /v3/search and POST /v2/summaries/search over the calls' passages (call_chunks,
 * written by aimem-embedder), in one statement and one round trip:
 *
 *   text      BM25 (k1 1.2, b 0.75) over the passages' full text: the query's lexemes
 *             (to_tsvector('english'): stop words dropped, stems) match with OR semantics;
 *             idf = ln(1 + (N - df + 0.5) / (df + 0.5)) from the tenant's statistics
 *             (search_terms, search_stats), tf from the passage's lexeme positions, length
 *             normalised by its words against the tenant's average. Candidates are the
 *             passages holding any of the query's SEARCH_TERMS rarest lexemes (the GIN index),
 *             at most SEARCH_CANDIDATES, so a query of common words stays bounded.
 *   semantic  cosine distance between the query's embedding (lib/embed, the same provider as
 *             the embedder) and the passages' vectors of the current model only (rows of
 *             another model id are ignored until a replay re-embeds them), through the HNSW
 *             index with iterative scans (qdb.c).
 *   hybrid    both lists fused by reciprocal rank: score = sum of 1 / (60 + rank).
 *
 * A call counts once, by its best passage; the answer carries the call's summary and that
 * passage as a snippet (ts_headline, matches between ** and **). A call whose summary is not
 * stored yet is not returned. A search within one caller reads that caller's passages exactly
 * (the OFFSET 0 fence keeps the planner on the (customer_id, user_id) index).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "embed.h"
#include "xalloc.h"

#define SEARCH_TERMS "12"
#define SEARCH_CANDIDATES "4000"

/* $1 query text, $2 query vector, $3 limit, $4 mode, $5 model id, [$6 user_id]. CH is the
 * passages' source, SEM its candidate source for the semantic list. */
#define SEARCH_SQL(CH, SEM)                                                                                  \
	"WITH q AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', $1::text))), "                 \
	"st AS (SELECT passages::float8 AS n, greatest(words::float8 / greatest(passages, 1), 1)"            \
	"  AS avgdl FROM search_stats), "                                                                    \
	"qt AS (SELECT q.lexeme, t.df, ln(1 + (st.n - t.df + 0.5) / (t.df + 0.5)) AS idf "                   \
	"  FROM q JOIN search_terms t USING (lexeme) CROSS JOIN st "                                         \
	"  WHERE t.df > 0 AND $4::text <> 'semantic'), "                                                     \
	"pick AS (SELECT websearch_to_tsquery('simple', string_agg(lexeme, ' or ')) AS tq FROM ("            \
	"  SELECT lexeme FROM qt ORDER BY df, lexeme LIMIT " SEARCH_TERMS ") x), "                           \
	"cand AS (SELECT c.call_id, c.chunk_no, c.tsv, c.words FROM " CH " c, pick "                         \
	"  WHERE c.tsv @@ pick.tq LIMIT " SEARCH_CANDIDATES "), "                                            \
	"bm AS (SELECT cand.call_id, cand.chunk_no, sum(qt.idf * x.tf * 2.2 / (x.tf + 1.2 * "                \
	"  (0.25 + 0.75 * cand.words / st.avgdl))) AS s FROM cand CROSS JOIN st "                            \
	"  CROSS JOIN LATERAL (SELECT u.lexeme, cardinality(u.positions)::float8 AS tf "                     \
	"  FROM unnest(cand.tsv) u) x JOIN qt ON qt.lexeme = x.lexeme GROUP BY 1, 2), "                      \
	"txt AS (SELECT call_id, chunk_no, s, row_number() OVER (ORDER BY s DESC, call_id) AS r "            \
	"  FROM (SELECT DISTINCT ON (call_id) call_id, chunk_no, s FROM bm "                                 \
	"  ORDER BY call_id, s DESC, chunk_no) y ORDER BY s DESC, call_id LIMIT $3::int * 2), "              \
	"sem0 AS (SELECT call_id, chunk_no, embedding <=> $2::vector AS d FROM " SEM                         \
	"  WHERE $4::text <> 'text' AND model = $5::text AND embedding IS NOT NULL "                         \
	"  ORDER BY embedding <=> $2::vector LIMIT $3::int * 4), "                                           \
	"sem AS (SELECT call_id, chunk_no, d, row_number() OVER (ORDER BY d, call_id) AS r "                 \
	"  FROM (SELECT DISTINCT ON (call_id) call_id, chunk_no, d FROM sem0 "                               \
	"  ORDER BY call_id, d, chunk_no) z ORDER BY d, call_id LIMIT $3::int * 2), "                        \
	"f AS (SELECT coalesce(sem.call_id, txt.call_id) AS call_id, sem.d, txt.s AS rank, "                 \
	"  coalesce(txt.chunk_no, sem.chunk_no) AS chunk_no, "                                               \
	"  coalesce(1.0 / (60 + sem.r), 0) + coalesce(1.0 / (60 + txt.r), 0) AS score "                      \
	"  FROM sem FULL JOIN txt ON sem.call_id = txt.call_id "                                             \
	"  ORDER BY score DESC, call_id LIMIT $3::int), "                                                    \
	"hq AS (SELECT websearch_to_tsquery('simple', coalesce(string_agg(lexeme, ' or '), '')) "            \
	"  AS tq FROM q), "                                                                                  \
	"r AS (SELECT f.d, f.rank, f.score, s.*, ts_headline('english', p.content, hq.tq, 'MaxFragments=2, " \
	"  MaxWords=24, MinWords=8, StartSel=**, StopSel=**, FragmentDelimiter=\" ... \"') AS snippet "      \
	"  FROM f JOIN call_summaries s ON s.call_id = f.call_id "                                           \
	"  JOIN call_chunks p ON p.call_id = f.call_id AND p.chunk_no = f.chunk_no CROSS JOIN hq) "          \
	"SELECT coalesce(json_agg(json_build_object('call', " QSQL_SUMMARY(                                  \
	    "r") ", "                                                                                        \
	         "  'score', round(r.score::numeric, 6), 'distance', r.d, 'text_rank', "                     \
	         "  round(r.rank::numeric, 4), 'snippet', r.snippet) "                                       \
	         "  ORDER BY r.score DESC, r.call_id), '[]'::json)::text, "                                  \
	         "coalesce(json_agg(json_build_object('call_id', r.call_id, 'user_id', r.user_id, "          \
	         "  'call_date', to_char(r.call_ended_at AT TIME ZONE 'UTC', "                               \
	         "'YYYY-MM-DD\"T\"HH24:MI:SS'), 'summary', r.summary, 'key_topics', r.key_topics, "          \
	         "  'key_variables', r.key_variables, 'sentiment', r.sentiment, 'resolution_status', "       \
	         "  r.resolution_status, 'distance', r.d) ORDER BY r.score DESC, r.call_id), "               \
	         "'[]'::json)::text FROM r"

static const struct qdb_stmt search_stmt_tenant = { QS_SEARCH_TENANT, "q_search_tenant",
	                                            SEARCH_SQL("call_chunks", "call_chunks"), 5 };

static const struct qdb_stmt search_stmt_user = {
	QS_SEARCH_USER, "q_search_user",
	SEARCH_SQL("(SELECT * FROM call_chunks WHERE user_id = $6::text OFFSET 0)",
	           "(SELECT * FROM call_chunks WHERE user_id = $6::text OFFSET 0) c"),
	6
};

/* The query's vector as pgvector text, from the configured embedder. false after 503. */
static bool search_vector(struct http_exchange *ex, const struct query_api *api, const char *q,
                          struct buf *out)
{
	unsigned dim = embed_dim(api->emb);
	float *v = xmallocarray(dim, sizeof(float));
	char err[256];
	size_t len = strlen(q);
	if (embed_texts(api->emb, &q, &len, 1, v, err, sizeof(err)) != 0) {
		free(v);
		http_reply_error(ex, 503, "embedder_unavailable",
		                 "the query could not be embedded; try again or use mode=text");
		return false;
	}
	buf_putc(out, '[');
	for (unsigned i = 0; i < dim; i++)
		buf_appendf(out, "%s%.6g", i ? "," : "", (double)v[i]);
	buf_putc(out, ']');
	free(v);
	return true;
}

bool query_search(struct http_exchange *ex, const struct query_api *api, long long tenant,
                  const char *q, const char *user_id, long long limit, const char *mode,
                  bool compat, struct buf *out)
{
	struct buf vec = BUF_INIT;
	if (strcmp(mode, "text") == 0) {
		/* no embedding needed: any vector of the right dimension; the list is empty */
		buf_append_str(&vec, "[1");
		for (unsigned i = 1; i < embed_dim(api->emb); i++)
			buf_append_str(&vec, ",0");
		buf_putc(&vec, ']');
	} else if (!search_vector(ex, api, q, &vec)) {
		buf_free(&vec);
		return false;
	}
	char ls[24];
	snprintf(ls, sizeof(ls), "%lld", limit);
	const char *params[] = { q, buf_str(&vec), ls, mode, embed_model_id(api->emb), user_id };
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

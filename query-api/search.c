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
 *             at most SEARCH_CANDIDATES, so a query of common words stays bounded. The
 *             call's summary (call_summaries.search_tsv, written once by the summarizer) is
 *             one more text passage of the call, of average length, without an embedding.
 *   semantic  cosine distance between the query's embedding (lib/embed, the same provider as
 *             the embedder) and the passages' vectors of the current model only (rows of
 *             another model id are ignored until a replay re-embeds them), through the HNSW
 *             index with iterative scans (qdb.c).
 *   hybrid    both lists fused by reciprocal rank: score = sum of 1 / (60 + rank).
 *
 * A call counts once, by its best passage; the answer carries call_id, user_id, the call's
 * summary ("call": null while the summarizer has not stored one: the call is still found by
 * what was said) and that passage as a snippet (ts_headline, matches between ** and **); the
 * compat answer keeps only calls with a summary. A search within one caller reads that
 * caller's passages and summaries exactly (the OFFSET 0 fence keeps the planner on the
 * (customer_id, user_id) index). The SQL is query-api/search_sql.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "embed.h"
#include "search_sql.h"
#include "xalloc.h"

static const struct qdb_stmt search_stmt_tenant = {
	.name = "q_search_tenant", .sql = SEARCH_SQL_TENANT, .nparams = 5, .generic_plan = true
};

static const struct qdb_stmt search_stmt_user = {
	.name = "q_search_user", .sql = SEARCH_SQL_USER, .nparams = 6, .generic_plan = true
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

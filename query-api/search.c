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
 *   hybrid    both lists fused by reciprocal rank: score = sum of 1 / (60 + rank). The text
 *             list is computed on a thread of its own (SEARCH_TEXT_LIST, its own round trip)
 *             while this thread embeds the query; then the whole statement runs as
 *             'semantic' with that list given ($6): the same answer as one statement, with
 *             the embedding (10-15 ms with MiniLM) off the critical path.
 *
 * A call counts once, by its best passage; the answer carries call_id, user_id, the call's
 * summary ("call": null while the summarizer has not stored one: the call is still found by
 * what was said) and that passage as a snippet (ts_headline, matches between ** and **); the
 * compat answer keeps only calls with a summary. A search within one caller reads that
 * caller's passages and summaries exactly (the OFFSET 0 fence keeps the planner on the
 * (customer_id, user_id) index). The SQL is query-api/search_sql.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "embed.h"
#include "search_sql.h"
#include "xalloc.h"

/* Every search statement takes the same 7 parameters (search_sql.h), declared text. */
#define SEARCH_PARAMS 7

static const struct qdb_stmt search_stmt_tenant = { .name = "q_search_tenant",
	                                            .sql = SEARCH_SQL_TENANT,
	                                            .nparams = SEARCH_PARAMS - 1,
	                                            .generic_plan = true,
	                                            .text_params = true };

static const struct qdb_stmt search_stmt_user = { .name = "q_search_user",
	                                          .sql = SEARCH_SQL_USER,
	                                          .nparams = SEARCH_PARAMS,
	                                          .generic_plan = true,
	                                          .text_params = true };

static const struct qdb_stmt search_text_tenant = { .name = "q_search_text_tenant",
	                                            .sql = SEARCH_TEXT_LIST_TENANT,
	                                            .nparams = SEARCH_PARAMS - 1,
	                                            .generic_plan = true,
	                                            .text_params = true };

static const struct qdb_stmt search_text_user = { .name = "q_search_text_user",
	                                          .sql = SEARCH_TEXT_LIST_USER,
	                                          .nparams = SEARCH_PARAMS,
	                                          .generic_plan = true,
	                                          .text_params = true };

/* Hybrid's text half, run on its own thread: the text list as JSON, or rc and err. */
struct search_text_half {
	const struct query_api *api;
	long long tenant;
	const struct qdb_stmt *st;
	const char *const *params;
	int rc;
	PGresult *res;
	char err[512];
};

static void *search_text_run(void *arg)
{
	struct search_text_half *h = arg;
	h->rc = qdb_query(h->api->db, h->tenant, h->st, h->params, &h->res, h->err, sizeof(h->err));
	return NULL;
}

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

/* Hybrid: the text list on a thread of its own while this one embeds the query, then the
 * statement as 'semantic' with that list ($6). false after replying. */
static bool search_hybrid(struct http_exchange *ex, const struct query_api *api, long long tenant,
                          const char **params, struct buf *vec, PGresult **res)
{
	struct search_text_half h = { .api = api,
		                      .tenant = tenant,
		                      .st = params[6] ? &search_text_user : &search_text_tenant,
		                      .params = params };
	pthread_t t;
	bool threaded = pthread_create(&t, NULL, search_text_run, &h) == 0;
	if (!threaded) /* no thread to be had: the same, one after the other */
		search_text_run(&h);
	bool embedded = search_vector(ex, api, params[0], vec);
	if (threaded)
		pthread_join(t, NULL);
	if (!embedded) {
		PQclear(h.res);
		return false;
	}
	if (h.rc != QDB_OK) {
		api_reply_db_error(ex, h.st, h.rc, h.err);
		return false;
	}
	params[1] = buf_str(vec);
	params[3] = "semantic";
	params[5] = PQgetvalue(h.res, 0, 0);
	*res =
	    api_query(ex, api, tenant, params[6] ? &search_stmt_user : &search_stmt_tenant, params);
	PQclear(h.res);
	return *res != NULL;
}

bool query_search(struct http_exchange *ex, const struct query_api *api, long long tenant,
                  const char *q, const char *user_id, long long limit, const char *mode,
                  bool compat, struct buf *out)
{
	char ls[24];
	snprintf(ls, sizeof(ls), "%lld", limit);
	const char *params[SEARCH_PARAMS] = { q,    NULL,   ls, mode, embed_model_id(api->emb),
		                              NULL, user_id };
	struct buf vec = BUF_INIT;
	PGresult *res = NULL;
	bool ok;
	if (strcmp(mode, "hybrid") == 0) {
		ok = search_hybrid(ex, api, tenant, params, &vec, &res);
	} else if (strcmp(mode, "text") == 0 || search_vector(ex, api, q, &vec)) {
		params[1] = strcmp(mode, "text") == 0 ? NULL : buf_str(&vec); /* text: no vector */
		res = api_query(ex, api, tenant, user_id ? &search_stmt_user : &search_stmt_tenant,
		                params);
		ok = res != NULL;
	} else {
		ok = false;
	}
	buf_free(&vec);
	if (!ok)
		return false;
	int col = compat ? 1 : 0;
	buf_append(out, PQgetvalue(res, 0, col), (size_t)PQgetlength(res, 0, col));
	PQclear(res);
	return true;
}

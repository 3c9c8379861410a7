/*
 * search: /v3/search and POST /v2/summaries/search over the calls' passages (call_chunks,
 * written by aimem-embedder), text and semantic in one statement and one round trip, hybrid
 * in three (below):
 *
 *   text      BM25 (k1 1.2, b 0.75) over the passages' full text: the query's lexemes
 *             (to_tsvector('english'): stop words dropped, stems) match with OR semantics;
 *             idf = ln(1 + (N - df + 0.5) / (df + 0.5)) from the tenant's statistics
 *             (search_terms, search_stats), tf from the passage's lexeme positions, length
 *             normalised by its words against the tenant's average. Candidates come from
 *             the query's SEARCH_TERMS rarest lexemes in search_postings (our inverted index),
 *             at most SEARCH_CANDIDATES, so a query of common words stays bounded. The
 *             call's summary (call_summaries.search_tsv, written once by the summarizer) is
 *             one more text passage of the call, of average length, without an embedding.
 *   semantic  cosine distance between the query's embedding (lib/embed, the same provider as
 *             the embedder) and the passages' vectors of the current model only (rows of
 *             another model id are ignored until a replay re-embeds them), through the HNSW
 *             index with iterative scans (qdb.c).
 *   hybrid    both lists fused by reciprocal rank: score = sum of 1 / (60 + rank). The text
 *             list is computed on a thread of its own (SEARCH_TEXT_LIST) while this thread
 *             embeds the query and computes the semantic list (SEARCH_SEM_LIST), each on its
 *             own connection; then the statement runs with both lists given (mode 'lists'),
 *             fusing them and building the answer: the same answer as the one statement
 *             (tested), with the embedding and one list off the critical path.
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

/* Every search statement takes the same 8 parameters (search_sql.h), declared text. */
#define SEARCH_PARAMS 8
#define SEARCH_STMT(n, text)                                                                       \
	{                                                                                          \
		.name = n, .sql = text, .nparams = SEARCH_PARAMS, .generic_plan = true,            \
		.text_params = true                                                                \
	}

static const struct qdb_stmt search_stmt_tenant = SEARCH_STMT("q_search_tenant", SEARCH_SQL_TENANT);
static const struct qdb_stmt search_stmt_user = SEARCH_STMT("q_search_user", SEARCH_SQL_USER);
static const struct qdb_stmt search_text_tenant =
    SEARCH_STMT("q_search_text_tenant", SEARCH_TEXT_LIST_TENANT);
static const struct qdb_stmt search_text_user =
    SEARCH_STMT("q_search_text_user", SEARCH_TEXT_LIST_USER);
static const struct qdb_stmt search_sem_tenant =
    SEARCH_STMT("q_search_sem_tenant", SEARCH_SEM_LIST_TENANT);
static const struct qdb_stmt search_sem_user =
    SEARCH_STMT("q_search_sem_user", SEARCH_SEM_LIST_USER);

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

/* One of hybrid's lists: the statement's JSON in res, or rc and err. Its own copy of the
 * parameters: the two lists run on two threads. */
struct search_list {
	const struct query_api *api;
	long long tenant;
	const struct qdb_stmt *st;
	const char *params[SEARCH_PARAMS];
	int rc;
	PGresult *res;
	char err[512];
};

static void *search_list_run(void *arg)
{
	struct search_list *l = arg;
	l->rc = qdb_query(l->api->db, l->tenant, l->st, l->params, &l->res, l->err, sizeof(l->err));
	return NULL;
}

/*
 * Hybrid: the text list on a thread of its own while this one embeds the query and then runs
 * the semantic list (each on its own connection, at the same time), then the statement with
 * both lists given ($6, $8; mode 'lists'), which fuses them and builds the answer. false
 * after replying.
 */
static bool search_hybrid(struct http_exchange *ex, const struct query_api *api, long long tenant,
                          const char **params, struct buf *vec, PGresult **res)
{
	bool user = params[6] != NULL;
	struct search_list text = { .api = api,
		                    .tenant = tenant,
		                    .st = user ? &search_text_user : &search_text_tenant },
	                   sem = { .api = api,
		                   .tenant = tenant,
		                   .st = user ? &search_sem_user : &search_sem_tenant };
	memcpy(text.params, params, sizeof(text.params));
	memcpy(sem.params, params, sizeof(sem.params));
	pthread_t t;
	bool threaded = pthread_create(&t, NULL, search_list_run, &text) == 0;
	if (!threaded) /* no thread to be had: the same, one after the other */
		search_list_run(&text);
	bool embedded = search_vector(ex, api, params[0], vec);
	if (embedded) {
		sem.params[1] = buf_str(vec);
		search_list_run(&sem);
	}
	if (threaded)
		pthread_join(t, NULL);
	bool ok = false;
	if (!embedded) {
		/* replied 503 */
	} else if (text.rc != QDB_OK) {
		api_reply_db_error(ex, text.st, text.rc, text.err);
	} else if (sem.rc != QDB_OK) {
		api_reply_db_error(ex, sem.st, sem.rc, sem.err);
	} else {
		params[1] = NULL;
		params[3] = "lists";
		params[5] = PQgetvalue(text.res, 0, 0);
		params[7] = PQgetvalue(sem.res, 0, 0);
		*res = api_query(ex, api, tenant, user ? &search_stmt_user : &search_stmt_tenant,
		                 params);
		ok = *res != NULL;
	}
	PQclear(text.res);
	PQclear(sem.res);
	return ok;
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

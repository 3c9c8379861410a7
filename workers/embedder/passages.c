/*
 * passages: aimem-embedder's prepare/apply callbacks (see passages.h).
 */
#include "passages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "num.h"
#include "proc_embed.h"
#include "xalloc.h"

struct passages {
	struct embedder *emb;
	const struct chunk_limits *lim;
	struct metrics_counter *written, *truncated, *failed;
};

/* A job's prep: its passages and their vectors (n * dim floats). */
struct passages_prep {
	struct chunk *c;
	size_t n;
	float *vec;
};

struct passages *passages_new(struct embedder *emb, const struct chunk_limits *lim,
                              struct metrics *m)
{
	struct passages *p = xcalloc(1, sizeof(*p));
	p->emb = emb;
	p->lim = lim;
	p->written =
	    metrics_counter(m, "aimem_embedder_passages_total", "Passages cut and embedded", "");
	p->truncated = metrics_counter(m, "aimem_embedder_calls_truncated_total",
	                               "Calls longer than chunk.max_per_call passages (the rest is "
	                               "not indexed)",
	                               "");
	p->failed = metrics_counter(m, "aimem_embedder_embed_failures_total",
	                            "Batches the embedder could not embed (retried)", "");
	return p;
}

void passages_free(struct passages **p)
{
	free(*p);
	*p = NULL;
}

void passages_release(void *ctx, void *prep)
{
	(void)ctx;
	struct passages_prep *pp = prep;
	chunk_free(&pp->c, pp->n);
	free(pp->vec);
	free(pp);
}

/* Cuts every job not cut yet; returns the number of passages of the batch. */
static size_t passages_cut(struct passages *p, struct worker_job *const *jobs, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct passages_prep *pp = jobs[i]->prep;
		if (pp == NULL) {
			bool cut;
			pp = xcalloc(1, sizeof(*pp));
			pp->n = chunk_call(&jobs[i]->ev->call, p->lim, &pp->c, &cut);
			if (cut) {
				metrics_counter_add(p->truncated, 1);
				log_warn(
				    "call longer than chunk.max_per_call: the rest is not indexed "
				    "partition=%d offset=%lld passages=%zu",
				    (int)jobs[i]->rkm->partition, (long long)jobs[i]->rkm->offset,
				    pp->n);
			}
			jobs[i]->prep = pp;
		}
		total += pp->n;
	}
	return total;
}

int passages_prepare(void *ctx, struct worker_job *const *jobs, size_t n)
{
	struct passages *p = ctx;
	size_t total = passages_cut(p, jobs, n), k = 0;
	if (total == 0)
		return WORKER_PREPARED;
	unsigned dim = embed_dim(p->emb);
	const char **texts = xmallocarray(total, sizeof(*texts));
	size_t *lens = xmallocarray(total, sizeof(*lens));
	for (size_t i = 0; i < n; i++) {
		struct passages_prep *pp = jobs[i]->prep;
		for (size_t j = 0; j < pp->n; j++, k++) {
			texts[k] = pp->c[j].text;
			lens[k] = pp->c[j].len;
		}
	}
	float *vec = xmallocarray(total, dim * sizeof(float));
	char err[256];
	int rc = embed_texts(p->emb, texts, lens, total, vec, err, sizeof(err));
	free(texts);
	free(lens);
	if (rc != 0) {
		metrics_counter_add(p->failed, 1);
		log_warn("embedding failed, the batch waits and retries passages=%zu error=\"%s\"",
		         total, err);
		free(vec);
		return WORKER_RETRY;
	}
	k = 0;
	for (size_t i = 0; i < n; i++) {
		struct passages_prep *pp = jobs[i]->prep;
		free(pp->vec);
		pp->vec = xmallocarray(pp->n ? pp->n : 1, dim * sizeof(float));
		memcpy(pp->vec, vec + k * dim, pp->n * dim * sizeof(float));
		k += pp->n;
	}
	free(vec);
	metrics_counter_add(p->written, (long long)total);
	return WORKER_PREPARED;
}

/*
 * One statement writes all of a tenant's calls in the batch ($2: a JSON array of passages; each
 * call also has a marker row, chunk_no -1, so a call that now has no passage loses its old ones).
 * The latest event of a call in the batch wins; an event earlier in the partition than the one
 * that wrote the stored passages leaves them alone (a replay with --to, or one racing the live
 * group). Passages that say the same as the stored ones are not rewritten (a replay or a
 * duplicate writes nothing, and the HNSW index is not touched). The term statistics change by
 * the lexemes of the rows that came minus those of the rows that left, in lexeme order.
 */
static const char passages_upsert_sql[] =
    "WITH r AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(ord int, call_id text,"
    " user_id text, chunk_no int, content text, words int, embedding text, model text,"
    " ended_at timestamptz, event_id uuid, source_topic text, source_partition int,"
    " source_offset bigint)),"
    " latest AS (SELECT DISTINCT ON (call_id) call_id, ord, source_topic, source_partition,"
    " source_offset FROM r ORDER BY call_id, ord DESC),"
    " cur AS (SELECT c.call_id, c.chunk_no, c.tsv, c.words, c.source_topic, c.source_partition,"
    " c.source_offset FROM call_chunks c JOIN latest l USING (call_id)"
    " WHERE c.customer_id = $1::int FOR UPDATE OF c),"
    " keep AS (SELECT l.call_id FROM latest l WHERE NOT EXISTS (SELECT 1 FROM cur"
    " WHERE cur.call_id = l.call_id AND cur.source_topic = l.source_topic"
    " AND cur.source_partition = l.source_partition AND cur.source_offset > l.source_offset)),"
    " src AS (SELECT r.* FROM r JOIN latest l ON l.call_id = r.call_id AND l.ord = r.ord"
    " JOIN keep k ON k.call_id = r.call_id WHERE r.chunk_no >= 0),"
    " gone AS (DELETE FROM call_chunks c USING cur, keep WHERE c.customer_id = $1::int"
    " AND c.call_id = cur.call_id AND c.chunk_no = cur.chunk_no AND keep.call_id = cur.call_id"
    " AND NOT EXISTS (SELECT 1 FROM src WHERE src.call_id = cur.call_id"
    " AND src.chunk_no = cur.chunk_no) RETURNING c.tsv, c.words),"
    " up AS (INSERT INTO call_chunks (customer_id, call_id, chunk_no, user_id, call_ended_at,"
    " content, words, tsv, model, embedding, event_id, source_topic, source_partition,"
    " source_offset) SELECT $1::int, call_id, chunk_no, user_id, ended_at, content, words,"
    " to_tsvector('english', content), model, embedding::vector, event_id, source_topic,"
    " source_partition, source_offset FROM src"
    " ON CONFLICT (customer_id, call_id, chunk_no) DO UPDATE SET user_id = excluded.user_id,"
    " call_ended_at = excluded.call_ended_at, content = excluded.content,"
    " words = excluded.words, tsv = excluded.tsv, model = excluded.model,"
    " embedding = excluded.embedding, event_id = excluded.event_id,"
    " source_topic = excluded.source_topic, source_partition = excluded.source_partition,"
    " source_offset = excluded.source_offset, updated_at = now()"
    " WHERE (call_chunks.user_id, call_chunks.call_ended_at, call_chunks.content,"
    " call_chunks.model, call_chunks.event_id) IS DISTINCT FROM (excluded.user_id,"
    " excluded.call_ended_at, excluded.content, excluded.model, excluded.event_id)"
    " RETURNING call_id, chunk_no, tsv, words),"
    " old AS (SELECT cur.tsv, cur.words FROM up JOIN cur USING (call_id, chunk_no)),"
    " delta AS (SELECT lexeme, sum(d) AS d FROM ("
    " SELECT unnest(tsvector_to_array(tsv)) AS lexeme, 1 AS d FROM up"
    " UNION ALL SELECT unnest(tsvector_to_array(tsv)), -1 FROM old"
    " UNION ALL SELECT unnest(tsvector_to_array(tsv)), -1 FROM gone) x"
    " GROUP BY lexeme HAVING sum(d) <> 0),"
    " terms AS (INSERT INTO search_terms AS t (customer_id, lexeme, df)"
    " SELECT $1::int, lexeme, d FROM delta ORDER BY lexeme"
    " ON CONFLICT (customer_id, lexeme) DO UPDATE SET df = t.df + excluded.df RETURNING 1),"
    " stats AS (INSERT INTO search_stats AS s (customer_id, passages, words)"
    " SELECT $1::int, sum(n), sum(w) FROM (SELECT 1 AS n, words AS w FROM up"
    " UNION ALL SELECT -1, -words FROM old UNION ALL SELECT -1, -words FROM gone) x"
    " HAVING count(*) > 0 ON CONFLICT (customer_id) DO UPDATE SET"
    " passages = s.passages + excluded.passages, words = s.words + excluded.words RETURNING 1)"
    " SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM gone),"
    " (SELECT count(*) FROM terms), (SELECT count(*) FROM stats)";

static struct db_stmt passages_upsert = { .name = "aimem_passages_upsert",
	                                  .sql = passages_upsert_sql,
	                                  .nparams = 2 };

/* The common fields of a job's rows. */
static json_t *passages_row(const struct worker_job *job, size_t ord, int chunk_no,
                            const char *model)
{
	char ended[64];
	worker_job_ended_at(job, ended, sizeof(ended));
	json_t *row = json_object();
	json_object_set_new(row, "ord", json_integer((json_int_t)ord));
	json_object_set_new(row, "call_id", json_string(job->ev->call.call_id));
	json_object_set_new(row, "user_id", json_string(job->ev->call.user_id));
	json_object_set_new(row, "chunk_no", json_integer(chunk_no));
	json_object_set_new(row, "model", json_string(model));
	json_object_set_new(row, "ended_at", json_string(ended));
	json_object_set_new(row, "event_id", json_string(job->ev->event_id));
	json_object_set_new(row, "source_topic", json_string(rd_kafka_topic_name(job->rkm->rkt)));
	json_object_set_new(row, "source_partition", json_integer(job->rkm->partition));
	json_object_set_new(row, "source_offset", json_integer(job->rkm->offset));
	return row;
}

/* The vector as pgvector text ("[0.1,...]", 6 decimals). */
static json_t *passages_vector(const float *v, unsigned dim)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, '[');
	for (unsigned i = 0; i < dim; i++)
		buf_appendf(&b, "%s%.6g", i ? "," : "", (double)v[i]);
	buf_putc(&b, ']');
	json_t *j = json_stringn(b.data, b.len);
	buf_free(&b);
	return j;
}

const char *const passages_tables[] = { "call_chunks", NULL };

int passages_apply_batch(void *ctx, PGconn *conn, struct worker_job *const *jobs, size_t n,
                         char *err, size_t errlen)
{
	struct passages *p = ctx;
	const char *model = embed_model_id(p->emb);
	unsigned dim = embed_dim(p->emb);
	json_t *rows = json_array();
	struct buf vec = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		const struct passages_prep *pp = jobs[i]->prep;
		json_array_append_new(rows, passages_row(jobs[i], i, -1, model));
		for (size_t j = 0; j < pp->n; j++) {
			json_t *row = passages_row(jobs[i], i, (int)j, model);
			json_object_set_new(row, "content",
			                    json_stringn(pp->c[j].text, pp->c[j].len));
			json_object_set_new(row, "words", json_integer(pp->c[j].words));
			if (dim == PROC_EMBED_DIM) {
				buf_reset(&vec);
				proc_embedding_text(pp->vec + j * dim, &vec);
				json_object_set_new(row, "embedding",
				                    json_stringn(vec.data, vec.len));
			} else {
				json_object_set_new(row, "embedding",
				                    passages_vector(pp->vec + j * dim, dim));
			}
			json_array_append_new(rows, row);
		}
	}
	buf_free(&vec);
	char t[24];
	snprintf(t, sizeof(t), "%lld", jobs[0]->ev->customer_id);
	char *text = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	const char *params[] = { t, text };
	int rc = db_exec_stmt(conn, &passages_upsert, params, NULL, err, errlen);
	free(text);
	return rc;
}

int passages_column_dim(PGconn *conn, unsigned *dim, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc =
	    db_exec(conn,
	            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'call_chunks'::regclass"
	            " AND attname = 'embedding' AND NOT attisdropped",
	            0, NULL, &res, err, errlen);
	if (rc != DB_OK)
		return -1;
	long long d = 0;
	if (PQntuples(res) != 1 || num_parse_int(PQgetvalue(res, 0, 0), 1, 16000, &d) != NUM_OK) {
		snprintf(err, errlen, "call_chunks.embedding not found (run aimem migrate)");
		PQclear(res);
		return -1;
	}
	PQclear(res);
	*dim = (unsigned)d;
	return 0;
}

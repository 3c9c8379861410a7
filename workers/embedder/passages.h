/*
 * passages: aimem-embedder's prepare/apply callbacks for lib/worker. prepare cuts each call into
 * passages (calls/chunk) and embeds all of the batch's passages in one embed_texts call, before
 * the transaction; apply_batch writes a tenant's calls in one statement: their passages replace
 * the stored ones (a call that now has fewer loses the rest), rows that say the same are left
 * alone, and the tenant's BM25 statistics (search_terms, search_stats) change by exactly what
 * left and what came.
 *
 * Not here: settings, the consumer loop (lib/worker), the providers (lib/embed).
 */
#ifndef AIMEM_PASSAGES_H
#define AIMEM_PASSAGES_H

#include <stddef.h>

#include "chunk.h"
#include "embed.h"
#include "metrics.h"
#include "worker.h"

struct passages;

/* emb and lim are borrowed and must outlive the result. */
struct passages *passages_new(struct embedder *emb, const struct chunk_limits *lim,
                              struct metrics *m);
void passages_free(struct passages **p);

/* lib/worker's callbacks (worker.h); ctx is the struct passages. prepare returns WORKER_RETRY
 * while the embedder fails (an outage never advances the partition). */
int passages_prepare(void *ctx, struct worker_job *const *jobs, size_t n);
void passages_release(void *ctx, void *prep);
/* The tables passages_apply_batch writes (worker_ops.tables). */
extern const char *const passages_tables[];
int passages_apply_batch(void *ctx, PGconn *conn, struct worker_job *const *jobs, size_t n,
                         char *err, size_t errlen);

/* The dimension of call_chunks.embedding in the connected database: 0 and *dim, or -1 with err. */
int passages_column_dim(PGconn *conn, unsigned *dim, char *err, size_t errlen);

#endif

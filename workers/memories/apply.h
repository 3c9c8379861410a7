/*
 * apply: how aimem-memories stores memory.put / memory.delete events (see apply.c).
 */
#ifndef AIMEM_MEMORIES_APPLY_H
#define AIMEM_MEMORIES_APPLY_H

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>

#include "db.h"
#include "event.h"
#include "worker.h"

/* A worker_apply_fn: upsert (latest wins) or delete; DB_* status. */
/* The tables memories_apply writes (worker_ops.tables). */
extern const char *const memories_tables[];
int memories_apply(void *ctx, PGconn *conn, const struct worker_job *job, char *err, size_t errlen);

#endif

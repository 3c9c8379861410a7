/*
 * apply: memory.put and memory.delete events → the memories table (aimem-memories).
 *
 * A put is an upsert on the slot (tenant, scope, caller, type, key): latest wins, decided by
 * the event's occurred_at, so a replay of an older put never overwrites a newer value and
 * the row takes the put's memory_id (the id the gateway answered with). TTL gives
 * expires_at. A delete removes the row with that memory_id. Runs inside the worker's batch
 * transaction with the event's tenant set (RLS applies).
 */
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const char apply_put_sql[] =
    "INSERT INTO memories (customer_id, memory_id, user_id, scope, mtype, key, value, source,"
    " ttl_days, expires_at, event_id, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::int,"
    " $10::timestamptz + make_interval(days => $9::int), $11, $10, $10)"
    " ON CONFLICT (customer_id, scope, coalesce(user_id, ''), mtype, key) DO UPDATE SET"
    " memory_id = excluded.memory_id, value = excluded.value, source = excluded.source,"
    " ttl_days = excluded.ttl_days, expires_at = excluded.expires_at,"
    " event_id = excluded.event_id, updated_at = excluded.updated_at"
    " WHERE memories.updated_at <= excluded.updated_at";

static const char apply_delete_sql[] =
    "DELETE FROM memories WHERE customer_id = $1 AND memory_id = $2";

const char *const memories_tables[] = { "memories", NULL };

int memories_apply(void *ctx, PGconn *conn, const struct worker_job *job, char *err, size_t errlen)
{
	(void)ctx;
	const struct event *ev = job->ev;
	char tenant[24], ttl[24];
	snprintf(tenant, sizeof(tenant), "%lld", ev->customer_id);
	if (ev->type == EVENT_MEMORY_DELETE) {
		const char *params[] = { tenant, ev->mem.memory_id };
		return db_exec(conn, apply_delete_sql, 2, params, NULL, err, errlen);
	}
	const struct event_memory *m = &ev->mem;
	/* the value is a slice of the validated event text: valid JSON, passed as text */
	char *value = xstrndup(m->value.ptr, m->value.len);
	snprintf(ttl, sizeof(ttl), "%lld", m->ttl_days);
	const char *params[] = { tenant,          m->memory_id, m->user_id,
		                 m->scope,        m->mtype,     m->key,
		                 value,           m->source,    m->ttl_days > 0 ? ttl : NULL,
		                 ev->occurred_at, ev->event_id };
	int rc = db_exec(conn, apply_put_sql, 11, params, NULL, err, errlen);
	free(value);
	return rc;
}

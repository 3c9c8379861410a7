/*
 * recount: the call workers' write of one tenant group (aimem-summarizer's summaries and
 * profiles, aimem-personality's metrics and averages): one upsert of the batch's rows, then,
 * for the callers it touched, their per-caller locks, one recount of what is derived per caller
 * (never incremented, so a replay or a duplicate changes nothing) and what follows from that
 * (the stored context, calls/context.h), all in the batch's transaction. It owns the per-caller
 * lock statement, one for every namespace.
 *
 * Not here: the upsert and recount statements (each worker's, beside the function that builds
 * its rows) and the transaction (lib/worker).
 */
#ifndef AIMEM_RECOUNT_H
#define AIMEM_RECOUNT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "db.h"

/*
 * Takes a transaction lock per caller of tenant's users (a JSON array text of user ids,
 * borrowed), in user order, in the namespace lock_ns, as a statement of its own: run it before
 * a per-caller recount (profiles, averages, the stored context), so the recount's snapshot
 * starts after any other writer of the same callers (a replay beside the live group) has
 * committed; without it the later writer would write a stale recount over the other's.
 *
 * lock_ns (borrowed, a constant of the caller) names what the recount under the lock writes:
 * "profile" (caller_profiles and caller_facts), "averages" (personality_averages), "context"
 * (caller_context). Writers of the same rows use the same namespace; other rows another, so the
 * summarizer and aimem-personality do not wait for each other on a caller except for the
 * context. The lock key is hashtextextended('<lock_ns>:' || tenant || ':' || user_id, 0): a
 * namespace, once running, keeps its name, or processes of two builds beside each other (a
 * rolling upgrade) would not exclude each other. It is passed as a parameter, never spliced
 * into the SQL.
 *
 * Returns a DB_* status with err. Blocks; the statement is prepared per connection, so one
 * thread per connection (the thread that runs the connection's transactions).
 */
int recount_lock_callers(PGconn *conn, long long tenant, const char *users, const char *lock_ns,
                         char *err, size_t errlen) __attribute__((warn_unused_result));

/* What runs after a recount, in the same transaction, for the same callers (users: a JSON
 * array text, borrowed): e.g. rewriting what is derived from the recounted rows. DB_* status. */
typedef int (*recount_then_fn)(PGconn *conn, long long tenant, const char *users, char *err,
                               size_t errlen);

/*
 * One tenant group's write: upsert ($1 tenant, $2 rows, a JSON array) whose result's first
 * column names the callers to recount; then, for those callers ($1 tenant, $2 a JSON array of
 * user ids), their locks in lock_ns (recount_lock_callers), the recount and then (unless NULL).
 * Takes rows; lock_ns borrowed. Returns a DB_* status with err. Blocks; the statements are
 * prepared per connection, so one thread per connection.
 */
int recount_upsert(PGconn *conn, long long tenant, json_t *rows, struct db_stmt *upsert,
                   const char *lock_ns, struct db_stmt *recount, recount_then_fn then, char *err,
                   size_t errlen) __attribute__((warn_unused_result));

#endif

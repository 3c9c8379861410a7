/*
 * recount: the call workers' write of one tenant group (aimem-summarizer's summaries and
 * profiles, aimem-personality's metrics and averages): one upsert of the batch's rows, then,
 * for the callers it touched, their per-caller locks, one recount of what is derived per caller
 * (never incremented, so a replay or a duplicate changes nothing) and what follows from that
 * (the stored context, calls/context.h), all in the batch's transaction.
 *
 * Not here: the statements themselves (each worker's, beside the function that builds its rows)
 * and the transaction (lib/worker).
 */
#ifndef AIMEM_RECOUNT_H
#define AIMEM_RECOUNT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "db.h"

/*
 * SQL taking a transaction lock per caller in the namespace ns, in user order, over $1 (the
 * tenant as text) and $2 (a JSON array of user ids): run it as its own statement before a
 * per-caller recount (profiles, averages, the stored context), so the recount's snapshot starts
 * after any other writer of the same callers (a replay beside the live group) has committed.
 */
#define RECOUNT_CALLER_LOCKS_SQL(ns)                                                               \
	"SELECT count(pg_advisory_xact_lock(hashtextextended('" ns ":' || $1::text || ':' ||"      \
	" u.user_id, 0))) FROM (SELECT DISTINCT jsonb_array_elements_text($2::jsonb) AS user_id"   \
	" ORDER BY 1) u"

/* What runs after a recount, in the same transaction, for the same callers (users: a JSON
 * array text, borrowed): e.g. rewriting what is derived from the recounted rows. DB_* status. */
typedef int (*recount_then_fn)(PGconn *conn, long long tenant, const char *users, char *err,
                               size_t errlen);

/*
 * One tenant group's write: upsert ($1 tenant, $2 rows, a JSON array) whose result's first
 * column names the callers to recount; then, for those callers ($1 tenant, $2 a JSON array of
 * user ids), their locks (see RECOUNT_CALLER_LOCKS_SQL), the recount and then (unless NULL).
 * Takes rows. Returns a DB_* status with err. Blocks; the statements are prepared per
 * connection, so one thread per connection.
 */
int recount_upsert(PGconn *conn, long long tenant, json_t *rows, struct db_stmt *upsert,
                   struct db_stmt *locks, struct db_stmt *recount, recount_then_fn then, char *err,
                   size_t errlen) __attribute__((warn_unused_result));

#endif

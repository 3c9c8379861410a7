/*
 * context: the stored caller context (migration 009, caller_context). The workers rewrite a
 * caller's row in the transaction that changed what it is derived from, so aimem-query serves
 * the live-call context (native JSON and compat text) in one primary-key lookup instead of
 * deriving it on every read.
 *
 * A rewrite derives the whole document from the tables inside the transaction
 * (calls/context_sql.h, the same objects the old per-read derivation built), renders the compat
 * text from it (context_text.h), and stores both cut into pieces so the newest N summaries
 * (N <= CONTEXT_SUMMARIES_MAX) are a slice, plus an ETag and the newest event time of the
 * caller's summaries (event_at: how new the row is, for read-your-writes reads, migration 012).
 * Nothing is incremental: a replay, a duplicate or an out-of-order event derives the same row
 * (written only when its ETag or event time changed), so the row is exactly-once like the rows
 * it comes from.
 *
 * Concurrency: aimem-summarizer and aimem-personality both rewrite a caller's row, in their own
 * transactions. Each first takes a per-caller transaction lock ("context" namespace, in user
 * order, as its own statement), then derives in a statement that starts after it: the second
 * writer waits for the first to commit and derives from what it committed, so neither
 * overwrites the other's part with an older snapshot. Tenants are applied in ascending order
 * and users in sorted order by every worker, so the locks cannot deadlock.
 *
 * Not here: the read (query-api/native.c, compat.c), the erasure (cli/erase.c deletes the row).
 */
#ifndef AIMEM_CONTEXT_H
#define AIMEM_CONTEXT_H

#include <libpq-fe.h>
#include <stddef.h>

/* The newest summaries a stored context holds: the largest summaries= (native) the context
 * route accepts, and what num_summaries (compat) is capped to. A context is for a live call's
 * prompt; older calls are a page of /v3/callers/{id}/summaries away. */
#define CONTEXT_SUMMARIES_MAX 10
#define CONTEXT_SUMMARIES_MAX_TEXT "10"

/*
 * Rewrites the stored contexts of tenant's callers users (a JSON array text of user ids;
 * borrowed) inside the open transaction, the tenant set: their locks, one derivation statement
 * for all of them, one write (a row whose ETag is unchanged is left alone; a caller with
 * nothing left loses its row). Returns a DB_* status with err on failure. Blocks; one thread
 * per connection (its statements are prepared per connection).
 */
int context_refresh(PGconn *conn, long long tenant, const char *users, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Rewrites the stored context of every caller of tenant that has a profile, averages, facts or
 * summaries, and deletes stored rows of callers that have none (aimem context rebuild: after
 * migration 009, an import or a restore). Runs in transactions of its own on conn (the tenant
 * set in each), callers in chunks of 500; *callers gets the number looked at. DB_* status.
 */
int context_rebuild(PGconn *conn, long long tenant, long long *callers, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

/*
 * qdb: aimem-query's PostgreSQL connections: a small fixed pool (one connection per HTTP
 * thread by default) and the one-round-trip read.
 *
 * Every read is one transaction sent as a single pipeline: BEGIN READ ONLY; the tenant with
 * set_config('app.current_tenant', $1, true); [Parse of the statement the first time this
 * connection runs it]; the statement (prepared, binary plan reuse); COMMIT; Sync. One network
 * round trip, and the tenant can never outlive the transaction.
 *
 * Checkout checks that the connection is healthy and idle (not in a transaction, not in
 * pipeline mode, nothing pending) and replaces it otherwise. A lost connection is reconnected
 * on the next checkout (at most one attempt per slot every reconnect interval, so a down
 * database costs a request a refused TCP connect, not a wait); a read that fails because the
 * connection was lost is retried once on a fresh connection (reads are idempotent).
 * Sessions get a bounded statement_timeout and pgvector's iterative HNSW scans
 * (hnsw.iterative_scan = strict_order), so a tenant holding a small share of the table still
 * gets its nearest rows.
 *
 * Not here: HTTP, JSON, which statement a route runs. Thread-safe: any thread may call
 * qdb_query; it blocks for the round trip (bounded by the statement timeout) and, when every
 * connection is busy, up to wait_ms for one.
 */
#ifndef AIMEM_QUERY_QDB_H
#define AIMEM_QUERY_QDB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"

#define QDB_MAX_STMTS 64 /* statements a program runs, at most */

/* A statement the program runs, declared beside the route that runs it: name is the prepared
 * statement's name, unique per program; sql uses $1.. parameters (text format). Static storage:
 * a connection remembers which statements it has prepared by their address. */
struct qdb_stmt {
	const char *name;
	const char *sql;
	int nparams;
	/* run with plan_cache_mode = force_generic_plan (set in its transaction): a large
	 * statement whose planning costs more than its execution, written so that one plan serves
	 * every parameter (search_sql.h) */
	bool generic_plan;
	/* every parameter declared text (at most QDB_TEXT_PARAMS_MAX), so the statement may leave
	 * some unused and casts the others itself ($2::vector); otherwise PostgreSQL infers each
	 * parameter's type from its use */
	bool text_params;
};
#define QDB_TEXT_PARAMS_MAX 16

struct qdb_config {
	const char *url; /* libpq conninfo, as aimem_reader (borrowed) */
	/* libpq's target_session_attrs over url's (borrowed; NULL: url's own): "primary" makes
	 * a pool of the primary from a conninfo that prefers a standby ("read-write" never
	 * matches aimem_reader, whose sessions are read-only by default) */
	const char *session_attrs;
	/* what the outage means, for the one log line when the pool cannot connect (borrowed;
	 * NULL: "reads answer 503 until it is back") */
	const char *down_effect;
	unsigned size; /* connections */
	long long statement_timeout_ms;
	long long wait_ms;      /* longest wait for a free connection */
	long long reconnect_ms; /* least time between two connect attempts of a slot */
};

struct qdb;

enum qdb_status {
	QDB_OK = 0,
	QDB_UNAVAILABLE = -1, /* no connection (database down, pool exhausted): 503 */
	QDB_TIMEOUT = -2,     /* statement_timeout or cancelled: 503 */
	QDB_ERROR = -3,       /* the statement failed: 500 (a bug or bad data) */
};

/* Creates the pool; connections are opened lazily, so a database that is down at start-up
 * is not fatal. m may be NULL. Never NULL. */
struct qdb *qdb_new(const struct qdb_config *cfg, struct metrics *m);
void qdb_free(struct qdb **q);

/*
 * Runs st for tenant with params (st->nparams text values; NULL entries are SQL NULL) in
 * one read-only transaction. On QDB_OK *res is the statement's result (owned: PQclear it).
 * Otherwise err holds the reason for logs (never for clients).
 */
int qdb_query(struct qdb *q, long long tenant, const struct qdb_stmt *st, const char *const *params,
              PGresult **res, char *err, size_t errlen) __attribute__((warn_unused_result));

/* For /readyz: a connection can be checked out (or made) and answers SELECT 1. */
bool qdb_ready(struct qdb *q, char *why, size_t whylen);

/*
 * For GET /health, asked before nearly every ChatStack operation: whether the database
 * answered, from what the pool already knows. Every read, connect attempt and readiness
 * check records its outcome; an outcome younger than max_age_ms is the answer with no round
 * trip. An older one is refreshed by one SELECT 1 (one caller at a time; the others take the
 * last outcome), so a quiet service still notices an outage within max_age_ms. Before any
 * outcome is known the answer is a probe. A full pool is not an outage (last outcome kept).
 */
bool qdb_healthy(struct qdb *q, long long max_age_ms);

#endif

/*
 * db: the PostgreSQL helpers every program uses (libpq).
 *
 * - connecting with capped, jittered backoff (a database that is still starting or briefly
 *   down is weather, not a reason to exit);
 * - parameterised statements only (PQexecParams, text parameters), every result status
 *   checked, with the outcome classified: DB_ERROR (the statement failed; the connection is
 *   fine and the transaction, if any, is aborted) or DB_CONN_LOST (the connection is gone:
 *   if that happened during COMMIT the outcome is unknown and the caller must re-read its
 *   state, e.g. the stored offsets);
 * - the tenant set per transaction with set_config('app.current_tenant', $1, true), never a
 *   session-level SET, so it cannot leak into the next transaction on the same connection.
 *
 * It does not pool connections or prepare statements for you. A PGconn is used by one
 * thread at a time. Error text (SQLSTATE and server message) is for logs only: it must not
 * reach HTTP clients.
 */
#ifndef AIMEM_DB_H
#define AIMEM_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#define DB_WUR __attribute__((warn_unused_result))

enum db_status {
	DB_OK = 0,
	DB_ERROR = -1,     /* statement failed, connection usable */
	DB_CONN_LOST = -2, /* connection broken; reconnect (PQfinish and db_connect) */
	DB_DATA = -3,      /* the statement failed because of its data (SQLSTATE class 22 or 23:
	                      a check, a uniqueness, a value out of range): retrying cannot help */
};

/*
 * Connects, retrying with backoff (100 ms doubling to 5 s, jittered) until connected or
 * timeout_ms has passed (0: a single attempt; < 0: until sig_stop_requested()). The
 * connection uses client_encoding UTF8. Returns an owned PGconn (PQfinish it) or NULL with
 * err set. Blocks; each failed attempt is logged at warn (without the password).
 */
PGconn *db_connect(const char *conninfo, long long timeout_ms, char *err, size_t errlen) DB_WUR;

/* db_connect with libpq's target_session_attrs set to session_attrs over whatever conninfo
 * says (NULL: conninfo's own), e.g. "primary" to reach the primary of a multi-host
 * conninfo written for a standby. */
PGconn *db_connect_attrs(const char *conninfo, const char *session_attrs, long long timeout_ms,
                         char *err, size_t errlen) DB_WUR;

/*
 * Runs one statement with text parameters (NULL entries are SQL NULL). On DB_OK, *resp (if
 * resp is not NULL) receives the owned result (PQclear it); otherwise nothing is returned
 * and err holds "SQLSTATE: message". Blocks for one round trip.
 */
int db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, PGresult **resp,
            char *err, size_t errlen) DB_WUR;

/*
 * A statement prepared once per connection and then run by name (PQexecPrepared): no parse
 * and plan per call, which for a statement with many expressions costs more than running it.
 * Declare one static struct per statement with name (unique in the program), sql and nparams;
 * the fields after them are db_exec_stmt's bookkeeping (start zeroed). A new connection (a
 * different PGconn or backend PID) is prepared again on first use; prepared statements live
 * in the session, so a rolled-back transaction does not lose them. One thread per struct.
 */
struct db_stmt {
	const char *name;
	const char *sql;
	int nparams;
	const PGconn *conn; /* where it was prepared */
	int backend_pid;
};
/* As db_exec, for a prepared statement (prepared first when needed). */
int db_exec_stmt(PGconn *conn, struct db_stmt *st, const char *const *params, PGresult **resp,
                 char *err, size_t errlen) DB_WUR;

/* BEGIN; and in the same round trip (pipeline) set the tenant for this transaction only. */
int db_begin_tenant(PGconn *conn, long long customer_id, char *err, size_t errlen) DB_WUR;
/* Changes the tenant inside an open transaction (a worker batch spans several tenants). */
int db_set_tenant(PGconn *conn, long long customer_id, char *err, size_t errlen) DB_WUR;
int db_begin(PGconn *conn, char *err, size_t errlen) DB_WUR;
/* DB_CONN_LOST from COMMIT means the outcome is unknown. */
int db_commit(PGconn *conn, char *err, size_t errlen) DB_WUR;
/* Best effort; a broken connection is left for the caller's next check. */
void db_rollback(PGconn *conn);

/* Connection is OK and not inside a transaction: safe to hand to the next request. */
bool db_is_clean(PGconn *conn);

/* The db.url row of a cfg table (a secret, required); off: the offset of a char * field; role:
 * the database role the program connects as ("aimem_worker"), named in the help. */
/* clang-format off */
#define DB_URL_CFG_ITEM(off, role) \
	{ .key = "db.url", .type = CFG_STRING, .flags = CFG_SECRET | CFG_REQUIRED, .offset = (off), \
	  .help = "libpq connection string as " role }
/* clang-format on */

#endif

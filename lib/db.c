/*
 * db: libpq helpers (see db.h). Deliberately thin: no ORM, no statement cache, no pool.
 */
#include "db.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backoff.h"
#include "log.h"
#include "sig.h"

static int db_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int db_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* libpq messages end with a newline; keep the first line only. */
static void db_first_line(const char *msg, char *out, size_t outlen)
{
	size_t n = strcspn(msg, "\n");
	snprintf(out, outlen, "%.*s", (int)n, msg);
}

/* The server's warnings ("terminating connection due to immediate shutdown command") go to
 * our log as one logfmt line instead of libpq's raw stderr; its notices ("relation already
 * exists, skipping") to the debug level. The severity is the untranslated one, whatever the
 * server's lc_messages. */
static void db_notice(void *arg, const PGresult *res)
{
	(void)arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	char line[256];
	db_first_line(PQresultErrorMessage(res), line, sizeof(line));
	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		log_warn("database warning message=\"%s\"", line);
	else
		log_debug("database notice message=\"%s\"", line);
}

PGconn *db_connect(const char *conninfo, long long timeout_ms, char *err, size_t errlen)
{
	return db_connect_attrs(conninfo, NULL, timeout_ms, err, errlen);
}

PGconn *db_connect_attrs(const char *conninfo, const char *session_attrs, long long timeout_ms,
                         char *err, size_t errlen)
{
	/* conninfo first (expanded); later keywords override it, so UTF8 is always used. */
	const char *const keys[] = { "connect_timeout", "dbname", "client_encoding",
		                     session_attrs ? "target_session_attrs" : NULL, NULL };
	const char *const vals[] = { "5", conninfo, "UTF8", session_attrs, NULL };
	struct backoff bo;
	backoff_init(&bo, 100, 5000);
	long long deadline = backoff_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (unsigned attempt = 1;; attempt++) {
		PGconn *conn = PQconnectdbParams(keys, vals, 1);
		if (conn != NULL && PQstatus(conn) == CONNECTION_OK) {
			PQsetNoticeReceiver(conn, db_notice, NULL);
			return conn;
		}
		char why[256];
		db_first_line(conn ? PQerrorMessage(conn) : "out of memory", why, sizeof(why));
		PQfinish(conn);
		long long delay = backoff_next_ms(&bo), now = backoff_now_ms();
		bool more = timeout_ms < 0 ? !sig_stop_requested() : now < deadline;
		if (timeout_ms >= 0 && now + delay > deadline)
			delay = deadline - now; /* the last attempt happens at the deadline */
		if (!more) {
			db_fail(err, errlen, "cannot connect to PostgreSQL after %u attempts: %s",
			        attempt, why);
			return NULL;
		}
		log_warn(
		    "database not reachable, retrying attempt=%u retry_in_ms=%lld error=\"%s\"",
		    attempt, delay, why);
		sig_wait((int)delay); /* a stop request cuts the wait short */
		if (sig_stop_requested()) {
			db_fail(err, errlen, "stop requested while connecting: %s", why);
			return NULL;
		}
	}
}

/* Classifies a finished result; fills err on failure. Does not PQclear. */
static int db_check(PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return DB_OK;
	char why[512];
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	db_first_line(msg && *msg ? msg : PQerrorMessage(conn), why, sizeof(why));
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(conn) != CONNECTION_OK) {
		db_fail(err, errlen, "connection lost: %s", why);
		return DB_CONN_LOST;
	}
	db_fail(err, errlen, "%s: %s", state ? state : "?????", why);
	if (state && state[0] == '2' && (state[1] == '2' || state[1] == '3'))
		return DB_DATA;
	return DB_ERROR;
}

int db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, PGresult **resp,
            char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	int rc = db_check(conn, res, err, errlen);
	if (rc == DB_OK && resp != NULL) {
		*resp = res;
		return DB_OK;
	}
	PQclear(res);
	return rc;
}

int db_exec_stmt(PGconn *conn, struct db_stmt *st, const char *const *params, PGresult **resp,
                 char *err, size_t errlen)
{
	int pid = PQbackendPID(conn);
	if (st->conn != conn || st->backend_pid != pid || pid == 0) {
		PGresult *res = PQprepare(conn, st->name, st->sql, st->nparams, NULL);
		int rc = db_check(conn, res, err, errlen);
		PQclear(res);
		if (rc != DB_OK)
			return rc;
		st->conn = conn;
		st->backend_pid = pid;
	}
	PGresult *res = PQexecPrepared(conn, st->name, st->nparams, params, NULL, NULL, 0);
	int rc = db_check(conn, res, err, errlen);
	if (rc == DB_OK && resp != NULL) {
		*resp = res;
		return DB_OK;
	}
	PQclear(res);
	return rc;
}

int db_begin(PGconn *conn, char *err, size_t errlen)
{
	return db_exec(conn, "BEGIN", 0, NULL, NULL, err, errlen);
}

static const char db_tenant_sql[] = "SELECT set_config('app.current_tenant', $1, true)";

int db_set_tenant(PGconn *conn, long long customer_id, char *err, size_t errlen)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", customer_id);
	const char *params[] = { id };
	return db_exec(conn, db_tenant_sql, 1, params, NULL, err, errlen);
}

/* Reads results up to and including the pipeline sync; returns the first failure. */
static int db_pipeline_drain(PGconn *conn, char *err, size_t errlen)
{
	int rc = DB_OK;
	for (;;) {
		PGresult *res = PQgetResult(conn);
		if (res == NULL) {
			if (PQstatus(conn) != CONNECTION_OK) {
				char why[256];
				db_first_line(PQerrorMessage(conn), why, sizeof(why));
				db_fail(err, errlen, "connection lost: %s", why);
				return DB_CONN_LOST;
			}
			continue; /* end of one query's results */
		}
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			return rc;
		}
		if (st != PGRES_PIPELINE_ABORTED && rc == DB_OK)
			rc = db_check(conn, res, err, errlen);
		PQclear(res);
		if (rc == DB_CONN_LOST)
			return rc;
	}
}

int db_begin_tenant(PGconn *conn, long long customer_id, char *err, size_t errlen)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", customer_id);
	const char *params[] = { id };
	if (!PQenterPipelineMode(conn))
		return db_fail(err, errlen, "cannot enter pipeline mode: %s", PQerrorMessage(conn));
	int rc = DB_OK;
	if (!PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQsendQueryParams(conn, db_tenant_sql, 1, NULL, params, NULL, NULL, 0) ||
	    !PQpipelineSync(conn)) {
		char why[256];
		db_first_line(PQerrorMessage(conn), why, sizeof(why));
		rc = PQstatus(conn) == CONNECTION_OK ? DB_ERROR : DB_CONN_LOST;
		db_fail(err, errlen, "cannot send BEGIN: %s", why);
	} else {
		rc = db_pipeline_drain(conn, err, errlen);
	}
	if (!PQexitPipelineMode(conn) && rc == DB_OK)
		rc = db_fail(err, errlen, "cannot leave pipeline mode: %s", PQerrorMessage(conn));
	if (rc == DB_ERROR || rc == DB_DATA)
		db_rollback(conn);
	return rc;
}

int db_commit(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc = db_exec(conn, "COMMIT", 0, NULL, &res, err, errlen);
	if (rc != DB_OK)
		return rc;
	/* COMMIT of a transaction that had already failed succeeds with the tag ROLLBACK. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = db_fail(err, errlen,
		             "transaction was rolled back (an earlier statement failed)");
	PQclear(res);
	return rc;
}

void db_rollback(PGconn *conn)
{
	if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) == PQTRANS_IDLE)
		return;
	PQclear(PQexec(conn, "ROLLBACK"));
}

bool db_is_clean(PGconn *conn)
{
	return PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE &&
	       !PQisBusy(conn);
}

/*
 * db_check: exercises lib/db against a real, migrated PostgreSQL as aimem_worker.
 *
 *   db_check WORKER_CONNINFO CLOSED_PORT
 *
 * Checks connect-with-backoff giving up on a closed port, parameterised statements, the
 * per-transaction tenant (db_begin_tenant, db_set_tenant) not leaking past COMMIT, RLS
 * refusing a row of another tenant, error classification (DB_ERROR with SQLSTATE, a COMMIT
 * of a failed transaction reported as rolled back, DB_CONN_LOST when the server ends the
 * session) and db_is_clean. Prints one line per check; exits 0 when all pass.
 * Used by tests/integration/test_db_helper.py.
 */
#include <stdio.h>
#include <string.h>

#include "backoff.h"
#include "db.h"
#include "log.h"

static int dc_failed, dc_passed;

static void dc_expect(bool ok, const char *what, const char *detail)
{
	printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail && *detail ? ": " : "",
	       detail ? detail : "");
	if (ok)
		dc_passed++;
	else
		dc_failed++;
}

/* One value of a one-row query, or "" (static buffer). */
static const char *dc_value(PGconn *conn, const char *sql)
{
	static char out[600];
	char err[256] = "";
	PGresult *res = NULL;
	out[0] = '\0';
	if (db_exec(conn, sql, 0, NULL, &res, err, sizeof(err)) == DB_OK) {
		if (PQntuples(res) == 1)
			snprintf(out, sizeof(out), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	} else {
		snprintf(out, sizeof(out), "error: %s", err);
	}
	return out;
}

static void dc_connect_gives_up(const char *closed_port)
{
	char conninfo[128], err[512] = "";
	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%s dbname=x user=x", closed_port);
	long long t0 = backoff_now_ms();
	PGconn *conn = db_connect(conninfo, 1200, err, sizeof(err));
	long long took = backoff_now_ms() - t0;
	/* keeps trying until the timeout (1.2 s), with a final attempt at the deadline */
	dc_expect(conn == NULL && strstr(err, "attempts") != NULL && took >= 1150 && took < 8000,
	          "connect retries with backoff until the timeout, then gives up", err);
	PQfinish(conn);
}

static void dc_tenant_scope(PGconn *conn)
{
	char err[512] = "";
	const char *ins = "INSERT INTO caller_profiles (customer_id, user_id, total_calls)"
	                  " VALUES ($1, $2, 1)"
	                  " ON CONFLICT (customer_id, user_id) DO UPDATE SET total_calls = 1";
	const char *p1[] = { "1", "5550001" };
	int rc = db_begin_tenant(conn, 1, err, sizeof(err));
	if (rc == DB_OK)
		rc = db_exec(conn, ins, 2, p1, NULL, err, sizeof(err));
	dc_expect(rc == DB_OK && !db_is_clean(conn), "insert under tenant 1", err);
	dc_expect(strcmp(dc_value(conn, "SELECT current_setting('app.current_tenant')"), "1") == 0,
	          "tenant visible inside the transaction", NULL);
	rc = db_commit(conn, err, sizeof(err));
	dc_expect(rc == DB_OK && db_is_clean(conn), "commit", err);
	const char *after =
	    dc_value(conn, "SELECT coalesce(current_setting('app.current_tenant', true), '')");
	dc_expect(strcmp(after, "") == 0, "tenant does not leak past COMMIT", after);
	dc_expect(strcmp(dc_value(conn, "SELECT count(*) FROM caller_profiles"), "0") == 0,
	          "no tenant set: zero rows, no error", NULL);

	rc = db_begin_tenant(conn, 2, err, sizeof(err));
	dc_expect(rc == DB_OK &&
	              strcmp(dc_value(conn, "SELECT count(*) FROM caller_profiles"), "0") == 0,
	          "tenant 2 sees none of tenant 1's rows", err);
	rc = db_set_tenant(conn, 1, err, sizeof(err));
	dc_expect(rc == DB_OK &&
	              strcmp(dc_value(conn, "SELECT count(*) FROM caller_profiles"), "1") == 0,
	          "db_set_tenant switches inside a transaction", err);
	rc = db_set_tenant(conn, 2, err, sizeof(err));
	rc = rc == DB_OK ? db_exec(conn, ins, 2, p1, NULL, err, sizeof(err)) : rc;
	dc_expect(rc == DB_ERROR && strstr(err, "42501") != NULL,
	          "RLS refuses a row of another tenant (42501)", err);
	rc = db_commit(conn, err, sizeof(err));
	dc_expect(rc != DB_OK && strstr(err, "rolled back") != NULL && db_is_clean(conn),
	          "COMMIT of a failed transaction is reported as rolled back", err);
}

static void dc_errors(PGconn *conn)
{
	char err[512] = "";
	const char *params[] = { "not a number" };
	int rc = db_exec(conn, "SELECT $1::int", 1, params, NULL, err, sizeof(err));
	dc_expect(rc == DB_DATA && strncmp(err, "22P02", 5) == 0 && db_is_clean(conn),
	          "a data error is DB_DATA with its SQLSTATE", err);
	const char *inj[] = { "1'); DROP TABLE caller_profiles; --" };
	rc = db_exec(conn, "SELECT count(*) FROM caller_profiles WHERE user_id = $1", 1, inj, NULL,
	             err, sizeof(err));
	dc_expect(rc == DB_OK &&
	              strcmp(dc_value(conn, "SELECT to_regclass('caller_profiles') IS NOT NULL"),
	                     "t") == 0,
	          "parameters are data, never SQL", err);
	rc = db_begin_tenant(conn, 0, err, sizeof(err));
	if (rc == DB_OK)
		db_rollback(conn);
	dc_expect(db_is_clean(conn), "rollback leaves the connection clean", err);
	rc = db_exec(conn, "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL, NULL, err,
	             sizeof(err));
	dc_expect(rc == DB_CONN_LOST && !db_is_clean(conn), "a killed session is DB_CONN_LOST",
	          err);
}

int main(int argc, char **argv)
{
	log_init("db_check");
	if (argc != 3) {
		fprintf(stderr, "usage: db_check WORKER_CONNINFO CLOSED_PORT\n");
		return 2;
	}
	dc_connect_gives_up(argv[2]);
	char err[512] = "";
	PGconn *conn = db_connect(argv[1], 10000, err, sizeof(err));
	dc_expect(conn != NULL, "connect", err);
	if (conn == NULL)
		return 1;
	dc_tenant_scope(conn);
	dc_errors(conn);
	PQfinish(conn);
	printf("db_check: %d passed, %d failed\n", dc_passed, dc_failed);
	return dc_failed == 0 ? 0 : 1;
}

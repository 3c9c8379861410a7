/*
 * migrate: applies migrations/NNN_name.sql in order (see migrate.h).
 * It has no "down" migrations: a fix is a new, higher-numbered file.
 */
#include "migrate.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "db.h"
#include "file.h"
#include "num.h"
#include "xalloc.h"

#define MIGRATE_FILE_MAX (16 << 20)
/* pg_advisory_lock key: an arbitrary constant shared by every runner of this schema */
#define MIGRATE_LOCK_KEY "7204917311"

struct migration {
	long long version;
	char *name; /* file name, e.g. "002_tenant_tables.sql" */
	char *path;
	char *applied_checksum; /* NULL when not applied */
};

struct migration_set {
	struct migration *m;
	size_t n;
};

static int migrate_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int migrate_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void migration_set_free(struct migration_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->m[i].name);
		free(set->m[i].path);
		free(set->m[i].applied_checksum);
	}
	free(set->m);
	set->m = NULL;
	set->n = 0;
}

/* "NNN_name.sql" with a lowercase name: returns the version or -1. */
static long long migration_version(const char *name)
{
	size_t digits = strspn(name, "0123456789");
	size_t len = strlen(name);
	if (digits < 3 || name[digits] != '_' || len < digits + 6 ||
	    strcmp(name + len - 4, ".sql") != 0)
		return -1;
	for (const char *p = name + digits + 1; p < name + len - 4; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return -1;
	long long v;
	if (num_parse_intn(name, digits, 1, 2147483647, &v) != NUM_OK)
		return -1;
	return v;
}

static int migration_cmp(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;
	return (x->version > y->version) - (x->version < y->version);
}

static int migration_list(const char *dir, struct migration_set *set, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return migrate_fail(err, errlen, "%s: cannot open migrations folder", dir);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".sql") == NULL)
			continue;
		long long v = migration_version(de->d_name);
		if (v < 0) {
			/* format before closedir: de points into the DIR stream */
			migrate_fail(err, errlen,
			             "%s/%s: migration files are named NNN_lowercase_name.sql", dir,
			             de->d_name);
			closedir(d);
			return -1;
		}
		set->m = xreallocarray(set->m, set->n + 1, sizeof(*set->m));
		struct buf path = BUF_INIT;
		buf_appendf(&path, "%s/%s", dir, de->d_name);
		set->m[set->n++] =
		    (struct migration){ v, xstrdup(de->d_name), buf_detach(&path), NULL };
	}
	closedir(d);
	qsort(set->m, set->n, sizeof(*set->m), migration_cmp);
	for (size_t i = 1; i < set->n; i++)
		if (set->m[i].version == set->m[i - 1].version)
			return migrate_fail(err, errlen, "%s and %s have the same number",
			                    set->m[i - 1].name, set->m[i].name);
	if (set->n == 0)
		return migrate_fail(err, errlen, "%s: no migration files", dir);
	return 0;
}

static char *migration_read(const struct migration *m, char *err, size_t errlen)
{
	size_t len = 0;
	char *sql = file_read(m->path, MIGRATE_FILE_MAX, &len, err, errlen);
	if (sql != NULL && strlen(sql) != len) {
		free(sql);
		migrate_fail(err, errlen, "%s: contains NUL bytes", m->path);
		return NULL;
	}
	return sql;
}

static const char migrate_bootstrap_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                            " version int PRIMARY KEY,"
                                            " name text NOT NULL,"
                                            " checksum text NOT NULL,"
                                            " applied_at timestamptz NOT NULL DEFAULT now(),"
                                            " duration_ms int NOT NULL)";

/* Marks which migrations are applied; errors on applied versions missing from the folder. */
static int migration_load_applied(PGconn *conn, struct migration_set *set, FILE *out, char *err,
                                  size_t errlen)
{
	PGresult *res = NULL;
	char why[512];
	if (db_exec(conn, "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
	            0, NULL, &res, why, sizeof(why)) != DB_OK)
		return migrate_fail(err, errlen, "reading schema_migrations: %s", why);
	for (int r = 0; r < PQntuples(res); r++) {
		long long v;
		if (num_parse_int(PQgetvalue(res, r, 0), 0, 2147483647, &v) != NUM_OK)
			continue;
		bool found = false;
		for (size_t i = 0; i < set->n; i++) {
			if (set->m[i].version == v) {
				set->m[i].applied_checksum = xstrdup(PQgetvalue(res, r, 2));
				found = true;
			}
		}
		if (!found)
			fprintf(out,
			        "migrate: warning: applied migration %s is not in the folder\n",
			        PQgetvalue(res, r, 1));
	}
	PQclear(res);
	return 0;
}

/* Line number of a 1-based character position in text (UTF-8), for error messages. */
static long migration_line_of(const char *text, long charpos)
{
	long line = 1, chars = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p && chars < charpos - 1; p++) {
		if ((*p & 0xC0) != 0x80)
			chars++;
		if (*p == '\n')
			line++;
	}
	return line;
}

static int migration_apply(PGconn *conn, const struct migration *m, const char *sql, char *err,
                           size_t errlen)
{
	char why[512];
	long long t0 = backoff_now_ms();
	if (db_begin(conn, why, sizeof(why)) != DB_OK)
		return migrate_fail(err, errlen, "%s: BEGIN: %s", m->name, why);
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		long line = pos ? migration_line_of(sql, strtol(pos, NULL, 10)) : 0;
		migrate_fail(err, errlen, "%s:%ld: %s %s", m->path, line, state ? state : "",
		             msg ? msg : PQerrorMessage(conn));
		PQclear(res);
		db_rollback(conn);
		return -1;
	}
	PQclear(res);
	char version[24], ms[24];
	snprintf(version, sizeof(version), "%lld", m->version);
	snprintf(ms, sizeof(ms), "%lld", backoff_now_ms() - t0);
	const char *params[] = { version, m->name, sql, ms };
	/* A file may SET LOCAL ROLE aimem_owner; the record is written as the runner itself. */
	if (db_exec(conn, "RESET ROLE", 0, NULL, NULL, why, sizeof(why)) != DB_OK ||
	    db_exec(conn,
	            "INSERT INTO schema_migrations (version, name, checksum, duration_ms)"
	            " VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'), $4)",
	            4, params, NULL, why, sizeof(why)) != DB_OK) {
		db_rollback(conn);
		return migrate_fail(err, errlen, "%s: recording: %s", m->name, why);
	}
	if (db_commit(conn, why, sizeof(why)) != DB_OK)
		return migrate_fail(err, errlen, "%s: COMMIT: %s", m->name, why);
	return 0;
}

static int migration_checksum(PGconn *conn, const char *sql, char *out, size_t outlen, char *err,
                              size_t errlen)
{
	PGresult *res = NULL;
	const char *params[] = { sql };
	char why[512];
	if (db_exec(conn, "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", 1, params, &res,
	            why, sizeof(why)) != DB_OK)
		return migrate_fail(err, errlen, "checksum: %s", why);
	snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Checks or applies one migration; counts into *applied / *current. */
static int migration_step(PGconn *conn, const struct migration_set *set, size_t i,
                          const struct migrate_opts *opts, int *applied, int *current, char *err,
                          size_t errlen)
{
	const struct migration *m = &set->m[i];
	char *sql = migration_read(m, err, errlen);
	if (sql == NULL)
		return -1;
	char sum[80];
	int rc = migration_checksum(conn, sql, sum, sizeof(sum), err, errlen);
	if (rc == 0 && m->applied_checksum != NULL) {
		if (strcmp(sum, m->applied_checksum) != 0)
			rc = migrate_fail(err, errlen,
			                  "%s was edited after it was applied (checksum %.12s, "
			                  "recorded %.12s); add a new migration instead",
			                  m->path, sum, m->applied_checksum);
		else
			(*current)++;
		if (rc == 0 && opts->status_only)
			fprintf(opts->out, "migrate: applied  %s\n", m->name);
	} else if (rc == 0 && opts->status_only) {
		fprintf(opts->out, "migrate: pending  %s\n", m->name);
	} else if (rc == 0) {
		for (size_t j = i + 1; j < set->n && rc == 0; j++)
			if (set->m[j].applied_checksum != NULL)
				rc = migrate_fail(err, errlen,
				                  "%s is not applied but the later %s is: "
				                  "migrations must be applied in order",
				                  m->name, set->m[j].name);
		long long t0 = backoff_now_ms();
		if (rc == 0)
			rc = migration_apply(conn, m, sql, err, errlen);
		if (rc == 0) {
			(*applied)++;
			fprintf(opts->out, "migrate: applied %s in %lld ms\n", m->name,
			        backoff_now_ms() - t0);
			fflush(opts->out);
		}
	}
	free(sql);
	return rc;
}

static void migrate_quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* "relation already exists, skipping" and the like */
}

int migrate_run(PGconn *conn, const struct migrate_opts *opts, char *err, size_t errlen)
{
	struct migration_set set = { NULL, 0 };
	char why[512];
	int rc = migration_list(opts->dir, &set, err, errlen);
	PQsetNoticeProcessor(conn, migrate_quiet_notice, NULL);
	const char *lock[] = { MIGRATE_LOCK_KEY };
	if (rc == 0 && db_exec(conn, "SELECT pg_advisory_lock($1::bigint)", 1, lock, NULL, why,
	                       sizeof(why)) != DB_OK)
		rc = migrate_fail(err, errlen, "taking the migration lock: %s", why);
	if (rc == 0 &&
	    db_exec(conn, migrate_bootstrap_sql, 0, NULL, NULL, why, sizeof(why)) != DB_OK)
		rc = migrate_fail(err, errlen, "creating schema_migrations: %s", why);
	if (rc == 0)
		rc = migration_load_applied(conn, &set, opts->out, err, errlen);
	int applied = 0, current = 0;
	for (size_t i = 0; rc == 0 && i < set.n; i++)
		rc = migration_step(conn, &set, i, opts, &applied, &current, err, errlen);
	if (rc == 0 && !opts->status_only)
		fprintf(opts->out,
		        "migrate: %d applied, %d already applied, schema at version %lld\n",
		        applied, current, set.m[set.n - 1].version);
	if (PQstatus(conn) == CONNECTION_OK)
		PQclear(PQexecParams(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, lock,
		                     NULL, NULL, 0));
	migration_set_free(&set);
	return rc;
}

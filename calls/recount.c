/*
 * recount: one tenant group's upsert and per-caller recount, and the per-caller locks (see
 * recount.h).
 */
#include "recount.h"

#include <stdio.h>
#include <stdlib.h>

/* $1 the tenant, $2 the users (a JSON array), $3 the namespace. The hashed text is what each
 * namespace's own statement hashed before ('<ns>:' || tenant || ':' || user_id), so old and new
 * builds take the same lock for the same caller. */
static const char recount_locks_sql[] =
    "SELECT count(pg_advisory_xact_lock(hashtextextended($3::text || ':' || $1::text || ':' ||"
    " u.user_id, 0))) FROM (SELECT DISTINCT jsonb_array_elements_text($2::jsonb) AS user_id"
    " ORDER BY 1) u";
static struct db_stmt recount_locks_stmt = { .name = "aimem_recount_locks",
	                                     .sql = recount_locks_sql,
	                                     .nparams = 3 };

int recount_lock_callers(PGconn *conn, long long tenant, const char *users, const char *lock_ns,
                         char *err, size_t errlen)
{
	char t[24];
	snprintf(t, sizeof(t), "%lld", tenant);
	const char *params[] = { t, users, lock_ns };
	return db_exec_stmt(conn, &recount_locks_stmt, params, NULL, err, errlen);
}

int recount_upsert(PGconn *conn, long long tenant, json_t *rows, struct db_stmt *upsert,
                   const char *lock_ns, struct db_stmt *recount, recount_then_fn then, char *err,
                   size_t errlen)
{
	char t[24];
	snprintf(t, sizeof(t), "%lld", tenant);
	char *text = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	const char *params[] = { t, text };
	PGresult *res = NULL;
	int rc = db_exec_stmt(conn, upsert, params, &res, err, errlen);
	free(text);
	if (rc != DB_OK)
		return rc;
	json_t *users = json_array();
	for (int r = 0; r < PQntuples(res); r++)
		json_array_append_new(users, json_string(PQgetvalue(res, r, 0)));
	PQclear(res);
	if (json_array_size(users) > 0) {
		char *list = json_dumps(users, JSON_COMPACT);
		const char *uparams[] = { t, list };
		rc = recount_lock_callers(conn, tenant, list, lock_ns, err, errlen);
		if (rc == DB_OK)
			rc = db_exec_stmt(conn, recount, uparams, NULL, err, errlen);
		if (rc == DB_OK && then != NULL)
			rc = then(conn, tenant, list, err, errlen);
		free(list);
	}
	json_decref(users);
	return rc;
}

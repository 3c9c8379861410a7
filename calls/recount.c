/*
 * recount: one tenant group's upsert and per-caller recount (see recount.h).
 */
#include "recount.h"

#include <stdio.h>
#include <stdlib.h>

int recount_upsert(PGconn *conn, long long tenant, json_t *rows, struct db_stmt *upsert,
                   struct db_stmt *locks, struct db_stmt *recount, recount_then_fn then, char *err,
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
		rc = db_exec_stmt(conn, locks, uparams, NULL, err, errlen);
		if (rc == DB_OK)
			rc = db_exec_stmt(conn, recount, uparams, NULL, err, errlen);
		if (rc == DB_OK && then != NULL)
			rc = then(conn, tenant, list, err, errlen);
		free(list);
	}
	json_decref(users);
	return rc;
}

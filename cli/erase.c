/*
 * erase: one caller out of every tenant table, in one transaction (see erase.h).
 */
#include "erase.h"

#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "num.h"

/* The tenant is also set (db_begin_tenant), so RLS confines every statement; the explicit
 * customer_id keeps the statements correct for an administrator role that bypasses RLS. */
static const char *const erase_sql[ERASE_NTABLES][2] = {
	{ "call_summaries",
	  "DELETE FROM call_summaries WHERE customer_id = $1::int AND user_id = $2" },
	{ "caller_profiles",
	  "DELETE FROM caller_profiles WHERE customer_id = $1::int AND user_id = $2" },
	{ "personality_metrics",
	  "DELETE FROM personality_metrics WHERE customer_id = $1::int AND user_id = $2" },
	{ "personality_averages",
	  "DELETE FROM personality_averages WHERE customer_id = $1::int AND user_id = $2" },
	{ "memories", "DELETE FROM memories WHERE customer_id = $1::int AND user_id = $2" },
	{ "caller_facts", "DELETE FROM caller_facts WHERE customer_id = $1::int AND user_id = $2" },
	/* the stored context (migration 009), derived from the rows above */
	{ "caller_context",
	  "DELETE FROM caller_context WHERE customer_id = $1::int AND user_id = $2" },
	/* the passages, and the search statistics they counted in (the embedder's lock order:
	 * the terms by lexeme); a SELECT of the count, read like a command's */
	{ "call_chunks",
	  "WITH gone AS (DELETE FROM call_chunks WHERE customer_id = $1::int AND user_id = $2"
	  " RETURNING tsv, words),"
	  " d AS (SELECT lexeme, count(*) AS n FROM gone, unnest(tsvector_to_array(tsv)) AS lexeme"
	  " GROUP BY lexeme),"
	  " lk AS (SELECT s.lexeme FROM search_terms s JOIN d USING (lexeme)"
	  " WHERE s.customer_id = $1::int ORDER BY s.lexeme FOR UPDATE OF s),"
	  " t AS (UPDATE search_terms s SET df = greatest(s.df - d.n, 0) FROM d"
	  " WHERE s.customer_id = $1::int AND s.lexeme = d.lexeme"
	  " AND (SELECT count(*) FROM lk) >= 0 RETURNING 1),"
	  " st AS (UPDATE search_stats s SET passages = greatest(s.passages - g.n, 0),"
	  " words = greatest(s.words - g.w, 0) FROM (SELECT count(*) AS n, coalesce(sum(words), 0)"
	  " AS w FROM gone) g WHERE s.customer_id = $1::int AND g.n > 0 RETURNING 1)"
	  " SELECT (SELECT count(*) FROM gone) + 0 * ((SELECT count(*) FROM t) +"
	  " (SELECT count(*) FROM st))" },
};

/* The caller's erasure lock, exclusive: waits for worker batches holding it shared (they may
 * be writing this caller's rows) to commit, so the deletes below see their rows; batches that
 * start later see the erasure and drop the caller's events (lib/worker). */
static const char erase_lock_sql[] = "SELECT pg_advisory_xact_lock(erase_lock_key($1, $2))";

/* erased_at is refreshed on a re-run; rows_deleted adds this run's counts per table. */
static const char erase_record_sql[] =
    "INSERT INTO erasures AS e (customer_id, user_id, rows_deleted)"
    " VALUES ($1::int, $2, $3::jsonb)"
    " ON CONFLICT (customer_id, user_id) DO UPDATE SET erased_at = now(),"
    " rows_deleted = (SELECT coalesce(jsonb_object_agg(k, coalesce((e.rows_deleted->>k)::bigint,"
    " 0) + v::bigint), '{}') FROM jsonb_each_text(excluded.rows_deleted) AS x(k, v))";

int erase_run(PGconn *conn, long long customer_id, const char *user_id, struct erase_report *r,
              char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	char cid[24];
	snprintf(cid, sizeof(cid), "%lld", customer_id);
	const char *params[3] = { cid, user_id, NULL };
	if (db_begin_tenant(conn, customer_id, err, errlen) != DB_OK)
		return -1;
	if (db_exec(conn, erase_lock_sql, 2, params, NULL, err, errlen) != DB_OK) {
		db_rollback(conn);
		return -1;
	}
	struct buf counts = BUF_INIT;
	buf_putc(&counts, '{');
	for (int i = 0; i < ERASE_NTABLES; i++) {
		PGresult *res = NULL;
		r->table[i] = erase_sql[i][0];
		if (db_exec(conn, erase_sql[i][1], 2, params, &res, err, errlen) != DB_OK)
			goto fail;
		const char *count = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
		                        ? PQgetvalue(res, 0, 0)
		                        : PQcmdTuples(res);
		if (num_parse_int(count, 0, INT64_MAX, &r->deleted[i]) != NUM_OK)
			r->deleted[i] = 0;
		PQclear(res);
		r->total += r->deleted[i];
		buf_appendf(&counts, "%s\"%s\":%lld", i ? "," : "", r->table[i], r->deleted[i]);
	}
	buf_putc(&counts, '}');
	params[2] = buf_str(&counts);
	if (db_exec(conn, erase_record_sql, 3, params, NULL, err, errlen) != DB_OK)
		goto fail;
	buf_free(&counts);
	if (db_commit(conn, err, errlen) != DB_OK)
		return -1;
	return 0;
fail:
	buf_free(&counts);
	db_rollback(conn);
	return -1;
}

void erase_print(FILE *out, long long customer_id, const char *user_id,
                 const struct erase_report *r, int json)
{
	if (json) {
		fprintf(out, "{\"customer_id\":%lld,\"deleted\":{", customer_id);
		for (int i = 0; i < ERASE_NTABLES; i++)
			fprintf(out, "%s\"%s\":%lld", i ? "," : "", r->table[i], r->deleted[i]);
		fprintf(out, "},\"total\":%lld,\"recorded\":true}\n", r->total);
		return;
	}
	fprintf(out, "erased customer %lld caller %s\n", customer_id, user_id);
	fprintf(out, "  %-22s %s\n", "table", "rows deleted");
	for (int i = 0; i < ERASE_NTABLES; i++)
		fprintf(out, "  %-22s %lld\n", r->table[i], r->deleted[i]);
	fprintf(out, "  %-22s %lld\n", "total", r->total);
	fprintf(out, "recorded in erasures: workers and replays drop this caller's events from now "
	             "on\n");
}

/*
 * search_sql: the pieces of bench/search.sh that are not HTTP (issue 14 item 5, issue 15 item 4).
 *
 *   search_sql embed [MODEL_DIR] < TEXTS > VECTORS
 *       one text per line in, its all-MiniLM-L6-v2 vector (pgvector text) per line out, each
 *       embedded alone as aimem-query embeds a query; on stderr the per-text time (p50, p99,
 *       mean) on this thread: the query embedding's cost
 *   search_sql run CONNINFO TENANT QUERIES VECTORS MODE CLIENTS SECONDS
 *       the plain-SQL ceiling: the very statement aimem-query runs (query-api/search_sql.h;
 *       for hybrid the one statement, which computes both lists in turn: aimem-query
 *       computes them at once on two connections, the query's embedding overlapping the
 *       text list),
 *       prepared, in the same one-round-trip pipeline (BEGIN READ ONLY, the tenant, the
 *       statement, COMMIT) with the same session settings, for the queries in turn with their
 *       precomputed vectors, by CLIENTS connections (a thread each) for SECONDS; prints
 *       "MODE: N queries, X q/s, p50 A ms, p99 B ms, mean results R"
 *
 * Not here: HTTP, JWT, JSON of the answer beyond what PostgreSQL builds, the embedding (run
 * apart, so each figure has its own line).
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "minilm.h"
#include "search_sql.h"

#define MAX_LINES 100000

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
	return n ? sorted[(size_t)(p * (double)(n - 1))] : 0;
}

/* Reads the lines of path (newline stripped); returns the count, *out owned by the caller. */
static size_t read_lines(FILE *f, char ***out)
{
	char **lines = calloc(MAX_LINES, sizeof(*lines));
	size_t n = 0, cap = 0;
	char *line = NULL;
	ssize_t len;
	while (n < MAX_LINES && (len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		lines[n++] = strdup(line);
	}
	free(line);
	*out = lines;
	return n;
}

static int cmd_embed(const char *dir)
{
	char path[4096], err[512];
	if (dir == NULL && minilm_default_dir(path, sizeof(path)) == 0)
		dir = path;
	struct minilm *m = dir ? minilm_load(dir, err, sizeof(err)) : NULL;
	if (m == NULL) {
		fprintf(stderr, "search_sql: %s\n", dir ? err : "no model directory");
		return 1;
	}
	char **texts;
	size_t n = read_lines(stdin, &texts);
	double *t = calloc(n ? n : 1, sizeof(double)), sum = 0;
	float v[MINILM_DIM];
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(texts[i]);
		const char *tx = texts[i];
		double t0 = now_ms();
		if (minilm_embed(m, &tx, &len, 1, v, err, sizeof(err)) != 0) {
			fprintf(stderr, "search_sql: %s\n", err);
			return 1;
		}
		t[i] = now_ms() - t0;
		sum += t[i];
		putchar('[');
		for (unsigned d = 0; d < MINILM_DIM; d++)
			printf("%s%.6g", d ? "," : "", (double)v[d]);
		puts("]");
		free(texts[i]);
	}
	qsort(t, n, sizeof(double), cmp_double);
	fprintf(stderr,
	        "%zu texts embedded one at a time: p50 %.2f ms, p99 %.2f ms, mean %.2f ms\n", n,
	        pct(t, n, 0.5), pct(t, n, 0.99), n ? sum / (double)n : 0);
	free(t);
	free(texts);
	minilm_free(&m);
	return 0;
}

struct client {
	const char *conninfo, *tenant, *mode;
	char **queries, **vectors;
	size_t nq, first;
	double seconds;
	double *lat;
	size_t n, cap, results;
	int failed;
};

/* One search as qdb.c sends it (the generic plan, qdb_stmt.generic_plan): one pipeline, one
 * round trip. Returns the results or -1. */
static long client_search(PGconn *conn, struct client *c, size_t i)
{
	const char *tp[] = { c->tenant };
	/* $6..$8 (the lists given, the caller) NULL: the one statement computes both lists */
	const char *params[8] = { c->queries[i], c->vectors[i], "10", c->mode, MINILM_MODEL_ID };
	if (!PQenterPipelineMode(conn) ||
	    !PQsendQueryParams(conn, "BEGIN READ ONLY", 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQsendQueryParams(conn,
	                       "SELECT set_config('app.current_tenant', $1, true), "
	                       "set_config('plan_cache_mode', 'force_generic_plan', true)",
	                       1, NULL, tp, NULL, NULL, 0) ||
	    !PQsendQueryPrepared(conn, "search", 8, params, NULL, NULL, 0) ||
	    !PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(conn))
		return -1;
	long got = -1;
	int nulls = 0;
	for (;;) {
		PGresult *res = PQgetResult(conn);
		if (res == NULL) {
			if (++nulls > 16)
				return -1;
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (st == PGRES_TUPLES_OK && PQnfields(res) == 2) {
			/* count the results: one "score" key per result in column 0 */
			got = 0;
			for (const char *p = PQgetvalue(res, 0, 0); (p = strstr(p, "\"score\""));
			     p++)
				got++;
		} else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			fprintf(stderr, "search_sql: %s", PQresultErrorMessage(res));
			got = -2;
		}
		PQclear(res);
	}
	PQexitPipelineMode(conn);
	return got < -1 ? -1 : got;
}

static void *client_run(void *arg)
{
	struct client *c = arg;
	PGconn *conn = PQconnectdb(c->conninfo);
	PGresult *res = NULL;
	if (PQstatus(conn) != CONNECTION_OK)
		goto fail;
	res = PQexec(conn,
	             "SELECT set_config('hnsw.iterative_scan', 'strict_order', false), "
	             "set_config('max_parallel_workers_per_gather', '0', false)"); /* as qdb.c */
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	PQclear(res);
	static const Oid text[8] = { 25, 25, 25, 25, 25, 25, 25, 25 }; /* qdb_stmt.text_params */
	res = PQprepare(conn, "search", SEARCH_SQL_TENANT, 8, text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(res);
	res = NULL;
	double end = now_ms() + c->seconds * 1e3;
	for (size_t i = c->first; now_ms() < end; i++) {
		double t0 = now_ms();
		long got = client_search(conn, c, i % c->nq);
		if (got < 0)
			goto fail;
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 1024;
			c->lat = realloc(c->lat, c->cap * sizeof(double));
		}
		c->lat[c->n++] = now_ms() - t0;
		c->results += (size_t)got;
	}
	PQfinish(conn);
	return NULL;
fail:
	fprintf(stderr, "search_sql: %s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	c->failed = 1;
	return NULL;
}

static int cmd_run(char **argv)
{
	FILE *fq = fopen(argv[2], "r"), *fv = fopen(argv[3], "r");
	if (fq == NULL || fv == NULL) {
		fprintf(stderr, "search_sql: cannot open %s or %s\n", argv[2], argv[3]);
		return 1;
	}
	struct client proto = { .conninfo = argv[0], .tenant = argv[1], .mode = argv[4] };
	proto.nq = read_lines(fq, &proto.queries);
	if (read_lines(fv, &proto.vectors) != proto.nq || proto.nq == 0) {
		fprintf(stderr, "search_sql: as many vectors as queries, at least one\n");
		return 1;
	}
	fclose(fq);
	fclose(fv);
	long nc_arg = strtol(argv[5], NULL, 10);
	int nc = nc_arg > 0 && nc_arg <= 64 ? (int)nc_arg : 1;
	proto.seconds = strtod(argv[6], NULL);
	struct client *c = calloc((size_t)nc, sizeof(*c));
	pthread_t *th = calloc((size_t)nc, sizeof(*th));
	double t0 = now_ms();
	for (int i = 0; i < nc; i++) {
		c[i] = proto;
		c[i].first = (size_t)i * proto.nq / (size_t)nc;
		pthread_create(&th[i], NULL, client_run, &c[i]);
	}
	size_t n = 0, results = 0;
	int failed = 0;
	for (int i = 0; i < nc; i++) {
		pthread_join(th[i], NULL);
		n += c[i].n;
		results += c[i].results;
		failed |= c[i].failed;
	}
	double wall = now_ms() - t0;
	double *all = calloc(n ? n : 1, sizeof(double));
	for (int i = 0, k = 0; i < nc; i++) {
		memcpy(all + k, c[i].lat, c[i].n * sizeof(double));
		k += (int)c[i].n;
		free(c[i].lat);
	}
	qsort(all, n, sizeof(double), cmp_double);
	printf("%s: %zu queries, %.0f q/s, p50 %.2f ms, p99 %.2f ms, mean results %.1f\n",
	       proto.mode, n, (double)n * 1e3 / wall, pct(all, n, 0.5), pct(all, n, 0.99),
	       n ? (double)results / (double)n : 0);
	free(all);
	free(c);
	free(th);
	return failed;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "embed") == 0)
		return cmd_embed(argc >= 3 ? argv[2] : NULL);
	if (argc == 9 && strcmp(argv[1], "run") == 0)
		return cmd_run(argv + 2);
	fprintf(stderr, "usage: search_sql embed [MODEL_DIR] < TEXTS\n"
	                "       search_sql run CONNINFO TENANT QUERIES VECTORS MODE CLIENTS "
	                "SECONDS\n");
	return 2;
}

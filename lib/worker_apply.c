/*
 * worker_apply: a batch inside its transaction, for either mode: per tenant (set with
 * set_config), the erased callers' events dropped under their erasure locks, the rest handed
 * to the program's apply (at once, or one by one under savepoints to find a bad one), and the
 * dead letters written. Positions and the COMMIT are worker_batch.c's.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "num.h"
#include "text.h"
#include "worker_int.h"
#include "xalloc.h"

#define WORKER_DEAD_PREFIX 1024 /* payload bytes kept in a dead letter */

void worker_mark(struct wmsg *m, int status, const char *code, const char *err)
{
	m->status = status;
	snprintf(m->code, sizeof(m->code), "%s", code);
	/* cut on a character boundary: a text column refuses half a UTF-8 sequence */
	size_t n = text_utf8_cut(err, strlen(err), sizeof(m->err) - 1);
	memcpy(m->err, err, n);
	m->err[n] = '\0';
}

static const char *worker_user(const struct event *ev)
{
	return ev->type == EVENT_CALL_ENDED ? ev->call.user_id : ev->mem.user_id;
}

/* The erasures of a tenant's callers ($1 the tenant as text, $2 a JSON array of user ids). */
static const char worker_erased_sql[] = "SELECT user_id FROM erasures WHERE customer_id = $1"
                                        " AND user_id IN (SELECT jsonb_array_elements_text($2))";
/* Their erasure locks, shared: `aimem erase` takes the same key (erase_lock_key, migration 011)
 * exclusively before it deletes. */
static const char worker_erase_lock_sql[] =
    "SELECT count(pg_advisory_xact_lock_shared(erase_lock_key($1, u.user_id)))"
    " FROM (SELECT DISTINCT jsonb_array_elements_text($2) AS user_id) u";

void worker_apply_init(struct worker *w)
{
	w->erased_stmt = (struct db_stmt){ .name = "aimem_worker_erased",
		                           .sql = worker_erased_sql,
		                           .nparams = 2 };
	w->erase_lock_stmt = (struct db_stmt){ .name = "aimem_worker_erase_lock",
		                               .sql = worker_erase_lock_sql,
		                               .nparams = 2 };
}

/* Marks the messages of g (one tenant, set) whose caller was erased: one query. */
int worker_erased(struct worker *w, struct wmsg *const *g, size_t n, bool lock, char *err,
                  size_t errlen)
{
	json_t *users = json_array();
	for (size_t i = 0; i < n; i++) {
		const char *user = worker_user(&g[i]->ev);
		if (user != NULL)
			json_array_append_new(users, json_string(user));
	}
	int rc = DB_OK;
	if (json_array_size(users) > 0) {
		char tenant[24];
		snprintf(tenant, sizeof(tenant), "%lld", g[0]->ev.customer_id);
		char *list = json_dumps(users, JSON_COMPACT);
		const char *params[] = { tenant, list };
		PGresult *res = NULL;
		/* the callers' erasure locks first, shared (aimem erase takes one exclusively):
		 * an erase committing after this point waits for our COMMIT and then deletes what
		 * we wrote; one that committed before is seen by the next statement's snapshot */
		if (lock)
			rc = db_exec_stmt(w->conn, &w->erase_lock_stmt, params, NULL, err, errlen);
		if (rc == DB_OK)
			rc = db_exec_stmt(w->conn, &w->erased_stmt, params, &res, err, errlen);
		for (int r = 0; rc == DB_OK && r < PQntuples(res); r++)
			for (size_t i = 0; i < n; i++) {
				const char *user = worker_user(&g[i]->ev);
				if (user != NULL && strcmp(user, PQgetvalue(res, r, 0)) == 0)
					g[i]->erased = true;
			}
		PQclear(res);
		free(list);
	}
	json_decref(users);
	return rc;
}

/* The program's apply for jobs (one tenant, set). */
static int worker_apply_jobs(struct worker *w, struct worker_job *const *jobs, size_t n, char *err,
                             size_t errlen)
{
	if (w->ops.apply_batch != NULL)
		return w->ops.apply_batch(w->ops.ctx, w->conn, jobs, n, err, errlen);
	int rc = DB_OK;
	for (size_t i = 0; i < n && rc == DB_OK; i++)
		rc = w->ops.apply(w->ops.ctx, w->conn, jobs[i], err, errlen);
	return rc;
}

/* Applies one valid event under a savepoint: a data error rolls back to it and marks the
 * message for the dead letters instead of failing the batch. */
static int worker_apply_isolated(struct worker *w, struct wmsg *m)
{
	char err[512];
	struct worker_job *job = &m->job;
	int rc = db_exec(w->conn, "SAVEPOINT aimem_event", 0, NULL, NULL, err, sizeof(err));
	if (rc == DB_OK)
		rc = worker_apply_jobs(w, &job, 1, err, sizeof(err));
	if (rc == DB_OK) /* never pile up hundreds of open subtransactions */
		rc = db_exec(w->conn, "RELEASE SAVEPOINT aimem_event", 0, NULL, NULL, err,
		             sizeof(err));
	if (rc == DB_DATA) {
		worker_mark(m, WMSG_STORE, "store_failed", err);
		return db_exec(w->conn, "ROLLBACK TO SAVEPOINT aimem_event", 0, NULL, NULL, err,
		               sizeof(err));
	}
	if (rc != DB_OK)
		log_warn("applying event failed topic=%s partition=%d offset=%lld error=\"%s\"",
		         w->topic, (int)m->rkm->partition, (long long)m->rkm->offset, err);
	return rc;
}

/* One tenant's messages g[0..n), in arrival order: set the tenant, drop erased callers'
 * events, apply the rest (all at once, or one by one under savepoints with isolate). */
static int worker_apply_tenant(struct worker *w, struct wmsg *const *g, size_t n, bool isolate)
{
	char err[512];
	int rc = db_set_tenant(w->conn, g[0]->ev.customer_id, err, sizeof(err));
	if (rc == DB_OK)
		rc = worker_erased(w, g, n, true, err, sizeof(err));
	if (rc != DB_OK) {
		log_warn("cannot prepare a tenant's events error=\"%s\"", err);
		return rc;
	}
	struct worker_job **jobs = xcalloc(n, sizeof(*jobs));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (g[i]->erased)
			metrics_counter_add(w->erased, 1);
		else
			jobs[k++] = &g[i]->job;
	if (isolate) {
		for (size_t i = 0; i < n && rc == DB_OK; i++)
			if (!g[i]->erased)
				rc = worker_apply_isolated(w, g[i]);
	} else if (k > 0) {
		rc = worker_apply_jobs(w, jobs, k, err, sizeof(err));
		if (rc != DB_OK && rc != DB_DATA)
			log_warn("applying events failed topic=%s events=%zu error=\"%s\"",
			         w->topic, k, err);
	}
	free(jobs);
	return rc;
}

static int worker_cmp_tenant(const void *a, const void *b)
{
	const struct wmsg *const *x = a, *const *y = b;
	long long tx = (*x)->ev.customer_id, ty = (*y)->ev.customer_id;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return *x < *y ? -1 : *x > *y; /* arrival order within a tenant */
}

/* The batch's valid messages grouped by tenant, arrival order within a tenant (owned). */
struct wmsg **worker_by_tenant(struct worker *w, size_t *n)
{
	struct wmsg **order = xcalloc(w->nbatch ? w->nbatch : 1, sizeof(*order));
	*n = 0;
	for (size_t i = 0; i < w->nbatch; i++)
		if (w->batch[i].status == EVENT_OK)
			order[(*n)++] = &w->batch[i];
	qsort(order, *n, sizeof(*order), worker_cmp_tenant);
	return order;
}

int worker_apply_all(struct worker *w, bool isolate)
{
	size_t n;
	struct wmsg **order = worker_by_tenant(w, &n);
	int rc = DB_OK;
	for (size_t i = 0, j; i < n && rc == DB_OK; i = j) {
		for (j = i + 1; j < n && order[j]->ev.customer_id == order[i]->ev.customer_id; j++)
			;
		rc = worker_apply_tenant(w, order + i, j - i, isolate);
	}
	free(order);
	return rc;
}

int worker_dead_letter(struct worker *w, const struct wmsg *m)
{
	const rd_kafka_message_t *rkm = m->rkm;
	char part[16], off[24], size[24], cust[24];
	snprintf(part, sizeof(part), "%d", (int)rkm->partition);
	snprintf(off, sizeof(off), "%lld", (long long)rkm->offset);
	snprintf(size, sizeof(size), "%zu", rkm->len);
	long long c;
	bool have_cust =
	    rkm->key && num_parse_intn(rkm->key, rkm->key_len, 1, INT32_MAX, &c) == NUM_OK;
	snprintf(cust, sizeof(cust), "%lld", have_cust ? c : 0);
	struct buf key = BUF_INIT, prefix = BUF_INIT;
	static const char hex[] = "0123456789abcdef";
	size_t klen = rkm->key ? (rkm->key_len < 64 ? rkm->key_len : 64) : 0;
	if (rkm->key && text_utf8_valid(rkm->key, klen) && memchr(rkm->key, 0, klen) == NULL) {
		buf_append(&key, rkm->key, klen);
	} else if (rkm->key) { /* not text: keep it readable and storable as hex */
		buf_append_str(&key, "hex:");
		for (size_t i = 0; i < klen; i++) {
			unsigned char b = ((const unsigned char *)rkm->key)[i];
			buf_putc(&key, hex[b >> 4]);
			buf_putc(&key, hex[b & 15]);
		}
	}
	size_t n = rkm->len < WORKER_DEAD_PREFIX ? rkm->len : WORKER_DEAD_PREFIX;
	buf_append_str(&prefix, "\\x");
	for (size_t i = 0; i < n; i++) {
		unsigned char b = ((const unsigned char *)rkm->payload)[i];
		buf_putc(&prefix, hex[b >> 4]);
		buf_putc(&prefix, hex[b & 15]);
	}
	const char *params[] = { w->group,
		                 w->topic,
		                 part,
		                 off,
		                 rkm->key ? buf_str(&key) : NULL,
		                 have_cust ? cust : NULL,
		                 m->ev.event_id,
		                 m->code,
		                 m->err,
		                 buf_str(&prefix),
		                 size };
	static const char sql[] =
	    "INSERT INTO dead_letters (consumer_group, topic, partition, \"offset\", msg_key,"
	    " customer_id, event_id, error_code, error, payload_prefix, payload_size)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	    " ON CONFLICT (consumer_group, topic, partition, \"offset\") DO UPDATE SET"
	    " error_code = excluded.error_code, error = excluded.error, received_at = now()";
	char err[512];
	int rc = db_exec(w->conn, sql, 11, params, NULL, err, sizeof(err));
	if (rc != DB_OK)
		log_warn("cannot write a dead letter error=\"%s\"", err);
	else
		log_warn("dead letter topic=%s partition=%d offset=%lld code=%s error=\"%s\"",
		         w->topic, (int)rkm->partition, (long long)rkm->offset, m->code, m->err);
	buf_free(&key);
	buf_free(&prefix);
	return rc;
}

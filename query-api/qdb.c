/*
 * qdb: the connection pool and the pipelined read (see qdb.h).
 */
#include "qdb.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"

struct qdb_slot {
	PGconn *conn;                                   /* NULL until connected, or after a loss */
	const struct qdb_stmt *prepared[QDB_MAX_STMTS]; /* prepared on conn */
	size_t nprepared;
	long long next_try; /* backoff_now_ms() before which no connect is attempted */
	bool busy;          /* under q->mu */
	bool down_logged;   /* the slot's outage was logged once */
};

struct qdb {
	char *url, *session_attrs, *down_effect;
	long long stmt_timeout_ms, wait_ms, reconnect_ms;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	size_t n;
	struct qdb_slot *slots;
	/* under mu: when the database last answered / last could not be reached (backoff_now_ms,
	 * 0 = never), and whether a /health probe is running */
	long long answered_ms, unreachable_ms;
	bool probing;
	long long replication_ms; /* under mu: when a read last sampled its node's role and lag */
	struct metrics *m;
	struct metrics_counter *connects, *conn_errors, *lost, *exhausted;
	struct metrics_histogram *latency;
};

static const char qdb_tenant_sql[] = "SELECT set_config('app.current_tenant', $1, true)";
/* qdb_stmt.text_params: TEXTOID (pg_type_d.h, a fixed catalog oid) for every parameter */
static const Oid qdb_text_types[QDB_TEXT_PARAMS_MAX] = { 25, 25, 25, 25, 25, 25, 25, 25,
	                                                 25, 25, 25, 25, 25, 25, 25, 25 };

static const char qdb_tenant_generic_sql[] =
    "SELECT set_config('app.current_tenant', $1, true), "
    "set_config('plan_cache_mode', 'force_generic_plan', true)";

struct qdb *qdb_new(const struct qdb_config *cfg, struct metrics *m)
{
	struct qdb *q = xcalloc(1, sizeof(*q));
	q->url = xstrdup(cfg->url);
	q->session_attrs = cfg->session_attrs ? xstrdup(cfg->session_attrs) : NULL;
	q->down_effect =
	    xstrdup(cfg->down_effect ? cfg->down_effect : "reads answer 503 until it is back");
	q->stmt_timeout_ms = cfg->statement_timeout_ms;
	q->wait_ms = cfg->wait_ms;
	q->reconnect_ms = cfg->reconnect_ms;
	q->n = cfg->size ? cfg->size : 1;
	q->m = m;
	q->slots = xcalloc(q->n, sizeof(*q->slots));
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (m != NULL) {
		q->connects = metrics_counter(m, "aimem_query_db_connects_total",
		                              "Database connections opened.", "");
		q->conn_errors = metrics_counter(m, "aimem_query_db_connect_errors_total",
		                                 "Failed database connection attempts.", "");
		q->lost =
		    metrics_counter(m, "aimem_query_db_lost_total",
		                    "Database connections found broken or lost in a read.", "");
		q->exhausted =
		    metrics_counter(m, "aimem_query_db_pool_exhausted_total",
		                    "Reads refused because no connection was free in time.", "");
		q->latency = metrics_histogram(m, "aimem_query_db_seconds",
		                               "One read: the pipelined transaction round trip.",
		                               "", metrics_latency_bounds, metrics_latency_nbounds);
	}
	return q;
}

void qdb_free(struct qdb **qp)
{
	struct qdb *q = *qp;
	if (q == NULL)
		return;
	*qp = NULL;
	for (size_t i = 0; i < q->n; i++)
		PQfinish(q->slots[i].conn);
	free(q->slots);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	free(q->url);
	free(q->session_attrs);
	free(q->down_effect);
	free(q);
}

static void qdb_count(struct metrics_counter *c)
{
	if (c != NULL)
		metrics_counter_add(c, 1);
}

/* Records whether the database answered (for qdb_healthy). */
static void qdb_note(struct qdb *q, bool answered)
{
	long long now = backoff_now_ms();
	pthread_mutex_lock(&q->mu);
	if (answered)
		q->answered_ms = now;
	else
		q->unreachable_ms = now;
	pthread_mutex_unlock(&q->mu);
}

/* Takes a free slot, waiting up to wait_ms; NULL when none came free. */
static struct qdb_slot *qdb_checkout(struct qdb *q)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += q->wait_ms / 1000;
	until.tv_nsec += (q->wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&q->mu);
	struct qdb_slot *slot = NULL;
	for (;;) {
		/* prefer a connected slot: a fresh one costs a connect */
		for (size_t i = 0; i < q->n && slot == NULL; i++)
			if (!q->slots[i].busy && q->slots[i].conn != NULL)
				slot = &q->slots[i];
		for (size_t i = 0; i < q->n && slot == NULL; i++)
			if (!q->slots[i].busy)
				slot = &q->slots[i];
		if (slot != NULL || pthread_cond_timedwait(&q->cond, &q->mu, &until) != 0)
			break;
	}
	if (slot != NULL)
		slot->busy = true;
	pthread_mutex_unlock(&q->mu);
	return slot;
}

static void qdb_checkin(struct qdb *q, struct qdb_slot *slot)
{
	pthread_mutex_lock(&q->mu);
	slot->busy = false;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

static void qdb_drop(struct qdb *q, struct qdb_slot *slot)
{
	if (slot->conn != NULL)
		qdb_count(q->lost);
	PQfinish(slot->conn);
	slot->conn = NULL;
	slot->nprepared = 0;
}

static bool qdb_is_prepared(const struct qdb_slot *slot, const struct qdb_stmt *st)
{
	for (size_t i = 0; i < slot->nprepared; i++)
		if (slot->prepared[i] == st)
			return true;
	return false;
}

/* Session set-up of a new connection: the statement timeout, iterative HNSW scans, no parallel
 * workers (a request is one short statement: starting workers cost more than they save, and
 * the search's gated-off half still started them), and the tenant statements prepared (the
 * second also asks for the generic plan, qdb_stmt.generic_plan). Returns DB_OK or a
 * db_status. */
static int qdb_session(struct qdb *q, PGconn *conn, char *err, size_t errlen)
{
	char timeout[32];
	snprintf(timeout, sizeof(timeout), "%lld", q->stmt_timeout_ms);
	const char *params[] = { timeout };
	int rc = db_exec(conn,
	                 "SELECT set_config('statement_timeout', $1, false), "
	                 "set_config('hnsw.iterative_scan', 'strict_order', false), "
	                 "set_config('max_parallel_workers_per_gather', '0', false)",
	                 1, params, NULL, err, errlen);
	if (rc != DB_OK)
		return rc;
	const char *const tenant_stmts[][2] = { { "qdb_tenant", qdb_tenant_sql },
		                                { "qdb_tenant_generic", qdb_tenant_generic_sql } };
	for (size_t i = 0; i < sizeof(tenant_stmts) / sizeof(tenant_stmts[0]); i++) {
		PGresult *res = PQprepare(conn, tenant_stmts[i][0], tenant_stmts[i][1], 1, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "cannot prepare the tenant statement: %s",
			         PQerrorMessage(conn));
			PQclear(res);
			return PQstatus(conn) == CONNECTION_OK ? DB_ERROR : DB_CONN_LOST;
		}
		PQclear(res);
	}
	return DB_OK;
}

/* Makes slot->conn usable: keeps a clean connection, replaces anything else. */
static int qdb_ensure(struct qdb *q, struct qdb_slot *slot, char *err, size_t errlen)
{
	if (slot->conn != NULL && db_is_clean(slot->conn) &&
	    PQpipelineStatus(slot->conn) == PQ_PIPELINE_OFF)
		return QDB_OK;
	qdb_drop(q, slot);
	long long now = backoff_now_ms();
	if (now < slot->next_try) {
		snprintf(err, errlen, "database unreachable (next attempt in %lld ms)",
		         slot->next_try - now);
		return QDB_UNAVAILABLE;
	}
	PGconn *conn = db_connect_attrs(q->url, q->session_attrs, 0, err, errlen);
	if (conn != NULL && qdb_session(q, conn, err, errlen) != DB_OK) {
		PQfinish(conn);
		conn = NULL;
	}
	if (conn == NULL) {
		qdb_count(q->conn_errors);
		slot->next_try = now + q->reconnect_ms;
		if (!slot->down_logged)
			log_warn("database unreachable: %s error=\"%s\"", q->down_effect, err);
		slot->down_logged = true;
		return QDB_UNAVAILABLE;
	}
	if (slot->down_logged)
		log_info("database reachable again");
	slot->down_logged = false;
	qdb_count(q->connects);
	slot->conn = conn;
	return QDB_OK;
}

/* Maps a failed result to a qdb_status, with the reason in err. */
static int qdb_result_error(PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	snprintf(err, errlen, "%s: %.*s", state ? state : "?????", (int)strcspn(msg, "\n"), msg);
	/* No SQLSTATE: libpq's own error, not the server's answer ("server closed the connection
	 * unexpectedly" while the link is not yet marked bad, as on an immediate shutdown
	 * mid-statement): the database is unreachable, not the statement wrong. */
	if (PQstatus(conn) != CONNECTION_OK || state == NULL)
		return QDB_UNAVAILABLE;
	if (strcmp(state, "57014") == 0) /* query_canceled: statement_timeout */
		return QDB_TIMEOUT;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return QDB_UNAVAILABLE; /* connection exception, admin shutdown, cannot connect now */
	return QDB_ERROR;
}

/* Sends the pipeline; returns false when the connection refused it. */
static bool qdb_send(PGconn *conn, const char *tenant, const struct qdb_stmt *st,
                     const char *const *params, bool prepare)
{
	const char *tp[] = { tenant };
	return PQenterPipelineMode(conn) &&
	       PQsendQueryParams(conn, "BEGIN READ ONLY", 0, NULL, NULL, NULL, NULL, 0) &&
	       PQsendQueryPrepared(conn, st->generic_plan ? "qdb_tenant_generic" : "qdb_tenant", 1,
	                           tp, NULL, NULL, 0) &&
	       (!prepare || PQsendPrepare(conn, st->name, st->sql, st->nparams,
	                                  st->text_params ? qdb_text_types : NULL)) &&
	       PQsendQueryPrepared(conn, st->name, st->nparams, params, NULL, NULL, 0) &&
	       PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) &&
	       PQpipelineSync(conn);
}

/* Reads every result up to the Sync. Commands in order: BEGIN, tenant, [Parse], query,
 * COMMIT. Keeps the query's result in *res. */
static int qdb_collect(PGconn *conn, bool prepare, bool *prepared, PGresult **res, char *err,
                       size_t errlen)
{
	int rc = QDB_OK;
	unsigned cmd = 0, query_cmd = prepare ? 3 : 2, nulls = 0;
	for (;;) {
		PGresult *r = PQgetResult(conn);
		if (r == NULL) {
			/* one NULL ends each command; more than that means the link is gone */
			if (PQstatus(conn) != CONNECTION_OK || ++nulls > 16) {
				if (rc == QDB_OK)
					rc = qdb_result_error(conn, NULL, err, errlen);
				return rc == QDB_OK ? QDB_UNAVAILABLE : rc;
			}
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return rc;
		}
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
		    st != PGRES_PIPELINE_ABORTED && rc == QDB_OK)
			rc = qdb_result_error(conn, r, err, errlen);
		if (prepare && cmd == 2 && st == PGRES_COMMAND_OK)
			*prepared = true;
		if (cmd == query_cmd && st == PGRES_TUPLES_OK && rc == QDB_OK)
			*res = r;
		else
			PQclear(r);
		cmd++;
	}
}

/*
 * Which node a connection reached, sampled by one read a second (QDB_REPLICATION_EVERY_MS):
 * aimem_query_db_standby{node} 1 on a hot standby, 0 on a primary, and
 * aimem_query_db_replay_lag_seconds{node}: 0 on a primary or a standby that has replayed all
 * the WAL it received, else the age of the last transaction it replayed. With a list of hosts
 * (libpq multi-host, target_session_attrs) the node is the one this connection is on.
 */
#define QDB_REPLICATION_EVERY_MS 1000
static const char qdb_replication_sql[] =
    "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery() OR "
    "pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
    "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END";

static void qdb_sample_replication(struct qdb *q, PGconn *conn)
{
	long long now = backoff_now_ms();
	pthread_mutex_lock(&q->mu);
	bool due = q->m != NULL && now - q->replication_ms >= QDB_REPLICATION_EVERY_MS;
	if (due)
		q->replication_ms = now;
	pthread_mutex_unlock(&q->mu);
	if (!due)
		return;
	PGresult *res = NULL;
	char err[256], labels[320]; /* a host name is at most 255 bytes */
	if (db_exec(conn, qdb_replication_sql, 0, NULL, &res, err, sizeof(err)) != DB_OK) {
		log_debug("cannot sample the node's replication state error=\"%s\"", err);
		return;
	}
	snprintf(labels, sizeof(labels), "node=\"%s:%s\"", PQhost(conn), PQport(conn));
	bool standby = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	double lag = PQntuples(res) == 1 ? strtod(PQgetvalue(res, 0, 1), NULL) : 0;
	PQclear(res);
	metrics_gauge_set(metrics_gauge(q->m, "aimem_query_db_standby",
	                                "1: the node a read was last served by is a hot standby.",
	                                labels),
	                  standby);
	metrics_gauge_set(metrics_gauge(q->m, "aimem_query_db_replay_lag_seconds",
	                                "How far the node's replay is behind what it received "
	                                "(0 on a primary or a caught-up standby).",
	                                labels),
	                  lag);
}

static int qdb_attempt(struct qdb *q, struct qdb_slot *slot, const char *tenant,
                       const struct qdb_stmt *st, const char *const *params, PGresult **res,
                       char *err, size_t errlen)
{
	int rc = qdb_ensure(q, slot, err, errlen);
	if (rc != QDB_OK)
		return rc;
	bool prepare = !qdb_is_prepared(slot, st), prepared = false;
	PGconn *conn = slot->conn;
	qdb_sample_replication(q, conn);
	if (!qdb_send(conn, tenant, st, params, prepare)) {
		rc = qdb_result_error(conn, NULL, err, errlen);
		if (rc == QDB_ERROR)
			rc = QDB_UNAVAILABLE; /* a send that fails is a connection problem */
	} else {
		rc = qdb_collect(conn, prepare, &prepared, res, err, errlen);
	}
	if (prepared) {
		if (slot->nprepared == QDB_MAX_STMTS)
			abort(); /* a programming error: more statements than QDB_MAX_STMTS */
		slot->prepared[slot->nprepared++] = st;
	}
	if (PQstatus(conn) == CONNECTION_OK && !PQexitPipelineMode(conn))
		rc = rc == QDB_OK ? QDB_UNAVAILABLE : rc; /* results left: drop it below */
	if (rc != QDB_OK && *res != NULL) {
		PQclear(*res);
		*res = NULL;
	}
	db_rollback(conn); /* a failed statement leaves the transaction aborted */
	if (PQstatus(conn) != CONNECTION_OK || !db_is_clean(conn))
		qdb_drop(q, slot);
	return rc;
}

int qdb_query(struct qdb *q, long long tenant, const struct qdb_stmt *st, const char *const *params,
              PGresult **res, char *err, size_t errlen)
{
	*res = NULL;
	if (st->text_params && st->nparams > QDB_TEXT_PARAMS_MAX) {
		snprintf(err, errlen, "%s: %d text parameters, at most %d", st->name, st->nparams,
		         QDB_TEXT_PARAMS_MAX);
		return QDB_ERROR;
	}
	struct qdb_slot *slot = qdb_checkout(q);
	if (slot == NULL) {
		qdb_count(q->exhausted);
		snprintf(err, errlen, "no database connection free within %lld ms", q->wait_ms);
		return QDB_UNAVAILABLE;
	}
	char tid[24];
	snprintf(tid, sizeof(tid), "%lld", tenant);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	bool had_conn = slot->conn != NULL;
	int rc = qdb_attempt(q, slot, tid, st, params, res, err, errlen);
	if (rc == QDB_UNAVAILABLE && had_conn && slot->conn == NULL)
		rc = qdb_attempt(q, slot, tid, st, params, res, err, errlen); /* once, fresh */
	clock_gettime(CLOCK_MONOTONIC, &b);
	qdb_note(q, rc != QDB_UNAVAILABLE); /* a timeout or a failed statement still answered */
	if (q->latency != NULL && rc == QDB_OK)
		metrics_observe(q->latency, (double)(b.tv_sec - a.tv_sec) +
		                                (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	qdb_checkin(q, slot);
	return rc;
}

/* SELECT 1 on a pooled connection: 1 answered, 0 unreachable, -1 no connection free. */
static int qdb_probe(struct qdb *q)
{
	struct qdb_slot *slot = qdb_checkout(q);
	if (slot == NULL)
		return -1;
	char err[256];
	bool ok = qdb_ensure(q, slot, err, sizeof(err)) == QDB_OK;
	if (ok) {
		ok = db_exec(slot->conn, "SELECT 1", 0, NULL, NULL, err, sizeof(err)) == DB_OK;
		if (!ok || !db_is_clean(slot->conn))
			qdb_drop(q, slot);
	}
	qdb_checkin(q, slot);
	qdb_note(q, ok);
	return ok;
}

bool qdb_ready(struct qdb *q, char *why, size_t whylen)
{
	int rc = qdb_probe(q);
	if (rc < 0)
		snprintf(why, whylen, "every database connection is busy");
	else if (rc == 0)
		snprintf(why, whylen, "database not reachable");
	return rc == 1;
}

bool qdb_healthy(struct qdb *q, long long max_age_ms)
{
	long long now = backoff_now_ms();
	pthread_mutex_lock(&q->mu);
	bool answered = q->answered_ms != 0 && q->answered_ms >= q->unreachable_ms;
	long long last = answered ? q->answered_ms : q->unreachable_ms;
	bool probe = (last == 0 || now - last >= max_age_ms) && !q->probing;
	q->probing = q->probing || probe;
	pthread_mutex_unlock(&q->mu);
	if (!probe)
		return answered;
	int rc = qdb_probe(q);
	pthread_mutex_lock(&q->mu);
	q->probing = false;
	pthread_mutex_unlock(&q->mu);
	return rc < 0 ? answered : rc == 1;
}

/*
 * erase: "aimem erase --customer N --user U", the right to be forgotten for one caller.
 *
 * In one transaction with the tenant set (db_begin_tenant), deletes the caller's rows from
 * every tenant table (call_summaries, caller_profiles, personality_metrics,
 * personality_averages, the caller's own memories, caller_facts, the passages of its calls in
 * call_chunks with the tenant's search statistics decremented by them, its stored context
 * caller_context; shared memories have
 * no caller and stay) and upserts the caller into `erasures`, whose row the workers read to drop
 * later events of that caller (so a replay or a late event never brings the rows back).
 * Idempotent: a second run deletes nothing and refreshes erased_at; rows_deleted accumulates.
 *
 * Not here: anything in Kafka. Transcripts stay on the topics until retention deletes them
 * (README, "Erasing a caller").
 */
#ifndef AIMEM_ERASE_H
#define AIMEM_ERASE_H

#include <libpq-fe.h>
#include <stdio.h>

#define ERASE_NTABLES 8

struct erase_report {
	const char *table[ERASE_NTABLES]; /* static names */
	long long deleted[ERASE_NTABLES];
	long long total;
};

/* Erases user_id of customer_id on conn (aimem_worker or an administrator). Returns 0 with
 * the counts, or -1 with err set and nothing changed (rolled back). Blocks. */
int erase_run(PGconn *conn, long long customer_id, const char *user_id, struct erase_report *r,
              char *err, size_t errlen) __attribute__((warn_unused_result));

/* The report as a small table (or one JSON object when json). */
void erase_print(FILE *out, long long customer_id, const char *user_id,
                 const struct erase_report *r, int json);

#endif

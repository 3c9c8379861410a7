/*
 * dead_letters: "aimem dead-letters list|show|requeue", the operator's side of dead_letters
 * (DESIGN §5: what a worker could not process, kept with the offset it advanced past).
 *
 * list: rows filtered by group, topic, tenant (--customer), error code and the time they were
 * dead-lettered (--since/--until: RFC 3339 or a duration back from now, e.g. 24h), newest
 * first, as a table or JSON. show: every group's row of one message (--topic, --partition,
 * --offset) with its error and the stored payload prefix.
 *
 * requeue: for each message the filters select (once per message, whichever groups
 * dead-lettered it), reads the whole payload back from the source topic (or from the stored
 * prefix when that holds all of it), checks it is the message that was dead-lettered, gives it
 * a new event id and publishes it to the same topic with the same key through the idempotent
 * producer; when the broker acknowledged, every row of that message gets requeued_at,
 * requeued_event_id and requeued_to (migration 008), in the transaction that held those rows
 * locked meanwhile, so two operators never requeue one message twice and a second run
 * publishes nothing (--again overrides). A payload that is not JSON, not an event, or keyed
 * for another tenant than it names is refused with the reason and stays a dead letter;
 * --dry-run only says what it would do. The new message carries headers aimem-requeued-from
 * (topic/partition/offset) and aimem-original-event-id. Every group of the topic processes the
 * copy: the upserts make that harmless for the groups that had succeeded.
 *
 * Not here: fixing the payload. A malformed event stays refused; requeue is for events that
 * failed for a reason that has since gone (an LLM outage under the dead-letter policy, a limit
 * or a constraint since raised, a bug since fixed).
 */
#ifndef AIMEM_DEAD_LETTERS_H
#define AIMEM_DEAD_LETTERS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

#include "cfg.h"

enum dead_letters_cmd { DEAD_LETTERS_LIST, DEAD_LETTERS_SHOW, DEAD_LETTERS_REQUEUE };

struct dead_letters_opts {
	enum dead_letters_cmd cmd;
	const char *group, *topic, *code; /* NULL: any */
	long long customer;               /* 0: every tenant */
	long long since_ms, until_ms;     /* Unix ms; -1: open */
	long long partition, offset;      /* -1: any */
	long long limit;
	bool json;            /* list, show */
	bool pending;         /* list: only rows never requeued */
	bool dry_run;         /* requeue: change nothing */
	bool again;           /* requeue: also messages already requeued */
	long long timeout_ms; /* each broker request and delivery */
	FILE *out;
};

extern const char dead_letters_usage[];

/* The filters of list and requeue as a WHERE clause over $1..$9 (dead_letters_filter fills
 * them): group, topic, tenant, since, until, error code, partition, offset, and $9 true to
 * include requeued rows. */
#define DEAD_LETTERS_WHERE                                                                         \
	" WHERE ($1::text IS NULL OR consumer_group = $1) AND ($2::text IS NULL OR topic = $2)"    \
	" AND ($3::int IS NULL OR customer_id = $3)"                                               \
	" AND ($4::bigint IS NULL OR received_at >= to_timestamp($4::bigint / 1000.0))"            \
	" AND ($5::bigint IS NULL OR received_at < to_timestamp($5::bigint / 1000.0))"             \
	" AND ($6::text IS NULL OR error_code = $6) AND ($7::int IS NULL OR partition = $7)"       \
	" AND ($8::bigint IS NULL OR \"offset\" = $8) AND ($9::bool OR requeued_at IS NULL)"

struct dead_letters_filter {
	const char *v[9]; /* point into the buffers below or into the options */
	char customer[24], since[24], until[24], partition[24], offset[24];
};

/* The parameters of DEAD_LETTERS_WHERE for o (o's strings borrowed). */
void dead_letters_filter(const struct dead_letters_opts *o, bool with_requeued,
                         struct dead_letters_filter *f);

/* Parses "list|show|requeue [options]" (argv[0] is "dead-letters"; cli/cmdline: "--opt value"
 * and "--opt=value", --help). Returns 0, or -1 with *status the exit code: 0 after --help (the
 * usage printed), 2 after a usage error (said on stderr). now_ms resolves durations. */
int dead_letters_parse(int argc, char **argv, long long now_ms, struct dead_letters_opts *o,
                       int *status) __attribute__((warn_unused_result));

/* Runs the command on conn (aimem_worker or an administrator); requeue also needs cfg's kafka.*
 * settings. Returns 0, 1 when requeue refused or failed some message (each reported on
 * stderr), or -1 with err. Blocks. */
int dead_letters_run(PGconn *conn, const struct cfg *cfg, const struct dead_letters_opts *o,
                     char *err, size_t errlen) __attribute__((warn_unused_result));

#endif

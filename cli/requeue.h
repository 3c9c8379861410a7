/*
 * requeue: "aimem dead-letters requeue", dead-lettered events back onto their source topic
 * with a new event id recorded against the old (the contract is in dead_letters.h).
 *
 * Per message, in one transaction: lock its dead_letters rows (every group's), read the whole
 * payload back (topic, or the stored prefix when complete), check it is the same message, new
 * event id, validate, produce and wait for the acknowledgement, mark the rows, COMMIT. A
 * failure between the acknowledgement and the COMMIT leaves a copy on the topic and the rows
 * unmarked: a second requeue publishes another copy, which the upserts converge.
 */
#ifndef AIMEM_REQUEUE_H
#define AIMEM_REQUEUE_H

#include <libpq-fe.h>

#include "cfg.h"
#include "dead_letters.h"

/* Returns 0 when every selected message was requeued (or would be: dry run), 1 when some were
 * refused or failed (each reported on stderr), -1 with err when it could not start. Blocks. */
int requeue_run(PGconn *conn, const struct cfg *cfg, const struct dead_letters_opts *o, char *err,
                size_t errlen) __attribute__((warn_unused_result));

#endif

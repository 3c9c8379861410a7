/*
 * proc: the built-in call processors (DESIGN §5): from a decoded call.ended event to a
 * summary, key topics, key variables, the caller's name, sentiment, resolution and a
 * 384-dimension embedding, with no network and no model.
 *
 * These are honest heuristics (sentence scoring, lexicons, pattern scanners, hashed n-grams),
 * documented with their weights and failure modes in docs/processors.md. The lexicons live
 * in plain text files (workers/lexicons/) loaded once at start-up.
 *
 * Pure functions: no global mutable state, no logging (transcript text never leaves through
 * here except in the result), thread-safe given an immutable struct proc_lexicons, bounded
 * work linear in the event's size.
 *
 * Not here: LLM processing, personality scores, database rows, Kafka.
 */
#ifndef AIMEM_PROC_H
#define AIMEM_PROC_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "cfg.h"
#include "event.h"
#include "proc_embed.h"

/* Recorded on each row; bump the number when outputs change. */
#define PROC_BUILTIN_NAME "builtin-extractive/3"

/* Loaded once at start-up, immutable, shared by threads. */
struct proc_lexicons;

/* The lexicons.dir row of the tables of the programs that run the built-in processors (the
 * call workers, `aimem summarize`); off: the offset of a char * field; help_text: what the
 * program reads them for. A CFG_DATA path: found next to the program (lib/datadir). */
/* clang-format off */
#define PROC_LEXICONS_CFG_ITEM(off, help_text) \
	{ .key = "lexicons.dir", .type = CFG_STRING, .def = "workers/lexicons", .flags = CFG_DATA, \
	  .offset = (off), .help = (help_text) }
/* clang-format on */

/*
 * Loads the lexicon files of dir (e.g. "workers/lexicons"). NULL with a precise
 * "dir/file.txt:line: reason" in err when a file is missing or malformed. The result is
 * owned by the caller (proc_lexicons_free) and read-only from then on.
 */
struct proc_lexicons *proc_lexicons_load(const char *dir, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Frees *lx (NULL is fine) and clears the pointer. */
void proc_lexicons_free(struct proc_lexicons **lx);

struct proc_result {
	char *summary;          /* owned; 2-3 sentences in the third person: what the caller
	                           wanted, what was done or promised; <= PROC_SUMMARY_MAX bytes */
	json_t *key_topics;     /* owned JSON array of topic names, most relevant first, <= 5 */
	json_t *key_variables;  /* owned JSON object: caller_name, phone_numbers[], emails[],
	                           policy_numbers[], claim_numbers[], amounts[], dates[],
	                           vehicles[]: only keys that were found */
	char *caller_name;      /* owned or NULL: the name the caller gave for themselves */
	const char *sentiment;  /* static: "positive" | "neutral" | "negative" | "frustrated" */
	double sentiment_score; /* -1..1 over the caller's turns */
	const char *resolution; /* static: "resolved" | "unresolved" | "follow_up" | "escalated" |
	                           "transferred" | "unknown" (docs/processors.md) */
	float embedding[PROC_EMBED_DIM]; /* L2-normalised embedding of summary + topics */
};

#define PROC_SUMMARY_MAX 480

/*
 * Processes one call. lx and call are borrowed (call's text only during the call). On 0,
 * *out is filled and owned by the caller (proc_result_release). -1 only for unusable
 * arguments (NULL pointers, no turns), with err set and *out empty. Any valid event
 * processes; invalid UTF-8 is tolerated. Thread-safe; allocates; does not block.
 */
int proc_run(const struct proc_lexicons *lx, const struct event_call *call, struct proc_result *out,
             char *err, size_t errlen) __attribute__((warn_unused_result));
struct proc_tenants; /* proc_tenant.h: tenants' own topics */

/*
 * proc_run with the tenant's own topics (proc_tenant.h) when tn has a file for customer_id;
 * the same as proc_run otherwise (tn may be NULL). tn is borrowed, read-only.
 */
int proc_run_tenant(const struct proc_lexicons *lx, const struct proc_tenants *tn,
                    long long customer_id, const struct event_call *call, struct proc_result *out,
                    char *err, size_t errlen) __attribute__((warn_unused_result));
/* Frees what *r owns and zeroes it; a zeroed result is fine. */
void proc_result_release(struct proc_result *r);

#endif

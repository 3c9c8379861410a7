/*
 * summarize: "aimem summarize [FILE|-]", call.ended events (JSON Lines) through the processors
 * the workers use, with no Kafka and no PostgreSQL: one JSON line per event on out.
 *
 * Each non-empty line is decoded with lib/event as the workers decode a message (the same
 * limits; any other event type is refused), then given to the built-in processors
 * (calls/proc: summary, topics, key variables, caller name, sentiment, resolution) and the
 * built-in personality scorer (calls/personality), or, with a model, to the summarizer's
 * prompt and answer parser (calls/summary_model, the built-in result filling what the answer
 * leaves empty) with up to llm.max_in_flight calls at once. A bad line or a failed model
 * request is reported on stderr with its line number and skipped; the rest go on. The
 * personality scores are always the built-in scorer's.
 *
 * Not here: storing anything, the workers' unavailability policies (a model failure is
 * reported, never replaced by the built-in result), embeddings in the output.
 */
#ifndef AIMEM_SUMMARIZE_H
#define AIMEM_SUMMARIZE_H

#include <stdbool.h>
#include <stdio.h>

#include "proc.h"
#include "llm_settings.h"

struct summarize_opts {
	const char *path;               /* "-" for standard input */
	const struct proc_lexicons *lx; /* borrowed */
	const struct llm_model *model;  /* borrowed; NULL: the built-in processors */
	bool summary, personality;      /* what each line carries (--only) */
	FILE *out;
};

struct summarize_report {
	long long lines, printed, bad, failed;
};

/* Returns 0 when every line was printed, 1 when some were bad or failed, 2 on a setup error
 * (err set: the file cannot be opened). Blocks on the model's answers. */
int summarize_run(const struct summarize_opts *o, struct summarize_report *r, char *err,
                  size_t errlen);

#endif

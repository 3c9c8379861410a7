/*
 * import_previous: "aimem import-previous --from <conninfo>", a copy of the previous Python
 * service's database (docs: /shared PREVIOUS_SERVICE.md) into ours, tenant by tenant.
 *
 * Per tenant (the previous customer_id, NULL read as its default 1), in one transaction with
 * the tenant set (db_begin_tenant), upserts keyed as in our schema:
 * - memories: the newest row per (scope, caller, type, key), since the previous service
 *   appended a row per save; memory_id is the previous id; a row already newer here (a live
 *   write) is kept;
 * - call_summaries: summary, topics, key variables, sentiment, resolution, duration; the
 *   embedding recomputed with the built-in embedder over summary + topics (as the summarizer
 *   does; the previous 768-dim vectors were random) and the full-text vector likewise;
 *   event_id is the previous row id;
 * - personality_metrics: the 13 scores clamped to 0..100 (missing: 50), confidence
 *   IMPORT_CONFIDENCE (the previous scores were keyword rules, so calls our workers score
 *   weigh more);
 * - caller_profiles: recounted from the summaries (first/last call, total), the name from
 *   the newest call that has one else the previous preferred_name, preferences and context
 *   merged (keys already here win);
 * - personality_averages: recomputed from the metrics (confidence-weighted means, recent 3,
 *   trends) as aimem-personality does; the previous averages are not copied.
 * Every imported summary and metric carries processor "import:previous" and is rewritten by
 * a re-run only when it is still an imported row and something differs, so a re-run writes
 * nothing and never overwrites what our workers produced. Rows our schema refuses (a
 * call_id outside [A-Za-z0-9._:-]{1,128}, an empty caller, an empty key) are skipped and
 * counted.
 *
 * Not here: chunking (a tenant's rows travel as one JSON parameter per table: fine for
 * millions of small rows, not for a tenant beyond ~1 GB of text).
 */
#ifndef AIMEM_IMPORT_PREVIOUS_H
#define AIMEM_IMPORT_PREVIOUS_H

#include <libpq-fe.h>
#include <stdio.h>

#define IMPORT_PROCESSOR "import:previous"
#define IMPORT_CONFIDENCE "0.3"

/* src: the previous database (read only); dst: ours (aimem_worker or an administrator).
 * Prints one line per tenant and a total to out. Returns 0 when every tenant was imported,
 * 1 when some failed (each rolled back, named on stderr), -1 with err when nothing could
 * start. Blocks. */
int import_previous_run(PGconn *src, PGconn *dst, FILE *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

/*
 * redact_event: the redactor applied to events, where the programs meet it. aimem-ingest and
 * `aimem publish` redact every call.ended event before it is produced and record what was done
 * in its metadata; the workers redact again whatever they read (events produced by other
 * tools) before anything is stored or sent to a model.
 *
 * A struct redact_edge holds the policy (redact_policy.h, reloadable), the metric
 * aimem_redactions_total{kind} and a pool of redactors for the threads that call it. The
 * metadata it records: "redaction": {"policy": "<version>", "counts": {"card": 1, ...}} (a
 * client's own "redaction" member is replaced). Never logs; counts only.
 *
 * memory.put events get their value's strings and integers redacted (each on its own; a card
 * stored as a number becomes its placeholder string; object keys are kept, so two keys never
 * become one); they have no metadata member, so their counts go to the metric only.
 *
 * Not here: finding values (redact.h).
 */
#ifndef AIMEM_REDACT_EVENT_H
#define AIMEM_REDACT_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "metrics.h"
#include "redact.h"

struct redact_edge;

/* Loads the policy of s (borrowed for the call); m (may be NULL) gets the counters. NULL with
 * err on a bad policy. */
struct redact_edge *redact_edge_new(const struct redact_settings *s, struct metrics *m, char *err,
                                    size_t errlen) __attribute__((warn_unused_result));
/* A worker program's: redact_edge_new, and SIGHUP (prog_on_reload) reads the policy again
 * from the fresh settings, where s sits at offset. The program sets no other reload function. */
struct redact_edge *redact_edge_start(const struct redact_settings *s, size_t offset,
                                      struct metrics *m, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* --check-config: the policy loads (redact.kinds parses, redact.tenant_dir's files too). */
int redact_settings_check(const struct redact_settings *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* SIGHUP: the policy read again (redact_policy_reload). */
int redact_edge_reload(struct redact_edge *e, const struct redact_settings *s, char *err,
                       size_t errlen) __attribute__((warn_unused_result));
/* Frees *e (NULL is fine); one from redact_edge_start also stops the reload. */
void redact_edge_free(struct redact_edge **e);

/*
 * Redacts the turns of a call.ended event, or the strings of a memory.put's value (other
 * types: nothing), with its tenant's kinds, in place: changed texts move to ev->rewritten.
 * With record, ev->raw becomes the text to produce: a call.ended gets metadata.redaction
 * (spliced in, or the event encoded again when a text changed), a changed memory.put is
 * encoded again. Returns the number of values replaced; counts (may be NULL) per kind. Any
 * thread.
 */
size_t redact_edge_event(struct redact_edge *e, struct event *ev, bool record,
                         unsigned counts[REDACT_NKINDS]);

#endif

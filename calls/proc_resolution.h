/*
 * proc_resolution: how the call ended (resolved, unresolved, escalated, follow_up) from cue
 * phrases (workers/lexicons/resolution.txt) in the call's tail: the last third of the turns,
 * at least the last PROC_RES_TAIL_MIN. Agent cues count in agent turns only, caller cues in
 * caller turns only.
 *
 * Decision, in order:
 *   escalated  escalation cues >= 2, unless resolved cues >= 3 came in later turns (the
 *              supervisor fixed it on the call);
 *   follow_up  follow-up cues >= 2 and >= the resolved cues;
 *   resolved   resolved cues (agent actions, "anything else" closings, caller thanks) >= 2
 *              and more than the unresolved cues;
 *   unresolved otherwise.
 *
 * Not here: judging whether the caller was actually helped; cues are what people say.
 */
#ifndef AIMEM_PROC_RESOLUTION_H
#define AIMEM_PROC_RESOLUTION_H

#include <stdbool.h>
#include <stddef.h>

#include "proc_lex.h"

#define PROC_RES_TAIL_MIN 8

struct proc_resolution {
	size_t tail_start;         /* first turn index counted */
	float sum[PROC_RES_COUNT]; /* cue weights per category in the tail */
	float resolved_after_escalation;
	bool escalated_seen;
};

void proc_resolution_init(struct proc_resolution *r, size_t nturns);
void proc_resolution_on_tag(struct proc_resolution *r, const struct proc_tag *tag, size_t turn,
                            bool caller);
/* "resolved" | "unresolved" | "escalated" | "follow_up" (static) */
const char *proc_resolution_label(const struct proc_resolution *r);

#endif

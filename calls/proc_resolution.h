/*
 * proc_resolution: what the call's end says happened, from cue phrases
 * (workers/lexicons/resolution.txt) in the call's tail: the last third of the turns, at least
 * the last PROC_RES_TAIL_MIN. Agent cues count in agent turns only, caller cues in caller
 * turns only.
 *
 * Decision, in order:
 *   escalated    escalation cues >= 2 ("let me get my supervisor"), or a transfer (below)
 *                with an escalation cue ("transfer you to my supervisor"), unless resolved
 *                cues >= 3 came in later turns (the supervisor fixed it on the call);
 *   transferred  transfer cues >= 2 ("I'll put you through to billing"), with the same
 *                exception;
 *   follow_up    follow-up cues >= 2 ("we'll call you back", "I'll send it") and >= the
 *                agent's resolved cues;
 *   resolved     resolved cues (agent actions and hand-overs: "I've booked", "here you are",
 *                "your total is"; closings; the caller's "I'll take it", thanks) >= 2 and
 *                more than the unresolved cues;
 *   unresolved   unresolved cues ("we're sold out", "there's nothing I can do", the caller's
 *                "I'll think about it") >= 2 and at least the resolved ones;
 *   unknown      otherwise: the transcript does not say (a hang-up, a chat with no outcome).
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
	size_t tail_start;             /* first turn index counted */
	float sum[PROC_RES_COUNT];     /* cue weights per category in the tail */
	float resolved_after_handover; /* resolved cues after the last escalation or transfer */
	bool handed_over;              /* an escalation or transfer cue was seen */
};

void proc_resolution_init(struct proc_resolution *r, size_t nturns);
void proc_resolution_on_tag(struct proc_resolution *r, const struct proc_tag *tag, size_t turn,
                            bool caller);
/* "resolved" | "unresolved" | "follow_up" | "escalated" | "transferred" | "unknown"
 * (static) */
const char *proc_resolution_label(const struct proc_resolution *r);

#endif

/*
 * proc_resolution: cue sums in the call's tail and the decision rule (see
 * proc_resolution.h).
 */
#include "proc_resolution.h"

#include <string.h>

void proc_resolution_init(struct proc_resolution *r, size_t nturns)
{
	memset(r, 0, sizeof(*r));
	size_t tail = nturns / 3;
	if (tail < PROC_RES_TAIL_MIN)
		tail = PROC_RES_TAIL_MIN;
	r->tail_start = nturns > tail ? nturns - tail : 0;
}

/* Agent categories count in agent turns, caller categories in caller turns. */
static bool res_role_ok(unsigned cat, bool caller)
{
	bool caller_cat = cat == PROC_RES_CALLER_RESOLVED || cat == PROC_RES_CALLER_UNRESOLVED;
	return caller_cat == caller;
}

void proc_resolution_on_tag(struct proc_resolution *r, const struct proc_tag *tag, size_t turn,
                            bool caller)
{
	if (turn < r->tail_start || tag->cat >= PROC_RES_COUNT || !res_role_ok(tag->cat, caller))
		return;
	r->sum[tag->cat] += tag->weight;
	if (tag->cat == PROC_RES_ESCALATED) {
		r->escalated_seen = true;
		r->resolved_after_escalation = 0;
	} else if (tag->cat == PROC_RES_RESOLVED && r->escalated_seen) {
		r->resolved_after_escalation += tag->weight;
	}
}

const char *proc_resolution_label(const struct proc_resolution *r)
{
	const float *s = r->sum;
	float resolved = s[PROC_RES_RESOLVED] + s[PROC_RES_CLOSING] + s[PROC_RES_CALLER_RESOLVED];
	float unresolved = s[PROC_RES_UNRESOLVED] + s[PROC_RES_CALLER_UNRESOLVED];
	if (s[PROC_RES_ESCALATED] >= 2 && r->resolved_after_escalation < 3)
		return "escalated";
	if (s[PROC_RES_FOLLOW_UP] >= 2 && s[PROC_RES_FOLLOW_UP] >= s[PROC_RES_RESOLVED])
		return "follow_up";
	if (resolved >= 2 && resolved > unresolved)
		return "resolved";
	return "unresolved";
}

/*
 * proc_resolution: cue sums in the call's tail and the decision rule (see
 * proc_resolution.h).
 */
#include "proc_resolution.h"

#include <string.h>

#define RES_ENOUGH 2.0f      /* cue weight that decides a label */
#define RES_FIXED_AFTER 3.0f /* resolved cues after a hand-over that undo it */

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
	if (tag->cat == PROC_RES_ESCALATED || tag->cat == PROC_RES_TRANSFERRED) {
		r->handed_over = true;
		r->resolved_after_handover = 0;
	} else if (tag->cat == PROC_RES_RESOLVED && r->handed_over) {
		r->resolved_after_handover += tag->weight;
	}
}

const char *proc_resolution_label(const struct proc_resolution *r)
{
	const float *s = r->sum;
	float resolved = s[PROC_RES_RESOLVED] + s[PROC_RES_CLOSING] + s[PROC_RES_CALLER_RESOLVED];
	float unresolved = s[PROC_RES_UNRESOLVED] + s[PROC_RES_CALLER_UNRESOLVED];
	bool fixed_after = r->resolved_after_handover >= RES_FIXED_AFTER;
	/* "let me transfer you to my supervisor": a transfer with a supervisor in it */
	bool to_supervisor = s[PROC_RES_ESCALATED] >= 1 && s[PROC_RES_TRANSFERRED] >= RES_ENOUGH;
	if ((s[PROC_RES_ESCALATED] >= RES_ENOUGH || to_supervisor) && !fixed_after)
		return "escalated";
	if (s[PROC_RES_TRANSFERRED] >= RES_ENOUGH && !fixed_after)
		return "transferred";
	if (s[PROC_RES_FOLLOW_UP] >= RES_ENOUGH && s[PROC_RES_FOLLOW_UP] >= s[PROC_RES_RESOLVED])
		return "follow_up";
	if (resolved >= RES_ENOUGH && resolved > unresolved)
		return "resolved";
	if (unresolved >= RES_ENOUGH)
		return "unresolved";
	return "unknown";
}

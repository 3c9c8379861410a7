/*
 * context_text: the prompt-ready caller context text (the previous service's layout, which
 * ChatStack pastes into the agent's instructions and regexes the caller's name out of).
 * Rendered by the workers when they rewrite a caller's stored context (context.h), and served
 * as stored by aimem-query's /v2/context/enriched and format=text; it lives in calls/ because
 * only the call-processing programs render it (aimem-query only concatenates stored pieces).
 *
 * Input is the native context document (GET /v3/callers/{id}/context), parsed:
 *   {"known", "profile": {...}|null, "personality": {...}|null, "summaries": [...]}
 * Output, sections present only when there is data for them:
 *
 *   === CALLER PROFILE ===
 *   Name: Kelly Nguyen (preferred name)      <- only when a name is known
 *   Total Calls: 4
 *   First Call: 2026-10-02 14:03:11
 *   Last Call: 2026-11-20 15:09:41
 *
 *   CALLER PERSONALITY PROFILE:
 *   Communication Style: formal              <- 0-100 scores as labels (context_text_label)
 *   ...
 *   Trend: Satisfaction is improving
 *
 *   === KNOWN FACTS ===                      <- current caller facts, newest first
 *   Address: 45 Elm Avenue, Irvine, CA 92618 (2 calls, last 2026-11-02)
 *   Prefers contact by: text message (1 call, last 2026-11-02)
 *   Appointment: Tuesday at 3 pm (said 2026-10-15)
 *
 *   === RECENT CALL SUMMARIES ===
 *
 *   Call 1 (2026-11-20 15:09:41):
 *     Summary: ...
 *     Topics: billing, auto_policy
 *     Key Info: {"policy_number":"AP-449120"}
 *     Sentiment: frustrated
 *
 * The name is followed by " (preferred name)" so ChatStack's regex, whose \s+ crosses line
 * breaks, stops at the '(' instead of swallowing the next line's first word. Text that came
 * from calls (names, summaries, topics) is flattened to one line each (control characters
 * become spaces) so a caller cannot forge a header or a line of the layout; names keep only
 * letters, spaces, '-', '\'' and '.'.
 *
 * The KNOWN FACTS block (the document's "facts", caller_facts) is bounded (1200 bytes, 160 per
 * value; the read already caps it at 20 facts), leaves the name out (the Name line has it) and
 * can never trip ChatStack's name regex, (?:Name|caller[_\s]name|identity[_\s]name):\s*...
 * case-insensitive: no label ends in "name", and a ':' inside a value becomes a space unless it
 * sits between two digits (3:30).
 *
 * Pure; thread-safe; allocates only in out.
 */
#ifndef AIMEM_CONTEXT_TEXT_H
#define AIMEM_CONTEXT_TEXT_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"

struct context_text_info {
	int summary_count;    /* summaries written */
	bool has_personality; /* the personality block is present */
	bool has_name;        /* a Name: line is present */
	int fact_count;       /* KNOWN FACTS lines written */
};

/* What an unknown caller's profile section says (after the header line). */
#define CONTEXT_TEXT_NEW_CALLER "New caller: no previous calls on record.\n"
/* The whole text of an unknown caller (no row stored): what context_text_render gives for
 * {"known":false,"profile":null,"personality":null,"facts":[],"summaries":[]}. */
#define CONTEXT_TEXT_UNKNOWN "=== CALLER PROFILE ===\n" CONTEXT_TEXT_NEW_CALLER

/* Appends the text for ctx (borrowed) to out; info may be NULL. The same bytes as
 * context_text_head followed by context_text_summary_block for each summary, 1-based. */
void context_text_render(const json_t *ctx, struct buf *out, struct context_text_info *info);

/* The text before the summaries (profile, personality, facts) appended to out; info (may be
 * NULL) gets everything but summary_count. Returns the bytes appended. */
size_t context_text_head(const json_t *ctx, struct buf *out, struct context_text_info *info);

/* Summary n (1-based) of the text appended to out: the first one carries the section header,
 * so the text of the newest k summaries is the head followed by blocks 1..k. */
void context_text_summary_block(const json_t *summary, int n, struct buf *out);

/* The label of a 0..100 score: <35 "very <low>", <45 low, <55 "neutral", <65 high, else
 * "very <high>". Writes into out (64 bytes). */
void context_text_label(double score, const char *low, const char *high, char out[64]);

/* "2026-11-20T15:09:41Z" (or with fractions / an offset) -> "2026-11-20 15:09:41" into out
 * (20 bytes); other text is copied as it is, cut to fit. */
void context_text_time(const char *rfc3339, char out[20]);

#endif

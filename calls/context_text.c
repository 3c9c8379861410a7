/*
 * context_text: the compat context text (see context_text.h). Every line is built from the
 * parsed native document; nothing here touches the database.
 */
#include "context_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define CONTEXT_TEXT_NAME_MAX 64
#define CONTEXT_TEXT_FACT_VALUE_MAX 160   /* bytes of one fact's value */
#define CONTEXT_TEXT_FACTS_MAX_BYTES 1200 /* the KNOWN FACTS lines together */

void context_text_label(double score, const char *low, const char *high, char out[64])
{
	if (score < 35)
		snprintf(out, 64, "very %s", low);
	else if (score < 45)
		snprintf(out, 64, "%s", low);
	else if (score < 55)
		snprintf(out, 64, "neutral");
	else if (score < 65)
		snprintf(out, 64, "%s", high);
	else
		snprintf(out, 64, "very %s", high);
}

void context_text_time(const char *s, char out[20])
{
	size_t n = strnlen(s, 19);
	memcpy(out, s, n);
	out[n] = '\0';
	if (n == 19 && s[10] == 'T')
		out[10] = ' ';
}

/* Appends s on one line: control characters (newlines included) become one space. */
static void context_text_flat(struct buf *out, const char *s)
{
	bool space = false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			space = true;
			continue;
		}
		if (space)
			buf_putc(out, ' ');
		space = false;
		buf_putc(out, (char)*p);
	}
}

/* The name as letters (any UTF-8 letter byte), single spaces, '-', '\'' and '.', trimmed and
 * capped; returns its length (0: nothing usable). */
static size_t context_text_name(const char *s, char out[CONTEXT_TEXT_NAME_MAX + 1])
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && n < CONTEXT_TEXT_NAME_MAX;
	     p++) {
		unsigned char ch = *p;
		bool letter = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch >= 0x80;
		if (letter || ch == '-' || ch == '\'' || ch == '.')
			out[n++] = (char)ch;
		else if ((ch == ' ' || ch == '\t') && n > 0 && out[n - 1] != ' ')
			out[n++] = ' ';
	}
	/* a cut may split a UTF-8 sequence: drop a trailing partial one */
	size_t i = n;
	while (i > 0 && ((unsigned char)out[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)out[i - 1] >= 0xc0) {
		unsigned char lead = (unsigned char)out[i - 1];
		size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
		if (n - (i - 1) < need)
			n = i - 1;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return n;
}

static const char *context_text_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static bool context_text_num(const json_t *obj, const char *key, double *v)
{
	json_t *j = json_object_get(obj, key);
	if (!json_is_number(j))
		return false;
	*v = json_number_value(j);
	return true;
}

static bool context_text_profile(const json_t *p, struct buf *out)
{
	bool named = false;
	const char *name = context_text_str(p, "preferred_name");
	char clean[CONTEXT_TEXT_NAME_MAX + 1];
	if (name != NULL && context_text_name(name, clean) > 0) {
		buf_appendf(out, "Name: %s (preferred name)\n", clean);
		named = true;
	}
	double total;
	if (context_text_num(p, "total_calls", &total))
		buf_appendf(out, "Total Calls: %.0f\n", total);
	char t[20];
	const char *first = context_text_str(p, "first_call_at");
	const char *last = context_text_str(p, "last_call_at");
	if (first != NULL) {
		context_text_time(first, t);
		buf_appendf(out, "First Call: %s\n", t);
	}
	if (last != NULL) {
		context_text_time(last, t);
		buf_appendf(out, "Last Call: %s\n", t);
	}
	return named;
}

static const struct {
	const char *group, *key, *line, *low, *high;
} context_text_traits[] = {
	{ "communication_style", "formality", "Communication Style", "casual", "formal" },
	{ "communication_style", "directness", "Directness", "indirect", "direct" },
	{ "communication_style", "technical_comfort", "Technical Level", "non-technical",
	  "technical" },
	{ "communication_style", "detail_orientation", "Detail Preference", "high-level",
	  "detailed" },
	{ "communication_style", "patience", "Patience", "impatient", "patient" },
	{ "emotional_state", "satisfaction_level", "Recent Satisfaction", "low", "high" },
};

static void context_text_personality(const json_t *pers, struct buf *out)
{
	buf_append_str(out, "\nCALLER PERSONALITY PROFILE:\n");
	for (size_t i = 0; i < sizeof(context_text_traits) / sizeof(context_text_traits[0]); i++) {
		double v;
		json_t *group = json_object_get(pers, context_text_traits[i].group);
		if (!context_text_num(group, context_text_traits[i].key, &v))
			continue;
		char label[64];
		context_text_label(v, context_text_traits[i].low, context_text_traits[i].high,
		                   label);
		buf_appendf(out, "%s: %s\n", context_text_traits[i].line, label);
	}
	const char *trend = context_text_str(json_object_get(pers, "trends"), "satisfaction_trend");
	if (trend != NULL) {
		buf_append_str(out, "Trend: Satisfaction is ");
		context_text_flat(out, trend);
		buf_putc(out, '\n');
	}
}

static void context_text_summary(const json_t *s, int n, struct buf *out)
{
	char t[20] = "unknown date";
	const char *ended = context_text_str(s, "ended_at");
	if (ended != NULL)
		context_text_time(ended, t);
	buf_appendf(out, "\nCall %d (%s):\n  Summary: ", n, t);
	const char *summary = context_text_str(s, "summary");
	context_text_flat(out, summary ? summary : "");
	buf_putc(out, '\n');
	json_t *topics = json_object_get(s, "key_topics");
	if (json_is_array(topics) && json_array_size(topics) > 0) {
		buf_append_str(out, "  Topics: ");
		size_t i;
		json_t *topic;
		bool first = true;
		json_array_foreach(topics, i, topic)
		{
			if (!json_is_string(topic))
				continue;
			if (!first)
				buf_append_str(out, ", ");
			context_text_flat(out, json_string_value(topic));
			first = false;
		}
		buf_putc(out, '\n');
	}
	json_t *vars = json_object_get(s, "key_variables");
	if (json_is_object(vars) && json_object_size(vars) > 0) {
		char *text = json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS);
		if (text != NULL) {
			buf_append_str(out, "  Key Info: ");
			context_text_flat(out,
			                  text); /* JSON escapes newlines itself; belt and braces */
			buf_putc(out, '\n');
			free(text);
		}
	}
	const char *sentiment = context_text_str(s, "sentiment");
	if (sentiment != NULL) {
		buf_append_str(out, "  Sentiment: ");
		context_text_flat(out, sentiment);
		buf_putc(out, '\n');
	}
}

/* The fact kinds the text shows, in no particular order (the document's order is kept: newest
 * first). "name" is left out: the profile's Name line says it. No label ends in "name", so
 * ChatStack's name regex never matches in this block. */
static const struct {
	const char *kind, *label;
	bool dated; /* shown with the day it was said (it may say "tomorrow") */
} context_text_facts_labels[] = {
	{ "address", "Address", false },
	{ "email", "E-mail", false },
	{ "contact_preference", "Prefers contact by", false },
	{ "phone", "Phone", false },
	{ "policy_number", "Policy number", false },
	{ "claim_number", "Claim number", false },
	{ "account_number", "Account number", false },
	{ "order_number", "Order number", false },
	{ "vehicle", "Vehicle", false },
	{ "family_member", "Family member", false },
	{ "appointment", "Appointment", true },
	{ "follow_up", "Promised follow-up", true },
};

/* A fact's value on one line, cut to CONTEXT_TEXT_FACT_VALUE_MAX bytes on a character boundary;
 * a ':' that is not between two digits (3:30 stays) becomes a space, so no value can form a
 * "Name:" that ChatStack's regex would take for the caller's name. */
static void context_text_fact_value(struct buf *out, const char *s)
{
	size_t n = text_utf8_cut(s, strlen(s), CONTEXT_TEXT_FACT_VALUE_MAX);
	struct buf flat = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool digits = i > 0 && i + 1 < n && s[i - 1] >= '0' && s[i - 1] <= '9' &&
		              s[i + 1] >= '0' && s[i + 1] <= '9';
		buf_putc(&flat, c == ':' && !digits ? ' ' : c);
	}
	context_text_flat(out, buf_str(&flat));
	buf_free(&flat);
}

/* One fact line into out, or nothing for a kind the text does not show. */
static void context_text_fact(const json_t *fact, struct buf *out)
{
	const char *kind = context_text_str(fact, "kind"), *value = context_text_str(fact, "value");
	const char *last = context_text_str(fact, "last_seen_at");
	double calls = 1;
	context_text_num(fact, "call_count", &calls);
	for (size_t i = 0;
	     kind != NULL && value != NULL &&
	     i < sizeof(context_text_facts_labels) / sizeof(context_text_facts_labels[0]);
	     i++) {
		if (strcmp(kind, context_text_facts_labels[i].kind) != 0)
			continue;
		char day[20] = "unknown date";
		if (last != NULL) {
			context_text_time(last, day);
			day[10] = '\0';
		}
		buf_appendf(out, "%s: ", context_text_facts_labels[i].label);
		context_text_fact_value(out, value);
		if (context_text_facts_labels[i].dated)
			buf_appendf(out, " (said %s)\n", day);
		else
			buf_appendf(out, " (%.0f call%s, last %s)\n", calls, calls == 1 ? "" : "s",
			            day);
		return;
	}
}

/* The KNOWN FACTS block: one line per fact in the document's order (newest first) until
 * CONTEXT_TEXT_FACTS_MAX_BYTES; nothing at all when no line is shown. Returns the lines shown. */
static int context_text_facts(const json_t *facts, struct buf *out)
{
	struct buf lines = BUF_INIT, line = BUF_INIT;
	int shown = 0;
	size_t i;
	const json_t *fact;
	json_array_foreach(facts, i, fact)
	{
		buf_reset(&line);
		context_text_fact(fact, &line);
		if (line.len == 0)
			continue;
		if (lines.len + line.len > CONTEXT_TEXT_FACTS_MAX_BYTES)
			break;
		buf_append(&lines, line.data, line.len);
		shown++;
	}
	if (shown > 0) {
		buf_append_str(out, "\n=== KNOWN FACTS ===\n");
		buf_append(out, lines.data, lines.len);
	}
	buf_free(&line);
	buf_free(&lines);
	return shown;
}

size_t context_text_head(const json_t *ctx, struct buf *out, struct context_text_info *info)
{
	struct context_text_info local = { 0 };
	size_t start = out->len;
	buf_append_str(out, "=== CALLER PROFILE ===\n");
	const json_t *profile = json_object_get(ctx, "profile");
	const json_t *pers = json_object_get(ctx, "personality");
	bool known = json_is_true(json_object_get(ctx, "known"));
	if (json_is_object(profile))
		local.has_name = context_text_profile(profile, out);
	else if (!known)
		buf_append_str(out, CONTEXT_TEXT_NEW_CALLER);
	if (json_is_object(pers)) {
		context_text_personality(pers, out);
		local.has_personality = true;
	}
	local.fact_count = context_text_facts(json_object_get(ctx, "facts"), out);
	if (info != NULL)
		*info = local;
	return out->len - start;
}

void context_text_summary_block(const json_t *summary, int n, struct buf *out)
{
	if (n == 1)
		buf_append_str(out, "\n=== RECENT CALL SUMMARIES ===\n");
	context_text_summary(summary, n, out);
}

void context_text_render(const json_t *ctx, struct buf *out, struct context_text_info *info)
{
	struct context_text_info local;
	context_text_head(ctx, out, &local);
	const json_t *sums = json_object_get(ctx, "summaries");
	size_t i;
	json_t *s;
	json_array_foreach(sums, i, s) context_text_summary_block(s, ++local.summary_count, out);
	if (info != NULL)
		*info = local;
}

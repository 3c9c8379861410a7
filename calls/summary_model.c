/*
 * summary_model: LLM prompt rendering and answer parsing for the summarizer (see the header).
 */
#include "summary_model.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "llm.h"
#include "proc_embed.h"
#include "text.h"
#include "xalloc.h"

void summary_model_prompt(const struct event_call *call, size_t max_bytes, struct buf *out)
{
	size_t start = out->len;
	for (size_t t = 0; t < call->nturns; t++) {
		const struct event_turn *turn = &call->turns[t];
		const char *who = turn->role == EVENT_ROLE_USER        ? "Caller: "
		                  : turn->role == EVENT_ROLE_ASSISTANT ? "Agent: "
		                                                       : NULL;
		if (who == NULL)
			continue;
		size_t need = strlen(who) + turn->text_len + 1;
		size_t used = out->len - start;
		if (used + need > max_bytes) {
			if (used == 0 && max_bytes > strlen(who) + 1) { /* one huge first turn */
				size_t room = max_bytes - strlen(who) - 1;
				buf_append_str(out, who);
				buf_append(out, turn->text,
				           text_utf8_cut(turn->text, turn->text_len, room));
				buf_putc(out, '\n');
			}
			buf_append_str(out, "[transcript cut]\n");
			return;
		}
		buf_append_str(out, who);
		buf_append(out, turn->text, turn->text_len);
		buf_putc(out, '\n');
	}
}

/* A trimmed copy of a JSON string, cut to max bytes on a character boundary; NULL when the
 * value is not a string, is blank, or holds a NUL (jsonb refuses \u0000). */
static char *model_string(const json_t *v, size_t max, bool lower)
{
	if (!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (memchr(s, 0, len) != NULL)
		return NULL;
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
	                   s[len - 1] == '\r'))
		len--;
	if (len == 0)
		return NULL;
	char *out = xstrndup(s, text_utf8_cut(s, len, max));
	for (char *p = out; lower && *p; p++)
		*p = text_lower(*p);
	return out;
}

/* A JSON array of up to max usable strings from v (a list, or one string). */
static json_t *model_list(const json_t *v, size_t max, size_t value_max, bool lower)
{
	json_t *out = json_array();
	if (json_is_string(v)) {
		char *s = model_string(v, value_max, lower);
		if (s != NULL)
			json_array_append_new(out, json_string(s));
		free(s);
		return out;
	}
	size_t i;
	const json_t *item;
	json_array_foreach(v, i, item)
	{
		if (json_array_size(out) >= max)
			break;
		char *s = model_string(item, value_max, lower);
		if (s == NULL)
			continue;
		bool dup = false; /* the same topic twice says nothing more */
		for (size_t j = 0; j < json_array_size(out) && !dup; j++)
			dup = strcmp(json_string_value(json_array_get(out, j)), s) == 0;
		if (!dup)
			json_array_append_new(out, json_string(s));
		free(s);
	}
	return out;
}

static const char *const model_list_keys[] = { "phone_numbers", "emails",  "policy_numbers",
	                                       "claim_numbers", "amounts", "dates",
	                                       "vehicles" };

static const char *model_label(const json_t *v, const char *const *allowed, size_t n,
                               const char *fallback)
{
	char *s = model_string(v, 32, true);
	const char *out = fallback;
	for (size_t i = 0; s != NULL && i < n; i++)
		if (strcmp(s, allowed[i]) == 0)
			out = allowed[i];
	free(s);
	return out;
}

/* The built-in processor's embedder input (calls/proc.c): the summary, then the topic names
 * with "_" read as a space, so model and built-in vectors are comparable. */
static void model_embed(struct proc_result *r)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, r->summary);
	for (size_t i = 0; i < json_array_size(r->key_topics); i++) {
		buf_putc(&b, ' ');
		for (const char *p = json_string_value(json_array_get(r->key_topics, i)); *p; p++)
			buf_putc(&b, *p == '_' ? ' ' : *p);
	}
	proc_embed_text(b.data, b.len, r->embedding);
	buf_free(&b);
}

static const char *const model_sentiments[] = { "positive", "neutral", "negative", "frustrated" };
static const double model_sentiment_scores[] = { 0.5, 0.0, -0.5, -0.8 };
/* the built-in labels (docs/processors.md); "unknown" when the transcript does not say */
static const char *const model_resolutions[] = { "resolved",  "unresolved",  "follow_up",
	                                         "escalated", "transferred", "unknown" };
#define MODEL_NRESOLUTIONS (sizeof(model_resolutions) / sizeof(model_resolutions[0]))

/* Model answers leave fields out; the built-in result b fills each one that is empty: the
 * topics, every key_variables list (and caller_name), the sentiment and the resolution. */
static void model_fill(struct proc_result *r, const struct proc_result *b)
{
	if (json_array_size(r->key_topics) == 0 && json_array_size(b->key_topics) > 0) {
		json_decref(r->key_topics);
		r->key_topics = json_deep_copy(b->key_topics);
	}
	if (r->caller_name == NULL && b->caller_name != NULL) {
		r->caller_name = xstrdup(b->caller_name);
		json_object_set_new(r->key_variables, "caller_name", json_string(b->caller_name));
	}
	for (size_t k = 0; k < sizeof(model_list_keys) / sizeof(*model_list_keys); k++) {
		json_t *mine = json_object_get(r->key_variables, model_list_keys[k]);
		json_t *theirs = json_object_get(b->key_variables, model_list_keys[k]);
		if (json_array_size(mine) == 0 && json_array_size(theirs) > 0)
			json_object_set_new(r->key_variables, model_list_keys[k],
			                    json_deep_copy(theirs));
	}
	if (r->sentiment == NULL) {
		r->sentiment = b->sentiment;
		r->sentiment_score = b->sentiment_score;
	}
	if (r->resolution == NULL)
		r->resolution = b->resolution;
}

int summary_model_answer(const char *content, size_t len, const struct proc_result *builtin,
                         struct proc_result *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char perr[200];
	json_t *root = llm_parse_json(content, len, perr, sizeof(perr));
	if (root == NULL) {
		snprintf(err, errlen, "answer is not a JSON object: %s", perr);
		return -1;
	}
	out->summary =
	    model_string(json_object_get(root, "summary"), SUMMARY_MODEL_MAX_SUMMARY, false);
	if (out->summary == NULL) {
		snprintf(err, errlen, "answer has no summary");
		json_decref(root);
		return -1;
	}
	out->key_topics =
	    model_list(json_object_get(root, "key_topics"), SUMMARY_MODEL_MAX_TOPICS, 64, true);
	const json_t *vars = json_object_get(root, "key_variables");
	out->key_variables = json_object();
	out->caller_name = model_string(json_object_get(root, "caller_name"), 128, false);
	if (out->caller_name == NULL && json_is_object(vars))
		out->caller_name = model_string(json_object_get(vars, "caller_name"), 128, false);
	if (out->caller_name != NULL)
		json_object_set_new(out->key_variables, "caller_name",
		                    json_string(out->caller_name));
	for (size_t k = 0;
	     json_is_object(vars) && k < sizeof(model_list_keys) / sizeof(*model_list_keys); k++) {
		json_t *list = model_list(json_object_get(vars, model_list_keys[k]),
		                          SUMMARY_MODEL_MAX_ITEMS, SUMMARY_MODEL_MAX_VALUE, false);
		if (json_array_size(list) > 0)
			json_object_set_new(out->key_variables, model_list_keys[k], list);
		else
			json_decref(list);
	}
	out->sentiment = model_label(json_object_get(root, "sentiment"), model_sentiments, 4,
	                             builtin ? NULL : "neutral");
	for (size_t i = 0; i < 4; i++)
		if (out->sentiment == model_sentiments[i])
			out->sentiment_score = model_sentiment_scores[i];
	out->resolution = model_label(json_object_get(root, "resolution_status"), model_resolutions,
	                              MODEL_NRESOLUTIONS, builtin ? NULL : "unknown");
	if (builtin != NULL)
		model_fill(out, builtin);
	model_embed(out);
	json_decref(root);
	return 0;
}

int summary_model_parse(const char *content, size_t len, struct proc_result *out, char *err,
                        size_t errlen)
{
	return summary_model_answer(content, len, NULL, out, err, errlen);
}

/*
 * proc_topics: weighted cue counts per topic and their ranking (see proc_topics.h).
 */
#include "proc_topics.h"

#include <string.h>

#define TOPIC_AGENT_FACTOR 0.5f
#define TOPIC_REL_MIN 0.2f /* of the best topic's score */

void proc_topics_init(struct proc_topics *t)
{
	memset(t, 0, sizeof(*t));
}

void proc_topics_on_tag(struct proc_topics *t, const struct proc_tag *tag, bool caller)
{
	if (tag->cat >= PROC_TOPIC_MAX)
		return;
	t->score[tag->cat] += tag->weight * (caller ? 1.0f : TOPIC_AGENT_FACTOR);
	if (t->first[tag->cat] == 0)
		t->first[tag->cat] = ++t->seq;
}

/* True when topic a ranks before topic b. */
static bool topics_before(const struct proc_topics *t, size_t a, size_t b)
{
	if (t->score[a] != t->score[b])
		return t->score[a] > t->score[b];
	return t->first[a] < t->first[b];
}

size_t proc_topics_rank(const struct proc_topics *t, size_t ntopics, size_t idx[PROC_TOPICS_OUT])
{
	size_t n = 0;
	float best = 0;
	for (size_t i = 0; i < ntopics && i < PROC_TOPIC_MAX; i++)
		if (t->score[i] > best)
			best = t->score[i];
	for (size_t i = 0; i < ntopics && i < PROC_TOPIC_MAX; i++) {
		if (t->score[i] < PROC_TOPIC_MIN_SCORE || t->score[i] < best * TOPIC_REL_MIN)
			continue;
		/* insertion into the short sorted list */
		size_t at = n;
		while (at > 0 && topics_before(t, i, idx[at - 1]))
			at--;
		if (at >= PROC_TOPICS_OUT)
			continue;
		if (n < PROC_TOPICS_OUT)
			n++;
		memmove(&idx[at + 1], &idx[at], (n - 1 - at) * sizeof(idx[0]));
		idx[at] = i;
	}
	return n;
}

json_t *proc_topics_json(const struct proc_lexicons *lx, const size_t *idx, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(proc_lex_topic_name(lx, idx[i])));
	return arr;
}

/*
 * proc_topics: weighted cue counts per topic and their ranking (see proc_topics.h).
 */
#include "proc_topics.h"

#include <string.h>

#define TOPIC_AGENT_FACTOR 0.5f

_Static_assert(PROC_TOPIC_MAX <= 64, "proc_topics.anchored has one bit per topic");

void proc_topics_init(struct proc_topics *t)
{
	memset(t, 0, sizeof(*t));
}

/* "Cruise" in "This is John Cruise": capitalised, not all capitals ("ATM"), not the first
 * word of its sentence. */
static bool topics_proper_noun(const struct proc_tok *toks, size_t i, size_t n)
{
	const struct proc_tok *t = &toks[i];
	return n == 1 && (t->flags & TEXT_W_CAP) && !(t->flags & TEXT_W_UPPER) &&
	       !(t->mark & PROC_MARK_SENT0);
}

bool proc_topics_on_tag(struct proc_topics *t, const struct proc_tok *toks, size_t i, size_t n,
                        const struct proc_tag *tag, bool caller)
{
	if (tag->cat >= PROC_TOPIC_MAX || tag->weight <= 0 || topics_proper_noun(toks, i, n))
		return false;
	if (t->hits[tag->cat] < UINT16_MAX)
		t->hits[tag->cat]++;
	t->score[tag->cat] += tag->weight * (caller ? 1.0f : TOPIC_AGENT_FACTOR);
	if (tag->weight >= PROC_TOPIC_ANCHOR)
		t->anchored |= 1ull << tag->cat;
	if (t->first[tag->cat] == 0)
		t->first[tag->cat] = ++t->seq;
	return true;
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
		if (t->score[i] > best && (t->anchored & (1ull << i)))
			best = t->score[i];
	for (size_t i = 0; i < ntopics && i < PROC_TOPIC_MAX; i++) {
		if (t->score[i] < PROC_TOPIC_MIN_SCORE || t->score[i] < best * PROC_TOPIC_REL_MIN ||
		    !(t->anchored & (1ull << i)) || (t->hits[i] < 2 && t->score[i] < best))
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

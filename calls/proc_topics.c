/*
 * proc_topics: weighted cue counts per topic and their ranking (see proc_topics.h).
 */
#include "proc_topics.h"

#include "text.h"

#include <string.h>

#define TOPIC_AGENT_FACTOR 0.5f
#define TOPIC_SETTING_FACTOR 0.5f /* a cue naming where (topics_setting) */

_Static_assert(PROC_TOPIC_MAX <= 64, "proc_topics bit sets have one bit per topic");
_Static_assert(PROC_TOPICS_CHAT_KEEP <= PROC_TOPICS_OUT, "the kept topics fit the ranking array");

/* The built-in subjects (topics.txt's third group): what a conversation is about, as opposed
 * to what the caller wants done. A tenant's own topics are service topics. */
static const char *const topics_subject_names[] = {
	"health",    "travel",  "dining",         "shopping", "employment", "housing",    "banking",
	"education", "leisure", "transportation", "personal", "weather",    "technology",
};

void proc_topics_init(struct proc_topics *t)
{
	memset(t, 0, sizeof(*t));
}

uint64_t proc_topics_subjects(const struct proc_lexicons *lx)
{
	uint64_t set = 0;
	size_t n = proc_lex_topic_count(lx);
	for (size_t i = 0; i < n && i < PROC_TOPIC_MAX; i++)
		for (size_t k = 0;
		     k < sizeof(topics_subject_names) / sizeof(topics_subject_names[0]); k++)
			if (strcmp(proc_lex_topic_name(lx, i), topics_subject_names[k]) == 0)
				set |= 1ull << i;
	return set;
}

/* "Cruise" in "This is John Cruise": capitalised, not all capitals ("ATM"), not the first
 * word of its sentence. */
static bool topics_proper_noun(const struct proc_tok *toks, size_t i, size_t n)
{
	const struct proc_tok *t = &toks[i];
	return n == 1 && (t->flags & TEXT_W_CAP) && !(t->flags & TEXT_W_UPPER) &&
	       !(t->mark & PROC_MARK_SENT0);
}

/* Whether h is one of the NUL-terminated words of list. */
static bool topics_word_in(uint64_t h, const char *const *list)
{
	for (; *list; list++)
		if (text_word_hash(*list, strlen(*list), NULL) == h)
			return true;
	return false;
}

/* A cue after a preposition of place, straight or through a determiner ("at the party",
 * "over dinner", "near the pool", "at my office"): where something happened, the setting of
 * a story rather than its subject. "in", "to" and the time words are not here: "interested
 * in films", "go to the cinema", "during my yoga" mostly name what the talk is about. */
static bool topics_setting(const struct proc_tok *toks, size_t i)
{
	static const char *const preps[] = { "at",     "near", "inside", "outside",
		                             "beside", "over", NULL };
	static const char *const dets[] = { "the", "a",     "an",   "my",   "his",  "her",
		                            "our", "their", "your", "that", "this", NULL };
	size_t at = i; /* the word whose predecessor is looked at */
	for (int step = 0; step < 2 && at > 0 && !(toks[at].flags & TEXT_W_BREAK); step++) {
		if (topics_word_in(toks[at - 1].h, preps))
			return true;
		if (!topics_word_in(toks[at - 1].h, dets))
			return false;
		at--;
	}
	return false;
}

bool proc_topics_on_tag(struct proc_topics *t, const struct proc_tok *toks, size_t i, size_t n,
                        const struct proc_tag *tag, bool caller, uint32_t turn)
{
	if (tag->cat >= PROC_TOPIC_MAX || tag->weight <= 0 || topics_proper_noun(toks, i, n))
		return false;
	uint64_t bit = 1ull << tag->cat;
	if (t->hits[tag->cat] < UINT16_MAX)
		t->hits[tag->cat]++;
	if ((t->turns[tag->cat] == 0 || t->last_turn[tag->cat] != turn) &&
	    t->turns[tag->cat] < UINT16_MAX)
		t->turns[tag->cat]++;
	t->last_turn[tag->cat] = turn;
	float w = tag->weight * (caller ? 1.0f : TOPIC_AGENT_FACTOR);
	if (topics_setting(toks, i))
		w *= TOPIC_SETTING_FACTOR;
	t->score[tag->cat] += w;
	if (tag->weight >= PROC_TOPIC_ANCHOR) {
		t->anchored |= bit;
		if (caller && turn < PROC_TOPIC_REQUEST_TURNS)
			t->requested |= bit;
	}
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

/* True when topic a makes a better first topic than b: a service topic the caller asked for
 * in the opening turns ("I locked my keys in my car at the grocery store") comes before the
 * subject it was asked in; otherwise the higher score. */
static bool topics_first(const struct proc_topics *t, size_t a, size_t b, uint64_t subjects)
{
	bool ra = ((t->requested & ~subjects) >> a) & 1;
	bool rb = ((t->requested & ~subjects) >> b) & 1;
	if (ra != rb)
		return ra;
	return topics_before(t, a, b);
}

/* A topic that may be listed at all: anchored, scored enough, and more than one passing
 * word unless that word was strong or was the caller's opening request; a subject also
 * comes back in a second turn (one anecdote about a bus ride is not a call about transport),
 * unless the caller opened with it. */
static bool topics_confident(const struct proc_topics *t, size_t i, uint64_t subjects)
{
	uint64_t bit = 1ull << i;
	if (!(t->anchored & bit) || t->score[i] < PROC_TOPIC_MIN_SCORE)
		return false;
	if (t->requested & bit)
		return true;
	if ((subjects & bit) && t->turns[i] < 2)
		return false;
	return t->hits[i] >= 2 || t->score[i] >= PROC_TOPIC_SOLE_MIN;
}

/* Whether topic i may follow the first (top): never on one cue mention; a service topic beside
 * a service topic needs a fifth of its score; a subject, or anything in a conversation about a subject, needs half
 * and cues in two turns. */
static bool topics_follows(const struct proc_topics *t, size_t i, size_t top, uint64_t subjects)
{
	if (t->hits[i] < 2)
		return false; /* one passing mention */
	if (subjects & ((1ull << i) | (1ull << top)))
		return t->score[i] >= t->score[top] * PROC_TOPIC_CHAT_REL && t->turns[i] >= 2;
	return t->score[i] >= t->score[top] * PROC_TOPIC_REL_MIN;
}

/* The first topic top again, unless it is a service topic the caller named once in the opening
 * turns and a confident subject outscores it: then that subject, and the call is a
 * conversation about it ("I had to cancel my dentist visit" before a talk about last night's
 * match). A service the call deals with comes back in a second cue. */
static size_t topics_over_passing_request(const struct proc_topics *t, size_t top, size_t ntopics,
                                          uint64_t subjects)
{
	if ((subjects >> top) & 1 || t->hits[top] >= 2)
		return top;
	size_t best = top;
	for (size_t i = 0; i < ntopics && i < PROC_TOPIC_MAX; i++)
		if (((subjects >> i) & 1) && t->score[i] > t->score[best] &&
		    topics_confident(t, i, subjects))
			best = i;
	return best;
}

/* In a conversation (top is a subject): the confident subject with cues in the most turns
 * among those scoring at least PROC_TOPIC_SPREAD_REL of top's, top on a tie. What the talk
 * keeps coming back to is its subject; a few heavy words in one or two turns are an episode
 * or the setting. */
static size_t topics_most_spread(const struct proc_topics *t, size_t top, size_t ntopics,
                                 uint64_t subjects)
{
	if (!((subjects >> top) & 1))
		return top;
	size_t best = top;
	for (size_t i = 0; i < ntopics && i < PROC_TOPIC_MAX; i++)
		if (((subjects >> i) & 1) && t->turns[i] > t->turns[best] &&
		    t->score[i] >= t->score[top] * PROC_TOPIC_SPREAD_REL &&
		    topics_confident(t, i, subjects))
			best = i;
	return best;
}

size_t proc_topics_rank(const struct proc_topics *t, size_t ntopics, uint64_t subjects,
                        size_t idx[PROC_TOPICS_OUT])
{
	size_t top = SIZE_MAX;
	for (size_t i = 0; i < ntopics && i < PROC_TOPIC_MAX; i++)
		if (topics_confident(t, i, subjects) &&
		    (top == SIZE_MAX || topics_first(t, i, top, subjects)))
			top = i;
	if (top == SIZE_MAX)
		return 0;
	top = topics_most_spread(t, topics_over_passing_request(t, top, ntopics, subjects), ntopics,
	                         subjects);
	size_t keep = (subjects & (1ull << top)) ? PROC_TOPICS_CHAT_KEEP : PROC_TOPICS_OUT;
	size_t n = 1;
	idx[0] = top;
	for (size_t i = 0; i < ntopics && i < PROC_TOPIC_MAX; i++) {
		if (i == top || !topics_confident(t, i, subjects) ||
		    !topics_follows(t, i, top, subjects))
			continue;
		/* insertion into the short sorted list, after the first */
		size_t at = n;
		while (at > 1 && topics_before(t, i, idx[at - 1]))
			at--;
		if (at >= keep)
			continue;
		if (n < keep)
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

/*
 * proc_topics: topic tagging from the topics lexicon (workers/lexicons/topics.txt, plus a
 * tenant's own file when one is loaded: proc_tenant.h).
 *
 * Each cue phrase adds its weight to its topic, fully in the caller's turns and at half
 * weight in the agent's (agents name topics the caller never raised: "anything else about
 * your billing?"). Two word-sense guards keep ambiguous words from making a topic:
 *   - anchors: a topic is only kept when at least one of its cues weighs PROC_TOPIC_ANCHOR or
 *     more; weaker cues ("kitchen", "car", "home") only support a topic something else
 *     names;
 *   - guard phrases (weight 0): the longest phrase wins, so "home run = 0" or "of course = 0"
 *     takes its words away from the shorter cues "home" and "course" and adds nothing.
 *   - proper nouns: a one-word cue capitalised inside a sentence is a name ("Mr. Cruise").
 * Topics under PROC_TOPIC_MIN_SCORE or under PROC_TOPIC_REL_MIN of the best are dropped, and
 * so is a topic after the first that rests on a single cue (one passing mention in a long
 * call is not what it was about); at most PROC_TOPICS_OUT are kept, best first, ties by first
 * mention.
 *
 * Not here: deciding which words are cues (the lexicon does), synonyms, embeddings.
 */
#ifndef AIMEM_PROC_TOPICS_H
#define AIMEM_PROC_TOPICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "proc_lex.h"

#define PROC_TOPICS_OUT 5
#define PROC_TOPIC_MIN_SCORE 1.5f
#define PROC_TOPIC_ANCHOR 2.0f  /* a topic needs one cue at least this heavy */
#define PROC_TOPIC_REL_MIN 0.2f /* of the best topic's score */

struct proc_topics {
	float score[PROC_TOPIC_MAX];
	uint32_t first[PROC_TOPIC_MAX]; /* order of first mention, 0 = never */
	uint64_t anchored;              /* bit per topic (PROC_TOPIC_MAX <= 64) */
	uint16_t hits[PROC_TOPIC_MAX];  /* cues counted */
	uint32_t seq;
};

void proc_topics_init(struct proc_topics *t);
/* A PROC_KIND_TOPIC tag matched on toks[i..i+n) in a caller (or agent) turn. False when it
 * counts for nothing: a guard (weight 0), or a one-word cue written as a proper noun
 * (capitalised inside a sentence: "John Cruise", "Bill Gates"). */
bool proc_topics_on_tag(struct proc_topics *t, const struct proc_tok *toks, size_t i, size_t n,
                        const struct proc_tag *tag, bool caller);
/* The ranked topic indexes into idx (<= PROC_TOPICS_OUT); returns how many. */
size_t proc_topics_rank(const struct proc_topics *t, size_t ntopics, size_t idx[PROC_TOPICS_OUT]);
/* A new JSON array of the ranked topic names (owned by the caller). */
json_t *proc_topics_json(const struct proc_lexicons *lx, const size_t *idx, size_t n);

#endif

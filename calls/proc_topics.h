/*
 * proc_topics: topic tagging from the topics lexicon (workers/lexicons/topics.txt).
 *
 * Each cue phrase adds its weight to its topic, fully in the caller's turns and at half
 * weight in the agent's (agents name topics the caller never raised: "anything else about
 * your billing?"). Topics under PROC_TOPIC_MIN_SCORE or under a fifth of the best are
 * dropped; at most PROC_TOPICS_OUT are kept, best first, ties by first mention.
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

struct proc_topics {
	float score[PROC_TOPIC_MAX];
	uint32_t first[PROC_TOPIC_MAX]; /* order of first mention, 0 = never */
	uint32_t seq;
};

void proc_topics_init(struct proc_topics *t);
/* A PROC_KIND_TOPIC tag matched in a caller (or agent) turn. */
void proc_topics_on_tag(struct proc_topics *t, const struct proc_tag *tag, bool caller);
/* The ranked topic indexes into idx (<= PROC_TOPICS_OUT); returns how many. */
size_t proc_topics_rank(const struct proc_topics *t, size_t ntopics, size_t idx[PROC_TOPICS_OUT]);
/* A new JSON array of the ranked topic names (owned by the caller). */
json_t *proc_topics_json(const struct proc_lexicons *lx, const size_t *idx, size_t n);

#endif

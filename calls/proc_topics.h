/*
 * proc_topics: topic tagging from the topics lexicon (workers/lexicons/topics.txt, plus a
 * tenant's own file when one is loaded: proc_tenant.h).
 *
 * Each cue phrase adds its weight to its topic, fully in the caller's turns and at half
 * weight in the agent's (agents name topics the caller never raised: "anything else about
 * your billing?"), and at half again after a preposition of place ("at the party", "over
 * dinner": the setting of a story, not its subject). Word-sense guards keep ambiguous words
 * from making a topic:
 *   - anchors: a topic is only kept when at least one of its cues weighs PROC_TOPIC_ANCHOR or
 *     more; weaker cues ("kitchen", "car", "home") only support a topic something else
 *     names;
 *   - guard phrases (weight 0): the longest phrase wins, so "home run = 0" or "of course = 0"
 *     takes its words away from the shorter cues "home" and "course" and adds nothing;
 *   - proper nouns: a one-word cue capitalised inside a sentence is a name ("Mr. Cruise").
 * Then confidence, so that a call gets fewer but surer topics:
 *   - a topic resting on one cue mention needs PROC_TOPIC_SOLE_MIN (one strong cue said by
 *     the caller), unless it was an anchor in the caller's opening request (the first
 *     PROC_TOPIC_REQUEST_TURNS turns of the call): one passing word ("this season of
 *     renewal") is not what a call is about, "why is my payment different?" is; and a subject
 *     (health, travel ...: proc_topics_subjects) needs cues in two turns, unless the caller
 *     opened with it (one anecdote is not the conversation);
 *   - a service topic resting on one cue mention in the caller's opening turns, which would
 *     come first as the request, yields to a confident subject that outscores it: the call is
 *     a conversation about that subject ("I had to cancel my dentist visit" before a talk about
 *     last night's match);
 *   - in a conversation (the first topic is a subject), a subject with cues in more turns and
 *     at least PROC_TOPIC_SPREAD_REL of the first's score comes first instead: what the talk
 *     keeps coming back to is its subject, a few heavy words in one or two turns are an
 *     episode or the setting (a job interview for a flight attendant is about the job, though
 *     "flight" and "travelling" weigh more than "experience" and "training");
 *   - topics after the first never rest on one cue mention; in a service call (the first is a service topic) another
 *     service topic needs PROC_TOPIC_REL_MIN of the first's score, up to PROC_TOPICS_OUT in
 *     all (a billing call is often a refund and a complaint too); a subject after a service
 *     topic needs PROC_TOPIC_CHAT_REL of the first's score and cues in two turns; a
 *     conversation about a subject lists PROC_TOPICS_CHAT_KEEP (chats drift from one
 *     subject to the next: the main one is what the call was about).
 * Best first, ties by first mention.
 *
 * Not here: deciding which words are cues (the lexicon does), synonyms, embeddings.
 */
#ifndef AIMEM_PROC_TOPICS_H
#define AIMEM_PROC_TOPICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "proc_lex.h"

#define PROC_TOPICS_OUT 5       /* topics listed for a service call, at most */
#define PROC_TOPICS_CHAT_KEEP 1 /* for a conversation about a subject */
#define PROC_TOPIC_MIN_SCORE 1.5f
#define PROC_TOPIC_ANCHOR 2.0f     /* a topic needs one cue at least this heavy */
#define PROC_TOPIC_SOLE_MIN 2.5f   /* a topic of one cue mention needs this score ... */
#define PROC_TOPIC_REQUEST_TURNS 3 /* ... unless the caller said it in these first turns */
#define PROC_TOPIC_REL_MIN 0.2f    /* a service topic after a service topic: of the first */
#define PROC_TOPIC_CHAT_REL 0.5f   /* a subject, or after one: of the first topic's score */
#define PROC_TOPIC_SPREAD_REL 0.6f /* a subject in more turns with this share of the first's */

struct proc_topics {
	float score[PROC_TOPIC_MAX];
	uint32_t first[PROC_TOPIC_MAX];     /* order of first mention, 0 = never */
	uint32_t last_turn[PROC_TOPIC_MAX]; /* of the latest cue */
	uint64_t anchored;                  /* bit per topic (PROC_TOPIC_MAX <= 64) */
	uint64_t requested;                 /* an anchor in the caller's opening turns */
	uint16_t hits[PROC_TOPIC_MAX];      /* cues counted */
	uint16_t turns[PROC_TOPIC_MAX];     /* distinct turns with a cue */
	uint32_t seq;
};

void proc_topics_init(struct proc_topics *t);
/* The bit set of lx's topics that are built-in subjects (bit i: topic index i). */
uint64_t proc_topics_subjects(const struct proc_lexicons *lx);
/* A PROC_KIND_TOPIC tag matched on toks[i..i+n) in turn `turn` (the call's turn index; turns
 * arrive in order), said by the caller (or the agent). False when it counts for nothing: a
 * guard (weight 0), or a one-word cue written as a proper noun (capitalised inside a
 * sentence: "John Cruise", "Bill Gates"). */
bool proc_topics_on_tag(struct proc_topics *t, const struct proc_tok *toks, size_t i, size_t n,
                        const struct proc_tag *tag, bool caller, uint32_t turn);
/* The ranked topic indexes into idx; returns how many (<= PROC_TOPICS_OUT). subjects: from
 * proc_topics_subjects. */
size_t proc_topics_rank(const struct proc_topics *t, size_t ntopics, uint64_t subjects,
                        size_t idx[PROC_TOPICS_OUT]);
/* A new JSON array of the ranked topic names (owned by the caller). */
json_t *proc_topics_json(const struct proc_lexicons *lx, const size_t *idx, size_t n);

#endif

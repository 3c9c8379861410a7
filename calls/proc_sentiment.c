/*
 * proc_sentiment: negation-aware lexicon sentiment and frustration signals (see
 * proc_sentiment.h for the features and weights).
 */
#include "proc_sentiment.h"

#include <string.h>

#include "proc_words.h"

#define SENT_NEG_WINDOW 3
#define SENT_INTENS_WINDOW 2
#define SENT_NEG_FACTOR (-0.75)
#define SENT_DAMP 3.0
#define SENT_BUT_WINDOW 12 /* words after an entry searched for "but" */
#define SENT_BUT_FACTOR 0.5
#define SENT_POSITIVE 0.35
#define SENT_NEGATIVE (-0.2)

void proc_sentiment_init(struct proc_sentiment *s, size_t nturns)
{
	memset(s, 0, sizeof(*s));
	s->nturns = nturns;
}

double proc_sentiment_modifier(const struct proc_tok *toks, size_t i)
{
	double m = 1.0;
	bool negated = false;
	for (size_t k = i; k > 0 && i - k < SENT_NEG_WINDOW; k--) {
		if (toks[k].flags & TEXT_W_BREAK)
			break; /* "No, that's great": the comma ends the negation */
		const struct proc_tok *t = &toks[k - 1];
		size_t dist = i - (k - 1);
		if (((t->mark & PROC_MARK_NEG) && dist <= t->nwin) ||
		    ((t->flags & TEXT_W_NT) && dist <= SENT_NEG_WINDOW))
			negated = true;
		if ((t->mark & PROC_MARK_INTENS) && dist <= SENT_INTENS_WINDOW)
			m *= t->w;
	}
	return negated ? m * SENT_NEG_FACTOR : m;
}

/* "It's frustrating, but at least there's a reason": what comes before a "but" in the same
 * sentence counts half. */
static double sent_contrast(const struct proc_tok *toks, size_t ntoks, size_t i)
{
	for (size_t k = i + 1; k < ntoks && k <= i + SENT_BUT_WINDOW; k++) {
		if (toks[k].sent != toks[i].sent)
			break;
		if (toks[k].wclass == PROC_W_BUT)
			return SENT_BUT_FACTOR;
	}
	return 1.0;
}

void proc_sentiment_on_tag(struct proc_sentiment *s, const struct proc_tok *toks, size_t ntoks,
                           size_t i, const struct proc_tag *tag, size_t turn)
{
	if (tag->kind == PROC_KIND_FRUSTRATION) {
		s->cues += tag->weight;
		return;
	}
	if (tag->kind != PROC_KIND_SENTIMENT)
		return;
	double recency = s->nturns > 1 ? 0.5 + (double)turn / (double)(s->nturns - 1) : 1.0;
	double v = tag->weight * proc_sentiment_modifier(toks, i) * sent_contrast(toks, ntoks, i) *
	           recency;
	if (v > 0)
		s->pos += v;
	else
		s->neg -= v;
}

/* Remembers a word pair; counts it when an earlier caller turn said it too. */
static void sent_pair(struct proc_sentiment *s, uint32_t key, uint32_t turn)
{
	size_t i = key & (PROC_REP_SLOTS - 1);
	for (size_t probe = 0; probe < 8; probe++, i = (i + 1) & (PROC_REP_SLOTS - 1)) {
		if (s->rep_turn[i] == 0) {
			if (s->rep_used >= PROC_REP_SLOTS / 2)
				return; /* full enough: stop learning, keep counting */
			s->rep_key[i] = key;
			s->rep_turn[i] = turn + 1;
			s->rep_used++;
			return;
		}
		if (s->rep_key[i] == key) {
			if (s->rep_turn[i] != turn + 1) {
				s->repeats++;
				s->rep_turn[i] = turn + 1; /* once per turn */
			}
			return;
		}
	}
}

void proc_sentiment_turn(struct proc_sentiment *s, const char *text, size_t len,
                         const struct proc_tok *toks, size_t ntoks, uint32_t turn)
{
	for (const char *p = text; (p = memchr(p, '!', len - (size_t)(p - text))) != NULL; p++)
		s->exclaims++;
	size_t upper = 0, caps = 0;
	for (size_t i = 0; i < ntoks; i++) {
		const struct proc_tok *t = &toks[i];
		if (t->flags & TEXT_W_UPPER) {
			upper++;
			if (t->len >= 4 && !(t->flags & TEXT_W_DIGIT))
				caps++;
		}
		if (i > 0 && !(t->flags & TEXT_W_BREAK) && t->len >= 4 && toks[i - 1].len >= 4 &&
		    !(t->flags & TEXT_W_NUMBER))
			sent_pair(s, (uint32_t)((toks[i - 1].hs * 31) ^ t->hs), turn);
	}
	if (upper * 2 < ntoks)
		s->caps += (unsigned)caps;
}

double proc_sentiment_score(const struct proc_sentiment *s)
{
	return (s->pos - s->neg) / (s->pos + s->neg + SENT_DAMP);
}

static double sent_min(double a, double b)
{
	return a < b ? a : b;
}

double proc_sentiment_frustration(const struct proc_sentiment *s)
{
	double rep = s->repeats > 2 ? (s->repeats - 2) * 0.5 : 0;
	return s->cues + sent_min(2.0, s->caps * 0.5) + sent_min(1.0, s->exclaims * 0.25) +
	       sent_min(3.0, rep);
}

const char *proc_sentiment_label(const struct proc_sentiment *s)
{
	double score = proc_sentiment_score(s), fr = proc_sentiment_frustration(s);
	if ((fr >= 4 && score < 0.2) || (fr >= 2.5 && score <= -0.2))
		return "frustrated";
	if (score <= SENT_NEGATIVE)
		return "negative";
	if (score >= SENT_POSITIVE)
		return "positive";
	return "neutral";
}

/*
 * personality: the built-in lexicon personality scorer (see personality.h and
 * docs/personality.md, which lists the same features and weights as the tables below).
 *
 * One pass over the caller's turns: tokenise (proc_tok), run the shared lexicon matcher
 * once, and route personality cues to their feature (with negation and intensifiers from
 * proc_sentiment), sentiment and frustration cues to proc_sentiment, and the caller's
 * resolution cues to satisfaction. Then a handful of text statistics, a fixed weight table
 * from features to scores, and the shrink toward 50 for callers who said little.
 */
#include "personality.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_lex.h"
#include "proc_sentiment.h"
#include "proc_tok.h"
#include "proc_words.h"
#include "xalloc.h"

const char *const personality_score_names[PERSONALITY_NSCORES] = {
	"openness",      "conscientiousness", "extraversion",      "agreeableness",
	"neuroticism",   "formality",         "directness",        "detail_orientation",
	"patience",      "technical_comfort", "frustration_level", "satisfaction_level",
	"urgency_level",
};

/* Features: the personality.txt sections first (same order as enum proc_pers_cat), then
 * text statistics. Every feature is roughly "cue units": about 1 for one clear cue. */
enum pers_feature {
	F_SENT_LEN = PROC_PERS_COUNT, /* (words per sentence - 9) / 6, clamped -1.5..2 */
	F_TURN_LEN,                   /* (words per turn - 14) / 14, clamped -1..2 */
	F_QUESTIONS,                  /* sentences ending in '?' */
	F_EXCLAIMS,                   /* '!' (from proc_sentiment) */
	F_CAPS,                       /* shouted words (from proc_sentiment) */
	F_REPEATS,                    /* word pairs repeated from an earlier turn, beyond two */
	F_NUMBERS,                    /* words with digits (policy numbers, amounts, dates) */
	F_INTERRUPTED,                /* caller turns cut off (ending in - — or ...) */
	F_SENTIMENT,                  /* proc_sentiment score (-1..1) x 3 */
	F_FRUSTRATION,                /* proc_sentiment frustration (cues, caps, !, repeats) */
	F_RESOLVED,                   /* resolution.txt [caller:resolved] cue weights */
	F_UNRESOLVED,                 /* resolution.txt [caller:unresolved] cue weights */
	F_COUNT
};

struct pers_weight {
	unsigned char score, feature;
	float w;
};

#define S(x) PERSONALITY_##x
#define P(x) PROC_PERS_##x
/* evidence[score] = sum of w * feature; docs/personality.md has this table. */
static const struct pers_weight pers_weights[] = {
	{ S(OPENNESS), P(CURIOUS), 1.2f },
	{ S(OPENNESS), P(CLOSED), -1.5f },
	{ S(OPENNESS), F_QUESTIONS, 0.3f },
	{ S(OPENNESS), P(SOCIAL), 0.2f },
	{ S(OPENNESS), P(DOMAIN), 0.2f },

	{ S(CONSCIENTIOUSNESS), P(ORGANIZED), 1.2f },
	{ S(CONSCIENTIOUSNESS), P(DISORGANIZED), -1.2f },
	{ S(CONSCIENTIOUSNESS), F_NUMBERS, 0.4f },
	{ S(CONSCIENTIOUSNESS), P(DETAIL), 0.3f },
	{ S(CONSCIENTIOUSNESS), P(POLITE), 0.2f },

	{ S(EXTRAVERSION), P(SOCIAL), 1.2f },
	{ S(EXTRAVERSION), F_TURN_LEN, 1.0f },
	{ S(EXTRAVERSION), F_SENT_LEN, 0.3f },
	{ S(EXTRAVERSION), F_EXCLAIMS, 0.4f },
	{ S(EXTRAVERSION), P(INFORMAL), 0.3f },
	{ S(EXTRAVERSION), P(HEDGE), -0.3f },

	{ S(AGREEABLENESS), P(AGREEABLE), 1.0f },
	{ S(AGREEABLENESS), P(GRATITUDE), 0.6f },
	{ S(AGREEABLENESS), P(POLITE), 0.6f },
	{ S(AGREEABLENESS), P(HOSTILE), -1.5f },
	{ S(AGREEABLENESS), F_SENTIMENT, 0.5f },
	{ S(AGREEABLENESS), F_FRUSTRATION, -0.4f },

	{ S(NEUROTICISM), P(WORRY), 1.3f },
	{ S(NEUROTICISM), F_FRUSTRATION, 0.4f },
	{ S(NEUROTICISM), P(CALM), -0.8f },
	{ S(NEUROTICISM), P(HEDGE), 0.3f },
	{ S(NEUROTICISM), F_EXCLAIMS, 0.2f },
	{ S(NEUROTICISM), F_SENTIMENT, -0.3f },

	{ S(FORMALITY), P(POLITE), 1.0f },
	{ S(FORMALITY), P(FORMAL), 1.0f },
	{ S(FORMALITY), P(INFORMAL), -1.2f },
	{ S(FORMALITY), F_SENT_LEN, 0.5f },
	{ S(FORMALITY), P(HOSTILE), -0.5f },
	{ S(FORMALITY), F_CAPS, -0.3f },

	{ S(DIRECTNESS), P(CERTAIN), 1.0f },
	{ S(DIRECTNESS), P(HEDGE), -1.2f },
	{ S(DIRECTNESS), F_SENT_LEN, -0.4f },
	{ S(DIRECTNESS), P(IMPATIENT), 0.5f },
	{ S(DIRECTNESS), P(URGENCY), 0.3f },
	{ S(DIRECTNESS), P(POLITE), -0.2f },

	{ S(DETAIL_ORIENTATION), P(DETAIL), 1.2f },
	{ S(DETAIL_ORIENTATION), P(DOMAIN), 0.8f },
	{ S(DETAIL_ORIENTATION), F_QUESTIONS, 0.5f },
	{ S(DETAIL_ORIENTATION), F_NUMBERS, 0.4f },
	{ S(DETAIL_ORIENTATION), F_SENT_LEN, 0.3f },
	{ S(DETAIL_ORIENTATION), F_TURN_LEN, 0.3f },

	{ S(PATIENCE), P(CALM), 1.2f },
	{ S(PATIENCE), P(IMPATIENT), -1.3f },
	{ S(PATIENCE), F_FRUSTRATION, -0.5f },
	{ S(PATIENCE), P(URGENCY), -0.5f },
	{ S(PATIENCE), F_REPEATS, -0.5f },
	{ S(PATIENCE), F_CAPS, -0.5f },
	{ S(PATIENCE), F_INTERRUPTED, -0.8f },
	{ S(PATIENCE), P(AGREEABLE), 0.3f },
	{ S(PATIENCE), P(GRATITUDE), 0.2f },

	{ S(TECHNICAL_COMFORT), P(TECH), 1.0f },
	{ S(TECHNICAL_COMFORT), P(LOW_TECH), -1.5f },
	{ S(TECHNICAL_COMFORT), P(DOMAIN), 0.4f },

	{ S(FRUSTRATION_LEVEL), F_FRUSTRATION, 1.0f },
	{ S(FRUSTRATION_LEVEL), P(HOSTILE), 0.8f },
	{ S(FRUSTRATION_LEVEL), P(IMPATIENT), 0.6f },
	{ S(FRUSTRATION_LEVEL), P(DISSATISFIED), 0.6f },
	{ S(FRUSTRATION_LEVEL), F_SENTIMENT, -0.6f },
	{ S(FRUSTRATION_LEVEL), P(GRATITUDE), -0.3f },
	{ S(FRUSTRATION_LEVEL), P(CALM), -0.4f },

	{ S(SATISFACTION_LEVEL), F_SENTIMENT, 1.0f },
	{ S(SATISFACTION_LEVEL), P(GRATITUDE), 0.6f },
	{ S(SATISFACTION_LEVEL), F_RESOLVED, 0.6f },
	{ S(SATISFACTION_LEVEL), F_UNRESOLVED, -0.8f },
	{ S(SATISFACTION_LEVEL), P(DISSATISFIED), -1.2f },
	{ S(SATISFACTION_LEVEL), P(HOSTILE), -0.6f },
	{ S(SATISFACTION_LEVEL), F_FRUSTRATION, -0.4f },

	{ S(URGENCY_LEVEL), P(URGENCY), 1.3f },
	{ S(URGENCY_LEVEL), P(CALM), -1.0f },
	{ S(URGENCY_LEVEL), P(IMPATIENT), 0.3f },
	{ S(URGENCY_LEVEL), F_EXCLAIMS, 0.2f },
	{ S(URGENCY_LEVEL), P(WORRY), 0.2f },
};
#undef S
#undef P

#define PERS_TANH_SCALE 3.0    /* evidence 3 moves a score 38 points (before shrink) */
#define PERS_SHRINK_WORDS 12.0 /* shrink = words / (words + 12) */
#define PERS_CONF_WORDS 60.0   /* confidence = words / (words + 60), at most 0.95 */
#define PERS_CONF_MAX 0.95
#define PERS_DENSITY_WORDS 150.0 /* counts are divided by sqrt(1 + words / 150) */

struct pers_ctx {
	const struct proc_lexicons *lx;
	struct proc_turn_toks tt;
	size_t turn;
	double feat[F_COUNT];
	struct proc_sentiment sentiment;
	size_t words, sentences, turns;
};

/* Where a negated cue of a section goes: -1 dropped, else the feature it counts for. */
static int pers_negated_target(unsigned cat)
{
	switch (cat) {
	case PROC_PERS_URGENCY: /* "it's not an emergency" */
		return PROC_PERS_CALM;
	case PROC_PERS_TECH: /* "I don't use the app" */
		return PROC_PERS_LOW_TECH;
	case PROC_PERS_WORRY: /* "I'm not worried" */
		return PROC_PERS_CALM;
	default:
		return -1;
	}
}

static void pers_on_match(void *arg, struct proc_tok *toks, size_t i, size_t n,
                          const struct proc_tag *tag)
{
	struct pers_ctx *c = arg;
	(void)n;
	switch ((enum proc_kind)tag->kind) {
	case PROC_KIND_PERSONALITY: {
		double m = proc_sentiment_modifier(toks, i);
		int f = tag->cat;
		if (m < 0) {
			f = pers_negated_target(tag->cat);
			m = -m;
		}
		if (f >= 0 && tag->cat < PROC_PERS_COUNT)
			c->feat[f] += tag->weight * m;
		break;
	}
	case PROC_KIND_SENTIMENT:
	case PROC_KIND_FRUSTRATION:
		proc_sentiment_on_tag(&c->sentiment, toks, c->tt.ntoks, i, tag, c->turn);
		break;
	case PROC_KIND_NEGATOR:
		if (tag->weight >= 1) {
			toks[i].mark |= PROC_MARK_NEG;
			toks[i].nwin = (uint8_t)tag->weight;
		}
		break;
	case PROC_KIND_INTENSIFIER:
		toks[i].mark |= PROC_MARK_INTENS;
		toks[i].w = tag->weight;
		break;
	case PROC_KIND_RESOLUTION:
		if (tag->cat == PROC_RES_CALLER_RESOLVED)
			c->feat[F_RESOLVED] += tag->weight;
		else if (tag->cat == PROC_RES_CALLER_UNRESOLVED)
			c->feat[F_UNRESOLVED] += tag->weight;
		break;
	case PROC_KIND_WORD:
		toks[i].wclass = tag->cat; /* "but" for proc_sentiment's contrast rule */
		toks[i].wval = (uint16_t)tag->weight;
		break;
	default:
		break;
	}
}

/* A turn that ends cut off: "-", "—" (U+2014), "--" or "..." after trailing blanks. */
static bool pers_cut_off(const char *text, size_t len)
{
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\t'))
		len--;
	if (len >= 1 && text[len - 1] == '-')
		return true;
	if (len >= 3 && memcmp(text + len - 3, "\xe2\x80\x94", 3) == 0)
		return true;
	return len >= 3 && memcmp(text + len - 3, "...", 3) == 0;
}

static void pers_turn(struct pers_ctx *c, const char *text, size_t len)
{
	proc_tokenise(&c->tt, text, len);
	proc_lex_match(c->lx, c->tt.toks, c->tt.ntoks, pers_on_match, c);
	proc_sentiment_turn(&c->sentiment, text, len, c->tt.toks, c->tt.ntoks, (uint32_t)c->turn);
	for (size_t s = 0; s < c->tt.nsents; s++) {
		const struct text_span *sp = &c->tt.sents[s];
		if (sp->len > 0 && text[sp->off + sp->len - 1] == '?')
			c->feat[F_QUESTIONS] += 1;
	}
	for (size_t k = 0; k < c->tt.ntoks; k++)
		if (c->tt.toks[k].flags & TEXT_W_DIGIT)
			c->feat[F_NUMBERS] += 0.5;
	if (pers_cut_off(text, len))
		c->feat[F_INTERRUPTED] += 1;
	c->words += c->tt.ntoks;
	c->sentences += c->tt.nsents;
	c->turns += c->tt.ntoks > 0;
}

static double pers_clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Counts become densities, statistics and sentiment join the features. */
static void pers_features(struct pers_ctx *c)
{
	double w = (double)c->words;
	double density = sqrt(1.0 + w / PERS_DENSITY_WORDS);
	c->feat[F_EXCLAIMS] = pers_clampd(c->sentiment.exclaims, 0, 6);
	c->feat[F_CAPS] = pers_clampd(c->sentiment.caps * 0.5, 0, 3);
	c->feat[F_REPEATS] = c->sentiment.repeats > 2 ? (c->sentiment.repeats - 2) * 0.5 : 0;
	c->feat[F_FRUSTRATION] = proc_sentiment_frustration(&c->sentiment);
	for (size_t f = 0; f < F_COUNT; f++)
		c->feat[f] /= density;
	c->feat[F_NUMBERS] = pers_clampd(c->feat[F_NUMBERS], 0, 3);
	c->feat[F_SENTIMENT] = proc_sentiment_score(&c->sentiment) * 3.0;
	double per_sent = c->sentences ? w / (double)c->sentences : 0;
	double per_turn = c->turns ? w / (double)c->turns : 0;
	c->feat[F_SENT_LEN] = pers_clampd((per_sent - 9.0) / 6.0, -1.5, 2.0);
	c->feat[F_TURN_LEN] = pers_clampd((per_turn - 14.0) / 14.0, -1.0, 2.0);
}

double personality_clamp_score(double v)
{
	if (isnan(v))
		return 50.0;
	v = pers_clampd(v, 0.0, 100.0);
	return round(v * 10.0) / 10.0;
}

double personality_clamp_confidence(double v)
{
	if (isnan(v))
		return 0.0;
	v = pers_clampd(v, 0.0, 1.0);
	return round(v * 1000.0) / 1000.0;
}

static void pers_finish(struct pers_ctx *c, struct personality_result *out)
{
	double w = (double)c->words;
	memset(out, 0, sizeof(*out));
	out->caller_words = c->words;
	if (c->words == 0) {
		for (size_t s = 0; s < PERSONALITY_NSCORES; s++)
			out->score[s] = 50.0;
		return;
	}
	pers_features(c);
	double ev[PERSONALITY_NSCORES] = { 0 };
	for (size_t i = 0; i < sizeof(pers_weights) / sizeof(pers_weights[0]); i++)
		ev[pers_weights[i].score] += pers_weights[i].w * c->feat[pers_weights[i].feature];
	double shrink = w / (w + PERS_SHRINK_WORDS);
	for (size_t s = 0; s < PERSONALITY_NSCORES; s++)
		out->score[s] =
		    personality_clamp_score(50.0 + 50.0 * tanh(ev[s] / PERS_TANH_SCALE) * shrink);
	double conf = w / (w + PERS_CONF_WORDS);
	out->confidence = personality_clamp_confidence(conf > PERS_CONF_MAX ? PERS_CONF_MAX : conf);
}

int personality_score(const struct proc_lexicons *lx, const struct event_call *call,
                      struct personality_result *out, char *err, size_t errlen)
{
	if (lx == NULL || call == NULL || out == NULL || call->nturns == 0 || call->turns == NULL) {
		snprintf(err, errlen, "personality_score: no lexicons, no call or no turns");
		return -1;
	}
	struct pers_ctx *c = xcalloc(1, sizeof(*c));
	c->lx = lx;
	proc_sentiment_init(&c->sentiment, call->nturns);
	for (size_t t = 0; t < call->nturns; t++) {
		const struct event_turn *turn = &call->turns[t];
		if (turn->role != EVENT_ROLE_USER || turn->text == NULL)
			continue; /* the caller's own words only */
		c->turn = t;
		size_t len = turn->text_len > UINT32_MAX ? UINT32_MAX : turn->text_len;
		pers_turn(c, turn->text, len);
	}
	pers_finish(c, out);
	proc_turn_toks_free(&c->tt);
	free(c);
	return 0;
}

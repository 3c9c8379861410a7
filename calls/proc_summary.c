/*
 * proc_summary: candidate sentences, their scores and the third-person rewrite (see
 * proc_summary.h for what is chosen and why).
 */
#include "proc_summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proc.h"
#include "proc_words.h"
#include "text.h"
#include "xalloc.h"

#define SUMM_MIN_WORDS 3
#define SUMM_MAX_SENTS 4096  /* candidates kept; later ones only with a cue */
#define SUMM_MAX_WORDS 65536 /* words kept over all candidates */
#define SUMM_CUT_WORDS 26    /* a picked sentence longer than this is cut at a clause break */
#define SUMM_SHORT_TOTAL 32  /* words: two picks this short take a third */
#define SUMM_INTRO_WORDS 6   /* "Hi, this is Kelly Nguyen." is no content */
#define SUMM_DF_CAP 6.0f     /* turns a word is counted in at most */
#define SUMM_QUESTION 1.2f   /* penalty of a question */
#define SUMM_OVERLAP 0.6f    /* share of content words that makes a near-duplicate */

enum proc_summ_class {
	SC_CONTENT,
	SC_STOP,   /* a function word */
	SC_SMALL,  /* greetings, thanks, yes/no: small talk */
	SC_NUM,    /* digits, number words, months, "dollars" */
	SC_COMMIT, /* will, 'll, going, promise: something for later */
	SC_FILLER, /* a leading word to drop: well, oh, yes, so */
};

/* Closed-class words, sorted (bsearch), with their class. Grammar, not vocabulary. */
struct summ_word {
	const char *w;
	uint8_t cls;
};
static const struct summ_word summ_words[] = {
	{ "'ll", SC_COMMIT },       { "a", SC_STOP },          { "about", SC_STOP },
	{ "absolutely", SC_SMALL }, { "actually", SC_FILLER }, { "after", SC_STOP },
	{ "afternoon", SC_SMALL },  { "again", SC_STOP },      { "ah", SC_FILLER },
	{ "all", SC_STOP },         { "alright", SC_FILLER },  { "also", SC_STOP },
	{ "am", SC_STOP },          { "an", SC_STOP },         { "and", SC_FILLER },
	{ "any", SC_STOP },         { "anything", SC_STOP },   { "are", SC_STOP },
	{ "aren't", SC_STOP },      { "as", SC_STOP },         { "at", SC_STOP },
	{ "be", SC_STOP },          { "because", SC_STOP },    { "been", SC_STOP },
	{ "before", SC_STOP },      { "being", SC_STOP },      { "but", SC_FILLER },
	{ "by", SC_STOP },          { "bye", SC_SMALL },       { "can", SC_STOP },
	{ "can't", SC_STOP },       { "could", SC_STOP },      { "couldn't", SC_STOP },
	{ "day", SC_SMALL },        { "dear", SC_SMALL },      { "did", SC_STOP },
	{ "didn't", SC_STOP },      { "do", SC_STOP },         { "does", SC_STOP },
	{ "doesn't", SC_STOP },     { "doing", SC_STOP },      { "don't", SC_STOP },
	{ "down", SC_STOP },        { "each", SC_STOP },       { "even", SC_STOP },
	{ "evening", SC_SMALL },    { "excuse", SC_SMALL },    { "fine", SC_SMALL },
	{ "for", SC_STOP },         { "from", SC_STOP },       { "get", SC_STOP },
	{ "go", SC_STOP },          { "goes", SC_STOP },       { "going", SC_COMMIT },
	{ "good", SC_SMALL },       { "goodbye", SC_SMALL },   { "got", SC_STOP },
	{ "great", SC_SMALL },      { "had", SC_STOP },        { "has", SC_STOP },
	{ "have", SC_STOP },        { "haven't", SC_STOP },    { "he", SC_STOP },
	{ "he's", SC_STOP },        { "hello", SC_SMALL },     { "help", SC_STOP },
	{ "her", SC_STOP },         { "here", SC_STOP },       { "hey", SC_SMALL },
	{ "hi", SC_SMALL },         { "him", SC_STOP },        { "his", SC_STOP },
	{ "hmm", SC_FILLER },       { "how", SC_STOP },        { "i", SC_STOP },
	{ "i'd", SC_STOP },         { "i'll", SC_COMMIT },     { "i'm", SC_STOP },
	{ "i've", SC_STOP },        { "if", SC_STOP },         { "in", SC_STOP },
	{ "into", SC_STOP },        { "is", SC_STOP },         { "isn't", SC_STOP },
	{ "it", SC_STOP },          { "it's", SC_STOP },       { "its", SC_STOP },
	{ "just", SC_STOP },        { "kind", SC_STOP },       { "know", SC_STOP },
	{ "let", SC_STOP },         { "let's", SC_COMMIT },    { "like", SC_STOP },
	{ "lot", SC_STOP },         { "lovely", SC_SMALL },    { "ma'am", SC_SMALL },
	{ "madam", SC_SMALL },      { "maybe", SC_STOP },      { "me", SC_STOP },
	{ "meet", SC_SMALL },       { "mine", SC_STOP },       { "miss", SC_SMALL },
	{ "morning", SC_SMALL },    { "mr", SC_SMALL },        { "mrs", SC_SMALL },
	{ "ms", SC_SMALL },         { "much", SC_STOP },       { "must", SC_STOP },
	{ "my", SC_STOP },          { "myself", SC_STOP },     { "nice", SC_SMALL },
	{ "no", SC_FILLER },        { "not", SC_STOP },        { "now", SC_STOP },
	{ "of", SC_STOP },          { "off", SC_STOP },        { "oh", SC_FILLER },
	{ "ok", SC_FILLER },        { "okay", SC_FILLER },     { "on", SC_STOP },
	{ "one", SC_STOP },         { "only", SC_STOP },       { "or", SC_STOP },
	{ "other", SC_STOP },       { "our", SC_STOP },        { "out", SC_STOP },
	{ "over", SC_STOP },        { "please", SC_SMALL },    { "pleasure", SC_SMALL },
	{ "promise", SC_COMMIT },   { "really", SC_STOP },     { "right", SC_FILLER },
	{ "say", SC_STOP },         { "see", SC_STOP },        { "she", SC_STOP },
	{ "she's", SC_STOP },       { "should", SC_STOP },     { "sir", SC_SMALL },
	{ "so", SC_FILLER },        { "some", SC_STOP },       { "something", SC_STOP },
	{ "sorry", SC_SMALL },      { "still", SC_STOP },      { "sure", SC_FILLER },
	{ "take", SC_STOP },        { "tell", SC_STOP },       { "than", SC_STOP },
	{ "thank", SC_SMALL },      { "thanks", SC_SMALL },    { "that", SC_STOP },
	{ "that's", SC_STOP },      { "the", SC_STOP },        { "their", SC_STOP },
	{ "them", SC_STOP },        { "then", SC_STOP },       { "there", SC_STOP },
	{ "there's", SC_STOP },     { "these", SC_STOP },      { "they", SC_STOP },
	{ "they're", SC_STOP },     { "thing", SC_STOP },      { "things", SC_STOP },
	{ "think", SC_STOP },       { "this", SC_STOP },       { "those", SC_STOP },
	{ "to", SC_STOP },          { "today", SC_STOP },      { "too", SC_STOP },
	{ "uh", SC_FILLER },        { "um", SC_FILLER },       { "up", SC_STOP },
	{ "us", SC_STOP },          { "very", SC_STOP },       { "was", SC_STOP },
	{ "wasn't", SC_STOP },      { "way", SC_STOP },        { "we", SC_STOP },
	{ "we'll", SC_COMMIT },     { "we're", SC_STOP },      { "we've", SC_STOP },
	{ "welcome", SC_SMALL },    { "well", SC_FILLER },     { "were", SC_STOP },
	{ "what", SC_STOP },        { "what's", SC_STOP },     { "when", SC_STOP },
	{ "where", SC_STOP },       { "which", SC_STOP },      { "who", SC_STOP },
	{ "why", SC_STOP },         { "will", SC_COMMIT },     { "with", SC_STOP },
	{ "won't", SC_COMMIT },     { "would", SC_STOP },      { "wouldn't", SC_STOP },
	{ "wow", SC_FILLER },       { "yeah", SC_FILLER },     { "yes", SC_FILLER },
	{ "yet", SC_STOP },         { "you", SC_STOP },        { "you'd", SC_STOP },
	{ "you'll", SC_COMMIT },    { "you're", SC_STOP },     { "you've", SC_STOP },
	{ "your", SC_STOP },        { "yours", SC_STOP },      { "yourself", SC_STOP },
};

/* Lower-cases word into out (a typographic apostrophe becomes '); false when too long. */
static bool summ_lower(const char *p, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (n + 1 >= outlen)
			return false;
		if ((unsigned char)p[i] == 0xe2 && i + 2 < len && (unsigned char)p[i + 1] == 0x80 &&
		    (unsigned char)p[i + 2] == 0x99) {
			out[n++] = '\'';
			i += 2;
			continue;
		}
		out[n++] = text_lower(p[i]);
	}
	out[n] = '\0';
	return true;
}

static int summ_word_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct summ_word *)elem)->w);
}

static const struct summ_word *summ_find(const char *lower)
{
	return bsearch(lower, summ_words, sizeof(summ_words) / sizeof(*summ_words),
	               sizeof(*summ_words), summ_word_cmp);
}

static uint8_t summ_class(const char *text, const struct proc_tok *t)
{
	if ((t->flags & TEXT_W_DIGIT) || t->wclass == PROC_W_MONTH || t->wclass == PROC_W_NUMBER ||
	    t->wclass == PROC_W_ORDINAL || t->wclass == PROC_W_DOLLARS)
		return SC_NUM;
	char w[24];
	if (!summ_lower(text + t->off, t->len, w, sizeof(w)))
		return SC_CONTENT;
	const struct summ_word *e = summ_find(w);
	if (e != NULL)
		return e->cls;
	return t->len < 3 ? SC_STOP : SC_CONTENT;
}

void proc_summary_init(struct proc_summary *s, size_t nturns)
{
	memset(s, 0, sizeof(*s));
	s->nturns = nturns;
}

static bool summ_question(const char *text, const struct text_span *sent)
{
	return sent->len > 0 && text[sent->off + sent->len - 1] == '?';
}

/* The cue part of a sentence's score: lexicon cues, numbers, commitments. */
static float summ_cue(const struct proc_summ_feat *f, unsigned nums, unsigned commits)
{
	float c = 0;
	c += 0.35f * fminf(f->request, 3.0f);
	c += 0.35f * fminf(f->action + f->outcome, 3.0f);
	c -= 0.8f * fminf(f->closing, 2.0f);
	c += 0.25f * fminf((float)f->topics, 3.0f);
	c += nums ? 0.5f : 0.0f;
	c += commits ? 0.4f : 0.0f;
	return c;
}

void proc_summary_sentence(struct proc_summary *s, bool caller, size_t turn, size_t sent_idx,
                           const char *text, const struct text_span *sent,
                           const struct proc_tok *toks, size_t ntoks,
                           const struct proc_summ_feat *f)
{
	(void)sent_idx;
	bool intro = f->intro && ntoks <= SUMM_INTRO_WORDS;
	if (ntoks < SUMM_MIN_WORDS || intro || s->nwords + ntoks > SUMM_MAX_WORDS ||
	    sent->len > UINT32_MAX)
		return;
	bool cue = f->request + f->action + f->outcome + (float)f->topics > 0;
	if (s->nsents >= SUMM_MAX_SENTS && !cue)
		return;
	if (s->nsents == s->scap) {
		s->scap = s->scap ? s->scap * 2 : 32;
		s->sents = xreallocarray(s->sents, s->scap, sizeof(*s->sents));
	}
	if (s->nwords + ntoks > s->wcap) {
		while (s->nwords + ntoks > s->wcap)
			s->wcap = s->wcap ? s->wcap * 2 : 256;
		s->words = xreallocarray(s->words, s->wcap, sizeof(*s->words));
	}
	struct proc_summ_sent *c = &s->sents[s->nsents++];
	c->p = text + sent->off;
	c->len = (uint32_t)sent->len;
	c->word0 = (uint32_t)s->nwords;
	c->nwords = (uint32_t)ntoks;
	c->turn = (uint32_t)turn;
	c->caller = caller;
	c->question = summ_question(text, sent);
	c->score = 0;
	unsigned nums = 0, commits = 0;
	for (size_t i = 0; i < ntoks; i++) {
		struct proc_summ_word *w = &s->words[s->nwords++];
		w->h = toks[i].hs;
		w->off = toks[i].off - (uint32_t)sent->off;
		w->len = (uint16_t)(toks[i].len > 0xffff ? 0xffff : toks[i].len);
		w->flags = toks[i].flags;
		w->cls = summ_class(text, &toks[i]);
		nums += w->cls == SC_NUM;
		commits += w->cls == SC_COMMIT;
	}
	c->cue = summ_cue(f, nums, commits);
}

/* ---- scores ----------------------------------------------------------------------------- */

/* Per content word of the call: the number of turns it appears in. */
struct summ_df {
	uint64_t h;
	uint32_t last_turn, df;
};

struct summ_table {
	struct summ_df *slots;
	size_t mask;
};

static struct summ_df *summ_slot(struct summ_table *t, uint64_t h)
{
	size_t i = (size_t)(h ^ (h >> 29)) & t->mask;
	while (t->slots[i].h != 0 && t->slots[i].h != h)
		i = (i + 1) & t->mask;
	return &t->slots[i];
}

static bool summ_counts(const struct proc_summ_word *w)
{
	return w->cls == SC_CONTENT && w->h != 0;
}

static void summ_df_build(const struct proc_summary *s, struct summ_table *t)
{
	size_t want = 64;
	while (want < s->nwords * 2)
		want *= 2;
	t->slots = xcalloc(want, sizeof(*t->slots));
	t->mask = want - 1;
	for (size_t i = 0; i < s->nsents; i++) {
		const struct proc_summ_sent *c = &s->sents[i];
		for (uint32_t k = 0; k < c->nwords; k++) {
			const struct proc_summ_word *w = &s->words[c->word0 + k];
			if (!summ_counts(w))
				continue;
			struct summ_df *d = summ_slot(t, w->h);
			if (d->h == 0) {
				d->h = w->h;
				d->df = 1;
				d->last_turn = c->turn;
			} else if (d->last_turn != c->turn) {
				d->df++;
				d->last_turn = c->turn;
			}
		}
	}
}

/* Centrality + cues - penalties; -1e9 for what is never taken (small talk only). */
static float summ_score(const struct proc_summary *s, struct summ_table *t,
                        const struct proc_summ_sent *c)
{
	float cent = 0;
	unsigned content = 0;
	for (uint32_t k = 0; k < c->nwords; k++) {
		const struct proc_summ_word *w = &s->words[c->word0 + k];
		if (!summ_counts(w))
			continue;
		bool seen = false; /* a word twice in one sentence counts once */
		for (uint32_t j = 0; j < k && !seen; j++)
			seen = s->words[c->word0 + j].h == w->h;
		if (seen)
			continue;
		content++;
		float df = fminf((float)summ_slot(t, w->h)->df, SUMM_DF_CAP);
		cent += logf(df);
	}
	if (content == 0)
		return -1e9f;
	/* no length normalisation: a sentence that carries more of what the call repeats
	 * says more of what it is about */
	float score = cent + c->cue;
	if (c->question)
		score -= SUMM_QUESTION;
	return score;
}

/* True when most content words of c are already in the picked sentences. */
static bool summ_duplicate(const struct proc_summary *s, const struct proc_summ_sent *c,
                           const size_t *picked, size_t npicked)
{
	unsigned content = 0, shared = 0;
	for (uint32_t k = 0; k < c->nwords; k++) {
		const struct proc_summ_word *w = &s->words[c->word0 + k];
		if (!summ_counts(w))
			continue;
		content++;
		bool found = false;
		for (size_t p = 0; p < npicked && !found; p++) {
			const struct proc_summ_sent *o = &s->sents[picked[p]];
			for (uint32_t j = 0; j < o->nwords && !found; j++)
				found = s->words[o->word0 + j].h == w->h;
		}
		shared += found;
	}
	return content > 0 && (float)shared >= SUMM_OVERLAP * (float)content;
}

/* The best candidate of a side (caller, agent, or either) not yet picked; SIZE_MAX if none. */
static size_t summ_best(const struct proc_summary *s, int side, const size_t *picked,
                        size_t npicked)
{
	size_t best = SIZE_MAX;
	for (size_t i = 0; i < s->nsents; i++) {
		const struct proc_summ_sent *c = &s->sents[i];
		if (c->score < -1e8f || (side >= 0 && c->caller != (side == 1)))
			continue;
		bool taken = false;
		for (size_t p = 0; p < npicked; p++)
			taken = taken || picked[p] == i;
		if (taken || (best != SIZE_MAX && c->score <= s->sents[best].score) ||
		    summ_duplicate(s, c, picked, npicked))
			continue;
		best = i;
	}
	return best;
}

static int summ_pos_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Up to three sentences, in call order; returns how many. */
static size_t summ_pick(struct proc_summary *s, size_t picked[3])
{
	struct summ_table t;
	summ_df_build(s, &t);
	for (size_t i = 0; i < s->nsents; i++)
		s->sents[i].score = summ_score(s, &t, &s->sents[i]);
	free(t.slots);
	size_t n = 0, i;
	if ((i = summ_best(s, 1, picked, n)) != SIZE_MAX)
		picked[n++] = i;
	if ((i = summ_best(s, 0, picked, n)) != SIZE_MAX)
		picked[n++] = i;
	unsigned words = 0;
	for (size_t p = 0; p < n; p++)
		words += s->sents[picked[p]].nwords;
	while (n < 3 && (n < 2 || words < SUMM_SHORT_TOTAL) &&
	       (i = summ_best(s, -1, picked, n)) != SIZE_MAX) {
		picked[n++] = i;
		words += s->sents[i].nwords;
	}
	qsort(picked, n, sizeof(*picked), summ_pos_cmp);
	return n;
}

/* ---- the third-person rewrite ----------------------------------------------------------- */

/* The parties, caller (0) and agent (1): how each is named, and whether the summary has
 * named it yet (until then "my" is "the caller's", not "their"). */
struct summ_parties {
	const char *name[2]; /* "the caller" or the caller's name, "the agent" */
	const char *poss[2]; /* "the caller's" or "Kelly Nguyen's", "the agent's" */
	bool named[2];
	int speaker; /* of the sentence being rewritten */
};

/* What a first- or second-person word becomes; agree: the next verb agrees with it. */
struct summ_pronoun {
	const char *w;
	int who;            /* 0 self, 1 other */
	const char *suffix; /* after the party: " is", " has", ... */
	int kind;           /* 0 subject (agree), 1 fixed, 2 possessive, 3 object */
};
static const struct summ_pronoun summ_pronouns[] = {
	{ "i", 0, "", 0 },           { "i'm", 0, " is", 1 },      { "i've", 0, " has", 1 },
	{ "i'll", 0, " will", 1 },   { "i'd", 0, " would", 1 },   { "me", 0, "", 3 },
	{ "my", 0, "", 2 },          { "mine", 0, "", 2 },        { "myself", 0, "", 3 },
	{ "you", 1, "", 0 },         { "you're", 1, " is", 1 },   { "you've", 1, " has", 1 },
	{ "you'll", 1, " will", 1 }, { "you'd", 1, " would", 1 }, { "your", 1, "", 2 },
	{ "yours", 1, "", 2 },       { "yourself", 1, "", 3 },
};

static const struct summ_pronoun *summ_pronoun(const char *lower)
{
	for (size_t i = 0; i < sizeof(summ_pronouns) / sizeof(*summ_pronouns); i++)
		if (strcmp(lower, summ_pronouns[i].w) == 0)
			return &summ_pronouns[i];
	return NULL;
}

/* Words after a subject that keep their form (modals, past tenses) or are skipped over. */
static bool summ_in(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(w, *list) == 0)
			return true;
	return false;
}
static const char *const summ_adverbs[] = { "just",  "really",    "also",       "already",
	                                    "still", "only",      "never",      "always",
	                                    "even",  "probably",  "actually",   "usually",
	                                    "often", "sometimes", "definitely", NULL };
static const char *const summ_keep[] = {
	"can",      "can't",  "cannot",    "could",   "couldn't", "will",    "won't", "would",
	"wouldn't", "should", "shouldn't", "may",     "might",    "must",    "did",   "didn't",
	"was",      "wasn't", "had",       "hadn't",  "got",      "went",    "saw",   "bought",
	"made",     "took",   "came",      "said",    "told",     "thought", "felt",  "left",
	"lost",     "paid",   "sent",      "found",   "gave",     "knew",    "kept",  "heard",
	"met",      "ran",    "sold",      "spent",   "wrote",    "brought", "broke", "forgot",
	"is",       "has",    "does",      "doesn't", "isn't",    "hasn't",  "to",    "not",
	"and",      "or",     "the",       "a",       "an",       "that",    "this",  "so",
	"too",      "as",     "in",        "on",      "at",       "for",     "with",  "about",
	"if",       "when",   "because",   "but",     "what",     "how",     "who",   "now",
	"here",     "there",  NULL
};

/* The verb after a third-person subject: "am" -> "is", "need" -> "needs". */
static void summ_agree(struct buf *b, const char *p, size_t len, const char *lower, unsigned flags)
{
	static const char *const from[] = { "am",     "are",  "have",    "do", "don't", "haven't",
		                            "aren't", "were", "weren't", "go", "'m",    NULL };
	static const char *const to[] = { "is",    "is",  "has",    "does", "doesn't", "hasn't",
		                          "isn't", "was", "wasn't", "goes", "is" };
	for (size_t i = 0; from[i]; i++)
		if (strcmp(lower, from[i]) == 0) {
			buf_append_str(b, to[i]);
			return;
		}
	size_t n = strlen(lower);
	bool alpha = n > 1;
	for (size_t i = 0; i < n && alpha; i++)
		alpha = lower[i] >= 'a' && lower[i] <= 'z';
	if (!alpha || (flags & TEXT_W_CAP) || summ_in(lower, summ_keep) ||
	    (n > 3 && strcmp(lower + n - 2, "ed") == 0 && lower[n - 3] != 'e') ||
	    lower[n - 1] == 's') {
		buf_append(b, p, len);
		return;
	}
	char last = lower[n - 1], prev = lower[n - 2];
	if (last == 'y' && strchr("aeiou", prev) == NULL) {
		buf_append(b, p, len - 1);
		buf_append_str(b, "ies");
	} else if (last == 'x' || last == 'z' || last == 'o' ||
	           (last == 'h' && (prev == 's' || prev == 'c'))) {
		buf_append(b, p, len);
		buf_append_str(b, "es");
	} else {
		buf_append(b, p, len);
		buf_putc(b, 's');
	}
}

/* "don ' t", "I ' m": a contraction written with spaces around the apostrophe. */
static bool summ_split_contraction(const struct proc_summ_sent *c, const struct proc_summ_word *w,
                                   const struct proc_summ_word *next)
{
	static const char *const tails[] = { "t", "s", "m", "ve", "ll", "d", "re", NULL };
	size_t gap0 = w->off + w->len, gap1 = next->off;
	if (gap1 <= gap0 || gap1 - gap0 > 3 || memchr(c->p + gap0, '\'', gap1 - gap0) == NULL)
		return false;
	for (size_t i = gap0; i < gap1; i++)
		if (c->p[i] != ' ' && c->p[i] != '\'')
			return false;
	char lower[8];
	return summ_lower(c->p + next->off, next->len, lower, sizeof(lower)) &&
	       summ_in(lower, tails);
}

static void summ_party(struct buf *b, struct summ_parties *pt, const struct summ_pronoun *pr)
{
	int party = pr->who == 0 ? pt->speaker : 1 - pt->speaker;
	bool self = pr->who == 0 && pt->named[party];
	if (pr->kind == 2)
		buf_append_str(b, self ? "their" : pt->poss[party]);
	else if (pr->kind == 3 && self)
		buf_append_str(b, strcmp(pr->w, "myself") == 0 ? "themselves" : "them");
	else
		buf_append_str(b, pt->name[party]);
	pt->named[party] = true;
	buf_append_str(b, pr->suffix);
}

static bool summ_thank(const struct proc_summ_sent *c, const struct proc_summ_word *prev)
{
	char lower[8];
	return summ_lower(c->p + prev->off, prev->len, lower, sizeof(lower)) &&
	       strcmp(lower, "thank") == 0;
}

/* The first word kept: leading fillers and small talk before a clause break are dropped. */
static uint32_t summ_start(const struct proc_summary *s, const struct proc_summ_sent *c)
{
	uint32_t k = 0;
	while (k + SUMM_MIN_WORDS < c->nwords) {
		const struct proc_summ_word *w = &s->words[c->word0 + k];
		bool brk = s->words[c->word0 + k + 1].flags & TEXT_W_BREAK;
		if (w->cls == SC_FILLER || (w->cls == SC_SMALL && brk))
			k++;
		else
			break;
	}
	return k;
}

/* One past the last word kept: a long sentence ends at a clause break. */
static uint32_t summ_end(const struct proc_summary *s, const struct proc_summ_sent *c,
                         uint32_t start)
{
	if (c->nwords - start <= SUMM_CUT_WORDS)
		return c->nwords;
	for (uint32_t k = start + SUMM_CUT_WORDS; k > start + 8; k--)
		if (s->words[c->word0 + k].flags & TEXT_W_BREAK)
			return k;
	return start + SUMM_CUT_WORDS;
}

/* Appends c rewritten in the third person as one sentence. */
static void summ_rewrite(struct buf *b, const struct proc_summary *s,
                         const struct proc_summ_sent *c, struct summ_parties *pt)
{
	uint32_t k0 = summ_start(s, c), k1 = summ_end(s, c, k0);
	const struct proc_summ_word *words = &s->words[c->word0];
	size_t mark = b->len;
	bool agree = false, clause_start = true;
	for (uint32_t k = k0; k < k1; k++) {
		const struct proc_summ_word *w = &words[k];
		if (k > k0) {
			size_t g0 = words[k - 1].off + words[k - 1].len;
			buf_append(b, c->p + g0, w->off - g0);
			clause_start = (w->flags & TEXT_W_BREAK) != 0;
		}
		size_t len = w->len;
		char joined[24];
		bool ok = summ_lower(c->p + w->off, len, joined, sizeof(joined));
		if (ok && k + 1 < k1 && summ_split_contraction(c, w, &words[k + 1])) {
			char tail[8];
			(void)summ_lower(c->p + words[k + 1].off, words[k + 1].len, tail,
			                 sizeof(tail));
			if (strlen(joined) + strlen(tail) + 2 < sizeof(joined)) {
				size_t n = strlen(joined);
				joined[n] = '\'';
				memcpy(joined + n + 1, tail, strlen(tail) + 1);
			}
		}
		const struct summ_pronoun *pr = ok ? summ_pronoun(joined) : NULL;
		bool merged = ok && strchr(joined, '\'') != NULL && len < strlen(joined);
		if (pr != NULL && k > k0 && pr->w[0] == 'y' && summ_thank(c, &words[k - 1])) {
			buf_append(b, c->p + w->off, len); /* "thank you" stays a phrase */
		} else if (pr != NULL &&
		           !(pr->w[0] == 'y' && pr->kind == 0 && !clause_start && k > k0)) {
			summ_party(b, pt, pr);
			agree = pr->kind == 0;
		} else if (pr != NULL) { /* "you" as an object */
			buf_append_str(b, pt->name[1 - pt->speaker]);
			pt->named[1 - pt->speaker] = true;
			agree = false;
		} else if (agree && ok && summ_in(joined, summ_adverbs)) {
			buf_append(b, c->p + w->off, len);
		} else if (agree && ok) {
			summ_agree(b, c->p + w->off, len, joined, w->flags);
			agree = false;
		} else {
			if (b->len > mark && k == k0 && w->cls != SC_CONTENT && len > 0 &&
			    c->p[w->off] >= 'A' && c->p[w->off] <= 'Z') {
				buf_putc(b, (char)(c->p[w->off] - 'A' + 'a'));
				buf_append(b, c->p + w->off + 1, len - 1);
			} else {
				buf_append(b, c->p + w->off, len);
			}
			agree = false;
		}
		if (merged)
			k++; /* the contraction's tail was written with it */
	}
	while (b->len > mark && strchr(" ,;:.!?-", b->data[b->len - 1]) != NULL)
		b->len--;
	buf_putc(b, '.');
	if (b->data[mark] >= 'a' && b->data[mark] <= 'z')
		b->data[mark] = (char)(b->data[mark] - 'a' + 'A');
}

char *proc_summary_compose(struct proc_summary *s, const char *who, const char *const *topics,
                           size_t ntopics, const char *resolution)
{
	(void)topics;
	(void)ntopics;
	(void)resolution;
	struct buf b = BUF_INIT;
	size_t picked[3];
	bool caller_spoke = false;
	for (size_t i = 0; i < s->nsents && !caller_spoke; i++)
		caller_spoke = s->sents[i].caller;
	size_t n = caller_spoke ? summ_pick(s, picked) : 0;
	char who_poss[160];
	if (who != NULL)
		snprintf(who_poss, sizeof(who_poss), "%s's", who);
	struct summ_parties pt = { { who ? who : "the caller", "the agent" },
		                   { who ? who_poss : "the caller's", "the agent's" },
		                   { false, false },
		                   0 };
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ' ');
		const struct proc_summ_sent *c = &s->sents[picked[i]];
		pt.speaker = c->caller ? 0 : 1;
		summ_rewrite(&b, s, c, &pt);
	}
	if (n == 0) {
		buf_append_str(&b, who ? who : "The caller");
		buf_append_str(&b, " hung up before saying what they wanted.");
	}
	if (b.len > PROC_SUMMARY_MAX) {
		size_t cut = text_utf8_cut(b.data, b.len, PROC_SUMMARY_MAX - 1);
		while (cut > 0 && b.data[cut - 1] != ' ')
			cut--;
		b.len = cut > 0 ? cut - 1 : 0;
		buf_putc(&b, '.');
	}
	free(s->sents);
	free(s->words);
	memset(s, 0, sizeof(*s));
	return buf_detach(&b);
}

/*
 * proc_lex: lexicon files and the phrase matcher (see proc_lex.h).
 *
 * Loading collects every (phrase, tag) entry of every file, sorts them by first word,
 * length (longest first) and words, refuses duplicates, then freezes them into three
 * arrays: phrases, their tags, and an open-addressing table from first-word hash to the
 * run of phrases that start with it. After that the structure is never written again, so
 * any number of threads may match with it.
 *
 * The file format (one entry per line) is documented in docs/processors.md and at the top
 * of each file:   [section]   |   phrase   |   phrase = weight
 */
#include "proc_lex.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_words.h"
#include "xalloc.h"

#define PROC_LEX_MAGIC 0x4c455821u

struct lex_phrase {
	uint64_t w[PROC_PHRASE_MAX];
	uint32_t tag0;
	uint16_t ntags;
	uint8_t n;
};

struct lex_slot {
	uint64_t key;
	uint64_t second; /* bit (w[1] >> 58) of each longer phrase: a quick "no" */
	uint32_t first;
	uint32_t singles; /* the chain's one-word phrases start here (longest come first) */
	uint32_t count;   /* 0: empty slot */
};

#define LEX_BIT(h) (1ull << ((h) >> 58))

struct proc_lexicons {
	unsigned magic;
	struct lex_phrase *phrases;
	struct proc_tag *tags;
	struct lex_slot *slots;
	size_t mask;
	size_t ntopics;
	char topics[PROC_TOPIC_MAX][PROC_TOPIC_NAME_MAX];
};

struct lex_file {
	const char *name;
	enum proc_kind kind;
	const char *const *sections; /* NULL: no sections; topics: any name (free) */
	bool free_sections;
	int weight; /* 0 none allowed, 1 optional, 2 required */
	float wmin, wmax, wdefault;
};

static const char *const lex_res_sections[] = {
	"agent:escalated",   "agent:follow_up",   "agent:resolved",
	"agent:unresolved",  "agent:closing",     "caller:resolved",
	"caller:unresolved", "agent:transferred", NULL
};
static const char *const lex_summ_sections[] = { "request", "action", NULL };
static const char *const lex_name_sections[] = { "intro",    "strong", "question",
	                                         "not_name", "org",    NULL };
/* in enum proc_pers_cat order */
static const char *const lex_pers_sections[] = {
	"polite",  "formal",    "informal",  "hedge",        "certain",   "gratitude",
	"urgency", "calm",      "impatient", "tech",         "low_tech",  "domain",
	"detail",  "social",    "curious",   "closed",       "organized", "disorganized",
	"worry",   "agreeable", "hostile",   "dissatisfied", NULL
};

static const struct lex_file lex_files[] = {
	{ "topics.txt", PROC_KIND_TOPIC, NULL, true, 1, 0.0f, 5.0f, 1.0f },
	{ "sentiment.txt", PROC_KIND_SENTIMENT, NULL, false, 2, -5.0f, 5.0f, 0.0f },
	{ "negators.txt", PROC_KIND_NEGATOR, NULL, false, 1, 0.0f, 3.0f, 3.0f },
	{ "intensifiers.txt", PROC_KIND_INTENSIFIER, NULL, false, 2, 0.0f, 3.0f, 1.0f },
	{ "frustration.txt", PROC_KIND_FRUSTRATION, NULL, false, 1, 0.0f, 5.0f, 1.0f },
	{ "resolution.txt", PROC_KIND_RESOLUTION, lex_res_sections, false, 1, 0.0f, 5.0f, 1.0f },
	{ "summary.txt", PROC_KIND_SUMMARY, lex_summ_sections, false, 1, 0.0f, 5.0f, 1.0f },
	{ "vehicles.txt", PROC_KIND_MAKE, NULL, false, 0, 0.0f, 0.0f, 1.0f },
	{ "names.txt", PROC_KIND_NAME, lex_name_sections, false, 0, 0.0f, 0.0f, 1.0f },
	{ "personality.txt", PROC_KIND_PERSONALITY, lex_pers_sections, false, 1, 0.0f, 5.0f, 1.0f },
};
#define LEX_NFILES (sizeof(lex_files) / sizeof(lex_files[0]))

struct lex_entry {
	uint64_t w[PROC_PHRASE_MAX];
	uint8_t n;
	struct proc_tag tag;
};

struct lex_builder {
	struct proc_lexicons *lx;
	const struct lex_file *file;
	uint16_t file_idx;
	int section;       /* -1 before the first header */
	size_t nbase;      /* topics a tenant file may extend (proc_lex_load_topics) */
	const char *where; /* the one file loaded, for duplicate errors; NULL: dir/file */
	struct lex_entry *entries;
	size_t nentries, cap;
};

/* A strict decimal: -?digits(.digits)? */
static int lex_parse_weight(const char *s, size_t n, float *out)
{
	size_t i = 0;
	double v = 0, scale = 1;
	bool neg = false, digits = false;
	if (i < n && s[i] == '-')
		neg = true, i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits = true)
		v = v * 10 + (s[i] - '0');
	if (i < n && s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits = true)
			v += (s[i] - '0') * (scale /= 10);
	}
	if (!digits || i != n || v > 1000)
		return -1;
	*out = (float)(neg ? -v : v);
	return 0;
}

static int lex_section(struct lex_builder *b, const char *p, size_t n, char *err, size_t errlen)
{
	const struct lex_file *f = b->file;
	if (n < 3 || p[n - 1] != ']') {
		snprintf(err, errlen, "section header must look like [name]");
		return -1;
	}
	p++, n -= 2;
	if (f->free_sections) {
		for (size_t i = 0; i < n; i++)
			if (!((p[i] >= 'a' && p[i] <= 'z') || p[i] == '_')) {
				snprintf(err, errlen, "topic names use a-z and _ only");
				return -1;
			}
		struct proc_lexicons *lx = b->lx;
		for (size_t t = 0; t < lx->ntopics; t++)
			if (strlen(lx->topics[t]) == n && memcmp(lx->topics[t], p, n) == 0 &&
			    t < b->nbase) {
				b->section = (int)t; /* a tenant's cues for a built-in topic */
				return 0;
			} else if (strlen(lx->topics[t]) == n && memcmp(lx->topics[t], p, n) == 0) {
				snprintf(err, errlen, "topic [%s] defined twice", lx->topics[t]);
				return -1;
			}
		if (lx->ntopics == PROC_TOPIC_MAX || n >= PROC_TOPIC_NAME_MAX) {
			snprintf(err, errlen, "at most %d topics of at most %d bytes",
			         PROC_TOPIC_MAX, PROC_TOPIC_NAME_MAX - 1);
			return -1;
		}
		memcpy(lx->topics[lx->ntopics], p, n);
		lx->topics[lx->ntopics][n] = '\0';
		b->section = (int)lx->ntopics++;
		return 0;
	}
	for (int s = 0; f->sections && f->sections[s]; s++)
		if (strlen(f->sections[s]) == n && memcmp(f->sections[s], p, n) == 0) {
			b->section = s;
			return 0;
		}
	snprintf(err, errlen, "unknown section (%s has %s)", f->name,
	         f->sections ? "a fixed list of sections, see its header" : "no sections");
	return -1;
}

static int lex_phrase_words(const char *p, size_t n, struct lex_entry *e, char *err, size_t errlen)
{
	size_t pos = 0;
	struct text_word w;
	e->n = 0;
	while (text_next_word(p, n, &pos, &w)) {
		if (e->n > 0 && (w.flags & TEXT_W_BREAK)) {
			snprintf(err, errlen, "punctuation inside a phrase");
			return -1;
		}
		if (e->n == PROC_PHRASE_MAX) {
			snprintf(err, errlen, "more than %d words", PROC_PHRASE_MAX);
			return -1;
		}
		e->w[e->n++] = text_word_hash(p + w.off, w.len, NULL);
	}
	if (e->n == 0) {
		snprintf(err, errlen, "no words in the entry");
		return -1;
	}
	return 0;
}

static void lex_push(struct lex_builder *b, const struct lex_entry *e)
{
	if (b->nentries == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 1024;
		b->entries = xreallocarray(b->entries, b->cap, sizeof(*b->entries));
	}
	b->entries[b->nentries++] = *e;
}

static int lex_line(void *arg, const char *p, size_t n, unsigned lineno, char *err, size_t errlen)
{
	struct lex_builder *b = arg;
	const struct lex_file *f = b->file;
	if (p[0] == '[')
		return lex_section(b, p, n, err, errlen);
	if ((f->sections || f->free_sections) && b->section < 0) {
		snprintf(err, errlen, "entry before the first [section]");
		return -1;
	}
	struct lex_entry e;
	memset(&e, 0, sizeof(e));
	e.tag = (struct proc_tag){ (uint8_t)f->kind, (uint8_t)(b->section < 0 ? 0 : b->section),
		                   b->file_idx, lineno, f->wdefault };
	const char *eq = memrchr(p, '=', n);
	size_t plen = eq ? (size_t)(eq - p) : n;
	if (eq && f->weight == 0) {
		snprintf(err, errlen, "%s entries take no weight", f->name);
		return -1;
	}
	if (!eq && f->weight == 2) {
		snprintf(err, errlen, "missing \"= weight\"");
		return -1;
	}
	if (eq) {
		const char *wp = eq + 1;
		size_t wn = n - plen - 1;
		while (wn > 0 && (*wp == ' ' || *wp == '\t'))
			wp++, wn--;
		if (lex_parse_weight(wp, wn, &e.tag.weight) != 0 || e.tag.weight < f->wmin ||
		    e.tag.weight > f->wmax) {
			snprintf(err, errlen, "weight must be a number from %g to %g",
			         (double)f->wmin, (double)f->wmax);
			return -1;
		}
	}
	if (lex_phrase_words(p, plen, &e, err, errlen) != 0)
		return -1;
	lex_push(b, &e);
	return 0;
}

/* The closed-class words of proc_words.c, as one-word entries of kind PROC_KIND_WORD. */
static void lex_add_words(struct lex_builder *b)
{
	for (size_t i = 0; proc_words[i].word; i++) {
		struct lex_entry e;
		memset(&e, 0, sizeof(e));
		e.w[0] = text_word_hash(proc_words[i].word, strlen(proc_words[i].word), NULL);
		e.n = 1;
		e.tag = (struct proc_tag){ PROC_KIND_WORD, proc_words[i].cls, (uint16_t)LEX_NFILES,
			                   (uint32_t)i + 1, (float)proc_words[i].value };
		lex_push(b, &e);
	}
}

static int lex_cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Order: first word, longer phrases first, the other words, then kind and category. */
static int lex_cmp_entry(const void *pa, const void *pb)
{
	const struct lex_entry *a = pa, *b = pb;
	int c = lex_cmp_u64(a->w[0], b->w[0]);
	if (c)
		return c;
	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	for (size_t i = 1; i < a->n; i++)
		if ((c = lex_cmp_u64(a->w[i], b->w[i])) != 0)
			return c;
	if (a->tag.kind != b->tag.kind)
		return a->tag.kind < b->tag.kind ? -1 : 1;
	if (a->tag.cat != b->tag.cat)
		return a->tag.cat < b->tag.cat ? -1 : 1;
	return a->tag.line < b->tag.line ? -1 : a->tag.line > b->tag.line;
}

static bool lex_same_phrase(const struct lex_entry *a, const struct lex_entry *b)
{
	return a->n == b->n && memcmp(a->w, b->w, a->n * sizeof(a->w[0])) == 0;
}

static struct lex_slot *lex_slot_for(const struct proc_lexicons *lx, uint64_t key)
{
	size_t i = (size_t)(key ^ (key >> 29)) & lx->mask;
	while (lx->slots[i].count != 0 && lx->slots[i].key != key)
		i = (i + 1) & lx->mask;
	return &lx->slots[i];
}

/* Sorts the entries; refuses a phrase listed twice with the same kind and category.
 * Counts the distinct phrases and first words. */
static int lex_sort(struct lex_builder *b, const char *dir, size_t *nphr, size_t *nfirst, char *err,
                    size_t errlen)
{
	struct lex_entry *e = b->entries;
	size_t n = b->nentries;
	qsort(e, n, sizeof(*e), lex_cmp_entry);
	*nphr = *nfirst = 0;
	for (size_t i = 0; i < n; i++) {
		bool same = i > 0 && lex_same_phrase(&e[i - 1], &e[i]);
		if (same && e[i - 1].tag.kind == e[i].tag.kind &&
		    e[i - 1].tag.cat == e[i].tag.cat) {
			if (b->where)
				snprintf(err, errlen, "%s:%u: duplicate of line %u", b->where,
				         (unsigned)e[i].tag.line, (unsigned)e[i - 1].tag.line);
			else
				snprintf(err, errlen, "%s/%s:%u: duplicate of line %u", dir,
				         e[i].tag.file < LEX_NFILES ? lex_files[e[i].tag.file].name
				                                    : "(built-in words)",
				         (unsigned)e[i].tag.line, (unsigned)e[i - 1].tag.line);
			return -1;
		}
		*nphr += !same;
		*nfirst += i == 0 || e[i - 1].w[0] != e[i].w[0];
	}
	return 0;
}

/* Builds the frozen arrays: phrases, their tags, and the first-word table. */
static int lex_freeze(struct lex_builder *b, const char *dir, char *err, size_t errlen)
{
	struct proc_lexicons *lx = b->lx;
	struct lex_entry *e = b->entries;
	size_t n = b->nentries, nphr, nfirst;
	if (lex_sort(b, dir, &nphr, &nfirst, err, errlen) != 0)
		return -1;
	lx->phrases = xcalloc(nphr ? nphr : 1, sizeof(*lx->phrases));
	lx->tags = xcalloc(n ? n : 1, sizeof(*lx->tags));
	size_t cap = 16;
	while (cap < nfirst * 2)
		cap *= 2;
	lx->slots = xcalloc(cap, sizeof(*lx->slots));
	lx->mask = cap - 1;
	size_t p = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !lex_same_phrase(&e[i - 1], &e[i])) {
			struct lex_phrase *ph = &lx->phrases[++p];
			memcpy(ph->w, e[i].w, sizeof(ph->w));
			ph->n = e[i].n;
			ph->tag0 = (uint32_t)i;
			struct lex_slot *sl = lex_slot_for(lx, ph->w[0]);
			if (sl->count == 0)
				sl->key = ph->w[0], sl->first = sl->singles = (uint32_t)p;
			sl->count++;
			if (ph->n > 1) {
				sl->second |= LEX_BIT(ph->w[1]);
				sl->singles = (uint32_t)p + 1;
			}
		}
		lx->phrases[p].ntags++;
		lx->tags[i] = e[i].tag;
	}
	return 0;
}

struct proc_lexicons *proc_lex_load(const char *dir, char *err, size_t errlen)
{
	struct lex_builder b;
	memset(&b, 0, sizeof(b));
	b.lx = xcalloc(1, sizeof(*b.lx));
	b.lx->magic = PROC_LEX_MAGIC;
	for (size_t i = 0; i < LEX_NFILES; i++) {
		char path[4096];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, lex_files[i].name) >=
		    sizeof(path)) {
			snprintf(err, errlen, "%s: directory name too long", dir);
			goto fail;
		}
		b.file = &lex_files[i];
		b.file_idx = (uint16_t)i;
		b.section = -1;
		if (text_list_load(path, lex_line, &b, err, errlen) != 0)
			goto fail;
	}
	if (b.lx->ntopics == 0) {
		snprintf(err, errlen, "%s/topics.txt: no [topic] sections", dir);
		goto fail;
	}
	lex_add_words(&b);
	if (lex_freeze(&b, dir, err, errlen) != 0)
		goto fail;
	free(b.entries);
	return b.lx;
fail:
	free(b.entries);
	proc_lex_free(&b.lx);
	return NULL;
}

struct proc_lexicons *proc_lex_load_topics(const struct proc_lexicons *base, const char *path,
                                           char *err, size_t errlen)
{
	struct lex_builder b;
	memset(&b, 0, sizeof(b));
	b.lx = xcalloc(1, sizeof(*b.lx));
	b.lx->magic = PROC_LEX_MAGIC;
	memcpy(b.lx->topics, base->topics, sizeof(b.lx->topics));
	b.lx->ntopics = b.nbase = base->ntopics;
	b.where = path;
	b.file = &lex_files[0]; /* topics.txt's rules */
	b.section = -1;
	if (text_list_load(path, lex_line, &b, err, errlen) != 0 ||
	    lex_freeze(&b, path, err, errlen) != 0) {
		free(b.entries);
		proc_lex_free(&b.lx);
		return NULL;
	}
	free(b.entries);
	return b.lx;
}

void proc_lex_free(struct proc_lexicons **lxp)
{
	if (lxp == NULL || *lxp == NULL)
		return;
	struct proc_lexicons *lx = *lxp;
	if (lx->magic != PROC_LEX_MAGIC)
		abort();
	free(lx->phrases);
	free(lx->tags);
	free(lx->slots);
	lx->magic = 0;
	free(lx);
	*lxp = NULL;
}

size_t proc_lex_topic_count(const struct proc_lexicons *lx)
{
	return lx->ntopics;
}

const char *proc_lex_topic_name(const struct proc_lexicons *lx, size_t i)
{
	return i < lx->ntopics ? lx->topics[i] : "";
}

static const struct lex_slot *lex_find(const struct proc_lexicons *lx, uint64_t key)
{
	const struct lex_slot *sl = lex_slot_for(lx, key);
	return sl->count ? sl : NULL;
}

static bool lex_phrase_matches(const struct lex_phrase *ph, const struct proc_tok *toks, size_t i,
                               size_t ntoks)
{
	if (i + ph->n > ntoks)
		return false;
	for (size_t k = 1; k < ph->n; k++) {
		const struct proc_tok *t = &toks[i + k];
		if ((t->flags & TEXT_W_BREAK) || (ph->w[k] != t->h && ph->w[k] != t->hs))
			return false;
	}
	return true;
}

/* Matches the phrases of one chain at toks[i]; won/covered as in proc_lex_match. */
static void lex_match_chain(const struct proc_lexicons *lx, const struct lex_slot *sl,
                            struct proc_tok *toks, size_t i, size_t ntoks, const size_t *covered,
                            const struct lex_phrase **won, proc_match_fn fn, void *arg)
{
	uint32_t p = sl->first;
	if (i + 1 >= ntoks || (toks[i + 1].flags & TEXT_W_BREAK) ||
	    !(sl->second & (LEX_BIT(toks[i + 1].h) | LEX_BIT(toks[i + 1].hs))))
		p = sl->singles; /* no longer phrase can match here */
	for (; p < sl->first + sl->count; p++) {
		const struct lex_phrase *ph = &lx->phrases[p];
		if (!lex_phrase_matches(ph, toks, i, ntoks))
			continue;
		for (uint32_t t = ph->tag0; t < ph->tag0 + ph->ntags; t++) {
			const struct proc_tag *tag = &lx->tags[t];
			if (covered[tag->kind] > i || (won[tag->kind] && won[tag->kind] != ph))
				continue;
			won[tag->kind] = ph;
			fn(arg, toks, i, ph->n, tag);
		}
	}
}

void proc_lex_match(const struct proc_lexicons *lx, struct proc_tok *toks, size_t ntoks,
                    proc_match_fn fn, void *arg)
{
	size_t covered[PROC_KIND_COUNT] = { 0 }; /* per kind: words before this are taken */
	for (size_t i = 0; i < ntoks; i++) {
		const struct lex_slot *sl = lex_find(lx, toks[i].h);
		const struct lex_slot *ss =
		    toks[i].hs != toks[i].h ? lex_find(lx, toks[i].hs) : NULL;
		if (sl == NULL && ss == NULL)
			continue;
		const struct lex_phrase *won[PROC_KIND_COUNT] = { NULL };
		if (sl)
			lex_match_chain(lx, sl, toks, i, ntoks, covered, won, fn, arg);
		if (ss) /* the singular's phrases, for kinds the word itself did not match */
			lex_match_chain(lx, ss, toks, i, ntoks, covered, won, fn, arg);
		for (size_t k = 0; k < PROC_KIND_COUNT; k++)
			if (won[k])
				covered[k] = i + won[k]->n;
	}
}

/*
 * proc: runs the built-in processors over one call (see proc.h).
 *
 * One pass over the turns. Each caller (user) or agent (assistant) turn is split into
 * sentences and words once; the lexicon matcher runs once over the words and its callback
 * hands each cue to the processor that wants it (topics, sentiment, resolution, summary
 * features, name patterns, vehicle makes); then the turn-level steps run (name candidates,
 * repetition, sentence picking, key-variable scanners). System and tool turns are skipped:
 * they are not what anyone said. The per-turn word and sentence arrays are reused across
 * turns, so a call costs a handful of allocations however long it is.
 */
#include "proc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_extract.h"
#include "proc_lex.h"
#include "proc_name.h"
#include "proc_resolution.h"
#include "proc_sentiment.h"
#include "proc_summary.h"
#include "proc_tenant.h"
#include "proc_tok.h"
#include "proc_topics.h"
#include "text.h"
#include "xalloc.h"

struct proc_ctx {
	const struct proc_lexicons *lx;
	const struct proc_lexicons *tenant; /* the tenant's own topics, or NULL */
	const struct proc_lexicons *names;  /* topic names: tenant, else lx */
	char agent[64];                     /* the agent's name, never taken for the caller's */
	size_t turn;
	bool caller;
	struct proc_turn_toks tt;     /* this turn's words and sentences */
	struct proc_summ_feat *feats; /* per sentence of tt */
	size_t fcap;
	struct proc_topics topics;
	struct proc_sentiment sentiment;
	struct proc_resolution resolution;
	struct proc_name name;
	struct proc_summary summary;
	struct proc_extract vars;
};

struct proc_lexicons *proc_lexicons_load(const char *dir, char *err, size_t errlen)
{
	return proc_lex_load(dir, err, errlen);
}

void proc_lexicons_free(struct proc_lexicons **lx)
{
	proc_lex_free(lx);
}

static void proc_mark(struct proc_tok *toks, size_t i, size_t n, unsigned mark)
{
	for (size_t k = i; k < i + n; k++)
		toks[k].mark |= (uint8_t)mark;
}

static void proc_on_resolution(struct proc_ctx *c, const struct proc_tag *tag,
                               struct proc_summ_feat *f)
{
	proc_resolution_on_tag(&c->resolution, tag, c->turn, c->caller);
	if (c->caller)
		return;
	if (tag->cat == PROC_RES_CLOSING)
		f->closing += tag->weight;
	else if (tag->cat <= PROC_RES_UNRESOLVED)
		f->outcome += tag->weight;
}

/* The lexicon matcher's callback: routes each cue to its processor. */
static void proc_on_match(void *arg, struct proc_tok *toks, size_t i, size_t n,
                          const struct proc_tag *tag)
{
	struct proc_ctx *c = arg;
	struct proc_summ_feat *f = &c->feats[toks[i].sent];
	switch ((enum proc_kind)tag->kind) {
	case PROC_KIND_TOPIC:
		if (!proc_topics_on_tag(&c->topics, toks, i, n, tag, c->caller, (uint32_t)c->turn))
			break; /* a guard phrase ("home run = 0") */
		f->topics++;
		proc_mark(toks, i, n, PROC_MARK_CUE);
		break;
	case PROC_KIND_SENTIMENT:
	case PROC_KIND_FRUSTRATION:
		if (c->caller)
			proc_sentiment_on_tag(&c->sentiment, toks, c->tt.ntoks, i, tag, c->turn);
		break;
	case PROC_KIND_NEGATOR:
		if (tag->weight >= 1) { /* "no idea = 0" shadows "no" */
			toks[i].mark |= PROC_MARK_NEG;
			toks[i].nwin = (uint8_t)tag->weight;
		}
		break;
	case PROC_KIND_INTENSIFIER:
		toks[i].mark |= PROC_MARK_INTENS;
		toks[i].w = tag->weight;
		break;
	case PROC_KIND_RESOLUTION:
		proc_on_resolution(c, tag, f);
		break;
	case PROC_KIND_SUMMARY:
		if (tag->cat == PROC_SUMM_REQUEST && c->caller)
			f->request += tag->weight;
		else if (tag->cat == PROC_SUMM_ACTION && !c->caller)
			f->action += tag->weight;
		else
			break;
		proc_mark(toks, i, n, PROC_MARK_CUE);
		break;
	case PROC_KIND_MAKE:
		toks[i].mark |= PROC_MARK_MAKE;
		toks[i].mlen = (uint8_t)n;
		break;
	case PROC_KIND_NAME:
		if (tag->cat == PROC_NAME_NOT)
			proc_mark(toks, i, n, PROC_MARK_NOTNAME);
		else if (tag->cat == PROC_NAME_ORG)
			proc_mark(toks, i, n, PROC_MARK_NOTNAME | PROC_MARK_ORG);
		else
			proc_name_on_tag(&c->name, toks, i, n, tag, c->caller);
		f->intro = f->intro || tag->cat == PROC_NAME_INTRO || tag->cat == PROC_NAME_STRONG;
		break;
	case PROC_KIND_WORD:
		toks[i].wclass = tag->cat;
		toks[i].wval = (uint16_t)tag->weight;
		break;
	case PROC_KIND_PERSONALITY: /* calls/personality.c's business */
	case PROC_KIND_COUNT:
		break;
	}
}

/* Splits one turn into sentences and words; one summary feature record per sentence. */
static void proc_tokenise_turn(struct proc_ctx *c, const char *text, size_t len)
{
	proc_tokenise(&c->tt, text, len);
	if (c->tt.nsents > c->fcap) {
		c->fcap = c->tt.scap;
		c->feats = xreallocarray(c->feats, c->fcap, sizeof(*c->feats));
	}
	if (c->tt.nsents > 0)
		memset(c->feats, 0, c->tt.nsents * sizeof(*c->feats));
}

/* Sentence picking for the summary: each sentence's words are a run of c->tt.toks. */
static void proc_turn_sentences(struct proc_ctx *c, const char *text)
{
	size_t t = 0;
	for (size_t s = 0; s < c->tt.nsents; s++) {
		size_t a = t;
		while (t < c->tt.ntoks && c->tt.toks[t].sent == s)
			t++;
		if (t > a)
			proc_summary_sentence(&c->summary, c->caller, c->turn, s, text,
			                      &c->tt.sents[s], &c->tt.toks[a], t - a, &c->feats[s]);
	}
}

static void proc_turn(struct proc_ctx *c, const struct event_turn *turn)
{
	const char *text = turn->text ? turn->text : "";
	size_t len = turn->text ? turn->text_len : 0;
	if (len > UINT32_MAX)
		len = UINT32_MAX; /* offsets are 32-bit; events are far smaller */
	proc_tokenise_turn(c, text, len);
	proc_lex_match(c->lx, c->tt.toks, c->tt.ntoks, proc_on_match, c);
	if (c->tenant) /* only topic cues: they add to the built-in ones */
		proc_lex_match(c->tenant, c->tt.toks, c->tt.ntoks, proc_on_match, c);
	if (c->caller) {
		proc_sentiment_turn(&c->sentiment, text, len, c->tt.toks, c->tt.ntoks,
		                    (uint32_t)c->turn);
		proc_name_caller_turn(&c->name, text, c->tt.toks, c->tt.ntoks);
	} else {
		proc_name_agent_turn(&c->name);
	}
	proc_turn_sentences(c, text);
	proc_extract_turn(&c->vars, text, len, c->tt.toks, c->tt.ntoks);
}

/* The agent's name from the event's "agent" object text, into out ("" when none). */
static void proc_agent_name(const struct event_call *call, char *out, size_t outlen)
{
	out[0] = '\0';
	if (call->agent.ptr == NULL || call->agent.len == 0)
		return;
	json_t *agent = json_loadb(call->agent.ptr, call->agent.len, 0, NULL);
	json_t *name = json_object_get(agent, "name"); /* NULL-safe */
	if (json_is_string(name))
		snprintf(out, outlen, "%s", json_string_value(name));
	json_decref(agent);
}

/* The embedder's input: the summary and the topic names. */
static void proc_embed_result(struct proc_result *out, const char *const *topics, size_t n)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, out->summary);
	for (size_t i = 0; i < n; i++) {
		buf_putc(&b, ' ');
		for (const char *p = topics[i]; *p; p++)
			buf_putc(&b, *p == '_' ? ' ' : *p);
	}
	proc_embed_text(b.data, b.len, out->embedding);
	buf_free(&b);
}

static void proc_finish(struct proc_ctx *c, struct proc_result *out)
{
	size_t idx[PROC_TOPICS_OUT];
	const char *names[PROC_TOPICS_OUT];
	size_t n = proc_topics_rank(&c->topics, proc_lex_topic_count(c->names),
	                            proc_topics_subjects(c->names), idx);
	for (size_t i = 0; i < n; i++)
		names[i] = proc_lex_topic_name(c->names, idx[i]);
	out->caller_name = c->name.name[0] ? xstrdup(c->name.name) : NULL;
	out->sentiment = proc_sentiment_label(&c->sentiment);
	out->sentiment_score = proc_sentiment_score(&c->sentiment);
	out->resolution = proc_resolution_label(&c->resolution);
	out->summary =
	    proc_summary_compose(&c->summary, out->caller_name, names, n, out->resolution);
	out->key_topics = proc_topics_json(c->names, idx, n);
	out->key_variables = proc_extract_finish(&c->vars, out->caller_name);
	proc_embed_result(out, names, n);
}

int proc_run(const struct proc_lexicons *lx, const struct event_call *call, struct proc_result *out,
             char *err, size_t errlen)
{
	return proc_run_tenant(lx, NULL, 0, call, out, err, errlen);
}

int proc_run_tenant(const struct proc_lexicons *lx, const struct proc_tenants *tn,
                    long long customer_id, const struct event_call *call, struct proc_result *out,
                    char *err, size_t errlen)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (lx == NULL || call == NULL || out == NULL || call->nturns == 0 || call->turns == NULL) {
		snprintf(err, errlen, "proc_run: no lexicons, no call or no turns");
		return -1;
	}
	struct proc_ctx *c = xcalloc(1, sizeof(*c));
	c->lx = lx;
	c->tenant = proc_tenants_find(tn, customer_id);
	c->names = c->tenant ? c->tenant : lx;
	proc_topics_init(&c->topics);
	proc_sentiment_init(&c->sentiment, call->nturns);
	proc_resolution_init(&c->resolution, call->nturns);
	proc_agent_name(call, c->agent, sizeof(c->agent));
	proc_name_init(&c->name, c->agent[0] ? c->agent : NULL);
	proc_summary_init(&c->summary, call->nturns);
	proc_extract_init(&c->vars);
	for (size_t t = 0; t < call->nturns; t++) {
		enum event_role role = call->turns[t].role;
		if (role != EVENT_ROLE_USER && role != EVENT_ROLE_ASSISTANT)
			continue;
		c->turn = t;
		c->caller = role == EVENT_ROLE_USER;
		proc_turn(c, &call->turns[t]);
	}
	proc_finish(c, out);
	proc_extract_release(&c->vars);
	proc_turn_toks_free(&c->tt);
	free(c->feats);
	free(c);
	return 0;
}

void proc_result_release(struct proc_result *r)
{
	if (r == NULL)
		return;
	free(r->summary);
	free(r->caller_name);
	json_decref(r->key_topics);
	json_decref(r->key_variables);
	memset(r, 0, sizeof(*r));
}

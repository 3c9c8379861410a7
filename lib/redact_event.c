/*
 * redact_event: policy + metrics + a pool of redactors, applied to a decoded event (see
 * redact_event.h).
 */
#include "redact_event.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jscan.h"
#include "prog.h"
#include "redact_policy.h"
#include "xalloc.h"

#define EDGE_MAGIC 0x45444745u

struct redact_edge {
	unsigned magic;
	struct redact_policy *policy;
	struct metrics_counter *count[REDACT_NKINDS];
	pthread_mutex_t mu;
	struct redactor **pool; /* idle redactors, reused by whichever thread comes */
	size_t npool, cappool;
	bool reloads;           /* redact_edge_start registered edge_on_reload */
	size_t settings_offset; /* of struct redact_settings in the program's settings */
};

struct redact_edge *redact_edge_new(const struct redact_settings *s, struct metrics *m, char *err,
                                    size_t errlen)
{
	struct redact_policy *p = redact_policy_load(s, err, errlen);
	if (p == NULL)
		return NULL;
	struct redact_edge *e = xcalloc(1, sizeof(*e));
	e->magic = EDGE_MAGIC;
	e->policy = p;
	pthread_mutex_init(&e->mu, NULL);
	for (int k = 0; k < REDACT_NKINDS && m; k++) {
		char labels[48];
		snprintf(labels, sizeof(labels), "kind=\"%s\"",
		         redact_kind_name((enum redact_kind)k));
		e->count[k] = metrics_counter(m, "aimem_redactions_total",
		                              "Values replaced by a placeholder, by kind", labels);
	}
	return e;
}

int redact_edge_reload(struct redact_edge *e, const struct redact_settings *s, char *err,
                       size_t errlen)
{
	return redact_policy_reload(e->policy, s, err, errlen);
}

/* prog_on_reload's function for redact_edge_start: main thread, fresh settings. */
static int edge_on_reload(const void *fresh, void *ctx, char *err, size_t errlen)
{
	struct redact_edge *e = ctx;
	const struct redact_settings *s =
	    (const struct redact_settings *)((const char *)fresh + e->settings_offset);
	return redact_policy_reload(e->policy, s, err, errlen);
}

struct redact_edge *redact_edge_start(const struct redact_settings *s, size_t offset,
                                      struct metrics *m, char *err, size_t errlen)
{
	struct redact_edge *e = redact_edge_new(s, m, err, errlen);
	if (e != NULL) {
		e->reloads = true;
		e->settings_offset = offset;
		prog_on_reload(edge_on_reload, e);
	}
	return e;
}

int redact_settings_check(const struct redact_settings *s, char *err, size_t errlen)
{
	struct redact_policy *p = redact_policy_load(s, err, errlen);
	if (p == NULL)
		return -1;
	redact_policy_free(&p);
	return 0;
}

void redact_edge_free(struct redact_edge **ep)
{
	struct redact_edge *e = *ep;
	if (e == NULL)
		return;
	if (e->magic != EDGE_MAGIC)
		abort();
	if (e->reloads)
		prog_on_reload(NULL, NULL);
	for (size_t i = 0; i < e->npool; i++)
		redact_free(&e->pool[i]);
	free(e->pool);
	redact_policy_free(&e->policy);
	pthread_mutex_destroy(&e->mu);
	e->magic = 0;
	free(e);
	*ep = NULL;
}

static struct redactor *edge_take(struct redact_edge *e)
{
	struct redactor *r = NULL;
	pthread_mutex_lock(&e->mu);
	if (e->npool > 0)
		r = e->pool[--e->npool];
	pthread_mutex_unlock(&e->mu);
	return r ? r : redact_new();
}

static void edge_give(struct redact_edge *e, struct redactor *r)
{
	pthread_mutex_lock(&e->mu);
	if (e->npool == e->cappool) {
		e->cappool = e->cappool ? e->cappool * 2 : 8;
		e->pool = xreallocarray(e->pool, e->cappool, sizeof(*e->pool));
	}
	e->pool[e->npool++] = r;
	pthread_mutex_unlock(&e->mu);
}

/* metadata.redaction first, then the event's own members but a "redaction" of its own. */
static void edge_metadata(const struct event *ev, const char *version, const unsigned *counts,
                          struct buf *out)
{
	buf_append_str(out, "{\"redaction\":{\"policy\":");
	jscan_quote(out, version, strlen(version));
	buf_append_str(out, ",\"counts\":{");
	bool first = true;
	for (int k = 0; k < REDACT_NKINDS; k++)
		if (counts[k]) {
			buf_appendf(out, "%s\"%s\":%u", first ? "" : ",",
			            redact_kind_name((enum redact_kind)k), counts[k]);
			first = false;
		}
	buf_append_str(out, "}}");
	const struct event_json *md = &ev->call.metadata;
	struct jscan_doc doc = JSCAN_DOC_INIT;
	char why[64];
	if (md->ptr != NULL && jscan_parse(&doc, md->ptr, md->len, why, sizeof(why)) == 0) {
		size_t key = 1;
		for (uint32_t i = 0; i < doc.tok[0].count; i++) {
			size_t val = key + 1;
			if (strcmp(jscan_str(&doc, key), "redaction") != 0) {
				buf_putc(out, ',');
				buf_append(out, md->ptr + doc.tok[key].start, doc.tok[key].len);
				buf_putc(out, ':');
				buf_append(out, md->ptr + doc.tok[val].start, doc.tok[val].len);
			}
			key = doc.tok[val].next;
		}
	}
	jscan_doc_free(&doc);
	buf_putc(out, '}');
}

/* Re-encodes ev with its new texts (and metadata, or memory value), and decodes the result
 * into ev. */
static void edge_reencode(struct event *ev)
{
	struct buf text = BUF_INIT;
	event_encode(ev, &text);
	/* placeholders may be longer than what they replace: no size limit for our own text */
	const struct event_limits lim = { .max_event_bytes = (size_t)-1,
		                          .max_turns = (size_t)-1,
		                          .max_text_bytes = (size_t)-1 };
	char err[160];
	struct event fresh;
	if (event_decode(text.data, text.len, NULL, 0, &lim, &fresh, err, sizeof(err)) != EVENT_OK)
		abort(); /* our own encoding of a valid event: a broken invariant */
	buf_free(&text);
	event_release(ev);
	*ev = fresh;
}

/*
 * Nothing was replaced: the validated text stays as it is but for metadata, spliced in where
 * it was (or added before the closing brace). ev->raw is swapped for the new text; agent and
 * metadata, the only members that point into it, are moved with it.
 */
static void edge_splice(struct event *ev, const struct buf *md)
{
	char *old = ev->raw;
	struct event_json *meta = &ev->call.metadata, *agent = &ev->call.agent;
	size_t at, cut;
	static const char key[] = ",\"metadata\":";
	if (meta->ptr != NULL) {
		at = (size_t)(meta->ptr - old);
		cut = meta->len;
	} else {
		at = ev->raw_len;
		while (at > 0 && old[at - 1] != '}')
			at--;
		at--; /* the top-level object's closing brace (it is an object: decoded) */
		cut = 0;
	}
	struct buf text = BUF_INIT;
	buf_reserve(&text, ev->raw_len + md->len + sizeof(key));
	buf_append(&text, old, at);
	if (meta->ptr == NULL)
		buf_append(&text, key, sizeof(key) - 1);
	size_t md_at = text.len;
	buf_append(&text, md->data, md->len);
	buf_append(&text, old + at + cut, ev->raw_len - at - cut);
	if (agent->ptr != NULL) {
		size_t a = (size_t)(agent->ptr - old);
		agent->ptr = text.data + (a < at ? a : a + (text.len - ev->raw_len));
	}
	*meta = (struct event_json){ text.data + md_at, md->len };
	ev->raw_len = text.len;
	ev->raw = buf_detach(&text);
	free(old);
}

static void edge_record(struct event *ev, const char *version, const unsigned *counts, bool changed)
{
	struct buf md = BUF_INIT;
	edge_metadata(ev, version, counts, &md);
	if (changed) {
		ev->call.metadata = (struct event_json){ md.data, md.len };
		edge_reencode(ev);
	} else
		edge_splice(ev, &md);
	buf_free(&md);
}

/* The counters of aimem_redactions_total{kind}. */
static void edge_count(struct redact_edge *e, const unsigned *c)
{
	for (int k = 0; k < REDACT_NKINDS; k++)
		if (c[k] && e->count[k])
			metrics_counter_add(e->count[k], c[k]);
}

/*
 * Appends the JSON value at token t of d (the text src) to out, each string value (not the
 * keys) and integer redacted on its own as one turn; *changed when one was. Returns the token
 * after it.
 */
static size_t edge_value(struct redactor *r, unsigned kinds, const struct jscan_doc *d,
                         const char *src, size_t t, struct buf *out, unsigned *counts,
                         bool *changed)
{
	const struct jscan_token *tk = &d->tok[t];
	if (tk->type == JSCAN_OBJECT || tk->type == JSCAN_ARRAY) {
		bool obj = tk->type == JSCAN_OBJECT;
		buf_putc(out, obj ? '{' : '[');
		size_t k = t + 1;
		for (uint32_t i = 0; i < tk->count; i++) {
			if (i > 0)
				buf_putc(out, ',');
			if (obj) {
				buf_append(out, src + d->tok[k].start, d->tok[k].len);
				buf_putc(out, ':');
				k++;
			}
			k = edge_value(r, kinds, d, src, k, out, counts, changed);
		}
		buf_putc(out, obj ? '}' : ']');
		return tk->next;
	}
	/* a string's text, or an integer's digits: a card stored as a number becomes its
	 * placeholder string */
	struct redact_turn turn = { 0, jscan_str(d, t), tk->count };
	if (tk->type == JSCAN_INTEGER)
		turn = (struct redact_turn){ 0, src + tk->start, tk->len };
	unsigned c[REDACT_NKINDS];
	if ((tk->type == JSCAN_STRING || tk->type == JSCAN_INTEGER) &&
	    redact_run(r, kinds, &turn, 1, c) > 0) {
		size_t len;
		bool ch;
		const char *text = redact_text(r, 0, &len, &ch);
		jscan_quote(out, text, len);
		for (int k = 0; k < REDACT_NKINDS; k++)
			counts[k] += c[k];
		*changed = true;
	} else {
		buf_append(out, src + tk->start, tk->len);
	}
	return tk->next;
}

/* A memory.put's value: its strings redacted; the event encoded again when one changed (with
 * record) or the value moved to ev->rewritten. Returns the values replaced. */
static size_t edge_memory(struct redactor *r, unsigned kinds, struct event *ev, bool record,
                          unsigned *counts)
{
	const struct event_json *v = &ev->mem.value;
	struct jscan_doc doc = JSCAN_DOC_INIT;
	struct buf out = BUF_INIT;
	bool changed = false;
	char why[64];
	if (v->ptr != NULL && jscan_parse(&doc, v->ptr, v->len, why, sizeof(why)) == 0)
		(void)edge_value(r, kinds, &doc, v->ptr, 0, &out, counts, &changed);
	jscan_doc_free(&doc);
	size_t found = 0;
	for (int k = 0; k < REDACT_NKINDS; k++)
		found += counts[k];
	if (changed) {
		free(ev->rewritten);
		ev->mem.value = (struct event_json){ out.data, out.len };
		ev->rewritten = out.data; /* owned by the event until it is encoded again */
		out = (struct buf)BUF_INIT;
		if (record) {
			char *held = ev->rewritten;
			ev->rewritten = NULL;
			edge_reencode(ev);
			free(held);
		}
	}
	buf_free(&out);
	return found;
}

size_t redact_edge_event(struct redact_edge *e, struct event *ev, bool record,
                         unsigned counts[REDACT_NKINDS])
{
	unsigned local[REDACT_NKINDS];
	unsigned *c = counts ? counts : local;
	memset(c, 0, sizeof(local));
	if (ev->type != EVENT_CALL_ENDED && ev->type != EVENT_MEMORY_PUT)
		return 0;
	char version[REDACT_VERSION_MAX];
	unsigned kinds = redact_policy_kinds(e->policy, ev->customer_id, version);
	struct redactor *r = edge_take(e);
	if (ev->type == EVENT_MEMORY_PUT) {
		size_t found = edge_memory(r, kinds, ev, record, c);
		edge_give(e, r);
		edge_count(e, c);
		return found;
	}
	struct redact_turn stack[32];
	size_t n = ev->call.nturns;
	struct redact_turn *in = n <= 32 ? stack : xmallocarray(n, sizeof(*in));
	for (size_t i = 0; i < n; i++)
		in[i] = (struct redact_turn){ (int)ev->call.turns[i].role, ev->call.turns[i].text,
			                      ev->call.turns[i].text_len };
	size_t found = redact_run(r, kinds, in, n, c);
	if (found > 0) {
		struct buf all = BUF_INIT;
		size_t *off = xmallocarray(n, sizeof(*off));
		for (size_t i = 0; i < n; i++) {
			size_t len;
			bool changed;
			const char *t = redact_text(r, i, &len, &changed);
			off[i] = changed ? all.len : (size_t)-1;
			if (changed) {
				buf_append(&all, t, len);
				buf_putc(&all, '\0');
			}
		}
		free(ev->rewritten);
		ev->rewritten = buf_detach(&all);
		for (size_t i = 0; i < n; i++)
			if (off[i] != (size_t)-1) {
				ev->call.turns[i].text = ev->rewritten + off[i];
				ev->call.turns[i].text_len = strlen(ev->call.turns[i].text);
			}
		free(off);
	}
	if (in != stack)
		free(in);
	edge_give(e, r);
	edge_count(e, c);
	if (record)
		edge_record(ev, version, c, found > 0);
	return found;
}

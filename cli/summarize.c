/*
 * summarize: `aimem summarize`, events through the processors, results as JSON Lines (see
 * summarize.h).
 */
#include "summarize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "event.h"
#include "llm.h"
#include "facts.h"
#include "personality.h"
#include "sig.h"
#include "summary_model.h"
#include "xalloc.h"

#define SUMMARIZE_BATCH_MAX 256 /* lines read ahead while the model answers */

/* One line on its way through: the event, the results, what the model made of it. */
struct summarize_item {
	long long lineno;
	struct event ev;
	struct proc_result r; /* built-in, or the model's answer once it came */
	struct personality_result p;
	const char *processor;
	bool failed;
	char err[200];
};

static json_t *summarize_personality(const struct personality_result *p)
{
	json_t *o = json_object();
	for (size_t i = 0; i < PERSONALITY_NSCORES; i++)
		json_object_set_new(o, personality_score_names[i], json_real(p->score[i]));
	json_object_set_new(o, "confidence", json_real(p->confidence));
	json_object_set_new(o, "processor", json_string(PERSONALITY_BUILTIN_NAME));
	return o;
}

/* The output line of one item: the summarizer's fields, then the personality scores. */
static void summarize_print(const struct summarize_opts *o, const struct summarize_item *it)
{
	json_t *line = json_object();
	json_object_set_new(line, "call_id", json_string(it->ev.call.call_id));
	if (o->summary) {
		const struct proc_result *r = &it->r;
		json_object_set_new(line, "summary", json_string(r->summary));
		json_object_set(line, "key_topics", r->key_topics);
		json_object_set(line, "key_variables", r->key_variables);
		json_object_set_new(line, "caller_name",
		                    r->caller_name ? json_string(r->caller_name) : json_null());
		json_object_set_new(line, "sentiment", json_string(r->sentiment));
		json_object_set_new(line, "resolution_status", json_string(r->resolution));
		json_object_set_new(line, "processor", json_string(it->processor));
		/* what the summarizer stores on the row and folds into caller_facts */
		json_object_set_new(line, "facts", facts_from_call(&it->ev.call, r->key_variables));
	}
	if (o->personality)
		json_object_set_new(line, "personality", summarize_personality(&it->p));
	char *text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(6));
	fputs(text, o->out);
	fputc('\n', o->out);
	free(text);
	json_decref(line);
}

/* Decodes one line and runs the built-in processors; false (reported) when the line is bad. */
static bool summarize_decode(const struct summarize_opts *o, const char *line, size_t len,
                             struct summarize_item *it)
{
	char err[512];
	int rc = event_decode(line, len, NULL, 0, &event_default_limits, &it->ev, err, sizeof(err));
	if (rc != EVENT_OK) {
		fprintf(stderr, "summarize: line %lld: %s: %s\n", it->lineno, event_status_code(rc),
		        err);
		return false;
	}
	if (it->ev.type != EVENT_CALL_ENDED) {
		fprintf(stderr, "summarize: line %lld: unexpected_type: %s is not call.ended\n",
		        it->lineno, event_type_name(it->ev.type));
		event_release(&it->ev);
		return false;
	}
	if ((o->summary && proc_run(o->lx, &it->ev.call, &it->r, err, sizeof(err)) != 0) ||
	    (o->personality &&
	     personality_score(o->lx, &it->ev.call, &it->p, err, sizeof(err)) != 0)) {
		/* only for a call without turns, which the codec never lets through */
		fprintf(stderr, "summarize: line %lld: processing_failed: %s\n", it->lineno, err);
		proc_result_release(&it->r);
		event_release(&it->ev);
		return false;
	}
	it->processor = PROC_BUILTIN_NAME;
	return true;
}

static void summarize_model_done(void *opaque, int status, const char *content, size_t len,
                                 const char *err)
{
	struct summarize_item *it = opaque;
	struct proc_result m;
	if (status != LLM_OK) {
		snprintf(it->err, sizeof(it->err), "%s: %s", llm_status_name(status),
		         err ? err : "");
		it->failed = true;
		return;
	}
	char perr[160];
	if (summary_model_answer(content, len, &it->r, &m, perr, sizeof(perr)) != 0) {
		snprintf(it->err, sizeof(it->err), "unusable answer: %s", perr);
		it->failed = true;
		return;
	}
	proc_result_release(&it->r);
	it->r = m;
}

/* Every call of the batch to the model at once (the client bounds what is in flight). */
static void summarize_ask_model(const struct summarize_opts *o, struct summarize_item *items,
                                size_t n)
{
	struct buf prompt = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		buf_reset(&prompt);
		summary_model_prompt(&items[i].ev.call, o->model->max_prompt_bytes, &prompt);
		items[i].processor = o->model->processor;
		if (llm_submit(o->model->client, o->model->prompt, buf_str(&prompt),
		               summarize_model_done, &items[i]) != 0) {
			items[i].failed = true;
			snprintf(items[i].err, sizeof(items[i].err), "cannot submit the request");
		}
	}
	buf_free(&prompt);
	while (llm_pending(o->model->client) > 0)
		if (llm_poll(o->model->client, 1000) < 0)
			sig_wait(100); /* curl's multi interface failed: poll again */
}

/* Prints (or reports) and releases the items of a batch, in line order. */
static void summarize_flush(const struct summarize_opts *o, struct summarize_item *items, size_t n,
                            struct summarize_report *r)
{
	if (o->model != NULL && o->summary && n > 0)
		summarize_ask_model(o, items, n);
	for (size_t i = 0; i < n; i++) {
		struct summarize_item *it = &items[i];
		if (it->failed) {
			fprintf(stderr, "summarize: line %lld: llm failed: %s\n", it->lineno,
			        it->err);
			r->failed++;
		} else {
			summarize_print(o, it);
			r->printed++;
		}
		proc_result_release(&it->r);
		event_release(&it->ev);
	}
}

int summarize_run(const struct summarize_opts *o, struct summarize_report *r, char *err,
                  size_t errlen)
{
	memset(r, 0, sizeof(*r));
	FILE *in = strcmp(o->path, "-") == 0 ? stdin : fopen(o->path, "r");
	if (in == NULL) {
		snprintf(err, errlen, "%s: %s", o->path, strerror(errno));
		return 2;
	}
	/* without a model a batch is one line: results stream as they are read */
	size_t batch_max = o->model != NULL && o->summary ? SUMMARIZE_BATCH_MAX : 1, n = 0;
	struct summarize_item *items = xcalloc(batch_max, sizeof(*items));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long long lineno = 0; /* the file's line number, blank lines included */
	while (!sig_stop_requested() && (len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		r->lines++;
		memset(&items[n], 0, sizeof(items[n]));
		items[n].lineno = lineno;
		if (!summarize_decode(o, line, (size_t)len, &items[n])) {
			r->bad++;
			continue;
		}
		if (++n == batch_max) {
			summarize_flush(o, items, n, r);
			n = 0;
		}
	}
	summarize_flush(o, items, n, r);
	free(items);
	free(line);
	if (in != stdin)
		fclose(in);
	fflush(o->out);
	return r->bad == 0 && r->failed == 0 ? 0 : 1;
}

/*
 * embed_openai: OpenAI-compatible embeddings over lib/llm (see embed_openai.h).
 *
 * lib/llm owns the transfers (curl multi, keep-alive, per-attempt timeouts, retries with
 * jittered backoff on 429/5xx/timeouts honouring Retry-After, the response cap); this file
 * cuts the texts into batches, builds each request (embed_json_request), and parses each answer
 * inside its callback, while the body is still borrowed.
 */
#include "embed_openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "embed_json.h"
#include "llm.h"
#include "log.h"
#include "sig.h"
#include "xalloc.h"

#define EMBED_BATCH_MAGIC 0x656d6242u /* "embB" */

struct embed_openai {
	struct llm_client *client;
	char *model;
	unsigned dim;
	bool send_dim;
	size_t batch;
};

/* One request's state; travels through lib/llm as the callback's opaque pointer. */
struct embed_batch {
	unsigned magic;
	size_t n;
	unsigned dim;
	float *out; /* borrowed: the caller's rows for this batch */
	int done;   /* 0 pending, 1 ok, -1 failed */
	char err[200];
};

struct embed_openai *embed_openai_new(const struct embed_settings *s, struct metrics *m, char *err,
                                      size_t errlen)
{
	struct llm_config lc = llm_transfer_config(&s->transfer);
	lc.path = "/embeddings";
	char lerr[256];
	struct llm_client *c = llm_new(&lc, m, lerr, sizeof(lerr));
	if (c == NULL) {
		/* "llm.<field>: ..." names lib/llm's field; the setting is embed.<field> */
		snprintf(err, errlen, "embed: %s", strncmp(lerr, "llm.", 4) == 0 ? lerr + 4 : lerr);
		return NULL;
	}
	struct embed_openai *o = xcalloc(1, sizeof(*o));
	o->client = c;
	o->model = xstrdup(s->transfer.model);
	o->dim = (unsigned)s->dimensions;
	o->send_dim = s->send_dimensions;
	o->batch = (size_t)s->batch_size;
	return o;
}

void embed_openai_free(struct embed_openai **op)
{
	struct embed_openai *o = op ? *op : NULL;
	if (o == NULL)
		return;
	llm_free(&o->client);
	free(o->model);
	free(o);
	*op = NULL;
}

/* On the client's thread, inside llm_poll (or llm_free for a cancellation). */
static void embed_openai_done(void *opaque, int status, const char *content, size_t len,
                              const char *err)
{
	struct embed_batch *b = opaque;
	if (b == NULL || b->magic != EMBED_BATCH_MAGIC)
		abort();
	if (status != LLM_OK) {
		snprintf(b->err, sizeof(b->err), "%s: %s", llm_status_name(status), err ? err : "");
		b->done = -1;
		return;
	}
	char perr[160];
	if (embed_json_parse(content, len, b->n, b->dim, b->out, perr, sizeof(perr)) != 0) {
		snprintf(b->err, sizeof(b->err), "bad answer: %s", perr);
		b->done = -1;
		return;
	}
	b->done = 1;
}

int embed_openai_run(struct embed_openai *o, const char *const *texts, const size_t *lens, size_t n,
                     float *out, char *err, size_t errlen)
{
	size_t nb = (n + o->batch - 1) / o->batch;
	struct embed_batch *b = xcalloc(nb, sizeof(*b));
	struct buf body = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < nb; i++) {
		size_t from = i * o->batch, cnt = n - from < o->batch ? n - from : o->batch;
		b[i] = (struct embed_batch){ EMBED_BATCH_MAGIC,   cnt, o->dim,
			                     out + from * o->dim, 0,   "" };
		buf_reset(&body);
		embed_json_request(&body, o->model, texts + from, lens + from, cnt, o->dim,
		                   o->send_dim);
		if (llm_submit_raw(o->client, body.data, body.len, embed_openai_done, &b[i]) != 0) {
			b[i].done = -1;
			snprintf(b[i].err, sizeof(b[i].err), "cannot submit the request");
		}
	}
	buf_free(&body);
	/* nothing may stay in flight past here: the batches' state is freed below */
	while (llm_pending(o->client) > 0)
		if (llm_poll(o->client, 1000) < 0) {
			log_warn("embed: curl's multi interface failed; polling again");
			sig_wait(100);
		}
	for (size_t i = 0; i < nb && rc == 0; i++)
		if (b[i].done != 1) {
			snprintf(err, errlen, "embed: batch %zu of %zu: %s", i + 1, nb,
			         b[i].done == 0 ? "not answered" : b[i].err);
			rc = -1;
		}
	free(b);
	return rc;
}

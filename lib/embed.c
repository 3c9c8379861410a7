/*
 * embed: the embedder interface and its providers' dispatch: hashed (lib/proc_embed),
 * builtin-minilm (lib/minilm) and openai (embed_openai.c) (see embed.h).
 */
#include "embed.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed_openai.h"
#include "log.h"
#include "minilm.h"
#include "proc_embed.h"
#include "text.h"
#include "xalloc.h"

enum embed_kind { EMBED_HASHED, EMBED_OPENAI, EMBED_MINILM };

struct embedder {
	enum embed_kind kind;
	unsigned dim;
	size_t max_input;
	char model_id[256];
	pthread_mutex_t lock; /* openai: one batch at a time on the client's thread */
	struct embed_openai *openai;
	struct minilm *minilm;
	struct metrics *own_m;
	struct metrics_counter *texts, *failures;
};

#define EMBED_BAD(...)                                                                             \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -1;                                                                         \
	} while (0)

static int embed_check(const struct embed_settings *s, enum embed_kind *kind, char *err,
                       size_t errlen)
{
	if (strcmp(s->provider, "hashed") == 0) {
		*kind = EMBED_HASHED;
		if (s->dimensions != PROC_EMBED_DIM)
			EMBED_BAD(
			    "embed.dimensions: the hashed provider makes %d dimensions, not %lld",
			    PROC_EMBED_DIM, s->dimensions);
		return 0;
	}
	if (strcmp(s->provider, "builtin-minilm") == 0) {
		*kind = EMBED_MINILM;
		if (s->dimensions != MINILM_DIM)
			EMBED_BAD(
			    "embed.dimensions: all-MiniLM-L6-v2 makes %d dimensions, not %lld",
			    MINILM_DIM, s->dimensions);
		return 0;
	}
	*kind = EMBED_OPENAI;
	if (s->transfer.base_url == NULL || s->transfer.model == NULL)
		EMBED_BAD("embed.base_url and embed.model are required for the openai provider");
	return 0;
}

/* embed.model_dir, or the cache folder scripts/deps.sh fills. */
static struct minilm *embed_minilm_load(const struct embed_settings *s, char *err, size_t errlen)
{
	char dir[4096];
	if (s->model_dir != NULL)
		snprintf(dir, sizeof(dir), "%s", s->model_dir);
	else if (minilm_default_dir(dir, sizeof(dir)) != 0) {
		snprintf(err, errlen,
		         "embed.model_dir: unset, and neither AIMEM_CACHE nor HOME "
		         "names the model cache (%s)",
		         MINILM_FETCH_HINT);
		return NULL;
	}
	char merr[512];
	struct minilm *m = minilm_load(dir, merr, sizeof(merr));
	if (m == NULL)
		snprintf(err, errlen, "embed.provider builtin-minilm: %s", merr);
	return m;
}

/* builtin-minilm, or the hashed provider when the model cannot be loaded and embed.fallback
 * says so (loud: an error line and a gauge at 1). */
static int embed_minilm_open(struct embedder *e, const struct embed_settings *s, struct metrics *m,
                             char *err, size_t errlen)
{
	struct metrics_gauge *fell = metrics_gauge(
	    m, "aimem_embed_fallback",
	    "1 when embed.provider builtin-minilm could not load its model and embed.fallback "
	    "made this program use the lexical hashed provider instead",
	    "provider=\"builtin-minilm\"");
	snprintf(e->model_id, sizeof(e->model_id), "%s", MINILM_MODEL_ID);
	if ((e->minilm = embed_minilm_load(s, err, errlen)) != NULL)
		return 0;
	if (s->fallback == NULL || strcmp(s->fallback, "hashed") != 0)
		return -1;
	log_error("the built-in model is unavailable: FALLING BACK to the lexical hashed embedder "
	          "(embed.fallback=hashed); semantic search is word matching until the model is "
	          "fetched and the program restarted, and only hashed-ngram/1 vectors are compared "
	          "error=\"%s\"",
	          err);
	metrics_gauge_set(fell, 1);
	e->kind = EMBED_HASHED;
	snprintf(e->model_id, sizeof(e->model_id), "hashed-ngram/1");
	return 0;
}

struct embedder *embed_open(const struct embed_settings *s, struct metrics *m, char *err,
                            size_t errlen)
{
	enum embed_kind kind;
	if (embed_check(s, &kind, err, errlen) != 0)
		return NULL;
	struct embedder *e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->dim = (unsigned)s->dimensions;
	e->max_input = (size_t)s->max_input_bytes;
	pthread_mutex_init(&e->lock, NULL);
	if (m == NULL)
		m = e->own_m = metrics_new();
	if (kind == EMBED_HASHED) {
		snprintf(e->model_id, sizeof(e->model_id), "hashed-ngram/1");
	} else if (kind == EMBED_MINILM) {
		if (embed_minilm_open(e, s, m, err, errlen) != 0) {
			embed_close(&e);
			return NULL;
		}
	} else {
		snprintf(e->model_id, sizeof(e->model_id), "openai:%.200s/%u", s->transfer.model,
		         e->dim);
		if ((e->openai = embed_openai_new(s, m, err, errlen)) == NULL) {
			embed_close(&e);
			return NULL;
		}
	}
	char labels[64];
	snprintf(labels, sizeof(labels), "provider=\"%s\"", s->provider);
	e->texts = metrics_counter(m, "aimem_embed_texts_total", "Texts embedded", labels);
	e->failures = metrics_counter(m, "aimem_embed_failures_total",
	                              "Embedding calls that failed (the caller retries)", labels);
	return e;
}

void embed_close(struct embedder **ep)
{
	struct embedder *e = ep ? *ep : NULL;
	if (e == NULL)
		return;
	embed_openai_free(&e->openai);
	minilm_free(&e->minilm);
	pthread_mutex_destroy(&e->lock);
	metrics_free(&e->own_m);
	free(e);
	*ep = NULL;
}

const char *embed_model_id(const struct embedder *e)
{
	return e->model_id;
}

unsigned embed_dim(const struct embedder *e)
{
	return e->dim;
}

void embed_normalise(float *v, unsigned dim)
{
	double sum = 0;
	for (unsigned i = 0; i < dim; i++)
		sum += (double)v[i] * v[i];
	if (!(sum > 0) || !isfinite(sum)) {
		memset(v, 0, dim * sizeof(*v));
		v[0] = 1.0f;
		return;
	}
	float inv = (float)(1.0 / sqrt(sum));
	for (unsigned i = 0; i < dim; i++)
		v[i] *= inv;
}

int embed_texts(struct embedder *e, const char *const *texts, const size_t *lens, size_t n,
                float *out, char *err, size_t errlen)
{
	if (n == 0)
		return 0;
	size_t *cut = xmallocarray(n, sizeof(*cut));
	for (size_t i = 0; i < n; i++)
		cut[i] = lens[i] > e->max_input ? text_utf8_cut(texts[i], lens[i], e->max_input)
		                                : lens[i];
	int rc = 0;
	if (e->kind == EMBED_HASHED) {
		for (size_t i = 0; i < n; i++)
			proc_embed_text(texts[i], cut[i], out + i * e->dim);
	} else if (e->kind == EMBED_MINILM) {
		/* thread-safe on one model; it cuts each text at 256 word pieces itself */
		rc = minilm_embed(e->minilm, texts, cut, n, out, err, errlen);
	} else {
		pthread_mutex_lock(&e->lock);
		rc = embed_openai_run(e->openai, texts, cut, n, out, err, errlen);
		pthread_mutex_unlock(&e->lock);
		for (size_t i = 0; rc == 0 && i < n; i++)
			embed_normalise(out + i * e->dim, e->dim);
	}
	free(cut);
	metrics_counter_add(rc == 0 ? e->texts : e->failures, rc == 0 ? n : 1);
	return rc;
}

/*
 * minilm: the all-MiniLM-L6-v2 encoder forward pass (see minilm.h).
 *
 * Row-major throughout: a batch is a [rows x hidden] matrix, PyTorch's Linear weights are
 * [out x in], so every dense layer is one product with the weights transposed: OpenBLAS's
 * sgemm for a batch, lib/minilm_gemm's unpacked kernel for a short query. Everything that is
 * not a matrix product (bias, GELU, layer norm, softmax, pooling) is plain loops in float,
 * as BERT computes it (GELU in its erf form, layer norm eps from config.json).
 */
#include "minilm.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "minilm_gemm.h"
#include "safetensors.h"
#include "wordpiece.h"
#include "xalloc.h"

#define MINILM_LAYERS_MAX 24
/* Rows (word pieces of all texts) per forward pass: bounds the scratch at ~14 MB. */
#define MINILM_BATCH_ROWS 1024

struct minilm_layer {
	const float *wq, *bq, *wk, *bk, *wv, *bv; /* self-attention projections */
	const float *wo, *bo, *ln1_g, *ln1_b;     /* attention output + layer norm */
	const float *wi, *bi, *wo2, *bo2;         /* feed-forward */
	const float *ln2_g, *ln2_b;               /* output layer norm */
};

struct minilm {
	struct safetensors *st;
	struct wordpiece *wp;
	size_t hidden, heads, layers, inter, vocab, positions;
	float eps;
	const float *word, *pos, *type, *ln_g, *ln_b;
	struct minilm_layer layer[MINILM_LAYERS_MAX];
};

int minilm_default_dir(char *out, size_t outlen)
{
	const char *cache = getenv("AIMEM_CACHE"), *home = getenv("HOME");
	int n;
	if (cache != NULL && cache[0] != '\0')
		n = snprintf(out, outlen, "%s/%s", cache, MINILM_CACHE_SUBDIR);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(out, outlen, "%s/.cache/ai-memory/%s", home, MINILM_CACHE_SUBDIR);
	else
		return -1;
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

void minilm_free(struct minilm **m)
{
	if (m == NULL || *m == NULL)
		return;
	safetensors_close(&(*m)->st);
	wordpiece_free(&(*m)->wp);
	free(*m);
	*m = NULL;
}

/* ---- loading ---- */

static int ml_int(json_t *cfg, const char *key, long long lo, long long hi, size_t *out)
{
	json_t *v = json_object_get(cfg, key);
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = (size_t)json_integer_value(v);
	return 0;
}

/* The encoder's shape from config.json; err without the path (the caller adds it). */
static int ml_config(struct minilm *m, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = file_read(path, 1u << 20, &len, err, errlen);
	if (text == NULL)
		return -1;
	json_t *cfg = json_loadb(text, len, 0, NULL);
	free(text);
	json_t *eps = json_object_get(cfg, "layer_norm_eps");
	const char *act = json_string_value(json_object_get(cfg, "hidden_act"));
	int rc = -1;
	if (cfg == NULL)
		snprintf(err, errlen, "%s: not JSON", path);
	else if (ml_int(cfg, "hidden_size", MINILM_DIM, MINILM_DIM, &m->hidden) != 0 ||
	         ml_int(cfg, "num_attention_heads", 1, MINILM_DIM, &m->heads) != 0 ||
	         m->hidden % m->heads != 0 ||
	         ml_int(cfg, "num_hidden_layers", 1, MINILM_LAYERS_MAX, &m->layers) != 0 ||
	         ml_int(cfg, "intermediate_size", 1, 16384, &m->inter) != 0 ||
	         ml_int(cfg, "vocab_size", 1, 1 << 20, &m->vocab) != 0 ||
	         ml_int(cfg, "max_position_embeddings", MINILM_MAX_TOKENS, 1 << 16,
	                &m->positions) != 0 ||
	         !json_is_number(eps) || act == NULL || strcmp(act, "gelu") != 0)
		snprintf(err, errlen,
		         "%s: not a BERT config with hidden_size %d, heads dividing it, at most %d "
		         "layers, gelu, layer_norm_eps and max_position_embeddings >= %d",
		         path, MINILM_DIM, MINILM_LAYERS_MAX, MINILM_MAX_TOKENS);
	else
		rc = 0;
	if (rc == 0)
		m->eps = (float)json_number_value(eps);
	json_decref(cfg);
	return rc;
}

/* Binds one F32 tensor of the given shape (rank 1 when d1 == 0). */
static int ml_bind(struct minilm *m, const float **out, const char *name, size_t d0, size_t d1,
                   char *err, size_t errlen)
{
	size_t shape[2] = { d0, d1 };
	*out = safetensors_f32(m->st, name, d1 ? 2 : 1, shape, err, errlen);
	return *out ? 0 : -1;
}

static int ml_bind_layer(struct minilm *m, size_t i, char *err, size_t errlen)
{
	struct minilm_layer *l = &m->layer[i];
	size_t h = m->hidden, f = m->inter;
	const struct {
		const float **p;
		const char *name;
		size_t d0, d1;
	} t[] = {
		{ &l->wq, "attention.self.query.weight", h, h },
		{ &l->bq, "attention.self.query.bias", h, 0 },
		{ &l->wk, "attention.self.key.weight", h, h },
		{ &l->bk, "attention.self.key.bias", h, 0 },
		{ &l->wv, "attention.self.value.weight", h, h },
		{ &l->bv, "attention.self.value.bias", h, 0 },
		{ &l->wo, "attention.output.dense.weight", h, h },
		{ &l->bo, "attention.output.dense.bias", h, 0 },
		{ &l->ln1_g, "attention.output.LayerNorm.weight", h, 0 },
		{ &l->ln1_b, "attention.output.LayerNorm.bias", h, 0 },
		{ &l->wi, "intermediate.dense.weight", f, h },
		{ &l->bi, "intermediate.dense.bias", f, 0 },
		{ &l->wo2, "output.dense.weight", h, f },
		{ &l->bo2, "output.dense.bias", h, 0 },
		{ &l->ln2_g, "output.LayerNorm.weight", h, 0 },
		{ &l->ln2_b, "output.LayerNorm.bias", h, 0 },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		char name[128];
		snprintf(name, sizeof(name), "encoder.layer.%zu.%s", i, t[k].name);
		if (ml_bind(m, t[k].p, name, t[k].d0, t[k].d1, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static int ml_bind_all(struct minilm *m, char *err, size_t errlen)
{
	size_t h = m->hidden;
	if (ml_bind(m, &m->word, "embeddings.word_embeddings.weight", m->vocab, h, err, errlen) ||
	    ml_bind(m, &m->pos, "embeddings.position_embeddings.weight", m->positions, h, err,
	            errlen) ||
	    ml_bind(m, &m->ln_g, "embeddings.LayerNorm.weight", h, 0, err, errlen) ||
	    ml_bind(m, &m->ln_b, "embeddings.LayerNorm.bias", h, 0, err, errlen))
		return -1;
	/* any number of token types (row 0 is the only one used): take the file's count */
	const struct safetensors_tensor *type =
	    safetensors_find(m->st, "embeddings.token_type_embeddings.weight");
	size_t types = type != NULL && type->rank == 2 && type->shape[0] > 0 ? type->shape[0] : 1;
	if (ml_bind(m, &m->type, "embeddings.token_type_embeddings.weight", types, h, err, errlen))
		return -1;
	for (size_t i = 0; i < m->layers; i++)
		if (ml_bind_layer(m, i, err, errlen) != 0)
			return -1;
	return 0;
}

struct minilm *minilm_load(const char *dir, char *err, size_t errlen)
{
	struct minilm *m = xcalloc(1, sizeof(*m));
	char path[1024], why[2048];
	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (ml_config(m, path, why, sizeof(why)) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
	if ((m->wp = wordpiece_load(path, why, sizeof(why))) == NULL)
		goto fail;
	if (wordpiece_vocab_size(m->wp) > m->vocab) {
		snprintf(why, sizeof(why), "%s: ids up to %zu for a model of %zu", path,
		         wordpiece_vocab_size(m->wp), m->vocab);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if ((m->st = safetensors_open(path, why, sizeof(why))) == NULL)
		goto fail;
	char tensor[400];
	if (ml_bind_all(m, tensor, sizeof(tensor)) != 0) {
		snprintf(why, sizeof(why), "%s: %s", path, tensor);
		goto fail;
	}
	if (getenv("OPENBLAS_NUM_THREADS") == NULL && getenv("OMP_NUM_THREADS") == NULL)
		openblas_set_num_threads(1);
	return m;
fail:
	snprintf(err, errlen, "all-MiniLM-L6-v2 model: %s; %s", why, MINILM_FETCH_HINT);
	minilm_free(&m);
	return NULL;
}

size_t minilm_tokenize(const struct minilm *m, const char *text, size_t len, int32_t *ids,
                       size_t max)
{
	return wordpiece_encode(m->wp, text, len, ids,
	                        max < MINILM_MAX_TOKENS ? max : MINILM_MAX_TOKENS);
}

/* ---- the forward pass ---- */

/* One batch: the texts' rows packed one after another. */
struct ml_batch {
	size_t rows, texts;
	int32_t ids[MINILM_BATCH_ROWS];
	size_t start[MINILM_BATCH_ROWS / 2], count[MINILM_BATCH_ROWS / 2];
	/* scratch, rows x hidden unless noted */
	float *x, *q, *k, *v, *ctx, *tmp, *ff /* rows x inter */, *scores /* 256 x 256 */;
};

/* x = LayerNorm(x + add) row by row (add may be NULL). */
static void ml_layer_norm(float *x, const float *add, size_t rows, size_t h, const float *g,
                          const float *b, float eps)
{
	for (size_t r = 0; r < rows; r++) {
		float *row = x + r * h;
		double mean = 0, var = 0;
		for (size_t j = 0; j < h; j++) {
			if (add != NULL)
				row[j] += add[r * h + j];
			mean += row[j];
		}
		mean /= (double)h;
		for (size_t j = 0; j < h; j++)
			var += (row[j] - mean) * (row[j] - mean);
		float inv = (float)(1.0 / sqrt(var / (double)h + eps));
		for (size_t j = 0; j < h; j++)
			row[j] = ((float)(row[j] - mean)) * inv * g[j] + b[j];
	}
}

static void ml_softmax(float *s, size_t n)
{
	float max = s[0], sum = 0;
	for (size_t j = 1; j < n; j++)
		max = s[j] > max ? s[j] : max;
	for (size_t j = 0; j < n; j++)
		sum += s[j] = expf(s[j] - max);
	for (size_t j = 0; j < n; j++)
		s[j] /= sum;
}

/* Multi-head self-attention of each text over its own rows: ctx = softmax(QK^T/sqrt(d)) V. */
static void ml_attention(const struct minilm *m, struct ml_batch *b)
{
	size_t h = m->hidden, d = h / m->heads;
	float scale = 1.0f / sqrtf((float)d);
	for (size_t t = 0; t < b->texts; t++) {
		size_t o = b->start[t] * h, n = b->count[t];
		for (size_t head = 0; head < m->heads; head++) {
			size_t c = o + head * d;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)d,
			            scale, b->q + c, (int)h, b->k + c, (int)h, 0.0f, b->scores,
			            (int)n);
			for (size_t i = 0; i < n; i++)
				ml_softmax(b->scores + i * n, n);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d,
			            (int)n, 1.0f, b->scores, (int)n, b->v + c, (int)h, 0.0f,
			            b->ctx + c, (int)h);
		}
	}
}

static void ml_layer(const struct minilm *m, const struct minilm_layer *l, struct ml_batch *b)
{
	size_t r = b->rows, h = m->hidden, f = m->inter;
	minilm_gemm_dense(b->x, r, h, l->wq, l->bq, h, b->q);
	minilm_gemm_dense(b->x, r, h, l->wk, l->bk, h, b->k);
	minilm_gemm_dense(b->x, r, h, l->wv, l->bv, h, b->v);
	ml_attention(m, b);
	minilm_gemm_dense(b->ctx, r, h, l->wo, l->bo, h, b->tmp);
	ml_layer_norm(b->x, b->tmp, r, h, l->ln1_g, l->ln1_b, m->eps);
	minilm_gemm_dense(b->x, r, h, l->wi, l->bi, f, b->ff);
	for (size_t i = 0; i < r * f; i++) /* GELU, BERT's exact (erf) form */
		b->ff[i] = 0.5f * b->ff[i] * (1.0f + erff(b->ff[i] * (float)M_SQRT1_2));
	minilm_gemm_dense(b->ff, r, f, l->wo2, l->bo2, h, b->tmp);
	ml_layer_norm(b->x, b->tmp, r, h, l->ln2_g, l->ln2_b, m->eps);
}

/* Runs the batch and writes each text's pooled, normalised vector to out[t * hidden]. */
static void ml_forward(const struct minilm *m, struct ml_batch *b, float *out)
{
	size_t h = m->hidden;
	for (size_t t = 0; t < b->texts; t++)
		for (size_t p = 0; p < b->count[t]; p++) {
			float *row = b->x + (b->start[t] + p) * h;
			const float *w = m->word + (size_t)b->ids[b->start[t] + p] * h;
			for (size_t j = 0; j < h; j++)
				row[j] = w[j] + m->pos[p * h + j] + m->type[j];
		}
	ml_layer_norm(b->x, NULL, b->rows, h, m->ln_g, m->ln_b, m->eps);
	for (size_t i = 0; i < m->layers; i++)
		ml_layer(m, &m->layer[i], b);
	for (size_t t = 0; t < b->texts; t++) { /* mean pooling, then L2 */
		float *v = out + t * h;
		double norm = 0;
		memset(v, 0, h * sizeof(*v));
		for (size_t p = 0; p < b->count[t]; p++)
			for (size_t j = 0; j < h; j++)
				v[j] += b->x[(b->start[t] + p) * h + j];
		for (size_t j = 0; j < h; j++)
			norm += (double)v[j] * v[j];
		float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
		for (size_t j = 0; j < h; j++)
			v[j] *= inv;
	}
}

/* Fills b with texts[*next..] while a whole window still fits; returns the texts taken. */
static size_t ml_fill(const struct minilm *m, struct ml_batch *b, const char *const *texts,
                      const size_t *lens, size_t n, size_t next)
{
	b->rows = b->texts = 0;
	while (next + b->texts < n && b->rows + MINILM_MAX_TOKENS <= MINILM_BATCH_ROWS) {
		size_t i = next + b->texts;
		size_t c =
		    minilm_tokenize(m, texts[i], lens[i], b->ids + b->rows, MINILM_MAX_TOKENS);
		b->start[b->texts] = b->rows;
		b->count[b->texts++] = c;
		b->rows += c;
	}
	return b->texts;
}

int minilm_embed(const struct minilm *m, const char *const *texts, const size_t *lens, size_t n,
                 float *out, char *err, size_t errlen)
{
	if (n > SIZE_MAX / MINILM_DIM / sizeof(float)) {
		snprintf(err, errlen, "%zu texts: too many for one call", n);
		return -1;
	}
	struct ml_batch *b = xcalloc(1, sizeof(*b));
	size_t h = m->hidden, cap = 0;
	float *arena = NULL;
	for (size_t done = 0; done < n;) {
		size_t took = ml_fill(m, b, texts, lens, n, done);
		if (b->rows > cap) { /* scratch for the largest batch so far */
			cap = b->rows;
			free(arena);
			arena = xmallocarray(cap * (6 * h + m->inter) +
			                         MINILM_MAX_TOKENS * MINILM_MAX_TOKENS,
			                     sizeof(float));
		}
		float *p = arena;
		float **bufs[] = { &b->x, &b->q, &b->k, &b->v, &b->ctx, &b->tmp };
		for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++, p += cap * h)
			*bufs[i] = p;
		b->ff = p;
		b->scores = p + cap * m->inter;
		ml_forward(m, b, out + done * h);
		done += took;
	}
	free(arena);
	free(b);
	return 0;
}

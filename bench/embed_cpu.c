/*
 * embed_cpu: the cost of lib/minilm (all-MiniLM-L6-v2 on OpenBLAS), for bench/embed.sh.
 *
 *   embed_cpu [MODEL_DIR [threads | file FILE]]   (default: the cache scripts/deps.sh fills)
 *
 * For passages of 16, 64, 128 and 256 word pieces ([CLS] and [SEP] included): ms per passage
 * on one thread, one passage per call and 16 per call, next to the ceiling measured in the
 * same run: the GFLOP/s of a bare cblas_sgemm on the encoder's own feed-forward shape
 * ([n x 384] x [384 x 1536]), and the time the passage's multiply-adds would take at that
 * rate. With "threads": passages/s of 64 pieces with two threads calling at once (the
 * embedder on two cores) instead. With "file FILE": passages/s of FILE's texts (one per line,
 * bench/embedder.sh writes the passages the worker stored) on two threads in batches of 64,
 * the model alone: the ceiling of the embedder worker on two cores. Then the resident memory: file-backed (the mapped weights, shared by every process
 * that maps them) and anonymous (this process's own). Before all that: the dense layers of one
 * 20-piece query (6 layers' worth of the encoder's weight shapes, 42 MB, so they come from
 * memory as in the model) through lib/minilm_gemm's unpacked kernel and through OpenBLAS.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "minilm.h"
#include "minilm_gemm.h"

static const char *words[] = { "the",  "quick", "brown", "fox", "jumps",
	                       "over", "the",   "lazy",  "dog", "." };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A text of exactly pieces word pieces (each of these words is one piece). */
static char *passage(size_t pieces)
{
	size_t cap = pieces * 8, len = 0;
	char *text = calloc(cap, 1);
	for (size_t i = 0; i + 2 < pieces; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s ", words[i % 10]);
	return text;
}

/* Multiply-adds x 2 of one passage of n pieces through the encoder. */
static double passage_flops(size_t n)
{
	double h = MINILM_DIM, f = 1536, l = (double)n;
	return 6 * (4 * 2 * l * h * h + 2 * 2 * l * h * f + 2 * 2 * l * l * h);
}

static double sgemm_gflops(size_t rows)
{
	float *a = calloc(rows * MINILM_DIM, sizeof(float)), *w = calloc(1536 * MINILM_DIM, 4),
	      *c = calloc(rows * 1536, sizeof(float));
	double flops = 0, t0 = now_s();
	while (now_s() - t0 < 0.5) {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, 1536, MINILM_DIM,
		            1.0f, a, MINILM_DIM, w, MINILM_DIM, 0.0f, c, 1536);
		flops += 2.0 * (double)rows * 1536 * MINILM_DIM;
	}
	double g = flops / (now_s() - t0) / 1e9;
	free(a);
	free(w);
	free(c);
	return g;
}

/* ms per passage: batch passages per call, calls repeated for about a second. */
static double ms_per_passage(const struct minilm *m, const char *text, size_t batch)
{
	const char *texts[16];
	size_t lens[16], calls = 0;
	float *out = malloc(batch * MINILM_DIM * sizeof(float));
	char err[256];
	for (size_t i = 0; i < batch; i++) {
		texts[i] = text;
		lens[i] = strlen(text);
	}
	double t0 = now_s();
	while (now_s() - t0 < 1.0 || calls < 3) {
		if (minilm_embed(m, texts, lens, batch, out, err, sizeof(err)) != 0)
			abort();
		calls++;
	}
	double ms = (now_s() - t0) * 1e3 / (double)(calls * batch);
	free(out);
	return ms;
}

struct worker {
	const struct minilm *m;
	const char *text;
	size_t done;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	const char *texts[16];
	size_t lens[16];
	float out[16 * MINILM_DIM];
	char err[256];
	for (int i = 0; i < 16; i++) {
		texts[i] = w->text;
		lens[i] = strlen(w->text);
	}
	for (double t0 = now_s(); now_s() - t0 < 2.0; w->done += 16)
		if (minilm_embed(w->m, texts, lens, 16, out, err, sizeof(err)) != 0)
			abort();
	return NULL;
}

struct file_worker {
	const struct minilm *m;
	char **texts;
	size_t n;
};

static void *file_work(void *arg)
{
	struct file_worker *w = arg;
	float *out = malloc(64 * MINILM_DIM * sizeof(float));
	size_t lens[64];
	char err[256];
	for (size_t i = 0; i < w->n; i += 64) {
		size_t k = w->n - i < 64 ? w->n - i : 64;
		for (size_t j = 0; j < k; j++)
			lens[j] = strlen(w->texts[i + j]);
		if (minilm_embed(w->m, (const char *const *)w->texts + i, lens, k, out, err,
		                 sizeof(err)) != 0)
			abort();
	}
	free(out);
	return NULL;
}

/* passages/s of the texts in path, two threads, batches of 64 */
static int file_rate(const struct minilm *m, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 2;
	size_t n = 0, cap = 0;
	char **texts = NULL, *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (n == cap)
			texts = realloc(texts, (cap = cap ? cap * 2 : 1024) * sizeof(*texts));
		texts[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	struct file_worker w[2] = { { m, texts, n / 2 }, { m, texts + n / 2, n - n / 2 } };
	pthread_t t[2];
	double t0 = now_s();
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, file_work, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("minilm alone, the same %zu passages, two threads, batches of 64: %.1f passages/s\n",
	       n, (double)n / (now_s() - t0));
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	return 0;
}

/* us per query for the dense layers of 6 layers at 20 rows: kernel (small) or OpenBLAS */
static double dense_us(bool small, float *w, const float *in, float *out)
{
	static const float bias[1536];
	const size_t shape[6][2] = { { 384, 384 }, { 384, 384 },  { 384, 384 },
		                     { 384, 384 }, { 384, 1536 }, { 1536, 384 } };
	double best = 1e9;
	for (int rep = 0; rep < 20; rep++) {
		double t0 = now_s();
		float *lw = w;
		for (int layer = 0; layer < 6; layer++)
			for (int d = 0; d < 6; d++) {
				if (!minilm_gemm_dense_path(small, in, 20, shape[d][0], lw, bias,
				                            shape[d][1], out))
					return -1;
				lw += shape[d][0] * shape[d][1];
			}
		double t = (now_s() - t0) * 1e6;
		best = t < best ? t : best;
	}
	return best;
}

static void dense_compare(void)
{
	size_t weights = 6 * (4 * 384 * 384 + 2 * 384 * 1536);
	float *w = malloc(weights * sizeof(float)), *in = malloc(20 * 1536 * sizeof(float)),
	      *out = malloc(20 * 1536 * sizeof(float));
	for (size_t i = 0; i < weights; i++)
		w[i] = (float)(i % 97) / 970.0f - 0.05f;
	for (size_t i = 0; i < 20 * 1536; i++)
		in[i] = (float)(i % 89) / 89.0f - 0.5f;
	double blas = dense_us(false, w, in, out), kernel = dense_us(true, w, in, out);
	if (kernel < 0)
		printf("minilm, dense layers of a 20-piece query: OpenBLAS %.2f ms (no AVX2+FMA: "
		       "no unpacked kernel)\n",
		       blas / 1e3);
	else
		printf("minilm, dense layers of a 20-piece query (best of 20): unpacked kernel "
		       "%.2f ms, OpenBLAS %.2f ms (%.2fx)\n",
		       kernel / 1e3, blas / 1e3, blas / kernel);
	free(w);
	free(in);
	free(out);
}

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			kb = strtol(line + strlen(key), NULL, 10);
	if (f != NULL)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	char dir[1024], err[1024];
	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else if (minilm_default_dir(dir, sizeof(dir)) != 0)
		return 2;
	struct minilm *m = minilm_load(dir, err, sizeof(err));
	if (m == NULL) {
		fprintf(stderr, "embed_cpu: %s\n", err);
		return 2;
	}
	if (argc > 3 && strcmp(argv[2], "file") == 0) {
		int rc = file_rate(m, argv[3]);
		minilm_free(&m);
		return rc;
	}
	static const size_t sizes[] = { 16, 64, 128, 256 };
	bool threads = argc > 2 && strcmp(argv[2], "threads") == 0;
	if (!threads)
		dense_compare();
	for (size_t i = 0; i < 4 && !threads; i++) {
		char *text = passage(sizes[i]);
		int32_t ids[MINILM_MAX_TOKENS];
		if (minilm_tokenize(m, text, strlen(text), ids, MINILM_MAX_TOKENS) != sizes[i])
			abort();
		double one = ms_per_passage(m, text, 1), sixteen = ms_per_passage(m, text, 16);
		double g = sgemm_gflops(sizes[i] * 16),
		       floor_ms = passage_flops(sizes[i]) / g / 1e6;
		printf("minilm, %3zu word pieces, one thread: %7.2f ms per passage alone, %7.2f in "
		       "batches of 16 (%.1f GFLOP/s); ceiling: sgemm on the feed-forward shape "
		       "%.1f GFLOP/s, %.2f ms per passage at that rate\n",
		       sizes[i], one, sixteen, passage_flops(sizes[i]) / sixteen / 1e6, g,
		       floor_ms);
		free(text);
	}
	char *text = passage(64);
	struct worker w[2] = { { m, text, 0 }, { m, text, 0 } };
	pthread_t t[2];
	for (int i = 0; i < 2 && threads; i++)
		pthread_create(&t[i], NULL, work, &w[i]);
	for (int i = 0; i < 2 && threads; i++)
		pthread_join(t[i], NULL);
	if (threads)
		printf("minilm, 64 word pieces, two threads, batches of 16: %.0f passages/s\n",
		       (double)(w[0].done + w[1].done) / 2.0);
	printf("minilm, memory: RSS %ld MB: %ld MB file-backed (the mapped weights, shared "
	       "between processes), %ld MB anonymous; model.safetensors is 87 MB\n",
	       status_kb("VmRSS:") / 1024, status_kb("RssFile:") / 1024,
	       status_kb("RssAnon:") / 1024);
	free(text);
	minilm_free(&m);
	return 0;
}

/*
 * minilm: sentence embeddings from all-MiniLM-L6-v2 in process: the BERT encoder (6 layers,
 * 384 wide, 12 heads) on OpenBLAS sgemm, mean pooling over the real tokens, L2
 * normalisation; the same vectors as sentence-transformers (cosine >= 0.999, tested
 * against shared/models/minilm-reference.jsonl).
 *
 * The model directory is what scripts/deps.sh unpacks ($AIMEM_CACHE/all-minilm-l6-v2):
 * config.json (the shape of the encoder), tokenizer.json (lib/wordpiece) and
 * model.safetensors (lib/safetensors: mapped read-only and shared, so every process on the
 * machine holds one copy of the 87 MB of weights). Every tensor is checked against the
 * configured shape at load. Texts are cut at 256 word pieces, [CLS] and [SEP] included, as
 * sentence-transformers' max_seq_length cuts them.
 *
 * A batch is packed, not padded: the rows of all its texts go through the dense layers in
 * one sgemm each, and attention runs per text over its own rows only, which is what padding
 * plus the attention mask computes, without the padding's cost.
 *
 * Not here: the SHA-256 of the files (scripts/deps.sh checks them when it fetches and on
 * --check), other models or poolings, GPUs, the embedder interface (lib/embed).
 */
#ifndef AIMEM_MINILM_H
#define AIMEM_MINILM_H

#include <stddef.h>
#include <stdint.h>

#define MINILM_DIM 384
#define MINILM_MAX_TOKENS 256
/* The model's folder under the cache, and the command that puts it there. */
#define MINILM_CACHE_SUBDIR "all-minilm-l6-v2"
#define MINILM_FETCH_HINT "fetch it with scripts/deps.sh (make deps)"
/* The id rows record for vectors of this model. */
#define MINILM_MODEL_ID "all-MiniLM-L6-v2/1"

struct minilm;

/*
 * The default model directory: $AIMEM_CACHE/all-minilm-l6-v2, else
 * $HOME/.cache/ai-memory/all-minilm-l6-v2 (where scripts/deps.sh puts it). Returns 0, or -1
 * when neither variable is set or out is too small.
 */
int minilm_default_dir(char *out, size_t outlen) __attribute__((warn_unused_result));

/*
 * Loads the model in dir (config.json, tokenizer.json, model.safetensors). Returns it
 * (owned: minilm_free), or NULL with err naming the file, what is wrong with it and
 * MINILM_FETCH_HINT. Blocks on reading the small files and mapping the weights (their pages
 * are read on first use).
 *
 * Unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS is set, this sets OpenBLAS to one thread
 * for the whole process (openblas_set_num_threads(1)): each embedding call then runs on its
 * caller's thread only, and a program scales by calling from several threads.
 */
struct minilm *minilm_load(const char *dir, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Unmaps and frees *m (NULL is fine) and clears the pointer. */
void minilm_free(struct minilm **m);

/*
 * Embeds n texts (texts[i][0..lens[i]), UTF-8, not NUL-terminated; borrowed for the call)
 * into out[i * MINILM_DIM ...], each L2-normalised (an empty text still gets its [CLS] [SEP]
 * vector). Texts are run in packed batches of up to 1,024 word pieces; passing many texts
 * per call amortises OpenBLAS's packing of the weights. A batch of at most
 * MINILM_GEMM_SMALL_ROWS pieces (one query) skips the packing (lib/minilm_gemm) and is
 * bound by reading the 42 MB of layer weights once. Returns 0, or -1 with err (only when n
 * is too large to address). CPU-bound on the caller's thread: about 7-9 ms a passage of 16
 * word pieces in batches, 12-15 ms for a lone query of ~20, on one core of the development
 * machine (docs/embeddings.md). Scratch is
 * allocated per call (at most ~14 MB), the model is read-only: any number of threads may
 * call it on one struct minilm at once.
 */
int minilm_embed(const struct minilm *m, const char *const *texts, const size_t *lens, size_t n,
                 float *out, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * The model's input ids for text[0..len): [CLS], word pieces, [SEP], at most
 * min(max, MINILM_MAX_TOKENS). Returns the count. Thread-safe, no allocation.
 */
size_t minilm_tokenize(const struct minilm *m, const char *text, size_t len, int32_t *ids,
                       size_t max);

#endif

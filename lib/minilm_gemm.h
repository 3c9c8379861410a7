/*
 * minilm_gemm: the dense layers' product for few rows, without packing the weights.
 *
 * A BERT dense layer is out = in * w^T + b with PyTorch's Linear layout (w: [n_out x n_in],
 * each output's weights contiguous). For a batch of hundreds of rows OpenBLAS's sgemm is the
 * right tool; for one short query (16-40 word pieces) it spends a third of its time copying
 * every weight matrix into its packed layout, 22 M weights per forward pass, whatever the
 * query's length. Here each output is a dot product of an input row with a weight row read
 * where it lies: the weights stream through once, the few input rows stay in cache, and
 * nothing is copied. With AVX2 and FMA (checked at run time) a 4 x 3 tile of outputs is kept
 * in registers; without them, or for shapes the tile does not divide, OpenBLAS does it.
 *
 * Not here: the attention products (small per-head matrices, OpenBLAS), threads (the caller's
 * thread only, as lib/minilm promises), other layouts.
 */
#ifndef AIMEM_MINILM_GEMM_H
#define AIMEM_MINILM_GEMM_H

#include <stdbool.h>
#include <stddef.h>

/* At most this many rows go through the unpacked kernel; more go to OpenBLAS (measured with
 * bench/embed_cpu: the kernel's lead ends around there, docs/embeddings.md). */
#define MINILM_GEMM_SMALL_ROWS 48

/*
 * out[rows x n_out] = in[rows x n_in] * w^T + b (w: [n_out x n_in] row-major, b: n_out).
 * Picks the unpacked kernel when it is available, rows <= MINILM_GEMM_SMALL_ROWS, n_out is a
 * multiple of 4 and n_in of 8; OpenBLAS otherwise. The two differ only in the order of the
 * additions (a few float ulps).
 */
void minilm_gemm_dense(const float *in, size_t rows, size_t n_in, const float *w, const float *b,
                       size_t n_out, float *out);

/* The same with the path forced (tests and bench/embed_cpu compare them): small = true runs
 * the unpacked kernel and returns false, computing nothing, when the CPU or shape rules it out. */
bool minilm_gemm_dense_path(bool small, const float *in, size_t rows, size_t n_in, const float *w,
                            const float *b, size_t n_out, float *out);

#endif

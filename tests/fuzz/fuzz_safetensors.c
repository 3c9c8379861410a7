/*
 * fuzz_safetensors: libFuzzer target for the safetensors header parser (lib/safetensors).
 * The input is a whole file. When it is accepted, every tensor must lie inside the input,
 * its size must be its shape's, and every byte of it is read (so ASan sees any range that
 * escapes); safetensors_f32 must hand out exactly the F32 tensors asked for by their shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t fz_sink;

static void fz_check(const struct safetensors *st, const struct safetensors_tensor *t,
                     const uint8_t *data, size_t size)
{
	const uint8_t *p = t->data;
	if (p < data || p > data + size || t->nbytes > (size_t)(data + size - p) ||
	    t->rank > SAFETENSORS_RANK_MAX)
		abort();
	uint8_t x = 0;
	for (size_t i = 0; i < t->nbytes; i++)
		x ^= p[i];
	fz_sink = x;
	char err[256];
	const float *f = safetensors_f32(st, t->name, t->rank, t->shape, err, sizeof(err));
	if (f != NULL && (t->dtype != SAFETENSORS_F32 || (const void *)f != t->data))
		abort();
	if (safetensors_find(st, t->name) != t)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct safetensors *st = safetensors_parse(data, size, err, sizeof(err));
	if (st == NULL)
		return 0;
	for (size_t i = 0; i < safetensors_count(st); i++)
		fz_check(st, safetensors_at(st, i), data, size);
	safetensors_close(&st);
	return 0;
}

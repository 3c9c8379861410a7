/*
 * safetensors: a read-only loader for the safetensors weight format (an 8-byte little-endian
 * header length, a JSON header naming each tensor's dtype, shape and byte range, then the
 * raw little-endian data).
 *
 * The file is mapped read-only and shared (MAP_SHARED, PROT_READ): every process that loads
 * the same file shares one copy of the weights in the page cache, and nothing is copied.
 * The header is validated in full before any tensor is handed out: known dtype, rank <= 8,
 * byte range inside the data, size equal to the product of the shape times the element size
 * (overflow-checked), ranges contiguous and not overlapping, names unique.
 *
 * Not here: writing, byte swapping (little-endian hosts only), dtype conversion, reading
 * __metadata__ beyond checking that it is an object of strings.
 */
#ifndef AIMEM_SAFETENSORS_H
#define AIMEM_SAFETENSORS_H

#include <stddef.h>

#define SAFETENSORS_RANK_MAX 8
#define SAFETENSORS_HEADER_MAX (100u << 20) /* the format's own limit */
#define SAFETENSORS_TENSORS_MAX 65536u

enum safetensors_dtype {
	SAFETENSORS_BOOL,
	SAFETENSORS_U8,
	SAFETENSORS_I8,
	SAFETENSORS_F8_E5M2,
	SAFETENSORS_F8_E4M3,
	SAFETENSORS_I16,
	SAFETENSORS_U16,
	SAFETENSORS_F16,
	SAFETENSORS_BF16,
	SAFETENSORS_I32,
	SAFETENSORS_U32,
	SAFETENSORS_F32,
	SAFETENSORS_F64,
	SAFETENSORS_I64,
	SAFETENSORS_U64,
};

struct safetensors_tensor {
	const char *name; /* owned by the safetensors handle */
	enum safetensors_dtype dtype;
	size_t rank;
	size_t shape[SAFETENSORS_RANK_MAX];
	const void *data; /* inside the mapping (or the caller's buffer); read-only */
	size_t nbytes;
};

struct safetensors;

/*
 * Maps the file at path and validates its header. Returns the handle (owned:
 * safetensors_close unmaps it; every pointer it handed out dies then), or NULL with err
 * ("path: reason"). Blocks on open/mmap; the pages are read lazily, on first touch.
 */
struct safetensors *safetensors_open(const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same over buf[0..len) (borrowed: it must outlive the handle); for tests and fuzzing. */
struct safetensors *safetensors_parse(const void *buf, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Unmaps and frees *st (NULL is fine) and clears the pointer. */
void safetensors_close(struct safetensors **st);

/* Number of tensors, and the i-th (i < count; in the order of their data). */
size_t safetensors_count(const struct safetensors *st);
const struct safetensors_tensor *safetensors_at(const struct safetensors *st, size_t i);

/* The tensor called name, or NULL. */
const struct safetensors_tensor *safetensors_find(const struct safetensors *st, const char *name);

/*
 * The F32 data of tensor name when it exists with exactly this rank and shape and is 4-byte
 * aligned in memory; else NULL with err naming the tensor, what was expected and what the
 * file has. Read-only, valid until safetensors_close. Thread-safe (the handle is immutable).
 */
const float *safetensors_f32(const struct safetensors *st, const char *name, size_t rank,
                             const size_t *shape, char *err, size_t errlen);

#endif

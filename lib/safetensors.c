/*
 * safetensors: the read-only, validating loader (see safetensors.h).
 *
 * The header is parsed with jansson (JSON_REJECT_DUPLICATES: one name, one tensor); every
 * number is checked as an integer in range before it becomes a size_t, and every size is
 * computed with overflow checks, so a hostile header can neither point outside the file nor
 * make us allocate by its say-so beyond the tensor count limit.
 */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

struct safetensors {
	void *map; /* NULL when parsing a caller's buffer */
	size_t map_len;
	struct safetensors_tensor *tensors;
	size_t count;
};

static const struct {
	const char *name;
	size_t size;
} st_dtypes[] = {
	[SAFETENSORS_BOOL] = { "BOOL", 1 },       [SAFETENSORS_U8] = { "U8", 1 },
	[SAFETENSORS_I8] = { "I8", 1 },           [SAFETENSORS_F8_E5M2] = { "F8_E5M2", 1 },
	[SAFETENSORS_F8_E4M3] = { "F8_E4M3", 1 }, [SAFETENSORS_I16] = { "I16", 2 },
	[SAFETENSORS_U16] = { "U16", 2 },         [SAFETENSORS_F16] = { "F16", 2 },
	[SAFETENSORS_BF16] = { "BF16", 2 },       [SAFETENSORS_I32] = { "I32", 4 },
	[SAFETENSORS_U32] = { "U32", 4 },         [SAFETENSORS_F32] = { "F32", 4 },
	[SAFETENSORS_F64] = { "F64", 8 },         [SAFETENSORS_I64] = { "I64", 8 },
	[SAFETENSORS_U64] = { "U64", 8 },
};

static int st_dtype(const char *s)
{
	for (size_t i = 0; s != NULL && i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
		if (strcmp(s, st_dtypes[i].name) == 0)
			return (int)i;
	return -1;
}

/* A JSON integer in [0, max] as a size_t, or -1. */
static int st_size(json_t *v, size_t max, size_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > (uint64_t)max)
		return -1;
	*out = (size_t)json_integer_value(v);
	return 0;
}

/* One header entry into t, its data inside data[0..data_len). */
static int st_tensor(struct safetensors_tensor *t, json_t *v, const char *data, size_t data_len,
                     char *err, size_t errlen)
{
	int dtype = st_dtype(json_string_value(json_object_get(v, "dtype")));
	json_t *shape = json_object_get(v, "shape"), *offs = json_object_get(v, "data_offsets");
	if (!json_is_object(v) || dtype < 0) {
		snprintf(err, errlen, "tensor %.80s: no known dtype", t->name);
		return -1;
	}
	if (!json_is_array(shape) || json_array_size(shape) > SAFETENSORS_RANK_MAX) {
		snprintf(err, errlen, "tensor %.80s: shape is not an array of at most %d", t->name,
		         SAFETENSORS_RANK_MAX);
		return -1;
	}
	t->dtype = (enum safetensors_dtype)dtype;
	t->rank = json_array_size(shape);
	size_t bytes = st_dtypes[dtype].size, begin = 0, end = 0;
	for (size_t i = 0; i < t->rank; i++) {
		if (st_size(json_array_get(shape, i), SIZE_MAX, &t->shape[i]) != 0 ||
		    __builtin_mul_overflow(bytes, t->shape[i], &bytes)) {
			snprintf(err, errlen, "tensor %.80s: bad or too large shape", t->name);
			return -1;
		}
	}
	if (!json_is_array(offs) || json_array_size(offs) != 2 ||
	    st_size(json_array_get(offs, 0), data_len, &begin) != 0 ||
	    st_size(json_array_get(offs, 1), data_len, &end) != 0 || begin > end) {
		snprintf(err, errlen, "tensor %.80s: data_offsets not inside the %zu data bytes",
		         t->name, data_len);
		return -1;
	}
	if (end - begin != bytes) {
		snprintf(err, errlen, "tensor %.80s: %zu data bytes for a shape of %zu bytes",
		         t->name, end - begin, bytes);
		return -1;
	}
	t->data = data + begin;
	t->nbytes = bytes;
	return 0;
}

static int st_by_data(const void *a, const void *b)
{
	const struct safetensors_tensor *x = a, *y = b;
	if (x->data != y->data)
		return (const char *)x->data < (const char *)y->data ? -1 : 1;
	return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* The ranges must tile the data exactly: sorted, each starting where the last ended. */
static int st_check_tiling(struct safetensors *st, const char *data, size_t data_len, char *err,
                           size_t errlen)
{
	if (st->count > 1)
		qsort(st->tensors, st->count, sizeof(*st->tensors), st_by_data);
	const char *at = data;
	for (size_t i = 0; i < st->count; i++) {
		if (st->tensors[i].data != at) {
			snprintf(err, errlen,
			         "tensor %.80s: data overlaps another or leaves a hole",
			         st->tensors[i].name);
			return -1;
		}
		at += st->tensors[i].nbytes;
	}
	if (at != data + data_len) {
		snprintf(err, errlen, "%zu bytes after the last tensor",
		         (size_t)(data + data_len - at));
		return -1;
	}
	return 0;
}

static int st_header(struct safetensors *st, json_t *root, const char *data, size_t data_len,
                     char *err, size_t errlen)
{
	const char *name;
	json_t *v;
	size_t n = 0;
	json_object_foreach(root, name, v)
	{
		if (strcmp(name, "__metadata__") == 0) {
			const char *k;
			json_t *m;
			json_object_foreach(v, k, m)
			{
				if (!json_is_string(m)) {
					snprintf(err, errlen, "__metadata__ holds a non-string");
					return -1;
				}
			}
			if (!json_is_object(v)) {
				snprintf(err, errlen, "__metadata__ is not an object");
				return -1;
			}
			continue;
		}
		struct safetensors_tensor *t = &st->tensors[n++];
		t->name = xstrdup(name);
		st->count = n;
		if (st_tensor(t, v, data, data_len, err, errlen) != 0)
			return -1;
	}
	return st_check_tiling(st, data, data_len, err, errlen);
}

struct safetensors *safetensors_parse(const void *buf, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = buf;
	uint64_t hlen = 0;
	if (len < 8) {
		snprintf(err, errlen, "%zu bytes: shorter than the 8-byte header length", len);
		return NULL;
	}
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | p[i];
	if (hlen > SAFETENSORS_HEADER_MAX || hlen > len - 8 || hlen < 2 || p[8] != '{') {
		snprintf(err, errlen, "header length %llu does not fit the %zu-byte file",
		         (unsigned long long)hlen, len);
		return NULL;
	}
	json_error_t jerr;
	json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root) || json_object_size(root) > SAFETENSORS_TENSORS_MAX + 1) {
		snprintf(err, errlen, "header: %s", root ? "not an object of tensors" : jerr.text);
		json_decref(root);
		return NULL;
	}
	struct safetensors *st = xcalloc(1, sizeof(*st));
	st->tensors = xcalloc(json_object_size(root) + 1, sizeof(*st->tensors));
	const char *data = (const char *)p + 8 + hlen;
	if (st_header(st, root, data, len - 8 - (size_t)hlen, err, errlen) != 0)
		safetensors_close(&st);
	json_decref(root);
	return st;
}

struct safetensors *safetensors_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 8) {
		snprintf(err, errlen, "%s: %s", path,
		         fd < 0 ? strerror(errno) : "not a regular file of at least 8 bytes");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	size_t len = (size_t)sb.st_size;
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	int saved = errno;
	close(fd); /* the mapping keeps the file */
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(saved));
		return NULL;
	}
	char why[256];
	struct safetensors *st = safetensors_parse(map, len, why, sizeof(why));
	if (st == NULL) {
		snprintf(err, errlen, "%s: %s", path, why);
		munmap(map, len);
		return NULL;
	}
	st->map = map;
	st->map_len = len;
	return st;
}

void safetensors_close(struct safetensors **st)
{
	if (st == NULL || *st == NULL)
		return;
	for (size_t i = 0; i < (*st)->count; i++)
		free((char *)(*st)->tensors[i].name);
	free((*st)->tensors);
	if ((*st)->map != NULL)
		munmap((*st)->map, (*st)->map_len);
	free(*st);
	*st = NULL;
}

size_t safetensors_count(const struct safetensors *st)
{
	return st->count;
}

const struct safetensors_tensor *safetensors_at(const struct safetensors *st, size_t i)
{
	return i < st->count ? &st->tensors[i] : NULL;
}

const struct safetensors_tensor *safetensors_find(const struct safetensors *st, const char *name)
{
	for (size_t i = 0; i < st->count; i++)
		if (strcmp(st->tensors[i].name, name) == 0)
			return &st->tensors[i];
	return NULL;
}

const float *safetensors_f32(const struct safetensors *st, const char *name, size_t rank,
                             const size_t *shape, char *err, size_t errlen)
{
	const struct safetensors_tensor *t = safetensors_find(st, name);
	if (t == NULL) {
		snprintf(err, errlen, "no tensor %s", name);
		return NULL;
	}
	bool same = t->dtype == SAFETENSORS_F32 && t->rank == rank;
	for (size_t i = 0; same && i < rank; i++)
		same = t->shape[i] == shape[i];
	if (!same) {
		snprintf(err, errlen,
		         "tensor %s: %s of rank %zu (first dim %zu), expected F32 of "
		         "rank %zu (first dim %zu)",
		         name, st_dtypes[t->dtype].name, t->rank, t->rank ? t->shape[0] : 0, rank,
		         rank ? shape[0] : 0);
		return NULL;
	}
	if ((uintptr_t)t->data % _Alignof(float) != 0) {
		snprintf(err, errlen, "tensor %s: data not 4-byte aligned", name);
		return NULL;
	}
	return t->data;
}

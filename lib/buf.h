/*
 * buf: a growable byte buffer that is always NUL-terminated.
 *
 * Used to build log lines, JSON bodies, SQL parameter text and error messages. It owns its
 * memory; growth aborts on out-of-memory (xalloc). It does not escape anything: callers
 * append exactly the bytes they want. A zeroed struct (BUF_INIT) is an empty buffer.
 */
#ifndef AIMEM_BUF_H
#define AIMEM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated when cap > 0; NULL while empty and never grown */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Makes room for at least extra more bytes plus the NUL. */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vappendf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The contents as a C string; "" for an empty buffer. Borrowed until the next change. */
const char *buf_str(const struct buf *b);
/* Empties the buffer and keeps its memory. */
void buf_reset(struct buf *b);
/* Releases the memory; the buffer is empty and usable again. */
void buf_free(struct buf *b);
/* Hands the memory to the caller (free() it); the buffer is left empty. Never NULL. */
char *buf_detach(struct buf *b);

#endif

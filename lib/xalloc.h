/*
 * xalloc: allocation helpers that abort on out-of-memory.
 *
 * A daemon that cannot allocate a few bytes cannot make progress or report it reliably, so
 * these never return NULL: they log one line through write(2) and abort(). Sizes that come
 * from input must be bounded by the caller before they get here; xmallocarray() and
 * xreallocarray() also abort on multiplication overflow.
 */
#ifndef AIMEM_XALLOC_H
#define AIMEM_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
void *xmallocarray(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
void *xrealloc(void *ptr, size_t size) __attribute__((returns_nonnull));
void *xreallocarray(void *ptr, size_t nmemb, size_t size) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
/* Copies at most n bytes of s and NUL-terminates; s need not be NUL-terminated. */
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
/* Copies len bytes and appends a NUL (so a (ptr, len) body can be used as a C string). */
char *xmemdup0(const void *p, size_t len) __attribute__((malloc, returns_nonnull));

#endif

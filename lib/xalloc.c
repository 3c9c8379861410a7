/*
 * xalloc: allocation helpers that abort on out-of-memory (see xalloc.h).
 * Deliberately no custom allocator, pools or accounting: just checked libc calls.
 */
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn)) xalloc_die(size_t size)
{
	/* No logger here: it may itself need memory. One write(2), then abort. */
	static const char msg[] = "fatal: out of memory\n";
	ssize_t rc = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)rc;
	(void)size;
	abort();
}

static size_t xalloc_mul(size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		xalloc_die(SIZE_MAX);
	return nmemb * size;
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		xalloc_die(size);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		xalloc_die(size);
	return p;
}

void *xmallocarray(size_t nmemb, size_t size)
{
	return xmalloc(xalloc_mul(nmemb, size));
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (p == NULL)
		xalloc_die(size);
	return p;
}

void *xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	return xrealloc(ptr, xalloc_mul(nmemb, size));
}

char *xstrdup(const char *s)
{
	return xmemdup0(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	return xmemdup0(s, strnlen(s, n));
}

char *xmemdup0(const void *p, size_t len)
{
	if (len == SIZE_MAX)
		xalloc_die(len);
	char *d = xmalloc(len + 1);
	if (len)
		memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

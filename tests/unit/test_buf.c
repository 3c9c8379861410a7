/* Unit tests for lib/buf and lib/xalloc. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "unit.h"
#include "xalloc.h"

UNIT_TEST(buf_starts_empty_and_grows)
{
	struct buf b = BUF_INIT;
	CHECK_STR(buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	CHECK_INT(b.len, 1000);
	CHECK(b.cap > 1000);
	CHECK_INT(b.data[1000], 0);
	CHECK_INT(b.data[27], 'b');
	buf_free(&b);
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);
}

UNIT_TEST(buf_appendf_long_and_short)
{
	struct buf b = BUF_INIT;
	buf_appendf(&b, "%s=%d", "port", 8080);
	CHECK_STR(buf_str(&b), "port=8080");
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_appendf(&b, " %s", big);
	CHECK_INT(b.len, 9 + 1 + 999);
	CHECK_INT(b.data[b.len], 0);
	buf_reset(&b);
	CHECK_STR(buf_str(&b), "");
	buf_append(&b, "a\0b", 3);
	CHECK_INT(b.len, 3);
	CHECK_INT(memcmp(b.data, "a\0b", 3), 0);
	buf_free(&b);
}

UNIT_TEST(buf_detach_hands_over)
{
	struct buf b = BUF_INIT;
	char *empty = buf_detach(&b);
	CHECK_STR(empty, "");
	free(empty);
	buf_append_str(&b, "hello");
	char *s = buf_detach(&b);
	CHECK_STR(s, "hello");
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	free(s);
}

UNIT_TEST(xalloc_copies)
{
	char *a = xstrndup("abcdef", 3);
	CHECK_STR(a, "abc");
	char *b = xmemdup0("x\0y", 3);
	CHECK_INT(b[1], 0);
	CHECK_INT(b[3], 0);
	char *c = xstrdup("");
	CHECK_STR(c, "");
	int *z = xcalloc(4, sizeof(int));
	CHECK_INT(z[3], 0);
	free(a);
	free(b);
	free(c);
	free(z);
}

static int xalloc_child_status(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		/* keep the expected death quiet */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		fn();
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

static void xalloc_overflow(void)
{
	void *p = xmallocarray(SIZE_MAX / 2, 4);
	free(p);
}

UNIT_TEST(xalloc_aborts_on_size_overflow)
{
	int status = xalloc_child_status(xalloc_overflow);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

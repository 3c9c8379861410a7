/*
 * unit: the runner (see unit.h). Prints one line per test and a closing
 * "unit: N passed, N failed" line; exits 1 if anything failed.
 */
#include "unit.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNIT_MAX 512
#define UNIT_TIMEOUT_S 30

struct unit_case {
	const char *name;
	unit_fn fn;
};

static struct unit_case unit_cases[UNIT_MAX];
static int unit_count;
static int unit_failures; /* within the current test */

void unit_register(const char *name, unit_fn fn)
{
	if (unit_count == UNIT_MAX)
		abort();
	unit_cases[unit_count++] = (struct unit_case){ name, fn };
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "    %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	unit_failures++;
}

void unit_stop(void)
{
	exit(1);
}

static bool unit_run_one(const struct unit_case *t, bool nofork)
{
	if (nofork) {
		unit_failures = 0;
		t->fn();
		return unit_failures == 0;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return false;
	}
	if (pid == 0) {
		alarm(UNIT_TIMEOUT_S);
		unit_failures = 0;
		t->fn();
		fflush(NULL);
		_exit(unit_failures == 0 ? 0 : 1);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFSIGNALED(status))
		fprintf(stderr, "    killed by signal %d%s\n", WTERMSIG(status),
		        WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	const char *nf = getenv("AIMEM_UNIT_NOFORK");
	bool nofork = nf != NULL && nf[0] == '1';
	int passed = 0, failed = 0;
	for (int i = 0; i < unit_count; i++) {
		const struct unit_case *t = &unit_cases[i];
		if (filter && strstr(t->name, filter) == NULL)
			continue;
		bool ok = unit_run_one(t, nofork);
		printf("%s %s\n", ok ? "ok  " : "FAIL", t->name);
		fflush(stdout);
		if (ok)
			passed++;
		else
			failed++;
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

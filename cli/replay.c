/*
 * replay: hands `aimem replay` to the worker program's replay mode (see replay.h).
 */
#include "replay.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char replay_usage[] =
    "usage: aimem replay --group summarizer|personality|memories|embedder --from <RFC 3339|earliest>\n"
    "                    [--to <RFC 3339>] [--customer N] [--dry-run] [--worker-config FILE]\n";

int replay_exec(int argc, char **argv)
{
	const char *group = NULL, *config = NULL;
	/* the worker's argv: program, [--config FILE], replay, the range options */
	char **wargv = calloc((size_t)argc + 4, sizeof(*wargv));
	int n = 3; /* slots 0..2 are filled below */
	if (wargv == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--group") == 0 && i + 1 < argc)
			group = argv[++i];
		else if (strcmp(argv[i], "--worker-config") == 0 && i + 1 < argc)
			config = argv[++i];
		else
			wargv[n++] = argv[i]; /* the worker checks these */
	}
	if (group == NULL ||
	    (strcmp(group, "summarizer") != 0 && strcmp(group, "personality") != 0 &&
	     strcmp(group, "memories") != 0 && strcmp(group, "embedder") != 0)) {
		fputs(replay_usage, stderr);
		free(wargv);
		return 2;
	}
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		fprintf(stderr, "aimem replay: cannot find my own folder: %s\n", strerror(errno));
		free(wargv);
		return 1;
	}
	self[len] = '\0';
	char *slash = strrchr(self, '/');
	if (slash != NULL)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/aimem-%s", self, group);
	/* shift the range options right to make room for the program and its config */
	int head = config ? 4 : 2;
	memmove(wargv + head, wargv + 3, (size_t)(n - 3) * sizeof(*wargv));
	n = n - 3 + head;
	wargv[0] = path;
	if (config) {
		wargv[1] = "--config";
		wargv[2] = (char *)config;
	}
	wargv[head - 1] = "replay";
	wargv[n] = NULL;
	fflush(NULL);
	execv(path, wargv);
	fprintf(stderr, "aimem replay: cannot run %s: %s\n", path, strerror(errno));
	free(wargv);
	return 1;
}

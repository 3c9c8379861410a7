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

#include "cmdline.h"

static const char replay_usage[] =
    "usage: aimem replay --group summarizer|personality|memories|embedder --from <RFC 3339|earliest>\n"
    "                    [--to <RFC 3339>] [--customer N] [--dry-run] [--worker-config FILE]\n"
    "Reprocesses a range of the group's topic with that worker's code (aimem-<group> replay)\n"
    "beside the live group; --worker-config: the worker's settings file. The worker checks\n"
    "the range.\n";

int replay_exec(int argc, char **argv)
{
	enum { OPT_GROUP = 1, OPT_CONFIG, OPT_FROM, OPT_TO, OPT_CUSTOMER, OPT_DRY_RUN };
	static const struct option options[] = {
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "worker-config", required_argument, NULL, OPT_CONFIG },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "customer", required_argument, NULL, OPT_CUSTOMER },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const names[] = { [OPT_FROM] = "--from",
		                             [OPT_TO] = "--to",
		                             [OPT_CUSTOMER] = "--customer",
		                             [OPT_DRY_RUN] = "--dry-run" };
	const char *group = NULL, *config = NULL;
	/* the worker's argv: program, [--config FILE], replay, the range options as "--opt value"
	 * (the worker checks them), NULL */
	char *wargv[4 + 2 * 16 + 1];
	int n = 4; /* slots 0..3 are filled below */
	struct cmdline c = CMDLINE_INIT("replay", replay_usage, options, argc, argv);
	int ch;
	while ((ch = cmdline_next(&c)) > 0) {
		if (ch == OPT_GROUP) {
			group = c.value;
		} else if (ch == OPT_CONFIG) {
			config = c.value;
		} else if (n + 2 >= (int)(sizeof(wargv) / sizeof(wargv[0]))) {
			return cmdline_fail(&c, "too many options");
		} else {
			wargv[n++] = (char *)names[ch];
			if (ch != OPT_DRY_RUN)
				wargv[n++] = (char *)c.value;
		}
	}
	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
		return c.status;
	if (group == NULL)
		return cmdline_fail(&c, "--group is required");
	if (strcmp(group, "summarizer") != 0 && strcmp(group, "personality") != 0 &&
	    strcmp(group, "memories") != 0 && strcmp(group, "embedder") != 0)
		return cmdline_fail(&c,
		                    "--group takes summarizer, personality, memories or "
		                    "embedder: \"%s\"",
		                    group);
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		fprintf(stderr, "aimem replay: cannot find my own folder: %s\n", strerror(errno));
		return 1;
	}
	self[len] = '\0';
	char *slash = strrchr(self, '/');
	if (slash != NULL)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/aimem-%s", self, group);
	/* without a config, close the gap of its two slots */
	int head = config ? 4 : 2;
	memmove(wargv + head, wargv + 4, (size_t)(n - 4) * sizeof(*wargv));
	n = n - 4 + head;
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
	return 1;
}

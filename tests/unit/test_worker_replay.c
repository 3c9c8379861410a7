/* Unit tests for lib/worker_replay's argument parser (worker_replay_args, getopt_long). */
#include <string.h>

#include "unit.h"
#include "worker.h"

/* Parses args (NULL-terminated, after the program's own options at argi 1). */
static int replay_parse(const char *const *args, struct worker_replay *out, char *err, size_t len)
{
	char *argv[16] = { "aimem-summarizer" };
	int argc = 1;
	for (; args[argc - 1] != NULL && argc < 15; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;
	err[0] = '\0';
	return worker_replay_args(argc, argv, 1, out, err, len);
}

UNIT_TEST(worker_replay_args_nothing_means_the_live_group)
{
	struct worker_replay r;
	char err[200];
	const char *none[] = { NULL };
	CHECK_INT(replay_parse(none, &r, err, sizeof(err)), 0);
	const char *other[] = { "serve", NULL };
	CHECK_INT(replay_parse(other, &r, err, sizeof(err)), -1);
	CHECK_STR(err, "unexpected argument \"serve\"");
}

UNIT_TEST(worker_replay_args_reads_every_option)
{
	struct worker_replay r;
	char err[200];
	const char *all[] = { "replay",
		              "--from",
		              "2026-11-20T15:04:05Z",
		              "--to",
		              "2026-11-21T00:00:00Z",
		              "--customer",
		              "7",
		              "--dry-run",
		              NULL };
	CHECK_INT(replay_parse(all, &r, err, sizeof(err)), 1);
	CHECK(r.from_ms == 1795187045000LL);
	CHECK(r.to_ms == 1795219200000LL);
	CHECK_INT(r.customer, 7);
	CHECK(r.dry_run);
	const char *eq[] = { "replay", "--from=earliest", NULL }; /* getopt_long's --opt=value */
	CHECK_INT(replay_parse(eq, &r, err, sizeof(err)), 1);
	CHECK(r.from_ms == -1 && r.to_ms == -1 && r.customer == 0 && !r.dry_run);
	/* parsed again in the same process: getopt's state starts afresh */
	const char *again[] = { "replay", "--dry-run", "--from", "earliest", NULL };
	CHECK_INT(replay_parse(again, &r, err, sizeof(err)), 1);
	CHECK(r.dry_run);
}

UNIT_TEST(worker_replay_args_precise_errors)
{
	struct worker_replay r;
	char err[200];
	static const struct {
		const char *args[6];
		const char *err;
	} cases[] = {
		{ { "replay", NULL }, "replay: --from <RFC 3339|earliest> is required" },
		{ { "replay", "--from", NULL }, "replay: unknown or incomplete option \"--from\"" },
		{ { "replay", "--bogus", NULL },
		  "replay: unknown or incomplete option \"--bogus\"" },
		{ { "replay", "--from", "earliest", "extra", NULL },
		  "replay: unknown or incomplete option \"extra\"" },
		{ { "replay", "--from", "yesterday", NULL },
		  "replay: --from needs an RFC 3339 time (2026-11-20T15:04:05Z) or earliest" },
		{ { "replay", "--from", "earliest", "--to", "soon", NULL },
		  "replay: --to needs an RFC 3339 time (2026-11-20T15:04:05Z)" },
		{ { "replay", "--from", "earliest", "--customer", "0", NULL },
		  "replay: --customer needs a tenant id (1..2147483647)" },
		{ { "replay", "--from", "2026-11-21T00:00:00Z", "--to", "2026-11-20T00:00:00Z",
		    NULL },
		  "replay: --to must be after --from" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(replay_parse(cases[i].args, &r, err, sizeof(err)), -1);
		CHECK_STR(err, cases[i].err);
	}
}

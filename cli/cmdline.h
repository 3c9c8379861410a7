/*
 * cmdline: the command line every aimem subcommand shares. getopt_long over the command's own
 * option table, as the programs parse theirs (lib/prog): "--opt value" and "--opt=value",
 * options and arguments in any order, "--" ends the options. --help prints the command's usage
 * on stdout (exit 0); an unknown option, a missing value, a value given to a flag or a stray
 * argument is refused on stderr with a precise message and the usage (exit 2).
 *
 * Not here: what the values mean. Each command checks its own and refuses a bad one through
 * cmdline_fail, so every refusal reads the same.
 *
 * A command's loop:
 *
 *	struct cmdline c = CMDLINE_INIT("migrate", usage, opts, argc, argv);
 *	int ch;
 *	while ((ch = cmdline_next(&c)) > 0)
 *		switch (ch) { case OPT_DIR: dir = c.value; break; ... }
 *	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
 *		return c.status;
 *
 * Main thread only: getopt_long's state is global.
 */
#ifndef AIMEM_CMDLINE_H
#define AIMEM_CMDLINE_H

#include <getopt.h>
#include <stdio.h>

enum {
	CMDLINE_END = 0,   /* cmdline_next: no option left */
	CMDLINE_STOP = -1, /* cmdline_next: stop with c->status (0 after --help, 2 refused) */
	CMDLINE_MAX_OPTS = 24,
};

struct cmdline {
	const char *cmd;           /* "migrate", "offsets reset": the name in messages */
	const char *usage;         /* the command's usage text (ends with a newline) */
	const struct option *opts; /* the command's options, { 0 }-terminated; flag NULL, each
	                             * val > 0 and unique, has_arg no_argument or required_argument */
	int argc;                  /* argv[0] names the command and is not parsed */
	char **argv;               /* getopt_long permutes it: arguments end up after the options */
	FILE *out, *err;           /* --help's stream and the refusals'; NULL: stdout, stderr */
	const char *value;         /* after cmdline_next: the option's value (borrowed from argv) */
	int status;                /* after CMDLINE_STOP or a failure: the exit code */
	int started;
};

#define CMDLINE_INIT(cmd_, usage_, opts_, argc_, argv_)                                            \
	(struct cmdline)                                                                           \
	{                                                                                          \
		.cmd = (cmd_), .usage = (usage_), .opts = (opts_), .argc = (argc_),                \
		.argv = (argv_)                                                                    \
	}

/* The next option: its val (> 0) with c->value set, CMDLINE_END when the options are done, or
 * CMDLINE_STOP after --help (usage on stdout, c->status 0) or a refused option (message and
 * usage on stderr, c->status 2). */
int cmdline_next(struct cmdline *c);

/* After CMDLINE_END: the arguments that are not options, into args[0..max-1]. Returns their
 * number, or -1 after refusing an argument beyond max or fewer than min (c->status 2). */
int cmdline_args(struct cmdline *c, int min, int max, const char **args);

/* Refuses the command line: "aimem <cmd>: <message>" and the usage on stderr. Returns 2, the
 * exit code (also set in c->status). */
int cmdline_fail(struct cmdline *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A command with verbs ("offsets show|reset"): which of verbs[0..n-1] c->argv[1] names (c: the
 * command's, opts unused). Returns its index, or -1 with c->status: 0 after --help (the usage
 * printed), 2 when the verb is missing or unknown (said with the usage). */
int cmdline_verb(struct cmdline *c, const char *const *verbs, int n);

#endif

/*
 * cmdline: getopt_long for the aimem subcommands (see cmdline.h).
 */
#include "cmdline.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { CMDLINE_HELP = 1 << 20 }; /* above any val a command uses */

/* The option of c's table whose val is val, or NULL. */
static const struct option *cmdline_find(const struct cmdline *c, int val)
{
	for (const struct option *o = c->opts; o != NULL && o->name != NULL; o++)
		if (o->val == val)
			return o;
	return NULL;
}

int cmdline_fail(struct cmdline *c, const char *fmt, ...)
{
	FILE *err = c->err ? c->err : stderr;
	va_list ap;
	fprintf(err, "aimem %s: ", c->cmd);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fprintf(err, "\n%s", c->usage);
	c->status = 2;
	return 2;
}

/* getopt_long's answer for an option it refused: why, in the command's words. A long option is
 * the argument getopt_long just passed; a short one (we declare none) is optopt. */
static int cmdline_refuse(struct cmdline *c, int ch)
{
	const char *arg = optind > 0 && optind <= c->argc ? c->argv[optind - 1] : "";
	if (strncmp(arg, "--", 2) != 0)
		return cmdline_fail(c, "unknown option \"-%c\"",
		                    optopt > 32 && optopt < 127 ? optopt : '?');
	const struct option *o = cmdline_find(c, optopt);
	if (ch == ':' && o != NULL)
		return cmdline_fail(c, "option --%s needs a value", o->name);
	if (o != NULL && o->has_arg == no_argument)
		return cmdline_fail(c, "option --%s takes no value", o->name);
	return cmdline_fail(c, "unknown option \"%s\"", arg);
}

int cmdline_next(struct cmdline *c)
{
	struct option longopts[CMDLINE_MAX_OPTS + 2];
	size_t n = 0;
	for (const struct option *o = c->opts; o != NULL && o->name != NULL; o++)
		if (n < CMDLINE_MAX_OPTS)
			longopts[n++] = *o;
	longopts[n++] = (struct option){ "help", no_argument, NULL, CMDLINE_HELP };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	if (!c->started) {
		optind = 0; /* glibc: start over (prog_start's "+" scan used the same state) */
		opterr = 0; /* our own messages */
		c->started = 1;
	}
	c->value = NULL;
	int ch = getopt_long(c->argc, c->argv, ":", longopts, NULL);
	if (ch == -1)
		return CMDLINE_END;
	if (ch == CMDLINE_HELP) {
		fputs(c->usage, c->out ? c->out : stdout);
		c->status = 0;
		return CMDLINE_STOP;
	}
	if (ch == '?' || ch == ':') {
		cmdline_refuse(c, ch);
		return CMDLINE_STOP;
	}
	c->value = optarg;
	return ch;
}

int cmdline_args(struct cmdline *c, int min, int max, const char **args)
{
	int n = c->argc - optind;
	if (n > max) {
		cmdline_fail(c, "unexpected argument \"%s\"", c->argv[optind + max]);
		return -1;
	}
	if (n < min) {
		cmdline_fail(c, "%d argument%s needed", min, min == 1 ? " is" : "s are");
		return -1;
	}
	for (int i = 0; i < n; i++)
		args[i] = c->argv[optind + i];
	return n;
}

int cmdline_verb(struct cmdline *c, const char *const *verbs, int n)
{
	for (int i = 0; c->argc > 1 && i < n; i++)
		if (strcmp(c->argv[1], verbs[i]) == 0)
			return i;
	const struct option *opts = c->opts;
	c->opts = NULL; /* before the verb: only --help */
	int stop = 0;
	if (c->argc > 1 && c->argv[1][0] == '-' && c->argv[1][1] != '\0')
		stop = cmdline_next(c) == CMDLINE_STOP; /* --help, or refused as an option is */
	c->opts = opts;
	if (stop)
		return -1;
	char list[128] = "";
	for (int i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
		         i == 0       ? ""
		         : i + 1 == n ? " or "
		                      : ", ",
		         verbs[i]);
	if (c->argc > 1 && c->argv[1][0] != '-')
		cmdline_fail(c, "unknown subcommand \"%s\" (%s)", c->argv[1], list);
	else
		cmdline_fail(c, "a subcommand is needed: %s", list);
	return -1;
}

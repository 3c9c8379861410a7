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
	va_list ap;
	fprintf(stderr, "aimem %s: ", c->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", c->usage);
	c->status = 2;
	return 2;
}

/* getopt_long's answer for an option it refused: why, in the command's words. */
static int cmdline_refuse(struct cmdline *c, int ch)
{
	const char *arg = optind > 0 && optind <= c->argc ? c->argv[optind - 1] : "?";
	const struct option *o = cmdline_find(c, optopt);
	if (ch == ':' && o != NULL)
		return cmdline_fail(c, "option --%s needs a value", o->name);
	if (o != NULL && o->has_arg == no_argument)
		return cmdline_fail(c, "option --%s takes no value", o->name);
	if (optopt > 0 && optopt < 128 && o == NULL)
		return cmdline_fail(c, "unknown option \"-%c\"", optopt);
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
		fputs(c->usage, stdout);
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

int cmdline_verb(const char *cmd, const char *usage, int argc, char **argv,
                 const char *const *verbs, int n, int *status)
{
	for (int i = 0; argc > 1 && i < n; i++)
		if (strcmp(argv[1], verbs[i]) == 0)
			return i;
	struct cmdline c = CMDLINE_INIT(cmd, usage, NULL, argc, argv);
	if (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0') {
		/* options before the verb: --help, or refused as cmdline_next refuses them */
		int ch = cmdline_next(&c);
		if (ch == CMDLINE_STOP) {
			*status = c.status;
			return -1;
		}
	}
	char list[128] = "";
	for (int i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
		         i == 0       ? ""
		         : i + 1 == n ? " or "
		                      : ", ",
		         verbs[i]);
	if (argc > 1 && argv[1][0] != '-')
		*status = cmdline_fail(&c, "unknown subcommand \"%s\" (%s)", argv[1], list);
	else
		*status = cmdline_fail(&c, "a subcommand is needed: %s", list);
	return -1;
}

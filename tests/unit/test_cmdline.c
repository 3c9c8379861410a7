/* Unit tests for cli/cmdline: the aimem subcommands' getopt_long loop. */
#include <stdio.h>
#include <stdlib.h>

#include "cmdline.h"
#include "unit.h"

enum { CT_DIR = 1, CT_STATUS, CT_TO };

static const struct option ct_opts[] = {
	{ "dir", required_argument, NULL, CT_DIR },
	{ "status", no_argument, NULL, CT_STATUS },
	{ "to", required_argument, NULL, CT_TO },
	{ NULL, 0, NULL, 0 },
};

static const char ct_usage[] = "usage: aimem demo [--dir DIR] [--status] [--to T] [ARG...]\n";

/* One parse of words (NULL-terminated, "demo" first): the options seen as "dir=x status to=y",
 * the arguments, what was printed and the exit status (-1 when nothing stopped it). */
struct ct_result {
	char seen[256], args[256];
	char *out, *err;
	int status;
};

static void ct_run(const char *const *words, int max_args, struct ct_result *r)
{
	char *argv[16];
	int argc = 0;
	while (words[argc] != NULL)
		argv[argc] = (char *)words[argc], argc++;
	argv[argc] = NULL;
	size_t outlen, errlen;
	FILE *out = open_memstream(&r->out, &outlen), *err = open_memstream(&r->err, &errlen);
	struct cmdline c = CMDLINE_INIT("demo", ct_usage, ct_opts, argc, argv);
	c.out = out, c.err = err;
	r->seen[0] = r->args[0] = '\0';
	r->status = -1;
	int ch;
	while ((ch = cmdline_next(&c)) > 0) {
		size_t n = strlen(r->seen);
		const char *name = ch == CT_DIR ? "dir" : ch == CT_STATUS ? "status" : "to";
		snprintf(r->seen + n, sizeof(r->seen) - n, "%s%s%s%s", n ? " " : "", name,
		         c.value ? "=" : "", c.value ? c.value : "");
	}
	const char *args[4];
	int nargs = ch == CMDLINE_END ? cmdline_args(&c, 0, max_args, args) : -1;
	for (int i = 0; i < nargs; i++) {
		size_t n = strlen(r->args);
		snprintf(r->args + n, sizeof(r->args) - n, "%s%s", i ? " " : "", args[i]);
	}
	if (ch == CMDLINE_STOP || nargs < 0)
		r->status = c.status;
	fclose(out);
	fclose(err);
}

static void ct_free(struct ct_result *r)
{
	free(r->out);
	free(r->err);
}

UNIT_TEST(cmdline_takes_both_value_forms_in_any_order)
{
	static const char *const w[] = { "demo", "a",     "--dir=/x", "--status", "-",
		                         "--to", "--dir", "b",        NULL };
	struct ct_result r;
	ct_run(w, 3, &r);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.seen, "dir=/x status to=--dir"); /* a value may start with a dash */
	CHECK_STR(r.args, "a - b");                  /* "-" is an argument (stdin) */
	CHECK_STR(r.err, "");
	ct_free(&r);
}

UNIT_TEST(cmdline_help_prints_the_usage_and_exits_0)
{
	static const char *const w[] = { "demo", "--dir", "x", "--help", "--bogus", NULL };
	struct ct_result r;
	ct_run(w, 0, &r);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.out, ct_usage);
	CHECK_STR(r.err, "");
	ct_free(&r);
}

UNIT_TEST(cmdline_refusals_are_precise)
{
	static const struct {
		const char *w[4];
		const char *message;
	} cases[] = {
		{ { "demo", "--dir", NULL }, "aimem demo: option --dir needs a value\n" },
		{ { "demo", "--status=yes", NULL },
		  "aimem demo: option --status takes no value\n" },
		{ { "demo", "--frob", NULL }, "aimem demo: unknown option \"--frob\"\n" },
		{ { "demo", "--frob=1", NULL }, "aimem demo: unknown option \"--frob=1\"\n" },
		{ { "demo", "-x", NULL }, "aimem demo: unknown option \"-x\"\n" },
		{ { "demo", "a", "b", NULL }, "aimem demo: unexpected argument \"b\"\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ct_result r;
		ct_run(cases[i].w, 1, &r);
		CHECK_INT(r.status, 2);
		CHECK_STR(r.out, "");
		char want[256];
		snprintf(want, sizeof(want), "%s%s", cases[i].message, ct_usage);
		CHECK_STR(r.err, want);
		ct_free(&r);
	}
}

UNIT_TEST(cmdline_double_dash_ends_the_options)
{
	static const char *const w[] = { "demo", "--status", "--", "--dir", NULL };
	struct ct_result r;
	ct_run(w, 1, &r);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.seen, "status");
	CHECK_STR(r.args, "--dir");
	ct_free(&r);
}

UNIT_TEST(cmdline_starts_over_for_each_command_line)
{
	/* getopt_long's state is global: a second parse must not inherit the first's position */
	static const char *const first[] = { "demo", "--dir", "1", "x", NULL };
	static const char *const second[] = { "demo", "--to=2", NULL };
	struct ct_result r;
	ct_run(first, 1, &r);
	CHECK_STR(r.seen, "dir=1");
	ct_free(&r);
	ct_run(second, 0, &r);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.seen, "to=2");
	CHECK_STR(r.args, "");
	ct_free(&r);
}

UNIT_TEST(cmdline_verb_names_the_verbs)
{
	static const char *const verbs[] = { "show", "reset" };
	static const struct {
		const char *w[3];
		int want, status;
		const char *out, *err;
	} cases[] = {
		{ { "offsets", "reset", NULL }, 1, -1, "", "" },
		{ { "offsets", NULL },
		  -1,
		  2,
		  "",
		  "aimem offsets: a subcommand is needed: show or reset\n" },
		{ { "offsets", "frob", NULL },
		  -1,
		  2,
		  "",
		  "aimem offsets: unknown subcommand \"frob\" (show or reset)\n" },
		{ { "offsets", "--group=g", NULL },
		  -1,
		  2,
		  "",
		  "aimem offsets: unknown option \"--group=g\"\n" },
		{ { "offsets", "--help", NULL }, -1, 0, ct_usage, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[3] = { NULL, NULL, NULL }, *out, *err;
		int argc = 0;
		while (argc < 2 && cases[i].w[argc] != NULL)
			argv[argc] = (char *)cases[i].w[argc], argc++;
		size_t outlen, errlen;
		struct cmdline c = CMDLINE_INIT("offsets", ct_usage, NULL, argc, argv);
		c.out = open_memstream(&out, &outlen), c.err = open_memstream(&err, &errlen);
		c.status = -1;
		CHECK_INT(cmdline_verb(&c, verbs, 2), cases[i].want);
		CHECK_INT(c.status, cases[i].status);
		fclose(c.out);
		fclose(c.err);
		CHECK_STR(out, cases[i].out);
		if (*cases[i].err) {
			char want[256];
			snprintf(want, sizeof(want), "%s%s", cases[i].err, ct_usage);
			CHECK_STR(err, want);
		} else {
			CHECK_STR(err, "");
		}
		free(out);
		free(err);
	}
}

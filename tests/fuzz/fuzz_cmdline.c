/*
 * fuzz_cmdline: libFuzzer target for cli/cmdline, the aimem subcommands' command line. The
 * input is split at NUL bytes into arguments (at most 32) after "demo"; a verb is looked up, then
 * the options of a table with each kind of option are read to the end and the arguments taken.
 * What it prints goes to /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FC_GROUP = 1, FC_JSON, FC_TO, FC_CUSTOMER = 'c' };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, FC_GROUP },
		{ "json", no_argument, NULL, FC_JSON },
		{ "to", required_argument, NULL, FC_TO },
		{ "customer", required_argument, NULL, FC_CUSTOMER },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const verbs[] = { "show", "reset" };
	static FILE *sink;
	if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
		abort();
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *argv[34] = { "demo" };
	int argc = 1;
	for (size_t i = 0; i <= size && argc < 33;) {
		argv[argc++] = text + i;
		i += strlen(text + i) + 1;
	}
	argv[argc] = NULL;
	struct cmdline v = CMDLINE_INIT("demo", "usage: demo\n", NULL, argc, argv);
	v.out = v.err = sink;
	if (cmdline_verb(&v, verbs, 2) < 0 && (v.status != 0 && v.status != 2))
		abort();
	struct cmdline c = CMDLINE_INIT("demo", "usage: demo\n", opts, argc, argv);
	c.out = c.err = sink;
	int ch;
	while ((ch = cmdline_next(&c)) > 0)
		if ((ch == FC_JSON) != (c.value == NULL)) /* a flag has no value, the others one */
			abort();
	const char *args[4];
	if (ch == CMDLINE_END && cmdline_args(&c, 0, 4, args) < 0 && c.status != 2)
		abort();
	if (ch == CMDLINE_STOP && c.status != 0 && c.status != 2)
		abort();
	free(text);
	return 0;
}

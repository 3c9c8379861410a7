/*
 * prog: the start-up options every program shares, so each main() stays a short story.
 *
 *   --config FILE     settings file ("key = value"); also AIMEM_CONFIG
 *   --help            usage, then the settings reference, exit 0
 *   --version         program and version, exit 0
 *   --check-config    load and validate the settings, open the files and folders they name
 *                     (cfg_check_paths), check kafka.* with librdkafka, run the program's
 *                     own check, refuse unknown AIMEM_* variables (lib/cfg_env), exit 0 or 2
 *   --print-config    the effective settings with their origins, secrets redacted, exit 0
 *
 * Option parsing stops at the first non-option argument (a CLI subcommand). Settings are
 * never taken from argv beyond the file name, so secrets do not show in ps.
 *
 * SIGHUP reloads: the settings are loaded again (defaults, the same file, the process's
 * environment, which a signal cannot change) into a fresh copy; log.level takes effect, and
 * the program's reload function (prog_on_reload) picks what else may change live (the HTTP
 * programs' JWT keys). What cannot change live (ports, topics, the database) keeps its
 * start-up value until a restart. A file that does not load changes nothing (logged).
 */
#ifndef AIMEM_PROG_H
#define AIMEM_PROG_H

#include "cfg.h"

struct prog_info {
	const char *name;  /* "aimem-ingest" */
	const char *usage; /* text printed by --help before the settings reference */
	const struct cfg_item *items;
	size_t nitems;
	void *settings;          /* the struct the items write into (borrowed) */
	const char *passthrough; /* "kafka." or NULL */
	/* Optional, for --check-config: what start-up would refuse beyond the table (a secret too
	 * short, processor llm without a URL, a lexicon that does not load), by calling the same
	 * set-up functions start-up calls, without the network or the database: 0, or -1 with
	 * err. */
	int (*check)(const void *settings, char *err, size_t errlen);
};

enum prog_action {
	PROG_RUN = 0,       /* go on: *cfgp holds the loaded settings, argv[*argi] is next */
	PROG_EXIT_OK = 1,   /* an informational option ran: exit 0 */
	PROG_EXIT_USAGE = 2 /* bad option or settings (message printed): exit 2 */
};

/* Initialises the logger with pi->name, parses the shared options, loads settings
 * (defaults, file, environment), applies a "log.level" setting if the table has one, warns
 * about unknown AIMEM_* variables. On PROG_RUN the caller owns *cfgp
 * (cfg_free). */
enum prog_action prog_start(const struct prog_info *pi, int argc, char **argv, struct cfg **cfgp,
                            int *argi);

/* The start of a program that takes no argument after the options (the HTTP programs):
 * sig_setup (before any library starts a thread), then prog_start; an argument is refused with
 * "name: unexpected argument" (PROG_EXIT_USAGE, *cfgp freed). */
enum prog_action prog_start_no_args(const struct prog_info *pi, int argc, char **argv,
                                    struct cfg **cfgp);

/* A program's part of a reload: fresh is a reloaded copy of the settings (same struct type as
 * prog_info.settings, valid for the call only); take what may change live, or return -1 with
 * err to keep everything as it is (log.level included). Main thread. */
typedef int (*prog_reload_fn)(const void *fresh, void *ctx, char *err, size_t errlen);
/* Sets the reload function (NULL: log.level only, the default every program gets from
 * prog_start). ctx is borrowed until the program exits or sets another. pi (prog_start's)
 * must outlive the program's run: it is main()'s. */
void prog_on_reload(prog_reload_fn fn, void *ctx);

/* The log.level row every program's table ends with (prog_start and each reload apply it);
 * off: the offset of a char * field. */
/* clang-format off */
#define PROG_LOG_CFG_ITEM(off) \
	{ .key = "log.level", .type = CFG_ENUM, .def = "info", .choices = "debug|info|warn|error", \
	  .offset = (off), .help = "lowest level logged" }
/* clang-format on */

#endif

/*
 * prog: shared start-up options (see prog.h). Prints to stdout for informational options
 * and to stderr for errors; logs nothing itself.
 */
#include "prog.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cfg_env.h"
#include "kafka.h"
#include "log.h"
#include "sig.h"
#include "xalloc.h"

#ifndef AIMEM_VERSION
#define AIMEM_VERSION "dev"
#endif

extern char **environ;

/* What a reload needs, recorded by prog_start (one program per process; main thread only). */
static const struct prog_info *prog_running;
static char *prog_config_path; /* owned; NULL: defaults and environment only */
static prog_reload_fn prog_reload_cb;
static void *prog_reload_ctx;

static void prog_help(const struct prog_info *pi, const struct cfg *c)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, pi->usage);
	buf_append_str(
	    &b, "\nShared options:\n"
	        "  --config FILE    settings file (key = value lines); also AIMEM_CONFIG\n"
	        "  --check-config   validate the settings, open the files and folders they name,\n"
	        "                   check kafka.* and what start-up checks (secrets, processor\n"
	        "                   settings, lexicons), refuse unknown AIMEM_* variables, and\n"
	        "                   exit (2 when something is wrong)\n"
	        "  --print-config   print the effective settings (secrets redacted) and exit\n"
	        "  --version        print the version and exit\n"
	        "  --help           this text\n"
	        "\nSettings (file key, or environment variable; the environment wins). Data we\n"
	        "ship (lexicons, prompts, migrations) defaults to its path in the source tree,\n"
	        "looked up in ../share/ai-memory next to the program, the source tree above it,\n"
	        "then the working directory; a value you set is taken as written.\n\n");
	cfg_print_reference(c, &b);
	if (pi->passthrough)
		buf_appendf(&b,
		            "\nKeys starting with \"%s\" go verbatim to the library "
		            "(AIMEM_KAFKA_BOOTSTRAP_SERVERS sets kafka.bootstrap.servers).\n",
		            pi->passthrough);
	fputs(buf_str(&b), stdout);
	buf_free(&b);
}

/* A "log.level" setting (every program has one) takes effect as soon as it is loaded;
 * settings: pi->settings or a reloaded copy. Returns the level's name, or NULL. */
static const char *prog_apply_log_level(const struct prog_info *pi, const void *settings)
{
	for (size_t i = 0; i < pi->nitems; i++) {
		const struct cfg_item *it = &pi->items[i];
		if (strcmp(it->key, "log.level") != 0 || it->type != CFG_ENUM)
			continue;
		const char *name = *(char *const *)((const char *)settings + it->offset);
		enum log_level level;
		if (name != NULL && log_level_parse(name, &level) == 0) {
			log_set_level(level);
			return name;
		}
	}
	return NULL;
}

/* The size a copy of the settings struct needs: the end of its last item. */
static size_t prog_settings_size(const struct prog_info *pi)
{
	size_t end = 0;
	for (size_t i = 0; i < pi->nitems; i++) {
		const struct cfg_item *it = &pi->items[i];
		size_t size = it->type == CFG_STRING || it->type == CFG_ENUM ? sizeof(char *)
		              : it->type == CFG_BOOL                         ? sizeof(bool)
		                                                             : sizeof(long long);
		if (it->offset + size > end)
			end = it->offset + size;
	}
	return end;
}

/* SIGHUP (sig_on_reload, main thread): the settings loaded again into a fresh copy, log.level
 * applied, then the program's own part (prog_on_reload). A bad file changes nothing. */
static void prog_reload(void *ctx)
{
	(void)ctx;
	const struct prog_info *pi = prog_running;
	void *fresh = xcalloc(1, prog_settings_size(pi) + sizeof(long long));
	struct cfg *c = cfg_new(pi->items, pi->nitems, fresh, pi->passthrough);
	char err[1024];
	if (cfg_load(c, prog_config_path, environ, err, sizeof(err)) != 0) {
		log_error("reload refused, the settings in use stay detail=\"%s\"", err);
		goto out;
	}
	if (prog_reload_cb != NULL && prog_reload_cb(fresh, prog_reload_ctx, err, sizeof(err))) {
		log_error("reload refused, the settings in use stay detail=\"%s\"", err);
		goto out;
	}
	const char *level = prog_apply_log_level(pi, fresh);
	log_info("reloaded log_level=%s config=%s", level ? level : "-",
	         prog_config_path ? prog_config_path : "-");
out:
	cfg_free(&c);
	free(fresh);
}

void prog_on_reload(prog_reload_fn fn, void *ctx)
{
	prog_reload_cb = fn;
	prog_reload_ctx = ctx;
}

/* Unknown AIMEM_* variables at a normal start: a warning each (a typo must not go unseen,
 * but a stray variable in a container's environment is no reason to stay down). */
static void prog_warn_unknown_env(const struct prog_info *pi, const struct cfg *c)
{
	struct buf b = BUF_INIT;
	if (cfg_env_unknown(c, environ, pi->name, &b) > 0) {
		for (char *line = b.data, *nl; line && *line; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			log_warn("unknown environment variable ignored detail=\"%s\"", line);
		}
	}
	buf_free(&b);
}

/* --check-config: everything start-up would refuse, and unknown AIMEM_* variables. */
static int prog_check(const struct prog_info *pi, const struct cfg *c, char *err, size_t errlen)
{
	if (cfg_check_paths(c, err, errlen) != 0)
		return -1;
	/* kafka.* as librdkafka reads them, when any is set (the CLI needs none for most
	 * commands, so a missing bootstrap.servers is left to the command or worker that needs it) */
	if (pi->passthrough != NULL && strcmp(pi->passthrough, "kafka.") == 0 &&
	    cfg_passthrough_count(c) > 0) {
		rd_kafka_conf_t *conf =
		    kafka_conf_new(c, err, errlen); /* kafka.* as librdkafka reads them */
		if (conf == NULL)
			return -1;
		rd_kafka_conf_destroy(conf);
	}
	if (pi->check != NULL && pi->check(pi->settings, err, errlen) != 0)
		return -1;
	struct buf b = BUF_INIT;
	size_t n = cfg_env_unknown(c, environ, pi->name, &b);
	if (n > 0) {
		size_t len = b.len > 0 ? b.len - 1 : 0; /* without the last newline */
		snprintf(err, errlen, "%.*s", (int)len, buf_str(&b));
	}
	buf_free(&b);
	return n > 0 ? -1 : 0;
}

enum prog_action prog_start(const struct prog_info *pi, int argc, char **argv, struct cfg **cfgp,
                            int *argi)
{
	enum { OPT_CHECK = 256, OPT_PRINT, OPT_VERSION };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "print-config", no_argument, NULL, OPT_PRINT },
		{ NULL, 0, NULL, 0 },
	};
	log_init(pi->name);
	const char *path = getenv("AIMEM_CONFIG");
	int mode = 0, ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
		case OPT_VERSION:
		case OPT_CHECK:
		case OPT_PRINT:
			mode = ch;
			break;
		default:
			fprintf(stderr, "%s: try --help\n", pi->name);
			return PROG_EXIT_USAGE;
		}
	}
	*argi = optind;
	struct cfg *c = cfg_new(pi->items, pi->nitems, pi->settings, pi->passthrough);
	if (mode == 'h' || mode == OPT_VERSION) {
		if (mode == 'h')
			prog_help(pi, c);
		else
			printf("%s %s\n", pi->name, AIMEM_VERSION);
		cfg_free(&c);
		return PROG_EXIT_OK;
	}
	char err[1024];
	if (cfg_load(c, path, environ, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", pi->name, err);
		cfg_free(&c);
		return PROG_EXIT_USAGE;
	}
	if (mode == OPT_CHECK && prog_check(pi, c, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", pi->name, err);
		cfg_free(&c);
		return PROG_EXIT_USAGE;
	}
	if (mode != OPT_CHECK && mode != OPT_PRINT)
		prog_warn_unknown_env(pi, c);
	if (mode == OPT_CHECK || mode == OPT_PRINT) {
		if (mode == OPT_PRINT) {
			struct buf b = BUF_INIT;
			cfg_print(c, &b);
			fputs(buf_str(&b), stdout);
			buf_free(&b);
		} else {
			printf("%s: configuration ok\n", pi->name);
		}
		cfg_free(&c);
		return PROG_EXIT_OK;
	}
	prog_apply_log_level(pi, pi->settings);
	prog_running = pi;
	free(prog_config_path);
	prog_config_path = path ? xstrdup(path) : NULL;
	sig_on_reload(prog_reload, NULL);
	*cfgp = c;
	return PROG_RUN;
}

enum prog_action prog_start_no_args(const struct prog_info *pi, int argc, char **argv,
                                    struct cfg **cfgp)
{
	int argi = 0;
	sig_setup();
	enum prog_action action = prog_start(pi, argc, argv, cfgp, &argi);
	if (action == PROG_RUN && argi < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", pi->name, argv[argi]);
		cfg_free(cfgp);
		return PROG_EXIT_USAGE;
	}
	return action;
}

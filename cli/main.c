/*
 * aimem: the operator CLI. One binary, one subcommand per operator task; this file is the
 * start-up story and the dispatch table. The subcommands live in their own modules.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "prog.h"
#include "publish.h"
#include "sig.h"

struct cli_settings {
	char *db_url;
	long long db_connect_timeout_ms;
	char *migrations_dir;
	char *log_level;
	char *topic_calls, *topic_memories;
	long long produce_timeout_ms;
};

static const struct cfg_item cli_items[] = {
	{ "db.url", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET, offsetof(struct cli_settings, db_url),
	  "libpq connection string of an administrator role (migrate) or aimem_worker" },
	{ "db.connect_timeout", CFG_DURATION, "30s", 0, 3600000, NULL, 0,
	  offsetof(struct cli_settings, db_connect_timeout_ms),
	  "how long to keep retrying the first connection" },
	{ "migrations.dir", CFG_STRING, "migrations", 0, 0, NULL, 0,
	  offsetof(struct cli_settings, migrations_dir), "folder of NNN_name.sql migration files" },
	{ "log.level", CFG_ENUM, "info", 0, 0, "debug|info|warn|error", 0,
	  offsetof(struct cli_settings, log_level), "lowest level logged" },
	{ "topics.calls", CFG_STRING, "aimem.calls.v1", 0, 0, NULL, 0,
	  offsetof(struct cli_settings, topic_calls), "call.ended topic (publish)" },
	{ "topics.memories", CFG_STRING, "aimem.memories.v1", 0, 0, NULL, 0,
	  offsetof(struct cli_settings, topic_memories), "memory.put/delete topic (publish)" },
	{ "produce.timeout", CFG_DURATION, "30s", 100, 600000, NULL, 0,
	  offsetof(struct cli_settings, produce_timeout_ms),
	  "how long publish waits for the broker to acknowledge an event" },
};

static const char cli_usage[] =
    "Usage: aimem [options] <command> [command options]\n"
    "\n"
    "The ai-memory operator CLI.\n"
    "\n"
    "Commands:\n"
    "  migrate [--dir DIR] [--status]   apply the schema migrations in order (or list them)\n"
    "  publish [--dry-run] FILE|-        produce JSON Lines events (backfill); needs\n"
    "                                   kafka.bootstrap.servers (AIMEM_KAFKA_BOOTSTRAP_SERVERS)\n";

static PGconn *cli_connect(const struct cli_settings *s)
{
	if (s->db_url == NULL || *s->db_url == '\0') {
		fprintf(stderr, "aimem: db.url is required (set AIMEM_DB_URL or db.url)\n");
		return NULL;
	}
	char err[512];
	PGconn *conn = db_connect(s->db_url, s->db_connect_timeout_ms, err, sizeof(err));
	if (conn == NULL)
		fprintf(stderr, "aimem: %s\n", err);
	return conn;
}

static int cli_migrate(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	(void)cfg;
	struct migrate_opts opts = { s->migrations_dir, false, stdout };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			opts.dir = argv[++i];
		} else if (strcmp(argv[i], "--status") == 0) {
			opts.status_only = true;
		} else {
			fprintf(stderr,
			        "aimem migrate: unknown argument \"%s\"\n"
			        "usage: aimem migrate [--dir DIR] [--status]\n",
			        argv[i]);
			return 2;
		}
	}
	PGconn *conn = cli_connect(s);
	if (conn == NULL)
		return 1;
	char err[1024];
	int rc = migrate_run(conn, &opts, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "aimem migrate: %s\n", err);
	PQfinish(conn);
	return rc == 0 ? 0 : 1;
}

static int cli_publish(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	struct publish_opts o = { NULL,  s->topic_calls, s->topic_memories, s->produce_timeout_ms,
		                  false, stdout };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			o.dry_run = true;
		else if (o.path == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
			o.path = argv[i];
		else
			o.path = NULL, i = argc;
	}
	if (o.path == NULL) {
		fprintf(stderr, "usage: aimem publish [--dry-run] FILE|-\n");
		return 2;
	}
	struct publish_report r;
	char err[512];
	int rc = publish_run(&o, cfg, &r, err, sizeof(err));
	if (rc == 2)
		fprintf(stderr, "aimem publish: %s\n", err);
	return rc;
}

struct cli_command {
	const char *name;
	int (*run)(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv);
};

static const struct cli_command cli_commands[] = {
	{ "migrate", cli_migrate },
	{ "publish", cli_publish },
};

int main(int argc, char **argv)
{
	struct cli_settings settings = { 0 };
	const struct prog_info info = { "aimem",   cli_usage,
		                        cli_items, sizeof(cli_items) / sizeof(cli_items[0]),
		                        &settings, "kafka." };
	struct cfg *cfg = NULL;
	int argi = 0;
	sig_setup();
	enum prog_action action = prog_start(&info, argc, argv, &cfg, &argi);
	if (action != PROG_RUN)
		return action == PROG_EXIT_OK ? 0 : 2;

	int rc = 2;
	if (argi >= argc) {
		fputs(cli_usage, stderr);
	} else {
		size_t i;
		for (i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++)
			if (strcmp(argv[argi], cli_commands[i].name) == 0)
				break;
		if (i < sizeof(cli_commands) / sizeof(cli_commands[0]))
			rc = cli_commands[i].run(&settings, cfg, argc - argi, argv + argi);
		else
			fprintf(stderr, "aimem: unknown command \"%s\" (try --help)\n", argv[argi]);
	}
	cfg_free(&cfg);
	return rc;
}

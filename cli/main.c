/*
 * aimem: the operator CLI. One binary, one subcommand per operator task; this file is the
 * start-up story and the dispatch table. The subcommands live in their own modules.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>
#include <time.h>

#include "auth_keys.h"
#include "cfg.h"
#include "cmdline.h"
#include "db.h"
#include "dead_letters.h"
#include "context.h"
#include "erase.h"
#include "erase_topic.h"
#include "import_previous.h"
#include "kafka.h"
#include "lag.h"
#include "log.h"
#include "migrate.h"
#include "num.h"
#include "offsets.h"
#include "prog.h"
#include "publish.h"
#include "redact_event.h"
#include "replay.h"
#include "sig.h"
#include "summarize.h"
#include "summary_llm.h"
#include "token.h"
#include "topic.h"

struct cli_settings {
	char *db_url;
	long long db_connect_timeout_ms;
	char *migrations_dir;
	char *log_level;
	char *topic_calls, *topic_memories;
	char *topic_erasures; /* erase, erase --reapply; "" records nowhere */
	long long produce_timeout_ms;
	char *jwt_secret;
	long long max_lifetime_ms; /* the APIs' auth.max_lifetime: token refuses a longer --ttl */
	long long lag_timeout_ms;
	char *import_from_url;
	char *lexicons_dir;
	struct llm_settings llm;       /* summarize --processor llm: the summarizer's llm.* */
	struct redact_settings redact; /* publish: the redact.* section (lib/redact.h) */
};

#define S(field) offsetof(struct cli_settings, field)
static const struct cfg_item cli_items[] = {
	REDACT_CFG_ITEMS(S(redact)),
	{ .key = "db.url",
	  .type = CFG_STRING,
	  .flags = CFG_SECRET,
	  .offset = S(db_url),
	  .help = "libpq connection string of an administrator role (migrate) or aimem_worker" },
	{ .key = "db.connect_timeout",
	  .type = CFG_DURATION,
	  .def = "30s",
	  .min = 0,
	  .max = 3600000,
	  .offset = S(db_connect_timeout_ms),
	  .help = "how long to keep retrying the first connection" },
	{ .key = "migrations.dir",
	  .type = CFG_STRING,
	  .def = "migrations",
	  .flags = CFG_DATA,
	  .offset = S(migrations_dir),
	  .help = "folder of NNN_name.sql migration files" },
	PROG_LOG_CFG_ITEM(S(log_level)),
	KAFKA_TOPICS_CALLS_CFG_ITEM(S(topic_calls), "call.ended topic (publish)"),
	KAFKA_TOPICS_MEMORIES_CFG_ITEM(S(topic_memories), "memory.put/delete topic (publish)"),
	{ .key = "topics.erasures",
	  .type = CFG_STRING,
	  .def = "aimem.erasures.v1",
	  .offset = S(topic_erasures),
	  .help = "compacted topic erase records every erasure on before deleting (key "
	          "customer:user), read back by erase --reapply after a database restore; empty: "
	          "erase records nowhere" },
	{ .key = "produce.timeout",
	  .type = CFG_DURATION,
	  .def = "30s",
	  .min = 100,
	  .max = 600000,
	  .offset = S(produce_timeout_ms),
	  .help = "how long publish waits for the broker to acknowledge an event" },
	{ .key = "auth.jwt_secret",
	  .type = CFG_STRING,
	  .flags = CFG_SECRET,
	  .offset = S(jwt_secret),
	  .help =
	      "HS256 secret (>= 32 bytes, ChatStack's JWT_SECRET_KEY) that token signs with; the "
	      "same value as aimem-ingest's and aimem-query's auth.jwt_secret" },
	AUTH_KEYS_MAX_LIFETIME_CFG_ITEM(S(max_lifetime_ms)),
	{ .key = "lag.timeout",
	  .type = CFG_DURATION,
	  .def = "5s",
	  .min = 100,
	  .max = 600000,
	  .offset = S(lag_timeout_ms),
	  .help = "lag: how long each broker request (watermarks, the oldest event's fetch) may "
	          "take" },
	{ .key = "import.from_url",
	  .type = CFG_STRING,
	  .flags = CFG_SECRET,
	  .offset = S(import_from_url),
	  .help = "import-previous: libpq connection string of the previous service's database "
	          "(instead of --from, which shows in ps)" },
	PROC_LEXICONS_CFG_ITEM(S(lexicons_dir),
	                       "summarize: folder of the built-in processors' word lists (as the "
	                       "workers')"),
	SUMMARY_LLM_CFG_ITEMS(S(llm)),
};
#undef S

static const char cli_usage[] =
    "Usage: aimem [options] <command> [command options]\n"
    "\n"
    "The ai-memory operator CLI. Every command takes --help (its usage); options are\n"
    "given as --opt value or --opt=value, in any order; an unknown option, a missing value\n"
    "or a stray argument is refused with exit code 2.\n"
    "\n"
    "Commands:\n"
    "  migrate [--dir DIR] [--status]   apply the schema migrations in order (or list them)\n"
    "  publish [--dry-run] FILE|-        produce JSON Lines events (backfill); needs\n"
    "                                   kafka.bootstrap.servers (AIMEM_KAFKA_BOOTSTRAP_SERVERS)\n"
    "  erase --customer N --user U [--json]\n"
    "                                   delete a caller from every tenant table in one\n"
    "                                   transaction and record the erasure (workers and replays\n"
    "                                   then drop the caller's events); idempotent. First\n"
    "                                   published to topics.erasures (compacted) when\n"
    "                                   kafka.bootstrap.servers is set\n"
    "  erase --reapply                  after a database restore: erase again every caller\n"
    "                                   the erasures topic holds (idempotent)\n"
    "  context rebuild --customer N     derive every stored caller context of a tenant\n"
    "                                   again from the tables (after migration 009, an\n"
    "                                   import or a restore); idempotent\n"
    "  token --customer N [--scope S] [--ttl D]\n"
    "                                   print a development HS256 token signed with\n"
    "                                   auth.jwt_secret (scope default \"memory:read\n"
    "                                   memory:write\", ttl default 1h)\n"
    "  lag [--group G] [--json]         per group and partition: stored next offset, high\n"
    "                                   watermark, lag and the age of the oldest unprocessed\n"
    "                                   event; needs db.url and kafka.bootstrap.servers\n"
    "  offsets show --group G --topic T\n"
    "                                   per partition: stored next offset, the broker's low\n"
    "                                   and high watermarks and the status a worker finds\n"
    "                                   (ok, expired, none; beyond_end and mismatch stop the\n"
    "                                   partition: a recreated topic or an emptied broker)\n"
    "  offsets reset --group G --topic T --to earliest|latest|OFFSET [--partition P]\n"
    "                                   rewrite the stored offsets (logged); refused while the\n"
    "                                   group has members: stop its workers first, restart\n"
    "                                   them after (broker requests wait up to lag.timeout)\n"
    "  dead-letters list [--group G] [--topic T] [--customer N] [--code C] [--since T]\n"
    "         [--until T] [--pending] [--limit N] [--json]\n"
    "                                   dead-lettered events, newest first (T: RFC 3339 or a\n"
    "                                   duration back from now, e.g. 24h)\n"
    "  dead-letters show --topic T --partition P --offset O [--group G] [--json]\n"
    "                                   one message's rows, error and stored payload prefix\n"
    "  dead-letters requeue [list's filters | --topic T --partition P --offset O] [--again]\n"
    "         [--limit N] [--dry-run]\n"
    "                                   republish to the source topic with a new event id,\n"
    "                                   recorded against the dead letter; refuses what is not\n"
    "                                   an event any more\n"
    "  replay --group summarizer|personality|memories|embedder --from <RFC 3339|earliest>\n"
    "         [--to <RFC 3339>] [--customer N] [--dry-run] [--worker-config FILE]\n"
    "                                   reprocess a range with that worker's code (its replay\n"
    "                                   mode) beside the live group\n"
    "  import-previous [--from CONNINFO]\n"
    "                                   copy the previous Python service's database into ours,\n"
    "                                   per tenant, recomputing embeddings, profile counts and\n"
    "                                   personality averages; idempotent (import.from_url keeps\n"
    "                                   a password out of argv)\n"
    "  summarize [--only summary|personality] [--processor builtin|llm] [FILE|-]\n"
    "                                   call.ended events (JSON Lines, default stdin) through\n"
    "                                   the summarizer's and the personality worker's\n"
    "                                   processors, no Kafka or database: one JSON line per\n"
    "                                   event; llm uses the summarizer's llm.* settings\n";

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
	enum { OPT_DIR = 1, OPT_STATUS };
	static const struct option options[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "status", no_argument, NULL, OPT_STATUS },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem migrate [--dir DIR] [--status]\n"
	    "Applies the schema migrations (NNN_name.sql) not yet applied, in order, each in its\n"
	    "own transaction; --status lists them instead. --dir: the folder (migrations.dir).\n";
	struct migrate_opts opts = { .dir = s->migrations_dir, .out = stdout };
	struct cmdline c = CMDLINE_INIT("migrate", usage, options, argc, argv);
	int ch;
	while ((ch = cmdline_next(&c)) > 0) {
		if (ch == OPT_DIR)
			opts.dir = c.value;
		else
			opts.status_only = true;
	}
	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
		return c.status;
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
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem publish [--dry-run] FILE|-\n"
	    "Produces JSON Lines events (call.ended to topics.calls, memory.put/delete to\n"
	    "topics.memories; backfill), - reads stdin. Needs kafka.bootstrap.servers. --dry-run:\n"
	    "check every line, publish nothing. Card, bank and social-security numbers in the\n"
	    "turns are replaced by placeholders first, as aimem-ingest does (redact.*,\n"
	    "docs/redaction.md).\n";
	struct publish_opts o = { .topic_calls = s->topic_calls,
		                  .topic_memories = s->topic_memories,
		                  .timeout_ms = s->produce_timeout_ms,
		                  .out = stdout };
	struct cmdline c = CMDLINE_INIT("publish", usage, options, argc, argv);
	int ch;
	while ((ch = cmdline_next(&c)) > 0)
		o.dry_run = true;
	if (ch < 0 || cmdline_args(&c, 0, 1, &o.path) < 0)
		return c.status;
	if (o.path == NULL)
		return cmdline_fail(&c, "FILE (or - for standard input) is needed");
	struct publish_report r;
	char err[512];
	o.redact = redact_edge_new(&s->redact, NULL, err, sizeof(err));
	int rc = o.redact ? publish_run(&o, cfg, &r, err, sizeof(err)) : 2;
	if (rc == 2)
		fprintf(stderr, "aimem publish: %s\n", err);
	redact_edge_free(&o.redact);
	return rc;
}

/* --customer's value, or refused through c. */
static int cli_customer(struct cmdline *c, const char *text, long long *out)
{
	if (text == NULL)
		return cmdline_fail(c, "--customer N is required"), -1;
	if (num_parse_int(text, 1, 2147483647, out) != NUM_OK)
		return cmdline_fail(c, "--customer must be an integer 1..2147483647"), -1;
	return 0;
}

/* The erasure on topics.erasures first, so a database restore cannot undo it (erase_topic.h). */
static int cli_erase_record(const struct cli_settings *s, const struct cfg *cfg, long long cid,
                            const char *user, char *err, size_t errlen)
{
	if (topic_configured(cfg) && *s->topic_erasures) {
		char why[512];
		if (erase_topic_record(cfg, s->topic_erasures, cid, user, s->produce_timeout_ms,
		                       why, sizeof(why)) == 0)
			return 0;
		snprintf(err, errlen, "cannot record it on %s: %s", s->topic_erasures, why);
		return -1;
	}
	fprintf(stderr,
	        "aimem erase: warning: not recorded on an erasures topic (%s): restoring an "
	        "older database backup would bring this caller back\n",
	        *s->topic_erasures ? "kafka.bootstrap.servers is not set"
	                           : "topics.erasures is empty");
	return 0;
}

static int cli_erase_reapply(const struct cli_settings *s, const struct cfg *cfg)
{
	if (!topic_configured(cfg) || !*s->topic_erasures) {
		fprintf(stderr, "aimem erase --reapply: needs kafka.bootstrap.servers and "
		                "topics.erasures\n");
		return 2;
	}
	PGconn *conn = cli_connect(s);
	if (conn == NULL)
		return 1;
	struct erase_reapply_report r;
	char err[1024];
	int rc = erase_topic_reapply(conn, cfg, s->topic_erasures, s->lag_timeout_ms, stdout, &r,
	                             err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "aimem erase --reapply: %s\n", err);
	PQfinish(conn);
	return rc == 0 ? 0 : 1;
}

static int cli_erase(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	enum { OPT_CUSTOMER = 1, OPT_USER, OPT_JSON, OPT_REAPPLY };
	static const struct option options[] = {
		{ "customer", required_argument, NULL, OPT_CUSTOMER },
		{ "user", required_argument, NULL, OPT_USER },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "reapply", no_argument, NULL, OPT_REAPPLY },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem erase --customer N --user U [--json]\n"
	    "       aimem erase --reapply\n"
	    "Deletes a caller from every tenant table in one transaction and records the erasure\n"
	    "(workers and replays then drop the caller's events); idempotent. Recorded first on\n"
	    "topics.erasures (compacted) when kafka.bootstrap.servers is set. --reapply, after a\n"
	    "database restore: erase again every caller that topic holds.\n";
	const char *customer = NULL, *user = NULL;
	bool json = false, reapply = false;
	struct cmdline c = CMDLINE_INIT("erase", usage, options, argc, argv);
	int ch;
	while ((ch = cmdline_next(&c)) > 0) {
		if (ch == OPT_CUSTOMER)
			customer = c.value;
		else if (ch == OPT_USER)
			user = c.value;
		else if (ch == OPT_JSON)
			json = true;
		else
			reapply = true;
	}
	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
		return c.status;
	if (reapply && (customer != NULL || user != NULL || json))
		return cmdline_fail(&c, "--reapply takes no other option");
	if (reapply)
		return cli_erase_reapply(s, cfg);
	long long cid;
	if (cli_customer(&c, customer, &cid) != 0)
		return c.status;
	if (user == NULL || *user == '\0' || strlen(user) > 128)
		return cmdline_fail(&c, "--user U is required (1..128 bytes)");
	PGconn *conn = cli_connect(s);
	if (conn == NULL)
		return 1;
	struct erase_report r;
	char err[1024];
	int rc = cli_erase_record(s, cfg, cid, user, err, sizeof(err));
	if (rc == 0)
		rc = erase_run(conn, cid, user, &r, err, sizeof(err));
	if (rc == 0)
		erase_print(stdout, cid, user, &r, json);
	else
		fprintf(stderr, "aimem erase: nothing changed: %s\n", err);
	PQfinish(conn);
	return rc == 0 ? 0 : 1;
}

static int cli_token(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	(void)cfg;
	enum { OPT_CUSTOMER = 1, OPT_SCOPE, OPT_TTL };
	static const struct option options[] = {
		{ "customer", required_argument, NULL, OPT_CUSTOMER },
		{ "scope", required_argument, NULL, OPT_SCOPE },
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem token --customer N [--scope S] [--ttl D]\n"
	    "Prints a development HS256 token signed with auth.jwt_secret (AIMEM_AUTH_JWT_SECRET or\n"
	    "AIMEM_AUTH_JWT_SECRET_FILE, never an argument). --scope default \"" TOKEN_SCOPE_DEFAULT
	    "\";\n--ttl: a duration (30m, 1h, 1d; default 1h) up to auth.max_lifetime.\n";
	const char *customer = NULL, *scope = TOKEN_SCOPE_DEFAULT, *ttl = NULL;
	struct cmdline c = CMDLINE_INIT("token", usage, options, argc, argv);
	int ch;
	while ((ch = cmdline_next(&c)) > 0) {
		if (ch == OPT_CUSTOMER)
			customer = c.value;
		else if (ch == OPT_SCOPE)
			scope = c.value;
		else
			ttl = c.value;
	}
	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
		return c.status;
	long long cid, ttl_ms = TOKEN_TTL_DEFAULT_MS;
	if (cli_customer(&c, customer, &cid) != 0)
		return c.status;
	if (ttl != NULL && num_parse_duration_ms(ttl, &ttl_ms) != NUM_OK)
		return cmdline_fail(&c, "--ttl takes a duration with a unit (30m, 1h, 1d): \"%s\"",
		                    ttl);
	char err[512];
	char *token = token_mint(s->jwt_secret, cid, scope, ttl_ms, s->max_lifetime_ms,
	                         (long long)time(NULL), err, sizeof(err));
	if (token == NULL) {
		fprintf(stderr, "aimem token: %s\n", err);
		return 1;
	}
	printf("%s\n", token);
	free(token);
	return 0;
}

static int cli_lag(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	enum { OPT_GROUP = 1, OPT_JSON };
	static const struct option options[] = {
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem lag [--group G] [--json]\n"
	    "Per group and partition: the stored next offset, the high watermark, the lag and the\n"
	    "age of the oldest unprocessed event. Needs db.url and kafka.bootstrap.servers.\n";
	struct lag_opts o = { .timeout_ms = s->lag_timeout_ms, .out = stdout };
	struct cmdline c = CMDLINE_INIT("lag", usage, options, argc, argv);
	int ch;
	while ((ch = cmdline_next(&c)) > 0) {
		if (ch == OPT_GROUP)
			o.group = c.value;
		else
			o.json = true;
	}
	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
		return c.status;
	PGconn *conn = cli_connect(s);
	if (conn == NULL)
		return 1;
	char err[1024];
	int rc = lag_run(conn, cfg, &o, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "aimem lag: %s\n", err);
	PQfinish(conn);
	return rc == 0 ? 0 : 1;
}

static int cli_offsets(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	enum { OPT_GROUP = 1, OPT_TOPIC, OPT_TO, OPT_PARTITION };
	static const struct option show_options[] = {
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "topic", required_argument, NULL, OPT_TOPIC },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option reset_options[] = {
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "topic", required_argument, NULL, OPT_TOPIC },
		{ "to", required_argument, NULL, OPT_TO },
		{ "partition", required_argument, NULL, OPT_PARTITION },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem offsets show --group G --topic T\n"
	    "       aimem offsets reset --group G --topic T --to earliest|latest|OFFSET"
	    " [--partition P]\n"
	    "show: per partition the stored next offset, the broker's low and high watermarks and\n"
	    "the status a worker finds (ok, expired, none; beyond_end and mismatch stop the\n"
	    "partition). reset: rewrite the stored offsets (logged), refused while the group has\n"
	    "members.\n";
	static const char *const verbs[] = { "show", "reset" };
	struct cmdline v = CMDLINE_INIT("offsets", usage, NULL, argc, argv);
	int verb = cmdline_verb(&v, verbs, 2);
	if (verb < 0)
		return v.status;
	bool reset = verb == 1;
	struct offsets_opts o = { .partition = -1,
		                  .to = OFFSETS_TO_EARLIEST,
		                  .timeout_ms = s->lag_timeout_ms,
		                  .out = stdout };
	const char *to = NULL, *part = NULL;
	struct cmdline c = CMDLINE_INIT(reset ? "offsets reset" : "offsets show", usage,
	                                reset ? reset_options : show_options, argc - 1, argv + 1);
	int ch;
	while ((ch = cmdline_next(&c)) > 0) {
		if (ch == OPT_GROUP)
			o.group = c.value;
		else if (ch == OPT_TOPIC)
			o.topic = c.value;
		else if (ch == OPT_TO)
			to = c.value;
		else
			part = c.value;
	}
	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
		return c.status;
	if (o.group == NULL || o.topic == NULL)
		return cmdline_fail(&c, "--group G and --topic T are required");
	if (reset && to == NULL)
		return cmdline_fail(&c, "--to earliest|latest|OFFSET is required");
	if (to != NULL && offsets_parse_to(to, &o) != 0)
		return cmdline_fail(&c, "--to takes earliest, latest or an offset >= 0: \"%s\"",
		                    to);
	if (part != NULL && num_parse_int(part, 0, 2147483647, &o.partition) != NUM_OK)
		return cmdline_fail(&c, "--partition takes a partition number >= 0: \"%s\"", part);
	PGconn *conn = cli_connect(s);
	if (conn == NULL)
		return 1;
	char err[1024];
	int rc = reset ? offsets_reset(conn, cfg, &o, err, sizeof(err))
	               : offsets_show(conn, cfg, &o, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "aimem offsets %s: %s\n", reset ? "reset" : "show", err);
	PQfinish(conn);
	return rc == 0 ? 0 : 1;
}

static int cli_dead_letters(const struct cli_settings *s, const struct cfg *cfg, int argc,
                            char **argv)
{
	struct dead_letters_opts o = { .since_ms = -1,
		                       .until_ms = -1,
		                       .partition = -1,
		                       .offset = -1,
		                       .timeout_ms = s->lag_timeout_ms,
		                       .out = stdout };
	int status;
	if (dead_letters_parse(argc, argv, (long long)time(NULL) * 1000, &o, &status) != 0)
		return status;
	PGconn *conn = cli_connect(s);
	if (conn == NULL)
		return 1;
	char err[1024];
	int rc = dead_letters_run(conn, cfg, &o, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "aimem dead-letters: %s\n", err);
	PQfinish(conn);
	return rc == 0 ? 0 : 1;
}

/* aimem context rebuild --customer N: every stored caller context of a tenant derived again
 * from the tables (after migration 009, an import or a restore; calls/context.h). */
static int cli_context(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	(void)cfg;
	static const struct option options[] = {
		{ "customer", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem context rebuild --customer N\n"
	    "Derives every stored caller context of a tenant again from the tables (after\n"
	    "migration 009, an import or a restore); idempotent.\n";
	static const char *const verbs[] = { "rebuild" };
	struct cmdline v = CMDLINE_INIT("context", usage, NULL, argc, argv);
	if (cmdline_verb(&v, verbs, 1) < 0)
		return v.status;
	const char *customer = NULL;
	struct cmdline c = CMDLINE_INIT("context rebuild", usage, options, argc - 1, argv + 1);
	int ch;
	while ((ch = cmdline_next(&c)) > 0)
		customer = c.value;
	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
		return c.status;
	long long cid, callers = 0;
	if (cli_customer(&c, customer, &cid) != 0)
		return c.status;
	PGconn *conn = cli_connect(s);
	if (conn == NULL)
		return 1;
	char err[1024];
	int rc = context_rebuild(conn, cid, &callers, err, sizeof(err));
	if (rc == DB_OK)
		printf("context rebuilt customer=%lld callers=%lld\n", cid, callers);
	else
		fprintf(stderr, "aimem context rebuild: %s\n", err);
	PQfinish(conn);
	return rc == DB_OK ? 0 : 1;
}

static int cli_import_previous(const struct cli_settings *s, const struct cfg *cfg, int argc,
                               char **argv)
{
	(void)cfg;
	static const struct option options[] = {
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem import-previous [--from CONNINFO]\n"
	    "Copies the previous Python service's database into ours, per tenant, recomputing\n"
	    "embeddings, profile counts and personality averages; idempotent. --from, or\n"
	    "import.from_url (AIMEM_IMPORT_FROM_URL keeps a password out of argv).\n";
	const char *from = s->import_from_url;
	struct cmdline c = CMDLINE_INIT("import-previous", usage, options, argc, argv);
	int ch;
	while ((ch = cmdline_next(&c)) > 0)
		from = c.value;
	if (ch < 0 || cmdline_args(&c, 0, 0, NULL) < 0)
		return c.status;
	if (from == NULL || *from == '\0')
		return cmdline_fail(&c, "--from CONNINFO (or import.from_url) is required");
	char err[1024];
	PGconn *src = db_connect(from, s->db_connect_timeout_ms, err, sizeof(err));
	if (src == NULL) {
		fprintf(stderr, "aimem import-previous: previous database: %s\n", err);
		return 1;
	}
	PGconn *dst = cli_connect(s);
	int rc = 1;
	if (dst != NULL) {
		rc = import_previous_run(src, dst, stdout, err, sizeof(err));
		if (rc < 0)
			fprintf(stderr, "aimem import-previous: %s\n", err);
		PQfinish(dst);
	}
	PQfinish(src);
	return rc == 0 ? 0 : 1;
}

static int cli_replay(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	(void)s;
	(void)cfg;
	return replay_exec(argc, argv); /* execs the worker; returns only on error */
}

static int cli_summarize(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv)
{
	(void)cfg;
	enum { OPT_ONLY = 1, OPT_PROCESSOR };
	static const struct option options[] = {
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "processor", required_argument, NULL, OPT_PROCESSOR },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: aimem summarize [--only summary|personality] [--processor builtin|llm] "
	    "[FILE|-]\n"
	    "call.ended events (JSON Lines, default stdin) through the summarizer's and the\n"
	    "personality worker's processors, no Kafka or database: one JSON line per event;\n"
	    "llm uses the summarizer's llm.* settings.\n";
	struct summarize_opts o = {
		.path = "-", .summary = true, .personality = true, .out = stdout
	};
	const char *only = NULL, *processor = "builtin";
	struct cmdline c = CMDLINE_INIT("summarize", usage, options, argc, argv);
	int ch;
	while ((ch = cmdline_next(&c)) > 0) {
		if (ch == OPT_ONLY)
			only = c.value;
		else
			processor = c.value;
	}
	if (ch < 0 || cmdline_args(&c, 0, 1, &o.path) < 0)
		return c.status;
	if (only != NULL) {
		o.summary = strcmp(only, "summary") == 0;
		o.personality = strcmp(only, "personality") == 0;
		if (!o.summary && !o.personality)
			return cmdline_fail(&c, "--only takes summary or personality: \"%s\"",
			                    only);
	}
	bool llm = strcmp(processor, "llm") == 0;
	if (!llm && strcmp(processor, "builtin") != 0)
		return cmdline_fail(&c, "--processor takes builtin or llm: \"%s\"", processor);
	char err[512];
	struct llm_model model;
	struct proc_lexicons *lx = proc_lexicons_load(s->lexicons_dir, err, sizeof(err));
	if (lx == NULL || llm_model_open(&s->llm, llm, NULL, &model, err, sizeof(err)) != 0) {
		fprintf(stderr, "aimem summarize: %s\n", err);
		proc_lexicons_free(&lx);
		return 2;
	}
	o.lx = lx;
	o.model = llm ? &model : NULL;
	struct summarize_report r;
	int rc = summarize_run(&o, &r, err, sizeof(err));
	if (rc == 2)
		fprintf(stderr, "aimem summarize: %s\n", err);
	else if (rc != 0)
		fprintf(stderr,
		        "aimem summarize: %lld lines, %lld printed, %lld bad, %lld failed\n",
		        r.lines, r.printed, r.bad, r.failed);
	llm_model_close(&model);
	proc_lexicons_free(&lx);
	return rc;
}

struct cli_command {
	const char *name;
	int (*run)(const struct cli_settings *s, const struct cfg *cfg, int argc, char **argv);
};

static const struct cli_command cli_commands[] = {
	{ "migrate", cli_migrate },
	{ "publish", cli_publish },
	{ "erase", cli_erase },
	{ "token", cli_token },
	{ "lag", cli_lag },
	{ "offsets", cli_offsets }, /* stored offsets against the broker's log, and their reset */
	{ "dead-letters", cli_dead_letters }, /* list, show, requeue */
	{ "replay", cli_replay },
	{ "import-previous", cli_import_previous },
	{ "context", cli_context },     /* rebuild the stored caller contexts */
	{ "summarize", cli_summarize }, /* events through the processors, no services */
};

int main(int argc, char **argv)
{
	struct cli_settings settings = { 0 };
	const struct prog_info info = {
		.name = "aimem",
		.usage = cli_usage,
		.items = cli_items,
		.nitems = sizeof(cli_items) / sizeof(cli_items[0]),
		.settings = &settings,
		.passthrough = KAFKA_CFG_PASSTHROUGH,
	};
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

/* Unit tests for lib/cfg: table-driven settings from defaults, file and environment. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cfg.h"
#include "unit.h"

struct t_settings {
	char *name;
	char *policy;
	long long threads;
	bool enabled;
	long long timeout_ms;
	long long body_max;
	char *secret;
	char *url;
};

static const struct cfg_item t_items[] = {
	{ .key = "app.name",
	  .type = CFG_STRING,
	  .def = "demo",
	  .offset = offsetof(struct t_settings, name),
	  .help = "name" },
	{ .key = "llm.policy",
	  .type = CFG_ENUM,
	  .def = "fallback",
	  .choices = "fallback|wait|dead-letter",
	  .offset = offsetof(struct t_settings, policy),
	  .help = "policy" },
	{ .key = "http.threads",
	  .type = CFG_INT,
	  .def = "4",
	  .min = 1,
	  .max = 64,
	  .offset = offsetof(struct t_settings, threads),
	  .help = "threads" },
	{ .key = "feature.enabled",
	  .type = CFG_BOOL,
	  .def = "false",
	  .offset = offsetof(struct t_settings, enabled),
	  .help = "flag" },
	{ .key = "http.timeout",
	  .type = CFG_DURATION,
	  .def = "30s",
	  .min = 1,
	  .max = 600000,
	  .offset = offsetof(struct t_settings, timeout_ms),
	  .help = "timeout" },
	{ .key = "http.body_max",
	  .type = CFG_SIZE,
	  .def = "1MiB",
	  .min = 1,
	  .max = 1LL << 30,
	  .offset = offsetof(struct t_settings, body_max),
	  .help = "body" },
	{ .key = "auth.jwt_secret",
	  .type = CFG_STRING,
	  .flags = CFG_SECRET,
	  .offset = offsetof(struct t_settings, secret),
	  .help = "secret" },
	{ .key = "db.url",
	  .type = CFG_STRING,
	  .flags = CFG_REQUIRED,
	  .offset = offsetof(struct t_settings, url),
	  .help = "url" },
};

#define T_NITEMS (sizeof(t_items) / sizeof(t_items[0]))

static struct cfg *t_new(struct t_settings *s)
{
	memset(s, 0, sizeof(*s));
	return cfg_new(t_items, T_NITEMS, s, "kafka.");
}

UNIT_TEST(cfg_defaults_apply)
{
	struct t_settings s;
	struct cfg *c = t_new(&s);
	CHECK_STR(s.name, "demo");
	CHECK_STR(s.policy, "fallback");
	CHECK_INT(s.threads, 4);
	CHECK(!s.enabled);
	CHECK_INT(s.timeout_ms, 30000);
	CHECK_INT(s.body_max, 1 << 20);
	CHECK(s.secret == NULL);
	cfg_free(&c);
	CHECK(c == NULL);
	CHECK(s.name == NULL); /* strings are owned and released by the cfg */
}

UNIT_TEST(cfg_file_then_environment_wins)
{
	struct t_settings s;
	struct cfg *c = t_new(&s);
	static const char text[] = "# comment\n"
	                           "\n"
	                           "app.name = \"  spaced  \"\n"
	                           "http.threads=8\n"
	                           "  feature.enabled = yes  \n"
	                           "http.timeout = 250ms\n"
	                           "db.url = host=/tmp dbname=x\n"
	                           "kafka.bootstrap.servers = 127.0.0.1:9092\n";
	char err[256] = "";
	CHECK_INT(cfg_load_text(c, text, sizeof(text) - 1, "t.conf", err, sizeof(err)), 0);
	char *env[] = { "AIMEM_HTTP_THREADS=16", "AIMEM_KAFKA_CLIENT_ID=abc", "AIMEM_UNKNOWN=1",
		        "PATH=/bin", NULL };
	CHECK_INT(cfg_load_env(c, env, err, sizeof(err)), 0);
	CHECK_INT(cfg_check(c, err, sizeof(err)), 0);
	CHECK_STR(s.name, "  spaced  ");
	CHECK_INT(s.threads, 16);
	CHECK(s.enabled);
	CHECK_INT(s.timeout_ms, 250);
	CHECK_STR(s.url, "host=/tmp dbname=x");
	CHECK_INT(cfg_passthrough_count(c), 2);
	const char *k, *v;
	cfg_passthrough_get(c, 0, &k, &v);
	CHECK_STR(k, "kafka.bootstrap.servers");
	CHECK_STR(v, "127.0.0.1:9092");
	cfg_passthrough_get(c, 1, &k, &v);
	CHECK_STR(k, "kafka.client.id");
	CHECK_STR(v, "abc");
	cfg_free(&c);
}

/* Each bad line must fail with "name:line: ..." naming the problem. */
UNIT_TEST(cfg_file_errors_name_file_and_line)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "http.threads = 0\n", "t.conf:1: http.threads: out of range [1, 64]" },
		{ "\nhttp.threads = many\n", "t.conf:2: http.threads: must be an integer" },
		{ "http.timeout = 30\n", "t.conf:1: http.timeout: must be a duration with a unit" },
		{ "http.body_max = 1.5M\n", "t.conf:1: http.body_max: must be a size" },
		{ "llm.policy = retry\n",
		  "t.conf:1: llm.policy: must be one of fallback|wait|dead-letter" },
		{ "feature.enabled = maybe\n", "t.conf:1: feature.enabled: must be true or false" },
		{ "http.thread = 4\n", "t.conf:1: unknown setting \"http.thread\"" },
		{ "just words\n", "t.conf:1: expected \"key = value\"" },
		{ " = 4\n", "t.conf:1: missing key" },
		{ "a b = 4\n", "t.conf:1: invalid character in key" },
		{ "http.timeout = 700000s\n", "t.conf:1: http.timeout: out of range" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t_settings s;
		struct cfg *c = t_new(&s);
		char err[256] = "";
		CHECK_INT(cfg_load_text(c, cases[i].text, strlen(cases[i].text), "t.conf", err,
		                        sizeof(err)),
		          -1);
		CHECK_CONTAINS(err, cases[i].want);
		cfg_free(&c);
	}
}

UNIT_TEST(cfg_env_errors_name_the_variable)
{
	struct t_settings s;
	struct cfg *c = t_new(&s);
	char *env[] = { "AIMEM_HTTP_BODY_MAX=lots", NULL };
	char err[256] = "";
	CHECK_INT(cfg_load_env(c, env, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "AIMEM_HTTP_BODY_MAX: http.body_max: must be a size");
	cfg_free(&c);
}

UNIT_TEST(cfg_required_items_must_be_set)
{
	struct t_settings s;
	struct cfg *c = t_new(&s);
	char err[256] = "";
	CHECK_INT(cfg_check(c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "db.url is required");
	CHECK_CONTAINS(err, "AIMEM_DB_URL");
	char *env[] = { "AIMEM_DB_URL=", NULL };
	CHECK_INT(cfg_load_env(c, env, err, sizeof(err)), 0);
	CHECK_INT(cfg_check(c, err, sizeof(err)), -1); /* empty is not set */
	cfg_free(&c);
}

UNIT_TEST(cfg_secret_from_file_and_redacted)
{
	char path[] = "/tmp/aimem-cfg-secretXXXXXX";
	int fd = mkstemp(path);
	UNIT_REQUIRE(fd >= 0);
	UNIT_REQUIRE(write(fd, "s3cr3t-value-0123456789abcdef0123\n", 34) == 34);
	close(fd);

	struct t_settings s;
	struct cfg *c = t_new(&s);
	char line[128], err[256] = "";
	snprintf(line, sizeof(line), "auth.jwt_secret_file = %s\ndb.url = x\n", path);
	CHECK_INT(cfg_load_text(c, line, strlen(line), "t.conf", err, sizeof(err)), 0);
	CHECK_STR(s.secret, "s3cr3t-value-0123456789abcdef0123");
	struct buf out = BUF_INIT;
	cfg_print(c, &out);
	CHECK(strstr(buf_str(&out), "s3cr3t") == NULL);
	CHECK_CONTAINS(buf_str(&out), "auth.jwt_secret = <redacted>  # t.conf:1 (file ");
	CHECK_CONTAINS(buf_str(&out), "http.timeout = 30s  # default\n");
	CHECK_CONTAINS(buf_str(&out), "http.body_max = 1MiB  # default\n");
	CHECK_CONTAINS(buf_str(&out), "db.url = x  # t.conf:2\n");
	buf_free(&out);

	char envline[160];
	snprintf(envline, sizeof(envline), "AIMEM_AUTH_JWT_SECRET_FILE=%s.missing", path);
	char *env[] = { envline, NULL };
	CHECK_INT(cfg_load_env(c, env, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "AIMEM_AUTH_JWT_SECRET_FILE: auth.jwt_secret_file:");
	CHECK_CONTAINS(err, "cannot open");
	cfg_free(&c);
	unlink(path);
}

UNIT_TEST(cfg_print_redacts_credentials_in_passthrough)
{
	struct t_settings s;
	struct cfg *c = t_new(&s);
	char err[256];
	CHECK_INT(cfg_set(c, "kafka.sasl.password", "hunter2", "test", err, sizeof(err)), 0);
	CHECK_INT(cfg_set(c, "kafka.ssl.key.pem", "-----BEGIN", "test", err, sizeof(err)), 0);
	struct buf out = BUF_INIT;
	cfg_print(c, &out);
	CHECK(strstr(buf_str(&out), "hunter2") == NULL);
	CHECK(strstr(buf_str(&out), "BEGIN") == NULL);
	CHECK_CONTAINS(buf_str(&out), "auth.jwt_secret = <unset>");
	buf_free(&out);
	cfg_free(&c);
}

UNIT_TEST(cfg_reference_lists_every_item)
{
	struct t_settings s;
	struct cfg *c = t_new(&s);
	struct buf out = BUF_INIT;
	cfg_print_reference(c, &out);
	for (size_t i = 0; i < T_NITEMS; i++)
		CHECK_CONTAINS(buf_str(&out), t_items[i].key);
	CHECK_CONTAINS(buf_str(&out), "`AIMEM_AUTH_JWT_SECRET` or `AIMEM_AUTH_JWT_SECRET_FILE`");
	CHECK_CONTAINS(buf_str(&out), "| integer [1, 64] | 4 |");
	buf_free(&out);
	cfg_free(&c);
}

UNIT_TEST(cfg_rejects_nul_and_overlong_lines)
{
	struct t_settings s;
	struct cfg *c = t_new(&s);
	char err[256];
	CHECK_INT(cfg_load_text(c, "app.name = a\0b\n", 15, "t.conf", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "t.conf:1: NUL byte");
	size_t n = 10000;
	char *long_line = malloc(n);
	memset(long_line, 'a', n);
	CHECK_INT(cfg_load_text(c, long_line, n, "t.conf", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "line longer than");
	free(long_line);
	cfg_free(&c);
}

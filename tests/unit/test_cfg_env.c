/* Unit tests for lib/cfg_env: unknown AIMEM_* variables and their "did you mean". */
#include <stddef.h>
#include <string.h>

#include "cfg.h"
#include "cfg_env.h"
#include "unit.h"

struct cfg_env_settings {
	char *db_url, *secret;
};

static const struct cfg_item cfg_env_items[] = {
	{ .key = "db.url",
	  .type = CFG_STRING,
	  .offset = offsetof(struct cfg_env_settings, db_url),
	  .help = "url" },
	{ .key = "auth.jwt_secret",
	  .type = CFG_STRING,
	  .flags = CFG_SECRET,
	  .offset = offsetof(struct cfg_env_settings, secret),
	  .help = "secret" },
};

static size_t cfg_env_run(char *const *envp, struct buf *out)
{
	struct cfg_env_settings s = { 0 };
	struct cfg *c = cfg_new(cfg_env_items, 2, &s, "kafka.");
	size_t n = cfg_env_unknown(c, envp, "prog", out);
	cfg_free(&c);
	return n;
}

UNIT_TEST(cfg_env_known_names_pass)
{
	char *envp[] = { "AIMEM_DB_URL=x",
		         "AIMEM_AUTH_JWT_SECRET_FILE=/f",
		         "AIMEM_KAFKA_BOOTSTRAP_SERVERS=b", /* passthrough */
		         "AIMEM_LLM_BASE_URL=u",            /* another program's setting */
		         "AIMEM_BASE_URL=u",                /* scripts/dev's stack env */
		         "AIMEM_PG_PORT=1",
		         "AIMEM_CHAOS_SEED=1",
		         "AIMEM_TEST_SERVICES=x",
		         "AIMEM_CONFIG=/c",
		         "PATH=/bin",
		         NULL };
	struct buf b = BUF_INIT;
	CHECK_INT((int)cfg_env_run(envp, &b), 0);
	CHECK_STR(buf_str(&b), "");
	buf_free(&b);
}

UNIT_TEST(cfg_env_unknown_names_get_a_suggestion)
{
	char *envp[] = { "AIMEM_DB_ULR=x", "AIMEM_LLM_BASEURL=u", "AIMEM_ZZZZZZZZZZZZ=1",
		         "AIMEM_AUTH_JWT_SECRET_FIEL=/f", NULL };
	struct buf b = BUF_INIT;
	CHECK_INT((int)cfg_env_run(envp, &b), 4);
	const char *t = buf_str(&b);
	CHECK_CONTAINS(t, "AIMEM_DB_ULR is not a setting of prog or of any other ai-memory program"
	                  " (did you mean AIMEM_DB_URL?)\n");
	CHECK_CONTAINS(t, "AIMEM_LLM_BASEURL is not a setting of prog or of any other ai-memory"
	                  " program (did you mean AIMEM_LLM_BASE_URL?)\n");
	CHECK_CONTAINS(t, "(did you mean AIMEM_AUTH_JWT_SECRET_FILE?)\n");
	CHECK_CONTAINS(t, "AIMEM_ZZZZZZZZZZZZ is not a setting of prog or of any other ai-memory"
	                  " program\n"); /* nothing near: no suggestion */
	buf_free(&b);
}

UNIT_TEST(cfg_env_generated_list_is_sorted_and_has_every_program)
{
	CHECK(cfg_env_nsettings > 50);
	for (size_t i = 1; i < cfg_env_nsettings; i++)
		CHECK(strcmp(cfg_env_settings[i - 1], cfg_env_settings[i]) < 0);
	CHECK(cfg_env_allowed("AIMEM_DEV_LISTEN"));
	CHECK(!cfg_env_allowed("AIMEM_DB_URL"));
}

/*
 * cfg_env: unknown AIMEM_* environment variables (see cfg_env.h). The suggestion is the known
 * setting name nearest in edit distance (at most a third of the name's length away), so a
 * typo such as AIMEM_DB_ULR or AIMEM_LLM_BASEURL points at the intended name.
 */
#include "cfg_env.h"

#include <stdio.h>
#include <string.h>

/* Names that are not settings but that our scripts, tests and the dev stack's env file set
 * (docs/configuration.md lists them): exact names, then prefixes. */
static const char *const cfg_env_exact[] = {
	"AIMEM_CONFIG",               /* the settings file (lib/prog) */
	"AIMEM_BUILD",                /* scripts: the build folder */
	"AIMEM_CACHE",                /* scripts/deps.sh: downloads */
	"AIMEM_BASE_URL",             /* scripts/dev stack: nginx's URL */
	"AIMEM_INGEST_URL",           /* scripts/dev stack */
	"AIMEM_QUERY_URL",            /* scripts/dev stack */
	"AIMEM_JWT_SECRET_FILE",      /* scripts/dev stack: ChatStack's secret */
	"AIMEM_DB_ADMIN_URL",         /* scripts/dev: the administrator's URL (aimem migrate) */
	"AIMEM_DB_WORKER_URL",        /* scripts/dev stack */
	"AIMEM_DB_READER_URL",        /* scripts/dev stack */
	"AIMEM_DB_STANDBY_ADMIN_URL", /* scripts/dev --pg-standby: the standby's */
	"AIMEM_NGINX",                /* scripts/dev: the nginx binary */
	"AIMEM_PROC_BENCH",           /* tests/unit: processor timings */
	"AIMEM_PROC_REPORT",          /* tests/unit */
	"AIMEM_PERS_BENCH",           /* tests/unit */
	"AIMEM_PERS_REPORT",          /* tests/unit */
	"AIMEM_MINILM_DIR",           /* tests/unit, bench: the model folder */
	"AIMEM_POISON_EVENTS",        /* tests/integration */
};
static const char *const cfg_env_prefixes[] = {
	"AIMEM_DEV_",   /* scripts/dev options */
	"AIMEM_PG_",    /* scripts/dev: PostgreSQL host, port, socket, superuser */
	"AIMEM_KAFKA_", /* kafka.* passthrough of the programs that talk to Kafka; scripts/dev */
	"AIMEM_CHAOS_", /* make chaos */
	"AIMEM_SOAK_",  /* make soak */
	"AIMEM_UNIT_",  /* tests/unit harness */
	"AIMEM_TEST_",  /* test hooks and fixtures (AIMEM_TEST_SERVICES, _COMMIT_WINDOW_MS) */
	"AIMEM_BENCH_", /* make bench */
};

bool cfg_env_allowed(const char *name)
{
	for (size_t i = 0; i < sizeof(cfg_env_exact) / sizeof(cfg_env_exact[0]); i++)
		if (strcmp(name, cfg_env_exact[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(cfg_env_prefixes) / sizeof(cfg_env_prefixes[0]); i++)
		if (strncmp(name, cfg_env_prefixes[i], strlen(cfg_env_prefixes[i])) == 0)
			return true;
	return false;
}

static bool cfg_env_setting(const char *name)
{
	for (size_t i = 0; i < cfg_env_nsettings; i++)
		if (strcmp(name, cfg_env_settings[i]) == 0)
			return true;
	return false;
}

/* Levenshtein distance of a and b (names are short: at most 64 bytes compared). */
static size_t cfg_env_distance(const char *a, const char *b)
{
	size_t la = strnlen(a, 64), lb = strnlen(b, 64);
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The nearest of candidate into *best (distance *dist). */
static void cfg_env_consider(const char *name, const char *candidate, char *best, size_t bestlen,
                             size_t *dist)
{
	size_t d = cfg_env_distance(name, candidate);
	if (d < *dist) {
		*dist = d;
		snprintf(best, bestlen, "%s", candidate);
	}
}

size_t cfg_env_unknown(const struct cfg *c, char *const *envp, const char *program, struct buf *out)
{
	size_t unknown = 0;
	for (char *const *e = envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (strncmp(*e, "AIMEM_", 6) != 0 || eq == NULL || eq - *e >= 256)
			continue;
		char name[256];
		memcpy(name, *e, (size_t)(eq - *e));
		name[eq - *e] = '\0';
		if (cfg_env_is_setting(c, name) || cfg_env_setting(name) || cfg_env_allowed(name))
			continue;
		char best[300] = "", env[300];
		size_t dist = strlen(name) / 3 + 1; /* farther than this is no suggestion */
		for (size_t i = 0; i < cfg_item_count(c); i++) {
			cfg_item_env(c, i, env, sizeof(env));
			cfg_env_consider(name, env, best, sizeof(best), &dist);
		}
		for (size_t i = 0; i < cfg_env_nsettings; i++)
			cfg_env_consider(name, cfg_env_settings[i], best, sizeof(best), &dist);
		buf_appendf(out, "%s is not a setting of %s or of any other ai-memory program",
		            name, program);
		if (best[0])
			buf_appendf(out, " (did you mean %s?)", best);
		buf_putc(out, '\n');
		unknown++;
	}
	return unknown;
}

/*
 * cfg: table-driven configuration (see cfg.h). The text format is deliberately small:
 * "key = value" per line, '#' starts a comment line, surrounding double quotes are
 * stripped. No includes, no sections, no variable expansion.
 */
#include "cfg.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"
#include "file.h"
#include "num.h"
#include "xalloc.h"

#define CFG_MAGIC 0x43464721u
#define CFG_FILE_MAX (1 << 20)    /* a config file larger than this is a mistake */
#define CFG_SECRET_MAX (64 << 10) /* a secret file larger than this is a mistake */
#define CFG_LINE_MAX 8192

struct cfg_pair {
	char *key;
	char *value;
	char *origin;
};

struct cfg {
	unsigned magic;
	const struct cfg_item *items;
	size_t nitems;
	void *target;
	char **origins; /* per item: "default", "file:3", "AIMEM_X" */
	bool *set;      /* per item: a value is present (defaults count) */
	char *passthrough;
	struct cfg_pair *pairs;
	size_t npairs;
};

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void *cfg_field(const struct cfg *c, const struct cfg_item *it)
{
	return (char *)c->target + it->offset;
}

static const struct cfg_item *cfg_find(const struct cfg *c, const char *key, size_t *idx)
{
	for (size_t i = 0; i < c->nitems; i++) {
		if (strcmp(c->items[i].key, key) == 0) {
			*idx = i;
			return &c->items[i];
		}
	}
	return NULL;
}

static bool cfg_choice_ok(const char *choices, const char *value)
{
	size_t vlen = strlen(value);
	const char *p = choices;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == vlen && strncmp(p, value, len) == 0)
			return true;
		p += len + (bar ? 1 : 0);
	}
	return false;
}

/* Parses value for item it and stores it; err gets the reason only (no origin). */
static int cfg_store(struct cfg *c, const struct cfg_item *it, const char *value, char *err,
                     size_t errlen)
{
	void *field = cfg_field(c, it);
	long long v = 0;
	int rc = 0;
	switch (it->type) {
	case CFG_ENUM:
		if (!cfg_choice_ok(it->choices, value))
			return cfg_fail(err, errlen, "must be one of %s", it->choices);
		/* fallthrough */
	case CFG_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CFG_BOOL:
		if (num_parse_bool(value, (bool *)field) != NUM_OK)
			return cfg_fail(err, errlen, "must be true or false");
		return 0;
	case CFG_INT:
		rc = num_parse_int(value, it->min, it->max, &v);
		break;
	case CFG_DURATION:
		rc = num_parse_duration_ms(value, &v);
		if (rc == NUM_EINVAL)
			return cfg_fail(err, errlen,
			                "must be a duration with a unit (ms, s, m, h, d)");
		break;
	case CFG_SIZE:
		rc = num_parse_size(value, &v);
		if (rc == NUM_EINVAL)
			return cfg_fail(err, errlen,
			                "must be a size (bytes, or with KiB, MiB, GiB)");
		break;
	}
	if (rc == NUM_OK && (v < it->min || v > it->max))
		rc = NUM_ERANGE;
	if (rc == NUM_ERANGE)
		return cfg_fail(err, errlen, "out of range [%lld, %lld]", it->min, it->max);
	if (rc != NUM_OK)
		return cfg_fail(err, errlen, "must be an integer");
	*(long long *)field = v;
	return 0;
}

static void cfg_note(struct cfg *c, size_t i, const char *origin)
{
	free(c->origins[i]);
	c->origins[i] = xstrdup(origin);
	c->set[i] = true;
}

struct cfg *cfg_new(const struct cfg_item *items, size_t nitems, void *target,
                    const char *passthrough)
{
	struct cfg *c = xcalloc(1, sizeof(*c));
	c->magic = CFG_MAGIC;
	c->items = items;
	c->nitems = nitems;
	c->target = target;
	c->origins = xcalloc(nitems, sizeof(*c->origins));
	c->set = xcalloc(nitems, sizeof(*c->set));
	c->passthrough = passthrough ? xstrdup(passthrough) : NULL;
	for (size_t i = 0; i < nitems; i++) {
		char err[256], found[PATH_MAX];
		const char *def = items[i].def;
		if (def == NULL)
			continue;
		if ((items[i].flags & CFG_DATA) &&
		    datadir_find(NULL, def, found, sizeof(found)) == 0)
			def = found;
		if (cfg_store(c, &items[i], def, err, sizeof(err)) != 0) {
			fprintf(stderr, "cfg: bad default for %s: %s\n", items[i].key, err);
			abort();
		}
		cfg_note(c, i, "default");
	}
	return c;
}

void cfg_free(struct cfg **cp)
{
	struct cfg *c = *cp;
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nitems; i++) {
		if (c->items[i].type == CFG_STRING || c->items[i].type == CFG_ENUM) {
			char **field = cfg_field(c, &c->items[i]);
			free(*field);
			*field = NULL;
		}
		free(c->origins[i]);
	}
	for (size_t i = 0; i < c->npairs; i++) {
		free(c->pairs[i].key);
		free(c->pairs[i].value);
		free(c->pairs[i].origin);
	}
	free(c->pairs);
	free(c->origins);
	free(c->set);
	free(c->passthrough);
	c->magic = 0;
	free(c);
	*cp = NULL;
}

static void cfg_set_pair(struct cfg *c, const char *key, const char *value, const char *origin)
{
	for (size_t i = 0; i < c->npairs; i++) {
		if (strcmp(c->pairs[i].key, key) == 0) {
			free(c->pairs[i].value);
			free(c->pairs[i].origin);
			c->pairs[i].value = xstrdup(value);
			c->pairs[i].origin = xstrdup(origin);
			return;
		}
	}
	c->pairs = xreallocarray(c->pairs, c->npairs + 1, sizeof(*c->pairs));
	c->pairs[c->npairs].key = xstrdup(key);
	c->pairs[c->npairs].value = xstrdup(value);
	c->pairs[c->npairs].origin = xstrdup(origin);
	c->npairs++;
}

/* "<key>_file" naming a CFG_SECRET item: read the secret from that file. */
static int cfg_set_secret_file(struct cfg *c, size_t i, const char *path, const char *origin,
                               char *err, size_t errlen)
{
	char reason[512];
	size_t len = 0;
	char *secret = file_read(path, CFG_SECRET_MAX, &len, reason, sizeof(reason));
	if (secret == NULL)
		return cfg_fail(err, errlen, "%s: %s_file: %s", origin, c->items[i].key, reason);
	while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
		secret[--len] = '\0';
	if (strlen(secret) != len) {
		free(secret);
		return cfg_fail(err, errlen, "%s: %s_file: %s contains a NUL byte", origin,
		                c->items[i].key, path);
	}
	int rc = cfg_store(c, &c->items[i], secret, reason, sizeof(reason));
	memset(secret, 0, len);
	free(secret);
	if (rc != 0)
		return cfg_fail(err, errlen, "%s: %s_file: %s", origin, c->items[i].key, reason);
	char note[600];
	snprintf(note, sizeof(note), "%s (file %s)", origin, path);
	cfg_note(c, i, note);
	return 0;
}

int cfg_set(struct cfg *c, const char *key, const char *value, const char *origin, char *err,
            size_t errlen)
{
	size_t i;
	char reason[256];
	if (cfg_find(c, key, &i) != NULL) {
		if (cfg_store(c, &c->items[i], value, reason, sizeof(reason)) != 0)
			return cfg_fail(err, errlen, "%s: %s: %s", origin, key, reason);
		cfg_note(c, i, origin);
		return 0;
	}
	size_t klen = strlen(key);
	if (klen > 5 && strcmp(key + klen - 5, "_file") == 0) {
		char base[256];
		snprintf(base, sizeof(base), "%.*s", (int)(klen - 5), key);
		const struct cfg_item *it = cfg_find(c, base, &i);
		if (it != NULL && (it->flags & CFG_SECRET))
			return cfg_set_secret_file(c, i, value, origin, err, errlen);
	}
	if (c->passthrough && strncmp(key, c->passthrough, strlen(c->passthrough)) == 0 &&
	    klen > strlen(c->passthrough)) {
		cfg_set_pair(c, key, value, origin);
		return 0;
	}
	return cfg_fail(err, errlen, "%s: unknown setting \"%s\"", origin, key);
}

static const char *cfg_trim(char *s, char **end)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	*end = e;
	return s;
}

static int cfg_line(struct cfg *c, char *line, const char *origin, char *err, size_t errlen)
{
	char *end;
	const char *s = cfg_trim(line, &end);
	if (*s == '\0' || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (eq == NULL)
		return cfg_fail(err, errlen, "%s: expected \"key = value\"", origin);
	*eq = '\0';
	char *kend, *vend;
	const char *key = cfg_trim((char *)s, &kend);
	char *value = (char *)cfg_trim(eq + 1, &vend);
	if (*key == '\0')
		return cfg_fail(err, errlen, "%s: missing key before '='", origin);
	for (const char *k = key; *k; k++)
		if (!(isalnum((unsigned char)*k) || *k == '.' || *k == '_' || *k == '-'))
			return cfg_fail(err, errlen, "%s: invalid character in key", origin);
	size_t vlen = (size_t)(vend - value);
	if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
		value[vlen - 1] = '\0';
		value++;
	}
	return cfg_set(c, key, value, origin, err, errlen);
}

int cfg_load_text(struct cfg *c, const char *text, size_t len, const char *name, char *err,
                  size_t errlen)
{
	char line[CFG_LINE_MAX];
	size_t lineno = 0, pos = 0;
	while (pos < len) {
		lineno++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char origin[320];
		snprintf(origin, sizeof(origin), "%s:%zu", name, lineno);
		if (n >= sizeof(line))
			return cfg_fail(err, errlen, "%s: line longer than %d bytes", origin,
			                CFG_LINE_MAX - 1);
		if (memchr(text + pos, '\0', n) != NULL)
			return cfg_fail(err, errlen, "%s: NUL byte in line", origin);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (cfg_line(c, line, origin, err, errlen) != 0)
			return -1;
		pos += n + 1;
	}
	return 0;
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	char reason[512];
	char *text = file_read(path, CFG_FILE_MAX, &len, reason, sizeof(reason));
	if (text == NULL)
		return cfg_fail(err, errlen, "config file %s", reason);
	int rc = cfg_load_text(c, text, len, path, err, errlen);
	free(text);
	return rc;
}

/* AIMEM_DB_URL -> db.url for the item whose derived name matches; passthrough otherwise. */
static void cfg_env_name(const char *key, char *out, size_t outlen)
{
	size_t o = snprintf(out, outlen, "AIMEM_");
	for (const char *k = key; *k && o + 1 < outlen; k++)
		out[o++] = (*k == '.' || *k == '-') ? '_' : (char)toupper((unsigned char)*k);
	out[o] = '\0';
}

static int cfg_env_one(struct cfg *c, const char *name, const char *value, char *err, size_t errlen)
{
	char derived[300];
	/* an item's own name first: a table may have a "<secret>_file" row of its own
	 * (auth.jwt_secret_file), which then wins over the generic _FILE form below */
	for (size_t i = 0; i < c->nitems; i++) {
		cfg_env_name(c->items[i].key, derived, sizeof(derived));
		if (strcmp(name, derived) == 0)
			return cfg_set(c, c->items[i].key, value, name, err, errlen);
	}
	for (size_t i = 0; i < c->nitems; i++) {
		cfg_env_name(c->items[i].key, derived, sizeof(derived));
		size_t dlen = strlen(derived);
		if ((c->items[i].flags & CFG_SECRET) && strncmp(name, derived, dlen) == 0 &&
		    strcmp(name + dlen, "_FILE") == 0)
			return cfg_set_secret_file(c, i, value, name, err, errlen);
	}
	if (c->passthrough == NULL)
		return 0;
	cfg_env_name(c->passthrough, derived, sizeof(derived)); /* "kafka." -> AIMEM_KAFKA_ */
	size_t plen = strlen(derived);
	if (strncmp(name, derived, plen) != 0 || name[plen] == '\0')
		return 0;
	char key[300];
	size_t o = snprintf(key, sizeof(key), "%s", c->passthrough);
	for (const char *p = name + plen; *p && o + 1 < sizeof(key); p++)
		key[o++] = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
	key[o] = '\0';
	cfg_set_pair(c, key, value, name);
	return 0;
}

bool cfg_env_is_setting(const struct cfg *c, const char *name)
{
	char derived[300];
	for (size_t i = 0; i < c->nitems; i++) {
		cfg_env_name(c->items[i].key, derived, sizeof(derived));
		size_t dlen = strlen(derived);
		if (strcmp(name, derived) == 0 ||
		    ((c->items[i].flags & CFG_SECRET) && strncmp(name, derived, dlen) == 0 &&
		     strcmp(name + dlen, "_FILE") == 0))
			return true;
	}
	if (c->passthrough == NULL)
		return false;
	cfg_env_name(c->passthrough, derived, sizeof(derived));
	return strncmp(name, derived, strlen(derived)) == 0 && name[strlen(derived)] != '\0';
}

size_t cfg_item_count(const struct cfg *c)
{
	return c->nitems;
}

void cfg_item_env(const struct cfg *c, size_t i, char *out, size_t outlen)
{
	cfg_env_name(c->items[i].key, out, outlen);
}

int cfg_load_env(struct cfg *c, char *const *envp, char *err, size_t errlen)
{
	for (char *const *e = envp; e && *e; e++) {
		if (strncmp(*e, "AIMEM_", 6) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		if (eq == NULL || (size_t)(eq - *e) >= 256)
			continue;
		char name[256];
		memcpy(name, *e, (size_t)(eq - *e));
		name[eq - *e] = '\0';
		if (cfg_env_one(c, name, eq + 1, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int cfg_check(const struct cfg *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nitems; i++) {
		const struct cfg_item *it = &c->items[i];
		if (!(it->flags & CFG_REQUIRED))
			continue;
		bool empty =
		    (it->type == CFG_STRING || it->type == CFG_ENUM) &&
		    (*(char **)cfg_field(c, it) == NULL || **(char **)cfg_field(c, it) == '\0');
		if (!c->set[i] || empty) {
			char env[300];
			cfg_env_name(it->key, env, sizeof(env));
			return cfg_fail(err, errlen,
			                "%s is required (set it in the config file or %s)", it->key,
			                env);
		}
	}
	return 0;
}

/* 0 when path opens for reading: a folder through opendir, anything else through open. */
static int cfg_open_path(const char *path, char *reason, size_t reasonlen)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return cfg_fail(reason, reasonlen, "%s", strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (d == NULL)
			return cfg_fail(reason, reasonlen, "%s", strerror(errno));
		closedir(d);
		return 0;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return cfg_fail(reason, reasonlen, "%s", strerror(errno));
	close(fd);
	return 0;
}

int cfg_check_paths(const struct cfg *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nitems; i++) {
		const struct cfg_item *it = &c->items[i];
		if (!(it->flags & (CFG_PATH | CFG_DATA)) || it->type != CFG_STRING || !c->set[i])
			continue;
		const char *path = *(char *const *)cfg_field(c, it);
		if (path == NULL || *path == '\0')
			continue;
		char reason[256], env[300];
		if (cfg_open_path(path, reason, sizeof(reason)) == 0)
			continue;
		cfg_env_name(it->key, env, sizeof(env));
		if ((it->flags & CFG_DATA) && path[0] != '/' &&
		    strcmp(c->origins[i], "default") == 0)
			return cfg_fail(
			    err, errlen,
			    "default: %s: cannot find %s in ../%s next to the program, "
			    "the source tree above it or the working directory (%s); set "
			    "%s or %s",
			    it->key, path, DATADIR_SHARE, reason, it->key, env);
		return cfg_fail(err, errlen, "%s: %s: cannot open %s: %s", c->origins[i], it->key,
		                path, reason);
	}
	return 0;
}

int cfg_load(struct cfg *c, const char *path, char *const *envp, char *err, size_t errlen)
{
	if (path && cfg_load_file(c, path, err, errlen) != 0)
		return -1;
	if (cfg_load_env(c, envp, err, errlen) != 0)
		return -1;
	return cfg_check(c, err, errlen);
}

/* A number of an item's type in the units a person would write (30s, 1MiB). */
static void cfg_format_number(enum cfg_type type, long long v, struct buf *out)
{
	static const struct {
		long long f;
		const char *u;
	} ms[] = { { 86400000, "d" },
		   { 3600000, "h" },
		   { 60000, "m" },
		   { 1000, "s" },
		   { 1, "ms" } },
	  bytes[] = { { 1LL << 30, "GiB" }, { 1LL << 20, "MiB" }, { 1LL << 10, "KiB" }, { 1, "" } };
	if (v == 0 || (type != CFG_DURATION && type != CFG_SIZE)) {
		buf_appendf(out, "%lld", v);
		return;
	}
	size_t n =
	    type == CFG_DURATION ? sizeof(ms) / sizeof(ms[0]) : sizeof(bytes) / sizeof(bytes[0]);
	for (size_t i = 0; i < n; i++) {
		long long f = type == CFG_DURATION ? ms[i].f : bytes[i].f;
		if (v % f == 0) {
			buf_appendf(out, "%lld%s", v / f,
			            type == CFG_DURATION ? ms[i].u : bytes[i].u);
			return;
		}
	}
}

static void cfg_format_value(const struct cfg *c, const struct cfg_item *it, struct buf *out)
{
	const void *field = cfg_field(c, it);
	switch (it->type) {
	case CFG_STRING:
	case CFG_ENUM:
		buf_append_str(out, *(char *const *)field ? *(char *const *)field : "");
		return;
	case CFG_BOOL:
		buf_append_str(out, *(const bool *)field ? "true" : "false");
		return;
	case CFG_INT:
	case CFG_DURATION:
	case CFG_SIZE:
		cfg_format_number(it->type, *(const long long *)field, out);
		return;
	}
}

void cfg_print(const struct cfg *c, struct buf *out)
{
	for (size_t i = 0; i < c->nitems; i++) {
		const struct cfg_item *it = &c->items[i];
		bool is_str = it->type == CFG_STRING || it->type == CFG_ENUM;
		bool present = c->set[i] && !(is_str && *(char *const *)cfg_field(c, it) == NULL);
		buf_appendf(out, "%s = ", it->key);
		if (!present)
			buf_append_str(out, "<unset>");
		else if (it->flags & CFG_SECRET)
			buf_append_str(out, "<redacted>");
		else
			cfg_format_value(c, it, out);
		buf_appendf(out, "  # %s\n", present ? c->origins[i] : "unset");
	}
	for (size_t i = 0; i < c->npairs; i++) {
		/* passthrough values can hold credentials (sasl.password): show them as such */
		bool secretish = strstr(c->pairs[i].key, "password") ||
		                 strstr(c->pairs[i].key, "secret") ||
		                 strstr(c->pairs[i].key, ".key");
		buf_appendf(out, "%s = %s  # %s\n", c->pairs[i].key,
		            secretish ? "<redacted>" : c->pairs[i].value, c->pairs[i].origin);
	}
}

void cfg_print_reference(const struct cfg *c, struct buf *out)
{
	static const char *const types[] = {
		"string", "enum", "integer", "bool", "duration", "size"
	};
	buf_append_str(out, "| key | environment | type | default | description |\n");
	buf_append_str(out, "|---|---|---|---|---|\n");
	for (size_t i = 0; i < c->nitems; i++) {
		const struct cfg_item *it = &c->items[i];
		char env[300];
		cfg_env_name(it->key, env, sizeof(env));
		buf_appendf(out, "| `%s` | `%s`", it->key, env);
		if (it->flags & CFG_SECRET)
			buf_appendf(out, " or `%s_FILE`", env);
		buf_appendf(out, " | %s", types[it->type]);
		if (it->type == CFG_ENUM) { /* '|' would end a Markdown table cell */
			buf_append_str(out, " (");
			for (const char *p = it->choices; *p; p++)
				buf_append_str(out, *p == '|' ? ", " : (char[]){ *p, '\0' });
			buf_putc(out, ')');
		}
		if (it->type == CFG_INT || it->type == CFG_DURATION || it->type == CFG_SIZE) {
			buf_append_str(out, " [");
			cfg_format_number(it->type, it->min, out);
			buf_append_str(out, ", ");
			cfg_format_number(it->type, it->max, out);
			buf_putc(out, ']');
		}
		buf_appendf(out, " | %s | %s%s |\n", it->def ? it->def : "", it->help,
		            (it->flags & CFG_REQUIRED) ? " (required)" : "");
	}
}

size_t cfg_passthrough_count(const struct cfg *c)
{
	return c->npairs;
}

void cfg_passthrough_get(const struct cfg *c, size_t i, const char **key, const char **value)
{
	*key = c->pairs[i].key;
	*value = c->pairs[i].value;
}

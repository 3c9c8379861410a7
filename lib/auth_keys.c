/*
 * auth_keys: the auth.* settings and their key files (see auth_keys.h).
 */
#include "auth_keys.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"
#include "log.h"
#include "xalloc.h"

/* The keys read so far: kids and key bytes owned here, handed to auth_config borrowed. */
struct auth_keys_list {
	struct auth_key keys[AUTH_KEYS_MAX];
	size_t n;
};

static void auth_keys_list_free(struct auth_keys_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		explicit_bzero((char *)l->keys[i].key, l->keys[i].key_len);
		free((char *)l->keys[i].key);
		free((char *)l->keys[i].kid);
	}
	l->n = 0;
}

/* One key file: the key named kid (copied). A secret loses its trailing newlines. */
static int auth_keys_read(struct auth_keys_list *l, const char *path, const char *kid, bool secret,
                          char *err, size_t errlen)
{
	if (l->n == AUTH_KEYS_MAX) {
		snprintf(err, errlen, "%s: more than %d keys", path, AUTH_KEYS_MAX);
		return -1;
	}
	size_t len = 0;
	char *key = file_read(path, AUTH_KEY_MAX + 2, &len, err, errlen);
	if (key == NULL)
		return -1;
	while (secret && len > 0 && (key[len - 1] == '\n' || key[len - 1] == '\r'))
		key[--len] = '\0';
	if (secret && strlen(key) != len) {
		snprintf(err, errlen, "%s: the secret contains a NUL byte", path);
		explicit_bzero(key, len);
		free(key);
		return -1;
	}
	l->keys[l->n++] = (struct auth_key){ xstrndup(kid, AUTH_KID_MAX), key, len };
	return 0;
}

static int auth_keys_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder: its regular files (symbolic links followed) not starting with '.', by name. */
static int auth_keys_read_dir(struct auth_keys_list *l, const char *dir, bool secret, char *err,
                              size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n <= AUTH_KEYS_MAX) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	int rc = 0;
	if (n == 0) {
		snprintf(err, errlen, "%s: no key files in the folder", dir);
		rc = -1;
	}
	qsort(names, n, sizeof(*names), auth_keys_name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = auth_keys_read(l, path, names[i], secret, err, errlen);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* A *_file setting: a folder or one file (named by its base name). */
static int auth_keys_read_path(struct auth_keys_list *l, const char *path, bool secret, char *err,
                               size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return auth_keys_read_dir(l, path, secret, err, errlen);
	const char *slash = strrchr(path, '/');
	return auth_keys_read(l, path, slash ? slash + 1 : path, secret, err, errlen);
}

static enum auth_alg auth_keys_alg(const char *name)
{
	enum auth_alg alg = AUTH_HS256;
	if (name != NULL && auth_alg_parse(name, &alg) != 0)
		alg = AUTH_HS256; /* the table's enum allows nothing else */
	return alg;
}

struct auth_verifier *auth_keys_verifier(const struct auth_keys_settings *s, char *err,
                                         size_t errlen)
{
	struct auth_config ac = { .alg = auth_keys_alg(s->alg) };
	struct auth_keys_list l = { .n = 0 };
	char why[512];
	const char *file = ac.alg == AUTH_HS256 ? s->secret_file : s->public_key_file;
	const char *setting =
	    ac.alg == AUTH_HS256 ? "auth.jwt_secret_file" : "auth.public_key_file";
	if (file != NULL && *file != '\0' &&
	    auth_keys_read_path(&l, file, ac.alg == AUTH_HS256, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", setting, why);
		auth_keys_list_free(&l);
		return NULL;
	}
	if (ac.alg != AUTH_HS256 && l.n == 0) {
		snprintf(err, errlen, "auth.public_key_file is required for %s", s->alg);
		return NULL;
	}
	if (ac.alg == AUTH_HS256 && (s->secret != NULL || l.n == 0)) {
		ac.key = s->secret ? s->secret : "";
		ac.key_len = strlen(ac.key);
	}
	ac.keys = l.keys;
	ac.nkeys = l.n;
	ac.issuer = s->issuer;
	ac.audience = s->audience;
	ac.leeway_s = s->leeway_ms / 1000;
	ac.max_lifetime_s = s->max_lifetime_ms / 1000;
	ac.max_token_len = (size_t)s->max_token;
	struct auth_verifier *v = auth_verifier_new(&ac, err, errlen);
	auth_keys_list_free(&l);
	return v;
}

int auth_keys_check(const struct auth_keys_settings *s, char *err, size_t errlen)
{
	struct auth_verifier *auth = auth_keys_verifier(s, err, errlen);
	if (auth == NULL)
		return -1;
	auth_verifier_free(&auth);
	return 0;
}

int auth_keys_reload(const struct auth_keys_settings *s, struct auth_verifier *v, char *err,
                     size_t errlen)
{
	struct auth_verifier *next = auth_keys_verifier(s, err, errlen);
	if (next == NULL)
		return -1;
	auth_verifier_replace(v, &next);
	log_info("jwt keys reloaded keys=%zu", auth_verifier_keys(v));
	return 0;
}

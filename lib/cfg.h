/*
 * cfg: typed configuration driven by one table per program.
 *
 * Each program declares a table of struct cfg_item (key, type, default, bounds, flags,
 * offset into its own settings struct, help). The same table drives parsing, validation,
 * --print-config and the reference in docs, so they cannot disagree. Sources, later ones
 * winning: the defaults, a "key = value" file, then AIMEM_* environment variables (key
 * upper-cased, '.' -> '_': db.url is AIMEM_DB_URL).
 *
 * Secrets (CFG_SECRET) are never printed; they can also come from a file named by
 * "<key>_file" (or AIMEM_<KEY>_FILE), so they need never sit in argv or the config file.
 * Keys under a passthrough prefix (e.g. "kafka.") are kept verbatim for the library that
 * owns them (AIMEM_KAFKA_BOOTSTRAP_SERVERS becomes kafka.bootstrap.servers).
 *
 * Paths: a CFG_PATH item names a file or folder the program reads; cfg_check_paths opens
 * each one set (--check-config). A CFG_DATA item is also one of the data files we ship
 * (lexicons, prompts, migrations): its default is a path in the source tree, which cfg_new
 * looks up with datadir_find (the install's share/ai-memory, the source tree above the
 * executable, the working directory), so a program started anywhere finds it. An explicit
 * value is taken as written.
 *
 * Errors name their origin: "path:line: key: message" or "AIMEM_X: message". Not
 * thread-safe; load once at start-up.
 */
#ifndef AIMEM_CFG_H
#define AIMEM_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum cfg_type {
	CFG_STRING,   /* char * (owned by the cfg), NULL when unset */
	CFG_ENUM,     /* char *, one of item->choices ("a|b|c") */
	CFG_INT,      /* long long in [min, max] */
	CFG_BOOL,     /* bool */
	CFG_DURATION, /* long long milliseconds in [min, max]; text needs a unit: 30s, 250ms */
	CFG_SIZE,     /* long long bytes in [min, max]; text: 512, 64KiB, 1MiB */
};

enum cfg_flags {
	CFG_SECRET = 1 << 0,   /* redacted in --print-config; may come from <key>_file */
	CFG_REQUIRED = 1 << 1, /* must be set by some source */
	CFG_PATH = 1 << 2,     /* a file or folder read at start-up: cfg_check_paths opens it */
	CFG_DATA = 1 << 3,     /* CFG_PATH whose default is shipped data (datadir_find) */
};

struct cfg_item {
	const char *key;
	enum cfg_type type;
	const char *def; /* default as text; NULL: unset (strings only) */
	long long min, max;
	const char *choices; /* CFG_ENUM only */
	unsigned flags;
	size_t offset; /* offsetof(struct program_settings, field) */
	const char *help;
};

struct cfg;

/*
 * Creates a configuration over items (borrowed: a static table) writing into target
 * (borrowed, outlives the cfg). passthrough: a key prefix kept verbatim ("kafka.") or NULL.
 * Applies the defaults (a CFG_DATA default as found by datadir_find); a default that does not
 * parse is a programming error and aborts.
 */
struct cfg *cfg_new(const struct cfg_item *items, size_t nitems, void *target,
                    const char *passthrough);
void cfg_free(struct cfg **c);

/* Sets one key from text; origin names the source in errors ("file:3", "AIMEM_X"). */
int cfg_set(struct cfg *c, const char *key, const char *value, const char *origin, char *err,
            size_t errlen) __attribute__((warn_unused_result));
/* Parses "key = value" text (name is used in errors). */
int cfg_load_text(struct cfg *c, const char *text, size_t len, const char *name, char *err,
                  size_t errlen) __attribute__((warn_unused_result));
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* envp: NULL-terminated "NAME=value" strings (environ). Unknown AIMEM_* names are ignored. */
int cfg_load_env(struct cfg *c, char *const *envp, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Is name (e.g. "AIMEM_DB_URL") one of c's environment names: an item's, a secret item's
 * _FILE form, or under the passthrough prefix (AIMEM_KAFKA_...)? */
bool cfg_env_is_setting(const struct cfg *c, const char *name);
/* The number of items, and item i's environment name (AIMEM_DB_URL for db.url). */
size_t cfg_item_count(const struct cfg *c);
void cfg_item_env(const struct cfg *c, size_t i, char *out, size_t outlen);
/* Checks that every CFG_REQUIRED item is set. */
int cfg_check(const struct cfg *c, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Opens every CFG_PATH or CFG_DATA item that is set (a folder with opendir, a file for
 * reading); the first that fails gives "origin: key: path: reason". */
int cfg_check_paths(const struct cfg *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Defaults, then path (if not NULL), then envp, then cfg_check. */
int cfg_load(struct cfg *c, const char *path, char *const *envp, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Appends "key = value  # origin" lines, secrets shown as <redacted> or <unset>. */
void cfg_print(const struct cfg *c, struct buf *out);
/* Appends a Markdown table of the items (key, env, type, default, help) for docs. */
void cfg_print_reference(const struct cfg *c, struct buf *out);

/* Passthrough pairs in the order set; key and value are borrowed from the cfg. */
size_t cfg_passthrough_count(const struct cfg *c);
void cfg_passthrough_get(const struct cfg *c, size_t i, const char **key, const char **value);

#endif

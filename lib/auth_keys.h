/*
 * auth_keys: the JWT settings of the HTTP programs (the auth.* section of aimem-ingest's and
 * aimem-query's tables) and the verifier built from them, with the key files read from disk.
 *
 * Keys come from auth.jwt_secret (one HS256 secret, no key id), auth.jwt_secret_file (HS256)
 * or auth.public_key_file (RS256/ES256). A *_file setting names a file (one key, whose id is
 * the file's name) or a folder (every regular file in it whose name does not start with '.',
 * in name order, each one key named by its file: a Kubernetes Secret mounted as a volume is
 * such a folder, its ..data links skipped). Up to AUTH_KEYS_MAX keys in all. A secret file's
 * trailing newlines are dropped. The files are read when the verifier is built: at start-up
 * and again on each reload (SIGHUP), which is how a rotation proceeds without a coordinated
 * restart (docs/OPERATIONS.md).
 *
 * Not here: verification (auth.h), the reload trigger (prog.h).
 */
#ifndef AIMEM_AUTH_KEYS_H
#define AIMEM_AUTH_KEYS_H

#include <stddef.h>

#include "auth.h"
#include "cfg.h"

struct auth_keys_settings {
	char *alg, *secret, *secret_file, *public_key_file, *issuer, *audience;
	long long leeway_ms, max_lifetime_ms, max_token;
};

/* clang-format off */
#define AUTH_KEYS_S_(base, field) ((base) + offsetof(struct auth_keys_settings, field))
/* auth.max_lifetime alone, for a table that mints tokens (aimem token refuses a --ttl the
 * APIs would refuse); off: the offset of a long long milliseconds field. */
#define AUTH_KEYS_MAX_LIFETIME_CFG_ITEM(off) \
	{ .key = "auth.max_lifetime", .type = CFG_DURATION, .def = "24h", .min = 60000, \
	  .max = 30LL * 86400000, .offset = (off), .help = "longest token lifetime accepted (exp - iat)" }
/* The auth.* rows of a cfg table; base: the offset of the embedded struct auth_keys_settings.
 * auth.jwt_secret_file is a row of its own (a file or a folder, read again on reload), so
 * AIMEM_AUTH_JWT_SECRET_FILE names it rather than cfg's generic <secret>_FILE. */
#define AUTH_KEYS_CFG_ITEMS(base) \
	{ .key = "auth.algorithm", .type = CFG_ENUM, .def = "HS256", .choices = "HS256|RS256|ES256", \
	  .offset = AUTH_KEYS_S_(base, alg), .help = "the only JWT algorithm accepted" }, \
	{ .key = "auth.jwt_secret_file", .type = CFG_STRING, .flags = CFG_PATH, \
	  .offset = AUTH_KEYS_S_(base, secret_file), \
	  .help = "HS256 secrets: a file (one secret, its name the key id) or a folder (each file one " \
	          "secret, named by its file; names starting with '.' skipped); read again on SIGHUP, so " \
	          "old and new secret can both be accepted during a rotation" }, \
	{ .key = "auth.jwt_secret", .type = CFG_STRING, .flags = CFG_SECRET, \
	  .offset = AUTH_KEYS_S_(base, secret), \
	  .help = "HS256 shared secret, at least 32 bytes (ChatStack's JWT_SECRET_KEY); accepted beside " \
	          "auth.jwt_secret_file's" }, \
	{ .key = "auth.public_key_file", .type = CFG_STRING, .flags = CFG_PATH, \
	  .offset = AUTH_KEYS_S_(base, public_key_file), \
	  .help = "RS256/ES256 public keys: a PEM file or a folder of them (each named by its file); read " \
	          "again on SIGHUP" }, \
	{ .key = "auth.issuer", .type = CFG_STRING, .offset = AUTH_KEYS_S_(base, issuer), \
	  .help = "required iss claim, if set" }, \
	{ .key = "auth.audience", .type = CFG_STRING, .offset = AUTH_KEYS_S_(base, audience), \
	  .help = "required aud claim, if set" }, \
	{ .key = "auth.leeway", .type = CFG_DURATION, .def = "60s", .min = 0, .max = 600000, \
	  .offset = AUTH_KEYS_S_(base, leeway_ms), .help = "clock skew allowed on exp, nbf and iat" }, \
	AUTH_KEYS_MAX_LIFETIME_CFG_ITEM(AUTH_KEYS_S_(base, max_lifetime_ms)), \
	{ .key = "auth.max_token_bytes", .type = CFG_SIZE, .def = "8KiB", .min = 256, .max = 64 << 10, \
	  .offset = AUTH_KEYS_S_(base, max_token), .help = "longest bearer token accepted" }
/* clang-format on */

/*
 * Reads the key files s names and builds the verifier (auth_verifier_new). NULL with err for
 * what start-up refuses: no key at all, an unreadable file or folder, a folder without keys or
 * with more than AUTH_KEYS_MAX, a secret with a NUL byte, and everything auth_verifier_new
 * refuses (naming the key by its file). Blocks on the file reads; start-up, --check-config and
 * reload call it on the main thread.
 */
struct auth_verifier *auth_keys_verifier(const struct auth_keys_settings *s, char *err,
                                         size_t errlen) __attribute__((warn_unused_result));

/* --check-config (prog_info.check): builds the verifier start-up would build and drops it.
 * 0, or -1 with err. */
int auth_keys_check(const struct auth_keys_settings *s, char *err, size_t errlen);

/* SIGHUP (prog_on_reload): builds a verifier from the fresh settings and swaps it into v while
 * requests keep verifying; a key that does not load leaves v as it is (-1 with err). */
int auth_keys_reload(const struct auth_keys_settings *s, struct auth_verifier *v, char *err,
                     size_t errlen);

#endif

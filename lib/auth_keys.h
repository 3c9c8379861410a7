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
 * APIs would refuse); offset: of a long long milliseconds field. */
#define AUTH_KEYS_MAX_LIFETIME_CFG_ITEM(offset) \
	{ "auth.max_lifetime", CFG_DURATION, "24h", 60000, 30LL * 86400000, NULL, 0, (offset), \
	  "longest token lifetime accepted (exp - iat)" }
/* The auth.* rows of a cfg table; base: the offset of the embedded struct auth_keys_settings.
 * auth.jwt_secret_file is a row of its own (a file or a folder, read again on reload), so
 * AIMEM_AUTH_JWT_SECRET_FILE names it rather than cfg's generic <secret>_FILE. */
#define AUTH_KEYS_CFG_ITEMS(base) \
	{ "auth.algorithm", CFG_ENUM, "HS256", 0, 0, "HS256|RS256|ES256", 0, AUTH_KEYS_S_(base, alg), \
	  "the only JWT algorithm accepted" }, \
	{ "auth.jwt_secret_file", CFG_STRING, NULL, 0, 0, NULL, CFG_PATH, AUTH_KEYS_S_(base, secret_file), \
	  "HS256 secrets: a file (one secret, its name the key id) or a folder (each file one " \
	  "secret, named by its file; names starting with '.' skipped); read again on SIGHUP, so " \
	  "old and new secret can both be accepted during a rotation" }, \
	{ "auth.jwt_secret", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET, AUTH_KEYS_S_(base, secret), \
	  "HS256 shared secret, at least 32 bytes (ChatStack's JWT_SECRET_KEY); accepted beside " \
	  "auth.jwt_secret_file's" }, \
	{ "auth.public_key_file", CFG_STRING, NULL, 0, 0, NULL, CFG_PATH, AUTH_KEYS_S_(base, public_key_file), \
	  "RS256/ES256 public keys: a PEM file or a folder of them (each named by its file); read " \
	  "again on SIGHUP" }, \
	{ "auth.issuer", CFG_STRING, NULL, 0, 0, NULL, 0, AUTH_KEYS_S_(base, issuer), \
	  "required iss claim, if set" }, \
	{ "auth.audience", CFG_STRING, NULL, 0, 0, NULL, 0, AUTH_KEYS_S_(base, audience), \
	  "required aud claim, if set" }, \
	{ "auth.leeway", CFG_DURATION, "60s", 0, 600000, NULL, 0, AUTH_KEYS_S_(base, leeway_ms), \
	  "clock skew allowed on exp, nbf and iat" }, \
	AUTH_KEYS_MAX_LIFETIME_CFG_ITEM(AUTH_KEYS_S_(base, max_lifetime_ms)), \
	{ "auth.max_token_bytes", CFG_SIZE, "8KiB", 256, 64 << 10, NULL, 0, AUTH_KEYS_S_(base, max_token), \
	  "longest bearer token accepted" }
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

/* Unit tests for key rotation: lib/auth with several keys (each accepted, a kid selects one,
 * the swap under reload) and lib/auth_keys reading a file or a folder of secrets. */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "auth_keys.h"
#include "unit.h"

static const char old_secret[] = "old-secret-0123456789abcdef-0123456789";
static const char new_secret[] = "new-secret-0123456789abcdef-0123456789";
static const char other_secret[] = "someone-else-0123456789abcdef-01234567";

/* An HS256 token for customer 7 signed with secret, with a "kid" header when kid != NULL. */
static char *token(const char *secret, const char *kid)
{
	jwt_t *jwt = NULL;
	UNIT_REQUIRE(jwt_new(&jwt) == 0);
	long now = (long)time(NULL);
	UNIT_REQUIRE(jwt_add_grant_int(jwt, "customer_id", 7) == 0);
	UNIT_REQUIRE(jwt_add_grant(jwt, "scope", "memory:read") == 0);
	UNIT_REQUIRE(jwt_add_grant_int(jwt, "iat", now) == 0);
	UNIT_REQUIRE(jwt_add_grant_int(jwt, "exp", now + 600) == 0);
	if (kid != NULL)
		UNIT_REQUIRE(jwt_add_header(jwt, "kid", kid) == 0);
	UNIT_REQUIRE(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret,
	                         (int)strlen(secret)) == 0);
	char *t = jwt_encode_str(jwt);
	jwt_free(jwt);
	UNIT_REQUIRE(t != NULL);
	return t;
}

static int verify(const struct auth_verifier *v, const char *secret, const char *kid)
{
	char *t = token(secret, kid), err[256];
	struct auth_claims c;
	int rc = auth_verify(v, t, strlen(t), (long long)time(NULL), &c, err, sizeof(err));
	free(t);
	return rc;
}

static struct auth_verifier *two_keys(const char *first_kid, const char *second_kid)
{
	const struct auth_key keys[] = { { first_kid, old_secret, strlen(old_secret) },
		                         { second_kid, new_secret, strlen(new_secret) } };
	struct auth_config cfg = { .alg = AUTH_HS256,
		                   .keys = keys,
		                   .nkeys = 2,
		                   .leeway_s = 60,
		                   .max_lifetime_s = 86400,
		                   .max_token_len = 8192 };
	char err[256] = "";
	struct auth_verifier *v = auth_verifier_new(&cfg, err, sizeof(err));
	if (v == NULL)
		unit_fail(__FILE__, __LINE__, "%s", err);
	UNIT_REQUIRE(v != NULL);
	return v;
}

UNIT_TEST(auth_keys_old_and_new_secret_both_accepted)
{
	struct auth_verifier *v = two_keys(NULL, NULL);
	CHECK_INT(auth_verifier_keys(v), 2);
	CHECK_INT(verify(v, old_secret, NULL), AUTH_OK);
	CHECK_INT(verify(v, new_secret, NULL), AUTH_OK);
	CHECK_INT(verify(v, other_secret, NULL), AUTH_BAD_SIGNATURE);
	auth_verifier_free(&v);
}

UNIT_TEST(auth_keys_kid_selects_the_key)
{
	struct auth_verifier *v = two_keys("2024", "2025");
	CHECK_INT(verify(v, new_secret, "2025"), AUTH_OK);
	CHECK_INT(verify(v, old_secret, "2024"), AUTH_OK);
	/* a known kid is checked with its key only */
	CHECK_INT(verify(v, old_secret, "2025"), AUTH_BAD_SIGNATURE);
	CHECK_INT(verify(v, new_secret, "2024"), AUTH_BAD_SIGNATURE);
	/* an unknown kid (an issuer's own naming) falls back to trying each key */
	CHECK_INT(verify(v, new_secret, "issuer-key-9"), AUTH_OK);
	CHECK_INT(verify(v, other_secret, "issuer-key-9"), AUTH_BAD_SIGNATURE);
	auth_verifier_free(&v);
}

UNIT_TEST(auth_keys_refuses_bad_key_sets)
{
	const struct auth_key dup[] = { { "a", old_secret, strlen(old_secret) },
		                        { "a", new_secret, strlen(new_secret) } };
	const struct auth_key shortk[] = { { "short", "too-short", 9 } };
	struct auth_config cfg = { .alg = AUTH_HS256,
		                   .keys = dup,
		                   .nkeys = 2,
		                   .leeway_s = 60,
		                   .max_lifetime_s = 86400,
		                   .max_token_len = 8192 };
	char err[256] = "";
	struct auth_verifier *v = auth_verifier_new(&cfg, err, sizeof(err));
	CHECK(v == NULL);
	CHECK_CONTAINS(err, "two keys have the id a");
	cfg.keys = shortk;
	cfg.nkeys = 1;
	v = auth_verifier_new(&cfg, err, sizeof(err));
	CHECK(v == NULL);
	CHECK_CONTAINS(err, "key short: HS256 secret is 9 bytes");
	cfg.nkeys = AUTH_KEYS_MAX + 1;
	v = auth_verifier_new(&cfg, err, sizeof(err));
	CHECK(v == NULL);
	CHECK_CONTAINS(err, "at most 16 allowed");
}

UNIT_TEST(auth_keys_replace_swaps_the_keys)
{
	struct auth_config cfg = { .alg = AUTH_HS256,
		                   .key = old_secret,
		                   .key_len = strlen(old_secret),
		                   .leeway_s = 60,
		                   .max_lifetime_s = 86400,
		                   .max_token_len = 8192 };
	char err[256];
	struct auth_verifier *v = auth_verifier_new(&cfg, err, sizeof(err));
	UNIT_REQUIRE(v != NULL);
	CHECK_INT(verify(v, new_secret, NULL), AUTH_BAD_SIGNATURE);
	cfg.key = new_secret;
	struct auth_verifier *fresh = auth_verifier_new(&cfg, err, sizeof(err));
	UNIT_REQUIRE(fresh != NULL);
	auth_verifier_replace(v, &fresh);
	CHECK(fresh == NULL);
	CHECK_INT(verify(v, new_secret, NULL), AUTH_OK);
	CHECK_INT(verify(v, old_secret, NULL), AUTH_BAD_SIGNATURE);
	auth_verifier_free(&v);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	UNIT_REQUIRE(f != NULL);
	fputs(text, f);
	fclose(f);
}

static struct auth_keys_settings hs_settings(char *secret_file)
{
	return (struct auth_keys_settings){ .alg = "HS256",
		                            .secret_file = secret_file,
		                            .leeway_ms = 60000,
		                            .max_lifetime_ms = 86400000,
		                            .max_token = 8192 };
}

UNIT_TEST(auth_keys_reads_a_folder_of_secrets)
{
	char dir[] = "/tmp/aimem-keys-XXXXXX", path[256];
	UNIT_REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/2024", dir);
	write_file(path, "old-secret-0123456789abcdef-0123456789\n"); /* newline dropped */
	snprintf(path, sizeof(path), "%s/2025", dir);
	write_file(path, new_secret);
	snprintf(path, sizeof(path), "%s/..data", dir); /* a Kubernetes volume's link folder */
	UNIT_REQUIRE(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/.hidden", dir);
	write_file(path, "x");
	struct auth_keys_settings s = hs_settings(dir);
	char err[512] = "";
	struct auth_verifier *v = auth_keys_verifier(&s, err, sizeof(err));
	if (v == NULL)
		unit_fail(__FILE__, __LINE__, "%s", err);
	UNIT_REQUIRE(v != NULL);
	CHECK_INT(auth_verifier_keys(v), 2);
	CHECK_INT(verify(v, old_secret, NULL), AUTH_OK);
	CHECK_INT(verify(v, new_secret, "2025"), AUTH_OK);
	CHECK_INT(verify(v, old_secret, "2025"), AUTH_BAD_SIGNATURE);
	auth_verifier_free(&v);

	/* one file: one key, named by the file; plus the inline secret */
	snprintf(path, sizeof(path), "%s/2025", dir);
	s = hs_settings(path);
	s.secret = (char *)old_secret;
	v = auth_keys_verifier(&s, err, sizeof(err));
	UNIT_REQUIRE(v != NULL);
	CHECK_INT(auth_verifier_keys(v), 2);
	CHECK_INT(verify(v, new_secret, "2025"), AUTH_OK);
	CHECK_INT(verify(v, old_secret, NULL), AUTH_OK);
	auth_verifier_free(&v);

	/* a short secret names its file; a missing path names the setting */
	snprintf(path, sizeof(path), "%s/2026", dir);
	write_file(path, "short\n");
	s = hs_settings(dir);
	CHECK(auth_keys_verifier(&s, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "key 2026: HS256 secret is 5 bytes");
	unlink(path);
	snprintf(path, sizeof(path), "%s/missing", dir);
	s = hs_settings(path);
	CHECK(auth_keys_verifier(&s, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "auth.jwt_secret_file: ");
	CHECK_CONTAINS(err, "cannot open");
	s = hs_settings(NULL);
	CHECK(auth_keys_verifier(&s, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "HS256 key is empty");

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK_INT(system(path), 0);
}

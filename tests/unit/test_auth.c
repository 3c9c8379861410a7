/*
 * Unit tests for lib/auth: a table of forged tokens against pinned HS256, RS256 and ES256
 * verifiers, claim rules with fixed clocks, Authorization header parsing, verifier
 * configuration refusals and minting. Tokens are built here: signed ones through libjwt,
 * forged headers and payloads by hand (base64url by string surgery), so the tests need no
 * libcrypto. The PEM keys below are throwaway test keys generated for this file; they
 * protect nothing.
 */
#include <jwt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "unit.h"
#include "xalloc.h"

#define NOW 1700000000LL
/* iat = NOW - 10, exp = NOW + 3600 */
#define TIMES "\"iat\":1699999990,\"exp\":1700003600"

static const char secret[] = "unit-test-secret-0123456789-abcdefghij";

static const char rsa_private_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCqQuOinlgXrIgu\n"
    "NDtUYnwqcPDXa0DzAgCUTejLoRIWjMSHcuXasmVPP65GnE+Qn15Peze9upTD6mPI\n"
    "YpyihOTQ4MUYpo6UxFLA58gkr5FqmL57oHYBgs/JtN1r4UezszBbaM6ro4JAxVt8\n"
    "KI/y/v0DEhrkWSj0rEY1rXAfOpYFSUqoKRQ4KkqUhQBx5To7uly4nJpc+hQLZRCO\n"
    "G/048R/XzUUuLVHEDra1yyn5YDGkHoFa543SLujzkXjZ29WNNGgfaVrgMA80+uvi\n"
    "KLc46ZM+s/UhwEU4lQkl/mrHPXYQoHWpbYFAqDfKG9Jhf9zebpbubpFc5uoL5eqW\n"
    "731BnVKxAgMBAAECggEAAV9obyxUZL13/Bpg85NXMa7nLC9xzrvAhjGSG8ksyIiC\n"
    "QZ7OJlsbmL3YUXqrZAy64YxqZMHTNvil7QzJe0BzyVDUmfgmzGGAUsyTlyMguqGo\n"
    "YH4I0YaM1xEZm2ftsG/UhxojV2wqLcxBinDXx0NhxhNwatCitUVJzB89uQy7fqen\n"
    "HIgBz/iXx/kwnS9mFJ64Vh/OZBbFMg2eTuqT6SuOtkzhh33sl4EJRHNwKJ/sa3Bj\n"
    "XUdfufGU7dj+TdyGsm0V+3jsHFdSAB64D1kIkQFWDvoO6U1dwvQvKoOVhu1IXHt5\n"
    "HAH7qLXcPm0XE1h6NWuZvWZlPbIaSaDppsAhLBEzOQKBgQDkYIkehM2UgTD0DPQe\n"
    "tbG3VAHQSc8G4jSCpSrOnXR6g4fQBDVDzrdMnvyROSfYVzOr65u1zUAMwZc8jGU4\n"
    "YVTC9nc2u0CyV8jQ7jRM89bbN8LzIDGLXfm0l+M80rZWF59sS1EgyNSzhbg6LVx1\n"
    "0Blz6t0WLKHc8jAUCjH3vp1VyQKBgQC+2ttTpP55W/UakOeH7B5ZR7UgfRNLQ1Jq\n"
    "ZzXxvhVxX9q0/5juE4+bRcPS6+gkUFdlvHWRu76nLRwESqN2fqW7DjkkMsbcvda/\n"
    "5PNOVN3gg2cJ8mdEwGjDOpbzUyiwSYMU4kZyqhWNdH733STj7Q4Eyu/UqBQf0tCn\n"
    "K8OOBC6pqQKBgQCQ4Gi8EpV0GwzaFYmcHblyynkoEFqkTEXxhyQD1ME6o0w5+yFr\n"
    "Naz0j3s8CV0skg02iA3MpDt4nCr7/ziLLrudvsrbzqh5OtUrLaHCG4H2qYYjxA2K\n"
    "EwDAvwYp5KZFMVEyWwlJWf4NMMwxI+ue1XgAIENGuOOqDX3QiLMwLh0TeQKBgBtp\n"
    "idkAuMArkg/HwkmGg3FlWEGbVVsZB0xbGKdpGuFW2C3pDEkdrCGsKo0v7v7QP01Q\n"
    "fT56Tc7rLrv7EHFjjWBJkbF+TYvFBIQ5WSzmCZxGo1UNaQG59RIdZzL5vb1cQaSN\n"
    "P3sWrNPNaLMnIzZNhRbxIvNTVNihSfDI22SZey5JAoGBANJZpBxbtM2HOn6MFS7G\n"
    "M9jXMBSSRDaU+u50OmEleau0uFtfMDfLAuSf3orjem/IiMDsN0iyYyXMkz18kXK8\n"
    "bjTT3vB2nLYjnrR16z7/F5M6Y+T9neBFYikUcqMSDyFQMB6rPtWJEFkpBU14Irlf\n"
    "KggKEC8GMoojz37oa4nfifVx\n"
    "-----END PRIVATE KEY-----\n";

static const char rsa_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqkLjop5YF6yILjQ7VGJ8\n"
    "KnDw12tA8wIAlE3oy6ESFozEh3Ll2rJlTz+uRpxPkJ9eT3s3vbqUw+pjyGKcooTk\n"
    "0ODFGKaOlMRSwOfIJK+Rapi+e6B2AYLPybTda+FHs7MwW2jOq6OCQMVbfCiP8v79\n"
    "AxIa5Fko9KxGNa1wHzqWBUlKqCkUOCpKlIUAceU6O7pcuJyaXPoUC2UQjhv9OPEf\n"
    "181FLi1RxA62tcsp+WAxpB6BWueN0i7o85F42dvVjTRoH2la4DAPNPrr4ii3OOmT\n"
    "PrP1IcBFOJUJJf5qxz12EKB1qW2BQKg3yhvSYX/c3m6W7m6RXObqC+Xqlu99QZ1S\n"
    "sQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char ec_private_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+VmR0a+xw8GVf4Wl\n"
    "VoS1R7N/wjCcQqEw1wvWEtM8qFqhRANCAARF/YV383O3TNfGlyhA3fg5Np7nZ+2p\n"
    "rLJ2MyLBEmXKO8lZmC9cWuYkFvTdY/qWQpbRlORk1qey/H83QbtohlEE\n"
    "-----END PRIVATE KEY-----\n";

static const char ec_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERf2Fd/Nzt0zXxpcoQN34OTae52ft\n"
    "qayydjMiwRJlyjvJWZgvXFrmJBb03WP6lkKW0ZTkZNansvx/N0G7aIZRBA==\n"
    "-----END PUBLIC KEY-----\n";

static const char rsa1024_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC9PyTQgjWVrT5bnPIBRqsAZ4Rv\n"
    "auR2FogZESBCyblhFeb6BhucXnEGQczXlEEno0PjxgHGVcTphYdpHbAjSXmKpR7s\n"
    "lZI+va29e928FrcXbBTP5Gw21Ycd+O9tuBt2OrhHSHSLX/gCRZ1NBy8l0RyW+D1s\n"
    "B2E8Vg2q1VTHbqReFwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char p384_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEGXcxI8UEblfu/Yvm4s7kvNfgjx0mYnAY\n"
    "zJNczRaeV6aet6ZEWR7DxqBq2vsdPyGcdDO+NX5W4NRjGO/iHfy9c7aMrlxRjMB3\n"
    "6kJU6JlKOvTtwiXMoImHxWZp5V9PWD8i\n"
    "-----END PUBLIC KEY-----\n";

static const char rsa_pkcs1_public_pem[] =
    "-----BEGIN RSA PUBLIC KEY-----\n"
    "MIIBCgKCAQEAqkLjop5YF6yILjQ7VGJ8KnDw12tA8wIAlE3oy6ESFozEh3Ll2rJl\n"
    "Tz+uRpxPkJ9eT3s3vbqUw+pjyGKcooTk0ODFGKaOlMRSwOfIJK+Rapi+e6B2AYLP\n"
    "ybTda+FHs7MwW2jOq6OCQMVbfCiP8v79AxIa5Fko9KxGNa1wHzqWBUlKqCkUOCpK\n"
    "lIUAceU6O7pcuJyaXPoUC2UQjhv9OPEf181FLi1RxA62tcsp+WAxpB6BWueN0i7o\n"
    "85F42dvVjTRoH2la4DAPNPrr4ii3OOmTPrP1IcBFOJUJJf5qxz12EKB1qW2BQKg3\n"
    "yhvSYX/c3m6W7m6RXObqC+Xqlu99QZ1SsQIDAQAB\n"
    "-----END RSA PUBLIC KEY-----\n";

static const char ed25519_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAI9IP2w6F63/zVoKUomhnxyfqOtGuVKmD9du1VAjDJXc=\n"
    "-----END PUBLIC KEY-----\n";

/* ---- token builders ------------------------------------------------------------------ */

static char *b64url(const char *s, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = xmalloc(len / 3 * 4 + 5);
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | (unsigned char)s[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = abc[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[n++] = abc[(acc << (6 - bits)) & 63];
	out[n] = '\0';
	return out;
}

/* header.payload (+ "." sig when sig is not NULL), all by hand; owned. */
static char *raw_token(const char *header, const char *payload, const char *sig)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	size_t n = strlen(h) + strlen(p) + (sig ? strlen(sig) : 0) + 3;
	char *t = xmalloc(n);
	snprintf(t, n, "%s.%s%s%s", h, p, sig ? "." : "", sig ? sig : "");
	free(h);
	free(p);
	return t;
}

/* Signed by libjwt; grants is a JSON object (jansson re-serialises it). Owned. */
static char *signed_token(jwt_alg_t alg, const char *key, size_t key_len, const char *grants)
{
	jwt_t *jwt = NULL;
	UNIT_REQUIRE(jwt_new(&jwt) == 0);
	UNIT_REQUIRE(jwt_add_grants_json(jwt, grants) == 0);
	UNIT_REQUIRE(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)key_len) == 0);
	char *t = jwt_encode_str(jwt);
	jwt_free(jwt);
	UNIT_REQUIRE(t != NULL);
	return t;
}

static char *hs(jwt_alg_t alg, const char *grants)
{
	return signed_token(alg, secret, strlen(secret), grants);
}

enum verifier_id { V_HS, V_HS_ISS_AUD, V_RS, V_ES, V_COUNT };

static struct auth_config config_for(enum verifier_id id)
{
	struct auth_config cfg = {
		.alg = AUTH_HS256,
		.key = secret,
		.key_len = strlen(secret),
		.leeway_s = 60,
		.max_lifetime_s = 86400,
		.max_token_len = 8192,
	};
	if (id == V_HS_ISS_AUD) {
		cfg.issuer = "chatstack";
		cfg.audience = "ai-memory";
	} else if (id == V_RS) {
		cfg.alg = AUTH_RS256;
		cfg.key = rsa_public_pem;
		cfg.key_len = strlen(rsa_public_pem);
	} else if (id == V_ES) {
		cfg.alg = AUTH_ES256;
		cfg.key = ec_public_pem;
		cfg.key_len = strlen(ec_public_pem);
	}
	return cfg;
}

static struct auth_verifier *verifier(enum verifier_id id)
{
	struct auth_config cfg = config_for(id);
	char err[256] = "";
	struct auth_verifier *v = auth_verifier_new(&cfg, err, sizeof(err));
	if (v == NULL)
		unit_fail(__FILE__, __LINE__, "verifier %d: %s", (int)id, err);
	UNIT_REQUIRE(v != NULL);
	return v;
}

/* ---- the forged-token table ---------------------------------------------------------- */

enum how {
	SIGN_HS,      /* libjwt, alg with the shared secret */
	SIGN_RS_PRIV, /* libjwt RS256 with the test RSA private key */
	SIGN_ES_PRIV, /* libjwt ES256 with the test EC private key */
	SIGN_RS_PUB,  /* libjwt HS256 keyed with the RSA public PEM text (alg confusion) */
	SIGN_ES_PUB,  /* libjwt HS256 keyed with the EC public PEM text */
	RAW,          /* header + payload by hand, signature text as given (NULL: no third part) */
	RAW_REALSIG,  /* header + payload by hand, signature of a valid HS256 token */
};

enum mutation {
	M_NONE,
	M_STRIP_SIG,    /* "h.p." */
	M_DROP_SIG,     /* "h.p" */
	M_FLIP_SIG,     /* one signature character changed */
	M_NONCANON_SIG, /* last character's unused bits set: same bytes, other spelling */
	M_PAD_SIG,      /* "==" appended */
	M_SWAP_PAYLOAD, /* payload of another validly signed token */
	M_EXTRA_PART,   /* ".AAAA" appended */
	M_SPACE,        /* a space in the payload */
	M_NUL,          /* a NUL byte inside the payload, counted in len */
};

struct forged {
	const char *name;
	enum verifier_id v;
	enum how how;
	jwt_alg_t alg;       /* SIGN_HS */
	const char *header;  /* RAW, RAW_REALSIG */
	const char *payload; /* JSON */
	const char *sig;     /* RAW */
	enum mutation mut;
	int want;
	unsigned scopes; /* checked when want is AUTH_OK */
};

#define GOOD "{\"customer_id\":7,\"scope\":\"memory:read\"," TIMES "}"
#define C(json) "{" json "," TIMES "}"
#define HS(name, payload, want)                                                                    \
	{                                                                                          \
		name, V_HS, SIGN_HS, JWT_ALG_HS256, NULL, payload, NULL, M_NONE, want, 0           \
	}
#define HSS(name, payload, scopes)                                                                 \
	{                                                                                          \
		name, V_HS, SIGN_HS, JWT_ALG_HS256, NULL, payload, NULL, M_NONE, AUTH_OK, scopes   \
	}
#define ISS(name, payload, want)                                                                   \
	{                                                                                          \
		name, V_HS_ISS_AUD, SIGN_HS, JWT_ALG_HS256, NULL, payload, NULL, M_NONE, want, 0   \
	}
#define MUT(name, mut, want)                                                                       \
	{                                                                                          \
		name, V_HS, SIGN_HS, JWT_ALG_HS256, NULL, GOOD, NULL, mut, want, 0                 \
	}
#define NONE(name, hdr, sig, want)                                                                 \
	{                                                                                          \
		name, V_HS, RAW, 0, hdr, GOOD, sig, M_NONE, want, 0                                \
	}
#define RAWH(name, hdr, want)                                                                      \
	{                                                                                          \
		name, V_HS, RAW_REALSIG, 0, hdr, GOOD, NULL, M_NONE, want, 0                       \
	}
#define RAWP(name, payload, want)                                                                  \
	{                                                                                          \
		name, V_HS, RAW_REALSIG, 0, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, NULL,  \
		    M_NONE, want, 0                                                                \
	}
#define ASYM(name, v, how, mut, want)                                                              \
	{                                                                                          \
		name, v, how, 0, NULL, GOOD, NULL, mut, want, 0                                    \
	}

static const struct forged forged[] = {
	HSS("valid HS256", GOOD, AUTH_SCOPE_READ),
	/* alg none in every spelling, with and without a signature part */
	NONE("none.", "{\"alg\":\"none\"}", "", AUTH_BAD_ALG),
	NONE("None.", "{\"alg\":\"None\"}", "", AUTH_BAD_ALG),
	NONE("NONE.", "{\"alg\":\"NONE\"}", "", AUTH_BAD_ALG),
	NONE("nOnE.", "{\"alg\":\"nOnE\"}", "", AUTH_BAD_ALG),
	NONE("none, typ JWT.", "{\"alg\":\"none\",\"typ\":\"JWT\"}", "", AUTH_BAD_ALG),
	NONE("none no dot", "{\"alg\":\"none\"}", NULL, AUTH_MALFORMED),
	NONE("None no dot", "{\"alg\":\"None\"}", NULL, AUTH_MALFORMED),
	NONE("NONE no dot", "{\"alg\":\"NONE\"}", NULL, AUTH_MALFORMED),
	NONE("nOnE no dot", "{\"alg\":\"nOnE\"}", NULL, AUTH_MALFORMED),
	RAWH("none with a real signature", "{\"alg\":\"none\"}", AUTH_BAD_ALG),
	RAWH("None with a real signature", "{\"alg\":\"None\"}", AUTH_BAD_ALG),
	/* other HS sizes signed with the right secret (libjwt alone accepts these) */
	{ "HS384 right secret", V_HS, SIGN_HS, JWT_ALG_HS384, NULL, GOOD, NULL, M_NONE,
	  AUTH_BAD_ALG, 0 },
	{ "HS512 right secret", V_HS, SIGN_HS, JWT_ALG_HS512, NULL, GOOD, NULL, M_NONE,
	  AUTH_BAD_ALG, 0 },
	/* header games */
	RAWH("alg hs256 lower case", "{\"alg\":\"hs256\"}", AUTH_BAD_ALG),
	RAWH("alg HS256 + \\u0000 suffix", "{\"alg\":\"HS256\\u0000x\"}", AUTH_MALFORMED),
	RAWH("alg HS256 with space", "{\"alg\":\"HS256 \"}", AUTH_BAD_ALG),
	RAWH("alg RS256 on HS verifier", "{\"alg\":\"RS256\"}", AUTH_BAD_ALG),
	RAWH("alg missing", "{\"typ\":\"JWT\"}", AUTH_BAD_ALG),
	RAWH("alg not a string", "{\"alg\":256}", AUTH_BAD_ALG),
	RAWH("duplicate alg", "{\"alg\":\"HS256\",\"alg\":\"none\"}", AUTH_MALFORMED),
	RAWH("crit header", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", AUTH_MALFORMED),
	RAWH("header not JSON", "{\"alg\":\"HS256\"", AUTH_MALFORMED),
	RAWH("header an array", "[\"HS256\"]", AUTH_MALFORMED),
	RAWH("header valid alg, resigned never", "{\"alg\":\"HS256\"}", AUTH_BAD_SIGNATURE),
	/* signature surgery */
	MUT("stripped signature h.p.", M_STRIP_SIG, AUTH_BAD_SIGNATURE),
	MUT("dropped signature h.p", M_DROP_SIG, AUTH_MALFORMED),
	MUT("flipped signature byte", M_FLIP_SIG, AUTH_BAD_SIGNATURE),
	MUT("non-canonical signature", M_NONCANON_SIG, AUTH_MALFORMED),
	MUT("padded signature", M_PAD_SIG, AUTH_MALFORMED),
	MUT("payload changed after signing", M_SWAP_PAYLOAD, AUTH_BAD_SIGNATURE),
	MUT("four parts", M_EXTRA_PART, AUTH_MALFORMED),
	MUT("space inside", M_SPACE, AUTH_MALFORMED),
	MUT("NUL inside (len counts it)", M_NUL, AUTH_MALFORMED),
	/* exp and leeway (60 s) */
	HS("expired beyond leeway", "{\"customer_id\":7,\"iat\":1699990000,\"exp\":1699999939}",
	   AUTH_EXPIRED),
	HS("expired exactly at leeway", "{\"customer_id\":7,\"iat\":1699990000,\"exp\":1699999940}",
	   AUTH_EXPIRED),
	HS("expired within leeway", "{\"customer_id\":7,\"iat\":1699990000,\"exp\":1699999941}",
	   AUTH_OK),
	HS("exp 0", "{\"customer_id\":7,\"exp\":0}", AUTH_EXPIRED),
	/* nbf and iat in the future */
	HS("nbf beyond leeway", C("\"customer_id\":7,\"nbf\":1700000061"), AUTH_NOT_YET_VALID),
	HS("nbf within leeway", C("\"customer_id\":7,\"nbf\":1700000060"), AUTH_OK),
	HS("iat beyond leeway", "{\"customer_id\":7,\"iat\":1700000061,\"exp\":1700003600}",
	   AUTH_NOT_YET_VALID),
	HS("iat within leeway", "{\"customer_id\":7,\"iat\":1700000060,\"exp\":1700003600}",
	   AUTH_OK),
	HS("nbf a string", C("\"customer_id\":7,\"nbf\":\"1\""), AUTH_BAD_CLAIMS),
	HS("nbf null", C("\"customer_id\":7,\"nbf\":null"), AUTH_BAD_CLAIMS),
	HS("iat a string", "{\"customer_id\":7,\"iat\":\"1699999990\",\"exp\":1700003600}",
	   AUTH_BAD_CLAIMS),
	/* customer_id */
	HS("customer_id \"7\"", C("\"customer_id\":\"7\""), AUTH_BAD_CLAIMS),
	HS("customer_id 7.0", C("\"customer_id\":7.0"), AUTH_BAD_CLAIMS),
	HS("customer_id -1", C("\"customer_id\":-1"), AUTH_BAD_CLAIMS),
	HS("customer_id 0", C("\"customer_id\":0"), AUTH_BAD_CLAIMS),
	HS("customer_id 2147483648", C("\"customer_id\":2147483648"), AUTH_BAD_CLAIMS),
	HS("customer_id 2147483647", C("\"customer_id\":2147483647"), AUTH_OK),
	HS("customer_id 1", C("\"customer_id\":1"), AUTH_OK),
	HS("customer_id 1e30", C("\"customer_id\":1e30"), AUTH_BAD_CLAIMS),
	HS("customer_id true", C("\"customer_id\":true"), AUTH_BAD_CLAIMS),
	HS("customer_id null", C("\"customer_id\":null"), AUTH_BAD_CLAIMS),
	HS("customer_id [7]", C("\"customer_id\":[7]"), AUTH_BAD_CLAIMS),
	HS("customer_id missing", C("\"sub\":\"7\""), AUTH_BAD_CLAIMS),
	HS("customer_id LLONG_MAX", C("\"customer_id\":9223372036854775807"), AUTH_BAD_CLAIMS),
	RAWP("customer_id beyond 64 bits", C("\"customer_id\":99999999999999999999"),
	     AUTH_MALFORMED),
	RAWP("customer_id twice", C("\"customer_id\":7,\"customer_id\":8"), AUTH_MALFORMED),
	RAWP("payload an array", "[7]", AUTH_MALFORMED),
	RAWP("payload not JSON", "{\"customer_id\":7", AUTH_MALFORMED),
	/* exp */
	HS("exp missing", "{\"customer_id\":7,\"iat\":1699999990}", AUTH_BAD_CLAIMS),
	HS("exp a string", "{\"customer_id\":7,\"exp\":\"1700003600\"}", AUTH_BAD_CLAIMS),
	HS("exp true", "{\"customer_id\":7,\"exp\":true}", AUTH_BAD_CLAIMS),
	HS("exp -1", "{\"customer_id\":7,\"exp\":-1}", AUTH_BAD_CLAIMS),
	HS("exp 1e300", "{\"customer_id\":7,\"exp\":1e300}", AUTH_BAD_CLAIMS),
	HS("exp LLONG_MAX", "{\"customer_id\":7,\"exp\":9223372036854775807}", AUTH_BAD_CLAIMS),
	HS("exp a real (RFC 7519 allows)", "{\"customer_id\":7,\"exp\":1700003600.9}", AUTH_OK),
	HS("exp real within leeway by 0.5s", "{\"customer_id\":7,\"exp\":1699999940.5}",
	   AUTH_EXPIRED),
	HS("exp before iat", "{\"customer_id\":7,\"iat\":1699999990,\"exp\":1699999980}",
	   AUTH_BAD_CLAIMS),
	/* lifetime (86400 s) */
	HS("lifetime too long", "{\"customer_id\":7,\"iat\":1700000000,\"exp\":1700086401}",
	   AUTH_BAD_CLAIMS),
	HS("lifetime exactly max", "{\"customer_id\":7,\"iat\":1700000000,\"exp\":1700086400}",
	   AUTH_OK),
	HS("no iat, exp too far", "{\"customer_id\":7,\"exp\":1700086461}", AUTH_BAD_CLAIMS),
	HS("no iat, exp max + leeway", "{\"customer_id\":7,\"exp\":1700086460}", AUTH_OK),
	HS("old iat, long lifetime", "{\"customer_id\":7,\"iat\":1600000000,\"exp\":1700003600}",
	   AUTH_BAD_CLAIMS),
	/* iss / aud (issuer chatstack, audience ai-memory) */
	ISS("iss and aud match", C("\"customer_id\":7,\"iss\":\"chatstack\",\"aud\":\"ai-memory\""),
	    AUTH_OK),
	ISS("aud array match",
	    C("\"customer_id\":7,\"iss\":\"chatstack\",\"aud\":[\"x\",\"ai-memory\"]"), AUTH_OK),
	ISS("iss mismatch", C("\"customer_id\":7,\"iss\":\"evil\",\"aud\":\"ai-memory\""),
	    AUTH_BAD_CLAIMS),
	ISS("iss prefix", C("\"customer_id\":7,\"iss\":\"chatstack2\",\"aud\":\"ai-memory\""),
	    AUTH_BAD_CLAIMS),
	ISS("iss missing", C("\"customer_id\":7,\"aud\":\"ai-memory\""), AUTH_BAD_CLAIMS),
	ISS("iss not a string",
	    C("\"customer_id\":7,\"iss\":[\"chatstack\"],\"aud\":\"ai-memory\""), AUTH_BAD_CLAIMS),
	ISS("aud mismatch", C("\"customer_id\":7,\"iss\":\"chatstack\",\"aud\":\"ai-memory-x\""),
	    AUTH_BAD_CLAIMS),
	ISS("aud array without", C("\"customer_id\":7,\"iss\":\"chatstack\",\"aud\":[\"x\",\"y\"]"),
	    AUTH_BAD_CLAIMS),
	ISS("aud array non-string",
	    C("\"customer_id\":7,\"iss\":\"chatstack\",\"aud\":[1,\"ai-memory\"]"),
	    AUTH_BAD_CLAIMS),
	ISS("aud empty array", C("\"customer_id\":7,\"iss\":\"chatstack\",\"aud\":[]"),
	    AUTH_BAD_CLAIMS),
	ISS("aud missing", C("\"customer_id\":7,\"iss\":\"chatstack\""), AUTH_BAD_CLAIMS),
	HS("iss/aud ignored when not configured", C("\"customer_id\":7,\"iss\":\"evil\",\"aud\":5"),
	   AUTH_OK),
	/* scope */
	HSS("scope memory:read", C("\"customer_id\":7,\"scope\":\"memory:read\""), AUTH_SCOPE_READ),
	HSS("scope memory:write", C("\"customer_id\":7,\"scope\":\"memory:write\""),
	    AUTH_SCOPE_WRITE),
	HSS("scope memory:read:write", C("\"customer_id\":7,\"scope\":\"memory:read:write\""),
	    AUTH_SCOPE_READ | AUTH_SCOPE_WRITE),
	HSS("scope both separately",
	    C("\"customer_id\":7,\"scope\":\"openid memory:write memory:read\""),
	    AUTH_SCOPE_READ | AUTH_SCOPE_WRITE),
	HSS("scope extra spaces", C("\"customer_id\":7,\"scope\":\"  memory:write  \""),
	    AUTH_SCOPE_WRITE),
	HSS("scope none", C("\"customer_id\":7"), 0),
	HSS("scope empty", C("\"customer_id\":7,\"scope\":\"\""), 0),
	HSS("scope garbage", C("\"customer_id\":7,\"scope\":\"admin memory:readx memory memory:\""),
	    0),
	HSS("scope wrong case", C("\"customer_id\":7,\"scope\":\"MEMORY:READ\""), 0),
	HSS("scope comma-separated", C("\"customer_id\":7,\"scope\":\"memory:read,memory:write\""),
	    0),
	RAWP("claim string with \\u0000", C("\"customer_id\":7,\"scope\":\"memory:read\\u0000 x\""),
	     AUTH_MALFORMED),
	HS("scope a number", C("\"customer_id\":7,\"scope\":5"), AUTH_BAD_CLAIMS),
	HS("scope an array", C("\"customer_id\":7,\"scope\":[\"memory:read\"]"), AUTH_BAD_CLAIMS),
	/* asymmetric keys and alg confusion */
	ASYM("valid RS256", V_RS, SIGN_RS_PRIV, M_NONE, AUTH_OK),
	ASYM("RS256 flipped signature", V_RS, SIGN_RS_PRIV, M_FLIP_SIG, AUTH_BAD_SIGNATURE),
	ASYM("RS256 payload changed", V_RS, SIGN_RS_PRIV, M_SWAP_PAYLOAD, AUTH_BAD_SIGNATURE),
	ASYM("RS256 stripped signature", V_RS, SIGN_RS_PRIV, M_STRIP_SIG, AUTH_BAD_SIGNATURE),
	ASYM("HS256 keyed with RSA public PEM", V_RS, SIGN_RS_PUB, M_NONE, AUTH_BAD_ALG),
	ASYM("HS256 shared secret on RS256", V_RS, SIGN_HS, M_NONE, AUTH_BAD_ALG),
	ASYM("RS256 token on HS256 verifier", V_HS, SIGN_RS_PRIV, M_NONE, AUTH_BAD_ALG),
	ASYM("ES256 token on RS256 verifier", V_RS, SIGN_ES_PRIV, M_NONE, AUTH_BAD_ALG),
	ASYM("valid ES256", V_ES, SIGN_ES_PRIV, M_NONE, AUTH_OK),
	ASYM("ES256 flipped signature", V_ES, SIGN_ES_PRIV, M_FLIP_SIG, AUTH_BAD_SIGNATURE),
	ASYM("ES256 payload changed", V_ES, SIGN_ES_PRIV, M_SWAP_PAYLOAD, AUTH_BAD_SIGNATURE),
	ASYM("HS256 keyed with EC public PEM", V_ES, SIGN_ES_PUB, M_NONE, AUTH_BAD_ALG),
	ASYM("RS256 token on ES256 verifier", V_ES, SIGN_RS_PRIV, M_NONE, AUTH_BAD_ALG),
	{ "RS256 header, HMAC signature", V_RS, RAW_REALSIG, 0,
	  "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", GOOD, NULL, M_NONE, AUTH_BAD_SIGNATURE, 0 },
	{ "none on RS256 verifier", V_RS, RAW, 0, "{\"alg\":\"none\"}", GOOD, "", M_NONE,
	  AUTH_BAD_ALG, 0 },
	{ "none on ES256 verifier", V_ES, RAW, 0, "{\"alg\":\"none\"}", GOOD, "", M_NONE,
	  AUTH_BAD_ALG, 0 },
};

/* The signature part of a valid HS256 token (owned): right key, wrong bytes. */
static char *real_signature(void)
{
	char *t = hs(JWT_ALG_HS256, GOOD);
	char *sig = xstrdup(strrchr(t, '.') + 1);
	free(t);
	return sig;
}

static char *build_signed(const struct forged *f)
{
	switch (f->how) {
	case SIGN_HS:
		return hs(f->alg ? f->alg : JWT_ALG_HS256, f->payload);
	case SIGN_RS_PRIV:
		return signed_token(JWT_ALG_RS256, rsa_private_pem, strlen(rsa_private_pem),
		                    f->payload);
	case SIGN_ES_PRIV:
		return signed_token(JWT_ALG_ES256, ec_private_pem, strlen(ec_private_pem),
		                    f->payload);
	case SIGN_RS_PUB:
		return signed_token(JWT_ALG_HS256, rsa_public_pem, strlen(rsa_public_pem),
		                    f->payload);
	case SIGN_ES_PUB:
		return signed_token(JWT_ALG_HS256, ec_public_pem, strlen(ec_public_pem),
		                    f->payload);
	case RAW:
		return raw_token(f->header, f->payload, f->sig);
	case RAW_REALSIG: {
		char *sig = real_signature();
		char *t = raw_token(f->header, f->payload, sig);
		free(sig);
		return t;
	}
	}
	return NULL;
}

/* Applies f->mut to tok (owned, consumed); returns the new token and its length. */
static char *mutate(const struct forged *f, char *tok, size_t *len)
{
	size_t n = strlen(tok);
	char *dot2 = strrchr(tok, '.'), *dot1 = strchr(tok, '.');
	char *out = xmalloc(n + 64);
	memcpy(out, tok, n + 1);
	char *sig = out + (dot2 - tok) + 1;
	size_t sig_len = strlen(sig);
	switch (f->mut) {
	case M_NONE:
		break;
	case M_STRIP_SIG:
		*sig = '\0';
		break;
	case M_DROP_SIG:
		sig[-1] = '\0';
		break;
	case M_FLIP_SIG:
		sig[sig_len / 2] = sig[sig_len / 2] == 'A' ? 'B' : 'A';
		break;
	case M_NONCANON_SIG:
		sig[sig_len - 1] = (char)(sig[sig_len - 1] + 1); /* 'A'..'Y' only: see the check */
		break;
	case M_PAD_SIG:
		memcpy(sig + sig_len, "==", 3);
		break;
	case M_SWAP_PAYLOAD: {
		char *other =
		    hs(JWT_ALG_HS256, "{\"customer_id\":8,\"scope\":\"memory:read\"," TIMES "}");
		char *op = strchr(other, '.') + 1;
		size_t op_len = (size_t)(strrchr(other, '.') - op);
		size_t head = (size_t)(dot1 - tok) + 1;
		snprintf(out + head, n + 64 - head, "%.*s%s", (int)op_len, op, dot2);
		free(other);
		break;
	}
	case M_EXTRA_PART:
		memcpy(out + n, ".AAAA", 6);
		break;
	case M_SPACE:
		out[(dot1 - tok) + 3] = ' ';
		break;
	case M_NUL:
		out[(dot1 - tok) + 3] = '\0';
		*len = n;
		free(tok);
		return out;
	}
	*len = strlen(out);
	free(tok);
	return out;
}

UNIT_TEST(auth_forged_token_table)
{
	struct auth_verifier *v[V_COUNT];
	for (int i = 0; i < V_COUNT; i++)
		v[i] = verifier((enum verifier_id)i);
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		const struct forged *f = &forged[i];
		size_t len = 0;
		char *tok = mutate(f, build_signed(f), &len);
		if (f->mut == M_NONCANON_SIG) /* this surgery relies on the last char's value */
			CHECK(strchr("AEIMQUYcgkosw048", tok[len - 1] - 1) != NULL);
		struct auth_claims c;
		char err[256] = "";
		int rc = auth_verify(v[f->v], tok, len, NOW, &c, err, sizeof(err));
		if (rc != f->want)
			unit_fail(__FILE__, __LINE__, "%s: got %s (%s), want %s", f->name,
			          auth_status_name(rc), err, auth_status_name(f->want));
		else if (rc == AUTH_OK && f->how == SIGN_HS && c.scopes != f->scopes)
			unit_fail(__FILE__, __LINE__, "%s: scopes %u, want %u", f->name, c.scopes,
			          f->scopes);
		if (rc != AUTH_OK && err[0] == '\0')
			unit_fail(__FILE__, __LINE__, "%s: no error text", f->name);
		if (rc != AUTH_OK) {
			CHECK_INT(c.customer_id, 0); /* nothing leaks out of a refused token */
			const char *sig = strrchr(tok, '.');
			if (sig != NULL && strlen(sig) > 8)
				CHECK(strstr(err, sig + 1) == NULL);
			CHECK(strstr(err, secret) == NULL);
		}
		free(tok);
	}
	for (int i = 0; i < V_COUNT; i++)
		auth_verifier_free(&v[i]);
}

UNIT_TEST(auth_valid_token_fills_claims)
{
	struct auth_verifier *v = verifier(V_HS);
	char sub[300];
	memset(sub, 'u', sizeof(sub));
	memcpy(sub + 127, "\xc3\xa9", 2); /* an "é" straddling the 128-byte cut */
	char grants[600];
	snprintf(grants, sizeof(grants),
	         "{\"customer_id\":42,\"scope\":\"memory:read:write\",\"sub\":\"%.200s\"," TIMES
	         "}",
	         sub);
	char *tok = hs(JWT_ALG_HS256, grants);
	/* (ptr, len): the bytes after len are not NUL and must not be read as token */
	size_t len = strlen(tok);
	char *padded = xmalloc(len + 8);
	memcpy(padded, tok, len);
	memcpy(padded + len, "garbage!", 8);
	struct auth_claims c;
	char err[256] = "";
	CHECK_INT(auth_verify(v, padded, len, NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_STR(err, "");
	CHECK_INT(c.customer_id, 42);
	CHECK_INT(c.exp, 1700003600);
	CHECK_INT(c.iat, 1699999990);
	CHECK_INT(c.scopes, AUTH_SCOPE_READ | AUTH_SCOPE_WRITE);
	CHECK_INT(strlen(c.sub), 127); /* cut before the two-byte character, not through it */
	CHECK(auth_has_scope(&c, AUTH_SCOPE_READ));
	CHECK(auth_has_scope(&c, AUTH_SCOPE_READ | AUTH_SCOPE_WRITE));
	CHECK(!auth_has_scope(&c, 0));
	CHECK(!auth_has_scope(NULL, AUTH_SCOPE_READ));
	free(padded);
	free(tok);

	tok = hs(JWT_ALG_HS256, "{\"customer_id\":9,\"sub\":12,\"exp\":1700000100}");
	CHECK_INT(auth_verify(v, tok, strlen(tok), NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_STR(c.sub, "");
	CHECK_INT(c.iat, 0);
	CHECK_INT(c.scopes, 0);
	CHECK(!auth_has_scope(&c, AUTH_SCOPE_READ));
	free(tok);

	tok = hs(JWT_ALG_HS256, "{\"customer_id\":9,\"iat\":1699999990.2,\"exp\":1700000100.7}");
	CHECK_INT(auth_verify(v, tok, strlen(tok), NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_INT(c.exp, 1700000100); /* rounded down */
	CHECK_INT(c.iat, 1699999991); /* rounded up */
	free(tok);
	auth_verifier_free(&v);
	CHECK(v == NULL);
	auth_verifier_free(&v);
	auth_verifier_free(NULL);
}

/* Reasons name the problem without quoting the token; uncommon headers get the full parse. */
UNIT_TEST(auth_error_texts_and_full_header_parse)
{
	struct auth_verifier *v = verifier(V_HS);
	static const struct {
		const char *header, *payload, *why;
	} cases[] = {
		{ "{\"alg\":\"HS256\"}", C("\"customer_id\":7,\"customer_id\":8"),
		  "token payload has a duplicate key" },
		{ "{\"alg\":\"HS256\"}", C("\"customer_id\":99999999999999999999"),
		  "token payload has a number too large" },
		{ "{\"alg\":\"HS256\"}", "{\"customer_id\":\"\\u0000\"}",
		  "token payload has a \\u0000" },
		{ "{\"alg\":\"HS256\"}", "{\"customer_id\":\"\xff\"}",
		  "token payload is not UTF-8" },
		{ "{\"alg\":\"HS256\"}", "[7]", "token payload is not a JSON object" },
		{ "{\"alg\":\"HS256\"}", "{7}", "token payload is not JSON" },
		{ "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", GOOD,
		  "token header has a duplicate key" },
		{ "{\"alg\":\"HS256\"} x", GOOD, "token header is not JSON" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *tok = raw_token(cases[i].header, cases[i].payload, "c2ln");
		struct auth_claims c;
		char err[256] = "";
		CHECK_INT(auth_verify(v, tok, strlen(tok), NOW, &c, err, sizeof(err)),
		          AUTH_MALFORMED);
		CHECK_STR(err, cases[i].why);
		free(tok);
	}
	/* a valid token whose header is not the common one: kid, other key order */
	jwt_t *jwt = NULL;
	UNIT_REQUIRE(jwt_new(&jwt) == 0);
	UNIT_REQUIRE(jwt_add_grants_json(jwt, GOOD) == 0);
	UNIT_REQUIRE(jwt_add_header(jwt, "kid", "key-2024") == 0);
	UNIT_REQUIRE(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret,
	                         (int)strlen(secret)) == 0);
	char *tok = jwt_encode_str(jwt);
	jwt_free(jwt);
	UNIT_REQUIRE(tok != NULL);
	CHECK(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) != 0);
	struct auth_claims c;
	char err[256] = "";
	CHECK_INT(auth_verify(v, tok, strlen(tok), NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_INT(c.customer_id, 7);
	free(tok);
	auth_verifier_free(&v);
}

UNIT_TEST(auth_length_cap_comes_first)
{
	struct auth_verifier *v = verifier(V_HS);
	struct auth_claims c;
	char err[256];
	size_t big = 16u << 20;
	char *huge = xmalloc(big + 8);
	memcpy(huge, "Bearer ", 7);
	/* a plausible shape: a real header, then 16 MB of payload, then a signature */
	char *tok = hs(JWT_ALG_HS256, GOOD);
	memset(huge + 7, 'A', big);
	memcpy(huge + 7, tok, strchr(tok, '.') - tok + 1);
	huge[7 + big - 44] = '.';
	huge[7 + big] = '\0';
	CHECK_INT(auth_verify(v, huge + 7, big, NOW, &c, err, sizeof(err)), AUTH_TOO_LONG);
	CHECK_CONTAINS(err, "limit 8192");
	CHECK_INT(auth_verify_header(v, huge, NOW, &c, err, sizeof(err)), AUTH_TOO_LONG);
	/* one byte over the cap, one byte under */
	CHECK_INT(auth_verify(v, huge + 7, 8193, NOW, &c, err, sizeof(err)), AUTH_TOO_LONG);
	CHECK_INT(auth_verify(v, huge + 7, 8192, NOW, &c, err, sizeof(err)), AUTH_MALFORMED);
	huge[7 + 8193] = '\0';
	CHECK_INT(auth_verify_header(v, huge, NOW, &c, err, sizeof(err)), AUTH_TOO_LONG);
	huge[7 + 8192] = '\0';
	CHECK_INT(auth_verify_header(v, huge, NOW, &c, err, sizeof(err)), AUTH_MALFORMED);
	CHECK_INT(auth_verify(v, tok, 0, NOW, &c, err, sizeof(err)), AUTH_MISSING);
	CHECK_INT(auth_verify(v, NULL, 5, NOW, &c, err, sizeof(err)), AUTH_MISSING);
	free(tok);
	free(huge);
	auth_verifier_free(&v);
}

UNIT_TEST(auth_header_parsing)
{
	struct auth_verifier *v = verifier(V_HS);
	char *tok = hs(JWT_ALG_HS256, GOOD);
	static const struct {
		const char *before; /* then the valid token when with_token */
		bool with_token;
		const char *after;
		int want;
	} cases[] = {
		{ "Bearer ", true, "", AUTH_OK },
		{ "bearer ", true, "", AUTH_OK },
		{ "BEARER ", true, "", AUTH_OK },
		{ "Bearer  ", true, "", AUTH_OK },         /* RFC 6750: 1*SP */
		{ "Bearer ", true, " \t", AUTH_OK },       /* trailing OWS */
		{ "Bearer x", false, "", AUTH_MALFORMED }, /* not a JWT */
		{ "bearer x", false, "", AUTH_MALFORMED },
		{ "Basic x", false, "", AUTH_MALFORMED },
		{ "Basic ", true, "", AUTH_MALFORMED },
		{ "Bearer", false, "", AUTH_MALFORMED },
		{ "Bearer ", false, "", AUTH_MALFORMED },
		{ "Bearer    ", false, "", AUTH_MALFORMED },
		{ "Bearer  x y", false, "", AUTH_MALFORMED },
		{ "Bearer ", true, " x", AUTH_MALFORMED },
		{ "Bearer ", true, ",", AUTH_MALFORMED },
		{ "Bearer\t", true, "", AUTH_MALFORMED },
		{ "Bearer:", true, "", AUTH_MALFORMED },
		{ "Bearerx ", true, "", AUTH_MALFORMED },
		{ " Bearer ", true, "", AUTH_MALFORMED },
		{ "Token ", true, "", AUTH_MALFORMED },
		{ "", false, "", AUTH_MISSING },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char h[1024];
		snprintf(h, sizeof(h), "%s%s%s", cases[i].before, cases[i].with_token ? tok : "",
		         cases[i].after);
		struct auth_claims c;
		char err[256] = "";
		int rc = auth_verify_header(v, h, NOW, &c, err, sizeof(err));
		if (rc != cases[i].want)
			unit_fail(__FILE__, __LINE__, "case %zu \"%s\": got %s (%s), want %s", i,
			          cases[i].before, auth_status_name(rc), err,
			          auth_status_name(cases[i].want));
		if (rc == AUTH_OK)
			CHECK_INT(c.customer_id, 7);
	}
	struct auth_claims c;
	char err[256];
	CHECK_INT(auth_verify_header(v, NULL, NOW, &c, err, sizeof(err)), AUTH_MISSING);
	CHECK_CONTAINS(err, "no Authorization");
	free(tok);
	auth_verifier_free(&v);
}

/* Builds a config with one field changed and expects auth_verifier_new to refuse it. */
static void expect_refused(const struct auth_config *cfg, const char *why, int line)
{
	char err[256] = "";
	struct auth_verifier *v = auth_verifier_new(cfg, err, sizeof(err));
	if (v != NULL)
		unit_fail(__FILE__, line, "accepted, expected refusal with \"%s\"", why);
	else if (strstr(err, why) == NULL)
		unit_fail(__FILE__, line, "err \"%s\" lacks \"%s\"", err, why);
	if (cfg->key != NULL && cfg->key_len >= 8 && strstr(err, cfg->key) != NULL)
		unit_fail(__FILE__, line, "err contains the key");
	auth_verifier_free(&v);
}

#define REFUSED(cfg, why) expect_refused(&(cfg), why, __LINE__)

UNIT_TEST(auth_verifier_refuses_bad_config)
{
	struct auth_config c = config_for(V_HS);
	c.key_len = 0;
	REFUSED(c, "HS256 key is empty");
	c = config_for(V_HS);
	c.key = NULL;
	REFUSED(c, "key is empty");
	c.key = "0123456789012345678901234567890"; /* 31 bytes */
	c.key_len = 31;
	REFUSED(c, "HS256 secret is 31 bytes; at least 32 needed");
	c.key = "";
	c.key_len = 0;
	REFUSED(c, "empty");
	c = config_for(V_HS);
	c.leeway_s = -1;
	REFUSED(c, "leeway");
	c.leeway_s = AUTH_LEEWAY_MAX + 1;
	REFUSED(c, "leeway");
	c = config_for(V_HS);
	c.max_lifetime_s = 0;
	REFUSED(c, "max lifetime");
	c.max_lifetime_s = AUTH_LIFETIME_MAX + 1;
	REFUSED(c, "max lifetime");
	c = config_for(V_HS);
	c.max_token_len = 0;
	REFUSED(c, "max token length");
	c.max_token_len = 16u << 20;
	REFUSED(c, "max token length");
	c = config_for(V_HS);
	c.issuer = "";
	REFUSED(c, "issuer is empty");
	c = config_for(V_HS);
	c.audience = "";
	REFUSED(c, "audience is empty");
	c = config_for(V_HS);
	c.alg = (enum auth_alg)7;
	REFUSED(c, "unknown algorithm");
	CHECK(auth_verifier_new(NULL, NULL, 0) == NULL);

	static const struct {
		enum auth_alg alg;
		const char *pem;
		const char *why;
	} pems[] = {
		{ AUTH_RS256, ec_public_pem, "RS256 needs an RSA public key" },
		{ AUTH_RS256, ed25519_public_pem, "RS256 needs an RSA public key" },
		{ AUTH_ES256, rsa_public_pem, "ES256 needs an EC public key" },
		{ AUTH_ES256, p384_public_pem, "curve P-256" },
		{ AUTH_RS256, rsa1024_public_pem, "RSA key has 1024 bits" },
		{ AUTH_RS256, rsa_private_pem, "a private key" },
		{ AUTH_ES256, ec_private_pem, "a private key" },
		{ AUTH_RS256, rsa_pkcs1_public_pem, "PKCS#1" },
		{ AUTH_RS256, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		  "a certificate" },
		{ AUTH_RS256, "not a key at all", "not PEM" },
		{ AUTH_RS256, "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n",
		  "no -----END PUBLIC KEY----- line" },
		{ AUTH_RS256, "-----BEGIN PUBLIC KEY-----\nMIIB*IjAN\n-----END PUBLIC KEY-----\n",
		  "not base64" },
		{ AUTH_RS256,
		  "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n"
		  "-----END PUBLIC KEY-----\n",
		  "not a valid DER" },
		{ AUTH_ES256, "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
		  "not base64" },
	};
	for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]); i++) {
		c = config_for(V_HS);
		c.alg = pems[i].alg;
		c.key = pems[i].pem;
		c.key_len = strlen(pems[i].pem);
		REFUSED(c, pems[i].why);
	}
	/* a truncated real key: DER lengths no longer add up */
	char cut[512];
	size_t n = strlen(rsa_public_pem);
	memcpy(cut, rsa_public_pem, n + 1);
	char *end = strstr(cut, "-----END");
	memmove(end - 9, end, strlen(end) + 1); /* drop the last 8 base64 chars and a newline */
	c = config_for(V_RS);
	c.key = cut;
	c.key_len = strlen(cut);
	REFUSED(c, "RS256 key");
}

UNIT_TEST(auth_verifier_accepts_good_keys)
{
	for (int i = 0; i < V_COUNT; i++) {
		struct auth_verifier *v = verifier((enum verifier_id)i);
		auth_verifier_free(&v);
	}
	/* a PEM with text before it, CRLF line ends, no trailing newline, no NUL at key_len */
	char pem[1024];
	size_t n = 0;
	n += (size_t)snprintf(pem, sizeof(pem), "subject=test key\r\n");
	for (const char *s = ec_public_pem; *s; s++) {
		if (*s == '\n')
			pem[n++] = '\r';
		pem[n++] = *s;
	}
	n -= 2;
	memcpy(pem + n, "JUNK", 4);
	struct auth_config c = config_for(V_ES);
	c.key = pem;
	c.key_len = n;
	char err[256] = "";
	struct auth_verifier *v = auth_verifier_new(&c, err, sizeof(err));
	UNIT_REQUIRE(v != NULL);
	CHECK_STR(err, "");
	char *es = signed_token(JWT_ALG_ES256, ec_private_pem, strlen(ec_private_pem), GOOD);
	struct auth_claims claims;
	CHECK_INT(auth_verify(v, es, strlen(es), NOW, &claims, err, sizeof(err)), AUTH_OK);
	free(es);
	auth_verifier_free(&v);
	/* a secret with a NUL byte inside is used byte for byte */
	static const char nul_secret[40] = "0123456789\0abcdefghijklmnopqrstuvwxyz01";
	c = config_for(V_HS);
	c.key = nul_secret;
	c.key_len = sizeof(nul_secret);
	v = auth_verifier_new(&c, err, sizeof(err));
	CHECK(v != NULL);
	char *tok = auth_mint_hs256(nul_secret, sizeof(nul_secret), 5, NULL, NOW, NOW + 60, err,
	                            sizeof(err));
	/* signed with the first 32 bytes only: must not verify against all 40 */
	char *tok_prefix =
	    auth_mint_hs256(nul_secret, 32, 5, NULL, NOW, NOW + 60, err, sizeof(err));
	CHECK_INT(auth_verify(v, tok, strlen(tok), NOW, &claims, err, sizeof(err)), AUTH_OK);
	CHECK_INT(auth_verify(v, tok_prefix, strlen(tok_prefix), NOW, &claims, err, sizeof(err)),
	          AUTH_BAD_SIGNATURE);
	free(tok);
	free(tok_prefix);
	auth_verifier_free(&v);
}

UNIT_TEST(auth_mint_round_trip)
{
	char err[256] = "";
	char *tok = auth_mint_hs256(secret, strlen(secret), 42, "memory:read:write", NOW - 5,
	                            NOW + 600, err, sizeof(err));
	UNIT_REQUIRE(tok != NULL);
	struct auth_verifier *v = verifier(V_HS);
	struct auth_claims c;
	CHECK_INT(auth_verify(v, tok, strlen(tok), NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_INT(c.customer_id, 42);
	CHECK_INT(c.scopes, AUTH_SCOPE_READ | AUTH_SCOPE_WRITE);
	CHECK_INT(c.iat, NOW - 5);
	CHECK_INT(c.exp, NOW + 600);
	char hdr[1024];
	snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
	CHECK_INT(auth_verify_header(v, hdr, NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_INT(auth_verify(v, tok, strlen(tok), NOW + 660, &c, err, sizeof(err)), AUTH_EXPIRED);
	CHECK_CONTAINS(err, "customer_id=42");
	CHECK(strstr(err, strrchr(tok, '.') + 1) == NULL);
	free(tok);

	tok = auth_mint_hs256(secret, strlen(secret), 3, NULL, 0, NOW + 60, err, sizeof(err));
	UNIT_REQUIRE(tok != NULL);
	CHECK_INT(auth_verify(v, tok, strlen(tok), NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_INT(c.iat, 0);
	CHECK_INT(c.scopes, 0);
	free(tok);
	auth_verifier_free(&v);

	CHECK(auth_mint_hs256(secret, 31, 1, NULL, NOW, NOW + 1, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "secret");
	CHECK(auth_mint_hs256(NULL, 0, 1, NULL, NOW, NOW + 1, err, sizeof(err)) == NULL);
	CHECK(auth_mint_hs256(secret, strlen(secret), 0, NULL, NOW, NOW + 1, err, sizeof(err)) ==
	      NULL);
	CHECK_CONTAINS(err, "customer_id");
	CHECK(auth_mint_hs256(secret, strlen(secret), 2147483648LL, NULL, NOW, NOW + 1, err,
	                      sizeof(err)) == NULL);
	CHECK(auth_mint_hs256(secret, strlen(secret), 1, NULL, NOW, NOW, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "iat < exp");
	CHECK(auth_mint_hs256(secret, strlen(secret), 1, NULL, -1, NOW, err, sizeof(err)) == NULL);
}

UNIT_TEST(auth_names)
{
	CHECK_STR(auth_status_name(AUTH_OK), "ok");
	CHECK_STR(auth_status_name(AUTH_MISSING), "missing");
	CHECK_STR(auth_status_name(AUTH_MALFORMED), "malformed");
	CHECK_STR(auth_status_name(AUTH_TOO_LONG), "too_long");
	CHECK_STR(auth_status_name(AUTH_BAD_ALG), "bad_alg");
	CHECK_STR(auth_status_name(AUTH_BAD_SIGNATURE), "bad_signature");
	CHECK_STR(auth_status_name(AUTH_EXPIRED), "expired");
	CHECK_STR(auth_status_name(AUTH_NOT_YET_VALID), "not_yet_valid");
	CHECK_STR(auth_status_name(AUTH_BAD_CLAIMS), "bad_claims");
	CHECK_STR(auth_status_name(-9), "unknown");
	CHECK_STR(auth_status_name(1), "unknown");
	enum auth_alg a = AUTH_HS256;
	CHECK_INT(auth_alg_parse("ES256", &a), 0);
	CHECK_INT(a, AUTH_ES256);
	CHECK_INT(auth_alg_parse("es256", &a), -1);
	CHECK_INT(auth_alg_parse("none", &a), -1);
	CHECK_STR(auth_alg_name(AUTH_RS256), "RS256");
	CHECK_STR(auth_alg_name((enum auth_alg)9), "unknown");
}

struct thread_arg {
	const struct auth_verifier *v;
	const char *good, *bad;
	int failures;
};

static void *verify_many(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 300; i++) {
		struct auth_claims c;
		char err[128];
		if (auth_verify(a->v, a->good, strlen(a->good), NOW, &c, err, sizeof(err)) !=
		        AUTH_OK ||
		    c.customer_id != 7)
			a->failures++;
		if (auth_verify(a->v, a->bad, strlen(a->bad), NOW, &c, err, sizeof(err)) !=
		    AUTH_BAD_ALG)
			a->failures++;
	}
	return NULL;
}

UNIT_TEST(auth_verify_from_many_threads)
{
	struct auth_verifier *v = verifier(V_HS);
	char *good = hs(JWT_ALG_HS256, GOOD), *bad = hs(JWT_ALG_HS512, GOOD);
	pthread_t th[4];
	struct thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ v, good, bad, 0 };
		UNIT_REQUIRE(pthread_create(&th[i], NULL, verify_many, &args[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(args[i].failures, 0);
	}
	free(good);
	free(bad);
	auth_verifier_free(&v);
}

/* ---- accepted tokens kept (lib/auth_cache) --------------------------------------------- */

/* A token accepted once is answered from the cache with the same claims, and still expires,
 * still goes "not yet valid" before its iat, on the clock of each request. */
UNIT_TEST(auth_cached_token_keeps_its_claims_and_its_clock)
{
	struct auth_verifier *v = verifier(V_HS);
	char *t = hs(JWT_ALG_HS256, "{\"customer_id\":7,\"scope\":\"memory:read:write\","
	                            "\"sub\":\"agency-7\"," TIMES "}");
	struct auth_claims first, again;
	char err[256];
	CHECK_INT(auth_verify(v, t, strlen(t), NOW, &first, err, sizeof(err)), AUTH_OK);
	CHECK_INT((long)auth_verifier_cache_hits(v), 0);
	CHECK_INT(auth_verify(v, t, strlen(t), NOW + 5, &again, err, sizeof(err)), AUTH_OK);
	CHECK_INT((long)auth_verifier_cache_hits(v), 1);
	CHECK(memcmp(&first, &again, sizeof(first)) == 0);
	/* exp NOW + 3600, leeway 60: refused from NOW + 3660, from the cache */
	CHECK_INT(auth_verify(v, t, strlen(t), NOW + 3659, &again, err, sizeof(err)), AUTH_OK);
	CHECK_INT(auth_verify(v, t, strlen(t), NOW + 3660, &again, err, sizeof(err)), AUTH_EXPIRED);
	CHECK_INT(again.customer_id, 0);
	/* iat NOW - 10: issued in the future for a clock 71 s behind */
	CHECK_INT(auth_verify(v, t, strlen(t), NOW - 71, &again, err, sizeof(err)),
	          AUTH_NOT_YET_VALID);
	CHECK_INT((long)auth_verifier_cache_hits(v), 4);
	free(t);
	auth_verifier_free(&v);
}

/* Only the exact bytes hit: the accepted token with its payload or its signature changed (same
 * length, so the same slot when the signature is kept) is checked in full and refused. */
UNIT_TEST(auth_cache_never_vouches_for_a_changed_token)
{
	struct auth_verifier *v = verifier(V_HS);
	char *t = hs(JWT_ALG_HS256, GOOD);
	struct auth_claims c;
	char err[256];
	size_t len = strlen(t);
	CHECK_INT(auth_verify(v, t, len, NOW, &c, err, sizeof(err)), AUTH_OK);
	char *dot = strchr(t, '.');
	UNIT_REQUIRE(dot != NULL);
	char *p = xstrdup(t);
	p[dot - t + 3] = p[dot - t + 3] == 'A' ? 'B' : 'A'; /* a payload byte */
	CHECK_INT(auth_verify(v, p, len, NOW, &c, err, sizeof(err)) == AUTH_OK, 0);
	char *s = xstrdup(t);
	s[len - 2] = s[len - 2] == 'A' ? 'B' : 'A'; /* a signature byte */
	CHECK_INT(auth_verify(v, s, len, NOW, &c, err, sizeof(err)), AUTH_BAD_SIGNATURE);
	CHECK_INT(auth_verify(v, t, len - 1, NOW, &c, err, sizeof(err)) == AUTH_OK, 0);
	CHECK_INT((long)auth_verifier_cache_hits(v), 0);
	free(p);
	free(s);
	free(t);
	auth_verifier_free(&v);
}

/* Keys replaced (a reload): what the old keys accepted is not remembered. */
UNIT_TEST(auth_cache_goes_with_the_keys)
{
	struct auth_verifier *v = verifier(V_HS);
	char *t = hs(JWT_ALG_HS256, GOOD);
	struct auth_claims c;
	char err[256];
	CHECK_INT(auth_verify(v, t, strlen(t), NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_INT(auth_verify(v, t, strlen(t), NOW, &c, err, sizeof(err)), AUTH_OK);
	CHECK_INT((long)auth_verifier_cache_hits(v), 1);
	struct auth_config cfg = config_for(V_HS);
	cfg.key = "another-unit-test-secret-0123456789-xyz";
	cfg.key_len = strlen(cfg.key);
	struct auth_verifier *fresh = auth_verifier_new(&cfg, err, sizeof(err));
	UNIT_REQUIRE(fresh != NULL);
	auth_verifier_replace(v, &fresh);
	CHECK_INT(auth_verify(v, t, strlen(t), NOW, &c, err, sizeof(err)), AUTH_BAD_SIGNATURE);
	CHECK_INT((long)auth_verifier_cache_hits(v), 0);
	free(t);
	auth_verifier_free(&v);
}

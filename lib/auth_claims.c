/*
 * auth_claims: a verified token's claims, read from our own parse of the signed payload and
 * checked (see auth_claims.h).
 */
#include "auth_claims.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "auth_int.h"

/*
 * A NumericDate: a JSON integer, or a finite real rounded down (round_up false: exp) or up
 * (iat, nbf), in [0, AUTH_TIME_MAX]. Returns 0 or -1.
 */
static int auth_numeric_date(const json_t *j, bool round_up, long long *out)
{
	if (json_is_integer(j)) {
		json_int_t i = json_integer_value(j);
		if (i < 0 || i > AUTH_TIME_MAX)
			return -1;
		*out = i;
		return 0;
	}
	if (!json_is_real(j))
		return -1;
	double d = json_real_value(j);
	if (!isfinite(d) || d < 0 || d > (double)AUTH_TIME_MAX)
		return -1;
	*out = (long long)(round_up ? ceil(d) : floor(d));
	return *out <= AUTH_TIME_MAX ? 0 : -1;
}

static int auth_claim_customer(const json_t *payload, struct auth_claims *c, char *err,
                               size_t errlen)
{
	const json_t *j = json_object_get(payload, "customer_id");
	if (j == NULL)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "customer_id missing");
	if (!json_is_integer(j))
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "customer_id is not a JSON integer");
	json_int_t id = json_integer_value(j);
	if (id < 1 || id > AUTH_CUSTOMER_ID_MAX)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "customer_id %lld out of range",
		                 (long long)id);
	c->customer_id = id;
	return 0;
}

/* exp (required), iat and nbf (optional) as numbers; *nbf = -1 when absent. */
static int auth_claim_dates(const json_t *payload, struct auth_claims *c, long long *nbf, char *err,
                            size_t errlen)
{
	const json_t *exp = json_object_get(payload, "exp");
	const json_t *iat = json_object_get(payload, "iat");
	const json_t *jnbf = json_object_get(payload, "nbf");
	if (exp == NULL)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "exp missing");
	if (auth_numeric_date(exp, false, &c->exp) != 0)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "exp is not a valid NumericDate");
	c->iat = 0;
	if (iat != NULL && auth_numeric_date(iat, true, &c->iat) != 0)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "iat is not a valid NumericDate");
	*nbf = -1;
	if (jnbf != NULL && auth_numeric_date(jnbf, true, nbf) != 0)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "nbf is not a valid NumericDate");
	if (iat != NULL && c->exp < c->iat)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "exp %lld is before iat %lld",
		                 c->exp, c->iat);
	return 0;
}

static bool auth_json_string_is(const json_t *j, const char *want)
{
	size_t n = strlen(want);
	return json_is_string(j) && json_string_length(j) == n &&
	       memcmp(json_string_value(j), want, n) == 0;
}

static int auth_claim_iss_aud(const struct auth_rules *v, const json_t *payload, char *err,
                              size_t errlen)
{
	if (v->issuer != NULL && !auth_json_string_is(json_object_get(payload, "iss"), v->issuer))
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS,
		                 "iss missing or not the expected one");
	if (v->audience == NULL)
		return 0;
	const json_t *aud = json_object_get(payload, "aud");
	if (auth_json_string_is(aud, v->audience))
		return 0;
	if (json_is_array(aud)) {
		size_t i;
		const json_t *item;
		bool found = false;
		json_array_foreach(aud, i, item)
		{
			if (!json_is_string(item))
				return auth_fail(err, errlen, AUTH_BAD_CLAIMS,
				                 "aud array holds a non-string");
			found = found || auth_json_string_is(item, v->audience);
		}
		if (found)
			return 0;
	}
	return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "aud missing or without the expected one");
}

/* "memory:read memory:write" etc.; unknown items are ignored, a non-string is an error. */
static int auth_claim_scope(const json_t *payload, struct auth_claims *c, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned bits;
	} items[] = {
		{ "memory:read", AUTH_SCOPE_READ },
		{ "memory:write", AUTH_SCOPE_WRITE },
		{ "memory:read:write", AUTH_SCOPE_READ | AUTH_SCOPE_WRITE },
	};
	const json_t *j = json_object_get(payload, "scope");
	c->scopes = 0;
	if (j == NULL)
		return 0;
	if (!json_is_string(j))
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "scope is not a string");
	const char *s = json_string_value(j);
	size_t len = json_string_length(j), i = 0;
	while (i < len) {
		size_t n = 0;
		while (i + n < len && s[i + n] != ' ')
			n++;
		for (size_t k = 0; k < sizeof(items) / sizeof(items[0]); k++)
			if (strlen(items[k].name) == n && memcmp(s + i, items[k].name, n) == 0)
				c->scopes |= items[k].bits;
		i += n + 1;
	}
	return 0;
}

/* Copies a string sub up to its first NUL, cut on a UTF-8 boundary to fit. */
static void auth_claim_sub(const json_t *payload, struct auth_claims *c)
{
	const json_t *j = json_object_get(payload, "sub");
	c->sub[0] = '\0';
	if (!json_is_string(j))
		return;
	const char *s = json_string_value(j);
	size_t n = strnlen(s, json_string_length(j));
	if (n >= sizeof(c->sub)) {
		n = sizeof(c->sub) - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(c->sub, s, n);
	c->sub[n] = '\0';
}

/* Time rules, written without arithmetic on now so no now can overflow them. */
int auth_claims_times(const struct auth_rules *v, const struct auth_claims *c, long long nbf,
                      long long now, char *err, size_t errlen)
{
	long long lw = v->leeway_s;
	if (now >= c->exp + lw)
		return auth_fail(err, errlen, AUTH_EXPIRED,
		                 "token expired at %lld (now %lld, leeway %llds) customer_id=%lld",
		                 c->exp, now, lw, c->customer_id);
	if (nbf >= 0 && nbf - lw > now)
		return auth_fail(err, errlen, AUTH_NOT_YET_VALID,
		                 "token not valid before %lld (now %lld, leeway %llds)", nbf, now,
		                 lw);
	if (c->iat > 0 && c->iat - lw > now)
		return auth_fail(err, errlen, AUTH_NOT_YET_VALID,
		                 "token issued in the future at %lld (now %lld, leeway %llds)",
		                 c->iat, now, lw);
	if (c->iat > 0 && c->exp - c->iat > v->max_lifetime_s)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS, "token lifetime %llds exceeds %llds",
		                 c->exp - c->iat, v->max_lifetime_s);
	if (c->exp - v->max_lifetime_s - lw > now)
		return auth_fail(err, errlen, AUTH_BAD_CLAIMS,
		                 "token expires %llds from now, beyond %llds", c->exp - now,
		                 v->max_lifetime_s);
	return 0;
}

int auth_claims_read(const struct auth_rules *v, const json_t *payload, long long now,
                     struct auth_claims *c, long long *nbf, char *err, size_t errlen)
{
	*nbf = -1;
	int rc = auth_claim_customer(payload, c, err, errlen);
	if (rc == 0)
		rc = auth_claim_dates(payload, c, nbf, err, errlen);
	if (rc == 0)
		rc = auth_claim_iss_aud(v, payload, err, errlen);
	if (rc == 0)
		rc = auth_claim_scope(payload, c, err, errlen);
	if (rc == 0)
		rc = auth_claims_times(v, c, *nbf, now, err, errlen);
	if (rc == 0)
		auth_claim_sub(payload, c);
	return rc;
}

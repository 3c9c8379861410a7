/*
 * num: strict number parsing (see num.h). The digits go through strtoll, after a
 * character-set check that rejects everything strtoll would quietly accept (spaces, '+',
 * "0x", trailing junk) and a length check that turns a 5,000-digit input into ERANGE
 * without copying it.
 */
#include "num.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest decimal text of a long long, sign included: "-9223372036854775808". */
#define NUM_MAX_TEXT 20

int num_parse_intn(const char *s, size_t len, long long min, long long max, long long *out)
{
	size_t i = 0;
	if (len > 0 && s[0] == '-')
		i = 1;
	if (i == len)
		return NUM_EINVAL;
	for (size_t j = i; j < len; j++)
		if (s[j] < '0' || s[j] > '9')
			return NUM_EINVAL;
	if (len > NUM_MAX_TEXT)
		return NUM_ERANGE;

	char text[NUM_MAX_TEXT + 1];
	memcpy(text, s, len);
	text[len] = '\0';
	errno = 0;
	char *end = NULL;
	long long v = strtoll(text, &end, 10);
	if (errno == ERANGE)
		return NUM_ERANGE;
	if (errno != 0 || end != text + len)
		return NUM_EINVAL;
	if (v < min || v > max)
		return NUM_ERANGE;
	*out = v;
	return NUM_OK;
}

int num_parse_int(const char *s, long long min, long long max, long long *out)
{
	return num_parse_intn(s, strlen(s), min, max, out);
}

int num_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return NUM_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return NUM_OK;
		}
	}
	return NUM_EINVAL;
}

struct num_unit {
	const char *name;
	long long factor;
};

/* Splits "<digits><unit>" and scales by the unit's factor with an overflow check. */
static int num_parse_scaled(const char *s, const struct num_unit *units, size_t nunits,
                            long long *out, bool unit_required)
{
	size_t len = strlen(s), digits = 0;
	while (digits < len && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (digits == 0)
		return NUM_EINVAL;
	const char *unit = s + digits;
	long long factor = -1;
	if (*unit == '\0') {
		factor = 1;
		if (unit_required && !(digits == 1 && s[0] == '0'))
			return NUM_EINVAL;
	} else {
		for (size_t i = 0; i < nunits; i++)
			if (strcasecmp(unit, units[i].name) == 0)
				factor = units[i].factor;
		if (factor < 0)
			return NUM_EINVAL;
	}
	long long v;
	int rc = num_parse_intn(s, digits, 0, LLONG_MAX, &v);
	if (rc != NUM_OK)
		return rc;
	if (v > LLONG_MAX / factor)
		return NUM_ERANGE;
	*out = v * factor;
	return NUM_OK;
}

int num_parse_duration_ms(const char *s, long long *out_ms)
{
	static const struct num_unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
	};
	return num_parse_scaled(s, units, sizeof(units) / sizeof(units[0]), out_ms, true);
}

int num_parse_size(const char *s, long long *out_bytes)
{
	static const struct num_unit units[] = {
		{ "b", 1 },           { "k", 1LL << 10 }, { "kb", 1LL << 10 },
		{ "kib", 1LL << 10 }, { "m", 1LL << 20 }, { "mb", 1LL << 20 },
		{ "mib", 1LL << 20 }, { "g", 1LL << 30 }, { "gb", 1LL << 30 },
		{ "gib", 1LL << 30 },
	};
	return num_parse_scaled(s, units, sizeof(units) / sizeof(units[0]), out_bytes, false);
}

const char *num_strerror(int status)
{
	switch (status) {
	case NUM_OK:
		return "ok";
	case NUM_ERANGE:
		return "out of range";
	default:
		return "not a valid value";
	}
}

/* Unit tests for lib/num: strict integer, bool, duration and size parsing. */
#include <limits.h>

#include "num.h"
#include "unit.h"

UNIT_TEST(num_int_accepts_plain_decimals)
{
	long long v = 0;
	CHECK_INT(num_parse_int("0", 0, 10, &v), NUM_OK);
	CHECK_INT(v, 0);
	CHECK_INT(num_parse_int("-42", -100, 100, &v), NUM_OK);
	CHECK_INT(v, -42);
	CHECK_INT(num_parse_int("9223372036854775807", LLONG_MIN, LLONG_MAX, &v), NUM_OK);
	CHECK_INT(v, LLONG_MAX);
	CHECK_INT(num_parse_int("-9223372036854775808", LLONG_MIN, LLONG_MAX, &v), NUM_OK);
	CHECK(v == LLONG_MIN);
	CHECK_INT(num_parse_int("007", 0, 10, &v), NUM_OK);
	CHECK_INT(v, 7);
}

UNIT_TEST(num_int_rejects_what_strtoll_would_accept)
{
	static const char *const bad[] = { "",    " 1", "1 ",  "+1",  "0x10", "1e3",
		                           "12a", "-",  "--1", "1.0", "\t5",  "٣" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long v = 1234;
		CHECK_INT(num_parse_int(bad[i], LLONG_MIN, LLONG_MAX, &v), NUM_EINVAL);
		CHECK_INT(v, 1234); /* untouched on failure */
	}
}

UNIT_TEST(num_int_range_and_overflow)
{
	long long v = 5;
	CHECK_INT(num_parse_int("11", 0, 10, &v), NUM_ERANGE);
	CHECK_INT(num_parse_int("-1", 0, 10, &v), NUM_ERANGE);
	CHECK_INT(num_parse_int("9223372036854775808", LLONG_MIN, LLONG_MAX, &v), NUM_ERANGE);
	char huge[5001];
	memset(huge, '9', 5000);
	huge[5000] = '\0';
	CHECK_INT(num_parse_int(huge, LLONG_MIN, LLONG_MAX, &v), NUM_ERANGE);
	CHECK_INT(v, 5);
}

UNIT_TEST(num_intn_reads_only_len_bytes)
{
	long long v = 0;
	CHECK_INT(num_parse_intn("12345", 3, 0, 1000, &v), NUM_OK);
	CHECK_INT(v, 123);
	CHECK_INT(num_parse_intn("12", 0, 0, 1000, &v), NUM_EINVAL);
	CHECK_INT(num_parse_intn("1\0002", 3, 0, 1000, &v), NUM_EINVAL);
}

UNIT_TEST(num_bool_words)
{
	bool b = false;
	CHECK_INT(num_parse_bool("TRUE", &b), NUM_OK);
	CHECK(b);
	CHECK_INT(num_parse_bool("off", &b), NUM_OK);
	CHECK(!b);
	CHECK_INT(num_parse_bool("1", &b), NUM_OK);
	CHECK(b);
	CHECK_INT(num_parse_bool("yes please", &b), NUM_EINVAL);
	CHECK_INT(num_parse_bool("", &b), NUM_EINVAL);
}

UNIT_TEST(num_duration_units)
{
	long long ms = 0;
	CHECK_INT(num_parse_duration_ms("250ms", &ms), NUM_OK);
	CHECK_INT(ms, 250);
	CHECK_INT(num_parse_duration_ms("30s", &ms), NUM_OK);
	CHECK_INT(ms, 30000);
	CHECK_INT(num_parse_duration_ms("5m", &ms), NUM_OK);
	CHECK_INT(ms, 300000);
	CHECK_INT(num_parse_duration_ms("2H", &ms), NUM_OK);
	CHECK_INT(ms, 7200000);
	CHECK_INT(num_parse_duration_ms("1d", &ms), NUM_OK);
	CHECK_INT(ms, 86400000);
	CHECK_INT(num_parse_duration_ms("0", &ms), NUM_OK);
	CHECK_INT(ms, 0);
}

UNIT_TEST(num_duration_rejects_bare_and_bad_units)
{
	long long ms = 0;
	CHECK_INT(num_parse_duration_ms("30", &ms), NUM_EINVAL);
	CHECK_INT(num_parse_duration_ms("30 s", &ms), NUM_EINVAL);
	CHECK_INT(num_parse_duration_ms("1w", &ms), NUM_EINVAL);
	CHECK_INT(num_parse_duration_ms("-1s", &ms), NUM_EINVAL);
	CHECK_INT(num_parse_duration_ms("s", &ms), NUM_EINVAL);
	CHECK_INT(num_parse_duration_ms("99999999999999999d", &ms), NUM_ERANGE);
}

UNIT_TEST(num_size_units)
{
	long long b = 0;
	CHECK_INT(num_parse_size("512", &b), NUM_OK);
	CHECK_INT(b, 512);
	CHECK_INT(num_parse_size("64KiB", &b), NUM_OK);
	CHECK_INT(b, 65536);
	CHECK_INT(num_parse_size("1m", &b), NUM_OK);
	CHECK_INT(b, 1 << 20);
	CHECK_INT(num_parse_size("2GB", &b), NUM_OK);
	CHECK_INT(b, 2LL << 30);
	CHECK_INT(num_parse_size("1.5M", &b), NUM_EINVAL);
	CHECK_INT(num_parse_size("1T", &b), NUM_EINVAL);
	CHECK_INT(num_parse_size("9999999999999G", &b), NUM_ERANGE);
}

UNIT_TEST(num_strerror_names)
{
	CHECK_STR(num_strerror(NUM_ERANGE), "out of range");
	CHECK_STR(num_strerror(NUM_EINVAL), "not a valid value");
}

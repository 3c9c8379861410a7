/* Unit tests for lib/position: the checks that stop a partition whose stored offset belongs
 * to another log (issue 17). */
#include "position.h"
#include "unit.h"

UNIT_TEST(position_watermarks)
{
	CHECK_INT(position_check(0, 0, 0), POSITION_OK);         /* new, empty partition */
	CHECK_INT(position_check(5, 0, 5), POSITION_OK);         /* caught up */
	CHECK_INT(position_check(3, 0, 9), POSITION_OK);         /* behind */
	CHECK_INT(position_check(6, 0, 5), POSITION_BEYOND_END); /* the log is shorter: stop */
	CHECK_INT(position_check(1, 0, 0), POSITION_BEYOND_END); /* emptied broker */
	CHECK_INT(position_check(2, 4, 9), POSITION_EXPIRED);    /* retention went past us */
	CHECK(position_stops(POSITION_BEYOND_END));
	CHECK(position_stops(POSITION_MISMATCH));
	CHECK(!position_stops(POSITION_OK));
	CHECK(!position_stops(POSITION_EXPIRED));
	CHECK_STR(position_status_name(POSITION_BEYOND_END), "beyond_end");
	CHECK_STR(position_status_name(POSITION_MISMATCH), "mismatch");
	CHECK_STR(position_status_name(POSITION_EXPIRED), "expired");
	CHECK_STR(position_status_name(POSITION_OK), "ok");
}

UNIT_TEST(position_verify_only_what_can_be_read)
{
	CHECK_INT(position_verify_offset(5, 0, 9, true), 4);
	CHECK_INT(position_verify_offset(5, 0, 5, true), 4);
	CHECK_INT(position_verify_offset(5, 0, 9, false), -1); /* no fingerprint stored */
	CHECK_INT(position_verify_offset(0, 0, 9, true), -1);  /* nothing committed yet */
	CHECK_INT(position_verify_offset(5, 5, 9, true), -1);  /* deleted by retention */
	CHECK_INT(position_verify_offset(6, 0, 5, true), -1);  /* beyond the end: stopped anyway */
}

UNIT_TEST(position_fingerprint_is_stable_and_discriminating)
{
	/* pinned: the value is stored in PostgreSQL, so it must not change across builds or
	 * machines (little-endian encoding of the numbers, FNV-1a 64) */
	CHECK_INT(position_fingerprint(1700000000000LL, "7", 1, "{\"a\":1}", 7),
	          1801811612305398004LL);
	long long a = position_fingerprint(1000, "7", 1, "{\"a\":1}", 7);
	CHECK(a == position_fingerprint(1000, "7", 1, "{\"a\":1}", 7));
	CHECK(a != position_fingerprint(1001, "7", 1, "{\"a\":1}", 7));
	CHECK(a != position_fingerprint(1000, "8", 1, "{\"a\":1}", 7));
	CHECK(a != position_fingerprint(1000, "7", 1, "{\"a\":2}", 7));
	CHECK(position_fingerprint(1000, NULL, 0, "x", 1) !=
	      position_fingerprint(1000, "", 0, "x", 1));
	CHECK(position_fingerprint(-1, NULL, 0, NULL, 0) ==
	      position_fingerprint(-1, NULL, 0, "", 0));
}

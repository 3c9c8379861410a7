/* Unit tests for lib/backoff. */
#include "backoff.h"
#include "unit.h"

UNIT_TEST(backoff_grows_and_caps_with_jitter)
{
	struct backoff b;
	backoff_init(&b, 100, 2000);
	long long hi = 100;
	for (int i = 0; i < 20; i++) {
		long long d = backoff_next_ms(&b);
		CHECK(d >= 50);
		CHECK(d <= hi);
		CHECK(d <= 2000);
		hi = hi * 2 > 2000 ? 2000 : hi * 2;
	}
	/* after many attempts the delays sit near the cap, not at the base */
	long long sum = 0;
	for (int i = 0; i < 100; i++)
		sum += backoff_next_ms(&b);
	CHECK(sum / 100 > 500);
	backoff_reset(&b);
	CHECK(backoff_next_ms(&b) <= 100);
}

UNIT_TEST(backoff_jitter_varies)
{
	struct backoff b;
	backoff_init(&b, 1000, 1000);
	long long first = backoff_next_ms(&b);
	bool varied = false;
	for (int i = 0; i < 50 && !varied; i++)
		varied = backoff_next_ms(&b) != first;
	CHECK(varied);
}

UNIT_TEST(backoff_clock_is_monotonic)
{
	long long a = backoff_now_ms(), b = backoff_now_ms();
	CHECK(b >= a);
	CHECK(a > 0);
}

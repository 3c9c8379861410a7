/*
 * unit: a tiny unit-test harness. Tests register themselves with UNIT_TEST(name); the
 * runner (unit.c) runs each in a forked child with a timeout, so a crash or an abort in one
 * test is reported as its failure and the rest still run. Checks record a failure with
 * file:line and carry on; UNIT_REQUIRE stops the test.
 *
 *   build/tests/run-unit [substring]     run the tests whose name contains substring
 *   AIMEM_UNIT_NOFORK=1              run in-process (for gdb)
 */
#ifndef AIMEM_UNIT_H
#define AIMEM_UNIT_H

#include <stdbool.h>
#include <string.h>

typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
void unit_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void unit_stop(void) __attribute__((noreturn));

#define UNIT_TEST(name)                                                                            \
	static void name(void);                                                                    \
	__attribute__((constructor)) static void name##_register(void)                             \
	{                                                                                          \
		unit_register(#name, name);                                                        \
	}                                                                                          \
	static void name(void)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			unit_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                         \
	} while (0)

#define UNIT_REQUIRE(cond)                                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			unit_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                       \
			unit_stop();                                                               \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			unit_fail(__FILE__, __LINE__, "%s is %lld, expected %lld (%s)", #a, a_,    \
			          b_, #b);                                                         \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                               \
			unit_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", #a,         \
			          a_ ? a_ : "(null)", b_ ? b_ : "(null)");                         \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *h_ = (hay), *n_ = (needle);                                            \
		if (h_ == NULL || strstr(h_, n_) == NULL)                                          \
			unit_fail(__FILE__, __LINE__, "%s == \"%s\" lacks \"%s\"", #hay,           \
			          h_ ? h_ : "(null)", n_);                                         \
	} while (0)

#endif

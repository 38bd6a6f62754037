// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Kill rate limit per rule, and when a Falco alert and a kernel event are one incident. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "correlate.h"
#include "ratelimit.h"

#define S 1000000000ULL
#define ID_A "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
#define ID_B "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"

static struct ratelimit *new_rl(unsigned int c, unsigned int e, unsigned int w)
{
	struct ratelimit_config cfg = { .max_containers = c, .max_executables = e, .window_s = w };
	struct ratelimit *r = NULL;

	assert_int_equal(ratelimit_new(&cfg, &r), 0);

	assert_non_null(r);
	return r;
}

static void test_sixth_distinct_container_disarms(void **state)
{
	struct ratelimit *r = new_rl(5, 5, 60);
	char id[8], why[256];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		assert_int_equal(ratelimit_admit(r, "R", id, "/x", (uint64_t)i * S), RATELIMIT_ADMIT);
	}
	/* The kernel stops one short: a sixth distinct target must come to user space. */
	assert_false(ratelimit_kernel_may_kill(r, "R", 5 * S));
	/* The same container again is not a new one. */
	assert_int_equal(ratelimit_admit(r, "R", "c0", "/x", 5 * S), RATELIMIT_ADMIT);
	assert_int_equal(ratelimit_admit(r, "R", "c5", "/x", 6 * S), RATELIMIT_DISARMED_NOW);
	assert_true(ratelimit_disarmed(r, "R", why, sizeof(why)));
	assert_non_null(strstr(why, "6 distinct containers"));
	assert_string_equal(ratelimit_disarmed_rule(r, 0), "R");
	assert_null(ratelimit_disarmed_rule(r, 1));
	/* Disarmed stays disarmed, even after the window and for old targets. */
	assert_int_equal(ratelimit_admit(r, "R", "c0", "/x", 1000 * S), RATELIMIT_DISARMED);
	assert_false(ratelimit_kernel_may_kill(r, "R", 1000 * S));
	/* Other rules are not affected. */
	assert_int_equal(ratelimit_admit(r, "Other", "c9", "/x", 7 * S), RATELIMIT_ADMIT);
	assert_true(ratelimit_kernel_may_kill(r, "Other", 7 * S));
	ratelimit_free(r);
}

static void test_distinct_executables_disarm(void **state)
{
	struct ratelimit *r = new_rl(100, 2, 60);

	(void)state;
	assert_int_equal(ratelimit_admit(r, "R", "c", "/a", 0), RATELIMIT_ADMIT);
	assert_int_equal(ratelimit_admit(r, "R", "c", "/b", 0), RATELIMIT_ADMIT);
	assert_int_equal(ratelimit_admit(r, "R", "c", "/c", 0), RATELIMIT_DISARMED_NOW);
	ratelimit_free(r);
}

static void test_window_expires(void **state)
{
	struct ratelimit *r = new_rl(2, 2, 60);

	(void)state;
	assert_int_equal(ratelimit_admit(r, "R", "c1", "/x", 0), RATELIMIT_ADMIT);
	assert_int_equal(ratelimit_admit(r, "R", "c2", "/x", 1 * S), RATELIMIT_ADMIT);
	assert_false(ratelimit_kernel_may_kill(r, "R", 2 * S));
	/* c1 ages out at 60 s: room for one more distinct container, kernel re-armed. */
	assert_true(ratelimit_kernel_may_kill(r, "R", 60 * S));
	assert_int_equal(ratelimit_admit(r, "R", "c3", "/x", 60 * S), RATELIMIT_ADMIT);
	assert_false(ratelimit_disarmed(r, "R", NULL, 0));
	ratelimit_free(r);
}

static void test_kernel_kills_are_counted_after_the_fact(void **state)
{
	struct ratelimit *r = new_rl(1, 5, 60);

	(void)state;
	assert_true(ratelimit_kernel_may_kill(r, "R", 0));
	assert_int_equal(ratelimit_record(r, "R", "c1", "/x", 0), RATELIMIT_ADMIT);
	assert_false(ratelimit_kernel_may_kill(r, "R", 0));
	/* A kernel kill that raced past the limit disarms (and is counted). */
	assert_int_equal(ratelimit_record(r, "R", "c2", "/x", 0), RATELIMIT_DISARMED_NOW);
	assert_true(ratelimit_disarmed(r, "R", NULL, 0));
	ratelimit_free(r);
}

static void test_many_kills_of_one_target_stay_bounded(void **state)
{
	struct ratelimit *r = new_rl(5, 5, 60);

	(void)state;
	/* 100000 kills in one container: one entry, constant work each. */
	for (uint64_t i = 0; i < 100000; i++)
		assert_int_equal(ratelimit_record(r, "R", "c", "/x", i * 1000), RATELIMIT_ADMIT);
	assert_true(ratelimit_kernel_may_kill(r, "R", 100 * S / 1000));
	ratelimit_free(r);
}

static void test_bad_config_rejected(void **state)
{
	struct ratelimit_config cfg = { .max_containers = 0, .max_executables = 5, .window_s = 60 };

	(void)state;
	{
		struct ratelimit *none = NULL;

		assert_int_equal(ratelimit_new(&cfg, &none), -EINVAL);
		assert_int_equal(ratelimit_new(NULL, &none), -EINVAL);
		assert_null(none);
	}
	assert_null(ratelimit_free(NULL));
}

static void test_correlation(void **state)
{
	struct corr_event k = { .container_id = ID_A, .exe_path = "/tmp/x", .pid = 42, .time_ns = 100 * S };
	struct corr_event f = { .container_id = "aaaaaaaaaaaa", .exe_path = "/tmp/x", .pid = 0, .time_ns = 103 * S };

	(void)state;
	/* Falco's 12-hex prefix, same exe, no pid, 3 s apart in a 5 s window: one incident. */
	assert_true(correlate_match(&f, &k, 5 * S));
	/* Either order in time. */
	f.time_ns = 97 * S;
	assert_true(correlate_match(&f, &k, 5 * S));
	/* Outside the window. */
	f.time_ns = 106 * S;
	assert_false(correlate_match(&f, &k, 5 * S));
	f.time_ns = 100 * S;
	/* Same pid matches; another pid does not. */
	f.pid = 42;
	assert_true(correlate_match(&f, &k, 5 * S));
	f.pid = 43;
	assert_false(correlate_match(&f, &k, 5 * S));
	f.pid = 0;
	/* Another container, another exe, a short prefix, no exe: never. */
	f.container_id = "bbbbbbbbbbbb";
	assert_false(correlate_match(&f, &k, 5 * S));
	f.container_id = "aaaaaaaa";
	assert_false(correlate_match(&f, &k, 5 * S));
	f.container_id = "aaaaaaaaaaaa";
	f.exe_path = "/tmp/y";
	assert_false(correlate_match(&f, &k, 5 * S));
	f.exe_path = NULL;
	assert_false(correlate_match(&f, &k, 5 * S));
	f.exe_path = "/tmp/x";
	k.container_id = ID_B;
	assert_false(correlate_match(&f, &k, 5 * S));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sixth_distinct_container_disarms),
		cmocka_unit_test(test_distinct_executables_disarm),
		cmocka_unit_test(test_window_expires),
		cmocka_unit_test(test_kernel_kills_are_counted_after_the_fact),
		cmocka_unit_test(test_many_kills_of_one_target_stay_bounded),
		cmocka_unit_test(test_bad_config_rejected),
		cmocka_unit_test(test_correlation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The driver's record of placed containers (driver_record_placed): what an
 * INVOKED answer may and may not make it do. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "driver.h"

static void test_placed_in_order(void **state)
{
	struct driver_result r = {.first_id = 100};

	(void)state;
	assert_int_equal(driver_record_placed(&r, 100, 3, 3, 1, 5), 0);
	assert_int_equal(driver_record_placed(&r, 103, 2, 4, 2, 7), 0);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.c[0].function, 1);
	assert_true(r.c[2].requested_ns == 5);
	assert_int_equal(r.c[4].function, 2);
	assert_true(r.c[4].requested_ns == 7);
	driver_result_free(&r);
}

/* Answers that cannot be right change nothing. */
static void test_bad_answers(void **state)
{
	struct driver_result r = {.first_id = 100};

	(void)state;
	assert_int_equal(driver_record_placed(&r, 100, 0, 3, 0, 0), -ERANGE);
	assert_int_equal(driver_record_placed(&r, 100, 4, 3, 0, 0), -ERANGE);
	assert_int_equal(driver_record_placed(&r, 99, 1, 3, 0, 0), -ERANGE);
	/* container + count - 1 past 2^32: it once wrapped to a small id,
	 * grew nothing and wrote far outside the record. */
	assert_int_equal(driver_record_placed(&r, UINT32_MAX - 1, 8, 8, 0, 0),
			 -ERANGE);
	assert_int_equal(r.n, 0);
	/* The last id there is: one container fits, two do not. */
	r.first_id = UINT32_MAX;
	assert_int_equal(driver_record_placed(&r, UINT32_MAX, 1, 1, 0, 0), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(driver_record_placed(&r, UINT32_MAX, 2, 2, 0, 0),
			 -ERANGE);
	driver_result_free(&r);
}

/* The world's clock: t0 shared, k times slower after it. */
static void test_world_clock(void **state)
{
	const uint64_t t0 = 5000000000ull;

	(void)state;
	assert_true(driver_world_ns(t0, 1, t0 + 300) == t0 + 300);
	assert_true(driver_world_ns(t0, 0, t0 + 300) == t0 + 300);
	assert_true(driver_world_ns(t0, 3, t0) == t0);
	assert_true(driver_world_ns(t0, 3, t0 + 3000000000ull) ==
		    t0 + 1000000000ull);
	assert_true(driver_world_ns(t0, 2.5, t0 + 10) == t0 + 4);
	/* before t0 (a log line from start-up): left as it is */
	assert_true(driver_world_ns(t0, 3, t0 - 7) == t0 - 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placed_in_order),
		cmocka_unit_test(test_bad_answers),
		cmocka_unit_test(test_world_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The pure parts of a container's start (agent/start.c): the compute a
 * trace owes, slept in whole milliseconds with the rest carried, and the
 * blocks a read covers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "start.h"

/* Thousands of gaps under a millisecond add up: none is lost, none is
 * rounded up. */
static void test_gap_carry(void **state)
{
	uint64_t carry = 0, total = 0;
	unsigned i;

	(void)state;
	for (i = 0; i < 3000; i++)
		total += start_gap_ms(&carry, 400);
	assert_int_equal(total, 1200);
	assert_int_equal(carry, 0);
	carry = 0;
	assert_int_equal(start_gap_ms(&carry, 999), 0);
	assert_int_equal(carry, 999);
	assert_int_equal(start_gap_ms(&carry, 2), 1);
	assert_int_equal(carry, 1);
	assert_int_equal(start_gap_ms(&carry, 2500), 2);
	assert_int_equal(carry, 501);
	assert_int_equal(start_gap_ms(&carry, 0), 0);
	assert_int_equal(carry, 501);
}

/* The longest gap with the most carried still fits. */
static void test_gap_max(void **state)
{
	uint64_t carry = 999;

	(void)state;
	assert_int_equal(start_gap_ms(&carry, BLOCKIMG_MAX_GAP_US),
			 BLOCKIMG_MAX_GAP_US / 1000);
	assert_int_equal(carry, 999);
}

/* 4 KiB blocks, a layer of three blocks and 100 bytes. */
static void test_read_blocks(void **state)
{
	struct blockimg_index ix = {
		.block_size = 4096, .size = 12388, .nblocks = 4};
	struct blockimg_read r = {0};
	uint32_t first = 99, count = 99;

	(void)state;
	r = (struct blockimg_read){0, 1, 0};
	assert_int_equal(start_read_blocks(&ix, &r, &first, &count), 0);
	assert_int_equal(first, 0);
	assert_int_equal(count, 1);
	r = (struct blockimg_read){4095, 2, 0};
	assert_int_equal(start_read_blocks(&ix, &r, &first, &count), 0);
	assert_int_equal(first, 0);
	assert_int_equal(count, 2);
	r = (struct blockimg_read){12288, 100, 0};
	assert_int_equal(start_read_blocks(&ix, &r, &first, &count), 0);
	assert_int_equal(first, 3);
	assert_int_equal(count, 1);
	/* compute alone reads nothing */
	r = (struct blockimg_read){5000, 0, 7};
	assert_int_equal(start_read_blocks(&ix, &r, &first, &count), 0);
	assert_int_equal(count, 0);
	r = (struct blockimg_read){12387, 2, 0};
	assert_int_equal(start_read_blocks(&ix, &r, &first, &count), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gap_carry),
		cmocka_unit_test(test_gap_max),
		cmocka_unit_test(test_read_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

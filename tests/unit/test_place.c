/* Unit tests for manager/place.c: the seeded order is a permutation, the
 * same for the same seed whatever order the names come in, and another for
 * another seed; placement keeps its rules (a VM running f, then the
 * fullest) and falls back on that order, not on the order of arrival. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "place.h"

#define NVMS 64

static char names_buf[NVMS][16];
static const char *names[NVMS];

static int setup(void **state)
{
	unsigned i;

	(void)state;
	for (i = 0; i < NVMS; i++) {
		snprintf(names_buf[i], sizeof(names_buf[i]), "vm%04u", i);
		names[i] = names_buf[i];
	}
	return 0;
}

static void test_order_is_permutation(void **state)
{
	size_t order[NVMS];
	bool seen[NVMS] = {false};
	uint64_t seed;
	unsigned i;

	(void)state;
	for (seed = 0; seed < 100; seed++) {
		memset(seen, 0, sizeof(seen));
		place_order(seed, names, NVMS, order);
		for (i = 0; i < NVMS; i++) {
			assert_true(order[i] < NVMS);
			assert_false(seen[order[i]]);
			seen[order[i]] = true;
		}
	}
}

static void test_order_is_deterministic(void **state)
{
	size_t a[NVMS], b[NVMS];
	const char *rev[NVMS];
	unsigned i;

	(void)state;
	place_order(7, names, NVMS, a);
	place_order(7, names, NVMS, b);
	assert_memory_equal(a, b, sizeof(a));
	/* The names in another order (agents that said HELLO in another
	 * order): the same names come out in the same order. */
	for (i = 0; i < NVMS; i++)
		rev[i] = names[NVMS - 1 - i];
	place_order(7, rev, NVMS, b);
	for (i = 0; i < NVMS; i++)
		assert_string_equal(names[a[i]], rev[b[i]]);
	assert_true(place_rank(7, "vm0003") == place_rank(7, "vm0003"));
}

static void test_order_differs_between_seeds(void **state)
{
	size_t a[NVMS], b[NVMS];
	unsigned firsts[NVMS] = {0}, distinct = 0, i;
	uint64_t seed;

	(void)state;
	for (seed = 0; seed < 50; seed++) {
		place_order(seed, names, NVMS, a);
		place_order(seed + 1, names, NVMS, b);
		assert_memory_not_equal(a, b, sizeof(a));
	}
	/* Not the same few roots: over 200 seeds, the first VM is spread
	 * over many of the 64 (a uniform draw hits about 61). */
	for (seed = 0; seed < 200; seed++) {
		place_order(seed, names, NVMS, a);
		firsts[a[0]]++;
	}
	for (i = 0; i < NVMS; i++)
		distinct += firsts[i] > 0;
	assert_true(distinct >= 40);
	/* Neither is it the order of the names. */
	place_order(1, names, NVMS, a);
	for (i = 0; i < NVMS && a[i] == i; i++)
		;
	assert_true(i < NVMS);
}

static void fill(struct place_vm *vms, uint64_t seed)
{
	unsigned i;

	for (i = 0; i < NVMS; i++)
		vms[i] = (struct place_vm){.name = names[i],
					   .rank = place_rank(seed, names[i]),
					   .alive = true};
}

/* An empty pool: the root is the first VM of the seeded order; the next
 * VMs, as each fills, follow that order. */
static void test_pick_follows_seeded_order(void **state)
{
	struct place_limits lim = {.max_functions = 20, .max_containers = 1};
	struct place_vm vms[NVMS];
	size_t order[NVMS];
	unsigned k;
	long v;

	(void)state;
	fill(vms, 3);
	place_order(3, names, NVMS, order);
	for (k = 0; k < NVMS; k++) {
		v = place_pick(vms, NVMS, &lim);
		assert_int_equal(v, (long)order[k]);
		vms[v].ncontainers++;
		vms[v].nfunctions++;
		vms[v].runs_f = true;
	}
	assert_int_equal(place_pick(vms, NVMS, &lim), -1);
}

static void test_pick_rules_before_order(void **state)
{
	struct place_limits lim = {.max_functions = 2, .max_containers = 3};
	struct place_vm vms[NVMS];
	size_t order[NVMS];
	long first, last;

	(void)state;
	fill(vms, 9);
	place_order(9, names, NVMS, order);
	first = (long)order[0];
	last = (long)order[NVMS - 1];
	/* Best fit: the fullest VM wins over the seeded order. */
	vms[last].ncontainers = 1;
	assert_int_equal(place_pick(vms, NVMS, &lim), last);
	/* A VM already running f wins over a fuller one. */
	vms[first].runs_f = true;
	vms[first].ncontainers = 1;
	vms[last].ncontainers = 2;
	assert_int_equal(place_pick(vms, NVMS, &lim), first);
	/* ... unless it has no room for a container. */
	vms[first].ncontainers = 3;
	assert_int_equal(place_pick(vms, NVMS, &lim), last);
	/* A VM at its cap of functions takes no new one. */
	vms[last].nfunctions = 2;
	assert_int_equal(place_pick(vms, NVMS, &lim), (long)order[1]);
	/* A dead VM takes nothing. */
	vms[order[1]].alive = false;
	assert_int_equal(place_pick(vms, NVMS, &lim), (long)order[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_is_permutation),
		cmocka_unit_test(test_order_is_deterministic),
		cmocka_unit_test(test_order_differs_between_seeds),
		cmocka_unit_test(test_pick_follows_seeded_order),
		cmocka_unit_test(test_pick_rules_before_order),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}

/* Unit tests of dadi/tree.c: a node with fewer than 2 children for a blob
 * serves, with 2 it redirects to one of them at random; a child idle past
 * the expiry frees its slot; trees of different blobs are apart; the root
 * choice is random but reproducible from the seed; upstreams. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "tree.h"

#define SEC    1000000000ull
#define EXPIRY (60 * SEC)

static struct dadi_tree *mk(uint64_t seed)
{
	struct dadi_tree *t;

	assert_int_equal(dadi_tree_new(DADI_TREE_FANOUT, EXPIRY, seed, &t), 0);
	return t;
}

static enum dadi_join join(struct dadi_tree *t, const char *key,
			   const char *child, uint64_t now, char *to)
{
	enum dadi_join j;
	char buf[DADI_TREE_ADDR_LEN];

	assert_int_equal(dadi_tree_join(t, key, child, now, &j, to ? to : buf),
			 0);
	return j;
}

static void test_serves_two_then_redirects(void **state)
{
	struct dadi_tree *t = mk(1);
	char to[DADI_TREE_ADDR_LEN];
	int seen_a = 0, seen_b = 0;

	(void)state;
	assert_int_equal(join(t, "r@d", "a:1", 1 * SEC, NULL), DADI_JOIN_SERVE);
	assert_int_equal(join(t, "r@d", "b:1", 2 * SEC, NULL), DADI_JOIN_SERVE);
	assert_int_equal(dadi_tree_children(t, "r@d", 2 * SEC), 2);
	/* Known children keep being served. */
	assert_int_equal(join(t, "r@d", "a:1", 3 * SEC, NULL), DADI_JOIN_SERVE);
	/* A third is sent to a child, over many asks to both of them. */
	for (int i = 0; i < 64; i++) {
		assert_int_equal(join(t, "r@d", "c:1", 4 * SEC, to),
				 DADI_JOIN_REDIRECT);
		seen_a += !strcmp(to, "a:1");
		seen_b += !strcmp(to, "b:1");
		assert_true(!strcmp(to, "a:1") || !strcmp(to, "b:1"));
	}
	assert_true(seen_a > 0 && seen_b > 0);
	assert_int_equal(dadi_tree_children(t, "r@d", 4 * SEC), 2);
	/* Another blob has a tree of its own. */
	assert_int_equal(join(t, "r@e", "c:1", 4 * SEC, NULL), DADI_JOIN_SERVE);
	dadi_tree_free(t);
}

static void test_expiry_frees_a_slot(void **state)
{
	struct dadi_tree *t = mk(2);

	(void)state;
	assert_int_equal(join(t, "k", "a:1", 1 * SEC, NULL), DADI_JOIN_SERVE);
	assert_int_equal(join(t, "k", "b:1", 30 * SEC, NULL), DADI_JOIN_SERVE);
	/* a idle for exactly a minute: still a child. */
	assert_int_equal(join(t, "k", "c:1", 61 * SEC, NULL),
			 DADI_JOIN_REDIRECT);
	/* Past a minute idle: a's slot goes to c; b (asked at 30 s) stays. */
	assert_int_equal(join(t, "k", "c:1", 61 * SEC + 1, NULL),
			 DADI_JOIN_SERVE);
	assert_int_equal(join(t, "k", "a:1", 62 * SEC, NULL),
			 DADI_JOIN_REDIRECT);
	/* A request refreshes: b asking at 80 s stays past 90 s. */
	assert_int_equal(join(t, "k", "b:1", 80 * SEC, NULL), DADI_JOIN_SERVE);
	assert_int_equal(join(t, "k", "d:1", 120 * SEC, NULL),
			 DADI_JOIN_REDIRECT);
	assert_int_equal(dadi_tree_children(t, "k", 120 * SEC), 2);
	/* c (last at 61 s) gone at 130 s, b (80 s) still there. */
	assert_int_equal(dadi_tree_children(t, "k", 130 * SEC), 1);
	assert_int_equal(dadi_tree_children(t, "k", 200 * SEC), 0);
	dadi_tree_free(t);
}

static void test_root_choice_seeded(void **state)
{
	static const char *const roots[] = {"r0:1", "r1:1", "r2:1"};
	struct dadi_tree *a = mk(7), *b = mk(7), *c = mk(8);
	int count[3] = {0}, differ = 0;

	(void)state;
	for (int i = 0; i < 300; i++) {
		const char *x = dadi_tree_pick_root(a, roots, 3);
		const char *y = dadi_tree_pick_root(b, roots, 3);
		const char *z = dadi_tree_pick_root(c, roots, 3);

		assert_ptr_equal(x, y); /* the same seed, the same choices */
		differ += x != z;
		count[x - roots[0] == 0 ? 0 : (x == roots[1] ? 1 : 2)]++;
	}
	assert_true(differ > 0);
	for (int i = 0; i < 3; i++)
		assert_true(count[i] > 50); /* spread, not always one */
	dadi_tree_free(a);
	dadi_tree_free(b);
	dadi_tree_free(c);
}

static void test_upstream(void **state)
{
	struct dadi_tree *t = mk(3);
	char up[DADI_TREE_ADDR_LEN];

	(void)state;
	assert_int_equal(dadi_tree_upstream(t, "k", up), 0);
	assert_int_equal(dadi_tree_set_upstream(t, "k", "p:1"), 0);
	assert_int_equal(dadi_tree_upstream(t, "k", up), 1);
	assert_string_equal(up, "p:1");
	assert_int_equal(dadi_tree_upstream(t, "other", up), 0);
	dadi_tree_forget_upstream(t, "k");
	assert_int_equal(dadi_tree_upstream(t, "k", up), 0);
	dadi_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serves_two_then_redirects),
		cmocka_unit_test(test_expiry_frees_a_slot),
		cmocka_unit_test(test_root_choice_seeded),
		cmocka_unit_test(test_upstream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for manager/ft.c: breadth-first insertion, the delete repairs
 * and their rotations, the change reports, ft_check catching each kind of
 * corruption, the DOT dump, and long random runs against a reference model
 * with every invariant checked after every step. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ft.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const enum ft_repair repairs[] = {FT_REPAIR_AVL, FT_REPAIR_COMPLETE};

static const char *repair_name(enum ft_repair r)
{
	return r == FT_REPAIR_AVL ? "avl" : "complete";
}

/* ---- helpers ---- */

#define CHANGES_MAX 512

struct changes {
	size_t n;
	bool overflow;
	uint32_t vm[CHANGES_MAX];
	uint32_t parent[CHANGES_MAX];
};

static void collect(void *arg, uint32_t vm, uint32_t parent)
{
	struct changes *c = arg;

	if (c->n == CHANGES_MAX) {
		c->overflow = true;
		return;
	}
	c->vm[c->n] = vm;
	c->parent[c->n] = parent;
	c->n++;
}

static void must_check(const struct ft *ft)
{
	struct err e = {{0}};

	if (ft_check(ft, &e))
		fail_msg("ft_check: %s", e.msg);
}

static int insert_vm(struct ft *ft, uint32_t vm, struct changes *c)
{
	memset(c, 0, sizeof(*c));
	return ft_insert(ft, vm, collect, c);
}

static int delete_vm(struct ft *ft, uint32_t vm, struct changes *c)
{
	memset(c, 0, sizeof(*c));
	return ft_delete(ft, vm, collect, c);
}

/* A tree of ids 1..n inserted in order: id i sits at breadth-first position
 * i - 1, so the shape is a binary heap's. */
static struct ft *build(enum ft_repair r, uint32_t n)
{
	struct ft *ft = ft_new(r);
	uint32_t i;

	assert_non_null(ft);
	for (i = 1; i <= n; i++)
		assert_int_equal(ft_insert(ft, i, NULL, NULL), 0);
	must_check(ft);
	return ft;
}

#define N   FT_NONE
#define REG FT_REGISTRY

static void expect_node(const struct ft *ft, uint32_t vm, uint32_t parent,
			uint32_t left, uint32_t right)
{
	uint32_t p = 0, ch[2];
	int n;

	if (ft_parent(ft, vm, &p) || p != parent)
		fail_msg("vm %" PRIu32 ": parent %" PRIu32
			 ", expected %" PRIu32,
			 vm, p, parent);
	n = ft_children(ft, vm, ch);
	if (ch[FT_LEFT] != left || ch[FT_RIGHT] != right)
		fail_msg("vm %" PRIu32 ": children %" PRIu32 ",%" PRIu32
			 ", expected %" PRIu32 ",%" PRIu32,
			 vm, ch[FT_LEFT], ch[FT_RIGHT], left, right);
	assert_int_equal(n, (left != N) + (right != N));
}

/* Changes are compared as a set: their order is not part of the contract. */
static void expect_changes(const struct changes *c, size_t n,
			   const uint32_t (*want)[2])
{
	size_t i, j;

	assert_false(c->overflow);
	if (c->n != n)
		fail_msg("%zu changes reported, expected %zu", c->n, n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < c->n; j++)
			if (c->vm[j] == want[i][0])
				break;
		if (j == c->n)
			fail_msg("no change reported for vm %" PRIu32,
				 want[i][0]);
		if (c->parent[j] != want[i][1])
			fail_msg("vm %" PRIu32 ": reported parent %" PRIu32
				 ", expected %" PRIu32,
				 want[i][0], c->parent[j], want[i][1]);
	}
}

#define EXPECT_CHANGES(c, ...)                                                 \
	do {                                                                   \
		static const uint32_t want_[][2] = {__VA_ARGS__};              \
		expect_changes(c, ARRAY_SIZE(want_), want_);                   \
	} while (0)

/* Levels of a complete tree of n nodes: ceil(log2(n + 1)). */
static unsigned int levels(size_t n)
{
	unsigned int h = 0;

	while (((size_t)1 << h) < n + 1)
		h++;
	return h;
}

/* ---- insertion ---- */

/* Inserting n VMs gives the complete tree in breadth-first order: the VM at
 * position i has its children at 2i + 1 and 2i + 2, and each insert reports
 * exactly the new VM with that parent (so no rotation happened). */
static void test_insert_bfs_shape(void **state)
{
	uint32_t id[15], want_l, want_r;
	struct changes c;
	size_t k, n, i;
	struct ft *ft;

	(void)state;
	for (k = 0; k < ARRAY_SIZE(repairs); k++) {
		for (n = 1; n <= 15; n++) {
			ft = ft_new(repairs[k]);
			assert_non_null(ft);
			for (i = 0; i < n; i++) {
				/* ids unrelated to the position */
				id[i] = (uint32_t)(7919 * (i + 3) % 1000);
				assert_int_equal(insert_vm(ft, id[i], &c), 0);
				assert_int_equal(c.n, 1);
				assert_int_equal(c.vm[0], id[i]);
				assert_int_equal(c.parent[0],
						 i ? id[(i - 1) / 2] : REG);
				must_check(ft);
			}
			for (i = 0; i < n; i++) {
				want_l = 2 * i + 1 < n ? id[2 * i + 1] : N;
				want_r = 2 * i + 2 < n ? id[2 * i + 2] : N;
				expect_node(ft, id[i],
					    i ? id[(i - 1) / 2] : REG, want_l,
					    want_r);
			}
			assert_int_equal(ft_size(ft), n);
			assert_int_equal(ft_height(ft), levels(n));
			ft_free(ft);
		}
	}
}

/* ---- deletion ---- */

/*        1
 *      /   \
 *     2     3
 *    / \   / \
 *   4   5 6   7      the tree every delete test starts from */

static void test_delete_leaf(void **state)
{
	struct changes c;
	struct ft *ft;

	(void)state;
	/* avl: a leaf just goes; nobody moves */
	ft = build(FT_REPAIR_AVL, 7);
	assert_int_equal(delete_vm(ft, 4, &c), 0);
	assert_int_equal(c.n, 0);
	must_check(ft);
	expect_node(ft, 2, 1, N, 5);
	expect_node(ft, 1, REG, 2, 3);
	assert_false(ft_contains(ft, 4));
	assert_int_equal(ft_size(ft), 6);
	ft_free(ft);

	/* complete: the last VM (7) fills the hole to keep the tree complete */
	ft = build(FT_REPAIR_COMPLETE, 7);
	assert_int_equal(delete_vm(ft, 4, &c), 0);
	EXPECT_CHANGES(&c, {7, 2});
	must_check(ft);
	expect_node(ft, 2, 1, 7, 5);
	expect_node(ft, 3, 1, 6, N);
	/* deleting the last VM moves nobody */
	assert_int_equal(delete_vm(ft, 6, &c), 0);
	assert_int_equal(c.n, 0);
	must_check(ft);
	ft_free(ft);
}

static void test_delete_root(void **state)
{
	struct changes c;
	uint32_t root;
	size_t k;
	struct ft *ft;

	(void)state;
	for (k = 0; k < ARRAY_SIZE(repairs); k++) {
		/* both take 7, the deepest, rightmost leaf */
		ft = build(repairs[k], 7);
		assert_int_equal(delete_vm(ft, 1, &c), 0);
		EXPECT_CHANGES(&c, {7, REG}, {2, 7}, {3, 7});
		must_check(ft);
		assert_int_equal(ft_root(ft, &root), 0);
		assert_int_equal(root, 7);
		expect_node(ft, 7, REG, 2, 3);
		expect_node(ft, 3, 7, 6, N);
		expect_node(ft, 2, 7, 4, 5);

		/* down to one VM and to none, deleting the root each time */
		while (ft_root(ft, &root) == 0) {
			assert_int_equal(delete_vm(ft, root, &c), 0);
			must_check(ft);
		}
		assert_int_equal(ft_size(ft), 0);
		assert_int_equal(ft_height(ft), 0);
		/* and it grows again */
		assert_int_equal(insert_vm(ft, 9, &c), 0);
		EXPECT_CHANGES(&c, {9, REG});
		must_check(ft);
		ft_free(ft);
	}
}

static void test_delete_interior(void **state)
{
	struct changes c;
	struct ft *ft;

	(void)state;
	/* avl: the deepest leaf below 2, the rightmost (5), takes its place */
	ft = build(FT_REPAIR_AVL, 7);
	assert_int_equal(delete_vm(ft, 2, &c), 0);
	EXPECT_CHANGES(&c, {5, 1}, {4, 5});
	must_check(ft);
	expect_node(ft, 5, 1, 4, N);
	expect_node(ft, 1, REG, 5, 3);
	ft_free(ft);

	/* complete: the last VM (7) does */
	ft = build(FT_REPAIR_COMPLETE, 7);
	assert_int_equal(delete_vm(ft, 2, &c), 0);
	EXPECT_CHANGES(&c, {7, 1}, {4, 7}, {5, 7});
	must_check(ft);
	expect_node(ft, 7, 1, 4, 5);
	expect_node(ft, 3, 1, 6, N);
	ft_free(ft);

	/* the replacement is a child of the deleted VM */
	ft = build(FT_REPAIR_COMPLETE, 3);
	assert_int_equal(delete_vm(ft, 1, &c), 0);
	EXPECT_CHANGES(&c, {3, REG}, {2, 3});
	must_check(ft);
	expect_node(ft, 3, REG, 2, N);
	ft_free(ft);
}

/* The four rotations, each from the smallest tree that needs it. */
static void test_rotations(void **state)
{
	struct changes c;
	struct ft *ft;

	(void)state;
	/* right:      1              2
	 *           /   \          /   \
	 *          2    [3]  ->   4     1
	 *         / \                  /
	 *        4   5                5        */
	ft = build(FT_REPAIR_AVL, 5);
	assert_int_equal(delete_vm(ft, 3, &c), 0);
	EXPECT_CHANGES(&c, {2, REG}, {1, 2}, {5, 1});
	must_check(ft);
	expect_node(ft, 2, REG, 4, 1);
	expect_node(ft, 1, 2, 5, N);
	ft_free(ft);

	/* left-right:  1           5
	 *            /   \       /   \
	 *           2    [3] -> 2     1
	 *            \
	 *             5                        */
	ft = build(FT_REPAIR_AVL, 5);
	assert_int_equal(delete_vm(ft, 4, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(delete_vm(ft, 3, &c), 0);
	EXPECT_CHANGES(&c, {5, REG}, {2, 5}, {1, 5});
	must_check(ft);
	expect_node(ft, 5, REG, 2, 1);
	expect_node(ft, 2, 5, N, N);
	expect_node(ft, 1, 5, N, N);
	ft_free(ft);

	/* left:    1                 3
	 *        /   \             /   \
	 *      [2]    3     ->    1     7
	 *            / \           \
	 *           6   7           6      */
	ft = build(FT_REPAIR_AVL, 7);
	assert_int_equal(delete_vm(ft, 4, &c), 0);
	assert_int_equal(delete_vm(ft, 5, &c), 0);
	assert_int_equal(delete_vm(ft, 2, &c), 0);
	EXPECT_CHANGES(&c, {3, REG}, {1, 3}, {6, 1});
	must_check(ft);
	expect_node(ft, 3, REG, 1, 7);
	expect_node(ft, 1, 3, N, 6);
	ft_free(ft);

	/* right-left:  1             6
	 *            /   \         /   \
	 *          [2]    3   ->  1     3
	 *                /
	 *               6                  */
	ft = build(FT_REPAIR_AVL, 7);
	assert_int_equal(delete_vm(ft, 4, &c), 0);
	assert_int_equal(delete_vm(ft, 5, &c), 0);
	assert_int_equal(delete_vm(ft, 7, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(delete_vm(ft, 2, &c), 0);
	EXPECT_CHANGES(&c, {6, REG}, {1, 6}, {3, 6});
	must_check(ft);
	expect_node(ft, 6, REG, 1, 3);
	ft_free(ft);

	/* the same deletes under FT_REPAIR_COMPLETE never rotate */
	ft = build(FT_REPAIR_COMPLETE, 5);
	assert_int_equal(delete_vm(ft, 3, &c), 0);
	EXPECT_CHANGES(&c, {5, 1});
	must_check(ft);
	expect_node(ft, 1, REG, 2, 5);
	ft_free(ft);
}

/* Mark the breadth-first positions of the sparsest AVL tree of height k
 * (a Fibonacci tree: left subtree of height k - 1, right of k - 2). */
static void fib_shape(bool *keep, size_t pos, unsigned int k)
{
	keep[pos] = true;
	if (k >= 2)
		fib_shape(keep, 2 * pos + 1, k - 1);
	if (k >= 3)
		fib_shape(keep, 2 * pos + 2, k - 2);
}

/* AVL balance alone does not keep the height within ceil(log2(N + 1)) + 1:
 * deleting leaves, deepest level first, carves the 255-VM perfect tree into
 * the 54-VM Fibonacci tree of height 8 without ever unbalancing a node, so
 * no rotation fires. FT_REPAIR_COMPLETE, fed the same deletes, stays at the
 * least height. */
static void test_avl_height_not_minimal(void **state)
{
	bool keep[255] = {false};
	unsigned int d;
	struct changes c;
	size_t k, pos;
	struct ft *ft;

	(void)state;
	fib_shape(keep, 0, 8);
	for (k = 0; k < ARRAY_SIZE(repairs); k++) {
		ft = build(repairs[k], 255);
		for (d = 7; d >= 1; d--) {
			for (pos = ((size_t)1 << d) - 1;
			     pos < ((size_t)1 << (d + 1)) - 1; pos++) {
				if (keep[pos])
					continue;
				assert_int_equal(
					delete_vm(ft, (uint32_t)pos + 1, &c),
					0);
				if (repairs[k] == FT_REPAIR_AVL)
					assert_int_equal(c.n, 0);
				else
					assert_true(c.n <= 3);
				must_check(ft);
			}
		}
		assert_int_equal(ft_size(ft), 54);
		if (repairs[k] == FT_REPAIR_AVL)
			assert_int_equal(ft_height(ft), 8);
		else
			assert_int_equal(ft_height(ft), levels(54));
		ft_free(ft);
	}
	assert_int_equal(levels(54) + 1, 7);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
	uint32_t p, ch[2];
	struct changes c;
	size_t k;
	struct ft *ft;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	errno = 0;
	assert_null(ft_new((enum ft_repair)7));
	assert_int_equal(errno, EINVAL);
	ft_free(NULL);

	for (k = 0; k < ARRAY_SIZE(repairs); k++) {
		ft = ft_new(repairs[k]);
		assert_non_null(ft);
		/* the empty tree */
		assert_int_equal(ft_size(ft), 0);
		assert_int_equal(ft_height(ft), 0);
		assert_false(ft_contains(ft, 1));
		assert_int_equal(ft_parent(ft, 1, &p), -ENOENT);
		assert_int_equal(ft_children(ft, 1, ch), -ENOENT);
		assert_int_equal(ft_root(ft, &p), -ENOENT);
		assert_int_equal(delete_vm(ft, 1, &c), -ENOENT);
		assert_int_equal(c.n, 0);
		assert_int_equal(ft_delete(ft, 1, NULL, NULL), -ENOENT);
		must_check(ft);
		f = open_memstream(&buf, &len);
		assert_non_null(f);
		assert_int_equal(ft_dump_dot(ft, f, NULL), 0);
		fclose(f);
		assert_non_null(strstr(buf, "digraph \"ft\" {"));
		assert_null(strstr(buf, "registry ->"));
		free(buf);
		buf = NULL;

		/* FT_NONE is not a VM */
		assert_int_equal(insert_vm(ft, FT_NONE, &c), -EINVAL);
		assert_int_equal(c.n, 0);

		/* twice the same VM */
		assert_int_equal(insert_vm(ft, 5, &c), 0);
		assert_int_equal(insert_vm(ft, 6, &c), 0);
		assert_int_equal(insert_vm(ft, 5, &c), -EEXIST);
		assert_int_equal(c.n, 0);
		assert_int_equal(insert_vm(ft, 6, &c), -EEXIST);
		assert_int_equal(ft_size(ft), 2);
		must_check(ft);

		/* absent VMs */
		assert_int_equal(delete_vm(ft, 7, &c), -ENOENT);
		assert_int_equal(c.n, 0);
		assert_int_equal(ft_parent(ft, 7, &p), -ENOENT);
		assert_int_equal(ft_children(ft, FT_NONE, ch), -ENOENT);
		assert_int_equal(delete_vm(ft, 5, &c), 0);
		assert_int_equal(delete_vm(ft, 5, &c), -ENOENT);
		assert_int_equal(ft_size(ft), 1);
		must_check(ft);
		ft_free(ft);
	}
}

/* ---- ft_check ---- */

static struct ft_node *node_of(struct ft *ft, const char *path)
{
	struct ft_node *n = ft->root;

	for (; *path; path++)
		n = n->child[*path == 'r'];
	return n;
}

/* Recompute the stored fields below n, so that a test corrupts only what it
 * means to. */
static void fix_fields(struct ft_node *n)
{
	unsigned int l, r, fl, fr;

	if (!n)
		return;
	fix_fields(n->child[FT_LEFT]);
	fix_fields(n->child[FT_RIGHT]);
	l = n->child[FT_LEFT] ? n->child[FT_LEFT]->height : 0;
	r = n->child[FT_RIGHT] ? n->child[FT_RIGHT]->height : 0;
	fl = n->child[FT_LEFT] ? n->child[FT_LEFT]->full : 0;
	fr = n->child[FT_RIGHT] ? n->child[FT_RIGHT]->full : 0;
	n->height = (uint8_t)(1 + (l > r ? l : r));
	n->full = (uint8_t)(1 + (fl < fr ? fl : fr));
}

static void expect_broken(const struct ft *ft, const char *what)
{
	struct err e = {{0}};

	assert_int_equal(ft_check(ft, &e), -EUCLEAN);
	if (!strstr(e.msg, what))
		fail_msg("ft_check said \"%s\", expected \"%s\"", e.msg, what);
	assert_int_equal(ft_check(ft, NULL), -EUCLEAN);
}

static void test_check_detects(void **state)
{
	struct ft_node *n4, *n5, *n3, *n7, *n2;
	struct ft *ft;

	(void)state;
	ft = build(FT_REPAIR_AVL, 7);
	n2 = node_of(ft, "l");
	n3 = node_of(ft, "r");
	n4 = node_of(ft, "ll");
	n5 = node_of(ft, "lr");
	n7 = node_of(ft, "rr");

	n4->height = 5;
	expect_broken(ft, "stored height 5");
	n4->height = 1;

	n2->full = 1;
	expect_broken(ft, "stored full levels 1");
	n2->full = 2;

	n5->parent = n3;
	expect_broken(ft, "vm 5: parent link says vm 3");
	n5->parent = n2;

	n5->vm = 4;
	expect_broken(ft, "points to another node");
	n5->vm = 5;

	ft->n++;
	expect_broken(ft, "index holds 7 nodes, size says 8");
	ft->n--;

	/* 7 cut off, but still indexed */
	n3->child[FT_RIGHT] = NULL;
	fix_fields(ft->root);
	expect_broken(ft, "6 nodes reachable from the root, size says 7");

	/* 7 hanging twice under 4 */
	n4->child[FT_LEFT] = n7;
	n4->child[FT_RIGHT] = n7;
	n7->parent = n4;
	fix_fields(ft->root);
	expect_broken(ft, "more than 7 nodes reachable");
	n4->child[FT_LEFT] = NULL;
	n4->child[FT_RIGHT] = NULL;
	n3->child[FT_RIGHT] = n7;
	n7->parent = n3;
	fix_fields(ft->root);
	must_check(ft);

	/* 3's subtree moved under 4: fields right, balance wrong */
	ft->root->child[FT_RIGHT] = NULL;
	n4->child[FT_LEFT] = n3;
	n3->parent = n4;
	fix_fields(ft->root);
	expect_broken(ft, "unbalanced");
	n4->child[FT_LEFT] = NULL;
	ft->root->child[FT_RIGHT] = n3;
	n3->parent = ft->root;
	fix_fields(ft->root);
	must_check(ft);
	ft_free(ft);

	/* balanced but not complete: 4 moved from under 2 to under 3 */
	ft = build(FT_REPAIR_COMPLETE, 4);
	n2 = node_of(ft, "l");
	n3 = node_of(ft, "r");
	n4 = node_of(ft, "ll");
	n2->child[FT_LEFT] = NULL;
	n3->child[FT_LEFT] = n4;
	n4->parent = n3;
	fix_fields(ft->root);
	expect_broken(ft, "breadth-first position 5 of a complete tree of 4");
	ft_free(ft);
}

/* ---- DOT ---- */

static void test_dump_dot(void **state)
{
	char *buf = NULL, line[64];
	uint32_t i, p;
	size_t len = 0;
	struct ft *ft;
	FILE *f;

	(void)state;
	ft = build(FT_REPAIR_AVL, 12);
	assert_int_equal(ft_delete(ft, 3, NULL, NULL), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(ft_dump_dot(ft, f, "fn \"a\\b\""), 0);
	fclose(f);
	assert_non_null(strstr(buf, "digraph \"fn \\\"a\\\\b\\\"\" {\n"));
	assert_int_equal(ft_root(ft, &p), 0);
	snprintf(line, sizeof(line), "\tregistry -> v%" PRIu32 ";\n", p);
	assert_non_null(strstr(buf, line));
	for (i = 1; i <= 12; i++) {
		if (i == 3)
			continue;
		snprintf(line, sizeof(line),
			 "\tv%" PRIu32 " [label=\"%" PRIu32 "\"];\n", i, i);
		if (!strstr(buf, line))
			fail_msg("no node line for vm %" PRIu32, i);
		assert_int_equal(ft_parent(ft, i, &p), 0);
		if (p == REG)
			continue;
		snprintf(line, sizeof(line),
			 "\tv%" PRIu32 " -> v%" PRIu32 ";\n", p, i);
		if (!strstr(buf, line))
			fail_msg("no edge %" PRIu32 " -> %" PRIu32, p, i);
	}
	assert_null(strstr(buf, "v3 "));
	assert_null(strstr(buf, "v3;"));
	assert_non_null(strstr(buf, "}\n"));
	free(buf);
	ft_free(ft);
}

/* ---- random runs against a reference model ---- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
	return (size_t)(splitmix64(s) % n);
}

/* VM ids spread over the whole uint32_t range: id = k * A mod 2^32 for the
 * k-th new VM, so the test keeps its per-VM state in arrays indexed by k. */
#define ID_MUL UINT32_C(0x2545f491)

static uint32_t id_of(uint32_t k)
{
	return k * ID_MUL;
}

struct model {
	uint32_t *present; /* k of every VM in the tree, in no order */
	uint32_t *slot;	   /* k -> index in present + 1, 0 when absent */
	uint32_t *before;  /* k -> parent before the step */
	bool *reported;	   /* k -> named in this step's changes */
	size_t n;
};

struct stats {
	size_t inserts, deletes, root_deletes, interior_deletes, rotating,
		moved, max_moved, max_size;
};

static void model_add(struct model *m, uint32_t k)
{
	m->present[m->n] = k;
	m->slot[k] = (uint32_t)++m->n;
}

static void model_del(struct model *m, uint32_t k)
{
	uint32_t i = m->slot[k] - 1, last = m->present[m->n - 1];

	m->present[i] = last;
	m->slot[last] = i + 1;
	m->slot[k] = 0;
	m->n--;
}

static void random_run(enum ft_repair repair, uint64_t seed, uint32_t steps)
{
	uint32_t inv = ID_MUL, k, next = 0, step, i, p, ch[2], root, vm = 0;
	struct model m = {0};
	struct stats st = {0};
	struct changes c;
	size_t target = 0, window;
	bool is_insert, snap, had_children;
	struct ft *ft;
	int ret;

	/* the inverse of ID_MUL mod 2^32 (Newton), to map ids back to k */
	for (i = 0; i < 5; i++)
		inv *= 2 - ID_MUL * inv;
	m.present = calloc(steps + 1, sizeof(*m.present));
	m.slot = calloc(steps + 1, sizeof(*m.slot));
	m.before = calloc(steps + 1, sizeof(*m.before));
	m.reported = calloc(steps + 1, sizeof(*m.reported));
	assert_true(m.present && m.slot && m.before && m.reported);
	ft = ft_new(repair);
	assert_non_null(ft);

	for (step = 0; step < steps; step++) {
		/* A size target every 4096 steps: mostly a handful to a few
		 * hundred VMs, where a step is cheap, and two excursions to
		 * one and to a few thousand. The tree drifts towards the
		 * target and then wanders around it, inserting and deleting. */
		if (step % 4096 == 0) {
			window = step / 4096;
			if (window == 6)
				target = 1000 + below(&seed, 500);
			else if (window == 14)
				target = 2500 + below(&seed, 500);
			else if (below(&seed, 2))
				target = below(&seed, 16);
			else
				target = below(&seed, 400);
		}
		is_insert = m.n == 0 ||
			    below(&seed, 100) < (m.n < target ? 85u : 15u);

		snap = step < 10000 || step % 100 == 0;
		if (snap)
			for (i = 0; i < m.n; i++) {
				k = m.present[i];
				assert_int_equal(
					ft_parent(ft, id_of(k), &m.before[k]),
					0);
			}

		had_children = false;
		if (is_insert) {
			k = next++;
			if (id_of(k) == FT_NONE)
				k = next++;
			vm = id_of(k);
			ret = insert_vm(ft, vm, &c);
			assert_int_equal(ret, 0);
			model_add(&m, k);
			st.inserts++;
		} else {
			switch (below(&seed, 10)) {
			case 0: /* the root */
				assert_int_equal(ft_root(ft, &vm), 0);
				st.root_deletes++;
				break;
			case 1:
			case 2: /* an interior node: a leaf's parent will do */
				vm = id_of(m.present[below(&seed, m.n)]);
				if (ft_children(ft, vm, ch) == 0 &&
				    ft_parent(ft, vm, &p) == 0 && p != REG)
					vm = p;
				break;
			default:
				vm = id_of(m.present[below(&seed, m.n)]);
			}
			ret = ft_children(ft, vm, ch);
			assert_true(ret >= 0);
			had_children = ret > 0;
			st.interior_deletes += had_children;
			ret = delete_vm(ft, vm, &c);
			assert_int_equal(ret, 0);
			k = vm * inv;
			model_del(&m, k);
			st.deletes++;
			st.moved += c.n;
			if (c.n > st.max_moved)
				st.max_moved = c.n;
			/* a leaf that moves someone, or more moves than the
			 * replacement alone makes, means a rotation */
			if ((!had_children && repair == FT_REPAIR_AVL &&
			     c.n > 0) ||
			    c.n > 3)
				st.rotating++;
		}
		if (m.n > st.max_size)
			st.max_size = m.n;

		/* the tree is sound and holds the model's set */
		must_check(ft);
		assert_int_equal(ft_size(ft), m.n);
		for (i = 0; i < m.n; i++)
			if (!ft_contains(ft, id_of(m.present[i])))
				fail_msg("step %" PRIu32 ": vm %" PRIu32
					 " missing",
					 step, id_of(m.present[i]));
		assert_int_equal(ft_contains(ft, vm), is_insert);
		assert_false(ft_contains(ft, id_of(next)));

		/* the height */
		if (ft_height(ft) > levels(m.n) + 1)
			fail_msg("step %" PRIu32 ": height %u with %zu VMs",
				 step, ft_height(ft), m.n);
		if (repair == FT_REPAIR_COMPLETE)
			assert_int_equal(ft_height(ft), levels(m.n));

		/* the reports */
		assert_false(c.overflow);
		if (is_insert) {
			assert_int_equal(c.n, 1);
			assert_int_equal(c.vm[0], vm);
		}
		if (repair == FT_REPAIR_COMPLETE)
			assert_true(c.n <= 3);
		for (i = 0; i < c.n; i++) {
			k = c.vm[i] * inv;
			if (k >= next || !m.slot[k])
				fail_msg("step %" PRIu32 ": change for absent "
					 "vm %" PRIu32,
					 step, c.vm[i]);
			if (m.reported[k])
				fail_msg("step %" PRIu32 ": vm %" PRIu32
					 " reported twice",
					 step, c.vm[i]);
			m.reported[k] = true;
			assert_int_equal(ft_parent(ft, c.vm[i], &p), 0);
			if (p != c.parent[i])
				fail_msg("step %" PRIu32 ": vm %" PRIu32
					 " reported under %" PRIu32
					 ", is under %" PRIu32,
					 step, c.vm[i], c.parent[i], p);
			if (!(is_insert && c.vm[i] == vm) && snap &&
			    m.before[k] == p)
				fail_msg("step %" PRIu32 ": vm %" PRIu32
					 " reported but kept its parent",
					 step, c.vm[i]);
		}
		if (snap) {
			for (i = 0; i < m.n; i++) {
				k = m.present[i];
				if (m.reported[k] ||
				    (is_insert && id_of(k) == vm))
					continue;
				assert_int_equal(ft_parent(ft, id_of(k), &p),
						 0);
				if (p != m.before[k])
					fail_msg("step %" PRIu32 ": vm %" PRIu32
						 " moved from %" PRIu32
						 " to %" PRIu32 " unreported",
						 step, id_of(k), m.before[k],
						 p);
			}
		}
		for (i = 0; i < c.n; i++)
			m.reported[c.vm[i] * inv] = false;
	}
	if (ft_root(ft, &root) == 0)
		assert_int_equal(ft_parent(ft, root, &p), 0);

	print_message("%s: %zu inserts, %zu deletes (%zu roots, %zu with "
		      "children, %zu rotating; parent changes per delete: "
		      "%.2f on average, %zu at most), up to %zu VMs\n",
		      repair_name(repair), st.inserts, st.deletes,
		      st.root_deletes, st.interior_deletes, st.rotating,
		      (double)st.moved / (double)st.deletes, st.max_moved,
		      st.max_size);
	assert_true(st.max_size >= 2000);
	assert_true(st.root_deletes > 1000);
	if (repair == FT_REPAIR_AVL)
		assert_true(st.rotating > 100);
	else
		assert_int_equal(st.rotating, 0);

	ft_free(ft);
	free(m.present);
	free(m.slot);
	free(m.before);
	free(m.reported);
}

/* ---- replaying what an observer heard ---- */

struct oplog {
	size_t n;
	enum ft_op op[4096];
	uint32_t vm[4096];
};

static void record(void *arg, enum ft_op op, uint32_t vm)
{
	struct oplog *l = arg;

	assert_true(l->n < ARRAY_SIZE(l->op));
	l->op[l->n] = op;
	l->vm[l->n] = vm;
	l->n++;
}

/* What the FT manager's journal relies on: the observer hears every
 * successful insert and delete (no failed one) in order, and the same
 * operations on a new tree give every VM the same parent. */
static void test_observed_ops_replay(void **state)
{
	static struct oplog log;
	uint64_t seed = 7;
	size_t r, i;

	(void)state;
	for (r = 0; r < ARRAY_SIZE(repairs); r++) {
		struct ft *a = ft_new(repairs[r]), *b = ft_new(repairs[r]);
		uint32_t vm, pa, pb;

		assert_non_null(a);
		assert_non_null(b);
		memset(&log, 0, sizeof(log));
		ft_observe(a, record, &log);
		for (i = 0; i < 3000; i++) {
			vm = (uint32_t)below(&seed, 200);
			/* half of these fail: already in, or not there */
			if (below(&seed, 3))
				ft_insert(a, vm, NULL, NULL);
			else
				ft_delete(a, vm, NULL, NULL);
		}
		for (i = 0; i < log.n; i++)
			assert_int_equal(
				log.op[i] == FT_OP_INSERT
					? ft_insert(b, log.vm[i], NULL, NULL)
					: ft_delete(b, log.vm[i], NULL, NULL),
				0);
		must_check(b);
		assert_int_equal(ft_size(a), ft_size(b));
		for (vm = 0; vm < 200; vm++) {
			assert_int_equal(ft_contains(a, vm),
					 ft_contains(b, vm));
			if (!ft_contains(a, vm))
				continue;
			assert_int_equal(ft_parent(a, vm, &pa), 0);
			assert_int_equal(ft_parent(b, vm, &pb), 0);
			assert_int_equal(pa, pb);
		}
		/* Unobserved again: nothing more is heard. */
		ft_observe(a, NULL, NULL);
		i = log.n;
		ft_insert(a, 1000, NULL, NULL);
		assert_int_equal(log.n, i);
		ft_free(a);
		ft_free(b);
	}
}

static void test_random_avl(void **state)
{
	(void)state;
	random_run(FT_REPAIR_AVL, 1, 100000);
}

static void test_random_complete(void **state)
{
	(void)state;
	random_run(FT_REPAIR_COMPLETE, 2, 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_bfs_shape),
		cmocka_unit_test(test_delete_leaf),
		cmocka_unit_test(test_delete_root),
		cmocka_unit_test(test_delete_interior),
		cmocka_unit_test(test_rotations),
		cmocka_unit_test(test_avl_height_not_minimal),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_check_detects),
		cmocka_unit_test(test_dump_dot),
		cmocka_unit_test(test_observed_ops_replay),
		cmocka_unit_test(test_random_avl),
		cmocka_unit_test(test_random_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* treewatch: a manager's timeline, written line by line here, mirrored as
 * trees; roles picked the largest subtrees first; a line the manager is
 * still writing is read once it is whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "treewatch.h"

static char path[] = "/tmp/fnet-test-treewatch-XXXXXX";
static struct scenario sc;
static struct scenario_function fns[2] = {{.name = "f1"}, {.name = "f2"}};

static int setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	sc.functions = fns;
	sc.nfunctions = 2;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void put(const char *text)
{
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* t in ms: a round of the manager's apart */
static void provision(uint64_t t, const char *fn, const char *vm,
		      const char *parent)
{
	char line[256];

	snprintf(line, sizeof(line),
		 "{\"t_ns\":%llu,\"who\":\"manager\",\"event\":\"provision\","
		 "\"function\":\"%s\",\"vm\":\"%s\",\"parent\":\"%s\"}\n",
		 (unsigned long long)(t * 1000000), fn, vm, parent);
	put(line);
}

/* f1: vm0 root; vm1, vm2 under it; vm3, vm4 under vm1; vm5 under vm2;
 * vm6 under vm3. */
static void tree(void)
{
	provision(1, "f1", "vm0000", "registry");
	provision(2, "f1", "vm0001", "vm0000");
	provision(3, "f1", "vm0002", "vm0000");
	provision(4, "f1", "vm0003", "vm0001");
	provision(5, "f1", "vm0004", "vm0001");
	provision(6, "f1", "vm0005", "vm0002");
	provision(7, "f1", "vm0006", "vm0003");
	provision(8, "f2", "vm0007", "registry");
}

static void test_roles(void **state)
{
	struct treewatch *tw;
	unsigned out[8];
	size_t n;

	(void)state;
	assert_int_equal(truncate(path, 0), 0);
	tree();
	assert_int_equal(treewatch_new(path, &sc, 8, &tw), 0);
	assert_int_equal(treewatch_poll(tw), 0);
	n = treewatch_pick(tw, 0, SCENARIO_ROLE_ROOT, -1, out, 8);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0);
	/* interior: vm1 (4 in its subtree), vm3 (2), vm2 (2): by size, then
	 * index */
	n = treewatch_pick(tw, 0, SCENARIO_ROLE_INTERIOR, -1, out, 8);
	assert_int_equal(n, 3);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 3);
	/* the largest one only */
	n = treewatch_pick(tw, 0, SCENARIO_ROLE_INTERIOR, -1, out, 1);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 1);
	n = treewatch_pick(tw, 0, SCENARIO_ROLE_INTERIOR, 2, out, 8);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 3);
	n = treewatch_pick(tw, 0, SCENARIO_ROLE_LEAF, -1, out, 8);
	assert_int_equal(n, 3); /* vm4, vm5, vm6 */
	assert_int_equal(treewatch_count(tw, 0, SCENARIO_ROLE_ANY, -1), 7);
	assert_int_equal(treewatch_count(tw, 1, SCENARIO_ROLE_ROOT, -1), 1);
	treewatch_free(tw);
}

static void test_loss_and_history(void **state)
{
	const struct treewatch_sample *ts;
	struct treewatch *tw;
	unsigned out[8];
	size_t n;

	(void)state;
	assert_int_equal(truncate(path, 0), 0);
	tree();
	assert_int_equal(treewatch_new(path, &sc, 8, &tw), 0);
	assert_int_equal(treewatch_poll(tw), 0);
	/* vm1 dies; the manager moves vm3 into its place */
	put("{\"t_ns\":20000000,\"event\":\"vm_lost\",\"vm\":\"vm0001\"}\n"
	    "{\"t_ns\":20000100,\"event\":\"parent\",\"function\":\"f1\","
	    "\"vm\":\"vm0003\",\"parent\":\"vm0000\"}\n"
	    "{\"t_ns\":20000200,\"event\":\"parent\",\"function\":\"f1\","
	    "\"vm\":\"vm0004\",\"parent\":\"vm0003\"}\n");
	/* half a line: not read yet */
	put("{\"t_ns\":30000000,\"event\":\"reclaim\",\"function\":\"f1\","
	    "\"vm\":\"vm0006\",");
	assert_int_equal(treewatch_poll(tw), 0);
	assert_int_equal(treewatch_count(tw, 0, SCENARIO_ROLE_ANY, -1), 6);
	n = treewatch_pick(tw, 0, SCENARIO_ROLE_INTERIOR, 1, out, 8);
	assert_int_equal(n, 2); /* vm3 (vm4, vm6 below), vm2 */
	assert_int_equal(out[0], 3);
	put("\"leaves_tree\":true}\n");
	assert_int_equal(treewatch_poll(tw), 0);
	assert_int_equal(treewatch_count(tw, 0, SCENARIO_ROLE_ANY, -1), 5);
	ts = treewatch_samples(tw, &n);
	/* 8 joins, the loss, and the reclaim: each changed a size */
	assert_int_equal(n, 10);
	assert_int_equal(ts[0].height, 1);
	assert_int_equal(ts[6].height, 4); /* vm6 at depth 3 */
	assert_int_equal(ts[7].fn, 1);
	/* the loss and its repair, one round (the orphans' moment between
	 * is not a sample): vm3 moved up, three levels */
	assert_int_equal(ts[8].t_ns, 20000000);
	assert_int_equal(ts[8].size, 6);
	assert_int_equal(ts[8].height, 3);
	assert_int_equal(ts[9].size, 5);
	/* the root dies: for a moment every VM is an orphan (height 0), which
	 * is not a state of the tree's */
	put("{\"t_ns\":40000000,\"event\":\"vm_lost\",\"vm\":\"vm0000\"}\n"
	    "{\"t_ns\":40000100,\"event\":\"parent\",\"function\":\"f1\","
	    "\"vm\":\"vm0003\",\"parent\":\"registry\"}\n"
	    "{\"t_ns\":40000200,\"event\":\"parent\",\"function\":\"f1\","
	    "\"vm\":\"vm0002\",\"parent\":\"vm0003\"}\n");
	assert_int_equal(treewatch_poll(tw), 0);
	ts = treewatch_samples(tw, &n);
	assert_int_equal(n, 11);
	assert_int_equal(ts[10].size, 4);   /* vm3, vm4, vm2, vm5 */
	assert_int_equal(ts[10].height, 3); /* vm3 > vm2 > vm5 */
	n = treewatch_pick(tw, 0, SCENARIO_ROLE_ROOT, -1, out, 8);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 3);
	treewatch_free(tw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_loss_and_history),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

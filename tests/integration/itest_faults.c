/* End-to-end: every kind of fault a scenario can ask for (docs/faults.md),
 * through `faasnet-testbed run` (the sanitized build), each run against
 * the same run without its faults. What must hold under each: every
 * container asked for starts (placed again when its VM died), no corrupt
 * block is used, the fault and what undoes it are in the timeline, and
 * faults.csv says what it cost. Needs root and docker-registry. */
#include "itest.h"

#include <jansson.h>
#include <limits.h>

#include "itest_summary.h"

#define NVMS 12

static char dir[96], file[128];
/* containers of the run: NVMS, or fewer to leave VMs free for the lost
 * ones to be placed on */
static unsigned ncont;

static int teardown(void **state)
{
	(void)state;
	if (dir[0])
		itest_run(NULL, "rm -rf %s %s", dir, file);
	itest_run(NULL, ITEST_BIN " clean >&2");
	return 0;
}

/* Runs strategy on NVMS VMs, an image that streams whole (so a fault
 * lands while blocks flow), with the faults given as YAML list items;
 * returns summary.json. */
static json_t *run_n(const char *strategy, unsigned containers,
		     const char *faults)
{
	int degraded;
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/fnet-itest-faults-%d", (int)getpid());
	snprintf(file, sizeof(file), "/tmp/fnet-itest-faults-%d.yaml",
		 (int)getpid());
	itest_run(NULL, "rm -rf %s", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f,
		"name: itest-faults\n"
		"topology:\n"
		"  vms: %d\n"
		"  rack_size: 6\n"
		"  vm_link: { rate: 100mbit }\n"
		"  registry_link: { rate: 200mbit }\n"
		"images:\n"
		"  - { name: img, size: 12MB, block_size: 256KiB, "
		"startup_fraction: 1.0, seed: 3 }\n"
		"functions:\n"
		"  - { name: f1, image: img }\n"
		"workload:\n"
		"  - { at: 0s, invoke: f1, containers: %d }\n"
		"strategies: [%s]\n"
		"timeout: 60s\n"
		"faults:\n%s",
		NVMS, containers, strategy, faults);
	ncont = containers;
	assert_int_equal(fclose(f), 0);
	assert_int_equal(itest_run(NULL,
				   ITEST_BIN " run %s --out %s --allow-degraded"
					     " >&2",
				   file, dir),
			 0);
	return itest_summary_load(dir, &degraded);
}

static json_t *run(const char *strategy, const char *faults)
{
	return run_n(strategy, NVMS, faults);
}

/* The run with faults started every container, used no corrupt block,
 * and so did the one without. */
static void all_started(json_t *root, const char *strategy)
{
	char name[32];
	json_t *r;

	r = itest_summary_run(root, strategy);
	assert_int_equal(json_integer_value(json_object_get(r, "started")),
			 ncont);
	snprintf(name, sizeof(name), "%s+faults", strategy);
	r = itest_summary_run(root, name);
	assert_int_equal(json_integer_value(json_object_get(r, "started")),
			 ncont);
}

/* Lines of the faulted run's timeline file (faults.jsonl,
 * manager.jsonl...) holding every one of the given strings. */
static int lines(const char *strategy, const char *log, const char *a,
		 const char *b)
{
	return itest_count2("cat %s/raw/%s+faults/%s | grep -F -- '%s' | "
			    "grep -F -- '%s'",
			    dir, strategy, log, a, b ? b : a);
}

/* A field of faults.csv's row for fault i, by column name. */
static double fault_field(unsigned i, const char *column)
{
	char path[160], line[1024], *tok, *save;
	int col = -1, c;
	double v = -1e9;
	FILE *f;

	snprintf(path, sizeof(path), "%s/faults.csv", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	for (c = 0, tok = strtok_r(line, ",\n", &save); tok;
	     tok = strtok_r(NULL, ",\n", &save), c++)
		if (!strcmp(tok, column))
			col = c;
	assert_true(col >= 0);
	while (fgets(line, sizeof(line), f)) {
		char *fields[32];
		int n = 0;

		for (tok = strtok_r(line, ",\n", &save); tok && n < 32;
		     tok = strtok_r(NULL, ",\n", &save))
			fields[n++] = tok;
		if (n > col && (unsigned)atoi(fields[2]) == i)
			v = atof(fields[col]);
	}
	fclose(f);
	return v;
}

/* The tree's root and its two largest interior subtrees' agents die while
 * the image streams: the scheduler places their containers again, the
 * tree is repaired, and every container starts. */
static void test_kill_root_and_interior(void **state)
{
	json_t *root;

	(void)state;
	ITEST_NEED_REGISTRY();
	/* 9 containers on 12 VMs: room for the 3 lost ones */
	root = run_n(
		"faasnet", 9,
		"  - { at: 300ms, kill: agent, role: root }\n"
		"  - { at: 300ms, kill: agent, role: interior, count: 2 }\n");
	all_started(root, "faasnet");
	assert_int_equal(json_integer_value(json_object_get(
				 itest_summary_run(root, "faasnet+faults"),
				 "corrupt_blocks")),
			 0);
	json_decref(root);
	/* three VMs died, each with its container not yet up */
	assert_true(fault_field(0, "lost") == 1);
	assert_true(fault_field(1, "lost") == 2);
	assert_true(fault_field(0, "replaced") == 1);
	assert_true(fault_field(1, "replaced") == 2);
	/* the manager saw each death at once (the connection closed) */
	assert_true(fault_field(0, "detect_s") >= 0);
	assert_true(fault_field(0, "detect_s") < 1);
	assert_int_equal(lines("faasnet", "manager.jsonl", "\"vm_lost\"", NULL),
			 3);
}

/* An agent killed and started again: it registers again, empty. */
static void test_agent_restart(void **state)
{
	json_t *root;

	(void)state;
	ITEST_NEED_REGISTRY();
	root = run("faasnet", "  - { at: 200ms, kill: agent, vm: vm0005, "
			      "restart: 300ms }\n");
	all_started(root, "faasnet");
	json_decref(root);
	assert_int_equal(lines("faasnet", "faults.jsonl", "\"restart\"",
			       "\"error\":\"\""),
			 1);
	assert_int_equal(
		lines("faasnet", "manager.jsonl", "\"vm_up\"", "vm0005"), 2);
}

/* The registry killed while every VM reads it, started again a second
 * later on the same storage: the run is only delayed. */
static void test_registry_restart(void **state)
{
	json_t *root;

	(void)state;
	ITEST_NEED_REGISTRY();
	root = run("ondemand",
		   "  - { at: 200ms, kill: registry, restart: 1s }\n");
	all_started(root, "ondemand");
	json_decref(root);
	assert_int_equal(lines("ondemand", "faults.jsonl", "\"restart\"",
			       "\"error\":\"\""),
			 1);
	assert_true(fault_field(0, "slowest_s") >
		    fault_field(0, "slowest_nofault_s"));
}

/* The manager killed and started again: it keeps its trees (its
 * journal), the agents and the driver connect again, and nothing is
 * placed twice. */
static void test_manager_restart(void **state)
{
	json_t *root;

	(void)state;
	ITEST_NEED_REGISTRY();
	root = run("faasnet",
		   "  - { at: 200ms, kill: manager, restart: 300ms }\n");
	all_started(root, "faasnet");
	json_decref(root);
	assert_int_equal(lines("faasnet", "faults.jsonl", "\"restart\"",
			       "\"error\":\"\""),
			 1);
	/* twice up, and no VM lost or container placed again */
	assert_int_equal(
		lines("faasnet", "manager.jsonl", "\"manager_up\"", NULL), 2);
	assert_int_equal(
		lines("faasnet", "manager.jsonl", "\"replaced\"", NULL), 0);
}

/* A VM's link down and up, another's flapping, the registry's slowed: all
 * undone, every container up. */
static void test_links(void **state)
{
	json_t *root;

	(void)state;
	ITEST_NEED_REGISTRY();
	root = run(
		"faasnet",
		"  - { at: 200ms, link: agent, vm: vm0003, down: 500ms }\n"
		"  - { at: 200ms, link: agent, vm: vm0004, flap: 100ms, "
		"times: 3 }\n"
		"  - { at: 100ms, link: registry, rate: 20mbit, for: 1s }\n");
	all_started(root, "faasnet");
	json_decref(root);
	/* down: one up; flap: three downs, three ups (two after the first) */
	assert_int_equal(lines("faasnet", "faults.jsonl", "\"link_up\"",
			       "\"error\":\"\""),
			 4);
	assert_int_equal(lines("faasnet", "faults.jsonl", "\"link_down\"",
			       "\"error\":\"\""),
			 2);
	assert_int_equal(lines("faasnet", "faults.jsonl", "\"rate_back\"",
			       "\"error\":\"\""),
			 1);
	/* the registry's slower link shows */
	assert_true(fault_field(2, "slowest_s") >
		    fault_field(2, "slowest_nofault_s"));
}

/* The root lies, in each way an agent can: its children catch it, report
 * it, the manager takes it out of the trees, and every container starts
 * the real image (every byte is checked against the pinned digest before
 * use: tests/unit/test_agent.c shows each lie refused block by block). */
static void lie(const char *how, const char *caught, const char *verdict)
{
	char fault[96];
	json_t *root;

	snprintf(fault, sizeof(fault), "  - { at: 0s, lie: %s, role: root }\n",
		 how);
	root = run("faasnet", fault);
	all_started(root, "faasnet");
	json_decref(root);
	/* the liar was told, its children caught it, the manager heard them:
	 * bad bytes are believed at once (vm_distrusted); a time-out moves
	 * the reporter (suspect_unresponsive), and distrust waits for two
	 * children and a window longer than this run */
	assert_int_equal(
		lines("faasnet", "vm*.jsonl", "\"event\":\"lie\"", how), 1);
	assert_true(lines("faasnet", "vm*.jsonl", caught, NULL) >= 1);
	assert_true(lines("faasnet", "manager.jsonl", verdict, NULL) >= 1);
}

static void test_lie_corrupt(void **state)
{
	(void)state;
	ITEST_NEED_REGISTRY();
	lie("corrupt", "\"parent_lied\"", "\"vm_distrusted\"");
}

static void test_lie_fake(void **state)
{
	(void)state;
	ITEST_NEED_REGISTRY();
	lie("fake", "\"parent_lied\"", "\"vm_distrusted\"");
}

static void test_lie_slow(void **state)
{
	(void)state;
	ITEST_NEED_REGISTRY();
	lie("slow", "\"parent_unresponsive\"", "\"suspect_unresponsive\"");
}

static void test_lie_silent(void **state)
{
	(void)state;
	ITEST_NEED_REGISTRY();
	lie("silent", "\"parent_unresponsive\"", "\"suspect_unresponsive\"");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill_root_and_interior,
					  teardown),
		cmocka_unit_test_teardown(test_agent_restart, teardown),
		cmocka_unit_test_teardown(test_registry_restart, teardown),
		cmocka_unit_test_teardown(test_manager_restart, teardown),
		cmocka_unit_test_teardown(test_links, teardown),
		cmocka_unit_test_teardown(test_lie_corrupt, teardown),
		cmocka_unit_test_teardown(test_lie_fake, teardown),
		cmocka_unit_test_teardown(test_lie_slow, teardown),
		cmocka_unit_test_teardown(test_lie_silent, teardown),
	};

	/* One test by name (a pattern), for working on it. */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

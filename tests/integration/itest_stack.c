/* Integration tests of the FaaSNet stack as real processes: the manager in
 * fnet-manager, one agent per VM, the registry in fnet-registry, one image.
 * Until `faasnet-testbed run` exists the test starts the processes itself
 * (by PID, ended by PID). Need root. */
#include "itest.h"

#include <jansson.h>
#include <signal.h>

#define IMG_BIN	    "build/asan/bin/faasnet-image"
#define AGENT_BIN   "build/asan/bin/faasnet-agent"
#define MANAGER_BIN "build/asan/bin/faasnet-manager"
#define INVOKE_BIN  "build/asan/bin/faasnet-invoke"
/* The agents are given the reference pinned by the manifest's digest, as
 * the testbed gives it (docs/protocol.md, "Trust"). */
#define REPO "198.18.0.2:5000/fn/one"
/* One test pushes another image under the same tag and wants the tag. */
static int by_tag;
#define MAX_VMS 16

struct stack {
	char dir[64];
	pid_t manager, agents[MAX_VMS];
	int nvms;
};

static char image_dir[64];
/* The running test's stack: group teardown-per-test frees it even when an
 * assertion ends the test early. */
static struct stack cur;

static void stack_free(struct stack *s);

static int test_teardown(void **state)
{
	(void)state;
	if (cur.dir[0])
		stack_free(&cur);
	memset(&cur, 0, sizeof(cur));
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (geteuid() != 0 || access(IMG_BIN, X_OK) ||
	    access("/usr/bin/docker-registry", X_OK))
		return 0;
	snprintf(image_dir, sizeof(image_dir), "/tmp/fnet-itest-stk-XXXXXX");
	if (!mkdtemp(image_dir))
		return -1;
	/* 32 MB, 62 blocks, a start-up set of 10: enough to see the tree. */
	return itest_run(NULL,
			 IMG_BIN " synth fn --size 32MB --seed 3 --out "
				 "%s/img >&2",
			 image_dir)
		       ? -1
		       : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (image_dir[0])
		itest_run(NULL, "rm -rf %s", image_dir);
	return 0;
}

static pid_t spawn_in(const char *ns, char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		char *args[32] = {"ip", "netns", "exec", (char *)ns};
		int i;

		for (i = 0; argv[i] && i < 27; i++)
			args[4 + i] = argv[i];
		args[4 + i] = NULL;
		/* ip netns exec execs the command: the PID stays ours. */
		execvp("ip", args);
		_exit(127);
	}
	return pid;
}

static void stack_start_opts(struct stack *s, int nvms, const char *rate,
			     const char *strategy, const char *fetch,
			     const char *reclaim_ms)
{
	char yaml[128], fn[200], ev[128], name[16], addr[32];
	int i;

	memset(s, 0, sizeof(*s));
	s->nvms = nvms;
	snprintf(s->dir, sizeof(s->dir), "/tmp/fnet-itest-run-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(yaml, sizeof(yaml), "%s/topo.yaml", s->dir);
	assert_int_equal(itest_run(NULL,
				   "printf 'vms: %d\\nvm_link: { rate: "
				   "%s }\\nregistry_link: { rate: 1gbit "
				   "}\\n' > %s",
				   nvms, rate, yaml),
			 0);
	itest_run(NULL, ITEST_BIN " clean >&2");
	assert_int_equal(itest_run(NULL, ITEST_BIN " up %s >&2", yaml), 0);
	assert_int_equal(itest_run(NULL,
				   ITEST_BIN " registry start --storage "
					     "%s/reg >&2",
				   s->dir),
			 0);
	assert_int_equal(itest_run(NULL,
				   IMG_BIN
				   " push %s/img --registry "
				   "198.18.0.2:5000 --name fn/one:v1 >&2",
				   image_dir),
			 0);
	if (by_tag) {
		snprintf(fn, sizeof(fn), "f1=" REPO ":v1");
	} else {
		char *dig = NULL;

		assert_int_equal(itest_run(&dig,
					   "grep -o 'sha256:[0-9a-f]*' "
					   "%s/img/index.json | head -1 | "
					   "tr -d '\\n'",
					   image_dir),
				 0);
		assert_int_equal(strlen(dig), 71);
		snprintf(fn, sizeof(fn), "f1=" REPO "@%s", dig);
		free(dig);
	}
	snprintf(ev, sizeof(ev), "%s/manager.jsonl", s->dir);
	{
		char dot[128];
		char *argv[] = {MANAGER_BIN,
				"--function",
				fn,
				"--strategy",
				(char *)strategy,
				"--events",
				ev,
				"--dot",
				dot,
				"--reclaim-ms",
				(char *)reclaim_ms,
				NULL};

		snprintf(dot, sizeof(dot), "%s/trees.dot", s->dir);
		s->manager = spawn_in("fnet-manager", argv);
	}
	for (i = 0; i < nvms; i++) {
		char ns[32];
		char *argv[] = {AGENT_BIN,    "--name",	     name,
				"--addr",     addr,	     "--manager",
				"198.18.0.3", "--events",    ev,
				"--fetch",    (char *)fetch, NULL};

		snprintf(name, sizeof(name), "vm%04d", i);
		snprintf(ns, sizeof(ns), "fnet-vm%04d", i);
		snprintf(addr, sizeof(addr), "198.18.1.%d", i + 1);
		snprintf(ev, sizeof(ev), "%s/vm%04d.jsonl", s->dir, i);
		s->agents[i] = spawn_in(ns, argv);
	}
	/* Every agent has said HELLO before anything is invoked. */
	for (i = 0; i < 200; i++) {
		if (itest_count2("grep -h '\"vm_up\"' %s/manager.jsonl "
				 "2>/dev/null",
				 s->dir) >= nvms)
			break;
		usleep(50000);
	}
}

static void stack_start_fetch(struct stack *s, int nvms, const char *rate,
			      const char *strategy, const char *fetch)
{
	stack_start_opts(s, nvms, rate, strategy, fetch, "0");
}

static void stack_start(struct stack *s, int nvms, const char *rate,
			const char *strategy)
{
	stack_start_fetch(s, nvms, rate, strategy, "none");
}

/* Ends the processes by PID and takes the network down; the run's folder
 * stays for the test to read until stack_free. */
static void stack_stop(struct stack *s)
{
	int i;

	/* The manager first: it writes its trees as it ends, before losing
	 * the agents would empty them. */
	if (s->manager > 0) {
		kill(s->manager, SIGTERM);
		waitpid(s->manager, NULL, 0);
	}
	for (i = 0; i < s->nvms; i++)
		if (s->agents[i] > 0) {
			kill(s->agents[i], SIGTERM);
			waitpid(s->agents[i], NULL, 0);
		}
	s->nvms = 0;
	s->manager = 0;
	itest_run(NULL, ITEST_BIN " down >&2");
}

static void stack_free(struct stack *s)
{
	stack_stop(s);
	if (s->dir[0])
		itest_run(NULL, "rm -rf %s", s->dir);
	s->dir[0] = '\0';
}

/* How many agents logged "started", polling up to secs seconds. */
static int wait_started(struct stack *s, int want, int secs)
{
	int n = 0, i;

	for (i = 0; i < secs * 10; i++) {
		n = itest_count2("cat %s/vm*.jsonl | grep '\"event\":"
				 "\"started\"'",
				 s->dir);
		if (n >= want)
			break;
		usleep(100000);
	}
	return n;
}

/* Sum of a number field over the agents' "started" lines, and how many of
 * them had it non-zero. */
static long long sum_started(struct stack *s, const char *field, int *nonzero)
{
	char *out = NULL, *line, *save = NULL;
	long long sum = 0;

	*nonzero = 0;
	itest_run(&out, "cat %s/vm*.jsonl | grep '\"event\":\"started\"'",
		  s->dir);
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		long long v = json_integer_value(json_object_get(j, field));

		sum += v;
		*nonzero += v > 0;
		json_decref(j);
	}
	free(out);
	return sum;
}

static void invoke(int n)
{
	assert_int_equal(itest_run(NULL,
				   INVOKE_BIN " --function f1 --count "
					      "%d >&2",
				   n),
			 0);
}

#define NEED_STACK()                                                           \
	do {                                                                   \
		ITEST_NEED_REGISTRY();                                         \
		assert_true(image_dir[0] != '\0');                             \
	} while (0)

static void test_faasnet_reads_the_registry_once(void **state)
{
	long long reg, par;
	int nreg, npar, blocks;

	(void)state;
	NEED_STACK();
	stack_start(&cur, 15, "1gbit", "faasnet");
	invoke(15);
	assert_int_equal(wait_started(&cur, 15, 30), 15);
	reg = sum_started(&cur, "registry_bytes", &nreg);
	par = sum_started(&cur, "parent_bytes", &npar);
	fprintf(stderr,
		"registry bytes %lld (%d VMs), parent bytes %lld "
		"(%d VMs)\n",
		reg, nreg, par, npar);
	/* The root alone read the registry, every other VM its parent, and
	 * all of them read the same (the start-up set and the meta). */
	assert_int_equal(nreg, 1);
	assert_int_equal(npar, 14);
	assert_true(par == 14 * reg);
	/* Each start-up block left the registry once. */
	blocks = itest_count2("cat %s/vm*.jsonl | grep '\"event\":\"block\"' "
			      "| grep '\"source\":\"registry\"'",
			      cur.dir);
	assert_int_equal(blocks,
			 itest_count2("cat %s/vm*.jsonl | grep "
				      "'\"event\":\"block\"' | grep "
				      "'\"source\":\"registry\"' | "
				      "sed 's/.*\"block\":\\([0-9]*\\).*/\\1/' "
				      "| sort -u",
				      cur.dir));
	assert_true(blocks > 0);
	/* No block failed verification. */
	assert_int_equal(
		itest_count2("cat %s/vm*.jsonl | grep corrupt_block", cur.dir),
		0);
	/* The manager leaves its tree as Graphviz: 15 VMs, 15 edges. */
	stack_stop(&cur);
	assert_int_equal(itest_count2("grep -- '->' %s/trees.dot", cur.dir),
			 15);
	stack_free(&cur);
}

static void test_background_fetch_gets_every_block(void **state)
{
	int nreg, i;

	(void)state;
	NEED_STACK();
	stack_start_fetch(&cur, 4, "1gbit", "faasnet", "background");
	invoke(4);
	assert_int_equal(wait_started(&cur, 4, 30), 4);
	/* After starting, each VM fetches the rest of the image too. */
	for (i = 0; i < 300; i++) {
		if (itest_count2("cat %s/vm*.jsonl | grep all_blocks",
				 cur.dir) == 4)
			break;
		usleep(100000);
	}
	assert_int_equal(
		itest_count2("cat %s/vm*.jsonl | grep all_blocks", cur.dir), 4);
	sum_started(&cur, "registry_bytes", &nreg);
	assert_int_equal(nreg, 1);
	stack_free(&cur);
}

static void test_ondemand_every_vm_reads_the_registry(void **state)
{
	long long reg;
	int nreg;

	(void)state;
	NEED_STACK();
	stack_start(&cur, 6, "1gbit", "ondemand");
	invoke(6);
	assert_int_equal(wait_started(&cur, 6, 30), 6);
	reg = sum_started(&cur, "registry_bytes", &nreg);
	assert_int_equal(nreg, 6);
	assert_true(reg % 6 == 0);
	stack_free(&cur);
}

static void test_registry_strategy_pulls_whole_layers(void **state)
{
	long long reg;
	int nreg;

	(void)state;
	NEED_STACK();
	stack_start(&cur, 3, "1gbit", "registry");
	invoke(3);
	assert_int_equal(wait_started(&cur, 3, 60), 3);
	reg = sum_started(&cur, "registry_bytes", &nreg);
	assert_int_equal(nreg, 3);
	/* Each read the whole gzip layer: far more than a start-up set. */
	assert_true(reg / 3 > 10 * 1000 * 1000);
	stack_free(&cur);
}

/* `docker pull` reads every layer, not the first: an image of a tiny gzip
 * layer and a 3 MB plain tar layer costs each VM the 3 MB too, and both
 * layers are checked against their diff_ids before the container starts. */
static void test_registry_strategy_pulls_every_layer(void **state)
{
	long long reg;
	int nreg;

	(void)state;
	NEED_STACK();
	by_tag = 1;
	stack_start(&cur, 2, "1gbit", "registry");
	by_tag = 0;
	/* Same name, another image: the agents read the tag on invoke. */
	assert_int_equal(itest_run(NULL,
				   "d=%s && mkdir -p $d/a $d/b && echo hi > "
				   "$d/a/x && head -c 3000000 /dev/urandom > "
				   "$d/b/big && tests/integration/"
				   "make-oci-layout.sh $d/a $d/two t $d/b "
				   ">/dev/null && " IMG_BIN " convert $d/two "
				   "--tag t --out $d/conv >&2 && " IMG_BIN
				   " push $d/conv --registry 198.18.0.2:5000 "
				   "--name fn/one:v1 >&2",
				   cur.dir),
			 0);
	invoke(2);
	assert_int_equal(wait_started(&cur, 2, 60), 2);
	reg = sum_started(&cur, "registry_bytes", &nreg);
	assert_int_equal(nreg, 2);
	assert_true(reg / 2 > 3000000);
	stack_free(&cur);
}

static void test_killing_an_interior_agent_spares_the_rest(void **state)
{
	int i, lost, victim;

	(void)state;
	NEED_STACK();
	/* Slow links, so the tree is still fetching when an interior VM
	 * dies. Which VM is interior depends on the order the agents
	 * registered in: ask the manager's log for a parent that is not the
	 * root. */
	stack_start(&cur, 15, "20mbit", "faasnet");
	invoke(15);
	victim = (int)itest_number(
		"cd %s && root=$(grep -h '\"event\":\"provision\"' "
		"manager.jsonl | grep '\"parent\":\"registry\"' | sed "
		"'s/.*\"vm\":\"\\([^\"]*\\)\".*/\\1/') && grep -h "
		"'\"event\":\"provision\"' manager.jsonl | grep -v "
		"'\"parent\":\"registry\"' | grep -v \"\\\"parent\\\":"
		"\\\"$root\\\"\" | sed 's/.*\"parent\":\"vm\\([0-9]*\\)\".*/"
		"\\1/' | sort | uniq -c | sort -n | tail -1 | awk '{print "
		"$2 + 0}'",
		cur.dir);
	assert_true(victim >= 0 && victim < 15);
	for (i = 0; i < 100 && itest_count2("grep -h '\"event\":\"first_"
					    "block\"' %s/vm%04d.jsonl",
					    cur.dir, victim) < 1;
	     i++)
		usleep(20000);
	kill(cur.agents[victim], SIGKILL);
	waitpid(cur.agents[victim], NULL, 0);
	cur.agents[victim] = 0;
	assert_int_equal(wait_started(&cur, 14, 60), 14);
	lost = itest_count2("grep -h '\"vm_lost\"' %s/manager.jsonl", cur.dir);
	assert_int_equal(lost, 1);
	/* Its children were told a new parent. */
	assert_true(itest_count2("grep -h '\"event\":\"parent\"' "
				 "%s/manager.jsonl",
				 cur.dir) >= 2);
	stack_free(&cur);
}

static void test_idle_containers_are_reclaimed_and_trees_shrink(void **state)
{
	int i;

	(void)state;
	NEED_STACK();
	/* Reclaim after 1 s idle: the VMs leave the tree, and a second burst
	 * finds them free again. */
	stack_start_opts(&cur, 4, "1gbit", "faasnet", "none", "1000");
	invoke(4);
	assert_int_equal(wait_started(&cur, 4, 30), 4);
	for (i = 0; i < 100 && itest_count2("grep -h '\"event\":\"reclaim\"' "
					    "%s/manager.jsonl",
					    cur.dir) < 4;
	     i++)
		usleep(100000);
	assert_int_equal(itest_number("grep -h '\"event\":\"reclaim\"' "
				      "%s/manager.jsonl | grep -c "
				      "'\"leaves_tree\":true'",
				      cur.dir),
			 4);
	/* Room again: all four VMs take the second burst. */
	invoke(4);
	assert_int_equal(wait_started(&cur, 8, 30), 8);
	stack_free(&cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_faasnet_reads_the_registry_once,
					  test_teardown),
		cmocka_unit_test_teardown(
			test_background_fetch_gets_every_block, test_teardown),
		cmocka_unit_test_teardown(
			test_ondemand_every_vm_reads_the_registry,
			test_teardown),
		cmocka_unit_test_teardown(
			test_registry_strategy_pulls_whole_layers,
			test_teardown),
		cmocka_unit_test_teardown(
			test_registry_strategy_pulls_every_layer,
			test_teardown),
		cmocka_unit_test_teardown(
			test_killing_an_interior_agent_spares_the_rest,
			test_teardown),
		cmocka_unit_test_teardown(
			test_idle_containers_are_reclaimed_and_trees_shrink,
			test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* End-to-end: the dadi strategy (testbed/st_dadi.c) on eight VMs, through
 * `faasnet-testbed run` (the sanitized build, so the strategy's and the
 * proxies' memory errors fail it): every container starts with 0 corrupt
 * blocks, and the bytes on the links show DADI+P2P's shape: the registry
 * sends the blob about once (only the P2P root reads it), the VMs receive
 * it many times over from each other, and no node serves a blob to more
 * than its two children. Needs root and docker-registry. */
#include "itest.h"

#include <jansson.h>
#include <limits.h>

#include "itest_summary.h"

#define NVMS 8

static char dir[96], file[128];

static int teardown(void **state)
{
	(void)state;
	if (dir[0])
		itest_run(NULL, "rm -rf %s %s", dir, file);
	itest_run(NULL, ITEST_BIN " clean >&2");
	return 0;
}

/* The bytes each link's host sent and received over the run: the last
 * sample of raw/dadi/netdev.csv (counters from the run's start). */
struct link_bytes {
	long long reg_out, vm_in[NVMS], vm_out[NVMS];
};

static void read_netdev(const char *path, struct link_bytes *lb)
{
	char line[256], link[64];
	long long in, out;
	double t;
	unsigned vm;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	memset(lb, 0, sizeof(*lb));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lf,%63[^,],%lld,%lld", &t, link, &in,
			   &out) != 4)
			continue;
		if (!strcmp(link, "registry"))
			lb->reg_out = out;
		else if (sscanf(link, "vm%u", &vm) == 1 && vm < NVMS) {
			lb->vm_in[vm] = in;
			lb->vm_out[vm] = out;
		}
	}
	fclose(f);
}

static void test_dadi_run(void **state)
{
	struct link_bytes lb;
	long long vms_in = 0, max_out = 0;
	unsigned i, uploaders = 0;
	char path[160];
	json_t *root, *run;
	int degraded;

	(void)state;
	ITEST_NEED_REGISTRY();
	snprintf(dir, sizeof(dir), "/tmp/fnet-itest-dadi-%d", (int)getpid());
	snprintf(file, sizeof(file), "/tmp/fnet-itest-dadi-%d.yaml",
		 (int)getpid());
	itest_run(NULL, "rm -rf %s", dir);
	{
		FILE *f = fopen(file, "w");

		assert_non_null(f);
		fprintf(f,
			"name: itest-dadi\n"
			"topology:\n"
			"  vms: %d\n"
			"  vm_link: { rate: 200mbit }\n"
			"  registry_link: { rate: 200mbit }\n"
			"images:\n"
			"  - { name: img, size: 8MB, block_size: 256KiB, "
			"seed: 5 }\n"
			"functions:\n"
			"  - { name: f1, image: img, runtime_start: 200ms }\n"
			"workload:\n"
			"  - { at: 0s, invoke: f1, containers: %d }\n"
			"strategies: [dadi]\n"
			"timeout: 60s\n",
			NVMS, NVMS);
		assert_int_equal(fclose(f), 0);
	}
	assert_int_equal(itest_run(NULL,
				   ITEST_BIN " run %s --out %s --allow-degraded"
					     " >&2",
				   file, dir),
			 0);
	root = itest_summary_load(dir, &degraded);
	run = itest_summary_run(root, "dadi"); /* every container up */
	assert_int_equal(json_integer_value(json_object_get(run, "started")),
			 NVMS);
	assert_int_equal(
		json_integer_value(json_object_get(run, "corrupt_blocks")), 0);
	/* every block through a proxy: peers' bytes, none of the registry's
	 * own */
	assert_int_equal(
		json_integer_value(json_object_get(run, "registry_bytes")), 0);
	assert_true(json_integer_value(json_object_get(run, "peer_bytes")) > 0);
	json_decref(root);

	snprintf(path, sizeof(path), "%s/raw/dadi/netdev.csv", dir);
	read_netdev(path, &lb);
	for (i = 0; i < NVMS; i++) {
		vms_in += lb.vm_in[i];
		if (lb.vm_out[i] > max_out)
			max_out = lb.vm_out[i];
		uploaders += lb.vm_out[i] > lb.reg_out / 2;
	}
	fprintf(stderr,
		"registry sent %lld bytes; the VMs received %lld, the busiest "
		"sent %lld; %u VMs sent more than half a blob\n",
		lb.reg_out, vms_in, max_out, uploaders);
	assert_true(lb.reg_out > 0);
	/* The root read the blob about once; with prefetch every VM gets all
	 * of it, so the VMs received it about NVMS times. */
	assert_true(vms_in >= 4 * lb.reg_out);
	/* Fan-out 2: no VM served the blob to more than two children (and
	 * headers), and VMs served each other (the root alone serves two). */
	assert_true(max_out < 3 * lb.reg_out);
	assert_true(uploaders >= 2);
	/* Nothing of the run is left. */
	assert_int_equal(itest_count("ps -C faasnet-dadi,faasnet-agent,"
				     "faasnet-manager -o pid="),
			 0);
	assert_int_equal(itest_leftover_netns(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_dadi_run, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

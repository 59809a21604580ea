/* The fidelity monitor end to end: a small, link-bound scenario run on
 * the quiet host is judged ok (exit 0), and the same run beside two CPU
 * hogs (busy loops started here, ended by PID on every path) is judged
 * degraded with a CPU reason (exit 4). Both write monitor.csv and the
 * CPU seconds of the run's processes. Needs root; the quiet half needs a
 * quiet host (run it under the experiment lock, with nothing else busy). */
#include "itest.h"

#include <jansson.h>
#include <signal.h>

#define SCENARIO "tests/integration/scenarios/fidelity.yaml"
#define NHOGS	 2

static char dir[96];
static pid_t hogs[NHOGS];

static void hogs_start(void)
{
	int i;

	for (i = 0; i < NHOGS; i++) {
		hogs[i] = fork();
		assert_true(hogs[i] >= 0);
		if (hogs[i] == 0) {
			volatile unsigned long spin = 0;

			for (;;)
				spin++;
		}
	}
}

static void hogs_stop(void)
{
	int i;

	for (i = 0; i < NHOGS; i++) {
		if (hogs[i] <= 0)
			continue;
		kill(hogs[i], SIGKILL);
		waitpid(hogs[i], NULL, 0);
		hogs[i] = 0;
	}
}

static int teardown(void **state)
{
	(void)state;
	hogs_stop();
	if (dir[0])
		itest_run(NULL, "rm -rf %s", dir);
	itest_run(NULL, ITEST_BIN " clean >&2");
	return 0;
}

/* Runs the scenario into dir; returns the exit status and the run's
 * summary.json object (runs[0]), which *root owns. */
static int run_once(const char *name, json_t **root, json_t **run)
{
	char path[160];
	int st;

	snprintf(dir, sizeof(dir), "/tmp/fnet-itest-%s-%d", name,
		 (int)getpid());
	st = itest_run(NULL, ITEST_BIN " run " SCENARIO " --out %s >&2", dir);
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	*root = json_load_file(path, 0, NULL);
	assert_non_null(*root);
	*run = json_array_get(json_object_get(*root, "runs"), 0);
	assert_non_null(*run);
	snprintf(path, sizeof(path), "%s/raw/faasnet/monitor.csv", dir);
	assert_int_equal(access(path, R_OK), 0);
	assert_true(itest_count2("grep ',host,' %s", path) >= 1);
	return st;
}

static const char *verdict(json_t *run)
{
	return json_string_value(
		json_object_get(json_object_get(run, "fidelity"), "verdict"));
}

static void print_reasons(json_t *run)
{
	json_t *reasons =
		json_object_get(json_object_get(run, "fidelity"), "reasons");
	size_t i;

	for (i = 0; i < json_array_size(reasons); i++)
		fprintf(stderr, "reason: %s\n",
			json_string_value(json_object_get(
				json_array_get(reasons, i), "text")));
}

static void test_quiet_run_is_ok(void **state)
{
	json_t *root, *run, *cpu;
	int st;

	(void)state;
	ITEST_NEED_REGISTRY();
	st = run_once("fid-quiet", &root, &run);
	print_reasons(run);
	assert_string_equal(verdict(run), "ok");
	assert_int_equal(st, 0);
	assert_string_equal(
		json_string_value(json_object_get(root, "fidelity")), "ok");
	cpu = json_object_get(run, "cpu_s");
	assert_true(json_number_value(json_object_get(cpu, "agents")) > 0);
	assert_true(json_number_value(json_object_get(cpu, "manager")) > 0);
	assert_true(json_number_value(json_object_get(cpu, "total")) >=
		    json_number_value(json_object_get(cpu, "agents")));
	json_decref(root);
}

static void test_run_beside_hogs_is_degraded(void **state)
{
	json_t *root, *run, *reasons;
	size_t i, cpu = 0;
	int st;

	(void)state;
	ITEST_NEED_REGISTRY();
	hogs_start();
	st = run_once("fid-hogs", &root, &run);
	hogs_stop();
	print_reasons(run);
	assert_string_equal(verdict(run), "degraded");
	assert_int_equal(st, 4);
	assert_string_equal(
		json_string_value(json_object_get(root, "fidelity")),
		"degraded");
	reasons = json_object_get(json_object_get(run, "fidelity"), "reasons");
	for (i = 0; i < json_array_size(reasons); i++) {
		json_t *r = json_array_get(reasons, i);

		if (strcmp(json_string_value(json_object_get(r, "signal")),
			   "cpu"))
			continue;
		cpu++;
		assert_true(json_number_value(json_object_get(r, "to_s")) >
			    json_number_value(json_object_get(r, "from_s")));
		assert_true(json_number_value(json_object_get(r, "value")) >
			    json_number_value(json_object_get(r, "threshold")));
	}
	assert_true(cpu >= 1);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_quiet_run_is_ok, teardown),
		cmocka_unit_test_teardown(test_run_beside_hogs_is_degraded,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* End-to-end: `faasnet-testbed run` on a tiny scenario, then the results
 * folder checked: every container of every strategy up, the files there,
 * and every number of summary.json recomputed from containers.csv. The
 * same for a scenario that serves requests, whose request numbers are
 * recomputed from requests.csv. Needs root. The fidelity verdict is not
 * what these test (itest_fidelity does): --allow-degraded keeps a slow
 * sanitized build on a busy host from failing them. */
#include "itest.h"

#include <jansson.h>
#include <math.h>

#include "requests.h"
#include "summary.h"

#define SCENARIO       "tests/integration/scenarios/tiny.yaml"
#define SERVE_SCENARIO "tests/integration/scenarios/serve.yaml"

static char dir[96];

#define JNUM(o, k) json_number_value(json_object_get((o), (k)))

static int teardown(void **state)
{
	(void)state;
	if (dir[0])
		itest_run(NULL, "rm -rf %s", dir);
	itest_run(NULL, ITEST_BIN " clean >&2");
	return 0;
}

static void test_run_writes_a_recomputable_results_folder(void **state)
{
	struct summary_row *rows = NULL;
	struct summary_run run;
	struct err e = {""};
	json_t *j, *runs, *r;
	char path[160];
	size_t n, i;

	(void)state;
	ITEST_NEED_REGISTRY();
	snprintf(dir, sizeof(dir), "/tmp/fnet-itest-results-%d", (int)getpid());
	assert_int_equal(itest_run(NULL,
				   ITEST_BIN " run " SCENARIO
					     " --allow-degraded --out %s >&2",
				   dir),
			 0);
	/* Nothing of the run is left: no namespace, no link, no process. */
	assert_int_equal(itest_leftover_netns(), 0);
	assert_int_equal(itest_leftover_links(), 0);
	assert_int_equal(itest_count("ps -C faasnet-agent,faasnet-manager,"
				     "docker-registry -o pid="),
			 0);
	for (i = 0; i < 4; i++) {
		static const char *const files[] = {
			"containers.csv", "summary.json", "events.jsonl",
			"report.md"};

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_int_equal(access(path, F_OK), 0);
	}
	snprintf(path, sizeof(path), "%s/containers.csv", dir);
	assert_int_equal(summary_read_rows(path, &rows, &n, &e), 0);
	assert_int_equal(n, 8); /* 4 containers x 2 strategies */
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	runs = json_object_get(j, "runs");
	assert_int_equal(json_array_size(runs), 2);
	json_array_foreach(runs, i, r)
	{
		const char *st =
			json_string_value(json_object_get(r, "strategy"));

		assert_int_equal(summary_compute(rows, n, st, -1, 0, &run), 0);
		assert_int_equal(run.requested, 4);
		assert_int_equal(run.started, 4);
		assert_int_equal(
			json_integer_value(json_object_get(r, "started")),
			run.started);
		assert_int_equal(
			json_integer_value(json_object_get(r, "failed")),
			run.failed);
		assert_true(fabs(json_real_value(json_object_get(r, "p50_s")) -
				 run.p50_s) < 1e-6);
		assert_true(fabs(json_real_value(json_object_get(r, "max_s")) -
				 run.max_s) < 1e-6);
		assert_int_equal(json_integer_value(
					 json_object_get(r, "registry_bytes")),
				 run.registry_bytes);
		assert_int_equal(
			json_integer_value(json_object_get(r, "peer_bytes")),
			run.peer_bytes);
		assert_true(fabs(JNUM(r, "image_ready_p50_s") -
				 run.image_ready_p50_s) < 1e-6);
		assert_true(fabs(JNUM(r, "image_ready_max_s") -
				 run.image_ready_max_s) < 1e-6);
	}
	/* Every container's image was ready before it started, and its
	 * start took at least the function's runtime_start (200ms). */
	for (i = 0; i < n; i++) {
		assert_true(rows[i].started && rows[i].image_ready);
		assert_true(rows[i].image_ready_s <= rows[i].seconds + 1e-6);
		assert_true(rows[i].seconds >= 0.2);
	}
	/* faasnet read the registry once (one VM), ondemand four times. */
	assert_true(json_integer_value(json_object_get(json_array_get(runs, 1),
						       "registry_bytes")) >
		    3 * json_integer_value(json_object_get(
				json_array_get(runs, 0), "registry_bytes")));
	json_decref(j);
	free(rows);
}

/* Runs that serve requests: every request served in FIFO order by warm
 * containers, an idle one released through the manager, and the requests
 * object of summary.json recomputed from requests.csv. */
static void test_serve_run_recomputable(void **state)
{
	struct requests_row *rows = NULL;
	struct requests_stats st;
	struct err e = {""};
	json_t *j, *q;
	char path[160];
	size_t n, i;

	(void)state;
	ITEST_NEED_REGISTRY();
	snprintf(dir, sizeof(dir), "/tmp/fnet-itest-serve-%d", (int)getpid());
	assert_int_equal(itest_run(NULL,
				   ITEST_BIN " run " SERVE_SCENARIO
					     " --allow-degraded --out %s >&2",
				   dir),
			 0);
	assert_int_equal(itest_leftover_netns(), 0);
	assert_int_equal(itest_leftover_links(), 0);
	snprintf(path, sizeof(path), "%s/pool.csv", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/requests.csv", dir);
	assert_int_equal(requests_read_rows(path, &rows, &n, &e), 0);
	/* 12 in each burst (4 a second for 3 s), 4 in the trickle. */
	assert_int_equal(n, 28);
	for (i = 0; i < n; i++) {
		assert_true(rows[i].served);
		assert_true(fabs(rows[i].done_s - rows[i].start_s - 0.5) <
			    1e-5);
		if (i)
			assert_true(rows[i].arrival_s >= rows[i - 1].arrival_s);
	}
	/* The trickle needs one container of the burst's two: the other was
	 * released, and the manager heard of it. */
	assert_true(itest_number("grep -c '\"why\":\"released\"' "
				 "%s/raw/faasnet/manager.jsonl",
				 dir) >= 1);
	/* Its VM left the tree and its agent let go of the blocks; the
	 * second burst placed a container there again (the lowest empty
	 * VM), which fetched the start-up set anew and started. */
	assert_true(itest_number("cat %s/raw/faasnet/vm*.jsonl | grep -c "
				 "'\"event\":\"evicted\"'",
				 dir) >= 1);
	assert_true(itest_number("for f in %s/raw/faasnet/vm*.jsonl; do "
				 "grep -q '\"evicted\"' $f && grep -c "
				 "'\"event\":\"started\"' $f; done | sort -n "
				 "| tail -1",
				 dir) >= 2);
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	/* Every container the autoscaler asked for started. */
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(j, "runs"), 0),
				 "failed")),
			 0);
	q = json_object_get(json_array_get(json_object_get(j, "runs"), 0),
			    "requests");
	assert_non_null(q);
	assert_int_equal(requests_compute(rows, n, "faasnet", 0.5, &st), 0);
	assert_int_equal(JNUM(q, "requests"), st.requests);
	assert_int_equal(JNUM(q, "served"), st.served);
	assert_int_equal(JNUM(q, "slow"), st.slow);
	assert_int_equal(JNUM(q, "episodes"), st.nepisodes);
	assert_true(fabs(JNUM(q, "p50_s") - st.p50_s) < 1e-6);
	assert_true(fabs(JNUM(q, "p99_s") - st.p99_s) < 1e-6);
	assert_true(fabs(JNUM(q, "max_s") - st.max_s) < 1e-6);
	assert_true(fabs(JNUM(q, "recovery_s") - st.recovery_s) < 1e-6);
	/* The first request found nothing warm: it waited for a cold
	 * start, so at least one was slow. */
	assert_true(st.slow >= 1);
	json_decref(j);
	free(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_run_writes_a_recomputable_results_folder,
			teardown),
		cmocka_unit_test_teardown(test_serve_run_recomputable,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Time dilation: one small scenario run at dilation 1 and 3 must report
 * the same times for the strategies whose pace the emulated network sets,
 * because dilation slows the whole world, links and timers alike, and
 * reports in the world's time (docs/fidelity.md, "Time dilation").
 * ondemand is left out: its pace on this host is docker-registry's CPU per
 * range request, which dilation does not slow (measured there).
 *
 * faasnet: p50 and slowest within 10%. The registry baseline: its 8 TCP
 * flows share the registry's tail-drop queue, and how they share it (who
 * loses a round of loss recovery) rides on the kernel's TCP timers, which
 * are not dilated; so its p50 and slowest move with that luck, and only
 * what the link's capacity fixes is held to 12%: the mean container time
 * (the bytes over the link), with the slowest to 30%. Measured 2026-11-28,
 * release build, 10 runs at K = 1 and 10 at K = 3: registry mean 4.25-4.63
 * s and 4.27-4.68 s (the worst pair 10.1% apart); p50 4.45-4.64 s and
 * 4.35-4.63 s, but 3.53 s in a later run at K = 3 (a fresh clone's `make
 * check`: 22% under K = 1's); slowest 4.64-4.90 s and 4.66-4.87 s, but
 * 5.17 and 5.86 s in two runs at K = 3 (CI failed on a 10% bound with
 * 5.19). faasnet's slowest: 2.50-2.67 s and 2.50-2.60 s. A timer left
 * undilated in our own code would be off by up to 3x, which every bound
 * catches. Needs root and docker-registry; drives the release build, as
 * itest_scale does, because it measures time. */
#include <jansson.h>
#include <limits.h>
#include <math.h>

#include "itest.h"
#include "itest_summary.h"
#include "summary.h"

#define NSTRAT 2
#define TOL    0.10

static const char *const strategies[NSTRAT] = {"faasnet", "registry"};
/* How far each statistic may move, per strategy (see above); a negative
 * bound is not checked. */
static const double p50_tol[NSTRAT] = {TOL, -1};
static const double mean_tol[NSTRAT] = {TOL, 0.12};
static const double max_tol[NSTRAT] = {TOL, 0.30};
static char top[96];

static const char scenario_fmt[] =
	"name: dilation\n"
	"description: the time-dilation test's scenario\n"
	"topology:\n"
	"  vms: 8\n"
	"  vm_link: { rate: 1gbit }\n"
	"  registry_link: { rate: 4.8gbit }\n"
	"scale: 0.02\n"
	"dilation: %g\n"
	"images:\n"
	"  - { name: py, size: 758MB, block_size: 512KiB }\n"
	"functions:\n"
	"  - { name: f1, image: py }\n"
	"workload:\n"
	"  - { at: 0s, invoke: f1, containers: 8 }\n"
	"strategies: [faasnet, registry]\n"
	"repetitions: 2\n"
	"timeout: 60s\n";

struct point {
	double p50[NSTRAT], mean[NSTRAT], max[NSTRAT], dilation[NSTRAT];
};

/* The mean `seconds` of strategy st's rows in dir's containers.csv (read
 * by summary.c, which wrote it), or -1. */
static double mean_seconds(const char *dir, const char *st)
{
	struct summary_row *rows = NULL;
	struct err e = {""};
	char path[256];
	double sum = 0;
	size_t i, n = 0, k = 0;

	snprintf(path, sizeof(path), "%s/containers.csv", dir);
	if (summary_read_rows(path, &rows, &n, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(rows[i].strategy, st)) {
			sum += rows[i].seconds;
			k++;
		}
	free(rows);
	return k ? sum / (double)k : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (top[0])
		itest_run(NULL, "rm -rf %s", top);
	itest_run(NULL, ITEST_BIN " clean >&2");
	return 0;
}

/* Runs the scenario at dilation k; returns 1 when a run was degraded. */
static int run_at(double k, struct point *pt)
{
	char dir[160], file[192];
	json_t *root;
	size_t s;
	int degraded;

	snprintf(dir, sizeof(dir), "%s/k%g", top, k);
	snprintf(file, sizeof(file), "%s/dilation-%g.yaml", top, k);
	root = itest_run_scenario(dir, file, &degraded, scenario_fmt, k);
	for (s = 0; s < NSTRAT; s++) {
		json_t *run = itest_summary_run(root, strategies[s]);

		pt->p50[s] = json_number_value(json_object_get(run, "p50_s"));
		pt->max[s] = json_number_value(json_object_get(run, "max_s"));
		pt->mean[s] = mean_seconds(dir, strategies[s]);
		pt->dilation[s] =
			json_number_value(json_object_get(run, "dilation"));
		fprintf(stderr,
			"dilation %g: %-8s p50 %.2f s, mean %.2f s, slowest "
			"%.2f s\n",
			k, strategies[s], pt->p50[s], pt->mean[s], pt->max[s]);
	}
	json_decref(root);
	return degraded;
}

static void test_dilation_1_and_3_agree(void **state)
{
	struct point p1, p3;
	unsigned s;
	int bad = 0;

	(void)state;
	ITEST_NEED_REGISTRY();
	if (access(ITEST_RELEASE_BIN, X_OK)) {
		fprintf(stderr, "SKIP: %s not built\n", ITEST_RELEASE_BIN);
		skip();
	}
	snprintf(top, sizeof(top), "/tmp/fnet-itest-dilation-%d",
		 (int)getpid());
	assert_int_equal(itest_run(NULL, "mkdir -p %s", top), 0);
	/* A degraded run is run once more: its numbers may be the host's.
	 * Degraded twice, the host is too busy for the comparison to mean
	 * anything (another build or experiment beside it): said, and
	 * skipped, not judged. */
	if (run_at(1, &p1) && run_at(1, &p1)) {
		fprintf(stderr, "SKIP: dilation 1 degraded twice: the host is "
				"busy, the times would be its own\n");
		skip();
	}
	if (run_at(3, &p3) && run_at(3, &p3)) {
		fprintf(stderr, "SKIP: dilation 3 degraded twice: the host is "
				"busy, the times would be its own\n");
		skip();
	}
	for (s = 0; s < NSTRAT; s++) {
		double dp = p3.p50[s] / p1.p50[s] - 1;
		double da = p3.mean[s] / p1.mean[s] - 1;
		double dm = p3.max[s] / p1.max[s] - 1;

		assert_true(p1.dilation[s] == 1);
		assert_true(p3.dilation[s] == 3);
		assert_true(p1.mean[s] > 0 && p3.mean[s] > 0);
		if ((p50_tol[s] >= 0 && fabs(dp) > p50_tol[s]) ||
		    fabs(da) > mean_tol[s] || fabs(dm) > max_tol[s]) {
			fprintf(stderr,
				"%s at dilation 3: p50 %+.0f%%, mean %+.0f%%, "
				"slowest %+.0f%% against dilation 1\n",
				strategies[s], 100 * dp, 100 * da, 100 * dm);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_dilation_1_and_3_agree,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Scale invariance: one small scenario run at scale 0.01, 0.02 and 0.05
 * must give each strategy the same p50 (within 15%; ondemand, which
 * docker-registry's CPU paces, within 25%) and move the same
 * fraction of the image's bytes (within 2 points), because `scale` promises
 * that every transfer takes as long as at full size (docs/fidelity.md).
 * Needs root and docker-registry. It drives the release build: it measures
 * time, and the sanitized agents' CPU (several times the release build's)
 * made the host the bottleneck at 0.05, which is the host's doing, not the
 * emulation's; the same code runs sanitized in itest_run and itest_stack. */
#include <jansson.h>
#include <limits.h>
#include <math.h>

#include "itest.h"
#include "itest_summary.h"

#define NSCALES 3
#define NSTRAT	4
#define P50_TOL 0.15
/* ondemand's p50 carries docker-registry's CPU per range request (about
 * 3.4 ms, the same at every scale: docs/fidelity.md, "What does not
 * scale"), and moves with the host's load. At 0.01 / 0.02 / 0.05 it was
 * 4.09 / 4.51 / 4.23 s with the code before the strategy interface
 * (#13), and 3.53 / 3.69 / 4.26 and 3.63 / 3.86 / 4.46 s in two runs
 * after it (2026-11-28; ondemand's path did not change): 15-16% apart,
 * where a scale bug moves a p50 by 2x or more. */
#define P50_TOL_ONDEMAND 0.25
/* At 0.01 (10 Mbit/s VM links) fixed per-request and per-block costs weigh
 * most: faasnet's p50 was 7% over 0.02's, ondemand's 5% and 17% over two
 * runs at 0.02 (2026-11-28; docs/fidelity.md, "What does not scale"). */
#define P50_TOL_001 0.25
#define FRAC_TOL    0.02

static const double scales[NSCALES] = {0.01, 0.02, 0.05};
static const char *const strategies[NSTRAT] = {"faasnet", "ondemand",
					       "registry", "bittorrent"};
static char top[96];

/* 8 VMs of the paper's 1 Gbit/s, the figure scenarios' registry, and the
 * paper's 758 MB image, 8 containers at once (Fig. 14's smallest point),
 * twice: a p50 of one burst of 4 in a tree of depth 3 is the middle of a
 * two-valued spread (which child the root served first), which moved
 * 25% between runs at one scale. */
static const char scenario_fmt[] =
	"name: scale\n"
	"description: the scale-invariance test's scenario\n"
	"topology:\n"
	"  vms: 8\n"
	"  vm_link: { rate: 1gbit }\n"
	"  registry_link: { rate: 4.8gbit }\n"
	"scale: %g\n"
	"images:\n"
	"  - { name: py, size: 758MB, block_size: 512KiB }\n"
	"functions:\n"
	"  - { name: f1, image: py }\n"
	"workload:\n"
	"  - { at: 0s, invoke: f1, containers: 8 }\n"
	"strategies: [faasnet, ondemand, registry, bittorrent]\n"
	"repetitions: 2\n"
	"timeout: 60s\n";

struct point {
	double p50[NSTRAT], frac[NSTRAT];
};

static int teardown(void **state)
{
	(void)state;
	if (top[0])
		itest_run(NULL, "rm -rf %s", top);
	itest_run(NULL, ITEST_BIN " clean >&2");
	return 0;
}

/* The image's bytes that a strategy would fetch whole: block data for the
 * block strategies, the tar+gzip layer for the others. */
static void image_bytes(const char *cache, double *data, double *gzip)
{
	char *out = NULL;
	json_t *root, *l;

	itest_run(&out,
		  "build/bin/faasnet-image inspect %s/py-* --json "
		  "2>/dev/null",
		  cache);
	root = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(root);
	l = json_array_get(json_object_get(root, "layers"), 0);
	*data = (double)json_integer_value(json_object_get(l, "data_bytes"));
	*gzip = (double)json_integer_value(json_object_get(l, "size"));
	json_decref(root);
	assert_true(*data > 0 && *gzip > 0);
}

/* Runs the scenario at one scale; returns 1 when the run's verdict was
 * degraded (the host, not the emulated network, may have set the pace). */
static int run_at(double scale, struct point *pt)
{
	char dir[160], file[192], cache[192];
	double data, gzip;
	json_t *root;
	size_t k;
	int degraded;

	snprintf(dir, sizeof(dir), "%s/s%g", top, scale);
	snprintf(file, sizeof(file), "%s/scale-%g.yaml", top, scale);
	root = itest_run_scenario(dir, file, &degraded, scenario_fmt, scale);
	snprintf(cache, sizeof(cache), "%s/.cache", top);
	image_bytes(cache, &data, &gzip);
	itest_run(NULL, "rm -rf %s/.cache", top);
	for (k = 0; k < NSTRAT; k++) {
		json_t *run = itest_summary_run(root, strategies[k]);

		pt->p50[k] = json_number_value(json_object_get(run, "p50_s"));
		pt->frac[k] = (json_number_value(
				       json_object_get(run, "registry_bytes")) +
			       json_number_value(
				       json_object_get(run, "peer_bytes"))) /
			      (16 * (k < 2 ? data : gzip));
		fprintf(stderr,
			"scale %g: %-10s p50 %.2f s, moved %.1f%% of the "
			"image per container\n",
			scale, strategies[k], pt->p50[k], 100 * pt->frac[k]);
	}
	json_decref(root);
	return degraded;
}

static void test_three_scales_agree(void **state)
{
	struct point pt[NSCALES];
	unsigned s, k;
	int bad = 0;

	(void)state;
	ITEST_NEED_REGISTRY();
	if (access(ITEST_RELEASE_BIN, X_OK)) {
		fprintf(stderr, "SKIP: %s not built\n", ITEST_RELEASE_BIN);
		skip();
	}
	snprintf(top, sizeof(top), "/tmp/fnet-itest-scale-%d", (int)getpid());
	assert_int_equal(itest_run(NULL, "mkdir -p %s", top), 0);
	/* A degraded run is run once more: its numbers may be the host's. */
	for (s = 0; s < NSCALES; s++)
		if (run_at(scales[s], &pt[s])) {
			fprintf(stderr, "scale %g: degraded, once more\n",
				scales[s]);
			run_at(scales[s], &pt[s]);
		}
	/* Against the middle scale, the figure scenarios' 0.02. */
	for (k = 0; k < NSTRAT; k++)
		for (s = 0; s < NSCALES; s++) {
			double dp = pt[s].p50[k] / pt[1].p50[k] - 1;
			double df = pt[s].frac[k] - pt[1].frac[k];

			double tol = !s ? P50_TOL_001
				     : !strcmp(strategies[k], "ondemand")
					     ? P50_TOL_ONDEMAND
					     : P50_TOL;

			if (fabs(dp) > tol || fabs(df) > FRAC_TOL) {
				fprintf(stderr,
					"%s at scale %g: p50 %+.0f%%, bytes "
					"moved %+.1f points against scale "
					"0.02\n",
					strategies[k], scales[s], 100 * dp,
					100 * df);
				bad++;
			}
		}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_three_scales_agree, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

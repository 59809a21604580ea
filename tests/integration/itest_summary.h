/* Reading a results folder's summary.json in the integration tests that
 * compare runs (itest_scale, itest_dilation). Header-only. */
#ifndef FAASNET_ITEST_SUMMARY_H
#define FAASNET_ITEST_SUMMARY_H

#include <jansson.h>

#include "itest.h"

/* DIR/summary.json (json_decref it); *degraded: whether its fidelity
 * verdict is degraded. */
static inline json_t *itest_summary_load(const char *dir, int *degraded)
{
	char path[PATH_MAX];
	json_t *root;

	snprintf(path, sizeof(path), "%s/summary.json", dir);
	root = json_load_file(path, 0, NULL);
	assert_non_null(root);
	*degraded =
		!strcmp(json_string_value(json_object_get(root, "fidelity")),
			"degraded");
	return root;
}

/* The release build: tests that compare times drive it, because the
 * sanitized agents' CPU would make the host the bottleneck. */
#define ITEST_RELEASE_BIN "build/bin/faasnet-testbed"

/* Writes the scenario file from fmt, runs it with the release build into
 * dir (emptied first), a degraded verdict allowed (it is not what these
 * tests check: a degraded run still writes every number), and returns
 * dir's summary.json as itest_summary_load does. */
static inline json_t *itest_run_scenario(const char *dir, const char *file,
					 int *degraded, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline json_t *itest_run_scenario(const char *dir, const char *file,
					 int *degraded, const char *fmt, ...)
{
	va_list ap;
	FILE *f;

	itest_run(NULL, "rm -rf %s", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(itest_run(NULL,
				   ITEST_RELEASE_BIN
				   " run %s --out %s --allow-degraded >&2",
				   file, dir),
			 0);
	return itest_summary_load(dir, degraded);
}

/* The (last) run of strategy in root's runs; it must be there and have
 * started every container. */
static inline json_t *itest_summary_run(json_t *root, const char *strategy)
{
	json_t *runs = json_object_get(root, "runs"), *run = NULL;
	size_t i;

	for (i = 0; i < json_array_size(runs); i++) {
		json_t *r = json_array_get(runs, i);

		if (!strcmp(json_string_value(json_object_get(r, "strategy")),
			    strategy))
			run = r;
	}
	assert_non_null(run);
	assert_int_equal(json_integer_value(json_object_get(run, "failed")), 0);
	return run;
}

#endif

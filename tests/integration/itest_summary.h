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
	assert_int_equal(json_integer_value(json_object_get(run, "failed")),
			 0);
	return run;
}

#endif

/* report_plots runs gnuplot (and dot) with an argument vector in the
 * results folder, with no shell: a folder named with a space, quotes and
 * $(touch x) gets its plots, and nothing else runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "scratch_cwd.h"
#include "summary.h"

/* containers.csv of two strategies, a few containers each, and of a
 * third one so named (NULL: none). */
static void write_rows(const char *dir, const char *third)
{
	struct summary_row rows[9];
	char path[PATH_MAX + 32];
	struct err e = {""};
	int i, n = third ? 9 : 6;
	FILE *f;

	memset(rows, 0, sizeof(rows));
	for (i = 0; i < n; i++) {
		snprintf(rows[i].strategy, sizeof(rows[i].strategy), "%s",
			 i < 3	 ? "faasnet"
			 : i < 6 ? "ondemand"
				 : third);
		snprintf(rows[i].function, sizeof(rows[i].function), "f1");
		snprintf(rows[i].vm, sizeof(rows[i].vm), "vm%d", i);
		rows[i].sweep = -1;
		rows[i].started = 1;
		rows[i].requested_s = 0.1 * i;
		rows[i].started_s = 1 + 0.5 * i;
		rows[i].seconds = rows[i].started_s - rows[i].requested_s;
	}
	snprintf(path, sizeof(path), "%s/containers.csv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(summary_write_rows(f, rows, (size_t)n, NULL, &e), 0);
	assert_int_equal(fclose(f), 0);
}

static void test_plots_hostile_folder(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct err e = {""};

	(void)state;
	if (access("/usr/bin/gnuplot", X_OK))
		skip();
	snprintf(dir, sizeof(dir), "%s/" HOSTILE, g_base);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_rows(dir, NULL);
	assert_int_equal(report_plots(dir, &e), 0);
	/* gnuplot ran in the folder: its plots are there. */
	snprintf(path, sizeof(path), "%s/cdf.png", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/ready.svg", dir);
	assert_int_equal(access(path, F_OK), 0);
	/* Nothing ran `touch x`. */
	assert_int_equal(access("x", F_OK), -1);
	snprintf(path, sizeof(path), "%s/x", dir);
	assert_int_equal(access(path, F_OK), -1);
}

/* A strategy named to end gnuplot's quoted string and call system(): left
 * out of plots.gp, and the rest is drawn. */
static void test_plots_unplain_name_left_out(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct err e = {""};
	uint8_t *gp = NULL;
	size_t len = 0;

	(void)state;
	if (access("/usr/bin/gnuplot", X_OK))
		skip();
	snprintf(dir, sizeof(dir), "%s/evil", g_base);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_rows(dir, "a'.system('>y')");
	assert_int_equal(report_plots(dir, &e), 0);
	snprintf(path, sizeof(path), "%s/plots.gp", dir);
	assert_int_equal(mem_read_file(path, &gp, &len), 0);
	assert_null(memmem(gp, len, "system", 6));
	assert_non_null(memmem(gp, len, "ondemand", 8));
	free(gp);
	snprintf(path, sizeof(path), "%s/y", dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/cdf.png", dir);
	assert_int_equal(access(path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plots_hostile_folder),
		cmocka_unit_test(test_plots_unplain_name_left_out),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}

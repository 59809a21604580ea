/* faasnet-image trace's arguments: what is refused, and with which exit
 * status, before anything is unpacked or run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../image/cmds.h" /* not testbed/cmds.h */
#include "oci.h"

static int run(int argc, char **argv)
{
	return trace_main(argc, argv);
}

#define RUN(...)                                                               \
	({                                                                     \
		char *a_[] = {"trace", __VA_ARGS__, NULL};                     \
		run((int)(sizeof(a_) / sizeof(a_[0])) - 1, a_);                \
	})

static void test_usage_errors(void **state)
{
	char *only[] = {"trace", NULL};

	(void)state;
	assert_int_equal(run(1, only), IMAGE_EXIT_USAGE); /* nothing */
	/* No command, or nothing after "--". */
	assert_int_equal(RUN("/nonexistent"), IMAGE_EXIT_USAGE);
	assert_int_equal(RUN("/nonexistent", "--"), IMAGE_EXIT_USAGE);
	/* A layout but an unknown option. */
	assert_int_equal(RUN("/nonexistent", "--frobnicate", "--", "/bin/true"),
			 IMAGE_EXIT_USAGE);
	/* --tag without its value. */
	assert_int_equal(RUN("/nonexistent", "--tag"), IMAGE_EXIT_USAGE);
	/* No layout before the command. */
	assert_int_equal(RUN("--", "/bin/true"), IMAGE_EXIT_USAGE);
	assert_int_equal(RUN("--help"), 0);
}

/* Bad input: a layout that is not there, or has no block index. */
static void test_bad_layouts(void **state)
{
	char dir[] = "/tmp/fnet-test-cmdtrace-XXXXXX", cmd[128];
	struct oci_image img = {0};
	struct oci_layer l = {0};
	struct err e = {""};
	char *man = NULL;
	size_t len;

	(void)state;
	assert_int_equal(RUN("/nonexistent", "--", "/bin/true"),
			 IMAGE_EXIT_USAGE);
	assert_non_null(mkdtemp(dir));
	/* A layout of one layer without block annotations. */
	assert_int_equal(oci_layout_init(dir, &e), 0);
	assert_int_equal(oci_layout_put(dir, "{}", 2, img.config.digest, &e),
			 0);
	img.config.size = 2;
	snprintf(img.config.media_type, sizeof(img.config.media_type), "%s",
		 OCI_CONFIG_MEDIA_TYPE);
	assert_int_equal(oci_layout_put(dir, "x", 1, l.blob.digest, &e), 0);
	l.blob.size = 1;
	snprintf(l.blob.media_type, sizeof(l.blob.media_type), "%s",
		 OCI_LAYER_GZIP_MEDIA_TYPE);
	img.nlayers = 1;
	img.layers = &l;
	assert_int_equal(oci_manifest_build(&img, &man, &len, &e), 0);
	assert_int_equal(oci_layout_set_manifest(dir, man, len, "v1", &e), 0);
	assert_int_equal(RUN(dir, "--", "/bin/true"), IMAGE_EXIT_USAGE);
	free(man);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_bad_layouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

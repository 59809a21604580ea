/* A scratch folder under /tmp that a test group runs in, as its working
 * folder, removed after: where a command wrongly given to a shell, such
 * as HOSTILE's, would leave its file. Shared by the tests of what must run
 * no shell (test_events, test_report). Header-only; cmocka group setup and
 * teardown. */
#ifndef FAASNET_TESTS_SCRATCH_CWD_H
#define FAASNET_TESTS_SCRATCH_CWD_H

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "mem_image.h" /* mem_rm_tree */

/* A folder name with a space, both quotes and a command substitution. */
#define HOSTILE "res dir \"q\" 'q' $(touch x)"

static char g_base[] = "/tmp/fnet-test-scratch-XXXXXX";
static char g_cwd[PATH_MAX];

static int scratch_setup(void **state)
{
	(void)state;
	if (!getcwd(g_cwd, sizeof(g_cwd)) || !mkdtemp(g_base))
		return -1;
	return chdir(g_base);
}

static int scratch_teardown(void **state)
{
	(void)state;
	if (chdir(g_cwd))
		return -1;
	mem_rm_tree(g_base);
	return 0;
}

#endif

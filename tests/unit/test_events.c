/* events_merge: raw/<run>/<process>.jsonl into events.jsonl, tagged with
 * the run and in time order (ties in run, file and line order), with no
 * shell: a results folder named with a space, quotes and $(touch x) is
 * merged like any other and runs nothing. Not a log: left out. */
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

#include "events.h"
#include "mem_image.h" /* mem_read_file */
#include "scratch_cwd.h"

static void put(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void sub(const char *dir, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void test_merge_hostile_name(void **state)
{
	static const char want[] =
		"{\"run\":\"faasnet\",\"t_ns\":5,\"who\":\"manager\"}\n"
		"{\"run\":\"faasnet\",\"t_ns\":10,\"who\":\"vm1\"}\n"
		"{\"run\":\"faasnet\",\"t_ns\":20,\"who\":\"manager\"}\n"
		/* a tie: run order, then file order */
		"{\"run\":\"faasnet\",\"t_ns\":30,\"who\":\"manager\"}\n"
		"{\"run\":\"faasnet\",\"t_ns\":30,\"who\":\"vm1\"}\n"
		"{\"run\":\"ondemand-r2\",\"t_ns\":30,\"who\":\"vm1\"}\n"
		"{\"run\":\"ondemand-r2\",\"t_ns\":40,\"who\":\"vm1\"}\n";
	char dir[PATH_MAX], out[PATH_MAX + 32], victim[PATH_MAX];
	struct err e = {""};
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/" HOSTILE, g_base);
	assert_int_equal(mkdir(dir, 0755), 0);
	sub(dir, "raw");
	sub(dir, "raw/faasnet");
	sub(dir, "raw/ondemand-r2");
	put(dir, "raw/faasnet/manager.jsonl",
	    "{\"t_ns\":5,\"who\":\"manager\"}\n"
	    "{\"t_ns\":20,\"who\":\"manager\"}\n"
	    "{\"t_ns\":30,\"who\":\"manager\"}\n");
	/* The last line without its newline. */
	put(dir, "raw/faasnet/vm1.jsonl",
	    "{\"t_ns\":10,\"who\":\"vm1\"}\n{\"t_ns\":30,\"who\":\"vm1\"}");
	put(dir, "raw/ondemand-r2/vm1.jsonl",
	    "{\"t_ns\":40,\"who\":\"vm1\"}\n{\"t_ns\":30,\"who\":\"vm1\"}\n");
	/* Not logs: another suffix, a hidden file, a link, a file in raw/. */
	put(dir, "raw/faasnet/netdev.csv", "0,vm1,1,2\n");
	put(dir, "raw/faasnet/.x.jsonl", "{\"t_ns\":1}\n");
	snprintf(victim, sizeof(victim), "%s/victim.jsonl", g_base);
	put(g_base, "victim.jsonl", "{\"t_ns\":2,\"who\":\"victim\"}\n");
	snprintf(out, sizeof(out), "%s/raw/faasnet/link.jsonl", dir);
	assert_int_equal(symlink(victim, out), 0);
	put(dir, "raw/stray.jsonl", "{\"t_ns\":3}\n");

	assert_int_equal(events_merge(dir, &e), 0);
	snprintf(out, sizeof(out), "%s/events.jsonl", dir);
	assert_int_equal(mem_read_file(out, &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
	/* Nothing ran `touch x`, here or in the folder. */
	assert_int_equal(access("x", F_OK), -1);
	snprintf(out, sizeof(out), "%s/raw/x", dir);
	assert_int_equal(access(out, F_OK), -1);
}

/* No raw/ folder: an error naming it. */
static void test_no_raw(void **state)
{
	struct err e = {""};

	(void)state;
	assert_int_equal(mkdir("empty", 0755), 0);
	assert_int_equal(events_merge("empty", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "empty/raw"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_hostile_name),
		cmocka_unit_test(test_no_raw),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}

/* Unit tests for testbed/procs.c's time dilation: the environment an
 * external program is started with (libfaketime preloaded, FAKETIME with
 * the rate and the offset onto the shared emulated clock, the harness's
 * own faketime settings left out), that a program of ours never gets it,
 * that an undilated procs changes nothing, and that a child started with
 * that environment does run under libfaketime. procs_spawn itself needs a
 * network namespace and writes the run's record (root, a testbed): the
 * integration tests start real ones. No timing is asserted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procs.h"

#define PRELOAD "LD_PRELOAD=" PROCS_FAKETIME_LIB

/* The harness's environment as a run might have it: its own preload and
 * faketime settings among ordinary variables. */
static char *const harness_env[] = {
	"PATH=/usr/sbin:/usr/bin",
	"LD_PRELOAD=/opt/other/libother.so",
	"FAKETIME=@2000-01-01 00:00:00",
	"FAKETIME_DONT_FAKE_MONOTONIC=1",
	"NO_FAKE_STAT=1",
	"HOME=/root",
	"DONT_FAKE_MONOTONIC=1",
	"LANG=C.UTF-8",
	NULL,
};

static size_t count_prefix(char **env, const char *prefix)
{
	size_t i, n = 0;

	for (i = 0; env[i]; i++)
		n += !strncmp(env[i], prefix, strlen(prefix));
	return n;
}

static const char *find_prefix(char **env, const char *prefix)
{
	size_t i;

	for (i = 0; env[i]; i++)
		if (!strncmp(env[i], prefix, strlen(prefix)))
			return env[i];
	return NULL;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* A procs with dilation k, or a skip when libfaketime is not installed
 * (scripts/deps.sh installs it before `make unit`). */
static struct procs *dilated(double k)
{
	struct procs *p;
	struct err e;
	int ret;

	assert_int_equal(procs_new(&p), 0);
	ret = procs_set_dilation(p, k, &e);
	if (ret == -ENOENT) {
		procs_free(p);
		print_message("%s\n", e.msg);
		skip();
	}
	assert_int_equal(ret, 0);
	return p;
}

static void test_external_dilated(void **state)
{
	struct procs *p = dilated(2);
	char **env;

	(void)state;
	assert_int_equal(
		procs_child_env(p, PROCS_PROG_EXTERNAL, harness_env, &env), 0);
	assert_non_null(env);
	/* ours in, the harness's faketime settings out */
	assert_int_equal(count_prefix(env, "LD_PRELOAD="), 1);
	assert_string_equal(find_prefix(env, "LD_PRELOAD="), PRELOAD);
	assert_int_equal(count_prefix(env, "FAKETIME"), 1);
	assert_int_equal(count_prefix(env, "NO_FAKE_STAT="), 0);
	assert_int_equal(count_prefix(env, "DONT_FAKE_MONOTONIC="), 0);
	/* set a moment ago: a small offset back, half speed */
	assert_true(
		!strncmp(find_prefix(env, "FAKETIME="), "FAKETIME=-0.", 12));
	assert_true(has_suffix(find_prefix(env, "FAKETIME="), " x0.500000000"));
	/* the rest as it was, in its order */
	assert_string_equal(env[0], "PATH=/usr/sbin:/usr/bin");
	assert_string_equal(env[1], "HOME=/root");
	assert_string_equal(env[2], "LANG=C.UTF-8");
	procs_env_free(env);
	procs_free(p);
}

static void test_ours_never_preloaded(void **state)
{
	struct procs *p = dilated(4);
	char *const bare[] = {"PATH=/usr/bin", NULL};
	char **env = (char **)harness_env;

	(void)state;
	/* NULL: the child inherits the harness's environment untouched */
	assert_int_equal(procs_child_env(p, PROCS_PROG_OURS, bare, &env), 0);
	assert_null(env);
	env = (char **)harness_env;
	assert_int_equal(procs_child_env(p, PROCS_PROG_OURS, NULL, &env), 0);
	assert_null(env);
	procs_free(p);
}

static void test_undilated_unchanged(void **state)
{
	struct procs *p;
	struct err e;
	char **env = (char **)harness_env;

	(void)state;
	assert_int_equal(procs_new(&p), 0);
	assert_int_equal(
		procs_child_env(p, PROCS_PROG_EXTERNAL, harness_env, &env), 0);
	assert_null(env);
	/* 1 is real time: allowed without libfaketime, still no preload */
	assert_int_equal(procs_set_dilation(p, 1, &e), 0);
	env = (char **)harness_env;
	assert_int_equal(
		procs_child_env(p, PROCS_PROG_EXTERNAL, harness_env, &env), 0);
	assert_null(env);
	procs_free(p);
}

static void test_set_dilation_rejects(void **state)
{
	const double bad[] = {
		0, 0.5, 0.999, -2, NAN, INFINITY, PROCS_DILATION_MAX + 1};
	struct procs *p;
	struct err e;
	size_t i;

	(void)state;
	assert_int_equal(procs_new(&p), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (procs_set_dilation(p, bad[i], &e) != -EINVAL)
			fail_msg("dilation %g accepted", bad[i]);
		assert_non_null(strstr(e.msg, "dilation"));
	}
	procs_free(p);
}

struct env_case {
	double k, since_s;
	const char *faketime;
};

static void test_env_offsets(void **state)
{
	/* offset = since * (1 - 1/k): where the shared emulated clock is
	 * when the program starts, against the real time libfaketime
	 * starts it from */
	static const struct env_case cases[] = {
		{2, 10, "FAKETIME=-5.000000 x0.500000000"},
		{4, 8, "FAKETIME=-6.000000 x0.250000000"},
		{3, 1.5, "FAKETIME=-1.000000 x0.333333333"},
		{2, 0, "FAKETIME=-0.000000 x0.500000000"},
		{2, 0.0000032, "FAKETIME=-0.000002 x0.500000000"},
		{8, 3600, "FAKETIME=-3150.000000 x0.125000000"},
		{PROCS_DILATION_MAX, 1, "FAKETIME=-0.990000 x0.010000000"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char **env;

		assert_int_equal(procs_env_dilated(harness_env, cases[i].k,
						   cases[i].since_s, &env),
				 0);
		assert_string_equal(find_prefix(env, "FAKETIME="),
				    cases[i].faketime);
		procs_env_free(env);
	}
}

static void test_env_empty(void **state)
{
	char **env;

	(void)state;
	assert_int_equal(procs_env_dilated(NULL, 2, 0, &env), 0);
	assert_string_equal(env[0], PRELOAD);
	assert_string_equal(env[1], "FAKETIME=-0.000000 x0.500000000");
	assert_null(env[2]);
	procs_env_free(env);
}

static void test_env_rejects(void **state)
{
	const double bad_k[] = {1,   0.5,      0,
				NAN, INFINITY, PROCS_DILATION_MAX + 1};
	char **env;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_k) / sizeof(bad_k[0]); i++) {
		env = (char **)harness_env;
		if (procs_env_dilated(harness_env, bad_k[i], 0, &env) !=
		    -EINVAL)
			fail_msg("k %g accepted", bad_k[i]);
		assert_null(env);
	}
	env = (char **)harness_env;
	assert_int_equal(procs_env_dilated(harness_env, 2, -1, &env), -EINVAL);
	assert_null(env);
	assert_int_equal(procs_env_dilated(harness_env, 2, NAN, &env), -EINVAL);
	assert_null(env);
}

/* Runs argv with env, its stdout into out; returns its exit status. */
static int run_child(char *const argv[], char *const env[], char *out,
		     size_t len)
{
	ssize_t n, got = 0;
	int fds[2], st;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		execve(argv[0], argv, env);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, len - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A child exec'd with the environment procs_spawn_ext would give it runs
 * with libfaketime loaded (its own memory map says so) and FAKETIME set.
 * Programs that end with exit(), not a shell (dash leaves by _exit, and
 * with it libfaketime's /dev/shm pair behind). */
static void test_child_runs_preloaded(void **state)
{
	struct procs *p = dilated(2);
	char *grep[] = {"/usr/bin/grep", "-c", "faketime/libfaketime",
			"/proc/self/maps", NULL};
	char *printenv[] = {"/usr/bin/printenv", "FAKETIME", NULL};
	char **env, out[256];

	(void)state;
	assert_int_equal(
		procs_child_env(p, PROCS_PROG_EXTERNAL, harness_env, &env), 0);
	assert_int_equal(run_child(grep, env, out, sizeof(out)), 0);
	assert_true(out[0] >= '1' && out[0] <= '9');
	assert_int_equal(run_child(printenv, env, out, sizeof(out)), 0);
	assert_true(!strncmp(out, "-0.", 3));
	assert_true(has_suffix(out, " x0.500000000\n"));
	procs_env_free(env);
	procs_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_external_dilated),
		cmocka_unit_test(test_ours_never_preloaded),
		cmocka_unit_test(test_undilated_unchanged),
		cmocka_unit_test(test_set_dilation_rejects),
		cmocka_unit_test(test_env_offsets),
		cmocka_unit_test(test_env_empty),
		cmocka_unit_test(test_env_rejects),
		cmocka_unit_test(test_child_runs_preloaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

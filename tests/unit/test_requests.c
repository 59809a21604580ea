/* Unit tests for testbed/requests.c: response-time percentiles and slow
 * episodes on rows worked out by hand, requests.csv written and read back
 * exactly, its read errors with path:line, and pool.csv as written. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "requests.h"

static struct requests_row req(const char *st, double arrival, double start,
			       double service)
{
	struct requests_row r = {.arrival_s = arrival};

	snprintf(r.strategy, sizeof(r.strategy), "%s", st);
	snprintf(r.function, sizeof(r.function), "f");
	if (start >= 0) {
		r.served = 1;
		r.start_s = start;
		r.done_s = start + service;
		r.container = 3;
	}
	return r;
}

/* Service 2 s: slow is waiting more than 1 s; episodes split where slow
 * arrivals are more than 4 s apart. */
static void test_compute(void **state)
{
	struct requests_row rows[] = {
		req("faasnet", 0, 0.5, 2),   /* waited 0.5: not slow */
		req("faasnet", 10, 12, 2),   /* slow: episode 1 */
		req("ondemand", 10, 30, 2),  /* another strategy */
		req("faasnet", 11, 11, 2),   /* fine */
		req("faasnet", 13, 16, 2),   /* slow, 3 s later: same one */
		req("faasnet", 17.5, 19, 2), /* slow, 4.5 s later: a new one */
		req("faasnet", 18, -1, 2),   /* never served */
	};
	struct requests_stats st;

	(void)state;
	assert_int_equal(requests_compute(rows, 7, "faasnet", 2, &st), 0);
	assert_string_equal(st.strategy, "faasnet");
	assert_int_equal(st.requests, 6);
	assert_int_equal(st.served, 5);
	assert_int_equal(st.slow, 3);
	assert_int_equal(st.nepisodes, 2);
	assert_true(st.ep[0].start_s == 10 && st.ep[0].end_s == 13);
	assert_int_equal(st.ep[0].slow, 2);
	assert_true(st.ep[0].peak_response_s == 5); /* 13 -> 18 */
	assert_true(st.ep[1].start_s == 17.5 && st.ep[1].end_s == 17.5);
	assert_true(st.recovery_s == 3);
	/* responses 2.5, 4, 2, 5, 3.5 sorted: 2, 2.5, 3.5, 4, 5 */
	assert_true(st.p50_s == 3.5);
	assert_true(st.p90_s == 5);
	assert_true(st.max_s == 5);

	assert_int_equal(requests_compute(rows, 7, "registry", 2, &st), 0);
	assert_int_equal(st.requests, 0);
	assert_true(st.max_s == 0);
	assert_int_equal(requests_compute(rows, 7, "a-strategy-name-too-long", 2,
					  &st),
			 -EINVAL);
}

/* A second repetition starts again from zero: a new episode. */
static void test_episodes_across_repetitions(void **state)
{
	struct requests_row rows[] = {
		req("faasnet", 50, 52, 2),
		req("faasnet", 1, 3, 2),
	};
	struct requests_stats st;

	(void)state;
	assert_int_equal(requests_compute(rows, 2, "faasnet", 2, &st), 0);
	assert_int_equal(st.nepisodes, 2);
	assert_true(st.recovery_s == 0);
}

static FILE *tmp(char *path)
{
	int fd;

	strcpy(path, "/tmp/test_requests.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	return fdopen(fd, "w+");
}

static void test_round_trip(void **state)
{
	struct requests_row rows[] = {
		req("faasnet", 0.25, 0.5, 2),
		req("ondemand", 1, -1, 2),
		req("faasnet", 3, 7.123456, 2),
	};
	struct requests_row *back;
	struct err e = {""};
	char path[64], text[512];
	size_t n, len;
	FILE *f = tmp(path);

	(void)state;
	rows[2].container = 4000000000u;
	assert_int_equal(requests_write_rows(f, rows, 3, &e), 0);
	rewind(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	assert_string_equal(
		text, "strategy,function,arrival_s,start_s,done_s,response_s,"
		      "container\n"
		      "faasnet,f,0.250000,0.500000,2.500000,2.250000,3\n"
		      "ondemand,f,1.000000,,,,\n"
		      "faasnet,f,3.000000,7.123456,9.123456,6.123456,"
		      "4000000000\n");
	assert_int_equal(requests_read_rows(path, &back, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(back[1].strategy, "ondemand");
	assert_false(back[1].served);
	assert_true(back[2].served);
	assert_true(back[2].start_s == 7.123456);
	assert_int_equal(back[2].container, 4000000000u);
	free(back);
	unlink(path);
}

static void test_read_errors(void **state)
{
	static const struct {
		const char *text, *msg; /* msg after "PATH:" */
	} cases[] = {
		{"", " empty, expected a header"},
		{"strategy,function\n",
		 "1: expected the header strategy,function,arrival_s,start_s,"
		 "done_s,response_s,container"},
		{"strategy,function,arrival_s,start_s,done_s,response_s,"
		 "container\nfaasnet,f,1\n",
		 "2: expected 7 columns, got 3"},
		{"strategy,function,arrival_s,start_s,done_s,response_s,"
		 "container\nfaasnet,f,1,2,3,4,5,6\n",
		 "2: expected 7 columns, got more"},
		{"strategy,function,arrival_s,start_s,done_s,response_s,"
		 "container\nfaasnet,f,-1,,,,\n",
		 "2: arrival_s: expected seconds, got \"-1\""},
		{"strategy,function,arrival_s,start_s,done_s,response_s,"
		 "container\nfaasnet,f,1,2,x,1,1\n",
		 "2: done_s: expected seconds, got \"x\""},
		{"strategy,function,arrival_s,start_s,done_s,response_s,"
		 "container\nfaasnet,f,1,2,3,2,\n",
		 "2: container: expected a container id, got \"\""},
		{"strategy,function,arrival_s,start_s,done_s,response_s,"
		 "container\nfaasnet,f,5,2,3,2,1\n",
		 "2: expected arrival_s <= start_s <= done_s"},
		{"strategy,function,arrival_s,start_s,done_s,response_s,"
		 "container\n,f,5,,,,\n",
		 "2: strategy: expected a strategy, got \"\""},
	};
	struct requests_row *rows = (void *)1;
	char path[64], want[256];
	size_t i, n = 99;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = {""};
		FILE *f = tmp(path);

		fputs(cases[i].text, f);
		fclose(f);
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].msg);
		assert_int_equal(requests_read_rows(path, &rows, &n, &e),
				 -EINVAL);
		assert_string_equal(e.msg, want);
		assert_true(rows == (void *)1 && n == 99);
		unlink(path);
	}
}

static void test_write_rejects_and_pool(void **state)
{
	struct requests_row bad = req("fa,asnet", 0, 1, 2);
	struct requests_pool_row pool[] = {
		{"faasnet", "f", 1.5, 3, 1, 2, 7},
	};
	struct err e = {""};
	char path[64], text[256];
	size_t len;
	FILE *f = tmp(path);

	(void)state;
	assert_int_equal(requests_write_rows(f, &bad, 1, &e), -EINVAL);
	assert_string_equal(e.msg, "request 0: strategy: expected a name "
				   "without comma, quote or line break");
	assert_int_equal(requests_write_pool(f, pool, 1, &e), 0);
	rewind(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	unlink(path);
	assert_string_equal(text,
			    "strategy,function,t_s,live,pending,busy,queued\n"
			    "faasnet,f,1.500,3,1,2,7\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compute),
		cmocka_unit_test(test_episodes_across_repetitions),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_write_rejects_and_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

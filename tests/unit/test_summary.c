/* Unit tests for testbed/summary.c: nearest-rank percentiles on sets worked
 * out by hand, what counts and what is filtered, containers.csv written and
 * read back exactly, every read error with its path:line message,
 * summary.json and summary.csv as written, and a summary recomputed from
 * containers.csv equal to the one computed from the rows themselves. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "summary.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define HEADER                                                                 \
	"strategy,function,vm,requested_s,started_s,seconds,image_ready_s,"    \
	"registry_bytes,peer_bytes"

static struct summary_row row(const char *strategy, long sweep, int started,
			      double seconds, uint64_t registry_bytes)
{
	struct summary_row r = {.sweep = sweep, .started = started};

	snprintf(r.strategy, sizeof(r.strategy), "%s", strategy);
	snprintf(r.function, sizeof(r.function), "fn");
	snprintf(r.vm, sizeof(r.vm), "vm0001");
	r.requested_s = 1.0;
	if (started) {
		r.seconds = seconds;
		r.started_s = r.requested_s + seconds;
	}
	r.registry_bytes = registry_bytes;
	return r;
}

/* A run full of garbage, so that a field summary_compute() forgot to set
 * stands out. */
static void poison_run(struct summary_run *run)
{
	memset(run, 0xa5, sizeof(*run));
}

static void assert_run_equal(const struct summary_run *a,
			     const struct summary_run *b)
{
	assert_string_equal(a->strategy, b->strategy);
	assert_int_equal(a->sweep, b->sweep);
	assert_int_equal(a->requested, b->requested);
	assert_int_equal(a->started, b->started);
	assert_int_equal(a->failed, b->failed);
	assert_true(a->p50_s == b->p50_s);
	assert_true(a->p90_s == b->p90_s);
	assert_true(a->p99_s == b->p99_s);
	assert_true(a->max_s == b->max_s);
	assert_true(a->registry_bytes == b->registry_bytes);
	assert_true(a->peer_bytes == b->peer_bytes);
	assert_int_equal(a->corrupt_blocks, b->corrupt_blocks);
}

static void assert_row_equal(const struct summary_row *a,
			     const struct summary_row *b)
{
	assert_string_equal(a->strategy, b->strategy);
	assert_string_equal(a->function, b->function);
	assert_string_equal(a->vm, b->vm);
	assert_int_equal(a->sweep, b->sweep);
	assert_int_equal(a->started, b->started);
	assert_true(a->requested_s == b->requested_s);
	assert_true(a->started_s == b->started_s);
	assert_true(a->seconds == b->seconds);
	assert_true(a->registry_bytes == b->registry_bytes);
	assert_true(a->peer_bytes == b->peer_bytes);
}

/* The percentiles of started containers taking v[0..n) seconds, in the
 * order given (summary_compute() must sort them itself). */
static void check_percentiles(const double *v, size_t n, double p50, double p90,
			      double p99, double max)
{
	struct summary_row *rows = calloc(n, sizeof(*rows));
	struct summary_run run;
	size_t i;

	assert_non_null(rows);
	for (i = 0; i < n; i++)
		rows[i] = row("faasnet", -1, 1, v[i], 0);
	poison_run(&run);
	assert_int_equal(summary_compute(rows, n, "faasnet", -1, 0, &run), 0);
	assert_int_equal(run.requested, n);
	assert_int_equal(run.started, n);
	assert_int_equal(run.failed, 0);
	if (run.p50_s != p50 || run.p90_s != p90 || run.p99_s != p99 ||
	    run.max_s != max)
		fail_msg("n=%zu: p50 %g p90 %g p99 %g max %g, expected "
			 "%g %g %g %g",
			 n, run.p50_s, run.p90_s, run.p99_s, run.max_s, p50,
			 p90, p99, max);
	free(rows);
}

static void test_percentiles_n1(void **state)
{
	static const double v[] = {2.5};

	(void)state;
	check_percentiles(v, ARRAY_SIZE(v), 2.5, 2.5, 2.5, 2.5);
}

/* rank = ceil(0.5 * 2) = 1: the smaller; ceil(1.8) = ceil(1.98) = 2. */
static void test_percentiles_n2(void **state)
{
	static const double v[] = {3.0, 1.0};

	(void)state;
	check_percentiles(v, ARRAY_SIZE(v), 1.0, 3.0, 3.0, 3.0);
}

/* Sorted: 1 2 3 3 3 5 7 8 9 10. p50: rank 5 (inside a tie of three 3s);
 * p90: rank exactly 9, not 10; p99: rank ceil(9.9) = 10. */
static void test_percentiles_n10_ties(void **state)
{
	static const double v[] = {5, 1, 3, 3, 9, 7, 3, 10, 2, 8};

	(void)state;
	check_percentiles(v, ARRAY_SIZE(v), 3, 9, 10, 10);
}

/* 100 distinct values given in descending order, then 100 values in pairs
 * (1 1 2 2 ... 50 50): ranks 50, 90 and 99. */
static void test_percentiles_n100(void **state)
{
	double v[100];
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++)
		v[i] = (double)(100 - i) * 0.5; /* 50.0 down to 0.5 */
	check_percentiles(v, 100, 25.0, 45.0, 49.5, 50.0);

	for (i = 0; i < 100; i++)
		v[i] = (double)((i + 2) / 2); /* element i sorted: (i+2)/2 */
	check_percentiles(v, 100, 25, 45, 50, 50);
}

/* Failed containers count as requested and failed, add their bytes, and
 * stay out of the percentiles even when their seconds hold garbage. */
static void test_failed_counted_not_ranked(void **state)
{
	struct summary_row rows[] = {
		row("faasnet", -1, 1, 3.0, 10), row("faasnet", -1, 0, 0, 1000),
		row("faasnet", -1, 1, 1.0, 20), row("faasnet", -1, 0, 0, 2000),
		row("faasnet", -1, 1, 2.0, 30),
	};
	struct summary_run run;

	(void)state;
	rows[1].seconds = 1e9;
	rows[3].seconds = 1e9;
	rows[3].peer_bytes = 7;
	poison_run(&run);
	assert_int_equal(
		summary_compute(rows, ARRAY_SIZE(rows), "faasnet", -1, 4, &run),
		0);
	assert_string_equal(run.strategy, "faasnet");
	assert_int_equal(run.sweep, -1);
	assert_int_equal(run.requested, 5);
	assert_int_equal(run.started, 3);
	assert_int_equal(run.failed, 2);
	assert_true(run.p50_s == 2.0);
	assert_true(run.p90_s == 3.0);
	assert_true(run.p99_s == 3.0);
	assert_true(run.max_s == 3.0);
	assert_true(run.registry_bytes == 3060);
	assert_true(run.peer_bytes == 7);
	assert_int_equal(run.corrupt_blocks, 4);
}

static void test_none_started(void **state)
{
	struct summary_row rows[] = {
		row("registry", -1, 0, 0, 5),
		row("registry", -1, 0, 0, 6),
	};
	struct summary_run run;

	(void)state;
	poison_run(&run);
	assert_int_equal(summary_compute(rows, ARRAY_SIZE(rows), "registry", -1,
					 0, &run),
			 0);
	assert_int_equal(run.requested, 2);
	assert_int_equal(run.started, 0);
	assert_int_equal(run.failed, 2);
	assert_true(run.p50_s == 0 && run.p90_s == 0 && run.p99_s == 0 &&
		    run.max_s == 0);
	assert_true(run.registry_bytes == 11);
}

/* Only rows of the strategy and the sweep value asked for count. */
static void test_filtering(void **state)
{
	static const struct {
		const char *strategy;
		long sweep;
		unsigned requested, started;
		double max;
		uint64_t bytes;
	} want[] = {
		{"faasnet", 8, 2, 2, 2.0, 3},	  {"faasnet", 16, 1, 1, 4.0, 4},
		{"registry", 8, 3, 2, 16.0, 112}, {"registry", 16, 0, 0, 0, 0},
		{"ondemand", 8, 0, 0, 0, 0},
	};
	const struct summary_row rows[] = {
		row("faasnet", 8, 1, 1.0, 1),
		row("faasnet", 8, 1, 2.0, 2),
		row("faasnet", 16, 1, 4.0, 4),
		row("registry", 8, 1, 8.0, 16),
		row("registry", 8, 1, 16.0, 32),
		row("registry", 8, 0, 0, 64),
		row("faasnetx", 8, 1, 100.0, 99),
		row("faas", 8, 1, 100.0, 99),
		row("registry", -1, 1, 100.0, 99),
	};
	struct summary_run run;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		poison_run(&run);
		assert_int_equal(summary_compute(rows, ARRAY_SIZE(rows),
						 want[i].strategy,
						 want[i].sweep, 0, &run),
				 0);
		assert_string_equal(run.strategy, want[i].strategy);
		assert_int_equal(run.sweep, want[i].sweep);
		assert_int_equal(run.requested, want[i].requested);
		assert_int_equal(run.started, want[i].started);
		assert_int_equal(run.failed,
				 want[i].requested - want[i].started);
		assert_true(run.max_s == want[i].max);
		assert_true(run.registry_bytes == want[i].bytes);
	}
}

static void test_compute_rejects_long_strategy(void **state)
{
	struct summary_row r = row("faasnet", -1, 1, 1.0, 0);
	struct summary_run run;

	(void)state;
	assert_int_equal(
		summary_compute(&r, 1, "a-strategy-name-24-bytes", -1, 0, &run),
		-EINVAL);
	assert_int_equal(summary_compute(&r, 1, NULL, -1, 0, &run), -EINVAL);
}

/* ---- containers.csv ---- */

/* image_ready_s: p50 and max over started rows that have it; a row
 * without it (never placed, or a log without the event) is left out, and
 * one that never started too. Read back as written. */
static void test_image_ready(void **state)
{
	struct summary_row rows[4] = {
		row("faasnet", -1, 1, 2.0, 0),
		row("faasnet", -1, 1, 3.0, 0),
		row("faasnet", -1, 1, 4.0, 0),
		row("faasnet", -1, 0, 0, 0),
	};
	struct summary_run r;

	(void)state;
	rows[0].image_ready = rows[2].image_ready = rows[3].image_ready = 1;
	rows[0].image_ready_s = 0.5;
	rows[2].image_ready_s = 1.5;
	rows[3].image_ready_s = 9.0; /* never started: not counted */
	assert_int_equal(summary_compute(rows, 4, "faasnet", -1, 0, &r), 0);
	assert_true(r.image_ready_p50_s == 0.5);
	assert_true(r.image_ready_max_s == 1.5);
	assert_int_equal(summary_compute(rows + 1, 1, "faasnet", -1, 0, &r), 0);
	assert_true(r.image_ready_p50_s == 0 && r.image_ready_max_s == 0);
}

/* Runs a writer into memory; returns its text (malloc'd). */
static char *write_rows_mem(const struct summary_row *rows, size_t n,
			    const char *sweep_param, int *ret, struct err *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = summary_write_rows(f, rows, n, sweep_param, e);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_write_rows_text(void **state)
{
	struct summary_row rows[2] = {
		row("faasnet", -1, 1, 1.25, 0),
		row("faasnet", -1, 0, 0, 100),
	};
	struct err e = {""};
	char *text;
	int ret;

	(void)state;
	snprintf(rows[0].function, sizeof(rows[0].function), "fn-a");
	rows[0].requested_s = 0.5;
	rows[0].started_s = 1.75;
	rows[0].peer_bytes = 4096;
	rows[0].image_ready = 1; /* written beside seconds */
	rows[0].image_ready_s = 0.75;
	snprintf(rows[1].function, sizeof(rows[1].function), "fn-b");
	rows[1].vm[0] = '\0';
	rows[1].requested_s = 1234.0000004; /* printed rounded to 6 places */

	text = write_rows_mem(rows, 2, NULL, &ret, &e);
	assert_int_equal(ret, 0);
	assert_string_equal(text,
			    HEADER "\n"
				   "faasnet,fn-a,vm0001,0.500000,1.750000,"
				   "1.250000,0.750000,0,4096\n"
				   "faasnet,fn-b,,1234.000000,,,,100,0\n");
	free(text);

	rows[0].sweep = 8;
	rows[1].sweep = 16;
	text = write_rows_mem(rows, 2, "containers", &ret, &e);
	assert_int_equal(ret, 0);
	assert_string_equal(text,
			    HEADER ",containers\n"
				   "faasnet,fn-a,vm0001,0.500000,1.750000,"
				   "1.250000,0.750000,0,4096,8\n"
				   "faasnet,fn-b,,1234.000000,,,,100,0,16\n");
	free(text);

	/* No rows: the header alone. */
	text = write_rows_mem(rows, 0, NULL, &ret, &e);
	assert_int_equal(ret, 0);
	assert_string_equal(text, HEADER "\n");
	free(text);
}

static void make_tmp(char *path, size_t size)
{
	int fd;

	snprintf(path, size, "/tmp/test_summary.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Writes rows to a file, reads them back, and checks they are equal. */
static void round_trip(const struct summary_row *rows, size_t n,
		       const char *sweep_param)
{
	struct summary_row *back = NULL;
	struct err e = {""};
	char path[64];
	size_t nback = 0, i;
	FILE *f;
	int ret;

	make_tmp(path, sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(summary_write_rows(f, rows, n, sweep_param, &e), 0);
	assert_int_equal(fclose(f), 0);
	ret = summary_read_rows(path, &back, &nback, &e);
	if (ret)
		fail_msg("%s", e.msg);
	assert_int_equal(nback, n);
	for (i = 0; i < n; i++)
		assert_row_equal(&back[i], &rows[i]);
	free(back);
	unlink(path);
}

static void fill_edge_rows(struct summary_row *rows, size_t n, long sweep)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/* Times are built as the nearest double to a decimal of six
		 * places, as strtod() gives back. */
		rows[i] = row(i % 2 ? "registry" : "faasnet", sweep, i % 3 != 0,
			      (double)(i + 1) / 1e6, i);
		snprintf(rows[i].function, sizeof(rows[i].function),
			 "function-%zu", i);
		rows[i].requested_s = (double)(123456789 + i * 1000000) / 1e6;
		rows[i].started_s =
			rows[i].started
				? (double)(9876543210 + i * 1000000) / 1e6
				: 0;
		rows[i].peer_bytes = i * 1000;
	}
	/* The widest values each field takes. */
	snprintf(rows[0].strategy, sizeof(rows[0].strategy), "%s",
		 "fifteen-chars-x");
	memset(rows[1].function, 'f', sizeof(rows[1].function) - 1);
	rows[1].function[sizeof(rows[1].function) - 1] = '\0';
	rows[2].vm[0] = '\0';
	rows[4].registry_bytes = UINT64_MAX;
	rows[4].peer_bytes = UINT64_MAX - 1;
	rows[4].requested_s = 0;
	rows[5].requested_s = 4000000000.125;
}

static void test_round_trip_no_sweep(void **state)
{
	struct summary_row rows[7];

	(void)state;
	fill_edge_rows(rows, ARRAY_SIZE(rows), -1);
	round_trip(rows, ARRAY_SIZE(rows), NULL);
	round_trip(rows, 0, NULL);
}

static void test_round_trip_sweep(void **state)
{
	struct summary_row rows[7];
	size_t i;

	(void)state;
	fill_edge_rows(rows, ARRAY_SIZE(rows), 0);
	for (i = 0; i < ARRAY_SIZE(rows); i++)
		rows[i].sweep = (long)(i * 1000);
	rows[6].sweep = 2147483648L * 4;
	round_trip(rows, ARRAY_SIZE(rows), "containers");
}

/* A file without a newline at its end, and lines of exactly 4096 bytes,
 * are accepted; 4097 is refused. */
static void test_read_edges(void **state)
{
	struct summary_row *rows = NULL;
	struct err e = {""};
	char path[64], want[128];
	const char *prefix = "faasnet,fn,vm1,1.";
	const char *suffix = ",,,,5,6";
	size_t n = 0, len, pad;
	char *text;

	(void)state;
	make_tmp(path, sizeof(path));
	text = malloc(8192);
	assert_non_null(text);

	len = (size_t)snprintf(text, 8192,
			       HEADER "\nfaasnet,fn,vm1,1.5,3.25,1.75,0.5,1,2");
	write_file(path, text, len);
	assert_int_equal(summary_read_rows(path, &rows, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_true(rows[0].started && rows[0].requested_s == 1.5 &&
		    rows[0].started_s == 3.25 && rows[0].seconds == 1.75 &&
		    rows[0].image_ready && rows[0].image_ready_s == 0.5 &&
		    rows[0].registry_bytes == 1 && rows[0].peer_bytes == 2);
	free(rows);
	rows = NULL;

	/* requested_s padded with zeros to make a line of 4096 bytes. */
	len = (size_t)snprintf(text, 8192, HEADER "\n%s", prefix);
	pad = 4096 - strlen(prefix) - strlen(suffix);
	memset(text + len, '0', pad);
	len += pad;
	len += (size_t)snprintf(text + len, 8192 - len, "%s\n", suffix);
	write_file(path, text, len);
	assert_int_equal(summary_read_rows(path, &rows, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_true(rows[0].requested_s == 1.0 && !rows[0].started &&
		    rows[0].peer_bytes == 6);
	free(rows);
	rows = NULL;

	/* One more zero. */
	memmove(text + len - strlen(suffix) - 1,
		text + len - strlen(suffix) - 2, strlen(suffix) + 2);
	len++;
	write_file(path, text, len);
	n = 77;
	assert_int_equal(summary_read_rows(path, &rows, &n, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: line longer than 4096 bytes", path);
	assert_string_equal(e.msg, want);
	assert_null(rows);
	assert_int_equal(n, 77);

	/* A NUL byte inside a line. */
	len = (size_t)snprintf(text, 8192,
			       HEADER "\nfaasnet,fn,vm1,1.5,,,,1,2");
	text[len - 5] = '\0';
	write_file(path, text, len);
	assert_int_equal(summary_read_rows(path, &rows, &n, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: expected text, got a NUL byte",
		 path);
	assert_string_equal(e.msg, want);

	free(text);
	unlink(path);
}

/* Many rows: the array grows past its first allocation. */
static void test_read_many_rows(void **state)
{
	struct summary_row *rows = NULL;
	struct err e = {""};
	char path[64];
	size_t n = 0, i;
	FILE *f;

	(void)state;
	make_tmp(path, sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, HEADER ",containers\n");
	for (i = 0; i < 1000; i++)
		fprintf(f, "faasnet,fn,vm%zu,%zu.000000,,,,%zu,0,%zu\n", i, i,
			i, i % 7);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(summary_read_rows(path, &rows, &n, &e), 0);
	assert_int_equal(n, 1000);
	for (i = 0; i < 1000; i++) {
		assert_true(rows[i].requested_s == (double)i);
		assert_true(rows[i].registry_bytes == i);
		assert_int_equal(rows[i].sweep, (long)(i % 7));
		assert_int_equal(rows[i].started, 0);
	}
	free(rows);
	unlink(path);
}

struct read_case {
	const char *text;
	const char *msg; /* after "path:" */
};

#define ROW_OK "faasnet,fn,vm1,0.500000,1.000000,0.500000,,10,20"

static const struct read_case read_cases[] = {
	/* bad header */
	{"", "1: expected the header \"strategy,function,...\", got an empty "
	     "file"},
	{"strategy,function,vm,requested,started_s,seconds,registry_bytes,"
	 "peer_bytes\n",
	 "1: header column 4: expected \"requested_s\", got \"requested\""},
	{"strategy,function,vm\n",
	 "1: header column 4: expected \"requested_s\", got end of line"},
	{"\n", "1: header column 1: expected \"strategy\", got \"\""},
	{HEADER ",containers,extra\n",
	 "1: expected 9 columns and a sweep parameter at most, got 11 "
	 "columns"},
	{HEADER ",\n",
	 "1: header column 10: expected the sweep parameter's name, got \"\""},
	/* missing column */
	{HEADER "\n" ROW_OK "\nfaasnet,fn,vm1,0.500000,1.000000,0.500000,,10\n",
	 "3: column peer_bytes: expected a byte count, got end of line"},
	{HEADER "\nfaasnet\n",
	 "2: column function: expected a function name, got end of line"},
	{HEADER ",containers\n" ROW_OK "\n",
	 "2: column containers: expected a sweep value, got end of line"},
	{HEADER "\n\n", "2: column function: expected a function name, got "
			"end of line"},
	/* bad numbers */
	{HEADER "\nfaasnet,fn,vm1,0.5s,,,,1,2\n",
	 "2: column requested_s: expected seconds like 1.250000, got "
	 "\"0.5s\""},
	{HEADER "\nfaasnet,fn,vm1,nan,,,,1,2\n",
	 "2: column requested_s: expected seconds like 1.250000, got "
	 "\"nan\""},
	{HEADER "\nfaasnet,fn,vm1, 1.5,,,,1,2\n",
	 "2: column requested_s: expected seconds like 1.250000, got "
	 "\" 1.5\""},
	{HEADER "\nfaasnet,fn,vm1,1e3,,,,1,2\n",
	 "2: column requested_s: expected seconds like 1.250000, got "
	 "\"1e3\""},
	{HEADER "\nfaasnet,fn,vm1,1.,,,,1,2\n",
	 "2: column requested_s: expected seconds like 1.250000, got "
	 "\"1.\""},
	{HEADER "\nfaasnet,fn,vm1,1.0,x,1.0,,1,2\n",
	 "2: column started_s: expected seconds like 1.250000, got \"x\""},
	{HEADER "\nfaasnet,fn,vm1,1.0,2.0,,,1,2\n",
	 "2: column seconds: expected seconds, as started_s is set, got "
	 "\"\""},
	{HEADER "\n" ROW_OK "\nfaasnet,fn,vm1,1.0,,1.000000,,1,2\n",
	 "3: column seconds: expected nothing, as started_s is empty, got "
	 "\"1.000000\""},
	{HEADER "\nfaasnet,fn,vm1,1.0,,,,-3,2\n",
	 "2: column registry_bytes: expected a byte count, got \"-3\""},
	{HEADER "\nfaasnet,fn,vm1,1.0,,,,+3,2\n",
	 "2: column registry_bytes: expected a byte count, got \"+3\""},
	{HEADER "\nfaasnet,fn,vm1,1.0,,,,1,18446744073709551616\n",
	 "2: column peer_bytes: expected a byte count, got "
	 "\"18446744073709551616\""},
	{HEADER "\nfaasnet,fn,vm1,1.0,,,,1,\n",
	 "2: column peer_bytes: expected a byte count, got \"\""},
	{HEADER ",containers\n" ROW_OK ",x\n",
	 "2: column containers: expected a whole number, got \"x\""},
	{HEADER ",containers\n" ROW_OK ",-1\n",
	 "2: column containers: expected a whole number, got \"-1\""},
	/* too many columns */
	{HEADER "\n" ROW_OK ",8\n",
	 "2: expected 9 columns, as the header has, got 10"},
	{HEADER ",containers\n" ROW_OK ",8,9,10\n",
	 "2: expected 10 columns, as the header has, got 12"},
	/* names */
	{HEADER "\n,fn,vm1,1.0,,,,1,2\n",
	 "2: column strategy: expected a name of 1 to 23 bytes, got \"\""},
	{HEADER "\nfaasnet,fn,v\"m,1.0,,,,1,2\n",
	 "2: column vm: expected a name without quotes, got \"v\\\"m\""},
	{HEADER
	 "\nfaasnet,"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 ",vm1,1.0,,,,1,2\n",
	 "2: column function: expected a name of 1 to 63 bytes, got "
	 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\""},
	{HEADER "\nfaasnet,fn,vm1,1.0,,,,1,2\r\n",
	 "2: column peer_bytes: expected a byte count, got \"2\\r\""},
};

static void test_read_errors(void **state)
{
	char path[64], want[sizeof(((struct err *)0)->msg)];
	size_t i;

	(void)state;
	make_tmp(path, sizeof(path));
	for (i = 0; i < ARRAY_SIZE(read_cases); i++) {
		struct summary_row *rows = NULL;
		struct err e = {""};
		size_t n = 77;
		int ret;

		write_file(path, read_cases[i].text,
			   strlen(read_cases[i].text));
		ret = summary_read_rows(path, &rows, &n, &e);
		snprintf(want, sizeof(want), "%s:%s", path, read_cases[i].msg);
		if (ret != -EINVAL || strcmp(e.msg, want))
			fail_msg("case %zu: returned %d \"%s\", expected "
				 "-EINVAL \"%s\"",
				 i, ret, e.msg, want);
		/* The caller's variables stay as they were. */
		assert_null(rows);
		assert_int_equal(n, 77);
	}
	unlink(path);
}

static void test_read_missing_file(void **state)
{
	struct summary_row *rows = NULL;
	struct err e = {""};
	size_t n = 0;

	(void)state;
	assert_int_equal(
		summary_read_rows("/nonexistent/containers.csv", &rows, &n, &e),
		-ENOENT);
	assert_string_equal(e.msg, "/nonexistent/containers.csv: No such file "
				   "or directory");
	assert_null(rows);
}

/* Rows the reader could not read back are refused before anything is
 * written, with the row and the field named. */
static void test_write_rows_rejects(void **state)
{
	static const struct {
		const char *field; /* strategy, function, vm */
		const char *value;
		const char *msg;
	} cases[] = {
		{"function", "a,b",
		 "rows[1].function: expected no comma, quote or line break, "
		 "got \"a,b\""},
		{"strategy", "x\"y",
		 "rows[1].strategy: expected no comma, quote or line break, "
		 "got \"x\\\"y\""},
		{"vm", "v\n",
		 "rows[1].vm: expected no comma, quote or line break, got "
		 "\"v\\n\""},
		{"vm", "v\r",
		 "rows[1].vm: expected no comma, quote or line break, got "
		 "\"v\\r\""},
		{"strategy", "",
		 "rows[1].strategy: expected a name, got nothing"},
		{"function", "",
		 "rows[1].function: expected a name, got nothing"},
	};
	struct summary_row rows[2] = {
		row("faasnet", -1, 1, 1.0, 0),
		row("faasnet", -1, 1, 1.0, 0),
	};
	struct err e = {""};
	size_t i;
	char *text;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct summary_row r[2] = {rows[0], rows[1]};
		char *dst = !strcmp(cases[i].field, "strategy") ? r[1].strategy
			    : !strcmp(cases[i].field, "function")
				    ? r[1].function
				    : r[1].vm;

		snprintf(dst, 16, "%s", cases[i].value);
		text = write_rows_mem(r, 2, NULL, &ret, &e);
		assert_int_equal(ret, -EINVAL);
		assert_string_equal(e.msg, cases[i].msg);
		assert_string_equal(text, "");
		free(text);
	}

	/* Sweep values and the sweep parameter must agree. */
	rows[0].sweep = 8;
	text = write_rows_mem(rows, 2, NULL, &ret, &e);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(e.msg, "rows[0]: sweep is 8 but no sweep "
				   "parameter was given");
	free(text);
	text = write_rows_mem(rows, 2, "containers", &ret, &e);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(e.msg, "rows[1]: sweep is -1, expected a value of "
				   "containers (0 or more)");
	free(text);
	rows[1].sweep = 16;
	text = write_rows_mem(rows, 2, "a,b", &ret, &e);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(e.msg, "sweep parameter: expected a name without "
				   "comma, quote or line break, got \"a,b\"");
	free(text);

	/* A time the reader would refuse. */
	rows[1].seconds = NAN;
	text = write_rows_mem(rows, 2, "containers", &ret, &e);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(e.msg, "rows[1]: a time is not finite");
	assert_string_equal(text, "");
	free(text);
	/* ...but not in a failed row, where it is not written. */
	rows[1].started = 0;
	text = write_rows_mem(rows, 2, "containers", &ret, &e);
	assert_int_equal(ret, 0);
	free(text);

	/* A name filling its whole array has no NUL. */
	memset(rows[0].vm, 'v', sizeof(rows[0].vm));
	text = write_rows_mem(rows, 2, "containers", &ret, &e);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(e.msg, "rows[0].vm: not NUL-terminated");
	free(text);
}

/* ---- summary.json and summary.csv ---- */

static const struct summary_run json_runs[] = {
	{
		.strategy = "faasnet",
		.sweep = 8,
		.seed = UINT64_C(4294967295) + 99, /* a scenario's last, r100 */
		.requested = 10,
		.started = 9,
		.failed = 1,
		.p50_s = 1.25,
		.p90_s = 2.5,
		.p99_s = 123.4567891, /* 10 digits: JSON keeps 9 */
		.max_s = 4.0,
		.registry_bytes = UINT64_C(1) << 40,
		.peer_bytes = 42,
		.corrupt_blocks = 3,
	},
	{
		.strategy = "registry",
		.sweep = 16,
		.requested = 2,
		.started = 0,
		.failed = 2,
		.registry_bytes = 5,
	},
};

static char *write_json_mem(const char *sweep_param,
			    const struct summary_run *runs, size_t n, int *ret,
			    struct err *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = summary_write_json(f, "fig9-burst", "ok", sweep_param, runs, n,
				  e);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void check_json_run(json_t *o, const struct summary_run *want,
			   const char *sweep_param, double p99)
{
	static const char *const keys[] = {
		"strategy",
		"params",
		"seed",
		"requested",
		"started",
		"failed",
		"p50_s",
		"p90_s",
		"p99_s",
		"max_s",
		"image_ready_p50_s",
		"image_ready_max_s",
		"registry_bytes",
		"peer_bytes",
		"corrupt_blocks",
	};
	json_t *params;
	void *it;
	size_t k = 0;

	assert_true(json_is_object(o));
	/* Every key, in the documented order, and nothing else. */
	for (it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
		assert_true(k < ARRAY_SIZE(keys));
		assert_string_equal(json_object_iter_key(it), keys[k]);
		k++;
	}
	assert_int_equal(k, ARRAY_SIZE(keys));

	assert_string_equal(json_string_value(json_object_get(o, "strategy")),
			    want->strategy);
	params = json_object_get(o, "params");
	assert_true(json_is_object(params));
	if (sweep_param) {
		assert_int_equal(json_object_size(params), 1);
		assert_true(
			json_is_integer(json_object_get(params, sweep_param)));
		assert_int_equal(json_integer_value(
					 json_object_get(params, sweep_param)),
				 want->sweep);
	} else {
		assert_int_equal(json_object_size(params), 0);
	}
#define INT_FIELD(name)                                                        \
	do {                                                                   \
		json_t *v = json_object_get(o, #name);                         \
		assert_true(json_is_integer(v));                               \
		assert_true((uint64_t)json_integer_value(v) == want->name);    \
	} while (0)
#define REAL_FIELD(name, value)                                                \
	do {                                                                   \
		json_t *v = json_object_get(o, #name);                         \
		assert_true(json_is_real(v));                                  \
		assert_true(json_real_value(v) == (value));                    \
	} while (0)
	INT_FIELD(seed);
	INT_FIELD(requested);
	INT_FIELD(started);
	INT_FIELD(failed);
	INT_FIELD(registry_bytes);
	INT_FIELD(peer_bytes);
	INT_FIELD(corrupt_blocks);
	REAL_FIELD(p50_s, want->p50_s);
	REAL_FIELD(p90_s, want->p90_s);
	REAL_FIELD(p99_s, p99);
	REAL_FIELD(max_s, want->max_s);
#undef INT_FIELD
#undef REAL_FIELD
}

static void check_json(const char *sweep_param)
{
	struct summary_run runs[2] = {json_runs[0], json_runs[1]};
	struct err e = {""};
	json_error_t je;
	json_t *root, *arr;
	char *text;
	void *it;
	int ret;

	if (!sweep_param)
		runs[0].sweep = runs[1].sweep = -1;
	text = write_json_mem(sweep_param, runs, 2, &ret, &e);
	assert_int_equal(ret, 0);
	/* Indented by two, top-level keys in order, one closing newline. */
	assert_non_null(strstr(text, "{\n  \"scenario\": \"fig9-burst\",\n  "
				     "\"fidelity\": \"ok\",\n  \"runs\": ["));
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_int_equal(text[strlen(text) - 2], '}');
	/* Nine significant digits. */
	assert_non_null(strstr(text, "\"p99_s\": 123.456789,"));

	root = json_loads(text, 0, &je);
	if (!root)
		fail_msg("summary.json: %s at line %d", je.text, je.line);
	assert_int_equal(json_object_size(root), 3);
	it = json_object_iter(root);
	assert_string_equal(json_object_iter_key(it), "scenario");
	assert_string_equal(
		json_string_value(json_object_get(root, "scenario")),
		"fig9-burst");
	assert_string_equal(
		json_string_value(json_object_get(root, "fidelity")), "ok");
	arr = json_object_get(root, "runs");
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 2);
	check_json_run(json_array_get(arr, 0), &runs[0], sweep_param,
		       123.456789);
	check_json_run(json_array_get(arr, 1), &runs[1], sweep_param, 0);
	json_decref(root);
	free(text);
}

static void test_json_sweep(void **state)
{
	(void)state;
	check_json("containers");
}

static void test_json_no_sweep(void **state)
{
	(void)state;
	check_json(NULL);
}

static void test_json_rejects(void **state)
{
	struct summary_run runs[2] = {json_runs[0], json_runs[1]};
	struct err e = {""};
	char *buf = NULL, *text;
	size_t len = 0;
	FILE *f;
	int ret;

	(void)state;
	text = write_json_mem(NULL, runs, 2, &ret, &e);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(e.msg,
			    "runs[0]: sweep is 8 but no sweep parameter was "
			    "given");
	assert_string_equal(text, "");
	free(text);

	runs[1].registry_bytes = UINT64_MAX;
	text = write_json_mem("containers", runs, 2, &ret, &e);
	assert_int_equal(ret, -EOVERFLOW);
	assert_string_equal(e.msg,
			    "runs[1].registry_bytes: "
			    "18446744073709551615 is too large for JSON");
	assert_string_equal(text, "");
	free(text);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	ret = summary_write_json(f, "bad\xff", "ok", NULL, NULL, 0, &e);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(e.msg, "summary.json: scenario is not UTF-8 (or "
				   "out of memory)");
	assert_string_equal(buf, "");
	free(buf);
}

/* A run's verdict and CPU seconds, after corrupt_blocks, in that order;
 * each reason with its six fields. */
static void test_json_fidelity_and_cpu(void **state)
{
	struct fidelity_verdict v = {.degraded = 1, .nreasons = 1};
	struct summary_cpu cpu = {
		.agents = 1.5, .manager = 0.25, .registry = 0.5, .total = 2.25};
	struct summary_run run = json_runs[1];
	struct err e = {""};
	json_t *j, *o, *r, *c;
	const char *key;
	char *text;
	int ret;

	(void)state;
	v.reasons[0] = (struct fidelity_reason){
		.signal = FIDELITY_SIG_CPU,
		.from_s = 1.2,
		.to_s = 3.4,
		.value = 0.98,
		.threshold = FIDELITY_CPU_BUSY,
	};
	snprintf(v.reasons[0].text, sizeof(v.reasons[0].text),
		 "cpu0 98%% busy 1.2-3.4 s");
	run.sweep = -1;
	run.fidelity = &v;
	run.cpu = &cpu;
	run.dilation = 2.5;
	text = write_json_mem(NULL, &run, 1, &ret, &e);
	assert_int_equal(ret, 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	o = json_array_get(json_object_get(j, "runs"), 0);
	/* the last three keys, in order */
	key = NULL;
	{
		void *it = json_object_iter(o);
		const char *prev2 = NULL, *prev = NULL;

		for (; it; it = json_object_iter_next(o, it)) {
			prev2 = prev;
			prev = key;
			key = json_object_iter_key(it);
		}
		assert_string_equal(prev2, "corrupt_blocks");
		assert_string_equal(prev, "fidelity");
		assert_string_equal(key, "cpu_s");
	}
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(o, "fidelity"), "verdict")),
			    "degraded");
	r = json_array_get(
		json_object_get(json_object_get(o, "fidelity"), "reasons"), 0);
	assert_int_equal(json_object_size(r), 6);
	assert_string_equal(json_string_value(json_object_get(r, "signal")),
			    "cpu");
	assert_true(fabs(json_real_value(json_object_get(r, "from_s")) - 1.2) <
		    1e-9);
	assert_true(fabs(json_real_value(json_object_get(r, "threshold")) -
			 FIDELITY_CPU_BUSY) < 1e-9);
	assert_string_equal(json_string_value(json_object_get(r, "text")),
			    "cpu0 98% busy 1.2-3.4 s");
	assert_true(json_real_value(json_object_get(o, "dilation")) == 2.5);
	c = json_object_get(o, "cpu_s");
	assert_int_equal(json_object_size(c), 8);
	assert_non_null(json_object_get(c, "proxies"));
	assert_true(json_real_value(json_object_get(c, "total")) == 2.25);
	assert_true(json_real_value(json_object_get(c, "aria2c")) == 0);
	json_decref(j);
	free(text);
}

static char *write_csv_mem(const char *sweep_param,
			   const struct summary_run *runs, size_t n, int *ret,
			   struct err *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = summary_write_csv(f, sweep_param, runs, n, e);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_csv(void **state)
{
	struct summary_run run = json_runs[0];
	struct err e = {""};
	char *text;
	int ret;

	(void)state;
	text = write_csv_mem("containers", &run, 1, &ret, &e);
	assert_int_equal(ret, 0);
	assert_string_equal(
		text, "strategy,containers,requested,started,failed,p50_s,"
		      "p90_s,p99_s,max_s,registry_bytes,peer_bytes,"
		      "corrupt_blocks\n"
		      "faasnet,8,10,9,1,1.250000,2.500000,123.456789,"
		      "4.000000,1099511627776,42,3\n");
	free(text);

	run.sweep = -1;
	text = write_csv_mem(NULL, &run, 1, &ret, &e);
	assert_int_equal(ret, 0);
	assert_string_equal(
		text, "strategy,requested,started,failed,p50_s,p90_s,p99_s,"
		      "max_s,registry_bytes,peer_bytes,corrupt_blocks\n"
		      "faasnet,10,9,1,1.250000,2.500000,123.456789,4.000000,"
		      "1099511627776,42,3\n");
	free(text);

	snprintf(run.strategy, sizeof(run.strategy), "a,b");
	text = write_csv_mem(NULL, &run, 1, &ret, &e);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(e.msg, "runs[0].strategy: expected no comma, "
				   "quote or line break, got \"a,b\"");
	assert_string_equal(text, "");
	free(text);
}

/* A full disk (/dev/full fails every flush with ENOSPC), buffered and
 * unbuffered: every writer says -EIO. */
static void test_write_errors(void **state)
{
	struct summary_row r = row("faasnet", -1, 1, 1.0, 0);
	struct summary_run run = json_runs[1];
	struct err e = {""};
	int buffered;

	(void)state;
	run.sweep = -1;
	for (buffered = 1; buffered >= 0; buffered--) {
		const char *want_rows =
			buffered ? "writing containers.csv: No "
				   "space left on device"
				 : "writing containers.csv failed";
		FILE *f = fopen("/dev/full", "w");

		if (!f)
			skip();
		if (!buffered)
			setvbuf(f, NULL, _IONBF, 0);
		assert_int_equal(summary_write_rows(f, &r, 1, NULL, &e), -EIO);
		assert_string_equal(e.msg, want_rows);
		clearerr(f);
		assert_int_equal(
			summary_write_json(f, "s", "ok", NULL, &run, 1, &e),
			-EIO);
		assert_non_null(strstr(e.msg, "summary.json"));
		clearerr(f);
		assert_int_equal(summary_write_csv(f, NULL, &run, 1, &e), -EIO);
		assert_non_null(strstr(e.msg, "summary.csv"));
		fclose(f);
	}
}

/* ---- recomputable ---- */

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

/* xorshift64*: the same rows on every machine and every run. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

/* 50 random rows over 2 strategies x 2 sweep values, written as
 * containers.csv and read back: the runs computed from what was read equal
 * those computed from the rows in memory, field by field. Times are whole
 * microseconds, which is what the file keeps. */
static void test_recomputable(void **state)
{
	static const char *const strategies[] = {"faasnet", "registry"};
	static const long sweeps[] = {8, 64};
	struct summary_row rows[50], *back = NULL;
	struct summary_run a, b;
	struct err e = {""};
	unsigned total = 0, started = 0;
	size_t i, j, k, nback = 0;
	char path[64];
	FILE *f;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		struct summary_row *r = &rows[i];
		uint64_t req_us = rnd() % 60000000, sec_us = rnd() % 30000000;

		memset(r, 0, sizeof(*r));
		/* Every pairing appears; the rest is random. */
		snprintf(r->strategy, sizeof(r->strategy), "%s",
			 strategies[i % 2]);
		r->sweep = sweeps[(i / 2) % 2];
		snprintf(r->function, sizeof(r->function), "fn-%u",
			 (unsigned)(rnd() % 3));
		r->started = rnd() % 5 != 0;
		if (r->started || rnd() % 2)
			snprintf(r->vm, sizeof(r->vm), "vm%04u",
				 (unsigned)(rnd() % 1000));
		r->requested_s = (double)req_us / 1e6;
		if (r->started) {
			r->started_s = (double)(req_us + sec_us) / 1e6;
			r->seconds = (double)sec_us / 1e6;
			started++;
		}
		r->registry_bytes = rnd() % (UINT64_C(1) << 34);
		r->peer_bytes = rnd() % 2 ? rnd() % (UINT64_C(1) << 34) : 0;
	}

	make_tmp(path, sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(
		summary_write_rows(f, rows, ARRAY_SIZE(rows), "containers", &e),
		0);
	assert_int_equal(fclose(f), 0);
	if (summary_read_rows(path, &back, &nback, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(nback, ARRAY_SIZE(rows));
	for (i = 0; i < nback; i++)
		assert_row_equal(&back[i], &rows[i]);

	for (j = 0; j < ARRAY_SIZE(strategies); j++)
		for (k = 0; k < ARRAY_SIZE(sweeps); k++) {
			poison_run(&a);
			poison_run(&b);
			assert_int_equal(summary_compute(rows, ARRAY_SIZE(rows),
							 strategies[j],
							 sweeps[k], 2, &a),
					 0);
			assert_int_equal(summary_compute(back, nback,
							 strategies[j],
							 sweeps[k], 2, &b),
					 0);
			assert_run_equal(&a, &b);
			assert_true(a.requested > 0);
			total += a.requested;
			started -= a.started;
		}
	/* The four runs cover every row once. */
	assert_int_equal(total, ARRAY_SIZE(rows));
	assert_int_equal(started, 0);
	free(back);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_ready),
		cmocka_unit_test(test_percentiles_n1),
		cmocka_unit_test(test_percentiles_n2),
		cmocka_unit_test(test_percentiles_n10_ties),
		cmocka_unit_test(test_percentiles_n100),
		cmocka_unit_test(test_failed_counted_not_ranked),
		cmocka_unit_test(test_none_started),
		cmocka_unit_test(test_filtering),
		cmocka_unit_test(test_compute_rejects_long_strategy),
		cmocka_unit_test(test_write_rows_text),
		cmocka_unit_test(test_round_trip_no_sweep),
		cmocka_unit_test(test_round_trip_sweep),
		cmocka_unit_test(test_read_edges),
		cmocka_unit_test(test_read_many_rows),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_read_missing_file),
		cmocka_unit_test(test_write_rows_rejects),
		cmocka_unit_test(test_json_sweep),
		cmocka_unit_test(test_json_no_sweep),
		cmocka_unit_test(test_json_rejects),
		cmocka_unit_test(test_json_fidelity_and_cpu),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_recomputable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

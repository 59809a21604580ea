/* Unit tests for lib/units.c: every accepted spelling, every rejected one
 * with its errno, exactness of fractions, and the formatters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What the output holds before a call, to prove errors leave it alone. */
#define SENTINEL UINT64_C(0xdeadbeefcafef00d)

struct parse_case {
	const char *in;
	int ret;
	uint64_t out; /* when ret == 0 */
};

typedef int (*parse_fn)(const char *s, uint64_t *out);

static void run_cases(parse_fn parse, const char *what,
		      const struct parse_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct parse_case *c = &cases[i];
		uint64_t out = SENTINEL;
		int ret = parse(c->in, &out);

		if (ret != c->ret)
			fail_msg("%s(\"%s\"): returned %d, expected %d", what,
				 c->in, ret, c->ret);
		if (c->ret == 0 && out != c->out)
			fail_msg("%s(\"%s\"): gave %" PRIu64
				 ", expected %" PRIu64,
				 what, c->in, out, c->out);
		if (c->ret != 0 && out != SENTINEL)
			fail_msg("%s(\"%s\"): wrote %" PRIu64 " on error", what,
				 c->in, out);
	}
}

/* ---- rates ---- */

static const struct parse_case rate_ok[] = {
	{"1bit", 0, 1},
	{"1kbit", 0, 1000},
	{"100mbit", 0, 100000000},
	{"1gbit", 0, 1000000000},
	{"10gbit", 0, 10000000000},
	{"1tbit", 0, 1000000000000},
	{"1500bit", 0, 1500},
	{"007mbit", 0, 7000000},
	/* case-insensitive */
	{"1GBIT", 0, 1000000000},
	{"1Gbit", 0, 1000000000},
	{"100MBit", 0, 100000000},
	{"5KBIT", 0, 5000},
	{"2TBit", 0, 2000000000000},
	/* fractions are exact, not via double */
	{"2.5mbit", 0, 2500000},
	{"0.1gbit", 0, 100000000},
	{"0.3gbit", 0, 300000000},
	{"0.7gbit", 0, 700000000},
	{"1.1gbit", 0, 1100000000},
	{"4.35gbit", 0, 4350000000},
	{"0.001kbit", 0, 1},
	{"1.000000001gbit", 0, 1000000001},
	{"1.5gbit", 0, 1500000000},
	{"1.50000gbit", 0, 1500000000},
	/* rounded down to whole bits */
	{"1.5bit", 0, 1},
	{"1.0000000019gbit", 0, 1000000001},
	{"0.9999999999kbit", 0, 999},
	/* the top of the range */
	{"18446744073709551615bit", 0, UINT64_MAX},
	{"18446744073709551615.999bit", 0, UINT64_MAX},
	{"18446744.073709551615tbit", 0, UINT64_MAX},
	{"18446744073.709551615gbit", 0, UINT64_MAX},
	{"00000000000000000000000000001bit", 0, 1},
};

static const struct parse_case rate_bad[] = {
	{"", -EINVAL, 0},
	{"gbit", -EINVAL, 0},
	/* a unit is required: tc reads a bare number as bytes/s */
	{"1", -EINVAL, 0},
	{"1000", -EINVAL, 0},
	/* bytes-per-second spellings */
	{"100mbps", -EINVAL, 0},
	{"100MBps", -EINVAL, 0},
	{"1Mbps", -EINVAL, 0},
	{"100kbps", -EINVAL, 0},
	{"1gbps", -EINVAL, 0},
	{"1bps", -EINVAL, 0},
	{"1Bps", -EINVAL, 0},
	/* whitespace anywhere */
	{"1 gbit", -EINVAL, 0},
	{" 1gbit", -EINVAL, 0},
	{"1gbit ", -EINVAL, 0},
	{"\t1gbit", -EINVAL, 0},
	{"1gbit\n", -EINVAL, 0},
	/* signs and other number syntaxes */
	{"-1gbit", -EINVAL, 0},
	{"+1gbit", -EINVAL, 0},
	{"-0.5gbit", -EINVAL, 0},
	{"1e9bit", -EINVAL, 0},
	{".5gbit", -EINVAL, 0},
	{"5.gbit", -EINVAL, 0},
	{"1..5gbit", -EINVAL, 0},
	{"1.5.5gbit", -EINVAL, 0},
	{"1,5gbit", -EINVAL, 0},
	{"1_000bit", -EINVAL, 0},
	{"0x10gbit", -EINVAL, 0},
	/* unknown units */
	{"1kibit", -EINVAL, 0},
	{"1gbits", -EINVAL, 0},
	{"1g", -EINVAL, 0},
	{"1gb", -EINVAL, 0},
	{"1pbit", -EINVAL, 0},
	{"1bitbit", -EINVAL, 0},
	/* zero, also after rounding down */
	{"0bit", -EINVAL, 0},
	{"0gbit", -EINVAL, 0},
	{"0.0mbit", -EINVAL, 0},
	{"0.5bit", -EINVAL, 0},
	{"0.0000000001kbit", -EINVAL, 0},
	/* syntax errors win over range errors */
	{"99999999999999999999999xbit", -EINVAL, 0},
	{"-99999999999999999999999gbit", -EINVAL, 0},
	{"99999999999999999999999", -EINVAL, 0},
	/* out of 64 bits */
	{"18446744073709551616bit", -ERANGE, 0},
	{"18446744073709551615.5kbit", -ERANGE, 0},
	{"18446745tbit", -ERANGE, 0},
	{"99999999999999999999999gbit", -ERANGE, 0},
	{"18446744073.709551616gbit", -ERANGE, 0},
};

static void test_rate_accepts(void **state)
{
	(void)state;
	run_cases(units_parse_rate, "rate", rate_ok, ARRAY_SIZE(rate_ok));
}

static void test_rate_rejects(void **state)
{
	(void)state;
	run_cases(units_parse_rate, "rate", rate_bad, ARRAY_SIZE(rate_bad));
}

static void test_rate_null(void **state)
{
	uint64_t out = SENTINEL;

	(void)state;
	assert_int_equal(units_parse_rate(NULL, &out), -EINVAL);
	assert_true(out == SENTINEL);
}

/* Every tenth of every unit parses to exactly n * mult / 10, which a
 * strtod-based parser gets wrong for many of them. */
static void test_rate_tenths_exact(void **state)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{"kbit", 1000},
		{"mbit", 1000000},
		{"gbit", 1000000000},
		{"tbit", 1000000000000},
	};
	char s[32];
	size_t u;
	unsigned n;

	(void)state;
	for (u = 0; u < ARRAY_SIZE(units); u++) {
		for (n = 1; n < 1000; n++) {
			uint64_t out = 0;

			snprintf(s, sizeof(s), "%u.%u%s", n / 10, n % 10,
				 units[u].unit);
			assert_int_equal(units_parse_rate(s, &out), 0);
			if (out != n * (units[u].mult / 10))
				fail_msg("\"%s\" gave %" PRIu64, s, out);
		}
	}
}

/* ---- sizes ---- */

static const struct parse_case size_ok[] = {
	{"0", 0, 0},
	{"0B", 0, 0},
	{"17", 0, 17},
	{"17B", 0, 17},
	{"1KB", 0, 1000},
	{"1kB", 0, 1000},
	{"1MB", 0, 1000000},
	{"1mB", 0, 1000000},
	{"758MB", 0, 758000000},
	{"1GB", 0, 1000000000},
	{"1.5GB", 0, 1500000000},
	{"1TB", 0, 1000000000000},
	{"1KiB", 0, 1024},
	{"1kiB", 0, 1024},
	{"512KiB", 0, 524288},
	{"1.5KiB", 0, 1536},
	{"1MiB", 0, 1048576},
	{"1GiB", 0, 1073741824},
	{"1TiB", 0, 1099511627776},
	{"0.1MiB", 0, 104857}, /* 104857.6, rounded down */
	{"0.5KiB", 0, 512},
	{"1.5B", 0, 1},
	{"1.5", 0, 1},
	{"0.0001KB", 0, 0},
	{"18446744073709551615", 0, UINT64_MAX},
	{"18446744073709551615B", 0, UINT64_MAX},
	{"16777215TiB", 0, UINT64_C(16777215) << 40},
};

static const struct parse_case size_bad[] = {
	{"", -EINVAL, 0},
	{"KB", -EINVAL, 0},
	{"B", -EINVAL, 0},
	/* lowercase b reads as bits */
	{"1b", -EINVAL, 0},
	{"1kb", -EINVAL, 0},
	{"1Kb", -EINVAL, 0},
	{"1mb", -EINVAL, 0},
	{"1kib", -EINVAL, 0},
	{"1KIB", -EINVAL, 0},
	{"1gIB", -EINVAL, 0}, /* only the multiplier letter folds case */
	{"1KiB ", -EINVAL, 0},
	{"1 KB", -EINVAL, 0},
	{" 1", -EINVAL, 0},
	{"1 ", -EINVAL, 0},
	{"-1", -EINVAL, 0},
	{"-1KB", -EINVAL, 0},
	{"+1", -EINVAL, 0},
	{"1K", -EINVAL, 0},
	{"1Ki", -EINVAL, 0},
	{"1PB", -EINVAL, 0},
	{"1PiB", -EINVAL, 0},
	{"1iB", -EINVAL, 0},
	{"1KBB", -EINVAL, 0},
	{"1e3", -EINVAL, 0},
	{"1.KB", -EINVAL, 0},
	{".5KB", -EINVAL, 0},
	{"1mbit", -EINVAL, 0},
	{"99999999999999999999x", -EINVAL, 0},
	{"18446744073709551616", -ERANGE, 0},
	{"16777216TiB", -ERANGE, 0},
	{"18446745TB", -ERANGE, 0},
};

static void test_size_accepts(void **state)
{
	(void)state;
	run_cases(units_parse_size, "size", size_ok, ARRAY_SIZE(size_ok));
}

static void test_size_rejects(void **state)
{
	(void)state;
	run_cases(units_parse_size, "size", size_bad, ARRAY_SIZE(size_bad));
	assert_int_equal(units_parse_size(NULL, &(uint64_t){0}), -EINVAL);
}

/* ---- durations ---- */

static const struct parse_case duration_ok[] = {
	{"0", 0, 0},
	{"00", 0, 0},
	{"0.0", 0, 0},
	{"0ms", 0, 0},
	{"0h", 0, 0},
	{"1ns", 0, 1},
	{"1us", 0, 1000},
	{"10ms", 0, 10000000},
	{"2s", 0, 2000000000},
	{"1.5s", 0, 1500000000},
	{"0.5ms", 0, 500000},
	{"0.1s", 0, 100000000},
	{"2m", 0, 120000000000},
	{"1h", 0, 3600000000000},
	{"1.5h", 0, 5400000000000},
	{"1.5ns", 0, 1},
	{"0.001us", 0, 1},
	{"0.0001us", 0, 0},
	{"18446744073709551615ns", 0, UINT64_MAX},
	{"5124095h", 0, UINT64_C(5124095) * 3600000000000},
};

static const struct parse_case duration_bad[] = {
	{"", -EINVAL, 0},
	{"ms", -EINVAL, 0},
	/* a bare number other than zero is ambiguous */
	{"10", -EINVAL, 0},
	{"1", -EINVAL, 0},
	{"0.1", -EINVAL, 0},
	{"18446744073709551616", -EINVAL, 0},
	/* units are case-sensitive */
	{"10MS", -EINVAL, 0},
	{"10Ms", -EINVAL, 0},
	{"1S", -EINVAL, 0},
	{"1H", -EINVAL, 0},
	{"10 ms", -EINVAL, 0},
	{" 10ms", -EINVAL, 0},
	{"10ms ", -EINVAL, 0},
	{"-10ms", -EINVAL, 0},
	{"-0", -EINVAL, 0},
	{"+10ms", -EINVAL, 0},
	{"10sec", -EINVAL, 0},
	{"10min", -EINVAL, 0},
	{"1d", -EINVAL, 0},
	{"1\xc2\xb5s", -EINVAL, 0},
	{"1e3ns", -EINVAL, 0},
	{"1.ms", -EINVAL, 0},
	{"1h30m", -EINVAL, 0},
	{"5124096h", -ERANGE, 0},
	{"18446744073709551616ns", -ERANGE, 0},
	{"18446744073709552us", -ERANGE, 0},
};

static void test_duration_accepts(void **state)
{
	(void)state;
	run_cases(units_parse_duration, "duration", duration_ok,
		  ARRAY_SIZE(duration_ok));
}

static void test_duration_rejects(void **state)
{
	(void)state;
	run_cases(units_parse_duration, "duration", duration_bad,
		  ARRAY_SIZE(duration_bad));
	assert_int_equal(units_parse_duration(NULL, &(uint64_t){0}), -EINVAL);
}

/* ---- formatting ---- */

struct format_case {
	uint64_t in;
	const char *out;
};

static const struct format_case rate_fmt[] = {
	{0, "0bit"},
	{1, "1bit"},
	{999, "999bit"},
	{1000, "1kbit"},
	{1500, "1500bit"}, /* ties with "1.5kbit": whole number wins */
	{10000, "10kbit"},
	{12345, "12.3kbit"},
	{10001, "10.0kbit"},
	{2500000, "2.5mbit"},
	{100000000, "100mbit"},
	{1000000000, "1gbit"},
	{1500000000, "1.5gbit"},
	{1230000000, "1230mbit"},
	{1234567891, "1.2gbit"},
	{1250000000, "1250mbit"},
	{1260000000, "1260mbit"},
	{999960000, "1.0gbit"}, /* rounding carries into the next unit */
	{34000000000, "34gbit"},
	{1000000000000, "1tbit"},
	{1000000000000000, "1000tbit"},
	{10000000000000000, "10000tbit"},
	{UINT64_MAX, "18446744.1tbit"},
};

static const struct format_case size_fmt[] = {
	{0, "0B"},
	{17, "17B"},
	{999, "999B"},
	{1000, "1KB"},
	{1024, "1KiB"},
	{1536, "1.5KB"},
	{524288, "512KiB"},
	{1024000, "1000KiB"},
	{758000000, "758MB"},
	{UINT64_C(758) << 20, "758MiB"},
	{1500000000, "1.5GB"},
	{1000001, "1.0MB"},
	{999999, "1.0MB"},
	{1050000, "1.1MB"}, /* half up */
	{UINT64_C(1) << 40, "1TiB"},
	{UINT64_C(1) << 50, "1024TiB"},
	{UINT64_MAX, "18446744.1TB"},
};

static void test_format_rate(void **state)
{
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rate_fmt); i++) {
		const char *got =
			units_format_rate(buf, sizeof(buf), rate_fmt[i].in);

		assert_ptr_equal(got, buf);
		if (strcmp(got, rate_fmt[i].out))
			fail_msg("rate %" PRIu64 ": \"%s\", expected \"%s\"",
				 rate_fmt[i].in, got, rate_fmt[i].out);
	}
}

static void test_format_size(void **state)
{
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(size_fmt); i++) {
		const char *got =
			units_format_size(buf, sizeof(buf), size_fmt[i].in);

		assert_ptr_equal(got, buf);
		if (strcmp(got, size_fmt[i].out))
			fail_msg("size %" PRIu64 ": \"%s\", expected \"%s\"",
				 size_fmt[i].in, got, size_fmt[i].out);
	}
}

static void test_format_truncates(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(units_format_rate(buf, 4, 1000000000), buf);
	assert_string_equal(buf, "1gb");
	assert_int_equal(buf[4], 'x');

	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(units_format_size(buf, 0, 1024), buf);
	assert_int_equal(buf[0], 'x');
	assert_ptr_equal(units_format_rate(buf, 0, 1), buf);
	assert_int_equal(buf[0], 'x');

	units_format_size(buf, 3, 524288);
	assert_string_equal(buf, "51");
}

/* Rates with up to three significant digits always print exactly ("99.9kbit"
 * for 99900), so they parse back to the same value. */
static void test_rate_round_trip(void **state)
{
	static const uint64_t scales[] = {
		1,	     10,	   100,		  1000,	     10000,
		100000,	     1000000,	   10000000,	  100000000, 1000000000,
		10000000000, 100000000000, 1000000000000,
	};
	char buf[32];
	size_t s;
	uint64_t d;

	(void)state;
	for (s = 0; s < ARRAY_SIZE(scales); s++) {
		for (d = 1; d < 1000; d++) {
			uint64_t v = d * scales[s], back = 0;

			units_format_rate(buf, sizeof(buf), v);
			if (units_parse_rate(buf, &back) || back != v)
				fail_msg("%" PRIu64 " -> \"%s\" -> %" PRIu64, v,
					 buf, back);
		}
	}
}

/* Rounded forms stay within 5% of the value, and parse. */
static void test_rate_rounded_close(void **state)
{
	char buf[32];
	uint64_t v, back;

	(void)state;
	for (v = 10001; v < UINT64_MAX / 3; v = v * 3 + 7) {
		units_format_rate(buf, sizeof(buf), v);
		assert_int_equal(units_parse_rate(buf, &back), 0);
		if (back > v + v / 20 || back < v - v / 20)
			fail_msg("%" PRIu64 " -> \"%s\" -> %" PRIu64, v, buf,
				 back);
	}
}

static void test_size_round_trip(void **state)
{
	char buf[32];
	uint64_t v, back;
	unsigned sh;

	(void)state;
	for (sh = 0; sh < 44; sh++) {
		for (v = 1; v < 2000; v += 3) {
			uint64_t x = v << sh;

			units_format_size(buf, sizeof(buf), x);
			assert_int_equal(units_parse_size(buf, &back), 0);
			/* exact whenever no decimal point was needed */
			if (!strchr(buf, '.') && back != x)
				fail_msg("%" PRIu64 " -> \"%s\" -> %" PRIu64, x,
					 buf, back);
		}
	}
}

static void test_parse_number(void **state)
{
	double v = -1;

	(void)state;
	assert_int_equal(units_parse_number("2.5", 1, 100, &v), 0);
	assert_true(v == 2.5);
	assert_int_equal(units_parse_number("1", 1, 100, &v), 0);
	assert_true(v == 1);
	assert_int_equal(units_parse_number("100", 1, 100, &v), 0);
	assert_int_equal(units_parse_number("0.5", 1, 100, &v), -EINVAL);
	assert_int_equal(units_parse_number("101", 1, 100, &v), -EINVAL);
	assert_int_equal(units_parse_number("", 1, 100, &v), -EINVAL);
	assert_int_equal(units_parse_number("3x", 1, 100, &v), -EINVAL);
	assert_int_equal(units_parse_number("nan", 1, 100, &v), -EINVAL);
	assert_true(v == 1 || v == 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_accepts),
		cmocka_unit_test(test_rate_rejects),
		cmocka_unit_test(test_rate_null),
		cmocka_unit_test(test_rate_tenths_exact),
		cmocka_unit_test(test_size_accepts),
		cmocka_unit_test(test_size_rejects),
		cmocka_unit_test(test_duration_accepts),
		cmocka_unit_test(test_duration_rejects),
		cmocka_unit_test(test_format_rate),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_format_truncates),
		cmocka_unit_test(test_rate_round_trip),
		cmocka_unit_test(test_rate_rounded_close),
		cmocka_unit_test(test_size_round_trip),
		cmocka_unit_test(test_parse_number),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

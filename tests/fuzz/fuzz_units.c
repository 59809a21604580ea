/* libFuzzer target for lib/units.c: the sizes, durations, rates and
 * numbers of topology, scenario and trace files, and of command lines.
 *
 * On top of the sanitizers: a parser writes its result only on success,
 * never returns anything but 0, -EINVAL or -ERANGE, and a value it reads
 * prints (units_format_*) as a string that reads back to within the
 * formatter's rounding, one decimal in the unit: 5%. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UNTOUCHED 0x5a5a5a5a5a5a5a5aULL

static void fail(const char *what, const char *s)
{
	fprintf(stderr, "fuzz_units: %s: \"%s\"\n", what, s);
	abort();
}

static void check_ret(int ret, uint64_t v, const char *s)
{
	if (ret && ret != -EINVAL && ret != -ERANGE)
		fail("not 0, -EINVAL or -ERANGE", s);
	if (ret && v != UNTOUCHED)
		fail("written on failure", s);
}

/* printed read back within 5% of v. Past about 95% of 2^64 the rounded
 * print may read as over 64 bits, -ERANGE: the formatter rounds half up
 * by its contract, and no file has such a size. */
static void check_close(int ret, uint64_t v, uint64_t back, const char *s,
			const char *printed)
{
	uint64_t diff;

	if (ret == -ERANGE && v > UINT64_MAX - UINT64_MAX / 20)
		return;
	if (ret) {
		fprintf(stderr, "fuzz_units: printed as \"%s\"\n", printed);
		fail("a value does not read back from its print", s);
	}
	diff = back > v ? back - v : v - back;
	if (diff > v / 20) {
		fprintf(stderr, "fuzz_units: printed as \"%s\"\n", printed);
		fail("a value reads back more than 5% off", s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t v, back;
	char buf[32], *s;
	double d;
	int ret;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	v = UNTOUCHED;
	ret = units_parse_size(s, &v);
	check_ret(ret, v, s);
	if (!ret) {
		units_format_size(buf, sizeof(buf), v);
		check_close(units_parse_size(buf, &back), v, back, s, buf);
	}

	v = UNTOUCHED;
	ret = units_parse_rate(s, &v);
	check_ret(ret, v, s);
	if (!ret) {
		if (!v)
			fail("a rate of 0", s);
		units_format_rate(buf, sizeof(buf), v);
		check_close(units_parse_rate(buf, &back), v, back, s, buf);
	}

	v = UNTOUCHED;
	check_ret(units_parse_duration(s, &v), v, s);

	d = -1;
	ret = units_parse_number(s, 0, 1e6, &d);
	if (ret && ret != -EINVAL)
		fail("number: not 0 or -EINVAL", s);
	if (!ret && !(d >= 0 && d <= 1e6))
		fail("number out of its range", s);
	if (ret && d != -1)
		fail("number written on failure", s);
	free(s);
	return 0;
}

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"

struct unit {
	const char *name;
	uint64_t mult;
};

/* Ascending: the formatters walk them by index. */
static const struct unit rate_units[] = {
	{"bit", 1ULL},
	{"kbit", 1000ULL},
	{"mbit", 1000000ULL},
	{"gbit", 1000000000ULL},
	{"tbit", 1000000000000ULL},
};

static const struct unit size_units_si[] = {
	{"B", 1ULL},	       {"KB", 1000ULL},		 {"MB", 1000000ULL},
	{"GB", 1000000000ULL}, {"TB", 1000000000000ULL},
};

static const struct unit size_units_bin[] = {
	{"B", 1ULL},	     {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20},
	{"GiB", 1ULL << 30}, {"TiB", 1ULL << 40},
};

static const struct unit duration_units[] = {
	{"ns", 1ULL},
	{"us", 1000ULL},
	{"ms", 1000000ULL},
	{"s", 1000000000ULL},
	{"m", 60ULL * 1000000000ULL},
	{"h", 3600ULL * 1000000000ULL},
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A decimal number as written, kept exact: the integer part as a value and
 * the fraction as its digits, so that "0.1gbit" scales to exactly 10^8
 * instead of going through a double. */
struct decimal {
	uint64_t ipart;
	bool overflow; /* the integer part alone does not fit in 64 bits */
	bool zero;     /* every digit is 0 */
	const char *frac;
	size_t nfrac;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads [0-9]+(\.[0-9]+)? from the start of s. Returns the first character
 * after it, or NULL when s does not start with such a number (this is what
 * rejects signs, whitespace, ".5" and "5."). */
static const char *parse_decimal(const char *s, struct decimal *d)
{
	memset(d, 0, sizeof(*d));
	d->zero = true;
	if (!is_digit(*s))
		return NULL;
	for (; is_digit(*s); s++) {
		unsigned digit = (unsigned)(*s - '0');

		if (digit)
			d->zero = false;
		if (d->ipart > (UINT64_MAX - digit) / 10)
			d->overflow = true;
		else
			d->ipart = d->ipart * 10 + digit;
	}
	if (*s != '.')
		return s;
	s++;
	if (!is_digit(*s))
		return NULL;
	d->frac = s;
	for (; is_digit(*s); s++)
		if (*s != '0')
			d->zero = false;
	d->nfrac = (size_t)(s - d->frac);
	return s;
}

/* d * mult, rounded down. The fraction is folded in from its last digit
 * with integer division at each step, which equals the floor of the exact
 * product (floor((a + floor(b)) / 10) == floor((a + b) / 10) for integer a),
 * and never exceeds 10 * mult, far from overflowing for any unit here. */
static int scale(const struct decimal *d, uint64_t mult, uint64_t *out)
{
	uint64_t whole, frac = 0;
	size_t i;

	if (d->overflow || d->ipart > UINT64_MAX / mult)
		return -ERANGE;
	whole = d->ipart * mult;
	for (i = d->nfrac; i-- > 0;)
		frac = ((uint64_t)(d->frac[i] - '0') * mult + frac) / 10;
	if (frac > UINT64_MAX - whole)
		return -ERANGE;
	*out = whole + frac;
	return 0;
}

static const struct unit *find_rate_unit(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rate_units); i++)
		if (!strcasecmp(name, rate_units[i].name))
			return &rate_units[i];
	return NULL;
}

/* The multiplier letter is case-insensitive but "B" and "iB" are not: a
 * lowercase "b" means bits to many readers ("kb"), so it is refused. */
static bool size_unit_matches(const char *name, const char *unit)
{
	if (!strcmp(unit, "B"))
		return !strcmp(name, "B");
	if (!name[0] || (name[0] | 0x20) != (unit[0] | 0x20))
		return false;
	return !strcmp(name + 1, unit + 1);
}

static const struct unit *find_size_unit(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(size_units_si); i++) {
		if (size_unit_matches(name, size_units_si[i].name))
			return &size_units_si[i];
		if (size_unit_matches(name, size_units_bin[i].name))
			return &size_units_bin[i];
	}
	return NULL;
}

static const struct unit *find_duration_unit(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(duration_units); i++)
		if (!strcmp(name, duration_units[i].name))
			return &duration_units[i];
	return NULL;
}

int units_parse_rate(const char *s, uint64_t *bps)
{
	const struct unit *u;
	struct decimal d;
	const char *end;
	uint64_t v;
	int ret;

	if (!s || !(end = parse_decimal(s, &d)))
		return -EINVAL;
	/* A bare number is refused: tc reads it as bytes per second. */
	u = find_rate_unit(end);
	if (!u)
		return -EINVAL;
	ret = scale(&d, u->mult, &v);
	if (ret)
		return ret;
	if (!v)
		return -EINVAL;
	*bps = v;
	return 0;
}

int units_parse_size(const char *s, uint64_t *bytes)
{
	const struct unit *u;
	struct decimal d;
	const char *end;
	uint64_t v;
	int ret;

	if (!s || !(end = parse_decimal(s, &d)))
		return -EINVAL;
	if (!*end) {
		u = &size_units_si[0];
	} else {
		u = find_size_unit(end);
		if (!u)
			return -EINVAL;
	}
	ret = scale(&d, u->mult, &v);
	if (ret)
		return ret;
	*bytes = v;
	return 0;
}

int units_parse_duration(const char *s, uint64_t *ns)
{
	const struct unit *u;
	struct decimal d;
	const char *end;
	uint64_t v;
	int ret;

	if (!s || !(end = parse_decimal(s, &d)))
		return -EINVAL;
	/* Zero is zero in any unit; any other bare number is ambiguous. */
	if (!*end) {
		if (!d.zero)
			return -EINVAL;
		*ns = 0;
		return 0;
	}
	u = find_duration_unit(end);
	if (!u)
		return -EINVAL;
	ret = scale(&d, u->mult, &v);
	if (ret)
		return ret;
	*ns = v;
	return 0;
}

static unsigned count_digits(uint64_t v)
{
	unsigned n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* v / units[*i] in tenths, rounded half up; moves to the next unit when
 * rounding carries to 1000 of this one (999.96mbit prints as 1.0gbit). */
static uint64_t round_tenths(uint64_t v, const struct unit *units,
			     size_t nunits, size_t *i)
{
	for (;;) {
		uint64_t m = units[*i].mult;
		uint64_t tenths = v / m * 10 + (v % m * 10 + m / 2) / m;

		if (tenths < 10000 || *i + 1 >= nunits)
			return tenths;
		++*i;
	}
}

/* Past four significant digits an exact rate is harder to read than a
 * rounded one ("1234567891bit" vs "1.2gbit"). */
#define RATE_EXACT_MAX_DIGITS 4

const char *units_format_rate(char *buf, size_t len, uint64_t bps)
{
	size_t n = ARRAY_SIZE(rate_units), k = 0, i;
	uint64_t q, tenths;
	unsigned int_len, dec_len;

	if (!len)
		return buf;
	if (!bps) {
		snprintf(buf, len, "0bit");
		return buf;
	}
	/* The largest unit dividing bps gives the shortest whole number. */
	for (i = 0; i < n; i++)
		if (bps % rate_units[i].mult == 0)
			k = i;
	q = bps / rate_units[k].mult;
	int_len = count_digits(q) + (unsigned)strlen(rate_units[k].name);

	/* One decimal in the next unit up may be shorter: "1.5gbit" beats
	 * "1500mbit", while "1500bit" and "1.5kbit" tie and the whole
	 * number wins. */
	if (k + 1 < n && bps >= rate_units[k + 1].mult &&
	    bps % (rate_units[k + 1].mult / 10) == 0) {
		uint64_t m = rate_units[k + 1].mult;

		dec_len = count_digits(bps / m) + 2 +
			  (unsigned)strlen(rate_units[k + 1].name);
		if (dec_len < int_len) {
			if (count_digits(bps / m) + 1 > RATE_EXACT_MAX_DIGITS)
				goto rounded;
			snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%s", bps / m,
				 bps % m / (m / 10), rate_units[k + 1].name);
			return buf;
		}
	}
	/* Past tbit, rounding would only add a ".0". */
	if (count_digits(q) <= RATE_EXACT_MAX_DIGITS || k + 1 == n) {
		snprintf(buf, len, "%" PRIu64 "%s", q, rate_units[k].name);
		return buf;
	}
rounded:
	for (i = 0; i + 1 < n && bps >= rate_units[i + 1].mult; i++)
		;
	tenths = round_tenths(bps, rate_units, n, &i);
	snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%s", tenths / 10,
		 tenths % 10, rate_units[i].name);
	return buf;
}

const char *units_format_size(char *buf, size_t len, uint64_t bytes)
{
	size_t n = ARRAY_SIZE(size_units_si), i;
	uint64_t tenths;

	if (!len)
		return buf;
	for (i = n - 1; i > 0; i--) {
		if (bytes && bytes % size_units_bin[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%s",
				 bytes / size_units_bin[i].mult,
				 size_units_bin[i].name);
			return buf;
		}
	}
	for (i = 0; i + 1 < n && bytes >= size_units_si[i + 1].mult; i++)
		;
	if (bytes % size_units_si[i].mult == 0) {
		snprintf(buf, len, "%" PRIu64 "%s",
			 bytes / size_units_si[i].mult, size_units_si[i].name);
		return buf;
	}
	tenths = round_tenths(bytes, size_units_si, n, &i);
	snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%s", tenths / 10,
		 tenths % 10, size_units_si[i].name);
	return buf;
}

int units_parse_number(const char *s, double min, double max, double *v)
{
	char *end;
	double d = strtod(s, &end);

	if (*end || end == s || !(d >= min && d <= max))
		return -EINVAL;
	*v = d;
	return 0;
}

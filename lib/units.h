/* units: parsing and printing of the human units used in topology and
 * scenario files: rates ("100mbit", "1gbit"), sizes ("512KiB", "758MB") and
 * durations ("10ms", "2s"). It knows nothing about files or lines; callers
 * add those to the message. */
#ifndef FAASNET_UNITS_H
#define FAASNET_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Every parser takes the whole string as one token: a decimal number
 * ([0-9]+ optionally followed by . and [0-9]+, so no sign, exponent, ".5" or
 * "5.") immediately followed by the unit. Whitespace anywhere, including
 * "1 gbit" and surrounding blanks, is -EINVAL: YAML already strips it from
 * plain scalars, so any that is left is a typo. Fractions are exact
 * ("0.1gbit" is 100000000) and the result is rounded down to a whole bit/s,
 * byte or nanosecond. Syntax errors win over range errors. *out is written
 * only on success. */

/* Rate in bits per second. Accepts a decimal number followed by bit, kbit,
 * mbit, gbit or tbit (case-insensitive, SI multiples of 1000), e.g. "1gbit",
 * "2.5mbit". Bytes-per-second spellings such as "mbps" are rejected because
 * tc reads them as bytes and people read them as bits; so is a bare number,
 * which tc also reads as bytes per second. Returns 0 or -EINVAL (bad syntax
 * or unit, zero after rounding down) or -ERANGE (does not fit in 64 bits). */
int units_parse_rate(const char *s, uint64_t *bps);

/* Size in bytes. A number with an optional unit: B, KB, MB, GB, TB (powers of
 * 1000) or KiB, MiB, GiB, TiB (powers of 1024); only the multiplier letter is
 * case-insensitive ("kB" and "kiB" pass, "kb" and "KIB" do not, since a
 * lowercase b reads as bits). A bare number is bytes; zero is allowed. A
 * fraction is rounded down to whole bytes ("1.5KiB" is 1536, "1.5B" is 1).
 * Returns 0, -EINVAL or -ERANGE. */
int units_parse_size(const char *s, uint64_t *bytes);

/* Duration in nanoseconds: a number followed by ns, us, ms, s, m (minutes)
 * or h, case-sensitive. A bare number is accepted only when it is zero
 * ("0", "0.0"). Returns 0, -EINVAL or -ERANGE (over about 584 years). */
int units_parse_duration(const char *s, uint64_t *ns);

/* A plain number, the whole string (strtod's syntax), from min to max: a
 * factor such as a dilation. Returns 0 or -EINVAL. */
int units_parse_number(const char *s, double min, double max, double *v);

/* The formatters fit in 32 bytes and truncate (snprintf) when len is
 * smaller. */

/* Print a rate as the shortest exact form: a whole number in the largest unit
 * that divides it ("1gbit", "100mbit", "1500bit", "1230mbit"), or one
 * decimal in the unit above when that is shorter ("1.5gbit", "2.5mbit").
 * When the exact form needs more than four digits it is rounded half up to
 * one decimal in the largest unit not above it ("1.2gbit" for 1234567891,
 * "12.3kbit" for 12345). 0 prints "0bit". Returns buf. */
const char *units_format_rate(char *buf, size_t len, uint64_t bps);

/* Print a size with binary units when it is a whole multiple of one
 * ("512KiB", "1000KiB"), otherwise in the largest decimal unit not above it,
 * whole when exact ("758MB", "17B", "0B") or rounded half up to one decimal
 * ("1.5GB", "1.0MB" for 1000001). Returns buf. */
const char *units_format_size(char *buf, size_t len, uint64_t bytes);

#endif

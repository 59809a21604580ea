/* libFuzzer target for testbed/requests.c's reader of requests.csv, the
 * per-request rows a serving run writes and `faasnet-testbed report` reads
 * back (docs/results.md): results may be copied between machines and
 * edited. The reader takes a path, so the input goes to a memfd first
 * (fuzz_file.h).
 *
 * On top of the sanitizers: rows it accepts have NUL-terminated names and
 * times in order, and their statistics can be computed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"
#include "requests.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_requests: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct requests_row *rows = NULL;
	struct requests_stats st;
	struct err e = {""};
	size_t n, i;

	if (requests_read_rows(fuzz_file(data, size), &rows, &n, &e)) {
		if (!e.msg[0])
			fail("an error without a message");
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct requests_row *r = &rows[i];

		if (!memchr(r->strategy, 0, sizeof(r->strategy)) ||
		    !memchr(r->function, 0, sizeof(r->function)))
			fail("a name not terminated");
		if (r->served &&
		    !(r->arrival_s <= r->start_s && r->start_s <= r->done_s))
			fail("a served row out of order");
	}
	/* The first and last rows' strategies: every row, once each. */
	if (n && (requests_compute(rows, n, rows[0].strategy, 1.0, &st) ||
		  requests_compute(rows, n, rows[n - 1].strategy, 1.0, &st)))
		fail("statistics of accepted rows failed");
	free(rows);
	return 0;
}

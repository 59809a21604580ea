/* libFuzzer target for testbed/scenario.c's workload trace reader: a CSV
 * of time,function[,containers] lines (docs/scenario-format.md), as
 * scenario_parse reads it for a `trace:` step (at load, so that its errors
 * come before anything is built), then scenario_schedule. The input is the
 * CSV; the scenario around it is fixed: two functions, and the first byte's
 * lowest bit turns `serve` on (the third column then counts requests).
 *
 * The reader takes a path, so the input goes to a memfd first
 * (fuzz_file.h): the public API as the testbed uses it, no copy of the
 * reader's code. On top of the sanitizers: an error has a message; an
 * accepted trace is in time order and names only the two functions. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"
#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_trace: %s: %s\n", what, e ? e->msg : "");
	abort();
}

static const char scenario_fmt[] =
	"name: fuzz\n"
	"images: [{ name: img, size: 1MB }]\n"
	"functions: [{ name: f, image: img }, { name: g2, image: img }]\n"
	"workload: [{ trace: %s }]\n"
	"%s";

/* The fixed scenario around the trace at path: 0, or -1 when the trace
 * was refused (with a message). */
static int parse_scenario(struct scenario *s, const char *path, int serve)
{
	char text[512];
	struct err e = {""};
	int n;

	n = snprintf(text, sizeof(text), scenario_fmt, path,
		     serve ? "serve: { service: 2s }\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		fail("scenario too long", NULL);
	if (!scenario_parse(text, (size_t)n, "fuzz.yaml", s, &e))
		return 0;
	if (!e.msg[0])
		fail("an error without a message", NULL);
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scenario_invocation *inv;
	struct scenario s;
	struct err e = {""};
	const char *path;
	size_t n, i;
	int serve;

	if (!size)
		return 0;
	serve = data[0] & 1;
	path = fuzz_file(data + 1, size - 1);
	if (parse_scenario(&s, path, serve))
		return 0;
	if (scenario_schedule(&s, -1, &inv, &n, &e)) {
		if (!e.msg[0])
			fail("an error without a message", NULL);
		scenario_free(&s);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (inv[i].function >= s.nfunctions || !inv[i].containers)
			fail("an invocation of no function or none", NULL);
		if (i && inv[i].t_ns < inv[i - 1].t_ns)
			fail("the schedule is not in time order", NULL);
	}
	free(inv);
	scenario_free(&s);
	return 0;
}

/* libFuzzer target for testbed/scenario.c: a scenario file
 * (docs/scenario-format.md), parsed from memory as scenario_load does
 * after reading it, then scaled and expanded into its schedule.
 *
 * A scenario may name files (a topology, a trace, a layout) relative to
 * its name, here the current folder: scripts/fuzz.sh runs from the
 * checkout's root with stdin from /dev/null.
 *
 * On top of the sanitizers: an error has a message, and the schedule of
 * an accepted scenario is in time order with only its own functions. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_scenario: %s: %s\n", what, e ? e->msg : "");
	abort();
}

static void check_schedule(const struct scenario *s, int sweep)
{
	struct scenario_invocation *inv;
	struct err e = {""};
	size_t n, i;

	if (scenario_schedule(s, sweep, &inv, &n, &e)) {
		if (!e.msg[0])
			fail("a schedule error without a message", NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		if (inv[i].function >= s->nfunctions)
			fail("an invocation of no function", NULL);
		if (i && inv[i].t_ns < inv[i - 1].t_ns)
			fail("the schedule is not in time order", NULL);
	}
	free(inv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct topo_spec topo;
	struct scenario s;
	struct err e = {""};
	unsigned i;

	if (scenario_parse((const char *)data, size, "fuzz.yaml", &s, &e)) {
		if (!e.msg[0])
			fail("an error without a message", NULL);
		return 0;
	}
	scenario_scaled_topology(&s, &topo);
	(void)scenario_vms(&s, -1);
	for (i = 0; i < s.nimages; i++) {
		(void)scenario_scaled_size(&s, i);
		(void)scenario_scaled_block_size(&s, i);
		(void)scenario_size_error(&s, i);
	}
	check_schedule(&s, -1);
	if (s.nsweep) {
		(void)scenario_vms(&s, (int)s.nsweep - 1);
		check_schedule(&s, (int)s.nsweep - 1);
	}
	scenario_free(&s);
	return 0;
}

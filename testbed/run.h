/* run: one scenario, start to finish: the network, the registry and the
 * images, then for every sweep value, repetition and strategy the manager
 * and one agent per VM, the workload, and the containers' timelines; then
 * everything down again, on every exit path, and the results folder
 * written (docs/results.md). */
#ifndef FAASNET_TESTBED_RUN_H
#define FAASNET_TESTBED_RUN_H

#include <limits.h>
#include <signal.h>

#include "err.h"
#include "scenario.h"

/* What the runs came to, for the command's exit status. */
struct run_outcome {
	unsigned requested, failed; /* containers, over every run */
	unsigned runs_degraded;	    /* runs whose verdict is degraded */
};

struct run_opts {
	const char *out;      /* results folder; NULL: results/<name>-<time> */
	unsigned nstrategies; /* 0: the scenario's */
	unsigned strategies[SCENARIO_MAX_STRATEGIES]; /* strategy.h indexes */
	int json;
	volatile sig_atomic_t *stop;
	struct run_outcome *outcome; /* filled when not NULL */
};

/* Fills dir with the results folder's path. Returns 0 when every run
 * completed (containers may still have failed: the summary says), or a
 * negative errno with e set. */
int run_scenario(const struct scenario *s, const struct run_opts *o,
		 char dir[PATH_MAX], struct err *e);

#endif

/* driver: the workload driver of one run. It connects to the manager from
 * the initial namespace, sends each invocation at its time (open loop: it
 * never waits for one to finish before sending the next), and records when
 * every container was asked for and when the manager reported it up. It
 * owns that connection and the per-container record. */
#ifndef FAASNET_TESTBED_DRIVER_H
#define FAASNET_TESTBED_DRIVER_H

#include <signal.h>
#include <stdint.h>

#include "err.h"
#include "scenario.h"

struct driver_container {
	unsigned function;
	uint64_t requested_ns; /* CLOCK_MONOTONIC */
	uint64_t started_ns;   /* 0: not (yet) */
	int failed;	       /* the manager refused it (no room) */
};

/* Containers the manager could not place (no VM had room). */
struct driver_unplaced {
	unsigned function;
	uint64_t requested_ns;
	unsigned count;
};

struct driver_result {
	uint64_t t0_ns;		    /* the run's start */
	struct driver_container *c; /* indexed by container id - first id */
	uint32_t first_id;
	unsigned n, started, failed;
	struct driver_unplaced *unplaced;
	unsigned nunplaced;
};

/* Runs the schedule against the manager at addr:port. Returns when every
 * container asked for has started or failed, when timeout_ns has passed
 * since the last invocation, or when *stop is set (then -EINTR). Shows a
 * progress line on stderr, labelled label. */
int driver_run(uint32_t addr, uint16_t port,
	       const struct scenario_invocation *inv, size_t ninv,
	       const struct scenario *s, uint64_t timeout_ns,
	       volatile sig_atomic_t *stop, const char *label,
	       struct driver_result *r, struct err *e);
void driver_result_free(struct driver_result *r);

#endif

/* driver: the workload driver of one run. It connects to the manager from
 * the initial namespace, sends each invocation at its time (open loop: it
 * never waits for one to finish before sending the next), and records when
 * every container was asked for and when the manager reported it up. It
 * owns that connection and the per-container record.
 *
 * In a scenario with serve, the invocations are requests: the driver is
 * the platform's front end and autoscaler. It feeds arrivals and container
 * starts to the request model (serve.h), sends the INVOKEs and RELEASEs
 * the model asks for, and records every request and, once a second, every
 * function's pool. */
#ifndef FAASNET_TESTBED_DRIVER_H
#define FAASNET_TESTBED_DRIVER_H

#include <signal.h>
#include <stdint.h>

#include "err.h"
#include "scenario.h"
#include "serve.h"

struct driver_container {
	unsigned function;
	uint64_t requested_ns; /* CLOCK_MONOTONIC */
	uint64_t started_ns;   /* 0: not (yet) */
	uint64_t released_ns;  /* serve: when it was released; 0 never */
	int failed;	       /* the manager refused it (no room) */
};

/* serve: one function's pool at one moment. */
struct driver_sample {
	uint64_t t_ns;
	unsigned function;
	struct serve_pool pool;
};

/* Containers the manager could not place (no VM had room). */
struct driver_unplaced {
	unsigned function;
	uint64_t requested_ns;
	unsigned count;
};

struct driver_result {
	uint64_t t0_ns;		    /* the run's start */
	uint64_t end_ns;	    /* when the driver stopped waiting */
	struct driver_container *c; /* indexed by container id - first id */
	uint32_t first_id;
	unsigned n, started, failed;
	struct driver_unplaced *unplaced;
	unsigned nunplaced;
	/* serve only: every request in arrival order, and the pools once a
	 * second */
	struct serve_request *req;
	size_t nreq;
	struct driver_sample *samples;
	size_t nsamples;
};

/* Runs the schedule against the manager at addr:port. Returns when every
 * container asked for has started or failed (with serve: and every request
 * is done), when timeout_ns has passed since the last invocation, or when
 * *stop is set (then -EINTR). Shows a progress line on stderr, labelled
 * label. With serve, a container idle for the scenario's reclaim time is
 * released. Under time dilation k (>= 1; 1: none) the driver runs on the
 * world's clock (driver_world_ns): the schedule, the time-out and every
 * time in r are the world's, so r reads as it would undilated. */
int driver_run(uint32_t addr, uint16_t port,
	       const struct scenario_invocation *inv, size_t ninv,
	       const struct scenario *s, uint64_t timeout_ns, double k,
	       volatile sig_atomic_t *stop, const char *label,
	       struct driver_result *r, struct err *e);

/* The world's clock under dilation k: a wall-clock time (CLOCK_MONOTONIC
 * ns, as every event log has) mapped so that t0 is the same instant in
 * both and the world runs k times slower after it. Times before t0 and
 * k <= 1 are left as they are. */
uint64_t driver_world_ns(uint64_t t0, double k, uint64_t wall);
void driver_result_free(struct driver_result *r);

/* Waits until the manager at addr:port says (GET_STATUS) that at least
 * vms agents are up, asking every 50 ms, connecting again while it does
 * not listen yet. Returns 0; -ETIMEDOUT after timeout_ms with e saying how
 * many were up; -EINTR when *stop is set. *up (may be NULL) gets the last
 * count heard. */
int driver_wait_agents(uint32_t addr, uint16_t port, unsigned vms,
		       unsigned timeout_ms, volatile sig_atomic_t *stop,
		       unsigned *up, struct err *e);

/* Records that the manager placed containers container .. container +
 * count - 1 of an INVOKE that asked for `asked` (r->first_id already set):
 * 0, or -ERANGE for an answer that cannot be right (none, more than asked,
 * an id before the first, ids that wrap), -ENOMEM. What on_msg does with an
 * INVOKED; exported for its tests. */
int driver_record_placed(struct driver_result *r, uint32_t container,
			 uint32_t count, uint32_t asked, unsigned function,
			 uint64_t requested_ns);

#endif

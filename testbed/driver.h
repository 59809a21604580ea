/* driver: the workload driver of one run, the one loop every strategy
 * runs under. It sends each invocation at its time to the strategy's
 * target (open loop: it never waits for one to finish before sending the
 * next), and records when every container was asked for, where the target
 * placed it and when it started. It owns that record and the clock; the
 * target owns how containers are placed and started (mgrlink.h: the
 * FaaSNet manager; st_bittorrent.c: aria2c per VM).
 *
 * In a scenario with serve, the invocations are requests: the driver is
 * the platform's front end and autoscaler. It feeds arrivals and container
 * starts to the request model (serve.h), asks the target for the
 * containers and releases the model wants, and records every request and,
 * once a second, every function's pool. */
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
	int failed;	       /* it will never start (driver_failed) */
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

/* One run's driving, as a target's callbacks see it. */
struct driver;

/* What the driver drives: a strategy's scheduler. */
struct driver_target {
	void *arg;
	/* Asks for count containers of function fn, now. The target places
	 * them at once or when its answer comes (driver_placed,
	 * driver_unplaced), then says when each started (driver_started) or
	 * failed (driver_failed). 0 or a negative errno with e: the run
	 * ends. */
	int (*invoke)(void *arg, struct driver *d, unsigned fn, unsigned count,
		      struct err *e);
	/* serve: the model let container go. NULL: the target cannot serve
	 * requests. */
	int (*release)(void *arg, struct driver *d, uint32_t container,
		       struct err *e);
	/* Called on every turn of the loop, readable saying whether fd (-1:
	 * none) was; 0 or a negative errno with e. */
	int (*step)(void *arg, struct driver *d, int readable, struct err *e);
	int fd;
	unsigned tick_ms; /* the loop's longest wait (world ms); 0: 100 */
};

/* Something that acts on the run as its clock goes (faults.h): tick is
 * called on every turn of the loop with the world's time since the start
 * and how many containers have started; *due_ns (the same clock) says when
 * it next wants a turn (left as it is: no wish). 0, or a negative errno
 * with e: the run ends. */
struct driver_hook {
	int (*tick)(void *arg, uint64_t now_ns, unsigned started,
		    uint64_t *due_ns, struct err *e);
	void *arg;
};

/* The world's clock now, as the driver keeps it, and when the run began
 * (the same instant on the wall clock and the world's). */
uint64_t driver_now(const struct driver *d);
uint64_t driver_t0(const struct driver *d);
/* The target placed containers first .. first + count - 1 of an invoke of
 * function fn asked for `asked` at world time requested_ns; the first call
 * sets the record's first id. 0, -ERANGE (driver_record_placed), -ENOMEM. */
int driver_placed(struct driver *d, uint32_t first, uint32_t count,
		  uint32_t asked, unsigned fn, uint64_t requested_ns);
/* count containers of fn asked for at requested_ns found no room. */
void driver_unplaced(struct driver *d, unsigned fn, unsigned count,
		     uint64_t requested_ns);
/* container started at wall time wall_ns (CLOCK_MONOTONIC; put on the
 * world's clock here); a second report is ignored. */
void driver_started(struct driver *d, uint32_t container, uint64_t wall_ns);
/* container will never start. */
void driver_failed(struct driver *d, uint32_t container);

/* Runs the schedule against target t. Returns when every container asked
 * for has started, failed or found no room (with serve: and every request
 * is done), when timeout_ns has passed since the last invocation, or when
 * *stop is set (then -EINTR). hook (may be NULL) gets every turn. Shows a progress line on stderr, labelled
 * label. With serve, a container idle for the scenario's reclaim time is
 * released (-EINVAL when t cannot release). Under time dilation k (>= 1;
 * 1: none) the driver runs on the world's clock (driver_world_ns): the
 * schedule, the time-out and every time in r are the world's, so r reads
 * as it would undilated. */
int driver_run(const struct driver_target *t,
	       const struct scenario_invocation *inv, size_t ninv,
	       const struct scenario *s, uint64_t timeout_ns, double k,
	       const struct driver_hook *hook, volatile sig_atomic_t *stop,
	       const char *label, struct driver_result *r, struct err *e);

/* The world's clock under dilation k: a wall-clock time (CLOCK_MONOTONIC
 * ns, as every event log has) mapped so that t0 is the same instant in
 * both and the world runs k times slower after it. Times before t0 and
 * k <= 1 are left as they are. */
uint64_t driver_world_ns(uint64_t t0, double k, uint64_t wall);
void driver_result_free(struct driver_result *r);

/* Records that the target placed containers container .. container +
 * count - 1 of an invoke that asked for `asked` (r->first_id already set):
 * 0, or -ERANGE for an answer that cannot be right (none, more than asked,
 * an id before the first, ids that wrap), -ENOMEM. What driver_placed
 * does; exported for its tests. */
int driver_record_placed(struct driver_result *r, uint32_t container,
			 uint32_t count, uint32_t asked, unsigned function,
			 uint64_t requested_ns);

#endif

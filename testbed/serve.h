/* serve: the request model of a run that serves requests (a scenario with
 * `serve`, docs/scenario-format.md). Requests of a function queue in
 * arrival order and go to a warm container of that function with a free
 * slot; a request holds its slot for the service time. An autoscaler sizes
 * each function's pool to its recent arrival rate (Little's law), and a
 * container idle for the reclaim time is released when the pool is larger
 * than that rate needs.
 *
 * It owns that model and the record of every request; it does no I/O and
 * reads no clock. The driver feeds it times (CLOCK_MONOTONIC ns; a time
 * before the latest one it was given is taken as that one), sends the INVOKEs and RELEASEs it asks for, and tells it
 * when containers come up. The same calls with made-up times are how the
 * unit tests drive it. */
#ifndef FAASNET_TESTBED_SERVE_H
#define FAASNET_TESTBED_SERVE_H

#include <stddef.h>
#include <stdint.h>

struct serve_opts {
	uint64_t service_ns;  /* a request keeps its slot this long */
	unsigned concurrency; /* slots per container, at least 1 */
	double utilization;   /* share of the slots the autoscaler keeps busy,
			       * in (0, 1] */
	uint64_t window_ns;   /* the arrival rate is measured over this */
	uint64_t reclaim_ns;  /* idle this long: released; 0 never */
};

struct serve_request {
	unsigned function;
	uint64_t arrival_ns;
	uint64_t start_ns, done_ns; /* valid when served */
	uint32_t container;	    /* valid when served */
	int served;
};

/* What the pool of one function looks like now. */
struct serve_pool {
	unsigned live;	  /* up and not released */
	unsigned pending; /* asked for, not up yet */
	unsigned busy;	  /* slots serving a request */
	unsigned queued;  /* requests waiting for a slot */
};

struct serve;

/* -EINVAL for options out of range, -ENOMEM. */
int serve_new(const struct serve_opts *o, unsigned nfunctions,
	      struct serve **out);
void serve_free(struct serve *sv);

/* A request of function fn arrives at t. 0 or -ENOMEM (-EINVAL for fn out
 * of range). */
int serve_arrive(struct serve *sv, unsigned fn, uint64_t t);

/* Container id of function fn is up at t: its slots are free from t. An id
 * already known is ignored. 0, -EINVAL, -ENOMEM. */
int serve_up(struct serve *sv, uint32_t id, unsigned fn, uint64_t t);

/* n of the containers asked for fn will never come (the manager had no
 * room): they stop counting as pending, and the autoscaler asks again for
 * fn no sooner than a second after t. */
void serve_refused(struct serve *sv, unsigned fn, unsigned n, uint64_t t);

/* Brings the model to t: requests whose service ended are done, queued
 * ones take the slots that freed (at the moment they freed). Then the
 * autoscaler: asks[fn] (nfunctions entries, written) is how many containers
 * of fn to ask for now, already counted as pending; *release (malloc'd,
 * *nrelease ids, NULL when none; the caller frees it) are containers that
 * were idle for the reclaim time, beyond what the rate needs, and are
 * released from now. 0 or -ENOMEM. */
int serve_tick(struct serve *sv, uint64_t t, unsigned *asks,
	       uint32_t **release, size_t *nrelease);

/* Every request that arrived is done by t (the model is at t or later). */
int serve_all_done(const struct serve *sv, uint64_t t);

void serve_pool(const struct serve *sv, unsigned fn, uint64_t t,
		struct serve_pool *p);

/* Every request so far, in arrival order. */
const struct serve_request *serve_requests(const struct serve *sv, size_t *n);

/* When container id was released (0: it was not). */
uint64_t serve_released_ns(const struct serve *sv, uint32_t id);

/* How many containers of fn the autoscaler wants for an arrival rate of
 * rate per second: ceil(rate * service / (concurrency * utilization)).
 * Exposed for the report and the tests. */
unsigned serve_desired(const struct serve_opts *o, double rate);

#endif

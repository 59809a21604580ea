/* evloop: a small epoll event loop for the daemons: callbacks on readable
 * or writable descriptors, and timers. One loop per process, driven from
 * main; no threads of its own. Owns the epoll descriptor and its
 * registrations, not the descriptors registered. */
#ifndef FAASNET_EVLOOP_H
#define FAASNET_EVLOOP_H

#include <stdint.h>

#define EVLOOP_IN  1u
#define EVLOOP_OUT 2u

struct evloop;

/* Called with the events that fired (EVLOOP_IN/OUT; an error or hang-up is
 * reported as EVLOOP_IN, so the read sees it). */
typedef void (*evloop_fd_fn)(struct evloop *l, int fd, unsigned events,
			     void *arg);
/* Called once when a timer is due; re-arm by adding it again. */
typedef void (*evloop_timer_fn)(struct evloop *l, void *arg);

int evloop_new(struct evloop **l);
void evloop_free(struct evloop *l);

/* Watches fd for events (EVLOOP_IN|EVLOOP_OUT); adding an fd twice is
 * -EEXIST. evloop_mod changes the events, evloop_del stops watching. */
int evloop_add(struct evloop *l, int fd, unsigned events, evloop_fd_fn fn,
	       void *arg);
int evloop_mod(struct evloop *l, int fd, unsigned events);
int evloop_del(struct evloop *l, int fd);

/* Time dilation (docs/fidelity.md, "Time dilation"): the loop's timers
 * and spans run k times slower than the wall clock, k >= 1 (1 when never
 * set). A process that runs in a world slowed k times calls it once, and
 * then says every duration in the world's own milliseconds. Timestamps
 * (evloop_now_ns) stay the wall clock's: the testbed converts them when it
 * reports. -EINVAL for k < 1 or not finite. */
int evloop_set_dilation(struct evloop *l, double k);
/* ms of the loop's world in wall-clock nanoseconds: what to add to
 * evloop_now_ns() for a deadline, or to compare an elapsed time with. */
uint64_t evloop_span_ns(const struct evloop *l, uint64_t ms);

/* Calls fn(arg) after ms milliseconds (of the loop's world: dilated).
 * Returns a timer id (> 0) for evloop_cancel, or a negative errno. */
long evloop_timer(struct evloop *l, unsigned ms, evloop_timer_fn fn, void *arg);
void evloop_cancel(struct evloop *l, long id);

/* Work to do once the current batch of events has been handled, before
 * the loop next waits: a connection writes everything its callbacks queued
 * in one system call, the event log writes its lines in one. The node is
 * the caller's (no allocation); arming an armed node does nothing. Every
 * deferred call runs before the loop sleeps and before evloop_run returns;
 * one may defer again (it then runs in the same round). */
typedef void (*evloop_defer_fn)(struct evloop *l, void *arg);
struct evloop_defer {
	evloop_defer_fn fn;
	void *arg;
	struct evloop_defer *next;
	int armed;
};
void evloop_defer(struct evloop *l, struct evloop_defer *d, evloop_defer_fn fn,
		  void *arg);
/* Disarms d (its owner is going away); safe on an unarmed node. */
void evloop_defer_cancel(struct evloop *l, struct evloop_defer *d);

/* The loop this thread is running (inside evloop_run), or NULL. */
struct evloop *evloop_current(void);

/* Runs until evloop_stop is called (from a callback) or stop_fd becomes
 * readable (-1: no such descriptor): a signalfd from evloop_signal_fd in
 * a daemon, an eventfd a test writes to. The descriptor is watched while
 * the loop runs, never read nor closed. With no timer due the loop sleeps
 * until a descriptor wakes it. Returns 0 or a negative errno. */
int evloop_run(struct evloop *l, int stop_fd);
void evloop_stop(struct evloop *l);

/* Blocks SIGINT, SIGTERM and SIGUSR1 for the process and returns a
 * descriptor that becomes readable when one arrives (for evloop_run's
 * stop_fd, where any of them stops the loop), or a negative errno. Called
 * by a daemon's main before it starts threads. A daemon that gives SIGUSR1
 * a meaning (the agent: lie.h) watches the descriptor itself and reads it
 * with evloop_signal_read. */
int evloop_signal_fd(void);
/* Reads one signal from a descriptor of evloop_signal_fd: 0 with its
 * number and its sigqueue value (0 for kill), -EAGAIN when none is
 * pending. Anything else readable, such as an eventfd a test writes to
 * stop a loop, reads as SIGTERM. Standard signals do not queue: a second
 * SIGUSR1 sent before the first is read is lost. */
int evloop_signal_read(int fd, int *signo, int *value)
	__attribute__((warn_unused_result));

/* CLOCK_MONOTONIC in nanoseconds: the timestamps of every event log, one
 * clock for every process on the machine. */
uint64_t evloop_now_ns(void);

#endif

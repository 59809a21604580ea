/* manager: the FaaSNet FT manager in the scheduler. It keeps the VM pool
 * (agents register with HELLO and answer heartbeats), places containers on
 * VMs (place.h: bin-packing, with caps on functions and containers per VM,
 * ties broken by a seeded order of the VM names), keeps one
 * function tree per function (ft.h), tells each new VM's agent its image and
 * parent, and when a VM stops answering takes it out of every tree, tells
 * each orphan its new parent and places its containers not yet up on other
 * VMs; so too for a VM its children report (SUSPECT), by a rule per kind
 * of report (manager.c, suspect). With a journal (journal.h) it writes down every change of its state,
 * and a manager started again on it takes up where the last one was. */
#ifndef FAASNET_MANAGER_MANAGER_H
#define FAASNET_MANAGER_MANAGER_H

#include <stdint.h>

#include "err.h"

#define MANAGER_MAX_FUNCTIONS 1024

struct manager_function {
	const char *name;
	const char *image; /* registry reference */
	/* The runtime's start of each container, in the world's ms; sent
	 * in PROVISION (0: none) */
	unsigned runtime_ms;
};

struct manager_opts {
	uint32_t addr; /* listen address, host order */
	uint16_t port;
	uint8_t strategy; /* enum proto_strategy, for every function */
	unsigned nfunctions;
	struct manager_function functions[MANAGER_MAX_FUNCTIONS];
	unsigned max_functions_per_vm;	/* paper: 20 */
	unsigned max_containers_per_vm; /* 1 but in the scale test */
	unsigned heartbeat_ms, dead_ms;
	unsigned reclaim_ms; /* idle containers released after it; 0: never */
	/* Orders the VMs where placement would tie (place.h): the same seed
	 * gives the same trees, whatever order the HELLOs came in. */
	uint64_t seed;
	const char *events; /* JSON Lines; NULL: stderr */
	const char *dot;    /* trees written here at exit; NULL: not */
	/* Every change of state is written here as it is made, and a
	 * manager started with a journal that holds changes takes them up
	 * again: its trees, containers and answers (journal.h); NULL: none. */
	const char *journal;
	/* Time dilation: every timer and time-out above k times the wall
	 * clock's (0 or 1: none); docs/fidelity.md, "Time dilation". */
	double dilation;
	/* How long a VM reported unresponsive by two children waits for its
	 * verdict, and how long after reporting its own parent unresponsive
	 * reports against it are its parent's doing (0:
	 * MANAGER_SUSPECT_WINDOW_MS). manager.c, unresponsive. */
	unsigned suspect_window_ms;
};

/* Twice the agents' request time-out (SOURCE_TIMEOUT_MS): a VM that waits
 * on an unresponsive parent finds out at most about one time-out after
 * its own children find it slow. */
#define MANAGER_SUSPECT_WINDOW_MS 10000

/* Runs until stop_fd becomes readable (evloop_run's stop_fd). Returns 0 or
 * a negative errno with e set. */
int manager_run(const struct manager_opts *o, int stop_fd, struct err *e);

#endif

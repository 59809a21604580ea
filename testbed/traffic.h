/* traffic: bulk TCP flows between hosts of the emulated network, driven by
 * this process (no iperf): each flow's sockets are opened inside its hosts'
 * namespaces, then one thread writes every flow and another reads every flow,
 * and each flow's goodput is measured over a window after a warm-up. It owns
 * the sockets and threads of one measurement; calibrate decides the flows. */
#ifndef FAASNET_TESTBED_TRAFFIC_H
#define FAASNET_TESTBED_TRAFFIC_H

#include <signal.h>
#include <stdint.h>

#include "err.h"

struct traffic_flow {
	int src_nsfd, dst_nsfd; /* namespaces of sender and receiver */
	uint32_t dst_addr;	/* receiver's IPv4 address, host order */
	/* results */
	uint64_t bytes;	    /* received in the measured window */
	double goodput_bps; /* bytes * 8 / window */
};

struct traffic_opts {
	double warmup_s;  /* not measured: TCP slow start, HTB's first burst */
	double measure_s; /* the window */
	volatile sig_atomic_t *stop; /* ends the run early (-EINTR) */
};

/* Runs all flows at once. Returns 0 when every flow connected and ran, else a
 * negative errno with e set. */
int traffic_run(struct traffic_flow *flows, unsigned n,
		const struct traffic_opts *o, struct err *e);

#endif

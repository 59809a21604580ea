/* netmon: the byte counters of every host's cable, read at the host end
 * in the initial namespace (its tx is what the host received, its rx what
 * the host sent), written as CSV: t_s,link,in_bytes,out_bytes, cumulative
 * from the first sample. The report draws the paper's Fig. 16 (per-VM
 * inbound and outbound) and the registry's egress from it. It owns the
 * file and its socket; the fidelity monitor (fidmon.h) owns the thread
 * and the clock that call netmon_sample. */
#ifndef FAASNET_TESTBED_NETMON_H
#define FAASNET_TESTBED_NETMON_H

#include <stdint.h>

#include "err.h"

struct netmon;

int netmon_open(const char *csv, struct netmon **m, struct err *e);
/* One sample, at t_s seconds from the start of sampling. */
void netmon_sample(struct netmon *m, double t_s);
/* Closes the file (NULL: nothing). */
void netmon_close(struct netmon *m);

/* One counter of a cable's host end now, from sysfs (which: "rx_bytes",
 * what the host sent; "tx_bytes", what it received); 0 when unreadable.
 * For a single reading between samples (a fault's trigger, a swarm's
 * tally). */
uint64_t netmon_cable_bytes(const char *ifname, const char *which);

#endif

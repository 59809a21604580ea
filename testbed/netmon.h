/* netmon: while a run goes, samples on a thread of its own the byte
 * counters of every host's cable, read at the host end in the initial
 * namespace (its tx is what the host received, its rx what the host sent),
 * and writes them as CSV: t_s,link,in_bytes,out_bytes, cumulative from the
 * first sample. The report draws the paper's Fig. 16 (per-VM inbound and
 * outbound) and the registry's egress from it. */
#ifndef FAASNET_TESTBED_NETMON_H
#define FAASNET_TESTBED_NETMON_H

#include "err.h"

struct netmon;

int netmon_start(const char *csv, unsigned interval_ms, struct netmon **m,
		 struct err *e);
/* Stops sampling, closes the file. */
void netmon_stop(struct netmon *m);

#endif

/* hostlimits: the host-wide limits a large topology runs into, raised for a run
 * and put back afterwards. The kernel's ARP table is one table shared by
 * every namespace, so a thousand hosts overflow its default thresholds
 * ("neighbour table overflow") unless they are raised in the initial
 * namespace. The values found are saved under TOPO_STATE_DIR so that a
 * `down` or `clean` in another process can restore them. */
#ifndef FAASNET_TOPO_HOSTLIMITS_H
#define FAASNET_TOPO_HOSTLIMITS_H

#include "err.h"

/* Raises this process's open-file limit to its hard limit. */
int hostlimits_raise_fds(void);

/* Makes the ARP table hold at least 64 entries per host (each VM talks to a
 * handful of peers, the registry and manager to every VM, and the core
 * bridge holds one per host: build.c), saving the old
 * thresholds unless a saved copy exists already. Never lowers them. */
int hostlimits_raise_neigh(unsigned nhosts, struct err *e);

/* Writes the saved thresholds back and forgets them; 0 when none were
 * saved. */
int hostlimits_restore_neigh(struct err *e);

#endif

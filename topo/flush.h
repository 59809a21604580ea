/* flush: empties the per-namespace kernel caches that one run would
 * otherwise hand the next: the IPv4 neighbour table (learned ARP entries)
 * and the TCP metrics cache (ssthresh, RTT and cwnd remembered per
 * destination, which seed a new connection's start). It owns those two
 * netlink conversations, over libnl-route-3 and libnl-genl-3; which
 * namespaces a topology has is plan.h's, entering them netns.h's. */
#ifndef FAASNET_TOPO_FLUSH_H
#define FAASNET_TOPO_FLUSH_H

#include <stdint.h>

#include "err.h"
#include "plan.h"

struct flush_stats {
	unsigned netns;	     /* namespaces flushed */
	unsigned neigh;	     /* neighbour entries deleted, over all of them */
	uint64_t elapsed_ns; /* the whole flush, CLOCK_MONOTONIC */
};

/* In every host's namespace of plan (registry, manager, each VM): deletes
 * each IPv4 neighbour entry but permanent and NOARP ones (RTM_GETNEIGH
 * dump, RTM_DELNEIGH each, as `ip neigh flush all` does) and every TCP
 * metrics entry (TCP_METRICS_CMD_DEL without an address). The initial
 * namespace is left alone: its tables are the machine's. Returns 0 or a
 * negative errno with e naming the namespace. On error, stop: the calling
 * thread may not have got back to its own namespace (netns_run). st may
 * be NULL. */
int flush_plan(const struct topo_plan *plan, struct flush_stats *st,
	       struct err *e) __attribute__((warn_unused_result));

#endif

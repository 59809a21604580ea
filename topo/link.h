/* link: the rtnetlink operations the testbed needs, over libnl-route-3:
 * bridges, veth pairs with one end in another namespace, addresses, HTB
 * shaping, deletion and listing by name prefix. Each call works through the
 * socket it is given, so it acts in the namespace that socket was opened in.
 * Every error names the object it was about. It knows nothing of topologies;
 * build.h does. */
#ifndef FAASNET_TOPO_LINK_H
#define FAASNET_TOPO_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct nl_sock;

/* A NETLINK_ROUTE socket in the calling thread's current namespace, with a
 * receive buffer big enough to dump a thousand links. NULL on failure. */
struct nl_sock *link_sock_open(struct err *e);
void link_sock_close(struct nl_sock *sk);

#define LINK_MAC_LEN 6

/* A bridge named name, with the requested ifindex (0: any), link group and
 * Ethernet address (NULL: the kernel's, which then follows its ports'),
 * up, without IPv6 addresses, spanning tree off (the default). */
int link_add_bridge(struct nl_sock *sk, const char *name, int ifindex,
		    uint32_t group, const uint8_t *mac, struct err *e);

struct link_veth {
	const char *name; /* this end, in the socket's namespace */
	int ifindex;	  /* requested ifindex of this end (0: any) */
	int master;	  /* bridge to attach this end to (0: none) */
	uint32_t group;	  /* link group of both ends */
	const char *peer; /* the other end's name */
	/* Requested ifindex of the peer (0: any); the kernel honours it only
	 * when this end's ifindex is requested too. */
	int peer_ifindex;
	int peer_nsfd; /* namespace of the peer, -1: this one */
	const uint8_t *peer_mac; /* LINK_MAC_LEN bytes, NULL: random */
};

/* Creates a veth pair; the peer is made directly in its namespace (which
 * saves a move and a rename per link), down, for the caller to bring up.
 * This end is attached as link_attach does. With ifindexes requested, no
 * lookups are needed afterwards: a thousand hosts save two round trips
 * each. */
int link_add_veth(struct nl_sock *sk, const struct link_veth *v, struct err *e);

/* Turns IPv6 address generation off on ifindex, enslaves it to master when
 * that is not 0, then brings it up. Links in the initial namespace are made
 * down and finished this way, because that namespace's defaults are the
 * machine's, not ours to change, and a link brought up with generation on
 * gets a link-local address at once (and a thousand of them flood the
 * bridges with solicitations). */
int link_attach(struct nl_sock *sk, int ifindex, int master, const char *what,
		struct err *e);

/* Brings ifindex up (for loopback inside a new namespace). */
int link_set_up(struct nl_sock *sk, int ifindex, const char *what,
		struct err *e);

/* Takes ifindex down (a fault: the cable pulled; faults.h). */
int link_set_down(struct nl_sock *sk, int ifindex, const char *what,
		  struct err *e);

/* ifindex of name, or -ENODEV. */
int link_ifindex(struct nl_sock *sk, const char *name, int *ifindex,
		 struct err *e);

/* Adds addr/prefix_len (IPv4, host order) to ifindex. */
int link_add_addr4(struct nl_sock *sk, int ifindex, uint32_t addr,
		   int prefix_len, const char *what, struct err *e);

/* Shapes the egress of ifindex to rate_bps with HTB: root qdisc 1:, one class
 * 1:1 with rate = ceil = rate_bps and the given bucket, default class 1:1.
 * Under that class a bfifo of 12 ms at rate_bps (at least 128 KiB), so that
 * queueing delays do not grow as a scenario scales rates down; when
 * delay_ns is not 0, a netem qdisc there instead delays packets (a kernel
 * without netem fails this with -ENODEV: probe first). */
int link_set_htb_rate(struct nl_sock *sk, int ifindex, uint64_t rate_bps,
		      uint32_t burst_bytes, const char *what, struct err *e);
/* link_set_htb_rate: a link shaped by link_shape_htb to another rate and
 * bucket, in place (the class changed, its queue and the packets in it
 * kept), as `tc class change` does. */
int link_shape_htb(struct nl_sock *sk, int ifindex, uint64_t rate_bps,
		   uint32_t burst_bytes, uint32_t queue_bytes,
		   uint64_t delay_ns, const char *what, struct err *e);

/* Caps the segments per GSO/TSO super-frame that the stack hands the link
 * (IFLA_GSO_MAX_SEGS; 1 turns segmentation offload off in effect). */
int link_set_gso_max_segs(struct nl_sock *sk, int ifindex, uint32_t segs,
			  const char *what, struct err *e);

/* Answering ARP at a bridge instead of flooding it (build.c): */
/* A permanent IPv4 neighbour entry addr -> mac on ifindex (the entry
 * never expires nor is probed; on a bridge it is also what the bridge
 * answers ARP with, link_set_proxy_arp). */
int link_neigh_add(struct nl_sock *sk, int ifindex, uint32_t addr,
		   const uint8_t *mac, const char *what, struct err *e);
/* A static forwarding entry on port's bridge: frames to mac leave by port
 * (`bridge fdb add MAC dev PORT master static sticky`); never aged nor
 * moved by learning. */
int link_fdb_add(struct nl_sock *sk, int port, const uint8_t *mac,
		 const char *what, struct err *e);
/* Turns proxy ARP on for a bridge port (`bridge link set dev PORT
 * proxy_arp on`): the bridge answers an ARP request that comes in by it
 * from its own neighbour table and forwarding entries, and floods no
 * broadcast out by it. */
int link_set_proxy_arp(struct nl_sock *sk, int port, const char *what,
		       struct err *e);

/* Deletes a link by name (a veth takes its peer with it). -ENODEV if absent. */
int link_del(struct nl_sock *sk, const char *name, struct err *e);

/* Deletes every link of a link group in one request: the kernel tears them
 * down in one batch, where one request per link waits for the network to
 * quiesce each time (tens of milliseconds apiece). */
int link_del_group(struct nl_sock *sk, uint32_t group, struct err *e);

/* Names of the links in the socket's namespace that start with prefix, as a
 * malloc'd array of malloc'd strings (free with link_list_free). */
int link_list(struct nl_sock *sk, const char *prefix, char ***names, size_t *n,
	      struct err *e);
void link_list_free(char **names, size_t n);

/* Byte counters of every link whose name starts with prefix, from one
 * dump: fn(arg, name, rx_bytes, tx_bytes) for each. */
typedef void (*link_stats_fn)(void *arg, const char *name, uint64_t rx,
			      uint64_t tx);
int link_stats(struct nl_sock *sk, const char *prefix, link_stats_fn fn,
	       void *arg, struct err *e);

/* Counters of an HTB root qdisc as link_shape_htb makes it: its one
 * class 1:1 is also the default, so every byte the link sends passes it
 * and these are the class's counters too (backlog: bytes queued under it
 * now; drops and overlimits: since it was made). */
struct link_htb_stats {
	uint64_t bytes;
	uint32_t backlog, drops, overlimits;
};
/* fn(arg, ifindex, stats) for every HTB root qdisc in the socket's
 * namespace, from one dump: one request however many links there are. */
typedef void (*link_htb_stats_fn)(void *arg, int ifindex,
				  const struct link_htb_stats *s);
int link_htb_stats(struct nl_sock *sk, link_htb_stats_fn fn, void *arg,
		   struct err *e);

/* Converts a libnl error (-NLE_*) to the nearest negative errno. */
int link_errno(int nlerr);

#endif

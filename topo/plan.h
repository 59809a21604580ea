/* plan: the concrete network derived from a topology spec: every host's
 * namespace name, link names, address, rack and link rate, and the bridges.
 * Pure computation, no kernel calls, so it is unit-tested alone; build.h turns
 * a plan into namespaces and links.
 *
 * Address plan (docs/topology.md): one flat 198.18.0.0/15 subnet (RFC 2544's
 * benchmarking range) over all bridges. The registry is 198.18.0.2, the
 * manager 198.18.0.3, VM i is 198.18.(1 + i / 250).(1 + i % 250), so no host
 * gets a .0 or .255 address that would look like a network or broadcast one
 * to a person reading it. */
#ifndef FAASNET_TOPO_PLAN_H
#define FAASNET_TOPO_PLAN_H

#include <net/if.h>
#include <stdint.h>

#include "err.h"
#include "topo.h"

#define TOPO_NET_ADDR	   0xc6120000u /* 198.18.0.0 */
#define TOPO_NET_PREFIX	   15
#define TOPO_REGISTRY_ADDR (TOPO_NET_ADDR + 2)
#define TOPO_MANAGER_ADDR  (TOPO_NET_ADDR + 3)
/* The harness's own address, on the core bridge in the initial namespace:
 * how the testbed pushes images and talks to the manager. The initial
 * namespace gains a route into the emulated network, never the reverse. */
#define TOPO_HARNESS_ADDR (TOPO_NET_ADDR + 1)
/* Ports: every process of ours and the harness take them from here, so
 * that no two files can disagree about where a service listens. */
#define TOPO_REGISTRY_PORT 5000 /* docker-registry, on TOPO_REGISTRY_ADDR */
#define TOPO_MANAGER_PORT  7000 /* the FT manager, on TOPO_MANAGER_ADDR */
#define TOPO_AGENT_PORT	   7001 /* every agent's block port */
#define TOPO_DADI_PORT	   7002 /* dadi: every faasnet-dadi proxy */
#define TOPO_TRACKER_PORT  6969 /* bittorrent: opentracker, on the registry */
#define TOPO_BT_PEER_PORT  6881 /* bittorrent: every aria2c */
#define TOPO_TRAFFIC_PORT  5201 /* calibrate's and probe's flows */
/* A port as a string literal, for a command line: TOPO_STR(TOPO_AGENT_PORT). */
#define TOPO_STR_(x)	    #x
#define TOPO_STR(x)	    TOPO_STR_(x)
#define TOPO_VMS_PER_SUBNET 250
/* The interface name every host sees inside its namespace. */
#define TOPO_HOST_IFNAME "eth0"
#define TOPO_CORE_BRIDGE TOPO_PREFIX "core"
/* HTB wakes up late under load (timer latency of tens of ms was measured
 * here); a bucket this many milliseconds deep lets a link catch up after a
 * late wake-up instead of losing the time. */
#define TOPO_BURST_MS 10
/* Every emulated link's MTU (veth's default). */
#define TOPO_MTU       1500
#define TOPO_RACK_CORE (-1)
/* Every link made in the initial namespace carries this link group (a tag
 * `ip -d link` shows), so the testbed can find and delete all of them in one
 * request. 0x46534e54 is "FSNT". */
#define TOPO_LINK_GROUP 0x46534e54u
/* Links in the initial namespace get ifindexes chosen here rather than
 * looked up after creation, a round trip saved per link; far above what a
 * machine's own interfaces use. Inside a host's fresh namespace, lo is 1 and
 * eth0 is asked to be 2. */
#define TOPO_IFINDEX_BASE  0x100000
#define TOPO_IFINDEX_HOSTS (TOPO_IFINDEX_BASE + 0x4000)
#define TOPO_HOST_IFINDEX  2
/* Core bridge ports: one uplink per rack, plus registry and manager. */
#define TOPO_MAX_RACKS (1023 - 2)

enum topo_role {
	TOPO_ROLE_REGISTRY,
	TOPO_ROLE_MANAGER,
	TOPO_ROLE_VM,
};

struct topo_host {
	enum topo_role role;
	char name[IFNAMSIZ];   /* "registry", "manager", "vm0007" */
	char netns[IFNAMSIZ];  /* "fnet-vm0007", under /run/netns */
	char ifname[IFNAMSIZ]; /* the host end of its cable: "fnet-vm0007" */
	int ifindex;	       /* of that end, in the initial namespace */
	uint32_t addr;	       /* IPv4, host byte order */
	int rack;	       /* rack bridge index, or TOPO_RACK_CORE */
	uint64_t rate_bps;     /* shaped in both directions (dilated) */
	uint32_t queue_bytes;  /* its queue, 12 ms of the world's rate */
};

struct topo_rack {
	char bridge[IFNAMSIZ];	 /* "fnet-rack00" */
	char uplink_r[IFNAMSIZ]; /* uplink end on the rack bridge: fnet-up00r */
	char uplink_c[IFNAMSIZ]; /* uplink end on the core bridge: fnet-up00c */
	int bridge_ifindex, uplink_r_ifindex, uplink_c_ifindex;
};

struct topo_plan {
	struct topo_spec spec;
	unsigned nhosts; /* registry, manager, then the VMs in order */
	struct topo_host *hosts;
	unsigned nracks;
	struct topo_rack *racks;
	int core_ifindex;
	/* Most MTU-sized segments a host's TCP may put in one super-frame
	 * (GSO/TSO on veth), the same on every shaped link: see
	 * topo_gso_max_segs. */
	uint32_t gso_max_segs;
	/* The rack uplinks' shaping (0: unshaped), and the one-way delay on
	 * VM links: the spec's, dilated. */
	uint64_t uplink_rate_bps;
	uint32_t uplink_queue_bytes;
	uint64_t delay_ns;
};

/* Derives the plan; the spec is checked first. Returns 0, -EINVAL (with e)
 * or -ENOMEM. Release with topo_plan_free. */
int topo_plan_make(const struct topo_spec *spec, struct topo_plan *plan,
		   struct err *e);
void topo_plan_free(struct topo_plan *plan);

/* The host named name ("vm0007", "registry"), or NULL. */
const struct topo_host *topo_plan_host(const struct topo_plan *plan,
				       const char *name);

/* HTB bucket size in bytes for a link of rate_bps: TOPO_BURST_MS worth of the
 * rate, never less than what a few full-size frames need (HTB cannot send a
 * packet bigger than its bucket) nor more than HTB's 32-bit field holds. */
uint32_t topo_burst_bytes(uint64_t rate_bps, unsigned mtu);

/* The queue under a shaped link: TOPO_QUEUE_MS of its rate in bytes (what
 * Linux's default 1000 frames hold at 1 Gbit/s), so that queueing delay is
 * the same at every scale; never under two full frames. */
#define TOPO_QUEUE_MS 12
uint32_t topo_queue_bytes(uint64_t rate_bps, unsigned mtu);

/* The super-frame cap for a network whose slowest shaped link runs at
 * min_rate_bps: a super-frame (up to 64 KiB on veth) must fit a queue
 * several times over, or a 12 ms queue at a few Mbit/s drops it every time
 * and TCP stalls. Sized from the slowest queue, because a frame sized by
 * its sender's rate lands in its receiver's queue: at most a quarter of
 * that queue, in whole segments, 1 (offloads off) to 44 (64 KiB). */
uint32_t topo_gso_max_segs(uint64_t min_rate_bps, unsigned mtu);

/* The Ethernet address of the interface that holds addr (a host's eth0,
 * the core bridge for the harness): 02:46 (locally administered, "F")
 * then the four bytes of the address, so that 198.18.1.5 is
 * 02:46:c6:12:01:05. Fixed, so that the bridges can answer ARP for every
 * host from tables made when the network is built (build.c). */
#define TOPO_MAC_LEN 6
void topo_mac(uint32_t addr, uint8_t mac[TOPO_MAC_LEN]);

/* Dotted-quad text of a host-order address. */
const char *topo_addr_str(uint32_t addr, char *buf, size_t len);

#endif

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/* snprintf that reports truncation: every name must fit IFNAMSIZ whole. */
#define NAME_FMT(buf, ...)                                                     \
	((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) >= sizeof(buf) ? -1   \
									: 0)

/* A rate of the world on the wall clock: k times slower. */
static uint64_t dilate_rate(uint64_t rate, double k)
{
	uint64_t r;

	if (k <= 1.0 || !rate)
		return rate;
	r = (uint64_t)((double)rate / k + 0.5);
	return r ? r : 1;
}

static int host_init(struct topo_host *h, enum topo_role role, const char *name,
		     uint32_t addr, int rack, uint64_t rate, double k)
{
	h->role = role;
	h->addr = addr;
	h->rack = rack;
	h->rate_bps = dilate_rate(rate, k);
	/* The world's queue holds 12 of its own ms: at its undilated rate,
	 * so the same bytes whatever the dilation. */
	h->queue_bytes = topo_queue_bytes(rate, TOPO_MTU);
	return NAME_FMT(h->name, "%s", name) |
	       NAME_FMT(h->netns, TOPO_PREFIX "%s", name) |
	       NAME_FMT(h->ifname, TOPO_PREFIX "%s", name);
}

int topo_plan_make(const struct topo_spec *spec, struct topo_plan *plan,
		   struct err *e)
{
	double k = spec->dilation > 1.0 ? spec->dilation : 1.0;
	unsigned i;
	int ret, bad = 0;

	memset(plan, 0, sizeof(*plan));
	ret = topo_spec_check(spec, e);
	if (ret)
		return ret;
	plan->spec = *spec;
	plan->nracks = (spec->vms + spec->rack_size - 1) / spec->rack_size;
	if (plan->nracks > TOPO_MAX_RACKS)
		return err_set(e, -EINVAL,
			       "rack_size: %u VMs in racks of %u need %u rack "
			       "bridges, the core bridge takes at most %u",
			       spec->vms, spec->rack_size, plan->nracks,
			       TOPO_MAX_RACKS);
	plan->nhosts = 2 + spec->vms;
	plan->hosts = calloc(plan->nhosts, sizeof(*plan->hosts));
	plan->racks = calloc(plan->nracks, sizeof(*plan->racks));
	if (!plan->hosts || !plan->racks) {
		topo_plan_free(plan);
		return err_set(e, -ENOMEM, "out of memory planning %u VMs",
			       spec->vms);
	}

	/* The registry and manager hang off the core bridge: every rack
	 * reaches them through its own uplink, as in a data centre. The
	 * manager's link only carries control traffic: at the VM rate, or
	 * the spec's own manager rate. */
	bad |= host_init(&plan->hosts[0], TOPO_ROLE_REGISTRY, "registry",
			 TOPO_REGISTRY_ADDR, TOPO_RACK_CORE,
			 spec->registry_rate_bps, k);
	bad |= host_init(&plan->hosts[1], TOPO_ROLE_MANAGER, "manager",
			 TOPO_MANAGER_ADDR, TOPO_RACK_CORE,
			 spec->manager_rate_bps ? spec->manager_rate_bps
						: spec->vm_rate_bps,
			 k);
	for (i = 0; i < spec->vms; i++) {
		char name[IFNAMSIZ];
		uint32_t addr = TOPO_NET_ADDR +
				((1 + i / TOPO_VMS_PER_SUBNET) << 8) + 1 +
				i % TOPO_VMS_PER_SUBNET;

		bad |= NAME_FMT(name, "vm%04u", i);
		bad |= host_init(&plan->hosts[2 + i], TOPO_ROLE_VM, name, addr,
				 (int)(i / spec->rack_size), spec->vm_rate_bps,
				 k);
	}
	for (i = 0; i < plan->nhosts; i++)
		plan->hosts[i].ifindex = TOPO_IFINDEX_HOSTS + (int)i;
	{
		uint64_t slow = spec->vm_rate_bps;

		if (spec->registry_rate_bps && spec->registry_rate_bps < slow)
			slow = spec->registry_rate_bps;
		if (spec->uplink_rate_bps && spec->uplink_rate_bps < slow)
			slow = spec->uplink_rate_bps;
		plan->gso_max_segs = topo_gso_max_segs(slow, TOPO_MTU);
	}
	plan->uplink_rate_bps = dilate_rate(spec->uplink_rate_bps, k);
	plan->uplink_queue_bytes =
		topo_queue_bytes(spec->uplink_rate_bps, TOPO_MTU);
	plan->delay_ns = (uint64_t)((double)spec->delay_ns * k + 0.5);
	plan->core_ifindex = TOPO_IFINDEX_BASE;
	for (i = 0; i < plan->nracks; i++) {
		struct topo_rack *r = &plan->racks[i];

		r->bridge_ifindex = TOPO_IFINDEX_BASE + 1 + 3 * (int)i;
		r->uplink_r_ifindex = r->bridge_ifindex + 1;
		r->uplink_c_ifindex = r->bridge_ifindex + 2;

		bad |= NAME_FMT(r->bridge, TOPO_PREFIX "rack%02u", i);
		bad |= NAME_FMT(r->uplink_r, TOPO_PREFIX "up%02ur", i);
		bad |= NAME_FMT(r->uplink_c, TOPO_PREFIX "up%02uc", i);
	}
	if (bad) { /* cannot happen within TOPO_MAX_VMS: a guard for edits */
		topo_plan_free(plan);
		return err_set(e, -EINVAL, "a name does not fit %d bytes",
			       IFNAMSIZ);
	}
	return 0;
}

void topo_plan_free(struct topo_plan *plan)
{
	free(plan->hosts);
	free(plan->racks);
	plan->hosts = NULL;
	plan->racks = NULL;
	plan->nhosts = plan->nracks = 0;
}

const struct topo_host *topo_plan_host(const struct topo_plan *plan,
				       const char *name)
{
	unsigned i;

	for (i = 0; i < plan->nhosts; i++)
		if (!strcmp(plan->hosts[i].name, name))
			return &plan->hosts[i];
	return NULL;
}

uint32_t topo_burst_bytes(uint64_t rate_bps, unsigned mtu)
{
	/* bits/s to bytes per TOPO_BURST_MS, in an order that cannot wrap */
	uint64_t burst = rate_bps / (8 * 1000 / TOPO_BURST_MS);
	uint64_t floor = 4ull * (mtu + 14);

	if (burst < floor)
		burst = floor;
	if (burst > UINT32_MAX)
		burst = UINT32_MAX;
	return (uint32_t)burst;
}

uint32_t topo_queue_bytes(uint64_t rate_bps, unsigned mtu)
{
	uint64_t q = rate_bps / 8 * TOPO_QUEUE_MS / 1000;
	uint64_t floor = 2ull * (mtu + 14);

	if (q < floor)
		q = floor;
	return q > INT32_MAX ? INT32_MAX : (uint32_t)q;
}

uint32_t topo_gso_max_segs(uint64_t min_rate_bps, unsigned mtu)
{
	/* TCP payload per segment: the MTU less IPv4 and TCP with
	 * timestamps. */
	uint64_t mss = mtu > 52 ? mtu - 52 : 1;
	uint64_t segs = topo_queue_bytes(min_rate_bps, mtu) / 4 / mss;

	if (segs < 1)
		segs = 1;
	return segs > 65536 / mss ? (uint32_t)(65536 / mss) : (uint32_t)segs;
}

void topo_mac(uint32_t addr, uint8_t mac[TOPO_MAC_LEN])
{
	mac[0] = 0x02;
	mac[1] = 0x46;
	mac[2] = (uint8_t)(addr >> 24);
	mac[3] = (uint8_t)(addr >> 16);
	mac[4] = (uint8_t)(addr >> 8);
	mac[5] = (uint8_t)addr;
}

const char *topo_addr_str(uint32_t addr, char *buf, size_t len)
{
	struct in_addr a = {.s_addr = htonl(addr)};

	if (!inet_ntop(AF_INET, &a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "config.h"
#include "hostlimits.h"
#include "link.h"
#include "netns.h"

#define STATE_TOPOLOGY	   TOPO_STATE_DIR "/topology.yaml"
#define LOOPBACK_IFINDEX   1
#define TOPO_BUILD_THREADS 2

struct ns_init {
	struct err *e;
	struct nl_sock *sk; /* opened inside the new namespace */
};

/* Runs inside a host's new namespace: opens the netlink socket that
 * configures the namespace from outside it (a socket stays in the namespace
 * it was made in). */
static int host_ns_init(void *arg)
{
	struct ns_init *ni = arg;

	ni->sk = link_sock_open(ni->e);
	return ni->sk ? 0 : -EIO;
}

/* The HTB class and its queue, and the super-frame cap on the same end:
 * a host's own TCP is capped on eth0, what the initial namespace sends
 * (the harness's pushes) on the host end. */
static int shape(struct nl_sock *sk, const struct topo_plan *plan, int ifindex,
		 uint64_t rate, uint32_t queue_bytes, uint64_t delay_ns,
		 const char *what, struct err *e)
{
	int ret =
		link_set_gso_max_segs(sk, ifindex, plan->gso_max_segs, what, e);

	/* The bucket makes up for the host's late wake-ups, which are wall
	 * clock: from the rate as shaped. */
	return ret
		       ?: link_shape_htb(sk, ifindex, rate,
					 topo_burst_bytes(rate, TOPO_MTU),
					 queue_bytes, delay_ns, what, e);
}

/* One host's eth0 from inside its namespace (netns_run). */
struct reshape_one {
	const struct topo_host *h;
	uint64_t rate_bps;
	struct err *e;
};

static int reshape_inside(void *arg)
{
	struct reshape_one *o = arg;
	char what[64];
	struct nl_sock *sk = link_sock_open(o->e);
	int ret;

	if (!sk)
		return -EIO;
	snprintf(what, sizeof(what), "%s: " TOPO_HOST_IFNAME " (upload)",
		 o->h->netns);
	ret = link_set_htb_rate(sk, TOPO_HOST_IFINDEX, o->rate_bps,
				topo_burst_bytes(o->rate_bps, TOPO_MTU), what,
				o->e);
	link_sock_close(sk);
	return ret;
}

/* One host's link at both ends to rate_bps, in place. */
static int reshape_host(struct nl_sock *sk, const struct topo_host *h,
			uint64_t rate_bps, struct err *e)
{
	struct reshape_one o = {h, rate_bps, e};
	int nsfd, ret;

	ret = link_set_htb_rate(sk, h->ifindex, rate_bps,
				topo_burst_bytes(rate_bps, TOPO_MTU), h->ifname,
				e);
	if (ret)
		return ret;
	nsfd = netns_open(h->netns);
	if (nsfd < 0)
		return err_set(e, nsfd, "namespace %s: %s", h->netns,
			       strerror(-nsfd));
	ret = netns_run(nsfd, reshape_inside, &o);
	close(nsfd);
	return ret;
}

int topo_reshape(const struct topo_plan *plan, struct err *e)
{
	struct nl_sock *sk = link_sock_open(e);
	uint64_t up = plan->uplink_rate_bps;
	uint32_t upb = topo_burst_bytes(up, TOPO_MTU);
	unsigned i;
	int ret = 0;

	if (!sk)
		return -EIO;
	for (i = 0; !ret && i < plan->nhosts; i++)
		ret = reshape_host(sk, &plan->hosts[i],
				   plan->hosts[i].rate_bps, e);
	for (i = 0; !ret && up && i < plan->nracks; i++) {
		ret = link_set_htb_rate(sk, plan->racks[i].uplink_r_ifindex, up,
					upb, plan->racks[i].uplink_r, e);
		if (!ret)
			ret = link_set_htb_rate(sk,
						plan->racks[i].uplink_c_ifindex,
						up, upb, plan->racks[i].uplink_c,
						e);
	}
	link_sock_close(sk);
	return ret;
}

int topo_host_rate(const struct topo_plan *plan, unsigned host,
		   uint64_t rate_bps, struct err *e)
{
	struct nl_sock *sk;
	int ret;

	if (host >= plan->nhosts || !rate_bps)
		return err_set(e, -EINVAL, "host %u: no such host or rate 0",
			       host);
	sk = link_sock_open(e);
	if (!sk)
		return -EIO;
	ret = reshape_host(sk, &plan->hosts[host], rate_bps, e);
	link_sock_close(sk);
	return ret;
}

int topo_host_link(const struct topo_plan *plan, unsigned host, bool up,
		   struct err *e)
{
	struct nl_sock *sk;
	int ret;

	if (host >= plan->nhosts)
		return err_set(e, -EINVAL, "host %u: no such host", host);
	sk = link_sock_open(e);
	if (!sk)
		return -EIO;
	ret = up ? link_set_up(sk, plan->hosts[host].ifindex,
			       plan->hosts[host].ifname, e)
		 : link_set_down(sk, plan->hosts[host].ifindex,
				 plan->hosts[host].ifname, e);
	link_sock_close(sk);
	return ret;
}

static int build_host(struct nl_sock *sk, const struct topo_plan *plan,
		      const struct topo_host *h, int bridge_ifindex,
		      struct err *e)
{
	struct ns_init ni = {.e = e};
	struct link_veth v = {
		.name = h->ifname,
		.ifindex = h->ifindex,
		.master = bridge_ifindex,
		.group = TOPO_LINK_GROUP,
		.peer = TOPO_HOST_IFNAME,
		.peer_ifindex = TOPO_HOST_IFINDEX,
	};
	uint64_t delay = h->role == TOPO_ROLE_VM ? plan->delay_ns : 0;
	uint8_t mac[TOPO_MAC_LEN];
	char what[64];
	int ret;

	topo_mac(h->addr, mac);
	v.peer_mac = mac;

	ret = netns_create(h->netns, host_ns_init, &ni, &v.peer_nsfd);
	if (ret) {
		if (ni.sk)
			link_sock_close(ni.sk);
		if (ret == -EEXIST)
			return err_set(e, ret,
				       "namespace %s exists already: is a "
				       "testbed up? (faasnet-testbed down)",
				       h->netns);
		if (!e->msg[0])
			err_set(e, ret, "namespace %s: %s", h->netns,
				strerror(-ret));
		return ret;
	}
	ret = link_add_veth(sk, &v, e);
	if (ret)
		goto out;
	/* Egress of the host end is the host's download direction. */
	snprintf(what, sizeof(what), "%s (%s's download)", h->ifname, h->name);
	ret = shape(sk, plan, h->ifindex, h->rate_bps, h->queue_bytes, delay,
		    what, e);
	if (ret)
		goto out;

	snprintf(what, sizeof(what), "%s: lo", h->netns);
	ret = link_set_up(ni.sk, LOOPBACK_IFINDEX, what, e);
	if (ret)
		goto out;
	/* No IPv6 address inside either: the emulated network is IPv4 only,
	 * and link-local addresses would send solicitations onto the shaped
	 * links. */
	snprintf(what, sizeof(what), "%s: " TOPO_HOST_IFNAME, h->netns);
	ret = link_attach(ni.sk, TOPO_HOST_IFINDEX, 0, what, e);
	if (!ret)
		ret = link_add_addr4(ni.sk, TOPO_HOST_IFINDEX, h->addr,
				     TOPO_NET_PREFIX, what, e);
	if (ret)
		goto out;
	snprintf(what, sizeof(what), "%s: " TOPO_HOST_IFNAME " (upload)",
		 h->netns);
	ret = shape(ni.sk, plan, TOPO_HOST_IFINDEX, h->rate_bps, h->queue_bytes,
		    delay, what, e);
out:
	link_sock_close(ni.sk);
	close(v.peer_nsfd);
	return ret;
}

static int build_fabric(struct nl_sock *sk, const struct topo_plan *plan,
			struct err *e)
{
	uint64_t up = plan->uplink_rate_bps;
	uint8_t mac[TOPO_MAC_LEN];
	unsigned i;
	int ret;

	/* Fixed, or it would follow its ports' as they come and go. */
	topo_mac(TOPO_HARNESS_ADDR, mac);
	ret = link_add_bridge(sk, TOPO_CORE_BRIDGE, plan->core_ifindex,
			      TOPO_LINK_GROUP, mac, e);
	if (!ret)
		ret = link_add_addr4(sk, plan->core_ifindex, TOPO_HARNESS_ADDR,
				     TOPO_NET_PREFIX, TOPO_CORE_BRIDGE, e);
	for (i = 0; !ret && i < plan->nracks; i++) {
		const struct topo_rack *r = &plan->racks[i];
		struct link_veth v = {
			.name = r->uplink_r,
			.ifindex = r->uplink_r_ifindex,
			.master = r->bridge_ifindex,
			.group = TOPO_LINK_GROUP,
			.peer = r->uplink_c,
			.peer_ifindex = r->uplink_c_ifindex,
			.peer_nsfd = -1,
		};

		ret = link_add_bridge(sk, r->bridge, r->bridge_ifindex,
				      TOPO_LINK_GROUP, NULL, e);
		if (!ret)
			ret = link_add_veth(sk, &v, e);
		if (!ret)
			ret = link_attach(sk, r->uplink_c_ifindex,
					  plan->core_ifindex, r->uplink_c, e);
		if (!ret && up)
			ret = shape(sk, plan, r->uplink_r_ifindex, up,
				    plan->uplink_queue_bytes, 0, r->uplink_r,
				    e);
		if (!ret && up)
			ret = shape(sk, plan, r->uplink_c_ifindex, up,
				    plan->uplink_queue_bytes, 0, r->uplink_c,
				    e);
	}
	return ret;
}

/* ARP answered by the core bridge instead of flooded. Without this, a
 * host's first packet to each peer broadcasts a request that every bridge
 * floods to every port, through br_netfilter when the host has it on: at
 * fig17 (1,000 VMs in racks of 100) the first contacts of a burst cost
 * about 30 s of CPU and the run's first seconds were degraded (issue 11).
 * A data centre's virtual switch answers ARP itself in the same way.
 *
 * Every host's address and fixed MAC (topo_mac) are a permanent
 * neighbour of the core bridge, where the harness's address is (so the
 * harness never asks either), and every host's MAC has a static
 * forwarding entry there and on its own rack bridge. Every port but the
 * rack bridges' uplinks has proxy ARP on: a request from a VM is flooded
 * by its rack bridge out of the uplink only, and the core bridge answers
 * it from its tables; a request floods no host's port anywhere. A frame to
 * a MAC its rack bridge does not know leaves by the uplink too, and the
 * core knows them all. Linear in hosts: 3 entries and a flag per host. */
static int answer_arp(struct nl_sock *sk, const struct topo_plan *plan,
		      struct err *e)
{
	uint8_t mac[TOPO_MAC_LEN];
	unsigned i;
	int ret = 0;

	for (i = 0; !ret && i < plan->nhosts; i++) {
		const struct topo_host *h = &plan->hosts[i];
		int core_port = h->rack == TOPO_RACK_CORE
					? h->ifindex
					: plan->racks[h->rack].uplink_c_ifindex;

		topo_mac(h->addr, mac);
		ret = link_neigh_add(sk, plan->core_ifindex, h->addr, mac,
				     TOPO_CORE_BRIDGE, e);
		if (!ret)
			ret = link_fdb_add(sk, core_port, mac, TOPO_CORE_BRIDGE,
					   e);
		if (!ret && h->rack != TOPO_RACK_CORE)
			ret = link_fdb_add(sk, h->ifindex, mac,
					   plan->racks[h->rack].bridge, e);
		if (!ret)
			ret = link_set_proxy_arp(sk, h->ifindex, h->ifname, e);
	}
	for (i = 0; !ret && i < plan->nracks; i++)
		ret = link_set_proxy_arp(sk, plan->racks[i].uplink_c_ifindex,
					 plan->racks[i].uplink_c, e);
	return ret;
}

struct builder {
	const struct topo_plan *plan;
	const struct topo_build_opts *opts;
	pthread_mutex_t lock; /* guards everything below */
	unsigned next, done;
	int ret;
	struct err e;
};

static int builder_next(struct builder *b, unsigned *i)
{
	int more;

	pthread_mutex_lock(&b->lock);
	if (!b->ret && b->opts && b->opts->stop && *b->opts->stop)
		b->ret = err_set(&b->e, -EINTR,
				 "interrupted after %u of %u "
				 "hosts",
				 b->done, b->plan->nhosts);
	more = !b->ret && b->next < b->plan->nhosts;
	if (more)
		*i = b->next++;
	pthread_mutex_unlock(&b->lock);
	return more;
}

/* One builder thread: takes the next host until none are left or one
 * fails. Most of a host's cost is the kernel creating a namespace and
 * devices, and part of that runs outside the RTNL lock, so two threads on two
 * cores build a thousand hosts markedly faster than one. */
static void *builder_run(void *arg)
{
	struct builder *b = arg;
	struct nl_sock *sk;
	struct err e = {""};
	unsigned i;
	int ret = 0;

	sk = link_sock_open(&e);
	if (!sk)
		ret = -EIO;
	while (!ret && builder_next(b, &i)) {
		const struct topo_host *h = &b->plan->hosts[i];

		ret = build_host(
			sk, b->plan, h,
			h->rack == TOPO_RACK_CORE
				? b->plan->core_ifindex
				: b->plan->racks[h->rack].bridge_ifindex,
			&e);
		pthread_mutex_lock(&b->lock);
		if (!ret)
			b->done++;
		if (!ret && b->opts && b->opts->progress)
			b->opts->progress(b->opts->arg, b->done,
					  b->plan->nhosts);
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_lock(&b->lock);
	if (ret && !b->ret) {
		b->ret = ret;
		b->e = e;
	}
	pthread_mutex_unlock(&b->lock);
	link_sock_close(sk);
	return NULL;
}

/* Counts the links whose names start with TOPO_PREFIX. */
static int count_links(struct nl_sock *sk, unsigned *n, struct err *e)
{
	char **names;
	size_t len;
	int ret;

	ret = link_list(sk, TOPO_PREFIX, &names, &len, e);
	if (!ret) {
		*n = (unsigned)len;
		link_list_free(names, len);
	}
	return ret;
}

static int leftovers(struct nl_sock *sk, struct err *e)
{
	char **names = NULL;
	size_t nns = 0;
	unsigned nlinks = 0;
	int ret;

	ret = netns_list(TOPO_PREFIX, &names, &nns);
	if (ret)
		return err_set(e, ret, "%s: %s", NETNS_RUN_DIR, strerror(-ret));
	netns_list_free(names, nns);
	ret = count_links(sk, &nlinks, e);
	if (ret)
		return ret;
	if (nns || nlinks)
		return err_set(e, -EEXIST,
			       "%zu namespaces and %u links named " TOPO_PREFIX
			       "* are left from an earlier run: remove them "
			       "with `faasnet-testbed clean`",
			       nns, nlinks);
	return 0;
}

int topo_build(const struct topo_plan *plan, const struct topo_build_opts *opts,
	       struct err *e)
{
	struct builder b = {.plan = plan, .opts = opts};
	pthread_t tid[TOPO_BUILD_THREADS];
	struct nl_sock *sk = NULL;
	unsigned i, nthreads = 0;
	int ret;

	e->msg[0] = '\0';
	sk = link_sock_open(e);
	if (!sk)
		return -EIO;
	/* Anything of ours already there belongs to an earlier run: refuse,
	 * and touch nothing, rather than build on it or remove it. */
	ret = leftovers(sk, e);
	if (ret) {
		link_sock_close(sk);
		return ret;
	}
	hostlimits_raise_fds();
	ret = netns_prepare();
	if (ret)
		err_set(e, ret, "%s: cannot prepare it: %s", NETNS_RUN_DIR,
			strerror(-ret));
	if (!ret)
		ret = hostlimits_raise_neigh(plan->nhosts, e);
	if (!ret)
		ret = build_fabric(sk, plan, e);
	if (ret)
		goto out;

	pthread_mutex_init(&b.lock, NULL);
	for (i = 0; i < TOPO_BUILD_THREADS && i < plan->nhosts; i++) {
		if (pthread_create(&tid[i], NULL, builder_run, &b))
			break;
		nthreads++;
	}
	if (!nthreads)
		builder_run(&b); /* no thread to be had: build on this one */
	for (i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&b.lock);
	ret = b.ret;
	if (ret)
		*e = b.e;
	else
		ret = answer_arp(sk, plan, e);
out:
	link_sock_close(sk);
	if (ret) {
		struct err ce;

		topo_clean(NULL, &ce); /* the first error is the one to show */
	}
	return ret;
}

int topo_clean(struct topo_clean_stats *st, struct err *e)
{
	struct topo_clean_stats local = {0};
	struct nl_sock *sk;
	char **names = NULL;
	size_t n = 0, i;
	unsigned before = 0, after = 0;
	struct err le;
	int ret, first = 0;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	e->msg[0] = '\0';

	/* Links first, all in one request by their group: the kernel takes
	 * down every veth (and so its end inside a namespace), bridge and
	 * uplink in one batch, which takes a fraction of a second where
	 * deleting them one by one, or leaving it to namespace teardown,
	 * takes seconds for a thousand hosts. Without a socket, the rest
	 * still goes. */
	sk = link_sock_open(&le);
	if (!sk)
		first = err_set(e, -EIO, "%s", le.msg);
	if (sk && !count_links(sk, &before, &le))
		ret = link_del_group(sk, TOPO_LINK_GROUP, &le);
	else
		ret = sk ? -EIO : 0;
	if (ret && !first)
		first = err_set(e, ret, "%s", le.msg);

	ret = netns_list(TOPO_PREFIX, &names, &n);
	if (ret && !first)
		first = err_set(e, ret, "%s: %s", NETNS_RUN_DIR,
				strerror(-ret));
	for (i = 0; i < n; i++) {
		ret = netns_delete(names[i]);
		if (!ret)
			st->netns++;
		else if (!first)
			first = err_set(e, ret, "namespace %s: %s", names[i],
					strerror(-ret));
	}
	netns_list_free(names, n);
	ret = netns_release();
	if (ret && !first)
		first = err_set(e, ret, "%s: cannot unmount: %s", NETNS_RUN_DIR,
				strerror(-ret));

	/* Then anything named like ours that carries no group: made by hand,
	 * or by an older version. */
	if (sk && !link_list(sk, TOPO_PREFIX, &names, &n, &le)) {
		for (i = 0; i < n; i++) {
			ret = link_del(sk, names[i], &le);
			/* Deleting one end of a veth takes the other. */
			if (ret && ret != -ENODEV && !first)
				first = err_set(e, ret, "%s", le.msg);
		}
		link_list_free(names, n);
	}
	if (sk && !count_links(sk, &after, &le))
		st->links = before > after ? before - after : 0;
	link_sock_close(sk);

	ret = hostlimits_restore_neigh(&le);
	if (ret && !first)
		first = err_set(e, ret, "%s", le.msg);
	topo_state_clear();
	rmdir(TOPO_STATE_DIR); /* only when empty: nothing of ours is left */
	return first;
}

int topo_state_save(const struct topo_spec *spec, struct err *e)
{
	FILE *f;

	if (mkdir(TOPO_STATE_DIR, 0755) && errno != EEXIST)
		return err_set(e, -errno, "%s: %s", TOPO_STATE_DIR,
			       strerror(errno));
	f = fopen(STATE_TOPOLOGY, "we");
	if (!f)
		return err_set(e, -errno, "%s: %s", STATE_TOPOLOGY,
			       strerror(errno));
	/* Exact units (bit, ns), so that reading it back gives this spec. */
	fprintf(f,
		"# written by faasnet-testbed up from %s; read by down\n"
		"vms: %u\nrack_size: %u\nvm_link: { rate: %" PRIu64 "bit }\n"
		"registry_link: { rate: %" PRIu64 "bit }\n",
		spec->source, spec->vms, spec->rack_size, spec->vm_rate_bps,
		spec->registry_rate_bps);
	if (spec->uplink_rate_bps)
		fprintf(f, "rack_uplink: { rate: %" PRIu64 "bit }\n",
			spec->uplink_rate_bps);
	if (spec->delay_ns)
		fprintf(f, "delay: %" PRIu64 "ns\n", spec->delay_ns);
	if (fclose(f))
		return err_set(e, -errno, "%s: %s", STATE_TOPOLOGY,
			       strerror(errno));
	return 0;
}

int topo_state_load(struct topo_spec *spec, struct err *e)
{
	if (access(STATE_TOPOLOGY, F_OK))
		return -ENOENT;
	return topo_config_load(STATE_TOPOLOGY, spec, e);
}

int topo_state_clear(void)
{
	if (unlink(STATE_TOPOLOGY) && errno != ENOENT)
		return -errno;
	return 0;
}

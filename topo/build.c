#include <errno.h>
#include <fcntl.h>
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
#include "units.h"

#define STATE_TOPOLOGY TOPO_STATE_DIR "/topology.yaml"
#define LOOPBACK_IFINDEX 1
#define VETH_MTU 1500
/* How long topo_clean waits for the kernel's namespace cleanup to release
 * the host ends of the veth links before deleting them itself. */
#define CLEAN_WAIT_MS 3000
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

static int shape(struct nl_sock *sk, int ifindex, uint64_t rate,
		 uint64_t delay_ns, const char *what, struct err *e)
{
	return link_shape_htb(sk, ifindex, rate, topo_burst_bytes(rate, VETH_MTU),
			      delay_ns, what, e);
}

static int build_host(struct nl_sock *sk, const struct topo_plan *plan,
		      const struct topo_host *h, int bridge_ifindex,
		      struct err *e)
{
	struct ns_init ni = { .e = e };
	uint64_t delay = h->role == TOPO_ROLE_VM ? plan->spec.delay_ns : 0;
	char what[64];
	int nsfd = -1, host_if, eth0;
	int ret;

	ret = netns_create(h->netns, host_ns_init, &ni, &nsfd);
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
	ret = link_add_veth(sk, h->ifname, bridge_ifindex, TOPO_HOST_IFNAME,
			    nsfd, &host_if, e);
	if (ret)
		goto out;
	/* Egress of the host end is the host's download direction. */
	snprintf(what, sizeof(what), "%s (%s's download)", h->ifname, h->name);
	ret = shape(sk, host_if, h->rate_bps, delay, what, e);
	if (ret)
		goto out;

	snprintf(what, sizeof(what), "%s: lo", h->netns);
	ret = link_set_up(ni.sk, LOOPBACK_IFINDEX, what, e);
	if (ret)
		goto out;
	/* No IPv6 address either inside: the emulated network is IPv4 only,
	 * and link-local addresses would send solicitations onto the shaped
	 * links. */
	ret = link_attach(ni.sk, TOPO_HOST_IFNAME, 0, &eth0, e);
	if (ret)
		goto out;
	snprintf(what, sizeof(what), "%s: " TOPO_HOST_IFNAME, h->netns);
	ret = link_add_addr4(ni.sk, eth0, h->addr, TOPO_NET_PREFIX, what, e);
	if (ret)
		goto out;
	snprintf(what, sizeof(what), "%s: " TOPO_HOST_IFNAME " (upload)",
		 h->netns);
	ret = shape(ni.sk, eth0, h->rate_bps, delay, what, e);
out:
	link_sock_close(ni.sk);
	close(nsfd);
	return ret;
}

static int build_fabric(struct nl_sock *sk, const struct topo_plan *plan,
			int *rack_if, int *core_if, struct err *e)
{
	const struct topo_spec *s = &plan->spec;
	int up_r, up_c;
	unsigned i;
	int ret;

	ret = link_add_bridge(sk, TOPO_CORE_BRIDGE, e);
	if (!ret)
		ret = link_ifindex(sk, TOPO_CORE_BRIDGE, core_if, e);
	for (i = 0; !ret && i < plan->nracks; i++) {
		const struct topo_rack *r = &plan->racks[i];

		ret = link_add_bridge(sk, r->bridge, e);
		if (!ret)
			ret = link_ifindex(sk, r->bridge, &rack_if[i], e);
		if (!ret)
			ret = link_add_veth(sk, r->uplink_r, rack_if[i],
					    r->uplink_c, -1, &up_r, e);
		if (!ret)
			ret = link_attach(sk, r->uplink_c, *core_if, &up_c, e);
		if (!ret && s->uplink_rate_bps)
			ret = shape(sk, up_r, s->uplink_rate_bps, 0, r->uplink_r,
				    e);
		if (!ret && s->uplink_rate_bps)
			ret = shape(sk, up_c, s->uplink_rate_bps, 0, r->uplink_c,
				    e);
	}
	return ret;
}

struct builder {
	const struct topo_plan *plan;
	const struct topo_build_opts *opts;
	const int *rack_if;
	int core_if;
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
		b->ret = err_set(&b->e, -EINTR, "interrupted after %u of %u "
				 "hosts", b->done, b->plan->nhosts);
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
	struct err e = { "" };
	unsigned i;
	int ret = 0;

	sk = link_sock_open(&e);
	if (!sk)
		ret = -EIO;
	while (!ret && builder_next(b, &i)) {
		const struct topo_host *h = &b->plan->hosts[i];

		ret = build_host(sk, b->plan, h,
				 h->rack == TOPO_RACK_CORE ? b->core_if
							   : b->rack_if[h->rack],
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

int topo_build(const struct topo_plan *plan,
	       const struct topo_build_opts *opts, struct err *e)
{
	struct builder b = { .plan = plan, .opts = opts };
	pthread_t tid[TOPO_BUILD_THREADS];
	struct nl_sock *sk = NULL;
	int *rack_if = NULL;
	unsigned i, nthreads = 0;
	int ret;

	e->msg[0] = '\0';
	limits_raise_fds();
	ret = netns_prepare();
	if (ret) {
		err_set(e, ret, "%s: cannot prepare it: %s", NETNS_RUN_DIR,
			strerror(-ret));
		return ret;
	}
	ret = limits_raise_neigh(plan->nhosts, e);
	if (ret)
		return ret;
	sk = link_sock_open(e);
	rack_if = calloc(plan->nracks, sizeof(*rack_if));
	if (!sk || !rack_if) {
		ret = sk ? err_set(e, -ENOMEM, "out of memory") : -EIO;
		goto out;
	}
	ret = build_fabric(sk, plan, rack_if, &b.core_if, e);
	if (ret)
		goto out;

	b.rack_if = rack_if;
	pthread_mutex_init(&b.lock, NULL);
	unsigned want = getenv("FNET_THREADS") ? (unsigned)atoi(getenv("FNET_THREADS")) : TOPO_BUILD_THREADS;
	for (i = 0; i < want && i < plan->nhosts; i++) {
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
out:
	free(rack_if);
	link_sock_close(sk);
	if (ret) {
		struct err ce;

		topo_clean(NULL, &ce); /* the first error is the one to show */
	}
	return ret;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int topo_clean(struct topo_clean_stats *st, struct err *e)
{
	struct topo_clean_stats local = { 0 };
	struct nl_sock *sk = NULL;
	char **names = NULL;
	size_t n = 0, i;
	long deadline;
	int ret, first = 0;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	e->msg[0] = '\0';

	/* Namespaces first: the kernel then destroys every veth with an end
	 * inside one, in one batch, faster than deleting them one by one. */
	ret = netns_list(TOPO_PREFIX, &names, &n);
	if (ret)
		return err_set(e, ret, "%s: %s", NETNS_RUN_DIR, strerror(-ret));
	for (i = 0; i < n; i++) {
		ret = netns_delete(names[i]);
		if (!ret)
			st->netns++;
		else if (!first)
			first = err_set(e, ret, "namespace %s: %s", names[i],
					strerror(-ret));
	}
	netns_list_free(names, n);

	sk = link_sock_open(e);
	if (!sk)
		return -EIO;
	/* Then the links of the initial namespace. Host ends of VM cables go
	 * away on their own as the namespaces die; wait a little for that,
	 * then delete whatever is left (bridges, rack uplinks, and veths
	 * whose namespace something else still holds). */
	deadline = now_ms() + CLEAN_WAIT_MS;
	for (;;) {
		struct err le;
		int ours = 0;

		ret = link_list(sk, TOPO_PREFIX, &names, &n, &le);
		if (ret) {
			if (!first)
				first = err_set(e, ret, "%s", le.msg);
			break;
		}
		for (i = 0; i < n; i++)
			if (!strncmp(names[i], TOPO_PREFIX "vm", 7) ||
			    !strcmp(names[i], TOPO_PREFIX "registry") ||
			    !strcmp(names[i], TOPO_PREFIX "manager"))
				ours++;
		if (ours && now_ms() < deadline) {
			link_list_free(names, n);
			usleep(20000);
			continue;
		}
		for (i = 0; i < n; i++) {
			ret = link_del(sk, names[i], &le);
			/* Deleting one end of a veth takes the other. */
			if (!ret)
				st->links++;
			else if (ret != -ENODEV && !first)
				first = err_set(e, ret, "%s", le.msg);
		}
		link_list_free(names, n);
		break;
	}
	link_sock_close(sk);

	ret = limits_restore_neigh(e);
	if (ret && !first)
		first = ret;
	topo_state_clear();
	return first;
}

int topo_state_save(const struct topo_spec *spec, struct err *e)
{
	char rate[32], up[32], reg[32];
	FILE *f;

	if (mkdir(TOPO_STATE_DIR, 0755) && errno != EEXIST)
		return err_set(e, -errno, "%s: %s", TOPO_STATE_DIR,
			       strerror(errno));
	f = fopen(STATE_TOPOLOGY, "we");
	if (!f)
		return err_set(e, -errno, "%s: %s", STATE_TOPOLOGY,
			       strerror(errno));
	fprintf(f,
		"# written by faasnet-testbed up from %s; read by down\n"
		"vms: %u\nrack_size: %u\nvm_link: { rate: %s }\n"
		"registry_link: { rate: %s }\n",
		spec->source, spec->vms, spec->rack_size,
		units_format_rate(rate, sizeof(rate), spec->vm_rate_bps),
		units_format_rate(reg, sizeof(reg), spec->registry_rate_bps));
	if (spec->uplink_rate_bps)
		fprintf(f, "rack_uplink: { rate: %s }\n",
			units_format_rate(up, sizeof(up),
					  spec->uplink_rate_bps));
	if (spec->delay_ns)
		fprintf(f, "delay: %lluus\n",
			(unsigned long long)(spec->delay_ns / 1000));
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

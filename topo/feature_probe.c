#include <errno.h>
#include <fcntl.h>
#include <linux/pkt_sched.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include "feature_probe.h"
#include "link.h"

static const char *const names[TOPO_F_COUNT] = {
	[TOPO_F_VETH] = "veth",	    [TOPO_F_BRIDGE] = "bridge",
	[TOPO_F_HTB] = "htb",	    [TOPO_F_TBF] = "tbf",
	[TOPO_F_NETEM] = "netem",   [TOPO_F_INGRESS] = "ingress",
	[TOPO_F_CLSACT] = "clsact", [TOPO_F_IFB] = "ifb",
	[TOPO_F_VXLAN] = "vxlan",
};

const char *topo_feature_name(enum topo_feature f)
{
	return f < TOPO_F_COUNT ? names[f] : "?";
}

static int try_link(struct nl_sock *sk, const char *type, const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int ret;

	if (!l)
		return 0;
	rtnl_link_set_name(l, name);
	ret = rtnl_link_set_type(l, type);
	if (!ret && !strcmp(type, "vxlan")) {
		rtnl_link_vxlan_set_id(l, 42);
		rtnl_link_vxlan_set_port(l, 4789);
	}
	if (!ret)
		ret = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(l);
	return ret >= 0;
}

/* Adds the qdisc kind to ifindex and removes it again. */
static int try_qdisc(struct nl_sock *sk, int ifindex, const char *kind)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int ingress = !strcmp(kind, "ingress") || !strcmp(kind, "clsact");
	int ret;

	if (!q)
		return 0;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), ingress ? TC_H_INGRESS : TC_H_ROOT);
	/* ffff: is the handle ingress and clsact take (spelled out: libnl's
	 * TC_HANDLE would shift 0xffff into an int's sign bit). */
	rtnl_tc_set_handle(TC_CAST(q), ingress ? 0xffff0000u : TC_HANDLE(1, 0));
	/* libnl knows htb, tbf and netem; for the others the kind alone is
	 * a valid request. */
	ret = rtnl_tc_set_kind(TC_CAST(q), kind);
	if (!ret && !strcmp(kind, "tbf")) {
		rtnl_qdisc_tbf_set_limit(q, 100000);
		rtnl_qdisc_tbf_set_rate(q, 1000000, 10000, 0);
	} else if (!ret && !strcmp(kind, "netem")) {
		rtnl_netem_set_delay(q, 1000);
	} else if (!ret && !strcmp(kind, "htb")) {
		rtnl_htb_set_defcls(q, TC_HANDLE(1, 1));
	}
	if (!ret)
		ret = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
	if (ret >= 0)
		rtnl_qdisc_delete(sk, q);
	rtnl_qdisc_put(q);
	return ret >= 0;
}

/* Runs in the throwaway namespace. */
static int probe_here(struct topo_features *f, struct err *e)
{
	static const struct {
		enum topo_feature f;
		const char *kind;
	} qdiscs[] = {
		{TOPO_F_HTB, "htb"},	   {TOPO_F_TBF, "tbf"},
		{TOPO_F_NETEM, "netem"},   {TOPO_F_INGRESS, "ingress"},
		{TOPO_F_CLSACT, "clsact"},
	};
	struct nl_sock *sk;
	struct err ie;
	int ifindex = 0;
	size_t i;

	sk = link_sock_open(e);
	if (!sk)
		return -EIO;
	struct link_veth v = {.name = "p0", .peer = "p1", .peer_nsfd = -1};

	f->have[TOPO_F_VETH] = !link_add_veth(sk, &v, &ie) &&
			       !link_ifindex(sk, "p0", &ifindex, &ie);
	f->have[TOPO_F_BRIDGE] = try_link(sk, "bridge", "br0");
	f->have[TOPO_F_IFB] = try_link(sk, "ifb", "ifb9");
	f->have[TOPO_F_VXLAN] = try_link(sk, "vxlan", "vx0");
	for (i = 0;
	     f->have[TOPO_F_VETH] && i < sizeof(qdiscs) / sizeof(*qdiscs); i++)
		f->have[qdiscs[i].f] = try_qdisc(sk, ifindex, qdiscs[i].kind);
	link_sock_close(sk);
	return 0;
}

int topo_features_probe(struct topo_features *f, struct err *e)
{
	int self, ret;

	memset(f, 0, sizeof(*f));
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return err_set(e, -errno, "cannot open own namespace: %s",
			       strerror(errno));
	/* An unnamed namespace: it and everything made in it vanish when
	 * this thread leaves it. */
	if (unshare(CLONE_NEWNET)) {
		ret = err_set(e, -errno, "cannot make a network namespace: %s",
			      strerror(errno));
		goto out;
	}
	ret = probe_here(f, e);
	if (setns(self, CLONE_NEWNET) && !ret)
		ret = err_set(e, -errno, "cannot return to own namespace: %s",
			      strerror(errno));
out:
	close(self);
	return ret;
}

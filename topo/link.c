#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/class.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/fifo.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/tc.h>

#include "link.h"

/* Dumping ~2,000 links overflows libnl's default 32 KiB receive buffer. */
#define LINK_SOCK_RCVBUF (8 << 20)
/* The kernel sends dump parts of at most 32 KiB; one must fit a read. */
#define LINK_MSG_BUF (64 << 10)
/* One class per qdisc: the quantum only matters between sibling classes,
 * and HTB complains in the kernel log when rate/r2q makes it huge. */
#define LINK_HTB_QUANTUM 60000
#ifndef IN6_ADDR_GEN_MODE_NONE
#define IN6_ADDR_GEN_MODE_NONE 1
#endif

int link_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
	case NLE_NOACCESS:
		return -EPERM;
	case NLE_NODEV:
	case NLE_OBJ_NOTFOUND:
		return -ENODEV;
	case NLE_OPNOTSUPP:
	case NLE_AF_NOSUPPORT:
		return -EOPNOTSUPP;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_INVAL:
	case NLE_MSG_TOOSHORT:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static int nl_fail(struct err *e, int nlerr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records "<what fmt says>: <libnl's reason>" and returns the errno. */
static int nl_fail(struct err *e, int nlerr, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(e, link_errno(nlerr), "%s: %s", msg, nl_geterror(nlerr));
}

struct nl_sock *link_sock_open(struct err *e)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk) {
		err_set(e, -ENOMEM, "netlink: out of memory");
		return NULL;
	}
	ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret < 0) {
		nl_fail(e, ret, "netlink: %s", "cannot open a route socket");
		nl_socket_free(sk);
		return NULL;
	}
	nl_socket_set_buffer_size(sk, LINK_SOCK_RCVBUF, 0);
	/* One recvmsg per reply instead of a peek and a read: replies here
	 * are acks or dumps, which fit the buffer. */
	nl_socket_disable_msg_peek(sk);
	nl_socket_set_msg_buf_size(sk, LINK_MSG_BUF);
	return sk;
}

void link_sock_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

/* An RTM_SETLINK request for ifindex (family AF_UNSPEC for the link,
 * AF_BRIDGE for its bridge port), flags changed as given; the caller adds
 * the attributes. NULL when out of memory. */
static struct nl_msg *setlink_msg(uint8_t family, int ifindex, unsigned flags,
				  unsigned change)
{
	struct ifinfomsg ifi = {
		.ifi_family = family,
		.ifi_index = ifindex,
		.ifi_flags = flags,
		.ifi_change = change,
	};
	struct nl_msg *m = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST);

	if (m && nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

/* RTM_SETLINK by ifindex: either turn IPv6 address generation off or change
 * IFF_UP. They are two messages because the kernel applies flags before
 * IFLA_AF_SPEC within one, and an interface brought up with generation on gets
 * a link-local address at once. */
static int setlink(struct nl_sock *sk, int ifindex, int v6off, int up,
		   int master)
{
	struct nlattr *af, *in6;
	struct nl_msg *m;
	int ret = -NLE_NOMEM;

	m = setlink_msg(AF_UNSPEC, ifindex, up ? IFF_UP : 0, up ? IFF_UP : 0);
	if (!m)
		return ret;
	if (v6off) {
		af = nla_nest_start(m, IFLA_AF_SPEC);
		in6 = af ? nla_nest_start(m, AF_INET6) : NULL;
		if (!in6 || nla_put_u8(m, IFLA_INET6_ADDR_GEN_MODE,
				       IN6_ADDR_GEN_MODE_NONE) < 0)
			goto out;
		nla_nest_end(m, in6);
		nla_nest_end(m, af);
	}
	if (master && nla_put_u32(m, IFLA_MASTER, (uint32_t)master) < 0)
		goto out;
	ret = nl_send_sync(sk, m);
	m = NULL; /* nl_send_sync frees it */
	/* A kernel without IPv6 has no addresses to generate. */
	if (v6off && ret == -NLE_AF_NOSUPPORT)
		ret = 0;
out:
	nlmsg_free(m);
	return ret;
}

int link_set_gso_max_segs(struct nl_sock *sk, int ifindex, uint32_t segs,
			  const char *what, struct err *e)
{
	struct nl_msg *m;
	int ret = -NLE_NOMEM;

	m = setlink_msg(AF_UNSPEC, ifindex, 0, 0);
	if (!m)
		goto out;
	if (nla_put_u32(m, IFLA_GSO_MAX_SEGS, segs) < 0) {
		nlmsg_free(m);
		goto out;
	}
	ret = nl_send_sync(sk, m); /* frees m */
out:
	return ret < 0 ? nl_fail(e, ret,
				 "%s: cannot cap its super-frames at %u "
				 "segments",
				 what, segs)
		       : 0;
}

int link_set_up(struct nl_sock *sk, int ifindex, const char *what,
		struct err *e)
{
	int ret = setlink(sk, ifindex, 0, 1, 0);

	return ret < 0 ? nl_fail(e, ret, "%s: cannot bring it up", what) : 0;
}

int link_set_down(struct nl_sock *sk, int ifindex, const char *what,
		  struct err *e)
{
	struct nl_msg *m = setlink_msg(AF_UNSPEC, ifindex, 0, IFF_UP);
	int ret = m ? nl_send_sync(sk, m) : -NLE_NOMEM;

	return ret < 0 ? nl_fail(e, ret, "%s: cannot take it down", what) : 0;
}

int link_ifindex(struct nl_sock *sk, const char *name, int *ifindex,
		 struct err *e)
{
	struct rtnl_link *l = NULL;
	int ret;

	ret = rtnl_link_get_kernel(sk, 0, name, &l);
	if (ret < 0)
		return nl_fail(e, ret, "link %s", name);
	*ifindex = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return 0;
}

int link_attach(struct nl_sock *sk, int ifindex, int master, const char *what,
		struct err *e)
{
	int ret;

	ret = setlink(sk, ifindex, 1, 0, master);
	if (ret < 0)
		return nl_fail(e, ret, "%s: cannot attach it", what);
	ret = setlink(sk, ifindex, 0, 1, 0);
	if (ret < 0)
		return nl_fail(e, ret, "%s: cannot bring it up", what);
	return 0;
}

/* Sets l's Ethernet address; libnl copies it. */
static int set_mac(struct rtnl_link *l, const uint8_t *mac)
{
	struct nl_addr *a = nl_addr_build(AF_LLC, mac, LINK_MAC_LEN);

	if (!a)
		return -NLE_NOMEM;
	rtnl_link_set_addr(l, a);
	nl_addr_put(a);
	return 0;
}

int link_add_bridge(struct nl_sock *sk, const char *name, int ifindex,
		    uint32_t group, const uint8_t *mac, struct err *e)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int ret;

	if (!l)
		return err_set(e, -ENOMEM, "bridge %s: out of memory", name);
	rtnl_link_set_name(l, name);
	rtnl_link_set_group(l, group);
	if (ifindex)
		rtnl_link_set_ifindex(l, ifindex);
	ret = mac ? set_mac(l, mac) : 0;
	if (!ret)
		ret = rtnl_link_set_type(l, "bridge");
	if (!ret)
		ret = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(l);
	if (ret < 0)
		return nl_fail(e, ret, "bridge %s: cannot create it", name);
	if (!ifindex) {
		ret = link_ifindex(sk, name, &ifindex, e);
		if (ret)
			return ret;
	}
	return link_attach(sk, ifindex, 0, name, e);
}

int link_add_veth(struct nl_sock *sk, const struct link_veth *v, struct err *e)
{
	struct rtnl_link *l, *p;
	int ifindex = v->ifindex;
	int ret;

	l = rtnl_link_veth_alloc();
	if (!l)
		return err_set(e, -ENOMEM, "veth %s: out of memory", v->name);
	p = rtnl_link_veth_get_peer(l);
	rtnl_link_set_name(l, v->name);
	rtnl_link_set_group(l, v->group);
	if (v->ifindex)
		rtnl_link_set_ifindex(l, v->ifindex);
	rtnl_link_set_name(p, v->peer);
	rtnl_link_set_group(p, v->group);
	if (v->peer_ifindex)
		rtnl_link_set_ifindex(p, v->peer_ifindex);
	if (v->peer_mac && set_mac(p, v->peer_mac)) {
		rtnl_link_put(p);
		rtnl_link_veth_release(l);
		return err_set(e, -ENOMEM, "veth %s: out of memory", v->name);
	}
	/* The peer cannot be made up in the same request: veth refuses to
	 * open an end before its other end exists (ENOTCONN). */
	if (v->peer_nsfd >= 0)
		rtnl_link_set_ns_fd(p, v->peer_nsfd);
	ret = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(p);
	rtnl_link_veth_release(l);
	if (ret < 0)
		return nl_fail(e, ret, "veth %s: cannot create it", v->name);
	if (!ifindex) {
		ret = link_ifindex(sk, v->name, &ifindex, e);
		if (ret)
			return ret;
	}
	if (v->peer_nsfd < 0)
		return link_attach(sk, ifindex, v->master, v->name, e);
	/* The peer, in its namespace, is still down, so this end comes up
	 * without a carrier and IPv6 waits for one: generation can be turned
	 * off, the end enslaved and brought up in one request (a round trip
	 * saved per host) before the peer's up gives it a carrier. */
	ret = setlink(sk, ifindex, 1, 1, v->master);
	if (ret < 0)
		return nl_fail(e, ret, "%s: cannot attach it", v->name);
	return 0;
}

/* RTM_NEWNEIGH: a neighbour (family AF_INET, dst) or a bridge forwarding
 * entry (AF_BRIDGE, NTF_MASTER), created or replaced. */
static int newneigh(struct nl_sock *sk, uint8_t family, int ifindex,
		    uint16_t state, uint8_t flags, const uint32_t *dst_be,
		    const uint8_t *mac)
{
	struct ndmsg nd = {
		.ndm_family = family,
		.ndm_ifindex = ifindex,
		.ndm_state = state,
		.ndm_flags = flags,
	};
	struct nl_msg *m;

	m = nlmsg_alloc_simple(RTM_NEWNEIGH,
			       NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE);
	if (!m)
		return -NLE_NOMEM;
	if (nlmsg_append(m, &nd, sizeof(nd), NLMSG_ALIGNTO) < 0 ||
	    (dst_be && nla_put(m, NDA_DST, sizeof(*dst_be), dst_be) < 0) ||
	    nla_put(m, NDA_LLADDR, LINK_MAC_LEN, mac) < 0) {
		nlmsg_free(m);
		return -NLE_NOMEM;
	}
	return nl_send_sync(sk, m); /* frees m */
}

static const char *mac_str(const uint8_t *mac, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

int link_neigh_add(struct nl_sock *sk, int ifindex, uint32_t addr,
		   const uint8_t *mac, const char *what, struct err *e)
{
	uint32_t be = htonl(addr);
	char m[18];
	int ret = newneigh(sk, AF_INET, ifindex, NUD_PERMANENT, 0, &be, mac);

	return ret < 0 ? nl_fail(e, ret, "%s: cannot add neighbour %u.%u.%u.%u "
					 "at %s",
				 what, addr >> 24, (addr >> 16) & 0xff,
				 (addr >> 8) & 0xff, addr & 0xff,
				 mac_str(mac, m, sizeof(m)))
		       : 0;
}

int link_fdb_add(struct nl_sock *sk, int port, const uint8_t *mac,
		 const char *what, struct err *e)
{
	char m[18];
	/* NUD_NOARP is "static" to the bridge; NUD_PERMANENT would make the
	 * address the bridge's own ("local"). Sticky: a static entry still
	 * moves to whichever port last sent from the address, and a proxy
	 * ARP reply carries the answered host's MAC as its source. */
	int ret = newneigh(sk, AF_BRIDGE, port, NUD_NOARP,
			   NTF_MASTER | NTF_STICKY, NULL, mac);

	return ret < 0 ? nl_fail(e, ret, "%s: cannot add forwarding entry %s",
				 what, mac_str(mac, m, sizeof(m)))
		       : 0;
}

int link_set_proxy_arp(struct nl_sock *sk, int port, const char *what,
		       struct err *e)
{
	struct nlattr *pi;
	struct nl_msg *m;
	int ret = -NLE_NOMEM;

	m = setlink_msg(AF_BRIDGE, port, 0, 0);
	if (!m)
		goto out;
	if (!(pi = nla_nest_start(m, IFLA_PROTINFO))) {
		nlmsg_free(m);
		goto out;
	}
	/* Without the flag the bridge reads IFLA_PROTINFO as a bare port
	 * state (the old RSTP daemons' form). */
	pi->nla_type |= NLA_F_NESTED;
	if (nla_put_u8(m, IFLA_BRPORT_PROXYARP, 1) < 0) {
		nlmsg_free(m);
		goto out;
	}
	nla_nest_end(m, pi);
	ret = nl_send_sync(sk, m); /* frees m */
out:
	return ret < 0 ? nl_fail(e, ret, "%s: cannot turn proxy ARP on", what)
		       : 0;
}

int link_add_addr4(struct nl_sock *sk, int ifindex, uint32_t addr,
		   int prefix_len, const char *what, struct err *e)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local;
	uint32_t be = htonl(addr);
	int ret;

	if (!a)
		return err_set(e, -ENOMEM, "%s: out of memory", what);
	local = nl_addr_build(AF_INET, &be, sizeof(be));
	if (!local) {
		rtnl_addr_put(a);
		return err_set(e, -ENOMEM, "%s: out of memory", what);
	}
	nl_addr_set_prefixlen(local, prefix_len);
	rtnl_addr_set_ifindex(a, ifindex);
	ret = rtnl_addr_set_local(a, local);
	if (!ret)
		ret = rtnl_addr_add(sk, a, NLM_F_CREATE | NLM_F_EXCL);
	nl_addr_put(local);
	rtnl_addr_put(a);
	return ret < 0 ? nl_fail(e, ret, "%s: cannot add its address", what)
		       : 0;
}

/* A byte-limited FIFO under the HTB class. Bytes, not packets: 1000
 * frames wait 0.6 s at 20 Mbit/s, and a VM's requests and ACKs would wait
 * behind the blocks it sends, which the paper's gigabit VMs never saw. */
static int add_queue(struct nl_sock *sk, int ifindex, uint32_t limit)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int ret;

	if (!q)
		return -NLE_NOMEM;
	if (limit > INT32_MAX)
		limit = INT32_MAX;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_HANDLE(1, 1));
	rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(10, 0));
	ret = rtnl_tc_set_kind(TC_CAST(q), "bfifo");
	if (!ret) {
		rtnl_qdisc_fifo_set_limit(q, (int)limit);
		ret = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
	}
	rtnl_qdisc_put(q);
	return ret;
}

static int add_netem(struct nl_sock *sk, int ifindex, uint64_t delay_ns)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int ret;

	if (!q)
		return -NLE_NOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_HANDLE(1, 1));
	rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(10, 0));
	ret = rtnl_tc_set_kind(TC_CAST(q), "netem");
	if (!ret) {
		rtnl_netem_set_delay(q, (int)(delay_ns / 1000));
		/* netem's default queue of 1000 packets is too short for a
		 * delayed gigabit link; keep a bandwidth-delay product. */
		rtnl_netem_set_limit(q, 100000);
		ret = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
	}
	rtnl_qdisc_put(q);
	return ret;
}

/* HTB class 1:1 of ifindex at rate_bps (rate = ceil) with the given
 * bucket, added (NLM_F_CREATE | NLM_F_EXCL) or changed in place
 * (NLM_F_REPLACE).
 * A libnl error. */
static int htb_class(struct nl_sock *sk, int ifindex, uint64_t rate_bps,
		     uint32_t burst_bytes, int flags)
{
	struct rtnl_class *c = rtnl_class_alloc();
	uint64_t bytes = rate_bps / 8;
	int ret;

	if (!c)
		return -NLE_NOMEM;
	rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
	rtnl_tc_set_parent(TC_CAST(c), TC_HANDLE(1, 0));
	rtnl_tc_set_handle(TC_CAST(c), TC_HANDLE(1, 1));
	ret = rtnl_tc_set_kind(TC_CAST(c), "htb");
	if (!ret) {
		rtnl_htb_set_rate64(c, bytes);
		rtnl_htb_set_ceil64(c, bytes);
		rtnl_htb_set_rbuffer(c, burst_bytes);
		rtnl_htb_set_cbuffer(c, burst_bytes);
		rtnl_htb_set_quantum(c, LINK_HTB_QUANTUM);
		ret = rtnl_class_add(sk, c, flags);
	}
	rtnl_class_put(c);
	return ret;
}

int link_shape_htb(struct nl_sock *sk, int ifindex, uint64_t rate_bps,
		   uint32_t burst_bytes, uint32_t queue_bytes,
		   uint64_t delay_ns, const char *what, struct err *e)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int ret = -NLE_NOMEM;

	if (!q)
		goto out;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(1, 0));
	ret = rtnl_tc_set_kind(TC_CAST(q), "htb");
	if (ret)
		goto out;
	rtnl_htb_set_defcls(q, TC_HANDLE(1, 1));
	ret = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
	if (ret < 0)
		goto out;
	ret = htb_class(sk, ifindex, rate_bps, burst_bytes,
			NLM_F_CREATE | NLM_F_EXCL);
	if (ret < 0)
		goto out;
	/* Under the class: a delay, or the queue of a link without one. */
	ret = delay_ns ? add_netem(sk, ifindex, delay_ns)
		       : add_queue(sk, ifindex, queue_bytes);
	if (ret < 0) {
		rtnl_qdisc_put(q);
		return nl_fail(e, ret, "%s: cannot add %s", what,
			       delay_ns ? "netem delay" : "its queue");
	}
out:
	rtnl_qdisc_put(q);
	return ret < 0 ? nl_fail(e, ret, "%s: cannot shape it with htb", what)
		       : 0;
}

int link_set_htb_rate(struct nl_sock *sk, int ifindex, uint64_t rate_bps,
		      uint32_t burst_bytes, const char *what, struct err *e)
{
	/* RTM_NEWTCLASS on an existing class without NLM_F_EXCL changes it. */
	int ret = htb_class(sk, ifindex, rate_bps, burst_bytes, NLM_F_REPLACE);

	return ret < 0 ? nl_fail(e, ret, "%s: cannot change its htb rate", what)
		       : 0;
}

int link_del(struct nl_sock *sk, const char *name, struct err *e)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int ret;

	if (!l)
		return err_set(e, -ENOMEM, "link %s: out of memory", name);
	rtnl_link_set_name(l, name);
	ret = rtnl_link_delete(sk, l);
	rtnl_link_put(l);
	return ret < 0 ? nl_fail(e, ret, "link %s: cannot delete it", name) : 0;
}

int link_del_group(struct nl_sock *sk, uint32_t group, struct err *e)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
	struct nl_msg *m;
	int ret = -NLE_NOMEM;

	m = nlmsg_alloc_simple(RTM_DELLINK, NLM_F_REQUEST);
	if (m && nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) >= 0 &&
	    nla_put_u32(m, IFLA_GROUP, group) >= 0) {
		ret = nl_send_sync(sk, m);
		m = NULL;
	}
	nlmsg_free(m);
	/* An empty group is not an error for us: nothing to remove. */
	if (ret == -NLE_NODEV || ret == -NLE_OBJ_NOTFOUND)
		ret = 0;
	return ret < 0 ? nl_fail(e, ret, "link group %u: cannot delete it",
				 group)
		       : 0;
}

struct list_ctx {
	const char *prefix;
	char **names;
	size_t n, cap;
	int ret;
};

static void list_one(struct nl_object *obj, void *arg)
{
	struct list_ctx *ctx = arg;
	const char *name = rtnl_link_get_name((struct rtnl_link *)obj);
	char **nv;

	if (ctx->ret || !name ||
	    strncmp(name, ctx->prefix, strlen(ctx->prefix)))
		return;
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap ? 2 * ctx->cap : 64;
		nv = realloc(ctx->names, ctx->cap * sizeof(*nv));
		if (!nv) {
			ctx->ret = -ENOMEM;
			return;
		}
		ctx->names = nv;
	}
	ctx->names[ctx->n] = strdup(name);
	if (!ctx->names[ctx->n]) {
		ctx->ret = -ENOMEM;
		return;
	}
	ctx->n++;
}

int link_list(struct nl_sock *sk, const char *prefix, char ***names, size_t *n,
	      struct err *e)
{
	struct list_ctx ctx = {.prefix = prefix};
	struct nl_cache *cache = NULL;
	int ret;

	*names = NULL;
	*n = 0;
	ret = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (ret < 0)
		return nl_fail(e, ret, "netlink: %s", "cannot list links");
	nl_cache_foreach(cache, list_one, &ctx);
	nl_cache_free(cache);
	if (ctx.ret) {
		link_list_free(ctx.names, ctx.n);
		return err_set(e, ctx.ret, "netlink: out of memory");
	}
	*names = ctx.names;
	*n = ctx.n;
	return 0;
}

void link_list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

struct stats_ctx {
	const char *prefix;
	link_stats_fn fn;
	void *arg;
};

static void stats_one(struct nl_object *obj, void *arg)
{
	struct stats_ctx *c = arg;
	struct rtnl_link *l = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(l);

	if (!name || strncmp(name, c->prefix, strlen(c->prefix)))
		return;
	c->fn(c->arg, name, rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES),
	      rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES));
}

int link_stats(struct nl_sock *sk, const char *prefix, link_stats_fn fn,
	       void *arg, struct err *e)
{
	struct stats_ctx c = {.prefix = prefix, .fn = fn, .arg = arg};
	struct nl_cache *cache = NULL;
	int ret;

	ret = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (ret < 0)
		return nl_fail(e, ret, "netlink: %s",
			       "cannot read link counters");
	nl_cache_foreach(cache, stats_one, &c);
	nl_cache_free(cache);
	return 0;
}

struct htb_ctx {
	link_htb_stats_fn fn;
	void *arg;
};

static void htb_one(struct nl_object *obj, void *arg)
{
	struct htb_ctx *c = arg;
	struct rtnl_tc *tc = TC_CAST(obj);
	const char *kind = rtnl_tc_get_kind(tc);
	struct link_htb_stats s;

	if (rtnl_tc_get_parent(tc) != TC_H_ROOT || !kind || strcmp(kind, "htb"))
		return;
	s.bytes = rtnl_tc_get_stat(tc, RTNL_TC_BYTES);
	s.backlog = (uint32_t)rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG);
	s.drops = (uint32_t)rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
	s.overlimits = (uint32_t)rtnl_tc_get_stat(tc, RTNL_TC_OVERLIMITS);
	c->fn(c->arg, rtnl_tc_get_ifindex(tc), &s);
}

int link_htb_stats(struct nl_sock *sk, link_htb_stats_fn fn, void *arg,
		   struct err *e)
{
	struct htb_ctx c = {.fn = fn, .arg = arg};
	struct nl_cache *cache = NULL;
	int ret;

	ret = rtnl_qdisc_alloc_cache(sk, &cache);
	if (ret < 0)
		return nl_fail(e, ret, "netlink: %s",
			       "cannot read qdisc counters");
	nl_cache_foreach(cache, htb_one, &c);
	nl_cache_free(cache);
	return 0;
}

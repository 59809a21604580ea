#include <errno.h>
#include <string.h>
#include <linux/neighbour.h>
#include <linux/tcp_metrics.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/route/neighbour.h>

#include "flush.h"
#include "link.h"
#include "netns.h"

/* One namespace's flush, run inside it (netns_run): sockets belong to the
 * namespace they are opened in, and so do the tables they reach. */
struct one {
	const char *netns;
	int family; /* tcp_metrics' generic netlink id: global, resolved once */
	unsigned neigh;
	struct err *e;
};

static int nl_err(struct one *o, int nlerr, const char *what)
{
	return err_set(o->e, link_errno(nlerr), "%s: %s: %s", o->netns, what,
		       nl_geterror(nlerr));
}

static int flush_neigh(struct one *o)
{
	struct nl_cache *cache = NULL;
	struct nl_object *obj;
	struct nl_sock *sk;
	int ret;

	sk = link_sock_open(o->e);
	if (!sk)
		return -EIO;
	ret = rtnl_neigh_alloc_cache(sk, &cache);
	if (ret < 0) {
		ret = nl_err(o, ret, "neighbour dump");
		goto out;
	}
	ret = 0;
	for (obj = nl_cache_get_first(cache); obj;
	     obj = nl_cache_get_next(obj)) {
		struct rtnl_neigh *n = (struct rtnl_neigh *)obj;
		int state = rtnl_neigh_get_state(n), r;

		/* What `ip neigh flush` spares: entries someone set by
		 * hand, and those of links without ARP. */
		if (rtnl_neigh_get_family(n) != AF_INET ||
		    (state >= 0 && (state & (NUD_PERMANENT | NUD_NOARP))))
			continue;
		r = rtnl_neigh_delete(sk, n, 0);
		/* Gone already: the kernel's own garbage collection won. */
		if (r < 0 && r != -NLE_OBJ_NOTFOUND) {
			ret = nl_err(o, r, "deleting a neighbour entry");
			goto out;
		}
		o->neigh += r >= 0;
	}
out:
	if (cache)
		nl_cache_free(cache);
	link_sock_close(sk);
	return ret;
}

static int flush_tcp_metrics(struct one *o)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = NULL;
	int ret;

	if (!sk)
		return err_set(o->e, -ENOMEM, "netlink: out of memory");
	ret = genl_connect(sk);
	if (ret < 0) {
		ret = nl_err(o, ret, "generic netlink socket");
		goto out;
	}
	msg = nlmsg_alloc();
	if (!msg) {
		ret = err_set(o->e, -ENOMEM, "netlink: out of memory");
		goto out;
	}
	/* No address attribute: the kernel deletes every entry of the
	 * namespace (tcp_metrics_flush_all). */
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, o->family, 0, 0,
			 TCP_METRICS_CMD_DEL, TCP_METRICS_GENL_VERSION)) {
		ret = err_set(o->e, -ENOMEM, "netlink: out of memory");
		goto out;
	}
	ret = nl_send_sync(sk, msg); /* waits for the ack; frees msg */
	msg = NULL;
	if (ret < 0)
		ret = nl_err(o, ret, "tcp_metrics delete");
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}

static int flush_here(void *arg)
{
	struct one *o = arg;
	int ret;

	ret = flush_neigh(o);
	return ret ? ret : flush_tcp_metrics(o);
}

/* The family id of tcp_metrics, asked of the controller once: generic
 * netlink families are registered for the whole kernel, not per
 * namespace. */
static int resolve_family(int *family, struct err *e)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return err_set(e, -ENOMEM, "netlink: out of memory");
	ret = genl_connect(sk);
	if (ret >= 0)
		ret = genl_ctrl_resolve(sk, TCP_METRICS_GENL_NAME);
	nl_socket_free(sk);
	if (ret < 0)
		return err_set(e, link_errno(ret),
			       "generic netlink family %s: %s",
			       TCP_METRICS_GENL_NAME, nl_geterror(ret));
	*family = ret;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int flush_plan(const struct topo_plan *plan, struct flush_stats *st,
	       struct err *e)
{
	struct err le = {""};
	struct one o = {.e = &le};
	uint64_t t0 = now_ns();
	unsigned i, done = 0;
	int ret, nsfd;

	ret = resolve_family(&o.family, e);
	for (i = 0; !ret && i < plan->nhosts; i++) {
		o.netns = plan->hosts[i].netns;
		nsfd = netns_open(o.netns);
		if (nsfd < 0) {
			ret = err_set(e, nsfd, "%s: %s", o.netns,
				      strerror(-nsfd));
			break;
		}
		le.msg[0] = '\0';
		ret = netns_run(nsfd, flush_here, &o);
		close(nsfd);
		if (ret && le.msg[0])
			err_set(e, ret, "%s", le.msg);
		else if (ret)
			err_set(e, ret, "%s: %s", o.netns, strerror(-ret));
		done += !ret;
	}
	if (st) {
		st->netns = done;
		st->neigh = o.neigh;
		st->elapsed_ns = now_ns() - t0;
	}
	return ret;
}

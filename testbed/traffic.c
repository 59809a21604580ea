#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "plan.h"
#include "traffic.h"

#define TRAFFIC_CHUNK	  (128 << 10)
#define CONNECT_TIMEOUT_S 5.0

struct conn {
	int tx, rx;	   /* sender's socket, receiver's accepted socket */
	uint64_t rx_bytes; /* only the reader thread touches it */
	uint64_t rx_at_start;
};

struct run {
	struct conn *c;
	unsigned n;
	atomic_int phase; /* 0 warm-up, 1 measuring, 2 done */
	double t_start, t_end;
	int err_w, err_r; /* first error in the writer, the reader */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sock_req {
	uint32_t addr;
	int listen; /* listen on addr, or just make a socket */
	int fd;
};

/* Runs inside a host's namespace: the socket stays in it afterwards. */
static int make_socket(void *arg)
{
	struct sock_req *r = arg;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(TOPO_TRAFFIC_PORT),
				 .sin_addr.s_addr = htonl(r->addr)};
	int one = 1;

	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -errno;
	if (!r->listen)
		return 0;
	setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(r->fd, 4)) {
		int ret = -errno;

		close(r->fd);
		r->fd = -1;
		return ret;
	}
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ? -errno : 0;
}

/* Connects flow i: listen in the receiver's namespace, connect from the
 * sender's, accept. Blocking, with a timeout, before any thread starts. */
static int connect_flow(struct traffic_flow *f, struct conn *c, unsigned i,
			struct err *e)
{
	struct sock_req l = {.addr = f->dst_addr, .listen = 1, .fd = -1};
	struct sock_req s = {.fd = -1};
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(TOPO_TRAFFIC_PORT),
				 .sin_addr.s_addr = htonl(f->dst_addr)};
	struct timeval tv = {.tv_sec = (time_t)CONNECT_TIMEOUT_S};
	char addr[INET_ADDRSTRLEN];
	int ret;

	inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
	ret = netns_run(f->dst_nsfd, make_socket, &l);
	if (ret)
		return err_set(e, ret, "flow %u: cannot listen on %s: %s", i,
			       addr, strerror(-ret));
	ret = netns_run(f->src_nsfd, make_socket, &s);
	if (ret) {
		err_set(e, ret, "flow %u: cannot make a socket: %s", i,
			strerror(-ret));
		goto out;
	}
	setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(l.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s.fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = err_set(e, -errno, "flow %u: cannot connect to %s: %s", i,
			      addr, strerror(errno));
		goto out;
	}
	c->rx = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	if (c->rx < 0) {
		ret = err_set(e, -errno, "flow %u: accept on %s: %s", i, addr,
			      strerror(errno));
		goto out;
	}
	c->tx = s.fd;
	s.fd = -1;
	ret = set_nonblock(c->tx);
	if (!ret)
		ret = set_nonblock(c->rx);
	if (ret)
		err_set(e, ret, "flow %u: %s", i, strerror(-ret));
out:
	if (s.fd >= 0)
		close(s.fd);
	close(l.fd);
	return ret;
}

static void *writer(void *arg)
{
	static const char zeros[TRAFFIC_CHUNK];
	struct run *r = arg;
	struct epoll_event ev[64];
	int ep, i, k;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		r->err_w = -errno;
		return NULL;
	}
	for (i = 0; i < (int)r->n; i++) {
		struct epoll_event one = {.events = EPOLLOUT, .data.u32 = i};

		epoll_ctl(ep, EPOLL_CTL_ADD, r->c[i].tx, &one);
	}
	while (atomic_load(&r->phase) < 2) {
		k = epoll_wait(ep, ev, 64, 20);
		for (i = 0; i < k; i++) {
			struct conn *c = &r->c[ev[i].data.u32];

			if (send(c->tx, zeros, sizeof(zeros), MSG_NOSIGNAL) <
				    0 &&
			    errno != EAGAIN && !r->err_w)
				r->err_w = -errno;
		}
	}
	close(ep);
	return NULL;
}

static void *reader(void *arg)
{
	struct run *r = arg;
	struct epoll_event ev[64];
	char *sink;
	int ep, i, k;

	sink = malloc(TRAFFIC_CHUNK);
	ep = sink ? epoll_create1(EPOLL_CLOEXEC) : -1;
	if (ep < 0) {
		r->err_r = sink ? -errno : -ENOMEM;
		free(sink);
		return NULL;
	}
	for (i = 0; i < (int)r->n; i++) {
		struct epoll_event one = {.events = EPOLLIN, .data.u32 = i};

		epoll_ctl(ep, EPOLL_CTL_ADD, r->c[i].rx, &one);
	}
	while (atomic_load(&r->phase) < 2) {
		k = epoll_wait(ep, ev, 64, 20);
		for (i = 0; i < k; i++) {
			struct conn *c = &r->c[ev[i].data.u32];
			ssize_t got = recv(c->rx, sink, TRAFFIC_CHUNK, 0);

			if (got > 0) {
				c->rx_bytes += (uint64_t)got;
			} else if (got == 0 || errno != EAGAIN) {
				/* A flow that ended early is a failed
				 * measurement, not a slow link. */
				if (!r->err_r)
					r->err_r = got ? -errno : -ECONNRESET;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->rx, NULL);
			}
		}
		/* The main thread moves the phase; the reader takes the
		 * snapshots, so counters are only ever touched here. */
		if (atomic_load(&r->phase) == 1 && r->t_start == 0) {
			r->t_start = now_s();
			for (i = 0; i < (int)r->n; i++)
				r->c[i].rx_at_start = r->c[i].rx_bytes;
		}
	}
	r->t_end = now_s();
	close(ep);
	free(sink);
	return NULL;
}

static int sleep_until(double t, volatile sig_atomic_t *stop)
{
	while (now_s() < t) {
		if (stop && *stop)
			return -EINTR;
		usleep(10000);
	}
	return 0;
}

int traffic_run(struct traffic_flow *flows, unsigned n,
		const struct traffic_opts *o, struct err *e)
{
	struct run r = {.n = n};
	pthread_t tw, tr;
	unsigned i;
	int ret = 0;
	double t0, window;

	r.c = calloc(n, sizeof(*r.c));
	if (!r.c)
		return err_set(e, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		r.c[i].tx = r.c[i].rx = -1;
	for (i = 0; i < n && !ret; i++)
		ret = connect_flow(&flows[i], &r.c[i], i, e);
	if (ret)
		goto out;
	ret = -pthread_create(&tr, NULL, reader, &r);
	if (ret) {
		err_set(e, ret, "cannot start the reader thread: %s",
			strerror(-ret));
		goto out;
	}
	ret = -pthread_create(&tw, NULL, writer, &r);
	if (ret) {
		atomic_store(&r.phase, 2);
		pthread_join(tr, NULL);
		err_set(e, ret, "cannot start the writer thread: %s",
			strerror(-ret));
		goto out;
	}
	t0 = now_s();
	ret = sleep_until(t0 + o->warmup_s, o->stop);
	if (!ret) {
		atomic_store(&r.phase, 1);
		ret = sleep_until(t0 + o->warmup_s + o->measure_s, o->stop);
	}
	atomic_store(&r.phase, 2);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	if (ret == -EINTR)
		err_set(e, ret, "interrupted");
	else if (r.err_w || r.err_r)
		ret = err_set(e, r.err_w ? r.err_w : r.err_r, "traffic: %s",
			      strerror(-(r.err_w ? r.err_w : r.err_r)));
	window = r.t_end - r.t_start;
	for (i = 0; !ret && i < n; i++) {
		flows[i].bytes = r.c[i].rx_bytes - r.c[i].rx_at_start;
		flows[i].goodput_bps =
			window > 0 ? (double)flows[i].bytes * 8 / window : 0;
	}
out:
	for (i = 0; i < n; i++) {
		if (r.c[i].tx >= 0)
			close(r.c[i].tx);
		if (r.c[i].rx >= 0)
			close(r.c[i].rx);
	}
	free(r.c);
	return ret;
}

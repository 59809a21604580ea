#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"

/* A peer that lets this much pile up is not reading: better to drop it. */
#define CONN_MAX_BACKLOG (64u << 20)
/* Past the limit, frames without data (an ERROR saying a reply was
 * refused) still go, up to this much more: the peer is told rather than
 * left waiting for a reply that never comes. */
#define CONN_SMALL_ALLOWANCE (1u << 20)
#define CONN_READ_CHUNK	     (256u << 10)
/* Frames written per system call: a burst of blocks for a child goes out
 * in a few sendmsg calls, not one each (two iovecs a frame). */
#define CONN_IOV 128

struct outbuf {
	uint8_t *buf;
	size_t len, off;    /* off counts over buf, then ext */
	const uint8_t *ext; /* lent: the caller keeps it alive until release */
	size_t ext_len;
	conn_release_fn release;
	void *release_arg;
	struct outbuf *next;
};

struct conn {
	int fd;
	struct evloop *l;
	uint32_t peer;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct outbuf *out, *out_tail;
	size_t backlog;
	int connecting;
	int busy;	 /* inside a callback: freeing must wait */
	int closed;	 /* conn_close was called meanwhile */
	unsigned events; /* what the loop watches now (EVLOOP_IN|OUT) */
	/* Frames queued by this round's callbacks are written once it ends. */
	struct evloop_defer flush_later;
	conn_frame_fn on_frame;
	conn_close_fn on_close;
	void *arg;
};

static void outbuf_free(struct outbuf *o)
{
	if (o->release)
		o->release(o->release_arg);
	free(o->buf);
	free(o);
}

static void destroy(struct conn *c)
{
	struct outbuf *o, *on;

	evloop_defer_cancel(c->l, &c->flush_later);
	if (c->fd >= 0) {
		evloop_del(c->l, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	for (o = c->out; o; o = on) {
		on = o->next;
		outbuf_free(o);
	}
	c->out = c->out_tail = NULL;
	free(c->rbuf);
	c->rbuf = NULL;
	if (!c->busy)
		free(c);
}

void conn_close(struct conn *c)
{
	if (!c || c->closed)
		return;
	c->closed = 1;
	destroy(c);
}

/* The connection failed: tell the owner, then go. */
static void fail(struct conn *c, int error, const char *why)
{
	if (c->closed)
		return;
	c->busy++;
	if (c->on_close)
		c->on_close(c, error, why, c->arg);
	c->busy--;
	c->closed = 1;
	destroy(c);
}

/* Watched for writing only while something waits that the socket did
 * not take: epoll_ctl only when that changes. */
static void update_events(struct conn *c)
{
	unsigned ev;

	if (c->closed)
		return;
	/* A flush already deferred to the round's end needs no event. */
	ev = EVLOOP_IN |
	     ((c->out && !c->flush_later.armed) || c->connecting ? EVLOOP_OUT
								 : 0);
	if (ev != c->events && !evloop_mod(c->l, c->fd, ev))
		c->events = ev;
}

static int flush(struct conn *c)
{
	struct iovec iov[CONN_IOV];
	struct msghdr mh = {.msg_iov = iov};
	struct outbuf *o;
	size_t n, offered;
	ssize_t sent;

	while (c->out) {
		/* Frames' heads from our buffers, blocks' bytes from where
		 * the cache holds them: many frames a system call, no copy. */
		mh.msg_iovlen = 0;
		offered = 0;
		for (o = c->out; o && mh.msg_iovlen + 2 <= CONN_IOV;
		     o = o->next) {
			size_t eoff = o->off > o->len ? o->off - o->len : 0;

			if (o->off < o->len) {
				iov[mh.msg_iovlen].iov_base = o->buf + o->off;
				iov[mh.msg_iovlen++].iov_len = o->len - o->off;
			}
			if (o->ext_len > eoff) {
				iov[mh.msg_iovlen].iov_base =
					(void *)(o->ext + eoff);
				iov[mh.msg_iovlen++].iov_len =
					o->ext_len - eoff;
			}
			offered += o->len + o->ext_len - o->off;
		}
		sent = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		c->backlog -= (size_t)sent;
		for (n = (size_t)sent; (o = c->out);) {
			size_t left = o->len + o->ext_len - o->off;

			if (n < left) {
				o->off += n;
				break;
			}
			n -= left;
			c->out = o->next;
			if (!c->out)
				c->out_tail = NULL;
			outbuf_free(o);
		}
		if ((size_t)sent < offered)
			break; /* the socket is full: EVLOOP_OUT says when not
				*/
	}
	return 0;
}

/* The end of the loop's round: what this round queued goes out. A failure
 * shows again, and is handled, when the loop next polls the socket. */
static void flush_deferred(struct evloop *l, void *arg)
{
	struct conn *c = arg;

	(void)l;
	if (c->closed || c->connecting)
		return;
	flush(c);
	update_events(c);
}

/* Cuts whole frames off the read buffer and hands them on. */
static void deliver(struct conn *c)
{
	size_t off = 0, total;
	struct proto_msg m;
	struct err e;
	int ret;

	while (!c->closed && c->rlen - off >= PROTO_HDR_LEN) {
		ret = proto_frame_len(c->rbuf + off, &total, &e);
		if (ret) {
			fail(c, ret, e.msg);
			return;
		}
		if (c->rlen - off < total)
			break;
		ret = proto_decode(c->rbuf + off, total, &m, &e);
		if (ret) {
			fail(c, ret, e.msg);
			return;
		}
		c->busy++;
		c->on_frame(c, &m, c->arg);
		c->busy--;
		off += total;
	}
	if (c->closed)
		return;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
}

static int grow_rbuf(struct conn *c)
{
	size_t ncap = c->rcap ? c->rcap : 2 * CONN_READ_CHUNK;
	uint8_t *nb;

	if (c->rcap - c->rlen >= CONN_READ_CHUNK)
		return 0;
	while (ncap - c->rlen < CONN_READ_CHUNK)
		ncap *= 2;
	nb = realloc(c->rbuf, ncap);
	if (!nb)
		return -ENOMEM;
	c->rbuf = nb;
	c->rcap = ncap;
	return 0;
}

static void on_io(struct evloop *l, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	socklen_t sl = sizeof(int);
	int ret, soerr = 0;
	ssize_t n;

	(void)l;
	(void)fd;
	/* Held until the end: callbacks may close c, which then waits. */
	c->busy++;
	if (c->connecting) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			fail(c, -soerr, strerror(soerr));
			goto out;
		}
		c->connecting = 0;
	}
	if (events & EVLOOP_OUT) {
		ret = flush(c);
		if (ret) {
			fail(c, ret, strerror(-ret));
			goto out;
		}
	}
	if (events & EVLOOP_IN) {
		ret = grow_rbuf(c);
		if (ret) {
			fail(c, ret, "out of memory");
			goto out;
		}
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen,
			 MSG_DONTWAIT);
		if (n == 0) {
			fail(c, -ECONNRESET, "closed by the peer");
			goto out;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			ret = -errno;
			fail(c, ret, strerror(-ret));
			goto out;
		}
		if (n > 0) {
			c->rlen += (size_t)n;
			deliver(c);
		}
	}
out:
	c->busy--;
	if (c->closed) {
		if (!c->busy)
			free(c);
		return;
	}
	update_events(c);
}

int conn_new(struct evloop *l, int fd, conn_frame_fn on_frame,
	     conn_close_fn on_close, void *arg, struct conn **out)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1, ret;

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->l = l;
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->arg = arg;
	if (!getpeername(fd, (struct sockaddr *)&sa, &sl))
		c->peer = ntohl(sa.sin_addr.s_addr);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* Small requests must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = evloop_add(l, fd, EVLOOP_IN, on_io, c);
	if (ret) {
		free(c);
		return ret;
	}
	c->events = EVLOOP_IN;
	*out = c;
	return 0;
}

int conn_connect(struct evloop *l, uint32_t addr, uint16_t port,
		 conn_frame_fn on_frame, conn_close_fn on_close, void *arg,
		 struct conn **out, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr)};
	struct conn *c;
	int fd, ret;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    errno != EINPROGRESS) {
		ret = err_set(e, -errno, "connect: %s", strerror(errno));
		close(fd);
		return ret;
	}
	ret = conn_new(l, fd, on_frame, on_close, arg, &c);
	if (ret) {
		close(fd);
		return err_set(e, ret, "connection: %s", strerror(-ret));
	}
	c->peer = addr;
	c->connecting = 1;
	update_events(c);
	*out = c;
	return 0;
}

static int queue(struct conn *c, const struct proto_msg *m, int by_ref,
		 conn_release_fn release, void *arg, struct err *e)
{
	struct outbuf *o;
	uint8_t *buf;
	size_t len;
	int ret;

	if (c->closed) {
		ret = err_set(e, -EPIPE, "connection closed");
		goto fail;
	}
	if (c->backlog >
	    CONN_MAX_BACKLOG + (m->data_len ? 0 : CONN_SMALL_ALLOWANCE)) {
		ret = err_set(e, -ENOBUFS,
			      "peer is not reading (%zu bytes "
			      "queued)",
			      c->backlog);
		goto fail;
	}
	ret = by_ref ? proto_encode_head(m, &buf, &len, e)
		     : proto_encode(m, &buf, &len, e);
	if (ret)
		goto fail;
	o = calloc(1, sizeof(*o));
	if (!o) {
		free(buf);
		ret = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	o->buf = buf;
	o->len = len;
	if (by_ref) {
		o->ext = m->data;
		o->ext_len = m->data_len;
		o->release = release;
		o->release_arg = arg;
	}
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out = o;
	c->out_tail = o;
	c->backlog += o->len + o->ext_len;
	/* Written when the loop's round ends, with whatever else the round
	 * queues; outside a running loop (a caller before evloop_run), now. */
	if (!c->connecting && evloop_current() == c->l) {
		evloop_defer(c->l, &c->flush_later, flush_deferred, c);
		return 0;
	}
	if (!c->connecting)
		flush(c);
	update_events(c);
	return 0;
fail:
	if (by_ref && release)
		release(arg);
	return ret;
}

int conn_send(struct conn *c, const struct proto_msg *m, struct err *e)
{
	return queue(c, m, 0, NULL, NULL, e);
}

int conn_send_ref(struct conn *c, const struct proto_msg *m,
		  conn_release_fn release, void *arg, struct err *e)
{
	return queue(c, m, 1, release, arg, e);
}

size_t conn_backlog(const struct conn *c)
{
	return c->backlog;
}

uint32_t conn_peer_addr(const struct conn *c)
{
	return c->peer;
}

void conn_set_arg(struct conn *c, void *arg)
{
	c->arg = arg;
}

void *conn_arg(const struct conn *c)
{
	return c->arg;
}

int conn_listen(uint32_t addr, uint16_t port, int backlog, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr)};
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	/* A daemon restarted right away finds its port in TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, backlog)) {
		int ret = -errno;

		close(fd);
		return err_set(e, ret, "listen on port %u: %s", port,
			       strerror(-ret));
	}
	return fd;
}

struct conn_acceptor {
	struct evloop *l;
	int fd;
	unsigned pause_ms;
	conn_accept_fn fn;
	void *arg;
	long timer; /* armed while paused */
};

static void acceptor_ready(struct evloop *l, int fd, unsigned events,
			   void *arg);

static void acceptor_resume(struct evloop *l, void *arg);

static void acceptor_pause(struct conn_acceptor *a)
{
	evloop_del(a->l, a->fd);
	a->timer = evloop_timer(a->l, a->pause_ms, acceptor_resume, a);
	if (a->timer < 0) {
		a->timer = 0;
		evloop_stop(a->l);
	}
}

static void acceptor_resume(struct evloop *l, void *arg)
{
	struct conn_acceptor *a = arg;

	a->timer = 0;
	if (evloop_add(l, a->fd, EVLOOP_IN, acceptor_ready, a))
		acceptor_pause(a);
}

static void acceptor_ready(struct evloop *l, int fd, unsigned events, void *arg)
{
	struct conn_acceptor *a = arg;
	int s;

	(void)l;
	(void)events;
	s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s >= 0) {
		a->fn(a->arg, s);
		return;
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM)
		acceptor_pause(a);
}

int conn_accept_start(struct evloop *l, int listen_fd, unsigned pause_ms,
		      conn_accept_fn fn, void *arg, struct conn_acceptor **out)
{
	struct conn_acceptor *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return -ENOMEM;
	*a = (struct conn_acceptor){l, listen_fd, pause_ms, fn, arg, 0};
	ret = evloop_add(l, listen_fd, EVLOOP_IN, acceptor_ready, a);
	if (ret) {
		free(a);
		return ret;
	}
	*out = a;
	return 0;
}

void conn_accept_stop(struct conn_acceptor *a)
{
	if (!a)
		return;
	if (a->timer)
		evloop_cancel(a->l, a->timer);
	else
		evloop_del(a->l, a->fd);
	free(a);
}

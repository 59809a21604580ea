#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "mgrlink.h"
#include "proto.h"

#define RBUF (1u << 20)

/* One INVOKE's answer: which container ids it got. */
struct pending {
	uint64_t sent_ns;
	unsigned function, containers;
	int answered;
};

struct mgrlink {
	const struct scenario *s;
	int fd;
	struct pending *p; /* indexed by INVOKE id */
	size_t np, capp;
	uint8_t *rbuf;
	size_t rlen;
};

/* One frame to the manager; -EIO with e saying why. */
static int send_msg(struct mgrlink *ml, const struct proto_msg *m,
		    struct err *e)
{
	uint8_t *buf;
	size_t len;
	ssize_t n;

	if (proto_encode(m, &buf, &len, e))
		return -EIO;
	n = write(ml->fd, buf, len);
	free(buf);
	if (n != (ssize_t)len)
		return err_set(e, -EIO, "manager: write failed");
	return 0;
}

/* INVOKE for count containers of function fn, id = its index. */
static int ml_invoke(void *arg, struct driver *d, unsigned fn, unsigned count,
		     struct err *e)
{
	struct mgrlink *ml = arg;
	struct proto_msg m = {.type = PROTO_INVOKE, .id = (uint32_t)ml->np};

	if (ml->np == ml->capp) {
		size_t cap = ml->capp ? 2 * ml->capp : 64;
		struct pending *np = realloc(ml->p, cap * sizeof(*np));

		if (!np)
			return err_set(e, -ENOMEM, "out of memory");
		ml->p = np;
		ml->capp = cap;
	}
	m.function = proto_str(ml->s->functions[fn].name);
	m.count = count;
	if (send_msg(ml, &m, e))
		return -EIO;
	memset(&ml->p[ml->np], 0, sizeof(ml->p[ml->np]));
	ml->p[ml->np].function = fn;
	ml->p[ml->np].containers = count;
	ml->p[ml->np].sent_ns = driver_now(d);
	ml->np++;
	return 0;
}

static int ml_release(void *arg, struct driver *d, uint32_t container,
		      struct err *e)
{
	struct proto_msg m = {.type = PROTO_RELEASE, .container = container};

	(void)d;
	return send_msg(arg, &m, e);
}

static void on_msg(struct mgrlink *ml, struct driver *d,
		   const struct proto_msg *m)
{
	struct pending *p;

	switch (m->type) {
	case PROTO_INVOKED:
		if (m->id >= ml->np)
			return;
		p = &ml->p[m->id];
		p->answered = 1;
		if (driver_placed(d, m->container, m->count, p->containers,
				  p->function, p->sent_ns))
			return;
		/* Asked for more than the manager could place: the rest
		 * failed for want of room. */
		if (p->containers > m->count)
			driver_unplaced(d, p->function,
					p->containers - m->count, p->sent_ns);
		break;
	case PROTO_ERROR:
		if (m->id < ml->np && !ml->p[m->id].answered) {
			ml->p[m->id].answered = 1;
			driver_unplaced(d, ml->p[m->id].function,
					ml->p[m->id].containers,
					ml->p[m->id].sent_ns);
		}
		break;
	case PROTO_STARTED:
		/* The agent's wall clock; the driver makes it the world's. */
		driver_started(d, m->container, m->t_ns);
		break;
	case PROTO_FAILED:
		/* Its VM died before it started, and no other had room. */
		driver_failed(d, m->container);
		break;
	default:
		break;
	}
}

/* Reads what the manager sent; -errno when the connection is unusable. */
static int ml_step(void *arg, struct driver *d, int readable, struct err *e)
{
	struct mgrlink *ml = arg;
	size_t off = 0, total;
	ssize_t n;

	if (!readable)
		return 0;
	n = read(ml->fd, ml->rbuf + ml->rlen, RBUF - ml->rlen);
	if (n <= 0)
		return err_set(e, -ECONNRESET,
			       "the manager closed the connection");
	ml->rlen += (size_t)n;
	while (ml->rlen - off >= PROTO_HDR_LEN) {
		struct proto_msg m;

		if (proto_frame_len(ml->rbuf + off, &total, e))
			return -EBADMSG;
		if (ml->rlen - off < total)
			break;
		if (!proto_decode(ml->rbuf + off, total, &m, e))
			on_msg(ml, d, &m);
		off += total;
	}
	memmove(ml->rbuf, ml->rbuf + off, ml->rlen - off);
	ml->rlen -= off;
	return 0;
}

int mgrlink_open(uint32_t addr, uint16_t port, const struct scenario *s,
		 struct mgrlink **out, struct driver_target *t, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr)};
	struct mgrlink *ml = calloc(1, sizeof(*ml));

	*out = NULL;
	if (!ml || !(ml->rbuf = malloc(RBUF))) {
		free(ml);
		return err_set(e, -ENOMEM, "out of memory");
	}
	ml->s = s;
	ml->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ml->fd < 0 || connect(ml->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = err_set(e, -errno, "manager: %s", strerror(errno));

		mgrlink_close(ml);
		return ret;
	}
	memset(t, 0, sizeof(*t));
	t->arg = ml;
	t->invoke = ml_invoke;
	t->release = ml_release;
	t->step = ml_step;
	t->fd = ml->fd;
	*out = ml;
	return 0;
}

void mgrlink_close(struct mgrlink *ml)
{
	if (!ml)
		return;
	if (ml->fd >= 0)
		close(ml->fd);
	free(ml->p);
	free(ml->rbuf);
	free(ml);
}

/* One GET_STATUS on fd and its answer within 1 s: 0 and *count, or a
 * negative errno (the connection is then unusable). */
static int ask_status(int fd, uint32_t id, unsigned *count, struct err *e)
{
	struct proto_msg q = {.type = PROTO_GET_STATUS, .id = id};
	uint64_t until = evloop_now_ns() + 1000000000ull;
	uint8_t buf[4096];
	size_t len = 0, total;
	uint8_t *frame;
	ssize_t n;

	if (proto_encode(&q, &frame, &total, e))
		return -EIO;
	n = write(fd, frame, total);
	free(frame);
	if (n != (ssize_t)total)
		return err_set(e, -EIO, "manager: write failed");
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = evloop_now_ns();
		struct proto_msg m;

		if (now >= until)
			return err_set(e, -ETIMEDOUT,
				       "manager: no answer to GET_STATUS");
		if (poll(&pfd, 1, (int)((until - now) / 1000000) + 1) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return err_set(e, -ECONNRESET,
				       "the manager closed the connection");
		len += (size_t)n;
		/* Only STATUS comes on this connection: it never INVOKEs. */
		while (len >= PROTO_HDR_LEN) {
			if (proto_frame_len(buf, &total, e))
				return -EBADMSG;
			if (total > sizeof(buf))
				return err_set(e, -EBADMSG,
					       "manager: a %zu-byte answer "
					       "to GET_STATUS",
					       total);
			if (len < total)
				break;
			if (proto_decode(buf, total, &m, e))
				return -EBADMSG;
			memmove(buf, buf + total, len - total);
			len -= total;
			if (m.type == PROTO_STATUS && m.id == id) {
				*count = m.count;
				return 0;
			}
		}
	}
}

int mgrlink_wait_agents(uint32_t addr, uint16_t port, unsigned vms,
			unsigned timeout_ms, volatile sig_atomic_t *stop,
			unsigned *up, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr)};
	uint64_t until = evloop_now_ns() + (uint64_t)timeout_ms * 1000000;
	unsigned count = 0;
	uint32_t id = 0;
	int fd = -1, ret = 0;
	struct err last = {""};

	for (;;) {
		if (stop && *stop) {
			ret = err_set(e, -EINTR, "interrupted");
			break;
		}
		if (fd < 0) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				ret = err_set(e, -errno, "socket: %s",
					      strerror(errno));
				break;
			}
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
				err_set(&last, -errno, "manager: %s",
					strerror(errno));
				close(fd);
				fd = -1;
			}
		}
		if (fd >= 0 && ask_status(fd, ++id, &count, &last)) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0 && count >= vms)
			break;
		if (evloop_now_ns() >= until) {
			ret = err_set(e, -ETIMEDOUT,
				      "%u of %u agents registered in %u ms%s%s",
				      count, vms, timeout_ms,
				      last.msg[0] ? "; last: " : "", last.msg);
			break;
		}
		usleep(50000);
	}
	if (fd >= 0)
		close(fd);
	if (up)
		*up = count;
	return ret;
}

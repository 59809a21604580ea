#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "mgrlink.h"
#include "proto.h"

#define RBUF (1u << 20)
/* The manager gone (killed, and started again by the harness): connect
 * again every RETRY_MS of the world's time, as long as GIVE_UP_MS of it,
 * each try waiting at most CONNECT_MS of the wall clock for the manager's
 * answer, so that the driver's loop is never held up for long. */
#define RETRY_MS   50
#define GIVE_UP_MS 60000
#define CONNECT_MS 100

/* One INVOKE's answer: which container ids it got. */
struct pending {
	uint64_t sent_ns;
	unsigned function, containers;
	int answered;
};

/* One thing the driver asked of the manager, kept for the whole run in
 * the order asked: after a reconnection every one is said again (an
 * INVOKE answered before is answered the same, with what became of its
 * containers; a RELEASE of a released container is nothing), so that
 * whatever the old connection lost, sent or answered, is made good. */
enum op_kind { OP_INVOKE, OP_RELEASE };

struct op {
	enum op_kind kind;
	uint32_t arg; /* an INVOKE's id (its index in p), or a container */
};

struct mgrlink {
	const struct scenario *s;
	struct driver_target *t; /* its fd is ours, or -1 while away */
	uint32_t addr;
	uint16_t port;
	uint64_t session; /* in every INVOKE: this run's */
	int fd;
	struct pending *p; /* indexed by INVOKE id */
	size_t np, capp;
	struct op *ops;
	size_t nops, capops;
	/* Away: since when, the last try (world ns), why it went, and the
	 * last try's failure. */
	uint64_t lost_ns, tried_ns;
	unsigned give_up_ms;
	struct err lost, last;
	uint8_t *rbuf;
	size_t rlen;
};

/* A TCP connection to addr:port within wait_ms of the wall clock: the
 * blocking descriptor, or a negative errno with e. */
static int dial(uint32_t addr, uint16_t port, unsigned wait_ms, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr)};
	struct pollfd pfd = {.events = POLLOUT};
	socklen_t len = sizeof(int);
	int fd, soerr = 0, ret;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(e, -errno, "manager: socket: %s",
			       strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    errno != EINPROGRESS) {
		soerr = errno;
	} else {
		pfd.fd = fd;
		ret = poll(&pfd, 1, (int)wait_ms);
		if (ret <= 0)
			soerr = ret ? errno : ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
			soerr = errno;
	}
	if (!soerr && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK))
		soerr = errno;
	if (soerr) {
		close(fd);
		return err_set(e, -soerr, "manager: %s", strerror(soerr));
	}
	return fd;
}

/* One frame to the manager; -EIO with e saying why. */
static int send_msg(struct mgrlink *ml, const struct proto_msg *m,
		    struct err *e)
{
	uint8_t *buf;
	size_t len, off = 0;
	ssize_t n;
	int err = 0;

	if (proto_encode(m, &buf, &len, e))
		return -EIO;
	/* MSG_NOSIGNAL: a manager that died is a reconnection, not the
	 * harness killed by SIGPIPE. */
	while (off < len && !err) {
		n = send(ml->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (!n || errno != EINTR)
			err = n ? errno : EPIPE;
	}
	free(buf);
	if (err)
		return err_set(e, -EIO, "manager: write: %s", strerror(err));
	return 0;
}

/* Says op i (again). */
static int send_op(struct mgrlink *ml, size_t i, struct err *e)
{
	const struct op *o = &ml->ops[i];
	struct proto_msg m = {.type = PROTO_RELEASE, .container = o->arg};

	if (o->kind == OP_INVOKE) {
		m.type = PROTO_INVOKE;
		m.id = o->arg;
		m.function = proto_str(
			ml->s->functions[ml->p[o->arg].function].name);
		m.count = ml->p[o->arg].containers;
		m.session = ml->session;
	}
	return send_msg(ml, &m, e);
}

/* The connection is gone: the driver polls nothing until it is back. */
static void lose(struct mgrlink *ml, struct driver *d, const char *why)
{
	if (ml->fd < 0)
		return;
	close(ml->fd);
	ml->fd = ml->t->fd = -1;
	ml->rlen = 0;
	ml->lost_ns = ml->tried_ns = driver_now(d);
	err_set(&ml->lost, -ECONNRESET, "%s", why);
	ml->last.msg[0] = '\0';
	fprintf(stderr, "manager: went away (%s); connecting again\n", why);
}

/* arr (n items of size bytes, room for *cap) with room for one more: arr
 * itself, or moved (*cap doubled), or NULL when out of memory. */
static void *room(void *arr, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? 2 * *cap : 64;
	void *na;

	if (n < *cap)
		return arr;
	na = realloc(arr, c * size);
	if (na)
		*cap = c;
	return na;
}

static int push_op(struct mgrlink *ml, enum op_kind kind, uint32_t arg,
		   struct err *e)
{
	struct op *no = room(ml->ops, ml->nops, &ml->capops, sizeof(*no));

	if (!no)
		return err_set(e, -ENOMEM, "out of memory");
	ml->ops = no;
	ml->ops[ml->nops].kind = kind;
	ml->ops[ml->nops].arg = arg;
	ml->nops++;
	return 0;
}

/* Sends the newest op now if the manager is there; if it is not, or the
 * send fails, the op waits for the reconnection, which sends every op. */
static void send_last(struct mgrlink *ml, struct driver *d)
{
	struct err e = {""};

	if (ml->fd >= 0 && send_op(ml, ml->nops - 1, &e))
		lose(ml, d, e.msg);
}

/* INVOKE for count containers of function fn, id = its index. */
static int ml_invoke(void *arg, struct driver *d, unsigned fn, unsigned count,
		     struct err *e)
{
	struct mgrlink *ml = arg;
	struct pending *np = room(ml->p, ml->np, &ml->capp, sizeof(*np));

	if (!np)
		return err_set(e, -ENOMEM, "out of memory");
	ml->p = np;
	if (push_op(ml, OP_INVOKE, (uint32_t)ml->np, e))
		return -ENOMEM;
	memset(&ml->p[ml->np], 0, sizeof(ml->p[ml->np]));
	ml->p[ml->np].function = fn;
	ml->p[ml->np].containers = count;
	ml->p[ml->np].sent_ns = driver_now(d);
	ml->np++;
	send_last(ml, d);
	return 0;
}

static int ml_release(void *arg, struct driver *d, uint32_t container,
		      struct err *e)
{
	struct mgrlink *ml = arg;

	if (push_op(ml, OP_RELEASE, container, e))
		return -ENOMEM;
	send_last(ml, d);
	return 0;
}

/* Away: a try every RETRY_MS; back, every op said again, in order. 0, or
 * -ECONNRESET once the manager has been away GIVE_UP_MS. */
static int reconnect(struct mgrlink *ml, struct driver *d, struct err *e)
{
	uint64_t now = driver_now(d);
	size_t i;
	int fd;

	if (now - ml->lost_ns >= (uint64_t)ml->give_up_ms * 1000000)
		return err_set(e, -ECONNRESET,
			       "the manager went away (%s) and did not come "
			       "back in %u ms of the world's time%s%s%s",
			       ml->lost.msg, ml->give_up_ms,
			       ml->last.msg[0] ? " (last try: " : "",
			       ml->last.msg, ml->last.msg[0] ? ")" : "");
	if (now - ml->tried_ns < (uint64_t)RETRY_MS * 1000000)
		return 0;
	ml->tried_ns = now;
	fd = dial(ml->addr, ml->port, CONNECT_MS, &ml->last);
	if (fd < 0)
		return 0;
	ml->fd = fd;
	for (i = 0; i < ml->nops; i++)
		if (send_op(ml, i, &ml->last))
			break;
	if (i < ml->nops) {
		/* Not back after all: still away since it went. */
		close(fd);
		ml->fd = -1;
		return 0;
	}
	ml->t->fd = fd;
	fprintf(stderr,
		"manager: connected again after %.1f s of the world's time, "
		"%zu requests said again\n",
		(double)(now - ml->lost_ns) / 1e9, ml->nops);
	return 0;
}

static void on_msg(struct mgrlink *ml, struct driver *d,
		   const struct proto_msg *m)
{
	struct pending *p;

	switch (m->type) {
	case PROTO_INVOKED:
		/* A repeat's answer, after a reconnection, is known. */
		if (m->id >= ml->np || ml->p[m->id].answered)
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

/* Reads what the manager sent, or, while it is away, tries to connect
 * again; -errno when the run cannot go on. */
static int ml_step(void *arg, struct driver *d, int readable, struct err *e)
{
	struct mgrlink *ml = arg;
	size_t off = 0, total;
	ssize_t n;

	if (ml->fd < 0)
		return reconnect(ml, d, e);
	if (!readable)
		return 0;
	n = recv(ml->fd, ml->rbuf + ml->rlen, RBUF - ml->rlen, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		lose(ml, d, n ? strerror(errno) : "closed the connection");
		return 0;
	}
	ml->rlen += (size_t)n;
	while (ml->rlen - off >= PROTO_HDR_LEN) {
		struct proto_msg m;

		if (proto_frame_len(ml->rbuf + off, &total, e))
			return -EBADMSG;
		if (total > RBUF)
			return err_set(e, -EMSGSIZE,
				       "manager: a %zu-byte frame", total);
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

/* Not 0: any session will do, as long as no other driver's is the same. */
static uint64_t draw_session(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s))
		s = (uint64_t)getpid() << 32 ^ evloop_now_ns();
	return s ? s : 1;
}

int mgrlink_open(uint32_t addr, uint16_t port, const struct scenario *s,
		 struct mgrlink **out, struct driver_target *t, struct err *e)
{
	struct mgrlink *ml = calloc(1, sizeof(*ml));

	*out = NULL;
	if (!ml || !(ml->rbuf = malloc(RBUF))) {
		free(ml);
		return err_set(e, -ENOMEM, "out of memory");
	}
	ml->s = s;
	ml->t = t;
	ml->addr = addr;
	ml->port = port;
	ml->session = draw_session();
	ml->give_up_ms = GIVE_UP_MS;
	ml->fd = dial(addr, port, 5000, e);
	if (ml->fd < 0) {
		int ret = ml->fd;

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

void mgrlink_give_up_after(struct mgrlink *ml, unsigned world_ms)
{
	ml->give_up_ms = world_ms;
}

void mgrlink_close(struct mgrlink *ml)
{
	if (!ml)
		return;
	if (ml->fd >= 0)
		close(ml->fd);
	free(ml->p);
	free(ml->ops);
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

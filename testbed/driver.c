#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver.h"
#include "evloop.h"
#include "proto.h"

#define RBUF (1u << 20)

/* One invocation's answer: which container ids it got. */
struct pending {
	uint64_t sent_ns;
	unsigned function, containers;
	int answered;
};

struct drv {
	struct driver_result *r;
	struct pending *p;
	size_t np;
	uint32_t next_expected; /* ids arrive in order: the manager counts */
	int have_first;
};

static int grow(struct driver_result *r, uint32_t upto)
{
	struct driver_container *nc;
	unsigned n = upto - r->first_id + 1, old = r->n;

	if (n <= r->n)
		return 0;
	nc = realloc(r->c, n * sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	memset(nc + old, 0, (n - old) * sizeof(*nc));
	r->c = nc;
	r->n = n;
	return 0;
}

static void unplaced(struct driver_result *r, const struct pending *p,
		     unsigned count)
{
	struct driver_unplaced *nu;

	nu = realloc(r->unplaced, (r->nunplaced + 1) * sizeof(*nu));
	if (!nu)
		return;
	r->unplaced = nu;
	nu[r->nunplaced].function = p->function;
	nu[r->nunplaced].requested_ns = p->sent_ns;
	nu[r->nunplaced].count = count;
	r->nunplaced++;
}

/* Containers the manager will never start: no point waiting for them. */
static size_t unplaced_count(const struct driver_result *r)
{
	size_t n = 0;
	unsigned i;

	for (i = 0; i < r->nunplaced; i++)
		n += r->unplaced[i].count;
	return n;
}

static void on_msg(struct drv *d, const struct proto_msg *m)
{
	struct driver_result *r = d->r;
	struct pending *p;
	uint32_t i;

	switch (m->type) {
	case PROTO_INVOKED:
		if (m->id >= d->np)
			return;
		p = &d->p[m->id];
		p->answered = 1;
		if (!d->have_first) {
			r->first_id = m->container;
			d->have_first = 1;
		}
		/* Never more than was asked: a bad answer must not make the
		 * record grow without bound. */
		if (!m->count || m->count > p->containers ||
		    m->container < r->first_id ||
		    grow(r, m->container + m->count - 1))
			return;
		for (i = 0; i < m->count; i++) {
			struct driver_container *c =
				&r->c[m->container - r->first_id + i];

			c->function = p->function;
			c->requested_ns = p->sent_ns;
		}
		/* Asked for more than the manager could place: the rest
		 * failed for want of room. */
		if (p->containers > m->count)
			unplaced(r, p, p->containers - m->count);
		break;
	case PROTO_ERROR:
		if (m->id < d->np && !d->p[m->id].answered) {
			d->p[m->id].answered = 1;
			unplaced(r, &d->p[m->id], d->p[m->id].containers);
		}
		break;
	case PROTO_STARTED:
		if (!d->have_first || m->container < r->first_id ||
		    m->container - r->first_id >= r->n)
			return;
		if (!r->c[m->container - r->first_id].started_ns) {
			r->c[m->container - r->first_id].started_ns = m->t_ns;
			r->started++;
		}
		break;
	default:
		break;
	}
}

int driver_run(uint32_t addr, uint16_t port,
	       const struct scenario_invocation *inv, size_t ninv,
	       const struct scenario *s, uint64_t timeout_ns,
	       volatile sig_atomic_t *stop, const char *label,
	       struct driver_result *r, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr)};
	struct drv d = {.r = r};
	uint8_t *rbuf = NULL;
	size_t rlen = 0, next = 0, asked = 0, i;
	uint64_t last_sent = 0, now, last_progress = 0;
	int fd, ret = 0, tty = isatty(2);

	memset(r, 0, sizeof(*r));
	d.np = ninv;
	d.p = calloc(ninv ? ninv : 1, sizeof(*d.p));
	rbuf = malloc(RBUF);
	if (!d.p || !rbuf) {
		free(d.p);
		free(rbuf);
		return err_set(e, -ENOMEM, "out of memory");
	}
	for (i = 0; i < ninv; i++)
		asked += inv[i].containers;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = err_set(e, -errno, "manager: %s", strerror(errno));
		goto out;
	}
	r->t0_ns = evloop_now_ns();
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int wait_ms = 100;

		now = evloop_now_ns();
		/* Open loop: every invocation whose time has come goes now. */
		while (next < ninv && r->t0_ns + inv[next].t_ns <= now) {
			struct proto_msg m = {.type = PROTO_INVOKE,
					      .id = (uint32_t)next};
			uint8_t *buf;
			size_t len;

			m.function = proto_str(
				s->functions[inv[next].function].name);
			m.count = inv[next].containers;
			d.p[next].function = inv[next].function;
			d.p[next].containers = inv[next].containers;
			d.p[next].sent_ns = now;
			if (proto_encode(&m, &buf, &len, e) ||
			    write(fd, buf, len) != (ssize_t)len) {
				ret = e->msg[0] ? -EIO
						: err_set(e, -EIO,
							  "manager: write "
							  "failed");
				goto out;
			}
			free(buf);
			last_sent = now;
			next++;
		}
		if (next == ninv && (r->started + unplaced_count(r) >= asked ||
				     now - last_sent > timeout_ns))
			break;
		if (stop && *stop) {
			ret = err_set(e, -EINTR, "interrupted");
			break;
		}
		if (next < ninv) {
			uint64_t due = r->t0_ns + inv[next].t_ns;

			if (due > now && (due - now) / 1000000 < 100)
				wait_ms = (int)((due - now) / 1000000);
		}
		if (poll(&pfd, 1, wait_ms) > 0) {
			ssize_t n = read(fd, rbuf + rlen, RBUF - rlen);
			size_t off = 0, total;

			if (n <= 0) {
				ret = err_set(e, -ECONNRESET,
					      "the manager closed the "
					      "connection");
				break;
			}
			rlen += (size_t)n;
			while (rlen - off >= PROTO_HDR_LEN) {
				struct proto_msg m;

				if (proto_frame_len(rbuf + off, &total, e)) {
					ret = -EBADMSG;
					goto out;
				}
				if (rlen - off < total)
					break;
				if (!proto_decode(rbuf + off, total, &m, e))
					on_msg(&d, &m);
				off += total;
			}
			memmove(rbuf, rbuf + off, rlen - off);
			rlen -= off;
		}
		/* Twice a second on a terminal, every five seconds in a log. */
		if (now - last_progress >
		    (tty ? 500000000ull : 5000000000ull)) {
			last_progress = now;
			fprintf(stderr,
				tty ? "\r%s: %u/%zu containers up, "
				      "%.1f s \033[K"
				    : "%s: %u/%zu containers up, "
				      "%.1f s\n",
				label, r->started, asked,
				(double)(now - r->t0_ns) / 1e9);
		}
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	fprintf(stderr, "%s: %u/%zu containers up, %u failed, %.1f s\n", label,
		r->started, asked, (unsigned)(asked - r->started),
		(double)(evloop_now_ns() - r->t0_ns) / 1e9);
	/* Whatever never started counts as failed. */
	r->failed = (unsigned)(asked - r->started);
out:
	if (fd >= 0)
		close(fd);
	free(d.p);
	free(rbuf);
	return ret;
}

void driver_result_free(struct driver_result *r)
{
	free(r->c);
	free(r->unplaced);
	memset(r, 0, sizeof(*r));
}

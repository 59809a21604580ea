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
	struct pending *p; /* indexed by INVOKE id */
	size_t np, capp;
	size_t asked; /* containers asked for so far, over every INVOKE */
	int have_first;
	int fd;
	struct serve *sv; /* serve only */
	uint64_t now;	  /* the world's clock */
	double k;	  /* dilation */
};

uint64_t driver_world_ns(uint64_t t0, double k, uint64_t wall)
{
	if (k <= 1.0 || wall <= t0)
		return wall;
	return t0 + (uint64_t)((double)(wall - t0) / k + 0.5);
}

/* One frame to the manager; -EIO with e saying why. */
static int send_msg(struct drv *d, const struct proto_msg *m, struct err *e)
{
	uint8_t *buf;
	size_t len;
	ssize_t n;

	if (proto_encode(m, &buf, &len, e))
		return -EIO;
	n = write(d->fd, buf, len);
	free(buf);
	if (n != (ssize_t)len)
		return err_set(e, -EIO, "manager: write failed");
	return 0;
}

/* Sends INVOKE for count containers of function fn, id = its index. */
static int send_invoke(struct drv *d, const struct scenario *s, unsigned fn,
		       unsigned count, struct err *e)
{
	struct proto_msg m = {.type = PROTO_INVOKE, .id = (uint32_t)d->np};

	if (d->np == d->capp) {
		size_t cap = d->capp ? 2 * d->capp : 64;
		struct pending *np = realloc(d->p, cap * sizeof(*np));

		if (!np)
			return err_set(e, -ENOMEM, "out of memory");
		d->p = np;
		d->capp = cap;
	}
	m.function = proto_str(s->functions[fn].name);
	m.count = count;
	if (send_msg(d, &m, e))
		return -EIO;
	memset(&d->p[d->np], 0, sizeof(d->p[d->np]));
	d->p[d->np].function = fn;
	d->p[d->np].containers = count;
	d->p[d->np].sent_ns = d->now;
	d->np++;
	d->asked += count;
	return 0;
}

static int send_release(struct drv *d, uint32_t container, struct err *e)
{
	struct proto_msg m = {.type = PROTO_RELEASE, .container = container};

	return send_msg(d, &m, e);
}

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

int driver_record_placed(struct driver_result *r, uint32_t container,
			 uint32_t count, uint32_t asked, unsigned function,
			 uint64_t requested_ns)
{
	uint32_t i;

	/* Never more than was asked, and ids that do not wrap: a bad answer
	 * must neither make the record grow without bound nor land outside
	 * it (container + count - 1 past 2^32 once wrote out of bounds). */
	if (!count || count > asked || container < r->first_id ||
	    count - 1 > UINT32_MAX - container)
		return -ERANGE;
	if (grow(r, container + count - 1))
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		struct driver_container *c = &r->c[container - r->first_id + i];

		c->function = function;
		c->requested_ns = requested_ns;
	}
	return 0;
}

static void unplaced(struct drv *d, const struct pending *p, unsigned count)
{
	struct driver_result *r = d->r;
	struct driver_unplaced *nu;

	if (d->sv)
		serve_refused(d->sv, p->function, count, d->now);
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
		if (driver_record_placed(r, m->container, m->count,
					 p->containers, p->function,
					 p->sent_ns))
			return;
		/* Asked for more than the manager could place: the rest
		 * failed for want of room. */
		if (p->containers > m->count)
			unplaced(d, p, p->containers - m->count);
		break;
	case PROTO_ERROR:
		if (m->id < d->np && !d->p[m->id].answered) {
			d->p[m->id].answered = 1;
			unplaced(d, &d->p[m->id], d->p[m->id].containers);
		}
		break;
	case PROTO_STARTED:
		if (!d->have_first || m->container < r->first_id ||
		    m->container - r->first_id >= r->n)
			return;
		if (!r->c[m->container - r->first_id].started_ns) {
			struct driver_container *c =
				&r->c[m->container - r->first_id];

			/* The agent's wall clock, made the world's. */
			c->started_ns =
				driver_world_ns(r->t0_ns, d->k, m->t_ns);
			r->started++;
			/* Requests can use it from when the driver knows of
			 * it, as a real front end would. */
			if (d->sv &&
			    serve_up(d->sv, m->container, c->function, d->now))
				return;
		}
		break;
	default:
		break;
	}
}

/* serve: the model's asks and releases, sent; and once a second a sample
 * of every function's pool. */
static int serve_step(struct drv *d, const struct scenario *s, unsigned *asks,
		      uint64_t *next_sample, struct err *e)
{
	struct driver_result *r = d->r;
	uint32_t *rel;
	size_t nrel, i;
	unsigned fn;
	int ret;

	if (serve_tick(d->sv, d->now, asks, &rel, &nrel))
		return err_set(e, -ENOMEM, "out of memory");
	for (i = 0, ret = 0; i < nrel && !ret; i++) {
		ret = send_release(d, rel[i], e);
		if (!ret && rel[i] >= r->first_id &&
		    rel[i] - r->first_id < r->n)
			r->c[rel[i] - r->first_id].released_ns = d->now;
	}
	free(rel);
	for (fn = 0; fn < s->nfunctions && !ret; fn++)
		if (asks[fn])
			ret = send_invoke(d, s, fn, asks[fn], e);
	if (ret || d->now < *next_sample)
		return ret;
	*next_sample = d->now + 1000000000ull;
	for (fn = 0; fn < s->nfunctions; fn++) {
		struct driver_sample *ns;

		ns = realloc(r->samples, (r->nsamples + 1) * sizeof(*ns));
		if (!ns)
			return err_set(e, -ENOMEM, "out of memory");
		r->samples = ns;
		ns[r->nsamples].t_ns = d->now;
		ns[r->nsamples].function = fn;
		serve_pool(d->sv, fn, d->now, &ns[r->nsamples].pool);
		r->nsamples++;
	}
	return 0;
}

static int serve_open(struct drv *d, const struct scenario *s, unsigned **asks,
		      struct err *e)
{
	struct serve_opts o = {.service_ns = s->serve.service_ns,
			       .concurrency = s->serve.concurrency,
			       .utilization = s->serve.utilization,
			       .window_ns = s->serve.window_ns,
			       .reclaim_ns = s->reclaim_ns};

	*asks = calloc(s->nfunctions, sizeof(**asks));
	if (!*asks || serve_new(&o, s->nfunctions, &d->sv)) {
		free(*asks);
		*asks = NULL;
		return err_set(e, -EINVAL,
			       "serve: bad options or out of memory");
	}
	return 0;
}

/* Reads what the manager sent; -errno when the connection is unusable. */
static int read_frames(struct drv *d, uint8_t *rbuf, size_t *rlen,
		       struct err *e)
{
	ssize_t n = read(d->fd, rbuf + *rlen, RBUF - *rlen);
	size_t off = 0, total;

	if (n <= 0)
		return err_set(e, -ECONNRESET,
			       "the manager closed the connection");
	*rlen += (size_t)n;
	while (*rlen - off >= PROTO_HDR_LEN) {
		struct proto_msg m;

		if (proto_frame_len(rbuf + off, &total, e))
			return -EBADMSG;
		if (*rlen - off < total)
			break;
		if (!proto_decode(rbuf + off, total, &m, e))
			on_msg(d, &m);
		off += total;
	}
	memmove(rbuf, rbuf + off, *rlen - off);
	*rlen -= off;
	return 0;
}

static void progress(const struct drv *d, const char *label, size_t asked,
		     int tty, int last)
{
	const struct driver_result *r = d->r;
	double t = (double)(d->now - r->t0_ns) / 1e9;
	char reqs[64] = "";

	if (d->sv) {
		const struct serve_request *q;
		size_t n, i, done = 0;

		q = serve_requests(d->sv, &n);
		for (i = 0; i < n; i++)
			done += q[i].served && q[i].done_ns <= d->now;
		snprintf(reqs, sizeof(reqs), "%zu/%zu requests done, ", done,
			 n);
		/* Containers are asked for as the model decides. */
		asked = d->asked;
	}
	if (last) {
		fprintf(stderr,
			"%s%s: %s%u/%zu containers up, %zu failed, "
			"%.1f s\n",
			tty ? "\r\033[K" : "", label, reqs, r->started, asked,
			asked - r->started, t);
		return;
	}
	fprintf(stderr,
		tty ? "\r%s: %s%u/%zu containers up, %.1f s \033[K"
		    : "%s: %s%u/%zu containers up, %.1f s\n",
		label, reqs, r->started, asked, t);
}

int driver_run(uint32_t addr, uint16_t port,
	       const struct scenario_invocation *inv, size_t ninv,
	       const struct scenario *s, uint64_t timeout_ns, double k,
	       volatile sig_atomic_t *stop, const char *label,
	       struct driver_result *r, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr)};
	struct drv d = {.r = r, .fd = -1, .k = k > 1.0 ? k : 1.0};
	uint8_t *rbuf = NULL;
	unsigned *asks = NULL;
	size_t rlen = 0, next = 0, asked = 0, i;
	uint64_t last_sent = 0, last_progress = 0, next_sample = 0;
	int ret = 0, tty = isatty(2);

	memset(r, 0, sizeof(*r));
	rbuf = malloc(RBUF);
	if (!rbuf)
		return err_set(e, -ENOMEM, "out of memory");
	if (s->serve.on && (ret = serve_open(&d, s, &asks, e)))
		goto out;
	for (i = 0; i < ninv; i++)
		asked += inv[i].containers;
	d.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d.fd < 0 || connect(d.fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = err_set(e, -errno, "manager: %s", strerror(errno));
		goto out;
	}
	r->t0_ns = evloop_now_ns();
	for (;;) {
		struct pollfd pfd = {.fd = d.fd, .events = POLLIN};
		int wait_ms = 100, done;

		d.now = driver_world_ns(r->t0_ns, d.k, evloop_now_ns());
		/* Open loop: every invocation whose time has come goes now;
		 * with serve, it is a request, and arrives at its time. */
		while (next < ninv && r->t0_ns + inv[next].t_ns <= d.now) {
			if (d.sv) {
				for (i = 0; i < inv[next].containers; i++)
					if (serve_arrive(
						    d.sv, inv[next].function,
						    r->t0_ns +
							    inv[next].t_ns)) {
						ret = err_set(e, -ENOMEM,
							      "out of memory");
						goto out;
					}
			} else if ((ret = send_invoke(&d, s, inv[next].function,
						      inv[next].containers,
						      e))) {
				goto out;
			}
			last_sent = d.now;
			next++;
		}
		if (d.sv && (ret = serve_step(&d, s, asks, &next_sample, e)))
			goto out;
		if (d.sv)
			asked = d.asked;
		done = r->started + unplaced_count(r) >= asked &&
		       (!d.sv || serve_all_done(d.sv, d.now));
		if (next == ninv && (done || d.now - last_sent > timeout_ns))
			break;
		if (stop && *stop) {
			ret = err_set(e, -EINTR, "interrupted");
			break;
		}
		if (next < ninv) {
			uint64_t due = r->t0_ns + inv[next].t_ns;

			if (due > d.now && (due - d.now) / 1000000 < 100)
				wait_ms = (int)((due - d.now) / 1000000);
		}
		/* The world's ms on the wall clock. */
		wait_ms = (int)(wait_ms * d.k);
		if (poll(&pfd, 1, wait_ms) > 0 &&
		    (ret = read_frames(&d, rbuf, &rlen, e)))
			break;
		/* Twice a second on a terminal, every five seconds in a log. */
		if (d.now - last_progress >
		    (tty ? 500000000ull : 5000000000ull)) {
			last_progress = d.now;
			progress(&d, label, asked, tty, 0);
		}
	}
	d.now = driver_world_ns(r->t0_ns, d.k, evloop_now_ns());
	r->end_ns = d.now;
	progress(&d, label, asked, tty, 1);
	/* Whatever never started counts as failed. */
	r->failed = (unsigned)(asked - r->started);
	if (d.sv) {
		const struct serve_request *q = serve_requests(d.sv, &r->nreq);

		r->req = malloc((r->nreq ? r->nreq : 1) * sizeof(*r->req));
		if (!r->req) {
			r->nreq = 0;
			ret = ret ? ret : err_set(e, -ENOMEM, "out of memory");
		} else {
			memcpy(r->req, q, r->nreq * sizeof(*r->req));
		}
	}
out:
	if (d.fd >= 0)
		close(d.fd);
	serve_free(d.sv);
	free(asks);
	free(d.p);
	free(rbuf);
	return ret;
}

void driver_result_free(struct driver_result *r)
{
	free(r->c);
	free(r->unplaced);
	free(r->req);
	free(r->samples);
	memset(r, 0, sizeof(*r));
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

int driver_wait_agents(uint32_t addr, uint16_t port, unsigned vms,
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

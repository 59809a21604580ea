#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "evloop.h"

struct driver {
	struct driver_result *r;
	const struct driver_target *t;
	size_t asked; /* containers asked for so far, over every invoke */
	unsigned nfailed;
	size_t unrecorded; /* unplaced, but no memory to record them */
	int have_first;
	struct serve *sv; /* serve only */
	uint64_t now;	  /* the world's clock */
	double k;	  /* dilation */
};

uint64_t driver_now(const struct driver *d)
{
	return d->now;
}

uint64_t driver_t0(const struct driver *d)
{
	return d->r->t0_ns;
}

uint64_t driver_world_ns(uint64_t t0, double k, uint64_t wall)
{
	if (k <= 1.0 || wall <= t0)
		return wall;
	return t0 + (uint64_t)((double)(wall - t0) / k + 0.5);
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

int driver_placed(struct driver *d, uint32_t first, uint32_t count,
		  uint32_t asked, unsigned fn, uint64_t requested_ns)
{
	if (!d->have_first) {
		d->r->first_id = first;
		d->have_first = 1;
	}
	return driver_record_placed(d->r, first, count, asked, fn,
				    requested_ns);
}

void driver_unplaced(struct driver *d, unsigned fn, unsigned count,
		     uint64_t requested_ns)
{
	struct driver_result *r = d->r;
	struct driver_unplaced *nu;

	if (d->sv)
		serve_refused(d->sv, fn, count, d->now);
	nu = realloc(r->unplaced, (r->nunplaced + 1) * sizeof(*nu));
	if (!nu) {
		/* Still never to start: the run must not wait for them. */
		d->unrecorded += count;
		return;
	}
	r->unplaced = nu;
	nu[r->nunplaced].function = fn;
	nu[r->nunplaced].requested_ns = requested_ns;
	nu[r->nunplaced].count = count;
	r->nunplaced++;
}

/* The record of container id, or NULL for one never placed. */
static struct driver_container *container_of(struct driver *d, uint32_t id)
{
	struct driver_result *r = d->r;

	if (!d->have_first || id < r->first_id || id - r->first_id >= r->n)
		return NULL;
	return &r->c[id - r->first_id];
}

void driver_started(struct driver *d, uint32_t container, uint64_t wall_ns)
{
	struct driver_container *c = container_of(d, container);

	if (!c || c->started_ns || c->failed)
		return;
	c->started_ns = driver_world_ns(d->r->t0_ns, d->k, wall_ns);
	d->r->started++;
	/* Requests can use it from when the driver knows of it, as a real
	 * front end would. */
	if (d->sv)
		serve_up(d->sv, container, c->function, d->now);
}

void driver_failed(struct driver *d, uint32_t container)
{
	struct driver_container *c = container_of(d, container);

	if (!c || c->started_ns || c->failed)
		return;
	c->failed = 1;
	d->nfailed++;
}

static int invoke(struct driver *d, unsigned fn, unsigned count, struct err *e)
{
	d->asked += count;
	return d->t->invoke(d->t->arg, d, fn, count, e);
}

/* serve: the model's asks and releases, sent; and once a second a sample
 * of every function's pool. */
static int serve_step(struct driver *d, const struct scenario *s,
		      unsigned *asks, uint64_t *next_sample, struct err *e)
{
	struct driver_result *r = d->r;
	uint32_t *rel;
	size_t nrel, i;
	unsigned fn;
	int ret;

	if (serve_tick(d->sv, d->now, asks, &rel, &nrel))
		return err_set(e, -ENOMEM, "out of memory");
	for (i = 0, ret = 0; i < nrel && !ret; i++) {
		ret = d->t->release(d->t->arg, d, rel[i], e);
		if (!ret && rel[i] >= r->first_id &&
		    rel[i] - r->first_id < r->n)
			r->c[rel[i] - r->first_id].released_ns = d->now;
	}
	free(rel);
	for (fn = 0; fn < s->nfunctions && !ret; fn++)
		if (asks[fn])
			ret = invoke(d, fn, asks[fn], e);
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

static int serve_open(struct driver *d, const struct scenario *s,
		      unsigned **asks, struct err *e)
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

static void progress(const struct driver *d, const char *label, size_t asked,
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

static size_t unplaced_count(const struct driver_result *r)
{
	size_t n = 0;
	unsigned i;

	for (i = 0; i < r->nunplaced; i++)
		n += r->unplaced[i].count;
	return n;
}

/* Containers that will never start: no point waiting for them. */
static size_t given_up(const struct driver *d)
{
	return unplaced_count(d->r) + d->nfailed + d->unrecorded;
}

int driver_run(const struct driver_target *t,
	       const struct scenario_invocation *inv, size_t ninv,
	       const struct scenario *s, uint64_t timeout_ns, double k,
	       const struct driver_hook *hook, volatile sig_atomic_t *stop,
	       const char *label, struct driver_result *r, struct err *e)
{
	struct driver d = {.r = r, .t = t, .k = k > 1.0 ? k : 1.0};
	unsigned *asks = NULL, tick = t->tick_ms ? t->tick_ms : 100;
	size_t next = 0, asked = 0, i;
	uint64_t last_sent = 0, last_progress = 0, next_sample = 0;
	uint64_t hook_due = 0; /* world, absolute; 0: none */
	int ret = 0, tty = isatty(2);

	memset(r, 0, sizeof(*r));
	if (s->serve.on && !t->release)
		return err_set(e, -EINVAL,
			       "%s: this strategy cannot serve requests",
			       label);
	if (s->serve.on && (ret = serve_open(&d, s, &asks, e)))
		goto out;
	for (i = 0; i < ninv; i++)
		asked += inv[i].containers;
	r->t0_ns = evloop_now_ns();
	for (;;) {
		struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
		int wait_ms = (int)tick, done, readable;

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
			} else if ((ret = invoke(&d, inv[next].function,
						 inv[next].containers, e))) {
				goto out;
			}
			last_sent = d.now;
			next++;
		}
		if (d.sv && (ret = serve_step(&d, s, asks, &next_sample, e)))
			goto out;
		if (hook) {
			uint64_t due = UINT64_MAX;

			if ((ret = hook->tick(hook->arg, d.now - r->t0_ns,
					      r->started, &due, e)))
				goto out;
			hook_due = due == UINT64_MAX ? 0 : r->t0_ns + due;
		}
		if (d.sv)
			asked = d.asked;
		done = r->started + given_up(&d) >= asked &&
		       (!d.sv || serve_all_done(d.sv, d.now));
		if (next == ninv && (done || d.now - last_sent > timeout_ns))
			break;
		if (stop && *stop) {
			ret = err_set(e, -EINTR, "interrupted");
			break;
		}
		if (next < ninv) {
			uint64_t due = r->t0_ns + inv[next].t_ns;

			if (due > d.now && (due - d.now) / 1000000 < tick)
				wait_ms = (int)((due - d.now) / 1000000);
		}
		if (hook_due > d.now && (hook_due - d.now) / 1000000 <
					       (uint64_t)wait_ms)
			wait_ms = (int)((hook_due - d.now) / 1000000);
		/* The world's ms on the wall clock. */
		wait_ms = (int)(wait_ms * d.k);
		readable = poll(&pfd, 1, wait_ms) > 0 && t->fd >= 0;
		d.now = driver_world_ns(r->t0_ns, d.k, evloop_now_ns());
		if (t->step && (ret = t->step(t->arg, &d, readable, e)))
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
	serve_free(d.sv);
	free(asks);
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

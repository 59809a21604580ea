#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* After the manager had no room for a function, its next ask waits this
 * long: asking again every tick would only fill the record with refusals. */
#define REFUSED_HOLD_NS 1000000000ull

struct container {
	uint32_t id;
	unsigned fn;
	int live;
	uint64_t released_ns;
	uint64_t *free_at; /* per slot: when it is (or was) free */
};

struct fn_state {
	uint32_t *req; /* indices into sv->r, in arrival order */
	size_t nreq, capreq;
	size_t qhead;	/* req[qhead..] are not dispatched yet */
	size_t winhead; /* req[winhead..] arrived within the window */
	size_t *ctr;	/* indices into sv->c of its live containers */
	size_t nctr, capctr;
	unsigned pending;
	uint64_t hold_until;
};

struct serve {
	struct serve_opts o;
	unsigned nfn;
	struct fn_state *fn;
	struct serve_request *r;
	size_t nr, capr;
	size_t nserved;	  /* requests that have had a slot */
	uint64_t last_done; /* the latest done_ns of those */
	struct container *c;
	size_t nc, capc;
	uint64_t now;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

unsigned serve_desired(const struct serve_opts *o, double rate)
{
	double want = rate * ((double)o->service_ns / 1e9) /
		      ((double)o->concurrency * o->utilization);

	/* A hair under a whole number is that number: 0.7 * 10 / 7 must not
	 * become 2 through rounding. */
	return want <= 0 ? 0 : (unsigned)ceil(want - 1e-9);
}

int serve_new(const struct serve_opts *o, unsigned nfunctions,
	      struct serve **out)
{
	struct serve *sv;

	if (!o->service_ns || !o->concurrency || !(o->utilization > 0) ||
	    o->utilization > 1 || !o->window_ns || !nfunctions)
		return -EINVAL;
	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return -ENOMEM;
	sv->fn = calloc(nfunctions, sizeof(*sv->fn));
	if (!sv->fn) {
		free(sv);
		return -ENOMEM;
	}
	sv->o = *o;
	sv->nfn = nfunctions;
	*out = sv;
	return 0;
}

void serve_free(struct serve *sv)
{
	size_t i;

	if (!sv)
		return;
	for (i = 0; i < sv->nfn; i++) {
		free(sv->fn[i].req);
		free(sv->fn[i].ctr);
	}
	for (i = 0; i < sv->nc; i++)
		free(sv->c[i].free_at);
	free(sv->fn);
	free(sv->r);
	free(sv->c);
	free(sv);
}

static void start(struct serve *sv, struct fn_state *f, size_t ci,
		  unsigned slot, uint64_t at)
{
	struct serve_request *r = &sv->r[f->req[f->qhead++]];
	struct container *c = &sv->c[ci];

	r->start_ns = at > r->arrival_ns ? at : r->arrival_ns;
	r->done_ns = r->start_ns + sv->o.service_ns;
	r->container = c->id;
	r->served = 1;
	sv->nserved++;
	if (r->done_ns > sv->last_done)
		sv->last_done = r->done_ns;
	c->free_at[slot] = r->done_ns;
}

/* Queued requests of f take slots in the order the slots freed, each at
 * the moment its slot freed (or it arrived, if later), up to t. */
static void dispatch_queued(struct serve *sv, struct fn_state *f, uint64_t t)
{
	while (f->qhead < f->nreq) {
		size_t best = 0, k;
		unsigned slot = 0, s;
		uint64_t at = UINT64_MAX;

		for (k = 0; k < f->nctr; k++) {
			struct container *c = &sv->c[f->ctr[k]];

			for (s = 0; s < sv->o.concurrency; s++)
				if (c->free_at[s] < at) {
					at = c->free_at[s];
					best = f->ctr[k];
					slot = s;
				}
		}
		if (at > t)
			return;
		start(sv, f, best, slot, at);
	}
}

int serve_arrive(struct serve *sv, unsigned fn, uint64_t t)
{
	struct fn_state *f;
	struct serve_request *r;
	size_t k;
	unsigned s;

	if (fn >= sv->nfn)
		return -EINVAL;
	t = t > sv->now ? t : sv->now;
	sv->now = t;
	f = &sv->fn[fn];
	dispatch_queued(sv, f, t);
	if (grow((void **)&sv->r, &sv->capr, sv->nr + 1, sizeof(*sv->r)) ||
	    grow((void **)&f->req, &f->capreq, f->nreq + 1, sizeof(*f->req)))
		return -ENOMEM;
	r = &sv->r[sv->nr];
	memset(r, 0, sizeof(*r));
	r->function = fn;
	r->arrival_ns = t;
	f->req[f->nreq++] = (uint32_t)sv->nr++;
	if (f->qhead + 1 < f->nreq)
		return 0; /* others wait before it */
	/* Packing: the oldest container with a free slot, so that the
	 * youngest go idle first and can be reclaimed. */
	for (k = 0; k < f->nctr; k++)
		for (s = 0; s < sv->o.concurrency; s++)
			if (sv->c[f->ctr[k]].free_at[s] <= t) {
				start(sv, f, f->ctr[k], s, t);
				return 0;
			}
	return 0;
}

int serve_up(struct serve *sv, uint32_t id, unsigned fn, uint64_t t)
{
	struct fn_state *f;
	struct container *c;
	size_t i;
	unsigned s;

	if (fn >= sv->nfn)
		return -EINVAL;
	t = t > sv->now ? t : sv->now;
	for (i = 0; i < sv->nc; i++)
		if (sv->c[i].id == id)
			return 0;
	f = &sv->fn[fn];
	if (grow((void **)&sv->c, &sv->capc, sv->nc + 1, sizeof(*sv->c)) ||
	    grow((void **)&f->ctr, &f->capctr, f->nctr + 1, sizeof(*f->ctr)))
		return -ENOMEM;
	c = &sv->c[sv->nc];
	memset(c, 0, sizeof(*c));
	c->free_at = malloc(sv->o.concurrency * sizeof(*c->free_at));
	if (!c->free_at)
		return -ENOMEM;
	sv->now = t;
	dispatch_queued(sv, f, t);
	c->id = id;
	c->fn = fn;
	c->live = 1;
	for (s = 0; s < sv->o.concurrency; s++)
		c->free_at[s] = t;
	f->ctr[f->nctr++] = sv->nc++;
	if (f->pending)
		f->pending--;
	dispatch_queued(sv, f, t);
	return 0;
}

void serve_refused(struct serve *sv, unsigned fn, unsigned n, uint64_t t)
{
	struct fn_state *f;

	if (fn >= sv->nfn)
		return;
	f = &sv->fn[fn];
	f->pending = n > f->pending ? 0 : f->pending - n;
	f->hold_until = t + REFUSED_HOLD_NS;
}

static uint64_t last_free(const struct serve *sv, const struct container *c)
{
	uint64_t last = 0;
	unsigned s;

	for (s = 0; s < sv->o.concurrency; s++)
		if (c->free_at[s] > last)
			last = c->free_at[s];
	return last;
}

int serve_tick(struct serve *sv, uint64_t t, unsigned *asks,
	       uint32_t **release, size_t *nrelease)
{
	uint32_t *rel = NULL;
	size_t nrel = 0, caprel = 0;
	unsigned i;

	*release = NULL;
	*nrelease = 0;
	if (t > sv->now)
		sv->now = t;
	t = sv->now;
	for (i = 0; i < sv->nfn; i++) {
		struct fn_state *f = &sv->fn[i];
		unsigned desired, have;
		size_t k;

		dispatch_queued(sv, f, t);
		/* The rate over the window, and the pool it needs. */
		while (f->winhead < f->nreq &&
		       sv->r[f->req[f->winhead]].arrival_ns + sv->o.window_ns <=
			       t)
			f->winhead++;
		desired = serve_desired(
			&sv->o, (double)(f->nreq - f->winhead) /
					((double)sv->o.window_ns / 1e9));
		/* Requests waiting with nothing on its way for them (their
		 * burst left the window while a refusal held us back): one. */
		if (!desired && f->qhead < f->nreq)
			desired = 1;
		/* Released: idle (every slot free) for the reclaim time, while
		 * the pool is larger than the rate needs. With slots to spare
		 * (utilization below 1), packing leaves the youngest container
		 * idle even in a steady burst; releasing it would only have
		 * the autoscaler ask for it again. The queue is empty whenever
		 * a slot is free. */
		for (k = 0; sv->o.reclaim_ns && k < f->nctr && f->nctr > desired;) {
			struct container *c = &sv->c[f->ctr[k]];

			if (last_free(sv, c) + sv->o.reclaim_ns > t) {
				k++;
				continue;
			}
			if (grow((void **)&rel, &caprel, nrel + 1,
				 sizeof(*rel))) {
				free(rel);
				return -ENOMEM;
			}
			rel[nrel++] = c->id;
			c->live = 0;
			c->released_ns = t;
			f->ctr[k] = f->ctr[--f->nctr];
		}
		have = (unsigned)f->nctr + f->pending;
		asks[i] = 0;
		if (desired > have && t >= f->hold_until) {
			asks[i] = desired - have;
			f->pending += asks[i];
		}
	}
	*release = rel;
	*nrelease = nrel;
	return 0;
}

int serve_all_done(const struct serve *sv, uint64_t t)
{
	return sv->nserved == sv->nr && sv->last_done <= t;
}

void serve_pool(const struct serve *sv, unsigned fn, uint64_t t,
		struct serve_pool *p)
{
	const struct fn_state *f;
	size_t k;
	unsigned s;

	memset(p, 0, sizeof(*p));
	if (fn >= sv->nfn)
		return;
	f = &sv->fn[fn];
	p->live = (unsigned)f->nctr;
	p->pending = f->pending;
	p->queued = (unsigned)(f->nreq - f->qhead);
	for (k = 0; k < f->nctr; k++)
		for (s = 0; s < sv->o.concurrency; s++)
			p->busy += sv->c[f->ctr[k]].free_at[s] > t;
}

const struct serve_request *serve_requests(const struct serve *sv, size_t *n)
{
	*n = sv->nr;
	return sv->r;
}

uint64_t serve_released_ns(const struct serve *sv, uint32_t id)
{
	size_t i;

	for (i = 0; i < sv->nc; i++)
		if (sv->c[i].id == id)
			return sv->c[i].released_ns;
	return 0;
}

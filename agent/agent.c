/* The agent's glue: the manager link, provisioning, and the wiring of the
 * parts: image.c (one function's image: which source to ask and when),
 * cache.c (what it holds), source.c (the parent and the registry),
 * children.c (serving children). One block's path from the registry to a
 * leaf: docs/ARCHITECTURE.md, "Inside an agent". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "children.h"
#include "conn.h"
#include "eventlog.h"
#include "evloop.h"
#include "image.h"
#include "proto.h"
#include "regworker.h"

#define RECONNECT_MS 300
#define TICK_MS	     500

struct agent {
	const struct agent_opts *o;
	struct image_env env;
	int rw_fd, listen_fd;
	struct conn *mgr;
	struct image *images;
	enum lie_mode lie;
	uint64_t t_start; /* in every HELLO: this process, not another */
};

static void send_mgr(struct agent *a, const struct proto_msg *m)
{
	struct err e = {""};

	if (a->mgr && conn_send(a->mgr, m, &e))
		eventlog_write(a->env.log, "send_failed",
			       json_pack("{s:s, s:s}", "type",
					 proto_type_name(m->type), "error",
					 e.msg));
}

/* With no manager connection now, connect_manager sends it on
 * reconnecting. */
static void started(void *arg, const char *function, uint32_t container,
		    uint64_t t_ns)
{
	struct proto_msg m = {.type = PROTO_STARTED};

	m.function = proto_str(function);
	m.container = container;
	m.t_ns = t_ns;
	send_mgr(arg, &m);
}

/* Lost with the manager connection if there is none now: the lie is
 * still in the timeline, and the liar is still routed around. */
static void suspect(void *arg, const char *function, struct proto_peer parent,
		    enum proto_suspect_kind kind, const char *why)
{
	struct proto_msg m = {.type = PROTO_SUSPECT, .kind = kind};

	m.function = proto_str(function);
	m.parent = parent;
	m.message = proto_str(why);
	send_mgr(arg, &m);
}

/* --- children: what they ask of this agent ---------------------------- */

static struct cache *by_ref(void *arg, const struct proto_str *ref)
{
	struct agent *a = arg;
	struct image *im;

	for (im = a->images; im; im = im->next)
		if (strlen(im->cache.ref) == ref->len &&
		    !memcmp(im->cache.ref, ref->s, ref->len))
			return &im->cache;
	return NULL;
}

static int digest_eq(const char *z, const struct proto_str *s)
{
	return z[0] && strlen(z) == s->len && !memcmp(z, s->s, s->len);
}

static struct cache *by_digest(void *arg, const struct proto_str *d)
{
	struct agent *a = arg;
	struct image *im;

	for (im = a->images; im; im = im->next) {
		struct cache *c = &im->cache;

		if (digest_eq(cache_config_digest(c), d) ||
		    digest_eq(cache_index_digest(c), d) ||
		    digest_eq(cache_data_digest(c), d))
			return c;
	}
	return NULL;
}

static struct image *of_cache(struct agent *a, struct cache *c)
{
	struct image *im;

	for (im = a->images; im && &im->cache != c; im = im->next)
		;
	return im;
}

static void child_wanted(void *arg, struct cache *c)
{
	struct image *im = of_cache(arg, c);

	if (im)
		image_fetch(im);
}

static void child_served(void *arg, struct cache *c, uint64_t bytes)
{
	struct image *im = of_cache(arg, c);

	if (im)
		im->served += bytes;
}

static const struct children_ops children_ops = {
	.by_ref = by_ref,
	.by_digest = by_digest,
	.wanted = child_wanted,
	.served = child_served,
};

/* --- the manager ---------------------------------------------------------- */

static struct image *find_fn(struct agent *a, const struct proto_str *fn)
{
	struct image *im;

	for (im = a->images; im; im = im->next)
		if (strlen(im->function) == fn->len &&
		    !memcmp(im->function, fn->s, fn->len))
			return im;
	return NULL;
}

static void tick(struct evloop *l, void *arg);

static void provision(struct agent *a, const struct proto_msg *m)
{
	struct image *im = find_fn(a, &m->function);
	char fn[IMAGE_FN_MAX], ref[CACHE_REF_MAX];
	struct container *ct;
	struct err e = {""};

	/* A name cut to fit would never match again: refuse it whole. */
	if (m->function.len >= IMAGE_FN_MAX || m->image.len >= CACHE_REF_MAX) {
		eventlog_write(a->env.log, "provision_refused",
			       json_pack("{s:i, s:s}", "container",
					 (int)m->container, "why",
					 "function or image name too long"));
		return;
	}
	if (!im) {
		snprintf(fn, sizeof(fn), "%.*s", (int)m->function.len,
			 m->function.s);
		snprintf(ref, sizeof(ref), "%.*s", (int)m->image.len,
			 m->image.s);
		if (image_new(&a->env, fn, ref, m->strategy, &im, &e)) {
			eventlog_write(a->env.log, "provision_refused",
				       json_pack("{s:i, s:s}", "container",
						 (int)m->container, "why",
						 e.msg));
			return;
		}
		/* The first image starts the time-out tick: an agent that
		 * holds none sleeps (a thousand idle ones on one host). */
		if (!a->images && evloop_timer(a->env.l, TICK_MS, tick, a) < 0)
			evloop_stop(a->env.l);
		im->next = a->images;
		a->images = im;
	}
	/* A repeat from a manager that restarted, or that this agent left
	 * and came back to: the container is here already. */
	for (ct = im->cts; ct && ct->id != m->container; ct = ct->next)
		;
	if (ct) {
		if (ct->started)
			started(a, im->function, ct->id, ct->t_started);
		return;
	}
	image_provision(im, m->container, m->parent, m->runtime_ms);
}

/* The manager released this VM's last container of an image, and the VM
 * left the function's tree: like a VM back in the free pool, it holds none
 * of the image's blocks any more. The meta stays, and so do children's
 * requests waiting for blocks. */
static void evict(struct agent *a, uint32_t container)
{
	struct container *ct = NULL;
	struct image *im;
	uint32_t freed;

	for (im = a->images; im; im = im->next) {
		for (ct = im->cts; ct && ct->id != container; ct = ct->next)
			;
		if (ct)
			break;
	}
	if (!im || im->cache.meta != CACHE_META_HELD)
		return;
	freed = image_evict(im);
	image_log(im, "evicted",
		  json_pack("{s:i, s:i}", "container", (int)container, "blocks",
			    (int)freed));
}

static void connect_manager(struct evloop *l, void *arg);

static void mgr_frame(struct conn *c, const struct proto_msg *m, void *arg)
{
	struct agent *a = arg;
	struct image *im;

	(void)c;
	switch (m->type) {
	case PROTO_HEARTBEAT: {
		struct proto_msg r = {.type = PROTO_HEARTBEAT, .id = m->id};

		send_mgr(a, &r);
		break;
	}
	case PROTO_PROVISION:
		provision(a, m);
		break;
	case PROTO_PARENT:
		/* The parent it has already, said again after a restart of
		 * the manager: nothing to drop and fetch again. */
		im = find_fn(a, &m->function);
		if (im && im->strategy == PROTO_STRATEGY_FAASNET &&
		    (im->parent.addr != m->parent.addr ||
		     im->parent.port != m->parent.port))
			image_set_parent(im, m->parent);
		break;
	case PROTO_RELEASE:
		evict(a, m->container);
		break;
	default:
		break;
	}
}

static void mgr_closed(struct conn *c, int error, const char *why, void *arg)
{
	struct agent *a = arg;

	(void)c;
	a->mgr = NULL;
	eventlog_write(a->env.log, "manager_lost",
		       json_pack("{s:i, s:s}", "error", error, "why", why));
	if (evloop_timer(a->env.l, RECONNECT_MS, connect_manager, a) < 0)
		evloop_stop(a->env.l);
}

static void connect_manager(struct evloop *l, void *arg)
{
	struct agent *a = arg;
	struct proto_msg m = {.type = PROTO_HELLO};
	struct err e = {""};
	struct image *im;
	struct container *ct;

	if (conn_connect(l, a->o->manager_addr, a->o->manager_port, mgr_frame,
			 mgr_closed, a, &a->mgr, &e)) {
		if (evloop_timer(l, RECONNECT_MS, connect_manager, a) < 0)
			evloop_stop(l);
		return;
	}
	m.vm = proto_str(a->o->name);
	m.addr = a->o->addr;
	m.port = a->o->port;
	/* The manager keeps this VM's place only for the process it placed
	 * containers on. */
	m.t_ns = a->t_start;
	send_mgr(a, &m);
	/* Everything that started, again: a STARTED in flight when the old
	 * connection broke is lost with it, and the manager (and the driver
	 * behind it) ignore repeats. */
	for (im = a->images; im; im = im->next)
		for (ct = im->cts; ct; ct = ct->next)
			if (ct->started)
				started(a, im->function, ct->id, ct->t_started);
}

/* --- the loop's other inputs ------------------------------------------ */

static void on_results(struct evloop *l, int fd, unsigned events, void *arg)
{
	struct agent *a = arg;
	struct regres *r, *rn;

	(void)l;
	(void)fd;
	(void)events;
	for (r = regworker_take(a->env.rw); r; r = rn) {
		rn = r->next;
		source_registry_result(r);
		regres_free(r);
	}
}

/* Time-outs: every image looks at its requests in flight. */
static void tick(struct evloop *l, void *arg)
{
	struct agent *a = arg;
	uint64_t now = evloop_now_ns();
	struct image *im;

	for (im = a->images; im; im = im->next)
		image_tick(im, now);
	if (evloop_timer(l, TICK_MS, tick, a) < 0)
		evloop_stop(l);
}

/* The agent lies to its children from now on as mode says (lie.h), or is
 * honest again: in the timeline, with what it did before and who said
 * so. */
static void set_lie(struct agent *a, int mode, const char *by)
{
	if (mode < LIE_NONE || mode >= LIE_MAX) {
		eventlog_write(a->env.log, "lie_refused",
			       json_pack("{s:i, s:s}", "mode", mode, "by", by));
		return;
	}
	eventlog_write(a->env.log, "lie",
		       json_pack("{s:s, s:s, s:s}", "mode", lie_name(mode),
				 "was", lie_name(a->lie), "by", by));
	a->lie = (enum lie_mode)mode;
	children_set_lie(a->env.children, a->lie);
}

/* The stop descriptor: a stop, or (SIGUSR1) a lie to tell. */
static void on_signal(struct evloop *l, int fd, unsigned events, void *arg)
{
	int signo, value;

	(void)events;
	if (evloop_signal_read(fd, &signo, &value) == -EAGAIN)
		return;
	if (signo == SIGUSR1)
		set_lie(arg, value, "signal");
	else
		evloop_stop(l);
}

/* --- setup and teardown ------------------------------------------------- */

int agent_run(const struct agent_opts *o, int stop_fd, struct err *e)
{
	struct agent a = {.o = o, .listen_fd = -1, .rw_fd = -1};
	struct image *im, *in;
	int ret;

	a.env.o = o;
	a.env.started = started;
	a.env.suspect = suspect;
	a.env.arg = &a;
	a.t_start = evloop_now_ns();
	a.env.rnd = (uint32_t)a.t_start ^ o->addr;
	ret = eventlog_open(o->events, o->name, &a.env.log);
	if (ret)
		return err_set(e, ret, "%s: %s", o->events, strerror(-ret));
	ret = evloop_new(&a.env.l);
	if (ret) {
		err_set(e, ret, "event loop: %s", strerror(-ret));
		goto out;
	}
	if (o->dilation > 1.0 &&
	    (ret = evloop_set_dilation(a.env.l, o->dilation))) {
		err_set(e, ret, "dilation %g: expected at least 1",
			o->dilation);
		goto out;
	}
	a.listen_fd = conn_listen(o->addr, o->port, 64, e);
	if (a.listen_fd < 0) {
		ret = a.listen_fd;
		goto out;
	}
	ret = regworker_start(&a.env.rw,
			      o->registry_requests ? o->registry_requests
						   : AGENT_REGISTRY_REQUESTS,
			      o->meta_dir, o->registry_via, o->dilation,
			      &a.rw_fd);
	if (ret) {
		err_set(e, ret, "registry worker: %s", strerror(-ret));
		goto out;
	}
	ret = children_start(a.env.l, a.listen_fd, &children_ops, &a,
			     o->max_children, &a.env.children);
	if (!ret)
		ret = evloop_add(a.env.l, a.rw_fd, EVLOOP_IN, on_results, &a);
	if (!ret)
		ret = evloop_add(a.env.l, stop_fd, EVLOOP_IN, on_signal, &a);
	if (ret) {
		err_set(e, ret, "event loop: %s", strerror(-ret));
		goto out;
	}
	eventlog_write(a.env.log, "agent_up",
		       json_pack("{s:i, s:s*}", "port", (int)o->port,
				 "registry_via", o->registry_via));
	if (o->lie)
		set_lie(&a, o->lie, "option");
	connect_manager(a.env.l, &a);
	ret = evloop_run(a.env.l, -1);
	evloop_del(a.env.l, stop_fd);

	for (im = a.images; im; im = im->next)
		image_log(im, "stats",
			  json_pack("{s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i}",
				    "registry_bytes",
				    (json_int_t)image_registry_bytes(im),
				    "parent_bytes",
				    (json_int_t)image_parent_bytes(im),
				    "served_bytes", (json_int_t)im->served,
				    "refetches", (int)im->refetches,
				    "corrupt_blocks", (int)im->corrupt,
				    "parent_lies", (int)im->lies,
				    "parent_unresponsive",
				    (int)im->unresponsive, "blocks_held",
				    (int)im->cache.npresent));
out:
	/* The worker first: its results name images about to go; then the
	 * children, whose queues hold references to the images' blocks. */
	regworker_stop(a.env.rw);
	children_free(a.env.children);
	for (im = a.images; im; im = in) {
		in = im->next;
		image_free(im);
	}
	if (a.mgr)
		conn_close(a.mgr);
	if (a.listen_fd >= 0)
		close(a.listen_fd);
	evloop_free(a.env.l);
	eventlog_close(a.env.log);
	return ret;
}

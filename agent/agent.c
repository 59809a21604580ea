/* The agent's glue: the manager link, provisioning, and the wiring of the
 * three parts (cache.c holds an image, source.c fetches it, children.c
 * serves it). One block's path: source.c (peer_frame or
 * source_registry_result) -> got_block here -> cache_block_put (verified,
 * decompressed, stored) -> children_block_ready (sent by reference to
 * every child that waits) -> container_check (STARTED). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cache.h"
#include "children.h"
#include "conn.h"
#include "eventlog.h"
#include "evloop.h"
#include "oci.h"
#include "proto.h"
#include "regworker.h"
#include "sha256.h"
#include "source.h"

#define RECONNECT_MS 300
#define TICK_MS	     500
#define FN_MAX	     128

struct agent;

struct container {
	uint32_t id;
	uint64_t t_cmd;
	uint64_t t_started; /* resent to a reconnecting manager */
	int started;
	struct container *next;
};

/* One function's image on this VM: its place in that function's tree (the
 * parent), its cache, and where it fetches from now. */
struct image {
	struct agent *a;
	char function[FN_MAX];
	uint8_t strategy;
	struct cache cache;
	struct proto_peer parent; /* addr 0: the registry */
	struct source *peer;	  /* the parent's back end, or NULL */
	struct source *reg;	  /* the registry's */
	/* The parent failed SOURCE_PARENT_FAILS times in a row, or lied:
	 * the registry until the manager names another parent. */
	int use_registry;
	int meta_asked;	     /* a META request in flight */
	unsigned fails;	     /* failures in a row, for the back-off */
	unsigned meta_tries; /* of the current source */
	uint8_t *tries;	     /* per block, of the current source */
	long retry_timer;    /* armed: nothing is asked until it fires */
	int startup_wanted;
	int first_block_logged;
	int gave_up;
	struct container *cts;
	uint64_t old_parent_bytes, served;
	unsigned refetches, corrupt, lies;
	struct image *next;
};

struct agent {
	const struct agent_opts *o;
	struct evloop *l;
	struct eventlog *log;
	struct regworker *rw;
	int rw_fd, listen_fd;
	struct conn *mgr;
	struct children *children;
	struct image *images;
	uint32_t rnd; /* back-off jitter */
};

static void log_ev(struct image *im, const char *ev, json_t *f)
{
	if (!f)
		f = json_object();
	json_object_set_new(f, "function", json_string(im->function));
	json_object_set_new(f, "image", json_string(im->cache.ref));
	eventlog_write(im->a->log, ev, f);
}

static void send_mgr(struct agent *a, const struct proto_msg *m)
{
	struct err e = {""};

	if (a->mgr && conn_send(a->mgr, m, &e))
		eventlog_write(a->log, "send_failed",
			       json_pack("{s:s, s:s}", "type",
					 proto_type_name(m->type), "error",
					 e.msg));
}

static uint64_t parent_bytes(const struct image *im)
{
	return im->old_parent_bytes + (im->peer ? im->peer->bytes : 0);
}

static uint64_t registry_bytes(const struct image *im)
{
	return im->reg ? im->reg->bytes : 0;
}

/* --- which source, and asking it -------------------------------------- */

static struct source *current(struct image *im)
{
	if (!im->parent.addr || im->use_registry)
		return im->reg;
	return im->peer;
}

static void drop_peer(struct image *im)
{
	if (!im->peer)
		return;
	im->old_parent_bytes += im->peer->bytes;
	source_free(im->peer);
	im->peer = NULL;
	/* What was asked of it is asked again of the next source; nothing
	 * already held is thrown away. */
	cache_rewant(&im->cache);
	if (im->cache.meta != CACHE_META_HELD) {
		im->meta_asked = 0;
		if (im->cache.meta == CACHE_META_MANIFEST)
			cache_drop_meta(&im->cache);
	}
}

/* A new source starts with a fresh budget for every request. */
static void fresh_budget(struct image *im)
{
	im->fails = 0;
	im->meta_tries = 0;
	im->gave_up = 0;
	if (im->tries && im->cache.meta == CACHE_META_HELD)
		memset(im->tries, 0, im->cache.ix.nblocks);
}

static void retry_fired(struct evloop *l, void *arg);
static void fetch(struct image *im);
static const struct source_sink sink;

/* Something asked failed: after a back-off with jitter (one timer per
 * image, however many requests failed at once), what is missing is asked
 * again; a parent that keeps failing is left for the registry. */
static void failure(struct image *im, struct source *s, const char *why)
{
	struct agent *a = im->a;
	unsigned ms;

	if (im->retry_timer)
		return; /* the same burst: one failure, one timer */
	im->fails++;
	if (s == im->peer && im->fails >= SOURCE_PARENT_FAILS) {
		log_ev(im, "parent_failed",
		       json_pack("{s:s, s:i}", "why", why, "failures",
				 (int)im->fails));
		im->use_registry = 1;
		im->fails = 0;
		drop_peer(im);
		fetch(im);
		return;
	}
	/* The registry failed where the parent had been left: the parent
	 * again next time (it may only have been slow, or its lie a one-off);
	 * the budgets, which only a new parent renews, bound the ping-pong. */
	if (s == im->reg && im->use_registry && im->parent.addr) {
		im->use_registry = 0;
		im->fails = 0;
	}
	a->rnd = a->rnd * 1103515245u + 12345u;
	ms = source_backoff_ms(im->fails, a->rnd >> 8);
	log_ev(im, "retry",
	       json_pack("{s:s, s:s, s:i}", "why", why, "source",
			 s ? s->ops->name : "parent", "ms", (int)ms));
	im->retry_timer = evloop_timer(a->l, ms, retry_fired, im);
	if (im->retry_timer < 0)
		im->retry_timer = 0;
}

static void retry_fired(struct evloop *l, void *arg)
{
	struct image *im = arg;

	(void)l;
	im->retry_timer = 0;
	fetch(im);
}

/* The parent sent bytes that fail their check: it is reported, and what
 * is missing is asked of the registry (a parent that serves a whole
 * consistent fake image fails at its manifest, which the reference pins,
 * and then at every block). Only if the registry fails too is the parent
 * asked again, within the budgets. */
static void lied(struct image *im, const char *why)
{
	struct in_addr ia = {.s_addr = htonl(im->parent.addr)};
	char addr[32];

	inet_ntop(AF_INET, &ia, addr, sizeof(addr));
	im->lies++;
	log_ev(im, "parent_lied",
	       json_pack("{s:s, s:i, s:s}", "parent", addr, "port",
			 (int)im->parent.port, "why", why));
	im->use_registry = 1;
	im->fails = 0;
	drop_peer(im);
	fetch(im);
}

static int ensure_peer(struct image *im)
{
	struct err e = {""};
	int ret;

	if (im->peer || !im->parent.addr || im->use_registry)
		return 0;
	ret = source_peer_new(im->a->l, im->parent,
			      im->a->o->request_timeout_ms, &im->cache, &sink,
			      im, &im->peer, &e);
	if (ret)
		log_ev(im, "error", json_pack("{s:s}", "error", e.msg));
	return ret;
}

/* Asks the current source for whatever is missing: the meta, else every
 * WANTED block. Nothing while a back-off runs. */
static void fetch(struct image *im)
{
	struct cache *c = &im->cache;
	struct source *s;
	uint32_t *list, n = 0, b;
	int ret;

	if (im->retry_timer || im->gave_up ||
	    im->strategy == PROTO_STRATEGY_REGISTRY)
		return;
	if (ensure_peer(im)) {
		failure(im, im->peer, "cannot connect to the parent");
		return;
	}
	s = current(im);
	if (c->meta != CACHE_META_HELD) {
		if (im->meta_asked)
			return;
		if (im->meta_tries >= SOURCE_BUDGET) {
			im->gave_up = 1;
			log_ev(im, "gave_up",
			       json_pack("{s:s}", "what", "meta"));
			return;
		}
		/* An unpinned reference has no digest to check a parent's
		 * manifest against: its meta (a few KB) comes from the
		 * registry, the root of trust for a tag. */
		if (!c->pin[0])
			s = im->reg;
		im->meta_asked = 1;
		im->meta_tries++;
		ret = source_request(s, SOURCE_REQ_META, NULL, 0);
		if (ret) {
			im->meta_asked = 0;
			failure(im, s, "cannot ask for the meta");
		}
		return;
	}
	list = malloc((c->ix.nblocks ? c->ix.nblocks : 1) * sizeof(*list));
	if (!list)
		return;
	for (b = 0; b < c->ix.nblocks; b++)
		if (c->state[b] == CACHE_BLOCK_WANTED) {
			c->state[b] = CACHE_BLOCK_REQUESTED;
			list[n++] = b;
		}
	if (n && source_request(s, SOURCE_REQ_BLOCKS, list, n)) {
		cache_rewant(c);
		failure(im, s, "cannot ask for blocks");
	}
	free(list);
}

/* --- what the sources hand back --------------------------------------- */

static void container_check(struct image *im);

/* The block index from the node's metadata store, when it is there and
 * matches the digest the manifest names: it then never crosses the shaped
 * links, where its size would not scale (docs/fidelity.md). */
static void index_from_store(struct image *im)
{
	struct cache *c = &im->cache;
	const char *want = cache_index_digest(c);
	uint8_t d[SHA256_LEN];
	char got[SHA256_OCI_LEN];
	struct err e = {""};
	char *buf;
	size_t len;

	if (!im->a->o->meta_dir || c->index ||
	    oci_layout_read_blob(im->a->o->meta_dir, want, &buf, &len, &e))
		return;
	if (!sha256_buf(buf, len, d) && !strcmp(sha256_oci(d, got), want) &&
	    cache_set_index(c, buf, len, &e))
		log_ev(im, "error", json_pack("{s:s}", "error", e.msg));
	free(buf);
}

static void meta_ready(struct image *im)
{
	struct cache *c = &im->cache;
	uint32_t i;

	im->meta_asked = 0;
	im->fails = 0;
	free(im->tries);
	im->tries = calloc(c->ix.nblocks + 1, 1);
	log_ev(im, "manifest",
	       json_pack("{s:i, s:i}", "blocks", (int)c->ix.nblocks,
			 "startup_blocks", (int)c->ix.nstartup));
	/* faasnet and ondemand: the start-up set, on demand (paper: later
	 * reads fetch through the tree too; nothing in the background). */
	if (im->cts)
		for (i = 0; i < c->ix.nstartup; i++)
			cache_want(c, c->ix.startup[i]);
	im->startup_wanted = im->cts != NULL;
	children_meta_ready(im->a->children, c);
	fetch(im);
	container_check(im);
}

static void got_doc(void *arg, struct source *s, enum source_doc d,
		    const void *data, size_t len)
{
	struct image *im = arg;
	struct cache *c = &im->cache;
	struct err e = {""};
	int ret;

	if (!data)
		return;
	if (d == SOURCE_DOC_MANIFEST)
		ret = cache_set_manifest(c, data, len, &e);
	else if (d == SOURCE_DOC_CONFIG)
		ret = cache_set_config(c, data, len, &e);
	else
		ret = cache_set_index(c, data, len, &e);
	if (ret == -EALREADY || ret == -ENOENT)
		return; /* a repeat, or its manifest was refused */
	if (!ret && d == SOURCE_DOC_MANIFEST)
		index_from_store(im);
	if (ret) {
		log_ev(im, "bad_meta",
		       json_pack("{s:s, s:s}", "source", s->ops->name, "error",
				 e.msg));
		im->meta_asked = 0;
		if (s == im->peer)
			lied(im, e.msg);
		else
			failure(im, s, e.msg);
		return;
	}
	if (c->meta == CACHE_META_HELD)
		meta_ready(im);
}

static void give_up_block(struct image *im, uint32_t b)
{
	im->cache.state[b] = CACHE_BLOCK_ABSENT;
	log_ev(im, "gave_up",
	       json_pack("{s:s, s:i}", "what", "block", "block", (int)b));
	children_block_failed(im->a->children, &im->cache, b, -EIO);
}

/* A block's request failed from s: asked again after the back-off, up to
 * the budget. */
static void block_failed(struct image *im, uint32_t b)
{
	struct cache *c = &im->cache;

	if (c->meta != CACHE_META_HELD || b >= c->ix.nblocks ||
	    c->state[b] != CACHE_BLOCK_REQUESTED)
		return;
	c->state[b] = CACHE_BLOCK_WANTED;
	if (im->tries[b] < 255)
		im->tries[b]++;
	if (im->tries[b] >= SOURCE_BUDGET)
		give_up_block(im, b);
}

static void got_block(void *arg, struct source *s, uint32_t b, const void *data,
		      size_t len)
{
	struct image *im = arg;
	struct cache *c = &im->cache;
	struct err e = {""};
	int ret;

	ret = cache_block_put(c, b, data, len, &e);
	if (ret == -EALREADY || ret == -ERANGE)
		return;
	if (ret) {
		im->corrupt++;
		im->refetches++;
		log_ev(im, "corrupt_block",
		       json_pack("{s:i, s:s, s:s}", "block", (int)b, "source",
				 s->ops->name, "error", e.msg));
		if (b < c->ix.nblocks && c->state[b] == CACHE_BLOCK_PRESENT)
			return;
		if (b < c->ix.nblocks)
			c->state[b] = CACHE_BLOCK_REQUESTED;
		block_failed(im, b);
		if (s == im->peer)
			lied(im, e.msg);
		else
			failure(im, s, "a block failed verification");
		return;
	}
	im->fails = 0;
	if (!im->first_block_logged) {
		im->first_block_logged = 1;
		log_ev(im, "first_block", json_pack("{s:i}", "block", (int)b));
	}
	log_ev(im, "block",
	       json_pack("{s:i, s:i, s:s}", "block", (int)b, "bytes", (int)len,
			 "source", s->ops->name));
	children_block_ready(im->a->children, c, b);
	if (c->npresent == c->ix.nblocks)
		log_ev(im, "all_blocks",
		       json_pack("{s:I, s:I}", "registry_bytes",
				 (json_int_t)registry_bytes(im), "parent_bytes",
				 (json_int_t)parent_bytes(im)));
	container_check(im);
}

static void got_failure(void *arg, struct source *s, enum source_req r,
			const uint32_t *list, uint32_t first, uint32_t n,
			int error, const char *why)
{
	struct image *im = arg;
	uint32_t i;

	log_ev(im, s->ops->from_registry ? "registry_error" : "parent_error",
	       json_pack("{s:i, s:s}", "error", error, "message", why));
	if (r == SOURCE_REQ_META) {
		im->meta_asked = 0;
		if (im->cache.meta == CACHE_META_MANIFEST)
			cache_drop_meta(&im->cache);
	} else if (r == SOURCE_REQ_BLOCKS) {
		for (i = 0; i < n; i++)
			block_failed(im, list ? list[i] : first + i);
	} else if (im->meta_tries++ >= SOURCE_BUDGET) {
		log_ev(im, "gave_up", json_pack("{s:s}", "what", "layer"));
		return;
	}
	failure(im, s, why);
}

static void container_started(struct image *im, struct container *ct);

static void got_layer(void *arg, struct source *s, uint64_t bytes)
{
	struct image *im = arg;
	struct container *ct;

	(void)s;
	(void)bytes;
	for (ct = im->cts; ct; ct = ct->next)
		if (!ct->started)
			container_started(im, ct);
}

static const struct source_sink sink = {
	.doc = got_doc,
	.block = got_block,
	.failed = got_failure,
	.layer_done = got_layer,
};

/* --- containers ------------------------------------------------------- */

/* A container is up: say so in the timeline and to the manager. */
static void container_started(struct image *im, struct container *ct)
{
	struct proto_msg m = {.type = PROTO_STARTED};

	ct->started = 1;
	m.function = proto_str(im->function);
	m.container = ct->id;
	m.t_ns = evloop_now_ns();
	log_ev(im, "started",
	       json_pack("{s:i, s:f, s:I, s:I}", "container", (int)ct->id,
			 "seconds", (double)(m.t_ns - ct->t_cmd) / 1e9,
			 "registry_bytes", (json_int_t)registry_bytes(im),
			 "parent_bytes", (json_int_t)parent_bytes(im)));
	ct->t_started = m.t_ns;
	/* With no manager connection now, connect_manager sends it on
	 * reconnecting. */
	send_mgr(im->a, &m);
}

static void container_check(struct image *im)
{
	struct cache *c = &im->cache;
	struct container *ct;
	uint32_t b;

	/* registry: the layer job says when (got_layer). */
	if (im->strategy == PROTO_STRATEGY_REGISTRY ||
	    !cache_startup_complete(c))
		return;
	for (ct = im->cts; ct; ct = ct->next) {
		if (ct->started)
			continue;
		container_started(im, ct);
		if (!im->a->o->background)
			continue;
		/* The rest, queued behind what is already asked for. */
		for (b = 0; b < c->ix.nblocks; b++)
			cache_want(c, b);
		fetch(im);
	}
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
		fetch(im);
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

static void set_parent(struct image *im, struct proto_peer p)
{
	struct in_addr ia = {.s_addr = htonl(p.addr)};
	char addr[32];

	drop_peer(im);
	im->parent = p;
	im->use_registry = 0;
	fresh_budget(im);
	if (im->retry_timer) {
		evloop_cancel(im->a->l, im->retry_timer);
		im->retry_timer = 0;
	}
	inet_ntop(AF_INET, &ia, addr, sizeof(addr));
	log_ev(im, "parent",
	       json_pack("{s:s, s:i}", "parent", p.addr ? addr : "registry",
			 "port", (int)p.port));
	fetch(im);
}

static struct image *find_fn(struct agent *a, const struct proto_str *fn)
{
	struct image *im;

	for (im = a->images; im; im = im->next)
		if (strlen(im->function) == fn->len &&
		    !memcmp(im->function, fn->s, fn->len))
			return im;
	return NULL;
}

static struct image *new_image(struct agent *a, const struct proto_msg *m)
{
	struct image *im = calloc(1, sizeof(*im));
	char ref[CACHE_REF_MAX];
	struct err e = {""};

	if (!im)
		return NULL;
	snprintf(ref, sizeof(ref), "%.*s", (int)m->image.len, m->image.s);
	if (cache_init(&im->cache, ref, &e) ||
	    source_registry_new(a->rw, &im->cache, &sink, im, &im->reg)) {
		eventlog_write(a->log, "provision_refused",
			       json_pack("{s:i, s:s}", "container",
					 (int)m->container, "why",
					 e.msg[0] ? e.msg : "out of memory"));
		free(im);
		return NULL;
	}
	im->a = a;
	snprintf(im->function, sizeof(im->function), "%.*s",
		 (int)m->function.len, m->function.s);
	im->strategy = m->strategy;
	im->next = a->images;
	a->images = im;
	return im;
}

static void provision(struct agent *a, const struct proto_msg *m)
{
	struct image *im = find_fn(a, &m->function);
	struct container *ct;
	uint32_t i;

	/* A name cut to fit would never match again: refuse it whole. */
	if (m->function.len >= FN_MAX || m->image.len >= CACHE_REF_MAX) {
		eventlog_write(a->log, "provision_refused",
			       json_pack("{s:i, s:s}", "container",
					 (int)m->container, "why",
					 "function or image name too long"));
		return;
	}
	if (!im && !(im = new_image(a, m)))
		return;
	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return;
	ct->id = m->container;
	ct->t_cmd = evloop_now_ns();
	ct->next = im->cts;
	im->cts = ct;
	log_ev(im, "provision",
	       json_pack("{s:i, s:i}", "container", (int)ct->id, "strategy",
			 (int)m->strategy));
	if (m->strategy == PROTO_STRATEGY_REGISTRY) {
		if (source_request(im->reg, SOURCE_REQ_LAYER, NULL, 0))
			failure(im, im->reg, "cannot ask for the layer");
		return;
	}
	if (im->cache.meta != CACHE_META_HELD || !im->startup_wanted) {
		struct proto_peer p = m->parent;

		/* ondemand ignores the tree: straight to the registry. */
		if (m->strategy == PROTO_STRATEGY_ONDEMAND)
			p.addr = 0;
		/* Back after an eviction: the start-up set again, from
		 * wherever the VM sits in the tree now. */
		for (i = 0; im->cache.meta == CACHE_META_HELD &&
			    i < im->cache.ix.nstartup;
		     i++)
			cache_want(&im->cache, im->cache.ix.startup[i]);
		im->startup_wanted = im->cache.meta == CACHE_META_HELD;
		set_parent(im, p);
	}
	container_check(im);
}

/* The manager released this VM's last container of an image, and the VM
 * left the function's tree: like a VM back in the free pool, it holds none
 * of the image's blocks any more. The meta stays, and so do children's
 * requests waiting for blocks. A block still queued for a child keeps its
 * bytes until written (the cache's reference counts). */
static void evict(struct agent *a, uint32_t container)
{
	struct container *ct, *cn;
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
	freed = cache_evict(&im->cache);
	im->startup_wanted = 0;
	for (ct = im->cts; ct; ct = cn) {
		cn = ct->next;
		free(ct);
	}
	im->cts = NULL;
	log_ev(im, "evicted",
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
		im = find_fn(a, &m->function);
		if (im && im->strategy == PROTO_STRATEGY_FAASNET)
			set_parent(im, m->parent);
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
	eventlog_write(a->log, "manager_lost",
		       json_pack("{s:i, s:s}", "error", error, "why", why));
	if (evloop_timer(a->l, RECONNECT_MS, connect_manager, a) < 0)
		evloop_stop(a->l);
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
	send_mgr(a, &m);
	/* Everything that started, again: a STARTED in flight when the old
	 * connection broke is lost with it, and the manager (and the driver
	 * behind it) ignore repeats. */
	for (im = a->images; im; im = im->next)
		for (ct = im->cts; ct; ct = ct->next) {
			struct proto_msg st = {.type = PROTO_STARTED};

			if (!ct->started)
				continue;
			st.function = proto_str(im->function);
			st.container = ct->id;
			st.t_ns = ct->t_started;
			send_mgr(a, &st);
		}
}

/* --- the loop's other inputs ------------------------------------------ */

static void on_results(struct evloop *l, int fd, unsigned events, void *arg)
{
	struct agent *a = arg;
	struct regres *r, *rn;

	(void)l;
	(void)fd;
	(void)events;
	for (r = regworker_take(a->rw); r; r = rn) {
		rn = r->next;
		source_registry_result(r);
		regres_free(r);
	}
}

/* Timeouts: every source looks at its requests in flight. */
static void tick(struct evloop *l, void *arg)
{
	struct agent *a = arg;
	uint64_t now = evloop_now_ns();
	struct image *im;

	for (im = a->images; im; im = im->next)
		if (im->peer)
			im->peer->ops->tick(im->peer, now);
	if (evloop_timer(l, TICK_MS, tick, a) < 0)
		evloop_stop(l);
}

/* --- setup and teardown ------------------------------------------------- */

static void free_image(struct image *im)
{
	struct container *ct, *cn;

	source_free(im->peer);
	source_free(im->reg);
	for (ct = im->cts; ct; ct = cn) {
		cn = ct->next;
		free(ct);
	}
	free(im->tries);
	cache_free(&im->cache);
	free(im);
}

int agent_run(const struct agent_opts *o, volatile int *stop, struct err *e)
{
	struct agent a = {.o = o, .listen_fd = -1, .rw_fd = -1};
	struct image *im, *in;
	int ret;

	a.rnd = (uint32_t)evloop_now_ns() ^ o->addr;
	ret = eventlog_open(o->events, o->name, &a.log);
	if (ret)
		return err_set(e, ret, "%s: %s", o->events, strerror(-ret));
	ret = evloop_new(&a.l);
	if (ret) {
		err_set(e, ret, "event loop: %s", strerror(-ret));
		goto out;
	}
	a.listen_fd = conn_listen(o->addr, o->port, 64, e);
	if (a.listen_fd < 0) {
		ret = a.listen_fd;
		goto out;
	}
	ret = regworker_start(&a.rw,
			      o->registry_requests ? o->registry_requests
						   : AGENT_REGISTRY_REQUESTS,
			      o->meta_dir, &a.rw_fd);
	if (ret) {
		err_set(e, ret, "registry worker: %s", strerror(-ret));
		goto out;
	}
	ret = children_start(a.l, a.listen_fd, &children_ops, &a,
			     o->max_children, &a.children);
	if (!ret)
		ret = evloop_add(a.l, a.rw_fd, EVLOOP_IN, on_results, &a);
	if (!ret && evloop_timer(a.l, TICK_MS, tick, &a) < 0)
		ret = -ENOMEM;
	if (ret) {
		err_set(e, ret, "event loop: %s", strerror(-ret));
		goto out;
	}
	eventlog_write(a.log, "agent_up",
		       json_pack("{s:i}", "port", (int)o->port));
	connect_manager(a.l, &a);
	ret = evloop_run(a.l, stop);

	for (im = a.images; im; im = im->next)
		log_ev(im, "stats",
		       json_pack("{s:I, s:I, s:I, s:i, s:i, s:i, s:i}",
				 "registry_bytes",
				 (json_int_t)registry_bytes(im), "parent_bytes",
				 (json_int_t)parent_bytes(im), "served_bytes",
				 (json_int_t)im->served, "refetches",
				 (int)im->refetches, "corrupt_blocks",
				 (int)im->corrupt, "parent_lies", (int)im->lies,
				 "blocks_held", (int)im->cache.npresent));
out:
	/* The worker first: its results name images about to go; then the
	 * children, whose queues hold references to the images' blocks. */
	regworker_stop(a.rw);
	children_free(a.children);
	for (im = a.images; im; im = in) {
		in = im->next;
		free_image(im);
	}
	if (a.mgr)
		conn_close(a.mgr);
	if (a.listen_fd >= 0)
		close(a.listen_fd);
	evloop_free(a.l);
	eventlog_close(a.log);
	return ret;
}

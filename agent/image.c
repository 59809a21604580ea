#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "oci.h"

void image_log(struct image *im, const char *ev, json_t *f)
{
	if (!f)
		f = json_object();
	json_object_set_new(f, "function", json_string(im->function));
	json_object_set_new(f, "image", json_string(im->cache.ref));
	eventlog_write(im->env->log, ev, f);
}

uint64_t image_parent_bytes(const struct image *im)
{
	return im->old_parent_bytes + (im->peer ? im->peer->bytes : 0);
}

uint64_t image_registry_bytes(const struct image *im)
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
	struct image_env *env = im->env;
	unsigned ms;

	if (im->retry_timer)
		return; /* the same burst: one failure, one timer */
	im->fails++;
	if (s == im->peer && im->fails >= SOURCE_PARENT_FAILS) {
		image_log(im, "parent_failed",
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
	env->rnd = env->rnd * 1103515245u + 12345u;
	ms = source_backoff_ms(im->fails, env->rnd >> 8);
	image_log(im, "retry",
		  json_pack("{s:s, s:s, s:i}", "why", why, "source",
			    s ? s->ops->name : "parent", "ms", (int)ms));
	im->retry_timer = evloop_timer(env->l, ms, retry_fired, im);
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

/* The parent is left at once: it sent bytes that fail their check
 * (PROTO_SUSPECT_BAD_BYTES: a parent that serves a whole consistent fake
 * image fails at its manifest, which the reference pins, and then at
 * every block), or it is unresponsive (silent or slow, source.h). It is
 * reported, in the timeline and to the manager (SUSPECT of that kind),
 * which decides what to believe and may name a new parent; until then
 * what is missing is asked of the registry. Only if the registry fails
 * too is the parent asked again, within the budgets. */
static void leave_parent(struct image *im, enum proto_suspect_kind kind,
			 const char *why)
{
	struct in_addr ia = {.s_addr = htonl(im->parent.addr)};
	int lie = kind == PROTO_SUSPECT_BAD_BYTES;
	char addr[32];

	inet_ntop(AF_INET, &ia, addr, sizeof(addr));
	if (lie)
		im->lies++;
	else
		im->unresponsive++;
	image_log(im, lie ? "parent_lied" : "parent_unresponsive",
		  json_pack("{s:s, s:i, s:s}", "parent", addr, "port",
			    (int)im->parent.port, "why", why));
	if (im->env->suspect)
		im->env->suspect(im->env->arg, im->function, im->parent, kind,
				 why);
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
	ret = source_peer_new(im->env->l, im->parent,
			      im->env->o->request_timeout_ms, &im->cache, &sink,
			      im, &im->peer, &e);
	if (ret)
		image_log(im, "error", json_pack("{s:s}", "error", e.msg));
	return ret;
}

/* The registry strategy's one request: the whole layer, unless one is in
 * flight or every container is up. */
static void request_layer(struct image *im)
{
	struct container *ct;

	for (ct = im->cts; ct && ct->started; ct = ct->next)
		;
	if (im->layer_asked || im->layer_local || !ct)
		return;
	if (source_request(im->reg, SOURCE_REQ_LAYER, NULL, 0)) {
		failure(im, im->reg, "cannot ask for the layer");
		return;
	}
	im->layer_asked = 1;
}

/* Moves block b, if WANTED, onto list[n..]: the new n. */
static uint32_t take_wanted(struct cache *c, uint32_t b, uint32_t *list,
			    uint32_t n)
{
	if (c->state[b] == CACHE_BLOCK_WANTED) {
		c->state[b] = CACHE_BLOCK_REQUESTED;
		list[n++] = b;
	}
	return n;
}

/* One request of list[0..n); 0, or -1 when it could not be asked (what
 * was asked is asked again after the back-off). */
static int ask_blocks(struct image *im, struct source *s, const uint32_t *list,
		      uint32_t n)
{
	if (!n || !source_request(s, SOURCE_REQ_BLOCKS, list, n))
		return 0;
	cache_rewant(&im->cache);
	failure(im, s, "cannot ask for blocks");
	return -1;
}

/* Every WANTED block, asked in three requests by priority: the blocks a
 * start's read waits for, then the start-up set in the order a start reads
 * it, then the rest (the background, children's asks) by number. A request
 * each, so that the registry, which reads one request's blocks by offset,
 * keeps the order between them too; the parent answers in the order
 * asked. */
static void fetch_blocks(struct image *im, struct source *s)
{
	struct cache *c = &im->cache;
	struct container *ct;
	uint32_t *list, n = 0, b, first, count;

	list = malloc((c->ix.nblocks ? c->ix.nblocks : 1) * sizeof(*list));
	if (!list) {
		failure(im, s, "out of memory");
		return;
	}
	for (ct = im->cts; ct; ct = ct->next)
		if (start_waiting(&ct->st, &first, &count))
			for (b = first; b < first + count; b++)
				n = take_wanted(c, b, list, n);
	if (ask_blocks(im, s, list, n))
		goto out;
	n = 0;
	for (b = 0; b < c->ix.nstartup; b++)
		n = take_wanted(c, c->ix.startup[b], list, n);
	if (ask_blocks(im, s, list, n))
		goto out;
	n = 0;
	for (b = 0; b < c->ix.nblocks; b++)
		n = take_wanted(c, b, list, n);
	ask_blocks(im, s, list, n);
out:
	free(list);
}

/* Asks the current source for whatever is missing: the meta, else every
 * WANTED block. Nothing while a back-off runs. */
static void fetch(struct image *im)
{
	struct cache *c = &im->cache;
	struct source *s;
	int ret;

	if (im->retry_timer || im->gave_up)
		return;
	/* Once the layer is here, the registry strategy still needs the
	 * meta, for the trace (its index from the metadata store). */
	if (im->strategy == PROTO_STRATEGY_REGISTRY && !im->layer_local) {
		/* The pull failed (a transfer that stalled 30 s, say): the
		 * whole layer again, as docker pull would, within the budget
		 * got_failure keeps. Without this, a retry did nothing and
		 * the container never started. */
		request_layer(im);
		return;
	}
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
			image_log(im, "gave_up",
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
	fetch_blocks(im, s);
}

/* --- what the sources hand back --------------------------------------- */

static void container_check(struct image *im);
static void containers_go(struct image *im);
static void containers_poke(struct image *im);

/* The block index from the node's metadata store, when it is there and
 * matches the digest the manifest names: it then never crosses the shaped
 * links, where its size would not scale (docs/fidelity.md). Either source
 * asks for it only when it is not (peer_ask_blobs, reg_ask_index). A store
 * file that does not match is not read (oci_layout_read_blob checks), so
 * it never reaches the cache, whose refusal would drop the manifest too. */
static void index_from_store(struct image *im)
{
	struct cache *c = &im->cache;
	struct err e = {""};
	char *buf;
	size_t len;

	if (!im->env->o->meta_dir || c->index ||
	    oci_layout_read_blob(im->env->o->meta_dir, cache_index_digest(c),
				 &buf, &len, &e))
		return;
	/* It matched the manifest's digest, so the image itself is broken
	 * (the network would serve the same bytes): the meta is asked again
	 * within its budget, then given up, never waited for in silence. */
	if (cache_set_index(c, buf, len, &e)) {
		image_log(im, "bad_meta",
			  json_pack("{s:s, s:s}", "source", "store", "error",
				    e.msg));
		im->meta_asked = 0;
		failure(im, NULL, e.msg);
	}
	free(buf);
}

/* faasnet: the start-up set, prefetched behind what the starts read
 * (paper: later reads fetch through the tree too; nothing in the
 * background). ondemand with a trace is lazy: only what a read waits for.
 * registry: nothing, the layer is here. */
static void want_startup(struct image *im)
{
	struct cache *c = &im->cache;
	uint32_t i;

	im->startup_wanted = im->cts != NULL;
	if (!im->cts || im->strategy == PROTO_STRATEGY_REGISTRY ||
	    (im->strategy == PROTO_STRATEGY_ONDEMAND && c->ix.ntrace))
		return;
	for (i = 0; i < c->ix.nstartup; i++)
		cache_want(c, c->ix.startup[i]);
}

static void containers_go(struct image *im);

static void meta_ready(struct image *im)
{
	struct cache *c = &im->cache;

	im->meta_asked = 0;
	im->fails = 0;
	free(im->tries);
	im->tries = calloc(c->ix.nblocks + 1, 1);
	image_log(im, "manifest",
		  json_pack("{s:i, s:i}", "blocks", (int)c->ix.nblocks,
			    "startup_blocks", (int)c->ix.nstartup));
	want_startup(im);
	children_meta_ready(im->env->children, c);
	containers_go(im);
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
		image_log(im, "bad_meta",
			  json_pack("{s:s, s:s}", "source", s->ops->name,
				    "error", e.msg));
		im->meta_asked = 0;
		if (s == im->peer)
			leave_parent(im, PROTO_SUSPECT_BAD_BYTES, e.msg);
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
	image_log(im, "gave_up",
		  json_pack("{s:s, s:i}", "what", "block", "block", (int)b));
	children_block_failed(im->env->children, &im->cache, b, -EIO);
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
		image_log(im, "corrupt_block",
			  json_pack("{s:i, s:s, s:s}", "block", (int)b,
				    "source", s->ops->name, "error", e.msg));
		if (b < c->ix.nblocks && c->state[b] == CACHE_BLOCK_PRESENT)
			return;
		if (b < c->ix.nblocks)
			c->state[b] = CACHE_BLOCK_REQUESTED;
		block_failed(im, b);
		if (s == im->peer)
			leave_parent(im, PROTO_SUSPECT_BAD_BYTES, e.msg);
		else
			failure(im, s, "a block failed verification");
		return;
	}
	im->fails = 0;
	if (!im->first_block_logged) {
		im->first_block_logged = 1;
		image_log(im, "first_block",
			  json_pack("{s:i}", "block", (int)b));
	}
	image_log(im, "block",
		  json_pack("{s:i, s:i, s:s}", "block", (int)b, "bytes",
			    (int)len, "source", s->ops->name));
	children_block_ready(im->env->children, c, b);
	if (c->npresent == c->ix.nblocks)
		image_log(im, "all_blocks",
			  json_pack("{s:I, s:I}", "registry_bytes",
				    (json_int_t)image_registry_bytes(im),
				    "parent_bytes",
				    (json_int_t)image_parent_bytes(im)));
	/* image_ready before a start that this block ends says started. */
	container_check(im);
	containers_poke(im);
}

static void got_failure(void *arg, struct source *s, enum source_req r,
			const uint32_t *list, uint32_t first, uint32_t n,
			int error, const char *why)
{
	struct image *im = arg;
	uint32_t i;

	image_log(im, s->ops->from_registry ? "registry_error" : "parent_error",
		  json_pack("{s:i, s:s}", "error", error, "message", why));
	if (r == SOURCE_REQ_META) {
		im->meta_asked = 0;
		if (im->cache.meta == CACHE_META_MANIFEST)
			cache_drop_meta(&im->cache);
	} else if (r == SOURCE_REQ_BLOCKS) {
		for (i = 0; i < n; i++)
			block_failed(im, list ? list[i] : first + i);
	} else {
		/* SOURCE_REQ_LAYER: the pull is over, failed */
		im->layer_asked = 0;
		if (im->meta_tries++ >= SOURCE_BUDGET) {
			image_log(im, "gave_up",
				  json_pack("{s:s}", "what", "layer"));
			return;
		}
	}
	failure(im, s, why);
}

/* registry: the whole layer is here (docker pull is done); the starts
 * play their traces with every block local, once the meta is read (the
 * worker has the manifest and config already, the index is in the
 * metadata store). */
static void got_layer(void *arg, struct source *s, uint64_t bytes)
{
	struct image *im = arg;

	(void)s;
	(void)bytes;
	im->layer_asked = 0;
	im->layer_local = 1;
	container_check(im);
	fetch(im);
	containers_go(im);
}

/* Only the parent's back end says so. */
static void got_unresponsive(void *arg, struct source *s, const char *why)
{
	(void)s;
	leave_parent(arg, PROTO_SUSPECT_UNRESPONSIVE, why);
}

static const struct source_sink sink = {
	.doc = got_doc,
	.block = got_block,
	.failed = got_failure,
	.layer_done = got_layer,
	.unresponsive = got_unresponsive,
};

/* --- containers ------------------------------------------------------- */

static void container_started(struct image *im, struct container *ct);

/* What a start reads is here: the whole layer (registry), else the
 * block. */
static int st_present(void *arg, uint32_t b)
{
	struct container *ct = arg;
	struct cache *c = &ct->im->cache;

	return ct->im->layer_local ||
	       (b < c->ix.nblocks && c->state[b] == CACHE_BLOCK_PRESENT);
}

static int st_startup_present(void *arg)
{
	struct container *ct = arg;

	return ct->im->layer_local || cache_startup_complete(&ct->im->cache);
}

/* A read waits: its absent blocks are wanted and asked for at once,
 * ahead of any prefetch (fetch_blocks). */
static void st_need(void *arg, struct start *s, uint32_t first, uint32_t count)
{
	struct container *ct = arg;
	uint32_t b;

	(void)s;
	for (b = first; b < first + count; b++)
		cache_want(&ct->im->cache, b);
	fetch(ct->im);
}

static void st_done(void *arg, struct start *s)
{
	struct container *ct = arg;

	(void)s;
	if (!ct->started)
		container_started(ct->im, ct);
}

static const struct start_ops start_ops = {
	.present = st_present,
	.startup_present = st_startup_present,
	.need = st_need,
	.done = st_done,
};

/* The image is usable by a container's runtime: the meta (lazy
 * strategies), and for the registry strategy the whole layer too. */
static int usable(const struct image *im)
{
	return im->cache.meta == CACHE_META_HELD &&
	       (im->strategy != PROTO_STRATEGY_REGISTRY || im->layer_local);
}

static void containers_go(struct image *im)
{
	struct container *ct;

	if (!usable(im))
		return;
	for (ct = im->cts; ct; ct = ct->next)
		if (!ct->started)
			start_go(&ct->st, &im->cache.ix);
}

static void containers_poke(struct image *im)
{
	struct container *ct;

	for (ct = im->cts; ct; ct = ct->next)
		start_poke(&ct->st);
}

/* A container is up: say so in the timeline and to the manager. */
static void container_started(struct image *im, struct container *ct)
{
	uint64_t t = evloop_now_ns();

	ct->started = 1;
	ct->t_started = t;
	image_log(im, "started",
		  json_pack("{s:i, s:f, s:I, s:I}", "container", (int)ct->id,
			    "seconds", (double)(t - ct->t_cmd) / 1e9,
			    "registry_bytes",
			    (json_int_t)image_registry_bytes(im),
			    "parent_bytes",
			    (json_int_t)image_parent_bytes(im)));
	im->env->started(im->env->arg, im->function, ct->id, t);
}

/* The start-up set is here (registry: the whole layer): image_ready in
 * the timeline for each container that waited (the results' image_ready_s,
 * docs/results.md); with --background, the rest of the image from now on,
 * behind whatever a start still reads. A container's start is its own
 * (start.c): it may still be in its runtime start or its trace. */
static void container_check(struct image *im)
{
	struct cache *c = &im->cache;
	struct container *ct;
	uint64_t t = evloop_now_ns();
	uint32_t b;

	if (!(im->strategy == PROTO_STRATEGY_REGISTRY
		      ? im->layer_local
		      : c->meta == CACHE_META_HELD &&
				cache_startup_complete(c)))
		return;
	for (ct = im->cts; ct; ct = ct->next) {
		if (ct->ready_logged)
			continue;
		ct->ready_logged = 1;
		image_log(im, "image_ready",
			  json_pack("{s:i, s:f}", "container", (int)ct->id,
				    "seconds", (double)(t - ct->t_cmd) / 1e9));
	}
	if (im->ready || !im->cts)
		return;
	im->ready = 1;
	if (!im->env->o->background || im->strategy == PROTO_STRATEGY_REGISTRY)
		return;
	for (b = 0; b < c->ix.nblocks; b++)
		cache_want(c, b);
	fetch(im);
}

void image_set_parent(struct image *im, struct proto_peer p)
{
	struct in_addr ia = {.s_addr = htonl(p.addr)};
	char addr[32];

	drop_peer(im);
	im->parent = p;
	im->use_registry = 0;
	fresh_budget(im);
	if (im->retry_timer) {
		evloop_cancel(im->env->l, im->retry_timer);
		im->retry_timer = 0;
	}
	inet_ntop(AF_INET, &ia, addr, sizeof(addr));
	image_log(im, "parent",
		  json_pack("{s:s, s:i}", "parent", p.addr ? addr : "registry",
			    "port", (int)p.port));
	fetch(im);
}

void image_fetch(struct image *im)
{
	fetch(im);
}

void image_tick(struct image *im, uint64_t now_ns)
{
	if (im->peer)
		im->peer->ops->tick(im->peer, now_ns);
}

int image_new(struct image_env *env, const char *function, const char *ref,
	      uint8_t strategy, struct image **out, struct err *e)
{
	struct image *im = calloc(1, sizeof(*im));
	int ret;

	if (!im)
		return err_set(e, -ENOMEM, "out of memory");
	ret = cache_init(&im->cache, ref, e);
	if (!ret) {
		ret = source_registry_new(env->rw, &im->cache, &sink, im,
					  &im->reg);
		if (ret)
			err_set(e, ret, "out of memory");
	}
	if (ret) {
		free(im);
		return ret;
	}
	im->env = env;
	snprintf(im->function, sizeof(im->function), "%s", function);
	im->strategy = strategy;
	*out = im;
	return 0;
}

void image_provision(struct image *im, uint32_t container,
		     struct proto_peer parent, unsigned runtime_ms)
{
	struct container *ct = calloc(1, sizeof(*ct));

	if (!ct) {
		image_log(im, "provision_refused",
			  json_pack("{s:i, s:s}", "container", (int)container,
				    "why", "out of memory"));
		return;
	}
	ct->im = im;
	ct->id = container;
	ct->t_cmd = evloop_now_ns();
	start_init(&ct->st, im->env->l, &start_ops, ct, runtime_ms);
	ct->next = im->cts;
	im->cts = ct;
	image_log(im, "provision",
		  json_pack("{s:i, s:i, s:i}", "container", (int)ct->id,
			    "strategy", (int)im->strategy, "runtime_ms",
			    (int)runtime_ms));
	if (im->strategy == PROTO_STRATEGY_REGISTRY) {
		request_layer(im);
		container_check(im);
		containers_go(im);
		return;
	}
	if (im->cache.meta != CACHE_META_HELD || !im->startup_wanted) {
		/* ondemand ignores the tree: straight to the registry. */
		if (im->strategy == PROTO_STRATEGY_ONDEMAND)
			parent.addr = 0;
		/* Back after an eviction: the start-up set again, from
		 * wherever the VM sits in the tree now. */
		if (im->cache.meta == CACHE_META_HELD)
			want_startup(im);
		image_set_parent(im, parent);
	}
	container_check(im);
	containers_go(im);
}

uint32_t image_evict(struct image *im)
{
	struct container *ct, *cn;
	uint32_t freed;

	if (im->cache.meta != CACHE_META_HELD)
		return 0;
	freed = cache_evict(&im->cache);
	im->startup_wanted = 0;
	im->layer_local = 0;
	im->ready = 0;
	for (ct = im->cts; ct; ct = cn) {
		cn = ct->next;
		start_stop(&ct->st);
		free(ct);
	}
	im->cts = NULL;
	return freed;
}

void image_free(struct image *im)
{
	struct container *ct, *cn;

	if (!im)
		return;
	if (im->retry_timer)
		evloop_cancel(im->env->l, im->retry_timer);
	source_free(im->peer);
	source_free(im->reg);
	for (ct = im->cts; ct; ct = cn) {
		cn = ct->next;
		start_stop(&ct->st);
		free(ct);
	}
	free(im->tries);
	cache_free(&im->cache);
	free(im);
}

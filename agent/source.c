#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "source.h"

unsigned source_backoff_ms(unsigned tries, uint32_t rnd)
{
	unsigned base = SOURCE_BACKOFF_MIN_MS, half;

	while (tries > 1 && base < SOURCE_BACKOFF_MAX_MS) {
		base *= 2;
		tries--;
	}
	if (base > SOURCE_BACKOFF_MAX_MS)
		base = SOURCE_BACKOFF_MAX_MS;
	half = base / 2;
	return half + rnd % (base - half + 1);
}

void source_free(struct source *s)
{
	if (s)
		s->ops->free(s);
}

/* --- the peer back end ------------------------------------------------ */

/* One request in flight to the parent, matched by the id we chose. */
struct peer_req {
	uint32_t id;
	enum source_req r;
	enum source_doc doc; /* META: which document this id asked for */
	uint32_t block, count, left;
	struct peer_req *next;
};

struct peer {
	struct source s;
	struct evloop *l;
	struct proto_peer p;
	struct conn *c;
	unsigned timeout_ms;
	uint32_t next_id;
	struct peer_req *reqs;
	unsigned nreqs;
	uint64_t last_progress; /* a frame from the parent, or the first ask */
	/* Since when requests have been in flight without a pause (or since
	 * the last window that had enough frames), and the frames since. */
	uint64_t window_start;
	unsigned window_frames;
	/* Inside a call into the sink, which may free this source (a lying
	 * parent is dropped from got_doc): freeing waits for the way out. */
	int busy, doomed;
};

static void peer_destroy(struct peer *pp);

static void enter(struct peer *pp)
{
	pp->busy++;
}

/* 1 when the source is gone and the caller must not touch it again. */
static int leave(struct peer *pp)
{
	if (--pp->busy || !pp->doomed)
		return 0;
	peer_destroy(pp);
	return 1;
}

static void peer_frame(struct conn *c, const struct proto_msg *m, void *arg);
static void peer_closed(struct conn *c, int error, const char *why, void *arg);

static int peer_connect(struct peer *pp, struct err *e)
{
	if (pp->c)
		return 0;
	return conn_connect(pp->l, pp->p.addr, pp->p.port, peer_frame,
			    peer_closed, pp, &pp->c, e);
}

static struct peer_req *peer_add(struct peer *pp, enum source_req r,
				 enum source_doc doc, uint32_t block,
				 uint32_t count)
{
	struct peer_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->id = ++pp->next_id ? pp->next_id : ++pp->next_id;
	q->r = r;
	q->doc = doc;
	q->block = block;
	q->count = count;
	q->left = r == SOURCE_REQ_BLOCKS ? count : 1;
	if (!pp->nreqs) {
		/* Idle time is not the parent's: both clocks start now. */
		pp->last_progress = pp->window_start = evloop_now_ns();
		pp->window_frames = 0;
	}
	q->next = pp->reqs;
	pp->reqs = q;
	pp->nreqs++;
	return q;
}

static struct peer_req *peer_take(struct peer *pp, uint32_t id, int whole)
{
	struct peer_req **pq, *q;

	for (pq = &pp->reqs; (q = *pq); pq = &q->next) {
		if (q->id != id)
			continue;
		if (!whole && q->left > 1) {
			q->left--;
			return NULL;
		}
		*pq = q->next;
		pp->nreqs--;
		return q;
	}
	return NULL;
}

static int peer_send(struct peer *pp, struct proto_msg *m, struct peer_req *q)
{
	struct err e = {""};
	int ret;

	m->id = q->id;
	ret = conn_send(pp->c, m, &e);
	if (ret)
		free(peer_take(pp, q->id, 1));
	return ret;
}

/* Fails every request in flight: the connection went or the parent went
 * silent. The sink may ask again (of us or of another source). */
static void peer_fail_all(struct peer *pp, int error, const char *why)
{
	struct peer_req *q = pp->reqs, *qn;
	int meta = 0;

	pp->reqs = NULL;
	pp->nreqs = 0;
	enter(pp);
	for (; q; q = qn) {
		qn = q->next;
		/* The meta is one request however many documents it took. */
		if (q->r == SOURCE_REQ_META)
			meta = 1;
		else if (!pp->doomed)
			pp->s.sink->failed(pp->s.arg, &pp->s, q->r, NULL,
					   q->block, q->count, error, why);
		free(q);
	}
	if (meta && !pp->doomed)
		pp->s.sink->failed(pp->s.arg, &pp->s, SOURCE_REQ_META, NULL, 0,
				   0, error, why);
	leave(pp);
}

static int peer_request(struct source *s, enum source_req r,
			const uint32_t *blocks, uint32_t n)
{
	struct peer *pp = (struct peer *)s;
	struct proto_msg m = {0};
	struct peer_req *q;
	struct err e = {""};
	uint32_t i, j;
	int ret;

	if (r == SOURCE_REQ_LAYER)
		return -EOPNOTSUPP;
	ret = peer_connect(pp, &e);
	if (ret)
		return ret;
	if (r == SOURCE_REQ_META) {
		q = peer_add(pp, r, SOURCE_DOC_MANIFEST, 0, 0);
		if (!q)
			return -ENOMEM;
		m.type = PROTO_GET_MANIFEST;
		m.image = proto_str(s->cache->ref);
		return peer_send(pp, &m, q);
	}
	/* One request per run of neighbours: 617 one-block requests were
	 * 55 KB on a child's upload and its parent's download, which do not
	 * shrink with scale (docs/fidelity.md). */
	m.type = PROTO_GET_BLOCK;
	m.digest = proto_str(cache_data_digest(s->cache));
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && blocks[j] == blocks[j - 1] + 1 &&
				j - i < PROTO_MAX_BLOCK_RUN;
		     j++)
			;
		q = peer_add(pp, r, SOURCE_DOC_MANIFEST, blocks[i], j - i);
		if (!q)
			return -ENOMEM;
		m.block = blocks[i];
		m.count = j - i > 1 ? j - i : 0;
		ret = peer_send(pp, &m, q);
		if (ret)
			return ret;
	}
	return 0;
}

/* After the manifest: the config and (unless the cache already has it,
 * from the node's metadata store) the index, by the digests the manifest
 * names, which only the cache knows once it has checked the manifest. */
static void peer_ask_blobs(struct peer *pp)
{
	struct cache *c = pp->s.cache;
	struct proto_msg m = {.type = PROTO_GET_BLOB};
	struct peer_req *q;

	if (c->meta != CACHE_META_MANIFEST)
		return;
	if (!c->config) {
		q = peer_add(pp, SOURCE_REQ_META, SOURCE_DOC_CONFIG, 0, 0);
		m.digest = proto_str(cache_config_digest(c));
		if (!q || peer_send(pp, &m, q))
			goto fail;
	}
	if (!c->index) {
		q = peer_add(pp, SOURCE_REQ_META, SOURCE_DOC_INDEX, 0, 0);
		m.digest = proto_str(cache_index_digest(c));
		if (!q || peer_send(pp, &m, q))
			goto fail;
	}
	return;
fail:
	pp->s.sink->failed(pp->s.arg, &pp->s, SOURCE_REQ_META, NULL, 0, 0,
			   -ENOMEM, "cannot ask the parent for the meta");
}

static void peer_frame(struct conn *c, const struct proto_msg *m, void *arg)
{
	struct peer *pp = arg;
	struct peer_req *q;
	char why[200];

	(void)c;
	pp->last_progress = evloop_now_ns();
	pp->window_frames++;
	enter(pp);
	switch (m->type) {
	case PROTO_MANIFEST:
	case PROTO_BLOB:
		q = peer_take(pp, m->id, 1);
		if (!q || q->r != SOURCE_REQ_META) {
			free(q);
			break; /* not asked for (or asked of an old parent) */
		}
		pp->s.bytes += m->data_len;
		pp->s.sink->doc(pp->s.arg, &pp->s,
				m->type == PROTO_MANIFEST ? SOURCE_DOC_MANIFEST
							  : q->doc,
				m->data, m->data_len);
		if (m->type == PROTO_MANIFEST && !pp->doomed)
			peer_ask_blobs(pp);
		free(q);
		break;
	case PROTO_BLOCK:
		/* Every block of a run comes back with the run's id. */
		free(peer_take(pp, m->id, 0));
		pp->s.bytes += m->data_len;
		pp->s.sink->block(pp->s.arg, &pp->s, m->block, m->data,
				  m->data_len);
		break;
	case PROTO_ERROR:
		q = peer_take(pp, m->id, 1);
		if (!q)
			break; /* a repeat, or not ours */
		snprintf(why, sizeof(why), "the parent answered %d: %.*s",
			 (int)m->error, (int)m->message.len,
			 m->message.s ? m->message.s : "");
		pp->s.sink->failed(pp->s.arg, &pp->s, q->r, NULL, q->block,
				   q->count, m->error, why);
		free(q);
		break;
	default:
		break;
	}
	leave(pp);
}

static void peer_closed(struct conn *c, int error, const char *why, void *arg)
{
	struct peer *pp = arg;

	(void)c;
	pp->c = NULL;
	peer_fail_all(pp, error ? error : -ECONNRESET, why);
}

/* Silent, or slow over a whole window: the sink hears it first and may
 * leave the parent; if it does not, what is in flight fails. */
static void peer_tick(struct source *s, uint64_t now)
{
	struct peer *pp = (struct peer *)s;
	uint64_t span = evloop_span_ns(pp->l, pp->timeout_ms);
	char why[160];

	if (!pp->nreqs)
		return;
	if (now - pp->last_progress >= span) {
		snprintf(why, sizeof(why),
			 "the parent did not answer in %u ms (silent)",
			 pp->timeout_ms);
	} else if (now - pp->window_start < span) {
		return;
	} else if (pp->window_frames >= SOURCE_SLOW_REPLIES) {
		pp->window_start = now;
		pp->window_frames = 0;
		return;
	} else {
		/* In the world's ms: the window may have run past the
		 * time-out by up to a tick. */
		snprintf(why, sizeof(why),
			 "the parent sent %u frames in %.0f ms with requests "
			 "waiting (slow: fewer than %d in %u)",
			 pp->window_frames,
			 (double)(now - pp->window_start) / (double)span *
				 pp->timeout_ms,
			 SOURCE_SLOW_REPLIES, pp->timeout_ms);
	}
	enter(pp);
	pp->s.sink->unresponsive(pp->s.arg, &pp->s, why);
	if (leave(pp))
		return;
	/* Kept: a new connection for whatever is asked next. */
	if (pp->c) {
		conn_close(pp->c);
		pp->c = NULL;
	}
	peer_fail_all(pp, -ETIMEDOUT, why);
}

static unsigned peer_inflight(const struct source *s)
{
	return ((const struct peer *)s)->nreqs;
}

static void peer_destroy(struct peer *pp)
{
	struct peer_req *q, *qn;

	if (pp->c)
		conn_close(pp->c);
	for (q = pp->reqs; q; q = qn) {
		qn = q->next;
		free(q);
	}
	free(pp);
}

static void peer_free(struct source *s)
{
	struct peer *pp = (struct peer *)s;

	if (!pp->busy) {
		peer_destroy(pp);
		return;
	}
	/* Called from the sink: the connection goes now (lib/conn allows
	 * that from its own callbacks), the rest on the way out. */
	pp->doomed = 1;
	if (pp->c) {
		conn_close(pp->c);
		pp->c = NULL;
	}
}

static const struct source_ops peer_ops = {
	.name = "parent",
	.from_registry = 0,
	.request = peer_request,
	.tick = peer_tick,
	.inflight = peer_inflight,
	.free = peer_free,
};

int source_peer_new(struct evloop *l, struct proto_peer p, unsigned timeout_ms,
		    struct cache *c, const struct source_sink *sink, void *arg,
		    struct source **out, struct err *e)
{
	struct peer *pp = calloc(1, sizeof(*pp));
	int ret;

	if (!pp)
		return err_set(e, -ENOMEM, "out of memory");
	pp->s.ops = &peer_ops;
	pp->s.sink = sink;
	pp->s.arg = arg;
	pp->s.cache = c;
	pp->l = l;
	pp->p = p;
	pp->timeout_ms = timeout_ms ? timeout_ms : SOURCE_TIMEOUT_MS;
	ret = peer_connect(pp, e);
	if (ret) {
		free(pp);
		return ret;
	}
	*out = &pp->s;
	return 0;
}

/* --- the registry back end ------------------------------------------- */

struct reg {
	struct source s;
	struct regworker *rw;
	unsigned inflight;
};

static int reg_request(struct source *s, enum source_req r,
		       const uint32_t *blocks, uint32_t n)
{
	struct reg *rg = (struct reg *)s;
	int ret;

	switch (r) {
	case SOURCE_REQ_META:
		ret = regworker_submit(rg->rw, REGJOB_META, s->cache->ref, NULL,
				       NULL, 0, s);
		break;
	case SOURCE_REQ_BLOCKS:
		ret = regworker_submit(rg->rw, REGJOB_BLOCKS, s->cache->ref,
				       &s->cache->ix, blocks, n, s);
		break;
	default:
		ret = regworker_submit(rg->rw, REGJOB_LAYER, s->cache->ref,
				       NULL, NULL, 0, s);
		break;
	}
	if (!ret)
		rg->inflight++;
	return ret;
}

/* After the manifest and config: the index, unless the cache took it from
 * the node's metadata store (as peer_ask_blobs). The META request stays in
 * flight until it comes. 1 when asked. */
static int reg_ask_index(struct reg *rg)
{
	struct source *s = &rg->s;

	if (s->cache->meta != CACHE_META_MANIFEST || s->cache->index)
		return 0;
	if (!regworker_submit(rg->rw, REGJOB_INDEX, s->cache->ref, NULL, NULL,
			      0, s))
		return 1;
	s->sink->failed(s->arg, s, SOURCE_REQ_META, NULL, 0, 0, -ENOMEM,
			"cannot ask the registry for the index");
	return 0;
}

static enum source_req req_of(enum regjob_kind k)
{
	switch (k) {
	case REGJOB_META:
	case REGJOB_INDEX:
		return SOURCE_REQ_META;
	case REGJOB_BLOCKS:
		return SOURCE_REQ_BLOCKS;
	default:
		return SOURCE_REQ_LAYER;
	}
}

void source_registry_result(struct regres *r)
{
	struct reg *rg = r->tag;
	struct source *s = &rg->s;

	switch (r->kind) {
	case REGRES_META:
		s->bytes += r->bytes;
		s->sink->doc(s->arg, s, SOURCE_DOC_MANIFEST, r->manifest,
			     r->manifest_len);
		s->sink->doc(s->arg, s, SOURCE_DOC_CONFIG, r->config,
			     r->config_len);
		s->sink->doc(s->arg, s, SOURCE_DOC_INDEX, r->index,
			     r->index_len);
		if (r->index || !reg_ask_index(rg))
			rg->inflight--;
		break;
	case REGRES_BLOCK:
		s->bytes += r->clen;
		s->sink->block(s->arg, s, r->block, r->cdata, r->clen);
		break;
	case REGRES_DONE:
		rg->inflight--;
		break;
	case REGRES_LAYER_DONE:
		rg->inflight--;
		s->bytes += r->bytes;
		s->sink->layer_done(s->arg, s, r->bytes);
		break;
	case REGRES_ERROR:
		rg->inflight--;
		s->sink->failed(s->arg, s, req_of(r->job), r->blocks, 0,
				r->nblocks, r->error, r->msg);
		break;
	}
}

/* curl's own timeouts bound a registry request (lib/registry.c: connect
 * and low-speed limits); nothing to do here. */
static void reg_tick(struct source *s, uint64_t now)
{
	(void)s;
	(void)now;
}

static unsigned reg_inflight(const struct source *s)
{
	return ((const struct reg *)s)->inflight;
}

static void reg_free(struct source *s)
{
	free(s);
}

static const struct source_ops reg_ops = {
	.name = "registry",
	.from_registry = 1,
	.request = reg_request,
	.tick = reg_tick,
	.inflight = reg_inflight,
	.free = reg_free,
};

int source_registry_new(struct regworker *rw, struct cache *c,
			const struct source_sink *sink, void *arg,
			struct source **out)
{
	struct reg *rg = calloc(1, sizeof(*rg));

	if (!rg)
		return -ENOMEM;
	rg->s.ops = &reg_ops;
	rg->s.sink = sink;
	rg->s.arg = arg;
	rg->s.cache = c;
	rg->rw = rw;
	*out = &rg->s;
	return 0;
}

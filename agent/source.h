/* source: where an agent gets an image's meta and blocks. One interface,
 * two back ends, as wireguard-tools' ipc.h fronts its own: a peer (the
 * parent agent, over the block protocol) and the registry (the regworker
 * thread, over HTTP). A back end owns its transport and the requests in
 * flight on it, with a timeout on each; what comes back goes to the
 * caller's sink unchecked (the cache checks it). The retry policy (back-off
 * with jitter, a budget per request, when to leave the parent for the
 * registry) is pure and lives here too, so it is tested with a fake clock.
 * Which source to ask, and when, is agent.c's. */
#ifndef FAASNET_AGENT_SOURCE_H
#define FAASNET_AGENT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "err.h"
#include "evloop.h"
#include "proto.h"
#include "regworker.h"

enum source_req {
	SOURCE_REQ_META,   /* manifest, then config and index: all three */
	SOURCE_REQ_BLOCKS, /* a run of blocks: block to block + count - 1 */
	SOURCE_REQ_LAYER,  /* the whole tar layer (registry back end only) */
};

enum source_doc {
	SOURCE_DOC_MANIFEST,
	SOURCE_DOC_CONFIG,
	SOURCE_DOC_INDEX,
};

struct source;

/* What a source hands back. Bytes are valid during the call only. */
struct source_sink {
	void (*doc)(void *arg, struct source *s, enum source_doc d,
		    const void *data, size_t len);
	void (*block)(void *arg, struct source *s, uint32_t b, const void *data,
		      size_t len);
	/* A request failed (an ERROR answer, a timeout, a lost connection,
	 * a registry error). For BLOCKS, the blocks it asked for: list[0..n)
	 * or, with list NULL, the run first..first + n - 1 (some may have
	 * come meanwhile). */
	void (*failed)(void *arg, struct source *s, enum source_req r,
		       const uint32_t *list, uint32_t first, uint32_t n,
		       int error, const char *why);
	void (*layer_done)(void *arg, struct source *s, uint64_t bytes);
	/* The parent is unresponsive (SOURCE_TIMEOUT_MS, SOURCE_SLOW_REPLIES):
	 * why says silent or how slow. The sink leaves it by freeing the
	 * source (it may, from here); if it does not, every request in
	 * flight fails as timed out, on a new connection next time. */
	void (*unresponsive)(void *arg, struct source *s, const char *why);
};

struct source_ops {
	const char *name; /* "parent", "registry": the timeline's words */
	int from_registry;
	/* Queues a request; 0 or a negative errno (nothing was asked). For
	 * BLOCKS, blocks[0..n) in the order wanted, each once: the peer asks
	 * one GET_BLOCK per run of ascending neighbours, in that order; the
	 * registry one job, read by offset, that keeps several range
	 * requests in flight (docs/fidelity.md, "Registry readers"). Requests
	 * go out in the order made (the registry's worker runs its jobs
	 * one after another): image.c makes one per priority. */
	int (*request)(struct source *s, enum source_req r,
		       const uint32_t *blocks, uint32_t n);
	/* Fails requests that waited past the timeout. */
	void (*tick)(struct source *s, uint64_t now_ns);
	/* Requests in flight. */
	unsigned (*inflight)(const struct source *s);
	void (*free)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	const struct source_sink *sink;
	void *arg;
	struct cache *cache; /* read only: which digests to ask for */
	uint64_t bytes;	     /* received: meta, blocks, layers */
};

/* A parent is unresponsive when, with requests in flight, it sends no
 * frame at all for this long (silent), or fewer than SOURCE_SLOW_REPLIES
 * frames in a whole span of it with requests in flight all along (slow).
 * A parent that keeps heartbeating to the manager but never answers, or
 * answers at a trickle, would otherwise stall its children for ever, or
 * for minutes. Generous: a parent may itself be waiting on its own parent
 * for a whole start-up set. */
#define SOURCE_TIMEOUT_MS 5000
/* Slow: what a parent that answers is sure to beat. An honest one sends a
 * frame per block it has (hundreds a second: a block is a few milliseconds
 * of a link, at any scale, since scale shrinks blocks and links alike) and
 * forwards each block it fetches as soon as it has it; a child whose
 * parent manages fewer than 4 in 5 s (more than 1.25 s a block, with a
 * backlog) gets its start-up set faster from the registry, which itself
 * serves a block in milliseconds. Counted in frames, not bytes: a frame
 * count is the same at every scale. */
#define SOURCE_SLOW_REPLIES 4
/* Back-off after a failure: from this, doubling, to at most the max, each
 * drawn with jitter so that siblings do not retry in step. */
#define SOURCE_BACKOFF_MIN_MS 100
#define SOURCE_BACKOFF_MAX_MS 2000
/* Tries per request (the meta, or one block) from one source before it is
 * given up: a new source (a new parent, the registry) starts afresh. */
#define SOURCE_BUDGET 8
/* Failures of the parent in a row (no progress in between) before the
 * image is fetched from the registry instead. A parent that lies (sends
 * bytes that fail their check) or is unresponsive is left at once. */
#define SOURCE_PARENT_FAILS 4

static inline int __attribute__((warn_unused_result))
source_request(struct source *s, enum source_req r, const uint32_t *blocks,
	       uint32_t n)
{
	return s->ops->request(s, r, blocks, n);
}

/* The pause before try number `tries` (1 after the first failure), with
 * jitter from rnd: a uniform draw in [base/2, base]. Pure. */
unsigned source_backoff_ms(unsigned tries, uint32_t rnd);

/* The peer back end: a connection to the parent at p (host order),
 * opened now; requests are queued while it connects. */
int source_peer_new(struct evloop *l, struct proto_peer p, unsigned timeout_ms,
		    struct cache *c, const struct source_sink *sink, void *arg,
		    struct source **out, struct err *e)
	__attribute__((warn_unused_result));

/* The registry back end, over the shared worker thread. */
int source_registry_new(struct regworker *rw, struct cache *c,
			const struct source_sink *sink, void *arg,
			struct source **out)
	__attribute__((warn_unused_result));
/* Hands one of the worker's results to the source that asked (its tag). */
void source_registry_result(struct regres *r);

void source_free(struct source *s);

#endif

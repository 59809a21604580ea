/* children: serving this agent's children in the function tree. Owns the
 * listening socket, every child's connection and every request a child
 * made that waits for something this agent lacks (the meta of an image,
 * or a block). All of it is bounded: connections, requests waiting per
 * child, and how long a request waits for meta; past a bound the child
 * gets an ERROR, and a child that stops reading is disconnected, never
 * left waiting for a reply that was dropped. Blocks are sent by
 * reference from the cache (each send holds a reference until written).
 * What to fetch is the agent's (children_ops.wanted). Told to, it lies
 * (lie.h): every reply, whenever it was asked, goes out as the mode of the
 * moment says. */
#ifndef FAASNET_AGENT_CHILDREN_H
#define FAASNET_AGENT_CHILDREN_H

#include <stdint.h>

#include "cache.h"
#include "evloop.h"
#include "lie.h"
#include "proto.h"

/* Connections at once; more are accepted and closed at once. */
#define CHILDREN_MAX_CONNS 256
/* Requests of one child waiting for blocks (a block of a run counts one)
 * and for meta; more get ERROR -ENOBUFS. 65,536 blocks is more than any
 * start-up set (617 for the 758 MB image) and costs 1.5 MB at most. */
#define CHILDREN_MAX_BLOCK_WAITS 65536
#define CHILDREN_MAX_META_WAITS	 64
/* A request waiting for meta that never comes is answered -ETIMEDOUT. */
#define CHILDREN_META_WAIT_MS 30000
/* accept() out of descriptors: the listening socket is not watched for
 * this long (it would stay readable and spin the loop). */
#define CHILDREN_ACCEPT_PAUSE_MS 100

struct children_ops {
	/* The image a reference names, or whose config, index or data blob
	 * a digest names, NULL when none; meta need not be held. */
	struct cache *(*by_ref)(void *arg, const struct proto_str *ref);
	struct cache *(*by_digest)(void *arg, const struct proto_str *digest);
	/* Blocks of c became WANTED on a child's behalf: fetch them. */
	void (*wanted)(void *arg, struct cache *c);
	/* Bytes served of c, for the timeline's statistics. */
	void (*served)(void *arg, struct cache *c, uint64_t bytes);
};

struct children;

int children_start(struct evloop *l, int listen_fd,
		   const struct children_ops *ops, void *arg,
		   unsigned max_conns, struct children **out)
	__attribute__((warn_unused_result));
/* Closes every child; the listening socket stays the caller's. */
void children_free(struct children *ch);

/* c's meta is held now: answer what waited for it. */
void children_meta_ready(struct children *ch, struct cache *c);
/* c's block b is present now: send it to whoever waits for it. */
void children_block_ready(struct children *ch, struct cache *c, uint32_t b);
/* c's block b will not come (given up): ERROR to whoever waits. */
void children_block_failed(struct children *ch, struct cache *c, uint32_t b,
			   int error);

/* From now on, serve every child as mode says (lie.h): replies already
 * queued to a connection stay as they were; those a slow liar held back
 * go at once, as the new mode tells them. */
void children_set_lie(struct children *ch, enum lie_mode mode);

unsigned children_count(const struct children *ch);

#endif

/* cache: one image's meta (manifest, config, block index) and blocks on
 * this VM. It owns every block's lifetime: a block is a reference-counted
 * buffer, so a block queued by reference on a child's connection outlives
 * an eviction until the connection has written it (or closed). It checks
 * everything it is given, whoever sent it: the manifest against the digest
 * the reference pins, config and index against the manifest, each block
 * against the index (verified and decompressed once, here). No I/O, no
 * clock: who asks whom for what is source.c's and agent.c's. */
#ifndef FAASNET_AGENT_CACHE_H
#define FAASNET_AGENT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "blockimg.h"
#include "err.h"
#include "oci.h"

#define CACHE_REF_MAX 512

enum cache_meta {
	CACHE_META_NONE,     /* nothing held (or what came was refused) */
	CACHE_META_MANIFEST, /* manifest held and checked; config, index due */
	CACHE_META_HELD,     /* manifest, config and index held and checked */
};

enum cache_block_state {
	CACHE_BLOCK_ABSENT,
	CACHE_BLOCK_WANTED,    /* needed, not yet asked for */
	CACHE_BLOCK_REQUESTED, /* asked of a source */
	CACHE_BLOCK_PRESENT,
};

/* Bytes shared by the cache and the connections that send them. */
struct cache_buf {
	unsigned refs;
	uint32_t len;
	uint8_t data[];
};

struct cache_buf *cache_buf_new(const void *data, size_t len);
struct cache_buf *cache_buf_get(struct cache_buf *b);
/* Drops one reference; the last frees. NULL is ignored. Its signature
 * fits lib/conn's release callback. */
void cache_buf_put(void *b);

struct cache {
	char ref[CACHE_REF_MAX];
	/* "sha256:<hex>" when the reference pins the manifest ("...@sha256:"),
	 * else empty: the one root of trust (docs/protocol.md, "Trust"). */
	char pin[72];
	enum cache_meta meta;
	struct cache_buf *manifest, *config, *index;
	struct oci_image img;
	unsigned layer; /* the first layer with blocks: the one served */
	struct blockimg_index ix;
	/* Blocks, by number; valid once meta is CACHE_META_HELD. */
	struct cache_buf **blk;
	uint8_t *state; /* enum cache_block_state */
	uint8_t *is_startup;
	uint32_t npresent, startup_present;
	uint8_t *scratch; /* one decompressed block */
	struct blockimg_decoder *dec;
};

int cache_init(struct cache *c, const char *ref, struct err *e)
	__attribute__((warn_unused_result));
void cache_free(struct cache *c);

/* Each takes a copy of data. -EBADMSG with e when the bytes are not what
 * the root of trust names (manifest: the pin, if any; config and index:
 * the manifest) or do not parse; the meta then goes back to NONE, so the
 * next attempt starts clean. -EALREADY when that document is held. */
int cache_set_manifest(struct cache *c, const void *data, size_t len,
		       struct err *e) __attribute__((warn_unused_result));
int cache_set_config(struct cache *c, const void *data, size_t len,
		     struct err *e) __attribute__((warn_unused_result));
int cache_set_index(struct cache *c, const void *data, size_t len,
		    struct err *e) __attribute__((warn_unused_result));
void cache_drop_meta(struct cache *c);

/* The digests of the manifest's config, the served layer's index and
 * data blobs ("" before the manifest). */
const char *cache_config_digest(const struct cache *c);
const char *cache_index_digest(const struct cache *c);
const char *cache_data_digest(const struct cache *c);

/* Stores block b after verifying and decompressing it: -EBADMSG with e
 * (a wrong block), -ERANGE (no such block, or no meta), -EALREADY. */
int cache_block_put(struct cache *c, uint32_t b, const void *data, size_t len,
		    struct err *e) __attribute__((warn_unused_result));
/* The block's bytes, borrowed (take a reference to keep them). */
struct cache_buf *cache_block(const struct cache *c, uint32_t b);
/* ABSENT -> WANTED; other states stay. */
void cache_want(struct cache *c, uint32_t b);
/* Every PRESENT block dropped (a reference still queued keeps its bytes
 * alive until written); returns how many. */
uint32_t cache_evict(struct cache *c);
/* Every REQUESTED block back to WANTED (its source is gone). */
void cache_rewant(struct cache *c);
int cache_startup_complete(const struct cache *c);

#endif

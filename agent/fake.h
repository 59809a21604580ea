/* fake: a consistent fake of an image, what an agent told to lie with
 * LIE_FAKE serves its children (lie.h). Its manifest, config, block index
 * and blocks chain to each other by digest as a real image's do, and to
 * nothing the reference pins: a child that checks only that the pieces fit
 * together would take it; one that checks the manifest against the pinned
 * digest (cache.c) refuses it at once. Made from the real image's index
 * alone (its block size, layer size, start-up set and trace), so a liar
 * that holds no block yet can still serve the whole fake. No I/O. */
#ifndef FAASNET_AGENT_FAKE_H
#define FAASNET_AGENT_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "blockimg.h"
#include "cache.h"
#include "err.h"
#include "sha256.h"

struct fake {
	/* Lent to connections as the cache's documents are. */
	struct cache_buf *manifest, *config, *index;
	char config_digest[SHA256_OCI_LEN], index_digest[SHA256_OCI_LEN],
		data_digest[SHA256_OCI_LEN];
	struct blockimg_index ix; /* the fake's: where its blocks lie */
	uint8_t *data;		  /* the fake data blob */
	size_t data_len;
};

/* The fake of c's image, whose meta must be held. Its layer has the real
 * one's shape (block size, size, start-up set, trace) and other bytes:
 * each block a zstd frame of filler that names the block, so every fake
 * block decompresses and verifies against the fake index. The config
 * names that layer's diff_id (the filler's sha256), the manifest the fake
 * config, index and data blob. */
int fake_new(const struct cache *c, struct fake **out, struct err *e)
	__attribute__((warn_unused_result));
void fake_free(struct fake *f);

/* Block b of the fake, in a buffer of its own (one reference, the
 * caller's), or NULL: no such block, or out of memory. */
struct cache_buf *fake_block(const struct fake *f, uint32_t b);

#endif

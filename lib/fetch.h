/* fetch: reads an image's blocks from a registry with HTTP range requests.
 * The manifest is checked against a digest the reference pins, the config
 * and (for fetch_blocks) the index against the digests in the manifest,
 * and every block against the sha256 in the index before it is
 * decompressed or handed on. faasnet-image and the agent share it; the
 * agent reads the index and blocks raw (fetch_blob_raw, fetch_blocks_raw),
 * for its cache to check, parse and decompress them once. */
#ifndef FAASNET_FETCH_H
#define FAASNET_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "blockimg.h"
#include "err.h"
#include "oci.h"
#include "registry.h"

struct fetch_image {
	struct registry *r;
	struct registry_ref ref;
	struct oci_image img; /* with diff_ids from the config */
	/* Per layer (nblocks 0 without blocks), once fetch_indexes has read
	 * them; NULL before. */
	struct blockimg_index *ix;
	uint64_t meta_bytes;  /* manifest + config + indexes read */
	const char *meta_dir; /* the node's metadata store, or NULL */
	/* The documents as read, for an agent to hand to its children. */
	char *manifest, *config;
	size_t manifest_len, config_len;
	/* Range requests fetch_blocks keeps in flight (0 or 1: one after
	 * another); the caller sets it after fetch_open. */
	unsigned parallel;
};

struct fetch_stats {
	uint64_t bytes;	   /* block bytes read from the registry */
	uint32_t blocks;   /* blocks delivered */
	uint32_t requests; /* range requests made */
};

/* Reads the manifest and the config. A blob found in meta_dir (an OCI
 * layout: the node's metadata store; NULL for none) is taken from there
 * once it matches its digest, and not counted in meta_bytes; the manifest
 * always comes from the registry. */
int fetch_open(const char *ref, const char *meta_dir, struct fetch_image *fi,
	       struct err *e);
/* The same under time dilation k (registry_set_dilation): the manifest's
 * and config's requests already wait k times as long, as every later one
 * does (0 or 1: none). */
int fetch_open_dilated(const char *ref, const char *meta_dir, double k,
		       struct fetch_image *fi, struct err *e);
/* Reads every layer's block index into fi->ix (from meta_dir too), each
 * checked against the manifest and decoded: what fetch_blocks needs. */
int fetch_indexes(struct fetch_image *fi, struct err *e);
void fetch_close(struct fetch_image *fi);

/* A small blob (at most 16 MiB) from the registry, as sent, neither checked
 * nor parsed, for a caller that does both itself (the agent's cache, with
 * the block index). Counted in meta_bytes. *buf is malloc'd. */
int fetch_blob_raw(struct fetch_image *fi, const char *digest, uint8_t **buf,
		   size_t *len, struct err *e);

/* Receives one block: its compressed bytes, verified against the index,
 * and the same decompressed. Both are valid during the call only. Non-zero
 * stops the fetch. */
typedef int (*fetch_block_fn)(void *arg, uint32_t block, const void *cdata,
			      size_t clen, const void *data, size_t len);

/* Fetches the given blocks of a layer (any order, no duplicates needed:
 * they are sorted and runs of neighbours read with one range request, up
 * to fi->parallel of them at once) and delivers them in ascending order
 * within each run; with parallel > 1 the runs interleave. A block that
 * fails verification stops everything with -EBADMSG and e naming it.
 * Needs fetch_indexes. */
int fetch_blocks(struct fetch_image *fi, unsigned layer, const uint32_t *blocks,
		 uint32_t n, fetch_block_fn fn, void *arg,
		 struct fetch_stats *st, struct err *e);

/* Where a block's compressed bytes lie in its layer's data blob. */
struct fetch_extent {
	uint64_t offset;
	uint32_t clen;
	uint32_t block;
};

/* The same for a caller that holds the layer's index itself (the agent's
 * cache) and says where each block lies: blocks are delivered as they
 * came, neither verified nor decompressed (data NULL, len 0), so that the
 * caller checks and decompresses each once. */
int fetch_blocks_raw(struct fetch_image *fi, unsigned layer,
		     const struct fetch_extent *x, uint32_t n,
		     fetch_block_fn fn, void *arg, struct fetch_stats *st,
		     struct err *e);

#endif

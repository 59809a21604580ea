/* fetch: reads an image's blocks from a registry with HTTP range requests.
 * Every block is checked against the sha256 in the index before it is
 * decompressed or handed on (unless the caller asks for raw blocks and
 * checks them itself), and the index itself against the digest in the
 * manifest, and the manifest against a digest the reference pins. faasnet-image
 * and the agent share it. */
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
	struct oci_image img;	   /* with diff_ids from the config */
	struct blockimg_index *ix; /* per layer; nblocks 0 without blocks */
	uint64_t meta_bytes;	   /* manifest + config + indexes read */
	const char *meta_dir;	   /* the node's metadata store, or NULL */
	/* The documents as read, for an agent to hand to its children. */
	char *manifest, *config;
	size_t manifest_len, config_len;
	uint8_t **index_raw; /* per layer, NULL without blocks */
	size_t *index_len;
	/* Range requests fetch_blocks keeps in flight (0 or 1: one after
	 * another); the caller sets it after fetch_open. */
	unsigned parallel;
	/* Blocks delivered as they came, neither verified nor decompressed
	 * (data NULL, len 0), for a caller that checks every block itself
	 * (the agent's cache: each block is then verified and decompressed
	 * once, not twice). The caller sets it after fetch_open. */
	int raw;
};

struct fetch_stats {
	uint64_t bytes;	   /* block bytes read from the registry */
	uint32_t blocks;   /* blocks delivered */
	uint32_t requests; /* range requests made */
};

/* Reads the manifest, the config and every layer's block index. A blob
 * found in meta_dir (an OCI layout: the node's metadata store; NULL for
 * none) is taken from there once it matches its digest, and not counted in
 * meta_bytes; the manifest always comes from the registry. */
int fetch_open(const char *ref, const char *meta_dir, struct fetch_image *fi,
	       struct err *e);
void fetch_close(struct fetch_image *fi);

/* Receives one block: its compressed bytes, verified against the index,
 * and the same decompressed. Both are valid during the call only. Non-zero
 * stops the fetch. */
typedef int (*fetch_block_fn)(void *arg, uint32_t block, const void *cdata,
			      size_t clen, const void *data, size_t len);

/* Fetches the given blocks of a layer (any order, no duplicates needed:
 * they are sorted and runs of neighbours read with one range request, up
 * to fi->parallel of them at once) and delivers them in ascending order
 * within each run; with parallel > 1 the runs interleave. A block that
 * fails verification stops everything with -EBADMSG and e naming it. */
int fetch_blocks(struct fetch_image *fi, unsigned layer, const uint32_t *blocks,
		 uint32_t n, fetch_block_fn fn, void *arg,
		 struct fetch_stats *st, struct err *e);

#endif

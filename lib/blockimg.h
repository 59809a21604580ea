/* blockimg: FaaSNet's I/O-efficient image format. A layer's uncompressed
 * bytes (its tar stream) are cut into fixed-size blocks; each block is
 * compressed on its own with zstd and stored back to back in a data blob; an
 * index blob gives every block's offset and length in the data blob and the
 * sha256 of its compressed bytes, plus the image's start-up access set (the
 * blocks a container reads while starting, in order) and, from version 2,
 * its start-up trace (the reads a start makes, in order, with the compute
 * time before each). Reading any byte range touches only the blocks that
 * cover it.
 *
 * This module owns the index's binary encoding (docs/image-format.md), the
 * range-to-block mapping, building blocks from a byte stream, and verifying
 * and decompressing one block. It does no network I/O. */
#ifndef FAASNET_BLOCKIMG_H
#define FAASNET_BLOCKIMG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "sha256.h"

/* Version 1: no trace. Version 2: a start-up trace after the start-up
 * set. The encoder writes 1 for an index without a trace, so that such
 * images keep their digests. */
#define BLOCKIMG_VERSION	    1
#define BLOCKIMG_VERSION_TRACE	    2
#define BLOCKIMG_DEFAULT_BLOCK_SIZE (512u << 10) /* the paper's 512 KiB */
/* 1 KiB: a scenario's 512 KiB block scaled to 0.005 is 2,621 bytes, and a
 * floor above that would change the image a scaled run moves. */
#define BLOCKIMG_MIN_BLOCK_SIZE (1u << 10)
#define BLOCKIMG_MAX_BLOCK_SIZE (64u << 20)
/* 2^24 blocks of 4 KiB is 64 GiB of layer: far beyond any function image,
 * and it bounds what a corrupt index can make a decoder allocate. */
#define BLOCKIMG_MAX_BLOCKS (1u << 24)

/* A start-up trace: at most this many reads (python3 importing numpy makes
 * a few thousand), each preceded by at most a minute of compute. */
#define BLOCKIMG_MAX_TRACE  (1u << 18)
#define BLOCKIMG_MAX_GAP_US (60u * 1000 * 1000)

/* OCI media types of the two blobs (the index's, by its version). */
#define BLOCKIMG_INDEX_MEDIA_TYPE	"application/vnd.faasnet.block.index.v1"
#define BLOCKIMG_INDEX_MEDIA_TYPE_TRACE "application/vnd.faasnet.block.index.v2"
#define BLOCKIMG_DATA_MEDIA_TYPE	"application/vnd.faasnet.block.data.v1+zstd"

struct blockimg_block {
	uint64_t offset; /* in the data blob */
	uint32_t clen;	 /* compressed bytes */
	uint32_t ulen;	 /* uncompressed bytes: block_size, less for the last */
	uint8_t sha256[SHA256_LEN]; /* of the compressed bytes */
};

/* One read of a container's start: gap_us of compute (the world's
 * microseconds), then len bytes at offset of the uncompressed layer. len 0
 * is compute alone (the end of a start, after its last read). */
struct blockimg_read {
	uint64_t offset;
	uint32_t len;
	uint32_t gap_us;
};

struct blockimg_index {
	uint32_t block_size;
	uint64_t size;	    /* uncompressed layer bytes, the sum of ulen */
	uint64_t data_size; /* data blob bytes, the sum of clen */
	uint32_t nblocks;
	struct blockimg_block *blocks;
	uint32_t nstartup;
	uint32_t *startup; /* block numbers, in the order a start-up reads them;
			    * each at most once */
	/* The start-up trace (0 and NULL: none, a version 1 index). With a
	 * trace, the start-up set is exactly the blocks it reads, in the
	 * order it first reads them (blockimg_startup_from_trace). */
	uint32_t ntrace;
	struct blockimg_read *trace;
};

/* Encodes the index into a malloc'd buffer. Returns 0 or -ENOMEM/-EINVAL
 * (an index that breaks its own invariants). */
int blockimg_index_encode(const struct blockimg_index *ix, uint8_t **buf,
			  size_t *len);

/* The most bytes an encoded index of nblocks blocks and ntrace trace
 * reads takes (every block in the start-up set): what a frame that
 * carries it must hold. */
uint64_t blockimg_index_max_len(uint64_t nblocks, uint64_t ntrace);

/* Decodes and validates (magic, version, sizes, offsets contiguous, lengths
 * consistent, start-up entries in range and not repeated, no trailing bytes;
 * the full list is in docs/image-format.md). An empty layer (size 0, no
 * blocks) is valid. Truncated, oversized or inconsistent input is -EBADMSG
 * with e saying what is wrong; never a crash, and nothing is allocated
 * before the length is checked against the counts. On error ix is zeroed.
 * Release with blockimg_index_free. */
int blockimg_index_decode(const uint8_t *buf, size_t len,
			  struct blockimg_index *ix, struct err *e);
void blockimg_index_free(struct blockimg_index *ix);

/* Sets ix's start-up set from its trace: the blocks the trace reads, in the
 * order it first reads them (the old set is freed). 0, -ENOMEM, or
 * -ERANGE when a read ends past the layer. */
int blockimg_startup_from_trace(struct blockimg_index *ix);

/* The microseconds of compute in ix's trace: the sum of its gaps (0
 * without a trace). */
uint64_t blockimg_trace_compute_us(const struct blockimg_index *ix);

/* The media type of ix's encoding (by its version). */
const char *blockimg_index_media_type(const struct blockimg_index *ix);

/* The blocks covering bytes [off, off + len) of the layer: *first and *count.
 * len 0 gives first 0 and count 0 (for any off up to the layer's size).
 * -ERANGE when the range ends past the layer. */
int blockimg_range(const struct blockimg_index *ix, uint64_t off, uint64_t len,
		   uint32_t *first, uint32_t *count);

/* Checks block i's compressed bytes against its digest and length: 0, or
 * -EBADMSG with e naming the block ("block 17: sha256 mismatch ...");
 * -EINVAL when i is not a block of ix. */
int blockimg_block_verify(const struct blockimg_index *ix, uint32_t i,
			  const void *cbuf, size_t clen, struct err *e);

/* A zstd context kept from block to block. Setting one up is most of the
 * cost of decompressing a small block: with one kept, a 12 KiB block takes
 * about 0.6x the time (a 512 KiB one 0.95x). One thread at a time. */
struct blockimg_decoder;
int blockimg_decoder_new(struct blockimg_decoder **d); /* 0 or -ENOMEM */
void blockimg_decoder_free(struct blockimg_decoder *d);

/* Verifies, then decompresses block i into out (at least ulen bytes, else
 * -EINVAL), with d (NULL: a context of its own for this call). A frame that
 * does not decompress to exactly ulen bytes is -EBADMSG naming the
 * block. */
int blockimg_block_decompress(const struct blockimg_index *ix,
			      struct blockimg_decoder *d, uint32_t i,
			      const void *cbuf, size_t clen, void *out,
			      size_t outlen, struct err *e);

/* Streaming builder: feed the layer's bytes in any pieces; every full block
 * is compressed and appended to data_out as it fills. The caller owns
 * data_out; finish flushes it. After any error the writer refuses further
 * bytes (data_out may hold part of a block) and finish fails too. */
struct blockimg_writer;
int blockimg_writer_new(uint32_t block_size, int zstd_level, FILE *data_out,
			struct blockimg_writer **w, struct err *e);
int blockimg_writer_add(struct blockimg_writer *w, const void *buf, size_t len,
			struct err *e);
/* Flushes the last partial block and fills ix (without a start-up set; the
 * caller sets nstartup/startup). Frees the writer either way. */
int blockimg_writer_finish(struct blockimg_writer *w, struct blockimg_index *ix,
			   struct err *e);
void blockimg_writer_free(struct blockimg_writer *w);

#endif

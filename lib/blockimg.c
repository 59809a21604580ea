#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "blockimg.h"

/* The index's encoding; docs/image-format.md is its specification and keeps
 * these offsets in a table. Everything is little-endian. */
static const uint8_t INDEX_MAGIC[8] = {'F', 'N', 'B', 'L', 'K', 'I', 'X', 0};

#define HDR_MAGIC      0
#define HDR_VERSION    8
#define HDR_BLOCK_SIZE 12
#define HDR_SIZE       16
#define HDR_DATA_SIZE  24
#define HDR_NBLOCKS    32
#define HDR_NSTARTUP   36
#define HDR_LEN	       40

#define ENT_OFFSET 0
#define ENT_CLEN   8
#define ENT_ULEN   12
#define ENT_SHA256 16
#define ENT_LEN	   48

#define STARTUP_LEN 4

/* Version 2: after the start-up entries, a count, then the reads. */
#define NTRACE_LEN	4
#define TRACE_OFFSET	0
#define TRACE_LEN_FIELD 8
#define TRACE_GAP	12
#define TRACE_LEN	16

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* In 64 bits: with 32-bit counts it cannot overflow (below 2^38). The
 * trace's part is there only in version 2 (ntrace > 0). */
static uint64_t encoded_len(uint32_t nblocks, uint32_t nstartup,
			    uint32_t ntrace)
{
	return HDR_LEN + (uint64_t)nblocks * ENT_LEN +
	       (uint64_t)nstartup * STARTUP_LEN +
	       (ntrace ? NTRACE_LEN + (uint64_t)ntrace * TRACE_LEN : 0);
}

uint64_t blockimg_index_max_len(uint64_t nblocks, uint64_t ntrace)
{
	return HDR_LEN + nblocks * (ENT_LEN + STARTUP_LEN) +
	       (ntrace ? NTRACE_LEN + ntrace * TRACE_LEN : 0);
}

uint64_t blockimg_trace_compute_us(const struct blockimg_index *ix)
{
	uint64_t us = 0;
	uint32_t i;

	for (i = 0; i < ix->ntrace; i++)
		us += ix->trace[i].gap_us;
	return us;
}

const char *blockimg_index_media_type(const struct blockimg_index *ix)
{
	return ix->ntrace ? BLOCKIMG_INDEX_MEDIA_TYPE_TRACE
			  : BLOCKIMG_INDEX_MEDIA_TYPE;
}

int blockimg_startup_from_trace(struct blockimg_index *ix)
{
	uint32_t *set = NULL, n = 0, i, b, first, count;
	uint8_t *seen;

	seen = calloc(ix->nblocks / 8 + 1, 1);
	if (ix->nblocks)
		set = malloc(ix->nblocks * sizeof(*set));
	if (!seen || (ix->nblocks && !set)) {
		free(seen);
		free(set);
		return -ENOMEM;
	}
	for (i = 0; i < ix->ntrace; i++) {
		const struct blockimg_read *r = &ix->trace[i];

		if (blockimg_range(ix, r->offset, r->len, &first, &count)) {
			free(seen);
			free(set);
			return -ERANGE;
		}
		for (b = first; b < first + count; b++)
			if (!(seen[b / 8] & 1u << b % 8)) {
				seen[b / 8] |= (uint8_t)(1u << b % 8);
				set[n++] = b;
			}
	}
	free(seen);
	free(ix->startup);
	ix->startup = set;
	ix->nstartup = n;
	return 0;
}

/* The header's fields on their own: everything that can be checked before
 * the arrays are read, so that no count is trusted before it is bounded. */
static int check_header(const struct blockimg_index *ix, struct err *e)
{
	uint64_t want;

	if (ix->block_size < BLOCKIMG_MIN_BLOCK_SIZE ||
	    ix->block_size > BLOCKIMG_MAX_BLOCK_SIZE)
		return err_set(e, -EBADMSG,
			       "index: block size %" PRIu32
			       ", expected %u to %u",
			       ix->block_size, BLOCKIMG_MIN_BLOCK_SIZE,
			       BLOCKIMG_MAX_BLOCK_SIZE);
	if (ix->nblocks > BLOCKIMG_MAX_BLOCKS)
		return err_set(e, -EBADMSG,
			       "index: %" PRIu32 " blocks, at most %u",
			       ix->nblocks, BLOCKIMG_MAX_BLOCKS);
	want = ix->size / ix->block_size + (ix->size % ix->block_size != 0);
	if (ix->nblocks != want)
		return err_set(e, -EBADMSG,
			       "index: %" PRIu32 " blocks, but %" PRIu64
			       " bytes in blocks of %" PRIu32 " need %" PRIu64,
			       ix->nblocks, ix->size, ix->block_size, want);
	/* A set: each block at most once, so never more entries than blocks. */
	if (ix->nstartup > ix->nblocks)
		return err_set(e, -EBADMSG,
			       "index: %" PRIu32
			       " start-up entries, more than its %" PRIu32
			       " blocks",
			       ix->nstartup, ix->nblocks);
	return 0;
}

/* The trace: each read inside the layer, each gap bounded, and the start-up
 * set exactly the blocks the reads touch in first-read order, so that the
 * two can never disagree about what a start needs. */
static int check_trace(const struct blockimg_index *ix, struct err *e)
{
	struct blockimg_index derived = *ix;
	uint32_t i;
	int ret;

	if (!ix->ntrace)
		return 0;
	if (ix->ntrace > BLOCKIMG_MAX_TRACE)
		return err_set(e, -EBADMSG,
			       "index: %" PRIu32 " trace reads, at most %u",
			       ix->ntrace, BLOCKIMG_MAX_TRACE);
	for (i = 0; i < ix->ntrace; i++) {
		const struct blockimg_read *r = &ix->trace[i];

		if (r->offset > ix->size || r->len > ix->size - r->offset)
			return err_set(e, -EBADMSG,
				       "index: trace read %" PRIu32
				       ": bytes %" PRIu64 "+%" PRIu32
				       " end past the layer's %" PRIu64,
				       i, r->offset, r->len, ix->size);
		if (r->gap_us > BLOCKIMG_MAX_GAP_US)
			return err_set(e, -EBADMSG,
				       "index: trace read %" PRIu32 ": %" PRIu32
				       " us of compute before it, at most %u",
				       i, r->gap_us, BLOCKIMG_MAX_GAP_US);
	}
	derived.startup = NULL;
	derived.nstartup = 0;
	ret = blockimg_startup_from_trace(&derived);
	if (ret)
		return err_set(e, ret, "index: out of memory");
	if (derived.nstartup != ix->nstartup ||
	    (ix->nstartup && memcmp(derived.startup, ix->startup,
				    ix->nstartup * sizeof(*ix->startup))))
		ret = err_set(e, -EBADMSG,
			      "index: the start-up set (%" PRIu32
			      " blocks) is not the %" PRIu32
			      " blocks the trace reads, in the order it first "
			      "reads them",
			      ix->nstartup, derived.nstartup);
	free(derived.startup);
	return ret;
}

/* The arrays against the header. The last block's exact ulen follows from
 * size and block_size, which also makes the ulen sum equal size. */
static int check_arrays(const struct blockimg_index *ix, struct err *e)
{
	size_t cbound = ZSTD_compressBound(ix->block_size);
	uint64_t off = 0;
	uint8_t *seen = NULL;
	uint32_t i;
	int ret = 0;

	for (i = 0; i < ix->nblocks; i++) {
		const struct blockimg_block *b = &ix->blocks[i];
		uint64_t ulen = ix->block_size;

		if (i == ix->nblocks - 1)
			ulen = ix->size - (uint64_t)i * ix->block_size;
		if (b->offset != off)
			return err_set(e, -EBADMSG,
				       "index: block %" PRIu32
				       ": offset %" PRIu64
				       ", expected %" PRIu64,
				       i, b->offset, off);
		if (b->clen == 0 || b->clen > cbound)
			return err_set(e, -EBADMSG,
				       "index: block %" PRIu32 ": clen %" PRIu32
				       ", expected 1 to %zu",
				       i, b->clen, cbound);
		if (b->ulen != ulen)
			return err_set(e, -EBADMSG,
				       "index: block %" PRIu32 ": ulen %" PRIu32
				       ", expected %" PRIu64,
				       i, b->ulen, ulen);
		off += b->clen;
	}
	if (off != ix->data_size)
		return err_set(e, -EBADMSG,
			       "index: blocks hold %" PRIu64
			       " data bytes, header says %" PRIu64,
			       off, ix->data_size);
	if (!ix->nstartup)
		return check_trace(ix, e);

	seen = calloc(ix->nblocks / 8 + 1, 1);
	if (!seen)
		return err_set(e, -ENOMEM, "index: out of memory");
	for (i = 0; i < ix->nstartup; i++) {
		uint32_t b = ix->startup[i];

		if (b >= ix->nblocks) {
			ret = err_set(e, -EBADMSG,
				      "index: start-up entry %" PRIu32
				      ": block %" PRIu32 ", only %" PRIu32
				      " blocks",
				      i, b, ix->nblocks);
			goto out;
		}
		if (seen[b / 8] & 1u << b % 8) {
			ret = err_set(e, -EBADMSG,
				      "index: start-up entry %" PRIu32
				      ": block %" PRIu32 " listed twice",
				      i, b);
			goto out;
		}
		seen[b / 8] |= (uint8_t)(1u << b % 8);
	}
out:
	free(seen);
	return ret ? ret : check_trace(ix, e);
}

int blockimg_index_encode(const struct blockimg_index *ix, uint8_t **buf,
			  size_t *len)
{
	uint64_t n;
	uint8_t *out, *p;
	uint32_t i;
	int ret;

	if ((ix->nblocks && !ix->blocks) || (ix->nstartup && !ix->startup) ||
	    (ix->ntrace && !ix->trace))
		return -EINVAL;
	/* The decoder's own rules: never write what it would refuse. */
	ret = check_header(ix, NULL);
	if (!ret)
		ret = check_arrays(ix, NULL);
	if (ret)
		return ret == -ENOMEM ? ret : -EINVAL;
	n = encoded_len(ix->nblocks, ix->nstartup, ix->ntrace);
	if (n > SIZE_MAX)
		return -EINVAL;
	out = malloc((size_t)n);
	if (!out)
		return -ENOMEM;

	memcpy(out + HDR_MAGIC, INDEX_MAGIC, sizeof(INDEX_MAGIC));
	put_le32(out + HDR_VERSION,
		 ix->ntrace ? BLOCKIMG_VERSION_TRACE : BLOCKIMG_VERSION);
	put_le32(out + HDR_BLOCK_SIZE, ix->block_size);
	put_le64(out + HDR_SIZE, ix->size);
	put_le64(out + HDR_DATA_SIZE, ix->data_size);
	put_le32(out + HDR_NBLOCKS, ix->nblocks);
	put_le32(out + HDR_NSTARTUP, ix->nstartup);
	p = out + HDR_LEN;
	for (i = 0; i < ix->nblocks; i++, p += ENT_LEN) {
		const struct blockimg_block *b = &ix->blocks[i];

		put_le64(p + ENT_OFFSET, b->offset);
		put_le32(p + ENT_CLEN, b->clen);
		put_le32(p + ENT_ULEN, b->ulen);
		memcpy(p + ENT_SHA256, b->sha256, SHA256_LEN);
	}
	for (i = 0; i < ix->nstartup; i++, p += STARTUP_LEN)
		put_le32(p, ix->startup[i]);
	if (ix->ntrace) {
		put_le32(p, ix->ntrace);
		p += NTRACE_LEN;
	}
	for (i = 0; i < ix->ntrace; i++, p += TRACE_LEN) {
		put_le64(p + TRACE_OFFSET, ix->trace[i].offset);
		put_le32(p + TRACE_LEN_FIELD, ix->trace[i].len);
		put_le32(p + TRACE_GAP, ix->trace[i].gap_us);
	}

	*buf = out;
	*len = (size_t)n;
	return 0;
}

int blockimg_index_decode(const uint8_t *buf, size_t len,
			  struct blockimg_index *ix, struct err *e)
{
	struct blockimg_index d = {0};
	uint64_t want;
	const uint8_t *p;
	uint32_t i, version;
	int ret;

	memset(ix, 0, sizeof(*ix));
	if (len < HDR_LEN)
		return err_set(e, -EBADMSG,
			       "index: truncated: %zu bytes, the header "
			       "alone is %d",
			       len, HDR_LEN);
	if (memcmp(buf + HDR_MAGIC, INDEX_MAGIC, sizeof(INDEX_MAGIC)) != 0)
		return err_set(e, -EBADMSG,
			       "index: bad magic, not a FaaSNet block index");
	version = get_le32(buf + HDR_VERSION);
	if (version != BLOCKIMG_VERSION && version != BLOCKIMG_VERSION_TRACE)
		return err_set(e, -EBADMSG,
			       "index: version %" PRIu32 ", expected %d or %d",
			       version, BLOCKIMG_VERSION,
			       BLOCKIMG_VERSION_TRACE);
	d.block_size = get_le32(buf + HDR_BLOCK_SIZE);
	d.size = get_le64(buf + HDR_SIZE);
	d.data_size = get_le64(buf + HDR_DATA_SIZE);
	d.nblocks = get_le32(buf + HDR_NBLOCKS);
	d.nstartup = get_le32(buf + HDR_NSTARTUP);
	ret = check_header(&d, e);
	if (ret)
		return ret;
	/* Version 2's trace count sits after the start-up entries: read
	 * once the buffer is known to reach it; a version 2 index has a
	 * trace, or it would have been written as version 1. */
	if (version == BLOCKIMG_VERSION_TRACE) {
		uint64_t at = encoded_len(d.nblocks, d.nstartup, 0);

		if (len < at + NTRACE_LEN)
			return err_set(e, -EBADMSG,
				       "index: truncated: %zu bytes, its trace "
				       "count is at %" PRIu64,
				       len, at);
		d.ntrace = get_le32(buf + at);
		if (!d.ntrace || d.ntrace > BLOCKIMG_MAX_TRACE)
			return err_set(e, -EBADMSG,
				       "index: version 2 with %" PRIu32
				       " trace reads, expected 1 to %u",
				       d.ntrace, BLOCKIMG_MAX_TRACE);
	}
	/* Exact length before any allocation: the arrays then cost no more
	 * memory than the buffer that describes them. */
	want = encoded_len(d.nblocks, d.nstartup, d.ntrace);
	if (len < want)
		return err_set(e, -EBADMSG,
			       "index: truncated: %zu bytes, header says "
			       "%" PRIu64,
			       len, want);
	if (len > want)
		return err_set(e, -EBADMSG,
			       "index: %" PRIu64
			       " trailing bytes after the %" PRIu64
			       " the header says",
			       (uint64_t)len - want, want);

	if (d.nblocks) {
		d.blocks = calloc(d.nblocks, sizeof(*d.blocks));
		if (!d.blocks) {
			ret = err_set(e, -ENOMEM,
				      "index: out of memory for %" PRIu32
				      " blocks",
				      d.nblocks);
			goto out;
		}
	}
	if (d.nstartup) {
		d.startup = calloc(d.nstartup, sizeof(*d.startup));
		if (!d.startup) {
			ret = err_set(e, -ENOMEM,
				      "index: out of memory for %" PRIu32
				      " start-up entries",
				      d.nstartup);
			goto out;
		}
	}
	p = buf + HDR_LEN;
	for (i = 0; i < d.nblocks; i++, p += ENT_LEN) {
		struct blockimg_block *b = &d.blocks[i];

		b->offset = get_le64(p + ENT_OFFSET);
		b->clen = get_le32(p + ENT_CLEN);
		b->ulen = get_le32(p + ENT_ULEN);
		memcpy(b->sha256, p + ENT_SHA256, SHA256_LEN);
	}
	for (i = 0; i < d.nstartup; i++, p += STARTUP_LEN)
		d.startup[i] = get_le32(p);
	if (d.ntrace) {
		p += NTRACE_LEN;
		d.trace = calloc(d.ntrace, sizeof(*d.trace));
		if (!d.trace) {
			ret = err_set(e, -ENOMEM,
				      "index: out of memory for %" PRIu32
				      " trace reads",
				      d.ntrace);
			goto out;
		}
	}
	for (i = 0; i < d.ntrace; i++, p += TRACE_LEN) {
		d.trace[i].offset = get_le64(p + TRACE_OFFSET);
		d.trace[i].len = get_le32(p + TRACE_LEN_FIELD);
		d.trace[i].gap_us = get_le32(p + TRACE_GAP);
	}
	ret = check_arrays(&d, e);
	if (ret)
		goto out;
	*ix = d;
	return 0;
out:
	blockimg_index_free(&d);
	return ret;
}

void blockimg_index_free(struct blockimg_index *ix)
{
	free(ix->blocks);
	free(ix->startup);
	free(ix->trace);
	memset(ix, 0, sizeof(*ix));
}

int blockimg_range(const struct blockimg_index *ix, uint64_t off, uint64_t len,
		   uint32_t *first, uint32_t *count)
{
	uint64_t last;

	if (!ix->block_size)
		return -EINVAL;
	/* Written so that off + len cannot wrap. */
	if (off > ix->size || len > ix->size - off)
		return -ERANGE;
	if (!len) {
		*first = 0;
		*count = 0;
		return 0;
	}
	last = (off + len - 1) / ix->block_size;
	*first = (uint32_t)(off / ix->block_size);
	*count = (uint32_t)(last - off / ix->block_size + 1);
	return 0;
}

int blockimg_block_verify(const struct blockimg_index *ix, uint32_t i,
			  const void *cbuf, size_t clen, struct err *e)
{
	const struct blockimg_block *b;
	uint8_t d[SHA256_LEN];
	char got[SHA256_OCI_LEN], want[SHA256_OCI_LEN];
	int ret;

	if (i >= ix->nblocks)
		return err_set(e, -EINVAL,
			       "block %" PRIu32 ": out of range, the index has "
			       "%" PRIu32,
			       i, ix->nblocks);
	b = &ix->blocks[i];
	if (clen != b->clen)
		return err_set(e, -EBADMSG,
			       "block %" PRIu32
			       ": %zu bytes, index says %" PRIu32,
			       i, clen, b->clen);
	ret = sha256_buf(cbuf, clen, d);
	if (ret)
		return err_set(e, ret, "block %" PRIu32 ": sha256: %s", i,
			       strerror(-ret));
	if (memcmp(d, b->sha256, SHA256_LEN) != 0)
		return err_set(e, -EBADMSG,
			       "block %" PRIu32
			       ": sha256 mismatch: got %s, index says %s",
			       i, sha256_oci(d, got),
			       sha256_oci(b->sha256, want));
	return 0;
}

struct blockimg_decoder {
	ZSTD_DCtx *z;
};

int blockimg_decoder_new(struct blockimg_decoder **d)
{
	*d = malloc(sizeof(**d));
	if (!*d)
		return -ENOMEM;
	(*d)->z = ZSTD_createDCtx();
	if (!(*d)->z) {
		free(*d);
		*d = NULL;
		return -ENOMEM;
	}
	return 0;
}

void blockimg_decoder_free(struct blockimg_decoder *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->z);
	free(d);
}

int blockimg_block_decompress(const struct blockimg_index *ix,
			      struct blockimg_decoder *d, uint32_t i,
			      const void *cbuf, size_t clen, void *out,
			      size_t outlen, struct err *e)
{
	size_t n;
	int ret;

	ret = blockimg_block_verify(ix, i, cbuf, clen, e);
	if (ret)
		return ret;
	if (outlen < ix->blocks[i].ulen)
		return err_set(e, -EINVAL,
			       "block %" PRIu32
			       ": output buffer %zu bytes, needs %" PRIu32,
			       i, outlen, ix->blocks[i].ulen);
	/* Room for exactly ulen: a frame that holds more fails here instead
	 * of writing past what the caller expects to be filled. */
	n = d ? ZSTD_decompressDCtx(d->z, out, ix->blocks[i].ulen, cbuf, clen)
	      : ZSTD_decompress(out, ix->blocks[i].ulen, cbuf, clen);
	if (ZSTD_isError(n))
		return err_set(e, -EBADMSG, "block %" PRIu32 ": zstd: %s", i,
			       ZSTD_getErrorName(n));
	if (n != ix->blocks[i].ulen)
		return err_set(e, -EBADMSG,
			       "block %" PRIu32
			       ": decompressed to %zu bytes, expected %" PRIu32,
			       i, n, ix->blocks[i].ulen);
	return 0;
}

struct blockimg_writer {
	uint32_t block_size;
	int level;
	FILE *out;
	ZSTD_CCtx *cctx;
	uint8_t *ubuf; /* the one block being filled */
	size_t ufill;
	uint8_t *cbuf; /* ZSTD_compressBound(block_size) */
	size_t cbound;
	struct blockimg_block *blocks;
	uint32_t nblocks, cap;
	uint64_t size, data_size;
	int failed; /* sticky: data_out may hold part of a block */
};

void blockimg_writer_free(struct blockimg_writer *w)
{
	if (!w)
		return;
	ZSTD_freeCCtx(w->cctx);
	free(w->ubuf);
	free(w->cbuf);
	free(w->blocks);
	free(w);
}

int blockimg_writer_new(uint32_t block_size, int zstd_level, FILE *data_out,
			struct blockimg_writer **wp, struct err *e)
{
	struct blockimg_writer *w;
	int ret = 0;

	*wp = NULL;
	if (block_size < BLOCKIMG_MIN_BLOCK_SIZE ||
	    block_size > BLOCKIMG_MAX_BLOCK_SIZE)
		return err_set(e, -EINVAL,
			       "block size %" PRIu32 ", expected %u to %u",
			       block_size, BLOCKIMG_MIN_BLOCK_SIZE,
			       BLOCKIMG_MAX_BLOCK_SIZE);
	if (zstd_level < ZSTD_minCLevel() || zstd_level > ZSTD_maxCLevel())
		return err_set(e, -EINVAL, "zstd level %d, expected %d to %d",
			       zstd_level, ZSTD_minCLevel(), ZSTD_maxCLevel());
	if (!data_out)
		return err_set(e, -EINVAL, "no data blob to write to");

	w = calloc(1, sizeof(*w));
	if (!w)
		return err_set(e, -ENOMEM, "out of memory");
	w->block_size = block_size;
	w->level = zstd_level;
	w->out = data_out;
	w->cbound = ZSTD_compressBound(block_size);
	w->cctx = ZSTD_createCCtx();
	w->ubuf = malloc(block_size);
	w->cbuf = malloc(w->cbound);
	if (!w->cctx || !w->ubuf || !w->cbuf) {
		ret = err_set(e, -ENOMEM,
			      "out of memory for blocks of %" PRIu32 " bytes",
			      block_size);
		goto out;
	}
	*wp = w;
	return 0;
out:
	blockimg_writer_free(w);
	return ret;
}

/* Compresses one block (from ubuf, or straight from the caller's buffer when
 * a whole block is there) and appends it to the data blob and the table. */
static int flush_block(struct blockimg_writer *w, const uint8_t *ubuf,
		       size_t ulen, struct err *e)
{
	struct blockimg_block *b;
	size_t clen;
	int ret;

	if (w->nblocks == BLOCKIMG_MAX_BLOCKS)
		return err_set(e, -EFBIG,
			       "layer is more than %u blocks of %" PRIu32
			       " bytes",
			       BLOCKIMG_MAX_BLOCKS, w->block_size);
	if (w->nblocks == w->cap) {
		uint32_t cap = w->cap ? w->cap * 2 : 64;
		struct blockimg_block *nb;

		if (cap > BLOCKIMG_MAX_BLOCKS)
			cap = BLOCKIMG_MAX_BLOCKS;
		nb = reallocarray(w->blocks, cap, sizeof(*nb));
		if (!nb)
			return err_set(e, -ENOMEM,
				       "out of memory for %" PRIu32 " blocks",
				       cap);
		w->blocks = nb;
		w->cap = cap;
	}
	b = &w->blocks[w->nblocks];

	clen = ZSTD_compressCCtx(w->cctx, w->cbuf, w->cbound, ubuf, ulen,
				 w->level);
	if (ZSTD_isError(clen))
		return err_set(e, -EIO, "block %" PRIu32 ": zstd: %s",
			       w->nblocks, ZSTD_getErrorName(clen));
	ret = sha256_buf(w->cbuf, clen, b->sha256);
	if (ret)
		return err_set(e, ret, "block %" PRIu32 ": sha256: %s",
			       w->nblocks, strerror(-ret));
	errno = 0;
	if (fwrite(w->cbuf, 1, clen, w->out) != clen) {
		ret = errno ? -errno : -EIO;
		return err_set(e, ret,
			       "block %" PRIu32 ": writing the data blob: %s",
			       w->nblocks, strerror(-ret));
	}
	b->offset = w->data_size;
	b->clen = (uint32_t)clen;
	b->ulen = (uint32_t)ulen;
	w->nblocks++;
	w->size += ulen;
	w->data_size += clen;
	return 0;
}

int blockimg_writer_add(struct blockimg_writer *w, const void *buf, size_t len,
			struct err *e)
{
	const uint8_t *p = buf;
	int ret;

	if (w->failed)
		return err_set(
			e, w->failed,
			"an earlier error left the data blob incomplete");
	while (len) {
		size_t n;

		if (!w->ufill && len >= w->block_size) {
			ret = flush_block(w, p, w->block_size, e);
			if (ret)
				goto out;
			p += w->block_size;
			len -= w->block_size;
			continue;
		}
		n = w->block_size - w->ufill;
		if (n > len)
			n = len;
		memcpy(w->ubuf + w->ufill, p, n);
		w->ufill += n;
		p += n;
		len -= n;
		if (w->ufill == w->block_size) {
			ret = flush_block(w, w->ubuf, w->ufill, e);
			if (ret)
				goto out;
			w->ufill = 0;
		}
	}
	return 0;
out:
	w->failed = ret;
	return ret;
}

int blockimg_writer_finish(struct blockimg_writer *w, struct blockimg_index *ix,
			   struct err *e)
{
	int ret = 0;

	memset(ix, 0, sizeof(*ix));
	if (w->failed) {
		ret = err_set(e, w->failed,
			      "an earlier error left the data blob incomplete");
		goto out;
	}
	if (w->ufill) {
		ret = flush_block(w, w->ubuf, w->ufill, e);
		if (ret)
			goto out;
		w->ufill = 0;
	}
	/* stdio may have held the last blocks back: a full disk shows here. */
	errno = 0;
	if (fflush(w->out) || ferror(w->out)) {
		ret = errno ? -errno : -EIO;
		ret = err_set(e, ret, "writing the data blob: %s",
			      strerror(-ret));
		goto out;
	}
	ix->block_size = w->block_size;
	ix->size = w->size;
	ix->data_size = w->data_size;
	ix->nblocks = w->nblocks;
	ix->blocks = w->blocks;
	w->blocks = NULL;
out:
	blockimg_writer_free(w);
	return ret;
}

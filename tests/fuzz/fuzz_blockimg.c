/* libFuzzer target for lib/blockimg.c: a block index as a registry or a
 * parent may serve it (versions 1 and 2, the start-up trace too), and the
 * same bytes as one compressed block.
 *
 * On top of the sanitizers: an index the decoder accepts encodes to the
 * very same bytes (the encoding is canonical, and the encoder checks the
 * decoder's rules), its trace's reads all map to blocks of the layer, and
 * its start-up set is the one the trace derives. A block that passes its
 * digest decompresses to exactly its ulen or is refused. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "blockimg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BLOCK_SIZE (64u << 10)

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_blockimg: %s\n", what);
	abort();
}

static void check_index(const uint8_t *data, size_t size,
			struct blockimg_index *ix)
{
	struct blockimg_index again;
	uint32_t i, first, count;
	uint8_t *enc = NULL;
	size_t len;

	if (blockimg_index_encode(ix, &enc, &len))
		fail("a decoded index does not encode");
	if (len != size || memcmp(enc, data, size))
		fail("encode(decode(x)) != x");
	free(enc);
	for (i = 0; i < ix->ntrace; i++) {
		const struct blockimg_read *r = &ix->trace[i];

		if (blockimg_range(ix, r->offset, r->len, &first, &count))
			fail("a trace read the decoder let in is out of range");
		if (count &&
		    (first >= ix->nblocks || count > ix->nblocks - first))
			fail("a trace read maps past the last block");
	}
	if (ix->ntrace) {
		again = *ix;
		again.startup = NULL;
		if (blockimg_startup_from_trace(&again))
			fail("startup_from_trace failed on a valid index");
		if (again.nstartup != ix->nstartup ||
		    (ix->nstartup &&
		     memcmp(again.startup, ix->startup,
			    ix->nstartup * sizeof(*ix->startup))))
			fail("the start-up set is not the trace's");
		free(again.startup);
	}
	(void)blockimg_trace_compute_us(ix);
	(void)blockimg_index_media_type(ix);
	/* The whole layer, and its last byte. */
	if (blockimg_range(ix, 0, ix->size, &first, &count) ||
	    count != ix->nblocks)
		fail("the whole layer is not every block");
	if (ix->size && (blockimg_range(ix, ix->size - 1, 1, &first, &count) ||
			 first != ix->nblocks - 1 || count != 1))
		fail("the last byte is not in the last block");
}

/* The input as the compressed bytes of a layer's only block, with an index
 * that vouches for them: what an agent does with a block whose digest
 * matched. ulen is what the frame says it holds when it says so. */
static void check_block(const uint8_t *data, size_t size)
{
	static struct blockimg_decoder *dec;
	static uint8_t out[BLOCK_SIZE];
	struct blockimg_block b = {.offset = 0};
	struct blockimg_index ix = {
		.block_size = BLOCK_SIZE,
		.nblocks = 1,
		.blocks = &b,
	};
	unsigned long long fcs;
	struct err e;
	int ret;

	if (!size || size > ZSTD_compressBound(BLOCK_SIZE))
		return;
	if (!dec && blockimg_decoder_new(&dec))
		fail("out of memory");
	fcs = ZSTD_getFrameContentSize(data, size);
	b.ulen = fcs >= 1 && fcs <= BLOCK_SIZE ? (uint32_t)fcs : 4096;
	b.clen = (uint32_t)size;
	ix.size = b.ulen;
	ix.data_size = size;
	if (sha256_buf(data, size, b.sha256))
		fail("sha256 failed");
	/* The kept context and a fresh one must agree. */
	ret = blockimg_block_decompress(&ix, dec, 0, data, size, out,
					sizeof(out), &e);
	if (ret != blockimg_block_decompress(&ix, NULL, 0, data, size, out,
					     sizeof(out), &e))
		fail("a kept decoder and a fresh one disagree");
	if (ret && ret != -EBADMSG)
		fail("decompress failed other than -EBADMSG");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blockimg_index ix;
	struct err e;

	if (!blockimg_index_decode(data, size, &ix, &e)) {
		check_index(data, size, &ix);
		blockimg_index_free(&ix);
	}
	check_block(data, size);
	return 0;
}

/* Unit tests for lib/blockimg.c: the writer against its input, the index's
 * encoding both ways and every rule the decoder enforces, the mapping of
 * byte ranges to blocks, and per-block verification and decompression. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "blockimg.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define BS 4096u /* small blocks keep the tests quick */

/* The index layout, as docs/image-format.md gives it. Tests patch encoded
 * indexes at these offsets to break one rule at a time. */
#define HDR_VERSION    8
#define HDR_BLOCK_SIZE 12
#define HDR_SIZE       16
#define HDR_DATA_SIZE  24
#define HDR_NBLOCKS    32
#define HDR_NSTARTUP   36
#define HDR_LEN	       40
#define ENT_OFFSET     0
#define ENT_CLEN       8
#define ENT_ULEN       12
#define ENT_LEN	       48
#define ENT(i)	       (HDR_LEN + (size_t)(i)*ENT_LEN)

/* With ASan (as the test build always is), an allocation above 256 MiB
 * returns NULL instead of succeeding, so a decoder that allocated from an
 * unchecked count would answer -ENOMEM and fail the huge-count tests. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "max_allocation_size_mb=256:allocator_may_return_null=1";
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

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Text-like bytes from a small alphabet: pseudo-random, so blocks differ,
 * but compressible, so the data blob is visibly smaller than the layer. */
static uint8_t *make_layer(size_t n, uint32_t seed)
{
	static const char alphabet[] = "etaoin shrdlu\n";
	uint8_t *p = malloc(n ? n : 1);
	uint32_t x = seed | 1;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)alphabet[x % (sizeof(alphabet) - 1)];
	}
	return p;
}

/* A layer, its data blob and index, built through the writer. */
struct image {
	uint8_t *layer;
	size_t size;
	char *data;
	size_t data_len;
	struct blockimg_index ix;
};

/* Feeds the layer in pieces cycling through pieces[] (a 0 piece included:
 * the writer must take empty adds), or whole when npieces is 0. */
static void build(struct image *im, size_t size, uint32_t seed,
		  const size_t *pieces, size_t npieces)
{
	struct blockimg_writer *w = NULL;
	struct err e = {""};
	FILE *f;
	size_t off = 0, k = 0;

	memset(im, 0, sizeof(*im));
	im->layer = make_layer(size, seed);
	im->size = size;
	f = open_memstream(&im->data, &im->data_len);
	assert_non_null(f);
	if (blockimg_writer_new(BS, 3, f, &w, &e))
		fail_msg("writer_new: %s", e.msg);
	while (off < size) {
		size_t n = npieces ? pieces[k++ % npieces] : size;

		if (n > size - off)
			n = size - off;
		if (blockimg_writer_add(w, im->layer + off, n, &e))
			fail_msg("writer_add: %s", e.msg);
		off += n;
	}
	if (blockimg_writer_finish(w, &im->ix, &e))
		fail_msg("writer_finish: %s", e.msg);
	assert_int_equal(fclose(f), 0);
}

static void image_free(struct image *im)
{
	free(im->layer);
	free(im->data);
	blockimg_index_free(&im->ix);
}

/* Encodes im's index, with a start-up set of the given blocks. */
static void encode(struct image *im, const uint32_t *startup, uint32_t n,
		   uint8_t **buf, size_t *len)
{
	uint32_t *s = NULL;

	if (n) {
		s = malloc(n * sizeof(*s));
		assert_non_null(s);
		memcpy(s, startup, n * sizeof(*s));
	}
	free(im->ix.startup);
	im->ix.startup = s;
	im->ix.nstartup = n;
	assert_int_equal(blockimg_index_encode(&im->ix, buf, len), 0);
}

/* Decode must fail with -EBADMSG, a message holding want, and a zeroed
 * index. */
static void expect_reject(const uint8_t *buf, size_t len, const char *want,
			  const char *what)
{
	struct blockimg_index ix;
	struct err e = {""};
	int ret;

	memset(&ix, 0xa5, sizeof(ix));
	ret = blockimg_index_decode(buf, len, &ix, &e);
	if (ret != -EBADMSG)
		fail_msg("%s: decode returned %d, expected -EBADMSG (%s)", what,
			 ret, e.msg);
	if (!strstr(e.msg, want))
		fail_msg("%s: message \"%s\" lacks \"%s\"", what, e.msg, want);
	if (strncmp(e.msg, "index: ", 7) != 0)
		fail_msg("%s: message \"%s\" does not start with \"index: \"",
			 what, e.msg);
	if (ix.blocks || ix.startup || ix.nblocks || ix.nstartup || ix.size ||
	    ix.trace || ix.ntrace)
		fail_msg("%s: index not cleared on error", what);
}

/* Every prefix of a valid index, from nothing to one byte short, is
 * refused as truncated. */
static void expect_every_prefix_rejected(const uint8_t *buf, size_t len)
{
	char msg[128];
	uint8_t *cut;
	size_t n;

	for (n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so ASan sees any read past it. */
		cut = malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, buf, n);
		snprintf(msg, sizeof(msg), "cut to %zu of %zu", n, len);
		expect_reject(cut, n, "truncated", msg);
		free(cut);
	}
}

/* ---- the writer ---- */

static void check_image(const struct image *im)
{
	const struct blockimg_index *ix = &im->ix;
	uint32_t want = (uint32_t)((im->size + BS - 1) / BS);
	uint64_t off = 0, usum = 0;
	uint8_t *out = malloc(BS);
	struct blockimg_decoder *d = NULL;
	struct err e = {""};
	uint32_t i;

	assert_non_null(out);
	/* Every other block through a kept context, so both paths run. */
	assert_int_equal(blockimg_decoder_new(&d), 0);
	assert_int_equal(ix->block_size, BS);
	assert_int_equal(ix->size, im->size);
	assert_int_equal(ix->nblocks, want);
	assert_int_equal(ix->data_size, im->data_len);
	assert_int_equal(ix->nstartup, 0);
	assert_null(ix->startup);
	for (i = 0; i < ix->nblocks; i++) {
		const struct blockimg_block *b = &ix->blocks[i];
		uint32_t ulen = i + 1 < want ? BS : (uint32_t)(im->size - usum);

		assert_int_equal(b->offset, off);
		assert_int_equal(b->ulen, ulen);
		assert_true(b->clen > 0);
		memset(out, 0, BS);
		if (blockimg_block_decompress(ix, i % 2 ? d : NULL, i,
					      im->data + b->offset, b->clen,
					      out, BS, &e))
			fail_msg("size %zu, block %u: %s", im->size, i, e.msg);
		if (memcmp(out, im->layer + usum, ulen) != 0)
			fail_msg("size %zu, block %u: bytes differ", im->size,
				 i);
		off += b->clen;
		usum += b->ulen;
	}
	assert_int_equal(off, im->data_len);
	assert_int_equal(usum, im->size);
	blockimg_decoder_free(d);
	free(out);
}

static const size_t sizes[] = {
	1, BS - 1, BS, BS + 1, 2 * BS, 3 * BS + 100, 5 * BS + 123, 100 * BS + 7,
};

static void test_writer_sizes(void **state)
{
	static const size_t odd[] = {1, 7, 0, 1000, BS + 3, 3 * BS, 2};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct image whole, bits;

		build(&whole, sizes[i], (uint32_t)i + 1, NULL, 0);
		build(&bits, sizes[i], (uint32_t)i + 1, odd, ARRAY_SIZE(odd));
		check_image(&whole);
		check_image(&bits);
		/* How the bytes arrive changes nothing in either blob. */
		assert_int_equal(whole.data_len, bits.data_len);
		assert_memory_equal(whole.data, bits.data, whole.data_len);
		assert_int_equal(whole.ix.nblocks, bits.ix.nblocks);
		assert_memory_equal(whole.ix.blocks, bits.ix.blocks,
				    whole.ix.nblocks *
					    sizeof(*whole.ix.blocks));
		if (sizes[i] >= BS)
			assert_true(whole.data_len < sizes[i]);
		image_free(&whole);
		image_free(&bits);
	}
}

/* An empty layer is valid: no blocks, an empty data blob, a bare header. */
static void test_empty_layer(void **state)
{
	struct image im;
	struct blockimg_index ix;
	struct err e = {""};
	uint32_t first = 7, count = 7;
	uint8_t *buf;
	size_t len;

	(void)state;
	build(&im, 0, 1, NULL, 0);
	assert_int_equal(im.data_len, 0);
	assert_int_equal(im.ix.nblocks, 0);
	assert_null(im.ix.blocks);
	assert_int_equal(im.ix.size, 0);
	assert_int_equal(im.ix.data_size, 0);
	assert_int_equal(im.ix.block_size, BS);

	assert_int_equal(blockimg_index_encode(&im.ix, &buf, &len), 0);
	assert_int_equal(len, HDR_LEN);
	if (blockimg_index_decode(buf, len, &ix, &e))
		fail_msg("decode: %s", e.msg);
	assert_int_equal(ix.nblocks, 0);
	assert_int_equal(ix.size, 0);

	assert_int_equal(blockimg_range(&ix, 0, 0, &first, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(blockimg_range(&ix, 0, 1, &first, &count), -ERANGE);
	assert_int_equal(blockimg_range(&ix, 1, 0, &first, &count), -ERANGE);
	assert_int_equal(blockimg_block_verify(&ix, 0, "", 0, &e), -EINVAL);

	/* One start-up entry for no blocks is out of range. */
	put_le32(buf + HDR_NSTARTUP, 1);
	expect_reject(buf, len, "1 start-up entries", "start-up, no blocks");
	blockimg_index_free(&ix);
	free(buf);
	image_free(&im);
}

static void test_writer_bad_args(void **state)
{
	struct blockimg_writer *w = (void *)1;
	struct err e = {""};
	FILE *f = fopen("/dev/null", "w");
	static const uint32_t bad_bs[] = {0, BLOCKIMG_MIN_BLOCK_SIZE - 1,
					  BLOCKIMG_MAX_BLOCK_SIZE + 1,
					  UINT32_MAX};
	size_t i;

	(void)state;
	assert_non_null(f);
	for (i = 0; i < ARRAY_SIZE(bad_bs); i++) {
		assert_int_equal(blockimg_writer_new(bad_bs[i], 3, f, &w, &e),
				 -EINVAL);
		assert_null(w);
		assert_non_null(strstr(e.msg, "block size"));
	}
	assert_int_equal(
		blockimg_writer_new(BS, ZSTD_maxCLevel() + 1, f, &w, &e),
		-EINVAL);
	assert_non_null(strstr(e.msg, "zstd level"));
	assert_int_equal(blockimg_writer_new(BS, 3, NULL, &w, &e), -EINVAL);
	assert_int_equal(
		blockimg_writer_new(BLOCKIMG_MAX_BLOCK_SIZE, 1, f, &w, &e), 0);
	blockimg_writer_free(w);
	blockimg_writer_free(NULL);
	fclose(f);
}

/* /dev/full: unbuffered, the block that fills fails at once and the writer
 * stays failed; buffered, the failure surfaces in finish. */
static void test_writer_write_errors(void **state)
{
	struct blockimg_writer *w;
	struct blockimg_index ix;
	struct err e = {""};
	uint8_t *layer = make_layer(2 * BS, 9);
	FILE *f;

	(void)state;
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(setvbuf(f, NULL, _IONBF, 0), 0);
	assert_int_equal(blockimg_writer_new(BS, 3, f, &w, &e), 0);
	assert_int_equal(blockimg_writer_add(w, layer, BS - 1, &e), 0);
	assert_int_equal(blockimg_writer_add(w, layer, 2, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "block 0: writing the data blob"));
	assert_int_equal(blockimg_writer_add(w, layer, 1, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "earlier error"));
	memset(&ix, 0xa5, sizeof(ix));
	assert_int_equal(blockimg_writer_finish(w, &ix, &e), -ENOSPC);
	assert_null(ix.blocks);
	assert_int_equal(ix.nblocks, 0);
	fclose(f);

	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(blockimg_writer_new(BS, 3, f, &w, &e), 0);
	assert_int_equal(blockimg_writer_add(w, layer, 100, &e), 0);
	assert_int_equal(blockimg_writer_finish(w, &ix, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "writing the data blob"));
	assert_null(ix.blocks);
	fclose(f);
	free(layer);
}

/* ---- the index's encoding ---- */

static void test_round_trip(void **state)
{
	static const uint32_t startup[] = {4, 0, 2, 5};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct image im;
		struct blockimg_index ix;
		struct err e = {""};
		uint8_t *buf, *buf2;
		size_t len, len2;
		uint32_t s[ARRAY_SIZE(startup)], n = 0, j;

		build(&im, sizes[i], (uint32_t)i + 100, NULL, 0);
		/* Only the start-up entries that name a block of this layer. */
		for (j = 0; j < ARRAY_SIZE(startup); j++)
			if (startup[j] < im.ix.nblocks)
				s[n++] = startup[j];
		encode(&im, s, n, &buf, &len);
		assert_int_equal(len,
				 HDR_LEN + im.ix.nblocks * ENT_LEN + 4 * n);
		assert_memory_equal(buf, "FNBLKIX\0", 8);
		assert_int_equal(get_le32(buf + HDR_VERSION), BLOCKIMG_VERSION);
		assert_int_equal(get_le64(buf + HDR_SIZE), sizes[i]);

		if (blockimg_index_decode(buf, len, &ix, &e))
			fail_msg("size %zu: decode: %s", sizes[i], e.msg);
		assert_int_equal(ix.block_size, im.ix.block_size);
		assert_int_equal(ix.size, im.ix.size);
		assert_int_equal(ix.data_size, im.ix.data_size);
		assert_int_equal(ix.nblocks, im.ix.nblocks);
		assert_int_equal(ix.nstartup, n);
		for (j = 0; j < ix.nblocks; j++) {
			const struct blockimg_block *a = &ix.blocks[j];
			const struct blockimg_block *b = &im.ix.blocks[j];

			assert_int_equal(a->offset, b->offset);
			assert_int_equal(a->clen, b->clen);
			assert_int_equal(a->ulen, b->ulen);
			assert_memory_equal(a->sha256, b->sha256, SHA256_LEN);
		}
		for (j = 0; j < n; j++)
			assert_int_equal(ix.startup[j], s[j]);

		assert_int_equal(blockimg_index_encode(&ix, &buf2, &len2), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(buf2, buf, len);

		free(buf);
		free(buf2);
		blockimg_index_free(&ix);
		assert_null(ix.blocks);
		image_free(&im);
	}
}

/* Every prefix of a valid index, from nothing to one byte short. */
static void test_decode_every_truncation(void **state)
{
	static const uint32_t startup[] = {3, 1};
	struct image im;
	struct blockimg_index ix;
	struct err e = {""};
	char msg[128];
	uint8_t *buf;
	size_t len;

	(void)state;
	build(&im, 5 * BS + 123, 7, NULL, 0);
	encode(&im, startup, ARRAY_SIZE(startup), &buf, &len);
	expect_every_prefix_rejected(buf, len);
	/* The exact wording, once. */
	assert_int_equal(blockimg_index_decode(buf, 120, &ix, &e), -EBADMSG);
	snprintf(msg, sizeof(msg),
		 "index: truncated: 120 bytes, header says %zu", len);
	assert_string_equal(e.msg, msg);
	free(buf);
	image_free(&im);
}

static void test_decode_trailing_byte(void **state)
{
	struct image im;
	uint8_t *buf, *big;
	size_t len;

	(void)state;
	build(&im, 2 * BS + 1, 8, NULL, 0);
	encode(&im, NULL, 0, &buf, &len);
	big = malloc(len + 1);
	assert_non_null(big);
	memcpy(big, buf, len);
	big[len] = 0;
	expect_reject(big, len + 1, "1 trailing bytes", "one trailing byte");
	free(big);
	free(buf);
	image_free(&im);
}

/* One field of a valid index changed, and what decode must say. */
struct patch {
	size_t at;
	int width; /* 4 or 8 */
	uint64_t value;
	/* Optional second field, for changes that keep one rule and break
	 * the next (nblocks with size). */
	size_t at2;
	uint64_t value2;
	const char *want;
};

/* The index below: 3 full blocks and one of 100 bytes, start-up {2, 0}. */
#define P_SIZE (3 * BS + 100)

static void test_decode_rejects(void **state)
{
	static const uint32_t startup[] = {2, 0};
	struct image im;
	uint8_t *buf, *copy;
	size_t len, i;
	uint64_t data_size, off2;
	uint32_t clen1;

	(void)state;
	build(&im, P_SIZE, 11, NULL, 0);
	encode(&im, startup, ARRAY_SIZE(startup), &buf, &len);
	data_size = im.ix.data_size;
	off2 = im.ix.blocks[2].offset;
	clen1 = im.ix.blocks[1].clen;
	{
		const struct patch p[] = {
			{0, 4, 0x4b4c424e, 0, 0, "bad magic"}, /* "NBLK" */
			{7, 4, 0x58494b4c, 0, 0, "bad magic"},
			{HDR_VERSION, 4, 0, 0, 0, "version 0, expected 1 or 2"},
			/* version 2 without its trace count after the set */
			{HDR_VERSION, 4, 2, 0, 0, "its trace count is at"},
			{HDR_BLOCK_SIZE, 4, 0, 0, 0, "block size 0"},
			{HDR_BLOCK_SIZE, 4, BLOCKIMG_MIN_BLOCK_SIZE - 1, 0, 0,
			 "block size 1023"},
			{HDR_BLOCK_SIZE, 4, BLOCKIMG_MAX_BLOCK_SIZE + 1, 0, 0,
			 "block size 67108865"},
			{HDR_BLOCK_SIZE, 4, UINT32_MAX, 0, 0,
			 "block size 4294967295"},
			/* a valid block size that disagrees with nblocks */
			{HDR_BLOCK_SIZE, 4, 2 * BS, 0, 0,
			 "4 blocks, but 12388 bytes in blocks of 8192 need 2"},
			{HDR_SIZE, 4, P_SIZE + BS, 0, 0, "need 5"},
			{HDR_SIZE, 4, 3 * BS, 0, 0, "need 3"},
			{HDR_SIZE, 8, UINT64_MAX, 0, 0,
			 "need 4503599627370496"},
			/* nblocks and size agree, the buffer is too short */
			{HDR_NBLOCKS, 4, 5, HDR_SIZE, 4 * BS + 100,
			 "truncated"},
			/* huge counts: refused before any allocation */
			{HDR_NBLOCKS, 4, UINT32_MAX, 0, 0,
			 "4294967295 blocks, at most 16777216"},
			{HDR_NBLOCKS, 4, BLOCKIMG_MAX_BLOCKS + 1, HDR_SIZE,
			 (uint64_t)(BLOCKIMG_MAX_BLOCKS + 1) * BS,
			 "16777217 blocks, at most 16777216"},
			{HDR_NBLOCKS, 4, BLOCKIMG_MAX_BLOCKS, HDR_SIZE,
			 (uint64_t)BLOCKIMG_MAX_BLOCKS * BS,
			 "truncated: 240 bytes, header says 805306416"},
			{HDR_NSTARTUP, 4, UINT32_MAX, 0, 0,
			 "4294967295 start-up entries, more than its 4"},
			{HDR_NSTARTUP, 4, 3, 0, 0, "truncated"},
			{HDR_NSTARTUP, 4, 1, 0, 0, "4 trailing bytes"},
			{HDR_DATA_SIZE, 8, data_size + 1, 0, 0,
			 "data bytes, header says"},
			/* the entries */
			{ENT(0) + ENT_OFFSET, 8, 1, 0, 0,
			 "block 0: offset 1, expected 0"},
			{ENT(2) + ENT_OFFSET, 8, off2 + 1, 0, 0,
			 "block 2: offset"},
			{ENT(2) + ENT_OFFSET, 8, off2 - 1, 0, 0,
			 "block 2: offset"},
			{ENT(1) + ENT_CLEN, 4, clen1 + 1, 0, 0,
			 "block 2: offset"},
			{ENT(1) + ENT_CLEN, 4, 0, 0, 0,
			 "block 1: clen 0, expected 1 to"},
			{ENT(1) + ENT_CLEN, 4, ZSTD_compressBound(BS) + 1, 0, 0,
			 "block 1: clen"},
			{ENT(1) + ENT_ULEN, 4, BS - 1, 0, 0,
			 "block 1: ulen 4095, expected 4096"},
			{ENT(0) + ENT_ULEN, 4, BS + 1, 0, 0,
			 "block 0: ulen 4097, expected 4096"},
			{ENT(3) + ENT_ULEN, 4, 0, 0, 0,
			 "block 3: ulen 0, expected 100"},
			{ENT(3) + ENT_ULEN, 4, 101, 0, 0,
			 "block 3: ulen 101, expected 100"},
			{ENT(3) + ENT_ULEN, 4, BS, 0, 0,
			 "block 3: ulen 4096, expected 100"},
			/* the start-up set */
			{ENT(4), 4, 4, 0, 0,
			 "start-up entry 0: block 4, only 4 blocks"},
			{ENT(4) + 4, 4, UINT32_MAX, 0, 0,
			 "start-up entry 1: block 4294967295"},
			{ENT(4) + 4, 4, 2, 0, 0,
			 "start-up entry 1: block 2 listed twice"},
		};

		for (i = 0; i < ARRAY_SIZE(p); i++) {
			char what[64];

			copy = malloc(len);
			assert_non_null(copy);
			memcpy(copy, buf, len);
			if (p[i].width == 8)
				put_le64(copy + p[i].at, p[i].value);
			else
				put_le32(copy + p[i].at, (uint32_t)p[i].value);
			if (p[i].at2)
				put_le64(copy + p[i].at2, p[i].value2);
			snprintf(what, sizeof(what), "patch %zu (at %zu)", i,
				 p[i].at);
			expect_reject(copy, len, p[i].want, what);
			free(copy);
		}
	}
	/* The unpatched buffer still decodes: each failure above is the
	 * patch's doing. */
	{
		struct blockimg_index ix;
		struct err e = {""};

		assert_int_equal(blockimg_index_decode(buf, len, &ix, &e), 0);
		blockimg_index_free(&ix);
	}
	free(buf);
	image_free(&im);
}

/* The encoder holds an index to the decoder's rules. */
static void test_encode_refuses_invalid(void **state)
{
	struct image im;
	struct blockimg_index ix;
	uint32_t bad_startup[] = {4};
	uint32_t dup_startup[] = {1, 1};
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	build(&im, P_SIZE, 12, NULL, 0);

	ix = im.ix;
	ix.blocks = NULL;
	assert_int_equal(blockimg_index_encode(&ix, &buf, &len), -EINVAL);
	ix = im.ix;
	ix.block_size = 0;
	assert_int_equal(blockimg_index_encode(&ix, &buf, &len), -EINVAL);
	ix = im.ix;
	ix.size++;
	assert_int_equal(blockimg_index_encode(&ix, &buf, &len), -EINVAL);
	ix = im.ix;
	ix.data_size--;
	assert_int_equal(blockimg_index_encode(&ix, &buf, &len), -EINVAL);
	ix = im.ix;
	ix.startup = bad_startup;
	ix.nstartup = 1;
	assert_int_equal(blockimg_index_encode(&ix, &buf, &len), -EINVAL);
	ix.startup = dup_startup;
	ix.nstartup = 2;
	assert_int_equal(blockimg_index_encode(&ix, &buf, &len), -EINVAL);
	ix.startup = NULL;
	assert_int_equal(blockimg_index_encode(&ix, &buf, &len), -EINVAL);
	im.ix.blocks[1].ulen--;
	assert_int_equal(blockimg_index_encode(&im.ix, &buf, &len), -EINVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
	im.ix.blocks[1].ulen++;
	assert_int_equal(blockimg_index_encode(&im.ix, &buf, &len), 0);
	assert_non_null(buf);
	free(buf);
	image_free(&im);
}

/* ---- byte ranges to blocks ---- */

struct range_case {
	uint64_t off, len;
	int ret;
	uint32_t first, count;
};

static void test_range(void **state)
{
	const uint64_t size = P_SIZE;
	const struct range_case c[] = {
		{0, 1, 0, 0, 1},
		{0, BS, 0, 0, 1},
		{0, BS + 1, 0, 0, 2},
		{0, size, 0, 0, 4},
		{BS - 1, 2, 0, 0, 2},
		{BS, BS, 0, 1, 1},
		{BS + 1, 2 * BS, 0, 1, 3},
		{2 * BS - 1, 1, 0, 1, 1},
		{3 * BS, 100, 0, 3, 1}, /* the partial last block */
		{size - 1, 1, 0, 3, 1},
		{3 * BS - 1, 2, 0, 2, 2},
		{0, 0, 0, 0, 0},
		{2 * BS + 5, 0, 0, 0, 0},
		{size, 0, 0, 0, 0},
		{size, 1, -ERANGE, 0, 0},
		{size + 1, 0, -ERANGE, 0, 0},
		{size - 1, 2, -ERANGE, 0, 0},
		{0, size + 1, -ERANGE, 0, 0},
		{1, UINT64_MAX, -ERANGE, 0, 0}, /* off + len wraps */
		{UINT64_MAX, 2, -ERANGE, 0, 0},
		{UINT64_MAX, 0, -ERANGE, 0, 0},
	};
	struct blockimg_block blocks[4] = {{0}};
	struct blockimg_index ix = {
		.block_size = BS,
		.size = size,
		.nblocks = 4,
		.blocks = blocks,
	};
	uint32_t first, count;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		int ret;

		first = 0xdead;
		count = 0xbeef;
		ret = blockimg_range(&ix, c[i].off, c[i].len, &first, &count);
		if (ret != c[i].ret)
			fail_msg("range %zu: returned %d, expected %d", i, ret,
				 c[i].ret);
		if (ret && (first != 0xdead || count != 0xbeef))
			fail_msg("range %zu: wrote outputs on error", i);
		if (!ret && (first != c[i].first || count != c[i].count))
			fail_msg("range %zu: blocks %u+%u, expected %u+%u", i,
				 first, count, c[i].first, c[i].count);
	}
	ix.block_size = 0;
	assert_int_equal(blockimg_range(&ix, 0, 1, &first, &count), -EINVAL);
}

/* ---- verify and decompress ---- */

static void test_verify_names_the_block(void **state)
{
	struct image im;
	struct err e = {""};
	uint8_t *out = malloc(BS);
	char want[64];
	uint32_t i;

	(void)state;
	assert_non_null(out);
	build(&im, P_SIZE, 13, NULL, 0);
	for (i = 0; i < im.ix.nblocks; i++) {
		const struct blockimg_block *b = &im.ix.blocks[i];
		char *c = im.data + b->offset;

		assert_int_equal(
			blockimg_block_verify(&im.ix, i, c, b->clen, &e), 0);
		c[b->clen / 2] ^= 0x10;
		snprintf(want, sizeof(want), "block %u: sha256 mismatch", i);
		assert_int_equal(
			blockimg_block_verify(&im.ix, i, c, b->clen, &e),
			-EBADMSG);
		assert_non_null(strstr(e.msg, want));
		assert_non_null(strstr(e.msg, "sha256:"));
		assert_int_equal(blockimg_block_decompress(&im.ix, NULL, i, c, b->clen, out, BS, &e),
				 -EBADMSG);
		assert_non_null(strstr(e.msg, want));
		c[b->clen / 2] ^= 0x10;

		snprintf(want, sizeof(want), "block %u: ", i);
		assert_int_equal(
			blockimg_block_verify(&im.ix, i, c, b->clen - 1, &e),
			-EBADMSG);
		assert_non_null(strstr(e.msg, want));
		assert_non_null(strstr(e.msg, "index says"));
	}
	/* A block's bytes are not another block's. */
	assert_int_equal(blockimg_block_verify(&im.ix, 1,
					       im.data + im.ix.blocks[0].offset,
					       im.ix.blocks[1].clen, &e),
			 -EBADMSG);
	assert_int_equal(
		blockimg_block_verify(&im.ix, im.ix.nblocks, im.data, 1, &e),
		-EINVAL);
	assert_int_equal(
		blockimg_block_verify(&im.ix, UINT32_MAX, im.data, 1, &e),
		-EINVAL);
	free(out);
	image_free(&im);
}

/* Frames that pass the digest but do not hold exactly ulen bytes: the index
 * is made to vouch for them, as a malicious or buggy builder could. */
static void vouch(struct blockimg_index *ix, uint32_t i, const void *c,
		  size_t clen)
{
	ix->blocks[i].clen = (uint32_t)clen;
	assert_int_equal(sha256_buf(c, clen, ix->blocks[i].sha256), 0);
}

static void test_decompress_exact_length(void **state)
{
	struct image im;
	struct err e = {""};
	size_t bound = ZSTD_compressBound(BS + 1), n;
	uint8_t *frame = malloc(bound), *out = malloc(BS + 1);
	const char junk[] = "not a zstd frame";

	(void)state;
	assert_non_null(frame);
	assert_non_null(out);
	build(&im, P_SIZE, 14, NULL, 0);

	/* a block's bytes one short */
	n = ZSTD_compress(frame, bound, im.layer, BS - 1, 1);
	assert_false(ZSTD_isError(n));
	vouch(&im.ix, 1, frame, n);
	assert_int_equal(
		blockimg_block_decompress(&im.ix, NULL, 1, frame, n, out, BS + 1, &e),
		-EBADMSG);
	assert_string_equal(
		e.msg, "block 1: decompressed to 4095 bytes, expected 4096");

	/* one byte too many: the frame does not fit in ulen */
	n = ZSTD_compress(frame, bound, im.layer, BS + 1, 1);
	assert_false(ZSTD_isError(n));
	vouch(&im.ix, 1, frame, n);
	memset(out, 0x5a, BS + 1);
	assert_int_equal(
		blockimg_block_decompress(&im.ix, NULL, 1, frame, n, out, BS + 1, &e),
		-EBADMSG);
	assert_non_null(strstr(e.msg, "block 1: zstd: "));
	assert_int_equal(out[BS], 0x5a);

	/* not zstd at all */
	vouch(&im.ix, 2, junk, sizeof(junk));
	assert_int_equal(blockimg_block_decompress(&im.ix, NULL, 2, junk,
						   sizeof(junk), out, BS, &e),
			 -EBADMSG);
	assert_non_null(strstr(e.msg, "block 2: zstd: "));

	/* a good block into too small a buffer */
	assert_int_equal(blockimg_block_decompress(&im.ix, NULL, 0, im.data + im.ix.blocks[0].offset,
				 im.ix.blocks[0].clen, out, BS - 1, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "block 0: output buffer 4095 bytes"));
	/* the last block needs only its own 100 bytes */
	assert_int_equal(blockimg_block_decompress(&im.ix, NULL, 3, im.data + im.ix.blocks[3].offset,
				 im.ix.blocks[3].clen, out, 100, &e),
			 0);
	assert_memory_equal(out, im.layer + 3 * BS, 100);

	free(frame);
	free(out);
	image_free(&im);
}

/* A start-up trace (version 2): the layer below is 5 full blocks and 123
 * bytes; the reads touch blocks 2, then 0 and 1, then 4 and 5 (block 1
 * twice), and end with compute alone. */
#define T_SIZE (5 * BS + 123)
static const struct blockimg_read t_reads[] = {
	{2 * BS + 10, 100, 1000},
	{0, BS + 1, 5},
	{BS + 7, 9, 0},
	{4 * BS + 4000, 200, 70},
	{T_SIZE, 0, 2000},
};
static const uint32_t t_startup[] = {2, 0, 1, 4, 5};
#define T_NTRACE ARRAY_SIZE(t_reads)
/* Where the trace count and the first read are in that index. */
#define T_AT   (HDR_LEN + 6 * ENT_LEN + 4 * ARRAY_SIZE(t_startup))
#define T_READ (T_AT + 4)

static void trace_image(struct image *im, uint8_t **buf, size_t *len)
{
	build(im, T_SIZE, 21, NULL, 0);
	im->ix.trace = malloc(sizeof(t_reads));
	assert_non_null(im->ix.trace);
	memcpy(im->ix.trace, t_reads, sizeof(t_reads));
	im->ix.ntrace = T_NTRACE;
	assert_int_equal(blockimg_startup_from_trace(&im->ix), 0);
	assert_int_equal(blockimg_index_encode(&im->ix, buf, len), 0);
}

static void test_trace_round_trip(void **state)
{
	struct blockimg_index ix;
	struct err e = {""};
	struct image im;
	uint8_t *buf, *buf2;
	size_t len, len2, i;

	(void)state;
	trace_image(&im, &buf, &len);
	/* The start-up set is the blocks read, in first-read order. */
	assert_int_equal(im.ix.nstartup, ARRAY_SIZE(t_startup));
	assert_memory_equal(im.ix.startup, t_startup, sizeof(t_startup));
	assert_string_equal(blockimg_index_media_type(&im.ix),
			    BLOCKIMG_INDEX_MEDIA_TYPE_TRACE);
	assert_int_equal(get_le32(buf + HDR_VERSION), BLOCKIMG_VERSION_TRACE);
	assert_int_equal(len, T_READ + 16 * T_NTRACE);
	assert_int_equal(get_le32(buf + T_AT), T_NTRACE);
	assert_true(len <= blockimg_index_max_len(6, T_NTRACE));
	if (blockimg_index_decode(buf, len, &ix, &e))
		fail_msg("decode: %s", e.msg);
	assert_int_equal(ix.ntrace, T_NTRACE);
	for (i = 0; i < T_NTRACE; i++) {
		assert_int_equal(ix.trace[i].offset, t_reads[i].offset);
		assert_int_equal(ix.trace[i].len, t_reads[i].len);
		assert_int_equal(ix.trace[i].gap_us, t_reads[i].gap_us);
	}
	assert_int_equal(blockimg_index_encode(&ix, &buf2, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);
	free(buf2);
	blockimg_index_free(&ix);
	assert_null(ix.trace);
	/* Without its trace the same index is version 1 again. */
	free(im.ix.trace);
	im.ix.trace = NULL;
	im.ix.ntrace = 0;
	assert_string_equal(blockimg_index_media_type(&im.ix),
			    BLOCKIMG_INDEX_MEDIA_TYPE);
	assert_int_equal(blockimg_index_encode(&im.ix, &buf2, &len2), 0);
	assert_int_equal(get_le32(buf2 + HDR_VERSION), BLOCKIMG_VERSION);
	free(buf2);
	free(buf);
	image_free(&im);
}

static void test_trace_rejects(void **state)
{
	static const struct {
		size_t at;
		uint32_t value;
		const char *want;
	} patches[] = {
		/* the first read's length, past the layer */
		{T_READ + 8, 6 * BS, "end past the layer"},
		/* the last read's offset, past the layer */
		{T_READ + 4 * 16, T_SIZE + 1, "end past the layer"},
		/* a gap over a minute */
		{T_READ + 12, BLOCKIMG_MAX_GAP_US + 1, "us of compute"},
		/* a version 2 index with no trace */
		{T_AT, 0, "version 2 with 0 trace reads"},
		{T_AT, BLOCKIMG_MAX_TRACE + 1, "trace reads, expected 1"},
		/* the start-up set out of the trace's order: 0 before 2 */
		{HDR_LEN + 6 * ENT_LEN, 0, "is not the 5 blocks the trace"},
		/* version 3 */
		{HDR_VERSION, 3, "version 3, expected 1 or 2"},
	};
	struct image im;
	uint8_t *buf, *copy;
	size_t len, i;
	char msg[64];

	(void)state;
	trace_image(&im, &buf, &len);
	for (i = 0; i < ARRAY_SIZE(patches); i++) {
		copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, buf, len);
		put_le32(copy + patches[i].at, patches[i].value);
		if (patches[i].at == HDR_LEN + 6 * ENT_LEN)
			put_le32(copy + patches[i].at + 4, 2);
		snprintf(msg, sizeof(msg), "patch %zu", i);
		expect_reject(copy, len, patches[i].want, msg);
		free(copy);
	}
	/* Every prefix is refused, the trace's included. */
	expect_every_prefix_rejected(buf, len);
	/* The encoder refuses what the decoder would: a read past the end. */
	{
		uint8_t *out;
		size_t olen;

		im.ix.trace[0].len = 6 * BS;
		assert_int_equal(blockimg_index_encode(&im.ix, &out, &olen),
				 -EINVAL);
	}
	free(buf);
	image_free(&im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_sizes),
		cmocka_unit_test(test_empty_layer),
		cmocka_unit_test(test_writer_bad_args),
		cmocka_unit_test(test_writer_write_errors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_every_truncation),
		cmocka_unit_test(test_decode_trailing_byte),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_encode_refuses_invalid),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_verify_names_the_block),
		cmocka_unit_test(test_decompress_exact_length),
		cmocka_unit_test(test_trace_round_trip),
		cmocka_unit_test(test_trace_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

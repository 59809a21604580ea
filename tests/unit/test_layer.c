/* layer_read_tar takes every valid gzip and nothing else: one whose first
 * read inflates to exactly a full output buffer (zlib then asks for more
 * input, which is no error), one of several members; a truncated one is
 * still refused. And convert's output of such a layer holds its bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../../image/cmds.h" /* not testbed/cmds.h */
#include "blockimg.h"
#include "layer.h"
#include "mem_image.h"
#include "oci.h"

#define CHUNK LAYER_READ_CHUNK
/* Two reads and a part: the chunks after the first are read too. */
#define TOTAL (2 * CHUNK + 12345)
/* Where the run of zeros that pays for the headers starts. */
#define RUN_AT 1000

static void fill(uint8_t *p, size_t n, uint64_t x)
{
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static void put(z_stream *z, const uint8_t *p, size_t n, int flush)
{
	int r;

	z->next_in = (uint8_t *)p;
	z->avail_in = (uInt)n;
	r = deflate(z, flush);
	assert_true(r == Z_OK || r == Z_STREAM_END);
	assert_int_equal(z->avail_in, 0);
}

/* A gzip of data[0..TOTAL) whose first CHUNK bytes end on a full flush and
 * inflate to exactly data[0..CHUNK): stored blocks but for a run of zeros
 * at level 9, whose length is searched for so that what it saves pays for
 * the gzip header and the blocks' headers to the byte. data is filled here.
 * Returns the gzip's length, *out malloc'd. */
static size_t aligned_gzip(uint8_t *data, uint8_t **out)
{
	size_t cap = TOTAL + TOTAL / 8 + 4096, run, n = 0;
	uint8_t *buf = malloc(cap);
	z_stream z;

	assert_non_null(buf);
	for (run = 1; run < 8192 && !n; run++) {
		fill(data, TOTAL, 42);
		memset(data + RUN_AT, 0, run);
		memset(&z, 0, sizeof(z));
		assert_int_equal(deflateInit2(&z, 0, Z_DEFLATED, 15 + 16, 8,
					      Z_DEFAULT_STRATEGY),
				 Z_OK);
		z.next_out = buf;
		z.avail_out = (uInt)cap;
		put(&z, data, RUN_AT, Z_FULL_FLUSH);
		assert_int_equal(deflateParams(&z, 9, Z_DEFAULT_STRATEGY),
				 Z_OK);
		put(&z, data + RUN_AT, run, Z_FULL_FLUSH);
		assert_int_equal(deflateParams(&z, 0, Z_DEFAULT_STRATEGY),
				 Z_OK);
		put(&z, data + RUN_AT + run, CHUNK - RUN_AT - run,
		    Z_FULL_FLUSH);
		if (z.total_out == CHUNK) {
			put(&z, data + CHUNK, TOTAL - CHUNK, Z_FINISH);
			n = z.total_out;
		}
		deflateEnd(&z);
	}
	assert_true(n > CHUNK);
	*out = buf;
	return n;
}

/* One gzip member of p[0..n) appended at buf + *at. */
static void member(const uint8_t *p, size_t n, uint8_t *buf, size_t cap,
		   size_t *at)
{
	z_stream z = {0};

	assert_int_equal(
		deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
		Z_OK);
	z.next_out = buf + *at;
	z.avail_out = (uInt)(cap - *at);
	put(&z, p, n, Z_FINISH);
	*at += z.total_out;
	deflateEnd(&z);
}

struct sink {
	uint8_t *p;
	size_t n, cap;
};

static int to_mem(void *arg, const void *buf, size_t len, struct err *e)
{
	struct sink *s = arg;

	(void)e;
	if (len > s->cap - s->n)
		return -EFBIG;
	memcpy(s->p + s->n, buf, len);
	s->n += len;
	return 0;
}

static char g_dir[] = "/tmp/fnet-test-layer-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	mem_rm_tree(g_dir);
	return 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* layer_read_tar of buf[0..n) as a tar+gzip blob into s; its return. */
static int read_gz(const uint8_t *buf, size_t n, struct sink *s, struct err *e)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/layer.gz", g_dir);
	write_file(path, buf, n);
	s->n = 0;
	return layer_read_tar(path, OCI_LAYER_GZIP_MEDIA_TYPE, to_mem, s, e);
}

/* The first read's input inflates to exactly one full out buffer. */
static void test_first_chunk_fills_buffer(void **state)
{
	uint8_t *data = malloc(TOTAL), *gz;
	struct sink s = {.p = malloc(TOTAL + 1), .cap = TOTAL + 1};
	struct err e = {""};
	size_t n;

	(void)state;
	assert_non_null(data);
	assert_non_null(s.p);
	n = aligned_gzip(data, &gz);
	assert_int_equal(read_gz(gz, n, &s, &e), 0);
	assert_int_equal(s.n, TOTAL);
	assert_memory_equal(s.p, data, TOTAL);
	/* Cut at that boundary it is a stream that ends early. */
	e.msg[0] = '\0';
	assert_int_equal(read_gz(gz, CHUNK, &s, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "ends early"));
	free(gz);
	free(data);
	free(s.p);
}

/* Two members are one stream of both (gzip -d, Go's reader); bytes after
 * a member that are not another are refused. */
static void test_members(void **state)
{
	size_t cap = TOTAL * 2, at = 0;
	uint8_t *data = malloc(TOTAL), *gz = malloc(cap);
	struct sink s = {.p = malloc(TOTAL + 1), .cap = TOTAL + 1};
	struct err e = {""};

	(void)state;
	assert_non_null(data);
	assert_non_null(gz);
	assert_non_null(s.p);
	fill(data, TOTAL, 7);
	member(data, CHUNK + 100, gz, cap, &at);
	member(data + CHUNK + 100, TOTAL - CHUNK - 100, gz, cap, &at);
	assert_int_equal(read_gz(gz, at, &s, &e), 0);
	assert_int_equal(s.n, TOTAL);
	assert_memory_equal(s.p, data, TOTAL);
	memset(gz + at, 0, 16);
	assert_int_equal(read_gz(gz, at + 16, &s, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "not valid gzip"));
	free(gz);
	free(data);
	free(s.p);
}

/* A layout of one layer, gz[0..n), whose uncompressed bytes are data. */
static void make_layout(const char *dir, const uint8_t *gz, size_t n,
			const uint8_t *data, size_t len)
{
	struct oci_image img = {0};
	struct oci_layer l = {0};
	struct err e = {""};
	char *cfg = NULL, *man = NULL;
	size_t cfglen, manlen;

	assert_int_equal(oci_layout_init(dir, &e), 0);
	assert_int_equal(oci_layout_put(dir, gz, n, l.blob.digest, &e), 0);
	l.blob.size = n;
	snprintf(l.blob.media_type, sizeof(l.blob.media_type), "%s",
		 OCI_LAYER_GZIP_MEDIA_TYPE);
	mem_digest_of(data, len, l.diff_id);
	img.nlayers = 1;
	img.layers = &l;
	assert_int_equal(oci_config_build(&img, &cfg, &cfglen, &e), 0);
	assert_int_equal(
		oci_layout_put(dir, cfg, cfglen, img.config.digest, &e), 0);
	img.config.size = cfglen;
	snprintf(img.config.media_type, sizeof(img.config.media_type), "%s",
		 OCI_CONFIG_MEDIA_TYPE);
	assert_int_equal(oci_manifest_build(&img, &man, &manlen, &e), 0);
	assert_int_equal(oci_layout_set_manifest(dir, man, manlen, "v1", &e),
			 0);
	free(cfg);
	free(man);
}

/* convert of that layer: its blocks joined are the layer's bytes. */
static void test_convert_round_trip(void **state)
{
	char src[256], dst[256], path[512], *man = NULL, *ixbuf = NULL;
	uint8_t *data = malloc(TOTAL), *gz, *blob = NULL, *back;
	struct oci_image img = {0};
	struct blockimg_index ix;
	struct err e = {""};
	size_t n, len, bloblen;
	uint32_t i;

	(void)state;
	assert_non_null(data);
	n = aligned_gzip(data, &gz);
	snprintf(src, sizeof(src), "%s/src", g_dir);
	snprintf(dst, sizeof(dst), "%s/dst", g_dir);
	make_layout(src, gz, n, data, TOTAL);
	{
		char *argv[] = {"convert", src,	 "--out",	 dst,
				"--tag",   "v1", "--block-size", "64KiB",
				NULL};

		assert_int_equal(convert_main(8, argv), 0);
	}
	assert_int_equal(oci_layout_get_manifest(dst, "v1", &man, &len, &e), 0);
	assert_int_equal(oci_manifest_parse(man, len, &img, &e), 0);
	assert_int_equal(img.nlayers, 1);
	assert_true(img.layers[0].has_blocks);
	assert_int_equal(oci_layout_read_blob(dst, img.layers[0].index.digest,
					      &ixbuf, &len, &e),
			 0);
	assert_int_equal(blockimg_index_decode((uint8_t *)ixbuf, len, &ix, &e),
			 0);
	assert_int_equal(ix.size, TOTAL);
	assert_true(oci_layout_blob_path(dst, img.layers[0].data.digest, path,
					 sizeof(path)) >= 0);
	assert_int_equal(mem_read_file(path, &blob, &bloblen), 0);
	assert_int_equal(bloblen, ix.data_size);
	back = malloc(TOTAL);
	assert_non_null(back);
	for (i = 0; i < ix.nblocks; i++) {
		const struct blockimg_block *b = &ix.blocks[i];

		assert_int_equal(blockimg_block_decompress(
					 &ix, NULL, i, blob + b->offset,
					 b->clen,
					 back + (size_t)i * ix.block_size,
					 TOTAL - (size_t)i * ix.block_size, &e),
				 0);
	}
	assert_memory_equal(back, data, TOTAL);
	blockimg_index_free(&ix);
	oci_image_free(&img);
	free(back);
	free(blob);
	free(ixbuf);
	free(man);
	free(gz);
	free(data);
}

/* The blobs convert writes under names anyone can guess (blobs/.data.PID,
 * blobs/.gzip.PID) are made anew: a link planted there is not written
 * through. */
static void test_convert_no_link_written_through(void **state)
{
	char src[256], dst[256], victim[256], link_at[300];
	const char *names[] = {"data", "gzip"};
	uint8_t *data = malloc(TOTAL), *gz, *back = NULL;
	struct err e = {""};
	size_t n, len, i;
	FILE *f;

	(void)state;
	assert_non_null(data);
	n = aligned_gzip(data, &gz);
	snprintf(src, sizeof(src), "%s/lsrc", g_dir);
	snprintf(dst, sizeof(dst), "%s/ldst", g_dir);
	snprintf(victim, sizeof(victim), "%s/victim", g_dir);
	make_layout(src, gz, n, data, TOTAL);
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("untouched\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(oci_layout_init(dst, &e), 0);
	for (i = 0; i < 2; i++) {
		snprintf(link_at, sizeof(link_at), "%s/blobs/.%s.%d", dst,
			 names[i], (int)getpid());
		assert_int_equal(symlink(victim, link_at), 0);
	}
	{
		char *argv[] = {"convert", src,	 "--out",	 dst,
				"--tag",   "v1", "--block-size", "64KiB",
				NULL};

		assert_int_equal(convert_main(8, argv), 0);
	}
	assert_int_equal(mem_read_file(victim, &back, &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(back, "untouched\n", 10);
	free(back);
	free(gz);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_chunk_fills_buffer),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_convert_round_trip),
		cmocka_unit_test(test_convert_no_link_written_through),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for image/synth.c: the layer is a well-formed ustar stream of
 * the promised length, reproducible from its seed, compressing like a root
 * filesystem, and stoppable by its consumer; the start-up set has the
 * promised size, no duplicates, and the clustered shape. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "sha256.h"
#include "blockimg.h"
#include "synth.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define REC	      512u

/* A sink that keeps the whole stream, or only counts and hashes it. */
struct collect {
	uint8_t *buf;
	size_t len, cap;
	int keep;
	struct sha256_ctx sha;
	unsigned calls;
};

static int collect_sink(void *arg, const void *buf, size_t len)
{
	struct collect *c = arg;

	c->calls++;
	if (sha256_update(&c->sha, buf, len))
		return -EIO;
	if (c->keep) {
		if (c->len + len > c->cap) {
			size_t cap = c->cap ? c->cap : 1u << 20;
			uint8_t *nb;

			while (cap < c->len + len)
				cap *= 2;
			nb = realloc(c->buf, cap);
			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = cap;
		}
		memcpy(c->buf + c->len, buf, len);
	}
	c->len += len;
	return 0;
}

/* Generates a layer; keep says whether to hold on to its bytes. */
static void gen(uint64_t size, uint64_t seed, int keep, struct collect *c,
		uint8_t digest[SHA256_LEN])
{
	struct err e = {""};
	int ret;

	memset(c, 0, sizeof(*c));
	c->keep = keep;
	assert_int_equal(sha256_init(&c->sha), 0);
	ret = synth_layer(size, 1.0, seed, collect_sink, c, &e);
	if (ret) {
		sha256_abort(&c->sha);
		fail_msg("synth_layer(%llu, %llu): %d %s",
			 (unsigned long long)size, (unsigned long long)seed,
			 ret, e.msg);
	}
	assert_int_equal(sha256_final(&c->sha, digest), 0);
}

static uint64_t expected_len(uint64_t size)
{
	uint64_t r = (size + REC - 1) / REC * REC;

	return r < 3 * REC ? 3 * REC : r;
}

static void test_layer_length(void **state)
{
	static const uint64_t sizes[] = {
		0,	 1,	      511,	512,	   513,
		1535,	 1536,	      1537,	2048,	   4097,
		1000000, 1024 * 1024, 10000000, 10u << 20, (10u << 20) + 1,
	};
	uint8_t d[SHA256_LEN];
	struct collect c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		gen(sizes[i], 7, 0, &c, d);
		if (c.len != expected_len(sizes[i]))
			fail_msg("size %llu: got %zu bytes, expected %llu",
				 (unsigned long long)sizes[i], c.len,
				 (unsigned long long)expected_len(sizes[i]));
		assert_true(c.len % REC == 0);
		assert_true(c.len >= 3 * REC);
	}
}

static void test_layer_deterministic(void **state)
{
	uint8_t a[SHA256_LEN], b[SHA256_LEN], other[SHA256_LEN];
	struct collect c;

	(void)state;
	gen(3u << 20, 42, 0, &c, a);
	gen(3u << 20, 42, 0, &c, b);
	assert_memory_equal(a, b, SHA256_LEN);
	gen(3u << 20, 43, 0, &c, other);
	assert_memory_not_equal(a, other, SHA256_LEN);
	gen(3u << 20, 0, 0, &c, other);
	assert_memory_not_equal(a, other, SHA256_LEN);

	/* Small layers too: a seed must change what is in the files. */
	gen(20000, 1, 0, &c, a);
	gen(20000, 2, 0, &c, b);
	assert_memory_not_equal(a, b, SHA256_LEN);
}

static uint64_t octal(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(p[i] - '0');
	/* A field ends in NUL or space, never in another character. */
	if (i < n && p[i] != '\0' && p[i] != ' ')
		fail_msg("octal field has '%c' at %zu", p[i], i);
	return v;
}

static int is_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Walks the archive; returns the number of files. */
static unsigned walk_tar(const uint8_t *buf, size_t len)
{
	unsigned files = 0, sum, i;
	size_t pos = 0;

	assert_true(len % REC == 0);
	while (pos + REC <= len && !is_zero(buf + pos, REC)) {
		const uint8_t *h = buf + pos;
		uint64_t size, padded;

		if (memcmp(h + 257, "ustar", 5) != 0)
			fail_msg("header at %zu: no ustar magic", pos);
		sum = 0;
		for (i = 0; i < REC; i++)
			sum += i >= 148 && i < 156 ? ' ' : h[i];
		if (octal(h + 148, 8) != sum)
			fail_msg("header at %zu: checksum %llu, computed %u",
				 pos, (unsigned long long)octal(h + 148, 8),
				 sum);
		assert_true(h[156] == '0' || h[156] == '\0');
		assert_true(h[0] != '\0');
		assert_true(memchr(h, '\0', 100) != NULL);
		size = octal(h + 124, 12);
		assert_true(size > 0);
		padded = (size + REC - 1) / REC * REC;
		if (pos + REC + padded > len)
			fail_msg("file at %zu: %llu bytes run past the end %zu",
				 pos, (unsigned long long)size, len);
		if (!is_zero(h + REC + size, padded - size))
			fail_msg("file at %zu: padding after %llu bytes is not "
				 "zero",
				 pos, (unsigned long long)size);
		pos += REC + padded;
		files++;
	}
	/* The end: at least two zero records, and nothing but zeros after. */
	if (len - pos < 2 * REC)
		fail_msg("only %zu bytes after the last file", len - pos);
	if (!is_zero(buf + pos, len - pos))
		fail_msg("non-zero bytes after the end-of-archive at %zu", pos);
	return files;
}

static void test_layer_is_ustar(void **state)
{
	static const uint64_t sizes[] = {1,	 1536,	  2048,	    3000,
					 100000, 1000000, 4u << 20, 10000000};
	uint8_t d[SHA256_LEN];
	struct collect c;
	unsigned files;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		gen(sizes[i], 1000 + i, 1, &c, d);
		files = walk_tar(c.buf, c.len);
		/* Room for a header and a record of data before the two
		 * zero records means at least one file. */
		if (c.len >= 4 * REC)
			assert_true(files >= 1);
		else
			assert_int_equal(files, 0);
		/* Files are mostly small: a big layer holds many. */
		if (sizes[i] >= 4u << 20)
			assert_true(files >= 10);
		free(c.buf);
	}
}

/* zstd -3 on the 512 KiB blocks the block image uses. */
static double block_ratio(const uint8_t *buf, size_t len)
{
	size_t bs = 512u << 10, bound = ZSTD_compressBound(bs), off, out = 0;
	void *dst = malloc(bound);

	assert_non_null(dst);
	for (off = 0; off < len; off += bs) {
		size_t n = len - off < bs ? len - off : bs;
		size_t z = ZSTD_compress(dst, bound, buf + off, n, 3);

		assert_false(ZSTD_isError(z));
		out += z;
	}
	free(dst);
	return (double)len / (double)out;
}

static void test_layer_compresses_like_a_filesystem(void **state)
{
	static const uint64_t seeds[] = {1, 2, 3};
	uint8_t d[SHA256_LEN];
	struct collect c;
	double r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(seeds); i++) {
		gen(16u << 20, seeds[i], 1, &c, d);
		r = block_ratio(c.buf, c.len);
		free(c.buf);
		print_message("seed %llu: zstd -3 ratio %.2f\n",
			      (unsigned long long)seeds[i], r);
		if (r < 1.8 || r > 4)
			fail_msg("seed %llu: zstd ratio %.2f, expected 1.8-4",
				 (unsigned long long)seeds[i], r);
	}
}

struct cancel {
	unsigned calls, stop_at;
	size_t len;
};

static int cancel_sink(void *arg, const void *buf, size_t len)
{
	struct cancel *c = arg;

	(void)buf;
	c->len += len;
	if (++c->calls >= c->stop_at)
		return -ECANCELED;
	return 0;
}

static void test_layer_sink_stops(void **state)
{
	static const unsigned stops[] = {1, 3};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(stops); i++) {
		struct cancel c = {.stop_at = stops[i]};
		struct err e = {""};
		int ret;

		ret = synth_layer(32u << 20, 1.0, 5, cancel_sink, &c, &e);
		assert_int_equal(ret, -ECANCELED);
		/* Not called again once it said stop. */
		assert_int_equal(c.calls, stops[i]);
		assert_true(c.len < 32u << 20);
		assert_true(e.msg[0] != '\0');
	}

	/* A sink stopping at the final flush of a tiny layer. */
	{
		struct cancel c = {.stop_at = 1};
		struct err e = {""};

		assert_int_equal(synth_layer(1, 1.0, 5, cancel_sink, &c, &e),
				 -ECANCELED);
		assert_int_equal(c.calls, 1);
		assert_int_equal(c.len, 3 * REC);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Checks range and distinctness; returns the set. */
static uint32_t *startup(uint32_t nblocks, double fraction, uint64_t seed,
			 uint32_t *n)
{
	struct err e = {""};
	uint32_t *set = NULL, i;
	uint8_t *seen;
	int ret;

	ret = synth_startup_set(nblocks, fraction, seed, &set, n, &e);
	if (ret)
		fail_msg("synth_startup_set(%u, %g): %d %s", nblocks, fraction,
			 ret, e.msg);
	if (!*n) {
		assert_null(set);
		return NULL;
	}
	assert_non_null(set);
	seen = calloc(nblocks, 1);
	assert_non_null(seen);
	for (i = 0; i < *n; i++) {
		if (set[i] >= nblocks)
			fail_msg("entry %u is block %u of %u", i, set[i],
				 nblocks);
		if (seen[set[i]])
			fail_msg("block %u appears twice", set[i]);
		seen[set[i]] = 1;
	}
	free(seen);
	return set;
}

static void test_startup_counts(void **state)
{
	/* round(fraction * nblocks), at least one when fraction > 0. */
	static const struct {
		uint32_t nblocks;
		double fraction;
		uint32_t want;
	} cases[] = {
		{1, 0.5, 1},	   {1, 0.01, 1},       {3, 0.5, 2},
		{10, 0.04, 1},	   {10, 0.05, 1},      {10, 0.16, 2},
		{10, 0.25, 3},	   {7, 0.5, 4},	       {100, 0.16, 16},
		{1000, 0.001, 1},  {1000, 0.16, 160},  {1517, 0.3, 455},
		{2000, 0.16, 320}, {5000, 0.95, 4750}, {100, 0, 0},
		{0, 0.5, 0},	   {100, 1e-9, 1},     {64, 1, 64},
	};
	uint32_t *set, n;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		set = startup(cases[i].nblocks, cases[i].fraction, 9 + i, &n);
		if (n != cases[i].want)
			fail_msg("synth_startup_set(%u, %g): %u entries, "
				 "expected %u",
				 cases[i].nblocks, cases[i].fraction, n,
				 cases[i].want);
		free(set);
	}
}

static void test_startup_zero_and_all(void **state)
{
	uint32_t *set, n, i;
	struct err e = {""};

	(void)state;
	set = (uint32_t *)(uintptr_t)1;
	n = 99;
	assert_int_equal(synth_startup_set(500, 0, 1, &set, &n, &e), 0);
	assert_null(set);
	assert_int_equal(n, 0);

	/* Every block, each once (startup() checks distinctness). */
	set = startup(777, 1, 3, &n);
	assert_int_equal(n, 777);
	qsort(set, n, sizeof(*set), cmp_u32);
	for (i = 0; i < n; i++)
		assert_int_equal(set[i], i);
	free(set);
}

static void test_startup_rejects_fraction(void **state)
{
	static const double bad[] = {-0.01,    -1,	  1.0001, 2,
				     INFINITY, -INFINITY, NAN};
	uint32_t *set, n;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct err e = {""};

		set = (uint32_t *)(uintptr_t)1;
		n = 99;
		if (synth_startup_set(100, bad[i], 1, &set, &n, &e) != -EINVAL)
			fail_msg("fraction %g accepted", bad[i]);
		assert_null(set);
		assert_int_equal(n, 0);
		assert_true(e.msg[0] != '\0');
	}
}

static void test_startup_deterministic(void **state)
{
	uint32_t *a, *b, na, nb;

	(void)state;
	a = startup(2000, 0.16, 11, &na);
	b = startup(2000, 0.16, 11, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * sizeof(*a));
	free(b);
	b = startup(2000, 0.16, 12, &nb);
	assert_int_equal(na, nb);
	assert_memory_not_equal(a, b, na * sizeof(*a));
	free(a);
	free(b);
}

static void test_startup_clustered(void **state)
{
	uint32_t *set, n, i, seed, neighbours, ascents;
	uint8_t in[2000];

	(void)state;
	for (seed = 1; seed <= 5; seed++) {
		set = startup(2000, 0.16, seed, &n);
		assert_int_equal(n, 320);
		memset(in, 0, sizeof(in));
		for (i = 0; i < n; i++)
			in[set[i]] = 1;
		neighbours = 0;
		for (i = 0; i < n; i++)
			if ((set[i] > 0 && in[set[i] - 1]) ||
			    (set[i] + 1 < 2000 && in[set[i] + 1]))
				neighbours++;
		if (neighbours * 10 < n * 6)
			fail_msg("seed %u: %u of %u entries have a neighbour",
				 seed, neighbours, n);

		/* Runs come in random order: the list is not ascending, and
		 * not merely a few steps down either. */
		ascents = 0;
		for (i = 1; i < n; i++)
			ascents += set[i] > set[i - 1];
		if (ascents == n - 1)
			fail_msg("seed %u: the set is ascending", seed);
		assert_true(n - 1 - ascents >= 10);
		/* Within runs consecutive entries are consecutive blocks. */
		ascents = 0;
		for (i = 1; i < n; i++)
			ascents += set[i] == set[i - 1] + 1;
		assert_true(ascents * 2 >= n);
		free(set);
	}
}

/* Blocks no larger than a page: the same set as drawing blocks. Larger
 * blocks: each block once, every page read inside a fetched block, and
 * more bytes fetched the larger the blocks (Fig. 20's effect). */
static void test_startup_bytes_maps_pages_onto_blocks(void **state)
{
	const uint64_t size = 64ull << 20;
	uint32_t *a = NULL, *b = NULL, na, nb, i;
	uint64_t prev = 0;
	struct err e = {""};
	unsigned bs;

	(void)state;
	assert_int_equal(synth_startup_bytes(size, 16384, 0.1, 7, &a, &na, &e),
			 0);
	assert_int_equal(synth_startup_set((uint32_t)(size / 16384), 0.1, 7, &b,
					   &nb, &e),
			 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * sizeof(*a));
	free(a);
	free(b);
	for (bs = 64u << 10; bs <= 4u << 20; bs *= 2) {
		uint32_t nblocks = (uint32_t)(size / bs);
		uint8_t *seen = calloc(nblocks, 1);
		uint64_t fetched;

		assert_non_null(seen);
		assert_int_equal(
			synth_startup_bytes(size, bs, 0.1, 7, &a, &na, &e), 0);
		for (i = 0; i < na; i++) {
			assert_true(a[i] < nblocks);
			assert_int_equal(seen[a[i]], 0);
			seen[a[i]] = 1;
		}
		fetched = (uint64_t)na * bs;
		/* At least what is read, and more with larger blocks. */
		assert_true(fetched >= size / 10 - (64u << 10));
		assert_true(fetched >= prev);
		if (bs > (64u << 10))
			assert_true(fetched > prev || na == nblocks);
		prev = fetched;
		free(seen);
		free(a);
	}
	assert_int_equal(synth_startup_bytes(size, 0, 0.1, 7, &a, &na, &e),
			 -EINVAL);
}

/* A scaled image drawn in its full-size image's terms reads the same
 * blocks at every scale; drawn in its own terms (pages of 64 KiB over
 * blocks under 64 KiB) it would read a different share. */
static void test_startup_full_size_terms(void **state)
{
	const uint64_t full = 758000000;
	const uint32_t fbs = 512u << 10;
	static const double scales[] = {0.05, 0.02, 0.005};
	struct synth_startup su = {.fraction = 0.16, .seed = 3};
	struct blockimg_index ref = {0}, ix = {0};
	struct err e = {""};
	unsigned k;

	(void)state;
	ref.size = full;
	ref.block_size = fbs;
	ref.nblocks = (uint32_t)((full + fbs - 1) / fbs);
	assert_int_equal(synth_draw_startup(&su, &ref, &e), 0);
	assert_true(ref.nstartup > ref.nblocks / 4); /* 64 KiB pages */
	su.full_size = full;
	su.full_block_size = fbs;
	for (k = 0; k < 3; k++) {
		ix.block_size = (uint32_t)(fbs * scales[k] + 0.5);
		ix.nblocks = ref.nblocks;
		ix.size = (uint64_t)(ix.nblocks - 1) * ix.block_size + 1000;
		assert_int_equal(synth_draw_startup(&su, &ix, &e), 0);
		assert_int_equal(ix.nstartup, ref.nstartup);
		assert_memory_equal(ix.startup, ref.startup,
				    ix.nstartup * sizeof(*ix.startup));
		free(ix.startup);
		ix.startup = NULL;
	}
	/* not the same image scaled: refused */
	ix.nblocks = ref.nblocks + 1;
	assert_int_equal(synth_draw_startup(&su, &ix, &e), -EINVAL);
	free(ref.startup);
}

/* A synthetic start-up trace (compute_us > 0) reads the very blocks the
 * start-up set names without one, in the same order, at every scale; its
 * gaps add up to the compute asked for, a fifth of it after the last
 * read; consecutive reads of a run go front to back; it encodes and
 * decodes as a version 2 index. */
static void test_startup_trace(void **state)
{
	const uint64_t full = 758000000;
	const uint32_t fbs = 512u << 10;
	static const double scales[] = {1, 0.02, 0.005};
	struct synth_startup su = {.fraction = 0.16, .seed = 5};
	struct blockimg_index ref = {0}, ix = {0};
	struct err e = {""};
	unsigned k, i, fwd = 0;
	uint64_t sum;

	(void)state;
	ref.size = full;
	ref.block_size = fbs;
	ref.nblocks = (uint32_t)((full + fbs - 1) / fbs);
	assert_int_equal(synth_draw_startup(&su, &ref, &e), 0);
	assert_int_equal(ref.ntrace, 0);
	su.compute_us = 1500000;
	su.full_size = full;
	su.full_block_size = fbs;
	for (k = 0; k < 3; k++) {
		ix.block_size = (uint32_t)(fbs * scales[k] + 0.5);
		ix.nblocks = ref.nblocks;
		ix.size = k ? (uint64_t)(ix.nblocks - 1) * ix.block_size + 1000
			    : full;
		if (synth_draw_startup(&su, &ix, &e))
			fail_msg("scale %g: %s", scales[k], e.msg);
		assert_true(ix.ntrace > 1);
		assert_int_equal(ix.nstartup, ref.nstartup);
		assert_memory_equal(ix.startup, ref.startup,
				    ix.nstartup * sizeof(*ix.startup));
		sum = 0;
		for (i = 0; i < ix.ntrace; i++) {
			const struct blockimg_read *r = &ix.trace[i];

			sum += r->gap_us;
			assert_true(r->offset + r->len <= ix.size);
			if (i + 1 < ix.ntrace)
				assert_true(r->len > 0);
			if (i && r->offset == ix.trace[i - 1].offset +
						     ix.trace[i - 1].len)
				fwd++;
		}
		/* The last entry: compute alone, about a fifth of it. */
		assert_int_equal(ix.trace[ix.ntrace - 1].len, 0);
		assert_true(ix.trace[ix.ntrace - 1].gap_us >= 1500000 / 5);
		assert_true(sum <= 1500000 && sum > 1500000 - ix.ntrace);
		free(ix.startup);
		free(ix.trace);
		ix.startup = NULL;
		ix.trace = NULL;
	}
	/* Runs of neighbouring pages are read front to back: most reads
	 * start where the one before ended (4/5 of pages are in runs). */
	assert_true(fwd > 3 * 3 * ref.nstartup / 10);
	free(ref.startup);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_full_size_terms),
		cmocka_unit_test(test_startup_trace),
		cmocka_unit_test(test_startup_bytes_maps_pages_onto_blocks),
		cmocka_unit_test(test_layer_length),
		cmocka_unit_test(test_layer_deterministic),
		cmocka_unit_test(test_layer_is_ustar),
		cmocka_unit_test(test_layer_compresses_like_a_filesystem),
		cmocka_unit_test(test_layer_sink_stops),
		cmocka_unit_test(test_startup_counts),
		cmocka_unit_test(test_startup_zero_and_all),
		cmocka_unit_test(test_startup_rejects_fraction),
		cmocka_unit_test(test_startup_deterministic),
		cmocka_unit_test(test_startup_clustered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

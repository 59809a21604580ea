#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockimg.h"
#include "synth.h"

#define TAR_RECORD 512
#define CHUNK	   (256u << 10)
#define VOCAB	   2048
/* A scaled image's blocks are small, and zstd, compressing each alone,
 * finds fewer repeats in them: text uses VOCAB x scale^SYNTH_VOCAB_EXP
 * words, which keeps the block data's ratio within 2% of the full-size
 * image's from scale 0.02 up (5% at 0.01, 10% at 0.005) and gzip's within
 * 3-6%: the table in docs/fidelity.md. */
#define SYNTH_VOCAB_EXP 0.75

/* xorshift64*: fast, and the same sequence everywhere for a seed. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
	if (!r->s)
		r->s = 1;
	rng_next(r);
}

/* Uniform in [0, n). */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

struct gen {
	struct rng r;  /* the bytes of the content */
	struct rng rs; /* the files: sizes and kinds, the same at any scale */
	synth_sink_fn sink;
	void *arg;
	uint8_t *buf; /* CHUNK bytes being filled */
	size_t fill;
	char words[VOCAB][12];
	uint8_t wlen[VOCAB];
	unsigned vocab; /* words in use: fewer in a scaled image */
};

static int flush(struct gen *g)
{
	int ret = 0;

	if (g->fill)
		ret = g->sink(g->arg, g->buf, g->fill);
	g->fill = 0;
	return ret;
}

static int put(struct gen *g, const void *p, size_t len)
{
	const uint8_t *s = p;
	int ret;

	while (len) {
		size_t n = CHUNK - g->fill < len ? CHUNK - g->fill : len;

		memcpy(g->buf + g->fill, s, n);
		g->fill += n;
		s += n;
		len -= n;
		if (g->fill == CHUNK) {
			ret = flush(g);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Text: source files and configuration, words from a fixed vocabulary with
 * Zipf-like reuse, in lines. Compresses about 3-4x. */
static int gen_text(struct gen *g, uint64_t n)
{
	char line[160];
	size_t len = 0;
	int ret;

	while (n) {
		/* Squaring favours low indexes: frequent words. */
		uint64_t x = rng_below(&g->r, g->vocab);
		unsigned w = (unsigned)(x * x / g->vocab);
		size_t wl = g->wlen[w];

		if (len + wl + 2 > sizeof(line) || rng_below(&g->r, 12) == 0) {
			line[len++] = '\n';
			if (len > n)
				len = (size_t)n;
			ret = put(g, line, len);
			if (ret)
				return ret;
			n -= len;
			len = rng_below(&g->r, 3) * 4; /* indentation */
			memset(line, ' ', len);
			continue;
		}
		memcpy(line + len, g->words[w], wl);
		len += wl;
		line[len++] = rng_below(&g->r, 8) ? ' ' : '.';
	}
	return 0;
}

/* Machine code and data: random bytes interleaved with repeats of recent
 * stretches, as instruction sequences and tables repeat. About 1.5-2x. */
static int gen_code(struct gen *g, uint64_t n)
{
	uint8_t piece[256], hist[4096];
	size_t hlen = 0;
	int ret;

	while (n) {
		size_t len = 16 + (size_t)rng_below(&g->r, 240), i;

		if (len > n)
			len = (size_t)n;
		if (hlen >= len && rng_below(&g->r, 2)) {
			size_t from = (size_t)rng_below(&g->r, hlen - len + 1);

			memcpy(piece, hist + from, len);
		} else {
			for (i = 0; i < len; i++) {
				uint64_t v = rng_next(&g->r);

				/* Small values dominate real code. */
				piece[i] =
					(uint8_t)(v & 0x80 ? v >> 8 : v & 0x0f);
			}
		}
		ret = put(g, piece, len);
		if (ret)
			return ret;
		if (hlen + len > sizeof(hist))
			hlen = 0;
		memcpy(hist + hlen, piece, len);
		hlen += len;
		n -= len;
	}
	return 0;
}

/* Already compressed data (wheels, images, .gz): incompressible. */
static int gen_random(struct gen *g, uint64_t n)
{
	uint64_t v[32];
	size_t i, len;
	int ret;

	while (n) {
		for (i = 0; i < 32; i++)
			v[i] = rng_next(&g->r);
		len = n < sizeof(v) ? (size_t)n : sizeof(v);
		ret = put(g, v, len);
		if (ret)
			return ret;
		n -= len;
	}
	return 0;
}

static int gen_zero(struct gen *g, uint64_t n)
{
	static const uint8_t z[4096];
	int ret;

	while (n) {
		size_t len = n < sizeof(z) ? (size_t)n : sizeof(z);

		ret = put(g, z, len);
		if (ret)
			return ret;
		n -= len;
	}
	return 0;
}

/* A ustar header for a regular file. */
static int tar_header(struct gen *g, const char *name, uint64_t size)
{
	uint8_t h[TAR_RECORD];
	unsigned sum = 0, i;

	memset(h, 0, sizeof(h));
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	/* ustar's size field holds 11 octal digits; files here are far
	 * smaller, so this never truncates. */
	if (snprintf((char *)h + 124, 12, "%011llo",
		     (unsigned long long)size) >= 12)
		return -EFBIG;
	memcpy(h + 136, "14745671640", 12); /* a fixed mtime: reproducible */
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (i = 0; i < TAR_RECORD; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	return put(g, h, sizeof(h));
}

/* One file's content, of a kind drawn to give a root filesystem's mix. */
static int gen_content(struct gen *g, unsigned kind, uint64_t n)
{
	uint64_t k = kind;

	if (k < 40)
		return gen_text(g, n);
	if (k < 80)
		return gen_code(g, n);
	if (k < 92)
		return gen_random(g, n);
	return gen_zero(g, n);
}

static void make_vocab(struct gen *g)
{
	static const char letters[] = "etaoinshrdlucmfwypvbgkjqxz_";
	unsigned i, j, len;

	for (i = 0; i < VOCAB; i++) {
		len = 2 + (unsigned)rng_below(&g->r, 9);
		for (j = 0; j < len; j++)
			/* Skewed towards common letters, like English. */
			g->words[i][j] = letters[rng_below(
				&g->r, 1 + rng_below(&g->r, 27))];
		g->wlen[i] = (uint8_t)len;
	}
}

/* One file of the full-size image: drawn from g->rs alone, so that the
 * same files come in the same order at every scale. */
struct file {
	uint64_t size; /* scaled */
	unsigned kind;
};

static struct file draw_file(struct gen *g, double scale)
{
	struct file f;
	uint64_t fsize;

	/* Mostly small files, some large: 256 B to 2 MiB at full size. */
	fsize = 1ull << (8 + rng_below(&g->rs, 13));
	fsize += rng_below(&g->rs, fsize);
	f.kind = (unsigned)rng_below(&g->rs, 100);
	f.size = (uint64_t)((double)fsize * scale + 0.5);
	if (!f.size)
		f.size = 1;
	return f;
}

int synth_layer(uint64_t size, double scale, uint64_t seed, synth_sink_fn sink,
		void *arg, struct err *e)
{
	struct gen *g;
	struct file *grp = NULL;
	uint64_t left, esize;
	unsigned nfile = 0, per, n, i;
	char name[100];
	int ret = 0;

	if (!(scale > 0 && scale <= 1))
		return err_set(e, -EINVAL,
			       "synth: scale: expected (0, 1], got %g", scale);
	/* A scaled image holds the full-size image's files, each scaled;
	 * round(1/scale) of them share a tar entry, so that tar headers keep
	 * their full-size share of the bytes (one 512-byte header per file
	 * would be 40% of the layer at 0.005) and the content compresses
	 * alike at every scale (docs/fidelity.md). */
	per = (unsigned)(1 / scale + 0.5);
	size = (size + TAR_RECORD - 1) / TAR_RECORD * TAR_RECORD;
	if (size < 3 * TAR_RECORD)
		size = 3 * TAR_RECORD;
	g = calloc(1, sizeof(*g));
	if (g)
		g->buf = malloc(CHUNK);
	grp = malloc(per * sizeof(*grp));
	if (!g || !g->buf || !grp) {
		if (g)
			free(g->buf);
		free(g);
		free(grp);
		return err_set(e, -ENOMEM, "synth: out of memory");
	}
	rng_seed(&g->r, seed);
	rng_seed(&g->rs, seed ^ 0x66696c6573ull);
	g->sink = sink;
	g->arg = arg;
	make_vocab(g);
	g->vocab = (unsigned)(VOCAB * pow(scale, SYNTH_VOCAB_EXP) + 0.5);
	if (g->vocab < 16)
		g->vocab = 16;

	/* Entries while a header and a record of data fit before the two
	 * zero records that end an archive; what is left is zeros, which tar
	 * reads as the end. */
	left = size - 2 * TAR_RECORD;
	while (!ret && left >= 2 * TAR_RECORD) {
		uint64_t room = left - TAR_RECORD;

		for (n = 0, esize = 0; n < per && esize < room; n++) {
			grp[n] = draw_file(g, scale);
			if (grp[n].size > room - esize)
				grp[n].size = room - esize;
			esize += grp[n].size;
		}
		snprintf(name, sizeof(name), "usr/lib/fn/%03u/f%06u.dat",
			 nfile / 1000, nfile);
		nfile++;
		ret = tar_header(g, name, esize);
		for (i = 0; !ret && i < n; i++)
			ret = gen_content(g, grp[i].kind, grp[i].size);
		if (!ret)
			ret = gen_zero(g, (TAR_RECORD - esize % TAR_RECORD) %
						  TAR_RECORD);
		left -= TAR_RECORD +
			(esize + TAR_RECORD - 1) / TAR_RECORD * TAR_RECORD;
	}
	free(grp);
	if (!ret)
		ret = gen_zero(g, left + 2 * TAR_RECORD);
	if (!ret)
		ret = flush(g);
	free(g->buf);
	free(g);
	if (ret && e && !e->msg[0])
		err_set(e, ret, "synth: the consumer stopped: %s",
			strerror(-ret));
	return ret;
}

int synth_startup_set(uint32_t nblocks, double fraction, uint64_t seed,
		      uint32_t **out, uint32_t *n, struct err *e)
{
	uint32_t want, have = 0, i, *set;
	uint8_t *taken;
	struct rng r;

	*out = NULL;
	*n = 0;
	/* Written so NaN fails too: converting it to an integer below is
	 * undefined. */
	if (!(fraction >= 0 && fraction <= 1))
		return err_set(e, -EINVAL,
			       "start-up fraction: expected 0 to 1, "
			       "got %g",
			       fraction);
	want = (uint32_t)(fraction * nblocks + 0.5);
	if (!want && fraction > 0 && nblocks)
		want = 1;
	if (!want)
		return 0;
	set = malloc(want * sizeof(*set));
	taken = calloc(nblocks, 1);
	if (!set || !taken) {
		free(set);
		free(taken);
		return err_set(e, -ENOMEM, "start-up set: out of memory");
	}
	rng_seed(&r, seed ^ 0x5374617274757021ull);
	/* Runs: a start-up reads an interpreter, its libraries, a package's
	 * files; each mostly contiguous in the layer. */
	while (have < want * 4 / 5) {
		uint32_t start = (uint32_t)rng_below(&r, nblocks);
		uint32_t len = 1 + (uint32_t)rng_below(&r, 15);

		for (i = start; i < nblocks && len && have < want; i++, len--)
			if (!taken[i]) {
				taken[i] = 1;
				set[have++] = i;
			}
	}
	/* Scattered reads: configuration, a locale file, a certificate. */
	while (have < want) {
		i = (uint32_t)rng_below(&r, nblocks);
		if (!taken[i]) {
			taken[i] = 1;
			set[have++] = i;
		}
	}
	free(taken);
	*out = set;
	*n = have;
	return 0;
}

/* The pages a start-up reads, in order: synth_startup_set over the
 * layer's pages of *page bytes (SYNTH_PAGE, or block_size when smaller). */
static int draw_pages(uint64_t size, uint32_t block_size, double fraction,
		      uint64_t seed, uint32_t **pages, uint32_t *np,
		      uint32_t *page, struct err *e)
{
	uint64_t npages;

	*pages = NULL;
	*np = 0;
	if (!block_size)
		return err_set(e, -EINVAL, "start-up set: block size 0");
	*page = block_size < SYNTH_PAGE ? block_size : SYNTH_PAGE;
	npages = (size + *page - 1) / *page;
	if (npages > UINT32_MAX)
		return err_set(e, -EFBIG, "start-up set: layer too large");
	return synth_startup_set((uint32_t)npages, fraction, seed, pages, np,
				 e);
}

int synth_startup_bytes(uint64_t size, uint32_t block_size, double fraction,
			uint64_t seed, uint32_t **out, uint32_t *n,
			struct err *e)
{
	uint64_t nblocks;
	uint32_t *pages = NULL, np = 0, i, *set, page;
	uint8_t *taken;
	int ret;

	*out = NULL;
	*n = 0;
	ret = draw_pages(size, block_size, fraction, seed, &pages, &np, &page,
			 e);
	if (ret || !np)
		return ret;
	nblocks = (size + block_size - 1) / block_size;
	set = malloc(np * sizeof(*set));
	taken = calloc(nblocks ? nblocks : 1, 1);
	if (!set || !taken) {
		free(set);
		free(taken);
		free(pages);
		return err_set(e, -ENOMEM, "start-up set: out of memory");
	}
	/* In the order the pages are read; each block once. */
	for (i = 0; i < np; i++) {
		uint64_t b = (uint64_t)pages[i] * page / block_size;

		if (!taken[b]) {
			taken[b] = 1;
			set[(*n)++] = (uint32_t)b;
		}
	}
	free(taken);
	free(pages);
	*out = set;
	return 0;
}

uint64_t synth_trace_reads(uint64_t size, uint32_t block_size,
			   double fraction)
{
	uint32_t page = block_size < SYNTH_PAGE ? block_size : SYNTH_PAGE;

	/* synth_startup_set's count, one more for a fraction that rounds to
	 * nothing, and the compute-only end. */
	return page ? (uint64_t)(fraction * (double)((size + page - 1) / page) +
				 0.5) +
			      2
		    : 2;
}

/* off of a layer in blocks of from, as the same place in blocks of to. */
static uint64_t scale_offset(uint64_t off, uint32_t from, uint32_t to)
{
	return off / from * to + off % from * to / from;
}

/* The trace of a synthetic start: each page drawn (in the size and blocks
 * of the image it stands for) read whole, front to back within a run, its
 * bytes mapped onto this layer block for block (a page never leaves its
 * block), and compute_us spread over the reads with a seeded jitter, a
 * fifth of it after the last read (the function's own initialisation once
 * its files are in). The start-up set is then the trace's. */
static int draw_trace(const struct synth_startup *s, uint64_t size,
		      uint32_t bs, struct blockimg_index *ix, struct err *e)
{
	uint32_t *pages, np, page, i;
	struct blockimg_read *t;
	double *w, wsum = 0, spread;
	uint64_t given = 0;
	struct rng r;
	int ret;

	ret = draw_pages(size, bs, s->fraction, s->seed, &pages, &np, &page,
			 e);
	if (ret)
		return ret;
	if (np + 1 > BLOCKIMG_MAX_TRACE) {
		free(pages);
		return err_set(e, -EFBIG,
			       "start-up trace: %u reads, at most %u: a larger "
			       "block size or a smaller start-up fraction",
			       np + 1, BLOCKIMG_MAX_TRACE);
	}
	t = calloc(np + 1, sizeof(*t));
	w = calloc(np + 1, sizeof(*w));
	if (!t || !w) {
		free(pages);
		free(t);
		free(w);
		return err_set(e, -ENOMEM, "start-up trace: out of memory");
	}
	rng_seed(&r, s->seed ^ 0x436f6d7075746521ull);
	for (i = 0; i < np; i++) {
		uint64_t off = (uint64_t)pages[i] * page;
		uint64_t end = off + page < size ? off + page : size;
		/* Onto this layer: its block b is the drawn image's block b,
		 * ix->block_size / bs as long. In integers: a float could
		 * put a page's first byte in the block before. */
		uint64_t o2 = scale_offset(off, bs, ix->block_size);
		uint64_t e2 = scale_offset(end, bs, ix->block_size);

		if (e2 > ix->size)
			e2 = ix->size;
		if (o2 >= ix->size)
			o2 = ix->size ? ix->size - 1 : 0;
		if (e2 <= o2)
			e2 = o2 + (ix->size > o2);
		t[i].offset = o2;
		t[i].len = (uint32_t)(e2 - o2);
		/* Between 0.5 and 1.5 of the mean: calls and imports are
		 * not all alike. */
		w[i] = 0.5 + (double)rng_below(&r, 1000) / 1000.0;
		wsum += w[i];
	}
	free(pages);
	t[np].offset = ix->size;
	t[np].len = 0;
	spread = np ? (double)s->compute_us * 0.8 : 0;
	for (i = 0; i < np; i++) {
		double g = spread * w[i] / wsum;

		t[i].gap_us = (uint32_t)(g > BLOCKIMG_MAX_GAP_US
						 ? BLOCKIMG_MAX_GAP_US
						 : g);
		given += t[i].gap_us;
	}
	t[np].gap_us = (uint32_t)(s->compute_us > given ? s->compute_us - given
							 : 0);
	if (t[np].gap_us > BLOCKIMG_MAX_GAP_US)
		t[np].gap_us = BLOCKIMG_MAX_GAP_US;
	free(w);
	free(ix->trace);
	ix->trace = t;
	ix->ntrace = np + 1;
	if (blockimg_startup_from_trace(ix))
		return err_set(e, -ENOMEM, "start-up trace: out of memory");
	return 0;
}

int synth_draw_startup(void *arg, struct blockimg_index *ix, struct err *e)
{
	struct synth_startup *s = arg;
	uint64_t size = ix->size, nb;
	uint32_t bs = ix->block_size;

	if (s->full_size && s->full_block_size) {
		size = s->full_size;
		bs = s->full_block_size;
		nb = (size + bs - 1) / bs;
		if (nb != ix->nblocks)
			return err_set(e, -EINVAL,
				       "start-up set: the full-size image has "
				       "%llu blocks, this one %u: not the same "
				       "image scaled",
				       (unsigned long long)nb, ix->nblocks);
	}
	if (s->compute_us)
		return draw_trace(s, size, bs, ix, e);
	return synth_startup_bytes(size, bs, s->fraction, s->seed, &ix->startup,
				   &ix->nstartup, e);
}

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"

/* One range request covers at most this much: long enough to stream at
 * full speed, short enough that a failure costs little. */
#define FETCH_MAX_RUN  (64u << 20)
#define FETCH_META_MAX (16u << 20)

struct meta_buf {
	char *buf;
	size_t len, cap;
};

static int meta_sink(void *arg, const void *p, size_t len)
{
	struct meta_buf *m = arg;
	char *nb;

	if (m->len + len > FETCH_META_MAX)
		return -EFBIG;
	if (m->len + len + 1 > m->cap) {
		m->cap = (m->len + len + 1) * 2;
		nb = realloc(m->buf, m->cap);
		if (!nb)
			return -ENOMEM;
		m->buf = nb;
	}
	memcpy(m->buf + m->len, p, len);
	m->len += len;
	m->buf[m->len] = '\0';
	return 0;
}

/* A small blob from the registry, whole, as sent. */
static int get_raw(struct fetch_image *fi, const char *digest,
		   struct meta_buf *m, struct err *e)
{
	int ret;

	memset(m, 0, sizeof(*m));
	ret = registry_blob_get(fi->r, fi->ref.repo, digest, 0, 0, meta_sink, m,
				e);
	if (ret == -EFBIG)
		err_set(e, ret, "blob %s: larger than %u bytes", digest,
			FETCH_META_MAX);
	if (ret) {
		free(m->buf);
		m->buf = NULL;
		return ret;
	}
	fi->meta_bytes += m->len;
	return 0;
}

/* A small blob, whole, checked against its digest. */
static int get_small(struct fetch_image *fi, const char *digest,
		     struct meta_buf *m, struct err *e)
{
	uint8_t d[SHA256_LEN];
	char got[SHA256_OCI_LEN] = "?";
	int ret;

	memset(m, 0, sizeof(*m));
	/* The node's metadata store first: checked against the digest as a
	 * registry's answer is, and free of the shaped links. */
	if (fi->meta_dir) {
		struct err ignored = {""};

		if (!oci_layout_read_blob(fi->meta_dir, digest, &m->buf,
					  &m->len, &ignored))
			return 0;
		m->buf = NULL;
		m->len = 0;
	}
	ret = get_raw(fi, digest, m, e);
	if (!ret && (sha256_buf(m->buf ? m->buf : "", m->len, d) ||
		     strcmp(sha256_oci(d, got), digest))) {
		ret = err_set(e, -EBADMSG, "blob %s: content has digest %s",
			      digest, got);
		free(m->buf);
		m->buf = NULL;
	}
	return ret;
}

int fetch_blob_raw(struct fetch_image *fi, const char *digest, uint8_t **buf,
		   size_t *len, struct err *e)
{
	struct meta_buf m;
	int ret;

	ret = get_raw(fi, digest, &m, e);
	if (ret)
		return ret;
	/* An empty blob is a buffer too: the caller's check refuses it. */
	if (!m.buf && !(m.buf = malloc(1)))
		return err_set(e, -ENOMEM, "out of memory");
	*buf = (uint8_t *)m.buf;
	*len = m.len;
	return 0;
}

int fetch_open(const char *refstr, const char *meta_dir, struct fetch_image *fi,
	       struct err *e)
{
	return fetch_open_dilated(refstr, meta_dir, 1, fi, e);
}

int fetch_open_dilated(const char *refstr, const char *meta_dir, double k,
		       struct fetch_image *fi, struct err *e)
{
	struct meta_buf m;
	char *manifest = NULL;
	size_t mlen;
	int ret;

	memset(fi, 0, sizeof(*fi));
	fi->meta_dir = meta_dir;
	ret = registry_ref_parse(refstr, &fi->ref, e);
	if (!ret)
		ret = registry_open(fi->ref.url, &fi->r, e);
	if (!ret)
		registry_set_dilation(fi->r, k);
	if (!ret)
		ret = registry_manifest_get(fi->r, fi->ref.repo, fi->ref.tag,
					    &manifest, &mlen, e);
	if (ret)
		goto out;
	/* A reference that pins a digest is the root of trust: the registry
	 * is not believed any more than a peer would be. */
	if (!strncmp(fi->ref.tag, "sha256:", 7)) {
		uint8_t d[SHA256_LEN];
		char got[SHA256_OCI_LEN] = "?";

		if (sha256_buf(manifest, mlen, d) ||
		    strcmp(sha256_oci(d, got), fi->ref.tag)) {
			ret = err_set(e, -EBADMSG,
				      "manifest of %s has digest %s", refstr,
				      got);
			goto out;
		}
	}
	fi->meta_bytes = mlen;
	ret = oci_manifest_parse(manifest, mlen, &fi->img, e);
	if (ret)
		goto out;
	ret = get_small(fi, fi->img.config.digest, &m, e);
	if (!ret) {
		ret = oci_config_parse_diff_ids(m.buf, m.len, &fi->img, e);
		fi->config = m.buf;
		fi->config_len = m.len;
	}
out:
	if (!ret) {
		fi->manifest = manifest;
		fi->manifest_len = mlen;
	} else {
		free(manifest);
		fetch_close(fi);
	}
	return ret;
}

static void free_indexes(struct fetch_image *fi)
{
	unsigned i;

	if (fi->ix)
		for (i = 0; i < fi->img.nlayers; i++)
			blockimg_index_free(&fi->ix[i]);
	free(fi->ix);
	fi->ix = NULL;
}

int fetch_indexes(struct fetch_image *fi, struct err *e)
{
	struct meta_buf m;
	unsigned i;
	int ret = 0;

	if (fi->ix)
		return 0;
	fi->ix = calloc(fi->img.nlayers ? fi->img.nlayers : 1, sizeof(*fi->ix));
	if (!fi->ix)
		return err_set(e, -ENOMEM, "out of memory");
	for (i = 0; !ret && i < fi->img.nlayers; i++) {
		const struct oci_layer *l = &fi->img.layers[i];

		if (!l->has_blocks)
			continue;
		ret = get_small(fi, l->index.digest, &m, e);
		if (!ret) {
			ret = blockimg_index_decode((const uint8_t *)m.buf,
						    m.len, &fi->ix[i], e);
			free(m.buf);
		}
		if (!ret && fi->ix[i].data_size != l->data.size)
			ret = err_set(e, -EBADMSG,
				      "layer %u: index says %llu data bytes, "
				      "manifest %llu",
				      i,
				      (unsigned long long)fi->ix[i].data_size,
				      (unsigned long long)l->data.size);
	}
	if (ret)
		free_indexes(fi);
	return ret;
}

void fetch_close(struct fetch_image *fi)
{
	free_indexes(fi);
	free(fi->manifest);
	free(fi->config);
	oci_image_free(&fi->img);
	registry_close(fi->r);
	memset(fi, 0, sizeof(*fi));
}

/* What the runs of one fetch share: their sink decompresses into one
 * buffer, which is safe because every sink runs on the caller's thread. */
struct fetch_ctx {
	const struct blockimg_index *ix; /* NULL: raw, the caller checks */
	uint8_t *ubuf;
	struct blockimg_decoder *dec;
	fetch_block_fn fn;
	void *arg;
	struct fetch_stats *st;
	struct err *e;
};

/* Assembles one run's bytes into blocks as they stream in. */
struct run_ctx {
	struct fetch_ctx *f;
	const struct fetch_extent *x, *end; /* block being filled; past last */
	uint8_t *cbuf; /* its compressed bytes, while it streams */
	size_t cap, have;
};

/* One block whole: checked against the index and decompressed first,
 * unless raw. */
static int deliver(struct fetch_ctx *f, uint32_t b, const uint8_t *cbuf,
		   size_t clen)
{
	int ret;

	if (!f->ix)
		return f->fn(f->arg, b, cbuf, clen, NULL, 0);
	ret = blockimg_block_decompress(f->ix, f->dec, b, cbuf, clen, f->ubuf,
					f->ix->block_size, f->e);
	return ret ? ret
		   : f->fn(f->arg, b, cbuf, clen, f->ubuf,
			   f->ix->blocks[b].ulen);
}

static int run_sink(void *arg, const void *p, size_t len)
{
	struct run_ctx *c = arg;
	struct fetch_ctx *f = c->f;
	const uint8_t *s = p;
	int ret;

	if (!c->cbuf) {
		c->cbuf = malloc(c->cap ? c->cap : 1);
		if (!c->cbuf)
			return err_set(f->e, -ENOMEM, "out of memory");
	}
	while (len) {
		size_t n;

		if (c->x == c->end)
			return err_set(f->e, -EBADMSG,
				       "registry sent more "
				       "than was asked");
		n = c->x->clen - c->have;
		if (n > len)
			n = len;
		memcpy(c->cbuf + c->have, s, n);
		c->have += n;
		s += n;
		len -= n;
		f->st->bytes += n;
		if (c->have < c->x->clen)
			continue;
		ret = deliver(f, c->x->block, c->cbuf, c->have);
		if (ret)
			return ret;
		f->st->blocks++;
		c->x++;
		c->have = 0;
	}
	return 0;
}

static int cmp_offset(const void *a, const void *b)
{
	const struct fetch_extent *x = a, *y = b;

	return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Sorts x by offset and drops repeats; returns how many are left. */
static uint32_t sort_extents(struct fetch_extent *x, uint32_t n)
{
	uint32_t i, k = 0;

	qsort(x, n, sizeof(*x), cmp_offset);
	for (i = 0; i < n; i++)
		if (!k || x[i].offset != x[k - 1].offset)
			x[k++] = x[i];
	return k;
}

/* Reads x[0..n) (sorted, no repeats) from the layer's data blob: each run
 * of neighbours with one range request, up to 64 MiB. */
static int get_runs(struct fetch_image *fi, unsigned layer, struct fetch_ctx *f,
		    const struct fetch_extent *x, uint32_t n, struct err *e)
{
	struct registry_range *rg = calloc(n ? n : 1, sizeof(*rg));
	struct run_ctx *runs = calloc(n ? n : 1, sizeof(*runs));
	uint32_t i, j, nruns = 0;
	int ret = 0;

	if (!rg || !runs) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i = j) {
		struct run_ctx *c = &runs[nruns];

		c->cap = x[i].clen;
		for (j = i + 1; j < n; j++) {
			if (x[j].offset != x[j - 1].offset + x[j - 1].clen ||
			    x[j].offset + x[j].clen - x[i].offset >
				    FETCH_MAX_RUN)
				break;
			if (x[j].clen > c->cap)
				c->cap = x[j].clen;
		}
		c->f = f;
		c->x = &x[i];
		c->end = &x[j];
		rg[nruns].off = x[i].offset;
		rg[nruns].len = x[j - 1].offset + x[j - 1].clen - x[i].offset;
		rg[nruns].sink = run_sink;
		rg[nruns].arg = c;
		nruns++;
	}
	f->st->requests += nruns;
	ret = registry_blob_get_ranges(fi->r, fi->ref.repo,
				       fi->img.layers[layer].data.digest, rg,
				       nruns, fi->parallel, e);
	for (i = 0; !ret && i < nruns; i++)
		if (runs[i].x != runs[i].end)
			ret = err_set(e, -EBADMSG,
				      "block %u: the registry "
				      "sent %zu of %u bytes",
				      runs[i].x->block, runs[i].have,
				      runs[i].x->clen);
out:
	for (i = 0; runs && i < nruns; i++)
		free(runs[i].cbuf);
	free(runs);
	free(rg);
	return ret;
}

static int has_blocks(const struct fetch_image *fi, unsigned layer,
		      struct err *e)
{
	if (layer >= fi->img.nlayers || !fi->img.layers[layer].has_blocks)
		return err_set(e, -EINVAL, "layer %u has no block blobs",
			       layer);
	return 0;
}

int fetch_blocks(struct fetch_image *fi, unsigned layer, const uint32_t *blocks,
		 uint32_t n, fetch_block_fn fn, void *arg,
		 struct fetch_stats *st, struct err *e)
{
	struct fetch_stats local = {0};
	struct fetch_ctx f = {.fn = fn, .arg = arg, .e = e};
	struct fetch_extent *x = NULL;
	uint32_t i;
	int ret;

	ret = has_blocks(fi, layer, e);
	if (!ret && !fi->ix)
		ret = err_set(e, -EINVAL, "layer %u: index not read", layer);
	if (ret)
		return ret;
	f.ix = &fi->ix[layer];
	f.st = st ? st : &local;
	x = malloc((n ? n : 1) * sizeof(*x));
	f.ubuf = malloc(f.ix->block_size ? f.ix->block_size : 1);
	if (!x || !f.ubuf || blockimg_decoder_new(&f.dec)) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (blocks[i] >= f.ix->nblocks) {
			ret = err_set(e, -ERANGE,
				      "block %u: the layer has %u "
				      "blocks",
				      blocks[i], f.ix->nblocks);
			goto out;
		}
		x[i].offset = f.ix->blocks[blocks[i]].offset;
		x[i].clen = f.ix->blocks[blocks[i]].clen;
		x[i].block = blocks[i];
	}
	ret = get_runs(fi, layer, &f, x, sort_extents(x, n), e);
out:
	free(x);
	free(f.ubuf);
	blockimg_decoder_free(f.dec);
	return ret;
}

int fetch_blocks_raw(struct fetch_image *fi, unsigned layer,
		     const struct fetch_extent *xs, uint32_t n,
		     fetch_block_fn fn, void *arg, struct fetch_stats *st,
		     struct err *e)
{
	struct fetch_stats local = {0};
	struct fetch_ctx f = {
		.fn = fn, .arg = arg, .st = st ? st : &local, .e = e};
	struct fetch_extent *x;
	uint64_t size;
	uint32_t i;
	int ret;

	ret = has_blocks(fi, layer, e);
	if (ret)
		return ret;
	/* The caller's index was checked, but not against this manifest's
	 * data blob: a range past it would be asked for in vain. */
	size = fi->img.layers[layer].data.size;
	for (i = 0; i < n; i++)
		if (!xs[i].clen || xs[i].offset > size ||
		    xs[i].clen > size - xs[i].offset)
			return err_set(e, -ERANGE,
				       "block %u: bytes %llu+%u are not in "
				       "the layer's %llu",
				       xs[i].block,
				       (unsigned long long)xs[i].offset,
				       xs[i].clen, (unsigned long long)size);
	x = malloc((n ? n : 1) * sizeof(*x));
	if (!x)
		return err_set(e, -ENOMEM, "out of memory");
	memcpy(x, xs, n * sizeof(*x));
	ret = get_runs(fi, layer, &f, x, sort_extents(x, n), e);
	free(x);
	return ret;
}

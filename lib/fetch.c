#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

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

/* A small blob, whole, checked against its digest. */
static int get_small(struct fetch_image *fi, const char *digest,
		     struct meta_buf *m, struct err *e)
{
	uint8_t d[SHA256_LEN];
	char got[SHA256_OCI_LEN];
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
	ret = registry_blob_get(fi->r, fi->ref.repo, digest, 0, 0, meta_sink, m,
				e);
	if (ret == -EFBIG)
		err_set(e, ret, "blob %s: larger than %u bytes", digest,
			FETCH_META_MAX);
	if (!ret && (sha256_buf(m->buf ? m->buf : "", m->len, d) ||
		     strcmp(sha256_oci(d, got), digest)))
		ret = err_set(e, -EBADMSG, "blob %s: content has digest %s",
			      digest, got);
	if (ret) {
		free(m->buf);
		m->buf = NULL;
		return ret;
	}
	fi->meta_bytes += m->len;
	return 0;
}

int fetch_open(const char *refstr, const char *meta_dir, struct fetch_image *fi,
	       struct err *e)
{
	struct meta_buf m;
	char *manifest = NULL;
	size_t mlen;
	unsigned i;
	int ret;

	memset(fi, 0, sizeof(*fi));
	fi->meta_dir = meta_dir;
	ret = registry_ref_parse(refstr, &fi->ref, e);
	if (!ret)
		ret = registry_open(fi->ref.url, &fi->r, e);
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
	if (ret)
		goto out;
	fi->ix = calloc(fi->img.nlayers ? fi->img.nlayers : 1, sizeof(*fi->ix));
	fi->index_raw = calloc(fi->img.nlayers ? fi->img.nlayers : 1,
			       sizeof(*fi->index_raw));
	fi->index_len = calloc(fi->img.nlayers ? fi->img.nlayers : 1,
			       sizeof(*fi->index_len));
	if (!fi->ix || !fi->index_raw || !fi->index_len) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < fi->img.nlayers; i++) {
		if (!fi->img.layers[i].has_blocks)
			continue;
		ret = get_small(fi, fi->img.layers[i].index.digest, &m, e);
		if (!ret) {
			ret = blockimg_index_decode((const uint8_t *)m.buf,
						    m.len, &fi->ix[i], e);
			fi->index_raw[i] = (uint8_t *)m.buf;
			fi->index_len[i] = m.len;
		}
		if (!ret && fi->ix[i].data_size != fi->img.layers[i].data.size)
			ret = err_set(e, -EBADMSG,
				      "layer %u: index says %llu data bytes, "
				      "manifest %llu",
				      i,
				      (unsigned long long)fi->ix[i].data_size,
				      (unsigned long long)fi->img.layers[i]
					      .data.size);
		if (ret)
			goto out;
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

void fetch_close(struct fetch_image *fi)
{
	unsigned i;

	if (fi->ix)
		for (i = 0; i < fi->img.nlayers; i++)
			blockimg_index_free(&fi->ix[i]);
	if (fi->index_raw)
		for (i = 0; i < fi->img.nlayers; i++)
			free(fi->index_raw[i]);
	free(fi->ix);
	free(fi->index_raw);
	free(fi->index_len);
	free(fi->manifest);
	free(fi->config);
	oci_image_free(&fi->img);
	registry_close(fi->r);
	memset(fi, 0, sizeof(*fi));
}

/* What the runs of one fetch share: their sink decompresses into one
 * buffer, which is safe because every sink runs on the caller's thread. */
struct fetch_ctx {
	const struct blockimg_index *ix;
	uint8_t *ubuf;
	struct blockimg_decoder *dec;
	fetch_block_fn fn;
	void *arg;
	struct fetch_stats *st;
	struct err *e;
	int raw; /* fi->raw: deliver unchecked, the caller checks */
};

/* Assembles one run's bytes into blocks as they stream in. */
struct run_ctx {
	struct fetch_ctx *f;
	uint32_t block, last; /* block being filled, last of the run */
	uint8_t *cbuf;	      /* its compressed bytes, while it streams */
	size_t have;
};

static int run_sink(void *arg, const void *p, size_t len)
{
	struct run_ctx *c = arg;
	struct fetch_ctx *f = c->f;
	const uint8_t *s = p;
	int ret;

	if (!c->cbuf) {
		c->cbuf = malloc(ZSTD_compressBound(f->ix->block_size));
		if (!c->cbuf)
			return err_set(f->e, -ENOMEM, "out of memory");
	}
	while (len) {
		const struct blockimg_block *b;
		size_t n;

		if (c->block > c->last)
			return err_set(f->e, -EBADMSG,
				       "registry sent more "
				       "than was asked");
		b = &f->ix->blocks[c->block];
		n = b->clen - c->have;
		if (n > len)
			n = len;
		memcpy(c->cbuf + c->have, s, n);
		c->have += n;
		s += n;
		len -= n;
		f->st->bytes += n;
		if (c->have < b->clen)
			continue;
		if (f->raw)
			ret = f->fn(f->arg, c->block, c->cbuf, c->have, NULL,
				    0);
		else
			ret = blockimg_block_decompress(
				f->ix, f->dec, c->block, c->cbuf, c->have,
				f->ubuf, f->ix->block_size, f->e);
		if (!ret && !f->raw)
			ret = f->fn(f->arg, c->block, c->cbuf, c->have, f->ubuf,
				    b->ulen);
		if (ret)
			return ret;
		f->st->blocks++;
		c->block++;
		c->have = 0;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

int fetch_blocks(struct fetch_image *fi, unsigned layer, const uint32_t *blocks,
		 uint32_t n, fetch_block_fn fn, void *arg,
		 struct fetch_stats *st, struct err *e)
{
	struct fetch_stats local = {0};
	struct fetch_ctx f = {.fn = fn, .arg = arg, .e = e, .raw = fi->raw};
	const struct blockimg_index *ix;
	struct registry_range *rg = NULL;
	struct run_ctx *runs = NULL;
	uint32_t *sorted = NULL, i, j, nruns = 0;
	int ret = 0;

	if (!st)
		st = &local;
	if (layer >= fi->img.nlayers || !fi->img.layers[layer].has_blocks)
		return err_set(e, -EINVAL, "layer %u has no block blobs",
			       layer);
	ix = &fi->ix[layer];
	f.ix = ix;
	f.st = st;
	sorted = malloc((n ? n : 1) * sizeof(*sorted));
	runs = calloc(n ? n : 1, sizeof(*runs));
	rg = calloc(n ? n : 1, sizeof(*rg));
	f.ubuf = malloc(ix->block_size);
	if (!sorted || !runs || !rg || !f.ubuf ||
	    blockimg_decoder_new(&f.dec)) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (blocks[i] >= ix->nblocks) {
			ret = err_set(e, -ERANGE,
				      "block %u: the layer has %u "
				      "blocks",
				      blocks[i], ix->nblocks);
			goto out;
		}
		sorted[i] = blocks[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	for (i = 0; i < n; i = j) {
		uint64_t off = ix->blocks[sorted[i]].offset;
		struct run_ctx *c = &runs[nruns];

		/* Extend the run over neighbours (skipping duplicates). */
		for (j = i + 1; j < n; j++) {
			uint32_t prev = sorted[j - 1], cur = sorted[j];

			if (cur == prev)
				continue;
			if (cur != prev + 1 ||
			    ix->blocks[cur].offset + ix->blocks[cur].clen -
					    off >
				    FETCH_MAX_RUN)
				break;
		}
		c->f = &f;
		c->block = sorted[i];
		c->last = sorted[j - 1];
		rg[nruns].off = off;
		rg[nruns].len = ix->blocks[c->last].offset +
				ix->blocks[c->last].clen - off;
		rg[nruns].sink = run_sink;
		rg[nruns].arg = c;
		nruns++;
	}
	st->requests += nruns;
	ret = registry_blob_get_ranges(fi->r, fi->ref.repo,
				       fi->img.layers[layer].data.digest, rg,
				       nruns, fi->parallel, e);
	for (i = 0; !ret && i < nruns; i++)
		if (runs[i].block != runs[i].last + 1)
			ret = err_set(e, -EBADMSG,
				      "block %u: the registry "
				      "sent %zu of %u bytes",
				      runs[i].block, runs[i].have,
				      ix->blocks[runs[i].block].clen);
out:
	for (i = 0; runs && i < nruns; i++)
		free(runs[i].cbuf);
	free(runs);
	free(rg);
	free(sorted);
	free(f.ubuf);
	blockimg_decoder_free(f.dec);
	return ret;
}

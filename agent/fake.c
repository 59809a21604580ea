#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"
#include "oci.h"

/* Block b's bytes: they say what they are, and compress to almost
 * nothing, so that a fake of a large image costs little to make. */
static void filler(uint8_t *p, size_t n, uint32_t b)
{
	int k;

	memset(p, 0x5a ^ (uint8_t)b, n);
	k = snprintf((char *)p, n, "faasnet-agent --lie fake: block %u", b);
	if (k > 0 && (size_t)k < n)
		p[k] = '\n';
}

static int digest_of(const void *p, size_t n, char out[SHA256_OCI_LEN])
{
	uint8_t d[SHA256_LEN];
	int ret = sha256_buf(p, n, d);

	if (!ret)
		sha256_oci(d, out);
	return ret;
}

/* The fake layer: filler in the real one's geometry, through the writer
 * that made the real one (so its frames are zstd's and its index is
 * blockimg's), and the sha256 of its uncompressed bytes, the diff_id. */
static int fake_layer(struct fake *f, const struct blockimg_index *rx,
		      char diff_id[SHA256_OCI_LEN], struct err *e)
{
	struct blockimg_writer *w = NULL;
	struct sha256_ctx sc = {0};
	uint8_t d[SHA256_LEN], *fill;
	FILE *mf = NULL;
	uint64_t off;
	uint32_t b;
	int ret;

	fill = malloc(rx->block_size ? rx->block_size : 1);
	mf = open_memstream((char **)&f->data, &f->data_len);
	if (!fill || !mf) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	ret = blockimg_writer_new(rx->block_size, 1, mf, &w, e);
	if (ret)
		goto out;
	ret = sha256_init(&sc);
	for (off = 0, b = 0; !ret && off < rx->size; off += rx->block_size) {
		size_t n = rx->size - off < rx->block_size
				   ? (size_t)(rx->size - off)
				   : rx->block_size;

		filler(fill, n, b++);
		ret = sha256_update(&sc, fill, n);
		if (!ret)
			ret = blockimg_writer_add(w, fill, n, e);
	}
	if (!ret)
		ret = sha256_final(&sc, d);
	else
		sha256_abort(&sc);
	if (ret) {
		err_set(e, ret, "making the fake layer: %s", strerror(-ret));
		goto out;
	}
	sha256_oci(d, diff_id);
	ret = blockimg_writer_finish(w, &f->ix, e);
	w = NULL;
out:
	blockimg_writer_free(w);
	if (mf && fclose(mf) && !ret)
		ret = err_set(e, -ENOMEM, "out of memory");
	free(fill);
	return ret;
}

/* The real index's start-up set and trace, on the fake's blocks: the same
 * geometry, so the same block numbers. */
static int copy_startup(struct blockimg_index *fx,
			const struct blockimg_index *rx)
{
	fx->startup = malloc((rx->nstartup ? rx->nstartup : 1) *
			     sizeof(*fx->startup));
	fx->trace = rx->ntrace ? malloc(rx->ntrace * sizeof(*fx->trace)) : NULL;
	if (!fx->startup || (rx->ntrace && !fx->trace))
		return -ENOMEM;
	memcpy(fx->startup, rx->startup, rx->nstartup * sizeof(*fx->startup));
	fx->nstartup = rx->nstartup;
	if (rx->ntrace)
		memcpy(fx->trace, rx->trace, rx->ntrace * sizeof(*fx->trace));
	fx->ntrace = rx->ntrace;
	return 0;
}

/* A document of the fake: held as the cache holds its own, and named. */
static int keep(const void *p, size_t n, struct cache_buf **buf,
		char digest[SHA256_OCI_LEN], struct err *e)
{
	*buf = cache_buf_new(p, n);
	if (!*buf || (digest && digest_of(p, n, digest)))
		return err_set(e, -ENOMEM, "out of memory");
	return 0;
}

int fake_new(const struct cache *c, struct fake **out, struct err *e)
{
	struct oci_image img = {0};
	struct oci_layer *l;
	char diff_id[SHA256_OCI_LEN], *json = NULL;
	uint8_t *ibuf = NULL;
	size_t len;
	struct fake *f;
	int ret;

	if (c->meta != CACHE_META_HELD)
		return err_set(e, -EINVAL, "%s: no meta to fake", c->ref);
	f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(e, -ENOMEM, "out of memory");
	ret = fake_layer(f, &c->ix, diff_id, e);
	if (ret)
		goto out;
	if (copy_startup(&f->ix, &c->ix) ||
	    blockimg_index_encode(&f->ix, &ibuf, &len) ||
	    keep(ibuf, len, &f->index, f->index_digest, e) ||
	    digest_of(f->data, f->data_len, f->data_digest)) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	/* The real image's documents, but for the served layer's blobs. */
	img = c->img;
	img.layers = malloc(c->img.nlayers * sizeof(*img.layers));
	if (!img.layers) {
		img.nlayers = 0;
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(img.layers, c->img.layers, c->img.nlayers * sizeof(*img.layers));
	/* A config that names no diff_ids we can read leaves the others
	 * empty: the fake is refused at its manifest all the same. */
	(void)oci_config_parse_diff_ids((const char *)c->config->data,
					c->config->len, &img, NULL);
	l = &img.layers[c->layer];
	snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff_id);
	snprintf(l->index.media_type, sizeof(l->index.media_type), "%s",
		 blockimg_index_media_type(&f->ix));
	snprintf(l->index.digest, sizeof(l->index.digest), "%s",
		 f->index_digest);
	l->index.size = len;
	snprintf(l->data.digest, sizeof(l->data.digest), "%s", f->data_digest);
	l->data.size = f->data_len;
	ret = oci_config_build(&img, &json, &len, e);
	if (!ret)
		ret = keep(json, len, &f->config, f->config_digest, e);
	if (ret)
		goto out;
	snprintf(img.config.digest, sizeof(img.config.digest), "%s",
		 f->config_digest);
	img.config.size = len;
	free(json);
	json = NULL;
	ret = oci_manifest_build(&img, &json, &len, e);
	if (!ret)
		ret = keep(json, len, &f->manifest, NULL, e);
out:
	free(json);
	free(ibuf);
	oci_image_free(&img);
	if (ret) {
		fake_free(f);
		return ret;
	}
	*out = f;
	return 0;
}

void fake_free(struct fake *f)
{
	if (!f)
		return;
	cache_buf_put(f->manifest);
	cache_buf_put(f->config);
	cache_buf_put(f->index);
	blockimg_index_free(&f->ix);
	free(f->data);
	free(f);
}

struct cache_buf *fake_block(const struct fake *f, uint32_t b)
{
	if (b >= f->ix.nblocks)
		return NULL;
	return cache_buf_new(f->data + f->ix.blocks[b].offset,
			     f->ix.blocks[b].clen);
}

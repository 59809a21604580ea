#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "sha256.h"

struct cache_buf *cache_buf_new(const void *data, size_t len)
{
	struct cache_buf *b;

	if (len > UINT32_MAX)
		return NULL;
	b = malloc(sizeof(*b) + (len ? len : 1));
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = (uint32_t)len;
	if (len)
		memcpy(b->data, data, len);
	return b;
}

struct cache_buf *cache_buf_get(struct cache_buf *b)
{
	b->refs++;
	return b;
}

void cache_buf_put(void *arg)
{
	struct cache_buf *b = arg;

	if (b && !--b->refs)
		free(b);
}

int cache_init(struct cache *c, const char *ref, struct err *e)
{
	const char *at;

	memset(c, 0, sizeof(*c));
	if (strlen(ref) >= sizeof(c->ref))
		return err_set(e, -ENAMETOOLONG, "image reference too long");
	snprintf(c->ref, sizeof(c->ref), "%s", ref);
	at = strrchr(ref, '@');
	if (at) {
		uint8_t d[SHA256_LEN];

		if (strlen(at + 1) >= sizeof(c->pin) ||
		    sha256_parse_oci(at + 1, d))
			return err_set(e, -EINVAL, "%s: not a sha256 digest",
				       ref);
		snprintf(c->pin, sizeof(c->pin), "%s", at + 1);
	}
	return 0;
}

static void free_blocks(struct cache *c)
{
	uint32_t b;

	if (c->blk)
		for (b = 0; b < c->ix.nblocks; b++)
			cache_buf_put(c->blk[b]);
	free(c->blk);
	free(c->state);
	free(c->is_startup);
	free(c->scratch);
	blockimg_decoder_free(c->dec);
	c->blk = NULL;
	c->state = c->is_startup = c->scratch = NULL;
	c->dec = NULL;
	c->npresent = c->startup_present = 0;
}

void cache_drop_meta(struct cache *c)
{
	free_blocks(c);
	cache_buf_put(c->manifest);
	cache_buf_put(c->config);
	cache_buf_put(c->index);
	c->manifest = c->config = c->index = NULL;
	oci_image_free(&c->img);
	memset(&c->img, 0, sizeof(c->img));
	blockimg_index_free(&c->ix);
	memset(&c->ix, 0, sizeof(c->ix));
	c->meta = CACHE_META_NONE;
}

void cache_free(struct cache *c)
{
	cache_drop_meta(c);
}

static int digest_is(const void *buf, size_t len, const char *want)
{
	uint8_t d[SHA256_LEN];
	char got[SHA256_OCI_LEN];

	return !sha256_buf(buf, len, d) && !strcmp(sha256_oci(d, got), want);
}

/* A refused document leaves nothing behind: the next copy, from wherever
 * it comes, starts from NONE (one bad MANIFEST must not wedge the image). */
static int refuse(struct cache *c, int code)
{
	cache_drop_meta(c);
	return code;
}

int cache_set_manifest(struct cache *c, const void *data, size_t len,
		       struct err *e)
{
	unsigned i;
	int ret;

	if (c->meta != CACHE_META_NONE)
		return -EALREADY;
	if (c->pin[0] && !digest_is(data, len, c->pin)) {
		uint8_t d[SHA256_LEN];
		char got[SHA256_OCI_LEN] = "?";

		if (!sha256_buf(data, len, d))
			sha256_oci(d, got);
		return refuse(c,
			      err_set(e, -EBADMSG,
				      "manifest has digest %s, the reference "
				      "pins %s",
				      got, c->pin));
	}
	ret = oci_manifest_parse(data, len, &c->img, e);
	if (ret)
		return refuse(c, ret);
	for (i = 0; i < c->img.nlayers && !c->img.layers[i].has_blocks; i++)
		;
	if (i == c->img.nlayers)
		return refuse(c, err_set(e, -EBADMSG, "%s has no block layer",
					 c->ref));
	c->layer = i;
	c->manifest = cache_buf_new(data, len);
	if (!c->manifest)
		return refuse(c, err_set(e, -ENOMEM, "out of memory"));
	c->meta = CACHE_META_MANIFEST;
	return 0;
}

const char *cache_config_digest(const struct cache *c)
{
	return c->meta == CACHE_META_NONE ? "" : c->img.config.digest;
}

const char *cache_index_digest(const struct cache *c)
{
	return c->meta == CACHE_META_NONE
		       ? ""
		       : c->img.layers[c->layer].index.digest;
}

const char *cache_data_digest(const struct cache *c)
{
	return c->meta == CACHE_META_NONE ? ""
					  : c->img.layers[c->layer].data.digest;
}

/* Both config and index held: the blocks' tables are made. */
static int complete(struct cache *c, struct err *e)
{
	uint32_t n = c->ix.nblocks, i;

	if (!c->config || !c->index)
		return 0;
	c->blk = calloc(n + 1, sizeof(*c->blk));
	c->state = calloc(n + 1, 1);
	c->is_startup = calloc(n + 1, 1);
	c->scratch = malloc(c->ix.block_size ? c->ix.block_size : 1);
	if (!c->blk || !c->state || !c->is_startup || !c->scratch ||
	    blockimg_decoder_new(&c->dec))
		return refuse(c, err_set(e, -ENOMEM, "out of memory"));
	for (i = 0; i < c->ix.nstartup; i++)
		c->is_startup[c->ix.startup[i]] = 1;
	c->meta = CACHE_META_HELD;
	return 0;
}

int cache_set_config(struct cache *c, const void *data, size_t len,
		     struct err *e)
{
	if (c->meta != CACHE_META_MANIFEST)
		return c->meta == CACHE_META_HELD ? -EALREADY : -ENOENT;
	if (c->config)
		return -EALREADY;
	if (!digest_is(data, len, c->img.config.digest))
		return refuse(c,
			      err_set(e, -EBADMSG,
				      "config does not match the manifest's %s",
				      c->img.config.digest));
	c->config = cache_buf_new(data, len);
	if (!c->config)
		return refuse(c, err_set(e, -ENOMEM, "out of memory"));
	return complete(c, e);
}

int cache_set_index(struct cache *c, const void *data, size_t len,
		    struct err *e)
{
	const struct oci_layer *l;
	int ret;

	if (c->meta != CACHE_META_MANIFEST)
		return c->meta == CACHE_META_HELD ? -EALREADY : -ENOENT;
	if (c->index)
		return -EALREADY;
	l = &c->img.layers[c->layer];
	if (!digest_is(data, len, l->index.digest))
		return refuse(c,
			      err_set(e, -EBADMSG,
				      "index does not match the manifest's %s",
				      l->index.digest));
	ret = blockimg_index_decode(data, len, &c->ix, e);
	if (ret)
		return refuse(c, ret);
	if (c->ix.data_size != l->data.size)
		return refuse(c, err_set(e, -EBADMSG,
					 "index says %llu data bytes, manifest "
					 "%llu",
					 (unsigned long long)c->ix.data_size,
					 (unsigned long long)l->data.size));
	c->index = cache_buf_new(data, len);
	if (!c->index)
		return refuse(c, err_set(e, -ENOMEM, "out of memory"));
	return complete(c, e);
}

int cache_block_put(struct cache *c, uint32_t b, const void *data, size_t len,
		    struct err *e)
{
	int ret;

	if (c->meta != CACHE_META_HELD || b >= c->ix.nblocks)
		return err_set(e, -ERANGE, "block %u: not a block of %s", b,
			       c->ref);
	if (c->state[b] == CACHE_BLOCK_PRESENT)
		return -EALREADY;
	/* Verified and decompressed here and nowhere else. */
	ret = blockimg_block_decompress(&c->ix, c->dec, b, data, len,
					c->scratch, c->ix.block_size, e);
	if (ret)
		return ret;
	c->blk[b] = cache_buf_new(data, len);
	if (!c->blk[b])
		return err_set(e, -ENOMEM, "out of memory");
	c->state[b] = CACHE_BLOCK_PRESENT;
	c->npresent++;
	if (c->is_startup[b])
		c->startup_present++;
	return 0;
}

struct cache_buf *cache_block(const struct cache *c, uint32_t b)
{
	if (c->meta != CACHE_META_HELD || b >= c->ix.nblocks)
		return NULL;
	return c->blk[b];
}

void cache_want(struct cache *c, uint32_t b)
{
	if (c->meta == CACHE_META_HELD && b < c->ix.nblocks &&
	    c->state[b] == CACHE_BLOCK_ABSENT)
		c->state[b] = CACHE_BLOCK_WANTED;
}

uint32_t cache_evict(struct cache *c)
{
	uint32_t b, n = 0;

	if (c->meta != CACHE_META_HELD)
		return 0;
	for (b = 0; b < c->ix.nblocks; b++) {
		if (c->state[b] == CACHE_BLOCK_PRESENT) {
			/* Our reference only: a connection still sending it
			 * holds its own. */
			cache_buf_put(c->blk[b]);
			c->blk[b] = NULL;
			c->state[b] = CACHE_BLOCK_ABSENT;
			n++;
		}
	}
	c->npresent = c->startup_present = 0;
	return n;
}

void cache_rewant(struct cache *c)
{
	uint32_t b;

	if (c->meta != CACHE_META_HELD)
		return;
	for (b = 0; b < c->ix.nblocks; b++)
		if (c->state[b] == CACHE_BLOCK_REQUESTED)
			c->state[b] = CACHE_BLOCK_WANTED;
}

int cache_startup_complete(const struct cache *c)
{
	return c->meta == CACHE_META_HELD &&
	       c->startup_present == c->ix.nstartup;
}

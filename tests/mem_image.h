/* A one-layer image built in memory from image/'s own code (synth_layer,
 * layer_builder): its manifest, config, block index, block data and
 * tar+gzip layer, with their digests. Shared by the agent's black-box test
 * (tests/unit/test_agent.c) and the agent benchmark (bench/agent_bench.c),
 * which link image/synth.o and image/layer.o. Header-only. */
#ifndef FAASNET_TESTS_MEM_IMAGE_H
#define FAASNET_TESTS_MEM_IMAGE_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blockimg.h"
#include "layer.h"
#include "oci.h"
#include "sha256.h"
#include "synth.h"

struct mem_image {
	char *manifest, *config, *index;
	size_t manifest_len, config_len, index_len;
	uint8_t *data;
	size_t data_len;
	uint8_t *layer; /* the tar+gzip layer: what `docker pull` reads */
	size_t layer_len;
	struct blockimg_index ix;
	uint8_t *is_startup; /* per block */
	char manifest_digest[SHA256_OCI_LEN];
	char config_digest[SHA256_OCI_LEN];
	char index_digest[SHA256_OCI_LEN];
	char data_digest[SHA256_OCI_LEN];
	char layer_digest[SHA256_OCI_LEN];
};

static inline int mem_rm_entry(const char *path, const struct stat *st,
			       int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything under it. */
static inline void mem_rm_tree(const char *dir)
{
	nftw(dir, mem_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A whole file, malloc'd: 0 or a negative errno. */
static inline int mem_read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;
	int ret = -EIO;

	*buf = NULL;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		goto out;
	*buf = malloc(n ? (size_t)n : 1);
	if (!*buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
		free(*buf);
		*buf = NULL;
		goto out;
	}
	*len = (size_t)n;
	ret = 0;
out:
	fclose(f);
	return ret;
}

static inline void mem_digest_of(const void *buf, size_t len,
				 char out[SHA256_OCI_LEN])
{
	uint8_t d[SHA256_LEN];

	sha256_buf(buf, len, d);
	sha256_oci(d, out);
}

/* A start-up set from a trace (an index of version 2): pass
 * mem_trace_startup and one of these to mem_image_build. */
struct mem_trace {
	const struct blockimg_read *reads;
	uint32_t n;
};

static inline int mem_trace_startup(void *arg, struct blockimg_index *ix,
				    struct err *e)
{
	const struct mem_trace *t = arg;
	int ret;

	ix->trace = malloc(t->n * sizeof(*ix->trace));
	if (!ix->trace)
		return err_set(e, -ENOMEM, "out of memory");
	memcpy(ix->trace, t->reads, t->n * sizeof(*ix->trace));
	ix->ntrace = t->n;
	ret = blockimg_startup_from_trace(ix);
	return ret ? err_set(e, ret, "trace: %s", strerror(-ret)) : 0;
}

struct mem_feed {
	struct layer_builder *lb;
	struct err *e;
};

static inline int mem_feed(void *arg, const void *buf, size_t len)
{
	struct mem_feed *f = arg;

	return layer_builder_add(f->lb, buf, len, f->e);
}

/* Builds a synthetic image of size bytes (synth_layer, from seed) in
 * blocks of block_size, its start-up set drawn by startup(arg), in a
 * scratch OCI layout under /tmp that is removed again. 0, or a negative
 * errno with e set; free with mem_image_free either way. */
static inline int mem_image_build(struct mem_image *t, uint64_t size,
				  uint32_t block_size, uint64_t seed,
				  layer_startup_fn startup, void *arg,
				  struct err *e)
{
	char dir[] = "/tmp/fnet-mem-image.XXXXXX", path[512];
	struct oci_layer layer;
	struct oci_image img;
	struct mem_feed f = {.e = e};
	char *cfg = NULL, *man = NULL;
	size_t cfglen, manlen;
	uint32_t i;
	int ret;

	memset(t, 0, sizeof(*t));
	memset(&layer, 0, sizeof(layer));
	memset(&img, 0, sizeof(img));
	if (!mkdtemp(dir))
		return err_set(e, -errno, "mkdtemp: %s", strerror(errno));
	ret = oci_layout_init(dir, e);
	if (!ret)
		ret = layer_builder_new(dir, block_size, 1, &f.lb, e);
	if (ret)
		goto out;
	ret = synth_layer(size, 1.0, seed, mem_feed, &f, e);
	if (ret) {
		layer_builder_free(f.lb);
		goto out;
	}
	ret = layer_builder_finish(f.lb, startup, arg, &layer, &t->ix, e);
	if (ret)
		goto out;
	img.nlayers = 1;
	img.layers = &layer;
	ret = oci_config_build(&img, &cfg, &cfglen, e);
	if (!ret)
		ret = oci_layout_put(dir, cfg, cfglen, img.config.digest, e);
	img.config.size = cfglen;
	snprintf(img.config.media_type, sizeof(img.config.media_type), "%s",
		 OCI_CONFIG_MEDIA_TYPE);
	if (!ret)
		ret = oci_manifest_build(&img, &man, &manlen, e);
	if (!ret)
		ret = oci_layout_read_blob(dir, layer.index.digest, &t->index,
					   &t->index_len, e);
	if (!ret && oci_layout_blob_path(dir, layer.data.digest, path,
					 sizeof(path)) < 0)
		ret = err_set(e, -EINVAL, "blob path");
	if (!ret && mem_read_file(path, &t->data, &t->data_len))
		ret = err_set(e, -EIO, "%s: cannot read", path);
	if (!ret && oci_layout_blob_path(dir, layer.blob.digest, path,
					 sizeof(path)) < 0)
		ret = err_set(e, -EINVAL, "blob path");
	if (!ret && mem_read_file(path, &t->layer, &t->layer_len))
		ret = err_set(e, -EIO, "%s: cannot read", path);
	if (ret)
		goto out;
	t->manifest = man;
	t->manifest_len = manlen;
	t->config = cfg;
	t->config_len = cfglen;
	man = cfg = NULL;
	mem_digest_of(t->manifest, t->manifest_len, t->manifest_digest);
	snprintf(t->config_digest, sizeof(t->config_digest), "%s",
		 img.config.digest);
	snprintf(t->index_digest, sizeof(t->index_digest), "%s",
		 layer.index.digest);
	snprintf(t->data_digest, sizeof(t->data_digest), "%s",
		 layer.data.digest);
	snprintf(t->layer_digest, sizeof(t->layer_digest), "%s",
		 layer.blob.digest);
	t->is_startup = calloc(t->ix.nblocks ? t->ix.nblocks : 1, 1);
	if (!t->is_startup) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < t->ix.nstartup; i++)
		t->is_startup[t->ix.startup[i]] = 1;
out:
	free(cfg);
	free(man);
	mem_rm_tree(dir);
	return ret;
}

static inline void mem_image_free(struct mem_image *t)
{
	free(t->manifest);
	free(t->config);
	free(t->index);
	free(t->data);
	free(t->layer);
	free(t->is_startup);
	blockimg_index_free(&t->ix);
	memset(t, 0, sizeof(*t));
}

#endif

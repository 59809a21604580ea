/* A tiny block image built in memory for the agent's unit tests: a layer
 * of NBLK blocks through lib/blockimg's writer, its index (with a start-up
 * set), a config and a manifest whose digests tie them together, exactly
 * as faasnet-image synth would make them. Header-only: each test binary
 * links only its module. */
#ifndef FAASNET_TEST_AGENT_IMAGE_H
#define FAASNET_TEST_AGENT_IMAGE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockimg.h"
#include "oci.h"
#include "sha256.h"

#define TI_BS	1024u
#define TI_NBLK 8u

struct test_image {
	uint8_t *data; /* the data blob */
	size_t data_len;
	struct blockimg_index ix;
	uint8_t *index;
	size_t index_len;
	char *config, *manifest;
	size_t config_len, manifest_len;
	char manifest_digest[SHA256_OCI_LEN];
};

static inline void ti_digest(const void *p, size_t n, char *out)
{
	uint8_t d[SHA256_LEN];

	sha256_buf(p, n, d);
	sha256_oci(d, out);
}

/* seed changes every byte, so two images share nothing. */
static inline int ti_build(struct test_image *t, unsigned seed)
{
	struct blockimg_writer *w = NULL;
	struct oci_image img = {0};
	struct err e = {""};
	uint8_t layer[TI_BS * TI_NBLK];
	FILE *f;
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < sizeof(layer); i++)
		layer[i] = (uint8_t)((i * 7 + seed * 13) ^ (i >> 5));
	f = open_memstream((char **)&t->data, &t->data_len);
	if (!f || blockimg_writer_new(TI_BS, 3, f, &w, &e) ||
	    blockimg_writer_add(w, layer, sizeof(layer), &e) ||
	    blockimg_writer_finish(w, &t->ix, &e))
		return -1;
	fclose(f);
	t->ix.nstartup = 3;
	t->ix.startup = calloc(3, sizeof(uint32_t));
	t->ix.startup[0] = 5;
	t->ix.startup[1] = 1;
	t->ix.startup[2] = 2;
	if (blockimg_index_encode(&t->ix, &t->index, &t->index_len))
		return -1;
	img.nlayers = 1;
	img.layers = calloc(1, sizeof(*img.layers));
	snprintf(img.config.media_type, sizeof(img.config.media_type), "%s",
		 OCI_CONFIG_MEDIA_TYPE);
	snprintf(img.layers[0].blob.media_type,
		 sizeof(img.layers[0].blob.media_type), "%s",
		 OCI_LAYER_GZIP_MEDIA_TYPE);
	ti_digest(layer, sizeof(layer), img.layers[0].blob.digest);
	img.layers[0].blob.size = sizeof(layer);
	ti_digest(layer, sizeof(layer), img.layers[0].diff_id);
	img.layers[0].has_blocks = 1;
	snprintf(img.layers[0].index.media_type,
		 sizeof(img.layers[0].index.media_type), "%s",
		 BLOCKIMG_INDEX_MEDIA_TYPE);
	ti_digest(t->index, t->index_len, img.layers[0].index.digest);
	img.layers[0].index.size = t->index_len;
	snprintf(img.layers[0].data.media_type,
		 sizeof(img.layers[0].data.media_type), "%s",
		 BLOCKIMG_DATA_MEDIA_TYPE);
	ti_digest(t->data, t->data_len, img.layers[0].data.digest);
	img.layers[0].data.size = t->data_len;
	if (oci_config_build(&img, &t->config, &t->config_len, &e))
		return -1;
	ti_digest(t->config, t->config_len, img.config.digest);
	img.config.size = t->config_len;
	if (oci_manifest_build(&img, &t->manifest, &t->manifest_len, &e))
		return -1;
	ti_digest(t->manifest, t->manifest_len, t->manifest_digest);
	oci_image_free(&img);
	return 0;
}

static inline const uint8_t *ti_block(const struct test_image *t, uint32_t b,
				      size_t *len)
{
	*len = t->ix.blocks[b].clen;
	return t->data + t->ix.blocks[b].offset;
}

static inline void ti_free(struct test_image *t)
{
	free(t->data);
	free(t->index);
	free(t->config);
	free(t->manifest);
	blockimg_index_free(&t->ix);
}

#endif

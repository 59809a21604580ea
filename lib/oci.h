/* oci: the JSON documents of an OCI image (config, image manifest, layout
 * index) and OCI image layouts on disk, with jansson. It owns the annotation
 * names that tie a layer to its block-image blobs (docs/image-format.md, "In
 * the registry"); it does no network I/O. */
#ifndef FAASNET_OCI_H
#define FAASNET_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"

#define OCI_MANIFEST_MEDIA_TYPE	  "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG_MEDIA_TYPE	  "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER_GZIP_MEDIA_TYPE "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_LAYER_TAR_MEDIA_TYPE  "application/vnd.oci.image.layer.v1.tar"
#define OCI_DOCKER_LAYER_MEDIA_TYPE                                            \
	"application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Layer descriptor annotations naming the block-image blobs of that layer;
 * the blobs are pushed to the same repository. */
#define OCI_ANN_BLOCK_INDEX	 "io.faasnet.block.index"
#define OCI_ANN_BLOCK_INDEX_SIZE "io.faasnet.block.index.size"
#define OCI_ANN_BLOCK_DATA	 "io.faasnet.block.data"
#define OCI_ANN_BLOCK_DATA_SIZE	 "io.faasnet.block.data.size"

struct oci_desc {
	char media_type[128];
	char digest[SHA256_OCI_LEN];
	uint64_t size;
};

struct oci_layer {
	struct oci_desc blob;	      /* the ordinary layer (tar+gzip) */
	char diff_id[SHA256_OCI_LEN]; /* sha256 of the uncompressed tar */
	int has_blocks;
	struct oci_desc index, data; /* block-image blobs, when has_blocks */
};

struct oci_image {
	struct oci_desc config;
	unsigned nlayers;
	struct oci_layer *layers;
};

void oci_image_free(struct oci_image *img);

/* The config document for img's diff_ids (amd64/linux, no runtime config):
 * malloc'd, compact. */
int oci_config_build(const struct oci_image *img, char **json, size_t *len,
		     struct err *e);
/* Fills each layer's diff_id from a config document. */
int oci_config_parse_diff_ids(const char *json, size_t len,
			      struct oci_image *img, struct err *e);

/* The image manifest: config, layers, and each layer's block-image blobs as
 * annotations. */
int oci_manifest_build(const struct oci_image *img, char **json, size_t *len,
		       struct err *e);
/* Parses an OCI or Docker v2 image manifest (diff_ids stay empty: they live
 * in the config). -EBADMSG with e on anything malformed. */
int oci_manifest_parse(const char *json, size_t len, struct oci_image *img,
		       struct err *e);

/* Layouts: DIR/oci-layout, DIR/index.json, DIR/blobs/sha256/<hex>. */
int oci_layout_init(const char *dir, struct err *e);
int oci_layout_blob_path(const char *dir, const char *digest, char *buf,
			 size_t len);
/* Stores buf as a blob and returns its digest. */
int oci_layout_put(const char *dir, const void *buf, size_t len,
		   char digest[SHA256_OCI_LEN], struct err *e);
/* Moves a finished file, whose digest the caller computed, into the blobs. */
int oci_layout_adopt(const char *dir, const char *path, const char *digest,
		     struct err *e);
/* Stores the manifest and points index.json at it under tag: a layout here
 * holds one image, so index.json is written afresh. */
int oci_layout_set_manifest(const char *dir, const char *manifest, size_t len,
			    const char *tag, struct err *e);
/* Reads the manifest tagged tag (NULL: the only one) into a malloc'd
 * NUL-terminated buffer. */
int oci_layout_get_manifest(const char *dir, const char *tag, char **manifest,
			    size_t *len, struct err *e);
/* Reads a whole small blob (config, index) into a malloc'd buffer, checking
 * its digest. */
int oci_layout_read_blob(const char *dir, const char *digest, char **buf,
			 size_t *len, struct err *e);

#endif

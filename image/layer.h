/* layer: turns one layer's uncompressed tar stream into the blobs an image
 * needs, in one pass: the ordinary tar+gzip layer (what `docker pull`
 * fetches), the block data and block index (what on-demand fetch uses), and
 * the layer's diff_id. Blobs land in an OCI layout's blob store. */
#ifndef FAASNET_IMAGE_LAYER_H
#define FAASNET_IMAGE_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "blockimg.h"
#include "err.h"
#include "oci.h"

struct layer_builder;

/* gzip_level -1 skips the gzip blob (convert keeps the original one). */
int layer_builder_new(const char *layout_dir, uint32_t block_size,
		      int gzip_level, struct layer_builder **lb, struct err *e);
int layer_builder_add(struct layer_builder *lb, const void *buf, size_t len,
		      struct err *e);
/* Lets the caller draw the start-up set once the block count is known:
 * called with the finished index before it is encoded. */
typedef int (*layer_startup_fn)(void *arg, struct blockimg_index *ix,
				struct err *e);
/* Finishes every blob, stores them in the layout and fills l (blob only when
 * gzipped, diff_id, index, data) and, when ix is not NULL, the index. Frees
 * the builder either way. */
int layer_builder_finish(struct layer_builder *lb, layer_startup_fn startup,
			 void *arg, struct oci_layer *l,
			 struct blockimg_index *ix, struct err *e);
void layer_builder_free(struct layer_builder *lb);

/* Streams a layer blob's uncompressed tar to sink in pieces: gzip (either
 * media type) inflated, a plain tar passed through; another media type is
 * -ENOTSUP. A sink's error stops the stream and is returned. */
typedef int (*layer_sink_fn)(void *arg, const void *buf, size_t len,
			     struct err *e);
/* What it reads of the blob at a time, and the most it hands sink at once. */
#define LAYER_READ_CHUNK (256u << 10)
int layer_read_tar(const char *path, const char *media_type, layer_sink_fn sink,
		   void *arg, struct err *e)
	__attribute__((warn_unused_result));

#endif

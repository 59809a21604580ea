/* synth: deterministic synthetic container images. The content is a real tar
 * stream of files whose bytes compress like a root filesystem's (text,
 * program code, already-compressed data and zero runs in proportions chosen
 * so zstd and gzip land near what real images show), and the start-up access
 * set is drawn the way container start-ups read: mostly clustered runs of
 * blocks, some scattered ones. Same seed, same bytes, on every machine. */
#ifndef FAASNET_IMAGE_SYNTH_H
#define FAASNET_IMAGE_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Receives the tar stream in pieces; non-zero stops generation. */
typedef int (*synth_sink_fn)(void *arg, const void *buf, size_t len);

/* Writes a tar stream of exactly `size` bytes (rounded up to the tar record
 * of 512 bytes, at least three records) to sink. scale (0 to 1) says which
 * full-size image it stands for: the same files in the same order, each
 * scaled, round(1/scale) of them to a tar entry, so that the layer
 * compresses alike at every scale. 1 for a full-size image. */
int synth_layer(uint64_t size, double scale, uint64_t seed, synth_sink_fn sink,
		void *arg, struct err *e);

/* Picks round(fraction * nblocks) distinct block numbers (at least one when
 * fraction > 0) in access order: about four fifths in runs of consecutive
 * blocks (mean run 8), the rest scattered, runs visited in random order.
 * Writes a malloc'd array to *out. */
int synth_startup_set(uint32_t nblocks, double fraction, uint64_t seed,
		      uint32_t **out, uint32_t *n, struct err *e);

/* The start-up set as a start-up reads it: `fraction` of the layer's
 * bytes, in pages of SYNTH_PAGE bytes (or of block_size, when smaller)
 * drawn as synth_startup_set draws blocks, mapped onto blocks of
 * block_size: a block holding any page read is fetched whole, so larger
 * blocks fetch more than is read (the paper's Fig. 20). With blocks no
 * larger than a page it is synth_startup_set over the blocks. */
#define SYNTH_PAGE (64u << 10)
int synth_startup_bytes(uint64_t size, uint32_t block_size, double fraction,
			uint64_t seed, uint32_t **out, uint32_t *n,
			struct err *e);

/* The most reads a synthetic start-up trace of an image of size bytes in
 * blocks of block_size has (the full-size image's, for a scaled one):
 * what proto_image_fits must allow for. */
uint64_t synth_trace_reads(uint64_t size, uint32_t block_size,
			   double fraction);

/* synth_startup_bytes (and the trace, with compute_us) as the start-up
 * callback of layer_builder_finish
 * (arg: a struct synth_startup), which sets the index's start-up set once
 * the layer's size is known: synth and convert both draw it so. A scaled
 * image names the full-size image it stands for (full_size and
 * full_block_size, 0 for none): the set is drawn in that image's pages and
 * blocks, so every scale reads the same blocks, and the two must have the
 * same number of blocks (-EINVAL otherwise). */
struct blockimg_index;
struct synth_startup {
	double fraction;
	uint64_t seed;
	uint64_t full_size;
	uint32_t full_block_size;
	/* With compute_us > 0, the index also gets a start-up trace (version
	 * 2, docs/image-format.md): the same pages read in the same order,
	 * with compute_us microseconds of compute spread over them; the
	 * start-up set is then the trace's (the same blocks). 0: no trace,
	 * the index as before, byte for byte. */
	uint32_t compute_us;
};
int synth_draw_startup(void *arg, struct blockimg_index *ix, struct err *e);

#endif

/* tracemap: from what a traced start did to a start-up trace in the
 * layer's terms (docs/trace.md). Three steps, each usable alone:
 *   1. strace's text (`strace -f -ttt -y -q -s 0`) into file reads:
 *      (path in the image, offset in the file, length, time), following
 *      each descriptor's position through open, read, lseek and close,
 *      in each process's descriptor table (clone: shared or copied);
 *   2. a layer's files (from its tar stream, by tarscan) as a table of
 *      where each regular file's data lies in the stream, with symbolic and
 *      hard links resolved;
 *   3. file reads onto that table: trace entries (layer offset, length,
 *      microseconds of compute before each) and a closing compute entry.
 * Pure: no I/O but the caller's lines, no clock. Running the command and
 * unpacking the layer are image/cmd_trace.c's. */
#ifndef FAASNET_IMAGE_TRACEMAP_H
#define FAASNET_IMAGE_TRACEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "blockimg.h"
#include "err.h"
#include "tarscan.h"

/* ---- 1. strace text to file reads ---- */

/* One read of a file of the image: path inside the image ("/usr/lib/x"),
 * bytes [off, off + len) of that file, at t_us (strace's clock). */
struct tracemap_fread {
	char *path;
	uint64_t off, len;
	int64_t t_us;
};

struct tracemap_rec;

/* root: the image's root filesystem as the tracer sees it (strace runs
 * outside the chroot, so -y shows "ROOT/usr/lib/x"); a path outside it
 * (/proc, /dev, the chroot tool's own libraries) is not the image's and
 * is ignored. Nothing counts before the first successful chroot(2): what
 * comes before is the tool that enters the image. */
int tracemap_rec_new(const char *root, struct tracemap_rec **r)
	__attribute__((warn_unused_result));
void tracemap_rec_free(struct tracemap_rec *r);

/* Feeds one line of strace's output (its newline may be there or not).
 * Lines that are not calls it follows are skipped; a call it follows that
 * it cannot read is -EBADMSG with e saying what (the caller prefixes file
 * and line). */
int tracemap_rec_line(struct tracemap_rec *r, const char *line, struct err *e)
	__attribute__((warn_unused_result));

/* What the recorder has: the reads in order, when the command started
 * (its chroot) and ended (the exit of the process that entered the image;
 * -1 when it was not seen), and its exit status (-1: killed or unseen). */
struct tracemap_result {
	const struct tracemap_fread *reads;
	size_t nreads;
	int64_t t_start_us, t_end_us;
	int exit_status;
	size_t ignored; /* reads of files outside the image */
};
void tracemap_rec_result(const struct tracemap_rec *r,
			 struct tracemap_result *res);

/* ---- 2. a layer's files ---- */

struct tracemap_files;

int tracemap_files_new(struct tracemap_files **f)
	__attribute__((warn_unused_result));
void tracemap_files_free(struct tracemap_files *f);
/* Records one tar entry (tarscan's entry callback can hand it on). A later
 * entry of the same path replaces an earlier one, as unpacking would. */
int tracemap_files_add(struct tracemap_files *f, const struct tarscan_entry *en)
	__attribute__((warn_unused_result));
/* Where the regular file at path (absolute, in the image) has its data:
 * symbolic links anywhere in the path and hard links followed, as the
 * kernel would inside the chroot. 0, or -ENOENT (not in the layer, or not a
 * regular file), -ELOOP. */
int tracemap_files_lookup(struct tracemap_files *f, const char *path,
			  uint64_t *data_off, uint64_t *size)
	__attribute__((warn_unused_result));

/* ---- 3. file reads to trace entries ---- */

struct tracemap_stats {
	uint32_t files;	      /* distinct files of the layer read */
	uint64_t bytes;	      /* bytes of the layer read, each once */
	uint64_t bytes_total; /* bytes read, counting repeats */
	uint64_t compute_us;  /* sum of the gaps, the closing one too */
	size_t not_in_layer;  /* reads of paths the layer does not have */
	size_t capped;	      /* gaps cut to BLOCKIMG_MAX_GAP_US */
};

/* The trace of res against the layer's files: one entry per read of the
 * layer (clipped to its file; a read past a file's end is none), gap_us the
 * microseconds since the previous read (the first: since the start), each
 * at most BLOCKIMG_MAX_GAP_US, and a last entry of length 0 with the
 * compute from the last read to the end. *trace is malloc'd. -ENODATA when
 * the command read nothing of the layer, -E2BIG past BLOCKIMG_MAX_TRACE
 * entries, with e saying so. */
int tracemap_build(const struct tracemap_result *res, struct tracemap_files *f,
		   struct blockimg_read **trace, uint32_t *ntrace,
		   struct tracemap_stats *st, struct err *e)
	__attribute__((warn_unused_result));

#endif

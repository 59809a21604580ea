/* libFuzzer target for image/tracemap.c's strace reader: the text of
 * `strace -f -ttt -y -q -s 0` over a traced start (docs/trace.md). The
 * traced program is the image's, so its paths and what strace prints of
 * them are the image's choice. Lines are fed one at a time, as
 * faasnet-image trace does, then the reads are mapped onto a small layer
 * with the files of tests/unit/data/strace-cat.txt (the seed).
 *
 * On top of the sanitizers: the reads it reports are absolute paths, and
 * the trace built from them lies inside the layer, each gap at most
 * BLOCKIMG_MAX_GAP_US, ending with a read of length 0. Times need not
 * grow: a call strace splits is timed at its start. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracemap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROOT "/tmp/fnet-trace-T/rootfs"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_strace: %s\n", what);
	abort();
}

/* The layer: where each file's data would lie in its tar. */
static const struct tarscan_entry layer[] = {
	{"./usr/bin/cat", "", TARSCAN_REG, 0755, 0, 3000, 1536},
	{"./bin", "usr/bin", TARSCAN_SYMLINK, 0777, 0, 0, 5120},
	{"./etc/ld.so.cache", "", TARSCAN_REG, 0644, 0, 700, 6144},
	{"./usr/lib/libc.so.6", "", TARSCAN_REG, 0755, 0, 20000, 7680},
	{"./lib", "usr/lib", TARSCAN_SYMLINK, 0777, 0, 0, 28160},
	{"./etc/hello.txt", "", TARSCAN_REG, 0644, 0, 10000, 29184},
	{"./etc/greeting", "hello.txt", TARSCAN_SYMLINK, 0777, 0, 0, 39424},
	{"./etc/hello-link", "./etc/hello.txt", TARSCAN_HARDLINK, 0644, 0, 0,
	 39936},
};
#define LAYER_END 39936

static struct tracemap_files *layer_files(void)
{
	static struct tracemap_files *files;
	size_t i;

	if (files)
		return files;
	if (tracemap_files_new(&files))
		abort();
	for (i = 0; i < sizeof(layer) / sizeof(layer[0]); i++)
		if (tracemap_files_add(files, &layer[i]))
			abort();
	return files;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tracemap_result res;
	struct tracemap_stats st;
	struct blockimg_read *trace = NULL;
	struct tracemap_rec *r;
	struct err e = {""};
	uint32_t ntrace;
	size_t i, start, n;
	char *line;

	if (tracemap_rec_new(ROOT "/", &r))
		abort();
	for (start = 0; start < size; start = i + 1) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);

		i = nl ? (size_t)(nl - data) : size;
		n = i - start;
		line = malloc(n + 1);
		if (!line)
			abort();
		memcpy(line, data + start, n);
		line[n] = '\0';
		if (tracemap_rec_line(r, line, &e)) {
			free(line);
			break;
		}
		free(line);
	}
	tracemap_rec_result(r, &res);
	for (i = 0; i < res.nreads; i++)
		if (!res.reads[i].path || res.reads[i].path[0] != '/')
			fail("a read of no path, or not absolute");
	if (!tracemap_build(&res, layer_files(), &trace, &ntrace, &st, &e)) {
		if (!ntrace || trace[ntrace - 1].len)
			fail("a trace that does not end with compute alone");
		for (i = 0; i < ntrace; i++) {
			if (trace[i].gap_us > BLOCKIMG_MAX_GAP_US)
				fail("a gap over the limit");
			if (trace[i].offset > LAYER_END ||
			    trace[i].len > LAYER_END - trace[i].offset)
				fail("a read past the layer");
		}
		free(trace);
	}
	tracemap_rec_free(r);
	return 0;
}

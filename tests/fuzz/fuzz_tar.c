/* libFuzzer target for image/tarscan.c and the file table of
 * image/tracemap.c: a layer's tar stream (ustar, GNU long names, pax), as
 * faasnet-image trace reads it from a registry's tar+gzip blob. The first
 * byte sets the size of the pieces the stream is fed in (1 to 256 bytes,
 * or all at once); the rest is the stream.
 *
 * On top of the sanitizers: each entry's data comes in order, right where
 * its data_off says, and adds up to its size; and the table built from the
 * entries answers a lookup of each. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarscan.h"
#include "tracemap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct scan {
	const uint8_t *stream; /* the whole stream: where pieces lie in it */
	struct tracemap_files *files;
	uint64_t got; /* data bytes of the current entry so far */
	int in_entry;
	char *names[64]; /* the first entries' names, to look up */
	size_t nnames;
};

static void fail(const char *what, const struct tarscan_entry *en)
{
	fprintf(stderr, "fuzz_tar: %s (entry \"%s\", type %c, size %llu)\n",
		what, en ? en->name : "", en ? en->type : '-',
		en ? (unsigned long long)en->size : 0ULL);
	abort();
}

static int on_entry(void *arg, const struct tarscan_entry *en, struct err *e)
{
	struct scan *s = arg;

	if (s->in_entry)
		fail("an entry before the last one ended", en);
	if (!en->name || !en->linkname)
		fail("an entry without its strings", en);
	s->got = 0;
	s->in_entry = 1;
	if (s->nnames < sizeof(s->names) / sizeof(s->names[0])) {
		s->names[s->nnames] = strdup(en->name);
		if (s->names[s->nnames])
			s->nnames++;
	}
	return tracemap_files_add(s->files, en) ? err_set(e, -ENOMEM, "oom")
						: 0;
}

static int on_data(void *arg, const struct tarscan_entry *en, const void *buf,
		   size_t len, struct err *e)
{
	struct scan *s = arg;
	uint64_t at = (uint64_t)((const uint8_t *)buf - s->stream);

	(void)e;
	if (!s->in_entry)
		fail("data outside an entry", en);
	if (at != en->data_off + s->got)
		fail("data not where data_off says", en);
	s->got += len;
	if (s->got > en->size)
		fail("more data than the entry's size", en);
	return 0;
}

static int on_end(void *arg, const struct tarscan_entry *en, struct err *e)
{
	struct scan *s = arg;

	(void)e;
	if (!s->in_entry)
		fail("an end without an entry", en);
	if (s->got != en->size)
		fail("less data than the entry's size", en);
	s->in_entry = 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tarscan_ops ops = {
		.entry = on_entry, .data = on_data, .entry_end = on_end};
	struct scan s = {0};
	struct tarscan *ts;
	struct err e = {""};
	uint64_t off, fsize;
	size_t piece, i;
	int ret = 0;

	if (!size)
		return 0;
	piece = data[0] ? data[0] : size;
	data++;
	size--;
	s.stream = data;
	if (tracemap_files_new(&s.files) || tarscan_new(&ops, &s, &ts))
		abort();
	for (i = 0; i < size && !ret; i += piece)
		ret = tarscan_add(ts, data + i,
				  size - i < piece ? size - i : piece, &e);
	if (!ret)
		ret = tarscan_finish(ts, &e);
	if (!ret && tarscan_offset(ts) != size)
		fail("the offset is not the bytes fed", NULL);
	tarscan_free(ts);
	for (i = 0; i < s.nnames; i++) {
		char path[4096];

		/* As a traced read names it: absolute, inside the image. */
		snprintf(path, sizeof(path), "/%s", s.names[i]);
		ret = tracemap_files_lookup(s.files, path, &off, &fsize);
		if (ret && ret != -ENOENT && ret != -ELOOP &&
		    ret != -ENAMETOOLONG && ret != -ENOMEM)
			fail("a lookup failed otherwise than its contract says",
			     NULL);
		free(s.names[i]);
	}
	tracemap_files_free(s.files);
	return 0;
}

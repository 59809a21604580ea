/* faasnet-image trace end to end: a tiny root filesystem (dash, cat and
 * the libraries ldd names, copied from this machine, and a known file),
 * made into a layout (tests/integration/make-oci-layout.sh, convert) and
 * traced running `cat` on the known file. The trace's reads must cover
 * that file's bytes in the tar, front to back. Needs root (chroot, a mount
 * namespace) and strace; no network. */
#include "itest.h"

#include <fcntl.h>
#include <glob.h>

#include "blockimg.h"
#include "oci.h"
#include "tarscan.h"
#include "tracemap.h"

#define IMG_BIN	  "build/asan/bin/faasnet-image"
#define KNOWN_LEN (300 * 1024)

static int count_tmp(void)
{
	glob_t g;
	int n;

	if (glob("/tmp/fnet-trace-*", 0, NULL, &g))
		return 0;
	n = (int)g.gl_pathc;
	globfree(&g);
	return n;
}

static int on_entry(void *arg, const struct tarscan_entry *en, struct err *e)
{
	(void)e;
	return tracemap_files_add(arg, en);
}

/* Where /etc/known.txt's bytes are in the layer's tar. */
static void known_in_tar(const char *tar, uint64_t *off, uint64_t *size)
{
	static const struct tarscan_ops ops = {.entry = on_entry};
	struct tracemap_files *f;
	struct tarscan *ts;
	struct err e = {""};
	char buf[65536];
	size_t n;
	FILE *in = fopen(tar, "r");

	assert_non_null(in);
	assert_int_equal(tracemap_files_new(&f), 0);
	assert_int_equal(tarscan_new(&ops, f, &ts), 0);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(tarscan_add(ts, buf, n, &e), 0);
	assert_int_equal(tarscan_finish(ts, &e), 0);
	fclose(in);
	assert_int_equal(tracemap_files_lookup(f, "/etc/known.txt", off, size),
			 0);
	tarscan_free(ts);
	tracemap_files_free(f);
}

/* The layout's one layer: its index (decoded), index digest and blob. */
static void load_index(const char *layout, struct blockimg_index *ix,
		       char *digest, char *blob, size_t blen)
{
	struct oci_image img = {0};
	struct err e = {""};
	char *man = NULL, *buf = NULL;
	size_t len;

	assert_int_equal(oci_layout_get_manifest(layout, NULL, &man, &len, &e),
			 0);
	assert_int_equal(oci_manifest_parse(man, len, &img, &e), 0);
	assert_int_equal(img.nlayers, 1);
	snprintf(digest, SHA256_OCI_LEN, "%s", img.layers[0].index.digest);
	assert_int_equal(oci_layout_blob_path(layout, img.layers[0].blob.digest,
					      blob, blen),
			 0);
	assert_int_equal(oci_layout_read_blob(layout,
					      img.layers[0].index.digest, &buf,
					      &len, &e),
			 0);
	assert_int_equal(blockimg_index_decode((uint8_t *)buf, len, ix, &e), 0);
	free(man);
	free(buf);
	oci_image_free(&img);
}

static char dir[] = "/tmp/fnet-itest-trace-XXXXXX";

/* The temp folder goes however the test ends. */
static int teardown(void **state)
{
	(void)state;
	if (strcmp(dir + strlen(dir) - 6, "XXXXXX"))
		itest_run(NULL, "rm -rf %s", dir);
	return 0;
}

static void test_trace_cat(void **state)
{
	char before[SHA256_OCI_LEN], after[SHA256_OCI_LEN], blob[4096];
	char tar[4200];
	struct blockimg_index ix = {0}, old = {0};
	uint64_t off, size, next;
	int tmp_before = count_tmp(), found = 0;
	uint32_t i, j, first, count;

	(void)state;
	if (geteuid() != 0 || access(IMG_BIN, X_OK) ||
	    access("/usr/bin/strace", X_OK)) {
		fprintf(stderr, "SKIP: needs root, strace and %s\n", IMG_BIN);
		skip();
	}
	assert_non_null(mkdtemp(dir));
	/* The root filesystem: the programs, their libraries, the file. */
	assert_int_equal(itest_run(NULL,
				   "set -e; r=%s/src; mkdir -p $r/etc $r/tmp; "
				   "for p in /bin/sh /bin/cat; do "
				   "cp --parents -L $p $r; "
				   "for l in $(ldd $p | grep -o '/[^ ]*'); do "
				   "cp --parents -L $l $r; done; done; "
				   "head -c %d /dev/urandom >$r/etc/known.txt",
				   dir, KNOWN_LEN),
			 0);
	assert_int_equal(itest_run(NULL,
				   "tests/integration/make-oci-layout.sh "
				   "%s/src %s/oci v1 >&2",
				   dir, dir),
			 0);
	assert_int_equal(itest_run(NULL,
				   IMG_BIN " convert %s/oci --out %s/layout "
					   "--block-size 4KiB >&2",
				   dir, dir),
			 0);
	snprintf(tar, sizeof(tar), "%s/layout", dir);
	load_index(tar, &old, before, blob, sizeof(blob));
	assert_int_equal(old.ntrace, 0);
	/* cat into a pipe: it reads (copy_file_range cannot write a pipe). */
	assert_int_equal(itest_run(NULL,
				   IMG_BIN " trace %s/layout -- /bin/sh -c "
					   "'/bin/cat /etc/known.txt | "
					   "/bin/cat >/dev/null' >&2",
				   dir),
			 0);
	load_index(tar, &ix, after, blob, sizeof(blob));
	assert_string_not_equal(before, after);
	assert_true(ix.ntrace >= 2);
	assert_int_equal(ix.trace[ix.ntrace - 1].len, 0);
	snprintf(tar, sizeof(tar), "%s/layer.tar", dir);
	assert_int_equal(itest_run(NULL, "gzip -dc %s >%s", blob, tar), 0);
	known_in_tar(tar, &off, &size);
	assert_int_equal(size, KNOWN_LEN);
	/* The reads of the known file, front to back, whole. */
	next = off;
	for (i = 0; i < ix.ntrace; i++) {
		const struct blockimg_read *r = &ix.trace[i];

		if (!r->len || r->offset + r->len <= off ||
		    r->offset >= off + size)
			continue;
		assert_int_equal(r->offset, next);
		next = r->offset + r->len;
		/* Its blocks are in the start-up set. */
		assert_int_equal(
			blockimg_range(&ix, r->offset, r->len, &first, &count),
			0);
		for (j = 0, found = 0; j < ix.nstartup; j++)
			found += ix.startup[j] == first;
		assert_int_equal(found, 1);
	}
	assert_int_equal(next, off + size);
	assert_int_equal(count_tmp(), tmp_before);
	blockimg_index_free(&ix);
	blockimg_index_free(&old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_trace_cat, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

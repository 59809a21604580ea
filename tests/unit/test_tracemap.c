/* tracemap and tarscan: strace's lines to file reads, a tar built here to
 * its files' data offsets, and the two to trace entries; the fixture
 * tests/unit/data/strace-cat.txt is strace's output for `cat` chrooted in
 * this test's tar (its format captured from strace 6.1, its paths and
 * times made round for the checks below). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarscan.h"
#include "tracemap.h"

#define ROOT	"/tmp/fnet-trace-T/rootfs"
#define FIXTURE "tests/unit/data/strace-cat.txt"
#define T0	1700000000000000LL

/* A tar written in memory: ustar headers, GNU long names. */
struct tarbuf {
	uint8_t *b;
	size_t len;
	uint64_t off_cat, off_ld, off_libc, off_hello;
};

static void put_header(struct tarbuf *t, const char *name, char type,
		       const char *link, size_t size)
{
	uint8_t *h;
	unsigned sum = 0, i;

	t->b = realloc(t->b, t->len + 512);
	assert_non_null(t->b);
	h = t->b + t->len;
	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", size);
	snprintf((char *)h + 136, 12, "%011o", 1000);
	h[156] = (uint8_t)type;
	snprintf((char *)h + 157, 100, "%s", link ? link : "");
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	t->len += 512;
}

/* Returns where the data starts. */
static uint64_t put(struct tarbuf *t, const char *name, char type,
		    const char *link, size_t size)
{
	uint64_t at;
	size_t padded = (size + 511) / 512 * 512;

	if (strlen(name) >= 100) { /* GNU long name */
		put_header(t, "././@LongLink", 'L', NULL, strlen(name) + 1);
		t->b = realloc(t->b,
			       t->len + 512 * ((strlen(name) + 512) / 512));
		memset(t->b + t->len, 0, 512 * ((strlen(name) + 512) / 512));
		memcpy(t->b + t->len, name, strlen(name));
		t->len += 512 * ((strlen(name) + 512) / 512);
	}
	put_header(t, name, type, link, size);
	at = t->len;
	t->b = realloc(t->b, t->len + padded);
	assert_non_null(t->b);
	memset(t->b + t->len, 'x', size);
	memset(t->b + t->len + size, 0, padded - size);
	t->len += padded;
	return at;
}

static void build_tar(struct tarbuf *t)
{
	char longname[160];

	memset(t, 0, sizeof(*t));
	put(t, "./", '5', NULL, 0);
	put(t, "./usr/", '5', NULL, 0);
	put(t, "./usr/bin/", '5', NULL, 0);
	t->off_cat = put(t, "./usr/bin/cat", '0', NULL, 3000);
	put(t, "./bin", '2', "usr/bin", 0);
	put(t, "./etc/", '5', NULL, 0);
	t->off_ld = put(t, "./etc/ld.so.cache", '0', NULL, 700);
	put(t, "./usr/lib/", '5', NULL, 0);
	/* A first libc, replaced by the second as unpacking would. */
	put(t, "./usr/lib/libc.so.6", '0', NULL, 10);
	t->off_libc = put(t, "./usr/lib/libc.so.6", '0', NULL, 20000);
	put(t, "./lib", '2', "usr/lib", 0);
	t->off_hello = put(t, "./etc/hello.txt", '0', NULL, 10000);
	put(t, "./etc/hello-link", '1', "./etc/hello.txt", 0);
	put(t, "./etc/greeting", '2', "hello.txt", 0);
	put(t, "./etc/loop-a", '2', "loop-b", 0);
	put(t, "./etc/loop-b", '2', "/etc/loop-a", 0);
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "./etc/", 6);
	longname[150] = '\0';
	put(t, longname, '0', NULL, 5);
	t->b = realloc(t->b, t->len + 1024);
	memset(t->b + t->len, 0, 1024);
	t->len += 1024;
}

struct seen {
	struct tracemap_files *files;
	int entries;
	uint64_t data_bytes, long_off;
	int long_seen;
};

static int on_entry(void *arg, const struct tarscan_entry *en, struct err *e)
{
	struct seen *s = arg;

	(void)e;
	s->entries++;
	if (strlen(en->name) == 150) {
		s->long_seen = 1;
		s->long_off = en->data_off;
	}
	return tracemap_files_add(s->files, en);
}

static int on_data(void *arg, const struct tarscan_entry *en, const void *b,
		   size_t len, struct err *e)
{
	struct seen *s = arg;

	(void)en;
	(void)b;
	(void)e;
	s->data_bytes += len;
	return 0;
}

/* The tar fed in pieces of every awkward size gives the same entries. */
static struct tracemap_files *scan(struct tarbuf *t, size_t piece,
				   struct seen *s)
{
	static const struct tarscan_ops ops = {.entry = on_entry,
					       .data = on_data};
	struct tarscan *ts;
	struct err e = {""};
	size_t i;

	memset(s, 0, sizeof(*s));
	assert_int_equal(tracemap_files_new(&s->files), 0);
	assert_int_equal(tarscan_new(&ops, s, &ts), 0);
	for (i = 0; i < t->len; i += piece)
		assert_int_equal(
			tarscan_add(ts, t->b + i,
				    t->len - i < piece ? t->len - i : piece,
				    &e),
			0);
	assert_int_equal(tarscan_finish(ts, &e), 0);
	tarscan_free(ts);
	return s->files;
}

static void test_tarscan_offsets(void **state)
{
	struct tarbuf t;
	struct seen s;
	size_t pieces[] = {1, 7, 512, 513, 100000};
	uint64_t off, size;
	unsigned i;

	(void)state;
	build_tar(&t);
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		scan(&t, pieces[i], &s);
		assert_int_equal(s.entries, 17);
		assert_int_equal(s.data_bytes,
				 3000 + 700 + 10 + 20000 + 10000 + 5);
		assert_true(s.long_seen);
		assert_memory_equal(t.b + s.long_off, "xxxxx", 5);
		assert_int_equal(tracemap_files_lookup(s.files, "/usr/bin/cat",
						       &off, &size),
				 0);
		assert_int_equal(off, t.off_cat);
		assert_int_equal(size, 3000);
		tracemap_files_free(s.files);
	}
	free(t.b);
}

static void test_tarscan_bad_checksum(void **state)
{
	static const struct tarscan_ops ops = {0};
	struct tarscan *ts;
	struct tarbuf t;
	struct err e = {""};

	(void)state;
	build_tar(&t);
	t.b[512 + 3] ^= 1; /* the second header's name */
	assert_int_equal(tarscan_new(&ops, NULL, &ts), 0);
	assert_int_equal(tarscan_add(ts, t.b, t.len, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "offset 512"));
	tarscan_free(ts);
	/* Cut inside an entry's data. */
	t.b[512 + 3] ^= 1;
	assert_int_equal(tarscan_new(&ops, NULL, &ts), 0);
	assert_int_equal(tarscan_add(ts, t.b, t.off_cat + 100, &e), 0);
	assert_int_equal(tarscan_finish(ts, &e), -EBADMSG);
	tarscan_free(ts);
	free(t.b);
}

/* A pax header of exactly these bytes, then one regular file, then the
 * end; the header is fed alone and in one piece, so its bytes end where
 * tarscan's copy of them ends (ASan sees any read past them). */
static int scan_pax(const char *records, struct err *e)
{
	static const struct tarscan_ops ops = {0};
	struct tarscan *ts;
	struct tarbuf t = {0};
	size_t n = strlen(records), padded = (n + 511) / 512 * 512;
	int ret;

	put_header(&t, "./PaxHeaders/x", 'x', NULL, n);
	t.b = realloc(t.b, t.len + padded);
	assert_non_null(t.b);
	memset(t.b + t.len, 0, padded);
	memcpy(t.b + t.len, records, n);
	t.len += padded;
	put(&t, "./x", '0', NULL, 3);
	t.b = realloc(t.b, t.len + 1024);
	assert_non_null(t.b);
	memset(t.b + t.len, 0, 1024);
	t.len += 1024;
	assert_int_equal(tarscan_new(&ops, NULL, &ts), 0);
	ret = tarscan_add(ts, t.b, t.len, e);
	tarscan_free(ts);
	free(t.b);
	return ret;
}

/* Found by tests/fuzz/fuzz_tar.c: pax records that end the header's
 * bytes made the reader look past them (the length's digits, the '='). */
static void test_tarscan_pax_bounds(void **state)
{
	struct err e = {""};

	(void)state;
	assert_int_equal(scan_pax("12 path=./y\n", &e), 0);
	/* No '=' in the last record: searched for past its newline. */
	assert_int_equal(scan_pax("6 abc\n", &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "'='"));
	/* Digits to the end: the length read past them. */
	assert_int_equal(scan_pax("12", &e), -EBADMSG);
	/* Blanks before the length: its newline came before the space that
	 * ends it, and the search for '=' had a negative length. */
	assert_int_equal(scan_pax("\n\n\n\n3 x\n", &e), -EBADMSG);
	assert_int_equal(scan_pax("-1 path=x\n", &e), -EBADMSG);
}

static void test_lookup_links(void **state)
{
	struct tarbuf t;
	struct seen s;
	uint64_t off, size;

	(void)state;
	build_tar(&t);
	scan(&t, 4096, &s);
	/* A symlinked folder, a relative symlink, a hard link, "..". */
	assert_int_equal(
		tracemap_files_lookup(s.files, "/bin/cat", &off, &size), 0);
	assert_int_equal(off, t.off_cat);
	assert_int_equal(
		tracemap_files_lookup(s.files, "/lib/libc.so.6", &off, &size),
		0);
	assert_int_equal(off, t.off_libc); /* the later entry */
	assert_int_equal(size, 20000);
	assert_int_equal(
		tracemap_files_lookup(s.files, "/etc/greeting", &off, &size),
		0);
	assert_int_equal(off, t.off_hello);
	assert_int_equal(
		tracemap_files_lookup(s.files, "/etc/hello-link", &off, &size),
		0);
	assert_int_equal(off, t.off_hello);
	assert_int_equal(tracemap_files_lookup(s.files,
					       "/usr/../bin/./../lib/libc.so.6",
					       &off, &size),
			 0);
	assert_int_equal(off, t.off_libc);
	assert_int_equal(tracemap_files_lookup(s.files, "/etc", &off, &size),
			 -ENOENT);
	assert_int_equal(
		tracemap_files_lookup(s.files, "/etc/none", &off, &size),
		-ENOENT);
	assert_int_equal(
		tracemap_files_lookup(s.files, "/etc/loop-a", &off, &size),
		-ELOOP);
	tracemap_files_free(s.files);
	free(t.b);
}

static struct tracemap_rec *record_fixture(void)
{
	struct tracemap_rec *r;
	struct err e = {""};
	char line[4096];
	FILE *f = fopen(FIXTURE, "r");
	int n = 0;

	assert_non_null(f);
	assert_int_equal(tracemap_rec_new(ROOT "/", &r), 0);
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (tracemap_rec_line(r, line, &e))
			fail_msg("%s:%d: %s", FIXTURE, n, e.msg);
	}
	fclose(f);
	return r;
}

/* Found by tests/fuzz/fuzz_tar.c: a link or folder whose header gives a
 * size had its bytes handed on as data, though its entry says size 0. */
static void test_tarscan_no_data_but_files(void **state)
{
	struct tarbuf t = {0};
	struct seen s;
	size_t pieces[] = {1, 512, 100000};
	unsigned i;

	(void)state;
	put(&t, "./l", '2', "x", 5);
	put(&t, "./d/", '5', NULL, 600);
	put(&t, "./f", '0', NULL, 3);
	t.b = realloc(t.b, t.len + 1024);
	assert_non_null(t.b);
	memset(t.b + t.len, 0, 1024);
	t.len += 1024;
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		scan(&t, pieces[i], &s);
		assert_int_equal(s.entries, 3);
		assert_int_equal(s.data_bytes, 3);
		tracemap_files_free(s.files);
	}
	free(t.b);
}

/* Found by tests/fuzz/fuzz_strace.c: an empty layer (no files) was
 * sorted as a NULL array, which qsort's contract does not allow. */
static void test_lookup_empty_layer(void **state)
{
	struct tracemap_files *f;
	uint64_t off, size;

	(void)state;
	assert_int_equal(tracemap_files_new(&f), 0);
	assert_int_equal(tracemap_files_lookup(f, "/etc/x", &off, &size),
			 -ENOENT);
	tracemap_files_free(f);
}

static void test_strace_to_reads(void **state)
{
	static const struct {
		const char *path;
		uint64_t off, len;
		int64_t t;
	} want[] = {
		{"/bin/cat", 0, UINT64_MAX, 1500},
		{"/etc/ld.so.cache", 0, 700, 2200},
		{"/usr/lib/libc.so.6", 0, 832, 2500},
		{"/usr/lib/libc.so.6", 64, 784, 2600},
		{"/usr/lib/libc.so.6", 0x2000, 8192, 2700},
		{"/etc/hello.txt", 0, 4096, 4100}, /* unfinished, resumed */
		/* Its position, though a forked child closed and reused fd 3.
		 */
		{"/etc/hello.txt", 4096, 4096, 4300},
		{"/etc/hello.txt", 8192, 1808, 5100}, /* after lseek */
		{"/tmp/out", 0, 100, 5500},
	};
	struct tracemap_rec *r = record_fixture();
	struct tracemap_result res;
	size_t i;

	(void)state;
	tracemap_rec_result(r, &res);
	assert_int_equal(res.t_start_us, T0 + 1000);
	assert_int_equal(res.t_end_us, T0 + 105800); /* pid 700, not 701 */
	assert_int_equal(res.exit_status, 0);
	/* /proc's one read of bytes; the chroot tool's own reads before the
	 * chroot are not counted at all. */
	assert_int_equal(res.ignored, 1);
	assert_int_equal(res.nreads, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < res.nreads; i++) {
		assert_string_equal(res.reads[i].path, want[i].path);
		assert_int_equal(res.reads[i].off, want[i].off);
		assert_int_equal(res.reads[i].len, want[i].len);
		assert_int_equal(res.reads[i].t_us, T0 + want[i].t);
	}
	tracemap_rec_free(r);
}

static void test_reads_to_trace(void **state)
{
	struct tracemap_rec *r = record_fixture();
	struct tracemap_result res;
	struct tracemap_stats st;
	struct blockimg_read *tr;
	struct err e = {""};
	struct tarbuf t;
	struct seen s;
	uint32_t n;

	(void)state;
	build_tar(&t);
	scan(&t, 4096, &s);
	tracemap_rec_result(r, &res);
	assert_int_equal(tracemap_build(&res, s.files, &tr, &n, &st, &e), 0);
	assert_int_equal(n, 9);
	/* The program, whole; its reads in order, each in its file's place
	 * in the tar; /tmp/out, which the layer has not, left out. */
	assert_int_equal(tr[0].offset, t.off_cat);
	assert_int_equal(tr[0].len, 3000);
	assert_int_equal(tr[0].gap_us, 500);
	assert_int_equal(tr[1].offset, t.off_ld);
	assert_int_equal(tr[1].len, 700);
	assert_int_equal(tr[1].gap_us, 700);
	assert_int_equal(tr[2].offset, t.off_libc);
	assert_int_equal(tr[2].len, 832);
	assert_int_equal(tr[3].offset, t.off_libc + 64);
	assert_int_equal(tr[3].len, 784);
	assert_int_equal(tr[3].gap_us, 100);
	assert_int_equal(tr[4].offset, t.off_libc + 8192);
	assert_int_equal(tr[4].len, 8192);
	assert_int_equal(tr[5].offset, t.off_hello);
	assert_int_equal(tr[5].len, 4096);
	assert_int_equal(tr[5].gap_us, 1400);
	assert_int_equal(tr[6].offset, t.off_hello + 4096);
	assert_int_equal(tr[6].len, 4096);
	assert_int_equal(tr[6].gap_us, 200);
	assert_int_equal(tr[7].offset, t.off_hello + 8192);
	assert_int_equal(tr[7].len, 1808);
	assert_int_equal(tr[7].gap_us, 800);
	/* The compute after the last read of the layer, to the exit. */
	assert_int_equal(tr[8].len, 0);
	assert_int_equal(tr[8].gap_us, 105800 - 5100);
	assert_int_equal(st.files, 4);
	assert_int_equal(st.bytes, 3000 + 700 + 848 + 8192 + 10000);
	assert_int_equal(st.bytes_total,
			 3000 + 700 + 832 + 784 + 8192 + 4096 + 4096 + 1808);
	assert_int_equal(st.compute_us, 500 + 700 + 300 + 100 + 100 + 1400 +
						200 + 800 + 100700);
	assert_int_equal(st.not_in_layer, 1);
	assert_int_equal(st.capped, 0);
	free(tr);
	tracemap_files_free(s.files);
	tracemap_rec_free(r);
	free(t.b);
}

/* A gap past the format's limit is cut to it, and counted. */
static void test_gap_capped(void **state)
{
	struct tracemap_fread rd = {.path = "/etc/hello.txt", .len = 10};
	struct tracemap_result res = {.reads = &rd,
				      .nreads = 1,
				      .t_start_us = 0,
				      .t_end_us = 200000000LL};
	struct tracemap_stats st;
	struct blockimg_read *tr;
	struct err e = {""};
	struct tarbuf t;
	struct seen s;
	uint32_t n;

	(void)state;
	build_tar(&t);
	scan(&t, 4096, &s);
	rd.t_us = 90000000LL;
	assert_int_equal(tracemap_build(&res, s.files, &tr, &n, &st, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(tr[0].gap_us, BLOCKIMG_MAX_GAP_US);
	assert_int_equal(tr[1].gap_us, BLOCKIMG_MAX_GAP_US);
	assert_int_equal(st.capped, 2);
	free(tr);
	/* Nothing of the layer read: no trace. */
	rd.path = "/tmp/out";
	assert_int_equal(tracemap_build(&res, s.files, &tr, &n, &st, &e),
			 -ENODATA);
	assert_null(tr);
	tracemap_files_free(s.files);
	free(t.b);
}

/* The trace's blocks: what the index's start-up set becomes. */
static void test_trace_to_blocks(void **state)
{
	struct tracemap_rec *r = record_fixture();
	struct blockimg_index ix = {.block_size = 1024};
	struct tracemap_result res;
	struct tracemap_stats st;
	struct err e = {""};
	struct tarbuf t;
	struct seen s;

	(void)state;
	build_tar(&t);
	scan(&t, 4096, &s);
	ix.size = t.len;
	ix.nblocks = (uint32_t)((t.len + 1023) / 1024);
	tracemap_rec_result(r, &res);
	assert_int_equal(
		tracemap_build(&res, s.files, &ix.trace, &ix.ntrace, &st, &e),
		0);
	assert_int_equal(blockimg_startup_from_trace(&ix), 0);
	assert_true(ix.nstartup > 0);
	assert_int_equal(ix.startup[0], t.off_cat / 1024);
	assert_int_equal(ix.startup[1], t.off_cat / 1024 + 1);
	assert_int_equal(ix.startup[2], (t.off_cat + 2999) / 1024);
	free(ix.trace);
	free(ix.startup);
	tracemap_files_free(s.files);
	tracemap_rec_free(r);
	free(t.b);
}

static void test_bad_lines(void **state)
{
	struct tracemap_rec *r;
	struct err e = {""};

	(void)state;
	assert_int_equal(tracemap_rec_new(ROOT, &r), 0);
	assert_int_equal(tracemap_rec_line(r, "hello world\n", &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "PID"));
	assert_int_equal(tracemap_rec_line(r, "12 17:00:01 read(3) = 1\n", &e),
			 -EBADMSG);
	assert_non_null(strstr(e.msg, "-ttt"));
	assert_int_equal(tracemap_rec_line(r,
					   "12 1700000000.000001 chroot(\"/x\")"
					   " = 0\n",
					   &e),
			 0);
	assert_int_equal(tracemap_rec_line(r,
					   "12 1700000000.000002 mmap(NULL, "
					   "8192) = 0x7f00\n",
					   &e),
			 -EBADMSG);
	assert_non_null(strstr(e.msg, "mmap"));
	tracemap_rec_free(r);
}

/* Found by tests/fuzz/fuzz_strace.c: a time past 2^63 microseconds
 * overflowed when scaled (UB), and signs or blanks inside the time passed
 * as digits. */
static void test_bad_times(void **state)
{
	static const char *const bad[] = {
		"12 170000000000000.000001 chroot(\"/x\") = 0\n",
		"12 99999999999999999999.000001 chroot(\"/x\") = 0\n",
		"12 -1700000000.000001 chroot(\"/x\") = 0\n",
		"12 1700000000.-12345 chroot(\"/x\") = 0\n",
		"12 1700000000. 12345 chroot(\"/x\") = 0\n",
	};
	struct tracemap_rec *r;
	struct err e = {""};
	size_t i;

	(void)state;
	assert_int_equal(tracemap_rec_new(ROOT, &r), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tracemap_rec_line(r, bad[i], &e), -EBADMSG);
		assert_non_null(strstr(e.msg, "-ttt"));
	}
	assert_int_equal(tracemap_rec_line(r,
					   "12 9223372036.854775 chroot(\"/x\")"
					   " = 0\n",
					   &e),
			 0);
	tracemap_rec_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tarscan_offsets),
		cmocka_unit_test(test_tarscan_bad_checksum),
		cmocka_unit_test(test_tarscan_pax_bounds),
		cmocka_unit_test(test_lookup_links),
		cmocka_unit_test(test_lookup_empty_layer),
		cmocka_unit_test(test_tarscan_no_data_but_files),
		cmocka_unit_test(test_strace_to_reads),
		cmocka_unit_test(test_reads_to_trace),
		cmocka_unit_test(test_gap_capped),
		cmocka_unit_test(test_trace_to_blocks),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* faasnet-image fetch --out writes the file it names and nothing else: a
 * link planted where it used to write aside (OUT.part), or at OUT itself,
 * is never written through; a fetch from the fake registry on 127.0.0.1
 * still lands whole under OUT, with nothing left aside. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../image/cmds.h" /* not testbed/cmds.h */
#include "fake_registry.h"
#include "mem_image.h"

#define IMAGE_SIZE (300u << 10)
#define BLOCK_SIZE (64u << 10)
#define VICTIM	   "precious\n"

static struct mem_image g_img;
static struct freg g_reg;
static char g_dir[] = "/tmp/fnet-test-fetch-XXXXXX";
static uint8_t *g_layer; /* the uncompressed layer: what --all writes */
static size_t g_layer_len;

static int setup(void **state)
{
	struct err e = {""};

	(void)state;
	if (!mkdtemp(g_dir))
		return -1;
	if (mem_image_build(&g_img, IMAGE_SIZE, BLOCK_SIZE, 3, NULL, NULL,
			    &e)) {
		fprintf(stderr, "mem_image_build: %s\n", e.msg);
		return -1;
	}
	if (freg_start(&g_reg, &g_img, FREG_HONEST))
		return -1;
	/* The layer is the data blob's blocks joined. */
	g_layer_len = g_img.ix.size;
	g_layer = malloc(g_layer_len ? g_layer_len : 1);
	if (!g_layer)
		return -1;
	for (uint32_t i = 0; i < g_img.ix.nblocks; i++) {
		const struct blockimg_block *b = &g_img.ix.blocks[i];

		if (blockimg_block_decompress(
			    &g_img.ix, NULL, i, g_img.data + b->offset, b->clen,
			    g_layer + (size_t)i * g_img.ix.block_size,
			    g_layer_len - (size_t)i * g_img.ix.block_size, &e))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	freg_stop(&g_reg);
	mem_image_free(&g_img);
	free(g_layer);
	mem_rm_tree(g_dir);
	return 0;
}

static int fetch_to(const char *out)
{
	char ref[256];
	char *argv[] = {"fetch", ref, "--all", "--out", (char *)out, NULL};

	snprintf(ref, sizeof(ref), "127.0.0.1:%u/" FREG_REPO "@%s", g_reg.port,
		 g_img.manifest_digest);
	return fetch_main(5, argv);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void assert_text(const char *path, const char *text)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(mem_read_file(path, &buf, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(buf, text, len);
	free(buf);
}

/* How many entries of dir start with prefix. */
static unsigned count_prefixed(const char *dir, const char *prefix)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

/* OUT.part, where fetch wrote aside before, is a link to a file of
 * someone else's: it stays as it was, and OUT is the layer. */
static void test_link_aside_not_followed(void **state)
{
	char out[256], part[300], victim[256];
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	snprintf(out, sizeof(out), "%s/aside.tar", g_dir);
	snprintf(part, sizeof(part), "%s.part", out);
	snprintf(victim, sizeof(victim), "%s/victim-aside", g_dir);
	write_text(victim, VICTIM);
	assert_int_equal(symlink(victim, part), 0);
	assert_int_equal(fetch_to(out), 0);
	assert_text(victim, VICTIM);
	assert_int_equal(mem_read_file(out, &buf, &len), 0);
	assert_int_equal(len, g_layer_len);
	assert_memory_equal(buf, g_layer, len);
	free(buf);
	/* Only the planted link is there besides OUT: nothing left aside. */
	assert_int_equal(count_prefixed(g_dir, "aside.tar"), 2);
}

/* OUT itself is a link, to a file and to a character device: refused,
 * neither written through nor replaced. */
static void test_link_at_out_not_followed(void **state)
{
	char out[256], victim[256];
	struct stat st;

	(void)state;
	snprintf(out, sizeof(out), "%s/at.tar", g_dir);
	snprintf(victim, sizeof(victim), "%s/victim-at", g_dir);
	write_text(victim, VICTIM);
	assert_int_equal(symlink(victim, out), 0);
	assert_int_equal(fetch_to(out), IMAGE_EXIT_FAILED);
	assert_text(victim, VICTIM);
	assert_int_equal(lstat(out, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(unlink(out), 0);
	assert_int_equal(symlink("/dev/null", out), 0);
	assert_int_equal(fetch_to(out), IMAGE_EXIT_FAILED);
	assert_int_equal(lstat(out, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(count_prefixed(g_dir, "at.tar"), 1);
}

/* A device named directly is still written in place. */
static void test_device_in_place(void **state)
{
	(void)state;
	assert_int_equal(fetch_to("/dev/null"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_aside_not_followed),
		cmocka_unit_test(test_link_at_out_not_followed),
		cmocka_unit_test(test_device_in_place),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Integration tests of images against the real registry: synth, push,
 * inspect (ours and skopeo's), verified fetch, and a corrupted block in the
 * registry's storage. Need root (the registry runs in fnet-registry). */
#include "itest.h"

#include <jansson.h>
#include <openssl/evp.h>

#define IMG_BIN "build/asan/bin/faasnet-image"
#define TOPO	"tests/integration/topologies/registry.yaml"
#define REF	"198.18.0.2:5000/fn/test:v1"

struct fixture {
	char dir[64];	  /* temp folder: layout, storage, outputs */
	char diff_id[80]; /* from synth */
	unsigned blocks;
	int ready;
};

static struct fixture fx;

/* Everything the tests share is built once: a testbed, the registry, a
 * 64 MB image pushed to it. When any of it cannot be had here, every test
 * skips and says why. */
static int setup(void **state)
{
	char *out = NULL;
	json_t *j;

	(void)state;
	if (geteuid() != 0 || access(ITEST_BIN, X_OK) ||
	    access(IMG_BIN, X_OK) || access("/usr/bin/docker-registry", X_OK))
		return 0;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/fnet-itest-img-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	itest_run(NULL, ITEST_BIN " clean >&2");
	if (itest_run(NULL, ITEST_BIN " up " TOPO " >&2") ||
	    itest_run(NULL, ITEST_BIN " registry start --storage %s/reg >&2",
		      fx.dir) ||
	    itest_run(&out,
		      IMG_BIN " synth fn --size 64MB --seed 7 --out "
			      "%s/layout --json",
		      fx.dir))
		goto fail;
	j = json_loads(out, 0, NULL);
	free(out);
	out = NULL;
	if (!j)
		goto fail;
	snprintf(fx.diff_id, sizeof(fx.diff_id), "%s",
		 json_string_value(json_object_get(j, "diff_id")));
	fx.blocks = (unsigned)json_integer_value(json_object_get(j, "blocks"));
	json_decref(j);
	if (itest_run(NULL,
		      IMG_BIN " push %s/layout --registry 198.18.0.2:5000 "
			      "--name fn/test:v1 >&2",
		      fx.dir))
		goto fail;
	fx.ready = 1;
	return 0;
fail:
	free(out);
	fprintf(stderr, "setup failed: the tests below will fail\n");
	fx.ready = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (fx.dir[0]) {
		itest_run(NULL, ITEST_BIN " down >&2");
		itest_run(NULL, "rm -rf %s", fx.dir);
	}
	return 0;
}

#define NEED_FIXTURE()                                                         \
	do {                                                                   \
		ITEST_NEED_REGISTRY();                                         \
		assert_int_equal(fx.ready, 1);                                 \
	} while (0)

static void sha256_file(const char *path, char out[80])
{
	unsigned char buf[1 << 16], d[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;
	int i;

	assert_non_null(f);
	assert_non_null(c);
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(c, buf, n);
	EVP_DigestFinal_ex(c, d, NULL);
	EVP_MD_CTX_free(c);
	fclose(f);
	snprintf(out, 80, "sha256:");
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

static void test_fetch_all_gives_the_layer(void **state)
{
	char digest[80];

	(void)state;
	NEED_FIXTURE();
	assert_int_equal(itest_run(NULL,
				   IMG_BIN " fetch " REF " --all --out "
					   "%s/all.tar >&2",
				   fx.dir),
			 0);
	snprintf(digest, sizeof(digest), "%s/all.tar", fx.dir);
	sha256_file(digest, digest);
	assert_string_equal(digest, fx.diff_id);
	/* A real tar: tar lists its files. */
	assert_int_equal(
		itest_run(NULL, "tar tf %s/all.tar >/dev/null", fx.dir), 0);
}

/* A device is written in place: `--out /dev/null` measures the fetch
 * without the disk, and once replaced /dev/null with a file (the layer was
 * written aside and renamed over it). A node of our own stands in for it. */
static void test_fetch_into_a_device_keeps_the_device(void **state)
{
	char *out = NULL;
	int rc;

	(void)state;
	NEED_FIXTURE();
	assert_int_equal(itest_run(NULL, "mknod %s/null c 1 3", fx.dir), 0);
	assert_int_equal(itest_run(NULL,
				   IMG_BIN " fetch " REF " --all --out "
					   "%s/null >&2",
				   fx.dir),
			 0);
	assert_int_equal(itest_run(NULL,
				   "test -c %s/null && ! test -e "
				   "%s/null.part",
				   fx.dir, fx.dir),
			 0);
	/* Any other kind of file is refused, by name, before any fetching. */
	assert_int_equal(itest_run(NULL, "mkfifo %s/fifo", fx.dir), 0);
	rc = itest_run(&out, IMG_BIN " fetch " REF " --all --out %s/fifo 2>&1",
		       fx.dir);
	fprintf(stderr, "%s", out);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "not a regular file or a character "
				    "device"));
	free(out);
	assert_int_equal(
		itest_run(NULL, "rm -f %s/null %s/fifo", fx.dir, fx.dir), 0);
}

static void test_fetch_subset_gives_exactly_those_blocks(void **state)
{
	(void)state;
	NEED_FIXTURE();
	assert_int_equal(itest_run(NULL,
				   IMG_BIN " fetch " REF " --blocks "
					   "0,3,10-12 --out %s/part.tar "
					   ">&2",
				   fx.dir),
			 0);
	/* Fetched blocks equal the same bytes of the whole layer... */
	assert_int_equal(itest_run(NULL,
				   "cd %s && for b in 0 3 10 11 12; do "
				   "cmp -n 524288 -i $((b * 524288)) "
				   "all.tar part.tar || exit 1; done",
				   fx.dir),
			 0);
	/* ...and a block not asked for was not written (it reads zero),
	 * though it is not zero in the layer. */
	assert_int_equal(itest_run(NULL,
				   "cd %s && cmp -n 524288 -i "
				   "$((5 * 524288)):0 part.tar /dev/zero",
				   fx.dir),
			 0);
	assert_int_not_equal(itest_run(NULL,
				       "cd %s && cmp -s -n 524288 -i "
				       "$((5 * 524288)):0 all.tar "
				       "/dev/zero",
				       fx.dir),
			     0);
}

static void test_inspect_and_skopeo_read_the_manifest(void **state)
{
	json_t *j;
	char *out = NULL;

	(void)state;
	NEED_FIXTURE();
	assert_int_equal(itest_run(&out, IMG_BIN " inspect " REF " --json"), 0);
	j = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(j);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_array_get(json_object_get(j, "layers"), 0),
			"blocks")),
		fx.blocks);
	json_decref(j);
	if (access("/usr/bin/skopeo", X_OK)) {
		fprintf(stderr, "SKIP: skopeo missing\n");
		skip();
	}
	assert_int_equal(itest_run(&out, "skopeo inspect --tls-verify=false "
					 "docker://" REF),
			 0);
	assert_non_null(strstr(out, "\"Layers\""));
	assert_non_null(strstr(out, "sha256:"));
	free(out);
}

static void test_push_again_skips_what_is_there(void **state)
{
	json_t *j;
	char *out = NULL;

	(void)state;
	NEED_FIXTURE();
	assert_int_equal(itest_run(&out,
				   IMG_BIN " push %s/layout --registry "
					   "198.18.0.2:5000 --name fn/test:v1 "
					   "--json",
				   fx.dir),
			 0);
	j = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "pushed")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "skipped")), 4);
	json_decref(j);
}

static void test_convert_a_real_layout(void **state)
{
	char *diff = NULL, got[80];

	(void)state;
	NEED_FIXTURE();
	/* A layout made as skopeo makes them, from files on this machine. */
	assert_int_equal(itest_run(&diff,
				   "tests/integration/make-oci-layout.sh "
				   "/usr/include/linux %s/real real",
				   fx.dir),
			 0);
	diff[strcspn(diff, "\n")] = '\0';
	if (!access("/usr/bin/skopeo", X_OK))
		assert_int_equal(itest_run(NULL,
					   "skopeo inspect oci:%s/real:real "
					   ">/dev/null",
					   fx.dir),
				 0);
	assert_int_equal(itest_run(NULL,
				   IMG_BIN " convert %s/real --tag real "
					   "--out %s/conv >&2",
				   fx.dir, fx.dir),
			 0);
	/* The original layer and config are kept: the same diff_id. */
	assert_int_equal(itest_run(NULL,
				   IMG_BIN
				   " push %s/conv --registry "
				   "198.18.0.2:5000 --name fn/real:v1 >&2",
				   fx.dir),
			 0);
	assert_int_equal(itest_run(NULL,
				   IMG_BIN
				   " fetch 198.18.0.2:5000/fn/"
				   "real:v1 --all --out %s/real.tar >&2",
				   fx.dir),
			 0);
	snprintf(got, sizeof(got), "%s/real.tar", fx.dir);
	sha256_file(got, got);
	assert_string_equal(got, diff);
	free(diff);
}

/* Last: it corrupts the registry's copy. */
static void test_corrupt_block_is_refused_and_named(void **state)
{
	char *out = NULL;
	int rc;

	(void)state;
	NEED_FIXTURE();
	/* Flip one byte of the block data blob, at 600,000: inside block 1
	 * or 2 of data compressed 2-3x; the message must name a block. */
	assert_int_equal(itest_run(NULL,
				   "cd %s/reg/data && f=$(for d in $(find "
				   ". -name data -size +10M); do echo $d; "
				   "done | while read d; do "
				   "n=$(stat -c %%s $d); echo $n $d; done "
				   "| sort -n | head -1 | cut -d' ' -f2); "
				   "printf '\\377' | dd of=$f bs=1 "
				   "seek=600000 conv=notrunc 2>/dev/null",
				   fx.dir),
			 0);
	rc = itest_run(&out,
		       IMG_BIN " fetch " REF " --all --out %s/bad.tar "
			       "2>&1",
		       fx.dir);
	fprintf(stderr, "%s", out);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "block "));
	assert_non_null(strstr(out, "sha256 mismatch"));
	free(out);
	/* Nothing that looks like a layer is left. */
	assert_int_equal(itest_count("ls /tmp/fnet-itest-img-*/bad.tar* "
				     "2>/dev/null"),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_all_gives_the_layer),
		cmocka_unit_test(test_fetch_subset_gives_exactly_those_blocks),
		cmocka_unit_test(test_fetch_into_a_device_keeps_the_device),
		cmocka_unit_test(test_inspect_and_skopeo_read_the_manifest),
		cmocka_unit_test(test_push_again_skips_what_is_there),
		cmocka_unit_test(test_convert_a_real_layout),
		cmocka_unit_test(test_corrupt_block_is_refused_and_named),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

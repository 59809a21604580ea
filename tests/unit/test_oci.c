/* Unit tests for lib/oci.c: manifests and configs survive a build and a
 * parse unchanged, malformed manifests are refused with a message, Docker v2
 * manifests are read, and layouts on disk store, check and find blobs and
 * manifests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blockimg.h"
#include "oci.h"
#include "read_text.h"
#include "sha256.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Distinct valid digests, one per hex digit. */
static void digest_of(char c, char out[SHA256_OCI_LEN])
{
	memcpy(out, "sha256:", 7);
	memset(out + 7, c, 64);
	out[71] = '\0';
}

/* Two layers: the first with block-image blobs, the second without. */
static void sample_image(struct oci_image *img)
{
	struct oci_layer *l;

	memset(img, 0, sizeof(*img));
	snprintf(img->config.media_type, sizeof(img->config.media_type), "%s",
		 OCI_CONFIG_MEDIA_TYPE);
	digest_of('c', img->config.digest);
	img->config.size = 1234;
	img->nlayers = 2;
	img->layers = calloc(2, sizeof(*img->layers));
	assert_non_null(img->layers);

	l = &img->layers[0];
	snprintf(l->blob.media_type, sizeof(l->blob.media_type), "%s",
		 OCI_LAYER_GZIP_MEDIA_TYPE);
	digest_of('1', l->blob.digest);
	l->blob.size = 300000000; /* past 2^28, still an int64 in JSON */
	digest_of('d', l->diff_id);
	l->has_blocks = 1;
	snprintf(l->index.media_type, sizeof(l->index.media_type), "%s",
		 BLOCKIMG_INDEX_MEDIA_TYPE);
	digest_of('a', l->index.digest);
	l->index.size = 4096;
	snprintf(l->data.media_type, sizeof(l->data.media_type), "%s",
		 BLOCKIMG_DATA_MEDIA_TYPE);
	digest_of('b', l->data.digest);
	l->data.size = 5000000000ull; /* over 4 GiB */

	l = &img->layers[1];
	snprintf(l->blob.media_type, sizeof(l->blob.media_type), "%s",
		 OCI_LAYER_TAR_MEDIA_TYPE);
	digest_of('2', l->blob.digest);
	l->blob.size = 0;
	digest_of('e', l->diff_id);
}

static void assert_desc_equal(const struct oci_desc *a,
			      const struct oci_desc *b)
{
	assert_string_equal(a->media_type, b->media_type);
	assert_string_equal(a->digest, b->digest);
	assert_int_equal(a->size, b->size);
}

static void test_manifest_round_trip(void **state)
{
	struct oci_image img, got;
	struct err e = {""};
	char *json;
	size_t len;
	unsigned i;

	(void)state;
	sample_image(&img);
	assert_int_equal(oci_manifest_build(&img, &json, &len, &e), 0);
	assert_int_equal(strlen(json), len);
	assert_int_equal(oci_manifest_parse(json, len, &got, &e), 0);

	assert_desc_equal(&got.config, &img.config);
	assert_int_equal(got.nlayers, img.nlayers);
	for (i = 0; i < img.nlayers; i++) {
		const struct oci_layer *a = &img.layers[i], *b = &got.layers[i];

		assert_desc_equal(&b->blob, &a->blob);
		assert_int_equal(b->has_blocks, a->has_blocks);
		/* Diff ids live in the config, not the manifest. */
		assert_string_equal(b->diff_id, "");
		if (a->has_blocks) {
			assert_desc_equal(&b->index, &a->index);
			assert_desc_equal(&b->data, &a->data);
		} else {
			assert_string_equal(b->index.digest, "");
			assert_string_equal(b->data.digest, "");
			assert_int_equal(b->index.size, 0);
			assert_int_equal(b->data.size, 0);
		}
	}
	/* Only the layer with blocks carries annotations. */
	{
		const char *a = strstr(json, "\"annotations\"");

		assert_non_null(a);
		assert_null(strstr(a + 1, "\"annotations\""));
		assert_true(a < strstr(json, img.layers[1].blob.digest));
	}

	/* The same image gives the same bytes, so the same digest. */
	{
		char *again;
		size_t alen;

		assert_int_equal(oci_manifest_build(&img, &again, &alen, &e),
				 0);
		assert_int_equal(alen, len);
		assert_memory_equal(again, json, len);
		free(again);
	}
	free(json);
	oci_image_free(&got);
	assert_null(got.layers);
	assert_int_equal(got.nlayers, 0);
	oci_image_free(&img);
}

/* Digests spelled out once, so the JSON below reads as JSON. */
#define DIG_1                                                                  \
	"sha256:"                                                              \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define DIG_2                                                                  \
	"sha256:"                                                              \
	"2222222222222222222222222222222222222222222222222222222222222222"
#define DIG_3                                                                  \
	"sha256:"                                                              \
	"3333333333333333333333333333333333333333333333333333333333333333"
#define DIG_A                                                                  \
	"sha256:"                                                              \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIG_B                                                                  \
	"sha256:"                                                              \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIG_C                                                                  \
	"sha256:"                                                              \
	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

#define CONFIG                                                                 \
	"\"config\":{\"mediaType\":\"" OCI_CONFIG_MEDIA_TYPE "\","             \
	"\"digest\":\"" DIG_C "\",\"size\":10}"
/* A manifest around the layers array's contents. */
#define MANIFEST(layers)                                                       \
	"{\"schemaVersion\":2," CONFIG ",\"layers\":[" layers "]}"
/* A gzip layer; size is JSON text, rest more members (",\"k\":v"). */
#define LAYER(digest, size, rest)                                              \
	"{\"mediaType\":\"" OCI_LAYER_GZIP_MEDIA_TYPE                          \
	"\",\"digest\":\"" digest "\",\"size\":" size rest "}"
#define ANN(key, value) "\"" key "\":\"" value "\""
/* Block annotations; each argument one ANN or nothing. */
#define BLOCKS(ix, ixsize, data, datasize)                                     \
	",\"annotations\":{" ix ixsize data datasize "}"
#define IX(d)	    ANN(OCI_ANN_BLOCK_INDEX, d) ","
#define IXSIZE(v)   ANN(OCI_ANN_BLOCK_INDEX_SIZE, v) ","
#define DATA(d)	    ANN(OCI_ANN_BLOCK_DATA, d) ","
#define DATASIZE(v) ANN(OCI_ANN_BLOCK_DATA_SIZE, v)

static void test_manifest_rejects(void **state)
{
	static const struct {
		const char *what, *json;
	} bad[] = {
		{"not JSON", "{\"schemaVersion\":2,\"layers\":["},
		{"plain text", "hello"},
		{"schemaVersion 1",
		 "{\"schemaVersion\":1," CONFIG ",\"layers\":[]}"},
		{"schemaVersion a string",
		 "{\"schemaVersion\":\"2\"," CONFIG ",\"layers\":[]}"},
		{"missing layers", "{\"schemaVersion\":2," CONFIG "}"},
		{"layers not an array",
		 "{\"schemaVersion\":2," CONFIG ",\"layers\":{}}"},
		{"missing config", "{\"schemaVersion\":2,\"layers\":[]}"},
		{"layer digest not sha256",
		 MANIFEST(LAYER("md5:0123456789abcdef0123456789abcdef", "5",
				""))},
		{"layer digest sha512",
		 MANIFEST(LAYER("sha512:" DIG_1, "5", ""))},
		{"layer digest short",
		 MANIFEST(LAYER("sha256:1111111111111111", "5", ""))},
		{"negative size", MANIFEST(LAYER(DIG_1, "-1", ""))},
		{"size a string", MANIFEST(LAYER(DIG_1, "\"5\"", ""))},
		{"second layer bad",
		 MANIFEST(LAYER(DIG_1, "5", "") "," LAYER("sha256:", "5", ""))},
		{"blocks: index digest only",
		 MANIFEST(LAYER(DIG_1, "5",
				",\"annotations\":{" ANN(OCI_ANN_BLOCK_INDEX,
							 DIG_A) "}"))},
		{"blocks: no data digest",
		 MANIFEST(LAYER(
			 DIG_1, "5",
			 BLOCKS(IX(DIG_A), IXSIZE("10"), , DATASIZE("20"))))},
		{"blocks: data digest not sha256",
		 MANIFEST(LAYER(DIG_1, "5",
				BLOCKS(IX(DIG_A), IXSIZE("10"),
				       DATA("sha256:bb"), DATASIZE("20"))))},
		{"blocks: non-numeric size",
		 MANIFEST(LAYER(DIG_1, "5",
				BLOCKS(IX(DIG_A), IXSIZE("10k"), DATA(DIG_B),
				       DATASIZE("20"))))},
		{"blocks: negative size",
		 MANIFEST(LAYER(DIG_1, "5",
				BLOCKS(IX(DIG_A), IXSIZE("10"), DATA(DIG_B),
				       DATASIZE("-20"))))},
		{"blocks: size with a space and a sign",
		 MANIFEST(LAYER(DIG_1, "5",
				BLOCKS(IX(DIG_A), IXSIZE("10"), DATA(DIG_B),
				       DATASIZE(" -20"))))},
		{"blocks: size with a plus sign",
		 MANIFEST(LAYER(DIG_1, "5",
				BLOCKS(IX(DIG_A), IXSIZE("10"), DATA(DIG_B),
				       DATASIZE("+20"))))},
		{"blocks: empty size",
		 MANIFEST(LAYER(DIG_1, "5",
				BLOCKS(IX(DIG_A), IXSIZE("10"), DATA(DIG_B),
				       DATASIZE(""))))},
		{"blocks: size past 2^64",
		 MANIFEST(LAYER(DIG_1, "5",
				BLOCKS(IX(DIG_A), IXSIZE("10"), DATA(DIG_B),
				       DATASIZE("18446744073709551616"))))},
		{"blocks: index size missing",
		 MANIFEST(LAYER(DIG_1, "5",
				",\"annotations\":{" IX(DIG_A) DATA(DIG_B)
					DATASIZE("20") "}"))},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct oci_image img;
		struct err e = {""};
		int ret;

		ret = oci_manifest_parse(bad[i].json, strlen(bad[i].json), &img,
					 &e);
		if (ret != -EBADMSG)
			fail_msg("%s: got %d, expected -EBADMSG", bad[i].what,
				 ret);
		if (!e.msg[0])
			fail_msg("%s: no message", bad[i].what);
		/* Nothing left to free on failure. */
		assert_null(img.layers);
		assert_int_equal(img.nlayers, 0);
	}
}

/* The control: the pieces the rejects are made of do parse. */
static void test_manifest_minimal_accepted(void **state)
{
	static const char json[] = MANIFEST(LAYER(
		DIG_1, "5",
		BLOCKS(IX(DIG_A), IXSIZE("10"), DATA(DIG_B),
		       DATASIZE("18446744073709551615"))) "," LAYER(DIG_2, "0",
								    ""));
	struct oci_image img;
	struct err e = {""};

	(void)state;
	assert_int_equal(oci_manifest_parse(json, strlen(json), &img, &e), 0);
	assert_int_equal(img.nlayers, 2);
	assert_string_equal(img.config.digest, DIG_C);
	assert_int_equal(img.config.size, 10);
	assert_int_equal(img.layers[0].blob.size, 5);
	assert_int_equal(img.layers[0].has_blocks, 1);
	assert_string_equal(img.layers[0].index.digest, DIG_A);
	assert_int_equal(img.layers[0].index.size, 10);
	assert_string_equal(img.layers[0].data.digest, DIG_B);
	assert_true(img.layers[0].data.size == UINT64_MAX);
	assert_string_equal(img.layers[1].blob.digest, DIG_2);
	assert_int_equal(img.layers[1].has_blocks, 0);
	oci_image_free(&img);
}

static void test_manifest_docker_v2(void **state)
{
	static const char json[] =
		"{\n"
		"  \"schemaVersion\": 2,\n"
		"  \"mediaType\": "
		"\"application/vnd.docker.distribution.manifest.v2+json\",\n"
		"  \"config\": {\n"
		"    \"mediaType\": "
		"\"application/vnd.docker.container.image.v1+json\",\n"
		"    \"size\": 7023,\n"
		"    \"digest\": \"" DIG_C "\"\n"
		"  },\n"
		"  \"layers\": [\n"
		"    {\n"
		"      \"mediaType\": \"" OCI_DOCKER_LAYER_MEDIA_TYPE "\",\n"
		"      \"size\": 32654,\n"
		"      \"digest\": \"" DIG_1 "\"\n"
		"    },\n"
		"    {\n"
		"      \"mediaType\": \"" OCI_DOCKER_LAYER_MEDIA_TYPE "\",\n"
		"      \"size\": 16724,\n"
		"      \"digest\": \"" DIG_2 "\"\n"
		"    },\n"
		"    {\n"
		"      \"mediaType\": \"" OCI_DOCKER_LAYER_MEDIA_TYPE "\",\n"
		"      \"size\": 73109,\n"
		"      \"digest\": \"" DIG_3 "\"\n"
		"    }\n"
		"  ]\n"
		"}\n";
	struct oci_image img;
	struct err e = {""};
	unsigned i;

	(void)state;
	if (oci_manifest_parse(json, strlen(json), &img, &e))
		fail_msg("docker v2 manifest refused: %s", e.msg);
	assert_string_equal(img.config.media_type,
			    "application/vnd.docker.container.image.v1+json");
	assert_string_equal(img.config.digest, DIG_C);
	assert_int_equal(img.config.size, 7023);
	assert_int_equal(img.nlayers, 3);
	for (i = 0; i < 3; i++) {
		assert_string_equal(img.layers[i].blob.media_type,
				    OCI_DOCKER_LAYER_MEDIA_TYPE);
		assert_int_equal(img.layers[i].has_blocks, 0);
	}
	assert_string_equal(img.layers[0].blob.digest, DIG_1);
	assert_string_equal(img.layers[2].blob.digest, DIG_3);
	assert_int_equal(img.layers[0].blob.size, 32654);
	assert_int_equal(img.layers[1].blob.size, 16724);
	assert_int_equal(img.layers[2].blob.size, 73109);
	oci_image_free(&img);
}

static void test_config_round_trip(void **state)
{
	struct oci_image img, got, three;
	struct err e = {""};
	char *json;
	size_t len;

	(void)state;
	sample_image(&img);
	assert_int_equal(oci_config_build(&img, &json, &len, &e), 0);
	assert_int_equal(strlen(json), len);

	/* What a client has after reading the manifest: layers, no ids. */
	memset(&got, 0, sizeof(got));
	got.nlayers = 2;
	got.layers = calloc(2, sizeof(*got.layers));
	assert_non_null(got.layers);
	assert_int_equal(oci_config_parse_diff_ids(json, len, &got, &e), 0);
	assert_string_equal(got.layers[0].diff_id, img.layers[0].diff_id);
	assert_string_equal(got.layers[1].diff_id, img.layers[1].diff_id);

	/* Two ids for three layers. */
	memset(&three, 0, sizeof(three));
	three.nlayers = 3;
	three.layers = calloc(3, sizeof(*three.layers));
	assert_non_null(three.layers);
	assert_int_equal(oci_config_parse_diff_ids(json, len, &three, &e),
			 -EBADMSG);
	assert_true(e.msg[0] != '\0');
	oci_image_free(&three);

	/* And two ids for one layer. */
	memset(&e, 0, sizeof(e));
	three.nlayers = 1;
	three.layers = calloc(1, sizeof(*three.layers));
	assert_non_null(three.layers);
	assert_int_equal(oci_config_parse_diff_ids(json, len, &three, &e),
			 -EBADMSG);
	assert_true(e.msg[0] != '\0');
	oci_image_free(&three);
	free(json);

	/* A diff_id that is not a sha256 digest. */
	memset(&e, 0, sizeof(e));
	snprintf(img.layers[1].diff_id, sizeof(img.layers[1].diff_id), "%s",
		 "sha256:xyz");
	assert_int_equal(oci_config_build(&img, &json, &len, &e), 0);
	assert_int_equal(oci_config_parse_diff_ids(json, len, &got, &e),
			 -EBADMSG);
	assert_true(e.msg[0] != '\0');
	free(json);

	oci_image_free(&got);
	oci_image_free(&img);
}

/* Layouts: each test gets DIR/layout under a fresh mkdtemp directory. */
struct tmp {
	char dir[64];
	char layout[128];
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s", "/tmp/test_oci.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->layout, sizeof(t->layout), "%s/layout", t->dir);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	struct stat st;
	int ret;

	ret = nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (!ret && stat(t->dir, &st) == 0)
		ret = -1;
	free(t);
	return ret;
}

static void spill(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_layout_init(void **state)
{
	struct tmp *t = *state;
	struct err e = {""};
	char p[256];
	struct stat st;
	char *b;
	size_t len;

	assert_int_equal(oci_layout_init(t->layout, &e), 0);
	snprintf(p, sizeof(p), "%s/oci-layout", t->layout);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	b = read_text_len(p, &len);
	assert_non_null(strstr(b, "\"imageLayoutVersion\""));
	assert_non_null(strstr(b, "\"1.0.0\""));
	free(b);
	snprintf(p, sizeof(p), "%s/blobs/sha256", t->layout);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	/* Again on the same directory: nothing to do, no error. */
	assert_int_equal(oci_layout_init(t->layout, &e), 0);

	/* A parent that does not exist. */
	snprintf(p, sizeof(p), "%s/no/such", t->dir);
	assert_true(oci_layout_init(p, &e) < 0);
	assert_true(e.msg[0] != '\0');
}

static void test_layout_blobs(void **state)
{
	static const char hello[] = "{\"hello\":\"layout\"}";
	struct tmp *t = *state;
	struct err e = {""};
	char digest[SHA256_OCI_LEN], want[SHA256_OCI_LEN], p[256];
	uint8_t d[SHA256_LEN];
	char *buf, *file;
	size_t len;

	assert_int_equal(oci_layout_init(t->layout, &e), 0);
	assert_int_equal(
		oci_layout_put(t->layout, hello, sizeof(hello) - 1, digest, &e),
		0);
	assert_int_equal(sha256_buf(hello, sizeof(hello) - 1, d), 0);
	assert_string_equal(digest, sha256_oci(d, want));

	/* Under blobs/sha256/<hex of the bytes>, holding the bytes. */
	snprintf(p, sizeof(p), "%s/blobs/sha256/%s", t->layout, want + 7);
	file = read_text_len(p, &len);
	assert_int_equal(len, sizeof(hello) - 1);
	assert_memory_equal(file, hello, len);
	free(file);
	{
		char q[256];

		assert_int_equal(
			oci_layout_blob_path(t->layout, digest, q, sizeof(q)),
			0);
		assert_string_equal(q, p);
		assert_int_equal(oci_layout_blob_path(t->layout, "sha256:ab", q,
						      sizeof(q)),
				 -EINVAL);
	}

	buf = NULL;
	assert_int_equal(
		oci_layout_read_blob(t->layout, digest, &buf, &len, &e), 0);
	assert_int_equal(len, sizeof(hello) - 1);
	assert_memory_equal(buf, hello, len);
	assert_int_equal(buf[len], '\0');
	free(buf);

	/* The empty blob is a blob too. */
	assert_int_equal(oci_layout_put(t->layout, "", 0, digest, &e), 0);
	assert_string_equal(digest, "sha256:e3b0c44298fc1c149afbf4c8996fb924"
				    "27ae41e4649b934ca495991b7852b855");
	assert_int_equal(
		oci_layout_read_blob(t->layout, digest, &buf, &len, &e), 0);
	assert_int_equal(len, 0);
	free(buf);

	/* Altered on disk, same length: refused. */
	spill(p, "{\"hello\":\"LAYOUT\"}", sizeof(hello) - 1);
	memset(&e, 0, sizeof(e));
	buf = (char *)(uintptr_t)1;
	assert_int_equal(oci_layout_read_blob(t->layout, want, &buf, &len, &e),
			 -EBADMSG);
	assert_null(buf);
	assert_true(e.msg[0] != '\0');

	/* Missing: the open fails. */
	digest_of('f', digest);
	memset(&e, 0, sizeof(e));
	assert_int_equal(
		oci_layout_read_blob(t->layout, digest, &buf, &len, &e),
		-ENOENT);
	assert_true(e.msg[0] != '\0');

	/* Not a digest. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(oci_layout_read_blob(t->layout, "sha256:../../etc",
					      &buf, &len, &e),
			 -EINVAL);
	assert_true(e.msg[0] != '\0');
}

static void test_layout_manifests(void **state)
{
	struct tmp *t = *state;
	struct oci_image img;
	struct err e = {""};
	char *json, *m, digest[SHA256_OCI_LEN], p[256];
	size_t len, mlen;
	uint8_t d[SHA256_LEN];

	assert_int_equal(oci_layout_init(t->layout, &e), 0);
	/* No index.json yet. */
	assert_int_equal(
		oci_layout_get_manifest(t->layout, "v1", &m, &mlen, &e),
		-ENOENT);

	sample_image(&img);
	assert_int_equal(oci_manifest_build(&img, &json, &len, &e), 0);
	oci_image_free(&img);
	memset(&e, 0, sizeof(e));
	assert_int_equal(
		oci_layout_set_manifest(t->layout, json, len, "v1", &e), 0);

	/* The manifest is a blob under its own digest. */
	assert_int_equal(sha256_buf(json, len, d), 0);
	sha256_oci(d, digest);
	assert_int_equal(oci_layout_blob_path(t->layout, digest, p, sizeof(p)),
			 0);
	{
		struct stat st;

		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_size, len);
	}

	m = NULL;
	assert_int_equal(
		oci_layout_get_manifest(t->layout, "v1", &m, &mlen, &e), 0);
	assert_int_equal(mlen, len);
	assert_memory_equal(m, json, len);
	assert_int_equal(m[mlen], '\0');
	free(m);

	m = NULL;
	assert_int_equal(
		oci_layout_get_manifest(t->layout, NULL, &m, &mlen, &e), 0);
	assert_int_equal(mlen, len);
	assert_memory_equal(m, json, len);
	free(m);

	memset(&e, 0, sizeof(e));
	assert_int_equal(
		oci_layout_get_manifest(t->layout, "v2", &m, &mlen, &e),
		-ENOENT);
	assert_true(e.msg[0] != '\0');

	/* index.json names the manifest and its tag. */
	{
		char ip[256], *idx;
		size_t ilen;

		snprintf(ip, sizeof(ip), "%s/index.json", t->layout);
		idx = read_text_len(ip, &ilen);
		assert_non_null(strstr(idx, digest));
		assert_non_null(strstr(idx, "\"v1\""));
		assert_non_null(strstr(idx, OCI_MANIFEST_MEDIA_TYPE));
		free(idx);
	}

	/* A manifest blob altered behind the index's back is refused. */
	{
		char *bad = malloc(len);

		assert_non_null(bad);
		memcpy(bad, json, len);
		bad[len - 2] = bad[len - 2] == '0' ? '1' : '0';
		spill(p, bad, len);
		free(bad);
		memset(&e, 0, sizeof(e));
		assert_int_equal(
			oci_layout_get_manifest(t->layout, "v1", &m, &mlen, &e),
			-EBADMSG);
		assert_true(e.msg[0] != '\0');
	}
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_round_trip),
		cmocka_unit_test(test_manifest_rejects),
		cmocka_unit_test(test_manifest_minimal_accepted),
		cmocka_unit_test(test_manifest_docker_v2),
		cmocka_unit_test(test_config_round_trip),
		cmocka_unit_test_setup_teardown(test_layout_init, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_layout_blobs, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_layout_manifests,
						tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

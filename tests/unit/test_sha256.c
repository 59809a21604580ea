/* Unit tests for lib/sha256.c: the FIPS 180-2 vectors, incremental against
 * one-shot digests, context release, and the OCI spelling both ways. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sha256.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct vector {
	const char *msg;
	const char *oci;
};

static const struct vector vectors[] = {
	{"",
	 "sha256:"
	 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"abc",
	 "sha256:"
	 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	 "sha256:"
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void test_known_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(vectors); i++) {
		const struct vector *v = &vectors[i];
		uint8_t d[SHA256_LEN], d2[SHA256_LEN];
		char oci[SHA256_OCI_LEN];
		struct sha256_ctx c;

		assert_int_equal(sha256_buf(v->msg, strlen(v->msg), d), 0);
		assert_string_equal(sha256_oci(d, oci), v->oci);

		assert_int_equal(sha256_init(&c), 0);
		assert_int_equal(sha256_update(&c, v->msg, strlen(v->msg)), 0);
		assert_int_equal(sha256_final(&c, d2), 0);
		assert_memory_equal(d, d2, SHA256_LEN);
	}
}

/* The empty buffer may come as NULL (an empty layer's data blob). */
static void test_empty_null_buffer(void **state)
{
	uint8_t d[SHA256_LEN];
	char oci[SHA256_OCI_LEN];
	struct sha256_ctx c;

	(void)state;
	assert_int_equal(sha256_buf(NULL, 0, d), 0);
	assert_string_equal(sha256_oci(d, oci), vectors[0].oci);
	assert_int_equal(sha256_init(&c), 0);
	assert_int_equal(sha256_update(&c, NULL, 0), 0);
	assert_int_equal(sha256_final(&c, d), 0);
	assert_string_equal(sha256_oci(d, oci), vectors[0].oci);
}

/* FIPS 180-2's third vector: a million 'a', fed in uneven pieces. */
static void test_million_a(void **state)
{
	static char a[1000];
	uint8_t d[SHA256_LEN];
	char oci[SHA256_OCI_LEN];
	struct sha256_ctx c;
	size_t done = 0, step = 1;

	(void)state;
	memset(a, 'a', sizeof(a));
	assert_int_equal(sha256_init(&c), 0);
	while (done < 1000000) {
		size_t n = step % sizeof(a) + 1;

		if (n > 1000000 - done)
			n = 1000000 - done;
		assert_int_equal(sha256_update(&c, a, n), 0);
		done += n;
		step = step * 7 + 3;
	}
	assert_int_equal(sha256_final(&c, d), 0);
	assert_string_equal(sha256_oci(d, oci),
			    "sha256:"
			    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e04"
			    "6d39ccc7112cd0");
}

/* Every split point of a buffer, including empty pieces, gives the
 * one-shot digest; and a changed byte gives another. */
static void test_incremental_equals_oneshot(void **state)
{
	uint8_t buf[300], want[SHA256_LEN], got[SHA256_LEN];
	uint32_t x = 12345;
	size_t i, cut;

	(void)state;
	for (i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (uint8_t)(x >> 16);
	}
	assert_int_equal(sha256_buf(buf, sizeof(buf), want), 0);
	for (cut = 0; cut <= sizeof(buf); cut++) {
		struct sha256_ctx c;

		assert_int_equal(sha256_init(&c), 0);
		assert_int_equal(sha256_update(&c, buf, cut), 0);
		assert_int_equal(sha256_update(&c, buf + cut, 0), 0);
		assert_int_equal(
			sha256_update(&c, buf + cut, sizeof(buf) - cut), 0);
		assert_int_equal(sha256_final(&c, got), 0);
		if (memcmp(got, want, SHA256_LEN) != 0)
			fail_msg("split at %zu: digest differs", cut);
	}

	buf[150] ^= 1;
	assert_int_equal(sha256_buf(buf, sizeof(buf), got), 0);
	assert_memory_not_equal(got, want, SHA256_LEN);
}

/* final and abort release the context (LeakSanitizer would say otherwise)
 * and leave it unusable rather than dangling. */
static void test_release(void **state)
{
	struct sha256_ctx c;
	uint8_t d[SHA256_LEN];

	(void)state;
	assert_int_equal(sha256_init(&c), 0);
	assert_non_null(c.evp);
	assert_int_equal(sha256_update(&c, "x", 1), 0);
	sha256_abort(&c);
	assert_null(c.evp);
	sha256_abort(&c); /* twice is harmless */
	assert_int_equal(sha256_update(&c, "x", 1), -EINVAL);
	assert_int_equal(sha256_final(&c, d), -EINVAL);

	assert_int_equal(sha256_init(&c), 0);
	assert_int_equal(sha256_final(&c, d), 0);
	assert_null(c.evp);
	assert_int_equal(sha256_final(&c, d), -EINVAL);
}

static void test_oci_round_trip(void **state)
{
	uint8_t d[SHA256_LEN], back[SHA256_LEN];
	char oci[SHA256_OCI_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < SHA256_LEN; i++)
		d[i] = (uint8_t)(i * 37 + 0xa5);
	d[0] = 0x00;
	d[1] = 0xff;
	assert_ptr_equal(sha256_oci(d, oci), oci);
	assert_int_equal(strlen(oci), SHA256_OCI_LEN - 1);
	assert_memory_equal(oci, "sha256:00ff", 11);
	assert_int_equal(sha256_parse_oci(oci, back), 0);
	assert_memory_equal(d, back, SHA256_LEN);

	for (i = 0; i < ARRAY_SIZE(vectors); i++) {
		assert_int_equal(sha256_parse_oci(vectors[i].oci, back), 0);
		assert_string_equal(sha256_oci(back, oci), vectors[i].oci);
	}
}

static void test_oci_rejects(void **state)
{
	static const char hex64[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e464"
				    "9b934ca495991b7852b855";
	char bad[128];
	const char *cases[] = {
		"",
		"sha256",
		"sha256:",
		"sha256:e3b0",
		"SHA256:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"55",
		"sha512:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"55",
		"sha256:"
		"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B8"
		"55",
		"sha256:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"5",
		"sha256:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"550",
		"sha256:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"5g",
		"sha256:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"55\n",
		" sha256:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"55",
		"sha256: "
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"5",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"55",
	};
	uint8_t out[SHA256_LEN], zero[SHA256_LEN] = {0};
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(out, 0, sizeof(out));
		if (sha256_parse_oci(cases[i], out) != -EINVAL)
			fail_msg("accepted \"%s\"", cases[i]);
		if (memcmp(out, zero, SHA256_LEN) != 0)
			fail_msg("\"%s\": wrote the output on error", cases[i]);
	}
	assert_int_equal(sha256_parse_oci(NULL, out), -EINVAL);

	/* Every proper prefix of a good digest, and every single digit made
	 * uppercase where that changes it. */
	n = (size_t)snprintf(bad, sizeof(bad), "sha256:%s", hex64);
	assert_int_equal(n, SHA256_OCI_LEN - 1);
	assert_int_equal(sha256_parse_oci(bad, out), 0);
	for (i = 0; i < n; i++) {
		char c = bad[i];

		bad[i] = '\0';
		if (sha256_parse_oci(bad, out) != -EINVAL)
			fail_msg("accepted a digest cut to %zu characters", i);
		bad[i] = c;
		if (i >= 7 && c >= 'a' && c <= 'f') {
			bad[i] = (char)(c - 'a' + 'A');
			if (sha256_parse_oci(bad, out) != -EINVAL)
				fail_msg("accepted uppercase at %zu", i);
			bad[i] = c;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_empty_null_buffer),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_incremental_equals_oneshot),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_oci_round_trip),
		cmocka_unit_test(test_oci_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

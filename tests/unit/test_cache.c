/* Unit tests of agent/cache.c: trust from the pinned manifest digest down
 * to every block, meta and block states, and block lifetimes under
 * references (an evicted block still queued for a child stays valid). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "agent_image.h"
#include "cache.h"

static struct test_image T, FAKE;

static int setup(void **state)
{
	(void)state;
	if (ti_build(&T, 1) || ti_build(&FAKE, 2))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ti_free(&T);
	ti_free(&FAKE);
	return 0;
}

static void pinned(struct cache *c, const struct test_image *t)
{
	char ref[256];
	struct err e = {""};

	snprintf(ref, sizeof(ref), "198.18.0.2:5000/fn/x@%s",
		 t->manifest_digest);
	assert_int_equal(cache_init(c, ref, &e), 0);
}

static void full_meta(struct cache *c, const struct test_image *t)
{
	struct err e = {""};

	assert_int_equal(
		cache_set_manifest(c, t->manifest, t->manifest_len, &e), 0);
	assert_int_equal(cache_set_config(c, t->config, t->config_len, &e), 0);
	assert_int_equal(cache_set_index(c, t->index, t->index_len, &e), 0);
	assert_int_equal(c->meta, CACHE_META_HELD);
}

static void test_meta_states(void **state)
{
	struct cache c;
	struct err e = {""};

	(void)state;
	pinned(&c, &T);
	assert_string_equal(c.pin, T.manifest_digest);
	assert_int_equal(c.meta, CACHE_META_NONE);
	assert_string_equal(cache_data_digest(&c), "");
	assert_int_equal(cache_set_config(&c, T.config, T.config_len, &e),
			 -ENOENT);
	assert_int_equal(cache_set_manifest(&c, T.manifest, T.manifest_len, &e),
			 0);
	assert_int_equal(c.meta, CACHE_META_MANIFEST);
	assert_int_equal(cache_set_manifest(&c, T.manifest, T.manifest_len, &e),
			 -EALREADY);
	assert_int_equal(cache_set_index(&c, T.index, T.index_len, &e), 0);
	assert_int_equal(c.meta, CACHE_META_MANIFEST);
	assert_int_equal(cache_set_config(&c, T.config, T.config_len, &e), 0);
	assert_int_equal(c.meta, CACHE_META_HELD);
	assert_int_equal(c.ix.nblocks, TI_NBLK);
	assert_int_equal(c.is_startup[5], 1);
	assert_int_equal(c.is_startup[0], 0);
	cache_free(&c);
}

/* Issue 10: a parent served a whole consistent fake image (its own
 * manifest, config, index and blocks) and the child started it. */
static void test_fake_image_refused_by_the_pin(void **state)
{
	struct cache c;
	struct err e = {""};

	(void)state;
	pinned(&c, &T);
	assert_int_equal(
		cache_set_manifest(&c, FAKE.manifest, FAKE.manifest_len, &e),
		-EBADMSG);
	assert_non_null(strstr(e.msg, FAKE.manifest_digest));
	assert_non_null(strstr(e.msg, T.manifest_digest));
	assert_int_equal(c.meta, CACHE_META_NONE);
	/* Refused, and nothing half-known: the real one is taken next. */
	full_meta(&c, &T);
	cache_free(&c);
}

/* Issue 10: one malformed MANIFEST left the image half-known for good. */
static void test_bad_manifest_leaves_nothing(void **state)
{
	struct cache c;
	struct err e = {""};

	(void)state;
	assert_int_equal(cache_init(&c, "h:1/fn/x:v1", &e), 0);
	assert_string_equal(c.pin, "");
	assert_int_equal(cache_set_manifest(&c, "{not json", 9, &e), -EBADMSG);
	assert_int_equal(c.meta, CACHE_META_NONE);
	full_meta(&c, &T);
	cache_free(&c);
}

static void test_config_and_index_checked_against_manifest(void **state)
{
	struct cache c;
	struct err e = {""};

	(void)state;
	pinned(&c, &T);
	assert_int_equal(cache_set_manifest(&c, T.manifest, T.manifest_len, &e),
			 0);
	assert_int_equal(cache_set_index(&c, FAKE.index, FAKE.index_len, &e),
			 -EBADMSG);
	assert_int_equal(c.meta, CACHE_META_NONE);
	assert_int_equal(cache_set_manifest(&c, T.manifest, T.manifest_len, &e),
			 0);
	assert_int_equal(cache_set_config(&c, FAKE.config, FAKE.config_len, &e),
			 -EBADMSG);
	assert_int_equal(c.meta, CACHE_META_NONE);
	cache_free(&c);
}

static void test_blocks_verified(void **state)
{
	struct cache c;
	struct err e = {""};
	const uint8_t *p;
	size_t n;
	uint32_t b;

	(void)state;
	pinned(&c, &T);
	p = ti_block(&T, 0, &n);
	assert_int_equal(cache_block_put(&c, 0, p, n, &e), -ERANGE);
	full_meta(&c, &T);
	p = ti_block(&FAKE, 5, &n);
	assert_int_equal(cache_block_put(&c, 5, p, n, &e), -EBADMSG);
	assert_int_equal(c.state[5], CACHE_BLOCK_ABSENT);
	assert_int_equal(cache_block_put(&c, TI_NBLK, p, n, &e), -ERANGE);
	cache_want(&c, 5);
	assert_int_equal(c.state[5], CACHE_BLOCK_WANTED);
	for (b = 0; b < TI_NBLK; b++) {
		p = ti_block(&T, b, &n);
		assert_int_equal(cache_block_put(&c, b, p, n, &e), 0);
		assert_int_equal(c.state[b], CACHE_BLOCK_PRESENT);
	}
	assert_int_equal(cache_block_put(&c, 1, p, n, &e), -EALREADY);
	assert_int_equal(c.npresent, TI_NBLK);
	assert_true(cache_startup_complete(&c));
	cache_free(&c);
}

/* Issue 10: RELEASE freed blocks still queued by reference for a slow
 * child (heap use-after-free under ASan). A reference outlives eviction. */
static void test_evicted_block_outlives_its_reference(void **state)
{
	struct cache c;
	struct err e = {""};
	struct cache_buf *held;
	const uint8_t *p;
	size_t n;

	(void)state;
	pinned(&c, &T);
	full_meta(&c, &T);
	p = ti_block(&T, 3, &n);
	assert_int_equal(cache_block_put(&c, 3, p, n, &e), 0);
	held = cache_buf_get(cache_block(&c, 3));
	assert_int_equal(held->refs, 2);
	assert_int_equal(cache_evict(&c), 1);
	assert_null(cache_block(&c, 3));
	assert_int_equal(c.state[3], CACHE_BLOCK_ABSENT);
	assert_int_equal(c.npresent, 0);
	/* Still valid: what a connection would write now. */
	assert_int_equal(held->refs, 1);
	assert_memory_equal(held->data, p, n);
	cache_buf_put(held);
	/* Fetched again after the eviction. */
	assert_int_equal(cache_block_put(&c, 3, p, n, &e), 0);
	cache_free(&c);
}

static void test_rewant(void **state)
{
	struct cache c;

	(void)state;
	pinned(&c, &T);
	full_meta(&c, &T);
	cache_want(&c, 2);
	c.state[2] = CACHE_BLOCK_REQUESTED;
	cache_rewant(&c);
	assert_int_equal(c.state[2], CACHE_BLOCK_WANTED);
	cache_free(&c);
}

static void test_bad_pin(void **state)
{
	struct cache c;
	struct err e = {""};

	(void)state;
	assert_int_equal(cache_init(&c, "h:1/fn/x@sha256:12", &e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_states),
		cmocka_unit_test(test_fake_image_refused_by_the_pin),
		cmocka_unit_test(test_bad_manifest_leaves_nothing),
		cmocka_unit_test(
			test_config_and_index_checked_against_manifest),
		cmocka_unit_test(test_blocks_verified),
		cmocka_unit_test(test_evicted_block_outlives_its_reference),
		cmocka_unit_test(test_rewant),
		cmocka_unit_test(test_bad_pin),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

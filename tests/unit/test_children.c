/* Unit tests of agent/children.c over loopback: blocks served by
 * reference from a cache (and still right after the cache evicts them),
 * requests waiting for meta and for blocks answered when they come, the
 * per-child caps, the connection cap, and accept() out of descriptors not
 * spinning the loop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include "agent_image.h"
#include "children.h"
#include "conn.h"
#include "fake_peer.h"

static struct test_image T;

struct world {
	struct evloop *l;
	int lfd;
	uint16_t port;
	struct cache c;
	struct children *cs;
	int wanted;
	uint64_t served;
};

static struct cache *w_by_ref(void *arg, const struct proto_str *ref)
{
	struct world *w = arg;

	return strlen(w->c.ref) == ref->len &&
			       !memcmp(w->c.ref, ref->s, ref->len)
		       ? &w->c
		       : NULL;
}

static struct cache *w_by_digest(void *arg, const struct proto_str *d)
{
	struct world *w = arg;
	const char *z[3] = {cache_config_digest(&w->c),
			    cache_index_digest(&w->c),
			    cache_data_digest(&w->c)};
	int i;

	for (i = 0; i < 3; i++)
		if (z[i][0] && strlen(z[i]) == d->len &&
		    !memcmp(z[i], d->s, d->len))
			return &w->c;
	return NULL;
}

static void w_wanted(void *arg, struct cache *c)
{
	(void)c;
	((struct world *)arg)->wanted++;
}

static void w_served(void *arg, struct cache *c, uint64_t bytes)
{
	(void)c;
	((struct world *)arg)->served += bytes;
}

static const struct children_ops ops = {w_by_ref, w_by_digest, w_wanted,
					w_served};

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	return ti_build(&T, 1);
}

static int teardown(void **state)
{
	(void)state;
	ti_free(&T);
	return 0;
}

static void world_up(struct world *w, unsigned max_conns)
{
	struct err e = {""};
	char ref[200];

	memset(w, 0, sizeof(*w));
	assert_int_equal(evloop_new(&w->l), 0);
	w->lfd = conn_listen(0x7f000001, 0, 16, &e);
	assert_true(w->lfd >= 0);
	{
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);

		assert_int_equal(
			getsockname(w->lfd, (struct sockaddr *)&sa, &sl), 0);
		w->port = ntohs(sa.sin_port);
	}
	snprintf(ref, sizeof(ref), "h:1/fn/x@%s", T.manifest_digest);
	assert_int_equal(cache_init(&w->c, ref, &e), 0);
	assert_int_equal(
		children_start(w->l, w->lfd, &ops, w, max_conns, &w->cs), 0);
}

static void world_meta(struct world *w)
{
	struct err e = {""};

	assert_int_equal(
		cache_set_manifest(&w->c, T.manifest, T.manifest_len, &e), 0);
	assert_int_equal(cache_set_config(&w->c, T.config, T.config_len, &e),
			 0);
	assert_int_equal(cache_set_index(&w->c, T.index, T.index_len, &e), 0);
	children_meta_ready(w->cs, &w->c);
}

static void world_block(struct world *w, uint32_t b)
{
	struct err e = {""};
	const uint8_t *p;
	size_t n;

	p = ti_block(&T, b, &n);
	assert_int_equal(cache_block_put(&w->c, b, p, n, &e), 0);
	children_block_ready(w->cs, &w->c, b);
}

static void world_down(struct world *w)
{
	children_free(w->cs);
	cache_free(&w->c);
	close(w->lfd);
	evloop_free(w->l);
}

/* The digest of T's data blob, before any cache knows it. */
static const char *data_digest;
static const char *cache_data_digest_of_test(void)
{
	return data_digest;
}

static int ask_block(int fd, uint32_t id, uint32_t b, uint32_t count)
{
	struct proto_msg m = {
		.type = PROTO_GET_BLOCK, .id = id, .block = b, .count = count};

	m.digest = proto_str(cache_data_digest_of_test());
	return fp_write(fd, &m);
}

static void expect_block(int fd, uint32_t id, uint32_t b)
{
	static uint8_t buf[1 << 16];
	struct proto_msg m;
	struct err e;

	assert_int_equal(fp_read(fd, buf, sizeof(buf), 1000, &m), 0);
	assert_int_equal(m.type, PROTO_BLOCK);
	assert_int_equal(m.id, id);
	assert_int_equal(m.block, b);
	assert_int_equal(
		blockimg_block_verify(&T.ix, b, m.data, m.data_len, &e), 0);
}

static void test_waits_for_meta_then_blocks(void **state)
{
	static uint8_t buf[1 << 16];
	struct world w;
	struct proto_msg m = {.type = PROTO_GET_MANIFEST, .id = 3};
	struct oci_image img;
	struct err e;
	int fd;

	(void)state;
	assert_int_equal(
		oci_manifest_parse(T.manifest, T.manifest_len, &img, &e), 0);
	data_digest = img.layers[0].data.digest;
	world_up(&w, 0);
	fd = fp_connect(w.port);
	assert_true(fd >= 0);
	m.image = proto_str(w.c.ref);
	assert_int_equal(fp_write(fd, &m), 0);
	/* A run of 3 before the meta: it waits. */
	assert_int_equal(ask_block(fd, 7, 1, 3), 0);
	fp_pump(w.l, 50);
	world_meta(&w);
	fp_pump(w.l, 50);
	assert_int_equal(fp_read(fd, buf, sizeof(buf), 1000, &m), 0);
	assert_int_equal(m.type, PROTO_MANIFEST);
	assert_int_equal(m.id, 3);
	assert_memory_equal(m.data, T.manifest, T.manifest_len);
	assert_true(w.wanted > 0);
	assert_int_equal(w.c.state[2], CACHE_BLOCK_WANTED);
	/* Store and forward, each with the run's id. */
	world_block(&w, 2);
	world_block(&w, 1);
	world_block(&w, 3);
	fp_pump(w.l, 50);
	expect_block(fd, 7, 2);
	expect_block(fd, 7, 1);
	expect_block(fd, 7, 3);
	/* Out of range: ERROR, not silence. */
	assert_int_equal(ask_block(fd, 8, TI_NBLK, 0), 0);
	fp_pump(w.l, 50);
	assert_int_equal(fp_read(fd, buf, sizeof(buf), 1000, &m), 0);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_int_equal(m.id, 8);
	assert_int_equal(m.error, -ENOENT);
	close(fd);
	fp_pump(w.l, 50);
	world_down(&w);
	oci_image_free(&img);
}

/* Issue 10, high: RELEASE freed blocks still queued for a slow child. The
 * child reads nothing while a block is queued, the cache evicts it, then
 * the child reads: the bytes are the block's (ASan would see a freed
 * buffer otherwise). */
static void test_evicted_while_queued(void **state)
{
	struct world w;
	struct oci_image img;
	struct err e;
	int fd, rcv = 4096, i;

	(void)state;
	assert_int_equal(
		oci_manifest_parse(T.manifest, T.manifest_len, &img, &e), 0);
	data_digest = img.layers[0].data.digest;
	world_up(&w, 0);
	world_meta(&w);
	for (i = 0; i < (int)TI_NBLK; i++)
		world_block(&w, (uint32_t)i);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	{
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons(w.port),
					 .sin_addr.s_addr =
						 htonl(INADDR_LOOPBACK)};

		assert_int_equal(
			connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	for (i = 0; i < 200; i++)
		assert_int_equal(ask_block(fd, 100 + (uint32_t)i,
					   (uint32_t)i % TI_NBLK, 0),
				 0);
	fp_pump(w.l, 100);
	assert_int_equal(cache_evict(&w.c), TI_NBLK);
	for (i = 0; i < 200; i++) {
		fp_pump(w.l, 1);
		expect_block(fd, 100 + (uint32_t)i, (uint32_t)i % TI_NBLK);
	}
	close(fd);
	fp_pump(w.l, 20);
	world_down(&w);
	oci_image_free(&img);
}

/* Issue 10, medium: waiters with no cap. One child's flood is refused
 * with ERROR -ENOBUFS past its cap, and another child is still served. */
static void test_waiters_capped_per_child(void **state)
{
	static uint8_t buf[1 << 16];
	struct world w;
	struct oci_image img;
	struct proto_msg m;
	struct err e;
	int fd, fd2, i, enobufs = 0;

	(void)state;
	assert_int_equal(
		oci_manifest_parse(T.manifest, T.manifest_len, &img, &e), 0);
	data_digest = img.layers[0].data.digest;
	world_up(&w, 0);
	fd = fp_connect(w.port);
	fd2 = fp_connect(w.port);
	/* Before the meta: at most CHILDREN_MAX_META_WAITS wait. */
	for (i = 0; i < CHILDREN_MAX_META_WAITS + 10; i++)
		assert_int_equal(ask_block(fd, (uint32_t)i, 0, 0), 0);
	assert_int_equal(ask_block(fd2, 999, 4, 0), 0);
	fp_pump(w.l, 100);
	for (i = 0; i < 10; i++) {
		assert_int_equal(fp_read(fd, buf, sizeof(buf), 1000, &m), 0);
		assert_int_equal(m.type, PROTO_ERROR);
		if (m.error == -ENOBUFS)
			enobufs++;
	}
	assert_int_equal(enobufs, 10);
	world_meta(&w);
	world_block(&w, 4);
	fp_pump(w.l, 50);
	expect_block(fd2, 999, 4);
	close(fd);
	close(fd2);
	fp_pump(w.l, 50);
	world_down(&w);
	oci_image_free(&img);
}

/* More connections than the cap are closed at once. */
static void test_connection_cap(void **state)
{
	struct world w;
	char c;
	int fds[3], i;

	(void)state;
	world_up(&w, 2);
	for (i = 0; i < 3; i++) {
		fds[i] = fp_connect(w.port);
		assert_true(fds[i] >= 0);
		fp_pump(w.l, 20);
	}
	assert_int_equal(children_count(w.cs), 2);
	assert_int_equal(read(fds[2], &c, 1), 0); /* closed by the agent */
	for (i = 0; i < 3; i++)
		close(fds[i]);
	fp_pump(w.l, 20);
	assert_int_equal(children_count(w.cs), 0);
	world_down(&w);
}

/* Issue 10, low: on EMFILE the level-triggered listening socket spun the
 * loop. With no descriptor left, a pending connection must not wake the
 * loop over and over: the socket is left unwatched for a moment. */
static void test_emfile_does_not_spin(void **state)
{
	struct world w;
	struct rlimit old, low;
	struct timespec t0, t1;
	long cpu_ms;
	int fd, spare[64], n = 0;

	(void)state;
	world_up(&w, 0);
	fd = fp_connect(w.port);
	assert_true(fd >= 0);
	getrlimit(RLIMIT_NOFILE, &old);
	/* Use up every descriptor. */
	low = old;
	low.rlim_cur = (rlim_t)fd + 8;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 64 && (spare[n] = dup(0)) >= 0)
		n++;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	fp_pump(w.l, 300);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	assert_int_equal(children_count(w.cs), 0);
	/* Spinning would burn most of the 300 ms. */
	cpu_ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		 (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(cpu_ms < 100);
	while (n > 0)
		close(spare[--n]);
	setrlimit(RLIMIT_NOFILE, &old);
	/* Descriptors again: accepted after the pause. */
	fp_pump(w.l, 300);
	assert_int_equal(children_count(w.cs), 1);
	close(fd);
	fp_pump(w.l, 20);
	world_down(&w);
}

/* --- lies (lie.h) ------------------------------------------------------ */

/* The names and numbers a harness and --lie use. */
static void test_lie_names(void **state)
{
	enum lie_mode m;
	int i;

	(void)state;
	for (i = LIE_NONE; i < LIE_MAX; i++) {
		char num[16];

		assert_int_equal(lie_parse(lie_name(i), &m), 0);
		assert_int_equal(m, i);
		snprintf(num, sizeof(num), "%d", i);
		assert_int_equal(lie_parse(num, &m), 0);
		assert_int_equal(m, i);
	}
	assert_int_equal(LIE_SLOW, 3); /* a harness may send the numbers */
	assert_int_equal(lie_parse("", &m), -EINVAL);
	assert_int_equal(lie_parse("5", &m), -EINVAL);
	assert_int_equal(lie_parse("-1", &m), -EINVAL);
	assert_int_equal(lie_parse("slowly", &m), -EINVAL);
	assert_string_equal(lie_name(LIE_MAX), "?");
	assert_string_equal(lie_name(-1), "?");
}

/* A world with T's meta and every block held, lying as mode says; fd a
 * child of it. */
static int lying_world(struct world *w, struct oci_image *img,
		       enum lie_mode mode)
{
	struct err e;
	uint32_t b;

	assert_int_equal(
		oci_manifest_parse(T.manifest, T.manifest_len, img, &e), 0);
	data_digest = img->layers[0].data.digest;
	world_up(w, 0);
	world_meta(w);
	for (b = 0; b < TI_NBLK; b++)
		world_block(w, b);
	children_set_lie(w->cs, mode);
	return fp_connect(w->port);
}

static void lying_down(struct world *w, struct oci_image *img, int fd)
{
	close(fd);
	fp_pump(w->l, 20);
	world_down(w);
	oci_image_free(img);
}

static void ask(int fd, enum proto_type type, uint32_t id, const char *key,
		uint32_t block)
{
	struct proto_msg m = {.type = type, .id = id, .block = block};

	if (type == PROTO_GET_MANIFEST)
		m.image = proto_str(key);
	else
		m.digest = proto_str(key);
	assert_int_equal(fp_write(fd, &m), 0);
}

/* Lets the world answer, then reads one reply, of this type; m points
 * into a buffer the next call reuses. */
static void reply(struct world *w, int fd, enum proto_type type,
		  struct proto_msg *m)
{
	static uint8_t buf[1 << 16];

	fp_pump(w->l, 50);
	assert_int_equal(fp_read(fd, buf, sizeof(buf), 1000, m), 0);
	assert_int_equal(m->type, type);
}

static void digest_is(const void *p, size_t n, const char *want)
{
	uint8_t d[SHA256_LEN];
	char got[SHA256_OCI_LEN];

	assert_int_equal(sha256_buf(p, n, d), 0);
	assert_string_equal(sha256_oci(d, got), want);
}

/* LIE_FAKE: a child that checks only that the pieces fit together (not
 * the pinned digest) gets a whole image: a manifest other than the
 * pinned one, whose config and index hash to what it names, and blocks,
 * asked by its data digest, that verify against that index and
 * decompress; the start-up set is the real one's. Asked by the real
 * digests, the fake's documents come too. */
static void test_fake_is_consistent(void **state)
{
	struct oci_image img, fimg;
	struct blockimg_index fix;
	struct world w;
	struct proto_msg m;
	struct err e;
	uint8_t out[TI_BS];
	uint32_t b;
	int fd;

	(void)state;
	fd = lying_world(&w, &img, LIE_FAKE);
	assert_true(fd >= 0);
	ask(fd, PROTO_GET_MANIFEST, 1, w.c.ref, 0);
	reply(&w, fd, PROTO_MANIFEST, &m);
	assert_false(m.data_len == T.manifest_len &&
		     !memcmp(m.data, T.manifest, m.data_len));
	assert_int_equal(
		oci_manifest_parse((const char *)m.data, m.data_len, &fimg, &e),
		0);
	assert_string_not_equal(fimg.config.digest, img.config.digest);
	assert_string_not_equal(fimg.layers[0].index.digest,
				img.layers[0].index.digest);
	assert_string_not_equal(fimg.layers[0].data.digest,
				img.layers[0].data.digest);

	ask(fd, PROTO_GET_BLOB, 2, fimg.config.digest, 0);
	reply(&w, fd, PROTO_BLOB, &m);
	digest_is(m.data, m.data_len, fimg.config.digest);
	/* Its config names its layer, not the real one. */
	assert_int_equal(oci_config_parse_diff_ids((const char *)m.data,
						   m.data_len, &fimg, &e),
			 0);
	assert_int_equal(
		oci_config_parse_diff_ids(T.config, T.config_len, &img, &e), 0);
	assert_string_not_equal(fimg.layers[0].diff_id, img.layers[0].diff_id);

	ask(fd, PROTO_GET_BLOB, 3, fimg.layers[0].index.digest, 0);
	reply(&w, fd, PROTO_BLOB, &m);
	digest_is(m.data, m.data_len, fimg.layers[0].index.digest);
	assert_int_equal(blockimg_index_decode(m.data, m.data_len, &fix, &e),
			 0);
	assert_int_equal(fix.nblocks, T.ix.nblocks);
	assert_int_equal(fix.data_size, fimg.layers[0].data.size);
	assert_int_equal(fix.nstartup, T.ix.nstartup);
	assert_memory_equal(fix.startup, T.ix.startup,
			    T.ix.nstartup * sizeof(*fix.startup));

	for (b = 0; b < TI_NBLK; b++)
		ask(fd, PROTO_GET_BLOCK, 10 + b, fimg.layers[0].data.digest, b);
	for (b = 0; b < TI_NBLK; b++) {
		reply(&w, fd, PROTO_BLOCK, &m);
		assert_int_equal(m.block, b);
		assert_int_equal(blockimg_block_decompress(
					 &fix, NULL, b, m.data, m.data_len, out,
					 sizeof(out), &e),
				 0);
		/* ... and it is not the real block. */
		assert_int_not_equal(
			blockimg_block_verify(&T.ix, b, m.data, m.data_len, &e),
			0);
	}

	/* By the real index's digest: the fake's index all the same. */
	ask(fd, PROTO_GET_BLOB, 4, img.layers[0].index.digest, 0);
	reply(&w, fd, PROTO_BLOB, &m);
	digest_is(m.data, m.data_len, fimg.layers[0].index.digest);
	blockimg_index_free(&fix);
	oci_image_free(&fimg);
	lying_down(&w, &img, fd);
}

/* LIE_CORRUPT: blocks of the right length whose hash fails; the meta is
 * honest. Honest again, the same block verifies. */
static void test_corrupt_blocks(void **state)
{
	static uint8_t buf[1 << 16];
	struct oci_image img;
	struct world w;
	struct proto_msg m;
	struct err e;
	int fd;

	(void)state;
	fd = lying_world(&w, &img, LIE_CORRUPT);
	ask(fd, PROTO_GET_MANIFEST, 1, w.c.ref, 0);
	assert_int_equal(ask_block(fd, 2, 5, 0), 0);
	reply(&w, fd, PROTO_MANIFEST, &m);
	assert_memory_equal(m.data, T.manifest, T.manifest_len);
	assert_int_equal(fp_read(fd, buf, sizeof(buf), 1000, &m), 0);
	assert_int_equal(m.type, PROTO_BLOCK);
	assert_int_equal(m.data_len, T.ix.blocks[5].clen);
	assert_int_equal(
		blockimg_block_verify(&T.ix, 5, m.data, m.data_len, &e),
		-EBADMSG);
	children_set_lie(w.cs, LIE_NONE);
	assert_int_equal(ask_block(fd, 3, 5, 0), 0);
	fp_pump(w.l, 50);
	expect_block(fd, 3, 5);
	lying_down(&w, &img, fd);
}

/* LIE_SILENT: requests read, nothing answered, the connection kept. */
static void test_silent_answers_nothing(void **state)
{
	static uint8_t buf[1 << 16];
	struct oci_image img;
	struct world w;
	struct proto_msg m;
	int fd;

	(void)state;
	fd = lying_world(&w, &img, LIE_SILENT);
	ask(fd, PROTO_GET_MANIFEST, 1, w.c.ref, 0);
	assert_int_equal(ask_block(fd, 2, 5, 0), 0);
	assert_int_equal(ask_block(fd, 3, TI_NBLK, 0), 0); /* not even ERROR */
	fp_pump(w.l, 300);
	assert_int_equal(fp_read(fd, buf, sizeof(buf), 100, &m), -1);
	assert_int_equal(children_count(w.cs), 1);
	children_set_lie(w.cs, LIE_NONE);
	assert_int_equal(ask_block(fd, 4, 5, 0), 0);
	fp_pump(w.l, 50);
	expect_block(fd, 4, 5);
	lying_down(&w, &img, fd);
}

/* LIE_SLOW: one reply each LIE_SLOW_MS, in the order asked; made honest,
 * what it held back goes at once. */
static void test_slow_one_reply_at_a_time(void **state)
{
	struct oci_image img;
	struct world w;
	uint64_t t0;
	int fd;

	(void)state;
	fd = lying_world(&w, &img, LIE_SLOW);
	t0 = evloop_now_ns();
	assert_int_equal(ask_block(fd, 1, 5, 3), 0); /* 5, 6, 7 */
	fp_pump(w.l, LIE_SLOW_MS - 300);
	{
		static uint8_t buf[1 << 16];
		struct proto_msg m;

		assert_int_equal(fp_read(fd, buf, sizeof(buf), 10, &m), -1);
	}
	fp_pump(w.l, 400);
	expect_block(fd, 1, 5);
	assert_true(evloop_now_ns() - t0 >= LIE_SLOW_MS * 1000000ull);
	{
		static uint8_t buf[1 << 16];
		struct proto_msg m;

		assert_int_equal(fp_read(fd, buf, sizeof(buf), 10, &m), -1);
	}
	children_set_lie(w.cs, LIE_NONE);
	fp_pump(w.l, 20);
	expect_block(fd, 1, 6);
	expect_block(fd, 1, 7);
	lying_down(&w, &img, fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waits_for_meta_then_blocks),
		cmocka_unit_test(test_evicted_while_queued),
		cmocka_unit_test(test_waiters_capped_per_child),
		cmocka_unit_test(test_connection_cap),
		cmocka_unit_test(test_emfile_does_not_spin),
		cmocka_unit_test(test_lie_names),
		cmocka_unit_test(test_fake_is_consistent),
		cmocka_unit_test(test_corrupt_blocks),
		cmocka_unit_test(test_silent_answers_nothing),
		cmocka_unit_test(test_slow_one_reply_at_a_time),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests of agent/source.c: the back-off (pure), and the peer back end
 * against a fake parent over loopback: requests as runs, replies matched
 * by id, ERROR and timeouts reported as failures of what was asked. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>

#include "agent_image.h"
#include "fake_peer.h"
#include "source.h"

static struct test_image T;

struct seen {
	int docs[3];
	int blocks[TI_NBLK];
	int nfailed;
	enum source_req failed_r;
	uint32_t failed_first, failed_n;
	int failed_error;
	int unresponsive;
	char why[160];
	struct cache *c;
};

static void on_doc(void *arg, struct source *s, enum source_doc d,
		   const void *data, size_t len)
{
	struct seen *w = arg;
	struct err e;

	(void)s;
	w->docs[d]++;
	/* As the agent does: the cache learns the digests to ask for. */
	if (d == SOURCE_DOC_MANIFEST)
		assert_int_equal(cache_set_manifest(w->c, data, len, &e), 0);
}

static void on_block(void *arg, struct source *s, uint32_t b, const void *data,
		     size_t len)
{
	struct seen *w = arg;

	(void)s;
	(void)data;
	(void)len;
	assert_true(b < TI_NBLK);
	w->blocks[b]++;
}

static void on_failed(void *arg, struct source *s, enum source_req r,
		      const uint32_t *list, uint32_t first, uint32_t n,
		      int error, const char *why)
{
	struct seen *w = arg;

	(void)s;
	(void)why;
	assert_null(list);
	w->nfailed++;
	w->failed_r = r;
	w->failed_first = first;
	w->failed_n = n;
	w->failed_error = error;
}

static void on_layer(void *arg, struct source *s, uint64_t bytes)
{
	(void)arg;
	(void)s;
	(void)bytes;
}

/* Heard, but the parent is kept: its requests then fail. */
static void on_unresponsive(void *arg, struct source *s, const char *why)
{
	struct seen *w = arg;

	(void)s;
	w->unresponsive++;
	snprintf(w->why, sizeof(w->why), "%s", why);
}

static const struct source_sink sink = {on_doc, on_block, on_failed, on_layer,
					on_unresponsive};

static int setup(void **state)
{
	(void)state;
	return ti_build(&T, 1);
}

static int teardown(void **state)
{
	(void)state;
	ti_free(&T);
	return 0;
}

/* The pause doubles from 100 ms to 2 s, each drawn in [base/2, base]. */
static void test_backoff(void **state)
{
	unsigned t;

	(void)state;
	assert_int_equal(source_backoff_ms(1, 0), 50);
	assert_int_equal(source_backoff_ms(1, 50), 100);
	assert_int_equal(source_backoff_ms(2, 0), 100);
	assert_int_equal(source_backoff_ms(3, 0), 200);
	for (t = 1; t < 100; t++) {
		unsigned lo = source_backoff_ms(t, 0);
		unsigned hi = source_backoff_ms(t, UINT32_MAX);

		assert_true(lo <= hi);
		assert_true(hi <= SOURCE_BACKOFF_MAX_MS);
		assert_true(lo >= SOURCE_BACKOFF_MIN_MS / 2);
	}
	assert_int_equal(source_backoff_ms(40, 0), SOURCE_BACKOFF_MAX_MS / 2);
	/* Jitter: two siblings with different draws do not retry in step. */
	assert_int_not_equal(source_backoff_ms(4, 1), source_backoff_ms(4, 2));
}

struct rig {
	struct evloop *l;
	int lfd, pfd; /* the fake parent: listening, accepted */
	struct cache c;
	struct seen w;
	struct source *s;
};

static void rig_up(struct rig *r, unsigned timeout_ms)
{
	struct proto_peer p = {.addr = INADDR_LOOPBACK};
	char ref[200];
	struct err e = {""};

	memset(r, 0, sizeof(*r));
	assert_int_equal(evloop_new(&r->l), 0);
	r->lfd = fp_listen(&p.port);
	assert_true(r->lfd >= 0);
	snprintf(ref, sizeof(ref), "h:1/fn/x@%s", T.manifest_digest);
	assert_int_equal(cache_init(&r->c, ref, &e), 0);
	r->w.c = &r->c;
	assert_int_equal(source_peer_new(r->l, p, timeout_ms, &r->c, &sink,
					 &r->w, &r->s, &e),
			 0);
	fp_pump(r->l, 20);
	r->pfd = accept(r->lfd, NULL, NULL);
	assert_true(r->pfd >= 0);
}

static void rig_down(struct rig *r)
{
	source_free(r->s);
	cache_free(&r->c);
	close(r->pfd);
	close(r->lfd);
	evloop_free(r->l);
}

/* The meta asked of the parent and answered, the config and index in the
 * other order than asked: matched by id, not by position. */
static void rig_meta(struct rig *r)
{
	static uint8_t buf[1 << 16];
	struct proto_msg m, a;
	uint32_t cfg_id = 0, ix_id = 0;
	struct err e;
	int i;

	assert_int_equal(source_request(r->s, SOURCE_REQ_META, NULL, 0), 0);
	fp_pump(r->l, 20);
	assert_int_equal(fp_read(r->pfd, buf, sizeof(buf), 500, &m), 0);
	assert_int_equal(m.type, PROTO_GET_MANIFEST);
	a = (struct proto_msg){.type = PROTO_MANIFEST, .id = m.id};
	a.data = (const uint8_t *)T.manifest;
	a.data_len = (uint32_t)T.manifest_len;
	assert_int_equal(fp_write(r->pfd, &a), 0);
	fp_pump(r->l, 50);
	assert_int_equal(r->w.docs[SOURCE_DOC_MANIFEST], 1);
	assert_int_equal(r->s->ops->inflight(r->s), 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(fp_read(r->pfd, buf, sizeof(buf), 500, &m), 0);
		assert_int_equal(m.type, PROTO_GET_BLOB);
		if (m.digest.len == strlen(cache_config_digest(&r->c)) &&
		    !memcmp(m.digest.s, cache_config_digest(&r->c),
			    m.digest.len))
			cfg_id = m.id;
		else
			ix_id = m.id;
	}
	assert_true(cfg_id && ix_id && cfg_id != ix_id);
	a = (struct proto_msg){.type = PROTO_BLOB, .id = ix_id};
	a.digest = proto_str(cache_index_digest(&r->c));
	a.data = T.index;
	a.data_len = (uint32_t)T.index_len;
	assert_int_equal(fp_write(r->pfd, &a), 0);
	a.id = cfg_id;
	a.digest = proto_str(cache_config_digest(&r->c));
	a.data = (const uint8_t *)T.config;
	a.data_len = (uint32_t)T.config_len;
	assert_int_equal(fp_write(r->pfd, &a), 0);
	fp_pump(r->l, 50);
	assert_int_equal(r->w.docs[SOURCE_DOC_CONFIG], 1);
	assert_int_equal(r->w.docs[SOURCE_DOC_INDEX], 1);
	assert_int_equal(cache_set_config(&r->c, T.config, T.config_len, &e),
			 0);
	assert_int_equal(cache_set_index(&r->c, T.index, T.index_len, &e), 0);
}

static void test_meta_then_blocks_by_run(void **state)
{
	static uint8_t buf[1 << 16];
	struct proto_msg m, a;
	struct rig r;
	uint32_t want[] = {1, 2, 3, 6};
	uint32_t run_id = 0, b;

	(void)state;
	rig_up(&r, 1000);
	rig_meta(&r);

	/* Blocks 1-3 as one run, 6 alone. */
	assert_int_equal(source_request(r.s, SOURCE_REQ_BLOCKS, want, 4), 0);
	fp_pump(r.l, 20);
	assert_int_equal(fp_read(r.pfd, buf, sizeof(buf), 500, &m), 0);
	assert_int_equal(m.type, PROTO_GET_BLOCK);
	assert_int_equal(m.block, 1);
	assert_int_equal(m.count, 3);
	run_id = m.id;
	assert_int_equal(fp_read(r.pfd, buf, sizeof(buf), 500, &m), 0);
	assert_int_equal(m.block, 6);
	assert_int_equal(m.count, 0);
	assert_int_equal(r.s->ops->inflight(r.s), 2);
	for (b = 1; b <= 3; b++) {
		size_t n;

		a = (struct proto_msg){
			.type = PROTO_BLOCK, .id = run_id, .block = b};
		a.data = ti_block(&T, b, &n);
		a.data_len = (uint32_t)n;
		assert_int_equal(fp_write(r.pfd, &a), 0);
	}
	fp_pump(r.l, 50);
	assert_int_equal(r.w.blocks[1] + r.w.blocks[2] + r.w.blocks[3], 3);
	assert_int_equal(r.s->ops->inflight(r.s), 1);
	/* An ERROR fails what it answers, the run as asked. */
	a = (struct proto_msg){
		.type = PROTO_ERROR, .id = m.id, .error = -ENOENT};
	assert_int_equal(fp_write(r.pfd, &a), 0);
	fp_pump(r.l, 50);
	assert_int_equal(r.w.nfailed, 1);
	assert_int_equal(r.w.failed_r, SOURCE_REQ_BLOCKS);
	assert_int_equal(r.w.failed_first, 6);
	assert_int_equal(r.w.failed_n, 1);
	assert_int_equal(r.w.failed_error, -ENOENT);
	assert_int_equal(r.s->ops->inflight(r.s), 0);
	rig_down(&r);
}

/* Issue 10: no timeout on any request to a peer; a parent that never
 * answers stalled its children for ever. */
static void test_silent_parent_times_out(void **state)
{
	static uint8_t buf[1 << 16];
	struct proto_msg m;
	struct rig r;

	(void)state;
	rig_up(&r, 200);
	assert_int_equal(source_request(r.s, SOURCE_REQ_META, NULL, 0), 0);
	fp_pump(r.l, 20);
	assert_int_equal(fp_read(r.pfd, buf, sizeof(buf), 500, &m), 0);
	r.s->ops->tick(r.s, evloop_now_ns());
	assert_int_equal(r.w.nfailed, 0);
	fp_pump(r.l, 250);
	r.s->ops->tick(r.s, evloop_now_ns());
	assert_int_equal(r.w.nfailed, 1);
	assert_int_equal(r.w.failed_r, SOURCE_REQ_META);
	assert_int_equal(r.w.failed_error, -ETIMEDOUT);
	assert_int_equal(r.s->ops->inflight(r.s), 0);
	assert_int_equal(r.w.unresponsive, 1);
	assert_non_null(strstr(r.w.why, "silent"));
	/* The next request opens a new connection. */
	assert_int_equal(source_request(r.s, SOURCE_REQ_META, NULL, 0), 0);
	fp_pump(r.l, 20);
	close(r.pfd);
	r.pfd = accept(r.lfd, NULL, NULL);
	assert_true(r.pfd >= 0);
	rig_down(&r);
}

/* Every block of T asked as one run, answered one frame each gap_ms,
 * with the source ticked as the agent ticks it, for about ms in all. */
static void trickle(struct rig *r, unsigned gap_ms, unsigned ms)
{
	static uint8_t buf[1 << 16];
	uint32_t all[TI_NBLK], b;
	struct proto_msg m, a;
	unsigned t;

	for (b = 0; b < TI_NBLK; b++)
		all[b] = b;
	assert_int_equal(source_request(r->s, SOURCE_REQ_BLOCKS, all, TI_NBLK),
			 0);
	fp_pump(r->l, 10);
	assert_int_equal(fp_read(r->pfd, buf, sizeof(buf), 500, &m), 0);
	assert_int_equal(m.count, TI_NBLK);
	for (t = 0, b = 0; t < ms && !r->w.unresponsive; t += gap_ms) {
		size_t n;

		if (b < TI_NBLK) {
			a = (struct proto_msg){
				.type = PROTO_BLOCK, .id = m.id, .block = b};
			a.data = ti_block(&T, b++, &n);
			a.data_len = (uint32_t)n;
			assert_int_equal(fp_write(r->pfd, &a), 0);
		}
		fp_pump(r->l, gap_ms);
		r->s->ops->tick(r->s, evloop_now_ns());
	}
}

/* A parent that answers, but fewer than SOURCE_SLOW_REPLIES frames in a
 * time-out's span while requests wait, is unresponsive: never silent for
 * the time-out, it would otherwise hold a start for minutes. Kept by the
 * sink, its requests fail. */
static void test_slow_parent_is_unresponsive(void **state)
{
	struct rig r;

	(void)state;
	rig_up(&r, 400);
	rig_meta(&r);
	trickle(&r, 150, 2000); /* 2 or 3 frames in 400 ms */
	assert_int_equal(r.w.unresponsive, 1);
	assert_non_null(strstr(r.w.why, "slow"));
	assert_int_equal(r.w.nfailed, 1);
	assert_int_equal(r.w.failed_r, SOURCE_REQ_BLOCKS);
	assert_int_equal(r.w.failed_error, -ETIMEDOUT);
	assert_int_equal(r.s->ops->inflight(r.s), 0);
	rig_down(&r);
}

/* ... and one that keeps up a few frames a window is not, however long
 * the whole takes. */
static void test_steady_parent_is_not_slow(void **state)
{
	struct rig r;

	(void)state;
	rig_up(&r, 400);
	rig_meta(&r);
	trickle(&r, 60, 480); /* 6 or 7 frames in 400 ms */
	assert_int_equal(r.w.unresponsive, 0);
	assert_int_equal(r.w.nfailed, 0);
	rig_down(&r);
}

static void test_lost_connection_fails_requests(void **state)
{
	static uint8_t buf[1 << 16];
	struct proto_msg m;
	struct rig r;

	(void)state;
	rig_up(&r, 1000);
	assert_int_equal(source_request(r.s, SOURCE_REQ_META, NULL, 0), 0);
	fp_pump(r.l, 20);
	assert_int_equal(fp_read(r.pfd, buf, sizeof(buf), 500, &m), 0);
	close(r.pfd);
	fp_pump(r.l, 50);
	assert_int_equal(r.w.nfailed, 1);
	assert_int_equal(r.w.failed_r, SOURCE_REQ_META);
	r.pfd = -1;
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_meta_then_blocks_by_run),
		cmocka_unit_test(test_silent_parent_times_out),
		cmocka_unit_test(test_slow_parent_is_unresponsive),
		cmocka_unit_test(test_steady_parent_is_not_slow),
		cmocka_unit_test(test_lost_connection_fails_requests),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests of dadi/pieces.c: N concurrent requests for one piece make
 * one fetch and are all answered with its bytes; a failed fetch answers
 * every waiter with its error and is not cached; a read spanning two
 * 1 MiB pieces fetches both and joins them; the cache stays under its
 * bound, least recently used first. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pieces.h"

#define NREQ 8
#define BLOB ((uint64_t)3 * DADI_PIECE_SIZE + 12345)

/* A fake upstream: byte i of the blob is (i * 7 + i / 4099) & 0xff, and a
 * fetch may be held until the test lets it go. */
struct up {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int hold, fail;
	uint64_t piece; /* 0: DADI_PIECE_SIZE */
	unsigned calls;
	uint64_t last_idx;
};

static uint8_t byte_at(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 4099);
}

static int up_fetch(void *arg, const char *key, uint64_t idx, uint8_t **buf,
		    size_t *len, uint64_t *total, struct err *e)
{
	struct up *u = arg;
	uint64_t piece = u->piece ? u->piece : DADI_PIECE_SIZE;
	uint64_t off = idx * piece, n;

	(void)key;
	pthread_mutex_lock(&u->mu);
	u->calls++;
	u->last_idx = idx;
	while (u->hold)
		pthread_cond_wait(&u->cv, &u->mu);
	pthread_mutex_unlock(&u->mu);
	if (u->fail)
		return err_set(e, -ECONNREFUSED, "upstream down");
	n = BLOB - off < piece ? BLOB - off : piece;
	*buf = malloc(n);
	for (uint64_t i = 0; i < n; i++)
		(*buf)[i] = byte_at(off + i);
	*len = n;
	*total = BLOB;
	return 0;
}

struct req {
	struct dadi_pieces *p;
	int ret;
	int ok_bytes;
	struct err e;
};

static void *req_run(void *arg)
{
	struct req *r = arg;
	struct dadi_piece pc;

	r->ret = dadi_pieces_get(r->p, "repo@sha256:x", 1, &pc, &r->e);
	if (!r->ret) {
		r->ok_bytes =
			pc.len == DADI_PIECE_SIZE && pc.total == BLOB &&
			pc.data[0] == byte_at(DADI_PIECE_SIZE) &&
			pc.data[pc.len - 1] == byte_at(2 * DADI_PIECE_SIZE - 1);
		dadi_piece_put(r->p, &pc);
	}
	return NULL;
}

/* Starts NREQ requests for piece 1 with the fetch held, waits until all
 * but the fetcher are merged into it, then lets the fetch go. */
static void run_merged(struct up *u, struct dadi_pieces *p, struct req *r)
{
	pthread_t t[NREQ];
	struct dadi_pieces_stats st, base;

	dadi_pieces_stats(p, &base);
	u->hold = 1;
	for (int i = 0; i < NREQ; i++) {
		r[i].p = p;
		assert_int_equal(pthread_create(&t[i], NULL, req_run, &r[i]),
				 0);
	}
	do {
		dadi_pieces_stats(p, &st);
		sched_yield();
	} while (st.merged + st.fetches + st.hits <
		 base.merged + base.fetches + base.hits + NREQ);
	pthread_mutex_lock(&u->mu);
	u->hold = 0;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	for (int i = 0; i < NREQ; i++)
		pthread_join(t[i], NULL);
}

static struct up *up_new(void)
{
	struct up *u = calloc(1, sizeof(*u));

	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	return u;
}

static void up_free(struct up *u)
{
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

static void test_concurrent_merged(void **state)
{
	struct up *u = up_new();
	struct dadi_pieces *p;
	struct dadi_pieces_stats st;
	struct req r[NREQ] = {0};

	(void)state;
	assert_int_equal(dadi_pieces_new(0, 64 << 20, up_fetch, u, &p), 0);
	run_merged(u, p, r);
	assert_int_equal(u->calls, 1);
	for (int i = 0; i < NREQ; i++) {
		assert_int_equal(r[i].ret, 0);
		assert_true(r[i].ok_bytes);
	}
	dadi_pieces_stats(p, &st);
	assert_int_equal(st.fetches, 1);
	assert_int_equal(st.merged, NREQ - 1);
	/* Then from the cache. */
	run_merged(u, p, r);
	assert_int_equal(u->calls, 1);
	dadi_pieces_free(p);
	up_free(u);
}

static void test_failure_answers_all(void **state)
{
	struct up *u = up_new();
	struct dadi_pieces *p;
	struct req r[NREQ] = {0};

	(void)state;
	assert_int_equal(dadi_pieces_new(0, 64 << 20, up_fetch, u, &p), 0);
	u->fail = 1;
	run_merged(u, p, r);
	assert_int_equal(u->calls, 1);
	for (int i = 0; i < NREQ; i++) {
		assert_int_equal(r[i].ret, -ECONNREFUSED);
		assert_string_equal(r[i].e.msg, "upstream down");
	}
	/* Not cached: the next request fetches again, and succeeds. */
	u->fail = 0;
	run_merged(u, p, r);
	assert_int_equal(u->calls, 2);
	for (int i = 0; i < NREQ; i++)
		assert_int_equal(r[i].ret, 0);
	dadi_pieces_free(p);
	up_free(u);
}

struct out {
	uint8_t *buf;
	size_t len;
};

static int sink(void *arg, const void *buf, size_t len)
{
	struct out *o = arg;

	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	return 0;
}

static void test_span_two_pieces(void **state)
{
	struct up *u = up_new();
	struct dadi_pieces *p;
	struct out o = {malloc(4 << 20), 0};
	uint64_t total, first, last, off = DADI_PIECE_SIZE - 100;
	struct err e = {""};

	(void)state;
	assert_int_equal(dadi_pieces_span(DADI_PIECE_SIZE, off, 300, BLOB,
					  &first, &last),
			 0);
	assert_int_equal(first, 0);
	assert_int_equal(last, 1);
	assert_int_equal(dadi_pieces_span(DADI_PIECE_SIZE, 0, DADI_PIECE_SIZE,
					  BLOB, &first, &last),
			 0);
	assert_int_equal(last, 0); /* aligned: one piece, not two */
	assert_int_equal(dadi_pieces_span(DADI_PIECE_SIZE, BLOB - 1, 1000, BLOB,
					  &first, &last),
			 0);
	assert_int_equal(first, 3);
	assert_int_equal(last, 3); /* clamped to the blob */
	assert_int_equal(
		dadi_pieces_span(DADI_PIECE_SIZE, BLOB, 1, BLOB, &first, &last),
		-ERANGE);

	assert_int_equal(dadi_pieces_new(0, 64 << 20, up_fetch, u, &p), 0);
	assert_int_equal(
		dadi_pieces_read(p, "k", off, 300, sink, &o, &total, &e), 0);
	assert_int_equal(total, BLOB);
	assert_int_equal(o.len, 300);
	for (size_t i = 0; i < o.len; i++)
		assert_int_equal(o.buf[i], byte_at(off + i));
	assert_int_equal(u->calls, 2);
	/* The tail, asked past the end: clamped. */
	o.len = 0;
	assert_int_equal(dadi_pieces_read(p, "k", BLOB - 10, 1 << 20, sink, &o,
					  &total, &e),
			 0);
	assert_int_equal(o.len, 10);
	assert_int_equal(o.buf[9], byte_at(BLOB - 1));
	dadi_pieces_free(p);
	free(o.buf);
	up_free(u);
}

/* A scaled run's pieces (1 MiB times the scale, --piece-size): a read
 * across two 20 KiB pieces fetches those two, at their offsets. */
static void test_scaled_pieces(void **state)
{
	struct up *u = up_new();
	struct dadi_pieces *p;
	struct out o = {malloc(1 << 16), 0};
	uint64_t total, first, last, piece = 20 << 10, off = piece - 50;
	struct err e = {""};

	(void)state;
	u->piece = piece;
	assert_int_equal(dadi_pieces_new(piece, 64 << 20, up_fetch, u, &p), 0);
	assert_int_equal(dadi_pieces_piece(p), piece);
	assert_int_equal(
		dadi_pieces_span(piece, off, 100, BLOB, &first, &last), 0);
	assert_int_equal(first, 0);
	assert_int_equal(last, 1);
	assert_int_equal(
		dadi_pieces_read(p, "k", off, 100, sink, &o, &total, &e), 0);
	assert_int_equal(o.len, 100);
	for (size_t i = 0; i < o.len; i++)
		assert_int_equal(o.buf[i], byte_at(off + i));
	assert_int_equal(u->calls, 2);
	assert_int_equal(u->last_idx, 1);
	dadi_pieces_free(p);
	free(o.buf);
	up_free(u);
}

static void test_bounded_lru(void **state)
{
	struct up *u = up_new();
	struct dadi_pieces *p;
	struct dadi_pieces_stats st;
	struct dadi_piece pc;
	struct err e = {""};

	(void)state;
	/* Room for two full pieces. */
	assert_int_equal(
		dadi_pieces_new(0, 2 * DADI_PIECE_SIZE, up_fetch, u, &p), 0);
	for (uint64_t i = 0; i < 3; i++) {
		assert_int_equal(dadi_pieces_get(p, "k", i, &pc, &e), 0);
		dadi_piece_put(p, &pc);
		if (i == 1) { /* 0 used again: 1 is now the oldest */
			assert_int_equal(dadi_pieces_get(p, "k", 0, &pc, &e),
					 0);
			dadi_piece_put(p, &pc);
		}
	}
	dadi_pieces_stats(p, &st);
	assert_int_equal(st.evicted, 1);
	assert_true(st.bytes <= 2 * DADI_PIECE_SIZE);
	assert_int_equal(u->calls, 3);
	assert_int_equal(dadi_pieces_get(p, "k", 0, &pc, &e), 0); /* kept */
	dadi_piece_put(p, &pc);
	assert_int_equal(u->calls, 3);
	assert_int_equal(dadi_pieces_get(p, "k", 1, &pc, &e), 0); /* evicted */
	dadi_piece_put(p, &pc);
	assert_int_equal(u->calls, 4);
	dadi_pieces_free(p);
	up_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_merged),
		cmocka_unit_test(test_failure_answers_all),
		cmocka_unit_test(test_span_two_pieces),
		cmocka_unit_test(test_scaled_pieces),
		cmocka_unit_test(test_bounded_lru),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

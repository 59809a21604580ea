/* Unit tests for testbed/serve.c, the request model, driven with made-up
 * times: FIFO service on one container, queued requests taking a slot at
 * the moment it frees (not at the next tick), the autoscaler's arithmetic
 * and its asks, packing onto the oldest containers so the young ones go
 * idle and are released, refusals, and the pool counts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "serve.h"

#define S(x)  ((uint64_t)((x) * 1e9 + 0.5))
#define T0    S(1000) /* monotonic clocks do not start at 0 */
#define AT(x) (T0 + S(x))

static struct serve *mk(uint64_t service, unsigned conc, double util,
			uint64_t reclaim, unsigned nfn)
{
	struct serve_opts o = {.service_ns = service,
			       .concurrency = conc,
			       .utilization = util,
			       .window_ns = S(1),
			       .reclaim_ns = reclaim};
	struct serve *sv = NULL;

	assert_int_equal(serve_new(&o, nfn, &sv), 0);
	return sv;
}

static void tick(struct serve *sv, uint64_t t, unsigned *asks,
		 uint32_t **rel, size_t *nrel)
{
	assert_int_equal(serve_tick(sv, t, asks, rel, nrel), 0);
}

static void test_bad_options(void **state)
{
	struct serve_opts o = {.service_ns = S(2),
			       .concurrency = 1,
			       .utilization = 0.7,
			       .window_ns = S(1)};
	struct serve *sv = NULL;

	(void)state;
	o.utilization = 0;
	assert_int_equal(serve_new(&o, 1, &sv), -EINVAL);
	o.utilization = 1.5;
	assert_int_equal(serve_new(&o, 1, &sv), -EINVAL);
	o.utilization = 1;
	o.concurrency = 0;
	assert_int_equal(serve_new(&o, 1, &sv), -EINVAL);
	o.concurrency = 1;
	o.service_ns = 0;
	assert_int_equal(serve_new(&o, 1, &sv), -EINVAL);
	o.service_ns = S(2);
	assert_int_equal(serve_new(&o, 0, &sv), -EINVAL);
	assert_null(sv);
	assert_int_equal(serve_new(&o, 1, &sv), 0);
	assert_int_equal(serve_arrive(sv, 1, AT(0)), -EINVAL);
	assert_int_equal(serve_up(sv, 1, 1, AT(0)), -EINVAL);
	serve_free(sv);
}

/* Time does not run backwards: a late report is taken as happening at the
 * latest time the model was given. */
static void test_late_times(void **state)
{
	struct serve *sv = mk(S(2), 1, 1, 0, 1);
	const struct serve_request *r;
	unsigned asks[1];
	uint32_t *rel;
	size_t n, nrel;

	(void)state;
	assert_int_equal(serve_arrive(sv, 0, AT(5)), 0);
	assert_int_equal(serve_up(sv, 3, 0, AT(4)), 0);
	assert_int_equal(serve_arrive(sv, 0, AT(4.5)), 0);
	/* The second waits for the slot; a tick later it has it. */
	tick(sv, AT(8), asks, &rel, &nrel);
	r = serve_requests(sv, &n);
	assert_int_equal(r[0].start_ns, AT(5));
	assert_int_equal(r[1].arrival_ns, AT(5));
	assert_int_equal(r[1].start_ns, AT(7));
	serve_free(sv);
}

static void test_desired(void **state)
{
	struct serve_opts o = {.service_ns = S(2),
			       .concurrency = 3,
			       .utilization = 0.8,
			       .window_ns = S(1)};

	(void)state;
	/* 100/s for 2 s is 200 in service; 3 each at 80%: 83.3 -> 84. */
	assert_int_equal(serve_desired(&o, 100), 84);
	assert_int_equal(serve_desired(&o, 0), 0);
	assert_int_equal(serve_desired(&o, 0.1), 1);
	/* Exactly a whole number stays that number. */
	o.service_ns = S(0.7);
	o.concurrency = 1;
	o.utilization = 0.7;
	assert_int_equal(serve_desired(&o, 10), 10);
}

/* One container, one slot, 2 s of service: requests are served in arrival
 * order, each starting when the one before ends. */
static void test_fifo_one_container(void **state)
{
	struct serve *sv = mk(S(2), 1, 1, 0, 1);
	const struct serve_request *r;
	struct serve_pool p;
	size_t n;

	(void)state;
	assert_int_equal(serve_up(sv, 7, 0, AT(0)), 0);
	assert_int_equal(serve_arrive(sv, 0, AT(0)), 0);
	assert_int_equal(serve_arrive(sv, 0, AT(0.5)), 0);
	assert_int_equal(serve_arrive(sv, 0, AT(1)), 0);
	serve_pool(sv, 0, AT(1), &p);
	assert_int_equal(p.live, 1);
	assert_int_equal(p.busy, 1);
	assert_int_equal(p.queued, 2);
	assert_false(serve_all_done(sv, AT(1)));
	/* Nothing happens between calls: the next one, much later, still
	 * gives each request the moment its slot freed. */
	assert_int_equal(serve_arrive(sv, 0, AT(10)), 0);
	r = serve_requests(sv, &n);
	assert_int_equal(n, 4);
	assert_int_equal(r[0].start_ns, AT(0));
	assert_int_equal(r[0].done_ns, AT(2));
	assert_int_equal(r[1].start_ns, AT(2));
	assert_int_equal(r[2].start_ns, AT(4));
	assert_int_equal(r[2].done_ns, AT(6));
	assert_int_equal(r[3].start_ns, AT(10));
	assert_int_equal(r[3].container, 7);
	assert_true(serve_all_done(sv, AT(12)));
	assert_false(serve_all_done(sv, AT(11.9)));
	serve_free(sv);
}

/* Nothing is warm: the autoscaler asks for what the rate needs, queued
 * requests wait for the containers, and a container that comes up takes
 * the oldest request. */
static void test_cold_start(void **state)
{
	struct serve *sv = mk(S(2), 1, 1, 0, 2);
	const struct serve_request *r;
	unsigned asks[2];
	uint32_t *rel;
	size_t nrel, n;
	struct serve_pool p;

	(void)state;
	assert_int_equal(serve_arrive(sv, 0, AT(0)), 0);
	assert_int_equal(serve_arrive(sv, 0, AT(0.1)), 0);
	tick(sv, AT(0.2), asks, &rel, &nrel);
	/* 2 per second for 2 s: 4 containers; none for the other. */
	assert_int_equal(asks[0], 4);
	assert_int_equal(asks[1], 0);
	assert_null(rel);
	assert_int_equal(nrel, 0);
	/* Asked once: the next tick does not ask again. */
	tick(sv, AT(0.3), asks, &rel, &nrel);
	assert_int_equal(asks[0], 0);
	serve_pool(sv, 0, AT(0.3), &p);
	assert_int_equal(p.pending, 4);
	assert_int_equal(p.queued, 2);
	assert_int_equal(serve_up(sv, 30, 0, AT(5)), 0);
	assert_int_equal(serve_up(sv, 31, 0, AT(5.5)), 0);
	/* A repeated STARTED changes nothing. */
	assert_int_equal(serve_up(sv, 31, 0, AT(5.6)), 0);
	r = serve_requests(sv, &n);
	assert_int_equal(r[0].start_ns, AT(5));
	assert_int_equal(r[0].container, 30);
	assert_int_equal(r[1].start_ns, AT(5.5));
	assert_int_equal(r[1].container, 31);
	serve_pool(sv, 0, AT(5.6), &p);
	assert_int_equal(p.live, 2);
	assert_int_equal(p.pending, 2);
	assert_int_equal(p.queued, 0);
	assert_int_equal(p.busy, 2);
	serve_free(sv);
}

/* Requests go to the oldest container with a free slot, so the others go
 * idle and are released after the reclaim time; a busy one never is. */
static void test_packing_and_reclaim(void **state)
{
	struct serve *sv = mk(S(2), 1, 1, S(15), 1);
	const struct serve_request *r;
	unsigned asks[1];
	uint32_t *rel;
	size_t nrel, n;

	(void)state;
	assert_int_equal(serve_up(sv, 1, 0, AT(0)), 0);
	assert_int_equal(serve_up(sv, 2, 0, AT(0)), 0);
	assert_int_equal(serve_arrive(sv, 0, AT(10)), 0);
	tick(sv, AT(14.9), asks, &rel, &nrel);
	assert_int_equal(nrel, 0);
	tick(sv, AT(15), asks, &rel, &nrel);
	/* Container 2 idle since 0; container 1 since 12. */
	assert_int_equal(nrel, 1);
	assert_int_equal(rel[0], 2);
	free(rel);
	assert_int_equal(serve_released_ns(sv, 2), AT(15));
	assert_int_equal(serve_released_ns(sv, 1), 0);
	assert_int_equal(serve_arrive(sv, 0, AT(20)), 0);
	tick(sv, AT(36.9), asks, &rel, &nrel);
	assert_int_equal(nrel, 0);
	tick(sv, AT(37), asks, &rel, &nrel);
	assert_int_equal(nrel, 1);
	assert_int_equal(rel[0], 1);
	free(rel);
	r = serve_requests(sv, &n);
	assert_int_equal(r[0].container, 1);
	assert_int_equal(r[1].container, 1);
	serve_free(sv);
}

/* An idle container the arrival rate still needs is kept: with slots to
 * spare, packing leaves the youngest idle even in a steady stream. Once
 * the stream stops, both go. */
static void test_reclaim_keeps_what_the_rate_needs(void **state)
{
	/* 1 request per second for 0.5 s at 25%: two containers' worth. */
	struct serve *sv = mk(S(0.5), 1, 0.25, S(3), 1);
	const struct serve_request *r;
	unsigned asks[1];
	uint32_t *rel;
	size_t nrel, n;
	int i;

	(void)state;
	assert_int_equal(serve_up(sv, 1, 0, AT(0)), 0);
	assert_int_equal(serve_up(sv, 2, 0, AT(0)), 0);
	for (i = 0; i < 10; i++) {
		assert_int_equal(serve_arrive(sv, 0, AT(i)), 0);
		tick(sv, AT(i + 0.5), asks, &rel, &nrel);
		assert_int_equal(asks[0], 0);
		assert_int_equal(nrel, 0);
	}
	r = serve_requests(sv, &n);
	for (i = 0; i < 10; i++)
		assert_int_equal(r[i].container, 1);
	/* Container 2 was idle all along, container 1 since 9.5 s. */
	tick(sv, AT(11), asks, &rel, &nrel);
	assert_int_equal(nrel, 1);
	assert_int_equal(rel[0], 2);
	free(rel);
	tick(sv, AT(12.5), asks, &rel, &nrel);
	assert_int_equal(nrel, 1);
	assert_int_equal(rel[0], 1);
	free(rel);
	serve_free(sv);
}

/* Several slots per container: three requests at once on one container. */
static void test_concurrency(void **state)
{
	struct serve *sv = mk(S(1), 3, 1, 0, 1);
	const struct serve_request *r;
	size_t n, i;

	(void)state;
	assert_int_equal(serve_up(sv, 4, 0, AT(0)), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(serve_arrive(sv, 0, AT(0.1)), 0);
	assert_int_equal(serve_arrive(sv, 0, AT(3)), 0);
	r = serve_requests(sv, &n);
	for (i = 0; i < 3; i++)
		assert_int_equal(r[i].start_ns, AT(0.1));
	assert_int_equal(r[3].start_ns, AT(1.1));
	assert_int_equal(r[3].done_ns, AT(2.1));
	serve_free(sv);
}

/* No room: the asks stop counting as pending, and the next ask waits a
 * second. */
static void test_refused(void **state)
{
	struct serve *sv = mk(S(2), 1, 1, 0, 1);
	unsigned asks[1];
	uint32_t *rel;
	size_t nrel;
	struct serve_pool p;

	(void)state;
	assert_int_equal(serve_arrive(sv, 0, AT(0)), 0);
	tick(sv, AT(0.1), asks, &rel, &nrel);
	assert_int_equal(asks[0], 2);
	serve_refused(sv, 0, 2, AT(0.2));
	serve_pool(sv, 0, AT(0.2), &p);
	assert_int_equal(p.pending, 0);
	tick(sv, AT(1.1), asks, &rel, &nrel);
	assert_int_equal(asks[0], 0);
	/* Past the hold, the request that still waits asks for one (the
	 * window no longer holds its arrival). */
	tick(sv, AT(1.3), asks, &rel, &nrel);
	assert_int_equal(asks[0], 1);
	serve_free(sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_late_times),
		cmocka_unit_test(test_desired),
		cmocka_unit_test(test_fifo_one_container),
		cmocka_unit_test(test_cold_start),
		cmocka_unit_test(test_packing_and_reclaim),
		cmocka_unit_test(test_reclaim_keeps_what_the_rate_needs),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

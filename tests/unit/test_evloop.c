/* Unit tests of the event loop: descriptors, timers, removal from inside a
 * callback. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"

struct seen {
	int reads, fired[4], nfired;
	int other_fd; /* removed by the first callback */
};

static void on_read(struct evloop *l, int fd, unsigned ev, void *arg)
{
	struct seen *s = arg;
	char c;

	assert_true(ev & EVLOOP_IN);
	assert_int_equal(read(fd, &c, 1), 1);
	s->reads++;
	if (s->other_fd >= 0) {
		assert_int_equal(evloop_del(l, s->other_fd), 0);
		s->other_fd = -1;
	}
	evloop_stop(l);
}

static void
test_readable_fd_calls_back_and_removal_in_batch_is_safe(void **state)
{
	struct evloop *l;
	struct seen s = {.other_fd = -1};
	int a[2], b[2];

	(void)state;
	assert_int_equal(evloop_new(&l), 0);
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	assert_int_equal(evloop_add(l, a[0], EVLOOP_IN, on_read, &s), 0);
	assert_int_equal(evloop_add(l, a[0], EVLOOP_IN, on_read, &s), -EEXIST);
	assert_int_equal(evloop_add(l, b[0], EVLOOP_IN, on_read, &s), 0);
	/* Both readable in one batch (ASan would catch a use after free of a
	 * watch removed mid-batch). */
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "y", 1), 1);
	/* Whichever of the two runs first removes a: if that is a itself,
	 * the removal of the running watch must be safe too. */
	s.other_fd = a[0];
	assert_int_equal(evloop_run(l, -1), 0);
	assert_int_equal(s.reads, 1);
	assert_int_equal(evloop_mod(l, 12345, EVLOOP_IN), -ENOENT);
	assert_int_equal(evloop_del(l, 12345), -ENOENT);
	evloop_free(l);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

static void on_timer(struct evloop *l, void *arg)
{
	struct seen *s = arg;

	s->fired[s->nfired] = s->nfired;
	s->nfired++;
	if (s->nfired == 2)
		evloop_stop(l);
}

static void test_timers_fire_in_order_and_cancel(void **state)
{
	struct evloop *l;
	struct seen s = {0};
	uint64_t t0;
	long id;

	(void)state;
	assert_int_equal(evloop_new(&l), 0);
	t0 = evloop_now_ns();
	assert_true(evloop_timer(l, 30, on_timer, &s) > 0);
	id = evloop_timer(l, 10, on_timer, &s);
	assert_true(id > 0);
	assert_true(evloop_timer(l, 20, on_timer, &s) > 0);
	evloop_cancel(l, id);
	assert_int_equal(evloop_run(l, -1), 0);
	/* The cancelled one never ran: two fired, the second at >= 30 ms. */
	assert_int_equal(s.nfired, 2);
	assert_true(evloop_now_ns() - t0 >= 30000000ull);
	evloop_free(l);
}

/* Dilation 3: spans and timers three times the wall clock's. */
static void test_dilation(void **state)
{
	struct evloop *l;
	struct seen s = {0};
	uint64_t t0;

	(void)state;
	assert_int_equal(evloop_new(&l), 0);
	assert_int_equal(evloop_span_ns(l, 5), 5000000ull);
	assert_int_equal(evloop_set_dilation(l, 0.5), -EINVAL);
	assert_int_equal(evloop_set_dilation(l, NAN), -EINVAL);
	assert_int_equal(evloop_set_dilation(l, 3), 0);
	assert_int_equal(evloop_span_ns(l, 5), 15000000ull);
	assert_int_equal(evloop_span_ns(l, 0), 0);
	assert_int_equal(evloop_set_dilation(l, 1.5), 0);
	assert_int_equal(evloop_span_ns(l, 1000), 1500000000ull);
	assert_int_equal(evloop_set_dilation(l, 3), 0);
	t0 = evloop_now_ns();
	assert_true(evloop_timer(l, 10, on_timer, &s) > 0);
	assert_true(evloop_timer(l, 20, on_timer, &s) > 0);
	assert_int_equal(evloop_run(l, -1), 0);
	/* The second is due 20 ms of the world later: 60 of the wall's. */
	assert_int_equal(s.nfired, 2);
	assert_true(evloop_now_ns() - t0 >= 60000000ull);
	evloop_free(l);
}

/* A stop request from another thread (a test's, or a signal's through
 * evloop_signal_fd) wakes a loop that has nothing else to wait for: with
 * no timer it sleeps with no time-out, so only the descriptor can end it. */
struct stopper {
	int fd;
	unsigned ms;
};

static void *stop_later(void *arg)
{
	struct stopper *s = arg;
	uint64_t one = 1;

	usleep(s->ms * 1000u);
	if (write(s->fd, &one, sizeof(one)) != sizeof(one))
		abort();
	return NULL;
}

static void test_stop_fd_wakes_an_idle_loop(void **state)
{
	struct stopper s = {.ms = 50};
	struct evloop *l;
	pthread_t thr;
	uint64_t t0;

	(void)state;
	s.fd = eventfd(0, EFD_CLOEXEC);
	assert_true(s.fd >= 0);
	assert_int_equal(evloop_new(&l), 0);
	t0 = evloop_now_ns();
	assert_int_equal(pthread_create(&thr, NULL, stop_later, &s), 0);
	assert_int_equal(evloop_run(l, s.fd), 0);
	pthread_join(thr, NULL);
	assert_true(evloop_now_ns() - t0 >= 50000000ull);
	/* The descriptor was watched only while the loop ran: it can be
	 * given to the next run, which then ends at once. */
	assert_int_equal(evloop_run(l, s.fd), 0);
	evloop_free(l);
	close(s.fd);
}

/* SIGTERM becomes a readable descriptor, not a handler's flag. */
static void test_signal_fd_reads_sigterm(void **state)
{
	struct evloop *l;
	sigset_t old, set;
	int fd;

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &old), 0);
	fd = evloop_signal_fd();
	assert_true(fd >= 0);
	assert_int_equal(evloop_new(&l), 0);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(evloop_run(l, fd), 0);
	evloop_free(l);
	close(fd);
	/* Drop the pending SIGTERM before unblocking, then restore. */
	{
		struct timespec zero = {0, 0};

		assert_int_equal(sigtimedwait(&set, NULL, &zero), SIGTERM);
	}
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

/* SIGUSR1 comes through the same descriptor with the value sigqueue gave
 * it (how a harness tells an agent to lie), and an eventfd reads as a
 * stop. */
static void test_signal_read_gives_sigqueue_value(void **state)
{
	union sigval v = {.sival_int = 3};
	sigset_t old;
	int fd, efd, signo, value;
	uint64_t one = 1;

	(void)state;
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &old), 0);
	fd = evloop_signal_fd();
	assert_true(fd >= 0);
	assert_int_equal(evloop_signal_read(fd, &signo, &value), -EAGAIN);
	assert_int_equal(sigqueue(getpid(), SIGUSR1, v), 0);
	assert_int_equal(evloop_signal_read(fd, &signo, &value), 0);
	assert_int_equal(signo, SIGUSR1);
	assert_int_equal(value, 3);
	assert_int_equal(evloop_signal_read(fd, &signo, &value), -EAGAIN);
	close(fd);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(efd >= 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(evloop_signal_read(efd, &signo, &value), 0);
	assert_int_equal(signo, SIGTERM);
	close(efd);
}

/* Deferred work: after the round's callbacks, before the loop waits;
 * arming twice runs once; a cancelled node does not run; a deferred call
 * may defer again; evloop_current names the running loop. */
struct dfr {
	struct evloop_defer a, b, c;
	int order[8], n, again;
	struct evloop *cur;
};

static void d_a(struct evloop *l, void *arg)
{
	struct dfr *d = arg;

	d->order[d->n++] = 'a';
	d->cur = evloop_current();
	if (!d->again++)
		evloop_defer(l, &d->a, d_a, d); /* runs again, same round */
	else
		evloop_stop(l);
}

static void d_c(struct evloop *l, void *arg)
{
	struct dfr *d = arg;

	(void)l;
	d->order[d->n++] = 'c';
}

static void d_timer(struct evloop *l, void *arg)
{
	struct dfr *d = arg;

	d->order[d->n++] = 't';
	evloop_defer(l, &d->a, d_a, d);
	evloop_defer(l, &d->a, d_a, d); /* armed: nothing more */
	evloop_defer(l, &d->b, d_c, d);
	evloop_defer(l, &d->c, d_c, d);
	evloop_defer_cancel(l, &d->b);
}

static void test_deferred_work_runs_once_after_the_round(void **state)
{
	struct evloop *l;
	struct dfr d = {0};

	(void)state;
	assert_int_equal(evloop_new(&l), 0);
	assert_null(evloop_current());
	assert_true(evloop_timer(l, 0, d_timer, &d) > 0);
	assert_int_equal(evloop_run(l, -1), 0);
	assert_null(evloop_current());
	/* t, then c and a (newest first), then a again. */
	assert_int_equal(d.n, 4);
	assert_int_equal(d.order[0], 't');
	assert_int_equal(d.order[1], 'c');
	assert_int_equal(d.order[2], 'a');
	assert_int_equal(d.order[3], 'a');
	assert_ptr_equal(d.cur, l);
	assert_false(d.a.armed || d.b.armed || d.c.armed);
	/* Armed when the loop goes: freed without running. */
	evloop_defer(l, &d.c, d_c, &d);
	evloop_free(l);
	assert_int_equal(d.n, 4);
	assert_false(d.c.armed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_readable_fd_calls_back_and_removal_in_batch_is_safe),
		cmocka_unit_test(test_timers_fire_in_order_and_cancel),
		cmocka_unit_test(test_stop_fd_wakes_an_idle_loop),
		cmocka_unit_test(test_signal_read_gives_sigqueue_value),
		cmocka_unit_test(test_signal_fd_reads_sigterm),
		cmocka_unit_test(test_dilation),
		cmocka_unit_test(test_deferred_work_runs_once_after_the_round),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The driver's link to the manager (testbed/mgrlink.c) against a fake
 * manager on loopback, the driver running in a thread: the manager killed
 * mid-run and started again on the same port, the link connects again and
 * says again every INVOKE, those asked while it was away included, with its
 * session; answers it knew change nothing; STARTED and FAILED after the
 * return count. A manager that never comes back ends the run, saying so. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "fake_peer.h"
#include "mgrlink.h"

struct run {
	struct driver_target t;
	struct mgrlink *ml;
	struct scenario s;
	struct scenario_function fn;
	struct scenario_invocation inv[2];
	size_t ninv;
	struct driver_result r;
	struct err e;
	int ret;
	pthread_t thr;
	uint8_t buf[1 << 16];
};

static void *driver_thread(void *arg)
{
	struct run *r = arg;

	r->ret = driver_run(&r->t, r->inv, r->ninv, &r->s, 10000000000ull, 1.0, NULL,
			    NULL, "test", &r->r, &r->e);
	return NULL;
}

/* Listening on 127.0.0.1:port again, as a manager started again does. */
static int listen_on(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int accept_within(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	if (poll(&p, 1, ms) != 1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* The link open on a fake manager's port, the driver's thread started:
 * *lfd listens, *c is the link's connection. give_up_ms: the link's
 * patience (0: its own). */
static void start(struct run *r, unsigned give_up_ms, int *lfd, int *c,
		  uint16_t *port)
{
	*lfd = fp_listen(port);
	assert_true(*lfd >= 0);
	/* As the manager listens (SO_REUSEADDR): its successor can bind the
	 * port while the old connections wait out TIME_WAIT. */
	close(*lfd);
	*lfd = listen_on(*port);
	snprintf(r->fn.name, sizeof(r->fn.name), "f");
	r->s.nfunctions = 1;
	r->s.functions = &r->fn;
	assert_int_equal(
		mgrlink_open(0x7f000001, *port, &r->s, &r->ml, &r->t, &r->e),
		0);
	if (give_up_ms)
		mgrlink_give_up_after(r->ml, give_up_ms);
	*c = accept_within(*lfd, 2000);
	assert_true(*c >= 0);
	assert_int_equal(pthread_create(&r->thr, NULL, driver_thread, r), 0);
}

static void expect_invoke(struct run *r, int c, uint32_t id, uint32_t count,
			  uint64_t *session)
{
	struct proto_msg m;

	assert_int_equal(fp_read(c, r->buf, sizeof(r->buf), 3000, &m), 0);
	assert_int_equal(m.type, PROTO_INVOKE);
	assert_int_equal(m.id, id);
	assert_int_equal(m.count, count);
	assert_int_equal(m.function.len, 1);
	assert_true(m.session != 0);
	if (*session)
		assert_true(m.session == *session);
	*session = m.session;
}

static void say(int c, enum proto_type type, uint32_t id, uint32_t container,
		uint32_t count)
{
	struct proto_msg m = {.type = type,
			      .id = id,
			      .container = container,
			      .count = count,
			      .t_ns = 1};

	if (type == PROTO_STARTED)
		m.function = proto_str("f");
	assert_int_equal(fp_write(c, &m), 0);
}

static void test_manager_restarted(void **state)
{
	struct run *r = calloc(1, sizeof(*r));
	uint64_t session = 0;
	uint16_t port;
	int lfd, c;

	(void)state;
	r->inv[0] = (struct scenario_invocation){0, 0, 2};
	/* due while the manager is away: asked when it is back */
	r->inv[1] = (struct scenario_invocation){300000000ull, 0, 1};
	r->ninv = 2;
	start(r, 0, &lfd, &c, &port);
	expect_invoke(r, c, 0, 2, &session);
	say(c, PROTO_INVOKED, 0, 100, 1); /* one had no room */
	/* Killed: the link finds no manager for a while. */
	close(c);
	close(lfd);
	usleep(500000);
	lfd = listen_on(port);
	c = accept_within(lfd, 3000);
	assert_true(c >= 0);
	expect_invoke(r, c, 0, 2, &session);
	expect_invoke(r, c, 1, 1, &session);
	/* The answer it knew (its unplaced one is not counted twice), then
	 * the new one, then what became of them. */
	say(c, PROTO_INVOKED, 0, 100, 1);
	say(c, PROTO_INVOKED, 1, 101, 1);
	say(c, PROTO_STARTED, 0, 100, 0);
	say(c, PROTO_FAILED, 0, 101, 0);
	pthread_join(r->thr, NULL);
	if (r->ret)
		fail_msg("driver_run: %s", r->e.msg);
	assert_int_equal(r->r.started, 1);
	assert_int_equal(r->r.n, 2);
	assert_true(r->r.c[0].started_ns != 0);
	assert_int_equal(r->r.c[1].failed, 1);
	assert_int_equal(r->r.nunplaced, 1);
	assert_int_equal(r->r.unplaced[0].count, 1);
	assert_true(r->t.fd >= 0); /* the new connection's */
	close(c);
	close(lfd);
	driver_result_free(&r->r);
	mgrlink_close(r->ml);
	free(r);
}

static void test_manager_never_back(void **state)
{
	struct run *r = calloc(1, sizeof(*r));
	uint64_t session = 0;
	uint16_t port;
	int lfd, c;

	(void)state;
	r->inv[0] = (struct scenario_invocation){0, 0, 1};
	r->ninv = 1;
	start(r, 300, &lfd, &c, &port);
	expect_invoke(r, c, 0, 1, &session);
	close(c);
	close(lfd);
	pthread_join(r->thr, NULL);
	assert_int_equal(r->ret, -ECONNRESET);
	if (!strstr(r->e.msg,
		    "the manager went away (closed the connection) and did "
		    "not come back in 300 ms of the world's time"))
		fail_msg("got \"%s\"", r->e.msg);
	assert_int_equal(r->t.fd, -1);
	driver_result_free(&r->r);
	mgrlink_close(r->ml);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manager_restarted),
		cmocka_unit_test(test_manager_never_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The manager, black-box: a real manager_run on loopback in a thread,
 * fake agents and a fake driver over sockets. What it checks: GET_STATUS
 * counts registered agents; a SUSPECT from a child about its parent takes
 * the parent out of the tree (its children get new parents, none of them
 * the accused) and out of placement; a SUSPECT about a VM that is not the
 * reporter's parent is ignored; a lost VM's containers that had not started
 * are placed again elsewhere with their ids, or failed to the driver when
 * no VM has room. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_peer.h"
#include "manager.h"
#include "proto.h"

#define NAGENTS 4
#define FN	"f"

struct agent {
	int fd;
	uint16_t port;	    /* the block port it claims */
	uint32_t container; /* its PROVISION's, UINT32_MAX: none */
	struct proto_peer parent;
};

struct t {
	struct manager_opts o;
	int stop_fd; /* an eventfd: written to stop the manager */
	pthread_t thr;
	int ret;
	struct err e;
	char events[64];
	struct agent a[NAGENTS];
	int drv;
	uint8_t buf[1 << 16];
};

static void *manager_thread(void *arg)
{
	struct t *t = arg;

	t->ret = manager_run(&t->o, t->stop_fd, &t->e);
	return NULL;
}

static int connect_retry(uint16_t port)
{
	int i, fd;

	for (i = 0; i < 100; i++) {
		fd = fp_connect(port);
		if (fd >= 0)
			return fd;
		usleep(20000);
	}
	return -1;
}

static uint32_t status(struct t *t)
{
	struct proto_msg m = {.type = PROTO_GET_STATUS, .id = 77};

	assert_int_equal(fp_write(t->drv, &m), 0);
	assert_int_equal(fp_read(t->drv, t->buf, sizeof(t->buf), 2000, &m), 0);
	assert_int_equal(m.type, PROTO_STATUS);
	assert_int_equal(m.id, 77);
	return m.count;
}

/* Reads what the manager sent agent a within ms: PROVISION and PARENT are
 * recorded; returns the number of PARENT frames. */
static unsigned drain(struct t *t, struct agent *a, unsigned ms)
{
	struct proto_msg m;
	unsigned parents = 0;

	while (!fp_read(a->fd, t->buf, sizeof(t->buf), ms, &m)) {
		if (m.type == PROTO_PROVISION) {
			a->container = m.container;
			a->parent = m.parent;
		} else if (m.type == PROTO_PARENT) {
			a->parent = m.parent;
			parents++;
		}
	}
	return parents;
}

static void invoke(struct t *t, uint32_t count, uint32_t *placed)
{
	struct proto_msg m = {.type = PROTO_INVOKE, .id = 9};

	m.function = proto_str(FN);
	m.count = count;
	assert_int_equal(fp_write(t->drv, &m), 0);
	assert_int_equal(fp_read(t->drv, t->buf, sizeof(t->buf), 2000, &m), 0);
	*placed = m.type == PROTO_INVOKED ? m.count : 0;
}

static void start(struct t *t)
{
	uint16_t port;
	int lfd = fp_listen(&port);
	unsigned i;

	assert_true(lfd >= 0);
	close(lfd); /* the manager binds it again */
	snprintf(t->events, sizeof(t->events), "/tmp/fnet-test-mgr.XXXXXX");
	assert_true(mkstemp(t->events) >= 0);
	t->o = (struct manager_opts){
		.addr = 0x7f000001,
		.port = port,
		.strategy = PROTO_STRATEGY_FAASNET,
		.nfunctions = 1,
		.max_functions_per_vm = 20,
		.max_containers_per_vm = 1,
		/* no heartbeat is echoed here: nobody may die of it */
		.heartbeat_ms = 60000,
		.dead_ms = 600000,
		.seed = 1,
		.events = t->events,
	};
	t->o.functions[0].name = FN;
	t->o.functions[0].image = "127.0.0.1:1/f/x:v1";
	t->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(t->stop_fd >= 0);
	assert_int_equal(pthread_create(&t->thr, NULL, manager_thread, t), 0);
	t->drv = connect_retry(port);
	assert_true(t->drv >= 0);
	assert_int_equal(status(t), 0);
	for (i = 0; i < NAGENTS; i++) {
		struct proto_msg h = {.type = PROTO_HELLO};
		char name[16];

		snprintf(name, sizeof(name), "vm%u", i);
		t->a[i].fd = fp_connect(port);
		assert_true(t->a[i].fd >= 0);
		t->a[i].port = (uint16_t)(9000 + i);
		t->a[i].container = UINT32_MAX;
		h.vm = proto_str(name);
		h.addr = 0x7f000001;
		h.port = t->a[i].port;
		assert_int_equal(fp_write(t->a[i].fd, &h), 0);
	}
}

static void stop(struct t *t)
{
	unsigned i;

	uint64_t one = 1;

	assert_int_equal(write(t->stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(t->thr, NULL);
	close(t->stop_fd);
	for (i = 0; i < NAGENTS; i++)
		if (t->a[i].fd >= 0)
			close(t->a[i].fd);
	close(t->drv);
	assert_int_equal(t->ret, 0);
}

static void suspect(struct agent *from, struct proto_peer accused)
{
	struct proto_msg m = {.type = PROTO_SUSPECT};

	m.function = proto_str(FN);
	m.parent = accused;
	m.message = proto_str("a block failed its digest");
	assert_int_equal(fp_write(from->fd, &m), 0);
}

static void test_status_counts_registered_agents(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	uint32_t n = 0;
	int i;

	(void)state;
	start(t);
	/* HELLOs are on their way: the count grows to every agent. */
	for (i = 0; i < 100 && (n = status(t)) < NAGENTS; i++)
		usleep(10000);
	assert_int_equal(n, NAGENTS);
	close(t->a[3].fd);
	t->a[3].fd = -1;
	for (i = 0; i < 100 && (n = status(t)) == NAGENTS; i++)
		usleep(10000);
	assert_int_equal(n, NAGENTS - 1);
	stop(t);
	unlink(t->events);
	free(t);
}

static void test_suspect_takes_parent_out(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct agent *root = NULL, *kids[2] = {NULL, NULL}, *idle = NULL;
	struct proto_peer accused;
	uint32_t placed, n = 0;
	unsigned i, nk = 0, parents = 0;

	(void)state;
	start(t);
	for (i = 0; i < 100 && (n = status(t)) < NAGENTS; i++)
		usleep(10000);
	assert_int_equal(n, NAGENTS);
	invoke(t, 3, &placed);
	assert_int_equal(placed, 3);
	for (i = 0; i < NAGENTS; i++) {
		struct agent *a = &t->a[i];

		drain(t, a, 200);
		if (a->container == UINT32_MAX)
			idle = a;
		else if (a->parent.addr == 0)
			root = a;
		else
			kids[nk++] = a;
	}
	assert_non_null(root);
	assert_non_null(idle);
	assert_int_equal(nk, 2);
	assert_int_equal(kids[0]->parent.port, root->port);
	accused = kids[0]->parent;

	/* Not its parent: ignored, nobody moves. */
	suspect(kids[0], (struct proto_peer){0x7f000001, kids[1]->port});
	for (i = 0; i < NAGENTS; i++)
		parents += drain(t, &t->a[i], 200);
	assert_int_equal(parents, 0);

	/* Its parent: out of the tree; both children get new parents, none
	 * of them the accused. */
	suspect(kids[0], accused);
	for (i = 0; i < 2; i++) {
		assert_true(drain(t, kids[i], 300) >= 1);
		assert_int_not_equal(kids[i]->parent.port, root->port);
	}
	assert_int_equal(drain(t, root, 100), 0);

	/* Out of placement too: with the accused's container released, it
	 * and the idle VM have room, but only the idle VM is used. */
	{
		struct proto_msg r = {.type = PROTO_RELEASE,
				      .container = root->container};

		assert_int_equal(fp_write(t->drv, &r), 0);
	}
	root->container = idle->container = UINT32_MAX;
	invoke(t, 2, &placed);
	assert_int_equal(placed, 1);
	drain(t, idle, 200);
	drain(t, root, 100);
	assert_int_not_equal(idle->container, UINT32_MAX);
	assert_int_equal(root->container, UINT32_MAX);
	stop(t);
	unlink(t->events);
	free(t);
}

/* Reads frames the driver gets until one of type comes within ms: 0 with
 * it in *m, or -1. */
static int drv_next(struct t *t, enum proto_type type, unsigned ms,
		    struct proto_msg *m)
{
	while (!fp_read(t->drv, t->buf, sizeof(t->buf), ms, m))
		if (m->type == type)
			return 0;
	return -1;
}

static int log_has(struct t *t, const char *s)
{
	char line[4096];
	FILE *f = fopen(t->events, "r");
	int found = 0;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

static void wait_registered(struct t *t, uint32_t want)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < 100 && (n = status(t)) < want; i++)
		usleep(10000);
	assert_int_equal(n, want);
}

static void started(struct agent *a)
{
	struct proto_msg m = {.type = PROTO_STARTED,
			      .container = a->container,
			      .t_ns = 12345};

	m.function = proto_str(FN);
	assert_int_equal(fp_write(a->fd, &m), 0);
}

/* A VM dies: its container that had not started goes on another VM with
 * the same id; the one that had started is lost, not placed again. */
static void test_lost_vm_containers_placed_again(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct agent *up = NULL, *waiting = NULL, *idle[2];
	struct proto_msg m;
	uint32_t placed, was;
	unsigned i, ni = 0, got = 0;

	(void)state;
	start(t);
	wait_registered(t, NAGENTS);
	invoke(t, 2, &placed);
	assert_int_equal(placed, 2);
	for (i = 0; i < NAGENTS; i++) {
		struct agent *a = &t->a[i];

		drain(t, a, 200);
		if (a->container == UINT32_MAX)
			idle[ni++] = a;
		else if (!up)
			up = a;
		else
			waiting = a;
	}
	assert_int_equal(ni, 2);
	started(up);
	assert_int_equal(drv_next(t, PROTO_STARTED, 2000, &m), 0);
	assert_int_equal(m.container, up->container);
	was = waiting->container;
	close(up->fd);
	close(waiting->fd);
	up->fd = waiting->fd = -1;
	for (i = 0; i < 2; i++) {
		drain(t, idle[i], 300);
		if (idle[i]->container != UINT32_MAX) {
			assert_int_equal(idle[i]->container, was);
			got++;
		}
	}
	assert_int_equal(got, 1);
	assert_int_not_equal(drv_next(t, PROTO_FAILED, 200, &m), 0);
	stop(t);
	assert_true(log_has(t, "\"replaced\""));
	assert_true(log_has(t, "\"container_lost\""));
	assert_true(log_has(t, "\"replaces\""));
	unlink(t->events);
	free(t);
}

/* A VM dies with its container not started and every other VM full: the
 * driver is told the container failed. */
static void test_lost_vm_no_room_fails_container(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct proto_msg m;
	uint32_t placed, was;
	unsigned i;

	(void)state;
	start(t);
	wait_registered(t, NAGENTS);
	invoke(t, NAGENTS, &placed);
	assert_int_equal(placed, NAGENTS);
	for (i = 0; i < NAGENTS; i++)
		drain(t, &t->a[i], 200);
	was = t->a[1].container;
	assert_int_not_equal(was, UINT32_MAX);
	close(t->a[1].fd);
	t->a[1].fd = -1;
	assert_int_equal(drv_next(t, PROTO_FAILED, 2000, &m), 0);
	assert_int_equal(m.container, was);
	stop(t);
	assert_true(log_has(t, "\"replace_failed\""));
	unlink(t->events);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_counts_registered_agents),
		cmocka_unit_test(test_suspect_takes_parent_out),
		cmocka_unit_test(test_lost_vm_containers_placed_again),
		cmocka_unit_test(test_lost_vm_no_room_fails_container),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

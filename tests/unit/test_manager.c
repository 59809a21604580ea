/* The manager, black-box: a real manager_run on loopback in a thread,
 * fake agents and a fake driver over sockets. What it checks: GET_STATUS
 * counts registered agents; a SUSPECT of bad bytes from a child about its
 * parent takes the parent out of the tree (its children get new parents,
 * none of them the accused) and out of placement; a SUSPECT about a VM
 * that is not the reporter's parent is ignored; a SUSPECT of
 * unresponsiveness moves its reporter to the registry, and takes the
 * accused out only on two children's word, unless the accused itself
 * waits on an unresponsive parent. */
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

#define NAGENTS	   4
#define MAX_AGENTS 8
#define FN	   "f"
/* The manager's suspect window in these tests (world ms). */
#define WINDOW_MS 300

struct agent {
	char name[16];
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
	unsigned n;
	struct agent a[MAX_AGENTS];
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

static void start_n(struct t *t, unsigned n)
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
		.suspect_window_ms = WINDOW_MS,
	};
	t->o.functions[0].name = FN;
	t->o.functions[0].image = "127.0.0.1:1/f/x:v1";
	t->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(t->stop_fd >= 0);
	assert_int_equal(pthread_create(&t->thr, NULL, manager_thread, t), 0);
	t->drv = connect_retry(port);
	assert_true(t->drv >= 0);
	assert_int_equal(status(t), 0);
	t->n = n;
	for (i = 0; i < n; i++) {
		struct proto_msg h = {.type = PROTO_HELLO};
		char *name = t->a[i].name;

		snprintf(name, sizeof(t->a[i].name), "vm%u", i);
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

static void start(struct t *t)
{
	start_n(t, NAGENTS);
}

static void stop(struct t *t)
{
	unsigned i;

	uint64_t one = 1;

	assert_int_equal(write(t->stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(t->thr, NULL);
	close(t->stop_fd);
	for (i = 0; i < t->n; i++)
		close(t->a[i].fd);
	close(t->drv);
	unlink(t->events);
	assert_int_equal(t->ret, 0);
}

static void suspect_kind(struct agent *from, struct proto_peer accused,
			 enum proto_suspect_kind kind)
{
	struct proto_msg m = {.type = PROTO_SUSPECT, .kind = kind};

	m.function = proto_str(FN);
	m.parent = accused;
	m.message = proto_str(kind == PROTO_SUSPECT_BAD_BYTES
				      ? "a block failed its digest"
				      : "the parent did not answer");
	assert_int_equal(fp_write(from->fd, &m), 0);
}

static void suspect(struct agent *from, struct proto_peer accused)
{
	suspect_kind(from, accused, PROTO_SUSPECT_BAD_BYTES);
}

static void unresponsive(struct agent *from, const struct agent *accused)
{
	suspect_kind(from, (struct proto_peer){0x7f000001, accused->port},
		     PROTO_SUSPECT_UNRESPONSIVE);
}

/* Whether a line of the manager's timeline holds s, and vm's name when
 * vm is not NULL (it writes a round's lines when the round ends). */
static int log_line(struct t *t, const char *s, const struct agent *vm)
{
	char line[1024], name[32] = "";
	FILE *f = fopen(t->events, "r");
	int found = 0;

	assert_non_null(f);
	if (vm)
		snprintf(name, sizeof(name), "\"vm\":\"%s\"", vm->name);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, s) && strstr(line, name);
	fclose(f);
	return found;
}

static int log_has(struct t *t, const char *s)
{
	return log_line(t, s, NULL);
}

/* Every agent registered, n containers placed; each agent's place read. */
static void placed(struct t *t, uint32_t n)
{
	uint32_t got = 0, up = 0;
	unsigned i;

	for (i = 0; i < 100 && (up = status(t)) < t->n; i++)
		usleep(10000);
	assert_int_equal(up, t->n);
	invoke(t, n, &got);
	assert_int_equal(got, n);
	for (i = 0; i < t->n; i++)
		drain(t, &t->a[i], 200);
}

/* The agent whose block port the peer names, or NULL (the registry). */
static struct agent *at(struct t *t, struct proto_peer p)
{
	unsigned i;

	for (i = 0; p.addr && i < t->n; i++)
		if (t->a[i].port == p.port)
			return &t->a[i];
	return NULL;
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
	free(t);
}

/* Four agents, three containers: a root, its two children, an idle VM. */
static void two_levels(struct t *t, struct agent **root, struct agent *kids[2],
		       struct agent **idle)
{
	unsigned i, nk = 0;

	start(t);
	placed(t, 3);
	*root = *idle = NULL;
	for (i = 0; i < t->n; i++) {
		struct agent *a = &t->a[i];

		if (a->container == UINT32_MAX)
			*idle = a;
		else if (!at(t, a->parent))
			*root = a;
		else
			kids[nk++] = a;
	}
	assert_non_null(*root);
	assert_non_null(*idle);
	assert_int_equal(nk, 2);
	assert_int_equal(kids[0]->parent.port, (*root)->port);
}

/* Out of placement: with the accused root's container released, it and
 * the idle VM have room, but only the idle VM is used. */
static void not_placed_again(struct t *t, struct agent *root,
			     struct agent *idle)
{
	struct proto_msg r = {.type = PROTO_RELEASE,
			      .container = root->container};
	uint32_t got;

	assert_int_equal(fp_write(t->drv, &r), 0);
	root->container = idle->container = UINT32_MAX;
	invoke(t, 2, &got);
	assert_int_equal(got, 1);
	drain(t, idle, 200);
	drain(t, root, 100);
	assert_int_not_equal(idle->container, UINT32_MAX);
	assert_int_equal(root->container, UINT32_MAX);
}

static void test_suspect_takes_parent_out(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct agent *root, *kids[2], *idle;
	struct proto_peer accused;
	unsigned i, parents = 0;

	(void)state;
	two_levels(t, &root, kids, &idle);
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
	not_placed_again(t, root, idle);
	stop(t);
	free(t);
}

/* Unresponsive, one child's word: the reporter is moved to the registry
 * (PARENT, address 0), and nothing else moves, even past the window: its
 * own link may be what was slow. The same child again changes nothing. A
 * second child's word: once the window has passed with the accused not
 * reporting a parent of its own, it is out of the tree (its children get
 * new parents, not it) and out of placement. */
static void test_unresponsive_needs_two_children(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct agent *root, *kids[2], *idle;
	unsigned i;

	(void)state;
	two_levels(t, &root, kids, &idle);
	unresponsive(kids[0], root);
	assert_int_equal(drain(t, kids[0], 200), 1);
	assert_int_equal(kids[0]->parent.addr, 0);
	usleep((WINDOW_MS + 200) * 1000);
	unresponsive(kids[0], root); /* ignored: the same child */
	assert_int_equal(drain(t, kids[1], 200), 0);
	assert_int_equal(drain(t, root, 10), 0);
	assert_false(log_has(t, "\"vm_distrusted\""));

	unresponsive(kids[1], root);
	assert_int_equal(drain(t, kids[1], 100), 1);
	assert_int_equal(kids[1]->parent.addr, 0);
	/* Out once the window has passed. */
	for (i = 0; i < 2; i++) {
		assert_true(drain(t, kids[i], WINDOW_MS + 300) >= 1);
		assert_int_not_equal(kids[i]->parent.port, root->port);
	}
	assert_true(log_has(t, "\"kind\":\"unresponsive\""));
	not_placed_again(t, root, idle);
	stop(t);
	free(t);
}

/* A tree of three levels: root R, its children K (with children G0, G1)
 * and K1. R is the unresponsive one, which makes K slow to G0 and G1. */
struct three {
	struct agent *r, *k, *k1, *g[2];
};

static void three_levels(struct t *t, struct three *x)
{
	unsigned i, ng = 0;

	memset(x, 0, sizeof(*x));
	start_n(t, 6);
	placed(t, 5);
	for (i = 0; i < t->n; i++)
		if (t->a[i].container != UINT32_MAX && !at(t, t->a[i].parent))
			x->r = &t->a[i];
	assert_non_null(x->r);
	for (i = 0; i < t->n; i++) {
		struct agent *p = at(t, t->a[i].parent);

		if (p && p != x->r)
			x->g[ng++] = &t->a[i];
	}
	assert_int_equal(ng, 2);
	x->k = at(t, x->g[0]->parent);
	assert_ptr_equal(x->k, at(t, x->g[1]->parent));
	for (i = 0; i < t->n; i++)
		if (at(t, t->a[i].parent) == x->r && &t->a[i] != x->k)
			x->k1 = &t->a[i];
	assert_non_null(x->k1);
}

/* K's children report it before K reports R (a cascade: their reports
 * may well come first). K's own report forgives it: past the window it
 * is still trusted, and R, reported by K and K1, is out. */
static void test_unresponsive_victim_forgiven(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct three x;

	(void)state;
	three_levels(t, &x);
	unresponsive(x.g[0], x.k);
	unresponsive(x.g[1], x.k);
	assert_int_equal(drain(t, x.g[0], 100), 1);
	assert_int_equal(drain(t, x.g[1], 100), 1);
	unresponsive(x.k, x.r);
	assert_int_equal(drain(t, x.k, 100), 1);
	unresponsive(x.k1, x.r);
	assert_int_equal(drain(t, x.k1, 100), 1);
	/* Past the window: R out (K gets a new parent), K not. */
	assert_true(drain(t, x.k, WINDOW_MS + 300) >= 1);
	assert_int_not_equal(x.k->parent.port, x.r->port);
	assert_true(log_line(t, "\"suspect_forgiven\"", x.k));
	assert_true(log_line(t, "\"vm_distrusted\"", x.r));
	assert_false(log_line(t, "\"vm_distrusted\"", x.k));
	stop(t);
	free(t);
}

/* K reports R first: its children's reports, within the window, are not
 * counted against it at all. */
static void test_unresponsive_victim_reported_first(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct three x;

	(void)state;
	three_levels(t, &x);
	unresponsive(x.k, x.r);
	assert_int_equal(drain(t, x.k, 100), 1);
	unresponsive(x.g[0], x.k);
	unresponsive(x.g[1], x.k);
	assert_int_equal(drain(t, x.g[0], 100), 1);
	assert_int_equal(drain(t, x.g[1], 100), 1);
	/* Past the window: nobody moved; R had one report only. */
	assert_int_equal(drain(t, x.g[0], WINDOW_MS + 300), 0);
	assert_int_equal(drain(t, x.g[1], 10), 0);
	assert_int_equal(drain(t, x.k1, 10), 0);
	assert_true(log_has(t, "waits on an unresponsive parent itself"));
	assert_false(log_has(t, "\"vm_distrusted\""));
	stop(t);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_counts_registered_agents),
		cmocka_unit_test(test_suspect_takes_parent_out),
		cmocka_unit_test(test_unresponsive_needs_two_children),
		cmocka_unit_test(test_unresponsive_victim_forgiven),
		cmocka_unit_test(test_unresponsive_victim_reported_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

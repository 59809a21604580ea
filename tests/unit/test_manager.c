/* The manager, black-box: a real manager_run on loopback in a thread,
 * fake agents and a fake driver over sockets. What it checks: GET_STATUS
 * counts registered agents; a SUSPECT of bad bytes from a child about its
 * parent takes the parent out of the tree (its children get new parents,
 * none of them the accused) and out of placement; a SUSPECT about a VM
 * that is not the reporter's parent is ignored; a SUSPECT of
 * unresponsiveness moves its reporter to the registry, and takes the
 * accused out only on two children's word, unless the accused itself
 * waits on an unresponsive parent; a lost VM's containers that had not
 * started are placed again elsewhere with their ids, or failed to the
 * driver when no VM has room; a manager started again on its journal
 * keeps its trees. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_peer.h"
#include "manager.h"
#include "proto.h"
#include "read_text.h"

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
	uint64_t incarnation; /* HELLO's t_ns: when its process started */
};

struct t {
	struct manager_opts o;
	int stop_fd; /* an eventfd: written to stop the manager's thread */
	pthread_t thr;
	pid_t pid; /* the manager's process (run_child), or 0: a thread */
	int ret;
	struct err e;
	char events[64], journal[64], dot[64];
	unsigned n; /* agents */
	struct agent a[MAX_AGENTS];
	int drv;
	uint8_t buf[1 << 16];
};

/* A manager process a failed test left running: ended by its PID in the
 * teardown. */
static pid_t g_child;

static int end_child(void **state)
{
	(void)state;
	if (g_child > 0) {
		kill(g_child, SIGKILL);
		waitpid(g_child, NULL, 0);
	}
	g_child = 0;
	return 0;
}

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

/* Reads frames the driver gets until one of type with id comes within
 * ms (what else comes, forwarded STARTED and FAILED, is passed over): 0
 * with it in *m, or -1. */
static int drv_answer(struct t *t, enum proto_type type, uint32_t id,
		      unsigned ms, struct proto_msg *m)
{
	while (!fp_read(t->drv, t->buf, sizeof(t->buf), ms, m))
		if (m->type == type && m->id == id)
			return 0;
	return -1;
}

/* As drv_answer, any id. */
static int drv_next(struct t *t, enum proto_type type, unsigned ms,
		    struct proto_msg *m)
{
	while (!fp_read(t->drv, t->buf, sizeof(t->buf), ms, m))
		if (m->type == type)
			return 0;
	return -1;
}

static uint32_t status(struct t *t)
{
	struct proto_msg m = {.type = PROTO_GET_STATUS, .id = 77};

	assert_int_equal(fp_write(t->drv, &m), 0);
	assert_int_equal(drv_answer(t, PROTO_STATUS, 77, 2000, &m), 0);
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

/* INVOKE of count containers (session 0: none); returns how many were
 * placed, and *first the first id. */
static uint32_t invoke_as(struct t *t, uint64_t session, uint32_t id,
			  uint32_t count, uint32_t *first)
{
	struct proto_msg m = {.type = PROTO_INVOKE, .id = id};

	m.function = proto_str(FN);
	m.count = count;
	m.session = session;
	assert_int_equal(fp_write(t->drv, &m), 0);
	while (!fp_read(t->drv, t->buf, sizeof(t->buf), 2000, &m))
		if ((m.type == PROTO_INVOKED || m.type == PROTO_ERROR) &&
		    m.id == id)
			break;
	if (first)
		*first = m.container;
	return m.type == PROTO_INVOKED ? m.count : 0;
}

static void invoke(struct t *t, uint32_t count, uint32_t *placed)
{
	*placed = invoke_as(t, 0, 9, count, NULL);
}

static void tmp_name(char *path, size_t cap, const char *what)
{
	int fd;

	snprintf(path, cap, "/tmp/fnet-test-mgr-%s.XXXXXX", what);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

/* The manager's options, on a free port, for n agents (not yet
 * connected). */
static void opts(struct t *t, unsigned n)
{
	uint16_t port;
	int lfd = fp_listen(&port);
	unsigned i;

	assert_true(lfd >= 0);
	close(lfd); /* the manager binds it again */
	assert_true(n <= MAX_AGENTS);
	tmp_name(t->events, sizeof(t->events), "events");
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
	t->n = n;
	for (i = 0; i < n; i++) {
		t->a[i].fd = -1;
		t->a[i].port = (uint16_t)(9000 + i);
		t->a[i].container = UINT32_MAX;
		t->a[i].incarnation = 1000 + i;
	}
}

/* The manager in a thread of this process, and the driver connected. */
static void run_thread(struct t *t)
{
	t->pid = 0;
	t->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(t->stop_fd >= 0);
	assert_int_equal(pthread_create(&t->thr, NULL, manager_thread, t), 0);
	t->drv = connect_retry(t->o.port);
	assert_true(t->drv >= 0);
}

/* The manager as a process of its own, as faasnet-manager runs it (SIGTERM
 * ends it), for a test to SIGKILL; and the driver connected. */
static void run_child(struct t *t)
{
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (!t->pid) {
		int sfd;

		/* Not outliving a test that died. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sfd = evloop_signal_fd();
		_exit(sfd < 0 || manager_run(&t->o, sfd, &t->e) ? 1 : 0);
	}
	g_child = t->pid;
	t->drv = connect_retry(t->o.port);
	assert_true(t->drv >= 0);
}

/* Agent i connects and says HELLO. */
static void hello(struct t *t, unsigned i)
{
	struct proto_msg h = {.type = PROTO_HELLO};
	char *name = t->a[i].name;

	snprintf(name, sizeof(t->a[i].name), "vm%u", i);
	t->a[i].fd = connect_retry(t->o.port);
	assert_true(t->a[i].fd >= 0);
	h.vm = proto_str(name);
	h.addr = 0x7f000001;
	h.port = t->a[i].port;
	h.t_ns = t->a[i].incarnation;
	assert_int_equal(fp_write(t->a[i].fd, &h), 0);
}

static void start_n(struct t *t, unsigned n)
{
	unsigned i;

	opts(t, n);
	run_thread(t);
	assert_int_equal(status(t), 0);
	for (i = 0; i < t->n; i++)
		hello(t, i);
}

static void start(struct t *t)
{
	start_n(t, NAGENTS);
}

/* Ends the manager (as SIGTERM or SIGINT would: it writes its trees) and
 * the driver's connection; the agents' stay. */
static void halt(struct t *t)
{
	uint64_t one = 1;
	int st;

	if (t->pid) {
		assert_int_equal(kill(t->pid, SIGTERM), 0);
		assert_int_equal(waitpid(t->pid, &st, 0), t->pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		t->pid = g_child = 0;
	} else {
		assert_int_equal(write(t->stop_fd, &one, sizeof(one)),
				 sizeof(one));
		pthread_join(t->thr, NULL);
		close(t->stop_fd);
		if (t->ret)
			fail_msg("manager_run: %s", t->e.msg);
	}
	close(t->drv);
	t->drv = -1;
}

static void close_agents(struct t *t)
{
	unsigned i;

	for (i = 0; i < t->n; i++)
		if (t->a[i].fd >= 0) {
			close(t->a[i].fd);
			t->a[i].fd = -1;
		}
}

static void stop(struct t *t)
{
	halt(t);
	close_agents(t);
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
	unlink(t->events);
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
	unlink(t->events);
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
	unlink(t->events);
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
	unlink(t->events);
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
	unlink(t->events);
	free(t);
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
static void test_lost_vm_no_room_waits(void **state)
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
	/* No room: it waits, not failed to the driver ... */
	assert_int_equal(drv_next(t, PROTO_FAILED, 300, &m), -1);
	assert_true(log_has(t, "\"replace_waiting\""));
	/* ... until a VM with room registers: the agent of vm1 started
	 * again, empty, gets it with its id. */
	t->a[1].incarnation = 2001;
	t->a[1].container = UINT32_MAX;
	hello(t, 1);
	drain(t, &t->a[1], 500);
	assert_int_equal(t->a[1].container, was);
	stop(t);
	assert_true(log_has(t, "\"replaced\""));
	assert_false(log_has(t, "\"replace_failed\""));
	unlink(t->events);
	free(t);
}

static unsigned count_of(const char *s, const char *what)
{
	unsigned n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s += strlen(what);
	}
	return n;
}

/* A manager started again on the journal of one that placed, released and
 * lost VMs has the same trees: the same parent for every VM (the DOT both
 * write as they end). Restored VMs count as up until the heartbeat deadline,
 * and are lost by it when they never say HELLO again. */
static void test_journal_replay_same_trees(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct agent *root = NULL, *lost = NULL;
	char *before, *after;
	uint32_t placed, n = 0;
	unsigned i;

	(void)state;
	opts(t, 7);
	tmp_name(t->journal, sizeof(t->journal), "journal");
	tmp_name(t->dot, sizeof(t->dot), "dot");
	unlink(t->journal);
	t->o.journal = t->journal;
	t->o.dot = t->dot;
	run_thread(t);
	for (i = 0; i < t->n; i++)
		hello(t, i);
	wait_registered(t, t->n);
	invoke(t, 5, &placed);
	assert_int_equal(placed, 5);
	for (i = 0; i < t->n; i++) {
		drain(t, &t->a[i], 100);
		if (t->a[i].container == UINT32_MAX)
			continue;
		if (!t->a[i].parent.addr)
			root = &t->a[i];
		else if (!lost)
			lost = &t->a[i];
	}
	assert_non_null(root);
	assert_non_null(lost);
	/* The root's container released: it leaves the tree. */
	{
		struct proto_msg r = {.type = PROTO_RELEASE,
				      .container = root->container};

		assert_int_equal(fp_write(t->drv, &r), 0);
	}
	/* Another VM lost: its container goes on an idle one. */
	close(lost->fd);
	lost->fd = -1;
	for (i = 0; i < t->n; i++)
		if (t->a[i].fd >= 0)
			drain(t, &t->a[i], 100);
	invoke(t, 1, &placed);
	assert_int_equal(placed, 1);
	halt(t);
	close_agents(t);
	before = read_text(t->dot);
	assert_true(count_of(before, "->") >= 5); /* 5 VMs below the registry */

	/* The same journal, a new manager: the same trees. */
	unlink(t->dot);
	run_thread(t);
	assert_int_equal(status(t), t->n - 1);
	halt(t);
	after = read_text(t->dot);
	assert_string_equal(before, after);

	/* Nobody says HELLO again: lost by the deadline. */
	t->o.heartbeat_ms = 50;
	t->o.dead_ms = 300;
	run_thread(t);
	for (i = 0; i < 100 && (n = status(t)) > 0; i++)
		usleep(20000);
	assert_int_equal(n, 0);
	halt(t);
	assert_true(log_has(t, "\"journal_replayed\""));
	free(before);
	free(after);
	unlink(t->dot);
	unlink(t->journal);
	unlink(t->events);
	free(t);
}

/* A real manager process, SIGKILLed mid-run and started again with the
 * same arguments and journal. Agents that kept running reconnect and keep
 * their places (the same containers, the same parents); one whose process
 * restarted (another HELLO t_ns) is a new, empty VM, and its container not
 * yet up goes elsewhere with its id. A STARTED an agent repeats reaches
 * the driver again, and the driver's INVOKE asked again is answered as
 * before, not placed again: the next INVOKE gets the next ids. */
static void test_restart_after_sigkill(void **state)
{
	const uint64_t session = 0x5eed5eed5eedull;
	struct t *t = calloc(1, sizeof(*t));
	struct agent *a = NULL, *b = NULL, *c = NULL, *d = NULL, *x;
	struct proto_peer pb;
	struct proto_msg m;
	uint32_t first, again, next, cb, cc;
	unsigned i;
	int st;

	(void)state;
	opts(t, 4);
	tmp_name(t->journal, sizeof(t->journal), "journal");
	unlink(t->journal);
	t->o.journal = t->journal;
	run_child(t);
	for (i = 0; i < t->n; i++)
		hello(t, i);
	wait_registered(t, t->n);
	assert_int_equal(invoke_as(t, session, 1, 3, &first), 3);
	for (i = 0; i < t->n; i++) {
		x = &t->a[i];
		drain(t, x, 100);
		if (x->container == UINT32_MAX)
			d = x;
		else if (!x->parent.addr)
			a = x;
		else if (!b)
			b = x;
		else
			c = x;
	}
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_non_null(d);
	pb = b->parent;
	assert_int_equal(pb.port, a->port);
	cb = b->container;
	cc = c->container;
	started(a);
	assert_int_equal(drv_next(t, PROTO_STARTED, 2000, &m), 0);

	assert_int_equal(kill(t->pid, SIGKILL), 0);
	assert_int_equal(waitpid(t->pid, &st, 0), t->pid);
	assert_true(WIFSIGNALED(st));
	t->pid = g_child = 0;
	close(t->drv);
	close_agents(t);

	run_child(t);
	c->incarnation++; /* its agent restarted meanwhile */
	for (i = 0; i < t->n; i++) {
		/* What it is told again, from nothing (a keeps its
		 * container's id for its STARTED). */
		if (&t->a[i] != a)
			t->a[i].container = UINT32_MAX;
		t->a[i].parent = (struct proto_peer){1, 1};
		hello(t, i);
	}
	started(a); /* agents repeat theirs on reconnecting */
	assert_int_equal(drv_next(t, PROTO_STARTED, 2000, &m), 0);
	assert_int_equal(m.container, a->container);
	for (i = 0; i < t->n; i++)
		drain(t, &t->a[i], 200);
	/* a and b kept their places, told again */
	assert_int_equal(a->parent.addr, 0);
	assert_int_equal(b->container, cb);
	assert_int_equal(b->parent.addr, pb.addr);
	assert_int_equal(b->parent.port, pb.port);
	/* c's container went to d, with its id */
	assert_int_equal(c->container, UINT32_MAX);
	assert_int_equal(d->container, cc);

	/* The driver asks again: the same answer, then what it missed. */
	assert_int_equal(invoke_as(t, session, 1, 3, &again), 3);
	assert_int_equal(again, first);
	assert_int_equal(drv_next(t, PROTO_STARTED, 2000, &m), 0);
	assert_int_equal(m.container, a->container);
	/* Nothing was placed for the repeat. */
	assert_int_equal(invoke_as(t, session, 2, 1, &next), 1);
	assert_int_equal(next, first + 3);
	drain(t, c, 200);
	assert_int_equal(c->container, first + 3);
	assert_int_equal(status(t), t->n);
	halt(t);
	close_agents(t);
	assert_true(log_has(t, "\"journal_replayed\""));
	unlink(t->journal);
	unlink(t->events);
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
		cmocka_unit_test(test_lost_vm_containers_placed_again),
		cmocka_unit_test(test_lost_vm_no_room_waits),
		cmocka_unit_test(test_journal_replay_same_trees),
		cmocka_unit_test_teardown(test_restart_after_sigkill,
					  end_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

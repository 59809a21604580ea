#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "eventlog.h"
#include "evloop.h"
#include "ft.h"
#include "journal.h"
#include "manager.h"
#include "place.h"
#include "proto.h"

/* accept() out of descriptors: the listening socket rests this long. */
#define ACCEPT_PAUSE_MS 100

#define MAX_VMS 8192

struct vm {
	uint32_t id;
	char name[64];
	uint64_t rank; /* place_rank of the name */
	uint32_t addr;
	uint16_t port;
	struct conn *c;
	int alive;
	/* A child it served reported bytes that failed their check, or two
	 * did that it was unresponsive: out of every tree and never placed
	 * again (for the rest of the run). */
	int distrusted;
	/* Reports that it was unresponsive (suspect, unresponsive): from
	 * how many children (0, 1 or 2: a verdict due at verdict_ns), the
	 * first one's id, the function of the second; and when it last
	 * reported its own parent so. */
	unsigned unresp_n;
	uint32_t unresp_by;
	const char *unresp_fn;
	uint64_t verdict_ns, reported_up_ns;
	int distrust_jotted; /* in the journal */
	uint64_t last_seen;
	unsigned nfunctions, ncontainers;
	/* HELLO's t_ns, when its agent's process started: a HELLO with
	 * another is an agent that restarted, and kept nothing. */
	uint64_t incarnation;
};

struct function {
	struct manager *m;
	const struct manager_function *def;
	struct ft *ft;
	unsigned containers;
};

/* A container the manager placed: where, and since when it has been up
 * (and so idle: the workload here only starts containers). */
struct mcontainer {
	unsigned vm, fn;
	uint64_t started_ns; /* 0: not up yet */
	uint64_t t_ns;	     /* its STARTED's, for a driver that asks again */
	int active;
	int failed; /* its VM died before it started, and no other had room */
	/* Its VM died before it started and no VM had room then: placed as
	 * soon as one has (a VM registers, a container is released), as a
	 * scheduler's pending queue would. 1 + the dead VM's id; 0: not
	 * waiting. Not journaled: a manager started again while one waits
	 * does not place it (the driver's time-out ends its wait). */
	uint32_t waiting;
	/* Its STARTED went to the drivers. Not journaled: after a restart
	 * the agent's repeated STARTED goes to them again, in case the first
	 * was lost with the old process. */
	int forwarded;
};

/* An INVOKE's answer, by the driver's session and the INVOKE's id: a
 * driver that lost the manager asks again, and gets the same containers,
 * not new ones. count 0: refused, no VM had room. */
struct answer {
	uint64_t session; /* 0: a free slot */
	uint32_t id, first, count;
};

/* A connection before HELLO (the driver never says it) or an agent's. */
struct peer {
	struct manager *m;
	struct conn *c;
	struct vm *vm; /* once HELLO came */
	struct peer *next;
};

struct manager {
	const struct manager_opts *o;
	struct evloop *l;
	struct eventlog *log;
	int listen_fd;
	struct conn_acceptor *acc;
	struct vm *vms;
	unsigned nvms;
	struct place_vm *pv; /* the pool as place_pick sees it, per placement */
	struct function *fns;
	struct peer *peers;
	uint32_t next_container;
	struct mcontainer *cts; /* indexed by container id */
	size_t capcts;
	uint64_t last_tick; /* of the heartbeat timer */
	struct journal *j;  /* --journal; NULL: none */
	int journal_failed; /* a write failed: said once in the timeline */
	struct answer *ans; /* open addressing, at most half full */
	size_t capans, nans;
	/* The event loop's own lag: when the lag timer was due, the worst
	 * lateness since the last report, and when that report was. */
	uint64_t lag_due, lag_max, lag_since;
};

static struct function *find_fn(struct manager *m, const struct proto_str *s)
{
	unsigned i;

	for (i = 0; i < m->o->nfunctions; i++)
		if (strlen(m->fns[i].def->name) == s->len &&
		    !memcmp(m->fns[i].def->name, s->s, s->len))
			return &m->fns[i];
	return NULL;
}

static struct proto_peer peer_of(struct manager *m, uint32_t vm)
{
	struct proto_peer p = {0, 0};

	if (vm != FT_REGISTRY && vm < m->nvms) {
		p.addr = m->vms[vm].addr;
		p.port = m->vms[vm].port;
	}
	return p;
}

static void send_to(struct manager *m, struct vm *v,
		    const struct proto_msg *msg)
{
	struct err e = {""};

	if (v->c && conn_send(v->c, msg, &e))
		eventlog_write(m->log, "send_failed",
			       json_pack("{s:s, s:s, s:s}", "vm", v->name,
					 "type", proto_type_name(msg->type),
					 "error", e.msg));
}

/* To a driver (a connection that never said HELLO): a reply or a
 * forwarded STARTED that cannot be queued is said in the timeline. */
static void send_driver(struct manager *m, struct conn *c,
			const struct proto_msg *msg)
{
	struct err e = {""};

	if (conn_send(c, msg, &e))
		eventlog_write(m->log, "send_failed",
			       json_pack("{s:s, s:s, s:s}", "vm", "driver",
					 "type", proto_type_name(msg->type),
					 "error", e.msg));
}

/* Writes r down at once, before anyone hears of the change (messages go
 * out when the loop's round ends). A write that fails is said once in the
 * timeline: from then on a restart would not rebuild everything. */
static void jot(struct manager *m, const struct journal_rec *r)
{
	struct err e = {""};

	if (!m->j || !journal_append(m->j, r, &e))
		return;
	if (!m->journal_failed)
		eventlog_write(m->log, "journal_failed",
			       json_pack("{s:s}", "error", e.msg));
	m->journal_failed = 1;
}

/* ft_observe's: every change to a tree, wherever the manager makes it. */
static void tree_changed(void *arg, enum ft_op op, uint32_t vm)
{
	struct function *f = arg;
	struct journal_rec r = {.op = op == FT_OP_INSERT ? JOURNAL_INSERT
							 : JOURNAL_DELETE,
				.fn = (uint32_t)(f - f->m->fns),
				.vm = vm};

	jot(f->m, &r);
}

static size_t answer_home(uint64_t session, uint32_t id, size_t cap)
{
	uint64_t h =
		(session ^ ((uint64_t)id << 32 | id)) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (cap - 1);
}

/* The slot of (session, id), or the free slot where it would go. */
static struct answer *answer_slot(struct answer *ans, size_t cap,
				  uint64_t session, uint32_t id)
{
	size_t i = answer_home(session, id, cap);

	while (ans[i].session && (ans[i].session != session || ans[i].id != id))
		i = (i + 1) & (cap - 1);
	return &ans[i];
}

static const struct answer *answer_find(struct manager *m, uint64_t session,
					uint32_t id)
{
	struct answer *a;

	if (!m->capans)
		return NULL;
	a = answer_slot(m->ans, m->capans, session, id);
	return a->session ? a : NULL;
}

/* Remembers an answer (session not 0); -ENOMEM. */
static int answer_put(struct manager *m, uint64_t session, uint32_t id,
		      uint32_t first, uint32_t count)
{
	struct answer *a;
	size_t i;

	if ((m->nans + 1) * 2 > m->capans) {
		size_t cap = m->capans ? 2 * m->capans : 256;
		struct answer *na = calloc(cap, sizeof(*na));

		if (!na)
			return -ENOMEM;
		for (i = 0; i < m->capans; i++)
			if (m->ans[i].session)
				*answer_slot(na, cap, m->ans[i].session,
					     m->ans[i].id) = m->ans[i];
		free(m->ans);
		m->ans = na;
		m->capans = cap;
	}
	a = answer_slot(m->ans, m->capans, session, id);
	m->nans += !a->session;
	*a = (struct answer){session, id, first, count};
	return 0;
}

struct change_ctx {
	struct manager *m;
	struct function *f;
};

/* A VM's parent changed in f's tree (a deletion repaired it): tell it. */
static void on_change(void *arg, uint32_t vm, uint32_t parent)
{
	struct change_ctx *c = arg;
	struct proto_msg msg = {.type = PROTO_PARENT};

	msg.function = proto_str(c->f->def->name);
	msg.parent = peer_of(c->m, parent);
	send_to(c->m, &c->m->vms[vm], &msg);
	eventlog_write(c->m->log, "parent",
		       json_pack("{s:s, s:s, s:s}", "function", c->f->def->name,
				 "vm", c->m->vms[vm].name, "parent",
				 parent == FT_REGISTRY
					 ? "registry"
					 : c->m->vms[parent].name));
}

/* Picks a VM for one container of f (place.h): a VM already running f
 * when it has room for another container, else best fit, the fullest VM
 * that still has room for a function and a container, ties broken by the
 * seeded order; else none. */
static struct vm *place(struct manager *m, struct function *f)
{
	struct place_limits lim = {m->o->max_functions_per_vm,
				   m->o->max_containers_per_vm};
	unsigned i;
	long best;

	for (i = 0; i < m->nvms; i++) {
		const struct vm *v = &m->vms[i];

		m->pv[i] = (struct place_vm){
			.name = v->name,
			.rank = v->rank,
			.ncontainers = v->ncontainers,
			.nfunctions = v->nfunctions,
			.alive = v->alive && !v->distrusted,
			.runs_f = ft_contains(f->ft, v->id),
		};
	}
	best = place_pick(m->pv, m->nvms, &lim);
	return best < 0 ? NULL : &m->vms[best];
}

/* Drivers (connections that never said HELLO) hear of every start and
 * every failure, so a run knows when its containers are up or never will
 * be. */
static void to_drivers(struct manager *m, const struct proto_msg *msg)
{
	struct peer *d;

	for (d = m->peers; d; d = d->next)
		if (!d->vm && d->c)
			send_driver(m, d->c, msg);
}

/* Tells v's agent to run container id of f (PROVISION), with v's parent
 * in f's tree, which it returns. */
static uint32_t tell_provision(struct manager *m, struct function *f,
			       struct vm *v, uint32_t id)
{
	struct proto_msg p = {.type = PROTO_PROVISION};
	uint32_t parent = FT_REGISTRY;

	ft_parent(f->ft, v->id, &parent);
	p.function = proto_str(f->def->name);
	p.image = proto_str(f->def->image);
	p.runtime_ms = f->def->runtime_ms;
	p.container = id;
	p.strategy = m->o->strategy;
	p.parent = peer_of(m, parent);
	send_to(m, v, &p);
	return parent;
}

/* Container id of f goes on v, which place() picked: v joins f's tree
 * unless it is in it (a cold start), and its agent is told (PROVISION)
 * with its parent there. from is the VM it was on before, which died
 * before it started (a re-placement), or NULL. 0, or -ENOMEM when the
 * tree cannot grow (nothing changed). */
static int provision(struct manager *m, struct function *f, struct vm *v,
		     uint32_t id, const struct vm *from)
{
	struct mcontainer *c = &m->cts[id];
	struct journal_rec r = {.op = JOURNAL_PLACE,
				.container = id,
				.fn = (uint32_t)(f - m->fns),
				.vm = v->id};
	uint32_t parent;
	json_t *ev;

	if (!ft_contains(f->ft, v->id)) {
		if (ft_insert(f->ft, v->id, NULL, NULL))
			return -ENOMEM;
		v->nfunctions++;
	}
	c->vm = v->id;
	c->fn = r.fn;
	c->active = 1;
	v->ncontainers++;
	f->containers++;
	jot(m, &r);
	parent = tell_provision(m, f, v, id);
	ev = json_pack("{s:s, s:i, s:s, s:s, s:i}", "function", f->def->name,
		       "container", (int)id, "vm", v->name, "parent",
		       parent == FT_REGISTRY ? "registry" : m->vms[parent].name,
		       "tree_height", (int)ft_height(f->ft));
	if (from && ev)
		json_object_set_new(ev, "replaces", json_string(from->name));
	eventlog_write(m->log, "provision", ev);
	return 0;
}

/* Room for container id in m->cts: 0 or -ENOMEM. */
static int grow_cts(struct manager *m, uint32_t id)
{
	size_t cap = m->capcts ? m->capcts : 1024;
	struct mcontainer *nc;

	while (cap <= id)
		cap *= 2;
	if (cap == m->capcts)
		return 0;
	nc = realloc(m->cts, cap * sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	memset(nc + m->capcts, 0, (cap - m->capcts) * sizeof(*nc));
	m->cts = nc;
	m->capcts = cap;
	return 0;
}

/* INVOKE id's answer: containers first .. first + count - 1, or none
 * (count 0) for want of room. */
static void answer(struct manager *m, struct conn *c, uint32_t id,
		   uint32_t first, uint32_t count)
{
	struct proto_msg r = {.type = PROTO_INVOKED, .id = id};

	if (!count) {
		struct proto_msg er = {
			.type = PROTO_ERROR, .id = id, .error = -ENOSPC};

		er.message = proto_str("no VM has room");
		send_driver(m, c, &er);
		return;
	}
	r.container = first;
	r.count = count;
	send_driver(m, c, &r);
}

/* An INVOKE answered before, by this process or one before it (the
 * journal): the same answer, and then what became of its containers,
 * since a driver that asks again may have missed it with the old
 * connection: STARTED for each that started, FAILED for each that
 * failed. The driver ignores what it knew. */
static void answer_again(struct manager *m, struct conn *c, uint32_t id,
			 const struct answer *a)
{
	uint32_t i;

	answer(m, c, id, a->first, a->count);
	for (i = a->first; i - a->first < a->count && i < m->next_container;
	     i++) {
		const struct mcontainer *ct = &m->cts[i];
		struct proto_msg s = {.type = PROTO_STARTED,
				      .container = i,
				      .t_ns = ct->t_ns};

		if (ct->failed)
			s.type = PROTO_FAILED;
		else if (!ct->started_ns)
			continue;
		else
			s.function = proto_str(m->fns[ct->fn].def->name);
		send_driver(m, c, &s);
	}
	eventlog_write(m->log, "invoke_repeated",
		       json_pack("{s:i, s:i, s:i}", "id", (int)id, "first",
				 (int)a->first, "count", (int)a->count));
}

static void invoke(struct manager *m, struct conn *c,
		   const struct proto_msg *msg)
{
	struct function *f = find_fn(m, &msg->function);
	struct journal_rec jr = {.op = JOURNAL_INVOKE,
				 .session = msg->session,
				 .id = msg->id,
				 .container = m->next_container};
	const struct answer *a;
	uint32_t first = m->next_container, i, placed = 0;

	if (!f) {
		struct proto_msg er = {
			.type = PROTO_ERROR, .id = msg->id, .error = -ENOENT};

		er.message = proto_str("no such function");
		send_driver(m, c, &er);
		return;
	}
	/* Without a session every INVOKE is new (faasnet-invoke). */
	if (msg->session) {
		a = answer_find(m, msg->session, msg->id);
		if (a) {
			answer_again(m, c, msg->id, a);
			return;
		}
		/* Should the manager die while placing, its successor
		 * knows which containers were this INVOKE's. */
		jot(m, &jr);
	}
	for (i = 0; i < msg->count; i++) {
		struct vm *v = place(m, f);

		if (!v || grow_cts(m, m->next_container) ||
		    provision(m, f, v, m->next_container, NULL))
			break;
		m->next_container++;
		placed++;
	}
	if (msg->session) {
		jr.op = JOURNAL_INVOKED;
		jr.count = placed;
		jot(m, &jr);
		/* Without room for it, a repeat is placed as new. */
		if (answer_put(m, msg->session, msg->id, first, placed))
			eventlog_write(m->log, "invoke_not_remembered",
				       json_pack("{s:i, s:s}", "id",
						 (int)msg->id, "why",
						 "out of memory"));
	}
	answer(m, c, msg->id, first, placed);
}

/* Container i, not started, was on a VM that is gone (from): it goes on
 * another VM as place() would put a new one, keeping its id, so that the
 * driver, which waits for it by id, never knows. A distrusted VM is no
 * target (place() skips it), nor is from, no longer alive. With no room
 * anywhere now, it waits for room (place_waiting); only a placement that
 * cannot be recorded fails it: the drivers are told (FAILED) and stop
 * waiting for it. */
static void replace(struct manager *m, uint32_t i, const struct vm *from)
{
	struct function *f = &m->fns[m->cts[i].fn];
	struct vm *to = place(m, f);

	if (to && !provision(m, f, to, i, from)) {
		m->cts[i].waiting = 0;
		eventlog_write(m->log, "replaced",
			       json_pack("{s:i, s:s, s:s, s:s}", "container",
					 (int)i, "function", f->def->name,
					 "from", from->name, "to", to->name));
		return;
	}
	if (!to) {
		if (!m->cts[i].waiting)
			eventlog_write(m->log, "replace_waiting",
				       json_pack("{s:i, s:s, s:s}",
						 "container", (int)i,
						 "function", f->def->name,
						 "from", from->name));
		m->cts[i].waiting = 1 + from->id;
		return;
	}
	m->cts[i].waiting = 0;
	m->cts[i].failed = 1;
	jot(m, &(struct journal_rec){.op = JOURNAL_FAIL, .container = i});
	eventlog_write(m->log, "replace_failed",
		       json_pack("{s:i, s:s, s:s, s:s}", "container", (int)i,
				 "function", f->def->name, "from", from->name,
				 "why", "out of memory"));
	{
		struct proto_msg fm = {.type = PROTO_FAILED, .container = i};

		fm.message = proto_str("its VM was lost and it could not be "
				       "placed again");
		to_drivers(m, &fm);
	}
}

/* Room may have come (a VM registered, a container went): the containers
 * waiting for it, oldest first. */
static void place_waiting(struct manager *m)
{
	uint32_t i;

	for (i = 0; i < m->next_container; i++)
		if (m->cts[i].waiting)
			replace(m, i, &m->vms[m->cts[i].waiting - 1]);
}

/* v's connection, closed: its peer no longer holds it. */
static void drop_conn(struct manager *m, struct vm *v)
{
	struct peer *p;

	if (!v->c)
		return;
	for (p = m->peers; p; p = p->next)
		if (p->c == v->c)
			p->c = NULL;
	conn_close(v->c);
	v->c = NULL;
}

/* A VM is gone (its connection closed or it stopped answering): out of
 * every tree, and every orphan learns its new parent. Its containers went
 * with it: those that had started are lost (the workload measured their
 * start; a replacement would be a new container), the others are placed
 * again elsewhere (replace). */
static void vm_lost(struct manager *m, struct vm *v, const char *why)
{
	unsigned i;

	if (!v->alive)
		return;
	v->alive = 0;
	/* When it comes back, it is empty. */
	v->ncontainers = v->nfunctions = 0;
	jot(m, &(struct journal_rec){.op = JOURNAL_DOWN, .vm = v->id});
	eventlog_write(m->log, "vm_lost",
		       json_pack("{s:s, s:s}", "vm", v->name, "why", why));
	for (i = 0; i < m->o->nfunctions; i++) {
		struct change_ctx cc = {m, &m->fns[i]};

		if (ft_contains(m->fns[i].ft, v->id))
			ft_delete(m->fns[i].ft, v->id, on_change, &cc);
	}
	drop_conn(m, v);
	/* After the trees are repaired, so that a re-placement joins a
	 * whole tree. */
	for (i = 0; i < m->next_container; i++) {
		struct mcontainer *c = &m->cts[i];

		if (!c->active || c->vm != v->id)
			continue;
		c->active = 0;
		m->fns[c->fn].containers--;
		if (!c->started_ns) {
			replace(m, i, v);
			continue;
		}
		jot(m,
		    &(struct journal_rec){.op = JOURNAL_LOST, .container = i});
		eventlog_write(m->log, "container_lost",
			       json_pack("{s:i, s:s, s:s}", "container", (int)i,
					 "function", m->fns[c->fn].def->name,
					 "vm", v->name));
	}
}

/* A new VM in the pool, named name (len bytes), or NULL when the pool is
 * full. */
static struct vm *new_vm(struct manager *m, const char *name, size_t len)
{
	struct vm *v;

	if (m->nvms == MAX_VMS)
		return NULL;
	v = &m->vms[m->nvms];
	memset(v, 0, sizeof(*v));
	v->id = m->nvms++;
	snprintf(v->name, sizeof(v->name), "%.*s", (int)len, name);
	v->rank = place_rank(m->o->seed, v->name);
	return v;
}

static struct vm *vm_named(struct manager *m, const char *name, size_t len)
{
	unsigned i;

	for (i = 0; i < m->nvms; i++)
		if (strlen(m->vms[i].name) == len &&
		    !memcmp(m->vms[i].name, name, len))
			return &m->vms[i];
	return NULL;
}

/* What an agent back on a new connection may have missed while away (in
 * messages lost with the old connection, or with a manager that was
 * killed): PROVISION of each of its containers not up yet, its parent in
 * each tree it is in. Its agent ignores what it has already. Returns how
 * many messages went. */
static unsigned tell_again(struct manager *m, struct vm *v)
{
	uint32_t i, parent;
	unsigned n = 0;

	for (i = 0; i < m->next_container; i++) {
		const struct mcontainer *c = &m->cts[i];

		if (c->active && c->vm == v->id && !c->started_ns) {
			tell_provision(m, &m->fns[c->fn], v, i);
			n++;
		}
	}
	for (i = 0; i < m->o->nfunctions; i++) {
		struct change_ctx cc = {m, &m->fns[i]};

		if (!ft_parent(m->fns[i].ft, v->id, &parent)) {
			on_change(&cc, v->id, parent);
			n++;
		}
	}
	return n;
}

static int printable(const struct proto_str *s)
{
	uint32_t i;

	for (i = 0; i < s->len; i++)
		if ((unsigned char)s->s[i] <= ' ' || s->s[i] == 0x7f)
			return 0;
	return 1;
}

/* An agent says who it is. On a VM the manager holds alive (it never lost
 * it, or restored it from the journal) an agent that started when the last
 * one did (HELLO's t_ns) is that agent back, whose connection broke or
 * whose manager restarted: the VM keeps its place in every tree and its
 * containers, and is told again what it may have missed. Any other agent
 * on a known VM is a new process: what the manager put there is gone
 * (vm_lost), and the VM starts empty. */
static void hello(struct manager *m, struct peer *p,
		  const struct proto_msg *msg)
{
	struct journal_rec r = {.op = JOURNAL_VM};
	const char *refused = NULL;
	struct vm *v = NULL;
	unsigned again = 0;
	int kept;

	/* One connection is one VM: a second HELLO with another name would
	 * leave the first VM holding a connection it does not own. Names go
	 * into the journal, the timeline and the trees' DOT as they are. */
	if (p->vm)
		refused = "second HELLO on a connection";
	else if (msg->vm.len >= sizeof(v->name))
		refused = "name too long";
	else if (!printable(&msg->vm))
		refused = "name with a space or control character";
	else if (!(v = vm_named(m, msg->vm.s, msg->vm.len)) &&
		 !(v = new_vm(m, msg->vm.s, msg->vm.len)))
		refused = "the VM pool is full";
	if (refused) {
		eventlog_write(m->log, "hello_refused",
			       json_pack("{s:s%, s:s}", "vm", msg->vm.s,
					 (size_t)msg->vm.len, "why", refused));
		return;
	}
	if (v->alive && v->incarnation != msg->t_ns)
		vm_lost(m, v, "registered again");
	kept = v->alive;
	/* Its old connection, if the manager has not seen it close yet, is
	 * stale: closed here, it cannot take the VM down when it does. */
	if (v->c != p->c)
		drop_conn(m, v);
	v->addr = msg->addr;
	v->port = msg->port;
	v->incarnation = msg->t_ns;
	v->c = p->c;
	v->alive = 1;
	v->last_seen = evloop_now_ns();
	p->vm = v;
	r.vm = v->id;
	r.addr = v->addr;
	r.port = v->port;
	r.t_ns = v->incarnation;
	r.name = v->name;
	jot(m, &r);
	if (kept)
		again = tell_again(m, v);
	eventlog_write(m->log, "vm_up",
		       json_pack("{s:s, s:i, s:b, s:i}", "vm", v->name, "vms",
				 (int)m->nvms, "kept", kept, "told_again",
				 (int)again));
	place_waiting(m);
}

/* Container i is gone: its place is free, and a VM left with no container
 * of its function leaves that function's tree, the VMs below it getting
 * new parents, and is told (RELEASE) so that it drops the image's blocks. why
 * says who decided ("idle" here, "released" by a driver that serves requests).
 */
static void release(struct manager *m, uint32_t i, const char *why)
{
	struct mcontainer *c = &m->cts[i];
	struct function *f = &m->fns[c->fn];
	struct vm *v = &m->vms[c->vm];
	uint32_t j;
	int more = 0;

	if (!c->active)
		return;
	c->active = 0;
	jot(m, &(struct journal_rec){.op = JOURNAL_RELEASE, .container = i});
	v->ncontainers--;
	f->containers--;
	for (j = 0; j < m->next_container && !more; j++)
		more = m->cts[j].active && m->cts[j].vm == c->vm &&
		       m->cts[j].fn == c->fn;
	eventlog_write(m->log, "reclaim",
		       json_pack("{s:s, s:i, s:s, s:b, s:s}", "function",
				 f->def->name, "container", (int)i, "vm",
				 v->name, "leaves_tree", !more, "why", why));
	if (!more && ft_contains(f->ft, v->id)) {
		struct change_ctx cc = {m, f};
		struct proto_msg r = {.type = PROTO_RELEASE, .container = i};

		ft_delete(f->ft, v->id, on_change, &cc);
		v->nfunctions--;
		/* The VM goes back to the free pool: its agent lets go of
		 * the image's blocks, as a recycled VM would have none. */
		if (v->alive)
			send_to(m, v, &r);
	}
	place_waiting(m);
}

static struct vm *vm_at(struct manager *m, struct proto_peer p)
{
	unsigned i;

	for (i = 0; i < m->nvms; i++)
		if (m->vms[i].alive && m->vms[i].addr == p.addr &&
		    m->vms[i].port == p.port)
			return &m->vms[i];
	return NULL;
}

/* v can no longer be trusted: out of every tree (the VMs below it get new
 * parents), never placed again; its running containers are left alone.
 * In the timeline with who said so and why. */
static void distrust(struct manager *m, struct vm *v, const char *reporter,
		     const char *function, const char *kind, const char *why)
{
	unsigned i;

	v->distrusted = 1;
	v->unresp_n = 0;
	/* Before the trees' deletes, which the journal gets as they happen:
	 * replayed, the VM is out of placement before it leaves them. */
	if (!v->distrust_jotted) {
		jot(m, &(struct journal_rec){.op = JOURNAL_DISTRUST,
					     .vm = v->id});
		v->distrust_jotted = 1;
	}
	eventlog_write(m->log, "vm_distrusted",
		       json_pack("{s:s, s:s, s:s, s:s, s:s}", "vm", v->name,
				 "reporter", reporter, "function", function,
				 "kind", kind, "why", why));
	for (i = 0; i < m->o->nfunctions; i++) {
		struct change_ctx cc = {m, &m->fns[i]};

		if (ft_contains(m->fns[i].ft, v->id)) {
			ft_delete(m->fns[i].ft, v->id, on_change, &cc);
			v->nfunctions--;
		}
	}
}

static unsigned suspect_window_ms(const struct manager *m)
{
	return m->o->suspect_window_ms ? m->o->suspect_window_ms
				       : MANAGER_SUSPECT_WINDOW_MS;
}

/* Verdicts on unresponsiveness that are due: a VM still accused by two
 * children, and not since shown to have waited on its own parent, is
 * distrusted. */
static void verdicts(struct evloop *l, void *arg)
{
	struct manager *m = arg;
	uint64_t now = evloop_now_ns();
	unsigned i;

	(void)l;
	for (i = 0; i < m->nvms; i++) {
		struct vm *v = &m->vms[i];

		if (v->unresp_n < 2 || v->verdict_ns > now)
			continue;
		v->unresp_n = 0;
		if (v->alive && !v->distrusted)
			distrust(m, v, m->vms[v->unresp_by].name, v->unresp_fn,
				 "unresponsive",
				 "unresponsive to two of its children");
	}
}

/* Reporter r left its parent v in f's tree as unresponsive (silent or too
 * slow for it). Unlike bad bytes this proves nothing about v: r's own link
 * may be what is slow, or v may itself be waiting on an unresponsive
 * parent of its own, and be slow to all its children for that. So:
 *   - r is moved to the registry for f (PARENT, address 0), which it was
 *     reading already; there it can accuse nobody else, so a reporter
 *     with a bad link drags no other parent into suspicion, and it stays
 *     there until the tree changes under it;
 *   - v is distrusted (distrust, as for bad bytes) only when two different
 *     children have reported it, and only after a window (suspect_window,
 *     10 s of the world by default, twice the agents' time-out) in which v
 *     has not itself reported its own parent unresponsive: reports against
 *     a VM that waits on a bad parent are its parent's doing (a slow liar
 *     makes its children slow to theirs, whose reports may well come
 *     first), and are forgiven when v's own report comes, or ignored when
 *     it came within the window before. One report from each of two
 *     children that do not share a link (each has its own) is what a bad
 *     link of one child cannot make. */
static void unresponsive(struct manager *m, struct vm *r, struct vm *v,
			 struct function *f, const struct proto_msg *msg)
{
	struct proto_msg mv = {.type = PROTO_PARENT};
	uint64_t now = evloop_now_ns(),
		 window = evloop_span_ns(m->l, suspect_window_ms(m));
	const char *ignored = NULL;

	mv.function = proto_str(f->def->name);
	send_to(m, r, &mv);
	eventlog_write(m->log, "suspect_unresponsive",
		       json_pack("{s:s, s:s, s:s, s:s, s:s%}", "vm", v->name,
				 "reporter", r->name, "function", f->def->name,
				 "reporter_parent", "registry", "why",
				 msg->message.s ? msg->message.s : "",
				 (size_t)msg->message.len));
	r->reported_up_ns = now;
	if (r->unresp_n) {
		r->unresp_n = 0;
		eventlog_write(m->log, "suspect_forgiven",
			       json_pack("{s:s, s:s}", "vm", r->name, "why",
					 "it waits on an unresponsive parent "
					 "itself"));
	}
	if (v->reported_up_ns && now - v->reported_up_ns < window)
		ignored = "the accused waits on an unresponsive parent itself";
	else if (v->unresp_n && v->unresp_by == r->id)
		ignored = "the same child again";
	if (ignored) {
		eventlog_write(m->log, "suspect_ignored",
			       json_pack("{s:s, s:s, s:s}", "vm", r->name,
					 "function", f->def->name, "why",
					 ignored));
		return;
	}
	if (!v->unresp_n) {
		v->unresp_n = 1;
		v->unresp_by = r->id;
		return;
	}
	if (v->unresp_n > 1)
		return; /* a verdict is already due */
	v->unresp_n = 2;
	v->verdict_ns = now + window;
	v->unresp_fn = f->def->name;
	if (evloop_timer(m->l, suspect_window_ms(m), verdicts, m) < 0)
		eventlog_write(m->log, "error",
			       json_pack("{s:s}", "error",
					 "cannot arm the verdict timer"));
}

/* An agent says its parent in f's tree failed it: served bytes that failed
 * their check (PROTO_SUSPECT_BAD_BYTES: a manifest against the pinned
 * digest, a config or index against the manifest, a block against the
 * index), or stopped answering in time (PROTO_SUSPECT_UNRESPONSIVE,
 * unresponsive above). It is believed only when the accused is its
 * parent in f's tree now: a child can only have seen bad bytes or silence
 * from there, and no agent can take an arbitrary other out. Bad bytes: one
 * report is enough, the accused is distrusted at once: the accuser checked
 * the bytes against digests that chain to the pinned manifest, so it
 * cannot be mistaken, only lying itself, which an agent of ours does
 * not. */
static void suspect(struct manager *m, struct peer *p,
		    const struct proto_msg *msg)
{
	struct function *f = find_fn(m, &msg->function);
	struct vm *v = vm_at(m, msg->parent);
	uint32_t parent = FT_NONE;
	const char *why = NULL;
	char msgz[PROTO_MAX_STR + 1];

	if (!p->vm)
		why = "not from an agent";
	else if (!f)
		why = "no such function";
	else if (!v)
		why = "no live VM at that address";
	else if (ft_parent(f->ft, p->vm->id, &parent) || parent != v->id)
		why = "the accused is not the reporter's parent";
	if (why) {
		eventlog_write(m->log, "suspect_ignored",
			       json_pack("{s:s, s:s%, s:s}", "vm",
					 p->vm ? p->vm->name : "driver",
					 "function", msg->function.s,
					 (size_t)msg->function.len, "why",
					 why));
		return;
	}
	if (msg->kind == PROTO_SUSPECT_UNRESPONSIVE) {
		unresponsive(m, p->vm, v, f, msg);
		return;
	}
	snprintf(msgz, sizeof(msgz), "%.*s", (int)msg->message.len,
		 msg->message.s ? msg->message.s : "");
	distrust(m, v, p->vm->name, f->def->name, "bad_bytes", msgz);
}

/* A driver asks how many agents are up, to start its clock only when
 * every VM has registered. */
static void status(struct manager *m, struct conn *c,
		   const struct proto_msg *msg)
{
	struct proto_msg r = {.type = PROTO_STATUS, .id = msg->id};
	unsigned i;

	for (i = 0; i < m->nvms; i++)
		r.count += m->vms[i].alive != 0;
	send_driver(m, c, &r);
}

/* A container is up, says the agent of the VM it is on (from another VM,
 * one taken for dead whose container was placed again, it is not: the
 * driver waits for the one placed again). The first STARTED is logged and
 * journaled; the drivers hear of it once per process of the manager: a
 * reconnecting agent repeats its STARTED messages, and after a restart
 * they go to the drivers again, in case the first was lost with the old
 * process (the driver ignores what it knew). */
static void started(struct manager *m, struct peer *p,
		    const struct proto_msg *msg)
{
	struct mcontainer *c;

	if (msg->container >= m->next_container || !p->vm)
		return;
	c = &m->cts[msg->container];
	if (!c->active || c->vm != p->vm->id || c->forwarded)
		return;
	if (!c->started_ns) {
		struct journal_rec r = {.op = JOURNAL_START,
					.container = msg->container,
					.t_ns = msg->t_ns,
					.mgr_ns = evloop_now_ns()};

		c->started_ns = r.mgr_ns;
		c->t_ns = msg->t_ns;
		jot(m, &r);
		eventlog_write(m->log, "started",
			       json_pack("{s:s%, s:i, s:s, s:I}", "function",
					 msg->function.s,
					 (size_t)msg->function.len, "container",
					 (int)msg->container, "vm", p->vm->name,
					 "t_ns", (json_int_t)msg->t_ns));
	}
	c->forwarded = 1;
	to_drivers(m, msg);
}

static void peer_frame(struct conn *c, const struct proto_msg *msg, void *arg)
{
	struct peer *p = arg;
	struct manager *m = p->m;

	if (p->vm)
		p->vm->last_seen = evloop_now_ns();
	switch (msg->type) {
	case PROTO_HELLO:
		hello(m, p, msg);
		break;
	case PROTO_INVOKE:
		invoke(m, c, msg);
		break;
	case PROTO_STARTED:
		started(m, p, msg);
		break;
	case PROTO_RELEASE:
		/* Only a driver decides a container is idle. */
		if (!p->vm && msg->container < m->next_container)
			release(m, msg->container, "released");
		break;
	case PROTO_SUSPECT:
		suspect(m, p, msg);
		break;
	case PROTO_GET_STATUS:
		if (!p->vm)
			status(m, c, msg);
		break;
	case PROTO_HEARTBEAT:
		break;
	default:
		break;
	}
}

static void peer_closed(struct conn *c, int error, const char *why, void *arg)
{
	struct peer *p = arg;

	(void)c;
	(void)error;
	p->c = NULL;
	if (p->vm && p->vm->c == c) {
		p->vm->c = NULL;
		vm_lost(p->m, p->vm, why);
	}
}

/* A new connection (an agent's or a driver's), from conn_accept_start. */
static void on_accept(void *arg, int s)
{
	struct manager *m = arg;
	struct peer *p;

	p = calloc(1, sizeof(*p));
	if (!p || conn_new(m->l, s, peer_frame, peer_closed, p, &p->c)) {
		free(p);
		close(s);
		return;
	}
	p->m = m;
	p->next = m->peers;
	m->peers = p;
}

/* Containers up for reclaim_ms are released (the paper reclaims after 15
 * idle minutes; with no requests to serve, up is idle). */
static void reclaim(struct manager *m)
{
	uint64_t now = evloop_now_ns(),
		 idle = evloop_span_ns(m->l, m->o->reclaim_ms);
	uint32_t i;

	for (i = 0; i < m->next_container; i++) {
		struct mcontainer *c = &m->cts[i];

		if (c->active && c->started_ns && now - c->started_ns >= idle)
			release(m, i, "idle");
	}
}

static void heartbeat(struct evloop *l, void *arg)
{
	struct manager *m = arg;
	struct proto_msg hb = {.type = PROTO_HEARTBEAT};
	uint64_t now = evloop_now_ns();
	unsigned i;

	/* When the manager itself was held up (placing thousands of
	 * containers on a busy host), silence it could not hear is not the
	 * agents' fault: give them a fresh deadline. */
	if (m->last_tick &&
	    now - m->last_tick > evloop_span_ns(l, m->o->dead_ms) / 2)
		for (i = 0; i < m->nvms; i++)
			m->vms[i].last_seen = now;
	m->last_tick = now;
	for (i = 0; i < m->nvms; i++) {
		struct vm *v = &m->vms[i];

		if (!v->alive)
			continue;
		if (now - v->last_seen > evloop_span_ns(l, m->o->dead_ms)) {
			vm_lost(m, v, "heartbeat timeout");
			continue;
		}
		hb.id = i;
		send_to(m, v, &hb);
	}
	if (m->o->reclaim_ms)
		reclaim(m);
	evloop_timer(l, m->o->heartbeat_ms, heartbeat, m);
}

/* How late the loop runs its timers is how late placements and STARTED
 * forwards are: the harness reads these lines for its fidelity verdict
 * (docs/fidelity.md). Logged at most once a second, and only above a few
 * milliseconds so that a quiet run's log stays as it was. All in the
 * world's time: under dilation k, a lateness of k ms is 1 ms of the
 * emulated world's. */
#define LAG_TICK_MS   100
#define LAG_REPORT_MS 1000
#define LAG_LOG_MS    5

static void lag_tick(struct evloop *l, void *arg)
{
	struct manager *m = arg;
	uint64_t now = evloop_now_ns();

	if (m->lag_due && now > m->lag_due && now - m->lag_due > m->lag_max)
		m->lag_max = now - m->lag_due;
	if (now - m->lag_since >= evloop_span_ns(l, LAG_REPORT_MS)) {
		double k = (double)evloop_span_ns(l, 1000) / 1e9;

		if (m->lag_max >= evloop_span_ns(l, LAG_LOG_MS))
			eventlog_write(m->log, "loop_lag",
				       json_pack("{s:f, s:f}", "max_ms",
						 (double)m->lag_max / 1e6 / k,
						 "window_s",
						 (double)(now - m->lag_since) /
							 1e9 / k));
		m->lag_max = 0;
		m->lag_since = now;
	}
	m->lag_due = now + evloop_span_ns(l, LAG_TICK_MS);
	evloop_timer(l, LAG_TICK_MS, lag_tick, m);
}

static void dot_subtree(struct manager *m, const struct ft *ft, uint32_t vm,
			FILE *f)
{
	uint32_t ch[2];
	int i;

	if (ft_children(ft, vm, ch) < 0)
		return;
	for (i = 0; i < 2; i++) {
		if (ch[i] == FT_NONE)
			continue;
		fprintf(f, "  \"%s\" -> \"%s\";\n", m->vms[vm].name,
			m->vms[ch[i]].name);
		dot_subtree(m, ft, ch[i], f);
	}
}

/* The trees with VM names (ft_dump_dot knows only ids), for the report and
 * for teaching: `dot -Tpng trees.dot`. */
static void dump_trees(struct manager *m)
{
	uint32_t root;
	FILE *f;
	unsigned i;

	if (!m->o->dot)
		return;
	f = fopen(m->o->dot, "we");
	if (!f)
		return;
	for (i = 0; i < m->o->nfunctions; i++) {
		const struct ft *ft = m->fns[i].ft;

		fprintf(f,
			"digraph \"%s\" {\n  graph [ordering=out];\n"
			"  registry [shape=box];\n",
			m->fns[i].def->name);
		if (!ft_root(ft, &root)) {
			fprintf(f, "  registry -> \"%s\";\n",
				m->vms[root].name);
			dot_subtree(m, ft, root, f);
		}
		fprintf(f, "}\n");
	}
	fclose(f);
}

/* --- restarting from the journal ----------------------------------- */

struct restore {
	struct manager *m;
	unsigned nfunctions; /* JOURNAL_FUNCTION records read */
	/* An INVOKE the last process began placing (JOURNAL_INVOKE) and
	 * never answered (no JOURNAL_INVOKED after it): killed meanwhile. */
	int open;
	uint64_t session;
	uint32_t id, first;
};

static int bad_vm(struct manager *m, uint32_t vm, struct err *e)
{
	return vm < m->nvms ? 0 : err_set(e, -ERANGE, "no VM %u", vm);
}

static int bad_container(struct manager *m, uint32_t c, struct err *e)
{
	return c < m->next_container
		       ? 0
		       : err_set(e, -ERANGE, "no container %u", c);
}

/* One record of the journal, as the process that wrote it changed its
 * state. Tree operations are redone in the order written: ft_insert and
 * ft_delete are deterministic, so the trees come out the same, every VM
 * with the same parent. Counts derived from the rest are redone after
 * (restored). */
static int restore(void *arg, const struct journal_rec *r, struct err *e)
{
	struct restore *rs = arg;
	struct manager *m = rs->m;
	struct mcontainer *c;
	struct vm *v;
	int ret;

	switch (r->op) {
	case JOURNAL_FUNCTION:
		if (r->fn >= m->o->nfunctions || r->fn != rs->nfunctions ||
		    strcmp(r->name, m->o->functions[r->fn].name))
			return err_set(e, -EINVAL,
				       "function %u is %s, not what --function "
				       "says: a journal of another run",
				       r->fn, r->name);
		rs->nfunctions++;
		return 0;
	case JOURNAL_VM:
		if (r->vm == m->nvms) {
			if (!new_vm(m, r->name, strlen(r->name)))
				return err_set(e, -ENOSPC, "more than %d VMs",
					       MAX_VMS);
		} else if (bad_vm(m, r->vm, e)) {
			return -ERANGE;
		}
		v = &m->vms[r->vm];
		if (strcmp(v->name, r->name))
			return err_set(e, -EINVAL, "VM %u is %s, not %s", r->vm,
				       v->name, r->name);
		v->addr = r->addr;
		v->port = r->port;
		v->incarnation = r->t_ns;
		v->alive = 1;
		return 0;
	case JOURNAL_DOWN:
	case JOURNAL_DISTRUST:
		if (bad_vm(m, r->vm, e))
			return -ERANGE;
		if (r->op == JOURNAL_DOWN)
			m->vms[r->vm].alive = 0;
		else
			m->vms[r->vm].distrusted =
				m->vms[r->vm].distrust_jotted = 1;
		return 0;
	case JOURNAL_INSERT:
	case JOURNAL_DELETE:
		if (bad_vm(m, r->vm, e))
			return -ERANGE;
		if (r->fn >= m->o->nfunctions)
			return err_set(e, -ERANGE, "no function %u", r->fn);
		ret = r->op == JOURNAL_INSERT
			      ? ft_insert(m->fns[r->fn].ft, r->vm, NULL, NULL)
			      : ft_delete(m->fns[r->fn].ft, r->vm, NULL, NULL);
		return ret ? err_set(e, ret, "VM %u in function %u's tree: %s",
				     r->vm, r->fn, strerror(-ret))
			   : 0;
	case JOURNAL_PLACE:
		if (bad_vm(m, r->vm, e))
			return -ERANGE;
		if (r->fn >= m->o->nfunctions ||
		    r->container > m->next_container)
			return err_set(e, -ERANGE,
				       "container %u of function %u out of "
				       "order",
				       r->container, r->fn);
		if (grow_cts(m, r->container))
			return err_set(e, -ENOMEM, "out of memory");
		if (r->container == m->next_container)
			m->next_container++;
		c = &m->cts[r->container];
		c->vm = r->vm;
		c->fn = r->fn;
		c->active = 1;
		c->failed = 0;
		return 0;
	case JOURNAL_START:
		if (bad_container(m, r->container, e))
			return -ERANGE;
		m->cts[r->container].started_ns = r->mgr_ns;
		m->cts[r->container].t_ns = r->t_ns;
		return 0;
	case JOURNAL_RELEASE:
	case JOURNAL_FAIL:
	case JOURNAL_LOST:
		if (bad_container(m, r->container, e))
			return -ERANGE;
		m->cts[r->container].active = 0;
		m->cts[r->container].failed = r->op == JOURNAL_FAIL;
		return 0;
	case JOURNAL_INVOKE:
		rs->open = 1;
		rs->session = r->session;
		rs->id = r->id;
		rs->first = r->container;
		return 0;
	case JOURNAL_INVOKED:
		rs->open = 0;
		if (answer_put(m, r->session, r->id, r->container, r->count))
			return err_set(e, -ENOMEM, "out of memory");
		return 0;
	default:
		return err_set(e, -EINVAL, "record %d", r->op);
	}
}

/* After the last record: what the manager counts rather than journals,
 * counted again, and every VM alive given a full heartbeat deadline to say
 * HELLO again (agents reconnect on their own) before it is taken for lost.
 * An INVOKE the last process died placing is answered with what it had
 * placed: the driver sends it again and gets those. */
static int restored(struct manager *m, struct restore *rs, struct err *e)
{
	uint64_t now = evloop_now_ns();
	uint32_t i, k;

	if (rs->nfunctions != m->o->nfunctions)
		return err_set(e, -EINVAL,
			       "%s: written for %u functions, not %u: a "
			       "journal of another run",
			       m->o->journal, rs->nfunctions, m->o->nfunctions);
	if (rs->open && m->next_container > rs->first &&
	    answer_put(m, rs->session, rs->id, rs->first,
		       m->next_container - rs->first))
		return err_set(e, -ENOMEM, "out of memory");
	for (i = 0; i < m->nvms; i++) {
		struct vm *v = &m->vms[i];

		v->last_seen = now;
		v->ncontainers = v->nfunctions = 0;
		for (k = 0; k < m->o->nfunctions; k++)
			v->nfunctions += ft_contains(m->fns[k].ft, v->id);
	}
	for (i = 0; i < m->next_container; i++)
		if (m->cts[i].active) {
			m->vms[m->cts[i].vm].ncontainers++;
			m->fns[m->cts[i].fn].containers++;
		}
	return 0;
}

/* Opens --journal: a new one gets the functions it is for; one that holds
 * records is replayed. From then on every change goes in. */
static int journal_start(struct manager *m, struct err *e)
{
	struct restore rs = {.m = m};
	unsigned i, n = 0;
	int ret, fresh;

	ret = journal_open(m->o->journal, &m->j, &fresh, e);
	if (ret)
		return ret;
	for (i = 0; fresh && i < m->o->nfunctions && !ret; i++) {
		struct journal_rec r = {.op = JOURNAL_FUNCTION,
					.fn = i,
					.name = m->o->functions[i].name};

		ret = journal_append(m->j, &r, e);
	}
	if (!ret && !fresh)
		ret = journal_replay(m->j, restore, &rs, &n, e);
	if (!ret && !fresh)
		ret = restored(m, &rs, e);
	if (ret)
		return ret;
	for (i = 0; i < m->o->nfunctions; i++)
		ft_observe(m->fns[i].ft, tree_changed, &m->fns[i]);
	if (!fresh)
		eventlog_write(m->log, "journal_replayed",
			       json_pack("{s:i, s:i, s:i, s:i}", "records",
					 (int)n, "vms", (int)m->nvms,
					 "containers", (int)m->next_container,
					 "answers", (int)m->nans));
	return 0;
}

int manager_run(const struct manager_opts *o, int stop_fd, struct err *e)
{
	struct manager m = {.o = o, .listen_fd = -1};
	struct peer *p, *pn;
	unsigned i;
	int ret;

	ret = eventlog_open(o->events, "manager", &m.log);
	if (ret)
		return err_set(e, ret, "%s: %s", o->events, strerror(-ret));
	m.vms = calloc(MAX_VMS, sizeof(*m.vms));
	m.pv = calloc(MAX_VMS, sizeof(*m.pv));
	m.fns = calloc(o->nfunctions ? o->nfunctions : 1, sizeof(*m.fns));
	if (!m.vms || !m.pv || !m.fns) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < o->nfunctions; i++) {
		m.fns[i].m = &m;
		m.fns[i].def = &o->functions[i];
		m.fns[i].ft = ft_new(FT_REPAIR_AVL);
		if (!m.fns[i].ft) {
			ret = err_set(e, -ENOMEM, "out of memory");
			goto out;
		}
	}
	ret = evloop_new(&m.l);
	if (ret) {
		err_set(e, ret, "event loop: %s", strerror(-ret));
		goto out;
	}
	/* Before anyone can connect: a HELLO finds the pool restored. */
	if (o->journal && (ret = journal_start(&m, e)))
		goto out;
	m.listen_fd = conn_listen(o->addr, o->port, 1024, e);
	if (m.listen_fd < 0) {
		ret = m.listen_fd;
		goto out;
	}
	if (o->dilation > 1.0 &&
	    (ret = evloop_set_dilation(m.l, o->dilation))) {
		err_set(e, ret, "dilation %g: expected at least 1",
			o->dilation);
		goto out;
	}
	ret = conn_accept_start(m.l, m.listen_fd, ACCEPT_PAUSE_MS, on_accept,
				&m, &m.acc);
	if (ret) {
		err_set(e, ret, "listen: %s", strerror(-ret));
		goto out;
	}
	evloop_timer(m.l, o->heartbeat_ms, heartbeat, &m);
	lag_tick(m.l, &m);
	eventlog_write(m.log, "manager_up",
		       json_pack("{s:i, s:i, s:I}", "port", (int)o->port,
				 "functions", (int)o->nfunctions, "seed",
				 (json_int_t)o->seed));
	ret = evloop_run(m.l, stop_fd);
	dump_trees(&m);
out:
	for (p = m.peers; p; p = pn) {
		pn = p->next;
		if (p->c)
			conn_close(p->c);
		free(p);
	}
	if (m.fns)
		for (i = 0; i < o->nfunctions; i++)
			ft_free(m.fns[i].ft);
	free(m.fns);
	free(m.vms);
	free(m.pv);
	free(m.cts);
	free(m.ans);
	journal_close(m.j);
	conn_accept_stop(m.acc);
	if (m.listen_fd >= 0)
		close(m.listen_fd);
	evloop_free(m.l);
	eventlog_close(m.log);
	return ret;
}

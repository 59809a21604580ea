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
	uint64_t last_seen;
	unsigned nfunctions, ncontainers;
};

struct function {
	const struct manager_function *def;
	struct ft *ft;
	unsigned containers;
};

/* A container the manager placed: where, and since when it has been up
 * (and so idle: the workload here only starts containers). */
struct mcontainer {
	unsigned vm, fn;
	uint64_t started_ns; /* 0: not up yet */
	int active;
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

static void invoke(struct manager *m, struct conn *c,
		   const struct proto_msg *msg)
{
	struct function *f = find_fn(m, &msg->function);
	struct proto_msg r = {.type = PROTO_INVOKED, .id = msg->id};
	uint32_t first = m->next_container, i, placed = 0;

	if (!f) {
		struct proto_msg er = {
			.type = PROTO_ERROR, .id = msg->id, .error = -ENOENT};

		er.message = proto_str("no such function");
		send_driver(m, c, &er);
		return;
	}
	for (i = 0; i < msg->count; i++) {
		struct proto_msg p = {.type = PROTO_PROVISION};
		struct vm *v = place(m, f);
		uint32_t parent = FT_REGISTRY;

		if (!v)
			break;
		if (!ft_contains(f->ft, v->id)) {
			/* A cold start: the VM joins f's tree. */
			if (ft_insert(f->ft, v->id, NULL, NULL))
				break;
			v->nfunctions++;
		}
		if (m->next_container >= m->capcts) {
			size_t cap = m->capcts ? 2 * m->capcts : 1024;
			struct mcontainer *nc =
				realloc(m->cts, cap * sizeof(*nc));

			if (!nc)
				break;
			memset(nc + m->capcts, 0,
			       (cap - m->capcts) * sizeof(*nc));
			m->cts = nc;
			m->capcts = cap;
		}
		m->cts[m->next_container].vm = v->id;
		m->cts[m->next_container].fn = (unsigned)(f - m->fns);
		m->cts[m->next_container].active = 1;
		ft_parent(f->ft, v->id, &parent);
		v->ncontainers++;
		f->containers++;
		p.function = proto_str(f->def->name);
		p.image = proto_str(f->def->image);
		p.runtime_ms = f->def->runtime_ms;
		p.container = m->next_container++;
		p.strategy = m->o->strategy;
		p.parent = peer_of(m, parent);
		send_to(m, v, &p);
		eventlog_write(
			m->log, "provision",
			json_pack("{s:s, s:i, s:s, s:s, s:i}", "function",
				  f->def->name, "container", (int)p.container,
				  "vm", v->name, "parent",
				  parent == FT_REGISTRY ? "registry"
							: m->vms[parent].name,
				  "tree_height", (int)ft_height(f->ft)));
		placed++;
	}
	r.container = first;
	r.count = placed ? placed : 1;
	if (!placed) {
		struct proto_msg er = {
			.type = PROTO_ERROR, .id = msg->id, .error = -ENOSPC};

		er.message = proto_str("no VM has room");
		send_driver(m, c, &er);
		return;
	}
	send_driver(m, c, &r);
}

/* A VM is gone (its connection closed or it stopped answering): out of
 * every tree, and every orphan learns its new parent. */
static void vm_lost(struct manager *m, struct vm *v, const char *why)
{
	unsigned i;

	if (!v->alive)
		return;
	v->alive = 0;
	/* Its containers went with it: when it comes back, it is empty. */
	v->ncontainers = v->nfunctions = 0;
	for (i = 0; i < m->next_container; i++)
		if (m->cts[i].active && m->cts[i].vm == v->id) {
			m->cts[i].active = 0;
			m->fns[m->cts[i].fn].containers--;
		}
	eventlog_write(m->log, "vm_lost",
		       json_pack("{s:s, s:s}", "vm", v->name, "why", why));
	for (i = 0; i < m->o->nfunctions; i++) {
		struct change_ctx cc = {m, &m->fns[i]};

		if (ft_contains(m->fns[i].ft, v->id))
			ft_delete(m->fns[i].ft, v->id, on_change, &cc);
	}
	if (v->c) {
		struct peer *p;

		for (p = m->peers; p; p = p->next)
			if (p->c == v->c)
				p->c = NULL;
		conn_close(v->c);
		v->c = NULL;
	}
}

static void hello(struct manager *m, struct peer *p,
		  const struct proto_msg *msg)
{
	struct vm *v = NULL;
	unsigned i;

	/* One connection is one VM: a second HELLO with another name would
	 * leave the first VM holding a connection it does not own. */
	if (p->vm || msg->vm.len >= sizeof(v->name)) {
		eventlog_write(m->log, "hello_refused",
			       json_pack("{s:s%, s:s}", "vm", msg->vm.s,
					 (size_t)msg->vm.len, "why",
					 p->vm ? "second HELLO on a connection"
					       : "name too long"));
		return;
	}
	for (i = 0; i < m->nvms; i++)
		if (strlen(m->vms[i].name) == msg->vm.len &&
		    !memcmp(m->vms[i].name, msg->vm.s, msg->vm.len))
			v = &m->vms[i];
	if (!v) {
		if (m->nvms == MAX_VMS) {
			eventlog_write(m->log, "hello_refused",
				       json_pack("{s:s%, s:s}", "vm", msg->vm.s,
						 (size_t)msg->vm.len, "why",
						 "the VM pool is full"));
			return;
		}
		v = &m->vms[m->nvms];
		memset(v, 0, sizeof(*v));
		v->id = m->nvms++;
		snprintf(v->name, sizeof(v->name), "%.*s", (int)msg->vm.len,
			 msg->vm.s);
		v->rank = place_rank(m->o->seed, v->name);
	} else if (v->alive && v->c && v->c != p->c) {
		/* The agent restarted: its old connection is stale. */
		vm_lost(m, v, "registered again");
	}
	v->addr = msg->addr;
	v->port = msg->port;
	v->c = p->c;
	v->alive = 1;
	v->last_seen = evloop_now_ns();
	p->vm = v;
	eventlog_write(
		m->log, "vm_up",
		json_pack("{s:s, s:i}", "vm", v->name, "vms", (int)m->nvms));
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
	case PROTO_STARTED: {
		struct peer *d;

		/* A reconnecting agent repeats its STARTED messages: log
		 * and forward each container once. */
		if (msg->container >= m->next_container ||
		    m->cts[msg->container].started_ns)
			break;
		m->cts[msg->container].started_ns = evloop_now_ns();
		eventlog_write(m->log, "started",
			       json_pack("{s:s%, s:i, s:s, s:I}", "function",
					 msg->function.s,
					 (size_t)msg->function.len, "container",
					 (int)msg->container, "vm",
					 p->vm ? p->vm->name : "?", "t_ns",
					 (json_int_t)msg->t_ns));
		/* Drivers (connections that never said HELLO) hear of every
		 * start, so a run knows when its containers are up. */
		for (d = m->peers; d; d = d->next)
			if (!d->vm && d->c)
				send_driver(m, d->c, msg);
		break;
	}
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
	conn_accept_stop(m.acc);
	if (m.listen_fd >= 0)
		close(m.listen_fd);
	evloop_free(m.l);
	eventlog_close(m.log);
	return ret;
}

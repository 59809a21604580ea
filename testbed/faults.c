#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "eventlog.h"
#include "faults.h"
#include "lie.h"
#include "netmon.h"
#include "treewatch.h"

/* A timed follow-up of a fault that fired. */
enum act {
	ACT_RESTART,   /* the process killed */
	ACT_LINK_UP,   /* after down, or a flap's up */
	ACT_LINK_DOWN, /* a flap's next down */
	ACT_RATE_BACK, /* the link's own rate again */
};

struct action {
	uint64_t due; /* world ns since the start */
	enum act a;
	unsigned fault;
	unsigned host; /* plan->hosts index */
};

struct faults {
	struct faults_env env;
	struct treewatch *tw;
	struct eventlog *log;
	unsigned char fired[SCENARIO_MAX_FAULTS];
	unsigned char waiting[SCENARIO_MAX_FAULTS]; /* said it waits once */
	struct action *acts;
	size_t nacts, capacts;
	/* per plan host: left down, or at another rate, by a fault */
	unsigned char *down, *rerated;
	int registry_down;
	unsigned *pick; /* scratch: a role's VMs */
	/* per plan host, its cable's counters when the run began: what the
	 * host sent (the host end's rx) and received (its tx) */
	uint64_t *sent0, *received0;
};

static const char *const what_names[] = {"kill", "link", "lie"};
static const char *const host_names[] = {"agent", "registry", "manager"};

static unsigned host_of(const struct scenario_fault *f, unsigned vm)
{
	switch (f->host) {
	case SCENARIO_FAULT_REGISTRY:
		return 0;
	case SCENARIO_FAULT_MANAGER:
		return 1;
	default:
		return 2 + vm;
	}
}

/* "vm0003" from a plan host */
static const char *host_name(const struct faults *fx, unsigned host)
{
	return fx->env.plan->hosts[host].name;
}

static void say(struct faults *fx, const char *event, json_t *fields)
{
	eventlog_write(fx->log, event, fields);
}

/* What host sent (or received) over its cable so far. */
static uint64_t cable_bytes(const struct faults *fx, unsigned host, int sent)
{
	return netmon_cable_bytes(fx->env.plan->hosts[host].ifname,
				  sent ? "rx_bytes" : "tx_bytes");
}

/* Said in the timeline and on stderr: a fault that could not be done. */
static void skipped(struct faults *fx, unsigned i, const char *why)
{
	fprintf(stderr, "%s: faults[%u] (line %u): %s\n", fx->env.label, i,
		fx->env.s->faults[i].line, why);
	say(fx, "fault_failed",
	    json_pack("{s:i, s:s}", "fault", (int)i, "why", why));
}

int faults_new(const struct faults_env *env, struct faults **out, struct err *e)
{
	const struct scenario *s = env->s;
	struct faults *fx;
	char path[PATH_MAX + 32];
	enum lie_mode mode;
	unsigned i, n;
	int bytes = 0;
	int ret;

	*out = NULL;
	for (i = 0; i < s->nfaults; i++) {
		const struct scenario_fault *f = &s->faults[i];

		if (f->host == SCENARIO_FAULT_AGENT &&
		    f->role == SCENARIO_ROLE_NAMED &&
		    (strncmp(f->vm, "vm", 2) || strlen(f->vm) != 6 ||
		     (unsigned)atoi(f->vm + 2) >= env->vms))
			return err_set(e, -EINVAL,
				       "%s:%u: faults[%u].vm: expected a VM of "
				       "this run (vm0000 to vm%04u), got '%s'",
				       s->source, f->line, i, env->vms - 1,
				       f->vm);
		if (f->what == SCENARIO_FAULT_LIE && lie_parse(f->lie, &mode))
			return err_set(e, -EINVAL,
				       "%s:%u: faults[%u].lie: '%s' is not a "
				       "way to lie",
				       s->source, f->line, i, f->lie);
	}
	fx = calloc(1, sizeof(*fx));
	if (!fx)
		return err_set(e, -ENOMEM, "out of memory");
	fx->env = *env;
	n = env->plan->nhosts;
	fx->down = calloc(n, 1);
	fx->rerated = calloc(n, 1);
	fx->pick = calloc(env->vms ? env->vms : 1, sizeof(*fx->pick));
	fx->sent0 = calloc(n, sizeof(*fx->sent0));
	fx->received0 = calloc(n, sizeof(*fx->received0));
	for (i = 0; i < s->nfaults && !bytes; i++)
		bytes = s->faults[i].sent || s->faults[i].received;
	for (i = 0; bytes && fx->sent0 && fx->received0 && i < n; i++) {
		fx->sent0[i] = cable_bytes(fx, i, 1);
		fx->received0[i] = cable_bytes(fx, i, 0);
	}
	snprintf(path, sizeof(path), "%s/manager.jsonl", env->raw);
	ret = !fx->down || !fx->rerated || !fx->pick || !fx->sent0 ||
			      !fx->received0
		      ? -ENOMEM
		      : treewatch_new(path, s, env->vms, &fx->tw);
	if (ret) {
		faults_free(fx);
		return err_set(e, ret, "out of memory");
	}
	snprintf(path, sizeof(path), "%s/faults.jsonl", env->raw);
	ret = eventlog_open(path, "faults", &fx->log);
	if (ret) {
		faults_free(fx);
		return err_set(e, ret, "%s: %s", path, strerror(-ret));
	}
	*out = fx;
	return 0;
}

void faults_free(struct faults *fx)
{
	if (!fx)
		return;
	treewatch_free(fx->tw);
	eventlog_close(fx->log);
	free(fx->acts);
	free(fx->down);
	free(fx->rerated);
	free(fx->pick);
	free(fx->sent0);
	free(fx->received0);
	free(fx);
}

static int later(struct faults *fx, uint64_t due, enum act a, unsigned fault,
		 unsigned host)
{
	if (fx->nacts == fx->capacts) {
		size_t cap = fx->capacts ? 2 * fx->capacts : 16;
		struct action *na = realloc(fx->acts, cap * sizeof(*na));

		if (!na)
			return -ENOMEM;
		fx->acts = na;
		fx->capacts = cap;
	}
	fx->acts[fx->nacts++] = (struct action){due, a, fault, host};
	return 0;
}

/* A link's rate as the kernel shapes it: as written, scaled as the
 * scenario scales rates and divided by the dilation, as the plan's are. */
static uint64_t kernel_rate(const struct faults *fx, uint64_t bps)
{
	double r = (double)bps * fx->env.s->scale / fx->env.k;

	return r < 8000 ? 8000 : (uint64_t)r;
}

static int link_set(struct faults *fx, unsigned host, int up, struct err *e)
{
	int ret = topo_host_link(fx->env.plan, host, up, e);

	if (!ret)
		fx->down[host] = !up;
	return ret;
}

/* The registry again, on its storage (regproc_start clears rp first). */
static int registry_start(struct faults *fx, struct err *e)
{
	char dir[PATH_MAX];
	int ret;

	snprintf(dir, sizeof(dir), "%s", fx->env.rp->storage);
	ret = regproc_start(dir, fx->env.rp, e);
	fx->registry_down = ret != 0;
	return ret;
}

/* Kills or starts again the process on host (an agent's VM, the registry
 * or the manager). */
static int proc_do(struct faults *fx, const struct scenario_fault *f,
		   unsigned host, int start, struct err *e)
{
	const struct strategy_faults *ops = fx->env.sp->faults;
	enum strategy_proc p = f->host == SCENARIO_FAULT_MANAGER
				       ? STRATEGY_PROC_MANAGER
				       : STRATEGY_PROC_AGENT;
	int ret;

	if (f->host == SCENARIO_FAULT_REGISTRY) {
		if (!start) {
			ret = regproc_kill(fx->env.rp);
			fx->registry_down = !ret;
			return ret ? err_set(e, ret,
					     "the registry is not "
					     "running")
				   : 0;
		}
		ret = registry_start(fx, e);
		return ret;
	}
	return start ? ops->restart(fx->env.state, p, host - 2, e)
		     : ops->kill(fx->env.state, p, host - 2, e);
}

/* Which hosts fault i hits now: 0 when a role has no VM yet. */
static size_t targets(struct faults *fx, const struct scenario_fault *f,
		      unsigned *hosts, size_t max)
{
	size_t n, i, want;

	if (f->host != SCENARIO_FAULT_AGENT) {
		hosts[0] = host_of(f, 0);
		return 1;
	}
	if (f->role == SCENARIO_ROLE_NAMED) {
		hosts[0] = host_of(f, (unsigned)atoi(f->vm + 2));
		return 1;
	}
	treewatch_poll(fx->tw);
	want = f->count;
	if (f->share > 0) {
		n = treewatch_count(fx->tw, f->function, f->role, f->depth);
		want = (size_t)ceil(f->share * (double)n);
	}
	if (want > fx->env.vms)
		want = fx->env.vms;
	n = treewatch_pick(fx->tw, f->function, f->role, f->depth, fx->pick,
			   want);
	for (i = 0; i < n && i < max; i++)
		hosts[i] = host_of(f, fx->pick[i]);
	return i;
}

/* A fault waiting for bytes: its first target has sent (received) that
 * many, scaled as image sizes are. */
static int bytes_due(struct faults *fx, const struct scenario_fault *f)
{
	unsigned hosts[1];
	double want =
		(double)(f->sent ? f->sent : f->received) * fx->env.s->scale;
	uint64_t now;

	if (!targets(fx, f, hosts, 1))
		return 0;
	now = f->sent ? cable_bytes(fx, hosts[0], 1) - fx->sent0[hosts[0]]
		      : cable_bytes(fx, hosts[0], 0) - fx->received0[hosts[0]];
	return (double)now >= want;
}

/* Fault i fires at now on its targets. */
static int fire(struct faults *fx, unsigned i, uint64_t now, struct err *oom)
{
	const struct scenario_fault *f = &fx->env.s->faults[i];
	unsigned hosts[64], nh, h, k;
	char names[128] = "";
	struct err e = {""};
	size_t o = 0;
	int ret = 0;

	if (f->host != SCENARIO_FAULT_REGISTRY &&
	    f->what != SCENARIO_FAULT_LINK && !fx->env.sp->faults) {
		fx->fired[i] = 1;
		skipped(fx, i, "this strategy has no agents or manager to hit");
		return 0;
	}
	nh = (unsigned)targets(fx, f, hosts, sizeof(hosts) / sizeof(hosts[0]));
	if (!nh) {
		/* The tree has no VM of that role yet: wait for one. */
		if (!fx->waiting[i]++)
			say(fx, "fault_waiting",
			    json_pack("{s:i, s:s}", "fault", (int)i, "why",
				      "no VM has that role yet"));
		return 0;
	}
	fx->fired[i] = 1;
	for (k = 0; k < nh; k++) {
		int n = snprintf(names + o, sizeof(names) - o, "%s%s",
				 k ? " " : "", host_name(fx, hosts[k]));

		if (n > 0 && (size_t)n < sizeof(names) - o)
			o += (size_t)n;
	}
	say(fx, "fault",
	    json_pack("{s:i, s:i, s:s, s:s, s:s, s:f}", "fault", (int)i, "line",
		      (int)f->line, "what", what_names[f->what], "host",
		      host_names[f->host], "targets", names, "at_s",
		      (double)now / 1e9));
	for (k = 0; k < nh && !ret; k++) {
		h = hosts[k];
		e.msg[0] = '\0';
		switch (f->what) {
		case SCENARIO_FAULT_KILL:
			if (proc_do(fx, f, h, 0, &e))
				break;
			if (f->restart_ns)
				ret = later(fx, now + f->restart_ns,
					    ACT_RESTART, i, h);
			break;
		case SCENARIO_FAULT_LINK:
			if (f->rate_bps) {
				if (topo_host_rate(fx->env.plan, h,
						   kernel_rate(fx, f->rate_bps),
						   &e))
					break;
				fx->rerated[h] = 1;
				if (f->for_ns)
					ret = later(fx, now + f->for_ns,
						    ACT_RATE_BACK, i, h);
				break;
			}
			if (link_set(fx, h, 0, &e))
				break;
			if (f->down_ns) {
				ret = later(fx, now + f->down_ns, ACT_LINK_UP,
					    i, h);
				break;
			}
			/* flap: up, down, up ... times downs in all */
			for (unsigned c = 1; c < 2 * f->times && !ret; c++)
				ret = later(fx, now + c * f->flap_ns,
					    c % 2 ? ACT_LINK_UP : ACT_LINK_DOWN,
					    i, h);
			break;
		case SCENARIO_FAULT_LIE: {
			enum lie_mode mode = LIE_NONE;

			if (!lie_parse(f->lie, &mode))
				fx->env.sp->faults->lie(fx->env.state, h - 2,
							(int)mode, &e);
			break;
		}
		}
		if (e.msg[0])
			skipped(fx, i, e.msg);
	}
	return ret ? err_set(oom, ret, "out of memory") : 0;
}

/* A follow-up that is due. */
static void follow_up(struct faults *fx, const struct action *a)
{
	const struct scenario_fault *f = &fx->env.s->faults[a->fault];
	static const char *const names[] = {"restart", "link_up", "link_down",
					    "rate_back"};
	struct err e = {""};

	switch (a->a) {
	case ACT_RESTART:
		proc_do(fx, f, a->host, 1, &e);
		break;
	case ACT_LINK_UP:
	case ACT_LINK_DOWN:
		link_set(fx, a->host, a->a == ACT_LINK_UP, &e);
		break;
	case ACT_RATE_BACK:
		if (!topo_host_rate(fx->env.plan, a->host,
				    fx->env.plan->hosts[a->host].rate_bps, &e))
			fx->rerated[a->host] = 0;
		break;
	}
	say(fx, names[a->a],
	    json_pack("{s:i, s:s, s:f, s:s}", "fault", (int)a->fault, "target",
		      host_name(fx, a->host), "at_s", (double)a->due / 1e9,
		      "error", e.msg));
	if (e.msg[0])
		skipped(fx, a->fault, e.msg);
}

int faults_tick(void *arg, uint64_t now_ns, unsigned started, uint64_t *due_ns,
		struct err *e)
{
	struct faults *fx = arg;
	const struct scenario *s = fx->env.s;
	unsigned i;
	size_t j;
	int ret;

	for (i = 0; i < s->nfaults; i++) {
		const struct scenario_fault *f = &s->faults[i];

		if (fx->fired[i])
			continue;
		if (f->sent || f->received ? bytes_due(fx, f)
		    : f->after		   ? started >= f->after
					   : now_ns >= f->at_ns) {
			ret = fire(fx, i, now_ns, e);
			if (ret)
				return ret;
		}
		if (!fx->fired[i] && !f->after && !f->sent && !f->received &&
		    f->at_ns > now_ns && f->at_ns < *due_ns)
			*due_ns = f->at_ns;
	}
	/* In order of due time; a follow-up may add no other. */
	for (j = 0; j < fx->nacts;) {
		if (fx->acts[j].due > now_ns) {
			if (fx->acts[j].due < *due_ns)
				*due_ns = fx->acts[j].due;
			j++;
			continue;
		}
		follow_up(fx, &fx->acts[j]);
		fx->acts[j] = fx->acts[--fx->nacts];
	}
	return 0;
}

int faults_end(struct faults *fx, struct err *e)
{
	unsigned h;
	int ret = 0;

	for (h = 0; h < fx->env.plan->nhosts && !ret; h++) {
		if (fx->down[h])
			ret = link_set(fx, h, 1, e);
		if (!ret && fx->rerated[h] &&
		    !(ret = topo_host_rate(fx->env.plan, h,
					   fx->env.plan->hosts[h].rate_bps, e)))
			fx->rerated[h] = 0;
	}
	if (!ret && fx->registry_down)
		ret = registry_start(fx, e);
	fx->nacts = 0;
	return ret;
}

/* " vm0003 vm0007 " holds name as a word. */
static int has_word(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (n && (p = strstr(p, name))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

/* One timeline's lines, each as JSON, to fn. */
static void each_line(const char *path, void (*fn)(json_t *j, void *arg),
		      void *arg)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);

		if (j)
			fn(j, arg);
		json_decref(j);
	}
	free(line);
	fclose(f);
}

struct measure {
	struct faults_cost *out;
	uint64_t *t_ns; /* per cost: the fault's wall time */
	size_t n, max;
	double k;
	/* the cost whose loss the manager just logged: its "parent" lines
	 * follow */
	long repairing;
	uint64_t lost_ns;
};

static void fault_line(json_t *j, void *arg)
{
	struct measure *m = arg;
	const char *ev = json_string_value(json_object_get(j, "event"));
	struct faults_cost *c;

	if (!ev || strcmp(ev, "fault") || m->n == m->max)
		return;
	c = &m->out[m->n];
	memset(c, 0, sizeof(*c));
	c->index = (unsigned)json_integer_value(json_object_get(j, "fault"));
	c->at_s = json_real_value(json_object_get(j, "at_s"));
	snprintf(c->targets, sizeof(c->targets), "%s",
		 json_string_value(json_object_get(j, "targets")) ?: "");
	c->detect_s = c->repair_s = -1;
	m->t_ns[m->n++] =
		(uint64_t)json_integer_value(json_object_get(j, "t_ns"));
}

static void manager_line(json_t *j, void *arg)
{
	struct measure *m = arg;
	const char *ev = json_string_value(json_object_get(j, "event"));
	const char *vm = json_string_value(json_object_get(j, "vm"));
	const char *from = json_string_value(json_object_get(j, "from"));
	uint64_t t = (uint64_t)json_integer_value(json_object_get(j, "t_ns"));
	size_t i;

	if (!ev)
		return;
	if (!strcmp(ev, "parent") || !strcmp(ev, "replaced") ||
	    !strcmp(ev, "provision") || !strcmp(ev, "container_lost") ||
	    !strcmp(ev, "replace_failed")) {
		if (!strcmp(ev, "parent") && m->repairing >= 0)
			m->out[m->repairing].repair_s =
				(double)(t - m->t_ns[m->repairing]) / 1e9 /
				m->k;
	} else {
		m->repairing = -1;
	}
	/* The latest fault before t that hit the VM. */
	for (i = m->n; i-- > 0;) {
		struct faults_cost *c = &m->out[i];

		if (t < m->t_ns[i])
			continue;
		if ((!strcmp(ev, "vm_lost") || !strcmp(ev, "vm_distrusted")) &&
		    vm && has_word(c->targets, vm)) {
			if (c->detect_s < 0)
				c->detect_s =
					(double)(t - m->t_ns[i]) / 1e9 / m->k;
			m->repairing = (long)i;
			break;
		}
		if (from && has_word(c->targets, from) &&
		    (!strcmp(ev, "replaced") ||
		     !strcmp(ev, "replace_failed"))) {
			c->lost++;
			c->replaced += !strcmp(ev, "replaced");
			break;
		}
	}
}

size_t faults_measure(const char *raw, double k, struct faults_cost *out,
		      size_t max)
{
	struct measure m = {
		.out = out, .max = max, .k = k > 1 ? k : 1, .repairing = -1};
	char path[PATH_MAX + 32];

	m.t_ns = calloc(max ? max : 1, sizeof(*m.t_ns));
	if (!m.t_ns)
		return 0;
	snprintf(path, sizeof(path), "%s/faults.jsonl", raw);
	each_line(path, fault_line, &m);
	snprintf(path, sizeof(path), "%s/manager.jsonl", raw);
	each_line(path, manager_line, &m);
	free(m.t_ns);
	return m.n;
}

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents.h"
#include "mgrlink.h"
#include "plan.h"
#include "procs.h"
#include "scenario.h"

/* Agents all registered with the manager before the clock starts. */
#define REGISTER_WAIT_MS 30000

struct agents {
	const struct strategy_env *env;
	struct agents_opts o;
	struct mgrlink *ml;
	/* by PID, for faults: the manager's and each VM's agent's (0: killed
	 * and not started again) */
	pid_t manager;
	pid_t *agent;
};

/* faasnet-manager in its namespace, told every function and its image's
 * pinned reference. fresh: the run's first, which a journal left by an
 * earlier run into the same folder must not mislead (only a manager
 * started again, a fault, replays one). */
static int start_manager(const struct strategy_env *env,
			 const struct agents_opts *o, int fresh, pid_t *pid)
{
	const struct scenario *s = env->s;
	char bin[PATH_MAX + 64], mgr_ev[PATH_MAX + 32], dot[PATH_MAX + 32];
	char journal[PATH_MAX + 32];
	char maxc[16], reclaim[24], dead[16], seed[24];
	char kstr[32];
	char(*fnargs)[480] = NULL, (*rtargs)[96] = NULL;
	char **argv = NULL;
	unsigned i, k = 0;
	int ret;

	fnargs = calloc(s->nfunctions ? s->nfunctions : 1, sizeof(*fnargs));
	rtargs = calloc(s->nfunctions ? s->nfunctions : 1, sizeof(*rtargs));
	argv = calloc(20 + 4 * s->nfunctions, sizeof(*argv));
	if (!fnargs || !rtargs || !argv) {
		ret = err_set(env->e, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf(maxc, sizeof(maxc), "%u", env->per_vm);
	snprintf(dead, sizeof(dead), "%u", 2000 + 5 * env->vms);
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)env->seed);
	snprintf(reclaim, sizeof(reclaim), "%llu",
		 s->serve.on ? 0ull
			     : (unsigned long long)(s->reclaim_ns / 1000000));
	snprintf(mgr_ev, sizeof(mgr_ev), "%s/manager.jsonl", env->raw);
	snprintf(dot, sizeof(dot), "%s/trees.dot", env->raw);
	snprintf(journal, sizeof(journal), "%s/manager.journal", env->raw);
	if (fresh && unlink(journal) && errno != ENOENT) {
		ret = err_set(env->e, -errno, "%s: %s", journal,
			      strerror(errno));
		goto out;
	}
	snprintf(kstr, sizeof(kstr), "%.17g", env->k);
	ret = strategy_bin(env, "faasnet-manager", bin, sizeof(bin));
	if (ret)
		goto out;
	argv[k++] = bin;
	for (i = 0; i < s->nfunctions; i++) {
		snprintf(fnargs[i], sizeof(fnargs[i]), "%s=%s",
			 s->functions[i].name,
			 env->refs[s->functions[i].image]);
		argv[k++] = "--function";
		argv[k++] = fnargs[i];
		/* The manager tells the agents (PROVISION's runtime_ms). */
		if (!s->functions[i].runtime_start_ns)
			continue;
		snprintf(rtargs[i], sizeof(rtargs[i]), "%s=%llu",
			 s->functions[i].name,
			 (unsigned long long)(s->functions[i].runtime_start_ns /
					      1000000));
		argv[k++] = "--runtime-start";
		argv[k++] = rtargs[i];
	}
	argv[k++] = "--strategy";
	argv[k++] = (char *)o->mode;
	argv[k++] = "--max-containers";
	argv[k++] = maxc;
	argv[k++] = "--reclaim-ms";
	argv[k++] = reclaim;
	/* A busy host answers heartbeats late: more agents, more patience. */
	argv[k++] = "--dead-ms";
	argv[k++] = dead;
	/* Which VMs root the trees: the same for every strategy of this
	 * repetition, whatever order the agents register in. */
	argv[k++] = "--seed";
	argv[k++] = seed;
	argv[k++] = "--events";
	argv[k++] = mgr_ev;
	argv[k++] = "--dot";
	argv[k++] = dot;
	/* Killed mid-run and started again, it takes up where it was. */
	argv[k++] = "--journal";
	argv[k++] = journal;
	/* Its timers, and the agents', run in the world's time. */
	argv[k++] = "--dilation";
	argv[k++] = kstr;
	argv[k] = NULL;
	ret = procs_spawn(env->pr, TOPO_PREFIX "manager", argv, env->plog, pid,
			  env->e);
out:
	free(argv);
	free(fnargs);
	free(rtargs);
	return ret;
}

/* The faasnet-agent of VM i in its namespace. */
static int start_agent(const struct strategy_env *env,
		       const struct agents_opts *o, unsigned i, pid_t *pid)
{
	const struct topo_host *h = &env->plan->hosts[2 + i];
	char bin[PATH_MAX + 64], mgr[32], kstr[32];
	char addr[32], ev[PATH_MAX + 32], via[48];
	char *av[16] = {bin,
			"--name",
			(char *)h->name,
			"--addr",
			addr,
			"--manager",
			mgr,
			"--events",
			ev,
			"--meta-dir",
			(char *)env->meta,
			"--dilation",
			kstr,
			NULL};
	int ret;

	ret = strategy_bin(env, "faasnet-agent", bin, sizeof(bin));
	if (ret)
		return ret;
	snprintf(kstr, sizeof(kstr), "%.17g", env->k);
	topo_addr_str(TOPO_MANAGER_ADDR, mgr, sizeof(mgr));
	topo_addr_str(h->addr, addr, sizeof(addr));
	snprintf(ev, sizeof(ev), "%s/%s.jsonl", env->raw, h->name);
	if (o->via_port) {
		snprintf(via, sizeof(via), "%s:%u", addr, o->via_port);
		av[13] = "--registry-via";
		av[14] = via;
		av[15] = NULL;
	}
	return procs_spawn(env->pr, h->netns, av, env->plog, pid, env->e);
}

/* One faasnet-agent per VM. */
static int start_agents(struct agents *a)
{
	const struct strategy_env *env = a->env;
	unsigned i, vms = env->vms;
	int ret;

	for (i = 0; i < vms; i++) {
		ret = start_agent(env, &a->o, i, &a->agent[i]);
		if (ret)
			return ret;
		if (vms >= 100 && (i + 1) % (vms / 10) == 0)
			fprintf(stderr, "%s: %u/%u agents started\n",
				env->label, i + 1, vms);
	}
	return 0;
}

int agents_start(const struct strategy_env *env, const struct agents_opts *o,
		 void **state, struct driver_target *t)
{
	struct agents *a = calloc(1, sizeof(*a));
	struct err we = {""};
	int ret;

	*state = a;
	if (!a)
		return err_set(env->e, -ENOMEM, "out of memory");
	a->env = env;
	a->o = *o;
	a->agent = calloc(env->vms ? env->vms : 1, sizeof(*a->agent));
	if (!a->agent)
		return err_set(env->e, -ENOMEM, "out of memory");
	ret = start_manager(env, o, 1, &a->manager);
	if (!ret)
		ret = start_agents(a);
	if (ret)
		return ret;
	/* Every agent registered before the clock starts: the manager says
	 * how many it has (GET_STATUS). */
	ret = mgrlink_wait_agents(TOPO_MANAGER_ADDR, TOPO_MANAGER_PORT,
				  env->vms, REGISTER_WAIT_MS, env->stop, NULL,
				  &we);
	if (ret)
		return err_set(env->e, ret, "%s: %s (see %s)", env->label,
			       we.msg, env->plog);
	return mgrlink_open(TOPO_MANAGER_ADDR, TOPO_MANAGER_PORT, env->s,
			    &a->ml, t, env->e);
}

/* What the logs of one run say per container: the VM from the manager's
 * provision lines, the bytes from the agents' started lines, when its
 * image was ready from their image_ready lines. k: the run's dilation, to
 * put the agents' timestamps on the world's clock, as the driver does with
 * STARTED's. */
static void read_logs(const char *raw, const struct driver_result *dr, double k,
		      struct strategy_fact *seen, unsigned *corrupt)
{
	char path[PATH_MAX + 300], line[8192];
	struct dirent *de;
	DIR *d;
	FILE *f;

	d = opendir(raw);
	if (!d)
		return;
	while ((de = readdir(d))) {
		/* Per VM (one log) and function, bytes so far: a second
		 * container of a function on the same VM gets only what was
		 * fetched after the first. */
		struct {
			char fn[64];
			uint64_t reg, peer;
		} prev[32] = {0};
		unsigned nprev = 0, pi;

		if (!strstr(de->d_name, ".jsonl"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", raw, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			json_t *j = json_loads(line, 0, NULL);
			const char *ev =
				json_string_value(json_object_get(j, "event"));
			long long id = json_integer_value(
				json_object_get(j, "container"));
			const char *who =
				json_string_value(json_object_get(j, "who"));
			int idx = (int)(id - dr->first_id);

			if (!ev || !who) {
				json_decref(j);
				continue;
			}
			if (!strcmp(ev, "corrupt_block"))
				(*corrupt)++;
			if (idx >= 0 && (unsigned)idx < dr->n) {
				if (!strcmp(who, "manager") &&
				    !strcmp(ev, "provision")) {
					const char *vm = json_string_value(
						json_object_get(j, "vm"));

					snprintf(seen[idx].vm,
						 sizeof(seen[idx].vm), "%s",
						 vm ? vm : "");
				}
				if (strcmp(who, "manager") &&
				    !strcmp(ev, "image_ready") &&
				    !seen[idx].ready_ns)
					seen[idx].ready_ns = driver_world_ns(
						dr->t0_ns, k,
						(uint64_t)json_integer_value(
							json_object_get(
								j, "t_ns")));
				if (strcmp(who, "manager") &&
				    !strcmp(ev, "started")) {
					uint64_t reg =
						(uint64_t)json_integer_value(
							json_object_get(
								j, "registry_"
								   "bytes"));
					uint64_t peer =
						(uint64_t)json_integer_value(
							json_object_get(
								j, "parent_"
								   "bytes"));
					const char *fn = json_string_value(
						json_object_get(j, "function"));

					for (pi = 0; pi < nprev && fn &&
						     strcmp(prev[pi].fn, fn);
					     pi++)
						;
					if (pi == nprev && nprev < 32) {
						snprintf(prev[pi].fn,
							 sizeof(prev[pi].fn),
							 "%s", fn ? fn : "");
						prev[pi].reg = prev[pi].peer =
							0;
						nprev++;
					}
					/* An agent started again counts
					 * from 0. */
					if (pi < 32 && (reg < prev[pi].reg ||
							peer < prev[pi].peer))
						prev[pi].reg = prev[pi].peer =
							0;
					if (pi < 32) {
						seen[idx].registry_bytes =
							reg - prev[pi].reg;
						seen[idx].peer_bytes =
							peer - prev[pi].peer;
						prev[pi].reg = reg;
						prev[pi].peer = peer;
					}
				}
			}
			json_decref(j);
		}
		fclose(f);
	}
	closedir(d);
}

int agents_facts(void *state, const struct driver_result *dr,
		 struct strategy_fact *f, unsigned *corrupt)
{
	struct agents *a = state;
	unsigned i;

	read_logs(a->env->raw, dr, a->env->k, f, corrupt);
	if (a->o.registry_is_peers)
		for (i = 0; i < dr->n; i++) {
			f[i].peer_bytes += f[i].registry_bytes;
			f[i].registry_bytes = 0;
		}
	return 0;
}

void agents_free(void *state)
{
	struct agents *a = state;

	if (!a)
		return;
	mgrlink_close(a->ml);
	free(a->agent);
	free(a);
}

/* The process p names: its PID slot, or NULL with e set. */
static pid_t *proc_slot(struct agents *a, enum strategy_proc p, unsigned vm,
			struct err *e)
{
	if (p == STRATEGY_PROC_MANAGER)
		return &a->manager;
	if (vm < a->env->vms)
		return &a->agent[vm];
	err_set(e, -EINVAL, "vm%04u: no such VM (this run has %u)", vm,
		a->env->vms);
	return NULL;
}

static int fault_kill(void *state, enum strategy_proc p, unsigned vm,
		      struct err *e)
{
	struct agents *a = state;
	pid_t *pid = proc_slot(a, p, vm, e);

	if (!pid)
		return -EINVAL;
	if (!*pid || procs_kill(a->env->pr, *pid))
		return err_set(e, -ESRCH, "%s: not running",
			       p == STRATEGY_PROC_MANAGER ? "the manager"
							  : "that agent");
	*pid = 0;
	return 0;
}

static int fault_restart(void *state, enum strategy_proc p, unsigned vm,
			 struct err *e)
{
	struct agents *a = state;
	pid_t *pid = proc_slot(a, p, vm, e);
	const struct strategy_env *env = a->env;
	struct strategy_env ce;

	if (!pid)
		return -EINVAL;
	if (*pid && procs_alive(env->pr, *pid))
		return err_set(e, -EBUSY, "%s runs already",
			       p == STRATEGY_PROC_MANAGER ? "the manager"
							  : "that agent");
	/* Its errors in e, not in the run's. */
	ce = *env;
	ce.e = e;
	return p == STRATEGY_PROC_MANAGER ? start_manager(&ce, &a->o, 0, pid)
					  : start_agent(&ce, &a->o, vm, pid);
}

static int fault_lie(void *state, unsigned vm, int mode, struct err *e)
{
	struct agents *a = state;
	pid_t *pid = proc_slot(a, STRATEGY_PROC_AGENT, vm, e);
	int ret;

	if (!pid)
		return -EINVAL;
	ret = *pid ? procs_sigqueue(a->env->pr, *pid, SIGUSR1, mode) : -ESRCH;
	return ret ? err_set(e, ret, "vm%04u's agent: %s", vm, strerror(-ret))
		   : 0;
}

const struct strategy_faults agents_faults = {
	.kill = fault_kill,
	.restart = fault_restart,
	.lie = fault_lie,
};

/* dadi: DADI+P2P (the paper's fourth competitor; docs/dadi.md): a
 * faasnet-dadi proxy on every VM and one P2P root, on the manager's host
 * (a VM-sized host with its own link, idle otherwise, as the paper puts
 * the root on one small VM), reading from the registry. The agents run in
 * their ondemand mode, each reading the registry through its own VM's
 * proxy (--registry-via), so every block they fetch comes down the proxies'
 * per-blob trees of fan-out 2 and is still checked against the pinned
 * manifest by the agent. The bytes an agent read through its proxy are
 * counted as peer bytes: only the root reads the registry. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agents.h"
#include "pieces.h"
#include "evloop.h"
#include "plan.h"
#include "procs.h"
#include "registry.h"
#include "scenario.h"

/* Every proxy answers GET /v2/ within this, world time. */
#define PROXY_WAIT_MS 30000

/* dadi-p2proxy's 1 MiB pieces, scaled as the run scales every block
 * (scenario_scaled_block_size): a scaled image has the blocks of its
 * full-size one, so each piece must hold as many of them as at full size,
 * or a start-up read would pull 1/scale times too much of the blob. Not
 * below the proxy's 1 KiB floor. */
static size_t dadi_piece(const struct scenario *s)
{
	double b = (double)DADI_PIECE_SIZE * (s->scale > 0 ? s->scale : 1);

	return b < 1024 ? 1024 : (size_t)b;
}

/* faasnet-dadi in netns, as the root (roots NULL) or a VM's proxy. */
static int start_proxy(const struct strategy_env *env, const char *netns,
		       uint32_t addr, const char *roots, unsigned seed)
{
	char bin[PATH_MAX + 64], self[48], reg[64];
	char kstr[32], seedstr[16], a[32], piece[24];
	char *argv[18];
	unsigned k = 0;
	int ret;

	ret = strategy_bin(env, "faasnet-dadi", bin, sizeof(bin));
	if (ret)
		return ret;
	topo_addr_str(addr, a, sizeof(a));
	snprintf(self, sizeof(self), "%s:%d", a, TOPO_DADI_PORT);
	snprintf(reg, sizeof(reg), "http://%s", env->registry);
	snprintf(kstr, sizeof(kstr), "%.17g", env->k);
	snprintf(seedstr, sizeof(seedstr), "%u", seed);
	snprintf(piece, sizeof(piece), "%zu", dadi_piece(env->s));
	argv[k++] = bin;
	argv[k++] = "--registry";
	argv[k++] = reg;
	argv[k++] = "--self";
	argv[k++] = self;
	if (roots) {
		argv[k++] = "--roots";
		argv[k++] = (char *)roots;
	} else {
		argv[k++] = "--root";
	}
	argv[k++] = "--piece-size";
	argv[k++] = piece;
	argv[k++] = "--seed";
	argv[k++] = seedstr;
	argv[k++] = "--dilation";
	argv[k++] = kstr;
	argv[k] = NULL;
	return procs_spawn(env->pr, netns, argv, env->plog, NULL, env->e);
}

/* Waits until the proxy at addr answers GET /v2/ (the registry's answer,
 * through it). */
static int wait_proxy(const struct strategy_env *env, uint32_t addr,
		      uint64_t until)
{
	char url[64], a[32];
	struct registry *r = NULL;
	struct err e = {""};
	int ret;

	topo_addr_str(addr, a, sizeof(a));
	snprintf(url, sizeof(url), "http://%s:%d", a, TOPO_DADI_PORT);
	ret = registry_open(url, &r, &e);
	if (ret)
		return err_set(env->e, ret, "%s: %s", url, e.msg);
	while ((ret = registry_ping(r, &e))) {
		if (env->stop && *env->stop) {
			ret = err_set(env->e, -EINTR, "interrupted");
			break;
		}
		if (evloop_now_ns() > until) {
			ret = err_set(env->e, -ETIMEDOUT,
				      "%s: the DADI proxy at %s did not answer "
				      "in %d s: %s (see %s)",
				      env->label, url, PROXY_WAIT_MS / 1000,
				      e.msg, env->plog);
			break;
		}
		usleep(20000);
	}
	registry_close(r);
	return ret;
}

static int start(const struct strategy_env *env, void **state,
		 struct driver_target *t)
{
	static const struct agents_opts o = {.mode = "ondemand",
					     .via_port = TOPO_DADI_PORT,
					     .registry_is_peers = 1};
	const struct topo_plan *plan = env->plan;
	uint64_t until;
	char roots[48], a[32];
	unsigned i, vms = env->vms;
	int ret;

	*state = NULL;
	until = evloop_now_ns() +
		(uint64_t)(PROXY_WAIT_MS * env->k) * 1000000ull;
	topo_addr_str(TOPO_MANAGER_ADDR, a, sizeof(a));
	snprintf(roots, sizeof(roots), "%s:%d", a, TOPO_DADI_PORT);
	ret = start_proxy(env, TOPO_PREFIX "manager", TOPO_MANAGER_ADDR, NULL,
			  (unsigned)env->seed);
	if (!ret)
		ret = wait_proxy(env, TOPO_MANAGER_ADDR, until);
	for (i = 0; !ret && i < vms; i++)
		ret = start_proxy(env, plan->hosts[2 + i].netns,
				  plan->hosts[2 + i].addr, roots,
				  (unsigned)env->seed + 1 + i);
	for (i = 0; !ret && i < vms; i++)
		ret = wait_proxy(env, plan->hosts[2 + i].addr, until);
	if (ret)
		return ret;
	fprintf(stderr, "%s: %u DADI proxies and the P2P root up\n", env->label,
		vms);
	return agents_start(env, &o, state, t);
}

const struct strategy strategy_dadi = {
	.name = "dadi",
	.about = "DADI+P2P: on-demand blocks through a proxy per VM, per-blob "
		 "trees of fan-out 2 under one P2P root",
	.serves = true,
	.start = start,
	.facts = agents_facts,
	.free = agents_free,
	.faults = &agents_faults,
};

/* agents: the FaaSNet stack of one run, for every strategy built on it
 * (st_faasnet.c, st_ondemand.c, st_registry.c, st_dadi.c): faasnet-manager
 * in fnet-manager, one faasnet-agent per VM, the wait until every agent has
 * registered, the manager as the driver's target (mgrlink.h), and after
 * the run what the manager's and agents' logs say per container. It owns
 * the command lines and the reading of those logs; the processes are
 * env->pr's. */
#ifndef FAASNET_TESTBED_AGENTS_H
#define FAASNET_TESTBED_AGENTS_H

#include "strategy.h"

struct agents_opts {
	/* The manager's --strategy: what PROVISION tells the agents
	 * (faasnet: the trees; ondemand: blocks from the registry; registry:
	 * the whole layer first). */
	const char *mode;
	/* Not 0: every agent reads the registry through this port on its
	 * own VM (--registry-via VM:PORT), a proxy there (st_dadi.c). */
	unsigned via_port;
	/* Bytes an agent read from "the registry" came from the P2P
	 * network (through via_port): count them as peer bytes. */
	int registry_is_peers;
};

struct agents;

/* Starts the manager and the agents and waits for them all; fills *t and
 * *state (a struct agents). 0 or a negative errno with env->e. *state is
 * left for agents_free on every path. */
int agents_start(const struct strategy_env *env, const struct agents_opts *o,
		 void **state, struct driver_target *t);
/* A strategy built on the agents takes these two as its facts and free
 * (strategy.h): the facts of every container from the logs in env->raw. */
int agents_facts(void *state, const struct driver_result *dr,
		 struct strategy_fact *f, unsigned *corrupt);
void agents_free(void *state);
/* and these faults on the manager and the agents, by PID */
extern const struct strategy_faults agents_faults;

#endif

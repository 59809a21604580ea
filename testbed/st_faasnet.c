/* faasnet: the paper's system. The manager places containers and keeps a
 * function tree per function; an agent fetches the start-up blocks from
 * its parent in the tree (the root from the registry) and serves its
 * children while it does (docs/protocol.md). */
#include "agents.h"

static int start(const struct strategy_env *env, void **state,
		 struct driver_target *t)
{
	static const struct agents_opts o = {.mode = "faasnet"};

	return agents_start(env, &o, state, t);
}

const struct strategy strategy_faasnet = {
	.name = "faasnet",
	.about = "function trees: each VM streams blocks from its parent, the "
		 "root from the registry",
	.serves = true,
	.start = start,
	.facts = agents_facts,
	.free = agents_free,
	.faults = &agents_faults,
};

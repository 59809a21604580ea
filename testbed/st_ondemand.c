/* ondemand: the paper's on-demand baseline (its Fig. 14 "on-demand"): the
 * same manager and agents, the same block images, but every agent reads its
 * start-up blocks from the registry itself, no tree. */
#include "agents.h"

static int start(const struct strategy_env *env, void **state,
		 struct driver_target *t)
{
	static const struct agents_opts o = {.mode = "ondemand"};

	return agents_start(env, &o, state, t);
}

const struct strategy strategy_ondemand = {
	.name = "ondemand",
	.about = "on-demand blocks, every VM from the registry",
	.serves = true,
	.start = start,
	.facts = agents_facts,
	.free = agents_free,
	.faults = &agents_faults,
};

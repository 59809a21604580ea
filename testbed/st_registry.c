/* registry: the classic pull (docker pull): the same manager and agents,
 * but an agent downloads the whole tar+gzip layer from the registry and
 * checks it before the container starts. */
#include "agents.h"

static int start(const struct strategy_env *env, void **state,
		 struct driver_target *t)
{
	static const struct agents_opts o = {.mode = "registry"};

	return agents_start(env, &o, state, t);
}

const struct strategy strategy_registry = {
	.name = "registry",
	.about = "the whole layer from the registry, then start",
	.serves = true,
	.start = start,
	.facts = agents_facts,
	.free = agents_free,
	.faults = &agents_faults,
};

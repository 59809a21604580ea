/* registry: the classic pull (docker pull): the same manager and agents,
 * but an agent downloads the whole tar+gzip layer from the registry and
 * checks it before the container starts. */
#include "agents.h"

static int start(const struct strategy_env *env, void **state,
		 struct driver_target *t)
{
	static const struct agents_opts o = {.mode = "registry"};

	return agents_start(env, &o, (struct agents **)state, t);
}

static int facts(void *state, const struct driver_result *dr,
		 struct strategy_fact *f, unsigned *corrupt)
{
	return agents_facts(state, dr, f, corrupt);
}

static void release(void *state)
{
	agents_free(state);
}

const struct strategy strategy_registry = {
	.name = "registry",
	.about = "the whole layer from the registry, then start",
	.serves = true,
	.start = start,
	.facts = facts,
	.free = release,
};

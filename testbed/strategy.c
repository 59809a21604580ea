#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strategy.h"

/* Every strategy, in the default order a scenario without `strategies`
 * runs them. A new strategy is its file, testbed/st_NAME.c, and one line
 * here. */
#define STRATEGIES                                                             \
	X(faasnet)                                                             \
	X(ondemand)                                                            \
	X(registry)                                                            \
	X(bittorrent)                                                          \
	X(dadi)

#define X(n) extern const struct strategy strategy_##n;
STRATEGIES
#undef X

static const struct strategy *const table[] = {
#define X(n) &strategy_##n,
	STRATEGIES
#undef X
};

#define NTABLE (sizeof(table) / sizeof(table[0]))
_Static_assert(NTABLE <= STRATEGY_MAX, "raise STRATEGY_MAX");

int strategy_bin(const struct strategy_env *env, const char *name, char *buf,
		 size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", env->bindir, name) < len)
		return 0;
	return err_set(env->e, -ENAMETOOLONG, "%s/%s: path too long",
		       env->bindir, name);
}

unsigned strategy_count(void)
{
	return NTABLE;
}

const struct strategy *strategy_at(unsigned i)
{
	return i < NTABLE ? table[i] : NULL;
}

int strategy_find(const char *name)
{
	unsigned i;

	for (i = 0; i < NTABLE; i++)
		if (!strcmp(name, table[i]->name))
			return (int)i;
	return -1;
}

const char *strategy_name(unsigned i)
{
	return i < NTABLE ? table[i]->name : "unknown";
}

void strategy_list(char *buf, size_t len, bool serving)
{
	size_t n = 0;
	unsigned i;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < NTABLE && n < len; i++)
		if (!serving || table[i]->serves)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
					      n ? ", " : "", table[i]->name);
}

#include <stdlib.h>
#include <string.h>

#include "place.h"

/* splitmix64's finalizer: a bijection that spreads every input bit over
 * the output, so neighbouring seeds and names give unrelated ranks. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t place_rank(uint64_t seed, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return mix(h ^ mix(seed));
}

bool place_fits(const struct place_vm *v, const struct place_limits *l)
{
	if (!v->alive || v->ncontainers >= l->max_containers)
		return false;
	return v->runs_f || v->nfunctions < l->max_functions;
}

static int seeded_cmp(uint64_t ra, const char *na, uint64_t rb, const char *nb)
{
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(na, nb);
}

bool place_before(const struct place_vm *a, const struct place_vm *b)
{
	if (a->runs_f != b->runs_f)
		return a->runs_f;
	if (a->ncontainers != b->ncontainers)
		return a->ncontainers > b->ncontainers;
	return seeded_cmp(a->rank, a->name, b->rank, b->name) < 0;
}

long place_pick(const struct place_vm *vms, size_t n,
		const struct place_limits *l)
{
	long best = -1;
	size_t i;

	for (i = 0; i < n; i++)
		if (place_fits(&vms[i], l) &&
		    (best < 0 || place_before(&vms[i], &vms[best])))
			best = (long)i;
	return best;
}

struct order_ctx {
	uint64_t seed;
	const char *const *names;
};

static int order_cmp(const void *a, const void *b, void *arg)
{
	const struct order_ctx *c = arg;
	const char *na = c->names[*(const size_t *)a],
		   *nb = c->names[*(const size_t *)b];

	return seeded_cmp(place_rank(c->seed, na), na, place_rank(c->seed, nb),
			  nb);
}

void place_order(uint64_t seed, const char *const *names, size_t n,
		 size_t *order)
{
	struct order_ctx c = {seed, names};
	size_t i;

	for (i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), order_cmp, &c);
}

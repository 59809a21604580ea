/* place: which VM gets a function's next container, and the seeded order
 * that breaks ties, so that a scenario's runs put a function tree's root
 * (and so its interior VMs) on the same VMs whatever order the agents'
 * HELLOs arrived in. It owns the rules and the order; the VM pool, the
 * trees and the messages stay the FT manager's (manager.h). No I/O. */
#ifndef FAASNET_MANAGER_PLACE_H
#define FAASNET_MANAGER_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One VM as placement sees it when placing one container of function f. */
struct place_vm {
	const char *name; /* breaks a tie of ranks, which a 64-bit hash may */
	uint64_t rank;	  /* place_rank(seed, name) */
	unsigned ncontainers, nfunctions;
	bool alive;
	bool runs_f; /* already in f's tree */
};

struct place_limits {
	unsigned max_functions, max_containers; /* per VM */
};

/* A VM's place in the seeded order: a hash of the seed and its name, so
 * the order is a permutation of the names that one seed always gives and
 * another seed shuffles anew, whatever the order of arrival. */
uint64_t place_rank(uint64_t seed, const char *name);

/* Whether v may take a container of f: alive, room for a container, and
 * either already running f or room for one more function. */
bool place_fits(const struct place_vm *v, const struct place_limits *l);

/* Whether a goes before b (both fitting): a VM already running f first,
 * then the fullest (bin-packing: best fit), then the seeded order. A
 * strict order: names are unique. */
bool place_before(const struct place_vm *a, const struct place_vm *b);

/* The VM of vms[0..n) that gets the container (the first by place_before
 * of those that fit), or -1 when none fits. */
long place_pick(const struct place_vm *vms, size_t n,
		const struct place_limits *l);

/* The seeded order of n names, what place_before falls back on, whole:
 * order[k] is the index into names of the k-th. For tests and for people
 * asking which VM a seed puts first. */
void place_order(uint64_t seed, const char *const *names, size_t n,
		 size_t *order);

#endif

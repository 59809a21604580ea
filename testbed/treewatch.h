/* treewatch: the function trees of a running manager as its timeline
 * (manager.jsonl) tells them, read as the manager writes it: which VM is
 * each VM's parent in each function's tree. The fault injector (faults.h)
 * picks VMs by their role in a tree from it (the root, interior VMs at a
 * depth, leaves), and a run records every tree's height and size over time
 * (trees.csv). It owns that mirror; the manager owns the trees.
 *
 * The mirror follows the manager's events: "provision" (a VM joins a tree
 * under a parent), "parent" (a VM's parent changed), "reclaim" with
 * leaves_tree, "vm_lost" and "vm_distrusted" (a VM leaves every tree; the
 * VMs below it get "parent" lines next). An event the manager has not
 * written out yet is not seen: the mirror is at most one round of the
 * manager's loop behind. */
#ifndef FAASNET_TESTBED_TREEWATCH_H
#define FAASNET_TESTBED_TREEWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

struct treewatch;

/* One change of a tree's shape: at t_ns (the manager's CLOCK_MONOTONIC),
 * function fn's tree had this height (levels; 0 empty) and size. */
struct treewatch_sample {
	uint64_t t_ns;
	unsigned fn;
	unsigned height, size;
};

/* Watches path (which may not exist yet) for the trees of s's functions
 * over vms VMs (vm0000 ...). 0 or -ENOMEM. */
int treewatch_new(const char *path, const struct scenario *s, unsigned vms,
		  struct treewatch **out);
void treewatch_free(struct treewatch *tw);

/* Reads what the manager wrote since the last call. 0, or a negative
 * errno when the file cannot be read (a missing file is not an error). */
int treewatch_poll(struct treewatch *tw);

/* Up to max VMs (indexes) of function fn's tree in role, the largest
 * subtrees first, then by index: the VMs whose loss costs the tree most.
 * depth >= 0 keeps interior VMs at that depth (the root is 0). Returns
 * how many it put in out. */
size_t treewatch_pick(const struct treewatch *tw, unsigned fn,
		      enum scenario_fault_role role, int depth, unsigned *out,
		      size_t max);
/* How many VMs role has in fn's tree now (for a share of them). */
size_t treewatch_count(const struct treewatch *tw, unsigned fn,
		       enum scenario_fault_role role, int depth);

/* Every change of height or size seen so far, in order; the changes of
 * one round of the manager's (within a millisecond: a repair, a burst's
 * placements) as one, the states between them not being the tree's. */
const struct treewatch_sample *treewatch_samples(const struct treewatch *tw,
						 size_t *n);

#endif

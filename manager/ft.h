/* ft: the function tree (FT) of one function, a balanced binary tree over the
 * VMs that run it (FaaSNet, ATC '21). It owns the tree shape, the vm -> node
 * index and the rules for inserting and deleting VMs, and reports which VMs
 * got a new parent. It does no I/O and knows nothing of functions, agents or
 * the network: the FT manager keeps one struct ft per function and tells
 * agents about the parent changes. See docs/function-tree.md. */
#ifndef FAASNET_FT_H
#define FAASNET_FT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* VM ids are any uint32_t except FT_NONE, which stands for "no VM": the
 * missing child in ft_children() and, as FT_REGISTRY, the root's parent. */
#define FT_NONE	    UINT32_MAX
#define FT_REGISTRY FT_NONE

/* How ft_delete() repairs the hole a VM leaves. Both keep every invariant
 * that ft_check() verifies; they differ in height and in how many VMs change
 * parent (docs/function-tree.md compares them). */
enum ft_repair {
	/* The paper's rule: left, right, left-right and right-left rotations
	 * restore AVL balance on the way up, once the deepest leaf below the
	 * deleted VM has taken its place (which VM fills the hole is our
	 * choice; the paper does not say). Height stays below
	 * 1.44 log2(N + 2), and is usually within one of the least. */
	FT_REPAIR_AVL,
	/* The last VM in breadth-first order takes the deleted VM's place, so
	 * the tree stays complete: height ceil(log2(N + 1)), at most three
	 * VMs change parent, no rotation is ever needed. */
	FT_REPAIR_COMPLETE,
};

/* Told of every ft_insert() and ft_delete() that succeeds, in order, once
 * the tree is consistent again and before the change reports: both are
 * deterministic, so the same operations replayed in the same order on an
 * empty tree give the same tree, every VM with the same parent. The FT
 * manager journals them this way to rebuild its trees after a restart. */
enum ft_op { FT_OP_INSERT, FT_OP_DELETE };
typedef void ft_op_fn(void *arg, enum ft_op op, uint32_t vm);

/* The layout is shown so that tests can corrupt a tree on purpose and check
 * that ft_check() notices; everyone else goes through the functions. */
struct ft_node {
	uint32_t vm;
	/* Levels in this subtree, and how many of them, from the top, are
	 * full: the shallowest free child slot is on level full + 1. */
	uint8_t height;
	uint8_t full;
	uint8_t touched; /* recorded in this operation's change list */
	uint32_t old_parent;
	struct ft_node *parent;
	struct ft_node *child[2]; /* FT_LEFT, FT_RIGHT */
	struct ft_node *touch_next;
};

enum { FT_LEFT, FT_RIGHT };

struct ft {
	struct ft_node *root;
	size_t n;
	enum ft_repair repair;
	/* vm -> node: open addressing, linear probing, at most half full */
	struct ft_node **slots;
	unsigned int bits; /* 1 << bits slots, 0 before the first insert */
	/* VMs whose parent may have changed in the running operation */
	struct ft_node *touched;
	struct ft_node **touched_tail;
	/* ft_observe's: told of every insert and delete (NULL: none) */
	ft_op_fn *observe;
	void *observe_arg;
};

/* Called once per VM whose parent changed, after the tree is consistent
 * again; parent is FT_REGISTRY for the new root. It may look at the tree but
 * must not change it. On ft_insert() it is called for the new VM too. */
typedef void ft_change_fn(void *arg, uint32_t vm, uint32_t parent);

/* NULL (errno ENOMEM or EINVAL) on failure. */
struct ft *ft_new(enum ft_repair repair);
void ft_free(struct ft *ft);

/* Put vm in the first free child slot in breadth-first order: the shallowest
 * one, the leftmost of those. fn may be NULL. Returns 0, -EEXIST, -EINVAL
 * (vm is FT_NONE) or -ENOMEM (the tree is then unchanged). O(log N). */
int ft_insert(struct ft *ft, uint32_t vm, ft_change_fn *fn, void *arg);

/* Take vm out (reclaimed or failed; root, interior node or leaf) and repair
 * the tree as ft->repair says. fn may be NULL; the deleted VM itself is not
 * reported. Returns 0 or -ENOENT. Never allocates. O(log N). */
int ft_delete(struct ft *ft, uint32_t vm, ft_change_fn *fn, void *arg);

/* Returns 0 and the parent (FT_REGISTRY for the root), or -ENOENT. */
int ft_parent(const struct ft *ft, uint32_t vm, uint32_t *parent);

/* child[FT_LEFT] and child[FT_RIGHT] get the children or FT_NONE. Returns
 * the number of children (0-2) or -ENOENT. */
int ft_children(const struct ft *ft, uint32_t vm, uint32_t child[2]);

/* Returns 0 and the root's VM, or -ENOENT when the tree is empty. */
int ft_root(const struct ft *ft, uint32_t *vm);

/* Every successful insert and delete from now on goes to fn (NULL: none)
 * with arg. */
void ft_observe(struct ft *ft, ft_op_fn *fn, void *arg);

bool ft_contains(const struct ft *ft, uint32_t vm);
size_t ft_size(const struct ft *ft);

/* Levels in the tree: 0 when empty, 1 for a lone root. */
unsigned int ft_height(const struct ft *ft);

/* Verifies every invariant: parent and child links agree, every node is
 * reachable from the root, the index holds each VM exactly once, stored
 * heights and full levels are right, every node is AVL-balanced, and under
 * FT_REPAIR_COMPLETE the tree is complete. Returns 0, or -EUCLEAN and says in
 * e which one failed. O(N). */
int ft_check(const struct ft *ft, struct err *e);

/* Writes the tree as a Graphviz digraph called name (NULL: "ft"), the
 * registry on top, left and right children in their places. Returns 0 or
 * -EIO when f reports an error. */
int ft_dump_dot(const struct ft *ft, FILE *f, const char *name);

#endif

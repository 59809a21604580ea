/* tree: DADI+P2P's distribution trees, one per blob, as a node sees them
 * (docs/dadi.md): the children it serves for each blob, with their last
 * request time, the join decision (serve or redirect to a child), the
 * upstream it reads each blob from, and the choice of a root. Pure: no I/O,
 * no clock, no locks (the caller serialises and says the time); it knows
 * nothing about HTTP or pieces. */
#ifndef FAASNET_DADI_TREE_H
#define FAASNET_DADI_TREE_H

#include <stddef.h>
#include <stdint.h>

/* dadi-p2proxy's limits: at most 2 children per blob on every node, the
 * root included, each forgotten after a minute without a request. */
#define DADI_TREE_FANOUT    2
#define DADI_TREE_EXPIRY_MS 60000u
/* A node's address as the others reach it: "HOST:PORT". */
#define DADI_TREE_ADDR_LEN 64
#define DADI_TREE_KEY_LEN  400 /* a blob's key: "REPO@DIGEST" */

struct dadi_tree;

enum dadi_join {
	DADI_JOIN_SERVE,    /* the asker is (now) a child: serve it */
	DADI_JOIN_REDIRECT, /* full: send it (307) to *redirect */
};

/* fanout: children per blob (DADI_TREE_FANOUT); expiry_ns: how long a
 * child may stay idle before its slot is free again, in the caller's
 * clock (the world's minute times the dilation, in wall ns). seed makes
 * every random choice (root, redirect target) reproducible. 0 or
 * -ENOMEM/-EINVAL. */
int dadi_tree_new(unsigned fanout, uint64_t expiry_ns, uint64_t seed,
		  struct dadi_tree **t);
void dadi_tree_free(struct dadi_tree *t);

/* A node `child` asks for a piece of blob `key` at now_ns. Expired
 * children go first; then a known child is refreshed and served, a new
 * one takes a free slot and is served, and with every slot taken the
 * asker is sent to one of the children at random (copied to redirect), so
 * that a join walks down the tree. -ENOMEM (the node then serves: a
 * redirect it cannot record is still no reason to fail a read). */
int dadi_tree_join(struct dadi_tree *t, const char *key, const char *child,
		   uint64_t now_ns, enum dadi_join *out,
		   char redirect[DADI_TREE_ADDR_LEN]);

/* How many children blob key has at now_ns (expired ones are dropped
 * first, as a join would). */
unsigned dadi_tree_children(struct dadi_tree *t, const char *key,
			    uint64_t now_ns);

/* The upstream this node reads blob key from: copied to up, 1; or 0 when
 * it has none (it then asks a root). set records the node that served it
 * (where a join ended); forget drops it after a failure. -ENOMEM. */
int dadi_tree_upstream(struct dadi_tree *t, const char *key,
		       char up[DADI_TREE_ADDR_LEN]);
int dadi_tree_set_upstream(struct dadi_tree *t, const char *key,
			   const char *up);
void dadi_tree_forget_upstream(struct dadi_tree *t, const char *key);

/* One of roots[0..n) at random (n > 0), from the tree's seeded state. */
const char *dadi_tree_pick_root(struct dadi_tree *t, const char *const *roots,
				size_t n);

#endif

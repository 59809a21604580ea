/* tree: per-blob children with expiry, the serve-or-redirect decision,
 * upstreams and root choice (tree.h). A node sees a handful of blobs (an
 * image's data blobs), so the blobs are a list and each one's children an
 * array of fanout slots: nothing here needs a hash. */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct child {
	char addr[DADI_TREE_ADDR_LEN];
	uint64_t seen_ns; /* the last request; 0: a free slot */
};

struct blob {
	char key[DADI_TREE_KEY_LEN];
	char up[DADI_TREE_ADDR_LEN]; /* "" until a join ended somewhere */
	struct blob *next;
	struct child child[]; /* fanout of them */
};

struct dadi_tree {
	unsigned fanout;
	uint64_t expiry_ns;
	uint64_t rng;
	struct blob *blobs;
};

int dadi_tree_new(unsigned fanout, uint64_t expiry_ns, uint64_t seed,
		  struct dadi_tree **t)
{
	if (!fanout)
		return -EINVAL;
	*t = calloc(1, sizeof(**t));
	if (!*t)
		return -ENOMEM;
	(*t)->fanout = fanout;
	(*t)->expiry_ns = expiry_ns;
	/* splitmix64 wants any state but a fixed one is fine; avoid 0 only
	 * so that two seeds 0 and 1 still differ after mixing. */
	(*t)->rng = seed ^ 0x9e3779b97f4a7c15ull;
	return 0;
}

void dadi_tree_free(struct dadi_tree *t)
{
	struct blob *b, *n;

	if (!t)
		return;
	for (b = t->blobs; b; b = n) {
		n = b->next;
		free(b);
	}
	free(t);
}

/* splitmix64: small, seeded, good enough to spread joins. */
static uint64_t next_rand(struct dadi_tree *t)
{
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct blob *find(struct dadi_tree *t, const char *key, int create)
{
	struct blob *b;

	for (b = t->blobs; b; b = b->next)
		if (!strcmp(b->key, key))
			return b;
	if (!create)
		return NULL;
	b = calloc(1, sizeof(*b) + t->fanout * sizeof(b->child[0]));
	if (!b)
		return NULL;
	snprintf(b->key, sizeof(b->key), "%s", key);
	b->next = t->blobs;
	t->blobs = b;
	return b;
}

static void expire(const struct dadi_tree *t, struct blob *b, uint64_t now_ns)
{
	for (unsigned i = 0; i < t->fanout; i++)
		if (b->child[i].seen_ns &&
		    now_ns - b->child[i].seen_ns > t->expiry_ns)
			b->child[i].seen_ns = 0;
}

int dadi_tree_join(struct dadi_tree *t, const char *key, const char *child,
		   uint64_t now_ns, enum dadi_join *out,
		   char redirect[DADI_TREE_ADDR_LEN])
{
	struct blob *b = find(t, key, 1);
	unsigned i, free_slot = t->fanout, live = 0, pick;

	*out = DADI_JOIN_SERVE;
	if (!b)
		return -ENOMEM;
	/* 0 marks a free slot; a clock reading 0 would look like one. */
	now_ns = now_ns ? now_ns : 1;
	expire(t, b, now_ns);
	for (i = 0; i < t->fanout; i++) {
		if (!b->child[i].seen_ns) {
			if (free_slot == t->fanout)
				free_slot = i;
			continue;
		}
		live++;
		if (!strcmp(b->child[i].addr, child)) {
			b->child[i].seen_ns = now_ns;
			return 0;
		}
	}
	if (free_slot < t->fanout) {
		snprintf(b->child[free_slot].addr, DADI_TREE_ADDR_LEN, "%s",
			 child);
		b->child[free_slot].seen_ns = now_ns;
		return 0;
	}
	/* Every slot taken: live == fanout. */
	pick = (unsigned)(next_rand(t) % live);
	for (i = 0; i < t->fanout; i++)
		if (b->child[i].seen_ns && !pick--)
			break;
	snprintf(redirect, DADI_TREE_ADDR_LEN, "%s", b->child[i].addr);
	*out = DADI_JOIN_REDIRECT;
	return 0;
}

unsigned dadi_tree_children(struct dadi_tree *t, const char *key,
			    uint64_t now_ns)
{
	struct blob *b = find(t, key, 0);
	unsigned n = 0;

	if (!b)
		return 0;
	for (unsigned i = 0; i < t->fanout; i++)
		if (b->child[i].seen_ns &&
		    now_ns - b->child[i].seen_ns <= t->expiry_ns)
			n++;
	return n;
}

int dadi_tree_upstream(struct dadi_tree *t, const char *key,
		       char up[DADI_TREE_ADDR_LEN])
{
	struct blob *b = find(t, key, 0);

	if (!b || !b->up[0])
		return 0;
	snprintf(up, DADI_TREE_ADDR_LEN, "%s", b->up);
	return 1;
}

int dadi_tree_set_upstream(struct dadi_tree *t, const char *key, const char *up)
{
	struct blob *b = find(t, key, 1);

	if (!b)
		return -ENOMEM;
	snprintf(b->up, sizeof(b->up), "%s", up);
	return 0;
}

void dadi_tree_forget_upstream(struct dadi_tree *t, const char *key)
{
	struct blob *b = find(t, key, 0);

	if (b)
		b->up[0] = '\0';
}

const char *dadi_tree_pick_root(struct dadi_tree *t, const char *const *roots,
				size_t n)
{
	return roots[next_rand(t) % n];
}

/* Function tree: shape, vm index, insert/delete with repair, change reports.
 * The reasoning behind each rule is in docs/function-tree.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "ft.h"

#define FT_MIN_BITS 3
#define FT_TOUCHED  1
#define FT_NEW	    2

static unsigned int height(const struct ft_node *n)
{
	return n ? n->height : 0;
}

static unsigned int full(const struct ft_node *n)
{
	return n ? n->full : 0;
}

static uint32_t parent_vm(const struct ft_node *n)
{
	return n->parent ? n->parent->vm : FT_REGISTRY;
}

/* ---- the vm -> node index ---- */

/* Fibonacci hashing: the manager hands out VM ids in sequence, and the
 * multiply spreads consecutive ids over the whole table. */
static size_t home(unsigned int bits, uint32_t vm)
{
	return (size_t)(((uint64_t)vm * UINT64_C(0x9e3779b97f4a7c15)) >>
			(64 - bits));
}

static struct ft_node **index_slot(const struct ft *ft, uint32_t vm)
{
	size_t mask, i;

	if (!ft->bits)
		return NULL;
	mask = ((size_t)1 << ft->bits) - 1;
	for (i = home(ft->bits, vm); ft->slots[i]; i = (i + 1) & mask)
		if (ft->slots[i]->vm == vm)
			return &ft->slots[i];
	return NULL;
}

static struct ft_node *index_find(const struct ft *ft, uint32_t vm)
{
	struct ft_node **s = index_slot(ft, vm);

	return s ? *s : NULL;
}

static void index_put(struct ft_node **slots, unsigned int bits,
		      struct ft_node *n)
{
	size_t mask = ((size_t)1 << bits) - 1;
	size_t i;

	for (i = home(bits, n->vm); slots[i]; i = (i + 1) & mask)
		;
	slots[i] = n;
}

static int index_resize(struct ft *ft, unsigned int bits)
{
	struct ft_node **slots;
	size_t i, old = ft->bits ? (size_t)1 << ft->bits : 0;

	slots = calloc((size_t)1 << bits, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < old; i++)
		if (ft->slots[i])
			index_put(slots, bits, ft->slots[i]);
	free(ft->slots);
	ft->slots = slots;
	ft->bits = bits;
	return 0;
}

/* Backward-shift deletion, so lookups never need tombstones: every entry
 * after the hole that could live in it moves up. */
static void index_remove(struct ft *ft, struct ft_node **slot)
{
	size_t mask = ((size_t)1 << ft->bits) - 1;
	size_t i = (size_t)(slot - ft->slots), j = i, k;

	for (;;) {
		j = (j + 1) & mask;
		if (!ft->slots[j])
			break;
		k = home(ft->bits, ft->slots[j]->vm);
		/* the entry at j stays when its home lies in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		ft->slots[i] = ft->slots[j];
		i = j;
	}
	ft->slots[i] = NULL;
}

/* ---- change reports ---- */

/* Remember n's parent before the first change to it in this operation, so
 * that the report names each VM once, with its final parent, and leaves out
 * VMs that were moved and moved back. */
static void touch(struct ft *ft, struct ft_node *n)
{
	if (!n || n->touched)
		return;
	n->touched = FT_TOUCHED;
	n->old_parent = parent_vm(n);
	n->touch_next = NULL;
	*ft->touched_tail = n;
	ft->touched_tail = &n->touch_next;
}

static void report(struct ft *ft, ft_change_fn *fn, void *arg)
{
	struct ft_node *n = ft->touched, *next;
	uint32_t p;

	ft->touched = NULL;
	ft->touched_tail = &ft->touched;
	for (; n; n = next) {
		next = n->touch_next;
		p = parent_vm(n);
		if (fn && (n->touched == FT_NEW || p != n->old_parent))
			fn(arg, n->vm, p);
		n->touched = 0;
		n->touch_next = NULL;
	}
}

/* ---- shape ---- */

static void update(struct ft_node *n)
{
	unsigned int l = height(n->child[FT_LEFT]);
	unsigned int r = height(n->child[FT_RIGHT]);
	unsigned int fl = full(n->child[FT_LEFT]);
	unsigned int fr = full(n->child[FT_RIGHT]);

	n->height = (uint8_t)(1 + (l > r ? l : r));
	n->full = (uint8_t)(1 + (fl < fr ? fl : fr));
}

/* Put `to` where `from` hangs (under from's parent, or as the root). */
static void replace(struct ft *ft, struct ft_node *from, struct ft_node *to)
{
	struct ft_node *p = from->parent;

	if (!p)
		ft->root = to;
	else
		p->child[p->child[FT_RIGHT] == from] = to;
	if (to)
		to->parent = p;
}

/* Lift z's child on side s into z's place: s == FT_LEFT is a right rotation,
 * s == FT_RIGHT a left rotation. The child's inner subtree moves over to z.
 * Returns the new subtree root. */
static struct ft_node *rotate(struct ft *ft, struct ft_node *z, int s)
{
	struct ft_node *y = z->child[s];
	struct ft_node *t = y->child[!s];

	touch(ft, z);
	touch(ft, y);
	touch(ft, t);
	replace(ft, z, y);
	z->child[s] = t;
	if (t)
		t->parent = z;
	y->child[!s] = z;
	z->parent = y;
	update(z);
	update(y);
	return y;
}

/* Restore AVL balance at z, whose children are balanced and differ in
 * height by at most 2. Returns the node now in z's place. */
static struct ft_node *rebalance(struct ft *ft, struct ft_node *z)
{
	int b = (int)height(z->child[FT_LEFT]) -
		(int)height(z->child[FT_RIGHT]);
	struct ft_node *y;
	int s;

	if (b >= -1 && b <= 1)
		return z;
	s = b > 1 ? FT_LEFT : FT_RIGHT; /* the taller side */
	y = z->child[s];
	/* Inner grandchild taller: straighten first (left-right or
	 * right-left); a single rotation would only move the imbalance. */
	if (height(y->child[!s]) > height(y->child[s]))
		rotate(ft, y, !s);
	return rotate(ft, z, s);
}

/* Recompute heights and full levels from n up to the root, rebalancing on
 * the way: every subtree whose shape changed is on this path. */
static void retrace(struct ft *ft, struct ft_node *n)
{
	while (n) {
		update(n);
		n = rebalance(ft, n)->parent;
	}
}

/* The deepest leaf below n, the rightmost of those. Taking it out never
 * unbalances a node between it and n, since the path always follows a
 * child at least as tall as its sibling; from the root of a complete tree it
 * is the last node in breadth-first order. */
static struct ft_node *last_leaf(struct ft_node *n)
{
	for (;;) {
		if (n->child[FT_RIGHT] &&
		    height(n->child[FT_RIGHT]) >= height(n->child[FT_LEFT]))
			n = n->child[FT_RIGHT];
		else if (n->child[FT_LEFT])
			n = n->child[FT_LEFT];
		else
			return n;
	}
}

/* ---- API ---- */

struct ft *ft_new(enum ft_repair repair)
{
	struct ft *ft;

	if (repair != FT_REPAIR_AVL && repair != FT_REPAIR_COMPLETE) {
		errno = EINVAL;
		return NULL;
	}
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return NULL;
	ft->repair = repair;
	ft->touched_tail = &ft->touched;
	return ft;
}

void ft_free(struct ft *ft)
{
	size_t i;

	if (!ft)
		return;
	/* every node is in the index: no walk of a maybe-broken tree */
	for (i = 0; ft->bits && i < (size_t)1 << ft->bits; i++)
		free(ft->slots[i]);
	free(ft->slots);
	free(ft);
}

int ft_insert(struct ft *ft, uint32_t vm, ft_change_fn *fn, void *arg)
{
	struct ft_node *x, *p;
	int s, ret;

	if (vm == FT_NONE)
		return -EINVAL;
	if (index_find(ft, vm))
		return -EEXIST;
	/* allocate everything first, so a failure leaves the tree alone */
	if (!ft->bits || (ft->n + 1) * 2 > (size_t)1 << ft->bits) {
		ret = index_resize(ft, ft->bits ? ft->bits + 1 : FT_MIN_BITS);
		if (ret)
			return ret;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->vm = vm;
	x->height = 1;
	x->full = 1;
	index_put(ft->slots, ft->bits, x);
	ft->n++;

	/* Walk towards the shallowest free slot, left on ties: the left
	 * subtree holds one at the least depth iff its full levels are no
	 * more than the right one's, and at any one depth its slots come
	 * before the right subtree's in breadth-first order. */
	p = ft->root;
	s = FT_LEFT;
	while (p) {
		s = full(p->child[FT_LEFT]) <= full(p->child[FT_RIGHT])
			    ? FT_LEFT
			    : FT_RIGHT;
		if (!p->child[s])
			break;
		p = p->child[s];
	}
	x->touched = FT_NEW;
	x->touch_next = NULL;
	*ft->touched_tail = x;
	ft->touched_tail = &x->touch_next;
	if (!p) {
		ft->root = x;
	} else {
		p->child[s] = x;
		x->parent = p;
		/* Never rotates (docs/function-tree.md); kept general so
		 * that the heights and full levels are redone in one place. */
		retrace(ft, p);
	}
	if (ft->observe)
		ft->observe(ft->observe_arg, FT_OP_INSERT, vm);
	report(ft, fn, arg);
	return 0;
}

int ft_delete(struct ft *ft, uint32_t vm, ft_change_fn *fn, void *arg)
{
	struct ft_node **slot = index_slot(ft, vm);
	struct ft_node *x, *y, *from;

	if (!slot)
		return -ENOENT;
	x = *slot;
	y = last_leaf(ft->repair == FT_REPAIR_COMPLETE ? ft->root : x);
	/* y's place is the one that goes: its parent is the lowest node
	 * whose subtree changes shape */
	from = y->parent;
	if (y == x) {
		replace(ft, x, NULL);
	} else {
		/* The leaf y leaves its place and takes x's, with x's
		 * children and x's stored fields: x's position keeps its
		 * shape, so only the path above y's old place needs redoing. */
		touch(ft, y);
		replace(ft, y, NULL);
		touch(ft, x->child[FT_LEFT]);
		touch(ft, x->child[FT_RIGHT]);
		replace(ft, x, y);
		y->child[FT_LEFT] = x->child[FT_LEFT];
		y->child[FT_RIGHT] = x->child[FT_RIGHT];
		if (y->child[FT_LEFT])
			y->child[FT_LEFT]->parent = y;
		if (y->child[FT_RIGHT])
			y->child[FT_RIGHT]->parent = y;
		y->height = x->height;
		y->full = x->full;
		if (from == x)
			from = y;
	}
	retrace(ft, from);

	index_remove(ft, slot);
	free(x);
	ft->n--;
	/* shrink at one eighth full; the grow at one half keeps this
	 * amortised O(1), and a failed shrink just keeps the big table */
	if (ft->bits > FT_MIN_BITS && ft->n * 8 < (size_t)1 << ft->bits)
		index_resize(ft, ft->bits - 1);
	if (ft->observe)
		ft->observe(ft->observe_arg, FT_OP_DELETE, vm);
	report(ft, fn, arg);
	return 0;
}

int ft_parent(const struct ft *ft, uint32_t vm, uint32_t *parent)
{
	const struct ft_node *n = index_find(ft, vm);

	if (!n)
		return -ENOENT;
	*parent = parent_vm(n);
	return 0;
}

int ft_children(const struct ft *ft, uint32_t vm, uint32_t child[2])
{
	const struct ft_node *n = index_find(ft, vm);
	int i, count = 0;

	if (!n)
		return -ENOENT;
	for (i = FT_LEFT; i <= FT_RIGHT; i++) {
		child[i] = n->child[i] ? n->child[i]->vm : FT_NONE;
		count += !!n->child[i];
	}
	return count;
}

int ft_root(const struct ft *ft, uint32_t *vm)
{
	if (!ft->root)
		return -ENOENT;
	*vm = ft->root->vm;
	return 0;
}

void ft_observe(struct ft *ft, ft_op_fn *fn, void *arg)
{
	ft->observe = fn;
	ft->observe_arg = arg;
}

bool ft_contains(const struct ft *ft, uint32_t vm)
{
	return index_find(ft, vm) != NULL;
}

size_t ft_size(const struct ft *ft)
{
	return ft->n;
}

unsigned int ft_height(const struct ft *ft)
{
	return height(ft->root);
}

/* ---- checking ---- */

struct check {
	const struct ft *ft;
	struct err *e;
	size_t seen;
};

static const char *name_of(char buf[16], const struct ft_node *n)
{
	if (!n)
		return "the registry";
	snprintf(buf, 16, "vm %" PRIu32, n->vm);
	return buf;
}

/* pos is n's breadth-first position (root 0), for the completeness test. */
static int check_node(struct check *c, const struct ft_node *n,
		      const struct ft_node *parent, size_t pos)
{
	char b1[16], b2[16];
	unsigned int l, r, f;
	int ret, i;

	if (++c->seen > c->ft->n)
		return err_set(c->e, -EUCLEAN,
			       "ft: more than %zu nodes reachable from the "
			       "root (a cycle or a shared node)",
			       c->ft->n);
	if (n->parent != parent)
		return err_set(c->e, -EUCLEAN,
			       "ft: vm %" PRIu32
			       ": parent link says %s, but it hangs under %s",
			       n->vm, name_of(b1, n->parent),
			       name_of(b2, parent));
	if (n->vm == FT_NONE)
		return err_set(c->e, -EUCLEAN, "ft: a node holds FT_NONE");
	if (index_find(c->ft, n->vm) != n)
		return err_set(c->e, -EUCLEAN,
			       "ft: vm %" PRIu32 ": the index %s", n->vm,
			       index_find(c->ft, n->vm)
				       ? "points to another node (vm twice in "
					 "the tree)"
				       : "does not hold it");
	if (n->touched || n->touch_next)
		return err_set(c->e, -EUCLEAN,
			       "ft: vm %" PRIu32 ": stale change record",
			       n->vm);
	if (c->ft->repair == FT_REPAIR_COMPLETE && pos >= c->ft->n)
		return err_set(c->e, -EUCLEAN,
			       "ft: vm %" PRIu32 ": at breadth-first position "
			       "%zu of a complete tree of %zu",
			       n->vm, pos, c->ft->n);
	for (i = FT_LEFT; i <= FT_RIGHT; i++) {
		if (!n->child[i])
			continue;
		ret = check_node(c, n->child[i], n, 2 * pos + 1 + (size_t)i);
		if (ret)
			return ret;
	}
	l = height(n->child[FT_LEFT]);
	r = height(n->child[FT_RIGHT]);
	f = 1 + (full(n->child[FT_LEFT]) < full(n->child[FT_RIGHT])
			 ? full(n->child[FT_LEFT])
			 : full(n->child[FT_RIGHT]));
	if (n->height != 1 + (l > r ? l : r))
		return err_set(c->e, -EUCLEAN,
			       "ft: vm %" PRIu32
			       ": stored height %u, actual %u",
			       n->vm, n->height, 1 + (l > r ? l : r));
	if (n->full != f)
		return err_set(c->e, -EUCLEAN,
			       "ft: vm %" PRIu32
			       ": stored full levels %u, actual %u",
			       n->vm, n->full, f);
	if (l > r + 1 || r > l + 1)
		return err_set(c->e, -EUCLEAN,
			       "ft: vm %" PRIu32
			       ": unbalanced, left height %u, "
			       "right height %u",
			       n->vm, l, r);
	return 0;
}

int ft_check(const struct ft *ft, struct err *e)
{
	struct check c = {.ft = ft, .e = e};
	size_t i, indexed = 0;
	int ret;

	if (ft->touched || ft->touched_tail != &ft->touched)
		return err_set(e, -EUCLEAN, "ft: change list not empty");
	for (i = 0; ft->bits && i < (size_t)1 << ft->bits; i++)
		indexed += ft->slots[i] != NULL;
	if (indexed != ft->n)
		return err_set(e, -EUCLEAN,
			       "ft: index holds %zu nodes, size says %zu",
			       indexed, ft->n);
	if (!ft->root)
		return ft->n ? err_set(e, -EUCLEAN,
				       "ft: no root, size says %zu", ft->n)
			     : 0;
	ret = check_node(&c, ft->root, NULL, 0);
	if (ret)
		return ret;
	/* each reachable node is in the index under its own vm, and the
	 * index holds n nodes: so reachable == indexed, each VM once */
	if (c.seen != ft->n)
		return err_set(e, -EUCLEAN,
			       "ft: %zu nodes reachable from the root, size "
			       "says %zu",
			       c.seen, ft->n);
	return 0;
}

/* ---- Graphviz ---- */

static void dot_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc((unsigned char)*s < ' ' ? ' ' : *s, f);
	}
	fputc('"', f);
}

static void dot_node(FILE *f, const struct ft_node *n)
{
	int i;

	fprintf(f, "\tv%" PRIu32 " [label=\"%" PRIu32 "\"];\n", n->vm, n->vm);
	if (!n->child[FT_LEFT] && !n->child[FT_RIGHT])
		return;
	for (i = FT_LEFT; i <= FT_RIGHT; i++) {
		if (n->child[i]) {
			fprintf(f, "\tv%" PRIu32 " -> v%" PRIu32 ";\n", n->vm,
				n->child[i]->vm);
			dot_node(f, n->child[i]);
		} else {
			/* an invisible stand-in keeps a lone child on its
			 * own side */
			fprintf(f,
				"\tnil%" PRIu32 "%c [label=\"\", "
				"style=invis];\n"
				"\tv%" PRIu32 " -> nil%" PRIu32
				"%c [style=invis];\n",
				n->vm, "lr"[i], n -> vm, n -> vm, "lr"[i]);
		}
	}
}

int ft_dump_dot(const struct ft *ft, FILE *f, const char *name)
{
	fputs("digraph ", f);
	dot_string(f, name ? name : "ft");
	fputs(" {\n\tgraph [ordering=out];\n\tnode [shape=circle];\n"
	      "\tregistry [shape=box];\n",
	      f);
	if (ft->root) {
		fprintf(f, "\tregistry -> v%" PRIu32 ";\n", ft->root->vm);
		dot_node(f, ft->root);
	}
	fputs("}\n", f);
	return ferror(f) ? -EIO : 0;
}

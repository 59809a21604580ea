#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treewatch.h"

/* parent[] values besides a VM's index */
#define OUT  (-2) /* not in the tree */
#define ROOT (-1) /* the registry is its parent */

/* A timeline line is a few hundred bytes; a longer one is not the
 * manager's, and is skipped whole. */
#define LINE_MAX_BYTES 8192

struct treewatch {
	char *path;
	const struct scenario *s;
	unsigned vms, nfn;
	long off;		 /* read up to here */
	int32_t *parent;	 /* [fn * vms + vm] */
	unsigned *height, *size; /* per fn, as last recorded */
	struct treewatch_sample *samples;
	size_t nsamples, capsamples;
	/* scratch for a pick: per VM, its subtree's size and children */
	unsigned *sub, *kids;
};

int treewatch_new(const char *path, const struct scenario *s, unsigned vms,
		  struct treewatch **out)
{
	struct treewatch *tw = calloc(1, sizeof(*tw));
	size_t i, n;

	*out = NULL;
	if (!tw)
		return -ENOMEM;
	tw->s = s;
	tw->vms = vms;
	tw->nfn = s->nfunctions;
	n = (size_t)tw->nfn * vms;
	tw->path = strdup(path);
	tw->parent = malloc((n ? n : 1) * sizeof(*tw->parent));
	tw->height = calloc(tw->nfn ? tw->nfn : 1, sizeof(*tw->height));
	tw->size = calloc(tw->nfn ? tw->nfn : 1, sizeof(*tw->size));
	tw->sub = calloc(vms ? vms : 1, sizeof(*tw->sub));
	tw->kids = calloc(vms ? vms : 1, sizeof(*tw->kids));
	if (!tw->path || !tw->parent || !tw->height || !tw->size || !tw->sub ||
	    !tw->kids) {
		treewatch_free(tw);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		tw->parent[i] = OUT;
	*out = tw;
	return 0;
}

void treewatch_free(struct treewatch *tw)
{
	if (!tw)
		return;
	free(tw->path);
	free(tw->parent);
	free(tw->height);
	free(tw->size);
	free(tw->samples);
	free(tw->sub);
	free(tw->kids);
	free(tw);
}

/* "vm0007" -> 7; -1 for anything else (the registry, a VM past vms). */
static int vm_index(const struct treewatch *tw, const char *name)
{
	char *end;
	unsigned long v;

	if (!name || strncmp(name, "vm", 2) || name[2] < '0' || name[2] > '9')
		return -1;
	v = strtoul(name + 2, &end, 10);
	return *end || v >= tw->vms ? -1 : (int)v;
}

static int fn_index(const struct treewatch *tw, const char *name)
{
	unsigned i;

	for (i = 0; name && i < tw->nfn; i++)
		if (!strcmp(tw->s->functions[i].name, name))
			return (int)i;
	return -1;
}

static int32_t *parents(const struct treewatch *tw, unsigned fn)
{
	return tw->parent + (size_t)fn * tw->vms;
}

/* The depth of vm (the root 0), or -1 when its chain does not reach the
 * root (an orphan whose new parent is on the next line). */
static int depth_of(const struct treewatch *tw, const int32_t *p, unsigned vm)
{
	unsigned steps = 0;
	int32_t at = (int32_t)vm;

	while (p[at] >= 0 && steps <= tw->vms) {
		at = p[at];
		steps++;
	}
	return p[at] == ROOT ? (int)steps : -1;
}

/* Per VM of fn's tree, its subtree's size (in tw->sub) and number of
 * children (tw->kids); returns the tree's height. */
static unsigned shape(struct treewatch *tw, unsigned fn, unsigned *size)
{
	const int32_t *p = parents(tw, fn);
	unsigned v, steps, height = 0;
	int32_t at;
	int d;

	memset(tw->sub, 0, tw->vms * sizeof(*tw->sub));
	memset(tw->kids, 0, tw->vms * sizeof(*tw->kids));
	*size = 0;
	for (v = 0; v < tw->vms; v++) {
		if (p[v] == OUT)
			continue;
		(*size)++;
		if (p[v] >= 0)
			tw->kids[p[v]]++;
		d = depth_of(tw, p, v);
		if (d >= 0 && (unsigned)d + 1 > height)
			height = (unsigned)d + 1;
		for (at = (int32_t)v, steps = 0; at >= 0 && steps <= tw->vms;
		     at = p[at], steps++)
			tw->sub[at]++;
	}
	return height;
}

/* The manager repairs a tree in one round, a line per VM moved: the states
 * between are not the tree's, so a change within this long of the
 * function's last sample replaces it. */
#define SAME_ROUND_NS 1000000

static void record(struct treewatch *tw, unsigned fn, uint64_t t_ns)
{
	unsigned size, height = shape(tw, fn, &size);
	struct treewatch_sample *last =
		tw->nsamples ? &tw->samples[tw->nsamples - 1] : NULL;

	if (height == tw->height[fn] && size == tw->size[fn])
		return;
	tw->height[fn] = height;
	tw->size[fn] = size;
	/* The last sample, when it is this function's and of this round. */
	if (last && last->fn == fn && t_ns - last->t_ns < SAME_ROUND_NS) {
		last->height = height;
		last->size = size;
		return;
	}
	if (tw->nsamples == tw->capsamples) {
		size_t cap = tw->capsamples ? 2 * tw->capsamples : 256;
		struct treewatch_sample *ns =
			realloc(tw->samples, cap * sizeof(*ns));

		if (!ns)
			return; /* the history is cut; the mirror is whole */
		tw->samples = ns;
		tw->capsamples = cap;
	}
	tw->samples[tw->nsamples++] =
		(struct treewatch_sample){t_ns, fn, height, size};
}

/* One timeline line. */
static void apply(struct treewatch *tw, const char *line)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *ev, *fname, *vname, *pname;
	int fn, vm, pv;
	uint64_t t;
	unsigned i;

	if (!j)
		return;
	ev = json_string_value(json_object_get(j, "event"));
	fname = json_string_value(json_object_get(j, "function"));
	vname = json_string_value(json_object_get(j, "vm"));
	pname = json_string_value(json_object_get(j, "parent"));
	t = (uint64_t)json_integer_value(json_object_get(j, "t_ns"));
	fn = fn_index(tw, fname);
	vm = vm_index(tw, vname);
	if (!ev || vm < 0)
		goto out;
	if (!strcmp(ev, "vm_lost") || !strcmp(ev, "vm_distrusted")) {
		for (i = 0; i < tw->nfn; i++)
			if (parents(tw, i)[vm] != OUT) {
				parents(tw, i)[vm] = OUT;
				record(tw, i, t);
			}
		goto out;
	}
	if (fn < 0)
		goto out;
	if (!strcmp(ev, "provision") || !strcmp(ev, "parent")) {
		if (!pname)
			goto out;
		pv = strcmp(pname, "registry") ? vm_index(tw, pname) : ROOT;
		if (pv == -1 && strcmp(pname, "registry"))
			goto out;
		parents(tw, (unsigned)fn)[vm] = pv;
		record(tw, (unsigned)fn, t);
	} else if (!strcmp(ev, "reclaim") &&
		   json_is_true(json_object_get(j, "leaves_tree"))) {
		parents(tw, (unsigned)fn)[vm] = OUT;
		record(tw, (unsigned)fn, t);
	}
out:
	json_decref(j);
}

int treewatch_poll(struct treewatch *tw)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(tw->path, "re");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (fseek(f, tw->off, SEEK_SET)) {
		fclose(f);
		return -errno;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		/* A line the manager is still writing: read it next time. */
		if (line[n - 1] != '\n')
			break;
		tw->off += n;
		if (n < LINE_MAX_BYTES)
			apply(tw, line);
	}
	free(line);
	fclose(f);
	return 0;
}

/* Whether vm of fn's tree has role (shape() done). */
static int has_role(struct treewatch *tw, const int32_t *p, unsigned vm,
		    enum scenario_fault_role role, int depth)
{
	if (p[vm] == OUT)
		return 0;
	switch (role) {
	case SCENARIO_ROLE_ROOT:
		return p[vm] == ROOT;
	case SCENARIO_ROLE_INTERIOR:
		return p[vm] != ROOT && tw->kids[vm] > 0 &&
		       (depth < 0 || depth_of(tw, p, vm) == depth);
	case SCENARIO_ROLE_LEAF:
		return tw->kids[vm] == 0;
	case SCENARIO_ROLE_ANY:
		return 1;
	default:
		return 0;
	}
}

size_t treewatch_count(const struct treewatch *tw, unsigned fn,
		       enum scenario_fault_role role, int depth)
{
	struct treewatch *w = (struct treewatch *)tw; /* scratch only */
	unsigned v, size;
	size_t n = 0;

	if (fn >= tw->nfn)
		return 0;
	shape(w, fn, &size);
	for (v = 0; v < tw->vms; v++)
		n += (size_t)has_role(w, parents(tw, fn), v, role, depth);
	return n;
}

size_t treewatch_pick(const struct treewatch *tw, unsigned fn,
		      enum scenario_fault_role role, int depth, unsigned *out,
		      size_t max)
{
	struct treewatch *w = (struct treewatch *)tw; /* scratch only */
	const int32_t *p;
	unsigned v, size;
	size_t n = 0, i;

	if (fn >= tw->nfn)
		return 0;
	p = parents(tw, fn);
	shape(w, fn, &size);
	/* Insertion into out, kept sorted: max is a handful. */
	for (v = 0; v < tw->vms; v++) {
		if (!has_role(w, p, v, role, depth))
			continue;
		for (i = n; i > 0 && w->sub[out[i - 1]] < w->sub[v]; i--)
			if (i < max)
				out[i] = out[i - 1];
		if (i < max) {
			out[i] = v;
			if (n < max)
				n++;
		}
	}
	return n;
}

const struct treewatch_sample *treewatch_samples(const struct treewatch *tw,
						 size_t *n)
{
	*n = tw->nsamples;
	return tw->samples;
}

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "yamlmsg.h"
#include "blockimg.h"
#include "config.h"
#include "lie.h"
#include "proto.h"
#include "scenario.h"
#include "strategy.h"
#include "units.h"

#define NS_PER_S UINT64_C(1000000000)

/* A scenario is a page or two of YAML (4096 inline steps of about 60
 * bytes fit); the cap also bounds libyaml's scanner, which is quadratic in
 * flow nesting depth. Long workloads belong in a trace file. */
#define SCENARIO_MAX_BYTES (512 * 1024)

/* A trace: a million lines like "86399.5s,function-name,100" fit. */
#define SCENARIO_MAX_TRACE_BYTES (64u << 20)

/* The largest container count anywhere (an at step, a trace line, a sweep
 * value): far above what one machine hosts, low enough to catch a typo. */
#define MAX_CONTAINERS 100000
/* Ramp rates, invocations per second: the paper's bursts peak near 400. */
#define MAX_RATE 100000.0
/* Step times and timeouts: the paper's longest trace is about half an
 * hour, and a day is surely a typo. */
#define MAX_TIME_NS	(24 * 3600 * NS_PER_S)
#define MAX_REPETITIONS 100

/* Every key name fits; longer paths are cut, which only shortens a
 * message. */
#define PATH_LEN 96

enum key_type {
	KEY_NAME,     /* char[size]: [a-z0-9][a-z0-9._-]*, see valid_name() */
	KEY_TEXT,     /* char[size]: any text of min..size-1 bytes */
	KEY_COUNT,    /* unsigned, plain digits, min..max */
	KEY_U64,      /* uint64_t, plain digits */
	KEY_SIZE,     /* uint64_t bytes, units_parse_size(), min..max */
	KEY_SIZE32,   /* uint32_t bytes, the same */
	KEY_DURATION, /* uint64_t ns, units_parse_duration(), min..max */
	KEY_NUMBER,   /* double, plain decimal, fmin..fmax */
	KEY_NODE,     /* any node, left to the caller */
};

/* One key of a mapping, and where its value goes in the struct the
 * mapping fills. The tables below are the format, with every limit: the
 * `what` of each key says the limit too, so that a value of the wrong type
 * and one out of range get the same message. */
struct key {
	const char *name;
	enum key_type type;
	size_t off, size;
	const char *what; /* "expected WHAT" */
	uint64_t min, max;
	double fmin, fmax;
	bool fmin_open; /* fmin itself is refused */
	bool required;
};

#define FIELD(type, f) .off = offsetof(type, f), .size = sizeof(((type *)0)->f)

/* The top level. KEY_NODE keys are read after the whole mapping, in table
 * order, so that a function can name an image written below it. */
static const struct key top_keys[] = {
	{
		.name = "name",
		.type = KEY_NAME,
		FIELD(struct scenario, name),
		.what = "a name like quickstart (a-z, 0-9, '.', '_', '-')",
		.required = true,
	},
	{
		.name = "description",
		.type = KEY_TEXT,
		FIELD(struct scenario, description),
		.what = "a text of at most 511 bytes",
	},
	{
		.name = "paper",
		.type = KEY_TEXT,
		FIELD(struct scenario, paper),
		.what = "a text of at most 1023 bytes",
	},
	{.name = "topology", .type = KEY_NODE},
	{
		.name = "scale",
		.type = KEY_NUMBER,
		FIELD(struct scenario, scale),
		.what = "a number above 0 and at most 1, like 0.1",
		.fmin = 0,
		.fmax = 1,
		.fmin_open = true,
	},
	{.name = "dilation", .type = KEY_NODE},
	{.name = "images", .type = KEY_NODE, .required = true},
	{.name = "functions", .type = KEY_NODE, .required = true},
	{.name = "workload", .type = KEY_NODE, .required = true},
	{.name = "strategies", .type = KEY_NODE},
	{
		.name = "repetitions",
		.type = KEY_COUNT,
		FIELD(struct scenario, repetitions),
		.what = "a whole number from 1 to 100",
		.min = 1,
		.max = MAX_REPETITIONS,
	},
	{
		/* Placement's ties (which VM roots a function tree) follow
		 * it: every strategy of a repetition gets the same one, and
		 * repetition r seed + r - 1 (testbed/run.c). 32 bits: plenty
		 * of orders, and seed + r stays exact in JSON. */
		.name = "seed",
		.type = KEY_COUNT,
		FIELD(struct scenario, seed),
		.what = "a whole number from 0 to 4294967295",
		.min = 0,
		.max = UINT32_MAX,
	},
	{
		.name = "timeout",
		.type = KEY_DURATION,
		FIELD(struct scenario, timeout_ns),
		.what = "a duration from 1s to 24h like 300s",
		.min = NS_PER_S,
		.max = MAX_TIME_NS,
	},
	{
		/* Idle containers are released after this, and a VM left
		 * without one leaves its function's tree (the paper: 15
		 * minutes). 0, the default, keeps every container. */
		.name = "reclaim",
		.type = KEY_DURATION,
		FIELD(struct scenario, reclaim_ns),
		.what = "a duration up to 24h like 15m",
		.min = 0,
		.max = MAX_TIME_NS,
	},
	{.name = "sweep", .type = KEY_NODE},
	{.name = "serve", .type = KEY_NODE},
	{.name = "faults", .type = KEY_NODE},
	{.name = NULL},
};

/* serve: requests instead of containers. The defaults are the paper's
 * function (about 2 s a run, one request per container at a time) and a
 * common autoscaler target (Knative keeps 70% of the slots busy). */
static const struct key serve_keys[] = {
	{
		.name = "service",
		.type = KEY_DURATION,
		FIELD(struct scenario_serve, service_ns),
		.what = "a duration from 1ms to 1h like 2s",
		.min = NS_PER_S / 1000,
		.max = 3600 * NS_PER_S,
	},
	{
		.name = "concurrency",
		.type = KEY_COUNT,
		FIELD(struct scenario_serve, concurrency),
		.what = "a whole number from 1 to 1000",
		.min = 1,
		.max = 1000,
	},
	{
		.name = "utilization",
		.type = KEY_NUMBER,
		FIELD(struct scenario_serve, utilization),
		.what = "a number above 0 and at most 1, like 0.7",
		.fmin = 0,
		.fmax = 1,
		.fmin_open = true,
	},
	{
		.name = "window",
		.type = KEY_DURATION,
		FIELD(struct scenario_serve, window_ns),
		.what = "a duration from 100ms to 1h like 1s",
		.min = NS_PER_S / 10,
		.max = 3600 * NS_PER_S,
	},
	{.name = NULL},
};

static const struct key image_keys[] = {
	{
		.name = "name",
		.type = KEY_NAME,
		FIELD(struct scenario_image, name),
		.what = "a name like py (a-z, 0-9, '.', '_', '-')",
		.required = true,
	},
	{
		.name = "size",
		.type = KEY_SIZE,
		FIELD(struct scenario_image, size),
		.what = "a size like 758MB",
		.min = 1,
		.max = UINT64_MAX,
	},
	{
		.name = "block_size",
		.type = KEY_SIZE32,
		FIELD(struct scenario_image, block_size),
		.what = "a size from 4KiB to 64MiB like 512KiB",
		/* What a user writes is a full-size block: a page at
		 * least. Only scaling goes below (to the format's floor). */
		.min = 4u << 10,
		.max = BLOCKIMG_MAX_BLOCK_SIZE,
	},
	{
		.name = "startup_fraction",
		.type = KEY_NUMBER,
		FIELD(struct scenario_image, startup_fraction),
		.what = "a number from 0 to 1 like 0.16",
		.fmin = 0,
		.fmax = 1,
	},
	{
		.name = "startup_compute",
		.type = KEY_DURATION,
		FIELD(struct scenario_image, startup_compute_ns),
		.what = "a duration up to 60s like 1.5s",
		.min = 0,
		.max = 60 * NS_PER_S,
	},
	{
		.name = "seed",
		.type = KEY_U64,
		FIELD(struct scenario_image, seed),
		.what = "a whole number like 1",
	},
	{
		.name = "layout",
		.type = KEY_TEXT,
		FIELD(struct scenario_image, layout),
		.what = "the path of an OCI layout folder",
		.min = 1,
	},
	{.name = NULL},
};

/* A function as written: its image is a name until every image is known. */
struct function_raw {
	char name[64];
	char image[64];
	uint64_t runtime_start_ns;
};

static const struct key function_keys[] = {
	{
		.name = "name",
		.type = KEY_NAME,
		FIELD(struct function_raw, name),
		.what = "a name like f1 (a-z, 0-9, '.', '_', '-')",
		.required = true,
	},
	{
		.name = "image",
		.type = KEY_TEXT,
		FIELD(struct function_raw, image),
		.what = "the name of an image",
		.min = 1,
		.required = true,
	},
	{
		/* The agent is told whole milliseconds (PROVISION's
		 * runtime_ms), at most its limit. */
		.name = "runtime_start",
		.type = KEY_DURATION,
		FIELD(struct function_raw, runtime_start_ns),
		.what = "a duration from 0 to 10m like 1.5s",
		.min = 0,
		.max = (uint64_t)PROTO_MAX_RUNTIME_MS * 1000000,
	},
	{.name = NULL},
};

/* A step as written; which keys it has decides its kind. */
struct step_raw {
	uint64_t at, from, to;
	char invoke[64];
	unsigned containers;
	double rate;
	char trace[PATH_MAX];
};

static const struct key step_keys[] = {
	{
		.name = "at",
		.type = KEY_DURATION,
		FIELD(struct step_raw, at),
		.what = "a time from 0s to 24h like 10s",
		.max = MAX_TIME_NS,
	},
	{
		.name = "from",
		.type = KEY_DURATION,
		FIELD(struct step_raw, from),
		.what = "a time from 0s to 24h like 10s",
		.max = MAX_TIME_NS,
	},
	{
		.name = "to",
		.type = KEY_DURATION,
		FIELD(struct step_raw, to),
		.what = "a time from 0s to 24h like 20s",
		.max = MAX_TIME_NS,
	},
	{
		.name = "invoke",
		.type = KEY_TEXT,
		FIELD(struct step_raw, invoke),
		.what = "the name of a function",
		.min = 1,
	},
	{
		.name = "containers",
		.type = KEY_COUNT,
		FIELD(struct step_raw, containers),
		.what = "a whole number from 1 to 100000",
		.min = 1,
		.max = MAX_CONTAINERS,
	},
	{
		/* containers' twin for a scenario with serve */
		.name = "requests",
		.type = KEY_COUNT,
		FIELD(struct step_raw, containers),
		.what = "a whole number from 1 to 100000",
		.min = 1,
		.max = MAX_CONTAINERS,
	},
	{
		.name = "rate",
		.type = KEY_NUMBER,
		FIELD(struct step_raw, rate),
		.what = "invocations per second above 0 and at most 100000, "
			"like 5",
		.fmin = 0,
		.fmax = MAX_RATE,
		.fmin_open = true,
	},
	{
		.name = "trace",
		.type = KEY_TEXT,
		FIELD(struct step_raw, trace),
		.what = "the path of a CSV file",
		.min = 1,
	},
	{.name = NULL},
};

/* The parameters a sweep can set, one at a time: the at steps'
 * containers, or how many of the topology's VMs a run uses (the rest stay
 * idle: the same network for every value). The table makes any other an
 * unknown key that lists the valid ones. */
static const struct key sweep_keys[] = {
	{.name = "containers", .type = KEY_NODE},
	{.name = "vms", .type = KEY_NODE},
	{.name = NULL},
};

static const struct key sweep_value_key = {
	.name = "containers",
	.type = KEY_COUNT,
	.off = 0,
	.size = sizeof(unsigned),
	.what = "a whole number from 1 to 100000",
	.min = 1,
	.max = MAX_CONTAINERS,
};

/* The longest table is the top level's. */
#define MAX_KEYS 24

/* What one mapping held: per key of its table, the line of the key (0 when
 * absent) and its value. */
struct seen {
	size_t line[MAX_KEYS];
	const yaml_node_t *node[MAX_KEYS];
};

struct ctx {
	yaml_document_t *doc;
	const char *name;
	struct err *e;
};

static int fail(const struct ctx *c, size_t line, int code, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

/* Prefixes "name:line: " to a message. */
static int fail(const struct ctx *c, size_t line, int code, const char *fmt,
		...)
{
	char msg[sizeof(((struct err *)0)->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(c->e, code, "%s:%zu: %s", c->name, line, msg);
}

/* "images[0]" + "size" -> "images[0].size"; "" + "name" -> "name". */
static const char *key_path(char *buf, size_t len, const char *prefix,
			    const char *name)
{
	snprintf(buf, len, "%s%s%s", prefix, *prefix ? "." : "", name);
	return buf;
}

static int key_index(const struct key *keys, const char *name)
{
	int i;

	for (i = 0; keys[i].name; i++)
		if (!strcmp(keys[i].name, name))
			return i;
	return -1;
}

/* The line of key `name` in a mapping's seen, 0 when absent. */
static size_t seen_line(const struct seen *sn, const struct key *keys,
			const char *name)
{
	int i = key_index(keys, name);

	return i < 0 ? 0 : sn->line[i];
}

static const yaml_node_t *seen_node(const struct seen *sn,
				    const struct key *keys, const char *name)
{
	int i = key_index(keys, name);

	return i < 0 ? NULL : sn->node[i];
}

/* Plain decimal digits only: YAML 1.1 would read "016" as octal 14 and
 * "0x10" as 16, and a count with a sign, exponent or fraction is a typo. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	for (p = s; *p; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* A plain decimal ([0-9]+ optionally followed by . and [0-9]+), as the
 * units parsers take numbers, so "1e-1", ".5" and "-1" are refused.
 * Computed as I + F / 10^k, each part exact, so "0.05" is the double
 * nearest 0.05 whatever the locale. */
static int parse_decimal(const char *s, double *out)
{
	uint64_t ip = 0, fp = 0, div = 1;
	size_t ni = 0, nf = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++, ni++)
		if (ni < 15)
			ip = ip * 10 + (uint64_t)(*p - '0');
	if (!ni || ni > 15)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nf++) {
			if (nf < 18) {
				fp = fp * 10 + (uint64_t)(*p - '0');
				div *= 10;
			}
		}
		if (!nf)
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*out = (double)ip + (double)fp / (double)div;
	return 0;
}

/* Names become registry repository names, folder names and CSV fields:
 * lowercase letters, digits, '.', '_' and '-', starting with a letter or
 * digit, which every one of those takes as it is. */
static bool valid_name(const char *s)
{
	const char *p;

	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* Stores one scalar through key's offset into base. 0 or -EINVAL. */
static int store_scalar(const struct key *key, const char *text, size_t len,
			void *base)
{
	void *field = (char *)base + key->off;
	uint64_t v;
	double d;
	int ret;

	switch (key->type) {
	case KEY_NAME:
	case KEY_TEXT:
		if (len >= key->size || len < key->min)
			return -EINVAL;
		if (key->type == KEY_NAME && !valid_name(text))
			return -EINVAL;
		memcpy(field, text, len + 1);
		return 0;
	case KEY_COUNT:
	case KEY_U64:
		ret = parse_u64(text, &v);
		break;
	case KEY_SIZE:
	case KEY_SIZE32:
		ret = units_parse_size(text, &v);
		break;
	case KEY_DURATION:
		ret = units_parse_duration(text, &v);
		break;
	case KEY_NUMBER:
		ret = parse_decimal(text, &d);
		if (ret)
			return -EINVAL;
		if (d < key->fmin || d > key->fmax ||
		    (key->fmin_open && d == key->fmin))
			return -EINVAL;
		*(double *)field = d;
		return 0;
	default:
		return -EINVAL;
	}
	if (ret)
		return -EINVAL;
	if (key->type != KEY_U64 && (v < key->min || v > key->max))
		return -EINVAL;
	switch (key->type) {
	case KEY_COUNT:
		*(unsigned *)field = (unsigned)v;
		break;
	case KEY_SIZE32:
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = v;
		break;
	}
	return 0;
}

static int parse_scalar(const struct ctx *c, const struct key *key,
			const char *path, const yaml_node_t *v, void *base)
{
	char got[YAMLMSG_QUOTE_MAX * 4 + 8];
	const char *text;

	/* A quoted "\0" would otherwise cut the value short unnoticed. */
	if (v->type == YAML_SCALAR_NODE && !yamlmsg_is_empty(v)) {
		text = (const char *)v->data.scalar.value;
		if (strlen(text) == v->data.scalar.length &&
		    !store_scalar(key, text, v->data.scalar.length, base))
			return 0;
	}
	return fail(c, yamlmsg_line(v), -EINVAL, "%s: expected %s, got %s",
		    path, key->what, yamlmsg_describe(got, sizeof(got), v));
}

static int unknown_key(const struct ctx *c, const yaml_node_t *k,
		       const struct key *keys, const char *prefix)
{
	char name[YAMLMSG_QUOTE_MAX * 4 + 8], valid[256];
	const struct key *key;
	size_t o = 0;
	int n;

	for (key = keys; key->name; key++) {
		n = snprintf(valid + o, sizeof(valid) - o, "%s%s",
			     key == keys ? "" : ", ", key->name);
		/* The tables are short; a cut list would still help. */
		if (n < 0 || (size_t)n >= sizeof(valid) - o)
			break;
		o += (size_t)n;
	}
	yamlmsg_quote(name, sizeof(name), (const char *)k->data.scalar.value,
		      k->data.scalar.length, '\'');
	if (*prefix)
		return fail(c, yamlmsg_line(k), -EINVAL,
			    "%s: unknown key %s; valid keys: %s", prefix, name,
			    valid);
	return fail(c, yamlmsg_line(k), -EINVAL,
		    "unknown key %s; valid keys: %s", name, valid);
}

static int find_key(const struct key *keys, const yaml_node_t *k)
{
	const char *s = (const char *)k->data.scalar.value;
	int i;

	if (strlen(s) != k->data.scalar.length)
		return -1;
	for (i = 0; keys[i].name; i++)
		if (!strcmp(keys[i].name, s))
			return i;
	return -1;
}

/* Walks a mapping against its table: unknown and repeated keys are errors,
 * scalars are stored into base, KEY_NODE values are left in sn for the
 * caller. prefix is the mapping's own path ("" at the top level, else like
 * "images[0]"); what says what the mapping should look like. */
static int parse_mapping(const struct ctx *c, const yaml_node_t *map,
			 const struct key *keys, const char *prefix,
			 const char *what, void *base, struct seen *sn)
{
	char got[YAMLMSG_QUOTE_MAX * 4 + 8], path[PATH_LEN];
	yaml_node_pair_t *p;
	int i, ret;

	memset(sn, 0, sizeof(*sn));
	if (map->type != YAML_MAPPING_NODE)
		return fail(c, yamlmsg_line(map), -EINVAL,
			    "%s: expected %s, got %s", prefix, what,
			    yamlmsg_describe(got, sizeof(got), map));
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);

		if (!k || !v)
			return fail(c, yamlmsg_line(map), -EINVAL,
				    "malformed YAML mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail(c, yamlmsg_line(k), -EINVAL,
				    "%s%sexpected a key name, got %s", prefix,
				    *prefix ? ": " : "",
				    yamlmsg_describe(got, sizeof(got), k));
		i = find_key(keys, k);
		if (i < 0)
			return unknown_key(c, k, keys, prefix);
		key_path(path, sizeof(path), prefix, keys[i].name);
		if (sn->line[i])
			return fail(c, yamlmsg_line(k), -EINVAL,
				    "duplicate key '%s' (first at line %zu)",
				    path, sn->line[i]);
		sn->line[i] = yamlmsg_line(k);
		sn->node[i] = v;
		if (keys[i].type == KEY_NODE)
			continue;
		ret = parse_scalar(c, &keys[i], path, v, base);
		if (ret)
			return ret;
	}
	for (i = 0; keys[i].name; i++)
		if (keys[i].required && !sn->line[i])
			return fail(c, yamlmsg_line(map), -EINVAL,
				    "%s: missing key '%s'",
				    *prefix ? prefix : "top level",
				    keys[i].name);
	return 0;
}

/* "a, b, c" from n names spaced stride bytes apart, cut with ", ..." when
 * it does not fit: for "expected the name of a function (f1, f2)". */
static const char *list_names(char *buf, size_t len, const char *first,
			      size_t stride, unsigned n)
{
	size_t o = 0;
	unsigned i;
	int w;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
			     first + (size_t)i * stride);
		if (w < 0 || (size_t)w >= len - o - sizeof(", ...")) {
			snprintf(buf + o, len - o, ", ...");
			break;
		}
		o += (size_t)w;
	}
	return buf;
}

/* The functions' names for a message; safe on a scenario without any. */
static const char *function_names(char *buf, size_t len,
				  const struct scenario *s)
{
	if (!s->nfunctions) {
		buf[0] = '\0';
		return buf;
	}
	return list_names(buf, len, s->functions[0].name,
			  sizeof(s->functions[0]), s->nfunctions);
}

static int find_function(const struct scenario *s, const char *name)
{
	unsigned i;

	for (i = 0; i < s->nfunctions; i++)
		if (!strcmp(s->functions[i].name, name))
			return (int)i;
	return -1;
}

static int find_image(const struct scenario *s, const char *name)
{
	unsigned i;

	for (i = 0; i < s->nimages; i++)
		if (!strcmp(s->images[i].name, name))
			return (int)i;
	return -1;
}

/* A sequence of 1..max items, each checked by the caller. */
static int check_sequence(const struct ctx *c, const yaml_node_t *v,
			  const char *path, const char *what, const char *items,
			  size_t max, size_t *n)
{
	char got[YAMLMSG_QUOTE_MAX * 4 + 8];

	if (v->type != YAML_SEQUENCE_NODE)
		return fail(c, yamlmsg_line(v), -EINVAL,
			    "%s: expected %s, got %s", path, what,
			    yamlmsg_describe(got, sizeof(got), v));
	*n = (size_t)(v->data.sequence.items.top -
		      v->data.sequence.items.start);
	if (!*n && max == SIZE_MAX)
		return fail(c, yamlmsg_line(v), -EINVAL,
			    "%s: expected 1 or more %s, got 0", path, items);
	/* Too many: point at the first one too many. */
	if (*n > max)
		return fail(c,
			    yamlmsg_line(yaml_document_get_node(
				    c->doc, v->data.sequence.items.start[max])),
			    -EINVAL, "%s: expected 1 to %zu %s, got %zu", path,
			    max, items, *n);
	if (*n < 1)
		return fail(c, yamlmsg_line(v), -EINVAL,
			    "%s: expected 1 to %zu %s, got %zu", path, max,
			    items, *n);
	return 0;
}

static const yaml_node_t *item(const struct ctx *c, const yaml_node_t *seq,
			       size_t i)
{
	return yaml_document_get_node(c->doc,
				      seq->data.sequence.items.start[i]);
}

/* "name:LINE: vms: ..." from topo_config_parse_node becomes
 * "name:LINE: topology.vms: ...", and any other message (an unknown or
 * repeated key) "name:LINE: topology: ...", so a key reads as the scenario
 * spells it. A message of another shape is left alone. */
static void prefix_topology(struct err *e, const char *name)
{
	char rest[sizeof(e->msg)];
	size_t n = strlen(name), head, k;
	const char *p;

	if (!e || strncmp(e->msg, name, n) || e->msg[n] != ':')
		return;
	p = e->msg + n + 1;
	k = strspn(p, "0123456789");
	if (!k || p[k] != ':' || p[k + 1] != ' ')
		return;
	p += k + 2;
	head = (size_t)(p - e->msg);
	snprintf(rest, sizeof(rest), "%s", p);
	k = strspn(rest, "abcdefghijklmnopqrstuvwxyz_.");
	snprintf(e->msg + head, sizeof(e->msg) - head, "topology%s%s",
		 k && rest[k] == ':' ? "." : ": ", rest);
}

/* dir_of(file) + "/" + rel, or rel alone when it is absolute or file has
 * no folder. */
static int resolve(char *out, size_t len, const char *file, const char *rel)
{
	const char *slash = strrchr(file, '/');
	int n;

	if (rel[0] == '/' || !slash)
		n = snprintf(out, len, "%s", rel);
	else
		n = snprintf(out, len, "%.*s/%s", (int)(slash - file), file,
			     rel);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Whether msg starts "path:LINE:", a message about a line of path. */
static bool names_line(const char *msg, const char *path)
{
	size_t n = strlen(path);

	return !strncmp(msg, path, n) && msg[n] == ':' && msg[n + 1] >= '0' &&
	       msg[n + 1] <= '9';
}

static int parse_topology(const struct ctx *c, const yaml_node_t *v,
			  struct scenario *s)
{
	char got[YAMLMSG_QUOTE_MAX * 4 + 8], path[PATH_MAX];
	struct err te;
	int ret;

	if (v->type == YAML_MAPPING_NODE) {
		ret = topo_config_parse_node(c->doc, v, c->name, &s->topo,
					     c->e);
		if (ret)
			prefix_topology(c->e, c->name);
		return ret;
	}
	if (v->type != YAML_SCALAR_NODE || yamlmsg_is_empty(v) ||
	    strlen((const char *)v->data.scalar.value) != v->data.scalar.length)
		return fail(c, yamlmsg_line(v), -EINVAL,
			    "topology: expected a mapping like { vms: 16 } or "
			    "the path of a topology file, got %s",
			    yamlmsg_describe(got, sizeof(got), v));
	if (resolve(path, sizeof(path), c->name,
		    (const char *)v->data.scalar.value))
		return fail(c, yamlmsg_line(v), -ENAMETOOLONG,
			    "topology: path too long, got %s",
			    yamlmsg_describe(got, sizeof(got), v));
	/* Any file may be named here: its messages quote none of it. */
	ret = topo_config_load_redacted(path, &s->topo, &te);
	if (!ret)
		return 0;
	/* A bad file already names its own file and line; a missing,
	 * unreadable or wrong kind of file is better told from the line
	 * that names it. */
	if (ret == -EINVAL && names_line(te.msg, path))
		return err_set(c->e, ret, "%s", te.msg);
	return fail(c, yamlmsg_line(v), ret, "topology: %s", te.msg);
}

static int parse_images(const struct ctx *c, const yaml_node_t *v,
			struct scenario *s)
{
	char path[PATH_LEN], got[YAMLMSG_QUOTE_MAX * 4 + 8], sz[32];
	const yaml_node_t *node;
	struct scenario_image *img;
	struct seen sn;
	size_t n, i, j, ls, ll, lc;
	uint64_t nblocks;
	int ret;

	ret = check_sequence(c, v, "images",
			     "a sequence of images like - { name: py, size: "
			     "758MB }",
			     "images", SCENARIO_MAX_IMAGES, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		node = item(c, v, i);
		img = &s->images[i];
		memset(img, 0, sizeof(*img));
		img->block_size = BLOCKIMG_DEFAULT_BLOCK_SIZE;
		img->startup_fraction = 0.16;
		img->seed = 1;
		img->line = (unsigned)yamlmsg_line(node);
		snprintf(path, sizeof(path), "images[%zu]", i);
		ret = parse_mapping(c, node, image_keys, path,
				    "a mapping like { name: py, size: 758MB }",
				    img, &sn);
		if (ret)
			return ret;
		ls = seen_line(&sn, image_keys, "size");
		ll = seen_line(&sn, image_keys, "layout");
		if (!ls && !ll)
			return fail(c, yamlmsg_line(node), -EINVAL,
				    "%s: missing key 'size' (a synthetic "
				    "image) or 'layout' (an OCI layout folder)",
				    path);
		if (ls && ll)
			return fail(c, ls > ll ? ls : ll, -EINVAL,
				    "%s: expected either size (a synthetic "
				    "image) or layout (an OCI layout folder), "
				    "got both",
				    path);
		lc = seen_line(&sn, image_keys, "startup_compute");
		if (ll && lc)
			return fail(c, lc, -EINVAL,
				    "%s.startup_compute: a synthetic image's "
				    "(with size); a layout's start-up trace is "
				    "recorded (faasnet-image trace)",
				    path);
		nblocks = img->size / img->block_size +
			  (img->size % img->block_size != 0);
		if (ls && nblocks > BLOCKIMG_MAX_BLOCKS) {
			node = seen_node(&sn, image_keys, "size");
			return fail(c, yamlmsg_line(node), -EINVAL,
				    "%s.size: expected at most %u blocks of "
				    "%s, got %s",
				    path, BLOCKIMG_MAX_BLOCKS,
				    units_format_size(sz, sizeof(sz),
						      img->block_size),
				    yamlmsg_describe(got, sizeof(got), node));
		}
		for (j = 0; j < i; j++)
			if (!strcmp(s->images[j].name, img->name)) {
				node = seen_node(&sn, image_keys, "name");
				return fail(c, yamlmsg_line(node), -EINVAL,
					    "%s.name: duplicate name '%s' "
					    "(first at line %u)",
					    path, img->name, s->images[j].line);
			}
	}
	s->nimages = (unsigned)n;
	return 0;
}

static int parse_functions(const struct ctx *c, const yaml_node_t *v,
			   struct scenario *s)
{
	char path[PATH_LEN], got[YAMLMSG_QUOTE_MAX * 4 + 8], names[256];
	const yaml_node_t *node;
	struct function_raw raw;
	struct seen sn;
	size_t n, i;
	int ret, idx;

	ret = check_sequence(c, v, "functions",
			     "a sequence of functions like - { name: f1, "
			     "image: py }",
			     "functions", SCENARIO_MAX_FUNCTIONS, &n);
	if (ret)
		return ret;
	s->functions = calloc(n, sizeof(*s->functions));
	if (!s->functions)
		return err_set(c->e, -ENOMEM, "%s: out of memory", c->name);
	for (i = 0; i < n; i++) {
		node = item(c, v, i);
		memset(&raw, 0, sizeof(raw));
		snprintf(path, sizeof(path), "functions[%zu]", i);
		ret = parse_mapping(c, node, function_keys, path,
				    "a mapping like { name: f1, image: py }",
				    &raw, &sn);
		if (ret)
			return ret;
		idx = find_function(s, raw.name);
		if (idx >= 0)
			return fail(c,
				    yamlmsg_line(seen_node(&sn, function_keys,
							   "name")),
				    -EINVAL,
				    "%s.name: duplicate name '%s' (first at "
				    "line %u)",
				    path, raw.name, s->functions[idx].line);
		idx = find_image(s, raw.image);
		if (idx < 0) {
			node = seen_node(&sn, function_keys, "image");
			return fail(c, yamlmsg_line(node), -EINVAL,
				    "%s.image: expected the name of an image "
				    "(%s), got %s",
				    path,
				    list_names(names, sizeof(names),
					       s->images[0].name,
					       sizeof(s->images[0]),
					       s->nimages),
				    yamlmsg_describe(got, sizeof(got), node));
		}
		memcpy(s->functions[i].name, raw.name, sizeof(raw.name));
		s->functions[i].image = (unsigned)idx;
		s->functions[i].runtime_start_ns = raw.runtime_start_ns;
		s->functions[i].line = (unsigned)yamlmsg_line(node);
		/* Counted as it goes, so find_function sees earlier ones. */
		s->nfunctions = (unsigned)i + 1;
	}
	return 0;
}

/* Which keys each kind of step takes; the first one names the kind. */
static const char *const at_keys[] = {"at", "invoke", "containers", "requests",
				      NULL};
static const char *const ramp_keys[] = {"from", "to", "rate", "invoke", NULL};
static const char *const trace_keys[] = {"trace", NULL};

static bool in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

/* Decides a step's kind from its keys and checks it has exactly the keys
 * that kind takes. */
static int step_kind(const struct ctx *c, const yaml_node_t *node,
		     const char *path, const struct seen *sn,
		     enum scenario_step_kind *kind)
{
	static const struct {
		const char *const *keys;
		const char *kind;
		const char *valid;
	} kinds[] = {
		[SCENARIO_STEP_AT] = {at_keys, "an at step",
				      "at, invoke, containers (or requests)"},
		[SCENARIO_STEP_RAMP] = {ramp_keys, "a ramp step",
					"from, to, rate, invoke"},
		[SCENARIO_STEP_TRACE] = {trace_keys, "a trace step", "trace"},
	};
	/* The keys that mark a kind: at; from, to or rate; trace. */
	static const struct {
		const char *key;
		int kind;
	} markers[] = {
		{"at", SCENARIO_STEP_AT},	{"from", SCENARIO_STEP_RAMP},
		{"to", SCENARIO_STEP_RAMP},	{"rate", SCENARIO_STEP_RAMP},
		{"trace", SCENARIO_STEP_TRACE},
	};
	size_t first = 0, line;
	const char *first_key = NULL;
	int k, found = -1, i;

	for (i = 0; i < (int)(sizeof(markers) / sizeof(markers[0])); i++) {
		line = seen_line(sn, step_keys, markers[i].key);
		if (!line)
			continue;
		if (found >= 0 && found != markers[i].kind)
			return fail(c, line > first ? line : first, -EINVAL,
				    "%s: expected one of at (an invocation), "
				    "from/to/rate (a ramp) or trace (a CSV "
				    "file), got both '%s' and '%s'",
				    path, first_key, markers[i].key);
		if (found < 0) {
			found = markers[i].kind;
			first = line;
			first_key = markers[i].key;
		}
	}
	if (found < 0)
		return fail(c, yamlmsg_line(node), -EINVAL,
			    "%s: expected at (an invocation), from/to/rate (a "
			    "ramp) or trace (a CSV file), got none of them",
			    path);
	for (k = 0; step_keys[k].name; k++) {
		if (!sn->line[k])
			continue;
		if (!in_list(kinds[found].keys, step_keys[k].name))
			return fail(c, sn->line[k], -EINVAL,
				    "%s: unexpected key '%s' in %s; valid "
				    "keys: %s",
				    path, step_keys[k].name, kinds[found].kind,
				    kinds[found].valid);
	}
	for (i = 0; kinds[found].keys[i]; i++) {
		/* containers (requests) defaults to 1; everything else is
		 * needed. */
		if (!strcmp(kinds[found].keys[i], "containers") ||
		    !strcmp(kinds[found].keys[i], "requests"))
			continue;
		if (!seen_line(sn, step_keys, kinds[found].keys[i]))
			return fail(c, yamlmsg_line(node), -EINVAL,
				    "%s: missing key '%s'", path,
				    kinds[found].keys[i]);
	}
	*kind = (enum scenario_step_kind)found;
	return 0;
}

static int parse_workload(const struct ctx *c, const yaml_node_t *v,
			  struct scenario *s)
{
	char path[PATH_LEN], got[YAMLMSG_QUOTE_MAX * 4 + 8], names[256];
	const yaml_node_t *node, *fn;
	struct scenario_step *st;
	struct step_raw *raw;
	struct seen sn;
	size_t n, i;
	int ret, idx;

	ret = check_sequence(c, v, "workload",
			     "a sequence of steps like - { at: 0s, invoke: "
			     "f1, containers: 16 }",
			     "steps", SCENARIO_MAX_STEPS, &n);
	if (ret)
		return ret;
	raw = malloc(sizeof(*raw));
	s->steps = calloc(n, sizeof(*s->steps));
	if (!raw || !s->steps) {
		ret = err_set(c->e, -ENOMEM, "%s: out of memory", c->name);
		goto out;
	}
	for (i = 0; i < n; i++) {
		node = item(c, v, i);
		st = &s->steps[i];
		memset(raw, 0, sizeof(*raw));
		raw->containers = 1;
		snprintf(path, sizeof(path), "workload[%zu]", i);
		ret = parse_mapping(c, node, step_keys, path,
				    "a mapping like { at: 0s, invoke: f1, "
				    "containers: 16 }",
				    raw, &sn);
		if (ret)
			goto out;
		ret = step_kind(c, node, path, &sn, &st->kind);
		if (ret)
			goto out;
		st->line = (unsigned)yamlmsg_line(node);
		st->containers = raw->containers;
		if (seen_line(&sn, step_keys, "containers") &&
		    seen_line(&sn, step_keys, "requests")) {
			ret = fail(c, seen_line(&sn, step_keys, "requests"),
				   -EINVAL,
				   "%s: expected containers or requests, got "
				   "both",
				   path);
			goto out;
		}
		st->count_line =
			(unsigned)seen_line(&sn, step_keys, "containers");
		if (!st->count_line) {
			st->count_line =
				(unsigned)seen_line(&sn, step_keys, "requests");
			st->count_is_requests = st->count_line != 0;
		}
		if (st->kind == SCENARIO_STEP_TRACE) {
			memcpy(st->trace, raw->trace, sizeof(st->trace));
			s->nsteps = (unsigned)i + 1;
			continue;
		}
		if (st->kind == SCENARIO_STEP_RAMP) {
			if (raw->to <= raw->from) {
				node = seen_node(&sn, step_keys, "to");
				ret = fail(c, yamlmsg_line(node), -EINVAL,
					   "%s.to: expected a time after "
					   "from, got %s",
					   path,
					   yamlmsg_describe(got, sizeof(got),
							    node));
				goto out;
			}
			st->at_ns = raw->from;
			st->until_ns = raw->to;
			st->rate = raw->rate;
			st->containers = 1;
		} else {
			st->at_ns = raw->at;
		}
		idx = find_function(s, raw->invoke);
		if (idx < 0) {
			fn = seen_node(&sn, step_keys, "invoke");
			ret = fail(c, yamlmsg_line(fn), -EINVAL,
				   "%s.invoke: expected the name of a "
				   "function (%s), got %s",
				   path,
				   function_names(names, sizeof(names), s),
				   yamlmsg_describe(got, sizeof(got), fn));
			goto out;
		}
		st->function = (unsigned)idx;
		s->nsteps = (unsigned)i + 1;
	}
	ret = 0;
out:
	free(raw);
	return ret;
}

static int parse_strategies(const struct ctx *c, const yaml_node_t *v,
			    struct scenario *s)
{
	char path[PATH_LEN], got[YAMLMSG_QUOTE_MAX * 4 + 8];
	size_t first[SCENARIO_MAX_STRATEGIES] = {0};
	char names[256];
	int st;
	const yaml_node_t *node;
	size_t n, i;
	int ret;

	/* No upper bound here: a fifth name is unknown or repeated, and
	 * saying which is more help than a count. */
	ret = check_sequence(c, v, "strategies",
			     "a sequence like [faasnet, ondemand]",
			     "strategies", SIZE_MAX, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		node = item(c, v, i);
		snprintf(path, sizeof(path), "strategies[%zu]", i);
		st = node->type == YAML_SCALAR_NODE &&
				     strlen((const char *)
						    node->data.scalar.value) ==
					     node->data.scalar.length
			     ? strategy_find(
				       (const char *)node->data.scalar.value)
			     : -1;
		if (st < 0) {
			strategy_list(names, sizeof(names), false);
			return fail(c, yamlmsg_line(node), -EINVAL,
				    "%s: expected one of %s, got %s", path,
				    names,
				    yamlmsg_describe(got, sizeof(got), node));
		}
		if (first[st])
			return fail(c, yamlmsg_line(node), -EINVAL,
				    "%s: duplicate strategy '%s' (first at "
				    "line %zu)",
				    path, strategy_name((unsigned)st),
				    first[st]);
		first[st] = yamlmsg_line(node);
		/* i < strategy_count(): every earlier name was unique. */
		s->strategies[i] = (unsigned)st;
	}
	s->nstrategies = (unsigned)n;
	return 0;
}

/* dilation: a number from 1 to SCENARIO_MAX_DILATION, or auto (0). */
static int parse_dilation(const struct ctx *c, const yaml_node_t *v,
			  struct scenario *s)
{
	char got[YAMLMSG_QUOTE_MAX * 4 + 8];
	const char *t = (const char *)v->data.scalar.value;
	double d;

	if (v->type == YAML_SCALAR_NODE && strlen(t) == v->data.scalar.length) {
		if (!strcmp(t, "auto")) {
			s->dilation = 0;
			return 0;
		}
		if (!parse_decimal(t, &d) && d >= 1.0 &&
		    d <= SCENARIO_MAX_DILATION) {
			s->dilation = d;
			return 0;
		}
	}
	return fail(c, yamlmsg_line(v), -EINVAL,
		    "dilation: expected a number from 1 to %d, or auto, got %s",
		    SCENARIO_MAX_DILATION,
		    yamlmsg_describe(got, sizeof(got), v));
}

static int parse_sweep(const struct ctx *c, const yaml_node_t *v,
		       struct scenario *s)
{
	char path[PATH_LEN];
	const yaml_node_t *values, *vms, *node;
	size_t first[SCENARIO_MAX_SWEEP];
	const char *param;
	struct seen sn;
	size_t n, i, j;
	unsigned at_steps = 0;
	int ret;

	ret = parse_mapping(c, v, sweep_keys, "sweep",
			    "a mapping like { containers: [8, 16, 32] }", NULL,
			    &sn);
	if (ret)
		return ret;
	values = seen_node(&sn, sweep_keys, "containers");
	vms = seen_node(&sn, sweep_keys, "vms");
	if (!values == !vms)
		return fail(c, yamlmsg_line(v), -EINVAL,
			    "sweep: expected one of containers or vms, like "
			    "{ containers: [8, 16, 32] }, got %s",
			    values ? "both" : "neither");
	param = values ? "containers" : "vms";
	if (vms)
		values = vms;
	snprintf(path, sizeof(path), "sweep.%s", param);
	ret = check_sequence(c, values, path, "a sequence like [8, 16, 32]",
			     "values", SCENARIO_MAX_SWEEP, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		node = item(c, values, i);
		snprintf(path, sizeof(path), "sweep.%s[%zu]", param, i);
		ret = parse_scalar(c, &sweep_value_key, path, node,
				   &s->sweep[i]);
		if (ret)
			return ret;
		first[i] = yamlmsg_line(node);
		for (j = 0; j < i; j++)
			if (s->sweep[j] == s->sweep[i])
				return fail(c, yamlmsg_line(node), -EINVAL,
					    "%s: duplicate value %u (first at "
					    "line %zu)",
					    path, s->sweep[i], first[j]);
		/* The topology is read before the sweep. */
		if (vms && s->sweep[i] > s->topo.vms)
			return fail(c, yamlmsg_line(node), -EINVAL,
				    "%s: expected at most the topology's %u "
				    "VMs, got %u",
				    path, s->topo.vms, s->sweep[i]);
	}
	for (i = 0; i < s->nsteps; i++)
		if (s->steps[i].kind == SCENARIO_STEP_AT)
			at_steps++;
	/* The sweep would change nothing: every run would be the same. */
	if (!vms && !at_steps)
		return fail(c, yamlmsg_line(v), -EINVAL,
			    "sweep.containers: expected a workload with at "
			    "least one at step (the sweep sets its "
			    "containers), got none");
	snprintf(s->sweep_param, sizeof(s->sweep_param), "%s", param);
	s->nsweep = (unsigned)n;
	return 0;
}

unsigned scenario_vms(const struct scenario *s, int sweep_index)
{
	if (sweep_index >= 0 && (unsigned)sweep_index < s->nsweep &&
	    !strcmp(s->sweep_param, "vms"))
		return s->sweep[sweep_index];
	return s->topo.vms;
}

static int parse_serve(const struct ctx *c, const yaml_node_t *v,
		       struct scenario *s)
{
	struct scenario_serve *sv = &s->serve;
	struct seen sn;
	int ret;

	sv->service_ns = 2 * NS_PER_S;
	sv->concurrency = 1;
	sv->utilization = 0.7;
	sv->window_ns = NS_PER_S;
	ret = parse_mapping(c, v, serve_keys, "serve",
			    "a mapping like { service: 2s, concurrency: 1 }",
			    sv, &sn);
	if (ret)
		return ret;
	sv->on = 1;
	sv->line = (unsigned)yamlmsg_line(v);
	return 0;
}

/* What serve changes elsewhere: the workload counts requests, a sweep of
 * containers means nothing, and BitTorrent has no scheduler to serve
 * requests with. Without serve, requests: is a slip for containers:. */
static int check_serve(const struct ctx *c, const struct seen *sn,
		       struct scenario *s)
{
	const yaml_node_t *strat = seen_node(sn, top_keys, "strategies");
	unsigned i, j;

	for (i = 0; i < s->nsteps; i++) {
		const struct scenario_step *st = &s->steps[i];

		if (!st->count_line || st->count_is_requests == s->serve.on)
			continue;
		return fail(c, st->count_line, -EINVAL,
			    s->serve.on
				    ? "workload[%u].containers: a scenario "
				      "with serve invokes requests (the "
				      "autoscaler decides the containers): "
				      "expected requests: N"
				    : "workload[%u].requests: expected "
				      "containers (requests need a top-level "
				      "serve mapping)",
			    i);
	}
	if (!s->serve.on)
		return 0;
	if (s->nsweep)
		return fail(c, yamlmsg_line(seen_node(sn, top_keys, "sweep")),
			    -EINVAL,
			    "sweep: expected no sweep in a scenario with "
			    "serve (the autoscaler decides the containers)");
	for (i = j = 0; i < s->nstrategies; i++) {
		if (strategy_at(s->strategies[i])->serves) {
			s->strategies[j++] = s->strategies[i];
			continue;
		}
		if (strat) {
			char names[256];

			strategy_list(names, sizeof(names), true);
			return fail(c, yamlmsg_line(strat), -EINVAL,
				    "strategies: %s cannot serve requests (it "
				    "has no scheduler); expected some of %s",
				    strategy_name(s->strategies[i]), names);
		}
	}
	/* Not named: the default list, less those that cannot serve. */
	s->nstrategies = j;
	return 0;
}

typedef int (*node_fn)(const struct ctx *c, const yaml_node_t *v,
		       struct scenario *s);

/* The KEY_NODE keys of the top level, in the order they are read: images
 * before functions before workload before sweep, each naming the one
 * before. */
/* A fault as written; which of kill, link and lie it has decides what it
 * does, and the checks below which other keys go with it. */
struct fault_raw {
	uint64_t at, restart, down, flap, for_ns, sent, received;
	unsigned after, depth, count, times;
	double share;
	char kill[16], link[16], lie[16], vm[16], role[16], function[64];
};

#define FAULT_FIELD(f) FIELD(struct fault_raw, f)

static const struct key fault_keys[] = {
	{.name = "at", .type = KEY_DURATION, FAULT_FIELD(at),
	 .what = "a duration up to 24h like 2s", .max = MAX_TIME_NS},
	{.name = "after", .type = KEY_COUNT, FAULT_FIELD(after),
	 .what = "a number of containers started, 1 to 100000", .min = 1,
	 .max = MAX_CONTAINERS},
	{.name = "sent", .type = KEY_SIZE, FAULT_FIELD(sent),
	 .what = "a size from 1B to 1TB like 10MB", .min = 1,
	 .max = UINT64_C(1) << 40},
	{.name = "received", .type = KEY_SIZE, FAULT_FIELD(received),
	 .what = "a size from 1B to 1TB like 10MB", .min = 1,
	 .max = UINT64_C(1) << 40},
	{.name = "kill", .type = KEY_NAME, FAULT_FIELD(kill),
	 .what = "agent, registry or manager"},
	{.name = "link", .type = KEY_NAME, FAULT_FIELD(link),
	 .what = "agent, registry or manager"},
	{.name = "lie", .type = KEY_NAME, FAULT_FIELD(lie),
	 .what = "corrupt, fake, slow, silent or none"},
	{.name = "vm", .type = KEY_NAME, FAULT_FIELD(vm),
	 .what = "a VM's name like vm0003"},
	{.name = "role", .type = KEY_NAME, FAULT_FIELD(role),
	 .what = "root, interior, leaf or any"},
	{.name = "function", .type = KEY_NAME, FAULT_FIELD(function),
	 .what = "the name of a function"},
	{.name = "depth", .type = KEY_COUNT, FAULT_FIELD(depth),
	 .what = "a tree depth from 0 (the root) to 30", .max = 30},
	{.name = "count", .type = KEY_COUNT, FAULT_FIELD(count),
	 .what = "a number of VMs from 1 to 100000", .min = 1,
	 .max = MAX_CONTAINERS},
	{.name = "share", .type = KEY_NUMBER, FAULT_FIELD(share),
	 .what = "a number above 0 and at most 1, like 0.1", .fmin = 0,
	 .fmax = 1, .fmin_open = true},
	{.name = "restart", .type = KEY_DURATION, FAULT_FIELD(restart),
	 .what = "a duration from 1ms to 1h like 2s", .min = NS_PER_S / 1000,
	 .max = 3600 * NS_PER_S},
	{.name = "down", .type = KEY_DURATION, FAULT_FIELD(down),
	 .what = "a duration from 1ms to 1h like 2s", .min = NS_PER_S / 1000,
	 .max = 3600 * NS_PER_S},
	{.name = "flap", .type = KEY_DURATION, FAULT_FIELD(flap),
	 .what = "a duration from 10ms to 1h like 500ms",
	 .min = NS_PER_S / 100, .max = 3600 * NS_PER_S},
	{.name = "times", .type = KEY_COUNT, FAULT_FIELD(times),
	 .what = "a whole number from 1 to 1000", .min = 1, .max = 1000},
	{.name = "rate", .type = KEY_NODE},
	{.name = "for", .type = KEY_DURATION, FAULT_FIELD(for_ns),
	 .what = "a duration from 1ms to 1h like 5s", .min = NS_PER_S / 1000,
	 .max = 3600 * NS_PER_S},
	{.name = NULL},
};

static const char *const fault_hosts[] = {"agent", "registry", "manager",
					  NULL};
static const char *const fault_roles[] = {"", "root", "interior", "leaf",
					  "any", NULL};

static int name_index(const char *const *list, const char *name)
{
	int i;

	for (i = 0; list[i]; i++)
		if (!strcmp(list[i], name))
			return i;
	return -1;
}

/* The line of key name in sn, or the mapping's when it is absent. */
static size_t fault_line(const struct seen *sn, const char *name,
			 const yaml_node_t *map)
{
	size_t line = seen_line(sn, fault_keys, name);

	return line ? line : yamlmsg_line(map);
}

/* Keys that go only with some faults: present where they do not is an
 * error naming the key and what it goes with. */
static int fault_only(const struct ctx *c, const struct seen *sn,
		      const char *path, const char *const *keys, bool allowed,
		      const char *with)
{
	for (; *keys; keys++)
		if (!allowed && seen_line(sn, fault_keys, *keys))
			return fail(c, seen_line(sn, fault_keys, *keys),
				    -EINVAL, "%s.%s: only with %s", path, *keys,
				    with);
	return 0;
}

static int parse_fault(const struct ctx *c, const yaml_node_t *node,
		       const char *path, struct scenario *s,
		       struct scenario_fault *f)
{
	static const char *const kill_only[] = {"restart", NULL};
	static const char *const link_only[] = {"down", "flap", "rate", NULL};
	static const char *const flap_only[] = {"times", NULL};
	static const char *const rate_only[] = {"for", NULL};
	static const char *const agent_only[] = {"vm", "role", NULL};
	static const char *const role_only[] = {"function", "count", "share",
						NULL};
	static const char *const interior_only[] = {"depth", NULL};
	char got[YAMLMSG_QUOTE_MAX * 4 + 8], names[256];
	const yaml_node_t *v;
	struct fault_raw raw = {0};
	struct seen sn;
	const char *host;
	int ret, i, nwhat, nlink;

	ret = parse_mapping(c, node, fault_keys, path,
			    "a mapping like { at: 2s, kill: agent, role: root }",
			    &raw, &sn);
	if (ret)
		return ret;
	memset(f, 0, sizeof(*f));
	f->line = (unsigned)yamlmsg_line(node);
	nwhat = !!raw.kill[0] + !!raw.link[0] + !!raw.lie[0];
	if (nwhat != 1)
		return fail(c, yamlmsg_line(node), -EINVAL,
			    "%s: expected one of kill, link or lie, got %d",
			    path, nwhat);
	if (!!seen_line(&sn, fault_keys, "at") + !!raw.after + !!raw.sent +
		    !!raw.received !=
	    1)
		return fail(c, yamlmsg_line(node), -EINVAL,
			    "%s: expected one of at (a time), after (a "
			    "number of containers started), sent or received "
			    "(bytes on the target VM's link)",
			    path);
	f->at_ns = raw.at;
	f->after = raw.after;
	f->sent = raw.sent;
	f->received = raw.received;
	f->what = raw.kill[0]  ? SCENARIO_FAULT_KILL
		  : raw.link[0] ? SCENARIO_FAULT_LINK
				: SCENARIO_FAULT_LIE;
	host = raw.kill[0] ? raw.kill : raw.link[0] ? raw.link : "agent";
	i = name_index(fault_hosts, host);
	if (i < 0)
		return fail(c,
			    fault_line(&sn, raw.kill[0] ? "kill" : "link",
				       node),
			    -EINVAL,
			    "%s.%s: expected agent, registry or manager, got "
			    "'%s'",
			    path, raw.kill[0] ? "kill" : "link", host);
	f->host = (enum scenario_fault_host)i;
	if (raw.lie[0]) {
		enum lie_mode mode;

		if (lie_parse(raw.lie, &mode))
			return fail(c, fault_line(&sn, "lie", node), -EINVAL,
				    "%s.lie: expected corrupt, fake, slow, "
				    "silent or none, got '%s'",
				    path, raw.lie);
		memcpy(f->lie, raw.lie, sizeof(f->lie));
	}
	ret = fault_only(c, &sn, path, kill_only,
			 f->what == SCENARIO_FAULT_KILL, "kill");
	if (!ret)
		ret = fault_only(c, &sn, path, link_only,
				 f->what == SCENARIO_FAULT_LINK, "link");
	if (!ret)
		ret = fault_only(c, &sn, path, flap_only,
				 seen_line(&sn, fault_keys, "flap"), "flap");
	if (!ret)
		ret = fault_only(c, &sn, path, rate_only,
				 seen_line(&sn, fault_keys, "rate"), "rate");
	if (!ret)
		ret = fault_only(c, &sn, path, agent_only,
				 f->host == SCENARIO_FAULT_AGENT,
				 "an agent (kill: agent, link: agent, lie)");
	if (ret)
		return ret;
	if ((raw.sent || raw.received) && f->host != SCENARIO_FAULT_AGENT)
		return fail(c,
			    fault_line(&sn, raw.sent ? "sent" : "received",
				       node),
			    -EINVAL, "%s.%s: only with an agent (kill: agent, "
				     "link: agent, lie)",
			    path, raw.sent ? "sent" : "received");
	if (f->what == SCENARIO_FAULT_LINK) {
		nlink = !!raw.down + !!raw.flap +
			!!seen_line(&sn, fault_keys, "rate");
		if (nlink != 1)
			return fail(c, yamlmsg_line(node), -EINVAL,
				    "%s: a link fault takes one of down, flap "
				    "or rate, got %d",
				    path, nlink);
		v = seen_node(&sn, fault_keys, "rate");
		if (v && (v->type != YAML_SCALAR_NODE ||
			  units_parse_rate((const char *)v->data.scalar.value,
					   &f->rate_bps) ||
			  !f->rate_bps))
			return fail(c, yamlmsg_line(v), -EINVAL,
				    "%s.rate: expected a rate like 100mbit, "
				    "got %s",
				    path, yamlmsg_describe(got, sizeof(got), v));
		f->down_ns = raw.down;
		f->flap_ns = raw.flap;
		f->times = raw.flap ? (raw.times ? raw.times : 3) : 0;
		f->for_ns = raw.for_ns;
	}
	f->restart_ns = raw.restart;
	f->count = 1;
	f->depth = -1;
	if (f->host != SCENARIO_FAULT_AGENT)
		return 0;
	if (!!raw.vm[0] == !!raw.role[0])
		return fail(c, yamlmsg_line(node), -EINVAL,
			    "%s: expected one of vm (a VM's name) or role "
			    "(root, interior, leaf or any)",
			    path);
	ret = fault_only(c, &sn, path, role_only, raw.role[0], "role");
	if (!ret)
		ret = fault_only(c, &sn, path, interior_only,
				 !strcmp(raw.role, "interior"),
				 "role: interior");
	if (ret)
		return ret;
	if (raw.vm[0]) {
		memcpy(f->vm, raw.vm, sizeof(f->vm));
		f->role = SCENARIO_ROLE_NAMED;
		return 0;
	}
	i = name_index(fault_roles, raw.role);
	if (i <= 0)
		return fail(c, fault_line(&sn, "role", node), -EINVAL,
			    "%s.role: expected root, interior, leaf or any, "
			    "got '%s'",
			    path, raw.role);
	f->role = (enum scenario_fault_role)i;
	if (raw.count && raw.share > 0)
		return fail(c, fault_line(&sn, "share", node), -EINVAL,
			    "%s: expected one of count or share", path);
	f->count = raw.count ? raw.count : 1;
	f->share = raw.share;
	if (seen_line(&sn, fault_keys, "depth"))
		f->depth = (int)raw.depth;
	if (raw.function[0]) {
		i = find_function(s, raw.function);
		if (i < 0)
			return fail(c, fault_line(&sn, "function", node),
				    -EINVAL,
				    "%s.function: expected the name of a "
				    "function (%s), got '%s'",
				    path,
				    list_names(names, sizeof(names),
					       s->functions[0].name,
					       sizeof(s->functions[0]),
					       s->nfunctions),
				    raw.function);
		f->function = (unsigned)i;
	}
	return 0;
}

static int parse_faults(const struct ctx *c, const yaml_node_t *v,
			struct scenario *s)
{
	char path[PATH_LEN];
	size_t n, i;
	int ret;

	ret = check_sequence(c, v, "faults",
			     "a sequence of faults like - { at: 2s, kill: "
			     "agent, role: root }",
			     "faults", SCENARIO_MAX_FAULTS, &n);
	for (i = 0; !ret && i < n; i++) {
		snprintf(path, sizeof(path), "faults[%zu]", i);
		ret = parse_fault(c, item(c, v, i), path, s, &s->faults[i]);
		s->nfaults = (unsigned)i + 1;
	}
	return ret;
}

static const struct {
	const char *name;
	node_fn parse;
} top_nodes[] = {
	{"topology", parse_topology},	  {"images", parse_images},
	{"functions", parse_functions},	  {"workload", parse_workload},
	{"strategies", parse_strategies}, {"sweep", parse_sweep},
	{"serve", parse_serve},		  {"dilation", parse_dilation},
	{"faults", parse_faults},
};

static int parse_top(const struct ctx *c, const yaml_node_t *root,
		     struct scenario *s)
{
	char got[YAMLMSG_QUOTE_MAX * 4 + 8];
	const yaml_node_t *v;
	struct seen sn;
	size_t i;
	int ret;

	if (root->type != YAML_MAPPING_NODE)
		return fail(c, yamlmsg_line(root), -EINVAL,
			    "expected a mapping of scenario keys like \"name: "
			    "quickstart\", got %s",
			    yamlmsg_describe(got, sizeof(got), root));
	ret = parse_mapping(c, root, top_keys, "", NULL, s, &sn);
	if (ret)
		return ret;
	for (i = 0; i < sizeof(top_nodes) / sizeof(top_nodes[0]); i++) {
		v = seen_node(&sn, top_keys, top_nodes[i].name);
		if (!v)
			continue;
		ret = top_nodes[i].parse(c, v, s);
		if (ret)
			return ret;
	}
	return check_serve(c, &sn, s);
}

static int read_traces(struct scenario *s, struct err *e);

static void scenario_default(struct scenario *s)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	topo_spec_default(&s->topo);
	s->scale = 1;
	s->dilation = 1;
	s->repetitions = 1;
	s->seed = 1;
	s->timeout_ns = 300 * NS_PER_S;
	for (i = 0; i < strategy_count(); i++)
		s->strategies[i] = i;
	s->nstrategies = strategy_count();
}

/* An image whose block index or blocks do not fit a frame (lib/proto.h)
 * could be pushed but never forwarded down a tree. Checked once the whole
 * file is read, since scale (which shrinks blocks, never their number) may
 * come after the images. */
static int check_frames(const struct scenario *s, struct err *e)
{
	const struct scenario_image *img;
	struct err pe = {""};
	uint64_t nblocks;
	unsigned i;

	for (i = 0; i < s->nimages; i++) {
		img = &s->images[i];
		if (img->layout[0] || !img->block_size)
			continue;
		nblocks = img->size / img->block_size +
			  (img->size % img->block_size != 0);
		/* Without the trace: faasnet-image synth checks it with
		 * its reads counted (a few per cent of the index). */
		if (proto_image_fits(nblocks, 0,
				     scenario_scaled_block_size(s, i), &pe))
			return err_set(e, -EINVAL, "%s:%u: images[%u]: %s",
				       s->source, img->line, i, pe.msg);
	}
	return 0;
}

int scenario_parse(const char *text, size_t len, const char *name,
		   struct scenario *s, struct err *e)
{
	struct ctx c = {.e = e};
	yaml_document_t doc;
	struct scenario *tmp;
	const yaml_node_t *root;
	int ret, n;

	if (!name)
		name = "<input>";
	if (!text) {
		text = "";
		len = 0;
	}
	c.name = name;
	/* Tens of kilobytes with the images' paths: not for the stack. */
	tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return err_set(e, -ENOMEM, "%s: out of memory", name);
	scenario_default(tmp);
	n = snprintf(tmp->source, sizeof(tmp->source), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(tmp->source)) {
		free(tmp);
		return err_set(e, -ENAMETOOLONG, "%.64s...: name too long",
			       name);
	}
	ret = yamlmsg_load_one(text, len, name, &doc, e);
	if (ret) {
		scenario_free(tmp);
		free(tmp);
		return ret;
	}
	c.doc = &doc;

	root = yaml_document_get_root_node(&doc);
	if (!root || yamlmsg_is_null(root)) {
		/* An empty file lacks the first required key. */
		ret = err_set(e, -EINVAL, "%s:1: top level: missing key 'name'",
			      name);
		goto out;
	}
	ret = parse_top(&c, root, tmp);
	if (!ret)
		ret = check_frames(tmp, e);
	/* Last: a trace names the functions, and serve its third column. */
	if (!ret)
		ret = read_traces(tmp, e);
	if (ret)
		goto out;

	memcpy(s, tmp, sizeof(*s));
	/* s owns the arrays now. */
	tmp->functions = NULL;
	tmp->steps = NULL;
	ret = 0;
out:
	scenario_free(tmp);
	free(tmp);
	yaml_document_delete(&doc);
	return ret;
}

int scenario_load(const char *path, struct scenario *s, struct err *e)
{
	size_t len;
	char *buf;
	int ret;

	ret = yamlmsg_read_file(path, SCENARIO_MAX_BYTES,
				"a scenario file (put long workloads in a "
				"trace)",
				&buf, &len, e);
	if (ret)
		return ret;
	ret = scenario_parse(buf, len, path, s, e);
	free(buf);
	return ret;
}

void scenario_free(struct scenario *s)
{
	unsigned i;

	if (!s)
		return;
	for (i = 0; s->steps && i < s->nsteps; i++)
		free(s->steps[i].inv);
	free(s->functions);
	free(s->steps);
	s->functions = NULL;
	s->steps = NULL;
	s->nfunctions = 0;
	s->nsteps = 0;
}

/* x >= 0 to the nearest whole number; no libm for one rounding. */
static uint64_t round_u64(double x)
{
	if (!(x > 0))
		return 0; /* and NaN */
	if (x >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)(x + 0.5);
}

/* Kept at HTB's floor: below a kilobit a rate rounds to nothing. */
static uint64_t scale_rate(uint64_t bps, double scale)
{
	uint64_t v;

	if (!bps)
		return 0; /* unshaped stays unshaped */
	v = round_u64((double)bps * scale);
	return v < 1000 ? 1000 : v;
}

void scenario_scaled_topology(const struct scenario *s, struct topo_spec *out)
{
	memcpy(out, &s->topo, sizeof(*out));
	out->vm_rate_bps = scale_rate(s->topo.vm_rate_bps, s->scale);
	out->registry_rate_bps =
		scale_rate(s->topo.registry_rate_bps, s->scale);
	out->uplink_rate_bps = scale_rate(s->topo.uplink_rate_bps, s->scale);
	/* Control messages do not shrink with scale: a scaled manager link
	 * was fig17's bottleneck (1,000 VMs' PROVISIONs and heartbeats over
	 * 5 Mbit/s at 0.005, backlogged for the whole burst). */
	out->manager_rate_bps = s->topo.vm_rate_bps;
}

uint32_t scenario_scaled_block_size(const struct scenario *s, unsigned i)
{
	uint64_t v;

	if (i >= s->nimages)
		return 0;
	/* Blocks shrink with everything else, so an image keeps its number
	 * of blocks and a tree its pipeline depth: a 512 KiB block at a
	 * twentieth of the rate would otherwise take twenty times as long
	 * per hop. Whole bytes: rounding to 4 KiB pages made blocks 17%
	 * larger at scale 0.02 and 56% at 0.005. The format's least block
	 * is the one floor; scenario_scaled_size keeps the count exact. */
	v = round_u64((double)s->images[i].block_size * s->scale);
	if (v < BLOCKIMG_MIN_BLOCK_SIZE)
		v = BLOCKIMG_MIN_BLOCK_SIZE;
	return (uint32_t)(v > s->images[i].block_size ? s->images[i].block_size
						      : v);
}

uint64_t scenario_scaled_size(const struct scenario *s, unsigned i)
{
	const struct scenario_image *img;
	uint64_t v, nb, bs;

	if (i >= s->nimages)
		return 0;
	img = &s->images[i];
	if (img->layout[0])
		return 0;
	/* The size scales with the block, not with scale itself, so that
	 * the scaled image has exactly the full-size image's blocks (the
	 * same start-up set, the same pipeline) even where the block was
	 * held at the format's floor. */
	bs = scenario_scaled_block_size(s, i);
	nb = (img->size + img->block_size - 1) / img->block_size;
	v = round_u64((double)img->size * (double)bs / (double)img->block_size);
	if (v > nb * bs)
		v = nb * bs;
	if (nb && v <= (nb - 1) * bs)
		v = (nb - 1) * bs + 1;
	return v > img->size ? img->size : v;
}

double scenario_size_error(const struct scenario *s, unsigned i)
{
	if (i >= s->nimages || s->images[i].layout[0] || !s->images[i].size)
		return 0;
	return (double)scenario_scaled_size(s, i) /
		       ((double)s->images[i].size * s->scale) -
	       1;
}

/* ---- the schedule ---- */

struct sched {
	struct scenario_invocation *v;
	size_t n, cap;
};

/* -E2BIG at the cap, for the caller to say where it was reached. */
static int push(struct sched *q, uint64_t t_ns, unsigned function,
		unsigned containers)
{
	struct scenario_invocation *nv;
	size_t ncap;

	if (q->n >= SCENARIO_MAX_INVOCATIONS)
		return -E2BIG;
	if (q->n == q->cap) {
		ncap = q->cap ? q->cap * 2 : 64;
		if (ncap > SCENARIO_MAX_INVOCATIONS)
			ncap = SCENARIO_MAX_INVOCATIONS;
		nv = realloc(q->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		q->v = nv;
		q->cap = ncap;
	}
	q->v[q->n].t_ns = t_ns;
	q->v[q->n].function = function;
	q->v[q->n].containers = containers;
	q->n++;
	return 0;
}

static int push_fail(const struct scenario *s, const struct scenario_step *st,
		     unsigned i, int ret, struct err *e)
{
	if (ret == -E2BIG)
		return err_set(e, ret,
			       "%s:%u: workload[%u]: expected at most %d "
			       "invocations in all, got more",
			       s->source, st->line, i,
			       SCENARIO_MAX_INVOCATIONS);
	return err_set(e, ret, "%s: out of memory", s->source);
}

/* One invocation of one container at from, from + 1/rate, ... while
 * before to. Each time is computed from k, not summed, so that rounding
 * does not drift over a long ramp. */
static int expand_ramp(const struct scenario *s, const struct scenario_step *st,
		       unsigned i, struct sched *q, struct err *e)
{
	uint64_t t, k;
	int ret;

	/* The parser refuses these; a hand-made step must not loop. */
	if (!(st->rate > 0) || st->rate > MAX_RATE)
		return err_set(e, -EINVAL,
			       "%s:%u: workload[%u].rate: expected "
			       "above 0 and at most 100000, got %g",
			       s->source, st->line, i, st->rate);
	for (k = 0;; k++) {
		t = st->at_ns + round_u64((double)k * 1e9 / st->rate);
		if (t >= st->until_ns)
			return 0;
		ret = push(q, t, st->function, 1);
		if (ret)
			return push_fail(s, st, i, ret, e);
	}
}

struct name_index {
	const char *name;
	unsigned function;
};

static int cmp_name_index(const void *a, const void *b)
{
	return strcmp(((const struct name_index *)a)->name,
		      ((const struct name_index *)b)->name);
}

static char *trim(char *p)
{
	char *end;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return p;
}

/* "1.5s", "1500ms" or a bare number of seconds ("1.5"). */
static int parse_trace_time(const char *text, uint64_t *ns)
{
	char buf[64];
	size_t n = strspn(text, "0123456789.");
	int w;

	if (text[n])
		return units_parse_duration(text, ns);
	w = snprintf(buf, sizeof(buf), "%ss", text);
	if (w < 0 || (size_t)w >= sizeof(buf))
		return -EINVAL;
	return units_parse_duration(buf, ns);
}

/* A trace line's error: its line and what was expected. The file is any
 * the scenario names, so what the line holds is never quoted. */
static int trace_fail(struct err *e, const char *path, size_t line,
		      const char *field, const char *what)
{
	return err_set(e, -EINVAL, "%s:%zu: %s: expected %s", path, line, field,
		       what);
}

/* One trace line into q: 0, or an error naming the line (1 when the line
 * was the header, which says nothing). */
static int trace_line(const struct scenario *s, char *p, const char *path,
		      size_t lineno, bool first, const struct name_index *ix,
		      struct sched *q, struct err *e)
{
	/* The third column counts what an invocation asks for. */
	const char *count = s->serve.on ? "requests" : "containers";
	char names[256], what[300], *f[3], *save;
	struct name_index key;
	const struct name_index *hit;
	uint64_t t, containers = 1;
	size_t nf, j;
	int ret;

	for (nf = 1, save = p; *save; save++)
		nf += *save == ',';
	if (nf < 2 || nf > 3)
		return err_set(e, -EINVAL,
			       "%s:%zu: expected time,function[,%s], got %zu "
			       "field%s",
			       path, lineno, count, nf, nf == 1 ? "" : "s");
	for (j = 0, save = p; j < nf; j++)
		f[j] = trim(strsep(&save, ","));
	if (first && !strcmp(f[0], "time") && !strcmp(f[1], "function") &&
	    (nf == 2 || !strcmp(f[2], count)))
		return 1;
	if (parse_trace_time(f[0], &t) || t > MAX_TIME_NS)
		return trace_fail(e, path, lineno, "time",
				  "a time from 0s to 24h like 1.5s, 1500ms or "
				  "1.5");
	key.name = f[1];
	hit = bsearch(&key, ix, s->nfunctions, sizeof(*ix), cmp_name_index);
	if (!hit) {
		snprintf(what, sizeof(what), "the name of a function (%s)",
			 function_names(names, sizeof(names), s));
		return trace_fail(e, path, lineno, "function", what);
	}
	if (nf == 3 && (parse_u64(f[2], &containers) || !containers ||
			containers > MAX_CONTAINERS))
		return trace_fail(e, path, lineno, count,
				  "a whole number from 1 to 100000");
	ret = push(q, t, hit->function, (unsigned)containers);
	if (ret == -E2BIG)
		return err_set(e, ret,
			       "%s:%zu: expected at most %d invocations, got "
			       "more",
			       path, lineno, SCENARIO_MAX_INVOCATIONS);
	if (ret)
		return err_set(e, ret, "%s: out of memory", path);
	return 0;
}

/* Reads step i's trace file (docs/scenario-format.md) into st->inv, at
 * parse: its errors come before anything is built or synthesized. Any
 * file may be named, so it is read only if it is a regular file of at
 * most SCENARIO_MAX_TRACE_BYTES of text, and its messages name its line
 * and what was expected, never what it holds. */
static int read_trace(const struct scenario *s, struct scenario_step *st,
		      unsigned i, struct err *e)
{
	char path[PATH_MAX], *text = NULL, *p, *end, *nl, *line;
	struct name_index *ix = NULL;
	struct sched q = {0};
	size_t len, lineno = 0;
	bool first = true;
	struct err te;
	unsigned j;
	int ret;

	if (resolve(path, sizeof(path), s->source, st->trace))
		return err_set(e, -ENAMETOOLONG,
			       "%s:%u: workload[%u].trace: path too long",
			       s->source, st->line, i);
	/* Missing, unreadable, too large or not a file: told from the step
	 * that names it. */
	ret = yamlmsg_read_file(path, SCENARIO_MAX_TRACE_BYTES, "a trace",
				&text, &len, &te);
	if (ret)
		return err_set(e, ret, "%s:%u: workload[%u].trace: %s",
			       s->source, st->line, i, te.msg);
	ret = yamlmsg_check_text(text, len, path, "a trace", e);
	if (ret)
		goto out;
	/* A trace can hold a million lines over a thousand functions. */
	ix = calloc(s->nfunctions ? s->nfunctions : 1, sizeof(*ix));
	if (!ix) {
		ret = err_set(e, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (j = 0; j < s->nfunctions; j++) {
		ix[j].name = s->functions[j].name;
		ix[j].function = j;
	}
	qsort(ix, s->nfunctions, sizeof(*ix), cmp_name_index);
	for (p = text, end = text + len; p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl)
			*nl = '\0';
		lineno++;
		line = trim(p);
		if (!*line || *line == '#')
			continue;
		/* The header only as the first line that is not blank. */
		ret = trace_line(s, line, path, lineno, first, ix, &q, e);
		first = false;
		if (ret < 0)
			goto out;
	}
	/* Most likely the wrong file, or one still being written. */
	if (!q.n) {
		ret = err_set(e, -EINVAL,
			      "%s:%zu: expected lines like 1.5s,f1,1, got none",
			      path, lineno ? lineno : 1);
		goto out;
	}
	st->inv = q.v;
	st->ninv = q.n;
	q.v = NULL;
	ret = 0;
out:
	free(q.v);
	free(ix);
	free(text);
	return ret;
}

int scenario_path(const struct scenario *s, const char *rel, char *out,
		  size_t len)
{
	return resolve(out, len, s->source, rel);
}

int scenario_check_layouts(const struct scenario *s, struct err *e)
{
	static const char *const need[] = {"oci-layout", "index.json"};
	const struct scenario_image *im;
	char path[PATH_MAX], file[PATH_MAX + 16];
	const char *got;
	struct stat st;
	unsigned i, k;

	for (i = 0; i < s->nimages; i++) {
		im = &s->images[i];
		if (!im->layout[0])
			continue;
		if (scenario_path(s, im->layout, path, sizeof(path)))
			return err_set(e, -ENAMETOOLONG,
				       "%s:%u: images[%u].layout: path too "
				       "long",
				       s->source, im->line, i);
		if (stat(path, &st))
			return err_set(
				e, -errno, "%s:%u: images[%u].layout: %s: %s",
				s->source, im->line, i, path, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return err_set(e, -ENOTDIR,
				       "%s:%u: images[%u].layout: %s: expected "
				       "an OCI layout folder, got %s",
				       s->source, im->line, i, path,
				       yamlmsg_file_kind(&st));
		/* Its files as they are, not through a link: convert will
		 * read them and quote what it cannot parse. */
		for (k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
			snprintf(file, sizeof(file), "%s/%s", path, need[k]);
			if (lstat(file, &st))
				got = errno == ENOENT ? "none"
						      : strerror(errno);
			else if (!S_ISREG(st.st_mode))
				got = yamlmsg_file_kind(&st);
			else
				continue;
			return err_set(e, -EINVAL,
				       "%s:%u: images[%u].layout: %s: expected "
				       "an OCI layout folder (with %s, a "
				       "regular file), got %s",
				       s->source, im->line, i, path, need[k],
				       got);
		}
	}
	return 0;
}

static int read_traces(struct scenario *s, struct err *e)
{
	unsigned i;
	int ret;

	for (i = 0; i < s->nsteps; i++) {
		if (s->steps[i].kind != SCENARIO_STEP_TRACE)
			continue;
		ret = read_trace(s, &s->steps[i], i, e);
		if (ret)
			return ret;
	}
	return 0;
}

/* Stable merge sort by time: invocations written in the same instant keep
 * the order the workload gives them (qsort promises no such thing). */
static int sort_by_time(struct scenario_invocation *v, size_t n)
{
	struct scenario_invocation *tmp, *a = v, *b, *sw;
	size_t width, lo, mid, hi, i, j, k;

	for (i = 1; i < n; i++)
		if (v[i].t_ns < v[i - 1].t_ns)
			break;
	if (i >= n)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	b = tmp;
	for (width = 1; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			mid = lo + width < n ? lo + width : n;
			hi = lo + 2 * width < n ? lo + 2 * width : n;
			i = lo;
			j = mid;
			k = lo;
			while (i < mid && j < hi)
				b[k++] =
					a[j].t_ns < a[i].t_ns ? a[j++] : a[i++];
			while (i < mid)
				b[k++] = a[i++];
			while (j < hi)
				b[k++] = a[j++];
		}
		sw = a;
		a = b;
		b = sw;
	}
	if (a != v)
		memcpy(v, a, n * sizeof(*v));
	free(tmp);
	return 0;
}

int scenario_schedule(const struct scenario *s, int sweep_index,
		      struct scenario_invocation **out, size_t *n,
		      struct err *e)
{
	const struct scenario_step *st;
	struct sched q = {0};
	bool sweep_containers;
	unsigned i, containers;
	size_t k;
	int ret;

	if (sweep_index >= 0 && (unsigned)sweep_index >= s->nsweep) {
		ret = err_set(e, -EINVAL,
			      "%s: sweep value %d asked for, but the sweep has "
			      "%u",
			      s->source, sweep_index, s->nsweep);
		goto out;
	}
	sweep_containers =
		sweep_index >= 0 && !strcmp(s->sweep_param, "containers");
	for (i = 0; i < s->nsteps; i++) {
		st = &s->steps[i];
		switch (st->kind) {
		case SCENARIO_STEP_AT:
			containers = sweep_containers ? s->sweep[sweep_index]
						      : st->containers;
			ret = push(&q, st->at_ns, st->function, containers);
			if (ret)
				ret = push_fail(s, st, i, ret, e);
			break;
		case SCENARIO_STEP_RAMP:
			ret = expand_ramp(s, st, i, &q, e);
			break;
		case SCENARIO_STEP_TRACE:
			/* Read at parse; in its file's order. */
			for (k = 0, ret = 0; !ret && k < st->ninv; k++)
				ret = push(&q, st->inv[k].t_ns,
					   st->inv[k].function,
					   st->inv[k].containers);
			if (ret)
				ret = push_fail(s, st, i, ret, e);
			break;
		default:
			ret = err_set(e, -EINVAL, "%s:%u: unknown step kind",
				      s->source, st->line);
			break;
		}
		if (ret)
			goto out;
	}
	ret = sort_by_time(q.v, q.n);
	if (ret) {
		err_set(e, ret, "%s: out of memory", s->source);
		goto out;
	}
	*out = q.v;
	*n = q.n;
	q.v = NULL;
	ret = 0;
out:
	free(q.v);
	return ret;
}

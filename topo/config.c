#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "yamlmsg.h"
#include "config.h"
#include "units.h"

/* A topology file is a few lines; anything much larger is the wrong file.
 * The cap also bounds libyaml's scanner, which is quadratic in flow nesting
 * depth ("[[[[...": 50k deep takes seconds). */
#define CONFIG_MAX_BYTES (64 * 1024)

enum key_type {
	KEY_COUNT,    /* unsigned, plain decimal digits */
	KEY_RATE,     /* uint64_t bits/s, units_parse_rate() */
	KEY_DURATION, /* uint64_t ns, units_parse_duration() */
	KEY_MAP,      /* a nested mapping with its own keys */
};

/* One key of a mapping. The tables below are the whole format: a scenario
 * file that embeds a topology mapping walks the same tables. */
struct key {
	const char *name; /* as written in the file */
	const char *path; /* dotted, as messages and topo_spec_check() say it */
	enum key_type type;
	size_t off;	       /* field in struct topo_spec, scalar types */
	const char *what;      /* "expected WHAT", scalar types */
	const struct key *sub; /* KEY_MAP: its keys, ending with a NULL name */
	bool required;
};

static const struct key vm_link_keys[] = {
	{
		.name = "rate",
		.path = "vm_link.rate",
		.type = KEY_RATE,
		.off = offsetof(struct topo_spec, vm_rate_bps),
		.what = "a rate like 100mbit",
		.required = true,
	},
	{.name = NULL},
};

static const struct key registry_link_keys[] = {
	{
		.name = "rate",
		.path = "registry_link.rate",
		.type = KEY_RATE,
		.off = offsetof(struct topo_spec, registry_rate_bps),
		.what = "a rate like 100mbit",
		.required = true,
	},
	{.name = NULL},
};

/* Omitting rack_uplink leaves it unshaped; a zero rate is refused like any
 * other, so "unshaped" has one spelling. */
static const struct key rack_uplink_keys[] = {
	{
		.name = "rate",
		.path = "rack_uplink.rate",
		.type = KEY_RATE,
		.off = offsetof(struct topo_spec, uplink_rate_bps),
		.what = "a rate like 10gbit",
		.required = true,
	},
	{.name = NULL},
};

static const struct key topo_keys[] = {
	{
		.name = "vms",
		.path = "vms",
		.type = KEY_COUNT,
		.off = offsetof(struct topo_spec, vms),
		.what = "a whole number like 16",
	},
	{
		.name = "rack_size",
		.path = "rack_size",
		.type = KEY_COUNT,
		.off = offsetof(struct topo_spec, rack_size),
		.what = "a whole number like 64",
	},
	{
		.name = "vm_link",
		.path = "vm_link",
		.type = KEY_MAP,
		.what = "a mapping like { rate: 1gbit }",
		.sub = vm_link_keys,
	},
	{
		.name = "registry_link",
		.path = "registry_link",
		.type = KEY_MAP,
		.what = "a mapping like { rate: 1gbit }",
		.sub = registry_link_keys,
	},
	{
		.name = "rack_uplink",
		.path = "rack_uplink",
		.type = KEY_MAP,
		.what = "a mapping like { rate: 1gbit }",
		.sub = rack_uplink_keys,
	},
	{
		.name = "delay",
		.path = "delay",
		.type = KEY_DURATION,
		.off = offsetof(struct topo_spec, delay_ns),
		.what = "a duration like 10ms",
	},
	{.name = NULL},
};

/* The tables store through offsets; keep each field the size its type
 * writes. */
#define FIELD_SIZE(f) sizeof(((struct topo_spec *)0)->f)
_Static_assert(FIELD_SIZE(vms) == sizeof(unsigned) &&
		       FIELD_SIZE(rack_size) == sizeof(unsigned),
	       "KEY_COUNT fields are unsigned");
_Static_assert(FIELD_SIZE(vm_rate_bps) == sizeof(uint64_t) &&
		       FIELD_SIZE(registry_rate_bps) == sizeof(uint64_t) &&
		       FIELD_SIZE(uplink_rate_bps) == sizeof(uint64_t) &&
		       FIELD_SIZE(delay_ns) == sizeof(uint64_t),
	       "KEY_RATE and KEY_DURATION fields are uint64_t");

/* Every key in every table, at most once each: sized for all of them. */
#define MAX_SEEN 16

struct ctx {
	yaml_document_t *doc;
	const char *name;
	/* A file another names (topo_config_load_redacted): messages say
	 * what a node is, never what it holds. */
	bool redact;
	struct err *e;
	/* Where each key was set. Keys are unique per table and each table
	 * belongs to one mapping, so this finds duplicates, and it lets a
	 * range error from topo_spec_check() point at the key's line. */
	struct {
		const struct key *key;
		size_t line;
	} seen[MAX_SEEN];
	size_t nseen;
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

/* A node for "got ...": quoted, or redacted to its kind. */
static const char *describe(const struct ctx *c, char *buf, size_t len,
			    const yaml_node_t *n)
{
	return c->redact ? yamlmsg_kind(n) : yamlmsg_describe(buf, len, n);
}

static size_t seen_line(const struct ctx *c, const struct key *key)
{
	size_t i;

	for (i = 0; i < c->nseen; i++)
		if (c->seen[i].key == key)
			return c->seen[i].line;
	return 0;
}

static void remember(struct ctx *c, const struct key *key, size_t line)
{
	/* Cannot fill: a key is remembered once, and there are fewer keys
	 * than slots. */
	if (c->nseen < MAX_SEEN) {
		c->seen[c->nseen].key = key;
		c->seen[c->nseen].line = line;
		c->nseen++;
	}
}

/* Plain decimal digits only: YAML 1.1 would read "016" as octal 14 and
 * "0x10" as 16, and a count with a sign, exponent or fraction is a typo. */
static int parse_count(const char *s, unsigned *out)
{
	uint64_t v = 0;
	const char *p;

	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	for (p = s; *p; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT_MAX)
			return -ERANGE;
	}
	*out = (unsigned)v;
	return 0;
}

static const char bytes_hint[] =
	" (bytes per second are not accepted: write bits, e.g. 800mbit for "
	"100MB/s)";

/* tc spells bytes per second "bps", "kbps"...: the usual mistake. */
static bool looks_like_bytes_rate(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && !strcasecmp(s + n - 3, "bps");
}

static int parse_scalar(struct ctx *c, const struct key *key,
			const yaml_node_t *v, struct topo_spec *spec)
{
	const char *text = (const char *)v->data.scalar.value;
	char got[YAMLMSG_QUOTE_MAX * 4 + 8];
	const char *hint = "";
	void *field = (char *)spec + key->off;
	int ret;

	/* A quoted "\0" would otherwise cut the value short unnoticed. */
	if (strlen(text) != v->data.scalar.length) {
		ret = -EINVAL;
		goto bad;
	}
	switch (key->type) {
	case KEY_COUNT:
		ret = parse_count(text, field);
		break;
	case KEY_RATE:
		ret = units_parse_rate(text, field);
		if (ret == -EINVAL && looks_like_bytes_rate(text))
			hint = bytes_hint;
		break;
	case KEY_DURATION:
		ret = units_parse_duration(text, field);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (!ret)
		return 0;
bad:
	if (ret == -ERANGE)
		hint = " (too large)";
	return fail(c, yamlmsg_line(v), -EINVAL, "%s: expected %s, got %s%s",
		    key->path, key->what, describe(c, got, sizeof(got), v),
		    hint);
}

static int parse_mapping(struct ctx *c, const yaml_node_t *map,
			 const struct key *keys, const struct key *parent,
			 struct topo_spec *spec);

static int parse_value(struct ctx *c, const struct key *key,
		       const yaml_node_t *v, struct topo_spec *spec)
{
	char got[YAMLMSG_QUOTE_MAX * 4 + 8];
	bool fits;

	if (key->type == KEY_MAP)
		fits = v->type == YAML_MAPPING_NODE;
	else
		fits = v->type == YAML_SCALAR_NODE && !yamlmsg_is_empty(v);
	if (!fits)
		return fail(c, yamlmsg_line(v), -EINVAL,
			    "%s: expected %s, got %s", key->path, key->what,
			    describe(c, got, sizeof(got), v));
	if (key->type == KEY_MAP)
		return parse_mapping(c, v, key->sub, key, spec);
	return parse_scalar(c, key, v, spec);
}

static int unknown_key(const struct ctx *c, const yaml_node_t *k,
		       const struct key *keys, const struct key *parent)
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
	if (c->redact)
		snprintf(name, sizeof(name), "(not quoted)");
	else
		yamlmsg_quote(name, sizeof(name),
			      (const char *)k->data.scalar.value,
			      k->data.scalar.length, '\'');
	if (parent)
		return fail(c, yamlmsg_line(k), -EINVAL,
			    "%s: unknown key %s; valid keys: %s", parent->path,
			    name, valid);
	return fail(c, yamlmsg_line(k), -EINVAL,
		    "unknown key %s; valid keys: %s", name, valid);
}

static const struct key *find_key(const struct key *keys, const yaml_node_t *k)
{
	const char *s = (const char *)k->data.scalar.value;

	if (strlen(s) != k->data.scalar.length)
		return NULL;
	for (; keys->name; keys++)
		if (!strcmp(keys->name, s))
			return keys;
	return NULL;
}

static int parse_mapping(struct ctx *c, const yaml_node_t *map,
			 const struct key *keys, const struct key *parent,
			 struct topo_spec *spec)
{
	char got[YAMLMSG_QUOTE_MAX * 4 + 8];
	const struct key *key;
	yaml_node_pair_t *p;
	size_t first;
	int ret;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);

		if (!k || !v)
			return fail(c, yamlmsg_line(map), -EINVAL,
				    "malformed YAML mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail(c, yamlmsg_line(k), -EINVAL,
				    "%s%sexpected a key name, got %s",
				    parent ? parent->path : "",
				    parent ? ": " : "",
				    describe(c, got, sizeof(got), k));
		key = find_key(keys, k);
		if (!key)
			return unknown_key(c, k, keys, parent);
		first = seen_line(c, key);
		if (first)
			return fail(c, yamlmsg_line(k), -EINVAL,
				    "duplicate key '%s' (first at line %zu)",
				    key->path, first);
		remember(c, key, yamlmsg_line(k));
		ret = parse_value(c, key, v, spec);
		if (ret)
			return ret;
	}
	for (key = keys; key->name; key++)
		if (key->required && !seen_line(c, key))
			return fail(c, yamlmsg_line(map), -EINVAL,
				    "%s: missing key '%s'",
				    parent ? parent->path : "top level",
				    key->name);
	return 0;
}

/* Reads a topology mapping (the whole file today, the `topology:` value of a
 * scenario file later) over spec, which holds the defaults, then checks the
 * result, blaming the line of the key that set a field out of range. */
static int parse_topology(yaml_document_t *doc, const yaml_node_t *map,
			  const char *name, bool redact, struct topo_spec *spec,
			  struct err *e)
{
	struct ctx c = {.doc = doc, .name = name, .redact = redact, .e = e};
	char *cut;
	char got[YAMLMSG_QUOTE_MAX * 4 + 8];
	struct err ce;
	size_t i, n;
	int ret;

	if (map->type != YAML_MAPPING_NODE)
		return fail(&c, yamlmsg_line(map), -EINVAL,
			    "expected a mapping of topology keys like "
			    "\"vms: 16\", got %s",
			    describe(&c, got, sizeof(got), map));
	ret = parse_mapping(&c, map, topo_keys, NULL, spec);
	if (ret)
		return ret;
	ret = topo_spec_check(spec, &ce);
	/* Its messages end in ", got VALUE": the file's. */
	if (ret && redact && (cut = strstr(ce.msg, ", got ")))
		*cut = '\0';
	if (!ret) {
		/* Whether the delay can be honoured is only known when the
		 * kernel is asked, after parsing: keep its line for that
		 * message. */
		for (i = 0; i < c.nseen; i++)
			if (!strcmp(c.seen[i].key->path, "delay"))
				spec->delay_line = (unsigned)c.seen[i].line;
		return 0;
	}
	for (i = 0; i < c.nseen; i++) {
		n = strlen(c.seen[i].key->path);
		if (!strncmp(ce.msg, c.seen[i].key->path, n) &&
		    ce.msg[n] == ':')
			return fail(&c, c.seen[i].line, ret, "%s", ce.msg);
	}
	/* A default out of range: nothing in the file to point at. */
	return err_set(e, ret, "%s: %s", name, ce.msg);
}

int topo_config_parse_node(yaml_document_t *doc, const yaml_node_t *map,
			   const char *name, struct topo_spec *spec,
			   struct err *e)
{
	struct topo_spec tmp;
	int ret, n;

	topo_spec_default(&tmp);
	n = snprintf(tmp.source, sizeof(tmp.source), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(tmp.source))
		return err_set(e, -ENAMETOOLONG, "%.64s...: name too long",
			       name);
	ret = parse_topology(doc, map, name, false, &tmp, e);
	if (!ret)
		memcpy(spec, &tmp, sizeof(*spec));
	return ret;
}

/* topo_config_parse; redact: for a file another names, which must hold a
 * topology mapping (an empty one is no topology file) and whose content
 * no message quotes. */
static int parse_text(const char *text, size_t len, const char *name,
		      bool redact, struct topo_spec *spec, struct err *e)
{
	yaml_document_t doc;
	struct topo_spec tmp;
	yaml_node_t *root;
	int ret, n;

	if (!name)
		name = "<input>";
	if (!text) {
		text = "";
		len = 0;
	}
	topo_spec_default(&tmp);
	n = snprintf(tmp.source, sizeof(tmp.source), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(tmp.source))
		return err_set(e, -ENAMETOOLONG, "%.64s...: name too long",
			       name);
	ret = yamlmsg_load_one(text, len, name, &doc, e);
	if (ret)
		return ret;
	/* No document at all (empty, or only comments) or a null one ("---"
	 * alone, "~") means every default. */
	root = yaml_document_get_root_node(&doc);
	if (redact && (!root || yamlmsg_is_null(root)))
		ret = err_set(e, -EINVAL,
			      "%s:1: expected a mapping of topology keys like "
			      "\"vms: 16\", got nothing",
			      name);
	else if (root && !yamlmsg_is_null(root))
		ret = parse_topology(&doc, root, name, redact, &tmp, e);
	if (!ret)
		memcpy(spec, &tmp, sizeof(*spec));
	yaml_document_delete(&doc);
	return ret;
}

int topo_config_parse(const char *text, size_t len, const char *name,
		      struct topo_spec *spec, struct err *e)
{
	return parse_text(text, len, name, false, spec, e);
}

static int load(const char *path, bool redact, struct topo_spec *spec,
		struct err *e)
{
	size_t len;
	char *buf;
	int ret;

	ret = yamlmsg_read_file(path, CONFIG_MAX_BYTES, "a topology file", &buf,
				&len, e);
	if (ret)
		return ret;
	/* libyaml's own messages about bad bytes quote them. */
	if (redact)
		ret = yamlmsg_check_text(buf, len, path, "a topology file", e);
	if (!ret)
		ret = parse_text(buf, len, path, redact, spec, e);
	free(buf);
	return ret;
}

int topo_config_load(const char *path, struct topo_spec *spec, struct err *e)
{
	return load(path, false, spec, e);
}

int topo_config_load_redacted(const char *path, struct topo_spec *spec,
			      struct err *e)
{
	return load(path, true, spec, e);
}

/* Unit tests for topo/topo.c (defaults, range checks) and topo/config.c (the
 * topology YAML format): every accepted form, and every rejection with its
 * exact one-line message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "topo.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define GBIT UINT64_C(1000000000)
#define MBIT UINT64_C(1000000)
#define MS   UINT64_C(1000000)
#define SEC  UINT64_C(1000000000)

static int parse(const char *text, struct topo_spec *spec, struct err *e)
{
	return topo_config_parse(text, strlen(text), "x.yaml", spec, e);
}

/* A spec full of garbage, so that a field the parser forgot stands out and
 * an error path that wrote to the caller's spec is caught. */
static void poison(struct topo_spec *spec)
{
	memset(spec, 0xa5, sizeof(*spec));
}

static void assert_defaults_except_source(const struct topo_spec *s)
{
	assert_int_equal(s->vms, 16);
	assert_int_equal(s->rack_size, 64);
	assert_true(s->vm_rate_bps == GBIT);
	assert_true(s->registry_rate_bps == GBIT);
	assert_true(s->uplink_rate_bps == 0);
	assert_true(s->delay_ns == 0);
}

/* ---- topo.c ---- */

static void test_default(void **state)
{
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	poison(&s);
	topo_spec_default(&s);
	assert_string_equal(s.source, "built-in");
	assert_defaults_except_source(&s);
	assert_int_equal(topo_spec_check(&s, &e), 0);
	assert_string_equal(e.msg, "");
}

enum field { VMS, RACK_SIZE, VM_RATE, REGISTRY_RATE, UPLINK_RATE, DELAY };

struct check_case {
	enum field field;
	uint64_t value;
	const char *msg; /* NULL: valid */
};

static const struct check_case checks[] = {
	{VMS, 0, "vms: expected 1 to 4096 VMs, got 0"},
	{VMS, 1, NULL},
	{VMS, TOPO_MAX_VMS, NULL},
	{VMS, TOPO_MAX_VMS + 1, "vms: expected 1 to 4096 VMs, got 4097"},
	{VMS, 100000, "vms: expected 1 to 4096 VMs, got 100000"},
	{RACK_SIZE, 0, "rack_size: expected 1 to 1000 VMs per rack, got 0"},
	{RACK_SIZE, 1, NULL},
	{RACK_SIZE, TOPO_MAX_RACK_SIZE, NULL},
	{RACK_SIZE, TOPO_MAX_RACK_SIZE + 1,
	 "rack_size: expected 1 to 1000 VMs per rack, got 1001"},
	{VM_RATE, 0,
	 "vm_link.rate: expected a rate from 1kbit to 34gbit, got 0"},
	{VM_RATE, 999,
	 "vm_link.rate: expected a rate from 1kbit to 34gbit, got 999bit"},
	{VM_RATE, 1000, NULL},
	{VM_RATE, 34 * GBIT, NULL},
	{VM_RATE, 34 * GBIT + 1,
	 "vm_link.rate: expected a rate from 1kbit to 34gbit, got "
	 "34000000001bit"},
	{REGISTRY_RATE, 0,
	 "registry_link.rate: expected a rate from 1kbit to 34gbit, got 0"},
	{REGISTRY_RATE, 40 * GBIT,
	 "registry_link.rate: expected a rate from 1kbit to 34gbit, got "
	 "40gbit"},
	{UPLINK_RATE, 0, NULL}, /* unshaped */
	{UPLINK_RATE, 10 * GBIT, NULL},
	{UPLINK_RATE, 35 * GBIT,
	 "rack_uplink.rate: expected a rate from 1kbit to 34gbit, got 35gbit"},
	{DELAY, 60 * SEC, NULL},
	{DELAY, 61 * SEC, "delay: expected at most 60s, got 61s"},
	{DELAY, 60 * SEC + 1, "delay: expected at most 60s, got 60000000001ns"},
};

static void set_field(struct topo_spec *s, enum field f, uint64_t v)
{
	switch (f) {
	case VMS:
		s->vms = (unsigned)v;
		break;
	case RACK_SIZE:
		s->rack_size = (unsigned)v;
		break;
	case VM_RATE:
		s->vm_rate_bps = v;
		break;
	case REGISTRY_RATE:
		s->registry_rate_bps = v;
		break;
	case UPLINK_RATE:
		s->uplink_rate_bps = v;
		break;
	case DELAY:
		s->delay_ns = v;
		break;
	}
}

static void test_check(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(checks); i++) {
		struct topo_spec s;
		struct err e = {""};
		int ret;

		topo_spec_default(&s);
		set_field(&s, checks[i].field, checks[i].value);
		ret = topo_spec_check(&s, &e);
		if (!checks[i].msg) {
			if (ret)
				fail_msg("case %zu: unexpected %d: %s", i, ret,
					 e.msg);
			continue;
		}
		if (ret != -EINVAL || strcmp(e.msg, checks[i].msg))
			fail_msg("case %zu: got %d \"%s\", expected \"%s\"", i,
				 ret, e.msg, checks[i].msg);
	}
}

static void test_check_null_err(void **state)
{
	struct topo_spec s;

	(void)state;
	topo_spec_default(&s);
	s.vms = 0;
	assert_int_equal(topo_spec_check(&s, NULL), -EINVAL);
}

/* ---- config.c: accepted files ---- */

static void test_full_file(void **state)
{
	static const char text[] = "# a rack of ten\n"
				   "vms: 100\n"
				   "rack_size: 10\n"
				   "vm_link: { rate: 2.5gbit }\n"
				   "registry_link:\n"
				   "  rate: 10gbit\n"
				   "rack_uplink: {rate: 20GBit}\n"
				   "delay: 1.5ms\n";
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	poison(&s);
	assert_int_equal(parse(text, &s, &e), 0);
	assert_string_equal(s.source, "x.yaml");
	assert_int_equal(s.vms, 100);
	assert_int_equal(s.rack_size, 10);
	assert_true(s.vm_rate_bps == 2500 * MBIT);
	assert_true(s.registry_rate_bps == 10 * GBIT);
	assert_true(s.uplink_rate_bps == 20 * GBIT);
	assert_true(s.delay_ns == 1500000);
}

/* The example in config.h's comment is a valid file. */
static void test_header_example(void **state)
{
	static const char text[] =
		"vms: 16              # number of VM hosts\n"
		"rack_size: 64        # VMs per rack bridge\n"
		"vm_link:       { rate: 1gbit }\n"
		"registry_link: { rate: 1gbit }\n"
		"rack_uplink:   { rate: 10gbit }   # omitted: unshaped\n"
		"delay: 0ms           # one-way, on every VM link (needs "
		"netem)\n";
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	assert_int_equal(parse(text, &s, &e), 0);
	assert_true(s.uplink_rate_bps == 10 * GBIT);
	assert_int_equal(s.vms, 16);
}

static void test_partial_keeps_defaults(void **state)
{
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	poison(&s);
	assert_int_equal(parse("vms: 1000\n", &s, &e), 0);
	assert_int_equal(s.vms, 1000);
	assert_int_equal(s.rack_size, 64);
	assert_true(s.vm_rate_bps == GBIT);
	assert_true(s.uplink_rate_bps == 0);

	poison(&s);
	assert_int_equal(parse("delay: 0\n", &s, &e), 0);
	assert_int_equal(s.vms, 16);
	assert_true(s.delay_ns == 0);
}

/* An empty document is the built-in topology, named after the file. */
static void test_empty_is_defaults(void **state)
{
	static const char *const texts[] = {
		"",    "\n\n",	 "# nothing here\n", "---\n", "--- # x\n...\n",
		"~\n", "null\n", "---\n~\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		struct topo_spec s;
		struct err e = {""};
		int ret;

		poison(&s);
		ret = parse(texts[i], &s, &e);
		if (ret)
			fail_msg("\"%s\": %d %s", texts[i], ret, e.msg);
		assert_defaults_except_source(&s);
		assert_string_equal(s.source, "x.yaml");
	}
}

static void test_null_text_and_name(void **state)
{
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	assert_int_equal(topo_config_parse(NULL, 0, "n.yaml", &s, &e), 0);
	assert_defaults_except_source(&s);
	assert_int_equal(topo_config_parse("vms: x", 6, NULL, &s, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "<input>:1: vms: expected a whole number like 16, "
			    "got \"x\"");
}

/* Only len bytes are read: the text need not be NUL-terminated. */
static void test_len_bounds_text(void **state)
{
	static const char text[] = "vms: 12junk";
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	assert_int_equal(topo_config_parse(text, 7, "x.yaml", &s, &e), 0);
	assert_int_equal(s.vms, 12);
}

static void test_quoted_and_aliased(void **state)
{
	static const char text[] = "vms: \"32\"\n"
				   "rack_size: '8'\n"
				   "vm_link: &link { rate: \"100mbit\" }\n"
				   "registry_link: *link\n"
				   "delay: !!str 5ms\n";
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	assert_int_equal(parse(text, &s, &e), 0);
	assert_int_equal(s.vms, 32);
	assert_int_equal(s.rack_size, 8);
	assert_true(s.vm_rate_bps == 100 * MBIT);
	assert_true(s.registry_rate_bps == 100 * MBIT);
	assert_true(s.delay_ns == 5 * MS);
}

static void test_limits_accepted(void **state)
{
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	assert_int_equal(parse("vms: 4096\nrack_size: 1000\n"
			       "vm_link: {rate: 34gbit}\ndelay: 1m\n",
			       &s, &e),
			 0);
	assert_int_equal(s.vms, 4096);
	assert_int_equal(s.rack_size, 1000);
	assert_true(s.vm_rate_bps == 34 * GBIT);
	assert_true(s.delay_ns == 60 * SEC);

	assert_int_equal(parse("vms: 1\nrack_size: 1\n", &s, &e), 0);
	assert_int_equal(s.vms, 1);
	assert_int_equal(s.rack_size, 1);
}

/* ---- config.c: rejections ---- */

struct bad_case {
	const char *text;
	const char *msg; /* the whole message, exactly */
};

static const struct bad_case bad[] = {
	/* unknown keys, named, with the valid ones listed */
	{"vms: 16\nvm_count: 4\n",
	 "x.yaml:2: unknown key 'vm_count'; valid keys: vms, rack_size, "
	 "vm_link, registry_link, rack_uplink, delay"},
	{"VMS: 16\n",
	 "x.yaml:1: unknown key 'VMS'; valid keys: vms, rack_size, vm_link, "
	 "registry_link, rack_uplink, delay"},
	{"vm_link:\n  rate: 1gbit\n  burst: 10KB\n",
	 "x.yaml:3: vm_link: unknown key 'burst'; valid keys: rate"},
	{"\"\": 1\n",
	 "x.yaml:1: unknown key ''; valid keys: vms, rack_size, vm_link, "
	 "registry_link, rack_uplink, delay"},
	{"\"v\\nms\": 1\n",
	 "x.yaml:1: unknown key 'v\\nms'; valid keys: vms, rack_size, "
	 "vm_link, registry_link, rack_uplink, delay"},
	{"<<: {vms: 1}\n",
	 "x.yaml:1: unknown key '<<'; valid keys: vms, rack_size, vm_link, "
	 "registry_link, rack_uplink, delay"},

	/* duplicate keys, which libyaml lets through */
	{"# c\n\nvms: 16\nrack_size: 8\nvms: 32\n",
	 "x.yaml:5: duplicate key 'vms' (first at line 3)"},
	{"vm_link: {rate: 1gbit, rate: 2gbit}\n",
	 "x.yaml:1: duplicate key 'vm_link.rate' (first at line 1)"},
	{"vm_link:\n  rate: 1gbit\nvm_link:\n  rate: 2gbit\n",
	 "x.yaml:3: duplicate key 'vm_link' (first at line 1)"},
	{"delay: 1ms\ndelay: bogus\n",
	 "x.yaml:2: duplicate key 'delay' (first at line 1)"},

	/* wrong node types */
	{"vms: [1, 2]\n",
	 "x.yaml:1: vms: expected a whole number like 16, got a sequence"},
	{"vms: {n: 1}\n",
	 "x.yaml:1: vms: expected a whole number like 16, got a mapping"},
	{"vms:\n",
	 "x.yaml:1: vms: expected a whole number like 16, got an empty value"},
	{"rack_size:\n  - 1\n",
	 "x.yaml:2: rack_size: expected a whole number like 64, got a "
	 "sequence"},
	{"vm_link: 1gbit\n",
	 "x.yaml:1: vm_link: expected a mapping like { rate: 1gbit }, got "
	 "\"1gbit\""},
	{"registry_link: [1gbit]\n",
	 "x.yaml:1: registry_link: expected a mapping like { rate: 1gbit }, "
	 "got a sequence"},
	{"rack_uplink:\n",
	 "x.yaml:1: rack_uplink: expected a mapping like { rate: 1gbit }, "
	 "got an empty value"},
	{"vm_link: {rate: [1gbit]}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got a "
	 "sequence"},
	{"delay: {ms: 1}\n",
	 "x.yaml:1: delay: expected a duration like 10ms, got a mapping"},
	{"? [a]\n: 1\n", "x.yaml:1: expected a key name, got a sequence"},
	{"vm_link: {? {a: 1} : 1}\n",
	 "x.yaml:1: vm_link: expected a key name, got a mapping"},

	/* a link needs its rate */
	{"vm_link: {}\n", "x.yaml:1: vm_link: missing key 'rate'"},

	/* the top level must be a mapping */
	{"- vms: 16\n",
	 "x.yaml:1: expected a mapping of topology keys like \"vms: 16\", got "
	 "a sequence"},
	{"hello\n",
	 "x.yaml:1: expected a mapping of topology keys like \"vms: 16\", got "
	 "\"hello\""},
	{"\n\n\"\"\n",
	 "x.yaml:3: expected a mapping of topology keys like \"vms: 16\", got "
	 "\"\""},

	/* integers with junk, signs, other bases */
	{"vms: 16x\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"16x\""},
	{"vms: -1\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"-1\""},
	{"vms: +16\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"+16\""},
	{"vms: 16.0\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"16.0\""},
	{"vms: 1e3\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"1e3\""},
	{"vms: 0x10\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"0x10\""},
	{"vms: 016\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"016\""},
	{"vms: \" 16\"\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \" 16\""},
	{"vms: \"16\\0\"\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"16\\x00\""},
	{"vms: 1_000\n",
	 "x.yaml:1: vms: expected a whole number like 16, got \"1_000\""},
	{"vms: 99999999999\n",
	 "x.yaml:1: vms: expected a whole number like 16, got "
	 "\"99999999999\" (too large)"},
	{"rack_size: ten\n",
	 "x.yaml:1: rack_size: expected a whole number like 64, got \"ten\""},
	{"vms:\n  16x\n",
	 "x.yaml:2: vms: expected a whole number like 16, got \"16x\""},

	/* ranges, from topo_spec_check, at the line of the key */
	{"vms: 0\n", "x.yaml:1: vms: expected 1 to 4096 VMs, got 0"},
	{"# big\nvms: 100000\n",
	 "x.yaml:2: vms: expected 1 to 4096 VMs, got 100000"},
	{"vms:\n  100000\n",
	 "x.yaml:1: vms: expected 1 to 4096 VMs, got 100000"},
	{"vms: 4097\n", "x.yaml:1: vms: expected 1 to 4096 VMs, got 4097"},
	{"vms: 16\nrack_size: 0\n",
	 "x.yaml:2: rack_size: expected 1 to 1000 VMs per rack, got 0"},
	{"rack_size: 1023\n",
	 "x.yaml:1: rack_size: expected 1 to 1000 VMs per rack, got 1023"},
	{"vms: 8\nvm_link:\n  rate: 40gbit\n",
	 "x.yaml:3: vm_link.rate: expected a rate from 1kbit to 34gbit, got "
	 "40gbit"},
	{"registry_link: {rate: 1tbit}\n",
	 "x.yaml:1: registry_link.rate: expected a rate from 1kbit to 34gbit, "
	 "got 1tbit"},
	{"rack_uplink: {rate: 100gbit}\n",
	 "x.yaml:1: rack_uplink.rate: expected a rate from 1kbit to 34gbit, "
	 "got 100gbit"},
	{"delay: 2m\n", "x.yaml:1: delay: expected at most 60s, got 120s"},

	/* bad units */
	{"vm_link: {rate: fast}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got \"fast\""},
	{"vm_link:\n  rate: 1000\n",
	 "x.yaml:2: vm_link.rate: expected a rate like 100mbit, got \"1000\""},
	{"vm_link: {rate: 1 gbit}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got "
	 "\"1 gbit\""},
	{"vm_link: {rate: 0gbit}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got "
	 "\"0gbit\""},
	{"rack_uplink: {rate: 0}\n",
	 "x.yaml:1: rack_uplink.rate: expected a rate like 10gbit, got "
	 "\"0\""},
	{"vm_link: {rate: -1gbit}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got "
	 "\"-1gbit\""},
	{"vm_link: {rate: 100mbps}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got "
	 "\"100mbps\" (bytes per second are not accepted: write bits, e.g. "
	 "800mbit for 100MB/s)"},
	{"registry_link: {rate: 1MBps}\n",
	 "x.yaml:1: registry_link.rate: expected a rate like 100mbit, got "
	 "\"1MBps\" (bytes per second are not accepted: write bits, e.g. "
	 "800mbit for 100MB/s)"},
	{"vm_link: {rate: 99999999999tbit}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got "
	 "\"99999999999tbit\" (too large)"},
	{"delay: 10\n",
	 "x.yaml:1: delay: expected a duration like 10ms, got \"10\""},
	{"delay: 10 ms\n",
	 "x.yaml:1: delay: expected a duration like 10ms, got \"10 ms\""},
	{"delay: 10MS\n",
	 "x.yaml:1: delay: expected a duration like 10ms, got \"10MS\""},
	{"delay: -5ms\n",
	 "x.yaml:1: delay: expected a duration like 10ms, got \"-5ms\""},
	{"delay: 9999999h\n",
	 "x.yaml:1: delay: expected a duration like 10ms, got \"9999999h\" "
	 "(too large)"},

	/* values are quoted back on one line, escaped and cut */
	{"vm_link: {rate: \"fa\\nst\"}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got "
	 "\"fa\\nst\""},
	{"vm_link: {rate: \"1\\u00a0gbit\"}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got "
	 "\"1\\xc2\\xa0gbit\""},
	{"vm_link: {rate: 'say \"hi\"\\'}\n",
	 "x.yaml:1: vm_link.rate: expected a rate like 100mbit, got "
	 "\"say \\\"hi\\\"\\\\\""},
	{"vm_link:\n  rate: |\n    1gbit\n    2gbit\n",
	 "x.yaml:2: vm_link.rate: expected a rate like 100mbit, got "
	 "\"1gbit\\n2gbit\\n\""},
	{"delay: "
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	 "x.yaml:1: delay: expected a duration like 10ms, got "
	 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\""},

	/* more than one document */
	{"vms: 1\n---\nvms: 2\n",
	 "x.yaml:2: expected one YAML document, got another"},
	{"vms: 1\n---\n", "x.yaml:2: expected one YAML document, got another"},
};

static void test_rejections(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct topo_spec s, before;
		struct err e = {""};
		int ret;

		poison(&s);
		memcpy(&before, &s, sizeof(s));
		ret = parse(bad[i].text, &s, &e);
		if (ret != -EINVAL)
			fail_msg("case %zu: returned %d for \"%s\"", i, ret,
				 bad[i].text);
		if (strcmp(e.msg, bad[i].msg))
			fail_msg("case %zu:\n  got      %s\n  expected %s", i,
				 e.msg, bad[i].msg);
		/* one line, and the caller's spec untouched */
		assert_null(strchr(e.msg, '\n'));
		assert_memory_equal(&s, &before, sizeof(s));
	}
}

/* libyaml's own errors: the message gives file:line and libyaml's words;
 * the exact wording is libyaml's, so only its shape is pinned here. */
static const struct {
	const char *text;
	const char *prefix;
	const char *contains;
} syntax[] = {
	{"vms: 16\n  bad: [\n",
	 "x.yaml:2: invalid YAML: ", "mapping values are not allowed"},
	{"vms: 1\nfoo: [1, 2\n", "x.yaml:3: invalid YAML: ",
	 "(while parsing a flow sequence at line 2)"},
	{"vms: 1\n\tfoo: 2\n", "x.yaml:2: invalid YAML: ", "tab"},
	{"vms: *nope\n", "x.yaml:1: invalid YAML: ", "undefined alias"},
	{"vms: \"16\n", "x.yaml:2: invalid YAML: ", "quoted scalar"},
	{"vms: 1\n---\nfoo: [\n", "x.yaml:4: invalid YAML: ", ""},
	/* the reader knows no line, only an offset */
	{"vms: \xff\n", "x.yaml: invalid YAML: ", "(byte 0xff at offset 5)"},
	{"vms: \x01\n",
	 "x.yaml: invalid YAML: ", "control characters are not allowed"},
};

static void test_syntax_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(syntax); i++) {
		struct topo_spec s;
		struct err e = {""};
		int ret;

		ret = parse(syntax[i].text, &s, &e);
		if (ret != -EINVAL ||
		    strncmp(e.msg, syntax[i].prefix,
			    strlen(syntax[i].prefix)) ||
		    !strstr(e.msg, syntax[i].contains))
			fail_msg("case %zu: %d \"%s\"", i, ret, e.msg);
		assert_null(strchr(e.msg, '\n'));
	}
}

static void test_null_err(void **state)
{
	struct topo_spec s;

	(void)state;
	assert_int_equal(topo_config_parse("vms: x", 6, "x.yaml", &s, NULL),
			 -EINVAL);
	assert_int_equal(topo_config_parse("vms: [", 6, "x.yaml", &s, NULL),
			 -EINVAL);
	assert_int_equal(topo_config_parse("vms: 0", 6, "x.yaml", &s, NULL),
			 -EINVAL);
}

static void test_name_too_long(void **state)
{
	char name[PATH_MAX + 8];
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(topo_config_parse("", 0, name, &s, &e), -ENAMETOOLONG);
	assert_non_null(strstr(e.msg, "name too long"));
}

/* ---- config.c: files ---- */

static char *write_temp(const char *text, size_t len)
{
	char *path = strdup("/tmp/test_topo_config.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_load_file(void **state)
{
	static const char text[] = "vms: 64\nrack_size: 32\n"
				   "vm_link: {rate: 100mbit}\n";
	struct topo_spec s;
	struct err e = {""};
	char *path = write_temp(text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(topo_config_load(path, &s, &e), 0);
	assert_string_equal(s.source, path);
	assert_int_equal(s.vms, 64);
	assert_int_equal(s.rack_size, 32);
	assert_true(s.vm_rate_bps == 100 * MBIT);
	unlink(path);
	free(path);
}

static void test_load_error_names_path(void **state)
{
	static const char text[] = "vms: 16\nvms: 17\n";
	char want[256];
	struct topo_spec s;
	struct err e = {""};
	char *path = write_temp(text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(topo_config_load(path, &s, &e), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: duplicate key 'vms' (first at line 1)", path);
	assert_string_equal(e.msg, want);
	unlink(path);
	free(path);
}

static void test_load_missing(void **state)
{
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	assert_int_equal(topo_config_load("/nonexistent/topo.yaml", &s, &e),
			 -ENOENT);
	assert_string_equal(
		e.msg, "/nonexistent/topo.yaml: No such file or directory");
}

static void test_load_directory(void **state)
{
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	assert_int_equal(topo_config_load("/", &s, &e), -EISDIR);
	assert_string_equal(e.msg, "/: expected a topology file (a regular "
				   "file), got a folder");
	/* a device is refused before it is read: /dev/zero never ends */
	assert_int_equal(topo_config_load("/dev/zero", &s, &e), -EINVAL);
	assert_string_equal(e.msg, "/dev/zero: expected a topology file (a "
				   "regular file), got a device");
}

static void test_load_too_large(void **state)
{
	size_t len = 64 * 1024 + 1;
	char *text = malloc(len), *path;
	struct topo_spec s;
	struct err e = {""};

	(void)state;
	assert_non_null(text);
	memset(text, '\n', len);
	path = write_temp(text, len);
	assert_int_equal(topo_config_load(path, &s, &e), -EFBIG);
	assert_non_null(strstr(e.msg, "too large for a topology file"));

	/* exactly the limit is fine (and all blank: defaults) */
	unlink(path);
	free(path);
	path = write_temp(text, len - 1);
	assert_int_equal(topo_config_load(path, &s, &e), 0);
	assert_int_equal(s.vms, 16);
	unlink(path);
	free(path);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_null_err),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_header_example),
		cmocka_unit_test(test_partial_keeps_defaults),
		cmocka_unit_test(test_empty_is_defaults),
		cmocka_unit_test(test_null_text_and_name),
		cmocka_unit_test(test_len_bounds_text),
		cmocka_unit_test(test_quoted_and_aliased),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_null_err),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_error_names_path),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_load_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

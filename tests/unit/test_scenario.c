/* Unit tests for testbed/scenario.c (the scenario file format,
 * docs/scenario-format.md): every key and default, every rejection with its
 * exact one-line message, the workload expanded into a schedule (at steps,
 * ramps, traces, the sweep, the cap) and scaling. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockimg.h"
#include "scenario.h"
#include "strategy.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define GBIT UINT64_C(1000000000)
#define MBIT UINT64_C(1000000)
#define MS   UINT64_C(1000000)
#define SEC  UINT64_C(1000000000)

/* What follows an images: line so that an error in images is the first. */
#define TAIL                                                                   \
	"functions: [{ name: f1, image: py }]\n"                               \
	"workload: [{ at: 0s, invoke: f1 }]\n"

/* Lines 1-7 of most cases: a valid scenario that an error case extends. */
#define BASE                                                                   \
	"name: t\n"                                                            \
	"images:\n"                                                            \
	"  - { name: py, size: 758MB }\n"                                      \
	"functions:\n"                                                         \
	"  - { name: f1, image: py }\n"                                        \
	"workload:\n"                                                          \
	"  - { at: 0s, invoke: f1, containers: 16 }\n"

static int parse(const char *text, struct scenario *s, struct err *e)
{
	return scenario_parse(text, strlen(text), "x.yaml", s, e);
}

/* A scenario full of garbage, so that an error path that wrote to the
 * caller's struct stands out. */
static void poison(struct scenario *s)
{
	memset(s, 0xa5, sizeof(*s));
}

static bool is_poisoned(const struct scenario *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < sizeof(*s); i++)
		if (p[i] != 0xa5)
			return false;
	return true;
}

/* ---- temp folders ---- */

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *make_dir(void)
{
	char *dir = strdup("/tmp/test_scenario.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_dir(char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(dir);
}

/* Writes dir/rel (making one level of folder when rel has one) and returns
 * the full path in out. */
static void write_file(const char *dir, const char *rel, const char *text,
		       char *out, size_t len)
{
	const char *slash = strchr(rel, '/');
	char sub[PATH_MAX];
	FILE *f;

	if (slash) {
		snprintf(sub, sizeof(sub), "%s/%.*s", dir, (int)(slash - rel),
			 rel);
		assert_true(mkdir(sub, 0700) == 0 || errno == EEXIST);
	}
	assert_true((size_t)snprintf(out, len, "%s/%s", dir, rel) < len);
	f = fopen(out, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Case i of a table gave message got; fails showing both unless want. */
static void expect_msg(size_t i, const char *got, const char *want)
{
	if (strcmp(got, want))
		fail_msg("case %zu\n  got:  %s\n  want: %s", i, got, want);
}

/* ---- a full file, defaults ---- */

static const char full[] =
	"# every key\n"					      /* 1 */
	"name: fig14-mini\n"				      /* 2 */
	"description: \"0 to N containers\"\n"		      /* 3 */
	"paper: 'Fig. 14: FaaSNet 6.2 s at 128'\n"	      /* 4 */
	"topology:\n"					      /* 5 */
	"  vms: 32\n"					      /* 6 */
	"  rack_size: 8\n"				      /* 7 */
	"  vm_link: { rate: 1gbit }\n"			      /* 8 */
	"  registry_link: { rate: 2gbit }\n"		      /* 9 */
	"  rack_uplink: { rate: 10gbit }\n"		      /* 10 */
	"  delay: 500us\n"				      /* 11 */
	"scale: 0.05\n"					      /* 12 */
	"images:\n"					      /* 13 */
	"  - name: py\n"				      /* 14 */
	"    size: 758MB\n"				      /* 15 */
	"    block_size: 1MiB\n"			      /* 16 */
	"    startup_fraction: 0.25\n"			      /* 17 */
	"    seed: 42\n"				      /* 18 */
	"  - { name: real, layout: images/real }\n"	      /* 19 */
	"functions:\n"					      /* 20 */
	"  - { name: f1, image: py }\n"			      /* 21 */
	"  - { name: f2, image: real }\n"		      /* 22 */
	"workload:\n"					      /* 23 */
	"  - { at: 1.5s, invoke: f2, containers: 3 }\n"	      /* 24 */
	"  - { from: 10s, to: 20s, invoke: f1, rate: 2.5 }\n" /* 25 */
	"  - { trace: traces/iot.csv }\n"		      /* 26 */
	"  - { at: 0s, invoke: f1 }\n"			      /* 27 */
	"strategies: [ondemand, faasnet]\n"		      /* 28 */
	"repetitions: 3\n"				      /* 29 */
	"timeout: 2m\n"					      /* 30 */
	"sweep: { containers: [8, 16, 128] }\n"		      /* 31 */
	"seed: 7\n";					      /* 32 */

static void test_full_file(void **state)
{
	char *dir = make_dir();
	char name[PATH_MAX], csv[PATH_MAX];
	struct scenario s;
	struct err e = {""};

	(void)state;
	/* The parse reads the trace, beside the file it names. */
	write_file(dir, "traces/iot.csv", "time,function\n0s,f1\n1s,f2\n", csv,
		   sizeof(csv));
	snprintf(name, sizeof(name), "%s/x.yaml", dir);
	poison(&s);
	assert_int_equal(scenario_parse(full, strlen(full), name, &s, &e), 0);
	assert_string_equal(e.msg, "");
	assert_string_equal(s.name, "fig14-mini");
	assert_string_equal(s.source, name);
	assert_string_equal(s.description, "0 to N containers");
	assert_string_equal(s.paper, "Fig. 14: FaaSNet 6.2 s at 128");

	assert_string_equal(s.topo.source, name);
	assert_int_equal(s.topo.vms, 32);
	assert_int_equal(s.topo.rack_size, 8);
	assert_true(s.topo.vm_rate_bps == GBIT);
	assert_true(s.topo.registry_rate_bps == 2 * GBIT);
	assert_true(s.topo.uplink_rate_bps == 10 * GBIT);
	assert_true(s.topo.delay_ns == 500000);
	assert_int_equal(s.topo.delay_line, 11);
	assert_true(s.scale == 0.05);

	assert_int_equal(s.nimages, 2);
	assert_string_equal(s.images[0].name, "py");
	assert_true(s.images[0].size == 758000000);
	assert_int_equal(s.images[0].block_size, 1 << 20);
	assert_true(s.images[0].startup_fraction == 0.25);
	assert_true(s.images[0].seed == 42);
	assert_string_equal(s.images[0].layout, "");
	assert_int_equal(s.images[0].line, 14);
	assert_string_equal(s.images[1].name, "real");
	assert_true(s.images[1].size == 0);
	assert_string_equal(s.images[1].layout, "images/real");
	assert_int_equal(s.images[1].block_size, 512 << 10);
	assert_int_equal(s.images[1].line, 19);

	assert_int_equal(s.nfunctions, 2);
	assert_string_equal(s.functions[0].name, "f1");
	assert_int_equal(s.functions[0].image, 0);
	assert_int_equal(s.functions[0].line, 21);
	assert_string_equal(s.functions[1].name, "f2");
	assert_int_equal(s.functions[1].image, 1);
	assert_int_equal(s.functions[1].line, 22);

	assert_int_equal(s.nsteps, 4);
	assert_int_equal(s.steps[0].kind, SCENARIO_STEP_AT);
	assert_true(s.steps[0].at_ns == 1500 * MS);
	assert_int_equal(s.steps[0].function, 1);
	assert_int_equal(s.steps[0].containers, 3);
	assert_int_equal(s.steps[0].line, 24);
	assert_int_equal(s.steps[1].kind, SCENARIO_STEP_RAMP);
	assert_true(s.steps[1].at_ns == 10 * SEC);
	assert_true(s.steps[1].until_ns == 20 * SEC);
	assert_true(s.steps[1].rate == 2.5);
	assert_int_equal(s.steps[1].function, 0);
	assert_int_equal(s.steps[1].containers, 1);
	assert_int_equal(s.steps[1].line, 25);
	assert_int_equal(s.steps[2].kind, SCENARIO_STEP_TRACE);
	assert_string_equal(s.steps[2].trace, "traces/iot.csv");
	assert_int_equal(s.steps[2].line, 26);
	assert_int_equal(s.steps[2].ninv, 2);
	assert_int_equal(s.steps[2].inv[1].function, 1);
	assert_int_equal(s.steps[3].kind, SCENARIO_STEP_AT);
	assert_true(s.steps[3].at_ns == 0);
	assert_int_equal(s.steps[3].containers, 1); /* the default */

	assert_int_equal(s.nstrategies, 2);
	assert_int_equal(s.strategies[0], strategy_find("ondemand"));
	assert_int_equal(s.strategies[1], strategy_find("faasnet"));
	assert_int_equal(s.repetitions, 3);
	assert_int_equal(s.seed, 7);
	assert_true(s.timeout_ns == 120 * SEC);
	assert_string_equal(s.sweep_param, "containers");
	assert_int_equal(s.nsweep, 3);
	assert_int_equal(s.sweep[0], 8);
	assert_int_equal(s.sweep[1], 16);
	assert_int_equal(s.sweep[2], 128);
	scenario_free(&s);
	assert_null(s.functions);
	assert_null(s.steps);
	scenario_free(&s); /* twice is harmless */
	remove_dir(dir);
}

static void test_defaults(void **state)
{
	struct scenario s;
	struct err e = {""};

	(void)state;
	poison(&s);
	assert_int_equal(parse(BASE, &s, &e), 0);
	assert_string_equal(s.description, "");
	assert_string_equal(s.paper, "");
	/* the built-in topology */
	assert_string_equal(s.topo.source, "built-in");
	assert_int_equal(s.topo.vms, 16);
	assert_int_equal(s.topo.rack_size, 64);
	assert_true(s.topo.vm_rate_bps == GBIT);
	assert_true(s.topo.uplink_rate_bps == 0);
	assert_true(s.scale == 1);
	assert_true(s.dilation == 1);
	assert_int_equal(s.images[0].block_size, 512 << 10);
	assert_true(s.images[0].startup_fraction == 0.16);
	assert_true(s.images[0].seed == 1);
	/* every strategy of the table, in its order */
	assert_int_equal(s.nstrategies, 5);
	assert_int_equal(s.strategies[0], strategy_find("faasnet"));
	assert_int_equal(s.strategies[1], strategy_find("ondemand"));
	assert_int_equal(s.strategies[2], strategy_find("registry"));
	assert_int_equal(s.strategies[3], strategy_find("bittorrent"));
	assert_int_equal(s.strategies[4], strategy_find("dadi"));
	assert_int_equal(s.repetitions, 1);
	assert_int_equal(s.seed, 1);
	assert_true(s.timeout_ns == 300 * SEC);
	assert_string_equal(s.sweep_param, "");
	assert_int_equal(s.nsweep, 0);
	assert_true(s.functions[0].runtime_start_ns == 0);
	scenario_free(&s);
}

/* A function's runtime start: a duration, 0 to 10 minutes. */
static void test_runtime_start(void **state)
{
	static const char text[] =
		"name: t\n"
		"images: [{ name: py, size: 1MB }]\n"
		"functions:\n"
		"  - { name: f1, image: py, runtime_start: 1.5s }\n"
		"  - { name: f2, image: py, runtime_start: 0s }\n"
		"  - { name: f3, image: py, runtime_start: 10m }\n"
		"  - { name: f4, image: py }\n"
		"workload: [{ at: 0s, invoke: f1 }]\n";
	struct scenario s;
	struct err e = {""};

	(void)state;
	assert_int_equal(parse(text, &s, &e), 0);
	assert_true(s.functions[0].runtime_start_ns == 1500 * SEC / 1000);
	assert_true(s.functions[1].runtime_start_ns == 0);
	assert_true(s.functions[2].runtime_start_ns == 600 * SEC);
	assert_true(s.functions[3].runtime_start_ns == 0);
	scenario_free(&s);
}

/* Keys in any order: a function may name an image written below it. */
static void test_any_order(void **state)
{
	static const char text[] = "workload: [{ at: 0s, invoke: f1 }]\n"
				   "functions: [{ name: f1, image: py }]\n"
				   "images: [{ name: py, size: 1MB }]\n"
				   "name: t\n";
	struct scenario s;
	struct err e = {""};

	(void)state;
	assert_int_equal(parse(text, &s, &e), 0);
	assert_int_equal(s.functions[0].image, 0);
	assert_int_equal(s.steps[0].function, 0);
	scenario_free(&s);
}

static void test_limits_accepted(void **state)
{
	static const char text[] =
		"name: a.b_c-9\n"
		"scale: 1\n"
		"repetitions: 100\n"
		"seed: 4294967295\n"
		"timeout: 24h\n"
		"images:\n"
		"  - { name: py, size: 1B, block_size: 4KiB, "
		"startup_fraction: 0 }\n"
		"  - { name: js, size: 100GB, block_size: 2MiB, "
		"startup_fraction: 1, seed: 18446744073709551615 }\n"
		"functions: [{ name: f1, image: js }]\n"
		"workload:\n"
		"  - { at: 24h, invoke: f1, containers: 100000 }\n"
		"  - { from: 0s, to: 1ms, invoke: f1, rate: 100000 }\n"
		"sweep: { containers: [1, 100000] }\n";
	struct scenario s;
	struct err e = {""};

	(void)state;
	assert_int_equal(parse(text, &s, &e), 0);
	assert_true(s.images[0].size == 1);
	assert_true(s.images[1].seed == UINT64_MAX);
	assert_true(s.seed == UINT32_MAX);
	assert_true(s.images[1].startup_fraction == 1);
	assert_true(s.timeout_ns == 24 * 3600 * SEC);
	assert_int_equal(s.steps[0].containers, 100000);
	assert_int_equal(s.sweep[1], 100000);
	scenario_free(&s);
}

/* startup_compute: a synthetic image's start-up trace, a duration up to
 * a minute; a layout's trace is recorded, so the key is refused there. */
static void test_startup_compute(void **state)
{
	static const char head[] = "name: t\nimages:\n";
	static const char tail[] =
		"functions:\n"
		"  - { name: f1, image: py }\n"
		"workload:\n"
		"  - { at: 0s, invoke: f1, containers: 1 }\n";
	struct scenario s;
	struct err e = {""};
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), "%s%s%s", head,
		 "  - { name: py, size: 758MB, startup_compute: 1.5s }\n",
		 tail);
	assert_int_equal(parse(text, &s, &e), 0);
	assert_true(s.images[0].startup_compute_ns == 1500000000ull);
	scenario_free(&s);
	assert_int_equal(parse(BASE, &s, &e), 0);
	assert_true(s.images[0].startup_compute_ns == 0);
	scenario_free(&s);
	snprintf(text, sizeof(text), "%s%s%s", head,
		 "  - { name: py, size: 758MB, startup_compute: 61s }\n", tail);
	assert_int_equal(parse(text, &s, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "x.yaml:3:"));
	assert_non_null(strstr(e.msg, "up to 60s"));
	snprintf(text, sizeof(text), "%s%s%s", head,
		 "  - { name: py, layout: img,\n"
		 "      startup_compute: 1s }\n",
		 tail);
	assert_int_equal(parse(text, &s, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "x.yaml:4:"));
	assert_non_null(strstr(e.msg, "faasnet-image trace"));
}

static void test_dilation(void **state)
{
	struct scenario s;
	struct err e = {""};

	(void)state;
	assert_int_equal(parse(BASE "dilation: 2.5\n", &s, &e), 0);
	assert_true(s.dilation == 2.5);
	scenario_free(&s);
	assert_int_equal(parse(BASE "dilation: 100\n", &s, &e), 0);
	assert_true(s.dilation == 100);
	scenario_free(&s);
	assert_int_equal(parse(BASE "dilation: auto\n", &s, &e), 0);
	assert_true(s.dilation == 0);
	scenario_free(&s);
}

/* ---- topology from a file ---- */

static void test_topology_path(void **state)
{
	char *dir = make_dir();
	char topo[PATH_MAX], path[PATH_MAX], text[PATH_MAX + 256];
	struct scenario s;
	struct err e = {""};

	(void)state;
	write_file(dir, "topo/small.yaml",
		   "vms: 8\nrack_size: 4\nvm_link: { rate: 100mbit }\n", topo,
		   sizeof(topo));
	/* relative to the scenario's folder, not the working one */
	write_file(dir, "s.yaml", BASE "topology: topo/small.yaml\n", path,
		   sizeof(path));
	assert_int_equal(scenario_load(path, &s, &e), 0);
	assert_string_equal(s.source, path);
	assert_string_equal(s.topo.source, topo);
	assert_int_equal(s.topo.vms, 8);
	assert_int_equal(s.topo.rack_size, 4);
	assert_true(s.topo.vm_rate_bps == 100 * MBIT);
	assert_true(s.topo.registry_rate_bps == GBIT);
	scenario_free(&s);

	/* an absolute path is taken as it is */
	snprintf(text, sizeof(text), BASE "topology: %s\n", topo);
	write_file(dir, "abs.yaml", text, path, sizeof(path));
	assert_int_equal(scenario_load(path, &s, &e), 0);
	assert_int_equal(s.topo.vms, 8);
	assert_string_equal(s.topo.source, topo);
	scenario_free(&s);
	remove_dir(dir);
}

static void test_topology_path_errors(void **state)
{
	char *dir = make_dir();
	char topo[PATH_MAX], path[PATH_MAX], want[PATH_MAX * 2 + 128];
	struct scenario s;
	struct err e = {""};

	(void)state;
	/* an error inside the topology file names that file and line */
	write_file(dir, "topo/bad.yaml", "vms: 8\nrack_size: 0\n", topo,
		   sizeof(topo));
	write_file(dir, "s.yaml", BASE "topology: topo/bad.yaml\n", path,
		   sizeof(path));
	poison(&s);
	assert_int_equal(scenario_load(path, &s, &e), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: rack_size: expected 1 to 1000 VMs per rack", topo);
	assert_string_equal(e.msg, want);
	assert_true(is_poisoned(&s));

	/* a missing one is told from the scenario line that names it */
	write_file(dir, "s.yaml", BASE "topology: topo/none.yaml\n", path,
		   sizeof(path));
	assert_int_equal(scenario_load(path, &s, &e), -ENOENT);
	snprintf(want, sizeof(want),
		 "%s:8: topology: %s/topo/none.yaml: No such file or "
		 "directory",
		 path, dir);
	assert_string_equal(e.msg, want);
	remove_dir(dir);
}

/* ---- rejections ---- */

struct bad_case {
	const char *text;
	const char *msg;
};

static const struct bad_case bad[] = {
	/* missing name, also in an empty file */
	{"images: [{ name: py, size: 1MB }]\n"
	 "functions: [{ name: f1, image: py }]\n"
	 "workload: [{ at: 0s, invoke: f1 }]\n",
	 "x.yaml:1: top level: missing key 'name'"},
	{"", "x.yaml:1: top level: missing key 'name'"},
	{"# only a comment\n", "x.yaml:1: top level: missing key 'name'"},
	{"name: t\nfunctions: []\n",
	 "x.yaml:1: top level: missing key 'images'"},
	/* unknown keys */
	{BASE "colour: red\n",
	 "x.yaml:8: unknown key 'colour'; valid keys: name, description, "
	 "paper, topology, scale, dilation, images, functions, workload, "
	 "strategies, repetitions, seed, timeout, reclaim, sweep, serve, "
	 "faults"},
	{"name: t\nimages:\n  - { name: py, size: 1MB, colour: red }\n" TAIL,
	 "x.yaml:3: images[0]: unknown key 'colour'; valid keys: name, size, "
	 "block_size, startup_fraction, startup_compute, seed, layout"},
	{BASE "  - { at: 1s, invoke: f1, count: 2 }\n",
	 "x.yaml:8: workload[1]: unknown key 'count'; valid keys: at, from, "
	 "to, invoke, containers, requests, rate, trace"},
	/* serve: requests, not containers, and nothing BitTorrent */
	{BASE "serve: { service: 2s }\n",
	 "x.yaml:7: workload[0].containers: a scenario with serve invokes "
	 "requests (the autoscaler decides the containers): expected "
	 "requests: N"},
	{BASE "  - { at: 1s, invoke: f1, requests: 2 }\n",
	 "x.yaml:8: workload[1].requests: expected containers (requests need "
	 "a top-level serve mapping)"},
	{BASE "  - { at: 1s, invoke: f1, requests: 2, containers: 1 }\n",
	 "x.yaml:8: workload[1]: expected containers or requests, got both"},
	{"name: t\nimages: [{ name: py, size: 1MB }]\n" TAIL
	 "serve: { service: 2s }\nsweep: { containers: [1, 2] }\n",
	 "x.yaml:6: sweep: expected no sweep in a scenario with serve (the "
	 "autoscaler decides the containers)"},
	{"name: t\nimages: [{ name: py, size: 1MB }]\n" TAIL
	 "strategies: [faasnet, bittorrent]\nserve: {}\n",
	 "x.yaml:5: strategies: bittorrent cannot serve requests (it has no "
	 "scheduler); expected some of faasnet, ondemand, registry, dadi"},
	{"name: t\nimages: [{ name: py, size: 1MB }]\n" TAIL
	 "serve: { utilization: 0 }\n",
	 "x.yaml:5: serve.utilization: expected a number above 0 and at most "
	 "1, like 0.7, got \"0\""},
	{"name: t\nimages: [{ name: py, size: 1MB }]\n" TAIL
	 "serve: { service: 2h }\n",
	 "x.yaml:5: serve.service: expected a duration from 1ms to 1h like "
	 "2s, got \"2h\""},
	{"name: t\nimages: [{ name: py, size: 1MB }]\n" TAIL
	 "serve: { slots: 2 }\n",
	 "x.yaml:5: serve: unknown key 'slots'; valid keys: service, "
	 "concurrency, utilization, window"},
	{"name: t\nimages: [{ name: py, size: 1MB }]\n" TAIL "serve: 2s\n",
	 "x.yaml:5: serve: expected a mapping like { service: 2s, "
	 "concurrency: 1 }, got \"2s\""},
	/* duplicate keys */
	{BASE "name: u\n", "x.yaml:8: duplicate key 'name' (first at line 1)"},
	{BASE "  - { at: 0s, invoke: f1, at: 1s }\n",
	 "x.yaml:8: duplicate key 'workload[1].at' (first at line 8)"},
	/* duplicate names */
	{"name: t\n"
	 "images:\n"
	 "  - { name: py, size: 1MB }\n"
	 "  - { name: py, size: 2MB }\n" TAIL,
	 "x.yaml:4: images[1].name: duplicate name 'py' (first at line 3)"},
	{"name: t\n"
	 "images: [{ name: py, size: 1MB }]\n"
	 "functions:\n"
	 "  - { name: f1, image: py }\n"
	 "  - { name: f2, image: py }\n"
	 "  - { name: f1, image: py }\n"
	 "workload: [{ at: 0s, invoke: f1 }]\n",
	 "x.yaml:6: functions[2].name: duplicate name 'f1' (first at line 4)"},
	/* runtime_start */
	{"name: t\n"
	 "images: [{ name: py, size: 1MB }]\n"
	 "functions:\n"
	 "  - { name: f1, image: py, runtime_start: slow }\n"
	 "workload: [{ at: 0s, invoke: f1 }]\n",
	 "x.yaml:4: functions[0].runtime_start: expected a duration from 0 to "
	 "10m like 1.5s, got \"slow\""},
	{"name: t\n"
	 "images: [{ name: py, size: 1MB }]\n"
	 "functions:\n"
	 "  - { name: f1, image: py,\n"
	 "      runtime_start: 11m }\n"
	 "workload: [{ at: 0s, invoke: f1 }]\n",
	 "x.yaml:5: functions[0].runtime_start: expected a duration from 0 to "
	 "10m like 1.5s, got \"11m\""},
	/* references */
	{"name: t\n"
	 "images: [{ name: py, size: 1MB }, { name: js, size: 1MB }]\n"
	 "functions:\n"
	 "  - { name: f1, image: go }\n"
	 "workload: [{ at: 0s, invoke: f1 }]\n",
	 "x.yaml:4: functions[0].image: expected the name of an image (py, "
	 "js), got \"go\""},
	{BASE "  - { at: 1s, invoke: f9 }\n",
	 "x.yaml:8: workload[1].invoke: expected the name of a function (f1), "
	 "got \"f9\""},
	{BASE "  - { from: 0s, to: 1s, rate: 1,\n      invoke: F1 }\n",
	 "x.yaml:9: workload[1].invoke: expected the name of a function (f1), "
	 "got \"F1\""},
	/* units */
	{"name: t\nimages: [{ name: py, size: fast }]\n" TAIL,
	 "x.yaml:2: images[0].size: expected a size like 758MB, got \"fast\""},
	{"name: t\nimages: [{ name: py, size: 0 }]\n" TAIL,
	 "x.yaml:2: images[0].size: expected a size like 758MB, got \"0\""},
	{"name: t\nimages: [{ name: py, size: 1MB, block_size: 1KiB }]\n" TAIL,
	 "x.yaml:2: images[0].block_size: expected a size from 4KiB to 64MiB "
	 "like 512KiB, got \"1KiB\""},
	{BASE "timeout: 10\n",
	 "x.yaml:8: timeout: expected a duration from 1s to 24h like 300s, got "
	 "\"10\""},
	{BASE "timeout: 0.5s\n",
	 "x.yaml:8: timeout: expected a duration from 1s to 24h like 300s, got "
	 "\"0.5s\""},
	{BASE "  - { at: 5 s, invoke: f1 }\n",
	 "x.yaml:8: workload[1].at: expected a time from 0s to 24h like 10s, "
	 "got \"5 s\""},
	{BASE "  - { at: 25h, invoke: f1 }\n",
	 "x.yaml:8: workload[1].at: expected a time from 0s to 24h like 10s, "
	 "got \"25h\""},
	{BASE "  - { from: 0s, to: 1s, rate: 0, invoke: f1 }\n",
	 "x.yaml:8: workload[1].rate: expected invocations per second above 0 "
	 "and at most 100000, like 5, got \"0\""},
	{BASE "  - { at: 1s, invoke: f1, containers: 0 }\n",
	 "x.yaml:8: workload[1].containers: expected a whole number from 1 to "
	 "100000, got \"0\""},
	{"name: t\nimages: [{ name: py, size: 1MB, startup_fraction: 1.5 "
	 "}]\n" TAIL,
	 "x.yaml:2: images[0].startup_fraction: expected a number from 0 to 1 "
	 "like 0.16, got \"1.5\""},
	{"name: t\nimages: [{ name: py, size: 1MB, seed: -1 }]\n" TAIL,
	 "x.yaml:2: images[0].seed: expected a whole number like 1, got "
	 "\"-1\""},
	{"name: t\nimages: [{ name: py, size: 9TB, block_size: 4KiB }]\n" TAIL,
	 "x.yaml:2: images[0].size: expected at most 16777216 blocks of 4KiB, "
	 "got \"9TB\""},
	/* The frame cap (lib/proto.h): an index or a block that could not be
	 * forwarded down a tree. */
	{"name: t\nimages:\n  - name: py\n    size: 758MB\n    block_size: "
	 "4KiB\n" TAIL,
	 "x.yaml:3: images[0]: a block index of 185059 blocks is up to 9623108 "
	 "bytes, over the 8386560 bytes a frame carries"},
	{"name: t\nimages: [{ name: py, size: 100MB, block_size: 8MiB "
	 "}]\n" TAIL,
	 "x.yaml:2: images[0]: a block of 8388608 bytes may compress to "
	 "8422400, over the 8386560 bytes a frame carries"},
	/* dilation */
	{BASE "dilation: 0.5\n",
	 "x.yaml:8: dilation: expected a number from 1 to 100, or auto, got "
	 "\"0.5\""},
	{BASE "dilation: 101\n",
	 "x.yaml:8: dilation: expected a number from 1 to 100, or auto, got "
	 "\"101\""},
	{BASE "dilation: [2]\n",
	 "x.yaml:8: dilation: expected a number from 1 to 100, or auto, got a "
	 "sequence"},
	/* scale */
	{BASE "scale: 0\n",
	 "x.yaml:8: scale: expected a number above 0 and at most 1, like 0.1, "
	 "got \"0\""},
	{BASE "scale: 2\n",
	 "x.yaml:8: scale: expected a number above 0 and at most 1, like 0.1, "
	 "got \"2\""},
	{BASE "scale: 1e-1\n",
	 "x.yaml:8: scale: expected a number above 0 and at most 1, like 0.1, "
	 "got \"1e-1\""},
	{BASE "scale: .5\n",
	 "x.yaml:8: scale: expected a number above 0 and at most 1, like 0.1, "
	 "got \".5\""},
	{BASE "scale: 1.0001\n",
	 "x.yaml:8: scale: expected a number above 0 and at most 1, like 0.1, "
	 "got \"1.0001\""},
	/* counts and shapes */
	{BASE "repetitions: 101\n",
	 "x.yaml:8: repetitions: expected a whole number from 1 to 100, got "
	 "\"101\""},
	{BASE "seed: 4294967296\n",
	 "x.yaml:8: seed: expected a whole number from 0 to 4294967295, got "
	 "\"4294967296\""},
	{BASE "seed: -1\n",
	 "x.yaml:8: seed: expected a whole number from 0 to 4294967295, got "
	 "\"-1\""},
	{BASE "repetitions: 010\n",
	 "x.yaml:8: repetitions: expected a whole number from 1 to 100, got "
	 "\"010\""},
	{"name: t\nimages: []\n" TAIL,
	 "x.yaml:2: images: expected 1 to 16 images, got 0"},
	{"name: t\nimages: py\n" TAIL,
	 "x.yaml:2: images: expected a sequence of images like - { name: py, "
	 "size: 758MB }, got \"py\""},
	{"name: t\nimages: [py]\n" TAIL,
	 "x.yaml:2: images[0]: expected a mapping like { name: py, size: "
	 "758MB }, got \"py\""},
	{"name: t\nimages: [{ name: py, size: 1MB }]\nfunctions: {}\n"
	 "workload: [{ at: 0s, invoke: f1 }]\n",
	 "x.yaml:3: functions: expected a sequence of functions like - { "
	 "name: f1, image: py }, got a mapping"},
	{"name: t\n"
	 "images: [{ name: py, size: 1MB }]\n"
	 "functions: [{ name: f1, image: py }]\n"
	 "workload: []\n",
	 "x.yaml:4: workload: expected 1 to 4096 steps, got 0"},
	{"name: t\n"
	 "images: [{ name: py, size: 1MB }]\n"
	 "functions: [{ name: f1, image: py }]\n"
	 "workload:\n",
	 "x.yaml:4: workload: expected a sequence of steps like - { at: 0s, "
	 "invoke: f1, containers: 16 }, got an empty value"},
	/* names */
	{"name: Quick\n",
	 "x.yaml:1: name: expected a name like quickstart (a-z, 0-9, '.', '_', "
	 "'-'), got \"Quick\""},
	{"name: -t\n",
	 "x.yaml:1: name: expected a name like quickstart (a-z, 0-9, '.', '_', "
	 "'-'), got \"-t\""},
	{"name: \"a\\0b\"\n",
	 "x.yaml:1: name: expected a name like quickstart (a-z, 0-9, '.', '_', "
	 "'-'), got \"a\\x00b\""},
	{"name: t\nimages: [{ name: my/py, size: 1MB }]\n" TAIL,
	 "x.yaml:2: images[0].name: expected a name like py (a-z, 0-9, '.', "
	 "'_', '-'), got \"my/py\""},
	/* images: size or layout */
	{"name: t\nimages: [{ name: py }]\n" TAIL,
	 "x.yaml:2: images[0]: missing key 'size' (a synthetic image) or "
	 "'layout' (an OCI layout folder)"},
	{"name: t\nimages:\n  - name: py\n    size: 1MB\n    layout: l\n" TAIL,
	 "x.yaml:5: images[0]: expected either size (a synthetic image) or "
	 "layout (an OCI layout folder), got both"},
	{"name: t\nimages: [{ name: py, layout: \"\" }]\n" TAIL,
	 "x.yaml:2: images[0].layout: expected the path of an OCI layout "
	 "folder, got \"\""},
	/* strategies */
	{BASE "strategies: [faasnet, kraken]\n",
	 "x.yaml:8: strategies[1]: expected one of faasnet, ondemand, "
	 "registry, bittorrent, dadi, got \"kraken\""},
	{BASE "strategies: [faasnet, ondemand,\n  faasnet]\n",
	 "x.yaml:9: strategies[2]: duplicate strategy 'faasnet' (first at "
	 "line 8)"},
	{BASE "strategies: []\n",
	 "x.yaml:8: strategies: expected 1 or more strategies, got 0"},
	{BASE "strategies: faasnet\n",
	 "x.yaml:8: strategies: expected a sequence like [faasnet, ondemand], "
	 "got \"faasnet\""},
	/* sweep */
	{BASE "sweep: { cpus: [1, 2] }\n",
	 "x.yaml:8: sweep: unknown key 'cpus'; valid keys: containers, vms"},
	{BASE "sweep: {}\n",
	 "x.yaml:8: sweep: expected one of containers or vms, like { "
	 "containers: [8, 16, 32] }, got neither"},
	{BASE "sweep: { containers: [1], vms: [2] }\n",
	 "x.yaml:8: sweep: expected one of containers or vms, like { "
	 "containers: [8, 16, 32] }, got both"},
	/* the built-in topology has 16 VMs */
	{BASE "sweep: { vms: [8, 17] }\n",
	 "x.yaml:8: sweep.vms[1]: expected at most the topology's 16 VMs, got "
	 "17"},
	{BASE "sweep: { vms: [8, 8] }\n",
	 "x.yaml:8: sweep.vms[1]: duplicate value 8 (first at line 8)"},
	{BASE "sweep: [8, 16]\n",
	 "x.yaml:8: sweep: expected a mapping like { containers: [8, 16, 32] "
	 "}, got a sequence"},
	{BASE "sweep: { containers: [8, 0] }\n",
	 "x.yaml:8: sweep.containers[1]: expected a whole number from 1 to "
	 "100000, got \"0\""},
	{BASE "sweep: { containers: [8, 16, 8] }\n",
	 "x.yaml:8: sweep.containers[2]: duplicate value 8 (first at line 8)"},
	{BASE "sweep: { containers: [] }\n",
	 "x.yaml:8: sweep.containers: expected 1 to 32 values, got 0"},
	{"name: t\n"
	 "images: [{ name: py, size: 1MB }]\n"
	 "functions: [{ name: f1, image: py }]\n"
	 "workload: [{ from: 0s, to: 1s, invoke: f1, rate: 1 }]\n"
	 "sweep: { containers: [8, 16] }\n",
	 "x.yaml:5: sweep.containers: expected a workload with at least one "
	 "at step (the sweep sets its containers), got none"},
	/* steps */
	{BASE "  - { invoke: f1, containers: 2 }\n",
	 "x.yaml:8: workload[1]: expected at (an invocation), from/to/rate (a "
	 "ramp) or trace (a CSV file), got none of them"},
	{BASE "  - { at: 0s, trace: t.csv }\n",
	 "x.yaml:8: workload[1]: expected one of at (an invocation), "
	 "from/to/rate (a ramp) or trace (a CSV file), got both 'at' and "
	 "'trace'"},
	{BASE "  - { at: 0s, to: 1s, invoke: f1 }\n",
	 "x.yaml:8: workload[1]: expected one of at (an invocation), "
	 "from/to/rate (a ramp) or trace (a CSV file), got both 'at' and "
	 "'to'"},
	{BASE "  - { from: 0s, to: 1s, rate: 2, invoke: f1, containers: 3 }\n",
	 "x.yaml:8: workload[1]: unexpected key 'containers' in a ramp step; "
	 "valid keys: from, to, rate, invoke"},
	{BASE "  - { trace: t.csv, invoke: f1 }\n",
	 "x.yaml:8: workload[1]: unexpected key 'invoke' in a trace step; "
	 "valid keys: trace"},
	{BASE "  - { from: 0s, to: 1s, invoke: f1 }\n",
	 "x.yaml:8: workload[1]: missing key 'rate'"},
	{BASE "  - { at: 0s }\n",
	 "x.yaml:8: workload[1]: missing key 'invoke'"},
	{BASE "  - { from: 2s, to: 1s, invoke: f1, rate: 1 }\n",
	 "x.yaml:8: workload[1].to: expected a time after from, got \"1s\""},
	{BASE "  - { from: 1s, to: 1s, invoke: f1, rate: 1 }\n",
	 "x.yaml:8: workload[1].to: expected a time after from, got \"1s\""},
	/* an inline topology: its keys read as the scenario spells them */
	{BASE "topology: { vms: 0 }\n",
	 "x.yaml:8: topology.vms: expected 1 to 4096 VMs, got 0"},
	{BASE "topology:\n  vm_link: { rate: 100mbps }\n",
	 "x.yaml:9: topology.vm_link.rate: expected a rate like 100mbit, got "
	 "\"100mbps\" (bytes per second are not accepted: write bits, e.g. "
	 "800mbit for 100MB/s)"},
	{BASE "topology: { vm_count: 3 }\n",
	 "x.yaml:8: topology: unknown key 'vm_count'; valid keys: vms, "
	 "rack_size, vm_link, registry_link, rack_uplink, delay"},
	{BASE "topology:\n  vms: 4\n  vms: 5\n",
	 "x.yaml:10: topology: duplicate key 'vms' (first at line 9)"},
	{BASE "topology: [1]\n",
	 "x.yaml:8: topology: expected a mapping like { vms: 16 } or the path "
	 "of a topology file, got a sequence"},
	/* the document */
	{"- name: t\n",
	 "x.yaml:1: expected a mapping of scenario keys like \"name: "
	 "quickstart\", got a sequence"},
	{BASE "---\nname: u\n",
	 "x.yaml:8: expected one YAML document, got another"},
	{BASE "  - { at: 0s, invoke: f1\n",
	 "x.yaml:9: invalid YAML: did not find expected ',' or '}' (while "
	 "parsing a flow mapping at line 8)"},
	{BASE "description: \"a\nb\"\n", NULL}, /* multi-line text is fine */
	/* faults */
	{BASE "faults:\n  - { at: 1s, vm: vm0001 }\n",
	 "x.yaml:9: faults[0]: expected one of kill, link or lie, got 0"},
	{BASE "faults:\n  - { at: 1s, kill: agent, lie: fake, vm: vm0001 }\n",
	 "x.yaml:9: faults[0]: expected one of kill, link or lie, got 2"},
	{BASE "faults:\n  - { kill: registry }\n",
	 "x.yaml:9: faults[0]: expected one of at (a time), after (a number "
	 "of containers started), sent or received (bytes on the target VM's "
	 "link)"},
	{BASE "faults:\n  - { at: 1s, after: 3, kill: registry }\n",
	 "x.yaml:9: faults[0]: expected one of at (a time), after (a number "
	 "of containers started), sent or received (bytes on the target VM's "
	 "link)"},
	{BASE "faults:\n  - { at: 1s, kill: router }\n",
	 "x.yaml:9: faults[0].kill: expected agent, registry or manager, got "
	 "'router'"},
	{BASE "faults:\n  - { at: 1s, kill: agent }\n",
	 "x.yaml:9: faults[0]: expected one of vm (a VM's name) or role (root, "
	 "interior, leaf or any)"},
	{BASE "faults:\n  - { at: 1s, kill: agent, role: top }\n",
	 "x.yaml:9: faults[0].role: expected root, interior, leaf or any, got "
	 "'top'"},
	{BASE "faults:\n  - { at: 1s, kill: agent, role: root, depth: 1 }\n",
	 "x.yaml:9: faults[0].depth: only with role: interior"},
	{BASE "faults:\n  - { at: 1s, kill: registry, vm: vm0001 }\n",
	 "x.yaml:9: faults[0].vm: only with an agent (kill: agent, link: "
	 "agent, lie)"},
	{BASE "faults:\n  - { at: 1s, kill: registry, down: 1s }\n",
	 "x.yaml:9: faults[0].down: only with link"},
	{BASE "faults:\n  - { at: 1s, link: registry }\n",
	 "x.yaml:9: faults[0]: a link fault takes one of down, flap or rate, "
	 "got 0"},
	{BASE "faults:\n  - { at: 1s, link: registry, rate: fast }\n",
	 "x.yaml:9: faults[0].rate: expected a rate like 100mbit, got \"fast\""},
	{BASE "faults:\n  - { at: 1s, link: registry, down: 1s, times: 2 }\n",
	 "x.yaml:9: faults[0].times: only with flap"},
	{BASE "faults:\n  - { sent: 1MB, kill: registry }\n",
	 "x.yaml:9: faults[0].sent: only with an agent (kill: agent, link: "
	 "agent, lie)"},
	{BASE "faults:\n  - { at: 1s, lie: loud, vm: vm0001 }\n",
	 "x.yaml:9: faults[0].lie: expected corrupt, fake, slow, silent or "
	 "none, got 'loud'"},
	{BASE "faults:\n  - { at: 1s, kill: agent, role: root, function: f9 }\n",
	 "x.yaml:9: faults[0].function: expected the name of a function (f1), "
	 "got 'f9'"},
	{BASE "faults:\n  - { at: 1s, kill: agent, role: leaf, count: 2, "
	      "share: 0.5 }\n",
	 "x.yaml:9: faults[0]: expected one of count or share"},
};

static void test_rejections(void **state)
{
	struct scenario s;
	struct err e;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		poison(&s);
		memset(&e, 0, sizeof(e));
		ret = parse(bad[i].text, &s, &e);
		if (!bad[i].msg) {
			if (ret)
				fail_msg("case %zu: %s", i, e.msg);
			scenario_free(&s);
			continue;
		}
		if (ret != -EINVAL || strcmp(e.msg, bad[i].msg))
			fail_msg("case %zu: ret %d\n  got:  %s\n  want: %s", i,
				 ret, e.msg, bad[i].msg);
		/* s is written only on success */
		assert_true(is_poisoned(&s));
	}
}

/* Every kind of fault as scenario.h keeps it. */
static void test_faults(void **state)
{
	struct scenario s;
	struct err e = {""};
	const struct scenario_fault *f;

	(void)state;
	assert_int_equal(
		parse(BASE "faults:\n"
			   "  - { at: 2s, kill: agent, role: interior, depth: 1,"
			   " count: 2, restart: 500ms }\n"
			   "  - { after: 4, kill: registry, restart: 1s }\n"
			   "  - { at: 1s, kill: manager }\n"
			   "  - { at: 1s, link: agent, vm: vm0003, flap: 200ms }\n"
			   "  - { at: 1s, link: registry, rate: 10mbit, for: 2s }\n"
			   "  - { at: 0s, lie: silent, role: leaf, share: 0.25 }\n"
			   "  - { sent: 2MB, kill: agent, role: interior }\n",
		      &s, &e),
		0);
	assert_int_equal(s.nfaults, 7);
	assert_int_equal(s.faults[6].sent, 2000000);
	assert_int_equal(s.faults[6].at_ns, 0);
	f = &s.faults[0];
	assert_int_equal(f->what, SCENARIO_FAULT_KILL);
	assert_int_equal(f->host, SCENARIO_FAULT_AGENT);
	assert_int_equal(f->role, SCENARIO_ROLE_INTERIOR);
	assert_int_equal(f->depth, 1);
	assert_int_equal(f->count, 2);
	assert_int_equal(f->at_ns, 2 * SEC);
	assert_int_equal(f->restart_ns, 500 * MS);
	assert_int_equal(f->line, 9);
	f = &s.faults[1];
	assert_int_equal(f->after, 4);
	assert_int_equal(f->host, SCENARIO_FAULT_REGISTRY);
	assert_int_equal(s.faults[2].host, SCENARIO_FAULT_MANAGER);
	assert_int_equal(s.faults[2].restart_ns, 0);
	f = &s.faults[3];
	assert_int_equal(f->what, SCENARIO_FAULT_LINK);
	assert_int_equal(f->role, SCENARIO_ROLE_NAMED);
	assert_string_equal(f->vm, "vm0003");
	assert_int_equal(f->flap_ns, 200 * MS);
	assert_int_equal(f->times, 3); /* the default */
	f = &s.faults[4];
	assert_int_equal(f->rate_bps, 10 * MBIT);
	assert_int_equal(f->for_ns, 2 * SEC);
	f = &s.faults[5];
	assert_int_equal(f->what, SCENARIO_FAULT_LIE);
	assert_string_equal(f->lie, "silent");
	assert_int_equal(f->role, SCENARIO_ROLE_LEAF);
	assert_true(f->share == 0.25);
	assert_int_equal(f->depth, -1);
	scenario_free(&s);
}

static void test_too_many(void **state)
{
	char text[8192];
	size_t o;
	struct scenario s;
	struct err e = {""};
	int i;

	(void)state;
	o = (size_t)snprintf(text, sizeof(text), "name: t\nimages:\n");
	for (i = 0; i <= SCENARIO_MAX_IMAGES; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "  - { name: i%d, size: 1MB }\n", i);
	o += (size_t)snprintf(text + o, sizeof(text) - o, TAIL);
	assert_true(o < sizeof(text));
	assert_int_equal(parse(text, &s, &e), -EINVAL);
	assert_string_equal(
		e.msg, "x.yaml:19: images: expected 1 to 16 images, got 17");

	o = (size_t)snprintf(text, sizeof(text),
			     BASE "sweep:\n"
				  "  containers: [");
	for (i = 1; i <= SCENARIO_MAX_SWEEP + 1; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%d",
				      i > 1 ? ", " : "", i);
	o += (size_t)snprintf(text + o, sizeof(text) - o, "]\n");
	assert_true(o < sizeof(text));
	assert_int_equal(parse(text, &s, &e), -EINVAL);
	assert_string_equal(
		e.msg, "x.yaml:9: sweep.containers: expected 1 to 32 values, "
		       "got 33");
}

static void test_null_err(void **state)
{
	static const char topo[] = BASE "topology: { vms: 0 }\n";
	struct scenario s;

	(void)state;
	assert_int_equal(scenario_parse("name: T\n", 8, "x", &s, NULL),
			 -EINVAL);
	assert_int_equal(scenario_parse(topo, sizeof(topo) - 1, "x", &s, NULL),
			 -EINVAL);
}

/* serve: its defaults, its keys, and what it does to the strategies and
 * the workload (requests, counted as the containers field carries them). */
static void test_serve(void **state)
{
	struct scenario_invocation *v;
	struct scenario s;
	struct err e = {""};
	size_t n;

	(void)state;
	assert_int_equal(
		parse("name: t\n"
		      "images: [{ name: py, size: 1MB }]\n"
		      "functions: [{ name: f1, image: py }]\n"
		      "workload:\n"
		      "  - { at: 0s, invoke: f1, requests: 3 }\n"
		      "  - { from: 1s, to: 2s, invoke: f1, rate: 10 }\n"
		      "serve: {}\n",
		      &s, &e),
		0);
	assert_true(s.serve.on);
	assert_int_equal(s.serve.line, 7);
	assert_true(s.serve.service_ns == 2 * SEC);
	assert_int_equal(s.serve.concurrency, 1);
	assert_true(s.serve.utilization == 0.7);
	assert_true(s.serve.window_ns == SEC);
	/* The default strategies, less bittorrent (no scheduler). */
	assert_int_equal(s.nstrategies, 4);
	assert_int_equal(s.strategies[0], strategy_find("faasnet"));
	assert_int_equal(s.strategies[2], strategy_find("registry"));
	assert_int_equal(s.strategies[3], strategy_find("dadi"));
	assert_int_equal(scenario_schedule(&s, -1, &v, &n, &e), 0);
	assert_int_equal(n, 11);
	assert_int_equal(v[0].containers, 3);
	free(v);
	scenario_free(&s);

	assert_int_equal(parse("name: t\n"
			       "images: [{ name: py, size: 1MB }]\n"
			       "functions: [{ name: f1, image: py }]\n"
			       "workload: [{ at: 0s, invoke: f1 }]\n"
			       "serve: { service: 500ms, concurrency: 3, "
			       "utilization: 0.8, window: 2s }\n"
			       "strategies: [ondemand]\n",
			       &s, &e),
			 0);
	assert_true(s.serve.service_ns == 500 * MS);
	assert_int_equal(s.serve.concurrency, 3);
	assert_true(s.serve.utilization == 0.8);
	assert_true(s.serve.window_ns == 2 * SEC);
	assert_int_equal(s.nstrategies, 1);
	scenario_free(&s);

	/* Without serve there is none. */
	assert_int_equal(parse(BASE, &s, &e), 0);
	assert_false(s.serve.on);
	assert_int_equal(s.nstrategies, strategy_count());
	scenario_free(&s);
}

static void test_load_errors(void **state)
{
	char *dir = make_dir();
	char path[PATH_MAX], want[PATH_MAX + 128];
	struct scenario s;
	struct err e = {""};
	char *big;
	size_t len = 512 * 1024 + 1;

	(void)state;
	assert_int_equal(scenario_load("/nonexistent/s.yaml", &s, &e), -ENOENT);
	assert_string_equal(e.msg,
			    "/nonexistent/s.yaml: No such file or directory");

	write_file(dir, "s.yaml", BASE "scale: 3\n", path, sizeof(path));
	assert_int_equal(scenario_load(path, &s, &e), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:8: scale: expected a number above 0 and at most 1, like "
		 "0.1, got \"3\"",
		 path);
	assert_string_equal(e.msg, want);

	big = malloc(len + 1);
	assert_non_null(big);
	memset(big, '\n', len);
	big[len] = '\0';
	write_file(dir, "big.yaml", big, path, sizeof(path));
	free(big);
	assert_int_equal(scenario_load(path, &s, &e), -EFBIG);
	assert_non_null(strstr(e.msg, "too large for a scenario file"));
	remove_dir(dir);
}

/* sweep: { vms: ... } sets the VMs a run uses, not its containers. */
static void test_sweep_vms(void **state)
{
	struct scenario_invocation *v = NULL;
	struct scenario s;
	struct err e = {""};
	size_t n;

	(void)state;
	assert_int_equal(parse(BASE "sweep: { vms: [16, 4, 1] }\n", &s, &e), 0);
	assert_string_equal(s.sweep_param, "vms");
	assert_int_equal(s.nsweep, 3);
	assert_int_equal(scenario_vms(&s, -1), 16);
	assert_int_equal(scenario_vms(&s, 0), 16);
	assert_int_equal(scenario_vms(&s, 1), 4);
	assert_int_equal(scenario_vms(&s, 2), 1);
	assert_int_equal(scenario_vms(&s, 3), 16); /* out of range: all */
	/* the workload's 16 containers, whatever the VMs */
	assert_int_equal(scenario_schedule(&s, 2, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].containers, 16);
	free(v);
	scenario_free(&s);
	/* a containers sweep leaves the VMs */
	assert_int_equal(parse(BASE "sweep: { containers: [2] }\n", &s, &e), 0);
	assert_int_equal(scenario_vms(&s, 0), 16);
	scenario_free(&s);
}

static void test_strategy_names(void **state)
{
	unsigned i;

	(void)state;
	/* Every name in the table finds itself, and none is written twice. */
	assert_true(strategy_count() >= 5);
	for (i = 0; i < strategy_count(); i++) {
		assert_int_equal(strategy_find(strategy_name(i)), (int)i);
		assert_ptr_equal(strategy_at(i)->name, strategy_name(i));
		assert_non_null(strategy_at(i)->start);
		assert_non_null(strategy_at(i)->facts);
		assert_non_null(strategy_at(i)->free);
	}
	assert_int_equal(strategy_find("dadi"), 4);
	assert_false(strategy_at(strategy_find("bittorrent"))->serves);
	assert_true(strategy_at(strategy_find("faasnet"))->serves);
	assert_int_equal(strategy_find("FaaSNet"), -1);
	assert_int_equal(strategy_find(""), -1);
	assert_null(strategy_at(strategy_count()));
	assert_string_equal(strategy_name(strategy_count()), "unknown");
}

/* ---- the schedule ---- */

static void schedule_ok(const char *text, int sweep_index,
			struct scenario_invocation **v, size_t *n)
{
	struct scenario s;
	struct err e = {""};

	if (parse(text, &s, &e))
		fail_msg("parse: %s", e.msg);
	if (scenario_schedule(&s, sweep_index, v, n, &e))
		fail_msg("schedule: %s", e.msg);
	scenario_free(&s);
}

static void test_schedule_at_order(void **state)
{
	static const char text[] =
		"name: t\n"
		"images: [{ name: py, size: 1MB }]\n"
		"functions:\n"
		"  - { name: f1, image: py }\n"
		"  - { name: f2, image: py }\n"
		"workload:\n"
		"  - { at: 2s, invoke: f1, containers: 1 }\n"
		"  - { at: 1s, invoke: f2, containers: 2 }\n"
		"  - { at: 1s, invoke: f1, containers: 3 }\n"
		"  - { at: 0s, invoke: f2, containers: 4 }\n"
		"  - { at: 1s, invoke: f2, containers: 5 }\n";
	static const struct {
		uint64_t t;
		unsigned function, containers;
	} want[] = {
		{0, 1, 4},   {SEC, 1, 2},     {SEC, 0, 3},
		{SEC, 1, 5}, {2 * SEC, 0, 1},
	};
	struct scenario_invocation *v;
	size_t n, i;

	(void)state;
	schedule_ok(text, -1, &v, &n);
	assert_int_equal(n, ARRAY_SIZE(want));
	for (i = 0; i < n; i++) {
		assert_true(v[i].t_ns == want[i].t);
		assert_int_equal(v[i].function, want[i].function);
		/* the count tells the equal-time steps apart: stable */
		assert_int_equal(v[i].containers, want[i].containers);
	}
	free(v);
}

/* Long enough that the merge sort runs several passes over equal times. */
static void test_schedule_stable_many(void **state)
{
	char text[16384];
	struct scenario_invocation *v;
	size_t o, n, i;
	int k;

	(void)state;
	o = (size_t)snprintf(text, sizeof(text),
			     "name: t\nimages: [{ name: py, size: 1MB }]\n"
			     "functions: [{ name: f1, image: py }]\n"
			     "workload:\n");
	/* times 3, 2, 1, 0, 3, 2, ... with the step number as count */
	for (k = 1; k <= 100; k++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "  - { at: %ds, invoke: f1, containers: "
				      "%d }\n",
				      3 - (k - 1) % 4, k);
	assert_true(o < sizeof(text));
	schedule_ok(text, -1, &v, &n);
	assert_int_equal(n, 100);
	for (i = 1; i < n; i++) {
		assert_true(v[i - 1].t_ns <= v[i].t_ns);
		if (v[i - 1].t_ns == v[i].t_ns)
			assert_true(v[i - 1].containers < v[i].containers);
	}
	assert_true(v[0].t_ns == 0);
	assert_int_equal(v[0].containers, 4);
	assert_true(v[99].t_ns == 3 * SEC);
	assert_int_equal(v[99].containers, 97);
	free(v);
}

static void test_schedule_sweep(void **state)
{
	static const char text[] =
		"name: t\n"
		"images: [{ name: py, size: 1MB }]\n"
		"functions: [{ name: f1, image: py }]\n"
		"workload:\n"
		"  - { at: 0s, invoke: f1, containers: 2 }\n"
		"  - { from: 1s, to: 2s, invoke: f1, rate: 2 }\n"
		"  - { at: 5s, invoke: f1 }\n"
		"sweep: { containers: [8, 128] }\n";
	struct scenario_invocation *v;
	struct scenario s;
	struct err e = {""};
	size_t n;

	(void)state;
	schedule_ok(text, 1, &v, &n);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].containers, 128); /* at steps take the value */
	assert_int_equal(v[1].containers, 1);	/* ramps keep 1 */
	assert_int_equal(v[2].containers, 1);
	assert_int_equal(v[3].containers, 128);
	free(v);

	schedule_ok(text, 0, &v, &n);
	assert_int_equal(v[0].containers, 8);
	assert_int_equal(v[3].containers, 8);
	free(v);

	/* no sweep value: as written */
	schedule_ok(text, -1, &v, &n);
	assert_int_equal(v[0].containers, 2);
	assert_int_equal(v[3].containers, 1);
	free(v);

	assert_int_equal(parse(text, &s, &e), 0);
	v = NULL;
	assert_int_equal(scenario_schedule(&s, 2, &v, &n, &e), -EINVAL);
	assert_string_equal(e.msg, "x.yaml: sweep value 2 asked for, but the "
				   "sweep has 2");
	assert_null(v);
	scenario_free(&s);
}

static void test_schedule_ramp(void **state)
{
	static const char text[] =
		"name: t\n"
		"images: [{ name: py, size: 1MB }]\n"
		"functions: [{ name: f1, image: py }, { name: f2, image: py "
		"}]\n"
		"workload:\n"
		"  - { from: 10s, to: 20s, invoke: f2, rate: 5 }\n";
	static const char thirds[] =
		"name: t\n"
		"images: [{ name: py, size: 1MB }]\n"
		"functions: [{ name: f1, image: py }]\n"
		"workload:\n"
		"  - { from: 0s, to: 1s, invoke: f1, rate: 3 }\n"
		"  - { from: 0s, to: 3s, invoke: f1, rate: 0.5 }\n"
		"  - { from: 0s, to: 1ns, invoke: f1, rate: 1 }\n";
	struct scenario_invocation *v;
	size_t n, i;

	(void)state;
	schedule_ok(text, -1, &v, &n);
	/* [10s, 20s) at 5/s: 10.0, 10.2, ..., 19.8 */
	assert_int_equal(n, 50);
	for (i = 0; i < n; i++) {
		assert_true(v[i].t_ns == 10 * SEC + i * 200 * MS);
		assert_int_equal(v[i].function, 1);
		assert_int_equal(v[i].containers, 1);
	}
	free(v);

	schedule_ok(thirds, -1, &v, &n);
	/* 0, 1/3 s, 2/3 s (rounded to the ns); 0, 2s; 0 */
	assert_int_equal(n, 6);
	assert_true(v[0].t_ns == 0 && v[1].t_ns == 0 && v[2].t_ns == 0);
	assert_true(v[3].t_ns == 333333333);
	assert_true(v[4].t_ns == 666666667);
	assert_true(v[5].t_ns == 2 * SEC);
	free(v);
}

/* A scenario in a temp folder with its trace beside it. */
static char *trace_dir(const char *csv, const char *steps, char *path,
		       size_t len)
{
	char *dir = make_dir();
	char text[4096], csvpath[PATH_MAX];

	write_file(dir, "traces/t.csv", csv, csvpath, sizeof(csvpath));
	snprintf(text, sizeof(text),
		 "name: t\n"
		 "images: [{ name: py, size: 1MB }]\n"
		 "functions: [{ name: f1, image: py }, { name: f2, image: py "
		 "}]\n"
		 "workload:\n"
		 "%s",
		 steps);
	write_file(dir, "s.yaml", text, path, len);
	return dir;
}

static void test_schedule_trace(void **state)
{
	static const char csv[] = "# an IoT-like burst\n"
				  "time,function,containers\n"
				  "\n"
				  "1.5s,f2,3\n"
				  "  500ms , f1 \r\n"
				  "2,f1,1\n"
				  "  # an indented comment\n"
				  "0.25,f2\n"
				  "1.5s,f1,2\n";
	static const struct {
		uint64_t t;
		unsigned function, containers;
	} want[] = {
		{0, 0, 7},	   /* the at step, written before the trace */
		{250 * MS, 1, 1},  /* bare seconds */
		{500 * MS, 0, 1},  /* blanks and CRLF */
		{1500 * MS, 1, 3}, /* equal times in file order */
		{1500 * MS, 0, 2}, {2 * SEC, 0, 1},
		{2 * SEC, 1, 1}, /* the at step after the trace */
	};
	struct scenario_invocation *v;
	struct scenario s;
	struct err e = {""};
	char path[PATH_MAX];
	char *dir;
	size_t n, i;

	(void)state;
	dir = trace_dir(csv,
			"  - { at: 0s, invoke: f1, containers: 7 }\n"
			"  - { trace: traces/t.csv }\n"
			"  - { at: 2s, invoke: f2 }\n",
			path, sizeof(path));
	assert_int_equal(scenario_load(path, &s, &e), 0);
	assert_int_equal(scenario_schedule(&s, -1, &v, &n, &e), 0);
	assert_int_equal(n, ARRAY_SIZE(want));
	for (i = 0; i < n; i++) {
		assert_true(v[i].t_ns == want[i].t);
		assert_int_equal(v[i].function, want[i].function);
		assert_int_equal(v[i].containers, want[i].containers);
	}
	free(v);
	scenario_free(&s);
	remove_dir(dir);
}

/* A trace's errors come from the parse, before anything is built: its
 * file and line and what was expected, never what the line holds. */
static void test_trace_errors_at_load(void **state)
{
	static const struct {
		const char *csv, *msg; /* msg after "DIR/traces/t.csv:" */
	} cases[] = {
		{"time,function\n0s,f1\n1s,f9\n",
		 "3: function: expected the name of a function (f1, f2)"},
		{"0s,f1\nsoon,f1\n",
		 "2: time: expected a time from 0s to 24h like 1.5s, 1500ms or "
		 "1.5"},
		{"1 s,f1\n", "1: time: expected a time from 0s to 24h like "
			     "1.5s, 1500ms or 1.5"},
		{"-1,f1\n",
		 "1: time: expected a time from 0s to 24h like 1.5s, "
		 "1500ms or 1.5"},
		{"0s,f1,0\n",
		 "1: containers: expected a whole number from 1 to 100000"},
		{"0s,f1,2x\n",
		 "1: containers: expected a whole number from 1 to 100000"},
		{"0s,f1,1,extra\n",
		 "1: expected time,function[,containers], got 4 fields"},
		{"0s,f1,1,a,b,c\n",
		 "1: expected time,function[,containers], got 6 fields"},
		{"0s,,1\n", "1: function: expected the name of a function (f1, "
			    "f2)"},
		{"# c\n0s\n",
		 "2: expected time,function[,containers], got 1 field"},
		/* the header only as the first line */
		{"0s,f1\ntime,function\n",
		 "2: time: expected a time from 0s to 24h like 1.5s, 1500ms or "
		 "1.5"},
		{"# nothing\n\n", "2: expected lines like 1.5s,f1,1, got none"},
		{"time,function,containers\n",
		 "1: expected lines like 1.5s,f1,1, got none"},
		/* not text: a NUL, a control byte, bytes that are not UTF-8 */
		{"0s,f1\n1s,f1\x01\n", "2: expected a trace (text), got a "
				       "control byte or one that is not "
				       "UTF-8"},
		{"0s,f1\n\n\xff\xfe,f1\n", "3: expected a trace (text), got a "
					   "control byte or one that is not "
					   "UTF-8"},
		/* the shape of another file: told, not quoted */
		{"root:x:0:0:root:/root:/bin/bash\n",
		 "1: expected time,function[,containers], got 1 field"},
		{"hunter2,secret\n", "1: time: expected a time from 0s to 24h "
				     "like 1.5s, 1500ms or 1.5"},
	};
	struct scenario s;
	struct err e = {""};
	char path[PATH_MAX], want[PATH_MAX + 256];
	char *dir;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		dir = trace_dir(cases[i].csv, "  - { trace: traces/t.csv }\n",
				path, sizeof(path));
		poison(&s);
		assert_int_equal(scenario_load(path, &s, &e), -EINVAL);
		assert_true(is_poisoned(&s));
		snprintf(want, sizeof(want), "%s/traces/t.csv:%s", dir,
			 cases[i].msg);
		expect_msg(i, e.msg, want);
		remove_dir(dir);
	}

	/* a trace with a NUL: the same (written by hand: strings stop at
	 * one) */
	dir = trace_dir("", "  - { trace: traces/t.csv }\n", path,
			sizeof(path));
	{
		char csv[PATH_MAX + 32];
		FILE *f;

		snprintf(csv, sizeof(csv), "%s/traces/t.csv", dir);
		f = fopen(csv, "w");
		assert_non_null(f);
		assert_int_equal(fwrite("0s,f1\n\0s,f1\n", 1, 12, f), 12);
		assert_int_equal(fclose(f), 0);
	}
	assert_int_equal(scenario_load(path, &s, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "t.csv:2: expected a trace (text)"));
	remove_dir(dir);

	/* a missing trace is told from the step that names it */
	dir = trace_dir("0s,f1\n",
			"  - { at: 0s, invoke: f1 }\n"
			"  - { trace: traces/none.csv }\n",
			path, sizeof(path));
	assert_int_equal(scenario_load(path, &s, &e), -ENOENT);
	snprintf(want, sizeof(want),
		 "%s:6: workload[1].trace: %s/traces/none.csv: No such file or "
		 "directory",
		 path, dir);
	assert_string_equal(e.msg, want);
	remove_dir(dir);
}

/* A trace is read only when it is a regular file: a folder, a device or a
 * pipe is refused from the step that names it, before a byte is read (a
 * pipe with no writer would otherwise wait for ever). */
static void test_trace_not_a_file(void **state)
{
	static const struct {
		const char *trace, *got;
		int ret;
	} cases[] = {
		{"traces", "a folder", -EISDIR},
		{"/dev/zero", "a device", -EINVAL},
		{"traces/fifo", "a pipe", -EINVAL},
	};
	char path[PATH_MAX], steps[128], fifo[PATH_MAX + 16];
	char want[PATH_MAX * 2 + 128], named[PATH_MAX + 16];
	struct scenario s;
	struct err e = {""};
	char *dir;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(steps, sizeof(steps), "  - { trace: %s }\n",
			 cases[i].trace);
		dir = trace_dir("0s,f1\n", steps, path, sizeof(path));
		snprintf(fifo, sizeof(fifo), "%s/traces/fifo", dir);
		assert_int_equal(mkfifo(fifo, 0600), 0);
		if (cases[i].trace[0] == '/')
			snprintf(named, sizeof(named), "%s", cases[i].trace);
		else
			snprintf(named, sizeof(named), "%s/%s", dir,
				 cases[i].trace);
		assert_int_equal(scenario_load(path, &s, &e), cases[i].ret);
		snprintf(want, sizeof(want),
			 "%s:5: workload[0].trace: %s: expected a trace (a "
			 "regular file), got %s",
			 path, named, cases[i].got);
		expect_msg(i, e.msg, want);
		remove_dir(dir);
	}
}

/* The topology file a scenario names: a regular file holding a topology
 * mapping, whose messages never quote it, whatever file it is. */
static void test_topology_file_not_quoted(void **state)
{
	static const struct {
		const char *text, *msg; /* msg after "DIR/topo/t.yaml:" */
	} cases[] = {
		/* a password file: its lines end in ':', keys to YAML */
		{"root:$6$hunter2:19000:0:99999:7:::\n"
		 "daemon:*:19000:0:99999:7:::\n",
		 "1: unknown key (not quoted); valid keys: vms, rack_size, "
		 "vm_link, registry_link, rack_uplink, delay"},
		/* one long plain scalar */
		{"hunter2 is\nthe password\n",
		 "1: expected a mapping of topology keys like \"vms: 16\", got "
		 "a value"},
		{"password: hunter2\n",
		 "1: unknown key (not quoted); valid keys: vms, rack_size, "
		 "vm_link, registry_link, rack_uplink, delay"},
		{"vms: hunter2\n", "1: vms: expected a whole number like 16, "
				   "got a value"},
		{"vm_link: { rate: hunter2 }\n",
		 "1: vm_link.rate: expected a rate like 100mbit, got a value"},
		{"vms: 999999999\n", "1: vms: expected 1 to 4096 VMs"},
		{"", "1: expected a mapping of topology keys like \"vms: 16\", "
		     "got nothing"},
		{"vms: 8\n\x01hunter2\n", "2: expected a topology file (text), "
					  "got a control byte or one that is "
					  "not UTF-8"},
	};
	static const struct {
		const char *topo, *got;
		int ret;
	} kinds[] = {
		{"/dev/zero", "a device", -EINVAL},
		{"/", "a folder", -EISDIR},
	};
	char topo[PATH_MAX], path[PATH_MAX], want[PATH_MAX * 2 + 256];
	char text[512];
	struct scenario s;
	struct err e = {""};
	char *dir;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		dir = make_dir();
		write_file(dir, "topo/t.yaml", cases[i].text, topo,
			   sizeof(topo));
		write_file(dir, "s.yaml", BASE "topology: topo/t.yaml\n", path,
			   sizeof(path));
		assert_int_equal(scenario_load(path, &s, &e), -EINVAL);
		snprintf(want, sizeof(want), "%s:%s", topo, cases[i].msg);
		expect_msg(i, e.msg, want);
		assert_null(strstr(e.msg, "hunter2"));
		remove_dir(dir);
	}

	/* a device, a folder: refused from the line that names them */
	dir = make_dir();
	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		snprintf(text, sizeof(text), BASE "topology: %s\n",
			 kinds[i].topo);
		write_file(dir, "s.yaml", text, path, sizeof(path));
		assert_int_equal(scenario_load(path, &s, &e), kinds[i].ret);
		snprintf(want, sizeof(want),
			 "%s:8: topology: %s: expected a topology file (a "
			 "regular file), got %s",
			 path, kinds[i].topo, kinds[i].got);
		expect_msg(i, e.msg, want);
	}
	remove_dir(dir);
}

/* run checks that each layout is an OCI layout folder before it builds
 * anything: not a file, not missing, its files not links. */
static void test_check_layouts(void **state)
{
	char *dir = make_dir();
	char path[PATH_MAX], f[PATH_MAX], want[PATH_MAX * 2 + 200];
	struct scenario s;
	struct err e = {""};

	(void)state;
	write_file(dir, "s.yaml",
		   "name: t\n"
		   "images:\n"
		   "  - { name: py, size: 1MB }\n"
		   "  - { name: real, layout: img }\n"
		   "functions: [{ name: f1, image: real }]\n"
		   "workload: [{ at: 0s, invoke: f1 }]\n",
		   path, sizeof(path));
	assert_int_equal(scenario_load(path, &s, &e), 0);
	/* missing */
	assert_int_equal(scenario_check_layouts(&s, &e), -ENOENT);
	snprintf(want, sizeof(want),
		 "%s:4: images[1].layout: %s/img: No such file or directory",
		 path, dir);
	assert_string_equal(e.msg, want);
	/* a file */
	write_file(dir, "img", "x", f, sizeof(f));
	assert_int_equal(scenario_check_layouts(&s, &e), -ENOTDIR);
	assert_non_null(strstr(e.msg, "expected an OCI layout folder, got a "
				      "file"));
	assert_int_equal(unlink(f), 0);
	/* a folder without its files, then index.json a link */
	write_file(dir, "img/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}",
		   f, sizeof(f));
	assert_int_equal(scenario_check_layouts(&s, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "(with index.json, a regular file), "
				      "got none"));
	snprintf(f, sizeof(f), "%s/img/index.json", dir);
	assert_int_equal(symlink("/etc/passwd", f), 0);
	assert_int_equal(scenario_check_layouts(&s, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "got a symbolic link"));
	assert_int_equal(unlink(f), 0);
	write_file(dir, "img/index.json", "{}", f, sizeof(f));
	assert_int_equal(scenario_check_layouts(&s, &e), 0);
	scenario_free(&s);
	remove_dir(dir);
}

static void test_schedule_cap(void **state)
{
	/* one ramp of 1.1 million */
	static const char one[] =
		"name: t\n"
		"images: [{ name: py, size: 1MB }]\n"
		"functions: [{ name: f1, image: py }]\n"
		"workload:\n"
		"  - { from: 0s, to: 11s, invoke: f1, rate: 100000 }\n";
	/* two that fit alone but not together */
	static const char two[] =
		"name: t\n"
		"images: [{ name: py, size: 1MB }]\n"
		"functions: [{ name: f1, image: py }]\n"
		"workload:\n"
		"  - { from: 0s, to: 6s, invoke: f1, rate: 100000 }\n"
		"  - { at: 0s, invoke: f1 }\n"
		"  - { from: 0s, to: 5s, invoke: f1, rate: 100000 }\n";
	/* exactly the cap */
	static const char exact[] =
		"name: t\n"
		"images: [{ name: py, size: 1MB }]\n"
		"functions: [{ name: f1, image: py }]\n"
		"workload:\n"
		"  - { from: 0s, to: 9999990us, invoke: f1, rate: 100000 }\n"
		"  - { at: 0s, invoke: f1 }\n";
	struct scenario_invocation *v = NULL;
	struct scenario s;
	struct err e = {""};
	size_t n;

	(void)state;
	assert_int_equal(parse(one, &s, &e), 0);
	assert_int_equal(scenario_schedule(&s, -1, &v, &n, &e), -E2BIG);
	assert_string_equal(e.msg, "x.yaml:5: workload[0]: expected at most "
				   "1000000 invocations in all, got more");
	assert_null(v);
	scenario_free(&s);

	assert_int_equal(parse(two, &s, &e), 0);
	assert_int_equal(scenario_schedule(&s, -1, &v, &n, &e), -E2BIG);
	assert_string_equal(e.msg, "x.yaml:7: workload[2]: expected at most "
				   "1000000 invocations in all, got more");
	assert_null(v);
	scenario_free(&s);

	assert_int_equal(parse(exact, &s, &e), 0);
	assert_int_equal(scenario_schedule(&s, -1, &v, &n, &e), 0);
	assert_int_equal(n, SCENARIO_MAX_INVOCATIONS);
	/* among the zeros the ramp's (written first), then the at step's */
	assert_true(v[0].t_ns == 0 && v[1].t_ns == 0 && v[2].t_ns == 10000);
	assert_true(v[n - 1].t_ns == 9999980000);
	free(v);
	scenario_free(&s);
}

static void test_schedule_trace_cap(void **state)
{
	char *dir = make_dir();
	char csvpath[PATH_MAX], path[PATH_MAX], want[PATH_MAX + 128];
	struct scenario_invocation *v = NULL;
	struct scenario s;
	struct err e = {""};
	size_t n, i;
	FILE *f;

	(void)state;
	write_file(dir, "t.csv", "", csvpath, sizeof(csvpath));
	f = fopen(csvpath, "w");
	assert_non_null(f);
	for (i = 0; i < 11; i++)
		fprintf(f, "%zus,f1\n", i);
	assert_int_equal(fclose(f), 0);
	write_file(dir, "s.yaml",
		   "name: t\n"
		   "images: [{ name: py, size: 1MB }]\n"
		   "functions: [{ name: f1, image: py }]\n"
		   "workload:\n"
		   "  - { from: 0s, to: 9999990us, invoke: f1, rate: 100000 }\n"
		   "  - { trace: t.csv }\n",
		   path, sizeof(path));
	assert_int_equal(scenario_load(path, &s, &e), 0);
	assert_int_equal(scenario_schedule(&s, -1, &v, &n, &e), -E2BIG);
	/* 999999 from the ramp: the trace passes the cap */
	snprintf(want, sizeof(want),
		 "%s:6: workload[1]: expected at most 1000000 invocations in "
		 "all, got more",
		 path);
	assert_string_equal(e.msg, want);
	assert_null(v);
	scenario_free(&s);
	remove_dir(dir);
}

/* ---- scaling ---- */

static void test_scaled_topology(void **state)
{
	static const char text[] = BASE "scale: 0.05\n"
					"topology:\n"
					"  vms: 16\n"
					"  rack_size: 8\n"
					"  vm_link: { rate: 1gbit }\n"
					"  registry_link: { rate: 2.5gbit }\n"
					"  rack_uplink: { rate: 10gbit }\n"
					"  delay: 1ms\n";
	struct topo_spec t;
	struct scenario s;
	struct err e = {""};

	(void)state;
	assert_int_equal(parse(text, &s, &e), 0);
	memset(&t, 0xa5, sizeof(t));
	scenario_scaled_topology(&s, &t);
	assert_true(t.vm_rate_bps == 50 * MBIT);
	assert_true(t.registry_rate_bps == 125 * MBIT);
	assert_true(t.uplink_rate_bps == 500 * MBIT);
	/* control messages do not shrink: the manager keeps the VM rate */
	assert_true(t.manager_rate_bps == GBIT);
	/* counts and delays are not bandwidths */
	assert_int_equal(t.vms, 16);
	assert_int_equal(t.rack_size, 8);
	assert_true(t.delay_ns == MS);
	assert_string_equal(t.source, "x.yaml");
	/* the spec as written is left alone */
	assert_true(s.topo.vm_rate_bps == GBIT);

	/* an unshaped uplink stays unshaped; tiny rates stop at 1kbit */
	s.topo.uplink_rate_bps = 0;
	s.topo.vm_rate_bps = 2 * MBIT;
	s.scale = 0.0001;
	scenario_scaled_topology(&s, &t);
	assert_true(t.uplink_rate_bps == 0);
	assert_true(t.vm_rate_bps == 1000);
	assert_true(t.registry_rate_bps == 250000);

	s.scale = 1;
	scenario_scaled_topology(&s, &t);
	assert_true(t.vm_rate_bps == 2 * MBIT);
	assert_true(t.registry_rate_bps == 2500 * MBIT);
	scenario_free(&s);
}

static void test_scaled_size(void **state)
{
	static const char text[] =
		"name: t\n"
		"scale: 0.05\n"
		"images:\n"
		"  - { name: py, size: 758MB }\n"
		"  - { name: small, size: 10MB }\n"
		"  - { name: tiny, size: 100KB }\n"
		"  - { name: real, layout: images/real }\n"
		"  - { name: big-blocks, size: 1GiB, block_size: 64MiB }\n"
		"functions: [{ name: f1, image: py }]\n"
		"workload: [{ at: 0s, invoke: f1 }]\n";
	static const double scales[] = {1,    0.5,  0.333, 0.1,
					0.05, 0.02, 0.01,  0.005};
	struct scenario s;
	struct err e = {""};
	unsigned i, k;

	(void)state;
	assert_int_equal(parse(text, &s, &e), 0);
	/* a converted image is what it is */
	assert_true(scenario_scaled_size(&s, 3) == 0);
	assert_true(scenario_scaled_size(&s, 5) == 0); /* no such image */
	/* At every scale: exactly the full-size image's number of blocks,
	 * and size and block within a byte of size x scale and block x
	 * scale (rounding to 4 KiB pages was 17% off at 0.02). */
	for (k = 0; k < sizeof(scales) / sizeof(scales[0]); k++) {
		s.scale = scales[k];
		for (i = 0; i < 5; i++) {
			const struct scenario_image *im = &s.images[i];
			uint64_t sz = scenario_scaled_size(&s, i);
			uint64_t bs = scenario_scaled_block_size(&s, i);

			if (im->layout[0])
				continue;
			assert_true((sz + bs - 1) / bs ==
				    (im->size + im->block_size - 1) /
					    im->block_size);
			assert_true(sz <= im->size);
			assert_true(fabs((double)bs - (double)im->block_size *
							      s.scale) <= 0.5);
			assert_true(fabs(scenario_size_error(&s, i)) < 1e-3);
		}
	}
	s.scale = 1;
	assert_true(scenario_scaled_size(&s, 0) == 758000000);
	assert_true(scenario_scaled_block_size(&s, 0) == 512 * 1024);
	/* Where the block hits the format's floor, the count stays exact
	 * and the size grows, and says by how much. */
	s.scale = 0.001;
	assert_true(scenario_scaled_block_size(&s, 0) ==
		    BLOCKIMG_MIN_BLOCK_SIZE);
	assert_true((scenario_scaled_size(&s, 0) + BLOCKIMG_MIN_BLOCK_SIZE -
		     1) / BLOCKIMG_MIN_BLOCK_SIZE ==
		    (758000000 + 524287) / 524288);
	assert_true(scenario_size_error(&s, 0) > 0.9);
	scenario_free(&s);
}

/* The shipped quickstart parses, and says what the docs say it does. */
static void test_quickstart(void **state)
{
	struct scenario s;
	struct err e = {""};
	int ret;

	(void)state;
	ret = scenario_load("scenarios/quickstart.yaml", &s, &e);
	if (ret == -ENOENT)
		skip(); /* run from elsewhere than the repository's root */
	if (ret)
		fail_msg("%s", e.msg);
	assert_string_equal(s.name, "quickstart");
	assert_int_equal(s.topo.vms, 16);
	assert_int_equal(s.nstrategies, 5);
	assert_true(s.scale > 0 && s.scale < 1);
	scenario_free(&s);
}

/* Every scenario the project ships loads, and its schedule expands for
 * every sweep value: a key renamed or a limit tightened cannot leave one
 * of them broken until someone runs it. */
static void test_every_shipped_scenario(void **state)
{
	struct scenario_invocation *inv;
	struct scenario s;
	struct err e = {""};
	struct dirent *de;
	char path[512];
	unsigned seen = 0;
	int sw;
	size_t n;
	DIR *d = opendir("scenarios");

	(void)state;
	if (!d)
		skip(); /* run from elsewhere than the repository's root */
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml"))
			continue;
		snprintf(path, sizeof(path), "scenarios/%s", de->d_name);
		if (scenario_load(path, &s, &e))
			fail_msg("%s", e.msg);
		for (sw = s.nsweep ? 0 : -1; sw < (int)s.nsweep; sw++) {
			if (scenario_schedule(&s, sw, &inv, &n, &e))
				fail_msg("%s, sweep value %d: %s", path, sw,
					 e.msg);
			assert_true(n > 0);
			free(inv);
		}
		scenario_free(&s);
		seen++;
	}
	closedir(d);
	/* quickstart, the figures, tree-maintenance */
	assert_true(seen >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_shipped_scenario),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_dilation),
		cmocka_unit_test(test_startup_compute),
		cmocka_unit_test(test_any_order),
		cmocka_unit_test(test_runtime_start),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_topology_path),
		cmocka_unit_test(test_topology_path_errors),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_null_err),
		cmocka_unit_test(test_serve),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_sweep_vms),
		cmocka_unit_test(test_strategy_names),
		cmocka_unit_test(test_schedule_at_order),
		cmocka_unit_test(test_schedule_stable_many),
		cmocka_unit_test(test_schedule_sweep),
		cmocka_unit_test(test_schedule_ramp),
		cmocka_unit_test(test_schedule_trace),
		cmocka_unit_test(test_trace_errors_at_load),
		cmocka_unit_test(test_trace_not_a_file),
		cmocka_unit_test(test_topology_file_not_quoted),
		cmocka_unit_test(test_check_layouts),
		cmocka_unit_test(test_schedule_cap),
		cmocka_unit_test(test_schedule_trace_cap),
		cmocka_unit_test(test_scaled_topology),
		cmocka_unit_test(test_scaled_size),
		cmocka_unit_test(test_quickstart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

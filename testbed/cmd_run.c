/* run and report: a scenario file into a results folder, and a results
 * folder's plots drawn again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockimg.h"
#include "cmds.h"
#include "jsonout.h"
#include "report.h"
#include "run.h"
#include "scenario.h"
#include "strategy.h"
#include "units.h"
#include "util.h"

static void usage(FILE *f)
{
	unsigned i;

	fprintf(f, "usage: faasnet-testbed run SCENARIO.yaml [--out DIR] "
		   "[--strategies a,b] [--json] [--check]\n"
		   "         [--allow-degraded] [--dilation K|auto] "
		   "[--timeout DURATION]\n"
		   "  Builds the scenario's network, starts the registry, "
		   "the manager and an\n  agent per VM for each strategy, "
		   "drives the workload, tears everything\n  down and writes "
		   "the results folder (default results/NAME-TIME).\n"
		   "  --check           read the scenario, show what it would "
		   "run, and stop.\n"
		   "  --allow-degraded  exit 0 when runs are degraded (still "
		   "reported).\n"
		   "  --dilation K|auto run the world K times slower than "
		   "the wall clock\n                    (the scenario's "
		   "dilation: by default 1).\n"
		   "  --timeout DURATION  instead of the scenario's time-out "
		   "(world time: how long\n                    a run waits "
		   "after its last "
		   "invocation).\n"
		   "Exit status: 0 every container started and every run's "
		   "fidelity is ok;\n  1 the run could not be completed; 2 bad "
		   "usage or input; 3 containers\n  failed to start; 4 every "
		   "container started but a run was degraded.\n"
		   "Strategies:\n");
	for (i = 0; i < strategy_count(); i++)
		fprintf(f, "  %-11s %s\n", strategy_name(i),
			strategy_at(i)->about);
}

/* --dilation: a number from 1 to SCENARIO_MAX_DILATION, or auto (0), as
 * the scenario's key. */
static int parse_dilation(const char *s, double *k)
{
	if (!strcmp(s, "auto")) {
		*k = 0;
		return 0;
	}
	return units_parse_number(s, 1, SCENARIO_MAX_DILATION, k);
}

/* --check: the scenario as it would run, without running it. */
static int show(const struct scenario *s, struct err *e)
{
	struct scenario_invocation *inv = NULL;
	struct topo_spec t;
	char r1[32], r2[32], sz[32], bs[32], sweepv[24] = "";
	size_t n, total = 0, i;
	int sw, nsw = s->nsweep ? (int)s->nsweep : 1, ret;
	unsigned k;

	scenario_scaled_topology(s, &t);
	printf("%s: %u VMs, VM links %s, registry link %s (scale %g)\n",
	       s->name, t.vms, units_format_rate(r1, sizeof(r1), t.vm_rate_bps),
	       units_format_rate(r2, sizeof(r2), t.registry_rate_bps),
	       s->scale);
	if (s->dilation > 1.0)
		printf("  dilation %g: the world runs %g times slower than the "
		       "wall clock (links at 1/%g of these rates)\n",
		       s->dilation, s->dilation, s->dilation);
	else if (s->dilation == 0)
		printf("  dilation auto: from 1, raised for a run whose "
		       "fidelity is degraded\n");
	for (k = 0; k < s->nimages; k++) {
		const struct scenario_image *im = &s->images[k];

		printf("  image %s: %s in blocks of %s, ", im->name,
		       im->layout[0]
			       ? im->layout
			       : units_format_size(sz, sizeof(sz),
						   scenario_scaled_size(s, k)),
		       units_format_size(bs, sizeof(bs),
					 scenario_scaled_block_size(s, k)));
		/* A layout's start is its recorded trace when it has one
		 * (convert keeps it); only then is the fraction unused. */
		if (im->layout[0])
			printf("start-up: the layout's recorded trace, or "
			       "%.1f%% of its bytes drawn if it has none\n",
			       100 * im->startup_fraction);
		else if (im->startup_compute_ns)
			printf("start-up reads %.1f%% of its bytes, a trace "
			       "with %g s of compute\n",
			       100 * im->startup_fraction,
			       (double)im->startup_compute_ns / 1e9);
		else
			printf("start-up reads %.1f%% of its bytes\n",
			       100 * im->startup_fraction);
	}
	printf("  %u functions; strategies:", s->nfunctions);
	for (k = 0; k < s->nstrategies; k++)
		printf(" %s", strategy_name(s->strategies[k]));
	printf("; %u repetition(s)\n", s->repetitions);
	if (s->serve.on) {
		printf("  serve: a request holds a slot %g s, %u slot(s) per "
		       "container, the autoscaler keeps %.0f%% busy (rate over "
		       "%g s), ",
		       (double)s->serve.service_ns / 1e9, s->serve.concurrency,
		       100 * s->serve.utilization,
		       (double)s->serve.window_ns / 1e9);
		if (s->reclaim_ns)
			printf("idle containers released after %g s\n",
			       (double)s->reclaim_ns / 1e9);
		else
			printf("idle containers never released\n");
	}
	for (sw = 0; sw < nsw; sw++) {
		ret = scenario_schedule(s, s->nsweep ? sw : -1, &inv, &n, e);
		if (ret)
			return ret;
		for (i = 0, total = 0; i < n; i++)
			total += inv[i].containers;
		if (s->nsweep)
			snprintf(sweepv, sizeof(sweepv), " = %u", s->sweep[sw]);
		printf("  run%s%s%s: %zu invocations, %zu %s, last at %.1f s\n",
		       s->nsweep ? " with " : "",
		       s->nsweep ? s->sweep_param : "", sweepv, n, total,
		       s->serve.on ? "requests" : "containers",
		       n ? (double)inv[n - 1].t_ns / 1e9 : 0.0);
		free(inv);
		inv = NULL;
	}
	return 0;
}

static int parse_strategies(char *list, struct run_opts *o)
{
	char *save = NULL, *t;

	for (t = strtok_r(list, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		int st = strategy_find(t);

		if (o->nstrategies == SCENARIO_MAX_STRATEGIES || st < 0)
			return -EINVAL;
		o->strategies[o->nstrategies++] = (unsigned)st;
	}
	return o->nstrategies ? 0 : -EINVAL;
}

/* A block held at the format's floor makes the image larger than scale
 * says, and every transfer of it longer than at full size. */
static void warn_sizes(const struct scenario *s)
{
	unsigned k;

	for (k = 0; k < s->nimages; k++)
		if (scenario_size_error(s, k) > SCENARIO_SIZE_ERROR_WARN)
			fprintf(stderr,
				"run: warning: image %s at scale %g: its block "
				"would be under the format's %u bytes, so it "
				"is %.0f%% larger than scale says and its "
				"transfers take that much longer\n",
				s->images[k].name, s->scale,
				BLOCKIMG_MIN_BLOCK_SIZE,
				100 * scenario_size_error(s, k));
}

int run_main(int argc, char **argv)
{
	struct run_outcome oc = {0};
	struct run_opts o = {.outcome = &oc};
	struct scenario s;
	struct err e = {""};
	char dir[PATH_MAX] = "";
	const char *file = NULL;
	const char *dilation = NULL, *timeout = NULL;
	uint64_t timeout_ns = 0;
	int i, ret, check = 0, allow_degraded = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			o.out = argv[++i];
		} else if (!strcmp(argv[i], "--strategies") && i + 1 < argc) {
			if (parse_strategies(argv[++i], &o)) {
				char names[256];

				strategy_list(names, sizeof(names), false);
				fprintf(stderr,
					"run: --strategies: expected a "
					"comma-separated list of %s\n",
					names);
				return TESTBED_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--json")) {
			o.json = 1;
		} else if (!strcmp(argv[i], "--check")) {
			check = 1;
		} else if (!strcmp(argv[i], "--allow-degraded")) {
			allow_degraded = 1;
		} else if (!strcmp(argv[i], "--dilation") && i + 1 < argc) {
			dilation = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout = argv[++i];
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			usage(stderr);
			return TESTBED_EXIT_USAGE;
		}
	}
	if (!file) {
		usage(stderr);
		return TESTBED_EXIT_USAGE;
	}
	ret = scenario_load(file, &s, &e);
	if (ret) {
		fprintf(stderr, "%s\n", e.msg);
		return TESTBED_EXIT_USAGE;
	}
	if (dilation && parse_dilation(dilation, &s.dilation)) {
		fprintf(stderr,
			"run: --dilation: expected a number from 1 to %d, or "
			"auto, got \"%s\"\n",
			SCENARIO_MAX_DILATION, dilation);
		scenario_free(&s);
		return TESTBED_EXIT_USAGE;
	}
	/* The scenario's bounds: 1 s to 24 h (docs/scenario-format.md). */
	if (timeout &&
	    (units_parse_duration(timeout, &timeout_ns) ||
	     timeout_ns < 1000000000ull || timeout_ns > 86400000000000ull)) {
		fprintf(stderr,
			"run: --timeout: expected a duration from 1s to 24h "
			"like "
			"60s, got \"%s\"\n",
			timeout);
		scenario_free(&s);
		return TESTBED_EXIT_USAGE;
	}
	if (timeout) {
		fprintf(stderr,
			"run: time-out %g s instead of the scenario's %g s\n",
			(double)timeout_ns / 1e9, (double)s.timeout_ns / 1e9);
		s.timeout_ns = timeout_ns;
	}
	warn_sizes(&s);
	if (check) {
		ret = show(&s, &e);
		if (ret)
			fprintf(stderr, "%s\n", e.msg);
		scenario_free(&s);
		return ret ? TESTBED_EXIT_USAGE : 0;
	}
	/* Here, not at parse: --check shows a scenario whose images are
	 * not built yet. */
	ret = scenario_check_layouts(&s, &e);
	if (ret) {
		fprintf(stderr, "%s\n", e.msg);
		scenario_free(&s);
		return TESTBED_EXIT_USAGE;
	}
	ret = util_need_root("run");
	if (!ret)
		ret = util_lock("run");
	if (ret)
		goto out;
	o.stop = util_catch_signals();
	ret = run_scenario(&s, &o, dir, &e);
	if (ret)
		fprintf(stderr, "run: %s\n", e.msg);
	if (o.json && dir[0])
		jsonout_print(json_pack(
			"{s:s, s:s, s:b, s:i, s:i}", "results", dir, "scenario",
			s.name, "ok", !ret, "failed", (int)oc.failed,
			"runs_degraded", (int)oc.runs_degraded));
	/* A failed container says more than a degraded run: the host may
	 * be why, but the containers are what the run was for. */
	if (ret)
		ret = TESTBED_EXIT_FAILED;
	else if (oc.failed)
		ret = TESTBED_EXIT_CONTAINERS;
	else if (oc.runs_degraded && !allow_degraded)
		ret = TESTBED_EXIT_DEGRADED;
	if (!ret && oc.runs_degraded)
		fprintf(stderr, "run: %u run(s) degraded (allowed)\n",
			oc.runs_degraded);
	else if (ret == TESTBED_EXIT_CONTAINERS)
		fprintf(stderr, "run: %u container(s) did not start\n",
			oc.failed);
	else if (ret == TESTBED_EXIT_DEGRADED)
		fprintf(stderr,
			"run: %u run(s) degraded: the host, not the emulated "
			"network, set the pace (see report.md; "
			"--allow-degraded exits 0)\n",
			oc.runs_degraded);
out:
	scenario_free(&s);
	return ret;
}

int report_main(int argc, char **argv)
{
	struct err e = {""};

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: faasnet-testbed report RESULTS-DIR\n"
				"  Draws the plots again from "
				"RESULTS-DIR/containers.csv.\n");
		return TESTBED_EXIT_USAGE;
	}
	if (report_plots(argv[1], &e)) {
		fprintf(stderr, "report: %s\n", e.msg);
		return TESTBED_EXIT_FAILED;
	}
	fprintf(stderr, "report: plots drawn in %s\n", argv[1]);
	return 0;
}

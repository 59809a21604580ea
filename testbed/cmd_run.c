/* run and report: a scenario file into a results folder, and a results
 * folder's plots drawn again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "jsonout.h"
#include "report.h"
#include "run.h"
#include "scenario.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: faasnet-testbed run SCENARIO.yaml [--out DIR] "
		   "[--strategies a,b] [--json]\n"
		   "  Builds the scenario's network, starts the registry, "
		   "the manager and an\n  agent per VM for each strategy, "
		   "drives the workload, tears everything\n  down and writes "
		   "the results folder (default results/NAME-TIME).\n");
}

static int parse_strategies(char *list, struct run_opts *o)
{
	char *save = NULL, *t;

	for (t = strtok_r(list, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (o->nstrategies == SCENARIO_NSTRATEGIES ||
		    scenario_strategy_parse(t, &o->strategies[o->nstrategies]))
			return -EINVAL;
		o->nstrategies++;
	}
	return o->nstrategies ? 0 : -EINVAL;
}

int run_main(int argc, char **argv)
{
	struct run_opts o = {0};
	struct scenario s;
	struct err e = {""};
	char dir[PATH_MAX] = "";
	const char *file = NULL;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			o.out = argv[++i];
		} else if (!strcmp(argv[i], "--strategies") && i + 1 < argc) {
			if (parse_strategies(argv[++i], &o)) {
				fprintf(stderr, "run: --strategies: expected a "
						"list of faasnet, ondemand, "
						"registry, bittorrent\n");
				return TESTBED_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--json")) {
			o.json = 1;
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
		jsonout_print(json_pack("{s:s, s:s, s:b}", "results", dir,
					"scenario", s.name, "ok", !ret));
	ret = ret ? TESTBED_EXIT_FAILED : 0;
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

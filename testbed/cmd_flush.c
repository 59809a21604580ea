/* flush: empties the neighbour tables and TCP metrics of the network `up`
 * made, as `run` does before each strategy run (topo/flush.h); for trying
 * things by hand between runs, and for timing it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "build.h"
#include "cmds.h"
#include "flush.h"
#include "jsonout.h"
#include "plan.h"
#include "util.h"

static void flush_usage(FILE *f)
{
	fprintf(f, "usage: faasnet-testbed flush [--json]\n"
		   "  Empties the IPv4 neighbour table and the TCP metrics "
		   "cache of every\n  namespace of the network `up` made.\n");
}

int flush_main(int argc, char **argv)
{
	struct topo_plan plan = {0};
	struct topo_spec spec;
	struct flush_stats st = {0};
	struct err e = {""};
	int json = 0, i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--help")) {
			flush_usage(stdout);
			return 0;
		} else {
			flush_usage(stderr);
			return TESTBED_EXIT_USAGE;
		}
	}
	ret = util_need_root("flush");
	if (!ret)
		ret = util_lock("flush");
	if (ret)
		return ret;
	ret = topo_state_load(&spec, &e);
	if (ret == -ENOENT) {
		fprintf(stderr, "flush: nothing is up (`up` first)\n");
		return TESTBED_EXIT_FAILED;
	}
	if (!ret)
		ret = topo_plan_make(&spec, &plan, &e);
	if (!ret)
		ret = flush_plan(&plan, &st, &e);
	if (ret) {
		fprintf(stderr, "flush: %s\n", e.msg);
		ret = TESTBED_EXIT_FAILED;
		goto out;
	}
	fprintf(stderr,
		"flush: neighbours (%u entries) and TCP metrics of %u "
		"namespaces in %.1f ms\n",
		st.neigh, st.netns, (double)st.elapsed_ns / 1e6);
	if (json &&
	    jsonout_print(json_pack("{s:i, s:i, s:f}", "netns", (int)st.netns,
				    "neigh", (int)st.neigh, "seconds",
				    (double)st.elapsed_ns / 1e9)))
		ret = TESTBED_EXIT_FAILED;
out:
	topo_plan_free(&plan);
	return ret;
}

/* registry: start or stop the run's OCI registry by hand, for people who
 * want to poke at it (`faasnet-testbed up` first). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "regproc.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: faasnet-testbed registry start [--storage DIR] "
		   "[--json]\n"
		   "       faasnet-testbed registry stop [--json]\n"
		   "  Runs Debian's docker-registry in fnet-registry (the "
		   "testbed must be up),\n  storing blobs under DIR "
		   "(default results/registry). Its URL answers from\n  the "
		   "initial namespace too.\n");
}

int registry_main(int argc, char **argv)
{
	const char *storage = "results/registry";
	struct regproc rp;
	struct err e = {""};
	int json = 0, start, i, ret;

	if (argc < 2 || (strcmp(argv[1], "start") && strcmp(argv[1], "stop"))) {
		usage(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc > 1 && !strcmp(argv[1], "--help")
			       ? 0
			       : TESTBED_EXIT_USAGE;
	}
	start = !strcmp(argv[1], "start");
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (start && !strcmp(argv[i], "--storage") &&
			   i + 1 < argc) {
			storage = argv[++i];
		} else {
			usage(stderr);
			return TESTBED_EXIT_USAGE;
		}
	}
	ret = util_need_root("registry");
	if (!ret)
		ret = util_lock("registry");
	if (ret)
		return ret;
	if (start) {
		ret = regproc_start(storage, &rp, &e);
		if (ret) {
			fprintf(stderr, "registry: %s\n", e.msg);
			return TESTBED_EXIT_FAILED;
		}
		fprintf(stderr, "registry: %s (pid %d), storage %s\n", rp.url,
			(int)rp.pid, rp.storage);
		if (json && jsonout_print(json_pack(
				    "{s:s, s:s, s:i}", "url", rp.url, "storage",
				    rp.storage, "pid", (int)rp.pid)))
			return TESTBED_EXIT_FAILED;
		return 0;
	}
	ret = regproc_recorded(&rp);
	if (regproc_stop_recorded(&e)) {
		fprintf(stderr, "registry: %s\n", e.msg);
		return TESTBED_EXIT_FAILED;
	}
	fprintf(stderr, "registry: %s\n", ret ? "none was running" : "stopped");
	if (json && jsonout_print(json_pack("{s:b}", "stopped", !ret)))
		return TESTBED_EXIT_FAILED;
	return 0;
}

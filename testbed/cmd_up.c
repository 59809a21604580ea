/* up, down and clean: the life cycle of the emulated network. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "hostlimits.h"
#include "cmds.h"
#include "config.h"
#include "feature_probe.h"
#include "plan.h"
#include "procs.h"
#include "regproc.h"
#include "units.h"
#include "util.h"

static void up_usage(FILE *f)
{
	fprintf(f,
		"usage: faasnet-testbed up [TOPOLOGY.yaml] [--vms N] [--json]\n"
		"  Builds the emulated network (the built-in default topology "
		"when no\n  file is given) and leaves it up until `down`.\n"
		"  --vms N   override the number of VMs\n"
		"  --json    print one JSON object on stdout\n");
}

static int parse_count(const char *s, unsigned *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || n > 1000000)
		return -EINVAL;
	*v = (unsigned)n;
	return 0;
}

int up_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"vms", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct topo_build_opts bo = {.progress = util_progress};
	struct util_progress prog;
	struct topo_spec spec, cur;
	struct topo_plan plan;
	char rate[32];
	int json = 0, c, ret;
	unsigned vms = 0;
	int have_vms = 0;
	struct err e = {""};
	double t0, secs;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_count(optarg, &vms)) {
				fprintf(stderr,
					"up: --vms: expected a number "
					"of VMs, got \"%s\"\n",
					optarg);
				return TESTBED_EXIT_USAGE;
			}
			have_vms = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			up_usage(stdout);
			return 0;
		default:
			up_usage(stderr);
			return TESTBED_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		up_usage(stderr);
		return TESTBED_EXIT_USAGE;
	}
	ret = 0;
	if (optind < argc)
		ret = topo_config_load(argv[optind], &spec, &e);
	else
		topo_spec_default(&spec);
	if (ret) {
		fprintf(stderr, "%s\n", e.msg);
		return TESTBED_EXIT_USAGE;
	}
	if (have_vms)
		spec.vms = vms;
	ret = topo_plan_make(&spec, &plan, &e);
	if (ret) {
		/* The file's lines were checked when it was read: a range
		 * error now comes from --vms. */
		fprintf(stderr, "%s: %s\n",
			have_vms ? "up: --vms" : spec.source, e.msg);
		return TESTBED_EXIT_USAGE;
	}
	ret = util_need_root("up");
	if (!ret)
		ret = util_lock("up");
	if (ret)
		goto out;
	if (topo_state_load(&cur, &e) != -ENOENT) {
		fprintf(stderr,
			"up: a testbed is up already (%s); run "
			"`faasnet-testbed down` first\n",
			TOPO_STATE_DIR "/topology.yaml");
		ret = TESTBED_EXIT_FAILED;
		goto out;
	}

	if (spec.delay_ns) {
		struct topo_features f;

		if (topo_features_probe(&f, &e)) {
			fprintf(stderr, "up: cannot probe for netem: %s\n",
				e.msg);
			ret = TESTBED_EXIT_FAILED;
			goto out;
		}
		if (!f.have[TOPO_F_NETEM]) {
			fprintf(stderr,
				"%s:%u: delay: this kernel has no netem, so a "
				"one-way delay cannot be emulated here; set "
				"delay: 0 (see faasnet-testbed probe)\n",
				spec.source, spec.delay_line);
			ret = TESTBED_EXIT_USAGE;
			goto out;
		}
	}

	bo.stop = util_catch_signals();
	util_progress_init(&prog, "up: hosts");
	bo.arg = &prog;
	t0 = util_now();
	ret = topo_build(&plan, &bo, &e);
	secs = util_now() - t0;
	util_progress_end(&prog);
	if (!ret) {
		ret = topo_state_save(&spec, &e);
		if (ret) {
			/* Without the state, down would not know; so the
			 * network does not stay either. */
			struct err ce;

			topo_clean(NULL, &ce);
		}
	}
	if (ret) {
		fprintf(stderr, "up: %s\n", e.msg);
		if (ret != -EEXIST)
			fprintf(stderr, "up: removed what was built\n");
		ret = TESTBED_EXIT_FAILED;
		goto out;
	}
	fprintf(stderr,
		"up: %u VMs in %u rack%s, plus registry and manager: %u "
		"namespaces, %u bridges, %u links at %s, in %.2f s\n",
		spec.vms, plan.nracks, plan.nracks == 1 ? "" : "s", plan.nhosts,
		plan.nracks + 1, plan.nhosts + plan.nracks,
		units_format_rate(rate, sizeof(rate), spec.vm_rate_bps), secs);
	if (json &&
	    jsonout_print(json_pack(
		    "{s:i, s:i, s:i, s:I, s:f}", "vms", (int)spec.vms, "racks",
		    (int)plan.nracks, "hosts", (int)plan.nhosts, "vm_rate_bps",
		    (json_int_t)spec.vm_rate_bps, "seconds", secs)))
		ret = TESTBED_EXIT_FAILED;
out:
	topo_plan_free(&plan);
	return ret;
}

static int teardown(const char *cmd, int argc, char **argv)
{
	struct topo_clean_stats st;
	struct err e = {""};
	double t0, secs;
	int json = 0, i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--help")) {
			printf("usage: faasnet-testbed %s [--json]\n", cmd);
			return 0;
		} else {
			fprintf(stderr, "usage: faasnet-testbed %s [--json]\n",
				cmd);
			return TESTBED_EXIT_USAGE;
		}
	}
	ret = util_need_root(cmd);
	if (!ret)
		ret = util_lock(cmd);
	if (ret)
		return ret;
	if (!strcmp(cmd, "down")) {
		struct topo_spec spec;

		if (topo_state_load(&spec, &e) == 0)
			fprintf(stderr, "down: taking down %u VMs\n", spec.vms);
		else
			fprintf(stderr, "down: nothing was up; removing any "
					"leftovers\n");
	}
	/* The registry first: it holds its namespace, and it is ours to end,
	 * by the PID it was recorded with. */
	if (regproc_stop_recorded(&e))
		fprintf(stderr, "%s: %s\n", cmd, e.msg);
	i = procs_clean_recorded();
	if (i)
		fprintf(stderr, "%s: ended %d processes of a run\n", cmd, i);
	/* Ctrl-C in the middle would leave a half-removed network that
	 * `clean` has to finish: let it run to the end instead. */
	signal(SIGINT, SIG_IGN);
	t0 = util_now();
	ret = topo_clean(&st, &e);
	secs = util_now() - t0;
	if (ret)
		fprintf(stderr, "%s: %s\n", cmd, e.msg);
	fprintf(stderr, "%s: removed %u namespaces and %u links in %.2f s\n",
		cmd, st.netns, st.links, secs);
	if (json &&
	    jsonout_print(json_pack("{s:i, s:i, s:f}", "netns", (int)st.netns,
				    "links", (int)st.links, "seconds", secs)))
		return TESTBED_EXIT_FAILED;
	return ret ? TESTBED_EXIT_FAILED : 0;
}

int down_main(int argc, char **argv)
{
	return teardown("down", argc, argv);
}

int clean_main(int argc, char **argv)
{
	return teardown("clean", argc, argv);
}

/* calibrate: how much shaped bandwidth this host carries faithfully. Builds
 * a small network of 2N VMs, runs N concurrent TCP flows between VM pairs
 * with the testbed's own traffic code, reports achieved against configured
 * rate per flow, and removes the network again. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "cmds.h"
#include "netns.h"
#include "plan.h"
#include "traffic.h"
#include "units.h"
#include "util.h"

#define CAL_MAX_PAIRS 500
/* TCP payload per 1514-byte frame with timestamps is 1448 bytes, and HTB
 * counts frames: a faithful link shows 95-96% of its rate as goodput. */
#define CAL_LOW	 0.90
#define CAL_HIGH 1.01

struct cal {
	unsigned pairs;
	uint64_t rate_bps;
	double seconds;
	int json;
};

static void cal_usage(FILE *f)
{
	fprintf(f,
		"usage: faasnet-testbed calibrate [--pairs N] [--rate R] "
		"[--seconds S] [--json]\n"
		"  Builds 2N VMs, runs N concurrent shaped TCP flows between "
		"VM "
		"pairs and\n  reports each flow's goodput against the rate, "
		"then removes the network.\n"
		"  --pairs N    concurrent flows (default 10, at most %d)\n"
		"  --rate R     each VM link's rate (default 100mbit)\n"
		"  --seconds S  measured time after a warm-up (default 5s)\n"
		"  --json       print one JSON object on stdout\n",
		CAL_MAX_PAIRS);
}

/* "10s", "500ms", or a bare number of seconds. */
static int parse_seconds(const char *s, double *secs)
{
	uint64_t ns;
	char *end;

	if (!units_parse_duration(s, &ns)) {
		*secs = (double)ns / 1e9;
		return 0;
	}
	*secs = strtod(s, &end);
	return end == s || *end ? -EINVAL : 0;
}

static int parse_args(int argc, char **argv, struct cal *c)
{
	static const struct option opts[] = {
		{"pairs", required_argument, NULL, 'p'},
		{"rate", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	unsigned long n;
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg ||
			    optarg[0] == '-' || !n || n > CAL_MAX_PAIRS) {
				fprintf(stderr,
					"calibrate: --pairs: expected 1 to %d, "
					"got \"%s\"\n",
					CAL_MAX_PAIRS, optarg);
				return TESTBED_EXIT_USAGE;
			}
			c->pairs = (unsigned)n;
			break;
		case 'r':
			if (units_parse_rate(optarg, &c->rate_bps)) {
				fprintf(stderr,
					"calibrate: --rate: expected a rate "
					"like "
					"100mbit, got \"%s\"\n",
					optarg);
				return TESTBED_EXIT_USAGE;
			}
			break;
		case 's':
			if (!parse_seconds(optarg, &c->seconds) &&
			    c->seconds >= 1 && c->seconds <= 3600)
				break;
			fprintf(stderr,
				"calibrate: --seconds: expected 1s to 1h, got "
				"\"%s\"\n",
				optarg);
			return TESTBED_EXIT_USAGE;
		case 'j':
			c->json = 1;
			break;
		case 'h':
			cal_usage(stdout);
			return -1;
		default:
			cal_usage(stderr);
			return TESTBED_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cal_usage(stderr);
		return TESTBED_EXIT_USAGE;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int report(const struct cal *c, const struct topo_plan *plan,
		  const struct traffic_flow *flows)
{
	double *sorted, agg = 0, lo, hi, med;
	char r1[32], r2[32];
	json_t *arr = NULL;
	unsigned i, n = c->pairs;
	int faithful, ret = 0;

	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		sorted[i] = flows[i].goodput_bps;
		agg += flows[i].goodput_bps;
	}
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	lo = sorted[0];
	hi = sorted[n - 1];
	med = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	faithful = lo >= CAL_LOW * (double)c->rate_bps &&
		   hi <= CAL_HIGH * (double)c->rate_bps;

	units_format_rate(r1, sizeof(r1), c->rate_bps);
	fprintf(stderr, "calibrate: %u flows at %s each, %.1f s measured\n", n,
		r1, c->seconds);
	if (n <= 50) {
		for (i = 0; i < n; i++)
			fprintf(stderr, "  %s -> %s  %8.2f Mbit/s  %5.1f%%\n",
				plan->hosts[2 + 2 * i].name,
				plan->hosts[3 + 2 * i].name,
				flows[i].goodput_bps / 1e6,
				100 * flows[i].goodput_bps /
					(double)c->rate_bps);
	}
	fprintf(stderr,
		"  per flow: min %.2f, median %.2f, max %.2f Mbit/s (%.1f%% "
		"to %.1f%% of %s)\n  aggregate: %.1f Mbit/s\n",
		lo / 1e6, med / 1e6, hi / 1e6, 100 * lo / (double)c->rate_bps,
		100 * hi / (double)c->rate_bps, r1, agg / 1e6);
	units_format_rate(r2, sizeof(r2), (uint64_t)agg);
	fprintf(stderr,
		"  verdict: %s (every flow within %.0f%%-%.0f%% of the rate: "
		"%s)\n",
		faithful ? "faithful" : "NOT faithful", CAL_LOW * 100,
		CAL_HIGH * 100, faithful ? "yes" : "no");
	if (!faithful)
		fprintf(stderr,
			"  this host cannot carry %u x %s faithfully; "
			"use fewer flows or a lower rate (scale)\n",
			n, r1);

	if (c->json) {
		arr = json_array();
		for (i = 0; arr && i < n; i++)
			json_array_append_new(
				arr,
				json_pack("{s:s, s:s, s:f, s:f}", "src",
					  plan->hosts[2 + 2 * i].name, "dst",
					  plan->hosts[3 + 2 * i].name,
					  "goodput_bps", flows[i].goodput_bps,
					  "ratio",
					  flows[i].goodput_bps /
						  (double)c->rate_bps));
		ret = jsonout_print(json_pack(
			"{s:I, s:i, s:f, s:f, s:f, s:f, s:f, s:b, s:o}",
			"rate_bps", (json_int_t)c->rate_bps, "pairs", (int)n,
			"seconds", c->seconds, "aggregate_bps", agg, "min_bps",
			lo, "median_bps", med, "max_bps", hi, "faithful",
			faithful, "flows", arr));
	}
	free(sorted);
	return ret;
}

int calibrate_main(int argc, char **argv)
{
	struct cal c = {.pairs = 10, .rate_bps = 100000000, .seconds = 5};
	struct topo_build_opts bo = {0};
	struct traffic_opts to = {0};
	struct traffic_flow *flows = NULL;
	struct topo_spec spec, cur;
	struct topo_plan plan = {0};
	struct err e = {""};
	int *nsfd = NULL;
	unsigned i;
	int ret;

	ret = parse_args(argc, argv, &c);
	if (ret)
		return ret < 0 ? 0 : ret;
	ret = util_need_root("calibrate");
	if (!ret)
		ret = util_lock("calibrate");
	if (ret)
		return ret;
	if (topo_state_load(&cur, &e) != -ENOENT) {
		fprintf(stderr, "calibrate: a testbed is up; it builds its own "
				"network, so run `faasnet-testbed down` "
				"first\n");
		return TESTBED_EXIT_FAILED;
	}
	topo_spec_default(&spec);
	snprintf(spec.source, sizeof(spec.source), "calibrate");
	spec.vms = 2 * c.pairs;
	spec.vm_rate_bps = spec.registry_rate_bps = c.rate_bps;
	ret = topo_plan_make(&spec, &plan, &e);
	if (ret) {
		fprintf(stderr, "calibrate: %s\n", e.msg);
		return TESTBED_EXIT_USAGE;
	}
	flows = calloc(c.pairs, sizeof(*flows));
	nsfd = malloc(spec.vms * sizeof(*nsfd));
	if (!flows || !nsfd) {
		fprintf(stderr, "calibrate: out of memory\n");
		ret = TESTBED_EXIT_FAILED;
		goto out_free;
	}
	for (i = 0; i < spec.vms; i++)
		nsfd[i] = -1;

	bo.stop = to.stop = util_catch_signals();
	fprintf(stderr, "calibrate: building %u VMs\n", spec.vms);
	ret = topo_build(&plan, &bo, &e);
	if (ret) {
		fprintf(stderr, "calibrate: %s\n", e.msg);
		ret = TESTBED_EXIT_FAILED;
		goto out_free;
	}
	for (i = 0; i < spec.vms && !ret; i++) {
		nsfd[i] = netns_open(plan.hosts[2 + i].netns);
		if (nsfd[i] < 0)
			ret = err_set(&e, nsfd[i], "%s: %s",
				      plan.hosts[2 + i].netns,
				      strerror(-nsfd[i]));
	}
	for (i = 0; i < c.pairs && !ret; i++) {
		flows[i].src_nsfd = nsfd[2 * i];
		flows[i].dst_nsfd = nsfd[2 * i + 1];
		flows[i].dst_addr = plan.hosts[3 + 2 * i].addr;
	}
	to.warmup_s = c.seconds >= 4 ? 1.0 : c.seconds / 4;
	to.measure_s = c.seconds;
	if (!ret) {
		fprintf(stderr,
			"calibrate: %u flows for %.1f s (+%.1f s "
			"warm-up)\n",
			c.pairs, to.measure_s, to.warmup_s);
		ret = traffic_run(flows, c.pairs, &to, &e);
	}
	if (ret)
		fprintf(stderr, "calibrate: %s\n", e.msg);
	else if (report(&c, &plan, flows)) {
		fprintf(stderr, "calibrate: cannot write the report\n");
		ret = -EIO;
	}
	for (i = 0; i < spec.vms; i++)
		if (nsfd[i] >= 0)
			close(nsfd[i]);
	if (topo_clean(NULL, &e)) {
		fprintf(stderr, "calibrate: removing the network: %s\n", e.msg);
		ret = -EIO;
	}
	ret = ret ? TESTBED_EXIT_FAILED : 0;
out_free:
	free(nsfd);
	free(flows);
	topo_plan_free(&plan);
	return ret;
}

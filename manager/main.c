/* faasnet-manager: the FT manager, run in the manager host's namespace by
 * the testbed. Thin: options, then manager_run. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "evloop.h"
#include "manager.h"
#include "plan.h"
#include "proto.h"
#include "units.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: faasnet-manager --function NAME=REF [--function ...]\n"
		"         [--listen A.B.C.D[:PORT]] [--strategy "
		"faasnet|ondemand|registry]\n"
		"         [--max-functions N] [--max-containers N] "
		"[--heartbeat-ms N]\n"
		"         [--dead-ms N] [--reclaim-ms N] [--events FILE] "
		"[--dot FILE]\n"
		"         [--seed N] [--dilation K] [--runtime-start NAME=MS "
		"...]\n"
		"         [--journal FILE]\n"
		"  REF is the image in the registry, e.g. "
		"198.18.0.2:5000/fn/py:v1.\n"
		"  --runtime-start: the runtime's start of each container of "
		"NAME, in ms\n"
		"  of the world, sent in PROVISION (default 0).\n"
		"  --journal: every change of state is written to FILE; "
		"started again with\n"
		"  the same arguments, the manager takes up where the last "
		"one stopped.\n");
}

static int parse_uint(const char *s, unsigned *v)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);

	if (*end || end == s || s[0] == '-' || n > 1000000)
		return -1;
	*v = (unsigned)n;
	return 0;
}

/* Seeds are what a scenario's `seed:` allows plus a repetition: well
 * inside JSON's integers, where the manager logs them. */
static int parse_seed(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || n > LLONG_MAX)
		return -1;
	*v = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"function", required_argument, NULL, 'f'},
		{"strategy", required_argument, NULL, 's'},
		{"max-functions", required_argument, NULL, 'F'},
		{"max-containers", required_argument, NULL, 'C'},
		{"heartbeat-ms", required_argument, NULL, 'H'},
		{"dead-ms", required_argument, NULL, 'D'},
		{"reclaim-ms", required_argument, NULL, 'R'},
		{"events", required_argument, NULL, 'e'},
		{"dot", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 'S'},
		{"dilation", required_argument, NULL, 'K'},
		{"runtime-start", required_argument, NULL, 'r'},
		{"journal", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static struct manager_opts o = {
		.addr = TOPO_MANAGER_ADDR,
		.port = TOPO_MANAGER_PORT,
		.strategy = PROTO_STRATEGY_FAASNET,
		.max_functions_per_vm = 20,
		.max_containers_per_vm = 1,
		.heartbeat_ms = 500,
		.dead_ms = 2000,
		.seed = 1,
	};
	struct err e = {""};
	/* NAME=MS, applied once every --function is known */
	static char *runtime[MANAGER_MAX_FUNCTIONS];
	unsigned nruntime = 0, i, k, ms;
	char *eq;
	int c, sfd, ret, bad = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			bad = addr_parse(optarg, &o.addr, &o.port);
			break;
		case 'f':
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg || !eq[1] ||
			    o.nfunctions == MANAGER_MAX_FUNCTIONS) {
				bad = 1;
				break;
			}
			*eq = '\0';
			o.functions[o.nfunctions].name = optarg;
			o.functions[o.nfunctions].image = eq + 1;
			o.nfunctions++;
			break;
		case 's':
			if (!strcmp(optarg, "faasnet"))
				o.strategy = PROTO_STRATEGY_FAASNET;
			else if (!strcmp(optarg, "ondemand"))
				o.strategy = PROTO_STRATEGY_ONDEMAND;
			else if (!strcmp(optarg, "registry"))
				o.strategy = PROTO_STRATEGY_REGISTRY;
			else
				bad = 1;
			break;
		case 'F':
			bad = parse_uint(optarg, &o.max_functions_per_vm);
			break;
		case 'C':
			bad = parse_uint(optarg, &o.max_containers_per_vm);
			break;
		case 'H':
			bad = parse_uint(optarg, &o.heartbeat_ms);
			break;
		case 'D':
			bad = parse_uint(optarg, &o.dead_ms);
			break;
		case 'R':
			bad = parse_uint(optarg, &o.reclaim_ms);
			break;
		case 'e':
			o.events = optarg;
			break;
		case 'd':
			o.dot = optarg;
			break;
		case 'j':
			o.journal = optarg;
			break;
		case 'S':
			bad = parse_seed(optarg, &o.seed);
			break;
		case 'K':
			bad = units_parse_number(optarg, 1, 1000, &o.dilation);
			break;
		case 'r':
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg ||
			    nruntime == MANAGER_MAX_FUNCTIONS ||
			    parse_uint(eq + 1, &ms) ||
			    ms > PROTO_MAX_RUNTIME_MS) {
				bad = 1;
				break;
			}
			runtime[nruntime++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			bad = 1;
		}
		if (bad) {
			fprintf(stderr,
				"faasnet-manager: bad value for "
				"option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (!o.nfunctions || optind != argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < nruntime; i++) {
		eq = strchr(runtime[i], '=');
		*eq = '\0';
		for (k = 0; k < o.nfunctions &&
			    strcmp(o.functions[k].name, runtime[i]);
		     k++)
			;
		if (k == o.nfunctions) {
			fprintf(stderr,
				"faasnet-manager: --runtime-start %s: no "
				"such --function\n",
				runtime[i]);
			return 2;
		}
		parse_uint(eq + 1, &o.functions[k].runtime_ms);
	}
	/* SIGINT and SIGTERM end the loop through a descriptor. */
	sfd = evloop_signal_fd();
	if (sfd < 0) {
		fprintf(stderr, "faasnet-manager: signals: %s\n",
			strerror(-sfd));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	ret = manager_run(&o, sfd, &e);
	close(sfd);
	if (ret) {
		fprintf(stderr, "faasnet-manager: %s\n", e.msg);
		return 1;
	}
	return 0;
}

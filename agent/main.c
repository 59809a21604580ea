/* faasnet-agent: the FaaSNet worker of one VM, run inside the VM's network
 * namespace by the testbed. Thin: options, then agent_run. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "agent.h"
#include "evloop.h"
#include "lie.h"
#include "plan.h"
#include "registry.h"
#include "units.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: faasnet-agent --name VM --addr A.B.C.D "
		"[--manager A.B.C.D[:PORT]]\n"
		"                     [--port N] [--events FILE] "
		"[--fetch none|background]\n"
		"                     [--registry-requests N] "
		"[--meta-dir OCI-LAYOUT]\n"
		"                     [--request-timeout-ms N] "
		"[--dilation K]\n"
		"                     [--registry-via HOST:PORT] "
		"[--lie MODE]\n"
		"\n"
		"--lie MODE  a fault for tests: lie to children from the "
		"start, MODE one of\n"
		"            none, corrupt (blocks with a byte changed), fake "
		"(a consistent\n"
		"            fake image), slow (a reply every %d ms of the "
		"world), silent\n"
		"            (never answer), or its number 0 to 4; "
		"sigqueue(pid, SIGUSR1,\n"
		"            {.sival_int = N}) switches a running agent to "
		"mode N (agent/lie.h)\n",
		LIE_SLOW_MS);
}

/* --registry-via's HOST:PORT. The port is required: a proxy has no
 * well-known one. The host is checked with the grammar of an image
 * reference's host, the part of every reference it replaces, so that a
 * value accepted here never makes a reference the agent cannot read. */
static int via_ok(const char *s)
{
	const char *colon = strrchr(s, ':'), *rb = strrchr(s, ']');
	struct registry_ref ref;
	char buf[512];
	int n;

	if (!colon || colon == s || (rb && colon < rb) || strchr(s, '/'))
		return 0;
	n = snprintf(buf, sizeof(buf), "%s/x", s);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return 0;
	return !registry_ref_parse(buf, &ref, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'n'},
		{"addr", required_argument, NULL, 'a'},
		{"port", required_argument, NULL, 'p'},
		{"manager", required_argument, NULL, 'm'},
		{"events", required_argument, NULL, 'e'},
		{"fetch", required_argument, NULL, 'f'},
		{"registry-requests", required_argument, NULL, 'r'},
		{"meta-dir", required_argument, NULL, 'M'},
		{"request-timeout-ms", required_argument, NULL, 'T'},
		{"dilation", required_argument, NULL, 'D'},
		{"registry-via", required_argument, NULL, 'V'},
		{"lie", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct agent_opts o = {.port = TOPO_AGENT_PORT,
			       .manager_addr = TOPO_MANAGER_ADDR,
			       .manager_port = TOPO_MANAGER_PORT};
	struct err e = {""};
	uint16_t unused;
	int c, sfd, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.name = optarg;
			break;
		case 'a':
			if (addr_parse(optarg, &o.addr, &unused)) {
				fprintf(stderr,
					"faasnet-agent: --addr: expected "
					"A.B.C.D, got \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			o.port = (uint16_t)atoi(optarg);
			break;
		case 'm':
			if (addr_parse(optarg, &o.manager_addr,
				       &o.manager_port)) {
				fprintf(stderr,
					"faasnet-agent: --manager: "
					"expected A.B.C.D[:PORT], got "
					"\"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'e':
			o.events = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "background")) {
				o.background = 1;
			} else if (strcmp(optarg, "none")) {
				fprintf(stderr,
					"faasnet-agent: --fetch: expected "
					"none or background, got \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'r': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || v < 1 ||
			    v > REGISTRY_MAX_PARALLEL) {
				fprintf(stderr,
					"faasnet-agent: --registry-requests: "
					"expected 1 to %d, got \"%s\"\n",
					REGISTRY_MAX_PARALLEL, optarg);
				return 2;
			}
			o.registry_requests = (unsigned)v;
			break;
		}
		case 'M':
			o.meta_dir = optarg;
			break;
		case 'T': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 3600000) {
				fprintf(stderr,
					"faasnet-agent: --request-timeout-ms: "
					"expected 1 to 3600000, got \"%s\"\n",
					optarg);
				return 2;
			}
			o.request_timeout_ms = (unsigned)v;
			break;
		}
		case 'D':
			if (units_parse_number(optarg, 1, 1000, &o.dilation)) {
				fprintf(stderr,
					"faasnet-agent: --dilation: expected "
					"1 to 1000, got \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'V':
			if (!via_ok(optarg)) {
				fprintf(stderr,
					"faasnet-agent: --registry-via: "
					"expected HOST:PORT, got \"%s\"\n",
					optarg);
				return 2;
			}
			o.registry_via = optarg;
			break;
		case 'L':
			if (lie_parse(optarg, &o.lie)) {
				fprintf(stderr,
					"faasnet-agent: --lie: expected none, "
					"corrupt, fake, slow, silent or 0 to "
					"%d, got \"%s\"\n",
					LIE_MAX - 1, optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.name || !o.addr || !o.port) {
		usage(stderr);
		return 2;
	}
	/* SIGINT and SIGTERM end the loop through a descriptor, and SIGUSR1
	 * switches the lie through it. */
	sfd = evloop_signal_fd();
	if (sfd < 0) {
		fprintf(stderr, "faasnet-agent: signals: %s\n", strerror(-sfd));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = agent_run(&o, sfd, &e);
	close(sfd);
	curl_global_cleanup();
	if (ret) {
		fprintf(stderr, "faasnet-agent %s: %s\n", o.name, e.msg);
		return 1;
	}
	return 0;
}

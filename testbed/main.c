/* faasnet-testbed: the harness CLI. Thin: it finds the subcommand and hands
 * over; each lives in its own file. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"probe", probe_main, "what this kernel and machine can emulate"},
	{"up", up_main, "build the emulated network and leave it up"},
	{"down", down_main, "remove the network `up` made"},
	{"clean", clean_main, "remove whatever a killed run left"},
	{"flush", flush_main,
	 "empty the neighbour and TCP metrics caches of the network"},
	{"calibrate", calibrate_main,
	 "measure how much shaped bandwidth this host carries faithfully"},
	{"registry", registry_main, "start or stop the OCI registry by hand"},
	{"run", run_main,
	 "run a scenario, all strategies, into a results folder"},
	{"report", report_main, "draw a results folder's plots again"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: faasnet-testbed COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`faasnet-testbed COMMAND --help` shows a command's "
		   "options.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return TESTBED_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	/* Once per process, before any thread: libcurl asks it of us. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "faasnet-testbed: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return TESTBED_EXIT_USAGE;
}

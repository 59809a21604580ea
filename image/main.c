/* faasnet-image: makes, converts, pushes, inspects, fetches and traces
 * images in FaaSNet's block format. Thin: it finds the subcommand and hands
 * over. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"synth", synth_main, "make a deterministic synthetic image"},
	{"convert", convert_main, "add block blobs to a real OCI image layout"},
	{"push", push_main, "push an image layout to a registry"},
	{"inspect", inspect_main,
	 "describe an image (layout dir or reference)"},
	{"fetch", fetch_main, "fetch blocks from a registry, verified"},
	{"trace", trace_main, "record a real start-up trace into a layout"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: faasnet-image COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`faasnet-image COMMAND --help` shows a command's "
		   "options.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return IMAGE_EXIT_USAGE;
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
	fprintf(stderr, "faasnet-image: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return IMAGE_EXIT_USAGE;
}

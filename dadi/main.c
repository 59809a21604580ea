/* faasnet-dadi: the DADI+P2P proxy of one VM (docs/dadi.md), run in the
 * VM's network namespace; its agent reads the registry through it. Thin:
 * options, then the proxy's own threads until SIGINT or SIGTERM. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evloop.h"
#include "plan.h"
#include "proxy.h"
#include "units.h"

#define MAX_ROOTS 64

static void usage(FILE *f)
{
	fprintf(f, "usage: faasnet-dadi --registry URL --self HOST:PORT\n"
		   "                    (--root | --roots HOST:PORT[,...])\n"
		   "                    [--listen A.B.C.D] [--port N] "
		   "[--cache-mb N] [--no-prefetch]\n"
		   "                    [--piece-size BYTES] [--seed N] "
		   "[--dilation K]\n");
}

/* A number option in [min, max]; -1 after saying what was wrong. */
static int number_opt(const char *name, const char *s, double min, double max,
		      double *v)
{
	if (!units_parse_number(s, min, max, v))
		return 0;
	fprintf(stderr, "faasnet-dadi: %s: expected %.0f to %.0f, got \"%s\"\n",
		name, min, max, s);
	return -1;
}

/* "a:1,b:2" split in place into roots. */
static int split_roots(char *s, const char **roots, size_t *n)
{
	char *save = NULL, *t;

	for (t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_ROOTS || !strchr(t, ':'))
			return -1;
		roots[(*n)++] = t;
	}
	return *n ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"registry", required_argument, NULL, 'r'},
		{"self", required_argument, NULL, 's'},
		{"root", no_argument, NULL, 'R'},
		{"roots", required_argument, NULL, 'o'},
		{"listen", required_argument, NULL, 'l'},
		{"port", required_argument, NULL, 'p'},
		{"cache-mb", required_argument, NULL, 'c'},
		{"piece-size", required_argument, NULL, 'z'},
		{"no-prefetch", no_argument, NULL, 'P'},
		{"seed", required_argument, NULL, 'S'},
		{"dilation", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const char *roots[MAX_ROOTS];
	struct dadi_proxy_opts o = {.listen = "0.0.0.0",
				    .port = TOPO_DADI_PORT,
				    .prefetch = 1,
				    .roots = roots};
	struct dadi_proxy *p = NULL;
	struct evloop *l = NULL;
	struct err e = {""};
	double v;
	int c, sfd, ret = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.registry = optarg;
			break;
		case 's':
			o.self = optarg;
			break;
		case 'R':
			o.is_root = 1;
			break;
		case 'o':
			if (split_roots(optarg, roots, &o.nroots)) {
				fprintf(stderr,
					"faasnet-dadi: --roots: "
					"expected HOST:PORT[,...] (at "
					"most %d)\n",
					MAX_ROOTS);
				return 2;
			}
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 'p':
			if (number_opt("--port", optarg, 1, 65535, &v))
				return 2;
			o.port = (unsigned)v;
			break;
		case 'c':
			if (number_opt("--cache-mb", optarg, 1, 1 << 20, &v))
				return 2;
			o.cache = (size_t)v << 20;
			break;
		case 'z':
			/* A scaled run's pieces: 1 MiB times its scale, as
			 * its blocks are (docs/dadi.md). */
			if (number_opt("--piece-size", optarg, 1024, 1 << 30,
				       &v))
				return 2;
			o.piece = (size_t)v;
			break;
		case 'P':
			o.prefetch = 0;
			break;
		case 'S':
			if (number_opt("--seed", optarg, 0, 1e15, &v))
				return 2;
			o.seed = (uint64_t)v;
			break;
		case 'D':
			if (number_opt("--dilation", optarg, 1, 1000,
				       &o.dilation))
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !o.registry || !o.self ||
	    (!o.is_root && !o.nroots)) {
		usage(stderr);
		return 2;
	}
	/* Before any thread starts, so that every thread has them blocked. */
	sfd = evloop_signal_fd();
	if (sfd < 0) {
		fprintf(stderr, "faasnet-dadi: signals: %s\n", strerror(-sfd));
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (dadi_proxy_start(&o, &p, &e)) {
		fprintf(stderr, "faasnet-dadi: %s\n", e.msg);
		goto out;
	}
	/* The proxy runs on its own threads; the loop only waits for the
	 * signal that stops it. */
	if (evloop_new(&l) || evloop_run(l, sfd)) {
		fprintf(stderr, "faasnet-dadi: event loop failed\n");
		goto out;
	}
	ret = 0;
out:
	dadi_proxy_stop(p);
	evloop_free(l);
	close(sfd);
	curl_global_cleanup();
	return ret;
}

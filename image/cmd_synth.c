/* synth: a deterministic synthetic image, written as an OCI image layout. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "jsonout.h"
#include "layer.h"
#include "oci.h"
#include "proto.h"
#include "synth.h"
#include "units.h"

struct synth_args {
	const char *name, *out;
	uint64_t size, seed, full_size;
	uint32_t block_size, full_block_size;
	uint32_t compute_us; /* 0: no start-up trace */
	double fraction;
	int json;
};

/* Feeds the layer builder and shows progress on long images. */
struct feed {
	struct layer_builder *lb;
	struct err *e;
	uint64_t done, total;
	unsigned last_decile;
};

static int feed(void *arg, const void *buf, size_t len)
{
	struct feed *f = arg;
	unsigned decile;

	f->done += len;
	decile = (unsigned)(f->done * 10 / f->total);
	if (f->total >= (64u << 20) && decile != f->last_decile) {
		fprintf(stderr, "synth: %u%%\n", decile * 10);
		f->last_decile = decile;
	}
	return layer_builder_add(f->lb, buf, len, f->e);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: faasnet-image synth NAME --size SIZE --out DIR\n"
		"         [--block-size SIZE] [--startup-fraction F] [--seed "
		"N] "
		"[--json]\n"
		"  Writes a deterministic synthetic image (one layer) as an "
		"OCI "
		"image layout\n  in DIR, tagged NAME: tar+gzip layer, block "
		"data and block index.\n"
		"  --size SIZE            uncompressed layer size, e.g. 758MB\n"
		"  --block-size SIZE      default 512KiB (the paper's)\n"
		"  --startup-fraction F   share of blocks a start-up reads, "
		"default 0.16\n"
		"  --seed N               default 1\n"
		"  --startup-compute TIME a start-up trace (index version "
		"2) with this much\n"
		"                         compute between its reads, e.g. "
		"1.5s; default none\n"
		"  --full-size SIZE --full-block-size SIZE\n"
		"                         a scaled image: draw the start-up "
		"set as for this\n"
		"                         full-size image (same block count), "
		"so every scale\n"
		"                         reads the same blocks\n");
}

static int parse(int argc, char **argv, struct synth_args *a)
{
	static const struct option opts[] = {
		{"size", required_argument, NULL, 's'},
		{"block-size", required_argument, NULL, 'b'},
		{"startup-fraction", required_argument, NULL, 'f'},
		{"seed", required_argument, NULL, 'r'},
		{"startup-compute", required_argument, NULL, 'c'},
		{"full-size", required_argument, NULL, 'F'},
		{"full-block-size", required_argument, NULL, 'B'},
		{"out", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t v;
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (units_parse_size(optarg, &a->size) || !a->size) {
				fprintf(stderr,
					"synth: --size: expected a size "
					"like 758MB, got \"%s\"\n",
					optarg);
				return IMAGE_EXIT_USAGE;
			}
			break;
		case 'b':
			if (units_parse_size(optarg, &v) ||
			    v < BLOCKIMG_MIN_BLOCK_SIZE ||
			    v > BLOCKIMG_MAX_BLOCK_SIZE) {
				fprintf(stderr,
					"synth: --block-size: expected 1KiB to "
					"64MiB, got \"%s\"\n",
					optarg);
				return IMAGE_EXIT_USAGE;
			}
			a->block_size = (uint32_t)v;
			break;
		case 'f':
			a->fraction = strtod(optarg, &end);
			if (*end || end == optarg || a->fraction < 0 ||
			    a->fraction > 1) {
				fprintf(stderr,
					"synth: --startup-fraction: "
					"expected 0 to 1, got \"%s\"\n",
					optarg);
				return IMAGE_EXIT_USAGE;
			}
			break;
		case 'r':
			errno = 0;
			a->seed = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg) {
				fprintf(stderr,
					"synth: --seed: expected a "
					"number, got \"%s\"\n",
					optarg);
				return IMAGE_EXIT_USAGE;
			}
			break;
		case 'c':
			/* Whole microseconds; at most what the trace's gaps
			 * can carry in all (a minute each is plenty). */
			if (units_parse_duration(optarg, &v) ||
			    v / 1000 > BLOCKIMG_MAX_GAP_US) {
				fprintf(stderr,
					"synth: --startup-compute: expected a "
					"duration up to 60s like 1.5s, got "
					"\"%s\"\n",
					optarg);
				return IMAGE_EXIT_USAGE;
			}
			a->compute_us = (uint32_t)(v / 1000);
			break;
		case 'F':
			if (units_parse_size(optarg, &a->full_size) ||
			    !a->full_size) {
				fprintf(stderr,
					"synth: --full-size: expected a size "
					"like 758MB, got \"%s\"\n",
					optarg);
				return IMAGE_EXIT_USAGE;
			}
			break;
		case 'B':
			if (units_parse_size(optarg, &v) || !v ||
			    v > BLOCKIMG_MAX_BLOCK_SIZE) {
				fprintf(stderr,
					"synth: --full-block-size: expected "
					"a size up to 64MiB, got \"%s\"\n",
					optarg);
				return IMAGE_EXIT_USAGE;
			}
			a->full_block_size = (uint32_t)v;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return IMAGE_EXIT_USAGE;
		}
	}
	if (!a->full_size != !a->full_block_size) {
		fprintf(stderr, "synth: --full-size and --full-block-size go "
				"together\n");
		return IMAGE_EXIT_USAGE;
	}
	if (optind + 1 != argc || !a->size || !a->out) {
		usage(stderr);
		return IMAGE_EXIT_USAGE;
	}
	a->name = argv[optind];
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int synth_main(int argc, char **argv)
{
	struct synth_args a = {.block_size = BLOCKIMG_DEFAULT_BLOCK_SIZE,
			       .fraction = 0.16,
			       .seed = 1};
	struct oci_image img = {0};
	struct oci_layer layer;
	struct blockimg_index ix = {0};
	struct synth_startup su;
	struct feed f = {0};
	struct err e = {""};
	char *cfg = NULL, *man = NULL, sz[32], bs[32];
	size_t cfglen, manlen;
	uint64_t startup_bytes = 0;
	double t0 = now();
	uint32_t i;
	int ret;

	ret = parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? 0 : ret;
	/* An image whose index or blocks cannot travel in a frame could be
	 * pushed but never forwarded by an agent: refused before it is made. */
	if (proto_image_fits(a.size / a.block_size +
				     (a.size % a.block_size != 0),
			     a.compute_us ? synth_trace_reads(
						    a.full_size ? a.full_size
								: a.size,
						    a.full_size
							    ? a.full_block_size
							    : a.block_size,
						    a.fraction)
					  : 0,
			     a.block_size, &e)) {
		fprintf(stderr, "synth: %s\n", e.msg);
		return IMAGE_EXIT_USAGE;
	}
	ret = oci_layout_init(a.out, &e);
	if (!ret)
		ret = layer_builder_new(a.out, a.block_size, 6, &f.lb, &e);
	if (ret)
		goto out;
	f.e = &e;
	f.total = a.size;
	/* A scaled image is a miniature of its full-size image. */
	ret = synth_layer(a.size,
			  a.full_size && a.full_size > a.size
				  ? (double)a.size / (double)a.full_size
				  : 1.0,
			  a.seed, feed, &f, &e);
	if (ret) {
		layer_builder_free(f.lb);
		goto out;
	}
	su.fraction = a.fraction;
	su.seed = a.seed;
	su.full_size = a.full_size;
	su.full_block_size = a.full_block_size;
	su.compute_us = a.compute_us;
	ret = layer_builder_finish(f.lb, synth_draw_startup, &su, &layer, &ix,
				   &e);
	if (ret)
		goto out;
	img.nlayers = 1;
	img.layers = &layer;
	ret = oci_config_build(&img, &cfg, &cfglen, &e);
	if (!ret)
		ret = oci_layout_put(a.out, cfg, cfglen, img.config.digest, &e);
	img.config.size = cfglen;
	snprintf(img.config.media_type, sizeof(img.config.media_type), "%s",
		 OCI_CONFIG_MEDIA_TYPE);
	if (!ret)
		ret = oci_manifest_build(&img, &man, &manlen, &e);
	if (!ret)
		ret = oci_layout_set_manifest(a.out, man, manlen, a.name, &e);
	if (ret)
		goto out;

	for (i = 0; i < ix.nstartup; i++)
		startup_bytes += ix.blocks[ix.startup[i]].ulen;
	fprintf(stderr,
		"synth: %s: %s layer in %u blocks of %s; start-up set %u "
		"blocks (%.1f%%), a trace of %u reads; block data %.1f MB "
		"(%.2fx), tar+gzip %.1f MB (%.2fx); %.1f s\n",
		a.name, units_format_size(sz, sizeof(sz), ix.size), ix.nblocks,
		units_format_size(bs, sizeof(bs), a.block_size), ix.nstartup,
		ix.nblocks ? 100.0 * ix.nstartup / ix.nblocks : 0.0, ix.ntrace,
		(double)ix.data_size / 1e6,
		ix.data_size ? (double)ix.size / (double)ix.data_size : 0.0,
		(double)layer.blob.size / 1e6,
		layer.blob.size ? (double)ix.size / (double)layer.blob.size
				: 0.0,
		now() - t0);
	if (a.json &&
	    jsonout_print(json_pack(
		    "{s:s, s:s, s:I, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, "
		    "s:f, s:s, s:s, s:f}",
		    "name", a.name, "out", a.out, "size", (json_int_t)ix.size,
		    "block_size", (int)ix.block_size, "blocks", (int)ix.nblocks,
		    "startup_blocks", (int)ix.nstartup, "trace_reads",
		    (int)ix.ntrace, "startup_compute_us",
		    (json_int_t)a.compute_us, "startup_bytes",
		    (json_int_t)startup_bytes, "data_bytes",
		    (json_int_t)ix.data_size, "gzip_bytes",
		    (json_int_t)layer.blob.size, "compression_ratio",
		    ix.data_size ? (double)ix.size / (double)ix.data_size : 0.0,
		    "diff_id", layer.diff_id, "config", img.config.digest,
		    "seconds", now() - t0)))
		ret = -EIO;
out:
	if (ret)
		fprintf(stderr, "synth: %s\n",
			e.msg[0] ? e.msg : strerror(-ret));
	free(cfg);
	free(man);
	blockimg_index_free(&ix);
	return ret ? IMAGE_EXIT_FAILED : 0;
}

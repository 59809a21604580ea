/* convert: a real OCI image layout (as `skopeo copy ... oci:DIR` writes it)
 * into one that also carries block blobs, layer by layer. The original
 * layers and config are kept byte for byte, so the image's digests and
 * diff_ids do not change and any OCI client still pulls it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "jsonout.h"
#include "layer.h"
#include "oci.h"
#include "outfile.h"
#include "synth.h"
#include "units.h"

struct conv_args {
	const char *src, *out, *tag;
	uint32_t block_size;
	double fraction;
	uint64_t seed;
	int json;
};

static int to_builder(void *arg, const void *buf, size_t len, struct err *e)
{
	return layer_builder_add(arg, buf, len, e);
}

/* Copies a blob into the new layout unchanged. */
static int copy_blob(const char *src, const char *dst, const char *digest,
		     struct err *e)
{
	char from[4096], to[4096];
	char buf[1 << 16];
	struct outfile of;
	ssize_t n = 0;
	int in, ret = 0;

	if (oci_layout_blob_path(src, digest, from, sizeof(from)) ||
	    oci_layout_blob_path(dst, digest, to, sizeof(to)))
		return err_set(e, -EINVAL, "bad digest %s", digest);
	/* Same file system: a hard link costs nothing. */
	if (!link(from, to) || errno == EEXIST)
		return 0;
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_set(e, -errno, "%s: %s", from, strerror(errno));
	/* Written aside and renamed: no link planted at the blob's name is
	 * written through (outfile.h). */
	ret = outfile_open(&of, to, 0644, e);
	if (ret) {
		close(in);
		return ret;
	}
	while (!ret && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(of.fd, buf, (size_t)n) != n)
			ret = err_set(e, -EIO, "%s: write failed", to);
	if (!ret && n < 0)
		ret = err_set(e, -errno, "%s: %s", from, strerror(errno));
	close(in);
	if (ret)
		outfile_abort(&of);
	else
		ret = outfile_commit(&of, e);
	return ret;
}

/* A layer's start-up: the recorded trace its source index carries, else
 * a drawn set. */
struct conv_startup {
	struct synth_startup draw;
	struct blockimg_index src; /* ntrace 0: none recorded */
};

/* A trace is in the layer's terms (tar offsets), not its blocks', so it
 * carries over to any block size: the start-up set is then the blocks it
 * reads at this one. This is what keeps a traced layout's trace when the
 * testbed converts it again for a scenario's block size. */
static int conv_startup(void *arg, struct blockimg_index *ix, struct err *e)
{
	struct conv_startup *cs = arg;
	int ret;

	if (!cs->src.ntrace)
		return synth_draw_startup(&cs->draw, ix, e);
	if (cs->src.size != ix->size)
		return err_set(e, -EBADMSG,
			       "the source's index is of a layer of %llu "
			       "bytes, this one has %llu",
			       (unsigned long long)cs->src.size,
			       (unsigned long long)ix->size);
	free(ix->trace);
	ix->trace = malloc(cs->src.ntrace * sizeof(*ix->trace));
	if (!ix->trace)
		return err_set(e, -ENOMEM, "out of memory");
	memcpy(ix->trace, cs->src.trace, cs->src.ntrace * sizeof(*ix->trace));
	ix->ntrace = cs->src.ntrace;
	ret = blockimg_startup_from_trace(ix);
	return ret ? err_set(e, ret, "start-up set from the trace: %s",
			     strerror(-ret))
		   : 0;
}

/* The source layer's recorded trace, when it has an index with one. */
static int source_trace(const char *src, const struct oci_layer *ol,
			struct blockimg_index *ix, struct err *e)
{
	char *buf = NULL;
	size_t len;
	int ret;

	memset(ix, 0, sizeof(*ix));
	if (!ol->has_blocks)
		return 0;
	ret = oci_layout_read_blob(src, ol->index.digest, &buf, &len, e);
	if (!ret)
		ret = blockimg_index_decode((uint8_t *)buf, len, ix, e);
	free(buf);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: faasnet-image convert OCI-LAYOUT-DIR --out DIR [--tag "
		"T]\n         [--block-size SIZE] [--startup-fraction F] "
		"[--seed N] [--json]\n"
		"  Adds block data and a block index to every layer of an OCI "
		"image layout\n  (e.g. from `skopeo copy docker://... "
		"oci:DIR:T`), keeping its layers and\n  config. A real image "
		"carries no start-up trace, so a start-up set is drawn\n  "
		"with --startup-fraction (default 0.16); a layer whose index "
		"has a\n  recorded trace (`faasnet-image trace`) keeps it, at "
		"any block size.\n");
}

int convert_main(int argc, char **argv)
{
	struct conv_args a = {.block_size = BLOCKIMG_DEFAULT_BLOCK_SIZE,
			      .fraction = 0.16,
			      .seed = 1};
	struct oci_image img = {0};
	struct layer_builder *lb;
	struct oci_layer nl;
	struct conv_startup su = {{0}, {0}};
	struct err e = {""};
	char *man = NULL, *cfg = NULL, *nman = NULL, path[4096];
	size_t len, clen, nlen;
	uint64_t v;
	unsigned l;
	int ret, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc)
			a.out = argv[++i];
		else if (!strcmp(argv[i], "--tag") && i + 1 < argc)
			a.tag = argv[++i];
		else if (!strcmp(argv[i], "--block-size") && i + 1 < argc &&
			 !units_parse_size(argv[i + 1], &v) &&
			 v >= BLOCKIMG_MIN_BLOCK_SIZE &&
			 v <= BLOCKIMG_MAX_BLOCK_SIZE)
			a.block_size = (uint32_t)v, i++;
		else if (!strcmp(argv[i], "--startup-fraction") &&
			 i + 1 < argc) {
			char *end;

			a.fraction = strtod(argv[++i], &end);
			if (*end || end == argv[i])
				a.fraction = -1; /* refused below */
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			a.seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--json"))
			a.json = 1;
		else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && !a.src)
			a.src = argv[i];
		else
			break;
	}
	if (i < argc || !a.src || !a.out || a.fraction < 0 || a.fraction > 1) {
		usage(stderr);
		return IMAGE_EXIT_USAGE;
	}
	ret = oci_layout_get_manifest(a.src, a.tag, &man, &len, &e);
	if (!ret)
		ret = oci_manifest_parse(man, len, &img, &e);
	if (!ret)
		ret = oci_layout_read_blob(a.src, img.config.digest, &cfg,
					   &clen, &e);
	if (!ret)
		ret = oci_config_parse_diff_ids(cfg, clen, &img, &e);
	if (!ret)
		ret = oci_layout_init(a.out, &e);
	if (!ret)
		ret = copy_blob(a.src, a.out, img.config.digest, &e);
	su.draw.fraction = a.fraction;
	su.draw.seed = a.seed;
	for (l = 0; !ret && l < img.nlayers; l++) {
		struct oci_layer *ol = &img.layers[l];

		fprintf(stderr, "convert: layer %u of %u (%.1f MB)\n", l + 1,
			img.nlayers, (double)ol->blob.size / 1e6);
		ret = oci_layout_blob_path(a.src, ol->blob.digest, path,
					   sizeof(path));
		if (ret) {
			err_set(&e, ret, "layer %u: bad digest", l);
			break;
		}
		ret = layer_builder_new(a.out, a.block_size, -1, &lb, &e);
		if (ret)
			break;
		ret = layer_read_tar(path, ol->blob.media_type, to_builder, lb,
				     &e);
		if (ret) {
			layer_builder_free(lb);
			break;
		}
		su.draw.seed = a.seed + l;
		blockimg_index_free(&su.src);
		ret = source_trace(a.src, ol, &su.src, &e);
		if (ret) {
			layer_builder_free(lb);
			break;
		}
		ret = layer_builder_finish(lb, conv_startup, &su, &nl, NULL,
					   &e);
		/* The blocks joined must be the layer the config names. */
		if (!ret && strcmp(nl.diff_id, ol->diff_id))
			ret = err_set(&e, -EBADMSG,
				      "layer %u: uncompressed digest %s, the "
				      "config says %s",
				      l, nl.diff_id, ol->diff_id);
		if (!ret)
			ret = copy_blob(a.src, a.out, ol->blob.digest, &e);
		if (!ret) {
			ol->has_blocks = 1;
			ol->index = nl.index;
			ol->data = nl.data;
		}
	}
	if (!ret)
		ret = oci_manifest_build(&img, &nman, &nlen, &e);
	if (!ret)
		ret = oci_layout_set_manifest(a.out, nman, nlen,
					      a.tag ? a.tag : "latest", &e);
	if (ret)
		fprintf(stderr, "convert: %s\n",
			e.msg[0] ? e.msg : strerror(-ret));
	else
		fprintf(stderr,
			"convert: %s -> %s: %u layers with blocks of "
			"%u bytes\n",
			a.src, a.out, img.nlayers, a.block_size);
	if (!ret && a.json &&
	    jsonout_print(json_pack("{s:s, s:i}", "out", a.out, "layers",
				    (int)img.nlayers)))
		ret = -EIO;
	blockimg_index_free(&su.src);
	free(man);
	free(cfg);
	free(nman);
	oci_image_free(&img);
	return ret ? IMAGE_EXIT_FAILED : 0;
}

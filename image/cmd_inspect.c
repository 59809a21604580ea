/* inspect: what an image holds, from a layout folder or a registry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "fetch.h"
#include "jsonout.h"
#include "oci.h"
#include "units.h"

/* A local layout: the same picture fetch_open and fetch_indexes give for a
 * registry. */
static int open_layout(const char *dir, const char *tag, struct oci_image *img,
		       struct blockimg_index **ixp, struct err *e)
{
	struct blockimg_index *ix = NULL;
	char *man = NULL, *buf = NULL;
	size_t len, blen;
	unsigned i;
	int ret;

	ret = oci_layout_get_manifest(dir, tag, &man, &len, e);
	if (!ret)
		ret = oci_manifest_parse(man, len, img, e);
	free(man);
	if (ret)
		return ret;
	ret = oci_layout_read_blob(dir, img->config.digest, &buf, &blen, e);
	if (!ret)
		ret = oci_config_parse_diff_ids(buf, blen, img, e);
	free(buf);
	ix = calloc(img->nlayers ? img->nlayers : 1, sizeof(*ix));
	if (!ret && !ix)
		ret = err_set(e, -ENOMEM, "out of memory");
	for (i = 0; !ret && i < img->nlayers; i++) {
		if (!img->layers[i].has_blocks)
			continue;
		ret = oci_layout_read_blob(dir, img->layers[i].index.digest,
					   &buf, &blen, e);
		if (!ret)
			ret = blockimg_index_decode((const uint8_t *)buf, blen,
						    &ix[i], e);
		free(buf);
	}
	if (ret) {
		if (ix)
			for (i = 0; i < img->nlayers; i++)
				blockimg_index_free(&ix[i]);
		free(ix);
		oci_image_free(img);
		return ret;
	}
	*ixp = ix;
	return 0;
}

int inspect_main(int argc, char **argv)
{
	struct fetch_image fi;
	struct oci_image img = {0};
	struct blockimg_index *ix = NULL;
	struct err e = {""};
	const char *what = NULL, *tag = NULL;
	json_t *layers;
	struct stat st;
	FILE *h;
	int json = 0, local, ret, i;
	unsigned l;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--tag") && i + 1 < argc)
			tag = argv[++i];
		else if (argv[i][0] != '-' && !what)
			what = argv[i];
		else
			break;
	}
	if (i < argc || !what) {
		fprintf(stderr,
			"usage: faasnet-image inspect (LAYOUT-DIR [--tag "
			"T] | HOST:PORT/NAME:TAG) [--json]\n");
		return IMAGE_EXIT_USAGE;
	}
	local = !stat(what, &st) && S_ISDIR(st.st_mode);
	if (local) {
		ret = open_layout(what, tag, &img, &ix, &e);
	} else {
		ret = fetch_open(what, NULL, &fi, &e);
		if (!ret && (ret = fetch_indexes(&fi, &e)))
			fetch_close(&fi);
		if (!ret) {
			img = fi.img;
			ix = fi.ix;
		}
	}
	if (ret) {
		fprintf(stderr, "inspect: %s\n", e.msg);
		return IMAGE_EXIT_FAILED;
	}
	layers = json_array();
	h = json ? stderr : stdout;
	fprintf(h, "%s: config %s, %u layer%s\n", what, img.config.digest,
		img.nlayers, img.nlayers == 1 ? "" : "s");
	for (l = 0; l < img.nlayers; l++) {
		const struct oci_layer *ly = &img.layers[l];
		char a[32], b[32];

		fprintf(h, "  layer %u: %s %s (%.1f MB), diff_id %s\n", l,
			ly->blob.media_type, ly->blob.digest,
			(double)ly->blob.size / 1e6, ly->diff_id);
		if (ly->has_blocks) {
			fprintf(h,
				"    blocks: %u of %s, %s uncompressed, data "
				"%.1f "
				"MB, start-up set %u blocks\n",
				ix[l].nblocks,
				units_format_size(a, sizeof(a),
						  ix[l].block_size),
				units_format_size(b, sizeof(b), ix[l].size),
				(double)ix[l].data_size / 1e6, ix[l].nstartup);
			if (ix[l].ntrace)
				fprintf(h,
					"    start-up trace: %u reads, %.3f s "
					"of compute\n",
					ix[l].ntrace,
					(double)blockimg_trace_compute_us(
						&ix[l]) /
						1e6);
		} else
			fprintf(h, "    no block blobs (faasnet-image convert "
				   "adds "
				   "them)\n");
		json_array_append_new(
			layers,
			json_pack(
				"{s:s, s:I, s:s, s:b, s:i, s:i, s:I, s:I, s:i, "
				"s:i}",
				"digest", ly->blob.digest, "size",
				(json_int_t)ly->blob.size, "diff_id",
				ly->diff_id, "blocks_present", ly->has_blocks,
				"blocks",
				ly->has_blocks ? (int)ix[l].nblocks : 0,
				"block_size",
				ly->has_blocks ? (int)ix[l].block_size : 0,
				"uncompressed",
				(json_int_t)(ly->has_blocks ? ix[l].size : 0),
				"data_bytes",
				(json_int_t)(ly->has_blocks ? ix[l].data_size
							    : 0),
				"startup_blocks",
				ly->has_blocks ? (int)ix[l].nstartup : 0,
				"trace_reads",
				ly->has_blocks ? (int)ix[l].ntrace : 0));
	}
	ret = json ? jsonout_print(json_pack("{s:s, s:s, s:o}", "image", what,
					     "config", img.config.digest,
					     "layers", layers))
		   : (json_decref(layers), 0);
	if (local) {
		for (l = 0; l < img.nlayers; l++)
			blockimg_index_free(&ix[l]);
		free(ix);
		oci_image_free(&img);
	} else {
		fetch_close(&fi);
	}
	return ret ? IMAGE_EXIT_FAILED : 0;
}

/* libFuzzer target for lib/oci.c's manifest parser: the JSON a registry or
 * a parent agent serves for an image reference (OCI or Docker v2, with
 * FaaSNet's block annotations).
 *
 * On top of the sanitizers: what the parser accepts builds into a manifest
 * that parses back to the same image, digests, sizes and blocks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_manifest: %s: %s\n", what, e ? e->msg : "");
	abort();
}

static int desc_eq(const struct oci_desc *a, const struct oci_desc *b)
{
	return !strcmp(a->media_type, b->media_type) &&
	       !strcmp(a->digest, b->digest) && a->size == b->size;
}

static void check(const struct oci_image *img)
{
	struct oci_image again;
	struct err e = {""};
	char *json;
	size_t len;
	unsigned i;

	if (oci_manifest_build(img, &json, &len, &e))
		fail("a parsed manifest does not build", &e);
	if (oci_manifest_parse(json, len, &again, &e))
		fail("a built manifest does not parse", &e);
	free(json);
	if (!desc_eq(&img->config, &again.config) ||
	    img->nlayers != again.nlayers)
		fail("parse(build(m)) changed the config or the layers", NULL);
	for (i = 0; i < img->nlayers; i++) {
		const struct oci_layer *a = &img->layers[i],
				       *b = &again.layers[i];

		if (!desc_eq(&a->blob, &b->blob) ||
		    a->has_blocks != b->has_blocks ||
		    (a->has_blocks && (!desc_eq(&a->index, &b->index) ||
				       !desc_eq(&a->data, &b->data))))
			fail("parse(build(m)) changed a layer", NULL);
	}
	oci_image_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_image img;
	struct err e;

	if (oci_manifest_parse((const char *)data, size, &img, &e))
		return 0;
	check(&img);
	oci_image_free(&img);
	return 0;
}

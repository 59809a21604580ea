/* libFuzzer target for lib/oci.c's config parser (the diff_ids of an
 * image's config blob, which an agent reads from its parent or the
 * registry). The first byte says how many layers the manifest listed
 * (0 to 15); the rest is the config.
 *
 * On top of the sanitizers: diff_ids the parser accepts build into a config
 * that parses back to the same diff_ids. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_config: %s: %s\n", what, e ? e->msg : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_layer layers[16], again_layers[16];
	struct oci_image img = {.layers = layers},
			 again = {.layers = again_layers};
	struct err e = {""};
	char *json;
	size_t len;
	unsigned i;

	if (!size)
		return 0;
	memset(layers, 0, sizeof(layers));
	memset(again_layers, 0, sizeof(again_layers));
	img.nlayers = again.nlayers = data[0] % 16;
	if (oci_config_parse_diff_ids((const char *)data + 1, size - 1, &img,
				      &e))
		return 0;
	if (oci_config_build(&img, &json, &len, &e))
		fail("parsed diff_ids do not build", &e);
	if (oci_config_parse_diff_ids(json, len, &again, &e))
		fail("a built config does not parse", &e);
	free(json);
	for (i = 0; i < img.nlayers; i++)
		if (strcmp(layers[i].diff_id, again_layers[i].diff_id))
			fail("parse(build(c)) changed a diff_id", NULL);
	return 0;
}

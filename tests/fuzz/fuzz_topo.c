/* libFuzzer target for topo/config.c: a topology file (docs/topology.md).
 *
 * On top of the sanitizers: what the parser accepts passes
 * topo_spec_check, as its contract says, and an error has a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "topo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct topo_spec spec;
	struct err e = {""};

	if (topo_config_parse((const char *)data, size, "fuzz.yaml", &spec,
			      &e)) {
		if (!e.msg[0]) {
			fprintf(stderr, "fuzz_topo: an error without a "
					"message\n");
			abort();
		}
		return 0;
	}
	if (topo_spec_check(&spec, &e)) {
		fprintf(stderr, "fuzz_topo: parsed, but: %s\n", e.msg);
		abort();
	}
	return 0;
}

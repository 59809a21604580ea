/* config: reads a topology YAML file into a struct topo_spec. It owns the
 * file format (docs/topology.md) and its error messages; it creates nothing.
 *
 * Format (every key optional; unknown keys are errors):
 *
 *   vms: 16              # number of VM hosts
 *   rack_size: 64        # VMs per rack bridge
 *   vm_link:       { rate: 1gbit }
 *   registry_link: { rate: 1gbit }
 *   rack_uplink:   { rate: 10gbit }   # omitted: unshaped
 *   delay: 0ms           # one-way, on every VM link (needs netem)
 */
#ifndef FAASNET_TOPO_CONFIG_H
#define FAASNET_TOPO_CONFIG_H

#include <stddef.h>
#include <yaml.h>

#include "topo.h"

/* Parses YAML text; name is what error messages call the input (a path) and
 * becomes spec->source. Starts from the built-in defaults, so an empty
 * document (no text, only comments, "---" or "~") is the default topology.
 * The result passes topo_spec_check(). spec is written only on success. On
 * error returns -EINVAL (or -ENOMEM, or -ENAMETOOLONG when name does not fit
 * in spec->source) and fills e with one line "name:line: key: expected ...,
 * got ..." (see docs/topology.md for every message). */
int topo_config_parse(const char *text, size_t len, const char *name,
		      struct topo_spec *spec, struct err *e);

/* Parses a topology mapping inside a larger YAML document (a scenario's
 * `topology:`), with the same keys, defaults and messages (name:line: ...)
 * as a topology file. spec is written only on success. */
int topo_config_parse_node(yaml_document_t *doc, const yaml_node_t *map,
			   const char *name, struct topo_spec *spec,
			   struct err *e);

/* Reads and parses a file of at most 64 KiB. -errno with "path: strerror"
 * when unreadable, -EFBIG when larger, and a regular file only (see
 * yamlmsg_read_file). */
int topo_config_load(const char *path, struct topo_spec *spec, struct err *e);
/* The same for a file that another names (a scenario's `topology:`), which
 * may name any file: it must be text holding one mapping of topology keys,
 * and its messages say the line and what was expected but quote nothing
 * of it ("got a value", "unknown key (not quoted)"). */
int topo_config_load_redacted(const char *path, struct topo_spec *spec,
			      struct err *e);

#endif

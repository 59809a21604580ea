/* topo: the emulated network a run happens on, as the user describes it (the
 * spec, from a YAML topology file or the built-in default). The plan (names,
 * addresses, racks) is derived from it in plan.h; building it in the kernel is
 * build.h's job. */
#ifndef FAASNET_TOPO_H
#define FAASNET_TOPO_H

#include <limits.h>
#include <stdint.h>

#include "err.h"

/* Everything the testbed creates is named with this prefix, so that `clean`
 * can find a killed run's leftovers without touching anything else. */
#define TOPO_PREFIX "fnet-"

/* Where commands leave state for each other (what `up` built, the host
 * limits to restore); removed when the testbed is clean. */
#define TOPO_STATE_DIR "/run/faasnet-testbed"

#define TOPO_MAX_VMS	  4096
#define TOPO_MAX_DILATION 1000
/* A Linux bridge takes at most 1023 ports (BR_MAX_PORTS - 1). */
#define TOPO_MAX_RACK_SIZE 1000

struct topo_spec {
	char source[PATH_MAX]; /* file it came from, or "built-in" */
	unsigned vms;
	unsigned rack_size;	    /* VMs per rack bridge */
	uint64_t vm_rate_bps;	    /* each VM link, both directions */
	uint64_t registry_rate_bps; /* the registry's link, both directions */
	uint64_t uplink_rate_bps;   /* rack bridge <-> core, 0 = unshaped */
	/* The manager's link: control messages only, which are the same
	 * size at every scale, so a scenario leaves it at the VM rate as
	 * written (0: the VM rate). Set by a run, not by a topology file. */
	uint64_t manager_rate_bps;
	uint64_t delay_ns;	    /* one-way delay on VM links, 0 = none */
	unsigned delay_line;	    /* line of `delay` in source, 0 = none */
	/* Time dilation: the world runs this many times slower than the
	 * wall clock, so every rate above is divided by it, every delay
	 * multiplied, and queues keep their bytes (12 of the world's ms).
	 * 0 or 1: none. Set by a run, not by a topology file. */
	double dilation;
};

/* The built-in default topology: 16 VMs in racks of 64, 1 Gbit/s VM and
 * registry links, unshaped rack uplinks, no delay. */
void topo_spec_default(struct topo_spec *spec);

/* Checks the ranges a spec must keep (1..TOPO_MAX_VMS VMs, rack size
 * 1..TOPO_MAX_RACK_SIZE, VM and registry rates from 1kbit to 34gbit, the
 * uplink rate 0 or in that range, delay at most 60s). Returns 0 or -EINVAL
 * with a one-line message that starts with the field's name as the topology
 * file spells it ("vms: ...", "vm_link.rate: ..."), so that a parser can
 * put the line of that key in front. */
int topo_spec_check(const struct topo_spec *spec, struct err *e);

#endif

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "topo.h"
#include "units.h"

#define NS_PER_S UINT64_C(1000000000)

/* A typo guard, not a limit of the code (link.c passes 64-bit rates): this
 * kind of host carries 10-15 Gbit/s of shaped traffic in all, so a single
 * link above 34 Gbit/s (the most HTB's older 32-bit byte rate held) is a
 * mistake or needs `scale`. */
#define TOPO_MAX_RATE_BPS UINT64_C(34000000000)
/* HTB works in bytes per second: below a kilobit the rate rounds to
 * nothing, and the kernel refuses a zero rate. */
#define TOPO_MIN_RATE_BPS UINT64_C(1000)

/* netem's delay goes through libnl as an int of microseconds (about 35
 * minutes); a delay anywhere near that is a typo, and a minute is already
 * far beyond any data-centre link this testbed emulates. */
#define TOPO_MAX_DELAY_NS (60 * NS_PER_S)

void topo_spec_default(struct topo_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	snprintf(spec->source, sizeof(spec->source), "built-in");
	spec->vms = 16;
	spec->rack_size = 64;
	spec->vm_rate_bps = UINT64_C(1000000000);
	spec->registry_rate_bps = UINT64_C(1000000000);
	spec->uplink_rate_bps = 0;
	spec->delay_ns = 0;
}

static int check_rate(const char *field, uint64_t bps, struct err *e)
{
	char got[32], max[32];
	uint64_t back;

	if (bps >= TOPO_MIN_RATE_BPS && bps <= TOPO_MAX_RATE_BPS)
		return 0;
	units_format_rate(max, sizeof(max), TOPO_MAX_RATE_BPS);
	if (!bps)
		return err_set(e, -EINVAL,
			       "%s: expected a rate from 1kbit to %s, got 0",
			       field, max);
	units_format_rate(got, sizeof(got), bps);
	/* "got 34.0gbit" next to "34gbit" would read as no error at all. */
	if (units_parse_rate(got, &back) || back != bps)
		snprintf(got, sizeof(got), "%" PRIu64 "bit", bps);
	return err_set(e, -EINVAL,
		       "%s: expected a rate from 1kbit to %s, got %s", field,
		       max, got);
}

int topo_spec_check(const struct topo_spec *spec, struct err *e)
{
	int ret;

	if (spec->vms < 1 || spec->vms > TOPO_MAX_VMS)
		return err_set(e, -EINVAL, "vms: expected 1 to %d VMs, got %u",
			       TOPO_MAX_VMS, spec->vms);
	if (spec->rack_size < 1 || spec->rack_size > TOPO_MAX_RACK_SIZE)
		return err_set(
			e, -EINVAL,
			"rack_size: expected 1 to %d VMs per rack, got %u",
			TOPO_MAX_RACK_SIZE, spec->rack_size);
	ret = check_rate("vm_link.rate", spec->vm_rate_bps, e);
	if (ret)
		return ret;
	ret = check_rate("registry_link.rate", spec->registry_rate_bps, e);
	if (ret)
		return ret;
	/* 0 means unshaped here, not a missing rate. */
	if (spec->manager_rate_bps) {
		ret = check_rate("manager rate", spec->manager_rate_bps, e);
		if (ret)
			return ret;
	}
	if (spec->uplink_rate_bps) {
		ret = check_rate("rack_uplink.rate", spec->uplink_rate_bps, e);
		if (ret)
			return ret;
	}
	if (spec->dilation != 0 &&
	    !(spec->dilation >= 1.0 && spec->dilation <= TOPO_MAX_DILATION))
		return err_set(e, -EINVAL, "dilation: expected 1 to %d, got %g",
			       TOPO_MAX_DILATION, spec->dilation);
	if (spec->delay_ns > TOPO_MAX_DELAY_NS) {
		if (spec->delay_ns % NS_PER_S == 0)
			return err_set(
				e, -EINVAL,
				"delay: expected at most 60s, got %" PRIu64 "s",
				spec->delay_ns / NS_PER_S);
		return err_set(e, -EINVAL,
			       "delay: expected at most 60s, got %" PRIu64 "ns",
			       spec->delay_ns);
	}
	return 0;
}

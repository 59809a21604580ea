/* feature_probe: what this kernel can build, found by trying it in a throwaway
 * network namespace (module autoloading means a missing /sys/module entry
 * proves nothing). It creates nothing that outlives the call. */
#ifndef FAASNET_TOPO_FEATURE_PROBE_H
#define FAASNET_TOPO_FEATURE_PROBE_H

#include "err.h"

enum topo_feature {
	TOPO_F_VETH,
	TOPO_F_BRIDGE,
	TOPO_F_HTB,
	TOPO_F_TBF,
	TOPO_F_NETEM,
	TOPO_F_INGRESS,
	TOPO_F_CLSACT,
	TOPO_F_IFB,
	TOPO_F_VXLAN,
	TOPO_F_COUNT,
};

struct topo_features {
	int have[TOPO_F_COUNT];
};

/* Name of a feature as probe prints it ("veth", "netem", ...). */
const char *topo_feature_name(enum topo_feature f);

/* Tries each feature. Returns 0 (with have[] filled) or -errno when the probe
 * itself could not run (no permission to make a namespace, say). */
int topo_features_probe(struct topo_features *f, struct err *e);

#endif

/* build: turns a topology plan into namespaces, bridges, veth links,
 * addresses and HTB shaping in the kernel, and takes them down again. All of
 * it over netlink from this process: no `ip` or `tc` is run. It owns the
 * order of construction and how things are found again for removal (the
 * link group TOPO_LINK_GROUP and the TOPO_PREFIX names); link.h and netns.h
 * do the individual operations. */
#ifndef FAASNET_TOPO_BUILD_H
#define FAASNET_TOPO_BUILD_H

#include <signal.h>
#include <stdbool.h>

#include "err.h"
#include "plan.h"

struct topo_build_opts {
	/* Called after each host, for a progress line; may be NULL. */
	void (*progress)(void *arg, unsigned done, unsigned total);
	void *arg;
	/* When it becomes non-zero (a signal handler sets it) the build stops,
	 * removes what it made and returns -EINTR. May be NULL. */
	volatile sig_atomic_t *stop;
};

/* Builds the plan. Refuses (-EEXIST, touching nothing) when namespaces or
 * links of an earlier run are still there. On any later failure, what was
 * made is removed again before returning, and e says what failed. */
int topo_build(const struct topo_plan *plan, const struct topo_build_opts *opts,
	       struct err *e);

struct topo_clean_stats {
	unsigned netns; /* namespaces removed */
	unsigned links; /* links removed from the initial namespace */
};

/* Shapes a built network again as plan says (another dilation: the rates
 * change, the queues and everything else stay): every host's link at both
 * ends and the rack uplinks, in place. Returns 0 or a negative errno with
 * e naming the link. */
int topo_reshape(const struct topo_plan *plan, struct err *e)
	__attribute__((warn_unused_result));

/* Faults (testbed/faults.h) on one host of a built network, by its index
 * in plan->hosts: its link shaped to rate_bps at both ends, in place (the
 * rate as the kernel sees it: the caller scales and dilates); or its
 * cable down or up again (the host end in the initial namespace: the
 * host's eth0 loses carrier as a pulled cable would make it). 0 or a
 * negative errno with e naming the link. */
int topo_host_rate(const struct topo_plan *plan, unsigned host,
		   uint64_t rate_bps, struct err *e)
	__attribute__((warn_unused_result));
int topo_host_link(const struct topo_plan *plan, unsigned host, bool up,
		   struct err *e) __attribute__((warn_unused_result));

/* Removes every link of TOPO_LINK_GROUP (one request), every namespace and
 * link whose name starts with TOPO_PREFIX, the tmpfs netns_prepare may have
 * mounted, the saved state, and puts back the host limits raised for the
 * build. Safe to call when nothing is there. */
int topo_clean(struct topo_clean_stats *st, struct err *e);

/* What `up` left up, so that a second `up` or `calibrate` refuses and `down`
 * can say what it takes down: the spec, saved as a topology file under
 * TOPO_STATE_DIR. */
int topo_state_save(const struct topo_spec *spec, struct err *e);
/* 0 and the spec, -ENOENT when nothing is up, or another error. */
int topo_state_load(struct topo_spec *spec, struct err *e);
int topo_state_clear(void);

#endif

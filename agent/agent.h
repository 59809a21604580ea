/* agent: the FaaSNet worker of one VM (the glue in agent.c; each
 * function's image and its fetch policy in image.c, the image cache in
 * cache.c, its sources in source.c, serving children in children.c). It holds a
 * control connection to the manager, provisions containers on its command,
 * fetches an image's manifest, config and block index and then its start-up
 * blocks (from its parent in the function tree, or from the registry when it is
 * the root or the strategy says so), and serves blocks to its own children as
 * soon as it holds them whole, fetching on demand what a child asks for and it
 * lacks. Every block is verified against the index before it is stored, served
 * or used. One event loop; registry HTTP on one worker thread. */
#ifndef FAASNET_AGENT_AGENT_H
#define FAASNET_AGENT_AGENT_H

#include <stdint.h>

#include "err.h"
#include "lie.h"

struct agent_opts {
	const char *name;      /* VM name, e.g. vm0007 */
	uint32_t addr;	       /* this VM's address (host order) */
	uint16_t port;	       /* block port children connect to */
	uint32_t manager_addr; /* host order */
	uint16_t manager_port;
	const char *events; /* JSON Lines timeline; NULL: stderr */
	/* After a container starts, also fetch every other block, after the
	 * start-up ones (the paper's default is not to: later reads fetch on
	 * demand through the tree). */
	int background;
	/* Range requests in flight to the registry (the same for every
	 * strategy that reads it); 0 takes AGENT_REGISTRY_REQUESTS. */
	unsigned registry_requests;
	/* The node's metadata store (an OCI layout of block indexes), or
	 * NULL: a block index found there is not fetched over the network.
	 * docs/fidelity.md says why. */
	const char *meta_dir;
	/* A request to the parent with no answer for this long has failed
	 * (0: SOURCE_TIMEOUT_MS, 5 s). */
	unsigned request_timeout_ms;
	/* Children connected at once (0: CHILDREN_MAX_CONNS, 256). */
	unsigned max_children;
	/* Time dilation: every timer and time-out of the agent k times the
	 * wall clock's (0 or 1: none); docs/fidelity.md, "Time dilation". */
	double dilation;
	/* "HOST:PORT" every registry request goes to instead of the host the
	 * image reference names (NULL: that host): a proxy in front of the
	 * registry, e.g. DADI's P2P proxy on this VM (docs/dadi.md). The
	 * reference's repository and pinned digest stay as sent, so the
	 * manifest is checked against the same digest either way. */
	const char *registry_via;
	/* Lie to children from the start (lie.h; LIE_NONE: honest), a fault
	 * for tests; SIGUSR1 changes it while the agent runs. */
	enum lie_mode lie;
};

/* 1, 2, 4 and 8 measured side by side: docs/fidelity.md, "Registry
 * readers". */
#define AGENT_REGISTRY_REQUESTS 4

/* Runs until stop_fd says stop: a descriptor of evloop_signal_fd (SIGINT
 * or SIGTERM stop; SIGUSR1 with a sigqueue value of enum lie_mode makes
 * the agent lie so from then on, or be honest again with LIE_NONE), or an
 * eventfd written to. Returns 0 or a negative errno with e set (a socket
 * that cannot be made, say). */
int agent_run(const struct agent_opts *o, int stop_fd, struct err *e)
	__attribute__((warn_unused_result));

#endif

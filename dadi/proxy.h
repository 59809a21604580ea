/* proxy: faasnet-dadi, DADI+P2P's per-node proxy (docs/dadi.md). An HTTP
 * server speaking the part of the OCI distribution API the agent uses:
 * manifests, whole blobs and HEADs are passed through to the registry;
 * ranged blob reads are served from 1 MiB pieces got through the blob's
 * P2P tree (a parent, a root, or for a root the registry). It owns its
 * HTTP server, its threads, its tree and its piece cache; it verifies
 * nothing (the agent checks every block against the pinned manifest). The
 * program calls curl_global_init before the first dadi_proxy_start. */
#ifndef FAASNET_DADI_PROXY_H
#define FAASNET_DADI_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pieces.h"
#include "tree.h"

/* dadi-p2proxy's time-out on one upstream request (world seconds). */
#define DADI_TIMEOUT_MS	   10000u
#define DADI_CACHE_DEFAULT ((size_t)1 << 30)

struct dadi_proxy_opts {
	const char *listen;	  /* IPv4 address to bind, "0.0.0.0" for all */
	unsigned port;		  /* TOPO_DADI_PORT in the testbed */
	const char *self;	  /* "HOST:PORT" the others reach us at */
	const char *registry;	  /* "http://198.18.0.2:5000" */
	const char *const *roots; /* "HOST:PORT" of the P2P roots */
	size_t nroots;
	int is_root;	     /* read pieces from the registry */
	int prefetch;	     /* read the whole blob behind the first read */
	double dilation;     /* world time k times slower; 0 or 1: none */
	size_t cache;	     /* piece cache bound, bytes; 0: the default */
	size_t piece;	     /* piece size, bytes; 0: DADI_PIECE_SIZE */
	uint64_t seed;	     /* root and redirect choices */
	unsigned expiry_ms;  /* child idle expiry; 0: DADI_TREE_EXPIRY_MS */
	unsigned timeout_ms; /* per upstream request; 0: DADI_TIMEOUT_MS */
};

struct dadi_proxy_stats {
	uint64_t redirects_sent;     /* 307s to joining children */
	uint64_t redirects_followed; /* 307s this node followed */
	uint64_t child_pieces;	     /* pieces served to children */
	uint64_t upstream_gets;	     /* piece requests to a parent or root */
	uint64_t registry_gets;	     /* piece requests to the registry */
	uint64_t failovers;	     /* parents forgotten after a failure */
	struct dadi_pieces_stats pieces;
};

struct dadi_proxy;

/* Starts serving (its own threads) and returns once it listens. 0 or a
 * negative errno with e set (-EADDRINUSE and the like from the bind). */
int dadi_proxy_start(const struct dadi_proxy_opts *o, struct dadi_proxy **p,
		     struct err *e) __attribute__((warn_unused_result));
/* Stops listening, ends every connection and prefetch, frees p. */
void dadi_proxy_stop(struct dadi_proxy *p);

void dadi_proxy_stats(struct dadi_proxy *p, struct dadi_proxy_stats *st);
/* Children this node serves for blob repo@digest now. */
unsigned dadi_proxy_children(struct dadi_proxy *p, const char *repo,
			     const char *digest);

#endif

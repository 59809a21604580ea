/* registry: a client of the OCI distribution API over libcurl: pushing blobs
 * (monolithic uploads) and manifests, asking whether a blob exists, reading
 * manifests and byte ranges of blobs. It owns one curl handle (connections
 * are reused across calls) and nothing else; it knows nothing about what the
 * blobs hold. Not thread-safe: one struct registry per thread. */
#ifndef FAASNET_REGISTRY_H
#define FAASNET_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct registry;

/* A reference "HOST[:PORT]/NAME[:TAG]" split into its parts; the tag
 * defaults to "latest", and url is "http://HOST[:PORT]". The first component
 * is always the registry host (there is no Docker Hub default). For
 * "HOST/NAME@sha256:<hex>", tag holds the digest. NAME follows the OCI
 * grammar (lowercase); tags longer than 127 characters do not fit and are
 * refused. -EINVAL with e on malformed input. */
struct registry_ref {
	char url[256];
	char repo[256];
	char tag[128];
};
int registry_ref_parse(const char *s, struct registry_ref *ref, struct err *e);

/* url: "http://198.18.0.2:5000". The program calls curl_global_init once
 * before the first registry_open.
 *
 * Every call below returns 0 or a negative errno with one line in e naming
 * the request ("GET /v2/fn/python/manifests/v1: HTTP 404 Not Found:
 * MANIFEST_UNKNOWN: manifest unknown"): -ENOENT for a 404, -EIO for any other
 * unexpected status or transfer failure, -ECONNREFUSED, -EHOSTUNREACH or
 * -ETIMEDOUT when the connection fails that way, -EBADMSG for a reply that
 * does not make sense. See docs/registry.md. */
int registry_open(const char *url, struct registry **r, struct err *e);
/* Time dilation (docs/fidelity.md): the connect time-out and the stall
 * time (docs/registry.md) k times as long; 0 or 1 leaves them. */
void registry_set_dilation(struct registry *r, double k);
void registry_close(struct registry *r);

/* *exists: 1 when the registry has the blob, 0 when it answers 404. */
/* GET /v2/: 0 once the registry answers 200 (how a starter waits for it). */
int registry_ping(struct registry *r, struct err *e);

int registry_blob_exists(struct registry *r, const char *repo,
			 const char *digest, int *exists, struct err *e);

/* Uploads a blob whose digest the caller knows, from a file (streamed, never
 * held in memory) or a buffer. The registry checks the digest. */
int registry_blob_push_file(struct registry *r, const char *repo,
			    const char *digest, const char *path,
			    struct err *e);
int registry_blob_push_buf(struct registry *r, const char *repo,
			   const char *digest, const void *buf, size_t len,
			   struct err *e);

int registry_manifest_push(struct registry *r, const char *repo,
			   const char *tag, const char *media_type,
			   const void *buf, size_t len, struct err *e);

/* Reads a manifest (accepting OCI and Docker v2 media types) into a malloc'd
 * NUL-terminated buffer (*len excludes the NUL; at most 4 MiB). tag may be a
 * digest. */
int registry_manifest_get(struct registry *r, const char *repo, const char *tag,
			  char **buf, size_t *len, struct err *e);

/* Reads bytes [off, off + len) of a blob (len 0: to the end) and hands them
 * to sink as they arrive; a sink returning non-zero stops the transfer and
 * that value is returned, with e as the sink left it (a sink that fails
 * should say why there; an empty e gets a generic message). A ranged read the
 * server answers without 206 is an error, never silently the whole blob; so is
 * one answered with other bytes than asked (a range running past the end of the
 * blob). Redirects (to a storage backend) are followed. */
typedef int (*registry_sink_fn)(void *arg, const void *buf, size_t len);
int registry_blob_get(struct registry *r, const char *repo, const char *digest,
		      uint64_t off, uint64_t len, registry_sink_fn sink,
		      void *arg, struct err *e);

/* Reads several ranges of one blob as registry_blob_get reads one, with up
 * to `parallel` requests in flight (each on a connection of its own, kept
 * open between calls; at most REGISTRY_MAX_PARALLEL). Each range's bytes
 * reach its own sink in order; the ranges finish in any order, and the
 * sinks are called from this thread only. The first failure stops them
 * all. parallel <= 1 reads them one after another. */
#define REGISTRY_MAX_PARALLEL 16
struct registry_range {
	uint64_t off, len;
	registry_sink_fn sink;
	void *arg;
};
int registry_blob_get_ranges(struct registry *r, const char *repo,
			     const char *digest,
			     const struct registry_range *rg, size_t n,
			     unsigned parallel, struct err *e);

#endif

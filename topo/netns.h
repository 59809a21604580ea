/* netns: named network namespaces, made the way iproute2's `ip netns add`
 * makes them (a bind mount of the namespace under /run/netns/NAME, on a shared
 * mount), so people can `ip netns exec fnet-vm0007 ...` during a run. It owns
 * the mounts and the calling thread's trips into a namespace; it knows nothing
 * about links. */
#ifndef FAASNET_TOPO_NETNS_H
#define FAASNET_TOPO_NETNS_H

#include <stddef.h>

#define NETNS_RUN_DIR "/run/netns"
/* The source name of the tmpfs netns_prepare may mount there. */
#define NETNS_TMPFS "fnet-netns"

/* Makes /run/netns a shared mount point, as iproute2 does, so that
 * namespace mounts made here show in every mount namespace `ip netns exec`
 * makes, and leave them when we unmount. When /run is on a disk and
 * /run/netns is empty, mounts a tmpfs (source NETNS_TMPFS) there first. Call
 * once before netns_create; harmless to repeat. Returns 0 or -errno. */
int netns_prepare(void);

/* Unmounts the tmpfs netns_prepare mounted, if it is on top and empty. */
int netns_release(void);

/* Creates /run/netns/NAME bound to a new network namespace. When init is not
 * NULL it runs inside the new namespace before returning (to write the
 * namespace's sysctls or open sockets in it: a socket stays in the namespace
 * it was made in). When fd is not NULL it receives an O_CLOEXEC descriptor of
 * the namespace. The calling thread is back in its own namespace on return.
 * Returns 0, -EEXIST if the name is taken, or -errno; on failure nothing is
 * left behind. */
int netns_create(const char *name, int (*init)(void *arg), void *arg, int *fd);

/* Opens /run/netns/NAME: a descriptor for setns(2), or -errno. */
int netns_open(const char *name);

/* Unmounts and removes /run/netns/NAME; the kernel frees the namespace, and
 * the links inside it, once nothing else holds it. -ENOENT if absent. */
int netns_delete(const char *name);

/* Runs fn inside the namespace nsfd on the calling thread, then returns to
 * the thread's own namespace. Returns fn's result or -errno of setns; if
 * the way back fails the thread is stranded in nsfd's namespace, which the
 * caller must treat as fatal. */
int netns_run(int nsfd, int (*fn)(void *arg), void *arg);

/* Names under /run/netns starting with prefix, as a malloc'd array of
 * malloc'd strings (free with netns_list_free). Returns 0 or -errno; a
 * missing /run/netns is an empty list. */
int netns_list(const char *prefix, char ***names, size_t *n);
void netns_list_free(char **names, size_t n);

#endif

/* bittorrent: the Kraken-like P2P baseline, with real tools: Debian's
 * opentracker in the registry host as tracker, one aria2c origin seeder on
 * a VM-sized host (the manager's host, idle in these runs), and an aria2c
 * per container that fetches the whole tar+gzip layer through the swarm and
 * seeds while the others fetch (offline: no DHT, no local peer discovery).
 * A container counts as started when its download is complete and the
 * layer unpacks to its diff_id, as with the registry baseline. It owns the
 * torrent, the tracker, the seeder and the downloads of one run. */
#ifndef FAASNET_TESTBED_BITTORRENT_H
#define FAASNET_TESTBED_BITTORRENT_H

#include <signal.h>

#include "driver.h"
#include "err.h"
#include "plan.h"
#include "scenario.h"

/* Runs one bittorrent run: schedule inv (one download per container,
 * placed on VMs in order, one per VM), image layouts per scenario image
 * (layout_dirs[i] is image i's OCI layout), work folder raw (logs, the
 * torrent, the seeder's copy). Fills r as the driver would (requested and
 * started times, CLOCK_MONOTONIC; first_id 0; containers beyond the VM
 * count go to r->unplaced, not r->c; c[i].failed marks a layer that did not
 * unpack to its diff_id or an aria2c that died; r->failed counts every
 * container that did not start). On success only, malloc'd: vm_of[i] the
 * VM index of container i, bytes_of[i] the bytes it downloaded (the
 * layer's size once complete). Returns 0, -EINTR when *stop was set (stop
 * may be NULL), or a negative errno with e; r is left for
 * driver_result_free on every path. Ends every process it started on every
 * path. Under the plan's time dilation (plan->spec.dilation > 1),
 * opentracker, the seeder and every aria2c run under libfaketime, their
 * clocks that many times slower (procs_set_dilation); when libfaketime is
 * missing the run fails before anything starts. docs/bittorrent.md tells
 * how. */
int bittorrent_run(const struct scenario *s, const struct topo_plan *plan,
		   const char *const *layout_dirs, const char *raw,
		   const struct scenario_invocation *inv, size_t ninv,
		   uint64_t timeout_ns, volatile sig_atomic_t *stop,
		   struct driver_result *r, unsigned **vm_of,
		   uint64_t **bytes_of, struct err *e);

#endif

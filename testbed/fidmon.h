/* fidmon: the fidelity monitor of one run. From just before the workload
 * until it ends, a thread of its own samples, once per interval:
 *   - every host cable's byte counters (netmon.h: netdev.csv);
 *   - the HTB class of every shaped link end: the host ends in the initial
 *     namespace shape each host's download, eth0 in each host's namespace
 *     its upload (bytes, backlog, drops, overlimits; one qdisc dump per
 *     namespace, over a socket opened there once);
 *   - the busiest CPU's busy share and the largest per-CPU softirq share
 *     (/proc/stat), and CPU pressure (/proc/pressure/cpu, "some");
 *   - a timer canary: a second thread that sleeps 10 ms at a time and
 *     notes how late it woke;
 * and writes them to monitor.csv (docs/results.md). After the run it adds
 * the FT manager's own lag (its loop_lag events) and hands everything to
 * the verdict (fidelity.h). It owns both threads, the sockets, the files
 * and the samples; the thresholds are fidelity.h's. */
#ifndef FAASNET_TESTBED_FIDMON_H
#define FAASNET_TESTBED_FIDMON_H

#include <stdint.h>

#include "err.h"
#include "fidelity.h"
#include "plan.h"

/* The canary's sleep: short enough for a dozen wake-ups in the shortest
 * window, long enough to cost nothing. */
#define FIDMON_CANARY_MS 10
/* Uploads are sampled in every host's namespace up to this many hosts (a
 * socket and a dump each per sample); above it, the registry's and the
 * manager's only. Downloads are always all sampled: one dump. */
#define FIDMON_MAX_UPLOAD_NS 256

struct fidmon;

/* Starts sampling the hosts of plan, writing dir/netdev.csv and
 * dir/monitor.csv, every interval_ms (100 to 1000). */
int fidmon_start(const struct topo_plan *plan, const char *dir,
		 unsigned interval_ms, struct fidmon **m, struct err *e)
	__attribute__((warn_unused_result));
/* Stops both threads and closes the files; the samples stay. */
void fidmon_stop(struct fidmon *m);
/* Adds the FT manager's loop_lag events from its event log (a missing file
 * or none: nothing). */
void fidmon_read_lag(struct fidmon *m, const char *manager_log);
/* The verdict, with times in seconds from t0_ns (the run's start,
 * CLOCK_MONOTONIC). 0 or -ENOMEM. */
int fidmon_judge(struct fidmon *m, uint64_t t0_ns, struct fidelity_verdict *v)
	__attribute__((warn_unused_result));
/* What could not be sampled, "" when nothing was missing. */
const char *fidmon_note(const struct fidmon *m);
void fidmon_free(struct fidmon *m);

#endif

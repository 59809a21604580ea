/* regproc: the OCI registry of a run. Debian's docker-registry, started
 * inside the registry host's namespace with a configuration generated here
 * (filesystem storage in a folder of the run's, listening only on the
 * registry's emulated address), waited on until /v2/ answers, and stopped by
 * its PID. The PID is recorded under TOPO_STATE_DIR so that `stop`, `down`
 * and `clean` in another process find it; nothing is ever ended by name.
 *
 * Under time dilation the registry keeps real time: it is a Go program,
 * whose clock and timers libfaketime cannot reach (Go reads the vDSO and
 * makes its own system calls), and it has no timer that bears on a run
 * (docs/fidelity.md, "Time dilation: external programs"). */
#ifndef FAASNET_TESTBED_REGPROC_H
#define FAASNET_TESTBED_REGPROC_H

#include <limits.h>
#include <sys/types.h>

#include "err.h"

#define REGPROC_BIN "/usr/bin/docker-registry"

struct regproc {
	pid_t pid;
	char storage[PATH_MAX]; /* config.yml, registry.log, data/ */
	char url[64];		/* http://198.18.0.2:5000 */
};

/* Starts the registry in namespace fnet-registry (the testbed must be up),
 * with storage under dir (made if missing), and waits up to 15 s for it to
 * answer. Records it for regproc_stop_recorded. */
int regproc_start(const char *dir, struct regproc *rp, struct err *e);

/* The recorded registry, if one is: 0 and rp filled, -ENOENT when none is
 * recorded or the recorded PID is no longer that registry. */
int regproc_recorded(struct regproc *rp);

/* Stops the recorded registry (SIGTERM, then SIGKILL after 5 s) and forgets
 * it. 0 when none was running. */
int regproc_stop_recorded(struct err *e);

/* A fault (faults.h): SIGKILL to the registry rp started, reaped, and its
 * record removed; regproc_start(rp->storage, ...) starts it again on the
 * same storage. 0, or -ESRCH when rp runs nothing. */
int regproc_kill(struct regproc *rp);

#endif

/* procs: the processes of a run (the manager, the agents): each started in
 * a host's network namespace (fork, setns, exec), recorded by PID and start
 * time under TOPO_STATE_DIR so that `clean` can end them after a killed
 * run, and ended by PID, never by name. */
#ifndef FAASNET_TESTBED_PROCS_H
#define FAASNET_TESTBED_PROCS_H

#include <sys/types.h>

#include "err.h"

struct procs;

int procs_new(struct procs **p);
/* Starts argv[0] (a path) in namespace netns with stdout and stderr to log
 * (appended). */
int procs_spawn(struct procs *p, const char *netns, char *const argv[],
		const char *log, pid_t *pid, struct err *e);
/* Runs argv[0] (a path) in the harness's own namespace, with no network
 * of the testbed's, stdout and stderr appended to log, and waits for it: a
 * preparation step (faasnet-image, mktorrent), not recorded for `clean`.
 * Fails naming the tool (and its subcommand, when argv[1] is one) and the
 * log. */
int procs_run_wait(char *const argv[], const char *log, struct err *e);
/* Whether pid is still running (not yet reaped). */
int procs_alive(struct procs *p, pid_t pid);
/* SIGTERM to all, up to grace_ms for them to go, then SIGKILL; reaps them
 * and forgets the record. */
void procs_stop_all(struct procs *p, unsigned grace_ms);
void procs_free(struct procs *p);

/* For clean: ends every recorded process that is still the one recorded
 * (PID and start time match). Returns how many were ended. */
int procs_clean_recorded(void);

/* What a process started by procs_spawn is, told from its program's name
 * (and, for aria2c, its namespace: the origin seeder runs in the
 * manager's). */
enum procs_kind {
	PROCS_AGENT,
	PROCS_MANAGER,
	PROCS_ARIA2C,
	PROCS_TRACKER,
	PROCS_SEEDER,
	PROCS_OTHER,
	PROCS_NKINDS,
};

/* CPU seconds (user + system, from wait4's rusage) per kind. */
struct procs_cpu {
	double s[PROCS_NKINDS];
};

/* The CPU time of every process procs_spawn started and procs reaped since
 * the last call (through any struct procs of this program: a run's and
 * bittorrent's alike), then counting starts again. Single-threaded, as the
 * reaping is. */
void procs_cpu_take(struct procs_cpu *out);

/* CPU seconds (user + system) pid has used so far, from /proc/PID/stat,
 * for a process that lives across runs (the registry); -1 when there is
 * no such process. */
double procs_cpu_now(pid_t pid);

/* Start time of pid in clock ticks since boot (0: no such process): with
 * the PID it names one process for the machine's uptime. */
unsigned long long procs_start_time(pid_t pid);

#endif

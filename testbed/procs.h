/* procs: the processes of a run (the manager, the agents, and the external
 * programs of the baselines: aria2c, opentracker): each started in a host's
 * network namespace (fork, setns, exec), recorded by PID and start time
 * under TOPO_STATE_DIR so that `clean` can end them after a killed run, and
 * ended by PID, never by name. Under time dilation it starts the external
 * programs under libfaketime's slowed clock; ours keep time themselves. */
#ifndef FAASNET_TESTBED_PROCS_H
#define FAASNET_TESTBED_PROCS_H

#include <sys/types.h>

#include "err.h"

struct procs;

/* Debian's libfaketime (package libfaketime) on amd64. */
#ifndef PROCS_FAKETIME_LIB
#define PROCS_FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
#endif
#define PROCS_DILATION_MAX 100

int procs_new(struct procs **p);
/* Starts argv[0] (a path) in namespace netns with stdout and stderr to log
 * (appended): a program of ours (faasnet-manager, faasnet-agent). Ours
 * dilate their own timers and are ASan builds in the tests, which must be
 * the first library loaded: they are never given libfaketime, and inherit
 * the harness's environment as it is. */
int procs_spawn(struct procs *p, const char *netns, char *const argv[],
		const char *log, pid_t *pid, struct err *e);
/* The same for an external program (aria2c, opentracker): when p has a
 * dilation k > 1 it runs under libfaketime, its clock k times slower than
 * real time (procs_set_dilation). */
int procs_spawn_ext(struct procs *p, const char *netns, char *const argv[],
		    const char *log, pid_t *pid, struct err *e);

/* Time dilation (DieCast, NSDI '08): from now on, the external programs
 * procs_spawn_ext starts through p see time pass k times slower than it
 * does: their clocks (CLOCK_REALTIME, CLOCK_MONOTONIC, time(),
 * gettimeofday()), their sleeps and the time-outs of poll, select and
 * epoll_wait, through libfaketime's speed factor (FAKETIME "x1/k"). They all
 * share one emulated clock, which starts now: what they see at real time t
 * is now + (t - now) / k, so their logs read against each other. What
 * libfaketime slows and what it cannot: docs/fidelity.md, "Time dilation:
 * external programs". k = 1, the default, is real time and no preload.
 * -EINVAL unless 1 <= k <= PROCS_DILATION_MAX; -ENOENT when k > 1 and
 * libfaketime is not installed. Processes already started keep their
 * clock. */
int procs_set_dilation(struct procs *p, double k, struct err *e)
	__attribute__((warn_unused_result));

/* Who keeps a started program's time. */
enum procs_prog {
	PROCS_PROG_OURS,     /* procs_spawn: dilates itself */
	PROCS_PROG_EXTERNAL, /* procs_spawn_ext: libfaketime, when dilated */
};

/* The environment a program started through p now gets, built before the
 * fork (the child of a threaded harness may not allocate): *out = NULL
 * when it inherits env as it is (a program of ours, or p not dilated), else
 * procs_env_dilated's, with p's dilation and the time since it was set.
 * Pure but for the clock; exported for its tests. 0 or -ENOMEM. */
int procs_child_env(const struct procs *p, enum procs_prog prog,
		    char *const env[], char ***out)
	__attribute__((warn_unused_result));

/* env (NULL-terminated) for an external program under dilation k, started
 * since_s seconds after the dilation was set: a copy of env without
 * LD_PRELOAD and libfaketime's own variables (FAKETIME*, NO_FAKE_STAT,
 * DONT_FAKE_MONOTONIC, FAKERANDOM_SEED: a harness run under faketime must
 * not pass on its settings), then LD_PRELOAD=PROCS_FAKETIME_LIB and
 * FAKETIME="-OFFSET xRATE": RATE is 1/k, and OFFSET, since_s * (1 - 1/k),
 * sets the program's clock, which libfaketime starts from the real time
 * of its exec, back onto the shared emulated one. Both printed with a '.'
 * whatever the locale. *out is malloc'd, every string too
 * (procs_env_free). 0, -EINVAL (k not above 1 or above
 * PROCS_DILATION_MAX, since_s negative or NaN), -ENOMEM. */
int procs_env_dilated(char *const env[], double k, double since_s, char ***out)
	__attribute__((warn_unused_result));
void procs_env_free(char **env);

/* Runs argv[0] (a path) in the harness's own namespace, with no network
 * of the testbed's, stdout and stderr appended to log, and waits for it: a
 * preparation step (faasnet-image, mktorrent), not recorded for `clean`.
 * Fails naming the tool (and its subcommand, when argv[1] is one) and the
 * log. */
int procs_run_wait(char *const argv[], const char *log, struct err *e);
/* The same in folder dir (NULL: ours), and with log NULL its stdout and
 * stderr are our stderr. argv goes to execv as it is: no shell, so a path
 * in it may hold any character. */
int procs_run_wait_in(const char *dir, char *const argv[], const char *log,
		      struct err *e);
/* Whether pid is still running (not yet reaped). */
int procs_alive(struct procs *p, pid_t pid);
/* A fault (faults.h): SIGKILL to pid, one of p's, and reap it at once, so
 * that procs_stop_all never signals the PID again, whoever has it by
 * then. 0, or -ESRCH when pid is not one of p's running processes. */
int procs_kill(struct procs *p, pid_t pid);
/* sigqueue(pid, sig, value) to one of p's running processes (a lie's
 * mode to an agent: agent/lie.h). 0, -ESRCH, or sigqueue's -errno. */
int procs_sigqueue(struct procs *p, pid_t pid, int sig, int value);
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
	PROCS_PROXY, /* faasnet-dadi */
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

/* strategy: what a provisioning strategy is to a run, as a table of
 * operations (curl's connection filters, wireguard-tools' ipc.h): start
 * its processes and hand the driver a target to invoke, finish while they
 * still run, say per container what its logs tell, free. run.c owns
 * everything around it: the network, the registry and the images, the
 * fidelity monitor, the one driver loop (driver.h), stopping every process
 * by PID, and building the rows of containers.csv from the driver's record
 * and the facts a strategy gives.
 *
 * Each strategy is one file, testbed/st_NAME.c, defining
 * `const struct strategy strategy_NAME`, and one line in strategy.c's
 * table; docs/ARCHITECTURE.md, "Adding a strategy", walks through it. This
 * module owns the table: the names a scenario may give, in the default
 * order. */
#ifndef FAASNET_TESTBED_STRATEGY_H
#define FAASNET_TESTBED_STRATEGY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "driver.h"
#include "err.h"
#include "plan.h"
#include "scenario.h"

struct procs;

/* The table's size limit, for arrays indexed by strategy. */
#define STRATEGY_MAX SCENARIO_MAX_STRATEGIES

/* What a run gives a strategy for one run (one sweep value, repetition
 * and strategy); valid from start to free. */
struct strategy_env {
	const struct scenario *s;
	const struct topo_plan *plan; /* hosts[0]: registry, [1]: manager */
	const char *raw;	      /* this run's folder for logs */
	const char *plog;	      /* raw/processes.log: their output */
	const char *label;	      /* "run faasnet-n8", for messages */
	const char *bindir;	      /* where faasnet-* are */
	const char *meta;	      /* the VMs' metadata store (run.c) */
	const char *registry;	      /* the registry's HOST:PORT */
	const char *const *refs;      /* per image, HOST/NAME@sha256:... */
	const char *const *layouts;   /* per image, its OCI layout */
	/* per image, the compute of its start-up trace (0: no trace) */
	const uint64_t *trace_gaps_ns;
	/* the run's schedule, as the driver will send it */
	const struct scenario_invocation *inv;
	size_t ninv;
	uint64_t seed;	 /* this repetition's: placement, roots */
	unsigned vms;	 /* the VMs it uses: plan->hosts[2 .. 2 + vms) */
	unsigned per_vm; /* containers a VM may hold */
	double k;	 /* time dilation, >= 1 */
	/* Start every process through this (procs_spawn, procs_spawn_ext);
	 * run.c stops them all, by PID, after finish. */
	struct procs *pr;
	volatile sig_atomic_t *stop;
	struct err *e;
};

/* What a strategy knows of one container beyond the driver's record. */
struct strategy_fact {
	char vm[16];			     /* "" when not placed */
	uint64_t registry_bytes, peer_bytes; /* fetched for it */
	uint64_t ready_ns; /* its image ready, world clock; 0: unknown */
	/* Modelled start-up after the driver's started time (0: the
	 * started time is the container's start already). */
	uint64_t after_ns;
};

/* The processes a fault (faults.h) can hit in a strategy's stack. */
enum strategy_proc {
	STRATEGY_PROC_AGENT,   /* the agent of a VM */
	STRATEGY_PROC_MANAGER, /* the manager */
};

/* Faults on a strategy's own processes, by PID through env->pr. Each
 * returns 0 or a negative errno with e set. */
struct strategy_faults {
	/* SIGKILL: vm is the VM's index for an agent. */
	int (*kill)(void *state, enum strategy_proc p, unsigned vm,
		    struct err *e);
	/* Started again as it was first (a killed one only). */
	int (*restart)(void *state, enum strategy_proc p, unsigned vm,
		       struct err *e);
	/* The agent of vm lies from now on: mode is agent/lie.h's. */
	int (*lie)(void *state, unsigned vm, int mode, struct err *e);
};

struct strategy {
	const char *name;  /* as scenarios and --strategies write it */
	const char *about; /* one line, for `run --help` and docs */
	bool serves;	   /* has a scheduler the serve model can drive */
	/* Starts the strategy's processes (through env->pr) and waits until
	 * they are ready for the clock to start; fills *t, what the driver
	 * invokes, and *state. 0 or a negative errno with env->e set; on
	 * failure *state is left for free (which takes NULL). */
	int (*start)(const struct strategy_env *env, void **state,
		     struct driver_target *t);
	/* After the workload, before the processes are stopped (may be
	 * NULL): what needs them alive (a tracker's scrape). */
	void (*finish)(void *state, const struct driver_result *dr);
	/* After the processes are gone: f[i] for the driver's container i
	 * (dr->n of them, zeroed by the caller), and corrupt blocks seen.
	 * 0 or a negative errno with env->e. */
	int (*facts)(void *state, const struct driver_result *dr,
		     struct strategy_fact *f, unsigned *corrupt);
	void (*free)(void *state);
	/* NULL: no process of its own a fault can hit (faults on links and
	 * the registry still apply). */
	const struct strategy_faults *faults;
};

/* env->bindir/name (faasnet-agent, faasnet-dadi...) into buf: 0, or
 * -ENAMETOOLONG with env->e set. */
int strategy_bin(const struct strategy_env *env, const char *name, char *buf,
		 size_t len);

/* The table: how many, the i-th (NULL past the end), the index of a name
 * (-1: none), and "faasnet, ondemand, ..." into buf for messages (only
 * those that serve requests, when serving). */
unsigned strategy_count(void);
const struct strategy *strategy_at(unsigned i);
int strategy_find(const char *name);
const char *strategy_name(unsigned i); /* "unknown" past the end */
void strategy_list(char *buf, size_t len, bool serving);

#endif

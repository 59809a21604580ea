/* scenario: an experiment as a scenario file describes it (docs/scenario-
 * format.md): the topology, `scale`, the images, the functions, the
 * workload, the strategies to compare, a sweep and repetitions. It owns
 * parsing (errors as file:line: key: ...), scaling, and expanding the
 * workload into a timed list of invocations. It starts nothing. */
#ifndef FAASNET_TESTBED_SCENARIO_H
#define FAASNET_TESTBED_SCENARIO_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "topo.h"

#define SCENARIO_MAX_IMAGES	 16
#define SCENARIO_MAX_FUNCTIONS	 1024
#define SCENARIO_MAX_STEPS	 4096
#define SCENARIO_MAX_SWEEP	 32
#define SCENARIO_MAX_DILATION	 100
#define SCENARIO_MAX_INVOCATIONS 1000000
#define SCENARIO_MAX_STRATEGIES	 16
#define SCENARIO_MAX_FAULTS	 32

struct scenario_image {
	char name[64];
	/* synthetic: size etc.; converted: layout is an OCI layout path
	 * (relative paths are taken from the scenario file's folder) */
	uint64_t size; /* as written, before scale */
	uint32_t block_size;
	double startup_fraction;
	/* Compute of a start between its reads, in ns (synthetic images; 0:
	 * no start-up trace, the container starts when its start-up set is
	 * there). */
	uint64_t startup_compute_ns;
	uint64_t seed;
	char layout[PATH_MAX]; /* "" for synthetic */
	unsigned line;
};

struct scenario_function {
	char name[64];
	unsigned image; /* index into images */
	/* runtime_start: the runtime creating a container before its first
	 * read, the same for every strategy (0: none) */
	uint64_t runtime_start_ns;
	unsigned line;
};

enum scenario_step_kind {
	SCENARIO_STEP_AT,    /* at: T, invoke: F, containers: N */
	SCENARIO_STEP_RAMP,  /* from: T1, to: T2, invoke: F, rate: R (per s) */
	SCENARIO_STEP_TRACE, /* trace: file.csv (time,function[,containers]) */
};

struct scenario_invocation;

struct scenario_step {
	enum scenario_step_kind kind;
	uint64_t at_ns, until_ns;
	unsigned function;
	unsigned containers; /* with serve: requests */
	unsigned count_line; /* where containers: or requests: was; 0 none */
	int count_is_requests;
	double rate; /* invocations per second, RAMP */
	char trace[PATH_MAX];
	/* TRACE: its lines as the parse read them, in the file's order */
	struct scenario_invocation *inv;
	size_t ninv;
	unsigned line;
};

/* A scenario that serves requests: each invocation of the workload is a
 * request, served by warm containers that an autoscaler adds and the
 * reclaim time removes (testbed/serve.h has the model). */
/* faults: what a fault does (docs/faults.md). */
enum scenario_fault_do {
	SCENARIO_FAULT_KILL,	/* a process: an agent, the registry, the manager */
	SCENARIO_FAULT_LINK,	/* a host's link: down, flapping or re-rated */
	SCENARIO_FAULT_LIE,	/* an agent serves what it should not */
};

/* Which host a fault hits. */
enum scenario_fault_host {
	SCENARIO_FAULT_AGENT, /* a VM: named, or by its role in a tree */
	SCENARIO_FAULT_REGISTRY,
	SCENARIO_FAULT_MANAGER,
};

/* A VM by its role in a function's tree, when it is not named. */
enum scenario_fault_role {
	SCENARIO_ROLE_NAMED, /* vm: names it */
	SCENARIO_ROLE_ROOT,
	SCENARIO_ROLE_INTERIOR, /* has a child; depth: if given */
	SCENARIO_ROLE_LEAF,
	SCENARIO_ROLE_ANY, /* any VM of the tree */
};

/* One fault as the scenario wrote it, checked: when (a time, or once so
 * many containers started), what, and on which host. Durations are the
 * world's. faults.h carries them out. */
struct scenario_fault {
	unsigned line;
	uint64_t at_ns;		/* when after, sent and received are 0 */
	unsigned after;		/* or: so many containers started */
	/* or: the (first) target VM has sent, or received, this many bytes
	 * since the run's start (as written: scaled as image sizes are) */
	uint64_t sent, received;
	enum scenario_fault_do what;
	enum scenario_fault_host host;
	/* an agent: a named VM, or count (or share) of a role's VMs in
	 * function's tree, the largest subtrees first */
	char vm[16];
	enum scenario_fault_role role;
	unsigned function;
	int depth; /* interior: -1 any depth, else the root is 0 */
	unsigned count;
	double share; /* 0: count */
	uint64_t restart_ns; /* kill: started again after it; 0: never */
	uint64_t down_ns;    /* link: down for it; 0 with flap or rate */
	uint64_t flap_ns;    /* link: down then up, this long each, */
	unsigned times;	     /* this many times */
	uint64_t rate_bps;   /* link: this rate, as written (unscaled) */
	uint64_t for_ns;     /* for this long; 0: for the rest of the run */
	char lie[16];	     /* lie: agent/lie.h's name of the mode */
};

struct scenario_serve {
	int on;
	uint64_t service_ns;
	unsigned concurrency;
	double utilization;
	uint64_t window_ns;
	unsigned line;
};

struct scenario {
	char name[128];
	char source[PATH_MAX]; /* the file */
	char description[512];
	char paper[1024]; /* which figure it reproduces, and the paper's numbers
			   */
	struct topo_spec topo; /* as written, before scale */
	double scale; /* synthetic image sizes and link rates times this;
		       * block sizes, delays and counts are not scaled */
	/* Time dilation: the emulated world runs this many times slower
	 * than the wall clock (1: none; 0: "auto", the run chooses). */
	double dilation;
	unsigned nimages;
	struct scenario_image images[SCENARIO_MAX_IMAGES];
	unsigned nfunctions;
	struct scenario_function *functions;
	unsigned nsteps;
	struct scenario_step *steps;
	unsigned nstrategies;
	/* indexes into strategy.h's table (strategy_at, strategy_find) */
	unsigned strategies[SCENARIO_MAX_STRATEGIES];
	unsigned repetitions;
	/* placement's seed for the first repetition; repetition r (from 1)
	 * uses seed + r - 1, every strategy of it the same */
	unsigned seed;
	uint64_t timeout_ns; /* per run: waiting for containers */
	uint64_t reclaim_ns; /* idle containers released after it; 0: never */
	struct scenario_serve serve;
	/* sweep: one parameter; "containers" replaces every AT step's count */
	char sweep_param[32]; /* "" when no sweep */
	unsigned nsweep;
	unsigned sweep[SCENARIO_MAX_SWEEP];
	/* faults: every run of a strategy runs twice, without and then
	 * with them (docs/faults.md) */
	unsigned nfaults;
	struct scenario_fault faults[SCENARIO_MAX_FAULTS];
};

/* name is what messages call the input and becomes s->source; relative
 * paths in the scenario are taken from its folder. The files it names, a
 * topology and traces, are read here, so that their errors come before
 * anything is built: each must be a regular file of text in its format,
 * and their messages (file:line: what was expected) quote none of it. s
 * is written only on success, and then owns functions and steps
 * (scenario_free). On error returns -EINVAL (or -ENOMEM, -ENAMETOOLONG,
 * -EFBIG, or a named file's -errno) with one line "name:line: key:
 * expected ..., got ..." in e. */
int scenario_parse(const char *text, size_t len, const char *name,
		   struct scenario *s, struct err *e);
/* Reads and parses a file of at most 512 KiB (-EFBIG when larger). */
int scenario_load(const char *path, struct scenario *s, struct err *e);
/* Frees what a successful parse allocated; safe to call twice. */
void scenario_free(struct scenario *s);

/* rel, a path the scenario names, as it is opened: from the scenario
 * file's folder unless absolute. 0 or -ENAMETOOLONG. */
int scenario_path(const struct scenario *s, const char *rel, char *out,
		  size_t len);
/* Whether every image's layout is a folder holding an OCI layout
 * (oci-layout and index.json, regular files, not links): what `run`
 * checks before it builds anything, since faasnet-image convert reads
 * them only once the network is up. Not at parse: a layout may be built
 * after its scenario is written. 0, or -errno with "file:line:
 * images[i].layout: PATH: expected ...". */
int scenario_check_layouts(const struct scenario *s, struct err *e);

/* The VMs a run of sweep value sweep_index (-1: none) uses: the sweep's
 * value when it sweeps vms (the first that many of the topology's), else
 * every VM of the topology. */
unsigned scenario_vms(const struct scenario *s, int sweep_index);

/* The topology with every rate times scale (never below 1kbit), but the
 * manager's link, which keeps the VM rate as written: control messages are
 * the same size at every scale. */
void scenario_scaled_topology(const struct scenario *s, struct topo_spec *out);
/* Image i's size scaled as its block is, so that it has exactly as many
 * blocks as at full size (never above the size written). 0 for a converted
 * (layout) image, whose size is what it is, and for i out of range. */
uint64_t scenario_scaled_size(const struct scenario *s, unsigned i);

/* Image i's block size times scale, in whole bytes, at least the format's
 * least block (BLOCKIMG_MIN_BLOCK_SIZE). */
uint32_t scenario_scaled_block_size(const struct scenario *s, unsigned i);

/* How far image i's scaled size is from size x scale, as a fraction (0.56
 * is 56% larger): non-zero only where the block hit the format's floor.
 * run and check say so when it is over a few percent. */
#define SCENARIO_SIZE_ERROR_WARN 0.03
double scenario_size_error(const struct scenario *s, unsigned i);

struct scenario_invocation {
	uint64_t t_ns; /* from the start of the run */
	unsigned function;
	unsigned containers;
};

/* The workload in time order (stable for equal times). sweep_index picks a
 * sweep value (-1: none or no sweep; past the last value is -EINVAL).
 * Traces were read by the parse. More than SCENARIO_MAX_INVOCATIONS is
 * -E2BIG naming the step that passed it. Returns a malloc'd array in *out
 * (written only on success). */
int scenario_schedule(const struct scenario *s, int sweep_index,
		      struct scenario_invocation **out, size_t *n,
		      struct err *e);

#endif

/* faults: a scenario's faults (scenario.h, docs/faults.md) carried out
 * during one run, as the driver's clock reaches them: processes killed and
 * started again (an agent, the registry, the manager), links taken down,
 * flapped or re-rated, agents made to lie. It owns the schedule of one
 * run's faults and what each left to undo; the processes are the
 * strategy's (strategy.h's faults operations) or the run's (the registry),
 * the links topo's. VMs named by role are picked from the manager's trees
 * as its timeline tells them (treewatch.h).
 *
 * Every action is written to RAW/faults.jsonl (the "faults" timeline, in
 * events.jsonl with the rest), and what a fault cost is measured from the
 * timelines after the run (faults_measure). */
#ifndef FAASNET_TESTBED_FAULTS_H
#define FAASNET_TESTBED_FAULTS_H

#include <stdint.h>

#include "driver.h"
#include "err.h"
#include "plan.h"
#include "regproc.h"
#include "scenario.h"
#include "strategy.h"

struct faults;

struct faults_env {
	const struct scenario *s;
	const struct topo_plan *plan;
	unsigned vms; /* this run's: plan->hosts[2 .. 2 + vms) */
	const char
		*raw; /* the run's folder: manager.jsonl in, faults.jsonl out */
	const char *label; /* for messages */
	const struct strategy *sp;
	void *state;	    /* sp's, for its faults operations */
	struct regproc *rp; /* the run's registry */
	double k;	    /* dilation: a link's rate is divided by it */
};

/* Checks s's faults against this run (a named VM it has; an agent fault
 * needs a strategy with processes to hit: those it has none for are
 * skipped, said in the timeline) and opens RAW/faults.jsonl. 0 or a
 * negative errno with e. */
int faults_new(const struct faults_env *env, struct faults **out,
	       struct err *e);

/* The driver's hook (driver.h; arg is a struct faults): carries out what
 * is due at world time now_ns since the run's start, with started
 * containers up, and says when the next timed action is due. A fault that
 * cannot be carried out is said in the timeline and on stderr; it does
 * not end the run. 0, or -ENOMEM with e. */
int faults_tick(void *arg, uint64_t now_ns, unsigned started, uint64_t *due_ns,
		struct err *e);

/* After the workload: undoes what would outlast the run (links still
 * down or re-rated, a registry still down), so the next run starts on the
 * network and registry it expects. 0 or a negative errno with e. */
int faults_end(struct faults *fx, struct err *e);
void faults_free(struct faults *fx);

/* What one fault cost, from the run's timelines. */
struct faults_cost {
	unsigned index; /* into the scenario's faults */
	double at_s;	/* when it fired (world s since the start); <0 never */
	char targets[128]; /* "vm0003 vm0007", "registry" */
	unsigned lost;	   /* containers of a dead VM not yet started */
	unsigned replaced; /* of those, placed again on another VM */
	double detect_s;   /* fault to the manager noticing (-1: never) */
	double repair_s;   /* fault to the last tree change it caused */
};

/* Per fault that fired, its cost from RAW's timelines (manager.jsonl,
 * faults.jsonl): up to max into out; returns how many. k: the run's
 * dilation, to give the world's seconds. */
size_t faults_measure(const char *raw, double k, struct faults_cost *out,
		      size_t max);

#endif

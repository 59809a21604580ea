/* fidelity: the verdict of one run, from the fidelity monitor's samples:
 * whether the emulated network, not the host, set the pace, and when it
 * did not, which signal said so and over which seconds. Pure: samples in,
 * verdict out, no I/O and no clock (fidmon.h takes the samples). It owns
 * the thresholds; docs/fidelity.md says why each is what it is. */
#ifndef FAASNET_TESTBED_FIDELITY_H
#define FAASNET_TESTBED_FIDELITY_H

#include <stddef.h>
#include <stdint.h>

/* A signal is judged window by window, never averaged over the run: an
 * episode is a stretch of adjacent windows that all cross the signal's
 * threshold, and it counts when it lasts at least the signal's minimum. */

/* The busiest CPU's busy share (all but idle and iowait). */
#define FIDELITY_CPU_BUSY  0.90
#define FIDELITY_CPU_MIN_S 1.0
/* The largest share of one CPU spent in softirq: packet forwarding and
 * shaping run there. */
#define FIDELITY_SOFTIRQ       0.50
#define FIDELITY_SOFTIRQ_MIN_S 0.5
/* /proc/pressure/cpu "some": the share of the window in which at least one
 * runnable task waited for a CPU. */
#define FIDELITY_PSI	   0.50
#define FIDELITY_PSI_MIN_S 1.0
/* The timer canary: how late a 10 ms sleep woke, the worst of a window. */
#define FIDELITY_CANARY_MS    30.0
#define FIDELITY_CANARY_MIN_S 0.3
/* A backlogged shaped link achieving less than this share of its rate. */
#define FIDELITY_LINK_RATIO 0.80
#define FIDELITY_LINK_MIN_S 0.5
/* The FT manager's event loop: the worst lateness of its lag timer in a
 * one-second window. */
#define FIDELITY_MANAGER_LAG_MS	   50.0
#define FIDELITY_MANAGER_LAG_MIN_S 0.0

enum fidelity_signal {
	FIDELITY_SIG_CPU,
	FIDELITY_SIG_SOFTIRQ,
	FIDELITY_SIG_PSI,
	FIDELITY_SIG_CANARY,
	FIDELITY_SIG_LINK,
	FIDELITY_SIG_MANAGER_LAG,
	FIDELITY_NSIGNALS,
};

/* One window of the host-wide signals. Times in seconds from the run's
 * start; a window is (from_s, to_s]. */
struct fidelity_host_sample {
	double from_s, to_s;
	int cpu;	      /* the busiest CPU */
	double cpu_busy;      /* its busy share, 0..1 */
	int softirq_cpu;      /* the CPU with the largest softirq share */
	double softirq;	      /* that share, 0..1 */
	double psi;	      /* share of the window; < 0: not known */
	double canary_max_ms; /* < 0: the canary did not wake in it */
	double canary_p99_ms;
};

/* One window of one shaped link end (its HTB class). */
struct fidelity_link_sample {
	double from_s, to_s;
	char link[32];		    /* "vm0003 download", "registry upload" */
	uint64_t bytes;		    /* sent through the class in the window */
	uint64_t rate_bps;	    /* its configured rate */
	uint32_t backlog_from;	    /* bytes queued at the window's start */
	uint32_t backlog_to;	    /* and at its end */
	uint32_t drops, overlimits; /* grown in the window */
};

/* The FT manager's lag over one window (its loop_lag events). */
struct fidelity_lag_sample {
	double from_s, to_s;
	double max_ms;
};

struct fidelity_input {
	const struct fidelity_host_sample *host;
	size_t nhost;
	const struct fidelity_link_sample *links;
	size_t nlinks;
	const struct fidelity_lag_sample *lag;
	size_t nlag;
};

struct fidelity_reason {
	enum fidelity_signal signal;
	double from_s, to_s;
	double value; /* in the threshold's unit: a share or ms */
	double threshold;
	char text[160]; /* "cpu0 98% busy 1.2-3.4 s" */
};

#define FIDELITY_MAX_REASONS 16

struct fidelity_verdict {
	int degraded;
	unsigned nreasons;
	unsigned dropped; /* reasons that did not fit */
	struct fidelity_reason reasons[FIDELITY_MAX_REASONS];
};

/* Whether a link was backlogged through the window: queued at both ends
 * of it. Only then does its achieved rate say anything about who set the
 * pace. Overlimits alone do not count: they grow whenever a burst exceeds
 * the 10 ms bucket, and were measured growing in most windows of links
 * that sent a quarter of their rate (docs/fidelity.md). */
int fidelity_link_backlogged(const struct fidelity_link_sample *l);
/* Achieved over configured rate in the window (0 without a rate). */
double fidelity_link_ratio(const struct fidelity_link_sample *l);

/* The verdict of one run. Reasons in signal order, then time. 0, or
 * -ENOMEM (v then says ok with no reasons). */
int fidelity_judge(const struct fidelity_input *in, struct fidelity_verdict *v)
	__attribute__((warn_unused_result));

/* Adds from's reasons to v, their texts prefixed with prefix ("r2: ") when
 * it is not NULL: repetitions of one run pool into one verdict. */
void fidelity_merge(struct fidelity_verdict *v,
		    const struct fidelity_verdict *from, const char *prefix);

/* "cpu", "softirq", "psi", "canary", "link", "manager_lag". */
const char *fidelity_signal_name(enum fidelity_signal s);

#endif

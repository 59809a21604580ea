/* summary: the numbers of a results folder. One row per container
 * (containers.csv) in, per-run statistics (summary.json, summary.csv) out,
 * and the way back: reading containers.csv again, so that every number in
 * a summary can be recomputed from the rows (the report and the tests do).
 * It owns the file formats and the statistics; it runs nothing. */
#ifndef FAASNET_TESTBED_SUMMARY_H
#define FAASNET_TESTBED_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "fidelity.h"
#include "requests.h"

struct summary_row {
	char strategy[24];
	char function[64];
	char vm[16];	    /* "" when never placed */
	long sweep;	    /* the sweep value, -1 without a sweep */
	int started;	    /* 0: failed or timed out */
	double requested_s; /* from the start of the run */
	double started_s;   /* when it was up; 0 when not started */
	double seconds;	    /* started_s - requested_s */
	/* The start-up set was on its VM (bittorrent: the download done),
	 * this long after requested_s; image_ready 0: not known (never
	 * placed, never there) */
	int image_ready;
	double image_ready_s;
	uint64_t registry_bytes, peer_bytes;
};

/* CPU seconds (user + system) of the processes a run started, by kind. */
struct summary_cpu {
	double agents, manager, registry, aria2c, tracker, seeder, proxies;
	double total;
};

struct summary_run {
	char strategy[24];
	long sweep; /* -1 without a sweep */
	/* placement's seed (the manager's --seed) of its first repetition;
	 * repetition r used seed + r - 1 */
	uint64_t seed;
	/* the time dilation it ran under (docs/fidelity.md, "Time
	 * dilation"); 0: not recorded, and left out of summary.json */
	double dilation;
	unsigned requested, started, failed;
	/* over started containers; nearest-rank percentiles; 0 when none */
	double p50_s, p90_s, p99_s, max_s;
	/* over rows with image_ready (nearest rank); 0 when none */
	double image_ready_p50_s, image_ready_max_s;
	uint64_t registry_bytes, peer_bytes;
	unsigned corrupt_blocks;
	/* a scenario with serve: its requests (from requests.csv); else NULL */
	const struct requests_stats *requests;
	/* the run's fidelity verdict (fidelity.h); NULL: not judged */
	const struct fidelity_verdict *fidelity;
	/* CPU time of its processes; NULL: not measured */
	const struct summary_cpu *cpu;
};

/* The nearest-rank p-th percentile of sorted v[0..n) (0 when n is 0), and
 * the comparison to sort with; shared with requests.c. */
double summary_nearest_rank(const double *v, size_t n, unsigned p);
int summary_cmp_double(const void *a, const void *b);

/* The statistics of the rows whose strategy and sweep match (none: a run
 * of zeros). 0, -EINVAL for a strategy that does not fit, or -ENOMEM. */
int summary_compute(const struct summary_row *rows, size_t n,
		    const char *strategy, long sweep, unsigned corrupt_blocks,
		    struct summary_run *out);

/* containers.csv: the header strategy,function,vm,requested_s,started_s,
 * seconds,image_ready_s,registry_bytes,peer_bytes (plus `sweep_param` as a
 * last column when sweep_param is not NULL), then one line per row; failed
 * containers have empty started_s and seconds, and a row without
 * image_ready an empty image_ready_s. Times with 6 decimals. There is no CSV
 * quoting: a name holding a comma, a quote or a line break, an empty
 * strategy or function, a sweep value < 0 with sweep_param (or != -1
 * without) is -EINVAL naming the row, before anything is written. Write
 * errors (flushed here) are -EIO; the same for the two below. */
int summary_write_rows(FILE *f, const struct summary_row *rows, size_t n,
		       const char *sweep_param, struct err *e);
/* Reads it back (path for messages: path:line). malloc'd rows (NULL when
 * none), for the caller to free(); *rows and *n are untouched on error. */
int summary_read_rows(const char *path, struct summary_row **rows, size_t *n,
		      struct err *e);

/* summary.json: {"scenario", "fidelity", "runs": [{"strategy", "params":
 * {sweep_param: value} or {}, "seed", "requested", "started", "failed",
 * "p50_s", "p90_s", "p99_s", "max_s", "registry_bytes", "peer_bytes",
 * "corrupt_blocks"[, "fidelity": {"verdict", "reasons": [{"signal",
 * "from_s", "to_s", "value", "threshold", "text"}]}][, "cpu_s": {"agents",
 * "manager", "registry", "aria2c", "tracker", "seeder", "proxies", "total"}][,
 * "requests": {...}]}]} (docs/results.md);
 * summary.csv the same runs as a table, without the requests. */
int summary_write_json(FILE *f, const char *scenario, const char *fidelity,
		       const char *sweep_param, const struct summary_run *runs,
		       size_t n, struct err *e);
int summary_write_csv(FILE *f, const char *sweep_param,
		      const struct summary_run *runs, size_t n, struct err *e);

#endif

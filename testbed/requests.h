/* requests: the numbers of a run that serves requests (a scenario with
 * `serve`). One row per request out (requests.csv) and back in, the pools
 * over time out (pool.csv), and per strategy the response-time statistics
 * and the slow episodes: how long, after a burst, until requests are
 * answered in their service time again (the paper's Fig. 11). It owns those
 * formats and statistics (docs/results.md); it runs nothing. */
#ifndef FAASNET_TESTBED_REQUESTS_H
#define FAASNET_TESTBED_REQUESTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

struct requests_row {
	char strategy[24];
	char function[64];
	double arrival_s; /* from the start of the run */
	int served;	  /* 0: still waiting when the run ended */
	double start_s, done_s; /* when served */
	uint32_t container;	/* when served */
};

/* A slow request waited for a slot more than half its service time. Slow
 * requests whose arrivals are at most two service times apart make one
 * episode (the queue never stayed empty for long): from the first one's
 * arrival to the last one's is how long the burst took to absorb. */
#define REQUESTS_MAX_EPISODES 8

struct requests_episode {
	double start_s, end_s; /* arrivals of its first and last slow request */
	double peak_response_s;
	unsigned slow;
};

struct requests_stats {
	char strategy[24];
	unsigned requests, served;
	/* response time (done - arrival) over served requests; nearest rank */
	double p50_s, p90_s, p99_s, max_s;
	unsigned slow;
	unsigned nepisodes; /* all of them; ep holds the first few */
	struct requests_episode ep[REQUESTS_MAX_EPISODES];
	double recovery_s; /* the longest episode, end - start */
};

/* The statistics of strategy's rows; service_s is the scenario's service
 * time (what "slow" is measured against). 0, -EINVAL for a strategy that
 * does not fit, -ENOMEM. */
int requests_compute(const struct requests_row *rows, size_t n,
		     const char *strategy, double service_s,
		     struct requests_stats *out);

/* requests.csv: strategy,function,arrival_s,start_s,done_s,response_s,
 * container; a request never served has the last four empty. Six
 * decimals. -EINVAL for a name that does not fit the format, -EIO. */
int requests_write_rows(FILE *f, const struct requests_row *rows, size_t n,
			struct err *e);
/* Reads it back; errors as path:line: column: expected ..., got "...".
 * malloc'd rows (NULL when none) for the caller to free(). */
int requests_read_rows(const char *path, struct requests_row **rows,
		       size_t *n, struct err *e);

/* pool.csv: strategy,function,t_s,live,pending,busy,queued. */
struct requests_pool_row {
	char strategy[24];
	char function[64];
	double t_s;
	unsigned live, pending, busy, queued;
};
int requests_write_pool(FILE *f, const struct requests_pool_row *rows,
			size_t n, struct err *e);

#endif

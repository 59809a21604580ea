/* util: small things every subcommand needs: a monotonic clock, a progress
 * line, the interrupt flag, the one-command lock and root checks. */
#ifndef FAASNET_TESTBED_UTIL_H
#define FAASNET_TESTBED_UTIL_H

#include "jsonout.h"
#include <signal.h>

/* Seconds on CLOCK_MONOTONIC. */
double util_now(void);

/* Makes SIGINT, SIGTERM and SIGHUP set a flag instead of killing the
 * process, so that what a command built can be removed on the way out.
 * Returns the flag, which lives as long as the process. */
volatile sig_atomic_t *util_catch_signals(void);

/* One testbed command at a time changes the machine: takes a lock that the
 * kernel drops when the process ends, however it ends (an abstract Unix
 * socket name, which leaves no file behind). Prints why and returns
 * TESTBED_EXIT_FAILED when another command holds it. */
int util_lock(const char *cmd);

/* 0 when running as root, else prints why cmd needs it and returns
 * TESTBED_EXIT_FAILED. */
int util_need_root(const char *cmd);

/* A progress line on stderr: rewritten in place on a terminal; otherwise
 * printed at every tenth, and only for 100 items or more (CI logs stay
 * short). */
struct util_progress {
	const char *what;
	int tty;
	unsigned last_decile;
};
void util_progress_init(struct util_progress *p, const char *what);
void util_progress(void *arg, unsigned done, unsigned total);
void util_progress_end(struct util_progress *p);

#endif

/* util: small things every subcommand needs: a monotonic clock, a progress
 * line, the interrupt flag, root checks and JSON output on stdout. */
#ifndef FAASNET_TESTBED_UTIL_H
#define FAASNET_TESTBED_UTIL_H

#include <jansson.h>
#include <signal.h>

/* Seconds on CLOCK_MONOTONIC. */
double util_now(void);

/* Makes SIGINT, SIGTERM and SIGHUP set *flag instead of killing the process,
 * so that what a command built can be removed on the way out. */
void util_catch_signals(volatile sig_atomic_t *flag);

/* 0 when running as root, else prints why cmd needs it and returns
 * EXIT_FAILED. */
int util_need_root(const char *cmd);

/* A progress line on stderr: rewritten in place on a terminal, printed at
 * every tenth otherwise (so CI logs stay short). */
struct util_progress {
	const char *what;
	int tty;
	unsigned last_decile;
};
void util_progress_init(struct util_progress *p, const char *what);
void util_progress(void *arg, unsigned done, unsigned total);
void util_progress_end(struct util_progress *p);

/* Prints obj as one line on stdout and releases it. Returns 0 or -EIO. */
int util_print_json(json_t *obj);

#endif

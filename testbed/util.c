#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "util.h"

double util_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A signal handler can reach nothing but globals: this one is the only
 * global in the program, and points into the running command's context. */
static volatile sig_atomic_t *signal_flag;

static void on_signal(int sig)
{
	(void)sig;
	if (signal_flag)
		*signal_flag = 1;
}

void util_catch_signals(volatile sig_atomic_t *flag)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	signal_flag = flag;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int util_need_root(const char *cmd)
{
	if (geteuid() == 0)
		return 0;
	fprintf(stderr,
		"faasnet-testbed %s: needs root to create network namespaces "
		"(try: sudo faasnet-testbed %s)\n",
		cmd, cmd);
	return EXIT_FAILED;
}

void util_progress_init(struct util_progress *p, const char *what)
{
	p->what = what;
	p->tty = isatty(STDERR_FILENO);
	p->last_decile = 0;
}

void util_progress(void *arg, unsigned done, unsigned total)
{
	struct util_progress *p = arg;
	unsigned decile = total ? done * 10 / total : 10;

	if (p->tty) {
		if (done == total || done % 16 == 0)
			fprintf(stderr, "\r%s: %u/%u", p->what, done, total);
	} else if (decile > p->last_decile && total >= 100) {
		fprintf(stderr, "%s: %u/%u\n", p->what, done, total);
	}
	p->last_decile = decile;
}

void util_progress_end(struct util_progress *p)
{
	if (p->tty)
		fprintf(stderr, "\r\033[K");
}

int util_print_json(json_t *obj)
{
	int ret;

	if (!obj)
		return -ENOMEM;
	ret = json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(obj);
	if (ret || fputc('\n', stdout) == EOF || fflush(stdout))
		return -EIO;
	return 0;
}

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* A signal handler can reach nothing but globals: this flag is the
 * program's one piece of global state. */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

volatile sig_atomic_t *util_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return &stop_flag;
}

int util_lock(const char *cmd)
{
	static const char name[] = "\0faasnet-testbed.lock";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	memcpy(sa.sun_path, name, sizeof(name) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "faasnet-testbed %s: cannot lock: %s\n", cmd,
			strerror(errno));
		return TESTBED_EXIT_FAILED;
	}
	/* Kept open (and so bound) until the process exits. */
	if (bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			     sizeof(name) - 1))) {
		fprintf(stderr,
			"faasnet-testbed %s: another faasnet-testbed command "
			"is changing the testbed; wait for it to finish\n",
			cmd);
		close(fd);
		return TESTBED_EXIT_FAILED;
	}
	return 0;
}

int util_need_root(const char *cmd)
{
	if (geteuid() == 0)
		return 0;
	fprintf(stderr,
		"faasnet-testbed %s: needs root to create network namespaces "
		"(try: sudo faasnet-testbed %s)\n",
		cmd, cmd);
	return TESTBED_EXIT_FAILED;
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

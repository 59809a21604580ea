#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "plan.h"
#include "procs.h"
#include "regproc.h"
#include "registry.h"

#define PIDFILE	      TOPO_STATE_DIR "/registry.pid"
#define START_WAIT_MS 15000
#define STOP_WAIT_MS  5000

static void set_url(struct regproc *rp)
{
	char addr[32];

	topo_addr_str(TOPO_REGISTRY_ADDR, addr, sizeof(addr));
	snprintf(rp->url, sizeof(rp->url), "http://%s:%d", addr,
		 TOPO_REGISTRY_PORT);
}

static int write_config(const struct regproc *rp, struct err *e)
{
	char path[PATH_MAX + 32], addr[32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/config.yml", rp->storage);
	f = fopen(path, "we");
	if (!f)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	topo_addr_str(TOPO_REGISTRY_ADDR, addr, sizeof(addr));
	fprintf(f,
		"# written by faasnet-testbed; the registry of one run\n"
		"version: 0.1\n"
		"log:\n  level: info\n  formatter: text\n"
		"storage:\n  filesystem:\n    rootdirectory: %s/data\n"
		"  delete:\n    enabled: true\n"
		"  cache:\n    blobdescriptor: inmemory\n"
		"http:\n  addr: %s:%d\n"
		"health:\n  storagedriver:\n    enabled: false\n",
		rp->storage, addr, TOPO_REGISTRY_PORT);
	if (fclose(f))
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int record(const struct regproc *rp, struct err *e)
{
	FILE *f;

	mkdir(TOPO_STATE_DIR, 0755);
	f = fopen(PIDFILE, "we");
	if (!f)
		return err_set(e, -errno, "%s: %s", PIDFILE, strerror(errno));
	fprintf(f, "%d %llu %s\n", (int)rp->pid, procs_start_time(rp->pid),
		rp->storage);
	if (fclose(f))
		return err_set(e, -errno, "%s: %s", PIDFILE, strerror(errno));
	return 0;
}

int regproc_recorded(struct regproc *rp)
{
	unsigned long long t;
	int pid;
	FILE *f;
	int ok;

	memset(rp, 0, sizeof(*rp));
	f = fopen(PIDFILE, "re");
	if (!f)
		return -ENOENT;
	ok = fscanf(f, "%d %llu %4095s", &pid, &t, rp->storage) == 3;
	fclose(f);
	if (!ok || pid <= 1 || procs_start_time(pid) != t)
		return -ENOENT;
	rp->pid = pid;
	set_url(rp);
	return 0;
}

static int wait_ready(struct regproc *rp, struct err *e)
{
	struct registry *r = NULL;
	struct err pe;
	long deadline = now_ms() + START_WAIT_MS;
	int ret, st;

	ret = registry_open(rp->url, &r, e);
	if (ret)
		return ret;
	for (;;) {
		ret = registry_ping(r, &pe);
		if (!ret)
			break;
		if (waitpid(rp->pid, &st, WNOHANG) == rp->pid) {
			ret = err_set(e, -ECHILD,
				      "docker-registry exited at "
				      "start: see %s/registry.log",
				      rp->storage);
			rp->pid = 0;
			break;
		}
		if (now_ms() > deadline) {
			ret = err_set(e, -ETIMEDOUT,
				      "docker-registry did not "
				      "answer in %d s: %s (see "
				      "%s/registry.log)",
				      START_WAIT_MS / 1000, pe.msg,
				      rp->storage);
			break;
		}
		usleep(50000);
	}
	registry_close(r);
	return ret;
}

int regproc_start(const char *dir, struct regproc *rp, struct err *e)
{
	struct regproc old;
	char log[PATH_MAX + 32], cfg[PATH_MAX + 32];
	int nsfd, logfd, ret;

	memset(rp, 0, sizeof(*rp));
	if (!regproc_recorded(&old))
		return err_set(e, -EEXIST,
			       "a registry runs already (pid %d, "
			       "%s): faasnet-testbed registry stop",
			       (int)old.pid, old.url);
	if (access(REGPROC_BIN, X_OK))
		return err_set(e, -ENOENT,
			       "%s missing: apt-get install "
			       "docker-registry",
			       REGPROC_BIN);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return err_set(e, -errno, "%s: %s", dir, strerror(errno));
	if (!realpath(dir, rp->storage))
		return err_set(e, -errno, "%s: %s", dir, strerror(errno));
	set_url(rp);
	ret = write_config(rp, e);
	if (ret)
		return ret;
	nsfd = netns_open(TOPO_PREFIX "registry");
	if (nsfd < 0)
		return err_set(e, nsfd,
			       "namespace " TOPO_PREFIX "registry: %s "
			       "(is the testbed up?)",
			       strerror(-nsfd));
	snprintf(log, sizeof(log), "%s/registry.log", rp->storage);
	snprintf(cfg, sizeof(cfg), "%s/config.yml", rp->storage);
	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		close(nsfd);
		return err_set(e, -errno, "%s: %s", log, strerror(errno));
	}
	rp->pid = fork();
	if (rp->pid < 0) {
		ret = err_set(e, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	if (rp->pid == 0) {
		/* The child: its own session, so a Ctrl-C meant for the
		 * command that started it does not reach it; its output in
		 * the log; the registry host's network. */
		int null = open("/dev/null", O_RDONLY);

		setsid();
		if (null >= 0)
			dup2(null, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (setns(nsfd, CLONE_NEWNET))
			_exit(126);
		execl(REGPROC_BIN, "docker-registry", "serve", cfg,
		      (char *)NULL);
		_exit(127);
	}
	/* Recorded before the wait, so a harness killed meanwhile leaves a
	 * registry that clean can still find. */
	ret = record(rp, e);
	if (!ret)
		ret = wait_ready(rp, e);
	if (ret)
		unlink(PIDFILE);
	if (ret && rp->pid > 0) {
		kill(rp->pid, SIGKILL);
		waitpid(rp->pid, NULL, 0);
		rp->pid = 0;
	}
out:
	close(logfd);
	close(nsfd);
	return ret;
}

int regproc_stop_recorded(struct err *e)
{
	struct regproc rp;
	long deadline;

	if (regproc_recorded(&rp)) {
		unlink(PIDFILE); /* stale or absent: nothing to stop */
		return 0;
	}
	if (kill(rp.pid, SIGTERM) && errno != ESRCH)
		return err_set(e, -errno, "registry pid %d: %s", (int)rp.pid,
			       strerror(errno));
	deadline = now_ms() + STOP_WAIT_MS;
	/* Reap it when it is our child; otherwise watch it go. */
	while (procs_start_time(rp.pid) && now_ms() < deadline) {
		waitpid(rp.pid, NULL, WNOHANG);
		usleep(20000);
	}
	if (procs_start_time(rp.pid)) {
		kill(rp.pid, SIGKILL);
		waitpid(rp.pid, NULL, 0);
	}
	unlink(PIDFILE);
	return 0;
}

int regproc_kill(struct regproc *rp)
{
	if (rp->pid <= 0)
		return -ESRCH;
	kill(rp->pid, SIGKILL);
	waitpid(rp->pid, NULL, 0);
	rp->pid = 0;
	unlink(PIDFILE);
	return 0;
}

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "procs.h"
#include "topo.h"

#define RECORD TOPO_STATE_DIR "/procs"

extern char **environ;

struct proc {
	pid_t pid;
	int reaped;
	int faketime; /* started under libfaketime */
	enum procs_kind kind;
};

/* Reaped processes' CPU time since procs_cpu_take. */
static struct procs_cpu reaped_cpu;

void procs_cpu_take(struct procs_cpu *out)
{
	*out = reaped_cpu;
	memset(&reaped_cpu, 0, sizeof(reaped_cpu));
}

static enum procs_kind kind_of(const char *path, const char *netns)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!strcmp(base, "faasnet-agent"))
		return PROCS_AGENT;
	if (!strcmp(base, "faasnet-manager"))
		return PROCS_MANAGER;
	if (!strcmp(base, "opentracker"))
		return PROCS_TRACKER;
	if (!strcmp(base, "faasnet-dadi"))
		return PROCS_PROXY;
	if (!strcmp(base, "aria2c"))
		return strcmp(netns, TOPO_PREFIX "manager") ? PROCS_ARIA2C
							    : PROCS_SEEDER;
	return PROCS_OTHER;
}

/* libfaketime gives each process a POSIX semaphore and shared memory
 * object named by its PID, and removes them only when the process exits
 * normally and can still reach /dev/shm: opentracker (chrooted, and ended
 * by SIGTERM, which it does not catch) and anything SIGKILLed leave them
 * behind, a pair per process and run. Removed once the process is gone. */
static void faketime_shm_remove(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/shm/sem.faketime_sem_%d", (int)pid);
	unlink(path);
	snprintf(path, sizeof(path), "/dev/shm/faketime_shm_%d", (int)pid);
	unlink(path);
}

/* waitpid that also counts the process's CPU time by kind. */
static pid_t reap(struct proc *pc, int options)
{
	struct rusage ru;
	pid_t r = wait4(pc->pid, NULL, options, &ru);

	if (r == pc->pid) {
		pc->reaped = 1;
		reaped_cpu.s[pc->kind] +=
			(double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		if (pc->faketime)
			faketime_shm_remove(pc->pid);
	}
	return r;
}

struct procs {
	struct proc *v;
	size_t n, cap;
	double dilation;    /* 1: real time */
	uint64_t origin_ns; /* CLOCK_MONOTONIC when it was set */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Field n (1-based, as proc(5) counts) of /proc/PID/stat; 0 when absent. */
static unsigned long long stat_field(pid_t pid, int n, int *found)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	FILE *f;
	int i;

	*found = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	/* The command may hold spaces and parentheses: count from the last
	 * ')', which ends field 2. */
	p = strrchr(buf, ')');
	for (i = 2; p && i < n; i++)
		p = strchr(p + 1, ' ');
	if (p) {
		v = strtoull(p + 1, NULL, 10);
		*found = 1;
	}
	return v;
}

double procs_cpu_now(pid_t pid)
{
	int f1, f2;
	unsigned long long ut = stat_field(pid, 14, &f1);
	unsigned long long st = stat_field(pid, 15, &f2);

	if (pid <= 0 || !f1 || !f2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

unsigned long long procs_start_time(pid_t pid)
{
	int found;

	/* Field 22 is the start time; a zombie has one too. */
	return stat_field(pid, 22, &found);
}

int procs_new(struct procs **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->dilation = 1;
	return 0;
}

int procs_set_dilation(struct procs *p, double k, struct err *e)
{
	if (!(k >= 1 && k <= PROCS_DILATION_MAX))
		return err_set(e, -EINVAL,
			       "dilation %g: expected a factor from 1 to %d", k,
			       PROCS_DILATION_MAX);
	if (k > 1 && access(PROCS_FAKETIME_LIB, R_OK))
		return err_set(e, -ENOENT,
			       "dilation %g slows aria2c and opentracker with "
			       "libfaketime: %s: %s (apt-get install "
			       "libfaketime)",
			       k, PROCS_FAKETIME_LIB, strerror(errno));
	p->dilation = k;
	p->origin_ns = now_ns();
	return 0;
}

void procs_env_free(char **env)
{
	size_t i;

	if (!env)
		return;
	for (i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

/* What procs_env_dilated leaves out of the harness's environment. */
static int faketime_var(const char *var)
{
	static const char *const names[] = {
		"LD_PRELOAD=",
		"NO_FAKE_STAT=",
		"DONT_FAKE_MONOTONIC=",
		"FAKERANDOM_SEED=",
	};
	size_t i;

	if (!strncmp(var, "FAKETIME", 8))
		return 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(var, names[i], strlen(names[i])))
			return 1;
	return 0;
}

int procs_env_dilated(char *const env[], double k, double since_s, char ***out)
{
	long long off_us, rate_e9;
	size_t n = 0, i, j = 0;
	char **v;

	*out = NULL;
	if (!(k > 1 && k <= PROCS_DILATION_MAX) || !(since_s >= 0))
		return -EINVAL;
	while (env && env[n])
		n++;
	v = calloc(n + 3, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (faketime_var(env[i]))
			continue;
		v[j] = strdup(env[i]);
		if (!v[j++])
			goto nomem;
	}
	/* By hand, not with %f: LC_NUMERIC could make the point a comma,
	 * and libfaketime reads the value with atof in the C locale. */
	off_us = llround(since_s * (1 - 1 / k) * 1e6);
	rate_e9 = llround(1e9 / k);
	if (asprintf(&v[j], "LD_PRELOAD=%s", PROCS_FAKETIME_LIB) < 0) {
		v[j] = NULL;
		goto nomem;
	}
	j++;
	if (asprintf(&v[j], "FAKETIME=-%lld.%06lld x%lld.%09lld",
		     off_us / 1000000, off_us % 1000000, rate_e9 / 1000000000,
		     rate_e9 % 1000000000) < 0) {
		v[j] = NULL;
		goto nomem;
	}
	*out = v;
	return 0;
nomem:
	procs_env_free(v);
	return -ENOMEM;
}

int procs_child_env(const struct procs *p, enum procs_prog prog,
		    char *const env[], char ***out)
{
	*out = NULL;
	if (prog != PROCS_PROG_EXTERNAL || p->dilation <= 1)
		return 0;
	return procs_env_dilated(env, p->dilation,
				 (double)(now_ns() - p->origin_ns) / 1e9, out);
}

static void record(pid_t pid)
{
	FILE *f;

	mkdir(TOPO_STATE_DIR, 0755);
	f = fopen(RECORD, "ae");
	if (!f)
		return;
	fprintf(f, "%d %llu\n", (int)pid, procs_start_time(pid));
	fclose(f);
}

int procs_run_wait(char *const argv[], const char *log, struct err *e)
{
	return procs_run_wait_in(NULL, argv, log, e);
}

int procs_run_wait_in(const char *dir, char *const argv[], const char *log,
		      struct err *e)
{
	pid_t pid, w;
	int st, fd;

	pid = fork();
	if (pid < 0)
		return err_set(e, -errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Only what is safe between fork and exec. */
		if (dir && chdir(dir))
			_exit(127);
		if (log) {
			fd = open(log,
				  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				  0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		} else {
			dup2(2, 1);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	/* A signal the harness catches must not lose the child. */
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (w != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		if (argv[1] && argv[1][0] != '-')
			return err_set(e, -EIO, "%s %s failed (see %s)",
				       argv[0], argv[1],
				       log ? log : "its messages above");
		return err_set(e, -EIO, "%s failed (see %s)", argv[0],
			       log ? log : "its messages above");
	}
	return 0;
}

static int spawn(struct procs *p, enum procs_prog prog, const char *netns,
		 char *const argv[], const char *log, pid_t *pidp,
		 struct err *e)
{
	struct proc *nv;
	char **env = NULL;
	int nsfd, logfd, ret = 0;
	pid_t pid;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;

		nv = realloc(p->v, cap * sizeof(*nv));
		if (!nv)
			return err_set(e, -ENOMEM, "out of memory");
		p->v = nv;
		p->cap = cap;
	}
	nsfd = netns_open(netns);
	if (nsfd < 0)
		return err_set(e, nsfd, "namespace %s: %s", netns,
			       strerror(-nsfd));
	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		ret = err_set(e, -errno, "%s: %s", log, strerror(errno));
		goto out;
	}
	ret = procs_child_env(p, prog, environ, &env);
	if (ret) {
		err_set(e, ret, "%s: its environment: %s", argv[0],
			strerror(-ret));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = err_set(e, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* Its own process group: a Ctrl-C at the terminal reaches
		 * the harness, which ends the run in order. */
		setpgid(0, 0);
		if (null >= 0)
			dup2(null, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (setns(nsfd, CLONE_NEWNET)) {
			dprintf(2, "%s: cannot enter %s: %s\n", argv[0], netns,
				strerror(errno));
			_exit(126);
		}
		execve(argv[0], argv, env ? env : environ);
		dprintf(2, "%s: cannot run it: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	p->v[p->n].pid = pid;
	p->v[p->n].reaped = 0;
	p->v[p->n].faketime = env != NULL;
	p->v[p->n].kind = kind_of(argv[0], netns);
	p->n++;
	record(pid);
	if (pidp)
		*pidp = pid;
out:
	procs_env_free(env);
	if (logfd >= 0)
		close(logfd);
	close(nsfd);
	return ret;
}

int procs_spawn(struct procs *p, const char *netns, char *const argv[],
		const char *log, pid_t *pidp, struct err *e)
{
	return spawn(p, PROCS_PROG_OURS, netns, argv, log, pidp, e);
}

int procs_spawn_ext(struct procs *p, const char *netns, char *const argv[],
		    const char *log, pid_t *pidp, struct err *e)
{
	return spawn(p, PROCS_PROG_EXTERNAL, netns, argv, log, pidp, e);
}

/* The record of pid if it is one of p's and not yet reaped. */
static struct proc *running(struct procs *p, pid_t pid)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->v[i].pid == pid)
			return p->v[i].reaped || reap(&p->v[i], WNOHANG) == pid
				       ? NULL
				       : &p->v[i];
	return NULL;
}

int procs_alive(struct procs *p, pid_t pid)
{
	return running(p, pid) != NULL;
}

int procs_kill(struct procs *p, pid_t pid)
{
	struct proc *pc = running(p, pid);

	if (!pc)
		return -ESRCH;
	kill(pid, SIGKILL);
	if (reap(pc, 0) != pid)
		pc->reaped = 1; /* not ours any more */
	return 0;
}

int procs_sigqueue(struct procs *p, pid_t pid, int sig, int value)
{
	union sigval v = {.sival_int = value};

	if (!running(p, pid))
		return -ESRCH;
	return sigqueue(pid, sig, v) ? -errno : 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void procs_stop_all(struct procs *p, unsigned grace_ms)
{
	long deadline = now_ms() + grace_ms;
	size_t i, left;

	for (i = 0; i < p->n; i++)
		if (!p->v[i].reaped)
			kill(p->v[i].pid, SIGTERM);
	do {
		left = 0;
		for (i = 0; i < p->n; i++) {
			if (p->v[i].reaped)
				continue;
			if (reap(&p->v[i], WNOHANG) != p->v[i].pid)
				left++;
		}
		if (left)
			usleep(10000);
	} while (left && now_ms() < deadline);
	for (i = 0; i < p->n; i++) {
		if (p->v[i].reaped)
			continue;
		kill(p->v[i].pid, SIGKILL);
		if (reap(&p->v[i], 0) != p->v[i].pid)
			p->v[i].reaped = 1; /* not ours any more */
	}
	p->n = 0;
	unlink(RECORD);
}

void procs_free(struct procs *p)
{
	if (!p)
		return;
	free(p->v);
	free(p);
}

int procs_clean_recorded(void)
{
	struct {
		int pid;
		unsigned long long t;
	} v[8192];
	unsigned long long t;
	int pid, ended = 0, i, left;
	long deadline;
	FILE *f;

	f = fopen(RECORD, "re");
	if (!f)
		return 0;
	while (ended < 8192 && fscanf(f, "%d %llu", &pid, &t) == 2) {
		if (pid <= 1 || !t || procs_start_time(pid) != t)
			continue; /* gone, or the PID is someone else's now */
		kill(pid, SIGKILL);
		v[ended].pid = pid;
		v[ended].t = t;
		ended++;
	}
	fclose(f);
	unlink(RECORD);
	/* They are not ours to reap (the run that started them is gone);
	 * wait a little for init to, so that clean leaves nothing running. */
	deadline = now_ms() + 3000;
	do {
		for (i = 0, left = 0; i < ended; i++)
			left += procs_start_time(v[i].pid) == v[i].t;
		if (left)
			usleep(20000);
	} while (left && now_ms() < deadline);
	/* The record does not say which ran under libfaketime: whatever
	 * it left of theirs goes (nothing, for the others). */
	for (i = 0; i < ended; i++)
		if (procs_start_time(v[i].pid) != v[i].t)
			faketime_shm_remove(v[i].pid);
	return ended;
}

/* Two external programs started 2 s apart through one dilated procs, each
 * with the environment procs_spawn_ext would give it (procs_child_env),
 * read CLOCK_REALTIME at the same real instant: with the offsets procs
 * computes they read the same emulated time. Usage: clock K (links
 * build/obj/testbed/procs.o; measure.sh builds it). With "read DEADLINE
 * NAME" it is the child: it waits (raw system call) until real
 * CLOCK_MONOTONIC reaches DEADLINE s and prints what it sees. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procs.h"

extern char **environ;

static int child(double d, const char *name)
{
	struct timespec t = {(time_t)d, (long)((d - (time_t)d) * 1e9)};
	struct timespec s, r;

	syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	clock_gettime(CLOCK_REALTIME, &s);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &r);
	printf("%s sees REALTIME %.3f at real %.3f\n", name,
	       s.tv_sec + s.tv_nsec / 1e9, r.tv_sec + r.tv_nsec / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	char self[4096], when[32], name[2][32], **env;
	struct procs *p;
	struct err e = {""};
	struct timespec t;
	pid_t pid[2];
	ssize_t n;
	int i;

	if (argc == 4 && !strcmp(argv[1], "read"))
		return child(atof(argv[2]), argv[3]);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (argc != 2 || n <= 0 || procs_new(&p))
		return 2;
	self[n] = '\0';
	if (procs_set_dilation(p, atof(argv[1]), &e)) {
		printf("procs_set_dilation: %s\n", e.msg);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	snprintf(when, sizeof(when), "%.3f", t.tv_sec + t.tv_nsec / 1e9 + 6);
	for (i = 0; i < 2; i++) {
		char *av[] = {self, "read", when, name[i], NULL};

		snprintf(name[i], sizeof(name[i]), "started at t0+%ds", 2 * i);
		if (procs_child_env(p, PROCS_PROG_EXTERNAL, environ, &env))
			return 1;
		for (char **v = env; *v; v++)
			if (!strncmp(*v, "FAKETIME=", 9))
				printf("%s: %s\n", name[i], *v);
		fflush(stdout);
		pid[i] = fork();
		if (pid[i] == 0) {
			execve(av[0], av, env);
			_exit(127);
		}
		procs_env_free(env);
		if (!i)
			sleep(2);
	}
	for (i = 0; i < 2; i++)
		waitpid(pid[i], NULL, 0);
	procs_free(p);
	return 0;
}

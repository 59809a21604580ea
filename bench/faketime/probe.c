/* What libfaketime slows: for each way a program waits, a wait of WAIT_MS
 * as the program asks for it, and how long it took in real time (the raw
 * clock_gettime system call, which libfaketime does not intercept) against
 * how long the program's own clocks say it took. Run it plain and under
 * LD_PRELOAD=libfaketime.so.1 FAKETIME="+0 x0.5" (bench/faketime/measure.sh
 * does). A wait that may never end under libfaketime (an absolute timerfd)
 * is given 3 real seconds. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 400

struct marks {
	double real, mono, rt, tod, raw, boot;
};

static double ts_s(const struct timespec *t)
{
	return (double)t->tv_sec + t->tv_nsec / 1e9;
}

static double seen(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return ts_s(&t);
}

static void mark(struct marks *m)
{
	struct timespec t;
	struct timeval tv;

	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
	m->real = ts_s(&t);
	m->mono = seen(CLOCK_MONOTONIC);
	m->rt = seen(CLOCK_REALTIME);
	gettimeofday(&tv, NULL);
	m->tod = (double)tv.tv_sec + tv.tv_usec / 1e6;
	m->raw = seen(CLOCK_MONOTONIC_RAW);
	m->boot = seen(CLOCK_BOOTTIME);
}

static void report(const char *what, const struct marks *a)
{
	struct marks b;

	mark(&b);
	printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", what,
	       b.real - a->real, b.mono - a->mono, b.rt - a->rt, b.tod - a->tod,
	       b.raw - a->raw, b.boot - a->boot);
}

/* The clock's now plus WAIT_MS, as the program sees it. */
static struct timespec deadline(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	t.tv_nsec += WAIT_MS * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void timerfds(int ep)
{
	struct itimerspec its = {.it_value = {0, WAIT_MS * 1000000L}};
	struct epoll_event ev = {.events = EPOLLIN}, out;
	struct pollfd pfd;
	struct marks a;
	uint64_t n;
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);

	mark(&a);
	timerfd_settime(fd, 0, &its, NULL);
	if (read(fd, &n, sizeof(n)) == sizeof(n))
		report("timerfd MONOTONIC, relative", &a);
	its.it_value = deadline(CLOCK_MONOTONIC);
	mark(&a);
	timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (syscall(SYS_poll, &pfd, 1, 3000) == 1 &&
	    read(fd, &n, sizeof(n)) == sizeof(n)) {
		report("timerfd MONOTONIC, absolute", &a);
	} else {
		report("timerfd MONOTONIC, absolute: not fired in 3 s", &a);
		its.it_value.tv_sec = its.it_value.tv_nsec = 0;
		timerfd_settime(fd, 0, &its, NULL);
	}
	/* an event loop's way: a relative timerfd in epoll_wait(-1) */
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = WAIT_MS * 1000000L;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	mark(&a);
	timerfd_settime(fd, 0, &its, NULL);
	if (epoll_wait(ep, &out, 1, -1) == 1 &&
	    read(fd, &n, sizeof(n)) == sizeof(n))
		report("timerfd relative, in epoll_wait(-1)", &a);
	close(fd);
}

static void conds(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_condattr_t ca;
	pthread_cond_t c;
	struct timespec t;
	struct marks a;
	sem_t s;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c, &ca);
	pthread_mutex_lock(&m);
	t = deadline(CLOCK_MONOTONIC);
	mark(&a);
	pthread_cond_timedwait(&c, &m, &t);
	report("pthread_cond_timedwait, MONOTONIC", &a);
	pthread_cond_destroy(&c);
	pthread_cond_init(&c, NULL);
	t = deadline(CLOCK_REALTIME);
	mark(&a);
	pthread_cond_timedwait(&c, &m, &t);
	report("pthread_cond_timedwait, REALTIME", &a);
	pthread_mutex_unlock(&m);
	pthread_cond_destroy(&c);
	sem_init(&s, 0, 0);
	t = deadline(CLOCK_REALTIME);
	mark(&a);
	sem_timedwait(&s, &t);
	report("sem_timedwait", &a);
	sem_destroy(&s);
}

int main(void)
{
	struct timespec req = {0, WAIT_MS * 1000000L}, t;
	struct epoll_event ev = {.events = EPOLLIN}, out;
	struct timeval tv = {0, WAIT_MS * 1000};
	struct pollfd pfd;
	struct marks a;
	int fds[2], ep;
	fd_set r;

	if (pipe(fds))
		return 1;
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	printf("| a wait of %d ms | real s | MONOTONIC | REALTIME | "
	       "gettimeofday | MONOTONIC_RAW | BOOTTIME |\n|---|---|---|---|"
	       "---|---|---|\n",
	       WAIT_MS);
	mark(&a);
	syscall(SYS_nanosleep, &req, NULL);
	report("raw nanosleep system call (the clocks alone)", &a);
	mark(&a);
	nanosleep(&req, NULL);
	report("nanosleep", &a);
	mark(&a);
	usleep(WAIT_MS * 1000);
	report("usleep", &a);
	mark(&a);
	clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
	report("clock_nanosleep MONOTONIC, relative", &a);
	t = deadline(CLOCK_MONOTONIC);
	mark(&a);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	report("clock_nanosleep MONOTONIC, absolute", &a);
	mark(&a);
	poll(&pfd, 1, WAIT_MS);
	report("poll", &a);
	mark(&a);
	ppoll(&pfd, 1, &req, NULL);
	report("ppoll", &a);
	t.tv_sec = 1;
	t.tv_nsec = WAIT_MS * 1000000L;
	mark(&a);
	ppoll(&pfd, 1, &t, NULL);
	report("ppoll, 1.4 s", &a);
	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	mark(&a);
	select(fds[0] + 1, &r, NULL, NULL, &tv);
	report("select", &a);
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev);
	mark(&a);
	epoll_wait(ep, &out, 1, WAIT_MS);
	report("epoll_wait", &a);
	mark(&a);
	epoll_pwait(ep, &out, 1, WAIT_MS, NULL);
	report("epoll_pwait", &a);
	timerfds(ep);
	conds();
	return 0;
}

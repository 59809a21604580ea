#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"

#define MAX_EVENTS 64

struct watch {
	int fd;
	int dead; /* removed during a batch: freed after it */
	evloop_fd_fn fn;
	void *arg;
	struct watch *next_dead;
};

struct timer {
	long id;
	uint64_t due_ns;
	evloop_timer_fn fn;
	void *arg;
	struct timer *next; /* sorted by due time */
};

struct evloop {
	int ep;
	/* Indexed by fd: the manager holds a connection per agent, so a
	 * thousand, and every event must find its watch at once. */
	struct watch **byfd;
	int nfd;
	struct watch *dead;
	struct timer *timers;
	long next_id;
	int stopped;
	double dilation; /* >= 1 */
	struct evloop_defer *deferred; /* armed, newest first */
};

static __thread struct evloop *current;

struct evloop *evloop_current(void)
{
	return current;
}

void evloop_defer(struct evloop *l, struct evloop_defer *d, evloop_defer_fn fn,
		  void *arg)
{
	if (d->armed)
		return;
	d->fn = fn;
	d->arg = arg;
	d->armed = 1;
	d->next = l->deferred;
	l->deferred = d;
}

void evloop_defer_cancel(struct evloop *l, struct evloop_defer *d)
{
	struct evloop_defer **p;

	if (!d->armed)
		return;
	for (p = &l->deferred; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	d->armed = 0;
	d->next = NULL;
}

/* One node at a time from the head: a call may cancel others or defer. */
static void run_deferred(struct evloop *l)
{
	struct evloop_defer *d;

	while ((d = l->deferred)) {
		l->deferred = d->next;
		d->next = NULL;
		d->armed = 0;
		d->fn(l, d->arg);
	}
}

uint64_t evloop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int evloop_new(struct evloop **out)
{
	struct evloop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		int ret = -errno;

		free(l);
		return ret;
	}
	*out = l;
	return 0;
}

static void bury(struct evloop *l)
{
	struct watch *w;

	while ((w = l->dead)) {
		l->dead = w->next_dead;
		free(w);
	}
}

void evloop_free(struct evloop *l)
{
	struct timer *t, *tn;
	int i;

	if (!l)
		return;
	while (l->deferred)
		evloop_defer_cancel(l, l->deferred);
	for (i = 0; i < l->nfd; i++)
		free(l->byfd[i]);
	free(l->byfd);
	bury(l);
	for (t = l->timers; t; t = tn) {
		tn = t->next;
		free(t);
	}
	close(l->ep);
	free(l);
}

static struct watch *find(struct evloop *l, int fd)
{
	return fd >= 0 && fd < l->nfd ? l->byfd[fd] : NULL;
}

static uint32_t to_epoll(unsigned events)
{
	return (events & EVLOOP_IN ? EPOLLIN : 0) |
	       (events & EVLOOP_OUT ? EPOLLOUT : 0);
}

int evloop_add(struct evloop *l, int fd, unsigned events, evloop_fd_fn fn,
	       void *arg)
{
	struct epoll_event ev = {.events = to_epoll(events)};
	struct watch *w, **nb;
	int n;

	if (fd < 0)
		return -EBADF;
	if (find(l, fd))
		return -EEXIST;
	if (fd >= l->nfd) {
		n = fd < 64 ? 64 : 2 * fd;
		nb = realloc(l->byfd, (size_t)n * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		memset(nb + l->nfd, 0, (size_t)(n - l->nfd) * sizeof(*nb));
		l->byfd = nb;
		l->nfd = n;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->fn = fn;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev)) {
		int ret = -errno;

		free(w);
		return ret;
	}
	l->byfd[fd] = w;
	return 0;
}

int evloop_mod(struct evloop *l, int fd, unsigned events)
{
	struct epoll_event ev = {.events = to_epoll(events)};
	struct watch *w = find(l, fd);

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

int evloop_del(struct evloop *l, int fd)
{
	struct watch *w = find(l, fd);

	if (!w)
		return -ENOENT;
	l->byfd[fd] = NULL;
	/* Events of this batch may still name it: free it after. */
	w->dead = 1;
	w->next_dead = l->dead;
	l->dead = w;
	/* Call before closing fd; after, the kernel has dropped it anyway. */
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	return 0;
}

int evloop_set_dilation(struct evloop *l, double k)
{
	if (!(k >= 1.0) || k > 1e6)
		return -EINVAL;
	l->dilation = k;
	return 0;
}

uint64_t evloop_span_ns(const struct evloop *l, uint64_t ms)
{
	if (l->dilation <= 1.0)
		return ms * 1000000ull;
	return (uint64_t)((double)ms * 1e6 * l->dilation + 0.5);
}

long evloop_timer(struct evloop *l, unsigned ms, evloop_timer_fn fn, void *arg)
{
	struct timer *t = calloc(1, sizeof(*t)), **p;

	if (!t)
		return -ENOMEM;
	t->id = ++l->next_id;
	t->due_ns = evloop_now_ns() + evloop_span_ns(l, ms);
	t->fn = fn;
	t->arg = arg;
	for (p = &l->timers; *p && (*p)->due_ns <= t->due_ns; p = &(*p)->next)
		;
	t->next = *p;
	*p = t;
	return t->id;
}

void evloop_cancel(struct evloop *l, long id)
{
	struct timer **p, *t;

	for (p = &l->timers; (t = *p); p = &t->next) {
		if (t->id == id) {
			*p = t->next;
			free(t);
			return;
		}
	}
}

void evloop_stop(struct evloop *l)
{
	l->stopped = 1;
}

static void run_timers(struct evloop *l)
{
	uint64_t now = evloop_now_ns();
	struct timer *t;

	/* One at a time from the head: a callback may add or cancel. */
	while ((t = l->timers) && t->due_ns <= now) {
		l->timers = t->next;
		t->fn(l, t->arg);
		free(t);
	}
}

static void on_stop_fd(struct evloop *l, int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	evloop_stop(l);
}

int evloop_run(struct evloop *l, int stop_fd)
{
	struct epoll_event ev[MAX_EVENTS];
	struct evloop *outer = current;
	int n, i, wait_ms, ret = 0;

	if (stop_fd >= 0 && (ret = evloop_add(l, stop_fd, EVLOOP_IN,
					      on_stop_fd, NULL)))
		return ret;
	l->stopped = 0;
	current = l;
	run_deferred(l);
	while (!l->stopped) {
		/* No timer: sleep until a descriptor wakes us. The stop
		 * request is a descriptor too, so an idle loop never polls
		 * (a thousand idle agents stay asleep). */
		wait_ms = -1;
		if (l->timers) {
			uint64_t now = evloop_now_ns();
			uint64_t due = l->timers->due_ns;

			/* Clamped in 64 bits: a far timer must not wrap
			 * into a negative, endless wait. */
			uint64_t ms =
				due <= now ? 0 : (due - now) / 1000000 + 1;

			wait_ms = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		n = epoll_wait(l->ep, ev, MAX_EVENTS, wait_ms);
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		for (i = 0; i < n && !l->stopped; i++) {
			struct watch *w = ev[i].data.ptr;
			unsigned events = 0;

			/* Removed by a callback since epoll_wait returned. */
			if (w->dead)
				continue;
			if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				events |= EVLOOP_IN;
			if (ev[i].events & EPOLLOUT)
				events |= EVLOOP_OUT;
			w->fn(l, w->fd, events, w->arg);
		}
		bury(l);
		run_timers(l);
		run_deferred(l);
	}
	run_deferred(l);
	if (stop_fd >= 0)
		evloop_del(l, stop_fd);
	current = outer;
	return ret;
}

int evloop_signal_fd(void)
{
	sigset_t set;
	int fd;

	/* Blocked first, so that these signals can only ever be read from
	 * the descriptor: no handler, no flag, no race with the wait.
	 * Threads started afterwards inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int evloop_signal_read(int fd, int *signo, int *value)
{
	struct signalfd_siginfo si;
	ssize_t n;

	do
		n = read(fd, &si, sizeof(si));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*value = 0;
	if (n != sizeof(si)) {
		/* An eventfd's 8 bytes: a stop. */
		*signo = SIGTERM;
		return 0;
	}
	*signo = (int)si.ssi_signo;
	*value = si.ssi_int;
	return 0;
}

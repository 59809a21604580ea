#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "fidmon.h"
#include "link.h"
#include "netmon.h"
#include "netns.h"

#define MAX_CPUS 256
/* Canary wake-ups kept per window: a second's worth and room to spare; the
 * worst is kept apart, so an overflow never hides it. */
#define CANARY_CAP 256
#define PSI_FILE   "/proc/pressure/cpu"

struct cpu_times {
	unsigned long long busy, softirq, total;
};

/* One shaped link end: a host's download (its cable's host end, in the
 * initial namespace) or upload (eth0 in its namespace). */
struct end {
	char name[32]; /* "vm0003 download" */
	char csv[24];  /* "vm0003.down" */
	uint64_t rate_bps;
	struct link_htb_stats prev, cur;
	int have_prev, have_cur;
};

/* A namespace whose uploads are sampled: its socket and its end. */
struct upns {
	struct nl_sock *sk;
	struct end *end;
};

struct fidmon {
	const struct topo_plan *plan;
	unsigned interval_ms;
	pthread_t thread, canary;
	int thread_up, canary_up;
	atomic_int stop;
	FILE *csv;
	struct netmon *netmon;
	struct nl_sock *sk; /* the initial namespace's */
	struct end *ends;   /* downloads [0, nhosts), then uploads */
	struct upns *up;
	size_t nup;
	uint64_t t0;

	/* the canary's wake-ups since the monitor last took them */
	pthread_mutex_t lock;
	double late_ms[CANARY_CAP];
	size_t nlate;
	double late_max_ms;

	struct cpu_times cpu[MAX_CPUS];
	int ncpu;
	int psi_ok;
	unsigned long long psi_total;
	char note[160];

	/* the samples, times in seconds from t0 until fidmon_judge */
	struct fidelity_host_sample *host;
	size_t nhost, caphost;
	struct fidelity_link_sample *links;
	size_t nlinks, caplinks;
	struct fidelity_lag_sample *lag;
	size_t nlag, caplag;
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;

	if (n < *cap)
		return 0;
	nv = reallocarray(*v, *cap ? 2 * *cap : 256, size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = *cap ? 2 * *cap : 256;
	return 0;
}

static void *canary(void *arg)
{
	struct fidmon *m = arg;
	uint64_t target = evloop_now_ns(), now, late;
	struct timespec ts;

	while (!atomic_load(&m->stop)) {
		target += FIDMON_CANARY_MS * 1000000ull;
		ts.tv_sec = (time_t)(target / 1000000000ull);
		ts.tv_nsec = (long)(target % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
		now = evloop_now_ns();
		late = now > target ? now - target : 0;
		pthread_mutex_lock(&m->lock);
		if (m->nlate < CANARY_CAP)
			m->late_ms[m->nlate++] = (double)late / 1e6;
		if ((double)late / 1e6 > m->late_max_ms)
			m->late_max_ms = (double)late / 1e6;
		pthread_mutex_unlock(&m->lock);
		/* After a long stall, start again from now rather than wake
		 * in a burst to catch up: each wake-up measures one sleep. */
		if (now > target + FIDMON_CANARY_MS * 1000000ull)
			target = now;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The canary's worst and nearest-rank p99 lateness since the last call;
 * -1 when it did not wake. */
static void canary_take(struct fidmon *m, double *max_ms, double *p99_ms)
{
	double v[CANARY_CAP];
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->nlate;
	memcpy(v, m->late_ms, n * sizeof(v[0]));
	*max_ms = n ? m->late_max_ms : -1;
	m->nlate = 0;
	m->late_max_ms = 0;
	pthread_mutex_unlock(&m->lock);
	if (!n) {
		*p99_ms = -1;
		return;
	}
	qsort(v, n, sizeof(v[0]), cmp_double);
	*p99_ms = v[(99 * n + 99) / 100 - 1];
}

/* Per-CPU times from /proc/stat: user nice system idle iowait irq softirq
 * steal. Busy is all but idle and iowait. Returns how many CPUs. */
static int read_cpus(struct cpu_times *c)
{
	unsigned long long v[8];
	char line[512];
	int n = 0, k;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (n < MAX_CPUS && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		memset(v, 0, sizeof(v));
		if (sscanf(line,
			   "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &k,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) < 8)
			continue;
		c[n].total =
			v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		c[n].busy = c[n].total - v[3] - v[4];
		c[n].softirq = v[6];
		n++;
	}
	fclose(f);
	return n;
}

/* "some ... total=N": microseconds in which some runnable task waited for
 * a CPU, since boot. */
static int read_psi(unsigned long long *total)
{
	char line[256], *t;
	FILE *f = fopen(PSI_FILE, "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	if (fgets(line, sizeof(line), f) && !strncmp(line, "some", 4) &&
	    (t = strstr(line, "total="))) {
		*total = strtoull(t + 6, NULL, 10);
		ret = 0;
	}
	fclose(f);
	return ret;
}

static void on_download(void *arg, int ifindex, const struct link_htb_stats *s)
{
	struct fidmon *m = arg;
	long i = (long)ifindex - m->plan->hosts[0].ifindex;

	if (i < 0 || i >= (long)m->plan->nhosts ||
	    m->plan->hosts[i].ifindex != ifindex)
		return;
	m->ends[i].cur = *s;
	m->ends[i].have_cur = 1;
}

static void on_upload(void *arg, int ifindex, const struct link_htb_stats *s)
{
	struct end *end = arg;

	if (ifindex != TOPO_HOST_IFINDEX)
		return;
	end->cur = *s;
	end->have_cur = 1;
}

/* One window of one link end, into the CSV and, when it was backlogged,
 * the verdict's samples. Returns its ratio when backlogged, else -1. */
static double link_window(struct fidmon *m, struct end *end, double from_s,
			  double to_s)
{
	struct fidelity_link_sample l = {
		.from_s = from_s, .to_s = to_s, .rate_bps = end->rate_bps};
	double ratio = -1;

	snprintf(l.link, sizeof(l.link), "%s", end->name);
	l.bytes = end->cur.bytes - end->prev.bytes;
	l.backlog_from = end->prev.backlog;
	l.backlog_to = end->cur.backlog;
	l.drops = end->cur.drops - end->prev.drops;
	l.overlimits = end->cur.overlimits - end->prev.overlimits;
	if (!l.bytes && !l.backlog_from && !l.backlog_to && !l.drops &&
	    !l.overlimits)
		return -1;
	fprintf(m->csv, "%.3f,%.3f,%s,,,,,,,,,,%llu,%llu,%u,%u,%u,%u\n", to_s,
		to_s - from_s, end->csv, (unsigned long long)l.bytes,
		(unsigned long long)l.rate_bps, l.backlog_from, l.backlog_to,
		l.drops, l.overlimits);
	if (fidelity_link_backlogged(&l)) {
		ratio = fidelity_link_ratio(&l);
		if (!grow((void **)&m->links, &m->caplinks, m->nlinks,
			  sizeof(*m->links)))
			m->links[m->nlinks++] = l;
	}
	return ratio;
}

/* Reads every counter; with a previous sample, writes the window that
 * ends now. */
static void sample(struct fidmon *m, double from_s, double to_s, int first)
{
	struct fidelity_host_sample h = {.from_s = from_s,
					 .to_s = to_s,
					 .cpu = -1,
					 .softirq_cpu = -1,
					 .psi = -1};
	struct cpu_times cpu[MAX_CPUS];
	unsigned long long psi = 0;
	const char *worst = NULL;
	double worst_ratio = 2, r;
	struct err e;
	size_t i, nends = m->plan->nhosts + m->nup;
	int ncpu, k;

	/* netdev.csv is the world's: under dilation k its seconds are k
	 * times shorter than the wall's, so its rates read undilated. The
	 * host's signals stay on the wall clock. */
	netmon_sample(m->netmon, m->plan->spec.dilation > 1.0
					 ? to_s / m->plan->spec.dilation
					 : to_s);
	link_htb_stats(m->sk, on_download, m, &e);
	for (i = 0; i < m->nup; i++)
		link_htb_stats(m->up[i].sk, on_upload, m->up[i].end, &e);
	ncpu = read_cpus(cpu);
	if (m->psi_ok && read_psi(&psi))
		m->psi_ok = 0;
	if (!first) {
		for (k = 0; k < ncpu && k < m->ncpu; k++) {
			unsigned long long dt = cpu[k].total - m->cpu[k].total;
			double busy, sirq;

			if (!dt || cpu[k].total < m->cpu[k].total)
				continue;
			busy = (double)(cpu[k].busy - m->cpu[k].busy) /
			       (double)dt;
			sirq = (double)(cpu[k].softirq - m->cpu[k].softirq) /
			       (double)dt;
			if (h.cpu < 0 || busy > h.cpu_busy) {
				h.cpu = k;
				h.cpu_busy = busy;
			}
			if (h.softirq_cpu < 0 || sirq > h.softirq) {
				h.softirq_cpu = k;
				h.softirq = sirq;
			}
		}
		/* The file is read a moment after the window's end: a share
		 * a little above 1 is that moment, not more than all. */
		if (m->psi_ok && to_s > from_s)
			h.psi = fmin(1.0, (double)(psi - m->psi_total) / 1e6 /
						  (to_s - from_s));
		canary_take(m, &h.canary_max_ms, &h.canary_p99_ms);
		for (i = 0; i < nends; i++) {
			struct end *end = &m->ends[i];

			if (!end->have_prev || !end->have_cur)
				continue;
			r = link_window(m, end, from_s, to_s);
			if (r >= 0 && r < worst_ratio) {
				worst_ratio = r;
				worst = end->csv;
			}
		}
		fprintf(m->csv, "%.3f,%.3f,host,%d,%.4f,%d,%.4f,", to_s,
			to_s - from_s, h.cpu, h.cpu_busy, h.softirq_cpu,
			h.softirq);
		if (m->psi_ok)
			fprintf(m->csv, "%llu", psi - m->psi_total);
		if (h.canary_max_ms >= 0)
			fprintf(m->csv, ",%.3f,%.3f", h.canary_max_ms,
				h.canary_p99_ms);
		else
			fprintf(m->csv, ",,");
		if (worst)
			fprintf(m->csv, ",%s,%.4f,,,,,,\n", worst, worst_ratio);
		else
			fprintf(m->csv, ",,,,,,,,\n");
		fflush(m->csv);
		if (!grow((void **)&m->host, &m->caphost, m->nhost,
			  sizeof(*m->host)))
			m->host[m->nhost++] = h;
	} else {
		canary_take(m, &h.canary_max_ms, &h.canary_p99_ms);
	}
	memcpy(m->cpu, cpu, sizeof(cpu[0]) * (size_t)ncpu);
	m->ncpu = ncpu;
	m->psi_total = psi;
	for (i = 0; i < nends; i++) {
		m->ends[i].prev = m->ends[i].cur;
		m->ends[i].have_prev = m->ends[i].have_cur;
		m->ends[i].have_cur = 0;
	}
}

static void *run(void *arg)
{
	struct fidmon *m = arg;
	uint64_t next = m->t0, prev = m->t0;
	struct timespec ts;
	int first = 1;

	while (!atomic_load(&m->stop)) {
		uint64_t now = evloop_now_ns();

		sample(m, (double)(prev - m->t0) / 1e9,
		       (double)(now - m->t0) / 1e9, first);
		first = 0;
		prev = now;
		/* On a fixed grid, so that late wake-ups do not stretch the
		 * run's windows one after another. */
		next += m->interval_ms * 1000000ull;
		if (next <= now)
			next = now + m->interval_ms * 1000000ull;
		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
	}
	/* The last, partial window: the end of the workload is in it. */
	sample(m, (double)(prev - m->t0) / 1e9,
	       (double)(evloop_now_ns() - m->t0) / 1e9, 0);
	return NULL;
}

static int open_sock(void *arg)
{
	struct nl_sock **sk = arg;
	struct err e;

	*sk = link_sock_open(&e);
	return *sk ? 0 : -EIO;
}

/* A socket in every host's namespace whose upload is sampled. */
static int open_uploads(struct fidmon *m, struct err *e)
{
	const struct topo_plan *p = m->plan;
	size_t i;
	int nsfd, ret;

	m->up = calloc(p->nhosts, sizeof(*m->up));
	if (!m->up)
		return err_set(e, -ENOMEM, "out of memory");
	for (i = 0; i < p->nhosts; i++) {
		const struct topo_host *h = &p->hosts[i];
		struct end *end = &m->ends[p->nhosts + m->nup];

		if (p->nhosts > FIDMON_MAX_UPLOAD_NS && h->role == TOPO_ROLE_VM)
			continue;
		nsfd = netns_open(h->netns);
		if (nsfd < 0)
			return err_set(e, nsfd, "namespace %s: %s", h->netns,
				       strerror(-nsfd));
		ret = netns_run(nsfd, open_sock, &m->up[m->nup].sk);
		close(nsfd);
		if (ret)
			return err_set(e, ret, "a netlink socket in %s: %s",
				       h->netns, strerror(-ret));
		snprintf(end->name, sizeof(end->name), "%s upload", h->name);
		snprintf(end->csv, sizeof(end->csv), "%s.up", h->name);
		end->rate_bps = h->rate_bps;
		m->up[m->nup].end = end;
		m->nup++;
	}
	return 0;
}

int fidmon_start(const struct topo_plan *plan, const char *dir,
		 unsigned interval_ms, struct fidmon **out, struct err *e)
{
	struct fidmon *m = calloc(1, sizeof(*m));
	char path[PATH_MAX + 32];
	unsigned long long psi;
	size_t i;
	int ret;

	if (!m)
		return err_set(e, -ENOMEM, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	m->plan = plan;
	m->interval_ms = interval_ms < 100    ? 100
			 : interval_ms > 1000 ? 1000
					      : interval_ms;
	m->ends = calloc(2 * (size_t)plan->nhosts, sizeof(*m->ends));
	if (!m->ends) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < plan->nhosts; i++) {
		snprintf(m->ends[i].name, sizeof(m->ends[i].name),
			 "%s download", plan->hosts[i].name);
		snprintf(m->ends[i].csv, sizeof(m->ends[i].csv), "%s.down",
			 plan->hosts[i].name);
		m->ends[i].rate_bps = plan->hosts[i].rate_bps;
	}
	snprintf(path, sizeof(path), "%s/netdev.csv", dir);
	ret = netmon_open(path, &m->netmon, e);
	if (ret)
		goto fail;
	m->sk = link_sock_open(e);
	if (!m->sk) {
		ret = -EIO;
		goto fail;
	}
	ret = open_uploads(m, e);
	if (ret)
		goto fail;
	snprintf(path, sizeof(path), "%s/monitor.csv", dir);
	m->csv = fopen(path, "we");
	if (!m->csv) {
		ret = err_set(e, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fprintf(m->csv, "t_s,dt_s,subject,busiest_cpu,cpu_busy,softirq_cpu,"
			"softirq,psi_some_us,canary_max_ms,canary_p99_ms,"
			"worst_link,worst_ratio,bytes,rate_bps,backlog_from,"
			"backlog_to,drops,overlimits\n");
	ret = read_psi(&psi);
	m->psi_ok = !ret;
	if (ret)
		snprintf(m->note, sizeof(m->note),
			 "no CPU pressure: %s: %s (a kernel without PSI, or "
			 "psi=0): not judged",
			 PSI_FILE, strerror(-ret));
	m->t0 = evloop_now_ns();
	ret = -pthread_create(&m->canary, NULL, canary, m);
	if (!ret) {
		m->canary_up = 1;
		ret = -pthread_create(&m->thread, NULL, run, m);
	}
	if (ret) {
		err_set(e, ret, "monitor thread: %s", strerror(-ret));
		goto fail;
	}
	m->thread_up = 1;
	*out = m;
	return 0;
fail:
	fidmon_stop(m);
	fidmon_free(m);
	return ret;
}

void fidmon_stop(struct fidmon *m)
{
	size_t i;

	if (!m)
		return;
	atomic_store(&m->stop, 1);
	if (m->thread_up)
		pthread_join(m->thread, NULL);
	if (m->canary_up)
		pthread_join(m->canary, NULL);
	m->thread_up = m->canary_up = 0;
	for (i = 0; m->up && i < m->nup; i++) {
		link_sock_close(m->up[i].sk);
		m->up[i].sk = NULL;
	}
	link_sock_close(m->sk);
	m->sk = NULL;
	netmon_close(m->netmon);
	m->netmon = NULL;
	if (m->csv)
		fclose(m->csv);
	m->csv = NULL;
}

void fidmon_read_lag(struct fidmon *m, const char *manager_log)
{
	char line[4096];
	FILE *f;

	if (!m)
		return;
	f = fopen(manager_log, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		json_t *j;
		double max_ms, win_s, t_s;

		if (!strstr(line, "\"event\":\"loop_lag\""))
			continue;
		j = json_loads(line, 0, NULL);
		t_s = ((double)json_integer_value(json_object_get(j, "t_ns")) -
		       (double)m->t0) /
		      1e9;
		max_ms = json_number_value(json_object_get(j, "max_ms"));
		win_s = json_number_value(json_object_get(j, "window_s"));
		json_decref(j);
		if (win_s <= 0 || grow((void **)&m->lag, &m->caplag, m->nlag,
				       sizeof(*m->lag)))
			continue;
		m->lag[m->nlag].from_s = t_s - win_s;
		m->lag[m->nlag].to_s = t_s;
		m->lag[m->nlag].max_ms = max_ms;
		m->nlag++;
	}
	fclose(f);
}

int fidmon_judge(struct fidmon *m, uint64_t t0_ns, struct fidelity_verdict *v)
{
	/* Sampling started a little before the run's clock did. */
	double shift = ((double)m->t0 - (double)t0_ns) / 1e9;
	struct fidelity_input in;
	size_t i;

	for (i = 0; i < m->nhost; i++) {
		m->host[i].from_s += shift;
		m->host[i].to_s += shift;
	}
	for (i = 0; i < m->nlinks; i++) {
		m->links[i].from_s += shift;
		m->links[i].to_s += shift;
	}
	for (i = 0; i < m->nlag; i++) {
		m->lag[i].from_s += shift;
		m->lag[i].to_s += shift;
	}
	m->t0 = t0_ns;
	in = (struct fidelity_input){.host = m->host,
				     .nhost = m->nhost,
				     .links = m->links,
				     .nlinks = m->nlinks,
				     .lag = m->lag,
				     .nlag = m->nlag};
	return fidelity_judge(&in, v);
}

const char *fidmon_note(const struct fidmon *m)
{
	return m ? m->note : "";
}

void fidmon_free(struct fidmon *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->ends);
	free(m->up);
	free(m->host);
	free(m->links);
	free(m->lag);
	free(m);
}

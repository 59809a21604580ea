/* agent-bench: what the FaaSNet agent costs, measured on loopback without
 * root (issue 11). It runs real faasnet-agent processes, each on its own
 * 127.42.x.y address, and is their FT manager and the tree's root parent:
 *
 *   burst: N agents in a binary tree under this program (which serves the
 *          image from memory, as a root agent's registry would); every
 *          block is in the start-up set, so each agent fetches, verifies,
 *          decompresses, stores and forwards the whole image. Prints the
 *          agents' CPU seconds during the burst, the bytes they received
 *          (their own `stats` lines), CPU s per MB, and the floor: sha256
 *          plus zstd decompression of the same bytes, in this process.
 *   --registry: the root reads an HTTP registry (a thread here) instead.
 *   idle:  N agents started at once: the time until every one has said
 *          HELLO (it listens before it does), then RSS and PSS each.
 *
 * usage: agent-bench [--agent BIN] [--agents N] [--size BYTES]
 *                    [--block-size BYTES] [--reps R] [--idle N,...]
 *                    [--perf FILE] [--keep] [--registry]
 * Temp files in /tmp/fnet-lean-bench.*, removed. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "blockimg.h"
#include "conn.h"
#include "evloop.h"
#include "layer.h"
#include "oci.h"
#include "proto.h"
#include "sha256.h"
#include "synth.h"
#include "fake_registry.h"
#include "mem_image.h"

extern char **environ;

#define ADDR_BASE     0x7f2a0000u /* 127.42.0.0 */
#define AGENT_PORT    7001
#define FUNCTION      "f"
#define BURST_LIMIT_S 300

/* --- the image --------------------------------------------------------- */

/* Every block in the start-up set, in order: the whole image moves. */
static int all_startup(void *arg, struct blockimg_index *ix, struct err *e)
{
	uint32_t i;

	(void)arg;
	free(ix->startup);
	ix->startup =
		malloc((ix->nblocks ? ix->nblocks : 1) * sizeof(*ix->startup));
	if (!ix->startup)
		return err_set(e, -ENOMEM, "out of memory");
	for (i = 0; i < ix->nblocks; i++)
		ix->startup[i] = i;
	ix->nstartup = ix->nblocks;
	return 0;
}

/* A synthetic one-layer image (image/synth: compresses like a rootfs),
 * built in a temp OCI layout and read back into memory. */
static int img_build(struct mem_image *t, uint64_t size, uint32_t block_size,
		     struct err *e)
{
	return mem_image_build(t, size, block_size, 11, all_startup, NULL, e);
}

static void img_free(struct mem_image *t)
{
	mem_image_free(t);
}

/* --- clocks and /proc --------------------------------------------------- */

static double now_s(void)
{
	return (double)evloop_now_ns() / 1e9;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU nanoseconds of every thread of pid (schedstat: exact, not ticks). */
static uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64], line[128];
	uint64_t sum = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		unsigned long long run;
		char p[320];
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", (int)pid,
			 de->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) &&
		    sscanf(line, "%llu", &run) == 1)
			sum += run;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* utime and stime of the whole process, in clock ticks. */
static void proc_ticks(pid_t pid, unsigned long *ut, unsigned long *st)
{
	char path[64], buf[1024], *p;
	FILE *f;

	*ut = *st = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2,
		       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		       ut, st);
	fclose(f);
}

/* A "Key:   N kB" line of a /proc file, in KiB (0 when absent). */
static unsigned long proc_kib(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			sscanf(line + kl + 1, "%lu", &v);
			break;
		}
	fclose(f);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- the floor ------------------------------------------------------------ */

/* What every byte must cost at least: sha256 of each compressed block
 * (libcrypto, one context kept) and its zstd decompression (one context
 * kept), over the whole image, repeated for at least half a second of CPU.
 * Returns CPU seconds per MB (10^6 bytes of compressed data). *lib_s_per_mb:
 * the same through lib/blockimg's blockimg_block_decompress, what the agent
 * calls. */
static double floor_s_per_mb(const struct mem_image *t, double *lib_s_per_mb)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = EVP_sha256();
	ZSTD_DCtx *z = ZSTD_createDCtx();
	struct blockimg_decoder *dec = NULL;
	uint8_t *out = malloc(t->ix.block_size), d[EVP_MAX_MD_SIZE];
	double t0, cpu = 0, mb = 0, lcpu = 0, lmb = 0;
	unsigned dl;
	uint32_t b;
	struct err e;

	if (!ctx || !z || !out || blockimg_decoder_new(&dec)) {
		fprintf(stderr, "agent-bench: floor: out of memory\n");
		exit(1);
	}
	while (cpu < 0.5) {
		t0 = thread_cpu_s();
		for (b = 0; b < t->ix.nblocks; b++) {
			const struct blockimg_block *k = &t->ix.blocks[b];
			const uint8_t *c = t->data + k->offset;
			size_t n;

			EVP_DigestInit_ex(ctx, md, NULL);
			EVP_DigestUpdate(ctx, c, k->clen);
			EVP_DigestFinal_ex(ctx, d, &dl);
			n = ZSTD_decompressDCtx(z, out, k->ulen, c, k->clen);
			if (memcmp(d, k->sha256, SHA256_LEN) || n != k->ulen) {
				fprintf(stderr,
					"agent-bench: floor: block %u "
					"does not check\n",
					b);
				exit(1);
			}
		}
		cpu += thread_cpu_s() - t0;
		mb += (double)t->data_len / 1e6;
	}
	while (lcpu < 0.5) {
		t0 = thread_cpu_s();
		for (b = 0; b < t->ix.nblocks; b++) {
			const struct blockimg_block *k = &t->ix.blocks[b];

			if (blockimg_block_decompress(
				    &t->ix, dec, b, t->data + k->offset,
				    k->clen, out, t->ix.block_size, &e)) {
				fprintf(stderr, "agent-bench: floor: %s\n",
					e.msg);
				exit(1);
			}
		}
		lcpu += thread_cpu_s() - t0;
		lmb += (double)t->data_len / 1e6;
	}
	*lib_s_per_mb = lcpu / lmb;
	blockimg_decoder_free(dec);
	free(out);
	ZSTD_freeDCtx(z);
	EVP_MD_CTX_free(ctx);
	return cpu / mb;
}

/* --- a registry ----------------------------------------------------------- */

/* --- agents ----------------------------------------------------------------
 */

struct agent {
	pid_t pid;
	char name[16];
	uint32_t addr;
	struct conn *mgr; /* its HELLO came on this */
	int started;
	uint64_t cpu0, cpu1; /* schedstat ns: before and after the burst */
	unsigned long ut0, st0, ut1, st1;
};

struct bench {
	const char *agent_bin;
	struct evloop *l;
	char dir[64];
	struct agent *a;
	unsigned n, hellos, started;
	int mgr_lfd, root_lfd;
	uint16_t mgr_port, root_port;
	const struct mem_image *img;
	char ref[256];
	int registry; /* the root reads the registry */
	int failed;
	long deadline_timer;
	/* Every connection open, to close them with the loop. */
	struct conn **conns;
	unsigned nconns, cap;
};

static int track(struct bench *bn, struct conn *c)
{
	if (bn->nconns == bn->cap) {
		unsigned ncap = bn->cap ? 2 * bn->cap : 64;
		struct conn **nc = realloc(bn->conns, ncap * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		bn->conns = nc;
		bn->cap = ncap;
	}
	bn->conns[bn->nconns++] = c;
	return 0;
}

static void untrack(struct bench *bn, struct conn *c)
{
	unsigned i;

	for (i = 0; i < bn->nconns; i++)
		if (bn->conns[i] == c) {
			bn->conns[i] = bn->conns[--bn->nconns];
			return;
		}
}

static void ip4(uint32_t a, char *buf, size_t len)
{
	struct in_addr ia = {.s_addr = htonl(a)};

	inet_ntop(AF_INET, &ia, buf, (socklen_t)len);
}

static int spawn_agent(struct bench *bn, unsigned i)
{
	struct agent *a = &bn->a[i];
	char addr[32], mgr[48], events[128], errlog[128];
	char *argv[] = {
		(char *)bn->agent_bin, "--name", a->name,    "--addr", addr,
		"--manager",	       mgr,	 "--events", events,   NULL};
	posix_spawn_file_actions_t fa;
	int ret;

	a->addr = ADDR_BASE + 1 + (i / 250) * 256 + i % 250;
	snprintf(a->name, sizeof(a->name), "vm%04u", i);
	ip4(a->addr, addr, sizeof(addr));
	snprintf(mgr, sizeof(mgr), "127.0.0.1:%u", bn->mgr_port);
	snprintf(events, sizeof(events), "%s/%s.jsonl", bn->dir, a->name);
	snprintf(errlog, sizeof(errlog), "%s/%s.err", bn->dir, a->name);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, errlog,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ret = posix_spawn(&a->pid, bn->agent_bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -ret;
}

static struct agent *agent_by_name(struct bench *bn, const struct proto_str *s)
{
	unsigned i;

	/* vmNNNN: the number is the index. */
	if (s->len == 6 && !memcmp(s->s, "vm", 2)) {
		i = (unsigned)atoi((const char *)s->s + 2);
		if (i < bn->n && !memcmp(bn->a[i].name, s->s, 6))
			return &bn->a[i];
	}
	return NULL;
}

static void mgr_frame(struct conn *c, const struct proto_msg *m, void *arg)
{
	struct bench *bn = arg;
	struct agent *a;

	switch (m->type) {
	case PROTO_HELLO:
		a = agent_by_name(bn, &m->vm);
		if (a && !a->mgr) {
			a->mgr = c;
			if (++bn->hellos == bn->n)
				evloop_stop(bn->l);
		}
		break;
	case PROTO_STARTED:
		if (m->container >= 1 && m->container <= bn->n &&
		    !bn->a[m->container - 1].started) {
			bn->a[m->container - 1].started = 1;
			if (++bn->started == bn->n)
				evloop_stop(bn->l);
		}
		break;
	default:
		break;
	}
}

static void mgr_closed(struct conn *c, int error, const char *why, void *arg)
{
	struct bench *bn = arg;
	unsigned i;

	untrack(bn, c);
	for (i = 0; i < bn->n; i++)
		if (bn->a[i].mgr == c) {
			fprintf(stderr, "agent-bench: %s left: %s (%d)\n",
				bn->a[i].name, why, error);
			bn->a[i].mgr = NULL;
			bn->failed = 1;
			evloop_stop(bn->l);
		}
}

/* The tree's root parent: answers as an agent holding the whole image. */
static void root_frame(struct conn *c, const struct proto_msg *m, void *arg)
{
	struct bench *bn = arg;
	const struct mem_image *t = bn->img;
	struct proto_msg r = {.id = m->id};
	struct err e = {""};
	uint32_t b, k, count;
	int ret = 0;

	switch (m->type) {
	case PROTO_GET_MANIFEST:
		r.type = PROTO_MANIFEST;
		r.digest = proto_str(t->manifest_digest);
		r.data = (const uint8_t *)t->manifest;
		r.data_len = (uint32_t)t->manifest_len;
		ret = conn_send_ref(c, &r, NULL, NULL, &e);
		break;
	case PROTO_GET_BLOB:
		r.type = PROTO_BLOB;
		r.digest = m->digest;
		if (m->digest.len == strlen(t->config_digest) &&
		    !memcmp(m->digest.s, t->config_digest, m->digest.len)) {
			r.data = (const uint8_t *)t->config;
			r.data_len = (uint32_t)t->config_len;
		} else {
			r.data = (const uint8_t *)t->index;
			r.data_len = (uint32_t)t->index_len;
		}
		ret = conn_send_ref(c, &r, NULL, NULL, &e);
		break;
	case PROTO_GET_BLOCK:
		count = m->count ? m->count : 1;
		r.type = PROTO_BLOCK;
		for (k = 0; k < count && !ret; k++) {
			b = m->block + k;
			if (b >= t->ix.nblocks)
				break;
			r.block = b;
			r.data = t->data + t->ix.blocks[b].offset;
			r.data_len = t->ix.blocks[b].clen;
			ret = conn_send_ref(c, &r, NULL, NULL, &e);
		}
		break;
	default:
		break;
	}
	if (ret) {
		fprintf(stderr, "agent-bench: root parent: %s\n", e.msg);
		bn->failed = 1;
		evloop_stop(bn->l);
	}
}

static void root_closed(struct conn *c, int error, const char *why, void *arg)
{
	(void)error;
	(void)why;
	untrack(arg, c);
}

static void on_accept(struct evloop *l, int fd, unsigned events, void *arg)
{
	struct bench *bn = arg;
	struct conn *c;
	int s;

	(void)events;
	while ((s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >=
	       0) {
		int ret = fd == bn->mgr_lfd ? conn_new(l, s, mgr_frame,
						       mgr_closed, bn, &c)
					    : conn_new(l, s, root_frame,
						       root_closed, bn, &c);

		if (!ret && track(bn, c)) {
			conn_close(c);
			ret = -ENOMEM;
			s = -1;
		}
		if (ret) {
			if (s >= 0)
				close(s);
			bn->failed = 1;
			evloop_stop(l);
			return;
		}
	}
}

static void on_deadline(struct evloop *l, void *arg)
{
	struct bench *bn = arg;

	bn->deadline_timer = 0;
	bn->failed = 1;
	evloop_stop(l);
}

/* Runs the loop until a callback stops it or limit_s pass; 0 or -1. */
static int run_for(struct bench *bn, unsigned limit_s, const char *what)
{
	bn->deadline_timer =
		evloop_timer(bn->l, limit_s * 1000, on_deadline, bn);
	if (evloop_run(bn->l, -1))
		bn->failed = 1;
	if (bn->deadline_timer > 0)
		evloop_cancel(bn->l, bn->deadline_timer);
	if (bn->failed) {
		fprintf(stderr,
			"agent-bench: %s: did not finish (%u HELLO, %u "
			"STARTED of %u; logs in %s)\n",
			what, bn->hellos, bn->started, bn->n, bn->dir);
		return -1;
	}
	return 0;
}

static int listen_lo(uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct err e;
	int fd = conn_listen(0x7f000001u, 0, 4096, &e);

	if (fd < 0) {
		fprintf(stderr, "agent-bench: %s\n", e.msg);
		return fd;
	}
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Starts n agents and waits for every HELLO. */
static int bench_start(struct bench *bn, unsigned n, double *secs)
{
	double t0;
	unsigned i;

	memset(bn->a, 0, n * sizeof(*bn->a));
	bn->n = n;
	bn->hellos = bn->started = 0;
	bn->failed = 0;
	snprintf(bn->dir, sizeof(bn->dir), "/tmp/fnet-lean-bench.run.XXXXXX");
	if (!mkdtemp(bn->dir)) {
		perror("agent-bench: mkdtemp");
		return -1;
	}
	if (evloop_new(&bn->l))
		return -1;
	bn->mgr_lfd = listen_lo(&bn->mgr_port);
	bn->root_lfd = listen_lo(&bn->root_port);
	if (bn->mgr_lfd < 0 || bn->root_lfd < 0 ||
	    evloop_add(bn->l, bn->mgr_lfd, EVLOOP_IN, on_accept, bn) ||
	    evloop_add(bn->l, bn->root_lfd, EVLOOP_IN, on_accept, bn))
		return -1;
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (spawn_agent(bn, i)) {
			fprintf(stderr, "agent-bench: cannot start %s: %s\n",
				bn->agent_bin, strerror(errno));
			bn->n = i;
			return -1;
		}
	if (run_for(bn, 60, "start"))
		return -1;
	*secs = now_s() - t0;
	return 0;
}

/* SIGTERM to every agent, then each reaped: CPU over its whole life. The
 * run's folder stays for the caller. */
static double bench_stop(struct bench *bn)
{
	double cpu = 0;
	unsigned i;

	for (i = 0; i < bn->n; i++)
		if (bn->a[i].pid > 0)
			kill(bn->a[i].pid, SIGTERM);
	for (i = 0; i < bn->n; i++) {
		struct rusage ru;
		int st;

		if (bn->a[i].pid <= 0)
			continue;
		if (wait4(bn->a[i].pid, &st, 0, &ru) == bn->a[i].pid)
			cpu += (double)ru.ru_utime.tv_sec +
			       (double)ru.ru_utime.tv_usec / 1e6 +
			       (double)ru.ru_stime.tv_sec +
			       (double)ru.ru_stime.tv_usec / 1e6;
		bn->a[i].pid = 0;
	}
	for (i = 0; i < bn->nconns; i++)
		conn_close(bn->conns[i]);
	bn->nconns = 0;
	evloop_free(bn->l);
	bn->l = NULL;
	close(bn->mgr_lfd);
	close(bn->root_lfd);
	return cpu;
}

static void bench_clean(struct bench *bn, int keep)
{
	if (keep)
		fprintf(stderr, "agent-bench: kept %s\n", bn->dir);
	else
		mem_rm_tree(bn->dir);
}

/* From an agent's event log: the bytes its `stats` line says it took from
 * its parent and the registry, the blocks it holds, and its line count. */
static int read_stats(const char *path, unsigned long long *bytes,
		      unsigned long *held, unsigned long *lines)
{
	uint8_t *raw;
	char *buf, *p, *q;
	size_t len = 0;

	*bytes = 0;
	*held = *lines = 0;
	if (mem_read_file(path, &raw, &len))
		return -1;
	buf = (char *)raw;
	for (p = buf; p < buf + len; p = q + 1) {
		q = memchr(p, '\n', (size_t)(buf + len - p));
		if (!q)
			break;
		(*lines)++;
		*q = '\0';
		if (strstr(p, "\"event\":\"stats\"")) {
			char *b = strstr(p, "\"parent_bytes\":");
			char *rb = strstr(p, "\"registry_bytes\":");
			char *h = strstr(p, "\"blocks_held\":");

			if (b)
				*bytes += strtoull(b + 15, NULL, 10);
			if (rb)
				*bytes += strtoull(rb + 17, NULL, 10);
			if (h)
				*held = strtoul(h + 14, NULL, 10);
		}
	}
	free(buf);
	return 0;
}

static pid_t perf_start(struct bench *bn, const char *out)
{
	char *pids = malloc((size_t)bn->n * 12 + 1), *p;
	char *argv[] = {"perf",	     "record", "-q", "-g", "-o",
			(char *)out, "-p",     NULL, NULL};
	pid_t pid = -1;
	unsigned i;

	if (!pids)
		return -1;
	for (p = pids, i = 0; i < bn->n; i++)
		p += snprintf(p, 13, "%s%d", i ? "," : "", (int)bn->a[i].pid);
	argv[7] = pids;
	if (posix_spawnp(&pid, "perf", NULL, NULL, argv, environ))
		pid = -1;
	free(pids);
	if (pid > 0)
		usleep(500000); /* perf attaches */
	return pid;
}

struct burst_result {
	double wall, cpu, user, sys, mb, s_per_mb, life_cpu;
	double rss_idle_kib, rss_after_kib;
};

static int burst(struct bench *bn, unsigned n, const char *perf_out, int keep,
		 struct burst_result *res)
{
	const struct mem_image *t = bn->img;
	double t0, secs, rss[n], rss2[n], tick = (double)sysconf(_SC_CLK_TCK);
	unsigned long long bytes, total = 0;
	unsigned long held, lines, nlines = 0;
	pid_t perf = -1;
	unsigned i;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (bench_start(bn, n, &secs))
		goto out;
	for (i = 0; i < n; i++) {
		struct agent *a = &bn->a[i];

		rss[i] = (double)proc_kib(a->pid, "status", "VmRSS");
		a->cpu0 = proc_cpu_ns(a->pid);
		proc_ticks(a->pid, &a->ut0, &a->st0);
	}
	if (perf_out)
		perf = perf_start(bn, perf_out);
	t0 = now_s();
	for (i = 0; i < n; i++) {
		struct proto_msg m = {.type = PROTO_PROVISION,
				      .container = i + 1,
				      .strategy = PROTO_STRATEGY_FAASNET};
		struct err e;

		m.function = proto_str(FUNCTION);
		m.image = proto_str(bn->ref);
		/* Binary tree in BFS order; the first under this program
		 * (or the registry). */
		m.parent.addr = i	       ? bn->a[(i - 1) / 2].addr
				: bn->registry ? 0
					       : 0x7f000001u;
		m.parent.port = i	       ? AGENT_PORT
				: bn->registry ? 0
					       : bn->root_port;
		if (conn_send(bn->a[i].mgr, &m, &e)) {
			fprintf(stderr, "agent-bench: PROVISION: %s\n", e.msg);
			goto out;
		}
	}
	if (run_for(bn, BURST_LIMIT_S, "burst"))
		goto out;
	res->wall = now_s() - t0;
	for (i = 0; i < n; i++) {
		struct agent *a = &bn->a[i];

		a->cpu1 = proc_cpu_ns(a->pid);
		proc_ticks(a->pid, &a->ut1, &a->st1);
		res->cpu += (double)(a->cpu1 - a->cpu0) / 1e9;
		res->user += (double)(a->ut1 - a->ut0) / tick;
		res->sys += (double)(a->st1 - a->st0) / tick;
		rss2[i] = (double)proc_kib(a->pid, "status", "VmRSS");
	}
	if (perf > 0) {
		int st;

		kill(perf, SIGINT);
		waitpid(perf, &st, 0);
	}
	res->rss_idle_kib = median(rss, n);
	res->rss_after_kib = median(rss2, n);
	ret = 0;
out:
	res->life_cpu = bench_stop(bn);
	if (ret)
		goto done;
	for (i = 0; i < n; i++) {
		char path[160];

		snprintf(path, sizeof(path), "%s/%s.jsonl", bn->dir,
			 bn->a[i].name);
		read_stats(path, &bytes, &held, &lines);
		if (held != t->ix.nblocks) {
			fprintf(stderr,
				"agent-bench: %s holds %lu blocks of %u\n",
				bn->a[i].name, held, t->ix.nblocks);
			ret = -1;
		}
		total += bytes;
		nlines += lines;
	}
	res->mb = (double)total / 1e6;
	res->s_per_mb = res->mb > 0 ? res->cpu / res->mb : 0;
	if (!ret)
		printf("    event log: %lu lines in %u agents\n", nlines, n);
done:
	bench_clean(bn, keep);
	return ret;
}

static int idle(struct bench *bn, unsigned n, int keep)
{
	double secs, idle_cpu = 0, *rss = malloc(n * sizeof(double)),
		     *anon = malloc(n * sizeof(double)), pss = 0, cpu = 0,
		     max = 0;
	unsigned i;
	int ret = -1;

	if (!rss || !anon)
		goto out;
	if (bench_start(bn, n, &secs)) {
		bench_stop(bn);
		bench_clean(bn, keep);
		goto out;
	}
	usleep(300000); /* settled: idle */
	for (i = 0; i < n; i++) {
		pid_t pid = bn->a[i].pid;

		rss[i] = (double)proc_kib(pid, "status", "VmRSS");
		anon[i] = (double)proc_kib(pid, "status", "RssAnon");
		pss += (double)proc_kib(pid, "smaps_rollup", "Pss");
		cpu += (double)proc_cpu_ns(pid) / 1e9;
		if (rss[i] > max)
			max = rss[i];
	}
	/* Then a second of nothing: what the loops' ticks cost. */
	sleep(1);
	for (i = 0; i < n; i++)
		idle_cpu += (double)proc_cpu_ns(bn->a[i].pid) / 1e9;
	idle_cpu -= cpu;
	printf("  idle %4u agents: all listening in %.2f s; per agent: VmRSS "
	       "median %.2f MiB (max %.2f), RssAnon %.2f MiB, PSS mean %.2f "
	       "MiB; start CPU %.1f ms each; idle CPU %.3f ms/s each\n",
	       n, secs, median(rss, n) / 1024, max / 1024,
	       median(anon, n) / 1024, pss / n / 1024, cpu * 1000 / n,
	       idle_cpu * 1000 / n);
	bench_stop(bn);
	bench_clean(bn, keep);
	ret = 0;
out:
	free(rss);
	free(anon);
	return ret;
}

static int parse_list(const char *s, unsigned *v, unsigned max)
{
	unsigned n = 0;
	char *end;

	while (*s && n < max) {
		v[n++] = (unsigned)strtoul(s, &end, 10);
		if (end == s)
			return -1;
		s = *end == ',' ? end + 1 : end;
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"agent", required_argument, NULL, 'A'},
		{"agents", required_argument, NULL, 'n'},
		{"size", required_argument, NULL, 's'},
		{"block-size", required_argument, NULL, 'b'},
		{"reps", required_argument, NULL, 'r'},
		{"idle", required_argument, NULL, 'i'},
		{"perf", required_argument, NULL, 'p'},
		{"keep", no_argument, NULL, 'k'},
		{"registry", no_argument, NULL, 'R'},
		{0},
	};
	struct bench bn = {.agent_bin = "build/bin/faasnet-agent"};
	unsigned n = 15, reps = 3, idles[8] = {200, 1000}, nidle = 2, i, maxn;
	uint64_t size = 64u << 20;
	uint32_t block_size = 10u << 10;
	const char *perf_out = NULL;
	struct rlimit rl;
	double floor, lib_floor, v[5][16];
	struct burst_result r;
	struct freg reg = {.lfd = -1};
	struct mem_image t;
	struct err e;
	int c, keep = 0, k;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'A':
			bn.agent_bin = optarg;
			break;
		case 'n':
			n = (unsigned)atoi(optarg);
			break;
		case 's':
			size = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			block_size = (uint32_t)atoi(optarg);
			break;
		case 'r':
			reps = (unsigned)atoi(optarg);
			break;
		case 'i':
			k = parse_list(optarg, idles, 8);
			if (k < 0) {
				fprintf(stderr, "agent-bench: --idle: expected "
						"N,N,..\n");
				return 2;
			}
			nidle = (unsigned)k;
			break;
		case 'p':
			perf_out = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		case 'R':
			bn.registry = 1;
			break;
		default:
			fprintf(stderr,
				"usage: agent-bench [--agent BIN] [--agents N] "
				"[--size BYTES] [--block-size BYTES] [--reps "
				"R] "
				"[--idle N,...] [--perf FILE] [--keep] "
				"[--registry]\n");
			return 2;
		}
	}
	if (n < 1 || n > 1000 || reps > 16 || size < 4096 ||
	    block_size < BLOCKIMG_MIN_BLOCK_SIZE) {
		fprintf(stderr, "agent-bench: agents 1-1000, reps 0-16\n");
		return 2;
	}
	maxn = n;
	for (i = 0; i < nidle; i++) {
		if (idles[i] < 1 || idles[i] > 60000) {
			fprintf(stderr, "agent-bench: --idle: 1 to 60000\n");
			return 2;
		}
		if (idles[i] > maxn)
			maxn = idles[i];
	}
	/* A thousand manager connections, and then some. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	bn.a = calloc(maxn, sizeof(*bn.a));
	if (!bn.a)
		return 1;
	if (img_build(&t, size, block_size, &e)) {
		fprintf(stderr, "agent-bench: image: %s\n", e.msg);
		return 1;
	}
	bn.img = &t;
	/* Pinned. Without --registry the registry it names is never asked
	 * (port 1). */
	if (bn.registry) {
		if (freg_start(&reg, &t, FREG_HONEST)) {
			fprintf(stderr,
				"agent-bench: cannot start the registry\n");
			img_free(&t);
			return 1;
		}
	}
	snprintf(bn.ref, sizeof(bn.ref), "127.0.0.1:%u/" FREG_REPO "@%s",
		 bn.registry ? reg.port : 1, t.manifest_digest);
	printf("image: %.1f MB in %u blocks of %u bytes, %.1f MB compressed "
	       "(zstd)\n",
	       (double)t.ix.size / 1e6, t.ix.nblocks, t.ix.block_size,
	       (double)t.data_len / 1e6);
	floor = floor_s_per_mb(&t, &lib_floor);
	printf("floor: sha256 + zstd decompress: %.2f ms CPU per MB (lib/"
	       "blockimg's verify+decompress: %.2f ms)\n",
	       floor * 1000, lib_floor * 1000);
	printf("burst: %u agents, a binary tree under %s, every block in the "
	       "start-up set\n",
	       n,
	       bn.registry ? "a registry (HTTP, this program)"
			   : "this program (the root parent)");
	for (i = 0; i < reps; i++) {
		if (burst(&bn, n, i == 0 ? perf_out : NULL, keep, &r)) {
			img_free(&t);
			return 1;
		}
		printf("  run %u: %.2f s wall; agents' CPU %.3f s (user %.2f, "
		       "sys %.2f); %.1f MB received; %.2f ms CPU per MB = "
		       "%.2fx floor; agent life CPU %.3f s; VmRSS idle %.2f "
		       "MiB, after %.1f MiB\n",
		       i + 1, r.wall, r.cpu, r.user, r.sys, r.mb,
		       r.s_per_mb * 1000, r.s_per_mb / floor, r.life_cpu,
		       r.rss_idle_kib / 1024, r.rss_after_kib / 1024);
		fflush(stdout);
		v[0][i] = r.wall;
		v[1][i] = r.cpu;
		v[2][i] = r.s_per_mb;
		v[3][i] = r.mb;
		v[4][i] = r.rss_idle_kib;
	}
	if (reps)
		printf("  median of %u: %.2f s wall; agents' CPU %.3f s for "
		       "%.1f MB "
		       "= %.2f ms per MB; floor %.2f ms per MB; ratio %.2fx; "
		       "VmRSS idle %.2f MiB\n",
		       reps, median(v[0], reps), median(v[1], reps),
		       median(v[3], reps), median(v[2], reps) * 1000,
		       floor * 1000, median(v[2], reps) / floor,
		       median(v[4], reps) / 1024);
	for (i = 0; i < nidle; i++)
		if (idle(&bn, idles[i], keep)) {
			img_free(&t);
			return 1;
		}
	if (reg.running) {
		freg_stop(&reg);
		printf("registry: %u requests\n", atomic_load(&reg.requests));
	}
	img_free(&t);
	free(bn.a);
	return 0;
}

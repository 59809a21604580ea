#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blockimg.h"
#include "build.h"
#include "driver.h"
#include "events.h"
#include "faults.h"
#include "fidmon.h"
#include "flush.h"
#include "oci.h"
#include "plan.h"
#include "procs.h"
#include "regproc.h"
#include "report.h"
#include "requests.h"
#include "run.h"
#include "sha256.h"
#include "strategy.h"
#include "summary.h"
#include "treewatch.h"
#include "units.h"
#include "util.h"

/* Monitor windows: fine enough to see a 1 s start-up's shape and a short
 * burst of load; a dump of every link per sample, so longer for larger
 * networks (1 ms a VM), at most a second. */
#define MONITOR_MS 100

/* What a faulted run is compared with: its slowest container, the bytes
 * moved, and the containers that never started. */
struct run_tally {
	double slowest_s;
	uint64_t registry_bytes, peer_bytes;
	unsigned failed;
};

struct run {
	const struct scenario *s;
	const struct run_opts *o;
	char dir[PATH_MAX], bindir[PATH_MAX], cache[PATH_MAX];
	char meta[PATH_MAX + 8]; /* the VMs' metadata store: DIR/meta */
	char registry[32];	 /* the registry's host:port, from plan.h */
	/* The last run_one: its verdict, and its raw folder. */
	int last_degraded;
	char last_raw[PATH_MAX];
	struct topo_plan plan;
	char refs[SCENARIO_MAX_IMAGES][400];
	char layouts[SCENARIO_MAX_IMAGES][PATH_MAX + 300];
	/* per image, the compute of its start-up trace (the sum of its
	 * gaps; 0 without a trace): bittorrent's start after the download */
	uint64_t trace_gaps_ns[SCENARIO_MAX_IMAGES];
	struct summary_row *rows;
	size_t nrows, caprows;
	struct summary_run *runs;
	size_t nruns;
	/* serve only: every request, and the pools once a second */
	struct requests_row *req;
	size_t nreq;
	struct requests_pool_row *pool;
	size_t npool;
	struct requests_stats *rstats; /* per summary run */
	/* (strategy, sweep) pairs in the order run, with the corrupt blocks
	 * their agents reported; repetitions pool into one summary run. */
	struct {
		char strategy[24];
		long sweep;
		uint64_t seed; /* of its first repetition */
		unsigned corrupt;
		struct fidelity_verdict verdict;
		struct summary_cpu cpu;
		double dilation; /* the largest its runs needed */
	} keys[STRATEGY_MAX * SCENARIO_MAX_SWEEP];
	size_t nkeys;
	int degraded;
	char fidelity_note[256];
	/* the registry: its CPU time per run, and faults (a restarted one
	 * has a new PID) */
	struct regproc *rp;
	/* faults: what each cost (faults.csv), and the run without them
	 * that the run with them is held against */
	struct fault_row {
		char strategy[24];
		long sweep;
		unsigned rep;
		struct faults_cost c;
		struct run_tally with, without;
	} *frows;
	size_t nfrows;
	struct run_tally last_tally;
	/* every tree's height and size over time (trees.csv) */
	struct tree_row {
		char strategy[24];
		long sweep;
		unsigned rep;
		double t_s;
		unsigned fn, height, size;
	} *trows;
	size_t ntrows;
	struct err *e;
};

/* The dilation the network is shaped for now: the scenario's, or for
 * auto the smallest found enough so far. The plan holds it (1 or more). */
static double run_k(const struct run *r)
{
	return r->plan.spec.dilation;
}

/* The registry's PID now (0: none runs). */
static pid_t reg_pid(const struct run *r)
{
	return r->rp ? r->rp->pid : 0;
}

/* What one run measured of itself: its verdict and its processes' CPU. */
struct run_fidelity {
	struct fidelity_verdict verdict;
	struct summary_cpu cpu;
	double reg_cpu0; /* the registry's CPU seconds when the run began */
};

static int mkdirs(const char *path)
{
	char tmp[PATH_MAX], *p;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -errno : 0;
}

static int bin_path(struct run *r, const char *name, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/%s", r->bindir, name) >= len
		       ? -ENAMETOOLONG
		       : 0;
}

/* The VMs' metadata store: an OCI layout holding every image's block
 * indexes, which agents read instead of fetching them. An index is 48 bytes
 * a block at every scale: 69 KB for the 758 MB image, 0.55 ms at 1 Gbit/s
 * but 28 ms per tree level on a link scaled to 20 Mbit/s, before a child
 * can check its first block. Read from here it costs what it costs at full
 * size, nearly nothing, and is still checked against the manifest's
 * digest (docs/fidelity.md). */
/* The reference every agent is given pins the manifest by its digest
 * ("HOST/NAME@sha256:..."): the one root of trust from which an agent
 * checks the manifest whoever sent it, config and index against the
 * manifest, and blocks against the index (docs/protocol.md, "Trust"). The
 * registry serves a pushed manifest byte for byte, so its digest is the
 * layout's. */
static int pin_ref(struct run *r, unsigned i, const char *layout,
		   const char *scen, const char *img)
{
	uint8_t d[SHA256_LEN];
	char hex[SHA256_OCI_LEN];
	char *man = NULL;
	size_t len;
	int ret;

	ret = oci_layout_get_manifest(layout, NULL, &man, &len, r->e);
	if (ret)
		return ret;
	ret = sha256_buf(man, len, d);
	free(man);
	if (ret)
		return err_set(r->e, ret, "%s: sha256 failed", layout);
	if ((size_t)snprintf(r->refs[i], sizeof(r->refs[i]), "%s/%s/%s@%s",
			     r->registry, scen, img,
			     sha256_oci(d, hex)) >= sizeof(r->refs[i]))
		return err_set(r->e, -ENAMETOOLONG, "%s/%s: reference too long",
			       scen, img);
	return 0;
}

/* The sum of the start-up trace's gaps of the index in buf (0 without a
 * trace, or for an index that does not decode: the agents would refuse
 * it, and the run says so). */
static uint64_t trace_gaps_ns(const char *buf, size_t len)
{
	struct blockimg_index ix;
	struct err e = {""};
	uint64_t us;

	if (blockimg_index_decode((const uint8_t *)buf, len, &ix, &e))
		return 0;
	us = blockimg_trace_compute_us(&ix);
	blockimg_index_free(&ix);
	return us * 1000;
}

/* Every block index of image i's layout into the metadata store; the
 * first one's trace gaps noted (the layer the agents serve). */
static int stage_meta(struct run *r, unsigned i, const char *layout)
{
	struct oci_image img = {0};
	char *man = NULL, *buf = NULL, digest[SHA256_OCI_LEN];
	size_t len;
	unsigned l;
	int ret, first = 1;

	ret = oci_layout_get_manifest(layout, NULL, &man, &len, r->e);
	if (!ret)
		ret = oci_manifest_parse(man, len, &img, r->e);
	for (l = 0; !ret && l < img.nlayers; l++) {
		if (!img.layers[l].has_blocks)
			continue;
		ret = oci_layout_read_blob(layout, img.layers[l].index.digest,
					   &buf, &len, r->e);
		if (!ret)
			ret = oci_layout_put(r->meta, buf, len, digest, r->e);
		if (!ret && first)
			r->trace_gaps_ns[i] = trace_gaps_ns(buf, len);
		first = 0;
		free(buf);
		buf = NULL;
	}
	oci_image_free(&img);
	free(man);
	return ret;
}

/* Synthesizes (or converts) every image once, cached by its parameters
 * across runs, pushes it to the run's registry and stages its indexes. */
static int prepare_images(struct run *r)
{
	const struct scenario *s = r->s;
	char img[PATH_MAX + 64], log[PATH_MAX + 32], layout[PATH_MAX + 300];
	char size[32], bs[32], frac[32], seed[32], compute[40], name[300];
	char fsize[32], fbs[32];
	char src[PATH_MAX] = "";
	unsigned i;
	int ret;

	snprintf(log, sizeof(log), "%s/images.log", r->dir);
	snprintf(r->meta, sizeof(r->meta), "%s/meta", r->dir);
	ret = oci_layout_init(r->meta, r->e);
	if (ret)
		return ret;
	if (bin_path(r, "faasnet-image", img, sizeof(img)))
		return err_set(r->e, -ENAMETOOLONG, "path too long");
	for (i = 0; i < s->nimages; i++) {
		const struct scenario_image *im = &s->images[i];
		uint64_t sz = scenario_scaled_size(s, i);

		snprintf(size, sizeof(size), "%llu", (unsigned long long)sz);
		snprintf(bs, sizeof(bs), "%u",
			 scenario_scaled_block_size(s, i));
		snprintf(frac, sizeof(frac), "%g", im->startup_fraction);
		snprintf(seed, sizeof(seed), "%llu",
			 (unsigned long long)im->seed);
		snprintf(fsize, sizeof(fsize), "%llu",
			 (unsigned long long)im->size);
		snprintf(fbs, sizeof(fbs), "%u", im->block_size);
		/* "-s3": a scaled image is a miniature of its full-size one
		 * (its files and start-up set); older caches held other bytes.
		 */
		snprintf(compute, sizeof(compute), "%.6fs",
			 (double)im->startup_compute_ns / 1e9);
		snprintf(layout, sizeof(layout), "%s/%s-%s-%s-%s-%s%s%s%s",
			 r->cache, im->name, im->layout[0] ? "oci" : size, bs,
			 frac, seed, im->layout[0] ? "" : "-s3",
			 im->startup_compute_ns ? "-t" : "",
			 im->startup_compute_ns ? compute : "");
		/* A relative layout is the scenario file's neighbour. */
		if (im->layout[0] &&
		    scenario_path(s, im->layout, src, sizeof(src)))
			return err_set(r->e, -ENAMETOOLONG, "%s: path too long",
				       im->layout);
		if (access(layout, F_OK)) {
			fprintf(stderr, "run: image %s: %s\n", im->name,
				im->layout[0] ? "converting" : "synthesizing");
			if (im->layout[0]) {
				char *argv[] = {img,	"convert",
						src,	"--out",
						layout, "--block-size",
						bs,	"--startup-fraction",
						frac,	"--seed",
						seed,	NULL};

				ret = procs_run_wait(argv, log, r->e);
			} else {
				char *argv[] = {img, "synth", (char *)im->name,
						"--size", size, "--block-size",
						bs, "--startup-fraction", frac,
						"--seed", seed, "--full-size",
						fsize, "--full-block-size", fbs,
						"--out", layout,
						/* a start-up trace */
						im->startup_compute_ns
							? "--startup-compute"
							: NULL,
						compute, NULL};

				ret = procs_run_wait(argv, log, r->e);
			}
			if (ret)
				return ret;
		}
		snprintf(name, sizeof(name), "%s/%s:v1", s->name, im->name);
		{
			char *argv[] = {img,	      "push",	   layout,
					"--registry", r->registry, "--name",
					name,	      NULL};

			ret = procs_run_wait(argv, log, r->e);
			if (ret)
				return ret;
		}
		ret = stage_meta(r, i, layout);
		if (ret)
			return ret;
		ret = pin_ref(r, i, layout, s->name, im->name);
		if (ret)
			return ret;
		snprintf(r->layouts[i], sizeof(r->layouts[i]), "%s", layout);
	}
	return 0;
}

/* The fidelity monitor of one run, started just before its workload. A
 * monitor that cannot start is said, and the run goes on unjudged. */
static struct fidmon *monitor_start(struct run *r, const char *raw,
				    const char *label)
{
	unsigned vms = r->s->topo.vms, ms = vms > MONITOR_MS ? vms : MONITOR_MS;
	struct fidmon *mon = NULL;

	if (fidmon_start(&r->plan, raw, ms, &mon, r->e)) {
		fprintf(stderr, "%s: no fidelity monitor: %s\n", label,
			r->e->msg);
		mon = NULL;
	} else if (fidmon_note(mon)[0]) {
		fprintf(stderr, "%s: %s\n", label, fidmon_note(mon));
	}
	r->e->msg[0] = '\0';
	return mon;
}

/* After the run's processes are gone: the verdict from the monitor's
 * samples (and the manager's lag, when it ran), and the CPU its processes
 * used. */
static void monitor_end(struct run *r, struct fidmon *mon, const char *mgr_ev,
			uint64_t t0_ns, const char *label,
			struct run_fidelity *rf)
{
	struct procs_cpu pc;
	double reg = procs_cpu_now(reg_pid(r));
	unsigned i;

	fidmon_read_lag(mon, mgr_ev);
	if (mon && fidmon_judge(mon, t0_ns, &rf->verdict))
		fprintf(stderr, "%s: fidelity not judged: out of memory\n",
			label);
	fidmon_free(mon);
	procs_cpu_take(&pc);
	rf->cpu.agents = pc.s[PROCS_AGENT];
	rf->cpu.manager = pc.s[PROCS_MANAGER];
	rf->cpu.aria2c = pc.s[PROCS_ARIA2C];
	rf->cpu.tracker = pc.s[PROCS_TRACKER];
	rf->cpu.seeder = pc.s[PROCS_SEEDER];
	rf->cpu.proxies = pc.s[PROCS_PROXY];
	rf->cpu.registry =
		reg >= 0 && rf->reg_cpu0 >= 0 ? reg - rf->reg_cpu0 : 0;
	rf->cpu.total = rf->cpu.registry;
	for (i = 0; i < PROCS_NKINDS; i++)
		rf->cpu.total += pc.s[i];
	for (i = 0; i < rf->verdict.nreasons; i++)
		fprintf(stderr, "%s: fidelity: %s\n", label,
			rf->verdict.reasons[i].text);
}

static int add_row(struct run *r, const struct summary_row *row)
{
	struct summary_row *nr;

	if (r->nrows == r->caprows) {
		r->caprows = r->caprows ? 2 * r->caprows : 256;
		nr = realloc(r->rows, r->caprows * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		r->rows = nr;
	}
	r->rows[r->nrows++] = *row;
	return 0;
}

/* Notes a (strategy, sweep) pair the first time it runs, and adds its
 * corrupt blocks: repetitions pool into one summary run. */
/* serve: the driver's requests and pool samples, in seconds from the
 * run's start. */
static int add_requests(struct run *r, const char *stname,
			const struct driver_result *dr)
{
	struct requests_row *nq;
	struct requests_pool_row *np;
	size_t i;

	if (!dr->nreq && !dr->nsamples)
		return 0;
	nq = reallocarray(r->req, r->nreq + dr->nreq + 1, sizeof(*nq));
	if (!nq)
		return -ENOMEM;
	r->req = nq;
	np = reallocarray(r->pool, r->npool + dr->nsamples + 1, sizeof(*np));
	if (!np)
		return -ENOMEM;
	r->pool = np;
	for (i = 0; i < dr->nreq; i++) {
		const struct serve_request *q = &dr->req[i];
		struct requests_row *w = &r->req[r->nreq++];

		memset(w, 0, sizeof(*w));
		snprintf(w->strategy, sizeof(w->strategy), "%s", stname);
		snprintf(w->function, sizeof(w->function), "%s",
			 r->s->functions[q->function].name);
		w->arrival_s = (double)(q->arrival_ns - dr->t0_ns) / 1e9;
		/* Served by the end of the run: a request still in service
		 * when the driver stopped waiting was not answered. */
		if (!q->served || q->done_ns > dr->end_ns)
			continue;
		w->served = 1;
		w->start_s = (double)(q->start_ns - dr->t0_ns) / 1e9;
		w->done_s = (double)(q->done_ns - dr->t0_ns) / 1e9;
		w->container = q->container;
	}
	for (i = 0; i < dr->nsamples; i++) {
		const struct driver_sample *sm = &dr->samples[i];
		struct requests_pool_row *w = &r->pool[r->npool++];

		memset(w, 0, sizeof(*w));
		snprintf(w->strategy, sizeof(w->strategy), "%s", stname);
		snprintf(w->function, sizeof(w->function), "%s",
			 r->s->functions[sm->function].name);
		w->t_s = (double)(sm->t_ns - dr->t0_ns) / 1e9;
		w->live = sm->pool.live;
		w->pending = sm->pool.pending;
		w->busy = sm->pool.busy;
		w->queued = sm->pool.queued;
	}
	return 0;
}

/* Placement's seed for repetition rep: the same for every strategy of a
 * repetition, another for the next, the same again when rerun. */
static uint64_t run_seed(const struct scenario *s, unsigned rep)
{
	return (uint64_t)s->seed + rep;
}

static void add_key(struct run *r, const char *strategy, long sweep,
		    unsigned corrupt, const struct run_fidelity *rf,
		    unsigned rep)
{
	char prefix[16];
	size_t i;

	for (i = 0; i < r->nkeys; i++)
		if (!strcmp(r->keys[i].strategy, strategy) &&
		    r->keys[i].sweep == sweep)
			break;
	if (i == r->nkeys) {
		if (r->nkeys == sizeof(r->keys) / sizeof(r->keys[0]))
			return;
		snprintf(r->keys[i].strategy, sizeof(r->keys[i].strategy), "%s",
			 strategy);
		r->keys[i].sweep = sweep;
		r->keys[i].seed = run_seed(r->s, rep);
		r->keys[i].corrupt = 0;
		memset(&r->keys[i].verdict, 0, sizeof(r->keys[i].verdict));
		memset(&r->keys[i].cpu, 0, sizeof(r->keys[i].cpu));
		r->keys[i].dilation = 0;
		r->nkeys++;
	}
	r->keys[i].corrupt += corrupt;
	if (run_k(r) > r->keys[i].dilation)
		r->keys[i].dilation = run_k(r);
	/* Repetitions pool: each keeps its reasons, named by repetition. */
	snprintf(prefix, sizeof(prefix), "r%u: ", rep + 1);
	fidelity_merge(&r->keys[i].verdict, &rf->verdict,
		       r->s->repetitions > 1 ? prefix : NULL);
	r->keys[i].cpu.agents += rf->cpu.agents;
	r->keys[i].cpu.manager += rf->cpu.manager;
	r->keys[i].cpu.registry += rf->cpu.registry;
	r->keys[i].cpu.aria2c += rf->cpu.aria2c;
	r->keys[i].cpu.tracker += rf->cpu.tracker;
	r->keys[i].cpu.seeder += rf->cpu.seeder;
	r->keys[i].cpu.proxies += rf->cpu.proxies;
	r->keys[i].cpu.total += rf->cpu.total;
	r->degraded |= rf->verdict.degraded;
	r->last_degraded = rf->verdict.degraded;
}

/* Empties every namespace's neighbour table and TCP metrics before a run,
 * and says how long it took (docs/fidelity.md has the figures). */
static int flush_caches(struct run *r, const char *label)
{
	struct flush_stats st;
	int ret;

	ret = flush_plan(&r->plan, &st, r->e);
	if (ret)
		return ret;
	fprintf(stderr,
		"%s: flushed neighbours (%u entries) and TCP metrics of %u "
		"namespaces in %.1f ms\n",
		label, st.neigh, st.netns, (double)st.elapsed_ns / 1e6);
	return 0;
}

/* The row of the driver's container i, from its record and the strategy's
 * facts about it. */
static void container_row(const struct run *r, const char *stname, long sweep,
			  const struct driver_result *dr, unsigned i,
			  const struct strategy_fact *f,
			  struct summary_row *row)
{
	const struct driver_container *c = &dr->c[i];

	memset(row, 0, sizeof(*row));
	row->sweep = sweep;
	snprintf(row->strategy, sizeof(row->strategy), "%s", stname);
	snprintf(row->function, sizeof(row->function), "%s",
		 r->s->functions[c->function].name);
	snprintf(row->vm, sizeof(row->vm), "%s", f->vm);
	row->requested_s = (double)(c->requested_ns - dr->t0_ns) / 1e9;
	if (c->started_ns) {
		row->started = 1;
		row->started_s =
			(double)(c->started_ns + f->after_ns - dr->t0_ns) / 1e9;
		row->seconds = row->started_s - row->requested_s;
	}
	if (f->ready_ns >= c->requested_ns && f->ready_ns) {
		row->image_ready = 1;
		row->image_ready_s =
			(double)(f->ready_ns - c->requested_ns) / 1e9;
	}
	row->registry_bytes = f->registry_bytes;
	row->peer_bytes = f->peer_bytes;
}

/* Every container of one run as a row, the unplaced ones too. */
static int add_rows(struct run *r, const char *stname, long sweep,
		    const struct driver_result *dr,
		    const struct strategy_fact *facts)
{
	struct summary_row row;
	unsigned i, k;
	int ret;

	for (i = 0; i < dr->n; i++) {
		container_row(r, stname, sweep, dr, i, &facts[i], &row);
		ret = add_row(r, &row);
		if (ret)
			return ret;
	}
	for (i = 0; i < dr->nunplaced; i++)
		for (k = 0; k < dr->unplaced[i].count; k++) {
			memset(&row, 0, sizeof(row));
			row.sweep = sweep;
			snprintf(row.strategy, sizeof(row.strategy), "%s",
				 stname);
			snprintf(
				row.function, sizeof(row.function), "%s",
				r->s->functions[dr->unplaced[i].function].name);
			row.requested_s =
				(double)(dr->unplaced[i].requested_ns -
					 dr->t0_ns) /
				1e9;
			ret = add_row(r, &row);
			if (ret)
				return ret;
		}
	return 0;
}

/* The tally of the rows from first on (one run's). */
static struct run_tally tally(const struct run *r, size_t first)
{
	struct run_tally t = {0};
	size_t i;

	for (i = first; i < r->nrows; i++) {
		const struct summary_row *w = &r->rows[i];

		if (w->started && w->seconds > t.slowest_s)
			t.slowest_s = w->seconds;
		t.failed += !w->started;
		t.registry_bytes += w->registry_bytes;
		t.peer_bytes += w->peer_bytes;
	}
	return t;
}

/* What a faulted run's faults cost (faults.csv), against the run without
 * them just before it. */
static int add_fault_rows(struct run *r, const char *base, long sweep,
			  unsigned rep, const char *raw, size_t first)
{
	struct faults_cost c[SCENARIO_MAX_FAULTS];
	size_t n = faults_measure(raw, run_k(r), c, SCENARIO_MAX_FAULTS), i;
	struct run_tally with = tally(r, first);
	struct fault_row *nf;

	nf = realloc(r->frows, (r->nfrows + n + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	r->frows = nf;
	for (i = 0; i < n; i++) {
		struct fault_row *f = &r->frows[r->nfrows++];

		memset(f, 0, sizeof(*f));
		snprintf(f->strategy, sizeof(f->strategy), "%s", base);
		f->sweep = sweep;
		f->rep = rep;
		f->c = c[i];
		f->with = with;
		f->without = r->last_tally;
	}
	return 0;
}

/* Every tree's height and size over the run (trees.csv), from the
 * manager's timeline, for a strategy that runs the manager. */
static int add_tree_rows(struct run *r, const char *stname, long sweep,
			 unsigned rep, const char *raw,
			 const struct driver_result *dr, unsigned vms)
{
	char path[PATH_MAX + 32];
	const struct treewatch_sample *ts;
	struct treewatch *tw;
	struct tree_row *nt;
	size_t n, i;
	int ret;

	snprintf(path, sizeof(path), "%s/manager.jsonl", raw);
	ret = treewatch_new(path, r->s, vms, &tw);
	if (!ret)
		ret = treewatch_poll(tw);
	if (ret) {
		treewatch_free(tw);
		return ret == -ENOMEM ? ret : 0;
	}
	ts = treewatch_samples(tw, &n);
	nt = realloc(r->trows, (r->ntrows + n + 1) * sizeof(*nt));
	if (!nt) {
		treewatch_free(tw);
		return -ENOMEM;
	}
	r->trows = nt;
	for (i = 0; i < n; i++) {
		struct tree_row *t = &r->trows[r->ntrows++];

		snprintf(t->strategy, sizeof(t->strategy), "%s", stname);
		t->sweep = sweep;
		t->rep = rep;
		t->t_s = (double)((int64_t)driver_world_ns(dr->t0_ns, run_k(r),
							   ts[i].t_ns) -
				  (int64_t)dr->t0_ns) /
			 1e9;
		t->fn = ts[i].fn;
		t->height = ts[i].height;
		t->size = ts[i].size;
	}
	treewatch_free(tw);
	return 0;
}

/* One run of strategy st: its processes started, the workload driven, the
 * processes ended, and what happened turned into rows and one summary
 * run. The same for every strategy (strategy.h). */
static int run_one(struct run *r, unsigned st, int sweep_idx, unsigned rep,
		   int faulted)
{
	const struct scenario *s = r->s;
	const struct strategy *sp = strategy_at(st);
	char raw[PATH_MAX], label[96], mgr_ev[PATH_MAX + 32], stbuf[24];
	struct faults *fx = NULL;
	struct driver_hook hook = {faults_tick, NULL};
	size_t first_row = r->nrows;
	struct err fe = {""};
	char plog[PATH_MAX + 32];
	const char *refs[SCENARIO_MAX_IMAGES], *layouts[SCENARIO_MAX_IMAGES];
	struct scenario_invocation *inv = NULL;
	struct driver_result dr = {0};
	struct driver_target t = {.fd = -1};
	struct strategy_fact *facts = NULL;
	struct strategy_env env;
	struct procs *pr = NULL;
	struct fidmon *mon = NULL;
	struct run_fidelity rf = {.reg_cpu0 = -1};
	struct procs_cpu before;
	size_t ninv = 0, i, total = 0;
	unsigned corrupt = 0, vms = scenario_vms(s, sweep_idx), per_vm;
	long sweep = sweep_idx >= 0 ? (long)s->sweep[sweep_idx] : -1;
	const char *stname = sp->name;
	void *state = NULL;
	int ret, n;

	/* The same strategy with the scenario's faults, beside the run
	 * without them: its own rows, summary and folder. */
	if (faulted) {
		snprintf(stbuf, sizeof(stbuf), "%s+faults", sp->name);
		stname = stbuf;
	}

	r->last_degraded = 0;
	n = snprintf(raw, sizeof(raw), "%s/raw/%s", r->dir, stname);
	if (sweep_idx >= 0)
		n += snprintf(raw + n, sizeof(raw) - (size_t)n, "-%s%ld",
			      s->sweep_param, sweep);
	if (s->repetitions > 1)
		snprintf(raw + n, sizeof(raw) - (size_t)n, "-r%u", rep + 1);
	snprintf(label, sizeof(label), "run %s", raw + strlen(r->dir) + 5);
	snprintf(r->last_raw, sizeof(r->last_raw), "%s", raw);
	snprintf(plog, sizeof(plog), "%s/processes.log", raw);
	ret = mkdirs(raw);
	if (ret)
		return err_set(r->e, ret, "%s: %s", raw, strerror(-ret));
	ret = scenario_schedule(s, sweep_idx, &inv, &ninv, r->e);
	if (ret)
		return ret;
	for (i = 0; i < ninv; i++)
		total += inv[i].containers;
	/* One container per VM unless there are more containers than VMs
	 * (the paper's scale test runs 2-3 per VM). */
	per_vm = (unsigned)((total + vms - 1) / vms);
	/* Serving requests, the autoscaler decides the containers: one per
	 * VM, as in the paper, and it releases idle ones itself. */
	if (!per_vm || s->serve.on)
		per_vm = 1;
	for (i = 0; i < s->nimages; i++) {
		refs[i] = r->refs[i];
		layouts[i] = r->layouts[i];
	}

	/* The same start for every strategy: no ARP entries learned, and no
	 * ssthresh or RTT remembered, by the run before. */
	ret = flush_caches(r, label);
	if (ret)
		goto out;
	procs_cpu_take(&before); /* not this run's */
	rf.reg_cpu0 = procs_cpu_now(reg_pid(r));
	ret = procs_new(&pr);
	if (ret)
		goto out;
	env = (struct strategy_env){
		.s = s,
		.plan = &r->plan,
		.raw = raw,
		.plog = plog,
		.label = label,
		.bindir = r->bindir,
		.meta = r->meta,
		.registry = r->registry,
		.refs = refs,
		.layouts = layouts,
		.trace_gaps_ns = r->trace_gaps_ns,
		.inv = inv,
		.ninv = ninv,
		.seed = run_seed(s, rep),
		.vms = vms,
		.per_vm = per_vm,
		.k = run_k(r),
		.pr = pr,
		.stop = r->o->stop,
		.e = r->e,
	};
	ret = sp->start(&env, &state, &t);
	if (ret)
		goto out;
	if (faulted) {
		struct faults_env fenv = {
			.s = s,
			.plan = &r->plan,
			.vms = vms,
			.raw = raw,
			.label = label,
			.sp = sp,
			.state = state,
			.rp = r->rp,
			.k = run_k(r),
		};

		ret = faults_new(&fenv, &fx, r->e);
		if (ret)
			goto out;
		hook.arg = fx;
	}
	mon = monitor_start(r, raw, label);
	ret = driver_run(&t, inv, ninv, s, s->timeout_ns, run_k(r),
			 fx ? &hook : NULL, r->o->stop, label, &dr, r->e);
	/* The network and the registry as the next run expects them. */
	if (fx && faults_end(fx, &fe) && !ret)
		ret = err_set(r->e, -EIO, "%s: undoing its faults: %s", label,
			      fe.msg);
	fidmon_stop(mon);
	if (sp->finish)
		sp->finish(state, &dr);
	procs_stop_all(pr, 3000);
	snprintf(mgr_ev, sizeof(mgr_ev), "%s/manager.jsonl", raw);
	monitor_end(r, mon, mgr_ev, dr.t0_ns, label, &rf);
	mon = NULL;
	if (ret)
		goto out;

	facts = calloc(dr.n ? dr.n : 1, sizeof(*facts));
	if (!facts) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sp->facts(state, &dr, facts, &corrupt);
	if (!ret)
		ret = add_rows(r, stname, sweep, &dr, facts);
	if (!ret)
		ret = add_requests(r, stname, &dr);
	if (!ret && sp->faults)
		ret = add_tree_rows(r, stname, sweep, rep, raw, &dr, vms);
	if (!ret && faulted)
		ret = add_fault_rows(r, sp->name, sweep, rep, raw, first_row);
	if (ret)
		goto out;
	if (!faulted)
		r->last_tally = tally(r, first_row);
	add_key(r, stname, sweep, corrupt, &rf, rep);
out:
	faults_free(fx);
	if (mon) {
		fidmon_stop(mon);
		fidmon_free(mon);
	}
	/* Every process of the run, by PID, on every path. */
	if (pr) {
		procs_stop_all(pr, 3000);
		procs_free(pr);
	}
	sp->free(state);
	if (ret && !r->e->msg[0])
		err_set(r->e, ret, "%s: %s", label, strerror(-ret));
	free(facts);
	free(inv);
	driver_result_free(&dr);
	return ret;
}

/* dilation: auto raises the dilation along this ladder, from 1, for a run
 * whose verdict is degraded, and keeps it for the runs after (the host
 * that could not carry one run in real time will not carry a larger
 * one). Past its top a degraded run stands, said as such. fig17's 1,000
 * VMs need 32 on a 2-core host (scenarios/fig17.yaml). */
static const double auto_ladder[] = {1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48};
#define AUTO_STEPS (sizeof(auto_ladder) / sizeof(auto_ladder[0]))

static double auto_next(double k)
{
	size_t i;

	for (i = 0; i < AUTO_STEPS; i++)
		if (auto_ladder[i] > k)
			return auto_ladder[i];
	return 0;
}

/* The network shaped for dilation k, in place. */
static int set_dilation(struct run *r, double k)
{
	struct topo_spec spec = r->plan.spec;
	struct topo_plan plan;
	int ret;

	spec.dilation = k;
	ret = topo_plan_make(&spec, &plan, r->e);
	if (ret)
		return ret;
	ret = topo_reshape(&plan, r->e);
	if (ret) {
		topo_plan_free(&plan);
		return ret;
	}
	topo_plan_free(&r->plan);
	r->plan = plan;
	return 0;
}

/* One run; with dilation: auto, run again at the next dilation while its
 * verdict is degraded. What a degraded attempt recorded is dropped (its
 * raw folder kept, renamed RUN-kK-degraded, for the record). */
static int run_one_auto(struct run *r, unsigned st, int sweep_idx, unsigned rep,
			int faulted)
{
	size_t nrows, nreq, npool, nkeys;
	int degraded, ret;
	double next;
	__typeof__(r->keys) *keys = NULL;

	if (r->s->dilation != 0)
		return run_one(r, st, sweep_idx, rep, faulted);
	keys = malloc(sizeof(*keys));
	if (!keys)
		return err_set(r->e, -ENOMEM, "out of memory");
	for (;;) {
		nrows = r->nrows;
		nreq = r->nreq;
		npool = r->npool;
		nkeys = r->nkeys;
		degraded = r->degraded;
		memcpy(keys, r->keys, sizeof(*keys));
		ret = run_one(r, st, sweep_idx, rep, faulted);
		next = auto_next(run_k(r));
		if (ret || !r->last_degraded || !next)
			break;
		{
			char to[PATH_MAX + 32];

			snprintf(to, sizeof(to), "%s-k%g-degraded", r->last_raw,
				 run_k(r));
			if (rename(r->last_raw, to))
				fprintf(stderr, "run: %s: %s\n", to,
					strerror(errno));
		}
		fprintf(stderr,
			"run: dilation auto: degraded at %g, the run again "
			"at %g\n",
			run_k(r), next);
		r->nrows = nrows;
		r->nreq = nreq;
		r->npool = npool;
		r->nkeys = nkeys;
		r->degraded = degraded;
		memcpy(r->keys, keys, sizeof(*keys));
		ret = set_dilation(r, next);
		if (ret)
			break;
	}
	free(keys);
	return ret;
}

/* The files of the results folder, each written whole by one function. */
static const char *sweep_param(const struct run *r)
{
	return r->s->sweep_param[0] ? r->s->sweep_param : NULL;
}

static int write_rows(FILE *f, const struct run *r, struct err *e)
{
	return summary_write_rows(f, r->rows, r->nrows, sweep_param(r), e);
}

static int write_requests(FILE *f, const struct run *r, struct err *e)
{
	return requests_write_rows(f, r->req, r->nreq, e);
}

static int write_pool(FILE *f, const struct run *r, struct err *e)
{
	return requests_write_pool(f, r->pool, r->npool, e);
}

static int write_json(FILE *f, const struct run *r, struct err *e)
{
	return summary_write_json(f, r->s->name,
				  r->degraded ? "degraded" : "ok",
				  sweep_param(r), r->runs, r->nruns, e);
}

static int write_csv(FILE *f, const struct run *r, struct err *e)
{
	return summary_write_csv(f, sweep_param(r), r->runs, r->nruns, e);
}

/* faults.csv: per fault that fired, what it cost (docs/faults.md). */
static int write_faults(FILE *f, const struct run *r, struct err *e)
{
	const char *sp = sweep_param(r);
	size_t i;

	(void)e;
	fprintf(f, "strategy,%s%srep,fault,line,what,targets,at_s,lost,"
		   "replaced,detect_s,repair_s,slowest_s,slowest_nofault_s,"
		   "failed,failed_nofault,registry_bytes,"
		   "registry_bytes_nofault,peer_bytes,peer_bytes_nofault\n",
		sp ? sp : "", sp ? "," : "");
	for (i = 0; i < r->nfrows; i++) {
		const struct fault_row *w = &r->frows[i];
		const struct scenario_fault *sf = &r->s->faults[w->c.index];
		static const char *const what[] = {"kill", "link", "lie"};

		fprintf(f, "%s,", w->strategy);
		if (sp)
			fprintf(f, "%ld,", w->sweep);
		fprintf(f,
			"%u,%u,%u,%s,%s,%.3f,%u,%u,%.3f,%.3f,%.3f,%.3f,%u,%u,"
			"%llu,%llu,%llu,%llu\n",
			w->rep + 1, w->c.index, sf->line, what[sf->what],
			w->c.targets, w->c.at_s, w->c.lost, w->c.replaced,
			w->c.detect_s, w->c.repair_s, w->with.slowest_s,
			w->without.slowest_s, w->with.failed,
			w->without.failed,
			(unsigned long long)w->with.registry_bytes,
			(unsigned long long)w->without.registry_bytes,
			(unsigned long long)w->with.peer_bytes,
			(unsigned long long)w->without.peer_bytes);
	}
	return ferror(f) ? -EIO : 0;
}

/* trees.csv: every function tree's height and size when they changed. */
static int write_trees(FILE *f, const struct run *r, struct err *e)
{
	const char *sp = sweep_param(r);
	size_t i;

	(void)e;
	fprintf(f, "strategy,%s%srep,function,t_s,height,size\n",
		sp ? sp : "", sp ? "," : "");
	for (i = 0; i < r->ntrows; i++) {
		const struct tree_row *w = &r->trows[i];

		fprintf(f, "%s,", w->strategy);
		if (sp)
			fprintf(f, "%ld,", w->sweep);
		fprintf(f, "%u,%s,%.3f,%u,%u\n", w->rep + 1,
			r->s->functions[w->fn].name, w->t_s, w->height,
			w->size);
	}
	return ferror(f) ? -EIO : 0;
}

static int write_file(struct run *r, const char *name,
		      int (*fn)(FILE *, const struct run *, struct err *))
{
	char path[PATH_MAX + 32];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	f = fopen(path, "we");
	if (!f)
		return err_set(r->e, -errno, "%s: %s", path, strerror(errno));
	ret = fn(f, r, r->e);
	if (fclose(f) && !ret)
		ret = err_set(r->e, -EIO, "%s: write failed", path);
	return ret;
}

static int write_results(struct run *r)
{
	int ret;

	ret = write_file(r, "containers.csv", write_rows);
	if (!ret && r->s->serve.on)
		ret = write_file(r, "requests.csv", write_requests);
	if (!ret && r->s->serve.on)
		ret = write_file(r, "pool.csv", write_pool);
	if (!ret)
		ret = write_file(r, "summary.json", write_json);
	if (!ret)
		ret = write_file(r, "summary.csv", write_csv);
	if (!ret && r->s->nfaults)
		ret = write_file(r, "faults.csv", write_faults);
	if (!ret && r->ntrows)
		ret = write_file(r, "trees.csv", write_trees);
	if (ret)
		return ret;
	{
		struct err ee = {""};

		if (events_merge(r->dir, &ee))
			fprintf(stderr,
				"run: could not merge the event logs: %s\n",
				ee.msg);
	}
	return report_write(r->dir, r->s, r->runs, r->nruns,
			    r->degraded ? "degraded" : "ok", r->fidelity_note,
			    r->e);
}

int run_scenario(const struct scenario *s, const struct run_opts *o,
		 char dir[PATH_MAX], struct err *e)
{
	struct run r = {.s = s, .o = o, .e = e};
	struct topo_build_opts bo = {.progress = util_progress,
				     .stop = o->stop};
	struct util_progress prog;
	struct topo_spec topo;
	struct regproc rp;
	struct err ce;
	char regdir[PATH_MAX + 16], stamp[32];
	const unsigned *sts = o->nstrategies ? o->strategies : s->strategies;
	unsigned nst = o->nstrategies ? o->nstrategies : s->nstrategies;
	unsigned rep, k, nd;
	int sw, nsw = s->nsweep ? (int)s->nsweep : 1, ret, built = 0;
	int reg_started = 0;
	ssize_t n;
	time_t now = time(NULL);

	e->msg[0] = '\0';
	topo_addr_str(TOPO_REGISTRY_ADDR, r.registry, sizeof(r.registry));
	snprintf(r.registry + strlen(r.registry),
		 sizeof(r.registry) - strlen(r.registry), ":%d",
		 TOPO_REGISTRY_PORT);
	n = readlink("/proc/self/exe", r.bindir, sizeof(r.bindir) - 1);
	if (n <= 0)
		return err_set(e, -errno, "cannot find my own binary");
	r.bindir[n] = '\0';
	{
		/* dirname works in place: copy out before writing back. */
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s", r.bindir);
		snprintf(r.bindir, sizeof(r.bindir), "%s", dirname(tmp));
	}
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&now));
	if (o->out)
		snprintf(r.dir, sizeof(r.dir), "%s", o->out);
	else
		snprintf(r.dir, sizeof(r.dir), "results/%s-%s", s->name, stamp);
	{
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s", r.dir);
		snprintf(r.cache, sizeof(r.cache), "%s/.cache", dirname(tmp));
	}
	ret = mkdirs(r.dir);
	if (!ret)
		ret = mkdirs(r.cache);
	if (ret)
		return err_set(e, ret, "%s: %s", r.dir, strerror(-ret));
	snprintf(dir, PATH_MAX, "%s", r.dir);

	scenario_scaled_topology(s, &topo);
	topo.dilation = s->dilation >= 1.0 ? s->dilation : 1.0;
	/* --strategies may name one the scenario file could not: said before
	 * anything is built. */
	for (k = 0; k < nst; k++)
		if (s->serve.on && !strategy_at(sts[k])->serves)
			return err_set(e, -EINVAL,
				       "%s cannot serve requests (it has no "
				       "scheduler)",
				       strategy_name(sts[k]));
	ret = topo_plan_make(&topo, &r.plan, e);
	if (ret)
		return ret;
	fprintf(stderr, "run: %s: %u VMs, scale %g, %s%g, results in %s\n",
		s->name, topo.vms, s->scale,
		s->dilation >= 1.0 ? "dilation " : "dilation auto from ",
		topo.dilation, r.dir);
	util_progress_init(&prog, "run: network");
	bo.arg = &prog;
	ret = topo_build(&r.plan, &bo, e);
	util_progress_end(&prog);
	if (ret)
		goto out;
	built = 1;
	snprintf(regdir, sizeof(regdir), "%s/registry", r.dir);
	ret = regproc_start(regdir, &rp, e);
	reg_started = !ret;
	r.rp = reg_started ? &rp : NULL;
	if (!ret)
		ret = prepare_images(&r);
	/* Repetition rep starts at strategy rep mod nst, so that no strategy
	 * always runs first (cold page cache, fresh registry) or last. */
	for (sw = 0; !ret && sw < nsw; sw++)
		for (rep = 0; !ret && rep < s->repetitions; rep++)
			for (k = 0; !ret && k < nst; k++) {
				ret = run_one_auto(&r, sts[(rep + k) % nst],
						   s->nsweep ? sw : -1, rep, 0);
				/* With faults: again, with them, right after
				 * the run it is held against. */
				if (!ret && s->nfaults)
					ret = run_one_auto(
						&r, sts[(rep + k) % nst],
						s->nsweep ? sw : -1, rep, 1);
			}
out:
	/* Down on every path, the registry first: it holds its namespace. */
	/* Only what this run made: a refused build (an earlier run's
	 * leftovers) or a registry that was already running belong to
	 * someone else. */
	if (reg_started)
		regproc_stop_recorded(&ce);
	if (built)
		topo_clean(NULL, &ce);
	r.runs = calloc(r.nkeys ? r.nkeys : 1, sizeof(*r.runs));
	r.rstats = calloc(r.nkeys ? r.nkeys : 1, sizeof(*r.rstats));
	for (k = 0; r.runs && r.rstats && k < r.nkeys; k++) {
		if (summary_compute(r.rows, r.nrows, r.keys[k].strategy,
				    r.keys[k].sweep, r.keys[k].corrupt,
				    &r.runs[r.nruns]))
			continue;
		r.runs[r.nruns].seed = r.keys[k].seed;
		r.runs[r.nruns].dilation = r.keys[k].dilation;
		r.runs[r.nruns].fidelity = &r.keys[k].verdict;
		r.runs[r.nruns].cpu = &r.keys[k].cpu;
		if (s->serve.on &&
		    !requests_compute(r.req, r.nreq, r.keys[k].strategy,
				      (double)s->serve.service_ns / 1e9,
				      &r.rstats[r.nruns]))
			r.runs[r.nruns].requests = &r.rstats[r.nruns];
		r.nruns++;
	}
	for (k = 0, nd = 0; k < r.nruns; k++)
		nd += r.runs[k].fidelity && r.runs[k].fidelity->degraded;
	if (nd)
		snprintf(r.fidelity_note, sizeof(r.fidelity_note),
			 "%u of %zu runs degraded (the reasons are under each "
			 "run below)",
			 nd, r.nruns);
	if (o->outcome) {
		memset(o->outcome, 0, sizeof(*o->outcome));
		o->outcome->runs_degraded = nd;
		for (k = 0; k < r.nruns; k++) {
			o->outcome->requested += r.runs[k].requested;
			o->outcome->failed += r.runs[k].failed;
		}
	}
	if (r.nruns) {
		int wret = write_results(&r);

		if (!ret)
			ret = wret;
	}
	free(r.rows);
	free(r.frows);
	free(r.trows);
	free(r.runs);
	free(r.rstats);
	free(r.req);
	free(r.pool);
	topo_plan_free(&r.plan);
	return ret;
}

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procs.h"
#include "report.h"
#include "requests.h"
#include "units.h"

/* Run by path, with an argument vector: no shell, so a results folder's
 * name may hold any character. */
#define GNUPLOT "/usr/bin/gnuplot"
#define DOT	"/usr/bin/dot"

static int have_gnuplot(void)
{
	return !access(GNUPLOT, X_OK);
}

/* A strategy's or a run's name goes into plots.gp between single quotes
 * and into file names: one of letters, digits, '.', '_', '-' and '+' (a
 * run with faults is STRATEGY+faults), as the
 * harness names them, or it is left out of the plots. A quote would end
 * gnuplot's string, and gnuplot runs shell commands (system()). */
static bool plot_name(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-' || *p == '+'))
			return false;
	return *s && strcmp(s, ".") && strcmp(s, "..");
}

/* Said once, without the name: it is the file's, not ours. */
static void left_out(unsigned n, const char *what)
{
	if (n)
		fprintf(stderr,
			"report: %u %s left out of the plots: expected names "
			"of letters, digits, '.', '_', '-' and '+'\n",
			n, what);
}

struct series {
	char link[32];
	double *t;
	uint64_t *in, *out;
	size_t n, cap;
};

static struct series *series_of(struct series **v, size_t *n, const char *l)
{
	struct series *nv;
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp((*v)[i].link, l))
			return &(*v)[i];
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	snprintf(nv[*n].link, sizeof(nv[*n].link), "%s", l);
	return &nv[(*n)++];
}

/* One run's raw/RUN/netdev.csv: a series of byte counters per host cable.
 * Picks the registry's, the VM that sent the most (an inner node of a
 * tree) and, of those that received, the one that sent least (a leaf). */
struct netdev {
	struct series *v;
	size_t n;
	struct series *reg, *hi, *lo;
};

static void netdev_free(struct netdev *nd)
{
	size_t i;

	for (i = 0; i < nd->n; i++) {
		free(nd->v[i].t);
		free(nd->v[i].in);
		free(nd->v[i].out);
	}
	free(nd->v);
	memset(nd, 0, sizeof(*nd));
}

/* 0 when the three series are there and of one length. */
static int netdev_load(const char *dir, const char *run, struct netdev *nd)
{
	char path[PATH_MAX + 300], line[256], link[32];
	unsigned long long in, out;
	struct series *x;
	double t;
	size_t i;
	FILE *f;

	memset(nd, 0, sizeof(*nd));
	snprintf(path, sizeof(path), "%s/raw/%s/netdev.csv", dir, run);
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lf,%31[^,],%llu,%llu", &t, link, &in,
			   &out) != 4)
			continue;
		x = series_of(&nd->v, &nd->n, link);
		if (!x)
			break;
		if (x->n == x->cap) {
			x->cap = x->cap ? 2 * x->cap : 256;
			x->t = realloc(x->t, x->cap * sizeof(*x->t));
			x->in = realloc(x->in, x->cap * sizeof(*x->in));
			x->out = realloc(x->out, x->cap * sizeof(*x->out));
			if (!x->t || !x->in || !x->out)
				break;
		}
		x->t[x->n] = t;
		x->in[x->n] = in;
		x->out[x->n++] = out;
	}
	fclose(f);
	for (i = 0; i < nd->n; i++) {
		x = &nd->v[i];
		if (!x->n)
			continue;
		if (!strcmp(x->link, "registry"))
			nd->reg = x;
		else if (!nd->hi ||
			 x->out[x->n - 1] > nd->hi->out[nd->hi->n - 1])
			nd->hi = x;
	}
	for (i = 0; i < nd->n; i++) {
		x = &nd->v[i];
		if (x == nd->reg || x == nd->hi || !x->n || !x->in[x->n - 1])
			continue;
		if (!nd->lo || x->out[x->n - 1] < nd->lo->out[nd->lo->n - 1])
			nd->lo = x;
	}
	if (nd->reg && nd->hi && nd->lo && nd->reg->n == nd->hi->n &&
	    nd->hi->n == nd->lo->n && nd->reg->n > 1)
		return 0;
	netdev_free(nd);
	return -ENODATA;
}

#define RATE(s, f, k)                                                          \
	((double)((s)->f[k] - (s)->f[(k)-1]) / ((s)->t[k] - (s)->t[(k)-1]) /   \
	 1e6)

/* plot-thr-RUN.dat (MB/s per interval: the registry's egress; inbound and
 * outbound of the busiest VM and of a leaf) and a gnuplot block: the
 * paper's Fig. 16. Returns whether it wrote one. */
static int throughput(const char *dir, const char *run, FILE *gp)
{
	char path[PATH_MAX + 300];
	struct netdev nd;
	size_t k;
	FILE *f;

	if (netdev_load(dir, run, &nd))
		return 0;
	snprintf(path, sizeof(path), "%s/plot-thr-%s.dat", dir, run);
	f = fopen(path, "we");
	if (f) {
		fprintf(f,
			"# t_s registry_out %s_in %s_out %s_in %s_out (MB/s)\n",
			nd.hi->link, nd.hi->link, nd.lo->link, nd.lo->link);
		for (k = 1; k < nd.reg->n; k++)
			if (nd.reg->t[k] > nd.reg->t[k - 1])
				fprintf(f, "%.3f %.3f %.3f %.3f %.3f %.3f\n",
					nd.reg->t[k], RATE(nd.reg, out, k),
					RATE(nd.hi, in, k), RATE(nd.hi, out, k),
					RATE(nd.lo, in, k),
					RATE(nd.lo, out, k));
		fclose(f);
		for (int fmt = 0; fmt < 2; fmt++)
			fprintf(gp,
				"set terminal %s size 800,500\nset "
				"output 'throughput-%s.%s'\nset title "
				"'%s: throughput over time'\nset "
				"xlabel 'seconds'\nset ylabel "
				"'MB/s'\nset key top right\nplot "
				"'plot-thr-%s.dat' using 1:2 with "
				"lines lw 2 title 'registry out', '' "
				"using 1:3 with lines title '%s in', "
				"'' using 1:4 with lines title '%s "
				"out', '' using 1:5 with lines title "
				"'%s in', '' using 1:6 with lines "
				"title '%s out'\n",
				fmt ? "svg" : "pngcairo", run,
				fmt ? "svg" : "png", run, run, nd.hi->link,
				nd.hi->link, nd.lo->link, nd.lo->link);
	}
	netdev_free(&nd);
	return 1;
}

/* The CSV field k (0-based) of line as a number, NaN when empty: gnuplot
 * leaves NaN out of a line. */
static double csv_field(const char *line, int k)
{
	const char *p = line;
	char *end;
	double v;

	while (k-- > 0 && p)
		if ((p = strchr(p, ',')))
			p++;
	if (!p || *p == ',' || *p == '\n' || !*p)
		return NAN;
	v = strtod(p, &end);
	return end == p ? NAN : v;
}

/* plot-mon-RUN.dat from raw/RUN/monitor.csv's host rows (percent: the
 * busiest CPU, the largest softirq share, CPU pressure, the worst
 * backlogged link's achieved over configured rate; ms: the canary's worst
 * lateness) and its gnuplot block. Returns whether it wrote one. */
static int monitor_plot(const char *dir, const char *run, FILE *gp)
{
	char path[PATH_MAX + 300], line[512];
	FILE *in, *out;
	int fmt;

	snprintf(path, sizeof(path), "%s/raw/%s/monitor.csv", dir, run);
	in = fopen(path, "re");
	if (!in)
		return 0;
	snprintf(path, sizeof(path), "%s/plot-mon-%s.dat", dir, run);
	out = fopen(path, "we");
	if (!out) {
		fclose(in);
		return 0;
	}
	fprintf(out, "# t_s busiest_cpu_%% softirq_%% psi_%% "
		     "worst_link_ratio_%% canary_max_ms\n");
	while (fgets(line, sizeof(line), in)) {
		double dt = csv_field(line, 1);

		if (!strstr(line, ",host,"))
			continue;
		fprintf(out, "%.3f %.1f %.1f %.1f %.1f %.3f\n",
			csv_field(line, 0), 100 * csv_field(line, 4),
			100 * csv_field(line, 6), csv_field(line, 7) / 1e4 / dt,
			100 * csv_field(line, 11), csv_field(line, 8));
	}
	fclose(in);
	fclose(out);
	for (fmt = 0; fmt < 2; fmt++)
		fprintf(gp,
			"set terminal %s size 800,500\nset output "
			"'monitor-%s.%s'\nset title '%s: fidelity monitor'\n"
			"set xlabel 'seconds'\nset ylabel 'percent'\n"
			"set y2label 'canary late, ms'\nset ytics nomirror\n"
			"set y2tics\nset yrange [0:110]\nset y2range [0:*]\n"
			"set key top right\nplot 'plot-mon-%s.dat' using "
			"1:2 with lines lw 2 title 'busiest CPU', '' using "
			"1:3 with lines title 'softirq', '' using 1:4 with "
			"lines title 'CPU pressure', '' using 1:5 with "
			"points pt 7 ps 0.5 title 'worst backlogged link, "
			"%% of rate', '' using 1:6 axes x1y2 with lines "
			"title 'canary late (ms)'\nunset y2label\nunset "
			"y2tics\nset ytics mirror\nset yrange [*:*]\n",
			fmt ? "svg" : "pngcairo", run, fmt ? "svg" : "png", run,
			run);
	return 1;
}

/* The verdict of each run, with its reasons, and the CPU its processes
 * used. */
static void fidelity_runs(FILE *f, const struct summary_run *runs, size_t n)
{
	size_t i;
	unsigned k;

	fprintf(f, "\n## Fidelity per run\n\nEach run is judged window by "
		   "window (`docs/fidelity.md`); its signals are in "
		   "`raw/RUN/monitor.csv`, drawn as `monitor-RUN.png`.\n\n");
	for (i = 0; i < n; i++) {
		const struct summary_run *r = &runs[i];

		fprintf(f, "- %s", r->strategy);
		if (r->sweep >= 0)
			fprintf(f, " (%ld)", r->sweep);
		if (!r->fidelity)
			fprintf(f, ": not judged");
		else
			fprintf(f, ": **%s**",
				r->fidelity->degraded ? "degraded" : "ok");
		for (k = 0; r->fidelity && k < r->fidelity->nreasons; k++)
			fprintf(f, "%s%s", k ? "; " : ": ",
				r->fidelity->reasons[k].text);
		if (r->fidelity && r->fidelity->dropped)
			fprintf(f, "; and %u more", r->fidelity->dropped);
		if (r->cpu)
			fprintf(f,
				". CPU s: agents %.1f, manager %.1f, "
				"registry %.1f, aria2c %.1f, tracker %.1f, "
				"seeder %.1f, proxies %.1f, total %.1f",
				r->cpu->agents, r->cpu->manager,
				r->cpu->registry, r->cpu->aria2c,
				r->cpu->tracker, r->cpu->seeder,
				r->cpu->proxies, r->cpu->total);
		fprintf(f, "\n");
	}
}

/* Fig. 16 in numbers, per run: the busiest VM's bytes out over bytes in
 * (about 2 for an inner node with two children) and its peak rates
 * against its scaled link. */
static void throughput_table(FILE *f, const char *dir, double vm_Bps)
{
	char rawdir[PATH_MAX + 16];
	struct dirent *de;
	int any = 0;
	DIR *d;

	snprintf(rawdir, sizeof(rawdir), "%s/raw", dir);
	d = opendir(rawdir);
	while (d && (de = readdir(d))) {
		struct netdev nd;
		double pin = 0, pout = 0, bin, bout;
		size_t k;

		if (de->d_name[0] == '.' || netdev_load(dir, de->d_name, &nd))
			continue;
		for (k = 1; k < nd.hi->n; k++)
			if (nd.hi->t[k] > nd.hi->t[k - 1]) {
				if (RATE(nd.hi, in, k) > pin)
					pin = RATE(nd.hi, in, k);
				if (RATE(nd.hi, out, k) > pout)
					pout = RATE(nd.hi, out, k);
			}
		bin = (double)(nd.hi->in[nd.hi->n - 1] - nd.hi->in[0]);
		bout = (double)(nd.hi->out[nd.hi->n - 1] - nd.hi->out[0]);
		if (!any)
			fprintf(f,
				"\n## Per-VM throughput (Fig. 16)\n\n"
				"The VM that sent the most in each run. The "
				"paper: a VM's inbound is about half its "
				"outbound (two children); peak 45 MB/s, "
				"35.2%% of the 1 Gbit/s NIC (the same share "
				"of the scaled link is comparable).\n\n"
				"| run | VM | in MB | out MB | out/in | peak "
				"in "
				"MB/s | peak out MB/s | peak out, %% of link "
				"|\n|---|---|---|---|---|---|---|---|\n");
		any = 1;
		fprintf(f,
			"| %s | %s | %.1f | %.1f | %.2f | %.2f | %.2f | %.1f%% "
			"|\n",
			de->d_name, nd.hi->link, bin / 1e6, bout / 1e6,
			bin > 0 ? bout / bin : 0, pin, pout,
			vm_Bps > 0 ? 100 * pout * 1e6 / vm_Bps : 0);
		netdev_free(&nd);
	}
	if (d)
		closedir(d);
}
#undef RATE

static void tree_picture(const char *dir, const char *run)
{
	char dot[PATH_MAX + 300], png[PATH_MAX + 300];
	char *argv[] = {DOT, "-Tpng", dot, "-o", png, NULL};
	struct stat st;
	struct err e;

	snprintf(dot, sizeof(dot), "%s/raw/%s/trees.dot", dir, run);
	snprintf(png, sizeof(png), "%s/tree-%s.png", dir, run);
	if (access(DOT, X_OK) || stat(dot, &st) || st.st_size > 64 * 1024)
		return;
	if (procs_run_wait_in(NULL, argv, "/dev/null", &e))
		fprintf(stderr, "report: dot could not draw %s's tree\n", run);
}

/* A run that served requests: per strategy, every request's response time
 * against its arrival (the paper's Fig. 11) and the pool over time, live
 * containers and waiting requests (Fig. 12), from requests.csv and
 * pool.csv; then their gnuplot blocks. Nothing without requests.csv. */
/* The CSV field k (0-based) of line as text into buf ("" when absent). */
static const char *csv_text(const char *line, int k, char *buf, size_t len)
{
	const char *p = line;
	size_t n;

	while (k-- > 0 && p)
		if ((p = strchr(p, ',')))
			p++;
	n = p ? strcspn(p, ",\n") : 0;
	if (n >= len)
		n = len - 1;
	memcpy(buf, p ? p : "", n);
	buf[n] = '\0';
	return buf;
}

/* DIR/name, a results CSV (trees.csv, faults.csv), opened past its header;
 * *swept: whether it has a sweep column after the strategy's. NULL when
 * it is absent or empty. */
static FILE *open_csv(const char *dir, const char *name, int *swept)
{
	char path[PATH_MAX + 64], line[1024];
	FILE *in;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	in = fopen(path, "re");
	if (in && !fgets(line, sizeof(line), in)) {
		fclose(in);
		in = NULL;
	}
	if (in)
		*swept = strncmp(line, "strategy,rep,", 13) != 0;
	return in;
}

/* trees.png: every tree's height over time, a line per run (strategy,
 * sweep value, repetition) and function, from trees.csv (faults.md). */
static void trees_plot(const char *dir, FILE *gp)
{
	char path[PATH_MAX + 64], line[512], key[160], last[160] = "";
	char st[32], sw[24], rep[16], fn[72];
	char keys[64][160];
	unsigned nk = 0, bad = 0, j;
	int swept;
	FILE *in, *out = NULL;

	/* strategy,[SWEEP,]rep,function,t_s,height,size */
	in = open_csv(dir, "trees.csv", &swept);
	if (!in)
		return;
	while (fgets(line, sizeof(line), in)) {
		csv_text(line, 0, st, sizeof(st));
		csv_text(line, swept ? 1 : 0, sw, sizeof(sw));
		csv_text(line, swept ? 2 : 1, rep, sizeof(rep));
		csv_text(line, swept ? 3 : 2, fn, sizeof(fn));
		snprintf(key, sizeof(key), "%s%s%s-r%s-%s", st,
			 swept ? "-" : "", swept ? sw : "", rep, fn);
		if (!plot_name(key)) {
			bad++;
			continue;
		}
		if (strcmp(key, last)) {
			if (out)
				fclose(out);
			out = NULL;
			for (j = 0; j < nk && strcmp(keys[j], key); j++)
				;
			if (j == nk && nk == 64)
				continue;
			if (j == nk)
				snprintf(keys[nk++], sizeof(keys[0]), "%s",
					 key);
			snprintf(path, sizeof(path), "%s/plot-tree-%s.dat", dir,
				 key);
			out = fopen(path, j < nk - 1 ? "ae" : "we");
			snprintf(last, sizeof(last), "%s", key);
		}
		if (out)
			fprintf(out, "%.3f %g %g\n",
				csv_field(line, swept ? 4 : 3),
				csv_field(line, swept ? 5 : 4),
				csv_field(line, swept ? 6 : 5));
	}
	if (out)
		fclose(out);
	fclose(in);
	left_out(bad, "row(s) of trees.csv");
	if (!nk)
		return;
	/* Height (levels) on the left, VMs in the tree on the right, dashed:
	 * a tree keeps its height as VMs leave and join, its size shows
	 * them. */
	for (int fmt = 0; fmt < 2; fmt++) {
		fprintf(gp,
			"set terminal %s size 800,500\nset output 'trees.%s'\n"
			"set title 'Function trees over time: height (solid) "
			"and VMs (dashed)'\n"
			"set xlabel 'seconds since the run started'\n"
			"set ylabel 'levels'\nset y2label 'VMs in the tree'\n"
			"set ytics nomirror\nset y2tics\nset key bottom right\n"
			"set grid\nset xrange [0:*]\nset yrange [0:*]\n"
			"set y2range [0:*]\nplot ",
			fmt ? "svg" : "pngcairo", fmt ? "svg" : "png");
		for (j = 0; j < nk; j++)
			fprintf(gp,
				"%s'plot-tree-%s.dat' using 1:2 with steps lw 2 "
				"lc %u title '%s', 'plot-tree-%s.dat' using 1:3 "
				"axes x1y2 with steps lw 1 dt 2 lc %u notitle",
				j ? ", " : "", keys[j], j + 1, keys[j], keys[j],
				j + 1);
		fprintf(gp, "\nunset y2label\nunset y2tics\nset ytics "
			    "mirror\n");
	}
}

/* faults.csv as a table: what each fault cost against the run without
 * it. */
static void faults_table(FILE *f, const char *dir)
{
	char line[1024], st[32], what[16], tg[128];
	int swept = 0, o;
	FILE *in = open_csv(dir, "faults.csv", &swept);

	if (!in)
		return;
	o = swept ? 1 : 0;
	fprintf(f,
		"\n## Faults\n\n"
		"Each run with faults against the same run without them "
		"just before it (`faults.csv`, docs/faults.md): containers "
		"of a dead VM not yet up and how many were placed again, "
		"when the manager noticed, when the tree was repaired, and "
		"the run's slowest container and bytes with and without.\n\n"
		"| strategy | fault (line) | what | targets | at s | lost | "
		"placed again | detected s | repaired s | slowest s | "
		"without s | failed | extra registry MB | extra peers MB "
		"|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		"\n");
	while (fgets(line, sizeof(line), in))
		fprintf(f,
			"| %s | %g (%g) | %s | %s | %.2f | %g | %g | %.3f | "
			"%.3f "
			"| %.2f | %.2f | %g | %.1f | %.1f |\n",
			csv_text(line, 0, st, sizeof(st)),
			csv_field(line, o + 2), csv_field(line, o + 3),
			csv_text(line, o + 4, what, sizeof(what)),
			csv_text(line, o + 5, tg, sizeof(tg)),
			csv_field(line, o + 6), csv_field(line, o + 7),
			csv_field(line, o + 8), csv_field(line, o + 9),
			csv_field(line, o + 10), csv_field(line, o + 11),
			csv_field(line, o + 12), csv_field(line, o + 13),
			(csv_field(line, o + 15) - csv_field(line, o + 16)) /
				1e6,
			(csv_field(line, o + 17) - csv_field(line, o + 18)) /
				1e6);
	fclose(in);
}

static void serve_plots(const char *dir, FILE *gp)
{
	char path[PATH_MAX + 64], keys[2 * SCENARIO_MAX_STRATEGIES][24],
		line[256];
	struct requests_row *rows = NULL;
	struct err e = {""};
	size_t n, i, j, nk = 0;
	unsigned bad = 0;
	FILE *f, *pool;

	snprintf(path, sizeof(path), "%s/requests.csv", dir);
	if (access(path, F_OK) || requests_read_rows(path, &rows, &n, &e)) {
		if (e.msg[0])
			fprintf(stderr, "report: %s\n", e.msg);
		return;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < nk && strcmp(keys[j], rows[i].strategy); j++)
			;
		if (j == nk && !plot_name(rows[i].strategy))
			bad++;
		else if (j == nk && nk < 2 * SCENARIO_MAX_STRATEGIES)
			snprintf(keys[nk++], sizeof(keys[0]), "%s",
				 rows[i].strategy);
	}
	left_out(bad, "request(s) of requests.csv");
	for (j = 0; j < nk; j++) {
		snprintf(path, sizeof(path), "%s/plot-resp-%s.dat", dir,
			 keys[j]);
		f = fopen(path, "we");
		if (!f)
			continue;
		fprintf(f, "# %s arrival_s response_s\n", keys[j]);
		for (i = 0; i < n; i++)
			if (rows[i].served &&
			    !strcmp(rows[i].strategy, keys[j]))
				fprintf(f, "%.6f %.6f\n", rows[i].arrival_s,
					rows[i].done_s - rows[i].arrival_s);
		fclose(f);
	}
	free(rows);
	/* pool.csv: one line per function and sample; the functions of one
	 * sample share its time, and add up. */
	snprintf(path, sizeof(path), "%s/pool.csv", dir);
	pool = fopen(path, "re");
	for (j = 0; pool && j < nk; j++) {
		double t, last = -1;
		unsigned live, pend, busy, q, sl = 0, sq = 0;
		char st[24];

		snprintf(path, sizeof(path), "%s/plot-pool-%s.dat", dir,
			 keys[j]);
		f = fopen(path, "we");
		if (!f)
			continue;
		fprintf(f, "# %s t_s live queued\n", keys[j]);
		rewind(pool);
		while (fgets(line, sizeof(line), pool))
			if (sscanf(line, "%15[^,],%*[^,],%lf,%u,%u,%u,%u", st,
				   &t, &live, &pend, &busy, &q) == 6 &&
			    !strcmp(st, keys[j])) {
				if (last >= 0 && t != last)
					fprintf(f, "%.3f %u %u\n", last, sl,
						sq);
				if (t != last)
					sl = sq = 0;
				sl += live;
				sq += q;
				last = t;
			}
		if (last >= 0)
			fprintf(f, "%.3f %u %u\n", last, sl, sq);
		fclose(f);
	}
	if (pool)
		fclose(pool);
	for (int fmt = 0; gp && nk && fmt < 2; fmt++) {
		const char *term = fmt ? "svg" : "pngcairo",
			   *ext = fmt ? "svg" : "png";

		fprintf(gp,
			"set terminal %s size 800,500\nset output "
			"'response.%s'\nset key top right\nset grid\nset "
			"xrange [0:*]\nset title 'Response time of every "
			"request'\nset xlabel 'arrival, seconds since the run "
			"started'\nset ylabel 'response time, s'\nplot ",
			term, ext);
		for (j = 0; j < nk; j++)
			fprintf(gp,
				"%s'plot-resp-%s.dat' using 1:2 with points "
				"pt 7 ps 0.3 title '%s'",
				j ? ", " : "", keys[j], keys[j]);
		fprintf(gp,
			"\nset terminal %s size 800,500\nset output "
			"'pool.%s'\nset title 'Containers live (solid) and "
			"requests waiting (dashed)'\nset xlabel 'seconds "
			"since the run started'\nset ylabel 'count'\nplot ",
			term, ext);
		for (j = 0; j < nk; j++)
			fprintf(gp,
				"%s'plot-pool-%s.dat' using 1:2 with steps lw "
				"2 lc %zu title '%s', 'plot-pool-%s.dat' using "
				"1:3 with steps dt 2 lc %zu notitle",
				j ? ", " : "", keys[j], j + 1, keys[j], keys[j],
				j + 1);
		fprintf(gp, "\n");
	}
}

/* One .dat per strategy (and sweep value): the CDF of provisioning time
 * and containers up over time, then one gnuplot script for both. */
int report_plots(const char *dir, struct err *e)
{
	char path[PATH_MAX + 64], keys[32][48];
	struct summary_row *rows = NULL;
	size_t n, i, j, nk = 0, m;
	unsigned bad = 0;
	double *v;
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/containers.csv", dir);
	ret = summary_read_rows(path, &rows, &n, e);
	if (ret)
		return ret;
	for (i = 0; i < n && nk < 32; i++) {
		char k[48];

		if (rows[i].sweep >= 0)
			snprintf(k, sizeof(k), "%s-%ld", rows[i].strategy,
				 rows[i].sweep);
		else
			snprintf(k, sizeof(k), "%s", rows[i].strategy);
		for (j = 0; j < nk && strcmp(keys[j], k); j++)
			;
		if (j == nk && !plot_name(k))
			bad++;
		else if (j == nk)
			snprintf(keys[nk++], sizeof(keys[0]), "%s", k);
	}
	left_out(bad, "row(s) of containers.csv");
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v) {
		free(rows);
		return err_set(e, -ENOMEM, "out of memory");
	}
	for (j = 0; j < nk; j++) {
		for (int pass = 0; pass < 2; pass++) {
			m = 0;
			for (i = 0; i < n; i++) {
				char k[48];

				if (rows[i].sweep >= 0)
					snprintf(k, sizeof(k), "%s-%ld",
						 rows[i].strategy,
						 rows[i].sweep);
				else
					snprintf(k, sizeof(k), "%s",
						 rows[i].strategy);
				if (strcmp(k, keys[j]) || !rows[i].started)
					continue;
				v[m++] = pass ? rows[i].started_s
					      : rows[i].seconds;
			}
			qsort(v, m, sizeof(*v), summary_cmp_double);
			snprintf(path, sizeof(path), "%s/plot-%s-%s.dat", dir,
				 pass ? "ready" : "cdf", keys[j]);
			f = fopen(path, "we");
			if (!f)
				continue;
			fprintf(f, "# %s %s\n", keys[j],
				pass ? "started_s containers_up"
				     : "seconds fraction");
			for (i = 0; i < m; i++)
				fprintf(f, "%.6f %g\n", v[i],
					pass ? (double)(i + 1)
					     : (double)(i + 1) / (double)m);
			fclose(f);
		}
	}
	free(v);
	free(rows);
	if (!have_gnuplot()) {
		fprintf(stderr, "report: no gnuplot: plots skipped "
				"(apt-get install gnuplot-nox)\n");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/plots.gp", dir);
	f = fopen(path, "we");
	if (!f)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	for (int pass = 0; pass < 2; pass++)
		for (int fmt = 0; fmt < 2; fmt++) {
			const char *what = pass ? "ready" : "cdf";

			fprintf(f,
				"set terminal %s size 800,500\nset output "
				"'%s.%s'\nset key bottom right\nset grid\nset "
				"xrange [0:*]\n",
				fmt ? "svg" : "pngcairo", what,
				fmt ? "svg" : "png");
			if (pass)
				fprintf(f, "set title 'Containers up over "
					   "time'\nset xlabel 'seconds since "
					   "the run started'\nset ylabel "
					   "'containers up'\n");
			else
				fprintf(f, "set title 'Provisioning time "
					   "(CDF)'\nset xlabel 'seconds from "
					   "request to start'\nset ylabel "
					   "'fraction of containers'\n");
			fprintf(f, "plot ");
			for (j = 0; j < nk; j++)
				fprintf(f,
					"%s'plot-%s-%s.dat' using 1:2 with "
					"steps lw 2 title '%s'",
					j ? ", " : "", what, keys[j], keys[j]);
			fprintf(f, "\n");
		}
	{
		/* Per run, from raw/RUN/netdev.csv. */
		char rawdir[PATH_MAX + 16];
		struct dirent *de;
		DIR *d;

		snprintf(rawdir, sizeof(rawdir), "%s/raw", dir);
		d = opendir(rawdir);
		bad = 0;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (!plot_name(de->d_name)) {
				bad++;
				continue;
			}
			throughput(dir, de->d_name, f);
			monitor_plot(dir, de->d_name, f);
			tree_picture(dir, de->d_name);
		}
		left_out(bad, "folder(s) under raw/");
		if (d)
			closedir(d);
	}
	serve_plots(dir, f);
	trees_plot(dir, f);
	fclose(f);
	/* In the folder, whose plots.gp names its files by relative paths;
	 * its warnings go to our stderr. */
	{
		char *argv[] = {GNUPLOT, "plots.gp", NULL};

		if (procs_run_wait_in(dir, argv, NULL, e))
			return err_set(e, -EIO, "gnuplot failed on %s/plots.gp",
				       dir);
	}
	return 0;
}

/* The bounds of shared/PAPER.md, from what each container moved (bytes
 * from the registry and peers over started containers) and the scaled
 * rates: no scheme beats S/B; a registry-bound one needs N*S/R; a
 * pipelined binary tree about 2*S/B + 2*(h-1)*b/B. (The block index no
 * longer travels: each VM reads it from its metadata store.) */
static void bounds(FILE *f, const struct scenario *s,
		   const struct summary_run *runs, size_t n)
{
	struct topo_spec t;
	double B, R, b;
	size_t i;

	scenario_scaled_topology(s, &t);
	B = (double)t.vm_rate_bps / 8;
	R = (double)t.registry_rate_bps / 8;
	b = s->nimages ? (double)scenario_scaled_block_size(s, 0) : 524288;
	fprintf(f, "\n## Measured against the bounds\n\n"
		   "Per container S = bytes moved / containers started; B = "
		   "VM link, R = registry link (both scaled);\nh = "
		   "ceil(log2(N+1)); b = block. Bounds are lower bounds on "
		   "the slowest container's time.\n\n"
		   "| strategy | sweep | N | S (MB) | max s | S/B s | N*S/R s "
		   "| tree 2S/B+2(h-1)b/B s |\n|---|---|---|---|---|---|---|"
		   "---|\n");
	for (i = 0; i < n; i++) {
		const struct summary_run *r = &runs[i];
		double S =
			r->started
				? (double)(r->registry_bytes + r->peer_bytes) /
					  r->started
				: 0;
		double h = ceil(log2((double)r->started + 1));

		fprintf(f,
			"| %s | %ld | %u | %.1f | %.2f | %.2f | %.2f | %.2f "
			"|\n",
			r->strategy, r->sweep, r->started, S / 1e6, r->max_s,
			S / B, r->started * S / R,
			2 * S / B + 2 * (h - 1) * b / B);
	}
}

/* Each strategy's slowest container over faasnet's, per sweep value: the
 * paper's way of comparing (Fig. 14 at N = 128: registry 13.4x, Kraken
 * 16.3x, on-demand 5x). */
static void ratios(FILE *f, const struct summary_run *runs, size_t n)
{
	size_t i, j;
	int any = 0;

	for (i = 0; i < n; i++) {
		const struct summary_run *fa = NULL;

		if (!strcmp(runs[i].strategy, "faasnet"))
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(runs[j].strategy, "faasnet") &&
			    runs[j].sweep == runs[i].sweep)
				fa = &runs[j];
		if (!fa || fa->max_s <= 0 || runs[i].failed)
			continue;
		if (!any) {
			fprintf(f, "\n## Compared with faasnet\n\n"
				   "| strategy | sweep | slowest s | faasnet "
				   "slowest s | ratio |\n|---|---|---|---|---|"
				   "\n");
			fprintf(stderr, "\n%-11s %6s %10s\n", "vs faasnet",
				"sweep", "max ratio");
			any = 1;
		}
		fprintf(f, "| %s | %ld | %.2f | %.2f | %.1fx |\n",
			runs[i].strategy, runs[i].sweep, runs[i].max_s,
			fa->max_s, runs[i].max_s / fa->max_s);
		fprintf(stderr, "%-11s %6ld %9.1fx\n", runs[i].strategy,
			runs[i].sweep, runs[i].max_s / fa->max_s);
	}
}

/* With several functions, bytes moved per strategy and function, from
 * containers.csv: how Fig. 20 (block size against bytes moved) is read,
 * with one function per block size. */
static void per_function(FILE *f, const char *dir)
{
	struct summary_row *rows = NULL;
	char path[PATH_MAX + 32];
	struct err e = {""};
	size_t n, i, j;

	snprintf(path, sizeof(path), "%s/containers.csv", dir);
	if (summary_read_rows(path, &rows, &n, &e))
		return;
	fprintf(f, "\n## Bytes per function\n\n| strategy | function | "
		   "containers | registry MB | peers MB | MB per container "
		   "|\n|---|---|---|---|---|---|\n");
	for (i = 0; i < n; i++) {
		uint64_t reg = 0, peer = 0;
		unsigned c = 0;

		for (j = 0; j < i; j++)
			if (!strcmp(rows[j].strategy, rows[i].strategy) &&
			    !strcmp(rows[j].function, rows[i].function))
				break;
		if (j < i)
			continue; /* counted with its first row */
		for (j = i; j < n; j++)
			if (!strcmp(rows[j].strategy, rows[i].strategy) &&
			    !strcmp(rows[j].function, rows[i].function)) {
				reg += rows[j].registry_bytes;
				peer += rows[j].peer_bytes;
				c++;
			}
		fprintf(f, "| %s | %s | %u | %.2f | %.2f | %.2f |\n",
			rows[i].strategy, rows[i].function, c,
			(double)reg / 1e6, (double)peer / 1e6,
			(double)(reg + peer) / 1e6 / c);
	}
	free(rows);
}

/* The tallest function tree and how many VMs joined one, from the manager's
 * provision events of the strategy's (first) run. */
static void tree_peak(const char *dir, const char *strategy, unsigned *height,
		      unsigned *vms)
{
	char path[PATH_MAX + 64], line[1024], seen[1024][24];
	unsigned nseen = 0, h, i;
	FILE *f;

	*height = *vms = 0;
	snprintf(path, sizeof(path), "%s/raw/%s/manager.jsonl", dir, strategy);
	f = fopen(path, "re");
	if (!f) {
		snprintf(path, sizeof(path), "%s/raw/%s-r1/manager.jsonl", dir,
			 strategy);
		f = fopen(path, "re");
	}
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "\"tree_height\":"),
			   *v = strstr(line, "\"vm\":\"");
		char name[24];

		if (!strstr(line, "\"event\":\"provision\"") || !p || !v ||
		    sscanf(p, "\"tree_height\":%u", &h) != 1 ||
		    sscanf(v, "\"vm\":\"%15[^\"]", name) != 1)
			continue;
		if (h > *height)
			*height = h;
		for (i = 0; i < nseen && strcmp(seen[i], name); i++)
			;
		if (i == nseen && nseen < 1024)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
	}
	if (f)
		fclose(f);
	*vms = nseen;
}

/* A run that served requests: response times, how long each burst took to
 * absorb, and the trees it grew (Figs. 11 and 12). */
static void requests_table(FILE *f, const char *dir, const struct scenario *s,
			   const struct summary_run *runs, size_t n)
{
	size_t i;
	unsigned k, height, vms;

	fprintf(f,
		"\n## Requests\n\nEach request holds a slot for %.3f s; a "
		"request is *slow* when it waited more than half that for "
		"a slot. Slow requests at most %.3f s (two service times) "
		"apart form an episode; *recovery* is an episode's length, "
		"from its first "
		"slow arrival to its last (the paper's \"back to normal "
		"after\").\n\n"
		"| strategy | requests | served | p50 s | p99 s | max s | "
		"slow | episodes | longest recovery s | tallest tree | VMs "
		"used |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
		(double)s->serve.service_ns / 1e9,
		2 * (double)s->serve.service_ns / 1e9);
	fprintf(stderr, "\n%-11s %8s %8s %7s %7s %7s %8s %10s\n", "requests",
		"served", "slow", "p50 s", "p99 s", "max s", "episodes",
		"recovery s");
	for (i = 0; i < n; i++) {
		const struct requests_stats *q = runs[i].requests;

		if (!q)
			continue;
		fprintf(f,
			"| %s | %u | %u | %.2f | %.2f | %.2f | %u | %u | "
			"%.1f | ",
			q->strategy, q->requests, q->served, q->p50_s, q->p99_s,
			q->max_s, q->slow, q->nepisodes, q->recovery_s);
		/* Only faasnet moves data down its trees. */
		if (strcmp(q->strategy, "faasnet"))
			fprintf(f, "- | - |\n");
		else {
			tree_peak(dir, q->strategy, &height, &vms);
			fprintf(f, "%u | %u |\n", height, vms);
		}
		fprintf(stderr, "%-11s %8u %8u %7.2f %7.2f %7.2f %8u %10.1f\n",
			q->strategy, q->served, q->slow, q->p50_s, q->p99_s,
			q->max_s, q->nepisodes, q->recovery_s);
	}
	fprintf(f,
		"\nEpisodes (at most %d per strategy):\n\n| strategy | "
		"from s | to s | recovery s | slow requests | peak "
		"response s |\n|---|---|---|---|---|---|\n",
		REQUESTS_MAX_EPISODES);
	for (i = 0; i < n; i++) {
		const struct requests_stats *q = runs[i].requests;

		for (k = 0; q && k < q->nepisodes && k < REQUESTS_MAX_EPISODES;
		     k++)
			fprintf(f, "| %s | %.1f | %.1f | %.1f | %u | %.2f |\n",
				q->strategy, q->ep[k].start_s, q->ep[k].end_s,
				q->ep[k].end_s - q->ep[k].start_s,
				q->ep[k].slow, q->ep[k].peak_response_s);
	}
	fprintf(f, "\n![response time of every request](response.png)\n\n"
		   "![containers live and requests waiting](pool.png)\n\n"
		   "Data: `requests.csv` (one row per request), `pool.csv` "
		   "(each function's pool once a second).\n");
}

int report_write(const char *dir, const struct scenario *s,
		 const struct summary_run *runs, size_t n, const char *fidelity,
		 const char *note, struct err *e)
{
	char path[PATH_MAX + 32], sz[32];
	struct topo_spec t;
	size_t i;
	FILE *f;
	int ret;

	scenario_scaled_topology(s, &t);
	snprintf(path, sizeof(path), "%s/report.md", dir);
	f = fopen(path, "we");
	if (!f)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	fprintf(f, "# %s\n\n", s->name);
	if (s->description[0])
		fprintf(f, "%s\n\n", s->description);
	if (s->paper[0])
		fprintf(f, "Reproduces: %s\n\n", s->paper);
	fprintf(f,
		"- VMs: %u, VM links %s, registry link %s (scale %g: "
		"every size and rate times this, so transfer times match "
		"the unscaled setup; fixed costs such as process start "
		"and round trips do not scale)\n",
		t.vms, units_format_rate(path, sizeof(path), t.vm_rate_bps),
		units_format_rate(sz, sizeof(sz), t.registry_rate_bps),
		s->scale);
	fprintf(f, "- fidelity: **%s**%s%s\n\n", fidelity, note[0] ? ": " : "",
		note);
	/* Started beside image ready (the start-up set on the VM): what the
	 * container's own start (runtime, trace) adds to the transfer. */
	fprintf(f, "| strategy | sweep | requested | started | failed | p50 s "
		   "| p90 s | p99 s | max s | image ready p50 s | image ready "
		   "max s | registry MB | peers MB | corrupt |\n"
		   "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		   "\n");
	fprintf(stderr, "\n%-11s %6s %5s %5s %7s %7s %7s %11s %9s\n",
		"strategy", "sweep", "up", "fail", "p50 s", "p90 s", "max s",
		"registry MB", "peers MB");
	for (i = 0; i < n; i++) {
		const struct summary_run *r = &runs[i];

		fprintf(f,
			"| %s | %ld | %u | %u | %u | %.2f | %.2f | %.2f | "
			"%.2f | %.2f | %.2f | %.1f | %.1f | %u |\n",
			r->strategy, r->sweep, r->requested, r->started,
			r->failed, r->p50_s, r->p90_s, r->p99_s, r->max_s,
			r->image_ready_p50_s, r->image_ready_max_s,
			(double)r->registry_bytes / 1e6,
			(double)r->peer_bytes / 1e6, r->corrupt_blocks);
		fprintf(stderr,
			"%-11s %6ld %5u %5u %7.2f %7.2f %7.2f %11.1f "
			"%9.1f\n",
			r->strategy, r->sweep, r->started, r->failed, r->p50_s,
			r->p90_s, r->max_s, (double)r->registry_bytes / 1e6,
			(double)r->peer_bytes / 1e6);
	}
	fidelity_runs(f, runs, n);
	if (s->serve.on)
		requests_table(f, dir, s, runs, n);
	ratios(f, runs, n);
	if (s->nfunctions > 1)
		per_function(f, dir);
	bounds(f, s, runs, n);
	faults_table(f, dir);
	throughput_table(f, dir, (double)t.vm_rate_bps / 8);
	fprintf(f, "\n## Plots\n\n![provisioning time CDF](cdf.png)\n\n"
		   "![containers up over time](ready.png)\n\n"
		   "Per run, `throughput-RUN.png` (the paper's Fig. 16): the "
		   "registry's egress, and inbound and outbound of the VM "
		   "that sent the most (an inner node of a tree: about twice "
		   "its inbound, for two children) and of one that sent "
		   "little (a leaf), from `raw/RUN/netdev.csv`. Per run, "
		   "`monitor-RUN.png`: the fidelity monitor's signals "
		   "(`raw/RUN/monitor.csv`). With "
		   "Graphviz installed, `tree-RUN.png` draws each function's "
		   "tree (`raw/RUN/trees.dot`). `trees.png`: every tree's "
		   "height over time (`trees.csv`), as VMs join and leave.\n\n"
		   "Data: `containers.csv` (one row per container), "
		   "`summary.json`, `events.jsonl` (every process's "
		   "timeline), `raw/` (per run: logs, `trees.dot`).\n");
	if (fclose(f))
		return err_set(e, -EIO, "%s: write failed", path);
	ret = report_plots(dir, e);
	fprintf(stderr, "\nfidelity: %s%s%s\nresults: %s/report.md\n", fidelity,
		note[0] ? ": " : "", note, dir);
	return ret;
}

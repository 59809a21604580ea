#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fidelity.h"

/* One window of one signal, the unit episodes are made of. */
struct win {
	double from_s, to_s, value;
	int over;
	const char *subject; /* the CPU's or link's name */
};

struct rule {
	enum fidelity_signal sig;
	double threshold, min_s;
	int below; /* the signal is bad when below its threshold */
	int peak;  /* report the worst window, not the episode's mean */
};

static const struct rule rules[FIDELITY_NSIGNALS] = {
	[FIDELITY_SIG_CPU] = {FIDELITY_SIG_CPU, FIDELITY_CPU_BUSY,
			      FIDELITY_CPU_MIN_S, 0, 0},
	[FIDELITY_SIG_SOFTIRQ] = {FIDELITY_SIG_SOFTIRQ, FIDELITY_SOFTIRQ,
				  FIDELITY_SOFTIRQ_MIN_S, 0, 0},
	[FIDELITY_SIG_PSI] = {FIDELITY_SIG_PSI, FIDELITY_PSI,
			      FIDELITY_PSI_MIN_S, 0, 0},
	[FIDELITY_SIG_CANARY] = {FIDELITY_SIG_CANARY, FIDELITY_CANARY_MS,
				 FIDELITY_CANARY_MIN_S, 0, 1},
	[FIDELITY_SIG_LINK] = {FIDELITY_SIG_LINK, FIDELITY_LINK_RATIO,
			       FIDELITY_LINK_MIN_S, 1, 0},
	[FIDELITY_SIG_MANAGER_LAG] = {FIDELITY_SIG_MANAGER_LAG,
				      FIDELITY_MANAGER_LAG_MS,
				      FIDELITY_MANAGER_LAG_MIN_S, 0, 1},
};

/* Monitor windows follow each other exactly; a gap of more than half a
 * window (a lost sample, a link that went quiet) ends an episode. */
#define ADJACENT(prev, next)                                                   \
	((next)->from_s - (prev)->to_s <=                                      \
	 0.5 * ((prev)->to_s - (prev)->from_s) + 1e-6)
/* Window ends are sums of decimal fractions: compare durations with a
 * margin, so that ten 0.1 s windows make the 1 s a rule asks for. */
#define EPS 1e-6

const char *fidelity_signal_name(enum fidelity_signal s)
{
	static const char *const names[FIDELITY_NSIGNALS] = {
		"cpu", "softirq", "psi", "canary", "link", "manager_lag"};

	return s < FIDELITY_NSIGNALS ? names[s] : "?";
}

int fidelity_link_backlogged(const struct fidelity_link_sample *l)
{
	return l->backlog_from && l->backlog_to;
}

double fidelity_link_ratio(const struct fidelity_link_sample *l)
{
	double dt = l->to_s - l->from_s;

	if (!l->rate_bps || dt <= 0)
		return 0;
	return (double)l->bytes * 8 / dt / (double)l->rate_bps;
}

static void add_reason(struct fidelity_verdict *v,
		       const struct fidelity_reason *r)
{
	v->degraded = 1;
	if (v->nreasons == FIDELITY_MAX_REASONS) {
		v->dropped++;
		return;
	}
	v->reasons[v->nreasons++] = *r;
}

/* Latencies name the moment of the worst window when the episode was
 * short, stretches of load their span. */
static void describe(struct fidelity_reason *r, const char *subject,
		     double worst_s)
{
	char when[48];

	if (r->to_s - r->from_s <= 1.0 + EPS &&
	    (r->signal == FIDELITY_SIG_CANARY ||
	     r->signal == FIDELITY_SIG_MANAGER_LAG))
		snprintf(when, sizeof(when), "at %.1f s", worst_s);
	else
		snprintf(when, sizeof(when), "%.1f-%.1f s", r->from_s, r->to_s);
	switch (r->signal) {
	case FIDELITY_SIG_CPU:
		snprintf(r->text, sizeof(r->text), "%s %.0f%% busy %s", subject,
			 100 * r->value, when);
		break;
	case FIDELITY_SIG_SOFTIRQ:
		snprintf(r->text, sizeof(r->text), "%s %.0f%% in softirq %s",
			 subject, 100 * r->value, when);
		break;
	case FIDELITY_SIG_PSI:
		snprintf(r->text, sizeof(r->text),
			 "tasks waited for a CPU %.0f%% of the time %s",
			 100 * r->value, when);
		break;
	case FIDELITY_SIG_CANARY:
		snprintf(r->text, sizeof(r->text),
			 "timer canary %.0f ms late %s", r->value, when);
		break;
	case FIDELITY_SIG_LINK:
		snprintf(r->text, sizeof(r->text),
			 "%s backlogged at %.0f%% of its rate %s", subject,
			 100 * r->value, when);
		break;
	case FIDELITY_SIG_MANAGER_LAG:
		snprintf(r->text, sizeof(r->text),
			 "FT manager's event loop %.0f ms late %s", r->value,
			 when);
		break;
	default:
		r->text[0] = '\0';
	}
}

/* Finds the episodes in w[0..n) (one signal, one subject or host-wide, in
 * time order) and adds a reason for each that lasts long enough. */
static void episodes(const struct rule *ru, const struct win *w, size_t n,
		     struct fidelity_verdict *v)
{
	size_t i = 0, j, worst;

	while (i < n) {
		struct fidelity_reason r = {.signal = ru->sig,
					    .threshold = ru->threshold};
		double sum = 0, dur = 0;

		if (!w[i].over) {
			i++;
			continue;
		}
		for (j = i, worst = i; j < n && w[j].over &&
				       (j == i || ADJACENT(&w[j - 1], &w[j]));
		     j++) {
			double dt = w[j].to_s - w[j].from_s;

			sum += w[j].value * dt;
			dur += dt;
			if (ru->below ? w[j].value < w[worst].value
				      : w[j].value > w[worst].value)
				worst = j;
		}
		r.from_s = w[i].from_s;
		r.to_s = w[j - 1].to_s;
		if (r.to_s - r.from_s + EPS >= ru->min_s) {
			r.value = ru->peak || dur <= 0 ? w[worst].value
						       : sum / dur;
			describe(&r, w[worst].subject ? w[worst].subject : "",
				 w[worst].to_s);
			add_reason(v, &r);
		}
		i = j;
	}
}

static int over(const struct rule *ru, double value)
{
	return ru->below ? value < ru->threshold : value > ru->threshold;
}

static int by_link_then_time(const void *a, const void *b)
{
	const struct fidelity_link_sample *x =
		*(const struct fidelity_link_sample *const *)a;
	const struct fidelity_link_sample *y =
		*(const struct fidelity_link_sample *const *)b;
	int c = strcmp(x->link, y->link);

	if (c)
		return c;
	return (x->from_s > y->from_s) - (x->from_s < y->from_s);
}

/* Per link, its backlogged windows in time order. */
static int judge_links(const struct fidelity_input *in,
		       struct fidelity_verdict *v)
{
	const struct rule *ru = &rules[FIDELITY_SIG_LINK];
	const struct fidelity_link_sample **p = NULL;
	struct win *w = NULL;
	size_t i, j, n = 0, k;
	int ret = 0;

	if (!in->nlinks)
		return 0;
	p = calloc(in->nlinks, sizeof(*p));
	w = calloc(in->nlinks, sizeof(*w));
	if (!p || !w) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < in->nlinks; i++)
		if (fidelity_link_backlogged(&in->links[i]))
			p[n++] = &in->links[i];
	qsort(p, n, sizeof(*p), by_link_then_time);
	for (i = 0; i < n; i = j) {
		for (j = i, k = 0; j < n && !strcmp(p[j]->link, p[i]->link);
		     j++, k++) {
			w[k].from_s = p[j]->from_s;
			w[k].to_s = p[j]->to_s;
			w[k].value = fidelity_link_ratio(p[j]);
			w[k].over = over(ru, w[k].value);
			w[k].subject = p[j]->link;
		}
		episodes(ru, w, k, v);
	}
out:
	free(p);
	free(w);
	return ret;
}

int fidelity_judge(const struct fidelity_input *in, struct fidelity_verdict *v)
{
	static const enum fidelity_signal host_sigs[] = {
		FIDELITY_SIG_CPU, FIDELITY_SIG_SOFTIRQ, FIDELITY_SIG_PSI,
		FIDELITY_SIG_CANARY};
	char(*cpu_names)[16] = NULL;
	struct win *w = NULL;
	size_t i, n, s, cap;
	int ret = 0;

	memset(v, 0, sizeof(*v));
	cap = in->nhost > in->nlag ? in->nhost : in->nlag;
	w = calloc(cap ? cap : 1, sizeof(*w));
	cpu_names = calloc(in->nhost ? in->nhost : 1, sizeof(*cpu_names));
	if (!w || !cpu_names) {
		ret = -ENOMEM;
		goto out;
	}
	for (s = 0; s < sizeof(host_sigs) / sizeof(host_sigs[0]); s++) {
		const struct rule *ru = &rules[host_sigs[s]];

		for (i = 0, n = 0; i < in->nhost; i++) {
			const struct fidelity_host_sample *h = &in->host[i];
			double val;
			int cpu = -1;

			switch (ru->sig) {
			case FIDELITY_SIG_CPU:
				val = h->cpu_busy;
				cpu = h->cpu;
				break;
			case FIDELITY_SIG_SOFTIRQ:
				val = h->softirq;
				cpu = h->softirq_cpu;
				break;
			case FIDELITY_SIG_PSI:
				val = h->psi;
				break;
			default:
				val = h->canary_max_ms;
			}
			/* An unknown value (< 0) breaks an episode, as a lost
			 * sample does. */
			if (val < 0)
				continue;
			snprintf(cpu_names[n], sizeof(cpu_names[n]), "cpu%d",
				 cpu);
			w[n].from_s = h->from_s;
			w[n].to_s = h->to_s;
			w[n].value = val;
			w[n].over = over(ru, val);
			w[n].subject = cpu >= 0 ? cpu_names[n] : NULL;
			n++;
		}
		episodes(ru, w, n, v);
	}
	ret = judge_links(in, v);
	if (ret)
		goto out;
	for (i = 0; i < in->nlag; i++) {
		w[i].from_s = in->lag[i].from_s;
		w[i].to_s = in->lag[i].to_s;
		w[i].value = in->lag[i].max_ms;
		w[i].over = over(&rules[FIDELITY_SIG_MANAGER_LAG], w[i].value);
		w[i].subject = NULL;
	}
	episodes(&rules[FIDELITY_SIG_MANAGER_LAG], w, in->nlag, v);
out:
	if (ret)
		memset(v, 0, sizeof(*v));
	free(w);
	free(cpu_names);
	return ret;
}

void fidelity_merge(struct fidelity_verdict *v,
		    const struct fidelity_verdict *from, const char *prefix)
{
	unsigned i;

	for (i = 0; i < from->nreasons; i++) {
		struct fidelity_reason r = from->reasons[i];

		if (prefix)
			snprintf(r.text, sizeof(r.text), "%s%s", prefix,
				 from->reasons[i].text);
		add_reason(v, &r);
	}
	v->dropped += from->dropped;
	v->degraded |= from->degraded;
}

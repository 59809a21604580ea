#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "netmon.h"
#include "topo.h"

#define MAX_LINKS 8192

struct base {
	char name[16];
	uint64_t rx, tx;
};

struct netmon {
	FILE *f;
	struct nl_sock *sk;
	struct base *base;
	size_t nbase;
	double t_s;
};

static struct base *find(struct netmon *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nbase; i++)
		if (!strcmp(m->base[i].name, name))
			return &m->base[i];
	return NULL;
}

/* Only the hosts' cables: VMs and the registry; bridges and uplinks are
 * the fabric, not a host. */
static void sample_one(void *arg, const char *name, uint64_t rx, uint64_t tx)
{
	struct netmon *m = arg;
	struct base *b;

	if (strncmp(name, TOPO_PREFIX "vm", 7) &&
	    strcmp(name, TOPO_PREFIX "registry"))
		return;
	b = find(m, name);
	if (!b) {
		if (m->nbase == MAX_LINKS)
			return;
		b = &m->base[m->nbase++];
		snprintf(b->name, sizeof(b->name), "%s", name);
		b->rx = rx;
		b->tx = tx;
	}
	fprintf(m->f, "%.3f,%s,%llu,%llu\n", m->t_s, name + strlen(TOPO_PREFIX),
		(unsigned long long)(tx - b->tx),
		(unsigned long long)(rx - b->rx));
}

void netmon_sample(struct netmon *m, double t_s)
{
	struct err e;

	m->t_s = t_s;
	link_stats(m->sk, TOPO_PREFIX, sample_one, m, &e);
	fflush(m->f);
}

int netmon_open(const char *csv, struct netmon **out, struct err *e)
{
	struct netmon *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return err_set(e, -ENOMEM, "out of memory");
	m->base = calloc(MAX_LINKS, sizeof(*m->base));
	m->f = fopen(csv, "we");
	if (!m->base || !m->f) {
		ret = err_set(e, m->base ? -errno : -ENOMEM, "%s: %s", csv,
			      strerror(errno));
		goto fail;
	}
	fprintf(m->f, "t_s,link,in_bytes,out_bytes\n");
	m->sk = link_sock_open(e);
	if (!m->sk) {
		ret = -EIO;
		goto fail;
	}
	*out = m;
	return 0;
fail:
	link_sock_close(m->sk);
	if (m->f)
		fclose(m->f);
	free(m->base);
	free(m);
	return ret;
}

void netmon_close(struct netmon *m)
{
	if (!m)
		return;
	link_sock_close(m->sk);
	fclose(m->f);
	free(m->base);
	free(m);
}

uint64_t netmon_cable_bytes(const char *ifname, const char *which)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname,
		 which);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

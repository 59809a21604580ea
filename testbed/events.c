#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "outfile.h"

#define T_NS_HEAD "{\"t_ns\":"

/* One line of one log, in place in its mapped file. 32 bytes: a large
 * run's logs hold millions of lines, and the logs themselves stay in the
 * page cache. */
struct line {
	uint64_t t_ns;
	const char *p;
	uint32_t len; /* without its '\n' */
	uint32_t run;
	uint64_t seq; /* the order read: ties keep it, as sort -s did */
};

struct map {
	void *p;
	size_t len;
};

struct merge {
	char **runs; /* each as a JSON string, quotes and all */
	size_t nruns;
	struct map *maps;
	size_t nmaps, capmaps;
	struct line *lines;
	size_t nlines, caplines;
};

static void free_names(char **v, size_t n)
{
	while (n)
		free(v[--n]);
	free(v);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in folder fd (kept open) that do not start with '.' and end
 * with suffix, sorted. */
static int list(int fd, const char *suffix, char ***out, size_t *n)
{
	size_t len, cap = 0, sl = strlen(suffix);
	char **v = NULL, **nv;
	struct dirent *de;
	int dfd, ret = 0;
	DIR *d;

	*n = 0;
	dfd = dup(fd);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		ret = -errno;
		close(dfd);
		return ret;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < sl ||
		    strcmp(de->d_name + len - sl, suffix))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv) {
				ret = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[*n] = strdup(de->d_name);
		if (!v[*n]) {
			ret = -ENOMEM;
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (ret) {
		free_names(v, *n);
		return ret;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_name);
	*out = v;
	return 0;
}

/* name as a JSON string: '"' and '\\' escaped, control bytes as \u00XX. */
static char *json_name(const char *name)
{
	size_t o = 0, n = strlen(name);
	char *s = malloc(6 * n + 3);
	const unsigned char *p;

	if (!s)
		return NULL;
	s[o++] = '"';
	for (p = (const unsigned char *)name; *p; p++) {
		if (*p == '"' || *p == '\\') {
			s[o++] = '\\';
			s[o++] = (char)*p;
		} else if (*p < 0x20) {
			o += (size_t)snprintf(s + o, 7, "\\u%04x", *p);
		} else {
			s[o++] = (char)*p;
		}
	}
	s[o++] = '"';
	s[o] = '\0';
	return s;
}

/* The t_ns an eventlog line starts with (lib/eventlog.h); 0 for a line of
 * another shape, which then goes first. */
static uint64_t t_ns_of(const char *p, size_t len)
{
	size_t h = sizeof(T_NS_HEAD) - 1, i;
	uint64_t t = 0;

	if (len <= h || memcmp(p, T_NS_HEAD, h))
		return 0;
	for (i = h; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
		if (t > (UINT64_MAX - 9) / 10)
			return 0;
		t = t * 10 + (uint64_t)(p[i] - '0');
	}
	return t;
}

static int add_line(struct merge *m, const char *p, size_t len, uint32_t run)
{
	struct line *nv;

	if (!len)
		return 0;
	if (len > UINT32_MAX)
		return -EFBIG;
	if (m->nlines == m->caplines) {
		m->caplines = m->caplines ? 2 * m->caplines : 4096;
		nv = reallocarray(m->lines, m->caplines, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		m->lines = nv;
	}
	m->lines[m->nlines] = (struct line){.t_ns = t_ns_of(p, len),
					    .p = p,
					    .len = (uint32_t)len,
					    .run = run,
					    .seq = m->nlines};
	m->nlines++;
	return 0;
}

/* One log: mapped, its lines noted. Not a regular file (a link, a
 * fifo): left out. */
static int add_log(struct merge *m, int runfd, const char *name, uint32_t run)
{
	const char *p, *end, *nl;
	struct map *nv;
	struct stat st;
	void *addr;
	int fd, ret;

	fd = openat(runfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? 0 : -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !st.st_size) {
		close(fd);
		return 0;
	}
	addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	ret = addr == MAP_FAILED ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	if (m->nmaps == m->capmaps) {
		m->capmaps = m->capmaps ? 2 * m->capmaps : 64;
		nv = reallocarray(m->maps, m->capmaps, sizeof(*nv));
		if (!nv) {
			munmap(addr, (size_t)st.st_size);
			return -ENOMEM;
		}
		m->maps = nv;
	}
	m->maps[m->nmaps++] = (struct map){addr, (size_t)st.st_size};
	for (p = addr, end = p + st.st_size; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		ret = add_line(m, p, (size_t)(nl - p), run);
		if (ret)
			return ret;
	}
	return 0;
}

/* Every run folder under raw/ and its logs, in name order. */
static int read_runs(struct merge *m, int rawfd, const char *raw, struct err *e)
{
	char **runs = NULL, **logs = NULL;
	size_t nruns = 0, nlogs = 0, i, j;
	int runfd = -1, ret;

	ret = list(rawfd, "", &runs, &nruns);
	if (ret)
		return err_set(e, ret, "%s: %s", raw, strerror(-ret));
	m->runs = calloc(nruns ? nruns : 1, sizeof(*m->runs));
	if (!m->runs) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < nruns; i++) {
		runfd = openat(rawfd, runs[i],
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* Not a folder: no run's. */
		if (runfd < 0 && (errno == ENOTDIR || errno == ELOOP))
			continue;
		if (runfd < 0) {
			ret = err_set(e, -errno, "%s/%s: %s", raw, runs[i],
				      strerror(errno));
			goto out;
		}
		m->runs[m->nruns] = json_name(runs[i]);
		if (!m->runs[m->nruns]) {
			ret = err_set(e, -ENOMEM, "out of memory");
			goto out;
		}
		m->nruns++;
		ret = list(runfd, ".jsonl", &logs, &nlogs);
		if (ret) {
			err_set(e, ret, "%s/%s: %s", raw, runs[i],
				strerror(-ret));
			goto out;
		}
		for (j = 0; j < nlogs; j++) {
			ret = add_log(m, runfd, logs[j],
				      (uint32_t)(m->nruns - 1));
			if (ret) {
				err_set(e, ret, "%s/%s/%s: %s", raw, runs[i],
					logs[j], strerror(-ret));
				goto out;
			}
		}
		free_names(logs, nlogs);
		logs = NULL;
		nlogs = 0;
		close(runfd);
		runfd = -1;
	}
out:
	if (runfd >= 0)
		close(runfd);
	free_names(logs, nlogs);
	free_names(runs, nruns);
	return ret;
}

static int cmp_line(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* {"t_ns":... as {"run":"RUN","t_ns":...; a line of another shape as it
 * is. */
static void write_line(FILE *f, const struct merge *m, const struct line *l)
{
	if (l->p[0] == '{') {
		fprintf(f, "{\"run\":%s", m->runs[l->run]);
		if (l->len > 1 && l->p[1] != '}')
			fputc(',', f);
		fwrite(l->p + 1, 1, l->len - 1, f);
	} else {
		fwrite(l->p, 1, l->len, f);
	}
	fputc('\n', f);
}

static int write_events(const struct merge *m, const char *path, struct err *e)
{
	struct outfile of;
	size_t i;
	FILE *f;
	int fd, ret;

	ret = outfile_open(&of, path, 0666, e);
	if (ret)
		return ret;
	fd = dup(of.fd);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		ret = err_set(e, -errno, "%s: %s", of.tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		outfile_abort(&of);
		return ret;
	}
	for (i = 0; i < m->nlines; i++)
		write_line(f, m, &m->lines[i]);
	if (fflush(f) || ferror(f))
		ret = err_set(e, -EIO, "%s: write failed", of.tmp);
	if (fclose(f) && !ret)
		ret = err_set(e, -EIO, "%s: write failed", of.tmp);
	if (ret) {
		outfile_abort(&of);
		return ret;
	}
	return outfile_commit(&of, e);
}

int events_merge(const char *dir, struct err *e)
{
	char raw[PATH_MAX], path[PATH_MAX];
	struct merge m = {0};
	size_t i;
	int rawfd, n, ret;

	n = snprintf(raw, sizeof(raw), "%s/raw", dir);
	if (n < 0 || (size_t)n >= sizeof(raw) ||
	    (size_t)snprintf(path, sizeof(path), "%s/events.jsonl", dir) >=
		    sizeof(path))
		return err_set(e, -ENAMETOOLONG, "%s: path too long", dir);
	rawfd = open(raw, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rawfd < 0)
		return err_set(e, -errno, "%s: %s", raw, strerror(errno));
	ret = read_runs(&m, rawfd, raw, e);
	close(rawfd);
	if (!ret) {
		if (m.nlines)
			qsort(m.lines, m.nlines, sizeof(*m.lines), cmp_line);
		ret = write_events(&m, path, e);
	}
	for (i = 0; i < m.nmaps; i++)
		munmap(m.maps[i].p, m.maps[i].len);
	free(m.maps);
	free(m.lines);
	free_names(m.runs, m.nruns);
	return ret;
}

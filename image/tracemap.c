#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracemap.h"

/* ---- 1. strace text to file reads ---- */

/* A descriptor table: a process's, shared by its threads (clone with
 * CLONE_FILES), copied by fork. A read's position is its descriptor's,
 * followed from open, lseek and earlier reads; a read whose -y path is not
 * what the table holds for its descriptor (opened unseen) starts at 0. */
struct fd_slot {
	char *path; /* in the image; NULL: not open, or not the image's */
	uint64_t pos;
};

struct fdtab {
	struct fd_slot *fds;
	size_t nfds;
	int refs;
};

struct pid_tab {
	long pid;
	struct fdtab *tab;
};

/* A call strace split around another process's lines. */
struct pending {
	long pid;
	int64_t t_us;
	char *text;
};

struct tracemap_rec {
	char *root;
	size_t rootlen;
	int started;
	long root_pid;
	int64_t t_start, t_end;
	int exit_status;
	struct pid_tab *pids;
	size_t npids;
	struct pending *pend;
	size_t npend;
	struct tracemap_fread *reads;
	size_t nreads, cap;
	size_t ignored;
};

int tracemap_rec_new(const char *root, struct tracemap_rec **out)
{
	struct tracemap_rec *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->root = strdup(root);
	if (!r->root) {
		free(r);
		return -ENOMEM;
	}
	r->rootlen = strlen(root);
	while (r->rootlen > 1 && r->root[r->rootlen - 1] == '/')
		r->root[--r->rootlen] = '\0';
	r->t_end = -1;
	r->exit_status = -1;
	*out = r;
	return 0;
}

static void tab_unref(struct fdtab *t)
{
	size_t i;

	if (!t || --t->refs > 0)
		return;
	for (i = 0; i < t->nfds; i++)
		free(t->fds[i].path);
	free(t->fds);
	free(t);
}

static struct pid_tab *pid_find(struct tracemap_rec *r, long pid)
{
	size_t i;

	for (i = 0; i < r->npids; i++)
		if (r->pids[i].pid == pid)
			return &r->pids[i];
	return NULL;
}

static void drop_pid(struct tracemap_rec *r, long pid)
{
	struct pid_tab *p = pid_find(r, pid);

	if (!p)
		return;
	tab_unref(p->tab);
	*p = r->pids[--r->npids];
}

/* pid's table: tab (shared) when given, else a new empty one when pid
 * has none. */
static struct fdtab *pid_tab(struct tracemap_rec *r, long pid,
			     struct fdtab *tab)
{
	struct pid_tab *p = pid_find(r, pid), *np;

	if (p && !tab)
		return p->tab;
	if (!tab) {
		tab = calloc(1, sizeof(*tab));
		if (!tab)
			return NULL;
	}
	tab->refs++;
	if (p) {
		tab_unref(p->tab);
		p->tab = tab;
		return tab;
	}
	np = realloc(r->pids, (r->npids + 1) * sizeof(*np));
	if (!np) {
		tab_unref(tab);
		return NULL;
	}
	r->pids = np;
	r->pids[r->npids].pid = pid;
	r->pids[r->npids++].tab = tab;
	return tab;
}

static struct fdtab *tab_copy(const struct fdtab *t)
{
	struct fdtab *c = calloc(1, sizeof(*c));
	size_t i;

	if (!c)
		return NULL;
	c->fds = calloc(t->nfds ? t->nfds : 1, sizeof(*c->fds));
	if (!c->fds) {
		free(c);
		return NULL;
	}
	c->nfds = t->nfds;
	for (i = 0; i < t->nfds; i++) {
		c->fds[i].pos = t->fds[i].pos;
		if (t->fds[i].path)
			c->fds[i].path = strdup(t->fds[i].path);
	}
	return c;
}

void tracemap_rec_free(struct tracemap_rec *r)
{
	size_t i;

	if (!r)
		return;
	while (r->npids)
		drop_pid(r, r->pids[0].pid);
	for (i = 0; i < r->npend; i++)
		free(r->pend[i].text);
	for (i = 0; i < r->nreads; i++)
		free(r->reads[i].path);
	free(r->pids);
	free(r->pend);
	free(r->reads);
	free(r->root);
	free(r);
}

void tracemap_rec_result(const struct tracemap_rec *r,
			 struct tracemap_result *res)
{
	res->reads = r->reads;
	res->nreads = r->nreads;
	res->t_start_us = r->started ? r->t_start : -1;
	res->t_end_us = r->t_end;
	res->exit_status = r->exit_status;
	res->ignored = r->ignored;
}

/* strace quotes what it prints of a path: \\, \", \n, \t, \xHH, \ooo. */
static char *unescape(const char *s, size_t n)
{
	char *o = malloc(n + 1), *d = o;
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			*d++ = s[i];
			continue;
		}
		i++;
		if (s[i] == 'x' && i + 2 < n + 1) {
			char hex[3] = {s[i + 1], i + 2 < n ? s[i + 2] : 0, 0};

			*d++ = (char)strtol(hex, NULL, 16);
			i += 2;
		} else if (s[i] >= '0' && s[i] <= '7') {
			int v = 0, k;

			for (k = 0;
			     k < 3 && i < n && s[i] >= '0' && s[i] <= '7';
			     k++, i++)
				v = v * 8 + (s[i] - '0');
			i--;
			*d++ = (char)v;
		} else {
			*d++ = s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i];
		}
	}
	*d = '\0';
	return o;
}

/* Splits a call's arguments at the top level: commas inside quotes,
 * brackets, braces or -y's <path> do not count. At most max; returns how
 * many, each [start, end) in args. */
static size_t split_args(const char *a, size_t n, const char **start,
			 size_t *alen, size_t max)
{
	size_t i, k = 0, from = 0;
	int depth = 0, quote = 0, angle = 0;

	if (!n)
		return 0;
	for (i = 0; i <= n; i++) {
		char c = i < n ? a[i] : ',';

		if (quote) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quote = 0;
			continue;
		}
		if (angle) {
			/* A path's '>' is its end only before , ) or the end.
			 */
			if (c == '>' && (i + 1 >= n || a[i + 1] == ','))
				angle = 0;
			continue;
		}
		if (c == '"')
			quote = 1;
		else if (c == '<' && i > 0 && a[i - 1] != ' ')
			angle = 1;
		else if (c == '(' || c == '[' || c == '{')
			depth++;
		else if (c == ')' || c == ']' || c == '}')
			depth--;
		else if (c == ',' && !depth && k < max) {
			while (from < i && a[from] == ' ')
				from++;
			start[k] = a + from;
			alen[k++] = i - from;
			from = i + 1;
		}
	}
	return k;
}

/* "3</path>" -> 3 and the path (malloc'd, or NULL when undecorated). */
static long fd_arg(const char *s, size_t n, char **path)
{
	char *end;
	long fd = strtol(s, &end, 10);
	const char *lt;
	size_t plen;

	*path = NULL;
	if (end == s)
		return -1;
	lt = memchr(s, '<', n);
	if (lt && n >= 2 && s[n - 1] == '>') {
		plen = (size_t)(s + n - 1 - (lt + 1));
		/* A file removed since it was opened. */
		if (plen > 10 && !memcmp(lt + 1 + plen - 10, " (deleted)", 10))
			plen -= 10;
		*path = unescape(lt + 1, plen);
	}
	return fd;
}

/* A host path under root as a path in the image, or NULL when it is not
 * the image's (outside root, or the kernel's /proc, /dev, /sys mounted
 * into it). */
static const char *in_image(const struct tracemap_rec *r, const char *p)
{
	const char *rel;

	if (!p || strncmp(p, r->root, r->rootlen) ||
	    (p[r->rootlen] != '/' && p[r->rootlen]))
		return NULL;
	rel = p[r->rootlen] ? p + r->rootlen : "/";
	if (!strncmp(rel, "/proc/", 6) || !strncmp(rel, "/dev/", 5) ||
	    !strncmp(rel, "/sys/", 5) || !strcmp(rel, "/proc") ||
	    !strcmp(rel, "/dev") || !strcmp(rel, "/sys"))
		return NULL;
	return rel;
}

static struct fd_slot *slot(struct tracemap_rec *r, long pid, long fd)
{
	struct fdtab *t = pid_tab(r, pid, NULL);

	if (!t || fd < 0 || fd >= 1 << 20)
		return NULL;
	if ((size_t)fd >= t->nfds) {
		size_t n = (size_t)fd + 64;
		struct fd_slot *s = realloc(t->fds, n * sizeof(*s));

		if (!s)
			return NULL;
		memset(s + t->nfds, 0, (n - t->nfds) * sizeof(*s));
		t->fds = s;
		t->nfds = n;
	}
	return &t->fds[fd];
}

static int emit(struct tracemap_rec *r, const char *path, uint64_t off,
		uint64_t len, int64_t t)
{
	struct tracemap_fread *fr;

	if (r->nreads == r->cap) {
		size_t n = r->cap ? 2 * r->cap : 256;

		fr = realloc(r->reads, n * sizeof(*fr));
		if (!fr)
			return -ENOMEM;
		r->reads = fr;
		r->cap = n;
	}
	fr = &r->reads[r->nreads];
	fr->path = strdup(path);
	if (!fr->path)
		return -ENOMEM;
	fr->off = off;
	fr->len = len;
	fr->t_us = t;
	r->nreads++;
	return 0;
}

static int64_t parse_ret(const char *s, int *ok)
{
	char *end;
	long long v;

	if (*s == '?') {
		*ok = 0;
		return -1;
	}
	v = strtoll(s, &end, 0);
	*ok = end != s;
	return v;
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 0);
}

/* One whole call: NAME(ARGS) = RET ... */
static int call(struct tracemap_rec *r, long pid, int64_t t, const char *c,
		struct err *e)
{
	const char *lp = strchr(c, '('), *eq, *args[8], *p;
	char name[32], *path = NULL, *rpath = NULL;
	size_t alen[8], na, nlen, i;
	int64_t ret;
	int ok, rc = 0;
	struct fd_slot *sl;
	long fd;

	if (!lp || (size_t)(lp - c) >= sizeof(name))
		return 0;
	nlen = (size_t)(lp - c);
	memcpy(name, c, nlen);
	name[nlen] = '\0';
	/* The last ") = ": -s 0 prints no buffer that could hold one. */
	eq = NULL;
	for (p = strstr(lp, ") = "); p; p = strstr(p + 1, ") = "))
		eq = p;
	if (!eq)
		return 0;
	ret = parse_ret(eq + 4, &ok);
	na = split_args(lp + 1, (size_t)(eq - lp - 1), args, alen, 8);
	if (!strcmp(name, "chroot")) {
		if (!r->started && ok && ret == 0) {
			r->started = 1;
			r->root_pid = pid;
			r->t_start = t;
		}
		return 0;
	}
	if (!r->started || !ok || ret < 0)
		return 0;
	if (!strcmp(name, "clone") || !strcmp(name, "clone3") ||
	    !strcmp(name, "fork") || !strcmp(name, "vfork")) {
		struct fdtab *pt = pid_tab(r, pid, NULL), *ct;

		if (!pt || ret == 0)
			return pt ? 0 : -ENOMEM;
		/* A thread shares the table; a process gets a copy. */
		if (strstr(lp, "CLONE_FILES"))
			return pid_tab(r, ret, pt) ? 0 : -ENOMEM;
		ct = tab_copy(pt);
		/* On failure pid_tab frees the copy. */
		return ct && pid_tab(r, ret, ct) ? 0 : -ENOMEM;
	}
	if (!strcmp(name, "execve") || !strcmp(name, "execveat")) {
		/* The kernel maps the program itself: read whole
		 * (docs/trace.md). */
		i = name[6] == 'a' ? 1 : 0;
		if (na <= i || alen[i] < 2 || args[i][0] != '"')
			return 0;
		path = unescape(args[i] + 1, alen[i] - 2);
		if (!path)
			return -ENOMEM;
		if (path[0] == '/')
			rc = emit(r, path, 0, UINT64_MAX, t);
		free(path);
		return rc;
	}
	if (!strcmp(name, "openat") || !strcmp(name, "open") ||
	    !strcmp(name, "openat2") || !strcmp(name, "creat")) {
		fd = fd_arg(eq + 4, strlen(eq + 4), &rpath);
		sl = slot(r, pid, fd);
		if (sl) {
			const char *ip = in_image(r, rpath);

			free(sl->path);
			sl->path = ip ? strdup(ip) : NULL;
			sl->pos = 0;
		}
		free(rpath);
		return 0;
	}
	if (!strcmp(name, "close")) {
		if (na < 1)
			return 0;
		fd = fd_arg(args[0], alen[0], &path);
		free(path);
		sl = slot(r, pid, fd);
		if (sl) {
			free(sl->path);
			sl->path = NULL;
		}
		return 0;
	}
	if (!strcmp(name, "read") || !strcmp(name, "readv") ||
	    !strcmp(name, "lseek") || !strcmp(name, "pread64") ||
	    !strcmp(name, "preadv") || !strcmp(name, "preadv2") ||
	    !strcmp(name, "mmap")) {
		const char *ip;
		int is_mmap = name[0] == 'm', is_pread = name[0] == 'p';
		size_t fa = is_mmap ? 4 : 0;

		if (na < (is_mmap ? 6 : is_pread ? 4 : 1))
			return err_set(e, -EBADMSG,
				       "%s: %zu arguments, expected more", name,
				       na);
		fd = fd_arg(args[fa], alen[fa], &path);
		if (fd < 0) { /* anonymous memory */
			free(path);
			return 0;
		}
		ip = in_image(r, path);
		sl = slot(r, pid, fd);
		if (!ip) {
			if (path &&
			    (is_mmap || (ret > 0 && strcmp(name, "lseek"))))
				r->ignored++;
			free(path);
			return 0;
		}
		if (sl && (!sl->path || strcmp(sl->path, ip))) {
			free(sl->path);
			sl->path = strdup(ip);
			sl->pos = 0;
		}
		if (!strcmp(name, "lseek")) {
			if (sl)
				sl->pos = (uint64_t)ret;
		} else if (is_mmap) {
			rc = emit(r, ip, num(args[5]), num(args[1]), t);
		} else if (is_pread) {
			if (ret > 0)
				rc = emit(r, ip, num(args[3]), (uint64_t)ret,
					  t);
		} else if (ret > 0) {
			rc = emit(r, ip, sl ? sl->pos : 0, (uint64_t)ret, t);
			if (sl)
				sl->pos += (uint64_t)ret;
		}
		free(path);
		return rc;
	}
	return 0;
}

/* "1716212345.123456" -> microseconds. Digits only on both sides (strtoll
 * would take blanks and signs), and seconds that fit in 64 bits of
 * microseconds. */
static int parse_time(const char *s, int64_t *t, const char **end)
{
	char *e1, *e2;
	long long sec, us;

	if (*s < '0' || *s > '9')
		return -1;
	sec = strtoll(s, &e1, 10);
	if (*e1 != '.' || sec > (INT64_MAX - 999999) / 1000000 ||
	    strspn(e1 + 1, "0123456789") != 6)
		return -1;
	us = strtoll(e1 + 1, &e2, 10);
	*t = sec * 1000000 + us;
	*end = e2;
	return 0;
}

static struct pending *pending_of(struct tracemap_rec *r, long pid)
{
	size_t i;

	for (i = 0; i < r->npend; i++)
		if (r->pend[i].pid == pid)
			return &r->pend[i];
	return NULL;
}

int tracemap_rec_line(struct tracemap_rec *r, const char *line, struct err *e)
{
	const char *p = line, *body;
	struct pending *pd;
	char *full = NULL, *nl;
	size_t n;
	int64_t t;
	long pid;
	int ret;

	/* With -f and -o, every line starts with the pid. */
	pid = strtol(p, (char **)&body, 10);
	if (body == p || *body != ' ')
		return err_set(
			e, -EBADMSG,
			"expected 'PID SECONDS.MICROS call', got \"%.40s\"",
			line);
	while (*body == ' ')
		body++;
	if (parse_time(body, &t, &body))
		return err_set(e, -EBADMSG,
			       "expected a time like 1716212345.123456 (strace "
			       "-ttt), got \"%.40s\"",
			       line);
	while (*body == ' ')
		body++;
	n = strlen(body);
	while (n && (body[n - 1] == '\n' || body[n - 1] == '\r'))
		n--;
	if (!strncmp(body, "+++ exited with ", 16) ||
	    !strncmp(body, "+++ killed by ", 14)) {
		if (r->started && pid == r->root_pid) {
			r->t_end = t;
			r->exit_status = body[4] == 'e' ? atoi(body + 16) : -1;
		}
		drop_pid(r, pid);
		return 0;
	}
	if (!strncmp(body, "<... ", 5)) {
		const char *rs = strstr(body, " resumed>");

		pd = pending_of(r, pid);
		if (!rs || !pd)
			return 0; /* its start was before we looked */
		rs += 9;
		n -= (size_t)(rs - body);
		full = malloc(strlen(pd->text) + n + 1);
		if (!full)
			return -ENOMEM;
		memcpy(full, pd->text, strlen(pd->text));
		memcpy(full + strlen(pd->text), rs, n);
		full[strlen(pd->text) + n] = '\0';
		t = pd->t_us;
		free(pd->text);
		*pd = r->pend[--r->npend];
	} else {
		full = strndup(body, n);
		if (!full)
			return -ENOMEM;
		nl = strstr(full, " <unfinished ...>");
		if (nl) {
			struct pending *np;

			*nl = '\0';
			pd = pending_of(r, pid);
			if (pd) { /* never resumed: a new call replaces it */
				free(pd->text);
			} else {
				np = realloc(r->pend,
					     (r->npend + 1) * sizeof(*np));
				if (!np) {
					free(full);
					return -ENOMEM;
				}
				r->pend = np;
				pd = &r->pend[r->npend++];
			}
			pd->pid = pid;
			pd->t_us = t;
			pd->text = full;
			return 0;
		}
	}
	ret = call(r, pid, t, full, e);
	free(full);
	return ret;
}

/* ---- 2. a layer's files ---- */

enum fkind { F_REG, F_SYMLINK, F_HARDLINK, F_OTHER };

struct tfile {
	char *path; /* normalized: "usr/bin/x", "" the root */
	char *target;
	enum fkind kind;
	uint64_t data_off, size;
	size_t seq;
};

struct tracemap_files {
	struct tfile *f;
	size_t n, cap;
	int sorted;
};

int tracemap_files_new(struct tracemap_files **f)
{
	*f = calloc(1, sizeof(**f));
	return *f ? 0 : -ENOMEM;
}

void tracemap_files_free(struct tracemap_files *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->f[i].path);
		free(f->f[i].target);
	}
	free(f->f);
	free(f);
}

/* "./usr//bin/x/" and "/usr/bin/x" -> "usr/bin/x". */
static char *normalize(const char *p)
{
	char *o = malloc(strlen(p) + 1), *d = o;

	if (!o)
		return NULL;
	while (*p) {
		while (*p == '/')
			p++;
		if (p[0] == '.' && (p[1] == '/' || !p[1])) {
			p++;
			continue;
		}
		if (!*p)
			break;
		if (d != o)
			*d++ = '/';
		while (*p && *p != '/')
			*d++ = *p++;
	}
	*d = '\0';
	return o;
}

int tracemap_files_add(struct tracemap_files *f, const struct tarscan_entry *en)
{
	struct tfile *t;

	if (f->n == f->cap) {
		size_t n = f->cap ? 2 * f->cap : 1024;

		t = realloc(f->f, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		f->f = t;
		f->cap = n;
	}
	t = &f->f[f->n];
	memset(t, 0, sizeof(*t));
	t->path = normalize(en->name);
	t->kind = en->type == TARSCAN_REG	 ? F_REG
		  : en->type == TARSCAN_SYMLINK	 ? F_SYMLINK
		  : en->type == TARSCAN_HARDLINK ? F_HARDLINK
						 : F_OTHER;
	if (t->kind == F_SYMLINK)
		t->target = strdup(en->linkname);
	else if (t->kind == F_HARDLINK) /* a path in the archive */
		t->target = normalize(en->linkname);
	if (!t->path ||
	    ((t->kind == F_SYMLINK || t->kind == F_HARDLINK) && !t->target)) {
		free(t->path);
		free(t->target);
		return -ENOMEM;
	}
	t->data_off = en->data_off;
	t->size = en->size;
	t->seq = f->n++;
	f->sorted = 0;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	const struct tfile *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The last entry of path, as unpacking leaves it. */
static const struct tfile *find(struct tracemap_files *f, const char *path)
{
	size_t lo = 0, hi = f->n;

	/* An empty layer has no array to sort (qsort's is never NULL). */
	if (!f->n)
		return NULL;
	if (!f->sorted) {
		qsort(f->f, f->n, sizeof(*f->f), by_path);
		f->sorted = 1;
	}
	/* The first entry greater than path, then one back. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(f->f[mid].path, path) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && !strcmp(f->f[lo - 1].path, path) ? &f->f[lo - 1] : NULL;
}

#define MAX_LINKS 40 /* the kernel's limit on links followed */
#define PATH_CAP  8192

/* Resolves path component by component inside the image's root; *out is
 * the entry it names in the end (links followed, the last one too). */
static int resolve(struct tracemap_files *f, const char *path,
		   const struct tfile **out)
{
	char *todo = malloc(PATH_CAP), *cur = malloc(PATH_CAP), *tmp;
	const struct tfile *t = NULL;
	int links = 0, ret = 0;
	size_t clen = 0;

	if (!todo || !cur) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(todo, PATH_CAP, "%s", path);
	cur[0] = '\0';
	for (;;) {
		char *s = todo, *comp;
		size_t n;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		comp = s;
		while (*s && *s != '/')
			s++;
		n = (size_t)(s - comp);
		if (n == 1 && comp[0] == '.') {
			memmove(todo, s, strlen(s) + 1);
			continue;
		}
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			char *sl = strrchr(cur, '/');

			clen = sl ? (size_t)(sl - cur) : 0;
			cur[clen] = '\0';
			memmove(todo, s, strlen(s) + 1);
			continue;
		}
		if (clen + 1 + n + 1 > PATH_CAP) {
			ret = -ENAMETOOLONG;
			goto out;
		}
		if (clen)
			cur[clen++] = '/';
		memcpy(cur + clen, comp, n);
		clen += n;
		cur[clen] = '\0';
		memmove(todo, s, strlen(s) + 1);
		t = find(f, cur);
		if (t && t->kind == F_SYMLINK) {
			if (++links > MAX_LINKS) {
				ret = -ELOOP;
				goto out;
			}
			tmp = malloc(PATH_CAP);
			if (!tmp) {
				ret = -ENOMEM;
				goto out;
			}
			/* The rest of the path goes after the link's target,
			 * which is relative to the link's folder. */
			{
				char *sl = strrchr(cur, '/');

				clen = t->target[0] == '/' ? 0
				       : sl		   ? (size_t)(sl - cur)
							   : 0;
			}
			if (snprintf(tmp, PATH_CAP, "%s/%s", t->target, todo) >=
			    PATH_CAP) {
				free(tmp);
				ret = -ENAMETOOLONG;
				goto out;
			}
			cur[clen] = '\0';
			free(todo);
			todo = tmp;
		}
	}
	t = find(f, cur);
	if (t && t->kind == F_HARDLINK)
		t = find(f, t->target);
	if (!t || t->kind != F_REG)
		ret = -ENOENT;
	*out = t;
out:
	free(todo);
	free(cur);
	return ret;
}

int tracemap_files_lookup(struct tracemap_files *f, const char *path,
			  uint64_t *data_off, uint64_t *size)
{
	const struct tfile *t = NULL;
	int ret = resolve(f, path, &t);

	if (ret)
		return ret;
	*data_off = t->data_off;
	*size = t->size;
	return 0;
}

/* ---- 3. file reads to trace entries ---- */

struct span {
	uint64_t a, b;
};

static int by_start(const void *x, const void *y)
{
	const struct span *a = x, *b = y;

	return a->a < b->a ? -1 : a->a > b->a;
}

static uint32_t gap(int64_t from, int64_t to, struct tracemap_stats *st)
{
	int64_t d = to > from ? to - from : 0;

	if (d > (int64_t)BLOCKIMG_MAX_GAP_US) {
		st->capped++;
		d = BLOCKIMG_MAX_GAP_US;
	}
	st->compute_us += (uint64_t)d;
	return (uint32_t)d;
}

int tracemap_build(const struct tracemap_result *res, struct tracemap_files *f,
		   struct blockimg_read **trace, uint32_t *ntrace,
		   struct tracemap_stats *st, struct err *e)
{
	struct blockimg_read *tr = NULL, *ntr;
	struct span *sp = NULL;
	uint64_t *seen = NULL; /* data offsets of the files read */
	size_t n = 0, cap = 0, nseen = 0, i, j;
	int64_t last = res->t_start_us;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	*trace = NULL;
	*ntrace = 0;
	sp = calloc(res->nreads ? res->nreads : 1, sizeof(*sp));
	seen = calloc(res->nreads ? res->nreads : 1, sizeof(*seen));
	if (!sp || !seen) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < res->nreads; i++) {
		const struct tracemap_fread *r = &res->reads[i];
		uint64_t doff, size, end, off;
		int lr = tracemap_files_lookup(f, r->path, &doff, &size);

		if (lr == -ENOMEM) {
			ret = err_set(e, lr, "out of memory");
			goto out;
		}
		if (lr) {
			st->not_in_layer++;
			continue;
		}
		if (r->off >= size)
			continue;
		end = r->len > size - r->off ? size : r->off + r->len;
		for (j = 0; j < nseen && seen[j] != doff; j++)
			;
		if (j == nseen) {
			seen[nseen++] = doff;
			st->files++;
		}
		sp[i].a = doff + r->off;
		sp[i].b = doff + end;
		st->bytes_total += end - r->off;
		/* A read longer than a trace entry holds (a mapped file of
		 * 4 GiB and more) becomes several. */
		for (off = r->off; off < end;) {
			uint64_t len =
				end - off > UINT32_MAX ? UINT32_MAX : end - off;

			if (n + 1 >= BLOCKIMG_MAX_TRACE) {
				ret = err_set(e, -E2BIG,
					      "more than %u reads: longer than "
					      "a trace may be",
					      BLOCKIMG_MAX_TRACE - 1);
				goto out;
			}
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				ntr = realloc(tr, cap * sizeof(*tr));
				if (!ntr) {
					ret = err_set(e, -ENOMEM,
						      "out of memory");
					goto out;
				}
				tr = ntr;
			}
			tr[n].offset = doff + off;
			tr[n].len = (uint32_t)len;
			tr[n].gap_us =
				off == r->off ? gap(last, r->t_us, st) : 0;
			n++;
			off += len;
		}
		last = r->t_us > last ? r->t_us : last;
	}
	if (!n) {
		ret = err_set(e, -ENODATA,
			      "the command read nothing of the layer (%zu "
			      "reads, %zu of files the layer does not have)",
			      res->nreads, st->not_in_layer);
		goto out;
	}
	/* The compute after the last read, until the command ended. */
	ntr = realloc(tr, (n + 1) * sizeof(*tr));
	if (!ntr) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	tr = ntr;
	tr[n].offset = 0;
	tr[n].len = 0;
	tr[n].gap_us = gap(last, res->t_end_us >= 0 ? res->t_end_us : last, st);
	n++;
	/* Distinct bytes: the spans merged. */
	qsort(sp, res->nreads, sizeof(*sp), by_start);
	{
		uint64_t a = 0, b = 0;

		for (i = 0; i < res->nreads; i++) {
			if (sp[i].a == sp[i].b)
				continue;
			if (sp[i].a > b) {
				st->bytes += b - a;
				a = sp[i].a;
				b = sp[i].b;
			} else if (sp[i].b > b) {
				b = sp[i].b;
			}
		}
		st->bytes += b - a;
	}
	*trace = tr;
	*ntrace = (uint32_t)n;
	tr = NULL;
out:
	free(tr);
	free(sp);
	free(seen);
	return ret;
}

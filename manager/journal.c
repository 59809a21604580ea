#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

/* The first line: a file that does not start with it is not read (a
 * wrong --journal must not become trees). */
#define HEADER	   "# faasnet-manager journal 1\n"
#define LINE_MAX_B 4096

/* A line is the op's word and its fields, in this order, one space
 * apart: F fn, V vm, C container, I id, N count, A addr, P port, S
 * session, T t_ns, M mgr_ns (decimal), s the name (the rest of the line,
 * so it comes last). Text rather than binary: a person reading a run's
 * raw folder can follow what the manager did, and grep it. */
static const struct {
	const char *word;
	const char *fields;
} ops[JOURNAL_OP_MAX] = {
	[JOURNAL_FUNCTION] = {"function", "Fs"},
	[JOURNAL_VM] = {"vm", "VAPTs"},
	[JOURNAL_DOWN] = {"down", "V"},
	[JOURNAL_DISTRUST] = {"distrust", "V"},
	[JOURNAL_INSERT] = {"insert", "FV"},
	[JOURNAL_DELETE] = {"delete", "FV"},
	[JOURNAL_PLACE] = {"place", "CFV"},
	[JOURNAL_START] = {"start", "CTM"},
	[JOURNAL_RELEASE] = {"release", "C"},
	[JOURNAL_FAIL] = {"fail", "C"},
	[JOURNAL_LOST] = {"lost", "C"},
	[JOURNAL_INVOKE] = {"invoke", "SIC"},
	[JOURNAL_INVOKED] = {"invoked", "SICN"},
};

struct journal {
	char *path;
	int fd;
	char *text; /* what journal_open read, until journal_replay */
	size_t len;
};

/* Where each number field lives in a record, and how wide it is. */
static const struct number {
	char f;
	size_t off;
	unsigned size; /* 2, 4 or 8 bytes */
} numbers[] = {
	{'F', offsetof(struct journal_rec, fn), 4},
	{'V', offsetof(struct journal_rec, vm), 4},
	{'C', offsetof(struct journal_rec, container), 4},
	{'I', offsetof(struct journal_rec, id), 4},
	{'N', offsetof(struct journal_rec, count), 4},
	{'A', offsetof(struct journal_rec, addr), 4},
	{'P', offsetof(struct journal_rec, port), 2},
	{'S', offsetof(struct journal_rec, session), 8},
	{'T', offsetof(struct journal_rec, t_ns), 8},
	{'M', offsetof(struct journal_rec, mgr_ns), 8},
};

static const struct number *number_of(char f)
{
	size_t i;

	for (i = 0; numbers[i].f != f; i++)
		;
	return &numbers[i];
}

static uint64_t get_field(const struct journal_rec *r, char f)
{
	const struct number *n = number_of(f);
	const char *p = (const char *)r + n->off;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (n->size) {
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

static uint64_t field_max(char f)
{
	unsigned size = number_of(f)->size;

	return size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

/* v is at most field_max(f). */
static void set_field(struct journal_rec *r, char f, uint64_t v)
{
	const struct number *n = number_of(f);
	char *p = (char *)r + n->off;
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;

	if (n->size == 2)
		memcpy(p, &v16, 2);
	else if (n->size == 4)
		memcpy(p, &v32, 4);
	else
		memcpy(p, &v, 8);
}

/* Names go last and run to the line's end: only a control character (a
 * newline above all) could break the line. */
static int name_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int format(const struct journal_rec *r, char *buf, size_t cap,
		  struct err *e)
{
	const char *f;
	size_t n;
	int k;

	if (r->op >= JOURNAL_OP_MAX)
		return err_set(e, -EINVAL, "journal: unknown record %d", r->op);
	k = snprintf(buf, cap, "%s", ops[r->op].word);
	n = (size_t)k;
	for (f = ops[r->op].fields; *f && n < cap; f++) {
		if (*f == 's') {
			if (!name_ok(r->name))
				return err_set(e, -EINVAL,
					       "journal: %s: a name with a "
					       "control character, or none",
					       ops[r->op].word);
			k = snprintf(buf + n, cap - n, " %s", r->name);
		} else {
			k = snprintf(buf + n, cap - n, " %" PRIu64,
				     get_field(r, *f));
		}
		n += (size_t)k;
	}
	if (n + 1 >= cap)
		return err_set(e, -ENAMETOOLONG,
			       "journal: a %s line over %zu bytes",
			       ops[r->op].word, cap);
	buf[n++] = '\n';
	return (int)n;
}

/* Writes all of buf, or fails: a short write to a file (a full disk) is
 * an error, not something to finish later. */
static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -ENOSPC;
}

int journal_append(struct journal *j, const struct journal_rec *r,
		   struct err *e)
{
	char buf[LINE_MAX_B];
	int n, ret;

	n = format(r, buf, sizeof(buf), e);
	if (n < 0)
		return n;
	ret = write_all(j->fd, buf, (size_t)n);
	if (ret)
		return err_set(e, ret, "%s: %s", j->path, strerror(-ret));
	return 0;
}

static int read_all(int fd, char **text, size_t *len)
{
	struct stat st;
	size_t have = 0;
	ssize_t n;
	char *buf;

	if (fstat(fd, &st))
		return -errno;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (have < (size_t)st.st_size) {
		n = pread(fd, buf + have, (size_t)st.st_size - have,
			  (off_t)have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EIO;
		}
		have += (size_t)n;
	}
	buf[have] = '\0';
	*text = buf;
	*len = have;
	return 0;
}

int journal_open(const char *path, struct journal **out, int *fresh,
		 struct err *e)
{
	struct journal *j = calloc(1, sizeof(*j));
	char *nl;
	int ret;

	*out = NULL;
	*fresh = 0;
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return err_set(e, -ENOMEM, "out of memory");
	}
	j->fd = -1;
	j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		ret = err_set(e, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	ret = read_all(j->fd, &j->text, &j->len);
	if (ret) {
		err_set(e, ret, "%s: %s", path, strerror(-ret));
		goto fail;
	}
	/* A line the kill cut short was never a change anyone heard of:
	 * the manager writes a change down before it tells anyone. */
	nl = memrchr(j->text, '\n', j->len);
	if ((nl ? (size_t)(nl - j->text) + 1 : 0) != j->len) {
		j->len = nl ? (size_t)(nl - j->text) + 1 : 0;
		j->text[j->len] = '\0';
		if (ftruncate(j->fd, (off_t)j->len)) {
			ret = err_set(e, -errno, "%s: %s", path,
				      strerror(errno));
			goto fail;
		}
	}
	if (!j->len) {
		*fresh = 1;
		ret = write_all(j->fd, HEADER, strlen(HEADER));
		if (ret) {
			err_set(e, ret, "%s: %s", path, strerror(-ret));
			goto fail;
		}
	} else if (strncmp(j->text, HEADER, strlen(HEADER))) {
		ret = err_set(e, -EBADMSG,
			      "%s:1: not a faasnet-manager journal", path);
		goto fail;
	}
	*out = j;
	return 0;
fail:
	journal_close(j);
	return ret;
}

/* Reads a decimal number up to max from *p, which then points past it. */
static int number(char **p, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long n;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	n = strtoull(*p, &end, 10);
	if (errno || n > max)
		return -1;
	*v = n;
	*p = end;
	return 0;
}

/* One line (NUL-terminated, without its newline) into r. */
static int parse(char *line, struct journal_rec *r, struct err *e)
{
	char *p = line + strcspn(line, " ");
	size_t wl = (size_t)(p - line);
	const char *f;
	unsigned op;

	memset(r, 0, sizeof(*r));
	for (op = 0; op < JOURNAL_OP_MAX; op++)
		if (strlen(ops[op].word) == wl &&
		    !memcmp(ops[op].word, line, wl))
			break;
	if (op == JOURNAL_OP_MAX)
		return err_set(e, -EBADMSG, "unknown record \"%.*s\"",
			       (int)(wl < 32 ? wl : 32), line);
	r->op = (enum journal_op)op;
	for (f = ops[op].fields; *f; f++) {
		uint64_t v;

		if (*p != ' ')
			return err_set(e, -EBADMSG, "%s: too few fields",
				       ops[op].word);
		p++;
		if (*f == 's') {
			if (!name_ok(p))
				return err_set(e, -EBADMSG, "%s: a bad name",
					       ops[op].word);
			r->name = p;
			p += strlen(p);
			continue;
		}
		if (number(&p, field_max(*f), &v))
			return err_set(e, -EBADMSG,
				       "%s: field %td: expected a number",
				       ops[op].word, f - ops[op].fields + 1);
		set_field(r, *f, v);
	}
	if (*p)
		return err_set(e, -EBADMSG, "%s: too many fields",
			       ops[op].word);
	return 0;
}

int journal_replay(struct journal *j,
		   int (*fn)(void *arg, const struct journal_rec *r,
			     struct err *e),
		   void *arg, unsigned *n, struct err *e)
{
	char *line, *nl;
	unsigned lineno = 1;
	int ret = 0;

	*n = 0;
	if (!j->text)
		return 0;
	line = j->text + (j->len ? strlen(HEADER) : 0);
	for (; line < j->text + j->len; line = nl + 1) {
		struct journal_rec r;
		struct err le = {""};

		nl = strchr(line, '\n');
		*nl = '\0';
		lineno++;
		ret = parse(line, &r, &le);
		if (!ret)
			ret = fn(arg, &r, &le);
		if (ret) {
			err_set(e, ret, "%s:%u: %s", j->path, lineno, le.msg);
			break;
		}
		(*n)++;
	}
	free(j->text);
	j->text = NULL;
	j->len = 0;
	return ret;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->text);
	free(j->path);
	free(j);
}

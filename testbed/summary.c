#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "summary.h"

/* The longest line summary_read_rows() takes, without its newline. What
 * summary_write_rows() writes stays far below it (three doubles of at most
 * 316 characters each and a few short names). */
#define LINE_MAX_BYTES 4096

/* Longest file text quoted back in a message, so it stays one short line. */
#define QUOTE_MAX 48

enum col {
	COL_STRATEGY,
	COL_FUNCTION,
	COL_VM,
	COL_REQUESTED,
	COL_STARTED,
	COL_SECONDS,
	COL_IMAGE_READY,
	COL_REGISTRY,
	COL_PEER,
	NCOLS,
};

static const char *const col_names[NCOLS] = {
	[COL_STRATEGY] = "strategy",
	[COL_FUNCTION] = "function",
	[COL_VM] = "vm",
	[COL_REQUESTED] = "requested_s",
	[COL_STARTED] = "started_s",
	[COL_SECONDS] = "seconds",
	[COL_IMAGE_READY] = "image_ready_s",
	[COL_REGISTRY] = "registry_bytes",
	[COL_PEER] = "peer_bytes",
};

/* ---- statistics ---- */

int summary_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* rank = ceil(p/100 * n), in integers so that it is exact for every p and n
 * (in doubles 0.07 * 100 is a hair above 7 and its ceiling 8). */
double summary_nearest_rank(const double *v, size_t n, unsigned p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = ((size_t)p * n + 99) / 100;
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

int summary_compute(const struct summary_row *rows, size_t n,
		    const char *strategy, long sweep, unsigned corrupt_blocks,
		    struct summary_run *out)
{
	struct summary_run r = {.sweep = sweep,
				.corrupt_blocks = corrupt_blocks};
	double *secs = NULL, *ready = NULL;
	size_t i, ns = 0, nr = 0;

	if (!strategy || strlen(strategy) >= sizeof(r.strategy))
		return -EINVAL;
	snprintf(r.strategy, sizeof(r.strategy), "%s", strategy);
	for (i = 0; i < n; i++)
		if (rows[i].sweep == sweep &&
		    !strcmp(rows[i].strategy, strategy) && rows[i].started)
			ns++;
	if (ns) {
		secs = malloc(ns * sizeof(*secs));
		ready = malloc(n * sizeof(*ready));
		if (!secs || !ready) {
			free(secs);
			free(ready);
			return -ENOMEM;
		}
	}
	ns = 0;
	for (i = 0; i < n; i++) {
		const struct summary_row *row = &rows[i];

		if (row->sweep != sweep || strcmp(row->strategy, strategy))
			continue;
		r.requested++;
		/* Bytes moved for a container that never started still
		 * loaded the network: they count. */
		r.registry_bytes += row->registry_bytes;
		r.peer_bytes += row->peer_bytes;
		if (row->started)
			secs[ns++] = row->seconds;
		if (row->started && row->image_ready)
			ready[nr++] = row->image_ready_s;
	}
	r.started = (unsigned)ns;
	r.failed = r.requested - r.started;
	if (ns) {
		qsort(secs, ns, sizeof(*secs), summary_cmp_double);
		r.p50_s = summary_nearest_rank(secs, ns, 50);
		r.p90_s = summary_nearest_rank(secs, ns, 90);
		r.p99_s = summary_nearest_rank(secs, ns, 99);
		r.max_s = secs[ns - 1];
	}
	if (nr) {
		qsort(ready, nr, sizeof(*ready), summary_cmp_double);
		r.image_ready_p50_s = summary_nearest_rank(ready, nr, 50);
		r.image_ready_max_s = ready[nr - 1];
	}
	free(secs);
	free(ready);
	*out = r;
	return 0;
}

/* ---- checks shared by the writers ---- */

/* Writes s between double quotes, with anything that is not printable ASCII
 * escaped, so that a value holding a newline still gives a one-line message.
 * Long text is cut with "...". */
static const char *quote(char *buf, size_t len, const char *s)
{
	size_t o = 0, i;

	if (len < sizeof("\"...\""))
		return "";
	buf[o++] = '"';
	for (i = 0; s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		char tmp[5];
		size_t tl;

		if (ch == '\n')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
		else if (ch == '\r')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\r");
		else if (ch == '\\' || ch == '"')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
		else
			tl = (size_t)snprintf(tmp, sizeof(tmp), "%c", ch);
		/* Keep room for "..." + quote + NUL. */
		if (i >= QUOTE_MAX || o + tl + 5 > len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, tmp, tl);
		o += tl;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Without CSV quoting, a comma, a quote or a line break in a name would
 * shift every column after it; such names are refused instead. */
static bool csv_safe(const char *s)
{
	return !strpbrk(s, ",\"\r\n");
}

/* A name field of a struct: NUL-terminated within its array, non-empty
 * unless may_be_empty, and safe in CSV. what names it in the message. */
static int check_name(const char *s, size_t size, bool may_be_empty,
		      const char *what, struct err *e)
{
	char q[QUOTE_MAX * 4 + 8];

	if (strnlen(s, size) == size)
		return err_set(e, -EINVAL, "%s: not NUL-terminated", what);
	if (!*s && !may_be_empty)
		return err_set(e, -EINVAL, "%s: expected a name, got nothing",
			       what);
	if (!csv_safe(s))
		return err_set(e, -EINVAL,
			       "%s: expected no comma, quote or line break, "
			       "got %s",
			       what, quote(q, sizeof(q), s));
	return 0;
}

static int check_sweep_param(const char *sweep_param, struct err *e)
{
	char q[QUOTE_MAX * 4 + 8];

	if (!sweep_param)
		return 0;
	if (!*sweep_param || !csv_safe(sweep_param))
		return err_set(e, -EINVAL,
			       "sweep parameter: expected a name without "
			       "comma, quote or line break, got %s",
			       quote(q, sizeof(q), sweep_param));
	return 0;
}

/* With a sweep every row or run carries its value (never negative: -1 is
 * "no sweep"); without one, none does, so that what is written reads back
 * as it was. */
static int check_sweep(long sweep, const char *sweep_param, const char *what,
		       struct err *e)
{
	if (sweep_param && sweep < 0)
		return err_set(e, -EINVAL,
			       "%s: sweep is %ld, expected a value of %s "
			       "(0 or more)",
			       what, sweep, sweep_param);
	if (!sweep_param && sweep != -1)
		return err_set(e, -EINVAL,
			       "%s: sweep is %ld but no sweep parameter was "
			       "given",
			       what, sweep);
	return 0;
}

/* Flushes so that a full disk shows here, not in the caller's fclose(). An
 * earlier failed write left only the stream's error flag: no errno. */
static int finish(FILE *f, const char *what, struct err *e)
{
	if (fflush(f))
		return err_set(e, -EIO, "writing %s: %s", what,
			       strerror(errno));
	if (ferror(f))
		return err_set(e, -EIO, "writing %s failed", what);
	return 0;
}

/* ---- containers.csv ---- */

static int check_row(const struct summary_row *r, size_t i,
		     const char *sweep_param, struct err *e)
{
	char what[64];
	int ret;

	snprintf(what, sizeof(what), "rows[%zu].strategy", i);
	ret = check_name(r->strategy, sizeof(r->strategy), false, what, e);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "rows[%zu].function", i);
	ret = check_name(r->function, sizeof(r->function), false, what, e);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "rows[%zu].vm", i);
	ret = check_name(r->vm, sizeof(r->vm), true, what, e);
	if (ret)
		return ret;
	/* "%.6f" of a NaN is "nan", which the reader rightly refuses. */
	if (!isfinite(r->requested_s) ||
	    (r->started &&
	     (!isfinite(r->started_s) || !isfinite(r->seconds))) ||
	    (r->image_ready && !isfinite(r->image_ready_s)))
		return err_set(e, -EINVAL, "rows[%zu]: a time is not finite",
			       i);
	snprintf(what, sizeof(what), "rows[%zu]", i);
	return check_sweep(r->sweep, sweep_param, what, e);
}

int summary_write_rows(FILE *f, const struct summary_row *rows, size_t n,
		       const char *sweep_param, struct err *e)
{
	size_t i;
	int c, ret;

	ret = check_sweep_param(sweep_param, e);
	if (ret)
		return ret;
	/* Everything is checked first: a bad row leaves no half-written
	 * file behind. */
	for (i = 0; i < n; i++) {
		ret = check_row(&rows[i], i, sweep_param, e);
		if (ret)
			return ret;
	}

	for (c = 0; c < NCOLS; c++)
		fprintf(f, "%s%s", c ? "," : "", col_names[c]);
	if (sweep_param)
		fprintf(f, ",%s", sweep_param);
	fputc('\n', f);
	for (i = 0; i < n && !ferror(f); i++) {
		const struct summary_row *r = &rows[i];

		fprintf(f, "%s,%s,%s,%.6f,", r->strategy, r->function, r->vm,
			r->requested_s);
		if (r->started)
			fprintf(f, "%.6f,%.6f", r->started_s, r->seconds);
		else
			fputc(',', f);
		fputc(',', f);
		if (r->image_ready)
			fprintf(f, "%.6f", r->image_ready_s);
		fprintf(f, ",%" PRIu64 ",%" PRIu64, r->registry_bytes,
			r->peer_bytes);
		if (sweep_param)
			fprintf(f, ",%ld", r->sweep);
		fputc('\n', f);
	}
	return finish(f, "containers.csv", e);
}

struct reader {
	const char *path;
	FILE *f;
	size_t line;
	struct err *e;
	char buf[LINE_MAX_BYTES + 1];
	size_t len;
};

static int rfail(const struct reader *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes "path:line: " to a message. */
static int rfail(const struct reader *r, int code, const char *fmt, ...)
{
	char msg[sizeof(((struct err *)0)->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(r->e, code, "%s:%zu: %s", r->path, r->line, msg);
}

/* One line into r->buf without its newline: 1, 0 at the end of the file,
 * or a negative errno. A NUL byte is refused: it would end the text early
 * and hide the rest of the line from the checks. */
static int read_line(struct reader *r)
{
	int ch;

	r->len = 0;
	r->line++;
	/* The stream is this reader's alone: no locking per byte. */
	while ((ch = getc_unlocked(r->f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return rfail(r, -EINVAL,
				     "expected text, got a NUL byte");
		if (r->len == LINE_MAX_BYTES)
			return rfail(r, -EINVAL, "line longer than %d bytes",
				     LINE_MAX_BYTES);
		r->buf[r->len++] = (char)ch;
	}
	if (ferror(r->f))
		return err_set(r->e, -EIO, "%s:%zu: read error", r->path,
			       r->line);
	r->buf[r->len] = '\0';
	if (ch == EOF && r->len == 0)
		return 0;
	return 1;
}

/* Cuts r->buf at its commas into at most max fields; returns how many
 * there are (which may be more than max: the rest stay unsplit). */
static size_t split(char *s, char **fields, size_t max)
{
	size_t n = 0;
	char *comma;

	for (;;) {
		comma = strchr(s, ',');
		if (n < max) {
			fields[n] = s;
			if (comma)
				*comma = '\0';
		}
		n++;
		if (!comma)
			return n;
		s = comma + 1;
	}
}

static int check_header(struct reader *r, char *sweep_param, size_t size)
{
	char *fields[NCOLS + 1];
	char q[QUOTE_MAX * 4 + 8];
	size_t n, c;
	int ret;

	ret = read_line(r);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return rfail(r, -EINVAL,
			     "expected the header \"%s,%s,...\", got an empty "
			     "file",
			     col_names[0], col_names[1]);
	n = split(r->buf, fields, NCOLS + 1);
	for (c = 0; c < NCOLS; c++) {
		if (c >= n)
			return rfail(r, -EINVAL,
				     "header column %zu: expected \"%s\", got "
				     "end of line",
				     c + 1, col_names[c]);
		if (strcmp(fields[c], col_names[c]))
			return rfail(
				r, -EINVAL,
				"header column %zu: expected \"%s\", got %s",
				c + 1, col_names[c],
				quote(q, sizeof(q), fields[c]));
	}
	if (n > NCOLS + 1)
		return rfail(r, -EINVAL,
			     "expected %d columns and a sweep parameter at "
			     "most, got %zu columns",
			     NCOLS, n);
	if (n == NCOLS) {
		sweep_param[0] = '\0';
		return 0;
	}
	if (!fields[NCOLS][0] || strchr(fields[NCOLS], '"') ||
	    strlen(fields[NCOLS]) >= size)
		return rfail(r, -EINVAL,
			     "header column %d: expected the sweep parameter's "
			     "name, got %s",
			     NCOLS + 1, quote(q, sizeof(q), fields[NCOLS]));
	snprintf(sweep_param, size, "%s", fields[NCOLS]);
	return 0;
}

/* The reader's number formats are exactly what the writer prints, so that
 * strtod()'s extras (spaces, "nan", "0x1p3", "1e3") are refused. */
static bool is_decimal(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

static bool is_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int bad(const struct reader *r, const char *col, const char *what,
	       const char *got)
{
	char q[QUOTE_MAX * 4 + 8];

	return rfail(r, -EINVAL, "column %s: expected %s, got %s", col, what,
		     got ? quote(q, sizeof(q), got) : "end of line");
}

static int get_name(const struct reader *r, int c, const char *s, char *dst,
		    size_t size, bool may_be_empty)
{
	char what[64];

	if ((!*s && !may_be_empty) || strlen(s) >= size) {
		snprintf(what, sizeof(what), "a name of 1 to %zu bytes%s",
			 size - 1, may_be_empty ? " or nothing" : "");
		return bad(r, col_names[c], what, s);
	}
	if (strchr(s, '"'))
		return bad(r, col_names[c], "a name without quotes", s);
	snprintf(dst, size, "%s", s);
	return 0;
}

static int get_seconds(const struct reader *r, int c, const char *s,
		       double *out)
{
	double v;

	if (!is_decimal(s))
		return bad(r, col_names[c], "seconds like 1.250000", s);
	v = strtod(s, NULL);
	if (!isfinite(v))
		return bad(r, col_names[c], "seconds like 1.250000", s);
	*out = v;
	return 0;
}

static int get_bytes(const struct reader *r, int c, const char *s,
		     uint64_t *out)
{
	unsigned long long v;

	if (!is_digits(s))
		return bad(r, col_names[c], "a byte count", s);
	errno = 0;
	v = strtoull(s, NULL, 10);
	if (errno == ERANGE)
		return bad(r, col_names[c], "a byte count", s);
	*out = v;
	return 0;
}

/* Parses r->buf (cutting it at its commas) into row. */
static int parse_row(struct reader *r, const char *sweep_param,
		     struct summary_row *row)
{
	static const char *const what[NCOLS] = {
		[COL_STRATEGY] = "a strategy name",
		[COL_FUNCTION] = "a function name",
		[COL_VM] = "a VM name or nothing",
		[COL_REQUESTED] = "seconds like 1.250000",
		[COL_STARTED] = "seconds or nothing",
		[COL_SECONDS] = "seconds or nothing",
		[COL_IMAGE_READY] = "seconds or nothing",
		[COL_REGISTRY] = "a byte count",
		[COL_PEER] = "a byte count",
	};
	size_t ncols = NCOLS + (*sweep_param ? 1 : 0);
	char *fields[NCOLS + 1];
	unsigned long long sw;
	size_t n;
	int ret;

	n = split(r->buf, fields, ncols);
	if (n < ncols)
		return bad(r, n < NCOLS ? col_names[n] : sweep_param,
			   n < NCOLS ? what[n] : "a sweep value", NULL);
	if (n > ncols)
		return rfail(r, -EINVAL,
			     "expected %zu columns, as the header has, got %zu",
			     ncols, n);

	memset(row, 0, sizeof(*row));
	ret = get_name(r, COL_STRATEGY, fields[COL_STRATEGY], row->strategy,
		       sizeof(row->strategy), false);
	if (!ret)
		ret = get_name(r, COL_FUNCTION, fields[COL_FUNCTION],
			       row->function, sizeof(row->function), false);
	if (!ret)
		ret = get_name(r, COL_VM, fields[COL_VM], row->vm,
			       sizeof(row->vm), true);
	if (!ret)
		ret = get_seconds(r, COL_REQUESTED, fields[COL_REQUESTED],
				  &row->requested_s);
	if (ret)
		return ret;

	/* started_s and seconds are both there (started) or both empty. */
	row->started = fields[COL_STARTED][0] != '\0';
	if (row->started) {
		ret = get_seconds(r, COL_STARTED, fields[COL_STARTED],
				  &row->started_s);
		if (ret)
			return ret;
		if (!fields[COL_SECONDS][0])
			return bad(r, col_names[COL_SECONDS],
				   "seconds, as started_s is set",
				   fields[COL_SECONDS]);
		ret = get_seconds(r, COL_SECONDS, fields[COL_SECONDS],
				  &row->seconds);
		if (ret)
			return ret;
	} else if (fields[COL_SECONDS][0]) {
		return bad(r, col_names[COL_SECONDS],
			   "nothing, as started_s is empty",
			   fields[COL_SECONDS]);
	}
	row->image_ready = fields[COL_IMAGE_READY][0] != '\0';
	if (row->image_ready) {
		ret = get_seconds(r, COL_IMAGE_READY, fields[COL_IMAGE_READY],
				  &row->image_ready_s);
		if (ret)
			return ret;
	}

	ret = get_bytes(r, COL_REGISTRY, fields[COL_REGISTRY],
			&row->registry_bytes);
	if (!ret)
		ret = get_bytes(r, COL_PEER, fields[COL_PEER],
				&row->peer_bytes);
	if (ret)
		return ret;

	row->sweep = -1;
	if (*sweep_param) {
		const char *s = fields[NCOLS];

		if (!is_digits(s))
			return bad(r, sweep_param, "a whole number", s);
		errno = 0;
		sw = strtoull(s, NULL, 10);
		if (errno == ERANGE || sw > LONG_MAX)
			return bad(r, sweep_param, "a whole number", s);
		row->sweep = (long)sw;
	}
	return 0;
}

int summary_read_rows(const char *path, struct summary_row **rows, size_t *n,
		      struct err *e)
{
	struct reader rd = {.path = path, .e = e}, *r = &rd;
	struct summary_row *v = NULL, *nv;
	char sweep_param[64];
	size_t len = 0, cap = 0;
	int ret;

	r->f = fopen(path, "re");
	if (!r->f) {
		ret = -errno;
		return err_set(e, ret, "%s: %s", path, strerror(-ret));
	}
	ret = check_header(r, sweep_param, sizeof(sweep_param));
	if (ret)
		goto out;
	for (;;) {
		ret = read_line(r);
		if (ret < 0)
			goto out;
		if (ret == 0)
			break;
		if (len == cap) {
			cap = cap ? cap * 2 : 64;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv) {
				ret = err_set(e, -ENOMEM,
					      "%s:%zu: out of memory", path,
					      r->line);
				goto out;
			}
			v = nv;
		}
		ret = parse_row(r, sweep_param, &v[len]);
		if (ret)
			goto out;
		len++;
	}
	*rows = v;
	*n = len;
	v = NULL;
	ret = 0;
out:
	free(v);
	fclose(r->f);
	return ret;
}

/* ---- summary.json and summary.csv ---- */

static int check_run(const struct summary_run *run, size_t i,
		     const char *sweep_param, struct err *e)
{
	char what[64];
	int ret;

	snprintf(what, sizeof(what), "runs[%zu].strategy", i);
	ret = check_name(run->strategy, sizeof(run->strategy), false, what, e);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "runs[%zu]", i);
	return check_sweep(run->sweep, sweep_param, what, e);
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
	return json_object_set_new(obj, key, v) ? -ENOMEM : 0;
}

/* jansson holds integers as json_int_t, a long long. */
static int set_u64(json_t *obj, const char *key, uint64_t v, size_t i,
		   struct err *e)
{
	if (v > (uint64_t)LLONG_MAX)
		return err_set(e, -EOVERFLOW,
			       "runs[%zu].%s: %" PRIu64
			       " is too large for JSON",
			       i, key, v);
	if (set_new(obj, key, json_integer((json_int_t)v)))
		return err_set(e, -ENOMEM, "summary.json: out of memory");
	return 0;
}

/* Appends run i to arr, its keys in the order the format gives. */
/* A run's requests: counts, response-time percentiles, the slow episodes
 * (at most REQUESTS_MAX_EPISODES of them listed) and the longest. */
static json_t *requests_json(const struct requests_stats *q)
{
	json_t *eps = json_array();
	unsigned i;

	for (i = 0; eps && i < q->nepisodes && i < REQUESTS_MAX_EPISODES; i++)
		json_array_append_new(
			eps,
			json_pack("{s:f, s:f, s:f, s:f, s:i}", "start_s",
				  q->ep[i].start_s, "end_s", q->ep[i].end_s,
				  "recovery_s",
				  q->ep[i].end_s - q->ep[i].start_s,
				  "peak_response_s", q->ep[i].peak_response_s,
				  "slow", (int)q->ep[i].slow));
	return json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:i, s:i, s:o?, "
			 "s:f}",
			 "requests", (int)q->requests, "served", (int)q->served,
			 "p50_s", q->p50_s, "p90_s", q->p90_s, "p99_s",
			 q->p99_s, "max_s", q->max_s, "slow", (int)q->slow,
			 "episodes", (int)q->nepisodes, "slow_episodes", eps,
			 "recovery_s", q->recovery_s);
}

/* {"verdict", "reasons": [...]}; NULL when out of memory. */
static json_t *fidelity_json(const struct fidelity_verdict *v)
{
	json_t *o = json_object(), *arr = json_array();
	unsigned i;
	int ret;

	ret = !o || !arr;
	ret = ret
		      ?: set_new(o, "verdict",
				 json_string(v->degraded ? "degraded" : "ok"));
	ret = ret ?: json_object_set(o, "reasons", arr);
	for (i = 0; !ret && i < v->nreasons; i++) {
		const struct fidelity_reason *r = &v->reasons[i];
		json_t *x =
			json_pack("{s:s, s:f, s:f, s:f, s:f, s:s}", "signal",
				  fidelity_signal_name(r->signal), "from_s",
				  r->from_s, "to_s", r->to_s, "value", r->value,
				  "threshold", r->threshold, "text", r->text);

		ret = json_array_append_new(arr, x);
	}
	json_decref(arr);
	if (ret) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *cpu_json(const struct summary_cpu *c)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "agents",
			 c->agents, "manager", c->manager, "registry",
			 c->registry, "aria2c", c->aria2c, "tracker",
			 c->tracker, "seeder", c->seeder, "proxies", c->proxies,
			 "total", c->total);
}

static int append_run(json_t *arr, const struct summary_run *run, size_t i,
		      const char *sweep_param, struct err *e)
{
	json_t *o, *params, *s;
	int ret;

	o = json_object();
	if (!o || json_array_append_new(arr, o))
		return err_set(e, -ENOMEM, "summary.json: out of memory");
	s = json_string(run->strategy);
	if (!s)
		return err_set(e, -EINVAL, "runs[%zu].strategy: not UTF-8", i);
	params = json_object();
	if (params && sweep_param &&
	    set_new(params, sweep_param,
		    json_integer((json_int_t)run->sweep))) {
		json_decref(params);
		params = NULL;
	}
	ret = set_new(o, "strategy", s);
	if (ret)
		json_decref(params);
	else
		ret = set_new(o, "params", params);
	if (ret)
		return err_set(e, ret, "summary.json: out of memory");
	ret = set_u64(o, "seed", run->seed, i, e);
	if (ret)
		return ret;
	if (run->dilation > 0 &&
	    set_new(o, "dilation", json_real(run->dilation)))
		return err_set(e, -ENOMEM, "summary.json: out of memory");
	ret = set_new(o, "requested", json_integer(run->requested));
	ret = ret ?: set_new(o, "started", json_integer(run->started));
	ret = ret ?: set_new(o, "failed", json_integer(run->failed));
	ret = ret ?: set_new(o, "p50_s", json_real(run->p50_s));
	ret = ret ?: set_new(o, "p90_s", json_real(run->p90_s));
	ret = ret ?: set_new(o, "p99_s", json_real(run->p99_s));
	ret = ret ?: set_new(o, "max_s", json_real(run->max_s));
	ret = ret
		      ?: set_new(o, "image_ready_p50_s",
				 json_real(run->image_ready_p50_s));
	ret = ret
		      ?: set_new(o, "image_ready_max_s",
				 json_real(run->image_ready_max_s));
	if (ret)
		return err_set(e, ret, "summary.json: out of memory");
	ret = set_u64(o, "registry_bytes", run->registry_bytes, i, e);
	ret = ret ?: set_u64(o, "peer_bytes", run->peer_bytes, i, e);
	if (ret)
		return ret;
	if (set_new(o, "corrupt_blocks", json_integer(run->corrupt_blocks)))
		return err_set(e, -ENOMEM, "summary.json: out of memory");
	if (run->fidelity &&
	    set_new(o, "fidelity", fidelity_json(run->fidelity)))
		return err_set(e, -ENOMEM, "summary.json: out of memory");
	if (run->cpu && set_new(o, "cpu_s", cpu_json(run->cpu)))
		return err_set(e, -ENOMEM, "summary.json: out of memory");
	if (run->requests &&
	    set_new(o, "requests", requests_json(run->requests)))
		return err_set(e, -ENOMEM, "summary.json: out of memory");
	return 0;
}

/* The top level's string fields; json_string() refuses text that is not
 * UTF-8 (or fails for memory, which it cannot tell apart). */
static int set_str(json_t *obj, const char *key, const char *v, struct err *e)
{
	if (set_new(obj, key, json_string(v)))
		return err_set(e, -EINVAL,
			       "summary.json: %s is not UTF-8 (or out of "
			       "memory)",
			       key);
	return 0;
}

int summary_write_json(FILE *f, const char *scenario, const char *fidelity,
		       const char *sweep_param, const struct summary_run *runs,
		       size_t n, struct err *e)
{
	json_t *root, *arr;
	size_t i;
	int ret;

	if (!scenario || !fidelity)
		return err_set(e, -EINVAL,
			       "summary.json: no scenario or fidelity");
	ret = check_sweep_param(sweep_param, e);
	for (i = 0; !ret && i < n; i++)
		ret = check_run(&runs[i], i, sweep_param, e);
	if (ret)
		return ret;

	root = json_object();
	if (!root)
		return err_set(e, -ENOMEM, "summary.json: out of memory");
	ret = set_str(root, "scenario", scenario, e);
	ret = ret ?: set_str(root, "fidelity", fidelity, e);
	if (ret)
		goto out;
	arr = json_array();
	if (set_new(root, "runs", arr)) {
		ret = err_set(e, -ENOMEM, "summary.json: out of memory");
		goto out;
	}
	for (i = 0; !ret && i < n; i++)
		ret = append_run(arr, &runs[i], i, sweep_param, e);
	if (ret)
		goto out;
	if (json_dumpf(root, f,
		       JSON_INDENT(2) | JSON_PRESERVE_ORDER |
			       JSON_REAL_PRECISION(9)) ||
	    fputc('\n', f) == EOF) {
		ret = err_set(e, -EIO, "writing summary.json failed");
		goto out;
	}
	ret = finish(f, "summary.json", e);
out:
	json_decref(root);
	return ret;
}

int summary_write_csv(FILE *f, const char *sweep_param,
		      const struct summary_run *runs, size_t n, struct err *e)
{
	size_t i;
	int ret;

	ret = check_sweep_param(sweep_param, e);
	for (i = 0; !ret && i < n; i++)
		ret = check_run(&runs[i], i, sweep_param, e);
	if (ret)
		return ret;

	fputs("strategy,", f);
	if (sweep_param)
		fprintf(f, "%s,", sweep_param);
	fputs("requested,started,failed,p50_s,p90_s,p99_s,max_s,"
	      "registry_bytes,peer_bytes,corrupt_blocks\n",
	      f);
	for (i = 0; i < n && !ferror(f); i++) {
		const struct summary_run *r = &runs[i];

		fprintf(f, "%s,", r->strategy);
		if (sweep_param)
			fprintf(f, "%ld,", r->sweep);
		fprintf(f,
			"%u,%u,%u,%.6f,%.6f,%.6f,%.6f,%" PRIu64 ",%" PRIu64
			",%u\n",
			r->requested, r->started, r->failed, r->p50_s, r->p90_s,
			r->p99_s, r->max_s, r->registry_bytes, r->peer_bytes,
			r->corrupt_blocks);
	}
	return finish(f, "summary.csv", e);
}

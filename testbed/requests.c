#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "requests.h"
#include "summary.h"

#define HEADER "strategy,function,arrival_s,start_s,done_s,response_s,container"
#define NCOLS  7

/* ---- statistics ---- */

static bool is_slow(const struct requests_row *r, double service_s)
{
	return r->served && r->start_s - r->arrival_s > service_s / 2;
}

int requests_compute(const struct requests_row *rows, size_t n,
		     const char *strategy, double service_s,
		     struct requests_stats *out)
{
	struct requests_stats st = {0};
	struct requests_episode cur = {0};
	double *resp;
	size_t i, ns = 0;

	if (strnlen(strategy, sizeof(st.strategy)) >= sizeof(st.strategy))
		return -EINVAL;
	snprintf(st.strategy, sizeof(st.strategy), "%s", strategy);
	resp = malloc((n ? n : 1) * sizeof(*resp));
	if (!resp)
		return -ENOMEM;
	/* Rows are in arrival order within a run; repetitions follow one
	 * another, each from its own zero, which only starts an episode. */
	for (i = 0; i < n; i++) {
		const struct requests_row *r = &rows[i];

		if (strcmp(r->strategy, strategy))
			continue;
		st.requests++;
		if (!r->served)
			continue;
		st.served++;
		resp[ns++] = r->done_s - r->arrival_s;
		if (!is_slow(r, service_s))
			continue;
		st.slow++;
		if (cur.slow && (r->arrival_s < cur.end_s ||
				 r->arrival_s - cur.end_s > 2 * service_s)) {
			if (st.nepisodes < REQUESTS_MAX_EPISODES)
				st.ep[st.nepisodes] = cur;
			st.nepisodes++;
			memset(&cur, 0, sizeof(cur));
		}
		if (!cur.slow)
			cur.start_s = r->arrival_s;
		cur.end_s = r->arrival_s;
		cur.slow++;
		if (r->done_s - r->arrival_s > cur.peak_response_s)
			cur.peak_response_s = r->done_s - r->arrival_s;
	}
	if (cur.slow) {
		if (st.nepisodes < REQUESTS_MAX_EPISODES)
			st.ep[st.nepisodes] = cur;
		st.nepisodes++;
	}
	for (i = 0; i < st.nepisodes && i < REQUESTS_MAX_EPISODES; i++)
		if (st.ep[i].end_s - st.ep[i].start_s > st.recovery_s)
			st.recovery_s = st.ep[i].end_s - st.ep[i].start_s;
	qsort(resp, ns, sizeof(*resp), summary_cmp_double);
	st.p50_s = summary_nearest_rank(resp, ns, 50);
	st.p90_s = summary_nearest_rank(resp, ns, 90);
	st.p99_s = summary_nearest_rank(resp, ns, 99);
	st.max_s = ns ? resp[ns - 1] : 0;
	free(resp);
	*out = st;
	return 0;
}

/* ---- requests.csv ---- */

/* No CSV quoting: a name with a comma, a quote or a line break is refused. */
static int check_name(const char *s, size_t size, size_t i, const char *col,
		      struct err *e)
{
	if (!*s || strnlen(s, size) == size || strpbrk(s, ",\"\r\n"))
		return err_set(e, -EINVAL,
			       "request %zu: %s: expected a name without "
			       "comma, quote or line break",
			       i, col);
	return 0;
}

/* Both files' rows have a strategy and a function of these sizes. */
static int check_names(const char strategy[24], const char function[64],
		       size_t i, struct err *e)
{
	int ret = check_name(strategy, 24, i, "strategy", e);

	return ret ? ret : check_name(function, 64, i, "function", e);
}

static int finish(FILE *f, const char *what, struct err *e)
{
	if (fflush(f) || ferror(f))
		return err_set(e, -EIO, "writing %s failed", what);
	return 0;
}

int requests_write_rows(FILE *f, const struct requests_row *rows, size_t n,
			struct err *e)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++)
		if ((ret = check_names(rows[i].strategy, rows[i].function, i,
				       e)))
			return ret;
	fprintf(f, HEADER "\n");
	for (i = 0; i < n; i++) {
		const struct requests_row *r = &rows[i];

		fprintf(f, "%s,%s,%.6f,", r->strategy, r->function,
			r->arrival_s);
		if (r->served)
			fprintf(f, "%.6f,%.6f,%.6f,%" PRIu32 "\n", r->start_s,
				r->done_s, r->done_s - r->arrival_s,
				r->container);
		else
			fprintf(f, ",,,\n");
	}
	return finish(f, "requests.csv", e);
}

static int bad(const char *path, size_t line, const char *col,
	       const char *what, const char *got, struct err *e)
{
	return err_set(e, -EINVAL, "%s:%zu: %s: expected %s, got \"%.40s\"",
		       path, line, col, what, got);
}

static bool number(const char *s, double *out)
{
	char *end;

	if (!*s || !strchr("0123456789", *s))
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && !errno;
}

static int parse_row(char *line, const char *path, size_t ln,
		     struct requests_row *r, struct err *e)
{
	static const char *const cols[NCOLS] = {
		"strategy", "function", "arrival_s", "start_s",
		"done_s",   "response_s", "container"};
	char *f[NCOLS], *p = line;
	double resp;
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < NCOLS; i++) {
		f[i] = strsep(&p, ",");
		if (!f[i])
			return err_set(e, -EINVAL,
				       "%s:%zu: expected %d columns, got %zu",
				       path, ln, NCOLS, i);
	}
	if (p)
		return err_set(e, -EINVAL,
			       "%s:%zu: expected %d columns, got more", path,
			       ln, NCOLS);
	if (!*f[0] || strlen(f[0]) >= sizeof(r->strategy))
		return bad(path, ln, cols[0], "a strategy", f[0], e);
	if (!*f[1] || strlen(f[1]) >= sizeof(r->function))
		return bad(path, ln, cols[1], "a function", f[1], e);
	snprintf(r->strategy, sizeof(r->strategy), "%s", f[0]);
	snprintf(r->function, sizeof(r->function), "%s", f[1]);
	if (!number(f[2], &r->arrival_s))
		return bad(path, ln, cols[2], "seconds", f[2], e);
	if (!*f[3] && !*f[4] && !*f[5] && !*f[6])
		return 0; /* never served */
	for (i = 3; i < 6; i++)
		if (!number(f[i], i == 3 ? &r->start_s
				       : i == 4 ? &r->done_s
						: &resp))
			return bad(path, ln, cols[i], "seconds", f[i], e);
	{
		char *end;
		unsigned long long c;

		errno = 0;
		c = strtoull(f[6], &end, 10);
		if (!*f[6] || *end || errno || c > UINT32_MAX ||
		    !strchr("0123456789", *f[6]))
			return bad(path, ln, cols[6], "a container id", f[6],
				   e);
		r->container = (uint32_t)c;
	}
	if (r->start_s < r->arrival_s || r->done_s < r->start_s)
		return err_set(e, -EINVAL,
			       "%s:%zu: expected arrival_s <= start_s <= "
			       "done_s",
			       path, ln);
	r->served = 1;
	return 0;
}

int requests_read_rows(const char *path, struct requests_row **rows,
		       size_t *n, struct err *e)
{
	struct requests_row *v = NULL, *nv;
	size_t len = 0, cap = 0, lcap = 0, ln = 0;
	char *line = NULL;
	ssize_t got;
	FILE *f;
	int ret = 0;

	f = fopen(path, "re");
	if (!f)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	while ((got = getline(&line, &lcap, f)) > 0) {
		ln++;
		if (line[got - 1] == '\n')
			line[--got] = '\0';
		if (ln == 1) {
			if (strcmp(line, HEADER)) {
				ret = err_set(e, -EINVAL,
					      "%s:1: expected the header "
					      "%s",
					      path, HEADER);
				goto out;
			}
			continue;
		}
		if (len == cap) {
			cap = cap ? 2 * cap : 256;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv) {
				ret = err_set(e, -ENOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		ret = parse_row(line, path, ln, &v[len], e);
		if (ret)
			goto out;
		len++;
	}
	if (ferror(f)) {
		ret = err_set(e, -EIO, "%s: read failed", path);
		goto out;
	}
	if (!ln) {
		ret = err_set(e, -EINVAL, "%s: empty, expected a header", path);
		goto out;
	}
	*rows = v;
	*n = len;
	v = NULL;
out:
	free(line);
	free(v);
	fclose(f);
	return ret;
}

/* ---- pool.csv ---- */

int requests_write_pool(FILE *f, const struct requests_pool_row *rows,
			size_t n, struct err *e)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++)
		if ((ret = check_names(rows[i].strategy, rows[i].function, i,
				       e)))
			return ret;
	fprintf(f, "strategy,function,t_s,live,pending,busy,queued\n");
	for (i = 0; i < n; i++)
		fprintf(f, "%s,%s,%.3f,%u,%u,%u,%u\n", rows[i].strategy,
			rows[i].function, rows[i].t_s, rows[i].live,
			rows[i].pending, rows[i].busy, rows[i].queued);
	return finish(f, "pool.csv", e);
}

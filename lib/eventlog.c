#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"
#include "eventlog.h"

/* Longest line built on the stack; a longer one takes jansson's own path. */
#define EVENTLOG_LINE 4096
/* stdio's buffer: a burst's lines between two waits of the loop. */
#define EVENTLOG_BUF (64u << 10)

struct eventlog {
	FILE *f;
	int own;
	char who[64];
	char who_json[160];	 /* who as a JSON string, quotes and all */
	struct evloop *flush_on; /* the loop a flush is deferred on */
	struct evloop_defer flush_later;
	char buf[EVENTLOG_BUF]; /* stdio's, for a file of our own */
};

/* stderr's buffer outlives every eventlog: stderr does. */
static char stderr_buf[EVENTLOG_BUF];

int eventlog_open(const char *path, const char *who, struct eventlog **out)
{
	struct eventlog *l = calloc(1, sizeof(*l));
	json_t *s;
	size_t n;

	if (!l)
		return -ENOMEM;
	if (!path || !strcmp(path, "-")) {
		l->f = stderr;
		setvbuf(l->f, stderr_buf, _IOFBF, sizeof(stderr_buf));
	} else {
		l->f = fopen(path, "ae");
		if (!l->f) {
			int ret = -errno;

			free(l);
			return ret;
		}
		l->own = 1;
		/* glibc takes no size without a buffer. */
		setvbuf(l->f, l->buf, _IOFBF, sizeof(l->buf));
	}
	snprintf(l->who, sizeof(l->who), "%s", who);
	s = json_string(l->who);
	n = s ? json_dumpb(s, l->who_json, sizeof(l->who_json) - 1,
			   JSON_ENCODE_ANY)
	      : 0;
	json_decref(s);
	if (!n || n >= sizeof(l->who_json))
		snprintf(l->who_json, sizeof(l->who_json), "\"?\"");
	else
		l->who_json[n] = '\0';
	*out = l;
	return 0;
}

void eventlog_close(struct eventlog *l)
{
	if (!l)
		return;
	if (l->flush_later.armed)
		evloop_defer_cancel(l->flush_on, &l->flush_later);
	if (l->own)
		fclose(l->f);
	else
		fflush(l->f);
	free(l);
}

static void flush_deferred(struct evloop *loop, void *arg)
{
	struct eventlog *l = arg;

	(void)loop;
	fflush(l->f);
}

/* Lines reach the file before the loop next waits (or at once, outside a
 * running loop): whatever happens to the process while it waits, its
 * timeline is on disk; a crash or SIGKILL in the middle of a round loses
 * that round's lines at most. SIGTERM, exit and eventlog_close flush. */
static void written(struct eventlog *l)
{
	struct evloop *loop = evloop_current();

	if (!loop) {
		fflush(l->f);
		return;
	}
	l->flush_on = loop;
	evloop_defer(loop, &l->flush_later, flush_deferred, l);
}

/* An event name that needs no escaping. */
static int plain(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return 0;
	return 1;
}

/* The line as jansson builds it whole: for what the fast path declines. */
static void write_slow(struct eventlog *l, const char *event, json_t *fields,
		       uint64_t t)
{
	json_t *o = json_pack("{s:I, s:s, s:s}", "t_ns", (json_int_t)t, "who",
			      l->who, "event", event);

	if (o && fields)
		json_object_update(o, fields);
	if (!o)
		return;
	json_dumpf(o, l->f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', l->f);
	json_decref(o);
}

void eventlog_write(struct eventlog *l, const char *event, json_t *fields)
{
	uint64_t t = evloop_now_ns();
	char line[EVENTLOG_LINE];
	size_t n, m, room;
	int k;

	/* The head printed once, the fields dumped after it: the same line
	 * as one object built of both (keys in that order), without building
	 * it. */
	if (!plain(event) || (fields && (!json_is_object(fields) ||
					 json_object_get(fields, "t_ns") ||
					 json_object_get(fields, "who") ||
					 json_object_get(fields, "event"))))
		goto slow;
	k = snprintf(line, sizeof(line),
		     "{\"t_ns\":%" JSON_INTEGER_FORMAT ",\"who\":%s,"
		     "\"event\":\"%s\"",
		     (json_int_t)t, l->who_json, event);
	if (k < 0 || (size_t)k >= sizeof(line) - 2)
		goto slow;
	n = (size_t)k;
	if (fields && json_object_size(fields)) {
		room = sizeof(line) - n - 1;
		m = json_dumpb(fields, line + n, room,
			       JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!m || m > room || line[n] != '{')
			goto slow;
		line[n] = ','; /* {"k":v,...} continues the head */
		n += m;
	} else {
		line[n++] = '}';
	}
	line[n++] = '\n';
	fwrite(line, 1, n, l->f);
	goto out;
slow:
	write_slow(l, event, fields, t);
out:
	json_decref(fields);
	written(l);
}

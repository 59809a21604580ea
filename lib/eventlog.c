#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"
#include "eventlog.h"

struct eventlog {
	FILE *f;
	int own;
	char who[64];
};

int eventlog_open(const char *path, const char *who, struct eventlog **out)
{
	struct eventlog *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	if (!path || !strcmp(path, "-")) {
		l->f = stderr;
	} else {
		l->f = fopen(path, "ae");
		if (!l->f) {
			int ret = -errno;

			free(l);
			return ret;
		}
		l->own = 1;
	}
	snprintf(l->who, sizeof(l->who), "%s", who);
	*out = l;
	return 0;
}

void eventlog_close(struct eventlog *l)
{
	if (!l)
		return;
	if (l->own)
		fclose(l->f);
	free(l);
}

void eventlog_write(struct eventlog *l, const char *event, json_t *fields)
{
	json_t *o = json_pack("{s:I, s:s, s:s}", "t_ns",
			      (json_int_t)evloop_now_ns(), "who", l->who,
			      "event", event);

	if (o && fields)
		json_object_update(o, fields);
	json_decref(fields);
	if (!o)
		return;
	json_dumpf(o, l->f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', l->f);
	fflush(l->f);
	json_decref(o);
}

/* eventlog: a process's timeline as JSON Lines, one object per event with
 * CLOCK_MONOTONIC nanoseconds: every process runs on one kernel, so the
 * logs of the manager and a thousand agents merge into one exact timeline.
 * Lines are buffered and written once the event loop's round ends (before
 * it waits), or at once outside a running loop: a process killed while it
 * waits loses nothing it logged, one killed mid-round loses that round's
 * lines; exit and eventlog_close write everything. */
#ifndef FAASNET_EVENTLOG_H
#define FAASNET_EVENTLOG_H

#include <jansson.h>

struct eventlog;

/* path NULL or "-": stderr. who names the process in every line. */
int eventlog_open(const char *path, const char *who, struct eventlog **out);
void eventlog_close(struct eventlog *l);

/* {"t_ns":..,"who":..,"event":event, ...fields}; fields (may be NULL) is
 * consumed. */
void eventlog_write(struct eventlog *l, const char *event, json_t *fields);

#endif

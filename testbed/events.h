/* events: a results folder's events.jsonl (docs/results.md): every line
 * of every process's log, raw/<run>/<process>.jsonl, tagged with its run
 * and in time order. It owns that merge, done here rather than by a shell
 * pipeline, so a folder's name may hold any character; it reads no line's
 * meaning past its t_ns. */
#ifndef FAASNET_TESTBED_EVENTS_H
#define FAASNET_TESTBED_EVENTS_H

#include "err.h"

/* Writes DIR/events.jsonl (aside, then renamed) from DIR/raw: each line
 * {"t_ns":N,... becomes {"run":"<run>","t_ns":N,..., ordered by N, lines
 * of one instant in the order of their runs, files and lines (runs and
 * files by name); a line with no t_ns first goes first, as 0. 0, or a
 * negative errno with e naming the file. */
int events_merge(const char *dir, struct err *e)
	__attribute__((warn_unused_result));

#endif

/* outfile: a file written aside and renamed into place, so that no reader
 * sees half of it and a failed write leaves nothing under its name. It
 * owns the file aside: created anew beside the final one (one file system,
 * for the rename) under a name no one can plant in advance, with O_CREAT |
 * O_EXCL | O_NOFOLLOW, so no link is ever written through; rename then
 * replaces whatever is at the final path, a link included, rather than
 * follow it. It does not decide whether the final path may be replaced. */
#ifndef FAASNET_OUTFILE_H
#define FAASNET_OUTFILE_H

#include <limits.h>
#include <sys/types.h>

#include "err.h"

struct outfile {
	int fd;		     /* write here; -1 once closed */
	char tmp[PATH_MAX];  /* the file aside; "" when there is none */
	char path[PATH_MAX]; /* where it goes */
};

/* Creates the file aside, mode less the umask. 0, or a negative errno with
 * e naming the path; of needs no outfile_abort then. */
int outfile_open(struct outfile *of, const char *path, mode_t mode,
		 struct err *e) __attribute__((warn_unused_result));
/* Closes the file aside and renames it into place. Either way of is done
 * with: on failure the file aside is removed. */
int outfile_commit(struct outfile *of, struct err *e)
	__attribute__((warn_unused_result));
/* Closes and removes the file aside; nothing for one committed or never
 * opened (fd -1, tmp ""). */
void outfile_abort(struct outfile *of);

#endif

/* journal: the FT manager's append-only record of its state changes, one
 * line of text per change, so that a manager killed mid-run and started
 * again with the same arguments rebuilds its VM pool, function trees,
 * containers and answers to INVOKEs by reading it back (manager.c). It owns
 * the file and the line format; what a record means, and what replaying it
 * does, is the manager's. docs/ARCHITECTURE.md says why it looks as it
 * does. */
#ifndef FAASNET_MANAGER_JOURNAL_H
#define FAASNET_MANAGER_JOURNAL_H

#include <stdint.h>

#include "err.h"

/* What changed; which fields of struct journal_rec each carries. */
enum journal_op {
	JOURNAL_FUNCTION, /* fn, name: the functions it was written for */
	JOURNAL_VM,	  /* vm, addr, port, t_ns (its agent's start), name:
			     registered (new, back, or its agent restarted) */
	JOURNAL_DOWN,	  /* vm: lost */
	JOURNAL_DISTRUST, /* vm: never placed again */
	JOURNAL_INSERT,	  /* fn, vm: into fn's tree (ft_insert) */
	JOURNAL_DELETE,	  /* fn, vm: out of it (ft_delete) */
	JOURNAL_PLACE,	  /* container, fn, vm: placed, or placed again */
	JOURNAL_START,	  /* container, t_ns (its agent's clock), mgr_ns (the
			     manager's): up */
	JOURNAL_RELEASE,  /* container: released (idle, or by the driver) */
	JOURNAL_FAIL,	  /* container: its VM died, no VM had room */
	JOURNAL_LOST,	  /* container: its VM died after it started */
	JOURNAL_INVOKE,	  /* session, id, container (the first id it may
			     take): an INVOKE is being placed */
	JOURNAL_INVOKED,  /* session, id, container, count (0: refused for
			     want of room): what it was answered */
	JOURNAL_OP_MAX,
};

struct journal_rec {
	enum journal_op op;
	uint32_t fn, vm, container, id, count, addr;
	uint16_t port;
	uint64_t session, t_ns, mgr_ns;
	/* JOURNAL_FUNCTION, JOURNAL_VM: printable, no control character;
	 * from journal_replay, valid only during the callback */
	const char *name;
};

struct journal;

/* Opens path (created when missing) for appending, and reads what it
 * holds for journal_replay. A last line cut short (the manager was killed
 * while writing it) is cut off the file, so the next line starts clean.
 * *fresh: the file held nothing, and the caller writes its
 * JOURNAL_FUNCTION records first. 0 or a negative errno with e. */
int journal_open(const char *path, struct journal **out, int *fresh,
		 struct err *e) __attribute__((warn_unused_result));

/* Calls fn for each record read by journal_open, in order, then forgets
 * them. A line that is not a record fails with -EBADMSG and e saying
 * "path:line: what"; so does fn's failure (its own negative errno, and e
 * prefixed with the place). Returns 0 or that, and *n the records read. */
int journal_replay(struct journal *j,
		   int (*fn)(void *arg, const struct journal_rec *r,
			     struct err *e),
		   void *arg, unsigned *n, struct err *e)
	__attribute__((warn_unused_result));

/* Appends r as one line with a single write(2), at once: what the kernel
 * has taken survives the process being killed (SIGKILL included), and no
 * line is ever half in a user-space buffer. No fsync: only the kernel or
 * the host failing would lose it, and that takes the whole emulated run
 * with it. -EINVAL for a name with a control character, -ENAMETOOLONG for
 * a line over 4 KiB, or write's -errno; e says which. */
int journal_append(struct journal *j, const struct journal_rec *r,
		   struct err *e) __attribute__((warn_unused_result));

void journal_close(struct journal *j);

#endif

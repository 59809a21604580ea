/* err: a one-line, human-readable error for failures that a negative errno
 * cannot describe on its own (a parser's file:line, netlink's extended ack).
 * It owns no memory; callers keep one on the stack and print it once. */
#ifndef FAASNET_ERR_H
#define FAASNET_ERR_H

struct err {
	char msg[512];
};

/* Formats msg into e (when e is not NULL) and returns code, so that
 * `return err_set(e, -EINVAL, "...")` both records and propagates. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

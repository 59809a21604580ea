#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "outfile.h"

/* 48 random bits: a name taken anyway (planted, or a leftover) is only
 * skipped, so a few tries are plenty. */
#define OUTFILE_TRIES 16

static unsigned long long suffix(void)
{
	unsigned long long v = 0;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v & 0xffffffffffffull;
	/* No entropy yet (early boot): unguessable enough against a
	 * planted name, and O_EXCL is what keeps the write safe. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((unsigned long long)ts.tv_nsec ^
		((unsigned long long)getpid() << 30) ^
		(unsigned long long)ts.tv_sec << 20) &
	       0xffffffffffffull;
}

int outfile_open(struct outfile *of, const char *path, mode_t mode,
		 struct err *e)
{
	int i, n;

	of->fd = -1;
	of->tmp[0] = '\0';
	n = snprintf(of->path, sizeof(of->path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(of->path))
		return err_set(e, -ENAMETOOLONG, "%s: path too long", path);
	for (i = 0; i < OUTFILE_TRIES; i++) {
		n = snprintf(of->tmp, sizeof(of->tmp), "%s.part-%012llx", path,
			     suffix());
		if (n < 0 || (size_t)n >= sizeof(of->tmp)) {
			of->tmp[0] = '\0';
			return err_set(e, -ENAMETOOLONG, "%s: path too long",
				       path);
		}
		of->fd = open(of->tmp,
			      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				      O_CLOEXEC,
			      mode);
		if (of->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	n = errno;
	err_set(e, -n, "%s: %s", of->tmp, strerror(n));
	of->tmp[0] = '\0';
	return -n;
}

int outfile_commit(struct outfile *of, struct err *e)
{
	int ret = 0;

	if (close(of->fd))
		ret = err_set(e, -errno, "%s: %s", of->tmp, strerror(errno));
	of->fd = -1;
	if (!ret && rename(of->tmp, of->path))
		ret = err_set(e, -errno, "%s: %s", of->path, strerror(errno));
	if (ret)
		unlink(of->tmp);
	of->tmp[0] = '\0';
	return ret;
}

void outfile_abort(struct outfile *of)
{
	if (of->fd >= 0)
		close(of->fd);
	of->fd = -1;
	if (of->tmp[0])
		unlink(of->tmp);
	of->tmp[0] = '\0';
}

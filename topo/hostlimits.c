#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostlimits.h"
#include "topo.h"

#define NEIGH_SYSCTL "/proc/sys/net/ipv4/neigh/default/gc_thresh%d"
#define NEIGH_SAVED  TOPO_STATE_DIR "/neigh-gc-thresh"

int hostlimits_raise_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

static int read_ulong(const char *path, unsigned long *v)
{
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f)
		return -errno;
	if (fscanf(f, "%lu", v) != 1)
		ret = -EINVAL;
	fclose(f);
	return ret;
}

static int write_ulong(const char *path, unsigned long v)
{
	FILE *f = fopen(path, "we");
	int ret = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%lu\n", v) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

static int thresh_path(int i, char *buf, size_t len)
{
	int n = snprintf(buf, len, NEIGH_SYSCTL, i);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int hostlimits_raise_neigh(unsigned nhosts, struct err *e)
{
	unsigned long old[3], want[3];
	char path[128];
	FILE *f;
	int i, ret;

	for (i = 0; i < 3; i++) {
		ret = thresh_path(i + 1, path, sizeof(path));
		if (!ret)
			ret = read_ulong(path, &old[i]);
		if (ret)
			return err_set(e, ret, "%s: %s", path, strerror(-ret));
	}
	want[0] = 8ul * nhosts;
	want[1] = 32ul * nhosts;
	want[2] = 64ul * nhosts;
	if (old[0] >= want[0] && old[1] >= want[1] && old[2] >= want[2])
		return 0;

	if (mkdir(TOPO_STATE_DIR, 0755) && errno != EEXIST)
		return err_set(e, -errno, "%s: %s", TOPO_STATE_DIR,
			       strerror(errno));
	if (access(NEIGH_SAVED, F_OK)) {
		f = fopen(NEIGH_SAVED, "we");
		if (!f)
			return err_set(e, -errno, "%s: %s", NEIGH_SAVED,
				       strerror(errno));
		fprintf(f, "%lu %lu %lu\n", old[0], old[1], old[2]);
		if (fclose(f))
			return err_set(e, -errno, "%s: %s", NEIGH_SAVED,
				       strerror(errno));
	}
	/* Highest first: the kernel keeps thresh1 <= thresh2 <= thresh3
	 * only by convention, but a person reading them mid-way should not
	 * see them crossed. */
	for (i = 2; i >= 0; i--) {
		if (old[i] >= want[i])
			continue;
		ret = thresh_path(i + 1, path, sizeof(path));
		if (!ret)
			ret = write_ulong(path, want[i]);
		if (ret)
			return err_set(e, ret, "%s: %s", path, strerror(-ret));
	}
	return 0;
}

int hostlimits_restore_neigh(struct err *e)
{
	unsigned long old[3];
	char path[128];
	FILE *f;
	int i, ret = 0;

	f = fopen(NEIGH_SAVED, "re");
	if (!f)
		return errno == ENOENT ? 0
				       : err_set(e, -errno, "%s: %s",
						 NEIGH_SAVED, strerror(errno));
	if (fscanf(f, "%lu %lu %lu", &old[0], &old[1], &old[2]) != 3)
		ret = err_set(e, -EINVAL, "%s: expected three numbers",
			      NEIGH_SAVED);
	fclose(f);
	for (i = 0; !ret && i < 3; i++) {
		ret = thresh_path(i + 1, path, sizeof(path));
		if (!ret)
			ret = write_ulong(path, old[i]);
		if (ret)
			err_set(e, ret, "%s: %s", path, strerror(-ret));
	}
	if (!ret)
		unlink(NEIGH_SAVED);
	return ret;
}

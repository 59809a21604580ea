#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "netns.h"

static int dir_is_empty(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int empty = 1;

	if (!d)
		return 0;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/* Whether the topmost mount on /run/netns is the tmpfs netns_prepare made. */
static int run_dir_is_our_tmpfs(void)
{
	char line[1024], mnt[512], fstype[64], source[128];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ours = 0;

	if (!f)
		return 0;
	/* id parent major:minor root mountpoint options [optional...] -
	 * fstype source superoptions; the last match is the topmost. */
	while (fgets(line, sizeof(line), f)) {
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    strcmp(mnt, NETNS_RUN_DIR))
			continue;
		ours = sscanf(dash, " - %63s %127s", fstype, source) == 2 &&
		       !strcmp(fstype, "tmpfs") && !strcmp(source, NETNS_TMPFS);
	}
	fclose(f);
	return ours;
}

int netns_prepare(void)
{
	struct statfs sf;
	int bound = 0;

	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST)
		return -errno;
	/* Where /run lives on a disk rather than in memory, creating the
	 * thousand mount-point files costs more than building the network
	 * (ext4 skips recently freed inodes: 0.5 s per thousand was measured
	 * here). A tmpfs makes it free; only put one over an empty directory,
	 * so no namespace made by someone else is hidden, and netns_release
	 * takes it away again when it is empty. */
	if (!statfs(NETNS_RUN_DIR, &sf) && sf.f_type != TMPFS_MAGIC &&
	    dir_is_empty(NETNS_RUN_DIR))
		mount(NETNS_TMPFS, NETNS_RUN_DIR, "tmpfs",
		      MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
	while (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL)) {
		if (errno != EINVAL || bound)
			return -errno;
		/* Not a mount point yet: bind it onto itself first. */
		if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none",
			  MS_BIND | MS_REC, NULL))
			return -errno;
		bound = 1;
	}
	return 0;
}

int netns_release(void)
{
	if (!run_dir_is_our_tmpfs() || !dir_is_empty(NETNS_RUN_DIR))
		return 0;
	return umount2(NETNS_RUN_DIR, MNT_DETACH) ? -errno : 0;
}

static int ns_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", NETNS_RUN_DIR, name);

	if (n < 0 || (size_t)n >= len || strchr(name, '/') || !*name)
		return -EINVAL;
	return 0;
}

int netns_create(const char *name, int (*init)(void *arg), void *arg, int *fd)
{
	char path[256];
	int self = -1, nsfd = -1, made = 0, mounted = 0;
	int ret, back;

	ret = ns_path(name, path, sizeof(path));
	if (ret)
		return ret;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	ret = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	close(ret);
	ret = 0;
	made = 1;

	if (unshare(CLONE_NEWNET)) {
		ret = -errno;
		goto out;
	}
	/* The descriptor comes from /proc while we are inside: reopening the
	 * bind mount by its path costs a walk on the disk's filesystem. */
	nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		ret = -errno;
	else if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL))
		ret = -errno;
	else
		mounted = 1;
	if (!ret && init)
		ret = init(arg);
	/* Whatever happened inside, the thread must go home. */
	back = setns(self, CLONE_NEWNET) ? -errno : 0;
	if (!ret)
		ret = back;
out:
	if ((ret || !fd) && nsfd >= 0)
		close(nsfd);
	if (ret && mounted)
		umount2(path, MNT_DETACH);
	if (ret && made)
		unlink(path);
	if (!ret && fd)
		*fd = nsfd;
	close(self);
	return ret;
}

int netns_open(const char *name)
{
	char path[256];
	int fd, ret;

	ret = ns_path(name, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int netns_delete(const char *name)
{
	char path[256];
	int ret;

	ret = ns_path(name, path, sizeof(path));
	if (ret)
		return ret;
	/* EINVAL: not a mount point, as a killed `up` can leave between
	 * creating the file and mounting on it; the file still goes. */
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path))
		return -errno;
	return 0;
}

int netns_run(int nsfd, int (*fn)(void *arg), void *arg)
{
	int self, ret;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (setns(nsfd, CLONE_NEWNET)) {
		ret = -errno;
		goto out;
	}
	ret = fn(arg);
	if (setns(self, CLONE_NEWNET) && !ret)
		ret = -errno;
out:
	close(self);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int netns_list(const char *prefix, char ***names, size_t *n)
{
	struct dirent *de;
	char **v = NULL, **nv;
	size_t len = 0, cap = 0;
	DIR *d;
	int ret = 0;

	*names = NULL;
	*n = 0;
	d = opendir(NETNS_RUN_DIR);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		if (len == cap) {
			cap = cap ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				ret = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[len] = strdup(de->d_name);
		if (!v[len]) {
			ret = -ENOMEM;
			goto out;
		}
		len++;
	}
	if (len)
		qsort(v, len, sizeof(*v), cmp_str);
out:
	closedir(d);
	if (ret) {
		netns_list_free(v, len);
		return ret;
	}
	*names = v;
	*n = len;
	return 0;
}

void netns_list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* trace: records a real start-up trace for a converted image layout. It
 * unpacks the layer's root filesystem into a temp folder, runs a command in
 * it under strace (a mount namespace of its own with /proc, /dev and /sys,
 * then chroot), maps every read of a file of the layer onto the layer's
 * tar offsets (tracemap.c) and writes a version 2 index with that trace
 * and the start-up set it reads into the layout, in place: the new index
 * and manifest are added, the old ones stay as blobs nothing refers to.
 *
 * Why strace and not fanotify: fanotify says which file was opened or
 * read, never where or how much, and a block is chosen by offset. strace
 * -y gives every read's descriptor's path, and its length; the position
 * of a read(2) is followed from open, lseek and earlier reads. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "jsonout.h"
#include "layer.h"
#include "oci.h"
#include "tarscan.h"
#include "tracemap.h"

/* The calls a start's reads are made of, those that move a descriptor's
 * position or name it, and those that make a process (whose descriptor
 * table is shared or copied). */
#define TRACED_CALLS                                                           \
	"trace=execve,execveat,chroot,clone,clone3,fork,vfork,open,openat,"   \
	"openat2,creat,close,read,readv,pread64,preadv,preadv2,lseek,mmap"
#define OCI_REF_NAME "org.opencontainers.image.ref.name"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct unpack {
	int rootfd;
	struct tracemap_files *files;
	int fd; /* the regular file being written, or -1 */
	uint64_t next_report;
	size_t skipped; /* devices and fifos: /dev is mounted instead */
};

/* The folder an entry goes in, resolved inside the root: no entry's path
 * or earlier symlink can make a write land outside it. */
static int parent_of(int rootfd, const char *path, const char **base)
{
	struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
			       .resolve =
				       RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	char dir[4096];
	const char *sl = strrchr(path, '/');
	long fd;

	*base = sl ? sl + 1 : path;
	snprintf(dir, sizeof(dir), "%.*s", sl ? (int)(sl - path) : 1,
		 sl ? path : ".");
	fd = syscall(SYS_openat2, rootfd, dir, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static int unpack_entry(void *arg, const struct tarscan_entry *en,
			struct err *e)
{
	struct unpack *u = arg;
	struct timespec ts[2] = {{.tv_sec = en->mtime}, {.tv_sec = en->mtime}};
	const char *p = en->name, *base;
	char name[4096];
	size_t n;
	int ret, pfd;

	ret = tracemap_files_add(u->files, en);
	if (ret)
		return err_set(e, ret, "out of memory");
	if (stop_signal)
		return err_set(e, -EINTR, "interrupted");
	if (en->data_off >= u->next_report) {
		fprintf(stderr, "trace: unpacking: %" PRIu64 " MB\n",
			en->data_off >> 20);
		u->next_report += 64u << 20;
	}
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	/* A folder's name ends in '/'. */
	if (snprintf(name, sizeof(name), "%s", p) >= (int)sizeof(name))
		return err_set(e, -ENAMETOOLONG,
			       "tar entry %.64s...: name too "
			       "long",
			       p);
	for (n = strlen(name); n && name[n - 1] == '/'; n--)
		name[n - 1] = '\0';
	p = name;
	if (!*p || !strcmp(p, "."))
		return 0;
	if (strstr(p, "..") &&
	    (!strncmp(p, "../", 3) || strstr(p, "/../") || !strcmp(p, "..")))
		return err_set(e, -EBADMSG, "tar entry %s: '..' in its path",
			       en->name);
	pfd = parent_of(u->rootfd, p, &base);
	if (pfd < 0)
		return err_set(e, pfd, "tar entry %s: its folder: %s", en->name,
			       strerror(-pfd));
	ret = 0;
	switch (en->type) {
	case TARSCAN_DIR:
		if (mkdirat(pfd, base, 0700) && errno != EEXIST)
			ret = -errno;
		else if (fchmodat(pfd, base, en->mode, 0))
			ret = -errno;
		break;
	case TARSCAN_REG:
		if (unlinkat(pfd, base, 0) && errno != ENOENT)
			ret = -errno;
		u->fd = ret ? -1
			    : openat(pfd, base,
				     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					     O_CLOEXEC,
				     0600);
		if (!ret && u->fd < 0)
			ret = -errno;
		break;
	case TARSCAN_SYMLINK:
		if (unlinkat(pfd, base, 0) && errno != ENOENT)
			ret = -errno;
		else if (symlinkat(en->linkname, pfd, base))
			ret = -errno;
		else if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW))
			ret = -errno;
		break;
	case TARSCAN_HARDLINK: {
		const char *tp = en->linkname, *tbase;
		int tfd;

		while (tp[0] == '.' && tp[1] == '/')
			tp += 2;
		tfd = parent_of(u->rootfd, tp, &tbase);
		if (tfd < 0) {
			ret = tfd;
			break;
		}
		if (unlinkat(pfd, base, 0) && errno != ENOENT)
			ret = -errno;
		else if (linkat(tfd, tbase, pfd, base, 0))
			ret = -errno;
		close(tfd);
		break;
	}
	default:
		u->skipped++;
		break;
	}
	close(pfd);
	if (ret)
		return err_set(e, ret, "tar entry %s: %s", en->name,
			       strerror(-ret));
	return 0;
}

static int unpack_data(void *arg, const struct tarscan_entry *en,
		       const void *buf, size_t len, struct err *e)
{
	struct unpack *u = arg;
	const char *p = buf;

	while (u->fd >= 0 && len) {
		ssize_t n = write(u->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(e, -errno, "%s: write: %s", en->name,
				       strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Mode and mtime last: Python trusts a .pyc only while its source's
 * mtime is the one it recorded, so a start reads the .pyc files it would
 * in the image and not the sources. */
static int unpack_end(void *arg, const struct tarscan_entry *en, struct err *e)
{
	struct unpack *u = arg;
	struct timespec ts[2] = {{.tv_sec = en->mtime}, {.tv_sec = en->mtime}};
	int ret = 0;

	if (u->fd < 0)
		return 0;
	if (fchmod(u->fd, en->mode) || futimens(u->fd, ts))
		ret = -errno;
	if (close(u->fd) && !ret)
		ret = -errno;
	u->fd = -1;
	return ret ? err_set(e, ret, "%s: %s", en->name, strerror(-ret)) : 0;
}

static int to_tarscan(void *arg, const void *buf, size_t len, struct err *e)
{
	return tarscan_add(arg, buf, len, e);
}

static int unpack_layer(const char *blob, const char *media_type,
			const char *root, struct tracemap_files *files,
			struct err *e)
{
	static const struct tarscan_ops ops = {.entry = unpack_entry,
					       .data = unpack_data,
					       .entry_end = unpack_end};
	struct unpack u = {.files = files, .fd = -1};
	struct tarscan *ts = NULL;
	int ret;

	if (mkdir(root, 0755))
		return err_set(e, -errno, "%s: %s", root, strerror(errno));
	u.rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (u.rootfd < 0)
		return err_set(e, -errno, "%s: %s", root, strerror(errno));
	ret = tarscan_new(&ops, &u, &ts);
	if (ret)
		err_set(e, ret, "out of memory");
	if (!ret)
		ret = layer_read_tar(blob, media_type, to_tarscan, ts, e);
	if (!ret)
		ret = tarscan_finish(ts, e);
	/* Where the kernel's file systems are mounted for the command. */
	if (!ret && ((mkdirat(u.rootfd, "proc", 0555) && errno != EEXIST) ||
		     (mkdirat(u.rootfd, "dev", 0755) && errno != EEXIST) ||
		     (mkdirat(u.rootfd, "sys", 0555) && errno != EEXIST)))
		ret = err_set(e, -errno, "%s: %s", root, strerror(errno));
	if (!ret)
		fprintf(stderr,
			"trace: unpacked %.1f MB (%zu devices and fifos "
			"skipped)\n",
			(double)tarscan_offset(ts) / 1e6, u.skipped);
	if (u.fd >= 0)
		close(u.fd);
	tarscan_free(ts);
	close(u.rootfd);
	return ret;
}

/* The child: a mount namespace of its own (the mounts go with it), the
 * kernel's file systems inside the root, then strace running chroot. */
static void run_child(const char *root, const char *out, char **cmd)
{
	static const char *sub[] = {"proc", "dev", "sys"};
	char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
		       "/sbin:/bin",
		       "HOME=/root", NULL};
	char *argv[64 + 16], path[4200 + 8];
	int i, n = 0, nul;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		fprintf(stderr, "trace: mount namespace: %s\n",
			strerror(errno));
		_exit(126);
	}
	for (i = 0; i < 3; i++) {
		int r;

		snprintf(path, sizeof(path), "%s/%s", root, sub[i]);
		r = i == 0 ? mount("proc", path, "proc",
				   MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)
			   : mount(i == 1 ? "/dev" : "/sys", path, NULL,
				   MS_BIND | MS_REC, NULL);
		if (r) {
			fprintf(stderr, "trace: mount %s: %s\n", path,
				strerror(errno));
			_exit(126);
		}
	}
	nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(2, 1) < 0)
		_exit(126);
	argv[n++] = "strace";
	argv[n++] = "-f";
	argv[n++] = "-ttt";
	argv[n++] = "-y";
	argv[n++] = "-q";
	argv[n++] = "-s";
	argv[n++] = "0";
	argv[n++] = "-e";
	argv[n++] = TRACED_CALLS;
	argv[n++] = "-o";
	argv[n++] = (char *)out;
	argv[n++] = "--";
	argv[n++] = "chroot";
	argv[n++] = (char *)root;
	for (i = 0; cmd[i] && n < (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	     i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	execvpe("strace", argv, env);
	fprintf(stderr, "trace: strace: %s (apt-get install strace)\n",
		strerror(errno));
	_exit(127);
}

/* Runs the command; its exit status (strace exits with it), or a negative
 * errno. A signal to us ends the child by its PID. */
static int run_traced(const char *root, const char *out, char **cmd,
		      struct err *e)
{
	pid_t pid, w;
	int st, killed = 0;

	fprintf(stderr, "trace: running");
	for (st = 0; cmd[st]; st++)
		fprintf(stderr, " %s", cmd[st]);
	fprintf(stderr, " under strace\n");
	pid = fork();
	if (pid < 0)
		return err_set(e, -errno, "fork: %s", strerror(errno));
	if (pid == 0)
		run_child(root, out, cmd);
	for (;;) {
		w = waitpid(pid, &st, 0);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return err_set(e, -errno, "waitpid: %s",
				       strerror(errno));
		if (stop_signal && !killed) {
			kill(pid, SIGTERM);
			killed = 1;
		}
	}
	if (stop_signal)
		return err_set(e, -EINTR, "interrupted (signal %d)",
			       (int)stop_signal);
	if (WIFSIGNALED(st))
		return err_set(e, -ECHILD, "strace killed by signal %d",
			       WTERMSIG(st));
	return WEXITSTATUS(st);
}

static int parse_strace(const char *file, const char *root,
			struct tracemap_rec **rec, struct err *e)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	FILE *f;
	int ret;

	ret = tracemap_rec_new(root, rec);
	if (ret)
		return err_set(e, ret, "out of memory");
	f = fopen(file, "re");
	if (!f)
		return err_set(e, -errno, "%s: %s", file, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		struct err le = {""};

		lineno++;
		ret = tracemap_rec_line(*rec, line, &le);
		if (ret) {
			err_set(e, ret, "%s:%zu: %s", file, lineno,
				le.msg[0] ? le.msg : strerror(-ret));
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The tag the layout's one manifest has, so that rewriting index.json
 * keeps it. */
static void layout_tag(const char *dir, char *tag, size_t len)
{
	char path[4096];
	json_t *j, *m;
	const char *t;

	snprintf(tag, len, "latest");
	snprintf(path, sizeof(path), "%s/index.json", dir);
	j = json_load_file(path, 0, NULL);
	m = json_array_get(json_object_get(j, "manifests"), 0);
	t = json_string_value(json_object_get(json_object_get(m, "annotations"),
					      OCI_REF_NAME));
	if (t)
		snprintf(tag, len, "%s", t);
	json_decref(j);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: faasnet-image trace LAYOUT [--tag T] [--strace-out "
		   "FILE] "
		   "[--json]\n                           -- CMD [ARG...]\n"
		   "  Records the start-up trace of CMD run in the root file "
		   "system of a\n  layout made by `faasnet-image convert` (one "
		   "layer), and writes it into\n  the layout: a version 2 "
		   "block index, its start-up set the blocks the\n  trace "
		   "reads, and a new manifest. Needs root (a mount namespace "
		   "and\n  chroot) and strace. --strace-out keeps strace's own "
		   "record in FILE.\n  docs/trace.md says what is recorded and "
		   "how.\n");
}

int trace_main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal}, old[3];
	static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	const char *layout = NULL, *tagarg = NULL, *keep = NULL;
	char **cmd = NULL, tmp[4096], root[4200], out[4200], blob[4096];
	char tag[256], *man = NULL, *ixbuf = NULL, *nman = NULL;
	struct oci_image img = {0};
	struct blockimg_index ix = {0};
	struct tracemap_files *files = NULL;
	struct tracemap_rec *rec = NULL;
	struct tracemap_result res;
	struct tracemap_stats st;
	struct err e = {""};
	uint8_t *enc = NULL;
	size_t len, enclen, nlen;
	uint64_t su_bytes = 0;
	int json = 0, usage_err = 0, ret, i, status;
	const char *tmpdir = getenv("TMPDIR");

	tmp[0] = '\0';
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			cmd = argv + i + 1;
			break;
		} else if (!strcmp(argv[i], "--tag") && i + 1 < argc) {
			tagarg = argv[++i];
		} else if (!strcmp(argv[i], "--strace-out") && i + 1 < argc) {
			keep = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && !layout) {
			layout = argv[i];
		} else {
			fprintf(stderr, "trace: unexpected argument '%s'\n",
				argv[i]);
			usage_err = 1;
			break;
		}
	}
	if (!usage_err && (!layout || !cmd || !cmd[0])) {
		fprintf(stderr, "trace: %s\n",
			!layout ? "missing LAYOUT"
				: "missing '-- CMD': the command to trace");
		usage_err = 1;
	}
	if (usage_err) {
		usage(stderr);
		return IMAGE_EXIT_USAGE;
	}

	/* The layout: one layer, converted, its index read and checked. */
	ret = oci_layout_get_manifest(layout, tagarg, &man, &len, &e);
	if (!ret)
		ret = oci_manifest_parse(man, len, &img, &e);
	if (!ret && img.nlayers != 1)
		ret = err_set(&e, -ENOTSUP,
			      "%s: %u layers: trace takes an image of one "
			      "layer",
			      layout, img.nlayers);
	if (!ret && !img.layers[0].has_blocks)
		ret = err_set(&e, -EINVAL,
			      "%s: the layer has no block index: run "
			      "`faasnet-image convert` first",
			      layout);
	if (!ret)
		ret = oci_layout_read_blob(layout, img.layers[0].index.digest,
					   &ixbuf, &len, &e);
	if (!ret)
		ret = blockimg_index_decode((uint8_t *)ixbuf, len, &ix, &e);
	if (!ret && oci_layout_blob_path(layout, img.layers[0].blob.digest,
					 blob, sizeof(blob)))
		ret = err_set(&e, -EINVAL, "bad layer digest");
	if (ret) {
		fprintf(stderr, "trace: %s\n",
			e.msg[0] ? e.msg : strerror(-ret));
		status = IMAGE_EXIT_USAGE;
		goto out;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "trace: needs root (a mount namespace and "
				"chroot)\n");
		status = IMAGE_EXIT_FAILED;
		goto out;
	}
	if (tagarg)
		snprintf(tag, sizeof(tag), "%s", tagarg);
	else
		layout_tag(layout, tag, sizeof(tag));

	/* From here every way out removes the temp folder. A signal stops
	 * the work where it is checked (unpacking, waiting). */
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	status = IMAGE_EXIT_FAILED;
	snprintf(tmp, sizeof(tmp), "%s/fnet-trace-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(tmp)) {
		err_set(&e, -errno, "%s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		goto fail;
	}
	snprintf(root, sizeof(root), "%s/rootfs", tmp);
	snprintf(out, sizeof(out), "%s", keep ? keep : "");
	if (!keep)
		snprintf(out, sizeof(out), "%s/strace.txt", tmp);
	ret = tracemap_files_new(&files);
	if (ret) {
		err_set(&e, ret, "out of memory");
		goto fail;
	}
	ret = unpack_layer(blob, img.layers[0].blob.media_type, root, files,
			   &e);
	if (ret)
		goto fail;
	ret = run_traced(root, out, cmd, &e);
	if (ret < 0)
		goto fail;
	if (ret) {
		err_set(&e, -ECHILD, "%s exited %d: no trace written", cmd[0],
			ret);
		goto fail;
	}
	ret = parse_strace(out, root, &rec, &e);
	if (ret)
		goto fail;
	tracemap_rec_result(rec, &res);
	if (res.t_start_us < 0) {
		err_set(&e, -EBADMSG, "%s: no chroot(2) in strace's output",
			out);
		goto fail;
	}
	fprintf(stderr,
		"trace: %zu reads of the image's files (%zu of others "
		"ignored)\n",
		res.nreads, res.ignored);
	ret = tracemap_build(&res, files, &ix.trace, &ix.ntrace, &st, &e);
	if (ret)
		goto fail;
	ret = blockimg_startup_from_trace(&ix);
	if (ret) {
		err_set(&e, ret, "start-up set: %s", strerror(-ret));
		goto fail;
	}
	for (i = 0; i < (int)ix.nstartup; i++)
		su_bytes += ix.blocks[ix.startup[i]].ulen;

	/* The new index and manifest, beside the old. */
	ret = blockimg_index_encode(&ix, &enc, &enclen);
	if (ret) {
		err_set(&e, ret, "index: %s", strerror(-ret));
		goto fail;
	}
	ret = oci_layout_put(layout, enc, enclen, img.layers[0].index.digest,
			     &e);
	if (ret)
		goto fail;
	img.layers[0].index.size = enclen;
	snprintf(img.layers[0].index.media_type,
		 sizeof(img.layers[0].index.media_type), "%s",
		 blockimg_index_media_type(&ix));
	ret = oci_manifest_build(&img, &nman, &nlen, &e);
	if (!ret)
		ret = oci_layout_set_manifest(layout, nman, nlen, tag, &e);
	if (ret)
		goto fail;
	fprintf(stderr,
		"trace: %s: %u reads of %u files, %.1f MB (%.1f MB with "
		"repeats), %u of %u blocks (%.1f%% of the layer), %.3f s "
		"of compute, %.3f s in all\n",
		layout, ix.ntrace - 1, st.files, (double)st.bytes / 1e6,
		(double)st.bytes_total / 1e6, ix.nstartup, ix.nblocks,
		ix.size ? 100.0 * (double)su_bytes / (double)ix.size : 0.0,
		(double)st.compute_us / 1e6,
		(double)(res.t_end_us - res.t_start_us) / 1e6);
	status = 0;
	if (json &&
	    jsonout_print(json_pack(
		    "{s:s, s:s, s:i, s:i, s:I, s:I, s:i, s:i, s:I, s:I, s:f, "
		    "s:f, s:i}",
		    "layout", layout, "index", img.layers[0].index.digest,
		    "reads", (int)ix.ntrace - 1, "files", (int)st.files,
		    "bytes", (json_int_t)st.bytes, "bytes_with_repeats",
		    (json_int_t)st.bytes_total, "blocks", (int)ix.nstartup,
		    "layer_blocks", (int)ix.nblocks, "startup_bytes",
		    (json_int_t)su_bytes, "layer_bytes", (json_int_t)ix.size,
		    "compute_s", (double)st.compute_us / 1e6, "trace_s",
		    (double)(res.t_end_us - res.t_start_us) / 1e6,
		    "not_in_layer", (int)st.not_in_layer)))
		status = IMAGE_EXIT_FAILED;
	goto cleanup;
fail:
	fprintf(stderr, "trace: %s\n", e.msg[0] ? e.msg : strerror(-ret));
cleanup:
	if (tmp[0]) {
		/* FTW_MOUNT: never into a mount, should one outlive the
		 * child's namespace. */
		nftw(tmp, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		if (!access(tmp, F_OK))
			fprintf(stderr, "trace: could not remove %s\n", tmp);
	}
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
out:
	tracemap_rec_free(rec);
	tracemap_files_free(files);
	blockimg_index_free(&ix);
	oci_image_free(&img);
	free(enc);
	free(man);
	free(ixbuf);
	free(nman);
	return stop_signal ? 128 + stop_signal : status;
}

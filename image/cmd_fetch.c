/* fetch: blocks of an image from a registry by range requests, each
 * verified against its digest, written at their offsets in the layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "fetch.h"
#include "jsonout.h"
#include "outfile.h"

struct out_ctx {
	int fd;
	const struct blockimg_index *ix;
	int whole; /* every block: check the diff_id too */
	struct sha256_ctx sha;
	uint32_t next; /* the block the running digest expects */
	struct err *e;
};

static int write_block(void *arg, uint32_t block, const void *cdata,
		       size_t clen, const void *data, size_t len)
{
	struct out_ctx *o = arg;
	const char *p = data;
	off_t off = (off_t)block * o->ix->block_size;
	ssize_t n;

	(void)cdata;
	(void)clen;
	if (o->whole) {
		if (block != o->next)
			return err_set(o->e, -EBADMSG, "block %u out of order",
				       block);
		o->next++;
		if (sha256_update(&o->sha, data, len))
			return err_set(o->e, -EIO, "sha256 failed");
	}
	while (len) {
		n = pwrite(o->fd, p, len, off);
		if (n < 0)
			return err_set(o->e, -errno, "write: %s",
				       strerror(errno));
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "3,5,7-9" into a malloc'd list. */
static int parse_list(const char *s, uint32_t **out, uint32_t *n)
{
	uint32_t *v = NULL, *nv, cap = 0, len = 0, a, b, x;
	const char *p = s;
	char *end;

	while (*p) {
		errno = 0;
		a = (uint32_t)strtoul(p, &end, 10);
		if (errno || end == p || *p == '-')
			goto bad;
		b = a;
		if (*end == '-') {
			p = end + 1;
			b = (uint32_t)strtoul(p, &end, 10);
			if (errno || end == p || b < a || b - a > (1u << 24))
				goto bad;
		}
		for (x = a; x <= b; x++) {
			if (len == cap) {
				cap = cap ? 2 * cap : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					goto bad;
				v = nv;
			}
			v[len++] = x;
			if (x == UINT32_MAX)
				break;
		}
		if (*end == ',')
			end++;
		else if (*end)
			goto bad;
		p = end;
	}
	if (!len)
		goto bad;
	*out = v;
	*n = len;
	return 0;
bad:
	free(v);
	return -EINVAL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: faasnet-image fetch REF (--all | --startup | "
		"--blocks LIST) --out FILE\n"
		"         [--layer N] [--parallel N] [--json]\n"
		"  Reads blocks by range requests, verifies each against "
		"its digest and writes\n  them at their offsets in FILE "
		"(the uncompressed layer; with --all, checked\n  against "
		"the layer's diff_id). LIST is like 0,5,7-9.\n"
		"  FILE appears only once complete; a device such as "
		"/dev/null is written\n  in place (to time the fetch "
		"without the disk).\n"
		"  --parallel N keeps N range requests in flight (1 to %d; "
		"default 1,\n  and always 1 with --all, whose blocks are "
		"hashed in order).\n",
		REGISTRY_MAX_PARALLEL);
}

int fetch_main(int argc, char **argv)
{
	struct fetch_image fi;
	struct fetch_stats st = {0};
	struct out_ctx o = {.fd = -1};
	struct outfile of = {.fd = -1};
	struct err e = {""};
	const char *ref = NULL, *out = NULL, *list = NULL;
	uint32_t *blocks = NULL, n = 0, i;
	char got[SHA256_OCI_LEN];
	struct stat sb;
	int device = 0;
	uint8_t d[SHA256_LEN];
	unsigned layer = 0;
	int all = 0, startup = 0, json = 0, ret, opened = 0, parallel = 1;
	double t0, secs;

	for (i = 1; i < (uint32_t)argc; i++) {
		if (!strcmp(argv[i], "--all"))
			all = 1;
		else if (!strcmp(argv[i], "--startup"))
			startup = 1;
		else if (!strcmp(argv[i], "--blocks") && i + 1 < (uint32_t)argc)
			list = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < (uint32_t)argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--layer") && i + 1 < (uint32_t)argc)
			layer = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--parallel") &&
			 i + 1 < (uint32_t)argc) {
			parallel = atoi(argv[++i]);
			if (parallel < 1 || parallel > REGISTRY_MAX_PARALLEL) {
				fprintf(stderr,
					"fetch: --parallel: expected 1 to %d, "
					"got \"%s\"\n",
					REGISTRY_MAX_PARALLEL, argv[i]);
				return IMAGE_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && !ref)
			ref = argv[i];
		else
			break;
	}
	if (i < (uint32_t)argc || !ref || !out || all + startup + !!list != 1) {
		usage(stderr);
		return IMAGE_EXIT_USAGE;
	}
	if (list && parse_list(list, &blocks, &n)) {
		fprintf(stderr,
			"fetch: --blocks: expected a list like 0,5,7-9, "
			"got \"%s\"\n",
			list);
		return IMAGE_EXIT_USAGE;
	}
	t0 = now();
	ret = fetch_open(ref, NULL, &fi, &e);
	if (ret)
		goto out;
	opened = 1;
	ret = fetch_indexes(&fi, &e);
	if (ret)
		goto out;
	fi.parallel = all ? 1 : (unsigned)parallel;
	if (layer >= fi.img.nlayers || !fi.img.layers[layer].has_blocks) {
		ret = err_set(&e, -EINVAL, "%s: layer %u has no block blobs",
			      ref, layer);
		goto out;
	}
	o.ix = &fi.ix[layer];
	if (all || startup) {
		n = all ? o.ix->nblocks : o.ix->nstartup;
		blocks = malloc((n ? n : 1) * sizeof(*blocks));
		if (!blocks) {
			ret = err_set(&e, -ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < n; i++)
			blocks[i] = all ? i : o.ix->startup[i];
	}
	/* A file is written aside and renamed at the end (outfile.h): a
	 * failed fetch leaves no file that looks like a layer. A character
	 * device (say /dev/null, to measure the fetch without the disk) is
	 * written in place: renaming over it would replace the device with a
	 * file. No link is followed: --out names what to write, not a way to
	 * somewhere else. */
	if (!lstat(out, &sb) && !S_ISREG(sb.st_mode)) {
		if (!S_ISCHR(sb.st_mode)) {
			ret = err_set(
				&e, -EINVAL,
				"%s: not a regular file or a character "
				"device%s",
				out,
				S_ISLNK(sb.st_mode)
					? " (a symbolic link, not followed)"
					: "");
			goto out;
		}
		device = 1;
		o.fd = open(out, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (o.fd < 0) {
			ret = err_set(&e, -errno, "%s: %s", out,
				      strerror(errno));
			goto out;
		}
		/* What lstat saw may have been swapped since. */
		if (fstat(o.fd, &sb) || !S_ISCHR(sb.st_mode)) {
			ret = err_set(&e, -EINVAL,
				      "%s: expected a character device", out);
			goto out;
		}
	} else {
		ret = outfile_open(&of, out, 0644, &e);
		if (ret)
			goto out;
		o.fd = of.fd;
		if (ftruncate(o.fd, (off_t)o.ix->size)) {
			ret = err_set(&e, -errno, "%s: %s", of.tmp,
				      strerror(errno));
			goto out;
		}
	}
	o.e = &e;
	o.whole = all;
	if (all && sha256_init(&o.sha)) {
		ret = err_set(&e, -ENOMEM, "sha256: out of memory");
		goto out;
	}
	ret = fetch_blocks(&fi, layer, blocks, n, write_block, &o, &st, &e);
	if (all) {
		int r = sha256_final(&o.sha, d);

		if (!ret && r)
			ret = err_set(&e, -EIO, "sha256 failed");
		if (!ret &&
		    strcmp(sha256_oci(d, got), fi.img.layers[layer].diff_id))
			ret = err_set(&e, -EBADMSG,
				      "layer %u: blocks joined have digest %s, "
				      "the config's diff_id is %s",
				      layer, got, fi.img.layers[layer].diff_id);
	}
	if (!ret && device) {
		if (close(o.fd))
			ret = err_set(&e, -errno, "%s: %s", out,
				      strerror(errno));
		o.fd = -1;
	} else if (!ret) {
		ret = outfile_commit(&of, &e);
	}
	if (ret)
		goto out;
	secs = now() - t0;
	fprintf(stderr,
		"fetch: %u blocks, %.1f MB from the registry in %u range "
		"request(s), "
		"%.2f s (%.1f MB/s), every block verified%s\n",
		st.blocks, (double)st.bytes / 1e6, st.requests, secs,
		secs > 0 ? (double)st.bytes / 1e6 / secs : 0.0,
		all ? "; diff_id matches" : "");
	if (json && jsonout_print(json_pack(
			    "{s:i, s:I, s:I, s:i, s:f}", "blocks",
			    (int)st.blocks, "bytes", (json_int_t)st.bytes,
			    "meta_bytes", (json_int_t)fi.meta_bytes, "requests",
			    (int)st.requests, "seconds", secs)))
		ret = -EIO;
out:
	if (device && o.fd >= 0)
		close(o.fd);
	outfile_abort(&of);
	if (ret)
		fprintf(stderr, "fetch: %s\n",
			e.msg[0] ? e.msg : strerror(-ret));
	if (opened)
		fetch_close(&fi);
	free(blocks);
	return ret ? IMAGE_EXIT_FAILED : 0;
}

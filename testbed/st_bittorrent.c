/* bittorrent: the Kraken-like P2P baseline, with real tools: Debian's
 * opentracker in the registry host as tracker, one aria2c origin seeder on
 * a VM-sized host (the manager's host, idle in these runs), and one aria2c
 * per VM and image that fetches the whole tar+gzip layer through the swarm
 * and seeds while the others fetch (offline: no DHT, no local peer
 * discovery). Containers are placed as the manager places them (place.h:
 * up to env->per_vm a VM, a VM already running the function first, then
 * the fullest, then the seeded order); the containers of one image on one
 * VM share its download. A container counts as its image ready when the
 * download is complete and the layer unpacks to its diff_id, as with the
 * registry baseline; its start is then modelled (strategy_fact.after_ns):
 * the function's runtime start plus its trace's compute. It owns the
 * torrents, the tracker, the seeder and the downloads of one run. Under
 * time dilation opentracker, the seeder and every aria2c run under
 * libfaketime (procs_set_dilation); without libfaketime the run fails
 * before anything starts. docs/bittorrent.md tells how. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "driver.h"
#include "eventlog.h"
#include "evloop.h"
#include "netmon.h"
#include "oci.h"
#include "place.h"
#include "plan.h"
#include "procs.h"
#include "scenario.h"
#include "sha256.h"
#include "strategy.h"

#define OPENTRACKER "/usr/bin/opentracker"
#define ARIA2C	    "/usr/bin/aria2c"
#define MKTORRENT   "/usr/bin/mktorrent"

/* Pieces of 32 KiB (mktorrent's smallest) up to 16 MiB, the smallest that
 * keeps a layer at most ~2048 pieces: a scaled-down 8 MB layer still has
 * 256 pieces to trade, a 1 GB one 1024 and a piece list of 20 KiB. */
#define PIECE_LOG2_MIN 15
#define PIECE_LOG2_MAX 24
#define PIECES_MAX     2048

#define TRACKER_WAIT_MS 10000
#define SEEDER_WAIT_MS	120000
#define STOP_GRACE_MS	3000
#define VERIFY_THREADS	8
#define HTTP_MAX	65536
#define VERIFY_IN_SIZE	(1u << 20)
#define VERIFY_OUT_SIZE (1u << 18)
#define SHA1_LEN	20
#define PROGRESS_NS	500000000ull
#define LIVENESS_NS	500000000ull
#define LOOP_MS		20

/* aria2c's --on-bt-download-complete hook, called with GID, number of files
 * and the first file's path <raw>/dl/<vm>-<image>/<file> once every piece
 * is in and checked, before seeding. It leaves <raw>/done/<vm>-<image>,
 * which the harness
 * watches with inotify: aria2c keeps its .aria2 control file while it
 * seeds, so the folder alone cannot say when a download finished. */
static const char hook_script[] =
	"#!/bin/sh\n"
	"# Written by faasnet-testbed (testbed/bittorrent.c): aria2c's\n"
	"# --on-bt-download-complete hook. $3 is <raw>/dl/<download>/<file>.\n"
	"d=${3%/*}\n"
	": > \"${d%/dl/*}/done/${d##*/}\"\n";

/* Options every aria2c of a run shares. */
static const char *const aria2_common[] = {
	/* root's ~/.aria2/aria2.conf must not change a run */
	"--no-conf=true",
	/* The swarm is offline: the tracker and peer exchange only. */
	"--enable-dht=false",
	"--enable-dht6=false",
	"--bt-enable-lpd=false",
	"--enable-peer-exchange=true",
	"--disable-ipv6=true",
	/* a proxy in the environment must never carry an announce */
	"--all-proxy=",
	/* seed until the harness ends it, whatever the share ratio */
	"--seed-ratio=0.0",
	/* pieces arrive out of order: no zero-filling of the whole file */
	"--file-allocation=none",
	"--show-console-readout=false",
	"--summary-interval=0",
	"--console-log-level=warn",
	"--download-result=hide",
	"--log-level=notice",
};
#define NCOMMON (sizeof(aria2_common) / sizeof(aria2_common[0]))

struct bt_image {
	int used;
	char file[96]; /* <image>.tar.gz: the torrent's name */
	char blob[PATH_MAX];
	char seed[PATH_MAX];
	char torrent[PATH_MAX];
	uint64_t size;
	char diff_id[SHA256_OCI_LEN];
	uint8_t info_hash[SHA1_LEN];
	unsigned piece_log2;
};

enum dl_state {
	DL_RUNNING,
	DL_VERIFYING,
	DL_STARTED,
	DL_FAILED,
};

/* One VM's download of one image, shared by its containers of it. */
struct bt_dl {
	unsigned vm, image;
	char name[96]; /* <vm>-<image>: its folder, log and marker */
	pid_t pid;
	enum dl_state state;
	uint64_t complete_ns; /* world */
	uint64_t verified_ns; /* wall, when it unpacked to its diff_id */
	unsigned first;	      /* its first container, then next[] */
};

#define NONE UINT32_MAX

struct vres {
	unsigned idx;
	int ret;
	uint64_t done_ns;
	char got[SHA256_OCI_LEN];
};

/* Verifier threads: unpacking and hashing runs at ~100 MB of layer a
 * second here (3.9 MB in 35 ms), so a thousand containers of a 100 MB layer
 * finishing together would queue for minutes in the watch loop; beside it,
 * on every core, each one only waits for the CPU as a VM's own would. */
struct vpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t th[VERIFY_THREADS];
	unsigned nth;
	int quit;
	const struct bt *bt;
	unsigned *jobs;
	size_t njobs, next;
	struct vres *res;
	size_t nres, seen;
};

struct bt {
	const struct strategy_env *env;
	const struct scenario *s;
	const struct topo_plan *plan;
	char raw[PATH_MAX];
	char hook[PATH_MAX];
	struct bt_image img[SCENARIO_MAX_IMAGES];
	unsigned ntorrents;
	struct procs *pr; /* env->pr */
	struct eventlog *log;
	pid_t tracker, seeder;
	struct bt_dl *dl; /* downloads, in the order started */
	unsigned ndl, capdl;
	/* per container (id = index): its download, the next container of
	 * that download, its bytes; capc of them */
	unsigned *dl_of, *next;
	unsigned nc, capc;
	/* placement: per VM its place, and the functions it runs */
	struct place_vm *pv;
	unsigned *vm_fns; /* per_vm a VM */
	struct place_limits lim;
	int ifd; /* inotify on raw/done */
	uint64_t t0_ns, last_alive;
	uint64_t *up0, *down0; /* interface counters at the start */
	struct vpool vp;
	struct err *e;
};

static int pathf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The VMs the run uses: the first env->vms of the plan's. */
static unsigned nvms(const struct bt *b)
{
	unsigned all = b->plan->nhosts > 2 ? b->plan->nhosts - 2 : 0;

	return b->env->vms < all ? b->env->vms : all;
}

static const char *vm_name(const struct bt *b, unsigned vm)
{
	return b->plan->hosts[2 + vm].name;
}

static int mkdir_mode(const char *path, mode_t mode)
{
	if (mkdir(path, mode) && errno != EEXIST)
		return -errno;
	/* whatever the umask: the tracker reads its folder as nobody */
	return chmod(path, mode) ? -errno : 0;
}

static int write_text(const char *path, const char *text, mode_t mode,
		      struct err *e)
{
	size_t len = strlen(text);
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len)
		ret = err_set(e, -EIO, "%s: write failed", path);
	else if (fchmod(fd, mode))
		ret = err_set(e, -errno, "%s: %s", path, strerror(errno));
	if (close(fd) && !ret)
		ret = err_set(e, -EIO, "%s: write failed", path);
	return ret;
}

/* A hard link where the layout and raw share a file system, else a copy:
 * the seeder must find the blob under the torrent's name. */
static int link_or_copy(const char *from, const char *to, struct err *e)
{
	char buf[1 << 16];
	int in = -1, out = -1, ret = 0;
	ssize_t n;

	unlink(to);
	if (!link(from, to))
		return 0;
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_set(e, -errno, "%s: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		ret = err_set(e, -errno, "%s: %s", to, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			ret = err_set(e, -EIO, "%s: write failed", to);
			goto out;
		}
	if (n < 0)
		ret = err_set(e, -errno, "%s: %s", from, strerror(errno));
out:
	if (out >= 0 && close(out) && !ret)
		ret = err_set(e, -EIO, "%s: write failed", to);
	close(in);
	return ret;
}

/* Bencode: moves *pos past one value. Depth-limited: a torrent is at most
 * a few levels deep. */
static int bskip(const uint8_t *b, size_t len, size_t *pos, int depth)
{
	size_t p = *pos, n = 0;

	if (p >= len || depth > 16)
		return -EBADMSG;
	switch (b[p]) {
	case 'i':
		for (p++; p < len && b[p] != 'e'; p++)
			if (!isdigit(b[p]) && b[p] != '-')
				return -EBADMSG;
		break;
	case 'l':
	case 'd':
		for (p++; p < len && b[p] != 'e';)
			if (bskip(b, len, &p, depth + 1))
				return -EBADMSG;
		break;
	default:
		for (; p < len && isdigit(b[p]); p++) {
			n = n * 10 + (size_t)(b[p] - '0');
			if (n > len)
				return -EBADMSG;
		}
		if (p >= len || b[p] != ':' || n > len - p - 1)
			return -EBADMSG;
		*pos = p + 1 + n;
		return 0;
	}
	if (p >= len)
		return -EBADMSG;
	*pos = p + 1;
	return 0;
}

/* The info hash: SHA-1 of the bencoded "info" value exactly as it stands in
 * the file, which is what every client and the tracker's whitelist use. */
static int info_hash(const char *torrent, uint8_t out[SHA1_LEN], struct err *e)
{
	size_t len = 0, p = 1, k, v = 0, end = 0;
	uint8_t *b = NULL;
	unsigned int olen = 0;
	struct stat st;
	int fd, ret = 0;

	fd = open(torrent, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", torrent, strerror(errno));
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size > (64 << 20) ||
	    !(b = malloc((size_t)st.st_size)) ||
	    read(fd, b, (size_t)st.st_size) != st.st_size) {
		ret = err_set(e, -EIO, "%s: cannot read it", torrent);
		goto out;
	}
	len = (size_t)st.st_size;
	/* The top-level dictionary's keys and values, until "info". */
	while (b[0] == 'd' && p < len && b[p] != 'e' && !end) {
		k = p;
		if (bskip(b, len, &p, 1))
			break;
		v = p;
		if (bskip(b, len, &p, 1))
			break;
		if (v - k == 6 && !memcmp(b + k, "4:info", 6))
			end = p;
	}
	if (!end) {
		ret = err_set(e, -EBADMSG, "%s: no info dictionary in it",
			      torrent);
		goto out;
	}
	if (!EVP_Digest(b + v, end - v, out, &olen, EVP_sha1(), NULL) ||
	    olen != SHA1_LEN)
		ret = err_set(e, -EIO, "%s: sha1 failed", torrent);
out:
	free(b);
	close(fd);
	return ret;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void urlenc(const uint8_t *d, size_t n, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		out[3 * i] = '%';
		out[3 * i + 1] = digits[d[i] >> 4];
		out[3 * i + 2] = digits[d[i] & 15];
	}
	out[3 * n] = '\0';
}

struct hbuf {
	char p[HTTP_MAX + 1];
	size_t len;
};

static size_t on_body(char *d, size_t sz, size_t n, void *arg)
{
	struct hbuf *h = arg;
	size_t take = sz * n;

	if (take > HTTP_MAX - h->len)
		return 0;
	memcpy(h->p + h->len, d, take);
	h->len += take;
	h->p[h->len] = '\0';
	return sz * n;
}

/* One GET to the tracker, from the initial namespace through fnet-core. */
static int http_get(const char *url, struct hbuf *h)
{
	CURL *c = curl_easy_init();
	long code = 0;
	CURLcode res;

	if (!c)
		return -ENOMEM;
	h->len = 0;
	h->p[0] = '\0';
	/* NOPROXY "*": an http_proxy in the environment must never send the
	 * testbed's traffic off this machine. */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	res = curl_easy_perform(c);
	if (res == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return res == CURLE_OK && code == 200 ? 0 : -EIO;
}

/* The integer after key in a bencoded answer, from pos on; -1: absent. */
static long long bint(const struct hbuf *h, size_t pos, const char *key)
{
	const char *p = memmem(h->p + pos, h->len - pos, key, strlen(key));

	if (!p || p[strlen(key)] != 'i')
		return -1;
	return strtoll(p + strlen(key) + 1, NULL, 10);
}

struct swarm {
	long long complete, incomplete, downloaded;
};

/* What the tracker knows of one torrent's swarm (scrape). */
/* The tracker's URL for path ("announce", "scrape"): opentracker runs on
 * the registry's host. */
static void tracker_url(char *buf, size_t len, const char *path)
{
	char a[32];

	snprintf(buf, len, "http://%s:%d/%s",
		 topo_addr_str(TOPO_REGISTRY_ADDR, a, sizeof(a)),
		 TOPO_TRACKER_PORT, path);
}

static int scrape(const struct bt_image *im, struct swarm *sw)
{
	char url[256], base[64], enc[3 * SHA1_LEN + 1];
	struct hbuf *h = malloc(sizeof(*h));
	const char *at;
	int ret;

	if (!h)
		return -ENOMEM;
	urlenc(im->info_hash, SHA1_LEN, enc);
	tracker_url(base, sizeof(base), "scrape");
	snprintf(url, sizeof(url), "%s?info_hash=%s", base, enc);
	ret = http_get(url, h);
	at = ret ? NULL : memmem(h->p, h->len, im->info_hash, SHA1_LEN);
	if (!at) {
		/* not announced yet: opentracker leaves it out */
		sw->complete = sw->incomplete = sw->downloaded = 0;
	} else {
		size_t pos = (size_t)(at - h->p);

		sw->complete = bint(h, pos, "8:complete");
		sw->incomplete = bint(h, pos, "10:incomplete");
		sw->downloaded = bint(h, pos, "10:downloaded");
	}
	free(h);
	return ret;
}

/* Whether the tracker answers and has read its whitelist: a "stopped"
 * announce for a peer it never saw is accepted, and leaves nothing in the
 * swarm, only once the hash is on the list. */
static int tracker_ready(const struct bt_image *im)
{
	char url[400], base[64], enc[3 * SHA1_LEN + 1];
	struct hbuf *h = malloc(sizeof(*h));
	int ok;

	if (!h)
		return 0;
	urlenc(im->info_hash, SHA1_LEN, enc);
	tracker_url(base, sizeof(base), "announce");
	snprintf(url, sizeof(url),
		 "%s?info_hash=%s&peer_id=-FN0000-harnessprobe"
		 "&port=1&uploaded=0&downloaded=0&left=0"
		 "&event=stopped&compact=1",
		 base, enc);
	ok = !http_get(url, h) && h->len && h->p[0] == 'd' &&
	     !memmem(h->p, h->len, "failure reason", 14);
	free(h);
	return ok;
}

/* Layer 0 of image i: its tar+gzip blob in the layout, size and diff_id. */
static int find_layer(const char *dir, struct bt_image *im, struct err *e)
{
	struct oci_image img = {0};
	char *man = NULL, *cfg = NULL;
	size_t len, clen;
	struct stat st;
	int ret;

	ret = oci_layout_get_manifest(dir, NULL, &man, &len, e);
	if (!ret)
		ret = oci_manifest_parse(man, len, &img, e);
	if (!ret)
		ret = oci_layout_read_blob(dir, img.config.digest, &cfg, &clen,
					   e);
	if (!ret)
		ret = oci_config_parse_diff_ids(cfg, clen, &img, e);
	if (ret)
		goto out;
	if (!img.nlayers) {
		ret = err_set(e, -EINVAL, "%s: the image has no layers", dir);
		goto out;
	}
	if (strcmp(img.layers[0].blob.media_type, OCI_LAYER_GZIP_MEDIA_TYPE) &&
	    strcmp(img.layers[0].blob.media_type,
		   OCI_DOCKER_LAYER_MEDIA_TYPE)) {
		ret = err_set(e, -EINVAL, "%s: layer 0 is %s, not tar+gzip",
			      dir, img.layers[0].blob.media_type);
		goto out;
	}
	if (oci_layout_blob_path(dir, img.layers[0].blob.digest, im->blob,
				 sizeof(im->blob))) {
		ret = err_set(e, -ENAMETOOLONG, "%s: path too long", dir);
		goto out;
	}
	if (stat(im->blob, &st)) {
		ret = err_set(e, -errno, "%s: %s", im->blob, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size != img.layers[0].blob.size) {
		ret = err_set(e, -EBADMSG,
			      "%s: %llu bytes, the manifest says %llu",
			      im->blob, (unsigned long long)st.st_size,
			      (unsigned long long)img.layers[0].blob.size);
		goto out;
	}
	im->size = img.layers[0].blob.size;
	snprintf(im->diff_id, sizeof(im->diff_id), "%s", img.layers[0].diff_id);
out:
	oci_image_free(&img);
	free(man);
	free(cfg);
	return ret;
}

static unsigned piece_log2(uint64_t size)
{
	unsigned l = PIECE_LOG2_MIN;

	while (l < PIECE_LOG2_MAX && (size >> l) >= PIECES_MAX)
		l++;
	return l;
}

/* The seeder's copy of image i's layer and its torrent. */
static int make_torrent(struct bt *b, unsigned i, const char *layout)
{
	struct bt_image *im = &b->img[i];
	const char *name = b->s->images[i].name;
	char l[8], hx[2 * SHA1_LEN + 1], announce[64];
	int ret;

	ret = find_layer(layout, im, b->e);
	if (ret)
		return ret;
	if (pathf(im->file, sizeof(im->file), "%s.tar.gz", name) ||
	    pathf(im->seed, sizeof(im->seed), "%s/seed/%s", b->raw, im->file) ||
	    pathf(im->torrent, sizeof(im->torrent), "%s/%s.torrent", b->raw,
		  name))
		return err_set(b->e, -ENAMETOOLONG, "%s: path too long",
			       b->raw);
	ret = link_or_copy(im->blob, im->seed, b->e);
	if (ret)
		return ret;
	im->piece_log2 = piece_log2(im->size);
	snprintf(l, sizeof(l), "%u", im->piece_log2);
	/* mktorrent refuses to overwrite; -d (no date): the same layer makes
	 * the same file, run after run. */
	unlink(im->torrent);
	tracker_url(announce, sizeof(announce), "announce");
	{
		char *argv[] = {MKTORRENT, "-d", "-l",	      l,	"-a",
				announce,  "-o", im->torrent, im->seed, NULL};

		ret = procs_run_wait(argv, b->env->plog, b->e);
		if (ret)
			return ret;
	}
	ret = info_hash(im->torrent, im->info_hash, b->e);
	if (ret)
		return ret;
	hex(im->info_hash, SHA1_LEN, hx);
	eventlog_write(b->log, "torrent",
		       json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "image",
				 name, "file", im->file, "bytes",
				 (json_int_t)im->size, "piece_length",
				 (json_int_t)1 << im->piece_log2, "pieces",
				 (json_int_t)((im->size +
					       (1ull << im->piece_log2) - 1) >>
					      im->piece_log2),
				 "info_hash", hx, "diff_id", im->diff_id));
	b->ntorrents++;
	return 0;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sleep_or_stop(volatile sig_atomic_t *stop, struct err *e)
{
	if (stop && *stop)
		return err_set(e, -EINTR, "interrupted");
	usleep(50000);
	return 0;
}

/* opentracker in fnet-registry. Started as root (as the harness is) it
 * chroots to -d and becomes -u itself before it reads anything, so it reads
 * its whitelist as nobody, by its path inside that folder. Debian builds it
 * with WANT_ACCESSLIST_WHITE: it tracks only the listed info hashes. */
static int start_tracker(struct bt *b, volatile sig_atomic_t *stop)
{
	char dir[PATH_MAX], wl[PATH_MAX], *list = NULL, hx[2 * SHA1_LEN + 1];
	char addr[32];
	const struct bt_image *probe = NULL;
	size_t n = 0, i;
	int ret, waited;

	if (pathf(dir, sizeof(dir), "%s/tracker", b->raw) ||
	    pathf(wl, sizeof(wl), "%s/whitelist.txt", dir))
		return err_set(b->e, -ENAMETOOLONG, "%s: path too long",
			       b->raw);
	ret = mkdir_mode(dir, 0755);
	if (ret)
		return err_set(b->e, ret, "%s: %s", dir, strerror(-ret));
	list = calloc(SCENARIO_MAX_IMAGES, sizeof(hx) + 1);
	if (!list)
		return err_set(b->e, -ENOMEM, "out of memory");
	for (i = 0; i < SCENARIO_MAX_IMAGES; i++) {
		if (!b->img[i].used)
			continue;
		hex(b->img[i].info_hash, SHA1_LEN, hx);
		n += (size_t)snprintf(list + n, sizeof(hx) + 1, "%s\n", hx);
		probe = &b->img[i];
	}
	ret = write_text(wl, list, 0644, b->e);
	free(list);
	if (ret)
		return ret;
	topo_addr_str(TOPO_REGISTRY_ADDR, addr, sizeof(addr));
	{
		char *argv[] = {OPENTRACKER,
				"-i",
				addr,
				"-p",
				TOPO_STR(TOPO_TRACKER_PORT),
				"-P",
				TOPO_STR(TOPO_TRACKER_PORT),
				"-d",
				dir,
				"-u",
				"nobody",
				"-w",
				"/whitelist.txt",
				NULL};

		ret = procs_spawn_ext(b->pr, TOPO_PREFIX "registry", argv,
				      b->env->plog, &b->tracker, b->e);
		if (ret)
			return ret;
	}
	for (waited = 0; !tracker_ready(probe); waited += 50) {
		if (!procs_alive(b->pr, b->tracker))
			return err_set(b->e, -EIO,
				       "opentracker exited (see %s)",
				       b->env->plog);
		if (waited >= TRACKER_WAIT_MS)
			return err_set(b->e, -ETIMEDOUT,
				       "opentracker did not answer on "
				       "%s:%d in %d s",
				       addr, TOPO_TRACKER_PORT,
				       TRACKER_WAIT_MS / 1000);
		ret = sleep_or_stop(stop, b->e);
		if (ret)
			return ret;
	}
	eventlog_write(b->log, "tracker_up",
		       json_pack("{s:i}", "pid", (int)b->tracker));
	return 0;
}

/* One aria2c in fnet-manager seeds every torrent from the copies in
 * raw/seed: the origin, on a host with a VM's link. -V checks the copy
 * against the piece hashes before it announces, all before the clock
 * starts. */
static int start_seeder(struct bt *b, volatile sig_atomic_t *stop)
{
	char dir[PATH_MAX], log[PATH_MAX + 8], jobs[16];
	const char *argv[NCOMMON + 10 + SCENARIO_MAX_IMAGES];
	size_t k = 0, i;
	int ret, waited;

	if (pathf(dir, sizeof(dir), "%s/seed", b->raw) ||
	    pathf(log, sizeof(log), "--log=%s/seeder.log", b->raw))
		return err_set(b->e, -ENAMETOOLONG, "%s: path too long",
			       b->raw);
	snprintf(jobs, sizeof(jobs), "%u", b->ntorrents);
	argv[k++] = ARIA2C;
	for (i = 0; i < NCOMMON; i++)
		argv[k++] = aria2_common[i];
	argv[k++] = log;
	argv[k++] = "--listen-port=" TOPO_STR(TOPO_BT_PEER_PORT);
	argv[k++] = "--check-integrity=true";
	/* seed every torrent at once (the default is 5 at a time) */
	argv[k++] = "--max-concurrent-downloads";
	argv[k++] = jobs;
	argv[k++] = "--dir";
	argv[k++] = dir;
	for (i = 0; i < SCENARIO_MAX_IMAGES; i++)
		if (b->img[i].used)
			argv[k++] = b->img[i].torrent;
	argv[k] = NULL;
	ret = procs_spawn_ext(b->pr, TOPO_PREFIX "manager", (char *const *)argv,
			      b->env->plog, &b->seeder, b->e);
	if (ret)
		return ret;
	/* Up once the tracker counts it as a seeder of every torrent. */
	for (i = 0, waited = 0; i < SCENARIO_MAX_IMAGES;) {
		struct swarm sw;

		if (!b->img[i].used ||
		    (!scrape(&b->img[i], &sw) && sw.complete >= 1)) {
			i++;
			continue;
		}
		waited += 50;
		if (!procs_alive(b->pr, b->seeder))
			return err_set(b->e, -EIO,
				       "the seeder (aria2c) exited (see %s "
				       "and %s/seeder.log)",
				       b->env->plog, b->raw);
		if (waited >= SEEDER_WAIT_MS)
			return err_set(b->e, -ETIMEDOUT,
				       "the seeder did not announce %s in %d "
				       "s (see %s/seeder.log)",
				       b->img[i].file, SEEDER_WAIT_MS / 1000,
				       b->raw);
		ret = sleep_or_stop(stop, b->e);
		if (ret)
			return ret;
	}
	eventlog_write(b->log, "seeder_up",
		       json_pack("{s:i, s:i}", "pid", (int)b->seeder,
				 "waited_ms", waited));
	return 0;
}

/* Inflates path and hashes the tar: what a container runtime does before
 * it can start the container. */
static int verify_layer(const char *path, const struct bt_image *im,
			const int *quit, char got[SHA256_OCI_LEN])
{
	uint8_t *in = malloc(VERIFY_IN_SIZE), *outb = malloc(VERIFY_OUT_SIZE);
	uint8_t d[SHA256_LEN];
	struct sha256_ctx sha;
	z_stream z = {0};
	struct stat st;
	int fd = -1, ret = 0, zr = Z_OK, zinit = 0, shainit = 0;
	ssize_t n;

	got[0] = '\0';
	if (!in || !outb) {
		ret = -ENOMEM;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size != im->size) {
		ret = -EMSGSIZE;
		goto out;
	}
	if (inflateInit2(&z, 15 + 32) != Z_OK) {
		ret = -ENOMEM;
		goto out;
	}
	zinit = 1;
	if (sha256_init(&sha)) {
		ret = -ENOMEM;
		goto out;
	}
	shainit = 1;
	while (zr != Z_STREAM_END && (n = read(fd, in, VERIFY_IN_SIZE)) > 0) {
		if (__atomic_load_n(quit, __ATOMIC_RELAXED)) {
			ret = -ECANCELED;
			goto out;
		}
		z.next_in = in;
		z.avail_in = (uInt)n;
		do {
			z.next_out = outb;
			z.avail_out = VERIFY_OUT_SIZE;
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END &&
			    zr != Z_BUF_ERROR) {
				ret = -EBADMSG;
				goto out;
			}
			if (sha256_update(&sha, outb,
					  VERIFY_OUT_SIZE - z.avail_out)) {
				ret = -EIO;
				goto out;
			}
		} while (z.avail_out == 0 && zr != Z_STREAM_END);
	}
	if (zr != Z_STREAM_END) {
		ret = -EBADMSG; /* truncated */
		goto out;
	}
	shainit = 0;
	if (sha256_final(&sha, d)) {
		ret = -EIO;
		goto out;
	}
	if (strcmp(sha256_oci(d, got), im->diff_id))
		ret = -EBADMSG;
out:
	if (shainit)
		sha256_abort(&sha);
	if (zinit)
		inflateEnd(&z);
	if (fd >= 0)
		close(fd);
	free(in);
	free(outb);
	return ret;
}

static void *verifier(void *arg)
{
	struct vpool *vp = arg;
	const struct bt *b = vp->bt;

	for (;;) {
		char path[PATH_MAX];
		struct vres r = {0};
		const struct bt_image *im;

		pthread_mutex_lock(&vp->lock);
		while (!vp->quit && vp->next == vp->njobs)
			pthread_cond_wait(&vp->cond, &vp->lock);
		if (vp->quit) {
			pthread_mutex_unlock(&vp->lock);
			return NULL;
		}
		r.idx = vp->jobs[vp->next++];
		pthread_mutex_unlock(&vp->lock);

		im = &b->img[b->dl[r.idx].image];
		r.ret = pathf(path, sizeof(path), "%s/dl/%s/%s", b->raw,
			      b->dl[r.idx].name, im->file);
		if (!r.ret)
			r.ret = verify_layer(path, im, &vp->quit, r.got);
		r.done_ns = evloop_now_ns();

		pthread_mutex_lock(&vp->lock);
		vp->res[vp->nres++] = r;
		pthread_mutex_unlock(&vp->lock);
	}
}

static int vpool_start(struct vpool *vp, const struct bt *b, size_t cap)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus < 1		? 1
			: cpus > VERIFY_THREADS ? VERIFY_THREADS
						: (unsigned)cpus;

	vp->jobs = calloc(cap ? cap : 1, sizeof(*vp->jobs));
	vp->res = calloc(cap ? cap : 1, sizeof(*vp->res));
	if (!vp->jobs || !vp->res)
		return -ENOMEM;
	pthread_mutex_init(&vp->lock, NULL);
	pthread_cond_init(&vp->cond, NULL);
	vp->bt = b; /* from here on vpool_stop joins and destroys */
	for (vp->nth = 0; vp->nth < want; vp->nth++)
		if (pthread_create(&vp->th[vp->nth], NULL, verifier, vp))
			break;
	return vp->nth ? 0 : -EAGAIN;
}

static void vpool_stop(struct vpool *vp)
{
	unsigned i;

	if (vp->bt) {
		pthread_mutex_lock(&vp->lock);
		__atomic_store_n(&vp->quit, 1, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&vp->cond);
		pthread_mutex_unlock(&vp->lock);
		for (i = 0; i < vp->nth; i++)
			pthread_join(vp->th[i], NULL);
		pthread_cond_destroy(&vp->cond);
		pthread_mutex_destroy(&vp->lock);
	}
	free(vp->jobs);
	free(vp->res);
	memset(vp, 0, sizeof(*vp));
}

static void vpool_push(struct vpool *vp, unsigned idx)
{
	pthread_mutex_lock(&vp->lock);
	vp->jobs[vp->njobs++] = idx;
	pthread_cond_signal(&vp->cond);
	pthread_mutex_unlock(&vp->lock);
}

/* Starts download idx: an aria2c on its VM. */
static int start_download(struct bt *b, unsigned idx)
{
	struct bt_dl *dl = &b->dl[idx];
	const struct bt_image *im = &b->img[dl->image];
	char dir[PATH_MAX], log[PATH_MAX + 8], hook[PATH_MAX + 32];
	char stale[PATH_MAX], port[32];
	const char *argv[NCOMMON + 10];
	size_t k = 0, i;
	int ret;

	/* A VM runs an aria2c per image it holds: a port each (the seeder,
	 * alone in the manager's namespace, has the first). */
	snprintf(port, sizeof(port), "--listen-port=%u",
		 TOPO_BT_PEER_PORT + dl->image);
	if (pathf(dir, sizeof(dir), "%s/dl/%s", b->raw, dl->name) ||
	    pathf(log, sizeof(log), "--log=%s/dl/%s.log", b->raw, dl->name) ||
	    pathf(hook, sizeof(hook), "--on-bt-download-complete=%s",
		  b->hook) ||
	    pathf(stale, sizeof(stale), "%s/%s.aria2", dir, im->file))
		return err_set(b->e, -ENAMETOOLONG, "%s: path too long",
			       b->raw);
	ret = mkdir_mode(dir, 0755);
	if (ret)
		return err_set(b->e, ret, "%s: %s", dir, strerror(-ret));
	/* An earlier run's file, control file or marker would pass for this
	 * run's: start from nothing. */
	unlink(stale);
	stale[strlen(stale) - 6] = '\0';
	unlink(stale);
	if (!pathf(stale, sizeof(stale), "%s/done/%s", b->raw, dl->name))
		unlink(stale);
	argv[k++] = ARIA2C;
	for (i = 0; i < NCOMMON; i++)
		argv[k++] = aria2_common[i];
	argv[k++] = log;
	argv[k++] = port;
	argv[k++] = hook;
	argv[k++] = "--allow-overwrite=true";
	argv[k++] = "--dir";
	argv[k++] = dir;
	argv[k++] = im->torrent;
	argv[k] = NULL;
	return procs_spawn_ext(b->pr, b->plan->hosts[2 + dl->vm].netns,
			       (char *const *)argv, b->env->plog, &dl->pid,
			       b->e);
}

/* Under time dilation (docs/fidelity.md) the run keeps the world's clock,
 * as the driver does: aria2c and the tracker run on a slowed clock
 * (procs), the links at rates divided by k. */
static double dilation(const struct bt *b)
{
	return b->plan->spec.dilation > 1.0 ? b->plan->spec.dilation : 1.0;
}

static uint64_t world(const struct bt *b, uint64_t wall)
{
	return driver_world_ns(b->t0_ns, dilation(b), wall);
}

/* Every container of download idx started (its image is there), at wall
 * time wall_ns; or failed. */
static void dl_started(struct bt *b, struct driver *d, unsigned idx,
		       uint64_t wall_ns)
{
	unsigned c;

	for (c = b->dl[idx].first; c != NONE; c = b->next[c])
		driver_started(d, c, wall_ns);
}

static void dl_failed(struct bt *b, struct driver *d, unsigned idx)
{
	unsigned c;

	b->dl[idx].state = DL_FAILED;
	for (c = b->dl[idx].first; c != NONE; c = b->next[c])
		driver_failed(d, c);
}

/* Reads the marker names inotify reports: each is a download that is
 * complete; its layer goes to the verifiers. */
static void on_markers(struct bt *b)
{
	char buf[8192]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;

	while ((n = read(b->ifd, buf, sizeof(buf))) > 0)
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			struct bt_dl *dl = NULL;
			unsigned i;

			ev = (const struct inotify_event *)p;
			for (i = 0; ev->len && i < b->ndl; i++)
				if (!strcmp(ev->name, b->dl[i].name)) {
					dl = &b->dl[i];
					break;
				}
			if (!dl || dl->state != DL_RUNNING)
				continue;
			dl->state = DL_VERIFYING;
			dl->complete_ns = world(b, evloop_now_ns());
			eventlog_write(
				b->log, "download_complete",
				json_pack("{s:s, s:s, s:f}", "download",
					  dl->name, "vm", vm_name(b, dl->vm),
					  "seconds",
					  (double)(dl->complete_ns - b->t0_ns) /
						  1e9));
			vpool_push(&b->vp, i);
		}
}

/* Takes the verifiers' answers: the containers of a download whose layer
 * unpacks to its diff_id have their image; any other answer fails them. */
static void on_verified(struct bt *b, struct driver *d)
{
	struct vpool *vp = &b->vp;
	struct vres v;

	for (;;) {
		struct bt_dl *dl;

		pthread_mutex_lock(&vp->lock);
		if (vp->seen == vp->nres) {
			pthread_mutex_unlock(&vp->lock);
			return;
		}
		v = vp->res[vp->seen++];
		pthread_mutex_unlock(&vp->lock);
		dl = &b->dl[v.idx];
		if (!v.ret) {
			dl->state = DL_STARTED;
			dl->verified_ns = v.done_ns;
			dl_started(b, d, v.idx, v.done_ns);
			eventlog_write(b->log, "verified",
				       json_pack("{s:s, s:s, s:f}", "download",
						 dl->name, "vm",
						 vm_name(b, dl->vm),
						 "unpack_seconds",
						 (double)(world(b, v.done_ns) -
							  dl->complete_ns) /
							 1e9));
			continue;
		}
		dl_failed(b, d, v.idx);
		if (v.got[0])
			fprintf(stderr,
				"%s: %s: the layer unpacks to %s, not %s: "
				"failed\n",
				b->env->label, dl->name, v.got,
				b->img[dl->image].diff_id);
		else
			fprintf(stderr,
				"%s: %s: the layer does not unpack: %s: "
				"failed\n",
				b->env->label, dl->name, strerror(-v.ret));
		eventlog_write(b->log, "verify_failed",
			       json_pack("{s:s, s:s, s:s, s:s, s:s}",
					 "download", dl->name, "vm",
					 vm_name(b, dl->vm), "error",
					 strerror(-v.ret), "got", v.got, "want",
					 b->img[dl->image].diff_id));
	}
}

/* An aria2c that is gone without its marker will never finish. */
static void check_alive(struct bt *b, struct driver *d)
{
	char marker[PATH_MAX];
	unsigned i;

	for (i = 0; i < b->ndl; i++) {
		if (b->dl[i].state != DL_RUNNING ||
		    procs_alive(b->pr, b->dl[i].pid))
			continue;
		/* the marker may be written but not yet read */
		if (!pathf(marker, sizeof(marker), "%s/done/%s", b->raw,
			   b->dl[i].name) &&
		    !access(marker, F_OK))
			continue;
		dl_failed(b, d, i);
		fprintf(stderr, "%s: %s: aria2c exited (see %s)\n",
			b->env->label, b->dl[i].name, b->env->plog);
		eventlog_write(b->log, "aria2c_exited",
			       json_pack("{s:s, s:s}", "download",
					 b->dl[i].name, "vm",
					 vm_name(b, b->dl[i].vm)));
	}
}

/* Bytes each host sent and received, from its cable's end in the initial
 * namespace (what the host sends arrives there): rx is the host's upload,
 * tx its download. Headers, announces and acknowledgements included. */
static void counters(const struct topo_plan *plan, uint64_t *up, uint64_t *down)
{
	unsigned i;

	for (i = 0; i < plan->nhosts; i++) {
		up[i] = netmon_cable_bytes(plan->hosts[i].ifname, "rx_bytes");
		down[i] = netmon_cable_bytes(plan->hosts[i].ifname, "tx_bytes");
	}
}

/* Who uploaded what: the seeder's share against the VMs' says how much of
 * the layer went peer to peer. */
static void log_traffic(struct bt *b, const uint64_t *up0,
			const uint64_t *down0, const uint64_t *up1,
			const uint64_t *down1, unsigned nvms)
{
	uint64_t vm_up = 0;
	unsigned i;

	for (i = 0; i < 2 + nvms && i < b->plan->nhosts; i++) {
		eventlog_write(b->log, "traffic",
			       json_pack("{s:s, s:I, s:I}", "host",
					 b->plan->hosts[i].name, "up_bytes",
					 (json_int_t)(up1[i] - up0[i]),
					 "down_bytes",
					 (json_int_t)(down1[i] - down0[i])));
		if (i >= 2)
			vm_up += up1[i] - up0[i];
	}
	eventlog_write(b->log, "traffic_total",
		       json_pack("{s:I, s:I}", "seeder_up_bytes",
				 (json_int_t)(up1[1] - up0[1]), "vms_up_bytes",
				 (json_int_t)vm_up));
}

static void log_swarms(struct bt *b)
{
	struct swarm sw;
	unsigned i;

	for (i = 0; i < SCENARIO_MAX_IMAGES; i++) {
		if (!b->img[i].used)
			continue;
		if (scrape(&b->img[i], &sw))
			sw.complete = sw.incomplete = sw.downloaded = -1;
		eventlog_write(b->log, "tracker",
			       json_pack("{s:s, s:I, s:I, s:I}", "image",
					 b->s->images[i].name, "complete",
					 (json_int_t)sw.complete, "incomplete",
					 (json_int_t)sw.incomplete,
					 "downloaded",
					 (json_int_t)sw.downloaded));
	}
}

static int prepare(struct bt *b)
{
	const struct scenario *s = b->s;
	const struct scenario_invocation *inv = b->env->inv;
	const char *raw = b->env->raw;
	size_t ninv = b->env->ninv;
	char dir[PATH_MAX], ev[PATH_MAX];
	unsigned i;
	int ret;

	if (mkdir(raw, 0755) && errno != EEXIST)
		return err_set(b->e, -errno, "%s: %s", raw, strerror(errno));
	/* Absolute: the tracker chroots, aria2c runs hooks, all from paths
	 * given here. */
	if (!realpath(raw, b->raw))
		return err_set(b->e, -errno, "%s: %s", raw, strerror(errno));
	if (pathf(b->hook, sizeof(b->hook), "%s/bt-complete.sh", b->raw) ||
	    pathf(ev, sizeof(ev), "%s/bittorrent.jsonl", b->raw))
		return err_set(b->e, -ENAMETOOLONG, "%s: path too long", raw);
	ret = eventlog_open(ev, "bittorrent", &b->log);
	if (ret)
		return err_set(b->e, ret, "%s: %s", ev, strerror(-ret));
	for (i = 0; i < 3; i++) {
		static const char *const sub[] = {"seed", "dl", "done"};

		if (pathf(dir, sizeof(dir), "%s/%s", b->raw, sub[i]))
			return err_set(b->e, -ENAMETOOLONG, "%s: path too long",
				       raw);
		ret = mkdir_mode(dir, 0755);
		if (ret)
			return err_set(b->e, ret, "%s: %s", dir,
				       strerror(-ret));
	}
	ret = write_text(b->hook, hook_script, 0755, b->e);
	if (ret)
		return ret;
	for (i = 0; i < (unsigned)ninv; i++) {
		if (inv[i].function >= s->nfunctions ||
		    s->functions[inv[i].function].image >= s->nimages)
			return err_set(b->e, -EINVAL,
				       "invocation %u: no such function", i);
		b->img[s->functions[inv[i].function].image].used = 1;
	}
	for (i = 0; i < s->nimages; i++) {
		if (!b->img[i].used)
			continue;
		ret = make_torrent(b, i, b->env->layouts[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Room for one more container record. The downloads are allocated once
 * (bt_start): the verifier threads read them unlocked. */
static int grow(struct bt *b)
{
	if (b->nc == b->capc) {
		unsigned cap = b->capc ? 2 * b->capc : 64;
		unsigned *a = reallocarray(b->dl_of, cap, sizeof(*a));

		if (!a)
			return -ENOMEM;
		b->dl_of = a;
		a = reallocarray(b->next, cap, sizeof(*a));
		if (!a)
			return -ENOMEM;
		b->next = a;
		b->capc = cap;
	}
	return 0;
}

/* The VM for one container of function fn, as the manager would pick it
 * (place.h), or -1 when none has room. */
static long pick_vm(struct bt *b, unsigned fn)
{
	unsigned v, k, n = nvms(b);

	for (v = 0; v < n; v++) {
		struct place_vm *pv = &b->pv[v];

		pv->runs_f = false;
		for (k = 0; k < pv->nfunctions; k++)
			if (b->vm_fns[(size_t)v * b->lim.max_containers + k] ==
			    fn)
				pv->runs_f = true;
	}
	return place_pick(b->pv, n, &b->lim);
}

/* Places container id of fn on vm: its image's download there, started
 * when it is the first. */
static int place(struct bt *b, struct driver *d, unsigned id, unsigned fn,
		 unsigned vm)
{
	struct place_vm *pv = &b->pv[vm];
	unsigned image = b->s->functions[fn].image, i;
	int ret;

	if (!pv->runs_f)
		b->vm_fns[(size_t)vm * b->lim.max_containers +
			  pv->nfunctions++] = fn;
	pv->ncontainers++;
	for (i = 0; i < b->ndl; i++)
		if (b->dl[i].vm == vm && b->dl[i].image == image)
			break;
	if (i == b->ndl) {
		struct bt_dl *dl;

		/* capdl is every VM and image the schedule can use */
		if (b->ndl == b->capdl)
			return err_set(b->e, -ENOSPC,
				       "%s: more downloads than "
				       "VMs times images",
				       b->env->label);
		dl = &b->dl[b->ndl++];

		memset(dl, 0, sizeof(*dl));
		dl->vm = vm;
		dl->image = image;
		dl->first = NONE;
		snprintf(dl->name, sizeof(dl->name), "%s-%s", vm_name(b, vm),
			 b->s->images[image].name);
		ret = start_download(b, i);
		if (ret)
			return ret;
		eventlog_write(b->log, "download_start",
			       json_pack("{s:s, s:s, s:s, s:i}", "download",
					 dl->name, "vm", vm_name(b, vm),
					 "image", b->s->images[image].name,
					 "pid", (int)dl->pid));
	}
	b->dl_of[id] = i;
	b->next[id] = b->dl[i].first;
	b->dl[i].first = id;
	/* Its image already there: it has it at once. */
	if (b->dl[i].state == DL_STARTED)
		driver_started(d, id, evloop_now_ns());
	else if (b->dl[i].state == DL_FAILED)
		driver_failed(d, id);
	eventlog_write(b->log, "place",
		       json_pack("{s:i, s:s, s:s, s:s}", "container", (int)id,
				 "vm", vm_name(b, vm), "function",
				 b->s->functions[fn].name, "download",
				 b->dl[i].name));
	return 0;
}

/* The driver's target: containers placed at once, each VM's download
 * started with its first container of an image. */
static int bt_invoke(void *arg, struct driver *d, unsigned fn, unsigned count,
		     struct err *e)
{
	struct bt *b = arg;
	uint64_t now = driver_now(d);
	unsigned k, first = b->nc, placed = 0;
	int ret;

	b->t0_ns = driver_t0(d);
	for (k = 0; k < count; k++) {
		long vm = pick_vm(b, fn);

		if (vm < 0)
			break;
		ret = grow(b);
		if (ret)
			return err_set(e, ret, "out of memory");
		/* Recorded before it may start (a VM with the image). */
		ret = driver_placed(d, b->nc, 1, 1, fn, now);
		if (ret)
			return err_set(e, ret, "out of memory");
		ret = place(b, d, b->nc++, fn, (unsigned)vm);
		if (ret)
			return ret;
		placed++;
	}
	eventlog_write(b->log, "invoke",
		       json_pack("{s:s, s:i, s:i, s:i}", "function",
				 b->s->functions[fn].name, "containers",
				 (int)count, "placed", (int)placed, "first",
				 (int)first));
	if (placed < count) {
		driver_unplaced(d, fn, count - placed, now);
		fprintf(stderr,
			"%s: %s: %u of %u containers found no free VM\n",
			b->env->label, b->s->functions[fn].name, count - placed,
			count);
	}
	return 0;
}

static int bt_step(void *arg, struct driver *d, int readable, struct err *e)
{
	struct bt *b = arg;
	uint64_t now = driver_now(d);

	(void)e;
	b->t0_ns = driver_t0(d);
	if (readable)
		on_markers(b);
	on_verified(b, d);
	if (now - b->last_alive > LIVENESS_NS) {
		b->last_alive = now;
		check_alive(b, d);
	}
	return 0;
}

/* Placement as the manager's: every VM in the seeded order of this
 * repetition, per_vm containers and the manager's 20 functions at most. */
static int placement_init(struct bt *b)
{
	unsigned v, n = nvms(b);

	b->lim.max_containers = b->env->per_vm ? b->env->per_vm : 1;
	b->lim.max_functions = 20;
	b->pv = calloc(n ? n : 1, sizeof(*b->pv));
	b->vm_fns = calloc((size_t)(n ? n : 1) * b->lim.max_containers,
			   sizeof(*b->vm_fns));
	if (!b->pv || !b->vm_fns)
		return -ENOMEM;
	for (v = 0; v < n; v++) {
		b->pv[v].name = vm_name(b, v);
		b->pv[v].rank = place_rank(b->env->seed, b->pv[v].name);
		b->pv[v].alive = true;
	}
	return 0;
}

static int bt_start(const struct strategy_env *env, void **state,
		    struct driver_target *t)
{
	const struct topo_plan *plan = env->plan;
	struct bt *b = calloc(1, sizeof(*b));
	char done[PATH_MAX];
	size_t cap, asked = 0, i;
	int ret;

	*state = b;
	if (!b)
		return err_set(env->e, -ENOMEM, "out of memory");
	b->env = env;
	b->s = env->s;
	b->plan = plan;
	b->e = env->e;
	b->pr = env->pr;
	b->ifd = -1;
	for (i = 0; i < env->ninv; i++)
		asked += env->inv[i].containers;
	/* at most a download per container, and one per VM and image */
	cap = (size_t)nvms(b) * env->s->nimages;
	cap = asked < cap ? asked : cap;
	b->up0 = calloc(2 * (size_t)plan->nhosts, sizeof(*b->up0));
	b->dl = calloc(cap ? cap : 1, sizeof(*b->dl));
	b->capdl = cap ? (unsigned)cap : 1;
	if (!b->up0 || !b->dl || placement_init(b))
		return err_set(env->e, -ENOMEM, "out of memory");
	b->down0 = b->up0 + plan->nhosts;
	ret = prepare(b);
	if (!ret)
		ret = procs_set_dilation(b->pr, dilation(b), env->e);
	/* aria2c's and opentracker's logs then read in the world's time:
	 * real time is origin + (logged - origin) * k. */
	if (!ret && dilation(b) > 1)
		eventlog_write(b->log, "dilation",
			       json_pack("{s:f, s:f}", "k", dilation(b),
					 "origin_unix_s", wall_s()));
	/* No invocation, no torrent: nothing to track or seed. */
	if (!ret && b->ntorrents)
		ret = start_tracker(b, env->stop);
	if (!ret && b->ntorrents)
		ret = start_seeder(b, env->stop);
	if (ret)
		return ret;
	fprintf(stderr, "%s: tracker and seeder up\n", b->env->label);
	ret = vpool_start(&b->vp, b, cap);
	if (ret)
		return err_set(env->e, ret, "verifier threads: %s",
			       strerror(-ret));
	b->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	/* raw/done fits: prepare made it */
	if (b->ifd < 0 || pathf(done, sizeof(done), "%s/done", b->raw) ||
	    inotify_add_watch(b->ifd, done, IN_CLOSE_WRITE) < 0)
		return err_set(env->e, -errno, "inotify on %s: %s", b->raw,
			       strerror(errno));
	counters(plan, b->up0, b->down0);
	memset(t, 0, sizeof(*t));
	t->arg = b;
	t->invoke = bt_invoke;
	t->step = bt_step;
	t->fd = b->ifd;
	/* a verified layer is seen within this */
	t->tick_ms = LOOP_MS;
	return 0;
}

/* While the tracker still runs: what it saw, and who uploaded what. */
static void bt_finish(void *state, const struct driver_result *dr)
{
	struct bt *b = state;
	uint64_t *up1, *down1;

	up1 = calloc(2 * (size_t)b->plan->nhosts, sizeof(*up1));
	if (up1) {
		down1 = up1 + b->plan->nhosts;
		counters(b->plan, up1, down1);
		log_swarms(b);
		log_traffic(b, b->up0, b->down0, up1, down1, nvms(b));
	}
	free(up1);
	eventlog_write(b->log, "end",
		       json_pack("{s:i, s:i, s:i, s:i}", "containers",
				 (int)dr->n, "downloads", (int)b->ndl,
				 "started", (int)dr->started, "failed",
				 (int)dr->failed));
	/* No verifier still reading a layer the processes' end may cut. */
	vpool_stop(&b->vp);
}

/* Per container: its VM; the layer's bytes to the first container of each
 * download (the others share it; a download that never finished: the
 * blocks it wrote, the file being sparse); its image ready when the layer
 * was verified, and the start modelled after it: with the whole image
 * local, as for the registry strategy, the function's runtime start plus
 * the sum of its trace's compute gaps (no read waits). */
static int bt_facts(void *state, const struct driver_result *dr,
		    struct strategy_fact *f, unsigned *corrupt)
{
	struct bt *b = state;
	unsigned i, id;

	*corrupt = 0;
	for (i = 0; i < dr->n; i++) {
		const struct scenario_function *fn;

		id = dr->first_id + i;
		if (id >= b->nc)
			continue;
		fn = &b->s->functions[dr->c[i].function];
		snprintf(f[i].vm, sizeof(f[i].vm), "%s",
			 vm_name(b, b->dl[b->dl_of[id]].vm));
		f[i].ready_ns = dr->c[i].started_ns;
		f[i].after_ns =
			fn->runtime_start_ns + b->env->trace_gaps_ns[fn->image];
	}
	for (i = 0; i < b->ndl; i++) {
		const struct bt_dl *dl = &b->dl[i];
		const struct bt_image *im = &b->img[dl->image];
		uint64_t bytes = 0;
		unsigned last = NONE, c;
		char path[PATH_MAX];
		struct stat st;

		if (dl->complete_ns)
			bytes = im->size;
		else if (!pathf(path, sizeof(path), "%s/dl/%s/%s", b->raw,
				dl->name, im->file) &&
			 !stat(path, &st))
			bytes = (uint64_t)st.st_blocks * 512 < im->size
					? (uint64_t)st.st_blocks * 512
					: im->size;
		/* the list runs newest first: the first container is last */
		for (c = dl->first; c != NONE; c = b->next[c])
			last = c;
		if (last != NONE && last - dr->first_id < dr->n)
			f[last - dr->first_id].peer_bytes = bytes;
	}
	return 0;
}

static void bt_free(void *state)
{
	struct bt *b = state;

	if (!b)
		return;
	vpool_stop(&b->vp);
	if (b->ifd >= 0)
		close(b->ifd);
	if (b->log)
		eventlog_close(b->log);
	free(b->dl);
	free(b->dl_of);
	free(b->next);
	free(b->pv);
	free(b->vm_fns);
	free(b->up0);
	free(b);
}

const struct strategy strategy_bittorrent = {
	.name = "bittorrent",
	.about = "the whole layer through a BitTorrent swarm (opentracker, "
		 "aria2c), one download per VM and image",
	.serves = false,
	.start = bt_start,
	.finish = bt_finish,
	.facts = bt_facts,
	.free = bt_free,
};

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zlib.h>

#include "fetch.h"
#include "regworker.h"

struct regjob {
	enum regjob_kind kind;
	char ref[512];
	uint32_t *blocks;	/* BLOCKS: which, for the error */
	struct fetch_extent *x; /* BLOCKS: where each lies */
	uint32_t n;
	void *tag;
	struct regjob *next;
};

/* An image opened once, then read many times: one per reference. */
struct opened {
	char ref[512];
	struct fetch_image fi;
	struct opened *next;
};

struct regworker {
	pthread_t thread;
	unsigned parallel;    /* range requests in flight per block job */
	const char *meta_dir; /* the node's metadata store, or NULL */
	const char *via;      /* HOST:PORT for the ref's host, or NULL */
	double dilation;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int efd;
	int stopping;
	struct regjob *jobs, *jobs_tail;
	struct regres *res, *res_tail;
	struct opened *open; /* the thread's alone */
};

static void post(struct regworker *w, struct regres *r)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	if (w->res_tail)
		w->res_tail->next = r;
	else
		w->res = r;
	w->res_tail = r;
	pthread_mutex_unlock(&w->lock);
	if (write(w->efd, &one, sizeof(one)) != sizeof(one)) {
		/* The counter only fails at its maximum: already readable. */
	}
}

/* An error names its job, so the submitter knows what to ask again; a
 * lost error would leave the job in flight for ever, so the job's blocks
 * move into the result. */
static void post_error(struct regworker *w, struct regjob *j, int error,
		       const char *msg)
{
	struct regres *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	r->kind = REGRES_ERROR;
	r->tag = j->tag;
	r->job = j->kind;
	r->blocks = j->blocks;
	r->nblocks = j->n;
	j->blocks = NULL;
	j->n = 0;
	r->error = error;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
	post(w, r);
}

/* The reference fetch_open reads: ref with its host (all before the first
 * '/', as registry_ref_parse splits it) replaced by w->via. Only the host:
 * the repository and the pinned digest are what the manifest is checked
 * against. A ref without a '/' goes as it is, for fetch_open to refuse. */
static int route(const struct regworker *w, const char *ref, char *out,
		 size_t size, struct err *e)
{
	const char *slash = strchr(ref, '/');
	int n;

	if (!w->via || !slash)
		n = snprintf(out, size, "%s", ref);
	else
		n = snprintf(out, size, "%s%s", w->via, slash);
	if (n < 0 || (size_t)n >= size)
		return err_set(e, -ENAMETOOLONG,
			       "image reference \"%s\": too long", ref);
	return 0;
}

/* The image ref, opened once (manifest and config read from the registry
 * then); *fresh (may be NULL) says whether that was now. Opened images
 * are known by ref as the jobs name it, whichever host it was read from. */
static struct fetch_image *get_open_fresh(struct regworker *w, const char *ref,
					  struct err *e, int *ret, int *fresh)
{
	char routed[1024];
	struct opened *o;

	if (fresh)
		*fresh = 0;
	for (o = w->open; o; o = o->next)
		if (!strcmp(o->ref, ref))
			return &o->fi;
	if (fresh)
		*fresh = 1;
	o = calloc(1, sizeof(*o));
	if (!o) {
		*ret = err_set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	*ret = route(w, ref, routed, sizeof(routed), e);
	/* Dilated from the manifest on: a stall or connect time-out of
	 * fetch_open's own requests is the world's too. */
	if (!*ret)
		*ret = fetch_open_dilated(routed, w->meta_dir, w->dilation,
					  &o->fi, e);
	if (*ret) {
		free(o);
		return NULL;
	}
	o->fi.parallel = w->parallel;
	snprintf(o->ref, sizeof(o->ref), "%s", ref);
	o->next = w->open;
	w->open = o;
	return &o->fi;
}

static struct fetch_image *get_open(struct regworker *w, const char *ref,
				    struct err *e, int *ret)
{
	return get_open_fresh(w, ref, e, ret, NULL);
}

/* The image, opened, and its first layer that has block blobs: what the
 * agent serves. */
static struct fetch_image *get_block_layer(struct regworker *w, const char *ref,
					   unsigned *layer, struct err *e,
					   int *ret)
{
	struct fetch_image *fi = get_open(w, ref, e, ret);
	unsigned i;

	if (!fi)
		return NULL;
	for (i = 0; i < fi->img.nlayers && !fi->img.layers[i].has_blocks; i++)
		;
	if (i == fi->img.nlayers) {
		*ret = err_set(e, -EINVAL, "%s: no block layer", ref);
		return NULL;
	}
	*layer = i;
	return fi;
}

static void *dup_bytes(const void *p, size_t len)
{
	void *d = malloc(len ? len : 1);

	if (d && len)
		memcpy(d, p, len);
	return d;
}

static void do_meta(struct regworker *w, struct regjob *j)
{
	struct regres *r;
	struct fetch_image *fi;
	struct err e = {""};
	int ret = 0, fresh;

	fi = get_open_fresh(w, j->ref, &e, &ret, &fresh);
	if (!fi) {
		post_error(w, j, ret, e.msg);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		post_error(w, j, -ENOMEM, "out of memory");
		return;
	}
	r->kind = REGRES_META;
	r->tag = j->tag;
	r->manifest = dup_bytes(fi->manifest, fi->manifest_len);
	r->manifest_len = fi->manifest_len;
	r->config = dup_bytes(fi->config, fi->config_len);
	r->config_len = fi->config_len;
	/* What was read to get here counts as registry traffic, once: the
	 * registry strategy asks for the meta after its layer pull opened
	 * the image (and counted it). */
	r->bytes = fresh ? fi->meta_bytes : 0;
	post(w, r);
}

/* The index as read: checking, decoding and keeping it is the cache's
 * (the index from the node's metadata store never gets here). */
static void do_index(struct regworker *w, struct regjob *j)
{
	struct regres *r = NULL;
	struct fetch_image *fi;
	struct err e = {""};
	uint8_t *buf = NULL;
	unsigned l;
	size_t len = 0;
	int ret = 0;

	fi = get_block_layer(w, j->ref, &l, &e, &ret);
	if (fi)
		ret = fetch_blob_raw(fi, fi->img.layers[l].index.digest, &buf,
				     &len, &e);
	if (!ret && !(r = calloc(1, sizeof(*r))))
		ret = err_set(&e, -ENOMEM, "out of memory");
	if (ret) {
		free(buf);
		post_error(w, j, ret, e.msg);
		return;
	}
	r->kind = REGRES_META;
	r->tag = j->tag;
	r->index = buf;
	r->index_len = len;
	r->bytes = len;
	post(w, r);
}

struct block_ctx {
	struct regworker *w;
	void *tag;
};

static int post_block(void *arg, uint32_t block, const void *cdata, size_t clen,
		      const void *data, size_t len)
{
	struct block_ctx *c = arg;
	struct regres *r = calloc(1, sizeof(*r));

	(void)data;
	(void)len;
	if (!r)
		return -ENOMEM;
	r->kind = REGRES_BLOCK;
	r->tag = c->tag;
	r->block = block;
	r->cdata = dup_bytes(cdata, clen);
	r->clen = clen;
	if (!r->cdata) {
		free(r);
		return -ENOMEM;
	}
	post(c->w, r);
	return 0;
}

static void do_blocks(struct regworker *w, struct regjob *j)
{
	struct block_ctx c = {.w = w, .tag = j->tag};
	struct fetch_image *fi;
	struct err e = {""};
	unsigned l;
	int ret = 0;

	fi = get_block_layer(w, j->ref, &l, &e, &ret);
	if (fi)
		ret = fetch_blocks_raw(fi, l, j->x, j->n, post_block, &c, NULL,
				       &e);
	if (ret) {
		post_error(w, j, ret, e.msg);
	} else {
		struct regres *r = calloc(1, sizeof(*r));

		if (r) {
			r->kind = REGRES_DONE;
			r->tag = j->tag;
			post(w, r);
		}
	}
}

/* The `docker pull` baseline: every layer whole, unpacked (gzip, or a
 * plain tar) and checked against its diff_id, as a container runtime
 * unpacks it. */
struct layer_ctx {
	z_stream z;
	int gzip; /* inflate first; a plain tar is hashed as it comes */
	struct sha256_ctx sha;
	uint8_t out[1 << 16];
	uint64_t bytes;
};

static int inflate_sink(void *arg, const void *p, size_t len)
{
	struct layer_ctx *c = arg;
	int zr;

	c->bytes += len;
	if (!c->gzip)
		return sha256_update(&c->sha, p, len) ? -EIO : 0;
	c->z.next_in = (Bytef *)(uintptr_t)p;
	c->z.avail_in = (uInt)len;
	do {
		c->z.next_out = c->out;
		c->z.avail_out = sizeof(c->out);
		zr = inflate(&c->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return -EBADMSG;
		if (sha256_update(&c->sha, c->out,
				  sizeof(c->out) - c->z.avail_out))
			return -EIO;
	} while (c->z.avail_out == 0);
	return 0;
}

/* One layer into c (its byte count adds up across layers). */
static int pull_layer(struct fetch_image *fi, unsigned i, struct layer_ctx *c,
		      struct err *e)
{
	const struct oci_layer *l = &fi->img.layers[i];
	uint8_t d[SHA256_LEN];
	char got[SHA256_OCI_LEN];
	int ret;

	c->gzip = strcmp(l->blob.media_type, OCI_LAYER_TAR_MEDIA_TYPE) != 0;
	memset(&c->z, 0, sizeof(c->z));
	if (c->gzip && inflateInit2(&c->z, 15 + 32) != Z_OK)
		return err_set(e, -ENOMEM, "layer %u: zlib: out of memory", i);
	if (sha256_init(&c->sha)) {
		ret = err_set(e, -ENOMEM, "sha256: out of memory");
		goto out;
	}
	ret = registry_blob_get(fi->r, fi->ref.repo, l->blob.digest, 0, 0,
				inflate_sink, c, e);
	if (sha256_final(&c->sha, d) && !ret)
		ret = err_set(e, -EIO, "sha256 failed");
	if (!ret && strcmp(sha256_oci(d, got), l->diff_id))
		ret = err_set(e, -EBADMSG, "layer %u unpacks to %s, not %s", i,
			      got, l->diff_id);
out:
	if (c->gzip)
		inflateEnd(&c->z);
	return ret;
}

static void do_layer(struct regworker *w, struct regjob *j)
{
	struct layer_ctx *c;
	struct fetch_image *fi;
	struct err e = {""};
	struct regres *r;
	unsigned i;
	int ret = 0;

	fi = get_open(w, j->ref, &e, &ret);
	c = fi ? calloc(1, sizeof(*c)) : NULL;
	if (fi && !c)
		ret = err_set(&e, -ENOMEM, "out of memory");
	for (i = 0; c && !ret && i < fi->img.nlayers; i++)
		ret = pull_layer(fi, i, c, &e);
	if (!c || ret) {
		if (!e.msg[0])
			err_set(&e, ret, "layer: %s", strerror(-ret));
		post_error(w, j, ret ? ret : -ENOMEM, e.msg);
	} else if ((r = calloc(1, sizeof(*r)))) {
		r->kind = REGRES_LAYER_DONE;
		r->tag = j->tag;
		r->bytes = c->bytes + fi->meta_bytes;
		post(w, r);
	}
	free(c);
}

static void job_free(struct regjob *j)
{
	free(j->blocks);
	free(j->x);
	free(j);
}

static void *run(void *arg)
{
	struct regworker *w = arg;
	struct regjob *j;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (!w->jobs && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		j = w->jobs;
		if (j) {
			w->jobs = j->next;
			if (!w->jobs)
				w->jobs_tail = NULL;
		}
		pthread_mutex_unlock(&w->lock);
		if (!j)
			return NULL; /* stopping, nothing left */
		if (j->kind == REGJOB_META)
			do_meta(w, j);
		else if (j->kind == REGJOB_INDEX)
			do_index(w, j);
		else if (j->kind == REGJOB_BLOCKS)
			do_blocks(w, j);
		else
			do_layer(w, j);
		job_free(j);
	}
}

int regworker_start(struct regworker **out, unsigned parallel,
		    const char *meta_dir, const char *via, double k, int *efd)
{
	struct regworker *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	w->parallel = parallel;
	w->meta_dir = meta_dir;
	w->via = via;
	w->dilation = k;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		ret = -errno;
		free(w);
		return ret;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	ret = -pthread_create(&w->thread, NULL, run, w);
	if (ret) {
		close(w->efd);
		free(w);
		return ret;
	}
	*efd = w->efd;
	*out = w;
	return 0;
}

int regworker_submit(struct regworker *w, enum regjob_kind kind,
		     const char *ref, const struct blockimg_index *ix,
		     const uint32_t *blocks, uint32_t n, void *tag)
{
	struct regjob *j;
	uint32_t i;

	if (kind == REGJOB_BLOCKS && !ix)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->kind = kind;
	snprintf(j->ref, sizeof(j->ref), "%s", ref);
	j->tag = tag;
	if (kind == REGJOB_BLOCKS && n) {
		j->blocks = malloc(n * sizeof(*blocks));
		j->x = malloc(n * sizeof(*j->x));
		if (!j->blocks || !j->x) {
			job_free(j);
			return -ENOMEM;
		}
		memcpy(j->blocks, blocks, n * sizeof(*blocks));
		j->n = n;
		for (i = 0; i < n; i++) {
			if (blocks[i] >= ix->nblocks) {
				job_free(j);
				return -ERANGE;
			}
			j->x[i].offset = ix->blocks[blocks[i]].offset;
			j->x[i].clen = ix->blocks[blocks[i]].clen;
			j->x[i].block = blocks[i];
		}
	}
	pthread_mutex_lock(&w->lock);
	if (w->jobs_tail)
		w->jobs_tail->next = j;
	else
		w->jobs = j;
	w->jobs_tail = j;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

struct regres *regworker_take(struct regworker *w)
{
	struct regres *r;
	uint64_t n;

	if (read(w->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing signalled, the queue may still hold some */
	}
	pthread_mutex_lock(&w->lock);
	r = w->res;
	w->res = w->res_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	return r;
}

void regres_free(struct regres *r)
{
	if (!r)
		return;
	free(r->manifest);
	free(r->config);
	free(r->index);
	free(r->cdata);
	free(r->blocks);
	free(r);
}

void regworker_stop(struct regworker *w)
{
	struct regjob *j, *jn;
	struct regres *r, *rn;
	struct opened *o, *on;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	for (j = w->jobs; j; j = jn) {
		jn = j->next;
		job_free(j);
	}
	w->jobs = w->jobs_tail = NULL;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (r = w->res; r; r = rn) {
		rn = r->next;
		regres_free(r);
	}
	for (o = w->open; o; o = on) {
		on = o->next;
		fetch_close(&o->fi);
		free(o);
	}
	close(w->efd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "blockimg.h"
#include "conn.h"
#include "eventlog.h"
#include "evloop.h"
#include "oci.h"
#include "proto.h"
#include "regworker.h"

#define RECONNECT_MS 300
#define REF_MAX	     512
#define FN_MAX	     128

enum bstate {
	B_ABSENT = 0,
	B_WANTED,    /* needed, not yet asked for */
	B_REQUESTED, /* asked of the upstream */
	B_PRESENT,
};

struct agent;

/* A child's connection; kept (with c NULL) after it closes until exit,
 * because waiters may still name it. */
struct child {
	struct agent *a;
	struct conn *c;
	struct child *next;
};

/* A child's request that must wait for something this agent lacks. */
struct waiter {
	struct child *ch;
	uint32_t id;
	enum proto_type what; /* GET_MANIFEST, GET_BLOB or GET_BLOCK */
	char digest[SHA256_OCI_LEN];
	char ref[REF_MAX]; /* GET_MANIFEST */
	uint32_t block;
	struct waiter *next;
};

struct container {
	uint32_t id;
	uint8_t strategy;
	uint64_t t_cmd;
	uint64_t t_started; /* when it was up: resent to a reconnecting manager
			     */
	int started;
	struct container *next;
};

/* One function's image on this VM: its place in that function's tree (the
 * parent), what of the image it holds, and who waits for what. */
struct image {
	struct agent *a;
	char function[FN_MAX];
	char ref[REF_MAX];
	uint8_t strategy;

	/* meta: manifest, config, block index */
	int meta; /* 0 none, 1 being fetched, 2 held */
	uint8_t *manifest, *config, *index;
	size_t manifest_len, config_len, index_len;
	struct oci_image img;
	struct blockimg_index ix;
	int layer; /* the layer with blocks */
	char config_digest[SHA256_OCI_LEN];

	/* blocks */
	uint8_t **blk;
	uint8_t *state;
	struct waiter **bwait;
	uint32_t npresent, startup_present;
	int startup_wanted; /* the start-up set is asked for (or held) */
	uint8_t *is_startup;
	int first_block_logged;
	uint8_t *scratch;	      /* one decompressed block */
	struct blockimg_decoder *dec; /* kept: small blocks decompress faster */

	/* upstream */
	struct proto_peer parent;
	struct conn *up;
	int up_step; /* meta from a parent: 1 manifest, 2 blobs asked */

	uint8_t *bad;	  /* per block: times it failed verification */
	unsigned retries; /* upstream failures in a row, for back-off */
	struct container *cts;
	uint64_t from_parent, from_registry, served;
	unsigned refetches, corrupt;
	struct image *next;
};

struct agent {
	const struct agent_opts *o;
	struct evloop *l;
	struct eventlog *log;
	struct regworker *rw;
	int rw_fd, listen_fd;
	struct conn *mgr;
	struct image *images;
	struct child *children;
	/* Children's requests for meta or blocks of an image this agent does
	 * not hold the meta of yet (its own PROVISION or fetch may still be
	 * on the way): answered when the meta arrives. */
	struct waiter *pending;
	unsigned npending;
};

/* A child may ask before this agent knows the image; this many requests
 * wait at most, beyond that they are refused. */
#define MAX_PENDING 65536
/* Upstream failures are retried after a pause that doubles, up to this. */
#define RETRY_MAX_MS 2000
#define RETRY_LIMIT  30

static void log_ev(struct image *im, const char *ev, json_t *f)
{
	if (!im) {
		json_decref(f);
		return;
	}
	if (!f)
		f = json_object();
	json_object_set_new(f, "function", json_string(im->function));
	json_object_set_new(f, "image", json_string(im->ref));
	eventlog_write(im->a->log, ev, f);
}

static void send_or_log(struct agent *a, struct conn *c,
			const struct proto_msg *m)
{
	struct err e = {""};

	if (c && conn_send(c, m, &e))
		eventlog_write(a->log, "send_failed",
			       json_pack("{s:s, s:s}", "type",
					 proto_type_name(m->type), "error",
					 e.msg));
}

static struct image *find_fn(struct agent *a, const char *fn, size_t len)
{
	struct image *im;

	for (im = a->images; im; im = im->next)
		if (strlen(im->function) == len &&
		    !memcmp(im->function, fn, len))
			return im;
	return NULL;
}

/* A child names an image by reference or a blob by digest; any of our
 * functions' images that matches will do. */
static struct image *find_ref(struct agent *a, const struct proto_str *s)
{
	struct image *im;

	for (im = a->images; im; im = im->next)
		if (strlen(im->ref) == s->len && !memcmp(im->ref, s->s, s->len))
			return im;
	return NULL;
}

static struct image *find_digest(struct agent *a, const struct proto_str *s,
				 int *which)
{
	struct image *im;

	for (im = a->images; im; im = im->next) {
		if (im->meta != 2)
			continue;
		if (strlen(im->config_digest) == s->len &&
		    !memcmp(im->config_digest, s->s, s->len)) {
			*which = 1;
			return im;
		}
		if (strlen(im->img.layers[im->layer].index.digest) == s->len &&
		    !memcmp(im->img.layers[im->layer].index.digest, s->s,
			    s->len)) {
			*which = 2;
			return im;
		}
		if (strlen(im->img.layers[im->layer].data.digest) == s->len &&
		    !memcmp(im->img.layers[im->layer].data.digest, s->s,
			    s->len)) {
			*which = 3;
			return im;
		}
	}
	return NULL;
}

static void copy_str(char *dst, size_t cap, const struct proto_str *s)
{
	size_t n = s->len < cap - 1 ? s->len : cap - 1;

	memcpy(dst, s->s, n);
	dst[n] = '\0';
}

static int add_waiter(struct waiter **list, struct child *ch,
		      const struct proto_msg *m)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->ch = ch;
	w->id = m->id;
	w->what = m->type;
	w->block = m->block;
	if (m->digest.s)
		copy_str(w->digest, sizeof(w->digest), &m->digest);
	if (m->image.s)
		copy_str(w->ref, sizeof(w->ref), &m->image);
	w->next = *list;
	*list = w;
	return 0;
}

static void reply_error(struct agent *a, struct conn *c, uint32_t id, int error,
			const char *msg)
{
	struct proto_msg r = {.type = PROTO_ERROR, .id = id, .error = error};

	r.message = proto_str(msg);
	send_or_log(a, c, &r);
}

/* --- answering children ------------------------------------------------ */

static void serve_block(struct image *im, struct conn *c, uint32_t id,
			uint32_t b)
{
	struct proto_msg r = {.type = PROTO_BLOCK, .id = id, .block = b};
	struct err e = {""};

	/* No digest: the connection is the image's, and the child checks
	 * the bytes against its index anyway. 77 bytes a block did not
	 * shrink with scale (4% of a block at 0.01, 0.02% at full size). */
	r.data = im->blk[b];
	r.data_len = im->ix.blocks[b].clen;
	/* Straight from the cache: a stored block never changes. */
	if (conn_send_ref(c, &r, &e))
		log_ev(im, "send_failed", json_pack("{s:s}", "error", e.msg));
	im->served += r.data_len;
}

static void serve_meta(struct image *im, struct conn *c, uint32_t id,
		       enum proto_type what, const char *digest)
{
	struct proto_msg r = {.id = id};

	if (what == PROTO_GET_MANIFEST) {
		r.type = PROTO_MANIFEST;
		r.data = im->manifest;
		r.data_len = (uint32_t)im->manifest_len;
	} else {
		r.type = PROTO_BLOB;
		r.digest = proto_str(digest);
		if (!strcmp(digest, im->config_digest)) {
			r.data = im->config;
			r.data_len = (uint32_t)im->config_len;
		} else {
			r.data = im->index;
			r.data_len = (uint32_t)im->index_len;
		}
	}
	send_or_log(im->a, c, &r);
	im->served += r.data_len;
}

/* --- asking upstream -------------------------------------------------- */

static void up_frame(struct conn *c, const struct proto_msg *m, void *arg);
static void up_closed(struct conn *c, int error, const char *why, void *arg);
static void block_arrived(struct image *im, uint32_t b, const uint8_t *cdata,
			  size_t clen, int from_registry);

static void request_meta(struct image *im)
{
	struct agent *a = im->a;
	struct proto_msg m = {.type = PROTO_GET_MANIFEST, .id = 1};

	im->meta = 1;
	if (!im->parent.addr) {
		regworker_submit(a->rw, REGJOB_META, im->ref, NULL, 0, im);
		return;
	}
	m.image = proto_str(im->ref);
	im->up_step = 1;
	send_or_log(a, im->up, &m);
}

/* Asks the upstream for every block wanted and not yet asked for. */
static void request_wanted(struct image *im)
{
	uint32_t *list, n = 0, b;

	if (im->meta != 2)
		return;
	if (im->parent.addr && !im->up)
		return; /* parent lost: the manager will name a new one */
	list = malloc((im->ix.nblocks ? im->ix.nblocks : 1) * sizeof(*list));
	if (!list)
		return;
	for (b = 0; b < im->ix.nblocks; b++) {
		if (im->state[b] != B_WANTED)
			continue;
		im->state[b] = B_REQUESTED;
		list[n++] = b;
	}
	if (n && !im->parent.addr) {
		regworker_submit(im->a->rw, REGJOB_BLOCKS, im->ref, list, n,
				 im);
	} else {
		uint32_t i, j;

		/* One request per run of neighbours (list is ascending):
		 * 617 one-block requests were 55 KB on a child's upload and
		 * its parent's download, which do not shrink with scale. */
		for (i = 0; i < n; i = j) {
			struct proto_msg m = {.type = PROTO_GET_BLOCK,
					      .id = list[i] + 16,
					      .block = list[i]};

			for (j = i + 1; j < n && list[j] == list[j - 1] + 1;
			     j++)
				;
			m.count = j - i > 1 ? j - i : 0;
			m.digest = proto_str(
				im->img.layers[im->layer].data.digest);
			send_or_log(im->a, im->up, &m);
		}
	}
	free(list);
}

static void want(struct image *im, uint32_t b)
{
	if (im->state[b] == B_ABSENT)
		im->state[b] = B_WANTED;
}

static int connect_up(struct image *im)
{
	struct err e = {""};
	int ret;

	if (!im->parent.addr)
		return 0;
	ret = conn_connect(im->a->l, im->parent.addr, im->parent.port, up_frame,
			   up_closed, im, &im->up, &e);
	if (ret)
		log_ev(im, "error", json_pack("{s:s}", "error", e.msg));
	return ret;
}

/* --- meta and blocks arriving ------------------------------------------ */

static void container_check(struct image *im);

static int str_eq(const char *a, const char *b)
{
	return a[0] && !strcmp(a, b);
}

/* Answers the children's requests that waited for this image's meta: the
 * manifest, config and index now, and blocks as they are or as they come
 * (asking upstream for those it lacks). */
static void dispatch_pending(struct image *im)
{
	struct agent *a = im->a;
	struct waiter **pw = &a->pending, *w;
	const char *data = im->img.layers[im->layer].data.digest;
	const char *index = im->img.layers[im->layer].index.digest;

	while ((w = *pw)) {
		int mine =
			(w->what == PROTO_GET_MANIFEST &&
			 str_eq(w->ref, im->ref)) ||
			(w->what == PROTO_GET_BLOB &&
			 (str_eq(w->digest, im->config_digest) ||
			  str_eq(w->digest, index))) ||
			(w->what == PROTO_GET_BLOCK && str_eq(w->digest, data));

		if (!mine) {
			pw = &w->next;
			continue;
		}
		*pw = w->next;
		a->npending--;
		if (!w->ch->c) {
			free(w);
			continue;
		}
		if (w->what != PROTO_GET_BLOCK) {
			serve_meta(im, w->ch->c, w->id, w->what, w->digest);
			free(w);
		} else if (w->block >= im->ix.nblocks) {
			reply_error(a, w->ch->c, w->id, -ENOENT,
				    "no such block");
			free(w);
		} else if (im->state[w->block] == B_PRESENT) {
			serve_block(im, w->ch->c, w->id, w->block);
			free(w);
		} else {
			want(im, w->block);
			w->next = im->bwait[w->block];
			im->bwait[w->block] = w;
		}
	}
	request_wanted(im);
}

static void retry_upstream(struct evloop *l, void *arg);

/* Something asked upstream failed (an error answer, a registry error, a
 * connection that could not be made): what is missing is asked again after
 * a pause that doubles, so a parent still fetching or a registry busy for a
 * moment is waited for rather than given up on. */
static void retry_later(struct image *im, const char *why)
{
	unsigned ms;

	if (im->retries >= RETRY_LIMIT) {
		if (im->retries++ == RETRY_LIMIT)
			log_ev(im, "gave_up", json_pack("{s:s}", "why", why));
		return;
	}
	ms = 100u << (im->retries < 5 ? im->retries : 5);
	if (ms > RETRY_MAX_MS)
		ms = RETRY_MAX_MS;
	im->retries++;
	log_ev(im, "retry", json_pack("{s:s, s:i}", "why", why, "ms", (int)ms));
	evloop_timer(im->a->l, ms, retry_upstream, im);
}

static void retry_upstream(struct evloop *l, void *arg)
{
	struct image *im = arg;
	uint32_t b;

	(void)l;
	if (im->strategy == PROTO_STRATEGY_REGISTRY) {
		regworker_submit(im->a->rw, REGJOB_LAYER, im->ref, NULL, 0, im);
		return;
	}
	if (im->parent.addr && !im->up && connect_up(im)) {
		retry_later(im, "cannot connect to the parent");
		return;
	}
	if (im->meta == 0) {
		request_meta(im);
		return;
	}
	if (im->meta == 1)
		return; /* on its way */
	for (b = 0; b < im->ix.nblocks; b++)
		if (im->state[b] == B_REQUESTED)
			im->state[b] = B_WANTED;
	request_wanted(im);
}

static int meta_ready(struct image *im)
{
	struct err e = {""};
	unsigned i;
	int ret;

	ret = oci_manifest_parse((const char *)im->manifest, im->manifest_len,
				 &im->img, &e);
	if (!ret) {
		im->layer = -1;
		for (i = 0; i < im->img.nlayers; i++)
			if (im->img.layers[i].has_blocks) {
				im->layer = (int)i;
				break;
			}
		if (im->layer < 0)
			ret = err_set(&e, -EINVAL, "%s has no block layer",
				      im->ref);
	}
	if (!ret)
		ret = blockimg_index_decode(im->index, im->index_len, &im->ix,
					    &e);
	if (ret) {
		log_ev(im, "error", json_pack("{s:s}", "error", e.msg));
		return ret;
	}
	snprintf(im->config_digest, sizeof(im->config_digest), "%s",
		 im->img.config.digest);
	im->blk = calloc(im->ix.nblocks + 1, sizeof(*im->blk));
	im->state = calloc(im->ix.nblocks + 1, 1);
	im->is_startup = calloc(im->ix.nblocks + 1, 1);
	im->bwait = calloc(im->ix.nblocks + 1, sizeof(*im->bwait));
	im->scratch = malloc(im->ix.block_size);
	im->bad = calloc(im->ix.nblocks + 1, 1);
	if (!im->blk || !im->state || !im->is_startup || !im->bwait ||
	    !im->scratch || !im->bad || blockimg_decoder_new(&im->dec))
		return -ENOMEM;
	im->meta = 2;
	log_ev(im, "manifest",
	       json_pack("{s:i, s:i}", "blocks", (int)im->ix.nblocks,
			 "startup_blocks", (int)im->ix.nstartup));
	dispatch_pending(im);
	for (i = 0; i < im->ix.nstartup; i++)
		im->is_startup[im->ix.startup[i]] = 1;
	/* faasnet and ondemand: the start-up set, on demand (paper: later
	 * reads fetch through the tree too; nothing in the background). */
	if (im->strategy != PROTO_STRATEGY_REGISTRY)
		for (i = 0; i < im->ix.nstartup; i++)
			want(im, im->ix.startup[i]);
	im->startup_wanted = 1;
	request_wanted(im);
	container_check(im);
	return 0;
}

static void block_arrived(struct image *im, uint32_t b, const uint8_t *cdata,
			  size_t clen, int from_registry)
{
	struct waiter *w, *wn;
	struct err e = {""};

	if (b >= im->ix.nblocks || im->state[b] == B_PRESENT)
		return;
	/* Verified and decompressed before anything else sees it. */
	if (blockimg_block_decompress(&im->ix, im->dec, b, cdata, clen,
				      im->scratch, im->ix.block_size, &e)) {
		im->corrupt++;
		log_ev(im, "corrupt_block",
		       json_pack("{s:i, s:s, s:s}", "block", (int)b, "source",
				 from_registry ? "registry" : "parent", "error",
				 e.msg));
		/* Asked again, of the parent first; a parent that sends it
		 * bad twice is passed over for the registry, which the index
		 * vouches for. */
		im->refetches++;
		if (im->bad[b] < 255)
			im->bad[b]++;
		if (!from_registry && im->bad[b] < 2 && im->up) {
			im->state[b] = B_WANTED;
			request_wanted(im);
		} else {
			im->state[b] = B_REQUESTED;
			regworker_submit(im->a->rw, REGJOB_BLOCKS, im->ref, &b,
					 1, im);
		}
		return;
	}
	im->blk[b] = malloc(clen);
	if (!im->blk[b])
		return;
	memcpy(im->blk[b], cdata, clen);
	im->state[b] = B_PRESENT;
	im->npresent++;
	im->retries = 0;
	if (from_registry)
		im->from_registry += clen;
	else
		im->from_parent += clen;
	if (!im->first_block_logged) {
		im->first_block_logged = 1;
		log_ev(im, "first_block", json_pack("{s:i}", "block", (int)b));
	}
	log_ev(im, "block",
	       json_pack("{s:i, s:i, s:s}", "block", (int)b, "bytes", (int)clen,
			 "source", from_registry ? "registry" : "parent"));
	/* Store and forward: every child waiting for it gets it now. */
	for (w = im->bwait[b]; w; w = wn) {
		wn = w->next;
		if (w->ch->c)
			serve_block(im, w->ch->c, w->id, b);
		free(w);
	}
	im->bwait[b] = NULL;
	if (im->is_startup[b])
		im->startup_present++;
	if (im->npresent == im->ix.nblocks)
		log_ev(im, "all_blocks",
		       json_pack("{s:I, s:I}", "registry_bytes",
				 (json_int_t)im->from_registry, "parent_bytes",
				 (json_int_t)im->from_parent));
	container_check(im);
}

/* A container is up: say so in the timeline and to the manager. */
static void container_started(struct image *im, struct container *ct)
{
	struct proto_msg m = {.type = PROTO_STARTED};

	ct->started = 1;
	m.function = proto_str(im->function);
	m.container = ct->id;
	m.t_ns = evloop_now_ns();
	log_ev(im, "started",
	       json_pack("{s:i, s:f, s:I, s:I}", "container", (int)ct->id,
			 "seconds", (double)(m.t_ns - ct->t_cmd) / 1e9,
			 "registry_bytes", (json_int_t)im->from_registry,
			 "parent_bytes", (json_int_t)im->from_parent));
	ct->t_started = m.t_ns;
	/* With no manager connection now, connect_manager sends it on
	 * reconnecting. */
	if (im->a->mgr)
		send_or_log(im->a, im->a->mgr, &m);
}

static void container_check(struct image *im)
{
	struct container *ct;
	uint32_t b;

	/* registry: the layer job says when (layer_done). */
	if (im->strategy == PROTO_STRATEGY_REGISTRY || im->meta != 2 ||
	    im->startup_present != im->ix.nstartup)
		return;
	for (ct = im->cts; ct; ct = ct->next) {
		if (ct->started)
			continue;
		container_started(im, ct);
		if (!im->a->o->background)
			continue;
		/* The rest, queued behind what is already asked for. */
		for (b = 0; b < im->ix.nblocks; b++)
			want(im, b);
		request_wanted(im);
	}
}

static void layer_done(struct image *im, uint64_t bytes)
{
	struct container *ct;

	im->from_registry += bytes;
	for (ct = im->cts; ct; ct = ct->next)
		if (!ct->started)
			container_started(im, ct);
}

/* --- the parent connection ---------------------------------------------- */

static uint8_t *dup_data(const struct proto_msg *m)
{
	uint8_t *d = malloc(m->data_len ? m->data_len : 1);

	if (d && m->data_len)
		memcpy(d, m->data, m->data_len);
	return d;
}

static int digest_is(const void *buf, size_t len, const char *want)
{
	uint8_t d[SHA256_LEN];
	char got[SHA256_OCI_LEN];

	return !sha256_buf(buf, len, d) && !strcmp(sha256_oci(d, got), want);
}

/* The config and the index a parent sent must be the ones its manifest
 * names: the index decides what every block must hash to, so it is checked
 * before anything is verified against it. */
static int meta_from_parent_ok(struct image *im)
{
	struct oci_image tmp;
	struct err e = {""};
	unsigned i;
	int ok;

	if (oci_manifest_parse((const char *)im->manifest, im->manifest_len,
			       &tmp, &e))
		return 0;
	ok = digest_is(im->config, im->config_len, tmp.config.digest);
	for (i = 0; ok && i < tmp.nlayers; i++)
		if (tmp.layers[i].has_blocks) {
			ok = digest_is(im->index, im->index_len,
				       tmp.layers[i].index.digest);
			break; /* the first block layer is the one served */
		}
	oci_image_free(&tmp);
	return ok;
}

static void drop_meta(struct image *im)
{
	free(im->manifest);
	free(im->config);
	free(im->index);
	im->manifest = im->config = im->index = NULL;
	im->meta = 0;
}

/* The block index from the node's metadata store, when it is there and
 * matches the digest the manifest names: it then never crosses the
 * shaped links, where its size would not scale (docs/fidelity.md). */
static int index_from_store(struct image *im, const char *digest)
{
	struct err e = {""};
	char *buf;
	size_t len;

	if (!im->a->o->meta_dir || im->index ||
	    oci_layout_read_blob(im->a->o->meta_dir, digest, &buf, &len, &e))
		return 0;
	im->index = (uint8_t *)buf;
	im->index_len = len;
	return 1;
}

static void up_frame(struct conn *c, const struct proto_msg *m, void *arg)
{
	struct image *im = arg;
	struct proto_msg q = {.type = PROTO_GET_BLOB};
	struct oci_image tmp;
	struct err e = {""};

	(void)c;
	switch (m->type) {
	case PROTO_MANIFEST:
		if (im->meta != 1 || im->manifest)
			return;
		im->manifest = dup_data(m);
		im->manifest_len = m->data_len;
		im->from_parent += m->data_len;
		/* Which blobs to ask for comes from the manifest. */
		if (oci_manifest_parse((const char *)im->manifest,
				       im->manifest_len, &tmp, &e)) {
			log_ev(im, "error", json_pack("{s:s}", "error", e.msg));
			return;
		}
		q.id = 2;
		q.digest = proto_str(tmp.config.digest);
		send_or_log(im->a, im->up, &q);
		q.id = 3;
		for (unsigned i = 0; i < tmp.nlayers; i++)
			if (tmp.layers[i].has_blocks) {
				if (index_from_store(
					    im, tmp.layers[i].index.digest))
					break;
				q.digest =
					proto_str(tmp.layers[i].index.digest);
				send_or_log(im->a, im->up, &q);
				break;
			}
		oci_image_free(&tmp);
		im->up_step = 2;
		break;
	case PROTO_BLOB:
		if (im->meta != 1)
			return;
		im->from_parent += m->data_len;
		if (m->id == 2 && !im->config) {
			im->config = dup_data(m);
			im->config_len = m->data_len;
		} else if (m->id == 3 && !im->index) {
			im->index = dup_data(m);
			im->index_len = m->data_len;
		}
		/* The index decides what every block must hash to: check it
		 * against the manifest's digest first. */
		if (im->config && im->index) {
			if (meta_from_parent_ok(im)) {
				meta_ready(im);
			} else {
				drop_meta(im);
				retry_later(im, "meta from the parent does "
						"not match its digests");
			}
		}
		break;
	case PROTO_BLOCK:
		block_arrived(im, m->block, m->data, m->data_len, 0);
		break;
	case PROTO_ERROR:
		log_ev(im, "parent_error",
		       json_pack("{s:i, s:s%}", "error", (int)m->error,
				 "message", m->message.s ? m->message.s : "",
				 (size_t)m->message.len));
		if (im->meta == 1)
			drop_meta(im);
		retry_later(im, "the parent answered with an error");
		break;
	default:
		break;
	}
}

static void up_closed(struct conn *c, int error, const char *why, void *arg)
{
	struct image *im = arg;
	uint32_t b;

	(void)c;
	im->up = NULL;
	log_ev(im, "parent_lost",
	       json_pack("{s:i, s:s}", "error", error, "why", why));
	/* What was asked of it is asked again of the next parent; nothing
	 * already held is thrown away. */
	if (im->state)
		for (b = 0; b < im->ix.nblocks; b++)
			if (im->state[b] == B_REQUESTED)
				im->state[b] = B_WANTED;
	if (im->meta == 1)
		drop_meta(im);
	/* The parent may be alive and only the connection lost: try it again
	 * until the manager, which watches the parent, names another. */
	if (c)
		retry_later(im, why);
}

static void set_parent(struct image *im, struct proto_peer p)
{
	char a1[32];

	if (im->up) {
		conn_close(im->up);
		im->up = NULL;
		up_closed(NULL, 0, "parent replaced", im);
	}
	im->parent = p;
	{
		struct in_addr ia = {.s_addr = htonl(p.addr)};

		inet_ntop(AF_INET, &ia, a1, sizeof(a1));
	}
	log_ev(im, "parent",
	       json_pack("{s:s, s:i}", "parent", p.addr ? a1 : "registry",
			 "port", (int)p.port));
	if (connect_up(im))
		return;
	if (im->meta == 0)
		request_meta(im);
	else
		request_wanted(im);
}

/* --- children --------------------------------------------------------- */

/* A child asked for something of an image whose meta this agent does not
 * hold yet (its PROVISION or its own fetch may still be on the way, or it
 * just got this child from the manager): it waits rather than fails. */
static void wait_for_meta(struct agent *a, struct child *ch,
			  const struct proto_msg *m)
{
	if (a->npending >= MAX_PENDING || add_waiter(&a->pending, ch, m)) {
		reply_error(a, ch->c, m->id, -ENOBUFS,
			    "too many requests waiting");
		return;
	}
	a->npending++;
}

static void child_frame(struct conn *c, const struct proto_msg *m, void *arg)
{
	struct child *ch = arg;
	struct agent *a = ch->a;
	struct image *im;
	int which = 0;

	switch (m->type) {
	case PROTO_GET_MANIFEST:
		im = find_ref(a, &m->image);
		if (im && im->meta == 2)
			serve_meta(im, c, m->id, m->type, "");
		else
			wait_for_meta(a, ch, m);
		break;
	case PROTO_GET_BLOB:
		im = find_digest(a, &m->digest, &which);
		if (im && which != 3) {
			char d[SHA256_OCI_LEN];

			copy_str(d, sizeof(d), &m->digest);
			serve_meta(im, c, m->id, m->type, d);
		} else {
			wait_for_meta(a, ch, m);
		}
		break;
	case PROTO_GET_BLOCK: {
		/* A run of blocks is answered as that many one-block
		 * requests, each with its own id (block + 16). */
		uint32_t k, n = m->count ? m->count : 1;
		struct proto_msg one = *m;

		im = find_digest(a, &m->digest, &which);
		for (k = 0; k < n; k++) {
			one.block = m->block + k;
			one.id = n > 1 ? one.block + 16 : m->id;
			one.count = 0;
			if (!im || which != 3) {
				wait_for_meta(a, ch, &one);
			} else if (one.block >= im->ix.nblocks) {
				reply_error(a, c, one.id, -ENOENT,
					    "no such block");
				break;
			} else if (im->state[one.block] == B_PRESENT) {
				serve_block(im, c, one.id, one.block);
			} else {
				/* On demand down the chain: queue the child
				 * and fetch the block ourselves. */
				add_waiter(&im->bwait[one.block], ch, &one);
				want(im, one.block);
			}
		}
		if (im && which == 3)
			request_wanted(im);
		break;
	}
	default:
		reply_error(a, c, m->id, -EPROTO, "not a block request");
		break;
	}
}

static void child_closed(struct conn *c, int error, const char *why, void *arg)
{
	struct child *ch = arg;

	(void)c;
	(void)error;
	(void)why;
	ch->c = NULL;
}

static void on_accept(struct evloop *l, int fd, unsigned events, void *arg)
{
	struct agent *a = arg;
	struct child *ch;
	int s;

	(void)events;
	s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s < 0)
		return;
	ch = calloc(1, sizeof(*ch));
	if (!ch || conn_new(l, s, child_frame, child_closed, ch, &ch->c)) {
		free(ch);
		close(s);
		return;
	}
	ch->a = a;
	ch->next = a->children;
	a->children = ch;
}

/* --- the manager ---------------------------------------------------------- */

static void provision(struct agent *a, const struct proto_msg *m)
{
	struct image *im = find_fn(a, m->function.s, m->function.len);
	struct container *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return;
	/* A name cut to fit would never match again: refuse it whole. */
	if (m->function.len >= FN_MAX || m->image.len >= REF_MAX) {
		eventlog_write(a->log, "provision_refused",
			       json_pack("{s:i, s:s}", "container",
					 (int)m->container, "why",
					 "function or image name too long"));
		free(ct);
		return;
	}
	ct->id = m->container;
	ct->strategy = m->strategy;
	ct->t_cmd = evloop_now_ns();
	if (!im) {
		im = calloc(1, sizeof(*im));
		if (!im) {
			free(ct);
			return;
		}
		im->a = a;
		copy_str(im->function, sizeof(im->function), &m->function);
		copy_str(im->ref, sizeof(im->ref), &m->image);
		im->strategy = m->strategy;
		im->next = a->images;
		a->images = im;
	}
	ct->next = im->cts;
	im->cts = ct;
	log_ev(im, "provision",
	       json_pack("{s:i, s:i}", "container", (int)ct->id, "strategy",
			 (int)ct->strategy));
	if (m->strategy == PROTO_STRATEGY_REGISTRY) {
		regworker_submit(a->rw, REGJOB_LAYER, im->ref, NULL, 0, im);
		return;
	}
	if (im->meta == 0 || (im->meta == 2 && !im->startup_wanted)) {
		/* ondemand ignores the tree: straight to the registry. */
		struct proto_peer p = m->parent;
		uint32_t i;

		if (m->strategy == PROTO_STRATEGY_ONDEMAND)
			p.addr = 0;
		/* Back after an eviction: the start-up set again, from
		 * wherever the VM sits in the tree now. */
		for (i = 0; im->meta == 2 && i < im->ix.nstartup; i++)
			want(im, im->ix.startup[i]);
		im->startup_wanted = im->meta == 2;
		set_parent(im, p);
	}
	container_check(im);
}

/* The manager released this VM's last container of an image, and the VM
 * left the function's tree: like a VM back in the free pool, it holds none
 * of the image's blocks any more. The meta (manifest, config, index: tens
 * of kilobytes) stays, and so do children's requests waiting for blocks:
 * they are answered if the blocks come again. */
static void evict(struct agent *a, uint32_t container)
{
	struct container *ct, *cn;
	struct image *im;
	uint32_t b, freed = 0;

	for (im = a->images; im; im = im->next) {
		for (ct = im->cts; ct && ct->id != container; ct = ct->next)
			;
		if (ct)
			break;
	}
	if (!im || im->meta != 2)
		return;
	for (b = 0; b < im->ix.nblocks; b++) {
		if (im->state[b] != B_PRESENT)
			continue;
		free(im->blk[b]);
		im->blk[b] = NULL;
		im->state[b] = B_ABSENT;
		freed++;
	}
	im->npresent = im->startup_present = 0;
	im->startup_wanted = 0;
	for (ct = im->cts; ct; ct = cn) {
		cn = ct->next;
		free(ct);
	}
	im->cts = NULL;
	log_ev(im, "evicted",
	       json_pack("{s:i, s:i}", "container", (int)container, "blocks",
			 (int)freed));
}

static void connect_manager(struct evloop *l, void *arg);

static void mgr_frame(struct conn *c, const struct proto_msg *m, void *arg)
{
	struct agent *a = arg;
	struct image *im;

	switch (m->type) {
	case PROTO_HEARTBEAT: {
		struct proto_msg r = {.type = PROTO_HEARTBEAT, .id = m->id};

		send_or_log(a, c, &r);
		break;
	}
	case PROTO_PROVISION:
		provision(a, m);
		break;
	case PROTO_PARENT:
		im = find_fn(a, m->function.s, m->function.len);
		if (im && im->strategy == PROTO_STRATEGY_FAASNET)
			set_parent(im, m->parent);
		break;
	case PROTO_RELEASE:
		evict(a, m->container);
		break;
	default:
		break;
	}
}

static void mgr_closed(struct conn *c, int error, const char *why, void *arg)
{
	struct agent *a = arg;

	(void)c;
	a->mgr = NULL;
	eventlog_write(a->log, "manager_lost",
		       json_pack("{s:i, s:s}", "error", error, "why", why));
	evloop_timer(a->l, RECONNECT_MS, connect_manager, a);
}

static void connect_manager(struct evloop *l, void *arg)
{
	struct agent *a = arg;
	struct proto_msg m = {.type = PROTO_HELLO};
	struct err e = {""};
	struct image *im;
	struct container *ct;

	if (conn_connect(l, a->o->manager_addr, a->o->manager_port, mgr_frame,
			 mgr_closed, a, &a->mgr, &e)) {
		evloop_timer(l, RECONNECT_MS, connect_manager, a);
		return;
	}
	m.vm = proto_str(a->o->name);
	m.addr = a->o->addr;
	m.port = a->o->port;
	send_or_log(a, a->mgr, &m);
	/* Everything that started, again: a STARTED in flight when the old
	 * connection broke is lost with it, and the manager (and the driver
	 * behind it) ignore repeats. */
	for (im = a->images; im; im = im->next)
		for (ct = im->cts; ct; ct = ct->next) {
			struct proto_msg st = {.type = PROTO_STARTED};

			if (!ct->started)
				continue;
			st.function = proto_str(im->function);
			st.container = ct->id;
			st.t_ns = ct->t_started;
			send_or_log(a, a->mgr, &st);
		}
}

/* --- the registry worker's results -------------------------------------- */

static void on_results(struct evloop *l, int fd, unsigned events, void *arg)
{
	struct agent *a = arg;
	struct regres *r, *rn;

	(void)l;
	(void)fd;
	(void)events;
	for (r = regworker_take(a->rw); r; r = rn) {
		struct image *im = r->tag;

		rn = r->next;
		switch (r->kind) {
		case REGRES_META:
			if (im->meta == 1) {
				im->manifest = r->manifest;
				im->manifest_len = r->manifest_len;
				im->config = r->config;
				im->config_len = r->config_len;
				im->index = r->index;
				im->index_len = r->index_len;
				r->manifest = r->config = r->index = NULL;
				im->from_registry += r->bytes;
				meta_ready(im);
			}
			break;
		case REGRES_BLOCK:
			block_arrived(im, r->block, r->cdata, r->clen, 1);
			break;
		case REGRES_LAYER_DONE:
			layer_done(im, r->bytes);
			break;
		case REGRES_ERROR:
			log_ev(im, "registry_error",
			       json_pack("{s:i, s:s}", "error", r->error,
					 "message", r->msg));
			if (im->meta == 1)
				im->meta = 0;
			retry_later(im, "the registry failed");
			break;
		}
		regres_free(r);
	}
}

/* --- setup and teardown ------------------------------------------------- */

static void free_image(struct image *im)
{
	struct waiter *w, *wn;
	struct container *ct, *cn;
	uint32_t b;

	if (im->up)
		conn_close(im->up);
	if (im->blk)
		for (b = 0; b < im->ix.nblocks; b++) {
			free(im->blk[b]);
			for (w = im->bwait[b]; w; w = wn) {
				wn = w->next;
				free(w);
			}
		}
	for (ct = im->cts; ct; ct = cn) {
		cn = ct->next;
		free(ct);
	}
	free(im->blk);
	free(im->state);
	free(im->is_startup);
	free(im->bwait);
	free(im->scratch);
	blockimg_decoder_free(im->dec);
	free(im->bad);
	free(im->manifest);
	free(im->config);
	free(im->index);
	oci_image_free(&im->img);
	blockimg_index_free(&im->ix);
	free(im);
}

int agent_run(const struct agent_opts *o, volatile int *stop, struct err *e)
{
	struct agent a = {.o = o, .listen_fd = -1, .rw_fd = -1};
	struct image *im, *in;
	struct child *ch, *cn;
	int ret;

	ret = eventlog_open(o->events, o->name, &a.log);
	if (ret)
		return err_set(e, ret, "%s: %s", o->events, strerror(-ret));
	ret = evloop_new(&a.l);
	if (ret) {
		err_set(e, ret, "event loop: %s", strerror(-ret));
		goto out;
	}
	a.listen_fd = conn_listen(o->addr, o->port, 64, e);
	if (a.listen_fd < 0) {
		ret = a.listen_fd;
		goto out;
	}
	ret = regworker_start(&a.rw,
			      o->registry_requests ? o->registry_requests
						   : AGENT_REGISTRY_REQUESTS,
			      o->meta_dir, &a.rw_fd);
	if (ret) {
		err_set(e, ret, "registry worker: %s", strerror(-ret));
		goto out;
	}
	evloop_add(a.l, a.listen_fd, EVLOOP_IN, on_accept, &a);
	evloop_add(a.l, a.rw_fd, EVLOOP_IN, on_results, &a);
	eventlog_write(a.log, "agent_up",
		       json_pack("{s:i}", "port", (int)o->port));
	connect_manager(a.l, &a);
	ret = evloop_run(a.l, stop);

	for (im = a.images; im; im = im->next)
		log_ev(im, "stats",
		       json_pack("{s:I, s:I, s:I, s:i, s:i, s:i}",
				 "registry_bytes",
				 (json_int_t)im->from_registry, "parent_bytes",
				 (json_int_t)im->from_parent, "served_bytes",
				 (json_int_t)im->served, "refetches",
				 (int)im->refetches, "corrupt_blocks",
				 (int)im->corrupt, "blocks_held",
				 (int)im->npresent));
out:
	/* The worker first: its results name images about to go. */
	regworker_stop(a.rw);
	for (im = a.images; im; im = in) {
		in = im->next;
		free_image(im);
	}
	while (a.pending) {
		struct waiter *w = a.pending;

		a.pending = w->next;
		free(w);
	}
	for (ch = a.children; ch; ch = cn) {
		cn = ch->next;
		if (ch->c)
			conn_close(ch->c);
		free(ch);
	}
	if (a.mgr)
		conn_close(a.mgr);
	if (a.listen_fd >= 0)
		close(a.listen_fd);
	evloop_free(a.l);
	eventlog_close(a.log);
	return ret;
}

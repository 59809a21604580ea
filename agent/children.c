#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "children.h"
#include "conn.h"
#include "fake.h"

/* A reply a slow liar holds back (LIE_SLOW): the frame as it was to go,
 * its strings copied behind it, its data lent from buf. */
struct late {
	struct proto_msg m;
	struct cache_buf *buf;
	struct late *next;
	char str[]; /* digest, then message, each NUL-terminated */
};

struct child {
	struct children *cs;
	struct conn *c; /* NULL once closed */
	int dead;	/* closed: its waiters go at the next reap */
	unsigned nblock_waits, nmeta_waits;
	/* LIE_SLOW: replies not sent yet, first first; one goes each
	 * LIE_SLOW_MS. */
	struct late *late, **late_tail;
	long late_timer;
	struct child *next;
};

/* A child's request for a block this agent lacks: 24 bytes. */
struct bwait {
	struct child *ch;
	uint32_t id;
	struct bwait *next;
};

/* What this agent keeps of an image it serves: the block waiters, by
 * block number, and the fake it serves when told to (LIE_FAKE), made the
 * first time it is needed. */
struct btable {
	struct cache *c;
	uint32_t n;
	struct bwait **by_block;
	struct fake *fake;
	struct btable *next;
};

/* A child's request for something of an image whose meta this agent does
 * not hold yet (its own PROVISION or fetch may still be on the way, or it
 * just became this child's parent): answered when the meta comes. */
struct mwait {
	struct child *ch;
	uint32_t id;
	enum proto_type what;
	char key[PROTO_MAX_STR + 1]; /* the reference or the digest */
	uint32_t block, count;	     /* GET_BLOCK */
	uint64_t deadline_ns;
	struct mwait *next;
};

struct children {
	struct evloop *l;
	const struct children_ops *ops;
	void *arg;
	unsigned max_conns, nconns;
	struct child *list;
	struct btable *tables;
	struct mwait *mwaits;
	long reap_timer, sweep_timer;
	struct conn_acceptor *acc;
	enum lie_mode lie;
};

static void reap(struct evloop *l, void *arg);
static void drop_late(struct child *ch);

/* A child whose connection is gone or must go: its waiters stay until
 * the reap, so that no list is changed under a loop walking it. */
static void kill_child(struct child *ch)
{
	struct children *cs = ch->cs;

	if (ch->c) {
		conn_close(ch->c);
		ch->c = NULL;
		cs->nconns--;
	}
	drop_late(ch);
	ch->dead = 1;
	if (!cs->reap_timer)
		cs->reap_timer = evloop_timer(cs->l, 0, reap, cs);
	if (cs->reap_timer < 0)
		cs->reap_timer = 0;
}

/* Sends m (data lent from buf when buf is not NULL). A child that stopped
 * reading (lib/conn's queue limit) is disconnected: it would otherwise
 * wait for ever for a reply dropped here. */
static int deliver(struct child *ch, struct proto_msg *m, struct cache_buf *buf)
{
	struct err e = {""};
	int ret, sent;

	if (ch->dead)
		return -EPIPE;
	ret = buf ? conn_send_ref(ch->c, m, cache_buf_put, cache_buf_get(buf),
				  &e)
		  : conn_send(ch->c, m, &e);
	sent = ret;
	if (ret == -ENOBUFS && buf) {
		/* Too much queued for this child: its reply is refused, and
		 * said so (lib/conn takes a small frame past its limit). */
		struct proto_msg r = {
			.type = PROTO_ERROR, .id = m->id, .error = -ENOBUFS};

		r.message = proto_str("the child is not reading: reply "
				      "refused");
		ret = conn_send(ch->c, &r, &e);
	}
	if (ret)
		kill_child(ch);
	return sent;
}

static void late_free(struct late *t)
{
	cache_buf_put(t->buf);
	free(t);
}

static void drop_late(struct child *ch)
{
	struct late *t, *tn;

	if (ch->late_timer)
		evloop_cancel(ch->cs->l, ch->late_timer);
	ch->late_timer = 0;
	for (t = ch->late; t; t = tn) {
		tn = t->next;
		late_free(t);
	}
	ch->late = NULL;
	ch->late_tail = &ch->late;
}

static void late_fire(struct evloop *l, void *arg);

static void late_arm(struct child *ch)
{
	if (ch->late_timer || !ch->late)
		return;
	ch->late_timer = evloop_timer(ch->cs->l, LIE_SLOW_MS, late_fire, ch);
	if (ch->late_timer < 0) {
		ch->late_timer = 0;
		kill_child(ch);
	}
}

/* One held-back reply goes, the next one LIE_SLOW_MS later. */
static void late_fire(struct evloop *l, void *arg)
{
	struct child *ch = arg;
	struct late *t = ch->late;

	(void)l;
	ch->late_timer = 0;
	if (!t)
		return;
	ch->late = t->next;
	if (!ch->late)
		ch->late_tail = &ch->late;
	deliver(ch, &t->m, t->buf);
	late_free(t);
	if (!ch->dead)
		late_arm(ch);
}

/* m is held back, in the order replies were made (a slow liar is slow,
 * not out of order): its strings, which may point into the request's
 * frame, are copied, and buf is referenced. */
static int hold_back(struct child *ch, struct proto_msg *m,
		     struct cache_buf *buf)
{
	size_t dl = m->digest.s ? m->digest.len : 0,
	       ml = m->message.s ? m->message.len : 0;
	struct late *t = calloc(1, sizeof(*t) + dl + ml + 2);

	if (!t)
		return -ENOMEM;
	t->m = *m;
	if (m->digest.s) {
		memcpy(t->str, m->digest.s, dl);
		t->m.digest.s = t->str;
	}
	if (m->message.s) {
		memcpy(t->str + dl + 1, m->message.s, ml);
		t->m.message.s = t->str + dl + 1;
	}
	t->buf = buf ? cache_buf_get(buf) : NULL;
	if (!ch->late_tail)
		ch->late_tail = &ch->late;
	*ch->late_tail = t;
	ch->late_tail = &t->next;
	late_arm(ch);
	return 0;
}

/* Every reply to a child goes through here, where the lies that touch
 * when (or whether) a reply goes are told; the ones that touch its bytes
 * are told where the bytes are chosen (send_block, send_doc). */
static int send_to(struct child *ch, struct proto_msg *m, struct cache_buf *buf)
{
	if (ch->dead)
		return -EPIPE;
	switch (ch->cs->lie) {
	case LIE_SILENT:
		return -EAGAIN; /* read, never answered */
	case LIE_SLOW:
		return hold_back(ch, m, buf);
	default:
		return deliver(ch, m, buf);
	}
}

static void send_error(struct child *ch, uint32_t id, int error,
		       const char *msg)
{
	struct proto_msg m = {.type = PROTO_ERROR, .id = id, .error = error};

	m.message = proto_str(msg);
	send_to(ch, &m, NULL);
}

static int str_is(const struct proto_str *s, const char *z)
{
	return z[0] && strlen(z) == s->len && !memcmp(z, s->s, s->len);
}

static struct btable *table(struct children *cs, struct cache *c)
{
	struct btable *t;

	for (t = cs->tables; t; t = t->next)
		if (t->c == c)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->by_block = calloc(c->ix.nblocks + 1, sizeof(*t->by_block));
	if (!t->by_block) {
		free(t);
		return NULL;
	}
	t->c = c;
	t->n = c->ix.nblocks;
	t->next = cs->tables;
	cs->tables = t;
	return t;
}

/* The fake of c's image (LIE_FAKE), made once; NULL when it cannot be. */
static struct fake *fake_of(struct children *cs, struct cache *c)
{
	struct btable *t = table(cs, c);
	struct err e = {""};

	if (t && !t->fake && fake_new(c, &t->fake, &e))
		t->fake = NULL;
	return t ? t->fake : NULL;
}

/* Whether d names c's block data blob: the real one's, or (lying) the
 * fake's, which a child that took the fake manifest would ask by. */
static int is_data_digest(struct children *cs, struct cache *c,
			  const struct proto_str *d)
{
	struct fake *f;

	if (str_is(d, cache_data_digest(c)))
		return 1;
	f = cs->lie == LIE_FAKE ? fake_of(cs, c) : NULL;
	return f && str_is(d, f->data_digest);
}

/* Block b of c as this agent serves it: the cache's, a copy with a byte
 * changed (LIE_CORRUPT) or the fake's (LIE_FAKE). A reference of the
 * caller's, NULL when out of memory. */
static struct cache_buf *block_told(struct children *cs, struct cache *c,
				    uint32_t b)
{
	struct cache_buf *buf = cache_block(c, b), *lie;
	struct fake *f;

	switch (cs->lie) {
	case LIE_CORRUPT:
		lie = cache_buf_new(buf->data, buf->len);
		if (lie && lie->len)
			lie->data[lie->len / 2] ^= 0x5a;
		return lie;
	case LIE_FAKE:
		f = fake_of(cs, c);
		return f ? fake_block(f, b) : NULL;
	default:
		return cache_buf_get(buf);
	}
}

static void send_block(struct child *ch, struct cache *c, uint32_t id,
		       uint32_t b)
{
	struct proto_msg m = {.type = PROTO_BLOCK, .id = id, .block = b};
	struct cache_buf *buf = block_told(ch->cs, c, b);

	if (!buf) {
		send_error(ch, id, -ENOMEM, "out of memory");
		return;
	}
	/* No digest: the connection is the image's, and the child checks
	 * the bytes against its index anyway. 77 bytes a block did not
	 * shrink with scale (4% of a block at 0.01). */
	m.data = buf->data;
	m.data_len = buf->len;
	if (!send_to(ch, &m, buf))
		ch->cs->ops->served(ch->cs->arg, c, buf->len);
	cache_buf_put(buf);
}

static void send_doc(struct child *ch, struct cache *c, uint32_t id,
		     enum proto_type what, const struct proto_str *digest)
{
	struct proto_msg m = {.id = id};
	struct fake *f = NULL;
	struct cache_buf *buf;

	if (ch->cs->lie == LIE_FAKE && !(f = fake_of(ch->cs, c))) {
		send_error(ch, id, -ENOMEM, "out of memory");
		return;
	}
	/* Lying, the fake's documents, asked by its digests or the real
	 * image's alike. */
	if (what == PROTO_GET_MANIFEST) {
		m.type = PROTO_MANIFEST;
		buf = f ? f->manifest : c->manifest;
	} else if (str_is(digest, cache_config_digest(c)) ||
		   (f && str_is(digest, f->config_digest))) {
		m.type = PROTO_BLOB;
		buf = f ? f->config : c->config;
	} else if (str_is(digest, cache_index_digest(c)) ||
		   (f && str_is(digest, f->index_digest))) {
		m.type = PROTO_BLOB;
		buf = f ? f->index : c->index;
	} else {
		send_error(ch, id, -ENOENT, "not a blob this agent serves");
		return;
	}
	m.digest = *digest;
	m.data = buf->data;
	m.data_len = buf->len;
	if (!send_to(ch, &m, buf))
		ch->cs->ops->served(ch->cs->arg, c, buf->len);
}

/* A run of blocks: each present one now, the others when they come. Every
 * BLOCK carries the request's id. */
static void serve_run(struct child *ch, struct cache *c, uint32_t id,
		      uint32_t block, uint32_t count)
{
	struct children *cs = ch->cs;
	struct btable *t = table(cs, c);
	uint32_t k, b;
	int wanted = 0;

	if (!t) {
		send_error(ch, id, -ENOMEM, "out of memory");
		return;
	}
	for (k = 0; k < count && !ch->dead; k++) {
		struct bwait *w;

		b = block + k;
		if (b >= c->ix.nblocks || b < block) {
			send_error(ch, id, -ENOENT, "no such block");
			break;
		}
		if (c->state[b] == CACHE_BLOCK_PRESENT) {
			send_block(ch, c, id, b);
			continue;
		}
		if (ch->nblock_waits >= CHILDREN_MAX_BLOCK_WAITS ||
		    !(w = calloc(1, sizeof(*w)))) {
			send_error(ch, id, -ENOBUFS,
				   "too many requests waiting");
			break;
		}
		/* On demand down the chain: the child waits, and this agent
		 * fetches the block itself. */
		w->ch = ch;
		w->id = id;
		w->next = t->by_block[b];
		t->by_block[b] = w;
		ch->nblock_waits++;
		cache_want(c, b);
		wanted = 1;
	}
	if (wanted)
		cs->ops->wanted(cs->arg, c);
}

static void sweep(struct evloop *l, void *arg);

static void wait_meta(struct child *ch, const struct proto_msg *m,
		      const struct proto_str *key)
{
	struct children *cs = ch->cs;
	struct mwait *w;

	if (ch->nmeta_waits >= CHILDREN_MAX_META_WAITS ||
	    !(w = calloc(1, sizeof(*w)))) {
		send_error(ch, m->id, -ENOBUFS, "too many requests waiting");
		return;
	}
	w->ch = ch;
	w->id = m->id;
	w->what = m->type;
	memcpy(w->key, key->s, key->len);
	w->block = m->block;
	w->count = m->count ? m->count : 1;
	w->deadline_ns =
		evloop_now_ns() + evloop_span_ns(cs->l, CHILDREN_META_WAIT_MS);
	w->next = cs->mwaits;
	cs->mwaits = w;
	ch->nmeta_waits++;
	if (!cs->sweep_timer) {
		cs->sweep_timer = evloop_timer(cs->l, 1000, sweep, cs);
		if (cs->sweep_timer < 0)
			cs->sweep_timer = 0;
	}
}

/* The image a digest names: the agent's, or, lying with a fake, the one
 * whose fake it names (a child that took the fake manifest asks by the
 * fake's digests). */
static struct cache *by_digest(struct children *cs, const struct proto_str *d)
{
	struct cache *c = cs->ops->by_digest(cs->arg, d);
	struct btable *t;

	for (t = cs->tables; !c && cs->lie == LIE_FAKE && t; t = t->next)
		if (t->fake && (str_is(d, t->fake->config_digest) ||
				str_is(d, t->fake->index_digest) ||
				str_is(d, t->fake->data_digest)))
			c = t->c;
	return c;
}

static void child_frame(struct conn *conn, const struct proto_msg *m, void *arg)
{
	struct child *ch = arg;
	struct children *cs = ch->cs;
	struct cache *c;

	(void)conn;
	switch (m->type) {
	case PROTO_GET_MANIFEST:
		c = cs->ops->by_ref(cs->arg, &m->image);
		if (c && c->meta == CACHE_META_HELD)
			send_doc(ch, c, m->id, m->type, &m->digest);
		else
			wait_meta(ch, m, &m->image);
		break;
	case PROTO_GET_BLOB:
		c = by_digest(cs, &m->digest);
		if (c && c->meta == CACHE_META_HELD)
			send_doc(ch, c, m->id, m->type, &m->digest);
		else
			wait_meta(ch, m, &m->digest);
		break;
	case PROTO_GET_BLOCK:
		c = by_digest(cs, &m->digest);
		if (c && c->meta == CACHE_META_HELD &&
		    is_data_digest(cs, c, &m->digest))
			serve_run(ch, c, m->id, m->block,
				  m->count ? m->count : 1);
		else if (c && c->meta == CACHE_META_HELD)
			send_error(ch, m->id, -EINVAL,
				   "not a block data digest");
		else
			wait_meta(ch, m, &m->digest);
		break;
	default:
		send_error(ch, m->id, -EPROTO, "not a block request");
		break;
	}
}

static void child_closed(struct conn *conn, int error, const char *why,
			 void *arg)
{
	struct child *ch = arg;

	(void)conn;
	(void)error;
	(void)why;
	ch->c = NULL; /* lib/conn frees it */
	ch->cs->nconns--;
	kill_child(ch);
}

static int matches(const struct mwait *w, const struct cache *c)
{
	const struct proto_str k = {.s = w->key, .len = strlen(w->key)};

	if (w->what == PROTO_GET_MANIFEST)
		return !strcmp(w->key, c->ref);
	return str_is(&k, cache_config_digest(c)) ||
	       str_is(&k, cache_index_digest(c)) ||
	       str_is(&k, cache_data_digest(c));
}

void children_meta_ready(struct children *cs, struct cache *c)
{
	struct mwait **pw = &cs->mwaits, *w;

	while ((w = *pw)) {
		struct proto_str k = {.s = w->key, .len = strlen(w->key)};

		if (!matches(w, c)) {
			pw = &w->next;
			continue;
		}
		*pw = w->next;
		w->ch->nmeta_waits--;
		if (w->ch->dead)
			;
		else if (w->what != PROTO_GET_BLOCK)
			send_doc(w->ch, c, w->id, w->what, &k);
		else if (str_is(&k, cache_data_digest(c)))
			serve_run(w->ch, c, w->id, w->block, w->count);
		else
			send_error(w->ch, w->id, -EINVAL,
				   "not a block data digest");
		free(w);
	}
}

/* Takes every child's wait for block b of c's image off the table. */
static struct bwait *take_block_waits(struct children *cs, struct cache *c,
				      uint32_t b)
{
	struct btable *t;
	struct bwait *w;

	for (t = cs->tables; t && t->c != c; t = t->next)
		;
	if (!t || b >= t->n)
		return NULL;
	w = t->by_block[b];
	t->by_block[b] = NULL;
	return w;
}

void children_block_ready(struct children *cs, struct cache *c, uint32_t b)
{
	struct bwait *w, *wn;

	/* Store and forward: everyone waiting gets it now. */
	for (w = take_block_waits(cs, c, b); w; w = wn) {
		wn = w->next;
		w->ch->nblock_waits--;
		send_block(w->ch, c, w->id, b);
		free(w);
	}
}

void children_block_failed(struct children *cs, struct cache *c, uint32_t b,
			   int error)
{
	struct bwait *w, *wn;

	for (w = take_block_waits(cs, c, b); w; w = wn) {
		wn = w->next;
		w->ch->nblock_waits--;
		send_error(w->ch, w->id, error, "this agent cannot get it");
		free(w);
	}
}

/* Requests that waited too long for meta get an answer, so that a child
 * can go elsewhere. */
static void sweep(struct evloop *l, void *arg)
{
	struct children *cs = arg;
	struct mwait **pw = &cs->mwaits, *w;
	uint64_t now = evloop_now_ns();

	cs->sweep_timer = 0;
	while ((w = *pw)) {
		if (w->deadline_ns > now) {
			pw = &w->next;
			continue;
		}
		*pw = w->next;
		w->ch->nmeta_waits--;
		send_error(w->ch, w->id, -ETIMEDOUT,
			   "this agent does not have the image");
		free(w);
	}
	if (cs->mwaits) {
		cs->sweep_timer = evloop_timer(l, 1000, sweep, cs);
		if (cs->sweep_timer < 0)
			cs->sweep_timer = 0;
	}
}

static void reap(struct evloop *l, void *arg)
{
	struct children *cs = arg;
	struct child **pc, *ch;
	struct btable *t;
	struct mwait **pm, *mw;
	uint32_t b;

	(void)l;
	cs->reap_timer = 0;
	for (t = cs->tables; t; t = t->next)
		for (b = 0; b < t->n; b++) {
			struct bwait **pw = &t->by_block[b], *w;

			while ((w = *pw)) {
				if (!w->ch->dead) {
					pw = &w->next;
					continue;
				}
				*pw = w->next;
				free(w);
			}
		}
	for (pm = &cs->mwaits; (mw = *pm);) {
		if (!mw->ch->dead) {
			pm = &mw->next;
			continue;
		}
		*pm = mw->next;
		free(mw);
	}
	for (pc = &cs->list; (ch = *pc);) {
		if (!ch->dead) {
			pc = &ch->next;
			continue;
		}
		*pc = ch->next;
		free(ch);
	}
}

/* A child's connection, from conn_accept_start. */
static void on_accept(void *arg, int s)
{
	struct children *cs = arg;
	struct child *ch;

	if (cs->nconns >= cs->max_conns) {
		close(s);
		return;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch || conn_new(cs->l, s, child_frame, child_closed, ch, &ch->c)) {
		free(ch);
		close(s);
		return;
	}
	ch->cs = cs;
	ch->next = cs->list;
	cs->list = ch;
	cs->nconns++;
}

int children_start(struct evloop *l, int listen_fd,
		   const struct children_ops *ops, void *arg,
		   unsigned max_conns, struct children **out)
{
	struct children *cs = calloc(1, sizeof(*cs));
	int ret;

	if (!cs)
		return -ENOMEM;
	cs->l = l;
	cs->ops = ops;
	cs->arg = arg;
	cs->max_conns = max_conns ? max_conns : CHILDREN_MAX_CONNS;
	ret = conn_accept_start(l, listen_fd, CHILDREN_ACCEPT_PAUSE_MS,
				on_accept, cs, &cs->acc);
	if (ret) {
		free(cs);
		return ret;
	}
	*out = cs;
	return 0;
}

void children_set_lie(struct children *cs, enum lie_mode mode)
{
	struct child *ch;
	struct late *t, *tn;

	if (mode == cs->lie)
		return;
	cs->lie = mode;
	/* Honest again (or lying otherwise): what a slow liar still held
	 * goes now, as the new mode says. */
	for (ch = cs->list; ch; ch = ch->next) {
		t = ch->late;
		ch->late = NULL;
		drop_late(ch);
		for (; t; t = tn) {
			tn = t->next;
			send_to(ch, &t->m, t->buf);
			late_free(t);
		}
	}
}

unsigned children_count(const struct children *cs)
{
	return cs->nconns;
}

void children_free(struct children *cs)
{
	struct child *ch;
	struct btable *t, *tn;

	if (!cs)
		return;
	conn_accept_stop(cs->acc);
	if (cs->reap_timer)
		evloop_cancel(cs->l, cs->reap_timer);
	if (cs->sweep_timer)
		evloop_cancel(cs->l, cs->sweep_timer);
	for (ch = cs->list; ch; ch = ch->next) {
		if (ch->c)
			conn_close(ch->c);
		ch->c = NULL;
		drop_late(ch);
		ch->dead = 1;
	}
	reap(cs->l, cs);
	for (t = cs->tables; t; t = tn) {
		tn = t->next;
		fake_free(t->fake);
		free(t->by_block);
		free(t);
	}
	free(cs);
}

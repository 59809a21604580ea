/* pieces: the piece cache and request merging (pieces.h). One mutex over
 * a hash of entries and one condition variable: a node has a few dozen
 * requests in flight at most, so finer locking would buy nothing. A piece's
 * bytes live in a reference-counted buffer, so that eviction never pulls
 * bytes from under a reader still sending them. */
#include "pieces.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024

struct pbuf {
	unsigned refs;
	uint8_t *data;
	size_t len;
	uint64_t total;
};

enum piece_state {
	PIECE_FETCHING,
	PIECE_READY,
	PIECE_FAILED, /* out of the hash, kept for its waiters */
};

struct entry {
	char *key;
	uint64_t idx;
	enum piece_state state;
	struct pbuf *pb;  /* PIECE_READY */
	unsigned waiters; /* requests merged into this fetch, not yet woken */
	int err;	  /* PIECE_FAILED */
	struct err why;	  /* PIECE_FAILED */
	struct entry *hnext;
	struct entry *prev, *next; /* LRU, PIECE_READY only; head: newest */
};

struct dadi_pieces {
	pthread_mutex_t mu;
	pthread_cond_t done; /* some fetch finished */
	size_t piece;
	size_t cap;
	dadi_fetch_fn fetch;
	void *arg;
	struct entry *bucket[NBUCKETS];
	struct entry *lru_head, *lru_tail;
	struct dadi_pieces_stats st;
};

int dadi_pieces_new(size_t piece, size_t cap_bytes, dadi_fetch_fn fetch,
		    void *arg, struct dadi_pieces **p)
{
	*p = calloc(1, sizeof(**p));
	if (!*p)
		return -ENOMEM;
	pthread_mutex_init(&(*p)->mu, NULL);
	pthread_cond_init(&(*p)->done, NULL);
	(*p)->piece = piece ? piece : DADI_PIECE_SIZE;
	(*p)->cap = cap_bytes;
	(*p)->fetch = fetch;
	(*p)->arg = arg;
	return 0;
}

static void pbuf_put(struct pbuf *pb)
{
	if (pb && !--pb->refs) {
		free(pb->data);
		free(pb);
	}
}

static void entry_free(struct entry *x)
{
	pbuf_put(x->pb);
	free(x->key);
	free(x);
}

void dadi_pieces_free(struct dadi_pieces *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		struct entry *x, *n;

		for (x = p->bucket[i]; x; x = n) {
			n = x->hnext;
			entry_free(x);
		}
	}
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static unsigned bucket_of(const char *key, uint64_t idx)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 0x100000001b3ull;
	h = (h ^ idx) * 0x100000001b3ull;
	return (unsigned)(h % NBUCKETS);
}

static struct entry **slot_of(struct dadi_pieces *p, const char *key,
			      uint64_t idx)
{
	struct entry **s = &p->bucket[bucket_of(key, idx)];

	for (; *s; s = &(*s)->hnext)
		if ((*s)->idx == idx && !strcmp((*s)->key, key))
			break;
	return s;
}

static void unhash(struct dadi_pieces *p, struct entry *x)
{
	struct entry **s = slot_of(p, x->key, x->idx);

	if (*s == x)
		*s = x->hnext;
	x->hnext = NULL;
}

static void lru_unlink(struct dadi_pieces *p, struct entry *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		p->lru_head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		p->lru_tail = x->prev;
	x->prev = x->next = NULL;
}

static void lru_push(struct dadi_pieces *p, struct entry *x)
{
	x->prev = NULL;
	x->next = p->lru_head;
	if (p->lru_head)
		p->lru_head->prev = x;
	p->lru_head = x;
	if (!p->lru_tail)
		p->lru_tail = x;
}

/* Drops least recently used pieces until the cache is under its bound.
 * A piece with requests still to wake stays: they hold a pointer to it. */
static void evict(struct dadi_pieces *p)
{
	struct entry *x = p->lru_tail, *prev;

	for (; x && p->st.bytes > p->cap; x = prev) {
		prev = x->prev;
		if (x->waiters)
			continue;
		lru_unlink(p, x);
		unhash(p, x);
		p->st.bytes -= x->pb->len;
		p->st.evicted++;
		entry_free(x);
	}
}

static void hand_out(struct entry *x, struct dadi_piece *out)
{
	x->pb->refs++;
	out->data = x->pb->data;
	out->len = x->pb->len;
	out->total = x->pb->total;
	out->ref_ = x->pb;
}

int dadi_pieces_get(struct dadi_pieces *p, const char *key, uint64_t idx,
		    struct dadi_piece *out, struct err *e)
{
	struct entry **s, *x;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t total = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&p->mu);
	s = slot_of(p, key, idx);
	if ((x = *s) && x->state == PIECE_READY) {
		p->st.hits++;
		lru_unlink(p, x);
		lru_push(p, x);
		hand_out(x, out);
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	if (x) { /* being fetched: wait for that fetch, never start another */
		p->st.merged++;
		x->waiters++;
		while (x->state == PIECE_FETCHING)
			pthread_cond_wait(&p->done, &p->mu);
		x->waiters--;
		if (x->state == PIECE_READY) {
			hand_out(x, out);
			ret = 0;
		} else {
			ret = x->err;
			if (e)
				*e = x->why;
			if (!x->waiters)
				entry_free(x);
		}
		pthread_mutex_unlock(&p->mu);
		return ret;
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->key = strdup(key))) {
		free(x);
		pthread_mutex_unlock(&p->mu);
		return err_set(e, -ENOMEM, "out of memory");
	}
	x->idx = idx;
	x->state = PIECE_FETCHING;
	*s = x;
	p->st.fetches++;
	pthread_mutex_unlock(&p->mu);

	ret = p->fetch(p->arg, key, idx, &buf, &len, &total, &x->why);
	if (!ret && !(x->pb = calloc(1, sizeof(*x->pb))))
		ret = err_set(&x->why, -ENOMEM, "out of memory");

	pthread_mutex_lock(&p->mu);
	if (!ret) {
		x->pb->refs = 1; /* the cache's */
		x->pb->data = buf;
		x->pb->len = len;
		x->pb->total = total;
		x->state = PIECE_READY;
		lru_push(p, x);
		p->st.bytes += len;
		hand_out(x, out);
		evict(p);
	} else {
		free(buf);
		x->state = PIECE_FAILED;
		x->err = ret;
		unhash(p, x);
		if (e)
			*e = x->why;
		if (!x->waiters)
			entry_free(x);
	}
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->mu);
	return ret;
}

void dadi_piece_put(struct dadi_pieces *p, struct dadi_piece *pc)
{
	if (!pc->ref_)
		return;
	pthread_mutex_lock(&p->mu);
	pbuf_put(pc->ref_);
	pthread_mutex_unlock(&p->mu);
	memset(pc, 0, sizeof(*pc));
}

size_t dadi_pieces_piece(const struct dadi_pieces *p)
{
	return p->piece;
}

int dadi_pieces_span(uint64_t piece, uint64_t off, uint64_t len, uint64_t total,
		     uint64_t *first, uint64_t *last)
{
	uint64_t end;

	if (off >= total || !len || !piece)
		return -ERANGE;
	end = len > total - off ? total : off + len; /* exclusive */
	*first = off / piece;
	*last = (end - 1) / piece;
	return 0;
}

int dadi_pieces_read(struct dadi_pieces *p, const char *key, uint64_t off,
		     uint64_t len, dadi_sink_fn sink, void *arg,
		     uint64_t *total, struct err *e)
{
	struct dadi_piece pc;
	uint64_t first, last, i, end;
	int ret;

	/* The blob's size comes with its first piece read. */
	ret = dadi_pieces_get(p, key, off / p->piece, &pc, e);
	if (ret)
		return ret;
	*total = pc.total;
	ret = dadi_pieces_span(p->piece, off, len, pc.total, &first, &last);
	if (ret) {
		dadi_piece_put(p, &pc);
		return err_set(e, ret, "bytes %llu- of a %llu-byte blob",
			       (unsigned long long)off,
			       (unsigned long long)pc.total);
	}
	end = len > pc.total - off ? pc.total : off + len;
	for (i = first; i <= last; i++) {
		uint64_t base = i * p->piece, a, b;

		if (i != first && (ret = dadi_pieces_get(p, key, i, &pc, e)))
			return ret;
		a = off > base ? off - base : 0;
		b = end - base < pc.len ? end - base : pc.len;
		if (a >= b) { /* a piece shorter than the blob says */
			dadi_piece_put(p, &pc);
			return err_set(e, -EBADMSG,
				       "piece %llu: %zu bytes, short",
				       (unsigned long long)i, pc.len);
		}
		ret = sink(arg, pc.data + a, b - a);
		dadi_piece_put(p, &pc);
		if (ret)
			return ret;
	}
	return 0;
}

void dadi_pieces_stats(struct dadi_pieces *p, struct dadi_pieces_stats *st)
{
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	pthread_mutex_unlock(&p->mu);
}

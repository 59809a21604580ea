/* proxy: the DADI+P2P node (proxy.h, docs/dadi.md).
 *
 * Threads, not lib/evloop: libmicrohttpd runs a thread per connection, and
 * each one blocks in libcurl's easy interface on its upstream piece while
 * other requests for that piece wait on it (pieces.c). A node has a few
 * connections (its agent's and at most two children's), so threads cost
 * little, and the alternative (curl's multi interface and MHD's external
 * select driven from the event loop, with every read a state machine)
 * would be several times the code for no gain here. */
#include "proxy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evloop.h"

#define MAX_HOPS   16		      /* redirects one join may follow */
#define PASS_MAX   ((size_t)64 << 20) /* a passed-through body */
#define P2P_PREFIX "/p2p"
#define HDR_AGENT  "X-P2P-Agent"
#define HDR_SOURCE "X-P2P-Source"

struct prefetch {
	struct dadi_proxy *p;
	char key[DADI_TREE_KEY_LEN];
	pthread_t thr;
	struct prefetch *next;
};

struct dadi_proxy {
	struct dadi_proxy_opts o;
	char self[DADI_TREE_ADDR_LEN];
	char registry[256];
	char **roots;
	long timeout_ms; /* dilated */
	struct MHD_Daemon *mhd;
	struct dadi_pieces *pieces;
	pthread_mutex_t mu;    /* tree, joins, prefetches, stats, stopping */
	pthread_cond_t joined; /* a join walk ended */
	struct join *joins;    /* blobs with a join walk under way */
	struct dadi_tree *tree;
	struct prefetch *prefetches;
	int stopping;
	struct dadi_proxy_stats st;
	pthread_key_t curl_key; /* each thread's curl handle */
};

/* A blob whose join walk one thread is making: the node's other requests
 * for it wait for that walk's upstream rather than walk too. */
struct join {
	char key[DADI_TREE_KEY_LEN];
	struct join *next;
};

/* ---- upstream requests (libcurl) ---- */

struct http_res {
	long status;
	uint8_t *body;
	size_t len, cap, max;
	uint64_t total; /* from Content-Range */
	char location[512];
	char source[DADI_TREE_ADDR_LEN];
	char ctype[256];
	char digest[256];
};

static void curl_free_handle(void *c)
{
	curl_easy_cleanup(c);
}

/* One handle per thread, kept so that its connections are reused. */
static CURL *thread_curl(struct dadi_proxy *p)
{
	CURL *c = pthread_getspecific(p->curl_key);

	if (c) {
		curl_easy_reset(c);
		return c;
	}
	c = curl_easy_init();
	if (c && pthread_setspecific(p->curl_key, c)) {
		curl_easy_cleanup(c);
		c = NULL;
	}
	return c;
}

static size_t on_body(char *d, size_t sz, size_t n, void *arg)
{
	struct http_res *r = arg;
	size_t len = sz * n;

	if (r->len + len > r->max)
		return 0; /* curl then fails the transfer */
	if (r->len + len > r->cap) {
		size_t cap = r->cap ? r->cap : 64 * 1024;
		uint8_t *b;

		while (cap < r->len + len)
			cap *= 2;
		if (!(b = realloc(r->body, cap)))
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, d, len);
	r->len += len;
	return len;
}

/* Copies the value of header `name` in line h (if it is that header). */
static void header_value(const char *h, size_t len, const char *name, char *out,
			 size_t outlen)
{
	size_t n = strlen(name);

	if (len <= n + 1 || strncasecmp(h, name, n) || h[n] != ':')
		return;
	h += n + 1;
	len -= n + 1;
	while (len && (*h == ' ' || *h == '\t'))
		h++, len--;
	while (len && (h[len - 1] == '\r' || h[len - 1] == '\n'))
		len--;
	snprintf(out, outlen, "%.*s", (int)len, h);
}

static size_t on_header(char *h, size_t sz, size_t n, void *arg)
{
	struct http_res *r = arg;
	size_t len = sz * n;
	char cr[128] = "";
	const char *slash;

	header_value(h, len, "Location", r->location, sizeof(r->location));
	header_value(h, len, HDR_SOURCE, r->source, sizeof(r->source));
	header_value(h, len, "Content-Type", r->ctype, sizeof(r->ctype));
	header_value(h, len, "Docker-Content-Digest", r->digest,
		     sizeof(r->digest));
	header_value(h, len, "Content-Range", cr, sizeof(cr));
	if (cr[0] && (slash = strrchr(cr, '/')))
		r->total = strtoull(slash + 1, NULL, 10);
	return len;
}

static void http_res_free(struct http_res *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* GET url (never following redirects: a join's walk is ours to follow),
 * with an optional Range, X-P2P-Agent and Accept. 0 with r->status set
 * whatever the status, or a negative errno with e set for a transfer that
 * failed. */
static int http_get(struct dadi_proxy *p, const char *url, const char *range,
		    const char *agent, const char *accept, size_t max,
		    struct http_res *r, struct err *e)
{
	CURL *c = thread_curl(p);
	struct curl_slist *h = NULL, *t;
	char line[512];
	CURLcode rc;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->max = max;
	if (!c)
		return err_set(e, -ENOMEM, "GET %s: out of memory", url);
	if (agent) {
		snprintf(line, sizeof(line), HDR_AGENT ": %s", agent);
		if (!(t = curl_slist_append(h, line)))
			goto oom;
		h = t;
	}
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		if (!(t = curl_slist_append(h, line)))
			goto oom;
		h = t;
	}
	/* NOSIGNAL: many threads; the time-outs are the world's. */
	if (curl_easy_setopt(c, CURLOPT_URL, url) ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->timeout_ms) ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms) ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, r) ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, r) ||
	    (range && curl_easy_setopt(c, CURLOPT_RANGE, range)) ||
	    (h && curl_easy_setopt(c, CURLOPT_HTTPHEADER, h))) {
		ret = err_set(e, -EINVAL, "GET %s: curl_easy_setopt failed",
			      url);
		goto out;
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
		      : rc == CURLE_COULDNT_CONNECT  ? -ECONNREFUSED
						     : -EIO;
		err_set(e, ret, "GET %s: %s", url, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	goto out;
oom:
	ret = err_set(e, -ENOMEM, "GET %s: out of memory", url);
out:
	curl_slist_free_all(h);
	/* The handle outlives the list it was given. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	if (ret)
		http_res_free(r);
	return ret;
}

/* ---- where a piece comes from ---- */

static void split_key(const char *key, char *repo, size_t rlen,
		      const char **digest)
{
	const char *at = strrchr(key, '@');

	snprintf(repo, rlen, "%.*s", (int)(at - key), key);
	*digest = at + 1;
}

/* Takes a piece out of a 206 answer: it must start where asked. */
static int take_piece(struct http_res *r, const char *what, uint8_t **buf,
		      size_t *len, uint64_t *total, struct err *e)
{
	if (r->status != 206)
		return err_set(e, r->status == 404 ? -ENOENT : -EIO,
			       "%s: HTTP %ld, expected 206", what, r->status);
	if (!r->total || !r->len)
		return err_set(e, -EBADMSG, "%s: no Content-Range or body",
			       what);
	*buf = r->body;
	*len = r->len;
	*total = r->total;
	r->body = NULL;
	return 0;
}

static int from_registry(struct dadi_proxy *p, const char *repo,
			 const char *digest, const char *range, uint8_t **buf,
			 size_t *len, uint64_t *total, struct err *e)
{
	char url[1024];
	struct http_res r;
	int ret;

	snprintf(url, sizeof(url), "%s/v2/%s/blobs/%s", p->registry, repo,
		 digest);
	pthread_mutex_lock(&p->mu);
	p->st.registry_gets++;
	pthread_mutex_unlock(&p->mu);
	ret = http_get(p, url, range, NULL, NULL, dadi_pieces_piece(p->pieces),
		       &r, e);
	if (!ret)
		ret = take_piece(&r, url, buf, len, total, e);
	http_res_free(&r);
	return ret;
}

/* One join from node `start`: asks it for the piece and follows its
 * redirects down the tree; the node that serves it is copied to source. */
static int from_peer(struct dadi_proxy *p, const char *start, const char *repo,
		     const char *digest, const char *range, uint8_t **buf,
		     size_t *len, uint64_t *total,
		     char source[DADI_TREE_ADDR_LEN], struct err *e)
{
	char host[DADI_TREE_ADDR_LEN], url[1024];
	struct http_res r;
	int ret = 0, hop;

	snprintf(host, sizeof(host), "%s", start);
	for (hop = 0; hop <= MAX_HOPS; hop++) {
		const char *h, *end;

		snprintf(url, sizeof(url),
			 "http://%s" P2P_PREFIX "/v2/%s/blobs/%s", host, repo,
			 digest);
		pthread_mutex_lock(&p->mu);
		p->st.upstream_gets++;
		pthread_mutex_unlock(&p->mu);
		ret = http_get(p, url, range, p->self, NULL,
			       dadi_pieces_piece(p->pieces), &r, e);
		if (ret)
			return ret;
		if (r.status != 307) {
			ret = take_piece(&r, url, buf, len, total, e);
			snprintf(source, DADI_TREE_ADDR_LEN, "%s",
				 r.source[0] ? r.source : host);
			http_res_free(&r);
			return ret;
		}
		/* Location: http://HOST:PORT/p2p/... */
		h = strstr(r.location, "://");
		h = h ? h + 3 : r.location;
		end = strchr(h, '/');
		snprintf(host, sizeof(host), "%.*s",
			 (int)(end ? end - h : (long)strlen(h)), h);
		http_res_free(&r);
		/* A node sent to itself (a stale tree): a failed join. */
		if (!strcmp(host, p->self))
			return err_set(e, -ELOOP, "%s: redirected to ourself",
				       url);
		pthread_mutex_lock(&p->mu);
		p->st.redirects_followed++;
		pthread_mutex_unlock(&p->mu);
	}
	return err_set(e, -ELOOP, "%s: more than %d redirects", url, MAX_HOPS);
}

static const char *pick_root(struct dadi_proxy *p)
{
	return dadi_tree_pick_root(p->tree, (const char *const *)p->roots,
				   p->o.nroots);
}

/* The pieces' fetch function: the registry for a root (or a node with no
 * roots); otherwise the blob's upstream, or a random root when it has none,
 * and after a failure once more from a random root (no repair: dadi). */
static int fetch_piece(void *arg, const char *key, uint64_t idx, uint8_t **buf,
		       size_t *len, uint64_t *total, struct err *e)
{
	struct dadi_proxy *p = arg;
	char repo[256], range[64], up[DADI_TREE_ADDR_LEN];
	char source[DADI_TREE_ADDR_LEN];
	const char *digest;
	int ret, attempt;

	split_key(key, repo, sizeof(repo), &digest);
	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64,
		 idx * dadi_pieces_piece(p->pieces),
		 (idx + 1) * dadi_pieces_piece(p->pieces) - 1);
	if (p->o.is_root || !p->o.nroots)
		return from_registry(p, repo, digest, range, buf, len, total,
				     e);
	for (attempt = 0;; attempt++) {
		struct join me, **jp;

		me.key[0] = '\0';
		pthread_mutex_lock(&p->mu);
		/* No upstream yet: one walk per blob at a time. Concurrent
		 * walks from one node (its reads and its prefetch) could each
		 * be accepted in another subtree, the later one below a node
		 * that joined under the earlier: the node its own ancestor,
		 * every piece then waiting out the time-out. */
		while (!dadi_tree_upstream(p->tree, key, up)) {
			for (jp = &p->joins; *jp && strcmp((*jp)->key, key);
			     jp = &(*jp)->next)
				;
			if (!*jp) {
				snprintf(me.key, sizeof(me.key), "%s", key);
				me.next = p->joins;
				p->joins = &me;
				snprintf(up, sizeof(up), "%s", pick_root(p));
				break;
			}
			pthread_cond_wait(&p->joined, &p->mu);
		}
		pthread_mutex_unlock(&p->mu);
		ret = from_peer(p, up, repo, digest, range, buf, len, total,
				source, e);
		pthread_mutex_lock(&p->mu);
		if (!ret)
			ret = dadi_tree_set_upstream(p->tree, key, source);
		else {
			dadi_tree_forget_upstream(p->tree, key);
			p->st.failovers++;
		}
		if (me.key[0]) {
			for (jp = &p->joins; *jp != &me; jp = &(*jp)->next)
				;
			*jp = me.next;
			pthread_cond_broadcast(&p->joined);
		}
		pthread_mutex_unlock(&p->mu);
		if (!ret || attempt == 1)
			return ret;
	}
}

/* ---- prefetch ---- */

static int stopping(struct dadi_proxy *p)
{
	int s;

	pthread_mutex_lock(&p->mu);
	s = p->stopping;
	pthread_mutex_unlock(&p->mu);
	return s;
}

/* Reads the whole blob, piece after piece, through the same pieces (and
 * so the same parent) the reads use, merged with them. */
static void *prefetch_run(void *arg)
{
	struct prefetch *f = arg;
	struct dadi_piece pc;
	struct err e = {{0}};
	uint64_t idx, total = 1;

	for (idx = 0;
	     idx * dadi_pieces_piece(f->p->pieces) < total && !stopping(f->p);
	     idx++) {
		if (dadi_pieces_get(f->p->pieces, f->key, idx, &pc, &e)) {
			fprintf(stderr, "faasnet-dadi: prefetch %s: %s\n",
				f->key, e.msg);
			break;
		}
		total = pc.total;
		dadi_piece_put(f->p->pieces, &pc);
	}
	return NULL;
}

/* Starts the blob's prefetch once, at its first read. */
static void prefetch_start(struct dadi_proxy *p, const char *key)
{
	struct prefetch *f;

	if (!p->o.prefetch)
		return;
	pthread_mutex_lock(&p->mu);
	for (f = p->prefetches; f; f = f->next)
		if (!strcmp(f->key, key))
			break;
	if (!f && !p->stopping && (f = calloc(1, sizeof(*f)))) {
		f->p = p;
		snprintf(f->key, sizeof(f->key), "%s", key);
		if (pthread_create(&f->thr, NULL, prefetch_run, f)) {
			/* Reads still work, only slower: say so, go on. */
			fprintf(stderr, "faasnet-dadi: no prefetch thread\n");
			free(f);
		} else {
			f->next = p->prefetches;
			p->prefetches = f;
		}
	}
	pthread_mutex_unlock(&p->mu);
}

/* ---- the HTTP server (libmicrohttpd) ---- */

/* "bytes=A-B" or "bytes=A-" into off and len (0: to the end). */
static int parse_range(const char *s, uint64_t *off, uint64_t *len)
{
	char *end;
	unsigned long long a, b;

	if (!s || strncmp(s, "bytes=", 6))
		return -EINVAL;
	s += 6;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	a = strtoull(s, &end, 10);
	if (*end++ != '-')
		return -EINVAL;
	if (!*end) {
		*off = a;
		*len = 0;
		return 0;
	}
	b = strtoull(end, &end, 10);
	if (*end || b < a)
		return -EINVAL;
	*off = a;
	*len = b - a + 1;
	return 0;
}

/* "/v2/REPO/blobs/DIGEST" into key "REPO@DIGEST". */
static int blob_key(const char *path, char key[DADI_TREE_KEY_LEN])
{
	const char *b;

	if (strncmp(path, "/v2/", 4) || !(b = strstr(path, "/blobs/")) ||
	    b == path + 4 || !b[7] || strchr(b + 7, '/') || strchr(b + 7, '@'))
		return -EINVAL;
	/* A digest ("sha256:...") holds no '@', nor does a repository name:
	 * the key splits at its only '@'. */
	if (snprintf(key, DADI_TREE_KEY_LEN, "%.*s@%s", (int)(b - path - 4),
		     path + 4, b + 7) >= DADI_TREE_KEY_LEN)
		return -ENAMETOOLONG;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *msg)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(msg), (void *)msg, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Manifests, whole blobs, /v2/ itself: the registry's answer as it is. */
static enum MHD_Result pass_through(struct dadi_proxy *p,
				    struct MHD_Connection *c, const char *url)
{
	const char *accept =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	struct MHD_Response *r;
	struct http_res res;
	struct err e = {{0}};
	char up[1024];
	enum MHD_Result ret;

	snprintf(up, sizeof(up), "%s%s", p->registry, url);
	if (http_get(p, up, NULL, NULL, accept, PASS_MAX, &res, &e))
		return reply(c, MHD_HTTP_BAD_GATEWAY, e.msg);
	r = MHD_create_response_from_buffer(res.len, res.body,
					    MHD_RESPMEM_MUST_FREE);
	if (!r) {
		http_res_free(&res);
		return MHD_NO;
	}
	if (res.ctype[0])
		MHD_add_response_header(r, "Content-Type", res.ctype);
	if (res.digest[0])
		MHD_add_response_header(r, "Docker-Content-Digest", res.digest);
	ret = MHD_queue_response(c, (unsigned)res.status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A local ranged read, streamed piece by piece. */
struct stream {
	struct dadi_proxy *p;
	char key[DADI_TREE_KEY_LEN];
	uint64_t off;
	struct dadi_piece pc; /* the piece being sent */
	uint64_t pc_idx;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	uint64_t piece = dadi_pieces_piece(s->p->pieces);
	uint64_t at = s->off + pos, idx = at / piece, in;
	struct err e = {{0}};
	size_t n;

	if (!s->pc.ref_ || s->pc_idx != idx) {
		dadi_piece_put(s->p->pieces, &s->pc);
		if (dadi_pieces_get(s->p->pieces, s->key, idx, &s->pc, &e)) {
			/* Headers are gone: a cut transfer is all we can
			 * say, and the agent sees it as one. */
			fprintf(stderr, "faasnet-dadi: %s: %s\n", s->key,
				e.msg);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		s->pc_idx = idx;
	}
	in = at - idx * piece;
	if (in >= s->pc.len)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = s->pc.len - in < max ? s->pc.len - in : max;
	memcpy(buf, s->pc.data + in, n);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	dadi_piece_put(s->p->pieces, &s->pc);
	free(s);
}

static enum MHD_Result content_range(struct MHD_Response *r, uint64_t off,
				     uint64_t len, uint64_t total)
{
	char cr[96];

	snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off,
		 off + len - 1, total);
	return MHD_add_response_header(r, "Content-Range", cr);
}

/* Serves bytes [off, off + len) of blob key: to our agent (streamed) or
 * to a child (one piece). The first piece comes before the headers, so a
 * failure to get it is a clean 502 and the blob's size is known. */
static enum MHD_Result serve_range(struct dadi_proxy *p,
				   struct MHD_Connection *c, const char *key,
				   uint64_t off, uint64_t len, int to_child)
{
	struct MHD_Response *r;
	struct stream *s;
	struct err e = {{0}};
	enum MHD_Result ret;
	uint64_t total;

	if (!(s = calloc(1, sizeof(*s))))
		return MHD_NO;
	s->p = p;
	s->off = off;
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->pc_idx = off / dadi_pieces_piece(p->pieces);
	if (dadi_pieces_get(p->pieces, key, s->pc_idx, &s->pc, &e)) {
		free(s);
		return reply(c, MHD_HTTP_BAD_GATEWAY, e.msg);
	}
	/* After the first piece: a blob that cannot be read is not
	 * prefetched. */
	prefetch_start(p, key);
	total = s->pc.total;
	if (off >= total) {
		stream_free(s);
		return reply(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, "past the end");
	}
	if (!len || len > total - off)
		len = total - off;
	if (to_child) {
		pthread_mutex_lock(&p->mu);
		p->st.child_pieces++;
		pthread_mutex_unlock(&p->mu);
	}
	r = MHD_create_response_from_callback(len, 64 * 1024, stream_read, s,
					      stream_free);
	if (!r) {
		stream_free(s);
		return MHD_NO;
	}
	content_range(r, off, len, total);
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	MHD_add_response_header(r, HDR_SOURCE, p->self);
	ret = MHD_queue_response(c, MHD_HTTP_PARTIAL_CONTENT, r);
	MHD_destroy_response(r);
	return ret;
}

/* A child's piece request: join it (serve) or send it down (307). */
static enum MHD_Result serve_child(struct dadi_proxy *p,
				   struct MHD_Connection *c, const char *url,
				   const char *key, uint64_t off, uint64_t len)
{
	const char *agent =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, HDR_AGENT);
	char to[DADI_TREE_ADDR_LEN], loc[1024];
	struct MHD_Response *r;
	enum dadi_join j = DADI_JOIN_SERVE;
	enum MHD_Result ret;

	if (agent && agent[0]) {
		pthread_mutex_lock(&p->mu);
		/* -ENOMEM leaves j at SERVE: better served than failed. */
		(void)dadi_tree_join(p->tree, key, agent, evloop_now_ns(), &j,
				     to);
		if (j == DADI_JOIN_REDIRECT)
			p->st.redirects_sent++;
		pthread_mutex_unlock(&p->mu);
	}
	if (j == DADI_JOIN_SERVE)
		return serve_range(p, c, key, off, len, 1);
	snprintf(loc, sizeof(loc), "http://%s%s", to, url);
	if (!(r = MHD_create_response_from_buffer(0, NULL,
						  MHD_RESPMEM_PERSISTENT)))
		return MHD_NO;
	MHD_add_response_header(r, "Location", loc);
	ret = MHD_queue_response(c, MHD_HTTP_TEMPORARY_REDIRECT, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	static int first_call_mark;
	struct dadi_proxy *p = cls;
	const char *range;
	char key[DADI_TREE_KEY_LEN];
	uint64_t off, len;
	int p2p;

	(void)version;
	(void)upload;
	/* The first call only says the headers are in; answer on the
	 * second, as libmicrohttpd's examples do. */
	if (!*state) {
		*state = &first_call_mark;
		return MHD_YES;
	}
	if (*upload_len)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "no uploads");
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			     "only GET and HEAD");
	p2p = !strncmp(url, P2P_PREFIX "/", strlen(P2P_PREFIX) + 1);
	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
	if (!blob_key(p2p ? url + strlen(P2P_PREFIX) : url, key) &&
	    !strcmp(method, "GET") && !parse_range(range, &off, &len)) {
		if (p2p)
			return serve_child(p, c, url, key, off, len);
		return serve_range(p, c, key, off, len, 0);
	}
	if (p2p)
		return reply(c, MHD_HTTP_BAD_REQUEST,
			     "p2p: expected GET of a blob range");
	return pass_through(p, c, url);
}

/* ---- life cycle ---- */

int dadi_proxy_start(const struct dadi_proxy_opts *o, struct dadi_proxy **pp,
		     struct err *e)
{
	struct dadi_proxy *p;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	double k = o->dilation > 1.0 ? o->dilation : 1.0;
	uint64_t expiry_ms = o->expiry_ms ? o->expiry_ms : DADI_TREE_EXPIRY_MS;
	size_t i;
	int ret;

	*pp = NULL;
	if (inet_pton(AF_INET, o->listen, &sa.sin_addr) != 1)
		return err_set(e, -EINVAL, "listen: not an IPv4 address: %s",
			       o->listen);
	if (!o->port || o->port > 65535)
		return err_set(e, -EINVAL, "port: out of range: %u", o->port);
	if (!o->registry)
		return err_set(e, -EINVAL, "no registry URL");
	sa.sin_port = htons((uint16_t)o->port);
	if (!(p = calloc(1, sizeof(*p))))
		return err_set(e, -ENOMEM, "out of memory");
	p->o = *o;
	p->o.roots = NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->joined, NULL);
	if (pthread_key_create(&p->curl_key, curl_free_handle)) {
		pthread_cond_destroy(&p->joined);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return err_set(e, -EAGAIN, "pthread_key_create failed");
	}
	if (o->self)
		snprintf(p->self, sizeof(p->self), "%s", o->self);
	else
		snprintf(p->self, sizeof(p->self), "%s:%u", o->listen, o->port);
	snprintf(p->registry, sizeof(p->registry), "%s", o->registry);
	p->timeout_ms =
		(long)((o->timeout_ms ? o->timeout_ms : DADI_TIMEOUT_MS) * k +
		       0.5);
	ret = -ENOMEM;
	if (o->nroots && !(p->roots = calloc(o->nroots, sizeof(*p->roots))))
		goto fail;
	for (i = 0; i < o->nroots; i++)
		if (!(p->roots[i] = strdup(o->roots[i])))
			goto fail;
	if (dadi_tree_new(DADI_TREE_FANOUT,
			  (uint64_t)((double)expiry_ms * 1e6 * k), o->seed,
			  &p->tree) ||
	    dadi_pieces_new(o->piece, o->cache ? o->cache : DADI_CACHE_DEFAULT,
			    fetch_piece, p, &p->pieces))
		goto fail;
	/* poll, not select: a P2P root holds a connection per child and per
	 * proxy passing a manifest through, past select's 1,024 descriptors
	 * at fig15's 128 VMs. */
	p->mhd = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, p, MHD_OPTION_SOCK_ADDR, &sa,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
	if (!p->mhd) {
		ret = -errno ? -errno : -EADDRINUSE;
		err_set(e, ret, "listen on %s:%u: %s", o->listen, o->port,
			strerror(-ret));
		dadi_proxy_stop(p);
		return ret;
	}
	*pp = p;
	return 0;
fail:
	err_set(e, ret, "out of memory");
	dadi_proxy_stop(p);
	return ret;
}

void dadi_proxy_stop(struct dadi_proxy *p)
{
	struct prefetch *f, *n;
	size_t i;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_mutex_unlock(&p->mu);
	if (p->mhd)
		MHD_stop_daemon(p->mhd);
	for (f = p->prefetches; f; f = n) {
		n = f->next;
		pthread_join(f->thr, NULL);
		free(f);
	}
	dadi_pieces_free(p->pieces);
	dadi_tree_free(p->tree);
	for (i = 0; p->roots && i < p->o.nroots; i++)
		free(p->roots[i]);
	free(p->roots);
	/* Threads that ended took their curl handles with them (the key's
	 * destructor); this one's goes here. */
	curl_free_handle(pthread_getspecific(p->curl_key));
	pthread_key_delete(p->curl_key);
	pthread_cond_destroy(&p->joined);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void dadi_proxy_stats(struct dadi_proxy *p, struct dadi_proxy_stats *st)
{
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	pthread_mutex_unlock(&p->mu);
	dadi_pieces_stats(p->pieces, &st->pieces);
}

unsigned dadi_proxy_children(struct dadi_proxy *p, const char *repo,
			     const char *digest)
{
	char key[DADI_TREE_KEY_LEN];
	unsigned n;

	snprintf(key, sizeof(key), "%s@%s", repo, digest);
	pthread_mutex_lock(&p->mu);
	n = dadi_tree_children(p->tree, key, evloop_now_ns());
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* Loopback tests of dadi/proxy.c, no root needed: a fake registry (a
 * libmicrohttpd server holding an in-memory image, tests/mem_image.h) on
 * 127.0.0.1, one root proxy on 127.0.0.2 and six node proxies on
 * 127.0.0.3-8, all threads of this process, and clients that read through
 * the nodes with lib/registry and lib/fetch, as the agent does:
 *   - every client gets exactly the registry's bytes, and the agent's
 *     verified path (pinned manifest, config, index, blocks) works through
 *     a node;
 *   - the registry sees each 1 MiB piece of the data blob once;
 *   - joins walk down the tree by 307s, and the root keeps 2 children;
 *   - prefetch brings the whole blob to a node that read one byte of it;
 *   - an interior node stopped, its children re-join from the root and
 *     still complete. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evloop.h"
#include "fetch.h"
#include "mem_image.h"
#include "proxy.h"
#include "registry.h"

#define NNODES	   6
#define REPO	   "t/img"
#define MAX_PIECES 64

static struct mem_image IMG;
static unsigned PORT; /* the registry's; the proxies' is PORT + 1 */

/* ---- the fake registry ---- */

struct freg {
	struct MHD_Daemon *mhd;
	pthread_mutex_t mu;
	unsigned piece_gets[MAX_PIECES]; /* aligned 1 MiB reads of the data */
	unsigned other_data_gets;	 /* any other read of the data blob */
	unsigned small_gets;		 /* manifest, config, index */
};

static struct freg REG;

static enum MHD_Result freg_reply(struct MHD_Connection *c, unsigned status,
				  const void *buf, size_t len,
				  const char *ctype, const char *digest,
				  const char *content_range)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)buf, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	if (digest)
		MHD_add_response_header(r, "Docker-Content-Digest", digest);
	if (content_range)
		MHD_add_response_header(r, "Content-Range", content_range);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result freg_on(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *up,
			       size_t *uplen, void **state)
{
	static int mark;
	struct freg *g = cls;
	const char *range, *b = strstr(url, "/blobs/");
	unsigned long long a, z;
	char cr[128];

	(void)method, (void)version, (void)up, (void)uplen;
	if (!*state) {
		*state = &mark;
		return MHD_YES;
	}
	if (!strcmp(url, "/v2/"))
		return freg_reply(c, 200, "{}", 2, "application/json", NULL,
				  NULL);
	if (!strcmp(url, "/v2/" REPO "/manifests/v1") ||
	    (strstr(url, "/manifests/") && strstr(url, IMG.manifest_digest))) {
		pthread_mutex_lock(&g->mu);
		g->small_gets++;
		pthread_mutex_unlock(&g->mu);
		return freg_reply(c, 200, IMG.manifest, IMG.manifest_len,
				  "application/vnd.oci.image.manifest.v1+json",
				  IMG.manifest_digest, NULL);
	}
	if (b && !strcmp(b + 7, IMG.data_digest)) {
		range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "Range");
		if (!range || sscanf(range, "bytes=%llu-%llu", &a, &z) != 2 ||
		    a >= IMG.data_len) {
			pthread_mutex_lock(&g->mu);
			g->other_data_gets++;
			pthread_mutex_unlock(&g->mu);
			return freg_reply(c, 200, IMG.data, IMG.data_len, NULL,
					  NULL, NULL);
		}
		if (z >= IMG.data_len)
			z = IMG.data_len - 1;
		pthread_mutex_lock(&g->mu);
		if (a % DADI_PIECE_SIZE == 0 &&
		    ((z + 1) % DADI_PIECE_SIZE == 0 || z + 1 == IMG.data_len))
			g->piece_gets[a / DADI_PIECE_SIZE]++;
		else
			g->other_data_gets++;
		pthread_mutex_unlock(&g->mu);
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%zu", a, z,
			 IMG.data_len);
		return freg_reply(c, 206, IMG.data + a, z - a + 1,
				  "application/octet-stream", NULL, cr);
	}
	if (b && (!strcmp(b + 7, IMG.config_digest) ||
		  !strcmp(b + 7, IMG.index_digest))) {
		int cfg = !strcmp(b + 7, IMG.config_digest);

		pthread_mutex_lock(&g->mu);
		g->small_gets++;
		pthread_mutex_unlock(&g->mu);
		return freg_reply(c, 200, cfg ? IMG.config : IMG.index,
				  cfg ? IMG.config_len : IMG.index_len,
				  "application/octet-stream", NULL, NULL);
	}
	return freg_reply(c, 404, "{}", 2, "application/json", NULL, NULL);
}

static int freg_start(struct freg *g)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)PORT)};

	memset(g->piece_gets, 0, sizeof(g->piece_gets));
	g->other_data_gets = g->small_gets = 0;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	g->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
					  MHD_USE_INTERNAL_POLLING_THREAD,
				  0, NULL, NULL, freg_on, g,
				  MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	return g->mhd ? 0 : -1;
}

/* ---- the proxies ---- */

struct net {
	struct dadi_proxy *root;
	struct dadi_proxy *node[NNODES];
	char addr[NNODES + 1][32]; /* [0]: the root's */
	const char *roots[1];
	char registry[64];
};

static void net_start(struct net *n, int prefetch, unsigned expiry_ms,
		      double dilation)
{
	struct dadi_proxy_opts o = {.port = PORT + 1,
				    .registry = n->registry,
				    .roots = n->roots,
				    .prefetch = prefetch,
				    .expiry_ms = expiry_ms,
				    .dilation = dilation};
	char listen[NNODES + 1][24];
	struct err e = {""};

	snprintf(n->registry, sizeof(n->registry), "http://127.0.0.1:%u", PORT);
	for (int i = 0; i <= NNODES; i++) {
		snprintf(listen[i], sizeof(listen[i]), "127.0.0.%d", i + 2);
		snprintf(n->addr[i], sizeof(n->addr[i]), "%s:%u", listen[i],
			 PORT + 1);
	}
	n->roots[0] = n->addr[0];
	o.listen = listen[0];
	o.self = n->addr[0];
	o.is_root = 1;
	o.nroots = 0;
	o.seed = 100;
	if (dadi_proxy_start(&o, &n->root, &e))
		fail_msg("root: %s", e.msg);
	o.is_root = 0;
	o.nroots = 1;
	for (int i = 0; i < NNODES; i++) {
		o.listen = listen[i + 1];
		o.self = n->addr[i + 1];
		o.seed = 200 + (uint64_t)i;
		if (dadi_proxy_start(&o, &n->node[i], &e))
			fail_msg("node %d: %s", i, e.msg);
	}
}

static void net_stop(struct net *n)
{
	for (int i = 0; i < NNODES; i++)
		dadi_proxy_stop(n->node[i]);
	dadi_proxy_stop(n->root);
}

/* ---- clients ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int to_buf(void *arg, const void *d, size_t len)
{
	struct buf *b = arg;

	if (b->len + len > b->cap)
		return -EMSGSIZE;
	memcpy(b->p + b->len, d, len);
	b->len += len;
	return 0;
}

/* Reads [off, off + len) of the data blob through proxy i (0: the root)
 * as the agent would, and checks the bytes. 0, or -1 with a message. */
static int read_check(const char *addr, struct registry *r, uint64_t off,
		      uint64_t len)
{
	struct buf b = {malloc(len), 0, len};
	struct err e = {""};
	int ret;

	ret = registry_blob_get(r, REPO, IMG.data_digest, off, len, to_buf, &b,
				&e);
	if (ret)
		fprintf(stderr, "via %s: bytes %llu+%llu: %s\n", addr,
			(unsigned long long)off, (unsigned long long)len,
			e.msg);
	else if (b.len != len || memcmp(b.p, IMG.data + off, len)) {
		fprintf(stderr, "via %s: bytes %llu+%llu differ\n", addr,
			(unsigned long long)off, (unsigned long long)len);
		ret = -1;
	}
	free(b.p);
	return ret;
}

struct client {
	const char *addr;
	int start; /* where in the blob this client begins (rotated) */
	int ret;
};

/* Reads the whole blob in 700 KiB ranges (so that most span two pieces),
 * starting at range `start` and wrapping round. */
static void *client_run(void *arg)
{
	struct client *c = arg;
	struct registry *r = NULL;
	struct err e = {""};
	char url[64];
	uint64_t step = 700 * 1024, n = (IMG.data_len + step - 1) / step;

	snprintf(url, sizeof(url), "http://%s", c->addr);
	c->ret = registry_open(url, &r, &e);
	for (uint64_t k = 0; !c->ret && k < n; k++) {
		uint64_t off = ((k + (uint64_t)c->start) % n) * step;
		uint64_t len =
			IMG.data_len - off < step ? IMG.data_len - off : step;

		c->ret = read_check(c->addr, r, off, len);
	}
	registry_close(r);
	return NULL;
}

/* Every node in turn reads the blob's first bytes: the tree forms. */
static void join_in_turn(struct net *n)
{
	for (int i = 0; i < NNODES; i++) {
		struct registry *r;
		struct err e = {""};
		char url[64];

		if (!n->node[i])
			continue;
		snprintf(url, sizeof(url), "http://%s", n->addr[i + 1]);
		assert_int_equal(registry_open(url, &r, &e), 0);
		assert_int_equal(read_check(n->addr[i + 1], r, 0, 1000), 0);
		registry_close(r);
	}
}

static void read_all_at_once(struct net *n)
{
	pthread_t t[NNODES];
	struct client c[NNODES];

	for (int i = 0; i < NNODES; i++) {
		c[i] = (struct client){.addr = n->addr[i + 1], .start = i};
		if (n->node[i])
			assert_int_equal(
				pthread_create(&t[i], NULL, client_run, &c[i]),
				0);
	}
	/* Every thread joined before any assertion: a failed one must not
	 * leave readers running past the test. */
	for (int i = 0; i < NNODES; i++)
		if (n->node[i])
			pthread_join(t[i], NULL);
	for (int i = 0; i < NNODES; i++)
		if (n->node[i])
			assert_int_equal(c[i].ret, 0);
}

static unsigned npieces(void)
{
	return (unsigned)((IMG.data_len + DADI_PIECE_SIZE - 1) /
			  DADI_PIECE_SIZE);
}

/* The registry saw each piece once, and nothing else of the data. */
static void assert_each_piece_once(void)
{
	pthread_mutex_lock(&REG.mu);
	for (unsigned i = 0; i < npieces(); i++)
		assert_int_equal(REG.piece_gets[i], 1);
	assert_int_equal(REG.other_data_gets, 0);
	pthread_mutex_unlock(&REG.mu);
}

static int got_block(void *arg, uint32_t block, const void *cdata, size_t clen,
		     const void *data, size_t len)
{
	(void)block, (void)cdata, (void)clen, (void)data, (void)len;
	++*(uint32_t *)arg;
	return 0;
}

/* ---- tests ---- */

static void test_tree_bytes_and_registry_once(void **state)
{
	struct net n = {0};
	struct dadi_proxy_stats st;
	uint64_t sent = 0, followed = 0;

	(void)state;
	assert_int_equal(freg_start(&REG), 0);
	net_start(&n, 1, 0, 0);
	join_in_turn(&n);
	read_all_at_once(&n);
	for (int i = 0; i < NNODES; i++) {
		dadi_proxy_stats(n.node[i], &st);
		sent += st.redirects_sent;
		followed += st.redirects_followed;
		assert_true(dadi_proxy_children(n.node[i], REPO,
						IMG.data_digest) <= 2);
	}
	dadi_proxy_stats(n.root, &st);
	sent += st.redirects_sent;
	/* Six joiners, two slots at the root: four walked down. */
	assert_true(st.redirects_sent >= NNODES - 2);
	assert_true(followed >= NNODES - 2 && sent == followed);
	assert_int_equal(dadi_proxy_children(n.root, REPO, IMG.data_digest), 2);
	assert_each_piece_once();
	net_stop(&n);
	MHD_stop_daemon(REG.mhd);
}

struct piece_read {
	const char *addr;
	uint64_t off;
	int ret;
};

static void *piece_read_run(void *arg)
{
	struct piece_read *pr = arg;
	struct registry *r = NULL;
	struct err e = {""};
	char url[64];

	snprintf(url, sizeof(url), "http://%s", pr->addr);
	pr->ret = registry_open(url, &r, &e);
	if (!pr->ret)
		pr->ret = read_check(pr->addr, r, pr->off, 1000);
	registry_close(r);
	return NULL;
}

/* A node's first reads of a blob, all at once and of different pieces,
 * make one join walk between them: the others wait for its upstream
 * (concurrent walks could each be accepted somewhere, one below a node
 * that joined under the other). The root's two slots are taken first, so
 * the walk is redirected once. */
static void test_concurrent_first_reads_one_walk(void **state)
{
	struct net n = {0};
	struct dadi_proxy_stats st;
	struct piece_read pr[4];
	pthread_t t[4];
	unsigned k, nr = npieces() < 4 ? npieces() : 4;

	(void)state;
	assert_true(nr >= 2);
	assert_int_equal(freg_start(&REG), 0);
	net_start(&n, 0, 0, 0);
	{
		struct net two = n;

		/* nodes 0 and 1 only: the root's slots */
		for (k = 2; k < NNODES; k++)
			two.node[k] = NULL;
		join_in_turn(&two);
	}
	for (k = 0; k < nr; k++) {
		pr[k] = (struct piece_read){.addr = n.addr[3],
					    .off = k * DADI_PIECE_SIZE};
		assert_int_equal(
			pthread_create(&t[k], NULL, piece_read_run, &pr[k]), 0);
	}
	for (k = 0; k < nr; k++)
		pthread_join(t[k], NULL);
	for (k = 0; k < nr; k++)
		assert_int_equal(pr[k].ret, 0);
	dadi_proxy_stats(n.node[2], &st);
	assert_int_equal(st.redirects_followed, 1);
	assert_int_equal(st.failovers, 0);
	net_stop(&n);
	MHD_stop_daemon(REG.mhd);
}

/* The agent's path: pinned manifest, config, index passed through; every
 * block read by range through the tree and verified by lib/fetch. */
static void test_agent_path_verified(void **state)
{
	struct net n = {0};
	struct fetch_image fi;
	struct fetch_stats fs = {0};
	struct err e = {""};
	char ref[256];
	uint32_t *blocks, nb, got = 0;

	(void)state;
	assert_int_equal(freg_start(&REG), 0);
	net_start(&n, 1, 0, 0);
	join_in_turn(&n);
	snprintf(ref, sizeof(ref), "%s/" REPO "@%s", n.addr[NNODES],
		 IMG.manifest_digest);
	if (fetch_open(ref, NULL, &fi, &e) || fetch_indexes(&fi, &e))
		fail_msg("%s: %s", ref, e.msg);
	nb = fi.ix[0].nblocks;
	blocks = malloc(nb * sizeof(*blocks));
	for (uint32_t i = 0; i < nb; i++)
		blocks[i] = i;
	fi.parallel = 4;
	if (fetch_blocks(&fi, 0, blocks, nb, got_block, &got, &fs, &e))
		fail_msg("fetch_blocks via %s: %s", n.addr[NNODES], e.msg);
	assert_int_equal(got, nb);
	free(blocks);
	fetch_close(&fi);
	assert_each_piece_once();
	net_stop(&n);
	MHD_stop_daemon(REG.mhd);
}

/* A node that read 1000 bytes has the whole blob soon after. */
static void test_prefetch_whole_blob(void **state)
{
	struct net n = {0};
	struct dadi_proxy_stats st;
	uint64_t deadline = evloop_now_ns() + 20ull * 1000000000;

	(void)state;
	assert_int_equal(freg_start(&REG), 0);
	net_start(&n, 1, 0, 0);
	join_in_turn(&n);
	/* Bytes, not fetches: a fetch is counted when it starts. */
	do {
		usleep(10000);
		dadi_proxy_stats(n.node[NNODES - 1], &st);
	} while (st.pieces.bytes < IMG.data_len && evloop_now_ns() < deadline);
	assert_int_equal(st.pieces.fetches, npieces());
	assert_int_equal(st.pieces.bytes, IMG.data_len);
	net_stop(&n);
	MHD_stop_daemon(REG.mhd);
}

/* An interior node dies; after the root's entries expire its children
 * re-join from the root (one failover each) and read everything. */
static void test_interior_dies(void **state)
{
	struct net n = {0};
	struct dadi_proxy_stats st;
	uint64_t failovers = 0;
	int dead = -1;

	(void)state;
	assert_int_equal(freg_start(&REG), 0);
	net_start(&n, 0, 300, 0);
	join_in_turn(&n);
	for (int i = 0; i < NNODES && dead < 0; i++)
		if (dadi_proxy_children(n.node[i], REPO, IMG.data_digest))
			dead = i;
	assert_true(dead >= 0);
	dadi_proxy_stop(n.node[dead]);
	n.node[dead] = NULL;
	usleep(400 * 1000); /* past the 300 ms expiry */
	/* The dead node's slot at the root is free again, or the re-joins
	 * could be sent to it. */
	assert_int_equal(dadi_proxy_children(n.root, REPO, IMG.data_digest), 0);
	read_all_at_once(&n);
	for (int i = 0; i < NNODES; i++)
		if (n.node[i]) {
			dadi_proxy_stats(n.node[i], &st);
			failovers += st.failovers;
		}
	assert_true(failovers >= 1);
	assert_each_piece_once();
	net_stop(&n);
	MHD_stop_daemon(REG.mhd);
}

/* The expiry is the world's: at dilation 3, 200 ms of it last 600 ms. */
static void test_expiry_dilated(void **state)
{
	struct net n = {0};

	(void)state;
	assert_int_equal(freg_start(&REG), 0);
	net_start(&n, 0, 200, 3);
	join_in_turn(&n);
	usleep(300 * 1000);
	assert_int_equal(dadi_proxy_children(n.root, REPO, IMG.data_digest), 2);
	usleep(500 * 1000);
	assert_int_equal(dadi_proxy_children(n.root, REPO, IMG.data_digest), 0);
	net_stop(&n);
	MHD_stop_daemon(REG.mhd);
}

static int setup(void **state)
{
	struct err e = {""};

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&REG.mu, NULL);
	PORT = 20000 + (unsigned)getpid() % 20000;
	/* 12 MiB of rootfs-like bytes compress to a few 1 MiB pieces. */
	if (mem_image_build(&IMG, 12 << 20, 64 << 10, 5, NULL, NULL, &e)) {
		fprintf(stderr, "image: %s\n", e.msg);
		return -1;
	}
	if (IMG.data_len < 3 * DADI_PIECE_SIZE ||
	    IMG.data_len % DADI_PIECE_SIZE == 0 || npieces() > MAX_PIECES) {
		fprintf(stderr, "image: data blob of %zu bytes\n",
			IMG.data_len);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mem_image_free(&IMG);
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_bytes_and_registry_once),
		cmocka_unit_test(test_concurrent_first_reads_one_walk),
		cmocka_unit_test(test_agent_path_verified),
		cmocka_unit_test(test_prefetch_whole_blob),
		cmocka_unit_test(test_interior_dies),
		cmocka_unit_test(test_expiry_dilated),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Integration tests of the registry client against a real OCI registry
 * (Debian's docker-registry, distribution 2.8) started on 127.0.0.1 with a
 * throwaway storage directory. Needs no root and no namespaces. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "registry.h"

#ifndef REGISTRY_BIN
#define REGISTRY_BIN "/usr/bin/docker-registry"
#endif
#define REPO	 "fn/itest"
#define BIG_SIZE (5u * 1000 * 1000 + 123) /* not a multiple of anything */

struct fixture {
	char dir[64];
	char url[64];
	pid_t pid;
	const char *skip; /* why the registry tests cannot run here */
};

static struct fixture fx;

#define NEED_REGISTRY()                                                        \
	do {                                                                   \
		if (fx.skip) {                                                 \
			fprintf(stderr, "SKIP: %s\n", fx.skip);                \
			skip();                                                \
		}                                                              \
	} while (0)

static int free_port(void)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t alen = sizeof(a);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &alen))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void print_log(void)
{
	char path[128], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/registry.log", fx.dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "registry: %s", line);
	fclose(f);
}

static void stop_registry(void)
{
	int i;

	if (fx.pid > 0) {
		kill(fx.pid, SIGTERM);
		for (i = 0; i < 100; i++) {
			if (waitpid(fx.pid, NULL, WNOHANG) == fx.pid)
				break;
			usleep(50 * 1000);
		}
		if (i == 100) {
			kill(fx.pid, SIGKILL);
			waitpid(fx.pid, NULL, 0);
		}
		fx.pid = 0;
	}
	if (fx.dir[0]) {
		nftw(fx.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		fx.dir[0] = '\0';
	}
}

static size_t discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

/* Polls GET /v2/ until the registry answers 200, for at most 10 s. */
static int wait_ready(void)
{
	char url[128];
	struct timespec t0, t;
	long status;
	CURL *c;
	int ret = -1;

	c = curl_easy_init();
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "%s/v2/", fx.url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 500L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		status = 0;
		if (curl_easy_perform(c) == CURLE_OK &&
		    !curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) &&
		    status == 200) {
			ret = 0;
			break;
		}
		if (waitpid(fx.pid, NULL, WNOHANG) == fx.pid) {
			fprintf(stderr, "docker-registry exited early\n");
			fx.pid = 0;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 10) {
			fprintf(stderr, "%s: no answer within 10 s\n", url);
			break;
		}
		usleep(50 * 1000);
	}
	curl_easy_cleanup(c);
	return ret;
}

static int group_setup(void **state)
{
	char cfg[128], log[128];
	pid_t parent = getpid();
	FILE *f;
	int port, fd;

	(void)state;
	if (access(REGISTRY_BIN, X_OK)) {
		fx.skip = REGISTRY_BIN " is not installed "
				       "(apt-get install docker-registry)";
		return 0;
	}
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/itest-registry-XXXXXX");
	if (!mkdtemp(fx.dir)) {
		perror("mkdtemp");
		fx.dir[0] = '\0';
		return -1;
	}
	port = free_port();
	if (port < 0) {
		perror("finding a free port");
		goto fail;
	}
	snprintf(fx.url, sizeof(fx.url), "http://127.0.0.1:%d", port);
	snprintf(cfg, sizeof(cfg), "%s/config.yml", fx.dir);
	snprintf(log, sizeof(log), "%s/registry.log", fx.dir);
	f = fopen(cfg, "w");
	if (!f) {
		perror(cfg);
		goto fail;
	}
	/* A fixed http.secret only quiets a startup warning. */
	fprintf(f,
		"version: 0.1\n"
		"log:\n"
		"  level: warn\n"
		"  accesslog:\n"
		"    disabled: true\n"
		"storage:\n"
		"  filesystem:\n"
		"    rootdirectory: %s/storage\n"
		"  delete:\n"
		"    enabled: true\n"
		"http:\n"
		"  addr: 127.0.0.1:%d\n"
		"  secret: itest-registry\n",
		fx.dir, port);
	if (fclose(f)) {
		perror(cfg);
		goto fail;
	}
	fx.pid = fork();
	if (fx.pid < 0) {
		perror("fork");
		fx.pid = 0;
		goto fail;
	}
	if (fx.pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		/* Should this test die without its teardown (a sanitizer
		 * abort), the registry goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		execl(REGISTRY_BIN, "docker-registry", "serve", cfg,
		      (char *)NULL);
		_exit(127);
	}
	if (wait_ready())
		goto fail;
	return 0;
fail:
	print_log();
	stop_registry();
	return -1;
}

static int group_teardown(void **state)
{
	(void)state;
	stop_registry();
	return 0;
}

static int client_open(void **state)
{
	struct registry *r = NULL;
	struct err e = {""};

	*state = NULL;
	if (fx.skip)
		return 0;
	if (registry_open(fx.url, &r, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	*state = r;
	return 0;
}

static int client_close(void **state)
{
	registry_close(*state);
	return 0;
}

static void digest_of(const void *buf, size_t len, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	assert_int_equal(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL),
			 1);
	assert_int_equal(mdlen, 32);
	memcpy(out, "sha256:", 7);
	for (i = 0; i < mdlen; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Bytes no compressor or deduplicator would shorten. */
static unsigned char *random_bytes(size_t len, uint64_t seed)
{
	unsigned char *b = malloc(len);
	uint64_t x = seed | 1;
	size_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = x >> 24;
	}
	return b;
}

struct collect {
	unsigned char *buf;
	size_t len, cap;
	unsigned calls;
	int stop_with; /* returned by the first call when non-zero */
};

static int collect_sink(void *arg, const void *buf, size_t len)
{
	struct collect *c = arg;
	unsigned char *nb;

	c->calls++;
	if (c->stop_with)
		return c->stop_with;
	if (c->len + len > c->cap) {
		c->cap = (c->len + len) * 2;
		nb = realloc(c->buf, c->cap);
		if (!nb)
			return -ENOMEM;
		c->buf = nb;
	}
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	return 0;
}

static void test_ref_parse(void **state)
{
	static const char *const bad[] = {
		"",
		"python",
		"/fn/python",
		"198.18.0.2:5000/",
		"198.18.0.2:5000/fn/",
		"198.18.0.2:5000/fn//python",
		"198.18.0.2:5000/fn/python:",
		"198.18.0.2:/fn/python",
		"198.18.0.2:0/fn/python",
		"198.18.0.2:99999/fn/python",
		"198.18.0.2:50a0/fn/python",
		"198.18.0.2:5000/fn python:v1",
		"198.18.0.2:5000/fn/python:v 1",
		"198.18.0.2:5000/Fn/Python",
		"198.18.0.2:5000/fn/-python",
		"198.18.0.2:5000/fn/py..thon",
		"198.18.0.2:5000/fn/python:.v1",
		"198.18.0.2:5000/fn/python@sha256:abc",
		"198.18.0.2:5000/fn/python@md5:0123",
		"198.18.0.2:5000/fn/python:v1@sha256:"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
		"ef",
		"[::1/fn/python",
		"-host/fn/python",
	};
	static const char digest[] = "sha256:"
				     "0123456789abcdef0123456789abcdef012345678"
				     "9abcdef0123456789abcdef";
	struct registry_ref ref;
	struct err e;
	char s[1024];
	size_t i;

	(void)state;
	assert_int_equal(
		registry_ref_parse("198.18.0.2:5000/fn/python:v1", &ref, &e),
		0);
	assert_string_equal(ref.url, "http://198.18.0.2:5000");
	assert_string_equal(ref.repo, "fn/python");
	assert_string_equal(ref.tag, "v1");

	assert_int_equal(
		registry_ref_parse("127.0.0.1:5000/fn/python", &ref, &e), 0);
	assert_string_equal(ref.url, "http://127.0.0.1:5000");
	assert_string_equal(ref.tag, "latest");

	assert_int_equal(
		registry_ref_parse("registry.local/a/b-c/d__e:1.0-rc_1", &ref,
				   &e),
		0);
	assert_string_equal(ref.url, "http://registry.local");
	assert_string_equal(ref.repo, "a/b-c/d__e");
	assert_string_equal(ref.tag, "1.0-rc_1");

	snprintf(s, sizeof(s), "198.18.0.2:5000/fn/python@%s", digest);
	assert_int_equal(registry_ref_parse(s, &ref, &e), 0);
	assert_string_equal(ref.repo, "fn/python");
	assert_string_equal(ref.tag, digest);

	assert_int_equal(registry_ref_parse("[::1]:5000/fn/x:y", &ref, &e), 0);
	assert_string_equal(ref.url, "http://[::1]:5000");
	assert_string_equal(ref.repo, "fn/x");
	assert_string_equal(ref.tag, "y");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (registry_ref_parse(bad[i], &ref, &e) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_true(e.msg[0] != '\0');
		fprintf(stderr, "rejected: %s\n", e.msg);
	}

	/* Too long: a 300-character host, name and tag. */
	memset(s, 'a', 300);
	snprintf(s + 300, sizeof(s) - 300, "/fn/python");
	assert_int_equal(registry_ref_parse(s, &ref, &e), -EINVAL);
	fprintf(stderr, "rejected: %.120s...\n", e.msg);
	snprintf(s, sizeof(s), "h:5000/");
	memset(s + 7, 'a', 300);
	s[307] = '\0';
	assert_int_equal(registry_ref_parse(s, &ref, &e), -EINVAL);
	fprintf(stderr, "rejected: %.120s...\n", e.msg);
	snprintf(s, sizeof(s), "h:5000/fn/python:");
	memset(s + 17, 'a', 200);
	s[217] = '\0';
	assert_int_equal(registry_ref_parse(s, &ref, &e), -EINVAL);
	fprintf(stderr, "rejected: %.120s...\n", e.msg);
}

static void test_blob_push_buf_exists(void **state)
{
	static const char blob[] = "a small blob for the registry test\n";
	struct registry *r = *state;
	char dg[72], other[72];
	struct err e = {""};
	int exists = -1;

	NEED_REGISTRY();
	digest_of(blob, sizeof(blob) - 1, dg);
	if (registry_blob_push_buf(r, REPO, dg, blob, sizeof(blob) - 1, &e))
		fail_msg("%s", e.msg);
	if (registry_blob_exists(r, REPO, dg, &exists, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(exists, 1);
	/* Pushing the same blob again is fine. */
	if (registry_blob_push_buf(r, REPO, dg, blob, sizeof(blob) - 1, &e))
		fail_msg("%s", e.msg);

	digest_of("never pushed", 12, other);
	if (registry_blob_exists(r, REPO, other, &exists, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(exists, 0);
}

static void test_blob_push_wrong_digest(void **state)
{
	static const char blob[] = "these bytes do not hash to that digest";
	struct registry *r = *state;
	struct err e = {""};
	char dg[72];
	int exists = -1, ret;

	NEED_REGISTRY();
	digest_of("something else", 14, dg);
	ret = registry_blob_push_buf(r, REPO, dg, blob, sizeof(blob) - 1, &e);
	fprintf(stderr, "wrong digest: %d: %s\n", ret, e.msg);
	assert_int_equal(ret, -EIO);
	assert_non_null(strstr(e.msg, "DIGEST_INVALID"));
	assert_non_null(strstr(e.msg, "PUT /v2/" REPO "/blobs/uploads/"));
	assert_non_null(strstr(e.msg, "HTTP 400"));
	assert_null(strchr(e.msg, '\n'));
	if (registry_blob_exists(r, REPO, dg, &exists, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(exists, 0);
}

/* Reads [off, off + len) and compares it with the source bytes. */
static void check_read(struct registry *r, const char *dg,
		       const unsigned char *src, uint64_t off, uint64_t len)
{
	struct collect c = {0};
	struct err e = {""};
	uint64_t want = len ? len : BIG_SIZE - off;

	if (registry_blob_get(r, REPO, dg, off, len, collect_sink, &c, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(c.len, want);
	assert_memory_equal(c.buf, src + off, want);
	free(c.buf);
}

static void push_big(struct registry *r, unsigned char **src, char dg[72])
{
	char path[128];
	struct err e = {""};
	FILE *f;

	*src = random_bytes(BIG_SIZE, 42);
	digest_of(*src, BIG_SIZE, dg);
	snprintf(path, sizeof(path), "%s/big.blob", fx.dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(*src, 1, BIG_SIZE, f), BIG_SIZE);
	assert_int_equal(fclose(f), 0);
	if (registry_blob_push_file(r, REPO, dg, path, &e))
		fail_msg("%s", e.msg);
	unlink(path);
}

static void test_blob_file_whole_and_ranges(void **state)
{
	struct registry *r = *state;
	unsigned char *src;
	struct err e = {""};
	char dg[72];
	int exists = 0;

	NEED_REGISTRY();
	push_big(r, &src, dg);
	if (registry_blob_exists(r, REPO, dg, &exists, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(exists, 1);

	check_read(r, dg, src, 0, 0);		      /* whole, no Range */
	check_read(r, dg, src, 0, 1);		      /* first byte */
	check_read(r, dg, src, 1234567, 524288);      /* a middle range */
	check_read(r, dg, src, BIG_SIZE - 1, 1);      /* last byte */
	check_read(r, dg, src, 0, BIG_SIZE);	      /* whole, by range */
	check_read(r, dg, src, BIG_SIZE - 1000, 0);   /* from off to the end */
	check_read(r, dg, src, 4000000, 1000000 + 1); /* ends on the last */
	free(src);
}

static void test_blob_range_past_end(void **state)
{
	static const char blob[] = "0123456789";
	struct registry *r = *state;
	struct collect c = {0};
	struct err e = {""};
	char dg[72];
	int ret;

	NEED_REGISTRY();
	digest_of(blob, 10, dg);
	if (registry_blob_push_buf(r, REPO, dg, blob, 10, &e))
		fail_msg("%s", e.msg);

	/* Starting past the end: the registry answers 416. */
	ret = registry_blob_get(r, REPO, dg, 10, 1, collect_sink, &c, &e);
	fprintf(stderr, "past the end: %d: %s\n", ret, e.msg);
	assert_true(ret < 0);
	assert_non_null(strstr(e.msg, "416"));
	assert_int_equal(c.len, 0);

	/* Running past the end: the registry clips the range (206 bytes
	 * 8-9/10); the client must not pass that off as what was asked. */
	ret = registry_blob_get(r, REPO, dg, 8, 5, collect_sink, &c, &e);
	fprintf(stderr, "over the end: %d: %s\n", ret, e.msg);
	assert_true(ret < 0);
	assert_int_equal(c.len, 0);

	/* The connection is still good for a proper read. */
	if (registry_blob_get(r, REPO, dg, 8, 2, collect_sink, &c, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(c.len, 2);
	assert_memory_equal(c.buf, "89", 2);
	free(c.buf);

	/* An unknown blob is -ENOENT, with the registry's code. */
	digest_of("never pushed either", 19, dg);
	ret = registry_blob_get(r, REPO, dg, 0, 0, collect_sink, &c, &e);
	fprintf(stderr, "unknown blob: %d: %s\n", ret, e.msg);
	assert_int_equal(ret, -ENOENT);
	assert_non_null(strstr(e.msg, "BLOB_UNKNOWN"));
}

static void test_manifest_push_get(void **state)
{
	static const char config[] =
		"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
		"{\"type\":\"layers\",\"diff_ids\":[]}}";
	static const char mt[] = "application/vnd.oci.image.manifest.v1+json";
	struct registry *r = *state;
	char cdg[72], ldg[72], mdg[72], manifest[1024];
	unsigned char *layer;
	struct err e = {""};
	size_t layer_len = 70000, len = 0;
	char *got = NULL;
	int n;

	NEED_REGISTRY();
	layer = random_bytes(layer_len, 7);
	digest_of(config, sizeof(config) - 1, cdg);
	digest_of(layer, layer_len, ldg);
	if (registry_blob_push_buf(r, REPO, cdg, config, sizeof(config) - 1,
				   &e) ||
	    registry_blob_push_buf(r, REPO, ldg, layer, layer_len, &e))
		fail_msg("%s", e.msg);
	free(layer);

	n = snprintf(manifest, sizeof(manifest),
		     "{\"schemaVersion\":2,"
		     "\"mediaType\":\"%s\","
		     "\"config\":{\"mediaType\":"
		     "\"application/vnd.oci.image.config.v1+json\","
		     "\"digest\":\"%s\",\"size\":%zu},"
		     "\"layers\":[{\"mediaType\":"
		     "\"application/vnd.oci.image.layer.v1.tar\","
		     "\"digest\":\"%s\",\"size\":%zu}]}",
		     mt, cdg, sizeof(config) - 1, ldg, layer_len);
	assert_true(n > 0 && (size_t)n < sizeof(manifest));
	if (registry_manifest_push(r, REPO, "v1", mt, manifest, n, &e))
		fail_msg("%s", e.msg);

	if (registry_manifest_get(r, REPO, "v1", &got, &len, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(len, n);
	assert_memory_equal(got, manifest, n);
	assert_int_equal(got[len], '\0');
	free(got);

	/* By digest too: the registry stores the bytes as pushed. */
	digest_of(manifest, n, mdg);
	if (registry_manifest_get(r, REPO, mdg, &got, &len, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(len, n);
	assert_memory_equal(got, manifest, n);
	free(got);
}

static void test_manifest_missing(void **state)
{
	struct registry *r = *state;
	struct err e = {""};
	char *got = (char *)"untouched";
	size_t len = 1;
	int ret;

	NEED_REGISTRY();
	ret = registry_manifest_get(r, REPO, "no-such-tag", &got, &len, &e);
	fprintf(stderr, "missing manifest: %d: %s\n", ret, e.msg);
	assert_int_equal(ret, -ENOENT);
	assert_null(got);
	assert_int_equal(len, 0);
	assert_non_null(strstr(e.msg, "MANIFEST_UNKNOWN"));
	assert_non_null(
		strstr(e.msg, "GET /v2/" REPO "/manifests/no-such-tag"));
}

static void test_sink_cancel(void **state)
{
	struct registry *r = *state;
	struct collect c = {.stop_with = -ECANCELED};
	unsigned char *src;
	struct err e = {""};
	char dg[72];
	int ret, exists = 0;

	NEED_REGISTRY();
	push_big(r, &src, dg);
	ret = registry_blob_get(r, REPO, dg, 0, 0, collect_sink, &c, &e);
	fprintf(stderr, "cancelled: %d: %s\n", ret, e.msg);
	assert_int_equal(ret, -ECANCELED);
	assert_int_equal(c.calls, 1);
	ret = registry_blob_get(r, REPO, dg, 100, 1000, collect_sink, &c, &e);
	assert_int_equal(ret, -ECANCELED);
	assert_int_equal(c.calls, 2);

	/* The handle is still usable after an aborted transfer. */
	if (registry_blob_exists(r, REPO, dg, &exists, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(exists, 1);
	check_read(r, dg, src, 17, 4096);
	free(src);
}

/* Needs no registry: nothing listens on a port just released. */
static void test_connection_refused(void **state)
{
	struct registry *r = NULL;
	struct err e = {""};
	char url[64];
	int port, exists = -1, ret;

	(void)state;
	port = free_port();
	assert_true(port > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	assert_int_equal(registry_open(url, &r, &e), 0);
	ret = registry_blob_exists(r, REPO,
				   "sha256:0123456789abcdef0123456789abcdef"
				   "0123456789abcdef0123456789abcdef",
				   &exists, &e);
	fprintf(stderr, "refused: %d: %s\n", ret, e.msg);
	registry_close(r);
	assert_int_equal(ret, -ECONNREFUSED);
	assert_non_null(strstr(e.msg, "HEAD /v2/" REPO "/blobs/sha256:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_parse),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test_setup_teardown(test_blob_push_buf_exists,
						client_open, client_close),
		cmocka_unit_test_setup_teardown(test_blob_push_wrong_digest,
						client_open, client_close),
		cmocka_unit_test_setup_teardown(test_blob_file_whole_and_ranges,
						client_open, client_close),
		cmocka_unit_test_setup_teardown(test_blob_range_past_end,
						client_open, client_close),
		cmocka_unit_test_setup_teardown(test_manifest_push_get,
						client_open, client_close),
		cmocka_unit_test_setup_teardown(test_manifest_missing,
						client_open, client_close),
		cmocka_unit_test_setup_teardown(test_sink_cancel, client_open,
						client_close),
	};
	int ret;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return 1;
	ret = cmocka_run_group_tests(tests, group_setup, group_teardown);
	curl_global_cleanup();
	return ret;
}

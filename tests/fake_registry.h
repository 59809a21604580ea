/* A fake OCI registry on 127.0.0.1 serving one in-memory image
 * (mem_image.h) over plain HTTP/1.1, one connection at a time on a thread
 * of its own: manifest, config, index, block data (with Range) and the
 * tar+gzip layer, honestly or with the faults a test asks for, counting
 * what it was asked. Shared by the agent's black-box test
 * (tests/unit/test_agent.c) and the agent benchmark (bench/agent_bench.c).
 * Header-only, with the socket helpers it needs. */
#ifndef FAASNET_TESTS_FAKE_REGISTRY_H
#define FAASNET_TESTS_FAKE_REGISTRY_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mem_image.h"
#include "oci.h"

/* The one repository it serves: a reference is 127.0.0.1:PORT/t/img@... */
#define FREG_REPO "t/img"

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void nap_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A listening socket on 127.0.0.1 and a port the kernel picks. */
static inline int listen_any(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

enum freg_mode {
	FREG_HONEST,
	FREG_FAIL, /* 503 to everything */
};

/* How a GET of the faulty blob goes wrong (struct freg, fault_*). */
enum freg_fault {
	FREG_FAULT_503,	    /* 503 Service Unavailable */
	FREG_FAULT_CLOSE,   /* the connection closed, nothing answered */
	FREG_FAULT_STALL,   /* half the body, then silence, then closed */
	FREG_FAULT_CORRUPT, /* the whole body with one byte changed */
};

struct freg {
	const struct mem_image *img;
	enum freg_mode mode;
	int corrupt; /* a block whose bytes it always serves corrupt, or -1 */
	int watch;   /* a block whose range reads it counts, or -1 */
	/* The first fault_n GETs of the blob fault_digest (NULL: none) go
	 * wrong as fault says; later ones are honest. A stall lasts
	 * stall_ms: a real one lasts until curl's low-speed limit (30 s)
	 * gives up, and ends the same way, in a failed transfer. */
	const char *fault_digest;
	enum freg_fault fault;
	unsigned fault_n, stall_ms;
	int lfd;
	uint16_t port;
	pthread_t thr;
	int running;
	atomic_int stop;
	atomic_uint requests, manifests, ranges, watch_asks;
	atomic_uint faults, layer_gets, index_gets;
};

static inline void http_header(int fd, const char *status, const char *extra,
			       size_t len)
{
	char hdr[1024];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n",
		     status, extra, len);
	if (n > 0 && (size_t)n < sizeof(hdr))
		write_all(fd, hdr, (size_t)n);
}

static inline void http_reply(int fd, const char *status, const char *extra,
			      const void *body, size_t len, int head)
{
	http_header(fd, status, extra, len);
	if (!head && len)
		write_all(fd, body, len);
}

/* One GET of the faulty blob, gone wrong; the caller closes fd. */
static inline void freg_fault(struct freg *r, int fd, const uint8_t *blob,
			      size_t len)
{
	uint8_t *copy;

	atomic_fetch_add(&r->faults, 1);
	switch (r->fault) {
	case FREG_FAULT_503:
		http_reply(fd, "503 Service Unavailable", "", NULL, 0, 0);
		break;
	case FREG_FAULT_CLOSE:
		break;
	case FREG_FAULT_STALL:
		http_header(fd, "200 OK", "", len);
		write_all(fd, blob, len / 2);
		nap_ms(r->stall_ms);
		break;
	case FREG_FAULT_CORRUPT:
		copy = malloc(len ? len : 1);
		if (!copy)
			return;
		memcpy(copy, blob, len);
		copy[len / 2] ^= 0x5a;
		http_reply(fd, "200 OK", "", copy, len, 0);
		free(copy);
		break;
	}
}

static inline void freg_blob(struct freg *r, int fd, const char *digest,
			     const char *range, int head)
{
	const struct mem_image *t = r->img;
	const uint8_t *blob = NULL;
	unsigned long long a, b;
	char extra[256];
	size_t len = 0;
	uint8_t *copy;

	if (!strcmp(digest, t->config_digest)) {
		blob = (const uint8_t *)t->config;
		len = t->config_len;
	} else if (!strcmp(digest, t->index_digest)) {
		blob = (const uint8_t *)t->index;
		len = t->index_len;
	} else if (!strcmp(digest, t->data_digest)) {
		blob = t->data;
		len = t->data_len;
	} else if (!strcmp(digest, t->layer_digest)) {
		blob = t->layer;
		len = t->layer_len;
	}
	if (!blob) {
		http_reply(fd, "404 Not Found", "", NULL, 0, head);
		return;
	}
	if (!head && blob == t->layer)
		atomic_fetch_add(&r->layer_gets, 1);
	if (!head && blob == (const uint8_t *)t->index)
		atomic_fetch_add(&r->index_gets, 1);
	if (!head && r->fault_digest && !strcmp(digest, r->fault_digest) &&
	    atomic_load(&r->faults) < r->fault_n) {
		freg_fault(r, fd, blob, len);
		return;
	}
	if (!range || sscanf(range, "bytes=%llu-%llu", &a, &b) != 2) {
		http_reply(fd, "200 OK", "", blob, len, head);
		return;
	}
	atomic_fetch_add(&r->ranges, 1);
	if (a > b || b >= len) {
		http_reply(fd, "416 Range Not Satisfiable", "", NULL, 0, head);
		return;
	}
	copy = malloc(b - a + 1);
	if (!copy)
		return;
	memcpy(copy, blob + a, b - a + 1);
	if (blob == t->data && r->watch >= 0) {
		const struct blockimg_block *k = &t->ix.blocks[r->watch];
		uint64_t mid = k->offset + k->clen / 2;

		if (mid >= a && mid <= b)
			atomic_fetch_add(&r->watch_asks, 1);
	}
	if (blob == t->data && r->corrupt >= 0) {
		const struct blockimg_block *k = &t->ix.blocks[r->corrupt];
		uint64_t mid = k->offset + k->clen / 2;

		if (mid >= a && mid <= b)
			copy[mid - a] ^= 0x5a;
	}
	snprintf(extra, sizeof(extra), "Content-Range: bytes %llu-%llu/%zu\r\n",
		 a, b, len);
	http_reply(fd, "206 Partial Content", extra, copy, b - a + 1, head);
	free(copy);
}

static inline void freg_serve(struct freg *r, int fd)
{
	char req[8192], method[8], path[512], *range, *end;
	const char *prefix = "/v2/" FREG_REPO "/";
	uint64_t deadline = now_ms() + 2000;
	size_t len = 0;
	int head;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t t = now_ms();
		ssize_t n;

		if (t >= deadline || poll(&p, 1, (int)(deadline - t)) <= 0)
			return;
		n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
		if (len == sizeof(req) - 1)
			return;
	}
	atomic_fetch_add(&r->requests, 1);
	if (sscanf(req, "%7s %511s", method, path) != 2)
		return;
	head = !strcmp(method, "HEAD");
	range = strcasestr(req, "\r\nRange:");
	if (range) {
		range += 8;
		range += strspn(range, " ");
		end = strstr(range, "\r\n");
		if (end)
			*end = '\0';
	}
	if (r->mode == FREG_FAIL) {
		http_reply(fd, "503 Service Unavailable", "", NULL, 0, head);
	} else if (!strcmp(path, "/v2/") || !strcmp(path, "/v2")) {
		http_reply(fd, "200 OK", "", "{}", 2, head);
	} else if (!strncmp(path, prefix, strlen(prefix)) &&
		   !strncmp(path + strlen(prefix), "manifests/", 10)) {
		char extra[256];

		atomic_fetch_add(&r->manifests, 1);
		snprintf(extra, sizeof(extra),
			 "Content-Type: %s\r\nDocker-Content-Digest: %s\r\n",
			 OCI_MANIFEST_MEDIA_TYPE, r->img->manifest_digest);
		http_reply(fd, "200 OK", extra, r->img->manifest,
			   r->img->manifest_len, head);
	} else if (!strncmp(path, prefix, strlen(prefix)) &&
		   !strncmp(path + strlen(prefix), "blobs/", 6)) {
		freg_blob(r, fd, path + strlen(prefix) + 6, range, head);
	} else {
		http_reply(fd, "404 Not Found", "", NULL, 0, head);
	}
}

static inline void *freg_run(void *arg)
{
	struct freg *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd p = {.fd = r->lfd, .events = POLLIN};
		struct timeval tv = {.tv_sec = 10};
		int fd;

		if (poll(&p, 1, 20) <= 0)
			continue;
		fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* A client that stops reading must not hold the thread. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		freg_serve(r, fd);
		close(fd);
	}
	return NULL;
}

static inline int freg_start(struct freg *r, const struct mem_image *img,
			     enum freg_mode mode)
{
	memset(r, 0, sizeof(*r));
	r->img = img;
	r->mode = mode;
	r->corrupt = r->watch = -1;
	r->stall_ms = 1000;
	r->lfd = listen_any(&r->port);
	if (r->lfd < 0)
		return r->lfd;
	if (pthread_create(&r->thr, NULL, freg_run, r)) {
		close(r->lfd);
		r->lfd = -1;
		return -EAGAIN;
	}
	r->running = 1;
	return 0;
}

static inline void freg_stop(struct freg *r)
{
	if (r->running) {
		atomic_store(&r->stop, 1);
		pthread_join(r->thr, NULL);
		r->running = 0;
	}
	if (r->lfd >= 0)
		close(r->lfd);
	r->lfd = -1;
}

#endif

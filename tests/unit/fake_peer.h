/* A fake peer for the agent's unit tests: a blocking loopback socket that
 * reads and writes whole proto frames, and a way to run an evloop for a
 * while. Header-only. */
#ifndef FAASNET_TEST_FAKE_PEER_H
#define FAASNET_TEST_FAKE_PEER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "proto.h"

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static inline int fp_listen(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 16) || getsockname(fd, (struct sockaddr *)&sa, &sl))
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static inline int fp_connect(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	return fd;
}

static void fp_stop(struct evloop *l, void *arg)
{
	(void)arg;
	evloop_stop(l);
}

/* Runs the loop for ms milliseconds. */
static inline void fp_pump(struct evloop *l, unsigned ms)
{
	evloop_timer(l, ms, fp_stop, NULL);
	evloop_run(l, -1);
}

/* Reads one frame into buf (cap bytes) within ms, decoded into m: 0, or
 * -1 (nothing came, or the peer closed). */
static inline int fp_read(int fd, uint8_t *buf, size_t cap, unsigned ms,
			  struct proto_msg *m)
{
	size_t have = 0, total = PROTO_HDR_LEN;
	struct err e;

	while (have < total) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, (int)ms) != 1)
			return -1;
		n = read(fd, buf + have, total - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		if (have == PROTO_HDR_LEN &&
		    (proto_frame_len(buf, &total, &e) || total > cap))
			return -1;
	}
	return proto_decode(buf, total, m, &e) ? -1 : 0;
}

static inline int fp_write(int fd, const struct proto_msg *m)
{
	uint8_t *buf;
	size_t len;
	struct err e;
	int ok;

	if (proto_encode(m, &buf, &len, &e))
		return -1;
	ok = write(fd, buf, len) == (ssize_t)len;
	free(buf);
	return ok ? 0 : -1;
}

#endif

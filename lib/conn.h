/* conn: one non-blocking TCP connection speaking proto frames, on an
 * evloop: incoming bytes are cut into whole frames and decoded, outgoing
 * frames are queued and written as the socket takes them. It owns the socket
 * and its buffers; what the frames mean is the caller's. Shared by the
 * manager and the agents. */
#ifndef FAASNET_CONN_H
#define FAASNET_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "evloop.h"
#include "proto.h"

struct conn;

/* A decoded frame. m points into the connection's buffer: copy what must
 * outlive the call. The callback may close the connection. */
typedef void (*conn_frame_fn)(struct conn *c, const struct proto_msg *m,
			      void *arg);
/* The connection is gone (peer closed, error, malformed frame: err says
 * which); c is freed after this returns. Not called for conn_close. */
typedef void (*conn_close_fn)(struct conn *c, int error, const char *why,
			      void *arg);

/* Takes over a connected (or connecting) socket. */
int conn_new(struct evloop *l, int fd, conn_frame_fn on_frame,
	     conn_close_fn on_close, void *arg, struct conn **out)
	__attribute__((warn_unused_result));

/* Starts a non-blocking connect to addr:port (host order) and returns the
 * connection; frames sent before it is up are queued. */
int conn_connect(struct evloop *l, uint32_t addr, uint16_t port,
		 conn_frame_fn on_frame, conn_close_fn on_close, void *arg,
		 struct conn **out, struct err *e)
	__attribute__((warn_unused_result));

/* Encodes and queues m. Inside the loop's round, what is queued is written
 * when the round ends (lib/evloop's deferred work), many frames a system
 * call; outside a running loop, at once. -ENOBUFS when more than the queue
 * limit (64 MiB) is waiting (a peer that stopped reading): nothing is queued. A
 * frame without data is still taken up to 1 MiB past the limit, so that the
 * caller can answer ERROR instead; when that fails too, the caller should
 * close the connection rather than leave the peer waiting for a reply that
 * will never come. */
int conn_send(struct conn *c, const struct proto_msg *m, struct err *e)
	__attribute__((warn_unused_result));

/* Called once the connection no longer needs bytes it was lent. */
typedef void (*conn_release_fn)(void *arg);

/* As conn_send, but m's data bytes are written from where they lie rather
 * than copied into the queue. The caller lends them: they stay unchanged
 * until release(arg) is called, exactly once, when they are written, when
 * the connection drops them (closed, failed), or before this returns an
 * error. release may be NULL for bytes that outlive the connection. (The
 * agent lends a reference-counted block: evicting it cannot free bytes a
 * slow child's connection still has to write.) */
int conn_send_ref(struct conn *c, const struct proto_msg *m,
		  conn_release_fn release, void *arg, struct err *e)
	__attribute__((warn_unused_result));

/* Accepting on a listening socket: each new connection (non-blocking,
 * close-on-exec) goes to fn, which owns the descriptor. When accept fails
 * for want of descriptors or memory, the pending connection stays and the
 * level-triggered socket stays readable, so the socket is not watched for
 * pause_ms rather than spin the loop (the loop is stopped if even that
 * timer cannot be armed). The listening descriptor stays the caller's. */
typedef void (*conn_accept_fn)(void *arg, int fd);
struct conn_acceptor;
int conn_accept_start(struct evloop *l, int listen_fd, unsigned pause_ms,
		      conn_accept_fn fn, void *arg, struct conn_acceptor **out)
	__attribute__((warn_unused_result));
/* Stops watching the socket and frees a; NULL is fine. */
void conn_accept_stop(struct conn_acceptor *a);

/* A non-blocking listening TCP socket on addr:port (host order), or a
 * negative errno with e saying which port. */
int conn_listen(uint32_t addr, uint16_t port, int backlog, struct err *e)
	__attribute__((warn_unused_result));

/* Closes now, dropping what is queued; no close callback. Safe from within
 * this connection's own callbacks. */
void conn_close(struct conn *c);

/* Bytes queued and not yet written. */
size_t conn_backlog(const struct conn *c);

/* Peer address (host order) and the caller's own tag. */
uint32_t conn_peer_addr(const struct conn *c);
void conn_set_arg(struct conn *c, void *arg);
void *conn_arg(const struct conn *c);

#endif

/* proto: the two wire protocols of the FaaSNet stack (docs/protocol.md):
 * control (workload driver and agents <-> manager) and blocks (agent <->
 * agent, a child asking its parent). Both use the same frame: a fixed header
 * and a payload of typed fields. This module owns encoding and decoding and
 * nothing else: no sockets. A decoder never trusts a length it was sent. */
#ifndef FAASNET_PROTO_H
#define FAASNET_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PROTO_VERSION 1
#define PROTO_HDR_LEN 12
/* Frames carry at most this much payload, which bounds what a peer can
 * make us buffer. Blocks up to 4 MiB (the paper's largest, fig. 20) fit
 * even incompressible, and a block index of up to about 160,000 blocks; a
 * block of the format's largest size (64 MiB) does not. Whether an image
 * fits is proto_image_fits's to say, where images enter. */
#define PROTO_MAX_PAYLOAD (8u << 20)
#define PROTO_MAX_STR	  1024
/* Room for a frame's data field: the payload less its other fields (a
 * BLOB's digest, a BLOCK's number and the field headers). Every manifest,
 * config, block index and compressed block an agent forwards must fit:
 * proto_image_fits says whether an image's will, and the places where
 * images enter (faasnet-image synth, the scenario parser) ask it. */
#define PROTO_MAX_DATA (PROTO_MAX_PAYLOAD - 2048)
/* GET_BLOCK's count: a run of at most this many blocks (the block index's
 * own limit, BLOCKIMG_MAX_BLOCKS). */
#define PROTO_MAX_BLOCK_RUN (1u << 24)
/* PROVISION's runtime_ms: at most 10 minutes (a container runtime that
 * takes longer to create a container is broken, not slow). The scenario
 * parser checks its runtime_start against it. */
#define PROTO_MAX_RUNTIME_MS (600u * 1000)

enum proto_type {
	/* control */
	PROTO_HELLO = 1, /* agent -> manager: who I am */
	PROTO_HEARTBEAT, /* manager -> agent, echoed back */
	PROTO_INVOKE,	 /* driver -> manager: start n containers of f */
	PROTO_INVOKED,	 /* manager -> driver: accepted, container ids */
	PROTO_PROVISION, /* manager -> agent: run a container */
	PROTO_PARENT,	 /* manager -> agent: your parent for f is now p */
	PROTO_STARTED,	 /* agent -> manager: container is up */
	/* blocks */
	PROTO_GET_MANIFEST, /* child -> parent: manifest of an image ref */
	PROTO_MANIFEST,
	PROTO_GET_BLOB, /* child -> parent: a small blob (config, index) */
	PROTO_BLOB,
	PROTO_GET_BLOCK, /* child -> parent: one block of a layer */
	PROTO_BLOCK,
	PROTO_ERROR,	  /* either way: a request failed */
	PROTO_RELEASE,	  /* driver -> manager: this container went idle */
	PROTO_SUSPECT,	  /* agent -> manager: my parent served bad bytes */
	PROTO_GET_STATUS, /* driver -> manager: how many agents are up? */
	PROTO_STATUS,	  /* manager -> driver: that many */
	PROTO_FAILED,	  /* manager -> driver: this container never starts */
	PROTO_TYPE_MAX,
};

enum proto_strategy {
	PROTO_STRATEGY_FAASNET = 1,
	PROTO_STRATEGY_ONDEMAND,
	PROTO_STRATEGY_REGISTRY,
};

/* Why an agent suspects its parent (SUSPECT's kind): the manager believes
 * the first at once and the second only from two children (manager.c,
 * suspect). */
enum proto_suspect_kind {
	/* Bytes that failed their check against digests chaining to the
	 * pinned manifest: proof, whoever reports it. */
	PROTO_SUSPECT_BAD_BYTES = 1,
	/* No answer within the time-out, or answers too slow to wait for
	 * (agent/source.h): the reporter's own link may be the cause. */
	PROTO_SUSPECT_UNRESPONSIVE,
};

/* A peer to fetch from: an agent's block port, or the registry (addr 0). */
struct proto_peer {
	uint32_t addr; /* IPv4, host order; 0 = the registry */
	uint16_t port;
};

/* The fields a message may carry; which ones a type needs is in
 * docs/protocol.md and checked by proto_decode. Strings and bytes point into
 * the decoded buffer: they live as long as it does. Strings are NUL-free and
 * at most PROTO_MAX_STR bytes; they are not NUL-terminated on the wire, and
 * the decoder gives their length. */
struct proto_str {
	const char *s;
	uint32_t len;
};

struct proto_msg {
	enum proto_type type;
	uint32_t id;		   /* request id, echoed in the reply */
	struct proto_str vm;	   /* HELLO: VM name */
	uint32_t addr;		   /* HELLO: agent's address */
	uint16_t port;		   /* HELLO: agent's block port */
	struct proto_str function; /* INVOKE, PROVISION, PARENT, STARTED,
				      SUSPECT */
	struct proto_str image;	   /* PROVISION, GET_MANIFEST: a reference */
	uint32_t count;		   /* INVOKE: containers; INVOKED: ids;
				      GET_BLOCK: blocks from `block` (0: 1);
				      STATUS: agents up */
	uint32_t container; /* PROVISION, STARTED, RELEASE, FAILED; INVOKED:
			       first id */
	uint8_t strategy;   /* PROVISION: enum proto_strategy */
	struct proto_peer parent; /* PROVISION, PARENT, SUSPECT */
	struct proto_str digest;  /* GET_BLOB, BLOB, GET_BLOCK, BLOCK */
	uint32_t block;		  /* GET_BLOCK, BLOCK */
	uint64_t t_ns; /* STARTED: CLOCK_MONOTONIC; HELLO, optional: when
			  the agent started, which tells a restarted agent
			  from one that reconnected */
	int32_t error;		  /* ERROR: negative errno */
	struct proto_str message; /* ERROR, SUSPECT, FAILED */
	const uint8_t *data;	  /* MANIFEST, BLOB, BLOCK */
	uint32_t data_len;
	/* PROVISION, optional (0: left out): the runtime's start of the
	 * container, in the world's ms, before its first read */
	uint32_t runtime_ms;
	uint8_t kind; /* SUSPECT: enum proto_suspect_kind */
	/* INVOKE, optional (0: left out): the driver's run, drawn at random;
	 * an INVOKE with the same session and id as one answered before is
	 * the same request, answered again as it was */
	uint64_t session;
};

/* The frame's total length from its first PROTO_HDR_LEN bytes (hdr must
 * hold that many), so a reader knows how much to wait for. Looks at the
 * header only: -EBADMSG for a bad version or type or nonzero reserved bits,
 * -EMSGSIZE for a payload over PROTO_MAX_PAYLOAD. */
int proto_frame_len(const uint8_t *hdr, size_t *total, struct err *e);

/* Decodes one whole frame (len exactly as long as proto_frame_len said).
 * Rejects unknown field tags, duplicate fields, fields a type does not
 * allow, missing required fields, strings with NUL bytes or too long, and
 * any length that runs past the frame: -EBADMSG with e saying which
 * (-EMSGSIZE for a payload over the limit). m is cleared first, so fields
 * the type does not use are zero; after a failure its contents mean
 * nothing. Never allocates: m points into buf. */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m,
		 struct err *e);

/* Encodes m (the fields its type uses; others are ignored) into a malloc'd
 * frame of exactly the frame's length, which the caller frees. A string is
 * missing when its s is NULL (ERROR's message is then left out); numbers
 * are always written; data NULL with data_len 0 is empty data. -EINVAL
 * when a required field is missing or a value breaks a rule of
 * docs/protocol.md, -EMSGSIZE when the payload would be over the limit;
 * *buf is NULL after a failure. */
int proto_encode(const struct proto_msg *m, uint8_t **buf, size_t *len,
		 struct err *e);

/* As proto_encode, but the data field's bytes (always the frame's last:
 * fields go in ascending tag order and data's is the highest of any type
 * that carries data) are left out;
 * the caller writes them after the buffer, straight from where they lie,
 * e.g. a block in the agent's cache with writev. */
int proto_encode_head(const struct proto_msg *m, uint8_t **buf, size_t *len,
		      struct err *e);

/* 0 when an image layer of nblocks blocks of block_size bytes, with a
 * start-up trace of at most ntrace reads (0: none), can travel in frames:
 * its block index (docs/image-format.md: 40 + 48 bytes a block + 4 a
 * start-up block, at most one per block, + 4 + 16 a read) and its largest
 * compressed block (zstd's worst case, a little over block_size) fit
 * PROTO_MAX_DATA. Else -EMSGSIZE with e saying which does not. */
int proto_image_fits(uint64_t nblocks, uint64_t ntrace, uint64_t block_size,
		     struct err *e) __attribute__((warn_unused_result));

/* Convenience for the common case of a string field from C. */
struct proto_str proto_str(const char *s);

const char *proto_type_name(enum proto_type t);

#endif

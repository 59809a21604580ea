#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blockimg.h"
#include "proto.h"

/* The encoding; docs/protocol.md is its specification and keeps these tags
 * and the per-type rules in tables. Everything is big-endian. */
enum tag {
	TAG_VM = 1,
	TAG_ADDR,
	TAG_PORT,
	TAG_FUNCTION,
	TAG_IMAGE,
	TAG_COUNT,
	TAG_CONTAINER,
	TAG_STRATEGY,
	TAG_PARENT,
	TAG_DIGEST,
	TAG_BLOCK,
	TAG_T_NS,
	TAG_ERROR,
	TAG_MESSAGE,
	TAG_DATA,
	/* After data: no type that carries data carries these, so data
	 * stays the last field of every frame that has one
	 * (proto_encode_head). */
	TAG_RUNTIME_MS,
	TAG_KIND,
	TAG_SESSION,
	TAG_MAX,
};

#define HDR_VERSION	 0
#define HDR_TYPE	 1
#define HDR_RESERVED	 2
#define HDR_ID		 4
#define HDR_PAYLOAD_LEN	 8
#define FIELD_HDR_LEN	 6 /* u16 tag, u32 len */
#define PEER_LEN	 6 /* u32 addr, u16 port */
#define INVOKE_MAX_COUNT 100000

#define BIT(tag) (1u << (tag))

enum kind { K_STR, K_U8, K_U16, K_U32, K_U64, K_I32, K_PEER, K_BYTES };

/* Where each field lives in struct proto_msg, so that one loop can store,
 * check and write any of them. size is the exact wire length of a fixed-size
 * field, 0 for strings and bytes. */
static const struct field {
	const char *name;
	enum kind kind;
	uint32_t size;
	size_t off;
} fields[TAG_MAX] = {
#define FIELD(tag, name, kind, size, member)                                   \
	[tag] = {name, kind, size, offsetof(struct proto_msg, member)}
	FIELD(TAG_VM, "vm", K_STR, 0, vm),
	FIELD(TAG_ADDR, "addr", K_U32, 4, addr),
	FIELD(TAG_PORT, "port", K_U16, 2, port),
	FIELD(TAG_FUNCTION, "function", K_STR, 0, function),
	FIELD(TAG_IMAGE, "image", K_STR, 0, image),
	FIELD(TAG_COUNT, "count", K_U32, 4, count),
	FIELD(TAG_CONTAINER, "container", K_U32, 4, container),
	FIELD(TAG_STRATEGY, "strategy", K_U8, 1, strategy),
	FIELD(TAG_PARENT, "parent", K_PEER, PEER_LEN, parent),
	FIELD(TAG_DIGEST, "digest", K_STR, 0, digest),
	FIELD(TAG_BLOCK, "block", K_U32, 4, block),
	FIELD(TAG_T_NS, "t_ns", K_U64, 8, t_ns),
	FIELD(TAG_ERROR, "error", K_I32, 4, error),
	FIELD(TAG_MESSAGE, "message", K_STR, 0, message),
	FIELD(TAG_DATA, "data", K_BYTES, 0, data),
	FIELD(TAG_RUNTIME_MS, "runtime_ms", K_U32, 4, runtime_ms),
	FIELD(TAG_KIND, "kind", K_U8, 1, kind),
	FIELD(TAG_SESSION, "session", K_U64, 8, session),
#undef FIELD
};

/* Which fields each type must carry and which it may carry on top; any
 * other field in a frame of that type is an error. */
static const struct rule {
	const char *name;
	uint32_t required;
	uint32_t optional;
} rules[PROTO_TYPE_MAX] = {
	[PROTO_HELLO] = {"HELLO", BIT(TAG_VM) | BIT(TAG_ADDR) | BIT(TAG_PORT),
			 BIT(TAG_T_NS)},
	[PROTO_HEARTBEAT] = {"HEARTBEAT", 0, 0},
	[PROTO_INVOKE] = {"INVOKE", BIT(TAG_FUNCTION) | BIT(TAG_COUNT),
			  BIT(TAG_SESSION)},
	[PROTO_INVOKED] = {"INVOKED", BIT(TAG_COUNT) | BIT(TAG_CONTAINER), 0},
	[PROTO_PROVISION] = {"PROVISION",
			     BIT(TAG_FUNCTION) | BIT(TAG_IMAGE) |
				     BIT(TAG_CONTAINER) | BIT(TAG_STRATEGY) |
				     BIT(TAG_PARENT),
			     BIT(TAG_RUNTIME_MS)},
	[PROTO_PARENT] = {"PARENT", BIT(TAG_FUNCTION) | BIT(TAG_PARENT), 0},
	[PROTO_STARTED] = {"STARTED",
			   BIT(TAG_FUNCTION) | BIT(TAG_CONTAINER) |
				   BIT(TAG_T_NS),
			   0},
	[PROTO_GET_MANIFEST] = {"GET_MANIFEST", BIT(TAG_IMAGE), 0},
	[PROTO_MANIFEST] = {"MANIFEST", BIT(TAG_DATA), 0},
	[PROTO_GET_BLOB] = {"GET_BLOB", BIT(TAG_DIGEST), 0},
	[PROTO_BLOB] = {"BLOB", BIT(TAG_DIGEST) | BIT(TAG_DATA), 0},
	[PROTO_GET_BLOCK] = {"GET_BLOCK", BIT(TAG_DIGEST) | BIT(TAG_BLOCK),
			     BIT(TAG_COUNT)},
	[PROTO_BLOCK] = {"BLOCK", BIT(TAG_BLOCK) | BIT(TAG_DATA),
			 BIT(TAG_DIGEST)},
	[PROTO_ERROR] = {"ERROR", BIT(TAG_ERROR), BIT(TAG_MESSAGE)},
	[PROTO_RELEASE] = {"RELEASE", BIT(TAG_CONTAINER), 0},
	[PROTO_SUSPECT] = {"SUSPECT",
			   BIT(TAG_FUNCTION) | BIT(TAG_PARENT) | BIT(TAG_KIND),
			   BIT(TAG_MESSAGE)},
	[PROTO_GET_STATUS] = {"GET_STATUS", 0, 0},
	[PROTO_STATUS] = {"STATUS", BIT(TAG_COUNT), 0},
	[PROTO_FAILED] = {"FAILED", BIT(TAG_CONTAINER), BIT(TAG_MESSAGE)},
};

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static uint8_t *put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *put_be64(uint8_t *p, uint64_t v)
{
	p = put_be32(p, (uint32_t)(v >> 32));
	return put_be32(p, (uint32_t)v);
}

/* Two's complement without relying on the implementation-defined
 * conversion of an out-of-range unsigned value. */
static int32_t to_i32(uint32_t v)
{
	if (v <= INT32_MAX)
		return (int32_t)v;
	return -(int32_t)(~v) - 1;
}

static bool type_valid(unsigned int t)
{
	return t >= PROTO_HELLO && t < PROTO_TYPE_MAX;
}

static const void *member(const struct proto_msg *m, enum tag tag)
{
	return (const char *)m + fields[tag].off;
}

static void *member_rw(struct proto_msg *m, enum tag tag)
{
	return (char *)m + fields[tag].off;
}

/* The value rules that are the same whichever way a message travels: the
 * decoder reports them as -EBADMSG, the encoder as -EINVAL. Lengths of
 * fixed-size fields are the decoder's business, before it stores them. */
static int check_value(const struct proto_msg *m, enum tag tag, int code,
		       struct err *e)
{
	const struct field *f = &fields[tag];
	const char *tn = rules[m->type].name;
	const struct proto_str *s;
	const char *nul;

	switch (f->kind) {
	case K_STR:
		s = member(m, tag);
		/* An ERROR may say nothing more than its errno. */
		if (!s->len && tag != TAG_MESSAGE)
			return err_set(e, code, "%s: field %d (%s): empty", tn,
				       tag, f->name);
		/* Bound before scanning: the encoder trusts a caller's len. */
		if (s->len > PROTO_MAX_STR)
			return err_set(e, code,
				       "%s: field %d (%s): %" PRIu32
				       " bytes, at most %d",
				       tn, tag, f->name, s->len, PROTO_MAX_STR);
		nul = s->len ? memchr(s->s, 0, s->len) : NULL;
		if (nul)
			return err_set(e, code,
				       "%s: field %d (%s): NUL byte at offset "
				       "%td",
				       tn, tag, f->name, nul - s->s);
		return 0;
	case K_BYTES:
		if (!m->data && m->data_len)
			return err_set(e, code,
				       "%s: field %d (%s): no bytes for length "
				       "%" PRIu32,
				       tn, tag, f->name, m->data_len);
		return 0;
	default:
		break;
	}
	/* A count of containers or of a run of blocks: 1 to a limit (an
	 * INVOKED's count is how many ids follow, and may be 0). */
	if (tag == TAG_COUNT &&
	    (m->type == PROTO_GET_BLOCK || m->type == PROTO_INVOKE)) {
		uint32_t max = m->type == PROTO_GET_BLOCK ? PROTO_MAX_BLOCK_RUN
							  : INVOKE_MAX_COUNT;

		if (m->count < 1 || m->count > max)
			return err_set(e, code,
				       "%s: field %d (%s): %" PRIu32
				       ", expected 1 to %" PRIu32,
				       tn, tag, f->name, m->count, max);
	}
	if (tag == TAG_RUNTIME_MS && m->runtime_ms > PROTO_MAX_RUNTIME_MS)
		return err_set(
			e, code,
			"%s: field %d (%s): %" PRIu32 ", expected at most %u",
			tn, tag, f->name, m->runtime_ms, PROTO_MAX_RUNTIME_MS);
	if (tag == TAG_STRATEGY && (m->strategy < PROTO_STRATEGY_FAASNET ||
				    m->strategy > PROTO_STRATEGY_REGISTRY))
		return err_set(e, code,
			       "%s: field %d (%s): %u is not a strategy", tn,
			       tag, f->name, m->strategy);
	/* The manager's rule depends on it (docs/protocol.md, SUSPECT): a
	 * kind it does not know must not pass for either. */
	if (tag == TAG_KIND && (m->kind < PROTO_SUSPECT_BAD_BYTES ||
				m->kind > PROTO_SUSPECT_UNRESPONSIVE))
		return err_set(e, code, "%s: field %d (%s): %u is not a kind",
			       tn, tag, f->name, m->kind);
	/* A reply that failed with 0 or a positive value would read as
	 * success to a caller that tests for < 0. */
	if (tag == TAG_ERROR && m->error >= 0)
		return err_set(e, code,
			       "%s: field %d (%s): %" PRId32
			       " is not a negative errno",
			       tn, tag, f->name, m->error);
	return 0;
}

/* Stores a field whose length the caller has checked against fields[]. */
static void store(struct proto_msg *m, enum tag tag, const uint8_t *v,
		  uint32_t len)
{
	void *dst = member_rw(m, tag);
	struct proto_str *s;
	struct proto_peer *peer;

	switch (fields[tag].kind) {
	case K_STR:
		s = dst;
		s->s = (const char *)v;
		s->len = len;
		break;
	case K_U8:
		*(uint8_t *)dst = v[0];
		break;
	case K_U16:
		*(uint16_t *)dst = get_be16(v);
		break;
	case K_U32:
		*(uint32_t *)dst = get_be32(v);
		break;
	case K_U64:
		*(uint64_t *)dst = get_be64(v);
		break;
	case K_I32:
		*(int32_t *)dst = to_i32(get_be32(v));
		break;
	case K_PEER:
		peer = dst;
		peer->addr = get_be32(v);
		peer->port = get_be16(v + 4);
		break;
	case K_BYTES:
		m->data = v;
		m->data_len = len;
		break;
	}
}

static uint32_t value_len(const struct proto_msg *m, enum tag tag)
{
	const struct field *f = &fields[tag];

	if (f->kind == K_STR)
		return ((const struct proto_str *)member(m, tag))->len;
	if (f->kind == K_BYTES)
		return m->data_len;
	return f->size;
}

static uint8_t *put_field(uint8_t *p, const struct proto_msg *m, enum tag tag)
{
	const void *src = member(m, tag);
	const struct proto_str *s;
	const struct proto_peer *peer;
	uint32_t len = value_len(m, tag);

	p = put_be16(p, tag);
	p = put_be32(p, len);
	switch (fields[tag].kind) {
	case K_STR:
		s = src;
		if (len)
			memcpy(p, s->s, len);
		return p + len;
	case K_U8:
		*p = *(const uint8_t *)src;
		return p + 1;
	case K_U16:
		return put_be16(p, *(const uint16_t *)src);
	case K_U32:
		return put_be32(p, *(const uint32_t *)src);
	case K_U64:
		return put_be64(p, *(const uint64_t *)src);
	case K_I32:
		/* Conversion to unsigned is defined: two's complement. */
		return put_be32(p, (uint32_t)m->error);
	case K_PEER:
		peer = src;
		p = put_be32(p, peer->addr);
		return put_be16(p, peer->port);
	case K_BYTES:
		if (len)
			memcpy(p, m->data, len);
		return p + len;
	}
	return p;
}

/* The header on its own: what proto_frame_len and proto_decode share. */
static int check_header(const uint8_t *h, uint32_t *payload_len, struct err *e)
{
	uint16_t reserved = get_be16(h + HDR_RESERVED);
	uint32_t plen = get_be32(h + HDR_PAYLOAD_LEN);

	if (h[HDR_VERSION] != PROTO_VERSION)
		return err_set(e, -EBADMSG, "frame: version %u, expected %d",
			       h[HDR_VERSION], PROTO_VERSION);
	if (!type_valid(h[HDR_TYPE]))
		return err_set(e, -EBADMSG, "frame: unknown type %u",
			       h[HDR_TYPE]);
	/* Zero now, so that a later version may give these bits a meaning
	 * that an old peer is sure to refuse rather than ignore. */
	if (reserved)
		return err_set(e, -EBADMSG,
			       "%s: reserved header bits 0x%04x, expected 0",
			       rules[h[HDR_TYPE]].name, reserved);
	if (plen > PROTO_MAX_PAYLOAD)
		return err_set(e, -EMSGSIZE,
			       "%s: payload of %" PRIu32 " bytes, at most %u",
			       rules[h[HDR_TYPE]].name, plen,
			       PROTO_MAX_PAYLOAD);
	*payload_len = plen;
	return 0;
}

int proto_frame_len(const uint8_t *hdr, size_t *total, struct err *e)
{
	uint32_t plen;
	int ret;

	ret = check_header(hdr, &plen, e);
	if (ret)
		return ret;
	*total = PROTO_HDR_LEN + (size_t)plen;
	return 0;
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m,
		 struct err *e)
{
	const uint8_t *p, *end;
	const struct rule *r;
	uint32_t plen, seen = 0, missing;
	int ret;

	memset(m, 0, sizeof(*m));
	if (len < PROTO_HDR_LEN)
		return err_set(e, -EBADMSG,
			       "frame: %zu bytes, shorter than the %d-byte "
			       "header",
			       len, PROTO_HDR_LEN);
	ret = check_header(buf, &plen, e);
	if (ret)
		return ret;
	m->type = buf[HDR_TYPE];
	m->id = get_be32(buf + HDR_ID);
	r = &rules[m->type];
	if (len != PROTO_HDR_LEN + (size_t)plen)
		return err_set(e, -EBADMSG,
			       "%s: frame of %zu bytes, header says %zu",
			       r->name, len, PROTO_HDR_LEN + (size_t)plen);

	p = buf + PROTO_HDR_LEN;
	end = buf + len;
	while (p < end) {
		size_t left = (size_t)(end - p);
		const struct field *f;
		uint32_t flen;
		unsigned int tag;

		if (left < FIELD_HDR_LEN)
			return err_set(e, -EBADMSG,
				       "%s: field header cut short at payload "
				       "offset %td (%zu bytes left)",
				       r->name, p - buf - PROTO_HDR_LEN, left);
		tag = get_be16(p);
		flen = get_be32(p + 2);
		p += FIELD_HDR_LEN;
		left -= FIELD_HDR_LEN;
		if (flen > left)
			return err_set(e, -EBADMSG,
				       "%s: field %u runs past the payload "
				       "(len %" PRIu32 ", %zu left)",
				       r->name, tag, flen, left);
		if (tag < TAG_VM || tag >= TAG_MAX)
			return err_set(e, -EBADMSG, "%s: field %u: unknown tag",
				       r->name, tag);
		f = &fields[tag];
		if (!((r->required | r->optional) & BIT(tag)))
			return err_set(e, -EBADMSG,
				       "%s: field %u (%s): not allowed in this "
				       "type",
				       r->name, tag, f->name);
		if (seen & BIT(tag))
			return err_set(e, -EBADMSG,
				       "%s: field %u (%s): appears twice",
				       r->name, tag, f->name);
		if (f->size && flen != f->size)
			return err_set(e, -EBADMSG,
				       "%s: field %u (%s): length %" PRIu32
				       ", expected %" PRIu32,
				       r->name, tag, f->name, flen, f->size);
		store(m, tag, p, flen);
		ret = check_value(m, tag, -EBADMSG, e);
		if (ret)
			return ret;
		seen |= BIT(tag);
		p += flen;
	}

	missing = r->required & ~seen;
	if (missing) {
		int tag = __builtin_ctz(missing);

		return err_set(e, -EBADMSG, "%s: missing field %d (%s)",
			       r->name, tag, fields[tag].name);
	}
	return 0;
}

/* Whether the caller gave a field. A string is given when it is set (how
 * ERROR leaves out its message); data NULL with length 0 is an empty field,
 * not a missing one. Numbers cannot say "absent": a required one is always
 * written, an optional one (GET_BLOCK's count, PROVISION's runtime_ms,
 * HELLO's t_ns, INVOKE's session) is left out while 0, so that a frame
 * without it is byte for byte what it was before the field. */
static bool given(const struct proto_msg *m, const struct rule *r, enum tag tag)
{
	const void *v = member(m, tag);

	if (fields[tag].kind == K_STR)
		return ((const struct proto_str *)v)->s != NULL;
	if (!(r->optional & BIT(tag)))
		return true;
	switch (fields[tag].kind) {
	case K_U8:
		return *(const uint8_t *)v != 0;
	case K_U16:
		return *(const uint16_t *)v != 0;
	case K_U32:
		return *(const uint32_t *)v != 0;
	case K_U64:
		return *(const uint64_t *)v != 0;
	case K_I32:
		return *(const int32_t *)v != 0;
	default:
		return true;
	}
}

/* With head_only, the data field's bytes are left out of the buffer (its
 * tag and length stay): they are the frame's last bytes, and the caller
 * sends them from where they lie. */
static int encode(const struct proto_msg *m, uint8_t **buf, size_t *len,
		  int head_only, struct err *e)
{
	const struct rule *r;
	uint32_t present = 0;
	uint64_t plen = 0, tail;
	uint8_t *out, *p;
	int tag, ret;

	*buf = NULL;
	*len = 0;
	if (!type_valid(m->type))
		return err_set(e, -EINVAL, "encode: unknown type %d", m->type);
	r = &rules[m->type];
	for (tag = TAG_VM; tag < TAG_MAX; tag++) {
		if (!((r->required | r->optional) & BIT(tag)))
			continue;
		if (!given(m, r, tag)) {
			if (!(r->required & BIT(tag)))
				continue;
			return err_set(e, -EINVAL, "%s: missing field %d (%s)",
				       r->name, tag, fields[tag].name);
		}
		ret = check_value(m, tag, -EINVAL, e);
		if (ret)
			return ret;
		present |= BIT(tag);
		plen += FIELD_HDR_LEN + (uint64_t)value_len(m, tag);
	}
	if (plen > PROTO_MAX_PAYLOAD)
		return err_set(e, -EMSGSIZE,
			       "%s: payload of %" PRIu64 " bytes, at most %u",
			       r->name, plen, PROTO_MAX_PAYLOAD);

	tail = head_only && (present & BIT(TAG_DATA)) ? m->data_len : 0;
	out = malloc(PROTO_HDR_LEN + plen - tail);
	if (!out)
		return err_set(e, -ENOMEM,
			       "%s: out of memory for %" PRIu64 " bytes",
			       r->name, PROTO_HDR_LEN + plen);
	out[HDR_VERSION] = PROTO_VERSION;
	out[HDR_TYPE] = (uint8_t)m->type;
	put_be16(out + HDR_RESERVED, 0);
	put_be32(out + HDR_ID, m->id);
	put_be32(out + HDR_PAYLOAD_LEN, (uint32_t)plen);
	/* Ascending tags: one canonical encoding per message, so frames can
	 * be compared byte for byte. */
	p = out + PROTO_HDR_LEN;
	for (tag = TAG_VM; tag < TAG_MAX; tag++) {
		if (!(present & BIT(tag)))
			continue;
		if (tag == TAG_DATA && tail) {
			p = put_be16(p, tag);
			p = put_be32(p, m->data_len);
			continue;
		}
		p = put_field(p, m, tag);
	}
	*buf = out;
	*len = PROTO_HDR_LEN + plen - tail;
	return 0;
}

int proto_encode(const struct proto_msg *m, uint8_t **buf, size_t *len,
		 struct err *e)
{
	return encode(m, buf, len, 0, e);
}

int proto_encode_head(const struct proto_msg *m, uint8_t **buf, size_t *len,
		      struct err *e)
{
	return encode(m, buf, len, 1, e);
}

struct proto_str proto_str(const char *s)
{
	struct proto_str r = {s, 0};
	size_t n;

	if (!s)
		return r;
	/* Saturate: the encoder then refuses it as too long rather than
	 * sending a truncated length. */
	n = strlen(s);
	r.len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	return r;
}

const char *proto_type_name(enum proto_type t)
{
	if (!type_valid(t))
		return "?";
	return rules[t].name;
}

int proto_image_fits(uint64_t nblocks, uint64_t ntrace, uint64_t block_size,
		     struct err *e)
{
	uint64_t index = blockimg_index_max_len(nblocks, ntrace);
	/* ZSTD_compressBound: size + size/256 + a small constant. */
	uint64_t block = block_size + (block_size >> 8) + 1024;

	if (index > PROTO_MAX_DATA)
		return err_set(e, -EMSGSIZE,
			       "a block index of %llu blocks%s is up to %llu "
			       "bytes, over the %u bytes a frame carries",
			       (unsigned long long)nblocks,
			       ntrace ? " and its start-up trace" : "",
			       (unsigned long long)index, PROTO_MAX_DATA);
	if (block > PROTO_MAX_DATA)
		return err_set(e, -EMSGSIZE,
			       "a block of %llu bytes may compress to %llu, "
			       "over the %u bytes a frame carries",
			       (unsigned long long)block_size,
			       (unsigned long long)block, PROTO_MAX_DATA);
	return 0;
}

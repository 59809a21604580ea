/* Unit tests for lib/proto.c: every type both ways, the exact bytes of a few
 * frames so the format cannot drift from docs/protocol.md, and every rule
 * the decoder and the encoder enforce, broken one at a time. The tags and
 * per-type fields below are copied from the documentation, not from the
 * code, so that a change to either shows up here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Field tags, as docs/protocol.md gives them. */
enum {
	T_VM = 1,
	T_ADDR,
	T_PORT,
	T_FUNCTION,
	T_IMAGE,
	T_COUNT,
	T_CONTAINER,
	T_STRATEGY,
	T_PARENT,
	T_DIGEST,
	T_BLOCK,
	T_T_NS,
	T_ERROR,
	T_MESSAGE,
	T_DATA,
	T_RUNTIME_MS,
	T_KIND,
	T_SESSION,
	T_MAX,
};

#define B(t) (1u << (t))

static const struct {
	const char *name;
	uint32_t size; /* fixed wire size; 0 for strings and bytes */
	bool string;
} tags[T_MAX] = {
	[T_VM] = {"vm", 0, true},
	[T_ADDR] = {"addr", 4, false},
	[T_PORT] = {"port", 2, false},
	[T_FUNCTION] = {"function", 0, true},
	[T_IMAGE] = {"image", 0, true},
	[T_COUNT] = {"count", 4, false},
	[T_CONTAINER] = {"container", 4, false},
	[T_STRATEGY] = {"strategy", 1, false},
	[T_PARENT] = {"parent", 6, false},
	[T_DIGEST] = {"digest", 0, true},
	[T_BLOCK] = {"block", 4, false},
	[T_T_NS] = {"t_ns", 8, false},
	[T_ERROR] = {"error", 4, false},
	[T_MESSAGE] = {"message", 0, true},
	[T_DATA] = {"data", 0, false},
	[T_RUNTIME_MS] = {"runtime_ms", 4, false},
	[T_KIND] = {"kind", 1, false},
	[T_SESSION] = {"session", 8, false},
};

static const struct {
	const char *name;
	uint32_t required;
	uint32_t optional;
} types[PROTO_TYPE_MAX] = {
	[PROTO_HELLO] = {"HELLO", B(T_VM) | B(T_ADDR) | B(T_PORT), B(T_T_NS)},
	[PROTO_HEARTBEAT] = {"HEARTBEAT", 0, 0},
	[PROTO_INVOKE] = {"INVOKE", B(T_FUNCTION) | B(T_COUNT), B(T_SESSION)},
	[PROTO_INVOKED] = {"INVOKED", B(T_CONTAINER) | B(T_COUNT), 0},
	[PROTO_PROVISION] = {"PROVISION",
			     B(T_FUNCTION) | B(T_IMAGE) | B(T_CONTAINER) |
				     B(T_STRATEGY) | B(T_PARENT),
			     B(T_RUNTIME_MS)},
	[PROTO_PARENT] = {"PARENT", B(T_FUNCTION) | B(T_PARENT), 0},
	[PROTO_STARTED] = {"STARTED",
			   B(T_FUNCTION) | B(T_CONTAINER) | B(T_T_NS), 0},
	[PROTO_GET_MANIFEST] = {"GET_MANIFEST", B(T_IMAGE), 0},
	[PROTO_MANIFEST] = {"MANIFEST", B(T_DATA), 0},
	[PROTO_GET_BLOB] = {"GET_BLOB", B(T_DIGEST), 0},
	[PROTO_BLOB] = {"BLOB", B(T_DIGEST) | B(T_DATA), 0},
	[PROTO_GET_BLOCK] = {"GET_BLOCK", B(T_DIGEST) | B(T_BLOCK), B(T_COUNT)},
	[PROTO_BLOCK] = {"BLOCK", B(T_BLOCK) | B(T_DATA), B(T_DIGEST)},
	[PROTO_ERROR] = {"ERROR", B(T_ERROR), B(T_MESSAGE)},
	[PROTO_RELEASE] = {"RELEASE", B(T_CONTAINER), 0},
	[PROTO_SUSPECT] = {"SUSPECT", B(T_FUNCTION) | B(T_PARENT) | B(T_KIND),
			   B(T_MESSAGE)},
	[PROTO_GET_STATUS] = {"GET_STATUS", 0, 0},
	[PROTO_STATUS] = {"STATUS", B(T_COUNT), 0},
	[PROTO_FAILED] = {"FAILED", B(T_CONTAINER), B(T_MESSAGE)},
};

static uint32_t allowed(int type)
{
	return types[type].required | types[type].optional;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* A frame built by hand, independent of the encoder, so that tests can
 * write what the encoder never would. */
struct frame {
	uint8_t b[8192];
	size_t len;
};

static void fix_payload_len(struct frame *f)
{
	put_be32(f->b + 8, (uint32_t)(f->len - PROTO_HDR_LEN));
}

static void fr_start(struct frame *f, uint8_t type, uint32_t id)
{
	memset(f->b, 0, PROTO_HDR_LEN);
	f->b[0] = PROTO_VERSION;
	f->b[1] = type;
	put_be32(f->b + 4, id);
	f->len = PROTO_HDR_LEN;
}

/* Appends a field and keeps the header's payload_len in step. */
static void fr_field(struct frame *f, uint16_t tag, const void *v, uint32_t len)
{
	assert_true(f->len + 6 + len <= sizeof(f->b));
	put_be16(f->b + f->len, tag);
	put_be32(f->b + f->len + 2, len);
	if (len)
		memcpy(f->b + f->len + 6, v, len);
	f->len += 6 + len;
	fix_payload_len(f);
}

static void fr_str(struct frame *f, uint16_t tag, const char *s)
{
	fr_field(f, tag, s, (uint32_t)strlen(s));
}

static void fr_u32(struct frame *f, uint16_t tag, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	fr_field(f, tag, b, 4);
}

/* Offset of the field header with this tag, or 0 when there is none. */
static size_t fr_find(const struct frame *f, uint16_t tag)
{
	size_t off = PROTO_HDR_LEN;

	while (off + 6 <= f->len) {
		if (get_be16(f->b + off) == tag)
			return off;
		off += 6 + get_be32(f->b + off + 2);
	}
	return 0;
}

static void fr_drop(struct frame *f, uint16_t tag)
{
	size_t off = fr_find(f, tag), n;

	assert_int_not_equal(off, 0);
	n = 6 + get_be32(f->b + off + 2);
	memmove(f->b + off, f->b + off + n, f->len - off - n);
	f->len -= n;
	fix_payload_len(f);
}

/* Replaces a field's value (order does not matter to the decoder). */
static void fr_set(struct frame *f, uint16_t tag, const void *v, uint32_t len)
{
	fr_drop(f, tag);
	fr_field(f, tag, v, len);
}

static const uint8_t data_bytes[300] = {
	0x00, 0xff, 0x10, 0x20, 0x30,	      0x00,
	0x7f, 0x80, 0x01, 0x02, [299] = 0xee,
};

/* Every field set, to a value that tells it apart from the others and
 * from zero; the encoder must take only those its type uses. */
static void fill_all(struct proto_msg *m, enum proto_type type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->id = 0xdeadbeef;
	m->vm = proto_str("vm0007");
	m->addr = 0xc6120108;
	m->port = 7000;
	m->function = proto_str("pystan-fn");
	m->image = proto_str("fnet-registry:5000/pystan:1");
	m->count = 3;
	m->container = 0x11223344;
	m->strategy = PROTO_STRATEGY_ONDEMAND;
	m->parent.addr = 0xc6120203;
	m->parent.port = 7001;
	m->digest = proto_str("sha256:"
			      "e3b0c44298fc1c149afbf4c8996fb924"
			      "27ae41e4649b934ca495991b7852b855");
	m->block = 0x00abcdef;
	m->t_ns = 0x0123456789abcdefull;
	m->error = -ENOENT;
	m->message = proto_str("no such blob");
	m->data = data_bytes;
	m->data_len = sizeof(data_bytes);
	m->runtime_ms = 1500;
	m->kind = PROTO_SUSPECT_UNRESPONSIVE;
	m->session = 0x8877665544332211ull;
}

/* What a decoder should give back for fill_all(): the type's fields only. */
static void expect_of(struct proto_msg *x, const struct proto_msg *m)
{
	uint32_t a = allowed(m->type);

	memset(x, 0, sizeof(*x));
	x->type = m->type;
	x->id = m->id;
#define KEEP(tag, member)                                                      \
	do {                                                                   \
		if (a & B(tag))                                                \
			x->member = m->member;                                 \
	} while (0)
	KEEP(T_VM, vm);
	KEEP(T_ADDR, addr);
	KEEP(T_PORT, port);
	KEEP(T_FUNCTION, function);
	KEEP(T_IMAGE, image);
	KEEP(T_COUNT, count);
	KEEP(T_CONTAINER, container);
	KEEP(T_STRATEGY, strategy);
	KEEP(T_PARENT, parent);
	KEEP(T_DIGEST, digest);
	KEEP(T_BLOCK, block);
	KEEP(T_T_NS, t_ns);
	KEEP(T_ERROR, error);
	KEEP(T_MESSAGE, message);
	KEEP(T_DATA, data);
	KEEP(T_DATA, data_len);
	KEEP(T_RUNTIME_MS, runtime_ms);
	KEEP(T_KIND, kind);
	KEEP(T_SESSION, session);
#undef KEEP
}

static void assert_str_equal(struct proto_str want, struct proto_str got)
{
	assert_int_equal(want.s == NULL, got.s == NULL);
	assert_int_equal(want.len, got.len);
	if (want.len)
		assert_memory_equal(want.s, got.s, want.len);
}

static void assert_msg_equal(const struct proto_msg *want,
			     const struct proto_msg *got)
{
	assert_int_equal(want->type, got->type);
	assert_int_equal(want->id, got->id);
	assert_str_equal(want->vm, got->vm);
	assert_int_equal(want->addr, got->addr);
	assert_int_equal(want->port, got->port);
	assert_str_equal(want->function, got->function);
	assert_str_equal(want->image, got->image);
	assert_int_equal(want->count, got->count);
	assert_int_equal(want->container, got->container);
	assert_int_equal(want->strategy, got->strategy);
	assert_int_equal(want->parent.addr, got->parent.addr);
	assert_int_equal(want->parent.port, got->parent.port);
	assert_str_equal(want->digest, got->digest);
	assert_int_equal(want->block, got->block);
	assert_true(want->t_ns == got->t_ns);
	assert_int_equal(want->error, got->error);
	assert_str_equal(want->message, got->message);
	assert_int_equal(want->runtime_ms, got->runtime_ms);
	assert_int_equal(want->kind, got->kind);
	assert_true(want->session == got->session);
	assert_int_equal(want->data_len, got->data_len);
	if (want->data_len)
		assert_memory_equal(want->data, got->data, want->data_len);
}

/* Points into [buf, buf + len): the decoder must not copy. */
static void assert_inside(const void *p, size_t n, const uint8_t *buf,
			  size_t len)
{
	const uint8_t *q = p;

	if (!p)
		return;
	assert_true(q >= buf && q + n <= buf + len);
}

/* Encodes m into f, checking proto_frame_len agrees with the length. */
static void fr_from_msg(struct frame *f, const struct proto_msg *m)
{
	struct err e = {{0}};
	uint8_t *buf;
	size_t len, total;

	assert_int_equal(proto_encode(m, &buf, &len, &e), 0);
	assert_true(len <= sizeof(f->b));
	assert_int_equal(proto_frame_len(buf, &total, &e), 0);
	assert_int_equal(total, len);
	memcpy(f->b, buf, len);
	f->len = len;
	free(buf);
}

static void fr_full(struct frame *f, enum proto_type type)
{
	struct proto_msg m;

	fill_all(&m, type);
	fr_from_msg(f, &m);
}

/* A decode must fail with code and a message containing want. */
static void assert_decode_fails(const uint8_t *buf, size_t len, int code,
				const char *want)
{
	struct proto_msg m;
	struct err e = {{0}};
	int ret;

	ret = proto_decode(buf, len, &m, &e);
	if (ret != code || !strstr(e.msg, want))
		fail_msg("decode gave %d \"%s\", expected %d with \"%s\"", ret,
			 e.msg, code, want);
}

static void assert_fr_fails(const struct frame *f, const char *want)
{
	assert_decode_fails(f->b, f->len, -EBADMSG, want);
}

static void assert_fr_ok(const struct frame *f, struct proto_msg *m)
{
	struct err e = {{0}};
	int ret;

	ret = proto_decode(f->b, f->len, m, &e);
	if (ret)
		fail_msg("decode gave %d \"%s\"", ret, e.msg);
}

static void assert_encode_fails(const struct proto_msg *m, int code,
				const char *want)
{
	struct err e = {{0}};
	uint8_t *buf = (uint8_t *)1;
	size_t len = 1;
	int ret;

	ret = proto_encode(m, &buf, &len, &e);
	if (ret != code || !strstr(e.msg, want))
		fail_msg("encode gave %d \"%s\", expected %d with \"%s\"", ret,
			 e.msg, code, want);
	assert_null(buf);
	assert_int_equal(len, 0);
}

/* A valid wire value for a tag, for tests that add a field. */
static uint32_t valid_value(int tag, uint8_t *v)
{
	if (tags[tag].string) {
		memcpy(v, "ok", 2);
		return 2;
	}
	memset(v, 0, 8);
	if (tag == T_STRATEGY)
		v[0] = PROTO_STRATEGY_FAASNET;
	if (tag == T_KIND)
		v[0] = PROTO_SUSPECT_BAD_BYTES;
	if (tag == T_COUNT)
		v[3] = 1;
	if (tag == T_ERROR)
		memset(v, 0xff, 4); /* -1 */
	return tags[tag].size;
}

static void test_type_names(void **state)
{
	int t;

	(void)state;
	for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++)
		assert_string_equal(proto_type_name(t), types[t].name);
	assert_string_equal(proto_type_name(0), "?");
	assert_string_equal(proto_type_name(PROTO_TYPE_MAX), "?");
	assert_string_equal(proto_type_name((enum proto_type) - 1), "?");
	assert_string_equal(proto_type_name((enum proto_type)1000), "?");
}

static void test_proto_str(void **state)
{
	const char *s = "pystan";
	struct proto_str p;

	(void)state;
	p = proto_str(s);
	assert_ptr_equal(p.s, s);
	assert_int_equal(p.len, 6);
	p = proto_str(NULL);
	assert_null(p.s);
	assert_int_equal(p.len, 0);
}

/* Every type with every field it carries, and nothing it does not. */
static void test_roundtrip_every_type(void **state)
{
	int t;

	(void)state;
	for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++) {
		struct proto_msg m, want, got;
		struct err e = {{0}};
		uint8_t *buf;
		size_t len, total;

		fill_all(&m, t);
		expect_of(&want, &m);
		assert_int_equal(proto_encode(&m, &buf, &len, &e), 0);
		assert_int_equal(buf[0], PROTO_VERSION);
		assert_int_equal(buf[1], t);
		assert_int_equal(get_be32(buf + 8), len - PROTO_HDR_LEN);
		assert_int_equal(proto_frame_len(buf, &total, &e), 0);
		assert_int_equal(total, len);
		memset(&got, 0xa5, sizeof(got));
		if (proto_decode(buf, len, &got, &e))
			fail_msg("%s: %s", types[t].name, e.msg);
		assert_msg_equal(&want, &got);
		assert_inside(got.vm.s, got.vm.len, buf, len);
		assert_inside(got.function.s, got.function.len, buf, len);
		assert_inside(got.image.s, got.image.len, buf, len);
		assert_inside(got.digest.s, got.digest.len, buf, len);
		assert_inside(got.message.s, got.message.len, buf, len);
		assert_inside(got.data, got.data_len, buf, len);
		free(buf);
	}
}

static void roundtrip(const struct proto_msg *m, struct proto_msg *got,
		      struct frame *f)
{
	fr_from_msg(f, m);
	assert_fr_ok(f, got);
}

/* The edges of what each field may hold. */
static void test_roundtrip_edges(void **state)
{
	static char longest[PROTO_MAX_STR + 1];
	struct proto_msg m, got;
	struct frame f;
	int s;

	(void)state;
	/* ERROR without a message: absent, not empty. */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_ERROR;
	m.error = INT32_MIN;
	roundtrip(&m, &got, &f);
	assert_int_equal(got.error, INT32_MIN);
	assert_null(got.message.s);
	assert_int_equal(fr_find(&f, T_MESSAGE), 0);

	/* ... and with an empty one, which is allowed for message only. */
	m.error = -1;
	m.message.s = "";
	m.message.len = 0;
	roundtrip(&m, &got, &f);
	assert_int_equal(got.error, -1);
	assert_non_null(got.message.s);
	assert_int_equal(got.message.len, 0);
	assert_int_not_equal(fr_find(&f, T_MESSAGE), 0);

	/* Empty data, given as NULL. */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_MANIFEST;
	roundtrip(&m, &got, &f);
	assert_int_equal(f.len, PROTO_HDR_LEN + 6);
	assert_int_equal(got.data_len, 0);

	/* Strings of the largest size, numbers at their extremes. */
	memset(longest, 'x', PROTO_MAX_STR);
	fill_all(&m, PROTO_STARTED);
	m.function = proto_str(longest);
	m.container = UINT32_MAX;
	m.t_ns = UINT64_MAX;
	m.id = UINT32_MAX;
	roundtrip(&m, &got, &f);
	assert_int_equal(got.function.len, PROTO_MAX_STR);
	assert_int_equal(got.container, UINT32_MAX);
	assert_true(got.t_ns == UINT64_MAX);
	assert_int_equal(got.id, UINT32_MAX);

	/* The registry as a parent, and every strategy. */
	for (s = PROTO_STRATEGY_FAASNET; s <= PROTO_STRATEGY_REGISTRY; s++) {
		fill_all(&m, PROTO_PROVISION);
		m.strategy = s;
		m.parent.addr = 0;
		m.parent.port = 0;
		roundtrip(&m, &got, &f);
		assert_int_equal(got.strategy, s);
		assert_int_equal(got.parent.addr, 0);
	}

	/* PROVISION's runtime_ms: left out at 0 (the frame is what it was
	 * before the field), up to its limit, refused past it. */
	fill_all(&m, PROTO_PROVISION);
	m.runtime_ms = 0;
	roundtrip(&m, &got, &f);
	assert_int_equal(fr_find(&f, T_RUNTIME_MS), 0);
	assert_int_equal(got.runtime_ms, 0);
	m.runtime_ms = PROTO_MAX_RUNTIME_MS;
	roundtrip(&m, &got, &f);
	assert_int_not_equal(fr_find(&f, T_RUNTIME_MS), 0);
	assert_int_equal(got.runtime_ms, PROTO_MAX_RUNTIME_MS);
	m.runtime_ms = PROTO_MAX_RUNTIME_MS + 1;
	assert_encode_fails(&m, -EINVAL,
			    "PROVISION: field 16 (runtime_ms): 600001, "
			    "expected at most 600000");
	/* ... and the decoder refuses it too. */
	fr_full(&f, PROTO_PROVISION);
	fr_drop(&f, T_RUNTIME_MS);
	fr_u32(&f, T_RUNTIME_MS, PROTO_MAX_RUNTIME_MS + 1);
	assert_fr_fails(&f, "field 16 (runtime_ms): 600001, expected at most "
			    "600000");

	/* INVOKE's count at both ends of its range. */
	fill_all(&m, PROTO_INVOKE);
	m.count = 1;
	roundtrip(&m, &got, &f);
	assert_int_equal(got.count, 1);
	m.count = 100000;
	roundtrip(&m, &got, &f);
	assert_int_equal(got.count, 100000);

	/* INVOKE's session and HELLO's t_ns: left out at 0 (the frames are
	 * what they were before the fields), carried whole when set. */
	fill_all(&m, PROTO_INVOKE);
	m.session = 0;
	roundtrip(&m, &got, &f);
	assert_int_equal(fr_find(&f, T_SESSION), 0);
	assert_true(got.session == 0);
	m.session = UINT64_MAX;
	roundtrip(&m, &got, &f);
	assert_int_not_equal(fr_find(&f, T_SESSION), 0);
	assert_true(got.session == UINT64_MAX);
	fill_all(&m, PROTO_HELLO);
	m.t_ns = 0;
	roundtrip(&m, &got, &f);
	assert_int_equal(fr_find(&f, T_T_NS), 0);
	m.t_ns = 1;
	roundtrip(&m, &got, &f);
	assert_true(got.t_ns == 1);

	/* FAILED with and without its reason. */
	fill_all(&m, PROTO_FAILED);
	m.container = 0;
	roundtrip(&m, &got, &f);
	assert_int_equal(got.container, 0);
	assert_int_equal(got.message.len, 12);
	m.message.s = NULL;
	roundtrip(&m, &got, &f);
	assert_null(got.message.s);
	assert_int_equal(f.len, PROTO_HDR_LEN + 6 + 4);

	/* HEARTBEAT is a header and nothing else. */
	fill_all(&m, PROTO_HEARTBEAT);
	roundtrip(&m, &got, &f);
	assert_int_equal(f.len, PROTO_HDR_LEN);
}

/* Hand-computed from docs/protocol.md: if these change, every deployed
 * peer stops understanding us. */
static void test_exact_bytes(void **state)
{
	static const uint8_t get_block[] = {
		0x01, 0x0c, 0x00, 0x00, /* v1, GET_BLOCK, reserved */
		0x01, 0x02, 0x03, 0x04, /* id */
		0x00, 0x00, 0x00, 0x12, /* payload_len 18 */
		0x00, 0x0a, 0x00, 0x00, 0x00, 0x02, /* digest, len 2 */
		'a',  'b',			    /* "ab" */
		0x00, 0x0b, 0x00, 0x00, 0x00, 0x04, /* block, len 4 */
		0x00, 0x00, 0x01, 0x07,		    /* 263 */
	};
	static const uint8_t parent[] = {
		0x01, 0x06, 0x00, 0x00,		    /* v1, PARENT, reserved */
		0x00, 0x00, 0x00, 0x09,		    /* id */
		0x00, 0x00, 0x00, 0x13,		    /* payload_len 19 */
		0x00, 0x04, 0x00, 0x00, 0x00, 0x01, /* function, len 1 */
		'f',				    /* "f" */
		0x00, 0x09, 0x00, 0x00, 0x00, 0x06, /* parent, len 6 */
		0xc6, 0x12, 0x01, 0x01,		    /* 198.18.1.1 */
		0x1b, 0x58,			    /* port 7000 */
	};
	static const uint8_t suspect[] = {
		0x01, 0x10, 0x00, 0x00,		    /* v1, SUSPECT, reserved */
		0x00, 0x00, 0x00, 0x00,		    /* id */
		0x00, 0x00, 0x00, 0x1a,		    /* payload_len 26 */
		0x00, 0x04, 0x00, 0x00, 0x00, 0x01, /* function, len 1 */
		'f',				    /* "f" */
		0x00, 0x09, 0x00, 0x00, 0x00, 0x06, /* parent, len 6 */
		0xc6, 0x12, 0x01, 0x01,		    /* 198.18.1.1 */
		0x1b, 0x58,			    /* port 7000 */
		0x00, 0x11, 0x00, 0x00, 0x00, 0x01, /* kind, len 1 */
		0x02,				    /* unresponsive */
	};
	static const uint8_t error[] = {
		0x01, 0x0e, 0x00, 0x00,		    /* v1, ERROR, reserved */
		0x00, 0x00, 0x00, 0x00,		    /* id */
		0x00, 0x00, 0x00, 0x11,		    /* payload_len 17 */
		0x00, 0x0d, 0x00, 0x00, 0x00, 0x04, /* error, len 4 */
		0xff, 0xff, 0xff, 0xfe,		    /* -2 (ENOENT) */
		0x00, 0x0e, 0x00, 0x00, 0x00, 0x01, /* message, len 1 */
		'x',				    /* "x" */
	};
	struct proto_msg m, got;
	struct err e = {{0}};
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_GET_BLOCK;
	m.id = 0x01020304;
	m.digest = proto_str("ab");
	m.block = 263;
	assert_int_equal(proto_encode(&m, &buf, &len, &e), 0);
	assert_int_equal(len, sizeof(get_block));
	assert_memory_equal(buf, get_block, len);
	free(buf);
	assert_int_equal(proto_decode(get_block, sizeof(get_block), &got, &e),
			 0);
	assert_msg_equal(&m, &got);

	memset(&m, 0, sizeof(m));
	m.type = PROTO_PARENT;
	m.id = 9;
	m.function = proto_str("f");
	m.parent.addr = 0xc6120101;
	m.parent.port = 7000;
	assert_int_equal(proto_encode(&m, &buf, &len, &e), 0);
	assert_int_equal(len, sizeof(parent));
	assert_memory_equal(buf, parent, len);
	free(buf);
	assert_int_equal(proto_decode(parent, sizeof(parent), &got, &e), 0);
	assert_msg_equal(&m, &got);

	memset(&m, 0, sizeof(m));
	m.type = PROTO_SUSPECT;
	m.function = proto_str("f");
	m.parent.addr = 0xc6120101;
	m.parent.port = 7000;
	m.kind = PROTO_SUSPECT_UNRESPONSIVE;
	assert_int_equal(proto_encode(&m, &buf, &len, &e), 0);
	assert_int_equal(len, sizeof(suspect));
	assert_memory_equal(buf, suspect, len);
	free(buf);
	assert_int_equal(proto_decode(suspect, sizeof(suspect), &got, &e), 0);
	assert_msg_equal(&m, &got);

	memset(&m, 0, sizeof(m));
	m.type = PROTO_ERROR;
	m.error = -ENOENT;
	m.message = proto_str("x");
	assert_int_equal(proto_encode(&m, &buf, &len, &e), 0);
	assert_int_equal(len, sizeof(error));
	assert_memory_equal(buf, error, len);
	free(buf);
	assert_int_equal(proto_decode(error, sizeof(error), &got, &e), 0);
	assert_msg_equal(&m, &got);
}

/* The decoder takes fields in any order; the encoder always writes them
 * in ascending order, so re-encoding gives the canonical frame. */
static void test_decode_any_order(void **state)
{
	struct proto_msg m, got;
	struct frame f, canon;
	uint8_t peer[6] = {0xc6, 0x12, 0x02, 0x03, 0x1b, 0x59};
	uint8_t strategy = PROTO_STRATEGY_FAASNET;

	(void)state;
	fr_start(&f, PROTO_PROVISION, 77);
	fr_field(&f, T_PARENT, peer, sizeof(peer));
	fr_field(&f, T_STRATEGY, &strategy, 1);
	fr_u32(&f, T_CONTAINER, 5);
	fr_str(&f, T_IMAGE, "img");
	fr_str(&f, T_FUNCTION, "fn");
	assert_fr_ok(&f, &got);
	assert_int_equal(got.id, 77);
	assert_int_equal(got.parent.addr, 0xc6120203);
	assert_int_equal(got.parent.port, 7001);
	assert_int_equal(got.strategy, PROTO_STRATEGY_FAASNET);
	assert_int_equal(got.container, 5);
	assert_int_equal(got.image.len, 3);
	assert_memory_equal(got.image.s, "img", 3);
	assert_int_equal(got.function.len, 2);
	assert_memory_equal(got.function.s, "fn", 2);

	m = got;
	fr_from_msg(&canon, &m);
	assert_int_equal(canon.len, f.len);
	assert_memory_not_equal(canon.b, f.b, f.len);
	assert_true(fr_find(&canon, T_FUNCTION) < fr_find(&canon, T_IMAGE));
	assert_true(fr_find(&canon, T_IMAGE) < fr_find(&canon, T_CONTAINER));
	assert_true(fr_find(&canon, T_CONTAINER) < fr_find(&canon, T_STRATEGY));
	assert_true(fr_find(&canon, T_STRATEGY) < fr_find(&canon, T_PARENT));
}

/* Whatever was in the struct before, a decode leaves only the frame's
 * fields set. */
static void test_decode_clears(void **state)
{
	struct proto_msg got, want;
	struct frame f;

	(void)state;
	fr_start(&f, PROTO_HEARTBEAT, 4);
	memset(&got, 0xa5, sizeof(got));
	assert_fr_ok(&f, &got);
	memset(&want, 0, sizeof(want));
	want.type = PROTO_HEARTBEAT;
	want.id = 4;
	assert_msg_equal(&want, &got);
}

static void test_frame_len(void **state)
{
	struct err e = {{0}};
	struct frame f;
	size_t total = 0;

	(void)state;
	fr_full(&f, PROTO_BLOCK);
	assert_int_equal(proto_frame_len(f.b, &total, &e), 0);
	assert_int_equal(total, f.len);

	/* The largest payload is allowed; only the header is looked at. */
	fr_start(&f, PROTO_BLOCK, 1);
	put_be32(f.b + 8, PROTO_MAX_PAYLOAD);
	assert_int_equal(proto_frame_len(f.b, &total, &e), 0);
	assert_int_equal(total, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
}

/* Each header rule, through proto_frame_len and through proto_decode of a
 * frame that is otherwise whole. */
static void test_header_rejections(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
		const char *want;
	} cases[] = {
		{0, 0, "frame: version 0, expected 1"},
		{0, 2, "frame: version 2, expected 1"},
		{1, 0, "frame: unknown type 0"},
		{1, PROTO_TYPE_MAX, "frame: unknown type 20"},
		{1, 255, "frame: unknown type 255"},
		{2, 0x80, "reserved header bits 0x8000, expected 0"},
		{3, 0x01, "reserved header bits 0x0001, expected 0"},
	};
	struct err e = {{0}};
	struct frame f;
	size_t i, total = 12345;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fr_full(&f, PROTO_HELLO);
		f.b[cases[i].off] = cases[i].val;
		assert_int_equal(proto_frame_len(f.b, &total, &e), -EBADMSG);
		assert_non_null(strstr(e.msg, cases[i].want));
		assert_int_equal(total, 12345);
		assert_fr_fails(&f, cases[i].want);
	}
}

/* A payload over the limit is refused from the header alone, before a
 * reader would wait for (or buffer) it. */
static void test_payload_too_big(void **state)
{
	static const uint32_t sizes[] = {PROTO_MAX_PAYLOAD + 1, UINT32_MAX};
	struct err e = {{0}};
	struct frame f;
	size_t i, total;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		fr_start(&f, PROTO_BLOCK, 1);
		put_be32(f.b + 8, sizes[i]);
		assert_int_equal(proto_frame_len(f.b, &total, &e), -EMSGSIZE);
		assert_non_null(strstr(e.msg, "at most 8388608"));
		assert_decode_fails(f.b, PROTO_HDR_LEN, -EMSGSIZE,
				    "BLOCK: payload of");
	}
}

/* Every prefix of a valid frame: as it stands (the header then disagrees
 * with the length), and with the header's payload_len cut to match (the
 * fields then run out). A frame whose fields are all required, so that
 * no cut at a field boundary leaves a valid message. */
static void test_truncations(void **state)
{
	struct err e = {{0}};
	struct frame f, cut;
	size_t n, total;

	(void)state;
	fr_full(&f, PROTO_BLOCK);
	/* Its last field, data, is required: every cut loses some of it. */
	assert_true(types[PROTO_BLOCK].required & B(T_DATA));
	for (n = 0; n < f.len; n++) {
		assert_decode_fails(f.b, n, -EBADMSG,
				    n < PROTO_HDR_LEN
					    ? "shorter than the 12-byte header"
					    : "header says");
		if (n < PROTO_HDR_LEN)
			continue;
		assert_int_equal(proto_frame_len(f.b, &total, &e), 0);
		assert_int_equal(total, f.len);
		memcpy(cut.b, f.b, n);
		cut.len = n;
		fix_payload_len(&cut);
		assert_fr_fails(&cut, "BLOCK: ");
	}
	/* One byte too many is as wrong as one too few. */
	f.b[f.len] = 0;
	assert_decode_fails(f.b, f.len + 1, -EBADMSG, "header says");
	/* Decoding from a buffer with nothing in it must not touch it. */
	assert_decode_fails(NULL, 0, -EBADMSG, "frame: 0 bytes");
}

static void test_field_past_payload(void **state)
{
	uint8_t twelve[12] = {0};
	struct frame f;

	(void)state;
	/* A field's length beyond what is left. */
	fr_start(&f, PROTO_GET_BLOCK, 1);
	fr_u32(&f, T_BLOCK, 3);
	fr_field(&f, T_DIGEST, twelve, sizeof(twelve));
	put_be32(f.b + f.len - 12 - 4, 900);
	assert_fr_fails(&f,
			"GET_BLOCK: field 10 runs past the payload (len 900, "
			"12 left)");
	/* The largest length a field header can say. */
	put_be32(f.b + f.len - 12 - 4, UINT32_MAX);
	assert_fr_fails(&f, "field 10 runs past the payload (len 4294967295");

	/* A field header itself cut short. */
	fr_start(&f, PROTO_HEARTBEAT, 1);
	memset(f.b + f.len, 0, 5);
	f.len += 5;
	fix_payload_len(&f);
	assert_fr_fails(&f, "HEARTBEAT: field header cut short at payload "
			    "offset 0 (5 bytes left)");
}

static void test_unknown_tag(void **state)
{
	static const uint16_t bad[] = {0, T_MAX, 99, 0xffff};
	char want[64];
	struct frame f;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(want, sizeof(want), "field %u: unknown tag", bad[i]);
		fr_start(&f, PROTO_HEARTBEAT, 1);
		fr_field(&f, bad[i], NULL, 0);
		assert_fr_fails(&f, want);
		fr_full(&f, PROTO_HELLO);
		fr_field(&f, bad[i], "xy", 2);
		assert_fr_fails(&f, want);
	}
}

static void test_duplicate_field(void **state)
{
	struct frame f;
	uint8_t v[8];
	int tag;

	(void)state;
	fr_full(&f, PROTO_HELLO);
	fr_str(&f, T_VM, "vm0008");
	assert_fr_fails(&f, "HELLO: field 1 (vm): appears twice");

	/* Every field of the widest type, each sent twice. */
	for (tag = 1; tag < T_MAX; tag++) {
		char want[64];
		int t;

		for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++)
			if (allowed(t) & B(tag))
				break;
		fr_full(&f, t);
		fr_field(&f, tag, v, valid_value(tag, v));
		snprintf(want, sizeof(want), "%s: field %d (%s): appears twice",
			 types[t].name, tag, tags[tag].name);
		assert_fr_fails(&f, want);
	}
}

/* For every type, every field it does not allow, with a valid value. */
static void test_field_not_allowed(void **state)
{
	int t, tag, n = 0;

	(void)state;
	for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++) {
		for (tag = 1; tag < T_MAX; tag++) {
			struct frame f;
			char want[80];
			uint8_t v[8];

			if (allowed(t) & B(tag))
				continue;
			fr_full(&f, t);
			fr_field(&f, tag, v, valid_value(tag, v));
			snprintf(want, sizeof(want),
				 "%s: field %d (%s): not allowed",
				 types[t].name, tag, tags[tag].name);
			assert_fr_fails(&f, want);
			n++;
		}
	}
	assert_int_equal(n, 19 * 18 - 41); /* less the allowed fields */
}

/* For every type, each required field left out in turn. */
static void test_missing_field(void **state)
{
	int t, tag, n = 0;

	(void)state;
	for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++) {
		for (tag = 1; tag < T_MAX; tag++) {
			struct frame f;
			char want[80];

			if (!(types[t].required & B(tag)))
				continue;
			fr_full(&f, t);
			fr_drop(&f, tag);
			snprintf(want, sizeof(want),
				 "%s: missing field %d (%s)", types[t].name,
				 tag, tags[tag].name);
			assert_fr_fails(&f, want);
			n++;
		}
	}
	assert_int_equal(n, 33); /* the R column of docs/protocol.md */

	/* The brief's example, word for word. */
	{
		struct frame f;

		fr_start(&f, PROTO_GET_BLOCK, 1);
		fr_str(&f, T_DIGEST, "d");
		assert_decode_fails(f.b, f.len, -EBADMSG,
				    "GET_BLOCK: missing field 11 (block)");
	}
}

/* Each fixed-size field one byte short, one byte long, and empty. */
static void test_wrong_fixed_size(void **state)
{
	uint8_t v[16] = {0};
	int tag;

	(void)state;
	for (tag = 1; tag < T_MAX; tag++) {
		uint32_t size = tags[tag].size;
		const uint32_t wrong[] = {size - 1, size + 1, 0};
		size_t i;
		int t;

		if (!size)
			continue;
		for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++)
			if (allowed(t) & B(tag))
				break;
		for (i = 0; i < ARRAY_SIZE(wrong); i++) {
			struct frame f;
			char want[80];

			if (i == 2 && size == 1)
				continue; /* size - 1 already */
			fr_full(&f, t);
			fr_set(&f, tag, v, wrong[i]);
			snprintf(want, sizeof(want),
				 "%s: field %d (%s): length %u, expected %u",
				 types[t].name, tag, tags[tag].name, wrong[i],
				 size);
			assert_fr_fails(&f, want);
		}
	}
}

/* Every string field: NUL bytes anywhere, one byte too long, empty. */
static void test_bad_strings(void **state)
{
	static char big[PROTO_MAX_STR + 1];
	int tag;

	(void)state;
	memset(big, 'a', sizeof(big));
	for (tag = 1; tag < T_MAX; tag++) {
		struct proto_msg m;
		struct frame f;
		char want[80];
		int t;

		if (!tags[tag].string)
			continue;
		for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++)
			if (allowed(t) & B(tag))
				break;

		fr_full(&f, t);
		fr_set(&f, tag, "\0abc", 4);
		snprintf(want, sizeof(want),
			 "%s: field %d (%s): NUL byte at offset 0",
			 types[t].name, tag, tags[tag].name);
		assert_fr_fails(&f, want);
		fr_set(&f, tag, "ab\0c", 4);
		assert_fr_fails(&f, "NUL byte at offset 2");
		fr_set(&f, tag, "abc\0", 4);
		assert_fr_fails(&f, "NUL byte at offset 3");

		fr_set(&f, tag, big, PROTO_MAX_STR + 1);
		snprintf(want, sizeof(want),
			 "%s: field %d (%s): 1025 bytes, at most 1024",
			 types[t].name, tag, tags[tag].name);
		assert_fr_fails(&f, want);
		fr_set(&f, tag, big, PROTO_MAX_STR);
		assert_fr_ok(&f, &m);

		fr_set(&f, tag, "", 0);
		if (tag == T_MESSAGE) {
			assert_fr_ok(&f, &m);
			assert_non_null(m.message.s);
			assert_int_equal(m.message.len, 0);
		} else {
			snprintf(want, sizeof(want), "%s: field %d (%s): empty",
				 types[t].name, tag, tags[tag].name);
			assert_fr_fails(&f, want);
		}
	}
}

static void test_bad_values(void **state)
{
	static const uint8_t strategies[] = {0, 4, 7, 255};
	static const uint8_t kinds[] = {0, 3, 255};
	static const uint32_t counts[] = {0, 100001, UINT32_MAX};
	static const uint32_t errors[] = {0, 1, 0x7fffffff};
	struct proto_msg m;
	struct frame f;
	char want[80];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(strategies); i++) {
		fr_full(&f, PROTO_PROVISION);
		fr_set(&f, T_STRATEGY, &strategies[i], 1);
		snprintf(want, sizeof(want),
			 "PROVISION: field 8 (strategy): %u is not a strategy",
			 strategies[i]);
		assert_fr_fails(&f, want);
	}
	/* SUSPECT's kind: the manager believes the two differently, so an
	 * unknown one is not taken for either. */
	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		fr_full(&f, PROTO_SUSPECT);
		fr_set(&f, T_KIND, &kinds[i], 1);
		snprintf(want, sizeof(want),
			 "SUSPECT: field 17 (kind): %u is not a kind",
			 kinds[i]);
		assert_fr_fails(&f, want);
	}
	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		fr_full(&f, PROTO_INVOKE);
		put_be32(f.b + fr_find(&f, T_COUNT) + 6, counts[i]);
		snprintf(want, sizeof(want),
			 "INVOKE: field 6 (count): %u, expected 1 to 100000",
			 counts[i]);
		assert_fr_fails(&f, want);
	}
	/* GET_BLOCK's count is a run of blocks: 1 to 2^24. */
	for (i = 0; i < 2; i++) {
		uint32_t bad = i ? PROTO_MAX_BLOCK_RUN + 1 : 0;

		fr_full(&f, PROTO_GET_BLOCK);
		put_be32(f.b + fr_find(&f, T_COUNT) + 6, bad);
		snprintf(want, sizeof(want),
			 "GET_BLOCK: field 6 (count): %u, expected 1 to %u",
			 bad, PROTO_MAX_BLOCK_RUN);
		assert_fr_fails(&f, want);
	}
	/* Left out, it is one block: count 0 in the message, and an encoder
	 * writes no count for 0. */
	{
		struct proto_msg g = {.type = PROTO_GET_BLOCK,
				      .id = 5,
				      .block = 9,
				      .digest = proto_str("ab")};
		struct err e = {{0}};
		uint8_t *buf;
		size_t len, len1;

		assert_int_equal(proto_encode(&g, &buf, &len, &e), 0);
		assert_int_equal(proto_decode(buf, len, &m, &e), 0);
		assert_int_equal(m.count, 0);
		free(buf);
		g.count = 7;
		assert_int_equal(proto_encode(&g, &buf, &len1, &e), 0);
		assert_int_equal(len1, len + 10); /* a 6-byte field head */
		assert_int_equal(proto_decode(buf, len1, &m, &e), 0);
		assert_int_equal(m.count, 7);
		free(buf);
	}
	/* INVOKED's count is how many ids follow; the range is INVOKE's. */
	fr_full(&f, PROTO_INVOKED);
	put_be32(f.b + fr_find(&f, T_COUNT) + 6, 0);
	assert_fr_ok(&f, &m);
	assert_int_equal(m.count, 0);

	for (i = 0; i < ARRAY_SIZE(errors); i++) {
		fr_full(&f, PROTO_ERROR);
		put_be32(f.b + fr_find(&f, T_ERROR) + 6, errors[i]);
		snprintf(want, sizeof(want),
			 "ERROR: field 13 (error): %d is not a negative errno",
			 (int)errors[i]);
		assert_fr_fails(&f, want);
	}
}

static void test_encode_rejects(void **state)
{
	static char big[PROTO_MAX_STR + 1];
	struct proto_msg m;
	int t, tag;

	(void)state;
	fill_all(&m, 0);
	assert_encode_fails(&m, -EINVAL, "unknown type 0");
	fill_all(&m, PROTO_TYPE_MAX);
	assert_encode_fails(&m, -EINVAL, "unknown type 20");

	/* Each required string of each type: absent, empty, NUL, too long. */
	memset(big, 'a', sizeof(big));
	for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++) {
		for (tag = 1; tag < T_MAX; tag++) {
			struct proto_str *s = NULL;
			char want[80];

			if (!tags[tag].string || !(allowed(t) & B(tag)))
				continue;
			fill_all(&m, t);
			switch (tag) {
			case T_VM:
				s = &m.vm;
				break;
			case T_FUNCTION:
				s = &m.function;
				break;
			case T_IMAGE:
				s = &m.image;
				break;
			case T_DIGEST:
				s = &m.digest;
				break;
			case T_MESSAGE:
				s = &m.message;
				break;
			}
			assert_non_null(s);
			if (types[t].required & B(tag)) {
				*s = proto_str(NULL);
				snprintf(want, sizeof(want),
					 "%s: missing field %d (%s)",
					 types[t].name, tag, tags[tag].name);
				assert_encode_fails(&m, -EINVAL, want);
				*s = proto_str("");
				assert_encode_fails(&m, -EINVAL, "empty");
			}
			s->s = "ab\0c";
			s->len = 4;
			assert_encode_fails(&m, -EINVAL,
					    "NUL byte at offset 2");
			s->s = big;
			s->len = sizeof(big);
			assert_encode_fails(&m, -EINVAL, "1025 bytes");
		}
	}

	fill_all(&m, PROTO_PROVISION);
	m.strategy = 0;
	assert_encode_fails(&m, -EINVAL, "0 is not a strategy");
	m.strategy = PROTO_STRATEGY_REGISTRY + 1;
	assert_encode_fails(&m, -EINVAL, "4 is not a strategy");

	fill_all(&m, PROTO_SUSPECT);
	m.kind = 0;
	assert_encode_fails(&m, -EINVAL,
			    "SUSPECT: field 17 (kind): 0 is not a kind");
	m.kind = PROTO_SUSPECT_UNRESPONSIVE + 1;
	assert_encode_fails(&m, -EINVAL, "3 is not a kind");

	fill_all(&m, PROTO_INVOKE);
	m.count = 0;
	assert_encode_fails(&m, -EINVAL, "count): 0, expected 1 to 100000");
	m.count = 100001;
	assert_encode_fails(&m, -EINVAL, "100001, expected");

	fill_all(&m, PROTO_ERROR);
	m.error = 0;
	assert_encode_fails(&m, -EINVAL, "0 is not a negative errno");
	m.error = 5;
	assert_encode_fails(&m, -EINVAL, "5 is not a negative errno");

	fill_all(&m, PROTO_BLOCK);
	m.data = NULL;
	m.data_len = 5;
	assert_encode_fails(&m, -EINVAL, "no bytes for length 5");
}

/* The payload limit is exact, on both sides. */
static void test_largest_payload(void **state)
{
	const uint32_t overhead = (6 + 1) + (6 + 4) + 6; /* digest, block */
	struct proto_msg m, got;
	struct err e = {{0}};
	uint8_t *data, *buf;
	size_t len, total;

	(void)state;
	data = calloc(1, PROTO_MAX_PAYLOAD);
	assert_non_null(data);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_BLOCK;
	m.digest = proto_str("d");
	m.block = 1;
	m.data = data;
	m.data_len = PROTO_MAX_PAYLOAD - overhead;
	data[m.data_len - 1] = 0x5a;
	assert_int_equal(proto_encode(&m, &buf, &len, &e), 0);
	assert_int_equal(len, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
	assert_int_equal(proto_frame_len(buf, &total, &e), 0);
	assert_int_equal(total, len);
	assert_int_equal(proto_decode(buf, len, &got, &e), 0);
	assert_int_equal(got.data_len, m.data_len);
	assert_int_equal(got.data[got.data_len - 1], 0x5a);
	free(buf);

	m.data_len++;
	assert_encode_fails(&m, -EMSGSIZE, "BLOCK: payload of 8388609 bytes");
	m.data_len = UINT32_MAX;
	assert_encode_fails(&m, -EMSGSIZE, "at most 8388608");
	free(data);
}

/* The error argument is optional, as everywhere else. */
static void test_null_err(void **state)
{
	struct proto_msg m;
	struct frame f;
	uint8_t *buf;
	size_t len;

	(void)state;
	fr_full(&f, PROTO_HELLO);
	f.b[0] = 9;
	assert_int_equal(proto_frame_len(f.b, &len, NULL), -EBADMSG);
	assert_int_equal(proto_decode(f.b, f.len, &m, NULL), -EBADMSG);
	fill_all(&m, PROTO_HELLO);
	m.vm = proto_str(NULL);
	assert_int_equal(proto_encode(&m, &buf, &len, NULL), -EINVAL);
}

/* The head alone, then the data bytes, is the whole frame byte for byte:
 * what conn_send_ref writes with two iovecs. */
static void test_encode_head_plus_data_is_the_frame(void **state)
{
	static const uint8_t data[] = "0123456789abcdef";
	struct proto_msg m = {.type = PROTO_BLOCK, .id = 9, .block = 4};
	uint8_t *whole, *head;
	size_t wlen, hlen;
	struct err e = {""};

	(void)state;
	m.digest = proto_str("sha256:00");
	m.data = data;
	m.data_len = sizeof(data) - 1;
	assert_int_equal(proto_encode(&m, &whole, &wlen, &e), 0);
	assert_int_equal(proto_encode_head(&m, &head, &hlen, &e), 0);
	assert_int_equal(hlen + m.data_len, wlen);
	assert_memory_equal(head, whole, hlen);
	assert_memory_equal(whole + hlen, data, m.data_len);
	free(whole);
	free(head);
	/* Without a data field it is the same as proto_encode. */
	m.type = PROTO_GET_BLOCK;
	assert_int_equal(proto_encode(&m, &whole, &wlen, &e), 0);
	assert_int_equal(proto_encode_head(&m, &head, &hlen, &e), 0);
	assert_int_equal(hlen, wlen);
	assert_memory_equal(head, whole, wlen);
	free(whole);
	free(head);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_head_plus_data_is_the_frame),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_proto_str),
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_roundtrip_edges),
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_decode_any_order),
		cmocka_unit_test(test_decode_clears),
		cmocka_unit_test(test_frame_len),
		cmocka_unit_test(test_header_rejections),
		cmocka_unit_test(test_payload_too_big),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_field_past_payload),
		cmocka_unit_test(test_unknown_tag),
		cmocka_unit_test(test_duplicate_field),
		cmocka_unit_test(test_field_not_allowed),
		cmocka_unit_test(test_missing_field),
		cmocka_unit_test(test_wrong_fixed_size),
		cmocka_unit_test(test_bad_strings),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_largest_payload),
		cmocka_unit_test(test_null_err),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

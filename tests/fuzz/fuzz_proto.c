/* libFuzzer target for lib/proto.c: any bytes a peer may send. Built by
 * `make fuzz` as build/fuzz/proto (docs/fuzzing.md).
 *
 * Its seeds in tests/fuzz/corpus/proto (one valid frame of each type, which
 * gets it past the header and into the field rules within seconds) are
 * written by the same file:
 *
 *   clang -D_GNU_SOURCE -DFUZZ_PROTO_SEEDS -Ilib -o /tmp/fuzz_proto_seeds \
 *	tests/fuzz/fuzz_proto.c lib/proto.c lib/blockimg.c lib/sha256.c \
 *	lib/err.c -lzstd -lcrypto
 *   /tmp/fuzz_proto_seeds tests/fuzz/corpus/proto
 *
 * The sanitizers catch any read out of bounds; on top of that, whatever the
 * decoder accepts must encode again, to a frame of the same length that
 * decodes to the same message and re-encodes to the very same bytes (the
 * encoding is canonical). Any disagreement aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_eq(struct proto_str a, struct proto_str b)
{
	if ((a.s == NULL) != (b.s == NULL) || a.len != b.len)
		return false;
	return !a.len || !memcmp(a.s, b.s, a.len);
}

static bool msg_eq(const struct proto_msg *a, const struct proto_msg *b)
{
	return a->type == b->type && a->id == b->id && str_eq(a->vm, b->vm) &&
	       a->addr == b->addr && a->port == b->port &&
	       str_eq(a->function, b->function) && str_eq(a->image, b->image) &&
	       a->count == b->count && a->container == b->container &&
	       a->strategy == b->strategy && a->parent.addr == b->parent.addr &&
	       a->parent.port == b->parent.port &&
	       str_eq(a->digest, b->digest) && a->block == b->block &&
	       a->t_ns == b->t_ns && a->error == b->error &&
	       str_eq(a->message, b->message) && a->data_len == b->data_len &&
	       (!a->data_len || !memcmp(a->data, b->data, a->data_len));
}

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_proto: %s: %s\n", what, e->msg);
	abort();
}

/* A frame the decoder accepted, taken through the encoder and back. */
static void roundtrip(const uint8_t *buf, size_t len)
{
	struct proto_msg m, m2, m3;
	struct err e = {{0}};
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t elen, elen2, total;

	if (proto_decode(buf, len, &m, &e))
		return;
	if (proto_encode(&m, &enc, &elen, &e))
		die("a decoded message does not encode", &e);
	if (elen != len)
		die("re-encoding changed the length", &e);
	if (proto_frame_len(enc, &total, &e) || total != elen)
		die("proto_frame_len disagrees with the encoder", &e);
	if (proto_decode(enc, elen, &m2, &e))
		die("an encoded message does not decode", &e);
	if (!msg_eq(&m, &m2))
		die("decode(encode(m)) != m", &e);
	if (proto_encode(&m2, &enc2, &elen2, &e))
		die("second encode failed", &e);
	if (elen2 != elen || memcmp(enc, enc2, elen))
		die("encoding is not canonical", &e);
	if (proto_decode(enc2, elen2, &m3, &e) || !msg_eq(&m2, &m3))
		die("third decode differs", &e);
	free(enc);
	free(enc2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e;
	size_t total;

	/* The input as a whole, whatever its header says... */
	roundtrip(data, size);
	if (size < PROTO_HDR_LEN)
		return 0;
	/* ... and as a reader would take it off a stream: the header says
	 * how much to wait for, the rest is the next frame's business. */
	if (proto_frame_len(data, &total, &e))
		return 0;
	if (total < PROTO_HDR_LEN)
		abort();
	if (total < size) {
		/* A copy of exactly that length, so that ASan sees a read past
		 * the frame even where the input goes on. */
		uint8_t *frame = malloc(total);

		if (!frame)
			return 0;
		memcpy(frame, data, total);
		roundtrip(frame, total);
		free(frame);
	}
	return 0;
}

#ifdef FUZZ_PROTO_SEEDS
/* One frame of every type with every field its type allows. */
int main(int argc, char **argv)
{
	static const uint8_t blob[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x01};
	int t;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	for (t = PROTO_HELLO; t < PROTO_TYPE_MAX; t++) {
		struct proto_msg m = {
			.type = t,
			.id = 7,
			.vm = proto_str("vm0001"),
			.addr = 0xc6120101,
			.port = 7000,
			.function = proto_str("fn"),
			.image = proto_str("registry/img:1"),
			.count = 2,
			.container = 1,
			.strategy = PROTO_STRATEGY_FAASNET,
			.parent = {0xc6120102, 7000},
			.digest = proto_str("sha256:00"),
			.block = 3,
			.t_ns = 123456789,
			.error = -2,
			.message = proto_str("no such blob"),
			.data = blob,
			.data_len = sizeof(blob),
		};
		struct err e = {{0}};
		char path[4096];
		uint8_t *buf;
		size_t len;
		FILE *f;
		int n;

		if (proto_encode(&m, &buf, &len, &e)) {
			fprintf(stderr, "%s\n", e.msg);
			return 1;
		}
		n = snprintf(path, sizeof(path), "%s/seed-%s", argv[1],
			     proto_type_name(t));
		if (n < 0 || (size_t)n >= sizeof(path)) {
			free(buf);
			return 1;
		}
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
			perror(path);
			free(buf);
			return 1;
		}
		free(buf);
	}
	return 0;
}
#endif

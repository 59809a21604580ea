/* pieces: a node's pieces of blobs (1 MiB, scaled with the run): a bounded
 * in-memory cache, and the merging of concurrent requests for one piece into
 * one upstream fetch (docs/dadi.md). It owns the cache and its locks; where a
 * piece comes from (a parent, a root, the registry) is the caller's fetch
 * function. Thread-safe: every call may come from any thread. */
#ifndef FAASNET_DADI_PIECES_H
#define FAASNET_DADI_PIECES_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* dadi-p2proxy reads upstream in aligned 1 MiB pieces: the default. A
 * scaled run scales it as it scales blocks (docs/dadi.md). */
#define DADI_PIECE_SIZE (1u << 20)

/* Fetches piece idx of blob key (its bytes [idx * piece, ...),
 * fewer for the last piece) into a malloc'd *buf and says the blob's whole
 * size in *total. Called with no lock held, once per piece at a time.
 * 0 or a negative errno with e set. */
typedef int (*dadi_fetch_fn)(void *arg, const char *key, uint64_t idx,
			     uint8_t **buf, size_t *len, uint64_t *total,
			     struct err *e);

struct dadi_pieces;

/* A piece handed out: valid until dadi_piece_put, even if the cache drops
 * it meanwhile. */
struct dadi_piece {
	const uint8_t *data;
	size_t len;
	uint64_t total; /* the blob's size */
	void *ref_;	/* the pieces module's */
};

struct dadi_pieces_stats {
	uint64_t fetches; /* calls of the fetch function */
	uint64_t merged;  /* requests that waited on another's fetch */
	uint64_t hits;	  /* requests answered from the cache */
	uint64_t evicted; /* pieces dropped to stay under the bound */
	uint64_t bytes;	  /* cached now */
};

/* piece: the pieces' size (0: DADI_PIECE_SIZE); cap_bytes: what the cache
 * may hold (least recently used pieces go first; pieces being fetched or
 * handed out are not counted). */
int dadi_pieces_new(size_t piece, size_t cap_bytes, dadi_fetch_fn fetch,
		    void *arg, struct dadi_pieces **p);
size_t dadi_pieces_piece(const struct dadi_pieces *p);
void dadi_pieces_free(struct dadi_pieces *p);

/* Piece idx of blob key: from the cache, or by waiting on a fetch already
 * under way for it, or by fetching it. A failed fetch answers it and every
 * request that waited on it with its error (e copied), and is not cached:
 * the next request fetches again. */
int dadi_pieces_get(struct dadi_pieces *p, const char *key, uint64_t idx,
		    struct dadi_piece *out, struct err *e)
	__attribute__((warn_unused_result));
void dadi_piece_put(struct dadi_pieces *p, struct dadi_piece *pc);

/* The pieces of size piece bytes [off, off + len) of a blob of size total
 * lie in: first and last index, clamped to the blob. -ERANGE when off >=
 * total or len 0. */
int dadi_pieces_span(uint64_t piece, uint64_t off, uint64_t len, uint64_t total,
		     uint64_t *first, uint64_t *last);

/* Reads bytes [off, off + len) of blob key through the pieces (len
 * clamped to the blob's end) and hands them to sink in order; *total gets
 * the blob's size. Non-zero from sink stops and is returned. -ERANGE for
 * off past the end. */
typedef int (*dadi_sink_fn)(void *arg, const void *buf, size_t len);
int dadi_pieces_read(struct dadi_pieces *p, const char *key, uint64_t off,
		     uint64_t len, dadi_sink_fn sink, void *arg,
		     uint64_t *total, struct err *e);

void dadi_pieces_stats(struct dadi_pieces *p, struct dadi_pieces_stats *st);

#endif

/* start: one container's start on this VM, after its image is usable (the
 * meta for a lazy strategy, the whole layer for the registry's): the
 * runtime's own start (creating the container), then the image's start-up
 * trace played in order, each read's compute gap slept in the world's time
 * and each read waiting for the blocks that cover it if they are absent
 * (docs/image-format.md, "Start-up trace"). An image without a trace
 * (version 1) is one wait for its whole start-up set. It owns its timer
 * and its place in the trace; whether a block is here, and fetching the
 * ones a read waits for, are its owner's (image.c), through start_ops. */
#ifndef FAASNET_AGENT_START_H
#define FAASNET_AGENT_START_H

#include <stdint.h>

#include "blockimg.h"
#include "evloop.h"

struct start;

struct start_ops {
	/* 1 when block b is here, whole and verified. */
	int (*present)(void *arg, uint32_t b);
	/* 1 when every block of the start-up set is here (a version 1
	 * image's one wait). */
	int (*startup_present)(void *arg);
	/* A read waits for blocks first..first + count - 1: the owner asks
	 * for the absent ones ahead of any prefetch. */
	void (*need)(void *arg, struct start *s, uint32_t first,
		     uint32_t count);
	/* The trace ended: the container has started. */
	void (*done)(void *arg, struct start *s);
};

enum start_state {
	START_IDLE,    /* its image is not usable yet */
	START_RUNTIME, /* the runtime creating the container */
	START_GAP,     /* compute before the next read */
	START_READ,    /* a read waiting for its blocks */
	START_DONE,    /* started */
};

struct start {
	struct evloop *l;
	const struct start_ops *ops;
	void *arg;
	const struct blockimg_index *ix; /* the cache's, while held */
	unsigned runtime_ms;
	enum start_state state;
	uint32_t next;	       /* the next read of the trace */
	uint64_t carry_us;     /* compute owed but not slept: under 1 ms */
	uint32_t first, count; /* START_READ: the blocks it waits for */
	long timer;
	int stepping, again; /* step() is not re-entered from a callback */
};

/* Idle until start_go. runtime_ms is in the world's milliseconds. */
void start_init(struct start *s, struct evloop *l, const struct start_ops *ops,
		void *arg, unsigned runtime_ms);
/* The image is usable: the runtime start, then the trace of ix (borrowed:
 * it must outlive the start, or start_stop first). Only from START_IDLE. */
void start_go(struct start *s, const struct blockimg_index *ix);
/* A block came: a read waiting for it may go on. */
void start_poke(struct start *s);
/* Cancels its timer; the start is then idle and may go again. */
void start_stop(struct start *s);
/* The blocks the current read waits for: 1 with *first and *count, or 0
 * when it waits for none (what image.c asks for first). */
int start_waiting(const struct start *s, uint32_t *first, uint32_t *count);

/* Pure parts, unit-tested. */

/* Adds gap_us to the compute owed (*carry_us) and returns the whole world
 * milliseconds to sleep now, keeping the remainder: thousands of gaps under
 * a millisecond are neither lost nor each rounded up to one. */
unsigned start_gap_ms(uint64_t *carry_us, uint32_t gap_us);
/* The blocks read r of ix covers: 0, or -ERANGE (a read past the layer,
 * which a checked index never holds). A read of 0 bytes covers none. */
int start_read_blocks(const struct blockimg_index *ix,
		      const struct blockimg_read *r, uint32_t *first,
		      uint32_t *count);

#endif

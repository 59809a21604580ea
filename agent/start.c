#include <errno.h>
#include <string.h>

#include "start.h"

unsigned start_gap_ms(uint64_t *carry_us, uint32_t gap_us)
{
	uint64_t ms;

	*carry_us += gap_us;
	ms = *carry_us / 1000;
	*carry_us -= ms * 1000;
	/* A gap is at most a minute (BLOCKIMG_MAX_GAP_US) and the carry
	 * under a millisecond, so this always fits. */
	return (unsigned)ms;
}

int start_read_blocks(const struct blockimg_index *ix,
		      const struct blockimg_read *r, uint32_t *first,
		      uint32_t *count)
{
	return blockimg_range(ix, r->offset, r->len, first, count);
}

void start_init(struct start *s, struct evloop *l, const struct start_ops *ops,
		void *arg, unsigned runtime_ms)
{
	memset(s, 0, sizeof(*s));
	s->l = l;
	s->ops = ops;
	s->arg = arg;
	s->runtime_ms = runtime_ms;
	s->state = START_IDLE;
}

static void step(struct start *s);

static void timer_fired(struct evloop *l, void *arg)
{
	struct start *s = arg;

	(void)l;
	s->timer = 0;
	s->state = START_READ;
	step(s);
}

/* Sleeps ms of the world, then reads. A timer the loop cannot arm (out of
 * memory) is not slept: the start goes on late rather than never. */
static void sleep_then_read(struct start *s, enum start_state st, unsigned ms)
{
	long t = ms ? evloop_timer(s->l, ms, timer_fired, s) : -1;

	if (t > 0) {
		s->timer = t;
		s->state = st;
		return;
	}
	s->state = START_READ;
	step(s);
}

/* The gap before read s->next, then the read. */
static void next_read(struct start *s)
{
	unsigned ms = 0;

	if (s->ix->ntrace)
		ms = start_gap_ms(&s->carry_us, s->ix->trace[s->next].gap_us);
	sleep_then_read(s, START_GAP, ms);
}

/* 1 when the current read has what it needs; else it waits (and asks,
 * once per read, for what it lacks). */
static int read_ready(struct start *s)
{
	uint32_t first = 0, count = 0, b;

	if (!s->ix->ntrace) {
		/* No trace: the start-up set is fetched as a whole (the
		 * image wants it), and the start waits for all of it. */
		s->first = s->count = 0;
		return s->ops->startup_present(s->arg);
	}
	/* A checked index never reads past its layer; were it to, the read
	 * is taken as reading nothing rather than stalling the start. */
	if (start_read_blocks(s->ix, &s->ix->trace[s->next], &first, &count))
		count = 0;
	for (b = first; b < first + count && s->ops->present(s->arg, b); b++)
		;
	if (b == first + count) {
		s->count = 0;
		return 1;
	}
	if (!s->count) {
		s->first = first;
		s->count = count;
		s->ops->need(s->arg, s, first, count);
	}
	return 0;
}

static void step(struct start *s)
{
	if (s->stepping) {
		s->again = 1;
		return;
	}
	s->stepping = 1;
	do {
		s->again = 0;
		while (s->state == START_READ && read_ready(s)) {
			if (s->ix->ntrace && ++s->next < s->ix->ntrace) {
				next_read(s);
				continue;
			}
			s->state = START_DONE;
			s->ops->done(s->arg, s);
		}
	} while (s->again);
	s->stepping = 0;
}

void start_go(struct start *s, const struct blockimg_index *ix)
{
	if (s->state != START_IDLE)
		return;
	s->ix = ix;
	s->next = 0;
	s->carry_us = 0;
	s->count = 0;
	s->timer = 0;
	/* The runtime's own start, then the first read's gap: one sleep. */
	if (ix->ntrace)
		s->carry_us = (uint64_t)s->runtime_ms * 1000;
	else if (s->runtime_ms) {
		sleep_then_read(s, START_RUNTIME, s->runtime_ms);
		return;
	}
	next_read(s);
}

void start_poke(struct start *s)
{
	if (s->state == START_READ)
		step(s);
}

void start_stop(struct start *s)
{
	if (s->timer)
		evloop_cancel(s->l, s->timer);
	s->timer = 0;
	s->count = 0;
	s->ix = NULL;
	if (s->state != START_DONE)
		s->state = START_IDLE;
}

int start_waiting(const struct start *s, uint32_t *first, uint32_t *count)
{
	if (s->state != START_READ || !s->count)
		return 0;
	*first = s->first;
	*count = s->count;
	return 1;
}

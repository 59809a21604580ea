/* image: one function's image on this VM, and the policy that fetches it.
 * It owns the image's cache (cache.c) and its two sources (source.c: the
 * parent in the function tree, and the registry), decides which to ask
 * and when (back-off with jitter, budgets per request, leaving a failing
 * or lying parent for the registry), takes what the sources hand back
 * into the cache, hands each new block to the children (children.c) and
 * drives its containers' starts (start.c): what a start's read waits for
 * is asked for first, then the rest of the start-up set, then the
 * background. Not the manager link, not the
 * listening socket: those are agent.c's. */
#ifndef FAASNET_AGENT_IMAGE_H
#define FAASNET_AGENT_IMAGE_H

#include <stdint.h>

#include "agent.h"
#include "cache.h"
#include "children.h"
#include "err.h"
#include "eventlog.h"
#include "evloop.h"
#include "proto.h"
#include "regworker.h"
#include "source.h"
#include "start.h"

#define IMAGE_FN_MAX 128

/* What every image of one agent shares; the agent's. */
struct image_env {
	struct evloop *l;
	struct eventlog *log;
	struct regworker *rw;
	struct children *children;
	const struct agent_opts *o;
	/* A container is up: the agent tells the manager (now, or when it
	 * reconnects). */
	void (*started)(void *arg, const char *function, uint32_t container,
			uint64_t t_ns);
	/* The parent served bytes that failed their check, or stopped
	 * answering in time: the agent tells the manager (SUSPECT, of that
	 * kind), which decides what to believe (manager.c, suspect). */
	void (*suspect)(void *arg, const char *function,
			struct proto_peer parent, enum proto_suspect_kind kind,
			const char *why);
	void *arg;
	uint32_t rnd; /* back-off jitter */
};

struct container {
	struct image *im;
	uint32_t id;
	uint64_t t_cmd;
	uint64_t t_started; /* resent to a reconnecting manager */
	int started;
	int ready_logged; /* image_ready is in the timeline */
	struct start st;  /* the runtime start and the trace's replay */
	struct container *next;
};

struct image {
	struct image_env *env;
	char function[IMAGE_FN_MAX];
	uint8_t strategy;
	struct cache cache;
	struct proto_peer parent; /* addr 0: the registry */
	struct source *peer;	  /* the parent's back end, or NULL */
	struct source *reg;	  /* the registry's */
	/* The parent failed SOURCE_PARENT_FAILS times in a row, lied or
	 * was unresponsive: the registry, until it fails too or the manager
	 * names another parent. */
	int use_registry;
	int meta_asked;	     /* a META request in flight */
	int layer_asked;     /* registry strategy: a LAYER request in flight */
	int layer_local;     /* registry strategy: the whole layer is here */
	int ready;	     /* the start-up set was here (image_ready) */
	unsigned fails;	     /* failures in a row, for the back-off */
	unsigned meta_tries; /* of the meta (or the layer), this parent */
	uint8_t *tries;	     /* per block, this parent */
	long retry_timer;    /* armed: nothing is asked until it fires */
	int startup_wanted;
	int first_block_logged;
	int gave_up;
	struct container *cts;
	uint64_t old_parent_bytes, served;
	unsigned refetches, corrupt, lies, unresponsive;
	struct image *next; /* the agent's list */
};

/* A new image, fetching nothing yet. -EINVAL with e for a reference that
 * pins something other than a sha256 digest. */
int image_new(struct image_env *env, const char *function, const char *ref,
	      uint8_t strategy, struct image **out, struct err *e)
	__attribute__((warn_unused_result));
void image_free(struct image *im);

/* A container of this image to run: fetched from parent (the registry
 * for addr 0, and for ondemand whatever the manager says). Once the image
 * is usable, the runtime takes runtime_ms (the world's) to create it, and
 * then its start-up trace is played (start.c). */
void image_provision(struct image *im, uint32_t container,
		     struct proto_peer parent, unsigned runtime_ms);
/* The manager moved this VM to another parent in the function's tree. */
void image_set_parent(struct image *im, struct proto_peer p);
/* The VM left the function's tree: its blocks go (those queued for a
 * child live until written), its containers are forgotten. Returns the
 * blocks dropped. */
uint32_t image_evict(struct image *im);
/* Some blocks became WANTED (a child asked): ask for them. */
void image_fetch(struct image *im);
/* Time-outs of requests in flight. */
void image_tick(struct image *im, uint64_t now_ns);

void image_log(struct image *im, const char *ev, json_t *f);
uint64_t image_parent_bytes(const struct image *im);
uint64_t image_registry_bytes(const struct image *im);

#endif

/* regworker: the agent's one thread that speaks HTTP to the registry, so
 * the event loop never waits on it. Jobs go in with regworker_submit;
 * results come back on a queue that the loop drains when the worker's
 * eventfd turns readable. The worker checks the manifest (against the
 * pinned digest) and the config, which its layer pulls rely on; the block
 * index and the blocks it posts as read, for the cache to verify, parse
 * and decompress once. It keeps no index of its own: a block job says
 * where each block lies. */
#ifndef FAASNET_AGENT_REGWORKER_H
#define FAASNET_AGENT_REGWORKER_H

#include <stddef.h>
#include <stdint.h>

#include "blockimg.h"

enum regjob_kind {
	REGJOB_META,   /* manifest and config of an image */
	REGJOB_INDEX,  /* the block index of its first block layer */
	REGJOB_BLOCKS, /* some blocks of that layer */
	REGJOB_LAYER,  /* the whole tar+gzip layer, unpacked and checked */
};

enum regres_kind {
	REGRES_META,
	REGRES_BLOCK,
	REGRES_LAYER_DONE,
	REGRES_DONE, /* a block job delivered every block it was given */
	REGRES_ERROR,
};

struct regres {
	enum regres_kind kind;
	void *tag; /* the submitter's, back as given */
	/* META: the documents a META job (manifest, config) or an INDEX job
	 * (index) read, as read (malloc'd, the receiver owns them) */
	uint8_t *manifest, *config, *index;
	size_t manifest_len, config_len, index_len;
	/* BLOCK: compressed, as read: the cache checks it (malloc'd) */
	uint32_t block;
	uint8_t *cdata;
	size_t clen;
	/* LAYER_DONE: bytes read from the registry */
	uint64_t bytes;
	/* ERROR: the job that failed; for blocks, the ones it was given
	 * (malloc'd, the receiver owns them; some may have been delivered) */
	enum regjob_kind job;
	uint32_t *blocks, nblocks;
	int error;
	char msg[256];
	struct regres *next;
};

struct regworker;

/* Starts the thread; *efd becomes readable when results wait. Block jobs
 * keep up to `parallel` range requests in flight; meta_dir (kept, not
 * copied) is the node's metadata store, or NULL; via (kept, not copied),
 * when not NULL, is the "HOST:PORT" that every request goes to in place of
 * the host a job's reference names (agent_opts.registry_via); the
 * registry's time-outs are dilated k times (0 or 1: not). */
int regworker_start(struct regworker **w, unsigned parallel,
		    const char *meta_dir, const char *via, double k, int *efd);
/* Queues a job. For REGJOB_BLOCKS, blocks[0..n) are copied, and where each
 * lies is read from ix now, on the caller's thread: the index the caller's
 * cache checked (-ERANGE for a block it does not have). */
int regworker_submit(struct regworker *w, enum regjob_kind kind,
		     const char *ref, const struct blockimg_index *ix,
		     const uint32_t *blocks, uint32_t n, void *tag);
/* Takes every waiting result, oldest first (free each with regres_free). */
struct regres *regworker_take(struct regworker *w);
void regres_free(struct regres *r);
/* Stops the thread (a job in progress finishes first) and frees all. */
void regworker_stop(struct regworker *w);

#endif

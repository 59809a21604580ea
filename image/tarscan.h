/* tarscan: reads a tar stream (ustar, GNU long names, pax paths and sizes)
 * fed in pieces of any size, and tells its caller of every entry with the
 * offset of its data in the stream, then of the data itself. It owns the
 * tar format; what to do with an entry (unpack it, index it) is the
 * caller's. No I/O. */
#ifndef FAASNET_IMAGE_TARSCAN_H
#define FAASNET_IMAGE_TARSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Entry types, as tar spells them. */
enum tarscan_type {
	TARSCAN_REG = '0',
	TARSCAN_HARDLINK = '1',
	TARSCAN_SYMLINK = '2',
	TARSCAN_CHAR = '3',
	TARSCAN_BLOCK = '4',
	TARSCAN_DIR = '5',
	TARSCAN_FIFO = '6',
};

struct tarscan_entry {
	const char *name;     /* as archived (often "./usr/bin/x") */
	const char *linkname; /* hard or symbolic link target, else "" */
	char type;	      /* enum tarscan_type ('\0' and '7' read as '0') */
	uint32_t mode;
	int64_t mtime;	   /* seconds */
	uint64_t size;	   /* data bytes (0 but for regular files) */
	uint64_t data_off; /* where the data starts in the stream */
};

struct tarscan_ops {
	/* Every entry, before its data. */
	int (*entry)(void *arg, const struct tarscan_entry *en, struct err *e);
	/* The entry's data in pieces, in order (none when size is 0); may be
	 * NULL. */
	int (*data)(void *arg, const struct tarscan_entry *en, const void *buf,
		    size_t len, struct err *e);
	/* Once the entry's data is all given; may be NULL. */
	int (*entry_end)(void *arg, const struct tarscan_entry *en,
			 struct err *e);
};

struct tarscan;

int tarscan_new(const struct tarscan_ops *ops, void *arg, struct tarscan **ts)
	__attribute__((warn_unused_result));
/* Feeds bytes. A malformed header is -EBADMSG naming its offset
 * ("tar: offset 1536: header checksum 1234, computed 4321"); a callback's
 * error is returned as it is. */
int tarscan_add(struct tarscan *ts, const void *buf, size_t len, struct err *e)
	__attribute__((warn_unused_result));
/* The stream has ended: -EBADMSG when it ends inside an entry. */
int tarscan_finish(struct tarscan *ts, struct err *e)
	__attribute__((warn_unused_result));
/* Bytes fed so far. */
uint64_t tarscan_offset(const struct tarscan *ts);
void tarscan_free(struct tarscan *ts);

#endif

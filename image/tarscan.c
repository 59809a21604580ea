#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarscan.h"

#define BLOCK 512
/* A long name or pax header larger than this is not a root filesystem's. */
#define META_MAX (1u << 20)

enum state { ST_HEADER, ST_DATA, ST_PAD, ST_END };

/* What a GNU 'L'/'K' or pax 'x' entry says of the entry after it. */
struct pending {
	char *name, *linkname;
	int has_size;
	uint64_t size;
};

struct tarscan {
	const struct tarscan_ops *ops;
	void *arg;
	enum state st;
	uint64_t off; /* bytes fed */
	uint8_t hdr[BLOCK];
	size_t hlen;
	int zeros; /* zero blocks in a row */
	uint64_t left, pad;
	char meta_type; /* 'L', 'K', 'x', 'g' while reading one, else 0 */
	char *meta;
	size_t mlen;
	struct pending p;
	struct tarscan_entry en;
	char *name, *linkname; /* en's strings */
};

int tarscan_new(const struct tarscan_ops *ops, void *arg, struct tarscan **ts)
{
	*ts = calloc(1, sizeof(**ts));
	if (!*ts)
		return -ENOMEM;
	(*ts)->ops = ops;
	(*ts)->arg = arg;
	return 0;
}

static void pending_clear(struct pending *p)
{
	free(p->name);
	free(p->linkname);
	memset(p, 0, sizeof(*p));
}

void tarscan_free(struct tarscan *ts)
{
	if (!ts)
		return;
	pending_clear(&ts->p);
	free(ts->meta);
	free(ts->name);
	free(ts->linkname);
	free(ts);
}

uint64_t tarscan_offset(const struct tarscan *ts)
{
	return ts->off;
}

/* An octal field, or GNU's base-256 (high bit of the first byte set). */
static int number(const uint8_t *f, size_t n, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	if (f[0] & 0x80) {
		if (n > 9 && (f[0] & 0x7f))
			return -1;
		for (i = 1; i < n; i++) {
			if (*v >> 56)
				return -1;
			*v = *v << 8 | f[i];
		}
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (*v >> 61)
			return -1;
		*v = *v << 3 | (uint64_t)(f[i] - '0');
	}
	/* The field ends with NUL or space, or fills its width. */
	return i == n || f[i] == '\0' || f[i] == ' ' ? 0 : -1;
}

static char *field(const uint8_t *f, size_t n)
{
	return strndup((const char *)f, strnlen((const char *)f, n));
}

/* "LEN key=value\n" records: path, linkpath and size are what a root
 * filesystem's tar needs; other keys (times, xattrs) are skipped. */
static int parse_pax(struct tarscan *ts, uint64_t at, struct err *e)
{
	size_t i = 0;

	while (i < ts->mlen) {
		char *end, *eq, *val;
		unsigned long long rl;
		size_t klen, vlen;

		/* Digits first: strtoull would skip blanks and take a sign,
		 * and the record's newline could then come before the
		 * space that ends its length. */
		if (ts->meta[i] < '0' || ts->meta[i] > '9')
			return err_set(e, -EBADMSG,
				       "tar: offset %" PRIu64
				       ": malformed pax record",
				       at);
		rl = strtoull(ts->meta + i, &end, 10);
		if (*end != ' ' || rl == 0 || rl > ts->mlen - i ||
		    ts->meta[i + rl - 1] != '\n')
			return err_set(e, -EBADMSG,
				       "tar: offset %" PRIu64
				       ": malformed pax record",
				       at);
		/* The key and value: after the space, before the newline. */
		eq = memchr(end + 1, '=',
			    (size_t)(ts->meta + i + rl - 1 - end));
		if (!eq)
			return err_set(e, -EBADMSG,
				       "tar: offset %" PRIu64
				       ": pax record without '='",
				       at);
		klen = (size_t)(eq - end - 1);
		val = eq + 1;
		vlen = (size_t)(ts->meta + i + rl - 1 - val);
		if (klen == 4 && !memcmp(end + 1, "path", 4)) {
			free(ts->p.name);
			ts->p.name = strndup(val, vlen);
		} else if (klen == 8 && !memcmp(end + 1, "linkpath", 8)) {
			free(ts->p.linkname);
			ts->p.linkname = strndup(val, vlen);
		} else if (klen == 4 && !memcmp(end + 1, "size", 4)) {
			ts->p.size = strtoull(val, NULL, 10);
			ts->p.has_size = 1;
		}
		i += rl;
	}
	return 0;
}

static int meta_done(struct tarscan *ts, struct err *e)
{
	uint64_t at = ts->off;
	char *s;

	if (ts->meta_type == 'x')
		return parse_pax(ts, at, e);
	if (ts->meta_type == 'g')
		return 0;
	s = strndup(ts->meta ? ts->meta : "", ts->mlen);
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	if (ts->meta_type == 'L') {
		free(ts->p.name);
		ts->p.name = s;
	} else {
		free(ts->p.linkname);
		ts->p.linkname = s;
	}
	return 0;
}

static int header(struct tarscan *ts, struct err *e)
{
	const uint8_t *h = ts->hdr;
	uint64_t at = ts->off - BLOCK, sum = 0, want, size, mode, mtime;
	char type = (char)h[156];
	size_t i;
	int ret;

	for (i = 0; i < BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	if (number(h + 148, 8, &want) || want != sum)
		return err_set(e, -EBADMSG,
			       "tar: offset %" PRIu64
			       ": header checksum %" PRIu64
			       ", computed %" PRIu64,
			       at, want, sum);
	if (number(h + 124, 12, &size) || number(h + 100, 8, &mode) ||
	    number(h + 136, 12, &mtime))
		return err_set(e, -EBADMSG,
			       "tar: offset %" PRIu64 ": bad number field", at);
	if (type != 'L' && type != 'K' && type != 'x' && type != 'g' &&
	    ts->p.has_size)
		size = ts->p.size;
	ts->left = size;
	ts->pad = (BLOCK - size % BLOCK) % BLOCK;
	ts->st = ST_DATA;
	if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
		if (size > META_MAX)
			return err_set(e, -EBADMSG,
				       "tar: offset %" PRIu64
				       ": %c header of %" PRIu64 " bytes",
				       at, type, size);
		ts->meta_type = type;
		ts->mlen = 0;
		free(ts->meta);
		/* One more for a NUL after the data: strtoull reads a pax
		 * record's length up to a byte that is not a digit. */
		ts->meta = malloc(size + 1);
		if (!ts->meta)
			return err_set(e, -ENOMEM, "out of memory");
		ts->meta[0] = '\0';
		return 0;
	}
	ts->meta_type = 0;
	free(ts->name);
	free(ts->linkname);
	if (ts->p.name) {
		ts->name = ts->p.name;
	} else if (!memcmp(h + 257, "ustar\0", 6) && h[345]) {
		/* POSIX ustar: prefix "/" name (GNU keeps times there). */
		char *pre = field(h + 345, 155), *nm = field(h, 100);
		size_t n = pre && nm ? strlen(pre) + strlen(nm) + 2 : 0;

		ts->name = n ? malloc(n) : NULL;
		if (ts->name)
			snprintf(ts->name, n, "%s/%s", pre, nm);
		free(pre);
		free(nm);
	} else {
		ts->name = field(h, 100);
	}
	ts->linkname = ts->p.linkname ? ts->p.linkname : field(h + 157, 100);
	ts->p.name = ts->p.linkname = NULL;
	pending_clear(&ts->p);
	if (!ts->name || !ts->linkname)
		return err_set(e, -ENOMEM, "out of memory");
	ts->en.name = ts->name;
	ts->en.linkname = ts->linkname;
	ts->en.type = type == '\0' || type == '7' ? TARSCAN_REG : type;
	ts->en.mode = (uint32_t)(mode & 07777);
	ts->en.mtime = (int64_t)mtime;
	ts->en.size = size;
	ts->en.data_off = ts->off;
	/* Links, directories and devices carry no data whatever size says. */
	if (ts->en.type != TARSCAN_REG && ts->en.type != 'S')
		ts->en.size = 0;
	ret = ts->ops->entry ? ts->ops->entry(ts->arg, &ts->en, e) : 0;
	if (!ret && !size && ts->ops->entry_end)
		ret = ts->ops->entry_end(ts->arg, &ts->en, e);
	if (!size)
		ts->st = ST_PAD;
	return ret;
}

int tarscan_add(struct tarscan *ts, const void *buf, size_t len, struct err *e)
{
	const uint8_t *p = buf;
	int ret = 0;

	while (len && !ret) {
		size_t n;

		switch (ts->st) {
		case ST_END:
			ts->off += len;
			return 0;
		case ST_HEADER:
			n = BLOCK - ts->hlen < len ? BLOCK - ts->hlen : len;
			memcpy(ts->hdr + ts->hlen, p, n);
			ts->hlen += n;
			ts->off += n;
			p += n;
			len -= n;
			if (ts->hlen < BLOCK)
				break;
			ts->hlen = 0;
			if (!memcmp(ts->hdr, ts->hdr + 1, BLOCK - 1) &&
			    !ts->hdr[0]) {
				if (++ts->zeros == 2)
					ts->st = ST_END;
				break;
			}
			ts->zeros = 0;
			ret = header(ts, e);
			break;
		case ST_DATA:
			n = ts->left < len ? (size_t)ts->left : len;
			if (ts->meta_type) {
				memcpy(ts->meta + ts->mlen, p, n);
				ts->mlen += n;
				ts->meta[ts->mlen] = '\0';
			} else if (ts->ops->data && n && ts->en.size) {
				/* Only an entry that has data: the bytes a
				 * link's or folder's header counts are
				 * skipped, as its size of 0 says. */
				ret = ts->ops->data(ts->arg, &ts->en, p, n, e);
			}
			ts->left -= n;
			ts->off += n;
			p += n;
			len -= n;
			if (!ret && !ts->left) {
				ts->st = ST_PAD;
				if (ts->meta_type)
					ret = meta_done(ts, e);
				else if (ts->ops->entry_end)
					ret = ts->ops->entry_end(ts->arg,
								 &ts->en, e);
			}
			break;
		case ST_PAD:
			n = ts->pad < len ? (size_t)ts->pad : len;
			ts->pad -= n;
			ts->off += n;
			p += n;
			len -= n;
			if (!ts->pad)
				ts->st = ST_HEADER;
			break;
		}
	}
	return ret;
}

int tarscan_finish(struct tarscan *ts, struct err *e)
{
	/* A stream may end without its two zero blocks (some writers stop at
	 * one); ending inside an entry is another thing. */
	if (ts->st == ST_END || (ts->st == ST_HEADER && !ts->hlen) ||
	    (ts->st == ST_PAD && !ts->pad))
		return 0;
	return err_set(e, -EBADMSG,
		       "tar: stream ends at offset %" PRIu64 " inside an entry",
		       ts->off);
}

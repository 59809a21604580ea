#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "layer.h"
#include "sha256.h"

#define GZ_OUT	   (256u << 10)
#define ZSTD_LEVEL 3

/* A file being written whose sha256 is computed on the way out. */
struct hashed_file {
	char path[4096];
	FILE *f;
	struct sha256_ctx sha;
	uint64_t size;
	int sha_live;
};

struct layer_builder {
	char dir[4096];
	struct sha256_ctx diff; /* of the uncompressed tar: the diff_id */
	int diff_live;
	uint64_t size;
	struct blockimg_writer *w;
	FILE *data_cookie; /* what w writes to: hashes into data */
	struct hashed_file data;
	int gzip;
	z_stream z;
	struct hashed_file gz;
	uint8_t *zout;
};

static ssize_t hf_write(void *cookie, const char *buf, size_t len)
{
	struct hashed_file *h = cookie;

	if (sha256_update(&h->sha, buf, len))
		return -1;
	h->size += len;
	return (ssize_t)len;
}

static int hf_open(struct hashed_file *h, const char *dir, const char *name,
		   struct err *e)
{
	int ret, fd,
		n = snprintf(h->path, sizeof(h->path), "%s/blobs/.%s.%d", dir,
			     name, (int)getpid());

	if (n < 0 || (size_t)n >= sizeof(h->path))
		return err_set(e, -ENAMETOOLONG, "%s: path too long", dir);
	/* A name anyone can guess: created anew, never through a link
	 * planted there (a stale one of ours, from a killed process with
	 * this PID, is removed first). */
	unlink(h->path);
	fd = open(h->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	h->f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!h->f) {
		ret = err_set(e, -errno, "%s: %s", h->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (sha256_init(&h->sha)) {
		fclose(h->f);
		h->f = NULL;
		unlink(h->path);
		return err_set(e, -ENOMEM, "sha256: out of memory");
	}
	h->sha_live = 1;
	h->size = 0;
	return 0;
}

static int hf_write_all(struct hashed_file *h, const void *buf, size_t len,
			struct err *e)
{
	if (fwrite(buf, 1, len, h->f) != len)
		return err_set(e, -EIO, "%s: write failed", h->path);
	if (hf_write(h, buf, len) < 0)
		return err_set(e, -EIO, "sha256 failed");
	return 0;
}

/* Closes, names the blob by its digest and moves it into the layout. */
static int hf_finish(struct hashed_file *h, const char *dir, struct oci_desc *d,
		     const char *media_type, struct err *e)
{
	uint8_t dg[SHA256_LEN];
	int ret;

	ret = fclose(h->f) ? -errno : 0;
	h->f = NULL;
	if (ret)
		return err_set(e, ret, "%s: %s", h->path, strerror(-ret));
	ret = sha256_final(&h->sha, dg);
	h->sha_live = 0;
	if (ret)
		return err_set(e, ret, "sha256 failed");
	sha256_oci(dg, d->digest);
	d->size = h->size;
	snprintf(d->media_type, sizeof(d->media_type), "%s", media_type);
	ret = oci_layout_adopt(dir, h->path, d->digest, e);
	if (!ret)
		h->path[0] = '\0';
	return ret;
}

static void hf_drop(struct hashed_file *h)
{
	if (h->f)
		fclose(h->f);
	h->f = NULL;
	if (h->sha_live)
		sha256_abort(&h->sha);
	h->sha_live = 0;
	if (h->path[0])
		unlink(h->path);
	h->path[0] = '\0';
}

/* The block writer writes to a FILE; this one hashes what passes through
 * to the real file, so the data blob is read once. */
static ssize_t data_write(void *cookie, const char *buf, size_t len)
{
	struct hashed_file *h = cookie;

	if (fwrite(buf, 1, len, h->f) != len)
		return -1;
	return hf_write(h, buf, len);
}

static int gz_pump(struct layer_builder *lb, int flush, struct err *e)
{
	int zr, ret;

	do {
		lb->z.next_out = lb->zout;
		lb->z.avail_out = GZ_OUT;
		zr = deflate(&lb->z, flush);
		if (zr == Z_STREAM_ERROR)
			return err_set(e, -EIO, "gzip: deflate failed");
		ret = hf_write_all(&lb->gz, lb->zout, GZ_OUT - lb->z.avail_out,
				   e);
		if (ret)
			return ret;
	} while (lb->z.avail_out == 0 ||
		 (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

int layer_builder_new(const char *layout_dir, uint32_t block_size,
		      int gzip_level, struct layer_builder **out, struct err *e)
{
	cookie_io_functions_t io = {.write = data_write};
	struct layer_builder *lb;
	FILE *cookie = NULL;
	int ret;

	*out = NULL;
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return err_set(e, -ENOMEM, "out of memory");
	snprintf(lb->dir, sizeof(lb->dir), "%s", layout_dir);
	if (sha256_init(&lb->diff)) {
		free(lb);
		return err_set(e, -ENOMEM, "sha256: out of memory");
	}
	lb->diff_live = 1;
	ret = hf_open(&lb->data, layout_dir, "data", e);
	if (ret)
		goto fail;
	cookie = fopencookie(&lb->data, "w", io);
	if (!cookie) {
		ret = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	ret = blockimg_writer_new(block_size, ZSTD_LEVEL, cookie, &lb->w, e);
	if (ret)
		goto fail;
	lb->data_cookie = cookie;
	cookie = NULL;
	if (gzip_level >= 0) {
		lb->zout = malloc(GZ_OUT);
		/* 15 + 16: a gzip wrapper, as docker's layers have. */
		if (!lb->zout ||
		    deflateInit2(&lb->z, gzip_level, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
			ret = err_set(e, -ENOMEM, "gzip: out of memory");
			goto fail;
		}
		lb->gzip = 1;
		ret = hf_open(&lb->gz, layout_dir, "gzip", e);
		if (ret)
			goto fail;
	}
	*out = lb;
	return 0;
fail:
	if (cookie)
		fclose(cookie);
	layer_builder_free(lb);
	return ret;
}

int layer_builder_add(struct layer_builder *lb, const void *buf, size_t len,
		      struct err *e)
{
	int ret;

	if (sha256_update(&lb->diff, buf, len))
		return err_set(e, -EIO, "sha256 failed");
	lb->size += len;
	ret = blockimg_writer_add(lb->w, buf, len, e);
	if (ret || !lb->gzip)
		return ret;
	lb->z.next_in = (Bytef *)(uintptr_t)buf;
	lb->z.avail_in = (uInt)len;
	return gz_pump(lb, Z_NO_FLUSH, e);
}

int layer_builder_finish(struct layer_builder *lb, layer_startup_fn startup,
			 void *arg, struct oci_layer *l,
			 struct blockimg_index *ixp, struct err *e)
{
	struct blockimg_index ix = {0};
	uint8_t dg[SHA256_LEN], *enc = NULL;
	size_t enclen;
	int ret;

	memset(l, 0, sizeof(*l));
	ret = blockimg_writer_finish(lb->w, &ix, e);
	lb->w = NULL;
	if (ret)
		goto out;
	if (fclose(lb->data_cookie)) {
		lb->data_cookie = NULL;
		ret = err_set(e, -EIO, "%s: write failed", lb->data.path);
		goto out;
	}
	lb->data_cookie = NULL;
	ret = hf_finish(&lb->data, lb->dir, &l->data, BLOCKIMG_DATA_MEDIA_TYPE,
			e);
	if (!ret && lb->gzip) {
		ret = gz_pump(lb, Z_FINISH, e);
		if (!ret)
			ret = hf_finish(&lb->gz, lb->dir, &l->blob,
					OCI_LAYER_GZIP_MEDIA_TYPE, e);
	}
	if (!ret && startup)
		ret = startup(arg, &ix, e);
	if (!ret)
		ret = blockimg_index_encode(&ix, &enc, &enclen);
	if (!ret)
		ret = oci_layout_put(lb->dir, enc, enclen, l->index.digest, e);
	if (ret)
		goto out;
	l->index.size = enclen;
	snprintf(l->index.media_type, sizeof(l->index.media_type), "%s",
		 blockimg_index_media_type(&ix));
	l->has_blocks = 1;
	ret = sha256_final(&lb->diff, dg);
	lb->diff_live = 0;
	if (ret)
		goto out;
	sha256_oci(dg, l->diff_id);
	if (ixp) {
		*ixp = ix;
		memset(&ix, 0, sizeof(ix));
	}
out:
	if (ret && e && !e->msg[0])
		err_set(e, ret, "layer: %s", strerror(-ret));
	free(enc);
	blockimg_index_free(&ix);
	layer_builder_free(lb);
	return ret;
}

void layer_builder_free(struct layer_builder *lb)
{
	if (!lb)
		return;
	blockimg_writer_free(lb->w);
	if (lb->data_cookie)
		fclose(lb->data_cookie);
	hf_drop(&lb->data);
	if (lb->gzip)
		deflateEnd(&lb->z);
	hf_drop(&lb->gz);
	free(lb->zout);
	if (lb->diff_live)
		sha256_abort(&lb->diff);
	free(lb);
}

/* Inflates what z holds of the input into sink, an out buffer at a time.
 * A full buffer may mean more output or none: inflate then says
 * Z_BUF_ERROR, which only asks for more input, and the next read brings it
 * (the last read's Z_BUF_ERROR is a stream that ends early). A member's end
 * with input after it starts the next member: a gzip file is a series of
 * members (RFC 1952), as gzip -d and Go's reader, which pulls layers, take
 * it. *zr is inflate's last word, kept across calls. */
static int inflate_some(z_stream *z, int *zr, uint8_t *out, const char *path,
			layer_sink_fn sink, void *arg, struct err *e)
{
	int ret;

	do {
		if (*zr == Z_STREAM_END) {
			if (!z->avail_in)
				return 0;
			if (inflateReset(z) != Z_OK)
				return err_set(e, -EBADMSG,
					       "%s: not valid gzip (%s)", path,
					       z->msg ? z->msg : "?");
		}
		z->next_out = out;
		z->avail_out = LAYER_READ_CHUNK;
		*zr = inflate(z, Z_NO_FLUSH);
		if (*zr == Z_BUF_ERROR)
			return 0;
		if (*zr != Z_OK && *zr != Z_STREAM_END)
			return err_set(e, -EBADMSG, "%s: not valid gzip (%s)",
				       path, z->msg ? z->msg : "?");
		ret = sink(arg, out, LAYER_READ_CHUNK - z->avail_out, e);
		if (ret)
			return ret;
	} while (z->avail_out == 0 || (*zr == Z_STREAM_END && z->avail_in));
	return 0;
}

int layer_read_tar(const char *path, const char *media_type, layer_sink_fn sink,
		   void *arg, struct err *e)
{
	int gz = strstr(media_type, "gzip") != NULL;
	uint8_t *in = NULL, *out = NULL;
	z_stream z = {0};
	ssize_t n;
	int fd, zr = Z_OK, ret = 0;

	if (!gz && strcmp(media_type, OCI_LAYER_TAR_MEDIA_TYPE))
		return err_set(e, -ENOTSUP,
			       "layer media type %s: only "
			       "tar and tar+gzip layers convert",
			       media_type);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	in = malloc(LAYER_READ_CHUNK);
	out = malloc(LAYER_READ_CHUNK);
	/* 15 + 32: zlib detects the gzip header itself. */
	if (!in || !out || (gz && inflateInit2(&z, 15 + 32) != Z_OK)) {
		ret = err_set(e, -ENOMEM, "out of memory");
		gz = 0;
		goto out;
	}
	while (!ret && (n = read(fd, in, LAYER_READ_CHUNK)) > 0) {
		if (!gz) {
			ret = sink(arg, in, (size_t)n, e);
			continue;
		}
		z.next_in = in;
		z.avail_in = (uInt)n;
		ret = inflate_some(&z, &zr, out, path, sink, arg, e);
	}
	if (!ret && n < 0)
		ret = err_set(e, -errno, "%s: %s", path, strerror(errno));
	if (!ret && gz && zr != Z_STREAM_END)
		ret = err_set(e, -EBADMSG, "%s: gzip stream ends early", path);
out:
	if (gz)
		inflateEnd(&z);
	free(in);
	free(out);
	close(fd);
	return ret;
}

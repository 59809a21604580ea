#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci.h"
#include "outfile.h"

/* Index entries, config and manifests are small; anything bigger than this
 * read from a layout is the wrong file. */
#define OCI_SMALL_MAX (16u << 20)
#define OCI_REF_NAME  "org.opencontainers.image.ref.name"

void oci_image_free(struct oci_image *img)
{
	free(img->layers);
	memset(img, 0, sizeof(*img));
}

static int dump(json_t *j, char **out, size_t *len, struct err *e)
{
	char *s;

	if (!j)
		return err_set(e, -ENOMEM, "out of memory building JSON");
	/* Insertion order and no whitespace: the same image gives the same
	 * bytes, so the same digest. */
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return err_set(e, -ENOMEM, "out of memory building JSON");
	*out = s;
	*len = strlen(s);
	return 0;
}

static json_t *desc_json(const struct oci_desc *d)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", d->media_type,
			 "digest", d->digest, "size", (json_int_t)d->size);
}

int oci_config_build(const struct oci_image *img, char **json, size_t *len,
		     struct err *e)
{
	json_t *ids = json_array();
	unsigned i;

	for (i = 0; ids && i < img->nlayers; i++)
		json_array_append_new(ids, json_string(img->layers[i].diff_id));
	return dump(json_pack("{s:s, s:s, s:{}, s:{s:s, s:o}, s:[{s:s}]}",
			      "architecture", "amd64", "os", "linux", "config",
			      "rootfs", "type", "layers", "diff_ids", ids,
			      "history", "created_by", "faasnet-image"),
		    json, len, e);
}

static int parse_desc(json_t *j, const char *what, struct oci_desc *d,
		      struct err *e)
{
	const char *mt = NULL, *dg = NULL;
	json_int_t size = -1;
	uint8_t raw[SHA256_LEN];

	if (json_unpack(j, "{s:s, s:s, s:I}", "mediaType", &mt, "digest", &dg,
			"size", &size) ||
	    size < 0)
		return err_set(e, -EBADMSG,
			       "manifest: %s: expected mediaType, "
			       "digest and size",
			       what);
	if (sha256_parse_oci(dg, raw))
		return err_set(e, -EBADMSG,
			       "manifest: %s: digest \"%.80s\" "
			       "is not sha256:<64 hex>",
			       what, dg);
	if (strlen(mt) >= sizeof(d->media_type))
		return err_set(e, -EBADMSG, "manifest: %s: media type too long",
			       what);
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = (uint64_t)size;
	return 0;
}

/* Annotations are strings; a size is a decimal string. */
static int parse_size(const char *s, uint64_t *v)
{
	char *end;

	/* Digits only: strtoull would also take leading space and a sign,
	 * and wrap " -1" to 2^64 - 1. */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static int parse_blocks(json_t *ann, unsigned i, struct oci_layer *l,
			struct err *e)
{
	const char *ix =
		json_string_value(json_object_get(ann, OCI_ANN_BLOCK_INDEX));
	const char *data =
		json_string_value(json_object_get(ann, OCI_ANN_BLOCK_DATA));
	uint8_t raw[SHA256_LEN];

	if (!ix && !data)
		return 0;
	if (!ix || !data || sha256_parse_oci(ix, raw) ||
	    sha256_parse_oci(data, raw) ||
	    parse_size(json_string_value(
			       json_object_get(ann, OCI_ANN_BLOCK_INDEX_SIZE)),
		       &l->index.size) ||
	    parse_size(json_string_value(
			       json_object_get(ann, OCI_ANN_BLOCK_DATA_SIZE)),
		       &l->data.size))
		return err_set(e, -EBADMSG,
			       "manifest: layer %u: block annotations need "
			       "%s, %s (sha256 digests) and their sizes",
			       i, OCI_ANN_BLOCK_INDEX, OCI_ANN_BLOCK_DATA);
	l->has_blocks = 1;
	snprintf(l->index.digest, sizeof(l->index.digest), "%s", ix);
	snprintf(l->index.media_type, sizeof(l->index.media_type), "%s",
		 "application/vnd.faasnet.block.index.v1");
	snprintf(l->data.digest, sizeof(l->data.digest), "%s", data);
	snprintf(l->data.media_type, sizeof(l->data.media_type), "%s",
		 "application/vnd.faasnet.block.data.v1+zstd");
	return 0;
}

int oci_manifest_build(const struct oci_image *img, char **json, size_t *len,
		       struct err *e)
{
	json_t *layers = json_array(), *d;
	char isz[24], dsz[24];
	unsigned i;

	for (i = 0; layers && i < img->nlayers; i++) {
		const struct oci_layer *l = &img->layers[i];

		d = desc_json(&l->blob);
		if (d && l->has_blocks) {
			snprintf(isz, sizeof(isz), "%" PRIu64, l->index.size);
			snprintf(dsz, sizeof(dsz), "%" PRIu64, l->data.size);
			json_object_set_new(
				d, "annotations",
				json_pack("{s:s, s:s, s:s, s:s}",
					  OCI_ANN_BLOCK_INDEX, l->index.digest,
					  OCI_ANN_BLOCK_INDEX_SIZE, isz,
					  OCI_ANN_BLOCK_DATA, l->data.digest,
					  OCI_ANN_BLOCK_DATA_SIZE, dsz));
		}
		/* A layer left out would be a different image. */
		if (!d || json_array_append_new(layers, d)) {
			json_decref(layers);
			return err_set(e, -ENOMEM,
				       "out of memory building "
				       "JSON");
		}
	}
	return dump(json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2,
			      "mediaType", OCI_MANIFEST_MEDIA_TYPE, "config",
			      desc_json(&img->config), "layers", layers),
		    json, len, e);
}

int oci_manifest_parse(const char *json, size_t len, struct oci_image *img,
		       struct err *e)
{
	json_error_t je;
	json_t *j, *layers, *l;
	json_int_t version = 0;
	size_t i;
	int ret = 0;

	memset(img, 0, sizeof(*img));
	j = json_loadb(json, len, 0, &je);
	if (!j)
		return err_set(e, -EBADMSG, "manifest: not JSON: %s (line %d)",
			       je.text, je.line);
	layers = json_object_get(j, "layers");
	if (json_unpack(j, "{s:I}", "schemaVersion", &version) ||
	    version != 2 || !json_is_array(layers)) {
		ret = err_set(e, -EBADMSG,
			      "manifest: expected schemaVersion 2 "
			      "and a layers array (an image index "
			      "needs a platform picked first)");
		goto out;
	}
	ret = parse_desc(json_object_get(j, "config"), "config", &img->config,
			 e);
	if (ret)
		goto out;
	img->nlayers = (unsigned)json_array_size(layers);
	img->layers =
		calloc(img->nlayers ? img->nlayers : 1, sizeof(*img->layers));
	if (!img->layers) {
		ret = err_set(e, -ENOMEM, "manifest: out of memory");
		goto out;
	}
	json_array_foreach(layers, i, l)
	{
		char what[32];

		snprintf(what, sizeof(what), "layer %zu", i);
		ret = parse_desc(l, what, &img->layers[i].blob, e);
		if (!ret)
			ret = parse_blocks(json_object_get(l, "annotations"),
					   (unsigned)i, &img->layers[i], e);
		if (ret)
			break;
	}
out:
	json_decref(j);
	if (ret)
		oci_image_free(img);
	return ret;
}

int oci_config_parse_diff_ids(const char *json, size_t len,
			      struct oci_image *img, struct err *e)
{
	json_error_t je;
	json_t *j, *ids;
	uint8_t raw[SHA256_LEN];
	unsigned i;
	int ret = 0;

	j = json_loadb(json, len, 0, &je);
	if (!j)
		return err_set(e, -EBADMSG, "config: not JSON: %s", je.text);
	ids = json_object_get(json_object_get(j, "rootfs"), "diff_ids");
	if (json_array_size(ids) != img->nlayers) {
		ret = err_set(e, -EBADMSG, "config: %zu diff_ids for %u layers",
			      json_array_size(ids), img->nlayers);
		goto out;
	}
	for (i = 0; i < img->nlayers; i++) {
		const char *s = json_string_value(json_array_get(ids, i));

		if (!s || sha256_parse_oci(s, raw)) {
			ret = err_set(e, -EBADMSG,
				      "config: diff_id %u is not a "
				      "sha256 digest",
				      i);
			goto out;
		}
		snprintf(img->layers[i].diff_id, sizeof(img->layers[i].diff_id),
			 "%s", s);
	}
out:
	json_decref(j);
	return ret;
}

/* Write aside then rename: a reader never sees half a file. */
static int write_file(const char *path, const void *buf, size_t len,
		      struct err *e)
{
	struct outfile of;
	const char *p = buf;
	ssize_t n;
	int ret;

	ret = outfile_open(&of, path, 0666, e);
	if (ret)
		return ret;
	while (len) {
		n = write(of.fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = err_set(e, -errno, "%s: %s", of.tmp,
				      strerror(errno));
			outfile_abort(&of);
			return ret;
		}
		p += n;
		len -= (size_t)n;
	}
	return outfile_commit(&of, e);
}

static int read_small(const char *path, char **buf, size_t *len, struct err *e)
{
	struct stat st;
	char *b;
	int fd;
	ssize_t n;
	size_t got = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || st.st_size < 0 ||
	    (uint64_t)st.st_size > OCI_SMALL_MAX) {
		close(fd);
		return err_set(e, -EFBIG, "%s: not a small JSON or index file",
			       path);
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return err_set(e, -ENOMEM, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size &&
	       (n = read(fd, b + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (got != (size_t)st.st_size) {
		free(b);
		return err_set(e, -EIO, "%s: short read", path);
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

static int join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int oci_layout_init(const char *dir, struct err *e)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	static const char *const sub[] = {"", "/blobs", "/blobs/sha256"};
	char p[4096];
	size_t i;
	int n;

	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		n = snprintf(p, sizeof(p), "%s%s", dir, sub[i]);
		if (n < 0 || (size_t)n >= sizeof(p))
			return err_set(e, -ENAMETOOLONG, "%s: path too long",
				       dir);
		if (mkdir(p, 0755) && errno != EEXIST)
			return err_set(e, -errno, "%s: %s", p, strerror(errno));
	}
	if (join(p, sizeof(p), dir, "oci-layout"))
		return err_set(e, -ENAMETOOLONG, "%s: path too long", dir);
	return write_file(p, layout, sizeof(layout) - 1, e);
}

int oci_layout_blob_path(const char *dir, const char *digest, char *buf,
			 size_t len)
{
	uint8_t raw[SHA256_LEN];
	int n;

	if (sha256_parse_oci(digest, raw))
		return -EINVAL;
	n = snprintf(buf, len, "%s/blobs/sha256/%s", dir, digest + 7);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int oci_layout_put(const char *dir, const void *buf, size_t len,
		   char digest[SHA256_OCI_LEN], struct err *e)
{
	uint8_t d[SHA256_LEN];
	char p[4096];
	int ret;

	ret = sha256_buf(buf, len, d);
	if (ret)
		return err_set(e, ret, "sha256 failed");
	sha256_oci(d, digest);
	ret = oci_layout_blob_path(dir, digest, p, sizeof(p));
	if (ret)
		return err_set(e, ret, "%s: path too long", dir);
	return write_file(p, buf, len, e);
}

int oci_layout_adopt(const char *dir, const char *path, const char *digest,
		     struct err *e)
{
	char p[4096];
	int ret;

	ret = oci_layout_blob_path(dir, digest, p, sizeof(p));
	if (ret)
		return err_set(e, ret, "%s: bad digest or path", dir);
	if (rename(path, p))
		return err_set(e, -errno, "%s -> %s: %s", path, p,
			       strerror(errno));
	return 0;
}

int oci_layout_set_manifest(const char *dir, const char *manifest, size_t len,
			    const char *tag, struct err *e)
{
	char digest[SHA256_OCI_LEN], p[4096], *idx;
	size_t ilen;
	int ret;

	if (!tag || !*tag)
		return err_set(e, -EINVAL,
			       "%s: a layout's manifest needs a tag", dir);

	ret = oci_layout_put(dir, manifest, len, digest, e);
	if (ret)
		return ret;
	ret = dump(json_pack("{s:i, s:[{s:s, s:s, s:I, s:{s:s}}]}",
			     "schemaVersion", 2, "manifests", "mediaType",
			     OCI_MANIFEST_MEDIA_TYPE, "digest", digest, "size",
			     (json_int_t)len, "annotations", OCI_REF_NAME, tag),
		   &idx, &ilen, e);
	if (ret)
		return ret;
	if (join(p, sizeof(p), dir, "index.json"))
		ret = err_set(e, -ENAMETOOLONG, "%s: path too long", dir);
	else
		ret = write_file(p, idx, ilen, e);
	free(idx);
	return ret;
}

int oci_layout_read_blob(const char *dir, const char *digest, char **buf,
			 size_t *len, struct err *e)
{
	uint8_t d[SHA256_LEN];
	char p[4096], got[SHA256_OCI_LEN];
	int ret;

	ret = oci_layout_blob_path(dir, digest, p, sizeof(p));
	if (ret)
		return err_set(e, ret, "%s: bad digest \"%.80s\"", dir, digest);
	ret = read_small(p, buf, len, e);
	if (ret)
		return ret;
	if (sha256_buf(*buf, *len, d) || strcmp(sha256_oci(d, got), digest)) {
		free(*buf);
		*buf = NULL;
		return err_set(e, -EBADMSG,
			       "%s: content does not match its "
			       "digest",
			       p);
	}
	return 0;
}

int oci_layout_get_manifest(const char *dir, const char *tag, char **manifest,
			    size_t *len, struct err *e)
{
	json_error_t je;
	json_t *j = NULL, *list, *m, *found = NULL;
	char p[4096], *idx = NULL;
	size_t ilen, i;
	int ret;

	if (join(p, sizeof(p), dir, "index.json"))
		return err_set(e, -ENAMETOOLONG, "%s: path too long", dir);
	ret = read_small(p, &idx, &ilen, e);
	if (ret)
		return ret;
	j = json_loadb(idx, ilen, 0, &je);
	list = json_object_get(j, "manifests");
	if (!json_is_array(list) || !json_array_size(list)) {
		ret = err_set(e, -EBADMSG, "%s: no manifests", p);
		goto out;
	}
	json_array_foreach(list, i, m)
	{
		const char *name = json_string_value(json_object_get(
			json_object_get(m, "annotations"), OCI_REF_NAME));

		if (!tag || (name && !strcmp(name, tag))) {
			found = m;
			break;
		}
	}
	if (!found) {
		ret = err_set(e, -ENOENT, "%s: no manifest tagged \"%s\"", p,
			      tag);
		goto out;
	}
	if (json_array_size(list) > 1 && !tag) {
		ret = err_set(e, -EINVAL, "%s: %zu manifests: name a tag", p,
			      json_array_size(list));
		goto out;
	}
	if (!json_string_value(json_object_get(found, "digest"))) {
		ret = err_set(e, -EBADMSG,
			      "%s: manifest entry without a digest", p);
		goto out;
	}
	ret = oci_layout_read_blob(
		dir, json_string_value(json_object_get(found, "digest")),
		manifest, len, e);
out:
	json_decref(j);
	free(idx);
	return ret;
}

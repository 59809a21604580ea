/* push: an image layout to a registry with the OCI distribution push
 * protocol: every blob the registry lacks, then the manifest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "jsonout.h"
#include "oci.h"
#include "registry.h"

struct push_ctx {
	const char *dir;
	struct registry *r;
	const char *repo;
	unsigned pushed, skipped;
	uint64_t bytes;
};

static int push_blob(struct push_ctx *c, const char *digest, struct err *e)
{
	char path[4096];
	int exists = 0, ret;

	ret = registry_blob_exists(c->r, c->repo, digest, &exists, e);
	if (ret)
		return ret;
	if (exists) {
		c->skipped++;
		return 0;
	}
	ret = oci_layout_blob_path(c->dir, digest, path, sizeof(path));
	if (ret)
		return err_set(e, ret, "%s: bad blob path for %s", c->dir,
			       digest);
	ret = registry_blob_push_file(c->r, c->repo, digest, path, e);
	if (!ret) {
		FILE *f = fopen(path, "re");

		c->pushed++;
		if (f && !fseeko(f, 0, SEEK_END))
			c->bytes += (uint64_t)ftello(f);
		if (f)
			fclose(f);
	}
	return ret;
}

int push_main(int argc, char **argv)
{
	struct push_ctx c = {0};
	struct registry_ref ref;
	struct oci_image img = {0};
	struct err e = {""};
	const char *url = NULL, *name = NULL, *tag = NULL;
	char *man = NULL, full[1024];
	size_t manlen;
	int json = 0, i, ret;
	unsigned l;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--registry") && i + 1 < argc)
			url = argv[++i];
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--tag") && i + 1 < argc)
			tag = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] != '-' && !c.dir)
			c.dir = argv[i];
		else
			break;
	}
	if (i < argc || !c.dir || !url || !name) {
		fprintf(stderr,
			"usage: faasnet-image push DIR --registry HOST:PORT "
			"--name NAME:TAG [--tag LAYOUT-TAG] [--json]\n"
			"  Pushes the image tagged LAYOUT-TAG in the layout "
			"DIR "
			"(default: its only one).\n");
		return IMAGE_EXIT_USAGE;
	}
	/* "http://h:p" or "h:p" both name the registry. */
	if (!strncmp(url, "http://", 7))
		url += 7;
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", url, name) >=
	    sizeof(full)) {
		fprintf(stderr, "push: reference too long\n");
		return IMAGE_EXIT_USAGE;
	}
	ret = registry_ref_parse(full, &ref, &e);
	if (ret) {
		fprintf(stderr, "push: %s\n", e.msg);
		return IMAGE_EXIT_USAGE;
	}
	c.repo = ref.repo;
	ret = oci_layout_get_manifest(c.dir, tag, &man, &manlen, &e);
	if (!ret)
		ret = oci_manifest_parse(man, manlen, &img, &e);
	if (!ret)
		ret = registry_open(ref.url, &c.r, &e);
	if (!ret)
		ret = push_blob(&c, img.config.digest, &e);
	for (l = 0; !ret && l < img.nlayers; l++) {
		ret = push_blob(&c, img.layers[l].blob.digest, &e);
		if (!ret && img.layers[l].has_blocks)
			ret = push_blob(&c, img.layers[l].index.digest, &e);
		if (!ret && img.layers[l].has_blocks)
			ret = push_blob(&c, img.layers[l].data.digest, &e);
	}
	/* The manifest last: the registry refuses one whose blobs it lacks,
	 * and a reader never sees a tag before its content. */
	if (!ret)
		ret = registry_manifest_push(c.r, c.repo, ref.tag,
					     OCI_MANIFEST_MEDIA_TYPE, man,
					     manlen, &e);
	if (ret) {
		fprintf(stderr, "push: %s\n",
			e.msg[0] ? e.msg : strerror(-ret));
	} else {
		fprintf(stderr,
			"push: %s/%s:%s: %u blobs pushed (%.1f MB), %u already "
			"there\n",
			url, ref.repo, ref.tag, c.pushed, (double)c.bytes / 1e6,
			c.skipped);
		if (json &&
		    jsonout_print(json_pack("{s:s, s:i, s:i, s:I}", "ref", full,
					    "pushed", (int)c.pushed, "skipped",
					    (int)c.skipped, "bytes",
					    (json_int_t)c.bytes)))
			ret = -EIO;
	}
	registry_close(c.r);
	oci_image_free(&img);
	free(man);
	return ret ? IMAGE_EXIT_FAILED : 0;
}

/* libFuzzer target for the strings that name things: lib/registry.c's
 * image references ("HOST[:PORT]/NAME[:TAG|@DIGEST]", from scenarios,
 * command lines and PROVISION frames) and lib/addr.c's peer addresses
 * ("A.B.C.D[:PORT]").
 *
 * On top of the sanitizers: every part of an accepted reference is
 * NUL-terminated inside its field, and putting the parts back together
 * gives a reference that parses to the same parts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *s)
{
	fprintf(stderr, "fuzz_ref: %s: \"%s\"\n", what, s);
	abort();
}

static void check_ref(const char *s, const struct registry_ref *ref)
{
	struct registry_ref again;
	char joined[1024];
	struct err e;
	int n;

	if (!memchr(ref->url, 0, sizeof(ref->url)) ||
	    !memchr(ref->repo, 0, sizeof(ref->repo)) ||
	    !memchr(ref->tag, 0, sizeof(ref->tag)))
		fail("a part is not terminated", s);
	if (strncmp(ref->url, "http://", 7) || !ref->url[7] || !ref->repo[0] ||
	    !ref->tag[0])
		fail("an accepted reference has an empty part", s);
	n = snprintf(joined, sizeof(joined), "%s/%s%c%s", ref->url + 7,
		     ref->repo, strncmp(ref->tag, "sha256:", 7) ? ':' : '@',
		     ref->tag);
	if (n < 0 || (size_t)n >= sizeof(joined))
		fail("parts too long to join", s);
	if (registry_ref_parse(joined, &again, &e))
		fail("the parts joined do not parse", joined);
	if (strcmp(ref->url, again.url) || strcmp(ref->repo, again.repo) ||
	    strcmp(ref->tag, again.tag))
		fail("the parts joined parse to other parts", joined);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry_ref ref;
	struct err e;
	uint32_t addr;
	uint16_t port;
	char *s;

	/* Both take C strings: what follows a NUL is never seen. */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!registry_ref_parse(s, &ref, &e))
		check_ref(s, &ref);
	(void)addr_parse(s, &addr, &port);
	free(s);
	return 0;
}

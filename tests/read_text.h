/* A small text file whole, for a test that reads what a program wrote (a
 * timeline, a DOT file). Header-only; cmocka.h comes before it. */
#ifndef FAASNET_TEST_READ_TEXT_H
#define FAASNET_TEST_READ_TEXT_H

#include <stdio.h>
#include <stdlib.h>

/* The first 64 KiB of path, NUL-terminated, and in *len (may be NULL)
 * how many bytes that is; the caller frees it. */
static inline char *read_text_len(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

static inline char *read_text(const char *path)
{
	return read_text_len(path, NULL);
}

#endif

/* Helpers for the integration tests: they need root and network
 * namespaces, drive the sanitized faasnet-testbed binary, and cross-check
 * what it built with iproute2. Header-only: each test is one binary. */
#ifndef FAASNET_ITEST_H
#define FAASNET_ITEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ITEST_BIN "build/asan/bin/faasnet-testbed"

/* Runs a shell command, returns its exit status and, when out is not NULL,
 * its stdout (malloc'd; stderr goes to the test log). */
static inline int itest_run(char **out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int itest_run(char **out, const char *fmt, ...)
{
	char cmd[4096], buf[4096];
	size_t len = 0, n;
	char *text = NULL, *nt;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fprintf(stderr, "$ %s\n", cmd);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
		nt = realloc(text, len + n + 1);
		if (!nt)
			break;
		text = nt;
		memcpy(text + len, buf, n);
		len += n;
		text[len] = '\0';
	}
	st = pclose(p);
	if (out)
		*out = text ? text : strdup("");
	else
		free(text);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* How many lines a shell command prints. */
static inline int itest_count(const char *cmd)
{
	char *out = NULL;
	int n = 0;
	char *c;

	itest_run(&out, "%s", cmd);
	for (c = out; c && *c; c++)
		n += *c == '\n';
	free(out);
	return n;
}

/* itest_count with a format. */
static inline int itest_count2(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline int itest_count2(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return itest_count(cmd);
}

/* The number a shell command prints (first line), or -1. */
static inline long itest_number(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline long itest_number(const char *fmt, ...)
{
	char cmd[4096], *out = NULL, *end;
	va_list ap;
	long v;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	itest_run(&out, "%s", cmd);
	v = out ? strtol(out, &end, 10) : -1;
	if (!out || end == out)
		v = -1;
	free(out);
	return v;
}

static inline int itest_leftover_netns(void)
{
	return itest_count("ip netns list | grep '^fnet-'");
}

static inline int itest_leftover_links(void)
{
	return itest_count("ip -o link show | grep 'fnet-'");
}

/* Call first in every test: skips it (cmocka counts it as skipped) when it
 * cannot run here, and says why. */
#define ITEST_NEED_ROOT()                                                      \
	do {                                                                   \
		if (geteuid() != 0) {                                          \
			fprintf(stderr, "SKIP: needs root for namespaces\n");  \
			skip();                                                \
		}                                                              \
		if (access(ITEST_BIN, X_OK)) {                                 \
			fprintf(stderr, "SKIP: %s not built\n", ITEST_BIN);    \
			skip();                                                \
		}                                                              \
	} while (0)

/* The same, for a test that also runs Debian's docker-registry. */
#define ITEST_NEED_REGISTRY()                                                  \
	do {                                                                   \
		ITEST_NEED_ROOT();                                             \
		if (access("/usr/bin/docker-registry", X_OK)) {                \
			fprintf(stderr, "SKIP: docker-registry missing\n");    \
			skip();                                                \
		}                                                              \
	} while (0)

#endif

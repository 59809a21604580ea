/* lazycurl: the agent's libcurl, loaded the first time it is used. Only an
 * agent that reads the registry (a tree's root, or one whose parent failed)
 * needs HTTP; libcurl and the 27 libraries it pulls in (TLS, Kerberos,
 * LDAP, SSH, IDN, ...) made every agent map 34 shared objects at start and
 * initialise OpenSSL (issue 11: a thousand agents on one host). So the
 * agent binary links these definitions of the libcurl calls lib/registry.c
 * and agent/ use instead of -lcurl; each loads libcurl.so.4 with dlopen
 * (once, thread-safe) and calls through. Not exported from the binary, so
 * libcurl's own calls never land here. curl_global_init only records its
 * flags until the library is loaded. Linked into faasnet-agent only. */
/* These are the functions themselves: no type-checking macros over them. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#define LAZYCURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int,
				int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *lib;
static int loaded;
static long init_flags = -1; /* curl_global_init's, until loaded */
static int inited;

#define SYM(field, name)                                                       \
	do {                                                                   \
		*(void **)&fn.field = dlsym(lib, name);                        \
		if (!fn.field)                                                 \
			goto fail;                                             \
	} while (0)

static void load(void)
{
	lib = dlopen(LAZYCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return;
	SYM(global_init, "curl_global_init");
	SYM(global_cleanup, "curl_global_cleanup");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_reset, "curl_easy_reset");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_cleanup, "curl_multi_cleanup");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_perform, "curl_multi_perform");
	SYM(multi_poll, "curl_multi_poll");
	SYM(multi_info_read, "curl_multi_info_read");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	/* What main asked for, before anything else of libcurl runs. */
	if (init_flags != -1 && fn.global_init(init_flags) == CURLE_OK)
		inited = 1;
	loaded = 1;
	return;
fail:
	dlclose(lib);
	lib = NULL;
}

/* 1 once libcurl is there to call. */
static int ready(void)
{
	pthread_once(&once, load);
	return loaded;
}

CURLcode curl_global_init(long flags)
{
	/* main calls this before any thread; loading waits for a use. */
	init_flags = flags;
	return CURLE_OK;
}

void curl_global_cleanup(void)
{
	if (loaded && inited)
		fn.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return ready() ? fn.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	if (loaded)
		fn.easy_cleanup(h);
}

void curl_easy_reset(CURL *h)
{
	if (loaded)
		fn.easy_reset(h);
}

CURLcode curl_easy_perform(CURL *h)
{
	return ready() ? fn.easy_perform(h) : CURLE_FAILED_INIT;
}

/* The one argument after the option is a long, a pointer (object,
 * function, blob) or a curl_off_t, by the option's number: libcurl's own
 * rule (CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode ret;
	va_list ap;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		ret = fn.easy_setopt(h, opt, va_arg(ap, long));
	else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB)
		ret = fn.easy_setopt(h, opt, va_arg(ap, curl_off_t));
	else
		ret = fn.easy_setopt(h, opt, va_arg(ap, void *));
	va_end(ap);
	return ret;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode ret;
	va_list ap;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	ret = fn.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return ret;
}

const char *curl_easy_strerror(CURLcode code)
{
	return ready() ? fn.easy_strerror(code)
		       : "libcurl (" LAZYCURL_SONAME ") could not be loaded";
}

CURLM *curl_multi_init(void)
{
	return ready() ? fn.multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	return loaded ? fn.multi_cleanup(m) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	return ready() ? fn.multi_add_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return loaded ? fn.multi_remove_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	return ready() ? fn.multi_perform(m, running) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n,
			  int timeout_ms, int *numfds)
{
	return ready() ? fn.multi_poll(m, extra, n, timeout_ms, numfds)
		       : CURLM_BAD_HANDLE;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	return ready() ? fn.multi_info_read(m, left) : NULL;
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return ready() ? fn.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (loaded)
		fn.slist_free_all(l);
}

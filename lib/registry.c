/* registry: see registry.h and docs/registry.md. Every call is one or two
 * HTTP requests on the same easy handle; curl_easy_reset between requests
 * clears the options but keeps curl's connection cache, so consecutive calls
 * reuse one keep-alive connection to the registry. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include "registry.h"

#define CONNECT_TIMEOUT_S 5L
/* Stall detection instead of an overall timeout: a 1 GB blob over a shaped
 * emulated link may take minutes, but a transfer that moves nothing for 30 s
 * is dead (the peer vanished, the link is down). */
#define LOW_SPEED_BYTES	 1L
#define LOW_SPEED_TIME_S 30L
#define MAX_REDIRS	 5L
#define IO_BUFFER_SIZE	 (256L << 10)
#define MANIFEST_MAX	 (4u << 20)
#define ERRBODY_MAX	 (16u << 10)
#define URL_MAX		 4096
#define LOCATION_MAX	 2048
#define NAME_MAX_LEN	 255

#define ACCEPT_MANIFESTS                                                       \
	"Accept: application/vnd.oci.image.manifest.v1+json, "                 \
	"application/vnd.oci.image.index.v1+json, "                            \
	"application/vnd.docker.distribution.manifest.v2+json"

/* A handle of the parallel range reader, kept between calls so that its
 * connection stays open. */
struct xfer {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	struct req *q; /* in flight, or NULL */
	struct curl_slist *hdrs;
	size_t range; /* which one it reads */
};

struct registry {
	CURL *curl;
	char url[256];
	char errbuf[CURL_ERROR_SIZE];
	CURLM *multi; /* for registry_blob_get_ranges, made on first use */
	struct xfer pool[REGISTRY_MAX_PARALLEL];
	double dilation; /* the time-outs times this; 0 or 1: as they are */
};

/* One HTTP request and what came back. The callbacks fill the response
 * half; a callback that finds the reply unusable sets local_err and e. */
struct req {
	const char *method;
	char where[1024]; /* URL path and details, for messages */
	const char *content_type;
	int accept_manifests;
	char range[64]; /* "a-b" or "a-"; empty: the whole blob */
	long ok;	/* the status that means success */
	long also_ok;	/* another one (404 for HEAD), or 0 */
	struct err *e;

	/* upload: from in, or from ubuf */
	FILE *in;
	const unsigned char *ubuf;
	uint64_t usize, upos;
	int read_errno;

	/* download: to sink, or into body (capped at body_max) */
	registry_sink_fn sink;
	void *sink_arg;
	int sink_ret;
	uint64_t want_off, want_len;
	int range_checked;
	uint64_t expect_bytes, got_bytes;
	size_t body_max;
	int local_err;

	long status;
	char reason[64];
	char location[LOCATION_MAX];
	int location_long;
	char content_range[128];
	char *body; /* NUL-terminated; error bodies too */
	size_t body_len, body_cap;
};

static void url_path(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	size_t len;

	p = p ? p + 3 : url;
	p += strcspn(p, "/");
	len = strcspn(p, "?#");
	if (len >= n)
		len = n - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

static void req_init(struct req *q, const char *method, const char *url,
		     long ok)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->ok = ok;
	url_path(url, q->where, sizeof(q->where));
}

static void req_free(struct req *q)
{
	free(q->body);
	q->body = NULL;
	q->body_len = q->body_cap = 0;
}

/* Appends to q->body, keeping it NUL-terminated; -1 past max. */
static int body_append(struct req *q, const void *p, size_t len, size_t max)
{
	size_t cap;
	char *nb;

	if (len > max || q->body_len > max - len)
		return -1;
	if (q->body_len + len + 1 > q->body_cap) {
		cap = q->body_cap ? q->body_cap : 4096;
		while (cap < q->body_len + len + 1)
			cap *= 2;
		nb = realloc(q->body, cap);
		if (!nb)
			return -1;
		q->body = nb;
		q->body_cap = cap;
	}
	memcpy(q->body + q->body_len, p, len);
	q->body_len += len;
	q->body[q->body_len] = '\0';
	return 0;
}

/* Copies a header line's value (after "Name:"), trimmed, when its name is
 * name. Header data from curl is not NUL-terminated. */
static int header_value(const char *p, size_t len, const char *name, char *out,
			size_t n, int *too_long)
{
	size_t nl = strlen(name);

	if (len <= nl || p[nl] != ':' || strncasecmp(p, name, nl))
		return 0;
	p += nl + 1;
	len -= nl + 1;
	while (len && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len && isspace((unsigned char)p[len - 1]))
		len--;
	if (len >= n) {
		if (too_long)
			*too_long = 1;
		len = n - 1;
	}
	memcpy(out, p, len);
	out[len] = '\0';
	return 1;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct req *q = arg;
	size_t len = size * nmemb, i;
	char *end;

	/* A status line starts a new response (after a redirect or a 1xx):
	 * forget what the previous one said. */
	if (len > 5 && !strncmp(p, "HTTP/", 5)) {
		char line[128];

		i = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
		memcpy(line, p, i);
		line[i] = '\0';
		end = line + strcspn(line, " ");
		q->status = strtol(end, &end, 10);
		end += strspn(end, " ");
		end[strcspn(end, "\r\n")] = '\0';
		snprintf(q->reason, sizeof(q->reason), "%s", end);
		q->location[0] = q->content_range[0] = '\0';
		q->location_long = 0;
		q->body_len = 0;
		if (q->body)
			q->body[0] = '\0';
		return len;
	}
	if (header_value(p, len, "Location", q->location, sizeof(q->location),
			 &q->location_long))
		return len;
	header_value(p, len, "Content-Range", q->content_range,
		     sizeof(q->content_range), NULL);
	return len;
}

/* A ranged read must get exactly the bytes it asked for: a registry that
 * clips the range at the end of the blob answers 206 with a shorter
 * Content-Range, which would otherwise pass for success. */
static int check_range(struct req *q)
{
	uint64_t a, b, total = 0;
	int have_total;
	char *p;

	q->range_checked = 1;
	p = q->content_range;
	if (strncmp(p, "bytes ", 6))
		goto bad;
	p += 6;
	if (!isdigit((unsigned char)*p))
		goto bad;
	a = strtoull(p, &p, 10);
	if (*p++ != '-' || !isdigit((unsigned char)*p))
		goto bad;
	b = strtoull(p, &p, 10);
	if (*p++ != '/' || b < a)
		goto bad;
	have_total = *p != '*';
	if (have_total) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		total = strtoull(p, &p, 10);
		if (b >= total)
			goto bad;
	}
	if (*p)
		goto bad;
	if (a != q->want_off ||
	    (q->want_len && b != q->want_off + q->want_len - 1) ||
	    (!q->want_len && have_total && b != total - 1)) {
		q->local_err = err_set(
			q->e, -EIO,
			"%s %s: asked for bytes %s, the registry "
			"sent %s",
			q->method, q->where, q->range, q->content_range);
		return -1;
	}
	q->expect_bytes = b - a + 1;
	return 0;
bad:
	q->local_err = err_set(q->e, -EBADMSG,
			       "%s %s: HTTP 206 with Content-Range \"%s\"",
			       q->method, q->where, q->content_range);
	return -1;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct req *q = arg;
	size_t len = size * nmemb;
	int ret;

	if (q->status != q->ok) {
		/* The body of a redirect being followed is of no interest. */
		if (q->status >= 300 && q->status < 400)
			return len;
		/* A success we did not ask for (200 to a ranged read) may be
		 * the whole of a large blob: stop it now. */
		if (q->status >= 200 && q->status < 300)
			return 0;
		/* An error body: keep its head for the message. */
		if (body_append(q, p, len, ERRBODY_MAX))
			return 0;
		return len;
	}
	if (!q->sink) {
		/* Success bodies of pushes carry nothing we need. */
		if (!q->body_max)
			return len;
		if (body_append(q, p, len, q->body_max)) {
			q->local_err =
				err_set(q->e, -EBADMSG,
					"%s %s: reply larger than %zu "
					"bytes (or out of memory)",
					q->method, q->where, q->body_max);
			return 0;
		}
		return len;
	}
	if (q->range[0]) {
		if (!q->range_checked && check_range(q))
			return 0;
		if (len > q->expect_bytes - q->got_bytes) {
			q->local_err =
				err_set(q->e, -EBADMSG,
					"%s %s: more bytes than "
					"Content-Range %s",
					q->method, q->where, q->content_range);
			return 0;
		}
	}
	q->got_bytes += len;
	ret = q->sink(q->sink_arg, p, len);
	if (ret) {
		q->sink_ret = ret;
		return 0;
	}
	return len;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct req *q = arg;
	size_t len = size * nmemb, got;

	if (len > q->usize - q->upos)
		len = q->usize - q->upos;
	if (q->in) {
		got = fread(p, 1, len, q->in);
		if (got < len && ferror(q->in)) {
			q->read_errno = errno ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
	} else {
		memcpy(p, q->ubuf + q->upos, len);
		got = len;
	}
	q->upos += got;
	return got;
}

/* curl rewinds the upload when it resends the request, e.g. when a reused
 * keep-alive connection turns out to have been closed by the registry. */
static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct req *q = arg;

	if (origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	if (off < 0 || (uint64_t)off > q->usize)
		return CURL_SEEKFUNC_FAIL;
	if (q->in && fseeko(q->in, off, SEEK_SET))
		return CURL_SEEKFUNC_FAIL;
	q->upos = off;
	return CURL_SEEKFUNC_OK;
}

/* The registry's reason for an error: the codes and messages of an OCI
 * error body ({"errors":[{"code":..,"message":..}]}), else the first line
 * of whatever it sent. One line, control characters blanked. */
static void error_detail(const struct req *q, char *out, size_t n)
{
	json_t *root, *errs, *it;
	const char *code, *msg, *p;
	size_t i, used = 0;
	int k;

	out[0] = '\0';
	if (!q->body_len)
		return;
	root = json_loadb(q->body, q->body_len, 0, NULL);
	errs = json_object_get(root, "errors");
	if (json_is_array(errs) && json_array_size(errs)) {
		json_array_foreach(errs, i, it)
		{
			code = json_string_value(json_object_get(it, "code"));
			msg = json_string_value(json_object_get(it, "message"));
			k = snprintf(out + used, n - used, "%s%s%s%s",
				     used ? "; " : "", code ? code : "?",
				     msg ? ": " : "", msg ? msg : "");
			if (k < 0 || (size_t)k >= n - used)
				break;
			used += k;
		}
	} else {
		p = q->body + strspn(q->body, " \t\r\n");
		snprintf(out, n, "\"%.*s\"", (int)strcspn(p, "\r\n"), p);
	}
	json_decref(root);
	for (i = 0; out[i]; i++)
		if (iscntrl((unsigned char)out[i]))
			out[i] = ' ';
}

static int http_error(const struct req *q, struct err *e)
{
	char detail[384], expected[32] = "";
	int ret = q->status == 404 ? -ENOENT : -EIO;

	error_detail(q, detail, sizeof(detail));
	if (q->status >= 200 && q->status < 300)
		snprintf(expected, sizeof(expected), " (expected %ld)", q->ok);
	return err_set(e, ret, "%s %s: HTTP %ld%s%s%s%s%s", q->method, q->where,
		       q->status, q->reason[0] ? " " : "", q->reason, expected,
		       detail[0] ? ": " : "", detail);
}

static int transport_error(CURL *c, const char *errbuf, const struct req *q,
			   CURLcode res, struct err *e)
{
	long oserr = 0;
	int ret;

	switch (res) {
	case CURLE_COULDNT_CONNECT:
		/* Say which: in the emulated network an unreachable host
		 * (a link down) is not the same as a registry not running. */
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == EHOSTUNREACH || oserr == ENETUNREACH ||
		    oserr == ETIMEDOUT)
			ret = -(int)oserr;
		else
			ret = -ECONNREFUSED;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		ret = -ETIMEDOUT;
		break;
	case CURLE_OUT_OF_MEMORY:
		ret = -ENOMEM;
		break;
	case CURLE_WEIRD_SERVER_REPLY:
		ret = -EBADMSG;
		break;
	default:
		ret = -EIO;
		break;
	}
	return err_set(e, ret, "%s %s: %s", q->method, q->where,
		       errbuf[0] ? errbuf : curl_easy_strerror(res));
}

void registry_set_dilation(struct registry *r, double k)
{
	r->dilation = k;
}

/* A time-out in seconds under r's dilation. */
static long dilated_s(const struct registry *r, long s)
{
	return r->dilation > 1.0 ? (long)((double)s * r->dilation + 0.5) : s;
}

/* Sets handle c up for request q (its headers in *hdrs, which the caller
 * frees after the transfer). */
static int req_prepare(const struct registry *r, CURL *c, char *errbuf,
		       struct req *q, const char *url,
		       struct curl_slist **hdrsp, struct err *e)
{
	struct curl_slist *hdrs = NULL, *t;
	char line[256];
	int ret = 0;

	q->e = e;
	curl_easy_reset(c);
	errbuf[0] = '\0';
	/* NOPROXY "*": an http_proxy in the environment must never send the
	 * testbed's traffic off this machine. */
	if (curl_easy_setopt(c, CURLOPT_URL, url) ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c, CURLOPT_NOPROXY, "*") ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
			     dilated_s(r, CONNECT_TIMEOUT_S)) ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES) ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
			     dilated_s(r, LOW_SPEED_TIME_S)) ||
	    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, IO_BUFFER_SIZE) ||
	    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, IO_BUFFER_SIZE) ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, q) ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, q))
		goto setopt;

	if (!strcmp(q->method, "HEAD")) {
		if (curl_easy_setopt(c, CURLOPT_NOBODY, 1L))
			goto setopt;
	} else if (!strcmp(q->method, "POST")) {
		if (curl_easy_setopt(c, CURLOPT_POST, 1L) ||
		    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L) ||
		    curl_easy_setopt(c, CURLOPT_POSTFIELDS, ""))
			goto setopt;
		/* Not a form: drop curl's default Content-Type. */
		if (!(t = curl_slist_append(hdrs, "Content-Type:")))
			goto oom;
		hdrs = t;
	} else if (!strcmp(q->method, "PUT")) {
		if (curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) ||
		    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read) ||
		    curl_easy_setopt(c, CURLOPT_READDATA, q) ||
		    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek) ||
		    curl_easy_setopt(c, CURLOPT_SEEKDATA, q) ||
		    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				     (curl_off_t)q->usize))
			goto setopt;
		/* No "Expect: 100-continue": it costs a round trip per
		 * upload, and the registry reads the whole body anyway. */
		if (!(t = curl_slist_append(hdrs, "Expect:")))
			goto oom;
		hdrs = t;
	}
	/* Registries may send blob reads to a storage backend. */
	if (!strcmp(q->method, "GET") || !strcmp(q->method, "HEAD")) {
		if (curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) ||
		    curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRS) ||
		    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
				     "http,https"))
			goto setopt;
	}
	if (q->range[0] && curl_easy_setopt(c, CURLOPT_RANGE, q->range))
		goto setopt;
	if (q->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 q->content_type);
		if (!(t = curl_slist_append(hdrs, line)))
			goto oom;
		hdrs = t;
	}
	if (q->accept_manifests) {
		if (!(t = curl_slist_append(hdrs, ACCEPT_MANIFESTS)))
			goto oom;
		hdrs = t;
	}
	if (hdrs && curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs))
		goto setopt;
	goto out;

setopt:
	ret = err_set(e, -ENOMEM, "%s %s: libcurl refused an option", q->method,
		      q->where);
	goto out;
oom:
	ret = err_set(e, -ENOMEM, "%s %s: out of memory", q->method, q->where);
out:
	*hdrsp = hdrs;
	return ret;
}

/* Sorts out what happened to request q on handle c: 0 when the status is
 * q->ok (or q->also_ok) and the body arrived whole, else a negative errno
 * with one line in e. */
static int req_result(CURL *c, const char *errbuf, struct req *q, CURLcode res,
		      struct err *e)
{
	int ret;

	if (q->sink_ret) {
		/* The sink knows why (a corrupt block, a full disk) and has
		 * said so in e when it could; only fill an empty message. */
		ret = q->sink_ret;
		if (e && !e->msg[0])
			err_set(e, ret,
				"%s %s: the reader stopped the transfer: %s",
				q->method, q->where, strerror(-ret));
	} else if (q->local_err) {
		ret = q->local_err;
	} else if (q->read_errno) {
		ret = err_set(e, -q->read_errno, "%s %s: reading the body: %s",
			      q->method, q->where, strerror(q->read_errno));
	} else if (res == CURLE_TOO_MANY_REDIRECTS) {
		ret = transport_error(c, errbuf, q, res, e);
	} else if (q->status && q->status != q->ok &&
		   (!q->also_ok || q->status != q->also_ok)) {
		/* The status tells more than curl's view of the rest of
		 * the reply (a 416 announces a body it never sends). */
		ret = http_error(q, e);
	} else if (res != CURLE_OK) {
		ret = transport_error(c, errbuf, q, res, e);
	} else if (q->range[0] && q->status == q->ok &&
		   ((!q->range_checked && check_range(q)) ||
		    q->got_bytes != q->expect_bytes)) {
		ret = q->local_err ? q->local_err
				   : err_set(e, -EIO,
					     "%s %s: %" PRIu64 " of %" PRIu64
					     " bytes arrived",
					     q->method, q->where, q->got_bytes,
					     q->expect_bytes);
	} else {
		ret = 0;
	}
	return ret;
}

/* Runs one request on the registry's own handle. */
static int perform(struct registry *r, struct req *q, const char *url,
		   struct err *e)
{
	struct curl_slist *hdrs = NULL;
	int ret;

	ret = req_prepare(r, r->curl, r->errbuf, q, url, &hdrs, e);
	if (!ret)
		ret = req_result(r->curl, r->errbuf, q,
				 curl_easy_perform(r->curl), e);
	curl_slist_free_all(hdrs);
	/* The handle keeps pointers to q and hdrs: drop them. */
	curl_easy_reset(r->curl);
	return ret;
}

/* Repository names, tags and digests go into URL paths unescaped: refuse
 * anything that could change the URL's meaning (the registry applies the
 * exact grammar). */
static int check_part(const char *what, const char *s, struct err *e)
{
	size_t i;

	if (!s || !*s)
		return err_set(e, -EINVAL, "empty %s", what);
	if (strlen(s) > NAME_MAX_LEN)
		return err_set(e, -EINVAL, "%s longer than %d characters", what,
			       NAME_MAX_LEN);
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-/:+=", s[i]))
			return err_set(e, -EINVAL, "%s \"%s\": bad character",
				       what, s);
	return 0;
}

/* r->url/v2/REPO/KIND/REF, once REPO and REF (a digest or a tag, what_ref)
 * are known to be safe in a URL. */
static int api_url(const struct registry *r, const char *repo, const char *kind,
		   const char *what_ref, const char *ref, char url[URL_MAX],
		   struct err *e)
{
	int ret = check_part("repository", repo, e);

	if (!ret)
		ret = check_part(what_ref, ref, e);
	if (!ret)
		snprintf(url, URL_MAX, "%s/v2/%s/%s/%s", r->url, repo, kind,
			 ref);
	return ret;
}

static void url_encode(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 <= n; s++) {
		unsigned char ch = *s;

		if (isalnum(ch) || strchr("-._~", ch)) {
			out[o++] = ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

/* The URL that completes an upload: the Location of the POST's 202 (absolute,
 * absolute-path or relative to the uploads URL, possibly with its own query,
 * e.g. distribution's "?_state=...") with "digest=" added to the query. */
static int upload_url(struct registry *r, const char *repo, const char *loc,
		      const char *digest, char *out, size_t n, struct err *e)
{
	char enc[3 * NAME_MAX_LEN + 1];
	const char *sep;
	size_t ll = strlen(loc);
	int len;

	url_encode(digest, enc, sizeof(enc));
	if (!strchr(loc, '?'))
		sep = "?";
	else if (loc[ll - 1] == '?' || loc[ll - 1] == '&')
		sep = "";
	else
		sep = "&";
	if (!strncasecmp(loc, "http://", 7) || !strncasecmp(loc, "https://", 8))
		len = snprintf(out, n, "%s%sdigest=%s", loc, sep, enc);
	else if (loc[0] == '/' && loc[1] != '/')
		len = snprintf(out, n, "%s%s%sdigest=%s", r->url, loc, sep,
			       enc);
	else if (loc[0] != '/')
		len = snprintf(out, n, "%s/v2/%s/blobs/uploads/%s%sdigest=%s",
			       r->url, repo, loc, sep, enc);
	else
		return err_set(e, -EBADMSG,
			       "POST /v2/%s/blobs/uploads/: unsupported "
			       "Location \"%s\"",
			       repo, loc);
	if (len < 0 || (size_t)len >= n)
		return err_set(e, -EBADMSG,
			       "POST /v2/%s/blobs/uploads/: Location too long",
			       repo);
	return 0;
}

/* Monolithic upload: POST opens an upload session, one PUT carries the
 * whole blob and the digest that the registry checks before committing. */
static int blob_push(struct registry *r, const char *repo, const char *digest,
		     FILE *in, const void *buf, uint64_t size, struct err *e)
{
	char url[URL_MAX];
	struct req q;
	size_t wl;
	int ret;

	memset(&q, 0, sizeof(q));
	ret = check_part("repository", repo, e);
	if (!ret)
		ret = check_part("digest", digest, e);
	if (ret)
		goto out;
	snprintf(url, sizeof(url), "%s/v2/%s/blobs/uploads/", r->url, repo);
	req_init(&q, "POST", url, 202);
	ret = perform(r, &q, url, e);
	if (ret)
		goto out;
	if (!q.location[0] || q.location_long) {
		ret = err_set(e, -EBADMSG, "POST %s: HTTP 202 with %s Location",
			      q.where, q.location_long ? "too long a" : "no");
		goto out;
	}
	ret = upload_url(r, repo, q.location, digest, url, sizeof(url), e);
	if (ret)
		goto out;
	req_free(&q);

	req_init(&q, "PUT", url, 201);
	wl = strlen(q.where);
	snprintf(q.where + wl, sizeof(q.where) - wl, "?digest=%s", digest);
	q.content_type = "application/octet-stream";
	q.in = in;
	q.ubuf = buf;
	q.usize = size;
	ret = perform(r, &q, url, e);
out:
	req_free(&q);
	return ret;
}

int registry_blob_push_buf(struct registry *r, const char *repo,
			   const char *digest, const void *buf, size_t len,
			   struct err *e)
{
	if (!buf && len)
		return err_set(e, -EINVAL, "blob push: no buffer");
	return blob_push(r, repo, digest, NULL, buf ? buf : "", len, e);
}

int registry_blob_push_file(struct registry *r, const char *repo,
			    const char *digest, const char *path, struct err *e)
{
	struct stat st;
	FILE *f;
	int ret;

	f = fopen(path, "rb");
	if (!f)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st)) {
		ret = err_set(e, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = err_set(e, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	ret = blob_push(r, repo, digest, f, NULL, st.st_size, e);
out:
	fclose(f);
	return ret;
}

int registry_ping(struct registry *r, struct err *e)
{
	char url[URL_MAX];
	struct req q;
	int ret;

	snprintf(url, sizeof(url), "%s/v2/", r->url);
	req_init(&q, "GET", url, 200);
	ret = perform(r, &q, url, e);
	req_free(&q);
	return ret;
}

int registry_blob_exists(struct registry *r, const char *repo,
			 const char *digest, int *exists, struct err *e)
{
	char url[URL_MAX];
	struct req q;
	int ret;

	*exists = 0;
	ret = api_url(r, repo, "blobs", "digest", digest, url, e);
	if (ret)
		return ret;
	req_init(&q, "HEAD", url, 200);
	q.also_ok = 404;
	ret = perform(r, &q, url, e);
	if (!ret)
		*exists = q.status == 200;
	req_free(&q);
	return ret;
}

int registry_manifest_push(struct registry *r, const char *repo,
			   const char *tag, const char *media_type,
			   const void *buf, size_t len, struct err *e)
{
	char url[URL_MAX];
	struct req q;
	int ret;

	ret = api_url(r, repo, "manifests", "tag", tag, url, e);
	if (ret)
		return ret;
	if (!media_type || !*media_type || strlen(media_type) > 200 ||
	    strpbrk(media_type, "\r\n"))
		return err_set(e, -EINVAL, "manifest push: bad media type");
	if (!buf || !len)
		return err_set(e, -EINVAL, "manifest push: empty manifest");
	req_init(&q, "PUT", url, 201);
	q.content_type = media_type;
	q.ubuf = buf;
	q.usize = len;
	ret = perform(r, &q, url, e);
	req_free(&q);
	return ret;
}

int registry_manifest_get(struct registry *r, const char *repo, const char *tag,
			  char **buf, size_t *len, struct err *e)
{
	char url[URL_MAX];
	struct req q;
	int ret;

	*buf = NULL;
	*len = 0;
	ret = api_url(r, repo, "manifests", "tag", tag, url, e);
	if (ret)
		return ret;
	req_init(&q, "GET", url, 200);
	q.accept_manifests = 1;
	q.body_max = MANIFEST_MAX;
	ret = perform(r, &q, url, e);
	if (ret)
		goto out;
	if (!q.body_len) {
		ret = err_set(e, -EBADMSG, "GET %s: empty manifest", q.where);
		goto out;
	}
	*buf = q.body;
	*len = q.body_len;
	q.body = NULL;
out:
	req_free(&q);
	return ret;
}

/* A ranged (or whole, off = len = 0) blob read into sink. */
static int range_req(struct req *q, const char *url, uint64_t off, uint64_t len,
		     registry_sink_fn sink, void *arg, struct err *e)
{
	size_t wl;

	if (!sink)
		return err_set(e, -EINVAL, "blob get: no sink");
	/* curl_off_t is signed; and off + len - 1 must not wrap. */
	if (off > INT64_MAX || len > INT64_MAX ||
	    (len && off > INT64_MAX - len))
		return err_set(e, -EINVAL,
			       "blob get: range %" PRIu64 "+%" PRIu64
			       " out of bounds",
			       off, len);
	req_init(q, "GET", url, off || len ? 206 : 200);
	if (len)
		snprintf(q->range, sizeof(q->range), "%" PRIu64 "-%" PRIu64,
			 off, off + len - 1);
	else if (off)
		snprintf(q->range, sizeof(q->range), "%" PRIu64 "-", off);
	if (q->range[0]) {
		wl = strlen(q->where);
		snprintf(q->where + wl, sizeof(q->where) - wl, " bytes=%s",
			 q->range);
	}
	q->want_off = off;
	q->want_len = len;
	q->sink = sink;
	q->sink_arg = arg;
	return 0;
}

int registry_blob_get(struct registry *r, const char *repo, const char *digest,
		      uint64_t off, uint64_t len, registry_sink_fn sink,
		      void *arg, struct err *e)
{
	char url[URL_MAX];
	struct req q;
	int ret;

	ret = api_url(r, repo, "blobs", "digest", digest, url, e);
	if (ret)
		return ret;
	ret = range_req(&q, url, off, len, sink, arg, e);
	if (ret)
		return ret;
	ret = perform(r, &q, url, e);
	req_free(&q);
	return ret;
}

/* Ends handle x's transfer, whatever its state, and frees what it held. */
static void xfer_end(struct registry *r, struct xfer *x)
{
	if (!x->q)
		return;
	curl_multi_remove_handle(r->multi, x->curl);
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	curl_easy_reset(x->curl);
	req_free(x->q);
	free(x->q);
	x->q = NULL;
}

int registry_blob_get_ranges(struct registry *r, const char *repo,
			     const char *digest,
			     const struct registry_range *rg, size_t n,
			     unsigned parallel, struct err *e)
{
	char url[URL_MAX];
	size_t next = 0, busy = 0, i;
	int ret, still;

	if (parallel > REGISTRY_MAX_PARALLEL)
		parallel = REGISTRY_MAX_PARALLEL;
	if (parallel <= 1 || n <= 1) {
		for (i = 0, ret = 0; i < n && !ret; i++)
			ret = registry_blob_get(r, repo, digest, rg[i].off,
						rg[i].len, rg[i].sink,
						rg[i].arg, e);
		return ret;
	}
	ret = api_url(r, repo, "blobs", "digest", digest, url, e);
	if (ret)
		return ret;
	if (!r->multi && !(r->multi = curl_multi_init()))
		return err_set(e, -ENOMEM, "curl_multi_init failed");
	for (i = 0; i < parallel; i++)
		if (!r->pool[i].curl && !(r->pool[i].curl = curl_easy_init()))
			return err_set(e, -ENOMEM, "curl_easy_init failed");
	while (!ret && (next < n || busy)) {
		struct CURLMsg *msg;
		int left;

		/* Every free handle takes the next range. */
		for (i = 0; !ret && i < parallel && next < n; i++) {
			struct xfer *x = &r->pool[i];

			if (x->q)
				continue;
			x->q = malloc(sizeof(*x->q));
			if (!x->q) {
				ret = err_set(e, -ENOMEM, "out of memory");
				break;
			}
			ret = range_req(x->q, url, rg[next].off, rg[next].len,
					rg[next].sink, rg[next].arg, e);
			if (!ret)
				ret = req_prepare(r, x->curl, x->errbuf, x->q,
						  url, &x->hdrs, e);
			if (!ret && curl_multi_add_handle(r->multi, x->curl))
				ret = err_set(e, -ENOMEM,
					      "curl_multi_add_handle "
					      "failed");
			if (ret) {
				/* not added: xfer_end's remove is harmless */
				xfer_end(r, x);
				break;
			}
			x->range = next++;
			busy++;
		}
		if (ret)
			break;
		if (curl_multi_perform(r->multi, &still) != CURLM_OK) {
			ret = err_set(e, -EIO, "curl_multi_perform failed");
			break;
		}
		while (!ret && (msg = curl_multi_info_read(r->multi, &left))) {
			struct xfer *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			for (i = 0; i < parallel; i++)
				if (r->pool[i].q &&
				    r->pool[i].curl == msg->easy_handle)
					x = &r->pool[i];
			if (!x)
				continue;
			ret = req_result(x->curl, x->errbuf, x->q,
					 msg->data.result, e);
			xfer_end(r, x);
			busy--;
		}
		if (!ret && busy &&
		    curl_multi_poll(r->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			ret = err_set(e, -EIO, "curl_multi_poll failed");
	}
	/* On a failure, the rest stop where they are. */
	for (i = 0; i < REGISTRY_MAX_PARALLEL; i++)
		xfer_end(r, &r->pool[i]);
	return ret;
}

int registry_open(const char *url, struct registry **rp, struct err *e)
{
	struct registry *r;
	size_t len;

	*rp = NULL;
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		return err_set(
			e, -EINVAL,
			"registry URL \"%s\": expected http://HOST[:PORT]",
			url ? url : "");
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	if (len >= sizeof(r->url) || strpbrk(url, " \t\r\n"))
		return err_set(e, -EINVAL,
			       "registry URL \"%s\": too long or "
			       "has spaces",
			       url);
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(e, -ENOMEM, "out of memory");
	memcpy(r->url, url, len);
	r->url[len] = '\0';
	r->curl = curl_easy_init();
	if (!r->curl) {
		free(r);
		return err_set(e, -ENOMEM, "curl_easy_init failed");
	}
	*rp = r;
	return 0;
}

void registry_close(struct registry *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < REGISTRY_MAX_PARALLEL; i++)
		if (r->pool[i].curl)
			curl_easy_cleanup(r->pool[i].curl);
	if (r->multi)
		curl_multi_cleanup(r->multi);
	curl_easy_cleanup(r->curl);
	free(r);
}

/* Reference parsing. The grammar is distribution's reference grammar with
 * the registry host made mandatory: the testbed never talks to Docker Hub. */

static int is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static int name_component_ok(const char *s, size_t len)
{
	size_t i = 0, sep;

	while (i < len) {
		if (!is_lower_alnum(s[i]))
			return 0;
		while (i < len && is_lower_alnum(s[i]))
			i++;
		if (i == len)
			return 1;
		sep = i;
		while (i < len && !is_lower_alnum(s[i]))
			i++;
		if (i == len)
			return 0; /* ends with a separator */
		if (i - sep == 1 && (s[sep] == '.' || s[sep] == '_'))
			continue;
		if (i - sep == 2 && s[sep] == '_' && s[sep + 1] == '_')
			continue;
		if (strspn(s + sep, "-") >= i - sep)
			continue;
		return 0;
	}
	return 0;
}

static int host_ok(const char *s, size_t len, const char **why)
{
	const char *port = NULL;
	size_t hlen, i, plen;
	unsigned long p;

	if (!len) {
		*why = "empty registry host";
		return 0;
	}
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (!rb || rb == s + 1) {
			*why = "bad IPv6 address";
			return 0;
		}
		for (i = 1; s + i < rb; i++)
			if (!isxdigit((unsigned char)s[i]) &&
			    !strchr(":.", s[i])) {
				*why = "bad IPv6 address";
				return 0;
			}
		hlen = rb - s + 1;
	} else {
		hlen = strcspn(s, ":/");
		if (hlen > len)
			hlen = len;
		if (!hlen || s[0] == '.' || s[0] == '-' || s[hlen - 1] == '.' ||
		    s[hlen - 1] == '-') {
			*why = "bad registry host";
			return 0;
		}
		for (i = 0; i < hlen; i++)
			if (!isalnum((unsigned char)s[i]) &&
			    !strchr(".-", s[i])) {
				*why = "bad registry host";
				return 0;
			}
	}
	if (hlen == len)
		return 1;
	if (s[hlen] != ':') {
		*why = "bad registry host";
		return 0;
	}
	port = s + hlen + 1;
	plen = len - hlen - 1;
	if (!plen || plen > 5 || strspn(port, "0123456789") < plen) {
		*why = "port: expected 1..65535";
		return 0;
	}
	p = strtoul(port, NULL, 10);
	if (p < 1 || p > 65535) {
		*why = "port: expected 1..65535";
		return 0;
	}
	return 1;
}

static int tag_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

static int digest_ok(const char *s)
{
	size_t i;

	if (strncmp(s, "sha256:", 7) || strlen(s) != 7 + 64)
		return 0;
	for (i = 7; s[i]; i++)
		if (!isdigit((unsigned char)s[i]) &&
		    !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

int registry_ref_parse(const char *s, struct registry_ref *ref, struct err *e)
{
	const char *slash, *name, *name_end, *tag, *at, *colon, *p, *why;
	size_t hlen, nlen, tlen, clen;
	int n;

	memset(ref, 0, sizeof(*ref));
	if (!s || !*s)
		return err_set(e, -EINVAL, "empty image reference");
	for (p = s; *p; p++)
		if (!isgraph((unsigned char)*p))
			return err_set(e, -EINVAL,
				       "image reference \"%s\": spaces or "
				       "control characters",
				       s);
	slash = strchr(s, '/');
	if (!slash)
		return err_set(e, -EINVAL,
			       "image reference \"%s\": expected "
			       "HOST[:PORT]/NAME[:TAG]",
			       s);
	hlen = slash - s;
	/* A bracketed IPv6 host contains ':' but never '/'. */
	if (!host_ok(s, hlen, &why))
		return err_set(e, -EINVAL, "image reference \"%s\": %s", s,
			       why);
	n = snprintf(ref->url, sizeof(ref->url), "http://%.*s", (int)hlen, s);
	if (n < 0 || (size_t)n >= sizeof(ref->url))
		return err_set(e, -EINVAL,
			       "image reference \"%s\": host too long", s);

	name = slash + 1;
	at = strchr(name, '@');
	/* A tag's ':' comes before any '@' (the digest has its own). */
	colon = at ? memchr(name, ':', at - name) : strrchr(name, ':');
	if (at) {
		if (colon)
			return err_set(e, -EINVAL,
				       "image reference \"%s\": both a tag and "
				       "a digest",
				       s);
		name_end = at;
		tag = at + 1;
		if (!digest_ok(tag))
			return err_set(e, -EINVAL,
				       "image reference \"%s\": digest: "
				       "expected sha256:<64 lowercase hex>",
				       s);
	} else if (colon) {
		name_end = colon;
		tag = colon + 1;
	} else {
		name_end = name + strlen(name);
		tag = "latest";
	}
	nlen = name_end - name;
	tlen = strlen(tag);
	if (!nlen)
		return err_set(e, -EINVAL, "image reference \"%s\": empty name",
			       s);
	if (nlen >= sizeof(ref->repo))
		return err_set(e, -EINVAL,
			       "image reference \"%s\": name longer than %zu "
			       "characters",
			       s, sizeof(ref->repo) - 1);
	for (p = name;; p += clen + 1) {
		clen = strcspn(p, "/");
		if (p + clen > name_end)
			clen = name_end - p;
		if (!name_component_ok(p, clen))
			return err_set(e, -EINVAL,
				       "image reference \"%s\": name: expected "
				       "lowercase components like fn/python",
				       s);
		if (p + clen >= name_end)
			break;
	}
	if (!at && !tag_ok(tag, tlen))
		return err_set(e, -EINVAL,
			       "image reference \"%s\": tag: expected "
			       "[A-Za-z0-9_][A-Za-z0-9._-]*",
			       s);
	if (tlen >= sizeof(ref->tag))
		return err_set(e, -EINVAL,
			       "image reference \"%s\": tag longer than %zu "
			       "characters",
			       s, sizeof(ref->tag) - 1);
	memcpy(ref->repo, name, nlen);
	memcpy(ref->tag, tag, tlen + 1);
	return 0;
}

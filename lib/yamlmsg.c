#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "yamlmsg.h"

size_t yamlmsg_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

/* Writes s[0..n) between quote characters q, with anything that is not
 * printable ASCII escaped, so that a value holding a newline or an invisible
 * Unicode space still gives a visible, one-line message. Long text is cut
 * with "...". */
const char *yamlmsg_quote(char *buf, size_t len, const char *s, size_t n,
			  char q)
{
	size_t o = 0, i;

	if (len < sizeof("'...'"))
		return "";
	buf[o++] = q;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char tmp[5];
		size_t tl;

		if (ch == '\n')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
		else if (ch == '\t')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\t");
		else if (ch == '\\' || ch == (unsigned char)q)
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
		else
			tl = (size_t)snprintf(tmp, sizeof(tmp), "%c", ch);
		/* Keep room for "..." + quote + NUL. */
		if (i >= YAMLMSG_QUOTE_MAX || o + tl + 5 > len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, tmp, tl);
		o += tl;
	}
	buf[o++] = q;
	buf[o] = '\0';
	return buf;
}

bool yamlmsg_is_empty(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       n->data.scalar.length == 0;
}

/* YAML 1.1's plain nulls: a root that is one of these is an empty file. */
bool yamlmsg_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t i;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp((const char *)n->data.scalar.value, nulls[i]))
			return true;
	return false;
}

/* What a node is, for "got ...": a scalar quoted. */
const char *yamlmsg_describe(char *buf, size_t len, const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || yamlmsg_is_empty(n))
		return yamlmsg_kind(n);
	return yamlmsg_quote(buf, len, (const char *)n->data.scalar.value,
			     n->data.scalar.length, '"');
}

int yamlmsg_parse_error(const yaml_parser_t *parser, const char *name,
			struct err *e)
{
	const char *problem =
		parser->problem ? parser->problem : "syntax error";

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		return err_set(e, -ENOMEM, "%s: out of memory reading YAML",
			       name);
	case YAML_READER_ERROR:
		/* The reader has no line yet, only a byte offset. */
		if (parser->problem_value != -1)
			return err_set(e, -EINVAL,
				       "%s: invalid YAML: %s (byte 0x%02x at "
				       "offset %zu)",
				       name, problem,
				       (unsigned)parser->problem_value,
				       parser->problem_offset);
		return err_set(e, -EINVAL, "%s: invalid YAML: %s at offset %zu",
			       name, problem, parser->problem_offset);
	default:
		if (parser->context)
			return err_set(
				e, -EINVAL,
				"%s:%zu: invalid YAML: %s (%s at line %zu)",
				name, parser->problem_mark.line + 1, problem,
				parser->context, parser->context_mark.line + 1);
		return err_set(e, -EINVAL, "%s:%zu: invalid YAML: %s", name,
			       parser->problem_mark.line + 1, problem);
	}
}

const char *yamlmsg_file_kind(const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return "a file";
	if (S_ISDIR(st->st_mode))
		return "a folder";
	if (S_ISLNK(st->st_mode))
		return "a symbolic link";
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return "a device";
	if (S_ISFIFO(st->st_mode))
		return "a pipe";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	return "another kind of file";
}

int yamlmsg_read_file(const char *path, size_t max, const char *what,
		      char **text, size_t *len, struct err *e)
{
	size_t n = 0, cap = 0;
	char *buf = NULL, *nbuf;
	struct stat st;
	ssize_t r;
	int fd, ret = 0;

	/* O_NONBLOCK: opening a pipe must not wait for a writer; it is
	 * refused below, and a regular file reads as ever. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return err_set(e, ret, "%s: %s", path, strerror(-ret));
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		err_set(e, ret, "%s: %s", path, strerror(-ret));
		goto out;
	}
	/* A device or pipe never ends, or ends somewhere else's way. */
	if (!S_ISREG(st.st_mode)) {
		ret = err_set(e, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			      "%s: expected %s (a regular file), got %s", path,
			      what, yamlmsg_file_kind(&st));
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		ret = err_set(e, -EFBIG, "%s: over %zu bytes, too large for %s",
			      path, max, what);
		goto out;
	}
	for (;;) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 4096;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				ret = err_set(e, -ENOMEM, "%s: %s", path,
					      strerror(ENOMEM));
				goto out;
			}
			buf = nbuf;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			err_set(e, ret, "%s: %s", path, strerror(-ret));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		/* A file that grows as it is read (or under /proc, of size
		 * 0) is held to the cap too. */
		if (n > max) {
			ret = err_set(e, -EFBIG,
				      "%s: over %zu bytes, too large for %s",
				      path, max, what);
			goto out;
		}
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

int yamlmsg_check_text(const char *text, size_t len, const char *name,
		       const char *what, struct err *e)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i, k, line = 1, need;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			line++;
			continue;
		}
		if (p[i] == '\t' || p[i] == '\r' ||
		    (p[i] >= 0x20 && p[i] < 0x7f))
			continue;
		/* UTF-8: a lead byte and its continuation bytes, no overlong
		 * two-byte form, nothing past U+10FFFF. */
		need = p[i] >= 0xc2 && p[i] <= 0xdf   ? 1
		       : p[i] >= 0xe0 && p[i] <= 0xef ? 2
		       : p[i] >= 0xf0 && p[i] <= 0xf4 ? 3
						      : 0;
		for (k = 1; need && k <= need; k++)
			if (i + k >= len || (p[i + k] & 0xc0) != 0x80)
				need = 0;
		if (!need)
			return err_set(e, -EINVAL,
				       "%s:%zu: expected %s (text), got a "
				       "control byte or one that is not "
				       "UTF-8",
				       name, line, what);
		i += need;
	}
	return 0;
}

const char *yamlmsg_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		return yamlmsg_is_empty(n) ? "an empty value" : "a value";
	default:
		return "nothing";
	}
}

int yamlmsg_load_one(const char *text, size_t len, const char *name,
		     yaml_document_t *doc, struct err *e)
{
	yaml_parser_t parser;
	yaml_document_t next;
	size_t line;
	bool more;
	int ret;

	if (!yaml_parser_initialize(&parser))
		return err_set(e, -ENOMEM, "%s: out of memory reading YAML",
			       name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, doc)) {
		ret = yamlmsg_parse_error(&parser, name, e);
		goto out;
	}
	if (!yaml_parser_load(&parser, &next)) {
		ret = yamlmsg_parse_error(&parser, name, e);
		yaml_document_delete(doc);
		goto out;
	}
	more = yaml_document_get_root_node(&next) != NULL;
	line = next.start_mark.line + 1;
	yaml_document_delete(&next);
	if (more) {
		yaml_document_delete(doc);
		ret = err_set(e, -EINVAL,
			      "%s:%zu: expected one YAML document, got another",
			      name, line);
		goto out;
	}
	ret = 0;
out:
	yaml_parser_delete(&parser);
	return ret;
}

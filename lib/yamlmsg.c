#include <errno.h>
#include <stdio.h>
#include <string.h>

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

/* What a node is, for "got ...". */
const char *yamlmsg_describe(char *buf, size_t len, const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		if (yamlmsg_is_empty(n))
			return "an empty value";
		return yamlmsg_quote(buf, len,
				     (const char *)n->data.scalar.value,
				     n->data.scalar.length, '"');
	default:
		return "nothing";
	}
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

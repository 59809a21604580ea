/* yamlmsg: what every YAML reader here needs to say where and what was
 * wrong: a node's line, a value quoted visibly on one line, what kind of
 * node was found, YAML's nulls, and libyaml's own parse errors as
 * "file:line: invalid YAML: ...". Also the two steps both readers take
 * before they look at a key: a small file read whole, and exactly one
 * document loaded from it. Shared by the topology and scenario parsers. */
#ifndef FAASNET_YAMLMSG_H
#define FAASNET_YAMLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "err.h"

/* Longest user text quoted back in a message, so it stays one short line. */
#define YAMLMSG_QUOTE_MAX 48

size_t yamlmsg_line(const yaml_node_t *n);
/* s[0..n) between quote characters q, non-printable bytes escaped, cut
 * with "..." past YAMLMSG_QUOTE_MAX. Returns buf. */
const char *yamlmsg_quote(char *buf, size_t len, const char *s, size_t n,
			  char q);
bool yamlmsg_is_empty(const yaml_node_t *n);
/* YAML 1.1's plain nulls ("", ~, null, Null, NULL). */
bool yamlmsg_is_null(const yaml_node_t *n);
/* "a mapping", "a sequence", "an empty value" or the quoted scalar. */
const char *yamlmsg_describe(char *buf, size_t len, const yaml_node_t *n);
/* libyaml's error, as one line naming the input. Returns -EINVAL or
 * -ENOMEM. */
int yamlmsg_parse_error(const yaml_parser_t *parser, const char *name,
			struct err *e);

/* The whole of the file at path into *text (malloc'd, NUL-terminated,
 * *len bytes before the NUL). Over max bytes it fails with -EFBIG and
 * "PATH: over MAX bytes, too large for WHAT"; anything but a regular file
 * (a folder: -EISDIR; a device, a pipe: -EINVAL) with "PATH: expected
 * WHAT (a regular file), got a device", before a byte is read. */
int yamlmsg_read_file(const char *path, size_t max, const char *what,
		      char **text, size_t *len, struct err *e);
/* Whether text[0..len) is text: UTF-8 without control bytes but tab, CR
 * and LF. -EINVAL with "NAME:LINE: expected WHAT (text), got ..." naming
 * the line of the first bad byte, never the byte: a file that another
 * names (a scenario's topology or trace) may be anything, and its content
 * is not ours to print. */
int yamlmsg_check_text(const char *text, size_t len, const char *name,
		       const char *what, struct err *e);
/* What a node is without quoting it ("a mapping", ..., "a value"): for
 * such a file's messages. */
const char *yamlmsg_kind(const yaml_node_t *n);
struct stat;
/* What kind of file st is ("a file", "a folder", "a device", ...), for
 * "expected ..., got ...". */
const char *yamlmsg_file_kind(const struct stat *st);
/* Exactly one YAML document from text into *doc, which the caller then
 * deletes (yaml_document_delete). Empty text gives a document with no root
 * node. A second document is an error naming the line it starts on: it
 * would be ignored otherwise. */
int yamlmsg_load_one(const char *text, size_t len, const char *name,
		     yaml_document_t *doc, struct err *e);

#endif

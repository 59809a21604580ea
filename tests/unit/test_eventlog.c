/* Unit tests of the event log: the lines' content (the head printed, the
 * fields dumped after it, as one object of both would read), and when
 * they reach the file: at once outside a loop, at the end of the loop's
 * round inside one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eventlog.h"
#include "evloop.h"
#include "read_text.h"

/* The line without its t_ns value. */
static void strip_t(char *line)
{
	char *p = strstr(line, "\"t_ns\":"), *q;

	assert_non_null(p);
	p += 7;
	q = p + strspn(p, "0123456789");
	memmove(p, q, strlen(q) + 1);
}

static void test_lines_read_as_one_object(void **state)
{
	char path[] = "/tmp/fnet-lean-test-eventlog.XXXXXX";
	struct eventlog *l;
	char *buf;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(eventlog_open(path, "vm\"7", &l), 0);
	eventlog_write(l, "block",
		       json_pack("{s:i, s:s, s:f}", "block", 3, "source",
				 "par\"ent", "seconds", 0.5));
	eventlog_write(l, "agent_up", NULL);
	eventlog_write(l, "empty", json_object());
	/* A field named like the head's: as before, it wins, once. */
	eventlog_write(l, "odd", json_pack("{s:s}", "who", "other"));
	eventlog_write(l, "Odd-Name", NULL);
	eventlog_close(l);
	buf = read_text(path);
	strip_t(buf);
	strip_t(strstr(buf, "\n") + 1);
	strip_t(strstr(strstr(buf, "\n") + 1, "\n") + 1);
	strip_t(strstr(strstr(strstr(buf, "\n") + 1, "\n") + 1, "\n") + 1);
	strip_t(strstr(strstr(strstr(strstr(buf, "\n") + 1, "\n") + 1, "\n") +
			       1,
		       "\n") +
		1);
	assert_string_equal(
		buf,
		"{\"t_ns\":,\"who\":\"vm\\\"7\",\"event\":\"block\",\"block\":"
		"3,"
		"\"source\":\"par\\\"ent\",\"seconds\":0.5}\n"
		"{\"t_ns\":,\"who\":\"vm\\\"7\",\"event\":\"agent_up\"}\n"
		"{\"t_ns\":,\"who\":\"vm\\\"7\",\"event\":\"empty\"}\n"
		"{\"t_ns\":,\"who\":\"other\",\"event\":\"odd\"}\n"
		"{\"t_ns\":,\"who\":\"vm\\\"7\",\"event\":\"Odd-Name\"}\n");
	free(buf);
	unlink(path);
}

struct run {
	const char *path;
	struct eventlog *log;
	int lines_in_round, lines_after;
};

static int count_lines(const char *path)
{
	char *buf = read_text(path), *p;
	int n = 0;

	for (p = buf; (p = strchr(p, '\n')); p++)
		n++;
	free(buf);
	return n;
}

static void later(struct evloop *l, void *arg)
{
	struct run *r = arg;

	r->lines_after = count_lines(r->path);
	evloop_stop(l);
}

static void in_round(struct evloop *l, void *arg)
{
	struct run *r = arg;
	int i;

	for (i = 0; i < 100; i++)
		eventlog_write(r->log, "block", json_pack("{s:i}", "block", i));
	r->lines_in_round = count_lines(r->path);
	assert_true(evloop_timer(l, 0, later, r) > 0);
}

static void test_written_before_the_loop_waits(void **state)
{
	char path[] = "/tmp/fnet-lean-test-eventlog.XXXXXX";
	struct run r = {.path = path};
	struct evloop *l;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(eventlog_open(path, "vm", &r.log), 0);
	/* Outside a loop: on disk at once. */
	eventlog_write(r.log, "agent_up", NULL);
	assert_int_equal(count_lines(path), 1);
	assert_int_equal(evloop_new(&l), 0);
	assert_true(evloop_timer(l, 0, in_round, &r) > 0);
	assert_int_equal(evloop_run(l, -1), 0);
	/* Buffered during the round, all on disk by the next. */
	assert_int_equal(r.lines_in_round, 1);
	assert_int_equal(r.lines_after, 101);
	evloop_free(l);
	eventlog_close(r.log);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_read_as_one_object),
		cmocka_unit_test(test_written_before_the_loop_waits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

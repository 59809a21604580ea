/* The manager's journal (manager/journal.c): every record back as written,
 * a last line cut short by a kill cut off the file, and the lines it
 * refuses, each with the file and line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

struct seen {
	unsigned n;
	struct journal_rec r[32];
	char names[32][64];
	int fail_at; /* the callback fails on this record (1-based); 0 never */
};

static int collect(void *arg, const struct journal_rec *r, struct err *e)
{
	struct seen *s = arg;

	if (s->fail_at && s->n + 1 == (unsigned)s->fail_at)
		return err_set(e, -ERANGE, "no such VM");
	assert_true(s->n < 32);
	s->r[s->n] = *r;
	if (r->name) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", r->name);
		s->r[s->n].name = s->names[s->n];
	}
	s->n++;
	return 0;
}

static void tmp_path(char *path, size_t cap)
{
	int fd;

	snprintf(path, cap, "/tmp/fnet-test-journal.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path); /* journal_open creates it */
}

static const struct journal_rec every[] = {
	{.op = JOURNAL_FUNCTION, .fn = 0, .name = "py stan"},
	{.op = JOURNAL_VM,
	 .vm = 0,
	 .addr = 0xc6120101,
	 .port = 65535,
	 .t_ns = UINT64_MAX,
	 .name = "vm0001"},
	{.op = JOURNAL_INSERT, .fn = 0, .vm = 0},
	{.op = JOURNAL_PLACE, .container = 7, .fn = 0, .vm = 0},
	{.op = JOURNAL_START, .container = 7, .t_ns = 5, .mgr_ns = 6},
	{.op = JOURNAL_INVOKE, .session = 1ull << 63, .id = 9, .container = 7},
	{.op = JOURNAL_INVOKED,
	 .session = 1ull << 63,
	 .id = 9,
	 .container = 7,
	 .count = 1},
	{.op = JOURNAL_RELEASE, .container = 7},
	{.op = JOURNAL_FAIL, .container = UINT32_MAX},
	{.op = JOURNAL_LOST, .container = 3},
	{.op = JOURNAL_DELETE, .fn = 0, .vm = 0},
	{.op = JOURNAL_DISTRUST, .vm = 0},
	{.op = JOURNAL_DOWN, .vm = 0},
};

#define NEVERY (sizeof(every) / sizeof(every[0]))

static void append_every(const char *path)
{
	struct journal *j;
	struct err e = {""};
	int fresh;
	size_t i;

	assert_int_equal(journal_open(path, &j, &fresh, &e), 0);
	assert_int_equal(fresh, 1);
	for (i = 0; i < NEVERY; i++)
		assert_int_equal(journal_append(j, &every[i], &e), 0);
	journal_close(j);
}

static void test_every_record_back(void **state)
{
	struct seen s = {0};
	struct journal *j;
	struct err e = {""};
	char path[64];
	unsigned n;
	size_t i;
	int fresh;

	(void)state;
	tmp_path(path, sizeof(path));
	append_every(path);
	assert_int_equal(journal_open(path, &j, &fresh, &e), 0);
	assert_int_equal(fresh, 0);
	assert_int_equal(journal_replay(j, collect, &s, &n, &e), 0);
	assert_int_equal(n, NEVERY);
	assert_int_equal(s.n, NEVERY);
	for (i = 0; i < NEVERY; i++) {
		const struct journal_rec *a = &every[i], *b = &s.r[i];

		assert_int_equal(a->op, b->op);
		assert_int_equal(a->fn, b->fn);
		assert_int_equal(a->vm, b->vm);
		assert_int_equal(a->container, b->container);
		assert_int_equal(a->id, b->id);
		assert_int_equal(a->count, b->count);
		assert_int_equal(a->addr, b->addr);
		assert_int_equal(a->port, b->port);
		assert_true(a->session == b->session);
		assert_true(a->t_ns == b->t_ns);
		assert_true(a->mgr_ns == b->mgr_ns);
		if (a->name)
			assert_string_equal(a->name, b->name);
		else
			assert_null(b->name);
	}
	/* Replayed once: a second replay finds nothing. */
	assert_int_equal(journal_replay(j, collect, &s, &n, &e), 0);
	assert_int_equal(n, 0);
	journal_close(j);
	unlink(path);
}

/* A kill in the middle of a line: the piece is cut off, and what comes
 * after starts a line of its own. */
static void test_cut_line_cut_off(void **state)
{
	static const char piece[] = "place 12 0";
	struct journal_rec r = {.op = JOURNAL_LOST, .container = 4};
	struct seen s = {0};
	struct journal *j;
	struct err e = {""};
	struct stat st, st2;
	char path[64];
	unsigned n;
	int fd, fresh;

	(void)state;
	tmp_path(path, sizeof(path));
	append_every(path);
	assert_int_equal(stat(path, &st), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, piece, strlen(piece)), strlen(piece));
	close(fd);
	assert_int_equal(journal_open(path, &j, &fresh, &e), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st.st_size, st2.st_size);
	assert_int_equal(journal_append(j, &r, &e), 0);
	journal_close(j);
	assert_int_equal(journal_open(path, &j, &fresh, &e), 0);
	assert_int_equal(journal_replay(j, collect, &s, &n, &e), 0);
	assert_int_equal(n, NEVERY + 1);
	assert_int_equal(s.r[NEVERY].op, JOURNAL_LOST);
	assert_int_equal(s.r[NEVERY].container, 4);
	journal_close(j);
	unlink(path);
}

/* path holds the header and then text; replaying it must fail with a
 * message containing want. */
static void expect_refused(const char *text, const char *want)
{
	struct seen s = {0};
	struct journal *j;
	struct err e = {""};
	char path[64], full[256];
	unsigned n;
	int fd, fresh;

	tmp_path(path, sizeof(path));
	snprintf(full, sizeof(full), "# faasnet-manager journal 1\n%s", text);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, full, strlen(full)), strlen(full));
	close(fd);
	assert_int_equal(journal_open(path, &j, &fresh, &e), 0);
	assert_int_equal(journal_replay(j, collect, &s, &n, &e), -EBADMSG);
	if (!strstr(e.msg, want) || !strstr(e.msg, path))
		fail_msg("got \"%s\", expected \"%s\"", e.msg, want);
	journal_close(j);
	unlink(path);
}

static void test_bad_lines(void **state)
{
	(void)state;
	expect_refused("down 1\nplace 3 x 1\n",
		       ":3: place: field 2: expected a number");
	expect_refused("grow 1\n", ":2: unknown record \"grow\"");
	expect_refused("down\n", ":2: down: too few fields");
	expect_refused("down 1 2\n", ":2: down: too many fields");
	expect_refused("down -1\n", ":2: down: field 1: expected a number");
	expect_refused("down 4294967296\n", "field 1: expected a number");
	expect_refused("vm 1 2 65536 4 vm1\n", "field 3: expected a number");
	expect_refused("vm 1 2 3 4 \x01vm\n", ":2: vm: a bad name");
	expect_refused("vm 1 2 3 4\n", ":2: vm: too few fields");
}

static void test_not_a_journal(void **state)
{
	struct journal *j = NULL;
	struct err e = {""};
	char path[64];
	int fd, fresh;

	(void)state;
	tmp_path(path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"t_ns\":1}\n", 11), 11);
	close(fd);
	assert_int_equal(journal_open(path, &j, &fresh, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, ":1: not a faasnet-manager journal"));
	assert_null(j);
	unlink(path);
}

/* A name that would break its line is refused, and the callback's own
 * failure is said with its place. */
static void test_refusals(void **state)
{
	struct journal_rec r = {.op = JOURNAL_VM, .name = "vm\n2"};
	struct seen s = {.fail_at = 3};
	struct journal *j;
	struct err e = {""};
	char path[64];
	unsigned n;
	int fresh;

	(void)state;
	tmp_path(path, sizeof(path));
	assert_int_equal(journal_open(path, &j, &fresh, &e), 0);
	assert_int_equal(journal_append(j, &r, &e), -EINVAL);
	r.name = NULL;
	assert_int_equal(journal_append(j, &r, &e), -EINVAL);
	journal_close(j);
	unlink(path);
	append_every(path);
	assert_int_equal(journal_open(path, &j, &fresh, &e), 0);
	assert_int_equal(journal_replay(j, collect, &s, &n, &e), -ERANGE);
	assert_int_equal(n, 2);
	assert_non_null(strstr(e.msg, ":4: no such VM"));
	journal_close(j);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_record_back),
		cmocka_unit_test(test_cut_line_cut_off),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_not_a_journal),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

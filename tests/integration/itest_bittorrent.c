/* Integration tests of the bittorrent strategy (testbed/st_bittorrent.c)
 * on a real 4-VM testbed, driven as run.c drives every strategy (its
 * start, the driver's loop, finish, the processes stopped, its facts):
 * opentracker in fnet-registry, the aria2c seeder in fnet-manager, an
 * aria2c per VM and image. Need root, opentracker, aria2c and mktorrent;
 * they skip and say why otherwise. */
#include "itest.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sys/stat.h>

#include "driver.h"
#include "oci.h"
#include "plan.h"
#include "procs.h"
#include "strategy.h"

#define TB_BIN	"build/bin/faasnet-testbed"
#define IMG_BIN "build/bin/faasnet-image"
#define NVMS	4
/* `up` refuses while another engineer's testbed is up or holds the lock:
 * wait for it this many times, a minute each, then skip. */
#define UP_TRIES 5

struct fixture {
	char dir[64];	/* temp folder: layouts, topology, runs */
	char skip[160]; /* why every test skips, or "" */
	int up;		/* we brought the testbed up: we take it down */
	struct topo_plan plan;
	int have_plan;
};

static struct fixture fx;

/* The running test's results: the per-test teardown frees them even when
 * an assertion ends the test early. */
static struct {
	struct scenario *s;
	struct driver_result r;
	struct strategy_fact *facts; /* per container of r */
} cur;

static int test_teardown(void **state)
{
	(void)state;
	driver_result_free(&cur.r);
	free(cur.facts);
	free(cur.s);
	memset(&cur, 0, sizeof(cur));
	return 0;
}

static int setup(void **state)
{
	static const char *const need[] = {
		"/usr/bin/opentracker", "/usr/bin/aria2c", "/usr/bin/mktorrent",
		TB_BIN, IMG_BIN};
	struct topo_spec spec;
	struct err e = {""};
	unsigned i;

	(void)state;
	if (geteuid() != 0) {
		snprintf(fx.skip, sizeof(fx.skip), "needs root for namespaces");
		return 0;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (access(need[i], X_OK)) {
			snprintf(fx.skip, sizeof(fx.skip), "%s is missing%s",
				 need[i],
				 need[i][0] == 'b' ? " (make it first)" : "");
			return 0;
		}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/fnet-itest-bt-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	if (itest_run(NULL,
		      "printf 'vms: %d\\nvm_link: { rate: 200mbit }\\n"
		      "registry_link: { rate: 200mbit }\\n' > %s/topo.yaml",
		      NVMS, fx.dir) ||
	    itest_run(NULL,
		      IMG_BIN " synth fn --size 8MB --seed 5 --out %s/img >&2",
		      fx.dir))
		return -1;
	/* The same spec as the file, for the names the strategy uses. */
	topo_spec_default(&spec);
	spec.vms = NVMS;
	spec.vm_rate_bps = 200000000ull;
	spec.registry_rate_bps = 200000000ull;
	if (topo_plan_make(&spec, &fx.plan, &e)) {
		fprintf(stderr, "plan: %s\n", e.msg);
		return -1;
	}
	fx.have_plan = 1;
	for (i = 0; i < UP_TRIES; i++) {
		if (!itest_run(NULL, TB_BIN " up %s/topo.yaml >&2", fx.dir)) {
			fx.up = 1;
			return 0;
		}
		if (i + 1 < UP_TRIES) {
			fprintf(stderr, "up failed (another testbed?); "
					"retrying in a minute\n");
			sleep(60);
		}
	}
	snprintf(fx.skip, sizeof(fx.skip),
		 "could not bring a testbed up (another one is up?)");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (fx.up)
		itest_run(NULL, TB_BIN " down >&2");
	fx.up = 0;
	if (fx.have_plan)
		topo_plan_free(&fx.plan);
	/* ITEST_KEEP=1 keeps the runs' logs to read. */
	if (fx.dir[0] && getenv("ITEST_KEEP"))
		fprintf(stderr, "kept %s\n", fx.dir);
	else if (fx.dir[0])
		itest_run(NULL, "rm -rf %s", fx.dir);
	return 0;
}

#define NEED_TESTBED()                                                         \
	do {                                                                   \
		if (fx.skip[0]) {                                              \
			fprintf(stderr, "SKIP: %s\n", fx.skip);                \
			skip();                                                \
		}                                                              \
	} while (0)

static struct scenario *one_function(const char *layout_name)
{
	static struct scenario_function f = {.name = "f1", .image = 0};
	struct scenario *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->name, sizeof(s->name), "itest-bt");
	s->nimages = 1;
	snprintf(s->images[0].name, sizeof(s->images[0].name), "fn");
	snprintf(s->images[0].layout, sizeof(s->images[0].layout), "%s/%s",
		 fx.dir, layout_name);
	s->nfunctions = 1;
	s->functions = &f;
	s->timeout_ns = 60000000000ull;
	return s;
}

/* What bittorrent.jsonl says: events counted, the tracker's view, bytes
 * uploaded. */
struct seen {
	int verified, verify_failed, download_complete;
	long long tracker_complete, tracker_incomplete;
	long long seeder_up, vms_up, layer_bytes;
	double dilation; /* the "dilation" event's k; 0: none */
	int tracker_pid; /* "tracker_up" */
	int pids[NVMS];	 /* "download_start", in order */
	int ndownloads;
};

static void read_events(const char *raw, struct seen *sn)
{
	char path[256], line[4096];
	FILE *f;

	memset(sn, 0, sizeof(*sn));
	snprintf(path, sizeof(path), "%s/bittorrent.jsonl", raw);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *ev = json_string_value(json_object_get(j, "event"));

		if (!ev) {
			json_decref(j);
			continue;
		}
		if (!strcmp(ev, "verified"))
			sn->verified++;
		else if (!strcmp(ev, "verify_failed"))
			sn->verify_failed++;
		else if (!strcmp(ev, "download_complete"))
			sn->download_complete++;
		else if (!strcmp(ev, "tracker")) {
			sn->tracker_complete = json_integer_value(
				json_object_get(j, "complete"));
			sn->tracker_incomplete = json_integer_value(
				json_object_get(j, "incomplete"));
		} else if (!strcmp(ev, "torrent"))
			sn->layer_bytes =
				json_integer_value(json_object_get(j, "bytes"));
		else if (!strcmp(ev, "dilation"))
			sn->dilation =
				json_number_value(json_object_get(j, "k"));
		else if (!strcmp(ev, "tracker_up"))
			sn->tracker_pid = (int)json_integer_value(
				json_object_get(j, "pid"));
		else if (!strcmp(ev, "download_start")) {
			if (sn->ndownloads < NVMS)
				sn->pids[sn->ndownloads] =
					(int)json_integer_value(
						json_object_get(j, "pid"));
			sn->ndownloads++;
		} else if (!strcmp(ev, "traffic_total")) {
			sn->seeder_up = json_integer_value(
				json_object_get(j, "seeder_up_bytes"));
			sn->vms_up = json_integer_value(
				json_object_get(j, "vms_up_bytes"));
		}
		json_decref(j);
	}
	fclose(f);
}

/* One run of the strategy as run.c makes it, per_vm containers a VM at
 * most, into cur.r and cur.facts. */
static int run_bt_n(const struct scenario_invocation *inv, size_t ninv,
		    const char *raw, unsigned per_vm, struct err *e)
{
	const struct strategy *st = strategy_at(strategy_find("bittorrent"));
	const char *layouts[2] = {cur.s->images[0].layout,
				  cur.s->images[1].layout};
	const char *refs[2] = {"", ""};
	const uint64_t gaps[2] = {0, 0};
	struct driver_target t = {.fd = -1};
	struct procs *pr = NULL;
	void *state = NULL;
	unsigned corrupt = 0;
	double k = fx.plan.spec.dilation > 1 ? fx.plan.spec.dilation : 1;
	char plog[160];
	int ret;

	snprintf(plog, sizeof(plog), "%s/processes.log", raw);
	assert_non_null(st);
	assert_int_equal(procs_new(&pr), 0);
	{
		const struct strategy_env env = {
			.s = cur.s,
			.plan = &fx.plan,
			.raw = raw,
			.plog = plog,
			.label = "itest-bt",
			.bindir = "build/bin",
			.registry = "198.18.0.2:5000",
			.refs = refs,
			.layouts = layouts,
			.trace_gaps_ns = gaps,
			.inv = inv,
			.ninv = ninv,
			.seed = 1,
			.vms = NVMS,
			.per_vm = per_vm,
			.k = k,
			.pr = pr,
			.e = e,
		};

		ret = st->start(&env, &state, &t);
		if (!ret)
			ret = driver_run(&t, inv, ninv, cur.s,
					 cur.s->timeout_ns, k, NULL, NULL,
					 "itest-bt",
					 &cur.r, e);
		if (!ret && st->finish)
			st->finish(state, &cur.r);
		procs_stop_all(pr, 3000);
		procs_free(pr);
		if (!ret) {
			cur.facts = calloc(cur.r.n ? cur.r.n : 1,
					   sizeof(*cur.facts));
			assert_non_null(cur.facts);
			ret = st->facts(state, &cur.r, cur.facts, &corrupt);
		}
		st->free(state);
	}
	return ret;
}

static int run_bt(const struct scenario_invocation *inv, const char *raw,
		  unsigned per_vm, struct err *e)
{
	return run_bt_n(inv, 1, raw, per_vm, e);
}

/* Whether the VMs named in the facts of containers 0..n-1 are all
 * different. */
static int distinct_vms(unsigned n)
{
	unsigned i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(cur.facts[i].vm, cur.facts[j].vm))
				return 0;
	return 1;
}

static void test_four_vms_fetch_through_the_swarm(void **state)
{
	struct scenario_invocation inv = {
		.t_ns = 0, .function = 0, .containers = NVMS};
	struct driver_result *r = &cur.r;
	struct err e = {""};
	struct seen sn;
	char raw[128];
	unsigned i;
	int ret;

	(void)state;
	NEED_TESTBED();
	cur.s = one_function("img");
	snprintf(raw, sizeof(raw), "%s/run-ok", fx.dir);
	ret = run_bt(&inv, raw, 1, &e);
	if (ret)
		fprintf(stderr, "bittorrent: %s\n", e.msg);
	assert_int_equal(ret, 0);
	assert_int_equal(r->n, NVMS);
	assert_int_equal(r->started, NVMS);
	assert_int_equal(r->failed, 0);
	assert_int_equal(r->nunplaced, 0);
	assert_int_equal(r->first_id, 0);

	read_events(raw, &sn);
	assert_true(sn.layer_bytes > 0);
	for (i = 0; i < NVMS; i++) {
		const struct driver_container *c = &r->c[i];

		fprintf(stderr, "container %u on %s: started %.3f s\n", i,
			cur.facts[i].vm,
			(double)(c->started_ns - c->requested_ns) / 1e9);
		assert_int_equal(c->function, 0);
		assert_true(c->requested_ns >= r->t0_ns);
		assert_true(c->started_ns > c->requested_ns);
		assert_false(c->failed);
		assert_int_equal(strncmp(cur.facts[i].vm, "vm", 2), 0);
		assert_int_equal(cur.facts[i].peer_bytes,
				 (uint64_t)sn.layer_bytes);
		assert_true(cur.facts[i].ready_ns == c->started_ns);
		/* what each VM holds is the seeder's copy, byte for byte */
		assert_int_equal(itest_run(NULL,
					   "cmp %s/seed/fn.tar.gz "
					   "%s/dl/%s-fn/fn.tar.gz",
					   raw, raw, cur.facts[i].vm),
				 0);
	}
	/* one container a VM: four VMs, four downloads */
	assert_true(distinct_vms(NVMS));
	assert_int_equal(sn.ndownloads, NVMS);
	/* Every layer unpacked to its diff_id. */
	assert_int_equal(sn.download_complete, NVMS);
	assert_int_equal(sn.verified, NVMS);
	assert_int_equal(sn.verify_failed, 0);
	/* The tracker saw the seeder and every VM (aria2c tells it of a
	 * finished download only at its next announce: most still count as
	 * downloading when the run ends). */
	assert_int_equal(sn.tracker_complete + sn.tracker_incomplete, NVMS + 1);
	assert_true(sn.tracker_complete >= 1);
	/* The seeder was not the only source: the VMs uploaded to each other
	 * (interface counters, so headers and acks count too; acks alone
	 * are ~2% of what a VM fetched). */
	fprintf(stderr,
		"layer %lld bytes; seeder uploaded %lld, the VMs %lld\n",
		sn.layer_bytes, sn.seeder_up, sn.vms_up);
	assert_true(sn.vms_up > sn.layer_bytes / 2);
	assert_true(sn.seeder_up < (long long)NVMS * sn.layer_bytes);
	/* All ended: nothing of the run is left in the namespaces. */
	assert_int_equal(itest_count2("ps -eo args | grep -E "
				      "'^/usr/bin/(aria2c|opentracker)' | "
				      "grep -F %s",
				      raw),
			 0);
}

/* Whether libfaketime's semaphore or shared memory of pid is left in
 * /dev/shm. */
static int faketime_left(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/shm/sem.faketime_sem_%d", pid);
	if (!access(path, F_OK))
		return 1;
	snprintf(path, sizeof(path), "/dev/shm/faketime_shm_%d", pid);
	return !access(path, F_OK);
}

/* Time dilation 2: the tracker, the seeder and every aria2c under
 * libfaketime's clock at half speed (chrooted opentracker included) still
 * make a swarm that delivers every layer, and nothing of libfaketime's is
 * left in /dev/shm. How much slower they run is measured in
 * docs/fidelity.md, not asserted here. */
static void test_dilated_swarm(void **state)
{
	struct scenario_invocation inv = {
		.t_ns = 0, .function = 0, .containers = NVMS};
	struct driver_result *r = &cur.r;
	struct err e = {""};
	struct seen sn;
	char raw[128];
	unsigned i;
	int ret;

	(void)state;
	NEED_TESTBED();
	if (access(PROCS_FAKETIME_LIB, R_OK)) {
		fprintf(stderr,
			"SKIP: %s is missing (apt-get install "
			"libfaketime)\n",
			PROCS_FAKETIME_LIB);
		skip();
	}
	cur.s = one_function("img");
	snprintf(raw, sizeof(raw), "%s/run-dilated", fx.dir);
	/* The links stay as built: only the clocks are slowed here. */
	fx.plan.spec.dilation = 2;
	ret = run_bt(&inv, raw, 1, &e);
	fx.plan.spec.dilation = 0;
	if (ret)
		fprintf(stderr, "bittorrent: %s\n", e.msg);
	assert_int_equal(ret, 0);
	assert_int_equal(r->started, NVMS);
	assert_int_equal(r->failed, 0);
	read_events(raw, &sn);
	assert_true(sn.dilation == 2);
	assert_int_equal(sn.verified, NVMS);
	assert_true(sn.tracker_pid > 0);
	assert_false(faketime_left(sn.tracker_pid));
	for (i = 0; i < NVMS; i++) {
		assert_true(sn.pids[i] > 0);
		assert_false(faketime_left(sn.pids[i]));
	}
}

/* A copy of the layout whose config names another diff_id: the swarm
 * delivers the layer intact, and it must still fail to start. */
static void make_bad_layout(const char *dir)
{
	struct oci_image img = {0};
	struct err e = {""};
	char *man = NULL, *cfg = NULL;
	size_t len, clen;

	assert_int_equal(itest_run(NULL, "cp -a %s/img %s", fx.dir, dir), 0);
	assert_int_equal(oci_layout_get_manifest(dir, NULL, &man, &len, &e), 0);
	assert_int_equal(oci_manifest_parse(man, len, &img, &e), 0);
	free(man);
	assert_int_equal(
		oci_layout_read_blob(dir, img.config.digest, &cfg, &clen, &e),
		0);
	assert_int_equal(oci_config_parse_diff_ids(cfg, clen, &img, &e), 0);
	free(cfg);
	snprintf(img.layers[0].diff_id, sizeof(img.layers[0].diff_id),
		 "sha256:%064d", 0);
	assert_int_equal(oci_config_build(&img, &cfg, &clen, &e), 0);
	assert_int_equal(oci_layout_put(dir, cfg, clen, img.config.digest, &e),
			 0);
	img.config.size = clen;
	free(cfg);
	assert_int_equal(oci_manifest_build(&img, &man, &len, &e), 0);
	assert_int_equal(oci_layout_set_manifest(dir, man, len, "fn", &e), 0);
	free(man);
	oci_image_free(&img);
}

static void test_wrong_digest_and_no_free_vm_fail(void **state)
{
	struct scenario_invocation inv = {
		.t_ns = 0, .function = 0, .containers = NVMS + 1};
	struct driver_result *r = &cur.r;
	struct err e = {""};
	struct seen sn;
	char raw[128], bad[128];
	unsigned i;
	int ret;

	(void)state;
	NEED_TESTBED();
	snprintf(bad, sizeof(bad), "%s/img-bad", fx.dir);
	make_bad_layout(bad);
	cur.s = one_function("img-bad");
	snprintf(raw, sizeof(raw), "%s/run-bad", fx.dir);
	ret = run_bt(&inv, raw, 1, &e);
	if (ret)
		fprintf(stderr, "bittorrent: %s\n", e.msg);
	assert_int_equal(ret, 0);
	/* Four placed, one VM short for the fifth. */
	assert_int_equal(r->n, NVMS);
	assert_int_equal(r->nunplaced, 1);
	assert_int_equal(r->unplaced[0].count, 1);
	assert_int_equal(r->started, 0);
	assert_int_equal(r->failed, NVMS + 1);
	for (i = 0; i < NVMS; i++) {
		assert_true(r->c[i].failed);
		assert_int_equal(r->c[i].started_ns, 0);
	}
	read_events(raw, &sn);
	assert_int_equal(sn.download_complete, NVMS);
	assert_int_equal(sn.verify_failed, NVMS);
	assert_int_equal(sn.verified, 0);
}

/* Two containers a VM, as the manager places fig17's 2,500 on 1,000: the
 * eight containers share four VMs, one aria2c each, and every one starts
 * (before, bittorrent placed one a VM and failed the rest). */
static void test_two_a_vm_share_one_download(void **state)
{
	struct scenario_invocation inv = {
		.t_ns = 0, .function = 0, .containers = 2 * NVMS};
	struct driver_result *r = &cur.r;
	struct err e = {""};
	struct seen sn;
	uint64_t bytes = 0;
	char raw[128];
	unsigned i, j, same;
	int ret;

	(void)state;
	NEED_TESTBED();
	cur.s = one_function("img");
	snprintf(raw, sizeof(raw), "%s/run-two", fx.dir);
	ret = run_bt(&inv, raw, 2, &e);
	if (ret)
		fprintf(stderr, "bittorrent: %s\n", e.msg);
	assert_int_equal(ret, 0);
	assert_int_equal(r->n, 2 * NVMS);
	assert_int_equal(r->started, 2 * NVMS);
	assert_int_equal(r->nunplaced, 0);
	read_events(raw, &sn);
	assert_int_equal(sn.ndownloads, NVMS);
	assert_int_equal(sn.verified, NVMS);
	for (i = 0; i < r->n; i++) {
		for (j = 0, same = 0; j < r->n; j++)
			same += !strcmp(cur.facts[i].vm, cur.facts[j].vm);
		assert_int_equal(same, 2);
		bytes += cur.facts[i].peer_bytes;
	}
	/* the layer counted once per VM, not per container */
	assert_int_equal(bytes, (uint64_t)NVMS * (uint64_t)sn.layer_bytes);
}

/* Two functions of two images packed on one VM (two a VM, best fit): two
 * aria2c there, each on its own port, both layers arrive and verify. */
static void test_two_images_on_one_vm(void **state)
{
	static struct scenario_function fns[2] = {{.name = "f1", .image = 0},
						  {.name = "f2", .image = 1}};
	struct scenario_invocation inv[2] = {
		{.t_ns = 0, .function = 0, .containers = 1},
		{.t_ns = 0, .function = 1, .containers = 1}};
	struct driver_result *r = &cur.r;
	struct err e = {""};
	struct seen sn;
	char raw[128];
	int ret;

	(void)state;
	NEED_TESTBED();
	assert_int_equal(itest_run(NULL,
				   IMG_BIN " synth fn2 --size 4MB --seed 6 "
					   "--out %s/img2 >&2",
				   fx.dir),
			 0);
	cur.s = one_function("img");
	cur.s->nimages = 2;
	snprintf(cur.s->images[1].name, sizeof(cur.s->images[1].name), "fn2");
	snprintf(cur.s->images[1].layout, sizeof(cur.s->images[1].layout),
		 "%s/img2", fx.dir);
	cur.s->nfunctions = 2;
	cur.s->functions = fns;
	snprintf(raw, sizeof(raw), "%s/run-two-images", fx.dir);
	ret = run_bt_n(inv, 2, raw, 2, &e);
	if (ret)
		fprintf(stderr, "bittorrent: %s\n", e.msg);
	assert_int_equal(ret, 0);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->started, 2);
	assert_int_equal(r->failed, 0);
	/* one VM, two downloads */
	assert_string_equal(cur.facts[0].vm, cur.facts[1].vm);
	read_events(raw, &sn);
	assert_int_equal(sn.ndownloads, 2);
	assert_int_equal(sn.verified, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_four_vms_fetch_through_the_swarm,
					  test_teardown),
		cmocka_unit_test_teardown(test_wrong_digest_and_no_free_vm_fail,
					  test_teardown),
		cmocka_unit_test_teardown(test_two_a_vm_share_one_download,
					  test_teardown),
		cmocka_unit_test_teardown(test_two_images_on_one_vm,
					  test_teardown),
		cmocka_unit_test_teardown(test_dilated_swarm, test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for testbed/fidelity.c, the verdict of a run, fed made-up
 * monitor samples: a quiet run is ok; a CPU hog, softirq, CPU pressure, a
 * late canary, a backlogged link below its rate and a lagging manager
 * each give degraded with the right signal and window; a spike shorter
 * than a signal's minimum is not averaged into anything and does not
 * count; a link that was never backlogged is not judged; a gap ends an
 * episode; merging repetitions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fidelity.h"

#define WIN 0.1
#define N   60 /* 6 s of 100 ms windows */

static struct fidelity_host_sample host[N];
static struct fidelity_link_sample links[N];

/* A quiet host: 30% on the busiest CPU, little softirq and pressure, a
 * canary a fraction of a millisecond late. */
static void quiet(void)
{
	size_t i;

	for (i = 0; i < N; i++) {
		host[i] = (struct fidelity_host_sample){
			.from_s = i * WIN,
			.to_s = (i + 1) * WIN,
			.cpu = (int)(i % 2),
			.cpu_busy = 0.30,
			.softirq_cpu = 0,
			.softirq = 0.05,
			.psi = 0.02,
			.canary_max_ms = 0.2,
			.canary_p99_ms = 0.2,
		};
	}
}

static struct fidelity_verdict judge(size_t nhost, size_t nlinks,
				     const struct fidelity_lag_sample *lag,
				     size_t nlag)
{
	struct fidelity_input in = {.host = host,
				    .nhost = nhost,
				    .links = links,
				    .nlinks = nlinks,
				    .lag = lag,
				    .nlag = nlag};
	struct fidelity_verdict v;

	memset(&v, 0xa5, sizeof(v));
	assert_int_equal(fidelity_judge(&in, &v), 0);
	return v;
}

static void assert_near(double a, double b)
{
	if (fabs(a - b) > 1e-6)
		fail_msg("%f != %f", a, b);
}

static void test_quiet_is_ok(void **state)
{
	struct fidelity_verdict v;

	(void)state;
	quiet();
	v = judge(N, 0, NULL, 0);
	assert_int_equal(v.degraded, 0);
	assert_int_equal(v.nreasons, 0);
	assert_int_equal(v.dropped, 0);
}

static void test_nothing_is_ok(void **state)
{
	struct fidelity_verdict v;

	(void)state;
	v = judge(0, 0, NULL, 0);
	assert_int_equal(v.degraded, 0);
}

/* cpu1 at 99% from 1.2 to 3.4 s: one reason, that window, the mean. */
static void test_hog_is_degraded_with_its_window(void **state)
{
	struct fidelity_verdict v;
	size_t i;

	(void)state;
	quiet();
	for (i = 12; i < 34; i++) {
		host[i].cpu = 1;
		host[i].cpu_busy = i == 20 ? 0.97 : 0.99;
	}
	v = judge(N, 0, NULL, 0);
	assert_int_equal(v.degraded, 1);
	assert_int_equal(v.nreasons, 1);
	assert_int_equal(v.reasons[0].signal, FIDELITY_SIG_CPU);
	assert_near(v.reasons[0].from_s, 1.2);
	assert_near(v.reasons[0].to_s, 3.4);
	assert_near(v.reasons[0].threshold, FIDELITY_CPU_BUSY);
	assert_near(v.reasons[0].value, (21 * 0.99 + 0.97) / 22);
	assert_string_equal(v.reasons[0].text, "cpu1 99% busy 1.2-3.4 s");
}

/* 0.5 s at 100%: far above the threshold, shorter than the minimum; and
 * not averaged into the run either (the whole run stays ok). */
static void test_short_spike_is_not_a_reason(void **state)
{
	struct fidelity_verdict v;
	size_t i;

	(void)state;
	quiet();
	for (i = 20; i < 25; i++)
		host[i].cpu_busy = 1.0;
	v = judge(N, 0, NULL, 0);
	assert_int_equal(v.degraded, 0);
	/* Twice as long and it counts. */
	for (i = 25; i < 30; i++)
		host[i].cpu_busy = 1.0;
	v = judge(N, 0, NULL, 0);
	assert_int_equal(v.degraded, 1);
	assert_near(v.reasons[0].from_s, 2.0);
	assert_near(v.reasons[0].to_s, 3.0);
}

/* A burst must not be averaged away: 1.5 s at 100% in a 60 s run whose
 * mean is far below the threshold. */
static void test_burst_in_a_long_run_counts(void **state)
{
	static struct fidelity_host_sample longrun[600];
	struct fidelity_input in = {.host = longrun, .nhost = 600};
	struct fidelity_verdict v;
	size_t i;

	(void)state;
	for (i = 0; i < 600; i++)
		longrun[i] = (struct fidelity_host_sample){
			.from_s = i * WIN,
			.to_s = (i + 1) * WIN,
			.cpu_busy = i >= 300 && i < 315 ? 1.0 : 0.1,
			.psi = -1,
			.canary_max_ms = -1,
		};
	assert_int_equal(fidelity_judge(&in, &v), 0);
	assert_int_equal(v.degraded, 1);
	assert_int_equal(v.nreasons, 1);
	assert_near(v.reasons[0].from_s, 30.0);
	assert_near(v.reasons[0].to_s, 31.5);
}

/* A missing sample splits two 0.6 s stretches: neither lasts 1 s. */
static void test_gap_ends_an_episode(void **state)
{
	struct fidelity_host_sample h[13];
	struct fidelity_input in = {.host = h, .nhost = 12};
	struct fidelity_verdict v;
	size_t i, k;

	(void)state;
	for (i = 0, k = 0; i < 13; i++) {
		if (i == 6)
			continue;
		h[k++] = (struct fidelity_host_sample){
			.from_s = i * WIN,
			.to_s = (i + 1) * WIN,
			.cpu_busy = 1.0,
			.psi = -1,
			.canary_max_ms = -1,
		};
	}
	assert_int_equal(fidelity_judge(&in, &v), 0);
	assert_int_equal(v.degraded, 0);
}

static void test_softirq_psi_and_canary(void **state)
{
	struct fidelity_verdict v;
	size_t i;

	(void)state;
	quiet();
	for (i = 10; i < 20; i++) {
		host[i].softirq_cpu = 1;
		host[i].softirq = 0.7;
	}
	for (i = 30; i < 45; i++)
		host[i].psi = 0.8;
	for (i = 50; i < 53; i++)
		host[i].canary_max_ms = i == 51 ? 45 : 35;
	v = judge(N, 0, NULL, 0);
	assert_int_equal(v.degraded, 1);
	assert_int_equal(v.nreasons, 3);
	assert_int_equal(v.reasons[0].signal, FIDELITY_SIG_SOFTIRQ);
	assert_string_equal(v.reasons[0].text, "cpu1 70% in softirq 1.0-2.0 s");
	assert_int_equal(v.reasons[1].signal, FIDELITY_SIG_PSI);
	assert_near(v.reasons[1].from_s, 3.0);
	assert_near(v.reasons[1].to_s, 4.5);
	assert_int_equal(v.reasons[2].signal, FIDELITY_SIG_CANARY);
	assert_near(v.reasons[2].value, 45);
	assert_string_equal(v.reasons[2].text,
			    "timer canary 45 ms late at 5.2 s");
}

/* One canary window late: under the canary's minimum. */
static void test_one_late_wakeup_is_not_a_reason(void **state)
{
	struct fidelity_verdict v;

	(void)state;
	quiet();
	host[17].canary_max_ms = 80;
	v = judge(N, 0, NULL, 0);
	assert_int_equal(v.degraded, 0);
}

static struct fidelity_link_sample link(const char *name, size_t i,
					double ratio, uint32_t b0, uint32_t b1,
					uint32_t overlimits)
{
	struct fidelity_link_sample l = {
		.from_s = i * WIN,
		.to_s = (i + 1) * WIN,
		.rate_bps = 100000000,
		.backlog_from = b0,
		.backlog_to = b1,
		.overlimits = overlimits,
	};

	l.bytes = (uint64_t)(ratio * 1e8 * WIN / 8 + 0.5);
	snprintf(l.link, sizeof(l.link), "%s", name);
	return l;
}

/* vm0003's download queued throughout 2.0-2.6 s at 71% of its rate;
 * vm0001's at full rate; vm0002's slow but never queued (its sender set
 * the pace, not this host). Samples interleaved as the monitor takes
 * them. */
static void test_backlogged_link_below_its_rate(void **state)
{
	struct fidelity_verdict v;
	size_t i, n = 0;

	(void)state;
	quiet();
	for (i = 20; i < 26; i++) {
		links[n++] = link("vm0001 download", i, 0.99, 9000, 9000, 3);
		links[n++] = link("vm0000 download", i, 0.25, 0, 0, 4);
		links[n++] = link("vm0003 download", i, 0.71, 20000, 15000, 0);
		links[n++] = link("vm0002 download", i, 0.30, 0, 0, 0);
	}
	v = judge(N, n, NULL, 0);
	assert_int_equal(v.degraded, 1);
	assert_int_equal(v.nreasons, 1);
	assert_int_equal(v.reasons[0].signal, FIDELITY_SIG_LINK);
	assert_near(v.reasons[0].from_s, 2.0);
	assert_near(v.reasons[0].to_s, 2.6);
	assert_true(fabs(v.reasons[0].value - 0.71) < 1e-3);
	assert_string_equal(v.reasons[0].text,
			    "vm0003 download backlogged at 71% of its rate "
			    "2.0-2.6 s");
}

/* Backlogged at 50% for 0.3 s only. */
static void test_short_link_dip_is_not_a_reason(void **state)
{
	struct fidelity_verdict v;
	size_t i, n = 0;

	(void)state;
	quiet();
	for (i = 20; i < 23; i++)
		links[n++] = link("registry upload", i, 0.5, 1, 1, 1);
	v = judge(N, n, NULL, 0);
	assert_int_equal(v.degraded, 0);
}

static void test_backlogged_rule(void **state)
{
	struct fidelity_link_sample l = link("x", 0, 0.5, 0, 0, 0);

	(void)state;
	assert_false(fidelity_link_backlogged(&l));
	l.backlog_from = 1;
	assert_false(fidelity_link_backlogged(&l)); /* drained in between */
	l.backlog_to = 1;
	assert_true(fidelity_link_backlogged(&l));
	/* Throttled in a burst, empty at both ends: not backlogged. */
	l = link("x", 0, 0.5, 0, 0, 2);
	assert_false(fidelity_link_backlogged(&l));
	assert_near(fidelity_link_ratio(&l), 0.5);
	l.rate_bps = 0;
	assert_near(fidelity_link_ratio(&l), 0);
}

static void test_manager_lag(void **state)
{
	struct fidelity_lag_sample lag[] = {
		{1.0, 2.0, 8},
		{3.0, 4.0, 120},
	};
	struct fidelity_verdict v;

	(void)state;
	quiet();
	v = judge(N, 0, lag, 2);
	assert_int_equal(v.degraded, 1);
	assert_int_equal(v.nreasons, 1);
	assert_int_equal(v.reasons[0].signal, FIDELITY_SIG_MANAGER_LAG);
	assert_string_equal(v.reasons[0].text,
			    "FT manager's event loop 120 ms late at 4.0 s");
}

static void test_merge_and_names(void **state)
{
	struct fidelity_verdict a, b;
	size_t i;

	(void)state;
	quiet();
	a = judge(N, 0, NULL, 0);
	for (i = 0; i < N; i++)
		host[i].cpu_busy = 1.0;
	b = judge(N, 0, NULL, 0);
	fidelity_merge(&a, &b, "r2: ");
	assert_int_equal(a.degraded, 1);
	assert_int_equal(a.nreasons, 1);
	assert_string_equal(a.reasons[0].text, "r2: cpu0 100% busy 0.0-6.0 s");
	for (i = 0; i < 20; i++)
		fidelity_merge(&a, &b, NULL);
	assert_int_equal(a.nreasons, FIDELITY_MAX_REASONS);
	assert_int_equal(a.dropped, 21 - FIDELITY_MAX_REASONS);
	assert_string_equal(fidelity_signal_name(FIDELITY_SIG_LINK), "link");
	assert_string_equal(fidelity_signal_name(FIDELITY_SIG_MANAGER_LAG),
			    "manager_lag");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_is_ok),
		cmocka_unit_test(test_nothing_is_ok),
		cmocka_unit_test(test_hog_is_degraded_with_its_window),
		cmocka_unit_test(test_short_spike_is_not_a_reason),
		cmocka_unit_test(test_burst_in_a_long_run_counts),
		cmocka_unit_test(test_gap_ends_an_episode),
		cmocka_unit_test(test_softirq_psi_and_canary),
		cmocka_unit_test(test_one_late_wakeup_is_not_a_reason),
		cmocka_unit_test(test_backlogged_link_below_its_rate),
		cmocka_unit_test(test_short_link_dip_is_not_a_reason),
		cmocka_unit_test(test_backlogged_rule),
		cmocka_unit_test(test_manager_lag),
		cmocka_unit_test(test_merge_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

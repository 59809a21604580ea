/* Unit tests of the plan: names, address plan, racks, burst sizing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"

static struct topo_plan make(unsigned vms, unsigned rack_size)
{
	struct topo_spec s;
	struct topo_plan p;
	struct err e = {""};

	topo_spec_default(&s);
	s.vms = vms;
	s.rack_size = rack_size;
	assert_int_equal(topo_plan_make(&s, &p, &e), 0);
	return p;
}

static void test_names_and_roles(void **state)
{
	struct topo_plan p = make(3, 64);

	(void)state;
	assert_int_equal(p.nhosts, 5);
	assert_string_equal(p.hosts[0].name, "registry");
	assert_int_equal(p.hosts[0].role, TOPO_ROLE_REGISTRY);
	assert_string_equal(p.hosts[1].netns, "fnet-manager");
	assert_string_equal(p.hosts[2].name, "vm0000");
	assert_string_equal(p.hosts[4].netns, "fnet-vm0002");
	assert_string_equal(p.hosts[4].ifname, "fnet-vm0002");
	assert_ptr_equal(topo_plan_host(&p, "vm0001"), &p.hosts[3]);
	assert_null(topo_plan_host(&p, "vm0003"));
	topo_plan_free(&p);
}

static void test_addresses_unique_in_range_never_0_or_255(void **state)
{
	struct topo_plan p = make(TOPO_MAX_VMS, TOPO_MAX_RACK_SIZE);
	char buf[32];
	unsigned i;

	(void)state;
	assert_string_equal(topo_addr_str(p.hosts[0].addr, buf, sizeof(buf)),
			    "198.18.0.2");
	assert_string_equal(topo_addr_str(p.hosts[1].addr, buf, sizeof(buf)),
			    "198.18.0.3");
	assert_string_equal(topo_addr_str(p.hosts[2].addr, buf, sizeof(buf)),
			    "198.18.1.1");
	assert_string_equal(
		topo_addr_str(p.hosts[2 + 7].addr, buf, sizeof(buf)),
		"198.18.1.8");
	assert_string_equal(
		topo_addr_str(p.hosts[2 + 250].addr, buf, sizeof(buf)),
		"198.18.2.1");
	for (i = 0; i < p.nhosts; i++) {
		uint32_t a = p.hosts[i].addr;

		/* inside 198.18.0.0/15 */
		assert_int_equal(a >> 17, TOPO_NET_ADDR >> 17);
		assert_true((a & 0xff) != 0 && (a & 0xff) != 255);
	}
	/* unique: addresses grow with the index */
	for (i = 1; i < p.nhosts; i++)
		assert_true(p.hosts[i].addr > p.hosts[i - 1].addr);
	topo_plan_free(&p);
}

static void test_racks(void **state)
{
	struct topo_plan p = make(10, 4);

	(void)state;
	assert_int_equal(p.nracks, 3);
	assert_int_equal(p.hosts[0].rack, TOPO_RACK_CORE);
	assert_int_equal(p.hosts[1].rack, TOPO_RACK_CORE);
	assert_int_equal(p.hosts[2 + 3].rack, 0);
	assert_int_equal(p.hosts[2 + 4].rack, 1);
	assert_int_equal(p.hosts[2 + 9].rack, 2);
	assert_string_equal(p.racks[2].bridge, "fnet-rack02");
	assert_string_equal(p.racks[1].uplink_r, "fnet-up01r");
	assert_string_equal(p.racks[1].uplink_c, "fnet-up01c");
	topo_plan_free(&p);
}

static void test_too_many_racks_for_the_core_bridge(void **state)
{
	struct topo_spec s;
	struct topo_plan p;
	struct err e = {""};

	(void)state;
	topo_spec_default(&s);
	s.vms = 2000;
	s.rack_size = 1;
	assert_int_equal(topo_plan_make(&s, &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "rack_size"));
	assert_null(p.hosts);
}

static void test_bad_spec_is_refused(void **state)
{
	struct topo_spec s;
	struct topo_plan p;
	struct err e = {""};

	(void)state;
	topo_spec_default(&s);
	s.vms = 0;
	assert_int_equal(topo_plan_make(&s, &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "vms"));
}

static void test_burst_sizing(void **state)
{
	(void)state;
	/* 10 ms of the rate */
	assert_int_equal(topo_burst_bytes(1000000000ull, 1500), 1250000);
	assert_int_equal(topo_burst_bytes(100000000ull, 1500), 125000);
	/* never below a few full frames, or HTB could not send one */
	assert_int_equal(topo_burst_bytes(1000000ull, 1500), 4 * 1514);
	assert_int_equal(topo_burst_bytes(1, 9000), 4 * 9014);
	/* never beyond HTB's 32-bit field */
	assert_int_equal(topo_burst_bytes(UINT64_MAX, 1500), UINT32_MAX);
}

/* 12 ms of the rate at every rate (the old 128 KiB floor held 210 ms at
 * 5 Mbit/s), and super-frames that fit the slowest queue four times. */
static void test_queue_and_gso(void **state)
{
	static const uint64_t rates[] = {1000000,	5000000,   20000000,
					 50000000,	100000000, 1000000000,
					 10000000000ull};
	unsigned i;

	(void)state;
	assert_int_equal(topo_queue_bytes(5000000, 1500), 7500);
	assert_int_equal(topo_queue_bytes(1000000000, 1500), 1500000);
	assert_int_equal(topo_queue_bytes(1000, 1500), 2 * 1514);
	assert_int_equal(topo_queue_bytes(UINT64_MAX, 1500), INT32_MAX);
	assert_int_equal(topo_gso_max_segs(5000000, 1500), 1);
	assert_int_equal(topo_gso_max_segs(20000000, 1500), 5);
	assert_int_equal(topo_gso_max_segs(1000000000, 1500), 65536 / 1448);
	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		uint64_t segs = topo_gso_max_segs(rates[i], 1500);

		assert_true(segs >= 1 && segs * 1448 <= 65536);
		assert_true(segs == 1 ||
			    4 * segs * 1500 <=
				    topo_queue_bytes(rates[i], 1500));
	}
}

/* Dilation k: rates divided by k, delays multiplied, queues the same
 * bytes (12 ms of the world's rate), the super-frame cap unchanged. */
static void test_dilation(void **state)
{
	struct topo_spec s;
	struct topo_plan p1, p3;
	struct err e = {""};
	unsigned i;

	(void)state;
	topo_spec_default(&s);
	s.vms = 4;
	s.vm_rate_bps = 20000000;
	s.registry_rate_bps = 4800000000ull;
	s.uplink_rate_bps = 90000000;
	s.delay_ns = 1000000;
	assert_int_equal(topo_plan_make(&s, &p1, &e), 0);
	s.dilation = 3;
	assert_int_equal(topo_plan_make(&s, &p3, &e), 0);
	assert_int_equal(p3.hosts[0].rate_bps, 1600000000ull);
	/* the manager at the VM rate unless the spec gives its own */
	assert_int_equal(p1.hosts[1].rate_bps, 20000000);
	assert_int_equal(p3.hosts[1].rate_bps, 6666667);
	assert_int_equal(p3.hosts[2].rate_bps, 6666667);
	assert_int_equal(p3.uplink_rate_bps, 30000000);
	assert_int_equal(p3.delay_ns, 3000000);
	assert_int_equal(p1.delay_ns, 1000000);
	for (i = 0; i < p1.nhosts; i++) {
		assert_int_equal(p3.hosts[i].queue_bytes,
				 p1.hosts[i].queue_bytes);
		assert_int_equal(
			p1.hosts[i].queue_bytes,
			topo_queue_bytes(p1.hosts[i].rate_bps, TOPO_MTU));
	}
	assert_int_equal(p3.uplink_queue_bytes, p1.uplink_queue_bytes);
	assert_int_equal(p3.gso_max_segs, p1.gso_max_segs);
	topo_plan_free(&p1);
	topo_plan_free(&p3);

	s.dilation = 1;
	s.manager_rate_bps = 1000000000;
	assert_int_equal(topo_plan_make(&s, &p3, &e), 0);
	assert_int_equal(p3.hosts[1].rate_bps, 1000000000);
	assert_int_equal(p3.hosts[2].rate_bps, 20000000);
	topo_plan_free(&p3);

	s.dilation = 0.5;
	assert_int_equal(topo_plan_make(&s, &p3, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "dilation: expected 1 to 1000"));
}

/* Each address its own fixed, locally administered unicast MAC. */
static void test_mac_from_address(void **state)
{
	uint8_t a[TOPO_MAC_LEN], b[TOPO_MAC_LEN];
	const uint8_t want[TOPO_MAC_LEN] = {0x02, 0x46, 0xc6, 0x12, 0x01, 0x05};

	(void)state;
	topo_mac(0xc6120105u, a); /* 198.18.1.5 */
	assert_memory_equal(a, want, TOPO_MAC_LEN);
	assert_true(a[0] & 0x02);    /* locally administered */
	assert_false(a[0] & 0x01);   /* unicast */
	topo_mac(0xc6120106u, b);
	assert_memory_not_equal(a, b, TOPO_MAC_LEN);
	topo_mac(TOPO_HARNESS_ADDR, b);
	assert_int_equal(b[5], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_roles),
		cmocka_unit_test(test_addresses_unique_in_range_never_0_or_255),
		cmocka_unit_test(test_racks),
		cmocka_unit_test(test_too_many_racks_for_the_core_bridge),
		cmocka_unit_test(test_bad_spec_is_refused),
		cmocka_unit_test(test_burst_sizing),
		cmocka_unit_test(test_queue_and_gso),
		cmocka_unit_test(test_dilation),
		cmocka_unit_test(test_mac_from_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * tests/debug/test_debug.c - the DMA-API debug layer.
 *
 * Every report kind has a scenario that triggers exactly that report once
 * (every other counter must stay put) and names the device and the bus
 * address in the log. The negative side: random correct map/sync/unmap
 * sequences checked against a model, the same buffer mapped several times at
 * once, merged scatter-gather segments, and a two-thread stress must all
 * produce no report at all. The wrapped backend is the identity domain, so
 * bus address == physical address and tests can predict every address.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <dmap/debug.h>
#include <dmap/dmap.h>
#include <dmap/identity.h>

#include "test_env.h"

#define RAM_BASE 0x100000ull
#define RAM_SIZE (16u << 20)
#define PAGE 4096u

static struct dmap_test_env t;
static struct dmap_domain *dom;
static struct dmap_dev *dev;
static struct dmap_debug_counts before;

static struct dmap_domain *identity(const char *name)
{
	struct dmap_identity_config config = { .name = name };
	struct dmap_domain *d = NULL;

	cr_assert_eq(dmap_identity_domain_create(t.ctx, &config, &d), 0);
	return d;
}

static void snapshot(void)
{
	cr_assert_eq(dmap_debug_get_counts(dom, &before), 0);
}

static void setup(void)
{
	dmap_test_env_init(&t, RAM_BASE, RAM_SIZE, false);
	dom = identity("dbg");
	cr_assert_eq(dmap_domain_set_debug(dom, true), 0);
	dev = dmap_test_dev(&t, "nic0", DMAP_BIT_MASK(64));
	cr_assert_eq(dmap_dev_attach(dev, dom), 0);
	snapshot();
}

static void teardown(void)
{
	if (dev)
		cr_assert_eq(dmap_dev_destroy(dev), 0);
	dev = NULL;
	if (dom)
		cr_assert_eq(dmap_domain_destroy(dom), 0);
	dom = NULL;
	dmap_test_env_fini(&t);
}

/* Exactly @n more reports of kind @report since the last snapshot, none of any other kind. */
static void expect_reports(int report, uint64_t n)
{
	struct dmap_debug_counts now;
	int i;

	cr_assert_eq(dmap_debug_get_counts(dom, &now), 0);
	for (i = 0; i < DMAP_DEBUG_REPORT_COUNT; i++) {
		uint64_t want = before.reports[i] + (i == report ? n : 0);

		cr_assert_eq(now.reports[i], want, "%s: %llu reports, expected %llu",
			     dmap_debug_report_name(i), (unsigned long long)now.reports[i],
			     (unsigned long long)want);
	}
	before = now;
}

static void expect_only(int report)
{
	expect_reports(report, 1);
}

static void expect_none(void)
{
	expect_reports(-1, 0);
}

static uint64_t live(void)
{
	struct dmap_debug_counts now;

	cr_assert_eq(dmap_debug_get_counts(dom, &now), 0);
	return now.live_mappings;
}

/* The log must hold a line naming the device, the address and the report. */
static void expect_logged(const char *device, dmap_addr_t addr, int report)
{
	char prefix[64], address[64];

	snprintf(prefix, sizeof(prefix), "dmap-debug: %s:", device);
	snprintf(address, sizeof(address), "bus address=0x%llx", (unsigned long long)addr);
	cr_assert(dmap_test_log_has(&t, prefix, address, dmap_debug_report_name(report), NULL),
		  "no log line with \"%s\", \"%s\" and \"%s\"", prefix, address,
		  dmap_debug_report_name(report));
}

static dmap_addr_t map_checked(dmap_phys_t phys, size_t size, enum dmap_dir dir)
{
	dmap_addr_t addr = dmap_map_phys(dev, phys, size, dir, 0);

	cr_assert_eq(dmap_mapping_error(dev, addr), 0, "map of 0x%llx+%zu failed",
		     (unsigned long long)phys, size);
	return addr;
}

/* ---- one scenario per report ------------------------------------------ */

TestSuite(debug, .init = setup, .fini = teardown, .timeout = 30);

Test(debug, unmap_unknown)
{
	dmap_addr_t addr = RAM_BASE + 5 * PAGE;

	dmap_unmap_phys(dev, addr, PAGE, DMAP_TO_DEVICE, 0);
	expect_only(DMAP_DEBUG_UNMAP_UNKNOWN);
	expect_logged("nic0", addr, DMAP_DEBUG_UNMAP_UNKNOWN);
	cr_assert_eq(live(), 0);
}

Test(debug, double_unmap)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 3 * PAGE, PAGE, DMAP_TO_DEVICE);

	cr_assert_eq(live(), 1);
	cr_assert_eq(dmap_unmap_phys(dev, addr, PAGE, DMAP_TO_DEVICE, 0), 0);
	expect_none();
	cr_assert_eq(live(), 0);
	dmap_unmap_phys(dev, addr, PAGE, DMAP_TO_DEVICE, 0);
	expect_only(DMAP_DEBUG_DOUBLE_UNMAP);
	expect_logged("nic0", addr, DMAP_DEBUG_DOUBLE_UNMAP);
}

Test(debug, double_unmap_sg)
{
	struct dmap_sg sg[1] = { { .phys = RAM_BASE + 9 * PAGE, .len = 600 } };

	cr_assert_eq(dmap_map_sg(dev, sg, 1, DMAP_FROM_DEVICE, 0), 1);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 1, DMAP_FROM_DEVICE, 0), 0);
	expect_none();
	dmap_unmap_sg(dev, sg, 1, DMAP_FROM_DEVICE, 0);
	expect_only(DMAP_DEBUG_DOUBLE_UNMAP);
	expect_logged("nic0", RAM_BASE + 9 * PAGE, DMAP_DEBUG_DOUBLE_UNMAP);
}

Test(debug, size_mismatch)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 8 * PAGE, 2 * PAGE, DMAP_FROM_DEVICE);

	dmap_unmap_phys(dev, addr, PAGE, DMAP_FROM_DEVICE, 0);
	expect_only(DMAP_DEBUG_SIZE_MISMATCH);
	expect_logged("nic0", addr, DMAP_DEBUG_SIZE_MISMATCH);
	cr_assert(dmap_test_log_has(&t, "mapped size=8192", "unmapped size=4096", NULL));
	cr_assert_eq(live(), 0, "the mapping is ended even when the size is wrong");
}

Test(debug, dir_mismatch)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 2 * PAGE, 512, DMAP_TO_DEVICE);

	dmap_unmap_phys(dev, addr, 512, DMAP_FROM_DEVICE, 0);
	expect_only(DMAP_DEBUG_DIR_MISMATCH);
	expect_logged("nic0", addr, DMAP_DEBUG_DIR_MISMATCH);
	cr_assert(dmap_test_log_has(&t, "mapped dir=TO_DEVICE", "unmapped dir=FROM_DEVICE", NULL));
}

Test(debug, kind_mismatch_single_unmap_of_sg_entry)
{
	struct dmap_sg sg[1] = { { .phys = RAM_BASE + 4 * PAGE, .len = 1000 } };

	cr_assert_eq(dmap_map_sg(dev, sg, 1, DMAP_TO_DEVICE, 0), 1);
	dmap_unmap_phys(dev, sg[0].dma_addr, 1000, DMAP_TO_DEVICE, 0);
	expect_only(DMAP_DEBUG_KIND_MISMATCH);
	expect_logged("nic0", sg[0].dma_addr, DMAP_DEBUG_KIND_MISMATCH);
	cr_assert(dmap_test_log_has(&t, "dmap_unmap_phys()", "scatter-gather", NULL));
}

Test(debug, kind_mismatch_single_unmap_of_coherent)
{
	dmap_addr_t handle;
	void *cpu = dmap_alloc_coherent(dev, PAGE, &handle, 0);

	cr_assert_not_null(cpu);
	cr_assert_eq(live(), 1);
	dmap_unmap_phys(dev, handle, PAGE, DMAP_BIDIRECTIONAL, 0);
	expect_only(DMAP_DEBUG_KIND_MISMATCH);
	expect_logged("nic0", handle, DMAP_DEBUG_KIND_MISMATCH);
	cr_assert(dmap_test_log_has(&t, "coherent", NULL));
	/* the memory is still the backend's to free; the layer already forgot it */
	dmap_free_coherent(dev, PAGE, cpu, handle, 0);
	expect_only(DMAP_DEBUG_DOUBLE_UNMAP);
}

Test(debug, sg_count_mismatch)
{
	struct dmap_sg sg[3] = {
		{ .phys = RAM_BASE + 10 * PAGE, .len = 512 },
		{ .phys = RAM_BASE + 20 * PAGE, .len = 512 },
		{ .phys = RAM_BASE + 30 * PAGE, .len = 512 },
	};

	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 3);
	cr_assert_eq(live(), 3);
	dmap_unmap_sg(dev, sg, 2, DMAP_TO_DEVICE, 0);
	expect_only(DMAP_DEBUG_SG_COUNT_MISMATCH);
	expect_logged("nic0", RAM_BASE + 10 * PAGE, DMAP_DEBUG_SG_COUNT_MISMATCH);
	cr_assert(dmap_test_log_has(&t, "mapped nents=3", "unmapped nents=2", NULL));
	cr_assert_eq(live(), 1, "the third entry was never unmapped");
}

Test(debug, sync_outside_partly)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 6 * PAGE, PAGE, DMAP_FROM_DEVICE);

	cr_assert_eq(dmap_sync_single_for_cpu(dev, addr + 64, PAGE - 128, DMAP_FROM_DEVICE), 0);
	expect_none();
	dmap_sync_single_for_cpu(dev, addr + PAGE - 16, 64, DMAP_FROM_DEVICE);
	expect_only(DMAP_DEBUG_SYNC_OUTSIDE);
	expect_logged("nic0", addr + PAGE - 16, DMAP_DEBUG_SYNC_OUTSIDE);
	cr_assert_eq(dmap_unmap_phys(dev, addr, PAGE, DMAP_FROM_DEVICE, 0), 0);
	expect_none();
}

Test(debug, sync_outside_after_unmap)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 6 * PAGE, PAGE, DMAP_TO_DEVICE);

	cr_assert_eq(dmap_unmap_phys(dev, addr, PAGE, DMAP_TO_DEVICE, 0), 0);
	dmap_sync_single_for_device(dev, addr, PAGE, DMAP_TO_DEVICE);
	expect_only(DMAP_DEBUG_SYNC_OUTSIDE);
	expect_logged("nic0", addr, DMAP_DEBUG_SYNC_OUTSIDE);
	cr_assert(dmap_test_log_has(&t, "for device", NULL));
}

Test(debug, sync_outside_other_device)
{
	struct dmap_dev *other = dmap_test_dev(&t, "disk1", DMAP_BIT_MASK(64));
	dmap_addr_t addr = map_checked(RAM_BASE + 6 * PAGE, PAGE, DMAP_TO_DEVICE);

	cr_assert_eq(dmap_dev_attach(other, dom), 0);
	dmap_sync_single_for_device(other, addr, PAGE, DMAP_TO_DEVICE);
	expect_only(DMAP_DEBUG_SYNC_OUTSIDE);
	expect_logged("disk1", addr, DMAP_DEBUG_SYNC_OUTSIDE);
	cr_assert_eq(dmap_dev_destroy(other), 0);
	expect_none();
	cr_assert_eq(dmap_unmap_phys(dev, addr, PAGE, DMAP_TO_DEVICE, 0), 0);
	expect_none();
}

Test(debug, sync_wrong_dir_for_cpu)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 7 * PAGE, PAGE, DMAP_TO_DEVICE);

	dmap_sync_single_for_cpu(dev, addr, PAGE, DMAP_FROM_DEVICE);
	expect_only(DMAP_DEBUG_SYNC_WRONG_DIR);
	expect_logged("nic0", addr, DMAP_DEBUG_SYNC_WRONG_DIR);
	cr_assert(dmap_test_log_has(&t, "mapped dir=TO_DEVICE", "sync dir=FROM_DEVICE", NULL));
	cr_assert_eq(dmap_unmap_phys(dev, addr, PAGE, DMAP_TO_DEVICE, 0), 0);
	expect_none();
}

Test(debug, sync_wrong_dir_for_device)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 7 * PAGE, PAGE, DMAP_FROM_DEVICE);

	dmap_sync_single_for_device(dev, addr, 100, DMAP_BIDIRECTIONAL);
	expect_only(DMAP_DEBUG_SYNC_WRONG_DIR);
	expect_logged("nic0", addr, DMAP_DEBUG_SYNC_WRONG_DIR);
	cr_assert_eq(dmap_unmap_phys(dev, addr, PAGE, DMAP_FROM_DEVICE, 0), 0);
}

Test(debug, sync_wrong_dir_sg)
{
	struct dmap_sg sg[2] = {
		{ .phys = RAM_BASE + 40 * PAGE, .len = 256 },
		{ .phys = RAM_BASE + 50 * PAGE, .len = 256 },
	};

	cr_assert_eq(dmap_map_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 2);
	dmap_sync_sg_for_cpu(dev, sg, 2, DMAP_FROM_DEVICE);
	/* one report per bus segment synced: the list has two */
	expect_reports(DMAP_DEBUG_SYNC_WRONG_DIR, 2);
	expect_logged("nic0", RAM_BASE + 50 * PAGE, DMAP_DEBUG_SYNC_WRONG_DIR);
	expect_none();
	cr_assert_eq(dmap_unmap_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 0);
	expect_none();
}

Test(debug, error_not_checked)
{
	dmap_addr_t addr = dmap_map_phys(dev, RAM_BASE + 11 * PAGE, 300, DMAP_BIDIRECTIONAL, 0);

	cr_assert_neq(addr, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 300, DMAP_BIDIRECTIONAL, 0), 0);
	expect_only(DMAP_DEBUG_ERROR_NOT_CHECKED);
	expect_logged("nic0", addr, DMAP_DEBUG_ERROR_NOT_CHECKED);
	cr_assert(dmap_test_log_has(&t, "dmap_mapping_error()", NULL));
}

Test(debug, error_checked_twice_mapped_once_checked)
{
	/* the same buffer mapped twice but checked once: one mapping is unchecked */
	dmap_addr_t a = map_checked(RAM_BASE + 11 * PAGE, 300, DMAP_TO_DEVICE);
	dmap_addr_t b = dmap_map_phys(dev, RAM_BASE + 11 * PAGE, 300, DMAP_TO_DEVICE, 0);

	cr_assert_eq(a, b);
	cr_assert_eq(dmap_unmap_phys(dev, a, 300, DMAP_TO_DEVICE, 0), 0);
	expect_none();
	cr_assert_eq(dmap_unmap_phys(dev, b, 300, DMAP_TO_DEVICE, 0), 0);
	expect_only(DMAP_DEBUG_ERROR_NOT_CHECKED);
}

Test(debug, interleaved_checks_of_one_address)
{
	/*
	 * Two threads map one buffer; thread A's check runs after thread B's
	 * map, so it marks B's mapping. Both did check: no report.
	 */
	dmap_phys_t p = RAM_BASE + 15 * PAGE;
	dmap_addr_t a = dmap_map_phys(dev, p, 256, DMAP_TO_DEVICE, 0);
	dmap_addr_t b = dmap_map_phys(dev, p, 512, DMAP_FROM_DEVICE, 0);

	cr_assert_eq(dmap_mapping_error(dev, a), 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, 256, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_mapping_error(dev, b), 0);
	cr_assert_eq(dmap_unmap_phys(dev, b, 512, DMAP_FROM_DEVICE, 0), 0);
	expect_none();
}

Test(debug, leak_at_detach)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 12 * PAGE, PAGE, DMAP_TO_DEVICE);

	cr_assert_eq(live(), 1);
	cr_assert_eq(dmap_dev_detach(dev), 0);
	expect_only(DMAP_DEBUG_LEAK);
	expect_logged("nic0", addr, DMAP_DEBUG_LEAK);
	cr_assert(dmap_test_log_has(&t, "at detach", NULL));
	cr_assert_eq(live(), 0, "detach forgets the device's mappings");
	/* attached again, the old mapping is gone: its unmap is unknown */
	cr_assert_eq(dmap_dev_attach(dev, dom), 0);
	dmap_unmap_phys(dev, addr, PAGE, DMAP_TO_DEVICE, 0);
	expect_only(DMAP_DEBUG_UNMAP_UNKNOWN);
}

Test(debug, leak_at_detach_only_that_device)
{
	struct dmap_dev *other = dmap_test_dev(&t, "disk1", DMAP_BIT_MASK(64));
	dmap_addr_t addr, mine;

	cr_assert_eq(dmap_dev_attach(other, dom), 0);
	addr = dmap_map_phys(other, RAM_BASE + 13 * PAGE, PAGE, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(dmap_mapping_error(other, addr), 0);
	mine = map_checked(RAM_BASE + 13 * PAGE, PAGE, DMAP_FROM_DEVICE);
	cr_assert_eq(live(), 2);
	cr_assert_eq(dmap_dev_destroy(other), 0);
	expect_only(DMAP_DEBUG_LEAK);
	expect_logged("disk1", addr, DMAP_DEBUG_LEAK);
	cr_assert_eq(live(), 1);
	cr_assert_eq(dmap_unmap_phys(dev, mine, PAGE, DMAP_FROM_DEVICE, 0), 0);
	expect_none();
}

/*
 * A leak at destroy needs a mapping of a device not attached to the domain:
 * a fallback domain serves devices of another domain. @front forwards every
 * mapping to @back (force_fallback), whose debug layer tracks them.
 */
static void fallback_leak(bool destroy)
{
	struct dmap_identity_config config = { .name = "front", .force_fallback = true };
	struct dmap_domain *back = identity("back"), *front = NULL;
	struct dmap_dev *d = dmap_test_dev(&t, "gpu2", DMAP_BIT_MASK(64));
	struct dmap_debug_counts counts;
	dmap_addr_t addr;

	cr_assert_eq(dmap_domain_set_debug(back, true), 0);
	config.fallback = back;
	cr_assert_eq(dmap_identity_domain_create(t.ctx, &config, &front), 0);
	cr_assert_eq(dmap_dev_attach(d, front), 0);
	addr = dmap_map_phys(d, RAM_BASE + 14 * PAGE, 2048, DMAP_TO_DEVICE, 0);
	cr_assert_eq(dmap_mapping_error(d, addr), 0);
	cr_assert_eq(dmap_debug_get_counts(back, &counts), 0);
	cr_assert_eq(counts.live_mappings, 1, "the fallback's debug layer saw the mapping");
	cr_assert_eq(dmap_dev_destroy(d), 0);
	cr_assert_eq(dmap_domain_destroy(front), 0);
	cr_assert_eq(dmap_debug_get_counts(back, &counts), 0);
	cr_assert_eq(counts.reports[DMAP_DEBUG_LEAK], 0, "gpu2 was never attached to back");
	dmap_test_log_clear(&t);
	if (destroy) {
		cr_assert_eq(dmap_domain_destroy(back), 0);
	} else {
		cr_assert_eq(dmap_domain_set_debug(back, false), 0);
		cr_assert_eq(dmap_debug_get_counts(back, &counts), -DMAP_ENODEV);
		cr_assert_eq(dmap_domain_destroy(back), 0);
	}
	cr_assert_eq(dmap_test_log_count(&t, "(leak)"), 1);
	expect_logged("gpu2", addr, DMAP_DEBUG_LEAK);
	cr_assert(dmap_test_log_has(&t, "when debugging stopped", NULL));
}

Test(debug, leak_at_destroy)
{
	fallback_leak(true);
	expect_none();
}

Test(debug, leak_at_disable)
{
	fallback_leak(false);
	expect_none();
}

/* ---- controls and transparency ----------------------------------------- */

Test(debug, report_names)
{
	static const char *const names[] = { "unmap-unknown", "double-unmap",	"size-mismatch",
					     "dir-mismatch",  "kind-mismatch",	"sg-count-mismatch",
					     "sync-outside",  "sync-wrong-dir", "error-not-checked",
					     "leak" };
	int i;

	cr_assert_eq(sizeof(names) / sizeof(names[0]), DMAP_DEBUG_REPORT_COUNT);
	for (i = 0; i < DMAP_DEBUG_REPORT_COUNT; i++)
		cr_assert_str_eq(dmap_debug_report_name(i), names[i]);
	cr_assert_str_eq(dmap_debug_report_name(DMAP_DEBUG_REPORT_COUNT), "unknown");
	cr_assert_str_eq(dmap_debug_report_name((enum dmap_debug_report) - 1), "unknown");
}

Test(debug, counts_errors)
{
	struct dmap_domain *plain = identity("plain");
	struct dmap_debug_counts counts;

	cr_assert_eq(dmap_debug_get_counts(plain, &counts), -DMAP_ENODEV);
	cr_assert_eq(dmap_debug_get_counts(NULL, &counts), -DMAP_EINVAL);
	cr_assert_eq(dmap_debug_get_counts(dom, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_domain_destroy(plain), 0);
}

Test(debug, switch_only_without_devices)
{
	struct dmap_domain *plain = identity("plain");
	struct dmap_dev *d = dmap_test_dev(&t, "eth9", 0);
	struct dmap_debug_counts counts;

	cr_assert_eq(dmap_dev_attach(d, plain), 0);
	cr_assert_eq(dmap_domain_set_debug(plain, true), -DMAP_EBUSY);
	cr_assert_eq(dmap_debug_get_counts(plain, &counts), -DMAP_ENODEV);
	cr_assert_eq(dmap_domain_set_debug(dom, false), -DMAP_EBUSY, "nic0 is attached to dom");
	snapshot();
	cr_assert_eq(dmap_dev_detach(d), 0);
	cr_assert_eq(dmap_domain_set_debug(plain, true), 0);
	cr_assert_eq(dmap_domain_set_debug(plain, true), 0, "switching on twice is harmless");
	cr_assert_eq(dmap_debug_get_counts(plain, &counts), 0);
	cr_assert_eq(dmap_domain_set_debug(plain, false), 0);
	cr_assert_eq(dmap_domain_set_debug(plain, false), 0);
	cr_assert_eq(dmap_debug_get_counts(plain, &counts), -DMAP_ENODEV);
	cr_assert_eq(dmap_domain_set_debug(NULL, true), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_destroy(d), 0);
	cr_assert_eq(dmap_domain_destroy(plain), 0);
}

Test(debug, reenable_starts_fresh)
{
	dmap_unmap_phys(dev, RAM_BASE, PAGE, DMAP_TO_DEVICE, 0);
	expect_only(DMAP_DEBUG_UNMAP_UNKNOWN);
	cr_assert_eq(dmap_dev_detach(dev), 0);
	cr_assert_eq(dmap_domain_set_debug(dom, false), 0);
	cr_assert_eq(dmap_domain_set_debug(dom, true), 0);
	snapshot();
	cr_assert_eq(before.reports[DMAP_DEBUG_UNMAP_UNKNOWN], 0);
	cr_assert_eq(dmap_dev_attach(dev, dom), 0);
}

Test(debug, backend_is_still_the_backend)
{
	struct dmap_domain *plain = identity("plain");
	struct dmap_dev *d = dmap_test_dev(&t, "eth9", DMAP_BIT_MASK(64));

	cr_assert_str_eq(dmap_domain_backend(dom), "identity");
	cr_assert_str_eq(dmap_domain_name(dom), "dbg");
	cr_assert_eq(dmap_dev_attach(d, plain), 0);
	cr_assert_eq(dmap_max_mapping_size(dev), dmap_max_mapping_size(d));
	cr_assert_eq(dmap_addressing_limited(dev), dmap_addressing_limited(d));
	cr_assert_eq(dmap_dev_destroy(d), 0);
	cr_assert_eq(dmap_domain_destroy(plain), 0);
	expect_none();
}

Test(debug, failed_map_not_tracked)
{
	struct dmap_dev *narrow = dmap_test_dev(&t, "isa0", DMAP_BIT_MASK(20));
	dmap_addr_t addr;

	cr_assert_eq(dmap_dev_attach(narrow, dom), 0);
	/* RAM starts at 1 MiB: a 20-bit device reaches none of it and there is no fallback */
	addr = dmap_map_phys(narrow, RAM_BASE + PAGE, PAGE, DMAP_TO_DEVICE, 0);
	cr_assert_eq(addr, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_mapping_error(narrow, addr), -DMAP_ENOMEM);
	cr_assert_eq(live(), 0);
	cr_assert_eq(dmap_dev_destroy(narrow), 0);
	expect_none();
}

Test(debug, reports_do_not_change_results)
{
	struct dmap_domain *plain = identity("plain");
	struct dmap_dev *d = dmap_test_dev(&t, "eth9", DMAP_BIT_MASK(64));
	int with, without;

	cr_assert_eq(dmap_dev_attach(d, plain), 0);
	with = dmap_unmap_phys(dev, RAM_BASE + PAGE, PAGE, DMAP_TO_DEVICE, 0);
	without = dmap_unmap_phys(d, RAM_BASE + PAGE, PAGE, DMAP_TO_DEVICE, 0);
	cr_assert_eq(with, without);
	expect_only(DMAP_DEBUG_UNMAP_UNKNOWN);
	cr_assert_eq(dmap_dev_destroy(d), 0);
	cr_assert_eq(dmap_domain_destroy(plain), 0);
}

Test(debug, print_limit)
{
	int i;

	dmap_test_log_clear(&t);
	for (i = 0; i < 150; i++)
		dmap_unmap_phys(dev, RAM_BASE + (dmap_addr_t)i * PAGE, 64, DMAP_TO_DEVICE, 0);
	expect_reports(DMAP_DEBUG_UNMAP_UNKNOWN, 150);
	cr_assert_leq(dmap_test_log_count(&t, "(unmap-unknown)"), 100);
	cr_assert_geq(dmap_test_log_count(&t, "(unmap-unknown)"), 50);
	cr_assert(dmap_test_log_has(&t, "further ones are only counted", NULL));
}

/*
 * An environment whose allocator can be made to fail: the hosted one's hooks
 * and cookie with alloc wrapped.
 */
static const struct dmap_env_ops *real_ops;
static bool alloc_fails;

static void *failing_alloc(void *cookie, size_t size, size_t align, unsigned int flags)
{
	if (__atomic_load_n(&alloc_fails, __ATOMIC_RELAXED))
		return NULL;
	return real_ops->alloc(cookie, size, align, flags);
}

Test(debug, out_of_memory_stops_unknown_reports)
{
	struct dmap_env_ops ops = *t.env->ops;
	struct dmap_env env = { .ops = &ops, .cookie = t.env->cookie };
	struct dmap_dev_info info = { .name = "oom0", .dma_mask = DMAP_BIT_MASK(64) };
	struct dmap_identity_config config = { .name = "oom" };
	struct dmap_debug_counts counts;
	struct dmap_domain *d;
	struct dmap_ctx *ctx;
	struct dmap_dev *o;
	dmap_addr_t a, b;

	real_ops = t.env->ops;
	ops.alloc = failing_alloc;
	cr_assert_eq(dmap_ctx_create(&env, &ctx), 0);
	cr_assert_eq(dmap_identity_domain_create(ctx, &config, &d), 0);
	cr_assert_eq(dmap_domain_set_debug(d, true), 0);
	cr_assert_eq(dmap_dev_create(ctx, &info, &o), 0);
	cr_assert_eq(dmap_dev_attach(o, d), 0);
	a = dmap_map_phys(o, RAM_BASE, PAGE, DMAP_TO_DEVICE, 0);
	cr_assert_eq(dmap_mapping_error(o, a), 0);

	__atomic_store_n(&alloc_fails, true, __ATOMIC_RELAXED);
	b = dmap_map_phys(o, RAM_BASE + PAGE, PAGE, DMAP_TO_DEVICE, 0);
	__atomic_store_n(&alloc_fails, false, __ATOMIC_RELAXED);
	cr_assert_eq(dmap_mapping_error(o, b), 0, "the map itself still succeeds");
	cr_assert(dmap_test_log_has(&t, "dmap-debug: domain oom:", "out of memory", NULL));
	cr_assert_eq(dmap_debug_get_counts(d, &counts), 0);
	cr_assert_eq(counts.live_mappings, 1, "the second mapping is not tracked");

	/* unknown addresses can no longer be told from untracked ones: no report */
	cr_assert_eq(dmap_unmap_phys(o, b, PAGE, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_sync_single_for_cpu(o, b, PAGE, DMAP_TO_DEVICE), 0);
	/* checks of tracked mappings go on */
	cr_assert_eq(dmap_unmap_phys(o, a, PAGE, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(dmap_debug_get_counts(d, &counts), 0);
	cr_assert_eq(counts.reports[DMAP_DEBUG_UNMAP_UNKNOWN], 0);
	cr_assert_eq(counts.reports[DMAP_DEBUG_SYNC_OUTSIDE], 0);
	cr_assert_eq(counts.reports[DMAP_DEBUG_DIR_MISMATCH], 1);
	cr_assert_eq(counts.live_mappings, 0);

	cr_assert_eq(dmap_dev_destroy(o), 0);
	cr_assert_eq(dmap_domain_destroy(d), 0);
	cr_assert_eq(dmap_ctx_destroy(ctx), 0);
}

Test(debug, enable_out_of_memory)
{
	struct dmap_env_ops ops = *t.env->ops;
	struct dmap_env env = { .ops = &ops, .cookie = t.env->cookie };
	struct dmap_identity_config config = { .name = "oom" };
	struct dmap_debug_counts counts;
	struct dmap_domain *d;
	struct dmap_ctx *ctx;

	real_ops = t.env->ops;
	ops.alloc = failing_alloc;
	cr_assert_eq(dmap_ctx_create(&env, &ctx), 0);
	cr_assert_eq(dmap_identity_domain_create(ctx, &config, &d), 0);
	__atomic_store_n(&alloc_fails, true, __ATOMIC_RELAXED);
	cr_assert_eq(dmap_domain_set_debug(d, true), -DMAP_ENOMEM);
	__atomic_store_n(&alloc_fails, false, __ATOMIC_RELAXED);
	cr_assert(dmap_test_log_has(&t, "dmap-debug: domain oom:", "tracking state", NULL));
	cr_assert_eq(dmap_debug_get_counts(d, &counts), -DMAP_ENODEV, "still off");
	cr_assert_eq(dmap_domain_set_debug(d, true), 0);
	cr_assert_eq(dmap_domain_destroy(d), 0);
	cr_assert_eq(dmap_ctx_destroy(ctx), 0);
}

/* ---- correct usage: no report ------------------------------------------ */

Test(debug, same_buffer_mapped_several_times)
{
	dmap_phys_t p = RAM_BASE + 16 * PAGE;
	dmap_addr_t a = map_checked(p, PAGE, DMAP_TO_DEVICE);
	dmap_addr_t b = map_checked(p, 2 * PAGE, DMAP_FROM_DEVICE);
	dmap_addr_t c = map_checked(p, PAGE, DMAP_BIDIRECTIONAL);
	struct dmap_sg sg[1] = { { .phys = p, .len = PAGE } };

	cr_assert_eq(a, b);
	cr_assert_eq(b, c);
	cr_assert_eq(dmap_map_sg(dev, sg, 1, DMAP_TO_DEVICE, 0), 1);
	cr_assert_eq(live(), 4);
	/* each sync has a mapping it fits */
	cr_assert_eq(dmap_sync_single_for_cpu(dev, a, PAGE, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_sync_single_for_device(dev, a, PAGE, DMAP_TO_DEVICE), 0);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, a + PAGE, PAGE, DMAP_FROM_DEVICE), 0);
	expect_none();
	cr_assert_eq(dmap_unmap_phys(dev, c, PAGE, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 1, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, PAGE, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev, b, 2 * PAGE, DMAP_FROM_DEVICE, 0), 0);
	expect_none();
	cr_assert_eq(live(), 0);
}

Test(debug, bidirectional_syncs_any_direction)
{
	dmap_addr_t addr = map_checked(RAM_BASE + 17 * PAGE, PAGE, DMAP_BIDIRECTIONAL);

	cr_assert_eq(dmap_sync_single_for_cpu(dev, addr, PAGE, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, addr, 10, DMAP_TO_DEVICE), 0);
	cr_assert_eq(dmap_sync_single_for_device(dev, addr + 100, 10, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_unmap_phys(dev, addr, PAGE, DMAP_BIDIRECTIONAL, 0), 0);
	expect_none();
}

Test(debug, merged_sg_segments_sync_clean)
{
	struct dmap_sg sg[4];
	int i, n;

	/* physically contiguous entries: the identity domain merges them into one segment */
	for (i = 0; i < 4; i++) {
		sg[i].phys = RAM_BASE + 64 * PAGE + (dmap_phys_t)i * 1024;
		sg[i].len = 1024;
	}
	n = dmap_map_sg(dev, sg, 4, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(n, 1, "contiguous entries merge (got %d segments)", n);
	cr_assert_eq(sg[0].dma_len, 4096);
	cr_assert_eq(live(), 4, "the layer tracks every entry");
	cr_assert_eq(dmap_sync_sg_for_cpu(dev, sg, 4, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_sync_sg_for_device(dev, sg, 4, DMAP_FROM_DEVICE), 0);
	/* a sync across entries of one list is inside the mapping */
	cr_assert_eq(dmap_sync_single_for_cpu(dev, sg[0].dma_addr + 512, 2048, DMAP_FROM_DEVICE),
		     0);
	expect_none();
	cr_assert_eq(dmap_unmap_sg(dev, sg, 4, DMAP_FROM_DEVICE, 0), 0);
	expect_none();
	cr_assert_eq(live(), 0);
}

Test(debug, sync_across_two_single_mappings_is_outside)
{
	dmap_addr_t a = map_checked(RAM_BASE + 70 * PAGE, PAGE, DMAP_TO_DEVICE);
	dmap_addr_t b = map_checked(RAM_BASE + 71 * PAGE, PAGE, DMAP_TO_DEVICE);

	/* adjacent but separate mappings: Linux also wants a sync within one */
	dmap_sync_single_for_device(dev, a + PAGE / 2, PAGE, DMAP_TO_DEVICE);
	expect_only(DMAP_DEBUG_SYNC_OUTSIDE);
	cr_assert_eq(dmap_unmap_phys(dev, a, PAGE, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev, b, PAGE, DMAP_TO_DEVICE, 0), 0);
	expect_none();
}

Test(debug, coherent_clean)
{
	dmap_addr_t handle[4];
	void *cpu[4];
	int i;

	for (i = 0; i < 4; i++) {
		cpu[i] = dmap_alloc_coherent(dev, PAGE * (i + 1), &handle[i], 0);
		cr_assert_not_null(cpu[i]);
	}
	cr_assert_eq(live(), 4);
	for (i = 3; i >= 0; i--)
		cr_assert_eq(dmap_free_coherent(dev, PAGE * (i + 1), cpu[i], handle[i], 0), 0);
	cr_assert_eq(live(), 0);
	expect_none();
}

/* The wrapper's sync hooks must keep the cache maintenance a NULL backend hook implies. */
Test(debug_non_coherent, cache_maintenance_unchanged)
{
	struct dmap_hosted_counters c0, c1, c2;
	struct dmap_domain *plain, *debugged;
	struct dmap_dev *a, *b;
	int round;

	dmap_test_env_init(&t, RAM_BASE, RAM_SIZE, true);
	plain = identity("plain");
	debugged = identity("debugged");
	cr_assert_eq(dmap_domain_set_debug(debugged, true), 0);
	a = dmap_test_dev(&t, "nc-plain", DMAP_BIT_MASK(64));
	b = dmap_test_dev(&t, "nc-debug", DMAP_BIT_MASK(64));
	cr_assert_eq(dmap_dev_attach(a, plain), 0);
	cr_assert_eq(dmap_dev_attach(b, debugged), 0);
	for (round = 0; round < 2; round++) {
		struct dmap_dev *d = round ? b : a;
		struct dmap_sg sg[2] = { { .phys = RAM_BASE + 3 * PAGE, .len = 100 },
					 { .phys = RAM_BASE + 9 * PAGE, .len = 200 } };
		dmap_addr_t addr;

		cr_assert_eq(dmap_hosted_get_counters(t.hosted, round ? &c1 : &c0), 0);
		addr = dmap_map_phys(d, RAM_BASE + PAGE, 2 * PAGE, DMAP_BIDIRECTIONAL, 0);
		cr_assert_eq(dmap_mapping_error(d, addr), 0);
		cr_assert_eq(dmap_sync_single_for_cpu(d, addr, 2 * PAGE, DMAP_BIDIRECTIONAL), 0);
		cr_assert_eq(dmap_sync_single_for_device(d, addr, PAGE, DMAP_BIDIRECTIONAL), 0);
		cr_assert_eq(dmap_unmap_phys(d, addr, 2 * PAGE, DMAP_BIDIRECTIONAL, 0), 0);
		cr_assert_eq(dmap_map_sg(d, sg, 2, DMAP_FROM_DEVICE, 0), 2);
		cr_assert_eq(dmap_sync_sg_for_cpu(d, sg, 2, DMAP_FROM_DEVICE), 0);
		cr_assert_eq(dmap_sync_sg_for_device(d, sg, 2, DMAP_FROM_DEVICE), 0);
		cr_assert_eq(dmap_unmap_sg(d, sg, 2, DMAP_FROM_DEVICE, 0), 0);
	}
	cr_assert_eq(dmap_hosted_get_counters(t.hosted, &c2), 0);
	cr_assert_gt(c1.cache_cleans + c1.cache_invalidates, c0.cache_cleans + c0.cache_invalidates,
		     "the plain round did maintenance");
	cr_assert_eq(c2.cache_cleans - c1.cache_cleans, c1.cache_cleans - c0.cache_cleans);
	cr_assert_eq(c2.cache_invalidates - c1.cache_invalidates,
		     c1.cache_invalidates - c0.cache_invalidates);
	dom = debugged;
	before = (struct dmap_debug_counts){ 0 };
	expect_none();
	dom = NULL;
	cr_assert_eq(dmap_dev_destroy(a), 0);
	cr_assert_eq(dmap_dev_destroy(b), 0);
	cr_assert_eq(dmap_domain_destroy(plain), 0);
	cr_assert_eq(dmap_domain_destroy(debugged), 0);
	dmap_test_env_fini(&t);
}

/* ---- random correct usage against a model ------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

enum model_kind { MODEL_SINGLE, MODEL_SG, MODEL_COHERENT };

struct model_mapping {
	enum model_kind kind;
	struct dmap_dev *dev;
	dmap_addr_t addr;
	size_t size;
	enum dmap_dir dir;
	struct dmap_sg sg[4];
	int nents;
	void *cpu;
};

#define MODEL_MAX 48

static void random_model(uint64_t seed, int steps)
{
	struct dmap_dev *devs[2] = { dev, dmap_test_dev(&t, "disk1", DMAP_BIT_MASK(64)) };
	struct model_mapping m[MODEL_MAX];
	uint64_t tracked = 0;
	int count = 0, step, i;

	cr_assert_eq(dmap_dev_attach(devs[1], dom), 0);
	rng_state = seed;
	for (step = 0; step < steps || count; step++) {
		unsigned int op = rnd() % 8;

		if (step >= steps)
			op = 7; /* drain */
		if (count < MODEL_MAX && op < 3) {
			struct model_mapping *mm = &m[count];

			mm->dev = devs[rnd() % 2];
			mm->dir = (enum dmap_dir)(rnd() % 3);
			if (op == 0) {
				/* few distinct buffers so addresses repeat */
				dmap_phys_t phys =
					RAM_BASE + (rnd() % 32) * PAGE + (rnd() % 4) * 256;

				mm->kind = MODEL_SINGLE;
				mm->size = 1 + rnd() % (3 * PAGE);
				mm->addr = dmap_map_phys(mm->dev, phys, mm->size, mm->dir, 0);
				cr_assert_eq(dmap_mapping_error(mm->dev, mm->addr), 0);
				tracked += 1;
			} else if (op == 1) {
				dmap_phys_t phys = RAM_BASE + (rnd() % 32) * PAGE;

				mm->kind = MODEL_SG;
				mm->nents = 1 + rnd() % 4;
				for (i = 0; i < mm->nents; i++) {
					mm->sg[i].len = 1 + rnd() % PAGE;
					mm->sg[i].phys = phys;
					/* half the time contiguous, so segments merge */
					phys += mm->sg[i].len + ((rnd() & 1) ? 0 : PAGE);
				}
				cr_assert_gt(dmap_map_sg(mm->dev, mm->sg, mm->nents, mm->dir, 0),
					     0);
				tracked += mm->nents;
			} else {
				mm->kind = MODEL_COHERENT;
				mm->size = 1 + rnd() % (2 * PAGE);
				mm->cpu = dmap_alloc_coherent(mm->dev, mm->size, &mm->addr, 0);
				cr_assert_not_null(mm->cpu);
				tracked += 1;
			}
			count++;
		} else if (count && op < 6) {
			struct model_mapping *mm = &m[rnd() % count];
			bool for_cpu = rnd() & 1;
			enum dmap_dir dir = mm->dir;

			if (dir == DMAP_BIDIRECTIONAL)
				dir = (enum dmap_dir)(rnd() % 3);
			if (mm->kind == MODEL_SINGLE) {
				size_t off = rnd() % mm->size;
				size_t len = 1 + rnd() % (mm->size - off);

				if (for_cpu)
					cr_assert_eq(dmap_sync_single_for_cpu(
							     mm->dev, mm->addr + off, len, dir),
						     0);
				else
					cr_assert_eq(dmap_sync_single_for_device(
							     mm->dev, mm->addr + off, len, dir),
						     0);
			} else if (mm->kind == MODEL_SG) {
				if (for_cpu)
					cr_assert_eq(dmap_sync_sg_for_cpu(mm->dev, mm->sg,
									  mm->nents, mm->dir),
						     0);
				else
					cr_assert_eq(dmap_sync_sg_for_device(mm->dev, mm->sg,
									     mm->nents, mm->dir),
						     0);
			}
		} else if (count) {
			int victim = (int)(rnd() % count);
			struct model_mapping *mm = &m[victim];

			if (mm->kind == MODEL_SINGLE) {
				cr_assert_eq(
					dmap_unmap_phys(mm->dev, mm->addr, mm->size, mm->dir, 0),
					0);
				tracked -= 1;
			} else if (mm->kind == MODEL_SG) {
				cr_assert_eq(dmap_unmap_sg(mm->dev, mm->sg, mm->nents, mm->dir, 0),
					     0);
				tracked -= mm->nents;
			} else {
				cr_assert_eq(
					dmap_free_coherent(mm->dev, mm->size, mm->cpu, mm->addr, 0),
					0);
				tracked -= 1;
			}
			m[victim] = m[--count];
		}
		cr_assert_eq(live(), tracked, "step %d: %llu live, model says %llu", step,
			     (unsigned long long)live(), (unsigned long long)tracked);
	}
	expect_none();
	cr_assert_eq(dmap_dev_destroy(devs[1]), 0);
	expect_none();
}

Test(debug, random_correct_usage_seed1)
{
	random_model(0x9e3779b97f4a7c15ull, 3000);
}

Test(debug, random_correct_usage_seed2)
{
	random_model(0x123456789abcdefull, 3000);
}

/* ---- concurrency -------------------------------------------------------- */

#define STRESS_ITERATIONS 20000

struct stress_arg {
	struct dmap_dev *dev;
	uint64_t seed;
	int failures;
};

static void *stress_thread(void *p)
{
	struct stress_arg *arg = p;
	uint64_t s = arg->seed;
	int i;

	for (i = 0; i < STRESS_ITERATIONS; i++) {
		/* both threads share the device and eight buffers: identical live entries */
		dmap_phys_t phys = RAM_BASE + (s % 8) * PAGE;
		enum dmap_dir dir = (enum dmap_dir)((s >> 8) % 3);
		size_t size = 64 + (s >> 16) % PAGE;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		if (i % 4 == 3) {
			struct dmap_sg sg[2] = { { .phys = phys, .len = 512 },
						 { .phys = phys + 512, .len = 512 } };

			if (dmap_map_sg(arg->dev, sg, 2, dir, 0) < 1) {
				arg->failures++;
				continue;
			}
			arg->failures += dmap_sync_sg_for_cpu(arg->dev, sg, 2, dir) != 0;
			arg->failures += dmap_unmap_sg(arg->dev, sg, 2, dir, 0) != 0;
		} else {
			dmap_addr_t addr = dmap_map_phys(arg->dev, phys, size, dir, 0);

			if (dmap_mapping_error(arg->dev, addr)) {
				arg->failures++;
				continue;
			}
			arg->failures +=
				dmap_sync_single_for_device(arg->dev, addr, size, dir) != 0;
			arg->failures += dmap_sync_single_for_cpu(arg->dev, addr + size / 2,
								  size / 2, dir) != 0;
			arg->failures += dmap_unmap_phys(arg->dev, addr, size, dir, 0) != 0;
		}
	}
	return NULL;
}

Test(debug, concurrent_map_unmap_clean)
{
	struct stress_arg args[2] = { { .dev = dev, .seed = 0x1234567ull },
				      { .dev = dev, .seed = 0x7654321ull } };
	pthread_t threads[2];
	int i;

	for (i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, stress_thread, &args[i]), 0);
	for (i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_eq(args[i].failures, 0);
	}
	expect_none();
	cr_assert_eq(live(), 0);
}

Test(debug, concurrent_two_devices_clean)
{
	struct dmap_dev *other = dmap_test_dev(&t, "disk1", DMAP_BIT_MASK(64));
	struct stress_arg args[2] = { { .dev = dev, .seed = 0xabcdefull },
				      { .dev = other, .seed = 0xfedcbaull } };
	pthread_t threads[2];
	int i;

	cr_assert_eq(dmap_dev_attach(other, dom), 0);
	for (i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, stress_thread, &args[i]), 0);
	for (i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_eq(args[i].failures, 0);
	}
	expect_none();
	cr_assert_eq(live(), 0);
	cr_assert_eq(dmap_dev_destroy(other), 0);
	expect_none();
}

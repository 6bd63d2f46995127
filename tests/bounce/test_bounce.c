// SPDX-License-Identifier: MIT
/*
 * tests/bounce/test_bounce.c - the bounce backend's contracts, one test per
 * Linux swiotlb behaviour it keeps (see docs/bounce.md), plus its limits,
 * statistics, growth, device side and error paths.
 */
#include "bounce_test.h"

static struct bounce_fixture F;

static void setup_default(void)
{
	struct dmap_bounce_config cfg = { .name = "bpool", .pool_size = 8 << 20 };

	bounce_fixture_init(&F, &cfg);
}

static void teardown(void)
{
	bounce_fixture_fini(&F);
}

TestSuite(bounce, .init = setup_default, .fini = teardown);

static const enum dmap_dir all_dirs[] = { DMAP_TO_DEVICE, DMAP_FROM_DEVICE, DMAP_BIDIRECTIONAL };

Test(bounce, map_copies_in_every_direction)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	unsigned char got[6000];

	for (unsigned int i = 0; i < 3; i++) {
		dmap_phys_t phys = HIGH_BASE + 0x10000 * (i + 1) + 0x40;
		dmap_addr_t bus;

		bounce_fill(bounce_ptr(&F, phys), sizeof(got), i + 1);
		bus = dmap_map_phys(dev, phys, sizeof(got), all_dirs[i], 0);
		cr_assert_neq(bus, DMAP_MAPPING_ERROR, "%s", dmap_hosted_last_message());
		cr_assert_neq(bus, phys, "a bounce domain must not map directly");
		cr_assert(bus >= LOW_BASE && bus < LOW_BASE + LOW_SIZE,
			  "bus 0x%llx not in the pool", (unsigned long long)bus);
		cr_assert_eq(dmap_dev_read(dev, bus, got, sizeof(got)), 0);
		cr_assert_eq(memcmp(got, bounce_ptr(&F, phys), sizeof(got)), 0,
			     "slot does not hold the buffer for %s", dmap_dir_name(all_dirs[i]));
		cr_assert_eq(dmap_unmap_phys(dev, bus, sizeof(got), all_dirs[i], 0), 0);
	}
	dmap_dev_destroy(dev);
}

Test(bounce, partial_device_write_keeps_original_bytes)
{
	struct dmap_dev *dev = bounce_dev(&F, "disk", 0, 0, 0);
	dmap_phys_t phys = HIGH_BASE + 0x3000;
	unsigned char expect[8192], news[1000];
	dmap_addr_t bus;

	/* Leave stale data in the pool first: map, let the device scribble, unmap. */
	bounce_fill(bounce_ptr(&F, phys), sizeof(expect), 9);
	bus = dmap_map_phys(dev, phys, sizeof(expect), DMAP_FROM_DEVICE, 0);
	memset(news, 0xee, sizeof(news));
	for (size_t off = 0; off < sizeof(expect); off += sizeof(news))
		dmap_dev_write(dev, bus + off, news, dmap_min(sizeof(news), sizeof(expect) - off));
	cr_assert_eq(dmap_unmap_phys(dev, bus, sizeof(expect), DMAP_FROM_DEVICE, 0), 0);

	bounce_fill(bounce_ptr(&F, phys), sizeof(expect), 3);
	memcpy(expect, bounce_ptr(&F, phys), sizeof(expect));
	bus = dmap_map_phys(dev, phys, sizeof(expect), DMAP_FROM_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	memset(news, 0x5a, sizeof(news));
	cr_assert_eq(dmap_dev_write(dev, bus + 100, news, sizeof(news)), 0);
	memcpy(expect + 100, news, sizeof(news));
	cr_assert_eq(dmap_unmap_phys(dev, bus, sizeof(expect), DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(memcmp(bounce_ptr(&F, phys), expect, sizeof(expect)), 0,
		     "bytes the device did not write must be the original's, not stale pool data");
	dmap_dev_destroy(dev);
}

Test(bounce, unmap_copies_back_only_for_from_and_bidirectional)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	unsigned char data[3000];

	memset(data, 0x77, sizeof(data));
	for (unsigned int i = 0; i < 3; i++) {
		dmap_phys_t phys = HIGH_BASE + 0x20000 + 0x2000 * i;
		unsigned char *cpu = bounce_ptr(&F, phys);
		struct dmap_translation tr;
		dmap_addr_t bus;

		bounce_fill(cpu, sizeof(data), 4);
		bus = dmap_map_phys(dev, phys, sizeof(data), all_dirs[i], 0);
		cr_assert_neq(bus, DMAP_MAPPING_ERROR);
		/* Write the slot behind the device's back (TO_DEVICE refuses device writes). */
		cr_assert_eq(dmap_translate(dev, bus, DMAP_ACCESS_READ, &tr), 0);
		memcpy(dmap_test_ram(&F.t, tr.phys), data, sizeof(data));
		cr_assert_eq(dmap_unmap_phys(dev, bus, sizeof(data), all_dirs[i], 0), 0);
		if (all_dirs[i] == DMAP_TO_DEVICE)
			cr_assert_neq(memcmp(cpu, data, sizeof(data)), 0, "TO_DEVICE copied back");
		else
			cr_assert_eq(memcmp(cpu, data, sizeof(data)), 0, "%s did not copy back",
				     dmap_dir_name(all_dirs[i]));
	}
	dmap_dev_destroy(dev);
}

Test(bounce, sync_copies_exactly_the_subrange)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	dmap_phys_t phys = HIGH_BASE + 0x40000;
	unsigned char *cpu = bounce_ptr(&F, phys);
	unsigned char before[16384], dev_data[16384], got[16384];
	dmap_addr_t bus;

	bounce_fill(cpu, sizeof(before), 1);
	memcpy(before, cpu, sizeof(before));
	bus = dmap_map_phys(dev, phys, sizeof(before), DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	bounce_fill(dev_data, sizeof(dev_data), 2);
	cr_assert_eq(dmap_dev_write(dev, bus, dev_data, sizeof(dev_data)), 0);
	/* sync_for_cpu of [5000, 9000) copies exactly that range. */
	cr_assert_eq(dmap_sync_single_for_cpu(dev, bus + 5000, 4000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(memcmp(cpu, before, 5000), 0);
	cr_assert_eq(memcmp(cpu + 5000, dev_data + 5000, 4000), 0);
	cr_assert_eq(memcmp(cpu + 9000, before + 9000, sizeof(before) - 9000), 0);
	/* sync_for_device of [100, 300) after the CPU rewrote everything. */
	memset(cpu, 0x11, sizeof(before));
	cr_assert_eq(dmap_sync_single_for_device(dev, bus + 100, 200, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_dev_read(dev, bus, got, sizeof(got)), 0);
	cr_assert_eq(memcmp(got, dev_data, 100), 0);
	for (int i = 100; i < 300; i++)
		cr_assert_eq(got[i], 0x11);
	cr_assert_eq(memcmp(got + 300, dev_data + 300, sizeof(got) - 300), 0);
	/* A range past the mapping is refused. */
	cr_assert_eq(dmap_sync_single_for_cpu(dev, bus + 16000, 1000, DMAP_BIDIRECTIONAL),
		     -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&F.t, "runs past the mapping", NULL));
	cr_assert_eq(dmap_unmap_phys(dev, bus, sizeof(before), DMAP_BIDIRECTIONAL, 0), 0);
	dmap_dev_destroy(dev);
}

Test(bounce, sync_follows_direction)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	dmap_phys_t phys = HIGH_BASE + 0x60000;
	unsigned char *cpu = bounce_ptr(&F, phys);
	unsigned char got[512], dev_data[512];
	dmap_addr_t bus;

	/* TO_DEVICE: sync_for_device copies in, sync_for_cpu copies nothing back. */
	memset(cpu, 1, 512);
	bus = dmap_map_phys(dev, phys, 512, DMAP_TO_DEVICE, 0);
	memset(cpu, 2, 512);
	cr_assert_eq(dmap_sync_single_for_device(dev, bus, 512, DMAP_TO_DEVICE), 0);
	cr_assert_eq(dmap_dev_read(dev, bus, got, 512), 0);
	cr_assert_eq(got[0], 2);
	cr_assert_eq(got[511], 2);
	cr_assert_eq(dmap_dev_write(dev, bus, got, 1), -DMAP_EFAULT, "TO_DEVICE must be read-only");
	cr_assert_eq(dmap_unmap_phys(dev, bus, 512, DMAP_TO_DEVICE, 0), 0);

	/* FROM_DEVICE: sync_for_cpu copies back, sync_for_device does not copy in. */
	memset(cpu, 3, 512);
	bus = dmap_map_phys(dev, phys, 512, DMAP_FROM_DEVICE, 0);
	memset(dev_data, 4, sizeof(dev_data));
	dmap_dev_write(dev, bus, dev_data, 512);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, bus, 512, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(cpu[0], 4);
	memset(cpu, 5, 512);
	cr_assert_eq(dmap_sync_single_for_device(dev, bus, 512, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_dev_read(dev, bus, got, 512), 0);
	cr_assert_eq(got[0], 4, "FROM_DEVICE sync_for_device must not copy in");
	cr_assert_eq(dmap_unmap_phys(dev, bus, 512, DMAP_FROM_DEVICE, 0), 0);
	dmap_dev_destroy(dev);
}

Test(bounce, skip_cpu_sync_skips_copies_and_hides_stale_data)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	dmap_phys_t phys = HIGH_BASE + 0x80000;
	unsigned char *cpu = bounce_ptr(&F, phys);
	unsigned char got[4096], dev_data[4096];
	struct dmap_bounce_stats s0, s1;
	dmap_addr_t bus;

	memset(cpu, 0x42, sizeof(got));
	s0 = bounce_stats(F.dom);
	bus = dmap_map_phys(dev, phys, sizeof(got), DMAP_BIDIRECTIONAL, DMAP_ATTR_SKIP_CPU_SYNC);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_dev_read(dev, bus, got, sizeof(got)), 0);
	for (size_t i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], 0, "SKIP_CPU_SYNC map must not copy (and must not leak)");
	memset(dev_data, 0x99, sizeof(dev_data));
	dmap_dev_write(dev, bus, dev_data, sizeof(dev_data));
	cr_assert_eq(
		dmap_unmap_phys(dev, bus, sizeof(got), DMAP_BIDIRECTIONAL, DMAP_ATTR_SKIP_CPU_SYNC),
		0);
	cr_assert_eq(cpu[0], 0x42, "SKIP_CPU_SYNC unmap must not copy back");
	s1 = bounce_stats(F.dom);
	cr_assert_eq(s1.bytes_to_device, s0.bytes_to_device);
	cr_assert_eq(s1.bytes_from_device, s0.bytes_from_device);
	dmap_dev_destroy(dev);
}

/*
 * Found by fuzzing (docs/fuzzing.md): with SKIP_CPU_SYNC the map skipped the
 * copy and so never noticed that the original was not RAM; the later unmap
 * then failed to copy back. The original must be RAM whatever the attributes.
 */
Test(bounce, skip_cpu_sync_still_requires_ram_behind_the_original)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	const dmap_phys_t hole = 0x20000000; /* between LOW and HIGH: no RAM */
	struct dmap_bounce_stats s0 = bounce_stats(F.dom), s1;
	dmap_addr_t bus;

	dmap_test_log_clear(&F.t);
	bus = dmap_map_phys(dev, hole, 0x2000, DMAP_BIDIRECTIONAL, DMAP_ATTR_SKIP_CPU_SYNC);
	cr_assert_eq(bus, DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&F.t, "nic", "0x20000000", "not RAM", NULL));
	s1 = bounce_stats(F.dom);
	cr_assert_eq(s1.live_mappings, s0.live_mappings, "nothing may stay allocated");
	/* the same request with RAM behind it maps and unmaps cleanly */
	bus = dmap_map_phys(dev, HIGH_BASE, 0x2000, DMAP_BIDIRECTIONAL, DMAP_ATTR_SKIP_CPU_SYNC);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 0x2000, DMAP_BIDIRECTIONAL, 0), 0);
	dmap_dev_destroy(dev);
}

Test(bounce, min_align_mask_preserves_low_bits)
{
	static const uint64_t masks[] = { 0x7ff, 0xfff, 0x3fff, 0xffff };
	static const uint64_t offsets[] = { 0, 0x123, 0x7ff, 0x800, 0xfff, 0x1a34, 0x5432, 0xfffe };

	for (unsigned int m = 0; m < 4; m++) {
		struct dmap_dev *dev = bounce_dev(&F, "nvme", 0, masks[m], 0);

		for (unsigned int o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
			dmap_phys_t phys = HIGH_BASE + 0x100000 + offsets[o];
			size_t size = 600 + 1000 * o;
			unsigned char got[8000];
			dmap_addr_t bus;

			bounce_fill(bounce_ptr(&F, phys), size, o);
			bus = dmap_map_phys(dev, phys, size, DMAP_TO_DEVICE, 0);
			cr_assert_neq(bus, DMAP_MAPPING_ERROR, "mask 0x%llx offset 0x%llx: %s",
				      (unsigned long long)masks[m], (unsigned long long)offsets[o],
				      dmap_hosted_last_message());
			cr_assert_eq(bus & masks[m], phys & masks[m],
				     "mask 0x%llx: bus 0x%llx phys 0x%llx",
				     (unsigned long long)masks[m], (unsigned long long)bus,
				     (unsigned long long)phys);
			cr_assert_eq(dmap_dev_read(dev, bus, got, size), 0);
			cr_assert_eq(memcmp(got, bounce_ptr(&F, phys), size), 0);
			cr_assert_eq(dmap_unmap_phys(dev, bus, size, DMAP_TO_DEVICE, 0), 0);
		}
		dmap_dev_destroy(dev);
	}
	cr_assert_eq(bounce_stats(F.dom).slots_in_use, 0);
}

Test(bounce, page_sized_mappings_are_page_aligned)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	dmap_addr_t small[8], bus;

	/* Fragment the pool with single slots first so alignment is not luck. */
	for (int i = 0; i < 8; i++)
		small[i] = dmap_map_phys(dev, HIGH_BASE + 0x200 * i, 100, DMAP_TO_DEVICE, 0);
	for (size_t size = 4096; size <= 300000; size = size * 3 + 5) {
		bus = dmap_map_phys(dev, HIGH_BASE + 0x200000 + 0x10, size, DMAP_TO_DEVICE, 0);
		cr_assert_neq(bus, DMAP_MAPPING_ERROR);
		cr_assert_eq(bus & 4095, 0, "size %zu: bus 0x%llx not page aligned", size,
			     (unsigned long long)bus);
		dmap_unmap_phys(dev, bus, size, DMAP_TO_DEVICE, 0);
	}
	for (int i = 0; i < 8; i++)
		dmap_unmap_phys(dev, small[i], 100, DMAP_TO_DEVICE, 0);
	dmap_dev_destroy(dev);
}

Test(bounce, mappings_never_cross_seg_boundary)
{
	struct dmap_dev *dev = bounce_dev(&F, "hba", 0, 0, 0xffff);
	dmap_addr_t bus[40];
	size_t sizes[40];

	for (int i = 0; i < 40; i++) {
		sizes[i] = 1000 + (size_t)i * 1531;
		bus[i] = dmap_map_phys(dev, HIGH_BASE + 0x1000 * i + 0x30, sizes[i],
				       DMAP_BIDIRECTIONAL, 0);
		cr_assert_neq(bus[i], DMAP_MAPPING_ERROR);
		cr_assert_eq(bus[i] >> 16, (bus[i] + sizes[i] - 1) >> 16,
			     "mapping 0x%llx+%zu crosses a 64 KiB boundary",
			     (unsigned long long)bus[i], sizes[i]);
	}
	for (int i = 0; i < 40; i++)
		cr_assert_eq(dmap_unmap_phys(dev, bus[i], sizes[i], DMAP_BIDIRECTIONAL, 0), 0);
	dmap_dev_destroy(dev);

	/* min_align_mask keeps an offset that would straddle the boundary: refused, counted. */
	dev = bounce_dev(&F, "odd", 0, 0xffff, 0x7fff);
	cr_assert_eq(dmap_map_phys(dev, HIGH_BASE + 0x7f00, 0x200, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert_eq(bounce_stats(F.dom).failed_constraint, 1);
	cr_assert(dmap_test_log_has(&F.t, "bpool", "seg_boundary_mask", NULL));
	cr_assert_eq(bounce_stats(F.dom).slots_in_use, 0);
	dmap_dev_destroy(dev);
}

Test(bounce, max_mapping_size_is_truthful)
{
	struct dmap_dev *dev = bounce_dev(&F, "vblk", 0, 0, 0);
	struct dmap_dev *nvme = bounce_dev(&F, "nvme", 0, 0xfff, 0);
	size_t max = dmap_max_mapping_size(dev);
	dmap_addr_t bus;

	cr_assert_eq(max, 1 << 20);
	cr_assert_eq(dmap_max_mapping_size(nvme), (1 << 20) - 4096);
	/* The 480 KiB read-ahead request that Linux's 256 KiB cap turned into a panic. */
	bus = dmap_map_phys(dev, HIGH_BASE, 480 << 10, DMAP_FROM_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 480 << 10, DMAP_FROM_DEVICE, 0), 0);
	/* Exactly the maximum works, for the NVMe device too, at its worst offset. */
	bus = dmap_map_phys(dev, HIGH_BASE, max, DMAP_TO_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_unmap_phys(dev, bus, max, DMAP_TO_DEVICE, 0), 0);
	bus = dmap_map_phys(nvme, HIGH_BASE + 0xfff, dmap_max_mapping_size(nvme), DMAP_TO_DEVICE,
			    0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR, "%s", dmap_hosted_last_message());
	cr_assert_eq(dmap_unmap_phys(nvme, bus, dmap_max_mapping_size(nvme), DMAP_TO_DEVICE, 0), 0);
	dmap_dev_destroy(dev);
	dmap_dev_destroy(nvme);
}

Test(bounce, oversize_fails_cleanly_with_message)
{
	struct dmap_dev *dev = bounce_dev(&F, "vblk", 0, 0, 0);
	dmap_phys_t keep_phys = HIGH_BASE + 0x500000;
	unsigned char got[2048];
	dmap_addr_t keep, bus;
	struct dmap_bounce_stats s;

	bounce_fill(bounce_ptr(&F, keep_phys), sizeof(got), 8);
	keep = dmap_map_phys(dev, keep_phys, sizeof(got), DMAP_TO_DEVICE, 0);
	dmap_test_log_clear(&F.t);
	bus = dmap_map_phys(dev, HIGH_BASE, (1 << 20) + 1, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(bus, DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&F.t, "bpool", "1048577", "usage", NULL));
	dmap_test_log_clear(&F.t);
	bus = dmap_map_phys(dev, HIGH_BASE, (1 << 20) + 1, DMAP_FROM_DEVICE, DMAP_ATTR_NO_WARN);
	cr_assert_eq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_test_log_count(&F.t, "bpool"), 0, "NO_WARN must silence the message");
	s = bounce_stats(F.dom);
	cr_assert_eq(s.failed_too_big, 2);
	cr_assert_eq(s.live_mappings, 1);
	cr_assert_eq(dmap_dev_read(dev, keep, got, sizeof(got)), 0);
	cr_assert_eq(memcmp(got, bounce_ptr(&F, keep_phys), sizeof(got)), 0);
	cr_assert_eq(dmap_unmap_phys(dev, keep, sizeof(got), DMAP_TO_DEVICE, 0), 0);
	dmap_dev_destroy(dev);
}

Test(bounce, exhaustion_fails_then_everything_comes_back)
{
	struct dmap_dev *dev = bounce_dev(&F, "vblk", 0, 0, 0);
	static dmap_addr_t bus[4096];
	static size_t sizes[4096];
	struct dmap_bounce_stats s;
	int n = 0, i;

	srand(7);
	for (;;) {
		sizes[n] = 512 + (size_t)(rand() % (300 << 10));
		bus[n] = dmap_map_phys(dev, HIGH_BASE + (size_t)(rand() % (4 << 20)), sizes[n],
				       DMAP_BIDIRECTIONAL, 0);
		if (bus[n] == DMAP_MAPPING_ERROR)
			break;
		n++;
		cr_assert_lt(n, 4096);
	}
	cr_assert(dmap_test_log_has(&F.t, "bpool", "full", "usage", NULL));
	s = bounce_stats(F.dom);
	cr_assert_eq(s.failed_full, 1);
	cr_assert_eq(s.live_mappings, (uint64_t)n);
	cr_assert_gt(s.slots_in_use * 2048, (8u << 20) / 2, "gave up at %llu slots",
		     (unsigned long long)s.slots_in_use);
	/* More failures are rate limited: at most the burst more messages. */
	dmap_test_log_clear(&F.t);
	for (i = 0; i < 50; i++)
		dmap_map_phys(dev, HIGH_BASE, 1 << 20, DMAP_TO_DEVICE, 0);
	cr_assert_leq(dmap_test_log_count(&F.t, "bpool"), 10);
	for (i = 0; i < n; i++)
		cr_assert_eq(dmap_unmap_phys(dev, bus[i], sizes[i], DMAP_BIDIRECTIONAL, 0), 0);
	s = bounce_stats(F.dom);
	cr_assert_eq(s.slots_in_use, 0);
	cr_assert_eq(s.live_mappings, 0);
	/* Nothing leaked: the whole pool serves maximum-size mappings again. */
	for (i = 0; i < 8; i++) {
		bus[i] = dmap_map_phys(dev, HIGH_BASE, 1 << 20, DMAP_TO_DEVICE,
				       DMAP_ATTR_SKIP_CPU_SYNC);
		cr_assert_neq(bus[i], DMAP_MAPPING_ERROR, "top block %d after free-all", i);
	}
	cr_assert_eq(dmap_map_phys(dev, HIGH_BASE, 2048, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	for (i = 0; i < 8; i++)
		cr_assert_eq(dmap_unmap_phys(dev, bus[i], 1 << 20, DMAP_TO_DEVICE, 0), 0);
	dmap_dev_destroy(dev);
}

Test(bounce, statistics)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	struct dmap_bounce_stats s;
	dmap_addr_t a, b, c;

	s = bounce_stats(F.dom);
	cr_assert_eq(s.pools, 1);
	cr_assert_eq(s.pool_bytes, 8 << 20);
	cr_assert_eq(s.slot_size, 2048);
	cr_assert_eq(s.slots_total, 4096);
	cr_assert_eq(s.nr_classes, 10);
	cr_assert_eq(s.classes[9].block_size, 1 << 20);
	cr_assert_eq(s.slots_free, 4096);
	a = dmap_map_phys(dev, HIGH_BASE, 5000, DMAP_TO_DEVICE, 0); /* 3 slots */
	b = dmap_map_phys(dev, HIGH_BASE, 64 << 10, DMAP_FROM_DEVICE, 0); /* 32 slots */
	s = bounce_stats(F.dom);
	cr_assert_eq(s.slots_in_use, 35);
	cr_assert_eq(s.slots_free, 4096 - 35);
	cr_assert_eq(s.bytes_in_use, 35 * 2048);
	cr_assert_eq(s.high_water_slots, 35);
	cr_assert_eq(s.live_mappings, 2);
	cr_assert_eq(s.classes[2].live_mappings, 1);
	cr_assert_eq(s.classes[5].live_mappings, 1);
	cr_assert_eq(s.bytes_to_device, 5000 + (64 << 10));
	dmap_unmap_phys(dev, b, 64 << 10, DMAP_FROM_DEVICE, 0);
	s = bounce_stats(F.dom);
	cr_assert_eq(s.classes[5].free_blocks, 1, "the freed 64 KiB run is kept for reuse");
	cr_assert_eq(s.bytes_from_device, 64 << 10);
	cr_assert_eq(s.slots_in_use, 3);
	cr_assert_eq(s.high_water_slots, 35);
	cr_assert_eq(dmap_bounce_reset_high_water(F.dom), 0);
	s = bounce_stats(F.dom);
	cr_assert_eq(s.high_water_slots, 3, "after reset the mark restarts from current use");
	c = dmap_map_phys(dev, HIGH_BASE, 4096, DMAP_TO_DEVICE, 0);
	s = bounce_stats(F.dom);
	cr_assert_eq(s.high_water_slots, 5);
	dmap_unmap_phys(dev, a, 5000, DMAP_TO_DEVICE, 0);
	dmap_unmap_phys(dev, c, 4096, DMAP_TO_DEVICE, 0);
	s = bounce_stats(F.dom);
	cr_assert_eq(s.slots_in_use, 0);
	cr_assert_eq(s.high_water_slots, 5);
	cr_assert_eq(dmap_bounce_get_stats(NULL, &s), -DMAP_EINVAL);
	cr_assert_eq(dmap_bounce_reset_high_water(NULL), -DMAP_EINVAL);
	dmap_dev_destroy(dev);
}

Test(bounce, device_access_outside_a_live_slot_faults)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	unsigned char buf[64];
	struct dmap_fault fault;
	uint64_t recorded = 0;
	dmap_addr_t bus;

	bus = dmap_map_phys(dev, HIGH_BASE + 0x100, 1000, DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(dmap_dev_read(dev, bus + 990, buf, 10), 0);
	cr_assert_eq(dmap_dev_read(dev, bus + 990, buf, 11), -DMAP_EFAULT,
		     "past the mapping's end (still inside its slot) must fault");
	while (dmap_fault_pop(F.dom, &fault) == 1)
		;
	cr_assert_eq(fault.reason, DMAP_FAULT_TRANSLATION);
	cr_assert_eq(fault.addr, bus + 1000);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 1000, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_dev_read(dev, bus, buf, 1), -DMAP_EFAULT, "after unmap");
	cr_assert_eq(dmap_dev_write(dev, LOW_BASE, buf, 1), -DMAP_EFAULT, "never mapped");
	cr_assert_eq(dmap_fault_counts(F.dom, &recorded, NULL), 0);
	cr_assert_eq(recorded, 3);
	dmap_dev_destroy(dev);
}

Test(bounce, unknown_and_double_unmap)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	dmap_addr_t bus = dmap_map_phys(dev, HIGH_BASE, 3000, DMAP_TO_DEVICE, 0);

	cr_assert_eq(dmap_unmap_phys(dev, bus + 8, 3000, DMAP_TO_DEVICE, 0), -DMAP_ENOENT);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 3000, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 3000, DMAP_TO_DEVICE, 0), -DMAP_ENOENT);
	cr_assert(dmap_test_log_has(&F.t, "bpool", "not a live bounce mapping", NULL));
	cr_assert_eq(dmap_sync_single_for_cpu(dev, bus, 10, DMAP_TO_DEVICE), -DMAP_ENOENT);
	cr_assert_eq(bounce_stats(F.dom).slots_in_use, 0);
	dmap_dev_destroy(dev);
}

Test(bounce, coherent_from_the_pool)
{
	struct dmap_dev *dev = bounce_dev(&F, "nic", 0, 0, 0);
	unsigned char data[100];
	dmap_addr_t handle;
	unsigned char *cpu = dmap_alloc_coherent(dev, 10000, &handle, 0);

	cr_assert_not_null(cpu, "%s", dmap_hosted_last_message());
	cr_assert(handle >= LOW_BASE && handle < LOW_BASE + LOW_SIZE);
	cr_assert_eq(handle & 4095, 0);
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(cpu[i], 0);
	memset(data, 0x3c, sizeof(data));
	cr_assert_eq(dmap_dev_write(dev, handle + 9900, data, 100), 0);
	cr_assert_eq(cpu[9999], 0x3c, "coherent memory: the CPU sees device writes at once");
	cr_assert_eq(dmap_unmap_phys(dev, handle, 10000, DMAP_BIDIRECTIONAL, 0), -DMAP_ENOENT,
		     "a coherent buffer is not a streaming mapping");
	cr_assert_eq(dmap_free_coherent(dev, 10000, cpu + 1, handle, 0), -DMAP_ENOENT);
	cr_assert_eq(dmap_free_coherent(dev, 10000, cpu, handle, 0), 0);
	cr_assert_eq(bounce_stats(F.dom).slots_in_use, 0);
	dmap_dev_destroy(dev);
}

Test(bounce, mask_that_cannot_reach_the_pool)
{
	struct dmap_dev *dev = bounce_dev(&F, "isa", 0, 0, 0);

	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(24)), -DMAP_EIO,
		     "pool above 16 MiB: a 24-bit mask is not supported");
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(32)), 0);
	dmap_dev_destroy(dev);
}

Test(bounce, bad_configs)
{
	struct dmap_bounce_config cfg = { 0 };
	struct dmap_domain *d = (void *)1;

	cr_assert_eq(dmap_bounce_domain_create(NULL, &cfg, &d), -DMAP_EINVAL);
	cr_assert_null(d);
	cr_assert_eq(dmap_bounce_domain_create(F.t.ctx, &cfg, NULL), -DMAP_EINVAL);
	cfg.slot_size = 3000;
	cr_assert_eq(dmap_bounce_domain_create(F.t.ctx, &cfg, &d), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&F.t, "slot size 3000", NULL));
	cfg.slot_size = 0;
	cfg.pool_size = 1 << 20;
	cfg.max_mapping_size = 2 << 20;
	cr_assert_eq(dmap_bounce_domain_create(F.t.ctx, &cfg, &d), -DMAP_EINVAL);
	cfg.max_mapping_size = 0;
	cfg.nr_caches = 3;
	cr_assert_eq(dmap_bounce_domain_create(F.t.ctx, &cfg, &d), -DMAP_EINVAL);
	cfg.nr_caches = 0;
	cfg.pool_size = 1ull << 40;
	cfg.max_mapping_size = 1 << 20;
	cr_assert_eq(dmap_bounce_domain_create(F.t.ctx, &cfg, &d), -DMAP_ENOMEM);
	cr_assert(dmap_test_log_has(&F.t, "cannot get", NULL));
	cr_assert_eq(dmap_bounce_grow(F.dom, 1 << 20), -DMAP_EPERM);
	cr_assert(!dmap_bounce_is_bounce(NULL));
	cr_assert(dmap_bounce_is_bounce(F.dom));
}

/* ---- growth -------------------------------------------------------------- */

TestSuite(bounce_growth, .fini = teardown);

Test(bounce_growth, grows_when_full_and_releases_empty_pools)
{
	struct dmap_bounce_config cfg = {
		.name = "grow",
		.pool_size = 1 << 20,
		.max_mapping_size = 256 << 10,
		.allow_growth = true,
		.growth_cap = 2 << 20,
	};
	dmap_addr_t bus[16];
	struct dmap_bounce_stats s;
	struct dmap_dev *dev;
	unsigned char got[256];
	int i;

	bounce_fixture_init(&F, &cfg);
	dev = bounce_dev(&F, "vblk", 0, 0, 0);
	for (i = 0; i < 12; i++) {
		bounce_fill(bounce_ptr(&F, HIGH_BASE + (256 << 10) * i), 256, i);
		bus[i] = dmap_map_phys(dev, HIGH_BASE + (256 << 10) * i, 256 << 10,
				       DMAP_BIDIRECTIONAL, 0);
		cr_assert_neq(bus[i], DMAP_MAPPING_ERROR, "mapping %d: %s", i,
			      dmap_hosted_last_message());
	}
	s = bounce_stats(F.dom);
	cr_assert_eq(s.pools, 3);
	cr_assert_eq(s.pools_added, 2);
	/* The cap (2 MiB of added pools) stops the thirteenth. */
	cr_assert_eq(dmap_map_phys(dev, HIGH_BASE, 256 << 10, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert_eq(bounce_stats(F.dom).failed_full, 1);
	for (i = 0; i < 12; i++) {
		cr_assert_eq(dmap_dev_read(dev, bus[i], got, sizeof(got)), 0);
		cr_assert_eq(memcmp(got, bounce_ptr(&F, HIGH_BASE + (256 << 10) * i), 256), 0);
		cr_assert(dmap_domain_call_owns_addr(F.dom, dev, bus[i]));
	}
	for (i = 0; i < 12; i++)
		cr_assert_eq(dmap_unmap_phys(dev, bus[i], 256 << 10, DMAP_BIDIRECTIONAL, 0), 0);
	s = bounce_stats(F.dom);
	cr_assert_eq(s.pools_released, 2, "emptied added pools are released");
	cr_assert_eq(s.pools, 1);
	cr_assert_eq(s.slots_in_use, 0);
	/* Explicit growth keeps its pool even when empty. */
	cr_assert_eq(dmap_bounce_grow(F.dom, 1 << 20), 0);
	cr_assert_eq(bounce_stats(F.dom).pools, 2);
	cr_assert_eq(dmap_bounce_grow(F.dom, 2 << 20), -DMAP_ENOSPC);
	dmap_dev_destroy(dev);
}

Test(bounce_growth, no_growth_means_full)
{
	struct dmap_bounce_config cfg = { .name = "fixed",
					  .pool_size = 1 << 20,
					  .max_mapping_size = 256 << 10 };
	dmap_addr_t bus[4];
	struct dmap_dev *dev;

	bounce_fixture_init(&F, &cfg);
	dev = bounce_dev(&F, "vblk", 0, 0, 0);
	cr_assert_eq(dmap_max_mapping_size(dev), 256 << 10);
	for (int i = 0; i < 4; i++)
		bus[i] = dmap_map_phys(dev, HIGH_BASE, 256 << 10, DMAP_TO_DEVICE, 0);
	cr_assert_eq(dmap_map_phys(dev, HIGH_BASE, 2048, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&F.t, "fixed", "2048 bytes", "512 of 512 slots", NULL));
	for (int i = 0; i < 4; i++)
		dmap_unmap_phys(dev, bus[i], 256 << 10, DMAP_TO_DEVICE, 0);
	dmap_dev_destroy(dev);
}

/* ---- memory provider (how xen stacks a machine-contiguous pool) ---------- */

struct provider_state {
	struct bounce_fixture *f;
	int allocs, frees;
};

static void *provider_alloc(void *arg, size_t size, size_t align, uint64_t bus_limit,
			    dmap_phys_t *phys, dmap_addr_t *bus)
{
	struct provider_state *p = arg;
	void *va = p->f->t.env->ops->alloc_dma_pages(p->f->t.env->cookie, size, align, UINT64_MAX,
						     phys);

	(void)bus_limit;
	p->allocs++;
	*bus = *phys + 0x40000000ull; /* the device's view differs from the CPU's */
	return va;
}

static void provider_free(void *arg, void *va, dmap_phys_t phys, size_t size)
{
	struct provider_state *p = arg;

	p->frees++;
	p->f->t.env->ops->free_dma_pages(p->f->t.env->cookie, va, phys, size);
}

Test(bounce_growth, memory_provider_sets_the_bus_view)
{
	struct provider_state p = { .f = &F };
	struct dmap_bounce_memory_ops ops = { provider_alloc, provider_free, &p };
	struct dmap_bounce_config cfg = { .name = "xenpool", .pool_size = 2 << 20, .memory = &ops };
	struct dmap_translation tr;
	unsigned char got[100];
	struct dmap_dev *dev;
	dmap_addr_t bus;

	bounce_fixture_init(&F, &cfg);
	cr_assert_eq(p.allocs, 1);
	dev = bounce_dev(&F, "xvda", 0, 0, 0);
	bounce_fill(bounce_ptr(&F, HIGH_BASE), 100, 5);
	bus = dmap_map_phys(dev, HIGH_BASE, 100, DMAP_TO_DEVICE, 0);
	cr_assert(bus >= LOW_BASE + 0x40000000ull && bus < LOW_BASE + LOW_SIZE + 0x40000000ull);
	cr_assert_eq(dmap_translate(dev, bus, DMAP_ACCESS_READ, &tr), 0);
	cr_assert_eq(tr.phys, bus - 0x40000000ull);
	cr_assert_eq(dmap_dev_read(dev, bus, got, 100), 0);
	cr_assert_eq(memcmp(got, bounce_ptr(&F, HIGH_BASE), 100), 0);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 100, DMAP_TO_DEVICE, 0), 0);
	dmap_dev_destroy(dev);
	cr_assert_eq(dmap_domain_destroy(F.dom), 0);
	F.dom = NULL;
	cr_assert_eq(p.frees, 1);
}

/* ---- stacking ------------------------------------------------------------ */

Test(bounce_growth, identity_fallback_bounces_only_what_the_mask_cannot_reach)
{
	struct dmap_bounce_config cfg = { .name = "swiotlb", .pool_size = 4 << 20 };
	struct dmap_identity_config icfg = { .name = "direct" };
	struct dmap_domain *id;
	struct dmap_dev *dev32, *dev64;
	struct dmap_debug_counts dc;
	unsigned char got[5000];
	dmap_addr_t a, b, c;

	bounce_fixture_init(&F, &cfg);
	icfg.fallback = F.dom;
	cr_assert_eq(dmap_identity_domain_create(F.t.ctx, &icfg, &id), 0);
	cr_assert_eq(dmap_domain_set_debug(id, true), 0);
	/* debug on the fallback too: it must not blame the driver for checks it cannot see */
	cr_assert_eq(dmap_domain_set_debug(F.dom, true), 0);
	dev32 = bounce_dev(&F, "dev32", DMAP_BIT_MASK(32), 0, 0);
	dev64 = bounce_dev(&F, "dev64", DMAP_BIT_MASK(64), 0, 0);
	/* bounce_dev attached them to the bounce domain; move them to identity. */
	dmap_dev_detach(dev32);
	dmap_dev_detach(dev64);
	cr_assert_eq(dmap_dev_attach(dev32, id), 0);
	cr_assert_eq(dmap_dev_attach(dev64, id), 0);

	bounce_fill(bounce_ptr(&F, HIGH_BASE + 0x1000), sizeof(got), 1);
	a = dmap_map_phys(dev32, HIGH_BASE + 0x1000, sizeof(got), DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(a, DMAP_MAPPING_ERROR);
	cr_assert_lt(a, 1ull << 32, "a 32-bit device must get a bounce address");
	cr_assert(dmap_domain_call_owns_addr(F.dom, dev32, a));
	b = dmap_map_phys(dev64, HIGH_BASE + 0x1000, sizeof(got), DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(b, HIGH_BASE + 0x1000, "a 64-bit device maps directly");
	c = dmap_map_phys(dev32, LOW_BASE + 0x1000, 100, DMAP_TO_DEVICE, 0);
	cr_assert_eq(c, LOW_BASE + 0x1000, "reachable memory goes direct");
	cr_assert_eq(dmap_mapping_error(dev32, a), 0);
	cr_assert_eq(dmap_mapping_error(dev64, b), 0);
	cr_assert_eq(dmap_mapping_error(dev32, c), 0);
	cr_assert_eq(dmap_dev_read(dev32, a, got, sizeof(got)), 0);
	cr_assert_eq(memcmp(got, bounce_ptr(&F, HIGH_BASE + 0x1000), sizeof(got)), 0);
	memset(got, 0xab, 100);
	cr_assert_eq(dmap_dev_write(dev32, a, got, 100), 0);
	cr_assert_eq(dmap_sync_single_for_cpu(dev32, a, 100, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(bounce_ptr(&F, HIGH_BASE + 0x1000)[99], 0xab);
	cr_assert_eq(bounce_stats(F.dom).live_mappings, 1);
	cr_assert_eq(dmap_unmap_phys(dev32, a, sizeof(got), DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev64, b, sizeof(got), DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev32, c, 100, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(bounce_stats(F.dom).live_mappings, 0);
	/* The debug layer on top of the stack saw it all, cleanly... */
	cr_assert_eq(dmap_debug_get_counts(id, &dc), 0);
	for (int k = 0; k < DMAP_DEBUG_REPORT_COUNT; k++)
		cr_assert_eq(dc.reports[k], 0, "report %s", dmap_debug_report_name(k));
	/* ...and so did the fallback's, though the driver checked errors only on identity... */
	cr_assert_eq(dmap_debug_get_counts(F.dom, &dc), 0);
	for (int k = 0; k < DMAP_DEBUG_REPORT_COUNT; k++)
		cr_assert_eq(dc.reports[k], 0, "fallback report %s", dmap_debug_report_name(k));
	/* ...and reports misuse of a bounced mapping. */
	/* (identity cannot tell a stale bounce address from a direct one: the debug layer can) */
	dmap_unmap_phys(dev32, a, sizeof(got), DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(dmap_debug_get_counts(id, &dc), 0);
	cr_assert_geq(dc.reports[DMAP_DEBUG_DOUBLE_UNMAP] + dc.reports[DMAP_DEBUG_UNMAP_UNKNOWN],
		      1);
	dmap_dev_destroy(dev32);
	dmap_dev_destroy(dev64);
	cr_assert_eq(dmap_domain_destroy(F.dom), -DMAP_EBUSY, "used as a fallback");
	cr_assert_eq(dmap_domain_destroy(id), 0);
}

Test(bounce_growth, debug_layer_on_a_bounce_domain)
{
	struct dmap_bounce_config cfg = { .name = "dbg", .pool_size = 2 << 20 };
	struct dmap_debug_counts dc;
	struct dmap_dev *dev;
	dmap_addr_t a;

	bounce_fixture_init(&F, &cfg);
	cr_assert_eq(dmap_domain_set_debug(F.dom, true), 0);
	dev = bounce_dev(&F, "nic", 0, 0, 0);
	bounce_fill(bounce_ptr(&F, HIGH_BASE), 3000, 2);
	a = dmap_map_phys(dev, HIGH_BASE, 3000, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(dmap_mapping_error(dev, a), 0);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, a + 1000, 500, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, 3000, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(dmap_debug_get_counts(F.dom, &dc), 0);
	for (int k = 0; k < DMAP_DEBUG_REPORT_COUNT; k++)
		cr_assert_eq(dc.reports[k], 0, "report %s", dmap_debug_report_name(k));
	cr_assert_eq(dmap_unmap_phys(dev, a, 3000, DMAP_FROM_DEVICE, 0), -DMAP_ENOENT,
		     "the backend's own error still comes back through the debug layer");
	cr_assert_eq(dmap_debug_get_counts(F.dom, &dc), 0);
	cr_assert_eq(dc.reports[DMAP_DEBUG_DOUBLE_UNMAP] + dc.reports[DMAP_DEBUG_UNMAP_UNKNOWN], 1);
	cr_assert_eq(bounce_stats(F.dom).slots_in_use, 0);
	dmap_dev_destroy(dev);
}

Test(bounce_growth, configurable_max_mapping_size)
{
	struct dmap_bounce_config cfg = { .name = "big",
					  .pool_size = 8 << 20,
					  .max_mapping_size = 3 << 20 };
	struct dmap_dev *dev;
	dmap_addr_t bus;

	bounce_fixture_init(&F, &cfg);
	dev = bounce_dev(&F, "vblk", 0, 0, 0);
	cr_assert_eq(dmap_max_mapping_size(dev), 3 << 20);
	bounce_fill(bounce_ptr(&F, HIGH_BASE), 3 << 20, 1);
	bus = dmap_map_phys(dev, HIGH_BASE, 3 << 20, DMAP_TO_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR, "%s", dmap_hosted_last_message());
	cr_assert_eq(dmap_unmap_phys(dev, bus, 3 << 20, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_map_phys(dev, HIGH_BASE, (3 << 20) + 1, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	dmap_dev_destroy(dev);
}

Test(bounce_growth, segment_size_keeps_mappings_in_one_segment)
{
	struct dmap_bounce_config cfg = { .name = "seg",
					  .pool_size = 4 << 20,
					  .max_mapping_size = 256 << 10,
					  .segment_size = 256 << 10 };
	struct dmap_bounce_config bad = cfg;
	struct dmap_domain *d;
	dmap_addr_t bus[14];
	size_t sizes[14];
	struct dmap_dev *dev;

	bounce_fixture_init(&F, &cfg);
	dev = bounce_dev(&F, "xvda", 0, 0, 0);
	/* Odd sizes that first fit would happily straddle segments with. */
	/* 14 of the 16 segments: every one of these needs a segment to itself. */
	for (int i = 0; i < 14; i++) {
		sizes[i] = 100000 + (size_t)i * 7919;
		bus[i] = dmap_map_phys(dev, HIGH_BASE + (256 << 10) * i, sizes[i], DMAP_TO_DEVICE,
				       0);
		cr_assert_neq(bus[i], DMAP_MAPPING_ERROR, "%d: %s", i, dmap_hosted_last_message());
		cr_assert_eq(bus[i] >> 18, (bus[i] + sizes[i] - 1) >> 18,
			     "mapping 0x%llx+%zu crosses a 256 KiB segment",
			     (unsigned long long)bus[i], sizes[i]);
	}
	for (int i = 0; i < 14; i++)
		cr_assert_eq(dmap_unmap_phys(dev, bus[i], sizes[i], DMAP_TO_DEVICE, 0), 0);
	bad.segment_size = 128 << 10; /* smaller than the largest mapping */
	cr_assert_eq(dmap_bounce_domain_create(F.t.ctx, &bad, &d), -DMAP_EINVAL);
	bad.segment_size = 3 << 17;
	cr_assert_eq(dmap_bounce_domain_create(F.t.ctx, &bad, &d), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&F.t, "segment size", NULL));
	dmap_dev_destroy(dev);
}

/*
 * An EMPTY pool serves its whole capacity, whatever came before. Mixed-size
 * traffic leaves runs parked in the size-class caches and lists (still
 * carved out of the bitmap, some of them where a big run should go); once
 * everything is unmapped, 32 maximal 256 KiB mappings must still tile the
 * 8 MiB pool (the Python test test_empty_pool_serves_full_capacity_after_mixed_use,
 * and the fragmentation scenario, found 29 of 32).
 */
static void empty_pool_serves_full_capacity(unsigned int seed)
{
	static const size_t choice[] = { 2048, 4096, 6000, 64 << 10, 100 << 10, 256 << 10 };
	struct dmap_bounce_config cfg = { .name = "refill",
					  .pool_size = 8 << 20,
					  .max_mapping_size = 256 << 10,
					  .locked_caches = seed % 2 };
	dmap_addr_t bus[64];
	size_t sizes[64];
	unsigned int rng = seed, live = 0, i;
	struct dmap_dev *dev;

	bounce_fixture_init(&F, &cfg);
	dev = bounce_dev(&F, "blk0", 0, 0, 0);
	for (i = 0; i < 400; i++) {
		size_t n;
		dmap_addr_t a;

		rng = rng * 1103515245u + 12345u;
		n = choice[(rng >> 16) % 6];
		a = dmap_map_phys(dev, LOW_BASE, n, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN);
		if (a != DMAP_MAPPING_ERROR) {
			bus[live] = a;
			sizes[live++] = n;
		}
		if (live > 40) {
			unsigned int k;

			rng = rng * 1103515245u + 12345u;
			k = (rng >> 16) % live;
			cr_assert_eq(dmap_unmap_phys(dev, bus[k], sizes[k], DMAP_TO_DEVICE, 0), 0);
			bus[k] = bus[--live];
			sizes[k] = sizes[live];
		}
	}
	while (live) {
		live--;
		cr_assert_eq(dmap_unmap_phys(dev, bus[live], sizes[live], DMAP_TO_DEVICE, 0), 0);
	}
	cr_assert_eq(bounce_stats(F.dom).live_mappings, 0);
	for (i = 0; i < 32; i++) {
		bus[i] = dmap_map_phys(dev, LOW_BASE, 256 << 10, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN);
		cr_assert_neq(bus[i], DMAP_MAPPING_ERROR,
			      "seed %u: only %u of 32 maximal mappings fit the empty pool", seed,
			      i);
	}
	cr_assert_eq(dmap_map_phys(dev, LOW_BASE, 2048, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR, "seed %u: a 33rd run in a full pool", seed);
	for (i = 0; i < 32; i++)
		cr_assert_eq(dmap_unmap_phys(dev, bus[i], 256 << 10, DMAP_TO_DEVICE, 0), 0);
	dmap_dev_destroy(dev);
}

TestSuite(bounce_capacity);

Test(bounce_capacity, empty_pool_serves_full_capacity_after_mixed_use)
{
	for (unsigned int seed = 1; seed <= 20; seed++) {
		empty_pool_serves_full_capacity(seed);
		bounce_fixture_fini(&F);
	}
}

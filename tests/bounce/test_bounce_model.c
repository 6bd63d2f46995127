// SPDX-License-Identifier: MIT
/*
 * tests/bounce/test_bounce_model.c - randomized model test of the bounce
 * backend: random map / CPU write / device read and write / sub-range sync /
 * unmap sequences, with and without DMAP_ATTR_SKIP_CPU_SYNC, checked against
 * a reference that tracks, per mapping, what the CPU's buffer must hold and
 * what the device must see in the bounce slot:
 *
 *   map            device view := CPU buffer (zeros with SKIP_CPU_SYNC)
 *   sync_for_cpu   FROM/BIDIR: CPU[range] := device[range]
 *   sync_for_device TO/BIDIR:  device[range] := CPU[range]
 *   unmap          FROM/BIDIR without SKIP: CPU := device
 *   device write   allowed unless TO_DEVICE (then it faults)
 *
 * Also checks the address contracts on every map (min_align_mask bits, page
 * alignment, segment boundary) and that nothing is left in use at the end.
 */
#include "bounce_test.h"

#define WINDOWS 12
#define WINDOW (96u << 10)
#define MAX_SIZE (80u << 10)

struct ref_map {
	bool live;
	dmap_addr_t bus;
	dmap_phys_t phys;
	size_t size;
	enum dmap_dir dir;
	unsigned long attrs;
	unsigned char cpu[MAX_SIZE];
	unsigned char dev[MAX_SIZE];
};

static struct bounce_fixture F;
static struct ref_map maps[WINDOWS];

static void teardown(void)
{
	bounce_fixture_fini(&F);
}

TestSuite(bounce_model, .fini = teardown);

static void check_cpu(struct ref_map *m, int step)
{
	cr_assert_eq(memcmp(bounce_ptr(&F, m->phys), m->cpu, m->size), 0,
		     "step %d: CPU buffer differs from the reference (%s, size %zu)", step,
		     dmap_dir_name(m->dir), m->size);
}

static void run_model(uint64_t min_align_mask, uint64_t boundary, unsigned int seed, int steps)
{
	struct dmap_bounce_config cfg = { .name = "model",
					  .pool_size = 2 << 20,
					  .max_mapping_size = 128 << 10 };
	struct dmap_dev *dev;
	unsigned char tmp[MAX_SIZE];

	bounce_fixture_init(&F, &cfg);
	dev = bounce_dev(&F, "model-dev", 0, min_align_mask, boundary);
	memset(maps, 0, sizeof(maps));
	srand(seed);
	for (int step = 0; step < steps; step++) {
		struct ref_map *m = &maps[rand() % WINDOWS];
		int op = rand() % 100;

		if (!m->live) {
			int w = (int)(m - maps);

			m->size = 1 + (size_t)rand() % (rand() % 3 ? 6000 : MAX_SIZE - 0x1000);
			m->phys = HIGH_BASE + (uint64_t)w * WINDOW + (uint64_t)(rand() % 0x1000);
			m->dir = (enum dmap_dir)(rand() % 3);
			m->attrs = rand() % 5 == 0 ? DMAP_ATTR_SKIP_CPU_SYNC : 0;
			for (size_t i = 0; i < m->size; i++)
				m->cpu[i] = (unsigned char)rand();
			memcpy(bounce_ptr(&F, m->phys), m->cpu, m->size);
			m->bus = dmap_map_phys(dev, m->phys, m->size, m->dir, m->attrs);
			cr_assert_neq(m->bus, DMAP_MAPPING_ERROR, "step %d: map %zu: %s", step,
				      m->size, dmap_hosted_last_message());
			cr_assert_eq(m->bus & min_align_mask, m->phys & min_align_mask);
			if (m->size >= 4096 && !min_align_mask)
				cr_assert_eq(m->bus & 4095, 0);
			if (boundary != ~0ull)
				cr_assert_eq(m->bus & ~boundary,
					     (m->bus + m->size - 1) & ~boundary);
			if (m->attrs & DMAP_ATTR_SKIP_CPU_SYNC)
				memset(m->dev, 0, m->size);
			else
				memcpy(m->dev, m->cpu, m->size);
			m->live = true;
			continue;
		}
		size_t off = (size_t)rand() % m->size;
		size_t len = 1 + (size_t)rand() % (m->size - off);

		if (op <
		    15) { /* the CPU scribbles on its buffer (it does not own it: fine for the model) */
			for (size_t i = 0; i < len; i++)
				m->cpu[off + i] = (unsigned char)rand();
			memcpy(bounce_ptr(&F, m->phys) + off, m->cpu + off, len);
		} else if (op < 35) { /* the device reads */
			cr_assert_eq(dmap_dev_read(dev, m->bus + off, tmp, len), 0);
			cr_assert_eq(memcmp(tmp, m->dev + off, len), 0,
				     "step %d: device sees wrong bytes at +%zu len %zu (%s)", step,
				     off, len, dmap_dir_name(m->dir));
			if (rand() % 8 == 0) {
				/* Just past the data: a fault, unless another live mapping starts there. */
				dmap_addr_t past = m->bus + m->size;
				bool other = false;

				for (int k = 0; k < WINDOWS; k++)
					other |= maps[k].live && past >= maps[k].bus &&
						 past < maps[k].bus + maps[k].size;
				cr_assert_eq(dmap_dev_read(dev, past, tmp, 1),
					     other ? 0 : -DMAP_EFAULT);
			}
		} else if (op < 55) { /* the device writes */
			for (size_t i = 0; i < len; i++)
				tmp[i] = (unsigned char)rand();
			if (m->dir == DMAP_TO_DEVICE) {
				cr_assert_eq(dmap_dev_write(dev, m->bus + off, tmp, len),
					     -DMAP_EFAULT);
			} else {
				cr_assert_eq(dmap_dev_write(dev, m->bus + off, tmp, len), 0);
				memcpy(m->dev + off, tmp, len);
			}
		} else if (op < 70) {
			cr_assert_eq(dmap_sync_single_for_cpu(dev, m->bus + off, len, m->dir), 0);
			if (m->dir != DMAP_TO_DEVICE)
				memcpy(m->cpu + off, m->dev + off, len);
			check_cpu(m, step);
		} else if (op < 85) {
			cr_assert_eq(dmap_sync_single_for_device(dev, m->bus + off, len, m->dir),
				     0);
			if (m->dir != DMAP_FROM_DEVICE)
				memcpy(m->dev + off, m->cpu + off, len);
		} else {
			unsigned long attrs = rand() % 5 == 0 ? DMAP_ATTR_SKIP_CPU_SYNC : 0;

			cr_assert_eq(dmap_unmap_phys(dev, m->bus, m->size, m->dir, attrs), 0);
			if (m->dir != DMAP_TO_DEVICE && !attrs)
				memcpy(m->cpu, m->dev, m->size);
			check_cpu(m, step);
			m->live = false;
		}
	}
	for (int w = 0; w < WINDOWS; w++) {
		if (!maps[w].live)
			continue;
		cr_assert_eq(dmap_unmap_phys(dev, maps[w].bus, maps[w].size, maps[w].dir, 0), 0);
		if (maps[w].dir != DMAP_TO_DEVICE)
			memcpy(maps[w].cpu, maps[w].dev, maps[w].size);
		check_cpu(&maps[w], -1);
	}
	cr_assert_eq(bounce_stats(F.dom).slots_in_use, 0);
	cr_assert_eq(bounce_stats(F.dom).live_mappings, 0);
	dmap_dev_destroy(dev);
}

Test(bounce_model, plain_device)
{
	run_model(0, ~0ull, 1, 6000);
}

Test(bounce_model, nvme_min_align_mask)
{
	run_model(0xfff, ~0ull, 2, 6000);
}

Test(bounce_model, min_align_and_boundary)
{
	run_model(0x7ff, 0x1ffff, 3, 6000);
}

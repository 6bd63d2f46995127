// SPDX-License-Identifier: MIT
/*
 * tests/bounce/test_swiotlb_model.c - the benchmark's swiotlb model
 * (bench/bounce/swiotlb_model.c) must behave like the swiotlb it models, or
 * the comparisons in docs/bench/bounce.md mean nothing: runs never overlap
 * and never cross a 128-slot segment, nothing above 256 KiB is served,
 * page-sized runs are page aligned, min_align_mask bits are kept, and after
 * everything is freed every slot's free-run count is back to its initial
 * value (the two-step merge is complete).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "swiotlb_model.h"

Test(swiotlb_model, limits_and_segments)
{
	struct swiotlb_model m;

	cr_assert_eq(swiotlb_model_init(&m, 4 << 20, 2), 0);
	cr_assert_eq(m.nareas, 2);
	cr_assert_eq(swiotlb_model_alloc(&m, (256 << 10) + 1, 0, 0, 0), -1,
		     "more than one segment can never be served");
	cr_assert_geq(swiotlb_model_alloc(&m, 256 << 10, 0, 0, 0), 0);
	swiotlb_model_destroy(&m);
}

Test(swiotlb_model, random_model_and_full_merge)
{
	struct swiotlb_model m;
	uint8_t *used;
	long idx[256];
	size_t size[256];
	uint64_t orig[256];
	int live = 0;

	cr_assert_eq(swiotlb_model_init(&m, 8 << 20, 4), 0);
	used = calloc(m.nslabs, 1);
	srand(5);
	for (int step = 0; step < 20000; step++) {
		if (live < 256 && (live == 0 || rand() % 2)) {
			size_t sz = 1 + (size_t)rand() % (rand() % 4 ? 8192 : (256 << 10) - 4096);
			uint64_t o = (uint64_t)(rand() % 4096) * 16;
			uint64_t mask = rand() % 3 ? 0 : 0xfff;
			long i = swiotlb_model_alloc(&m, sz, o, mask, (unsigned int)rand());
			unsigned int off = (unsigned int)(o & mask & (SWIOTLB_SLOT - 1));
			unsigned long n = (sz + off + SWIOTLB_SLOT - 1) >> SWIOTLB_SHIFT;

			if (i < 0)
				continue;
			cr_assert_eq((unsigned long)i / SWIOTLB_SEGSIZE,
				     ((unsigned long)i + n - 1) / SWIOTLB_SEGSIZE,
				     "run crosses a segment");
			if (sz >= 4096 && !mask)
				cr_assert_eq(i % 2, 0, "page-sized run not page aligned");
			if (mask)
				cr_assert_eq(((m.start + ((uint64_t)i << SWIOTLB_SHIFT)) ^ o) &
						     mask & ~(uint64_t)(SWIOTLB_SLOT - 1),
					     0, "min_align_mask bits not kept");
			for (unsigned long k = 0; k < n; k++) {
				cr_assert_eq(used[i + k], 0, "slot %lu handed out twice", i + k);
				used[i + k] = 1;
			}
			idx[live] = i;
			size[live] = sz;
			orig[live] = o | (mask << 32);
			live++;
		} else {
			int k = rand() % live;
			uint64_t mask = orig[k] >> 32, o = orig[k] & 0xffffffffu;
			unsigned int off = (unsigned int)(o & mask & (SWIOTLB_SLOT - 1));
			unsigned long n = (size[k] + off + SWIOTLB_SLOT - 1) >> SWIOTLB_SHIFT;

			swiotlb_model_free(&m, idx[k], size[k], o, mask);
			memset(used + idx[k], 0, n);
			live--;
			idx[k] = idx[live];
			size[k] = size[live];
			orig[k] = orig[live];
		}
	}
	while (live--) {
		uint64_t mask = orig[live] >> 32, o = orig[live] & 0xffffffffu;

		swiotlb_model_free(&m, idx[live], size[live], o, mask);
	}
	cr_assert_eq(swiotlb_model_used(&m), 0);
	for (unsigned long i = 0; i < m.nslabs; i++)
		cr_assert_eq(m.slots[i].list, SWIOTLB_SEGSIZE - (i % SWIOTLB_SEGSIZE),
			     "slot %lu list %u after free-all", i, m.slots[i].list);
	free(used);
	swiotlb_model_destroy(&m);
}

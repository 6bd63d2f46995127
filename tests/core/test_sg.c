// SPDX-License-Identifier: MIT
/*
 * tests/core/test_sg.c - scatter-gather mapping: merge rules (contiguity,
 * max_seg_size, seg_boundary_mask), unmap/sync with the original nents,
 * rollback on failure, validation, and a randomised model test against a
 * reference merger, with the backend's map_sg hook and without.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/identity.h>

#include "test_env.h"
#include "test_backend.h"

#define RAM_BASE 0x10000000ULL
#define RAM_SIZE (4u << 20)

static struct dmap_test_env t;
static struct tb *tb;
static struct tb *tbsg;
static struct dmap_dev *dev;
static struct dmap_dev *devsg;

static void setup(void)
{
	dmap_test_env_init(&t, RAM_BASE, RAM_SIZE, false);
	tb = tb_create(t.ctx, "tb", false);
	tbsg = tb_create(t.ctx, "tbsg", true);
	dev = dmap_test_dev(&t, "blk0", DMAP_BIT_MASK(64));
	devsg = dmap_test_dev(&t, "blk1", DMAP_BIT_MASK(64));
	cr_assert_eq(dmap_dev_attach(dev, &tb->dom), 0);
	cr_assert_eq(dmap_dev_attach(devsg, &tbsg->dom), 0);
}

static void teardown(void)
{
	dmap_dev_destroy(dev);
	dmap_dev_destroy(devsg);
	dmap_domain_destroy(&tb->dom);
	dmap_domain_destroy(&tbsg->dom);
	dmap_test_env_fini(&t);
}

TestSuite(sg, .init = setup, .fini = teardown);

static void fill(struct dmap_sg *sg, int n, const dmap_phys_t *phys, const size_t *len)
{
	for (int i = 0; i < n; i++)
		sg[i] = (struct dmap_sg){
			.phys = phys[i], .len = len[i], .dma_addr = 0x5a5a, .dma_len = 0x5a5a
		};
}

Test(sg, contiguous_entries_merge)
{
	struct dmap_sg sg[3];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 4096, RAM_BASE + 8192 };
	const size_t l[] = { 4096, 4096, 100 };

	fill(sg, 3, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 1);
	cr_assert_eq(sg[0].dma_addr, RAM_BASE);
	cr_assert_eq(sg[0].dma_len, 8192 + 100);
	cr_assert_eq(sg[1].dma_len, 0);
	cr_assert_eq(sg[2].dma_len, 0);
	cr_assert_eq(sg[1].phys, p[1], "phys/len untouched");
	cr_assert_eq(sg[2].len, 100);
	cr_assert_eq(tb->live, 3, "each entry mapped on its own");
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(tb->live, 0);
	cr_assert_eq(tb->nunmaps, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(tb->unmaps[i].addr, p[i], "entry %d unmapped at its own address", i);
		cr_assert_eq(tb->unmaps[i].len, l[i]);
	}
}

Test(sg, non_contiguous_not_merged)
{
	struct dmap_sg sg[3];
	const dmap_phys_t p[] = { RAM_BASE + 8192, RAM_BASE, RAM_BASE + 4096 + 1 };
	const size_t l[] = { 4096, 4096, 10 };

	fill(sg, 3, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_FROM_DEVICE, 0), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sg[i].dma_addr, p[i]);
		cr_assert_eq(sg[i].dma_len, l[i]);
	}
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(tb->live, 0);
}

Test(sg, max_seg_size_splits)
{
	struct dmap_sg sg[5];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 4096, RAM_BASE + 8192, RAM_BASE + 12288,
				  RAM_BASE + 16384 };
	const size_t l[] = { 4096, 4096, 4096, 4096, 4096 };

	cr_assert_eq(dmap_set_max_seg_size(dev, 8192), 0);
	fill(sg, 5, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 5, DMAP_TO_DEVICE, 0), 3);
	cr_assert_eq(sg[0].dma_addr, RAM_BASE);
	cr_assert_eq(sg[0].dma_len, 8192);
	cr_assert_eq(sg[1].dma_addr, RAM_BASE + 8192);
	cr_assert_eq(sg[1].dma_len, 8192);
	cr_assert_eq(sg[2].dma_addr, RAM_BASE + 16384);
	cr_assert_eq(sg[2].dma_len, 4096);
	cr_assert_eq(sg[3].dma_len, 0);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 5, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(tb->live, 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(tb->unmaps[i].addr, p[i]);
}

/* An entry larger than max_seg_size is not split, just never merged. */
Test(sg, oversized_entry_stays_alone)
{
	struct dmap_sg sg[2];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 0x20000 };
	const size_t l[] = { 0x20000, 4096 };

	fill(sg, 2, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 2);
	cr_assert_eq(sg[0].dma_len, 0x20000);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 0);
}

Test(sg, seg_boundary_splits)
{
	struct dmap_sg sg[3];
	/* 0xf000 + 4096 reaches the 64 KiB boundary exactly: the next entry crosses it. */
	const dmap_phys_t p[] = { RAM_BASE + 0xe000, RAM_BASE + 0xf000, RAM_BASE + 0x10000 };
	const size_t l[] = { 4096, 4096, 4096 };

	cr_assert_eq(dmap_set_seg_boundary(dev, 0xffff), 0);
	fill(sg, 3, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 2);
	cr_assert_eq(sg[0].dma_addr, RAM_BASE + 0xe000);
	cr_assert_eq(sg[0].dma_len, 8192);
	cr_assert_eq(sg[1].dma_addr, RAM_BASE + 0x10000);
	cr_assert_eq(sg[1].dma_len, 4096);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(tb->live, 0);
	/* Straddling entries: a boundary in the middle of the second entry also splits. */
	const dmap_phys_t q[] = { RAM_BASE + 0xf000, RAM_BASE + 0xf800, RAM_BASE + 0x10800 };
	const size_t m[] = { 0x800, 0x1000, 0x100 };
	fill(sg, 3, q, m);
	/* entry 1 itself straddles 0x10000: it is not split, but nothing joins it */
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 3);
	cr_assert_eq(sg[0].dma_len, 0x800);
	cr_assert_eq(sg[1].dma_addr, RAM_BASE + 0xf800);
	cr_assert_eq(sg[1].dma_len, 0x1000);
	cr_assert_eq(sg[2].dma_len, 0x100);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 0);
}

Test(sg, failure_mid_list_leaves_nothing_mapped)
{
	struct dmap_sg sg[4];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 4096, RAM_BASE + 8192, RAM_BASE + 12288 };
	const size_t l[] = { 4096, 4096, 4096, 4096 };
	struct dmap_domain_stats s;

	for (int hooks = 0; hooks < 2; hooks++) {
		struct tb *b = hooks ? tbsg : tb;
		struct dmap_dev *d = hooks ? devsg : dev;

		tb_reset_log(b);
		b->fail_at = 3;
		fill(sg, 4, p, l);
		dmap_test_log_clear(&t);
		cr_assert_lt(dmap_map_sg(d, sg, 4, DMAP_TO_DEVICE, 0), 0);
		cr_assert_eq(b->live, 0, "rolled back (hooks %d)", hooks);
		cr_assert_eq(b->map_calls, 3);
		cr_assert(dmap_test_log_has(&t, d->name, "map_sg", "4 entries", NULL));
		if (!hooks) {
			cr_assert_eq(b->nunmaps, 2);
			cr_assert(b->unmaps[0].attrs & DMAP_ATTR_SKIP_CPU_SYNC);
		}
		cr_assert_eq(dmap_domain_get_stats(&b->dom, &s), 0);
		cr_assert_eq(s.map_errors, 1);
		b->fail_at = 0;
	}
	/* NO_WARN silences the message */
	tb->fail_at = tb->map_calls + 1;
	dmap_test_log_clear(&t);
	cr_assert_lt(dmap_map_sg(dev, sg, 4, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN), 0);
	cr_assert_eq(t.messages, 0);
}

Test(sg, validation_before_anything_is_mapped)
{
	struct dmap_sg sg[3];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 4096, RAM_BASE + 8192 };
	size_t l[] = { 4096, 0, 4096 };

	fill(sg, 3, p, l);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "blk0", "entry 1", "length 0", NULL));
	cr_assert_eq(tb->map_calls, 0);
	l[1] = 4096;
	fill(sg, 3, p, l);
	sg[2].phys = ~0ULL - 10;
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "blk0", "entry 2", "wraps", NULL));
	cr_assert_eq(tb->map_calls, 0);
	fill(sg, 3, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 0, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_map_sg(dev, sg, -1, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_map_sg(dev, NULL, 3, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_map_sg(NULL, sg, 3, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_NONE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 1UL << 33), -DMAP_EINVAL);
	cr_assert_eq(dmap_unmap_sg(NULL, sg, 3, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 0, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_sync_sg_for_cpu(NULL, sg, 3, DMAP_TO_DEVICE), -DMAP_EINVAL);
	cr_assert_eq(dmap_sync_sg_for_device(dev, sg, 3, (enum dmap_dir)7), -DMAP_EINVAL);
	cr_assert_eq(tb->map_calls, 0);
	struct dmap_domain_stats s;
	dmap_domain_get_stats(&tb->dom, &s);
	cr_assert_eq(s.invalid_args, 9);
}

/* Unmap/sync with a count that does not match the mapped list is refused. */
Test(sg, unmap_with_wrong_nents_refused)
{
	struct dmap_sg sg[3];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 4096, RAM_BASE + 0x10000 };
	const size_t l[] = { 4096, 4096, 4096 };

	fill(sg, 3, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 2);
	/* passing the returned count (2) instead of nents (3): the walk does not add up */
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 0,
		     "2 entries fit in the first segment: Linux-compatible partial unmap");
	cr_assert_eq(tb->live, 1);
	/* remap and pass more than were mapped */
	tb->live = 0;
	fill(sg, 3, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 1);
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "blk0", "do not match", NULL));
	cr_assert_eq(dmap_sync_sg_for_cpu(dev, sg, 3, DMAP_TO_DEVICE), -DMAP_EINVAL);
}

Test(sg, sync_per_entry)
{
	struct dmap_sg sg[3];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 4096, RAM_BASE + 0x10000 };
	const size_t l[] = { 4096, 4096, 512 };

	fill(sg, 3, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_BIDIRECTIONAL, 0), 2);
	cr_assert_eq(dmap_sync_sg_for_cpu(dev, sg, 3, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_sync_sg_for_device(dev, sg, 3, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(tb->nsyncs, 6);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(tb->syncs[i].addr, p[i]);
		cr_assert_eq(tb->syncs[i].len, l[i]);
		cr_assert(tb->syncs[i].for_cpu);
		cr_assert_eq(tb->syncs[3 + i].addr, p[i]);
		cr_assert_not(tb->syncs[3 + i].for_cpu);
	}
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_BIDIRECTIONAL, 0), 0);
}

Test(sg, backend_hooks_get_per_entry_addresses)
{
	struct dmap_sg sg[4];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 4096, RAM_BASE + 8192, RAM_BASE + 0x9000 };
	const size_t l[] = { 4096, 4096, 4096, 4096 };

	fill(sg, 4, p, l);
	cr_assert_eq(dmap_map_sg(devsg, sg, 4, DMAP_TO_DEVICE, 0), 2);
	cr_assert_eq(tbsg->map_sg_calls, 1);
	cr_assert_eq(dmap_unmap_sg(devsg, sg, 4, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(tbsg->unmap_sg_calls, 1);
	cr_assert_eq(tbsg->live, 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(tbsg->unmaps[i].addr, p[i]);
}

Test(sg, long_list_unmap)
{
	enum { N = 300 };
	struct dmap_sg *sg = calloc(N, sizeof(*sg));

	for (int i = 0; i < N; i++) {
		sg[i].phys = RAM_BASE + (dmap_phys_t)i * 4096;
		sg[i].len = (i % 7 == 6) ? 100 : 4096; /* every 7th entry breaks contiguity */
	}
	int n = dmap_map_sg(devsg, sg, N, DMAP_TO_DEVICE, 0);
	cr_assert_gt(n, 1);
	cr_assert_lt(n, N);
	cr_assert_eq(tbsg->live, N);
	cr_assert_eq(dmap_unmap_sg(devsg, sg, N, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(tbsg->live, 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(tbsg->unmaps[i].addr, sg[i].phys);
	free(sg);
}

Test(sg, stats_counted)
{
	struct dmap_sg sg[3];
	const dmap_phys_t p[] = { RAM_BASE, RAM_BASE + 4096, RAM_BASE + 0x10000 };
	const size_t l[] = { 4096, 4096, 512 };
	struct dmap_domain_stats s;

	dmap_domain_set_counting(&tb->dom, true);
	fill(sg, 3, p, l);
	cr_assert_eq(dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 2);
	dmap_sync_sg_for_device(dev, sg, 3, DMAP_TO_DEVICE);
	dmap_unmap_sg(dev, sg, 3, DMAP_TO_DEVICE, 0);
	dmap_domain_get_stats(&tb->dom, &s);
	cr_assert_eq(s.sg_maps, 1);
	cr_assert_eq(s.sg_segments_merged, 1);
	cr_assert_eq(s.bytes_mapped, 4096 * 2 + 512);
	cr_assert_eq(s.syncs, 1);
}

/* Reference merger: the rules written out the obvious way. */
static int ref_merge(const struct dmap_sg *in, int n, size_t max_seg, uint64_t boundary,
		     dmap_addr_t *addr, size_t *len)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		dmap_addr_t a = in[i].phys;
		size_t l = in[i].len;

		if (k > 0 && addr[k - 1] + len[k - 1] == a && len[k - 1] + l <= max_seg &&
		    addr[k - 1] / (boundary + 1) == (a + l - 1) / (boundary + 1)) {
			len[k - 1] += l;
			continue;
		}
		addr[k] = a;
		len[k] = l;
		k++;
	}
	return k;
}

/* Own generator: under TSan the test support replaces rand_r() (see criterion_tsan.c). */
static unsigned int next_random(unsigned int *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

Test(sg, random_model)
{
	unsigned int seed = 42;

	for (int round = 0; round < 400; round++) {
		struct dmap_sg sg[32], orig[32];
		dmap_addr_t ra[32];
		size_t rl[32];
		int n = 1 + (int)(next_random(&seed) % 32);
		size_t max_seg = (size_t)512 << (next_random(&seed) % 8);
		uint64_t boundary = ((uint64_t)4096 << (next_random(&seed) % 6)) - 1;
		dmap_phys_t cursor = RAM_BASE + (next_random(&seed) % 64) * 512;
		struct dmap_dev *d = round % 2 ? devsg : dev;
		struct tb *b = round % 2 ? tbsg : tb;

		for (int i = 0; i < n; i++) {
			if (next_random(&seed) % 3 == 0)
				cursor += 512 * (1 + next_random(&seed) % 4); /* gap */
			sg[i].phys = cursor;
			sg[i].len = 256 * (1 + next_random(&seed) % 16);
			cursor += sg[i].len;
		}
		memcpy(orig, sg, sizeof(sg));
		dmap_set_max_seg_size(d, max_seg);
		dmap_set_seg_boundary(d, boundary);
		tb_reset_log(b);
		int k = ref_merge(orig, n, max_seg, boundary, ra, rl);
		int got = dmap_map_sg(d, sg, n, DMAP_BIDIRECTIONAL, 0);
		cr_assert_eq(got, k, "round %d: %d segments, reference %d", round, got, k);
		for (int j = 0; j < k; j++) {
			cr_assert_eq(sg[j].dma_addr, ra[j], "round %d seg %d", round, j);
			cr_assert_eq(sg[j].dma_len, rl[j], "round %d seg %d", round, j);
		}
		for (int j = k; j < n; j++)
			cr_assert_eq(sg[j].dma_len, 0);
		cr_assert_eq(dmap_unmap_sg(d, sg, n, DMAP_BIDIRECTIONAL, 0), 0);
		cr_assert_eq(b->live, 0);
		for (int i = 0; i < n; i++) {
			cr_assert_eq(b->unmaps[i].addr, orig[i].phys, "round %d entry %d", round,
				     i);
			cr_assert_eq(b->unmaps[i].len, orig[i].len);
		}
	}
}

/* Through the identity backend with its 32-bit default mask. */
Test(sg, identity_end_to_end)
{
	struct dmap_domain *id;
	struct dmap_dev *d = dmap_test_dev(&t, "idsg", 0);
	struct dmap_sg sg[2] = { { .phys = RAM_BASE, .len = 4096 },
				 { .phys = RAM_BASE + 4096, .len = 4096 } };

	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &id), 0);
	dmap_dev_attach(d, id);
	cr_assert_eq(dmap_map_sg(d, sg, 2, DMAP_TO_DEVICE, 0), 1);
	cr_assert_eq(sg[0].dma_addr, RAM_BASE);
	cr_assert_eq(sg[0].dma_len, 8192);
	cr_assert_eq(dmap_sync_sg_for_cpu(d, sg, 2, DMAP_TO_DEVICE), 0);
	cr_assert_eq(dmap_unmap_sg(d, sg, 2, DMAP_TO_DEVICE, 0), 0);
	/* unreachable entry: nothing stays mapped, error comes back */
	struct dmap_sg bad[2] = { { .phys = RAM_BASE, .len = 4096 },
				  { .phys = 0x100000000ULL, .len = 4096 } };
	cr_assert_eq(dmap_map_sg(d, bad, 2, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN), -DMAP_EIO);
	dmap_dev_destroy(d);
	dmap_domain_destroy(id);
}

/* With the debug layer on, merged lists unmap cleanly: no reports, nothing left tracked. */
#include <dmap/debug.h>

Test(sg, debug_layer_sees_consistent_lists)
{
	struct dmap_domain *id;
	struct dmap_dev *d = dmap_test_dev(&t, "dbgsg", 0);
	struct dmap_debug_counts c;
	struct dmap_sg sg[3] = { { .phys = RAM_BASE, .len = 4096 },
				 { .phys = RAM_BASE + 4096, .len = 4096 },
				 { .phys = RAM_BASE + 0x10000, .len = 512 } };

	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &id), 0);
	cr_assert_eq(dmap_domain_set_debug(id, true), 0);
	cr_assert_eq(dmap_dev_attach(d, id), 0);
	cr_assert_eq(dmap_map_sg(d, sg, 3, DMAP_BIDIRECTIONAL, 0), 2);
	cr_assert_eq(dmap_debug_get_counts(id, &c), 0);
	cr_assert_gt(c.live_mappings, 0);
	cr_assert_eq(dmap_sync_sg_for_cpu(d, sg, 3, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_unmap_sg(d, sg, 3, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_debug_get_counts(id, &c), 0);
	cr_assert_eq(c.live_mappings, 0);
	for (int k = 0; k < DMAP_DEBUG_REPORT_COUNT; k++)
		cr_assert_eq(c.reports[k], 0, "report %s", dmap_debug_report_name(k));
	dmap_dev_destroy(d);
	dmap_domain_destroy(id);
}

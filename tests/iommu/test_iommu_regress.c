// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_iommu_regress.c - regressions for the bugs the fuzzers
 * found in the iommu backend (docs/fuzzing.md, findings 2 and 5-11): each
 * test fails on the code before its fix.
 *
 *  - an unmap, unmap_sg, sync or free_coherent whose (address, size, device)
 *    is not exactly one live mapping's is refused with a message and changes
 *    nothing (it used to tear down whatever the granules held and free IOVA
 *    still in use, which the allocator then handed out again);
 *  - a mapping of physical page 0 syncs (0 used to mean "not mapped"), and
 *    dmap_iommu_iova_lookup() tells it from a hole;
 *  - free_coherent takes only a live coherent buffer with its size and CPU
 *    address;
 *  - the hardware-record decoders reject stage-2 STEs and report no field
 *    its qualifying bit leaves undefined.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/hosted.h>
#include <dmap/iommu.h>
#include <dmap/iommu_hw.h>
#include <dmap_env_inline.h>

#include "test_env.h"

#define POOL_BASE 0x40000000ull
#define POOL_SIZE (32ull << 20)
#define BUF_BASE 0x200000000ull
#define BUF_SIZE (8ull << 20)
#define LOW_SIZE (1ull << 20) /* RAM at physical address 0 */

static struct dmap_test_env T;

static void setup(void)
{
	void *host;

	dmap_test_env_init(&T, POOL_BASE, POOL_SIZE, false);
	cr_assert_eq(dmap_hosted_mem_add(T.hosted, BUF_BASE, BUF_SIZE, 0, &host), 0);
	cr_assert_eq(dmap_hosted_mem_add(T.hosted, 0, LOW_SIZE, 0, &host), 0);
}

static void teardown(void)
{
	dmap_test_env_fini(&T);
}

static struct dmap_domain *make_domain(enum dmap_pgtable_format format, bool deferred)
{
	struct dmap_iommu_config cfg = { .name = "smmu0", .format = format, .deferred = deferred };
	struct dmap_domain *dom = NULL;

	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &cfg, &dom), 0, "%s",
		     dmap_hosted_last_message());
	return dom;
}

static struct dmap_dev *make_dev(const char *name, uint32_t sid, uint32_t flags,
				 struct dmap_domain *dom)
{
	struct dmap_dev_info info = { 0 };
	struct dmap_dev *dev = NULL;

	info.name = name;
	info.stream_id = sid;
	info.dma_mask = DMAP_BIT_MASK(64);
	info.coherent_dma_mask = DMAP_BIT_MASK(64);
	info.max_seg_size = 1u << 30;
	info.flags = flags;
	cr_assert_eq(dmap_dev_create(T.ctx, &info, &dev), 0);
	cr_assert_eq(dmap_dev_attach(dev, dom), 0, "attach: %s", dmap_hosted_last_message());
	return dev;
}

/* Every byte of [@addr, @addr+@size) translates for @dev to @phys + offset. */
static void assert_mapped(struct dmap_dev *dev, dmap_addr_t addr, size_t size, dmap_phys_t phys)
{
	for (size_t off = 0; off < size; off += 0x800) {
		struct dmap_translation t;
		int ret = dmap_translate(dev, addr + off, DMAP_ACCESS_READ, &t);

		cr_assert_eq(ret, 0, "bus %llx no longer mapped: %d",
			     (unsigned long long)(addr + off), ret);
		cr_assert_eq(t.phys, phys + off);
	}
}

static void assert_refused(int ret, const char *dev_name, dmap_addr_t addr)
{
	char hex[32];

	cr_assert(ret == -DMAP_ENOENT || ret == -DMAP_EINVAL, "returned %d", ret);
	snprintf(hex, sizeof(hex), "%llx", (unsigned long long)addr);
	cr_assert(strstr(dmap_hosted_last_message(), "smmu0"), "%s", dmap_hosted_last_message());
	cr_assert(strstr(dmap_hosted_last_message(), dev_name), "%s", dmap_hosted_last_message());
	cr_assert(strstr(dmap_hosted_last_message(), hex), "%s", dmap_hosted_last_message());
}

/* ---- iommu-unmap-accepts-any-mapped-range -------------------------------- */

static void unmap_misuse(enum dmap_pgtable_format format, bool deferred)
{
	struct dmap_domain *dom = make_domain(format, deferred);
	struct dmap_dev *a = make_dev("nic-a", 1, 0, dom);
	struct dmap_dev *b = make_dev("nic-b", 2, 0, dom);
	dmap_phys_t pa = BUF_BASE + 0x200000, pb = BUF_BASE + 0x400000;
	dmap_addr_t m, n;

	m = dmap_map_phys(a, pa, 0x3000, DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);

	/* The fuzzer's reproducer: another device, an address inside, a small size. */
	assert_refused(dmap_unmap_phys(b, m + 0x1000, 0x10, DMAP_BIDIRECTIONAL, 0), "nic-b",
		       m + 0x1000);
	/* The right address and size, the wrong device; the right device, a wrong size. */
	assert_refused(dmap_unmap_phys(b, m, 0x3000, DMAP_BIDIRECTIONAL, 0), "nic-b", m);
	assert_refused(dmap_unmap_phys(a, m, 0x2000, DMAP_BIDIRECTIONAL, 0), "nic-a", m);
	assert_refused(dmap_unmap_phys(a, m, 0x3001, DMAP_BIDIRECTIONAL, 0), "nic-a", m);
	assert_refused(dmap_unmap_phys(a, m + 0x1000, 0x2000, DMAP_BIDIRECTIONAL, 0), "nic-a",
		       m + 0x1000);
	/* Nor may the explicit API unmap a streaming mapping, whole or in part. */
	cr_assert_lt(dmap_iommu_unmap(dom, m, 0x3000), 0);
	cr_assert_lt(dmap_iommu_unmap(dom, m + 0x1000, 0x1000), 0);
	assert_mapped(a, m, 0x3000, pa);

	/* Its IOVA is still allocated: a new mapping lands elsewhere. */
	n = dmap_map_phys(b, pb, 0x1000, DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(n, DMAP_MAPPING_ERROR);
	cr_assert(n + 0x1000 <= m || n >= m + 0x3000, "new IOVA %llx inside live [%llx, +3000)",
		  (unsigned long long)n, (unsigned long long)m);

	cr_assert_eq(dmap_unmap_phys(a, m, 0x3000, DMAP_BIDIRECTIONAL, 0), 0);
	assert_mapped(b, n, 0x1000, pb);
	/* A second unmap of the same mapping finds nothing. */
	assert_refused(dmap_unmap_phys(a, m, 0x3000, DMAP_BIDIRECTIONAL, 0), "nic-a", m);
	cr_assert_eq(dmap_unmap_phys(b, n, 0x1000, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_dev_destroy(a), 0);
	cr_assert_eq(dmap_dev_destroy(b), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

Test(iommu_regress, unmap_of_no_live_mapping_changes_nothing_arm_strict, .init = setup,
     .fini = teardown)
{
	unmap_misuse(DMAP_PGTABLE_ARM_LPAE_S1, false);
}

Test(iommu_regress, unmap_of_no_live_mapping_changes_nothing_vtd_deferred, .init = setup,
     .fini = teardown)
{
	unmap_misuse(DMAP_PGTABLE_VTD_SL, true);
}

Test(iommu_regress, unmap_sg_must_be_the_list_as_mapped, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(DMAP_PGTABLE_ARM_LPAE_S1, false);
	struct dmap_dev *dev = make_dev("disk", 3, 0, dom);
	struct dmap_sg sg[3], bad[3];
	dmap_addr_t c_handle, m;
	void *cpu;
	int ret;

	for (int i = 0; i < 3; i++) {
		memset(&sg[i], 0, sizeof(sg[i]));
		sg[i].phys = BUF_BASE + 0x10000 * (unsigned int)(i + 1) + 0x100;
		sg[i].len = 0x1800;
	}
	ret = dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0);
	cr_assert_gt(ret, 0, "%d: %s", ret, dmap_hosted_last_message());
	cpu = dmap_alloc_coherent(dev, 0x2000, &c_handle, 0);
	cr_assert_not_null(cpu);
	m = dmap_map_phys(dev, BUF_BASE + 0x100000, 0x1000, DMAP_TO_DEVICE, 0);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);

	/* A list whose first address points into the coherent buffer. */
	memcpy(bad, sg, sizeof(bad));
	bad[0].dma_addr = c_handle;
	cr_assert_lt(dmap_unmap_sg(dev, bad, 1, DMAP_TO_DEVICE, 0), 0);
	/* Shifted by a granule; cut short; an entry not where map_sg put it. */
	memcpy(bad, sg, sizeof(bad));
	for (int i = 0; i < ret; i++)
		bad[i].dma_addr += 0x1000;
	cr_assert_lt(dmap_unmap_sg(dev, bad, 3, DMAP_TO_DEVICE, 0), 0);
	cr_assert_lt(dmap_unmap_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 0);
	/* An sg entry's address through the single unmap. */
	cr_assert_lt(dmap_unmap_phys(dev, sg[0].dma_addr, sg[0].len, DMAP_TO_DEVICE, 0), 0);
	/* A single mapping's address as a one-entry list. */
	memset(bad, 0, sizeof(bad));
	bad[0].phys = BUF_BASE + 0x100000;
	bad[0].len = 0x1000;
	bad[0].dma_addr = m;
	bad[0].dma_len = 0x1000;
	cr_assert_lt(dmap_unmap_sg(dev, bad, 1, DMAP_TO_DEVICE, 0), 0);

	for (int i = 0; i < ret; i++)
		assert_mapped(dev, sg[i].dma_addr, sg[i].dma_len, sg[i].phys);
	assert_mapped(dev, c_handle, 0x2000, dmap_iommu_iova_to_phys(dom, c_handle));
	assert_mapped(dev, m, 0x1000, BUF_BASE + 0x100000);

	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev, m, 0x1000, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_free_coherent(dev, 0x2000, cpu, c_handle, 0), 0);
	cr_assert_eq(dmap_dev_destroy(dev), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

Test(iommu_regress, sync_only_inside_a_live_mapping, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(DMAP_PGTABLE_ARM_LPAE_S1, false);
	struct dmap_dev *a = make_dev("gpu-a", 4, 0, dom);
	struct dmap_dev *b = make_dev("gpu-b", 5, 0, dom);
	struct dmap_sg sg[2];
	dmap_addr_t m;

	m = dmap_map_phys(a, BUF_BASE + 0x5010, 0x2000, DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_sync_single_for_cpu(a, m, 0x2000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_sync_single_for_device(a, m + 0x1000, 0x1000, DMAP_BIDIRECTIONAL), 0);
	/* Past the end, before the start, another device's, nothing there. */
	assert_refused(dmap_sync_single_for_cpu(a, m + 0x1000, 0x1001, DMAP_BIDIRECTIONAL), "gpu-a",
		       m + 0x1000);
	assert_refused(dmap_sync_single_for_cpu(a, m - 1, 2, DMAP_BIDIRECTIONAL), "gpu-a", m - 1);
	assert_refused(dmap_sync_single_for_cpu(b, m, 0x10, DMAP_BIDIRECTIONAL), "gpu-b", m);
	cr_assert_eq(dmap_unmap_phys(a, m, 0x2000, DMAP_BIDIRECTIONAL, 0), 0);
	assert_refused(dmap_sync_single_for_cpu(a, m, 0x10, DMAP_BIDIRECTIONAL), "gpu-a", m);

	/* Entries of a list (inside one IOVA range, not at its start) sync. */
	memset(sg, 0, sizeof(sg));
	sg[0].phys = BUF_BASE + 0x20000;
	sg[0].len = 0x3000;
	sg[1].phys = BUF_BASE + 0x40000;
	sg[1].len = 0x1000;
	cr_assert_gt(dmap_map_sg(a, sg, 2, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(dmap_sync_sg_for_cpu(a, sg, 2, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_sync_sg_for_device(a, sg, 2, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_unmap_sg(a, sg, 2, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(dmap_dev_destroy(a), 0);
	cr_assert_eq(dmap_dev_destroy(b), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/* ---- iommu-sync-phys0-enoent --------------------------------------------- */

Test(iommu_regress, sync_of_physical_page_0, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(DMAP_PGTABLE_VTD_SL, false);
	struct dmap_dev *dev = make_dev("nvme", 6, 0, dom); /* non-coherent: sync does work */
	dmap_phys_t phys = 1;
	dmap_addr_t m;

	m = dmap_map_phys(dev, 0x0, 0x100, DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, m, 0x100, DMAP_BIDIRECTIONAL), 0, "%s",
		     dmap_hosted_last_message());
	cr_assert_eq(dmap_sync_single_for_device(dev, m, 0x100, DMAP_BIDIRECTIONAL), 0);
	/* The lookup tells "mapped to 0" from "not mapped". */
	cr_assert_eq(dmap_iommu_iova_lookup(dom, m, &phys), 0);
	cr_assert_eq(phys, 0);
	cr_assert_eq(dmap_iommu_iova_lookup(dom, m + 0x80, &phys), 0);
	cr_assert_eq(phys, 0x80);
	cr_assert_eq(dmap_iommu_iova_lookup(dom, m + 0x1000, &phys), -DMAP_ENOENT);
	cr_assert_eq(dmap_iommu_iova_lookup(dom, 0, &phys), -DMAP_ENOENT);
	cr_assert_eq(dmap_iommu_iova_lookup(NULL, m, &phys), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_iova_lookup(dom, m, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_unmap_phys(dev, m, 0x100, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_iommu_iova_lookup(dom, m, &phys), -DMAP_ENOENT);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, m, 0x100, DMAP_BIDIRECTIONAL), -DMAP_ENOENT);
	cr_assert_eq(dmap_dev_destroy(dev), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/* ---- iommu-free-coherent-accepts-any-handle ------------------------------ */

Test(iommu_regress, free_coherent_takes_only_a_live_coherent_buffer, .init = setup,
     .fini = teardown)
{
	struct dmap_domain *dom = make_domain(DMAP_PGTABLE_ARM_LPAE_S1, true);
	struct dmap_dev *a = make_dev("dma-a", 7, 0, dom);
	struct dmap_dev *b = make_dev("dma-b", 8, 0, dom);
	struct dmap_hosted_counters before, after;
	char not_ram[64];
	dmap_addr_t m, h;
	void *cpu;

	m = dmap_map_phys(a, BUF_BASE + 0x3000, 0x3b, DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);
	cpu = dmap_alloc_coherent(a, 0x1800, &h, 0);
	cr_assert_not_null(cpu);
	cr_assert_eq(dmap_hosted_get_counters(T.hosted, &before), 0);

	/* The fuzzer's: a handle inside a streaming mapping, a pointer that is not RAM. */
	assert_refused(dmap_free_coherent(a, 0x1b4c, not_ram, m + 0x1b, 0), "dma-a", m + 0x1b);
	assert_refused(dmap_free_coherent(a, 0x3b, cpu, m, 0), "dma-a", m);
	/* The coherent buffer with another pointer, size, device, or inside it. */
	assert_refused(dmap_free_coherent(a, 0x1800, not_ram, h, 0), "dma-a", h);
	assert_refused(dmap_free_coherent(a, 0x3000, cpu, h, 0), "dma-a", h);
	assert_refused(dmap_free_coherent(b, 0x1800, cpu, h, 0), "dma-b", h);
	assert_refused(dmap_free_coherent(a, 0x800, (char *)cpu + 0x1000, h + 0x1000, 0), "dma-a",
		       h + 0x1000);
	/* Nor may a streaming unmap take it. */
	assert_refused(dmap_unmap_phys(a, h, 0x1800, DMAP_BIDIRECTIONAL, 0), "dma-a", h);

	cr_assert_eq(dmap_hosted_get_counters(T.hosted, &after), 0);
	cr_assert_eq(before.pool_bytes_in_use, after.pool_bytes_in_use, "pages changed hands");
	assert_mapped(a, m, 0x3b, BUF_BASE + 0x3000);
	assert_mapped(a, h, 0x1800, dmap_iommu_iova_to_phys(dom, h));

	cr_assert_eq(dmap_free_coherent(a, 0x1800, cpu, h, 0), 0);
	assert_refused(dmap_free_coherent(a, 0x1800, cpu, h, 0), "dma-a", h);
	cr_assert_eq(dmap_unmap_phys(a, m, 0x3b, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_dev_destroy(a), 0);
	cr_assert_eq(dmap_dev_destroy(b), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/* The explicit API unmaps only exactly what it mapped. */
Test(iommu_regress, explicit_unmap_is_exact, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(DMAP_PGTABLE_ARM_LPAE_S1, false);
	dmap_phys_t phys;

	cr_assert_eq(dmap_iommu_map(dom, 0x10000000, BUF_BASE, 0x4000, DMAP_PROT_READ), 0);
	cr_assert_eq(dmap_iommu_unmap(dom, 0x10001000, 0x1000), -DMAP_ENOENT);
	cr_assert_eq(dmap_iommu_unmap(dom, 0x10000000, 0x1000), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_unmap(dom, 0x10000000, 0x8000), -DMAP_EINVAL);
	for (uint64_t off = 0; off < 0x4000; off += 0x1000) {
		cr_assert_eq(dmap_iommu_iova_lookup(dom, 0x10000000 + off, &phys), 0);
		cr_assert_eq(phys, BUF_BASE + off);
	}
	cr_assert_eq(dmap_iommu_unmap(dom, 0x10000000, 0x4000), 0);
	cr_assert_eq(dmap_iommu_unmap(dom, 0x10000000, 0x4000), -DMAP_ENOENT);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/* ---- non-coherent devices: cache maintenance at map and unmap ------------ */

static void setup_non_coherent(void)
{
	void *host;

	dmap_test_env_init(&T, POOL_BASE, POOL_SIZE, true);
	cr_assert_eq(dmap_hosted_mem_add(T.hosted, BUF_BASE, BUF_SIZE, 0, &host), 0);
}

static void cache_counts(uint64_t *cleans, uint64_t *invalidates)
{
	struct dmap_hosted_counters c;

	cr_assert_eq(dmap_hosted_get_counters(T.hosted, &c), 0);
	*cleans = c.cache_cleans;
	*invalidates = c.cache_invalidates;
}

/*
 * As Linux's iommu_dma_map_phys()/unmap_phys(): a non-coherent device's
 * buffer is cleaned at map (TO_DEVICE, BIDIRECTIONAL) and invalidated at
 * unmap (FROM_DEVICE, BIDIRECTIONAL); nothing with SKIP_CPU_SYNC, for a
 * coherent device, or for device memory (MMIO, which has no RAM behind it).
 */
Test(iommu_regress, non_coherent_map_cleans_and_unmap_invalidates, .init = setup_non_coherent,
     .fini = teardown)
{
	struct dmap_domain *dom = make_domain(DMAP_PGTABLE_ARM_LPAE_S1, false);
	struct dmap_dev *nc = make_dev("nc", 10, 0, dom);
	struct dmap_dev *coh = make_dev("coh", 11, DMAP_DEV_COHERENT, dom);
	uint64_t c0, i0, c1, i1;
	struct dmap_sg sg[2];
	dmap_addr_t m;

	cache_counts(&c0, &i0);
	m = dmap_map_phys(nc, BUF_BASE + 0x10, 0x100, DMAP_TO_DEVICE, 0);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);
	cache_counts(&c1, &i1);
	cr_assert_gt(c1, c0, "map TO_DEVICE did not clean");
	cr_assert_eq(dmap_unmap_phys(nc, m, 0x100, DMAP_TO_DEVICE, 0), 0);
	cache_counts(&c0, &i0);
	cr_assert_eq(i0, i1, "unmap TO_DEVICE invalidated");

	m = dmap_map_phys(nc, BUF_BASE + 0x2000, 0x1000, DMAP_FROM_DEVICE, 0);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);
	cache_counts(&c1, &i1);
	cr_assert_eq(dmap_unmap_phys(nc, m, 0x1000, DMAP_FROM_DEVICE, 0), 0);
	cache_counts(&c0, &i0);
	cr_assert_gt(i0, i1, "unmap FROM_DEVICE did not invalidate");

	/* SKIP_CPU_SYNC, a coherent device: nothing. */
	cache_counts(&c1, &i1);
	m = dmap_map_phys(nc, BUF_BASE, 0x1000, DMAP_BIDIRECTIONAL, DMAP_ATTR_SKIP_CPU_SYNC);
	cr_assert_eq(dmap_unmap_phys(nc, m, 0x1000, DMAP_BIDIRECTIONAL, DMAP_ATTR_SKIP_CPU_SYNC),
		     0);
	m = dmap_map_phys(coh, BUF_BASE, 0x1000, DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(dmap_unmap_phys(coh, m, 0x1000, DMAP_BIDIRECTIONAL, 0), 0);
	/* Device memory: no RAM, never maintained, map, sync and unmap succeed. */
	m = dmap_map_phys(nc, 0x7f000000, 0x1000, DMAP_BIDIRECTIONAL, DMAP_ATTR_MMIO);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_sync_single_for_cpu(nc, m, 0x1000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_unmap_phys(nc, m, 0x1000, DMAP_BIDIRECTIONAL, DMAP_ATTR_MMIO), 0);
	cache_counts(&c0, &i0);
	cr_assert_eq(c0, c1);
	cr_assert_eq(i0, i1);

	/* A list: every entry cleaned at map, invalidated at unmap. */
	memset(sg, 0, sizeof(sg));
	sg[0].phys = BUF_BASE + 0x10000;
	sg[0].len = 0x800;
	sg[1].phys = BUF_BASE + 0x30000;
	sg[1].len = 0x800;
	cr_assert_gt(dmap_map_sg(nc, sg, 2, DMAP_BIDIRECTIONAL, 0), 0);
	cache_counts(&c1, &i1);
	cr_assert_geq(c1, c0 + 2);
	cr_assert_eq(dmap_unmap_sg(nc, sg, 2, DMAP_BIDIRECTIONAL, 0), 0);
	cache_counts(&c0, &i0);
	cr_assert_geq(i0, i1 + 2);
	cr_assert_eq(dmap_dev_destroy(nc), 0);
	cr_assert_eq(dmap_dev_destroy(coh), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/*
 * docs/fuzzing.md finding 12: where cache maintenance is due, a range
 * without RAM is refused at map time (it used to map, then every sync and
 * unmap failed with -EFAULT); device memory maps with DMAP_ATTR_MMIO.
 */
Test(iommu_regress, non_coherent_map_of_non_ram_is_refused, .init = setup_non_coherent,
     .fini = teardown)
{
	struct dmap_domain *dom = make_domain(DMAP_PGTABLE_VTD_SL, false);
	struct dmap_dev *nc = make_dev("nc-dma", 12, 0, dom);
	struct dmap_dev *coh = make_dev("coh-dma", 13, DMAP_DEV_COHERENT, dom);
	const dmap_phys_t hole = 0x20000000;
	struct dmap_sg sg[2];
	dmap_addr_t m;

	for (int skip = 0; skip < 2; skip++) {
		m = dmap_map_phys(nc, hole, 0x2000, DMAP_FROM_DEVICE,
				  skip ? DMAP_ATTR_SKIP_CPU_SYNC : 0);
		cr_assert_eq(m, DMAP_MAPPING_ERROR);
		cr_assert(strstr(dmap_hosted_last_message(), "no RAM behind phys 20000000"), "%s",
			  dmap_hosted_last_message());
		cr_assert(strstr(dmap_hosted_last_message(), "nc-dma"));
	}
	/* RAM followed by a hole: refused too. */
	m = dmap_map_phys(nc, BUF_BASE + BUF_SIZE - 0x1000, 0x2000, DMAP_TO_DEVICE, 0);
	cr_assert_eq(m, DMAP_MAPPING_ERROR);
	memset(sg, 0, sizeof(sg));
	sg[0].phys = BUF_BASE;
	sg[0].len = 0x1000;
	sg[1].phys = hole;
	sg[1].len = 0x1000;
	cr_assert_lt(dmap_map_sg(nc, sg, 2, DMAP_BIDIRECTIONAL, 0), 0);

	/* Device memory, and any range for a coherent device: maps, syncs, unmaps. */
	m = dmap_map_phys(nc, hole, 0x2000, DMAP_FROM_DEVICE, DMAP_ATTR_MMIO);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_sync_single_for_cpu(nc, m, 0x2000, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_unmap_phys(nc, m, 0x2000, DMAP_FROM_DEVICE, DMAP_ATTR_MMIO), 0);
	m = dmap_map_phys(coh, hole, 0x2000, DMAP_FROM_DEVICE, 0);
	cr_assert_neq(m, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_sync_single_for_cpu(coh, m, 0x2000, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_unmap_phys(coh, m, 0x2000, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(dmap_dev_destroy(nc), 0);
	cr_assert_eq(dmap_dev_destroy(coh), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/* ---- racing unmaps ------------------------------------------------------- */

#define RACE_ROUNDS 300

struct race {
	struct dmap_dev *dev;
	pthread_barrier_t *start;
	dmap_addr_t *addr; /* the round's mapping, published before the barrier */
	int wins;
	int losses;
};

static void *race_unmapper(void *arg)
{
	struct race *r = arg;

	for (int round = 0; round < RACE_ROUNDS; round++) {
		int ret;

		pthread_barrier_wait(r->start);
		ret = dmap_unmap_phys(r->dev, r->addr[round], 0x2000, DMAP_TO_DEVICE, 0);
		if (ret == 0)
			r->wins++;
		else if (ret == -DMAP_ENOENT)
			r->losses++;
	}
	return NULL;
}

/* Two threads unmap the same mapping at once: exactly one may succeed, every round. */
static void racing_unmaps(bool deferred)
{
	struct dmap_domain *dom = make_domain(DMAP_PGTABLE_ARM_LPAE_S1, deferred);
	struct dmap_dev *dev = make_dev("racer", 9, 0, dom);
	static dmap_addr_t addrs[RACE_ROUNDS];
	pthread_barrier_t start;
	struct race r[2];
	pthread_t th[2];

	for (int round = 0; round < RACE_ROUNDS; round++) {
		addrs[round] = dmap_map_phys(dev, BUF_BASE + 0x1000 * (uint64_t)(round % 64) + 0x10,
					     0x2000, DMAP_TO_DEVICE, 0);
		cr_assert_neq(addrs[round], DMAP_MAPPING_ERROR);
	}
	cr_assert_eq(pthread_barrier_init(&start, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		r[i] = (struct race){ .dev = dev, .start = &start, .addr = addrs };
		cr_assert_eq(pthread_create(&th[i], NULL, race_unmapper, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	cr_assert_eq(r[0].wins + r[1].wins, RACE_ROUNDS, "%d + %d unmaps succeeded", r[0].wins,
		     r[1].wins);
	cr_assert_eq(r[0].losses + r[1].losses, RACE_ROUNDS);
	cr_assert_eq(dmap_iommu_flush_all(dom), 0);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		dmap_phys_t phys;

		cr_assert_eq(dmap_iommu_iova_lookup(dom, addrs[round], &phys), -DMAP_ENOENT);
	}
	/* Every IOVA came back exactly once: as many fit again as before. */
	for (int round = 0; round < RACE_ROUNDS; round++) {
		addrs[round] = dmap_map_phys(dev, BUF_BASE, 0x2000, DMAP_TO_DEVICE, 0);
		cr_assert_neq(addrs[round], DMAP_MAPPING_ERROR);
		for (int k = 0; k < round; k++)
			cr_assert_neq(addrs[k], addrs[round], "IOVA %llx handed out twice",
				      (unsigned long long)addrs[k]);
	}
	for (int round = 0; round < RACE_ROUNDS; round++)
		cr_assert_eq(dmap_unmap_phys(dev, addrs[round], 0x2000, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_dev_destroy(dev), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

Test(iommu_regress, racing_unmaps_of_one_mapping_strict, .init = setup, .fini = teardown)
{
	racing_unmaps(false);
}

Test(iommu_regress, racing_unmaps_of_one_mapping_deferred, .init = setup, .fini = teardown)
{
	racing_unmaps(true);
}

/* ---- a block mapped over an empty table ---------------------------------- */

static uint64_t pool_bytes(void)
{
	struct dmap_hosted_counters c;

	cr_assert_eq(dmap_hosted_get_counters(T.hosted, &c), 0);
	return c.pool_bytes_in_use;
}

/*
 * The table a block replaces is freed only after an RCU grace period (a
 * walker may be inside it): while this thread holds a read section, its
 * page must stay allocated.
 */
static void block_over_empty_table(enum dmap_pgtable_format format)
{
	struct dmap_domain *dom = make_domain(format, false);
	const uint64_t iova = 0x40000000, block = 2ull << 20;
	uint64_t with_table, after_block;
	dmap_phys_t phys;

	cr_assert_eq(dmap_iommu_map(dom, iova, BUF_BASE, 0x1000, DMAP_PROT_READ), 0);
	cr_assert_eq(dmap_iommu_unmap(dom, iova, 0x1000), 0); /* leaves the last-level table */
	T.env->ops->rcu_barrier(T.env->cookie);
	with_table = pool_bytes();

	dmap_rcu_read_lock();
	cr_assert_eq(dmap_iommu_map(dom, iova, BUF_BASE, block, DMAP_PROT_READ), 0, "%s",
		     dmap_hosted_last_message());
	after_block = pool_bytes();
	dmap_rcu_read_unlock();
	cr_assert_eq(after_block, with_table,
		     "table page freed inside a read section (%llu -> %llu)",
		     (unsigned long long)with_table, (unsigned long long)after_block);
	T.env->ops->synchronize_rcu(T.env->cookie);
	T.env->ops->rcu_barrier(T.env->cookie);
	cr_assert_lt(pool_bytes(), with_table, "the replaced table was never freed");

	cr_assert_eq(dmap_iommu_iova_lookup(dom, iova + 0x12345, &phys), 0);
	cr_assert_eq(phys, BUF_BASE + 0x12345);
	cr_assert_eq(dmap_iommu_unmap(dom, iova, block), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

Test(iommu_regress, block_over_empty_table_freed_after_grace_period_arm, .init = setup,
     .fini = teardown)
{
	block_over_empty_table(DMAP_PGTABLE_ARM_LPAE_S1);
}

Test(iommu_regress, block_over_empty_table_freed_after_grace_period_vtd, .init = setup,
     .fini = teardown)
{
	block_over_empty_table(DMAP_PGTABLE_VTD_SL);
}

/* ---- decoders ------------------------------------------------------------ */

Test(iommu_regress, smmu_ste_decode_rejects_stage2_and_nested)
{
	uint64_t w[DMAP_SMMU_STE_DWORDS] = { 0 };
	struct dmap_smmu_ste ste;

	w[0] = 0xd; /* V=1, Config=0b110 (S2 translate): the fuzzer's input */
	cr_assert_eq(dmap_smmu_ste_decode(w, &ste), -DMAP_EINVAL);
	w[0] = 0xf; /* Config=0b111 (nested) */
	cr_assert_eq(dmap_smmu_ste_decode(w, &ste), -DMAP_EINVAL);
	w[0] = 0xb; /* Config=0b101 (S1 translate) still decodes */
	cr_assert_eq(dmap_smmu_ste_decode(w, &ste), 0);
	cr_assert_eq(ste.config, DMAP_SMMU_STE_CFG_S1_TRANS);
}

Test(iommu_regress, smmu_event_ssid_only_with_ssv)
{
	struct dmap_smmu_event ev = { 0 }, out;
	uint64_t w[4], w2[4];

	ev.id = DMAP_SMMU_EVT_F_TRANSLATION;
	ev.sid = 0x42;
	ev.ssv = true;
	ev.ssid = 0x1234;
	ev.class_ = DMAP_SMMU_EVT_CLASS_IN;
	cr_assert_eq(dmap_smmu_event_encode(&ev, w), 0);
	cr_assert_eq(dmap_smmu_event_decode(w, &out), 0);
	cr_assert_eq(out.ssid, 0x1234);
	w[0] &= ~(1ull << 11); /* clear SSV, leave the SSID bits */
	cr_assert_eq(dmap_smmu_event_decode(w, &out), 0);
	cr_assert(!out.ssv);
	cr_assert_eq(out.ssid, 0, "SSID %x reported without SSV", out.ssid);
	cr_assert_eq(dmap_smmu_event_encode(&out, w2), 0);
	cr_assert_eq(dmap_smmu_event_decode(w2, &ev), 0);
	cr_assert_eq(memcmp(&ev, &out, sizeof(ev)), 0, "decode-encode-decode changed fields");
}

Test(iommu_regress, vtd_fault_record_pasid_only_with_pp)
{
	uint64_t w[2] = { 0x1000, (0x5ull << 32) | (0xabcdeull << 40) | (1ull << 63) };
	struct dmap_vtd_fault_record f;

	cr_assert_eq(dmap_vtd_fault_record_decode(w, &f), 0);
	cr_assert(!f.pasid_present);
	cr_assert_eq(f.pasid, 0, "PASID %x reported without PP", f.pasid);
	w[1] |= 1ull << 31; /* PP */
	cr_assert_eq(dmap_vtd_fault_record_decode(w, &f), 0);
	cr_assert_eq(f.pasid, 0xabcde);
}

Test(iommu_regress, vtd_inv_desc_fields_only_where_defined)
{
	struct dmap_vtd_inv_desc d;
	uint64_t w[2];

	/* Wait descriptor without SW: status data and address are undefined. */
	w[0] = DMAP_VTD_QI_WAIT | (0x1234ull << 32);
	w[1] = 0xfee0000cull;
	cr_assert_eq(dmap_vtd_inv_desc_decode(w, &d), 0);
	cr_assert(!d.sw);
	cr_assert_eq(d.status_data, 0);
	cr_assert_eq(d.status_addr, 0);
	w[0] |= 1ull << 5; /* SW */
	cr_assert_eq(dmap_vtd_inv_desc_decode(w, &d), 0);
	cr_assert_eq(d.status_data, 0x1234);
	cr_assert_eq(d.status_addr, 0xfee0000cull);

	/* Domain-selective IOTLB invalidation: AM, IH and ADDR are undefined. */
	w[0] = DMAP_VTD_QI_IOTLB | ((uint64_t)DMAP_VTD_INV_DOMAIN << 4) | (7ull << 16);
	w[1] = 0x12345000ull | (1ull << 6) | 3;
	cr_assert_eq(dmap_vtd_inv_desc_decode(w, &d), 0);
	cr_assert_eq(d.granularity, DMAP_VTD_INV_DOMAIN);
	cr_assert(!d.am && !d.ih && !d.addr, "am %u ih %d addr %llx", d.am, d.ih,
		  (unsigned long long)d.addr);
}

Test(iommu_regress, vtd_iotlb_cmd_iva_only_for_page_granularity)
{
	struct dmap_vtd_iotlb_cmd c;
	uint64_t iotlb = (1ull << 63) | ((uint64_t)DMAP_VTD_INV_DOMAIN << 60);

	cr_assert_eq(dmap_vtd_iotlb_cmd_decode(iotlb, 0x12345000ull | (1ull << 6) | 2, &c), 0);
	cr_assert_eq(c.iirg, DMAP_VTD_INV_DOMAIN);
	cr_assert(!c.am && !c.ih && !c.addr, "am %u ih %d addr %llx", c.am, c.ih,
		  (unsigned long long)c.addr);
}

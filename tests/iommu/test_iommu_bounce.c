// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_iommu_bounce.c - untrusted devices behind an IOMMU: buffers
 * that do not fill whole granules go through a bounce domain first, and the
 * device must never see the bytes that share a granule with the buffer.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <dmap/bounce.h>
#include <dmap/dmap.h>
#include <dmap/hosted.h>
#include <dmap/iommu.h>

#include "test_env.h"

#define POOL_BASE 0x40000000ull
#define POOL_SIZE (32ull << 20)
#define BUF_BASE 0x200000000ull
#define BUF_SIZE (4ull << 20)

static struct dmap_test_env T;
static uint8_t *host;
static struct dmap_domain *bounce, *iommu;
static struct dmap_dev *dev;

static void setup(void)
{
	struct dmap_bounce_config bcfg = { .name = "tb-bounce", .pool_size = 4u << 20 };
	struct dmap_iommu_config icfg = { .name = "tb-iommu" };
	struct dmap_dev_info info = { .name = "thunderbolt",
				      .stream_id = 0x21,
				      .dma_mask = DMAP_BIT_MASK(64),
				      .flags = DMAP_DEV_UNTRUSTED };
	void *h;

	dmap_test_env_init(&T, POOL_BASE, POOL_SIZE, false);
	cr_assert_eq(dmap_hosted_mem_add(T.hosted, BUF_BASE, BUF_SIZE, 0, &h), 0);
	host = h;
	memset(host, 0xee, BUF_SIZE); /* "secrets" everywhere */
	cr_assert_eq(dmap_bounce_domain_create(T.ctx, &bcfg, &bounce), 0, "%s",
		     dmap_hosted_last_message());
	icfg.bounce = bounce;
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &icfg, &iommu), 0, "%s",
		     dmap_hosted_last_message());
	cr_assert_eq(dmap_dev_create(T.ctx, &info, &dev), 0);
	cr_assert_eq(dmap_dev_attach(dev, iommu), 0);
}

static void teardown(void)
{
	cr_assert_eq(dmap_dev_destroy(dev), 0);
	cr_assert_eq(dmap_domain_destroy(bounce), -DMAP_EBUSY, "in use by the iommu domain");
	cr_assert_eq(dmap_domain_destroy(iommu), 0);
	cr_assert_eq(dmap_domain_destroy(bounce), 0);
	dmap_test_env_fini(&T);
}

Test(iommu_bounce, device_sees_only_the_buffer, .init = setup, .fini = teardown)
{
	dmap_phys_t phys = BUF_BASE + 0x1010;
	uint8_t page[4096], b;
	struct dmap_iommu_stats st;
	dmap_addr_t addr;

	memcpy(host + 0x1010, "only this", 10);
	addr = dmap_map_phys(dev, phys, 10, DMAP_TO_DEVICE, 0);
	cr_assert_neq(addr, DMAP_MAPPING_ERROR, "%s", dmap_hosted_last_message());
	cr_assert_eq(addr & 0xfff, 0x010);
	cr_assert_neq(dmap_iommu_iova_to_phys(iommu, addr), phys, "mapped to a bounce slot");
	/* The whole granule is readable; all of it but the buffer is zero. */
	cr_assert_eq(dmap_dev_read(dev, addr - 0x10, page, sizeof(page)), 0);
	for (size_t i = 0; i < sizeof(page); i++) {
		if (i >= 0x10 && i < 0x10 + 10)
			cr_assert_eq(page[i], (uint8_t) "only this"[i - 0x10]);
		else
			cr_assert_eq(page[i], 0, "byte %zx of the granule leaks %02x", i, page[i]);
	}
	cr_assert_eq(dmap_dev_read(dev, addr - 0x10 + 4096, &b, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 10, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_dev_read(dev, addr, &b, 1), -DMAP_EFAULT);
	dmap_iommu_get_stats(iommu, &st);
	cr_assert_eq(st.bounced_maps, 1);
	/* Whole granules are not bounced. */
	addr = dmap_map_phys(dev, BUF_BASE + 0x3000, 0x2000, DMAP_TO_DEVICE, 0);
	cr_assert_eq(dmap_iommu_iova_to_phys(iommu, addr), BUF_BASE + 0x3000);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 0x2000, DMAP_TO_DEVICE, 0), 0);
	dmap_iommu_get_stats(iommu, &st);
	cr_assert_eq(st.bounced_maps, 1);
}

Test(iommu_bounce, device_writes_reach_only_the_buffer, .init = setup, .fini = teardown)
{
	uint8_t fill[8192];
	dmap_addr_t addr;

	/* 5000 bytes at offset 0x800: spans two granules with padding both ends. */
	addr = dmap_map_phys(dev, BUF_BASE + 0x10800, 5000, DMAP_FROM_DEVICE, 0);
	cr_assert_neq(addr, DMAP_MAPPING_ERROR, "%s", dmap_hosted_last_message());
	memset(fill, 0x77, sizeof(fill));
	/* The device scribbles over both granules, padding included. */
	cr_assert_eq(dmap_dev_write(dev, addr - 0x800, fill, 8192), 0);
	cr_assert_eq(host[0x10800], 0xee, "nothing reaches the buffer before unmap");
	cr_assert_eq(dmap_unmap_phys(dev, addr, 5000, DMAP_FROM_DEVICE, 0), 0);
	for (size_t i = 0x10000; i < 0x12000; i++) {
		bool inside = i >= 0x10800 && i < 0x10800 + 5000;

		cr_assert_eq(host[i], inside ? 0x77 : 0xee, "byte %zx", i);
	}
}

Test(iommu_bounce, sync_both_ways, .init = setup, .fini = teardown)
{
	uint8_t v = 0x5a, back = 0;
	dmap_addr_t addr = dmap_map_phys(dev, BUF_BASE + 0x20100, 64, DMAP_BIDIRECTIONAL, 0);

	cr_assert_neq(addr, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_dev_write(dev, addr + 3, &v, 1), 0);
	cr_assert_eq(host[0x20103], 0xee);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, addr, 64, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(host[0x20103], 0x5a);
	host[0x20104] = 0x33;
	cr_assert_eq(dmap_sync_single_for_device(dev, addr, 64, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_dev_read(dev, addr + 4, &back, 1), 0);
	cr_assert_eq(back, 0x33);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 64, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(host[0x20100 + 64], 0xee, "neighbour untouched");
}

Test(iommu_bounce, sg_and_limits, .init = setup, .fini = teardown)
{
	struct dmap_sg sg[2] = { { .phys = BUF_BASE + 0x30010, .len = 100 },
				 { .phys = BUF_BASE + 0x40000, .len = 4096 } };
	uint8_t b[100];
	size_t max = dmap_max_mapping_size(dev);

	cr_assert_eq(max, (1u << 20) - 4095, "the bounce domain's limit, less a granule");
	cr_assert_geq(dmap_map_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 1);
	cr_assert_eq(dmap_dev_read(dev, sg[0].dma_addr, b, 100), 0);
	cr_assert_eq(memcmp(b, host + 0x30010, 100), 0);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 0);
	/* Too big for the bounce pool: a clean error. */
	cr_assert_eq(dmap_map_phys(dev, BUF_BASE + 1, 2u << 20, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
}

Test(iommu_bounce, untrusted_devices_are_never_deferred, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .name = "lazy", .deferred = true, .bounce = bounce };
	struct dmap_domain *lazy;
	struct dmap_dev *tb, *nic;
	struct dmap_dev_info info = { .name = "tb2",
				      .stream_id = 0x22,
				      .dma_mask = DMAP_BIT_MASK(64),
				      .flags = DMAP_DEV_UNTRUSTED };
	uint8_t b[8];
	dmap_addr_t a1, a2;

	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &cfg, &lazy), 0);
	cr_assert_eq(dmap_dev_create(T.ctx, &info, &tb), 0);
	cr_assert_eq(dmap_dev_attach(tb, lazy), 0);
	info.name = "nic";
	info.flags = 0;
	cr_assert_eq(dmap_dev_create(T.ctx, &info, &nic), 0);
	cr_assert_eq(dmap_dev_attach(nic, lazy), 0);
	a1 = dmap_map_phys(tb, BUF_BASE + 0x50000, 4096, DMAP_TO_DEVICE, 0);
	a2 = dmap_map_phys(tb, BUF_BASE + 0x60010, 16, DMAP_TO_DEVICE, 0); /* bounced */
	cr_assert_eq(dmap_dev_read(tb, a1, b, 8), 0);
	cr_assert_eq(dmap_dev_read(tb, a2, b, 8), 0);
	cr_assert_eq(dmap_unmap_phys(tb, a1, 4096, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_unmap_phys(tb, a2, 16, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_dev_read(tb, a1, b, 8), -DMAP_EFAULT, "no stale window for untrusted");
	cr_assert_eq(dmap_dev_read(tb, a2, b, 8), -DMAP_EFAULT, "nor for its bounce slot");
	/* A trusted device on the same domain keeps the lazy behaviour. */
	a1 = dmap_map_phys(nic, BUF_BASE + 0x50000, 4096, DMAP_TO_DEVICE, 0);
	cr_assert_eq(dmap_dev_read(nic, a1, b, 8), 0);
	cr_assert_eq(dmap_unmap_phys(nic, a1, 4096, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_dev_read(nic, a1, b, 8), 0, "stale until the flush");
	cr_assert_eq(dmap_dev_destroy(tb), 0);
	cr_assert_eq(dmap_dev_destroy(nic), 0);
	cr_assert_eq(dmap_domain_destroy(lazy), 0);
}

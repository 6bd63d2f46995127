// SPDX-License-Identifier: MIT
/*
 * tests/xen/test_xen_iommu.c - IOVA == pfn mode stacked on the iommu backend:
 * the iommu domain's page tables hold pfn -> mfn (mirrored from the P2M), a
 * buffer that straddles scattered machine frames maps to its guest physical
 * address with nothing bounced, and the device's accesses walk those tables
 * to the right machine frames. Built only with the iommu backend.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <dmap/xen.h>
#include <dmap/iommu.h>
#include <dmap/hosted_xen.h>
#include "test_env.h"

static struct dmap_test_env t;
static struct dmap_hosted_xen *guest;
static struct dmap_xen_p2m *p2m;
static struct dmap_domain *iommu, *xdom;
static struct dmap_dev *dev;

static const struct dmap_xen_iommu_ops iommu_ops = {
	.map = dmap_iommu_map,
	.unmap = dmap_iommu_unmap,
	.prot_read = DMAP_PROT_READ,
	.prot_write = DMAP_PROT_WRITE,
};

static void setup(void)
{
	struct dmap_iommu_config icfg = { .name = "smmu", .format = DMAP_PGTABLE_ARM_LPAE_S1 };
	struct dmap_xen_config xcfg = { .name = "pvh", .iova_is_pfn = true };
	int ret;

	dmap_test_env_init(&t, 0, 0, false);
	cr_assert_eq(dmap_hosted_xen_create(t.hosted, NULL, &guest), 0);
	p2m = dmap_hosted_xen_p2m(guest);
	ret = dmap_iommu_domain_create(t.ctx, &icfg, &iommu);
	cr_assert_eq(ret, 0, "iommu: %d (%s)", ret, dmap_hosted_last_message());
	xcfg.p2m = p2m;
	xcfg.iommu = iommu;
	xcfg.iommu_ops = &iommu_ops;
	ret = dmap_xen_domain_create(t.ctx, &xcfg, &xdom);
	cr_assert_eq(ret, 0, "xen: %d (%s)", ret, dmap_hosted_last_message());
	cr_assert_eq(dmap_domain_set_counting(xdom, true), 0);
	/* IOVA 0 is never mapped by the iommu backend: mirror pfns 1.. */
	ret = dmap_xen_iommu_populate(xdom, 1, 4095);
	cr_assert_eq(ret, 0, "populate: %d (%s)", ret, dmap_hosted_last_message());
	dev = dmap_test_dev(&t, "vdev", DMAP_BIT_MASK(64));
	cr_assert_eq(dmap_dev_attach(dev, xdom), 0);
}

static void teardown(void)
{
	dmap_dev_destroy(dev);
	cr_assert_eq(dmap_domain_destroy(iommu), -DMAP_EBUSY, "the xen domain holds it");
	cr_assert_eq(dmap_domain_destroy(xdom), 0);
	cr_assert_eq(dmap_domain_destroy(iommu), 0);
	dmap_hosted_xen_destroy(guest);
	dmap_test_env_fini(&t);
}

TestSuite(xen_iommu, .init = setup, .fini = teardown, .timeout = 60);

static bool ram(uint64_t pfn)
{
	enum dmap_xen_frame_kind kind;

	return dmap_xen_p2m_lookup(p2m, pfn, NULL, &kind) == 0 && kind == DMAP_XEN_FRAME_VALID;
}

Test(xen_iommu, tables_hold_pfn_to_mfn)
{
	for (uint64_t pfn = 1; pfn < 4096; pfn += 37) {
		uint64_t raw = dmap_xen_p2m_get_raw(p2m, pfn);

		if (ram(pfn))
			cr_assert_eq(dmap_iommu_iova_to_phys(iommu, (pfn << 12) + 5),
				     (raw << 12) + 5, "pfn 0x%lx", (unsigned long)pfn);
		else
			cr_assert_eq(dmap_iommu_iova_to_phys(iommu, pfn << 12), 0);
	}
}

Test(xen_iommu, straddling_buffer_maps_directly_through_the_iommu)
{
	uint64_t p = 0x300;
	uint8_t data[600], seen[600];
	dmap_addr_t bus;
	struct dmap_xen_stats s;

	while (!(ram(p) && ram(p + 1) &&
		 dmap_xen_pfn_to_mfn(p2m, p + 1) != dmap_xen_pfn_to_mfn(p2m, p) + 1))
		p++;
	dmap_phys_t buf = (p << 12) + 4096 - 300;

	for (int i = 0; i < 600; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	bus = dmap_map_phys(dev, buf, 600, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(bus, buf, "IOVA == guest physical address");
	/* The device's write walks the SMMU tables to two scattered machine frames. */
	cr_assert_eq(dmap_dev_write(dev, bus, data, 600), 0);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 600, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(memcmp(dmap_hosted_xen_guest_ptr(guest, buf, 600), data, 600), 0);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, dmap_xen_pfn_to_mfn(p2m, p + 1) << 12,
						  seen, 300),
		     0);
	cr_assert_eq(memcmp(seen, data + 300, 300), 0);
	cr_assert_eq(dmap_xen_get_stats(xdom, &s), 0);
	cr_assert_eq(s.pfn_maps, 1);
	cr_assert_eq(s.bounced_maps + s.straddles, 0, "nothing bounces");
}

Test(xen_iommu, unmirrored_frames_fault_in_the_iommu)
{
	uint64_t miss = 4096 - 256; /* the default layout's ballooned-out range */
	struct dmap_fault fault;
	uint8_t b[8];

	cr_assert_not(ram(miss));
	cr_assert_eq(dmap_map_phys(dev, miss << 12, 8, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "is missing", NULL));
	/* A device that guesses the address anyway faults in the SMMU, with a raw event. */
	cr_assert_eq(dmap_dev_read(dev, miss << 12, b, 8), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(xdom, &fault), 1);
	cr_assert_eq(fault.reason, DMAP_FAULT_TRANSLATION);
	cr_assert_eq(fault.raw_format, DMAP_FAULT_RAW_SMMUV3_EVENT);
	cr_assert_eq(fault.addr, miss << 12);
	/* Populating again over mapped frames is refused by the iommu, not silently redone. */
	cr_assert_neq(dmap_xen_iommu_populate(xdom, 0x300, 4), 0);
}

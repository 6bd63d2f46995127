// SPDX-License-Identifier: MIT
/*
 * tests/iommu/test_iommu_domain.c - the iommu backend as a driver and a device
 * see it: map/unmap/translate with both table formats, strict and deferred
 * invalidation (the stale-IOTLB window and its end), faults decoded and raw,
 * map_sg contiguity, coherent buffers, reserved ranges, exhaustion, bad input
 * and the page-table dump.
 *
 * RAM layout: a pool region (page tables, coherent buffers) and a separate
 * plain region for the buffers the tests map, so a test buffer can never
 * share a page with a table.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/debug.h>
#include <dmap/dmap.h>
#include <dmap/hosted.h>
#include <dmap/identity.h>
#include <dmap/iommu.h>
#include <dmap/iommu_hw.h>

#include "test_env.h"

#define POOL_BASE 0x40000000ull
#define POOL_SIZE (32ull << 20)
#define BUF_BASE 0x200000000ull /* 8 GiB: 2 MiB aligned */
#define BUF_SIZE (8ull << 20)

static struct dmap_test_env T;
static uint8_t *buf_host;

static void setup(void)
{
	void *host;

	dmap_test_env_init(&T, POOL_BASE, POOL_SIZE, false);
	cr_assert_eq(dmap_hosted_mem_add(T.hosted, BUF_BASE, BUF_SIZE, 0, &host), 0);
	buf_host = host;
	/* A pattern that differs from page to page (one page built, then copied). */
	for (size_t i = 0; i < 4096; i++)
		buf_host[i] = (uint8_t)(i * 7);
	for (size_t p = 1; p < BUF_SIZE / 4096; p++) {
		memcpy(buf_host + p * 4096, buf_host, 4096);
		buf_host[p * 4096] = (uint8_t)p;
	}
}

static void teardown(void)
{
	dmap_test_env_fini(&T);
}

static uint8_t *buf(dmap_phys_t phys)
{
	cr_assert(phys >= BUF_BASE && phys < BUF_BASE + BUF_SIZE);
	return buf_host + (phys - BUF_BASE);
}

static struct dmap_domain *make_domain(const struct dmap_iommu_config *cfg)
{
	struct dmap_domain *dom = NULL;
	int ret = dmap_iommu_domain_create(T.ctx, cfg, &dom);

	cr_assert_eq(ret, 0, "dmap_iommu_domain_create: %d (%s)", ret, dmap_hosted_last_message());
	cr_assert(dmap_is_iommu_domain(dom));
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
	if (dom)
		cr_assert_eq(dmap_dev_attach(dev, dom), 0, "attach: %s",
			     dmap_hosted_last_message());
	return dev;
}

static void destroy(struct dmap_dev *dev, struct dmap_domain *dom)
{
	cr_assert_eq(dmap_dev_destroy(dev), 0);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/* ---- basic map / translate / unmap with each format and granule ---------- */

static void basic_roundtrip(const struct dmap_iommu_config *cfg)
{
	struct dmap_domain *dom = make_domain(cfg);
	struct dmap_dev *dev = make_dev("nic", 0x42, 0, dom);
	size_t granule = cfg->granule ? cfg->granule : 4096;
	dmap_phys_t phys = BUF_BASE + 3 * granule + 0x123;
	size_t size = 2 * granule + 0x345;
	struct dmap_translation t;
	uint8_t data[64], back[64];
	dmap_addr_t addr;

	addr = dmap_map_phys(dev, phys, size, DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(addr, DMAP_MAPPING_ERROR, "%s", dmap_hosted_last_message());
	cr_assert_eq(addr & (granule - 1), 0x123, "offset in the granule is kept");
	cr_assert_neq(addr & ~(uint64_t)(granule - 1), 0, "IOVA 0 is never handed out");
	/* Every byte of the buffer translates to the right physical address. */
	for (size_t off = 0; off < size; off += 0x1f1) {
		cr_assert_eq(dmap_translate(dev, addr + off, DMAP_ACCESS_READ, &t), 0);
		cr_assert_eq(t.phys, phys + off);
		cr_assert_eq(t.perm, DMAP_ACCESS_READ | DMAP_ACCESS_WRITE);
		cr_assert_eq(dmap_iommu_iova_to_phys(dom, addr + off), phys + off);
	}
	/* The device reads and writes the buffer through the tables. */
	cr_assert_eq(dmap_dev_read(dev, addr + size - 64, back, 64), 0);
	cr_assert_eq(memcmp(back, buf(phys + size - 64), 64), 0);
	memset(data, 0xa5, sizeof(data));
	cr_assert_eq(dmap_dev_write(dev, addr + granule - 32, data, 64), 0, "across a granule");
	cr_assert_eq(memcmp(buf(phys + granule - 32), data, 64), 0);
	cr_assert_eq(dmap_unmap_phys(dev, addr, size, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_translate(dev, addr, DMAP_ACCESS_READ, &t), -DMAP_EFAULT,
		     "strict: unmapped means unreachable at once");
	cr_assert_eq(dmap_iommu_iova_to_phys(dom, addr), 0);
	destroy(dev, dom);
}

Test(iommu, arm_4k_roundtrip, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_ARM_LPAE_S1 };

	basic_roundtrip(&cfg);
}

Test(iommu, arm_16k_ias36_roundtrip, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = {
		.format = DMAP_PGTABLE_ARM_LPAE_S1, .granule = 16384, .ias = 36, .oas = 40
	};

	basic_roundtrip(&cfg);
}

Test(iommu, arm_64k_roundtrip, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_ARM_LPAE_S1, .granule = 65536 };

	basic_roundtrip(&cfg);
}

Test(iommu, vtd_3_4_5_levels_roundtrip, .init = setup, .fini = teardown)
{
	for (unsigned int levels = 3; levels <= 5; levels++) {
		struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_VTD_SL, .levels = levels };

		basic_roundtrip(&cfg);
	}
}

/* ---- page sizes ---------------------------------------------------------- */

static void block_mapping(enum dmap_pgtable_format format)
{
	struct dmap_iommu_config cfg = { .format = format };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("gpu", 7, 0, dom);
	struct dmap_translation t;
	dmap_addr_t addr, addr2;

	/* 2 MiB at a 2 MiB-aligned physical address: one block descriptor. */
	addr = dmap_map_phys(dev, BUF_BASE + (2u << 20), 2u << 20, DMAP_TO_DEVICE, 0);
	cr_assert_neq(addr, DMAP_MAPPING_ERROR);
	cr_assert_eq(addr & ((2u << 20) - 1), 0, "size-aligned IOVA");
	cr_assert_eq(dmap_translate(dev, addr + 0x1234, DMAP_ACCESS_READ, &t), 0);
	cr_assert_eq(t.phys, BUF_BASE + (2u << 20) + 0x1234);
	cr_assert_eq(t.len, (2u << 20) - 0x1234, "the leaf is a 2 MiB block");
	cr_assert_eq(t.perm, DMAP_ACCESS_READ);
	/* 2 MiB at a 4 KiB-aligned address: 4 KiB pages only. */
	addr2 = dmap_map_phys(dev, BUF_BASE + 0x1000, 2u << 20, DMAP_TO_DEVICE, 0);
	cr_assert_neq(addr2, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_translate(dev, addr2 + 0x10, DMAP_ACCESS_READ, &t), 0);
	cr_assert_eq(t.len, 0x1000 - 0x10);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 2u << 20, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev, addr2, 2u << 20, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_translate(dev, addr + 0x1234, DMAP_ACCESS_READ, &t), -DMAP_EFAULT);
	destroy(dev, dom);
}

Test(iommu, block_mappings_arm, .init = setup, .fini = teardown)
{
	block_mapping(DMAP_PGTABLE_ARM_LPAE_S1);
}

Test(iommu, block_mappings_vtd, .init = setup, .fini = teardown)
{
	block_mapping(DMAP_PGTABLE_VTD_SL);
}

/* ---- the stale-IOTLB window ---------------------------------------------- */

static void decode_smmu(const struct dmap_fault *f, struct dmap_smmu_event *ev)
{
	uint64_t w[4];

	cr_assert_eq(f->raw_format, DMAP_FAULT_RAW_SMMUV3_EVENT);
	cr_assert_eq(f->raw_len, 32);
	for (int i = 0; i < 4; i++)
		w[i] = dmap_hw_get_le64(&f->raw[8 * i]);
	cr_assert_eq(dmap_smmu_event_decode(w, ev), 0);
}

static void decode_vtd(const struct dmap_fault *f, struct dmap_vtd_fault_record *fr)
{
	uint64_t w[2];

	cr_assert_eq(f->raw_format, DMAP_FAULT_RAW_VTD_FAULT);
	cr_assert_eq(f->raw_len, 16);
	w[0] = dmap_hw_get_le64(&f->raw[0]);
	w[1] = dmap_hw_get_le64(&f->raw[8]);
	cr_assert_eq(dmap_vtd_fault_record_decode(w, fr), 0);
}

Test(iommu, deferred_unmap_keeps_old_page_reachable_until_flush, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .deferred = true, .fq_timeout_ns = 60000000000ull };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("ssd", 0x1234, 0, dom);
	dmap_phys_t phys = BUF_BASE + 0x5000;
	uint8_t back[16];
	struct dmap_fault f;
	struct dmap_smmu_event ev;
	struct dmap_iommu_stats st;
	dmap_addr_t addr, again;

	addr = dmap_map_phys(dev, phys, 4096, DMAP_FROM_DEVICE, 0);
	cr_assert_neq(addr, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_dev_write(dev, addr, "hello, iotlb!", 14), 0); /* fills the IOTLB */
	cr_assert_eq(dmap_unmap_phys(dev, addr, 4096, DMAP_FROM_DEVICE, 0), 0);
	/* Tables are clear, but the IOTLB still holds the translation: */
	cr_assert_eq(dmap_iommu_iova_to_phys(dom, addr), 0);
	cr_assert_eq(dmap_dev_read(dev, addr, back, 14), 0, "stale IOTLB entry still hits");
	cr_assert_str_eq((char *)back, "hello, iotlb!");
	cr_assert_eq(dmap_dev_write(dev, addr + 1, "J", 1), 0);
	cr_assert_eq(buf(phys)[1], 'J', "the device really reached the old page");
	/* ... and the IOVA is not handed out again before the flush. */
	for (int i = 0; i < 8; i++) {
		again = dmap_map_phys(dev, phys + 0x1000, 4096, DMAP_TO_DEVICE, 0);
		cr_assert_neq(again, DMAP_MAPPING_ERROR);
		cr_assert_neq(again, addr, "queued IOVA reused before its flush");
		cr_assert_eq(dmap_unmap_phys(dev, again, 4096, DMAP_TO_DEVICE, 0), 0);
	}
	dmap_iommu_get_stats(dom, &st);
	cr_assert_eq(st.fq_queued, 9);
	cr_assert_geq(st.iotlb_hits, 2);

	cr_assert_eq(dmap_iommu_flush_all(dom), 0);
	while (dmap_fault_pop(dom, &f) == 1)
		;
	cr_assert_eq(dmap_dev_read(dev, addr + 8, back, 4), -DMAP_EFAULT, "gone after the flush");
	cr_assert_eq(dmap_fault_pop(dom, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_TRANSLATION);
	cr_assert_eq(f.addr, addr + 8);
	cr_assert_str_eq(f.device, "ssd");
	decode_smmu(&f, &ev);
	cr_assert_eq(ev.id, DMAP_SMMU_EVT_F_TRANSLATION);
	cr_assert_eq(ev.sid, 0x1234);
	cr_assert_eq(ev.input_addr, addr + 8);
	cr_assert(ev.rnw, "a read");
	cr_assert_not(ev.pnu);
	/* After the flush the IOVA may come back. */
	dmap_iommu_get_stats(dom, &st);
	cr_assert_geq(st.fq_flushes, 1);
	destroy(dev, dom);
}

Test(iommu, strict_unmap_faults_at_once, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { 0 };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("ssd", 0x77, 0, dom);
	struct dmap_fault f;
	struct dmap_smmu_event ev;
	uint8_t b[8];
	dmap_addr_t addr;

	addr = dmap_map_phys(dev, BUF_BASE, 8192, DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(dmap_dev_read(dev, addr, b, 8), 0);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 8192, DMAP_BIDIRECTIONAL, 0), 0);
	cr_assert_eq(dmap_dev_write(dev, addr + 4096, b, 8), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(dom, &f), 1);
	decode_smmu(&f, &ev);
	cr_assert_eq(ev.id, DMAP_SMMU_EVT_F_TRANSLATION);
	cr_assert_eq(ev.sid, 0x77);
	cr_assert_eq(ev.input_addr, addr + 4096);
	cr_assert_not(ev.rnw, "a write");
	destroy(dev, dom);
}

Test(iommu, missing_range_flush_is_visible_and_flush_range_fixes_it, .init = setup,
     .fini = teardown)
{
	/* dmap_iommu_map/unmap are strict; a remap behind the IOTLB's back is not. */
	struct dmap_iommu_config cfg = { .deferred = true, .fq_timeout_ns = 60000000000ull };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("dma", 3, 0, dom);
	struct dmap_translation t;
	dmap_addr_t addr = dmap_map_phys(dev, BUF_BASE + 0x10000, 4096, DMAP_TO_DEVICE, 0);

	cr_assert_eq(dmap_translate(dev, addr, DMAP_ACCESS_READ, &t), 0);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 4096, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_translate(dev, addr, DMAP_ACCESS_READ, &t), 0, "stale");
	cr_assert_eq(dmap_iommu_flush_range(dom, addr, 4096), 0);
	cr_assert_eq(dmap_translate(dev, addr, DMAP_ACCESS_READ, &t), -DMAP_EFAULT, "fixed");
	cr_assert_eq(dmap_iommu_flush_range(dom, 0, 4096), -DMAP_ERANGE, "IOVA 0 not in aperture");
	cr_assert_eq(dmap_iommu_flush_range(dom, addr, 0), -DMAP_EINVAL);
	destroy(dev, dom);
}

Test(iommu, flush_queue_bounds, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .deferred = true,
					 .fq_size = 4,
					 .fq_timeout_ns = 60000000000ull };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("nvme", 9, 0, dom);
	struct dmap_iommu_stats st;

	for (int i = 0; i < 9; i++) {
		dmap_addr_t a = dmap_map_phys(dev, BUF_BASE + i * 4096, 4096, DMAP_TO_DEVICE, 0);

		cr_assert_neq(a, DMAP_MAPPING_ERROR);
		cr_assert_eq(dmap_unmap_phys(dev, a, 4096, DMAP_TO_DEVICE, 0), 0);
	}
	dmap_iommu_get_stats(dom, &st);
	cr_assert_eq(st.fq_full_flushes, 2, "a 4-entry ring flushes on the 5th and 9th unmap");
	cr_assert_eq(dmap_iommu_poll(dom), 0, "nothing timed out");
	destroy(dev, dom);

	/* A 1 ns timeout: the next poll flushes. */
	cfg.fq_timeout_ns = 1;
	cfg.fq_size = 0;
	dom = make_domain(&cfg);
	dev = make_dev("nvme", 9, 0, dom);
	{
		dmap_addr_t a = dmap_map_phys(dev, BUF_BASE, 4096, DMAP_TO_DEVICE, 0);
		struct dmap_translation t;

		cr_assert_eq(dmap_translate(dev, a, DMAP_ACCESS_READ, &t), 0);
		cr_assert_eq(dmap_unmap_phys(dev, a, 4096, DMAP_TO_DEVICE, 0), 0);
		cr_assert_eq(dmap_iommu_poll(dom), 1);
		cr_assert_eq(dmap_translate(dev, a, DMAP_ACCESS_READ, &t), -DMAP_EFAULT);
		cr_assert_eq(dmap_iommu_poll(dom), 0);
	}
	dmap_iommu_get_stats(dom, &st);
	cr_assert_eq(st.fq_timeout_flushes, 1);
	destroy(dev, dom);
}

/* ---- faults -------------------------------------------------------------- */

Test(iommu, permission_fault_arm, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(NULL);
	struct dmap_dev *dev = make_dev("ro", 0x500, 0, dom);
	struct dmap_fault f;
	struct dmap_smmu_event ev;
	dmap_addr_t addr = dmap_map_phys(dev, BUF_BASE, 4096, DMAP_TO_DEVICE, 0);
	uint8_t b[4] = { 1, 2, 3, 4 };

	cr_assert_eq(dmap_dev_read(dev, addr, b, 4), 0);
	cr_assert_eq(dmap_dev_write(dev, addr + 16, b, 4), -DMAP_EFAULT, "read-only mapping");
	cr_assert_eq(dmap_fault_pop(dom, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_PERMISSION);
	cr_assert_eq(f.stream_id, 0x500);
	decode_smmu(&f, &ev);
	cr_assert_eq(ev.id, DMAP_SMMU_EVT_F_PERMISSION);
	cr_assert_eq(ev.input_addr, addr + 16);
	cr_assert_not(ev.rnw);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 4096, DMAP_TO_DEVICE, 0), 0);
	destroy(dev, dom);
}

Test(iommu, vtd_fault_records, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_VTD_SL, .levels = 3 };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("0000:03:00.0", 0x0300, 0, dom);
	struct dmap_vtd_fault_record fr;
	struct dmap_fault f;
	uint8_t b[4] = { 0 };
	dmap_addr_t addr = dmap_map_phys(dev, BUF_BASE, 4096, DMAP_FROM_DEVICE, 0);

	/* Unmapped write: reason 0x5, type write. */
	cr_assert_eq(dmap_dev_write(dev, addr - 0x3000 + 0x44, b, 4), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(dom, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_TRANSLATION, "reason %d addr %llx", f.reason,
		     (unsigned long long)f.addr);
	decode_vtd(&f, &fr);
	cr_assert_eq(fr.reason, DMAP_VTD_FR_WRITE);
	cr_assert_eq(fr.sid, 0x0300);
	cr_assert_eq(fr.fault_info, (addr - 0x3000) & ~0xfffull);
	cr_assert_eq(fr.type, 0, "write");
	cr_assert(fr.fault);
	/* Read of a write-only page: reason 0x6, type read. */
	cr_assert_eq(dmap_dev_read(dev, addr, b, 4), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(dom, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_PERMISSION);
	decode_vtd(&f, &fr);
	cr_assert_eq(fr.reason, DMAP_VTD_FR_READ);
	cr_assert_eq(fr.type, 1);
	/* Beyond the 39-bit address width: reason 0x4. */
	cr_assert_eq(dmap_dev_read(dev, 1ull << 40, b, 4), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(dom, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_ADDR_SIZE);
	decode_vtd(&f, &fr);
	cr_assert_eq(fr.reason, DMAP_VTD_FR_BEYOND_MGAW);
	cr_assert_eq(dmap_unmap_phys(dev, addr, 4096, DMAP_FROM_DEVICE, 0), 0);
	destroy(dev, dom);
}

Test(iommu, vtd_requester_id_must_fit, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_VTD_SL };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("big", 0x10000, 0, NULL);

	cr_assert_eq(dmap_dev_attach(dev, dom), -DMAP_ENODEV);
	cr_assert(dmap_test_log_has(&T, "requester id", "10000", NULL));
	destroy(dev, dom);
}

/* ---- scatter-gather ------------------------------------------------------- */

Test(iommu, map_sg_is_one_contiguous_iova_range, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(NULL);
	struct dmap_dev *dev = make_dev("blk", 1, 0, dom);
	struct dmap_sg sg[3] = {
		{ .phys = BUF_BASE + 0x8200, .len = 0xe00 }, /* ends on a granule boundary */
		{ .phys = BUF_BASE + 0x20000, .len = 0x2000 },
		{ .phys = BUF_BASE + 0x5000, .len = 0x123 },
	};
	size_t total = 0xe00 + 0x2000 + 0x123;
	uint8_t *got = malloc(total);
	int n;

	n = dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0);
	cr_assert_eq(n, 1, "three entries, one bus segment (got %d)", n);
	cr_assert_eq(sg[0].dma_addr & 0xfff, 0x200);
	cr_assert_eq(sg[0].dma_len, total);
	cr_assert_eq(dmap_dev_read(dev, sg[0].dma_addr, got, total), 0);
	cr_assert_eq(memcmp(got, buf(sg[0].phys), 0xe00), 0);
	cr_assert_eq(memcmp(got + 0xe00, buf(sg[1].phys), 0x2000), 0);
	cr_assert_eq(memcmp(got + 0x2e00, buf(sg[2].phys), 0x123), 0);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_dev_read(dev, sg[0].dma_addr, got, 1), -DMAP_EFAULT);

	/* A segment with an unaligned end leaves a gap: two bus segments. */
	sg[0].len = 0x100;
	n = dmap_map_sg(dev, sg, 3, DMAP_TO_DEVICE, 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 3, DMAP_TO_DEVICE, 0), 0);
	free(got);
	destroy(dev, dom);
}

/* ---- coherent, masks, reserved, exhaustion -------------------------------- */

Test(iommu, coherent_buffer, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(NULL);
	struct dmap_dev *dev = make_dev("ring", 2, DMAP_DEV_COHERENT, dom);
	dmap_addr_t handle;
	uint32_t v = 0xfeedf00d;
	uint32_t *cpu = dmap_alloc_coherent(dev, 10000, &handle, 0);

	cr_assert_not_null(cpu, "%s", dmap_hosted_last_message());
	cr_assert_neq(handle, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_dev_write(dev, handle + 8192, &v, 4), 0);
	cr_assert_eq(cpu[2048], 0xfeedf00d);
	cr_assert_eq(dmap_max_mapping_size(dev), SIZE_MAX);
	cr_assert_eq(dmap_free_coherent(dev, 10000, cpu, handle, 0), 0);
	destroy(dev, dom);
}

Test(iommu, iova_respects_mask_and_reserved_ranges, .init = setup, .fini = teardown)
{
	static const struct dmap_iommu_range resv[] = { { 0xfd000000, 0xfd0fffff } };
	struct dmap_iommu_config cfg = { .format = DMAP_PGTABLE_VTD_SL,
					 .aperture = { 0xfc000000, 0xffffffff },
					 .reserved = resv,
					 .nr_reserved = 1,
					 .no_iova_cache = true };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("msi", 4, 0, dom);
	int count = 0;

	/* Map every page the aperture has; none may land in a reserved window. */
	for (;;) {
		dmap_addr_t a =
			dmap_map_phys(dev, BUF_BASE, 4096, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN);

		if (a == DMAP_MAPPING_ERROR)
			break;
		cr_assert(a >= 0xfc000000 && a <= 0xffffffff);
		cr_assert(a < 0xfee00000 || a > 0xfeefffff, "%llx in the interrupt window",
			  (unsigned long long)a);
		cr_assert(a < 0xfd000000 || a > 0xfd0fffff, "%llx in the reserved range",
			  (unsigned long long)a);
		count++;
	}
	cr_assert_eq(count, (0x4000000 - 0x100000 - 0x100000) / 4096);
	destroy(dev, dom);
}

Test(iommu, exhaustion_is_a_clean_error_then_recovers, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .name = "tiny", .aperture = { 0x10000, 0x1ffff } };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("eth0", 5, 0, dom);
	dmap_addr_t a[16], extra;

	for (int i = 0; i < 16; i++) {
		a[i] = dmap_map_phys(dev, BUF_BASE + i * 4096, 4096, DMAP_TO_DEVICE, 0);
		cr_assert_neq(a[i], DMAP_MAPPING_ERROR);
	}
	extra = dmap_map_phys(dev, BUF_BASE, 100, DMAP_TO_DEVICE, 0);
	cr_assert_eq(extra, DMAP_MAPPING_ERROR);
	cr_assert(
		dmap_test_log_has(&T, "tiny", "eth0", "exhausted", "100", "10000", "1ffff", NULL));
	cr_assert_eq(dmap_unmap_phys(dev, a[3], 4096, DMAP_TO_DEVICE, 0), 0);
	extra = dmap_map_phys(dev, BUF_BASE, 100, DMAP_TO_DEVICE, 0);
	cr_assert_eq(extra, a[3]);
	/* A device mask below the aperture: no room at all. */
	cr_assert_eq(dmap_set_mask(dev, DMAP_BIT_MASK(16)), 0);
	cr_assert_eq(dmap_map_phys(dev, BUF_BASE, 64, DMAP_TO_DEVICE, DMAP_ATTR_NO_WARN),
		     DMAP_MAPPING_ERROR);
	destroy(dev, dom);
}

Test(iommu, deferred_exhaustion_drains_the_queue, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .deferred = true,
					 .fq_timeout_ns = 60000000000ull,
					 .aperture = { 0x10000, 0x1ffff } };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("eth1", 5, 0, dom);

	for (int i = 0; i < 100; i++) {
		dmap_addr_t a = dmap_map_phys(dev, BUF_BASE, 16384, DMAP_TO_DEVICE, 0);

		cr_assert_neq(a, DMAP_MAPPING_ERROR, "iteration %d", i);
		cr_assert_eq(dmap_unmap_phys(dev, a, 16384, DMAP_TO_DEVICE, 0), 0);
	}
	destroy(dev, dom);
}

/* ---- bad input ------------------------------------------------------------- */

Test(iommu, bad_config, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom;
	struct dmap_iommu_config c;

	c = (struct dmap_iommu_config){ .granule = 8192 };
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &c, &dom), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&T, "granule", NULL));
	c = (struct dmap_iommu_config){ .ias = 50 };
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &c, &dom), -DMAP_EINVAL);
	c = (struct dmap_iommu_config){ .format = DMAP_PGTABLE_VTD_SL, .levels = 6 };
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &c, &dom), -DMAP_EINVAL);
	c = (struct dmap_iommu_config){ .format = 9 };
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &c, &dom), -DMAP_EINVAL);
	c = (struct dmap_iommu_config){ .deferred = true, .fq_size = 100 };
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &c, &dom), -DMAP_EINVAL);
	c = (struct dmap_iommu_config){ .ias = 32, .aperture = { 0x1000, 1ull << 33 } };
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &c, &dom), -DMAP_EINVAL);
	c = (struct dmap_iommu_config){ .nr_reserved = 1 };
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, &c, &dom), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_domain_create(NULL, NULL, &dom), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_domain_create(T.ctx, NULL, NULL), -DMAP_EINVAL);
}

Test(iommu, bad_input_explicit_api, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .ias = 40, .oas = 40 };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_domain *ident;
	struct dmap_dev *dev = make_dev("vfio", 6, 0, dom);
	struct dmap_identity_config icfg = { 0 };
	struct dmap_translation t;
	struct dmap_iommu_stats st;

	cr_assert_eq(
		dmap_iommu_map(dom, 0x100000, BUF_BASE, 0x4000, DMAP_PROT_READ | DMAP_PROT_WRITE),
		0);
	cr_assert_eq(dmap_translate(dev, 0x100000 + 0x3001, DMAP_ACCESS_WRITE, &t), 0);
	cr_assert_eq(t.phys, BUF_BASE + 0x3001);
	/* Streaming maps never land on the explicit range. */
	for (int i = 0; i < 64; i++) {
		dmap_addr_t a = dmap_map_phys(dev, BUF_BASE, 4096, DMAP_TO_DEVICE, 0);

		cr_assert(a < 0x100000 || a >= 0x104000);
	}
	cr_assert_eq(dmap_iommu_map(dom, 0x102000, BUF_BASE, 0x1000, DMAP_PROT_READ), -DMAP_EBUSY);
	cr_assert_eq(dmap_iommu_map(dom, 1ull << 40, BUF_BASE, 0x1000, DMAP_PROT_READ),
		     -DMAP_ERANGE, "IOVA beyond the aperture");
	cr_assert_eq(dmap_iommu_map(dom, 0, BUF_BASE, 0x1000, DMAP_PROT_READ), -DMAP_ERANGE);
	cr_assert_eq(dmap_iommu_map(dom, 0x200000, 1ull << 41, 0x1000, DMAP_PROT_READ),
		     -DMAP_ERANGE, "phys beyond oas");
	cr_assert_eq(dmap_iommu_map(dom, 0x200123, BUF_BASE, 0x1000, DMAP_PROT_READ), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_map(dom, 0x200000, BUF_BASE, 0x1000, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_map(dom, 0x200000, BUF_BASE, 0, DMAP_PROT_READ), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_unmap(dom, 0x300000, 0x1000), -DMAP_ENOENT);
	cr_assert_eq(dmap_iommu_unmap(dom, 0x100000, 0x4000), 0);
	cr_assert_eq(dmap_translate(dev, 0x100000, DMAP_ACCESS_READ, &t), -DMAP_EFAULT);
	cr_assert_eq(dmap_iommu_map(dom, 0x100000, BUF_BASE, 0x4000, DMAP_PROT_READ), 0,
		     "the range is free again");
	cr_assert_eq(dmap_iommu_unmap(dom, 0x100000, 0x4000), 0);
	/* Streaming map of phys beyond the 40-bit output size fails cleanly. */
	cr_assert_eq(dmap_map_phys(dev, 1ull << 41, 4096, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&T, "vfio", "20000000000", NULL));
	cr_assert_eq(dmap_unmap_phys(dev, 0x7000000, 4096, DMAP_TO_DEVICE, 0), -DMAP_ENOENT);
	cr_assert_eq(dmap_unmap_phys(dev, 1ull << 45, 4096, DMAP_TO_DEVICE, 0), -DMAP_ENOENT);
	/* Not an iommu domain. */
	cr_assert_eq(dmap_identity_domain_create(T.ctx, &icfg, &ident), 0);
	cr_assert_not(dmap_is_iommu_domain(ident));
	cr_assert_eq(dmap_iommu_flush_all(ident), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_map(ident, 0x1000, 0, 0x1000, DMAP_PROT_READ), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_get_stats(ident, &st), -DMAP_EINVAL);
	cr_assert_eq(dmap_iommu_iova_to_phys(NULL, 0x1000), 0);
	cr_assert_eq(dmap_domain_destroy(ident), 0);
	destroy(dev, dom);
}

/* ---- statistics and the dump ------------------------------------------------ */

Test(iommu, iotlb_statistics, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(NULL);
	struct dmap_dev *dev = make_dev("stat", 8, 0, dom);
	struct dmap_translation t;
	struct dmap_iommu_stats st;
	dmap_addr_t a = dmap_map_phys(dev, BUF_BASE, 8192, DMAP_TO_DEVICE, 0);

	for (int i = 0; i < 10; i++)
		cr_assert_eq(dmap_translate(dev, a + i * 100, DMAP_ACCESS_READ, &t), 0);
	cr_assert_eq(dmap_translate(dev, a + 4096, DMAP_ACCESS_READ, &t), 0);
	dmap_iommu_get_stats(dom, &st);
	cr_assert_eq(st.iotlb_misses, 2);
	cr_assert_eq(st.iotlb_hits, 9);
	cr_assert_eq(st.iotlb_fills, 2);
	cr_assert_eq(st.iotlb_entries, 2);
	cr_assert_eq(dmap_unmap_phys(dev, a, 8192, DMAP_TO_DEVICE, 0), 0);
	dmap_iommu_get_stats(dom, &st);
	cr_assert_eq(st.iotlb_entries, 0);
	cr_assert_geq(st.iotlb_invalidations, 1);
	cr_assert_eq(st.iova_cache_misses + st.iova_cache_hits, 1);
	destroy(dev, dom);
}

static void dump_check(enum dmap_pgtable_format format)
{
	struct dmap_iommu_config cfg = { .format = format };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("dump", 8, 0, dom);
	struct dmap_iommu_dump *dump = NULL;
	dmap_addr_t a = dmap_map_phys(dev, BUF_BASE + 0x7000, 4096, DMAP_BIDIRECTIONAL, 0);
	bool found = false;

	cr_assert_eq(dmap_iommu_dump_tables(dom, &dump), 0);
	cr_assert_eq(dump->format, format);
	cr_assert_eq(dump->granule, 4096);
	cr_assert_geq(dump->nr_pages, 4, "a 4-level walk to one page needs 4 tables");
	cr_assert_eq(dump->pages[0].phys, dump->root, "root first");
	if (format == DMAP_PGTABLE_ARM_LPAE_S1) {
		cr_assert_neq(dump->arm_mair, 0);
		cr_assert_eq(dump->arm_tcr & 0x3f, 64 - 48, "T0SZ");
	} else {
		cr_assert_eq(dump->levels, 4);
	}
	/* Some leaf descriptor holds the buffer's physical page. */
	for (size_t p = 0; p < dump->nr_pages; p++)
		for (size_t i = 0; i + 8 <= dump->pages[p].size; i += 8) {
			uint64_t pte = dmap_hw_get_le64(dump->pages[p].bytes + i);

			if ((pte & 0x000ffffffffff000ull) == BUF_BASE + 0x7000 && (pte & 3))
				found = true;
		}
	cr_assert(found, "leaf for phys %llx not in the dump", BUF_BASE + 0x7000);
	dmap_iommu_dump_free(dom, dump);
	cr_assert_eq(dmap_iommu_dump_tables(dom, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_unmap_phys(dev, a, 4096, DMAP_BIDIRECTIONAL, 0), 0);
	destroy(dev, dom);
}

Test(iommu, dump_arm, .init = setup, .fini = teardown)
{
	dump_check(DMAP_PGTABLE_ARM_LPAE_S1);
}

Test(iommu, dump_vtd, .init = setup, .fini = teardown)
{
	dump_check(DMAP_PGTABLE_VTD_SL);
}

/* ---- untrusted devices without a bounce domain -------------------------------- */

Test(iommu, untrusted_without_bounce_refuses_unaligned, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(NULL);
	struct dmap_dev *dev = make_dev("thunderbolt", 10, DMAP_DEV_UNTRUSTED, dom);
	dmap_addr_t a;

	cr_assert_eq(dmap_map_phys(dev, BUF_BASE + 0x10, 64, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&T, "thunderbolt", "unaligned", NULL));
	a = dmap_map_phys(dev, BUF_BASE + 0x3000, 0x2000, DMAP_TO_DEVICE, 0);
	cr_assert_neq(a, DMAP_MAPPING_ERROR, "whole granules map directly");
	cr_assert_eq(dmap_unmap_phys(dev, a, 0x2000, DMAP_TO_DEVICE, 0), 0);
	destroy(dev, dom);
}

/* ---- under the DMA-API debug layer ---------------------------------------------- */

Test(iommu, debug_layer_sees_correct_use_as_clean, .init = setup, .fini = teardown)
{
	struct dmap_domain *dom = make_domain(NULL);
	struct dmap_dev *dev;
	struct dmap_debug_counts counts;
	struct dmap_sg sg[2] = { { .phys = BUF_BASE + 0x100, .len = 0xf00 },
				 { .phys = BUF_BASE + 0x9000, .len = 0x800 } };
	dmap_addr_t a;

	cr_assert_eq(dmap_domain_set_debug(dom, true), 0);
	dev = make_dev("dbg", 1, 0, dom);
	a = dmap_map_phys(dev, BUF_BASE + 0x10, 100, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(dmap_mapping_error(dev, a), 0);
	cr_assert_eq(dmap_sync_single_for_cpu(dev, a, 100, DMAP_FROM_DEVICE), 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, 100, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(dmap_map_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 1);
	cr_assert_eq(dmap_unmap_sg(dev, sg, 2, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_debug_get_counts(dom, &counts), 0);
	for (int i = 0; i < DMAP_DEBUG_REPORT_COUNT; i++)
		cr_assert_eq(counts.reports[i], 0, "report %s",
			     dmap_debug_report_name((enum dmap_debug_report)i));
	cr_assert_eq(counts.live_mappings, 0);
	/* A double unmap is reported by the layer and refused by the backend. */
	a = dmap_map_phys(dev, BUF_BASE, 4096, DMAP_TO_DEVICE, 0);
	cr_assert_eq(dmap_mapping_error(dev, a), 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, 4096, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, 4096, DMAP_TO_DEVICE, 0), -DMAP_ENOENT);
	cr_assert_eq(dmap_debug_get_counts(dom, &counts), 0);
	cr_assert_eq(counts.reports[DMAP_DEBUG_DOUBLE_UNMAP], 1);
	destroy(dev, dom);
}

/* ---- IOTLB capacity, table-page reclaim, non-coherent walkers --------------------- */

Test(iommu, iotlb_is_bounded_fifo, .init = setup, .fini = teardown)
{
	struct dmap_iommu_config cfg = { .iotlb_entries = 4 };
	struct dmap_domain *dom = make_domain(&cfg);
	struct dmap_dev *dev = make_dev("fifo", 1, 0, dom);
	struct dmap_translation t;
	struct dmap_iommu_stats st;
	dmap_addr_t a = dmap_map_phys(dev, BUF_BASE, 8 * 4096, DMAP_TO_DEVICE, 0);

	for (int i = 0; i < 6; i++)
		cr_assert_eq(dmap_translate(dev, a + i * 4096, DMAP_ACCESS_READ, &t), 0);
	dmap_iommu_get_stats(dom, &st);
	cr_assert_eq(st.iotlb_entries, 4);
	cr_assert_eq(st.iotlb_misses, 6);
	/* Pages 0 and 1 were evicted first; 2..5 still hit. */
	cr_assert_eq(dmap_translate(dev, a + 5 * 4096, DMAP_ACCESS_READ, &t), 0);
	cr_assert_eq(dmap_translate(dev, a + 2 * 4096, DMAP_ACCESS_READ, &t), 0);
	dmap_iommu_get_stats(dom, &st);
	cr_assert_eq(st.iotlb_hits, 2);
	cr_assert_eq(dmap_translate(dev, a, DMAP_ACCESS_READ, &t), 0);
	dmap_iommu_get_stats(dom, &st);
	cr_assert_eq(st.iotlb_misses, 7);
	cr_assert_eq(dmap_unmap_phys(dev, a, 8 * 4096, DMAP_TO_DEVICE, 0), 0);
	destroy(dev, dom);
}

static void table_reclaim(bool deferred)
{
	struct dmap_iommu_config cfg = { .deferred = deferred, .fq_timeout_ns = 60000000000ull };
	struct dmap_hosted_counters before, after;
	struct dmap_domain *dom;
	struct dmap_dev *dev;
	struct dmap_iommu_stats st;
	struct dmap_translation t;
	dmap_addr_t a;

	cr_assert_eq(dmap_hosted_get_counters(T.hosted, &before), 0);
	dom = make_domain(&cfg);
	dev = make_dev("big", 1, 0, dom);
	/* 2 MiB of 4 KiB pages fills exactly one last-level table. */
	a = dmap_map_phys(dev, BUF_BASE + 0x1000, 2u << 20, DMAP_TO_DEVICE, 0);
	cr_assert_neq(a, DMAP_MAPPING_ERROR);
	cr_assert_eq(a & ((2u << 20) - 1), 0);
	cr_assert_eq(dmap_translate(dev, a + 0x10000, DMAP_ACCESS_READ, &t), 0);
	cr_assert_eq(dmap_unmap_phys(dev, a, 2u << 20, DMAP_TO_DEVICE, 0), 0);
	dmap_iommu_get_stats(dom, &st);
	if (deferred) {
		cr_assert_eq(st.table_pages_freed, 0, "pages wait for the flush");
		cr_assert_eq(dmap_iommu_flush_all(dom), 0);
		dmap_iommu_get_stats(dom, &st);
	}
	cr_assert_geq(st.table_pages_freed, 1, "the emptied last-level table is reclaimed");
	cr_assert_eq(dmap_translate(dev, a + 0x10000, DMAP_ACCESS_READ, &t), -DMAP_EFAULT);
	destroy(dev, dom);
	cr_assert_eq(dmap_hosted_get_counters(T.hosted, &after), 0);
	cr_assert_eq(after.pool_bytes_in_use, before.pool_bytes_in_use,
		     "no table page leaked: %llu vs %llu",
		     (unsigned long long)after.pool_bytes_in_use,
		     (unsigned long long)before.pool_bytes_in_use);
}

Test(iommu, table_pages_reclaimed_strict, .init = setup, .fini = teardown)
{
	table_reclaim(false);
}

Test(iommu, table_pages_reclaimed_after_flush_deferred, .init = setup, .fini = teardown)
{
	table_reclaim(true);
}

Test(iommu, non_coherent_walker)
{
	struct dmap_iommu_config cfg = { .non_coherent_walk = true };
	struct dmap_hosted_counters c;

	dmap_test_env_init(&T, POOL_BASE, POOL_SIZE, true);
	cr_assert_eq(dmap_hosted_mem_add(T.hosted, BUF_BASE, BUF_SIZE, 0, (void **)&buf_host), 0);
	basic_roundtrip(&cfg);
	cr_assert_eq(dmap_hosted_get_counters(T.hosted, &c), 0);
	cr_assert_gt(c.cache_cleans, 0, "table writes were cleaned for the walker");
	dmap_test_env_fini(&T);
}

// SPDX-License-Identifier: MIT
/*
 * tests/xen/test_xen.c - the Xen domain on a simulated PV guest: the seed
 * scenario (a buffer straddling two guest frames whose machine frames are not
 * adjacent), direct vs bounced mappings, masks, missing/identity/foreign
 * frames, 64 KiB guest pages, scatter-gather, coherent memory, the exchange
 * hook's failures, IOVA == pfn mode and a concurrent stress.
 *
 * "The device" here is what real hardware is: something that reads and
 * writes MACHINE memory at the bus address it was given
 * (dmap_hosted_xen_machine_read/_write), never through dmap. The CPU reads
 * and writes the guest's pseudo-physical view. Data reaches the other side
 * only if dmap's translation was right.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/xen.h>
#include <dmap/bounce.h>
#include <dmap/identity.h>
#include <dmap/hosted_xen.h>
#include "test_env.h"

#define PAGE 4096ull
#define INV DMAP_XEN_INVALID_FRAME

static struct dmap_test_env t;
static struct dmap_hosted_xen *guest;
static struct dmap_xen_p2m *p2m;
static struct dmap_domain *xdom;
static struct dmap_dev *dev64;

static struct dmap_domain *make_xen(const struct dmap_xen_config *extra)
{
	struct dmap_xen_config cfg = { 0 };
	struct dmap_domain *dom;
	int ret;

	if (extra)
		cfg = *extra;
	cfg.p2m = p2m;
	if (!cfg.iova_is_pfn) {
		cfg.exchange = dmap_hosted_xen_exchange_ops();
		cfg.exchange_cookie = guest;
	}
	if (!cfg.pool_size)
		cfg.pool_size = 1 << 20;
	ret = dmap_xen_domain_create(t.ctx, &cfg, &dom);
	cr_assert_eq(ret, 0, "dmap_xen_domain_create: %d (%s)", ret, dmap_hosted_last_message());
	/* direct_maps and pfn_maps are per-mapping counters: opt-in, as the core's. */
	cr_assert_eq(dmap_domain_set_counting(dom, true), 0);
	return dom;
}

static void setup(void)
{
	/* Non-coherent: devices not flagged coherent get cache maintenance, which exercises
	 * the pseudo-physical lookups on unmap and sync. */
	dmap_test_env_init(&t, 0, 0, true);
	cr_assert_eq(dmap_hosted_xen_create(t.hosted, NULL, &guest), 0);
	p2m = dmap_hosted_xen_p2m(guest);
	xdom = make_xen(NULL);
	dev64 = dmap_test_dev(&t, "nic", DMAP_BIT_MASK(64));
	cr_assert_eq(dmap_dev_attach(dev64, xdom), 0);
}

static void teardown(void)
{
	dmap_dev_destroy(dev64);
	cr_assert_eq(dmap_domain_destroy(xdom), 0);
	dmap_hosted_xen_destroy(guest);
	dmap_test_env_fini(&t);
}

TestSuite(xen, .init = setup, .fini = teardown, .timeout = 60);

static uint64_t mfn_of(uint64_t pfn)
{
	return dmap_xen_pfn_to_mfn(p2m, pfn);
}

static bool plain_ram(uint64_t pfn)
{
	enum dmap_xen_frame_kind kind;

	return dmap_xen_p2m_lookup(p2m, pfn, NULL, &kind) == 0 && kind == DMAP_XEN_FRAME_VALID;
}

/* A guest frame p > @from whose successor is RAM too but not machine-adjacent, and mfn(p) != p. */
static uint64_t find_straddle(uint64_t from)
{
	for (uint64_t p = from; p < 4096 - 1; p++)
		if (plain_ram(p) && plain_ram(p + 1) && mfn_of(p + 1) != mfn_of(p) + 1 &&
		    mfn_of(p) != p && mfn_of(p) < DMAP_HOSTED_XEN_HIGH_MFN &&
		    mfn_of(p + 1) < DMAP_HOSTED_XEN_HIGH_MFN)
			return p;
	cr_assert_fail("no straddling pair");
	return 0;
}

/* Make guest frames [p, p+n) machine-contiguous, in the low bank or above 4 GiB. */
static uint64_t make_contiguous(uint64_t p, uint64_t n, bool high)
{
	uint64_t mfn = dmap_hosted_xen_find_free(guest, n, high ? DMAP_HOSTED_XEN_HIGH_MFN : 1,
						 high ? UINT64_MAX : DMAP_HOSTED_XEN_HIGH_MFN);

	cr_assert_neq(mfn, INV);
	cr_assert_eq(dmap_hosted_xen_remap(guest, p, n, mfn), 0);
	for (uint64_t i = 0; i < n; i++)
		cr_assert_eq(mfn_of(p + i), mfn + i);
	return mfn;
}

static void fill(void *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)p)[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static void *cpu(dmap_phys_t gphys, size_t len)
{
	void *p = dmap_hosted_xen_guest_ptr(guest, gphys, len);

	cr_assert_not_null(p);
	return p;
}

static struct dmap_xen_stats xstats(struct dmap_domain *dom)
{
	struct dmap_xen_stats s;

	cr_assert_eq(dmap_xen_get_stats(dom, &s), 0);
	return s;
}

/* ---- the seed scenario --------------------------------------------------- */

Test(xen, naive_dma_hits_the_wrong_frame_and_dmap_does_not)
{
	uint64_t p = find_straddle(0x200);
	dmap_phys_t buf = (p << 12) + PAGE - 100; /* 200 bytes across the frame boundary */
	uint8_t old[200], dev_data[200], seen[200], victim_before[200];
	struct dmap_domain *naive;
	struct dmap_dev *naive_dev;
	dmap_addr_t bus;

	/* The guest's view and the machine disagree: pfn p+1 does not follow pfn p. */
	cr_assert_neq(mfn_of(p + 1), mfn_of(p) + 1);
	fill(cpu(buf, 200), 200, 1);
	memcpy(old, cpu(buf, 200), 200);
	fill(dev_data, 200, 2);

	/* Naive: bus address = "physical" address, as an identity domain would hand out. */
	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &naive), 0);
	naive_dev = dmap_test_dev(&t, "naive-nic", DMAP_BIT_MASK(64));
	cr_assert_eq(dmap_dev_attach(naive_dev, naive), 0);
	bus = dmap_map_phys(naive_dev, buf, 200, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(bus, buf);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, victim_before, 200), 0);
	cr_assert_eq(dmap_hosted_xen_machine_write(guest, bus, dev_data, 200), 0);
	cr_assert_eq(dmap_unmap_phys(naive_dev, bus, 200, DMAP_FROM_DEVICE, 0), 0);
	/* The guest never sees the data ... */
	cr_assert_eq(memcmp(cpu(buf, 200), old, 200), 0, "naive DMA reached the guest buffer?");
	/* ... because it landed in machine frames p and p+1, which back other memory. */
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, seen, 200), 0);
	cr_assert_eq(memcmp(seen, dev_data, 200), 0);
	cr_assert_neq(memcmp(victim_before, dev_data, 200), 0);
	cr_assert_neq(mfn_of(p), p, "the frame written is not the guest's frame p");
	/* Put the victim frame back so the rest of the guest is intact. */
	cr_assert_eq(dmap_hosted_xen_machine_write(guest, bus, victim_before, 200), 0);
	dmap_dev_destroy(naive_dev);
	cr_assert_eq(dmap_domain_destroy(naive), 0);

	/* Through dmap: the straddle is detected, the buffer bounces, the data arrives. */
	bus = dmap_map_phys(dev64, buf, 200, DMAP_FROM_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_hosted_xen_machine_write(guest, bus, dev_data, 200), 0);
	cr_assert_eq(dmap_unmap_phys(dev64, bus, 200, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(memcmp(cpu(buf, 200), dev_data, 200), 0);
	/* Exactly in the guest buffer's machine frames, not next to them. */
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, (mfn_of(p) << 12) + PAGE - 100, seen, 100),
		     0);
	cr_assert_eq(memcmp(seen, dev_data, 100), 0);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, mfn_of(p + 1) << 12, seen, 100), 0);
	cr_assert_eq(memcmp(seen, dev_data + 100, 100), 0);

	struct dmap_xen_stats s = xstats(xdom);

	cr_assert_eq(s.straddles, 1);
	cr_assert_eq(s.bounced_maps, 1);
	cr_assert_eq(s.direct_maps, 0);
	cr_assert_eq(s.pool_used, 0);
}

Test(xen, straddling_to_device_and_device_side_access)
{
	uint64_t p = find_straddle(0x300);
	dmap_phys_t buf = (p << 12) + PAGE - 1000;
	uint8_t data[3000], seen[3000];
	dmap_addr_t bus;

	fill(cpu(buf, 3000), 3000, 5);
	memcpy(data, cpu(buf, 3000), 3000);
	bus = dmap_map_phys(dev64, buf, 3000, DMAP_BIDIRECTIONAL, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	/* The machine range the device reads holds the buffer in order. */
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, seen, 3000), 0);
	cr_assert_eq(memcmp(seen, data, 3000), 0);
	/* Device-side access through dmap's own translation lands in the same slot. */
	cr_assert_eq(dmap_dev_read(dev64, bus, seen, 3000), 0);
	cr_assert_eq(memcmp(seen, data, 3000), 0);
	fill(data, 3000, 6);
	cr_assert_eq(dmap_dev_write(dev64, bus, data, 3000), 0);
	cr_assert_eq(dmap_sync_single_for_cpu(dev64, bus, 3000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(memcmp(cpu(buf, 3000), data, 3000), 0);
	/* And back towards the device after the CPU changed it. */
	fill(cpu(buf, 3000), 3000, 7);
	cr_assert_eq(dmap_sync_single_for_device(dev64, bus, 3000, DMAP_BIDIRECTIONAL), 0);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, seen, 3000), 0);
	cr_assert_eq(memcmp(seen, cpu(buf, 3000), 3000), 0);
	cr_assert_eq(dmap_unmap_phys(dev64, bus, 3000, DMAP_BIDIRECTIONAL, 0), 0);
	/* A bounced slot is gone after unmap: the device faults there now. */
	cr_assert_eq(dmap_dev_read(dev64, bus, seen, 16), -DMAP_EFAULT);
}

Test(xen, contiguous_buffer_goes_direct)
{
	uint64_t p = find_straddle(0x400);
	uint64_t mfn = make_contiguous(p, 2, false);
	dmap_phys_t buf = (p << 12) + 123;
	uint8_t data[6000];
	dmap_addr_t bus;

	fill(data, sizeof(data), 9);
	bus = dmap_map_phys(dev64, buf, sizeof(data), DMAP_FROM_DEVICE, 0);
	cr_assert_eq(bus, (mfn << 12) + 123);
	/* Direct: the device's write is visible to the CPU even before unmap. */
	cr_assert_eq(dmap_hosted_xen_machine_write(guest, bus, data, sizeof(data)), 0);
	cr_assert_eq(memcmp(cpu(buf, sizeof(data)), data, sizeof(data)), 0);
	cr_assert_eq(dmap_unmap_phys(dev64, bus, sizeof(data), DMAP_FROM_DEVICE, 0), 0);
	/* A buffer inside one frame never straddles. */
	cr_assert_eq(dmap_map_phys(dev64, (p << 12) + 5, 100, DMAP_TO_DEVICE, 0), (mfn << 12) + 5);
	cr_assert_eq(dmap_unmap_phys(dev64, (mfn << 12) + 5, 100, DMAP_TO_DEVICE, 0), 0);
	/* dmap_map_single() with the guest's CPU pointer: virt_to_phys gives pseudo-physical. */
	bus = dmap_map_single(dev64, cpu(buf, 100), 100, DMAP_TO_DEVICE, 0);
	cr_assert_eq(bus, (mfn << 12) + 123);
	cr_assert_eq(dmap_unmap_single(dev64, bus, 100, DMAP_TO_DEVICE, 0), 0);

	struct dmap_xen_stats s = xstats(xdom);

	cr_assert_eq(s.direct_maps, 3);
	cr_assert_eq(s.bounced_maps, 0);
	cr_assert_eq(s.straddles, 0);
}

Test(xen, map_single_of_a_straddling_buffer_bounces)
{
	uint64_t p = find_straddle(0x480);
	void *va = cpu((p << 12) + 2048, 4096);
	uint8_t seen[4096];
	dmap_addr_t bus;

	fill(va, 4096, 3);
	bus = dmap_map_single(dev64, va, 4096, DMAP_TO_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, seen, 4096), 0);
	cr_assert_eq(memcmp(seen, va, 4096), 0);
	cr_assert_eq(dmap_unmap_single(dev64, bus, 4096, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(xstats(xdom).bounced_maps, 1);
}

Test(xen, masks_decide_on_machine_addresses)
{
	uint64_t p = find_straddle(0x500);
	uint64_t high = make_contiguous(p, 2, true);
	uint64_t lowp = find_straddle(0x600);
	uint64_t low = make_contiguous(lowp, 2, false);
	struct dmap_dev *dev32 = dmap_test_dev(&t, "dev32", DMAP_BIT_MASK(32));
	uint8_t data[5000], seen[5000];
	dmap_addr_t bus;

	cr_assert_eq(dmap_dev_attach(dev32, xdom), 0);
	cr_assert_geq(high << 12, 1ull << 32);
	/* Pseudo-physically both buffers are low; only the machine address counts. */
	cr_assert_lt((p << 12) + 8192, 1ull << 32);

	/* Machine-contiguous above 4 GiB: a 64-bit device goes direct ... */
	bus = dmap_map_phys(dev64, (p << 12) + 10, 5000, DMAP_TO_DEVICE, 0);
	cr_assert_eq(bus, (high << 12) + 10);
	cr_assert_eq(dmap_unmap_phys(dev64, bus, 5000, DMAP_TO_DEVICE, 0), 0);
	/* ... a 32-bit device bounces, below its mask. */
	fill(cpu((p << 12) + 10, 5000), 5000, 4);
	bus = dmap_map_phys(dev32, (p << 12) + 10, 5000, DMAP_TO_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_lt(bus + 5000 - 1, 1ull << 32);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, seen, 5000), 0);
	cr_assert_eq(memcmp(seen, cpu((p << 12) + 10, 5000), 5000), 0);
	cr_assert_eq(dmap_unmap_phys(dev32, bus, 5000, DMAP_TO_DEVICE, 0), 0);
	/* Machine-contiguous below 4 GiB: the 32-bit device goes direct. */
	bus = dmap_map_phys(dev32, lowp << 12, 8192, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(bus, low << 12);
	fill(data, 5000, 8);
	cr_assert_eq(dmap_hosted_xen_machine_write(guest, bus, data, 5000), 0);
	cr_assert_eq(dmap_unmap_phys(dev32, bus, 8192, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(memcmp(cpu(lowp << 12, 5000), data, 5000), 0);

	struct dmap_xen_stats s = xstats(xdom);

	cr_assert_eq(s.direct_maps, 2);
	cr_assert_eq(s.mask_bounces, 1);
	cr_assert_eq(s.bounced_maps, 1);
	cr_assert_eq(s.straddles, 0);
	/* The pool lies below 4 GiB, so a 32-bit mask is supported; a 20-bit one is not. */
	cr_assert_eq(dmap_set_mask(dev32, DMAP_BIT_MASK(20)), -DMAP_EIO);
	dmap_dev_destroy(dev32);
}

/* ---- frame kinds ----------------------------------------------------------- */

static uint64_t first_of_kind(enum dmap_xen_frame_kind want)
{
	for (uint64_t pfn = 0; pfn < 4096; pfn++) {
		enum dmap_xen_frame_kind kind;

		dmap_xen_p2m_lookup(p2m, pfn, NULL, &kind);
		if (kind == want && (want != DMAP_XEN_FRAME_MISSING || pfn > 0x100))
			return pfn;
	}
	cr_assert_fail("no frame of kind %d", want);
	return 0;
}

static void snapshot_p2m(uint64_t *out)
{
	for (uint64_t pfn = 0; pfn < 4096; pfn++)
		out[pfn] = dmap_xen_p2m_get_raw(p2m, pfn);
}

Test(xen, missing_frames_are_a_clear_error)
{
	uint64_t miss = first_of_kind(DMAP_XEN_FRAME_MISSING);
	static uint64_t before[4096], after[4096];
	char pfn_text[32];

	snapshot_p2m(before);
	cr_assert(plain_ram(miss - 1));
	cr_assert_eq(dmap_map_phys(dev64, miss << 12, 64, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	snprintf(pfn_text, sizeof(pfn_text), "pfn 0x%llx is missing", (unsigned long long)miss);
	cr_assert(dmap_test_log_has(&t, pfn_text, "nic", NULL));
	/* A range that starts in RAM and only touches the missing frame fails too, naming it. */
	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_map_phys(dev64, (miss << 12) - 10, 20, DMAP_FROM_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, pfn_text, NULL));
	/* And so does a scatter-gather list with one such entry; nothing stays mapped. */
	struct dmap_sg sg[2] = { { .phys = 0x200 << 12, .len = 100 },
				 { .phys = (miss << 12) + 8, .len = 100 } };

	cr_assert_lt(dmap_map_sg(dev64, sg, 2, DMAP_TO_DEVICE, 0), 0);
	/* An unknown pfn (beyond the P2M) is named as such. */
	cr_assert_eq(dmap_map_phys(dev64, 1ull << 45, 64, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "pfn 0x200000000 is beyond the P2M", NULL));
	cr_assert_eq(xstats(xdom).missing_frames, 4);
	cr_assert_eq(xstats(xdom).pool_used, 0);
	snapshot_p2m(after);
	cr_assert_eq(memcmp(before, after, sizeof(before)), 0, "a failed map changed the P2M");
}

Test(xen, identity_frames_map_one_to_one)
{
	uint64_t io = first_of_kind(DMAP_XEN_FRAME_IDENTITY);
	dmap_addr_t bus;

	cr_assert_eq(dmap_xen_pfn_to_mfn(p2m, io), io);
	/* Peer-to-peer into an I/O hole: contiguous 1:1, so direct, bus == phys. */
	bus = dmap_map_phys(dev64, (io << 12) + 16, 3 * PAGE, DMAP_TO_DEVICE, 0);
	cr_assert_eq(bus, (io << 12) + 16);
	cr_assert_eq(dmap_unmap_phys(dev64, bus, 3 * PAGE, DMAP_TO_DEVICE, 0), 0);
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, io + 1), io + 1);
}

Test(xen, foreign_frames_need_permission)
{
	uint64_t f = first_of_kind(DMAP_XEN_FRAME_FOREIGN);
	uint64_t fm = mfn_of(f);
	struct dmap_xen_config allow = { .name = "netback", .allow_foreign = true };
	struct dmap_domain *nb;
	struct dmap_dev *vif;
	uint8_t data[256], seen[256];
	char text[64];
	dmap_addr_t bus;

	/* Default: refused, naming the pfn. */
	cr_assert_eq(dmap_map_phys(dev64, f << 12, 256, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	snprintf(text, sizeof(text), "pfn 0x%llx is a foreign frame", (unsigned long long)f);
	cr_assert(dmap_test_log_has(&t, text, NULL));
	cr_assert_eq(xstats(xdom).foreign_refused, 1);

	/* A backend domain that may DMA to grant-mapped pages: direct to the other domain's frame. */
	nb = make_xen(&allow);
	vif = dmap_test_dev(&t, "vif", DMAP_BIT_MASK(64));
	cr_assert_eq(dmap_dev_attach(vif, nb), 0);
	bus = dmap_map_phys(vif, (f << 12) + 64, 256, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(bus, (fm << 12) + 64);
	fill(data, 256, 11);
	cr_assert_eq(dmap_dev_write(vif, bus, data, 256), 0, "device side finds the grant");
	cr_assert_eq(memcmp(cpu((f << 12) + 64, 256), data, 256), 0);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, seen, 256), 0);
	cr_assert_eq(memcmp(seen, data, 256), 0);
	cr_assert_eq(dmap_unmap_phys(vif, bus, 256, DMAP_FROM_DEVICE, 0), 0);
	/* The M2P still names the other domain's pfn; only the reverse map finds ours. */
	cr_assert_eq(dmap_xen_mfn_to_pfn(p2m, fm), INV);
	cr_assert_eq(dmap_xen_foreign_mfn_to_pfn(p2m, fm), f);
	/* Straddling a foreign frame and a RAM frame bounces (the copy reads both). */
	cr_assert(plain_ram(f - 1));
	fill(cpu((f << 12) - 50, 100), 100, 12);
	bus = dmap_map_phys(vif, (f << 12) - 50, 100, DMAP_TO_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, seen, 100), 0);
	cr_assert_eq(memcmp(seen, cpu((f << 12) - 50, 100), 100), 0);
	cr_assert_eq(dmap_unmap_phys(vif, bus, 100, DMAP_TO_DEVICE, 0), 0);
	dmap_dev_destroy(vif);
	cr_assert_eq(dmap_domain_destroy(nb), 0);
}

/* ---- 64 KiB guest pages on 4 KiB Xen frames ------------------------------- */

Test(xen, guest_64k_pages_are_checked_per_xen_frame)
{
	struct dmap_xen_config cfg = { .name = "arm64", .guest_page_shift = 16 };
	struct dmap_domain *dom = make_xen(&cfg);
	struct dmap_dev *dev = dmap_test_dev(&t, "smmu-less", DMAP_BIT_MASK(64));
	uint64_t gp = 0x40; /* a 64 KiB guest page = 16 Xen frames, pfns 0x400.. */
	dmap_phys_t page = 0x400ull << 12;
	uint8_t seen[8192];
	dmap_addr_t bus, handle;
	void *va;

	cr_assert_eq(dmap_dev_attach(dev, dom), 0);
	(void)gp;
	/* Inside one guest page, across a Xen frame boundary whose frames are scattered. */
	cr_assert_neq(mfn_of(0x401), mfn_of(0x400) + 1);
	fill(cpu(page + 4000, 8192), 8192, 13);
	bus = dmap_map_phys(dev, page + 4000, 8192, DMAP_TO_DEVICE, 0);
	cr_assert_neq(bus, DMAP_MAPPING_ERROR);
	cr_assert_eq(xstats(dom).straddles, 1, "one 64 KiB page, yet not contiguous");
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, bus, seen, 8192), 0);
	cr_assert_eq(memcmp(seen, cpu(page + 4000, 8192), 8192), 0);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 8192, DMAP_TO_DEVICE, 0), 0);
	/* Make the whole 64 KiB page machine-contiguous: now the same buffer goes direct. */
	uint64_t mfn = make_contiguous(0x400, 16, false);

	bus = dmap_map_phys(dev, page + 4000, 8192, DMAP_TO_DEVICE, 0);
	cr_assert_eq(bus, (mfn << 12) + 4000);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 8192, DMAP_TO_DEVICE, 0), 0);
	/* Coherent buffers come in whole guest pages. */
	va = dmap_alloc_coherent(dev, 100, &handle, 0);
	cr_assert_not_null(va);
	cr_assert(((uintptr_t)handle & 0xffff) == 0);
	for (uint64_t i = 1; i < 16; i++)
		cr_assert_eq(mfn_of(dmap_xen_mfn_to_pfn(p2m, handle >> 12) + i),
			     (handle >> 12) + i);
	cr_assert_eq(dmap_free_coherent(dev, 100, va, handle, 0), 0);
	dmap_dev_destroy(dev);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/* ---- scatter-gather --------------------------------------------------------- */

Test(xen, map_sg_merges_machine_contiguous_entries)
{
	uint64_t a = find_straddle(0x700);
	uint64_t ma = make_contiguous(a, 2, false);
	uint64_t s = find_straddle(0x800);
	uint8_t seen[512];
	struct dmap_sg sg[3] = {
		{ .phys = (a << 12) + PAGE - 256, .len = 256 }, /* end of frame a ... */
		{ .phys = (a + 1) << 12,
		  .len = 256 }, /* ... start of a+1: adjacent in machine space */
		{ .phys = (s << 12) + PAGE - 128, .len = 256 }, /* straddles: bounced */
	};
	int n;

	for (int i = 0; i < 3; i++)
		fill(cpu(sg[i].phys, sg[i].len), sg[i].len, 20 + i);
	n = dmap_map_sg(dev64, sg, 3, DMAP_TO_DEVICE, 0);
	cr_assert_eq(n, 2, "the two machine-adjacent entries merge");
	cr_assert_eq(sg[0].dma_addr, (ma << 12) + PAGE - 256);
	cr_assert_eq(sg[0].dma_len, 512);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, sg[0].dma_addr, seen, 512), 0);
	cr_assert_eq(memcmp(seen, cpu(sg[0].phys, 256), 256), 0);
	cr_assert_eq(memcmp(seen + 256, cpu(sg[1].phys, 256), 256), 0);
	cr_assert_eq(sg[1].dma_len, 256);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, sg[1].dma_addr, seen, 256), 0);
	cr_assert_eq(memcmp(seen, cpu(sg[2].phys, 256), 256), 0);
	cr_assert_eq(dmap_unmap_sg(dev64, sg, 3, DMAP_TO_DEVICE, 0), 0);
	struct dmap_xen_stats st = xstats(xdom);

	cr_assert_eq(st.direct_maps, 2);
	cr_assert_eq(st.bounced_maps, 1);
	cr_assert_eq(st.pool_used, 0);
}

/* ---- coherent memory and the exchange hook ------------------------------- */

Test(xen, coherent_is_machine_contiguous_below_the_coherent_mask)
{
	struct dmap_dev_info info = { .name = "hba",
				      .dma_mask = DMAP_BIT_MASK(64),
				      .coherent_dma_mask = DMAP_BIT_MASK(32) };
	struct dmap_dev *hba;
	struct dmap_hosted_xen_counters before, after;
	dmap_addr_t handle;
	uint8_t seen[64];
	uint8_t *va;

	cr_assert_eq(dmap_dev_create(t.ctx, &info, &hba), 0);
	cr_assert_eq(dmap_dev_attach(hba, xdom), 0);
	cr_assert_eq(dmap_hosted_xen_get_counters(guest, &before), 0);
	va = dmap_alloc_coherent(hba, 5 * PAGE, &handle, 0);
	cr_assert_not_null(va);
	cr_assert_lt(handle + 8 * PAGE - 1, 1ull << 32);
	cr_assert_eq(handle & (8 * PAGE - 1), 0, "2^order aligned");
	uint64_t pfn = dmap_xen_mfn_to_pfn(p2m, handle >> 12);

	for (uint64_t i = 0; i < 8; i++)
		cr_assert_eq(mfn_of(pfn + i), (handle >> 12) + i);
	/* The CPU's writes are where the device looks. */
	for (int i = 0; i < 5 * 4096; i++)
		cr_assert_eq(va[i], 0);
	memset(va + 3 * PAGE - 32, 0x5a, 64);
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, handle + 3 * PAGE - 32, seen, 64), 0);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(seen[i], 0x5a);
	cr_assert_eq(dmap_free_coherent(hba, 5 * PAGE, va, handle, 0), 0);
	cr_assert_eq(dmap_hosted_xen_get_counters(guest, &after), 0);
	cr_assert_eq(after.releases, before.releases + 1, "the exchange was undone");
	cr_assert_eq(after.free_frames, before.free_frames);
	/* Freeing a stranger is an error. */
	cr_assert_eq(dmap_free_coherent(hba, 5 * PAGE, va, handle, 0), -DMAP_ENOENT);
	/* Beyond the largest contiguous region (2 MiB): refused with a reason. */
	cr_assert_null(dmap_alloc_coherent(hba, 4 << 20, &handle, 0));
	cr_assert(dmap_test_log_has(&t, "largest contiguous region", NULL));
	dmap_dev_destroy(hba);
}

Test(xen, exchange_failure_is_clean)
{
	static uint64_t before[4096], after[4096];
	struct dmap_hosted_counters hc0, hc1;
	struct dmap_domain *dom;
	struct dmap_xen_config cfg = { 0 };
	dmap_addr_t handle;

	snapshot_p2m(before);
	cr_assert_eq(dmap_hosted_get_counters(t.hosted, &hc0), 0);
	/* Coherent: the hook says no. */
	dmap_hosted_xen_fail_exchanges(guest, 1000);
	cr_assert_null(dmap_alloc_coherent(dev64, 3 * PAGE, &handle, 0));
	cr_assert_eq(handle, DMAP_MAPPING_ERROR);
	cr_assert(dmap_test_log_has(&t, "machine-contiguous", NULL));
	/* Pool creation: every segment fails, the domain is not created, nothing leaks. */
	cfg.name = "starved";
	cfg.p2m = p2m;
	cfg.exchange = dmap_hosted_xen_exchange_ops();
	cfg.exchange_cookie = guest;
	cfg.pool_size = 1 << 20;
	cr_assert_eq(dmap_xen_domain_create(t.ctx, &cfg, &dom), -DMAP_ENOMEM);
	cr_assert_null(dom);
	cr_assert(dmap_test_log_has(&t, "segment 0 of 4", NULL));
	dmap_hosted_xen_fail_exchanges(guest, 0);
	snapshot_p2m(after);
	cr_assert_eq(memcmp(before, after, sizeof(before)), 0, "a failed exchange changed the P2M");
	cr_assert_eq(dmap_hosted_get_counters(t.hosted, &hc1), 0);
	cr_assert_eq(hc1.pool_bytes_in_use, hc0.pool_bytes_in_use, "pages leaked");
	cr_assert_geq(xstats(xdom).exchange_failures, 1);

	/* Failure half way through the pool: the segments done are given back. */
	struct dmap_hosted_xen_counters gc0, gc1;

	cr_assert_eq(dmap_hosted_xen_get_counters(guest, &gc0), 0);
	cfg.segment_size = 64 << 10;
	cfg.pool_size = 256 << 10;
	dmap_hosted_xen_fail_exchanges_after(guest, 2, 1000);
	cr_assert_eq(dmap_xen_domain_create(t.ctx, &cfg, &dom), -DMAP_ENOMEM);
	cr_assert(dmap_test_log_has(&t, "segment 2 of 4", NULL));
	dmap_hosted_xen_fail_exchanges(guest, 0);
	cr_assert_eq(dmap_hosted_xen_get_counters(guest, &gc1), 0);
	cr_assert_eq(gc1.exchanges, gc0.exchanges + 2);
	cr_assert_eq(gc1.releases, gc0.releases + 2, "the two exchanged segments went back");
	cr_assert_eq(gc1.free_frames, gc0.free_frames, "machine frames leaked");
	cr_assert_eq(dmap_hosted_get_counters(t.hosted, &hc1), 0);
	cr_assert_eq(hc1.pool_bytes_in_use, hc0.pool_bytes_in_use, "pages leaked");

	/* And a pool that could be made is given back whole at destroy. */
	{
		struct dmap_domain *ok;

		cr_assert_eq(dmap_xen_domain_create(t.ctx, &cfg, &ok), 0);
		cr_assert_eq(dmap_domain_destroy(ok), 0);
	}
	cr_assert_eq(dmap_hosted_xen_get_counters(guest, &gc1), 0);
	cr_assert_eq(gc1.free_frames, gc0.free_frames, "machine frames leaked");
	cr_assert_eq(gc1.releases, gc0.releases + 2 + 4);
}

Test(xen, max_mapping_size_is_the_segment)
{
	uint64_t p = find_straddle(0x900);

	cr_assert_eq(dmap_max_mapping_size(dev64), 256 << 10);
	/* A straddling buffer larger than a segment cannot bounce. */
	cr_assert_eq(dmap_map_phys(dev64, p << 12, (256 << 10) + 4096, DMAP_TO_DEVICE, 0),
		     DMAP_MAPPING_ERROR);
	/* A machine-contiguous one of the same size goes direct. */
	uint64_t mfn = make_contiguous(0xa00, 80, false);
	dmap_addr_t bus = dmap_map_phys(dev64, 0xa00ull << 12, 80 * PAGE, DMAP_TO_DEVICE, 0);

	cr_assert_eq(bus, mfn << 12);
	cr_assert_eq(dmap_unmap_phys(dev64, bus, 80 * PAGE, DMAP_TO_DEVICE, 0), 0);
}

Test(xen, unknown_addresses_and_bad_config)
{
	struct dmap_xen_config cfg = { 0 };
	struct dmap_domain *dom;

	/* A machine address that is no frame of this guest. */
	cr_assert_eq(dmap_unmap_phys(dev64, 0x7fff0000ull << 12, 64, DMAP_TO_DEVICE, 0),
		     -DMAP_ENOENT);
	cr_assert(dmap_test_log_has(&t, "no frame of this guest", NULL));
	cr_assert_eq(dmap_sync_single_for_cpu(dev64, 0x7fff0000ull << 12, 64, DMAP_FROM_DEVICE),
		     -DMAP_ENOENT);
	{
		uint8_t b[4];

		cr_assert_eq(dmap_dev_read(dev64, 0x7fff0000ull << 12, b, 4), -DMAP_EFAULT);
	}

	cr_assert_eq(dmap_xen_domain_create(NULL, &cfg, &dom), -DMAP_EINVAL);
	cr_assert_eq(dmap_xen_domain_create(t.ctx, NULL, &dom), -DMAP_EINVAL);
	cr_assert_eq(dmap_xen_domain_create(t.ctx, &cfg, &dom), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "no P2M", NULL));
	cfg.p2m = p2m;
	cr_assert_eq(dmap_xen_domain_create(t.ctx, &cfg, &dom), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "no exchange hook", NULL));
	cfg.exchange = dmap_hosted_xen_exchange_ops();
	cfg.exchange_cookie = guest;
	cfg.segment_size = 3000;
	cr_assert_eq(dmap_xen_domain_create(t.ctx, &cfg, &dom), -DMAP_EINVAL);
	cfg.segment_size = 0;
	cfg.guest_page_shift = 13 + 8;
	cr_assert_eq(dmap_xen_domain_create(t.ctx, &cfg, &dom), -DMAP_EINVAL);
	cfg.guest_page_shift = 0;
	cfg.iommu = xdom;
	cr_assert_eq(dmap_xen_domain_create(t.ctx, &cfg, &dom), -DMAP_EINVAL);
	cr_assert(dmap_test_log_has(&t, "iova_is_pfn", NULL));
	cr_assert_eq(dmap_xen_get_stats(NULL, NULL), -DMAP_EINVAL);
	cr_assert_null(dmap_xen_domain_p2m(NULL));
	cr_assert_eq(dmap_xen_iommu_populate(xdom, 0, 1), -DMAP_EINVAL);
}

/* ---- IOVA == pfn -------------------------------------------------------------- */

Test(xen, iova_equals_pfn_maps_straddles_directly)
{
	struct dmap_xen_config cfg = { .name = "pvh", .iova_is_pfn = true };
	struct dmap_domain *dom = make_xen(&cfg);
	struct dmap_dev *dev = dmap_test_dev(&t, "vdev", DMAP_BIT_MASK(64));
	uint64_t p = find_straddle(0x300), miss = first_of_kind(DMAP_XEN_FRAME_MISSING);
	dmap_phys_t buf = (p << 12) + PAGE - 300;
	uint8_t data[600], seen[600];
	dmap_addr_t bus;

	cr_assert_eq(dmap_dev_attach(dev, dom), 0);
	cr_assert_eq(dmap_max_mapping_size(dev), SIZE_MAX);
	bus = dmap_map_phys(dev, buf, 600, DMAP_FROM_DEVICE, 0);
	cr_assert_eq(bus, buf, "IOVA == guest physical");
	fill(data, 600, 30);
	cr_assert_eq(dmap_dev_write(dev, bus, data, 600), 0);
	cr_assert_eq(memcmp(cpu(buf, 600), data, 600), 0);
	/* It landed in the guest's machine frames, wherever they are. */
	cr_assert_eq(dmap_hosted_xen_machine_read(guest, (mfn_of(p + 1) << 12), seen, 300), 0);
	cr_assert_eq(memcmp(seen, data + 300, 300), 0);
	cr_assert_eq(dmap_unmap_phys(dev, bus, 600, DMAP_FROM_DEVICE, 0), 0);
	cr_assert_eq(dmap_map_phys(dev, miss << 12, 8, DMAP_TO_DEVICE, 0), DMAP_MAPPING_ERROR);
	{
		uint8_t b[4];

		cr_assert_eq(dmap_dev_read(dev, miss << 12, b, 4), -DMAP_EFAULT);
	}
	struct dmap_xen_stats s = xstats(dom);

	cr_assert_eq(s.pfn_maps, 1);
	cr_assert_eq(s.bounced_maps + s.direct_maps + s.straddles, 0, "nothing bounces");
	cr_assert_eq(s.missing_frames, 1);
	cr_assert_null(dmap_xen_domain_pool(dom));
	dmap_dev_destroy(dev);
	cr_assert_eq(dmap_domain_destroy(dom), 0);
}

/* ---- concurrency ---------------------------------------------------------------- */

struct worker {
	int id;
	uint64_t pfn;
	unsigned long done;
	bool bad;
};

static void *map_worker(void *arg)
{
	struct worker *w = arg;
	dmap_phys_t buf = (w->pfn << 12) + PAGE - 512;
	uint8_t data[1024], seen[1024];

	for (int i = 0; i < 300; i++) {
		enum dmap_dir dir = i % 2 ? DMAP_FROM_DEVICE : DMAP_TO_DEVICE;
		dmap_addr_t bus;

		fill(data, sizeof(data), (unsigned int)(w->id * 1000 + i));
		if (dir == DMAP_TO_DEVICE)
			memcpy(dmap_hosted_xen_guest_ptr(guest, buf, 1024), data, 1024);
		bus = dmap_map_phys(dev64, buf, 1024, dir, 0);
		if (bus == DMAP_MAPPING_ERROR) {
			w->bad = true;
			break;
		}
		if (dir == DMAP_TO_DEVICE) {
			dmap_hosted_xen_machine_read(guest, bus, seen, 1024);
			w->bad |= memcmp(seen, data, 1024) != 0;
		} else {
			dmap_hosted_xen_machine_write(guest, bus, data, 1024);
		}
		if (dmap_unmap_phys(dev64, bus, 1024, dir, 0))
			w->bad = true;
		if (dir == DMAP_FROM_DEVICE)
			w->bad |= memcmp(dmap_hosted_xen_guest_ptr(guest, buf, 1024), data, 1024) !=
				  0;
		w->done++;
	}
	return NULL;
}

Test(xen, concurrent_maps_keep_data_apart)
{
	struct worker w[4];
	pthread_t th[4];
	uint64_t from = 0x200;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .id = i, .pfn = find_straddle(from) };
		from = w[i].pfn + 2;
		cr_assert_eq(pthread_create(&th[i], NULL, map_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_not(w[i].bad, "worker %d saw wrong data or a failed call", i);
		cr_assert_eq(w[i].done, 300);
	}
	struct dmap_xen_stats s = xstats(xdom);

	cr_assert_eq(s.bounced_maps, 1200);
	cr_assert_eq(s.pool_used, 0);
}

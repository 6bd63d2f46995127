#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""stale_iotlb: unmapping without invalidating the IOTLB leaves the page reachable.

An IOMMU caches translations in its IOTLB; removing a page-table entry does
not remove the cached copy. Only an invalidation (on SMMUv3 a TLBI + CMD_SYNC)
does. With deferred ("lazy", Linux's DMA_FQ) invalidation, an unmap is queued
and the device can still reach the old page until the flush queue is flushed;
if the CPU has reused the page meanwhile, the device reads (or overwrites)
someone else's data. Strict mode invalidates before unmap returns, and an
explicit flush closes the window in deferred mode.
"""

from _scenario import Result, dmap, expect, expect_raises, require, say, scenario_main, step

RAM = 0x4000_0000
PAGE = RAM + 0x10_0000


def exposure(ctx, deferred, flush=None):
    """Map a page, let the device use it, unmap it, reuse it for a secret, then
    let the device try its old IOVA. Returns what the device read (None: it faulted)."""
    mode = "deferred" if deferred else "strict"
    smmu = ctx.iommu_domain("smmu-" + mode, deferred=deferred,
                            fq_timeout_ns=10**12)  # no timeout flush during the scenario
    dev = ctx.device("nic-" + mode, stream_id=0x30, dma_mask=dmap.bits(64))
    dev.attach(smmu)
    ctx.env.write(PAGE, b"packet data for the NIC")
    m = dev.map(PAGE, 4096, dmap.Dir.TO_DEVICE)
    iova = m.dma_addr
    expect(dev.dma_read(iova, 6) == b"packet", "%s: the device reads its buffer "
           "(the walk is now cached in the IOTLB)" % mode)
    m.unmap()
    ctx.env.write(PAGE, b"SECRET: the page was reused")  # the CPU reuses the page
    expect(smmu.iova_to_phys(iova) == 0, "%s: the page-table entry is gone" % mode)
    if flush == "all":
        smmu.flush_all()
        say("   explicit flush_all(): IOTLB invalidated, flush queue drained")
    elif flush == "range":
        smmu.flush_range(iova, 4096)
        say("   explicit flush_range(%#x, 4 KiB): that IOTLB entry invalidated" % iova)
    st = smmu.iommu_stats()
    say("   iommu stats: fq_queued %d, iotlb_invalidations %d, iotlb_entries %d"
        % (st.fq_queued, st.iotlb_invalidations, st.iotlb_entries))
    try:
        got = dev.dma_read(iova, 27)
    except dmap.FaultError:
        fault = smmu.pop_fault()
        say("   device access to the old IOVA %#x faults: %s" % (iova, fault))
        expect(fault.hardware["event_id"] == 0x10, "%s: F_TRANSLATION" % mode)
        got = None
    else:
        say("   device access to the old IOVA %#x still reaches the page: %r" % (iova, got))
    smmu.faults()
    dev.close()
    smmu.close()
    return got


def run():
    require("iommu")
    with dmap.Context() as ctx:
        ctx.add_ram(RAM, 32 << 20, pool=True)

        step("deferred invalidation: unmap queues the IOTLB flush")
        stale = exposure(ctx, deferred=True)
        expect(stale == b"SECRET: the page was reused",
               "the device read the reused page through its stale IOTLB entry")

        step("strict invalidation: unmap invalidates before it returns")
        strict = exposure(ctx, deferred=False)
        expect(strict is None, "the device faults: no stale access")

        step("deferred, then an explicit flush")
        flushed = exposure(ctx, deferred=True, flush="all")
        expect(flushed is None, "the flush closed the window")
        ranged = exposure(ctx, deferred=True, flush="range")
        expect(ranged is None, "so does a range flush of just that IOVA")

        step("iommu_map()/iommu_unmap() at a chosen IOVA invalidate in either mode")
        smmu = ctx.iommu_domain("smmu-explicit", deferred=True)
        dev = ctx.device("gpu", stream_id=0x31, dma_mask=dmap.bits(64))
        dev.attach(smmu)
        smmu.map(0x1000_0000, PAGE, 4096, dmap.Prot.READ)
        expect(dev.dma_read(0x1000_0000, 6) == b"SECRET", "iommu_map()ed page readable")
        smmu.unmap(0x1000_0000, 4096)
        expect_raises(dmap.FaultError, lambda: dev.dma_read(0x1000_0000, 6),
                      "iommu_unmap() invalidates whatever the domain's mode")
        smmu.faults()
        return Result("stale_iotlb", "iommu (ARM LPAE S1)", figures={
            "deferred": "stale read", "strict": "F_TRANSLATION", "deferred+flush": "F_TRANSLATION"})


if __name__ == "__main__":
    scenario_main(run, "stale_iotlb", "iommu")

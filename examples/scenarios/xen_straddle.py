#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""xen_straddle: a buffer that crosses a page boundary in a Xen PV guest.

Under Xen PV the guest's "physical" frames (pfns) are backed by machine
frames (mfns) the hypervisor scattered: pfn N+1 is not next to pfn N. A
device puts machine addresses on the bus. A buffer of 4 KiB that starts in
the middle of pfn p is one range to the guest but two distant machine frames.

 1. A naive driver computes the bus address by arithmetic from the first
    byte and lets the device write 4 KiB: the second half lands in machine
    frame mfn(p)+1, which backs some other guest frame q. The buffer misses
    half its data and q is silently corrupted.
 2. dmap's Xen ops see the range is not machine-contiguous, bounce it
    through a pool made machine-contiguous by XENMEM_exchange, and the data
    arrives where the guest expects it.
 3. A guest whose IOMMU maps its pseudo-physical space uses IOVA == pfn
    mode: the bus address is the guest address, nothing bounces.
"""

from _scenario import Result, dmap, expect, require, say, scenario_main, step

PAGE = 4096


def find_straddle(p2m, lo, hi):
    """A pfn p whose buffer at p*4096+2048 straddles into p+1, and the guest frame q
    that a naive device write would hit instead (q backs machine frame mfn(p)+1)."""
    for p in range(lo, hi):
        m0, m1 = p2m.pfn_to_mfn(p), p2m.pfn_to_mfn(p + 1)
        if m0 == dmap.XEN_INVALID_FRAME or m1 == dmap.XEN_INVALID_FRAME or m1 == m0 + 1:
            continue
        if p2m.lookup(p)[0] != dmap.FrameKind.VALID or p2m.lookup(p + 1)[0] != dmap.FrameKind.VALID:
            continue
        q = p2m.mfn_to_pfn(m0 + 1)
        if q != dmap.XEN_INVALID_FRAME and lo <= q < hi and q not in (p, p + 1):
            return p, q
    raise AssertionError("no straddling buffer found in the guest layout")


def run():
    require("xen")
    with dmap.Environment() as env:
        guest = dmap.XenGuest(env, guest_frames=4096, seed=7)  # 16 MiB, scattered over 2 banks
        p2m = guest.p2m
        ctx = env.context()
        xen = ctx.xen_domain("swiotlb-xen", guest=guest)  # allocates its pool now
        xen.counting = True  # per-mapping counters (direct maps) are opt-in
        blk = ctx.device("xen-blkfront", dma_mask=dmap.bits(64))
        blk.attach(xen)

        p, q = find_straddle(p2m, 0x200, 0x800)
        buf = p * PAGE + PAGE // 2
        m_p, m_p1 = p2m.pfn_to_mfn(p), p2m.pfn_to_mfn(p + 1)
        say("guest buffer at %#x (4 KiB) spans pfn %#x and %#x" % (buf, p, p + 1))
        say("   P2M: pfn %#x -> mfn %#x, pfn %#x -> mfn %#x (not adjacent)"
            % (p, m_p, p + 1, m_p1))
        say("   machine frame %#x (= mfn(p)+1) backs guest pfn %#x" % (m_p + 1, q))
        data = bytes((i * 13 + 1) & 0xFF for i in range(PAGE))
        victim = b"Q" * PAGE

        step("1. naive driver: bus address = mfn(p) << 12 | offset, by arithmetic")
        env.fill(buf, 0, PAGE)
        env.write(q * PAGE, victim)
        naive_bus = (m_p << 12) | (buf % PAGE)
        guest.machine_write(naive_bus, data)  # what the device does with that address
        got = env.read(buf, PAGE)
        q_now = env.read(q * PAGE, PAGE)
        say("   device wrote 4 KiB at machine %#x" % naive_bus)
        say("   buffer, first half ok: %s; second half ok: %s" % (
            got[:2048] == data[:2048], got[2048:] == data[2048:]))
        say("   guest pfn %#x now starts with %r..." % (q, q_now[:16]))
        expect(got[:2048] == data[:2048] and got[2048:] == bytes(2048),
               "the buffer got only its first half")
        expect(q_now[:2048] == data[2048:] and q_now[2048:] == victim[2048:],
               "the second half corrupted guest pfn %#x (the wrong machine frame)" % q)

        step("2. dmap: map through the Xen ops")
        env.fill(buf, 0, PAGE)
        env.write(q * PAGE, victim)
        before = xen.xen_stats()
        with blk.map(buf, PAGE, dmap.Dir.FROM_DEVICE) as m:
            say("   dma_map(%#x) -> machine address %#x" % (buf, m.dma_addr))
            guest.machine_write(m.dma_addr, data)  # the device, exactly as before
        delta = xen.xen_stats() - before
        say("   xen stats: straddles +%d, bounced +%d, direct +%d"
            % (delta.straddles, delta.bounced_maps, delta.direct_maps))
        expect(delta.straddles == 1 and delta.bounced_maps == 1,
               "the straddle was detected and bounced")
        expect(env.read(buf, PAGE) == data, "the buffer holds all 4 KiB")
        expect(env.read(q * PAGE, PAGE) == victim, "guest pfn %#x untouched" % q)
        with blk.map(p * PAGE, 512, dmap.Dir.TO_DEVICE) as m:
            expect(m.dma_addr == m_p << 12, "a buffer inside one frame maps directly")

        step("3. IOVA == pfn: the guest's IOMMU maps its pseudo-physical space")
        viommu = ctx.xen_domain("xen-iova-pfn", guest=guest, iova_is_pfn=True)
        viommu.counting = True
        dev2 = ctx.device("virtio-blk-viommu", dma_mask=dmap.bits(64))
        dev2.attach(viommu)
        env.fill(buf, 0, PAGE)
        with dev2.map(buf, PAGE, dmap.Dir.FROM_DEVICE) as m:
            say("   dma_map(%#x) -> bus %#x" % (buf, m.dma_addr))
            expect(m.dma_addr == buf, "bus address == guest pseudo-physical address")
            dev2.dma_write(m.dma_addr, data)
        s = viommu.xen_stats()
        expect(s.pfn_maps == 1 and s.bounced_maps == 0, "mapped directly, nothing bounced")
        expect(env.read(buf, PAGE) == data, "the data arrived")
        return Result("xen_straddle", "xen (PV guest)", figures={
            "naive": "pfn %#x corrupted" % q, "dmap": "bounced, data ok",
            "iova==pfn": "direct"})


if __name__ == "__main__":
    scenario_main(run, "xen_straddle", "xen")

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smmu_bypass: a driver hands its device a physical address instead of mapping it.

The device sits behind an ARM SMMUv3 (an iommu domain writing the Arm LPAE
stage-1 tables an SMMUv3 walks). The driver "knows" its receive buffer lives
at physical 0x4010_0000 and programs that into the device. The SMMU has no
translation for it: every access faults with event F_TRANSLATION (0x10), and
the event record carries the device's StreamID and the address it used, bit
for bit as the hardware writes it to its event queue. Mapped properly through
dmap, the same transfer lands in the buffer.
"""

from _scenario import Result, dmap, expect, expect_raises, require, say, scenario_main, step

RAM = 0x4000_0000
BUFFER = 0x4010_0000
STREAM_ID = 0x21
PACKET = b"ethernet frame: hello from the NIC " * 4


def run():
    require("iommu")
    with dmap.Context() as ctx:
        ctx.add_ram(RAM, 32 << 20, pool=True)  # pool: the SMMU's page tables come from here
        smmu = ctx.iommu_domain("smmu0", format=dmap.PageTableFormat.ARM_LPAE_S1)
        nic = ctx.device("eth0", stream_id=STREAM_ID, dma_mask=dmap.bits(64))
        nic.attach(smmu)
        say("device %s, StreamID %#x, behind %r (%s tables)" % (
            nic.name, STREAM_ID, smmu.name, smmu.format.name))

        step("the buggy driver programs the physical address into the device")
        ctx.env.fill(BUFFER, 0, 4096)
        expect_raises(dmap.FaultError, lambda: nic.dma_write(BUFFER, PACKET),
                      "device write to 'bus address' %#x" % BUFFER)
        expect_raises(dmap.FaultError, lambda: nic.dma_read(BUFFER + 0x800, 64),
                      "device read of its descriptor at %#x" % (BUFFER + 0x800))
        expect(ctx.env.read(BUFFER, len(PACKET)) == bytes(len(PACKET)),
               "nothing reached the buffer")

        step("the SMMU's event queue")
        faults = smmu.faults()
        expect(len(faults) == 2, "two faults recorded")
        for f in faults:
            hw = f.hardware
            say("   %s" % f)
            say("     raw event record: %s" % f.raw.hex(" ", 8))
            say("     decoded: %s StreamID=%#x InputAddr=%#x RnW=%d" % (
                hw["event_name"], hw["stream_id"], hw["input_addr"], hw["rnw"]))
            expect(f.reason == dmap.FaultReason.TRANSLATION, "reason: translation")
            expect(f.raw_format == dmap.RawFormat.SMMUV3_EVENT and hw["event_id"] == 0x10,
                   "raw record is an SMMUv3 F_TRANSLATION (0x10) event")
            expect(hw["stream_id"] == STREAM_ID and f.stream_id == STREAM_ID,
                   "record carries StreamID %#x" % STREAM_ID)
            expect(hw["input_addr"] == f.addr and BUFFER <= f.addr < BUFFER + 4096,
                   "record carries the faulting address %#x" % f.addr)
        expect(faults[0].hardware["rnw"] == 0 and faults[1].hardware["rnw"] == 1,
               "RnW tells the write from the read")
        native = dmap.backends.native_decode_fault(faults[0].raw_format, faults[0].raw)
        expect(native["id"] == 0x10 and native["sid"] == STREAM_ID,
               "the library's own decoder agrees")

        step("the fixed driver maps the buffer through dmap")
        with nic.map(BUFFER, 4096, dmap.Dir.FROM_DEVICE) as m:
            say("   dma_map(%#x) -> IOVA %#x" % (BUFFER, m.dma_addr))
            expect(m.dma_addr != BUFFER, "the device gets an IOVA, not the physical address")
            nic.dma_write(m.dma_addr, PACKET)
            t = nic.translate(m.dma_addr)
            say("   SMMU translates IOVA %#x -> phys %#x" % (m.dma_addr, t.phys))
            expect(t.phys == BUFFER, "the IOVA translates to the buffer")
        expect(ctx.env.read(BUFFER, len(PACKET)) == PACKET, "the data arrived in the buffer")
        expect(smmu.pop_fault() is None, "no new faults")
        iova = m.dma_addr
        expect_raises(dmap.FaultError, lambda: nic.dma_read(iova, 4),
                      "after unmap the IOVA faults again")
        smmu.faults()
        return Result("smmu_bypass", "iommu (ARM LPAE S1)", figures={
            "faults": len(faults), "event": "0x10 F_TRANSLATION", "sid": hex(STREAM_ID),
            "mapped": "data ok"})


if __name__ == "__main__":
    scenario_main(run, "smmu_bypass", "iommu")

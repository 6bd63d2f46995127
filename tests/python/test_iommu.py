# SPDX-License-Identifier: MIT
"""The iommu backend through Python: formats, modes, explicit maps, faults, table dumps."""

import pytest

import dmap
from conftest import RAM_HIGH, RAM_LOW, needs

pytestmark = needs("iommu")


@pytest.fixture
def smmu(ctx):
    return ctx.iommu_domain("smmu0")


@pytest.fixture
def nic(ctx, smmu):
    d = ctx.device("nic", stream_id=0x21, dma_mask=dmap.bits(64))
    d.attach(smmu)
    return d


def test_map_translate_and_fault(ctx, env, smmu, nic):
    assert smmu.backend == "iommu" and smmu.strict and not smmu.deferred
    assert smmu.format == dmap.PageTableFormat.ARM_LPAE_S1
    env.write(RAM_HIGH + 0x123, b"iova")
    with nic.map(RAM_HIGH + 0x123, 100, dmap.Dir.TO_DEVICE) as m:
        assert m.dma_addr % 4096 == 0x123  # offset in the granule kept
        assert nic.dma_read(m.dma_addr, 4) == b"iova"
        assert smmu.iova_to_phys(m.dma_addr) == RAM_HIGH + 0x123
        t = nic.translate(m.dma_addr)
        assert t.phys == RAM_HIGH + 0x123 and t.perm & dmap.Access.READ
        with pytest.raises(dmap.FaultError):  # TO_DEVICE: read-only for the device
            nic.dma_write(m.dma_addr, b"x")
    f = smmu.pop_fault()
    assert f.reason == dmap.FaultReason.PERMISSION
    assert f.raw_format == dmap.RawFormat.SMMUV3_EVENT and f.event_id == 0x13
    assert f.hardware["event_name"] == "F_PERMISSION"
    with pytest.raises(dmap.FaultError):
        nic.dma_read(RAM_HIGH, 4)  # a physical address is not an IOVA
    f = smmu.pop_fault()
    hw = f.hardware
    assert f.reason == dmap.FaultReason.TRANSLATION and hw["event_id"] == 0x10
    assert hw["stream_id"] == 0x21 and hw["input_addr"] == RAM_HIGH and hw["rnw"] == 1
    assert dmap.backends.native_decode_fault(f.raw_format, f.raw)["sid"] == 0x21
    assert dmap.backends.smmu_event_name(0x10) == "F_TRANSLATION"
    assert "event 0x10" in str(f)


def test_vtd_format_and_fault_record(ctx, env):
    vtd = ctx.iommu_domain("dmar0", format=dmap.PageTableFormat.VTD_SL, levels=4)
    dev = ctx.device("ssd", stream_id=0x0300, dma_mask=dmap.bits(64))  # bus 3, devfn 0
    dev.attach(vtd)
    env.write(RAM_LOW, b"vt-d")
    with dev.map(RAM_LOW, 4096, dmap.Dir.BIDIRECTIONAL) as m:
        assert dev.dma_read(m.dma_addr, 4) == b"vt-d"
    with pytest.raises(dmap.FaultError):
        dev.dma_write(0x5000, b"x")
    f = vtd.pop_fault()
    assert f.raw_format == dmap.RawFormat.VTD_FAULT and len(f.raw) == 16
    hw = f.hardware
    assert hw["source_id"] == 0x0300 and hw["fault_info"] == 0x5000 and hw["type_read"] == 0
    native = dmap.backends.native_decode_fault(f.raw_format, f.raw)
    assert native["sid"] == 0x0300 and native["reason"] == hw["fault_reason"]
    assert dmap.backends.vtd_fault_reason_name(hw["fault_reason"])
    d = vtd.dump_tables()
    assert d.format == dmap.PageTableFormat.VTD_SL and d.levels == 4 and d.vtd_agaw


@pytest.mark.parametrize("granule", [4096, 16384, 65536])
def test_granules(ctx, env, granule):
    dom = ctx.iommu_domain("g%d" % granule, granule=granule, ias=39)
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(dom)
    with dev.map(RAM_LOW + 8, 3 * granule) as m:
        assert m.dma_addr % granule == 8
        dev.dma_write(m.dma_addr, b"g")
    assert env.read(RAM_LOW + 8, 1) == b"g"
    assert dom.dump_tables().granule == granule


@pytest.mark.parametrize("kwargs", [
    {"granule": 8192}, {"ias": 20}, {"ias": 60}, {"format": 9}, {"fq_size": 3, "deferred": True},
    {"levels": 7, "format": dmap.PageTableFormat.VTD_SL},
    {"aperture": (0x10000, 0x1000)},
    {"reserved": [(i << 20, (i << 20) + 4095) for i in range(1, 20)]},
])
def test_create_rejects(ctx, kwargs):
    with pytest.raises(dmap.InvalidArgumentError) as e:
        ctx.iommu_domain("bad", **kwargs)
    assert e.value.call == "dmap_iommu_domain_create"
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.iommu_domain("bad", bounce="not a domain")


def test_aperture_and_reserved(ctx):
    dom = ctx.iommu_domain("ap", ias=32, aperture=(0x1000_0000, 0x1fff_ffff),
                           reserved=[(0x1000_0000, 0x1000_ffff)])
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(dom)
    with dev.map(RAM_LOW, 4096) as m:
        assert 0x1001_0000 <= m.dma_addr <= 0x1fff_ffff


def test_explicit_map_unmap(ctx, env, smmu, nic):
    env.write(RAM_LOW, b"explicit")
    smmu.map(0x2000_0000, RAM_LOW, 8192, dmap.Prot.READ)
    assert smmu.iova_to_phys(0x2000_1000) == RAM_LOW + 0x1000
    assert nic.dma_read(0x2000_0000, 8) == b"explicit"
    with pytest.raises(dmap.FaultError):
        nic.dma_write(0x2000_0000, b"ro")  # READ only
    with pytest.raises(dmap.BusyError):
        smmu.map(0x2000_0000, RAM_LOW, 4096)  # already taken
    with pytest.raises(dmap.InvalidArgumentError):
        smmu.map(0x2000_0001, RAM_LOW, 4096)  # unaligned
    with pytest.raises(dmap.InvalidArgumentError):
        smmu.map(0x3000_0000, RAM_LOW, 4096, dmap.Prot.NONE)
    with pytest.raises(dmap.RangeError):
        smmu.map(1 << 50, RAM_LOW, 4096)  # beyond ias 48
    smmu.unmap(0x2000_0000, 8192)
    assert smmu.iova_to_phys(0x2000_0000) == 0
    with pytest.raises(dmap.NotFoundError):
        smmu.unmap(0x2000_0000, 8192)
    with pytest.raises(dmap.FaultError):
        nic.dma_read(0x2000_0000, 1)
    smmu.faults()


def test_deferred_mode_and_flushes(ctx, env):
    dom = ctx.iommu_domain("lazy", deferred=True, fq_size=4, fq_timeout_ns=10**12)
    assert not dom.strict
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(dom)
    m = dev.map(RAM_LOW, 4096)
    dev.dma_read(m.dma_addr, 4)
    iova = m.dma_addr
    m.unmap()
    assert dev.dma_read(iova, 4) == env.read(RAM_LOW, 4)  # stale IOTLB entry
    st = dom.iommu_stats()
    assert st.fq_queued == 1 and st.iotlb_hits >= 1
    dom.flush_range(iova, 4096)
    with pytest.raises(dmap.FaultError):
        dev.dma_read(iova, 4)
    assert dom.poll() is False  # timeout far away
    dom.flush_all()
    assert dom.iommu_stats().fq_flushes >= 1
    for _ in range(10):  # a full ring flushes by itself
        dev.map(RAM_LOW, 4096).unmap()
    assert dom.iommu_stats().fq_full_flushes >= 1
    with pytest.raises(dmap.InvalidArgumentError):
        dom.flush_range(iova, 0)
    dom.faults()


def test_untrusted_device_bounces_sub_granule(ctx, env):
    pool = ctx.bounce_domain("swiotlb", pool_size=1 << 20) if dmap.HAVE_BOUNCE else None
    if pool is None:
        pytest.skip("bounce not built")
    dom = ctx.iommu_domain("tb", bounce=pool)
    assert dom.bounce is pool
    ext = ctx.device("thunderbolt", untrusted=True, dma_mask=dmap.bits(64))
    ext.attach(dom)
    env.write(RAM_LOW + 100, b"secret-neighbour" + b"data")
    with ext.map(RAM_LOW + 116, 4, dmap.Dir.TO_DEVICE) as m:
        assert ext.dma_read(m.dma_addr, 4) == b"data"
        page = ext.dma_read(m.dma_addr - (m.dma_addr % 4096), 4096)
        assert b"secret-neighbour" not in page  # never sees what it was not given
    assert dom.iommu_stats().bounced_maps == 1
    pool.close()
    assert dom.closed  # closing the bounce pool closed the domain stacked on it


def test_dump_tables(ctx, smmu, nic):
    m = nic.map(RAM_LOW, 2 << 20)
    d = smmu.dump_tables()
    assert isinstance(d, dmap.PageTableDump)
    assert d.granule == 4096 and d.ias == 48 and d.root == d.pages[0].phys
    assert d.arm_mair and d.arm_tcr & 0x3f == 64 - 48  # T0SZ
    assert all(isinstance(p, dmap.TablePage) for p in d.pages)
    leaves = [(p, i, v) for p in d.pages for i, v in p.descriptors()]
    assert leaves
    # some descriptor holds the buffer's address (a 2 MiB block or 4 KiB pages)
    outs = {v & 0x0000_ffff_ffff_f000 for _, _, v in leaves}
    assert RAM_LOW in outs
    text = d.describe()
    assert "ARM_LPAE_S1" in text and "level" in text
    m.unmap()


def test_stats_delta(ctx, smmu, nic):
    s0 = smmu.iommu_stats()
    with nic.map(RAM_LOW, 4096) as m:
        nic.dma_read(m.dma_addr, 1)
        nic.dma_read(m.dma_addr, 1)
    d = smmu.iommu_stats() - s0
    assert isinstance(d, dmap.IommuStats)
    assert d.iotlb_hits >= 1 and d.iotlb_misses >= 1 and d.iotlb_invalidations >= 1


def test_methods_reject_other_domains(ctx, identity):
    with pytest.raises(dmap.InvalidArgumentError):
        dmap.core._call("dmap_iommu_flush_all", dmap._native.dmap_iommu_flush_all,
                        identity._ptr())
    assert dmap._native.dmap_is_iommu_domain(identity._ptr()) is False

# SPDX-License-Identifier: MIT
"""The Xen backend, its P2M and the simulated PV guest through Python."""

import pytest

import dmap
from conftest import needs

pytestmark = needs("xen")

PAGE = 4096


@pytest.fixture
def env():
    e = dmap.Environment()
    yield e
    e.close()


@pytest.fixture
def guest(env):
    return dmap.XenGuest(env, guest_frames=4096, seed=3)


def straddle(p2m, lo=0x200, hi=0x800):
    for p in range(lo, hi):
        a, b = p2m.pfn_to_mfn(p), p2m.pfn_to_mfn(p + 1)
        if dmap.XEN_INVALID_FRAME not in (a, b) and b != a + 1 and \
                p2m.lookup(p)[0] == p2m.lookup(p + 1)[0] == dmap.FrameKind.VALID:
            return p
    raise AssertionError("no straddle")


def test_standalone_p2m(env):
    p2m = dmap.P2M(env, max_pfn=1 << 16, max_mfn=1 << 16)
    assert p2m.pfn_to_mfn(5) == dmap.XEN_INVALID_FRAME
    with pytest.raises(dmap.NotFoundError):
        p2m.lookup(5)
    with pytest.raises(dmap.RangeError):
        p2m.lookup(1 << 16)
    p2m.set_range(0x10, 4, dmap.FrameKind.VALID, 0x100)
    assert p2m.lookup(0x12) == (dmap.FrameKind.VALID, 0x102)
    assert p2m.mfn_to_pfn(0x103) == 0x13 and p2m.m2p_get(0x103) == 0x13
    p2m.set(0x20, dmap.FrameKind.IDENTITY)
    assert p2m.lookup(0x20) == (dmap.FrameKind.IDENTITY, 0x20)
    assert p2m.get_raw(0x20) == 0x20 | (1 << 62)
    p2m.set(0x21, dmap.FrameKind.FOREIGN, 0x500)
    assert p2m.get_raw(0x21) == 0x500 | (1 << 63)
    assert p2m.foreign_mfn_to_pfn(0x500) == 0x21
    assert p2m.mfn_to_pfn(0x500) == dmap.XEN_INVALID_FRAME  # foreign: no round trip
    p2m.m2p_set(0x600, 0x42)
    assert p2m.m2p_get(0x600) == 0x42 and p2m.mfn_to_pfn(0x600) == dmap.XEN_INVALID_FRAME
    with pytest.raises(dmap.BusyError):
        p2m.set(0x30, dmap.FrameKind.VALID, 0x100)  # mfn already backs pfn 0x10
    with pytest.raises(dmap.RangeError):
        p2m.set_range((1 << 16) - 1, 2, dmap.FrameKind.VALID, 0)
    with pytest.raises(dmap.InvalidArgumentError):
        p2m.set_range(0, 0, dmap.FrameKind.VALID, 0)
    with pytest.raises(ValueError):
        p2m.set(0, 9)
    s = p2m.stats()
    assert s.updates == 3 and s.frames_written == 6 and s.max_pfn == 1 << 16 and s.generation % 2 == 0
    p2m.close()
    with pytest.raises(dmap.ClosedError):
        p2m.pfn_to_mfn(0)
    with pytest.raises(dmap.InvalidArgumentError):
        dmap.P2M(env, max_pfn=1 << 40)


def test_guest_memory(env, guest):
    p2m = guest.p2m
    with pytest.raises(dmap.InvalidArgumentError):
        p2m.close()  # the guest owns it
    mfn = p2m.pfn_to_mfn(0x300)
    env.write(0x300 * PAGE, b"guest store")
    assert guest.machine_read(mfn << 12, 11) == b"guest store"
    guest.machine_write((mfn << 12) + 100, b"device")
    assert env.read(0x300 * PAGE + 100, 6) == b"device"
    with pytest.raises(dmap.FaultError):
        guest.machine_read(1 << 40, 4)
    with pytest.raises(dmap.FaultError):
        guest.machine_write(1 << 40, b"x")
    free = guest.find_free(4, dmap.HOSTED_XEN_HIGH_MFN)
    assert free is not None and free >= dmap.HOSTED_XEN_HIGH_MFN
    guest.remap(0x300, 2, free)
    assert p2m.pfn_to_mfn(0x301) == free + 1
    assert env.read(0x300 * PAGE, 11) == b"guest store"  # contents kept
    with pytest.raises(dmap.BusyError):
        guest.remap(0x310, 1, free)
    assert guest.find_free(1 << 30) is None
    c = guest.counters()
    assert set(c) == {"exchanges", "exchange_failures", "releases", "free_frames"}
    # the default layout has its special ranges
    assert p2m.lookup(0xa0)[0] == dmap.FrameKind.IDENTITY


def test_guest_ranges_and_options(env):
    g = dmap.XenGuest(env, guest_frames=1024, in_order=True,
                      ranges=[(0x100, 16, dmap.FrameKind.MISSING)])
    assert g.p2m.pfn_to_mfn(1) == g.p2m.pfn_to_mfn(0) + 1  # in order
    with pytest.raises(dmap.NotFoundError):
        g.p2m.lookup(0x105)
    g.close()
    with pytest.raises(dmap.ClosedError):
        g.machine_read(0, 1)
    with pytest.raises(dmap.InvalidArgumentError):
        dmap.XenGuest(env, guest_frames=64, ranges=[(60, 10, dmap.FrameKind.MISSING)])


def test_domain_bounces_straddles(env, guest):
    ctx = env.context()
    xen = ctx.xen_domain("xen", guest=guest, pool_size=1 << 20)
    assert xen.backend == "xen" and xen.guest is guest and xen.p2m is guest.p2m
    xen.counting = True  # direct_maps and pfn_maps count only with counting on
    dev = ctx.device("blk", dma_mask=dmap.bits(64))
    dev.attach(xen)
    p = straddle(guest.p2m)
    buf = p * PAGE + 1024
    data = bytes(range(256)) * 16
    env.write(buf, data)
    with dev.map(buf, PAGE, dmap.Dir.BIDIRECTIONAL) as m:
        assert guest.machine_read(m.dma_addr, PAGE) == data  # machine-contiguous copy
        assert dev.dma_read(m.dma_addr, PAGE) == data
        guest.machine_write(m.dma_addr, b"\x00" * 16)
    assert env.read(buf, 16) == bytes(16)
    with dev.map(p * PAGE, 256, dmap.Dir.TO_DEVICE) as m:
        assert m.dma_addr == guest.p2m.pfn_to_mfn(p) << 12  # one frame: direct
    s = xen.xen_stats()
    assert isinstance(s, dmap.XenStats)
    assert s.straddles == 1 and s.bounced_maps == 1 and s.direct_maps == 1
    assert s.pool_bytes >= 1 << 20 and s.pool_used == 0 and s.pool_high_water > 0
    assert dev.max_mapping_size == 256 << 10


def test_domain_refuses_missing_and_foreign(env):
    g = dmap.XenGuest(env, guest_frames=2048)  # defaults: missing and foreign ranges
    ctx = env.context()
    xen = ctx.xen_domain("xen", guest=g, pool_size=256 << 10)
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(xen)
    missing = next(p for p in range(2048) if g.p2m.get_raw(p) == dmap.XEN_INVALID_FRAME)
    foreign = next(p for p in range(2048)
                   if g.p2m.get_raw(p) != dmap.XEN_INVALID_FRAME and g.p2m.get_raw(p) >> 63)
    with pytest.raises(dmap.MappingError):
        dev.map(missing * PAGE, 16)
    with pytest.raises(dmap.MappingError) as e:
        dev.map(foreign * PAGE, 16)
    assert hex(foreign) in e.value.message or str(foreign) in e.value.message
    s = xen.xen_stats()
    assert s.missing_frames == 1 and s.foreign_refused == 1
    lenient = ctx.xen_domain("xen-foreign", guest=g, pool_size=256 << 10, allow_foreign=True)
    dev2 = ctx.device("netback", dma_mask=dmap.bits(64))
    dev2.attach(lenient)
    dev2.map(foreign * PAGE, 16).unmap()


def test_iova_is_pfn(env, guest):
    ctx = env.context()
    pv = ctx.xen_domain("pfn", p2m=guest.p2m, iova_is_pfn=True)  # no exchange hook needed
    assert pv.iova_is_pfn
    dev0 = ctx.device("uncounted", dma_mask=dmap.bits(64))
    dev0.attach(pv)
    dev0.map(0x300 * PAGE, 64).unmap()
    assert pv.xen_stats().pfn_maps == 0  # per-mapping counters are opt-in
    dev0.close()
    pv.counting = True
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(pv)
    p = straddle(guest.p2m)
    with dev.map(p * PAGE + 100, PAGE, dmap.Dir.FROM_DEVICE) as m:
        assert m.dma_addr == p * PAGE + 100
        dev.dma_write(m.dma_addr, b"pfn")
    assert env.read(p * PAGE + 100, 3) == b"pfn"
    assert pv.xen_stats().pfn_maps == 1


def test_exchange_failure_and_bad_config(env, guest):
    ctx = env.context()
    guest.fail_exchanges(1000)
    with pytest.raises(dmap.OutOfMemoryError):
        ctx.xen_domain("nofit", guest=guest, pool_size=1 << 20)
    guest.fail_exchanges(0)
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.xen_domain("nop2m")
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.xen_domain("nohook", p2m=guest.p2m)  # bouncing needs the exchange hook
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.xen_domain("x", guest="nope")
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.xen_domain("x", p2m="nope")
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.xen_domain("x", guest=guest, iommu="nope")
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.xen_domain("x", guest=guest, segment_size=3000)


def test_guest_close_closes_its_domains(env, guest):
    ctx = env.context()
    xen = ctx.xen_domain("xen", guest=guest, pool_size=256 << 10)
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(xen)
    m = dev.map(0x300 * PAGE, 64)
    guest.close()
    assert xen.closed and not m.live and dev.domain is None and guest.closed
    assert guest.p2m.closed

# SPDX-License-Identifier: MIT
"""Domains: identity and stacking, statistics, the debug layer, the fault log."""

import pytest

import dmap
from conftest import RAM_HIGH, RAM_LOW


def test_identity_basics(ctx, identity):
    assert identity.name == "ident" and identity.backend == "identity"
    assert "ident" in repr(identity)
    assert identity.fallback is None and identity.bus_offset == 0
    d = ctx.identity_domain()
    assert d.name == "identity"


def test_identity_bus_offset(ctx, env):
    dom = ctx.identity_domain("offset", bus_offset=0x1000_0000_0000)
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(dom)
    env.write(RAM_LOW, b"off")
    with dev.map(RAM_LOW, 3) as m:
        assert m.dma_addr == RAM_LOW + 0x1000_0000_0000
        assert dev.dma_read(m.dma_addr, 3) == b"off"
        assert dev.translate(m.dma_addr).phys == RAM_LOW


def test_identity_fallback_stacking(ctx, env):
    # A fallback that reaches high RAM through a bus offset: stacking without bounce.
    shift = (RAM_LOW - RAM_HIGH) % (1 << 64)
    low_view = ctx.identity_domain("low-view", bus_offset=shift)
    dom = ctx.identity_domain("with-fallback", fallback=low_view)
    assert dom.fallback is low_view
    dev = ctx.device("dev32")
    dev.attach(dom)
    env.write(RAM_HIGH, b"high")
    with dev.map(RAM_HIGH, 4) as m:
        # Went through the fallback. (Device-side reads would be ambiguous here:
        # an identity fallback does not claim its addresses back the way a
        # bounce pool does, so the bounce tests check the data path.)
        assert m.dma_addr == RAM_LOW
    with dev.map(RAM_LOW + 0x1000, 4) as m:
        assert m.dma_addr == RAM_LOW + 0x1000  # reachable: direct
    assert dom.stats().fallback_maps == 1
    # the fallback cannot go while in use: closing it closes the stacked domain first
    low_view.close()
    assert dom.closed and low_view.closed
    assert dev.domain is None


def test_identity_force_fallback(ctx):
    shift = (RAM_LOW - RAM_HIGH) % (1 << 64)
    fb = ctx.identity_domain("fb", bus_offset=shift)
    dom = ctx.identity_domain("forced", fallback=fb, force_fallback=True)
    assert dom.force_fallback
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(dom)
    with dev.map(RAM_HIGH, 16) as m:
        assert m.dma_addr == RAM_LOW
    assert dom.stats().fallback_maps == 1


def test_identity_create_errors(ctx):
    with pytest.raises(dmap.InvalidArgumentError) as e:
        ctx.identity_domain("x", force_fallback=True)  # no fallback
    assert e.value.call == "dmap_identity_domain_create"
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.identity_domain(42)
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.identity_domain("x", fallback="nope")
    with dmap.Context() as other:
        foreign = other.identity_domain()
        with pytest.raises(dmap.InvalidArgumentError):
            ctx.identity_domain("x", fallback=foreign)


def test_unsupported_backends_say_so(ctx):
    for have, factory in ((dmap.HAVE_BOUNCE, ctx.bounce_domain),
                          (dmap.HAVE_IOMMU, ctx.iommu_domain),
                          (dmap.HAVE_XEN, ctx.xen_domain)):
        if not have:
            with pytest.raises(dmap.NotSupportedError) as e:
                factory()
            assert "not built" in e.value.message


def test_counting(ctx, identity, dev64):
    assert identity.counting is False
    with dev64.map(RAM_LOW, 4096):
        pass
    s0 = identity.stats()
    assert s0.maps == 0  # counting off
    identity.counting = True
    assert identity.counting
    with dev64.map(RAM_LOW, 4096) as m:
        m.sync_for_cpu()
    with dev64.map_sg([(RAM_LOW, 4096), (RAM_LOW + 4096, 4096)]):
        pass
    s1 = identity.stats()
    delta = s1 - s0
    assert isinstance(delta, dmap.DomainStats)
    assert delta.maps == 1 and delta.unmaps == 1 and delta.syncs == 1
    assert delta.sg_maps == 1 and delta.sg_segments_merged == 1
    assert delta.bytes_mapped == 4096 + 8192
    assert s1.as_dict()["maps"] == s1.maps
    with pytest.raises(TypeError):
        s1 - 5
    identity.counting = False
    with pytest.raises(dmap.MappingError):
        dev64.map(RAM_LOW, 0)
    assert identity.stats().map_errors + identity.stats().invalid_args >= 1


def test_debug_switch_needs_no_devices(ctx, identity, dev64):
    with pytest.raises(dmap.BusyError):
        identity.debug = True
    assert identity.debug is False
    with pytest.raises(dmap.NoDeviceError):
        identity.debug_counts()  # off
    dev64.detach()
    identity.debug = True
    assert identity.debug is True
    counts = identity.debug_counts()
    assert isinstance(counts, dmap.DebugCounts)
    assert counts.total == 0 and counts.live_mappings == 0
    identity.debug = False


def _debug_setup(ctx, env):
    dom = ctx.identity_domain("dbg")
    dom.debug = True
    dev = ctx.device("buggy", dma_mask=dmap.bits(64))
    dev.attach(dom)
    env.clear_log()
    return dom, dev


def test_debug_reports_misuse(ctx, env):
    dom, dev = _debug_setup(ctx, env)
    R = dmap.DebugReport
    a = dev.map_phys(RAM_LOW, 4096, dmap.Dir.TO_DEVICE)
    assert dom.debug_counts().live_mappings == 1
    dev.unmap_phys(a, 4096, dmap.Dir.TO_DEVICE)
    try:
        dev.unmap_phys(a, 4096, dmap.Dir.TO_DEVICE)  # double unmap
    except dmap.DmapError:
        pass
    c = dom.debug_counts()
    assert c[R.DOUBLE_UNMAP] == 1
    try:
        dev.unmap_phys(RAM_LOW + 0x10_0000, 64)  # never mapped
    except dmap.DmapError:
        pass
    assert dom.debug_counts()[R.UNMAP_UNKNOWN] == 1
    b = dev.map_phys(RAM_LOW, 4096, dmap.Dir.TO_DEVICE)
    try:
        dev.unmap_phys(b, 2048, dmap.Dir.FROM_DEVICE)  # size and direction wrong
    except dmap.DmapError:
        pass
    c = dom.debug_counts()
    assert c[R.SIZE_MISMATCH] == 1 and c[R.DIR_MISMATCH] == 1
    d = dev.map_phys(RAM_LOW, 4096, dmap.Dir.TO_DEVICE)
    try:
        dev.sync_for_cpu(d + 8192, 16, dmap.Dir.TO_DEVICE)  # outside the mapping
    except dmap.DmapError:
        pass
    try:
        dev.sync_for_cpu(d, 16, dmap.Dir.FROM_DEVICE)  # wrong direction
    except dmap.DmapError:
        pass
    c = dom.debug_counts()
    assert c[R.SYNC_OUTSIDE] == 1 and c[R.SYNC_WRONG_DIR] == 1
    dev.unmap_phys(d, 4096, dmap.Dir.TO_DEVICE)
    e = dev.map_phys(RAM_LOW, 4096, check=False)  # error never checked
    dev.unmap_phys(e, 4096)
    assert dom.debug_counts()[R.ERROR_NOT_CHECKED] == 1
    lines = [m.text for m in env.log()]
    assert any("dmap-debug: buggy: " in line for line in lines)
    dev.map_phys(RAM_LOW, 4096)  # leaked: reported at detach
    dev.detach()
    assert dom.debug_counts()[R.LEAK] == 1


def test_debug_is_quiet_for_correct_use(ctx, env):
    dom, dev = _debug_setup(ctx, env)
    with dev.map(RAM_LOW, 4096, dmap.Dir.FROM_DEVICE) as m:
        m.sync_for_cpu()
        m.sync_for_device()
    with dev.map_sg([(RAM_LOW, 4096), (RAM_HIGH, 4096)]) as sg:
        sg.sync_for_cpu()
    with dev.alloc_coherent(4096):
        pass
    # Python objects alive at detach are released before it: no leak report
    dev.map(RAM_LOW, 64)
    live = dev.map(RAM_LOW, 64)
    dev.detach()
    assert not live.live
    assert dom.debug_counts().total == 0


def test_fault_log_overflow_counts_drops(ctx, dev64, identity):
    identity.faults()
    rec0, drop0 = identity.fault_counts()
    for _ in range(300):  # the ring holds 256 by default
        with pytest.raises(dmap.FaultError):
            dev64.dma_read(0x2000, 1)
    rec, drop = identity.fault_counts()
    assert rec - rec0 == 300
    assert drop - drop0 >= 300 - 256
    got = identity.faults()
    assert 0 < len(got) <= 256
    seqs = [f.sequence for f in got]
    assert seqs == sorted(seqs)


def test_domain_close_detaches_and_unmaps(ctx, env, identity, dev64):
    m = dev64.map(RAM_LOW, 4096)
    sg = dev64.map_sg([(RAM_LOW, 16)])
    c = dev64.alloc_coherent(4096)
    identity.close()
    assert identity.closed and "closed" in repr(identity)
    assert not m.live and not sg.live and not c.live
    assert dev64.domain is None and not dev64.closed
    with pytest.raises(dmap.ClosedError):
        identity.stats()
    with pytest.raises(dmap.ClosedError):
        identity.pop_fault()
    with pytest.raises(dmap.ClosedError):
        identity.devices
    identity.close()  # idempotent


def test_domain_context_manager(ctx):
    with ctx.identity_domain("cm") as dom:
        assert not dom.closed
    assert dom.closed

# SPDX-License-Identifier: MIT
"""The bounce backend through Python."""

import pytest

import dmap
from conftest import RAM_HIGH, RAM_LOW, needs

pytestmark = needs("bounce")


@pytest.fixture
def pool(ctx):
    return ctx.bounce_domain("swiotlb", pool_size=4 << 20, max_mapping_size=256 << 10)


def test_settings_and_stats(ctx, pool):
    assert pool.backend == "bounce" and pool.name == "swiotlb"
    s = pool.bounce_stats()
    assert isinstance(s, dmap.BounceStats)
    assert s.pool_bytes == 4 << 20 and s.slot_size == 2048 and s.slots_total == 2048
    assert s.pools == 1 and s.slots_in_use == 0 and s.utilisation == 0.0
    assert s.classes and all(isinstance(c, dmap.BounceClassStats) for c in s.classes)
    assert s.classes[0].block_size == 2048
    d = ctx.bounce_domain("defaults")
    ds = d.bounce_stats()
    assert ds.pool_bytes == 64 << 20
    dev = ctx.device("d")
    dev.attach(d)
    assert dev.max_mapping_size == 1 << 20
    other = ctx.bounce_domain("small-slots", pool_size=1 << 20, slot_size=512, nr_caches=4,
                              per_cpu_caches=False)
    assert other.bounce_stats().slot_size == 512


@pytest.mark.parametrize("kwargs", [
    {"slot_size": 3000},  # not a power of two
    {"slot_size": 256},  # below 512
    {"max_mapping_size": 8 << 20, "pool_size": 4 << 20},  # larger than the pool
    {"nr_caches": 3},
    {"nr_caches": 128},
])
def test_create_rejects(ctx, kwargs):
    with pytest.raises(dmap.InvalidArgumentError) as e:
        ctx.bounce_domain("bad", **kwargs)
    assert e.value.call == "dmap_bounce_domain_create"


def test_create_without_memory_below_limit(ctx):
    with pytest.raises(dmap.OutOfMemoryError):
        ctx.bounce_domain("nowhere", pool_size=4 << 20, phys_limit=0xfffff)


def test_bounce_round_trip(ctx, env, pool):
    dev = ctx.device("d")
    dev.attach(pool)
    pool.counting = True
    env.write(RAM_HIGH, b"to device")
    with dev.map(RAM_HIGH, 4096, dmap.Dir.BIDIRECTIONAL) as m:
        assert m.dma_addr != RAM_HIGH and m.dma_addr <= dmap.bits(32)
        assert dev.dma_read(m.dma_addr, 9) == b"to device"
        dev.dma_write(m.dma_addr, b"from dev!")
        assert env.read(RAM_HIGH, 9) == b"to device"  # not yet synced
        m.sync_for_cpu()
        assert env.read(RAM_HIGH, 9) == b"from dev!"
        env.write(RAM_HIGH, b"cpu again")
        m.sync_for_device()
        assert dev.dma_read(m.dma_addr, 9) == b"cpu again"
        s = pool.bounce_stats()
        assert s.live_mappings == 1 and s.slots_in_use == 2 and s.bytes_in_use == 4096
    s = pool.bounce_stats()
    assert s.slots_in_use == 0 and s.high_water_slots >= 2
    assert s.bytes_to_device >= 8192 and s.bytes_from_device >= 8192
    pool.reset_high_water()
    assert pool.bounce_stats().high_water_slots == 0
    # outside a live mapping the device faults
    with pytest.raises(dmap.FaultError):
        dev.dma_read(m.dma_addr, 4)
    assert pool.faults()


def test_exhaustion_and_too_big(ctx, pool):
    dev = ctx.device("d")
    dev.attach(pool)
    with pytest.raises(dmap.MappingError) as e:
        dev.map(RAM_HIGH, 480 << 10)
    assert "swiotlb" in e.value.message
    held = []
    with pytest.raises(dmap.MappingError) as e:
        for _ in range(64):
            held.append(dev.map(RAM_HIGH, 256 << 10))
    assert len(held) == 16 and "swiotlb" in e.value.message
    s = pool.bounce_stats()
    assert s.failed_full >= 1 and s.failed_too_big == 1 and s.failures >= 2
    delta = pool.bounce_stats() - s
    assert delta.failed_full == 0 and delta.classes == s.classes
    for m in held:
        m.unmap()
    assert pool.bounce_stats().slots_in_use == 0


def test_growth(ctx, env):
    fixed = ctx.bounce_domain("fixed", pool_size=1 << 20)
    with pytest.raises(dmap.PermissionDeniedError):
        fixed.grow(1 << 20)
    grow = ctx.bounce_domain("grow", pool_size=1 << 20, allow_growth=True, growth_cap=2 << 20)
    grow.grow(1 << 20)
    assert grow.bounce_stats().pools == 2 and grow.bounce_stats().pools_added == 1
    with pytest.raises(dmap.NoSpaceError):
        grow.grow(4 << 20)
    with pytest.raises(dmap.InvalidArgumentError):
        grow.grow(-1)


def test_identity_fallback_to_bounce(ctx, env, pool):
    direct = ctx.identity_domain("direct", fallback=pool)
    dev = ctx.device("dev32")
    dev.attach(direct)
    assert dev.max_mapping_size == 256 << 10
    env.write(RAM_HIGH + 0x100, b"bounced")
    with dev.map(RAM_HIGH + 0x100, 7, dmap.Dir.TO_DEVICE) as m:
        assert dev.dma_read(m.dma_addr, 7) == b"bounced"
    with dev.map(RAM_LOW, 16, dmap.Dir.TO_DEVICE) as m:
        assert m.dma_addr == RAM_LOW
    assert direct.stats().fallback_maps == 1
    with dev.map_sg([(RAM_HIGH, 4096), (RAM_LOW, 4096)], dmap.Dir.FROM_DEVICE) as sg:
        for a, n in sg.segments:
            dev.dma_write(a, b"\x5a" * n)
    assert env.read(RAM_HIGH, 4096) == b"\x5a" * 4096
    with dev.alloc_coherent(4096) as buf:
        assert buf.dma_addr <= dmap.bits(32)
    # a closed pool takes its identity domain with it
    pool.close()
    assert direct.closed


def test_not_a_bounce_domain(ctx, identity):
    assert dmap._native.dmap_bounce_is_bounce(identity._ptr()) is False
    with pytest.raises(dmap.InvalidArgumentError):
        dmap.core._call("dmap_bounce_get_stats", dmap._native.dmapy_bounce_stats,
                        identity._ptr())


def test_empty_pool_serves_full_capacity_after_mixed_use(ctx):
    import random
    pool = ctx.bounce_domain("swiotlb", pool_size=8 << 20, max_mapping_size=256 << 10)
    dev = ctx.device("blk0")
    dev.attach(pool)
    rng = random.Random(1)
    live = []
    for _ in range(400):
        n = rng.choice([2048, 4096, 6000, 64 << 10, 100 << 10, 256 << 10])
        try:
            live.append((dev.map_phys(RAM_LOW, n, dmap.Dir.TO_DEVICE, dmap.Attr.NO_WARN), n))
        except dmap.MappingError:
            pass
        if len(live) > 40:
            a, n = live.pop(rng.randrange(len(live)))
            dev.unmap_phys(a, n, dmap.Dir.TO_DEVICE)
    for a, n in live:
        dev.unmap_phys(a, n, dmap.Dir.TO_DEVICE)
    assert pool.bounce_stats().live_mappings == 0
    big = [dev.map_phys(RAM_LOW, 256 << 10, dmap.Dir.TO_DEVICE, dmap.Attr.NO_WARN)
           for _ in range(32)]
    assert len(big) == 32

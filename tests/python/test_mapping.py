# SPDX-License-Identifier: MIT
"""Driver side (map/unmap/sg/sync/coherent) and device side (read/write/translate)."""

import pytest

import dmap
from conftest import RAM_HIGH, RAM_LOW


def test_map_and_device_access(ctx, env, dev64, identity):
    env.write(RAM_HIGH + 0x100, b"payload")
    with dev64.map(RAM_HIGH + 0x100, 7, dmap.Dir.TO_DEVICE) as m:
        assert m.live and m.dma_addr == RAM_HIGH + 0x100  # identity, no offset
        assert m.phys == RAM_HIGH + 0x100 and m.size == 7
        assert m.dir is dmap.Dir.TO_DEVICE and m.attrs == dmap.Attr.NONE
        assert m.kind == "phys" and "TO_DEVICE" in repr(m)
        assert dev64.dma_read(m.dma_addr, 7) == b"payload"
        buf = bytearray(7)
        dev64.dma_read_into(m.dma_addr, memoryview(buf))
        assert buf == b"payload"
        assert dev64.dma_read(m.dma_addr, 0) == b""
    assert not m.live and "unmapped" in repr(m)


def test_device_write_reaches_memory(env, dev64):
    with dev64.map(RAM_LOW, 4096, dmap.Dir.FROM_DEVICE) as m:
        dev64.dma_write(m.dma_addr, b"from device")
        dev64.dma_write(m.dma_addr + 100, memoryview(b"mv"))
        dev64.dma_write(m.dma_addr + 200, bytearray(b"ba"))
        m.sync_for_cpu()
        assert env.read(RAM_LOW, 11) == b"from device"
        assert env.read(RAM_LOW + 100, 2) == b"mv"


def test_translate(dev64):
    with dev64.map(RAM_LOW + 0x10, 64) as m:
        t = dev64.translate(m.dma_addr)
        assert isinstance(t, dmap.Translation)
        assert t.phys == RAM_LOW + 0x10
        assert t.length >= 1
        assert t.perm & dmap.Access.READ
        t2 = dev64.translate(m.dma_addr, dmap.Access.WRITE)
        assert t2.perm & dmap.Access.WRITE
        with pytest.raises(dmap.InvalidArgumentError):
            dev64.translate(m.dma_addr, 0x100)


def test_map_single(env, dev64):
    env.write(RAM_LOW + 0x2000, b"single")
    m = dev64.map_single(RAM_LOW + 0x2000, 6, dmap.Dir.BIDIRECTIONAL)
    assert m.kind == "single"
    assert dev64.dma_read(m.dma_addr, 6) == b"single"
    m.unmap()
    with pytest.raises(dmap.MappingError) as e:
        dev64.map_single(0x10, 4, dmap.Dir.TO_DEVICE)  # not RAM: no CPU pointer
    assert "0x10" in e.value.message


def test_map_errors(ctx, env, dev64):
    with pytest.raises(dmap.MappingError):
        dev64.map(RAM_LOW, 0)  # zero size
    with pytest.raises(dmap.MappingError):
        dev64.map(RAM_LOW, 16, dmap.Dir.NONE)
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.map(RAM_LOW, 16, 7)  # not a direction
    with pytest.raises(dmap.MappingError):
        dev64.map(RAM_LOW, 16, attrs=1 << 40)  # unknown attribute bit
    with pytest.raises(dmap.MappingError):
        dev64.map((1 << 64) - 8, 16)  # wraps
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.map(RAM_LOW, -1)
    # 32-bit device, buffer above 4 GiB, no fallback: a clean error naming the device
    dev32 = ctx.device("dev32")
    dev32.attach(ctx.identity_domain("nofallback"))
    with pytest.raises(dmap.MappingError) as e:
        dev32.map(RAM_HIGH, 4096)
    assert e.value.errno == -12 and "dev32" in e.value.message
    assert e.value.call == "dmap_map_phys"
    # NO_WARN: still an error, no message
    env.clear_log()
    with pytest.raises(dmap.MappingError):
        dev32.map(RAM_HIGH, 4096, attrs=dmap.Attr.NO_WARN)


def test_unmap_twice_and_attrs(dev64):
    m = dev64.map(RAM_LOW, 4096, attrs=dmap.Attr.SKIP_CPU_SYNC)
    assert m.attrs == dmap.Attr.SKIP_CPU_SYNC
    m.unmap(attrs=dmap.Attr.NONE)
    with pytest.raises(dmap.ClosedError):
        m.unmap()
    with pytest.raises(dmap.ClosedError):
        m.sync_for_cpu()
    with pytest.raises(dmap.ClosedError):
        m.sync_for_device()
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.map(RAM_LOW, 16).unmap(attrs=-1)


def test_sync_ranges(dev64):
    with dev64.map(RAM_LOW, 4096, dmap.Dir.BIDIRECTIONAL) as m:
        m.sync_for_device()
        m.sync_for_cpu(100, 200)
        m.sync_for_device(4095, 1)
        with pytest.raises(dmap.InvalidArgumentError):
            m.sync_for_cpu(4096)
        with pytest.raises(dmap.InvalidArgumentError):
            m.sync_for_cpu(0, 4097)
        with pytest.raises(dmap.InvalidArgumentError):
            m.sync_for_device(10, 0)


def test_raw_calls(dev64):
    addr = dev64.map_phys(RAM_LOW, 4096, dmap.Dir.TO_DEVICE)
    assert addr == RAM_LOW
    assert dev64.mapping_error(addr) == 0
    assert dev64.mapping_error(dmap.MAPPING_ERROR) == -12
    dev64.sync_for_device(addr, 4096, dmap.Dir.TO_DEVICE)
    dev64.sync_for_cpu(addr, 16, dmap.Dir.TO_DEVICE)
    dev64.unmap_phys(addr, 4096, dmap.Dir.TO_DEVICE)
    a2 = dev64.map_phys(RAM_LOW, 64, check=False)
    dev64.unmap_single(a2, 64)
    with pytest.raises(dmap.MappingError):
        dev64.map_phys(RAM_LOW, 0)
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.unmap_phys(addr, 0)
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.unmap_single(addr, 16, dmap.Dir.NONE)
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.sync_for_cpu(addr, 0)
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.sync_for_device(addr, 16, dmap.Dir.NONE)


def test_detached_device_calls(ctx):
    dev = ctx.device("loose", dma_mask=dmap.bits(64))
    with pytest.raises(dmap.MappingError):
        dev.map(RAM_LOW, 16)
    with pytest.raises(dmap.NoDeviceError):
        dev.unmap_phys(RAM_LOW, 16)
    with pytest.raises(dmap.NoDeviceError):
        dev.dma_read(RAM_LOW, 4)
    with pytest.raises(dmap.NoDeviceError):
        dev.dma_write(RAM_LOW, b"x")
    with pytest.raises(dmap.NoDeviceError):
        dev.translate(RAM_LOW)
    with pytest.raises(dmap.NoDeviceError):
        dev.sync_for_cpu(RAM_LOW, 16)
    with pytest.raises(dmap.NoDeviceError):
        dev.map_sg([(RAM_LOW, 16)])
    with pytest.raises(dmap.MappingError):
        dev.alloc_coherent(4096)


def test_sg_merge_and_split(env, dev64):
    entries = [(RAM_LOW, 4096), (RAM_LOW + 4096, 4096), (RAM_LOW + 3 * 4096, 100)]
    for i, (p, n) in enumerate(entries):
        env.fill(p, 0x10 + i, n)
    with dev64.map_sg(entries, dmap.Dir.TO_DEVICE) as sg:
        assert sg.count == 2  # the first two are contiguous and merge
        assert sg.segments == [(RAM_LOW, 8192), (RAM_LOW + 3 * 4096, 100)]
        assert sg.entries == entries and sg.total_length == 8292
        assert "3 entries -> 2 segments" in repr(sg)
        data = b"".join(dev64.dma_read(a, n) for a, n in sg.segments)
        assert data == b"\x10" * 4096 + b"\x11" * 4096 + b"\x12" * 100
        sg.sync_for_device()
        sg.sync_for_cpu()
    assert not sg.live and "unmapped" in repr(sg)
    with pytest.raises(dmap.ClosedError):
        sg.unmap()
    with pytest.raises(dmap.ClosedError):
        sg.sync_for_cpu()
    with pytest.raises(dmap.ClosedError):
        sg.sync_for_device()
    # max_seg_size stops merging
    dev64.max_seg_size = 4096
    with dev64.map_sg(entries[:2]) as sg:
        assert sg.count == 2
    # the seg boundary stops merging across it
    dev64.max_seg_size = 1 << 20
    dev64.seg_boundary_mask = 0xfff
    with dev64.map_sg(entries[:2]) as sg:
        assert sg.count == 2


def test_sg_errors(dev64):
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.map_sg([])
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.map_sg([(RAM_LOW, 0)])
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.map_sg([(RAM_LOW, 16)], dmap.Dir.NONE)
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.map_sg([(RAM_LOW, -1)])
    sg = dev64.map_sg([(RAM_LOW, 16)], attrs=dmap.Attr.SKIP_CPU_SYNC)
    sg.unmap(attrs=0)


def test_coherent(env, dev64, identity):
    identity.counting = True
    with dev64.alloc_coherent(8192) as buf:
        assert buf.live and buf.size == 8192
        assert buf.phys is not None and env.is_ram(buf.phys, 8192)
        assert buf.dma_addr == buf.phys  # identity
        assert buf.read(0, 16) == bytes(16)  # zeroed
        buf.write(10, b"cpu")
        assert dev64.dma_read(buf.dma_addr + 10, 3) == b"cpu"
        dev64.dma_write(buf.dma_addr + 100, b"dev")
        assert buf.read(100, 3) == b"dev"
        assert len(buf.read()) == 8192
        assert buf.read(8192, 0) == b""
        buf.write(0, memoryview(b"mv"))
        with pytest.raises(dmap.InvalidArgumentError):
            buf.read(8190, 4)
        with pytest.raises(dmap.InvalidArgumentError):
            buf.write(8190, b"1234")
        assert "CoherentBuffer" in repr(buf)
    assert not buf.live and "freed" in repr(buf)
    with pytest.raises(dmap.ClosedError):
        buf.read(0, 1)
    with pytest.raises(dmap.ClosedError):
        buf.free()
    assert identity.stats().coherent_allocs == 1


def test_coherent_errors(ctx, dev64):
    with pytest.raises(dmap.MappingError):
        dev64.alloc_coherent(0)
    with pytest.raises(dmap.MappingError):
        dev64.alloc_coherent(1 << 40)  # no such memory
    dev64.alloc_coherent(4096).free()


def test_device_side_faults(dev64, identity):
    identity.faults()
    with pytest.raises(dmap.FaultError) as e:
        dev64.dma_read(0x1000, 4)  # no RAM there
    assert e.value.errno == -14 and e.value.call == "dmap_dev_read"
    with pytest.raises(dmap.FaultError):
        dev64.dma_write(0x1000, b"x")
    with pytest.raises(dmap.FaultError):
        dev64.translate(0x1000)
    faults = identity.faults()
    assert len(faults) == 3
    f = faults[0]
    assert isinstance(f, dmap.Fault)
    assert f.device == "dev64" and f.stream_id == 0x42 and f.addr == 0x1000
    assert f.access & dmap.Access.READ
    assert faults[1].access & dmap.Access.WRITE
    assert f.reason == dmap.FaultReason.NO_MEMORY and f.reason_name == "no-memory"
    assert f.raw_format == dmap.RawFormat.NONE and f.hardware is None and f.event_id is None
    assert "dev64" in str(f) and "0x1000" in str(f)
    assert [x.sequence for x in faults] == sorted(x.sequence for x in faults)
    assert identity.pop_fault() is None
    recorded, dropped = identity.fault_counts()
    assert recorded >= 3 and dropped == 0
    assert identity.stats().faults >= 3


def test_dma_read_rejects_bad_buffers(dev64):
    with pytest.raises(dmap.InvalidArgumentError):
        dev64.dma_read(RAM_LOW, -1)
    with pytest.raises(TypeError):
        dev64.dma_write(RAM_LOW, "str is not bytes")
    with pytest.raises((TypeError, BufferError)):
        dev64.dma_read_into(RAM_LOW, b"immutable")

# SPDX-License-Identifier: MIT
"""Devices: creation, properties, masks, attach/detach."""

import pytest

import dmap
from conftest import RAM_HIGH, RAM_LOW


def test_defaults(ctx):
    dev = ctx.device()
    info = dev.info()
    assert info["name"] == "dev" and dev.name == "dev"
    assert dev.dma_mask == dmap.bits(32)
    assert dev.coherent_dma_mask == dmap.bits(32)
    assert dev.max_seg_size == 65536
    assert dev.seg_boundary_mask == dmap.bits(64)
    assert dev.min_align_mask == 0
    assert dev.bus_dma_limit == 0
    assert dev.stream_id == 0
    assert dev.flags == dmap.DevFlag.NONE
    assert dev.domain is None
    assert "dev" in repr(dev)


def test_all_properties(ctx):
    dev = ctx.device("nvme0", stream_id=0x1234, dma_mask=dmap.bits(48),
                     coherent_dma_mask=dmap.bits(40), bus_dma_limit=dmap.bits(46),
                     max_seg_size=1 << 20, seg_boundary_mask=0xffff_ffff, min_align_mask=4095,
                     coherent=True, untrusted=True)
    assert dev.stream_id == 0x1234
    assert dev.dma_mask == dmap.bits(48)
    assert dev.coherent_dma_mask == dmap.bits(40)
    assert dev.bus_dma_limit == dmap.bits(46)
    assert dev.max_seg_size == 1 << 20
    assert dev.seg_boundary_mask == 0xffff_ffff
    assert dev.min_align_mask == 4095
    assert dev.flags == dmap.DevFlag.COHERENT | dmap.DevFlag.UNTRUSTED
    dev2 = ctx.device("f", flags=dmap.DevFlag.COHERENT)
    assert dev2.flags == dmap.DevFlag.COHERENT


def test_long_name_is_truncated(ctx):
    dev = ctx.device("x" * 100)
    assert dev.name == "x" * (dmap._native.NAME_MAX - 1)


def test_setters(ctx):
    dev = ctx.device()
    dev.dma_mask = dmap.bits(64)
    assert dev.dma_mask == dmap.bits(64)
    dev.coherent_dma_mask = dmap.bits(36)
    assert dev.coherent_dma_mask == dmap.bits(36)
    dev.set_mask_and_coherent(dmap.bits(44))
    assert dev.dma_mask == dmap.bits(44) and dev.coherent_dma_mask == dmap.bits(44)
    # legacy virtio: 32 + PAGE_SHIFT bits
    dev.dma_mask = dmap.bits(32 + 12)
    assert dev.dma_mask == dmap.bits(44)
    dev.max_seg_size = 4096
    assert dev.max_seg_size == 4096
    dev.seg_boundary_mask = 0xfff
    assert dev.seg_boundary_mask == 0xfff
    dev.min_align_mask = 0x7ff
    assert dev.min_align_mask == 0x7ff


@pytest.mark.parametrize("kwargs", [
    {"flags": 1 << 20},  # unknown flag bit
    {"seg_boundary_mask": 0x1234},  # mask+1 not a power of two
    {"min_align_mask": 0x1001},  # not 2^k - 1
])
def test_create_rejects(ctx, kwargs):
    with pytest.raises(dmap.InvalidArgumentError) as e:
        ctx.device("bad", **kwargs)
    assert e.value.errno == -22
    assert e.value.call == "dmap_dev_create"


def test_create_checks_python_arguments(ctx):
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.device(123)
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.device("d", dma_mask=-1)
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.device("d", dma_mask=1 << 64)
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.device("d", stream_id=1 << 32)
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.device("d", dma_mask=1.5)


@pytest.mark.parametrize("attr,value", [
    ("dma_mask", 0), ("coherent_dma_mask", 0), ("max_seg_size", 0),
    ("seg_boundary_mask", 0x1233), ("min_align_mask", 6),
])
def test_setter_rejects(ctx, attr, value):
    dev = ctx.device()
    with pytest.raises(dmap.InvalidArgumentError):
        setattr(dev, attr, value)
    with pytest.raises(dmap.InvalidArgumentError):
        dev.set_mask_and_coherent(0)


def test_attach_detach(ctx, identity):
    dev = ctx.device("d")
    dom = dev.attach(identity)
    assert dev.domain is identity and dom.name == "ident"
    assert dev in identity.devices
    assert "on 'ident'" in repr(dev)
    with pytest.raises(dmap.BusyError):
        dev.attach(identity)
    other = ctx.identity_domain("other")
    with pytest.raises(dmap.BusyError):
        dev.attach(other)
    dev.detach()
    assert dev.domain is None and identity.devices == []
    with pytest.raises(dmap.NoDeviceError):
        dev.detach()
    dev.attach(other)
    assert dev.domain is other


def test_attach_context_manager(ctx, identity):
    dev = ctx.device("d")
    with dev.attach(identity) as dom:
        assert dom is identity and dev.domain is identity
    assert dev.domain is None
    # detaching inside the block is fine
    with dev.attach(identity):
        dev.detach()
    assert dev.domain is None


def test_attach_rejects(ctx, identity):
    dev = ctx.device("d")
    with pytest.raises(dmap.InvalidArgumentError):
        dev.attach("not a domain")
    with dmap.Context() as other_ctx:
        foreign = other_ctx.identity_domain()
        with pytest.raises(dmap.InvalidArgumentError):
            dev.attach(foreign)
    identity.close()
    with pytest.raises(dmap.ClosedError):
        dev.attach(identity)


def test_limits(ctx, identity):
    dev = ctx.device("d")
    assert dev.max_mapping_size == 0  # detached
    assert dev.addressing_limited is False
    dev.attach(identity)
    assert dev.max_mapping_size == dmap.SIZE_MAX
    # RAM above 4 GiB exists: a 32-bit device is addressing-limited
    assert dev.addressing_limited is True
    dev.dma_mask = dmap.bits(64)
    assert dev.addressing_limited is False


def test_closed_device(ctx, identity):
    dev = ctx.device("d")
    dev.attach(identity)
    dev.close()
    assert dev.closed and repr(dev) == "<dmap.Device closed>"
    assert identity.devices == []
    for call in (lambda: dev.name, dev.info, lambda: dev.map(RAM_LOW, 4096),
                 lambda: dev.dma_read(0, 1), lambda: dev.attach(identity), dev.detach,
                 lambda: dev.max_mapping_size):
        with pytest.raises(dmap.ClosedError):
            call()
    dev.close()  # idempotent


def test_device_context_manager(ctx, identity):
    with ctx.device("d") as dev:
        dev.attach(identity)
        m = dev.map(RAM_HIGH, 4096) if dev.dma_mask > RAM_HIGH else dev.map(RAM_LOW, 4096)
    assert dev.closed and not m.live

# SPDX-License-Identifier: MIT
"""Exception paths that need a particular setup, and the release graph's own rules."""

import pytest

import dmap
from dmap._lifetime import Node
from conftest import RAM_HIGH, needs


def test_closed_context(ctx):
    other = dmap.Context(ctx.env)
    other.close()
    with pytest.raises(dmap.ClosedError):
        other.device("d")
    with pytest.raises(dmap.ClosedError):
        other.identity_domain()
    with pytest.raises(RuntimeError):  # the graph refuses children of a closed parent
        Node("child", lambda: 0, [other._node])


@needs("bounce")
def test_tracked_unmap_failing_raises_and_never_crashes(ctx, env):
    pool = ctx.bounce_domain("swiotlb", pool_size=1 << 20)
    dev = ctx.device("d")
    dev.attach(pool)
    m = dev.map(RAM_HIGH, 4096)
    dev.unmap_phys(m.dma_addr, 4096)  # behind the Mapping's back
    with pytest.raises(dmap.NotFoundError) as e:
        m.unmap()  # the pool no longer knows the address
    assert e.value.call == "dmap_unmap_phys" and e.value.errno == -2
    assert not m.live
    s = dev.map_single(RAM_HIGH, 64)
    dev.unmap_single(s.dma_addr, 64)
    with pytest.raises(dmap.NotFoundError) as e:
        s.unmap()
    assert e.value.call == "dmap_unmap_single"
    sg = dev.map_sg([(RAM_HIGH, 4096)])
    dev.unmap_phys(sg.segments[0][0], 4096)
    with pytest.raises(dmap.DmapError):
        sg.unmap()
    # none of this blocks releasing the device and the domain
    dev.close()
    pool.close()
    assert pool.closed


@needs("bounce")
def test_bounce_rejects_python_arguments(ctx):
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.bounce_domain(5)
    with pytest.raises(dmap.InvalidArgumentError):
        ctx.bounce_domain("x", pool_size=-1)
    pool = ctx.bounce_domain("x", pool_size=1 << 20)
    with pytest.raises(TypeError):
        pool.bounce_stats() - pool.stats()


def test_node_rules():
    log = []
    parent = Node("parent", lambda: log.append("parent") or 0)
    a = Node("a", lambda: log.append("a") or 0, [parent])
    b = Node("b", lambda: log.append("b") or 0, [parent])
    c = Node("c", lambda: log.append("c") or 0, [a, b])  # depends on both
    assert parent.release() == 0
    assert log == ["c", "b", "a", "parent"]  # dependents first, newest first
    assert not c.live and c.state == "released"
    assert parent.release() == 0  # idempotent


def test_node_failure_blocks_parent_and_keeps_it():
    log = []
    parent = Node("parent", lambda: log.append("parent") or 0)
    Node("stuck", lambda: -16, [parent])  # a destructor that fails
    Node("leaky", lambda: -2, [parent], blocks_parent=False)
    assert parent.release() == -16
    assert parent.state == "leaked" and log == []  # parent not freed: still in use
    assert parent.release() == -16  # stays leaked, never freed later by accident


def test_node_destructor_exception_is_contained():
    def boom():
        raise RuntimeError("boom")
    n = Node("n", boom)
    assert n.release() == -5 and n.state == "leaked"
    m = Node("m", boom)
    m.release_quietly()
    assert m.state == "leaked"


@needs("xen")
def test_xen_guest_context_manager():
    with dmap.Environment() as env:
        with dmap.XenGuest(env, guest_frames=256, plain=True) as g:
            assert not g.closed
        assert g.closed

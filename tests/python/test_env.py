# SPDX-License-Identifier: MIT
"""Environment, simulated memory, logging, context."""

import pytest

import dmap
from conftest import RAM_HIGH, RAM_LOW, warnings


def test_ram_read_write_fill(env):
    env.write(RAM_LOW + 10, b"hello")
    assert env.read(RAM_LOW + 10, 5) == b"hello"
    env.write(RAM_LOW + 20, memoryview(b"xyz"))
    env.write(RAM_LOW + 30, bytearray(b"abc"))
    buf = bytearray(3)
    env.read_into(RAM_LOW + 30, buf)
    assert buf == b"abc"
    mv = memoryview(bytearray(8))
    env.read_into(RAM_LOW + 20, mv[:3])
    assert bytes(mv[:3]) == b"xyz"
    env.fill(RAM_LOW, 0xAB, 4)
    assert env.read(RAM_LOW, 4) == b"\xab" * 4
    assert env.read(RAM_LOW, 0) == b""
    env.write(RAM_LOW, b"")  # zero length: no-op
    env.fill(RAM_LOW, 0, 0)


def test_ram_spanning_regions(env):
    env.add_ram(RAM_HIGH + (16 << 20), 1 << 20)
    env.write(RAM_HIGH + (16 << 20) - 2, b"abcd")
    assert env.read(RAM_HIGH + (16 << 20) - 2, 4) == b"abcd"


def test_ram_errors(env):
    with pytest.raises(dmap.FaultError):
        env.read(0x10, 4)
    with pytest.raises(dmap.FaultError):
        env.write(0x10, b"x")
    with pytest.raises(dmap.FaultError):
        env.fill(0x10, 1, 1)
    with pytest.raises(dmap.InvalidArgumentError):
        env.add_ram(0x1001, 4096)  # unaligned
    with pytest.raises(dmap.InvalidArgumentError):
        env.add_ram(0x2000, 100)  # size not a multiple of 4 KiB
    with pytest.raises(dmap.InvalidArgumentError):
        env.add_ram(0x2000, 0)  # rejected before the call
    with pytest.raises(dmap.ExistsError) as e:
        env.add_ram(RAM_LOW, 4096)
    assert e.value.message  # the library names both regions
    with pytest.raises(dmap.InvalidArgumentError):
        env.read(-1, 4)
    with pytest.raises(dmap.InvalidArgumentError):
        env.read("x", 4)
    with pytest.raises(dmap.InvalidArgumentError):
        env.fill(RAM_LOW, 256, 1)
    with pytest.raises(TypeError):
        env.write(RAM_LOW, "not bytes")
    with pytest.raises((TypeError, BufferError)):
        env.read_into(RAM_LOW, b"read-only")


def test_regions_and_removal(env):
    r = env.add_ram(0x2000_0000, 1 << 20)
    assert repr(r).startswith("<dmap.RamRegion")
    assert r.end == 0x2010_0000 and 0x2000_0000 in r and r.phys(16) == 0x2000_0010
    with pytest.raises(dmap.InvalidArgumentError):
        r.phys(1 << 20)
    assert r in env.regions
    assert env.is_ram(0x2000_0000, 4096)
    r.remove()
    assert r.closed and r not in env.regions
    assert not env.is_ram(0x2000_0000)
    assert "removed" in repr(r)
    r.remove()  # already removed: nothing to do
    with pytest.raises(dmap.FaultError):
        env.read(0x2000_0000, 1)


def test_is_ram(env):
    assert env.is_ram(RAM_LOW)
    assert not env.is_ram(0)
    assert not env.is_ram(RAM_LOW, 0)


def test_log_capture(ctx, env):
    dev = ctx.device("lonely")
    env.clear_log()
    n0 = env.messages_logged
    with pytest.raises(dmap.MappingError) as e:
        dev.map(RAM_LOW, 4096)  # not attached
    assert "lonely" in e.value.message
    msgs = env.log()
    assert msgs and all(isinstance(m, dmap.LogMessage) for m in msgs)
    assert any("lonely" in m.text for m in msgs)
    assert str(msgs[-1]).startswith(msgs[-1].level.name.lower())
    assert env.messages_logged > n0
    assert env.log(clear=True)
    assert env.log() == []
    assert env.log(min_level=dmap.LogLevel.ERR) == []


def test_echo(env, capfd):
    assert env.echo is None
    env.echo = dmap.LogLevel.WARN
    assert env.echo == dmap.LogLevel.WARN
    ctx = dmap.Context(env)
    dev = ctx.device("echoed")
    with pytest.raises(dmap.MappingError):
        dev.map(RAM_LOW, 16)
    err = capfd.readouterr().err
    assert "echoed" in err
    env.echo = None
    with pytest.raises(dmap.MappingError):
        dev.map(RAM_LOW, 16)
    assert "echoed" not in capfd.readouterr().err


def test_counters(env):
    c = env.counters()
    assert isinstance(c, dmap.HostedCounters)
    assert len(c.messages) == 8
    assert c.cache_cleans == 0


def test_non_coherent_environment_counts_cache_maintenance():
    with dmap.Context(non_coherent=True) as ctx:
        assert ctx.env.non_coherent
        ctx.add_ram(RAM_LOW, 1 << 20)
        dom = ctx.identity_domain()
        dev = ctx.device("nc")
        dev.attach(dom)
        with dev.map(RAM_LOW, 4096, dmap.Dir.TO_DEVICE):
            pass
        with dev.map(RAM_LOW, 4096, dmap.Dir.FROM_DEVICE):
            pass
        c = ctx.env.counters()
        assert c.cache_cleans >= 1 and c.cache_invalidates >= 1
        # a coherent device needs none
        cdev = ctx.device("coh", coherent=True)
        cdev.attach(dom)
        before = ctx.env.counters()
        with cdev.map(RAM_LOW, 4096, dmap.Dir.TO_DEVICE):
            pass
        assert ctx.env.counters().cache_cleans == before.cache_cleans


def test_context_owns_its_environment():
    ctx = dmap.Context()
    env = ctx.env
    assert not env.closed
    ctx.close()
    assert ctx.closed and env.closed
    assert repr(ctx) == "<dmap.Context closed>" and "closed" in repr(env)


def test_context_on_shared_environment():
    with dmap.Environment() as env:
        a = env.context()
        b = dmap.Context(env)
        a.close()
        assert not env.closed and not b.closed
        assert "Context" in repr(b)
    assert b.closed


def test_context_rejects_env_options_with_env():
    with dmap.Environment() as env:
        with pytest.raises(dmap.InvalidArgumentError):
            dmap.Context(env, non_coherent=True)


def test_closed_environment_raises():
    env = dmap.Environment()
    env.close()
    env.close()  # idempotent
    for call in (lambda: env.read(0, 1), lambda: env.add_ram(0, 4096), env.context,
                 env.log, env.counters, lambda: setattr(env, "echo", None)):
        with pytest.raises(dmap.ClosedError):
            call()


def test_last_message_is_per_call(ctx, env):
    dev = ctx.device("one")
    with pytest.raises(dmap.MappingError) as e1:
        dev.map(RAM_LOW, 4096)
    assert e1.value.message
    # a later failure without its own message must not inherit the old one
    with pytest.raises(dmap.InvalidArgumentError) as e2:
        env.add_ram(0x3000_0001, 4096)
    assert "one" not in e2.value.message
    assert warnings(env)

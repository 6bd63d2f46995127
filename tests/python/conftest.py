# SPDX-License-Identifier: MIT
"""Fixtures shared by the binding tests: a context with simulated RAM."""

import os
import sys

import pytest

# Run from a source checkout without ctest: fall back to the usual build dirs.
if "PYTHONPATH" not in os.environ:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for cand in ("build", "build-python"):
        path = os.path.join(root, cand, "bindings", "python")
        if os.path.isdir(os.path.join(path, "dmap")):
            sys.path.insert(0, path)
            break

import dmap  # noqa: E402

RAM_LOW = 0x4000_0000  # 1 GiB, below 4 GiB: pool memory
RAM_LOW_SIZE = 96 << 20
RAM_HIGH = 0x1_0000_0000  # 4 GiB: what a 32-bit device cannot reach
RAM_HIGH_SIZE = 16 << 20


@pytest.fixture
def ctx():
    c = dmap.Context()
    c.add_ram(RAM_LOW, RAM_LOW_SIZE, pool=True)
    c.add_ram(RAM_HIGH, RAM_HIGH_SIZE)
    yield c
    c.close()


@pytest.fixture
def env(ctx):
    return ctx.env


@pytest.fixture
def identity(ctx):
    return ctx.identity_domain("ident")


@pytest.fixture
def dev64(ctx, identity):
    d = ctx.device("dev64", dma_mask=dmap.bits(64), coherent_dma_mask=dmap.bits(64),
                   stream_id=0x42)
    d.attach(identity)
    return d


def needs(backend):
    have = {"bounce": dmap.HAVE_BOUNCE, "iommu": dmap.HAVE_IOMMU, "xen": dmap.HAVE_XEN}[backend]
    return pytest.mark.skipif(not have, reason="backend %s not built" % backend)


def warnings(env):
    return [m.text for m in env.log(min_level=dmap.LogLevel.WARN)]

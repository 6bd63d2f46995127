# SPDX-License-Identifier: MIT
"""dmap: OS-agnostic DMA mapping (Linux DMA API semantics), from Python.

A SWIG extension (``dmap.dmap_native``) wraps the C library; this package
makes it feel like Python: exceptions instead of error codes (see
``dmap.errors``), context managers for mappings, domains and devices,
bytes/memoryview for device reads and writes, enums for directions and
formats, and object lifetimes that are safe in any release order.

Quick start::

    import dmap

    with dmap.Context() as ctx:                       # hosted environment + context
        ctx.add_ram(0x8000_0000, 16 << 20)            # simulated RAM
        dom = ctx.identity_domain()
        dev = ctx.device("nic0", dma_mask=dmap.bits(64))
        dev.attach(dom)
        ctx.env.write(0x8000_1000, b"hello")
        with dev.map(0x8000_1000, 4096, dmap.Dir.TO_DEVICE) as m:
            assert dev.dma_read(m.dma_addr, 5) == b"hello"

``dmap.BACKENDS`` lists the backends this build includes. docs/python.md has
the tutorial and the reference.
"""

try:
    from . import dmap_native as _native
except ImportError as _e:  # e.g. the source tree's dmap/ shadowing the built one
    raise ImportError("dmap's native extension is missing next to %s: import dmap from the "
                      "build tree (PYTHONPATH=<build>/bindings/python), not from the source "
                      "tree (%s)" % (__path__[0], _e)) from _e
from .enums import (Access, Attr, DebugReport, DevFlag, Dir, FaultReason, LogLevel, RawFormat,
                    bits)
from .errors import (BusyError, ClosedError, DmapError, DmapIOError, ExistsError, FaultError,
                     InvalidArgumentError, MappingError, NoDeviceError, NoSpaceError,
                     NotFoundError, NotSupportedError, OutOfMemoryError, PermissionDeniedError,
                     RangeError, TooBigError, error_from_errno)
from .core import (MAPPING_ERROR, SIZE_MAX, CoherentBuffer, Context, DebugCounts, Device,
                   Domain, DomainStats, Environment, Fault, HostedCounters, IdentityDomain,
                   LogMessage, Mapping, RamRegion, SgMapping, Translation, decode_raw_fault)
from . import backends as _backends
from .backends import *  # noqa: F401,F403  (the backends this build has)

HAVE_BOUNCE = _backends.HAVE_BOUNCE
HAVE_IOMMU = _backends.HAVE_IOMMU
HAVE_XEN = _backends.HAVE_XEN
BACKENDS = ("identity",) + tuple(
    name for name, have in (("bounce", HAVE_BOUNCE), ("iommu", HAVE_IOMMU), ("xen", HAVE_XEN))
    if have)

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

__version__ = "0.1.0"

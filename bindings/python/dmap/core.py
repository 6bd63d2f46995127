# SPDX-License-Identifier: MIT
"""Environment, simulated memory, context, devices, domains and mappings.

Read docs/python.md for a walk-through. In one paragraph: an Environment is
the hosted (POSIX) environment with simulated physical memory; a Context is a
library context on it; Devices describe how a device addresses memory and
are attached to a Domain (one backend instance: identity, bounce, iommu, xen).
The driver side maps buffers (``dev.map``, ``dev.map_sg``,
``dev.alloc_coherent``); the device side moves data through the device's
translation (``dev.dma_read``, ``dev.dma_write``, ``dev.translate``), and
failed accesses land in the domain's fault log.
"""

import dataclasses
import operator
import struct
import weakref

from . import dmap_native as _n
from ._lifetime import Closable, Node, serialized
from .enums import Access, Attr, DebugReport, DevFlag, Dir, FaultReason, LogLevel, RawFormat
from .errors import (ClosedError, InvalidArgumentError, MappingError, error_from_errno)

__all__ = [
    "Environment", "RamRegion", "Context", "Device", "Domain", "IdentityDomain",
    "Mapping", "SgMapping", "CoherentBuffer", "Translation", "DomainStats",
    "DebugCounts", "Fault", "LogMessage", "HostedCounters", "MAPPING_ERROR", "SIZE_MAX",
]

MAPPING_ERROR = _n.MAPPING_ERROR
"""The all-ones bus address map calls return on failure (DMAP_MAPPING_ERROR)."""
SIZE_MAX = _n.dmapy_size_max()
"""What max_mapping_size reports when a device's mappings are not size-limited."""

_U64 = (1 << 64) - 1


# ---- argument checking and error conversion ---------------------------------

def _int(value, name, lo=0, hi=_U64):
    try:
        v = operator.index(value)
    except TypeError:
        raise InvalidArgumentError(message="%s must be an integer, got %r" % (name, value),
                                   call="dmap") from None
    if not lo <= v <= hi:
        raise InvalidArgumentError(message="%s=%#x is outside [%#x, %#x]" % (name, v, lo, hi),
                                   call="dmap")
    return v


def _dir(value):
    try:
        return int(Dir(value))
    except ValueError:
        raise InvalidArgumentError(message="not a direction: %r" % (value,), call="dmap") from None


def _attrs(value):
    return _int(value, "attrs", 0, (1 << 63) - 1)


def _call(name, fn, *args):
    """Call a native function returning an int (or [int, ...]); raise on a negative errno."""
    _n.dmapy_clear_last_message()
    result = fn(*args)
    rc = result[0] if isinstance(result, (list, tuple)) else result
    if rc < 0:
        raise error_from_errno(rc, _n.dmapy_last_message(), name)
    return result


def _check_addr(name, addr):
    if addr == MAPPING_ERROR:
        raise MappingError(message=_n.dmapy_last_message(), call=name)
    return addr


# ---- value types --------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LogMessage:
    """One message the library logged."""
    level: LogLevel
    text: str

    def __str__(self):
        return "%s: %s" % (self.level.name.lower(), self.text)


@dataclasses.dataclass(frozen=True)
class HostedCounters:
    """What the hosted environment counted (struct dmap_hosted_counters)."""
    messages: tuple
    cache_cleans: int
    cache_invalidates: int
    pool_bytes_in_use: int


@dataclasses.dataclass(frozen=True)
class Translation:
    """Where a bus address lands: ``phys``, bytes contiguous from there (``length``), ``perm``."""
    phys: int
    length: int
    perm: Access


class _Counters:
    """Mixin for frozen dataclasses of counters: ``after - before`` gives the delta."""

    def __sub__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(**{f.name: getattr(self, f.name) - getattr(other, f.name)
                             for f in dataclasses.fields(self)})

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DomainStats(_Counters):
    """Counters every domain keeps (struct dmap_domain_stats).

    ``maps``, ``unmaps``, ``sg_maps``, ``sg_segments_merged``, ``bytes_mapped`` and
    ``syncs`` count only while ``domain.counting`` is on; the others always.
    """
    maps: int = 0
    unmaps: int = 0
    sg_maps: int = 0
    sg_segments_merged: int = 0
    bytes_mapped: int = 0
    syncs: int = 0
    coherent_allocs: int = 0
    map_errors: int = 0
    invalid_args: int = 0
    fallback_maps: int = 0
    faults: int = 0


@dataclasses.dataclass(frozen=True)
class DebugCounts:
    """Reports of the debug layer per kind, and mappings it tracks now."""
    reports: dict
    live_mappings: int

    def __getitem__(self, kind):
        return self.reports[DebugReport(kind)]

    @property
    def total(self):
        return sum(self.reports.values())


@dataclasses.dataclass(frozen=True)
class Fault:
    """One record of a domain's fault log, decoded and raw.

    ``raw`` is the hardware record bit for bit (an SMMUv3 32-byte event, a
    VT-d 16-byte fault record) when the backend models one; ``hardware``
    decodes its fields.
    """
    sequence: int
    device: str
    stream_id: int
    addr: int
    access: Access
    reason: FaultReason
    raw_format: RawFormat
    raw: bytes

    @property
    def reason_name(self):
        """The library's name for the reason ("translation", "permission" ...)."""
        return _n.dmap_fault_reason_name(int(self.reason))

    @property
    def event_id(self):
        """SMMUv3 event type (0x10 F_TRANSLATION ...) or VT-d fault reason; None without a record."""
        hw = self.hardware
        if hw is None:
            return None
        return hw.get("event_id", hw.get("fault_reason"))

    @property
    def hardware(self):
        """The raw record's fields as a dict, or None when there is no record."""
        return decode_raw_fault(self.raw_format, self.raw)

    def __str__(self):
        text = "fault #%d: %s (sid %#x) %s at %#x: %s" % (
            self.sequence, self.device, self.stream_id, _access_text(self.access),
            self.addr, self.reason_name)
        if self.event_id is not None:
            text += " [%s %#x]" % ("event" if self.raw_format == RawFormat.SMMUV3_EVENT
                                   else "fault reason", self.event_id)
        return text


def _access_text(access):
    parts = [n for bit, n in ((Access.READ, "read"), (Access.WRITE, "write"),
                              (Access.PRIV, "priv"), (Access.EXEC, "exec")) if access & bit]
    return "+".join(parts) or "none"


SMMUV3_EVENT_NAMES = {
    0x01: "F_UUT", 0x02: "C_BAD_STREAMID", 0x03: "F_STE_FETCH", 0x04: "C_BAD_STE",
    0x05: "F_BAD_ATS_TREQ", 0x06: "F_STREAM_DISABLED", 0x07: "F_TRANSL_FORBIDDEN",
    0x08: "C_BAD_SUBSTREAMID", 0x09: "F_CD_FETCH", 0x0a: "C_BAD_CD", 0x0b: "F_WALK_EABT",
    0x10: "F_TRANSLATION", 0x11: "F_ADDR_SIZE", 0x12: "F_ACCESS", 0x13: "F_PERMISSION",
    0x20: "F_TLB_CONFLICT", 0x21: "F_CFG_CONFLICT", 0x24: "E_PAGE_REQUEST",
    0x25: "F_VMS_FETCH",
}


def decode_raw_fault(raw_format, raw):
    """Decode a raw fault record into a dict of hardware fields (None for RawFormat.NONE).

    SMMUv3 event (spec 7.3; Linux arm-smmu-v3.h EVTQ_*): event_id, event_name,
    ssv, substream_id, stream_id, stall, pnu, ind, rnw (1 = read), s2, clazz,
    input_addr. VT-d fault recording register (spec 10.4.14): fault_info
    (page address), source_id, fault_reason, type_read, pasid_present, pasid,
    fault.
    """
    raw = bytes(raw)
    if raw_format == RawFormat.SMMUV3_EVENT and len(raw) >= 32:
        d0, d1, d2, d3 = struct.unpack("<4Q", raw[:32])
        eid = d0 & 0xff
        return {
            "event_id": eid,
            "event_name": SMMUV3_EVENT_NAMES.get(eid, "unknown"),
            "ssv": (d0 >> 11) & 1,
            "substream_id": (d0 >> 12) & 0xfffff,
            "stream_id": d0 >> 32,
            "stall": (d1 >> 31) & 1,
            "pnu": (d1 >> 33) & 1,
            "ind": (d1 >> 34) & 1,
            "rnw": (d1 >> 35) & 1,
            "s2": (d1 >> 39) & 1,
            "clazz": (d1 >> 40) & 3,
            "input_addr": d2,
            "ipa": d3 & 0x000ffffffffff000,
        }
    if raw_format == RawFormat.VTD_FAULT and len(raw) >= 16:
        lo, hi = struct.unpack("<2Q", raw[:16])
        return {
            "fault_info": lo & ~0xfff & _U64,
            "source_id": hi & 0xffff,
            "pasid_present": (hi >> 31) & 1,
            "fault_reason": (hi >> 32) & 0xff,
            "pasid": (hi >> 40) & 0xfffff,
            "type_read": (hi >> 62) & 1,
            "fault": (hi >> 63) & 1,
        }
    return None


# ---- environment and memory -------------------------------------------------

@serialized
class Environment(Closable):
    """The hosted environment: allocation, RCU, logging and simulated physical memory.

    Args:
        echo: also print library messages at or above this severity to stderr
            (a LogLevel, e.g. LogLevel.WARN); None prints nothing. Every
            message is captured either way: see log().
        non_coherent: simulate a non-coherent system (cache maintenance hooks
            are installed and counted).

    Usable as a context manager; close() releases everything created on it.
    """

    def __init__(self, *, echo=None, non_coherent=False):
        rc, ptr = _call("dmap_hosted_create", _n.dmapy_env_create,
                        int(echo) if echo is not None else 0, bool(non_coherent))
        self._env = ptr
        self._node = Node("environment", lambda: _n.dmapy_env_destroy(ptr))
        self._finalizer = weakref.finalize(self, self._node.release_quietly)
        self.non_coherent = bool(non_coherent)
        self._echo = LogLevel(echo) if echo is not None else None
        self._regions = {}

    # lifetime
    def _ptr(self):
        if not self._node.live:
            raise ClosedError(message="environment is closed", call="dmap")
        return self._env

    def close(self):
        """Release every object created on this environment, then the environment."""
        rc = self._node.release()
        if rc:
            raise error_from_errno(rc, "environment could not be released", "dmap_hosted_destroy")

    def __repr__(self):
        return "<dmap.Environment%s>" % (" closed" if self.closed else "")

    # logging
    @property
    def echo(self):
        """Severity from which messages are also printed to stderr (None: none)."""
        return self._echo

    @echo.setter
    def echo(self, level):
        self._echo = LogLevel(level) if level is not None else None
        _n.dmapy_env_set_echo(self._ptr(), int(level) if level is not None else 0)

    def log(self, clear=False, min_level=LogLevel.DEBUG):
        """Messages captured so far (oldest first, up to the last 1024), as LogMessage.

        ``clear`` empties the capture; ``min_level`` keeps only messages at
        least that severe (LogLevel.WARN: warnings and errors).
        """
        out = []
        for level, text in _n.dmapy_env_log(self._ptr(), bool(clear)):
            try:
                lvl = LogLevel(level)
            except ValueError:
                lvl = level
            if level <= int(min_level):
                out.append(LogMessage(lvl, text))
        return out

    def clear_log(self):
        """Forget the captured messages."""
        _n.dmapy_env_log(self._ptr(), True)

    @property
    def messages_logged(self):
        """Messages ever logged through this environment."""
        return _n.dmapy_env_log_totals(self._ptr())[0]

    def counters(self):
        """The environment's counters (HostedCounters)."""
        _rc, d = _call("dmap_hosted_get_counters", _n.dmapy_env_counters, self._ptr())
        return HostedCounters(**d)

    # memory
    def add_ram(self, base, size, pool=False):
        """Register simulated RAM [base, base+size) (4 KiB aligned) and return its RamRegion.

        ``pool=True`` lets the environment hand its pages out for coherent
        allocations, page tables and bounce pools.
        """
        base = _int(base, "base")
        size = _int(size, "size", 1)
        flags = _n.HOSTED_MEM_POOL if pool else 0
        _call("dmap_hosted_mem_add", _n.dmapy_mem_add, self._ptr(), base, size, flags)
        return RamRegion(self, base, size, bool(pool))

    @property
    def regions(self):
        """Live RAM regions, by base address."""
        return [r for r in list(self._regions.values()) if not r.closed]

    def read(self, phys, length):
        """CPU read of ``length`` bytes of simulated RAM at ``phys`` (may span regions)."""
        buf = bytearray(_int(length, "length", 0, 1 << 40))
        self.read_into(phys, buf)
        return bytes(buf)

    def read_into(self, phys, buffer):
        """CPU read into a writable buffer (bytearray, memoryview ...)."""
        _call("dmap_phys_read", _n.dmapy_phys_read, self._ptr(), _int(phys, "phys"), buffer)

    def write(self, phys, data):
        """CPU write of ``data`` (bytes-like) to simulated RAM at ``phys``."""
        _call("dmap_phys_write", _n.dmapy_phys_write, self._ptr(), _int(phys, "phys"), data)

    def fill(self, phys, byte, length):
        """CPU memset of simulated RAM."""
        _call("dmap_phys_fill", _n.dmapy_phys_fill, self._ptr(), _int(phys, "phys"),
              _int(byte, "byte", 0, 255), _int(length, "length"))

    def is_ram(self, phys, length=1):
        """Does [phys, phys+length) lie inside one registered region?"""
        return _n.dmapy_phys_present(self._ptr(), _int(phys, "phys"), _int(length, "length"))

    def context(self):
        """A new library Context on this environment."""
        return Context(self)


@serialized
class RamRegion:
    """A registered range of simulated physical memory (see Environment.add_ram)."""

    def __init__(self, env, base, size, pool):
        self.env = env
        self.base = base
        self.size = size
        self.pool = pool
        eptr = env._env
        self._node = Node("ram@%#x" % base, lambda: _n.dmapy_mem_remove(eptr, base),
                          [env._node], blocks_parent=False)
        self._finalizer = weakref.finalize(self, self._node.release_quietly)
        self._finalizer.detach()  # regions live as long as their environment unless removed
        env._regions[base] = self

    @property
    def end(self):
        """First address past the region."""
        return self.base + self.size

    @property
    def closed(self):
        return not self._node.live

    def phys(self, offset=0):
        """Physical address of ``offset`` into the region (checked)."""
        offset = _int(offset, "offset", 0, self.size - 1)
        return self.base + offset

    def remove(self):
        """Unregister the region (BusyError while pool pages are handed out)."""
        _n.dmapy_clear_last_message()
        rc = self._node.release()
        if rc:
            raise error_from_errno(rc, _n.dmapy_last_message(), "dmap_hosted_mem_remove")
        self.env._regions.pop(self.base, None)

    close = remove

    def __contains__(self, phys):
        return self.base <= phys < self.end

    def __repr__(self):
        return "<dmap.RamRegion [%#x, %#x)%s%s>" % (self.base, self.end,
                                                     " pool" if self.pool else "",
                                                     " removed" if self.closed else "")


# ---- context --------------------------------------------------------------------

@serialized
class Context(Closable):
    """A library context: the factory for devices and domains.

    ``Context()`` with no environment makes its own Environment (``ctx.env``),
    closed together with the context; keyword arguments go to Environment.
    """

    def __init__(self, env=None, **env_kwargs):
        self._owns_env = env is None
        if env is None:
            env = Environment(**env_kwargs)
        elif env_kwargs:
            raise InvalidArgumentError(message="environment options need env=None", call="dmap")
        self.env = env
        rc, ptr = _call("dmap_ctx_create", _n.dmapy_ctx_create, env._ptr())
        self._ctx = ptr
        self._node = Node("context", lambda: _n.dmap_ctx_destroy(ptr), [env._node])
        self._finalizer = weakref.finalize(self, self._node.release_quietly)

    def _ptr(self):
        if not self._node.live:
            raise ClosedError(message="context is closed", call="dmap")
        return self._ctx

    def close(self):
        """Release every device and domain of the context, then the context
        (and the environment if the context made it)."""
        rc = self._node.release()
        if rc:
            raise error_from_errno(rc, "context could not be released", "dmap_ctx_destroy")
        if self._owns_env:
            self.env.close()

    def __repr__(self):
        return "<dmap.Context%s>" % (" closed" if self.closed else "")

    # convenience pass-throughs
    def add_ram(self, base, size, pool=False):
        """Same as ``ctx.env.add_ram``."""
        return self.env.add_ram(base, size, pool)

    def device(self, name="dev", *, stream_id=0, dma_mask=0, coherent_dma_mask=0,
               bus_dma_limit=0, max_seg_size=0, seg_boundary_mask=0, min_align_mask=0,
               coherent=False, untrusted=False, flags=DevFlag.NONE):
        """Describe a device (see Device). Masks of 0 mean Linux's default, 32 bits."""
        return Device(self, name, stream_id=stream_id, dma_mask=dma_mask,
                      coherent_dma_mask=coherent_dma_mask, bus_dma_limit=bus_dma_limit,
                      max_seg_size=max_seg_size, seg_boundary_mask=seg_boundary_mask,
                      min_align_mask=min_align_mask, coherent=coherent, untrusted=untrusted,
                      flags=flags)

    def identity_domain(self, name=None, *, bus_offset=0, fallback=None, force_fallback=False):
        """An identity domain (bus = phys + bus_offset), optionally falling back to
        another domain (typically bounce) for buffers a device cannot reach."""
        return IdentityDomain(self, name, bus_offset=bus_offset, fallback=fallback,
                              force_fallback=force_fallback)

    def bounce_domain(self, name=None, **settings):
        """A bounce (swiotlb) domain; see dmap.BounceDomain for the settings.
        NotSupportedError if the library was built without the bounce backend."""
        from .backends import BounceDomain
        return BounceDomain(self, name, **settings)

    def iommu_domain(self, name=None, **settings):
        """An iommu domain; see dmap.IommuDomain. NotSupportedError without the backend."""
        from .backends import IommuDomain
        return IommuDomain(self, name, **settings)

    def xen_domain(self, name=None, **settings):
        """A Xen domain; see dmap.XenDomain. NotSupportedError without the backend."""
        from .backends import XenDomain
        return XenDomain(self, name, **settings)


# ---- devices -----------------------------------------------------------------

@serialized
class Device(Closable):
    """A device as the DMA layer sees it: name, StreamID, masks and segment limits.

    Driver side: map(), map_single(), map_sg(), alloc_coherent() (and the raw
    map_phys()/unmap_phys()/sync_*() calls). Device side: dma_read(),
    dma_write(), translate(). attach() routes its DMA through a domain.
    """

    def __init__(self, ctx, name="dev", *, stream_id=0, dma_mask=0, coherent_dma_mask=0,
                 bus_dma_limit=0, max_seg_size=0, seg_boundary_mask=0, min_align_mask=0,
                 coherent=False, untrusted=False, flags=DevFlag.NONE):
        if not isinstance(name, str):
            raise InvalidArgumentError(message="device name must be a str", call="dmap")
        flags = _int(flags, "flags", 0, 0xffffffff)
        if coherent:
            flags |= DevFlag.COHERENT
        if untrusted:
            flags |= DevFlag.UNTRUSTED
        rc, ptr = _call("dmap_dev_create", _n.dmapy_dev_create, ctx._ptr(), name,
                        _int(stream_id, "stream_id", 0, 0xffffffff), _int(dma_mask, "dma_mask"),
                        _int(coherent_dma_mask, "coherent_dma_mask"),
                        _int(bus_dma_limit, "bus_dma_limit"),
                        _int(max_seg_size, "max_seg_size"),
                        _int(seg_boundary_mask, "seg_boundary_mask"),
                        _int(min_align_mask, "min_align_mask"), int(flags))
        self.ctx = ctx
        self.env = ctx.env
        self._dev = ptr
        self._node = Node("device", lambda: _n.dmap_dev_destroy(ptr), [ctx._node])
        self._finalizer = weakref.finalize(self, self._node.release_quietly)
        self._domain = None
        self._attachment = None

    # lifetime
    def _ptr(self):
        if not self._node.live:
            raise ClosedError(message="device is closed", call="dmap")
        return self._dev

    def _attached_node(self, call):
        self._ptr()
        if self._attachment is None or not self._attachment.live:
            self._domain = None
            self._attachment = None
        return self._attachment

    def close(self):
        """Release the device's mappings, detach it and destroy it."""
        rc = self._node.release()
        self._domain = None
        if rc:
            raise error_from_errno(rc, "device could not be released", "dmap_dev_destroy")

    def __repr__(self):
        if self.closed:
            return "<dmap.Device closed>"
        dom = self.domain
        return "<dmap.Device %r sid=%#x mask=%#x%s>" % (
            self.name, self.stream_id, self.dma_mask,
            " on %r" % dom.name if dom is not None else "")

    # properties
    def info(self):
        """Current properties with defaults resolved, as a dict."""
        _rc, d = _call("dmap_dev_get_info", _n.dmapy_dev_info, self._ptr())
        d["flags"] = DevFlag(d["flags"])
        return d

    @property
    def name(self):
        return _n.dmap_dev_name(self._ptr())

    @property
    def stream_id(self):
        return self.info()["stream_id"]

    @property
    def flags(self):
        return self.info()["flags"]

    @property
    def bus_dma_limit(self):
        return self.info()["bus_dma_limit"]

    @property
    def dma_mask(self):
        """Streaming DMA mask; assigning calls dmap_set_mask() (DmapIOError if the domain refuses)."""
        return self.info()["dma_mask"]

    @dma_mask.setter
    def dma_mask(self, mask):
        _call("dmap_set_mask", _n.dmap_set_mask, self._ptr(), _int(mask, "mask"))

    @property
    def coherent_dma_mask(self):
        return self.info()["coherent_dma_mask"]

    @coherent_dma_mask.setter
    def coherent_dma_mask(self, mask):
        _call("dmap_set_coherent_mask", _n.dmap_set_coherent_mask, self._ptr(),
              _int(mask, "mask"))

    def set_mask_and_coherent(self, mask):
        """Set both masks at once (neither changes on failure)."""
        _call("dmap_set_mask_and_coherent", _n.dmap_set_mask_and_coherent, self._ptr(),
              _int(mask, "mask"))

    @property
    def max_seg_size(self):
        return self.info()["max_seg_size"]

    @max_seg_size.setter
    def max_seg_size(self, size):
        _call("dmap_set_max_seg_size", _n.dmapy_set_max_seg_size, self._ptr(),
              _int(size, "size"))

    @property
    def seg_boundary_mask(self):
        return self.info()["seg_boundary_mask"]

    @seg_boundary_mask.setter
    def seg_boundary_mask(self, mask):
        _call("dmap_set_seg_boundary", _n.dmap_set_seg_boundary, self._ptr(),
              _int(mask, "mask"))

    @property
    def min_align_mask(self):
        return self.info()["min_align_mask"]

    @min_align_mask.setter
    def min_align_mask(self, mask):
        _call("dmap_set_min_align_mask", _n.dmap_set_min_align_mask, self._ptr(),
              _int(mask, "mask"))

    # attachment
    @property
    def domain(self):
        """The Domain the device is attached to, or None."""
        self._attached_node("domain")
        return self._domain

    def attach(self, domain):
        """Route the device's DMA through ``domain``. Returns the domain.

        Also usable as ``with dev.attach(domain): ...`` (detaches at the end).
        """
        if not isinstance(domain, Domain):
            raise InvalidArgumentError(message="attach() needs a Domain", call="dmap_dev_attach")
        dptr = self._ptr()
        _call("dmap_dev_attach", _n.dmap_dev_attach, dptr, domain._ptr())
        self._attachment = Node("attachment", lambda: _n.dmap_dev_detach(dptr),
                                [self._node, domain._node])
        self._domain = domain
        domain._devices.add(self)
        return _Attached(self, domain)

    def detach(self):
        """Release the mappings made through the current domain and detach."""
        node = self._attached_node("dmap_dev_detach")
        if node is None:
            # let the library say it: -ENODEV with its message
            _call("dmap_dev_detach", _n.dmap_dev_detach, self._ptr())
            return
        _n.dmapy_clear_last_message()
        rc = node.release()
        dom, self._domain, self._attachment = self._domain, None, None
        if dom is not None:
            dom._devices.discard(self)
        if rc:
            raise error_from_errno(rc, _n.dmapy_last_message(), "dmap_dev_detach")

    def _mapping_parent(self):
        node = self._attached_node("map")
        # Not attached: let the C call fail with its own message; nothing to track.
        return node

    # driver side: tracked objects
    def map(self, phys, size, dir=Dir.BIDIRECTIONAL, attrs=Attr.NONE):
        """Map ``size`` bytes of physical memory at ``phys`` (dmap_map_phys).

        Returns a Mapping (context manager; unmaps on exit). Raises MappingError.
        """
        return Mapping._create(self, "phys", phys, size, dir, attrs)

    def map_single(self, phys, size, dir=Dir.BIDIRECTIONAL, attrs=Attr.NONE):
        """Map through the CPU pointer of simulated RAM at ``phys`` (dmap_map_single)."""
        return Mapping._create(self, "single", phys, size, dir, attrs)

    def map_sg(self, entries, dir=Dir.BIDIRECTIONAL, attrs=Attr.NONE):
        """Map a scatter-gather list of ``(phys, length)`` pairs (dmap_map_sg).

        Returns an SgMapping whose ``segments`` are the (possibly merged) bus segments.
        """
        return SgMapping._create(self, entries, dir, attrs)

    def alloc_coherent(self, size, attrs=Attr.NONE):
        """Allocate memory both CPU and device see (dmap_alloc_coherent): a CoherentBuffer."""
        return CoherentBuffer._create(self, size, attrs)

    # driver side: raw calls (untracked, for demonstrating misuse)
    def map_phys(self, phys, size, dir=Dir.BIDIRECTIONAL, attrs=Attr.NONE, check=True):
        """Raw dmap_map_phys(): returns the bus address; nothing unmaps it for you.

        ``check`` calls dmap_mapping_error() on the result, as a correct driver
        does (the debug layer reports mappings whose error was never checked).
        Raises MappingError on failure.
        """
        dptr = self._ptr()
        _n.dmapy_clear_last_message()
        addr = _n.dmapy_map_phys(dptr, _int(phys, "phys"), _int(size, "size"), _dir(dir),
                                 _attrs(attrs))
        if check:
            _n.dmap_mapping_error(dptr, addr)
        return _check_addr("dmap_map_phys", addr)

    def unmap_phys(self, addr, size, dir=Dir.BIDIRECTIONAL, attrs=Attr.NONE):
        """Raw dmap_unmap_phys()."""
        _call("dmap_unmap_phys", _n.dmapy_unmap_phys, self._ptr(), _int(addr, "addr"),
              _int(size, "size"), _dir(dir), _attrs(attrs))

    def unmap_single(self, addr, size, dir=Dir.BIDIRECTIONAL, attrs=Attr.NONE):
        """Raw dmap_unmap_single()."""
        _call("dmap_unmap_single", _n.dmapy_unmap_single, self._ptr(), _int(addr, "addr"),
              _int(size, "size"), _dir(dir), _attrs(attrs))

    def sync_for_cpu(self, addr, size, dir=Dir.BIDIRECTIONAL):
        """Raw dmap_sync_single_for_cpu() on a (sub)range of a live mapping."""
        _call("dmap_sync_single_for_cpu", _n.dmapy_sync, self._ptr(), _int(addr, "addr"),
              _int(size, "size"), _dir(dir), True)

    def sync_for_device(self, addr, size, dir=Dir.BIDIRECTIONAL):
        """Raw dmap_sync_single_for_device()."""
        _call("dmap_sync_single_for_device", _n.dmapy_sync, self._ptr(), _int(addr, "addr"),
              _int(size, "size"), _dir(dir), False)

    def mapping_error(self, addr):
        """dmap_mapping_error(): -ENOMEM (as an int) for MAPPING_ERROR, else 0."""
        return _n.dmap_mapping_error(self._ptr(), _int(addr, "addr"))

    # limits
    @property
    def max_mapping_size(self):
        """Largest single mapping that can succeed (SIZE_MAX: unlimited; 0: detached)."""
        return _n.dmapy_max_mapping_size(self._ptr())

    @property
    def addressing_limited(self):
        """True when the mask cannot reach all memory the domain may map (some mappings bounce)."""
        return _n.dmap_addressing_limited(self._ptr())

    # device side
    def translate(self, addr, access=Access.READ):
        """Where the device would land at bus address ``addr`` (a Translation).

        Raises FaultError (the fault is recorded in the domain's log).
        """
        rc, phys, length, perm = _call("dmap_translate", _n.dmapy_translate, self._ptr(),
                                       _int(addr, "addr"), _int(access, "access", 0, 0xff))
        return Translation(phys, length, Access(perm))

    def dma_read(self, addr, length):
        """The device reads ``length`` bytes at bus address ``addr``; returns bytes.

        Raises FaultError when the translation faults (see Domain.faults()).
        """
        buf = bytearray(_int(length, "length", 0, 1 << 40))
        if buf:
            self.dma_read_into(addr, buf)
        return bytes(buf)

    def dma_read_into(self, addr, buffer):
        """The device reads into a writable buffer (bytearray, memoryview ...)."""
        _call("dmap_dev_read", _n.dmap_dev_read, self._ptr(), _int(addr, "addr"), buffer)

    def dma_write(self, addr, data):
        """The device writes ``data`` (bytes-like) at bus address ``addr``."""
        _call("dmap_dev_write", _n.dmap_dev_write, self._ptr(), _int(addr, "addr"), data)


@serialized
class _Attached:
    """What Device.attach returns: the domain, usable as a context manager."""

    def __init__(self, dev, domain):
        self.device = dev
        self.domain = domain

    def __enter__(self):
        return self.domain

    def __exit__(self, *exc):
        if self.device.domain is self.domain:
            self.device.detach()

    def __getattr__(self, name):
        return getattr(self.domain, name)


# ---- mappings -----------------------------------------------------------------

@serialized
class Mapping:
    """A live streaming mapping made by Device.map() or Device.map_single().

    Attributes: ``device``, ``dma_addr`` (bus address), ``phys``, ``size``,
    ``dir``, ``attrs``. A context manager: unmaps on exit. Garbage-collected
    live mappings are unmapped too; so are those of a device being detached or
    closed.
    """

    def __init__(self):
        raise TypeError("use Device.map() or Device.map_single()")

    @classmethod
    def _create(cls, dev, kind, phys, size, dir, attrs):
        self = object.__new__(cls)
        dptr = dev._ptr()
        phys = _int(phys, "phys")
        size = _int(size, "size")
        d = _dir(dir)
        a = _attrs(attrs)
        parent = dev._mapping_parent()
        _n.dmapy_clear_last_message()
        if kind == "single":
            addr = _n.dmapy_map_single(dev.env._ptr(), dptr, phys, size, d, a)
            call = "dmap_map_single"
        else:
            addr = _n.dmapy_map_phys(dptr, phys, size, d, a)
            call = "dmap_map_phys"
        msg = _n.dmapy_last_message()
        _n.dmap_mapping_error(dptr, addr)  # a checked driver, as the debug layer expects
        if addr == MAPPING_ERROR:
            raise MappingError(message=msg, call=call)
        self.device = dev
        self.kind = kind
        self.phys = phys
        self.size = size
        self.dir = Dir(d)
        self.attrs = Attr(a)
        self.dma_addr = addr
        unmap = _n.dmapy_unmap_single if kind == "single" else _n.dmapy_unmap_phys
        self._unmap_attrs = a
        holder = self

        def destroy(unmap=unmap, dptr=dptr, addr=addr, size=size, d=d, ref=weakref.ref(holder)):
            m = ref()
            return unmap(dptr, addr, size, d, m._unmap_attrs if m is not None else a)
        self._node = Node("mapping", destroy, [parent] if parent is not None else [dev._node],
                          blocks_parent=False)
        self._finalizer = weakref.finalize(self, self._node.release_quietly)
        return self

    @property
    def live(self):
        return self._node.live

    def unmap(self, attrs=None):
        """End the mapping (dmap_unmap_*); ``attrs`` defaults to the map's attributes."""
        if not self._node.live:
            raise ClosedError(message="mapping at %#x is not live" % self.dma_addr,
                              call="dmap_unmap_phys")
        if attrs is not None:
            self._unmap_attrs = _attrs(attrs)
        _n.dmapy_clear_last_message()
        rc = self._node.release()
        if rc:
            raise error_from_errno(rc, _n.dmapy_last_message(),
                                   "dmap_unmap_single" if self.kind == "single"
                                   else "dmap_unmap_phys")

    def close(self):
        """Unmap if still live (unlike unmap(), never raises for an ended mapping)."""
        if self._node.live:
            self.unmap()

    def _range(self, offset, size):
        offset = _int(offset, "offset", 0, self.size - 1)
        if size is None:
            size = self.size - offset
        size = _int(size, "size", 1, self.size - offset)
        return offset, size

    def sync_for_cpu(self, offset=0, size=None):
        """Give (a sub-range of) the buffer back to the CPU (copies bounced data back)."""
        if not self._node.live:
            raise ClosedError(message="mapping is not live", call="dmap_sync_single_for_cpu")
        offset, size = self._range(offset, size)
        _call("dmap_sync_single_for_cpu", _n.dmapy_sync, self.device._ptr(),
              self.dma_addr + offset, size, int(self.dir), True)

    def sync_for_device(self, offset=0, size=None):
        """Give (a sub-range of) the buffer back to the device."""
        if not self._node.live:
            raise ClosedError(message="mapping is not live", call="dmap_sync_single_for_device")
        offset, size = self._range(offset, size)
        _call("dmap_sync_single_for_device", _n.dmapy_sync, self.device._ptr(),
              self.dma_addr + offset, size, int(self.dir), False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._node.live:
            self.unmap()

    def __repr__(self):
        return "<dmap.Mapping %s phys=%#x size=%#x -> bus %#x%s>" % (
            self.dir.name, self.phys, self.size, self.dma_addr, "" if self.live else " unmapped")


@serialized
class SgMapping:
    """A mapped scatter-gather list (Device.map_sg()).

    ``entries``: the (phys, length) pairs as given; ``segments``: the bus
    segments (dma_addr, dma_len) the device should be given (``count`` of
    them; adjacent entries may have been merged). Context manager: unmaps.
    """

    def __init__(self):
        raise TypeError("use Device.map_sg()")

    @classmethod
    def _create(cls, dev, entries, dir, attrs):
        self = object.__new__(cls)
        dptr = dev._ptr()
        entries = [(_int(p, "phys"), _int(n, "length")) for p, n in entries]
        if not entries:
            raise InvalidArgumentError(message="map_sg needs at least one entry",
                                       call="dmap_map_sg")
        d = _dir(dir)
        a = _attrs(attrs)
        sgl = _n.dmapy_sg_new(len(entries))
        if sgl is None:
            raise InvalidArgumentError(message="cannot build an sg list of %d entries"
                                       % len(entries), call="dmap_map_sg")
        try:
            for i, (p, n) in enumerate(entries):
                _n.dmapy_sg_set(sgl, i, p, n)
            parent = dev._mapping_parent()
            _n.dmapy_clear_last_message()
            rc = _n.dmapy_map_sg(dptr, sgl, d, a)
            if rc < 0:
                raise error_from_errno(rc, _n.dmapy_last_message(), "dmap_map_sg")
            table = _n.dmapy_sg_get(sgl)
        except BaseException:
            _n.dmapy_sg_free(sgl)
            raise
        self.device = dev
        self.entries = entries
        self.dir = Dir(d)
        self.attrs = Attr(a)
        self.count = rc
        self._sgl = sgl
        self.segments = [(t[2], t[3]) for t in table[:rc]]
        nents = len(entries)
        self._unmap_attrs = a
        ref = weakref.ref(self)

        def destroy():
            # The C list must outlive the mapping: it is freed right after the unmap.
            m = ref()
            try:
                return _n.dmapy_unmap_sg(dptr, sgl, nents, d,
                                         m._unmap_attrs if m is not None else a)
            finally:
                _n.dmapy_sg_free(sgl)
        self._node = Node("sg-mapping", destroy,
                          [parent if parent is not None else dev._node], blocks_parent=False)
        self._finalizer = weakref.finalize(self, self._node.release_quietly)
        return self

    @property
    def live(self):
        return self._node.live

    @property
    def total_length(self):
        return sum(n for _, n in self.entries)

    def unmap(self, attrs=None):
        """Unmap every entry (dmap_unmap_sg with the original nents)."""
        if not self._node.live:
            raise ClosedError(message="sg mapping is not live", call="dmap_unmap_sg")
        if attrs is not None:
            self._unmap_attrs = _attrs(attrs)
        _n.dmapy_clear_last_message()
        rc = self._node.release()
        if rc:
            raise error_from_errno(rc, _n.dmapy_last_message(), "dmap_unmap_sg")

    def close(self):
        """Unmap if still live."""
        if self._node.live:
            self.unmap()

    def sync_for_cpu(self):
        """dmap_sync_sg_for_cpu over every entry."""
        if not self._node.live:
            raise ClosedError(message="sg mapping is not live", call="dmap_sync_sg_for_cpu")
        _call("dmap_sync_sg_for_cpu", _n.dmapy_sync_sg, self.device._ptr(), self._sgl,
              len(self.entries), int(self.dir), True)

    def sync_for_device(self):
        """dmap_sync_sg_for_device over every entry."""
        if not self._node.live:
            raise ClosedError(message="sg mapping is not live", call="dmap_sync_sg_for_device")
        _call("dmap_sync_sg_for_device", _n.dmapy_sync_sg, self.device._ptr(), self._sgl,
              len(self.entries), int(self.dir), False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._node.live:
            self.unmap()

    def __repr__(self):
        return "<dmap.SgMapping %d entries -> %d segments%s>" % (
            len(self.entries), self.count, "" if self.live else " unmapped")


@serialized
class CoherentBuffer:
    """Memory from Device.alloc_coherent(): the CPU reads and writes it with
    read()/write(), the device at ``dma_addr``. ``free()`` (or leaving a with
    block) returns it."""

    def __init__(self):
        raise TypeError("use Device.alloc_coherent()")

    @classmethod
    def _create(cls, dev, size, attrs):
        self = object.__new__(cls)
        dptr = dev._ptr()
        size = _int(size, "size")
        a = _attrs(attrs)
        parent = dev._mapping_parent()
        _n.dmapy_clear_last_message()
        cpu, handle = _n.dmapy_alloc_coherent(dptr, size, a)
        if not cpu:
            raise MappingError(message=_n.dmapy_last_message(), call="dmap_alloc_coherent")
        self.device = dev
        self.size = size
        self.dma_addr = handle
        self.attrs = Attr(a)
        self._cpu = cpu
        rc, phys = _n.dmapy_virt_to_phys(dev.env._ptr(), cpu)
        self.phys = phys if rc == 0 else None
        self._node = Node("coherent",
                          lambda: _n.dmapy_free_coherent(dptr, size, cpu, handle, a),
                          [parent if parent is not None else dev._node], blocks_parent=False)
        self._finalizer = weakref.finalize(self, self._node.release_quietly)
        return self

    @property
    def live(self):
        return self._node.live

    def _check(self, offset, length):
        if not self._node.live:
            raise ClosedError(message="coherent buffer was freed", call="dmap")
        offset = _int(offset, "offset", 0, self.size)
        length = _int(length, "length", 0, self.size - offset)
        return offset, length

    def read(self, offset=0, length=None):
        """CPU read of the buffer (bytes)."""
        if length is None:
            length = self.size - (offset if isinstance(offset, int) else 0)
        offset, length = self._check(offset, length)
        buf = bytearray(length)
        if length:
            _n.dmapy_cpu_read(self._cpu, offset, buf)
        return bytes(buf)

    def write(self, offset, data):
        """CPU write of ``data`` at ``offset``."""
        view = memoryview(data).cast("B")
        offset, _ = self._check(offset, len(view))
        if len(view):
            _n.dmapy_cpu_write(self._cpu, offset, view)

    def free(self):
        """Return the memory (dmap_free_coherent)."""
        if not self._node.live:
            raise ClosedError(message="coherent buffer was freed", call="dmap_free_coherent")
        _n.dmapy_clear_last_message()
        rc = self._node.release()
        if rc:
            raise error_from_errno(rc, _n.dmapy_last_message(), "dmap_free_coherent")

    def close(self):
        """Free if still live."""
        if self._node.live:
            self.free()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._node.live:
            self.free()

    def __repr__(self):
        return "<dmap.CoherentBuffer size=%#x bus=%#x%s>" % (self.size, self.dma_addr,
                                                            "" if self.live else " freed")


# ---- domains -----------------------------------------------------------------

@serialized
class Domain(Closable):
    """One backend instance; devices attach to it.

    Common to every backend: ``name``, ``backend``, statistics (stats(),
    ``counting``), the DMA-API debug layer (``debug``, debug_counts()), and
    the fault log (pop_fault(), faults(), fault_counts()).
    """

    def __init__(self):
        raise TypeError("use a Context factory (ctx.identity_domain() ...)")

    def _setup(self, ctx, ptr, label, extra_parents=()):
        self.ctx = ctx
        self.env = ctx.env
        self._dom = ptr
        self._node = Node(label, lambda: _n.dmap_domain_destroy(ptr),
                          [ctx._node] + [p._node for p in extra_parents])
        self._finalizer = weakref.finalize(self, self._node.release_quietly)
        self._devices = weakref.WeakSet()

    def _ptr(self):
        if not self._node.live:
            raise ClosedError(message="domain is closed", call="dmap")
        return self._dom

    def close(self):
        """Detach every device (releasing their mappings), close domains stacked
        on this one, then destroy the domain."""
        _n.dmapy_clear_last_message()
        rc = self._node.release()
        if rc:
            raise error_from_errno(rc, _n.dmapy_last_message(), "dmap_domain_destroy")

    def __repr__(self):
        if self.closed:
            return "<dmap.%s closed>" % type(self).__name__
        return "<dmap.%s %r>" % (type(self).__name__, self.name)

    @property
    def name(self):
        """Instance name, used in the library's messages."""
        return _n.dmap_domain_name(self._ptr())

    @property
    def backend(self):
        """Backend name ("identity", "bounce", "iommu", "xen")."""
        return _n.dmap_domain_backend(self._ptr())

    @property
    def devices(self):
        """Devices attached to this domain now."""
        ptr = self._ptr()
        return [d for d in list(self._devices)
                if not d.closed and _n.dmapy_dev_attached_to(d._dev, ptr)]

    # statistics
    def stats(self):
        """Snapshot of the domain's counters (DomainStats; subtract two for a delta)."""
        _rc, d = _call("dmap_domain_get_stats", _n.dmapy_domain_stats, self._ptr())
        return DomainStats(**d)

    @property
    def counting(self):
        """Per-mapping counters on or off (an atomic add per call when on)."""
        return getattr(self, "_counting", False)

    @counting.setter
    def counting(self, enable):
        _call("dmap_domain_set_counting", _n.dmap_domain_set_counting, self._ptr(), bool(enable))
        self._counting = bool(enable)

    # debug layer
    @property
    def debug(self):
        """The DMA-API debug layer on or off; switch only with no device attached (BusyError)."""
        return getattr(self, "_debug", False)

    @debug.setter
    def debug(self, enable):
        _call("dmap_domain_set_debug", _n.dmap_domain_set_debug, self._ptr(), bool(enable))
        self._debug = bool(enable)

    def debug_counts(self):
        """Reports per kind and live mappings (NoDeviceError when debugging is off)."""
        rc, reports, live = _call("dmap_debug_get_counts", _n.dmapy_debug_counts, self._ptr())
        return DebugCounts({DebugReport(i): n for i, n in enumerate(reports)}, live)

    @staticmethod
    def debug_report_name(kind):
        """The library's name for a DebugReport ("double-unmap" ...)."""
        return _n.dmap_debug_report_name(int(kind))

    # fault log
    def pop_fault(self):
        """Take the oldest Fault from the log, or None when it is empty."""
        r = _n.dmapy_fault_pop(self._ptr())
        if r is None:
            return None
        if isinstance(r, int):
            raise error_from_errno(r, "", "dmap_fault_pop")
        seq, dev, sid, addr, access, reason, raw_format, raw = r
        try:
            reason = FaultReason(reason)
        except ValueError:
            pass
        try:
            raw_format = RawFormat(raw_format)
        except ValueError:
            pass
        return Fault(seq, dev, sid, addr, Access(access), reason, raw_format, raw)

    def faults(self):
        """Drain the fault log: every recorded Fault, oldest first."""
        out = []
        while True:
            f = self.pop_fault()
            if f is None:
                return out
            out.append(f)

    def fault_counts(self):
        """(recorded, dropped): faults ever offered to the log and those lost to a full ring."""
        rc, recorded, dropped = _call("dmap_fault_counts", _n.dmapy_fault_counts, self._ptr())
        return recorded, dropped


@serialized
class IdentityDomain(Domain):
    """bus address = physical address + bus_offset (Linux's dma-direct).

    A buffer the device cannot reach goes to ``fallback`` (a bounce domain,
    like swiotlb behind dma-direct), or fails with MappingError. The fallback
    is kept alive (and cannot be closed without closing this domain first:
    closing it closes this domain too).
    """

    def __init__(self, ctx, name=None, *, bus_offset=0, fallback=None, force_fallback=False):
        if name is not None and not isinstance(name, str):
            raise InvalidArgumentError(message="name must be a str", call="dmap")
        if fallback is not None and not isinstance(fallback, Domain):
            raise InvalidArgumentError(message="fallback must be a Domain",
                                       call="dmap_identity_domain_create")
        rc, ptr = _call("dmap_identity_domain_create", _n.dmapy_identity_domain_create,
                        ctx._ptr(), name, _int(bus_offset, "bus_offset"),
                        fallback._ptr() if fallback is not None else None, bool(force_fallback))
        self.fallback = fallback
        self.bus_offset = _int(bus_offset, "bus_offset")
        self.force_fallback = bool(force_fallback)
        self._setup(ctx, ptr, "identity-domain", [fallback] if fallback is not None else [])

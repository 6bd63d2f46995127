# SPDX-License-Identifier: MIT
"""Bindings of the optional backends (bounce, iommu, xen).

Each is present when the library was built with it; ``dmap.HAVE_BOUNCE``
and friends say which, and the Context factories (``ctx.bounce_domain()``
...) raise NotSupportedError naming the backend otherwise. Their domains
subclass dmap.Domain, so statistics, debug layer and fault log work the same
on all of them.
"""

import dataclasses
import enum
import struct

from . import dmap_native as _n
from ._lifetime import serialized
from .core import Domain, _Counters, _call, _int
from .errors import InvalidArgumentError, NotSupportedError

HAVE_BOUNCE = hasattr(_n, "dmapy_bounce_domain_create")
HAVE_IOMMU = hasattr(_n, "dmapy_iommu_domain_create")
HAVE_XEN = hasattr(_n, "dmapy_xen_domain_create")

__all__ = ["BounceDomain", "BounceStats", "BounceClassStats", "IommuDomain", "IommuStats",
           "PageTableFormat", "Prot", "PageTableDump", "TablePage"]


def _require(have, backend):
    if not have:
        raise NotSupportedError(message="backend %s not built into this dmap" % backend,
                                call="dmap_%s_domain_create" % backend)


def _name(name):
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentError(message="name must be a str", call="dmap")
    return name


# ---- bounce ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BounceClassStats:
    """One size class of a bounce pool: block size, live mappings cut from it, free blocks."""
    block_size: int
    live_mappings: int
    free_blocks: int


@dataclasses.dataclass(frozen=True)
class BounceStats(_Counters):
    """A bounce domain's counters (struct dmap_bounce_stats), summed over its pools."""
    pools: int = 0
    pool_bytes: int = 0
    slot_size: int = 0
    slots_total: int = 0
    slots_in_use: int = 0
    bytes_in_use: int = 0
    high_water_slots: int = 0
    high_water_bytes: int = 0
    live_mappings: int = 0
    failed_too_big: int = 0
    failed_full: int = 0
    failed_unreachable: int = 0
    failed_constraint: int = 0
    bytes_to_device: int = 0
    bytes_from_device: int = 0
    pools_added: int = 0
    pools_released: int = 0
    coalesce_passes: int = 0
    classes: tuple = ()

    def __sub__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return BounceStats(**{f.name: (getattr(self, f.name) - getattr(other, f.name)
                                       if f.name != "classes" else self.classes)
                              for f in dataclasses.fields(self)})

    @property
    def bytes_bounced(self):
        """Bytes copied in either direction."""
        return self.bytes_to_device + self.bytes_from_device

    @property
    def utilisation(self):
        """Fraction of the pool's slots in use now (0.0 .. 1.0)."""
        return self.slots_in_use / self.slots_total if self.slots_total else 0.0

    @property
    def failures(self):
        return (self.failed_too_big + self.failed_full + self.failed_unreachable
                + self.failed_constraint)


@serialized
class BounceDomain(Domain):
    """A bounce (swiotlb) domain: every mapping is copied through a pool below ``phys_limit``.

    Args (0 means the library default):
        pool_size: bytes of the first pool (64 MiB).
        phys_limit: highest bus address of pool memory (4 GiB - 1).
        max_mapping_size: largest single mapping (1 MiB; Linux: 256 KiB).
        slot_size: smallest unit, power of two 512..65536 (2 KiB).
        nr_caches: per-CPU caches, power of two up to 64 (16); per_cpu_caches=False disables them.
        allow_growth, growth_cap: add pools when full, up to growth_cap bytes.
        bus_offset: bus = phys + bus_offset.

    The pool's pages come from RAM registered with ``pool=True``.
    """

    def __init__(self, ctx, name=None, *, pool_size=0, phys_limit=0, max_mapping_size=0,
                 slot_size=0, nr_caches=0, per_cpu_caches=True, allow_growth=False,
                 growth_cap=0, bus_offset=0):
        _require(HAVE_BOUNCE, "bounce")
        rc, ptr = _call("dmap_bounce_domain_create", _n.dmapy_bounce_domain_create,
                        ctx._ptr(), _name(name), _int(pool_size, "pool_size"),
                        _int(phys_limit, "phys_limit"),
                        _int(max_mapping_size, "max_mapping_size"),
                        _int(slot_size, "slot_size"), _int(nr_caches, "nr_caches", 0, 1 << 31),
                        not per_cpu_caches, bool(allow_growth), _int(growth_cap, "growth_cap"),
                        _int(bus_offset, "bus_offset"))
        self._setup(ctx, ptr, "bounce-domain")

    def bounce_stats(self):
        """The pool's counters (BounceStats)."""
        _rc, d = _call("dmap_bounce_get_stats", _n.dmapy_bounce_stats, self._ptr())
        d["classes"] = tuple(BounceClassStats(*c) for c in d["classes"])
        return BounceStats(**d)

    def reset_high_water(self):
        """Set the high-water mark to zero (the only value it can be set to)."""
        _call("dmap_bounce_reset_high_water", _n.dmap_bounce_reset_high_water, self._ptr())

    def grow(self, size):
        """Add a pool of ``size`` bytes now (needs allow_growth; PermissionDeniedError otherwise)."""
        _call("dmap_bounce_grow", _n.dmapy_bounce_grow, self._ptr(), _int(size, "size"))


# ---- iommu ------------------------------------------------------------------------

class PageTableFormat(enum.IntEnum):
    """Page-table layouts the iommu backend writes."""
    ARM_LPAE_S1 = getattr(_n, "PGTABLE_ARM_LPAE_S1", 1)
    """Arm VMSAv8-64 stage 1, as an SMMUv3 walks it."""
    VTD_SL = getattr(_n, "PGTABLE_VTD_SL", 2)
    """Intel VT-d second-level tables."""


class Prot(enum.IntFlag):
    """Protection bits of an explicit iommu mapping (DMAP_PROT_*)."""
    NONE = 0
    READ = getattr(_n, "PROT_READ", 1)
    WRITE = getattr(_n, "PROT_WRITE", 2)
    CACHE = getattr(_n, "PROT_CACHE", 4)
    NOEXEC = getattr(_n, "PROT_NOEXEC", 8)
    PRIV = getattr(_n, "PROT_PRIV", 16)
    MMIO = getattr(_n, "PROT_MMIO", 32)


@dataclasses.dataclass(frozen=True)
class IommuStats(_Counters):
    """An iommu domain's own counters (struct dmap_iommu_stats)."""
    iotlb_hits: int = 0
    iotlb_misses: int = 0
    iotlb_fills: int = 0
    iotlb_invalidations: int = 0
    iotlb_entries: int = 0
    walk_faults: int = 0
    iova_cache_hits: int = 0
    iova_cache_misses: int = 0
    iova_failures: int = 0
    iova_free_ranges: int = 0
    fq_queued: int = 0
    fq_flushes: int = 0
    fq_full_flushes: int = 0
    fq_timeout_flushes: int = 0
    bounced_maps: int = 0
    table_pages_freed: int = 0


@dataclasses.dataclass(frozen=True)
class TablePage:
    """One page-table page as the walker reads it: level, physical address, raw bytes."""
    level: int
    phys: int
    data: bytes

    def descriptors(self):
        """Non-zero 64-bit little-endian descriptors as [(index, value), ...]."""
        n = len(self.data) // 8
        values = struct.unpack("<%dQ" % n, self.data[:n * 8])
        return [(i, v) for i, v in enumerate(values) if v]


@dataclasses.dataclass(frozen=True)
class PageTableDump:
    """A domain's page tables at one instant (dmap_iommu_dump_tables)."""
    format: PageTableFormat
    granule: int
    ias: int
    oas: int
    root: int
    arm_tcr: int
    arm_mair: int
    levels: int
    start_level: int
    vtd_agaw: int
    pages: tuple

    def describe(self):
        """A readable listing: one line per page, one per non-zero descriptor."""
        lines = ["%s granule %d ias %d oas %d root %#x levels %d start %d" % (
            self.format.name, self.granule, self.ias, self.oas, self.root, self.levels,
            self.start_level)]
        for page in self.pages:
            lines.append("  level %d table at %#x (%d bytes)" % (page.level, page.phys,
                                                                 len(page.data)))
            for index, value in page.descriptors():
                lines.append("    [%3d] %#018x" % (index, value))
        return "\n".join(lines)


@serialized
class IommuDomain(Domain):
    """An IOMMU domain: IOVA allocation, real page tables, a software IOTLB.

    Args (0 means the library default):
        format: PageTableFormat.ARM_LPAE_S1 (SMMUv3, default) or VTD_SL.
        granule: 4096, 16384 or 65536 (ARM).
        ias, oas: input / output address bits; levels: VT-d 3/4/5.
        deferred: lazy invalidation through a flush queue (else strict).
        fq_size, fq_timeout_ns: flush queue size and timeout.
        aperture: (first, last) IOVA range; reserved: [(first, last), ...].
        bounce: a BounceDomain for untrusted devices' sub-granule buffers.
        inval_latency_ns, iotlb_entries, no_iotlb, no_iova_cache,
        non_coherent_walk: modelling knobs (see dmap/iommu.h).

    Page-table pages come from RAM registered with ``pool=True``.
    """

    def __init__(self, ctx, name=None, *, format=PageTableFormat.ARM_LPAE_S1, granule=0, ias=0,
                 oas=0, levels=0, deferred=False, fq_size=0, fq_timeout_ns=0, aperture=None,
                 reserved=(), bounce=None, inval_latency_ns=0, iotlb_entries=0, no_iotlb=False,
                 no_iova_cache=False, non_coherent_walk=False):
        _require(HAVE_IOMMU, "iommu")
        if bounce is not None and not isinstance(bounce, Domain):
            raise InvalidArgumentError(message="bounce must be a Domain",
                                       call="dmap_iommu_domain_create")
        first, last = aperture if aperture is not None else (0, 0)
        packed = b"".join(struct.pack("<2Q", _int(a, "reserved first"), _int(b, "reserved last"))
                          for a, b in reserved)
        rc, ptr = _call("dmap_iommu_domain_create", _n.dmapy_iommu_domain_create, ctx._ptr(),
                        _name(name), _int(format, "format", 0, 255), _int(granule, "granule"),
                        _int(ias, "ias", 0, 64), _int(oas, "oas", 0, 64),
                        _int(levels, "levels", 0, 8), bool(deferred),
                        _int(fq_size, "fq_size", 0, 1 << 31), _int(fq_timeout_ns, "fq_timeout_ns"),
                        _int(first, "aperture first"), _int(last, "aperture last"), packed,
                        bounce._ptr() if bounce is not None else None,
                        _int(inval_latency_ns, "inval_latency_ns"),
                        _int(iotlb_entries, "iotlb_entries", 0, 1 << 31), bool(no_iotlb),
                        bool(no_iova_cache), bool(non_coherent_walk))
        self.bounce = bounce
        self.format = PageTableFormat(format) if format else PageTableFormat.ARM_LPAE_S1
        self.deferred = bool(deferred)
        self._setup(ctx, ptr, "iommu-domain", [bounce] if bounce is not None else [])

    @property
    def strict(self):
        """True when every unmap invalidates the IOTLB before returning."""
        return not self.deferred

    def map(self, iova, phys, size, prot=Prot.READ | Prot.WRITE):
        """Map [iova, iova+size) to phys at a caller-chosen IOVA (iommu_map())."""
        _call("dmap_iommu_map", _n.dmapy_iommu_map, self._ptr(), _int(iova, "iova"),
              _int(phys, "phys"), _int(size, "size"), _int(prot, "prot", 0, 0xffffffff))

    def unmap(self, iova, size):
        """Undo map() exactly (invalidates the IOTLB before returning)."""
        _call("dmap_iommu_unmap", _n.dmapy_iommu_unmap, self._ptr(), _int(iova, "iova"),
              _int(size, "size"))

    def iova_to_phys(self, iova):
        """CPU-side table lookup (no IOTLB, no fault): the physical address, or 0 when unmapped."""
        return _n.dmapy_iommu_iova_to_phys(self._ptr(), _int(iova, "iova"))

    def flush_all(self):
        """Invalidate the whole IOTLB and release everything the flush queue held."""
        _call("dmap_iommu_flush_all", _n.dmap_iommu_flush_all, self._ptr())

    def flush_range(self, iova, size):
        """Invalidate IOTLB entries overlapping [iova, iova+size)."""
        _call("dmap_iommu_flush_range", _n.dmapy_iommu_flush_range, self._ptr(),
              _int(iova, "iova"), _int(size, "size"))

    def poll(self):
        """The flush queue's timer: True if it flushed."""
        return bool(_call("dmap_iommu_poll", _n.dmap_iommu_poll, self._ptr()))

    def iommu_stats(self):
        """The domain's IOTLB, IOVA and flush-queue counters (IommuStats)."""
        _rc, d = _call("dmap_iommu_get_stats", _n.dmapy_iommu_stats, self._ptr())
        return IommuStats(**d)

    def dump_tables(self):
        """Copy out the page tables (PageTableDump), bit for bit."""
        _rc, d = _call("dmap_iommu_dump_tables", _n.dmapy_iommu_dump, self._ptr())
        d["format"] = PageTableFormat(d["format"])
        d["pages"] = tuple(TablePage(*p) for p in d["pages"])
        return PageTableDump(**d)


def smmu_event_name(event_id):
    """The library's name for an SMMUv3 event id ("F_TRANSLATION" ...)."""
    _require(HAVE_IOMMU, "iommu")
    return _n.dmapy_smmu_event_name(_int(event_id, "event_id", 0, 255))


def vtd_fault_reason_name(reason):
    """The library's wording for a VT-d fault reason."""
    _require(HAVE_IOMMU, "iommu")
    return _n.dmapy_vtd_fault_reason_name(_int(reason, "reason", 0, 255))


def native_decode_fault(raw_format, raw):
    """Decode a raw fault record with the library's own decoder (iommu builds only)."""
    _require(HAVE_IOMMU, "iommu")
    from .enums import RawFormat
    if raw_format == RawFormat.SMMUV3_EVENT:
        return _n.dmapy_smmu_event_decode(bytes(raw))
    if raw_format == RawFormat.VTD_FAULT:
        return _n.dmapy_vtd_fault_decode(bytes(raw))
    return None


__all__ += ["smmu_event_name", "vtd_fault_reason_name", "native_decode_fault"]


# ---- xen --------------------------------------------------------------------------

import weakref as _weakref  # noqa: E402

from ._lifetime import Closable as _Closable, Node as _Node  # noqa: E402
from .errors import ClosedError as _ClosedError, error_from_errno as _error  # noqa: E402


class FrameKind(enum.IntEnum):
    """What a P2M entry says about a guest frame."""
    MISSING = getattr(_n, "XEN_FRAME_MISSING", 0)
    VALID = getattr(_n, "XEN_FRAME_VALID", 1)
    IDENTITY = getattr(_n, "XEN_FRAME_IDENTITY", 2)
    FOREIGN = getattr(_n, "XEN_FRAME_FOREIGN", 3)


XEN_PAGE_SIZE = 4096
XEN_INVALID_FRAME = (1 << 64) - 1
"""A missing P2M entry, or "no pfn" from the M2P."""
HOSTED_XEN_HIGH_MFN = 1 << 20
"""First machine frame of the simulated machine's high bank (machine address 4 GiB)."""


@dataclasses.dataclass(frozen=True)
class P2MStats(_Counters):
    """Memory and update counters of a P2M."""
    leaf_pages: int = 0
    mid_pages: int = 0
    bytes: int = 0
    updates: int = 0
    frames_written: int = 0
    generation: int = 0
    max_pfn: int = 0
    max_mfn: int = 0


@dataclasses.dataclass(frozen=True)
class XenStats(_Counters):
    """What a Xen domain did (struct dmap_xen_stats)."""
    direct_maps: int = 0
    bounced_maps: int = 0
    straddles: int = 0
    mask_bounces: int = 0
    exchanges: int = 0
    exchange_failures: int = 0
    missing_frames: int = 0
    foreign_refused: int = 0
    pool_exhausted: int = 0
    pfn_maps: int = 0
    pool_bytes: int = 0
    pool_used: int = 0
    pool_high_water: int = 0


@serialized
class P2M:
    """A guest's pfn -> mfn table with the M2P reverse map.

    ``P2M(env, max_pfn=0, max_mfn=0)`` makes a standalone, empty one; a
    XenGuest's ``p2m`` is the simulated guest's own (owned by the guest).
    """

    def __init__(self, env, max_pfn=0, max_mfn=0):
        _require(HAVE_XEN, "xen")
        rc, ptr = _call("dmap_xen_p2m_create", _n.dmapy_xen_p2m_create, env._ptr(),
                        _int(max_pfn, "max_pfn"), _int(max_mfn, "max_mfn"))
        self.env = env
        self._p2m = ptr
        self._node = _Node("p2m", lambda: _n.dmapy_xen_p2m_destroy(ptr), [env._node])
        self._finalizer = _weakref.finalize(self, self._node.release_quietly)
        self._owner = None

    @classmethod
    def _of_guest(cls, guest, ptr):
        self = object.__new__(cls)
        self.env = guest.env
        self._p2m = ptr
        self._node = guest._node  # lives and dies with the guest
        self._owner = guest
        return self

    def _ptr(self):
        if not self._node.live:
            raise _ClosedError(message="P2M is closed", call="dmap")
        return self._p2m

    @property
    def closed(self):
        return not self._node.live

    def close(self):
        """Free a standalone P2M (closing Xen domains that use it first)."""
        if self._owner is not None:
            raise InvalidArgumentError(message="this P2M belongs to its XenGuest; close the guest",
                                       call="dmap_xen_p2m_destroy")
        self._node.release()

    def set_range(self, pfn, count, kind, mfn=0):
        """Set ``count`` frames from ``pfn`` to ``kind`` (VALID/FOREIGN: frame i -> mfn+i)."""
        _call("dmap_xen_p2m_set_range", _n.dmapy_xen_p2m_set_range, self._ptr(),
              _int(pfn, "pfn"), _int(count, "count"), int(FrameKind(kind)), _int(mfn, "mfn"))

    def set(self, pfn, kind, mfn=0):
        """Set one frame."""
        _call("dmap_xen_p2m_set", _n.dmap_xen_p2m_set, self._ptr(), _int(pfn, "pfn"),
              int(FrameKind(kind)), _int(mfn, "mfn"))

    def lookup(self, pfn):
        """(FrameKind, mfn) of ``pfn``; NotFoundError for a missing frame, RangeError beyond max_pfn."""
        rc, kind, mfn = _call("dmap_xen_p2m_lookup", _n.dmapy_xen_p2m_lookup, self._ptr(),
                              _int(pfn, "pfn"))
        return FrameKind(kind), mfn

    def get_raw(self, pfn):
        """The raw entry (an mfn with FOREIGN/IDENTITY marker bits, or XEN_INVALID_FRAME)."""
        return _n.dmap_xen_p2m_get_raw(self._ptr(), _int(pfn, "pfn"))

    def pfn_to_mfn(self, pfn):
        """Machine frame of ``pfn`` (markers masked); XEN_INVALID_FRAME if missing."""
        return _n.dmap_xen_pfn_to_mfn(self._ptr(), _int(pfn, "pfn"))

    def mfn_to_pfn(self, mfn):
        """Guest frame of machine frame ``mfn`` (round-trip checked); XEN_INVALID_FRAME if none."""
        return _n.dmap_xen_mfn_to_pfn(self._ptr(), _int(mfn, "mfn"))

    def foreign_mfn_to_pfn(self, mfn):
        """The guest frame grant-mapping foreign frame ``mfn``, or XEN_INVALID_FRAME."""
        return _n.dmap_xen_foreign_mfn_to_pfn(self._ptr(), _int(mfn, "mfn"))

    def m2p_get(self, mfn):
        """The raw, unchecked M2P entry of ``mfn``."""
        return _n.dmap_xen_m2p_get(self._ptr(), _int(mfn, "mfn"))

    def m2p_set(self, mfn, pfn):
        """Write one M2P entry directly (as the hypervisor does for other domains' frames)."""
        _call("dmap_xen_m2p_set", _n.dmap_xen_m2p_set, self._ptr(), _int(mfn, "mfn"),
              _int(pfn, "pfn"))

    def stats(self):
        """P2MStats."""
        _rc, d = _call("dmap_xen_p2m_get_stats", _n.dmapy_xen_p2m_stats, self._ptr())
        return P2MStats(**d)


@serialized
class XenGuest(_Closable):
    """A simulated Xen PV guest: machine memory in two banks (below and above
    4 GiB), a guest pseudo-physical space scattered across it, and its P2M.

    The guest's RAM is registered with ``env`` (as pool memory), so CPU reads
    and writes through ``env.read``/``env.write`` use guest pseudo-physical
    addresses; ``machine_read``/``machine_write`` are what a device does with a
    machine (bus) address, bypassing every translation.

    Args: guest_frames (4096), low_machine_frames (8192),
    high_machine_frames (8192), seed, in_order (no scattering), plain (no
    special ranges), ranges: [(pfn, count, FrameKind), ...].
    """

    def __init__(self, env, *, guest_frames=0, low_machine_frames=0, high_machine_frames=0,
                 seed=0, in_order=False, plain=False, ranges=()):
        _require(HAVE_XEN, "xen")
        packed = b"".join(struct.pack("<3Q", _int(p, "pfn"), _int(c, "count"),
                                      int(FrameKind(k))) for p, c, k in ranges)
        rc, ptr = _call("dmap_hosted_xen_create", _n.dmapy_hosted_xen_create, env._ptr(),
                        _int(guest_frames, "guest_frames"),
                        _int(low_machine_frames, "low_machine_frames"),
                        _int(high_machine_frames, "high_machine_frames"),
                        _int(seed, "seed", 0, 0xffffffff), bool(in_order), bool(plain), packed)
        self.env = env
        self._guest = ptr
        self._node = _Node("xen-guest", lambda: _n.dmapy_hosted_xen_destroy(ptr), [env._node])
        self._finalizer = _weakref.finalize(self, self._node.release_quietly)
        self.p2m = P2M._of_guest(self, _n.dmap_hosted_xen_p2m(ptr))

    def _ptr(self):
        if not self._node.live:
            raise _ClosedError(message="Xen guest is closed", call="dmap")
        return self._guest

    def close(self):
        """Close Xen domains using this guest, then unregister its memory and free it."""
        rc = self._node.release()
        if rc:
            raise _error(rc, "guest could not be released", "dmap_hosted_xen_destroy")

    def machine_read(self, maddr, length):
        """A device's read at machine address ``maddr``, with no translation."""
        buf = bytearray(_int(length, "length", 0, 1 << 40))
        _call("dmap_hosted_xen_machine_read", _n.dmapy_hosted_xen_machine_read, self._ptr(),
              _int(maddr, "maddr"), buf)
        return bytes(buf)

    def machine_write(self, maddr, data):
        """A device's write at machine address ``maddr``, with no translation."""
        _call("dmap_hosted_xen_machine_write", _n.dmapy_hosted_xen_machine_write, self._ptr(),
              _int(maddr, "maddr"), data)

    def remap(self, pfn, count, mfn):
        """Move guest frames [pfn, pfn+count) onto free machine frames from ``mfn``."""
        _call("dmap_hosted_xen_remap", _n.dmap_hosted_xen_remap, self._ptr(), _int(pfn, "pfn"),
              _int(count, "count"), _int(mfn, "mfn"))

    def find_free(self, count, min_mfn=0, limit_mfn=XEN_INVALID_FRAME):
        """First free run of ``count`` machine frames in [min_mfn, limit_mfn), or None."""
        r = _n.dmap_hosted_xen_find_free(self._ptr(), _int(count, "count"),
                                         _int(min_mfn, "min_mfn"), _int(limit_mfn, "limit_mfn"))
        return None if r == XEN_INVALID_FRAME else r

    def fail_exchanges(self, count):
        """Make the next ``count`` contiguous-region exchanges fail (error-path tests)."""
        _n.dmap_hosted_xen_fail_exchanges(self._ptr(), _int(count, "count", 0, 0xffffffff))

    def counters(self):
        """What the simulated hypervisor did: a dict (exchanges, exchange_failures, releases,
        free_frames)."""
        _rc, d = _call("dmap_hosted_xen_get_counters", _n.dmapy_hosted_xen_counters, self._ptr())
        return d


@serialized
class XenDomain(Domain):
    """A Xen PV guest's DMA ops (swiotlb-xen): bus addresses are machine addresses.

    Maps directly when the buffer is machine-contiguous and below the mask,
    otherwise bounces through a pool made machine-contiguous with the
    exchange hook. ``iova_is_pfn=True``: the guest's IOMMU maps its
    pseudo-physical space, so bus == guest physical and nothing bounces.

    Args: guest (a XenGuest: its P2M and its exchange hook) or p2m (a P2M;
    then only iova_is_pfn mode works without a hook), guest_page_shift,
    pool_size, segment_size, pool_address_bits, allow_foreign, iova_is_pfn,
    iommu (an IommuDomain mapping pfn -> mfn, with iova_is_pfn).
    """

    def __init__(self, ctx, name=None, *, guest=None, p2m=None, guest_page_shift=0, pool_size=0,
                 segment_size=0, pool_address_bits=0, allow_foreign=False, iova_is_pfn=False,
                 iommu=None):
        _require(HAVE_XEN, "xen")
        if guest is not None and not isinstance(guest, XenGuest):
            raise InvalidArgumentError(message="guest must be a XenGuest",
                                       call="dmap_xen_domain_create")
        if p2m is None and guest is not None:
            p2m = guest.p2m
        if p2m is not None and not isinstance(p2m, P2M):
            raise InvalidArgumentError(message="p2m must be a P2M", call="dmap_xen_domain_create")
        if iommu is not None and not isinstance(iommu, Domain):
            raise InvalidArgumentError(message="iommu must be a Domain",
                                       call="dmap_xen_domain_create")
        rc, ptr = _call("dmap_xen_domain_create", _n.dmapy_xen_domain_create, ctx._ptr(),
                        _name(name), p2m._ptr() if p2m is not None else None,
                        guest._ptr() if guest is not None else None,
                        _int(guest_page_shift, "guest_page_shift", 0, 64),
                        _int(pool_size, "pool_size"), _int(segment_size, "segment_size"),
                        _int(pool_address_bits, "pool_address_bits", 0, 64), bool(allow_foreign),
                        bool(iova_is_pfn), iommu._ptr() if iommu is not None else None)
        self.guest = guest
        self.p2m = p2m
        self.iommu = iommu
        self.iova_is_pfn = bool(iova_is_pfn)
        parents = [x for x in (guest, iommu) if x is not None]
        if p2m is not None and guest is None:
            parents.append(p2m)
        self._setup(ctx, ptr, "xen-domain", parents)

    def xen_stats(self):
        """XenStats."""
        _rc, d = _call("dmap_xen_get_stats", _n.dmapy_xen_stats, self._ptr())
        return XenStats(**d)


__all__ += ["FrameKind", "P2M", "P2MStats", "XenGuest", "XenDomain", "XenStats",
            "XEN_PAGE_SIZE", "XEN_INVALID_FRAME", "HOSTED_XEN_HIGH_MFN"]

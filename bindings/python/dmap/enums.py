# SPDX-License-Identifier: MIT
"""Enumerations and flag sets, with the library's numeric values.

They are IntEnum/IntFlag so they can be passed wherever the C API takes a
number, and print by name.
"""

import enum

from . import dmap_native as _n

__all__ = ["Dir", "Attr", "Access", "DevFlag", "FaultReason", "RawFormat",
           "DebugReport", "LogLevel", "bits"]


def bits(n):
    """The mask of a device that drives ``n`` address bits (DMAP_BIT_MASK(n)), 1 <= n <= 64."""
    n = int(n)
    if not 1 <= n <= 64:
        raise ValueError("bits(n) needs 1 <= n <= 64, got %d" % n)
    return (1 << n) - 1


class Dir(enum.IntEnum):
    """Who writes the buffer while the device owns it (Linux's enum dma_data_direction)."""
    BIDIRECTIONAL = _n.DIR_BIDIRECTIONAL
    TO_DEVICE = _n.DIR_TO_DEVICE
    FROM_DEVICE = _n.DIR_FROM_DEVICE
    NONE = _n.DIR_NONE


class Attr(enum.IntFlag):
    """DMAP_ATTR_* bits (Linux's DMA_ATTR_*)."""
    NONE = 0
    WEAK_ORDERING = _n.ATTR_WEAK_ORDERING
    WRITE_COMBINE = _n.ATTR_WRITE_COMBINE
    NO_KERNEL_MAPPING = _n.ATTR_NO_KERNEL_MAPPING
    SKIP_CPU_SYNC = _n.ATTR_SKIP_CPU_SYNC
    FORCE_CONTIGUOUS = _n.ATTR_FORCE_CONTIGUOUS
    ALLOC_SINGLE_PAGES = _n.ATTR_ALLOC_SINGLE_PAGES
    NO_WARN = _n.ATTR_NO_WARN
    PRIVILEGED = _n.ATTR_PRIVILEGED
    MMIO = _n.ATTR_MMIO


class Access(enum.IntFlag):
    """What a device-side access does (DMAP_ACCESS_*)."""
    NONE = 0
    READ = _n.ACCESS_READ
    WRITE = _n.ACCESS_WRITE
    PRIV = _n.ACCESS_PRIV
    EXEC = _n.ACCESS_EXEC


class DevFlag(enum.IntFlag):
    """Device flags (DMAP_DEV_*)."""
    NONE = 0
    COHERENT = _n.DEV_COHERENT
    UNTRUSTED = _n.DEV_UNTRUSTED


class FaultReason(enum.IntEnum):
    """Why a device access failed, in hardware-neutral terms (enum dmap_fault_reason)."""
    TRANSLATION = _n.FAULT_TRANSLATION
    ADDR_SIZE = _n.FAULT_ADDR_SIZE
    ACCESS_FLAG = _n.FAULT_ACCESS_FLAG
    PERMISSION = _n.FAULT_PERMISSION
    BAD_CONFIG = _n.FAULT_BAD_CONFIG
    NO_MEMORY = _n.FAULT_NO_MEMORY
    NOT_ATTACHED = _n.FAULT_NOT_ATTACHED


class RawFormat(enum.IntEnum):
    """Which hardware record a fault's ``raw`` bytes hold."""
    NONE = _n.FAULT_RAW_NONE
    SMMUV3_EVENT = _n.FAULT_RAW_SMMUV3_EVENT
    VTD_FAULT = _n.FAULT_RAW_VTD_FAULT


class DebugReport(enum.IntEnum):
    """Kinds of report of the DMA-API debug layer (enum dmap_debug_report)."""
    UNMAP_UNKNOWN = 0
    DOUBLE_UNMAP = 1
    SIZE_MISMATCH = 2
    DIR_MISMATCH = 3
    KIND_MISMATCH = 4
    SG_COUNT_MISMATCH = 5
    SYNC_OUTSIDE = 6
    SYNC_WRONG_DIR = 7
    ERROR_NOT_CHECKED = 8
    LEAK = 9


assert len(DebugReport) == _n.DEBUG_REPORT_COUNT, "DebugReport out of step with dmap/debug.h"


class LogLevel(enum.IntEnum):
    """Severity of a library message (syslog numbers: lower is more severe)."""
    ERR = _n.LOG_ERR
    WARN = _n.LOG_WARN
    INFO = _n.LOG_INFO
    DEBUG = _n.LOG_DEBUG

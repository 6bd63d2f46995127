# SPDX-License-Identifier: MIT
"""The exceptions of the dmap package: one hierarchy rooted at DmapError.

The C library reports failure as a negative errno (``-22``) and says why in
its log; map calls return DMAP_MAPPING_ERROR instead. Every exception here
carries both halves: ``errno`` is the negative value exactly as the library
returned it, ``message`` is the library's own last warning for the failing call
(empty if it logged none), and ``call`` names the C function that failed.

Subclasses follow the errno so callers can catch what they can handle::

    try:
        dev.map(phys, 480 * 1024, dmap.Dir.FROM_DEVICE)
    except dmap.MappingError as e:        # DMAP_MAPPING_ERROR
        print(e.errno, e.message)         # -12, "... pool 'swiotlb' ..."
"""

import errno as _errno

__all__ = [
    "DmapError", "InvalidArgumentError", "OutOfMemoryError", "MappingError",
    "BusyError", "NoDeviceError", "FaultError", "NotFoundError", "ExistsError",
    "NoSpaceError", "RangeError", "NotSupportedError", "DmapIOError",
    "PermissionDeniedError", "TooBigError", "ClosedError", "error_from_errno",
]


class DmapError(Exception):
    """Base of every dmap exception.

    Attributes:
        errno: the negative errno the library returned (e.g. -22 for EINVAL).
        message: the library's own message for the failure ("" if none).
        call: the library call that failed (e.g. "dmap_dev_attach").
    """

    default_errno = 0

    def __init__(self, errno=None, message="", call=""):
        if errno is None:
            errno = self.default_errno
        self.errno = int(errno)
        self.message = message or ""
        self.call = call or ""
        super().__init__(self.errno, self.message)

    @property
    def errno_name(self):
        """Symbolic name of the errno ("EINVAL"), or "" for 0."""
        return _errno.errorcode.get(-self.errno, "") if self.errno else ""

    def __str__(self):
        parts = []
        if self.call:
            parts.append(self.call)
        if self.errno:
            parts.append("%s (%d)" % (self.errno_name or "error", self.errno))
        head = ": ".join(parts) if parts else "dmap error"
        return "%s: %s" % (head, self.message) if self.message else head


class InvalidArgumentError(DmapError, ValueError):
    """-EINVAL: an argument the library (or the package, before calling it) rejected."""
    default_errno = -_errno.EINVAL


class OutOfMemoryError(DmapError, MemoryError):
    """-ENOMEM: an allocation or a resource ran out."""
    default_errno = -_errno.ENOMEM


class MappingError(OutOfMemoryError):
    """A map call returned DMAP_MAPPING_ERROR (errno -ENOMEM, as dma_mapping_error()).

    ``message`` says why (mask cannot reach, pool exhausted, not attached ...).
    """


class BusyError(DmapError):
    """-EBUSY: the object is in use (devices attached, a domain stacked on it ...)."""
    default_errno = -_errno.EBUSY


class NoDeviceError(DmapError):
    """-ENODEV: the device is not attached, or the feature is off for this domain."""
    default_errno = -_errno.ENODEV


class FaultError(DmapError):
    """-EFAULT: a device-side access faulted (recorded in the domain's fault log),
    or memory that is not simulated RAM was touched."""
    default_errno = -_errno.EFAULT


class NotFoundError(DmapError):
    """-ENOENT: no such mapping or memory region."""
    default_errno = -_errno.ENOENT


class ExistsError(DmapError):
    """-EEXIST: e.g. a memory region overlapping another."""
    default_errno = -_errno.EEXIST


class NoSpaceError(DmapError):
    """-ENOSPC: an address space or table is full."""
    default_errno = -_errno.ENOSPC


class RangeError(DmapError):
    """-ERANGE: a value outside what the hardware format can express."""
    default_errno = -_errno.ERANGE


class NotSupportedError(DmapError):
    """-EOPNOTSUPP: the backend does not implement this."""
    default_errno = -_errno.EOPNOTSUPP


class DmapIOError(DmapError):
    """-EIO: e.g. a mask the attached domain cannot serve."""
    default_errno = -_errno.EIO


class PermissionDeniedError(DmapError):
    """-EPERM."""
    default_errno = -_errno.EPERM


class TooBigError(DmapError):
    """-E2BIG: a request larger than the backend can ever serve."""
    default_errno = -_errno.E2BIG


class ClosedError(DmapError, ValueError):
    """The Python object was closed (explicitly or because something it depends on was)."""
    default_errno = -_errno.EBADF


_BY_ERRNO = {
    cls.default_errno: cls
    for cls in (InvalidArgumentError, OutOfMemoryError, BusyError, NoDeviceError,
                FaultError, NotFoundError, ExistsError, NoSpaceError, RangeError,
                NotSupportedError, DmapIOError, PermissionDeniedError, TooBigError)
}


def error_from_errno(errno, message="", call=""):
    """Build the exception for a negative errno (DmapError for unknown values)."""
    cls = _BY_ERRNO.get(int(errno), DmapError)
    return cls(errno, message, call)

# SPDX-License-Identifier: MIT
"""The exception hierarchy and the enums."""

import errno

import pytest

import dmap
from dmap import errors


@pytest.mark.parametrize("code,cls", [
    (-errno.EINVAL, dmap.InvalidArgumentError),
    (-errno.ENOMEM, dmap.OutOfMemoryError),
    (-errno.EBUSY, dmap.BusyError),
    (-errno.ENODEV, dmap.NoDeviceError),
    (-errno.EFAULT, dmap.FaultError),
    (-errno.ENOENT, dmap.NotFoundError),
    (-errno.EEXIST, dmap.ExistsError),
    (-errno.ENOSPC, dmap.NoSpaceError),
    (-errno.ERANGE, dmap.RangeError),
    (-errno.EOPNOTSUPP, dmap.NotSupportedError),
    (-errno.EIO, dmap.DmapIOError),
    (-errno.EPERM, dmap.PermissionDeniedError),
    (-errno.E2BIG, dmap.TooBigError),
])
def test_error_from_errno(code, cls):
    e = dmap.error_from_errno(code, "what happened", "dmap_something")
    assert type(e) is cls
    assert isinstance(e, dmap.DmapError)
    assert e.errno == code
    assert e.message == "what happened"
    assert e.call == "dmap_something"
    assert e.errno_name == errno.errorcode[-code]
    assert "what happened" in str(e) and "dmap_something" in str(e)


def test_unknown_errno_is_base_class():
    e = dmap.error_from_errno(-999, "odd")
    assert type(e) is dmap.DmapError
    assert e.errno == -999
    assert "odd" in str(e)


def test_hierarchy_doubles_as_builtin_exceptions():
    assert issubclass(dmap.InvalidArgumentError, ValueError)
    assert issubclass(dmap.OutOfMemoryError, MemoryError)
    assert issubclass(dmap.MappingError, dmap.OutOfMemoryError)
    assert issubclass(dmap.ClosedError, ValueError)
    assert dmap.MappingError().errno == -errno.ENOMEM
    assert dmap.ClosedError().errno == -errno.EBADF


def test_str_without_details():
    assert str(dmap.DmapError(0)) == "dmap error"
    assert str(errors.BusyError()) == "EBUSY (-16)"


def test_native_errno_constants_match_python():
    n = dmap._native
    for name in ("EPERM", "ENOENT", "EIO", "E2BIG", "ENOMEM", "EFAULT", "EBUSY", "EEXIST",
                 "ENODEV", "EINVAL", "ENOSPC", "ERANGE", "EOPNOTSUPP"):
        assert getattr(n, name + "_") == getattr(errno, name)


def test_enums():
    assert dmap.Dir.TO_DEVICE == 1 and dmap.Dir.FROM_DEVICE == 2 and dmap.Dir.NONE == 3
    assert dmap.Attr.SKIP_CPU_SYNC == 1 << 5
    assert dmap.Attr.NO_WARN | dmap.Attr.PRIVILEGED == (1 << 8) | (1 << 9)
    assert dmap.Access.READ | dmap.Access.WRITE == 3
    assert dmap.FaultReason.TRANSLATION == 1
    assert dmap.RawFormat.SMMUV3_EVENT == 1
    assert dmap.DevFlag.UNTRUSTED == 2
    assert dmap.LogLevel.WARN < dmap.LogLevel.INFO
    assert len(dmap.DebugReport) == dmap._native.DEBUG_REPORT_COUNT


def test_bits():
    assert dmap.bits(32) == 0xffffffff
    assert dmap.bits(64) == (1 << 64) - 1
    assert dmap.bits(44) == (1 << 44) - 1
    with pytest.raises(ValueError):
        dmap.bits(0)
    with pytest.raises(ValueError):
        dmap.bits(65)


def test_constants():
    assert dmap.MAPPING_ERROR == (1 << 64) - 1
    assert dmap.SIZE_MAX == (1 << 64) - 1
    assert "identity" in dmap.BACKENDS
    assert dmap.MiB == 1 << 20


def test_reason_and_report_names():
    assert dmap._native.dmap_fault_reason_name(int(dmap.FaultReason.TRANSLATION)) == "translation"
    assert dmap._native.dmap_fault_reason_name(999) == "unknown"
    assert dmap.Domain.debug_report_name(dmap.DebugReport.DOUBLE_UNMAP) == "double-unmap"
    assert dmap.Domain.debug_report_name(99) == "unknown"


def test_wrappers_cannot_be_built_directly():
    for cls in (dmap.Mapping, dmap.SgMapping, dmap.CoherentBuffer, dmap.Domain):
        with pytest.raises(TypeError):
            cls()

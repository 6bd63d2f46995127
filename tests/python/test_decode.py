# SPDX-License-Identifier: MIT
"""Decoding raw fault records in Python (independent of the library's own decoders)."""

import struct

import dmap


def smmu_event(eid, sid, addr, rnw=1, pnu=0, ind=0, ssid=None):
    d0 = eid | (sid << 32)
    if ssid is not None:
        d0 |= (1 << 11) | (ssid << 12)
    d1 = (rnw << 35) | (pnu << 33) | (ind << 34) | (2 << 40)
    return struct.pack("<4Q", d0, d1, addr, 0x1234_5000)


def test_smmu_event_fields():
    hw = dmap.decode_raw_fault(dmap.RawFormat.SMMUV3_EVENT,
                               smmu_event(0x10, 0x21, 0x4010_0800, rnw=0, pnu=1, ind=1, ssid=5))
    assert hw["event_id"] == 0x10 and hw["event_name"] == "F_TRANSLATION"
    assert hw["stream_id"] == 0x21 and hw["input_addr"] == 0x4010_0800
    assert hw["rnw"] == 0 and hw["pnu"] == 1 and hw["ind"] == 1
    assert hw["ssv"] == 1 and hw["substream_id"] == 5 and hw["clazz"] == 2
    assert hw["ipa"] == 0x1234_5000
    assert dmap.decode_raw_fault(dmap.RawFormat.SMMUV3_EVENT, smmu_event(0x7f, 1, 0))[
        "event_name"] == "unknown"


def test_vtd_fault_fields():
    lo = 0x5000 | 0xabc  # low bits are reserved
    hi = 0x0300 | (1 << 31) | (0x06 << 32) | (7 << 40) | (1 << 62) | (1 << 63)
    hw = dmap.decode_raw_fault(dmap.RawFormat.VTD_FAULT, struct.pack("<2Q", lo, hi))
    assert hw == {"fault_info": 0x5000, "source_id": 0x300, "pasid_present": 1,
                  "fault_reason": 6, "pasid": 7, "type_read": 1, "fault": 1}


def test_no_or_short_record():
    assert dmap.decode_raw_fault(dmap.RawFormat.NONE, b"") is None
    assert dmap.decode_raw_fault(dmap.RawFormat.SMMUV3_EVENT, b"\x10" * 8) is None
    assert dmap.decode_raw_fault(dmap.RawFormat.VTD_FAULT, b"\x00" * 8) is None


def test_fault_value_object():
    raw = smmu_event(0x13, 0x9, 0x1000)
    f = dmap.Fault(3, "dev", 0x9, 0x1000, dmap.Access.WRITE | dmap.Access.PRIV,
                   dmap.FaultReason.PERMISSION, dmap.RawFormat.SMMUV3_EVENT, raw)
    assert f.event_id == 0x13 and f.reason_name == "permission"
    assert "write+priv" in str(f) and "[event 0x13]" in str(f)
    v = dmap.Fault(4, "dev", 0x300, 0x5000, dmap.Access.READ, dmap.FaultReason.TRANSLATION,
                   dmap.RawFormat.VTD_FAULT, struct.pack("<2Q", 0x5000, 0x300 | (6 << 32)))
    assert v.event_id == 6 and "[fault reason 0x6]" in str(v)
    n = dmap.Fault(5, "dev", 0, 0, dmap.Access.NONE, dmap.FaultReason.NO_MEMORY,
                   dmap.RawFormat.NONE, b"")
    assert n.event_id is None and "none" in str(n)


def test_native_decoders_agree_when_built():
    if not dmap.HAVE_IOMMU:
        return
    raw = smmu_event(0x10, 0x77, 0xdead_b000, rnw=1)
    mine = dmap.decode_raw_fault(dmap.RawFormat.SMMUV3_EVENT, raw)
    lib = dmap.backends.native_decode_fault(dmap.RawFormat.SMMUV3_EVENT, raw)
    assert (lib["id"], lib["sid"], lib["input_addr"], lib["rnw"]) == (
        mine["event_id"], mine["stream_id"], mine["input_addr"], mine["rnw"])
    assert dmap.backends.native_decode_fault(dmap.RawFormat.NONE, b"") is None
    assert dmap.backends.native_decode_fault(dmap.RawFormat.SMMUV3_EVENT, b"") is None
    assert dmap.backends.native_decode_fault(dmap.RawFormat.VTD_FAULT, b"") is None


def test_debug_counts_value_object():
    c = dmap.DebugCounts({k: i for i, k in enumerate(dmap.DebugReport)}, 2)
    assert c[dmap.DebugReport.LEAK] == 9 and c[1] == 1 and c.total == 45


def test_environment_echo_constructor(capfd):
    with dmap.Context(echo=dmap.LogLevel.WARN) as ctx:
        assert ctx.env.echo == dmap.LogLevel.WARN
        dev = ctx.device("loud")
        try:
            dev.map(0x1000, 16)
        except dmap.MappingError:
            pass
    assert "loud" in capfd.readouterr().err

/* SPDX-License-Identifier: MIT */
/*
 * dmap/fault.h - the per-domain fault log.
 *
 * Every failed device-side access (dmap_translate(), dmap_dev_read(),
 * dmap_dev_write()) is recorded twice over: decoded, in dmap's own terms
 * (device, address, access, reason), and raw, as the bytes the hardware
 * would have written to its event queue (an SMMUv3 32-byte event record, a
 * VT-d 16-byte fault record) when the domain's backend models one.
 *
 * The log is a bounded multi-producer ring: a faulting device never waits
 * for a reader; when the ring is full the new record is dropped and counted
 * (as SMMUv3 does on event-queue overflow).
 */
#ifndef DMAP_FAULT_H
#define DMAP_FAULT_H

#include <dmap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmap_domain;

/**
 * enum dmap_fault_reason - why an access failed, in hardware-neutral terms.
 * @DMAP_FAULT_TRANSLATION: nothing mapped there (SMMUv3 F_TRANSLATION 0x10; VT-d 0x5/0x6 on a non-present PTE).
 * @DMAP_FAULT_ADDR_SIZE: address beyond what the device or the table can express (F_ADDR_SIZE 0x11; VT-d 0x4).
 * @DMAP_FAULT_ACCESS_FLAG: access flag clear (F_ACCESS 0x12).
 * @DMAP_FAULT_PERMISSION: mapped, but not for this access (F_PERMISSION 0x13; VT-d 0x5 write / 0x6 read).
 * @DMAP_FAULT_BAD_CONFIG: the device's configuration is invalid (bad STE/CD; VT-d context entry).
 * @DMAP_FAULT_NO_MEMORY: translated, but no RAM behind the physical address (bus error).
 * @DMAP_FAULT_NOT_ATTACHED: the device has no domain (SMMUv3 abort STE).
 */
enum dmap_fault_reason {
	DMAP_FAULT_TRANSLATION = 1,
	DMAP_FAULT_ADDR_SIZE,
	DMAP_FAULT_ACCESS_FLAG,
	DMAP_FAULT_PERMISSION,
	DMAP_FAULT_BAD_CONFIG,
	DMAP_FAULT_NO_MEMORY,
	DMAP_FAULT_NOT_ATTACHED,
};

/* Which hardware record, if any, fills dmap_fault.raw. */
enum dmap_fault_raw_format {
	DMAP_FAULT_RAW_NONE = 0,
	DMAP_FAULT_RAW_SMMUV3_EVENT = 1, /* 32 bytes, little-endian, SMMUv3 spec 7.3 */
	DMAP_FAULT_RAW_VTD_FAULT = 2, /* 16 bytes, VT-d spec 10.4.14 fault recording register */
};

#define DMAP_FAULT_RAW_MAX 32

/**
 * struct dmap_fault - one recorded fault.
 * @sequence: position in the domain's fault history (0, 1, 2, ...; gaps mean drops).
 * @device: the device's name, copied.
 * @stream_id: its StreamID / requester id.
 * @addr: faulting bus address (first byte of the failing chunk).
 * @access: DMAP_ACCESS_* bits of the access.
 * @reason: decoded reason.
 * @raw_format: what @raw holds.
 * @raw_len: bytes used in @raw.
 * @raw: the hardware record, bit for bit.
 */
struct dmap_fault {
	uint64_t sequence;
	char device[32];
	uint32_t stream_id;
	dmap_addr_t addr;
	unsigned int access;
	enum dmap_fault_reason reason;
	enum dmap_fault_raw_format raw_format;
	uint32_t raw_len;
	uint8_t raw[DMAP_FAULT_RAW_MAX];
};

/**
 * dmap_fault_pop() - take the oldest fault from a domain's log.
 * @domain: domain.
 * @out: receives the record.
 *
 * Context: any; never blocks (one consumer at a time is expected; concurrent
 * consumers are safe and each record goes to one of them). Returns 1 when a
 * record was taken, 0 when the log is empty, -EINVAL for NULL.
 */
int dmap_fault_pop(struct dmap_domain *domain, struct dmap_fault *out);

/**
 * dmap_fault_counts() - how many faults were recorded and dropped.
 * @recorded: faults ever offered to the log (may be NULL).
 * @dropped: of those, how many were lost to a full ring (may be NULL).
 * Returns 0 or -EINVAL.
 */
int dmap_fault_counts(const struct dmap_domain *domain, uint64_t *recorded, uint64_t *dropped);

/** dmap_fault_reason_name() - "translation", "permission", ...; "unknown" otherwise. */
const char *dmap_fault_reason_name(enum dmap_fault_reason reason);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_FAULT_H */

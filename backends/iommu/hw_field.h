/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/hw_field.h - bit fields of hardware structures (SMMUv3 STEs,
 * CDs, commands, events; VT-d entries, descriptors, fault records), shared by
 * the encoders in smmuv3_hw.c and vtd_hw.c. A structure is an array of
 * little-endian 64-bit words; a field is [hi:lo] of one word. Private to
 * backends/iommu.
 */
#ifndef DMAP_IOMMU_HW_FIELD_H
#define DMAP_IOMMU_HW_FIELD_H

#include <dmap/types.h>

/* One field: @word, bits [@hi:@lo]. */
struct hw_field {
	uint8_t word, hi, lo;
};

static inline uint64_t field_mask(struct hw_field f)
{
	return DMAP_BIT_MASK(f.hi - f.lo + 1) << f.lo;
}

/* Place @value (already shifted right by @lo); false if it does not fit. */
static inline bool put(uint64_t *out, struct hw_field f, uint64_t value)
{
	if (value & ~DMAP_BIT_MASK(f.hi - f.lo + 1))
		return false;
	out[f.word] |= value << f.lo;
	return true;
}

static inline uint64_t get(const uint64_t *in, struct hw_field f)
{
	return (in[f.word] & field_mask(f)) >> f.lo;
}

/* An address field holds bits [@hi:@lo] of the address in the same positions. */
static inline bool put_addr(uint64_t *out, struct hw_field f, uint64_t addr)
{
	if (addr & ~field_mask(f))
		return false;
	out[f.word] |= addr;
	return true;
}

static inline uint64_t get_addr(const uint64_t *in, struct hw_field f)
{
	return in[f.word] & field_mask(f);
}

#endif /* DMAP_IOMMU_HW_FIELD_H */

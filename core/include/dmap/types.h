/* SPDX-License-Identifier: MIT */
/*
 * dmap/types.h - scalar types, directions, attributes and error conventions.
 *
 * Everything here mirrors the Linux DMA API on purpose (same enum values, same
 * attribute bits, same all-ones error address) so that a frontend can pass
 * Linux's values straight through and a reader who knows dma-mapping.h needs
 * no translation table.
 *
 * Freestanding: only <stdint.h>, <stddef.h> and <stdbool.h>.
 */
#ifndef DMAP_TYPES_H
#define DMAP_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** typedef dmap_addr_t - a bus address: what the device puts on the wire (an IOVA behind an IOMMU). */
typedef uint64_t dmap_addr_t;
/** typedef dmap_phys_t - a CPU physical address (guest pseudo-physical under Xen PV). */
typedef uint64_t dmap_phys_t;

/* Returned by every map call on failure; never a valid bus address (Linux: DMA_MAPPING_ERROR). */
#define DMAP_MAPPING_ERROR (~(dmap_addr_t)0)

/* DMAP_BIT_MASK(n) - the mask of a device that drives n address bits; n in 1..64. */
#define DMAP_BIT_MASK(n) ((n) >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (n)) - 1)

/**
 * enum dmap_dir - who writes the buffer while the device owns it (Linux values).
 * @DMAP_BIDIRECTIONAL: both; bounced both ways.
 * @DMAP_TO_DEVICE: the device only reads.
 * @DMAP_FROM_DEVICE: the device only writes.
 * @DMAP_NONE: debugging placeholder; every map, unmap and sync call rejects it with -EINVAL.
 */
enum dmap_dir {
	DMAP_BIDIRECTIONAL = 0,
	DMAP_TO_DEVICE = 1,
	DMAP_FROM_DEVICE = 2,
	DMAP_NONE = 3,
};

/* Attribute bits, same positions as Linux's DMA_ATTR_* (unsigned long). */
#define DMAP_ATTR_WEAK_ORDERING (1UL << 1)
#define DMAP_ATTR_WRITE_COMBINE (1UL << 2)
#define DMAP_ATTR_NO_KERNEL_MAPPING (1UL << 4)
#define DMAP_ATTR_SKIP_CPU_SYNC (1UL << 5)
#define DMAP_ATTR_FORCE_CONTIGUOUS (1UL << 6)
#define DMAP_ATTR_ALLOC_SINGLE_PAGES (1UL << 7)
#define DMAP_ATTR_NO_WARN (1UL << 8)
#define DMAP_ATTR_PRIVILEGED (1UL << 9)
#define DMAP_ATTR_MMIO (1UL << 10)
/* Every bit above; map calls reject unknown bits with an error naming them. */
#define DMAP_ATTR_ALL                                                                          \
	(DMAP_ATTR_WEAK_ORDERING | DMAP_ATTR_WRITE_COMBINE | DMAP_ATTR_NO_KERNEL_MAPPING |     \
	 DMAP_ATTR_SKIP_CPU_SYNC | DMAP_ATTR_FORCE_CONTIGUOUS | DMAP_ATTR_ALLOC_SINGLE_PAGES | \
	 DMAP_ATTR_NO_WARN | DMAP_ATTR_PRIVILEGED | DMAP_ATTR_MMIO)

/*
 * Error values: every int-returning call returns 0 (or a count) on success and
 * a negative errno on failure. Core is freestanding and cannot include
 * <errno.h>, so it carries the Linux/POSIX numbers it uses; they equal glibc's
 * and the kernel's on every architecture dmap targets.
 */
#define DMAP_EPERM 1
#define DMAP_ENOENT 2
#define DMAP_EIO 5
#define DMAP_E2BIG 7
#define DMAP_ENOMEM 12
#define DMAP_EFAULT 14
#define DMAP_EBUSY 16
#define DMAP_EEXIST 17
#define DMAP_ENODEV 19
#define DMAP_EINVAL 22
#define DMAP_ENOSPC 28
#define DMAP_ERANGE 34
#define DMAP_EOPNOTSUPP 95

/**
 * struct dmap_sg - one scatter-gather entry (Linux: struct scatterlist).
 * @phys: CPU physical address of the entry (input).
 * @len: length in bytes (input).
 * @dma_addr: bus address of the i-th *bus segment* (output, see dmap_map_sg()).
 * @dma_len: length of the i-th bus segment (output; 0 past the returned count).
 *
 * As in Linux, input and output share the array: after dmap_map_sg() returns n,
 * entries 0..n-1 carry the (possibly merged) bus segments in dma_addr/dma_len,
 * while phys/len of every entry are left untouched for unmap and sync.
 */
struct dmap_sg {
	dmap_phys_t phys;
	size_t len;
	dmap_addr_t dma_addr;
	size_t dma_len;
};

#ifdef __cplusplus
}
#endif
#endif /* DMAP_TYPES_H */

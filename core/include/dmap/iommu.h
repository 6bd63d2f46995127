/* SPDX-License-Identifier: MIT */
/*
 * dmap/iommu.h - the iommu backend: DMA through an IOMMU's page tables (Linux:
 * dma-iommu.c over io-pgtable), with the hardware's own table layouts.
 *
 * A domain owns one address space: an IOVA allocator over an aperture, one
 * page table in a real hardware format (Arm LPAE stage 1 as an SMMUv3 walks
 * it, or Intel VT-d second level), a software IOTLB that caches the device
 * side's walks until a flush invalidates them, and, in deferred mode, a
 * flush queue that batches invalidations (Linux's lazy / DMA_FQ domains).
 *
 * Driver side (dmap_map_phys() and friends on an attached device): allocate
 * an IOVA, write the tables with the largest page sizes that fit, return the
 * IOVA plus the buffer's offset in its granule. Device side (dmap_dev_read(),
 * dmap_dev_write(), dmap_translate()): the IOTLB, then a walk of the tables
 * exactly as the hardware reads them; a fault goes to the domain's fault log
 * decoded and as the raw SMMUv3 event record or VT-d fault record.
 *
 * Because only the flush operations invalidate the IOTLB, a missing
 * invalidation behaves as on hardware: the device still reaches the old page.
 * In deferred mode that window is the flush queue's (at most fq_size unmaps
 * per CPU or fq_timeout_ns, whichever comes first, checked on every unmap and
 * on dmap_iommu_poll()); the IOVA and the table pages of an unmapped buffer
 * are reused only after the flush, so a stale entry can never alias a new
 * mapping.
 */
#ifndef DMAP_IOMMU_H
#define DMAP_IOMMU_H

#include <dmap/dmap.h>
#include <dmap/iommu_hw.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct dmap_iommu_range - an inclusive IOVA range [@first, @last].
 */
struct dmap_iommu_range {
	uint64_t first;
	uint64_t last;
};

#define DMAP_IOMMU_MAX_RESERVED 16

/**
 * struct dmap_iommu_config - an iommu domain's settings; zero means default.
 * @name: instance name for messages (NULL: "iommu").
 * @format: DMAP_PGTABLE_ARM_LPAE_S1 or DMAP_PGTABLE_VTD_SL (0: ARM).
 * @granule: ARM: 4096, 16384 or 65536 (0: 4096). VT-d: 4096 only.
 * @ias: input (IOVA) bits. ARM: 32..48 (0: 48). VT-d: derived from @levels.
 * @oas: output (physical) bits. ARM: 32..48 (0: 48). VT-d: up to 52 (0: 48).
 * @levels: VT-d table levels, 3, 4 or 5 (0: 4; 39, 48 or 57 IOVA bits).
 * @deferred: lazy invalidation through a flush queue (Linux DMA_FQ) instead
 *            of invalidating before every unmap returns (strict, the default).
 * @fq_size: flush-queue entries per CPU, a power of two (0: 256, Linux's).
 * @fq_timeout_ns: oldest queued unmap is flushed after this long (0: 10 ms).
 * @aperture: IOVA range the allocator hands out (0/0: granule .. 2^ias - 1).
 *            IOVA 0 is never handed out whatever the aperture.
 * @reserved: ranges never handed out, in addition to IOVA 0 and (VT-d) the
 *            interrupt window 0xFEE00000-0xFEEFFFFF.
 * @nr_reserved: entries in @reserved (at most DMAP_IOMMU_MAX_RESERVED).
 * @bounce: optional bounce domain (dmap/bounce.h) for untrusted devices'
 *          buffers that do not fill whole granules; marked used until this
 *          domain is destroyed. Without it such buffers fail to map.
 * @inval_latency_ns: modelled hardware invalidation round trip: every IOTLB
 *          sync (strict unmap, queue flush, explicit flush) busy-waits this
 *          long, as a CMD_SYNC would (0: none). For benchmarks.
 * @iotlb_entries: software IOTLB capacity (0: 128). Replacement is FIFO.
 * @no_iotlb: walk the tables on every device access (no IOTLB); for
 *          measuring the walk.
 * @no_iova_cache: serve every IOVA from the allocator's tree (no per-CPU
 *          magazines); for measuring the cache.
 * @non_coherent_walk: the walker does not snoop CPU caches: every table
 *          write is followed by a cache clean.
 */
struct dmap_iommu_config {
	const char *name;
	enum dmap_pgtable_format format;
	size_t granule;
	unsigned int ias;
	unsigned int oas;
	unsigned int levels;
	bool deferred;
	unsigned int fq_size;
	uint64_t fq_timeout_ns;
	struct dmap_iommu_range aperture;
	const struct dmap_iommu_range *reserved;
	unsigned int nr_reserved;
	struct dmap_domain *bounce;
	uint64_t inval_latency_ns;
	unsigned int iotlb_entries;
	bool no_iotlb;
	bool no_iova_cache;
	bool non_coherent_walk;
};

/**
 * dmap_iommu_domain_create() - make an iommu domain.
 * @ctx: context; its environment must provide alloc_table_page and
 *       free_table_page (and alloc_dma_pages for coherent allocations).
 * @config: settings (see &struct dmap_iommu_config; NULL: all defaults).
 * @out: receives the domain.
 *
 * Context: may sleep. Returns 0, -EINVAL (NULL, unknown format, granule,
 * ias/oas/levels out of range, fq_size not a power of two, aperture empty or
 * beyond ias, too many reserved ranges, bounce domain of another context,
 * environment without table pages; the message names the field), -ENOMEM.
 */
int dmap_iommu_domain_create(struct dmap_ctx *ctx, const struct dmap_iommu_config *config,
			     struct dmap_domain **out);

/** dmap_is_iommu_domain() - true if @domain was made by dmap_iommu_domain_create(). */
bool dmap_is_iommu_domain(const struct dmap_domain *domain);

/**
 * dmap_iommu_map() - map [@iova, @iova+@size) to @phys with DMAP_PROT_* @prot
 * at an address the caller chooses (Linux: iommu_map(); VFIO-style users).
 * @iova, @phys, @size: granule aligned, @size > 0.
 *
 * The range is taken from the IOVA allocator so streaming mappings never
 * overlap it. Context: any; never sleeps. Returns 0, -EINVAL (not an iommu
 * domain, alignment, zero size, bad @prot), -ERANGE (IOVA outside the
 * aperture, or @phys beyond oas), -EBUSY (IOVA range not free), -ENOMEM.
 */
int dmap_iommu_map(struct dmap_domain *domain, uint64_t iova, dmap_phys_t phys, size_t size,
		   unsigned int prot);

/**
 * dmap_iommu_unmap() - undo dmap_iommu_map() exactly (same @iova and @size),
 * invalidating the IOTLB before returning whatever the domain's mode.
 * Returns 0, -EINVAL (also: a dmap_iommu_map() range starts at @iova but has
 * another size, or a DMA API mapping starts there; nothing changes),
 * -ERANGE (outside the aperture), -ENOENT (no dmap_iommu_map() range starts
 * at @iova).
 */
int dmap_iommu_unmap(struct dmap_domain *domain, uint64_t iova, size_t size);

/**
 * dmap_iommu_iova_to_phys() - CPU-side lookup of @iova in the tables (no
 * IOTLB, no fault). Returns the physical address, or 0 when unmapped (as
 * Linux's iommu_iova_to_phys()) - and also for an IOVA mapped to physical
 * address 0: use dmap_iommu_iova_lookup() where that matters. Any context.
 */
dmap_phys_t dmap_iommu_iova_to_phys(struct dmap_domain *domain, uint64_t iova);

/**
 * dmap_iommu_iova_lookup() - as dmap_iommu_iova_to_phys(), but telling
 * "unmapped" from "mapped to physical address 0".
 * @domain: iommu domain.
 * @iova: the address to look up.
 * @phys: receives the physical address (0 when unmapped).
 *
 * Context: any; never sleeps. Returns 0 (mapped; *@phys set), -ENOENT (no
 * translation: outside the aperture or a hole in the tables), -EINVAL (not
 * an iommu domain, NULL @phys).
 */
int dmap_iommu_iova_lookup(struct dmap_domain *domain, uint64_t iova, dmap_phys_t *phys);

/**
 * dmap_iommu_flush_all() - invalidate the whole IOTLB (with the modelled
 * latency), then release everything the flush queue held: IOVAs become
 * allocatable again and table pages are freed after an RCU grace period.
 * Context: any; never sleeps. Returns 0 or -EINVAL (not an iommu domain).
 */
int dmap_iommu_flush_all(struct dmap_domain *domain);

/**
 * dmap_iommu_flush_range() - invalidate the IOTLB entries that overlap
 * [@iova, @iova+@size) (an SMMUv3 TLBI_NH_VA range + CMD_SYNC; a VT-d
 * page-selective IOTLB invalidation). Queued unmaps stay queued.
 * Returns 0, -EINVAL (not an iommu domain, @size 0, wrap), -ERANGE (outside
 * the aperture).
 */
int dmap_iommu_flush_range(struct dmap_domain *domain, uint64_t iova, size_t size);

/**
 * dmap_iommu_poll() - the flush queue's timer: flush if the oldest queued
 * unmap is older than fq_timeout_ns. Frontends call it periodically (no
 * timers exist in a freestanding library); unmaps check it too. Returns 1 if
 * it flushed, 0 if not, -EINVAL.
 */
int dmap_iommu_poll(struct dmap_domain *domain);

/**
 * struct dmap_iommu_stats - an iommu domain's own counters.
 * @iotlb_hits: device-side translations served by the IOTLB.
 * @iotlb_misses: translations that walked the tables.
 * @iotlb_fills: entries inserted after a walk.
 * @iotlb_invalidations: IOTLB syncs (range or all), each paying inval_latency_ns.
 * @iotlb_entries: entries in the IOTLB now.
 * @walk_faults: walks that faulted.
 * @iova_cache_hits: IOVA allocations served by a per-CPU magazine.
 * @iova_cache_misses: cacheable allocations that went to the tree.
 * @iova_failures: allocations that found no room.
 * @iova_free_ranges: free ranges in the allocator's tree (fragmentation).
 * @fq_queued: unmaps queued for deferred invalidation.
 * @fq_flushes: flush-queue flushes (full ring, timeout, poll, explicit).
 * @fq_full_flushes: of those, forced by a full ring.
 * @fq_timeout_flushes: of those, forced by the timeout.
 * @fq_strict_fallbacks: deferred unmaps done strictly because their CPU's
 *          ring was busy (another CPU flushing it) or could not be allocated.
 * @bounced_maps: mappings of untrusted devices bounced through @bounce.
 * @table_pages_freed: page-table pages given back after their flush.
 */
struct dmap_iommu_stats {
	uint64_t iotlb_hits;
	uint64_t iotlb_misses;
	uint64_t iotlb_fills;
	uint64_t iotlb_invalidations;
	uint64_t iotlb_entries;
	uint64_t walk_faults;
	uint64_t iova_cache_hits;
	uint64_t iova_cache_misses;
	uint64_t iova_failures;
	uint64_t iova_free_ranges;
	uint64_t fq_queued;
	uint64_t fq_flushes;
	uint64_t fq_full_flushes;
	uint64_t fq_timeout_flushes;
	uint64_t fq_strict_fallbacks;
	uint64_t bounced_maps;
	uint64_t table_pages_freed;
};

/** dmap_iommu_get_stats() - snapshot the counters. Returns 0 or -EINVAL. */
int dmap_iommu_get_stats(struct dmap_domain *domain, struct dmap_iommu_stats *out);

/**
 * struct dmap_iommu_table_page - one page of the tables, as the walker sees it.
 * @level: its level (ARM: start_level..3; VT-d: levels..1).
 * @phys: its physical address.
 * @size: bytes in @bytes (the table's size: a PGD may be smaller than a page).
 * @bytes: a copy of its contents (little-endian descriptors).
 */
struct dmap_iommu_table_page {
	unsigned int level;
	dmap_phys_t phys;
	size_t size;
	uint8_t *bytes;
};

/**
 * struct dmap_iommu_dump - a domain's page tables at one instant.
 * @format: the layout.
 * @granule: smallest page size.
 * @ias, @oas: address sizes.
 * @root: physical address of the top table (ARM TTB0 / VT-d SLPTPTR).
 * @arm_tcr: ARM: translation control bits for the CD (TCR_EL1 layout).
 * @arm_mair: ARM: memory attribute indirection value.
 * @levels: table levels; ARM also @start_level.
 * @start_level: ARM: level of the root (0..3); VT-d: equal to @levels.
 * @vtd_agaw: VT-d: the context entry's AW field.
 * @nr_pages: entries in @pages, root first, depth-first in IOVA order.
 * @pages: the table pages.
 * @pages_allocated: entries allocated for @pages (for dmap_iommu_dump_free()).
 */
struct dmap_iommu_dump {
	enum dmap_pgtable_format format;
	size_t granule;
	unsigned int ias, oas;
	dmap_phys_t root;
	uint64_t arm_tcr;
	uint64_t arm_mair;
	unsigned int levels;
	unsigned int start_level;
	unsigned int vtd_agaw;
	size_t nr_pages;
	struct dmap_iommu_table_page *pages;
	size_t pages_allocated;
};

/**
 * dmap_iommu_dump_tables() - copy out a domain's page tables, so a test, a
 * tool or Python can read them bit for bit (or program a real unit with
 * @root and the TCR/MAIR values).
 * @domain: iommu domain; no map or unmap may run concurrently (the copy would
 *          be torn; walkers are fine).
 * @out: receives the dump; free it with dmap_iommu_dump_free().
 *
 * Context: may sleep. Returns 0, -EINVAL, -ENOMEM.
 */
int dmap_iommu_dump_tables(struct dmap_domain *domain, struct dmap_iommu_dump **out);

/** dmap_iommu_dump_free() - free a dump (NULL: no-op); @domain is the one it came from. */
void dmap_iommu_dump_free(struct dmap_domain *domain, struct dmap_iommu_dump *dump);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_IOMMU_H */

/* SPDX-License-Identifier: MIT */
/*
 * dmap/bounce.h - the bounce backend (Linux: swiotlb), on a lock-free
 * size-class pool.
 *
 * A bounce domain owns memory below a physical (bus) limit that every device
 * it serves can reach. Each streaming mapping takes a run of slots, the data
 * is copied in on map (in every direction, so a device that writes only part
 * of a FROM_DEVICE buffer cannot expose stale pool contents) and copied back
 * on unmap and sync_for_cpu for FROM_DEVICE and BIDIRECTIONAL. The device sees
 * only slots: dmap_dev_read()/dmap_dev_write() outside a live mapping fault.
 *
 * Use it alone (every mapping bounces: swiotlb=force, restricted-dma-pool),
 * as the fallback of an identity domain (only what a device cannot reach
 * bounces), or embedded in another backend (xen, iommu) that calls it through
 * dmap_domain_call_*() and supplies machine-contiguous memory through
 * &struct dmap_bounce_memory_ops. docs/bounce.md explains the pool, its
 * fragmentation strategy and its worst case.
 */
#ifndef DMAP_BOUNCE_H
#define DMAP_BOUNCE_H

#include <dmap/dmap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults (Linux: IO_TLB_DEFAULT_SIZE, the 32-bit limit, IO_TLB_SIZE). */
#define DMAP_BOUNCE_DEFAULT_POOL_SIZE (64ull << 20)
#define DMAP_BOUNCE_DEFAULT_PHYS_LIMIT 0xffffffffull
#define DMAP_BOUNCE_DEFAULT_MAX_MAPPING (1ull << 20)
#define DMAP_BOUNCE_DEFAULT_SLOT_SIZE 2048u
#define DMAP_BOUNCE_DEFAULT_CACHES 16u
/* Size classes reported in &struct dmap_bounce_stats. */
#define DMAP_BOUNCE_MAX_CLASSES 24

/**
 * struct dmap_bounce_memory_ops - where pool memory comes from, for a backend
 * that must prepare it (Xen makes it machine-contiguous, a confidential guest
 * shares it with the host). Without it the environment's alloc_dma_pages and
 * free_dma_pages are used and bus = phys + bus_offset.
 * @alloc: @size bytes of CPU-physically contiguous memory aligned to @align
 *         (a power of two) whose last bus address is at or below @bus_limit. Returns the CPU pointer and
 *         fills *@phys and *@bus, or returns NULL. Bus addresses must be
 *         contiguous across the region, or within each naturally aligned
 *         segment when &struct dmap_bounce_config.segment_size is set (the
 *         bus address returned is then that of the first byte; the pool uses
 *         it only through bus = *@bus + (phys - *@phys), so a backend that
 *         translates per segment may return *@bus = *@phys and translate
 *         itself, as xen does). May sleep (called at domain
 *         creation and, with growth enabled, from the map path: see
 *         &struct dmap_bounce_config.allow_growth).
 * @free: give back what @alloc returned. May sleep; called after an RCU
 *        grace period for pools released at run time.
 * @arg: passed to both.
 */
struct dmap_bounce_memory_ops {
	void *(*alloc)(void *arg, size_t size, size_t align, uint64_t bus_limit, dmap_phys_t *phys,
		       dmap_addr_t *bus);
	void (*free)(void *arg, void *va, dmap_phys_t phys, size_t size);
	void *arg;
};

/**
 * struct dmap_bounce_config - bounce domain settings; zero fields take defaults.
 * @name: instance name for messages (NULL: "bounce").
 * @pool_size: bytes of the first pool (0: 64 MiB). Rounded down to slots.
 * @phys_limit: highest bus address pool memory may have (0: 4 GiB - 1), so a
 *       32-bit device can reach every slot.
 * @max_mapping_size: largest single mapping (0: 1 MiB; Linux is stuck at 256
 *       KiB, too small for a 480 KiB read-ahead). Rounded up to a power of
 *       two slots for the pool's largest block; must fit in the pool.
 * @slot_size: smallest unit, a power of two from 512 to 65536 (0: 2 KiB).
 * @nr_caches: per-CPU caches, a power of two up to 64 (0: 16).
 * @no_caches: use no per-CPU caches at all (every call goes to the shared lists).
 * @thread_caches: ignored (kept for source compatibility): in the hosted
 *       environment each thread owns the cache it first uses unless
 *       @locked_caches says otherwise.
 * @locked_caches: hosted environment only: lock a per-CPU cache for each call
 *       (two compare-and-swaps per map+unmap, what every other environment
 *       does) instead of letting each thread own the cache it first uses.
 *       Owned caches have no atomic instruction on the fast path; a drain
 *       (a request that found no room) revokes the other threads' caches and
 *       their runs return to the pool one RCU grace period later, whether
 *       their threads are still running or have exited. A thread that finds
 *       its cache owned by another uses the shared lists.
 * @allow_growth: when the pools are full, add a pool of @pool_size bytes (or
 *       the mapping's size, if larger) as long as the added pools stay within
 *       @growth_cap. The memory hook runs in the map path, so the environment
 *       (or @memory) must then allocate without sleeping, as the hosted one
 *       does. Added pools are released once empty, after an RCU grace period.
 * @growth_cap: most bytes all added pools may hold together (0 with
 *       @allow_growth: 4 x @pool_size).
 * @bus_offset: bus = phys + @bus_offset when @memory is NULL.
 * @memory: optional memory provider (see &struct dmap_bounce_memory_ops).
 * @segment_size: 0, or a power of two (at least the slot size and
 *       @max_mapping_size rounded up to a power of two): no mapping or coherent
 *       buffer crosses a multiple of it in physical address. For a provider
 *       whose memory is contiguous on the bus only segment by segment (Xen makes
 *       a pool machine-contiguous one segment at a time, like swiotlb-xen's
 *       128-slot segments); the provider must then align the pool to it. 0
 *       with a @memory provider means @max_mapping_size rounded up to a power
 *       of two (safe for such a provider; give a power of two at least the
 *       pool's size to declare the whole pool bus-contiguous); 0 without one:
 *       no segments.
 */
struct dmap_bounce_config {
	const char *name;
	size_t pool_size;
	uint64_t phys_limit;
	size_t max_mapping_size;
	size_t slot_size;
	unsigned int nr_caches;
	bool no_caches;
	bool thread_caches;
	bool locked_caches;
	bool allow_growth;
	size_t growth_cap;
	uint64_t bus_offset;
	const struct dmap_bounce_memory_ops *memory;
	size_t segment_size;
};

/**
 * struct dmap_bounce_class_stats - one size class of all pools: mappings of
 * more than half and at most @block_size bytes.
 * @block_size: slot_size << class.
 * @live_mappings: live mappings (and coherent buffers) of this class.
 * @free_blocks: freed runs of exactly @block_size kept for reuse (per-CPU
 *       caches and the class's lock-free list; classes up to 256 KiB).
 */
struct dmap_bounce_class_stats {
	uint64_t block_size;
	uint64_t live_mappings;
	uint64_t free_blocks;
};

/**
 * struct dmap_bounce_stats - counters of a bounce domain, summed over its pools.
 * @pools: pools now (1 + added ones).
 * @pool_bytes: bytes of all pools.
 * @slot_size: bytes per slot.
 * @slots_total: slots of all pools.
 * @slots_in_use: slots inside live mappings.
 * @slots_free: slots free for any request (runs kept for reuse by the size
 *       classes are neither in use nor counted here).
 * @bytes_in_use: @slots_in_use * @slot_size.
 * @high_water_slots: most slots in use at once since the last reset (exact
 *       while one thread maps at a time; a lower bound under concurrency).
 * @high_water_bytes: the same in bytes.
 * @live_mappings: streaming mappings and coherent buffers now live.
 * @failed_too_big: map requests above the maximum mapping size.
 * @failed_full: map requests no pool could serve.
 * @failed_unreachable: requests the device's mask or bus limit cannot reach.
 * @failed_constraint: requests whose min_align_mask/seg_boundary_mask cannot
 *       both be met.
 * @bytes_to_device: bytes copied into slots (map, sync_for_device).
 * @bytes_from_device: bytes copied back out (unmap, sync_for_cpu).
 * @pools_added, @pools_released: growth activity.
 * @coalesce_passes: slow-path drains of the size classes into the free map.
 * @nr_classes: entries used in @classes.
 * @classes: per size class occupancy.
 */
struct dmap_bounce_stats {
	uint64_t pools;
	uint64_t pool_bytes;
	uint64_t slot_size;
	uint64_t slots_total;
	uint64_t slots_in_use;
	uint64_t slots_free;
	uint64_t bytes_in_use;
	uint64_t high_water_slots;
	uint64_t high_water_bytes;
	uint64_t live_mappings;
	uint64_t failed_too_big;
	uint64_t failed_full;
	uint64_t failed_unreachable;
	uint64_t failed_constraint;
	uint64_t bytes_to_device;
	uint64_t bytes_from_device;
	uint64_t pools_added;
	uint64_t pools_released;
	uint64_t coalesce_passes;
	unsigned int nr_classes;
	struct dmap_bounce_class_stats classes[DMAP_BOUNCE_MAX_CLASSES];
};

/**
 * dmap_bounce_domain_create() - make a bounce domain and its first pool.
 * @ctx: context.
 * @config: settings (NULL: all defaults).
 * @out: receives the domain.
 *
 * Context: may sleep. Returns 0, -EINVAL (NULL @ctx/@out, a slot size that is
 * not a power of two in range, a max mapping size larger than the pool, an
 * @nr_caches that is not a power of two up to 64, a @memory without hooks),
 * -ENODEV (no memory source: neither @memory nor the environment's
 * alloc_dma_pages), -ENOMEM (no memory below @phys_limit). The message names
 * the domain and the value at fault.
 */
int dmap_bounce_domain_create(struct dmap_ctx *ctx, const struct dmap_bounce_config *config,
			      struct dmap_domain **out);

/** dmap_bounce_is_bounce() - is @domain a bounce domain? false for NULL. */
bool dmap_bounce_is_bounce(const struct dmap_domain *domain);

/**
 * dmap_bounce_get_stats() - snapshot a bounce domain's counters.
 * Context: any; lock-free (counters may be mid-update under concurrency).
 * Returns 0 or -EINVAL (NULL, or not a bounce domain).
 */
int dmap_bounce_get_stats(const struct dmap_domain *domain, struct dmap_bounce_stats *out);

/**
 * dmap_bounce_reset_high_water() - set the high-water mark to zero (Linux's
 * io_tlb_used_hiwater accepts only 0 too); it rises again with the next map.
 * Returns 0 or -EINVAL (NULL, or not a bounce domain).
 */
int dmap_bounce_reset_high_water(struct dmap_domain *domain);

/**
 * dmap_bounce_grow() - add a pool of @size bytes now, from a context that may
 * sleep, instead of in the map path. Counts against the growth cap and needs
 * allow_growth. Returns 0, -EINVAL, -EPERM (growth not allowed), -ENOSPC
 * (cap reached), -ENOMEM.
 */
int dmap_bounce_grow(struct dmap_domain *domain, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_BOUNCE_H */

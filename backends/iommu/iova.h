/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/iova.h - the IOVA allocator of an iommu domain (Linux:
 * drivers/iommu/iova.c plus its per-CPU rcache).
 *
 * Addresses are counted in granules ("pfns" of the IOMMU's smallest page).
 * Allocations are size aligned: a block of n granules starts at a multiple
 * of roundup_pow_of_two(n), so a 2 MiB request can be mapped with one block
 * descriptor. Requests of at most DMAP_IOVA_CACHE_MAX granules are rounded up
 * to a power of two and served by per-CPU magazines when the cache is on.
 *
 * Every function is safe to call concurrently, never sleeps and may be
 * called inside an RCU read section (allocations use DMAP_ALLOC_ATOMIC),
 * except create/destroy, which may sleep.
 */
#ifndef DMAP_BACKENDS_IOMMU_IOVA_H
#define DMAP_BACKENDS_IOMMU_IOVA_H

#include <dmap/types.h>
#include <dmap/env.h>

/* Largest request (in granules) the per-CPU cache serves: orders 0..6. */
#define DMAP_IOVA_CACHE_ORDERS 7
#define DMAP_IOVA_CACHE_MAX (1u << (DMAP_IOVA_CACHE_ORDERS - 1))

struct dmap_iova_domain;

/**
 * struct dmap_iova_stats - allocator counters.
 * @cache_hits: allocations served by a magazine.
 * @cache_misses: cacheable allocations that went to the tree.
 * @tree_allocs: allocations the tree served (cacheable or not).
 * @tree_frees: ranges returned to the tree.
 * @cache_flushes: times every cache was emptied back into the tree.
 * @failures: allocations that failed for lack of space (after the retry).
 * @free_ranges: free ranges in the tree now (a fragmentation measure).
 */
struct dmap_iova_stats {
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t tree_allocs;
	uint64_t tree_frees;
	uint64_t cache_flushes;
	uint64_t failures;
	uint64_t free_ranges;
};

/**
 * dmap_iova_create() - make an allocator over granules [@first, @last].
 * @env: environment (metadata allocation, locks come from the inline env).
 * @first: lowest allocatable granule number (> 0: granule 0 is never given out).
 * @last: highest allocatable granule number (>= @first).
 * @cached: serve small sizes from per-CPU magazines.
 * @out: receives the allocator.
 *
 * Context: may sleep. Returns 0, -EINVAL (NULL, @first == 0, @last < @first),
 * -ENOMEM.
 */
int dmap_iova_create(const struct dmap_env *env, uint64_t first, uint64_t last, bool cached,
		     struct dmap_iova_domain **out);

/** dmap_iova_destroy() - free everything, cached and allocated alike. NULL: no-op. */
void dmap_iova_destroy(struct dmap_iova_domain *iovad);

/**
 * dmap_iova_reserve() - take granules [@first, @last] out of the free space
 * for good (interrupt windows, user-reserved ranges). Parts outside the
 * aperture or already reserved are ignored. Meant for set-up time: parts that
 * are currently allocated stay with their owner and are not reserved.
 * Returns 0, -EINVAL (@last < @first), -ENOMEM.
 */
int dmap_iova_reserve(struct dmap_iova_domain *iovad, uint64_t first, uint64_t last);

/**
 * dmap_iova_alloc() - allocate @count granules, size aligned, ending at or
 * below granule @limit, searching top-down (the highest fit wins, as Linux).
 * @out: receives the first granule.
 *
 * Cacheable sizes are rounded up to a power of two; pass the same @count to
 * dmap_iova_free(). If the tree has no room, every cache is flushed back
 * into it once and the search retried (Linux: alloc_iova_fast()).
 * Returns 0, -EINVAL (@count 0), -ENOSPC (no room even after the flush),
 * -ENOMEM (no memory for bookkeeping).
 */
int dmap_iova_alloc(struct dmap_iova_domain *iovad, uint64_t count, uint64_t limit, uint64_t *out);

/**
 * dmap_iova_claim() - allocate exactly granules [@first, @first+@count) (for
 * callers that choose the address). Returns 0, -EINVAL, -EBUSY (some of it is
 * not free: allocated, reserved or outside the aperture), -ENOMEM.
 * Free it with dmap_iova_free(..., false) semantics: see dmap_iova_free_exact().
 */
int dmap_iova_claim(struct dmap_iova_domain *iovad, uint64_t first, uint64_t count);

/**
 * dmap_iova_free() - give back what dmap_iova_alloc() returned (same @count).
 * Cacheable sizes go to the calling CPU's magazine; others to the tree.
 * Returns 0 or -EINVAL when the tree can tell the range is (partly) free
 * already or outside the aperture (a double free; nothing changes).
 */
int dmap_iova_free(struct dmap_iova_domain *iovad, uint64_t first, uint64_t count);

/** dmap_iova_free_exact() - give back a claimed range straight to the tree. Errors as dmap_iova_free(). */
int dmap_iova_free_exact(struct dmap_iova_domain *iovad, uint64_t first, uint64_t count);

/** dmap_iova_flush_caches() - empty every magazine and the depot back into the tree. */
void dmap_iova_flush_caches(struct dmap_iova_domain *iovad);

/**
 * dmap_iova_free_granules() - granules free now: in the tree plus in the
 * caches. Takes every lock in turn: for tests and statistics, not hot paths.
 */
uint64_t dmap_iova_free_granules(struct dmap_iova_domain *iovad);

/** dmap_iova_get_stats() - snapshot the counters (relaxed reads). */
void dmap_iova_get_stats(struct dmap_iova_domain *iovad, struct dmap_iova_stats *out);

/** dmap_iova_round() - the size in granules an allocation of @count really takes. */
uint64_t dmap_iova_round(const struct dmap_iova_domain *iovad, uint64_t count);

#endif /* DMAP_BACKENDS_IOMMU_IOVA_H */

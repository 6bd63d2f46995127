/* SPDX-License-Identifier: MIT */
/*
 * backends/bounce/pool.h - the bounce backend's slot allocator (private).
 *
 * A pool is a pure data structure over one physically contiguous region: it
 * hands out runs of slots and finds the run that contains an address. It
 * neither copies data nor logs; bounce.c does both. pool.c explains the
 * algorithm (per-CPU caches and lock-free size-class lists in front of an
 * address-ordered first-fit bitmap).
 */
#ifndef DMAP_BOUNCE_POOL_H
#define DMAP_BOUNCE_POOL_H

#include <dmap/ops.h>

/* Size classes by ceil_log2(slots): runs of up to slot << (MAX_ORDERS - 1). */
#define DMAP_BOUNCE_POOL_MAX_ORDERS 24
/* Classes recycled by the caches and class lists (2 KiB slots: 2 KiB .. 256 KiB). */
#define DMAP_BOUNCE_POOL_CACHED_ORDERS 8
/* Runs per class and cache (fewer for big classes). */
#define DMAP_BOUNCE_POOL_CACHE_DEPTH 8
/* Largest number of per-CPU caches. */
#define DMAP_BOUNCE_POOL_MAX_CACHES 64

/*
 * Head-slot state word of a live mapping: LIVE | generation | class | units
 * (class = ceil_log2(units)).
 * The generation changes every time the slot heads a new mapping, so a
 * lock-free reader can tell that the fields it read belong to one mapping.
 */
#define DMAP_BOUNCE_STATE_LIVE (1ull << 63)
#define DMAP_BOUNCE_STATE_GEN_SHIFT 48
#define DMAP_BOUNCE_STATE_GEN_MASK 0x7fffull
#define DMAP_BOUNCE_STATE_ORDER_SHIFT 40
#define DMAP_BOUNCE_STATE_ORDER_MASK 0x3full
#define DMAP_BOUNCE_STATE_UNITS_MASK 0xffffffffull

static inline unsigned int dmap_bounce_state_order(uint64_t state)
{
	return (unsigned int)((state >> DMAP_BOUNCE_STATE_ORDER_SHIFT) &
			      DMAP_BOUNCE_STATE_ORDER_MASK);
}

static inline uint32_t dmap_bounce_state_units(uint64_t state)
{
	return (uint32_t)(state & DMAP_BOUNCE_STATE_UNITS_MASK);
}

/**
 * struct dmap_bounce_slot - metadata of one slot; meaningful in the first
 * (head) slot of a run only. The backend fills @orig, @size, @offset and
 * @flags (relaxed atomics) before dmap_bounce_pool_publish() makes @state
 * live with release order.
 */
struct dmap_bounce_slot {
	uint64_t state;
	dmap_phys_t orig;
	uint32_t size;
	uint32_t offset;
	uint32_t flags;
	uint32_t next; /* free-list link: index + 1, 0 ends the list (atomic) */
} __attribute__((aligned(64))); /* one line each: CPUs recycling neighbours do not share */

/**
 * struct dmap_bounce_pool_params - what a pool manages.
 * @phys: CPU physical address of the region; a multiple of the slot size.
 * @bus: bus address of @phys (bus = phys + (@bus - @phys) across the region).
 * @va: CPU pointer of @phys; may be NULL when nobody needs one (benchmarks).
 * @size: bytes; whole slots are used, a partial slot at the end is ignored.
 * @slot_shift: log2 of the slot size, 9..16.
 * @top_order: largest run and alignment is slot << top_order; < DMAP_BOUNCE_POOL_MAX_ORDERS.
 * @nr_caches: per-CPU caches, 0 (none) or a power of two up to
 *             DMAP_BOUNCE_POOL_MAX_CACHES.
 * @thread_caches: hosted environment only (ignored elsewhere): a thread owns
 *             the cache it first uses, with no atomic instruction on the fast
 *             path (an RCU read section instead); a drain revokes the other
 *             threads' caches, whose runs return one grace period later
 *             (env->ops->call_rcu), whether their threads run or have exited.
 */
struct dmap_bounce_pool_params {
	dmap_phys_t phys;
	dmap_addr_t bus;
	void *va;
	size_t size;
	unsigned int slot_shift;
	unsigned int top_order;
	unsigned int nr_caches;
	bool thread_caches;
};

/**
 * struct dmap_bounce_pool_stats - one pool's counters.
 * @slots: slots the pool manages.
 * @slots_in_use: slots inside live runs (exact when no call is in flight).
 * @high_water: most slots in use at once since the last reset (see pool.c).
 * @live_runs: runs allocated and not freed.
 * @coalesce_passes: slow-path drains of the classes into the bitmap.
 * @slots_free: slots free in the bitmap (runs held by the classes excluded).
 * @live_by_order: live runs by class (ceil_log2 of their slots).
 * @free_by_order: free runs held by each class (caches and lists).
 */
struct dmap_bounce_pool_stats {
	uint64_t slots;
	uint64_t slots_in_use;
	uint64_t high_water;
	uint64_t live_runs;
	uint64_t coalesce_passes;
	uint64_t slots_free;
	uint64_t live_by_order[DMAP_BOUNCE_POOL_MAX_ORDERS];
	uint64_t free_by_order[DMAP_BOUNCE_POOL_MAX_ORDERS];
};

struct dmap_bounce_pool;

/**
 * dmap_bounce_pool_create() - build a pool over a region.
 * @env: metadata comes from env->ops->alloc.
 * Context: may sleep. Returns 0, -EINVAL (bad parameters), -ENOMEM.
 */
int dmap_bounce_pool_create(const struct dmap_env *env,
			    const struct dmap_bounce_pool_params *params,
			    struct dmap_bounce_pool **out);

/**
 * dmap_bounce_pool_destroy() - free the metadata (not the region). NULL: no-op.
 * No call may be in flight. A revoked thread cache still waiting for its
 * grace period keeps the metadata until its callback has run.
 */
void dmap_bounce_pool_destroy(struct dmap_bounce_pool *pool);

/**
 * dmap_bounce_pool_alloc() - take a run of @units slots whose first slot is
 * aligned (in absolute physical address) to slot << @align_order and which
 * does not cross a (slot << @boundary_order) boundary (@boundary_order >= 32:
 * no boundary).
 * Context: any; lock-free except for the slow path, which one thread at a
 * time runs under the pool's lock when nothing fits (it drains the classes
 * back into the bitmap, and queues an RCU callback per revoked thread
 * cache). Returns the head slot index, or -ENOSPC (nothing fits) or -E2BIG
 * (larger than 2^top_order slots).
 */
long dmap_bounce_pool_alloc(struct dmap_bounce_pool *pool, uint32_t units, unsigned int align_order,
			    unsigned int boundary_order);

/* No segment boundary for dmap_bounce_pool_alloc(). */
#define DMAP_BOUNCE_NO_BOUNDARY 32u

/**
 * dmap_bounce_pool_publish() - make run @index findable by
 * dmap_bounce_pool_find() (release order: fill the slot's fields first).
 */
void dmap_bounce_pool_publish(struct dmap_bounce_pool *pool, long index);

/**
 * dmap_bounce_pool_free() - return a run. If it was published, it must have
 * been claimed first (dmap_bounce_pool_claim()); the caller owns the run.
 */
void dmap_bounce_pool_free(struct dmap_bounce_pool *pool, long index);

/**
 * dmap_bounce_pool_claim() - atomically unpublish run @index if its state is
 * still @state (so of two racing unmaps only one wins). Returns true if the
 * caller now owns the run and must free it.
 */
bool dmap_bounce_pool_claim(struct dmap_bounce_pool *pool, long index, uint64_t state);

/**
 * dmap_bounce_pool_find() - the published run containing physical address
 * @phys, or -1. *@state receives its state word (acquire). Lock-free; the
 * answer can be stale by the time the caller uses it, as a device's lookup
 * racing an unmap would be.
 */
long dmap_bounce_pool_find(const struct dmap_bounce_pool *pool, dmap_phys_t phys, uint64_t *state);

/** dmap_bounce_pool_slot() - metadata of slot @index. */
struct dmap_bounce_slot *dmap_bounce_pool_slot(struct dmap_bounce_pool *pool, long index);

/** dmap_bounce_pool_slot_phys() / _bus() / _va() - addresses of slot @index. */
dmap_phys_t dmap_bounce_pool_slot_phys(const struct dmap_bounce_pool *pool, long index);
dmap_addr_t dmap_bounce_pool_slot_bus(const struct dmap_bounce_pool *pool, long index);
void *dmap_bounce_pool_slot_va(const struct dmap_bounce_pool *pool, long index);

/** dmap_bounce_pool_contains_bus() - is bus address @addr inside the region? */
bool dmap_bounce_pool_contains_bus(const struct dmap_bounce_pool *pool, dmap_addr_t addr);
/** dmap_bounce_pool_bus_to_phys() - for an address inside the region. */
dmap_phys_t dmap_bounce_pool_bus_to_phys(const struct dmap_bounce_pool *pool, dmap_addr_t addr);

/** dmap_bounce_pool_last_bus() - the last bus address of the region. */
dmap_addr_t dmap_bounce_pool_last_bus(const struct dmap_bounce_pool *pool);

/** dmap_bounce_pool_get_stats() - snapshot, lock-free, approximate under concurrency. */
void dmap_bounce_pool_get_stats(const struct dmap_bounce_pool *pool,
				struct dmap_bounce_pool_stats *out);

/** dmap_bounce_pool_reset_high_water() - set the high-water mark to zero. */
void dmap_bounce_pool_reset_high_water(struct dmap_bounce_pool *pool);

/** dmap_bounce_pool_slots_in_use() - cheap sum of the in-use counters. */
uint64_t dmap_bounce_pool_slots_in_use(const struct dmap_bounce_pool *pool);

/** dmap_bounce_pool_total_slots() - slots managed. */
uint64_t dmap_bounce_pool_total_slots(const struct dmap_bounce_pool *pool);

/** dmap_bounce_pool_largest_free() - slots of the longest free run in the bitmap (a scan). */
uint64_t dmap_bounce_pool_largest_free(const struct dmap_bounce_pool *pool);

#endif /* DMAP_BOUNCE_POOL_H */

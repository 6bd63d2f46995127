// SPDX-License-Identifier: MIT
/*
 * backends/bounce/pool.c - a lazy buddy allocator on lock-free free lists.
 *
 * Why buddy blocks. Linux swiotlb keeps 2 KiB slots and, per slot, the length
 * of the free run that follows it inside a 128-slot segment; a map scans for a
 * run under an area spinlock, and no run can cross a segment, hence its 256
 * KiB cap. Every alignment rule the bounce backend must keep (page alignment
 * of page-sized mappings, the device's min_align_mask, seg_boundary_mask) is
 * about *natural* alignment, which power-of-two blocks aligned to their own
 * size give for free: a block of 2^k slots starts on a 2^k-slot boundary, so
 * asking for a block of order max(ceil_log2(units), alignment order) is all
 * the "search" a mapping needs, and the largest block (top_order) is a
 * configuration value, not a structural limit.
 *
 * Why lock-free lists per order. Each order has one free list, a Treiber stack
 * whose head is a 64-bit word holding (tag << 32 | index + 1); the tag grows
 * on every successful update, so a pop that read a head, was preempted while
 * the block was popped, split, merged and pushed again, fails its
 * compare-and-swap instead of installing a stale successor (ABA). A 32-bit tag
 * would have to wrap exactly between one thread's load and its CAS. The links
 * live in the slot metadata and are read and written with relaxed atomics.
 *
 * Why per-CPU caches. Two threads mapping and unmapping would otherwise
 * bounce the list heads between their caches on every call. Each cache (one
 * per dmap_cpu_hint() shard) keeps a few blocks of each small order and the
 * shard's counters; a thread takes its cache with one uncontended
 * compare-and-swap on a line nobody else writes and, if another thread
 * sharing the shard holds it, simply uses the shared lists. No path
 * allocating or freeing ever waits for a lock.
 *
 * Why lazy coalescing. Merging a freed block with its buddy needs the buddy
 * out of whatever list holds it, which a Treiber stack cannot do lock-free.
 * So frees only push (the fast path is push/pop), and blocks are merged in
 * bulk when an allocation finds no block of its order or larger (Barkley and
 * Lee's "lazy buddy"): one thread takes the pool's coalesce lock, empties the
 * caches and the lists into a byte-per-slot map of free block heads, merges
 * buddies bottom-up in one sweep per order (O(slots x orders)), and splices
 * the survivors back. Allocators keep running meanwhile: the lists are merely
 * empty for a moment, and one that finds nothing waits for the pass and
 * retries. A pass is skipped when no block was released since the last one,
 * so a really full pool fails fast.
 *
 * Why trimming. A run of n slots takes a block of 2^k >= n slots and at once
 * returns the tail [n, 2^k) as naturally aligned blocks, so internal waste is
 * below one slot, as in swiotlb, instead of up to half a block. Free returns
 * the run as the same binary decomposition; the next pass merges the pieces.
 *
 * Finding the run that holds an address needs no index: a run cut from an
 * order-k block starts at the address rounded down to 2^k slots, so probing
 * each order's candidate head (a handful of loads) finds the only live head
 * whose run covers the address. Heads carry a generation so that a reader
 * can validate the fields it read (see bounce.c).
 *
 * Index space. Slot indices count from the region's base rounded down to
 * the top block size, so index alignment equals physical alignment whatever
 * alignment the memory came with; slots before the base or after the end
 * simply never exist as free blocks.
 *
 * High-water mark. Counting every map in one shared atomic would put a
 * contended line back on the fast path. Each cache counts its own shard; a
 * shard that reaches a new peak of its own sums all shards and raises the
 * pool's mark. That is exact while one thread maps at a time and a lower
 * bound (missing at most the swing of the other shards) under concurrency.
 */
#include "pool.h"

#define POOL_NO_INDEX 0u

struct pool_list {
	uint64_t head; /* tag << 32 | (index + 1) */
	int64_t count; /* blocks in the list (approximate) */
} __attribute__((aligned(64)));

struct pool_cache {
	uint32_t busy;
	uint32_t count[DMAP_BOUNCE_POOL_CACHED_ORDERS];
	uint32_t blocks[DMAP_BOUNCE_POOL_CACHED_ORDERS][DMAP_BOUNCE_POOL_CACHE_DEPTH];
	/* counters of this shard, written by the holder, read by anyone */
	int64_t in_use;
	int64_t peak;
	uint64_t peak_generation;
	uint64_t releases;
	int64_t live_by_order[DMAP_BOUNCE_POOL_MAX_ORDERS];
} __attribute__((aligned(64)));

struct dmap_bounce_pool {
	const struct dmap_env *env;
	dmap_phys_t phys;
	dmap_phys_t origin; /* phys rounded down to the top block */
	dmap_addr_t bus;
	char *va;
	uint64_t nslots;
	uint32_t lo; /* first index of the region */
	uint32_t hi; /* one past the last */
	unsigned int slot_shift;
	unsigned int top_order;
	unsigned int nr_caches;
	uint32_t depth[DMAP_BOUNCE_POOL_CACHED_ORDERS];

	struct dmap_bounce_slot *slots; /* hi entries */
	size_t slots_bytes;
	uint8_t *marks; /* coalescing scratch, hi entries */
	struct pool_cache *caches;
	size_t caches_bytes;
	struct pool_list lists[DMAP_BOUNCE_POOL_MAX_ORDERS];

	/* fallback counters for calls made without a cache */
	int64_t in_use __attribute__((aligned(64)));
	uint64_t releases;
	int64_t live_by_order[DMAP_BOUNCE_POOL_MAX_ORDERS];

	uint64_t high_water __attribute__((aligned(64)));
	uint64_t high_water_generation;

	dmap_spinlock_t coalesce_lock;
	bool lock_ready;
	uint64_t coalesce_passes;
	uint64_t releases_at_pass;
};

static inline unsigned int ceil_log2_u32(uint32_t x)
{
	return x <= 1 ? 0 : 32 - (unsigned int)__builtin_clz(x - 1);
}

/* ---- shared lists ------------------------------------------------------ */

static void list_push_chain(struct dmap_bounce_pool *pool, unsigned int order, uint32_t first,
			    uint32_t last, int64_t n)
{
	struct pool_list *list = &pool->lists[order];
	uint64_t old = dmap_load_relaxed(&list->head);
	uint64_t desired;

	do {
		dmap_store_relaxed(&pool->slots[last].next, (uint32_t)old);
		desired = ((old >> 32) + 1) << 32 | (uint64_t)(first + 1);
	} while (!__atomic_compare_exchange_n(&list->head, &old, desired, 1, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
	dmap_atomic_add_relaxed(&list->count, n);
}

static inline void list_push(struct dmap_bounce_pool *pool, unsigned int order, uint32_t index)
{
	list_push_chain(pool, order, index, index, 1);
}

static long list_pop(struct dmap_bounce_pool *pool, unsigned int order)
{
	struct pool_list *list = &pool->lists[order];
	uint64_t old = dmap_load_acquire(&list->head);
	uint64_t desired;
	uint32_t index;

	do {
		index = (uint32_t)old;
		if (index == POOL_NO_INDEX)
			return -1;
		desired = ((old >> 32) + 1) << 32 |
			  (uint64_t)dmap_load_relaxed(&pool->slots[index - 1].next);
	} while (!__atomic_compare_exchange_n(&list->head, &old, desired, 1, __ATOMIC_ACQUIRE,
					      __ATOMIC_ACQUIRE));
	dmap_atomic_sub_relaxed(&list->count, 1);
	return (long)index - 1;
}

/* Take a whole list at once (coalescing); returns the first index + 1. */
static uint32_t list_take_all(struct dmap_bounce_pool *pool, unsigned int order)
{
	struct pool_list *list = &pool->lists[order];
	uint64_t old = dmap_load_acquire(&list->head);
	uint64_t desired;

	do {
		if ((uint32_t)old == POOL_NO_INDEX)
			return POOL_NO_INDEX;
		desired = ((old >> 32) + 1) << 32;
	} while (!__atomic_compare_exchange_n(&list->head, &old, desired, 1, __ATOMIC_ACQUIRE,
					      __ATOMIC_ACQUIRE));
	return (uint32_t)old;
}

/* ---- caches ------------------------------------------------------------ */

static struct pool_cache *cache_get(struct dmap_bounce_pool *pool)
{
	struct pool_cache *cache;
	uint32_t idle = 0;

	if (!pool->nr_caches)
		return NULL;
	cache = &pool->caches[dmap_cpu_hint() & (pool->nr_caches - 1)];
	if (dmap_load_relaxed(&cache->busy))
		return NULL;
	if (!__atomic_compare_exchange_n(&cache->busy, &idle, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return NULL;
	return cache;
}

static inline void cache_put(struct pool_cache *cache)
{
	if (cache)
		dmap_store_release(&cache->busy, 0);
}

/* A free block goes to the cache if there is room, else to the shared list. */
static void release_block(struct dmap_bounce_pool *pool, struct pool_cache *cache, uint32_t index,
			  unsigned int order)
{
	/* Counted so that a failing allocation knows whether a merge pass can help. */
	if (cache)
		dmap_store_relaxed(&cache->releases, cache->releases + 1);
	else
		dmap_atomic_add_relaxed(&pool->releases, 1);
	if (cache && order < DMAP_BOUNCE_POOL_CACHED_ORDERS) {
		uint32_t n = cache->count[order];

		if (n < pool->depth[order]) {
			cache->blocks[order][n] = index;
			dmap_store_relaxed(&cache->count[order], n + 1);
			return;
		}
	}
	list_push(pool, order, index);
}

static long take_exact(struct dmap_bounce_pool *pool, struct pool_cache *cache, unsigned int order)
{
	if (cache && order < DMAP_BOUNCE_POOL_CACHED_ORDERS) {
		uint32_t n = cache->count[order];

		if (n) {
			dmap_store_relaxed(&cache->count[order], n - 1);
			return cache->blocks[order][n - 1];
		}
	}
	return list_pop(pool, order);
}

/* A block of exactly @order: cached, listed, or split from a larger one. */
static long take_block(struct dmap_bounce_pool *pool, struct pool_cache *cache, unsigned int order)
{
	unsigned int j;
	long index = take_exact(pool, cache, order);

	if (index >= 0)
		return index;
	for (j = order + 1; j <= pool->top_order; j++) {
		index = take_exact(pool, cache, j);
		if (index < 0)
			continue;
		while (j > order) {
			j--;
			release_block(pool, cache, (uint32_t)index + (1u << j), j);
		}
		return index;
	}
	return -1;
}

/* Return [@start, @end) (relative to a block head @base aligned to the run) as aligned blocks. */
static void release_range(struct dmap_bounce_pool *pool, struct pool_cache *cache, uint32_t base,
			  uint32_t start, uint32_t end)
{
	while (start < end) {
		/* The largest block aligned at @start that fits before @end. */
		unsigned int order = dmap_fls64(end - start) - 1;

		if (start && dmap_ffs64(start) < order)
			order = dmap_ffs64(start);
		release_block(pool, cache, base + start, order);
		start += 1u << order;
	}
}

/* ---- accounting -------------------------------------------------------- */

static uint64_t sum_in_use(const struct dmap_bounce_pool *pool)
{
	int64_t total = dmap_load_relaxed(&pool->in_use);
	unsigned int i;

	for (i = 0; i < pool->nr_caches; i++)
		total += dmap_load_relaxed(&pool->caches[i].in_use);
	return total > 0 ? (uint64_t)total : 0;
}

static uint64_t sum_releases(const struct dmap_bounce_pool *pool)
{
	uint64_t total = dmap_load_relaxed(&pool->releases);
	unsigned int i;

	for (i = 0; i < pool->nr_caches; i++)
		total += dmap_load_relaxed(&pool->caches[i].releases);
	return total;
}

static void raise_high_water(struct dmap_bounce_pool *pool)
{
	uint64_t now = sum_in_use(pool);
	uint64_t old = dmap_load_relaxed(&pool->high_water);

	while (now > old)
		if (dmap_cmpxchg_weak(&pool->high_water, &old, now))
			break;
}

static void account(struct dmap_bounce_pool *pool, struct pool_cache *cache, int64_t units,
		    unsigned int order)
{
	if (cache) {
		int64_t v = cache->in_use + units;
		uint64_t generation;

		dmap_store_relaxed(&cache->in_use, v);
		dmap_store_relaxed(&cache->live_by_order[order],
				   cache->live_by_order[order] + (units > 0 ? 1 : -1));
		if (units <= 0)
			return;
		generation = dmap_load_relaxed(&pool->high_water_generation);
		if (v > cache->peak || cache->peak_generation != generation) {
			cache->peak = v;
			cache->peak_generation = generation;
			raise_high_water(pool);
		}
		return;
	}
	dmap_atomic_add_relaxed(&pool->in_use, units);
	dmap_atomic_add_relaxed(&pool->live_by_order[order], units > 0 ? 1 : -1);
	if (units > 0)
		raise_high_water(pool);
}

/* ---- coalescing -------------------------------------------------------- */

static void mark_chain(struct dmap_bounce_pool *pool, uint32_t first, unsigned int order)
{
	int64_t n = 0;

	while (first != POOL_NO_INDEX) {
		pool->marks[first - 1] = (uint8_t)(order + 1);
		first = dmap_load_relaxed(&pool->slots[first - 1].next);
		n++;
	}
	dmap_atomic_sub_relaxed(&pool->lists[order].count, n);
}

/* Push every marked block back onto its list (one splice per order), clearing marks. */
static void push_marked(struct dmap_bounce_pool *pool)
{
	uint32_t first[DMAP_BOUNCE_POOL_MAX_ORDERS];
	uint32_t last[DMAP_BOUNCE_POOL_MAX_ORDERS];
	int64_t n[DMAP_BOUNCE_POOL_MAX_ORDERS];
	unsigned int order;
	uint32_t i;

	for (order = 0; order <= pool->top_order; order++) {
		first[order] = POOL_NO_INDEX;
		n[order] = 0;
	}
	for (i = pool->lo; i < pool->hi; i++) {
		if (!pool->marks[i])
			continue;
		order = pool->marks[i] - 1u;
		pool->marks[i] = 0;
		dmap_store_relaxed(&pool->slots[i].next, first[order]);
		if (first[order] == POOL_NO_INDEX)
			last[order] = i;
		first[order] = i + 1;
		n[order]++;
	}
	for (order = 0; order <= pool->top_order; order++)
		if (first[order] != POOL_NO_INDEX)
			list_push_chain(pool, order, first[order] - 1, last[order], n[order]);
}

static void merge_marked(struct dmap_bounce_pool *pool)
{
	unsigned int order;

	for (order = 0; order < pool->top_order; order++) {
		uint32_t half = 1u << order;
		uint32_t step = half << 1;
		uint32_t p = pool->lo & ~(step - 1);

		for (; p + step <= pool->hi; p += step) {
			if (p < pool->lo)
				continue;
			if (pool->marks[p] == order + 1 && pool->marks[p + half] == order + 1) {
				pool->marks[p] = (uint8_t)(order + 2);
				pool->marks[p + half] = 0;
			}
		}
	}
}

/* Caller holds coalesce_lock. */
static void coalesce(struct dmap_bounce_pool *pool)
{
	unsigned int i, order;
	uint32_t idle;

	for (i = 0; i < pool->nr_caches; i++) {
		struct pool_cache *cache = &pool->caches[i];

		idle = 0;
		while (!__atomic_compare_exchange_n(&cache->busy, &idle, 1, 0, __ATOMIC_ACQUIRE,
						    __ATOMIC_RELAXED)) {
			idle = 0;
			dmap_cpu_relax();
		}
		for (order = 0; order < DMAP_BOUNCE_POOL_CACHED_ORDERS; order++) {
			uint32_t k;

			for (k = 0; k < cache->count[order]; k++)
				pool->marks[cache->blocks[order][k]] = (uint8_t)(order + 1);
			dmap_store_relaxed(&cache->count[order], 0);
		}
		dmap_store_release(&cache->busy, 0);
	}
	for (order = 0; order <= pool->top_order; order++)
		mark_chain(pool, list_take_all(pool, order), order);
	merge_marked(pool);
	push_marked(pool);
	dmap_atomic_add_relaxed(&pool->coalesce_passes, 1);
}

/* ---- public ------------------------------------------------------------ */

long dmap_bounce_pool_alloc(struct dmap_bounce_pool *pool, uint32_t units, unsigned int align_order)
{
	struct pool_cache *cache;
	unsigned int order;
	uint64_t passes;
	long index;

	if (!units)
		return -DMAP_EINVAL;
	order = ceil_log2_u32(units);
	if (align_order > order)
		order = align_order;
	if (order > pool->top_order)
		return -DMAP_E2BIG;

	passes = dmap_load_relaxed(&pool->coalesce_passes);
	cache = cache_get(pool);
	index = take_block(pool, cache, order);
	if (dmap_unlikely(index < 0)) {
		uint64_t releases;

		cache_put(cache);
		cache = NULL;
		dmap_spin_lock(&pool->coalesce_lock);
		releases = sum_releases(pool);
		/* Someone merged while we searched, or something came back since the last pass. */
		if (dmap_load_relaxed(&pool->coalesce_passes) == passes &&
		    releases != pool->releases_at_pass) {
			pool->releases_at_pass = releases;
			coalesce(pool);
		}
		dmap_spin_unlock(&pool->coalesce_lock);
		index = take_block(pool, NULL, order);
		if (index < 0)
			return -DMAP_ENOSPC;
	}
	if ((1u << order) > units)
		release_range(pool, cache, (uint32_t)index, units, 1u << order);
	dmap_store_relaxed(&pool->slots[index].state,
			   (dmap_load_relaxed(&pool->slots[index].state) &
			    (DMAP_BOUNCE_STATE_GEN_MASK << DMAP_BOUNCE_STATE_GEN_SHIFT)) |
				   (uint64_t)order << DMAP_BOUNCE_STATE_ORDER_SHIFT | units);
	account(pool, cache, (int64_t)units, order);
	cache_put(cache);
	return index;
}

void dmap_bounce_pool_publish(struct dmap_bounce_pool *pool, long index)
{
	struct dmap_bounce_slot *slot = &pool->slots[index];
	uint64_t state = dmap_load_relaxed(&slot->state);
	uint64_t generation = ((state >> DMAP_BOUNCE_STATE_GEN_SHIFT) + 1) &
			      DMAP_BOUNCE_STATE_GEN_MASK;

	state &= ~(DMAP_BOUNCE_STATE_GEN_MASK << DMAP_BOUNCE_STATE_GEN_SHIFT);
	dmap_store_release(&slot->state,
			   state | DMAP_BOUNCE_STATE_LIVE | generation << DMAP_BOUNCE_STATE_GEN_SHIFT);
}

bool dmap_bounce_pool_claim(struct dmap_bounce_pool *pool, long index, uint64_t state)
{
	uint64_t expected = state;

	return dmap_cmpxchg(&pool->slots[index].state, &expected, state & ~DMAP_BOUNCE_STATE_LIVE);
}

void dmap_bounce_pool_free(struct dmap_bounce_pool *pool, long index)
{
	struct dmap_bounce_slot *slot = &pool->slots[index];
	uint64_t state = dmap_load_relaxed(&slot->state);
	uint32_t units = dmap_bounce_state_units(state);
	unsigned int order = dmap_bounce_state_order(state);
	struct pool_cache *cache;

	dmap_store_relaxed(&slot->state, state & ~DMAP_BOUNCE_STATE_LIVE);
	cache = cache_get(pool);
	account(pool, cache, -(int64_t)units, order);
	release_range(pool, cache, (uint32_t)index, 0, units);
	cache_put(cache);
}

long dmap_bounce_pool_find(const struct dmap_bounce_pool *pool, dmap_phys_t phys, uint64_t *state)
{
	uint64_t rel, slot_index;
	unsigned int order;

	if (phys < pool->phys || phys - pool->phys >= pool->nslots << pool->slot_shift)
		return -1;
	rel = phys - pool->origin;
	slot_index = rel >> pool->slot_shift;
	for (order = 0; order <= pool->top_order; order++) {
		uint64_t head = slot_index & ~((1ull << order) - 1);
		uint64_t s;

		if (head < pool->lo)
			break;
		s = dmap_load_acquire(&pool->slots[head].state);
		if ((s & DMAP_BOUNCE_STATE_LIVE) && dmap_bounce_state_order(s) == order &&
		    slot_index < head + dmap_bounce_state_units(s)) {
			*state = s;
			return (long)head;
		}
	}
	return -1;
}

struct dmap_bounce_slot *dmap_bounce_pool_slot(struct dmap_bounce_pool *pool, long index)
{
	return &pool->slots[index];
}

dmap_phys_t dmap_bounce_pool_slot_phys(const struct dmap_bounce_pool *pool, long index)
{
	return pool->origin + ((dmap_phys_t)index << pool->slot_shift);
}

dmap_addr_t dmap_bounce_pool_slot_bus(const struct dmap_bounce_pool *pool, long index)
{
	return pool->bus + (dmap_bounce_pool_slot_phys(pool, index) - pool->phys);
}

void *dmap_bounce_pool_slot_va(const struct dmap_bounce_pool *pool, long index)
{
	if (!pool->va)
		return NULL;
	return pool->va + (dmap_bounce_pool_slot_phys(pool, index) - pool->phys);
}

bool dmap_bounce_pool_contains_bus(const struct dmap_bounce_pool *pool, dmap_addr_t addr)
{
	return addr >= pool->bus && addr - pool->bus < (pool->nslots << pool->slot_shift);
}

dmap_phys_t dmap_bounce_pool_bus_to_phys(const struct dmap_bounce_pool *pool, dmap_addr_t addr)
{
	return pool->phys + (addr - pool->bus);
}

dmap_addr_t dmap_bounce_pool_last_bus(const struct dmap_bounce_pool *pool)
{
	return pool->bus + (pool->nslots << pool->slot_shift) - 1;
}

uint64_t dmap_bounce_pool_slots_in_use(const struct dmap_bounce_pool *pool)
{
	return sum_in_use(pool);
}

uint64_t dmap_bounce_pool_total_slots(const struct dmap_bounce_pool *pool)
{
	return pool->nslots;
}

uint64_t dmap_bounce_pool_largest_free(const struct dmap_bounce_pool *pool)
{
	unsigned int order = pool->top_order + 1;

	while (order-- > 0)
		if ((uint32_t)dmap_load_relaxed(&pool->lists[order].head) != POOL_NO_INDEX)
			return 1ull << order;
	return 0;
}

void dmap_bounce_pool_get_stats(const struct dmap_bounce_pool *pool,
				struct dmap_bounce_pool_stats *out)
{
	unsigned int i, order;

	dmap_memset(out, 0, sizeof(*out));
	out->slots = pool->nslots;
	out->slots_in_use = sum_in_use(pool);
	out->high_water = dmap_load_relaxed(&pool->high_water);
	if (out->high_water < out->slots_in_use)
		out->high_water = out->slots_in_use;
	out->coalesce_passes = dmap_load_relaxed(&pool->coalesce_passes);
	for (order = 0; order <= pool->top_order; order++) {
		int64_t live = dmap_load_relaxed(&pool->live_by_order[order]);
		int64_t free_blocks = dmap_load_relaxed(&pool->lists[order].count);

		for (i = 0; i < pool->nr_caches; i++) {
			live += dmap_load_relaxed(&pool->caches[i].live_by_order[order]);
			if (order < DMAP_BOUNCE_POOL_CACHED_ORDERS)
				free_blocks += dmap_load_relaxed(&pool->caches[i].count[order]);
		}
		out->live_by_order[order] = live > 0 ? (uint64_t)live : 0;
		out->free_by_order[order] = free_blocks > 0 ? (uint64_t)free_blocks : 0;
		out->live_runs += out->live_by_order[order];
	}
}

void dmap_bounce_pool_reset_high_water(struct dmap_bounce_pool *pool)
{
	dmap_store_relaxed(&pool->high_water, 0);
	dmap_atomic_add_relaxed(&pool->high_water_generation, 1);
}

int dmap_bounce_pool_create(const struct dmap_env *env, const struct dmap_bounce_pool_params *params,
			    struct dmap_bounce_pool **out)
{
	struct dmap_bounce_pool *pool;
	uint64_t top_bytes, nslots, hi;
	unsigned int order;
	uint32_t i;

	if (!env || !params || !out || params->slot_shift < 9 || params->slot_shift > 16 ||
	    params->top_order >= DMAP_BOUNCE_POOL_MAX_ORDERS ||
	    params->nr_caches > DMAP_BOUNCE_POOL_MAX_CACHES ||
	    (params->nr_caches && !dmap_is_power_of_2(params->nr_caches)) ||
	    !dmap_is_aligned(params->phys, 1ull << params->slot_shift) ||
	    params->phys + params->size < params->phys)
		return -DMAP_EINVAL;
	nslots = params->size >> params->slot_shift;
	top_bytes = 1ull << (params->slot_shift + params->top_order);
	hi = ((params->phys & (top_bytes - 1)) >> params->slot_shift) + nslots;
	if (!nslots || hi >= 0x7fffffffull)
		return -DMAP_EINVAL;

	pool = env->ops->alloc(env->cookie, sizeof(*pool), 64, DMAP_ALLOC_ZERO);
	if (!pool)
		return -DMAP_ENOMEM;
	dmap_memset(pool, 0, sizeof(*pool));
	pool->env = env;
	pool->phys = params->phys;
	pool->origin = params->phys & ~(top_bytes - 1);
	pool->bus = params->bus;
	pool->va = params->va;
	pool->nslots = nslots;
	pool->lo = (uint32_t)((params->phys - pool->origin) >> params->slot_shift);
	pool->hi = (uint32_t)hi;
	pool->slot_shift = params->slot_shift;
	pool->top_order = params->top_order;
	pool->nr_caches = params->nr_caches;
	for (order = 0; order < DMAP_BOUNCE_POOL_CACHED_ORDERS; order++) {
		uint32_t depth = 64u >> order;

		pool->depth[order] = dmap_max(1u, dmap_min(depth, (uint32_t)DMAP_BOUNCE_POOL_CACHE_DEPTH));
	}
	pool->slots_bytes = (size_t)hi * sizeof(*pool->slots);
	pool->slots = env->ops->alloc(env->cookie, pool->slots_bytes, 64, DMAP_ALLOC_ZERO);
	pool->marks = env->ops->alloc(env->cookie, (size_t)hi, 64, DMAP_ALLOC_ZERO);
	pool->caches_bytes = (size_t)pool->nr_caches * sizeof(*pool->caches);
	if (pool->caches_bytes)
		pool->caches = env->ops->alloc(env->cookie, pool->caches_bytes, 64,
					       DMAP_ALLOC_ZERO);
	if (!pool->slots || !pool->marks || (pool->caches_bytes && !pool->caches)) {
		dmap_bounce_pool_destroy(pool);
		return -DMAP_ENOMEM;
	}
	dmap_memset(pool->slots, 0, pool->slots_bytes);
	dmap_memset(pool->marks, 0, (size_t)hi);
	if (pool->caches)
		dmap_memset(pool->caches, 0, pool->caches_bytes);
	dmap_spin_init(&pool->coalesce_lock);
	pool->lock_ready = true;

	/* Carve the region into the largest naturally aligned blocks. */
	for (i = pool->lo; i < pool->hi;) {
		order = i ? dmap_ffs64(i) : pool->top_order;
		if (order > pool->top_order)
			order = pool->top_order;
		while (i + (1u << order) > pool->hi)
			order--;
		pool->marks[i] = (uint8_t)(order + 1);
		i += 1u << order;
	}
	push_marked(pool);
	*out = pool;
	return 0;
}

void dmap_bounce_pool_destroy(struct dmap_bounce_pool *pool)
{
	const struct dmap_env *env;

	if (!pool)
		return;
	env = pool->env;
	if (pool->slots)
		env->ops->free(env->cookie, pool->slots, pool->slots_bytes);
	if (pool->marks)
		env->ops->free(env->cookie, pool->marks, (size_t)pool->hi);
	if (pool->caches)
		env->ops->free(env->cookie, pool->caches, pool->caches_bytes);
	if (pool->lock_ready)
		dmap_spin_destroy(&pool->coalesce_lock);
	env->ops->free(env->cookie, pool, sizeof(*pool));
}

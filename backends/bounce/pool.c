// SPDX-License-Identifier: MIT
/*
 * backends/bounce/pool.c - the bounce slot pool: per-CPU and lock-free
 * size-class free lists in front of an address-ordered first-fit bitmap.
 *
 * Two layers, because speed and fragmentation want different things.
 *
 * The backing store is one bit per slot (1 = not free), searched first fit
 * from the lowest address for a run of n zero bits at the request's
 * alignment and inside its segment boundary, and claimed word by word with
 * compare-and-swap (a conflicting claim rolls back the words it took and
 * searches on). Address-ordered first fit is the placement policy with the
 * least fragmentation in the literature (Johnstone and Wilson, 1998) and in
 * our replays: swiotlb's next-fit rotor and a binary buddy both fail with far
 * more memory free (docs/bench/bounce.md). Runs of a recycled size class are
 * placed last fit, from the top, so that the small runs the caches keep do
 * not pepper the low space the big requests are placed in. A bitmap also
 * coalesces by itself: freeing a run clears its bits and it is one with its
 * free neighbours at once, with no merge step and no maximum run but the
 * pool.
 * Unlike swiotlb there are no segments, so the largest mapping is a
 * configuration value. No lock is taken: claims are CAS on the words.
 *
 * The fast path is the size classes: runs of 1, 2, 4 ... 128 slots (2 KiB to
 * 256 KiB with the default slot) that are freed go, still marked used in the
 * bitmap, to a per-CPU cache (a few per class) or to the class's lock-free
 * list, and the next request of that class takes one back without touching
 * the bitmap. Each cache is picked by dmap_cpu_hint() and taken with one
 * uncontended compare-and-swap on a line nobody else writes (or, in the
 * hosted environment by default, owned by one thread and used with no atomic
 * instruction at all, inside an RCU read section); a thread that finds its
 * cache held by another one sharing the shard uses the class lists instead,
 * so no path ever waits. The class lists are Treiber stacks whose
 * head is (tag << 32 | index + 1); the tag changes on every update, so a pop
 * that read a head, was preempted while the run was popped and pushed back,
 * fails its CAS instead of installing a stale successor (ABA). A 32-bit tag
 * would have to wrap exactly between one thread's load and its CAS.
 *
 * Recycling a run in place keeps the place it was given, so class runs are
 * placed naturally: at an offset from the region's first slot that is a
 * multiple of their size (as Linux's IOVA allocator size-aligns the ranges
 * its rcache recycles). Runs of one class then tile the region, and no
 * recycled run sits across the boundary of a bigger one: after any history,
 * an empty pool serves every class to its full capacity. A class run that
 * finds no natural place even after a drain takes any place at its asked
 * alignment, and goes back to the bitmap, not to a class, when freed.
 *
 * The classes hold memory the first-fit search cannot see, so they are
 * bounded (a few runs per cache, 16 per list) and, before an allocation
 * fails, the slow path drains every cache and list back into the bitmap
 * under the pool's drain lock and searches again (Linux:
 * alloc_iova_fast(flush_rcache=true)). That lock is only ever taken by an
 * allocation that would otherwise fail. An owned cache of another thread
 * cannot be emptied under its owner's plain stores: the drain revokes it and
 * an RCU callback empties it a grace period later (drain_classes()).
 *
 * Finding the run that holds an address: every slot of a run carved from the
 * bitmap records its head (run_head); a run recycled through a class keeps
 * its entries, which nobody else writes while the run is cached. A reader
 * validates the head's state word (LIVE | generation | units) and re-reads
 * it after reading the run's fields (see bounce.c), so a lookup racing an
 * unmap and a new map of the same slots reports "not found" rather than
 * mixing two mappings.
 *
 * Index space: slot indices count from the region's base rounded down to
 * the largest alignment a request may ask (the top block), so index
 * alignment equals physical alignment; slots before the base and after the
 * end are permanently marked used.
 *
 * High-water mark: counting every map in one shared atomic would put a
 * contended line back on the fast path. Each cache counts its own shard; a
 * shard that reaches a new peak of its own sums all shards and raises the
 * pool's mark. That is exact while one thread maps at a time and a lower
 * bound (missing at most the swing of the other shards) under concurrency.
 */
#include "pool.h"

#define POOL_NO_INDEX 0u
#define POOL_CLASS_LIST_MAX 16

/* Cache states (pool_cache.busy). */
#define CACHE_FREE 0u
#define CACHE_LOCKED 1u /* held for one call by whoever won the CAS */
#define CACHE_OWNED 2u /* belongs to the thread whose hint + 1 is in .owner */
#define CACHE_REVOKING 3u /* taken from its owner; emptied after a grace period */

/*
 * The hosted environment numbers threads uniquely and never reuses a number
 * (dmap_env_inline.h), so a thread can own a cache outright and use it with
 * plain loads and stores (params.thread_caches, the hosted default). Other
 * environments promise no such thing (a kernel's CPU number is shared by
 * every task that runs there), so their caches are locked per call. The
 * owner checks its ownership and uses the cache inside an RCU read section
 * (urcu-bp: a TLS access and a compiler barrier), which is what lets a drain
 * take the cache away from a running thread, or from one that exited,
 * without any atomic instruction on the owner's side.
 */
#ifdef DMAP_ENV_HOSTED
#define POOL_OWNED_CACHES 1
#endif

struct pool_list {
	uint64_t head; /* tag << 32 | (index + 1) */
	int64_t count; /* runs in the list (approximate) */
} __attribute__((aligned(64)));

struct pool_cache {
	uint32_t busy; /* CACHE_* */
	uint32_t owner; /* CACHE_OWNED: the owner's dmap_cpu_hint() + 1, else 0 */
	uint32_t count[DMAP_BOUNCE_POOL_CACHED_ORDERS];
	uint32_t blocks[DMAP_BOUNCE_POOL_CACHED_ORDERS][DMAP_BOUNCE_POOL_CACHE_DEPTH];
	/* counters of this shard, written by the holder, read by anyone */
	int64_t in_use;
	int64_t peak;
	uint64_t peak_generation;
	int64_t live_by_order[DMAP_BOUNCE_POOL_MAX_ORDERS];
	/* revocation of an owned cache (CACHE_REVOKING) */
	struct dmap_rcu_head rcu;
	struct dmap_bounce_pool *pool;
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
	uint32_t words; /* bitmap words */
	uint64_t origin_slot; /* origin >> slot_shift: boundary windows are absolute */
	unsigned int slot_shift;
	unsigned int top_order;
	unsigned int nr_caches;
	bool owned_caches; /* hosted: threads own caches outright */
	uint32_t depth[DMAP_BOUNCE_POOL_CACHED_ORDERS];

	struct dmap_bounce_slot *slots; /* hi entries */
	size_t slots_bytes;
	uint64_t *bitmap; /* 1 = slot not free in the backing store */
	uint32_t *run_head; /* per slot: head index + 1 of the run it belongs to */
	struct pool_cache *caches;
	size_t caches_bytes;
	struct pool_list lists[DMAP_BOUNCE_POOL_CACHED_ORDERS];

	/* fallback counters for calls made without a cache */
	int64_t in_use __attribute__((aligned(64)));
	int64_t live_by_order[DMAP_BOUNCE_POOL_MAX_ORDERS];

	uint64_t high_water __attribute__((aligned(64)));
	uint64_t high_water_generation;

	dmap_spinlock_t drain_lock;
	bool lock_ready;
	uint64_t drains;
	uint32_t refs; /* 1 + revocations in flight: the metadata outlives them */
};

/* Freestanding builds may lack the popcount instruction and its libgcc helper. */
static inline uint64_t popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (x * 0x0101010101010101ull) >> 56;
}

static inline unsigned int ceil_log2_u32(uint32_t x)
{
	return x <= 1 ? 0 : 32 - (unsigned int)__builtin_clz(x - 1);
}

/* ---- bitmap (backing store) --------------------------------------------- */

static inline uint64_t word_mask(uint32_t word, uint32_t start, uint32_t end)
{
	uint64_t base = (uint64_t)word * 64;
	uint64_t from = start > base ? start - base : 0;
	uint64_t to = end > base ? end - base : 0;
	uint64_t high;

	if (to > 64)
		to = 64;
	if (from >= to)
		return 0;
	high = to == 64 ? ~0ull : (1ull << to) - 1;
	return high & ~((1ull << from) - 1);
}

/* First used slot in [@from, @to), or @to. */
static uint32_t first_used(const struct dmap_bounce_pool *pool, uint32_t from, uint32_t to)
{
	uint32_t w;

	for (w = from / 64; w * 64 < to; w++) {
		uint64_t bits = dmap_load_relaxed(&pool->bitmap[w]) & word_mask(w, from, to);

		if (bits)
			return w * 64 + (uint32_t)__builtin_ctzll(bits);
	}
	return to;
}

/* First free slot at or after @from, or hi. */
static uint32_t first_free(const struct dmap_bounce_pool *pool, uint32_t from)
{
	uint32_t w;

	for (w = from / 64; w < pool->words; w++) {
		uint64_t bits = ~dmap_load_relaxed(&pool->bitmap[w]) & word_mask(w, from, pool->hi);

		if (bits)
			return w * 64 + (uint32_t)__builtin_ctzll(bits);
	}
	return pool->hi;
}

/* Last used slot in [@from, @to), or UINT32_MAX. */
static uint32_t last_used(const struct dmap_bounce_pool *pool, uint32_t from, uint32_t to)
{
	uint32_t w = (to - 1) / 64 + 1;

	while (w-- > from / 64) {
		uint64_t bits = dmap_load_relaxed(&pool->bitmap[w]) & word_mask(w, from, to);

		if (bits)
			return w * 64 + 63 - (uint32_t)__builtin_clzll(bits);
	}
	return UINT32_MAX;
}

/* Last free slot below @below, or UINT32_MAX. */
static uint32_t last_free(const struct dmap_bounce_pool *pool, uint32_t below)
{
	uint32_t w = below ? (below - 1) / 64 + 1 : 0;

	while (w-- > pool->lo / 64) {
		uint64_t bits =
			~dmap_load_relaxed(&pool->bitmap[w]) & word_mask(w, pool->lo, below);

		if (bits)
			return w * 64 + 63 - (uint32_t)__builtin_clzll(bits);
	}
	return UINT32_MAX;
}

static void bitmap_clear(struct dmap_bounce_pool *pool, uint32_t start, uint32_t end)
{
	uint32_t w;

	for (w = start / 64; w * 64 < end; w++)
		__atomic_fetch_and(&pool->bitmap[w], ~word_mask(w, start, end), __ATOMIC_RELEASE);
}

/* Set [@start, @end) if all of it is clear; all or nothing. */
static bool bitmap_claim(struct dmap_bounce_pool *pool, uint32_t start, uint32_t end)
{
	uint32_t w;

	for (w = start / 64; w * 64 < end; w++) {
		uint64_t mask = word_mask(w, start, end);
		uint64_t old = dmap_load_relaxed(&pool->bitmap[w]);

		do {
			if (old & mask) {
				/* Someone took part of it: give back the words we set. */
				if (w * 64 > start)
					bitmap_clear(pool, start, w * 64);
				return false;
			}
		} while (!__atomic_compare_exchange_n(&pool->bitmap[w], &old, old | mask, 1,
						      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	}
	return true;
}

/*
 * First fit: the lowest run of @units free slots starting on a 2^@align
 * boundary and not crossing a 2^@boundary one (@boundary >= 32: none).
 */
static long bitmap_alloc(struct dmap_bounce_pool *pool, uint32_t units, unsigned int align,
			 unsigned int boundary)
{
	uint32_t s = dmap_align_up(pool->lo, 1u << align);

	while ((uint64_t)s + units <= pool->hi) {
		uint32_t used;

		if (boundary < 32) {
			uint64_t abs = pool->origin_slot + s;
			uint64_t window_end =
				dmap_align_down(abs, 1ull << boundary) + (1ull << boundary);

			if (abs + units > window_end) {
				s = (uint32_t)(window_end - pool->origin_slot);
				continue;
			}
		}
		used = first_used(pool, s, s + units);
		if (used == s + units) {
			if (bitmap_claim(pool, s, s + units))
				return s;
			continue; /* lost a race: look at the same place again */
		}
		s = dmap_align_up(first_free(pool, used), 1u << align);
	}
	return -1;
}

/*
 * Last fit: the highest such run, its start a multiple of 2^@align counted
 * from index @base (0: absolute alignment; pool->lo: natural placement of a
 * class run, see natural_base()). Runs the classes recycle are placed from
 * the top, everything else from the bottom, so the small, long-cached runs
 * do not pepper the space big requests need.
 */
static long bitmap_alloc_top(struct dmap_bounce_pool *pool, uint32_t units, unsigned int align,
			     unsigned int boundary, uint32_t base)
{
	uint32_t end = pool->hi;

	while (end >= pool->lo + units) {
		uint32_t s = base + dmap_align_down(end - units - base, 1u << align);
		uint32_t used;

		if (s < pool->lo)
			break;
		if (boundary < 32) {
			uint64_t abs = pool->origin_slot + s;

			if ((abs >> boundary) != ((abs + units - 1) >> boundary)) {
				end = (uint32_t)(dmap_align_down(abs + units - 1,
								 1ull << boundary) -
						 pool->origin_slot);
				continue;
			}
		}
		used = last_used(pool, s, s + units);
		if (used == UINT32_MAX) {
			if (bitmap_claim(pool, s, s + units))
				return s;
			continue;
		}
		end = last_free(pool, used);
		if (end == UINT32_MAX)
			break;
		end++;
	}
	return -1;
}

/* ---- size-class lists ----------------------------------------------------- */

static void list_push(struct dmap_bounce_pool *pool, unsigned int order, uint32_t index)
{
	struct pool_list *list = &pool->lists[order];
	uint64_t old = dmap_load_relaxed(&list->head);
	uint64_t desired;

	do {
		dmap_store_relaxed(&pool->slots[index].next, (uint32_t)old);
		desired = ((old >> 32) + 1) << 32 | (uint64_t)(index + 1);
	} while (!__atomic_compare_exchange_n(&list->head, &old, desired, 1, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
	dmap_atomic_add_relaxed(&list->count, 1);
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

/* Take a whole list at once (drain); returns the first index + 1. */
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

/* ---- caches ---------------------------------------------------------------- */

static void bitmap_clear(struct dmap_bounce_pool *pool, uint32_t start, uint32_t end);

/* Give a cache's runs back to the bitmap; caller holds or owns it. */
static void cache_empty(struct dmap_bounce_pool *pool, struct pool_cache *cache)
{
	unsigned int o;
	uint32_t k;

	for (o = 0; o < DMAP_BOUNCE_POOL_CACHED_ORDERS; o++) {
		for (k = 0; k < cache->count[o]; k++)
			bitmap_clear(pool, cache->blocks[o][k], cache->blocks[o][k] + (1u << o));
		dmap_store_relaxed(&cache->count[o], 0u);
	}
}

static inline __attribute__((always_inline)) struct pool_cache *
cache_get(struct dmap_bounce_pool *pool)
{
	struct pool_cache *cache;
	unsigned int hint;
	uint32_t idle = CACHE_FREE;

	if (!pool->nr_caches)
		return NULL;
	hint = dmap_cpu_hint();
	cache = &pool->caches[hint & (pool->nr_caches - 1)];
#ifdef POOL_OWNED_CACHES
	if (pool->owned_caches) {
		/*
		 * The read section is what lets another thread take the cache
		 * away (drain_classes()): it empties it only after a grace
		 * period, when no call that saw us as the owner is still in here.
		 */
		dmap_rcu_read_lock();
		if (dmap_likely(dmap_load_relaxed(&cache->owner) == hint + 1))
			return cache;
		if (dmap_load_relaxed(&cache->busy) == CACHE_FREE &&
		    __atomic_compare_exchange_n(&cache->busy, &idle, CACHE_OWNED, 0,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			/* A cache nobody owns: ours until someone revokes it. */
			dmap_store_relaxed(&cache->owner, hint + 1);
			return cache;
		}
		dmap_rcu_read_unlock();
		return NULL; /* owned by another thread or being revoked: use the class lists */
	}
#endif
	if (dmap_load_relaxed(&cache->busy) != CACHE_FREE)
		return NULL;
	if (!__atomic_compare_exchange_n(&cache->busy, &idle, CACHE_LOCKED, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return NULL;
	return cache;
}

static inline void cache_put(struct dmap_bounce_pool *pool, struct pool_cache *cache)
{
	(void)pool; /* only owned caches need it */
	if (!cache)
		return;
#ifdef POOL_OWNED_CACHES
	if (pool->owned_caches) {
		dmap_rcu_read_unlock();
		return;
	}
#endif
	dmap_store_release(&cache->busy, CACHE_FREE);
}

/*
 * Natural placement of a class run of 2^@order slots: its offset from the
 * region's first slot is a multiple of its size, as Linux's IOVA allocator
 * aligns the runs its rcache recycles to their power-of-two size. Runs of
 * one class then tile the region exactly, so recycling one in place never
 * leaves a sliver that a run of its own class cannot use, and once the
 * classes are drained an empty pool holds pool / size runs of any class.
 * Possible when the request's own (absolute) alignment follows from it.
 */
static inline bool natural_placement(const struct dmap_bounce_pool *pool, unsigned int order,
				     unsigned int align)
{
	return order >= align && !(pool->lo & ((1u << align) - 1));
}

static inline bool is_natural(const struct dmap_bounce_pool *pool, uint32_t index,
			      unsigned int order)
{
	return !((index - pool->lo) & ((1u << order) - 1));
}

/* A freed class-sized run: cache, class list, or back to the bitmap. */
static inline __attribute__((always_inline)) void
release_run(struct dmap_bounce_pool *pool, struct pool_cache *cache, uint32_t index, uint32_t units)
{
	unsigned int order = ceil_log2_u32(units);

	/* Only a naturally placed run is recycled in place (see natural_placement()). */
	if ((1u << order) == units && order < DMAP_BOUNCE_POOL_CACHED_ORDERS &&
	    is_natural(pool, index, order)) {
		if (cache) {
			uint32_t n = cache->count[order];

			if (n < pool->depth[order]) {
				cache->blocks[order][n] = index;
				dmap_store_relaxed(&cache->count[order], n + 1);
				return;
			}
		}
		if (dmap_load_relaxed(&pool->lists[order].count) < POOL_CLASS_LIST_MAX) {
			list_push(pool, order, index);
			return;
		}
	}
	bitmap_clear(pool, index, index + units);
}

static inline bool run_fits(const struct dmap_bounce_pool *pool, uint32_t index, uint32_t units,
			    unsigned int align, unsigned int boundary)
{
	uint64_t abs = pool->origin_slot + index;

	if (index & ((1u << align) - 1))
		return false;
	return boundary >= 32 || (abs >> boundary) == ((abs + units - 1) >> boundary);
}

/* A recycled run of 2^@order slots that suits the request, or -1. */
static inline __attribute__((always_inline)) long take_class(struct dmap_bounce_pool *pool,
							     struct pool_cache *cache,
							     unsigned int order, unsigned int align,
							     unsigned int boundary)
{
	long index;

	if (cache) {
		uint32_t n = cache->count[order];

		if (n &&
		    run_fits(pool, cache->blocks[order][n - 1], 1u << order, align, boundary)) {
			dmap_store_relaxed(&cache->count[order], n - 1);
			return cache->blocks[order][n - 1];
		}
	}
	index = list_pop(pool, order);
	if (index >= 0 && !run_fits(pool, (uint32_t)index, 1u << order, align, boundary)) {
		list_push(pool, order, (uint32_t)index);
		return -1;
	}
	return index;
}

static void pool_put(struct dmap_bounce_pool *pool);
static void pool_free_metadata(struct dmap_bounce_pool *pool);

/*
 * A revoked owned cache, one grace period after drain_classes() took it: no
 * call that saw the old owner is still using it, and every later call sees
 * that it has none, so its runs go back to the bitmap and anyone may own it
 * again (its old owner too, if it is still alive). This is what returns the
 * runs a thread that exited left in its cache.
 */
static void cache_reclaim_rcu(struct dmap_rcu_head *head)
{
	struct pool_cache *cache = dmap_container_of(head, struct pool_cache, rcu);
	struct dmap_bounce_pool *pool = cache->pool;

	cache_empty(pool, cache);
	dmap_store_release(&cache->busy, CACHE_FREE);
	pool_put(pool);
}

/*
 * Slow path: give everything the classes hold back to the bitmap. Locked
 * caches are taken and emptied here. An owned cache other than the
 * caller's (@mine, emptied now) is revoked: its owner reads its ownership
 * inside an RCU read section with plain loads and stores, so it is emptied
 * by cache_reclaim_rcu() after a grace period, whether its owner is still
 * running or has exited long ago. Its runs come back then, not now.
 */
static void drain_classes(struct dmap_bounce_pool *pool, struct pool_cache *mine)
{
	const struct dmap_env *env = pool->env;
	unsigned int i, o;

	dmap_spin_lock(&pool->drain_lock);
	if (mine)
		cache_empty(pool, mine);
	for (i = 0; i < pool->nr_caches; i++) {
		struct pool_cache *cache = &pool->caches[i];

		if (cache == mine)
			continue;
		for (;;) {
			uint32_t busy = dmap_load_relaxed(&cache->busy);

			if (busy == CACHE_REVOKING)
				break;
			if (busy == CACHE_OWNED) {
				if (!env->ops->call_rcu)
					break; /* cannot wait for its owner: it empties nothing */
				if (!__atomic_compare_exchange_n(
					    &cache->busy, &busy, CACHE_REVOKING, 0,
					    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
					continue;
				dmap_store_relaxed(&cache->owner, 0u);
				__atomic_fetch_add(&pool->refs, 1u, __ATOMIC_RELAXED);
				env->ops->call_rcu(env->cookie, &cache->rcu, cache_reclaim_rcu);
				break;
			}
			if (busy == CACHE_FREE &&
			    __atomic_compare_exchange_n(&cache->busy, &busy, CACHE_LOCKED, 0,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				cache_empty(pool, cache);
				dmap_store_release(&cache->busy, CACHE_FREE);
				break;
			}
			dmap_cpu_relax(); /* held for one call by another thread */
		}
	}
	for (o = 0; o < DMAP_BOUNCE_POOL_CACHED_ORDERS; o++) {
		uint32_t next = list_take_all(pool, o);
		int64_t n = 0;

		while (next != POOL_NO_INDEX) {
			uint32_t index = next - 1;

			next = dmap_load_relaxed(&pool->slots[index].next);
			bitmap_clear(pool, index, index + (1u << o));
			n++;
		}
		dmap_atomic_sub_relaxed(&pool->lists[o].count, n);
	}
	dmap_atomic_add_relaxed(&pool->drains, 1);
	dmap_spin_unlock(&pool->drain_lock);
}

/* ---- accounting -------------------------------------------------------------- */

static uint64_t sum_in_use(const struct dmap_bounce_pool *pool)
{
	int64_t total = dmap_load_relaxed(&pool->in_use);
	unsigned int i;

	for (i = 0; i < pool->nr_caches; i++)
		total += dmap_load_relaxed(&pool->caches[i].in_use);
	return total > 0 ? (uint64_t)total : 0;
}

static void raise_high_water(struct dmap_bounce_pool *pool)
{
	uint64_t now = sum_in_use(pool);
	uint64_t old = dmap_load_relaxed(&pool->high_water);

	while (now > old)
		if (dmap_cmpxchg_weak(&pool->high_water, &old, now))
			break;
}

static inline __attribute__((always_inline)) void
account(struct dmap_bounce_pool *pool, struct pool_cache *cache, int64_t units, unsigned int order)
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

/* ---- public ------------------------------------------------------------------ */

static inline void set_run_state(struct dmap_bounce_pool *pool, long index, unsigned int order,
				 uint32_t units)
{
	dmap_store_relaxed(&pool->slots[index].state,
			   (dmap_load_relaxed(&pool->slots[index].state) &
			    (DMAP_BOUNCE_STATE_GEN_MASK << DMAP_BOUNCE_STATE_GEN_SHIFT)) |
				   (uint64_t)order << DMAP_BOUNCE_STATE_ORDER_SHIFT | units);
}

/*
 * Everything but a hit in the caller's cache: argument checks, the class
 * lists, the bitmap and the drain. Out of line so that the fast path
 * (dmap_bounce_pool_alloc()) stays small enough to need few registers.
 */
static __attribute__((noinline)) long pool_alloc_slow(struct dmap_bounce_pool *pool, uint32_t units,
						      unsigned int align_order,
						      unsigned int boundary_order)
{
	struct pool_cache *cache;
	unsigned int order;
	bool class_run, natural = false;
	long index = -1;
	uint32_t i;

	if (!units)
		return -DMAP_EINVAL;
	order = ceil_log2_u32(units);
	if (order > pool->top_order || align_order > pool->top_order)
		return -DMAP_E2BIG;
	if (boundary_order < 32 && units > (1u << boundary_order))
		return -DMAP_ENOSPC; /* can never fit between two boundaries */

	cache = cache_get(pool);
	class_run = (1u << order) == units && order < DMAP_BOUNCE_POOL_CACHED_ORDERS;
	if (class_run) {
		index = take_class(pool, cache, order, align_order, boundary_order);
		if (index >= 0)
			goto done; /* its run_head entries are still ours */
		natural = natural_placement(pool, order, align_order);
		index = natural ? bitmap_alloc_top(pool, units, order, boundary_order, pool->lo) :
				  bitmap_alloc_top(pool, units, align_order, boundary_order, 0);
	} else {
		index = bitmap_alloc(pool, units, align_order, boundary_order);
	}
	if (dmap_unlikely(index < 0)) {
		struct pool_cache *mine = NULL;

		/*
		 * The classes may hold the room we need, or pieces of it: drain
		 * them into the bitmap and search again (Linux:
		 * alloc_iova_fast(flush_rcache=true)). A class run tries its
		 * natural place first, then any place at the asked alignment
		 * (such a run goes back to the bitmap when freed, never to a
		 * class), so a request fails only when no placement is left.
		 */
		if (pool->owned_caches) {
			mine = cache; /* still ours after the drain */
		} else {
			cache_put(pool, cache);
			cache = NULL;
		}
		drain_classes(pool, mine);
		cache = mine;
		if (class_run) {
			index = natural ? bitmap_alloc_top(pool, units, order, boundary_order,
							   pool->lo) :
					  -1;
			if (index < 0)
				index = bitmap_alloc_top(pool, units, align_order, boundary_order,
							 0);
		} else {
			index = bitmap_alloc(pool, units, align_order, boundary_order);
		}
		if (index < 0) {
			cache_put(pool, cache);
			return -DMAP_ENOSPC;
		}
	}
	for (i = 0; i < units; i++)
		dmap_store_relaxed(&pool->run_head[index + i], (uint32_t)index + 1);
done:
	set_run_state(pool, index, order, units);
	account(pool, cache, (int64_t)units, order);
	cache_put(pool, cache);
	return index;
}

long dmap_bounce_pool_alloc(struct dmap_bounce_pool *pool, uint32_t units, unsigned int align_order,
			    unsigned int boundary_order)
{
	unsigned int order = ceil_log2_u32(units);

	/* Fast path: a recycled run of this class from the caller's cache. */
	if (dmap_likely((1u << order) == units && order < DMAP_BOUNCE_POOL_CACHED_ORDERS &&
			align_order <= pool->top_order)) {
		struct pool_cache *cache = cache_get(pool);

		if (dmap_likely(cache != NULL)) {
			uint32_t n = cache->count[order];

			if (dmap_likely(n != 0)) {
				uint32_t index = cache->blocks[order][n - 1];

				if (dmap_likely(run_fits(pool, index, units, align_order,
							 boundary_order))) {
					dmap_store_relaxed(&cache->count[order], n - 1);
					/* its run_head entries are still ours */
					set_run_state(pool, index, order, units);
					account(pool, cache, (int64_t)units, order);
					cache_put(pool, cache);
					return index;
				}
			}
			cache_put(pool, cache);
		}
	}
	return pool_alloc_slow(pool, units, align_order, boundary_order);
}

void dmap_bounce_pool_publish(struct dmap_bounce_pool *pool, long index)
{
	struct dmap_bounce_slot *slot = &pool->slots[index];
	uint64_t state = dmap_load_relaxed(&slot->state);
	uint64_t generation =
		((state >> DMAP_BOUNCE_STATE_GEN_SHIFT) + 1) & DMAP_BOUNCE_STATE_GEN_MASK;

	state &= ~(DMAP_BOUNCE_STATE_GEN_MASK << DMAP_BOUNCE_STATE_GEN_SHIFT);
	dmap_store_release(&slot->state, state | DMAP_BOUNCE_STATE_LIVE |
						 generation << DMAP_BOUNCE_STATE_GEN_SHIFT);
}

bool dmap_bounce_pool_claim(struct dmap_bounce_pool *pool, long index, uint64_t state)
{
	uint64_t expected = state;

	return dmap_cmpxchg(&pool->slots[index].state, &expected, state & ~DMAP_BOUNCE_STATE_LIVE);
}

/* Everything but room in the caller's cache (see pool_alloc_slow()). */
static __attribute__((noinline)) void pool_free_slow(struct dmap_bounce_pool *pool, long index,
						     uint32_t units, unsigned int order)
{
	struct pool_cache *cache = cache_get(pool);

	account(pool, cache, -(int64_t)units, order);
	release_run(pool, cache, (uint32_t)index, units);
	cache_put(pool, cache);
}

void dmap_bounce_pool_free(struct dmap_bounce_pool *pool, long index)
{
	struct dmap_bounce_slot *slot = &pool->slots[index];
	uint64_t state = dmap_load_relaxed(&slot->state);
	uint32_t units = dmap_bounce_state_units(state);
	unsigned int order = dmap_bounce_state_order(state);

	dmap_store_relaxed(&slot->state, state & ~DMAP_BOUNCE_STATE_LIVE);
	/* Fast path: a naturally placed class run into the caller's cache. */
	if (dmap_likely((1u << order) == units && order < DMAP_BOUNCE_POOL_CACHED_ORDERS &&
			is_natural(pool, (uint32_t)index, order))) {
		struct pool_cache *cache = cache_get(pool);

		if (dmap_likely(cache != NULL)) {
			uint32_t n = cache->count[order];

			if (dmap_likely(n < pool->depth[order])) {
				cache->blocks[order][n] = (uint32_t)index;
				dmap_store_relaxed(&cache->count[order], n + 1);
				account(pool, cache, -(int64_t)units, order);
				cache_put(pool, cache);
				return;
			}
			cache_put(pool, cache);
		}
	}
	pool_free_slow(pool, index, units, order);
}

long dmap_bounce_pool_find(const struct dmap_bounce_pool *pool, dmap_phys_t phys, uint64_t *state)
{
	uint64_t slot_index, s;
	uint32_t head;

	if (phys < pool->phys || phys - pool->phys >= pool->nslots << pool->slot_shift)
		return -1;
	slot_index = (phys - pool->origin) >> pool->slot_shift;
	head = dmap_load_relaxed(&pool->run_head[slot_index]);
	if (!head)
		return -1;
	s = dmap_load_acquire(&pool->slots[head - 1].state);
	if (!(s & DMAP_BOUNCE_STATE_LIVE) || slot_index < head - 1 ||
	    slot_index >= head - 1 + dmap_bounce_state_units(s))
		return -1;
	*state = s;
	return (long)head - 1;
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
	uint32_t s = first_free(pool, pool->lo), best = 0;

	while (s < pool->hi) {
		uint32_t end = first_used(pool, s, pool->hi);

		if (end - s > best)
			best = end - s;
		s = first_free(pool, end);
	}
	return best;
}

void dmap_bounce_pool_get_stats(const struct dmap_bounce_pool *pool,
				struct dmap_bounce_pool_stats *out)
{
	unsigned int i, order;
	uint32_t w;

	dmap_memset(out, 0, sizeof(*out));
	out->slots = pool->nslots;
	out->slots_in_use = sum_in_use(pool);
	out->high_water = dmap_load_relaxed(&pool->high_water);
	if (out->high_water < out->slots_in_use)
		out->high_water = out->slots_in_use;
	out->coalesce_passes = dmap_load_relaxed(&pool->drains);
	for (w = 0; w < pool->words; w++)
		out->slots_free += popcount64(~dmap_load_relaxed(&pool->bitmap[w]));
	for (order = 0; order <= pool->top_order; order++) {
		int64_t live = dmap_load_relaxed(&pool->live_by_order[order]);
		int64_t free_runs = 0;

		if (order < DMAP_BOUNCE_POOL_CACHED_ORDERS)
			free_runs = dmap_load_relaxed(&pool->lists[order].count);
		for (i = 0; i < pool->nr_caches; i++) {
			live += dmap_load_relaxed(&pool->caches[i].live_by_order[order]);
			if (order < DMAP_BOUNCE_POOL_CACHED_ORDERS)
				free_runs += dmap_load_relaxed(&pool->caches[i].count[order]);
		}
		out->live_by_order[order] = live > 0 ? (uint64_t)live : 0;
		out->free_by_order[order] = free_runs > 0 ? (uint64_t)free_runs : 0;
		out->live_runs += out->live_by_order[order];
	}
}

void dmap_bounce_pool_reset_high_water(struct dmap_bounce_pool *pool)
{
	dmap_store_relaxed(&pool->high_water, 0);
	dmap_atomic_add_relaxed(&pool->high_water_generation, 1);
}

int dmap_bounce_pool_create(const struct dmap_env *env,
			    const struct dmap_bounce_pool_params *params,
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
	pool->words = (uint32_t)((hi + 63) / 64);
	pool->origin_slot = pool->origin >> params->slot_shift;
	pool->slot_shift = params->slot_shift;
	pool->top_order = params->top_order;
	pool->nr_caches = params->nr_caches;
#ifdef POOL_OWNED_CACHES
	pool->owned_caches = params->thread_caches;
#endif
	/*
	 * A cache holds at most about a quarter of the pool divided among the
	 * caches (an owned cache of a thread that went idle keeps its runs until
	 * the thread comes back): deep for small classes, one run of a big class
	 * only in a pool big enough for it.
	 */
	{
		uint64_t cap = dmap_max(64ull, nslots / (4ull * dmap_max(1u, params->nr_caches)));

		for (order = 0; order < DMAP_BOUNCE_POOL_CACHED_ORDERS; order++)
			pool->depth[order] = (uint32_t)dmap_min(
				cap >> (order + 2), (uint64_t)DMAP_BOUNCE_POOL_CACHE_DEPTH);
	}
	pool->slots_bytes = (size_t)hi * sizeof(*pool->slots);
	pool->slots = env->ops->alloc(env->cookie, pool->slots_bytes, 64, DMAP_ALLOC_ZERO);
	pool->bitmap = env->ops->alloc(env->cookie, (size_t)pool->words * 8, 64, DMAP_ALLOC_ZERO);
	pool->run_head =
		env->ops->alloc(env->cookie, (size_t)hi * sizeof(uint32_t), 64, DMAP_ALLOC_ZERO);
	pool->caches_bytes = (size_t)pool->nr_caches * sizeof(*pool->caches);
	if (pool->caches_bytes)
		pool->caches =
			env->ops->alloc(env->cookie, pool->caches_bytes, 64, DMAP_ALLOC_ZERO);
	if (!pool->slots || !pool->bitmap || !pool->run_head ||
	    (pool->caches_bytes && !pool->caches)) {
		pool_free_metadata(pool);
		return -DMAP_ENOMEM;
	}
	dmap_memset(pool->slots, 0, pool->slots_bytes);
	dmap_memset(pool->bitmap, 0, (size_t)pool->words * 8);
	dmap_memset(pool->run_head, 0, (size_t)hi * sizeof(uint32_t));
	if (pool->caches)
		dmap_memset(pool->caches, 0, pool->caches_bytes);
	/* Slots before the base and in the last word's tail never exist. */
	for (i = 0; i < pool->words; i++)
		pool->bitmap[i] = ~word_mask(i, pool->lo, pool->hi);
	for (i = 0; i < pool->nr_caches; i++)
		pool->caches[i].pool = pool;
	dmap_spin_init(&pool->drain_lock);
	pool->lock_ready = true;
	pool->refs = 1;
	*out = pool;
	return 0;
}

static void pool_free_metadata(struct dmap_bounce_pool *pool)
{
	const struct dmap_env *env = pool->env;

	if (pool->slots)
		env->ops->free(env->cookie, pool->slots, pool->slots_bytes);
	if (pool->bitmap)
		env->ops->free(env->cookie, pool->bitmap, (size_t)pool->words * 8);
	if (pool->run_head)
		env->ops->free(env->cookie, pool->run_head, (size_t)pool->hi * sizeof(uint32_t));
	if (pool->caches)
		env->ops->free(env->cookie, pool->caches, pool->caches_bytes);
	if (pool->lock_ready)
		dmap_spin_destroy(&pool->drain_lock);
	env->ops->free(env->cookie, pool, sizeof(*pool));
}

/* Revocations in flight (cache_reclaim_rcu) keep the metadata they empty into. */
static void pool_put(struct dmap_bounce_pool *pool)
{
	if (__atomic_sub_fetch(&pool->refs, 1u, __ATOMIC_ACQ_REL) == 0)
		pool_free_metadata(pool);
}

void dmap_bounce_pool_destroy(struct dmap_bounce_pool *pool)
{
	if (pool)
		pool_put(pool);
}

// SPDX-License-Identifier: MIT
/*
 * backends/bounce/bounce.c - the bounce backend (Linux: swiotlb).
 *
 * A bounce domain is a list of pools (pool.c: per-CPU caches and lock-free
 * size-class lists in front of an address-ordered first-fit bitmap) plus the
 * DMA semantics swiotlb established and drivers rely on:
 *
 *  - map copies the buffer into the slot in every direction, FROM_DEVICE
 *    included, so a device that writes only part of the buffer hands back the
 *    original bytes elsewhere instead of another mapping's stale data. With
 *    DMAP_ATTR_SKIP_CPU_SYNC the copy is skipped and the slot is zeroed
 *    instead: the driver promised to sync before the device looks, and the
 *    device still never sees a previous user's bytes;
 *  - unmap and sync_for_cpu copy back for FROM_DEVICE and BIDIRECTIONAL,
 *    sync_for_device copies in for TO_DEVICE and BIDIRECTIONAL, each exactly
 *    over the (sub)range asked for;
 *  - the bounce address keeps the low bits of the original under the
 *    device's min_align_mask (NVMe's PRP offsets), however large the offset:
 *    the run starts on a min_align_mask + 1 boundary and the data
 *    starts at the same offset inside it;
 *  - a mapping of a page or more starts page aligned, and no mapping crosses
 *    the device's seg_boundary_mask: the pool's search keeps the run inside
 *    one boundary window (and the result is checked anyway);
 *  - limits tell the truth: max_mapping_size answers before anyone maps, and
 *    a request above it or one the pools cannot serve returns
 *    DMAP_MAPPING_ERROR with one rate-limited message naming the domain, the
 *    request and the pool usage; nothing is left allocated.
 *
 * Bus addresses are per pool: bus = pool bus base + (phys - pool phys), so a
 * provider (Xen's machine-contiguous exchange) can hand out memory whose bus
 * view differs from its CPU view by a per-pool constant.
 *
 * Lookups by address (unmap, sync, translate, owns_addr) take no lock: the
 * primary pool is fixed and added pools hang off an RCU list. An added pool
 * counts its live runs; when the count drops to zero the pool is unlinked
 * and freed after a grace period, because a device-side lookup may still be
 * walking it. Allocators announce themselves in the count before allocating
 * and the retirer re-checks it after marking the pool, both with full
 * barriers, so a pool is never retired under a new mapping.
 *
 * A reader validates what it read from a slot by re-reading the head's state
 * word, which carries a per-slot generation: a lookup that races an unmap
 * and a new map of the same slot sees the change and reports "not found"
 * rather than mixing two mappings' fields.
 */
#include <dmap/bounce.h>
#include <dmap/ops.h>
#include <dmap/helpers.h>

#include "pool.h"

#define BOUNCE_PAGE_SIZE 4096u
#define BOUNCE_FLAG_DIR_MASK 0x3u
#define BOUNCE_FLAG_COHERENT (1u << 4)
#define BOUNCE_SHARDS 16u

enum bounce_node_state { NODE_ACTIVE = 0, NODE_RETIRING = 1 };

struct bounce_node {
	struct bounce_node *next; /* RCU list of added pools */
	struct dmap_bounce_pool *pool;
	const struct dmap_env *env;
	struct dmap_bounce_memory_ops memory; /* copy: the domain may be gone at free time */
	bool use_env_memory;
	void *va;
	dmap_phys_t phys;
	size_t size;
	bool added;
	bool sticky; /* added by dmap_bounce_grow(): kept when empty */
	int64_t live; /* runs live in an added pool (atomic) */
	uint32_t state; /* enum bounce_node_state (atomic) */
	struct dmap_rcu_head rcu;
};

struct bounce_shard {
	uint64_t bytes_to_device;
	uint64_t bytes_from_device;
} __attribute__((aligned(64)));

struct dmap_bounce {
	struct dmap_domain dom;
	struct bounce_node primary;
	struct bounce_node *added; /* RCU-protected list head */
	dmap_spinlock_t grow_lock;
	uint64_t grow_generation;
	size_t added_bytes;

	unsigned int slot_shift;
	unsigned int top_order;
	unsigned int segment_order; /* runs stay in one segment; NO_BOUNDARY: none */
	size_t max_mapping;
	size_t pool_size;
	uint64_t phys_limit;
	uint64_t bus_offset;
	bool allow_growth;
	size_t growth_cap;
	struct dmap_bounce_memory_ops memory;
	bool use_env_memory;

	uint64_t failed_too_big;
	uint64_t failed_full;
	uint64_t failed_unreachable;
	uint64_t failed_constraint;
	uint64_t pools_added;
	uint64_t pools_released;
	struct dmap_ratelimit ratelimit;
	struct bounce_shard shards[BOUNCE_SHARDS];
};

/* What a lookup found: a consistent snapshot of one live run. */
struct bounce_mapping {
	struct bounce_node *node;
	long index;
	uint64_t state;
	dmap_phys_t orig;
	size_t size;
	uint32_t offset;
	uint32_t flags;
	dmap_addr_t run_bus; /* bus address of the run's first slot */
	dmap_addr_t bus; /* bus address of the data (run_bus + offset) */
	dmap_phys_t data_phys; /* physical address of the data in the slot */
};

static const struct dmap_ops dmap_bounce_ops;

static inline struct dmap_bounce *to_bounce(struct dmap_domain *dom)
{
	return dmap_container_of(dom, struct dmap_bounce, dom);
}

static inline size_t slot_bytes(const struct dmap_bounce *b)
{
	return (size_t)1 << b->slot_shift;
}

static inline struct bounce_shard *this_shard(struct dmap_bounce *b)
{
	return &b->shards[dmap_cpu_hint() & (BOUNCE_SHARDS - 1)];
}

static inline unsigned int ceil_log2_64(uint64_t x)
{
	return x <= 1 ? 0 : dmap_fls64(x - 1);
}

/* ---- memory ------------------------------------------------------------ */

static void *node_memory_alloc(struct dmap_bounce *b, size_t size, size_t align, uint64_t bus_limit,
			       dmap_phys_t *phys, dmap_addr_t *bus)
{
	const struct dmap_env *env = b->dom.env ? b->dom.env : b->primary.env;
	void *va;

	if (!b->use_env_memory)
		return b->memory.alloc(b->memory.arg, size, align, bus_limit, phys, bus);
	if (bus_limit < b->bus_offset)
		return NULL;
	va = env->ops->alloc_dma_pages(env->cookie, size, align, bus_limit - b->bus_offset, phys);
	if (va)
		*bus = *phys + b->bus_offset;
	return va;
}

static void node_memory_free(struct bounce_node *node)
{
	if (!node->va)
		return;
	if (node->use_env_memory)
		node->env->ops->free_dma_pages(node->env->cookie, node->va, node->phys, node->size);
	else
		node->memory.free(node->memory.arg, node->va, node->phys, node->size);
}

/* Set up @node with a pool of @size bytes below @bus_limit. */
static int node_init(struct dmap_bounce *b, struct bounce_node *node, size_t size,
		     uint64_t bus_limit, unsigned int nr_caches, bool thread_caches)
{
	struct dmap_bounce_pool_params params = { 0 };
	dmap_addr_t bus = 0;
	int ret;

	node->env = b->primary.env;
	node->memory = b->memory;
	node->use_env_memory = b->use_env_memory;
	node->size = size;
	/*
	 * Page alignment is enough: the pool counts slots from a top-aligned
	 * origin below the base, so run alignment is physical alignment anyway
	 * (and a provider such as Xen's exchange need not find huge aligned
	 * extents).
	 */
	node->va = node_memory_alloc(b, size, BOUNCE_PAGE_SIZE, bus_limit, &node->phys, &bus);
	if (!node->va)
		return -DMAP_ENOMEM;
	params.phys = node->phys;
	params.bus = bus;
	params.va = node->va;
	params.size = size;
	params.slot_shift = b->slot_shift;
	params.top_order = b->top_order;
	params.nr_caches = nr_caches;
	params.thread_caches = thread_caches;
	ret = dmap_bounce_pool_create(node->env, &params, &node->pool);
	if (ret) {
		node_memory_free(node);
		node->va = NULL;
	}
	return ret;
}

static void node_free_rcu(struct dmap_rcu_head *head)
{
	struct bounce_node *node = dmap_container_of(head, struct bounce_node, rcu);
	const struct dmap_env *env = node->env;

	dmap_bounce_pool_destroy(node->pool);
	node_memory_free(node);
	dmap_env_free(env, node, sizeof(*node));
}

/* ---- lookup ------------------------------------------------------------ */

/* Caller holds the RCU read lock. */
static bool lookup_in(struct bounce_node *node, dmap_addr_t addr, struct bounce_mapping *m)
{
	struct dmap_bounce_pool *pool = node->pool;
	struct dmap_bounce_slot *slot;
	uint64_t state;
	long index;

	if (!dmap_bounce_pool_contains_bus(pool, addr))
		return false;
	index = dmap_bounce_pool_find(pool, dmap_bounce_pool_bus_to_phys(pool, addr), &state);
	if (index < 0)
		return false;
	slot = dmap_bounce_pool_slot(pool, index);
	/* Seqlock-style validation: acquire loads keep the re-read of state last. */
	m->orig = dmap_load_acquire(&slot->orig);
	m->size = dmap_load_acquire(&slot->size);
	m->offset = dmap_load_acquire(&slot->offset);
	m->flags = dmap_load_acquire(&slot->flags);
	if (dmap_load_relaxed(&slot->state) != state)
		return false;
	m->node = node;
	m->index = index;
	m->state = state;
	m->run_bus = dmap_bounce_pool_slot_bus(pool, index);
	m->bus = m->run_bus + m->offset;
	m->data_phys = dmap_bounce_pool_slot_phys(pool, index) + m->offset;
	return true;
}

/* Caller holds the RCU read lock. */
static bool lookup(struct dmap_bounce *b, dmap_addr_t addr, struct bounce_mapping *m)
{
	struct bounce_node *node;

	if (lookup_in(&b->primary, addr, m))
		return true;
	for (node = dmap_rcu_dereference(b->added); node; node = dmap_rcu_dereference(node->next))
		if (lookup_in(node, addr, m))
			return true;
	return false;
}

/* ---- pools: allocation, growth, retirement ----------------------------- */

static void node_try_retire(struct dmap_bounce *b, struct bounce_node *node);

static long node_alloc(struct dmap_bounce *b, struct bounce_node *node, uint32_t units,
		       unsigned int align_order, unsigned int boundary_order)
{
	long index;

	if (!node->added)
		return dmap_bounce_pool_alloc(node->pool, units, align_order, boundary_order);
	/*
	 * Announce ourselves before looking at the state; node_try_retire() does
	 * the mirror image. Sequentially consistent on both sides (Dekker), so
	 * at least one of us sees the other.
	 */
	__atomic_fetch_add(&node->live, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&node->state, __ATOMIC_SEQ_CST) != NODE_ACTIVE) {
		dmap_fetch_sub(&node->live, 1);
		return -DMAP_ENOSPC;
	}
	index = dmap_bounce_pool_alloc(node->pool, units, align_order, boundary_order);
	/* A retirer that saw our announcement backed off: finish its job if we were the last. */
	if (index < 0 && dmap_fetch_sub(&node->live, 1) == 1 && !node->sticky)
		node_try_retire(b, node);
	return index;
}

static void node_try_retire(struct dmap_bounce *b, struct bounce_node *node)
{
	struct bounce_node **link;

	dmap_spin_lock(&b->grow_lock);
	if (dmap_load_relaxed(&node->state) != NODE_ACTIVE || dmap_load_acquire(&node->live))
		goto out;
	__atomic_store_n(&node->state, NODE_RETIRING, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&node->live, __ATOMIC_SEQ_CST)) {
		dmap_store_relaxed(&node->state, NODE_ACTIVE);
		goto out;
	}
	for (link = &b->added; *link; link = &(*link)->next) {
		if (*link == node) {
			dmap_rcu_assign_pointer(*link, node->next);
			break;
		}
	}
	b->added_bytes -= node->size;
	dmap_atomic_add_relaxed(&b->pools_released, 1);
	b->dom.env->ops->call_rcu(b->dom.env->cookie, &node->rcu, node_free_rcu);
out:
	dmap_spin_unlock(&b->grow_lock);
}

static void node_free_run(struct dmap_bounce *b, struct bounce_node *node, long index)
{
	dmap_bounce_pool_free(node->pool, index);
	if (node->added && dmap_fetch_sub(&node->live, 1) == 1 && !node->sticky)
		node_try_retire(b, node);
}

/*
 * Add a pool of at least @min_size bytes below @bus_limit. Called without
 * the RCU read lock (the memory hook may not be called inside one).
 * @seen_generation: the grow generation the caller saw before it failed; if
 * another thread grew meanwhile, retry in that pool instead.
 */
static int bounce_add_pool(struct dmap_bounce *b, size_t min_size, uint64_t bus_limit,
			   uint64_t seen_generation, bool sticky, struct bounce_node **added)
{
	size_t top_bytes = slot_bytes(b) << b->top_order;
	size_t size = dmap_max(b->pool_size, min_size);
	struct bounce_node *node;
	int ret;

	size = dmap_align_up(size, top_bytes);
	dmap_spin_lock(&b->grow_lock);
	if (!sticky && dmap_load_relaxed(&b->grow_generation) != seen_generation) {
		ret = 0;
		goto out;
	}
	if (b->added_bytes + size > b->growth_cap || b->added_bytes + size < size) {
		ret = -DMAP_ENOSPC;
		goto out;
	}
	node = dmap_env_alloc(b->dom.env, sizeof(*node), DMAP_ALLOC_ZERO | DMAP_ALLOC_ATOMIC);
	if (!node) {
		ret = -DMAP_ENOMEM;
		goto out;
	}
	dmap_memset(node, 0, sizeof(*node));
	ret = node_init(b, node, size, bus_limit, 0, false);
	if (ret) {
		dmap_env_free(b->dom.env, node, sizeof(*node));
		goto out;
	}
	node->added = true;
	node->sticky = sticky;
	node->next = b->added;
	b->added_bytes += size;
	dmap_rcu_assign_pointer(b->added, node);
	if (added) {
		/*
		 * The caller may look at the new pool after we drop grow_lock, when
		 * another thread could already have filled, emptied and retired it:
		 * an RCU read section from before that point keeps it alive.
		 */
		dmap_rcu_read_lock();
		*added = node;
	}
	dmap_atomic_add_relaxed(&b->grow_generation, 1);
	dmap_atomic_add_relaxed(&b->pools_added, 1);
out:
	dmap_spin_unlock(&b->grow_lock);
	return ret;
}

/* Try every pool; returns the run or -ENOSPC / -E2BIG. */
static long bounce_alloc_run(struct dmap_bounce *b, uint32_t units, unsigned int align_order,
			     unsigned int boundary_order, struct bounce_node **out_node)
{
	struct bounce_node *node;
	long index;

	index = node_alloc(b, &b->primary, units, align_order, boundary_order);
	if (index >= 0 || index == -DMAP_E2BIG) {
		*out_node = &b->primary;
		return index;
	}
	dmap_rcu_read_lock();
	for (node = dmap_rcu_dereference(b->added); node; node = dmap_rcu_dereference(node->next)) {
		index = node_alloc(b, node, units, align_order, boundary_order);
		if (index >= 0) {
			*out_node = node;
			break;
		}
	}
	dmap_rcu_read_unlock();
	return index >= 0 ? index : -DMAP_ENOSPC;
}

/* ---- accounting and messages ------------------------------------------- */

static void bounce_usage(struct dmap_bounce *b, uint64_t *used, uint64_t *total, uint64_t *largest)
{
	struct bounce_node *node;

	*used = dmap_bounce_pool_slots_in_use(b->primary.pool);
	*total = dmap_bounce_pool_total_slots(b->primary.pool);
	*largest = dmap_bounce_pool_largest_free(b->primary.pool);
	dmap_rcu_read_lock();
	for (node = dmap_rcu_dereference(b->added); node; node = dmap_rcu_dereference(node->next)) {
		*used += dmap_bounce_pool_slots_in_use(node->pool);
		*total += dmap_bounce_pool_total_slots(node->pool);
		*largest = dmap_max(*largest, dmap_bounce_pool_largest_free(node->pool));
	}
	dmap_rcu_read_unlock();
}

static dmap_addr_t bounce_fail(struct dmap_bounce *b, struct dmap_dev *dev, dmap_phys_t phys,
			       size_t size, unsigned long attrs, uint64_t *counter, const char *why)
{
	uint64_t used, total, largest;

	dmap_atomic_add_relaxed(counter, 1);
	if ((attrs & DMAP_ATTR_NO_WARN) || !dmap_ratelimit_ok(b->dom.env, &b->ratelimit))
		return DMAP_MAPPING_ERROR;
	bounce_usage(b, &used, &total, &largest);
	dmap_log(
		b->dom.env, DMAP_LOG_WARN,
		"dmap: %s: bounce pool '%s': cannot map %zu bytes (phys 0x%llx): %s; pool usage %llu of %llu slots (%llu of %llu KiB, largest free run %llu KiB), max mapping size %zu",
		dev->name, b->dom.name, size, (unsigned long long)phys, why,
		(unsigned long long)used, (unsigned long long)total,
		(unsigned long long)((used << b->slot_shift) >> 10),
		(unsigned long long)((total << b->slot_shift) >> 10),
		(unsigned long long)((largest << b->slot_shift) >> 10), b->max_mapping);
	return DMAP_MAPPING_ERROR;
}

/* ---- streaming --------------------------------------------------------- */

static dmap_addr_t dmap_bounce_map_phys(struct dmap_domain *dom, struct dmap_dev *dev,
					dmap_phys_t phys, size_t size, enum dmap_dir dir,
					unsigned long attrs)
{
	struct dmap_bounce *b = to_bounce(dom);
	const struct dmap_env *env = dom->env;
	uint64_t mask = dev->min_align_mask;
	uint64_t boundary = dev->seg_boundary_mask;
	uint64_t offset = phys & mask;
	uint64_t align = mask ? mask + 1 : 1;
	uint64_t units64, seen_generation;
	unsigned int align_order = 0, boundary_order = DMAP_BOUNCE_NO_BOUNDARY;
	struct bounce_node *node = NULL;
	struct dmap_bounce_slot *slot;
	dmap_addr_t bus;
	dmap_phys_t data_phys;
	long index;
	int ret;

	if (dmap_unlikely(size > b->max_mapping))
		return bounce_fail(b, dev, phys, size, attrs, &b->failed_too_big,
				   "larger than the maximum mapping size");
	/* Linux keeps mappings of a page or more page aligned; drivers rely on it. */
	if (size >= BOUNCE_PAGE_SIZE && align < BOUNCE_PAGE_SIZE)
		align = BOUNCE_PAGE_SIZE;
	if (align > slot_bytes(b))
		align_order = ceil_log2_64(align >> b->slot_shift);
	units64 = (offset + size + slot_bytes(b) - 1) >> b->slot_shift;
	if (dmap_unlikely(align_order > b->top_order || units64 > (1ull << b->top_order)))
		return bounce_fail(
			b, dev, phys, size, attrs, &b->failed_too_big,
			"with the device's min_align_mask offset it exceeds the largest run");

	/*
	 * The pool keeps the whole run inside one boundary window. If the window
	 * is smaller than a slot, or the offset min_align_mask keeps makes the
	 * data straddle a window whatever the placement, nothing can help.
	 */
	if (boundary != ~0ull) {
		uint64_t window = boundary + 1;

		if (window >= slot_bytes(b) && (window >> b->slot_shift) < (1ull << 31))
			boundary_order = (unsigned int)__builtin_ctzll(window >> b->slot_shift);
		if (size > window || (align >= window && (offset & boundary) + size > window) ||
		    (boundary_order < 32 && units64 > (1ull << boundary_order)))
			return bounce_fail(
				b, dev, phys, size, attrs, &b->failed_constraint,
				"min_align_mask and seg_boundary_mask cannot both be met");
	}
	/* The provider's memory may be bus-contiguous only segment by segment (Xen). */
	if (b->segment_order < boundary_order)
		boundary_order = b->segment_order;

	seen_generation = dmap_load_relaxed(&b->grow_generation);
	index = bounce_alloc_run(b, (uint32_t)units64, align_order, boundary_order, &node);
	if (dmap_unlikely(index < 0) && b->allow_growth) {
		uint64_t limit = dmap_min(b->phys_limit, dmap_dev_dma_limit(dev));

		struct bounce_node *grown = NULL;

		if (bounce_add_pool(b, (size_t)units64 << b->slot_shift, limit, seen_generation,
				    false, &grown) == 0)
			index = bounce_alloc_run(b, (uint32_t)units64, align_order, boundary_order,
						 &node);
		/* Another pool served us after all: do not keep an empty one around. */
		if (grown) {
			if (index < 0 || node != grown)
				node_try_retire(b, grown);
			dmap_rcu_read_unlock(); /* taken by bounce_add_pool() */
		}
	}
	if (dmap_unlikely(index < 0))
		return bounce_fail(b, dev, phys, size, attrs, &b->failed_full,
				   "bounce pool is full");

	bus = dmap_bounce_pool_slot_bus(node->pool, index) + offset;
	if (dmap_unlikely(!dmap_dev_capable(dev, bus, size))) {
		node_free_run(b, node, index);
		return bounce_fail(b, dev, phys, size, attrs, &b->failed_unreachable,
				   "the device's dma mask or bus limit cannot reach the pool");
	}
	if (dmap_unlikely(boundary != ~0ull && ((bus ^ (bus + size - 1)) & ~boundary))) {
		node_free_run(b, node, index);
		return bounce_fail(b, dev, phys, size, attrs, &b->failed_constraint,
				   "min_align_mask and seg_boundary_mask cannot both be met");
	}

	data_phys = dmap_bounce_pool_slot_phys(node->pool, index) + offset;
	if (!(attrs & DMAP_ATTR_SKIP_CPU_SYNC)) {
		/* Every direction: a partial device write must leave the original's bytes. */
		ret = dmap_phys_copy(env, data_phys, phys, size);
		if (!ret)
			dmap_atomic_add_relaxed(&this_shard(b)->bytes_to_device, size);
	} else {
		/*
		 * The driver syncs later; meanwhile the device must not see a
		 * previous user's data. The original must still be RAM: unmap and
		 * sync will copy to and from it.
		 */
		ret = dmap_phys_check_ram(env, phys, size);
		if (!ret)
			ret = dmap_phys_fill(env, data_phys, 0, size);
	}
	if (dmap_unlikely(ret)) {
		node_free_run(b, node, index);
		dmap_atomic_add_relaxed(&b->failed_unreachable, 1);
		if (!(attrs & DMAP_ATTR_NO_WARN))
			dmap_log(
				env, DMAP_LOG_WARN,
				"dmap: %s: bounce pool '%s': cannot map phys 0x%llx size %zu: not RAM",
				dev->name, dom->name, (unsigned long long)phys, size);
		return DMAP_MAPPING_ERROR;
	}
	if (!(attrs & DMAP_ATTR_SKIP_CPU_SYNC))
		dmap_cache_sync_phys(env, dev, data_phys, size, DMAP_TO_DEVICE, false);

	slot = dmap_bounce_pool_slot(node->pool, index);
	dmap_store_relaxed(&slot->orig, phys);
	dmap_store_relaxed(&slot->size, (uint32_t)size);
	dmap_store_relaxed(&slot->offset, (uint32_t)offset);
	dmap_store_relaxed(&slot->flags, (uint32_t)dir);
	dmap_bounce_pool_publish(node->pool, index);
	return bus;
}

static int bounce_not_found(struct dmap_domain *dom, struct dmap_dev *dev, const char *what,
			    dmap_addr_t addr, size_t size)
{
	dmap_log(dom->env, DMAP_LOG_WARN,
		 "dmap: %s: bounce pool '%s': %s of bus 0x%llx size %zu: not a live bounce mapping",
		 dev->name, dom->name, what, (unsigned long long)addr, size);
	return -DMAP_ENOENT;
}

static int dmap_bounce_unmap_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				  size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_bounce *b = to_bounce(dom);
	struct bounce_mapping m;
	int ret = 0;

	dmap_rcu_read_lock();
	if (!lookup(b, addr, &m) || m.bus != addr || (m.flags & BOUNCE_FLAG_COHERENT) ||
	    !dmap_bounce_pool_claim(m.node->pool, m.index, m.state)) {
		dmap_rcu_read_unlock();
		return bounce_not_found(dom, dev, "unmap", addr, size);
	}
	if ((dir == DMAP_FROM_DEVICE || dir == DMAP_BIDIRECTIONAL) &&
	    !(attrs & DMAP_ATTR_SKIP_CPU_SYNC)) {
		dmap_cache_sync_phys(dom->env, dev, m.data_phys, m.size, dir, true);
		ret = dmap_phys_copy(dom->env, m.orig, m.data_phys, m.size);
		if (!ret)
			dmap_atomic_add_relaxed(&this_shard(b)->bytes_from_device, m.size);
	}
	node_free_run(b, m.node, m.index);
	dmap_rcu_read_unlock();
	return ret;
}

static int bounce_sync(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr, size_t size,
		       enum dmap_dir dir, bool for_cpu)
{
	struct dmap_bounce *b = to_bounce(dom);
	struct bounce_mapping m;
	dmap_phys_t slot_phys, orig;
	int ret = 0;

	dmap_rcu_read_lock();
	if (!lookup(b, addr, &m) || addr < m.bus) {
		dmap_rcu_read_unlock();
		return bounce_not_found(dom, dev, for_cpu ? "sync_for_cpu" : "sync_for_device",
					addr, size);
	}
	if (size > m.size || addr - m.bus > m.size - size) {
		dmap_rcu_read_unlock();
		dmap_log(
			dom->env, DMAP_LOG_WARN,
			"dmap: %s: bounce pool '%s': sync of bus 0x%llx size %zu runs past the mapping at 0x%llx size %zu",
			dev->name, dom->name, (unsigned long long)addr, size,
			(unsigned long long)m.bus, m.size);
		return -DMAP_EINVAL;
	}
	slot_phys = m.data_phys + (addr - m.bus);
	orig = m.orig + (addr - m.bus);
	if (for_cpu && (dir == DMAP_FROM_DEVICE || dir == DMAP_BIDIRECTIONAL)) {
		dmap_cache_sync_phys(dom->env, dev, slot_phys, size, dir, true);
		if (!(m.flags & BOUNCE_FLAG_COHERENT))
			ret = dmap_phys_copy(dom->env, orig, slot_phys, size);
		if (!ret)
			dmap_atomic_add_relaxed(&this_shard(b)->bytes_from_device, size);
	} else if (!for_cpu && (dir == DMAP_TO_DEVICE || dir == DMAP_BIDIRECTIONAL)) {
		if (!(m.flags & BOUNCE_FLAG_COHERENT))
			ret = dmap_phys_copy(dom->env, slot_phys, orig, size);
		if (!ret)
			dmap_atomic_add_relaxed(&this_shard(b)->bytes_to_device, size);
		dmap_cache_sync_phys(dom->env, dev, slot_phys, size, dir, false);
	}
	dmap_rcu_read_unlock();
	return ret;
}

static int dmap_bounce_sync_for_cpu(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				    size_t size, enum dmap_dir dir)
{
	return bounce_sync(dom, dev, addr, size, dir, true);
}

static int dmap_bounce_sync_for_device(struct dmap_domain *dom, struct dmap_dev *dev,
				       dmap_addr_t addr, size_t size, enum dmap_dir dir)
{
	return bounce_sync(dom, dev, addr, size, dir, false);
}

/* ---- device side ------------------------------------------------------- */

static int dmap_bounce_translate(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				 unsigned int access, struct dmap_translation *out,
				 struct dmap_fault *fault)
{
	struct bounce_mapping m;
	enum dmap_dir dir;

	(void)dev;
	(void)access;
	/* The core holds the RCU read lock. */
	if (!lookup(to_bounce(dom), addr, &m) || addr < m.bus || addr - m.bus >= m.size) {
		fault->reason = DMAP_FAULT_TRANSLATION;
		return -DMAP_EFAULT;
	}
	dir = (enum dmap_dir)(m.flags & BOUNCE_FLAG_DIR_MASK);
	out->phys = m.data_phys + (addr - m.bus);
	out->len = m.size - (size_t)(addr - m.bus);
	/* A device writing a TO_DEVICE buffer would lose its data at unmap: refuse it. */
	out->perm = DMAP_ACCESS_READ;
	if (dir != DMAP_TO_DEVICE || (m.flags & BOUNCE_FLAG_COHERENT))
		out->perm |= DMAP_ACCESS_WRITE;
	return 0;
}

static bool dmap_bounce_owns_addr(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr)
{
	struct bounce_mapping m;
	bool found;

	(void)dev;
	dmap_rcu_read_lock();
	found = lookup(to_bounce(dom), addr, &m);
	dmap_rcu_read_unlock();
	return found;
}

/* ---- coherent (restricted-dma-pool style: from the pool) --------------- */

static void *dmap_bounce_alloc_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
					dmap_addr_t *handle, unsigned long attrs)
{
	struct dmap_bounce *b = to_bounce(dom);
	struct bounce_node *node = NULL;
	struct dmap_bounce_slot *slot;
	uint64_t units64 = (size + slot_bytes(b) - 1) >> b->slot_shift;
	unsigned int align_order = 0;
	dmap_addr_t bus;
	void *va;
	long index;

	*handle = DMAP_MAPPING_ERROR;
	if (size >= BOUNCE_PAGE_SIZE && BOUNCE_PAGE_SIZE > slot_bytes(b))
		align_order = ceil_log2_64(BOUNCE_PAGE_SIZE >> b->slot_shift);
	if (size > b->max_mapping || units64 > (1ull << b->top_order)) {
		bounce_fail(b, dev, 0, size, attrs, &b->failed_too_big,
			    "coherent allocation larger than the maximum mapping size");
		return NULL;
	}
	index = bounce_alloc_run(b, (uint32_t)units64, align_order, b->segment_order, &node);
	if (index < 0) {
		bounce_fail(b, dev, 0, size, attrs, &b->failed_full,
			    "coherent allocation: bounce pool is full");
		return NULL;
	}
	bus = dmap_bounce_pool_slot_bus(node->pool, index);
	va = dmap_bounce_pool_slot_va(node->pool, index);
	if (bus + (size - 1) > dmap_dev_coherent_limit(dev) || !va) {
		node_free_run(b, node, index);
		bounce_fail(b, dev, 0, size, attrs, &b->failed_unreachable,
			    "coherent allocation: the coherent mask cannot reach the pool");
		return NULL;
	}
	dmap_memset(va, 0, size);
	slot = dmap_bounce_pool_slot(node->pool, index);
	dmap_store_relaxed(&slot->orig, (dmap_phys_t)0);
	dmap_store_relaxed(&slot->size, (uint32_t)size);
	dmap_store_relaxed(&slot->offset, 0u);
	dmap_store_relaxed(&slot->flags, (uint32_t)DMAP_BIDIRECTIONAL | BOUNCE_FLAG_COHERENT);
	dmap_bounce_pool_publish(node->pool, index);
	*handle = bus;
	return va;
}

static int dmap_bounce_free_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
				     void *cpu_addr, dmap_addr_t handle, unsigned long attrs)
{
	struct dmap_bounce *b = to_bounce(dom);
	struct bounce_mapping m;

	(void)attrs;
	dmap_rcu_read_lock();
	if (!lookup(b, handle, &m) || m.bus != handle || !(m.flags & BOUNCE_FLAG_COHERENT) ||
	    dmap_bounce_pool_slot_va(m.node->pool, m.index) != cpu_addr ||
	    !dmap_bounce_pool_claim(m.node->pool, m.index, m.state)) {
		dmap_rcu_read_unlock();
		dmap_log(
			dom->env, DMAP_LOG_WARN,
			"dmap: %s: bounce pool '%s': free_coherent of %p (bus 0x%llx size %zu): not a live coherent buffer of this pool",
			dev->name, dom->name, cpu_addr, (unsigned long long)handle, size);
		return -DMAP_ENOENT;
	}
	node_free_run(b, m.node, m.index);
	dmap_rcu_read_unlock();
	return 0;
}

/* ---- queries ----------------------------------------------------------- */

static size_t dmap_bounce_max_mapping_size(struct dmap_domain *dom, struct dmap_dev *dev)
{
	struct dmap_bounce *b = to_bounce(dom);
	uint64_t top_bytes = (uint64_t)slot_bytes(b) << b->top_order;
	uint64_t pad = dmap_align_up(dev->min_align_mask, (uint64_t)slot_bytes(b));

	if (dev->min_align_mask + 1 > top_bytes || pad >= top_bytes)
		return 0;
	return (size_t)dmap_min((uint64_t)b->max_mapping, top_bytes - pad);
}

static bool dmap_bounce_dma_supported(struct dmap_domain *dom, struct dmap_dev *dev, uint64_t mask)
{
	struct dmap_bounce *b = to_bounce(dom);
	uint64_t limit = mask;

	if (dev->bus_dma_limit && dev->bus_dma_limit < limit)
		limit = dev->bus_dma_limit;
	return dmap_bounce_pool_last_bus(b->primary.pool) <= limit;
}

static void dmap_bounce_destroy(struct dmap_domain *dom)
{
	struct dmap_bounce *b = to_bounce(dom);
	const struct dmap_env *env = b->primary.env;
	struct bounce_node *node = b->added, *next;

	for (; node; node = next) {
		next = node->next;
		node_free_rcu(&node->rcu);
	}
	dmap_bounce_pool_destroy(b->primary.pool);
	node_memory_free(&b->primary);
	dmap_spin_destroy(&b->grow_lock);
	dmap_env_free(env, b, sizeof(*b));
}

static const struct dmap_ops dmap_bounce_ops = {
	.name = "bounce",
	.destroy = dmap_bounce_destroy,
	.map_phys = dmap_bounce_map_phys,
	.unmap_phys = dmap_bounce_unmap_phys,
	.sync_for_cpu = dmap_bounce_sync_for_cpu,
	.sync_for_device = dmap_bounce_sync_for_device,
	.alloc_coherent = dmap_bounce_alloc_coherent,
	.free_coherent = dmap_bounce_free_coherent,
	.max_mapping_size = dmap_bounce_max_mapping_size,
	.dma_supported = dmap_bounce_dma_supported,
	.translate = dmap_bounce_translate,
	.owns_addr = dmap_bounce_owns_addr,
};

/* ---- public ------------------------------------------------------------ */

bool dmap_bounce_is_bounce(const struct dmap_domain *domain)
{
	return domain && domain->backend_ops == &dmap_bounce_ops;
}

/**
 * dmap_bounce_get_stats() - see <dmap/bounce.h>. Context: any; lock-free.
 */
int dmap_bounce_get_stats(const struct dmap_domain *domain, struct dmap_bounce_stats *out)
{
	struct dmap_bounce_pool_stats ps;
	struct dmap_bounce *b;
	struct bounce_node *node;
	unsigned int i;

	if (!dmap_bounce_is_bounce(domain) || !out)
		return -DMAP_EINVAL;
	b = to_bounce((struct dmap_domain *)domain);
	dmap_memset(out, 0, sizeof(*out));
	out->slot_size = slot_bytes(b);
	out->nr_classes = b->top_order + 1;
	for (i = 0; i < out->nr_classes; i++)
		out->classes[i].block_size = (uint64_t)slot_bytes(b) << i;
	dmap_rcu_read_lock();
	for (node = &b->primary; node; node = node == &b->primary ?
						      dmap_rcu_dereference(b->added) :
						      dmap_rcu_dereference(node->next)) {
		dmap_bounce_pool_get_stats(node->pool, &ps);
		out->pools++;
		out->pool_bytes += ps.slots << b->slot_shift;
		out->slots_total += ps.slots;
		out->slots_in_use += ps.slots_in_use;
		out->slots_free += ps.slots_free;
		out->high_water_slots += ps.high_water;
		out->live_mappings += ps.live_runs;
		out->coalesce_passes += ps.coalesce_passes;
		for (i = 0; i < out->nr_classes; i++) {
			out->classes[i].live_mappings += ps.live_by_order[i];
			out->classes[i].free_blocks += ps.free_by_order[i];
		}
	}
	dmap_rcu_read_unlock();
	out->bytes_in_use = out->slots_in_use << b->slot_shift;
	out->high_water_bytes = out->high_water_slots << b->slot_shift;
	out->failed_too_big = dmap_load_relaxed(&b->failed_too_big);
	out->failed_full = dmap_load_relaxed(&b->failed_full);
	out->failed_unreachable = dmap_load_relaxed(&b->failed_unreachable);
	out->failed_constraint = dmap_load_relaxed(&b->failed_constraint);
	out->pools_added = dmap_load_relaxed(&b->pools_added);
	out->pools_released = dmap_load_relaxed(&b->pools_released);
	for (i = 0; i < BOUNCE_SHARDS; i++) {
		out->bytes_to_device += dmap_load_relaxed(&b->shards[i].bytes_to_device);
		out->bytes_from_device += dmap_load_relaxed(&b->shards[i].bytes_from_device);
	}
	return 0;
}

/**
 * dmap_bounce_reset_high_water() - see <dmap/bounce.h>. Context: any.
 */
int dmap_bounce_reset_high_water(struct dmap_domain *domain)
{
	struct dmap_bounce *b;
	struct bounce_node *node;

	if (!dmap_bounce_is_bounce(domain))
		return -DMAP_EINVAL;
	b = to_bounce(domain);
	dmap_bounce_pool_reset_high_water(b->primary.pool);
	dmap_rcu_read_lock();
	for (node = dmap_rcu_dereference(b->added); node; node = dmap_rcu_dereference(node->next))
		dmap_bounce_pool_reset_high_water(node->pool);
	dmap_rcu_read_unlock();
	return 0;
}

/**
 * dmap_bounce_grow() - see <dmap/bounce.h>. Context: may sleep.
 */
int dmap_bounce_grow(struct dmap_domain *domain, size_t size)
{
	struct dmap_bounce *b;
	int ret;

	if (!dmap_bounce_is_bounce(domain) || !size)
		return -DMAP_EINVAL;
	b = to_bounce(domain);
	if (!b->allow_growth)
		return -DMAP_EPERM;
	ret = bounce_add_pool(b, size, b->phys_limit, 0, true, NULL);
	if (ret)
		dmap_log(
			domain->env, DMAP_LOG_WARN,
			"dmap: bounce pool '%s': cannot grow by %zu bytes (%d): %zu of %zu growth bytes used",
			domain->name, size, ret, b->added_bytes, b->growth_cap);
	return ret;
}

/**
 * dmap_bounce_domain_create() - see <dmap/bounce.h>.
 *
 * Context: may sleep. Errors: -EINVAL, -ENODEV, -ENOMEM (each logged with
 * the domain's name and the offending value).
 */
int dmap_bounce_domain_create(struct dmap_ctx *ctx, const struct dmap_bounce_config *config,
			      struct dmap_domain **out)
{
	static const struct dmap_bounce_config defaults = { 0 };
	const struct dmap_env *env;
	struct dmap_bounce *b;
	const char *name;
	size_t slot, pool_size, max_mapping;
	uint64_t top_bytes;
	unsigned int nr_caches;
	int ret;

	if (out)
		*out = NULL;
	if (!ctx || !out)
		return -DMAP_EINVAL;
	env = dmap_ctx_env(ctx);
	if (!config)
		config = &defaults;
	name = config->name ? config->name : "bounce";
	slot = config->slot_size ? config->slot_size : DMAP_BOUNCE_DEFAULT_SLOT_SIZE;
	pool_size = config->pool_size ? config->pool_size : (size_t)DMAP_BOUNCE_DEFAULT_POOL_SIZE;
	max_mapping = config->max_mapping_size ? config->max_mapping_size :
						 (size_t)DMAP_BOUNCE_DEFAULT_MAX_MAPPING;
	nr_caches = config->nr_caches ? config->nr_caches : DMAP_BOUNCE_DEFAULT_CACHES;
	if (config->no_caches)
		nr_caches = 0;
	if (!dmap_is_power_of_2(slot) || slot < 512 || slot > 65536) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"dmap: bounce pool '%s': slot size %zu is not a power of two in 512..65536",
			name, slot);
		return -DMAP_EINVAL;
	}
	if (nr_caches > DMAP_BOUNCE_POOL_MAX_CACHES ||
	    (nr_caches && !dmap_is_power_of_2(nr_caches))) {
		dmap_log(env, DMAP_LOG_ERR,
			 "dmap: bounce pool '%s': nr_caches %u is not a power of two up to %u",
			 name, nr_caches, DMAP_BOUNCE_POOL_MAX_CACHES);
		return -DMAP_EINVAL;
	}
	top_bytes = slot;
	while (top_bytes < max_mapping)
		top_bytes <<= 1;
	if (top_bytes > pool_size || max_mapping > (1ull << 30) ||
	    __builtin_ctzll(top_bytes / slot) >= DMAP_BOUNCE_POOL_MAX_ORDERS) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"dmap: bounce pool '%s': max mapping size %zu (largest run %llu) does not fit a pool of %zu bytes (at most 1 GiB)",
			name, max_mapping, (unsigned long long)top_bytes, pool_size);
		return -DMAP_EINVAL;
	}
	if (config->segment_size &&
	    (!dmap_is_power_of_2(config->segment_size) || config->segment_size < slot ||
	     config->segment_size < top_bytes)) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"dmap: bounce pool '%s': segment size %zu must be a power of two, at least the slot size and the largest run (%llu)",
			name, config->segment_size, (unsigned long long)top_bytes);
		return -DMAP_EINVAL;
	}
	if (config->memory && (!config->memory->alloc || !config->memory->free)) {
		dmap_log(env, DMAP_LOG_ERR,
			 "dmap: bounce pool '%s': memory provider lacks alloc/free", name);
		return -DMAP_EINVAL;
	}
	if (!config->memory && (!env->ops->alloc_dma_pages || !env->ops->free_dma_pages)) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"dmap: bounce pool '%s': no memory source (no provider, environment lacks alloc_dma_pages)",
			name);
		return -DMAP_ENODEV;
	}

	b = dmap_env_alloc(env, sizeof(*b), DMAP_ALLOC_ZERO);
	if (!b) {
		dmap_log(env, DMAP_LOG_ERR, "dmap: bounce pool '%s': out of memory", name);
		return -DMAP_ENOMEM;
	}
	dmap_memset(b, 0, sizeof(*b));
	b->slot_shift = (unsigned int)__builtin_ctzll(slot);
	b->top_order = (unsigned int)__builtin_ctzll(top_bytes / slot);
	b->max_mapping = max_mapping;
	/*
	 * A provider's memory is trusted to be bus-contiguous only within blocks
	 * of the largest run unless it says more (Xen: one machine-contiguous
	 * extent per segment, and max_mapping_size = the segment).
	 */
	{
		uint64_t segment = config->segment_size ? config->segment_size :
				   config->memory	? top_bytes :
							  0;

		b->segment_order = DMAP_BOUNCE_NO_BOUNDARY;
		if (segment && __builtin_ctzll(segment / slot) < 31)
			b->segment_order = (unsigned int)__builtin_ctzll(segment / slot);
	}
	b->pool_size = pool_size & ~(slot - 1);
	b->phys_limit = config->phys_limit ? config->phys_limit : DMAP_BOUNCE_DEFAULT_PHYS_LIMIT;
	b->bus_offset = config->bus_offset;
	b->allow_growth = config->allow_growth;
	b->growth_cap = config->growth_cap ? config->growth_cap : 4 * b->pool_size;
	if (config->memory)
		b->memory = *config->memory;
	b->use_env_memory = !config->memory;
	b->ratelimit = (struct dmap_ratelimit)DMAP_RATELIMIT_DEFAULT;
	b->primary.env = env;
	dmap_spin_init(&b->grow_lock);

	ret = node_init(b, &b->primary, b->pool_size, b->phys_limit, nr_caches,
			!config->locked_caches);
	if (ret) {
		dmap_log(env, DMAP_LOG_ERR,
			 "dmap: bounce pool '%s': cannot get %zu bytes below bus 0x%llx (%d)", name,
			 b->pool_size, (unsigned long long)b->phys_limit, ret);
		dmap_spin_destroy(&b->grow_lock);
		dmap_env_free(env, b, sizeof(*b));
		return ret;
	}
	ret = dmap_domain_init(&b->dom, ctx, &dmap_bounce_ops, name);
	if (ret) {
		dmap_bounce_pool_destroy(b->primary.pool);
		node_memory_free(&b->primary);
		dmap_spin_destroy(&b->grow_lock);
		dmap_env_free(env, b, sizeof(*b));
		return ret;
	}
	*out = &b->dom;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * backends/iommu/iova.c - IOVA allocation: an exact tree under a lock, with
 * per-CPU magazines in front of it.
 *
 * Design. Two layers, as in Linux (iova.c and Omer Peleg's rcache), because
 * the two jobs pull in different directions:
 *
 *  - The exact layer must find, top-down, the highest size-aligned block
 *    below a device's limit, and must give back space exactly (coalescing)
 *    so that the aperture does not fragment over time. Linux keeps the
 *    *allocated* ranges in an rbtree and walks the gaps; we keep the *free*
 *    ranges instead, in a treap (randomised balanced binary search tree)
 *    keyed by start and augmented with the longest free range of each
 *    subtree. The augmentation prunes every subtree that cannot hold the
 *    request, so a search visits O(log n) nodes plus the nodes whose free
 *    range is long enough but misaligned (at most a factor two too short),
 *    and a free detects a double free exactly (the range overlaps a free
 *    one). Treap split/merge keep the code short; it all runs under one
 *    lock. Linux's retry-from-the-last-node heuristics are unnecessary: the
 *    augmentation answers "is there room below here" directly.
 *
 *  - The fast layer makes the common case (a few pages, allocated and freed
 *    at high rate by every CPU) touch no shared cache line. Sizes of 1..64
 *    granules (Linux: 1..32) are rounded up to a power of two and kept per
 *    order in two magazines per CPU shard (loaded and previous; Bonwick's
 *    magazines), guarded by the shard's own lock word. The fast path only
 *    ever *tries* that lock: when it is busy (more threads than shards, or
 *    a flush from another CPU) the request goes to the tree, which is always
 *    correct, so no thread ever waits behind a preempted one on the fast
 *    path. Full magazines go to a per-order depot (bounded;
 *    beyond the bound the magazine is emptied into the tree), empty ones
 *    come back from it. A miss costs one depot lock or one tree search.
 *
 * Space held by caches is not lost: when the tree cannot satisfy a request,
 * every magazine and the depot are emptied into it and the search is retried
 * once (Linux: alloc_iova_fast(flush_rcache)). Magazines are allocated
 * lazily so an allocator used by one thread costs one shard's magazines.
 *
 * Worst cases: a search can visit many nodes when the free space is broken
 * into misaligned pieces just too short for the request; frees of uncached
 * sizes and cache misses serialise on the tree lock.
 */
#include <dmap/helpers.h>

#include "iova.h"

#define IOVA_SHARDS 16 /* per-CPU shards; dmap_cpu_hint() modulo this */
#define IOVA_MAG_SIZE 63 /* 63 pfns + count = 512 bytes */
#define IOVA_DEPOT_MAX 32 /* full magazines kept per order */
#define IOVA_SPARE_NODES 8 /* tree nodes kept for reuse */

struct iova_node {
	uint64_t start, last; /* free granules [start, last] */
	uint64_t max_len; /* longest free range in this subtree */
	uint32_t prio;
	struct iova_node *left, *right;
};

struct iova_magazine {
	uint64_t count;
	union {
		uint64_t pfns[IOVA_MAG_SIZE];
		struct iova_magazine *next; /* on the depot's empty list */
	};
};

struct iova_shard {
	uint32_t busy; /* the shard's lock: see shard_trylock() */
	struct iova_magazine *loaded[DMAP_IOVA_CACHE_ORDERS];
	struct iova_magazine *prev[DMAP_IOVA_CACHE_ORDERS];
	uint64_t hits, misses; /* written under @lock, read relaxed */
} __attribute__((aligned(64)));

struct iova_depot {
	dmap_spinlock_t lock;
	unsigned int nr_full;
	struct iova_magazine *full[IOVA_DEPOT_MAX];
	struct iova_magazine *empty; /* linked through ->next */
} __attribute__((aligned(64)));

struct dmap_iova_domain {
	const struct dmap_env *env;
	uint64_t first, last;
	bool cached;

	dmap_spinlock_t tree_lock;
	struct iova_node *root;
	struct iova_node *spare; /* linked through ->left */
	unsigned int nr_spare;
	uint32_t rng;
	uint64_t nr_ranges;
	uint64_t tree_allocs, tree_frees, cache_flushes, failures; /* under tree_lock */

	struct iova_depot depot[DMAP_IOVA_CACHE_ORDERS];
	struct iova_shard shards[IOVA_SHARDS];
};

/* Counters are written under a lock and read by statistics without it. */
static inline void count_locked(uint64_t *counter)
{
	dmap_store_relaxed(counter, dmap_load_relaxed(counter) + 1);
}

static inline uint64_t node_len(const struct iova_node *n)
{
	return n->last - n->start + 1;
}

static void node_update(struct iova_node *n)
{
	uint64_t m = node_len(n);

	if (n->left && n->left->max_len > m)
		m = n->left->max_len;
	if (n->right && n->right->max_len > m)
		m = n->right->max_len;
	n->max_len = m;
}

/* xorshift32: priorities only need to be independent of the keys. */
static uint32_t next_prio(struct dmap_iova_domain *iovad)
{
	uint32_t x = iovad->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	iovad->rng = x;
	return x;
}

static struct iova_node *node_get(struct dmap_iova_domain *iovad)
{
	struct iova_node *n = iovad->spare;

	if (n) {
		iovad->spare = n->left;
		iovad->nr_spare--;
	} else {
		n = dmap_env_alloc(iovad->env, sizeof(*n), DMAP_ALLOC_ATOMIC);
		if (!n)
			return NULL;
	}
	n->left = n->right = NULL;
	n->prio = next_prio(iovad);
	return n;
}

static void node_put(struct dmap_iova_domain *iovad, struct iova_node *n)
{
	if (iovad->nr_spare < IOVA_SPARE_NODES) {
		n->left = iovad->spare;
		iovad->spare = n;
		iovad->nr_spare++;
	} else {
		dmap_env_free(iovad->env, n, sizeof(*n));
	}
}

/* Keep at least one spare so a split can never fail half-way. */
static bool node_reserve(struct dmap_iova_domain *iovad)
{
	struct iova_node *n;

	if (iovad->spare)
		return true;
	n = dmap_env_alloc(iovad->env, sizeof(*n), DMAP_ALLOC_ATOMIC);
	if (!n)
		return false;
	n->left = NULL;
	iovad->spare = n;
	iovad->nr_spare = 1;
	return true;
}

/* Every start in @a is below every start in @b. */
static struct iova_node *treap_merge(struct iova_node *a, struct iova_node *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->right = treap_merge(a->right, b);
		node_update(a);
		return a;
	}
	b->left = treap_merge(a, b->left);
	node_update(b);
	return b;
}

/* @l gets the nodes with start < @key, @r the rest. */
static void treap_split(struct iova_node *t, uint64_t key, struct iova_node **l,
			struct iova_node **r)
{
	if (!t) {
		*l = *r = NULL;
		return;
	}
	if (t->start < key) {
		treap_split(t->right, key, &t->right, r);
		node_update(t);
		*l = t;
	} else {
		treap_split(t->left, key, l, &t->left);
		node_update(t);
		*r = t;
	}
}

static void tree_insert(struct dmap_iova_domain *iovad, struct iova_node *n)
{
	struct iova_node *l, *r;

	n->left = n->right = NULL;
	node_update(n);
	treap_split(iovad->root, n->start, &l, &r);
	iovad->root = treap_merge(treap_merge(l, n), r);
	dmap_store_relaxed(&iovad->nr_ranges, iovad->nr_ranges + 1);
}

/* Unlink the node that starts exactly at @start (it must exist). */
static struct iova_node *tree_remove(struct dmap_iova_domain *iovad, uint64_t start)
{
	struct iova_node *l, *m, *r;

	treap_split(iovad->root, start, &l, &r);
	treap_split(r, start + 1, &m, &r);
	iovad->root = treap_merge(l, r);
	dmap_store_relaxed(&iovad->nr_ranges, iovad->nr_ranges - 1);
	return m;
}

/*
 * Highest size-aligned block of @count granules (alignment @align) inside a
 * free range and at or below @limit. Right (higher) subtrees first.
 */
static struct iova_node *tree_find_top(struct iova_node *t, uint64_t count, uint64_t align,
				       uint64_t limit, uint64_t *block)
{
	while (t) {
		struct iova_node *found;

		if (t->max_len < count)
			return NULL;
		if (t->start <= limit) {
			uint64_t end = dmap_min(t->last, limit);

			found = tree_find_top(t->right, count, align, limit, block);
			if (found)
				return found;
			if (end - t->start + 1 >= count) {
				uint64_t b = dmap_align_down(end - count + 1, align);

				if (b >= t->start) {
					*block = b;
					return t;
				}
			}
		}
		t = t->left;
	}
	return NULL;
}

/* The free range containing @pfn, or NULL. */
static struct iova_node *tree_find_containing(struct iova_node *t, uint64_t pfn)
{
	while (t) {
		if (pfn < t->start)
			t = t->left;
		else if (pfn > t->last)
			t = t->right;
		else
			return t;
	}
	return NULL;
}

/* The free range with the lowest start >= @pfn, or NULL. */
static struct iova_node *tree_find_ceil(struct iova_node *t, uint64_t pfn)
{
	struct iova_node *best = NULL;

	while (t) {
		if (t->start >= pfn) {
			best = t;
			t = t->left;
		} else {
			t = t->right;
		}
	}
	return best;
}

/* Take [@b, @b+@count) out of free node @n. Caller ensured a spare node. */
static void tree_carve(struct dmap_iova_domain *iovad, struct iova_node *n, uint64_t b,
		       uint64_t count)
{
	uint64_t start = n->start, last = n->last;
	uint64_t end = b + count - 1;

	n = tree_remove(iovad, start);
	if (b > start && end < last) {
		struct iova_node *hi = node_get(iovad); /* the spare: cannot fail */

		n->start = start;
		n->last = b - 1;
		tree_insert(iovad, n);
		hi->start = end + 1;
		hi->last = last;
		tree_insert(iovad, hi);
	} else if (b > start) {
		n->start = start;
		n->last = b - 1;
		tree_insert(iovad, n);
	} else if (end < last) {
		n->start = end + 1;
		n->last = last;
		tree_insert(iovad, n);
	} else {
		node_put(iovad, n);
	}
}

static int tree_alloc(struct dmap_iova_domain *iovad, uint64_t count, uint64_t align,
		      uint64_t limit, uint64_t *out)
{
	struct iova_node *n;
	uint64_t b = 0;
	int ret = -DMAP_ENOSPC;

	dmap_spin_lock(&iovad->tree_lock);
	if (!node_reserve(iovad)) {
		ret = -DMAP_ENOMEM;
	} else {
		n = tree_find_top(iovad->root, count, align, limit, &b);
		if (n) {
			tree_carve(iovad, n, b, count);
			count_locked(&iovad->tree_allocs);
			*out = b;
			ret = 0;
		}
	}
	dmap_spin_unlock(&iovad->tree_lock);
	return ret;
}

/* Return [@first, @first+@count) to the tree, coalescing with neighbours. */
static int tree_free_locked(struct dmap_iova_domain *iovad, uint64_t first, uint64_t count)
{
	uint64_t last = first + count - 1;
	struct iova_node *below, *above, *n;

	if (count == 0 || last < first || first < iovad->first || last > iovad->last)
		return -DMAP_EINVAL;
	/* Overlap with a free range means a double free. */
	below = first ? tree_find_containing(iovad->root, first - 1) : NULL;
	if (tree_find_containing(iovad->root, first))
		return -DMAP_EINVAL;
	above = tree_find_ceil(iovad->root, first);
	if (above && above->start <= last)
		return -DMAP_EINVAL;
	if (above && above->start != last + 1)
		above = NULL;

	if (below && above) {
		uint64_t hi = above->last;

		n = tree_remove(iovad, above->start);
		node_put(iovad, n);
		n = tree_remove(iovad, below->start);
		n->last = hi;
		tree_insert(iovad, n);
	} else if (below) {
		n = tree_remove(iovad, below->start);
		n->last = last;
		tree_insert(iovad, n);
	} else if (above) {
		uint64_t hi = above->last;

		n = tree_remove(iovad, above->start);
		n->start = first;
		n->last = hi;
		tree_insert(iovad, n);
	} else {
		n = node_get(iovad);
		if (!n)
			return -DMAP_ENOMEM;
		n->start = first;
		n->last = last;
		tree_insert(iovad, n);
	}
	count_locked(&iovad->tree_frees);
	return 0;
}

static int tree_free(struct dmap_iova_domain *iovad, uint64_t first, uint64_t count)
{
	int ret;

	dmap_spin_lock(&iovad->tree_lock);
	ret = tree_free_locked(iovad, first, count);
	dmap_spin_unlock(&iovad->tree_lock);
	return ret;
}

static void tree_destroy(struct dmap_iova_domain *iovad, struct iova_node *t)
{
	if (!t)
		return;
	tree_destroy(iovad, t->left);
	tree_destroy(iovad, t->right);
	dmap_env_free(iovad->env, t, sizeof(*t));
}

/* ---- magazines ---------------------------------------------------------- */

static unsigned int order_of(uint64_t count)
{
	return count <= 1 ? 0 : dmap_fls64(count - 1);
}

uint64_t dmap_iova_round(const struct dmap_iova_domain *iovad, uint64_t count)
{
	if (iovad && iovad->cached && count > 1 && count <= DMAP_IOVA_CACHE_MAX)
		return (uint64_t)1 << order_of(count);
	return count;
}

static struct iova_magazine *mag_alloc(struct dmap_iova_domain *iovad)
{
	struct iova_magazine *mag = dmap_env_alloc(iovad->env, sizeof(*mag), DMAP_ALLOC_ATOMIC);

	if (mag)
		mag->count = 0;
	return mag;
}

static void mag_free(struct dmap_iova_domain *iovad, struct iova_magazine *mag)
{
	dmap_env_free(iovad->env, mag, sizeof(*mag));
}

/* Give every pfn of @mag back to the tree; @mag is empty afterwards. */
static void mag_drain(struct dmap_iova_domain *iovad, struct iova_magazine *mag, unsigned int order)
{
	if (!mag || !mag->count)
		return;
	dmap_spin_lock(&iovad->tree_lock);
	for (uint64_t i = 0; i < mag->count; i++)
		tree_free_locked(iovad, mag->pfns[i], (uint64_t)1 << order);
	dmap_spin_unlock(&iovad->tree_lock);
	mag->count = 0;
}

/* Pop a pfn whose block ends at or below @limit (Linux: iova_magazine_pop). */
static bool mag_pop(struct iova_magazine *mag, uint64_t count, uint64_t limit, uint64_t *out)
{
	uint64_t i;

	if (!mag)
		return false;
	for (i = mag->count; i-- > 0;) {
		if (mag->pfns[i] + count - 1 <= limit) {
			*out = mag->pfns[i];
			mag->pfns[i] = mag->pfns[--mag->count];
			return true;
		}
	}
	return false;
}

/*
 * A shard's lock is one atomic word, taken without waiting on the fast path:
 * if another thread holds it (more threads than shards, or a flush in
 * progress), the caller simply goes to the tree, which is always correct.
 * Only flushes and statistics wait for it, and they are rare.
 */
static inline bool shard_trylock(struct iova_shard *shard)
{
	return dmap_load_relaxed(&shard->busy) == 0 && dmap_xchg(&shard->busy, 1) == 0;
}

static inline void shard_lock(struct iova_shard *shard)
{
	while (!shard_trylock(shard))
		dmap_cpu_relax();
}

static inline void shard_unlock(struct iova_shard *shard)
{
	dmap_store_release(&shard->busy, 0);
}

static struct iova_shard *this_shard(struct dmap_iova_domain *iovad)
{
	return &iovad->shards[dmap_cpu_hint() % IOVA_SHARDS];
}

static bool cache_get(struct dmap_iova_domain *iovad, unsigned int order, uint64_t limit,
		      uint64_t *out)
{
	struct iova_shard *shard = this_shard(iovad);
	struct iova_depot *depot = &iovad->depot[order];
	uint64_t count = (uint64_t)1 << order;
	bool hit;

	if (!shard_trylock(shard))
		return false;
	hit = mag_pop(shard->loaded[order], count, limit, out);
	if (!hit && shard->prev[order] && shard->prev[order]->count) {
		struct iova_magazine *tmp = shard->loaded[order];

		shard->loaded[order] = shard->prev[order];
		shard->prev[order] = tmp;
		hit = mag_pop(shard->loaded[order], count, limit, out);
	}
	if (!hit && dmap_load_relaxed(&depot->nr_full)) {
		struct iova_magazine *full = NULL;

		dmap_spin_lock(&depot->lock);
		if (depot->nr_full) {
			dmap_store_relaxed(&depot->nr_full, depot->nr_full - 1);
			full = depot->full[depot->nr_full];
			if (shard->loaded[order]) {
				shard->loaded[order]->next = depot->empty;
				depot->empty = shard->loaded[order];
			}
		}
		dmap_spin_unlock(&depot->lock);
		if (full) {
			shard->loaded[order] = full;
			hit = mag_pop(full, count, limit, out);
		}
	}
	count_locked(hit ? &shard->hits : &shard->misses);
	shard_unlock(shard);
	return hit;
}

/* Park @pfn in this CPU's magazine; false if it must go to the tree. */
static bool cache_put(struct dmap_iova_domain *iovad, unsigned int order, uint64_t pfn)
{
	struct iova_shard *shard = this_shard(iovad);
	struct iova_depot *depot = &iovad->depot[order];
	struct iova_magazine *mag;
	bool ok = true;

	if (!shard_trylock(shard))
		return false;
	mag = shard->loaded[order];
	if (!mag) {
		mag = shard->loaded[order] = mag_alloc(iovad);
		if (!mag) {
			ok = false;
			goto out;
		}
	}
	if (mag->count == IOVA_MAG_SIZE) {
		struct iova_magazine *prev = shard->prev[order];

		if (prev && prev->count < IOVA_MAG_SIZE) {
			shard->prev[order] = mag;
			mag = shard->loaded[order] = prev;
		} else if (!prev) {
			prev = mag_alloc(iovad);
			if (!prev) {
				ok = false;
				goto out;
			}
			shard->prev[order] = mag;
			mag = shard->loaded[order] = prev;
		} else {
			/* Both full: loaded goes to the depot, an empty one comes back. */
			struct iova_magazine *empty = NULL;

			dmap_spin_lock(&depot->lock);
			if (depot->nr_full < IOVA_DEPOT_MAX) {
				depot->full[depot->nr_full] = mag;
				dmap_store_relaxed(&depot->nr_full, depot->nr_full + 1);
				empty = depot->empty;
				if (empty)
					depot->empty = empty->next;
				mag = NULL;
			}
			dmap_spin_unlock(&depot->lock);
			if (mag) {
				/* Depot full: this magazine's space goes back to the tree. */
				mag_drain(iovad, mag, order);
			} else {
				mag = empty ? empty : mag_alloc(iovad);
				if (!mag) {
					shard->loaded[order] = NULL;
					ok = false;
					goto out;
				}
				mag->count = 0;
			}
			shard->loaded[order] = mag;
		}
	}
	mag->pfns[mag->count++] = pfn;
out:
	shard_unlock(shard);
	return ok;
}

void dmap_iova_flush_caches(struct dmap_iova_domain *iovad)
{
	if (!iovad || !iovad->cached)
		return;
	for (unsigned int s = 0; s < IOVA_SHARDS; s++) {
		struct iova_shard *shard = &iovad->shards[s];

		shard_lock(shard);
		for (unsigned int o = 0; o < DMAP_IOVA_CACHE_ORDERS; o++) {
			mag_drain(iovad, shard->loaded[o], o);
			mag_drain(iovad, shard->prev[o], o);
		}
		shard_unlock(shard);
	}
	for (unsigned int o = 0; o < DMAP_IOVA_CACHE_ORDERS; o++) {
		struct iova_depot *depot = &iovad->depot[o];

		dmap_spin_lock(&depot->lock);
		while (depot->nr_full) {
			struct iova_magazine *mag = depot->full[depot->nr_full - 1];

			dmap_store_relaxed(&depot->nr_full, depot->nr_full - 1);

			mag_drain(iovad, mag, o);
			mag->next = depot->empty;
			depot->empty = mag;
		}
		dmap_spin_unlock(&depot->lock);
	}
	dmap_spin_lock(&iovad->tree_lock);
	count_locked(&iovad->cache_flushes);
	dmap_spin_unlock(&iovad->tree_lock);
}

/* ---- public ------------------------------------------------------------- */

int dmap_iova_create(const struct dmap_env *env, uint64_t first, uint64_t last, bool cached,
		     struct dmap_iova_domain **out)
{
	struct dmap_iova_domain *iovad;
	struct iova_node *n;

	if (!env || !out || first == 0 || last < first)
		return -DMAP_EINVAL;
	iovad = env->ops->alloc(env->cookie, sizeof(*iovad), 64, DMAP_ALLOC_ZERO);
	if (!iovad)
		return -DMAP_ENOMEM;
	dmap_memset(iovad, 0, sizeof(*iovad));
	iovad->env = env;
	iovad->first = first;
	iovad->last = last;
	iovad->cached = cached;
	iovad->rng = 0x9e3779b9u ^ (uint32_t)(uintptr_t)iovad;
	if (!iovad->rng)
		iovad->rng = 1;
	dmap_spin_init(&iovad->tree_lock);
	for (unsigned int i = 0; i < DMAP_IOVA_CACHE_ORDERS; i++)
		dmap_spin_init(&iovad->depot[i].lock);
	n = node_get(iovad);
	if (!n) {
		dmap_iova_destroy(iovad);
		return -DMAP_ENOMEM;
	}
	n->start = first;
	n->last = last;
	tree_insert(iovad, n);
	*out = iovad;
	return 0;
}

void dmap_iova_destroy(struct dmap_iova_domain *iovad)
{
	const struct dmap_env *env;

	if (!iovad)
		return;
	env = iovad->env;
	for (unsigned int s = 0; s < IOVA_SHARDS; s++) {
		for (unsigned int o = 0; o < DMAP_IOVA_CACHE_ORDERS; o++) {
			if (iovad->shards[s].loaded[o])
				mag_free(iovad, iovad->shards[s].loaded[o]);
			if (iovad->shards[s].prev[o])
				mag_free(iovad, iovad->shards[s].prev[o]);
		}
	}
	for (unsigned int o = 0; o < DMAP_IOVA_CACHE_ORDERS; o++) {
		struct iova_depot *depot = &iovad->depot[o];

		while (depot->nr_full)
			mag_free(iovad, depot->full[--depot->nr_full]);
		while (depot->empty) {
			struct iova_magazine *mag = depot->empty;

			depot->empty = mag->next;
			mag_free(iovad, mag);
		}
		dmap_spin_destroy(&depot->lock);
	}
	tree_destroy(iovad, iovad->root);
	while (iovad->spare) {
		struct iova_node *n = iovad->spare;

		iovad->spare = n->left;
		dmap_env_free(env, n, sizeof(*n));
	}
	dmap_spin_destroy(&iovad->tree_lock);
	env->ops->free(env->cookie, iovad, sizeof(*iovad));
}

int dmap_iova_reserve(struct dmap_iova_domain *iovad, uint64_t first, uint64_t last)
{
	int ret = 0;

	if (!iovad || last < first)
		return -DMAP_EINVAL;
	if (first < iovad->first)
		first = iovad->first;
	if (last > iovad->last)
		last = iovad->last;
	if (last < first)
		return 0;
	dmap_spin_lock(&iovad->tree_lock);
	for (;;) {
		struct iova_node *n = tree_find_containing(iovad->root, first);
		uint64_t end;

		if (!n) {
			n = tree_find_ceil(iovad->root, first);
			if (!n || n->start > last)
				break;
		}
		if (!node_reserve(iovad)) {
			ret = -DMAP_ENOMEM;
			break;
		}
		first = dmap_max(first, n->start);
		end = dmap_min(last, n->last);
		tree_carve(iovad, n, first, end - first + 1);
		if (end == last)
			break;
		first = end + 1;
	}
	dmap_spin_unlock(&iovad->tree_lock);
	return ret;
}

int dmap_iova_alloc(struct dmap_iova_domain *iovad, uint64_t count, uint64_t limit, uint64_t *out)
{
	uint64_t align;
	int ret;

	if (!iovad || !out || count == 0)
		return -DMAP_EINVAL;
	if (limit > iovad->last)
		limit = iovad->last;
	if (count > ((uint64_t)1 << 62)) {
		ret = -DMAP_ENOSPC;
		goto fail;
	}
	align = (uint64_t)1 << order_of(count);
	if (iovad->cached && count <= DMAP_IOVA_CACHE_MAX) {
		count = align;
		if (cache_get(iovad, order_of(count), limit, out))
			return 0;
	}
	ret = tree_alloc(iovad, count, align, limit, out);
	if (ret == -DMAP_ENOSPC && iovad->cached) {
		dmap_iova_flush_caches(iovad);
		ret = tree_alloc(iovad, count, align, limit, out);
	}
	if (ret != -DMAP_ENOSPC)
		return ret;
fail:
	dmap_spin_lock(&iovad->tree_lock);
	count_locked(&iovad->failures);
	dmap_spin_unlock(&iovad->tree_lock);
	return ret;
}

int dmap_iova_claim(struct dmap_iova_domain *iovad, uint64_t first, uint64_t count)
{
	struct iova_node *n;
	int ret = -DMAP_EBUSY;

	if (!iovad || count == 0 || first + count - 1 < first)
		return -DMAP_EINVAL;
	dmap_spin_lock(&iovad->tree_lock);
	n = tree_find_containing(iovad->root, first);
	if (n && n->last >= first + count - 1) {
		if (!node_reserve(iovad)) {
			ret = -DMAP_ENOMEM;
		} else {
			tree_carve(iovad, n, first, count);
			count_locked(&iovad->tree_allocs);
			ret = 0;
		}
	}
	dmap_spin_unlock(&iovad->tree_lock);
	return ret;
}

int dmap_iova_free(struct dmap_iova_domain *iovad, uint64_t first, uint64_t count)
{
	if (!iovad || count == 0)
		return -DMAP_EINVAL;
	if (iovad->cached && count <= DMAP_IOVA_CACHE_MAX) {
		unsigned int order = order_of(count);

		count = (uint64_t)1 << order;
		if (first < iovad->first || first + count - 1 > iovad->last ||
		    !dmap_is_aligned(first, count))
			return -DMAP_EINVAL;
		if (cache_put(iovad, order, first))
			return 0;
	}
	return tree_free(iovad, first, count);
}

int dmap_iova_free_exact(struct dmap_iova_domain *iovad, uint64_t first, uint64_t count)
{
	if (!iovad)
		return -DMAP_EINVAL;
	return tree_free(iovad, first, count);
}

static uint64_t tree_sum(const struct iova_node *t)
{
	return t ? node_len(t) + tree_sum(t->left) + tree_sum(t->right) : 0;
}

uint64_t dmap_iova_free_granules(struct dmap_iova_domain *iovad)
{
	uint64_t total = 0;

	if (!iovad)
		return 0;
	for (unsigned int s = 0; s < IOVA_SHARDS; s++) {
		struct iova_shard *shard = &iovad->shards[s];

		shard_lock(shard);
		for (unsigned int o = 0; o < DMAP_IOVA_CACHE_ORDERS; o++) {
			if (shard->loaded[o])
				total += shard->loaded[o]->count << o;
			if (shard->prev[o])
				total += shard->prev[o]->count << o;
		}
		shard_unlock(shard);
	}
	for (unsigned int o = 0; o < DMAP_IOVA_CACHE_ORDERS; o++) {
		struct iova_depot *depot = &iovad->depot[o];

		dmap_spin_lock(&depot->lock);
		for (unsigned int i = 0; i < depot->nr_full; i++)
			total += depot->full[i]->count << o;
		dmap_spin_unlock(&depot->lock);
	}
	dmap_spin_lock(&iovad->tree_lock);
	total += tree_sum(iovad->root);
	dmap_spin_unlock(&iovad->tree_lock);
	return total;
}

void dmap_iova_get_stats(struct dmap_iova_domain *iovad, struct dmap_iova_stats *out)
{
	dmap_memset(out, 0, sizeof(*out));
	if (!iovad)
		return;
	for (unsigned int s = 0; s < IOVA_SHARDS; s++) {
		out->cache_hits += dmap_load_relaxed(&iovad->shards[s].hits);
		out->cache_misses += dmap_load_relaxed(&iovad->shards[s].misses);
	}
	out->tree_allocs = dmap_load_relaxed(&iovad->tree_allocs);
	out->tree_frees = dmap_load_relaxed(&iovad->tree_frees);
	out->cache_flushes = dmap_load_relaxed(&iovad->cache_flushes);
	out->failures = dmap_load_relaxed(&iovad->failures);
	out->free_ranges = dmap_load_relaxed(&iovad->nr_ranges);
}

// SPDX-License-Identifier: MIT
/*
 * backends/iommu/iotlb.c - the software IOTLB: what a device-side access
 * remembers of previous walks, until a flush says otherwise.
 *
 * Design. The point of the IOTLB is not only speed (a hit is one binary
 * search instead of a table walk with a phys_to_virt per level) but
 * faithfulness: hardware caches translations and forgets them only when
 * software invalidates, so a driver that unmaps without invalidating keeps
 * its device able to reach the old page. To show that bug class, the only
 * writers that remove entries here are the flush operations.
 *
 * Entries live in the core's RCU-protected range map (lock-free lookups,
 * copy-on-write updates): a hit is one dmap_range_map_lookup() under the
 * RCU read lock the core already holds around translate. An entry covers
 * one leaf (4 KiB page ... 1 GiB block) and carries its physical base and
 * permission bits packed into one word (leaves are at least 4 KiB aligned).
 *
 * The fill race: a walk that read a PTE before an unmap cleared it must not
 * insert its now-stale result after the unmap's invalidation, or the stale
 * entry would outlive the flush. Hardware closes this window by making the
 * invalidation wait for walks in flight; here every invalidation bumps a
 * generation under @lock, a walker samples the generation (acquire) before
 * walking, and fills only if it is unchanged under the same lock. A walk
 * that starts after the bump sees the cleared PTE, because the clear was
 * ordered before the bump (release) that the walker's load acquired.
 *
 * Capacity is bounded (like a real IOTLB; also because each write copies the
 * array) and replacement is FIFO over a ring of inserted ranges.
 */
#include <dmap/helpers.h>

#include "iommu_internal.h"

int dmap_iotlb_init(struct dmap_iotlb *tlb, const struct dmap_env *env, unsigned int capacity)
{
	int ret;

	dmap_memset(tlb, 0, sizeof(*tlb));
	tlb->env = env;
	tlb->capacity = capacity;
	tlb->fifo = dmap_env_alloc(env, capacity * sizeof(*tlb->fifo), DMAP_ALLOC_ZERO);
	if (!tlb->fifo)
		return -DMAP_ENOMEM;
	for (unsigned int i = 0; i < capacity; i++) {
		tlb->fifo[i].first = 1;
		tlb->fifo[i].last = 0; /* empty slot */
	}
	ret = dmap_range_map_create(env, NULL, NULL, &tlb->map);
	if (ret) {
		dmap_env_free(env, tlb->fifo, capacity * sizeof(*tlb->fifo));
		tlb->fifo = NULL;
		return ret;
	}
	dmap_spin_init(&tlb->lock);
	return 0;
}

void dmap_iotlb_fini(struct dmap_iotlb *tlb)
{
	if (!tlb->map)
		return;
	dmap_range_map_destroy(tlb->map);
	dmap_env_free(tlb->env, tlb->fifo, tlb->capacity * sizeof(*tlb->fifo));
	dmap_spin_destroy(&tlb->lock);
	tlb->map = NULL;
}

bool dmap_iotlb_fill(struct dmap_iotlb *tlb, uint64_t gen, uint64_t first, uint64_t last,
		     dmap_phys_t phys, unsigned int perm)
{
	const struct dmap_range *next;
	bool inserted = false;

	if (!tlb->capacity)
		return false;
	dmap_spin_lock(&tlb->lock);
	if (tlb->gen != gen)
		goto out;
	/* Another walker may have filled it (or an overlapping leaf) already. */
	dmap_rcu_read_lock();
	next = dmap_range_map_lookup_next(tlb->map, first);
	if (next && next->first <= last) {
		dmap_rcu_read_unlock();
		goto out;
	}
	dmap_rcu_read_unlock();
	{
		struct dmap_iommu_range *slot = &tlb->fifo[tlb->fifo_head];

		if (slot->first <= slot->last)
			dmap_range_map_remove(tlb->map, slot->first, slot->last);
		if (dmap_range_map_insert(tlb->map, first, last,
					  phys | (perm & DMAP_IOTLB_PERM_MASK), NULL) == 0) {
			slot->first = first;
			slot->last = last;
			inserted = true;
		} else {
			slot->first = 1;
			slot->last = 0;
		}
		tlb->fifo_head = (tlb->fifo_head + 1) % tlb->capacity;
	}
out:
	dmap_spin_unlock(&tlb->lock);
	return inserted;
}

void dmap_iotlb_invalidate(struct dmap_iotlb *tlb, uint64_t first, uint64_t last)
{
	dmap_spin_lock(&tlb->lock);
	dmap_store_release(&tlb->gen, tlb->gen + 1);
	if (dmap_range_map_count(tlb->map))
		dmap_range_map_remove_overlapping(tlb->map, first, last);
	dmap_spin_unlock(&tlb->lock);
}

size_t dmap_iotlb_count(struct dmap_iotlb *tlb)
{
	return tlb->map ? dmap_range_map_count(tlb->map) : 0;
}

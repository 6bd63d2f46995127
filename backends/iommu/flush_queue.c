// SPDX-License-Identifier: MIT
/*
 * backends/iommu/flush_queue.c - deferred IOTLB invalidation (Linux:
 * dma-iommu.c's flush queue, IOMMU_DOMAIN_DMA_FQ).
 *
 * Design. A strict unmap pays an invalidation round trip (TLBI + CMD_SYNC on
 * SMMUv3, an IOTLB invalidation descriptor + wait on VT-d) every time; under
 * load that dominates (Linux measured 2.7x to 6x throughput between strict
 * and lazy). A deferred unmap clears the PTEs but leaves the IOTLB alone and
 * queues the IOVA (and any table pages the unmap removed) on this CPU's ring;
 * one invalidate-all later makes every queued entry safe to reuse at once.
 * Until then the device may still reach the old pages through stale IOTLB
 * entries; that is the documented price, bounded by the ring size and the
 * timeout. What must never happen is a stale entry aliasing a *new* mapping,
 * so queued IOVAs and table pages are released only after the flush.
 *
 * Linux's scheme: per-CPU power-of-two rings under per-CPU locks; a
 * global pair of counters, flush_start and flush_finish. An entry is stamped
 * with flush_start when queued (after its PTEs were cleared); it may be
 * released once flush_finish has passed its stamp, i.e. a whole flush began
 * after the PTEs were gone. A full ring forces a synchronous flush. Instead
 * of a kernel timer, every queue operation (and dmap_iommu_poll()) checks
 * the age of the ring's oldest entry against the timeout: a freestanding
 * library has no timers, and the check costs one now_ns per unmap.
 *
 * Table pages are released through an RCU callback after the flush, because
 * software walkers read tables inside RCU read sections.
 */
#include <dmap/helpers.h>

#include "iommu_internal.h"

#define FQ_CLOCK_EVERY 16

struct fq_entry {
	uint64_t pfn;
	uint64_t count;
	struct dmap_pgtable_freelist *freelist;
	uint64_t counter;
	uint64_t queued_ns;
};

struct fq_ring {
	uint32_t busy; /* the ring's lock word: see ring_trylock() */
	unsigned int head, tail; /* free-running; head == tail: empty */
	uint64_t oldest_ns; /* queued_ns of entries[head] (read racily by poll) */
	bool nonempty; /* read racily by poll */
	uint64_t queued; /* written under @lock, read relaxed */
	uint64_t clock; /* now_ns as last read (under @lock) */
	unsigned int clock_age; /* enqueues since @clock was read */
	struct fq_entry *entries;
} __attribute__((aligned(64)));

struct dmap_iommu_fq {
	unsigned int size;
	uint64_t timeout_ns;
	uint64_t flush_start;
	uint64_t flush_finish;
	uint64_t flushes, full_flushes, timeout_flushes, strict_fallbacks;
	struct fq_ring rings[IOMMU_SHARDS];
};

int dmap_iommu_fq_create(struct dmap_iommu_domain *d, unsigned int size, uint64_t timeout_ns)
{
	struct dmap_iommu_fq *fq;

	fq = d->env->ops->alloc(d->env->cookie, sizeof(*fq), 64, DMAP_ALLOC_ZERO);
	if (!fq)
		return -DMAP_ENOMEM;
	dmap_memset(fq, 0, sizeof(*fq));
	fq->size = size;
	fq->timeout_ns = timeout_ns;
	/* Rings are allocated on first use: most CPUs never unmap. */
	d->fq = fq;
	return 0;
}

/*
 * A ring's lock is one atomic word. The unmap path only tries it: when it is
 * busy (a flush from another CPU is draining this ring, or more threads than
 * rings share it) that one unmap is done strictly instead, which is always
 * correct, so no unmap waits behind a preempted thread. Only flushes wait.
 */
static inline bool ring_trylock(struct fq_ring *ring)
{
	return dmap_load_relaxed(&ring->busy) == 0 && dmap_xchg(&ring->busy, 1) == 0;
}

static inline void ring_lock(struct fq_ring *ring)
{
	while (!ring_trylock(ring))
		dmap_cpu_relax();
}

static inline void ring_unlock(struct fq_ring *ring)
{
	dmap_store_release(&ring->busy, 0);
}

static void fq_release_entry(struct dmap_iommu_domain *d, struct fq_entry *e)
{
	dmap_iommu_free_iova(d, e->pfn << d->granule_shift, e->count);
	if (e->freelist)
		dmap_iommu_free_tables_rcu(d, e->freelist);
	e->freelist = NULL;
}

/* Release the ring's entries that a completed flush covers. Ring lock held. */
static void fq_ring_free_locked(struct dmap_iommu_domain *d, struct dmap_iommu_fq *fq,
				struct fq_ring *ring)
{
	uint64_t finish = dmap_load_acquire(&fq->flush_finish);
	unsigned int mask = fq->size - 1;

	while (ring->head != ring->tail) {
		struct fq_entry *e = &ring->entries[ring->head & mask];

		if (e->counter >= finish)
			break;
		fq_release_entry(d, e);
		ring->head++;
	}
	if (ring->head == ring->tail) {
		dmap_store_relaxed(&ring->nonempty, false);
	} else {
		dmap_store_relaxed(&ring->oldest_ns, ring->entries[ring->head & mask].queued_ns);
	}
}

/* Invalidate everything; entries stamped before this call become releasable. */
static void fq_flush_iotlb(struct dmap_iommu_domain *d, struct dmap_iommu_fq *fq)
{
	dmap_fetch_add(&fq->flush_start, 1);
	dmap_iommu_tlb_sync(d, 0, ~(uint64_t)0);
	dmap_fetch_add(&fq->flush_finish, 1);
	dmap_atomic_add_relaxed(&fq->flushes, 1);
}

void dmap_iommu_fq_flush(struct dmap_iommu_domain *d)
{
	struct dmap_iommu_fq *fq = d->fq;

	if (!fq)
		return;
	fq_flush_iotlb(d, fq);
	for (unsigned int i = 0; i < IOMMU_SHARDS; i++) {
		struct fq_ring *ring = &fq->rings[i];

		if (!dmap_load_relaxed(&ring->nonempty))
			continue;
		ring_lock(ring);
		if (ring->entries)
			fq_ring_free_locked(d, fq, ring);
		ring_unlock(ring);
	}
}

bool dmap_iommu_fq_poll(struct dmap_iommu_domain *d)
{
	struct dmap_iommu_fq *fq = d->fq;
	uint64_t now;

	if (!fq)
		return false;
	now = dmap_env_now_ns(d->env);
	for (unsigned int i = 0; i < IOMMU_SHARDS; i++) {
		struct fq_ring *ring = &fq->rings[i];

		if (dmap_load_relaxed(&ring->nonempty) &&
		    now - dmap_load_relaxed(&ring->oldest_ns) >= fq->timeout_ns) {
			dmap_atomic_add_relaxed(&fq->timeout_flushes, 1);
			dmap_iommu_fq_flush(d);
			return true;
		}
	}
	return false;
}

void dmap_iommu_fq_queue(struct dmap_iommu_domain *d, uint64_t pfn, uint64_t count,
			 struct dmap_pgtable_freelist *freelist)
{
	struct dmap_iommu_fq *fq = d->fq;
	struct fq_ring *ring = &fq->rings[dmap_cpu_hint() % IOMMU_SHARDS];
	unsigned int mask = fq->size - 1;
	bool timed_out = false;
	struct fq_entry *e;
	uint64_t now;

	if (!ring_trylock(ring))
		goto strict;
	/*
	 * Reading the clock costs as much as the rest of a deferred unmap, so a
	 * busy ring reads it every FQ_CLOCK_EVERY enqueues and stamps entries
	 * with the last reading. Stamps are then early, never late, so entries
	 * are flushed no later than the timeout plus FQ_CLOCK_EVERY unmaps.
	 */
	if (ring->head == ring->tail || ++ring->clock_age >= FQ_CLOCK_EVERY) {
		ring->clock = dmap_env_now_ns(d->env);
		ring->clock_age = 0;
	}
	now = ring->clock;
	if (dmap_unlikely(!ring->entries)) {
		ring->entries = dmap_env_alloc(d->env, fq->size * sizeof(*ring->entries),
					       DMAP_ALLOC_ATOMIC);
		if (!ring->entries) {
			ring_unlock(ring);
			goto strict;
		}
	}
	/* Reclaim what earlier flushes already covered. */
	if (ring->head != ring->tail) {
		fq_ring_free_locked(d, fq, ring);
		timed_out = ring->head != ring->tail &&
			    now - ring->entries[ring->head & mask].queued_ns >= fq->timeout_ns;
	}
	if (ring->tail - ring->head == fq->size || timed_out) {
		if (timed_out)
			dmap_atomic_add_relaxed(&fq->timeout_flushes, 1);
		else
			dmap_atomic_add_relaxed(&fq->full_flushes, 1);
		fq_flush_iotlb(d, fq);
		fq_ring_free_locked(d, fq, ring);
		/*
		 * Still full: another CPU's flush began before ours and has not
		 * finished, so flush_finish has not passed the stamps of entries
		 * queued after that flush began, and they must stay queued.
		 * Writing at the tail now would overwrite the oldest entry (its
		 * IOVA lost, the new one released twice and handed out twice):
		 * this one unmap is done strictly instead.
		 */
		if (ring->tail - ring->head == fq->size) {
			ring_unlock(ring);
			goto strict;
		}
	}
	e = &ring->entries[ring->tail & mask];
	e->pfn = pfn;
	e->count = count;
	e->freelist = freelist;
	e->queued_ns = now;
	e->counter = dmap_load_acquire(&fq->flush_start);
	if (ring->head == ring->tail) {
		dmap_store_relaxed(&ring->oldest_ns, now);
		dmap_store_relaxed(&ring->nonempty, true);
	}
	ring->tail++;
	dmap_store_relaxed(&ring->queued, ring->queued + 1);
	ring_unlock(ring);
	return;
strict:
	/* No ring to queue on (busy, or no memory for it): this unmap is strict. */
	dmap_iommu_tlb_sync(d, pfn << d->granule_shift, ((pfn + count) << d->granule_shift) - 1);
	dmap_iommu_free_iova(d, pfn << d->granule_shift, count);
	dmap_iommu_free_tables_rcu(d, freelist);
	dmap_atomic_add_relaxed(&fq->strict_fallbacks, 1);
}

void dmap_iommu_fq_destroy(struct dmap_iommu_domain *d)
{
	struct dmap_iommu_fq *fq = d->fq;

	if (!fq)
		return;
	dmap_iommu_fq_flush(d);
	for (unsigned int i = 0; i < IOMMU_SHARDS; i++) {
		struct fq_ring *ring = &fq->rings[i];

		if (ring->entries)
			dmap_env_free(d->env, ring->entries, fq->size * sizeof(*ring->entries));
	}
	d->fq = NULL;
	d->env->ops->free(d->env->cookie, fq, sizeof(*fq));
}

void dmap_iommu_fq_get_stats(struct dmap_iommu_domain *d, struct dmap_iommu_fq_stats *out)
{
	dmap_memset(out, 0, sizeof(*out));
	if (!d->fq)
		return;
	for (unsigned int i = 0; i < IOMMU_SHARDS; i++)
		out->queued += dmap_load_relaxed(&d->fq->rings[i].queued);
	out->flushes = dmap_load_relaxed(&d->fq->flushes);
	out->full_flushes = dmap_load_relaxed(&d->fq->full_flushes);
	out->timeout_flushes = dmap_load_relaxed(&d->fq->timeout_flushes);
	out->strict_fallbacks = dmap_load_relaxed(&d->fq->strict_fallbacks);
}

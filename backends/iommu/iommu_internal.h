/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/iommu_internal.h - what the iommu domain's files share: the
 * domain layout, the software IOTLB and the flush queue.
 */
#ifndef DMAP_BACKENDS_IOMMU_INTERNAL_H
#define DMAP_BACKENDS_IOMMU_INTERNAL_H

#include <dmap/ops.h>
#include <dmap/iommu.h>
#include <dmap/range_map.h>

#include "iova.h"
#include "pgtable.h"

#define IOMMU_SHARDS 16 /* per-CPU shards of counters and flush queues */

/* ---- software IOTLB (iotlb.c) ----------------------------------------- */

/*
 * struct dmap_iotlb - cached leaf translations of one domain (one ASID/DID).
 * @map: [leaf first IOVA, leaf last IOVA] -> value = leaf phys | perm bits.
 * @lock: serialises fills against invalidations (the range map has its own
 *        writer lock; this one also covers @gen and @fifo).
 * @gen: bumped by every invalidation; a walk fills only if it is unchanged.
 * @fifo: inserted ranges in order; the oldest is evicted when full.
 */
struct dmap_iotlb {
	struct dmap_range_map *map;
	dmap_spinlock_t lock;
	uint64_t gen;
	unsigned int capacity;
	unsigned int fifo_head;
	struct dmap_iommu_range *fifo;
	const struct dmap_env *env;
};

/* An entry's value: leaf phys (at least 4 KiB aligned) | DMAP_ACCESS_* perm bits. */
#define DMAP_IOTLB_PERM_MASK 0xfffull

int dmap_iotlb_init(struct dmap_iotlb *tlb, const struct dmap_env *env, unsigned int capacity);
void dmap_iotlb_fini(struct dmap_iotlb *tlb);
/*
 * Under RCU read lock: true and the entry's phys/perm/len for @iova on a hit.
 * Inline: it is most of an IOTLB hit, which is the device side's hot path.
 */
static inline bool dmap_iotlb_lookup(struct dmap_iotlb *tlb, uint64_t iova, dmap_phys_t *phys,
				     unsigned int *perm, uint64_t *leaf_last)
{
	const struct dmap_range *r = dmap_range_map_lookup(tlb->map, iova);

	if (!r)
		return false;
	*phys = (r->value & ~DMAP_IOTLB_PERM_MASK) + (iova - r->first);
	*perm = (unsigned int)(r->value & DMAP_IOTLB_PERM_MASK);
	*leaf_last = r->last;
	return true;
}
/* Generation to pass to dmap_iotlb_fill(); read before the walk. */
static inline uint64_t dmap_iotlb_gen(struct dmap_iotlb *tlb)
{
	return dmap_load_acquire(&tlb->gen);
}
/* Insert a walked leaf unless an invalidation ran since @gen. Returns true if inserted. */
bool dmap_iotlb_fill(struct dmap_iotlb *tlb, uint64_t gen, uint64_t first, uint64_t last,
		     dmap_phys_t phys, unsigned int perm);
/* Drop every entry overlapping [@first, @last]; bumps the generation. */
void dmap_iotlb_invalidate(struct dmap_iotlb *tlb, uint64_t first, uint64_t last);
size_t dmap_iotlb_count(struct dmap_iotlb *tlb);

/* ---- the domain ------------------------------------------------------- */

struct dmap_iommu_fq;

/* What made a live mapping: unmap, sync and free_coherent accept only their own kind. */
enum iommu_live_kind {
	IOMMU_LIVE_SINGLE = 1, /* map_phys (bounced or not) */
	IOMMU_LIVE_SG, /* map_sg: one IOVA range for the whole list */
	IOMMU_LIVE_COHERENT, /* alloc_coherent */
	IOMMU_LIVE_EXPLICIT, /* dmap_iommu_map() */
};

/*
 * struct iommu_live - one live mapping, keyed by its first IOVA.
 * @iova, @len: the IOVA range it owns (granule aligned).
 * @bus, @size: the address handed out and the size the caller asked for;
 *              unmap must pass exactly these.
 * @phys: first physical address mapped (the granule-aligned base).
 * @cpu: coherent buffers: the CPU address handed out.
 * @dev: the device that made it (NULL for dmap_iommu_map()).
 * @mmio: mapped with DMAP_ATTR_MMIO: device memory, never cache-maintained.
 */
struct iommu_live {
	struct iommu_live *next;
	const struct dmap_dev *dev;
	uint64_t iova;
	uint64_t len;
	uint64_t bus;
	uint64_t size;
	dmap_phys_t phys;
	void *cpu;
	unsigned int kind;
	bool mmio;
};

#define IOMMU_LIVE_STRIPES 64
#define IOMMU_LIVE_BUCKETS 64 /* per stripe */
#define IOMMU_LIVE_CACHE 32 /* spare entries kept per stripe */

/* One lock and its buckets: a cache line of lock + spares, then the chains. */
struct iommu_live_stripe {
	uint32_t lock;
	uint32_t nr_spare;
	struct iommu_live *spare;
	struct iommu_live *bucket[IOMMU_LIVE_BUCKETS];
} __attribute__((aligned(64)));

/* Counters bumped on hot paths: one cache line per shard. */
struct iommu_stat_shard {
	uint64_t iotlb_hits;
	uint64_t iotlb_misses;
	uint64_t iotlb_fills;
	uint64_t walk_faults;
} __attribute__((aligned(64)));

struct dmap_iommu_domain {
	struct dmap_domain dom; /* core part; dmap_domain_init() last */
	const struct dmap_env *env;
	char name[DMAP_NAME_MAX];

	enum dmap_pgtable_format format;
	struct dmap_pgtable *pt;
	uint64_t pgsize_bitmap;
	unsigned int granule_shift;
	size_t granule;
	unsigned int ias, oas;
	uint64_t aperture_first, aperture_last; /* bytes, inclusive */

	struct dmap_iova_domain *iovad;
	struct dmap_iotlb iotlb;
	bool use_iotlb;
	struct dmap_iommu_fq *fq; /* NULL in strict mode */
	uint64_t inval_latency_ns;
	struct dmap_domain *bounce;
	struct dmap_range_map *bounced; /* bus range of a bounced buffer -> original phys */
	struct iommu_live_stripe *live; /* live mappings by first IOVA */

	struct iommu_stat_shard shards[IOMMU_SHARDS];
	uint64_t iotlb_invalidations;
	uint64_t bounced_maps;
	uint64_t table_pages_freed;

	/* Table pages whose RCU callback could not be allocated: freed at destroy. */
	dmap_spinlock_t orphan_lock;
	struct dmap_pgtable_freelist *orphans;
};

static inline struct dmap_iommu_domain *to_iommu(struct dmap_domain *dom)
{
	return dmap_container_of(dom, struct dmap_iommu_domain, dom);
}

static inline struct iommu_stat_shard *iommu_stat(struct dmap_iommu_domain *d)
{
	return &d->shards[dmap_cpu_hint() % IOMMU_SHARDS];
}

/*
 * Bump a sharded hot-path counter with a plain load and store instead of a
 * locked add (which cost a fifth of an IOTLB hit). Exact while each thread
 * has its own shard (dmap_cpu_hint() hands out consecutive numbers); with
 * more threads than shards two of them may share one and lose an increment:
 * these counters are statistics, never used for decisions.
 */
static inline void iommu_stat_inc(uint64_t *counter)
{
	dmap_store_relaxed(counter, dmap_load_relaxed(counter) + 1);
}

/*
 * Invalidate the IOTLB over [@first, @last] (all of it for 0..~0) and pay the
 * modelled hardware round trip: the single place every flush ends up.
 */
void dmap_iommu_tlb_sync(struct dmap_iommu_domain *d, uint64_t first, uint64_t last);

/* Hand table pages to an RCU callback that frees them after a grace period. */
void dmap_iommu_free_tables_rcu(struct dmap_iommu_domain *d, struct dmap_pgtable_freelist *list);

/* Give an IOVA range back (the iova allocator's units are granules). */
void dmap_iommu_free_iova(struct dmap_iommu_domain *d, uint64_t iova, uint64_t count);

/* ---- flush queue (flush_queue.c) ------------------------------------ */

int dmap_iommu_fq_create(struct dmap_iommu_domain *d, unsigned int size, uint64_t timeout_ns);
/* Flush and release everything, then free the queue. */
void dmap_iommu_fq_destroy(struct dmap_iommu_domain *d);
/*
 * Queue an unmapped range (first granule @pfn, @count granules) and the table
 * pages the unmap removed; may flush when the ring is full or its oldest
 * entry has timed out.
 */
void dmap_iommu_fq_queue(struct dmap_iommu_domain *d, uint64_t pfn, uint64_t count,
			 struct dmap_pgtable_freelist *freelist);
/* Flush the IOTLB and release every queued entry of every CPU. */
void dmap_iommu_fq_flush(struct dmap_iommu_domain *d);
/* Timeout check over every CPU's ring; true if it flushed. */
bool dmap_iommu_fq_poll(struct dmap_iommu_domain *d);

struct dmap_iommu_fq_stats {
	uint64_t queued, flushes, full_flushes, timeout_flushes, strict_fallbacks;
};
void dmap_iommu_fq_get_stats(struct dmap_iommu_domain *d, struct dmap_iommu_fq_stats *out);

#endif /* DMAP_BACKENDS_IOMMU_INTERNAL_H */

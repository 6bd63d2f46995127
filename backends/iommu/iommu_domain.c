// SPDX-License-Identifier: MIT
/*
 * backends/iommu/iommu_domain.c - the iommu backend's struct dmap_ops: DMA
 * through page tables the hardware could walk (Linux: dma-iommu.c).
 *
 * Design. A domain is one address space: the IOVA allocator (iova.c), one
 * page table in a hardware format (pgtable*.c, written by the formats code
 * and driven from here), the software IOTLB (iotlb.c) and, in deferred mode,
 * the flush queue (flush_queue.c). This file is "whoever owns the hardware"
 * in io-pgtable terms: the flush ops it gives the table format end in
 * dmap_iommu_tlb_sync(), which invalidates the software IOTLB and then
 * busy-waits for the modelled invalidation round trip (inval_latency_ns,
 * what a CMD_SYNC or a VT-d invalidation wait costs on a real unit).
 *
 * Map: allocate an IOVA below the device's DMA limit (size aligned, so a
 * 2 MiB buffer gets a 2 MiB-aligned IOVA and one block descriptor when its
 * physical address allows), write the tables choosing page sizes exactly
 * like Linux's iommu_pgsize() (largest size that the remaining length and
 * the alignment of both addresses allow, stopping early where a larger size
 * becomes possible), and return the IOVA plus the buffer's offset in its
 * granule.
 *
 * Unmap: the table format always gets a *queued* gather, so removed table
 * pages come back on a list instead of being freed on the spot: software
 * walkers read tables inside RCU read sections, so a page may only be freed
 * one grace period after the flush that unlinked it. Strict mode then
 * invalidates the unmapped range itself (what add_page would have gathered)
 * before returning; deferred mode hands IOVA and pages to the flush queue.
 *
 * Live mappings: every mapping handed out is recorded (first IOVA -> range,
 * bus address, size, kind, device) so that unmap, sync and free_coherent
 * act only on exactly a live mapping and otherwise fail having changed
 * nothing; rounding an arbitrary address to granules and unmapping whatever
 * they hold would free IOVA someone else still uses (see "live mappings"
 * below for the structure and its cost).
 *
 * Non-coherent devices get Linux's cache maintenance: clean at map,
 * invalidate at unmap (not with SKIP_CPU_SYNC, never for MMIO), and a range
 * without RAM is refused at map time where that maintenance is due.
 *
 * Untrusted devices (Linux: dev_is_untrusted + swiotlb): a buffer that does
 * not start and end on granule boundaries would expose its neighbours in the
 * same granule, so it is first bounced. The bounce domain is asked for the
 * whole granule span of the buffer without copying (SKIP_CPU_SYNC: its slot
 * for a page or more is page aligned), the padding is zeroed and the buffer
 * copied in here, so the device sees the buffer and zeros only; unmap and
 * sync copy exactly the buffer's bytes back, never the padding. The bounce
 * domain's bus address is taken to be its slot's physical address (the
 * bounce backend's contract).
 *
 * Device side: the IOTLB first (one lock-free lookup); on a miss the format's
 * walk, as the hardware reads the tables, then a fill. A fault is reported
 * decoded and as the raw hardware record: a 32-byte SMMUv3 event (F_*
 * with StreamID, address, RnW, PnU, InD, CLASS=IN) or a 16-byte VT-d fault
 * record (source id, page address, reason 0x4/0x5/0x6, type).
 */
#include <dmap/helpers.h>

#include "iommu_internal.h"

#define IOMMU_DEFAULT_FQ_SIZE 256u
#define IOMMU_DEFAULT_FQ_TIMEOUT_NS 10000000ull
#define IOMMU_DEFAULT_IOTLB_ENTRIES 128u
#define VTD_MSI_FIRST 0xfee00000ull
#define VTD_MSI_LAST 0xfeefffffull

static const struct dmap_ops dmap_iommu_ops;

bool dmap_is_iommu_domain(const struct dmap_domain *domain)
{
	return domain && domain->backend_ops == &dmap_iommu_ops;
}

static struct dmap_iommu_domain *iommu_from_public(struct dmap_domain *domain)
{
	return dmap_is_iommu_domain(domain) ? to_iommu(domain) : NULL;
}

/* ---- flushing ----------------------------------------------------------- */

static void model_latency(struct dmap_iommu_domain *d)
{
	uint64_t start;

	if (!d->inval_latency_ns)
		return;
	start = dmap_env_now_ns(d->env);
	while (dmap_env_now_ns(d->env) - start < d->inval_latency_ns)
		dmap_cpu_relax();
}

void dmap_iommu_tlb_sync(struct dmap_iommu_domain *d, uint64_t first, uint64_t last)
{
	dmap_iotlb_invalidate(&d->iotlb, first, last);
	dmap_atomic_add_relaxed(&d->iotlb_invalidations, 1);
	model_latency(d);
}

static void iommu_flush_all_cb(void *cookie)
{
	dmap_iommu_tlb_sync(cookie, 0, ~(uint64_t)0);
}

static void iommu_flush_walk_cb(uint64_t iova, size_t size, size_t granule, void *cookie)
{
	(void)granule;
	dmap_iommu_tlb_sync(cookie, iova, iova + size - 1);
}

static void iommu_add_page_cb(struct dmap_iommu_gather *g, uint64_t iova, size_t granule,
			      void *cookie)
{
	(void)cookie;
	if (iova < g->start)
		g->start = iova;
	if (iova + granule - 1 > g->end)
		g->end = iova + granule - 1;
	g->pgsize = granule;
}

static void iommu_retire_tables_cb(struct dmap_pgtable_freelist *list, void *cookie)
{
	dmap_iommu_free_tables_rcu(cookie, list);
}

static const struct dmap_pgtable_flush_ops iommu_flush_ops = {
	.flush_all = iommu_flush_all_cb,
	.flush_walk = iommu_flush_walk_cb,
	.add_page = iommu_add_page_cb,
	.retire_tables = iommu_retire_tables_cb,
};

struct table_free_rcu {
	struct dmap_rcu_head rcu;
	struct dmap_pgtable *pt;
	const struct dmap_env *env;
	struct dmap_pgtable_freelist *list;
};

static void table_free_rcu_cb(struct dmap_rcu_head *head)
{
	struct table_free_rcu *t = dmap_container_of(head, struct table_free_rcu, rcu);
	struct dmap_iommu_gather g;

	dmap_iommu_gather_init(&g);
	g.freelist = t->list;
	dmap_pgtable_gather_release(t->pt, &g);
	dmap_env_free(t->env, t, sizeof(*t));
}

static uint64_t freelist_len(struct dmap_pgtable_freelist *list)
{
	uint64_t n = 0;

	for (; list; list = __atomic_load_n(&list->next, __ATOMIC_RELAXED))
		n++;
	return n;
}

void dmap_iommu_free_tables_rcu(struct dmap_iommu_domain *d, struct dmap_pgtable_freelist *list)
{
	struct table_free_rcu *t;

	if (!list)
		return;
	dmap_atomic_add_relaxed(&d->table_pages_freed, freelist_len(list));
	t = dmap_env_alloc(d->env, sizeof(*t), DMAP_ALLOC_ATOMIC);
	if (!t) {
		/* Keep them until destroy, which waits for readers first. */
		struct dmap_pgtable_freelist *tail = list;

		while (__atomic_load_n(&tail->next, __ATOMIC_RELAXED))
			tail = __atomic_load_n(&tail->next, __ATOMIC_RELAXED);
		dmap_spin_lock(&d->orphan_lock);
		__atomic_store_n(&tail->next, d->orphans, __ATOMIC_RELAXED);
		d->orphans = list;
		dmap_spin_unlock(&d->orphan_lock);
		return;
	}
	t->pt = d->pt;
	t->env = d->env;
	t->list = list;
	d->env->ops->call_rcu(d->env->cookie, &t->rcu, table_free_rcu_cb);
}

void dmap_iommu_free_iova(struct dmap_iommu_domain *d, uint64_t iova, uint64_t count)
{
	int ret = dmap_iova_free(d->iovad, iova >> d->granule_shift, count);

	if (ret)
		dmap_log(
			d->env, DMAP_LOG_ERR,
			"iommu %s: IOVA range [%llx, +%llx granules) freed twice or never allocated",
			d->name, (unsigned long long)iova, (unsigned long long)count);
}

/* ---- live mappings ------------------------------------------------------ */

/*
 * Every mapping the domain hands out is recorded here (first IOVA -> range,
 * kind, bus address, size), so that unmap, sync and free_coherent can refuse
 * an address and size that are not exactly one live mapping's instead of
 * tearing down whatever the granules they cover belong to (and freeing IOVA
 * that someone else still uses). A hash, not the range map: its writes are
 * O(n) array copies, and every map and unmap writes. Striped: 64 locks of
 * 64 chains each, so threads mapping at once rarely meet; each lock is a
 * test-and-set word held for a few loads and stores (never across a table
 * write), cheaper than an environment mutex. Each stripe keeps a few spare
 * entries so the hot path (map, unmap, the IOVA reused from a magazine: the
 * same stripe) does not call the allocator. Unmap *takes* the entry (check
 * and unlink under one lock) before touching the tables, so of two racing
 * unmaps of one mapping exactly one proceeds.
 */
static inline unsigned int live_hash(const struct dmap_iommu_domain *d, uint64_t iova)
{
	return (unsigned int)(((iova >> d->granule_shift) * 0x9e3779b97f4a7c15ull) >> 52);
}

static inline struct iommu_live_stripe *live_stripe(struct dmap_iommu_domain *d, unsigned int h)
{
	return &d->live[h % IOMMU_LIVE_STRIPES];
}

static inline void live_lock(struct iommu_live_stripe *s)
{
	while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED))
			dmap_cpu_relax();
}

static inline void live_unlock(struct iommu_live_stripe *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

static int live_insert(struct dmap_iommu_domain *d, const struct iommu_live *tmpl)
{
	unsigned int h = live_hash(d, tmpl->iova);
	struct iommu_live_stripe *s = live_stripe(d, h);
	struct iommu_live *e;

	live_lock(s);
	e = s->spare;
	if (dmap_likely(e)) {
		s->spare = e->next;
		s->nr_spare--;
	} else {
		live_unlock(s);
		e = dmap_env_alloc(d->env, sizeof(*e), DMAP_ALLOC_ATOMIC);
		if (!e)
			return -DMAP_ENOMEM;
		live_lock(s);
	}
	*e = *tmpl;
	e->next = s->bucket[h / IOMMU_LIVE_STRIPES];
	s->bucket[h / IOMMU_LIVE_STRIPES] = e;
	live_unlock(s);
	return 0;
}

/* Under the stripe lock: the entry whose first IOVA is @iova, and its link. */
static inline struct iommu_live **live_slot(struct iommu_live_stripe *s, unsigned int h,
					    uint64_t iova)
{
	struct iommu_live **p = &s->bucket[h / IOMMU_LIVE_STRIPES];

	while (*p && (*p)->iova != iova)
		p = &(*p)->next;
	return p;
}

static bool live_matches(const struct iommu_live *e, const struct iommu_live *want)
{
	if (e->kind != want->kind || e->bus != want->bus || e->size != want->size ||
	    e->dev != want->dev)
		return false;
	return want->kind != IOMMU_LIVE_COHERENT || e->cpu == want->cpu;
}

/*
 * Look up the mapping that starts at @want->iova; copy it to @found. With
 * @take, unlink and free it if it matches @want (kind, bus, size and, for
 * coherent buffers, cpu). Returns 0, -ENOENT (no mapping starts there),
 * -EINVAL (one does, but does not match: nothing changed).
 */
static int live_get(struct dmap_iommu_domain *d, const struct iommu_live *want, bool take,
		    struct iommu_live *found)
{
	unsigned int h = live_hash(d, want->iova);
	struct iommu_live_stripe *s = live_stripe(d, h);
	struct iommu_live **p, *e;

	live_lock(s);
	p = live_slot(s, h, want->iova);
	e = *p;
	if (!e) {
		live_unlock(s);
		return -DMAP_ENOENT;
	}
	*found = *e;
	if (!live_matches(e, want)) {
		live_unlock(s);
		return -DMAP_EINVAL;
	}
	if (!take) {
		live_unlock(s);
		return 0;
	}
	*p = e->next;
	if (s->nr_spare < IOMMU_LIVE_CACHE) {
		e->next = s->spare;
		s->spare = e;
		s->nr_spare++;
		e = NULL;
	}
	live_unlock(s);
	if (e)
		dmap_env_free(d->env, e, sizeof(*e));
	return 0;
}

/*
 * The live mapping (any kind) whose bytes contain [@addr, @addr+@size),
 * made by @dev (or by dmap_iommu_map(), which belongs to no device).
 * Streaming and coherent IOVA ranges are size aligned (iova.h), so the
 * mapping holding granule g starts at g rounded down to some power of two:
 * the candidates are g with its low set bits cleared one by one, at most
 * one lookup per set bit, one for a sync at the mapping's own address.
 * Returns 0 with *@found, -ENOENT (no live mapping holds @addr), -EINVAL
 * (one does, but the range runs past its end, or it is another device's).
 */
static int live_find(struct dmap_iommu_domain *d, const struct dmap_dev *dev, uint64_t addr,
		     size_t size, struct iommu_live *found)
{
	uint64_t g = addr >> d->granule_shift;

	for (uint64_t c = g; c; c &= c - 1) {
		uint64_t iova = c << d->granule_shift;
		unsigned int h = live_hash(d, iova);
		struct iommu_live_stripe *s = live_stripe(d, h);
		struct iommu_live *e;
		bool hit = false;

		live_lock(s);
		e = *live_slot(s, h, iova);
		if (e && addr - e->iova < e->len) {
			*found = *e;
			hit = true;
		}
		live_unlock(s);
		if (!hit)
			continue;
		if (found->dev != dev && found->kind != IOMMU_LIVE_EXPLICIT)
			return -DMAP_EINVAL;
		/* Streaming single mappings: the bytes mapped; others: their IOVA range. */
		if (found->kind == IOMMU_LIVE_SINGLE || found->kind == IOMMU_LIVE_COHERENT) {
			if (addr < found->bus || addr - found->bus > found->size ||
			    size > found->size - (addr - found->bus))
				return -DMAP_EINVAL;
		} else if (size > found->len - (addr - found->iova)) {
			return -DMAP_EINVAL;
		}
		return 0;
	}
	return -DMAP_ENOENT;
}

static int live_create(struct dmap_iommu_domain *d)
{
	d->live = d->env->ops->alloc(d->env->cookie, sizeof(*d->live) * IOMMU_LIVE_STRIPES, 64,
				     DMAP_ALLOC_ZERO);
	if (!d->live)
		return -DMAP_ENOMEM;
	dmap_memset(d->live, 0, sizeof(*d->live) * IOMMU_LIVE_STRIPES);
	return 0;
}

/* At destroy: free every entry (mappings the caller leaked included) and the spares. */
static void live_destroy(struct dmap_iommu_domain *d)
{
	if (!d->live)
		return;
	for (unsigned int i = 0; i < IOMMU_LIVE_STRIPES; i++) {
		struct iommu_live_stripe *s = &d->live[i];

		for (unsigned int b = 0; b <= IOMMU_LIVE_BUCKETS; b++) {
			struct iommu_live *e = b < IOMMU_LIVE_BUCKETS ? s->bucket[b] : s->spare;

			while (e) {
				struct iommu_live *next = e->next;

				dmap_env_free(d->env, e, sizeof(*e));
				e = next;
			}
		}
	}
	d->env->ops->free(d->env->cookie, d->live, sizeof(*d->live) * IOMMU_LIVE_STRIPES);
	d->live = NULL;
}

/* Say why an (address, size) is not a live mapping of the kind @call handles. */
static void live_report(struct dmap_iommu_domain *d, struct dmap_dev *dev, const char *call,
			uint64_t addr, size_t size, int err, const struct iommu_live *found)
{
	static const char *const kinds[] = { "?", "streaming", "scatterlist", "coherent",
					     "dmap_iommu_map" };

	if (err == -DMAP_ENOENT)
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: %s of %llx size %zu: no live mapping there", d->name,
			 dev ? dev->name : "-", call, (unsigned long long)addr, size);
	else
		dmap_log(
			d->env, DMAP_LOG_WARN,
			"iommu %s: %s: %s of %llx size %zu does not match the live %s mapping of %s at %llx size %llu: nothing changed",
			d->name, dev ? dev->name : "-", call, (unsigned long long)addr, size,
			kinds[found->kind <= IOMMU_LIVE_EXPLICIT ? found->kind : 0],
			found->dev ? found->dev->name : "-", (unsigned long long)found->bus,
			(unsigned long long)found->size);
}

/*
 * Is @iova mapped, and to what? Unlike iova_to_phys() (0 for "not mapped"),
 * this tells physical address 0 from a hole: on 0 it asks the walk, which
 * reports a present leaf as success or as a permission/access-flag fault.
 */
static bool table_lookup(struct dmap_iommu_domain *d, uint64_t iova, dmap_phys_t *phys)
{
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason reason = DMAP_FAULT_TRANSLATION;
	unsigned int level = 0;
	int ret;

	*phys = d->pt->ops->iova_to_phys(d->pt, iova);
	if (*phys)
		return true;
	dmap_rcu_read_lock();
	ret = d->pt->ops->walk(d->pt, iova, DMAP_ACCESS_PRIV, &w, &reason, &level);
	dmap_rcu_read_unlock();
	if (!ret) {
		*phys = w.phys;
		return true;
	}
	return ret == -DMAP_EFAULT &&
	       (reason == DMAP_FAULT_PERMISSION || reason == DMAP_FAULT_ACCESS_FLAG);
}

/* ---- table writing ------------------------------------------------------ */

static inline uint64_t genmask_low(unsigned int high)
{
	return high >= 63 ? ~(uint64_t)0 : ((uint64_t)1 << (high + 1)) - 1;
}

/* Linux iommu_pgsize(): the page size and count for the next chunk. */
static size_t pick_pgsize(uint64_t bitmap, uint64_t iova, uint64_t paddr, size_t size,
			  size_t *count)
{
	uint64_t addr_merge = iova | paddr;
	uint64_t pgsizes, bigger;
	unsigned int idx;

	/* The common case, one smallest page: nothing to choose. */
	if (size == (bitmap & -bitmap)) {
		*count = 1;
		return size;
	}
	pgsizes = bitmap & genmask_low(dmap_fls64(size) - 1);
	if (addr_merge)
		pgsizes &= genmask_low(dmap_ffs64(addr_merge));
	idx = dmap_fls64(pgsizes) - 1;
	bigger = bitmap & ~genmask_low(idx);
	if (bigger) {
		unsigned int next = dmap_ffs64(bigger);
		uint64_t next_size = (uint64_t)1 << next;

		if (!((iova ^ paddr) & (next_size - 1))) {
			uint64_t offset = next_size - (iova & (next_size - 1));

			if (offset + next_size <= size)
				size = offset;
		}
	}
	*count = size >> idx;
	return (size_t)1 << idx;
}

static int map_range(struct dmap_iommu_domain *d, uint64_t iova, dmap_phys_t paddr, size_t size,
		     unsigned int prot, size_t *mapped_out)
{
	size_t mapped = 0;
	int ret = 0;

	while (mapped < size) {
		size_t count, done = 0;
		size_t pgsize = pick_pgsize(d->pgsize_bitmap, iova + mapped, paddr + mapped,
					    size - mapped, &count);

		ret = d->pt->ops->map_pages(d->pt, iova + mapped, paddr + mapped, pgsize, count,
					    prot, &done);
		mapped += done;
		if (ret)
			break;
		if (!done) {
			ret = -DMAP_EINVAL;
			break;
		}
	}
	*mapped_out = mapped;
	return ret;
}

static size_t unmap_range(struct dmap_iommu_domain *d, uint64_t iova, size_t size,
			  struct dmap_iommu_gather *gather)
{
	size_t unmapped = 0;

	while (unmapped < size) {
		size_t count;
		size_t pgsize = pick_pgsize(d->pgsize_bitmap, iova + unmapped, iova + unmapped,
					    size - unmapped, &count);
		size_t n = d->pt->ops->unmap_pages(d->pt, iova + unmapped, pgsize, count, gather);

		if (!n)
			break;
		unmapped += n;
	}
	return unmapped;
}

/*
 * Remove [@iova, @iova+@size) (granule aligned) from the tables and release
 * its IOVA: now (strict, or @force_strict) or through the flush queue.
 * Returns the bytes unmapped.
 */
static size_t unmap_and_release(struct dmap_iommu_domain *d, uint64_t iova, size_t size,
				bool force_strict, bool free_iova)
{
	struct dmap_iommu_gather gather;
	size_t unmapped;

	dmap_iommu_gather_init(&gather);
	gather.queued = true;
	unmapped = unmap_range(d, iova, size, &gather);
	if (!unmapped) {
		dmap_pgtable_gather_release(d->pt, &gather); /* nothing can be on it */
		return 0;
	}
	if (d->fq && !force_strict && free_iova) {
		dmap_iommu_fq_queue(d, iova >> d->granule_shift, size >> d->granule_shift,
				    gather.freelist);
		return unmapped;
	}
	dmap_iommu_tlb_sync(d, iova, iova + size - 1);
	dmap_iommu_free_tables_rcu(d, gather.freelist);
	if (free_iova)
		dmap_iommu_free_iova(d, iova, size >> d->granule_shift);
	return unmapped;
}

static unsigned int dir_to_prot(const struct dmap_dev *dev, enum dmap_dir dir, unsigned long attrs)
{
	unsigned int prot = 0;

	if (dev->flags & DMAP_DEV_COHERENT)
		prot |= DMAP_PROT_CACHE;
	if (attrs & DMAP_ATTR_PRIVILEGED)
		prot |= DMAP_PROT_PRIV;
	if (attrs & DMAP_ATTR_MMIO)
		prot |= DMAP_PROT_MMIO;
	switch (dir) {
	case DMAP_BIDIRECTIONAL:
		return prot | DMAP_PROT_READ | DMAP_PROT_WRITE;
	case DMAP_TO_DEVICE:
		return prot | DMAP_PROT_READ;
	case DMAP_FROM_DEVICE:
		return prot | DMAP_PROT_WRITE;
	default:
		return 0;
	}
}

/* Highest granule number whose whole granule the device can address. */
static uint64_t limit_granule(const struct dmap_iommu_domain *d, uint64_t limit)
{
	if (limit > d->aperture_last)
		limit = d->aperture_last;
	if ((limit & (d->granule - 1)) != d->granule - 1)
		return (limit >> d->granule_shift) ? (limit >> d->granule_shift) - 1 : 0;
	return limit >> d->granule_shift;
}

/* Allocate @count granules below @limit; on a miss drain the flush queue and retry. */
static int alloc_iova(struct dmap_iommu_domain *d, uint64_t count, uint64_t limit, uint64_t *iova)
{
	uint64_t pfn;
	int ret = dmap_iova_alloc(d->iovad, count, limit_granule(d, limit), &pfn);

	if (ret == -DMAP_ENOSPC && d->fq) {
		/* Queued unmaps hold IOVA space until their flush: flush now. */
		dmap_iommu_fq_flush(d);
		ret = dmap_iova_alloc(d->iovad, count, limit_granule(d, limit), &pfn);
	}
	if (!ret)
		*iova = pfn << d->granule_shift;
	return ret;
}

static void report_alloc_failure(struct dmap_iommu_domain *d, struct dmap_dev *dev, size_t size,
				 uint64_t limit, int ret, unsigned long attrs)
{
	if (attrs & DMAP_ATTR_NO_WARN)
		return;
	if (ret == -DMAP_ENOSPC)
		dmap_log(
			d->env, DMAP_LOG_WARN,
			"iommu %s: %s: IOVA space exhausted: no %zu-byte range below %llx in aperture [%llx, %llx]",
			d->name, dev->name, size, (unsigned long long)limit,
			(unsigned long long)d->aperture_first,
			(unsigned long long)d->aperture_last);
	else
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: out of memory allocating %zu bytes of IOVA", d->name,
			 dev->name, size);
}

/*
 * Map physically contiguous [@phys, @phys+@size) for @dev with @prot below
 * bus address @limit and record it as a live mapping of @kind (@cpu: a
 * coherent buffer's CPU address). Returns the bus address (IOVA + offset in
 * granule).
 */
static dmap_addr_t map_contig(struct dmap_iommu_domain *d, struct dmap_dev *dev, dmap_phys_t phys,
			      size_t size, unsigned int prot, uint64_t limit, unsigned long attrs,
			      unsigned int kind, void *cpu)
{
	struct iommu_live live;
	uint64_t offset = phys & (d->granule - 1);
	dmap_phys_t base = phys - offset;
	uint64_t len, iova;
	size_t mapped;
	int ret;

	if (size > ~(uint64_t)0 - offset - (d->granule - 1)) {
		report_alloc_failure(d, dev, size, limit, -DMAP_ENOSPC, attrs);
		return DMAP_MAPPING_ERROR;
	}
	len = dmap_align_up(offset + size, d->granule);
	ret = alloc_iova(d, len >> d->granule_shift, limit, &iova);
	if (ret) {
		report_alloc_failure(d, dev, size, limit, ret, attrs);
		return DMAP_MAPPING_ERROR;
	}
	ret = map_range(d, iova, base, len, prot, &mapped);
	if (ret) {
		if (!(attrs & DMAP_ATTR_NO_WARN))
			dmap_log(
				d->env, DMAP_LOG_WARN,
				"iommu %s: %s: cannot map phys %llx size %zu at IOVA %llx (%s %u-bit output): error %d",
				d->name, dev->name, (unsigned long long)phys, size,
				(unsigned long long)iova, dmap_pgtable_format_name(d->format),
				d->oas, ret);
		if (mapped)
			unmap_and_release(d, iova, mapped, true, false);
		dmap_iommu_free_iova(d, iova, len >> d->granule_shift);
		return DMAP_MAPPING_ERROR;
	}
	live = (struct iommu_live){ .dev = dev,
				    .iova = iova,
				    .len = len,
				    .bus = iova + offset,
				    .size = size,
				    .phys = base,
				    .cpu = cpu,
				    .kind = kind,
				    .mmio = !!(attrs & DMAP_ATTR_MMIO) };
	if (dmap_unlikely(live_insert(d, &live))) {
		if (!(attrs & DMAP_ATTR_NO_WARN))
			dmap_log(d->env, DMAP_LOG_WARN,
				 "iommu %s: %s: out of memory recording the mapping of phys %llx",
				 d->name, dev->name, (unsigned long long)phys);
		unmap_and_release(d, iova, len, true, true);
		return DMAP_MAPPING_ERROR;
	}
	return iova + offset;
}

/*
 * A non-coherent device's buffer is cleaned when handed to the device (map,
 * sync_for_device) and invalidated when handed back (unmap, sync_for_cpu),
 * as Linux's iommu_dma_map_phys()/unmap_phys() do with arch_sync_dma_*;
 * not with SKIP_CPU_SYNC, never for device memory (MMIO). The direction
 * decides which of the two is needed (dmap_cache_sync_phys()). A range
 * without RAM has nothing to maintain (docs/fuzzing.md finding 12 is about
 * refusing those at map time): the result is not the caller's error here.
 */
static inline void cache_maintain(struct dmap_iommu_domain *d, struct dmap_dev *dev,
				  dmap_phys_t phys, size_t size, enum dmap_dir dir,
				  unsigned long attrs, bool for_cpu)
{
	if (dmap_likely(dev->flags & DMAP_DEV_COHERENT) ||
	    (attrs & (DMAP_ATTR_SKIP_CPU_SYNC | DMAP_ATTR_MMIO)))
		return;
	(void)dmap_cache_sync_phys(d->env, dev, phys, size, dir, for_cpu);
}

/*
 * Identity's rule (docs/identity.md, "RAM, device memory and cache
 * maintenance"): where cache maintenance is due - a non-coherent device, an
 * environment with cache hooks - a range without RAM behind every byte is
 * refused at map time, whatever the direction and even with SKIP_CPU_SYNC
 * (a later sync still maintains it), unless it is device memory mapped with
 * DMAP_ATTR_MMIO. Otherwise it would map and then fail every sync.
 */
static __attribute__((noinline)) bool refuse_nonram(struct dmap_iommu_domain *d,
						    struct dmap_dev *dev, dmap_phys_t phys,
						    size_t size, unsigned long attrs)
{
	if (!dmap_phys_check_ram(d->env, phys, size))
		return false;
	if (!(attrs & DMAP_ATTR_NO_WARN))
		dmap_log(
			d->env, DMAP_LOG_WARN,
			"iommu %s: %s: no RAM behind phys %llx size %zu: a non-coherent device's mapping needs cache maintenance (device memory: map with DMAP_ATTR_MMIO)",
			d->name, dev->name, (unsigned long long)phys, size);
	return true;
}

static inline bool needs_ram(const struct dmap_iommu_domain *d, const struct dmap_dev *dev,
			     unsigned long attrs)
{
	return !(dev->flags & DMAP_DEV_COHERENT) && !(attrs & DMAP_ATTR_MMIO) &&
	       (d->env->ops->cache_clean || d->env->ops->cache_invalidate);
}

/* ---- untrusted devices: bounce ----------------------------------------- */

static bool needs_bounce(const struct dmap_iommu_domain *d, const struct dmap_dev *dev,
			 uint64_t addr, size_t size)
{
	return (dev->flags & DMAP_DEV_UNTRUSTED) && ((addr | size) & (d->granule - 1));
}

static dmap_addr_t map_bounced(struct dmap_iommu_domain *d, struct dmap_dev *dev, dmap_phys_t phys,
			       size_t size, enum dmap_dir dir, unsigned long attrs)
{
	uint64_t offset = phys & (d->granule - 1);
	dmap_phys_t span_start = phys - offset;
	size_t span = dmap_align_up(offset + size, d->granule);
	dmap_addr_t slot, addr;

	if (!d->bounce) {
		if (!(attrs & DMAP_ATTR_NO_WARN))
			dmap_log(
				d->env, DMAP_LOG_WARN,
				"iommu %s: %s: untrusted device, phys %llx size %zu not granule aligned and no bounce domain: unable to map unaligned transaction",
				d->name, dev->name, (unsigned long long)phys, size);
		return DMAP_MAPPING_ERROR;
	}
	slot = dmap_domain_call_map_phys(d->bounce, dev, span_start, span, dir,
					 attrs | DMAP_ATTR_SKIP_CPU_SYNC);
	if (slot == DMAP_MAPPING_ERROR) {
		if (!(attrs & DMAP_ATTR_NO_WARN))
			dmap_log(
				d->env, DMAP_LOG_WARN,
				"iommu %s: %s: bounce domain %s cannot take %zu bytes for phys %llx",
				d->name, dev->name, dmap_domain_name(d->bounce), span,
				(unsigned long long)phys);
		return DMAP_MAPPING_ERROR;
	}
	if (slot & (d->granule - 1) || !d->bounced) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: bounce slot %llx is not aligned to the %zu-byte granule",
			 d->name, dev->name, (unsigned long long)slot, d->granule);
		goto undo;
	}
	/* The device sees the buffer and zeros: never its neighbours. */
	if (dmap_phys_fill(d->env, slot, 0, offset) ||
	    dmap_phys_fill(d->env, slot + offset + size, 0, span - offset - size) ||
	    dmap_phys_copy(d->env, slot + offset, phys, size)) {
		dmap_log(d->env, DMAP_LOG_WARN, "iommu %s: %s: bounce slot %llx is not RAM",
			 d->name, dev->name, (unsigned long long)slot);
		goto undo;
	}
	addr = map_contig(d, dev, slot + offset, size, dir_to_prot(dev, dir, attrs),
			  dmap_dev_dma_limit(dev), attrs, IOMMU_LIVE_SINGLE, NULL);
	if (addr == DMAP_MAPPING_ERROR)
		goto undo;
	/* The whole span: the device may read the zeroed padding too. */
	cache_maintain(d, dev, slot, span, DMAP_TO_DEVICE, attrs & DMAP_ATTR_MMIO, false);
	if (dmap_range_map_insert(d->bounced, addr, addr + size - 1, phys, NULL)) {
		struct iommu_live want = { .dev = dev,
					   .iova = addr - offset,
					   .bus = addr,
					   .size = size,
					   .kind = IOMMU_LIVE_SINGLE },
				  found;

		if (!live_get(d, &want, true, &found))
			unmap_and_release(d, found.iova, found.len, true, true);
		goto undo;
	}
	dmap_atomic_add_relaxed(&d->bounced_maps, 1);
	return addr;
undo:
	dmap_domain_call_unmap_phys(d->bounce, dev, slot, span, dir,
				    attrs | DMAP_ATTR_SKIP_CPU_SYNC);
	return DMAP_MAPPING_ERROR;
}

/*
 * The bounced buffer whose bus range contains @addr: its first bus address
 * and the original physical address. Bounced mappings are recorded in
 * d->bounced (bus range -> original phys) so unmap and sync copy exactly the
 * buffer's bytes between the slot and the original, never the padding.
 */
static bool bounced_lookup(struct dmap_iommu_domain *d, struct dmap_dev *dev, dmap_addr_t addr,
			   dmap_addr_t *first, dmap_addr_t *last, dmap_phys_t *orig)
{
	const struct dmap_range *r;
	bool found = false;

	if (!(dev->flags & DMAP_DEV_UNTRUSTED) || !d->bounced)
		return false;
	dmap_rcu_read_lock();
	r = dmap_range_map_lookup(d->bounced, addr);
	if (r) {
		*first = r->first;
		*last = r->last;
		*orig = r->value;
		found = true;
	}
	dmap_rcu_read_unlock();
	return found;
}

/* ---- dmap_ops ----------------------------------------------------------- */

static int iommu_attach(struct dmap_domain *dom, struct dmap_dev *dev)
{
	struct dmap_iommu_domain *d = to_iommu(dom);

	if (d->format == DMAP_PGTABLE_VTD_SL && dev->stream_id > 0xffff) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: requester id %x does not fit VT-d's 16-bit source id",
			 d->name, dev->name, dev->stream_id);
		return -DMAP_ENODEV;
	}
	return 0;
}

static dmap_addr_t iommu_map_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_phys_t phys,
				  size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	dmap_addr_t addr;

	if (dmap_unlikely(needs_bounce(d, dev, phys, size)))
		return map_bounced(d, dev, phys, size, dir, attrs);
	if (dmap_unlikely(needs_ram(d, dev, attrs)) && refuse_nonram(d, dev, phys, size, attrs))
		return DMAP_MAPPING_ERROR;
	addr = map_contig(d, dev, phys, size, dir_to_prot(dev, dir, attrs), dmap_dev_dma_limit(dev),
			  attrs, IOMMU_LIVE_SINGLE, NULL);
	if (addr != DMAP_MAPPING_ERROR)
		cache_maintain(d, dev, phys, size, dir, attrs, false);
	return addr;
}

/*
 * Tear down the live mapping of @kind handed out as (@addr, @size) (a
 * coherent one also with CPU address @cpu): exactly that mapping or, with an
 * error and a message, nothing at all. Returns 0, -ENOENT (no live mapping
 * starts there), -EINVAL (one does, of another kind, size or CPU address).
 */
static int unmap_contig(struct dmap_iommu_domain *d, struct dmap_dev *dev, const char *call,
			dmap_addr_t addr, size_t size, unsigned int kind, void *cpu,
			struct iommu_live *found)
{
	uint64_t offset = addr & (d->granule - 1);
	uint64_t iova = addr - offset;
	uint64_t len = dmap_align_up(offset + size, d->granule);
	struct iommu_live want = {
		.dev = dev, .iova = iova, .bus = addr, .size = size, .cpu = cpu, .kind = kind
	};
	size_t unmapped;
	int ret;

	if (iova < d->aperture_first || iova + len - 1 > d->aperture_last || iova + len < iova) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: unmap of %llx size %zu outside the aperture [%llx, %llx]",
			 d->name, dev->name, (unsigned long long)addr, size,
			 (unsigned long long)d->aperture_first,
			 (unsigned long long)d->aperture_last);
		return -DMAP_ENOENT;
	}
	ret = live_get(d, &want, true, found);
	if (dmap_unlikely(ret)) {
		live_report(d, dev, call, addr, size, ret, found);
		return ret;
	}
	len = found->len;
	/*
	 * Untrusted devices are always invalidated strictly (Linux does not give
	 * them a flush queue either): a stale IOTLB entry would let the device
	 * keep reading a page, or a bounce slot, that is about to be reused.
	 */
	unmapped = unmap_and_release(d, iova, len, dev->flags & DMAP_DEV_UNTRUSTED, true);
	if (!unmapped) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: unmap of IOVA %llx size %zu: nothing mapped there", d->name,
			 dev->name, (unsigned long long)addr, size);
		return -DMAP_ENOENT;
	}
	if (unmapped < len)
		dmap_log(
			d->env, DMAP_LOG_WARN,
			"iommu %s: %s: unmap of IOVA %llx size %zu: only %zu bytes were mapped (size differs from the mapping's?)",
			d->name, dev->name, (unsigned long long)addr, size, unmapped);
	return 0;
}

static int iommu_unmap_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			    size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	dmap_addr_t first, last;
	dmap_phys_t orig, slot_phys;
	uint64_t offset;
	size_t span;
	int ret;

	struct iommu_live found;

	if (dmap_likely(!bounced_lookup(d, dev, addr, &first, &last, &orig)) || first != addr) {
		ret = unmap_contig(d, dev, "unmap", addr, size, IOMMU_LIVE_SINGLE, NULL, &found);
		if (!ret)
			cache_maintain(d, dev, found.phys + (found.bus - found.iova), size, dir,
				       attrs | (found.mmio ? DMAP_ATTR_MMIO : 0), true);
		return ret;
	}
	if (last - first + 1 != size) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: unmap of bounced IOVA %llx with size %zu, mapped with %llu",
			 d->name, dev->name, (unsigned long long)addr, size,
			 (unsigned long long)(last - first + 1));
		return -DMAP_EINVAL;
	}
	slot_phys = d->pt->ops->iova_to_phys(d->pt, addr);
	offset = slot_phys & (d->granule - 1);
	span = dmap_align_up(offset + size, d->granule);
	/* Copy back exactly the buffer (the padding may hold what the device wrote). */
	if (!(attrs & DMAP_ATTR_SKIP_CPU_SYNC) &&
	    (dir == DMAP_FROM_DEVICE || dir == DMAP_BIDIRECTIONAL)) {
		cache_maintain(d, dev, slot_phys, size, dir, 0, true);
		dmap_phys_copy(d->env, orig, slot_phys, size);
	}
	ret = unmap_contig(d, dev, "unmap", addr, size, IOMMU_LIVE_SINGLE, NULL, &found);
	if (ret)
		return ret;
	dmap_range_map_remove(d->bounced, first, last);
	return dmap_domain_call_unmap_phys(d->bounce, dev, slot_phys - offset, span, dir,
					   attrs | DMAP_ATTR_SKIP_CPU_SYNC);
}

static int iommu_sync(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr, size_t size,
		      enum dmap_dir dir, bool for_cpu)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	dmap_addr_t first, last;
	dmap_phys_t phys, orig;
	struct iommu_live found;
	int ret;

	/* Only bytes of a live mapping; its tables then say where they are (0 included). */
	ret = live_find(d, dev, addr, size, &found);
	if (dmap_unlikely(ret)) {
		live_report(d, dev, for_cpu ? "sync_for_cpu" : "sync_for_device", addr, size, ret,
			    &found);
		return ret;
	}
	phys = d->pt->ops->iova_to_phys(d->pt, addr);
	if (dmap_unlikely(bounced_lookup(d, dev, addr, &first, &last, &orig))) {
		orig += addr - first;
		if (for_cpu && (dir == DMAP_FROM_DEVICE || dir == DMAP_BIDIRECTIONAL)) {
			cache_maintain(d, dev, phys, size, dir, 0, true);
			return dmap_phys_copy(d->env, orig, phys, size);
		}
		if (!for_cpu && (dir == DMAP_TO_DEVICE || dir == DMAP_BIDIRECTIONAL)) {
			ret = dmap_phys_copy(d->env, phys, orig, size);
			cache_maintain(d, dev, phys, size, dir, 0, false);
			return ret;
		}
		return 0;
	}
	/* Device memory (MMIO) has nothing cached to maintain. */
	if ((dev->flags & DMAP_DEV_COHERENT) || found.mmio)
		return 0;
	return dmap_cache_sync_phys(d->env, dev, phys, size, dir, for_cpu);
}

static int iommu_sync_for_cpu(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			      size_t size, enum dmap_dir dir)
{
	return iommu_sync(dom, dev, addr, size, dir, true);
}

static int iommu_sync_for_device(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				 size_t size, enum dmap_dir dir)
{
	return iommu_sync(dom, dev, addr, size, dir, false);
}

/* Bytes of IOVA an sg entry takes in a contiguous layout: its granule span. */
static uint64_t sg_span(const struct dmap_iommu_domain *d, const struct dmap_sg *s)
{
	uint64_t offset = s->phys & (d->granule - 1);

	return dmap_align_up(offset + s->len, d->granule);
}

static bool sg_needs_bounce(const struct dmap_iommu_domain *d, const struct dmap_dev *dev,
			    const struct dmap_sg *sg, int nents)
{
	if (!(dev->flags & DMAP_DEV_UNTRUSTED))
		return false;
	for (int i = 0; i < nents; i++)
		if (needs_bounce(d, dev, sg[i].phys, sg[i].len))
			return true;
	return false;
}

static int iommu_map_sg(struct dmap_domain *dom, struct dmap_dev *dev, struct dmap_sg *sg,
			int nents, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	unsigned int prot = dir_to_prot(dev, dir, attrs);
	uint64_t total = 0, iova, pos = 0;
	int ret;

	if (sg_needs_bounce(d, dev, sg, nents)) {
		/* Bounced entries cannot share one IOVA range: map them one by one. */
		for (int i = 0; i < nents; i++) {
			sg[i].dma_addr =
				iommu_map_phys(dom, dev, sg[i].phys, sg[i].len, dir, attrs);
			if (sg[i].dma_addr == DMAP_MAPPING_ERROR) {
				while (i--)
					iommu_unmap_phys(dom, dev, sg[i].dma_addr, sg[i].len, dir,
							 attrs | DMAP_ATTR_SKIP_CPU_SYNC);
				return -DMAP_ENOMEM;
			}
			sg[i].dma_len = sg[i].len;
		}
		return 0;
	}
	if (dmap_unlikely(needs_ram(d, dev, attrs)))
		for (int i = 0; i < nents; i++)
			if (refuse_nonram(d, dev, sg[i].phys, sg[i].len, attrs))
				return -DMAP_EINVAL;
	/* One IOVA range for the whole list (Linux iommu_dma_map_sg). */
	for (int i = 0; i < nents; i++) {
		uint64_t span = sg_span(d, &sg[i]);

		if (total + span < total) {
			report_alloc_failure(d, dev, ~(size_t)0, dmap_dev_dma_limit(dev),
					     -DMAP_ENOSPC, attrs);
			return -DMAP_ENOSPC;
		}
		total += span;
	}
	ret = alloc_iova(d, total >> d->granule_shift, dmap_dev_dma_limit(dev), &iova);
	if (ret) {
		report_alloc_failure(d, dev, total, dmap_dev_dma_limit(dev), ret, attrs);
		return ret;
	}
	for (int i = 0; i < nents; i++) {
		uint64_t offset = sg[i].phys & (d->granule - 1);
		uint64_t span = sg_span(d, &sg[i]);
		size_t mapped;

		ret = map_range(d, iova + pos, sg[i].phys - offset, span, prot, &mapped);
		if (ret) {
			if (!(attrs & DMAP_ATTR_NO_WARN))
				dmap_log(
					d->env, DMAP_LOG_WARN,
					"iommu %s: %s: map_sg entry %d (phys %llx len %zu) failed: error %d",
					d->name, dev->name, i, (unsigned long long)sg[i].phys,
					sg[i].len, ret);
			if (pos + mapped)
				unmap_and_release(d, iova, pos + mapped, true, false);
			dmap_iommu_free_iova(d, iova, total >> d->granule_shift);
			return ret;
		}
		sg[i].dma_addr = iova + pos + offset;
		sg[i].dma_len = sg[i].len;
		pos += span;
	}
	{
		struct iommu_live live = { .dev = dev,
					   .iova = iova,
					   .len = total,
					   .bus = iova,
					   .size = total,
					   .phys = sg[0].phys,
					   .kind = IOMMU_LIVE_SG,
					   .mmio = !!(attrs & DMAP_ATTR_MMIO) };

		if (dmap_unlikely(live_insert(d, &live))) {
			if (!(attrs & DMAP_ATTR_NO_WARN))
				dmap_log(d->env, DMAP_LOG_WARN,
					 "iommu %s: %s: out of memory recording a %d-entry map_sg",
					 d->name, dev->name, nents);
			unmap_and_release(d, iova, total, true, true);
			return -DMAP_ENOMEM;
		}
	}
	for (int i = 0; i < nents; i++)
		cache_maintain(d, dev, sg[i].phys, sg[i].len, dir, attrs, false);
	return 0;
}

static int iommu_unmap_sg(struct dmap_domain *dom, struct dmap_dev *dev, const struct dmap_sg *sg,
			  const dmap_addr_t *addrs, int nents, enum dmap_dir dir,
			  unsigned long attrs)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	uint64_t total = 0, base;
	struct iommu_live found;
	int ret = 0;

	if (sg_needs_bounce(d, dev, sg, nents)) {
		/* Each entry was mapped alone: all of them must be live, or nothing changes. */
		for (int i = 0; i < nents; i++) {
			struct iommu_live want = {
				.dev = dev,
				.iova = addrs[i] & ~(uint64_t)(d->granule - 1),
				.bus = addrs[i],
				.size = sg[i].len,
				.kind = IOMMU_LIVE_SINGLE,
			};

			ret = live_get(d, &want, false, &found);
			if (ret) {
				dmap_log(d->env, DMAP_LOG_WARN,
					 "iommu %s: %s: unmap_sg entry %d of %d:", d->name,
					 dev->name, i, nents);
				live_report(d, dev, "unmap_sg", addrs[i], sg[i].len, ret, &found);
				return ret;
			}
		}
		for (int i = 0; i < nents; i++) {
			int r = iommu_unmap_phys(dom, dev, addrs[i], sg[i].len, dir, attrs);

			if (r && !ret)
				ret = r;
		}
		return ret;
	}
	/* The list must lie exactly as map_sg laid it out over its one IOVA range. */
	base = addrs[0] & ~(uint64_t)(d->granule - 1);
	for (int i = 0; i < nents; i++) {
		uint64_t offset = sg[i].phys & (d->granule - 1);

		if (addrs[i] != base + total + offset) {
			dmap_log(
				d->env, DMAP_LOG_WARN,
				"iommu %s: %s: unmap_sg entry %d of %d: address %llx (phys %llx len %zu) is not where map_sg put it (%llx): nothing changed",
				d->name, dev->name, i, nents, (unsigned long long)addrs[i],
				(unsigned long long)sg[i].phys, sg[i].len,
				(unsigned long long)(base + total + offset));
			return -DMAP_EINVAL;
		}
		total += sg_span(d, &sg[i]);
	}
	ret = unmap_contig(d, dev, "unmap_sg", base, total, IOMMU_LIVE_SG, NULL, &found);
	if (ret)
		return ret;
	if (found.mmio)
		attrs |= DMAP_ATTR_MMIO;
	for (int i = 0; i < nents; i++)
		cache_maintain(d, dev, sg[i].phys, sg[i].len, dir, attrs, true);
	return 0;
}

static void *iommu_alloc_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
				  dmap_addr_t *handle, unsigned long attrs)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	const struct dmap_env *env = d->env;
	size_t len = dmap_align_up(size, d->granule);
	dmap_phys_t phys;
	void *va;
	unsigned int prot = DMAP_PROT_READ | DMAP_PROT_WRITE;

	*handle = DMAP_MAPPING_ERROR;
	if (!env->ops->alloc_dma_pages) {
		dmap_log(
			env, DMAP_LOG_WARN,
			"iommu %s: %s: environment cannot allocate DMA pages for a coherent buffer",
			d->name, dev->name);
		return NULL;
	}
	if (len < size)
		return NULL;
	va = env->ops->alloc_dma_pages(env->cookie, len, d->granule, DMAP_BIT_MASK(d->oas), &phys);
	if (!va) {
		dmap_log(env, DMAP_LOG_WARN,
			 "iommu %s: %s: no memory for a %zu-byte coherent buffer", d->name,
			 dev->name, size);
		return NULL;
	}
	if (dev->flags & DMAP_DEV_COHERENT)
		prot |= DMAP_PROT_CACHE;
	if (attrs & DMAP_ATTR_PRIVILEGED)
		prot |= DMAP_PROT_PRIV;
	*handle = map_contig(d, dev, phys, len, prot, dmap_dev_coherent_limit(dev), attrs,
			     IOMMU_LIVE_COHERENT, va);
	if (*handle == DMAP_MAPPING_ERROR) {
		env->ops->free_dma_pages(env->cookie, va, phys, len);
		return NULL;
	}
	return va;
}

static int iommu_free_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
			       void *cpu_addr, dmap_addr_t handle, unsigned long attrs)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	size_t len = dmap_align_up(size, d->granule);
	struct iommu_live found;
	int ret;

	(void)attrs;
	if (len < size) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: free_coherent of IOVA %llx: bad size %zu", d->name,
			 dev->name, (unsigned long long)handle, size);
		return -DMAP_EINVAL;
	}
	/* alloc_coherent mapped the granule-rounded length: only that, with this CPU address. */
	ret = unmap_contig(d, dev, "free_coherent", handle, len, IOMMU_LIVE_COHERENT, cpu_addr,
			   &found);
	if (ret)
		return ret;
	d->env->ops->free_dma_pages(d->env->cookie, found.cpu, found.phys, found.len);
	return 0;
}

static size_t iommu_max_mapping_size(struct dmap_domain *dom, struct dmap_dev *dev)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	size_t max;

	if (!(dev->flags & DMAP_DEV_UNTRUSTED) || !d->bounce)
		return SIZE_MAX;
	max = d->bounce->ops->max_mapping_size ? d->bounce->ops->max_mapping_size(d->bounce, dev) :
						 SIZE_MAX;
	if (max == SIZE_MAX)
		return max;
	/* A bounced buffer takes its whole granule span in the bounce pool. */
	max = dmap_align_down(max, d->granule);
	return max > d->granule ? max - d->granule + 1 : 0;
}

/* Encode the raw hardware record of a fault. */
static void fill_raw_fault(struct dmap_iommu_domain *d, struct dmap_dev *dev, dmap_addr_t addr,
			   unsigned int access, struct dmap_fault *fault)
{
	uint64_t words[4];

	if (d->format == DMAP_PGTABLE_ARM_LPAE_S1) {
		struct dmap_smmu_event ev = { 0 };

		switch (fault->reason) {
		case DMAP_FAULT_ADDR_SIZE:
			ev.id = DMAP_SMMU_EVT_F_ADDR_SIZE;
			break;
		case DMAP_FAULT_ACCESS_FLAG:
			ev.id = DMAP_SMMU_EVT_F_ACCESS;
			break;
		case DMAP_FAULT_PERMISSION:
			ev.id = DMAP_SMMU_EVT_F_PERMISSION;
			break;
		default:
			ev.id = DMAP_SMMU_EVT_F_TRANSLATION;
			break;
		}
		ev.sid = dev->stream_id;
		ev.rnw = !(access & DMAP_ACCESS_WRITE);
		ev.pnu = !!(access & DMAP_ACCESS_PRIV);
		ev.ind = !!(access & DMAP_ACCESS_EXEC);
		ev.class_ = DMAP_SMMU_EVT_CLASS_IN;
		ev.input_addr = addr;
		if (dmap_smmu_event_encode(&ev, words))
			return;
		for (unsigned int i = 0; i < 4; i++)
			dmap_hw_put_le64(&fault->raw[8 * i], words[i]);
		fault->raw_format = DMAP_FAULT_RAW_SMMUV3_EVENT;
		fault->raw_len = 32;
	} else {
		struct dmap_vtd_fault_record fr = { 0 };
		bool write = access & DMAP_ACCESS_WRITE;

		if (fault->reason == DMAP_FAULT_ADDR_SIZE)
			fr.reason = DMAP_VTD_FR_BEYOND_MGAW;
		else
			fr.reason = write ? DMAP_VTD_FR_WRITE : DMAP_VTD_FR_READ;
		fr.fault_info = addr & ~(uint64_t)0xfff;
		fr.sid = (uint16_t)dev->stream_id;
		fr.priv = !!(access & DMAP_ACCESS_PRIV);
		fr.exe = !!(access & DMAP_ACCESS_EXEC);
		fr.type = write ? 0 : 1;
		fr.fault = true;
		if (dmap_vtd_fault_record_encode(&fr, words))
			return;
		dmap_hw_put_le64(&fault->raw[0], words[0]);
		dmap_hw_put_le64(&fault->raw[8], words[1]);
		fault->raw_format = DMAP_FAULT_RAW_VTD_FAULT;
		fault->raw_len = 16;
	}
}

/*
 * The IOTLB missed (or is off, or its entry would fault): walk the tables as
 * the unit does and fill. Out of line, so that the hit path in
 * iommu_translate() needs no stack frame for the walk's state.
 */
static __attribute__((noinline)) int
translate_walk(struct dmap_iommu_domain *d, struct dmap_dev *dev, dmap_addr_t addr,
	       unsigned int access, struct dmap_translation *out, struct dmap_fault *fault)
{
	struct dmap_pgtable_walk w;
	enum dmap_fault_reason reason = DMAP_FAULT_TRANSLATION;
	unsigned int level = 0;
	uint64_t gen = 0;
	int ret;

	if (d->use_iotlb) {
		iommu_stat_inc(&iommu_stat(d)->iotlb_misses);
		gen = dmap_iotlb_gen(&d->iotlb);
	}
	ret = d->pt->ops->walk(d->pt, addr, access, &w, &reason, &level);
	if (ret) {
		iommu_stat_inc(&iommu_stat(d)->walk_faults);
		if (!fault)
			return -DMAP_EFAULT;
		fault->reason = ret == -DMAP_EFAULT ? reason : DMAP_FAULT_ADDR_SIZE;
		fill_raw_fault(d, dev, addr, access, fault);
		return -DMAP_EFAULT;
	}
	{
		uint64_t leaf_first = addr & ~(uint64_t)(w.leaf_size - 1);
		uint64_t leaf_last = leaf_first + w.leaf_size - 1;

		if (d->use_iotlb && dmap_iotlb_fill(&d->iotlb, gen, leaf_first, leaf_last,
						    w.phys - (addr - leaf_first), w.perm))
			iommu_stat_inc(&iommu_stat(d)->iotlb_fills);
		out->phys = w.phys;
		out->len = leaf_last - addr >= SIZE_MAX ? SIZE_MAX : (size_t)(leaf_last - addr) + 1;
		out->perm = w.perm & (DMAP_ACCESS_READ | DMAP_ACCESS_WRITE);
	}
	return 0;
}

static int iommu_translate(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			   unsigned int access, struct dmap_translation *out,
			   struct dmap_fault *fault)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	const unsigned int rwx = DMAP_ACCESS_READ | DMAP_ACCESS_WRITE | DMAP_ACCESS_EXEC;
	unsigned int perm;
	uint64_t last;
	dmap_phys_t phys;

	/* A hit whose entry grants the access; anything else is the walk's to decide (and report). */
	if (dmap_likely(d->use_iotlb) && dmap_iotlb_lookup(&d->iotlb, addr, &phys, &perm, &last) &&
	    !((access & rwx) & ~perm) &&
	    (!(perm & DMAP_ACCESS_PRIV) || (access & DMAP_ACCESS_PRIV))) {
		iommu_stat_inc(&iommu_stat(d)->iotlb_hits);
		out->phys = phys;
		out->len = last - addr >= SIZE_MAX ? SIZE_MAX : (size_t)(last - addr) + 1;
		out->perm = perm & (DMAP_ACCESS_READ | DMAP_ACCESS_WRITE);
		return 0;
	}
	return translate_walk(d, dev, addr, access, out, fault);
}

static bool iommu_owns_addr(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr)
{
	struct dmap_iommu_domain *d = to_iommu(dom);

	(void)dev;
	dmap_phys_t phys;

	if (addr < d->aperture_first || addr > d->aperture_last)
		return false;
	return table_lookup(d, addr, &phys);
}

static void iommu_destroy(struct dmap_domain *dom)
{
	struct dmap_iommu_domain *d = to_iommu(dom);
	const struct dmap_env *env = d->env;

	dmap_iommu_fq_destroy(d);
	/* Every RCU callback freeing table pages must run before the table goes. */
	env->ops->synchronize_rcu(env->cookie);
	if (env->ops->rcu_barrier)
		env->ops->rcu_barrier(env->cookie);
	if (d->orphans) {
		struct dmap_iommu_gather g;

		dmap_iommu_gather_init(&g);
		g.freelist = d->orphans;
		dmap_pgtable_gather_release(d->pt, &g);
	}
	dmap_pgtable_free(d->pt);
	dmap_iotlb_fini(&d->iotlb);
	dmap_range_map_destroy(d->bounced);
	live_destroy(d);
	dmap_iova_destroy(d->iovad);
	if (d->bounce)
		dmap_domain_unuse(d->bounce);
	dmap_spin_destroy(&d->orphan_lock);
	env->ops->free(env->cookie, d, sizeof(*d));
}

static const struct dmap_ops dmap_iommu_ops = {
	.name = "iommu",
	.attach = iommu_attach,
	.destroy = iommu_destroy,
	.map_phys = iommu_map_phys,
	.unmap_phys = iommu_unmap_phys,
	.map_sg = iommu_map_sg,
	.unmap_sg = iommu_unmap_sg,
	.sync_for_cpu = iommu_sync_for_cpu,
	.sync_for_device = iommu_sync_for_device,
	.alloc_coherent = iommu_alloc_coherent,
	.free_coherent = iommu_free_coherent,
	.max_mapping_size = iommu_max_mapping_size,
	.translate = iommu_translate,
	.owns_addr = iommu_owns_addr,
};

/* ---- construction ------------------------------------------------------- */

static int config_error(const struct dmap_env *env, const char *name, const char *what,
			unsigned long long value)
{
	dmap_log(env, DMAP_LOG_ERR, "iommu %s: invalid config: %s (%llx)", name, what, value);
	return -DMAP_EINVAL;
}

int dmap_iommu_domain_create(struct dmap_ctx *ctx, const struct dmap_iommu_config *config,
			     struct dmap_domain **out)
{
	static const struct dmap_iommu_config defaults;
	const struct dmap_iommu_config *cfg = config ? config : &defaults;
	const struct dmap_env *env = dmap_ctx_env(ctx);
	const char *name = cfg->name ? cfg->name : "iommu";
	struct dmap_pgtable_config ptcfg = { 0 };
	struct dmap_iommu_domain *d;
	unsigned int ias, oas, levels = 0, shift;
	size_t granule;
	uint64_t ap_first, ap_last;
	int ret;

	if (!env || !out)
		return -DMAP_EINVAL;
	*out = NULL;
	if (!env->ops->alloc_table_page || !env->ops->free_table_page)
		return config_error(env, name,
				    "environment has no alloc_table_page/free_table_page", 0);
	enum dmap_pgtable_format format = cfg->format ? cfg->format : DMAP_PGTABLE_ARM_LPAE_S1;
	granule = cfg->granule ? cfg->granule : 4096;
	if (format == DMAP_PGTABLE_ARM_LPAE_S1) {
		if (granule != 4096 && granule != 16384 && granule != 65536)
			return config_error(env, name, "ARM granule must be 4K, 16K or 64K",
					    granule);
		ias = cfg->ias ? cfg->ias : 48;
		oas = cfg->oas ? cfg->oas : 48;
		if (ias < 32 || ias > 48)
			return config_error(env, name, "ARM ias must be 32..48", ias);
		if (oas < 32 || oas > 48)
			return config_error(env, name, "ARM oas must be 32..48", oas);
	} else if (format == DMAP_PGTABLE_VTD_SL) {
		if (granule != 4096)
			return config_error(env, name, "VT-d granule must be 4K", granule);
		levels = cfg->levels ? cfg->levels : 4;
		if (levels < 3 || levels > 5)
			return config_error(env, name, "VT-d levels must be 3, 4 or 5", levels);
		ias = 12 + 9 * levels;
		oas = cfg->oas ? cfg->oas : 48;
		if (oas < 32 || oas > 52)
			return config_error(env, name, "VT-d oas must be 32..52", oas);
	} else {
		return config_error(env, name, "unknown page-table format", format);
	}
	shift = dmap_ffs64(granule);
	if (cfg->deferred && cfg->fq_size && !dmap_is_power_of_2(cfg->fq_size))
		return config_error(env, name, "fq_size must be a power of two", cfg->fq_size);
	if (cfg->nr_reserved > DMAP_IOMMU_MAX_RESERVED || (cfg->nr_reserved && !cfg->reserved))
		return config_error(env, name, "too many (or NULL) reserved ranges",
				    cfg->nr_reserved);
	for (unsigned int i = 0; i < cfg->nr_reserved; i++)
		if (cfg->reserved[i].last < cfg->reserved[i].first)
			return config_error(env, name, "reserved range ends before it starts",
					    cfg->reserved[i].first);
	if (cfg->bounce && cfg->bounce->ctx != ctx)
		return config_error(env, name, "bounce domain belongs to another context", 0);
	if (cfg->aperture.first == 0 && cfg->aperture.last == 0) {
		ap_first = granule;
		ap_last = DMAP_BIT_MASK(ias);
	} else {
		ap_first = dmap_align_up(cfg->aperture.first, (uint64_t)granule);
		ap_last = cfg->aperture.last;
		if (((ap_last + 1) & (granule - 1)) != 0)
			ap_last = dmap_align_down(ap_last, (uint64_t)granule) - 1;
		if (ap_first == 0)
			ap_first = granule; /* IOVA 0 is never handed out */
		if (ap_last > DMAP_BIT_MASK(ias) || ap_first > ap_last || ap_first < granule)
			return config_error(env, name, "aperture empty or beyond ias",
					    cfg->aperture.last);
	}

	d = env->ops->alloc(env->cookie, sizeof(*d), 64, DMAP_ALLOC_ZERO);
	if (!d)
		return -DMAP_ENOMEM;
	dmap_memset(d, 0, sizeof(*d));
	d->env = env;
	dmap_strlcpy(d->name, name, sizeof(d->name));
	d->format = format;
	d->granule = granule;
	d->granule_shift = shift;
	d->ias = ias;
	d->oas = oas;
	d->aperture_first = ap_first;
	d->aperture_last = ap_last;
	d->inval_latency_ns = cfg->inval_latency_ns;
	d->use_iotlb = !cfg->no_iotlb;
	dmap_spin_init(&d->orphan_lock);

	ptcfg.format = format;
	ptcfg.pgsize_bitmap = ~(uint64_t)(granule - 1);
	ptcfg.ias = ias;
	ptcfg.oas = oas;
	ptcfg.coherent_walk = !cfg->non_coherent_walk;
	ptcfg.flush = &iommu_flush_ops;
	ptcfg.cookie = d;
	ptcfg.env = env;
	d->pt = dmap_pgtable_alloc(&ptcfg);
	if (!d->pt) {
		ret = -DMAP_ENOMEM;
		goto fail;
	}
	d->pgsize_bitmap = d->pt->cfg.pgsize_bitmap;
	ret = live_create(d);
	if (ret)
		goto fail;

	ret = dmap_iova_create(env, ap_first >> shift, ap_last >> shift, !cfg->no_iova_cache,
			       &d->iovad);
	if (ret)
		goto fail;
	if (format == DMAP_PGTABLE_VTD_SL)
		ret = dmap_iova_reserve(d->iovad, VTD_MSI_FIRST >> shift, VTD_MSI_LAST >> shift);
	for (unsigned int i = 0; !ret && i < cfg->nr_reserved; i++)
		ret = dmap_iova_reserve(d->iovad, cfg->reserved[i].first >> shift,
					cfg->reserved[i].last >> shift);
	if (ret)
		goto fail;
	ret = dmap_iotlb_init(&d->iotlb, env,
			      cfg->iotlb_entries ? cfg->iotlb_entries :
						   IOMMU_DEFAULT_IOTLB_ENTRIES);
	if (ret)
		goto fail;
	if (cfg->bounce) {
		ret = dmap_range_map_create(env, NULL, NULL, &d->bounced);
		if (ret)
			goto fail;
	}
	if (cfg->deferred) {
		ret = dmap_iommu_fq_create(d, cfg->fq_size ? cfg->fq_size : IOMMU_DEFAULT_FQ_SIZE,
					   cfg->fq_timeout_ns ? cfg->fq_timeout_ns :
								IOMMU_DEFAULT_FQ_TIMEOUT_NS);
		if (ret)
			goto fail;
	}
	if (cfg->bounce) {
		ret = dmap_domain_use(cfg->bounce);
		if (ret)
			goto fail;
		d->bounce = cfg->bounce;
	}
	ret = dmap_domain_init(&d->dom, ctx, &dmap_iommu_ops, name);
	if (ret)
		goto fail;
	*out = &d->dom;
	return 0;
fail:
	if (ret == -DMAP_ENOMEM)
		dmap_log(env, DMAP_LOG_ERR, "iommu %s: out of memory creating the domain", name);
	iommu_destroy(&d->dom);
	return ret;
}

/* ---- public calls -------------------------------------------------------- */

static int check_range(struct dmap_iommu_domain *d, const char *call, uint64_t iova, size_t size)
{
	if (!size || iova + size - 1 < iova) {
		dmap_log(d->env, DMAP_LOG_WARN, "iommu %s: %s: bad size %zu at IOVA %llx", d->name,
			 call, size, (unsigned long long)iova);
		return -DMAP_EINVAL;
	}
	if (iova < d->aperture_first || iova + size - 1 > d->aperture_last) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: %s: IOVA range [%llx, +%zx) outside the aperture [%llx, %llx]",
			 d->name, call, (unsigned long long)iova, size,
			 (unsigned long long)d->aperture_first,
			 (unsigned long long)d->aperture_last);
		return -DMAP_ERANGE;
	}
	return 0;
}

int dmap_iommu_map(struct dmap_domain *domain, uint64_t iova, dmap_phys_t phys, size_t size,
		   unsigned int prot)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);
	size_t mapped;
	int ret;

	if (!d)
		return -DMAP_EINVAL;
	if ((iova | phys | size) & (d->granule - 1)) {
		dmap_log(
			d->env, DMAP_LOG_WARN,
			"iommu %s: map: IOVA %llx, phys %llx and size %zx must be %zu-byte aligned",
			d->name, (unsigned long long)iova, (unsigned long long)phys, size,
			d->granule);
		return -DMAP_EINVAL;
	}
	if (!(prot & (DMAP_PROT_READ | DMAP_PROT_WRITE)) || (prot & ~DMAP_PROT_ALL)) {
		dmap_log(d->env, DMAP_LOG_WARN, "iommu %s: map: bad prot %x", d->name, prot);
		return -DMAP_EINVAL;
	}
	ret = check_range(d, "map", iova, size);
	if (ret)
		return ret;
	if (phys + size - 1 < phys || (phys + size - 1) > DMAP_BIT_MASK(d->oas)) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: map: phys [%llx, +%zx) beyond the %u-bit output size", d->name,
			 (unsigned long long)phys, size, d->oas);
		return -DMAP_ERANGE;
	}
	ret = dmap_iova_claim(d->iovad, iova >> d->granule_shift, size >> d->granule_shift);
	if (ret) {
		dmap_log(
			d->env, DMAP_LOG_WARN,
			"iommu %s: map: IOVA range [%llx, +%zx) is not free (allocated or reserved)",
			d->name, (unsigned long long)iova, size);
		return ret;
	}
	ret = map_range(d, iova, phys, size, prot, &mapped);
	if (ret) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: map: IOVA %llx -> phys %llx size %zx failed: error %d", d->name,
			 (unsigned long long)iova, (unsigned long long)phys, size, ret);
		if (mapped)
			unmap_and_release(d, iova, mapped, true, false);
		dmap_iova_free_exact(d->iovad, iova >> d->granule_shift, size >> d->granule_shift);
		return ret;
	}
	{
		struct iommu_live live = { .iova = iova,
					   .len = size,
					   .bus = iova,
					   .size = size,
					   .phys = phys,
					   .kind = IOMMU_LIVE_EXPLICIT };

		ret = live_insert(d, &live);
		if (ret) {
			dmap_log(d->env, DMAP_LOG_WARN,
				 "iommu %s: map: out of memory recording IOVA %llx", d->name,
				 (unsigned long long)iova);
			unmap_and_release(d, iova, size, true, false);
			dmap_iova_free_exact(d->iovad, iova >> d->granule_shift,
					     size >> d->granule_shift);
			return ret;
		}
	}
	return 0;
}

int dmap_iommu_unmap(struct dmap_domain *domain, uint64_t iova, size_t size)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);
	struct iommu_live want, found;
	int ret;

	if (!d)
		return -DMAP_EINVAL;
	if ((iova | size) & (d->granule - 1)) {
		dmap_log(d->env, DMAP_LOG_WARN,
			 "iommu %s: unmap: IOVA %llx and size %zx must be %zu-byte aligned",
			 d->name, (unsigned long long)iova, size, d->granule);
		return -DMAP_EINVAL;
	}
	ret = check_range(d, "unmap", iova, size);
	if (ret)
		return ret;
	want = (struct iommu_live){
		.iova = iova, .bus = iova, .size = size, .kind = IOMMU_LIVE_EXPLICIT
	};
	ret = live_get(d, &want, true, &found);
	if (ret) {
		live_report(d, NULL, "dmap_iommu_unmap", iova, size, ret, &found);
		return ret;
	}
	if (!unmap_and_release(d, iova, size, true, false)) {
		dmap_log(d->env, DMAP_LOG_WARN, "iommu %s: unmap: nothing mapped at IOVA %llx",
			 d->name, (unsigned long long)iova);
		return -DMAP_ENOENT;
	}
	return dmap_iova_free_exact(d->iovad, iova >> d->granule_shift, size >> d->granule_shift);
}

dmap_phys_t dmap_iommu_iova_to_phys(struct dmap_domain *domain, uint64_t iova)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);

	return d ? d->pt->ops->iova_to_phys(d->pt, iova) : 0;
}

int dmap_iommu_iova_lookup(struct dmap_domain *domain, uint64_t iova, dmap_phys_t *phys)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);
	dmap_phys_t p;

	if (!d || !phys)
		return -DMAP_EINVAL;
	*phys = 0;
	if (iova < d->aperture_first || iova > d->aperture_last || !table_lookup(d, iova, &p))
		return -DMAP_ENOENT;
	*phys = p;
	return 0;
}

int dmap_iommu_flush_all(struct dmap_domain *domain)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);

	if (!d)
		return -DMAP_EINVAL;
	if (d->fq)
		dmap_iommu_fq_flush(d);
	else
		dmap_iommu_tlb_sync(d, 0, ~(uint64_t)0);
	return 0;
}

int dmap_iommu_flush_range(struct dmap_domain *domain, uint64_t iova, size_t size)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);
	int ret;

	if (!d)
		return -DMAP_EINVAL;
	ret = check_range(d, "flush_range", iova, size);
	if (ret)
		return ret;
	dmap_iommu_tlb_sync(d, iova, iova + size - 1);
	return 0;
}

int dmap_iommu_poll(struct dmap_domain *domain)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);

	if (!d)
		return -DMAP_EINVAL;
	return dmap_iommu_fq_poll(d) ? 1 : 0;
}

int dmap_iommu_get_stats(struct dmap_domain *domain, struct dmap_iommu_stats *out)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);
	struct dmap_iova_stats is;
	struct dmap_iommu_fq_stats fs;

	if (!d || !out)
		return -DMAP_EINVAL;
	dmap_memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < IOMMU_SHARDS; i++) {
		out->iotlb_hits += dmap_load_relaxed(&d->shards[i].iotlb_hits);
		out->iotlb_misses += dmap_load_relaxed(&d->shards[i].iotlb_misses);
		out->iotlb_fills += dmap_load_relaxed(&d->shards[i].iotlb_fills);
		out->walk_faults += dmap_load_relaxed(&d->shards[i].walk_faults);
	}
	out->iotlb_invalidations = dmap_load_relaxed(&d->iotlb_invalidations);
	out->iotlb_entries = dmap_iotlb_count(&d->iotlb);
	dmap_iova_get_stats(d->iovad, &is);
	out->iova_cache_hits = is.cache_hits;
	out->iova_cache_misses = is.cache_misses;
	out->iova_failures = is.failures;
	out->iova_free_ranges = is.free_ranges;
	dmap_iommu_fq_get_stats(d, &fs);
	out->fq_queued = fs.queued;
	out->fq_flushes = fs.flushes;
	out->fq_full_flushes = fs.full_flushes;
	out->fq_timeout_flushes = fs.timeout_flushes;
	out->fq_strict_fallbacks = fs.strict_fallbacks;
	out->bounced_maps = dmap_load_relaxed(&d->bounced_maps);
	out->table_pages_freed = dmap_load_relaxed(&d->table_pages_freed);
	return 0;
}

struct dump_ctx {
	const struct dmap_env *env;
	struct dmap_iommu_dump *dump;
	size_t capacity;
	int error;
};

static int dump_count(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
		      size_t size)
{
	struct dump_ctx *c = arg;

	(void)level;
	(void)phys;
	(void)table;
	(void)size;
	c->capacity++;
	return 0;
}

static int dump_copy(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
		     size_t size)
{
	struct dump_ctx *c = arg;
	struct dmap_iommu_table_page *p;

	if (c->dump->nr_pages == c->capacity)
		return -DMAP_EBUSY; /* the tables grew: the caller broke the contract */
	p = &c->dump->pages[c->dump->nr_pages];
	p->bytes = c->env->ops->alloc(c->env->cookie, size, 16, 0);
	if (!p->bytes)
		return -DMAP_ENOMEM;
	dmap_memcpy(p->bytes, table, size);
	p->level = level;
	p->phys = phys;
	p->size = size;
	c->dump->nr_pages++;
	return 0;
}

int dmap_iommu_dump_tables(struct dmap_domain *domain, struct dmap_iommu_dump **out)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);
	struct dump_ctx c = { 0 };
	struct dmap_iommu_dump *dump;
	int ret;

	if (!d || !out)
		return -DMAP_EINVAL;
	c.env = d->env;
	ret = d->pt->ops->dump(d->pt, dump_count, &c);
	if (ret)
		return ret;
	dump = dmap_env_alloc(d->env, sizeof(*dump), DMAP_ALLOC_ZERO);
	if (!dump)
		return -DMAP_ENOMEM;
	dmap_memset(dump, 0, sizeof(*dump));
	dump->pages = dmap_env_alloc(d->env, (c.capacity ? c.capacity : 1) * sizeof(*dump->pages),
				     DMAP_ALLOC_ZERO);
	if (!dump->pages) {
		dmap_env_free(d->env, dump, sizeof(*dump));
		return -DMAP_ENOMEM;
	}
	dump->pages_allocated = c.capacity ? c.capacity : 1;
	c.dump = dump;
	dump->format = d->format;
	dump->granule = d->granule;
	dump->ias = d->ias;
	dump->oas = d->oas;
	if (d->format == DMAP_PGTABLE_ARM_LPAE_S1) {
		dump->root = d->pt->cfg.out.arm.ttbr;
		dump->arm_tcr = d->pt->cfg.out.arm.tcr;
		dump->arm_mair = d->pt->cfg.out.arm.mair;
		dump->levels = d->pt->cfg.out.arm.levels;
		dump->start_level = d->pt->cfg.out.arm.start_level;
	} else {
		dump->root = d->pt->cfg.out.vtd.root;
		dump->levels = d->pt->cfg.out.vtd.levels;
		dump->start_level = d->pt->cfg.out.vtd.levels;
		dump->vtd_agaw = d->pt->cfg.out.vtd.agaw;
	}
	ret = d->pt->ops->dump(d->pt, dump_copy, &c);
	if (ret) {
		dmap_iommu_dump_free(domain, dump);
		return ret;
	}
	*out = dump;
	return 0;
}

void dmap_iommu_dump_free(struct dmap_domain *domain, struct dmap_iommu_dump *dump)
{
	struct dmap_iommu_domain *d = iommu_from_public(domain);
	const struct dmap_env *env;

	if (!dump || !d)
		return;
	env = d->env;
	for (size_t i = 0; i < dump->nr_pages; i++)
		env->ops->free(env->cookie, dump->pages[i].bytes, dump->pages[i].size);
	env->ops->free(env->cookie, dump->pages, dump->pages_allocated * sizeof(*dump->pages));
	env->ops->free(env->cookie, dump, sizeof(*dump));
}

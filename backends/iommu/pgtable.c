/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/pgtable.c - what every page-table format shares: the
 * constructor dispatch, table-page allocation through the environment, the
 * deferred free of table pages (the gather freelist) and cache maintenance
 * for non-coherent walkers.
 *
 * Why a separate file: the formats differ only in descriptor layout and walk
 * rules; the life cycle of a table page does not. A page is allocated
 * zeroed from env->ops->alloc_table_page, which also returns the physical
 * address the hardware (or the device-side software walk) uses to reach it;
 * it becomes visible with a release compare-and-swap on its parent PTE; when
 * it is unlinked, the walk caches of the unit may still hold it, so it is
 * freed only after flush_walk returned, or - with a flush queue - after the
 * owner's deferred flush, by dmap_pgtable_gather_release().
 *
 * The freelist needs no allocation in the unmap path (which may run where
 * allocation fails): a retired page carries its own list node in its first
 * 32 bytes. The unit no longer walks it (the parent entry is clear and
 * flush_walk invalidated the walk caches); a software walker that raced with
 * the unlink and still reads the page finds four words whose low two bits are
 * zero - pointers, a 4 KiB-aligned physical address and a power-of-two size -
 * which both formats read as invalid entries, so it faults instead of
 * translating through garbage.
 *
 * Shadow nodes: the CPU side does not read tables at their physical
 * addresses. The walker must (it models hardware, which only has the
 * physical address), but asking the environment for a CPU pointer at every
 * level of every map and unmap cost a range-map lookup inside an RCU read
 * section per level - two thirds of a 4 KiB map+unmap. So every table page
 * has a small node holding its CPU pointer and physical address, and tables
 * that may point to tables have one child slot per entry with the child's
 * node. The hardware entry stays the truth: a slot is trusted only when its
 * node's physical address equals the entry's, so a reader never follows a
 * slot the entry does not back. Installers allocate the table page and its
 * node together, publish the entry with compare-and-swap (as before), then
 * the slot; a thread that meanwhile finds the entry but not yet the slot
 * takes the slow path - env phys_to_virt, exactly the old descent - and
 * publishes a node itself (compare-and-swap; the loser frees its node), so
 * nobody ever waits for another thread. Nodes are read only by map/unmap,
 * which the io-pgtable contract keeps off each other's ranges, and the
 * range of a removed table is the remover's alone; so a node is freed as
 * soon as its entry is cleared, with no grace period (the walker and
 * iova_to_phys, which may run concurrently with anything, never read
 * nodes). Memory: 16 bytes per leaf table, one pointer per entry for the
 * others (1/512 of the leaf tables with 4K granules), from env alloc.
 */
#include "pgtable.h"

#include <dmap/helpers.h>

const char *dmap_pgtable_format_name(enum dmap_pgtable_format format)
{
	switch (format) {
	case DMAP_PGTABLE_ARM_LPAE_S1:
		return "arm-lpae-s1";
	case DMAP_PGTABLE_VTD_SL:
		return "vtd-sl";
	}
	return "unknown";
}

static const struct dmap_pgtable_format_ops *format_ops(enum dmap_pgtable_format format)
{
	switch (format) {
	case DMAP_PGTABLE_ARM_LPAE_S1:
		return &dmap_pgtable_arm_lpae_s1_ops;
	case DMAP_PGTABLE_VTD_SL:
		return &dmap_pgtable_vtd_sl_ops;
	}
	return NULL;
}

struct dmap_pgtable *dmap_pgtable_alloc(struct dmap_pgtable_config *cfg)
{
	const struct dmap_pgtable_format_ops *fops;

	if (!cfg || !cfg->env || !cfg->env->ops)
		return NULL; /* nowhere to log */
	fops = format_ops(cfg->format);
	if (!fops) {
		dmap_log(cfg->env, DMAP_LOG_ERR, "iommu pgtable: unknown page-table format %d",
			 (int)cfg->format);
		return NULL;
	}
	if (!cfg->env->ops->alloc_table_page || !cfg->env->ops->free_table_page ||
	    !cfg->env->ops->phys_to_virt) {
		dmap_log(
			cfg->env, DMAP_LOG_ERR,
			"iommu pgtable %s: the environment lacks alloc_table_page, free_table_page or phys_to_virt",
			dmap_pgtable_format_name(cfg->format));
		return NULL;
	}
	if (cfg->quirks & ~DMAP_PGTABLE_QUIRK_ALL) {
		dmap_log(cfg->env, DMAP_LOG_ERR, "iommu pgtable %s: unknown quirk bits 0x%x",
			 dmap_pgtable_format_name(cfg->format),
			 cfg->quirks & ~DMAP_PGTABLE_QUIRK_ALL);
		return NULL;
	}
	if (cfg->flush &&
	    (!cfg->flush->flush_all || !cfg->flush->flush_walk || !cfg->flush->add_page)) {
		dmap_log(cfg->env, DMAP_LOG_ERR,
			 "iommu pgtable %s: flush ops need flush_all, flush_walk and add_page",
			 dmap_pgtable_format_name(cfg->format));
		return NULL;
	}
	return fops->alloc(cfg);
}

void dmap_pgtable_free(struct dmap_pgtable *pt)
{
	const struct dmap_pgtable_format_ops *fops;

	if (!pt)
		return;
	fops = format_ops(pt->cfg.format);
	if (fops)
		fops->free(pt);
}

void dmap_iommu_gather_init(struct dmap_iommu_gather *g)
{
	if (!g)
		return;
	g->start = ~(uint64_t)0;
	g->end = 0;
	g->pgsize = 0;
	g->freelist = NULL;
	g->queued = false;
}

void dmap_pgtable_gather_range(struct dmap_iommu_gather *gather, uint64_t iova, size_t size,
			       size_t granule)
{
	uint64_t last = iova + size - 1;

	if (!gather || !size)
		return;
	if (iova < gather->start)
		gather->start = iova;
	if (last > gather->end)
		gather->end = last;
	if (!gather->pgsize || granule < gather->pgsize)
		gather->pgsize = granule;
}

void *dmap_pgtable_page_alloc(const struct dmap_pgtable_config *cfg, size_t size, dmap_phys_t *phys)
{
	const struct dmap_env *env = cfg->env;
	void *va = env->ops->alloc_table_page(env->cookie, size, phys);

	if (!va) {
		dmap_log(env, DMAP_LOG_WARN,
			 "iommu pgtable %s: no memory for a %zu-byte table page",
			 dmap_pgtable_format_name(cfg->format), size);
		return NULL;
	}
	if (!dmap_is_aligned(*phys, (dmap_phys_t)size) ||
	    (cfg->oas < 64 && (*phys + size - 1) >> cfg->oas)) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"iommu pgtable %s: table page at phys 0x%llx (%zu bytes) is misaligned or beyond the %u-bit output size",
			dmap_pgtable_format_name(cfg->format), (unsigned long long)*phys, size,
			cfg->oas);
		env->ops->free_table_page(env->cookie, va, *phys, size);
		return NULL;
	}
	/* A non-coherent walker must not find stale lines over the zeroes. */
	if (!cfg->coherent_walk && env->ops->cache_clean)
		env->ops->cache_clean(env->cookie, va, size);
	return va;
}

void dmap_pgtable_page_free(const struct dmap_pgtable_config *cfg, void *va, dmap_phys_t phys,
			    size_t size)
{
	cfg->env->ops->free_table_page(cfg->env->cookie, va, phys, size);
}

void dmap_pgtable_page_retire(const struct dmap_pgtable_config *cfg,
			      struct dmap_iommu_gather *gather, void *va, dmap_phys_t phys,
			      size_t size)
{
	struct dmap_pgtable_freelist *node = va;

	if (!gather || !gather->queued) {
		dmap_pgtable_page_free(cfg, va, phys, size);
		return;
	}
	/*
	 * Atomic stores: a software walker may still load these words as PTEs
	 * (see the essay above); plain stores would be a data race.
	 */
	__atomic_store_n(&node->next, gather->freelist, __ATOMIC_RELAXED);
	__atomic_store_n(&node->va, va, __ATOMIC_RELAXED);
	__atomic_store_n(&node->phys, phys, __ATOMIC_RELAXED);
	__atomic_store_n(&node->size, size, __ATOMIC_RELAXED);
	gather->freelist = node;
}

void dmap_pgtable_retire_replaced(struct dmap_pgtable *pt, struct dmap_iommu_gather *g)
{
	const struct dmap_pgtable_flush_ops *flush = pt->cfg.flush;

	if (!g->freelist)
		return;
	if (flush && flush->retire_tables) {
		flush->retire_tables(g->freelist, pt->cfg.cookie);
		g->freelist = NULL;
		return;
	}
	dmap_pgtable_gather_release(pt, g);
}

void dmap_pgtable_gather_release(struct dmap_pgtable *pt, struct dmap_iommu_gather *g)
{
	struct dmap_pgtable_freelist *node;

	if (!pt || !g)
		return;
	node = g->freelist;
	g->freelist = NULL;
	while (node) {
		struct dmap_pgtable_freelist *next = __atomic_load_n(&node->next, __ATOMIC_RELAXED);
		void *va = __atomic_load_n(&node->va, __ATOMIC_RELAXED);
		dmap_phys_t phys = __atomic_load_n(&node->phys, __ATOMIC_RELAXED);
		size_t size = __atomic_load_n(&node->size, __ATOMIC_RELAXED);

		dmap_pgtable_page_free(&pt->cfg, va, phys, size);
		node = next;
	}
}

void *dmap_pgtable_phys_to_virt(const struct dmap_pgtable_config *cfg, dmap_phys_t phys)
{
	size_t contig = 0;

	return cfg->env->ops->phys_to_virt(cfg->env->cookie, phys, &contig);
}

struct dmap_pgtable_node *dmap_pgtable_node_alloc(const struct dmap_pgtable_config *cfg,
						  uint64_t *ptes, dmap_phys_t phys, size_t slots)
{
	size_t size = sizeof(struct dmap_pgtable_node) + slots * sizeof(struct dmap_pgtable_node *);
	struct dmap_pgtable_node *node = cfg->env->ops->alloc(cfg->env->cookie, size, 16,
							      DMAP_ALLOC_ATOMIC | DMAP_ALLOC_ZERO);

	if (!node) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable %s: no memory for the %zu-byte node of table phys 0x%llx",
			 dmap_pgtable_format_name(cfg->format), size, (unsigned long long)phys);
		return NULL;
	}
	dmap_memset(node, 0, size);
	node->ptes = ptes;
	node->phys = phys;
	return node;
}

void dmap_pgtable_node_free(const struct dmap_pgtable_config *cfg, struct dmap_pgtable_node *node,
			    size_t slots)
{
	if (node)
		cfg->env->ops->free(cfg->env->cookie, node,
				    sizeof(*node) + slots * sizeof(struct dmap_pgtable_node *));
}

struct dmap_pgtable_node *dmap_pgtable_node_slow(const struct dmap_pgtable_config *cfg,
						 struct dmap_pgtable_node *parent, size_t idx,
						 dmap_phys_t table_phys, size_t slots, int *err)
{
	struct dmap_pgtable_node *seen = dmap_load_acquire(&parent->child[idx]);
	struct dmap_pgtable_node *node;
	uint64_t *ptes;

	if (seen && seen->phys == table_phys)
		return seen;
	if (err)
		*err = -DMAP_ENOMEM;
	ptes = dmap_pgtable_phys_to_virt(cfg, table_phys);
	if (!ptes) {
		if (err)
			*err = -DMAP_EINVAL;
		dmap_log(
			cfg->env, DMAP_LOG_ERR,
			"iommu pgtable %s: table at phys 0x%llx is not memory the environment knows",
			dmap_pgtable_format_name(cfg->format), (unsigned long long)table_phys);
		return NULL;
	}
	node = dmap_pgtable_node_alloc(cfg, ptes, table_phys, slots);
	if (!node)
		return NULL;
	return dmap_pgtable_node_publish(cfg, parent, idx, node, slots);
}

struct dmap_pgtable_node *dmap_pgtable_node_publish(const struct dmap_pgtable_config *cfg,
						    struct dmap_pgtable_node *parent, size_t idx,
						    struct dmap_pgtable_node *node, size_t slots)
{
	struct dmap_pgtable_node *seen = dmap_load_acquire(&parent->child[idx]);

	/*
	 * A slot naming another table is stale: that table left this entry and
	 * its remover frees its node (unlinking only if the slot still names
	 * it), so it is simply replaced. Every failed exchange means another
	 * thread changed the slot: lock-free, not wait-free.
	 */
	do {
		if (seen && seen->phys == node->phys) {
			dmap_pgtable_node_free(cfg, node, slots);
			return seen;
		}
	} while (!dmap_cmpxchg(&parent->child[idx], &seen, node));
	return node;
}

/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/pgtable_vtd.c - Intel VT-d second-level (legacy "DMA
 * remapping") page tables: 3, 4 or 5 levels of 4 KiB tables with 512
 * eight-byte entries, 2 MiB and 1 GiB superpages.
 *
 * The format is simpler than Arm's and stricter: an entry is present when
 * its Read or Write bit is set, the unit checks R/W at every level (so
 * non-leaf entries carry R|W and only the leaf restricts), and bits the
 * legacy format does not define are reserved - a set reserved bit is a
 * fault (reason 0xC), not something ignored. So dmap writes exactly R (bit
 * 0), W (bit 1), PS (bit 7, superpage leaves only), SNP (bit 11, only when
 * the unit reports snoop control and the mapping asked for DMAP_PROT_CACHE)
 * and the address (bits 51:12, within the host address width); EMT, IPAT,
 * TM and the execute bit stay zero. Ignored bits 61:52 hold nothing but the
 * software "cleaned" mark of non-coherent walks (bit 52).
 *
 * Concurrency, overlap checks, block split and deferred table free follow
 * the same rules as the Arm format (see pgtable_arm_lpae.c for the essay):
 * lock-free compare-and-swap install of tables, -EEXIST found before any
 * write, an empty table may be replaced by a superpage, a partial unmap of a
 * superpage swaps in a next-level table without the hole. The walk reads
 * every table through env phys_to_virt at its physical address, as the unit
 * does with its root from the context entry's SLPTPTR; map and unmap find
 * tables through the shadow nodes of pgtable.c instead.
 */
#include "pgtable.h"

#include <dmap/helpers.h>

#define VTD_PAGE_SHIFT 12
#define VTD_LEVEL_STRIDE 9
#define VTD_ENTRIES 512
#define VTD_TABLE_SIZE 4096
#define VTD_PRESENT (DMAP_VTD_PTE_READ | DMAP_VTD_PTE_WRITE)

struct vtd_pt {
	struct dmap_pgtable pt;
	unsigned int levels; /* 3..5 */
	uint64_t *root;
	dmap_phys_t root_phys;
	struct dmap_pgtable_node *root_node;
	uint64_t addr_mask; /* bits 51:12 limited to oas */
};

static inline struct vtd_pt *to_vtd(struct dmap_pgtable *pt)
{
	return dmap_container_of(pt, struct vtd_pt, pt);
}

static inline unsigned int lvl_shift(unsigned int lvl)
{
	return VTD_PAGE_SHIFT + (lvl - 1) * VTD_LEVEL_STRIDE;
}

static inline size_t lvl_idx(uint64_t iova, unsigned int lvl)
{
	return (size_t)((iova >> lvl_shift(lvl)) & (VTD_ENTRIES - 1));
}

static inline uint64_t lvl_size(unsigned int lvl)
{
	return (uint64_t)1 << lvl_shift(lvl);
}

static inline bool pte_present(uint64_t pte)
{
	return (pte & VTD_PRESENT) != 0;
}

/* A present entry that points to a next-level table (not a leaf). */
static inline bool pte_is_table(uint64_t pte, unsigned int lvl)
{
	return lvl > 1 && pte_present(pte) && !(pte & DMAP_VTD_PTE_PS);
}

static uint64_t *table_va(struct vtd_pt *d, uint64_t pte)
{
	return dmap_pgtable_phys_to_virt(&d->pt.cfg, pte & d->addr_mask);
}

/* Child slots of the node of a table at level @lvl: only tables above the leaf level. */
static inline size_t node_slots(unsigned int lvl)
{
	return lvl > 1 ? VTD_ENTRIES : 0;
}

/* Node of the table that entry @idx (@pte, level @lvl) of @parent points to. */
static inline struct dmap_pgtable_node *child_node(struct vtd_pt *d,
						   struct dmap_pgtable_node *parent, size_t idx,
						   uint64_t pte, unsigned int lvl, int *err)
{
	return dmap_pgtable_child(&d->pt.cfg, parent, idx, pte & d->addr_mask, node_slots(lvl - 1),
				  err);
}

static uint64_t sync_table_pte(struct vtd_pt *d, uint64_t *ptep, uint64_t pte)
{
	uint64_t expected = pte;

	if (d->pt.cfg.coherent_walk || (pte & DMAP_VTD_PTE_SW_SYNC))
		return pte;
	dmap_pgtable_sync_ptes(&d->pt.cfg, ptep, 1);
	if (dmap_cmpxchg(ptep, &expected, pte | DMAP_VTD_PTE_SW_SYNC))
		return pte | DMAP_VTD_PTE_SW_SYNC;
	return expected;
}

static uint64_t install_table(struct vtd_pt *d, uint64_t *ptep, uint64_t curr,
			      dmap_phys_t table_phys)
{
	uint64_t new = (table_phys & d->addr_mask) | VTD_PRESENT;
	uint64_t old = curr;

	dmap_dma_wmb();
	if (!dmap_cmpxchg(ptep, &old, new))
		return old;
	return sync_table_pte(d, ptep, new);
}

static void free_child(struct vtd_pt *d, struct dmap_pgtable_node *parent, size_t idx, uint64_t pte,
		       unsigned int lvl, struct dmap_iommu_gather *gather);

/* Free (or retire) table @ptes/@phys of level @lvl, every table below it and their nodes. */
static void free_table(struct vtd_pt *d, uint64_t *ptes, dmap_phys_t phys,
		       struct dmap_pgtable_node *node, unsigned int lvl,
		       struct dmap_iommu_gather *gather)
{
	if (lvl > 1) {
		for (size_t i = 0; i < VTD_ENTRIES; i++) {
			uint64_t c = dmap_load_relaxed(&ptes[i]);

			if (pte_is_table(c, lvl))
				free_child(d, node, i, c, lvl, gather);
		}
	}
	dmap_pgtable_page_retire(&d->pt.cfg, gather, ptes, phys, VTD_TABLE_SIZE);
	dmap_pgtable_node_free(&d->pt.cfg, node, node_slots(lvl));
}

/* Entry @idx of @parent (level @lvl) no longer holds table @pte: free what was below. */
static void free_child(struct vtd_pt *d, struct dmap_pgtable_node *parent, size_t idx, uint64_t pte,
		       unsigned int lvl, struct dmap_iommu_gather *gather)
{
	dmap_phys_t phys = pte & d->addr_mask;
	struct dmap_pgtable_node *child = parent ? dmap_load_acquire(&parent->child[idx]) : NULL;
	uint64_t *ptes;

	if (child && child->phys == phys) {
		dmap_pgtable_unlink_child(parent, idx, child);
		free_table(d, child->ptes, phys, child, lvl - 1, gather);
		return;
	}
	ptes = table_va(d, pte);
	if (ptes)
		free_table(d, ptes, phys, NULL, lvl - 1, gather);
}

static bool range_has_leaf(struct vtd_pt *d, struct dmap_pgtable_node *node, unsigned int lvl,
			   uint64_t start, uint64_t end)
{
	uint64_t bsize = lvl_size(lvl);

	for (uint64_t addr = start;;) {
		size_t idx = lvl_idx(addr, lvl);
		uint64_t pte = dmap_load_acquire(&node->ptes[idx]);
		uint64_t stop = (addr | (bsize - 1)) < end ? (addr | (bsize - 1)) : end;

		if (pte_present(pte)) {
			struct dmap_pgtable_node *child;

			if (!pte_is_table(pte, lvl))
				return true;
			child = child_node(d, node, idx, pte, lvl, NULL);
			if (!child || range_has_leaf(d, child, lvl - 1, addr, stop))
				return true;
		}
		if (stop >= end)
			return false;
		addr = stop + 1;
	}
}

static long map_chunk(struct vtd_pt *d, uint64_t iova, dmap_phys_t paddr, unsigned int target,
		      size_t count, uint64_t attrs)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	struct dmap_pgtable_node *node = d->root_node;
	uint64_t bsize = lvl_size(target);
	uint64_t *table;
	size_t idx, n;

	for (unsigned int lvl = d->levels; lvl > target; lvl--) {
		size_t slot = lvl_idx(iova, lvl);
		uint64_t *ptep = &node->ptes[slot];
		uint64_t pte = dmap_load_acquire(ptep);
		struct dmap_pgtable_node *child = NULL;
		int err = -DMAP_ENOMEM;

		if (!pte_present(pte)) {
			dmap_phys_t phys;
			uint64_t *fresh = dmap_pgtable_page_alloc(cfg, VTD_TABLE_SIZE, &phys);

			if (!fresh)
				return -DMAP_ENOMEM;
			child = dmap_pgtable_node_alloc(cfg, fresh, phys, node_slots(lvl - 1));
			if (!child) {
				dmap_pgtable_page_free(cfg, fresh, phys, VTD_TABLE_SIZE);
				return -DMAP_ENOMEM;
			}
			pte = install_table(d, ptep, pte, phys);
			if ((pte & d->addr_mask) != phys || !pte_is_table(pte, lvl)) {
				dmap_pgtable_node_free(cfg, child, node_slots(lvl - 1));
				dmap_pgtable_page_free(cfg, fresh, phys, VTD_TABLE_SIZE);
				child = NULL;
			} else {
				child = dmap_pgtable_node_publish(cfg, node, slot, child,
								  node_slots(lvl - 1));
			}
		}
		if (!pte_is_table(pte, lvl))
			return -DMAP_EEXIST;
		pte = sync_table_pte(d, ptep, pte);
		if (!child)
			child = child_node(d, node, slot, pte, lvl, &err);
		if (!child)
			return err; /* logged: not memory the environment knows, or no node */
		node = child;
	}

	table = node->ptes;
	idx = lvl_idx(iova, target);
	n = VTD_ENTRIES - idx;
	if (n > count)
		n = count;
	for (size_t i = 0; i < n; i++) {
		uint64_t *ptep = &table[idx + i];
		uint64_t cur = dmap_load_acquire(ptep);
		uint64_t leaf = ((paddr + i * bsize) & d->addr_mask) | attrs;

		if (cur) {
			struct dmap_pgtable_node *child =
				pte_is_table(cur, target) ?
					child_node(d, node, idx + i, cur, target, NULL) :
					NULL;
			uint64_t addr = iova + i * bsize;
			struct dmap_iommu_gather replaced;

			if (!child ||
			    range_has_leaf(d, child, target - 1, addr, addr + bsize - 1) ||
			    !dmap_cmpxchg(ptep, &cur, leaf)) {
				dmap_pgtable_sync_ptes(cfg, &table[idx], i);
				return i ? (long)i : -DMAP_EEXIST;
			}
			dmap_pgtable_sync_ptes(cfg, ptep, 1);
			if (cfg->flush)
				cfg->flush->flush_walk(addr, bsize, (size_t)1 << VTD_PAGE_SHIFT,
						       cfg->cookie);
			/*
			 * A walker that read the old table descriptor may still be
			 * inside the table: retire it the way unmap does (after an
			 * RCU grace period when the owner provides retire_tables).
			 */
			dmap_iommu_gather_init(&replaced);
			replaced.queued = true;
			free_child(d, node, idx + i, cur, target, &replaced);
			dmap_pgtable_retire_replaced(&d->pt, &replaced);
			continue;
		}
		dmap_store_release(ptep, leaf);
	}
	dmap_pgtable_sync_ptes(cfg, &table[idx], n);
	return (long)n;
}

static unsigned int level_for_size(const struct vtd_pt *d, size_t pgsize)
{
	for (unsigned int lvl = 1; lvl <= 3 && lvl <= d->levels; lvl++)
		if (lvl_size(lvl) == pgsize)
			return lvl;
	return 0;
}

static int check_range(struct vtd_pt *d, const char *op, uint64_t iova, size_t pgsize,
		       size_t pgcount)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	uint64_t size;

	if (!pgsize || !dmap_is_power_of_2(pgsize) || !(cfg->pgsize_bitmap & pgsize)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable vtd-sl: %s: page size 0x%zx not in the supported sizes 0x%llx",
			op, pgsize, (unsigned long long)cfg->pgsize_bitmap);
		return -DMAP_EINVAL;
	}
	if (!pgcount) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable vtd-sl: %s: zero page count at iova 0x%llx", op,
			 (unsigned long long)iova);
		return -DMAP_EINVAL;
	}
	if (!dmap_is_aligned(iova, (uint64_t)pgsize)) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable vtd-sl: %s: iova 0x%llx not aligned to page size 0x%zx", op,
			 (unsigned long long)iova, pgsize);
		return -DMAP_EINVAL;
	}
	size = (uint64_t)pgsize * pgcount;
	if ((uint64_t)pgcount > ~(uint64_t)0 / pgsize || iova + size - 1 < iova ||
	    ((iova + size - 1) >> cfg->ias)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable vtd-sl: %s: iova 0x%llx + %zu pages of 0x%zx beyond the %u-bit input size",
			op, (unsigned long long)iova, pgcount, pgsize, cfg->ias);
		return -DMAP_ERANGE;
	}
	return 0;
}

static int vtd_map_pages(struct dmap_pgtable *pt, uint64_t iova, dmap_phys_t paddr, size_t pgsize,
			 size_t pgcount, unsigned int prot, size_t *mapped)
{
	struct vtd_pt *d;
	const struct dmap_pgtable_config *cfg;
	unsigned int target;
	uint64_t attrs = 0, size;
	int ret;

	if (!pt || !mapped)
		return -DMAP_EINVAL;
	d = to_vtd(pt);
	cfg = &pt->cfg;
	ret = check_range(d, "map", iova, pgsize, pgcount);
	if (ret)
		return ret;
	if (!(prot & (DMAP_PROT_READ | DMAP_PROT_WRITE)) || (prot & ~DMAP_PROT_ALL)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable vtd-sl: map: bad prot 0x%x at iova 0x%llx (need READ or WRITE, no unknown bits)",
			prot, (unsigned long long)iova);
		return -DMAP_EINVAL;
	}
	if (!dmap_is_aligned(paddr, (dmap_phys_t)pgsize)) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable vtd-sl: map: phys 0x%llx not aligned to page size 0x%zx",
			 (unsigned long long)paddr, pgsize);
		return -DMAP_EINVAL;
	}
	size = (uint64_t)pgsize * pgcount;
	if ((paddr >> cfg->oas) || paddr + size - 1 < paddr || ((paddr + size - 1) >> cfg->oas)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable vtd-sl: map: phys 0x%llx + 0x%llx beyond the %u-bit output size",
			(unsigned long long)paddr, (unsigned long long)size, cfg->oas);
		return -DMAP_ERANGE;
	}
	target = level_for_size(d, pgsize);
	if (!target)
		return -DMAP_EINVAL;
	/*
	 * Several pages: find any conflict before writing, so -EEXIST changes
	 * nothing. One page needs no scan: map_chunk() allocates tables only
	 * where an entry is empty (so nothing below it can conflict) and checks
	 * the target entry before writing it.
	 */
	if (pgcount > 1 && range_has_leaf(d, d->root_node, d->levels, iova, iova + size - 1)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable vtd-sl: map: iova 0x%llx + 0x%llx overlaps an existing mapping",
			(unsigned long long)iova, (unsigned long long)size);
		return -DMAP_EEXIST;
	}

	if (prot & DMAP_PROT_READ)
		attrs |= DMAP_VTD_PTE_READ;
	if (prot & DMAP_PROT_WRITE)
		attrs |= DMAP_VTD_PTE_WRITE;
	if (target > 1)
		attrs |= DMAP_VTD_PTE_PS;
	if ((prot & DMAP_PROT_CACHE) && (cfg->quirks & DMAP_PGTABLE_QUIRK_VTD_SNOOP_CTL))
		attrs |= DMAP_VTD_PTE_SNP;

	while (pgcount) {
		long n = map_chunk(d, iova, paddr, target, pgcount, attrs);

		if (n < 0) {
			ret = (int)n;
			if (ret == -DMAP_EEXIST)
				dmap_log(
					cfg->env, DMAP_LOG_WARN,
					"iommu pgtable vtd-sl: map: iova 0x%llx + 0x%zx overlaps an existing mapping",
					(unsigned long long)iova, pgsize);
			break;
		}
		*mapped += (size_t)n * pgsize;
		iova += (uint64_t)n * pgsize;
		paddr += (uint64_t)n * pgsize;
		pgcount -= (size_t)n;
	}
	dmap_dma_wmb();
	return ret;
}

static size_t unmap_level(struct vtd_pt *d, uint64_t iova, size_t size, size_t pgcount,
			  unsigned int lvl, struct dmap_pgtable_node *node,
			  struct dmap_iommu_gather *gather);

static void leaf_unmapped(struct vtd_pt *d, struct dmap_iommu_gather *gather, uint64_t iova,
			  size_t size)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;

	dmap_pgtable_gather_range(gather, iova, size, size);
	if (gather && !gather->queued && cfg->flush)
		cfg->flush->add_page(gather, iova, size, cfg->cookie);
}

static size_t split_superpage(struct vtd_pt *d, uint64_t iova, size_t size, size_t pgcount,
			      unsigned int lvl, struct dmap_pgtable_node *parent, size_t idx,
			      uint64_t blk, struct dmap_iommu_gather *gather)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	unsigned int split_lvl = lvl - 1;
	uint64_t split_sz = lvl_size(split_lvl);
	uint64_t attrs = blk & (DMAP_VTD_PTE_READ | DMAP_VTD_PTE_WRITE | DMAP_VTD_PTE_SNP);
	uint64_t base = blk & d->addr_mask & ~(lvl_size(lvl) - 1);
	size_t hole = VTD_ENTRIES, holes = 0;
	struct dmap_pgtable_node *node;
	dmap_phys_t phys;
	uint64_t *table, pte;

	if (split_lvl > 1)
		attrs |= DMAP_VTD_PTE_PS;
	if (size == split_sz) {
		hole = lvl_idx(iova, split_lvl);
		holes = VTD_ENTRIES - hole < pgcount ? VTD_ENTRIES - hole : pgcount;
	}
	table = dmap_pgtable_page_alloc(cfg, VTD_TABLE_SIZE, &phys);
	if (!table)
		return 0;
	node = dmap_pgtable_node_alloc(cfg, table, phys, node_slots(split_lvl));
	if (!node) {
		dmap_pgtable_page_free(cfg, table, phys, VTD_TABLE_SIZE);
		return 0;
	}
	for (size_t i = 0; i < VTD_ENTRIES; i++) {
		if (i >= hole && i < hole + holes)
			continue;
		dmap_store_relaxed(&table[i], ((base + i * split_sz) & d->addr_mask) | attrs);
	}
	dmap_pgtable_sync_ptes(cfg, table, VTD_ENTRIES);
	pte = install_table(d, &parent->ptes[idx], blk, phys);
	if ((pte & d->addr_mask) != phys || !pte_is_table(pte, lvl)) {
		dmap_pgtable_node_free(cfg, node, node_slots(split_lvl));
		dmap_pgtable_page_free(cfg, table, phys, VTD_TABLE_SIZE);
		if (!pte_is_table(pte, lvl))
			return 0;
		node = child_node(d, parent, idx, pte, lvl, NULL);
		if (!node)
			return 0;
	} else {
		node = dmap_pgtable_node_publish(cfg, parent, idx, node, node_slots(split_lvl));
		if (holes) {
			for (size_t i = 0; i < holes; i++)
				leaf_unmapped(d, gather, iova + i * size, size);
			return holes * size;
		}
	}
	return unmap_level(d, iova, size, pgcount, split_lvl, node, gather);
}

static size_t unmap_level(struct vtd_pt *d, uint64_t iova, size_t size, size_t pgcount,
			  unsigned int lvl, struct dmap_pgtable_node *node,
			  struct dmap_iommu_gather *gather)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	size_t idx = lvl_idx(iova, lvl);
	uint64_t *ptep = &node->ptes[idx];
	uint64_t pte = dmap_load_acquire(ptep);
	struct dmap_pgtable_node *child;

	if (!pte_present(pte))
		return 0;
	if (size == lvl_size(lvl)) {
		size_t n = VTD_ENTRIES - idx, i;

		if (n > pgcount)
			n = pgcount;
		for (i = 0; i < n; i++) {
			uint64_t old = dmap_load_acquire(&ptep[i]);
			uint64_t addr = iova + (uint64_t)i * size;

			if (!pte_present(old))
				break;
			dmap_store_release(&ptep[i], 0);
			dmap_pgtable_sync_ptes(cfg, &ptep[i], 1);
			if (pte_is_table(old, lvl)) {
				dmap_pgtable_gather_range(gather, addr, size,
							  (size_t)1 << VTD_PAGE_SHIFT);
				if (cfg->flush)
					cfg->flush->flush_walk(addr, size,
							       (size_t)1 << VTD_PAGE_SHIFT,
							       cfg->cookie);
				free_child(d, node, idx + i, old, lvl, gather);
			} else {
				leaf_unmapped(d, gather, addr, size);
			}
		}
		return i * size;
	}
	if (!pte_is_table(pte, lvl))
		return lvl > 1 ? split_superpage(d, iova, size, pgcount, lvl, node, idx, pte,
						 gather) :
				 0;
	child = child_node(d, node, idx, pte, lvl, NULL);
	if (!child)
		return 0;
	return unmap_level(d, iova, size, pgcount, lvl - 1, child, gather);
}

static size_t vtd_unmap_pages(struct dmap_pgtable *pt, uint64_t iova, size_t pgsize, size_t pgcount,
			      struct dmap_iommu_gather *gather)
{
	struct vtd_pt *d;
	size_t total = 0;

	if (!pt)
		return 0;
	d = to_vtd(pt);
	if (check_range(d, "unmap", iova, pgsize, pgcount))
		return 0;
	while (pgcount) {
		size_t done =
			unmap_level(d, iova, pgsize, pgcount, d->levels, d->root_node, gather);

		if (!done)
			break;
		total += done;
		iova += done;
		pgcount -= done / pgsize;
	}
	return total;
}

static int vtd_walk(struct dmap_pgtable *pt, uint64_t iova, unsigned int access,
		    struct dmap_pgtable_walk *out, enum dmap_fault_reason *reason,
		    unsigned int *fault_level)
{
	struct vtd_pt *d;
	const struct dmap_pgtable_config *cfg;
	enum dmap_fault_reason why = DMAP_FAULT_TRANSLATION;
	dmap_phys_t phys;
	unsigned int lvl;
	uint64_t pte = 0, leaf_size, oa;

	if (!pt || !out)
		return -DMAP_EINVAL;
	d = to_vtd(pt);
	cfg = &pt->cfg;
	lvl = d->levels;
	phys = d->root_phys;
	if (iova >> cfg->ias) { /* fault reason 0x4: access beyond MGAW */
		why = DMAP_FAULT_ADDR_SIZE;
		goto fault;
	}
	for (;; lvl--) {
		uint64_t *table = dmap_pgtable_phys_to_virt(cfg, phys);

		if (!table)
			goto fault; /* reason 0x7: next page table pointer invalid */
		pte = dmap_load_acquire(&table[lvl_idx(iova, lvl)]);
		if (!pte_present(pte))
			goto fault;
		/* R/W are checked at every level (reasons 0x5 / 0x6). */
		if (((access & DMAP_ACCESS_WRITE) && !(pte & DMAP_VTD_PTE_WRITE)) ||
		    ((access & (DMAP_ACCESS_READ | DMAP_ACCESS_EXEC)) &&
		     !(pte & DMAP_VTD_PTE_READ))) {
			why = DMAP_FAULT_PERMISSION;
			goto fault;
		}
		if (lvl == 1 || (pte & DMAP_VTD_PTE_PS))
			break;
		phys = pte & DMAP_VTD_PTE_ADDR_MASK;
		if (phys >> cfg->oas) {
			why = DMAP_FAULT_ADDR_SIZE;
			goto fault;
		}
	}
	if (lvl > 3) /* PS is reserved in PML4E/PML5E (reason 0xC) */
		goto fault;
	leaf_size = lvl_size(lvl);
	oa = pte & DMAP_VTD_PTE_ADDR_MASK & ~(leaf_size - 1);
	if (oa >> cfg->oas) {
		why = DMAP_FAULT_ADDR_SIZE;
		goto fault;
	}
	out->phys = oa | (iova & (leaf_size - 1));
	out->leaf_size = (size_t)leaf_size;
	out->level = lvl;
	out->perm = ((pte & DMAP_VTD_PTE_READ) ? DMAP_ACCESS_READ | DMAP_ACCESS_EXEC : 0) |
		    ((pte & DMAP_VTD_PTE_WRITE) ? DMAP_ACCESS_WRITE : 0);
	out->pte = pte;
	return 0;
fault:
	if (reason)
		*reason = why;
	if (fault_level)
		*fault_level = lvl;
	return -DMAP_EFAULT;
}

static dmap_phys_t vtd_iova_to_phys(struct dmap_pgtable *pt, uint64_t iova)
{
	struct dmap_pgtable_walk w;

	if (vtd_walk(pt, iova, 0, &w, NULL, NULL))
		return 0;
	return w.phys;
}

static int dump_table(struct vtd_pt *d, uint64_t *table, dmap_phys_t phys, unsigned int lvl,
		      int (*emit)(void *, unsigned int, dmap_phys_t, const void *, size_t),
		      void *arg)
{
	int ret = emit(arg, lvl, phys, table, VTD_TABLE_SIZE);

	if (ret)
		return ret;
	for (size_t i = 0; i < VTD_ENTRIES && lvl > 1; i++) {
		uint64_t pte = dmap_load_acquire(&table[i]);
		uint64_t *child;

		if (!pte_is_table(pte, lvl))
			continue;
		child = table_va(d, pte);
		if (!child)
			continue;
		ret = dump_table(d, child, pte & d->addr_mask, lvl - 1, emit, arg);
		if (ret)
			return ret;
	}
	return 0;
}

static int vtd_dump(struct dmap_pgtable *pt,
		    int (*emit)(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
				size_t size),
		    void *arg)
{
	struct vtd_pt *d;

	if (!pt || !emit)
		return -DMAP_EINVAL;
	d = to_vtd(pt);
	return dump_table(d, d->root, d->root_phys, d->levels, emit, arg);
}

static const struct dmap_pgtable_ops vtd_ops = {
	.map_pages = vtd_map_pages,
	.unmap_pages = vtd_unmap_pages,
	.iova_to_phys = vtd_iova_to_phys,
	.walk = vtd_walk,
	.dump = vtd_dump,
};

static struct dmap_pgtable *vtd_alloc(struct dmap_pgtable_config *cfg)
{
	const struct dmap_env *env = cfg->env;
	struct vtd_pt *d;
	unsigned int levels;
	uint64_t sizes;

	if (cfg->ias == 0) {
		levels = cfg->out.vtd.levels;
		if (levels < 3 || levels > 5) {
			dmap_log(
				env, DMAP_LOG_ERR,
				"iommu pgtable vtd-sl: ias 0 needs out.vtd.levels 3, 4 or 5 (got %u)",
				levels);
			return NULL;
		}
		cfg->ias = 30 + VTD_LEVEL_STRIDE * (levels - 2);
	}
	if (cfg->ias < 32 || cfg->ias > 57) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"iommu pgtable vtd-sl: input size %u bits not supported (32..57; 39, 48, 57 are the AGAWs)",
			cfg->ias);
		return NULL;
	}
	levels = (cfg->ias - VTD_PAGE_SHIFT + VTD_LEVEL_STRIDE - 1) / VTD_LEVEL_STRIDE;
	if (levels < 3)
		levels = 3;
	if (cfg->oas < 32 || cfg->oas > 52) {
		dmap_log(env, DMAP_LOG_ERR,
			 "iommu pgtable vtd-sl: output size %u bits not supported (32..52)",
			 cfg->oas);
		return NULL;
	}
	if (!(cfg->pgsize_bitmap & ((uint64_t)1 << VTD_PAGE_SHIFT))) {
		dmap_log(env, DMAP_LOG_ERR,
			 "iommu pgtable vtd-sl: page sizes 0x%llx lack the 4 KiB page",
			 (unsigned long long)cfg->pgsize_bitmap);
		return NULL;
	}
	d = env->ops->alloc(env->cookie, sizeof(*d), 16, DMAP_ALLOC_ZERO);
	if (!d) {
		dmap_log(env, DMAP_LOG_ERR, "iommu pgtable vtd-sl: no memory for the table object");
		return NULL;
	}
	dmap_memset(d, 0, sizeof(*d));
	d->levels = levels;
	d->addr_mask = DMAP_VTD_PTE_ADDR_MASK & DMAP_BIT_MASK(cfg->oas);
	sizes = lvl_size(1) | lvl_size(2) | lvl_size(3);
	cfg->pgsize_bitmap &= sizes;
	d->root = dmap_pgtable_page_alloc(cfg, VTD_TABLE_SIZE, &d->root_phys);
	if (!d->root) {
		env->ops->free(env->cookie, d, sizeof(*d));
		return NULL;
	}
	d->root_node = dmap_pgtable_node_alloc(cfg, d->root, d->root_phys, node_slots(levels));
	if (!d->root_node) {
		dmap_pgtable_page_free(cfg, d->root, d->root_phys, VTD_TABLE_SIZE);
		env->ops->free(env->cookie, d, sizeof(*d));
		return NULL;
	}
	cfg->out.vtd.root = d->root_phys;
	cfg->out.vtd.levels = levels;
	cfg->out.vtd.agaw = levels - 2;
	d->pt.cfg = *cfg;
	d->pt.ops = &vtd_ops;
	return &d->pt;
}

static void vtd_free(struct dmap_pgtable *pt)
{
	struct vtd_pt *d = to_vtd(pt);
	const struct dmap_env *env = pt->cfg.env;

	for (size_t i = 0; i < VTD_ENTRIES; i++) {
		uint64_t pte = dmap_load_relaxed(&d->root[i]);

		if (pte_is_table(pte, d->levels))
			free_child(d, d->root_node, i, pte, d->levels, NULL);
	}
	dmap_pgtable_node_free(&pt->cfg, d->root_node, node_slots(d->levels));
	dmap_pgtable_page_free(&pt->cfg, d->root, d->root_phys, VTD_TABLE_SIZE);
	env->ops->free(env->cookie, d, sizeof(*d));
}

const struct dmap_pgtable_format_ops dmap_pgtable_vtd_sl_ops = {
	.alloc = vtd_alloc,
	.free = vtd_free,
};

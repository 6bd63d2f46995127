/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/pgtable_arm_lpae.c - Arm VMSAv8-64 stage-1 translation
 * tables as an SMMUv3 walks them through a context descriptor (TTB0).
 *
 * Why it looks like Linux's io-pgtable-arm: the tables are read by hardware,
 * so the layout is not ours to choose, and the algorithms around it (how
 * many levels for an input size, where the start level's smaller table
 * sits, how to install tables without a lock, how to split a block) are
 * the ones that have been debugged against real SMMUs for a decade. The
 * code is our own; docs/iommu-formats.md lists every bit with its source.
 *
 * Geometry. A granule of 2^g bytes (4K, 16K, 64K) holds 2^(g-3) eight-byte
 * descriptors, so each level resolves b = g - 3 bits (9, 11, 13). With
 * ias input bits, levels = ceil((ias - g) / b) and the walk starts at level
 * 4 - levels; the start-level table resolves whatever bits are left and may
 * be smaller than a granule (down to two entries). Blocks exist where the
 * architecture allows them without 52-bit extensions: 4K at levels 1 and 2
 * (1G, 2M), 16K and 64K at level 2 (32M, 512M).
 *
 * Lock-free table install. map() never takes a lock. Missing intermediate
 * tables are allocated zeroed, published by a release compare-and-swap of
 * the parent entry from 0 to the table descriptor (after dmap_dma_wmb(), so
 * the zeroes are visible to the walker before the pointer), and the loser of
 * a race frees its page and descends into the winner's table. Leaf entries
 * are written with release stores: the caller guarantees that no two
 * threads map or unmap the same range at once (the io-pgtable contract),
 * but device-side walkers may read any entry at any time, so every PTE access
 * is a single atomic 64-bit load or store.
 *
 * Non-coherent walkers. Every PTE write is followed by env cache_clean. An
 * installed table entry additionally gets the software bit 55 (ignored by
 * hardware) once it has been cleaned, so a thread that finds a table entry
 * installed by another thread, but not yet cleaned, cleans it itself before
 * relying on it ("even if it's not ours, kick it", as Linux says); otherwise
 * its own leaf could be visible to the walker before the path to it.
 *
 * Overlaps. map() first checks, without writing, that nothing in the range
 * is mapped, so -EEXIST leaves the tables exactly as they were. A table
 * left empty by earlier unmaps does not count as a mapping: mapping a block
 * over it swaps the table for the block (compare-and-swap against the table
 * entry), invalidates walk caches with flush_walk and frees the old pages.
 *
 * Unmap and split. Unmapping a leaf clears it and reports it with add_page
 * (unless the gather is queued: the flush queue will flush everything);
 * unmapping a whole table's range clears the table entry, calls flush_walk
 * and frees (or queues on the gather) the pages below. A partial unmap of a
 * block builds the next-level table that replicates the block minus the
 * hole and swaps it in with compare-and-swap against the block entry; the
 * block's TLB entry is invalidated by the add_page of the hole. Like Linux,
 * this replaces a block by a table without break-before-make, which SMMUv3
 * tolerates for same-attribute translations.
 *
 * CPU pointers. map and unmap descend through the shadow nodes of
 * pgtable.c (each table's CPU pointer, and its children's nodes), never
 * through env phys_to_virt, except for the moment between another
 * thread's install of a table and the publication of its node. The walk
 * (the device side) and iova_to_phys read every level at its physical
 * address through phys_to_virt, as the SMMU reads memory.
 */
#include "pgtable.h"

#include <dmap/helpers.h>

#define ARM_MAX_LEVELS 4
#define ARM_MIN_TABLE_ALLOC 512 /* env alloc_table_page minimum; start tables may be smaller */

struct arm_lpae {
	struct dmap_pgtable pt;
	unsigned int pg_shift; /* 12, 14, 16 */
	unsigned int bits_per_level; /* 9, 11, 13 */
	unsigned int start_level; /* 0..3 */
	unsigned int pgd_bits; /* index bits of the start-level table */
	size_t pgd_alloc; /* bytes allocated for it */
	uint64_t *pgd;
	dmap_phys_t pgd_phys;
	struct dmap_pgtable_node *root; /* node of the pgd */
	unsigned int block_levels; /* bit l: blocks allowed at level l */
	uint64_t table_addr_mask; /* next-level table address in a table descriptor */
	/* Per level, precomputed: every map and unmap indexes each level once. */
	unsigned int shift[ARM_MAX_LEVELS]; /* IOVA bits below the level's index */
	size_t idx_mask[ARM_MAX_LEVELS]; /* entries of the level's tables - 1 */
};

static inline struct arm_lpae *to_arm(struct dmap_pgtable *pt)
{
	return dmap_container_of(pt, struct arm_lpae, pt);
}

static inline unsigned int lvl_shift(const struct arm_lpae *d, unsigned int lvl)
{
	return d->shift[lvl];
}

static inline unsigned int lvl_bits(const struct arm_lpae *d, unsigned int lvl)
{
	return lvl == d->start_level ? d->pgd_bits : d->bits_per_level;
}

static inline size_t lvl_entries(const struct arm_lpae *d, unsigned int lvl)
{
	return d->idx_mask[lvl] + 1;
}

static inline size_t lvl_idx(const struct arm_lpae *d, uint64_t iova, unsigned int lvl)
{
	return (size_t)(iova >> d->shift[lvl]) & d->idx_mask[lvl];
}

static inline uint64_t block_size(const struct arm_lpae *d, unsigned int lvl)
{
	return (uint64_t)1 << lvl_shift(d, lvl);
}

static inline size_t table_alloc_size(const struct arm_lpae *d, unsigned int lvl)
{
	size_t bytes = lvl_entries(d, lvl) * sizeof(uint64_t);

	return lvl == d->start_level ? d->pgd_alloc : bytes;
}

static inline bool pte_is_table(uint64_t pte, unsigned int lvl)
{
	return lvl < 3 && (pte & DMAP_ARM_PTE_TYPE_MASK) == DMAP_ARM_PTE_TYPE_TABLE;
}

static inline uint64_t leaf_type(unsigned int lvl)
{
	return lvl == 3 ? DMAP_ARM_PTE_TYPE_PAGE : DMAP_ARM_PTE_TYPE_BLOCK;
}

/* Attribute bits of a leaf for DMAP_PROT_* @prot (type and address excluded). */
static uint64_t prot_to_attrs(unsigned int prot)
{
	uint64_t pte = DMAP_ARM_PTE_AF | DMAP_ARM_PTE_NG;

	if (!(prot & DMAP_PROT_PRIV))
		pte |= DMAP_ARM_PTE_AP_UNPRIV;
	if (!(prot & DMAP_PROT_WRITE))
		pte |= DMAP_ARM_PTE_AP_RDONLY;
	if (prot & DMAP_PROT_MMIO)
		pte |= (uint64_t)DMAP_ARM_MAIR_IDX_DEV << DMAP_ARM_PTE_ATTRINDX_SHIFT;
	else if (prot & DMAP_PROT_CACHE)
		pte |= (uint64_t)DMAP_ARM_MAIR_IDX_CACHE << DMAP_ARM_PTE_ATTRINDX_SHIFT;
	else
		pte |= (uint64_t)DMAP_ARM_MAIR_IDX_NC << DMAP_ARM_PTE_ATTRINDX_SHIFT;
	pte |= (prot & DMAP_PROT_CACHE) ? DMAP_ARM_PTE_SH_IS : DMAP_ARM_PTE_SH_OS;
	if (prot & DMAP_PROT_NOEXEC)
		pte |= DMAP_ARM_PTE_XN;
	return pte;
}

static uint64_t *table_va(struct arm_lpae *d, uint64_t pte)
{
	return dmap_pgtable_phys_to_virt(&d->pt.cfg, pte & d->table_addr_mask);
}

/* Child slots of the node of a table at level @lvl: only tables that may point to tables. */
static inline size_t node_slots(const struct arm_lpae *d, unsigned int lvl)
{
	return lvl < 3 ? lvl_entries(d, lvl) : 0;
}

/* Node of the table that table entry @pte (entry @idx of @parent, level @lvl) points to. */
static inline struct dmap_pgtable_node *child_node(struct arm_lpae *d,
						   struct dmap_pgtable_node *parent, size_t idx,
						   uint64_t pte, unsigned int lvl, int *err)
{
	return dmap_pgtable_child(&d->pt.cfg, parent, idx, pte & d->table_addr_mask,
				  node_slots(d, lvl + 1), err);
}

/*
 * Make an installed table entry visible to a non-coherent walker and mark
 * it so (bit 55). Whoever finds the mark missing cleans: the installer may
 * not have got there yet.
 */
static uint64_t sync_table_pte(struct arm_lpae *d, uint64_t *ptep, uint64_t pte)
{
	uint64_t expected = pte;

	if (d->pt.cfg.coherent_walk || (pte & DMAP_ARM_PTE_SW_SYNC))
		return pte;
	dmap_pgtable_sync_ptes(&d->pt.cfg, ptep, 1);
	if (dmap_cmpxchg(ptep, &expected, pte | DMAP_ARM_PTE_SW_SYNC))
		return pte | DMAP_ARM_PTE_SW_SYNC;
	return expected;
}

/*
 * Install @table_phys under @ptep if it still holds @curr. Returns the entry
 * now there: the new table descriptor if we won, else what the winner left.
 */
static uint64_t install_table(struct arm_lpae *d, uint64_t *ptep, uint64_t curr,
			      dmap_phys_t table_phys)
{
	uint64_t new = (table_phys & d->table_addr_mask) | DMAP_ARM_PTE_TYPE_TABLE;
	uint64_t old = curr;

	dmap_dma_wmb(); /* the table's contents before the pointer to it */
	if (!dmap_cmpxchg(ptep, &old, new))
		return old;
	return sync_table_pte(d, ptep, new);
}

static void free_child(struct arm_lpae *d, struct dmap_pgtable_node *parent, size_t idx,
		       uint64_t pte, unsigned int lvl, struct dmap_iommu_gather *gather);

/*
 * Free (or retire to @gather) the table @ptes/@phys of level @lvl and every
 * table below it, and their nodes (@node may be NULL: none was published).
 */
static void free_table(struct arm_lpae *d, uint64_t *ptes, dmap_phys_t phys,
		       struct dmap_pgtable_node *node, unsigned int lvl,
		       struct dmap_iommu_gather *gather)
{
	if (lvl < 3) {
		for (size_t i = 0; i < lvl_entries(d, lvl); i++) {
			uint64_t c = dmap_load_relaxed(&ptes[i]);

			if (pte_is_table(c, lvl))
				free_child(d, node, i, c, lvl, gather);
		}
	}
	dmap_pgtable_page_retire(&d->pt.cfg, gather, ptes, phys, table_alloc_size(d, lvl));
	dmap_pgtable_node_free(&d->pt.cfg, node, node_slots(d, lvl));
}

/*
 * Entry @idx of @parent (level @lvl) held table descriptor @pte and no
 * longer does: free everything below it. Needs no memory: without a node
 * the table is found through phys_to_virt.
 */
static void free_child(struct arm_lpae *d, struct dmap_pgtable_node *parent, size_t idx,
		       uint64_t pte, unsigned int lvl, struct dmap_iommu_gather *gather)
{
	dmap_phys_t phys = pte & d->table_addr_mask;
	struct dmap_pgtable_node *child = parent ? dmap_load_acquire(&parent->child[idx]) : NULL;
	uint64_t *ptes;

	if (child && child->phys == phys) {
		dmap_pgtable_unlink_child(parent, idx, child);
		free_table(d, child->ptes, phys, child, lvl + 1, gather);
		return;
	}
	ptes = table_va(d, pte);
	if (ptes)
		free_table(d, ptes, phys, NULL, lvl + 1, gather);
}

/* Is anything mapped in [@start, @end] (inclusive) below @node's table of level @lvl? */
static bool range_has_leaf(struct arm_lpae *d, struct dmap_pgtable_node *node, unsigned int lvl,
			   uint64_t start, uint64_t end)
{
	uint64_t bsize = block_size(d, lvl);

	for (uint64_t addr = start;;) {
		size_t idx = lvl_idx(d, addr, lvl);
		uint64_t pte = dmap_load_acquire(&node->ptes[idx]);
		uint64_t block_end = (addr | (bsize - 1));
		uint64_t stop = block_end < end ? block_end : end;

		if (pte & DMAP_ARM_PTE_VALID) {
			struct dmap_pgtable_node *child;

			if (!pte_is_table(pte, lvl))
				return true;
			child = child_node(d, node, idx, pte, lvl, NULL);
			if (!child || range_has_leaf(d, child, lvl + 1, addr, stop))
				return true;
		}
		if (stop >= end)
			return false;
		addr = stop + 1;
	}
}

/*
 * Map up to @count leaves of level @target starting at @iova/@paddr, all in
 * one leaf table. Returns how many were mapped (>= 1) or a negative errno.
 */
static long map_chunk(struct arm_lpae *d, uint64_t iova, dmap_phys_t paddr, unsigned int target,
		      size_t count, uint64_t attrs)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	struct dmap_pgtable_node *node = d->root;
	unsigned int lvl = d->start_level;
	uint64_t bsize = block_size(d, target);
	uint64_t *table;
	size_t idx, n;

	for (; lvl < target; lvl++) {
		size_t slot = lvl_idx(d, iova, lvl);
		uint64_t *ptep = &node->ptes[slot];
		uint64_t pte = dmap_load_acquire(ptep);
		struct dmap_pgtable_node *child = NULL;
		int err = -DMAP_ENOMEM;

		if (!pte) {
			dmap_phys_t phys;
			size_t size = table_alloc_size(d, lvl + 1);
			uint64_t *fresh = dmap_pgtable_page_alloc(cfg, size, &phys);

			if (!fresh)
				return -DMAP_ENOMEM;
			child = dmap_pgtable_node_alloc(cfg, fresh, phys, node_slots(d, lvl + 1));
			if (!child) {
				dmap_pgtable_page_free(cfg, fresh, phys, size);
				return -DMAP_ENOMEM;
			}
			pte = install_table(d, ptep, 0, phys);
			if ((pte & d->table_addr_mask) != phys || !pte_is_table(pte, lvl)) {
				/* lost the race */
				dmap_pgtable_node_free(cfg, child, node_slots(d, lvl + 1));
				dmap_pgtable_page_free(cfg, fresh, phys, size);
				child = NULL;
			} else {
				child = dmap_pgtable_node_publish(cfg, node, slot, child,
								  node_slots(d, lvl + 1));
			}
		}
		if (!pte_is_table(pte, lvl))
			return -DMAP_EEXIST; /* a block (or a racing mapping) is in the way */
		pte = sync_table_pte(d, ptep, pte);
		if (!child)
			child = child_node(d, node, slot, pte, lvl, &err);
		if (!child)
			return err; /* logged: not memory the environment knows, or no node */
		node = child;
	}

	table = node->ptes;
	idx = lvl_idx(d, iova, target);
	n = lvl_entries(d, target) - idx;
	if (n > count)
		n = count;
	for (size_t i = 0; i < n; i++) {
		uint64_t *ptep = &table[idx + i];
		uint64_t cur = dmap_load_acquire(ptep);
		uint64_t leaf =
			((paddr + i * bsize) & DMAP_ARM_PTE_ADDR_MASK) | attrs | leaf_type(target);

		if (cur) {
			/*
			 * Only an empty table may be replaced (checked by the caller's range scan).
			 */
			struct dmap_pgtable_node *child =
				pte_is_table(cur, target) ?
					child_node(d, node, idx + i, cur, target, NULL) :
					NULL;
			uint64_t addr = iova + i * bsize;
			struct dmap_iommu_gather replaced;

			if (!child ||
			    range_has_leaf(d, child, target + 1, addr, addr + bsize - 1) ||
			    !dmap_cmpxchg(ptep, &cur, leaf)) {
				dmap_pgtable_sync_ptes(cfg, &table[idx], i);
				return i ? (long)i : -DMAP_EEXIST;
			}
			dmap_pgtable_sync_ptes(cfg, ptep, 1);
			if (cfg->flush)
				cfg->flush->flush_walk(addr, bsize, (size_t)1 << d->pg_shift,
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

static unsigned int level_for_size(const struct arm_lpae *d, size_t pgsize)
{
	if (pgsize == block_size(d, 3))
		return 3; /* the common case: one granule */
	for (unsigned int lvl = d->start_level; lvl <= 3; lvl++)
		if (block_size(d, lvl) == pgsize)
			return lvl;
	return ARM_MAX_LEVELS;
}

/* Common argument checks of map and unmap; logs and returns -EINVAL/-ERANGE. */
static int check_range(struct arm_lpae *d, const char *op, uint64_t iova, size_t pgsize,
		       size_t pgcount)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	uint64_t size;

	if (!pgsize || !dmap_is_power_of_2(pgsize) || !(cfg->pgsize_bitmap & pgsize)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable arm-lpae-s1: %s: page size 0x%zx not in the supported sizes 0x%llx",
			op, pgsize, (unsigned long long)cfg->pgsize_bitmap);
		return -DMAP_EINVAL;
	}
	if (!pgcount) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable arm-lpae-s1: %s: zero page count at iova 0x%llx", op,
			 (unsigned long long)iova);
		return -DMAP_EINVAL;
	}
	if (!dmap_is_aligned(iova, (uint64_t)pgsize)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable arm-lpae-s1: %s: iova 0x%llx not aligned to page size 0x%zx",
			op, (unsigned long long)iova, pgsize);
		return -DMAP_EINVAL;
	}
	size = (uint64_t)pgsize * pgcount;
	if ((uint64_t)pgcount > ~(uint64_t)0 / pgsize || iova + size - 1 < iova ||
	    ((iova + size - 1) >> cfg->ias)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable arm-lpae-s1: %s: iova 0x%llx + %zu pages of 0x%zx beyond the %u-bit input size",
			op, (unsigned long long)iova, pgcount, pgsize, cfg->ias);
		return -DMAP_ERANGE;
	}
	return 0;
}

static int arm_map_pages(struct dmap_pgtable *pt, uint64_t iova, dmap_phys_t paddr, size_t pgsize,
			 size_t pgcount, unsigned int prot, size_t *mapped)
{
	struct arm_lpae *d;
	const struct dmap_pgtable_config *cfg;
	unsigned int target;
	uint64_t attrs;
	int ret;

	if (!pt || !mapped)
		return -DMAP_EINVAL;
	d = to_arm(pt);
	cfg = &pt->cfg;
	ret = check_range(d, "map", iova, pgsize, pgcount);
	if (ret)
		return ret;
	if (!(prot & (DMAP_PROT_READ | DMAP_PROT_WRITE)) || (prot & ~DMAP_PROT_ALL)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable arm-lpae-s1: map: bad prot 0x%x at iova 0x%llx (need READ or WRITE, no unknown bits)",
			prot, (unsigned long long)iova);
		return -DMAP_EINVAL;
	}
	if (!dmap_is_aligned(paddr, (dmap_phys_t)pgsize)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable arm-lpae-s1: map: phys 0x%llx not aligned to page size 0x%zx",
			(unsigned long long)paddr, pgsize);
		return -DMAP_EINVAL;
	}
	if ((paddr >> cfg->oas) || ((paddr + (uint64_t)pgsize * pgcount - 1) >> cfg->oas) ||
	    paddr + (uint64_t)pgsize * pgcount - 1 < paddr) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable arm-lpae-s1: map: phys 0x%llx + 0x%llx beyond the %u-bit output size",
			(unsigned long long)paddr, (unsigned long long)pgsize * pgcount, cfg->oas);
		return -DMAP_ERANGE;
	}
	target = level_for_size(d, pgsize);
	if (target >= ARM_MAX_LEVELS)
		return -DMAP_EINVAL;
	/*
	 * Several pages: find any conflict before writing, so -EEXIST changes
	 * nothing. One page needs no scan: map_chunk() allocates tables only
	 * where an entry is empty (so nothing below it can conflict) and checks
	 * the target entry before writing it.
	 */
	if (pgcount > 1 && range_has_leaf(d, d->root, d->start_level, iova,
					  iova + (uint64_t)pgsize * pgcount - 1)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable arm-lpae-s1: map: iova 0x%llx + 0x%llx overlaps an existing mapping",
			(unsigned long long)iova, (unsigned long long)pgsize * pgcount);
		return -DMAP_EEXIST;
	}

	attrs = prot_to_attrs(prot);
	while (pgcount) {
		long n = map_chunk(d, iova, paddr, target, pgcount, attrs);

		if (n < 0) {
			ret = (int)n;
			if (ret == -DMAP_EEXIST)
				dmap_log(
					cfg->env, DMAP_LOG_WARN,
					"iommu pgtable arm-lpae-s1: map: iova 0x%llx + 0x%zx overlaps an existing mapping",
					(unsigned long long)iova, pgsize);
			break;
		}
		*mapped += (size_t)n * pgsize;
		iova += (uint64_t)n * pgsize;
		paddr += (uint64_t)n * pgsize;
		pgcount -= (size_t)n;
	}
	dmap_dma_wmb(); /* PTE writes before whatever tells the device to use them */
	return ret;
}

static size_t unmap_level(struct arm_lpae *d, uint64_t iova, size_t size, size_t pgcount,
			  unsigned int lvl, struct dmap_pgtable_node *node,
			  struct dmap_iommu_gather *gather);

/* Report one unmapped leaf range to the owner. */
static void leaf_unmapped(struct arm_lpae *d, struct dmap_iommu_gather *gather, uint64_t iova,
			  size_t size)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;

	dmap_pgtable_gather_range(gather, iova, size, size);
	if (gather && !gather->queued && cfg->flush)
		cfg->flush->add_page(gather, iova, size, cfg->cookie);
}

/*
 * Unmap [@iova, @iova + @size * @pgcount) out of the block @blk at level
 * @lvl (entry @idx of @parent): replace it by a next-level table without the hole.
 */
static size_t split_block(struct arm_lpae *d, uint64_t iova, size_t size, size_t pgcount,
			  unsigned int lvl, struct dmap_pgtable_node *parent, size_t idx,
			  uint64_t blk, struct dmap_iommu_gather *gather)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	unsigned int split_lvl = lvl + 1;
	uint64_t split_sz = block_size(d, split_lvl);
	size_t entries = lvl_entries(d, split_lvl);
	size_t tsize = table_alloc_size(d, split_lvl);
	uint64_t attrs =
		blk & ~(DMAP_ARM_PTE_ADDR_MASK | DMAP_ARM_PTE_TYPE_MASK | DMAP_ARM_PTE_SW_SYNC);
	uint64_t base = blk & DMAP_ARM_PTE_ADDR_MASK & ~(block_size(d, lvl) - 1);
	size_t hole = entries, holes = 0;
	struct dmap_pgtable_node *node;
	dmap_phys_t phys;
	uint64_t *table, pte;

	if (size == split_sz) {
		hole = lvl_idx(d, iova, split_lvl);
		holes = entries - hole < pgcount ? entries - hole : pgcount;
	}
	table = dmap_pgtable_page_alloc(cfg, tsize, &phys);
	if (!table)
		return 0;
	node = dmap_pgtable_node_alloc(cfg, table, phys, node_slots(d, split_lvl));
	if (!node) {
		dmap_pgtable_page_free(cfg, table, phys, tsize);
		return 0;
	}
	for (size_t i = 0; i < entries; i++) {
		if (i >= hole && i < hole + holes)
			continue;
		dmap_store_relaxed(&table[i], ((base + i * split_sz) & DMAP_ARM_PTE_ADDR_MASK) |
						      attrs | leaf_type(split_lvl));
	}
	dmap_pgtable_sync_ptes(cfg, table, entries);
	pte = install_table(d, &parent->ptes[idx], blk, phys);
	if ((pte & d->table_addr_mask) != phys || !pte_is_table(pte, lvl)) {
		/* Someone changed the block under us (an overlapping unmap): leave it to them. */
		dmap_pgtable_node_free(cfg, node, node_slots(d, split_lvl));
		dmap_pgtable_page_free(cfg, table, phys, tsize);
		if (!pte_is_table(pte, lvl))
			return 0;
		node = child_node(d, parent, idx, pte, lvl, NULL);
		if (!node)
			return 0;
	} else {
		node = dmap_pgtable_node_publish(cfg, parent, idx, node, node_slots(d, split_lvl));
		if (holes) {
			for (size_t i = 0; i < holes; i++)
				leaf_unmapped(d, gather, iova + i * size, size);
			return holes * size;
		}
	}
	return unmap_level(d, iova, size, pgcount, split_lvl, node, gather);
}

static size_t unmap_level(struct arm_lpae *d, uint64_t iova, size_t size, size_t pgcount,
			  unsigned int lvl, struct dmap_pgtable_node *node,
			  struct dmap_iommu_gather *gather)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	size_t idx = lvl_idx(d, iova, lvl);
	uint64_t *ptep = &node->ptes[idx];
	uint64_t pte = dmap_load_acquire(ptep);
	struct dmap_pgtable_node *child;

	if (!(pte & DMAP_ARM_PTE_VALID))
		return 0;
	if (size == block_size(d, lvl)) {
		size_t n = lvl_entries(d, lvl) - idx, i;

		if (n > pgcount)
			n = pgcount;
		for (i = 0; i < n; i++) {
			uint64_t old = dmap_load_acquire(&ptep[i]);
			uint64_t addr = iova + (uint64_t)i * size;

			if (!(old & DMAP_ARM_PTE_VALID))
				break;
			dmap_store_release(&ptep[i], 0);
			dmap_pgtable_sync_ptes(cfg, &ptep[i], 1);
			if (pte_is_table(old, lvl)) {
				/*
				 * A whole table's range: invalidate walks through it, then free it.
				 */
				dmap_pgtable_gather_range(gather, addr, size,
							  (size_t)1 << d->pg_shift);
				if (cfg->flush)
					cfg->flush->flush_walk(addr, size, (size_t)1 << d->pg_shift,
							       cfg->cookie);
				free_child(d, node, idx + i, old, lvl, gather);
			} else {
				leaf_unmapped(d, gather, addr, size);
			}
		}
		return i * size;
	}
	if (!pte_is_table(pte, lvl))
		return split_block(d, iova, size, pgcount, lvl, node, idx, pte, gather);
	child = child_node(d, node, idx, pte, lvl, NULL);
	if (!child)
		return 0;
	return unmap_level(d, iova, size, pgcount, lvl + 1, child, gather);
}

static size_t arm_unmap_pages(struct dmap_pgtable *pt, uint64_t iova, size_t pgsize, size_t pgcount,
			      struct dmap_iommu_gather *gather)
{
	struct arm_lpae *d;
	size_t total = 0;

	if (!pt)
		return 0;
	d = to_arm(pt);
	if (check_range(d, "unmap", iova, pgsize, pgcount))
		return 0;
	while (pgcount) {
		size_t done =
			unmap_level(d, iova, pgsize, pgcount, d->start_level, d->root, gather);

		if (!done)
			break;
		total += done;
		iova += done;
		pgcount -= done / pgsize;
	}
	return total;
}

static int arm_walk(struct dmap_pgtable *pt, uint64_t iova, unsigned int access,
		    struct dmap_pgtable_walk *out, enum dmap_fault_reason *reason,
		    unsigned int *fault_level)
{
	struct arm_lpae *d;
	const struct dmap_pgtable_config *cfg;
	enum dmap_fault_reason why = DMAP_FAULT_TRANSLATION;
	dmap_phys_t phys;
	unsigned int lvl;
	uint64_t pte = 0, leaf_size, oa;
	bool priv, ap_unpriv, ro, can_read, can_write, can_exec;

	if (!pt || !out)
		return -DMAP_EINVAL;
	d = to_arm(pt);
	cfg = &pt->cfg;
	lvl = d->start_level;
	phys = d->pgd_phys;
	/* Outside TTB0's region (T0SZ) the SMMU raises a translation fault at the start level. */
	if (iova >> cfg->ias)
		goto fault;
	for (;; lvl++) {
		uint64_t *table = dmap_pgtable_phys_to_virt(cfg, phys);

		if (!table)
			goto fault; /* an external abort on the walk: reported as translation */
		pte = dmap_load_acquire(&table[lvl_idx(d, iova, lvl)]);
		if (!(pte & DMAP_ARM_PTE_VALID))
			goto fault;
		if (!pte_is_table(pte, lvl))
			break;
		phys = pte & d->table_addr_mask;
		if (cfg->oas < 64 && (phys >> cfg->oas)) {
			why = DMAP_FAULT_ADDR_SIZE;
			goto fault;
		}
	}
	/* A leaf: a page at level 3, or a block where the granule allows one. */
	if (lvl == 3 ? (pte & DMAP_ARM_PTE_TYPE_MASK) != DMAP_ARM_PTE_TYPE_PAGE :
		       !(d->block_levels & (1u << lvl)))
		goto fault;
	leaf_size = block_size(d, lvl);
	oa = pte & DMAP_ARM_PTE_ADDR_MASK & ~(leaf_size - 1);
	if (cfg->oas < 64 && (oa >> cfg->oas)) {
		why = DMAP_FAULT_ADDR_SIZE;
		goto fault;
	}
	if (!(pte & DMAP_ARM_PTE_AF)) { /* CD.AFFD = 0, HA = 0: an access flag fault */
		why = DMAP_FAULT_ACCESS_FLAG;
		goto fault;
	}
	/* Stage-1 permissions of the EL1&0 regime (StreamWorld NS-EL1), AP[2:1] and XN. */
	priv = access & DMAP_ACCESS_PRIV;
	ap_unpriv = pte & DMAP_ARM_PTE_AP_UNPRIV;
	ro = pte & DMAP_ARM_PTE_AP_RDONLY;
	can_read = priv || ap_unpriv;
	can_write = can_read && !ro;
	if (priv) /* EL0-writable memory is never privileged-executable */
		can_exec = !(pte & DMAP_ARM_PTE_PXN) && !(ap_unpriv && !ro);
	else
		can_exec = ap_unpriv && !(pte & DMAP_ARM_PTE_UXN);
	if (((access & DMAP_ACCESS_READ) && !can_read) ||
	    ((access & DMAP_ACCESS_WRITE) && !can_write) ||
	    ((access & DMAP_ACCESS_EXEC) && !can_exec)) {
		why = DMAP_FAULT_PERMISSION;
		goto fault;
	}
	out->phys = oa | (iova & (leaf_size - 1));
	out->leaf_size = (size_t)leaf_size;
	out->level = lvl;
	out->perm = (can_read ? DMAP_ACCESS_READ : 0) | (can_write ? DMAP_ACCESS_WRITE : 0) |
		    (can_exec ? DMAP_ACCESS_EXEC : 0) | (ap_unpriv ? 0 : DMAP_ACCESS_PRIV);
	out->pte = pte;
	return 0;
fault:
	if (reason)
		*reason = why;
	if (fault_level)
		*fault_level = lvl;
	return -DMAP_EFAULT;
}

static dmap_phys_t arm_iova_to_phys(struct dmap_pgtable *pt, uint64_t iova)
{
	struct dmap_pgtable_walk w;

	if (arm_walk(pt, iova, 0, &w, NULL, NULL))
		return 0;
	return w.phys;
}

static int dump_table(struct arm_lpae *d, uint64_t *table, dmap_phys_t phys, unsigned int lvl,
		      int (*emit)(void *, unsigned int, dmap_phys_t, const void *, size_t),
		      void *arg)
{
	size_t n = lvl_entries(d, lvl);
	int ret = emit(arg, lvl, phys, table, n * sizeof(uint64_t));

	if (ret)
		return ret;
	for (size_t i = 0; i < n && lvl < 3; i++) {
		uint64_t pte = dmap_load_acquire(&table[i]);
		uint64_t *child;

		if (!pte_is_table(pte, lvl))
			continue;
		child = table_va(d, pte);
		if (!child)
			continue;
		ret = dump_table(d, child, pte & d->table_addr_mask, lvl + 1, emit, arg);
		if (ret)
			return ret;
	}
	return 0;
}

static int arm_dump(struct dmap_pgtable *pt,
		    int (*emit)(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
				size_t size),
		    void *arg)
{
	struct arm_lpae *d;

	if (!pt || !emit)
		return -DMAP_EINVAL;
	d = to_arm(pt);
	return dump_table(d, d->pgd, d->pgd_phys, d->start_level, emit, arg);
}

static const struct dmap_pgtable_ops arm_ops = {
	.map_pages = arm_map_pages,
	.unmap_pages = arm_unmap_pages,
	.iova_to_phys = arm_iova_to_phys,
	.walk = arm_walk,
	.dump = arm_dump,
};

static struct dmap_pgtable *arm_alloc(struct dmap_pgtable_config *cfg)
{
	const struct dmap_env *env = cfg->env;
	struct arm_lpae *d;
	unsigned int pg_shift, bpl, va_bits, levels, tg0;
	uint64_t sizes = 0, tcr;
	int ips;

	if (cfg->pgsize_bitmap & ((1ull << 12) | (1ull << 14) | (1ull << 16)))
		pg_shift = dmap_ffs64(cfg->pgsize_bitmap &
				      ((1ull << 12) | (1ull << 14) | (1ull << 16)));
	else
		pg_shift = 0;
	if (!pg_shift || dmap_ffs64(cfg->pgsize_bitmap) != pg_shift) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"iommu pgtable arm-lpae-s1: page sizes 0x%llx: the smallest must be a 4K, 16K or 64K granule",
			(unsigned long long)cfg->pgsize_bitmap);
		return NULL;
	}
	if (cfg->ias < 32 || cfg->ias > 48) {
		dmap_log(env, DMAP_LOG_ERR,
			 "iommu pgtable arm-lpae-s1: input size %u bits not supported (32..48)",
			 cfg->ias);
		return NULL;
	}
	ips = dmap_arm_ips_encode(cfg->oas);
	if (ips < 0 || cfg->oas > 48) {
		dmap_log(
			env, DMAP_LOG_ERR,
			"iommu pgtable arm-lpae-s1: output size %u bits not supported (32, 36, 40, 42, 44 or 48)",
			cfg->oas);
		return NULL;
	}
	d = env->ops->alloc(env->cookie, sizeof(*d), 16, DMAP_ALLOC_ZERO);
	if (!d) {
		dmap_log(env, DMAP_LOG_ERR,
			 "iommu pgtable arm-lpae-s1: no memory for the table object");
		return NULL;
	}
	dmap_memset(d, 0, sizeof(*d));
	bpl = pg_shift - 3;
	va_bits = cfg->ias - pg_shift;
	levels = (va_bits + bpl - 1) / bpl;
	d->pg_shift = pg_shift;
	d->bits_per_level = bpl;
	d->start_level = ARM_MAX_LEVELS - levels;
	d->pgd_bits = va_bits - bpl * (levels - 1);
	d->pgd_alloc = dmap_max(((size_t)8 << d->pgd_bits), (size_t)ARM_MIN_TABLE_ALLOC);
	d->table_addr_mask = DMAP_ARM_PTE_ADDR_MASK & ~(((uint64_t)1 << pg_shift) - 1);
	for (unsigned int lvl = 0; lvl < ARM_MAX_LEVELS; lvl++) {
		d->shift[lvl] = pg_shift + (3 - lvl) * bpl;
		d->idx_mask[lvl] = ((size_t)1 << lvl_bits(d, lvl)) - 1;
	}
	switch (pg_shift) {
	case 12:
		d->block_levels = (1u << 1) | (1u << 2);
		tg0 = DMAP_ARM_TCR_TG0_4K;
		break;
	case 14:
		d->block_levels = 1u << 2;
		tg0 = DMAP_ARM_TCR_TG0_16K;
		break;
	default:
		d->block_levels = 1u << 2;
		tg0 = DMAP_ARM_TCR_TG0_64K;
		break;
	}
	sizes = (uint64_t)1 << pg_shift;
	for (unsigned int lvl = d->start_level; lvl < 3; lvl++)
		if (d->block_levels & (1u << lvl))
			sizes |= block_size(d, lvl);
		else
			d->block_levels &= ~(1u << lvl);
	d->block_levels &= ~((1u << d->start_level) - 1);
	cfg->pgsize_bitmap &= sizes;

	d->pgd = dmap_pgtable_page_alloc(cfg, d->pgd_alloc, &d->pgd_phys);
	if (!d->pgd) {
		env->ops->free(env->cookie, d, sizeof(*d));
		return NULL;
	}
	d->root = dmap_pgtable_node_alloc(cfg, d->pgd, d->pgd_phys, node_slots(d, d->start_level));
	if (!d->root) {
		dmap_pgtable_page_free(cfg, d->pgd, d->pgd_phys, d->pgd_alloc);
		env->ops->free(env->cookie, d, sizeof(*d));
		return NULL;
	}
	tcr = (uint64_t)(64 - cfg->ias) << DMAP_ARM_TCR_T0SZ_SHIFT;
	tcr |= (uint64_t)tg0 << DMAP_ARM_TCR_TG0_SHIFT;
	if (cfg->coherent_walk)
		tcr |= (uint64_t)DMAP_ARM_TCR_RGN_WBWA << DMAP_ARM_TCR_IRGN0_SHIFT |
		       (uint64_t)DMAP_ARM_TCR_RGN_WBWA << DMAP_ARM_TCR_ORGN0_SHIFT |
		       (uint64_t)DMAP_ARM_TCR_SH_IS << DMAP_ARM_TCR_SH0_SHIFT;
	else
		tcr |= (uint64_t)DMAP_ARM_TCR_RGN_NC << DMAP_ARM_TCR_IRGN0_SHIFT |
		       (uint64_t)DMAP_ARM_TCR_RGN_NC << DMAP_ARM_TCR_ORGN0_SHIFT |
		       (uint64_t)DMAP_ARM_TCR_SH_OS << DMAP_ARM_TCR_SH0_SHIFT;
	tcr |= (uint64_t)ips << DMAP_ARM_TCR_IPS_SHIFT;
	cfg->out.arm.ttbr = d->pgd_phys;
	cfg->out.arm.tcr = tcr;
	cfg->out.arm.mair = DMAP_ARM_MAIR_VALUE;
	cfg->out.arm.levels = levels;
	cfg->out.arm.start_level = d->start_level;
	cfg->out.arm.granule_shift = pg_shift;
	d->pt.cfg = *cfg;
	d->pt.ops = &arm_ops;
	return &d->pt;
}

static void arm_free(struct dmap_pgtable *pt)
{
	struct arm_lpae *d = to_arm(pt);
	const struct dmap_env *env = pt->cfg.env;

	if (d->start_level < 3) {
		for (size_t i = 0; i < lvl_entries(d, d->start_level); i++) {
			uint64_t pte = dmap_load_relaxed(&d->pgd[i]);

			if (pte_is_table(pte, d->start_level))
				free_child(d, d->root, i, pte, d->start_level, NULL);
		}
	}
	dmap_pgtable_node_free(&pt->cfg, d->root, node_slots(d, d->start_level));
	dmap_pgtable_page_free(&pt->cfg, d->pgd, d->pgd_phys, d->pgd_alloc);
	env->ops->free(env->cookie, d, sizeof(*d));
}

const struct dmap_pgtable_format_ops dmap_pgtable_arm_lpae_s1_ops = {
	.alloc = arm_alloc,
	.free = arm_free,
};

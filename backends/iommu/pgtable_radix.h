/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/pgtable_radix.h - the radix-tree skeleton shared by the
 * page-table formats (map, unmap, split, table install and retire, overlap
 * scan, dump), written once and specialised per format at compile time.
 *
 * Why a header of static functions and not a file with an ops table: both
 * formats are a radix tree of 64-bit entries and differ only in how an entry
 * is encoded and how the levels are laid out, but the map/unmap path runs
 * once per level per call, so an indirect call per PTE test would cost more
 * than the table format itself. Each format file (pgtable_arm_lpae.c,
 * pgtable_vtd.c) defines its geometry and encoding as static inline
 * functions, then includes this header once: the compiler inlines the
 * format's helpers into its own copy of the skeleton, as if it had been
 * written out by hand (Linux's generic_pt makes the same trade).
 *
 * What the including file defines before the #include:
 *   RADIX_PT        its table type (a struct with the &struct dmap_pgtable
 *                   member @pt)
 *   RADIX_NAME      the format name used in log messages ("vtd-sl")
 *   RADIX_SW_SYNC   the ignored PTE bit marking a table entry as cleaned
 *   and the static inline functions
 *   radix_root_level(d), radix_root_node(d)   where walks start
 *   radix_next_level(lvl)    the level below @lvl (Arm counts up, VT-d down)
 *   radix_is_last_level(lvl) @lvl holds only leaves
 *   radix_idx(d, iova, lvl), radix_size(d, lvl), radix_entries(d, lvl),
 *   radix_table_bytes(d, lvl), radix_node_slots(d, lvl)   the geometry
 *   radix_granule(d)         the smallest page (walk-cache flush granule)
 *   radix_pte_present(pte)   the walker would use the entry
 *   radix_pte_empty(pte)     map may install a table here
 *   radix_pte_is_table(pte, lvl), radix_table_phys(d, pte),
 *   radix_table_pte(d, phys) table descriptors
 *   radix_leaf_pte(d, pa, attrs, lvl)  a leaf of level @lvl
 *   radix_split_attrs(d, blk, lvl), radix_leaf_base(d, blk, lvl)
 *                            what a split of block @blk copies into the
 *                            leaves of level @lvl below it, and its address
 *   radix_from_pt(pt)        its table from the &struct dmap_pgtable
 *   radix_level_for_size(d, pgsize, &lvl)  the leaf level of a page size
 *   radix_leaf_attrs(d, prot, lvl)  DMAP_PROT_* as leaf attribute bits
 * and, after the #include, radix_walk(): the device-side walk, with its
 * format-specific checks and fault reasons (ending in radix_walk_fault()).
 * The header provides the format's &struct dmap_pgtable_ops, radix_ops.
 */
#ifndef DMAP_BACKENDS_IOMMU_PGTABLE_RADIX_H
#define DMAP_BACKENDS_IOMMU_PGTABLE_RADIX_H

#include "pgtable.h"

/* Node of the table that table entry @pte (entry @idx of @parent, level @lvl) points to. */
static inline struct dmap_pgtable_node *radix_child_node(RADIX_PT *d,
							 struct dmap_pgtable_node *parent,
							 size_t idx, uint64_t pte, unsigned int lvl,
							 int *err)
{
	return dmap_pgtable_child(&d->pt.cfg, parent, idx, radix_table_phys(d, pte),
				  radix_node_slots(d, radix_next_level(lvl)), err);
}

/*
 * Make an installed table entry visible to a non-coherent walker and mark
 * it so (RADIX_SW_SYNC). Whoever finds the mark missing cleans: the
 * installer may not have got there yet ("even if it's not ours, kick it").
 */
static uint64_t radix_sync_table_pte(RADIX_PT *d, uint64_t *ptep, uint64_t pte)
{
	uint64_t expected = pte;

	if (d->pt.cfg.coherent_walk || (pte & RADIX_SW_SYNC))
		return pte;
	dmap_pgtable_sync_ptes(&d->pt.cfg, ptep, 1);
	if (dmap_cmpxchg(ptep, &expected, pte | RADIX_SW_SYNC))
		return pte | RADIX_SW_SYNC;
	return expected;
}

/*
 * Install @table_phys under @ptep if it still holds @curr. Returns the entry
 * now there: the new table descriptor if we won, else what the winner left.
 */
static uint64_t radix_install_table(RADIX_PT *d, uint64_t *ptep, uint64_t curr,
				    dmap_phys_t table_phys)
{
	uint64_t new = radix_table_pte(d, table_phys);
	uint64_t old = curr;

	dmap_dma_wmb(); /* the table's contents before the pointer to it */
	if (!dmap_cmpxchg(ptep, &old, new))
		return old;
	return radix_sync_table_pte(d, ptep, new);
}

static void radix_free_child(RADIX_PT *d, struct dmap_pgtable_node *parent, size_t idx,
			     uint64_t pte, unsigned int lvl, struct dmap_iommu_gather *gather);

/*
 * Free (or retire to @gather) the table @ptes/@phys of level @lvl and every
 * table below it, and their nodes (@node may be NULL: none was published).
 */
static void radix_free_table(RADIX_PT *d, uint64_t *ptes, dmap_phys_t phys,
			     struct dmap_pgtable_node *node, unsigned int lvl,
			     struct dmap_iommu_gather *gather)
{
	if (!radix_is_last_level(lvl)) {
		for (size_t i = 0; i < radix_entries(d, lvl); i++) {
			uint64_t c = dmap_load_relaxed(&ptes[i]);

			if (radix_pte_is_table(c, lvl))
				radix_free_child(d, node, i, c, lvl, gather);
		}
	}
	dmap_pgtable_page_retire(&d->pt.cfg, gather, ptes, phys, radix_table_bytes(d, lvl));
	dmap_pgtable_node_free(&d->pt.cfg, node, radix_node_slots(d, lvl));
}

/*
 * Entry @idx of @parent (level @lvl) held table descriptor @pte and no
 * longer does: free everything below it. Needs no memory: without a node
 * the table is found through phys_to_virt.
 */
static void radix_free_child(RADIX_PT *d, struct dmap_pgtable_node *parent, size_t idx,
			     uint64_t pte, unsigned int lvl, struct dmap_iommu_gather *gather)
{
	dmap_phys_t phys = radix_table_phys(d, pte);
	struct dmap_pgtable_node *child = parent ? dmap_load_acquire(&parent->child[idx]) : NULL;
	uint64_t *ptes;

	if (child && child->phys == phys) {
		dmap_pgtable_unlink_child(parent, idx, child);
		radix_free_table(d, child->ptes, phys, child, radix_next_level(lvl), gather);
		return;
	}
	ptes = dmap_pgtable_phys_to_virt(&d->pt.cfg, phys);
	if (ptes)
		radix_free_table(d, ptes, phys, NULL, radix_next_level(lvl), gather);
}

/* Free every table below the root and the root's node (not the root page: the format owns it). */
static void radix_free_below_root(RADIX_PT *d)
{
	struct dmap_pgtable_node *root = radix_root_node(d);
	unsigned int lvl = radix_root_level(d);

	if (!radix_is_last_level(lvl)) {
		for (size_t i = 0; i < radix_entries(d, lvl); i++) {
			uint64_t pte = dmap_load_relaxed(&root->ptes[i]);

			if (radix_pte_is_table(pte, lvl))
				radix_free_child(d, root, i, pte, lvl, NULL);
		}
	}
	dmap_pgtable_node_free(&d->pt.cfg, root, radix_node_slots(d, lvl));
}

/* Is anything mapped in [@start, @end] (inclusive) below @node's table of level @lvl? */
static bool radix_range_has_leaf(RADIX_PT *d, struct dmap_pgtable_node *node, unsigned int lvl,
				 uint64_t start, uint64_t end)
{
	uint64_t bsize = radix_size(d, lvl);

	for (uint64_t addr = start;;) {
		size_t idx = radix_idx(d, addr, lvl);
		uint64_t pte = dmap_load_acquire(&node->ptes[idx]);
		uint64_t block_end = (addr | (bsize - 1));
		uint64_t stop = block_end < end ? block_end : end;

		if (radix_pte_present(pte)) {
			struct dmap_pgtable_node *child;

			if (!radix_pte_is_table(pte, lvl))
				return true;
			child = radix_child_node(d, node, idx, pte, lvl, NULL);
			if (!child ||
			    radix_range_has_leaf(d, child, radix_next_level(lvl), addr, stop))
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
static long radix_map_chunk(RADIX_PT *d, uint64_t iova, dmap_phys_t paddr, unsigned int target,
			    size_t count, uint64_t attrs)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	struct dmap_pgtable_node *node = radix_root_node(d);
	uint64_t bsize = radix_size(d, target);
	uint64_t *table;
	size_t idx, n;

	for (unsigned int lvl = radix_root_level(d); lvl != target; lvl = radix_next_level(lvl)) {
		unsigned int below = radix_next_level(lvl);
		size_t slot = radix_idx(d, iova, lvl);
		uint64_t *ptep = &node->ptes[slot];
		uint64_t pte = dmap_load_acquire(ptep);
		struct dmap_pgtable_node *child = NULL;
		int err = -DMAP_ENOMEM;

		if (radix_pte_empty(pte)) {
			dmap_phys_t phys;
			size_t size = radix_table_bytes(d, below);
			uint64_t *fresh = dmap_pgtable_page_alloc(cfg, size, &phys);

			if (!fresh)
				return -DMAP_ENOMEM;
			child = dmap_pgtable_node_alloc(cfg, fresh, phys,
							radix_node_slots(d, below));
			if (!child) {
				dmap_pgtable_page_free(cfg, fresh, phys, size);
				return -DMAP_ENOMEM;
			}
			pte = radix_install_table(d, ptep, pte, phys);
			if (radix_table_phys(d, pte) != phys || !radix_pte_is_table(pte, lvl)) {
				/* lost the race */
				dmap_pgtable_node_free(cfg, child, radix_node_slots(d, below));
				dmap_pgtable_page_free(cfg, fresh, phys, size);
				child = NULL;
			} else {
				child = dmap_pgtable_node_publish(cfg, node, slot, child,
								  radix_node_slots(d, below));
			}
		}
		if (!radix_pte_is_table(pte, lvl))
			return -DMAP_EEXIST; /* a block (or a racing mapping) is in the way */
		pte = radix_sync_table_pte(d, ptep, pte);
		if (!child)
			child = radix_child_node(d, node, slot, pte, lvl, &err);
		if (!child)
			return err; /* logged: not memory the environment knows, or no node */
		node = child;
	}

	table = node->ptes;
	idx = radix_idx(d, iova, target);
	n = radix_entries(d, target) - idx;
	if (n > count)
		n = count;
	for (size_t i = 0; i < n; i++) {
		uint64_t *ptep = &table[idx + i];
		uint64_t cur = dmap_load_acquire(ptep);
		uint64_t leaf = radix_leaf_pte(d, paddr + i * bsize, attrs, target);

		if (cur) {
			/*
			 * Only an empty table may be replaced (checked by the caller's range scan).
			 */
			struct dmap_pgtable_node *child =
				radix_pte_is_table(cur, target) ?
					radix_child_node(d, node, idx + i, cur, target, NULL) :
					NULL;
			uint64_t addr = iova + i * bsize;
			struct dmap_iommu_gather replaced;

			if (!child ||
			    radix_range_has_leaf(d, child, radix_next_level(target), addr,
						 addr + bsize - 1) ||
			    !dmap_cmpxchg(ptep, &cur, leaf)) {
				dmap_pgtable_sync_ptes(cfg, &table[idx], i);
				return i ? (long)i : -DMAP_EEXIST;
			}
			dmap_pgtable_sync_ptes(cfg, ptep, 1);
			if (cfg->flush)
				cfg->flush->flush_walk(addr, bsize, radix_granule(d), cfg->cookie);
			/*
			 * A walker that read the old table descriptor may still be
			 * inside the table: retire it the way unmap does (after an
			 * RCU grace period when the owner provides retire_tables).
			 */
			dmap_iommu_gather_init(&replaced);
			replaced.queued = true;
			radix_free_child(d, node, idx + i, cur, target, &replaced);
			dmap_pgtable_retire_replaced(&d->pt, &replaced);
			continue;
		}
		dmap_store_release(ptep, leaf);
	}
	dmap_pgtable_sync_ptes(cfg, &table[idx], n);
	return (long)n;
}

/* Common argument checks of map and unmap; logs and returns -EINVAL/-ERANGE. */
static int radix_check_range(RADIX_PT *d, const char *op, uint64_t iova, size_t pgsize,
			     size_t pgcount)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	uint64_t size;

	if (!pgsize || !dmap_is_power_of_2(pgsize) || !(cfg->pgsize_bitmap & pgsize)) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable " RADIX_NAME
			 ": %s: page size 0x%zx not in the supported sizes 0x%llx",
			 op, pgsize, (unsigned long long)cfg->pgsize_bitmap);
		return -DMAP_EINVAL;
	}
	if (!pgcount) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable " RADIX_NAME ": %s: zero page count at iova 0x%llx", op,
			 (unsigned long long)iova);
		return -DMAP_EINVAL;
	}
	if (!dmap_is_aligned(iova, (uint64_t)pgsize)) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable " RADIX_NAME
			 ": %s: iova 0x%llx not aligned to page size 0x%zx",
			 op, (unsigned long long)iova, pgsize);
		return -DMAP_EINVAL;
	}
	size = (uint64_t)pgsize * pgcount;
	if ((uint64_t)pgcount > ~(uint64_t)0 / pgsize || iova + size - 1 < iova ||
	    ((iova + size - 1) >> cfg->ias)) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable " RADIX_NAME
			 ": %s: iova 0x%llx + %zu pages of 0x%zx beyond the %u-bit input size",
			 op, (unsigned long long)iova, pgcount, pgsize, cfg->ias);
		return -DMAP_ERANGE;
	}
	return 0;
}

/* The argument checks of map_pages: those of unmap, then @prot and the physical range. */
static int radix_check_map(RADIX_PT *d, uint64_t iova, dmap_phys_t paddr, size_t pgsize,
			   size_t pgcount, unsigned int prot)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	uint64_t size;
	int ret = radix_check_range(d, "map", iova, pgsize, pgcount);

	if (ret)
		return ret;
	if (!(prot & (DMAP_PROT_READ | DMAP_PROT_WRITE)) || (prot & ~DMAP_PROT_ALL)) {
		dmap_log(
			cfg->env, DMAP_LOG_WARN,
			"iommu pgtable " RADIX_NAME
			": map: bad prot 0x%x at iova 0x%llx (need READ or WRITE, no unknown bits)",
			prot, (unsigned long long)iova);
		return -DMAP_EINVAL;
	}
	if (!dmap_is_aligned(paddr, (dmap_phys_t)pgsize)) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable " RADIX_NAME
			 ": map: phys 0x%llx not aligned to page size 0x%zx",
			 (unsigned long long)paddr, pgsize);
		return -DMAP_EINVAL;
	}
	size = (uint64_t)pgsize * pgcount;
	if ((paddr >> cfg->oas) || paddr + size - 1 < paddr || ((paddr + size - 1) >> cfg->oas)) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable " RADIX_NAME
			 ": map: phys 0x%llx + 0x%llx beyond the %u-bit output size",
			 (unsigned long long)paddr, (unsigned long long)size, cfg->oas);
		return -DMAP_ERANGE;
	}
	return 0;
}

/*
 * The second half of map_pages, once the format checked prot and paddr and
 * picked the leaf level @target and the leaf attributes @attrs.
 */
static int radix_map(RADIX_PT *d, uint64_t iova, dmap_phys_t paddr, size_t pgsize, size_t pgcount,
		     unsigned int target, uint64_t attrs, size_t *mapped)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	int ret = 0;

	/*
	 * Several pages: find any conflict before writing, so -EEXIST changes
	 * nothing. One page needs no scan: map_chunk() allocates tables only
	 * where an entry is empty (so nothing below it can conflict) and checks
	 * the target entry before writing it.
	 */
	if (pgcount > 1 && radix_range_has_leaf(d, radix_root_node(d), radix_root_level(d), iova,
						iova + (uint64_t)pgsize * pgcount - 1)) {
		dmap_log(cfg->env, DMAP_LOG_WARN,
			 "iommu pgtable " RADIX_NAME
			 ": map: iova 0x%llx + 0x%llx overlaps an existing mapping",
			 (unsigned long long)iova, (unsigned long long)pgsize * pgcount);
		return -DMAP_EEXIST;
	}
	while (pgcount) {
		long n = radix_map_chunk(d, iova, paddr, target, pgcount, attrs);

		if (n < 0) {
			ret = (int)n;
			if (ret == -DMAP_EEXIST)
				dmap_log(cfg->env, DMAP_LOG_WARN,
					 "iommu pgtable " RADIX_NAME
					 ": map: iova 0x%llx + 0x%zx overlaps an existing mapping",
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

static size_t radix_unmap_level(RADIX_PT *d, uint64_t iova, size_t size, size_t pgcount,
				unsigned int lvl, struct dmap_pgtable_node *node,
				struct dmap_iommu_gather *gather);

/* Report one unmapped leaf range to the owner. */
static void radix_leaf_unmapped(RADIX_PT *d, struct dmap_iommu_gather *gather, uint64_t iova,
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
static size_t radix_split_block(RADIX_PT *d, uint64_t iova, size_t size, size_t pgcount,
				unsigned int lvl, struct dmap_pgtable_node *parent, size_t idx,
				uint64_t blk, struct dmap_iommu_gather *gather)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	unsigned int split_lvl = radix_next_level(lvl);
	uint64_t split_sz = radix_size(d, split_lvl);
	size_t entries = radix_entries(d, split_lvl);
	size_t tsize = radix_table_bytes(d, split_lvl);
	uint64_t attrs = radix_split_attrs(d, blk, split_lvl);
	uint64_t base = radix_leaf_base(d, blk, lvl);
	size_t hole = entries, holes = 0;
	struct dmap_pgtable_node *node;
	dmap_phys_t phys;
	uint64_t *table, pte;

	if (size == split_sz) {
		hole = radix_idx(d, iova, split_lvl);
		holes = entries - hole < pgcount ? entries - hole : pgcount;
	}
	table = dmap_pgtable_page_alloc(cfg, tsize, &phys);
	if (!table)
		return 0;
	node = dmap_pgtable_node_alloc(cfg, table, phys, radix_node_slots(d, split_lvl));
	if (!node) {
		dmap_pgtable_page_free(cfg, table, phys, tsize);
		return 0;
	}
	for (size_t i = 0; i < entries; i++) {
		if (i >= hole && i < hole + holes)
			continue;
		dmap_store_relaxed(&table[i],
				   radix_leaf_pte(d, base + i * split_sz, attrs, split_lvl));
	}
	dmap_pgtable_sync_ptes(cfg, table, entries);
	pte = radix_install_table(d, &parent->ptes[idx], blk, phys);
	if (radix_table_phys(d, pte) != phys || !radix_pte_is_table(pte, lvl)) {
		/* Someone changed the block under us (an overlapping unmap): leave it to them. */
		dmap_pgtable_node_free(cfg, node, radix_node_slots(d, split_lvl));
		dmap_pgtable_page_free(cfg, table, phys, tsize);
		if (!radix_pte_is_table(pte, lvl))
			return 0;
		node = radix_child_node(d, parent, idx, pte, lvl, NULL);
		if (!node)
			return 0;
	} else {
		node = dmap_pgtable_node_publish(cfg, parent, idx, node,
						 radix_node_slots(d, split_lvl));
		if (holes) {
			for (size_t i = 0; i < holes; i++)
				radix_leaf_unmapped(d, gather, iova + i * size, size);
			return holes * size;
		}
	}
	return radix_unmap_level(d, iova, size, pgcount, split_lvl, node, gather);
}

static size_t radix_unmap_level(RADIX_PT *d, uint64_t iova, size_t size, size_t pgcount,
				unsigned int lvl, struct dmap_pgtable_node *node,
				struct dmap_iommu_gather *gather)
{
	const struct dmap_pgtable_config *cfg = &d->pt.cfg;
	size_t idx = radix_idx(d, iova, lvl);
	uint64_t *ptep = &node->ptes[idx];
	uint64_t pte = dmap_load_acquire(ptep);
	struct dmap_pgtable_node *child;

	if (!radix_pte_present(pte))
		return 0;
	if (size == radix_size(d, lvl)) {
		size_t n = radix_entries(d, lvl) - idx, i;

		if (n > pgcount)
			n = pgcount;
		for (i = 0; i < n; i++) {
			uint64_t old = dmap_load_acquire(&ptep[i]);
			uint64_t addr = iova + (uint64_t)i * size;

			if (!radix_pte_present(old))
				break;
			dmap_store_release(&ptep[i], 0);
			dmap_pgtable_sync_ptes(cfg, &ptep[i], 1);
			if (radix_pte_is_table(old, lvl)) {
				/*
				 * A whole table's range: invalidate walks through it, then free it.
				 */
				dmap_pgtable_gather_range(gather, addr, size, radix_granule(d));
				if (cfg->flush)
					cfg->flush->flush_walk(addr, size, radix_granule(d),
							       cfg->cookie);
				radix_free_child(d, node, idx + i, old, lvl, gather);
			} else {
				radix_leaf_unmapped(d, gather, addr, size);
			}
		}
		return i * size;
	}
	if (!radix_pte_is_table(pte, lvl))
		return radix_is_last_level(lvl) ? 0 :
						  radix_split_block(d, iova, size, pgcount, lvl,
								    node, idx, pte, gather);
	child = radix_child_node(d, node, idx, pte, lvl, NULL);
	if (!child)
		return 0;
	return radix_unmap_level(d, iova, size, pgcount, radix_next_level(lvl), child, gather);
}

/* The unmap_pages loop: one run of leaves (or one split) per step, stopping at a hole. */
static size_t radix_unmap(RADIX_PT *d, uint64_t iova, size_t pgsize, size_t pgcount,
			  struct dmap_iommu_gather *gather)
{
	size_t total = 0;

	if (radix_check_range(d, "unmap", iova, pgsize, pgcount))
		return 0;
	while (pgcount) {
		size_t done = radix_unmap_level(d, iova, pgsize, pgcount, radix_root_level(d),
						radix_root_node(d), gather);

		if (!done)
			break;
		total += done;
		iova += done;
		pgcount -= done / pgsize;
	}
	return total;
}

/* Depth-first dump of the table @table/@phys of level @lvl and everything below it. */
static int radix_dump_table(RADIX_PT *d, uint64_t *table, dmap_phys_t phys, unsigned int lvl,
			    int (*emit)(void *, unsigned int, dmap_phys_t, const void *, size_t),
			    void *arg)
{
	size_t n = radix_entries(d, lvl);
	int ret = emit(arg, lvl, phys, table, n * sizeof(uint64_t));

	if (ret)
		return ret;
	for (size_t i = 0; i < n && !radix_is_last_level(lvl); i++) {
		uint64_t pte = dmap_load_acquire(&table[i]);
		uint64_t *child;

		if (!radix_pte_is_table(pte, lvl))
			continue;
		child = dmap_pgtable_phys_to_virt(&d->pt.cfg, radix_table_phys(d, pte));
		if (!child)
			continue;
		ret = radix_dump_table(d, child, radix_table_phys(d, pte), radix_next_level(lvl),
				       emit, arg);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The end of a walk that faulted: report why and at which level (both
 * optional), as &struct dmap_pgtable_ops.walk documents.
 */
static inline int radix_walk_fault(enum dmap_fault_reason *reason, enum dmap_fault_reason why,
				   unsigned int *fault_level, unsigned int lvl)
{
	if (reason)
		*reason = why;
	if (fault_level)
		*fault_level = lvl;
	return -DMAP_EFAULT;
}

/* The device-side walk: the format defines it after including this header. */
static int radix_walk(struct dmap_pgtable *pt, uint64_t iova, unsigned int access,
		      struct dmap_pgtable_walk *out, enum dmap_fault_reason *reason,
		      unsigned int *fault_level);

/* ---- the &struct dmap_pgtable_ops of the format ---- */

static int radix_map_pages(struct dmap_pgtable *pt, uint64_t iova, dmap_phys_t paddr, size_t pgsize,
			   size_t pgcount, unsigned int prot, size_t *mapped)
{
	RADIX_PT *d;
	unsigned int target;
	int ret;

	if (!pt || !mapped)
		return -DMAP_EINVAL;
	d = radix_from_pt(pt);
	ret = radix_check_map(d, iova, paddr, pgsize, pgcount, prot);
	if (ret)
		return ret;
	if (!radix_level_for_size(d, pgsize, &target))
		return -DMAP_EINVAL;
	return radix_map(d, iova, paddr, pgsize, pgcount, target, radix_leaf_attrs(d, prot, target),
			 mapped);
}

static size_t radix_unmap_pages(struct dmap_pgtable *pt, uint64_t iova, size_t pgsize,
				size_t pgcount, struct dmap_iommu_gather *gather)
{
	if (!pt)
		return 0;
	return radix_unmap(radix_from_pt(pt), iova, pgsize, pgcount, gather);
}

static dmap_phys_t radix_iova_to_phys(struct dmap_pgtable *pt, uint64_t iova)
{
	struct dmap_pgtable_walk w;

	if (radix_walk(pt, iova, 0, &w, NULL, NULL))
		return 0;
	return w.phys;
}

static int radix_dump(struct dmap_pgtable *pt,
		      int (*emit)(void *arg, unsigned int level, dmap_phys_t phys,
				  const void *table, size_t size),
		      void *arg)
{
	RADIX_PT *d;
	struct dmap_pgtable_node *root;

	if (!pt || !emit)
		return -DMAP_EINVAL;
	d = radix_from_pt(pt);
	root = radix_root_node(d);
	return radix_dump_table(d, root->ptes, root->phys, radix_root_level(d), emit, arg);
}

static const struct dmap_pgtable_ops radix_ops = {
	.map_pages = radix_map_pages,
	.unmap_pages = radix_unmap_pages,
	.iova_to_phys = radix_iova_to_phys,
	.walk = radix_walk,
	.dump = radix_dump,
};

#endif /* DMAP_BACKENDS_IOMMU_PGTABLE_RADIX_H */

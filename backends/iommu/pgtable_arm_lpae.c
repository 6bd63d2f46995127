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
 *
 * Code. The algorithms above are format-independent and live in
 * pgtable_radix.h, shared with VT-d and specialised for this format by the
 * static inline geometry and encoding hooks defined before its #include;
 * this file keeps the descriptor bits, the walk's checks and alloc/free.
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

/* Child slots of the node of a table at level @lvl: only tables that may point to tables. */
static inline size_t node_slots(const struct arm_lpae *d, unsigned int lvl)
{
	return lvl < 3 ? lvl_entries(d, lvl) : 0;
}

/* ---- geometry and encoding for the shared skeleton (pgtable_radix.h) ---- */
#define RADIX_PT struct arm_lpae
#define RADIX_NAME "arm-lpae-s1"
#define RADIX_SW_SYNC DMAP_ARM_PTE_SW_SYNC

static inline unsigned int radix_root_level(const struct arm_lpae *d)
{
	return d->start_level;
}

static inline struct dmap_pgtable_node *radix_root_node(const struct arm_lpae *d)
{
	return d->root;
}

static inline unsigned int radix_next_level(unsigned int lvl)
{
	return lvl + 1;
}

static inline bool radix_is_last_level(unsigned int lvl)
{
	return lvl == 3;
}

static inline size_t radix_idx(const struct arm_lpae *d, uint64_t iova, unsigned int lvl)
{
	return lvl_idx(d, iova, lvl);
}

static inline uint64_t radix_size(const struct arm_lpae *d, unsigned int lvl)
{
	return block_size(d, lvl);
}

static inline size_t radix_entries(const struct arm_lpae *d, unsigned int lvl)
{
	return lvl_entries(d, lvl);
}

static inline size_t radix_table_bytes(const struct arm_lpae *d, unsigned int lvl)
{
	return table_alloc_size(d, lvl);
}

static inline size_t radix_node_slots(const struct arm_lpae *d, unsigned int lvl)
{
	return node_slots(d, lvl);
}

static inline size_t radix_granule(const struct arm_lpae *d)
{
	return (size_t)1 << d->pg_shift;
}

static inline bool radix_pte_present(uint64_t pte)
{
	return pte & DMAP_ARM_PTE_VALID;
}

/* Map installs a table only over a zero entry: an invalid one with other bits is in the way. */
static inline bool radix_pte_empty(uint64_t pte)
{
	return !pte;
}

static inline bool radix_pte_is_table(uint64_t pte, unsigned int lvl)
{
	return pte_is_table(pte, lvl);
}

static inline dmap_phys_t radix_table_phys(const struct arm_lpae *d, uint64_t pte)
{
	return pte & d->table_addr_mask;
}

static inline uint64_t radix_table_pte(const struct arm_lpae *d, dmap_phys_t phys)
{
	return (phys & d->table_addr_mask) | DMAP_ARM_PTE_TYPE_TABLE;
}

static inline uint64_t radix_leaf_pte(const struct arm_lpae *d, dmap_phys_t pa, uint64_t attrs,
				      unsigned int lvl)
{
	(void)d;
	return (pa & DMAP_ARM_PTE_ADDR_MASK) | attrs | leaf_type(lvl);
}

/* A split keeps every attribute of the block; only the type and address change. */
static inline uint64_t radix_split_attrs(const struct arm_lpae *d, uint64_t blk, unsigned int lvl)
{
	(void)d;
	(void)lvl;
	return blk & ~(DMAP_ARM_PTE_ADDR_MASK | DMAP_ARM_PTE_TYPE_MASK | DMAP_ARM_PTE_SW_SYNC);
}

static inline uint64_t radix_leaf_base(const struct arm_lpae *d, uint64_t blk, unsigned int lvl)
{
	return blk & DMAP_ARM_PTE_ADDR_MASK & ~(block_size(d, lvl) - 1);
}

static inline struct arm_lpae *radix_from_pt(struct dmap_pgtable *pt)
{
	return to_arm(pt);
}

static inline bool radix_level_for_size(const struct arm_lpae *d, size_t pgsize, unsigned int *lvl)
{
	if (pgsize == block_size(d, 3)) {
		*lvl = 3; /* the common case: one granule */
		return true;
	}
	for (unsigned int l = d->start_level; l <= 3; l++) {
		if (block_size(d, l) == pgsize) {
			*lvl = l;
			return true;
		}
	}
	return false;
}

static inline uint64_t radix_leaf_attrs(const struct arm_lpae *d, unsigned int prot,
					unsigned int lvl)
{
	(void)d;
	(void)lvl;
	return prot_to_attrs(prot);
}

#include "pgtable_radix.h"

static int radix_walk(struct dmap_pgtable *pt, uint64_t iova, unsigned int access,
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
	return radix_walk_fault(reason, why, fault_level, lvl);
}

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
	d->pt.ops = &radix_ops;
	return &d->pt;
}

static void arm_free(struct dmap_pgtable *pt)
{
	struct arm_lpae *d = to_arm(pt);
	const struct dmap_env *env = pt->cfg.env;

	radix_free_below_root(d);
	dmap_pgtable_page_free(&pt->cfg, d->pgd, d->pgd_phys, d->pgd_alloc);
	env->ops->free(env->cookie, d, sizeof(*d));
}

const struct dmap_pgtable_format_ops dmap_pgtable_arm_lpae_s1_ops = {
	.alloc = arm_alloc,
	.free = arm_free,
};

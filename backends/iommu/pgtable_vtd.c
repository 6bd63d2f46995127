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
 * superpage swaps in a next-level table without the hole (the code is
 * pgtable_radix.h's, shared with Arm and driven by the hooks below). The walk reads
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

/* Child slots of the node of a table at level @lvl: only tables above the leaf level. */
static inline size_t node_slots(unsigned int lvl)
{
	return lvl > 1 ? VTD_ENTRIES : 0;
}

/* ---- geometry and encoding for the shared skeleton (pgtable_radix.h) ---- */
#define RADIX_PT struct vtd_pt
#define RADIX_NAME "vtd-sl"
#define RADIX_SW_SYNC DMAP_VTD_PTE_SW_SYNC

static inline unsigned int radix_root_level(const struct vtd_pt *d)
{
	return d->levels;
}

static inline struct dmap_pgtable_node *radix_root_node(const struct vtd_pt *d)
{
	return d->root_node;
}

static inline unsigned int radix_next_level(unsigned int lvl)
{
	return lvl - 1;
}

static inline bool radix_is_last_level(unsigned int lvl)
{
	return lvl == 1;
}

static inline size_t radix_idx(const struct vtd_pt *d, uint64_t iova, unsigned int lvl)
{
	(void)d;
	return lvl_idx(iova, lvl);
}

static inline uint64_t radix_size(const struct vtd_pt *d, unsigned int lvl)
{
	(void)d;
	return lvl_size(lvl);
}

static inline size_t radix_entries(const struct vtd_pt *d, unsigned int lvl)
{
	(void)d;
	(void)lvl;
	return VTD_ENTRIES;
}

static inline size_t radix_table_bytes(const struct vtd_pt *d, unsigned int lvl)
{
	(void)d;
	(void)lvl;
	return VTD_TABLE_SIZE;
}

static inline size_t radix_node_slots(const struct vtd_pt *d, unsigned int lvl)
{
	(void)d;
	return node_slots(lvl);
}

static inline size_t radix_granule(const struct vtd_pt *d)
{
	(void)d;
	return (size_t)1 << VTD_PAGE_SHIFT;
}

static inline bool radix_pte_present(uint64_t pte)
{
	return pte_present(pte);
}

/* Map installs a table over any entry the walker ignores (R and W clear). */
static inline bool radix_pte_empty(uint64_t pte)
{
	return !pte_present(pte);
}

static inline bool radix_pte_is_table(uint64_t pte, unsigned int lvl)
{
	return pte_is_table(pte, lvl);
}

static inline dmap_phys_t radix_table_phys(const struct vtd_pt *d, uint64_t pte)
{
	return pte & d->addr_mask;
}

/* Non-leaf entries carry R|W: the unit checks them at every level, only the leaf restricts. */
static inline uint64_t radix_table_pte(const struct vtd_pt *d, dmap_phys_t phys)
{
	return (phys & d->addr_mask) | VTD_PRESENT;
}

/* @attrs already holds R/W, SNP and (above level 1) PS. */
static inline uint64_t radix_leaf_pte(const struct vtd_pt *d, dmap_phys_t pa, uint64_t attrs,
				      unsigned int lvl)
{
	(void)lvl;
	return (pa & d->addr_mask) | attrs;
}

static inline uint64_t radix_split_attrs(const struct vtd_pt *d, uint64_t blk, unsigned int lvl)
{
	uint64_t attrs = blk & (DMAP_VTD_PTE_READ | DMAP_VTD_PTE_WRITE | DMAP_VTD_PTE_SNP);

	(void)d;
	if (lvl > 1)
		attrs |= DMAP_VTD_PTE_PS;
	return attrs;
}

static inline uint64_t radix_leaf_base(const struct vtd_pt *d, uint64_t blk, unsigned int lvl)
{
	return blk & d->addr_mask & ~(lvl_size(lvl) - 1);
}

static inline struct vtd_pt *radix_from_pt(struct dmap_pgtable *pt)
{
	return to_vtd(pt);
}

/* Leaves: 4 KiB at level 1, superpages at levels 2 and 3 (never in PML4E/PML5E). */
static inline bool radix_level_for_size(const struct vtd_pt *d, size_t pgsize, unsigned int *lvl)
{
	for (unsigned int l = 1; l <= 3 && l <= d->levels; l++) {
		if (lvl_size(l) == pgsize) {
			*lvl = l;
			return true;
		}
	}
	return false;
}

/* Only R, W, PS and (with snoop control) SNP: every other bit is reserved in a leaf. */
static inline uint64_t radix_leaf_attrs(const struct vtd_pt *d, unsigned int prot, unsigned int lvl)
{
	uint64_t attrs = 0;

	if (prot & DMAP_PROT_READ)
		attrs |= DMAP_VTD_PTE_READ;
	if (prot & DMAP_PROT_WRITE)
		attrs |= DMAP_VTD_PTE_WRITE;
	if (lvl > 1)
		attrs |= DMAP_VTD_PTE_PS;
	if ((prot & DMAP_PROT_CACHE) && (d->pt.cfg.quirks & DMAP_PGTABLE_QUIRK_VTD_SNOOP_CTL))
		attrs |= DMAP_VTD_PTE_SNP;
	return attrs;
}

#include "pgtable_radix.h"

static int radix_walk(struct dmap_pgtable *pt, uint64_t iova, unsigned int access,
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
	return radix_walk_fault(reason, why, fault_level, lvl);
}

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
	d->pt.ops = &radix_ops;
	return &d->pt;
}

static void vtd_free(struct dmap_pgtable *pt)
{
	struct vtd_pt *d = to_vtd(pt);
	const struct dmap_env *env = pt->cfg.env;

	radix_free_below_root(d);
	dmap_pgtable_page_free(&pt->cfg, d->root, d->root_phys, VTD_TABLE_SIZE);
	env->ops->free(env->cookie, d, sizeof(*d));
}

const struct dmap_pgtable_format_ops dmap_pgtable_vtd_sl_ops = {
	.alloc = vtd_alloc,
	.free = vtd_free,
};

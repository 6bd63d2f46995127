/* SPDX-License-Identifier: MIT */
/*
 * backends/iommu/pgtable.h - page-table formats of the iommu backend (the
 * io-pgtable of dmap).
 *
 * Sources of this part (owned by the "formats" work; registered by
 * backends/iommu/formats.cmake, tests by tests/iommu/formats_tests.cmake):
 *   backends/iommu/pgtable.h            this interface
 *   backends/iommu/pgtable.c            alloc/free dispatch, gather, shared helpers
 *   backends/iommu/pgtable_radix.h      radix-tree skeleton shared by both formats
 *   backends/iommu/pgtable_arm_lpae.c   Arm VMSAv8-64 stage 1 (SMMUv3), 4K/16K/64K granules
 *   backends/iommu/pgtable_vtd.c        Intel VT-d second level, 3/4/5 levels
 *   backends/iommu/smmuv3_hw.c          STE, CD, command and event encoders/decoders
 *   backends/iommu/vtd_hw.c             root/context entries, invalidation, fault records
 *   core/include/dmap/iommu_hw.h        public constants and hardware-structure API
 *   tests/iommu/test_pgtable*.c, tests/iommu/test_hw_golden.c, docs/iommu-formats.md
 *
 * The split follows Linux's io-pgtable: a format knows how to write and walk
 * its tables and nothing about IOVA allocation or TLBs; it tells its owner
 * what to invalidate through &struct dmap_pgtable_flush_ops (with a cookie),
 * and the owner (the iommu domain) decides when: strictly, or later through a
 * flush queue (gather->queued).
 *
 * Concurrency contract (as io-pgtable): map_pages/unmap_pages on DISJOINT
 * ranges may run concurrently from any number of threads without a lock
 * (intermediate tables are installed with compare-and-swap); the caller must
 * not map and unmap overlapping ranges at the same time. walk and iova_to_phys
 * may run concurrently with anything: they read each PTE once, atomically,
 * as the hardware does, and may see either the old or the new state of an
 * entry being changed. Table pages are freed only after flush_walk (or, for a
 * queued gather, after dmap_pgtable_gather_release()), so the caller must
 * keep software walkers out of freed tables with the same flush (e.g. an RCU
 * grace period inside flush_walk/the flush queue).
 */
#ifndef DMAP_BACKENDS_IOMMU_PGTABLE_H
#define DMAP_BACKENDS_IOMMU_PGTABLE_H

#include <dmap/types.h>
#include <dmap/env.h>
#include <dmap/dmap.h>
#include <dmap/fault.h>
#include <dmap/iommu_hw.h>
#include <dmap/helpers.h>
#include <dmap_env_inline.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct dmap_pgtable_freelist - one table page waiting for its flush. The
 * node lives in the first 32 bytes of the retired page itself, so queuing
 * never allocates (see pgtable.c).
 * @next: singly linked.
 * @va: CPU pointer of the page.
 * @phys: its physical address.
 * @size: its size in bytes (as allocated by alloc_table_page).
 */
struct dmap_pgtable_freelist {
	struct dmap_pgtable_freelist *next;
	void *va;
	dmap_phys_t phys;
	size_t size;
};

/**
 * struct dmap_iommu_gather - what one or more unmaps left to invalidate
 * (Linux: struct iommu_iotlb_gather).
 * @start: lowest IOVA unmapped (inclusive); ~0 when empty.
 * @end: highest IOVA unmapped (inclusive); 0 when empty.
 * @pgsize: granule of the leaves gathered (0: none yet).
 * @freelist: table pages removed from the tables, freed by
 *            dmap_pgtable_gather_release() once the flush completed.
 * @queued: the caller will flush everything later (flush queue): unmap then
 *          does not call add_page and queues removed tables on @freelist
 *          instead of freeing them after flush_walk.
 */
struct dmap_iommu_gather {
	uint64_t start, end;
	size_t pgsize;
	struct dmap_pgtable_freelist *freelist;
	bool queued;
};

/**
 * struct dmap_pgtable_flush_ops - TLB maintenance the owner implements
 * (Linux: struct iommu_flush_ops). Called from map/unmap context: must not
 * sleep unless the caller of map/unmap may.
 * @flush_all: invalidate every translation of this table (its ASID / DID).
 * @flush_walk: a table covering [@iova, @iova+@size) was removed: invalidate
 *              leaf and walk caches for that range, synchronously (the table
 *              page is freed when this returns, unless the gather is queued).
 * @add_page: queue the invalidation of one leaf of @granule bytes at @iova into
 *            @g (may merge, or issue now). Never called for a queued gather.
 * @retire_tables: (optional) map replaced empty tables with a block: free
 *            the pages on @list (with dmap_pgtable_gather_release()) once no
 *            software walker can still be reading them, i.e. after an RCU
 *            grace period. Called after their flush_walk. NULL: they are
 *            freed when flush_walk returns.
 */
struct dmap_pgtable_flush_ops {
	void (*flush_all)(void *cookie);
	void (*flush_walk)(uint64_t iova, size_t size, size_t granule, void *cookie);
	void (*add_page)(struct dmap_iommu_gather *g, uint64_t iova, size_t granule, void *cookie);
	void (*retire_tables)(struct dmap_pgtable_freelist *list, void *cookie);
};

/*
 * DMAP_PGTABLE_QUIRK_VTD_SNOOP_CTL: the VT-d unit reports snoop control
 * (ECAP.SC, bit 7), so leaf SL-PTE bit 11 (SNP) is defined; only then does
 * DMAP_PROT_CACHE set it. Without it bit 11 is reserved (fault reason 0xC)
 * and DMAP_PROT_CACHE maps like a plain mapping (DMA is snooped by default).
 */
#define DMAP_PGTABLE_QUIRK_VTD_SNOOP_CTL (1u << 0)
#define DMAP_PGTABLE_QUIRK_ALL DMAP_PGTABLE_QUIRK_VTD_SNOOP_CTL

/**
 * struct dmap_pgtable_config - what the owner asks for, and what it gets back.
 * @format: which layout.
 * @pgsize_bitmap: in: the page/block sizes wanted (the smallest set bit picks
 *                 the ARM granule: 4K, 16K or 64K; VT-d: 4K only); out: the
 *                 sizes this table maps (granule plus its block sizes).
 * @ias: input (IOVA) address bits. ARM: 32..48. VT-d: 39, 48 or 57 (or 0 =
 *       derive from @out.vtd.levels); values in between are rounded up to
 *       the next level count.
 * @oas: output (physical) address bits. ARM: 32..48; VT-d: up to 52 (HAW).
 * @coherent_walk: the walker snoops CPU caches; false: every PTE write is
 *                 followed by env->ops->cache_clean.
 * @quirks: DMAP_PGTABLE_QUIRK_* bits (what the unit supports beyond the base format).
 * @flush: TLB maintenance; may be NULL (then nothing is flushed: tests only).
 * @cookie: passed to @flush.
 * @env: environment: table pages, phys_to_virt, cache maintenance, log.
 * @out: filled by dmap_pgtable_alloc():
 *   @out.arm: @ttbr (root table physical address for CD.TTB0), @tcr (the CD
 *             translation-control fields in Arm TCR_EL1 layout: T0SZ[5:0],
 *             IRGN0[9:8], ORGN0[11:10], SH0[13:12], TG0[15:14], IPS[34:32];
 *             dmap_smmu_cd_from_tcr() moves them into a CD), @mair
 *             (MAIR value, see DMAP_ARM_MAIR_*), @levels, @start_level (0..3),
 *             @granule_shift (12, 14, 16).
 *   @out.vtd: @root (physical address of the top table, for SLPTPTR),
 *             @levels (3, 4, 5), @agaw (1, 2, 3: the context entry's AW).
 */
struct dmap_pgtable_config {
	enum dmap_pgtable_format format;
	uint64_t pgsize_bitmap;
	unsigned int ias, oas;
	bool coherent_walk;
	unsigned int quirks;
	const struct dmap_pgtable_flush_ops *flush;
	void *cookie;
	const struct dmap_env *env;
	union {
		struct {
			uint64_t ttbr;
			uint64_t tcr;
			uint64_t mair;
			unsigned int levels, start_level, granule_shift;
		} arm;
		struct {
			dmap_phys_t root;
			unsigned int levels;
			unsigned int agaw;
		} vtd;
	} out;
};

/**
 * struct dmap_pgtable_walk - result of a successful device-side walk.
 * @phys: physical address the IOVA translates to.
 * @leaf_size: size of the leaf (page or block) that holds it.
 * @level: level of that leaf (ARM: 0..3, 3 = page; VT-d: 1..5, 1 = 4K page).
 * @perm: DMAP_ACCESS_READ / DMAP_ACCESS_WRITE / DMAP_ACCESS_EXEC that the
 *        leaf grants to an access of the privilege given to walk() (the
 *        DMAP_ACCESS_PRIV bit of its @access), plus DMAP_ACCESS_PRIV when
 *        the leaf is for privileged accesses only (ARM AP[1] clear).
 * @pte: the raw leaf descriptor.
 */
struct dmap_pgtable_walk {
	dmap_phys_t phys;
	size_t leaf_size;
	unsigned int level;
	unsigned int perm;
	uint64_t pte;
};

struct dmap_pgtable;

/**
 * struct dmap_pgtable_ops - what a format implements.
 *
 * @map_pages: map @pgcount pages of @pgsize bytes from @iova to @paddr with
 *   DMAP_PROT_* @prot. *@mapped (may not be NULL) is advanced by the bytes
 *   mapped, also on failure (the caller unmaps them). Errors: -EEXIST
 *   something is already mapped at a page (that page and the ones after it
 *   untouched), -ERANGE @iova or @paddr range beyond ias/oas, -EINVAL
 *   alignment, @pgsize not in the bitmap, zero @pgcount, no READ|WRITE in
 *   @prot or unknown prot bits, a table entry pointing at memory the
 *   environment does not know, -ENOMEM no table page (or no memory for its
 *   shadow node, env alloc with DMAP_ALLOC_ATOMIC). Context: may be called
 *   concurrently for disjoint ranges; does not sleep; not in an RCU read
 *   section (it allocates).
 * @unmap_pages: unmap @pgcount pages of @pgsize at @iova; returns the bytes
 *   unmapped (0 if the first page was not mapped or arguments are invalid;
 *   stops at the first hole). A block larger than @pgsize is split. Leaves
 *   are reported with add_page into @gather (unless queued); removed tables
 *   with flush_walk and freed, or put on @gather->freelist when queued.
 *   @gather may be NULL: leaves are then not reported (the caller must
 *   flush_all) and removed tables are freed right after flush_walk.
 *   Splitting needs one table page; without one the block stays mapped
 *   whole and 0 is returned. A table whose range is unmapped with the
 *   table's own size goes whole, mappings inside included (io-pgtable).
 *   Context: as map_pages; does not sleep (flush_walk may, if the owner's
 *   implementation does).
 * @iova_to_phys: physical address of @iova, 0 if unmapped (as Linux).
 * @walk: the device-side walk as the hardware does it, reading the tables
 *   through env phys_to_virt at their physical addresses, checking
 *   DMAP_ACCESS_* @access where the format checks it (ARM: AP bits at the
 *   leaf; VT-d: R/W at every level). Returns 0 with *@out filled, or -EFAULT
 *   with *@reason (TRANSLATION, PERMISSION, ADDR_SIZE, ACCESS_FLAG) and
 *   *@fault_level (the level at which the walk stopped), or -EINVAL. Never
 *   sleeps; callers from several threads fine; caller holds the RCU read
 *   lock if table pages may be freed concurrently.
 * @dump: call @emit for every table page with its level and physical
 *   address, root first, depth-first in IOVA order. Stops and returns
 *   @emit's value if non-zero. Not concurrently with map/unmap.
 */
struct dmap_pgtable_ops {
	int (*map_pages)(struct dmap_pgtable *pt, uint64_t iova, dmap_phys_t paddr, size_t pgsize,
			 size_t pgcount, unsigned int prot, size_t *mapped);
	size_t (*unmap_pages)(struct dmap_pgtable *pt, uint64_t iova, size_t pgsize, size_t pgcount,
			      struct dmap_iommu_gather *gather);
	dmap_phys_t (*iova_to_phys)(struct dmap_pgtable *pt, uint64_t iova);
	int (*walk)(struct dmap_pgtable *pt, uint64_t iova, unsigned int access,
		    struct dmap_pgtable_walk *out, enum dmap_fault_reason *reason,
		    unsigned int *fault_level);
	int (*dump)(struct dmap_pgtable *pt,
		    int (*emit)(void *arg, unsigned int level, dmap_phys_t phys, const void *table,
				size_t size),
		    void *arg);
};

/**
 * struct dmap_pgtable - a page table; formats embed it first in their own.
 * @ops: format operations.
 * @cfg: the configuration, with @cfg.out filled.
 */
struct dmap_pgtable {
	const struct dmap_pgtable_ops *ops;
	struct dmap_pgtable_config cfg;
};

/**
 * dmap_pgtable_alloc() - make an empty page table.
 * @cfg: configuration; @cfg->pgsize_bitmap and @cfg->out are written.
 *
 * Context: may sleep (metadata allocation); not under RCU.
 * Returns the table, or NULL with a dmap_log message naming the bad field
 * (format, granule, ias, oas, missing env hooks) or the failed allocation.
 */
struct dmap_pgtable *dmap_pgtable_alloc(struct dmap_pgtable_config *cfg);

/**
 * dmap_pgtable_free() - free every table page and the table itself.
 * @pt: table (NULL: no-op). The caller must have flushed the unit's caches
 * for it and no walker may use it any more.
 */
void dmap_pgtable_free(struct dmap_pgtable *pt);

/** dmap_iommu_gather_init() - empty gather (start ~0, end 0, not queued). */
void dmap_iommu_gather_init(struct dmap_iommu_gather *g);

/**
 * dmap_pgtable_gather_release() - free the table pages queued on @g (call
 * after the flush that made them unreachable to every walker). @g's freelist
 * is empty afterwards; range fields are left alone. NULL @g: no-op.
 */
void dmap_pgtable_gather_release(struct dmap_pgtable *pt, struct dmap_iommu_gather *g);

/*
 * Map replaced empty tables (retired on the queued gather @g): hand them to
 * the owner's retire_tables, or free them now if it has none.
 */
void dmap_pgtable_retire_replaced(struct dmap_pgtable *pt, struct dmap_iommu_gather *g);

/** dmap_pgtable_format_name() - "arm-lpae-s1", "vtd-sl" or "unknown". */
const char *dmap_pgtable_format_name(enum dmap_pgtable_format format);

/* ---- for the format implementations only (pgtable*.c) ------------------ */

/**
 * struct dmap_pgtable_format_ops - one format's constructor and destructor.
 * @alloc: validate @cfg (logging what is wrong), allocate the root, fill
 *         @cfg->out and @cfg->pgsize_bitmap. NULL on failure.
 * @free: free every table page and the object.
 */
struct dmap_pgtable_format_ops {
	struct dmap_pgtable *(*alloc)(struct dmap_pgtable_config *cfg);
	void (*free)(struct dmap_pgtable *pt);
};

extern const struct dmap_pgtable_format_ops dmap_pgtable_arm_lpae_s1_ops;
extern const struct dmap_pgtable_format_ops dmap_pgtable_vtd_sl_ops;

/* A zeroed table page of @size bytes and its physical address; NULL if none (logged). */
void *dmap_pgtable_page_alloc(const struct dmap_pgtable_config *cfg, size_t size,
			      dmap_phys_t *phys);
void dmap_pgtable_page_free(const struct dmap_pgtable_config *cfg, void *va, dmap_phys_t phys,
			    size_t size);
/*
 * Table page at @phys that this table no longer references: freed now, or
 * queued on @gather's freelist when @gather is queued. The freelist node is
 * written into the first 32 bytes of the page itself (its walk caches were
 * invalidated by flush_walk, and every word of the node has its low two bits
 * clear, so a software walker that still reads it sees invalid entries).
 */
void dmap_pgtable_page_retire(const struct dmap_pgtable_config *cfg,
			      struct dmap_iommu_gather *gather, void *va, dmap_phys_t phys,
			      size_t size);
/* CPU pointer of the table page at @phys (through env phys_to_virt); NULL if unknown. */
void *dmap_pgtable_phys_to_virt(const struct dmap_pgtable_config *cfg, dmap_phys_t phys);

/**
 * struct dmap_pgtable_node - the CPU side's shadow of one table page (see
 * pgtable.c): where the map and unmap paths find a table without asking the
 * environment to translate its physical address.
 * @ptes: CPU pointer of the table page.
 * @phys: its physical address (what the parent entry points to).
 * @child: one slot per entry, only in nodes of tables whose entries may
 *         point to tables: the node of the table below entry i, or NULL.
 *         A slot is a hint, trusted only while its node's @phys equals the
 *         address in the entry (the entry is the truth, as for the walker).
 */
struct dmap_pgtable_node {
	uint64_t *ptes;
	dmap_phys_t phys;
	struct dmap_pgtable_node *child[];
};

/*
 * A node for the table page @ptes/@phys with @slots child slots (0 for a
 * leaf-level table), zeroed; NULL (logged) without memory. Map context:
 * allocates with DMAP_ALLOC_ATOMIC.
 */
struct dmap_pgtable_node *dmap_pgtable_node_alloc(const struct dmap_pgtable_config *cfg,
						  uint64_t *ptes, dmap_phys_t phys, size_t slots);
void dmap_pgtable_node_free(const struct dmap_pgtable_config *cfg, struct dmap_pgtable_node *node,
			    size_t slots);
/*
 * The node of the table that entry @idx of @parent points to, @pte being that
 * entry as just read and @table_phys the table address in it. Fast path: the
 * parent's slot, when it names @table_phys. Otherwise (another thread
 * installed the table and has not published its node yet) the table is
 * found through env phys_to_virt, as the walker finds it, and a node for it
 * is published with compare-and-swap. NULL (logged) if the environment does
 * not know the address (*@err = -EINVAL, if @err) or there is no memory for
 * the node (-ENOMEM).
 */
struct dmap_pgtable_node *dmap_pgtable_node_slow(const struct dmap_pgtable_config *cfg,
						 struct dmap_pgtable_node *parent, size_t idx,
						 dmap_phys_t table_phys, size_t slots, int *err);
/*
 * Publish @node (whose table entry @idx of @parent now points to) in the
 * parent's slot. Returns the node to use: @node, or an equivalent one that
 * a slow-path reader published first (then @node is freed).
 */
struct dmap_pgtable_node *dmap_pgtable_node_publish(const struct dmap_pgtable_config *cfg,
						    struct dmap_pgtable_node *parent, size_t idx,
						    struct dmap_pgtable_node *node, size_t slots);
static inline struct dmap_pgtable_node *dmap_pgtable_child(const struct dmap_pgtable_config *cfg,
							   struct dmap_pgtable_node *parent,
							   size_t idx, dmap_phys_t table_phys,
							   size_t slots, int *err)
{
	struct dmap_pgtable_node *node = dmap_load_acquire(&parent->child[idx]);

	if (dmap_likely(node && node->phys == table_phys))
		return node;
	return dmap_pgtable_node_slow(cfg, parent, idx, table_phys, slots, err);
}

/*
 * Entry @idx of @parent no longer points to @node's table (the caller
 * cleared or replaced the entry): drop the slot if it still names @node.
 */
static inline void dmap_pgtable_unlink_child(struct dmap_pgtable_node *parent, size_t idx,
					     struct dmap_pgtable_node *node)
{
	struct dmap_pgtable_node *expected = node;

	dmap_cmpxchg(&parent->child[idx], &expected, (struct dmap_pgtable_node *)NULL);
}
/* Make @n PTEs at @ptep visible to a non-coherent walker (cache_clean); no-op when coherent. */
static inline void dmap_pgtable_sync_ptes(const struct dmap_pgtable_config *cfg, uint64_t *ptep,
					  size_t n)
{
	if (!cfg->coherent_walk && cfg->env->ops->cache_clean)
		cfg->env->ops->cache_clean(cfg->env->cookie, ptep, n * sizeof(*ptep));
}

/* Widen @gather's range to cover [@iova, @iova + @size) of leaves of @granule bytes. */
void dmap_pgtable_gather_range(struct dmap_iommu_gather *gather, uint64_t iova, size_t size,
			       size_t granule);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_BACKENDS_IOMMU_PGTABLE_H */

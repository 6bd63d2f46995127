/* SPDX-License-Identifier: MIT */
/*
 * dmap/xen.h - the Xen backend: the guest's P2M (pfn -> mfn) with the M2P
 * reverse map, and a domain whose ops translate through it (Linux:
 * arch/x86/xen/p2m.c and drivers/xen/swiotlb-xen.c).
 *
 * Address spaces. Under Xen PV the addresses a guest kernel calls "physical"
 * are pseudo-physical: frame number (pfn) p of the guest is backed by some
 * machine frame (mfn) the hypervisor chose, and pfn p+1 is usually backed by
 * a machine frame nowhere near it. dmap follows the Linux frontend's model:
 *
 *  - every "physical" address dmap's map calls and the environment see
 *    (dmap_map_phys(), dmap_map_single()'s virt_to_phys, phys_to_virt,
 *    dmap_translation.phys) is GUEST PSEUDO-PHYSICAL: pfn << 12 | offset;
 *  - bus addresses a Xen domain hands out are MACHINE addresses
 *    (mfn << 12 | offset), or guest pseudo-physical in IOVA == pfn mode;
 *  - frames are always Xen's 4 KiB (DMAP_XEN_PAGE_SHIFT), whatever the
 *    guest's page size (arm64 guests run 64 KiB pages on 4 KiB Xen frames).
 *
 * Only these ops know the P2M; drivers never ask "is this a PV guest".
 * docs/xen.md explains the model, the simulated guest used by tests, and the
 * contract of the contiguous-region hook.
 */
#ifndef DMAP_XEN_H
#define DMAP_XEN_H

#include <dmap/dmap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- frames and P2M entry encoding (Linux: asm/xen/page.h) ------------- */

#define DMAP_XEN_PAGE_SHIFT 12
#define DMAP_XEN_PAGE_SIZE (1ull << DMAP_XEN_PAGE_SHIFT)
/* A missing P2M entry, and "no pfn" from the M2P (Linux: INVALID_P2M_ENTRY). */
#define DMAP_XEN_INVALID_FRAME (~(uint64_t)0)
/* Raw-entry marker bits (Linux: FOREIGN_FRAME_BIT, IDENTITY_FRAME_BIT on 64-bit). */
#define DMAP_XEN_FOREIGN_FRAME_BIT (1ull << 63)
#define DMAP_XEN_IDENTITY_FRAME_BIT (1ull << 62)
#define DMAP_XEN_FOREIGN_FRAME(m) ((uint64_t)(m) | DMAP_XEN_FOREIGN_FRAME_BIT)
#define DMAP_XEN_IDENTITY_FRAME(m) ((uint64_t)(m) | DMAP_XEN_IDENTITY_FRAME_BIT)
/* Largest frame number whose byte address fits in 64 bits. */
#define DMAP_XEN_MAX_FRAME ((1ull << (64 - DMAP_XEN_PAGE_SHIFT)) - 1)
/* Entries per P2M leaf page (Linux: P2M_PER_PAGE on 64-bit). */
#define DMAP_XEN_P2M_PER_PAGE 512
/* Default P2M size: Linux's 3-level tree, 512^3 frames (512 GiB). */
#define DMAP_XEN_DEFAULT_FRAMES (1ull << 27)
/* Largest max_pfn / max_mfn a P2M accepts: 2^36 frames (256 TiB). */
#define DMAP_XEN_LIMIT_FRAMES (1ull << 36)

/**
 * enum dmap_xen_frame_kind - what a P2M entry says about a guest frame.
 * @DMAP_XEN_FRAME_MISSING: no machine frame (ballooned out, never
 *	populated); raw entry DMAP_XEN_INVALID_FRAME. Never DMA-able.
 * @DMAP_XEN_FRAME_VALID: backed by a machine frame of this guest.
 * @DMAP_XEN_FRAME_IDENTITY: 1:1 (mfn == pfn), for I/O holes, PCI BARs and
 *	ACPI regions; raw entry DMAP_XEN_IDENTITY_FRAME(pfn).
 * @DMAP_XEN_FRAME_FOREIGN: a frame of another domain, grant-mapped here
 *	(netback, blkback); raw entry DMAP_XEN_FOREIGN_FRAME(mfn). Its M2P entry
 *	belongs to the other domain, so mfn_to_pfn does not round-trip.
 */
enum dmap_xen_frame_kind {
	DMAP_XEN_FRAME_MISSING = 0,
	DMAP_XEN_FRAME_VALID = 1,
	DMAP_XEN_FRAME_IDENTITY = 2,
	DMAP_XEN_FRAME_FOREIGN = 3,
};

/* ---- the P2M and M2P -------------------------------------------------- */

struct dmap_xen_p2m;

/**
 * struct dmap_xen_p2m_config - sizes of the translation tables.
 * @max_pfn: guest frames the P2M can describe (pfns 0..max_pfn-1); 0 means
 *	DMAP_XEN_DEFAULT_FRAMES; at most DMAP_XEN_LIMIT_FRAMES.
 * @max_mfn: machine frames the M2P can describe; same default and limit.
 *
 * Only the top level is sized by these (8 bytes per 2^18 frames); leaves and
 * middle pages exist only where entries are populated.
 */
struct dmap_xen_p2m_config {
	uint64_t max_pfn;
	uint64_t max_mfn;
};

/**
 * struct dmap_xen_p2m_stats - memory and update counters of a P2M.
 * @leaf_pages: private 512-entry leaves now allocated (P2M, M2P and the
 *	foreign reverse map together; shared missing/identity leaves are free).
 * @mid_pages: private middle pages now allocated.
 * @bytes: metadata bytes now allocated, top levels included.
 * @updates: successful set calls.
 * @frames_written: entries written by them.
 * @generation: even when no update is in progress (Linux: p2m_generation).
 * @max_pfn, @max_mfn: the configured sizes.
 */
struct dmap_xen_p2m_stats {
	uint64_t leaf_pages;
	uint64_t mid_pages;
	uint64_t bytes;
	uint64_t updates;
	uint64_t frames_written;
	uint64_t generation;
	uint64_t max_pfn;
	uint64_t max_mfn;
};

/**
 * dmap_xen_p2m_create() - make an empty P2M (every pfn missing) and M2P.
 * @env: environment (allocation, call_rcu); must outlive the P2M.
 * @config: sizes; NULL for the defaults.
 * @out: receives the P2M.
 *
 * Context: may sleep. Returns 0, -EINVAL (NULL, sizes above the limit),
 * -ENOMEM.
 */
int dmap_xen_p2m_create(const struct dmap_env *env, const struct dmap_xen_p2m_config *config,
			struct dmap_xen_p2m **out);

/**
 * dmap_xen_p2m_destroy() - free a P2M. No lookup may run any more and no
 * domain may use it. Context: sleeps (waits for deferred frees). NULL: no-op.
 */
void dmap_xen_p2m_destroy(struct dmap_xen_p2m *p2m);

/**
 * dmap_xen_p2m_set_range() - set @count consecutive guest frames.
 * @p2m: the P2M.
 * @pfn: first guest frame; @pfn + @count must not exceed max_pfn.
 * @count: frames, > 0.
 * @kind: what they become.
 * @mfn: for VALID and FOREIGN, the machine frame of @pfn (frame @pfn+i gets
 *	@mfn+i; @mfn + @count must not exceed max_mfn); ignored otherwise.
 *
 * Updates the M2P as Xen does for the guest: a VALID frame's machine frame
 * points back to it, and a machine frame that pointed back to an entry being
 * overwritten is cleared. FOREIGN frames are recorded in a separate reverse
 * map (Linux's old m2p override) and never in the M2P, which belongs to the
 * other domain. Whole 512-frame leaves set MISSING or IDENTITY share one
 * read-only page, and private pages they replace are freed after a grace
 * period, so holes cost no memory.
 *
 * Atomic: either every entry is written or (on error) nothing changes.
 * Concurrent lookups see each entry either old or new, never torn.
 * Context: any, never sleeps (allocates with DMAP_ALLOC_ATOMIC, as Linux's
 * grant-map path must); writers are serialised by an internal lock; may be
 * called inside an RCU read section.
 * Returns 0, -EINVAL (NULL, zero count, unknown kind), -ERANGE (frames beyond
 * max_pfn/max_mfn or overflowing), -EBUSY (a VALID target machine frame
 * already backs another guest frame outside the range; the message names
 * both), -ENOMEM.
 */
int dmap_xen_p2m_set_range(struct dmap_xen_p2m *p2m, uint64_t pfn, uint64_t count,
			   enum dmap_xen_frame_kind kind, uint64_t mfn);

/** dmap_xen_p2m_set() - dmap_xen_p2m_set_range() for one frame. */
int dmap_xen_p2m_set(struct dmap_xen_p2m *p2m, uint64_t pfn, enum dmap_xen_frame_kind kind,
		     uint64_t mfn);

/**
 * dmap_xen_p2m_get_raw() - the raw entry of @pfn (Linux: __pfn_to_mfn()):
 * an mfn, DMAP_XEN_FOREIGN_FRAME(mfn), DMAP_XEN_IDENTITY_FRAME(pfn), or
 * DMAP_XEN_INVALID_FRAME for a missing frame, a pfn at or beyond max_pfn
 * (dmap does not extend Linux's "identity beyond the end" rule: an unknown
 * frame is an error, not I/O space) or a NULL @p2m.
 *
 * Context: any; lock-free (takes the RCU read lock itself; nests).
 */
uint64_t dmap_xen_p2m_get_raw(const struct dmap_xen_p2m *p2m, uint64_t pfn);

/**
 * dmap_xen_p2m_lookup() - decode the entry of @pfn.
 * @mfn: receives the machine frame (marker bits removed), may be NULL.
 * @kind: receives the kind, may be NULL.
 *
 * Context: any; lock-free. Returns 0 for VALID, IDENTITY and FOREIGN,
 * -ENOENT for a missing frame (*@kind = MISSING, *@mfn = INVALID), -ERANGE
 * for @pfn at or beyond max_pfn, -EINVAL for NULL @p2m.
 */
int dmap_xen_p2m_lookup(const struct dmap_xen_p2m *p2m, uint64_t pfn, uint64_t *mfn,
			enum dmap_xen_frame_kind *kind);

/**
 * dmap_xen_pfn_to_mfn() - machine frame of @pfn with the marker bits masked
 * (Linux: pfn_to_mfn()): identity gives @pfn, foreign the other domain's
 * frame; DMAP_XEN_INVALID_FRAME if missing or unknown. Lock-free.
 */
uint64_t dmap_xen_pfn_to_mfn(const struct dmap_xen_p2m *p2m, uint64_t pfn);

/**
 * dmap_xen_mfn_to_pfn() - guest frame of machine frame @mfn (Linux:
 * mfn_to_pfn()): reads the M2P and accepts the answer only if the P2M maps it
 * back (pfn_to_mfn(mfn_to_pfn(m)) == m, so a foreign frame or a stale M2P
 * entry gives DMAP_XEN_INVALID_FRAME); failing that, returns @mfn itself if
 * the P2M has @mfn as an identity frame. Lock-free.
 */
uint64_t dmap_xen_mfn_to_pfn(const struct dmap_xen_p2m *p2m, uint64_t mfn);

/**
 * dmap_xen_foreign_mfn_to_pfn() - the guest frame that grant-maps foreign
 * machine frame @mfn (the last one set, if several do), checked against the
 * P2M; DMAP_XEN_INVALID_FRAME if none. Lock-free.
 */
uint64_t dmap_xen_foreign_mfn_to_pfn(const struct dmap_xen_p2m *p2m, uint64_t mfn);

/**
 * dmap_xen_m2p_get() - the raw M2P entry of @mfn, unchecked
 * (DMAP_XEN_INVALID_FRAME if none or out of range). Lock-free.
 */
uint64_t dmap_xen_m2p_get(const struct dmap_xen_p2m *p2m, uint64_t mfn);

/**
 * dmap_xen_m2p_set() - write one M2P entry directly, as the hypervisor does
 * for frames of other domains (a simulated machine gives another domain's
 * frames their owner's pfn so that the round-trip check has something to
 * reject). @pfn may be DMAP_XEN_INVALID_FRAME to clear. Does not touch the
 * P2M. Same context as dmap_xen_p2m_set_range(). Returns 0, -EINVAL, -ERANGE,
 * -ENOMEM.
 */
int dmap_xen_m2p_set(struct dmap_xen_p2m *p2m, uint64_t mfn, uint64_t pfn);

/** dmap_xen_p2m_get_stats() - snapshot the counters. Returns 0 or -EINVAL. */
int dmap_xen_p2m_get_stats(const struct dmap_xen_p2m *p2m, struct dmap_xen_p2m_stats *out);

/* ---- the contiguous-region hook (XENMEM_exchange) ---------------------- */

/* Largest order the hook is asked for (Linux: MAX_CONTIG_ORDER, 2 MiB). */
#define DMAP_XEN_MAX_CONTIG_ORDER 9

/**
 * struct dmap_xen_exchange_ops - how a domain obtains machine-contiguous
 * memory (Linux: xen_create_contiguous_region() / _destroy_, built on the
 * XENMEM_exchange hypercall).
 *
 * @create_contiguous: (required for bouncing and coherent allocations)
 *	exchange the machine frames behind guest frames [@pfn, @pfn + 2^@order)
 *	for one machine-contiguous, 2^@order-aligned extent whose last byte
 *	lies below 2^@address_bits; update the P2M with
 *	dmap_xen_p2m_set_range(@p2m, @pfn, 2^@order, VALID, new_mfn) (which
 *	also updates the M2P), remap the guest's own CPU mappings of those
 *	frames, and return the first machine frame in *@mfn. The old machine
 *	frames go back to the hypervisor. The frames' contents afterwards are
 *	undefined (dmap initialises them). @order is at most
 *	DMAP_XEN_MAX_CONTIG_ORDER; @address_bits at least @order + 12. The
 *	caller guarantees the frames are VALID, owned by it and not mapped for
 *	DMA. Returns 0, or a negative errno (-ENOMEM: Xen has no such extent;
 *	-EINVAL) with the P2M, the M2P and the CPU mappings UNCHANGED, as
 *	Linux's version guarantees by remapping the original frames. May sleep.
 * @destroy_contiguous: (optional) give an extent back: exchange it for any
 *	frames (Linux: xen_destroy_contiguous_region()), updating the P2M the
 *	same way. Called when a pool or coherent allocation is freed. May sleep.
 *
 * The Linux frontend implements both with the kernel's own functions; the
 * hosted simulated guest (<dmap/hosted_xen.h>) implements them by picking a
 * free machine extent and rewriting the P2M, the M2P and its page mappings.
 */
struct dmap_xen_exchange_ops {
	int (*create_contiguous)(void *cookie, struct dmap_xen_p2m *p2m, uint64_t pfn,
				 unsigned int order, unsigned int address_bits, uint64_t *mfn);
	void (*destroy_contiguous)(void *cookie, struct dmap_xen_p2m *p2m, uint64_t pfn,
				   unsigned int order);
};

/* ---- the Xen domain ----------------------------------------------------- */

/**
 * struct dmap_xen_iommu_ops - how an IOVA == pfn domain programs the iommu
 * domain it is stacked on, without the Xen backend depending on the iommu
 * backend being built: pass dmap_iommu_map, dmap_iommu_unmap and the
 * DMAP_PROT_READ / DMAP_PROT_WRITE values of <dmap/iommu_hw.h>.
 * @map: map IOVA @iova to machine address @phys for @size bytes.
 * @unmap: undo it.
 * @prot_read, @prot_write: the permission bits @map takes.
 */
struct dmap_xen_iommu_ops {
	int (*map)(struct dmap_domain *iommu, uint64_t iova, dmap_phys_t phys, size_t size,
		   unsigned int prot);
	int (*unmap)(struct dmap_domain *iommu, uint64_t iova, size_t size);
	unsigned int prot_read;
	unsigned int prot_write;
};

/**
 * struct dmap_xen_config - a Xen domain (the guest's dma_ops).
 * @name: instance name (NULL: "xen").
 * @p2m: the guest's P2M; required; must outlive the domain.
 * @guest_page_shift: the guest's page size, 12..16 (0: 12). Translation is
 *	always per 4 KiB Xen frame; this only sets the alignment of bounce
 *	slots and coherent allocations to whole guest pages.
 * @exchange: the contiguous-region hook; required unless @iova_is_pfn.
 * @exchange_cookie: passed to it.
 * @pool_size: bounce pool bytes (0: 4 MiB); rounded up to whole segments.
 * @segment_size: bytes made contiguous per hook call, a power of two from
 *	4 KiB to 2 MiB (0: 256 KiB, Linux's 128 slots of 2 KiB); also the
 *	largest single bounce mapping, reported by dmap_max_mapping_size().
 * @pool_address_bits: the pool lies below 2^bits (0: 32, Linux's MAX_DMA_BITS).
 * @allow_foreign: foreign (grant-mapped) frames may be mapped for DMA;
 *	otherwise mapping one fails with a message naming the pfn.
 * @iova_is_pfn: the guest's IOMMU maps its pseudo-physical space: the bus
 *	address is the guest physical address, nothing bounces, no pool.
 * @iommu: with @iova_is_pfn, an optional iommu domain whose page tables map
 *	pfn -> mfn (filled by dmap_xen_iommu_populate()); device-side accesses
 *	walk its tables. Marked used until this domain is destroyed.
 * @iommu_ops: required with @iommu.
 */
struct dmap_xen_config {
	const char *name;
	struct dmap_xen_p2m *p2m;
	unsigned int guest_page_shift;
	const struct dmap_xen_exchange_ops *exchange;
	void *exchange_cookie;
	size_t pool_size;
	size_t segment_size;
	unsigned int pool_address_bits;
	bool allow_foreign;
	bool iova_is_pfn;
	struct dmap_domain *iommu;
	const struct dmap_xen_iommu_ops *iommu_ops;
};

/**
 * struct dmap_xen_stats - what a Xen domain did.
 * @direct_maps: mappings that went direct (machine-contiguous, below the
 *	mask); counted only while dmap_domain_set_counting() is on, like the
 *	core's per-mapping counters (an add costs as much as the mapping).
 * @bounced_maps: mappings that went through the bounce pool.
 * @straddles: mappings whose range was not machine-contiguous.
 * @mask_bounces: contiguous mappings bounced because the mask could not reach.
 * @exchanges: successful create_contiguous calls (pool segments, coherent).
 * @exchange_failures: failed create_contiguous calls.
 * @missing_frames: map calls refused for touching a missing frame.
 * @foreign_refused: map calls refused for a foreign frame (!allow_foreign).
 * @pool_exhausted: bounces refused because no slot was free.
 * @pfn_maps: IOVA == pfn mappings (counting on, as @direct_maps).
 * @pool_bytes: bytes of bounce pool; @pool_used: bytes in use now;
 * @pool_high_water: most ever in use.
 */
struct dmap_xen_stats {
	uint64_t direct_maps;
	uint64_t bounced_maps;
	uint64_t straddles;
	uint64_t mask_bounces;
	uint64_t exchanges;
	uint64_t exchange_failures;
	uint64_t missing_frames;
	uint64_t foreign_refused;
	uint64_t pool_exhausted;
	uint64_t pfn_maps;
	uint64_t pool_bytes;
	uint64_t pool_used;
	uint64_t pool_high_water;
};

/**
 * dmap_xen_domain_create() - make a Xen domain.
 * @ctx: context whose environment's "physical" addresses are guest
 *	pseudo-physical (see the file comment).
 * @config: settings.
 * @out: receives the domain.
 *
 * Outside IOVA == pfn mode the bounce pool is allocated now from the
 * environment's alloc_dma_pages and made machine-contiguous segment by
 * segment with the exchange hook, raising the address bits from the segment
 * order up to @pool_address_bits as Linux's xen_swiotlb_fixup() does.
 * Context: may sleep. Returns 0, -EINVAL (NULL, missing P2M or hook, bad
 * sizes, @iommu without @iova_is_pfn or of another context), -ENOMEM (also
 * when the hook cannot provide contiguous memory; the message says which
 * segment), -EOPNOTSUPP (environment without alloc_dma_pages).
 */
int dmap_xen_domain_create(struct dmap_ctx *ctx, const struct dmap_xen_config *config,
			   struct dmap_domain **out);

/** dmap_xen_get_stats() - snapshot a Xen domain's counters. Returns 0 or -EINVAL. */
int dmap_xen_get_stats(const struct dmap_domain *domain, struct dmap_xen_stats *out);

/** dmap_xen_domain_p2m() - the P2M a Xen domain translates through (NULL if not a Xen domain). */
struct dmap_xen_p2m *dmap_xen_domain_p2m(const struct dmap_domain *domain);

/**
 * dmap_xen_domain_pool() - the bounce domain a Xen domain bounces through
 * (for its statistics and debugging); NULL in IOVA == pfn mode or for a
 * domain that is not a Xen domain.
 */
struct dmap_domain *dmap_xen_domain_pool(const struct dmap_domain *domain);

/**
 * dmap_xen_iommu_populate() - mirror guest frames [@pfn, @pfn + @count) of
 * the P2M into the stacked iommu domain: IOVA pfn << 12 -> machine address
 * mfn << 12 for every VALID frame (and FOREIGN one if allowed), merging
 * machine-contiguous runs; what Xen does for a domain whose IOMMU follows its
 * P2M. Call it after creating the domain and again for frames the P2M gains
 * later. Context: may sleep. Returns 0, -EINVAL (not a Xen domain with an
 * iommu, zero @count), -ERANGE, or the iommu's error (e.g. -EBUSY for a
 * frame mapped already; frames before it stay mapped).
 */
int dmap_xen_iommu_populate(struct dmap_domain *domain, uint64_t pfn, uint64_t count);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_XEN_H */

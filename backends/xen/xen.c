// SPDX-License-Identifier: MIT
/*
 * backends/xen/xen.c - DMA ops for a Xen PV guest (Linux: swiotlb-xen).
 *
 * The problem: a PV guest's pseudo-physical frames are backed by machine
 * frames in no particular order, so a buffer that crosses a 4 KiB boundary
 * is contiguous for the CPU and scattered for the device. Only these ops
 * know the P2M, so only they may decide how a buffer reaches the device.
 *
 * Mapping (swiotlb-xen's xen_swiotlb_map_page): walk the P2M once per 4 KiB
 * Xen frame of the buffer - whatever the guest's page size, since arm64
 * guests run 64 KiB pages on 4 KiB Xen frames and a single guest page can
 * be scattered too. A missing frame anywhere (ballooned out, never
 * populated) is an error naming the pfn: there is nothing to DMA to or to
 * copy from. A foreign (grant-mapped) frame is refused unless the domain
 * allows it. If every frame is machine-contiguous with the first and the
 * device's mask reaches the whole machine range, the machine address is the
 * bus address and nothing else happens (no state, like dma-direct).
 * Otherwise the buffer bounces: a bounce domain (the swiotlb replacement in
 * backends/bounce) copies it into a slot of a pool whose memory this domain
 * made machine-contiguous below the pool's address limit, and the bus
 * address is the slot's machine address.
 *
 * Why the bounce pool works in pseudo-physical addresses. The pool is guest
 * memory (the environment's alloc_dma_pages) that the exchange hook made
 * machine-contiguous one segment at a time (Linux: xen_swiotlb_fixup ->
 * xen_create_contiguous_region, at most 2 MiB per call, so a large pool is
 * contiguous per segment, not as a whole). The bounce domain therefore sees
 * "bus == pseudo-physical" and hands out slot addresses in guest terms; its
 * buddy blocks are naturally aligned and no larger than a segment, so a
 * slot never crosses a segment boundary, and this domain turns the slot's
 * pseudo-physical address into its machine address (Linux: xen_phys_to_dma
 * after swiotlb_tbl_map_single) and re-checks the mask, as Linux does.
 * Pool pages are also allocated below the address limit in pseudo-physical
 * terms, so the bounce domain's own reachability check (which sees
 * pseudo-physical addresses) never refuses what the machine address allows.
 *
 * Unmap and sync go the other way: machine address -> pfn through the M2P
 * with the round-trip check (mfn_to_pfn), then "is it a bounce slot?"
 * (is_xen_swiotlb_buffer). Slots go back to the bounce domain; direct
 * mappings only need cache maintenance for non-coherent devices, done on
 * the pseudo-physical range, which the environment understands.
 *
 * The device side inverts the same arithmetic: a machine address becomes a
 * guest pseudo-physical address (the environment's "physical" address)
 * through the M2P, or through the foreign reverse map for a grant-mapped
 * frame; bounce slots are checked by the bounce domain (live mapping,
 * direction). Direct mappings are stateless, so, as with the identity
 * backend, any RAM frame of the guest is reachable by bus address.
 *
 * IOVA == pfn mode is for guests whose IOMMU maps the pseudo-physical space
 * (PVH/HVM with a vIOMMU, or dom0 with the IOMMU programmed from the P2M):
 * the bus address is the guest physical address, any buffer maps directly,
 * nothing bounces; the P2M is still checked so a missing frame is an error.
 * Stacked on an iommu domain, that domain's page tables hold pfn -> mfn and
 * device accesses walk them.
 */
#include <dmap/xen.h>
#include <dmap/bounce.h>
#include <dmap/ops.h>
#include <dmap/helpers.h>

#include "xen_internal.h"

#define XEN_PAGE DMAP_XEN_PAGE_SIZE
#define XEN_SHIFT DMAP_XEN_PAGE_SHIFT
#define XEN_OFFSET_MASK (DMAP_XEN_PAGE_SIZE - 1)

#define XEN_DEFAULT_POOL (4ull << 20)
#define XEN_DEFAULT_SEGMENT (256ull << 10)
#define XEN_DEFAULT_POOL_BITS 32

#define XEN_SHARDS 16

/* One machine-contiguous segment of the bounce pool. */
struct xen_segment {
	uint64_t maddr;
	dmap_phys_t gphys;
};

struct xen_shard {
	uint64_t direct_maps, bounced_maps, straddles, mask_bounces, pfn_maps;
} __attribute__((aligned(64)));

/* A relaxed add on this thread's shard: exact, and mapping threads do not share a line. */
#define xen_count(x, field) \
	dmap_atomic_add_relaxed(&(x)->shards[dmap_cpu_hint() & (XEN_SHARDS - 1)].field, 1)

/* A coherent buffer: remembered so free can undo its exchange and reject strangers. */
struct xen_coherent {
	struct xen_coherent *next;
	void *va;
	dmap_phys_t gphys;
	dmap_addr_t handle;
	size_t size; /* allocated: 4 KiB << order */
	unsigned int order;
	bool exchanged;
};

struct dmap_xen {
	struct dmap_domain dom;
	const struct dmap_env *env;
	struct dmap_xen_p2m *p2m;
	const struct dmap_xen_exchange_ops *exchange;
	void *exchange_cookie;
	unsigned int guest_page_shift;
	size_t pool_size;
	size_t segment_size;
	unsigned int pool_bits;
	bool allow_foreign;
	bool iova_is_pfn;
	struct dmap_domain *bounce;
	struct dmap_domain *iommu;
	const struct dmap_xen_iommu_ops *iommu_ops;
	uint64_t pool_machine_last; /* highest machine address of the pool */
	dmap_phys_t pool_first, pool_last; /* pseudo-physical range of the pool (growth is off) */
	dmap_spinlock_t coherent_lock;
	struct xen_coherent *coherent;
	struct dmap_ratelimit ratelimit;
	/* machine ranges of the pool's segments, sorted; read-only once created */
	struct xen_segment *pool_segments;
	size_t nr_pool_segments, max_pool_segments;
	uint64_t pool_machine_first;
	/* hot counters, sharded per thread so mapping threads do not share a line */
	struct xen_shard shards[XEN_SHARDS];
	/* cold counters (relaxed atomics) */
	uint64_t exchanges, exchange_failures, missing_frames, foreign_refused;
	uint64_t pool_exhausted;
};

static const struct dmap_ops dmap_xen_ops;

static inline struct dmap_xen *to_xen(struct dmap_domain *dom)
{
	return dmap_container_of(dom, struct dmap_xen, dom);
}

static bool xen_needs_cache_ops(const struct dmap_xen *x, const struct dmap_dev *dev)
{
	return !(dev->flags & DMAP_DEV_COHERENT) &&
	       (x->env->ops->cache_clean || x->env->ops->cache_invalidate);
}

static bool xen_warn(struct dmap_xen *x, unsigned long attrs)
{
	return !(attrs & DMAP_ATTR_NO_WARN) && dmap_ratelimit_ok(x->env, &x->ratelimit);
}

/* ---- the P2M walk --------------------------------------------------------- */

enum xen_walk {
	XEN_WALK_CONTIGUOUS,
	XEN_WALK_STRADDLES,
	XEN_WALK_MISSING,
	XEN_WALK_FOREIGN,
};

/*
 * Walk the Xen frames of [gphys, gphys+size): is it machine-contiguous, and
 * is every frame usable? Returns the verdict, the machine address of
 * @gphys in *@maddr and the offending pfn in *@bad_pfn.
 */
static enum xen_walk xen_walk(struct dmap_xen *x, dmap_phys_t gphys, size_t size, uint64_t *maddr,
			      uint64_t *bad_pfn)
{
	uint64_t first = gphys >> XEN_SHIFT, last = (gphys + size - 1) >> XEN_SHIFT;
	enum xen_walk verdict = XEN_WALK_CONTIGUOUS;
	uint64_t pfn, mfn0 = 0;

	dmap_rcu_read_lock();
	for (pfn = first; pfn <= last; pfn++) {
		uint64_t raw = dmap_xen_p2m_raw_rcu(x->p2m, pfn);
		enum dmap_xen_frame_kind kind = dmap_xen_raw_kind(raw);

		if (dmap_unlikely(kind == DMAP_XEN_FRAME_MISSING)) {
			*bad_pfn = pfn;
			verdict = XEN_WALK_MISSING;
			break;
		}
		if (dmap_unlikely(kind == DMAP_XEN_FRAME_FOREIGN && !x->allow_foreign)) {
			*bad_pfn = pfn;
			verdict = XEN_WALK_FOREIGN;
			break;
		}
		if (pfn == first)
			mfn0 = dmap_xen_raw_frame(raw);
		else if (dmap_xen_raw_frame(raw) != mfn0 + (pfn - first))
			verdict =
				XEN_WALK_STRADDLES; /* keep walking: a later frame may be missing */
	}
	dmap_rcu_read_unlock();
	*maddr = (mfn0 << XEN_SHIFT) | (gphys & XEN_OFFSET_MASK);
	return verdict;
}

static dmap_addr_t xen_refuse(struct dmap_xen *x, struct dmap_dev *dev, dmap_phys_t gphys,
			      size_t size, unsigned long attrs, enum xen_walk why, uint64_t pfn)
{
	if (why == XEN_WALK_MISSING)
		dmap_atomic_add_relaxed(&x->missing_frames, 1);
	else
		dmap_atomic_add_relaxed(&x->foreign_refused, 1);
	if (why == XEN_WALK_MISSING && pfn >= dmap_xen_p2m_max_pfn(x->p2m)) {
		if (xen_warn(x, attrs))
			dmap_log(
				x->env, DMAP_LOG_WARN,
				"dmap: %s: xen '%s': cannot map phys 0x%llx size 0x%zx: pfn 0x%llx is beyond the P2M (max_pfn 0x%llx)",
				dev->name, x->dom.name, (unsigned long long)gphys, size,
				(unsigned long long)pfn,
				(unsigned long long)dmap_xen_p2m_max_pfn(x->p2m));
		return DMAP_MAPPING_ERROR;
	}
	if (xen_warn(x, attrs))
		dmap_log(
			x->env, DMAP_LOG_WARN,
			why == XEN_WALK_MISSING ?
				"dmap: %s: xen '%s': cannot map phys 0x%llx size 0x%zx: pfn 0x%llx is missing (no machine frame)" :
				"dmap: %s: xen '%s': cannot map phys 0x%llx size 0x%zx: pfn 0x%llx is a foreign frame and this domain does not allow foreign frames",
			dev->name, x->dom.name, (unsigned long long)gphys, size,
			(unsigned long long)pfn);
	return DMAP_MAPPING_ERROR;
}

/*
 * Is machine address @maddr in the bounce pool? Returns its pseudo-physical
 * address, or INVALID. No lock: the segment table is fixed once the pool
 * exists (growth is off, as in Linux's swiotlb-xen), and the P2M of pool
 * frames never changes while the domain lives.
 */
static dmap_phys_t xen_pool_machine_to_guest(const struct dmap_xen *x, uint64_t maddr)
{
	size_t lo = 0, hi = x->nr_pool_segments;

	if (!hi || maddr < x->pool_machine_first || maddr > x->pool_machine_last)
		return DMAP_XEN_INVALID_FRAME;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (x->pool_segments[mid].maddr <= maddr)
			lo = mid;
		else
			hi = mid;
	}
	if (maddr - x->pool_segments[lo].maddr >= x->segment_size)
		return DMAP_XEN_INVALID_FRAME;
	return x->pool_segments[lo].gphys + (maddr - x->pool_segments[lo].maddr);
}

static bool xen_in_pool(const struct dmap_xen *x, dmap_phys_t gphys)
{
	return x->pool_last && gphys >= x->pool_first && gphys <= x->pool_last;
}

/* Pseudo-physical address behind machine address @maddr, or INVALID. RCU read lock held. */
static dmap_phys_t xen_machine_to_guest(struct dmap_xen *x, uint64_t maddr)
{
	uint64_t mfn = maddr >> XEN_SHIFT;
	uint64_t pfn = dmap_xen_mfn_to_pfn_rcu(x->p2m, mfn);

	if (pfn == DMAP_XEN_INVALID_FRAME && x->allow_foreign)
		pfn = dmap_xen_foreign_to_pfn_rcu(x->p2m, mfn);
	if (pfn == DMAP_XEN_INVALID_FRAME)
		return DMAP_XEN_INVALID_FRAME;
	return (pfn << XEN_SHIFT) | (maddr & XEN_OFFSET_MASK);
}

/* ---- streaming, normal mode --------------------------------------------- */

static dmap_addr_t xen_bounce(struct dmap_xen *x, struct dmap_dev *dev, dmap_phys_t gphys,
			      size_t size, enum dmap_dir dir, unsigned long attrs)
{
	dmap_addr_t slot, bus;
	uint64_t bad;

	slot = dmap_domain_call_map_phys(x->bounce, dev, gphys, size, dir, attrs);
	if (slot == DMAP_MAPPING_ERROR) {
		dmap_atomic_add_relaxed(&x->pool_exhausted, 1);
		return DMAP_MAPPING_ERROR;
	}
	/* Linux re-checks dma_capable after swiotlb_tbl_map_single; so do we, on machine terms. */
	if (dmap_unlikely(xen_walk(x, slot, size, &bus, &bad) != XEN_WALK_CONTIGUOUS ||
			  !dmap_dev_capable(dev, bus, size))) {
		dmap_domain_call_unmap_phys(x->bounce, dev, slot, size, dir,
					    attrs | DMAP_ATTR_SKIP_CPU_SYNC);
		if (xen_warn(x, attrs))
			dmap_log(
				x->env, DMAP_LOG_WARN,
				"dmap: %s: xen '%s': bounce slot for phys 0x%llx size 0x%zx is at machine 0x%llx, which the device (mask 0x%llx) cannot use",
				dev->name, x->dom.name, (unsigned long long)gphys, size,
				(unsigned long long)bus,
				(unsigned long long)dmap_dev_dma_limit(dev));
		return DMAP_MAPPING_ERROR;
	}
	xen_count(x, bounced_maps);
	return bus;
}

static dmap_addr_t xen_map_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_phys_t gphys,
				size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_xen *x = to_xen(dom);
	uint64_t maddr, bad_pfn = 0;
	enum xen_walk verdict = xen_walk(x, gphys, size, &maddr, &bad_pfn);

	if (dmap_unlikely(verdict >= XEN_WALK_MISSING))
		return xen_refuse(x, dev, gphys, size, attrs, verdict, bad_pfn);

	if (x->iova_is_pfn) {
		if (dmap_unlikely(!dmap_dev_capable(dev, gphys, size))) {
			if (xen_warn(x, attrs))
				dmap_log(
					x->env, DMAP_LOG_WARN,
					"dmap: %s: xen '%s' (IOVA == pfn): phys 0x%llx size 0x%zx is beyond the device's limit 0x%llx and this mode cannot bounce",
					dev->name, dom->name, (unsigned long long)gphys, size,
					(unsigned long long)dmap_dev_dma_limit(dev));
			return DMAP_MAPPING_ERROR;
		}
		if (dmap_unlikely(dmap_load_relaxed(&dom->counting)))
			xen_count(x, pfn_maps);
		if (!(attrs & DMAP_ATTR_SKIP_CPU_SYNC) && xen_needs_cache_ops(x, dev))
			dmap_cache_sync_phys(x->env, dev, gphys, size, dir, false);
		return gphys;
	}

	if (dmap_likely(verdict == XEN_WALK_CONTIGUOUS && dmap_dev_capable(dev, maddr, size))) {
		/*
		 * Direct mappings are counted only with dmap_domain_set_counting(), like
		 * the core's per-mapping counters: an add costs as much as the mapping.
		 */
		if (dmap_unlikely(dmap_load_relaxed(&dom->counting)))
			xen_count(x, direct_maps);
		if (!(attrs & DMAP_ATTR_SKIP_CPU_SYNC) && xen_needs_cache_ops(x, dev))
			dmap_cache_sync_phys(x->env, dev, gphys, size, dir, false);
		return maddr;
	}
	if (verdict == XEN_WALK_STRADDLES)
		xen_count(x, straddles);
	else
		xen_count(x, mask_bounces);
	return xen_bounce(x, dev, gphys, size, dir, attrs);
}

/*
 * Route a bus address back: the pseudo-physical address in *@gphys and
 * whether it is a bounce slot. Returns false (after logging) for an address
 * that is no frame of this guest.
 */
static bool xen_route(struct dmap_xen *x, struct dmap_dev *dev, dmap_addr_t addr, size_t size,
		      const char *what, bool need_gphys, dmap_phys_t *gphys, bool *bounced)
{
	if (x->iova_is_pfn) {
		*gphys = addr;
		*bounced = false;
		return true;
	}
	/* Bounce slots first: a range check and a binary search, no table walk. */
	*gphys = xen_pool_machine_to_guest(x, addr);
	*bounced = *gphys != DMAP_XEN_INVALID_FRAME;
	/*
	 * A direct mapping left nothing behind to undo; only cache maintenance
	 * needs its pseudo-physical address (and that lookup is also where an
	 * address that is no frame of ours shows). Like dma-direct, a coherent
	 * device's unmap of a direct address checks nothing more: the debug
	 * layer is what reports unmaps of addresses never handed out.
	 */
	if (*bounced || !need_gphys)
		return true;
	dmap_rcu_read_lock();
	*gphys = xen_machine_to_guest(x, addr);
	dmap_rcu_read_unlock();
	if (*gphys == DMAP_XEN_INVALID_FRAME) {
		dmap_log(
			x->env, DMAP_LOG_WARN,
			"dmap: %s: xen '%s': %s of bus 0x%llx size 0x%zx: machine frame 0x%llx is no frame of this guest",
			dev->name, x->dom.name, what, (unsigned long long)addr, size,
			(unsigned long long)(addr >> XEN_SHIFT));
		return false;
	}
	*bounced = false;
	return true;
}

static int xen_unmap_phys(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			  size_t size, enum dmap_dir dir, unsigned long attrs)
{
	struct dmap_xen *x = to_xen(dom);
	dmap_phys_t gphys;
	bool bounced;

	bool cache = !(attrs & DMAP_ATTR_SKIP_CPU_SYNC) && xen_needs_cache_ops(x, dev);

	if (!xen_route(x, dev, addr, size, "unmap", cache, &gphys, &bounced))
		return -DMAP_ENOENT;
	if (bounced)
		return dmap_domain_call_unmap_phys(x->bounce, dev, gphys, size, dir, attrs);
	if (cache)
		return dmap_cache_sync_phys(x->env, dev, gphys, size, dir, true);
	return 0;
}

static int xen_sync(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr, size_t size,
		    enum dmap_dir dir, bool for_cpu)
{
	struct dmap_xen *x = to_xen(dom);
	dmap_phys_t gphys;
	bool bounced;

	if (!xen_route(x, dev, addr, size, for_cpu ? "sync_for_cpu" : "sync_for_device",
		       xen_needs_cache_ops(x, dev), &gphys, &bounced))
		return -DMAP_ENOENT;
	if (bounced)
		return dmap_domain_call_sync(x->bounce, dev, gphys, size, dir, for_cpu);
	if (xen_needs_cache_ops(x, dev))
		return dmap_cache_sync_phys(x->env, dev, gphys, size, dir, for_cpu);
	return 0;
}

static int xen_sync_for_cpu(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			    size_t size, enum dmap_dir dir)
{
	return xen_sync(dom, dev, addr, size, dir, true);
}

static int xen_sync_for_device(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			       size_t size, enum dmap_dir dir)
{
	return xen_sync(dom, dev, addr, size, dir, false);
}

static bool xen_owns_addr(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr)
{
	struct dmap_xen *x = to_xen(dom);
	dmap_phys_t gphys;

	if (x->iova_is_pfn || !x->bounce)
		return false;
	gphys = xen_pool_machine_to_guest(x, addr);
	return gphys != DMAP_XEN_INVALID_FRAME && dmap_domain_call_owns_addr(x->bounce, dev, gphys);
}

/* ---- device side ----------------------------------------------------------- */

static int xen_translate(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			 unsigned int access, struct dmap_translation *out,
			 struct dmap_fault *fault)
{
	struct dmap_xen *x = to_xen(dom);
	dmap_phys_t gphys;
	uint64_t raw;

	/* The core holds the RCU read lock. */
	if (x->iova_is_pfn && x->iommu) {
		struct dmap_translation t;
		int ret = dmap_domain_call_translate(x->iommu, dev, addr, access, &t, fault);

		if (ret)
			return ret;
		/* The IOMMU's tables give machine addresses; the environment speaks guest. */
		gphys = xen_machine_to_guest(x, t.phys);
		if (gphys == DMAP_XEN_INVALID_FRAME) {
			fault->reason = DMAP_FAULT_NO_MEMORY;
			return -DMAP_EFAULT;
		}
		out->phys = gphys;
		out->len = dmap_min(t.len, XEN_PAGE - (gphys & XEN_OFFSET_MASK));
		out->perm = t.perm;
		return 0;
	}
	if (x->iova_is_pfn) {
		raw = dmap_xen_p2m_raw_rcu(x->p2m, addr >> XEN_SHIFT);
		if (raw == DMAP_XEN_INVALID_FRAME ||
		    (dmap_xen_raw_kind(raw) == DMAP_XEN_FRAME_FOREIGN && !x->allow_foreign)) {
			fault->reason = DMAP_FAULT_TRANSLATION;
			return -DMAP_EFAULT;
		}
		gphys = addr;
	} else {
		gphys = xen_machine_to_guest(x, addr);
		if (gphys == DMAP_XEN_INVALID_FRAME) {
			fault->reason = DMAP_FAULT_TRANSLATION;
			return -DMAP_EFAULT;
		}
		/* Pool memory is reachable only inside live slots, as the bounce domain decides. */
		if (xen_in_pool(x, gphys))
			return dmap_domain_call_translate(x->bounce, dev, gphys, access, out,
							  fault);
	}
	if (!dmap_dev_capable(dev, addr, 1)) {
		fault->reason = DMAP_FAULT_ADDR_SIZE;
		return -DMAP_EFAULT;
	}
	out->phys = gphys;
	/* The next Xen frame may be anywhere: stop at this one. */
	out->len = (size_t)(XEN_PAGE - (gphys & XEN_OFFSET_MASK));
	out->perm = DMAP_ACCESS_READ | DMAP_ACCESS_WRITE;
	return 0;
}

/* ---- contiguous memory: the pool and coherent buffers -------------------- */

/*
 * Make guest frames [pfn, pfn + 2^order) machine-contiguous below
 * 2^max_bits, trying the lowest address bits first (xen_swiotlb_fixup).
 * Returns 0 with the machine frame in *@mfn, or the hook's last error.
 */
static int xen_make_contiguous(struct dmap_xen *x, uint64_t pfn, unsigned int order,
			       unsigned int min_bits, unsigned int max_bits, uint64_t *mfn)
{
	unsigned int bits = dmap_max(min_bits, order + XEN_SHIFT);
	int ret = -DMAP_ENOMEM;

	for (; bits <= max_bits; bits++) {
		ret = x->exchange->create_contiguous(x->exchange_cookie, x->p2m, pfn, order, bits,
						     mfn);
		if (!ret) {
			dmap_atomic_add_relaxed(&x->exchanges, 1);
			return 0;
		}
	}
	dmap_atomic_add_relaxed(&x->exchange_failures, 1);
	return ret;
}

static void xen_release_contiguous(struct dmap_xen *x, uint64_t pfn, unsigned int order)
{
	if (x->exchange && x->exchange->destroy_contiguous)
		x->exchange->destroy_contiguous(x->exchange_cookie, x->p2m, pfn, order);
}

/* Bounce-pool memory provider: guest pages, each segment exchanged to be machine-contiguous. */
static void *xen_pool_alloc(void *arg, size_t size, size_t align, uint64_t bus_limit,
			    dmap_phys_t *phys, dmap_addr_t *bus)
{
	struct dmap_xen *x = arg;
	const struct dmap_env *env = x->env;
	unsigned int order = (unsigned int)__builtin_ctzll(x->segment_size >> XEN_SHIFT);
	unsigned int bits = dmap_fls64(bus_limit);
	size_t segments = size / x->segment_size, i;
	size_t recorded = x->nr_pool_segments;
	dmap_phys_t gphys;
	void *va;

	if (size % x->segment_size)
		return NULL;
	/* Below the limit in pseudo-physical terms too: see the file comment. */
	va = env->ops->alloc_dma_pages(env->cookie, size, dmap_max(align, x->segment_size),
				       bus_limit, &gphys);
	if (!va) {
		dmap_log(env, DMAP_LOG_ERR,
			 "dmap: xen '%s': no guest memory for a %zu-byte bounce pool below 0x%llx",
			 x->dom.name, size, (unsigned long long)bus_limit);
		return NULL;
	}
	for (i = 0; i < segments; i++) {
		uint64_t pfn = (gphys + i * x->segment_size) >> XEN_SHIFT, mfn, last;
		int ret = xen_make_contiguous(x, pfn, order, 0, bits, &mfn);

		if (ret) {
			dmap_log(
				env, DMAP_LOG_ERR,
				"dmap: xen '%s': cannot make bounce segment %zu of %zu (pfn 0x%llx, %zu bytes) machine-contiguous below %u bits: %d",
				x->dom.name, i, segments, (unsigned long long)pfn, x->segment_size,
				bits, ret);
			while (i--)
				xen_release_contiguous(
					x, (gphys + i * x->segment_size) >> XEN_SHIFT, order);
			x->nr_pool_segments = recorded;
			env->ops->free_dma_pages(env->cookie, va, gphys, size);
			return NULL;
		}
		last = ((mfn + (1ull << order)) << XEN_SHIFT) - 1;
		if (last > x->pool_machine_last)
			x->pool_machine_last = last;
		if (x->nr_pool_segments < x->max_pool_segments) {
			struct xen_segment seg = { mfn << XEN_SHIFT, gphys + i * x->segment_size };
			size_t j = x->nr_pool_segments++;

			/* Keep them sorted by machine address for the unmap path's search. */
			while (j && x->pool_segments[j - 1].maddr > seg.maddr) {
				x->pool_segments[j] = x->pool_segments[j - 1];
				j--;
			}
			x->pool_segments[j] = seg;
		}
	}
	x->pool_machine_first = x->nr_pool_segments ? x->pool_segments[0].maddr : 0;
	/* The exchange leaves contents undefined; a pool starts clean. */
	dmap_memset(va, 0, size);
	x->pool_first = gphys;
	x->pool_last = gphys + size - 1;
	*phys = gphys;
	*bus = gphys; /* the bounce domain works in pseudo-physical terms */
	return va;
}

static void xen_pool_free(void *arg, void *va, dmap_phys_t phys, size_t size)
{
	struct dmap_xen *x = arg;
	unsigned int order = (unsigned int)__builtin_ctzll(x->segment_size >> XEN_SHIFT);
	size_t i;

	for (i = 0; i < size / x->segment_size; i++)
		xen_release_contiguous(x, (phys + i * x->segment_size) >> XEN_SHIFT, order);
	x->env->ops->free_dma_pages(x->env->cookie, va, phys, size);
}

static void *xen_alloc_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
				dmap_addr_t *handle, unsigned long attrs)
{
	struct dmap_xen *x = to_xen(dom);
	const struct dmap_env *env = x->env;
	uint64_t limit = dmap_dev_coherent_limit(dev);
	size_t guest_page = (size_t)1 << x->guest_page_shift;
	size_t bytes = dmap_align_up(size, guest_page);
	unsigned int order = 0;
	struct xen_coherent *c;
	uint64_t maddr, bad;
	dmap_phys_t gphys;
	void *va;

	(void)attrs;
	*handle = DMAP_MAPPING_ERROR;
	if (size > ((size_t)XEN_PAGE << DMAP_XEN_MAX_CONTIG_ORDER) && !x->iova_is_pfn) {
		dmap_log(
			env, DMAP_LOG_WARN,
			"dmap: %s: xen '%s': coherent allocation of 0x%zx bytes exceeds the largest contiguous region (0x%llx)",
			dev->name, dom->name, size,
			(unsigned long long)(XEN_PAGE << DMAP_XEN_MAX_CONTIG_ORDER));
		return NULL;
	}
	while (((size_t)XEN_PAGE << order) < bytes)
		order++;
	if (!env->ops->alloc_dma_pages) {
		dmap_log(env, DMAP_LOG_WARN,
			 "dmap: %s: xen '%s': the environment cannot allocate DMA pages", dev->name,
			 dom->name);
		return NULL;
	}
	c = dmap_env_alloc(env, sizeof(*c), DMAP_ALLOC_ZERO);
	if (!c)
		return NULL;
	va = env->ops->alloc_dma_pages(env->cookie, (size_t)XEN_PAGE << order,
				       (size_t)XEN_PAGE << order, limit, &gphys);
	if (!va) {
		dmap_env_free(env, c, sizeof(*c));
		dmap_log(env, DMAP_LOG_WARN,
			 "dmap: %s: xen '%s': no guest memory for a coherent buffer of 0x%zx bytes",
			 dev->name, dom->name, size);
		return NULL;
	}
	c->va = va;
	c->gphys = gphys;
	c->size = (size_t)XEN_PAGE << order;
	c->order = order;
	if (x->iova_is_pfn) {
		maddr = gphys;
	} else if (xen_walk(x, gphys, c->size, &maddr, &bad) != XEN_WALK_CONTIGUOUS ||
		   maddr + c->size - 1 > limit) {
		/* Linux's xen_swiotlb_alloc_coherent: exchange only when it must. */
		uint64_t mfn;
		int ret = x->exchange ?
				  xen_make_contiguous(x, gphys >> XEN_SHIFT, order,
						      dmap_fls64(limit), dmap_fls64(limit), &mfn) :
				  -DMAP_EOPNOTSUPP;

		if (ret) {
			env->ops->free_dma_pages(env->cookie, va, gphys, c->size);
			dmap_env_free(env, c, sizeof(*c));
			dmap_log(
				env, DMAP_LOG_WARN,
				"dmap: %s: xen '%s': cannot make a coherent buffer of 0x%zx bytes machine-contiguous below mask 0x%llx: %d",
				dev->name, dom->name, size, (unsigned long long)limit, ret);
			return NULL;
		}
		c->exchanged = true;
		maddr = mfn << XEN_SHIFT;
		dmap_memset(va, 0, c->size);
	}
	c->handle = maddr;
	dmap_spin_lock(&x->coherent_lock);
	c->next = x->coherent;
	x->coherent = c;
	dmap_spin_unlock(&x->coherent_lock);
	*handle = maddr;
	return va;
}

static int xen_free_coherent(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
			     void *cpu_addr, dmap_addr_t handle, unsigned long attrs)
{
	struct dmap_xen *x = to_xen(dom);
	struct xen_coherent **link, *c;

	(void)attrs;
	dmap_spin_lock(&x->coherent_lock);
	for (link = &x->coherent; (c = *link); link = &c->next)
		if (c->va == cpu_addr && c->handle == handle)
			break;
	if (c && size <= c->size)
		*link = c->next;
	dmap_spin_unlock(&x->coherent_lock);
	if (!c || size > c->size) {
		dmap_log(
			x->env, DMAP_LOG_WARN,
			"dmap: %s: xen '%s': free_coherent of %p handle 0x%llx size 0x%zx: no such coherent buffer",
			dev->name, dom->name, cpu_addr, (unsigned long long)handle, size);
		return -DMAP_ENOENT;
	}
	if (c->exchanged)
		xen_release_contiguous(x, c->gphys >> XEN_SHIFT, c->order);
	x->env->ops->free_dma_pages(x->env->cookie, c->va, c->gphys, c->size);
	dmap_env_free(x->env, c, sizeof(*c));
	return 0;
}

/* ---- queries ----------------------------------------------------------------- */

static size_t xen_max_mapping_size(struct dmap_domain *dom, struct dmap_dev *dev)
{
	struct dmap_xen *x = to_xen(dom);

	(void)dev;
	return x->iova_is_pfn ? SIZE_MAX : x->segment_size;
}

static bool xen_dma_supported(struct dmap_domain *dom, struct dmap_dev *dev, uint64_t mask)
{
	struct dmap_xen *x = to_xen(dom);

	(void)dev;
	/* Linux: xen_phys_to_dma(default_swiotlb_limit()) <= mask. */
	return x->iova_is_pfn || x->pool_machine_last <= mask;
}

static void xen_destroy(struct dmap_domain *dom)
{
	struct dmap_xen *x = to_xen(dom);
	const struct dmap_env *env = x->env;

	while (x->coherent) {
		struct xen_coherent *c = x->coherent;

		x->coherent = c->next;
		dmap_log(
			env, DMAP_LOG_WARN,
			"dmap: xen '%s': coherent buffer at phys 0x%llx (0x%zx bytes) still allocated at destroy; freeing it",
			dom->name, (unsigned long long)c->gphys, c->size);
		if (c->exchanged)
			xen_release_contiguous(x, c->gphys >> XEN_SHIFT, c->order);
		env->ops->free_dma_pages(env->cookie, c->va, c->gphys, c->size);
		dmap_env_free(env, c, sizeof(*c));
	}
	if (x->bounce)
		dmap_domain_destroy(x->bounce);
	if (x->iommu)
		dmap_domain_unuse(x->iommu);
	dmap_env_free(env, x->pool_segments, x->max_pool_segments * sizeof(*x->pool_segments));
	dmap_spin_destroy(&x->coherent_lock);
	dmap_env_free(env, x, sizeof(*x));
}

static const struct dmap_ops dmap_xen_ops = {
	.name = "xen",
	.destroy = xen_destroy,
	.map_phys = xen_map_phys,
	.unmap_phys = xen_unmap_phys,
	.sync_for_cpu = xen_sync_for_cpu,
	.sync_for_device = xen_sync_for_device,
	.alloc_coherent = xen_alloc_coherent,
	.free_coherent = xen_free_coherent,
	.max_mapping_size = xen_max_mapping_size,
	.dma_supported = xen_dma_supported,
	.translate = xen_translate,
	.owns_addr = xen_owns_addr,
};

/* ---- construction ---------------------------------------------------------------- */

static int xen_bad_config(const struct dmap_env *env, const char *name, const char *what)
{
	dmap_log(env, DMAP_LOG_ERR, "dmap: xen '%s': %s", name, what);
	return -DMAP_EINVAL;
}

int dmap_xen_domain_create(struct dmap_ctx *ctx, const struct dmap_xen_config *config,
			   struct dmap_domain **out)
{
	const struct dmap_env *env;
	const char *name;
	struct dmap_xen *x;
	int ret;

	if (out)
		*out = NULL;
	if (!ctx || !config || !out)
		return -DMAP_EINVAL;
	env = dmap_ctx_env(ctx);
	name = config->name ? config->name : "xen";
	if (!config->p2m)
		return xen_bad_config(env, name, "no P2M");
	if (dmap_xen_p2m_env(config->p2m) != env)
		return xen_bad_config(env, name, "the P2M belongs to another environment");
	if (config->guest_page_shift &&
	    (config->guest_page_shift < 12 || config->guest_page_shift > 16))
		return xen_bad_config(env, name, "guest_page_shift must be 12..16");
	if (config->iommu && !config->iova_is_pfn)
		return xen_bad_config(env, name, "an iommu domain needs iova_is_pfn");
	if (config->iommu &&
	    (!config->iommu_ops || !config->iommu_ops->map || !config->iommu_ops->unmap))
		return xen_bad_config(env, name, "an iommu domain needs iommu_ops map and unmap");
	if (config->iommu && config->iommu->ctx != ctx)
		return xen_bad_config(env, name, "the iommu domain belongs to another context");
	if (!config->iova_is_pfn && (!config->exchange || !config->exchange->create_contiguous))
		return xen_bad_config(env, name,
				      "no exchange hook (create_contiguous) for the bounce pool");
	if (config->segment_size &&
	    (!dmap_is_power_of_2(config->segment_size) || config->segment_size < XEN_PAGE ||
	     config->segment_size > (XEN_PAGE << DMAP_XEN_MAX_CONTIG_ORDER)))
		return xen_bad_config(env, name,
				      "segment_size must be a power of two from 4 KiB to 2 MiB");
	if (config->pool_address_bits &&
	    (config->pool_address_bits < 20 || config->pool_address_bits > 64))
		return xen_bad_config(env, name, "pool_address_bits must be 20..64");
	if (!config->iova_is_pfn && (!env->ops->alloc_dma_pages || !env->ops->free_dma_pages)) {
		dmap_log(env, DMAP_LOG_ERR,
			 "dmap: xen '%s': the environment cannot allocate DMA pages for the pool",
			 name);
		return -DMAP_EOPNOTSUPP;
	}

	x = dmap_env_alloc(env, sizeof(*x), DMAP_ALLOC_ZERO);
	if (!x)
		return -DMAP_ENOMEM;
	dmap_memset(x, 0, sizeof(*x));
	x->env = env;
	x->p2m = config->p2m;
	x->exchange = config->exchange;
	x->exchange_cookie = config->exchange_cookie;
	x->guest_page_shift = config->guest_page_shift ? config->guest_page_shift : 12;
	x->segment_size = config->segment_size ? config->segment_size : XEN_DEFAULT_SEGMENT;
	x->pool_size = dmap_align_up(config->pool_size ? config->pool_size : XEN_DEFAULT_POOL,
				     x->segment_size);
	x->pool_bits =
		config->pool_address_bits ? config->pool_address_bits : XEN_DEFAULT_POOL_BITS;
	x->allow_foreign = config->allow_foreign;
	x->iova_is_pfn = config->iova_is_pfn;
	x->iommu = config->iommu;
	x->iommu_ops = config->iommu_ops;
	x->ratelimit = (struct dmap_ratelimit)DMAP_RATELIMIT_DEFAULT;
	dmap_spin_init(&x->coherent_lock);
	dmap_strlcpy(x->dom.name, name, sizeof(x->dom.name));

	if (!x->iova_is_pfn) {
		x->max_pool_segments = x->pool_size / x->segment_size;
		x->pool_segments =
			dmap_env_alloc(env, x->max_pool_segments * sizeof(*x->pool_segments), 0);
		if (!x->pool_segments) {
			ret = -DMAP_ENOMEM;
			goto fail;
		}
	}
	if (!x->iova_is_pfn) {
		struct dmap_bounce_memory_ops memory = {
			.alloc = xen_pool_alloc,
			.free = xen_pool_free,
			.arg = x,
		};
		struct dmap_bounce_config bounce = {
			.pool_size = x->pool_size,
			.phys_limit = DMAP_BIT_MASK(x->pool_bits),
			.max_mapping_size = x->segment_size,
			.segment_size = x->segment_size,
			.memory = &memory,
		};
		char pool_name[DMAP_NAME_MAX];

		dmap_snprintf(pool_name, sizeof(pool_name), "%s-pool", name);
		bounce.name = pool_name;
		ret = dmap_bounce_domain_create(ctx, &bounce, &x->bounce);
		if (ret) {
			dmap_log(
				env, DMAP_LOG_ERR,
				"dmap: xen '%s': no bounce pool of %zu bytes below %u address bits: %d",
				name, x->pool_size, x->pool_bits, ret);
			goto fail;
		}
	}
	if (x->iommu) {
		ret = dmap_domain_use(x->iommu);
		if (ret)
			goto fail;
	}
	ret = dmap_domain_init(&x->dom, ctx, &dmap_xen_ops, name);
	if (ret) {
		if (x->iommu)
			dmap_domain_unuse(x->iommu);
		goto fail;
	}
	*out = &x->dom;
	return 0;

fail:
	if (x->bounce)
		dmap_domain_destroy(x->bounce);
	dmap_env_free(env, x->pool_segments, x->max_pool_segments * sizeof(*x->pool_segments));
	dmap_spin_destroy(&x->coherent_lock);
	dmap_env_free(env, x, sizeof(*x));
	return ret;
}

static struct dmap_xen *xen_of(const struct dmap_domain *domain)
{
	if (!domain || domain->backend_ops != &dmap_xen_ops)
		return NULL;
	return dmap_container_of((struct dmap_domain *)domain, struct dmap_xen, dom);
}

int dmap_xen_get_stats(const struct dmap_domain *domain, struct dmap_xen_stats *out)
{
	struct dmap_xen *x = xen_of(domain);

	if (!x || !out)
		return -DMAP_EINVAL;
	dmap_memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < XEN_SHARDS; i++) {
		const struct xen_shard *sh = &x->shards[i];

		out->direct_maps += dmap_load_relaxed(&sh->direct_maps);
		out->bounced_maps += dmap_load_relaxed(&sh->bounced_maps);
		out->straddles += dmap_load_relaxed(&sh->straddles);
		out->mask_bounces += dmap_load_relaxed(&sh->mask_bounces);
		out->pfn_maps += dmap_load_relaxed(&sh->pfn_maps);
	}
	out->exchanges = dmap_load_relaxed(&x->exchanges);
	out->exchange_failures = dmap_load_relaxed(&x->exchange_failures);
	out->missing_frames = dmap_load_relaxed(&x->missing_frames);
	out->foreign_refused = dmap_load_relaxed(&x->foreign_refused);
	out->pool_exhausted = dmap_load_relaxed(&x->pool_exhausted);
	if (x->bounce) {
		struct dmap_bounce_stats bs;

		if (dmap_bounce_get_stats(x->bounce, &bs) == 0) {
			out->pool_bytes = bs.pool_bytes;
			out->pool_used = bs.bytes_in_use;
			out->pool_high_water = bs.high_water_bytes;
		}
	}
	return 0;
}

struct dmap_xen_p2m *dmap_xen_domain_p2m(const struct dmap_domain *domain)
{
	struct dmap_xen *x = xen_of(domain);

	return x ? x->p2m : NULL;
}

struct dmap_domain *dmap_xen_domain_pool(const struct dmap_domain *domain)
{
	struct dmap_xen *x = xen_of(domain);

	return x ? x->bounce : NULL;
}

int dmap_xen_iommu_populate(struct dmap_domain *domain, uint64_t pfn, uint64_t count)
{
	struct dmap_xen *x = xen_of(domain);
	uint64_t end, run_pfn = 0, run_mfn = 0, run_len = 0;
	int ret = 0;

	if (!x || !x->iommu || !count)
		return -DMAP_EINVAL;
	if (pfn >= dmap_xen_p2m_max_pfn(x->p2m) || count > dmap_xen_p2m_max_pfn(x->p2m) - pfn) {
		dmap_log(x->env, DMAP_LOG_ERR,
			 "dmap: xen '%s': iommu populate: pfns 0x%llx+0x%llx beyond the P2M",
			 domain->name, (unsigned long long)pfn, (unsigned long long)count);
		return -DMAP_ERANGE;
	}
	end = pfn + count;
	/* Mirror the P2M into the IOMMU's tables, merging machine-contiguous runs. */
	for (; pfn <= end; pfn++) {
		uint64_t raw =
			pfn < end ? dmap_xen_p2m_get_raw(x->p2m, pfn) : DMAP_XEN_INVALID_FRAME;
		enum dmap_xen_frame_kind kind = dmap_xen_raw_kind(raw);
		bool usable = kind == DMAP_XEN_FRAME_VALID ||
			      (kind == DMAP_XEN_FRAME_FOREIGN && x->allow_foreign);
		uint64_t mfn = dmap_xen_raw_frame(raw);

		if (run_len && usable && mfn == run_mfn + run_len && pfn == run_pfn + run_len) {
			run_len++;
			continue;
		}
		if (run_len) {
			ret = x->iommu_ops->map(x->iommu, run_pfn << XEN_SHIFT,
						run_mfn << XEN_SHIFT, (size_t)run_len << XEN_SHIFT,
						x->iommu_ops->prot_read | x->iommu_ops->prot_write);
			if (ret) {
				dmap_log(
					x->env, DMAP_LOG_ERR,
					"dmap: xen '%s': iommu populate: mapping pfn 0x%llx -> mfn 0x%llx (%llu frames) failed: %d",
					domain->name, (unsigned long long)run_pfn,
					(unsigned long long)run_mfn, (unsigned long long)run_len,
					ret);
				return ret;
			}
		}
		run_len = usable ? 1 : 0;
		run_pfn = pfn;
		run_mfn = mfn;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * dmap/ops.h - the backend interface (Linux: dma-map-ops.h).
 *
 * A backend is one `const struct dmap_ops` table with designated
 * initialisers, plus a constructor that allocates a private structure
 * embedding &struct dmap_domain and calls dmap_domain_init(). There is no
 * registration: whoever builds a domain names the table (no constructors run
 * before main in a kernel or on bare metal).
 *
 * Dispatch: the core validates arguments once (NULL, zero size, wrap-around,
 * direction, attribute bits, attached device) and then calls the domain's
 * *active* table, which is the backend's own or the debug layer's wrapper
 * around it. Backends therefore never re-validate caller input; they check
 * only what depends on their state (masks they cannot reach, exhaustion).
 *
 * Stacking: a backend that hands work to another domain (identity's fallback,
 * the iommu's bounce for untrusted devices) calls that domain through the
 * dmap_domain_call_*() helpers below, so the inner domain's debug layer and
 * statistics see the call.
 */
#ifndef DMAP_OPS_H
#define DMAP_OPS_H

#include <dmap/dmap.h>
#include <dmap/helpers.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmap_fault_ring;
struct dmap_debug_state;

/**
 * struct dmap_ops - a backend's operations. Every hook gets the domain it is
 * called on and the device on whose behalf (the device need not be attached
 * to @dom: a fallback domain serves other domains' devices).
 *
 * Arguments have been validated by the core (see file comment). Contexts: the
 * streaming hooks (map/unmap/sync/translate, max_mapping_size) run in any
 * context and must not sleep; attach, detach, alloc_coherent, free_coherent,
 * dma_supported and destroy may sleep.
 */
struct dmap_ops {
	/** @name: backend name, e.g. "identity". Required. */
	const char *name;

	/** @attach: (optional) accept @dev; 0 or negative errno (then it stays detached). */
	int (*attach)(struct dmap_domain *dom, struct dmap_dev *dev);
	/** @detach: (optional) forget @dev. */
	void (*detach)(struct dmap_domain *dom, struct dmap_dev *dev);
	/** @destroy: (required) free the backend's structure; the core already released its part. */
	void (*destroy)(struct dmap_domain *dom);

	/** @map_phys: (required) bus address or DMAP_MAPPING_ERROR (after logging why, unless NO_WARN). */
	dmap_addr_t (*map_phys)(struct dmap_domain *dom, struct dmap_dev *dev, dmap_phys_t phys,
				size_t size, enum dmap_dir dir, unsigned long attrs);
	/** @unmap_phys: (required) 0 or negative errno (-ENOENT for an address it never gave). */
	int (*unmap_phys)(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			  size_t size, enum dmap_dir dir, unsigned long attrs);

	/**
	 * @map_sg: (optional) map every entry, writing entry i's bus address to
	 * sg[i].dma_addr and sg[i].dma_len = sg[i].len, *unmerged*: the core
	 * merges afterwards under the device's segment rules. Returns 0 or a
	 * negative errno with nothing left mapped. NULL: the core maps entry by
	 * entry with @map_phys.
	 */
	int (*map_sg)(struct dmap_domain *dom, struct dmap_dev *dev, struct dmap_sg *sg, int nents,
		      enum dmap_dir dir, unsigned long attrs);
	/**
	 * @unmap_sg: (optional) undo @map_sg. The core passes per-entry bus
	 * addresses in @addrs (reconstructed from the merged list). NULL: the
	 * core calls @unmap_phys per entry.
	 */
	int (*unmap_sg)(struct dmap_domain *dom, struct dmap_dev *dev, const struct dmap_sg *sg,
			const dmap_addr_t *addrs, int nents, enum dmap_dir dir,
			unsigned long attrs);

	/** @sync_for_cpu: (optional) NULL: only cache invalidation for non-coherent devices. */
	int (*sync_for_cpu)(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			    size_t size, enum dmap_dir dir);
	/** @sync_for_device: (optional) NULL: only cache clean for non-coherent devices. */
	int (*sync_for_device)(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			       size_t size, enum dmap_dir dir);

	/** @alloc_coherent: (optional) NULL: dmap_alloc_coherent() fails with a message. */
	void *(*alloc_coherent)(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
				dmap_addr_t *handle, unsigned long attrs);
	/** @free_coherent: (required with @alloc_coherent). */
	int (*free_coherent)(struct dmap_domain *dom, struct dmap_dev *dev, size_t size,
			     void *cpu_addr, dmap_addr_t handle, unsigned long attrs);

	/** @max_mapping_size: (optional) NULL: SIZE_MAX. */
	size_t (*max_mapping_size)(struct dmap_domain *dom, struct dmap_dev *dev);
	/** @dma_supported: (optional) can this domain serve @dev with @mask? NULL: yes. */
	bool (*dma_supported)(struct dmap_domain *dom, struct dmap_dev *dev, uint64_t mask);
	/** @addressing_limited: (optional) NULL: false. */
	bool (*addressing_limited)(struct dmap_domain *dom, struct dmap_dev *dev);

	/**
	 * @translate: (required) device-side lookup of @addr for @access. On
	 * success fill @out and return 0. On a fault return -EFAULT and fill
	 * @fault->reason (and @fault->raw_format, raw_len and raw[] when the
	 * backend models a hardware record); those are the only fields a backend
	 * may write, and the only ones the core initialises before the call
	 * (reason 0, no raw record) so the hit path does not clear a whole
	 * record. The core adds device, address, access and sequence and logs
	 * it. Runs inside an RCU read section the core holds.
	 */
	int (*translate)(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			 unsigned int access, struct dmap_translation *out,
			 struct dmap_fault *fault);

	/**
	 * @owns_addr: (optional) does bus address @addr belong to a live mapping
	 * of this domain? Lets a domain that stacked this one as a fallback route
	 * unmap and sync (Linux: is_swiotlb_buffer()). NULL: never.
	 */
	bool (*owns_addr)(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr);
};

/*
 * Counters are sharded by dmap_cpu_hint() so that two CPUs counting on the
 * same domain do not bounce one cache line between them (per-CPU counters,
 * as Linux keeps its statistics); dmap_domain_get_stats() sums the shards.
 */
#define DMAP_STATS_SHARDS 8
struct dmap_domain_stats_shard {
	struct dmap_domain_stats counters; /* relaxed atomic adds */
	/*
	 * A 64-byte gap keeps neighbouring shards off a common cache line
	 * without over-aligning struct dmap_domain (backends allocate it with
	 * the environment's ordinary 16-byte alignment).
	 */
	uint8_t gap[64];
};

/**
 * struct dmap_domain - the common part of every backend instance.
 * Backends embed it and use container_of(); users only hold pointers.
 * Fields are the core's; backends read @env, @ctx and @name.
 */
struct dmap_domain {
	const struct dmap_ops *ops; /* active table: backend or debug wrapper */
	const struct dmap_ops *backend_ops; /* the backend's own table */
	struct dmap_ctx *ctx;
	const struct dmap_env *env;
	char name[DMAP_NAME_MAX];
	unsigned long attached; /* devices attached (atomic) */
	unsigned long users; /* domains using this one as a fallback (atomic) */
	bool counting;
	struct dmap_debug_state *debug;
	struct dmap_fault_ring *faults;
	struct dmap_domain_stats_shard stats[DMAP_STATS_SHARDS];
};

/**
 * struct dmap_dev - a device. Users see it opaque; backends read its fields.
 * Masks are written only by the set_mask calls, which must not race with map
 * calls, so backends read them plainly.
 */
struct dmap_dev {
	struct dmap_ctx *ctx;
	struct dmap_domain *domain; /* published with release, read with acquire */
	char name[DMAP_NAME_MAX];
	uint32_t stream_id;
	uint64_t dma_mask;
	uint64_t coherent_dma_mask;
	uint64_t bus_dma_limit;
	size_t max_seg_size;
	uint64_t seg_boundary_mask;
	uint64_t min_align_mask;
	uint32_t flags;
	void *backend_private; /* owned by the attached domain's backend */
};

/**
 * dmap_domain_init() - register a backend instance with the core.
 * @dom: embedded in the backend's structure; zeroed or not, all fields are set.
 * @ctx: context.
 * @ops: the backend's table (must outlive the domain).
 * @name: instance name for messages (NULL: the backend's name).
 *
 * Call it last in a constructor, after the backend's own state is ready; if it
 * fails there is nothing of the core's to undo. Returns 0, -EINVAL, -ENOMEM.
 */
int dmap_domain_init(struct dmap_domain *dom, struct dmap_ctx *ctx, const struct dmap_ops *ops,
		     const char *name);

/**
 * dmap_domain_use() - mark @dom as used by another domain (as its fallback),
 * so dmap_domain_destroy(@dom) refuses with -EBUSY. Returns 0 or -EINVAL.
 */
int dmap_domain_use(struct dmap_domain *dom);
/** dmap_domain_unuse() - undo dmap_domain_use(). */
void dmap_domain_unuse(struct dmap_domain *dom);

/* Dev helpers: the device's effective DMA limit (Linux: min_not_zero(mask, bus_dma_limit)). */
static inline uint64_t dmap_dev_dma_limit(const struct dmap_dev *dev)
{
	if (dev->bus_dma_limit && dev->bus_dma_limit < dev->dma_mask)
		return dev->bus_dma_limit;
	return dev->dma_mask;
}

static inline uint64_t dmap_dev_coherent_limit(const struct dmap_dev *dev)
{
	if (dev->bus_dma_limit && dev->bus_dma_limit < dev->coherent_dma_mask)
		return dev->bus_dma_limit;
	return dev->coherent_dma_mask;
}

/**
 * dmap_dev_capable() - can @dev address all of [@addr, @addr+@size) (Linux:
 * dma_capable())? @size > 0; a range that wraps is never capable.
 */
static inline bool dmap_dev_capable(const struct dmap_dev *dev, dmap_addr_t addr, size_t size)
{
	dmap_addr_t last = addr + (size - 1);

	if (addr == DMAP_MAPPING_ERROR || last < addr)
		return false;
	return last <= dmap_dev_dma_limit(dev);
}

/* Calls into another domain (stacking) through its active table. */
static inline dmap_addr_t dmap_domain_call_map_phys(struct dmap_domain *dom, struct dmap_dev *dev,
						    dmap_phys_t phys, size_t size,
						    enum dmap_dir dir, unsigned long attrs)
{
	return dom->ops->map_phys(dom, dev, phys, size, dir, attrs);
}

static inline int dmap_domain_call_unmap_phys(struct dmap_domain *dom, struct dmap_dev *dev,
					      dmap_addr_t addr, size_t size, enum dmap_dir dir,
					      unsigned long attrs)
{
	return dom->ops->unmap_phys(dom, dev, addr, size, dir, attrs);
}

static inline bool dmap_domain_call_owns_addr(struct dmap_domain *dom, struct dmap_dev *dev,
					      dmap_addr_t addr)
{
	return dom->ops->owns_addr && dom->ops->owns_addr(dom, dev, addr);
}

/** dmap_domain_call_sync() - sync through another domain; NULL hooks do cache maintenance. */
int dmap_domain_call_sync(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			  size_t size, enum dmap_dir dir, bool for_cpu);

/** dmap_domain_call_translate() - translate through another domain (no fault recorded there). */
int dmap_domain_call_translate(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
			       unsigned int access, struct dmap_translation *out,
			       struct dmap_fault *fault);

/** dmap_domain_count() - add @n to one of @dom's counters (relaxed atomic). */
#define dmap_domain_count(dom, field, n)                                                           \
	dmap_atomic_add_relaxed(&(dom)->stats[dmap_cpu_hint() % DMAP_STATS_SHARDS].counters.field, \
				(uint64_t)(n))

/**
 * dmap_cache_sync_phys() - cache maintenance for a non-coherent device over
 * physical range [@phys, @phys+@size): clean when @for_cpu is false and @dir
 * lets the device read, invalidate when @for_cpu is true and @dir lets it
 * write. Does nothing for coherent devices or an environment without cache
 * hooks. Returns 0 or -EFAULT when the range is not RAM.
 */
int dmap_cache_sync_phys(const struct dmap_env *env, const struct dmap_dev *dev, dmap_phys_t phys,
			 size_t size, enum dmap_dir dir, bool for_cpu);

/**
 * dmap_phys_check_ram() - 0 if every byte of [@phys, @phys+@size) has RAM
 * behind it (the environment's phys_to_virt knows it), else -EFAULT. Takes
 * the RCU read lock itself. For mappings whose later copies or cache
 * maintenance will need RAM, so they fail at map time rather than at unmap.
 */
int dmap_phys_check_ram(const struct dmap_env *env, dmap_phys_t phys, size_t size);

/**
 * dmap_phys_read() / dmap_phys_write() / dmap_phys_copy() - move bytes to,
 * from and between physical memory through the environment's phys_to_virt,
 * chunk by chunk (ranges may span registered regions). Take the RCU read lock
 * themselves. Return 0 or -EFAULT (nothing is guaranteed about a partial copy).
 */
int dmap_phys_read(const struct dmap_env *env, dmap_phys_t src, void *buf, size_t len);
int dmap_phys_write(const struct dmap_env *env, dmap_phys_t dst, const void *buf, size_t len);
int dmap_phys_copy(const struct dmap_env *env, dmap_phys_t dst, dmap_phys_t src, size_t len);
/** dmap_phys_fill() - memset for physical memory; same contract. */
int dmap_phys_fill(const struct dmap_env *env, dmap_phys_t dst, int byte, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* DMAP_OPS_H */
